//! `xdptest import`: captures written by scapy (an independent writer) of every layer the language
//! knows become packet definitions in layers, which `xdptest compile` turns back into the very same
//! frames; other link types, frame selection, and bad captures (exit 2, located, no partial file).

#[path = "../compiler/tests/support/scapy_cases.rs"]
mod scapy_cases;
mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{build_programs, repo, stderr, stdout, xdptest};

/// Writes the scapy expressions' packets to `out` with scapy's own pcap writer (`wrpcapng` for
/// `.pcapng`), with `linktype` when given (and the packets then made by `wrap`).
fn scapy_capture(exprs: &[String], out: &Path, wrap: &str, linktype: Option<u32>) {
    let writer = if out.extension().is_some_and(|e| e == "pcapng") { "wrpcapng" } else { "wrpcap" };
    let link = linktype.map(|l| format!(", linktype={l}")).unwrap_or_default();
    let script = format!(
        "{}\nimport json\npkts = [{wrap} for line in sys.stdin for p in [eval(json.loads(line))]]\n{writer}({:?}, pkts{link})\n",
        scapy_cases::SCAPY_PRELUDE,
        out.display().to_string()
    );
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): this test needs scapy (scripts/setup)"));
    let mut stdin = child.stdin.take().unwrap();
    for e in exprs {
        writeln!(stdin, "{}", serde_json::to_string(e).unwrap()).unwrap();
    }
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "scapy failed (scripts/setup installs it):\n{}", String::from_utf8_lossy(&o.stderr));
}

/// The frames of a capture, read with pcap-file (not with xdptest's reader).
fn frames_of(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    if data.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut r = pcap_file::pcapng::PcapNgReader::new(&data[..]).unwrap();
        while let Some(b) = r.next_block() {
            if let pcap_file::pcapng::Block::EnhancedPacket(p) = b.unwrap() {
                out.push(p.data.to_vec());
            }
        }
    } else {
        let mut r = pcap_file::pcap::PcapReader::new(&data[..]).unwrap();
        while let Some(p) = r.next_packet() {
            out.push(p.unwrap().data.to_vec());
        }
    }
    out
}

/// Compiles a spec that includes `imported` and sends `names` in order; the frames it sends.
fn compile_sends(dir: &Path, imported: &str, names: &[String]) -> Vec<Vec<u8>> {
    build_programs();
    let mut spec = format!(
        "include \"{imported}\"\nprogram \"{}\" xdp \"xdp_counter\"\n",
        repo().join("programs/build/counter.o").display()
    );
    for n in names {
        spec.push_str(&format!("scenario \"{n}\" {{\n  send {n}\n}}\n"));
    }
    std::fs::write(dir.join("sends.pkt"), spec).unwrap();
    let out = dir.join("out");
    let o = xdptest().arg("compile").arg(dir.join("sends.pkt")).arg("--out").arg(&out).output();
    assert_eq!(o.status.code(), Some(0), "compile failed:\n{}", support::text(&o));
    frames_of(&out.join("sends.pcapng"))
}

/// The layers of a packet expression, split at the top-level `/`.
fn terms(expr: &str) -> Vec<String> {
    let mut depth = 0;
    let mut terms = vec![String::new()];
    for ch in expr.chars() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '/' if depth == 0 => {
                terms.push(String::new());
                continue;
            }
            _ => {}
        }
        terms.last_mut().unwrap().push(ch);
    }
    terms.into_iter().map(|t| t.trim().to_string()).collect()
}

/// The layer kind a term builds: `tcp.syn(..)` is tcp, `ipv6.hbh` is hbh, `dot1q` is vlan.
fn kind(term: &str) -> String {
    let name = term.split('(').next().unwrap().trim();
    let kind = match name.split_once('.') {
        Some(("ipv6", "frag")) => "frag6",
        Some(("ipv6", ext)) => ext,
        Some(("gtpu", "pdu_session")) => "pdu_session",
        Some(("gtpu", "ext")) => "gtpu_ext",
        Some((layer, _)) => layer,
        None => name,
    };
    match kind {
        "dot1q" => "vlan",
        "raw" => "payload",
        k => k,
    }
    .to_string()
}

