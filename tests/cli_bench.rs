//! `xdptest bench`: per-send kernel figures (repeated where every iteration takes the same path,
//! fresh runs otherwise), verified instructions per program, JSON output, and the baseline gate,
//! proven to trip with injected figures and to stay quiet without a change.

mod support;

use support::{repo, stderr, stdout, xdptest};

fn bench(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    support::build_programs();
    xdptest().cwd(dir).env("XDPTEST_ALLOW_PATH", repo()).arg("bench").args(args).output()
}

#[test]
fn bench_times_every_send_the_right_way() {
    let dir = tempfile::tempdir().unwrap();
    let icmp = repo().join("specs/icmp_echo");
    let o = bench(dir.path(), &[icmp.to_str().unwrap(), "--samples", "5", "--repeat", "100"]);
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    let out = stdout(&o);
    // The echo responder rewrites the packet: fresh runs. A reply passes untouched: repeated.
    // Each send: its name, then its figures on the next line.
    let line = |name: &str| {
        let lines: Vec<&str> = out.lines().collect();
        let at = lines.iter().position(|l| l.trim() == name).unwrap_or_else(|| panic!("{name}: {out}"));
        lines[at + 1].to_string()
    };
    let name = |s: &str| format!("{}/icmp_echo.pkt::{s}", icmp.display());
    assert!(line(&name("echo request is answered#1")).contains("; fresh)"), "{out}");
    assert!(line(&name("echo reply passes#1")).contains("; repeat)"), "{out}");
    assert!(out.contains("verified instructions  "), "{out}");
    assert!(out.contains("floor: a program that only returns XDP_PASS times"), "{out}");

    let o = bench(dir.path(), &[icmp.to_str().unwrap(), "--samples", "3", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    let records = support::json_records(&stdout(&o));
    let sends: Vec<_> = records.iter().filter(|r| r["type"] == "send").collect();
    assert_eq!(sends.len(), 5);
    for s in &sends {
        assert!(s["ns"].as_f64().unwrap() > 0.0 && s["samples"] == 3 && s["diverged"] == 0, "{s}");
    }
    let program = records.iter().find(|r| r["type"] == "program").unwrap();
    assert!(program["verified_insns"].as_u64().unwrap() > 10, "{program}");
    assert_eq!(records.last().unwrap()["type"], "summary");
}

#[test]
fn the_baseline_gate_trips_on_injected_regressions_only() {
    let dir = tempfile::tempdir().unwrap();
    let spec = repo().join("specs/counter");
    let spec = spec.to_str().unwrap();
    let o = bench(dir.path(), &[spec, "--samples", "5", "--save-baseline", "main"]);
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    let file = dir.path().join(".xdptest/bench/main.json");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    // The same code against itself, with a generous limit: no regression.
    let o = bench(dir.path(), &[spec, "--samples", "5", "--baseline", "main", "--max-regression", "200%"]);
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    assert!(stdout(&o).contains("no regression beyond 200%"), "{}", stdout(&o));
    // Injected: the baseline says every send took a fifth of the time and the program verified
    // half the instructions.
    let mut faster = saved.clone();
    for s in faster["sends"].as_array_mut().unwrap() {
        for k in ["ns", "median_ns", "min_ns", "p90_ns"] {
            let v = s[k].as_f64().unwrap();
            s[k] = (v / 5.0).into();
        }
    }
    for (_, v) in faster["verified_insns"].as_object_mut().unwrap() {
        *v = (v.as_u64().unwrap() / 2).into();
    }
    std::fs::write(dir.path().join(".xdptest/bench/fast.json"), faster.to_string()).unwrap();
    let o = bench(dir.path(), &[spec, "--samples", "5", "--baseline", "fast", "--max-regression", "50%"]);
    assert_eq!(o.status.code(), Some(1), "{}", support::text(&o));
    let out = stdout(&o);
    assert!(out.contains("regressions beyond 50%:") || out.contains("regression beyond 50%:"), "{out}");
    assert!(out.contains("verified insns"), "{out}");
    assert!(out.contains("ns/packet"), "{out}");

    let o = bench(dir.path(), &[spec, "--baseline", "missing"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    let o = bench(dir.path(), &[spec, "--save-baseline", "../x"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A program with a queue or stack: its sends run and pass, but cannot be timed (their state cannot
/// be put back between timed runs), which is said, and is not a failure.
#[test]
fn sends_whose_maps_cannot_be_restored_are_said_untimed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = repo().join("specs/syn_dump");
    let o = bench(dir.path(), &[spec.to_str().unwrap(), "--samples", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    assert!(stdout(&o).contains("queue or stack map"), "{}", stdout(&o));
}

#[test]
fn failing_scenarios_are_not_timed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = repo().join("tests/specs/run/failing.pkt");
    let o = bench(dir.path(), &[spec.to_str().unwrap(), "--samples", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", support::text(&o));
    assert!(stdout(&o).contains("not timed: "), "{}", stdout(&o));
    assert!(stdout(&o).contains("this one passes#1"), "{}", stdout(&o));
}
