//! End-to-end tests of `xdptest run --kernel`: the real binary boots Debian's 6.1 cloud kernel (fetched
//! and cached on first use) in qemu, booting itself as the guest (a dynamically linked binary with its
//! libraries: what any installed xdptest does). Reports carry the kernel; Ctrl-C and even SIGKILL of
//! xdptest leave no qemu behind. Needs root and qemu-system-x86. Without qemu the tests say so and pass, except in CI (`CI` set), where they fail.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use support::{repo as root, text};

/// The binary under test, which boots itself (dynamically linked, with its libraries) as the guest.
fn xdptest() -> Command {
    support::xdptest().env_remove("XDPTEST_GUEST_BINARY").command()
}
use std::time::{Duration, Instant};

fn ready() -> bool {
    let has_qemu = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("qemu-system-x86_64").is_file());
    if !has_qemu {
        assert!(std::env::var_os("CI").is_none(), "CI must run the VM tests: install qemu-system-x86");
        eprintln!("skipped: qemu-system-x86_64 is not installed");
        return false;
    }
    true
}

#[test]
fn json_lines_and_junit_name_the_kernel() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let o = xdptest()
        .args(["run", "--kernel", "debian:6.1", "--format", "json", "--junit"])
        .arg(&junit)
        .arg("specs/counter")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    support::check_schema("book/src/reference/run.schema.json", &stdout).unwrap();
    let records = support::json_records(&stdout);
    let run = &records[0];
    assert_eq!(run["targets"][0]["label"], "debian:6.1", "{run}");
    assert!(run["targets"][0]["release"].as_str().unwrap().starts_with("6.1"), "{run}");
    assert!(["kvm", "tcg"].contains(&run["targets"][0]["accel"].as_str().unwrap()), "{run}");
    let scenarios: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "scenario").collect();
    assert_eq!(scenarios.len(), 3, "{}", text(&o));
    for l in scenarios {
        assert_eq!(l["target"], "debian:6.1", "{l}");
        assert_eq!(l["status"], "pass", "{l}");
    }
    assert_eq!(records.last().unwrap()["type"], "summary");
    support::assert_strict_junit(&junit);
    let x = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(x.matches("<testsuite ").count(), 1, "{x}");
    assert!(x.contains("<testsuite name=\"specs/counter/counter.pkt [debian:6.1]\""), "{x}");
    assert!(x.contains("classname=\"specs/counter/counter.pkt [debian:6.1]\""), "{x}");
}

#[test]
fn human_report_names_the_kernel_of_every_result() {
    if !ready() {
        return;
    }
    // The same kernel twice is two VMs and two targets: a matrix without a second download.
    let o = xdptest()
        .args(["run", "--kernel", "debian:6.1", "--kernel", "debian:6.1", "specs/icmp_echo"])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert_eq!(t.matches("  PASS [debian:6.1] specs/icmp_echo/").count(), 5, "{t}");
    assert_eq!(t.matches("  PASS [debian:6.1 #2] specs/icmp_echo/").count(), 5, "{t}");
    assert!(t.contains("debian:6.1 (6.1."), "{t}");
    assert!(t.contains("debian:6.1 #2 (6.1."), "{t}");
    assert!(t.contains("xdptest: 10 passed, 0 failed, 0 skipped"), "{t}");
}

