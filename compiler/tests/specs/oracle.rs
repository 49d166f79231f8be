//! The tshark oracle for `layers.pkt`, shared by `compiler/tests/e2e_tshark.rs` (library entry points)
//! and the root crate's `tests/cli_tshark.rs` (the real `xdptest` binary) through `#[path]`.
//!
//! Every frame of the spec's pcapng is decoded by Wireshark's dissectors and compared field by field
//! with the table below, keyed by the frame comment (`<scenario> · send #N · input` / `· expected X`).
//! Every frame of the capture must have an entry, so a packet added to the spec cannot go unchecked.
//!
//! Values are tshark 4.0's `-T fields` renderings: checksum status Bad=0, Good=1, Unverified=2,
//! Not present=3; repeated fields (outer and inner headers) are joined with `,`.

#![allow(dead_code)] // each including test uses a part

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// One frame and the tshark field values it must have.
pub struct Frame {
    pub comment: String,
    pub fields: Vec<(&'static str, &'static str)>,
}

fn input(scenario: &str, n: usize, fields: &[(&'static str, &'static str)]) -> Frame {
    Frame { comment: format!("{scenario} · send #{n} · input"), fields: fields.to_vec() }
}

fn expected(scenario: &str, n: usize, action: &str, fields: &[(&'static str, &'static str)]) -> Frame {
    Frame { comment: format!("{scenario} · send #{n} · expected {action}"), fields: fields.to_vec() }
}

const GOOD: &str = "1";
const BAD: &str = "0";
const UNVERIFIED: &str = "2";
const NOT_PRESENT: &str = "3";

