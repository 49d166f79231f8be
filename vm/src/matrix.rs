//! Kernels × shards: every kernel runs the suite in one or more VMs (shards of the suite), all VMs of all
//! kernels concurrently within a CPU and memory budget. Each VM gets a throwaway initramfs with the
//! static guest binary as `/init`, the shard's fixtures, the program objects and the modules its network
//! stages need. Everything that happens comes back as [`RunEvent`]s, the same stream a host run gives:
//! results as each VM reports them, and a VM that fails (hang, panic, OOM, a dead qemu, a garbled
//! channel) turns the scenarios it did not report into errors that carry the reason, with its console.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use xdptest_compiler::fixture::{EnvItem, LinkKind};
use xdptest_compiler::Fixture;
use xdptest_runner::error::{OsError, RunError, VmFailure};
use xdptest_runner::events::{ShardTiming, TargetFailure, VmStart};
use xdptest_runner::{Cancel, RunEvent, RunStats, ScenarioResult, Target, Verdict};

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
    /// Multiplies every deadline.
    pub timeout_scale: f64,
    /// Per fixture (suite order): read map contents around each send, for snapshot reports.
    pub dump_maps: Vec<bool>,
    /// Measure coverage in the guests (see `xdptest_runner::Observe::coverage`).
    pub coverage: bool,
    /// Stops every VM when set.
    pub cancel: Cancel,
    /// Where saved VM states are kept for warm starts (see [`warm`](crate::warm)); `None` boots every VM.
    pub vm_states: Option<PathBuf>,
}

impl Options {
    /// Defaults for this machine: every CPU, half the available memory, deadlines unscaled.
    pub fn new(guest_binary: PathBuf) -> Options {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Options {
            jobs: cpus,
            memory_budget_mib: available_memory_mib() / 2,
            guest_binary,
            shards: None,
            timeout_scale: 1.0,
            dump_maps: Vec::new(),
            coverage: false,
            cancel: Cancel::new(),
            vm_states: default_vm_states(),
        }
    }
}

/// `vm-states/` beside the kernel cache, unless `XDPTEST_VM_WARM=0`.
pub fn default_vm_states() -> Option<PathBuf> {
    if std::env::var_os("XDPTEST_VM_WARM").is_some_and(|v| v == "0") {
        return None;
    }
    kernel::default_cache_dir().parent().map(|d| d.join("vm-states"))
}

fn available_memory_mib() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib / 1024)
        .unwrap_or(2048)
}

/// Why no VM could start at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    #[error("qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86)")]
    NoQemu,
    #[error("cannot read the guest binary {path}: {os}")]
    Guest { path: String, os: OsError },
    /// The shared libraries of a dynamically linked guest binary could not be found.
    #[error("cannot find the shared libraries of the guest binary {path}: {reason}")]
    GuestLibraries { path: String, reason: String },
    #[error("cannot read {object}: {os}")]
    Object { object: String, os: OsError },
    #[error("cannot create a temporary directory: {os}")]
    TempDir { os: OsError },
}

/// The binary that becomes each guest's `/init`: `XDPTEST_GUEST_BINARY` when set, else this executable
/// itself — statically linked or not (a dynamically linked one brings its shared libraries along, see
/// [`guest_libraries`]), so that any installed xdptest boots VMs, always with its own version.
pub fn guest_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("XDPTEST_GUEST_BINARY") {
        let p = PathBuf::from(p);
        return if has_interpreter(&p).is_some() {
            Ok(p)
        } else {
            Err(format!("XDPTEST_GUEST_BINARY={} is not an executable ELF file", p.display()))
        };
    }
    std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))
}

