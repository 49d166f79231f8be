//! Snapshot reports end to end: the real binary on specs in temporary directories, against the real
//! programs on this kernel (root needed, like `xdptest run`). Writing, comparing, failing with a diff,
//! updating, never overwriting an accepted snapshot unasked, `xdptest review`, CI semantics, and
//! cargo-insta reading and accepting our files byte for byte.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{repo as root, text};

fn xdptest_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut x = support::xdptest().cwd(dir).args(args);
    for (k, v) in env {
        x = x.env(k, v);
    }
    x.output()
}

fn xdptest(dir: &Path, args: &[&str]) -> Output {
    xdptest_env(dir, args, &[])
}

fn object(name: &str) -> String {
    root().join("programs/build").join(format!("{name}.o")).display().to_string()
}

/// A UPF spec: an uplink scenario that asks for a snapshot, one that does not. `vlan_out` is the VID
/// the program writes: changing it changes the report but no expectation (the spec checks the action
/// only), the way a behaviour change slips past hand-written expectations.
fn upf_spec(vlan_out: u32) -> String {
    format!(
        "program \"{}\" xdp \"xdp_upf\"\n\
         packet uplink = ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01) / vlan(100)\n\
           / ipv4(src=192.168.10.1, dst=192.168.10.5, id=1212, df) / udp / gtpu(teid=2)\n\
           / ipv4(src=192.168.100.200, dst=192.168.30.1, id=1160, df) / icmp.echo_request(id=1, seq=1) / payload(\"abcd\")\n\
         map sessions[2] = {{ ue_ip: 192.168.100.200, vlan_out: {vlan_out}, src_mac: 00:00:5e:00:53:01, dst_mac: 00:00:5e:00:53:aa }}\n\
         ## The uplink, characterised: no hand-written output.\n\
         scenario \"uplink: decapsulated\" {{\n  send uplink\n  expect XDP_TX\n  expect snapshot\n}}\n\
         scenario \"unknown TEID\" {{\n  send uplink with gtpu.teid=9\n  expect XDP_DROP\n}}\n",
        object("upf")
    )
}

fn write_spec(dir: &Path, vlan_out: u32) {
    std::fs::write(dir.join("upf.pkt"), upf_spec(vlan_out)).unwrap();
}

fn snap(dir: &Path) -> PathBuf {
    dir.join("snapshots/upf__uplink-decapsulated.snap")
}