/// What Wireshark must see in every frame of `layers.pcapng`.
pub fn expectations() -> Vec<Frame> {
    vec![
        // ether
        input(
            "ether",
            1,
            &[
                ("eth.src", "02:00:00:00:00:01"),
                ("eth.dst", "02:00:00:00:00:02"),
                ("eth.type", "0x0800"),
                ("ip.src", "10.0.0.1"),
                ("ip.dst", "10.0.0.2"),
                ("ip.len", "33"),
                ("ip.checksum.status", GOOD),
                ("udp.srcport", "40000"),
                ("udp.dstport", "40001"),
                ("udp.length", "13"),
                ("udp.checksum.status", GOOD),
                ("data.data", "68656c6c6f"),
            ],
        ),
        input(
            "ether",
            2,
            &[
                ("eth.src", "02:00:00:00:00:01"),
                ("eth.dst", "00:00:00:00:00:00"),
                ("eth.type", "0x1234"),
                ("ip.version", ""),
                ("data.len", "21"),
            ],
        ),
        input("ether", 3, &[("eth.type", "0x88b5"), ("data.data", "01020304")]),
        // vlan
        input(
            "vlan",
            1,
            &[
                ("eth.type", "0x8100"),
                ("vlan.id", "100"),
                ("vlan.priority", "5"),
                ("vlan.dei", "1"),
                ("vlan.etype", "0x0800"),
                ("udp.length", "9"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "vlan",
            2,
            &[
                ("vlan.id", "300"),
                ("vlan.priority", "0"),
                ("vlan.dei", "0"),
                ("ip.proto", "1"),
                ("icmp.type", "8"),
                ("icmp.checksum.status", GOOD),
            ],
        ),
        input("vlan", 3, &[("vlan.id", "7"), ("vlan.dei", "0"), ("vlan.etype", "0x88b5"), ("data.data", "78")]),
        // qinq
        input(
            "qinq",
            1,
            &[
                ("eth.type", "0x88a8"),
                ("ieee8021ad.id", "10"),
                ("ieee8021ad.priority", "3"),
                ("ieee8021ad.dei", "0"),
                ("vlan.id", "20"),
                ("vlan.priority", "0"),
                ("vlan.dei", "1"),
                ("vlan.etype", "0x0800"),
                ("ip.checksum.status", GOOD),
                ("udp.checksum.status", GOOD),
            ],
        ),
        // ipv4
        input(
            "ipv4",
            1,
            &[
                ("ip.src", "10.0.0.1"),
                ("ip.dst", "10.0.0.2"),
                ("ip.ttl", "7"),
                ("ip.id", "0xbeef"),
                ("ip.dsfield", "0x8a"),
                ("ip.dsfield.dscp", "34"),
                ("ip.dsfield.ecn", "2"),
                ("ip.hdr_len", "20"),
                ("ip.proto", "17"),
                ("ip.checksum.status", GOOD),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "ipv4",
            2,
            &[
                ("ip.dsfield", "0xb9"),
                ("ip.dsfield.dscp", "46"),
                ("ip.dsfield.ecn", "1"),
                ("ip.proto", "253"),
                ("ip.checksum.status", GOOD),
            ],
        ),
        input("ipv4", 3, &[("ip.flags.df", "1"), ("ip.flags.mf", "0"), ("ip.ttl", "1"), ("icmp.type", "8")]),
        input(
            "ipv4",
            4,
            &[
                ("ip.flags.df", "0"),
                ("ip.flags.mf", "1"),
                ("ip.frag_offset", "100"),
                ("ip.id", "0x0005"),
                ("ip.len", "28"),
                ("ip.checksum.status", GOOD),
            ],
        ),
        input("ipv4", 5, &[("ip.flags.rb", "1"), ("ip.checksum.status", GOOD)]),
        input(
            "ipv4",
            6,
            &[("ip.hdr_len", "24"), ("ip.opt.type", "148"), ("ip.len", "36"), ("ip.checksum.status", GOOD)],
        ),
        input(
            "ipv4",
            7,
            &[
                ("ip.hdr_len", "24"),
                ("ip.opt.type", "1,0"),
                ("ip.checksum.status", GOOD),
                ("data.data", "706164646564"),
            ],
        ),
        input("ipv4", 8, &[("ip.proto", "6"), ("ip.len", "40"), ("ip.checksum.status", GOOD)]),
        // ihl=6 over a 20-byte header: tshark takes the first 4 payload bytes (zeros) as options.
        input(
            "ipv4",
            9,
            &[("ip.hdr_len", "24"), ("ip.len", "26"), ("ip.checksum.status", GOOD), ("data.data", "4142")],
        ),
        input("ipv4", 10, &[("ip.len", "1000")]),
        input("ipv4", 11, &[("ip.checksum", "0x1234"), ("ip.checksum.status", BAD)]),
        input(
            "ipv4",
            12,
            &[
                ("ip.proto", "4,253"),
                ("ip.src", "192.0.2.1,10.0.0.1"),
                ("ip.len", "44,24"),
                ("ip.checksum.status", "1,1"),
            ],
        ),
        // udp
        input(
            "udp",
            1,
            &[("udp.srcport", "1234"), ("udp.dstport", "40001"), ("udp.length", "11"), ("udp.checksum.status", GOOD)],
        ),
        // A length shorter than the datagram: receivers checksum `len` bytes, and so does the encoder.
        input("udp", 2, &[("udp.length", "9"), ("udp.checksum.status", GOOD)]),
        // Longer than the packet: nothing to verify against.
        input("udp", 3, &[("udp.length", "100"), ("udp.checksum.status", UNVERIFIED)]),
        input("udp", 4, &[("udp.checksum", "0x1234"), ("udp.checksum.status", BAD)]),
        input("udp", 5, &[("udp.checksum", "0x0000"), ("udp.checksum.status", NOT_PRESENT)]),
        input("udp", 6, &[("udp.checksum", "0xffff"), ("udp.checksum.status", GOOD), ("data.data", "ebd4")]),
        // gtpu
        input(
            "gtpu",
            1,
            &[
                ("eth.src", "02:00:00:00:00:01"),
                ("vlan.id", "100"),
                ("ip.src", "192.0.2.1,10.45.0.1"),
                ("ip.dst", "192.0.2.2,198.51.100.7"),
                ("ip.id", "0x04bc,0x0488"),
                ("ip.ttl", "64,63"),
                ("ip.flags.df", "1,0"),
                ("ip.checksum.status", "1,1"),
                ("udp.srcport", "2152"),
                ("udp.dstport", "2152"),
                ("udp.length", "48"),
                ("udp.checksum.status", GOOD),
                ("gtp.flags.version", "1"),
                ("gtp.flags.payload", "1"),
                ("gtp.flags.e", "0"),
                ("gtp.flags.s", "0"),
                ("gtp.flags.pn", "0"),
                ("gtp.message", "0xff"),
                ("gtp.length", "32"),
                ("gtp.teid", "0x00001234"),
                ("icmp.type", "8"),
                ("icmp.ident", "1"),
                ("icmp.seq", "1"),
                ("icmp.checksum.status", GOOD),
                ("data.data", "61626364"),
            ],
        ),
        input(
            "gtpu",
            2,
            &[
                ("gtp.message", "0x01"),
                ("gtp.teid", "0x00000000"),
                ("gtp.flags.s", "1"),
                ("gtp.seq_number", "0x0001"),
                ("gtp.length", "4"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input("gtpu", 3, &[("gtp.message", "0x02"), ("gtp.seq_number", "0x0001"), ("ip.src", "192.0.2.2")]),
        input(
            "gtpu",
            4,
            &[
                ("gtp.teid", "0x00000005"),
                ("gtp.flags.s", "1"),
                ("gtp.flags.pn", "1"),
                ("gtp.flags.e", "0"),
                ("gtp.seq_number", "0x0009"),
                ("gtp.npdu_number", "0x03"),
                ("gtp.length", "8"),
            ],
        ),
        input(
            "gtpu",
            5,
            &[
                ("gtp.teid", "0x00001234"),
                ("gtp.flags.e", "1"),
                ("gtp.flags.s", "1"),
                ("gtp.seq_number", "0x0007"),
                ("gtp.length", "40"),
                ("gtp.ext_hdr.next", "0x85,0x00"),
                ("gtp.ext_hdr.length", "1"),
                ("gtp.ext_hdr.pdu_ses_con.pdu_type", "1"),
                ("gtp.ext_hdr.pdu_ses_con.qos_flow_id", "9"),
                ("ip.ttl", "64,63"),
                ("icmp.checksum.status", GOOD),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "gtpu",
            6,
            &[
                ("gtp.teid", "0x00000006"),
                ("gtp.flags.e", "1"),
                ("gtp.ext_hdr.length", "2"),
                ("gtp.ext_hdr.pdu_ses_con.pdu_type", "0"),
                ("gtp.ext_hdr.pdu_ses_con.qos_flow_id", "5"),
                ("gtp.ext_hdr.pdu_ses_cont.ppp", "1"),
                ("gtp.ext_hdr.pdu_ses_cont.ppi", "2"),
                ("gtp.ext_hdr.pdu_ses_cont.rqi", "1"),
                ("ip.src", "0.0.0.0,10.45.0.1"),
                ("udp.dstport", "2152,53"),
                ("udp.checksum.status", "1,1"),
            ],
        ),
        input(
            "gtpu",
            7,
            &[
                ("udp.checksum", "0x0000"),
                ("udp.checksum.status", NOT_PRESENT),
                ("gtp.teid", "0x00000001"),
                ("gtp.flags.e", "1"),
                ("gtp.length", "12"),
                ("gtp.ext_hdr.next", "0x40,0xc0,0x00"),
                ("gtp.ext_hdr.length", "1,1"),
                ("gtp.ext_hdr.udp_port", "2152"),
                ("gtp.ext_hdr.pdcp_sn", "7"),
            ],
        ),
        input("gtpu", 8, &[("gtp.message", "0xfe"), ("gtp.teid", "0x00000003"), ("gtp.length", "0")]),
        input("gtpu", 9, &[("gtp.message", "0x1a")]),
        // icmp
        input(
            "icmp",
            1,
            &[
                ("icmp.type", "8"),
                ("icmp.code", "0"),
                ("icmp.ident", "4660"),
                ("icmp.seq", "7"),
                ("icmp.checksum.status", GOOD),
                ("data.data", "70696e67"),
            ],
        ),
        input(
            "icmp",
            2,
            &[
                ("icmp.type", "0"),
                ("icmp.code", "0"),
                ("icmp.ident", "1"),
                ("icmp.seq", "2"),
                ("icmp.checksum.status", GOOD),
            ],
        ),
        input(
            "icmp",
            3,
            &[
                ("icmp.type", "3"),
                ("icmp.code", "3"),
                ("icmp.checksum.status", GOOD),
                ("ip.src", "10.0.0.1,10.0.0.2"),
                ("ip.dst", "10.0.0.2,10.0.0.1"),
                ("ip.ttl", "64,1"),
                ("ip.len", "64,36"),
                ("ip.checksum.status", "1,1"),
                ("udp.srcport", "33434"),
                ("udp.dstport", "33435"),
                ("udp.length", "16"),
            ],
        ),
        input(
            "icmp",
            4,
            &[("icmp.type", "3"), ("icmp.code", "1"), ("icmp.checksum.status", GOOD), ("ip.dst", "10.0.0.2,10.0.0.5")],
        ),
        input(
            "icmp",
            5,
            &[("icmp.type", "11"), ("icmp.code", "0"), ("icmp.checksum.status", GOOD), ("ip.ttl", "64,1")],
        ),
        input(
            "icmp",
            6,
            &[
                ("icmp.type", "3"),
                ("icmp.code", "4"),
                ("icmp.mtu", "1400"),
                ("icmp.checksum.status", GOOD),
                ("ip.flags.df", "0,1"),
            ],
        ),
        input("icmp", 7, &[("icmp.type", "13"), ("icmp.code", "0"), ("icmp.checksum.status", GOOD)]),
        input(
            "icmp",
            8,
            &[("icmp.type", "5"), ("icmp.code", "1"), ("icmp.redir_gw", "192.0.2.1"), ("icmp.checksum.status", GOOD)],
        ),
        input("icmp", 9, &[("icmp.checksum", "0xdead"), ("icmp.checksum.status", BAD)]),
        input(
            "icmp",
            10,
            &[("icmp.ident", "2"), ("icmp.seq", "3"), ("icmp.checksum.status", GOOD), ("data.data", "6f6464")],
        ),
        // payload
        input("payload", 1, &[("data.data", "68656c6c6f")]),
        input("payload", 2, &[("data.data", "deadbeef")]),
        input("payload", 3, &[("data.data", "000000")]),
        input("payload", 4, &[("data.data", "ffffffffffff")]),
        input("payload", 5, &[("data.data", "61626162616261")]),
        input("payload", 6, &[("data.data", "0102010201")]),
        // derived
        input(
            "derived",
            1,
            &[
                ("eth.dst", "02:00:00:00:00:02"),
                ("ip.ttl", "3,5"),
                ("ip.checksum.status", "1,1"),
                ("gtp.teid", "0x00000063"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        // Wildcards are written as zeros in the capture; checksums over them are recomputed.
        expected(
            "derived",
            1,
            "XDP_PASS",
            &[
                ("eth.src", "02:00:00:00:00:01"),
                ("eth.dst", "00:00:00:00:00:00"),
                ("ip.ttl", "3,0"),
                ("ip.checksum.status", "1,1"),
                ("gtp.teid", "0x00000063"),
            ],
        ),
        input(
            "derived",
            2,
            &[
                ("eth.type", "0x0800"),
                ("vlan.id", ""),
                ("gtp.teid", ""),
                ("ip.src", "10.45.0.1"),
                ("ip.ttl", "63"),
                ("icmp.type", "8"),
            ],
        ),
        expected("derived", 2, "XDP_PASS", &[("eth.type", "0x0800"), ("ip.src", "10.45.0.1")]),
        input(
            "derived",
            3,
            &[("eth.type", "0x8100"), ("vlan.id", "300"), ("vlan.priority", "1"), ("gtp.teid", "0x00001234")],
        ),
        input(
            "derived",
            4,
            &[
                ("eth.type", "0x88a8"),
                ("ieee8021ad.id", "100"),
                ("vlan.id", "77"),
                ("vlan.etype", "0x0800"),
                ("gtp.teid", "0x00001234"),
            ],
        ),
        input(
            "derived",
            5,
            &[
                ("vlan.id", "5"),
                ("ip.src", "10.45.0.1"),
                ("ip.ttl", "9"),
                ("udp.srcport", "5000"),
                ("udp.dstport", "40001"),
                ("udp.checksum.status", GOOD),
                ("data.data", "71"),
            ],
        ),
        input(
            "derived",
            6,
            &[
                ("ip.src", "192.0.2.1,10.45.0.1"),
                ("udp.dstport", "2152,40002"),
                ("udp.checksum.status", "1,1"),
                ("gtp.teid", "0x00000008"),
                ("gtp.length", "29"),
            ],
        ),
        expected(
            "derived",
            6,
            "XDP_PASS",
            &[("eth.src", "00:00:00:00:00:00"), ("ip.src", "10.45.0.1"), ("udp.dstport", "40002"), ("gtp.teid", "")],
        ),
    ]
}

/// Builds the BPF programs (`make -C programs`) when an object of a `programs/*.c` is missing.
pub fn ensure_programs(repo: &Path) {
    let programs = repo.join("programs");
    let missing = std::fs::read_dir(&programs)
        .expect("programs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .any(|c| {
            let stem = c.file_stem().unwrap();
            !programs.join("build").join(stem).with_extension("o").exists()
        });
    if !missing {
        return;
    }
    let out = Command::new("make")
        .arg("-C")
        .arg(repo.join("programs"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run make ({e}): install make and clang to build programs/"));
    assert!(
        out.status.success(),
        "`make -C programs` failed (needs clang, llvm and libbpf-dev):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Per frame comment, tshark's value of each of `fields` (occurrences joined with `,`).
pub fn tshark_fields(pcap: &Path, fields: &[&str]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(pcap);
    cmd.args(["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]);
    cmd.args(["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a"]);
    cmd.args(["-E", "aggregator=,", "-e", "frame.comment"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run tshark ({e}): this test needs Wireshark's tshark on PATH \
             (Debian/Ubuntu: `apt-get install tshark`, Fedora: `dnf install wireshark-cli`, \
             macOS: `brew install wireshark`)"
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark failed on {}: {}\n{stdout}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut frames = BTreeMap::new();
    for line in stdout.lines() {
        let mut cols = line.split('\t');
        let comment = cols.next().unwrap_or_default().to_string();
        let values: BTreeMap<String, String> =
            fields.iter().map(|f| (f.to_string(), cols.next().unwrap_or_default().to_string())).collect();
        assert!(frames.insert(comment.clone(), values).is_none(), "two frames are commented {comment:?}");
    }
    frames
}

/// Decodes `pcap` (the capture of `layers.pkt`) with tshark and checks it against [`expectations`],
/// reporting every mismatch at once.
pub fn check_layers_pcap(pcap: &Path) {
    let expect = expectations();
    let fields: BTreeSet<&str> = expect.iter().flat_map(|f| f.fields.iter().map(|(n, _)| *n)).collect();
    let fields: Vec<&str> = fields.into_iter().collect();
    let frames = tshark_fields(pcap, &fields);
    let mut problems = Vec::new();
    for frame in &expect {
        let Some(got) = frames.get(&frame.comment) else {
            problems.push(format!("no frame commented {:?}", frame.comment));
            continue;
        };
        for (field, want) in &frame.fields {
            let have = got.get(*field).map(String::as_str).unwrap_or_default();
            if have != *want {
                problems.push(format!("{}: {field} is {have:?}, expected {want:?}", frame.comment));
            }
        }
    }
    let known: BTreeSet<&str> = expect.iter().map(|f| f.comment.as_str()).collect();
    for comment in frames.keys() {
        if !known.contains(comment.as_str()) {
            problems.push(format!("frame {comment:?} has no expectations in the oracle"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches between layers.pkt and Wireshark:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}