/// The files a dynamically linked `binary` needs in the guest: its program interpreter and every shared
/// library, each at the path the host's loader resolves it to (what `ldd` prints), with its bytes.
/// Empty for a static binary.
pub fn guest_libraries(binary: &Path) -> Result<Vec<(String, Vec<u8>)>, MatrixError> {
    if !is_dynamic(binary) {
        return Ok(Vec::new());
    }
    let failed = |reason: String| MatrixError::GuestLibraries { path: binary.display().to_string(), reason };
    let out = std::process::Command::new("ldd").arg(binary).output().map_err(|e| failed(format!("ldd: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!("ldd: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let mut files = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line.trim();
        if line.contains("not found") {
            return Err(failed(line.to_string()));
        }
        // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`;
        // the vDSO (`linux-vdso.so.1 (0x…)`) is the kernel's.
        let path = line.split_once("=>").map_or(line, |(_, p)| p.trim());
        let path = path.split(" (").next().unwrap_or("").trim();
        if !path.starts_with('/') {
            continue;
        }
        let bytes = std::fs::read(path).map_err(|e| failed(format!("{path}: {e}")))?;
        files.push((path.to_string(), bytes));
    }
    Ok(files)
}

/// Whether `path` is an ELF executable with a program interpreter (`PT_INTERP`): `Some(true)` when
/// dynamically linked, `Some(false)` when static, `None` when it is no ELF file.
fn has_interpreter(path: &Path) -> Option<bool> {
    use object::read::elf::{ElfFile64, ProgramHeader};
    let bytes = std::fs::read(path).ok()?;
    let elf = ElfFile64::<object::Endianness>::parse(&*bytes).ok()?;
    let endian = elf.endian();
    Some(elf.elf_program_headers().iter().any(|ph| ph.p_type(endian) == object::elf::PT_INTERP))
}

/// A dynamically linked ELF executable.
fn is_dynamic(path: &Path) -> bool {
    has_interpreter(path) == Some(true)
}

/// A statically linked ELF executable.
pub fn is_static(path: &Path) -> bool {
    has_interpreter(path) == Some(false)
}

/// The kernel modules the fixtures' network stages need (a dummy link may fall back to veth).
pub fn wanted_modules(fixtures: &[Fixture]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for decl in fixtures.iter().flat_map(|f| f.env.iter()) {
        if let EnvItem::Link { kind, .. } = &decl.item {
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

/// What every VM shares.
struct Plan<'a> {
    kernels: &'a [Kernel],
    fixtures: &'a [Fixture],
    opts: &'a Options,
    qemu: PathBuf,
    accel: Accel,
    guest: Vec<u8>,
    /// The guest binary's interpreter and shared libraries, by path (none for a static binary).
    guest_libs: Vec<(String, Vec<u8>)>,
    objects: Vec<(String, Vec<u8>)>,
    modules: Vec<Vec<kernel::Module>>,
    mem_per_vm: u64,
    /// Deadlines multiply by this.
    scale: f64,
    work_root: PathBuf,
    /// Each target's label (unique).
    labels: Vec<String>,
    /// Per kernel: its warm start, when saved states are on.
    warm: Vec<Option<Warm>>,
}

/// A kernel's warm start: the saved state to restore, saved first by the first VM that needs it.
struct Warm {
    /// The initramfs without a suite that the saved guest booted from.
    initrd: PathBuf,
    state: PathBuf,
    memory_mib: u64,
    /// Whether the state exists (after saving it, if need be); why not.
    ready: std::sync::OnceLock<Result<(), String>>,
}

/// Runs `fixtures` on every kernel; `on_event` sees the run's [`RunEvent`]s on the calling thread, as
/// they happen. Errors are problems before any VM starts (no qemu, an unreadable guest binary).
pub fn run(
    kernels: &[Kernel],
    fixtures: &[Fixture],
    opts: &Options,
    on_event: &mut dyn FnMut(RunEvent),
) -> Result<RunStats, MatrixError> {
    let start = Instant::now();
    let qemu_bin = qemu::qemu_binary().map_err(|_| MatrixError::NoQemu)?;
    let guest = std::fs::read(&opts.guest_binary).map_err(|e| MatrixError::Guest {
        path: opts.guest_binary.display().to_string(),
        os: OsError::new("read", &e),
    })?;
    let guest_libs = guest_libraries(&opts.guest_binary)?;
    let (accel, _why_not_kvm) = qemu::accel_for(&qemu_bin, kernels.first().map(|k| k.image.as_path()));
    // Objects, read once.
    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    for f in fixtures {
        if !objects.iter().any(|(p, _)| *p == f.program.object) {
            let bytes = std::fs::read(&f.program.object)
                .map_err(|e| MatrixError::Object { object: f.program.object.clone(), os: OsError::new("read", &e) })?;
            objects.push((f.program.object.clone(), bytes));
        }
    }
    let targets = targets(kernels, accel);
    let labels: Vec<String> = targets.iter().map(|t| t.label.clone()).collect();
    on_event(RunEvent::Started { scenarios: fixtures.len(), targets });
    let modules = modules(kernels, fixtures, on_event);
    // Shards and their VMs.
    let mem_per_vm = memory_for(
        guest.len(),
        &objects,
        modules.iter().map(|m| m.iter().map(|x| x.image.len()).sum()).max().unwrap_or(0),
        fixtures.len(),
    );
    let slots = opts.jobs.max(1).min((opts.memory_budget_mib / mem_per_vm).max(1) as usize);
    let tasks = tasks(
        kernels.len(),
        fixtures.len(),
        opts.shards.unwrap_or_else(|| auto_shards(slots, kernels.len(), fixtures.len(), accel)),
    );
    let concurrent = slots.min(tasks.len()).max(1);
    let host_cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // Deadlines grow when VMs share CPUs.
    let crowding = (concurrent as f64 / host_cpus as f64).max(1.0);
    let scale = opts.timeout_scale * crowding * if accel == Accel::Kvm { 0.5 } else { 1.0 };
    // Named after this process: what a killed run leaves is removed by the next one.
    let work_root = xdptest_compiler::owner::temp_dir("xdptest-vm-")
        .map_err(|e| MatrixError::TempDir { os: OsError::new("mkdtemp", &e) })?;
    let warm = match &opts.vm_states {
        Some(dir) => warm_starts(dir, kernels, &qemu_bin, accel, &guest, &guest_libs, mem_per_vm, work_root.path()),
        None => kernels.iter().map(|_| None).collect(),
    };
    let plan = Plan {
        warm,
        kernels,
        fixtures,
        opts,
        qemu: qemu_bin,
        accel,
        guest,
        guest_libs,
        objects,
        modules,
        mem_per_vm,
        scale,
        work_root: work_root.path().to_path_buf(),
        labels,
    };
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut stats = RunStats::default();
    std::thread::scope(|scope| {
        for _ in 0..concurrent {
            let (tx, plan, tasks, next) = (tx.clone(), &plan, &tasks, &next);
            scope.spawn(move || loop {
                let t = next.fetch_add(1, Ordering::SeqCst);
                let Some(task) = tasks.get(t) else { break };
                if plan.opts.cancel.is_cancelled() {
                    break;
                }
                run_task(plan, task, t, &tx);
            });
        }
        drop(tx);
        for msg in rx {
            match msg {
                Msg::Event(e) => on_event(e),
                Msg::Guest { loads, load } => {
                    stats.loads += loads;
                    stats.load_time += load;
                }
            }
        }
    });
    // `XDPTEST_VM_KEEP=1` keeps every VM's directory (initramfs, console.log, results.bin) for debugging.
    if std::env::var_os("XDPTEST_VM_KEEP").is_some_and(|v| v == "1") {
        on_event(RunEvent::Note { target: 0, text: format!("VM files kept in {}", work_root.keep().display()) });
    }
    stats.wall = start.elapsed();
    on_event(RunEvent::Done { stats: stats.clone(), cancelled: opts.cancel.is_cancelled() });
    Ok(stats)
}

/// Each kernel's warm start (`None` where its key cannot be computed: the kernel image or qemu is
/// unreadable, which the boot will report).
#[allow(clippy::too_many_arguments)]
fn warm_starts(
    dir: &Path,
    kernels: &[Kernel],
    qemu: &Path,
    accel: Accel,
    guest: &[u8],
    guest_libs: &[(String, Vec<u8>)],
    mem_per_vm: u64,
    work_root: &Path,
) -> Vec<Option<Warm>> {
    let memory_mib = crate::warm::memory_mib(mem_per_vm);
    let initrd = build_initramfs(guest, guest_libs, &[]);
    let path = work_root.join("warm.cpio");
    if std::fs::write(&path, &initrd).is_err() {
        return kernels.iter().map(|_| None).collect();
    }
    kernels
        .iter()
        .map(|k| {
            let parts =
                crate::warm::KeyParts { initrd: &initrd, kernel: &k.image, qemu, accel, cpus: VM_CPUS, memory_mib };
            let state = crate::warm::path_for(dir, &k.version, &parts).ok()?;
            Some(Warm { initrd: path.clone(), state, memory_mib, ready: std::sync::OnceLock::new() })
        })
        .collect()
}

/// One target per kernel. Labels name targets in reports: the same kernel given twice is `debian:6.1`
/// and `debian:6.1 #2`.
fn targets(kernels: &[Kernel], accel: Accel) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    for k in kernels {
        let seen =
            targets.iter().filter(|t| t.label == k.label || t.label.starts_with(&format!("{} #", k.label))).count();
        let label = if seen == 0 { k.label.clone() } else { format!("{} #{}", k.label, seen + 1) };
        targets.push(Target { label, release: k.version.clone(), accel: Some(accel.to_string()), vm: true });
    }
    targets
}

/// Per kernel, the modules its guests load for the fixtures' network stages. Built-in drivers need
/// nothing; a driver the kernel lacks altogether shows up as the stage's error.
fn modules(kernels: &[Kernel], fixtures: &[Fixture], on_event: &mut dyn FnMut(RunEvent)) -> Vec<Vec<kernel::Module>> {
    let wanted = wanted_modules(fixtures);
    let mut modules = Vec::new();
    for (k, kernel) in kernels.iter().enumerate() {
        let names: Vec<&str> = wanted.iter().copied().filter(|m| kernel::module_path(kernel, m).is_some()).collect();
        let mods = match kernel::modules_to_load(kernel, &names) {
            Ok(m) => m,
            Err(e) => {
                on_event(RunEvent::Note { target: k, text: e.to_string() });
                Vec::new()
            }
        };
        modules.push(mods);
    }
    modules
}

/// Every kernel runs every shard: shard `s` of `n` holds the scenarios `s, s+n, s+2n, ...`.
fn tasks(kernels: usize, scenarios: usize, shards: usize) -> Vec<Task> {
    let shards = shards.max(1).min(scenarios.max(1));
    let mut tasks = Vec::new();
    for k in 0..kernels {
        for s in 0..shards {
            let items: Vec<usize> = (s..scenarios).step_by(shards).collect();
            tasks.push(Task { kernel: k, shard: s, shards, items });
        }
    }
    tasks
}

/// What VM threads send to the calling thread.
enum Msg {
    Event(RunEvent),
    /// A guest's own figures, from its `End` record.
    Guest {
        loads: usize,
        load: Duration,
    },
}

/// Boots one VM for one shard and streams what it reports.
fn run_task(plan: &Plan, task: &Task, t: usize, tx: &mpsc::Sender<Msg>) {
    let send = |e: RunEvent| {
        let _ = tx.send(Msg::Event(e));
    };
    let kernel = &plan.kernels[task.kernel];
    send(RunEvent::Booting {
        target: task.kernel,
        shard: task.shard,
        shards: task.shards,
        scenarios: task.items.len(),
    });
    let dir = plan.work_root.join(format!("vm{t}"));
    let programs = {
        let mut p: Vec<&str> = task.items.iter().map(|&i| plan.fixtures[i].program.object.as_str()).collect();
        p.sort();
        p.dedup();
        p.len()
    };
    let shard: Vec<&Fixture> = task.items.iter().map(|&i| &plan.fixtures[i]).collect();
    let dump_maps: Vec<bool> =
        task.items.iter().map(|&i| plan.opts.dump_maps.get(i).copied().unwrap_or(false)).collect();
    let files = payload_files(&shard, &dump_maps, plan.opts.coverage, &plan.objects, &plan.modules[task.kernel]);
    let guest_paths: Vec<(String, String)> =
        plan.objects.iter().enumerate().map(|(i, (p, _))| (format!("/{OBJECTS}/{i}.o"), p.clone())).collect();
    let mut reported = vec![false; task.items.len()];
    let config = |initrd: PathBuf, memory_mib: u64| VmConfig {
        qemu: plan.qemu.clone(),
        kernel: kernel.image.clone(),
        initrd,
        dir: dir.clone(),
        memory_mib,
        cpus: VM_CPUS,
        accel: plan.accel,
        boot_timeout: secs(if plan.accel == Accel::Kvm { 60.0 } else { 120.0 } * plan.scale),
        run_timeout: secs((60.0 + 3.0 * programs as f64 + 0.1 * task.items.len() as f64) * plan.scale),
        scenarios: task.items.len(),
        cancel: plan.opts.cancel.clone(),
        payload: None,
        incoming: None,
    };
    let mut attempt = |cfg: &VmConfig| {
        let mut protocol_ok = true;
        let out = qemu::run_vm(cfg, &mut |r| match r {
            Record::Start { protocol, release, .. } => {
                protocol_ok = *protocol == PROTOCOL;
                send(RunEvent::Ready { target: task.kernel, shard: task.shard, release: release.clone() })
            }
            Record::Note { text } => send(RunEvent::Note { target: task.kernel, text: text.clone() }),
            // Each record is checksummed: a result that arrived is the guest's own, whatever happens
            // to the VM afterwards.
            Record::Result { index, result } if protocol_ok => {
                if let (Some(&global), Some(seen)) = (task.items.get(*index), reported.get_mut(*index)) {
                    if !*seen {
                        *seen = true;
                        let mut r = (**result).clone();
                        host_paths(&mut r, &guest_paths);
                        send(RunEvent::Finished { target: task.kernel, index: global, result: Box::new(r) });
                    }
                }
            }
            Record::End { loads, load_micros, .. } => {
                let _ = tx.send(Msg::Guest { loads: *loads, load: Duration::from_micros(*load_micros) });
            }
            _ => {}
        });
        let failure = if protocol_ok {
            out.failure.clone()
        } else {
            let guest = out.records.iter().find_map(|r| match r {
                Record::Start { protocol, .. } => Some(*protocol),
                _ => None,
            });
            Some(VmFailure::Protocol { guest: guest.unwrap_or(0), host: PROTOCOL })
        };
        (out, failure)
    };
    let created = std::fs::create_dir_all(&dir).map_err(|e| OsError::new(format!("create {}", dir.display()), &e));
    // A warm start when this kernel has one: restore its saved state (saved first if need be).
    let mut warm_run = None;
    if let (Ok(()), Some(w)) = (&created, &plan.warm[task.kernel]) {
        let ready = w.ready.get_or_init(|| ensure_saved(plan, task.kernel, w, &send));
        let payload = dir.join("payload.bin");
        let written = ready.clone().and_then(|()| {
            std::fs::write(&payload, crate::bundle::encode(&files))
                .map_err(|e| format!("write {}: {e}", payload.display()))
        });
        if written.is_ok() {
            crate::warm::touch(&w.state);
            // A restore takes a fraction of a second: a guest that has not started within seconds
            // will not, and the VM boots instead.
            let cfg = VmConfig {
                payload: Some(payload),
                incoming: Some(w.state.clone()),
                boot_timeout: secs(30.0 * plan.scale),
                ..config(w.initrd.clone(), w.memory_mib)
            };
            let (out, failure) = attempt(&cfg);
            match &failure {
                // The guest never started: boot instead. The saved state is unusable (qemu refused
                // it, the guest did not wake) unless the restore only ran out of time (a busy machine).
                Some(f) if out.boot.is_none() && !plan.opts.cancel.is_cancelled() => {
                    if !matches!(f, VmFailure::BootTimeout { .. }) {
                        let _ = std::fs::remove_file(&w.state);
                    }
                    send(RunEvent::Note {
                        target: task.kernel,
                        text: format!("the saved VM state did not restore ({f}); booting instead"),
                    });
                    let _ = std::fs::remove_file(dir.join("results.bin"));
                }
                _ => warm_run = Some((out, failure)),
            }
        }
    }
    let start = if warm_run.is_some() { VmStart::Restored } else { VmStart::Booted };
    let (outcome, failure) = match (warm_run, created) {
        (Some(run), _) => run,
        (None, Err(os)) => (qemu::VmOutcome::default(), Some(VmFailure::Prepare { os })),
        (None, Ok(())) => {
            let path = dir.join("initrd.cpio");
            match std::fs::write(&path, build_initramfs(&plan.guest, &plan.guest_libs, &files)) {
                Err(e) => (
                    qemu::VmOutcome::default(),
                    Some(VmFailure::Prepare { os: OsError::new(format!("write {}", path.display()), &e) }),
                ),
                Ok(()) => attempt(&config(path, plan.mem_per_vm)),
            }
        }
    };
    // Scenarios the VM did not report: errors that say why (unless the whole run was interrupted, when
    // they are simply not reported).
    if !plan.opts.cancel.is_cancelled() {
        let why = failure.clone().unwrap_or(VmFailure::Incomplete {
            received: reported.iter().filter(|r| **r).count(),
            expected: task.items.len(),
            claimed: 0,
        });
        for (local, &global) in task.items.iter().enumerate().filter(|(l, _)| !reported[*l]) {
            let f = &plan.fixtures[global];
            let r = ScenarioResult {
                spec: f.spec.clone(),
                scenario: f.scenario.clone(),
                verdict: Verdict::Error {
                    error: RunError::Vm { kernel: plan.labels[task.kernel].clone(), failure: why.clone() },
                },
                runs: Vec::new(),
                duration: Duration::ZERO,
                coverage: None,
            };
            let _ = local;
            send(RunEvent::Finished { target: task.kernel, index: global, result: Box::new(r) });
        }
    }
    let guest_wall = outcome.records.iter().find_map(|r| match r {
        Record::End { wall_micros, .. } => Some(Duration::from_micros(*wall_micros)),
        _ => None,
    });
    send(RunEvent::TargetDone {
        target: task.kernel,
        shard: task.shard,
        failure: failure.map(|failure| TargetFailure { failure, console: outcome.console.clone() }),
        timing: ShardTiming { boot: outcome.boot, wall: outcome.wall, guest_wall, start },
    });
}

/// Everything one kernel produced, collected from the events (for benchmarks and tests).
#[derive(Debug, Clone)]
pub struct KernelRun {
    pub label: String,
    pub release: String,
    /// One per fixture, in the fixtures' order.
    pub results: Vec<ScenarioResult>,
    pub failures: Vec<TargetFailure>,
    pub notes: Vec<String>,
    pub timings: Vec<ShardTiming>,
}

/// [`run`], collecting the results per kernel instead of streaming them.
pub fn run_collected(kernels: &[Kernel], fixtures: &[Fixture], opts: &Options) -> Result<Vec<KernelRun>, MatrixError> {
    let mut runs: Vec<KernelRun> = kernels
        .iter()
        .map(|k| KernelRun {
            label: k.label.clone(),
            release: k.version.clone(),
            results: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            timings: Vec::new(),
        })
        .collect();
    let mut results: Vec<Vec<Option<ScenarioResult>>> = vec![vec![None; fixtures.len()]; kernels.len()];
    run(kernels, fixtures, opts, &mut |e| match e {
        RunEvent::Ready { target, release, .. } => runs[target].release = release,
        RunEvent::Note { target, text } => runs[target].notes.push(text),
        RunEvent::Finished { target, index, result } => results[target][index] = Some(*result),
        RunEvent::TargetDone { target, failure, timing, .. } => {
            runs[target].failures.extend(failure);
            runs[target].timings.push(timing);
        }
        _ => {}
    })?;
    for (run, results) in runs.iter_mut().zip(results) {
        // Only an interrupted run leaves scenarios without a result.
        run.results = results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| ScenarioResult {
                    spec: fixtures[i].spec.clone(),
                    scenario: fixtures[i].scenario.clone(),
                    verdict: Verdict::Error {
                        error: RunError::Vm { kernel: run.label.clone(), failure: VmFailure::Cancelled },
                    },
                    runs: Vec::new(),
                    duration: Duration::ZERO,
                    coverage: None,
                })
            })
            .collect();
    }
    Ok(runs)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.1))
}

