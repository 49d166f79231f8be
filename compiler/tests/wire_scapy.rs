//! Byte-for-byte parity with scapy: every packet below is written twice, once in the `.pkt` language
//! and once with scapy's own layer classes (built here, in the test, by a `python3` child; no bytes
//! are pasted), and the two encodings must be identical. Together the packets cover every layer, flag,
//! option and extension header of the language. Where the two tools default differently (scapy's
//! IPv4 id is 1, its TCP window 8192, its NA sets R and O), the scapy side states the value, so the
//! comparison is about encoding, not defaults.
//!
//! scapy must be installed (`scripts/setup` does it); a missing scapy fails the test with a hint.

#[path = "support/scapy_cases.rs"]
mod scapy_cases;
mod support;

use scapy_cases::{cases, Case, ETHER_PKT, SCAPY_PRELUDE};

use std::io::Write;
use std::process::{Command, Stdio};

/// The bytes of each case, built by scapy in one `python3` run.
fn scapy_bytes(cases: &[Case]) -> Vec<Vec<u8>> {
    let script =
        format!("{SCAPY_PRELUDE}\nfor line in sys.stdin:\n    p = eval(json.loads(line))\n    print(bytes(p).hex())\n");
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): this test needs python3 with scapy (scripts/setup)"));
    let mut stdin = child.stdin.take().unwrap();
    for c in cases {
        writeln!(stdin, "{}", json_string(c.scapy)).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scapy failed (is it installed? `python3 -m pip install scapy`, or run scripts/setup):\n{stderr}"
    );
    let lines: Vec<Vec<u8>> = String::from_utf8(out.stdout).unwrap().lines().map(hex).collect();
    assert_eq!(lines.len(), cases.len(), "scapy printed {} packets for {} cases:\n{stderr}", lines.len(), cases.len());
    lines
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The bytes of each case, compiled from one spec that sends every packet.
fn xdptest_bytes(cases: &[Case]) -> Vec<Vec<u8>> {
    let packets: Vec<(&str, String)> =
        cases.iter().map(|c| (c.name, c.pkt.replace("E /", &format!("{ETHER_PKT} /")))).collect();
    support::compile_packets(&packets)
}

/// Where two encodings first differ, with both sides around it.
fn first_difference(ours: &[u8], theirs: &[u8]) -> String {
    let at = ours.iter().zip(theirs).position(|(a, b)| a != b).unwrap_or(ours.len().min(theirs.len()));
    let show = |b: &[u8]| {
        let from = at.saturating_sub(4);
        b[from..b.len().min(at + 12)].iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
    };
    format!(
        "first difference at byte {at} (lengths {} and {}):\n    xdptest: …{}\n    scapy:   …{}",
        ours.len(),
        theirs.len(),
        show(ours),
        show(theirs)
    )
}

#[test]
fn every_layer_matches_scapy_byte_for_byte() {
    let cases = cases();
    let ours = xdptest_bytes(&cases);
    let theirs = scapy_bytes(&cases);
    let mismatches: Vec<String> = cases
        .iter()
        .zip(ours.iter().zip(&theirs))
        .filter(|(_, (a, b))| a != b)
        .map(|(c, (a, b))| format!("{}: {}", c.name, first_difference(a, b)))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} packets differ from scapy:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}
