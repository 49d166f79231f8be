//! `clock` and `random`: scenarios set what the program's clocks and `bpf_get_prandom_u32` return,
//! through copies of the programs whose helper calls read the scenario's values. Proven on the
//! example rate limiter, whose verdicts depend on both, and on what is refused.

mod support;

use std::path::Path;

use support::{build_programs, repo as root, text, xdptest};

/// The rate limiter spec, with `edit` applied, written into `dir` (naming the repository's object).
fn ratelimit(dir: &Path, edit: (&str, &str)) -> std::path::PathBuf {
    let spec = std::fs::read_to_string(root().join("specs/ratelimit/ratelimit.pkt")).unwrap();
    assert!(spec.contains(edit.0), "{}", edit.0);
    let object = root().join("programs/build/ratelimit.o");
    let text = spec
        .replace(edit.0, edit.1)
        .replace("\"../../programs/build/ratelimit.o\"", &format!("\"{}\"", object.display()));
    let path = dir.join("ratelimit.pkt");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(dir: &Path, spec: &Path, extra: &[&str]) -> std::process::Output {
    xdptest()
        .env("XDPTEST_ALLOW_PATH", format!("{}:{}", root().display(), dir.display()))
        .arg("run")
        .arg(spec)
        .args(extra)
        .output()
}

/// The verdicts follow the spec's clock and random numbers: the example passes, and moving the clock
/// too little, or giving a random number that is no multiple of 64, fails exactly the checks that
/// depend on them (the kernel's own clock and generator would pass neither reliably).
#[test]
fn verdicts_follow_the_specs_clock_and_random_numbers() {
    build_programs();
    let o = xdptest().args(["run", "specs/ratelimit"]).output();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let spec = ratelimit(dir.path(), ("clock +1000us", "clock +300us"));
    let o = run(dir.path(), &spec, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("1 passed") || out.contains("3 passed"), "{out}");
    assert!(out.contains("FAIL") && out.contains("the bucket refills with time"), "{out}");
    assert!(out.contains("action: expected XDP_PASS, got XDP_DROP"), "333.3 ms earn nothing: {out}");
    let spec = ratelimit(dir.path(), ("random 128", "random 127"));
    let o = run(dir.path(), &spec, &["-f", "sampled"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("stats[1]") && out.contains("expected 1, got 0"), "{out}");
}

/// A clock that never was set reads the kernel's: a scenario without `clock` in a spec that has one
/// elsewhere still runs the program on real time (its burst passes as it would unmodified).
#[test]
fn scenarios_that_set_nothing_read_the_kernels_clock() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let spec = ratelimit(
        dir.path(),
        (
            "# ANCHOR: random",
            "## Real time and real chance.\nscenario \"unset\" {\n  send from_a\n  expect XDP_PASS: input\n}\n\n# ANCHOR: random",
        ),
    );
    let o = run(dir.path(), &spec, &["-f", "unset"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Counted copies read the same clock: coverage of the rate limiter is measured for every scenario
/// (the trust gate agrees) and reaches all three ways it returns.
#[test]
fn coverage_of_a_program_on_the_specs_clock() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let o = xdptest()
        .args(["run", "specs/ratelimit", "--coverage"])
        .arg(dir.path())
        .args(["--min-coverage", "lines=100,verdicts=100"])
        .output();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains("without coverage"), "{out}");
    assert!(out.contains("verdict paths 3/3"), "{out}");
}

/// The clock and the random numbers show where reports tell a scenario's steps: `explain` and the
/// scenario pages.
#[test]
fn reports_say_what_the_clock_read() {
    build_programs();
    let o = xdptest().args(["explain", "specs/ratelimit/ratelimit.pkt::the bucket refills with time"]).output();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("the clock reads 10s (specs/ratelimit/ratelimit.pkt:"), "{out}");
    assert!(out.contains("the clock moves on 333ms") && out.contains("the clock moves on 1ms"), "{out}");
    assert!(out.contains("bpf_get_prandom_u32() returns 1"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let o = xdptest().args(["doc", "specs/ratelimit", "--out"]).arg(dir.path().join("pages")).output();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let page = std::fs::read_to_string(dir.path().join("pages/ratelimit.md")).unwrap();
    assert!(page.contains("**Then:** the clock moves on 333ms."), "{page}");
}

/// What would change nothing, or cannot be returned, is refused with a located error (exit 2): a
/// clock for a program that reads none, a random number past 32 bits, a duration without its unit.
#[test]
fn what_changes_nothing_is_refused() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let firewall = root().join("programs/build/firewall.o");
    let cases = [
        (
            "clock 5s",
            "xdptest::compile::helper_not_called",
            "`clock` changes nothing: the object never calls bpf_ktime_get_ns",
        ),
        (
            "random 3",
            "xdptest::compile::helper_not_called",
            "`random` changes nothing: the object never calls bpf_get_prandom_u32",
        ),
        ("clock 5", "xdptest::syntax", "expected `ms`, `ns`, `s` or `us`"),
    ];
    for (stmt, code, message) in cases {
        let spec = dir.path().join("bad.pkt");
        std::fs::write(
            &spec,
            format!(
                "program \"{}\" xdp \"xdp_firewall\"\nscenario \"s\" {{\n  {stmt}\n  send ether / ipv4 / udp\n}}\n",
                firewall.display()
            ),
        )
        .unwrap();
        let o = xdptest()
            .env("XDPTEST_ALLOW_PATH", format!("{}:{}", root().display(), dir.path().display()))
            .arg("check")
            .arg(&spec)
            .output();
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{stmt}: {out}");
        assert!(out.contains(code) && out.contains(message), "{stmt}: {out}");
        assert!(out.contains("bad.pkt:3:"), "{stmt}: located: {out}");
    }
    let spec = ratelimit(dir.path(), ("random 129", "random 4294967296"));
    let o = xdptest()
        .env("XDPTEST_ALLOW_PATH", format!("{}:{}", root().display(), dir.path().display()))
        .arg("check")
        .arg(&spec)
        .output();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("does not fit what `bpf_get_prandom_u32()` returns"), "{}", text(&o));
}
