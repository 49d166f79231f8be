//! Real VMs: boots Debian's 6.1 cloud kernel (downloaded and cached on first use; `XDPTEST_TEST_KERNEL`
//! picks another) under qemu and runs the example specs in it. The oracle is the host: the same suite on
//! the host kernel gives the same verdict per scenario; that run restores its VMs from a saved state
//! (saved by its first VM), and a damaged state makes the VM boot instead. Also checks the failure
//! paths: a guest that cannot start (kernel panic) and a boot that misses its deadline fail with the
//! reason and the console, and leave no qemu behind.
//!
//! Needs root (the host half runs BPF programs), qemu-system-x86 and the example programs (`make -C
//! programs`). Without qemu the tests say so and pass, except in CI (`CI` set), where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use xdptest_compiler::{suite, Fixture};
use xdptest_runner::error::VmFailure;
use xdptest_runner::events::VmStart;
use xdptest_runner::{RunError, RunOptions, ScenarioResult, Verdict};
use xdptest_vm::kernel::{self, Kernel, KernelSpec};
use xdptest_vm::{KernelRun, Options};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Whether VMs can run here; in CI they must.
fn have_qemu() -> bool {
    match xdptest_vm::qemu::qemu_binary() {
        Ok(_) => true,
        Err(e) if std::env::var_os("CI").is_some() => panic!("CI must run the VM tests: {e}"),
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

/// The static guest binary, built (incrementally) by scripts/build-guest, so it is never stale.
fn guest() -> PathBuf {
    static G: OnceLock<PathBuf> = OnceLock::new();
    G.get_or_init(|| {
        let out = Command::new(repo().join("scripts/build-guest")).output().expect("run scripts/build-guest");
        assert!(out.status.success(), "scripts/build-guest failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let p = repo().join(String::from_utf8_lossy(&out.stdout).trim());
        assert!(xdptest_vm::matrix::is_static(&p), "{} is not static", p.display());
        p
    })
    .clone()
}

fn test_kernel() -> Kernel {
    static K: OnceLock<Kernel> = OnceLock::new();
    K.get_or_init(|| {
        let spec: KernelSpec =
            std::env::var("XDPTEST_TEST_KERNEL").unwrap_or_else(|_| "debian:6.1".into()).parse().unwrap();
        let k = kernel::resolve(&spec, &kernel::default_cache_dir(), &mut |l| eprintln!("{spec}: {l}")).unwrap();
        kernel::check_config(&k).unwrap();
        k
    })
    .clone()
}

fn fixtures(paths: &[&str]) -> Vec<Fixture> {
    let st = Command::new("make").args(["-s", "-C"]).arg(repo().join("programs")).status().expect("make runs");
    assert!(st.success(), "building programs/ failed");
    // Spec paths are relative to the repository, like the CLI's.
    std::env::set_current_dir(repo()).unwrap();
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let specs = suite::discover(&paths).unwrap_or_else(|d| panic!("{d:?}"));
    let suite =
        suite::compile(&specs, &xdptest_compiler::spec::FsLoader::unconfined()).unwrap_or_else(|d| panic!("{d:?}"));
    suite.specs.into_iter().flat_map(|s| s.fixtures).collect()
}

fn vm_run(fixtures: &[Fixture], opts: &Options, kernels: &[Kernel]) -> Vec<KernelRun> {
    xdptest_vm::run_collected(kernels, fixtures, opts).unwrap()
}

fn kind(v: &Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail { .. } => "fail",
        Verdict::Error { .. } => "error",
        Verdict::Skip { .. } => "skip",
    }
}

fn describe(rs: &[ScenarioResult]) -> String {
    rs.iter().map(|r| format!("{}::{} {:?}\n", r.spec, r.scenario, r.verdict)).collect()
}

/// No qemu started by this process is left (each VM has its own work directory under this prefix).
fn assert_no_qemu_left() {
    let me = std::process::id().to_string();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let ppid = stat.rsplit(')').next().and_then(|s| s.split_whitespace().nth(1)).unwrap_or("");
        let cmd = String::from_utf8_lossy(&cmd);
        assert!(!(ppid == me && cmd.contains("qemu")), "a qemu child is still running: {cmd}");
    }
}

#[test]
fn example_specs_give_the_host_verdicts_in_a_vm() {
    if !have_qemu() {
        return;
    }
    let fx = fixtures(&["specs"]);
    let mut host = Vec::new();
    xdptest_runner::run_results(&fx, &RunOptions { jobs: 2, ..RunOptions::default() }, &Default::default(), |_, r| {
        host.push(r)
    });
    let mut opts = Options::new(guest());
    opts.shards = Some(2); // two VMs: sharding and the merge back into suite order
                           // Warm starts, from a state of this test's own: the first VM saves it, both restore it.
    let states = tempfile::tempdir().unwrap();
    opts.vm_states = Some(states.path().to_path_buf());
    let runs = vm_run(&fx, &opts, &[test_kernel()]);
    let vm = &runs[0];
    assert!(vm.failures.is_empty(), "{:?}", vm.failures);
    assert_eq!(vm.timings.len(), 2);
    assert!(vm.timings.iter().all(|t| t.start == VmStart::Restored), "{:?}", vm.timings);
    assert!(vm.notes.iter().any(|n| n.contains("saved the booted guest")), "{:?}", vm.notes);
    assert!(vm.release.starts_with("6.") || std::env::var_os("XDPTEST_TEST_KERNEL").is_some(), "{}", vm.release);
    assert_eq!(vm.results.len(), host.len());
    for (h, v) in host.iter().zip(&vm.results) {
        assert_eq!((&h.spec, &h.scenario), (&v.spec, &v.scenario));
        assert_eq!(
            kind(&h.verdict),
            kind(&v.verdict),
            "{}::{}\nhost: {:?}\nvm: {:?}",
            h.spec,
            h.scenario,
            h.verdict,
            v.verdict
        );
        // Same packets out, byte for byte.
        let outputs = |r: &ScenarioResult| r.runs.iter().map(|x| (x.action, x.output.clone())).collect::<Vec<_>>();
        assert_eq!(outputs(h), outputs(v), "{}::{}", h.spec, h.scenario);
    }
    assert!(vm.results.iter().all(|r| r.verdict.is_pass()), "{}", describe(&vm.results));
    assert_no_qemu_left();
    // A damaged saved state: the VM boots instead (same verdicts), says why, and the state is gone.
    let saved: Vec<PathBuf> = std::fs::read_dir(states.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let bytes = std::fs::read(&saved[0]).unwrap();
    std::fs::write(&saved[0], &bytes[..bytes.len() / 2]).unwrap();
    opts.shards = Some(1);
    let again = vm_run(&fx, &opts, &[test_kernel()]);
    assert!(again[0].failures.is_empty(), "{:?}", again[0].failures);
    assert_eq!(again[0].timings[0].start, VmStart::Booted);
    assert!(again[0].notes.iter().any(|n| n.contains("did not restore")), "{:?}", again[0].notes);
    assert!(!saved[0].exists());
    assert!(again[0].results.iter().all(|r| r.verdict.is_pass()), "{}", describe(&again[0].results));
    assert_no_qemu_left();
}

#[test]
fn a_guest_that_cannot_start_fails_with_the_panic_and_the_console() {
    if !have_qemu() {
        return;
    }
    let fx = fixtures(&["specs/counter"]);
    let dir = tempfile::tempdir().unwrap();
    // Not an executable: the kernel finds no init and panics.
    let bogus = dir.path().join("init");
    std::fs::write(&bogus, b"not an ELF").unwrap();
    let mut opts = Options::new(bogus);
    opts.vm_states = None;
    let runs = vm_run(&fx, &opts, &[test_kernel()]);
    let f = &runs[0].failures;
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(matches!(f[0].failure, VmFailure::KernelPanic { .. }), "{}", f[0].failure);
    assert!(f[0].console.contains("Kernel panic"), "{}", f[0].console);
    for r in &runs[0].results {
        assert!(
            matches!(&r.verdict, Verdict::Error { error: RunError::Vm { failure: VmFailure::KernelPanic { .. }, .. } }),
            "{:?}",
            r.verdict
        );
    }
    assert_no_qemu_left();
}

#[test]
fn a_boot_past_its_deadline_is_killed_and_reported() {
    if !have_qemu() {
        return;
    }
    let fx = fixtures(&["specs/counter"]);
    let mut opts = Options::new(guest());
    opts.timeout_scale = 0.0001; // deadlines of 0.1 s: no kernel boots that fast
    opts.vm_states = None;
    let t = std::time::Instant::now();
    let runs = vm_run(&fx, &opts, &[test_kernel()]);
    let f = &runs[0].failures;
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(matches!(f[0].failure, VmFailure::BootTimeout { .. } | VmFailure::RunTimeout { .. }), "{}", f[0].failure);
    assert!(t.elapsed().as_secs() < 30, "{:?}", t.elapsed());
    assert!(runs[0].results.iter().all(|r| matches!(r.verdict, Verdict::Error { .. })));
    assert_no_qemu_left();
}

/// A VLAN stage in the guest: the `8021q` module (and its dependencies) are loaded from the kernel
/// package and the stage is built through netlink. Hosts without 8021q skip the scenario instead.
#[test]
fn vlan_stages_load_their_modules_in_the_guest() {
    if !have_qemu() {
        return;
    }
    fixtures(&["specs/counter"]); // builds the programs
    let dir = tempfile::tempdir().unwrap();
    let object = repo().join("programs/build/counter.o");
    std::fs::write(
        dir.path().join("vlan.pkt"),
        format!(
            "program \"{}\" xdp \"xdp_counter\"\n\
             env {{\n  link eth0 veth peer eth0p\n  link vlan5 vlan 5 on eth0 addr 10.0.5.1/24\n}}\n\
             scenario \"vlan\" {{\n  send ether() / ipv4() / udp() ingress vlan5\n  expect XDP_PASS\n}}\n",
            object.display()
        ),
    )
    .unwrap();
    let fx = fixtures(&[dir.path().to_str().unwrap()]);
    let mut host = Vec::new();
    xdptest_runner::run_results(&fx, &RunOptions { jobs: 1, ..RunOptions::default() }, &Default::default(), |_, r| {
        host.push(r)
    });
    assert!(matches!(host[0].verdict, Verdict::Pass | Verdict::Skip { .. }), "{:?}", host[0].verdict);
    let mut opts = Options::new(guest());
    opts.vm_states = None;
    let runs = vm_run(&fx, &opts, &[test_kernel()]);
    assert!(runs[0].notes.is_empty(), "{:?}", runs[0].notes);
    assert!(runs[0].results[0].verdict.is_pass(), "{:?}", runs[0].results[0].verdict);
}