/// Guest memory: the kernel and runtime, plus the initramfs three times (the archive, its unpacked
/// copy, and as much again: with twice, a 150 MB debug build of xdptest failed to unpack, "write
/// error"), plus room for maps and results.
fn memory_for(guest: usize, objects: &[(String, Vec<u8>)], modules: usize, scenarios: usize) -> u64 {
    let payload = guest + objects.iter().map(|(_, b)| b.len()).sum::<usize>() + modules + scenarios * 4096;
    let mib = 192 + (3 * payload as u64).div_ceil(1 << 20) + (scenarios as u64 / 256);
    mib.div_ceil(32) * 32
}

/// Shards per kernel: more VMs only pay off when each has enough scenarios to outweigh a boot.
fn auto_shards(slots: usize, kernels: usize, scenarios: usize, accel: Accel) -> usize {
    let per_vm = if accel == Accel::Kvm { 2000 } else { 500 };
    let free = (slots / kernels.max(1)).max(1);
    free.min(scenarios.div_ceil(per_vm)).max(1)
}

/// The initramfs of one VM: the guest binary as `/init` with its libraries, and `files` (a shard's
/// payload; none for the initramfs of a saved state, whose guest receives them after the restore).
fn build_initramfs(guest: &[u8], guest_libs: &[(String, Vec<u8>)], files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut a = Archive::new();
    a.file("init", 0o755, guest).char_device("dev/console", 0o600, 5, 1).dir("proc").dir("sys").dir("tmp");
    // A dynamically linked /init: the kernel starts its interpreter from the archive, which loads the
    // libraries from where the host's loader found them.
    for (path, bytes) in guest_libs {
        a.file(path, 0o755, bytes);
    }
    for (path, bytes) in files {
        a.file(path, 0o644, bytes);
    }
    a.finish()
}

