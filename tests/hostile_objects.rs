//! Malformed objects, end to end: mutated copies of a real object (one to four bytes changed in the
//! sections the loader parses: code, relocations, BTF line info, string and symbol tables) run in one
//! suite beside a good spec. The loader must never take the run down: every mutant is its own spec's
//! error located at its `program` line (or, if the mutation is harmless, an ordinary pass or fail),
//! the good spec passes, the summary is printed and the JUnit file is written.

mod support;

use support::{repo, stderr};

#[path = "../compiler/tests/support/xorshift.rs"]
mod xorshift;
use xorshift::XorShift;

/// `(name, file offset, size)` of every section of a 64-bit little-endian ELF file.
fn sections(elf: &[u8]) -> Vec<(String, usize, usize)> {
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shnum, shstrndx) = (u64_at(0x28), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * 64;
    let names = u64_at(header(shstrndx) + 24);
    (0..shnum)
        .map(|i| {
            let h = header(i);
            let start = names + u32_at(h);
            let end = start + elf[start..].iter().position(|b| *b == 0).unwrap();
            (String::from_utf8_lossy(&elf[start..end]).into_owned(), u64_at(h + 24), u64_at(h + 32))
        })
        .collect()
}

/// Sections where a changed byte usually breaks the load (measured: 70–90% of such mutants), so that
/// a small suite reaches many different rejections.
const TARGETS: &[&str] = &["xdp", ".relxdp", ".BTF.ext", ".strtab", ".symtab", ".BTF"];

#[test]
fn malformed_objects_are_their_specs_errors_and_the_suite_still_reports() {
    support::build_programs();
    let good = std::fs::read(repo().join("programs/build/counter.o")).unwrap();
    let regions: Vec<(String, usize, usize)> =
        sections(&good).into_iter().filter(|(n, _, size)| TARGETS.contains(&n.as_str()) && *size > 0).collect();
    assert_eq!(regions.len(), TARGETS.len(), "{regions:?}");
    let dir = tempfile::tempdir().unwrap();
    let scenario = "scenario \"s\" {\n  send ether / ipv4 / udp\n  expect XDP_PASS: input\n}\n";
    std::fs::write(dir.path().join("good.o"), &good).unwrap();
    std::fs::write(dir.path().join("good.pkt"), format!("program \"good.o\" xdp \"xdp_counter\"\n{scenario}")).unwrap();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut mutants = Vec::new();
    while mutants.len() < 240 {
        let (_, start, size) = &regions[rng.below(regions.len())];
        let mut bytes = good.clone();
        for _ in 0..[1, 2, 4][rng.below(3)] {
            let at = start + rng.below(*size);
            bytes[at] = match rng.below(3) {
                0 => 0,
                1 => 0xff,
                _ => bytes[at] ^ (1 << rng.below(8)),
            };
        }
        if bytes == good {
            continue;
        }
        let name = format!("m{:03}", mutants.len());
        std::fs::write(dir.path().join(format!("{name}.o")), &bytes).unwrap();
        std::fs::write(
            dir.path().join(format!("{name}.pkt")),
            format!("program \"{name}.o\" xdp \"xdp_counter\"\n{scenario}"),
        )
        .unwrap();
        mutants.push(name);
    }
    // Only mutants that `check` accepts reach the loader (the others are compile errors, tested
    // elsewhere, which stop a run before it starts).
    let o = support::xdptest().arg("check").arg(dir.path()).output();
    let checked = stderr(&o);
    mutants.retain(|name| {
        let refused = checked.contains(&format!("{name}.pkt:"));
        if refused {
            std::fs::remove_file(dir.path().join(format!("{name}.pkt"))).unwrap();
        }
        !refused
    });
    assert!(mutants.len() >= 150, "{} mutants pass check", mutants.len());
    let junit = dir.path().join("junit.xml");
    let o = support::xdptest().arg("run").arg(dir.path()).args(["--format", "json", "--junit"]).arg(&junit).output();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked at"), "a panic reached the terminal: {err}");
    let mut statuses = std::collections::BTreeMap::new();
    let mut errors = 0;
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] != "scenario" {
            continue;
        }
        let spec = v["spec"].as_str().unwrap().rsplit('/').next().unwrap().trim_end_matches(".pkt").to_string();
        let status = v["status"].as_str().unwrap().to_string();
        if status == "error" {
            errors += 1;
            let location = v["error"]["location"].as_str().unwrap_or_default();
            assert!(location.ends_with(&format!("{spec}.pkt:1:9")), "{spec}: not at its program line: {v}");
        }
        statuses.insert(spec, status);
    }
    assert_eq!(statuses.len(), mutants.len() + 1, "every spec reported: {err}");
    assert_eq!(statuses["good"], "pass");
    eprintln!("{errors} of {} mutants rejected at their program line", mutants.len());
    assert!(errors >= 100, "only {errors} of {} mutants were rejected", mutants.len());
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert_eq!(xml.matches("<testcase ").count(), mutants.len() + 1);
}
