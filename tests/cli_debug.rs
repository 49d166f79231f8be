//! Debugging aids end to end, through the real binary on this kernel (root needed): `--pcap` read back by
//! tshark, `bpf_printk` lines attributed to the right scenario with two workers, `xdptest explain`, and
//! verifier rejections located in the C source.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use support::{build_programs, repo as root, text, tshark};

fn xdptest_in(dir: &Path, args: &[&str]) -> Output {
    support::run_in_dir(dir, args)
}

fn xdptest(args: &[&str]) -> Output {
    support::run(args)
}

#[test]
fn pcap_holds_every_packet_with_its_scenario_and_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("run.pcapng");
    let o = xdptest(&["run", "specs/upf/upf.pkt", "tests/specs/run/failing.pkt", "--pcap", pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = tshark(&["-r", pcap.to_str().unwrap(), "-T", "fields", "-e", "frame.number", "-e", "frame.comment"]);
    let comments: Vec<&str> = out.lines().map(|l| l.split_once('\t').map_or("", |(_, c)| c)).collect();
    // 7 UPF scenarios with one send each, 4 failing ones: an input and an output per send.
    assert_eq!(comments.len(), 2 * (7 + 4), "{out}");
    assert_eq!(
        comments[0],
        "specs/upf/upf.pkt::uplink ICMP is decapsulated and sent back out · send #1 · input · PASS"
    );
    assert_eq!(
        comments[1],
        "specs/upf/upf.pkt::uplink ICMP is decapsulated and sent back out · send #1 · output XDP_TX · PASS"
    );
    assert!(
        comments.contains(
            &"tests/specs/run/failing.pkt::wrong output fields · send #1 · output XDP_TX · FAIL (output differs)"
        ),
        "{out}"
    );
    assert!(
        comments
            .contains(&"tests/specs/run/failing.pkt::wrong action · send #1 · output XDP_DROP · FAIL (action differs)"),
        "{out}"
    );
    // Wireshark decodes the packets themselves: the uplink input is GTP-U with TEID 2, its output the
    // decapsulated ping on VLAN 300.
    let fields = tshark(&[
        "-r",
        pcap.to_str().unwrap(),
        "-Y",
        "frame.number <= 2",
        "-T",
        "fields",
        "-e",
        "gtp.teid",
        "-e",
        "vlan.id",
        "-e",
        "icmp.type",
    ]);
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows[0][0], "0x00000002", "{fields}");
    assert_eq!((rows[1][0], rows[1][1], rows[1][2]), ("", "300", "8"), "{fields}");
}

/// Scenarios of programs that print, on two workers at once: every scenario gets exactly its own lines
/// (each sends packets with its own TTL, and the program prints the TTL). Workers stay with one program
/// while it has work, so the suite has two (copies of the printk program, two objects) to keep both
/// workers printing at the same time.
#[test]
fn printk_lines_belong_to_their_scenario_with_two_jobs() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    for (name, ttls) in [("a", 1..=100), ("b", 101..=200)] {
        std::fs::copy(root().join("programs/build/printk.o"), dir.path().join(format!("{name}.o"))).unwrap();
        let mut spec = format!("program \"{name}.o\" xdp \"xdp_printk\"\n");
        for ttl in ttls {
            spec.push_str(&format!(
                "scenario \"ttl {ttl}\" {{\n  send ether / ipv4(ttl={ttl}) / udp\n  expect XDP_PASS\n  send ether / vlan({ttl}) / ipv4(ttl={ttl}) / icmp\n  expect XDP_PASS\n}}\n"
            ));
        }
        std::fs::write(dir.path().join(format!("{name}.pkt")), spec).unwrap();
    }
    for round in 0..3 {
        let o = xdptest_in(dir.path(), &["run", "a.pkt", "b.pkt", "--jobs", "2", "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "round {round}: {}", text(&o));
        let mut seen = 0;
        for line in String::from_utf8(o.stdout).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["type"] != "scenario" {
                continue;
            }
            let ttl: u32 = v["scenario"].as_str().unwrap().trim_start_matches("ttl ").parse().unwrap();
            let printed = |run: usize| -> Vec<String> {
                v["runs"][run]["printk"]
                    .as_array()
                    .map_or(vec![], |a| a.iter().map(|l| l.as_str().unwrap().to_string()).collect())
            };
            assert_eq!(printed(0), [format!("ipv4 proto 17 ttl {ttl}")], "round {round}: {line}");
            assert_eq!(printed(1), [format!("vlan {ttl}"), format!("ipv4 proto 1 ttl {ttl}")], "round {round}: {line}");
            seen += 1;
        }
        assert_eq!(seen, 200);
    }
    // No trace instance is left behind by a process that has ended (running tests may own some).
    if let Ok(rd) = std::fs::read_dir("/sys/kernel/tracing/instances") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("xdptest-").and_then(|r| r.split('-').next()) {
                assert!(Path::new(&format!("/proc/{pid}")).exists(), "stale trace instance {name}");
            }
        }
    }
}

