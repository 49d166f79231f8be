//! Loading the programs people have, end to end with the real binary: legacy section names, `check`
//! and `run` agreeing on what loads, programs of other types left alone, pinned maps kept private (in
//! a private mount namespace of the test with a bpffs of its own, never the host's `/sys/fs/bpf`),
//! LRU evictions that repeat, redirect targets that are checked, and the verdicts and bytes of the
//! example programs against `bpftool prog run`, an independent runner.

mod support;

use std::path::Path;
use std::process::Command;

use support::{repo, text};

fn xdptest(args: &[&str]) -> std::process::Output {
    support::xdptest().args(args).output()
}

/// A spec for program `name` of `programs/build/legacy.o` with one scenario that sends a UDP packet.
fn legacy_spec(dir: &Path, name: &str) -> String {
    let obj = repo().join("programs/build/legacy.o");
    let path = dir.join(format!("{}.pkt", name.replace('/', "_")));
    std::fs::write(
        &path,
        format!(
            "program \"{}\" xdp \"{name}\"\nscenario \"s\" {{\n  send ether / ipv4(src=10.0.0.1, dst=10.0.0.2) / udp(sport=1, dport=9)\n}}\n",
            obj.display()
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn check_and_run_agree_on_what_loads() {
    let dir = tempfile::tempdir().unwrap();
    // By function name, and by section name as iproute2's `sec NAME` does.
    for name in ["xdp_pass_func", "xdp_drop_func", "xdp_patch_ports", "xdp_prog_simple", "prog", "xdp_frags_len"] {
        let spec = legacy_spec(dir.path(), name);
        let check = xdptest(&["check", &spec]);
        assert_eq!(check.status.code(), Some(0), "check {name}: {}", text(&check));
        let run = xdptest(&["run", &spec]);
        assert_eq!(run.status.code(), Some(0), "run {name}: {}", text(&run));
    }
    // Another type, and a program that only runs on redirect: refused by both, with the reason.
    for (name, says) in
        [("tc_pass", "is a tc program (section `tc`)"), ("xdp_devmap_mark", "(section `xdp/devmap`) runs on frames")]
    {
        let spec = legacy_spec(dir.path(), name);
        for cmd in ["check", "run"] {
            let o = xdptest(&[cmd, &spec]);
            assert_eq!(o.status.code(), Some(2), "{cmd} {name}: {}", text(&o));
            assert!(text(&o).contains(says), "{cmd} {name}: {}", text(&o));
        }
    }
}

/// The shell script run in a private mount namespace: a bpffs of its own on /sys/fs/bpf, a map pinned
/// there under the name the object pins `xdp_stats_map` by, holding 1000 (another program's counter),
/// then the spec run twice, then what is left.
fn pin_script(spec: &str) -> String {
    let xdptest = env!("CARGO_BIN_EXE_xdptest");
    format!(
        "set -e
mount -t bpf bpf /sys/fs/bpf
bpftool map create /sys/fs/bpf/xdp_stats_map type percpu_array key 4 value 16 entries 5 name xdp_stats_map
bpftool map update pinned /sys/fs/bpf/xdp_stats_map key 2 0 0 0 value 0xe8 0x03 0 0 0 0 0 0 0 0 0 0 0 0 0 0
echo '--- run 1'; {xdptest} run {spec} --color never
echo '--- run 2'; {xdptest} run {spec} --color never
echo '--- pinned'; bpftool -j map lookup pinned /sys/fs/bpf/xdp_stats_map key 2 0 0 0
echo; echo '--- files'; ls /sys/fs/bpf
"
    )
}

#[test]
fn pinned_maps_are_private_to_each_run() {
    support::build_programs();
    let spec = repo().join("specs/legacy/patch_ports.pkt");
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(pin_script(&spec.display().to_string()))
        .current_dir(repo())
        .output()
        .expect("unshare (util-linux) runs");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // The same spec passes twice in a row: its counters start from zero each time.
    assert_eq!(t.matches("xdptest: 4 passed, 0 failed, 0 skipped").count(), 2, "{t}");
    // The map another program pinned under the same name keeps its value: 1000 (0x3e8) on every CPU.
    let pinned = t.split("--- pinned").nth(1).unwrap().split("--- files").next().unwrap();
    let v: serde_json::Value = serde_json::from_str(pinned.trim()).expect("bpftool JSON");
    let per_cpu = v["values"].as_array().expect("per-CPU values");
    assert!(!per_cpu.is_empty());
    for cpu in per_cpu {
        let bytes: Vec<String> =
            cpu["value"].as_array().unwrap().iter().map(|b| b.as_str().unwrap().to_string()).collect();
        assert_eq!(&bytes[..2], ["0xe8", "0x03"], "{pinned}");
    }
    // And nothing else appeared in the bpffs (the kernel's own `*.debug` iterators aside).
    let files = t.split("--- files").nth(1).unwrap().split("--- stderr").next().unwrap();
    let pins: Vec<&str> = files.split_whitespace().filter(|f| !f.ends_with(".debug")).collect();
    assert_eq!(pins, ["xdp_stats_map"], "{t}");
}

#[test]
fn lru_evictions_repeat_with_two_workers() {
    let mut outcomes = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let o = xdptest(&["run", "specs/lb/lb.pkt", "-j", "2", "--color", "never"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let t = text(&o);
        let mut verdicts: Vec<&str> =
            t.lines().filter(|l| l.contains("specs/lb/lb.pkt::")).map(|l| l.split(" (").next().unwrap()).collect();
        verdicts.sort();
        outcomes.insert(verdicts.join("\n"));
    }
    assert_eq!(outcomes.len(), 1, "runs disagree: {outcomes:#?}");
}

#[test]
fn a_wrong_redirect_target_fails() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(repo().join("specs/router/router.pkt"))
        .unwrap()
        .replace(
            "\"../../programs/build/router.o\"",
            &format!("\"{}\"", repo().join("programs/build/router.o").display()),
        )
        .replacen("expect XDP_REDIRECT to eth1:", "expect XDP_REDIRECT to eth0:", 1);
    let path = dir.path().join("router.pkt");
    std::fs::write(&path, spec).unwrap();
    let o = xdptest(&["run", &path.display().to_string(), "--color", "never"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("redirect target: expected eth0, got eth1"), "{}", text(&o));
    let cpu = std::fs::read_to_string(repo().join("specs/cpu_spread/cpu_spread.pkt"))
        .unwrap()
        .replace(
            "\"../../programs/build/cpu_spread.o\"",
            &format!("\"{}\"", repo().join("programs/build/cpu_spread.o").display()),
        )
        .replacen("expect XDP_REDIRECT to cpu 1", "expect XDP_REDIRECT to cpu 0", 1);
    let path = dir.path().join("cpu.pkt");
    std::fs::write(&path, cpu).unwrap();
    let o = xdptest(&["run", &path.display().to_string(), "--color", "never"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("redirect target: expected cpu 0, got cpu 1"), "{}", text(&o));
    // AF_XDP: the frame reaches the socket of another XSKMAP entry than the one expected.
    let xsk = std::fs::read_to_string(repo().join("specs/xsk_steer/xsk_steer.pkt"))
        .unwrap()
        .replace(
            "\"../../programs/build/xsk_steer.o\"",
            &format!("\"{}\"", repo().join("programs/build/xsk_steer.o").display()),
        )
        .replacen("expect XDP_REDIRECT to xsk 1", "expect XDP_REDIRECT to xsk 0", 1);
    let path = dir.path().join("xsk.pkt");
    std::fs::write(&path, xsk).unwrap();
    let o = xdptest(&["run", &path.display().to_string(), "--color", "never"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("redirect target: expected xsk 0, got xsk 1"), "{}", text(&o));
    assert!(text(&o).contains("3 passed, 1 failed"), "{}", text(&o));
}

/// Packets for the differential check, per example program (object, program, packets). The maps are
/// left as loaded, empty, on both sides.
fn differential_cases() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    let syn = "ether / ipv4(src=198.51.100.7, dst=192.0.2.1) / tcp.syn(sport=40000, dport=443, options=[mss(1460)])";
    vec![
        (
            "legacy.o",
            "xdp_patch_ports_func",
            vec![
                "ether / ipv4(src=10.0.0.1, dst=10.0.0.2) / udp(sport=1, dport=53) / payload(\"q\")",
                "ether / ipv6(src=2001:db8::1, dst=2001:db8::2) / tcp.syn(sport=1, dport=443)",
                "ether / arp.request",
            ],
        ),
        ("syn_filter.o", "xdp_syn_filter", vec![syn, "ether / ipv6 / hbh / tcp.syn(dport=22)", "ether / ipv4 / udp"]),
        ("syn_dump.o", "xdp_syn_dump", vec![syn, "ether / ipv4 / tcp(rst, sport=1, dport=2)"]),
        ("lb.o", "xdp_lb", vec![syn, "ether / ipv6 / udp(sport=1, dport=53)"]),
        (
            "icmp_echo.o",
            "xdp_icmp_echo",
            vec!["ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01) / ipv4(src=10.0.0.2, dst=10.0.0.1) / icmp.echo_request(id=1, seq=1) / payload(\"ping\")"],
        ),
        ("upf.o", "xdp_upf", vec!["ether / ipv4 / udp / gtpu(teid=5) / ipv4 / icmp.echo_request", syn]),
        ("counter.o", "xdp_counter", vec![syn]),
        ("xsk_steer.o", "xdp_xsk_steer", vec![syn, "ether / ipv6 / udp(dport=53)"]),
        ("cpu_spread.o", "xdp_cpu_spread", vec![syn]),
    ]
}

#[test]
fn example_programs_agree_with_bpftool() {
    support::build_programs();
    let dir = tempfile::tempdir().unwrap();
    let mut script = String::from("set -e\nmount -t bpf bpf /sys/fs/bpf\n");
    let mut expected = Vec::new();
    for (object, program, packets) in differential_cases() {
        let obj = repo().join("programs/build").join(object);
        let mut spec = format!("program \"{}\" xdp \"{program}\"\nscenario \"d\" {{\n", obj.display());
        for p in &packets {
            spec.push_str(&format!("  send {p}\n"));
        }
        spec.push_str("}\n");
        let path = dir.path().join(format!("{program}.pkt"));
        std::fs::write(&path, spec).unwrap();
        let o = xdptest(&["run", &path.display().to_string(), "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{object}: {}", text(&o));
        let records = support::json_records(&String::from_utf8(o.stdout).unwrap());
        let runs = records.iter().find(|r| r["type"] == "scenario").unwrap()["runs"].as_array().unwrap().clone();
        assert_eq!(runs.len(), packets.len());
        // bpftool loads every program of the object as XDP (as iproute2 would) into our bpffs.
        let pins = format!("/sys/fs/bpf/{}", object.trim_end_matches(".o"));
        script.push_str(&format!("bpftool prog loadall {} {pins} type xdp\n", obj.display()));
        for (i, run) in runs.iter().enumerate() {
            let input = dir.path().join(format!("{program}-{i}.in"));
            let output = dir.path().join(format!("{program}-{i}.out"));
            std::fs::write(&input, unhex(run["input"].as_str().unwrap())).unwrap();
            script.push_str(&format!(
                "echo '=== {program} {i}'; bpftool prog run pinned {pins}/{program} data_in {} data_out {}\n",
                input.display(),
                output.display()
            ));
            expected.push((
                program,
                i,
                run["action"].as_u64().unwrap(),
                unhex(run["output"].as_str().unwrap()),
                output,
            ));
        }
    }
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare runs");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let mut checked = 0;
    for (program, i, action, bytes, out_file) in expected {
        let section = t.split(&format!("=== {program} {i}\n")).nth(1).unwrap_or_default();
        let retval: u64 = section
            .lines()
            .find_map(|l| l.trim().strip_prefix("Return value: "))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no return value for {program} #{i}:\n{t}"));
        assert_eq!(retval, action, "{program} #{i}: bpftool says action {retval}, xdptest {action}");
        let theirs = std::fs::read(&out_file).unwrap();
        assert_eq!(theirs, bytes, "{program} #{i}: the output bytes differ");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} sends compared");
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Writes the kernel refuses are errors at the spec's `map` line, with what the refusal means for that
/// kind of map, also when the kernel only judges the entry later (map-of-maps entries are written just
/// before the send that needs them).
#[test]
fn refused_map_writes_point_at_their_line() {
    for (spec, location, says) in [
        ("refused_writes.pkt", "refused_writes.pkt:12:3: writing map recent_ports", "the queue is full"),
        ("refused_devmap.pkt", "refused_devmap.pkt:5:3: writing map tx_ports", "a DEVMAP value is an interface"),
        ("refused_lb.pkt", "refused_lb.pkt:6:3: writing map ch_rings", "the inner map must have the type"),
    ] {
        let o = support::xdptest().cwd(repo().join("tests/specs/run")).args(["run", spec, "--color", "never"]).output();
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", text(&o));
        assert!(text(&o).contains(location), "{spec}: {}", text(&o));
        assert!(text(&o).contains(&format!("hint: {says}")), "{spec}: {}", text(&o));
    }
}