fn stack_of(expr: &str) -> Vec<String> {
    terms(expr).iter().map(|t| kind(t)).collect()
}

/// The expression of each packet definition of an imported file.
fn definitions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("packet ") {
            out.push(rest.split_once(" = ").unwrap().1.to_string());
        } else if let (Some(last), false) = (out.last_mut(), line.starts_with('#') || line.trim().is_empty()) {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    out
}

fn stacks(text: &str) -> Vec<Vec<String>> {
    definitions(text).iter().map(|e| stack_of(e)).collect()
}

/// Whether an import kept the layers written: the same kinds, or, where a receiver stops decoding
/// (after TCP, an ICMP echo or neighbour discovery message, in a non-first fragment: several cases
/// stack a second message there), the same up to that layer and the rest as its payload or options.
fn same_layers(written: &[String], imported: &[String]) -> bool {
    if written == imported {
        return true;
    }
    let known = match imported.last().map(String::as_str) {
        Some("payload") => &imported[..imported.len() - 1],
        _ => imported,
    };
    let Some(last) = known.last() else { return false };
    written.len() > known.len()
        && written[..known.len()] == *known
        && matches!(last.as_str(), "tcp" | "frag6" | "icmp" | "icmpv6")
}

fn names_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("packet "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// Every layer, flag, option and extension header of the language (the scapy parity cases), in a
/// pcap and a pcapng written by scapy: imported, compiled, and byte for byte the captured frames,
/// with no raw hex where a layer is known.
#[test]
fn import_round_trips_every_layer_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let exprs: Vec<String> = scapy_cases::cases().iter().map(|c| c.scapy.to_string()).collect();
    for file in ["all.pcap", "all.pcapng"] {
        let capture = dir.path().join(file);
        scapy_capture(&exprs, &capture, "p", None);
        let captured = frames_of(&capture);
        assert_eq!(captured.len(), exprs.len());
        let imported = format!("{file}.pkt");
        let o = xdptest().arg("import").arg(&capture).arg("-o").arg(dir.path().join(&imported)).output();
        assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
        assert!(stdout(&o).contains(&format!("{} frames imported", exprs.len())), "{}", stdout(&o));
        let text = std::fs::read_to_string(dir.path().join(&imported)).unwrap();
        let names = names_in(&text);
        assert_eq!(names.len(), exprs.len(), "{text}");
        // Known layers are written as layers: hex is left only for bytes that are raw by nature
        // (a `raw(kind, hex"..")` option or extension content), never for a header.
        assert!(!text.contains("Raw bytes"), "{text}");
        let imported_stacks = stacks(&text);
        let mismatched: Vec<String> = scapy_cases::cases()
            .iter()
            .zip(&imported_stacks)
            .filter(|(c, got)| !same_layers(&stack_of(&c.pkt.replace("E /", "ether /")), got))
            .map(|(c, got)| {
                format!("{}: wrote {:?} imported {:?}", c.name, stack_of(&c.pkt.replace("E /", "ether /")), got)
            })
            .collect();
        assert!(mismatched.is_empty(), "layers lost in the import:\n{}\n{text}", mismatched.join("\n"));
        for term in definitions(&text).iter().flat_map(|d| terms(d)) {
            let raw_by_nature = ["payload", "gtpu_ext"].contains(&kind(&term).as_str())
                || term.contains("raw(")
                || term.contains("option(");
            assert!(raw_by_nature || !term.contains("hex\""), "hex in a known header: {term}");
        }
        let rebuilt = compile_sends(dir.path(), &imported, &names);
        for (i, (a, b)) in rebuilt.iter().zip(&captured).enumerate() {
            assert_eq!(
                a,
                b,
                "{file}: frame {} ({}) differs after import:\n{text}",
                i + 1,
                scapy_cases::cases()[i].name
            );
        }
        assert_eq!(rebuilt.len(), captured.len());
    }
}

