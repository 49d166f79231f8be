//! Kernels × shards: every kernel runs the suite in one or more VMs (shards of the suite), all VMs of all
//! kernels concurrently within a CPU and memory budget. Each VM gets a throwaway initramfs with the
//! static guest binary as `/init`, the shard's fixtures, the program objects and the modules its network
//! stages need. Results come back per kernel, in suite order; a VM that fails (hang, panic, OOM, garbled
//! channel) turns its scenarios into errors that carry the reason, and its console is kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use xdptest_compiler::fixture::{EnvItem, LinkKind};
use xdptest_compiler::Fixture;
use xdptest_runner::{ScenarioResult, Verdict};

use crate::channel::{Record, PROTOCOL};
use crate::guest::{Payload, MODULES, OBJECTS, SUITE};
use crate::initramfs::Archive;
use crate::kernel::{self, Kernel};
use crate::qemu::{self, Accel, VmConfig};

/// How to run a matrix.
#[derive(Debug, Clone)]
pub struct Options {
    /// vCPUs in use at once, over all VMs (each VM has one).
    pub jobs: usize,
    /// Guest memory in use at once, over all VMs.
    pub memory_budget_mib: u64,
    /// The static xdptest binary that becomes each guest's `/init` (see [`guest_binary`]).
    pub guest_binary: PathBuf,
    /// Shards per kernel; `None` picks from the budget and the suite's size.
    pub shards: Option<usize>,
    /// Multiplies every deadline (`XDPTEST_VM_TIMEOUT_SCALE`).
    pub timeout_scale: f64,
    /// Per fixture (suite order): read map contents around each send, for snapshot reports.
    pub dump_maps: Vec<bool>,
}

impl Options {
    /// Defaults for this machine: every CPU, half the available memory.
    pub fn new(guest_binary: PathBuf) -> Options {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let scale = std::env::var("XDPTEST_VM_TIMEOUT_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
        Options {
            jobs: cpus,
            memory_budget_mib: available_memory_mib() / 2,
            guest_binary,
            shards: None,
            timeout_scale: scale,
            dump_maps: Vec::new(),
        }
    }
}

fn available_memory_mib() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib / 1024)
        .unwrap_or(2048)
}

/// What happens, for progress displays.
#[derive(Debug, Clone)]
pub enum Event {
    /// A VM is being prepared and booted.
    Booting { vm: usize, kernel: String, shard: usize, shards: usize, scenarios: usize },
    /// Its guest is up.
    Started { vm: usize, release: String },
    /// One more result arrived.
    Result { vm: usize },
    /// The VM is done (`failure` set when it failed).
    Finished { vm: usize, failure: Option<String> },
}

/// One failed VM: why, and its console.
#[derive(Debug, Clone)]
pub struct VmFailure {
    pub shard: usize,
    pub reason: String,
    pub console: String,
}

/// Timings of one VM.
#[derive(Debug, Clone)]
pub struct VmTiming {
    pub shard: usize,
    /// qemu start → the guest's start record.
    pub boot: Option<Duration>,
    /// qemu start → the last result (or the failure).
    pub wall: Duration,
    /// Inside the guest: the runner's wall time and program load time.
    pub guest_wall: Duration,
    pub guest_load: Duration,
}

/// Everything one kernel produced.
#[derive(Debug, Clone)]
pub struct KernelRun {
    /// `debian:6.1`, or the image path.
    pub label: String,
    /// The release the guest reported (`uname -r`), else the one the package names.
    pub release: String,
    pub accel: Accel,
    /// One per fixture, in the fixtures' order.
    pub results: Vec<ScenarioResult>,
    pub failures: Vec<VmFailure>,
    /// Guest-side warnings (modules that did not load, …).
    pub notes: Vec<String>,
    pub vms: Vec<VmTiming>,
}

