//! Checks the encoder against Wireshark's dissectors (GTP-U has no Rust parser): the test writes a
//! classic pcap file and asserts on `tshark -T fields` output. tshark must be installed; a missing
//! tshark fails the test instead of skipping it.

use std::process::Command;

use xdptest_compiler::wire::{encode, FieldValue, Layer, LayerKind};

fn int(v: u64) -> FieldValue {
    FieldValue::Int(v)
}

fn bytes(b: &[u8]) -> FieldValue {
    FieldValue::Bytes(b.to_vec())
}

fn layer(kind: LayerKind, fields: Vec<(&'static str, FieldValue)>) -> Layer {
    let mut l = Layer::new(kind);
    l.fields.extend(fields);
    l
}

fn eth() -> Layer {
    layer(LayerKind::Ether, vec![("src", bytes(&[0, 0, 0x5e, 0, 0x53, 2])), ("dst", bytes(&[0, 0, 0x5e, 0, 0x53, 1]))])
}

fn ipv4(src: [u8; 4], dst: [u8; 4], extra: Vec<(&'static str, FieldValue)>) -> Layer {
    let mut l = layer(LayerKind::Ipv4, vec![("src", bytes(&src)), ("dst", bytes(&dst))]);
    l.fields.extend(extra);
    l
}

fn outer_ipv4() -> Layer {
    ipv4([192, 168, 10, 1], [192, 168, 10, 5], vec![("id", int(1212)), ("df", int(1)), ("ttl", int(64))])
}

fn inner_ipv4() -> Layer {
    ipv4([192, 168, 100, 200], [192, 168, 30, 1], vec![("id", int(1160)), ("df", int(1))])
}

fn echo_request() -> Vec<Layer> {
    vec![
        layer(LayerKind::Icmp, vec![("type", int(8)), ("code", int(0)), ("id", int(1)), ("seq", int(1))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"abcd"))]),
    ]
}

