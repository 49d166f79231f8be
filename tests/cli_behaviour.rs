//! The `xdptest` binary as a user meets it: exit codes (0 ok, 2 usage/input errors), all-or-nothing
//! output, deterministic output, and the layout of the output directory.

#[path = "../compiler/tests/specs/oracle.rs"]
mod oracle;

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{repo, stderr, text};
use xdptest_compiler::Fixture;

/// Runs `xdptest` in `cwd`.
fn xdptest<S: AsRef<std::ffi::OsStr>>(cwd: &Path, args: &[S]) -> Output {
    support::xdptest().cwd(cwd).args(args).output()
}

/// Every file under `dir` (hidden ones too), by path relative to `dir`, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The file names of a [`tree`], sorted as strings.
fn names(tree: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    let mut names: Vec<String> = tree.keys().map(|p| p.display().to_string()).collect();
    names.sort();
    names
}

/// A `program` line naming the counter program by absolute path, for specs written to temp dirs.
fn program_line() -> String {
    format!("program \"{}\" xdp \"xdp_counter\"\n", repo().join("programs/build/counter.o").display())
}

fn good_spec(scenario: &str) -> String {
    format!(
        "{}scenario \"{scenario}\" {{\n  send ether / ipv4 / udp(sport=1, dport=2)\n  expect XDP_PASS\n}}\n",
        program_line()
    )
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn check_on_the_repository_specs_exits_0() {
    oracle::ensure_programs(&repo());
    let out = xdptest(&repo(), &["check", "specs"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ok: "), "{}", text(&out));
    assert!(stdout.contains(" spec files, "), "{}", text(&out));
    // Without paths, `check` looks in specs/ of the working directory.
    let default = xdptest(&repo(), &["check"]);
    assert_eq!(default.status.code(), Some(0), "{}", text(&default));
    assert_eq!(default.stdout, out.stdout);
}

#[test]
fn check_writes_nothing() {
    oracle::ensure_programs(&repo());
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.pkt"), &good_spec("a"));
    let out = xdptest(dir.path(), &["check", "a.pkt"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(names(&tree(dir.path())), ["a.pkt"]);
}

#[test]
fn nonexistent_path_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/spec.pkt");
    let out = xdptest(dir.path(), &[Path::new("check"), &missing]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot read"), "{}", text(&out));
    assert!(err.contains("no/such/spec.pkt"), "{}", text(&out));

    let out_dir = dir.path().join("out");
    let out = xdptest(dir.path(), &[Path::new("compile"), &missing, Path::new("--out"), &out_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!out_dir.exists(), "the output directory was created");
}

#[test]
fn directory_without_specs_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let out = xdptest(dir.path(), &["check", "empty"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("no .pkt spec files under empty"), "{}", text(&out));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // `compile` needs --out.
    let out = xdptest(dir.path(), &["compile", "specs"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("--out"), "{}", text(&out));
    let out = xdptest(dir.path(), &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = xdptest(dir.path(), &["check", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn one_bad_spec_among_good_ones_writes_nothing() {
    oracle::ensure_programs(&repo());
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    write(&specs.join("a_good.pkt"), &good_spec("first"));
    write(&specs.join("sub/c_good.pkt"), &good_spec("third"));
    write(
        &specs.join("b_bad.pkt"),
        &format!("{}scenario \"second\" {{\n  send ether / ipv4(tll=3)\n  expect XDP_PASS\n}}\n", program_line()),
    );

    // A fresh output directory is not even created.
    let fresh = dir.path().join("fresh");
    let out = xdptest(dir.path(), &["compile", "specs", "--out", "fresh"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("specs/b_bad.pkt:3:21"), "{}", text(&out));
    assert!(err.contains("did you mean `ttl`?"), "{}", text(&out));
    assert!(err.contains("error: 1 error found"), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert!(tree(&fresh).is_empty(), "files written: {:?}", names(&tree(&fresh)));

    // An existing one keeps exactly what it had: no new file, no staging leftovers.
    let existing = dir.path().join("existing");
    write(&existing.join("old.txt"), "from an earlier run");
    let out = xdptest(dir.path(), &["compile", "specs", "--out", "existing"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(names(&tree(&existing)), ["old.txt"]);
}

#[test]
fn every_error_of_every_file_is_reported() {
    oracle::ensure_programs(&repo());
    let dir = tempfile::tempdir().unwrap();
    // An `expect` after a send that failed is not checked (no cascades): the bad action gets its own
    // scenario.
    let bad = |field: &str| {
        format!(
            "{}scenario \"s\" {{\n  send ether / ipv4({field}=1) / udp(sprot=1)\n  expect XDP_PASS\n}}\n\
             scenario \"t\" {{\n  send ether / ipv4\n  expect XDP_PAS\n}}\n",
            program_line()
        )
    };
    write(&dir.path().join("one.pkt"), &bad("tll"));
    write(&dir.path().join("two.pkt"), &bad("idd"));
    let out = xdptest(dir.path(), &["check", "one.pkt", "two.pkt"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    for loc in ["one.pkt:3:21", "one.pkt:3:34", "one.pkt:8:10", "two.pkt:3:21", "two.pkt:3:34", "two.pkt:8:10"] {
        assert!(err.contains(loc), "no error at {loc}:\n{}", text(&out));
    }
    assert!(err.contains("error: 6 errors found"), "{}", text(&out));
}

#[test]
fn compile_is_deterministic() {
    oracle::ensure_programs(&repo());
    let dir = tempfile::tempdir().unwrap();
    let run = |out_dir: &str| {
        let out = xdptest(
            &repo(),
            &[
                Path::new("compile"),
                Path::new("specs"),
                Path::new("compiler/tests/specs"),
                Path::new("--out"),
                &dir.path().join(out_dir),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        tree(&dir.path().join(out_dir))
    };
    let first = run("one");
    let second = run("two");
    assert!(first.len() > 10, "too few files: {:?}", names(&first));
    assert_eq!(names(&first), names(&second));
    for (path, bytes) in &first {
        assert!(second[path] == *bytes, "{} differs between runs", path.display());
    }
    // Compiling again into the same directory rewrites the same bytes.
    assert_eq!(run("one"), first);
}

#[test]
fn output_layout() {
    oracle::ensure_programs(&repo());
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    write(&specs.join("top.pkt"), &good_spec("Uplink: ICMP → decapsulated!"));
    write(
        &specs.join("nested/deeper/inner.pkt"),
        &format!(
            "{}## Documented.\nscenario \"first one\" {{\n  send ether / ipv4\n  expect XDP_PASS\n}}\n\
             scenario \"Second_One\" {{\n  send ether / ipv4\n  expect XDP_DROP\n}}\n",
            program_line()
        ),
    );
    // A library of packet definitions produces nothing.
    write(&specs.join("lib.pkt"), "packet p = ether / ipv4\n");
    // Hidden directories and snapshots/ are not searched.
    write(&specs.join(".hidden/x.pkt"), "this is not a spec");
    write(&specs.join("snapshots/y.pkt"), "neither is this");

    let out = xdptest(dir.path(), &["compile", "specs", "--out", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "compiled 3 scenarios from 3 spec files into out (3 fixtures, 2 captures)"
    );
    let files = tree(&dir.path().join("out"));
    assert_eq!(
        names(&files),
        [
            "nested/deeper/inner.pcapng",
            "nested/deeper/inner/first-one.ron",
            "nested/deeper/inner/second-one.ron",
            "top.pcapng",
            "top/uplink-icmp-decapsulated.ron",
        ]
    );
    let fixture =
        Fixture::from_ron(std::str::from_utf8(&files[Path::new("nested/deeper/inner/first-one.ron")]).unwrap())
            .expect("a fixture");
    assert_eq!(fixture.scenario, "first one");
    assert_eq!(fixture.description, "Documented.");
    assert_eq!(fixture.spec, "specs/nested/deeper/inner.pkt");
    assert_eq!(fixture.program.name, "xdp_counter");
    // pcapng section header block magic.
    assert_eq!(&files[Path::new("top.pcapng")][..4], &[0x0a, 0x0d, 0x0d, 0x0a]);

    // A file argument: the output is named after the file alone.
    let out = xdptest(dir.path(), &["compile", "specs/nested/deeper/inner.pkt", "--out", "single"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        names(&tree(&dir.path().join("single"))),
        ["inner.pcapng", "inner/first-one.ron", "inner/second-one.ron"]
    );
}

/// Regression: outputs with the same path were detected only while writing, after part of the output
/// was in place. Scenario names that slug to the same file name are a located compile error, two specs
/// with the same relative path are refused before writing, and a directory given twice is one input.
#[test]
fn colliding_output_paths_are_refused_before_writing() {
    oracle::ensure_programs(&repo());
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("slug/s.pkt"),
        &format!(
            "{}scenario \"a b\" {{\n  send ether / ipv4\n  expect XDP_PASS\n}}\n\
             scenario \"a-b\" {{\n  send ether / ipv4 / udp\n  expect XDP_DROP\n}}\n",
            program_line()
        ),
    );
    let out = xdptest(dir.path(), &["compile", "slug", "--out", "out1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("scenarios \"a b\" and \"a-b\" would both compile to a-b.ron"), "{}", text(&out));
    assert!(stderr(&out).contains("s.pkt:"), "{}", text(&out));
    assert!(tree(&dir.path().join("out1")).is_empty());

    write(&dir.path().join("a/x.pkt"), &good_spec("one"));
    write(&dir.path().join("b/x.pkt"), &good_spec("two"));
    let out = xdptest(dir.path(), &["compile", "a/x.pkt", "b/x.pkt", "--out", "out2"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("a/x.pkt and b/x.pkt would both write x.pcapng"), "{}", text(&out));
    assert!(tree(&dir.path().join("out2")).is_empty());

    let out = xdptest(dir.path(), &["compile", "a", "a", "--out", "out3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(names(&tree(&dir.path().join("out3"))), ["x.pcapng", "x/one.ron"]);
}

/// `xdptest ARGS` in a shell pipeline (`| true`, `2>&1 | head -1`): the reader goes away early.
fn piped(args: &str, pipe: &str) -> (i32, String) {
    let exe = env!("CARGO_BIN_EXE_xdptest");
    let script = format!("{exe} {args} {pipe}; echo \"status=${{PIPESTATUS[0]}}\" >&2");
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&o);
    let status = err.rsplit("status=").next().and_then(|s| s.trim().parse().ok()).expect("status");
    (status, err)
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    support::build_programs();
    for (args, pipe, code) in [
        ("check specs", "| true", 0),
        ("check specs 2>&1", "| head -c1 >/dev/null", 0),
        ("run specs/icmp_echo specs/counter 2>&1", "| true", 0),
        ("run specs/icmp_echo --format json", "| head -c 10 >/dev/null", 0),
        ("explain specs/icmp_echo/icmp_echo.pkt::'echo request is answered'", "| true", 0),
    ] {
        let (status, err) = piped(args, pipe);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args} {pipe}: {err}");
        assert_eq!(status, code, "{args} {pipe}: {err}");
    }
}

#[test]
fn environment_variables_with_meaningless_values_are_usage_errors() {
    for (var, value) in [
        ("XDPTEST_VM_TIMEOUT_SCALE", "inf"),
        ("XDPTEST_VM_TIMEOUT_SCALE", "NaN"),
        ("XDPTEST_VM_TIMEOUT_SCALE", "-2"),
        ("XDPTEST_VM_ACCEL", "fast"),
        ("XDPTEST_ALLOW_PATH", "/nonexistent"),
    ] {
        let o = support::xdptest().env(var, value).args(["check", "specs"]).output();
        assert_eq!(o.status.code(), Some(2), "{var}={value}");
        let err = stderr(&o);
        assert!(err.contains(&format!("error: {var}={value} is not valid: it takes")), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = support::xdptest().env("XDPTEST_VM_TIMOUT_SCALE", "2").args(["check", "specs"]).output();
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("did you mean XDPTEST_VM_TIMEOUT_SCALE?"), "{}", stderr(&o));
}

#[test]
fn specs_read_only_inside_their_repository_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("s.pkt");
    std::fs::write(
        &spec,
        format!("{}scenario \"s\" {{\n  send ether / ipv4 / udp\n  expect XDP_PASS\n}}\n", program_line()),
    )
    .unwrap();
    let o = support::xdptest().env_remove("XDPTEST_ALLOW_PATH").arg("check").arg(&spec).output();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    // (miette wraps the message where the temporary path's length puts it.)
    let flat = err.split_whitespace().filter(|w| *w != "│").collect::<Vec<_>>().join(" ");
    assert!(flat.contains("it is outside the directories specs may read") && err.contains("s.pkt:1:9]"), "{err}");
    let o = support::xdptest()
        .env_remove("XDPTEST_ALLOW_PATH")
        .arg("check")
        .arg(&spec)
        .arg("--allow-path")
        .arg(repo())
        .output();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Inside the repository, objects beside the specs are read as before.
    let o = support::xdptest().env_remove("XDPTEST_ALLOW_PATH").args(["check", "specs"]).output();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A spec of `n` scenarios whose payloads are filled with `fill`, for outputs that take a while.
fn many_scenarios(n: usize, fill: u8) -> String {
    let mut s = program_line();
    for i in 0..n {
        s.push_str(&format!(
            "scenario \"s{i}\" {{\n  send ether / ipv4 / udp(sport={}) / payload(len=64, fill={fill})\n  expect XDP_PASS: input\n}}\n",
            i % 60000 + 1
        ));
    }
    s
}

/// SIGKILL and SIGINT at any moment of `compile --out` leave the old output or the new one, never a
/// mix; a staging directory a killed run left is removed by the next run (and only then: its owner is
/// dead), and an interrupt removes its own.
#[test]
fn compile_output_is_replaced_all_at_once_whenever_it_is_killed() {
    oracle::ensure_programs(&repo());
    let dir = tempfile::tempdir().unwrap();
    const N: usize = 1500;
    let spec = dir.path().join("big.pkt");
    write(&spec, &many_scenarios(N, 1));
    assert!(xdptest(dir.path(), &["compile", "big.pkt", "--out", "out"]).status.success());
    let old = tree(&dir.path().join("out"));
    write(&spec, &many_scenarios(N, 2));
    let start = std::time::Instant::now();
    assert!(xdptest(dir.path(), &["compile", "big.pkt", "--out", "expected"]).status.success());
    let took = start.elapsed();
    let new = tree(&dir.path().join("expected"));
    assert_ne!(old, new);
    let exe = env!("CARGO_BIN_EXE_xdptest");
    let staging = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(".xdptest-staging-"))
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    // Signals spread over a whole compile (most of it writing files), and into the removal of the old
    // output after the exchange.
    for (i, share) in [0.2, 0.5, 0.8, 0.95, 1.05, 1.2, 1.1, 1.3].into_iter().enumerate() {
        let delay = took.mul_f64(share);
        let mut child = std::process::Command::new(exe)
            .args(["compile", "big.pkt", "--out", "out"])
            .current_dir(dir.path())
            .env("XDPTEST_ALLOW_PATH", repo())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let signal = if i % 2 == 0 { libc::SIGKILL } else { libc::SIGINT };
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        let now = tree(&dir.path().join("out"));
        assert!(now == old || now == new, "a mix after a signal at {delay:?} ({} files)", now.len());
        seen.insert(if now == old { "old" } else { "new" });
        if signal == libc::SIGINT && status.code().is_some() {
            assert!(staging().is_empty(), "an interrupted compile left {:?}", staging());
        }
        // Put the old output back for the next round.
        if now == new {
            std::fs::remove_dir_all(dir.path().join("out")).unwrap();
            write(&spec, &many_scenarios(N, 1));
            assert!(xdptest(dir.path(), &["compile", "big.pkt", "--out", "out"]).status.success());
            write(&spec, &many_scenarios(N, 2));
        }
    }
    // The next run removes what the killed ones left, and writes the new output.
    assert!(xdptest(dir.path(), &["compile", "big.pkt", "--out", "out"]).status.success());
    assert_eq!(tree(&dir.path().join("out")), new);
    assert!(staging().is_empty(), "left behind: {:?}", staging());
    eprintln!("outputs seen after signals: {seen:?}");
}

#[test]
fn compile_refuses_to_replace_a_directory_it_did_not_write() {
    oracle::ensure_programs(&repo());
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("s.pkt"), &many_scenarios(2, 1));
    write(&dir.path().join("src/main.c"), "int main;");
    let out = xdptest(dir.path(), &["compile", "s.pkt", "--out", "src"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("holds files xdptest compile did not write"), "{}", stderr(&out));
    assert_eq!(names(&tree(&dir.path().join("src"))), ["main.c"]);
}

/// `list` selects exactly what `run` runs with the same flags; completions and the man page cover
/// every command.
#[test]
fn list_completions_and_man_page() {
    support::build_programs();
    let o = xdptest(&repo(), &["list", "specs", "--filter", "upf.pkt::uplink", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let names: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "scenario")
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!names.is_empty() && names.iter().all(|n| n.contains("upf.pkt::uplink")), "{names:?}");
    let o = xdptest(&repo(), &["run", "specs", "--filter", "upf.pkt::uplink", "--format", "json"]);
    let ran: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "scenario")
        .map(|v| format!("{}::{}", v["spec"].as_str().unwrap(), v["scenario"].as_str().unwrap()))
        .collect();
    assert_eq!(names, ran);
    // Partitions list disjoint shards that cover the suite.
    let shard = |i: u32| {
        let o = xdptest(&repo(), &["list", "specs", "--partition", &format!("{i}/3")]);
        String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect::<Vec<_>>()
    };
    let all = xdptest(&repo(), &["list", "specs"]);
    let mut shards: Vec<String> = (1..=3).flat_map(shard).collect();
    shards.sort();
    let mut whole: Vec<String> = String::from_utf8_lossy(&all.stdout).lines().map(str::to_string).collect();
    whole.sort();
    assert_eq!(shards, whole);
    let o = xdptest(&repo(), &["list", "specs", "--filter", "no such scenario"]);
    assert_eq!(o.status.code(), Some(2));
    // A typo gets the closest name (case does not count).
    let o = xdptest(&repo(), &["list", "specs", "--filter", "Echo Reqest is answerd"]);
    assert!(stderr(&o).contains("did you mean \"echo request is answered\"?"), "{}", stderr(&o));
    let o = xdptest(&repo(), &["run", "specs/icmp_echo", "--filter", "echo reply pases"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean \"echo reply passes\"?"), "{}", stderr(&o));
    // A filter matches part of a name, so a typo of one word (or a few) finds that word.
    let o = xdptest(&repo(), &["run", "specs/icmp_echo", "--filter", "CHEKSUM"]);
    assert!(
        stderr(&o).contains("did you mean \"checksum\" (as in \"a bad checksum is not repaired\")?"),
        "{}",
        stderr(&o)
    );
    let o = xdptest(&repo(), &["explain", "specs/icmp_echo/icmp_echo.pkt::ecoh reply"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("help: did you mean \"echo reply\" (as in \"echo reply passes\")?"), "{}", stderr(&o));
    // Commands and flags, whatever their case: the same did-you-mean, where clap's finds nothing.
    for (args, tip) in [
        (&["RUN"][..], "a similar subcommand exists: 'run'"),
        (&["Check", "specs"][..], "a similar subcommand exists: 'check'"),
        (&["run", "--FAIL-FAST", "specs"][..], "a similar argument exists: '--fail-fast'"),
        (&["list", "--Filter=x", "specs"][..], "a similar argument exists: '--filter'"),
        (&["run", "--kernel", "debain:6.1", "specs"][..], "did you mean 'debian:'?"),
    ] {
        let o = xdptest(&repo(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(tip), "{args:?}: {}", stderr(&o));
    }
    // Completions and the man page name every command.
    let bash = String::from_utf8_lossy(&xdptest(&repo(), &["completions", "bash"]).stdout).into_owned();
    let man = String::from_utf8_lossy(&xdptest(&repo(), &["man"]).stdout).into_owned();
    for cmd in ["check", "compile", "run", "list", "review", "explain", "completions", "man"] {
        assert!(bash.contains(&format!("xdptest__{cmd}")) || bash.contains(&format!("xdptest,{cmd}")), "bash: {cmd}");
        assert!(man.contains(&format!("xdptest\\-{cmd}")), "man: {cmd}");
    }
    let syntax =
        std::process::Command::new("bash").arg("-n").stdin(std::process::Stdio::piped()).spawn().and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bash.as_bytes())?;
            c.wait()
        });
    assert!(syntax.unwrap().success(), "the bash completion script parses");
}

/// `init` writes a starter spec for every example program that `check` accepts as written; it
/// never overwrites a file, and asks for --program when an object has several.
#[test]
fn init_writes_a_spec_that_checks() {
    support::build_programs();
    let dir = tempfile::tempdir().unwrap();
    let objects: Vec<PathBuf> = std::fs::read_dir(repo().join("programs/build"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    assert!(objects.len() >= 10);
    let mut written = 0;
    for obj in &objects {
        let name = obj.file_stem().unwrap().to_str().unwrap();
        let out = dir.path().join(format!("{name}.pkt"));
        let o = xdptest(&repo(), &[Path::new("init"), obj, Path::new("--out"), &out]);
        if stderr(&o).contains("several XDP programs") {
            // Pick the first it names.
            let err = stderr(&o);
            let first = err.split("programs: ").nth(1).unwrap().split(' ').next().unwrap().to_string();
            let o =
                xdptest(&repo(), &[Path::new("init"), obj, Path::new("-p"), Path::new(&first), Path::new("-o"), &out]);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        } else {
            assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        }
        written += 1;
    }
    let o = xdptest(dir.path(), &["check", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("ok: {written} spec files")), "{}", text(&o));
    // An existing file is left alone.
    let again = xdptest(&repo(), &[Path::new("init"), &objects[0], Path::new("-o"), &dir.path().join("counter.pkt")]);
    assert_eq!(again.status.code(), Some(2));
}

/// `xdptest.toml` above the specs gives defaults (flags win) and named selections; a typo in it is an
/// error located in the file.
#[test]
fn project_config_gives_defaults_and_aliases() {
    oracle::ensure_programs(&repo());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let specs = dir.path().join("specs");
    let body =
        |n: &str, action: &str| format!("scenario \"{n}\" {{\n  send ether / ipv4 / udp\n  expect {action}\n}}\n");
    write(
        &specs.join("s.pkt"),
        &format!(
            "{}{}{}{}",
            program_line(),
            body("bad one", "XDP_DROP"),
            body("bad two", "XDP_DROP"),
            body("good", "XDP_PASS")
        ),
    );
    write(&dir.path().join("xdptest.toml"), "[run]\njobs = 1\nmax_fail = 1\n\n[aliases]\nsmoke = [\"::good\"]\n");
    let names = |o: &Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("{\"type\":\"scenario\""))
            .map(str::to_string)
            .collect()
    };
    // The alias selects, in list and run alike.
    let o = xdptest(&specs, &["list", ".", "--filter", "@smoke"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "./s.pkt::good", "{}", text(&o));
    // max_fail = 1 from the file stops the run early; --max-fail on the command line wins.
    let o = xdptest(&specs, &["run", ".", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"stopped_at_max_fail\":true"), "{}", text(&o));
    let o = xdptest(&specs, &["run", ".", "--format", "json", "--max-fail", "5"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"stopped_at_max_fail\":false"), "{}", text(&o));
    assert_eq!(names(&o).len(), 3);
    // Mistakes in the file are located; unknown aliases get a did-you-mean.
    let o = xdptest(&specs, &["run", ".", "--filter", "@smok"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no selection alias @smok; did you mean @smoke?"), "{}", stderr(&o));
    write(&dir.path().join("xdptest.toml"), "[run]\njbos = 1\n");
    let o = xdptest(&specs, &["run", "."]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("xdptest.toml:2:1: unknown field `jbos`"), "{}", stderr(&o));
}

/// `--exclude` and `--expr` narrow what `--filter` selects, the same in `list` and `run`.
#[test]
fn exclude_and_expressions_select_scenarios() {
    support::build_programs();
    let listed = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["list", "specs"];
        a.extend_from_slice(args);
        let o = xdptest(&repo(), &a);
        String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()
    };
    let upf = listed(&["-f", "upf.pkt::"]);
    let no_uplink = listed(&["-f", "upf.pkt::", "-x", "uplink"]);
    assert!(!no_uplink.is_empty() && no_uplink.len() < upf.len());
    assert!(no_uplink.iter().all(|n| !n.contains("uplink")));
    assert_eq!(listed(&["-E", "spec(upf.pkt) and not name(uplink)"]), no_uplink);
    // Exact values, `or`, and programs by function name.
    let counter = listed(&["-E", "program(=xdp_counter)"]);
    assert!(!counter.is_empty() && counter.iter().all(|n| n.starts_with("specs/counter/")), "{counter:?}");
    let both = listed(&["-E", "program(=xdp_counter) | spec(icmp_echo)"]);
    assert_eq!(both.len(), counter.len() + listed(&["-f", "icmp_echo.pkt::"]).len());
    // `run` selects the same.
    let o = xdptest(&repo(), &["run", "specs", "-E", "spec(upf.pkt) and not name(uplink)", "--format", "json"]);
    let ran = String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.contains("\"type\":\"scenario\"")).count();
    assert_eq!(ran, no_uplink.len());
    // A malformed expression is a usage error that says where.
    let o = xdptest(&repo(), &["list", "specs", "-E", "spec(upf) nand name(x)"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("at character 11"), "{}", stderr(&o));
}