/// A failing scenario of a program that prints shows what the program printed.
#[test]
fn failures_show_what_the_program_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.pkt"),
        format!(
            "program \"{}\" xdp \"xdp_printk\"\nscenario \"wrong\" {{\n  send ether / ipv4(ttl=0) / udp\n  expect XDP_PASS\n}}\n",
            root().join("programs/build/printk.o").display()
        ),
    )
    .unwrap();
    let o = xdptest_in(dir.path(), &["run", "p.pkt"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("action: expected XDP_PASS, got XDP_DROP"), "{t}");
    assert!(t.contains("send #1 (p.pkt:3:3) printed:\n          ipv4 proto 17 ttl 0\n          ttl 0: drop\n"), "{t}");
}

#[test]
fn explain_tells_the_whole_story() {
    let o = xdptest(&["explain", "specs/upf/upf.pkt::uplink ICMP is decapsulated and sent back out"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for needle in [
        "scenario: uplink ICMP is decapsulated and sent back out\n",
        "  A UE pings a host on the internet.",
        "program: xdp_upf in specs/upf/../../programs/build/upf.o\n",
        "map entries written first\n",
        "  sessions[2] = { ue_ip: 192.168.100.200, peer_ip: 192.168.10.1, teid_out: 1002, vlan_out: 300,",
        "  ue_sessions[192.168.100.200] = 2\n",
        "send #1 (specs/upf/upf.pkt:20:3)\n  input: 86 bytes\n    ether\n",
        "    gtpu\n",
        "      teid = 2\n",
        "    ipv4:2\n",
        "  action: XDP_TX (expected XDP_TX)\n  output: 50 bytes\n",
        "      vid = 300\n",
        "  the output matches the expected packet\n",
        "  maps changed by the program\n    stats[0]: 0 → 1 (per-CPU values summed)\n",
        "check map stats[0] (specs/upf/upf.pkt:24:3): as expected\n",
        "verdict: PASS\n",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
    // A failing scenario: what differs, per send and per map check; exit 1 like `run`.
    let o = xdptest(&["explain", "tests/specs/run/failing.pkt::wrong map"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("scenario: wrong map values"), "{t}");
    assert!(t.contains("check map stats[0] (tests/specs/run/failing.pkt:24:3): differs\n"), "{t}");
    assert!(t.contains("value: expected 2, got 1"), "{t}");
    assert!(t.contains("verdict: FAIL (4 differences)"), "{t}");
    let o = xdptest(&["explain", "tests/specs/run/failing.pkt::wrong output"]);
    let t = text(&o);
    assert!(t.contains("  differs from the spec:\n") && t.contains("vlan.vid: expected 301, got 300"), "{t}");
    // Values as the spec wrote them: an address written into a `__u32` is shown as one.
    let o = xdptest(&["explain", "tests/specs/run/shown_as.pkt::an address in a __u32"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("  sessions[1] = { ue_ip: 10.0.0.1, peer_ip: 0.0.0.0, teid_out: 10.0.0.2, "), "{t}");
    assert!(t.contains("  ue_sessions[10.0.0.9] = 10.0.0.3\n"), "{t}");
    // printk lines, per send.
    let o = xdptest(&["explain", "specs/printk/printk.pkt::VLAN-tagged"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("  printk\n    vlan 42\n    ipv4 proto 17 ttl 64\n"), "{t}");
    // Names that match no scenario, or several, list the candidates.
    let o = xdptest(&["explain", "specs/printk/printk.pkt::nothing like this"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("has no scenario \"nothing like this\"; its scenarios:\n  IPv4 is passed and described"),
        "{}",
        text(&o)
    );
    let o = xdptest(&["explain", "specs/printk/printk.pkt::described"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("several scenarios of specs/printk/printk.pkt match \"described\""), "{}", text(&o));
    let o = xdptest(&["explain", "specs/printk/printk.pkt"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// The bad program built the way `programs/Makefile` builds (a relative source path from the directory
/// above `build/`), then moved around: the diagnostic still finds the C file through the object's line
/// info and points at the line the verifier stopped at.
#[test]
fn verifier_rejection_points_at_the_c_line() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let src_dir = dir.path().join("prog");
    std::fs::create_dir_all(src_dir.join("build")).unwrap();
    std::fs::copy(root().join("tests/programs/bad_verifier.c"), src_dir.join("bad.c")).unwrap();
    support::clang_bpf(&src_dir, "bad.c", "build/bad.o");
    std::fs::write(
        dir.path().join("bad.pkt"),
        "program \"prog/build/bad.o\" xdp \"xdp_unchecked\"\nscenario \"s\" {\n  send ether / ipv4 / udp\n  expect XDP_PASS\n}\n",
    )
    .unwrap();
    let o = xdptest_in(dir.path(), &["run", "bad.pkt"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    for needle in [
        "xdptest::run::verifier",
        "× bad.pkt:1:9: the verifier rejected `xdp_unchecked` in prog/build/bad.o",
        "╭─[prog/bad.c:9:2]",
        " 9 │     return data[20] == 0x11 ? XDP_DROP : XDP_PASS;",
        "╰── invalid access to packet, off=20 size=1, R1(id=0,off=20,r=0)",
        "help: R1 offset is outside of the packet",
        "verifier log:",
        "; return data[20] == 0x11 ? XDP_DROP : XDP_PASS; @ bad.c:9",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
    // explain says the same.
    let o = xdptest_in(dir.path(), &["explain", "bad.pkt::s"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("verdict: ERROR") && t.contains("╭─[prog/bad.c:9:2]"), "{t}");
    // Without the source the diagnostic still names the file and line, and quotes the code.
    std::fs::remove_file(src_dir.join("bad.c")).unwrap();
    let o = xdptest_in(dir.path(), &["run", "bad.pkt"]);
    let t = text(&o);
    assert!(t.contains("help: at bad.c:9: return data[20] == 0x11 ? XDP_DROP : XDP_PASS;"), "{t}");
}

/// Reports stay machine-independent: the same suite gives byte-identical snapshots with one and two
/// workers, on any CPU (per-CPU maps are summed).
#[test]
fn reports_are_deterministic() {
    let mut files: Vec<BTreeMap<String, String>> = Vec::new();
    for jobs in ["1", "2", "2"] {
        let dir = tempfile::tempdir().unwrap();
        for f in ["upf.pkt", "packets.pkt"] {
            let text = std::fs::read_to_string(root().join("specs/upf").join(f)).unwrap();
            let text = text.replace("../../programs/build/", &format!("{}/", root().join("programs/build").display()));
            std::fs::write(dir.path().join(f), text).unwrap();
        }
        let o = xdptest_in(dir.path(), &["run", ".", "--snapshots", "new", "-j", jobs]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let mut m = BTreeMap::new();
        for e in std::fs::read_dir(dir.path().join("snapshots")).unwrap().flatten() {
            m.insert(e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap());
        }
        assert_eq!(m.len(), 7);
        files.push(m);
    }
    assert_eq!(files[0], files[1]);
    assert_eq!(files[1], files[2]);
}

/// An object whose line info names a file outside the spec tree (`#line` makes clang record any path):
/// the verifier diagnostic says where, from the object's own line info, and never reads that file.
#[test]
fn verifier_rejection_never_quotes_files_outside_the_spec_tree() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.c");
    let code = std::fs::read_to_string(root().join("tests/programs/bad_verifier.c")).unwrap();
    std::fs::write(dir.path().join("bad.c"), format!("#line 1 \"{}\"\n{code}", secret.display())).unwrap();
    support::clang_bpf(dir.path(), "bad.c", "bad.o");
    // Written after the build (clang would have copied lines of it into the object): as many lines as
    // the program, each a secret.
    let lines = code.lines().count();
    std::fs::write(&secret, (0..lines).map(|i| format!("SECRET-{i}\n")).collect::<String>()).unwrap();
    std::fs::write(
        dir.path().join("bad.pkt"),
        "program \"bad.o\" xdp \"xdp_unchecked\"\nscenario \"s\" {\n  send ether / ipv4 / udp\n  expect XDP_PASS\n}\n",
    )
    .unwrap();
    let o = support::xdptest().env_remove("XDPTEST_ALLOW_PATH").cwd(dir.path()).args(["run", "bad.pkt"]).output();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("at secret.c:9:"), "{t}");
    assert!(!t.contains("SECRET-"), "a file outside the spec tree was quoted:\n{t}");
}

/// Ctrl-C in the middle of a host run of a printing program: the run stops, prints its summary, exits
/// 130, and removes the tracefs instances its workers created (they used to stay, enabled, with a
/// 2.8 MB buffer each).
#[test]
fn ctrl_c_during_a_printing_run_removes_its_trace_instances() {
    use std::io::BufRead;
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = format!("program \"{}\" xdp \"xdp_printk\"\n", root().join("programs/build/printk.o").display());
    for i in 0..20_000 {
        spec.push_str(&format!(
            "scenario \"s{i}\" {{\n  send ether / ipv4(ttl={}) / udp\n  expect XDP_PASS: input\n}}\n",
            i % 200 + 1
        ));
    }
    std::fs::write(dir.path().join("p.pkt"), spec).unwrap();
    let mut child = support::xdptest()
        .cwd(dir.path())
        .args(["run", "-j2", "p.pkt"])
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait until scenarios run (the instances exist), then interrupt.
    let mut out = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        out.push_str(&line);
        out.push('\n');
        if line.contains("PASS") && out.matches("PASS").count() >= 100 {
            break;
        }
    }
    let instances = || -> Vec<String> {
        std::fs::read_dir("/sys/kernel/tracing/instances")
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.starts_with(&format!("xdptest-{pid}-")))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(!instances().is_empty(), "the run captures printk in instances of its own");
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    for line in lines {
        out.push_str(&line.unwrap());
        out.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(
        out.contains("interrupted: ") && out.contains(" not run"),
        "no summary:\n{}",
        &out[out.len().saturating_sub(500)..]
    );
    assert!(out.lines().last().unwrap_or("").starts_with("xdptest: "), "{}", &out[out.len().saturating_sub(300)..]);
    assert!(instances().is_empty(), "left behind: {:?}", instances());
}