/// Where the static guest binary is: `XDPTEST_GUEST_BINARY`; this executable itself when it is statically
/// linked; `xdptest-guest` beside it; or `guest/x86_64-unknown-linux-gnu/release/xdptest` in a cargo
/// target directory above it (what `scripts/build-guest` builds).
pub fn guest_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("XDPTEST_GUEST_BINARY") {
        let p = PathBuf::from(p);
        return if is_static(&p) {
            Ok(p)
        } else {
            Err(format!("XDPTEST_GUEST_BINARY={} is not a statically linked executable", p.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    if is_static(&exe) && exe.file_name().is_some_and(|n| n == "xdptest") {
        return Ok(exe);
    }
    let mut candidates = vec![exe.with_file_name("xdptest-guest")];
    candidates.extend(exe.ancestors().skip(1).map(|a| a.join("guest/x86_64-unknown-linux-gnu/release/xdptest")));
    candidates.into_iter().find(|p| is_static(p)).ok_or_else(|| {
        "no static guest binary for VMs: build it with scripts/build-guest (or set XDPTEST_GUEST_BINARY)".to_string()
    })
}

/// An ELF executable without a program interpreter (statically linked).
pub fn is_static(path: &Path) -> bool {
    use object::read::elf::{ElfFile64, ProgramHeader};
    let Ok(bytes) = std::fs::read(path) else { return false };
    let Ok(elf) = ElfFile64::<object::Endianness>::parse(&*bytes) else { return false };
    let endian = elf.endian();
    !elf.elf_program_headers().iter().any(|ph| ph.p_type(endian) == object::elf::PT_INTERP)
}

/// The kernel modules the fixtures' network stages need (a dummy link may fall back to veth).
pub fn wanted_modules(fixtures: &[Fixture]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for item in fixtures.iter().flat_map(|f| &f.env) {
        if let EnvItem::Link { kind, .. } = item {
            let names: &[&'static str] = match kind {
                LinkKind::Dummy => &["dummy", "veth"],
                LinkKind::Veth { .. } => &["veth"],
                LinkKind::Vlan { .. } => &["8021q"],
            };
            for n in names {
                if !out.contains(n) {
                    out.push(*n);
                }
            }
        }
    }
    out
}

/// One VM to run.
struct Task {
    kernel: usize,
    shard: usize,
    shards: usize,
    /// Indexes into the suite.
    items: Vec<usize>,
}

/// Runs `fixtures` on every kernel. Errors are problems before any VM starts (no qemu, no guest binary).
pub fn run(
    kernels: &[Kernel],
    fixtures: &[Fixture],
    opts: &Options,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Vec<KernelRun>, String> {
    let qemu_bin = qemu::qemu_binary()?;
    qemu::install_signal_handler();
    let guest = std::fs::read(&opts.guest_binary)
        .map_err(|e| format!("cannot read the guest binary {}: {e}", opts.guest_binary.display()))?;
    let (accel, _why_not_kvm) = qemu::accel(&qemu_bin);
    // Objects, read once.
    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    for f in fixtures {
        if !objects.iter().any(|(p, _)| *p == f.program.object) {
            let bytes = std::fs::read(&f.program.object).unwrap_or_default();
            objects.push((f.program.object.clone(), bytes));
        }
    }
    // Modules, per kernel.
    let wanted = wanted_modules(fixtures);
    let mut modules = Vec::new();
    let mut notes: Vec<Vec<String>> = vec![Vec::new(); kernels.len()];
    for (k, kernel) in kernels.iter().enumerate() {
        // Built-in drivers need nothing; a driver the kernel lacks altogether shows up as the stage's error.
        let names: Vec<&str> = wanted.iter().copied().filter(|m| kernel::module_path(kernel, m).is_some()).collect();
        let mods = match kernel::modules_to_load(kernel, &names) {
            Ok(m) => m,
            Err(e) => {
                notes[k].push(e.to_string());
                Vec::new()
            }
        };
        modules.push(mods);
    }
    // Shards and their VMs.
    let mem_per_vm = memory_for(
        guest.len(),
        &objects,
        modules.iter().map(|m| m.iter().map(|x| x.image.len()).sum()).max().unwrap_or(0),
        fixtures.len(),
    );
    let slots = opts.jobs.max(1).min((opts.memory_budget_mib / mem_per_vm).max(1) as usize);
    let shards = opts.shards.unwrap_or_else(|| auto_shards(slots, kernels.len(), fixtures.len(), accel)).max(1);
    let shards = shards.min(fixtures.len().max(1));
    let mut tasks = Vec::new();
    for k in 0..kernels.len() {
        for s in 0..shards {
            let items: Vec<usize> = (s..fixtures.len()).step_by(shards).collect();
            tasks.push(Task { kernel: k, shard: s, shards, items });
        }
    }
    let concurrent = slots.min(tasks.len()).max(1);
    let host_cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // Deadlines grow when VMs share CPUs.
    let crowding = (concurrent as f64 / host_cpus as f64).max(1.0);
    let scale = opts.timeout_scale * crowding * if accel == Accel::Kvm { 0.5 } else { 1.0 };
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<BTreeMap<usize, (qemu::VmOutcome, Option<String>)>> = Mutex::new(BTreeMap::new());
    let work_root = tempfile::Builder::new()
        .prefix("xdptest-vm-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    std::thread::scope(|scope| {
        for _ in 0..concurrent {
            scope.spawn(|| loop {
                let t = next.fetch_add(1, Ordering::SeqCst);
                let Some(task) = tasks.get(t) else { break };
                let kernel = &kernels[task.kernel];
                on_event(Event::Booting {
                    vm: t,
                    kernel: kernel.label.clone(),
                    shard: task.shard,
                    shards: task.shards,
                    scenarios: task.items.len(),
                });
                let dir = work_root.path().join(format!("vm{t}"));
                let programs = {
                    let mut p: Vec<&str> = task.items.iter().map(|&i| fixtures[i].program.object.as_str()).collect();
                    p.sort();
                    p.dedup();
                    p.len()
                };
                let result = std::fs::create_dir_all(&dir).map_err(|e| e.to_string()).and_then(|()| {
                    let shard: Vec<&Fixture> = task.items.iter().map(|&i| &fixtures[i]).collect();
                    let dump_maps: Vec<bool> =
                        task.items.iter().map(|&i| opts.dump_maps.get(i).copied().unwrap_or(false)).collect();
                    let initrd = build_initramfs(&guest, &shard, &dump_maps, &objects, &modules[task.kernel])?;
                    let path = dir.join("initrd.cpio");
                    std::fs::write(&path, &initrd).map_err(|e| format!("writing {}: {e}", path.display()))?;
                    Ok(path)
                });
                let (outcome, prep_error) = match result {
                    Ok(initrd) => {
                        let cfg = VmConfig {
                            qemu: qemu_bin.clone(),
                            kernel: kernel.image.clone(),
                            initrd,
                            dir: dir.clone(),
                            memory_mib: mem_per_vm,
                            cpus: 1,
                            accel,
                            boot_timeout: secs(if accel == Accel::Kvm { 60.0 } else { 120.0 } * scale),
                            run_timeout: secs((60.0 + 3.0 * programs as f64 + 0.1 * task.items.len() as f64) * scale),
                            scenarios: task.items.len(),
                        };
                        let out = qemu::run_vm(&cfg, &mut |r| match r {
                            Record::Start { release, .. } => {
                                on_event(Event::Started { vm: t, release: release.clone() })
                            }
                            Record::Result { .. } => on_event(Event::Result { vm: t }),
                            _ => {}
                        });
                        (out, None)
                    }
                    Err(e) => (qemu::VmOutcome::default(), Some(e)),
                };
                let failure = prep_error.clone().or_else(|| outcome.failure.clone());
                on_event(Event::Finished { vm: t, failure });
                outcomes.lock().unwrap_or_else(|e| e.into_inner()).insert(t, (outcome, prep_error));
            });
        }
    });
    // `XDPTEST_VM_KEEP=1` keeps every VM's directory (initramfs, console.log, results.bin) for debugging.
    if std::env::var_os("XDPTEST_VM_KEEP").is_some_and(|v| v == "1") {
        eprintln!("xdptest: VM files kept in {}", work_root.keep().display());
    }
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    // Merge per kernel.
    let guest_paths: Vec<(String, String)> =
        objects.iter().enumerate().map(|(i, (p, _))| (format!("/{OBJECTS}/{i}.o"), p.clone())).collect();
    let mut runs = Vec::new();
    for (k, kernel) in kernels.iter().enumerate() {
        let mut results: Vec<Option<ScenarioResult>> = vec![None; fixtures.len()];
        let mut run = KernelRun {
            label: kernel.label.clone(),
            release: kernel.version.clone(),
            accel,
            results: Vec::new(),
            failures: Vec::new(),
            notes: std::mem::take(&mut notes[k]),
            vms: Vec::new(),
        };
        for (t, task) in tasks.iter().enumerate().filter(|(_, t)| t.kernel == k) {
            let Some((out, prep_error)) = outcomes.remove(&t) else { continue };
            let mut timing = VmTiming {
                shard: task.shard,
                boot: out.boot,
                wall: out.wall,
                guest_wall: Duration::ZERO,
                guest_load: Duration::ZERO,
            };
            for r in &out.records {
                match r {
                    Record::Start { protocol, release, .. } => {
                        if *protocol != PROTOCOL {
                            run.failures.push(VmFailure {
                                shard: task.shard,
                                reason: format!("the guest binary speaks protocol {protocol}, this xdptest {PROTOCOL}: rebuild it with scripts/build-guest"),
                                console: String::new(),
                            });
                        }
                        run.release = release.clone();
                    }
                    Record::Note { text } if !run.notes.contains(text) => run.notes.push(text.clone()),
                    Record::Result { index, result } if out.failure.is_none() => {
                        if let Some(&global) = task.items.get(*index) {
                            let mut r = (**result).clone();
                            host_paths(&mut r, &guest_paths);
                            results[global] = Some(r);
                        }
                    }
                    Record::End { load_micros, wall_micros, .. } => {
                        timing.guest_wall = Duration::from_micros(*wall_micros);
                        timing.guest_load = Duration::from_micros(*load_micros);
                    }
                    _ => {}
                }
            }
            if let Some(reason) = prep_error.or(out.failure.clone()) {
                run.failures.push(VmFailure { shard: task.shard, reason, console: out.console.clone() });
            }
            run.vms.push(timing);
        }
        // A failed VM's scenarios are errors that say why (results of a failed VM are not trusted).
        let reason = |i: usize| {
            let shard = tasks.iter().find(|t| t.kernel == k && t.items.contains(&i)).map(|t| t.shard);
            run.failures
                .iter()
                .find(|f| Some(f.shard) == shard)
                .map(|f| f.reason.clone())
                .unwrap_or_else(|| "the VM sent no result for this scenario".into())
        };
        run.results = results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| ScenarioResult {
                    spec: fixtures[i].spec.clone(),
                    scenario: fixtures[i].scenario.clone(),
                    verdict: Verdict::Error { message: format!("VM on {}: {}", kernel.label, reason(i)) },
                    runs: Vec::new(),
                    duration: Duration::ZERO,
                })
            })
            .collect();
        runs.push(run);
    }
    Ok(runs)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.1))
}