/// A classic pcap file (microsecond timestamps, LINKTYPE_ETHERNET) holding `packets`.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (i, p) in packets.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// Runs tshark over `packets` and returns, per packet, the value of each of `fields` (occurrences
/// joined with `,`).
fn tshark(packets: &[Vec<u8>], fields: &[&str]) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wire.pcap");
    std::fs::write(&file, pcap(packets)).unwrap();
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(&file);
    cmd.args(["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]);
    cmd.args(["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run tshark ({e}): these tests need Wireshark's tshark on PATH (Debian/Ubuntu: apt-get install tshark)"
        ),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "tshark failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Vec<String>> = stdout.lines().map(|l| l.split('\t').map(str::to_string).collect()).collect();
    assert_eq!(rows.len(), packets.len(), "tshark output:\n{stdout}");
    rows
}

/// One packet's tshark fields by name.
struct Row(Vec<(String, String)>);

impl Row {
    fn get(&self, field: &str) -> &str {
        self.0.iter().find(|(f, _)| f == field).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("{field}"))
    }

    /// Asserts every `(field, expected)` pair, reporting all mismatches at once.
    fn check(&self, what: &str, expected: &[(&str, &str)]) {
        let bad: Vec<String> = expected
            .iter()
            .filter(|(f, want)| self.get(f) != *want)
            .map(|(f, want)| format!("  {f}: tshark says {:?}, expected {want:?}", self.get(f)))
            .collect();
        assert!(bad.is_empty(), "{what}:\n{}\nall fields: {:#?}", bad.join("\n"), self.0);
    }
}

/// Encodes each packet, runs tshark once over all of them, and returns a [`Row`] per packet holding
/// the fields of all `checks` plus the protocol stack and any expert or malformed markers.
fn dissect(packets: &[&[Layer]], checks: &[&[(&str, &str)]]) -> Vec<Row> {
    let mut fields: Vec<&str> = vec!["frame.protocols", "_ws.malformed", "_ws.expert.message"];
    for c in checks {
        for (f, _) in c.iter() {
            if !fields.contains(f) {
                fields.push(f);
            }
        }
    }
    let bytes: Vec<Vec<u8>> = packets.iter().map(|l| encode(l).unwrap().bytes).collect();
    tshark(&bytes, &fields).into_iter().map(|r| Row(fields.iter().map(|f| f.to_string()).zip(r).collect())).collect()
}

/// Runs one packet through tshark and checks the expected fields; also that nothing is malformed and
/// no expert message was raised (unless `expected` mentions `_ws.expert.message`).
fn check(what: &str, layers: &[Layer], expected: &[(&str, &str)]) {
    let rows = dissect(&[layers], &[expected]);
    let row = &rows[0];
    let mut all = expected.to_vec();
    all.push(("_ws.malformed", ""));
    if !expected.iter().any(|(f, _)| *f == "_ws.expert.message") {
        all.push(("_ws.expert.message", ""));
    }
    row.check(what, &all);
}

fn background() -> Vec<Layer> {
    let mut l = vec![
        eth(),
        layer(LayerKind::Vlan, vec![("vid", int(100))]),
        outer_ipv4(),
        layer(LayerKind::Udp, vec![]),
        layer(LayerKind::Gtpu, vec![("teid", int(2))]),
        inner_ipv4(),
    ];
    l.extend(echo_request());
    l
}

/// ether/ipv4/udp/gtpu(...) + extra layers + inner ipv4 + ICMP echo request.
fn tunnel(gtpu: Vec<(&'static str, FieldValue)>, exts: Vec<Layer>) -> Vec<Layer> {
    let mut l = vec![eth(), outer_ipv4(), layer(LayerKind::Udp, vec![]), layer(LayerKind::Gtpu, gtpu)];
    l.extend(exts);
    l.push(inner_ipv4());
    l.extend(echo_request());
    l
}

const GOOD_CHECKSUMS: [(&str, &str); 3] =
    [("ip.checksum.status", "1,1"), ("udp.checksum.status", "1"), ("icmp.checksum.status", "1")];

#[test]
fn wire_background_packet() {
    let layers = background();
    let total = encode(&layers).unwrap().bytes.len();
    let ip_len = format!("{},{}", total - 18, total - 54);
    let udp_len = (total - 38).to_string();
    let gtp_len = (total - 54).to_string();
    let mut expected = vec![
        ("frame.protocols", "eth:ethertype:vlan:ethertype:ip:udp:gtp:ip:icmp:data"),
        ("eth.src", "00:00:5e:00:53:02"),
        ("eth.dst", "00:00:5e:00:53:01"),
        ("eth.type", "0x8100"),
        ("vlan.id", "100"),
        ("vlan.etype", "0x0800"),
        ("ip.src", "192.168.10.1,192.168.100.200"),
        ("ip.dst", "192.168.10.5,192.168.30.1"),
        ("ip.id", "0x04bc,0x0488"),
        ("ip.flags.df", "1,1"),
        ("ip.ttl", "64,64"),
        ("ip.proto", "17,1"),
        ("udp.srcport", "2152"),
        ("udp.dstport", "2152"),
        ("ip.len", &ip_len),
        ("udp.length", &udp_len),
        ("gtp.length", &gtp_len),
        ("gtp.flags.version", "1"),
        ("gtp.flags.payload", "1"),
        ("gtp.flags.e", "0"),
        ("gtp.flags.s", "0"),
        ("gtp.flags.pn", "0"),
        ("gtp.message", "0xff"),
        ("gtp.teid", "0x00000002"),
        ("icmp.type", "8"),
        ("icmp.code", "0"),
        ("icmp.ident", "1"),
        ("icmp.seq", "1"),
        ("data.data", "61626364"),
    ];
    expected.extend(GOOD_CHECKSUMS);
    let rows = dissect(&[&layers], &[&expected]);
    rows[0].check("background", &expected);
    assert_eq!(rows[0].get("_ws.malformed"), "");
    assert_eq!(rows[0].get("_ws.expert.message"), "");
}

#[test]
fn wire_gtpu_sequence_and_npdu() {
    let mut expected = vec![
        ("frame.protocols", "eth:ethertype:ip:udp:gtp:ip:icmp:data"),
        ("gtp.flags.e", "0"),
        ("gtp.flags.s", "1"),
        ("gtp.flags.pn", "0"),
        ("gtp.seq_number", "0x1234"),
        ("gtp.teid", "0x12345678"),
        ("ip.src", "192.168.10.1,192.168.100.200"),
    ];
    expected.extend(GOOD_CHECKSUMS);
    check("gtpu seq", &tunnel(vec![("teid", int(0x12345678)), ("seq", int(0x1234))], vec![]), &expected);

    let mut expected = vec![
        ("frame.protocols", "eth:ethertype:ip:udp:gtp:ip:icmp:data"),
        ("gtp.flags.s", "1"),
        ("gtp.flags.pn", "1"),
        ("gtp.seq_number", "0x0007"),
        ("gtp.npdu_number", "0x2a"),
    ];
    expected.extend(GOOD_CHECKSUMS);
    check("gtpu seq + npdu", &tunnel(vec![("seq", int(7)), ("npdu", int(42))], vec![]), &expected);
}

#[test]
fn wire_gtpu_pdu_session_container() {
    let container = |fields| layer(LayerKind::GtpuPduSession, fields);
    let tail = || -> Vec<(&str, &str)> {
        let mut t = vec![
            ("frame.protocols", "eth:ethertype:ip:udp:gtp:ip:icmp:data"),
            ("gtp.flags.e", "1"),
            ("gtp.ext_hdr.pdu_ses_con.qos_flow_id", "9"),
            ("ip.src", "192.168.10.1,192.168.100.200"),
            ("icmp.type", "8"),
            ("data.data", "61626364"),
        ];
        t.extend(GOOD_CHECKSUMS);
        t
    };

    let mut dl = tail();
    dl.extend([
        ("gtp.ext_hdr.pdu_ses_con.pdu_type", "0"),
        ("gtp.ext_hdr.length", "1"),
        ("gtp.ext_hdr.next", "0x85,0x00"),
        ("gtp.ext_hdr.pdu_ses_cont.ppp", "0"),
        ("gtp.ext_hdr.pdu_ses_cont.rqi", "0"),
    ]);
    check("pdu session DL", &tunnel(vec![("teid", int(2))], vec![container(vec![("qfi", int(9))])]), &dl);

    let mut ul = tail();
    ul.extend([("gtp.ext_hdr.pdu_ses_con.pdu_type", "1"), ("gtp.ext_hdr.length", "1")]);
    let ul_layers = tunnel(vec![], vec![container(vec![("pdu_type", int(1)), ("qfi", int(9))])]);
    check("pdu session UL", &ul_layers, &ul);

    let mut ppi = tail();
    ppi.extend([
        ("gtp.ext_hdr.pdu_ses_con.pdu_type", "0"),
        ("gtp.ext_hdr.length", "2"),
        ("gtp.ext_hdr.pdu_ses_cont.ppp", "1"),
        ("gtp.ext_hdr.pdu_ses_cont.rqi", "1"),
        ("gtp.ext_hdr.pdu_ses_cont.ppi", "5"),
    ]);
    let ppi_layers = tunnel(vec![], vec![container(vec![("qfi", int(9)), ("ppi", int(5)), ("rqi", int(1))])]);
    check("pdu session DL with PPI", &ppi_layers, &ppi);

    // A chain: PDU Session Container, then a UDP Port extension header (type 0x40, 2-byte port).
    let mut chain = tail();
    chain.extend([
        ("gtp.ext_hdr.length", "1,1"),
        ("gtp.ext_hdr.next", "0x85,0x40,0x00"),
        ("gtp.ext_hdr.udp_port", "2152"),
    ]);
    let udp_port = layer(LayerKind::GtpuExt, vec![("ext_type", int(0x40)), ("content", bytes(&[0x08, 0x68]))]);
    let chain_layers = tunnel(vec![("seq", int(1))], vec![container(vec![("qfi", int(9))]), udp_port]);
    check("pdu session + udp port ext", &chain_layers, &chain);
}

#[test]
fn wire_gtpu_echo_request() {
    let layers = vec![
        eth(),
        outer_ipv4(),
        layer(LayerKind::Udp, vec![]),
        layer(LayerKind::Gtpu, vec![("type", int(1)), ("seq", int(5))]),
        // Recovery IE (type 14), restart counter 0.
        layer(LayerKind::Payload, vec![("data", bytes(&[14, 0]))]),
    ];
    let expected = [
        ("frame.protocols", "eth:ethertype:ip:udp:gtp"),
        ("gtp.message", "0x01"),
        ("gtp.flags.s", "1"),
        ("gtp.seq_number", "0x0005"),
        ("gtp.length", "6"),
        ("gtp.teid", "0x00000000"),
        ("gtp.recovery", "0"),
        ("ip.checksum.status", "1"),
        ("udp.checksum.status", "1"),
    ];
    check("gtpu echo request", &layers, &expected);
}

#[test]
fn wire_icmp_dest_unreach_quoting_ipv4_udp() {
    let layers = vec![
        eth(),
        ipv4([192, 168, 10, 5], [192, 168, 10, 1], vec![]),
        layer(LayerKind::Icmp, vec![("type", int(3)), ("code", int(3))]),
        ipv4([192, 168, 10, 1], [192, 168, 10, 5], vec![("id", int(77))]),
        layer(LayerKind::Udp, vec![("sport", int(40000)), ("dport", int(53))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"query"))]),
    ];
    let expected = [
        ("frame.protocols", "eth:ethertype:ip:icmp:ip:udp:dns"),
        ("icmp.type", "3"),
        ("icmp.code", "3"),
        ("icmp.checksum.status", "1"),
        ("ip.src", "192.168.10.5,192.168.10.1"),
        ("ip.id", "0x0000,0x004d"),
        ("ip.checksum.status", "1,1"),
        ("udp.srcport", "40000"),
        ("udp.dstport", "53"),
        ("udp.checksum.status", "1"),
    ];
    let rows = dissect(&[&layers], &[&expected]);
    rows[0].check("icmp dest unreach", &expected);
}