#[test]
fn a_bad_kernel_is_a_usage_error() {
    let o = xdptest().args(["run", "--kernel", "ubuntu:22.04", "specs/counter"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unknown kernel source"), "{}", text(&o));
}

/// qemu processes whose parent is `pid`.
fn qemu_children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let after = stat.rsplit(')').next().unwrap_or("");
        let mut f = after.split_whitespace();
        let (state, ppid) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
        if ppid == pid.to_string() && state != "Z" && stat.contains("(qemu-system-x86") {
            out.push(e.file_name().to_string_lossy().parse().unwrap());
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

/// Starts a VM run and waits until its qemu is up. The caller waits for the child.
#[allow(clippy::zombie_processes)]
fn started() -> (Child, Vec<u32>) {
    let mut child = xdptest()
        .args(["run", "--kernel", "debian:6.1", "specs/"])
        .env("XDPTEST_VM_TIMEOUT_SCALE", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let q = qemu_children(child.id());
        if !q.is_empty() {
            return (child, q);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no qemu started");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn assert_gone(qemus: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while qemus.iter().any(|&q| alive(q)) {
        assert!(Instant::now() < deadline, "qemu {qemus:?} outlived xdptest");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The VM work directories of process `pid` (`/tmp/xdptest-vm-<pid>-<start>-…`).
fn work_dirs(pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("xdptest-vm-{pid}-")))
        })
        .collect()
}

#[test]
fn ctrl_c_stops_every_vm() {
    if !ready() {
        return;
    }
    let (mut child, qemus) = started();
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(130));
    assert_gone(&qemus);
    assert!(work_dirs(child.id()).is_empty(), "left behind: {:?}", work_dirs(child.id()));
}

/// SIGKILL cannot be caught: qemu dies with xdptest (PDEATHSIG), and the work directory it leaves is
/// removed by the next VM run, which sees that its owner is gone.
#[test]
fn even_sigkill_leaves_no_qemu() {
    if !ready() {
        return;
    }
    let (mut child, qemus) = started();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_gone(&qemus);
    // (Another VM test running beside this one may be the next run that removes it.)
    let left = work_dirs(child.id());
    let o = xdptest().args(["run", "--kernel", "debian:6.1", "specs/icmp_echo"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(left.iter().all(|d| !d.exists()), "not removed by the next run: {left:?}");
}

/// A qemu killed in the middle of a run: the results the guest sent before are kept, the others are
/// errors that say the qemu process died and after how many results.
#[test]
fn results_before_qemu_died_are_kept() {
    if !ready() {
        return;
    }
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = format!("program \"{}\" xdp \"xdp_counter\"\n", root().join("programs/build/counter.o").display());
    for i in 0..3000 {
        spec.push_str(&format!(
            "scenario \"s{i}\" {{\n  send ether / ipv4 / udp(sport={})\n  expect XDP_PASS: input\n}}\n",
            i + 1
        ));
    }
    std::fs::write(dir.path().join("big.pkt"), spec).unwrap();
    let mut child = xdptest()
        .args(["run", "--kernel", "debian:6.1", "--jobs", "1", "--format", "json", "big.pkt"])
        .current_dir(dir.path())
        .env("XDPTEST_VM_TIMEOUT_SCALE", "100")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut passed, mut died, mut killed) = (0, 0, false);
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("\"status\":\"pass\"") {
            passed += 1;
        }
        if line.contains("\"type\":\"scenario\"") && line.contains("\"kind\":\"qemu_died\"") {
            died += 1;
        }
        if passed == 50 && !killed {
            for q in qemu_children(child.id()) {
                unsafe { libc::kill(q as i32, libc::SIGKILL) };
            }
            killed = true;
        }
    }
    assert_eq!(child.wait().unwrap().code(), Some(2));
    assert!(killed && passed >= 50, "{passed} passed");
    assert_eq!(passed + died, 3000, "every scenario reported once ({passed} passed, {died} qemu died)");
}

/// Snapshots are compared in VM runs too: the guest reads the maps around each send, the host renders
/// and compares the report. A wrong accepted snapshot fails; `--accept` repairs it; then it passes.
#[test]
fn snapshots_are_checked_on_the_guest_kernel() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("echo.pkt");
    std::fs::write(
        &spec,
        format!(
            "program \"{}\" xdp \"xdp_icmp_echo\"\nscenario \"ping\" {{\n  send ether / ipv4(src=192.0.2.2, dst=192.0.2.1) / icmp.echo_request(id=1, seq=1)\n  expect snapshot\n}}\n",
            root().join("programs/build/icmp_echo.o").display()
        ),
    )
    .unwrap();
    // First run: no snapshot yet; with --accept it is written.
    let o = xdptest().args(["run", "--kernel", "debian:6.1", "--accept"]).arg(&spec).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let snap = dir.path().join("snapshots/echo__ping.snap");
    let accepted = std::fs::read_to_string(&snap).expect("the snapshot was written");
    assert!(accepted.contains("XDP_TX"), "{accepted}");
    // Corrupt it: the VM run fails with a diff and proposes the real report as .snap.new.
    std::fs::write(&snap, accepted.replace("XDP_TX", "XDP_DROP")).unwrap();
    let o = xdptest().args(["run", "--kernel", "debian:6.1"]).arg(&spec).output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("the report differs"), "{t}");
    assert_eq!(std::fs::read_to_string(dir.path().join("snapshots/echo__ping.snap.new")).unwrap(), accepted);
    // The accepted file was not overwritten.
    assert!(std::fs::read_to_string(&snap).unwrap().contains("XDP_DROP"));
}

/// `--pcap` is a reporter on the run's events, so it works for VM runs too; comments name the kernel.
#[test]
fn pcap_holds_the_packets_of_vm_runs() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("vm.pcapng");
    let o =
        xdptest().args(["run", "--kernel", "debian:6.1", "--pcap"]).arg(&pcap).arg("specs/icmp_echo").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let comments = support::tshark(&["-r", pcap.to_str().unwrap(), "-T", "fields", "-e", "frame.comment"]);
    let lines: Vec<&str> = comments.lines().collect();
    assert!(lines.len() >= 10, "{comments}");
    assert!(lines.iter().all(|l| l.ends_with("· on debian:6.1")), "{comments}");
    assert!(lines.iter().any(|l| l.contains("· output XDP_TX · PASS")), "{comments}");
}