/// Guest memory: the kernel and runtime, plus the initramfs twice (the archive and its unpacked copy),
/// plus room for maps and results.
fn memory_for(guest: usize, objects: &[(String, Vec<u8>)], modules: usize, scenarios: usize) -> u64 {
    let payload = guest + objects.iter().map(|(_, b)| b.len()).sum::<usize>() + modules + scenarios * 4096;
    let mib = 192 + (2 * payload as u64).div_ceil(1 << 20) + (scenarios as u64 / 256);
    mib.div_ceil(32) * 32
}

/// Shards per kernel: more VMs only pay off when each has enough scenarios to outweigh a boot.
fn auto_shards(slots: usize, kernels: usize, scenarios: usize, accel: Accel) -> usize {
    let per_vm = if accel == Accel::Kvm { 2000 } else { 500 };
    let free = (slots / kernels.max(1)).max(1);
    free.min(scenarios.div_ceil(per_vm)).max(1)
}

/// The initramfs of one VM.
fn build_initramfs(
    guest: &[u8],
    shard: &[&Fixture],
    dump_maps: &[bool],
    objects: &[(String, Vec<u8>)],
    modules: &[kernel::Module],
) -> Result<Vec<u8>, String> {
    let mut a = Archive::new();
    a.file("init", 0o755, guest).char_device("dev/console", 0o600, 5, 1).dir("proc").dir("sys").dir("tmp");
    let mut fixtures = Vec::with_capacity(shard.len());
    let mut used = vec![false; objects.len()];
    for f in shard {
        let i = objects.iter().position(|(p, _)| *p == f.program.object).expect("every object was read");
        used[i] = true;
        let mut f = (*f).clone();
        f.program.object = format!("/{OBJECTS}/{i}.o");
        fixtures.push(f);
    }
    for (i, (_, bytes)) in objects.iter().enumerate().filter(|(i, _)| used[*i]) {
        a.file(&format!("{OBJECTS}/{i}.o"), 0o644, bytes);
    }
    let mut names = Vec::new();
    for m in modules {
        let name = format!("{}.ko", m.name);
        a.file(&format!("{MODULES}/{name}"), 0o644, &m.image);
        names.push(name);
    }
    let payload = Payload { fixtures, modules: names, dump_maps: dump_maps.to_vec() };
    let json = serde_json::to_vec(&payload).map_err(|e| format!("encoding the suite: {e}"))?;
    a.file(SUITE, 0o644, &json);
    Ok(a.finish())
}

/// Error messages name objects by their guest paths: put the host paths back.
fn host_paths(r: &mut ScenarioResult, map: &[(String, String)]) {
    if let Verdict::Error { message } | Verdict::Skip { reason: message } = &mut r.verdict {
        for (guest, host) in map {
            if message.contains(guest.as_str()) {
                *message = message.replace(guest.as_str(), host);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_only_for_large_suites() {
        assert_eq!(auto_shards(4, 2, 30, Accel::Tcg), 1);
        assert_eq!(auto_shards(4, 1, 3000, Accel::Tcg), 4);
        assert_eq!(auto_shards(1, 3, 3000, Accel::Tcg), 1);
    }

    #[test]
    fn memory_grows_with_the_payload() {
        let small = memory_for(6 << 20, &[], 0, 10);
        assert!((192..=256).contains(&small), "{small}");
        assert!(memory_for(6 << 20, &[("a".into(), vec![0; 64 << 20])], 0, 10) > small + 100);
    }

    #[test]
    fn this_test_binary_is_not_static() {
        assert!(!is_static(&std::env::current_exe().unwrap()));
    }
}