/// A capture of `tcpdump -i any` (Linux cooked v1) and a raw IP capture: each frame gets a made-up
/// Ethernet header (said so in its description) and compiles to that header plus the captured bytes.
#[test]
fn import_gives_cooked_and_raw_ip_captures_an_ethernet_header() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "ip(src='192.0.2.1', dst='192.0.2.2')/udp(sport=53, dport=5353)/Raw(b'dns')".to_string();
    let ip6 = "ip6()/tcp(flags='S')".to_string();
    let cases = [
        ("raw.pcap", "p", Some(101), "a raw IP capture"),
        ("cooked.pcap", "CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b'\\x02\\x00\\x00\\x00\\x00\\x07\\x00\\x00', proto=0x0800 if IP in p else 0x86dd)/p", Some(113), "a Linux cooked capture"),
    ];
    for (file, wrap, link, note) in cases {
        let capture = dir.path().join(file);
        scapy_capture(&[ip.clone(), ip6.clone()], &capture, wrap, link);
        let o = xdptest().arg("import").arg(&capture).output();
        assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
        let text = stdout(&o);
        assert!(text.contains(&format!("## From {note}")), "{text}");
        assert!(text.contains("/ ipv4(src=192.0.2.1, dst=192.0.2.2)") && text.contains("/ ipv6("), "{text}");
        std::fs::write(dir.path().join(format!("{file}.pkt")), &text).unwrap();
        let rebuilt = compile_sends(dir.path(), &format!("{file}.pkt"), &names_in(&text));
        let captured = frames_of(&capture);
        let skip = if file == "cooked.pcap" { 16 } else { 0 };
        for (a, b) in rebuilt.iter().zip(&captured) {
            assert_eq!(&a[14..], &b[skip..], "{file}: the frame after the Ethernet header differs:\n{text}");
        }
        if file == "cooked.pcap" {
            assert_eq!(&rebuilt[0][6..12], &[2, 0, 0, 0, 0, 7], "the cooked header's address is the source");
        }
    }
}

