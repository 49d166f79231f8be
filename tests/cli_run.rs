//! End-to-end tests of `xdptest run`: the real binary, the real programs in `programs/`, this kernel.
//! They need root (CI runs as root), like the tool itself.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use support::{build_programs, repo as root, text};

fn xdptest(args: &[&str]) -> Output {
    support::run(args)
}

#[test]
fn example_specs_all_pass() {
    let o = xdptest(&["run"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains(" 0 failed, 0 skipped"), "{t}");
    assert!(!t.contains("FAIL") && !t.contains("ERROR"), "{t}");
}

#[test]
fn failures_list_every_difference_and_exit_1() {
    let o = xdptest(&["run", "tests/specs/run/failing.pkt", "--color", "never"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    for needle in [
        "vlan.vid: expected 301, got 300",
        "ipv4.ttl: expected 63, got 64",
        "action: expected XDP_PASS, got XDP_DROP",
        "map stats[0] differs:",
        "value: expected 2, got 1",
        "ue_ip: expected 192.168.100.201, got 192.168.100.200",
        "vlan_out: expected 301, got 300",
        "map sessions[3]: expected an entry, there is none",
        "map sessions[2]: expected no entry, found",
        "failing.pkt:11:3:",
        "PASS tests/specs/run/failing.pkt::this one passes",
        "xdptest: 1 passed, 3 failed, 0 skipped",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
    // The hexdump marks the differing bytes.
    assert!(t.contains("^^"), "{t}");
}

/// The repository's own specs are true on this kernel (CI also runs them on Debian's kernels in VMs).
#[test]
fn the_repository_specs_pass_on_this_kernel() {
    let o = xdptest(&["run", "specs", "--color", "never"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains(" 0 failed, 0 skipped"), "{t}");
}

#[test]
fn differences_in_tcp_ipv6_and_tunnels_are_named_by_field() {
    let o = xdptest(&["run", "tests/specs/run/failing_families.pkt", "--color", "never"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    for needle in [
        // The outer header of IPv6-in-IPv6 is `ipv6:1`.
        "ipv6:1.hlim: expected 63, got 64",
        "ipv6:1.dst: expected 2001:db8:1::2, got 2001:db8:1::1",
        // Flags by name, options by their views.
        "tcp.flags: expected syn|ack, got syn",
        "tcp.mss: expected 1400, got 1460",
        // An IPv6 address in a map value (`union { __be32 v4; __be32 v6[4]; }`) reads as one.
        "addr: expected 2001:db8:1::3, got 2001:db8:1::2",
        "xdptest: 0 passed, 2 failed, 0 skipped",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
}

#[test]
fn logged_resets_leave_no_state_behind() {
    // The logging copy at once (it is otherwise built once full resets cost a load, which four
    // scenarios never reach): the spec fails if a reset misses a looked-up, written or overflowed key.
    for jobs in ["1", "2"] {
        let o = support::xdptest()
            .args(["run", "tests/specs/run/isolation_logged.pkt", "-j", jobs])
            .env("XDPTEST_KEYLOG", "eager")
            .output();
        assert_eq!(o.status.code(), Some(0), "jobs {jobs}: {}", text(&o));
    }
}

#[test]
fn no_scenario_sees_another_scenarios_maps() {
    for jobs in ["1", "2"] {
        let o = xdptest(&[
            "run",
            "tests/specs/run/isolation.pkt",
            "tests/specs/run/isolation_devmap.pkt",
            "tests/specs/run/isolation_logged.pkt",
            "-j",
            jobs,
        ]);
        assert_eq!(o.status.code(), Some(0), "jobs {jobs}: {}", text(&o));
    }
}

#[test]
fn json_lines_follow_the_versioned_schema() {
    let o = xdptest(&["run", "tests/specs/run/failing.pkt", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let records = support::json_records(&stdout);
    let kinds: Vec<&str> = records.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["run", "scenario", "scenario", "scenario", "scenario", "summary"]);
    assert!(records.iter().all(|r| r["version"] == 1));
    let first = &records[1];
    assert_eq!(first["scenario"], "wrong output fields");
    assert_eq!(first["status"], "fail");
    assert_eq!(first["location"], "tests/specs/run/failing.pkt:10:10");
    assert!(first["duration_us"].is_u64());
    let diff = &first["failures"][0]["fields"];
    assert!(
        diff.as_array().unwrap().iter().any(|f| f["layer"] == "vlan" && f["field"] == "vid" && f["got"] == "300"),
        "{diff}"
    );
    let action = records
        .iter()
        .flat_map(|r| r["failures"].as_array().cloned().unwrap_or_default())
        .find(|f| f["kind"] == "action")
        .unwrap();
    assert_eq!((action["expected_name"].as_str(), action["got_name"].as_str()), (Some("XDP_PASS"), Some("XDP_DROP")));
    assert_eq!(records[4]["status"], "pass");
    assert_eq!(records[4]["runs"][0]["action_name"], "XDP_TX");
    assert!(records[4]["runs"][0]["output"].as_str().unwrap().len() > 20);
    let summary = &records[5];
    assert_eq!(
        (summary["passed"].as_u64(), summary["failed"].as_u64(), summary["exit_code"].as_u64()),
        (Some(1), Some(3), Some(1))
    );
    // The schema (closed) accepts the real output, and rejects a record with one property too many.
    support::check_schema("book/src/reference/run.schema.json", &stdout).unwrap();
    let mut mutated: serde_json::Value = records[4].clone();
    mutated["surprise"] = serde_json::json!(1);
    let err = support::check_schema("book/src/reference/run.schema.json", &format!("{mutated}\n")).unwrap_err();
    assert!(err.contains("line 1"), "{err}");
    let mut renamed = records[4].clone();
    renamed["runs"][0]["action"] = serde_json::json!("XDP_TX");
    assert!(support::check_schema("book/src/reference/run.schema.json", &format!("{renamed}\n")).is_err());
}

#[test]
fn errors_in_json_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("missing_map.pkt");
    std::fs::write(
        &spec,
        format!(
            "program \"{}\" xdp \"xdp_counter\"\nenv {{\n  link eth0 veth peer eth0p\n}}\nscenario \"s\" {{\n  send ether / ipv4 / udp ingress 4000000\n  expect XDP_PASS\n}}\n",
            root().join("programs/build/counter.o").display()
        ),
    )
    .unwrap();
    let o = xdptest(&["run", spec.to_str().unwrap(), "--format", "json"]);
    let stdout = String::from_utf8(o.stdout).unwrap();
    support::check_schema("book/src/reference/run.schema.json", &stdout).unwrap();
    let records = support::json_records(&stdout);
    let error = &records[1]["error"];
    assert_eq!(records[1]["status"], "error", "{stdout}");
    assert!(["context", "test_run"].contains(&error["kind"].as_str().unwrap()), "{error}");
    // ENODEV: no interface has that index in the stage.
    assert_eq!(error["os"]["errno"], 19, "{error}");
    assert!(error["location"].as_str().unwrap().ends_with("missing_map.pkt:6:3"), "{error}");
    assert_eq!(records.last().unwrap()["exit_code"], 2);
}

/// Regression: interface names in map entries travelled as magic numbers (0x7ff00000 + n) that the
/// runner looked for in every aligned word, so a real value in that range was rewritten; `explain`
/// replaced the number's text.
#[test]
fn values_in_the_old_placeholder_range_stay_numbers() {
    let o = xdptest(&["run", "tests/specs/run/iface_slots.pkt"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = xdptest(&["explain", "tests/specs/run/iface_slots.pkt::placeholder"]);
    let t = text(&o);
    assert!(t.contains("route_stats[0] = per_cpu [2146435072]"), "{t}");
    assert!(t.contains("tx_ports[eth1] = eth1"), "{t}");
}

#[test]
fn junit_is_valid_xml_with_a_case_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("report.xml");
    let o = xdptest(&["run", "tests/specs/run/failing.pkt", "specs/firewall", "--junit", junit.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // An independent parser: Python's ElementTree.
    let script = "import sys, xml.etree.ElementTree as ET\n\
                  r = ET.parse(sys.argv[1]).getroot()\n\
                  cases = r.findall('./testsuite/testcase')\n\
                  print(len(r.findall('./testsuite')), len(cases), sum(1 for c in cases if c.find('failure') is not None), r.get('failures'))";
    let py = Command::new("python3").args(["-c", script]).arg(&junit).output().expect("python3 runs");
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), "2 13 3 3");
    support::assert_strict_junit(&junit);
    // A scenario that cannot run (an error) and a testcase time: still within the rules.
    let o = xdptest(&["run", "tests/specs/run/refused_devmap.pkt", "--junit", junit.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<error"), "{xml}");
    support::assert_strict_junit(&junit);
}

fn names_in(args: &[&str]) -> BTreeSet<String> {
    let mut a = vec!["run", "specs", "--format", "json"];
    a.extend_from_slice(args);
    let o = xdptest(&a);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "scenario")
        .map(|v| format!("{}::{}", v["spec"].as_str().unwrap(), v["scenario"].as_str().unwrap()))
        .collect()
}

#[test]
fn partitions_cover_the_suite_exactly_once() {
    let all = names_in(&[]);
    assert!(all.len() > 20);
    for kind in ["count", "hash"] {
        let mut seen = BTreeSet::new();
        let mut total = 0;
        for i in 1..=3 {
            let shard = names_in(&["--partition", &format!("{kind}:{i}/3")]);
            total += shard.len();
            seen.extend(shard);
        }
        assert_eq!(total, all.len(), "{kind}: a scenario ran twice");
        assert_eq!(seen, all, "{kind}: a scenario never ran");
    }
}

#[test]
fn filters_select_by_name() {
    let names = names_in(&["--filter", "firewall.pkt::", "--filter", "echo reply"]);
    assert!(names.iter().all(|n| n.contains("firewall.pkt::") || n.contains("echo reply")), "{names:?}");
    assert_eq!(names.iter().filter(|n| n.contains("echo reply")).count(), 1);
    let o = xdptest(&["run", "--filter", "no such scenario"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no scenario matches"));
}

#[test]
fn bad_partition_is_a_usage_error() {
    for p in ["0/3", "4/3", "x:1/2", "1-2"] {
        let o = xdptest(&["run", "--partition", p]);
        assert_eq!(o.status.code(), Some(2), "{p}: {}", text(&o));
    }
}

#[test]
fn verifier_rejection_is_an_error_with_the_log() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let obj = dir.path().join("bad.o");
    support::clang_bpf(&root(), root().join("tests/programs/bad_verifier.c"), &obj);
    let spec = dir.path().join("bad.pkt");
    std::fs::write(
        &spec,
        "program \"bad.o\" xdp \"xdp_unchecked\"\nscenario \"s\" {\n  send ether / ipv4 / udp\n  expect XDP_PASS\n}\n",
    )
    .unwrap();
    let o = xdptest(&["run", spec.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("ERROR"), "{t}");
    assert!(t.contains("the verifier rejected `xdp_unchecked`"), "{t}");
    // The verifier's own words: a packet access without a bounds check.
    assert!(t.contains("invalid access to packet"), "{t}");
    // As a located diagnostic: the C line it stopped at (found through the object's BTF line info, which
    // records the path clang was given), labelled with the verifier's complaint; then the log's tail.
    // Shown relative to the working directory.
    assert!(t.contains("╭─[tests/programs/bad_verifier.c:9:2]"), "{t}");
    assert!(t.contains(" 9 │     return data[20] == 0x11 ? XDP_DROP : XDP_PASS;"), "{t}");
    assert!(t.contains("╰── invalid access to packet, off=20 size=1"), "{t}");
    assert!(t.contains("verifier log:"), "{t}");
}

#[test]
fn a_stage_that_cannot_be_built_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("stage.pkt");
    let obj = root().join("programs/build/router.o");
    std::fs::write(
        &spec,
        format!(
            "program \"{}\" xdp \"xdp_router\"\nenv {{\n  link eth0 dummy addr 10.0.0.1/24\n  route 10.9.0.0/16 via 10.5.5.5\n}}\n\
             scenario \"s\" {{\n  send ether / ipv4 / udp\n  expect XDP_PASS\n}}\n",
            obj.display()
        ),
    )
    .unwrap();
    let o = xdptest(&["run", spec.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    // The gateway is not on any connected network: iproute2 refuses, and we say which line.
    assert!(t.contains("setting up the network stage failed at `ip route add 10.9.0.0/16 via 10.5.5.5`"), "{t}");
}

#[test]
fn the_host_network_is_untouched_by_stages() {
    let before = Command::new("ip").args(["-o", "link"]).output().unwrap().stdout;
    let o = xdptest(&["run", "specs/router"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let after = Command::new("ip").args(["-o", "link"]).output().unwrap().stdout;
    let names = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b).lines().filter_map(|l| l.split(':').nth(1).map(|s| s.trim().to_string())).collect()
    };
    assert_eq!(names(&before), names(&after));
    assert!(!Path::new("/run/netns").exists() || std::fs::read_dir("/run/netns").unwrap().next().is_none());
}

#[test]
fn without_privileges_the_error_says_what_is_needed() {
    build_programs();
    // A world-readable copy: the checkout may sit in a private directory `nobody` cannot enter.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bin = dir.path().join("xdptest");
    std::fs::copy(env!("CARGO_BIN_EXE_xdptest"), &bin).unwrap();
    std::fs::copy(root().join("programs/build/counter.o"), dir.path().join("counter.o")).unwrap();
    let spec = dir.path().join("s.pkt");
    std::fs::write(
        &spec,
        "program \"counter.o\" xdp \"xdp_counter\"\nscenario \"a\" {\n  send ether / ipv4 / udp\n  expect XDP_PASS\n}\n\
         scenario \"b\" {\n  send ether / ipv4 / udp\n  expect XDP_PASS\n}\n",
    )
    .unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
        .arg(&bin)
        .args(["run", "-j1"])
        .arg(&spec)
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv (util-linux) runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert_eq!(
        t.matches("xdptest run needs root, or the capabilities CAP_BPF, CAP_NET_ADMIN").count(),
        1,
        "said once: {t}"
    );
    assert!(t.contains("(the same error as above)"), "{t}");
}

/// Growth the kernel allows is reported whole: a program that appends 1000 bytes with
/// `bpf_xdp_adjust_tail` (the output buffer used to be the input plus 512 bytes: ENOSPC).
#[test]
fn a_grown_tail_is_reported_whole() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    support::clang_bpf(&root(), root().join("tests/programs/grow_tail.c"), dir.path().join("grow.o"));
    // The trailer is zeros, which change neither checksum: only the lengths are the input's.
    std::fs::write(
        dir.path().join("grow.pkt"),
        "program \"grow.o\" xdp \"xdp_grow\"\nscenario \"trailer\" {\n  \
         send ether / ipv4 / udp / payload(len=10, fill=0)\n  \
         expect XDP_TX: ether / ipv4(len=38) / udp(len=18) / payload(len=1010, fill=0)\n  \
         send ether / ipv4 / udp / payload(len=2400, fill=0)\n  \
         expect XDP_TX: ether / ipv4(len=2428) / udp(len=2408) / payload(len=3400, fill=0)\n}\n",
    )
    .unwrap();
    let o = xdptest(&["run", dir.path().join("grow.pkt").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A CO-RE relocation is resolved against the running kernel's BTF (which the loader parses once
/// per process, and hides from aya's own per-load parse in the loader's namespace): the program
/// drops only when the kernel's offset of `task_struct.pid` reached it. Other objects, which need
/// no kernel BTF, pass as before in the same run; the host's `vmlinux` BTF stays as it was.
#[test]
fn core_relocations_use_the_running_kernels_btf() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    support::clang_bpf(&root(), root().join("tests/programs/core_offset.c"), dir.path().join("core.o"));
    std::fs::write(
        dir.path().join("core.pkt"),
        "program \"core.o\" xdp \"xdp_core_offset\"\nscenario \"relocated\" {\n  \
         send ether / ipv4 / udp\n  expect XDP_DROP\n}\n",
    )
    .unwrap();
    let o = xdptest(&["run", dir.path().join("core.pkt").to_str().unwrap(), "specs/counter", "specs/icmp_echo"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
    assert_eq!(&vmlinux[..2], &[0x9f, 0xeb], "the host's kernel BTF is untouched");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("/sys/kernel/btf"), "nothing is left mounted on the host");
}

/// With CAP_BPF and CAP_NET_ADMIN (no root), what needs nothing more runs, and what does (a network
/// namespace for `env`) says which capability is missing for it.
#[test]
fn with_bpf_capabilities_only_what_needs_more_names_it() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bin = dir.path().join("xdptest");
    std::fs::copy(env!("CARGO_BIN_EXE_xdptest"), &bin).unwrap();
    std::fs::copy(root().join("programs/build/counter.o"), dir.path().join("counter.o")).unwrap();
    let plain = "program \"counter.o\" xdp \"xdp_counter\"\nscenario \"a\" {\n  send ether / ipv4 / udp\n  expect XDP_PASS\n}\n";
    let staged = "program \"counter.o\" xdp \"xdp_counter\"\nenv {\n  link eth0 dummy\n}\n\
                  scenario \"b\" {\n  send ether / ipv4 / udp ingress eth0\n  expect XDP_PASS\n}\n";
    for (name, text) in [("plain.pkt", plain), ("staged.pkt", staged)] {
        std::fs::write(dir.path().join(name), text).unwrap();
        std::fs::set_permissions(dir.path().join(name), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(dir.path().join("counter.o"), std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .unwrap();
    let run = |spec: &str| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(["--inh-caps=+bpf,+net_admin,+perfmon", "--ambient-caps=+bpf,+net_admin,+perfmon"])
            .arg(&bin)
            .args(["run", "-j1", spec])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("setpriv (util-linux) runs")
    };
    let o = run("plain.pkt");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run("staged.pkt");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("xdptest run needs root, or the capabilities CAP_SYS_ADMIN, CAP_NET_ADMIN"),
        "{}",
        text(&o)
    );
}

/// The end of a failing run lists the failures once more with the command that reruns exactly them
/// (`--exact` filters), and that command selects exactly those; `--fail-fast` / `--max-fail` stop
/// early with the failures' exit status, not an interrupt's.
#[test]
fn failures_are_listed_with_their_rerun_command_and_max_fail_stops_early() {
    build_programs();
    let o = xdptest(&["run", "tests/specs/run/failing.pkt", "specs/icmp_echo"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("  FAIL tests/specs/run/failing.pkt::wrong action ("), "durations on FAIL lines: {t}");
    let rerun = t.lines().find_map(|l| l.strip_prefix("rerun them: xdptest ")).expect("a rerun command");
    assert!(t.contains("failed (3):\n  tests/specs/run/failing.pkt::wrong output fields\n"), "{t}");
    // The command, run as the shell would split it, runs the three failures and nothing else.
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!("{} {rerun} --format json", env!("CARGO_BIN_EXE_xdptest")))
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let ran = support::json_records(&String::from_utf8_lossy(&o.stdout))
        .into_iter()
        .filter(|r| r["type"] == "scenario")
        .map(|r| r["scenario"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(ran, ["wrong output fields", "wrong action", "wrong map values"], "{}", text(&o));
    // `--exact` matches whole names: a part of one selects nothing.
    let o = xdptest(&["run", "tests/specs/run/failing.pkt", "--exact", "-f", "wrong action"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // --fail-fast: once a failure is seen nothing new starts; the exit status is the failures'.
    let o = xdptest(&[
        "run",
        "-j1",
        "tests/specs/run/failing.pkt",
        "specs/icmp_echo",
        "specs/counter",
        "--fail-fast",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let records = support::json_records(&String::from_utf8_lossy(&o.stdout));
    let summary = records.last().unwrap();
    assert_eq!(summary["stopped_at_max_fail"], true, "{summary}");
    assert_eq!(summary["cancelled"], false, "{summary}");
    assert!(summary["not_run"].as_u64().unwrap() > 0, "{summary}");
    assert!(support::stderr(&o).contains("stopped at --max-fail 1"), "{}", text(&o));
}

/// `-q` prints failures and the summary only; `-v` adds what passing scenarios printed.
#[test]
fn quiet_and_verbose_reports() {
    build_programs();
    let o = xdptest(&["run", "-q", "tests/specs/run/failing.pkt", "specs/icmp_echo"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(!t.contains("  PASS "), "{t}");
    assert!(t.contains("  FAIL tests/specs/run/failing.pkt::wrong action"), "{t}");
    assert!(t.contains("xdptest: 6 passed, 3 failed, 0 skipped"), "{t}");
    let o = xdptest(&["run", "-v", "specs/printk"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("printed:\n          ipv4 proto 17 ttl 64"), "{}", text(&o));
    let o = xdptest(&["run", "specs/printk"]);
    assert!(!text(&o).contains("printed:"), "{}", text(&o));
}

/// `--rerun-failed` runs what failed in the last run from the same directory (recorded under the
/// cache directory, one record per directory), and says so when nothing failed.
#[test]
fn rerun_failed_runs_the_last_failures_from_this_directory() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let program = format!("program \"{}\" xdp \"xdp_counter\"\n", root().join("programs/build/counter.o").display());
    let spec = |drop_b: bool| {
        format!(
            "{program}scenario \"a\" {{\n  send ether / ipv4 / udp\n  expect XDP_PASS\n}}\n\
             scenario \"b\" {{\n  send ether / ipv4 / udp\n  expect {}\n}}\n",
            if drop_b { "XDP_DROP" } else { "XDP_PASS" }
        )
    };
    std::fs::write(dir.path().join("s.pkt"), spec(true)).unwrap();
    let run =
        |args: &[&str]| support::xdptest().cwd(dir.path()).env("XDG_CACHE_HOME", cache.path()).args(args).output();
    let o = run(&["run", "--rerun-failed", "s.pkt"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no run from this directory is recorded"), "{}", text(&o));
    assert_eq!(run(&["run", "s.pkt"]).status.code(), Some(1));
    let o = run(&["run", "--rerun-failed", "s.pkt", "--format", "json"]);
    let ran: Vec<String> = support::json_records(&String::from_utf8_lossy(&o.stdout))
        .into_iter()
        .filter(|r| r["type"] == "scenario")
        .map(|r| r["scenario"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ran, ["b"], "{}", text(&o));
    // Fixed: the rerun passes, and then there is nothing left to rerun.
    std::fs::write(dir.path().join("s.pkt"), spec(false)).unwrap();
    assert_eq!(run(&["run", "--rerun-failed", "s.pkt"]).status.code(), Some(0));
    let o = run(&["run", "--rerun-failed", "s.pkt"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).contains("had no failures: nothing to rerun"), "{}", text(&o));
}