fn pending(dir: &Path) -> PathBuf {
    dir.join("snapshots/upf__uplink-decapsulated.snap.new")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn a_new_snapshot_is_pending_until_reviewed_then_checked() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), 300);
    let o = xdptest(dir.path(), &["run", "upf.pkt"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "outside CI a new snapshot is pending, not a failure: {t}");
    assert!(t.contains("new snapshot, pending review: snapshots/upf__uplink-decapsulated.snap.new"), "{t}");
    assert!(t.contains("snapshots: 1 snapshot pending review"), "{t}");
    assert!(!snap(dir.path()).exists());
    // Only the scenario that asks for a snapshot gets one.
    let files: Vec<_> =
        std::fs::read_dir(dir.path().join("snapshots")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(files.len(), 1, "{files:?}");

    // The report: insta's front matter, then what the program did, decoded.
    let new = read(&pending(dir.path()));
    assert!(
        new.starts_with(
            "---\nsource: upf.pkt\ndescription: \"The uplink, characterised: no hand-written output.\"\n\
             expression: \"uplink: decapsulated\"\n---\nprogram xdp_upf\n\nsend #1 → XDP_TX\n  output: 50 bytes\n"
        ),
        "{new}"
    );
    for needle in [
        "    vlan\n",
        "      vid = 300\n",
        "      dst = 192.168.30.1\n",
        "      data = 61626364\n",
        "  maps\n",
        "    stats[0]: 0 → 1 (per-CPU values summed)\n",
    ] {
        assert!(new.contains(needle), "missing {needle:?} in:\n{new}");
    }
    assert!(new.contains("      0000  00 00 5e 00 53 aa 00 00  5e 00 53 01 81 00 01 2c  ..^.S...^.S....,\n"), "{new}");
    // Deterministic: a second run (two workers) writes the same bytes.
    let again = xdptest(dir.path(), &["run", "upf.pkt", "-j", "2"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(read(&pending(dir.path())), new);

    let r = xdptest(dir.path(), &["review", ".", "--accept"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert!(text(&r).contains("accepted snapshots/upf__uplink-decapsulated.snap"), "{}", text(&r));
    assert_eq!(read(&snap(dir.path())), new, "accepting renames the pending file");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(snap(dir.path())).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "a snapshot is a source file, readable by all");
    assert!(!pending(dir.path()).exists());

    let o = xdptest(dir.path(), &["run", "upf.pkt"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(!t.contains("snapshot"), "nothing to say when the snapshot matches: {t}");
    assert!(!pending(dir.path()).exists());
}

#[test]
fn a_changed_report_fails_with_a_diff_and_leaves_the_accepted_snapshot_alone() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), 300);
    assert_eq!(xdptest(dir.path(), &["run", "upf.pkt", "--snapshots", "update"]).status.code(), Some(0));
    let accepted = read(&snap(dir.path()));

    // The program now writes another VID; the spec's own expectations still pass.
    write_spec(dir.path(), 301);
    let o = xdptest(dir.path(), &["run", "upf.pkt"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("FAIL upf.pkt::uplink: decapsulated"), "{t}");
    assert!(
        t.contains("snapshot snapshots/upf__uplink-decapsulated.snap: the report differs (- accepted, + now):"),
        "{t}"
    );
    assert!(t.contains("-       vid = 300"), "{t}");
    assert!(t.contains("+       vid = 301"), "{t}");
    assert!(t.contains("PASS upf.pkt::unknown TEID"), "{t}");
    assert_eq!(read(&snap(dir.path())), accepted, "an accepted snapshot is never overwritten unasked");
    assert!(read(&pending(dir.path())).contains("      vid = 301\n"));
    // A failing run again: still not overwritten, with CI set or not.
    let o = xdptest_env(dir.path(), &["run", "upf.pkt"], &[("CI", "true")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(read(&snap(dir.path())), accepted);

    // --accept (= --snapshots=update) takes the new report and removes the pending file.
    let o = xdptest(dir.path(), &["run", "upf.pkt", "--accept"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("snapshot written: snapshots/upf__uplink-decapsulated.snap"), "{t}");
    assert!(t.contains("snapshots: 1 snapshot accepted"), "{t}");
    assert!(read(&snap(dir.path())).contains("      vid = 301\n"));
    assert!(!pending(dir.path()).exists());

    // Back to the old behaviour with the snapshot of the new one: fails; a matching run removes a stale
    // pending file.
    write_spec(dir.path(), 300);
    assert_eq!(xdptest(dir.path(), &["run", "upf.pkt"]).status.code(), Some(1));
    assert!(pending(dir.path()).exists());
    write_spec(dir.path(), 301);
    assert_eq!(xdptest(dir.path(), &["run", "upf.pkt"]).status.code(), Some(0));
    assert!(!pending(dir.path()).exists(), "a pending report that no longer differs is removed");
    // --snapshots=off: no comparison at all.
    write_spec(dir.path(), 300);
    let o = xdptest(dir.path(), &["run", "upf.pkt", "--snapshots", "off"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!pending(dir.path()).exists());
}

#[test]
fn a_missing_snapshot_fails_in_ci() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), 300);
    let o = xdptest_env(dir.path(), &["run", "upf.pkt"], &[("CI", "true")]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("snapshot snapshots/upf__uplink-decapsulated.snap: none accepted yet"), "{t}");
    assert!(t.contains("+ program xdp_upf"), "the whole new report, as added lines: {t}");
    assert!(pending(dir.path()).exists(), "written for review (e.g. as a CI artifact)");
    // CI=false, like insta, is not CI.
    let o = xdptest_env(dir.path(), &["run", "upf.pkt"], &[("CI", "false")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn an_accepted_snapshot_is_checked_even_without_expect_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), 300);
    // --snapshots=new proposes a report for every scenario (characterising a suite), writes no .snap.
    let o = xdptest(dir.path(), &["run", "upf.pkt", "--snapshots", "new"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let other = dir.path().join("snapshots/upf__unknown-teid.snap.new");
    assert!(other.exists() && pending(dir.path()).exists());
    assert!(!snap(dir.path()).exists());
    assert!(
        read(&other)
            .contains("send #1 → XDP_DROP\n  output: the input, unchanged (86 bytes)\n  maps\n    stats[2]: 0 → 1"),
        "{}",
        read(&other)
    );
    // Interactive review, in file name order: accept the first (unknown TEID), reject the second.
    let mut child = Command::new(env!("CARGO_BIN_EXE_xdptest"))
        .args(["review", "upf.pkt"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"a\nr\n").unwrap();
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("snapshot 1 of 2: snapshots/upf__unknown-teid.snap"), "{t}");
    assert!(t.contains("scenario: unknown TEID"), "{t}");
    assert!(t.contains("new snapshot:\n+ program xdp_upf"), "{t}");
    assert!(t.contains("1 snapshot accepted, 1 rejected, 0 skipped"), "{t}");
    assert!(dir.path().join("snapshots/upf__unknown-teid.snap").exists());
    assert!(!pending(dir.path()).exists() && !snap(dir.path()).exists());

    // "unknown TEID" does not say `expect snapshot`, but its accepted snapshot is checked: once TEID 9
    // has a session, the program forwards instead of dropping.
    let spec = upf_spec(300).replace(
        "map sessions[2] =",
        "map sessions[9] = { ue_ip: 192.168.100.201, vlan_out: 5, src_mac: 00:00:5e:00:53:01, dst_mac: 00:00:5e:00:53:aa }\nmap sessions[2] =",
    );
    std::fs::write(dir.path().join("upf.pkt"), spec.replace("expect XDP_DROP", "")).unwrap();
    let o = xdptest(dir.path(), &["run", "upf.pkt"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("FAIL upf.pkt::unknown TEID"), "{t}");
    assert!(t.contains("- send #1 → XDP_DROP") && t.contains("+ send #1 → XDP_TX"), "{t}");
    // Rejecting a pending snapshot deletes it and leaves the accepted one.
    let o = xdptest(dir.path(), &["review", "--reject", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!dir.path().join("snapshots/upf__unknown-teid.snap.new").exists());
    assert!(read(&dir.path().join("snapshots/upf__unknown-teid.snap")).contains("XDP_DROP"));
    let o = xdptest(dir.path(), &["review", "."]);
    assert!(text(&o).contains("no pending snapshots"), "{}", text(&o));
}

/// cargo-insta (1.x) lists our pending files and accepts them into exactly the bytes `xdptest review`
/// would: our files are insta's format. cargo-insta needs a cargo project around the specs.
#[test]
fn cargo_insta_lists_and_accepts_our_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"specs\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    write_spec(&specs, 300);
    // A scenario name that needs YAML quoting and escapes.
    let spec = read(&specs.join("upf.pkt")).replace("\"unknown TEID\"", "\"unknown TEID: \\\"9\\\" # dropped\"");
    std::fs::write(specs.join("upf.pkt"), spec).unwrap();
    let o = xdptest(dir.path(), &["run", "specs", "--snapshots", "new"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pendings: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(specs.join("snapshots")).unwrap().flatten().map(|e| e.path()).collect();
        v.sort();
        v
    };
    assert_eq!(pendings.len(), 2, "{pendings:?}");
    let contents: Vec<String> = pendings.iter().map(|p| read(p)).collect();
    assert!(contents[0].contains("expression: \"unknown TEID: \\\"9\\\" # dropped\"\n"), "{}", contents[0]);

    let insta = |args: &[&str]| -> Output {
        match Command::new("cargo")
            .arg("insta")
            .args(args)
            .arg("--workspace-root")
            .arg(dir.path())
            .current_dir(dir.path())
            .output()
        {
            Ok(o) => o,
            Err(e) => panic!("cannot run cargo ({e})"),
        }
    };
    let o = insta(&["pending-snapshots", "--as-json"]);
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "`cargo insta` failed (install it: cargo install cargo-insta --locked):\n{}", text(&o));
    for p in &pendings {
        let accepted = p.with_extension("");
        assert!(listed.contains(&accepted.display().to_string()), "{} not listed:\n{listed}", accepted.display());
    }
    let o = insta(&["accept"]);
    assert!(o.status.success(), "{}", text(&o));
    for (p, before) in pendings.iter().zip(&contents) {
        assert!(!p.exists(), "{} still pending", p.display());
        assert_eq!(&read(&p.with_extension("")), before, "cargo insta accept rewrote {}", p.display());
    }
    // And xdptest checks what cargo-insta accepted.
    let o = xdptest_env(dir.path(), &["run", "specs"], &[("CI", "1")]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(!t.contains("snapshot"), "{t}");
}

/// The example suite's committed snapshots match (CI checks them with every `xdptest run`).
#[test]
fn committed_example_snapshots_match() {
    let o = xdptest_env(&root(), &["run", "specs/upf", "specs/printk", "-j", "2"], &[("CI", "true")]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(!t.contains("pending"), "{t}");
    let uplink = read(&root().join("specs/upf/snapshots/upf__uplink-icmp-is-decapsulated-and-sent-back-out.snap"));
    assert!(uplink.contains("      vid = 300\n") && uplink.contains("    stats[0]: 0 → 1"), "{uplink}");
}

/// A file without front matter where the snapshot belongs is not compared with an empty report (which
/// proposed to replace it): the scenario is an error that names the file, and the file is left alone.
#[test]
fn a_snap_file_without_front_matter_is_an_error_not_an_empty_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), 70);
    std::fs::create_dir_all(dir.path().join("snapshots")).unwrap();
    std::fs::write(snap(dir.path()), "hand-written notes\n").unwrap();
    let o = xdptest(dir.path(), &["run", "upf.pkt"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is not a snapshot file (it has no `---` front matter)"), "{}", text(&o));
    assert_eq!(read(&snap(dir.path())), "hand-written notes\n");
    assert!(!pending(dir.path()).exists());
}

/// `review --accept` leaves pending snapshots of scenarios that no longer exist (renamed, deleted),
/// says so, and `--reject` removes them.
#[test]
fn review_accept_skips_snapshots_of_deleted_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), 70);
    let o = xdptest(dir.path(), &["run", "upf.pkt"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(pending(dir.path()).exists());
    // The scenario is renamed: its pending snapshot belongs to nothing.
    let spec = upf_spec(70).replace("uplink: decapsulated", "uplink is decapsulated");
    std::fs::write(dir.path().join("upf.pkt"), spec).unwrap();
    let o = xdptest(dir.path(), &["review", "--accept", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("has no scenario it belongs to (remove it with --reject)"), "{}", text(&o));
    assert!(pending(dir.path()).exists() && !snap(dir.path()).exists());
    let o = xdptest(dir.path(), &["review", "--reject", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!pending(dir.path()).exists());
}

/// A snapshot whose scenario was renamed is reported (not silently kept): a warning by default,
/// a failure with --unreferenced=reject, removed with --unreferenced=delete.
#[test]
fn snapshots_of_deleted_scenarios_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), 70);
    assert_eq!(xdptest(dir.path(), &["run", "upf.pkt", "--accept"]).status.code(), Some(0));
    assert!(snap(dir.path()).exists());
    let o = xdptest(dir.path(), &["run", "upf.pkt"]);
    assert!(!text(&o).contains("to no scenario"), "{}", text(&o));
    let spec = upf_spec(70).replace("uplink: decapsulated", "uplink is decapsulated");
    std::fs::write(dir.path().join("upf.pkt"), spec).unwrap();
    let o = xdptest(dir.path(), &["run", "upf.pkt", "--snapshots", "off"]);
    assert!(!text(&o).contains("to no scenario"), "{}", text(&o));
    let o = xdptest(dir.path(), &["run", "upf.pkt"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("warning: 1 snapshot file belongs to no scenario"), "{}", text(&o));
    assert!(text(&o).contains("snapshots/upf__uplink-decapsulated.snap"), "{}", text(&o));
    let o = xdptest(dir.path(), &["run", "upf.pkt", "--unreferenced", "reject"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = xdptest(dir.path(), &["run", "upf.pkt", "--unreferenced", "delete"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!snap(dir.path()).exists());
    // The renamed scenario's own snapshot (written by --accept before) is referenced: kept.
    let o = xdptest(dir.path(), &["run", "upf.pkt", "--unreferenced", "reject"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