/// `--frames` picks frames by number (and reading stops after the last one wanted, so a damaged
/// tail is avoided); `--prefix` names them; a bad capture, a cut-off frame, a missing file or an
/// existing output file are exit 2 with the reason, and no output file is left behind.
#[test]
fn import_selects_frames_and_refuses_bad_captures() {
    let dir = tempfile::tempdir().unwrap();
    let exprs: Vec<String> = (1..=5).map(|i| format!("E/ip()/udp(sport={i})")).collect();
    let capture = dir.path().join("five.pcap");
    scapy_capture(&exprs, &capture, "p", None);

    let o = xdptest().arg("import").arg(&capture).args(["--frames", "2,4-", "--prefix", "p"]).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    assert_eq!(names_in(&stdout(&o)), ["p2", "p4", "p5"]);
    assert!(stdout(&o).contains("udp(sport=4"), "{}", stdout(&o));
    assert!(stderr(&o).contains("3 frames imported"), "{}", stderr(&o));

    // The file cut in the middle of frame 4: an error naming it, with the way around it.
    let data = std::fs::read(&capture).unwrap();
    let cut = dir.path().join("cut.pcap");
    let frame_len = (data.len() - 24) / 5;
    std::fs::write(&cut, &data[..24 + 3 * frame_len + 10]).unwrap();
    let out = dir.path().join("never.pkt");
    let o = xdptest().arg("import").arg(&cut).arg("-o").arg(&out).output();
    assert_eq!(o.status.code(), Some(2), "{}", support::text(&o));
    assert!(stderr(&o).contains("frame 4 is malformed"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--frames 1-3"), "{}", stderr(&o));
    assert!(!out.exists(), "no partial output");
    let o = xdptest().arg("import").arg(&cut).args(["--frames", "1-3"]).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    assert_eq!(names_in(&stdout(&o)).len(), 3);

    let not = dir.path().join("notes.txt");
    std::fs::write(&not, "hello").unwrap();
    let o = xdptest().arg("import").arg(&not).output();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a pcap or pcapng capture"), "{}", stderr(&o));
    let o = xdptest().arg("import").arg(dir.path().join("missing.pcap")).output();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    let o = xdptest().arg("import").arg(&capture).args(["--frames", "3-1"]).output();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("empty range"), "{}", stderr(&o));
    let o = xdptest().arg("import").arg(&capture).args(["--prefix", "1x"]).output();
    assert_eq!(o.status.code(), Some(2));

    let existing: PathBuf = dir.path().join("exists.pkt");
    std::fs::write(&existing, "# mine\n").unwrap();
    let o = xdptest().arg("import").arg(&capture).arg("-o").arg(&existing).output();
    assert_eq!(o.status.code(), Some(2), "{}", support::text(&o));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "# mine\n", "an existing file is never replaced");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".xdptest-import-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// The book's example: the import of `book/src/examples/captures/traffic.pcap` (written by scapy,
/// `make.py` beside it) is `imported_traffic.pkt` beside it, which the commands chapter shows and `import_replay.pkt`
/// includes.
#[test]
fn import_of_the_book_capture_is_what_the_book_shows() {
    let examples = support::book_src().join("examples");
    let o = xdptest().cwd(&examples).args(["import", "captures/traffic.pcap"]).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    assert_eq!(stderr(&o), "5 frames imported\n");
    support::compare_or_bless_file(&examples.join("imported_traffic.pkt"), &stdout(&o), "cli_import");
    let page = std::fs::read_to_string(support::book_src().join("commands.md")).unwrap();
    assert!(page.contains("$ xdptest import captures/traffic.pcap"), "commands.md shows the command");
}

/// A classic pcap record from a snap length cut (`tcpdump -s 64`: longer on the wire than in the
/// file) is imported with its note; a frame longer than a byte string (a GRO or multi-buffer frame)
/// is written as several payloads, and the file still checks.
#[test]
fn cut_and_huge_frames_import() {
    let dir = tempfile::tempdir().unwrap();
    let record = |data: &[u8], orig: u32| {
        let mut r = Vec::new();
        r.extend_from_slice(&1u32.to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(&orig.to_le_bytes());
        r.extend_from_slice(data);
        r
    };
    let header = |snaplen: u32| {
        let mut h = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        h
    };
    // Ethernet + IPv4 + UDP headers of a 100-byte frame, cut at 64 bytes.
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend_from_slice(&[0x45, 0, 0, 86, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    frame.extend_from_slice(&[0, 1, 0, 2, 0, 66, 0, 0]);
    frame.resize(64, 0x61);
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, [header(64), record(&frame, 100)].concat()).unwrap();
    let o = xdptest().arg("import").arg(&cut).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    assert!(
        stdout(&o).contains("## Frame 1: 64 bytes of 100 (the capture's snap length cut the rest)"),
        "{}",
        stdout(&o)
    );

    let mut huge = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5];
    huge.resize(70_000, 0x5a);
    let big = dir.path().join("big.pcap");
    std::fs::write(&big, [header(262_144), record(&huge, 70_000)].concat()).unwrap();
    let out = dir.path().join("big.pkt");
    let o = xdptest().arg("import").arg(&big).arg("-o").arg(&out).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("did not compile back"), "{}", &text[..400.min(text.len())]);
    assert!(text.matches("payload(").count() >= 3, "split into payloads");
    let o = xdptest().env("XDPTEST_ALLOW_PATH", dir.path()).arg("check").arg(&out).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
}