/// What one VM runs, as files (relative paths): the objects its shard uses, the modules, and
/// [`SUITE`] (fixtures pointing at those objects).
fn payload_files(
    shard: &[&Fixture],
    dump_maps: &[bool],
    coverage: bool,
    objects: &[(String, Vec<u8>)],
    modules: &[kernel::Module],
) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut fixtures = Vec::with_capacity(shard.len());
    let mut used = vec![false; objects.len()];
    // The guest sees each object under its own path; fixtures of one program keep sharing it.
    let mut programs: Vec<(
        std::sync::Arc<xdptest_compiler::fixture::Program>,
        std::sync::Arc<xdptest_compiler::fixture::Program>,
    )> = Vec::new();
    for f in shard {
        let i = objects.iter().position(|(p, _)| *p == f.program.object).expect("every object was read");
        used[i] = true;
        let mut f = (*f).clone();
        let program = match programs.iter().find(|(host, _)| std::sync::Arc::ptr_eq(host, &f.program)) {
            Some((_, guest)) => guest.clone(),
            None => {
                let mut p = (*f.program).clone();
                p.object = format!("/{OBJECTS}/{i}.o");
                let guest = std::sync::Arc::new(p);
                programs.push((f.program.clone(), guest.clone()));
                guest
            }
        };
        f.program = program;
        fixtures.push(f);
    }
    for (i, (_, bytes)) in objects.iter().enumerate().filter(|(i, _)| used[*i]) {
        files.push((format!("{OBJECTS}/{i}.o"), bytes.clone()));
    }
    let mut names = Vec::new();
    for m in modules {
        let name = format!("{}.ko", m.name);
        files.push((format!("{MODULES}/{name}"), m.image.clone()));
        names.push(name);
    }
    let payload = Payload { fixtures, modules: names, dump_maps: dump_maps.to_vec(), coverage };
    files.push((SUITE.to_string(), serde_json::to_vec(&payload).expect("fixtures serialize")));
    files
}