#[test]
fn wire_wrong_checksums_are_reported_bad() {
    // Wireshark's checksum status: 0 = bad, 1 = good, 2 = unverified, 3 = not present.
    let bad_ip = vec![
        eth(),
        ipv4([10, 0, 0, 1], [10, 0, 0, 2], vec![("checksum", int(0x1234))]),
        layer(LayerKind::Udp, vec![("sport", int(1)), ("dport", int(2))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"x"))]),
    ];
    let bad_udp = vec![
        eth(),
        ipv4([10, 0, 0, 1], [10, 0, 0, 2], vec![]),
        layer(LayerKind::Udp, vec![("sport", int(1)), ("dport", int(2)), ("checksum", int(0x1234))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"x"))]),
    ];
    let no_udp = vec![
        eth(),
        ipv4([10, 0, 0, 1], [10, 0, 0, 2], vec![]),
        layer(LayerKind::Udp, vec![("sport", int(1)), ("dport", int(2)), ("checksum", int(0))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"x"))]),
    ];
    let bad_icmp = vec![
        eth(),
        ipv4([10, 0, 0, 1], [10, 0, 0, 2], vec![]),
        layer(LayerKind::Icmp, vec![("type", int(8)), ("checksum", int(0x1234))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"abcd"))]),
    ];
    let mut bad_inner = background();
    bad_inner[5].fields.insert("checksum", int(0x4242));
    let expected: [&[(&str, &str)]; 5] = [
        &[("ip.checksum.status", "0"), ("udp.checksum.status", "1")],
        &[("ip.checksum.status", "1"), ("udp.checksum.status", "0")],
        &[("ip.checksum.status", "1"), ("udp.checksum.status", "3")],
        &[("ip.checksum.status", "1"), ("icmp.checksum.status", "0")],
        &[("ip.checksum.status", "1,0"), ("udp.checksum.status", "1"), ("icmp.checksum.status", "1")],
    ];
    let packets: [&[Layer]; 5] = [&bad_ip, &bad_udp, &no_udp, &bad_icmp, &bad_inner];
    let rows = dissect(&packets, &expected);
    for (i, (row, exp)) in rows.iter().zip(expected).enumerate() {
        row.check(&format!("bad checksum case {i}"), exp);
    }
}

#[test]
fn wire_qinq_tags() {
    let layers = vec![
        eth(),
        layer(LayerKind::Vlan, vec![("vid", int(10)), ("pcp", int(3))]),
        layer(LayerKind::Vlan, vec![("vid", int(20))]),
        outer_ipv4(),
        layer(LayerKind::Udp, vec![("sport", int(1)), ("dport", int(2))]),
    ];
    let expected = [
        // Wireshark dissects a 0x88a8 tag as an 802.1ad service tag.
        ("frame.protocols", "eth:ethertype:ieee8021ad:ethertype:vlan:ethertype:ip:udp"),
        ("eth.type", "0x88a8"),
        ("ieee8021ad.id", "10"),
        ("ieee8021ad.priority", "3"),
        ("vlan.id", "20"),
        ("vlan.priority", "0"),
        ("vlan.etype", "0x0800"),
        ("ip.checksum.status", "1"),
        ("udp.checksum.status", "1"),
    ];
    check("qinq", &layers, &expected);
}