/// Makes sure `w`'s saved state exists: when it does not, boots a guest without a suite and saves it
/// (the first run after a new xdptest binary or kernel pays one boot for all later runs).
fn ensure_saved(plan: &Plan, kernel: usize, w: &Warm, send: &dyn Fn(RunEvent)) -> Result<(), String> {
    if w.state.is_file() {
        return Ok(());
    }
    let dir = plan.work_root.join(format!("save{kernel}"));
    let placeholder = dir.join("payload.bin");
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&placeholder, crate::bundle::placeholder()))
        .map_err(|e| format!("write {}: {e}", placeholder.display()))?;
    let cfg = VmConfig {
        qemu: plan.qemu.clone(),
        kernel: plan.kernels[kernel].image.clone(),
        initrd: w.initrd.clone(),
        dir,
        memory_mib: w.memory_mib,
        cpus: VM_CPUS,
        accel: plan.accel,
        boot_timeout: secs(if plan.accel == Accel::Kvm { 60.0 } else { 120.0 } * plan.scale),
        run_timeout: Duration::ZERO,
        scenarios: 0,
        cancel: plan.opts.cancel.clone(),
        payload: Some(placeholder),
        incoming: None,
    };
    match crate::warm::save(&cfg, &w.state) {
        Ok(booted) => {
            send(RunEvent::Note {
                target: kernel,
                text: format!(
                    "saved the booted guest ({:.1} s to boot) in {}: later runs restore it instead of booting (XDPTEST_VM_WARM=0 always boots)",
                    booted.as_secs_f64(),
                    w.state.display()
                ),
            });
            Ok(())
        }
        Err(reason) => {
            send(RunEvent::Note {
                target: kernel,
                text: format!("cannot save the booted guest ({reason}); booting instead"),
            });
            Err(reason)
        }
    }
}

/// CPUs of every VM: two, as the smallest host has: per-CPU maps, CPU redirects and LRU lists need more
/// than one to behave as they do in production.
const VM_CPUS: usize = 2;

/// Errors name objects by their guest paths: put the host paths back.
fn host_paths(r: &mut ScenarioResult, map: &[(String, String)]) {
    if let Verdict::Error { error } = &mut r.verdict {
        for (guest, host) in map {
            error.rename_object(guest, host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dynamically linked binary brings its interpreter and libraries, read from where the host's
    /// loader finds them (this test binary is dynamically linked, like a cargo-built xdptest).
    #[test]
    fn a_dynamic_guest_brings_its_libraries() {
        let exe = std::env::current_exe().unwrap();
        assert!(is_dynamic(&exe));
        let libs = guest_libraries(&exe).unwrap();
        let names: Vec<&str> = libs.iter().map(|(p, _)| p.as_str()).collect();
        assert!(names.iter().any(|p| p.contains("libc.so")), "{names:?}");
        assert!(names.iter().any(|p| p.contains("ld-linux")), "{names:?}");
        assert!(libs.iter().all(|(p, b)| p.starts_with('/') && b.starts_with(b"\x7fELF")), "{names:?}");
    }

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
