//! The VMM side: starting qemu, watching a VM through its two serial files, and making sure no qemu ever
//! outlives xdptest.
//!
//! - qemu runs `-M pc -nodefaults -display none -no-reboot` with stdin from /dev/null: the console goes
//!   to `console.log` (ttyS0), results to `results.bin` (ttyS1), never to a terminal.
//! - Every phase has a deadline: boot (until the guest's `Start` record), run (scaled with the number of
//!   scenarios), shutdown. A missed deadline, a kernel panic or an OOM kills qemu and fails the VM with
//!   the reason and the console.
//! - No orphans: each qemu gets its own process group and `PR_SET_PDEATHSIG(SIGKILL)` (tied to the
//!   thread that watches it, which lives until qemu is reaped); [`kill_all`] kills every running group,
//!   for the command line's signal handler, and a cancelled run kills its VMs itself. The library never
//!   installs handlers or exits.
//! - KVM only when a probe (a 512-byte boot sector that exits qemu through `isa-debug-exit`) proves
//!   that a KVM guest actually runs; otherwise TCG. The probe runs once per process.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use xdptest_runner::error::{OsError, VmFailure};
use xdptest_runner::Cancel;

use crate::channel::{Decoder, Record};

/// How the guest's CPU is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

/// The qemu binary: `XDPTEST_QEMU`, else `qemu-system-x86_64` on PATH.
pub fn qemu_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("XDPTEST_QEMU") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("qemu-system-x86_64"))
        .find(|p| p.is_file())
        .ok_or_else(|| "qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86)".to_string())
}

// ---------------------------------------------------------------------------------------------------
// Process hygiene

/// Process groups of running qemus.
static RUNNING: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Kills every running qemu (their whole process groups).
pub fn kill_all() {
    let groups = RUNNING.lock().map(|g| g.clone()).unwrap_or_default();
    for pgid in groups {
        // Process groups we created (each qemu leads its own).
        crate::kernel::kill_group(pgid as u32);
    }
}

/// A running qemu: killed (group and all) and reaped when dropped.
struct Qemu {
    child: Child,
}

impl Qemu {
    fn spawn(mut cmd: Command) -> std::io::Result<Qemu> {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).process_group(0);
        // SAFETY: prctl is async-signal-safe (it allocates nothing); the child dies with the thread
        // that spawned it.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                    .map_err(std::io::Error::from)
            });
        }
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn()?;
        running.push(child.id() as i32);
        Ok(Qemu { child })
    }

    fn kill(&mut self) {
        // The child leads its own process group (process_group(0)).
        crate::kernel::kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            self.kill();
        }
        let pid = self.child.id() as i32;
        if let Ok(mut r) = RUNNING.lock() {
            r.retain(|p| *p != pid);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// KVM probe

/// A boot sector that writes 1 to the `isa-debug-exit` port (qemu then exits with status 3) and halts.
fn probe_sector() -> Vec<u8> {
    let code = [0xba, 0xf4, 0x00, 0xb0, 0x01, 0xee, 0xf4, 0xeb, 0xfd];
    let mut s = vec![0u8; 512];
    s[..code.len()].copy_from_slice(&code);
    s[510] = 0x55;
    s[511] = 0xaa;
    s
}

/// The CPU model VMs get; the probe uses the same one (KVM may run a default model's guest and still
/// refuse `host`'s MSRs).
fn cpu_model(accel: Accel) -> &'static str {
    match accel {
        Accel::Kvm => "host",
        Accel::Tcg => "max",
    }
}

/// A qemu command for the machine every VM and probe uses: a plain PC without default devices or a
/// display, under `accel` with its CPU model.
fn machine(qemu: &Path, accel: Accel) -> Command {
    let mut cmd = Command::new(qemu);
    cmd.args(["-M", "pc", "-nodefaults", "-no-user-config", "-display", "none", "-accel"])
        .arg(accel.to_string())
        .args(["-cpu", cpu_model(accel)]);
    cmd
}

/// Whether a guest runs under `accel`: boots the probe sector with a short deadline.
pub fn probe(qemu: &Path, accel: Accel, timeout: Duration) -> Result<(), String> {
    let dir = xdptest_compiler::owner::temp_dir("xdptest-probe-")
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let img = dir.path().join("probe.img");
    std::fs::write(&img, probe_sector()).map_err(|e| format!("writing {}: {e}", img.display()))?;
    let mut cmd = machine(qemu, accel);
    cmd.args(["-m", "16", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-drive"])
        .arg(format!("file={},format=raw,if=ide", img.display()))
        .stderr(Stdio::piped());
    let mut q = Qemu::spawn(cmd).map_err(|e| format!("cannot start {}: {e}", qemu.display()))?;
    let deadline = Instant::now() + timeout;
    loop {
        match q.child.try_wait() {
            Ok(Some(st)) if st.code() == Some(3) => return Ok(()),
            Ok(Some(st)) => {
                let mut err = String::new();
                if let Some(mut e) = q.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let first = err.lines().next().unwrap_or("").trim().to_string();
                return Err(format!("the {accel} probe exited with {st}: {first}"));
            }
            Ok(None) if Instant::now() > deadline => {
                q.kill();
                return Err(format!("the {accel} probe guest did not run within {}s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// KVM when `/dev/kvm` is usable and the probe passes; TCG otherwise. `XDPTEST_VM_ACCEL=kvm|tcg`
/// overrides. Decided once per process (by the first call: see [`accel_for`]); the second value says
/// why KVM is not used.
pub fn accel(qemu: &Path) -> (Accel, Option<String>) {
    accel_for(qemu, None)
}

/// [`accel`], where the probe also boots `kernel` (a kernel the run is about to use) when KVM passes
/// the boot-sector probe. Some hosts' KVM (nested, paravirtualised) runs real-mode code and then stops
/// in a Linux kernel's early boot: every VM would hang until its boot timeout. The kernel probe's
/// verdict is kept in the cache directory for this host kernel, qemu and kernel image, since it
/// costs seconds where KVM does not work.
pub fn accel_for(qemu: &Path, kernel: Option<&Path>) -> (Accel, Option<String>) {
    static CHOICE: OnceLock<(Accel, Option<String>)> = OnceLock::new();
    CHOICE
        .get_or_init(|| match std::env::var("XDPTEST_VM_ACCEL").as_deref() {
            Ok("tcg") => (Accel::Tcg, Some("XDPTEST_VM_ACCEL=tcg".into())),
            Ok("kvm") => (Accel::Kvm, None),
            _ => {
                if std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_err() {
                    return (Accel::Tcg, Some("/dev/kvm is not usable".into()));
                }
                if let Err(e) = probe(qemu, Accel::Kvm, Duration::from_secs(10)) {
                    return (Accel::Tcg, Some(e));
                }
                match kernel {
                    Some(image) => match probe_kernel_cached(qemu, image) {
                        Ok(()) => (Accel::Kvm, None),
                        Err(e) => (Accel::Tcg, Some(e)),
                    },
                    None => (Accel::Kvm, None),
                }
            }
        })
        .clone()
}

/// How long a kernel may take under KVM to print its first message (well under a second where KVM
/// works).
const KERNEL_PROBE: Duration = Duration::from_secs(5);

/// [`probe_kernel`], its verdict remembered in `accel-probe.txt` of the cache directory, one line per
/// host kernel, qemu binary and kernel image (path, size and modification time each).
fn probe_kernel_cached(qemu: &Path, image: &Path) -> Result<(), String> {
    let stamp = |p: &Path| {
        let m = std::fs::metadata(p).ok();
        let secs =
            m.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        format!("{}:{}:{}", p.display(), m.map_or(0, |m| m.len()), secs.map_or(0, |d| d.as_secs()))
    };
    let host = rustix::system::uname();
    let key = format!("{} {} {}", host.release().to_string_lossy(), stamp(qemu), stamp(image));
    let file = crate::kernel::default_cache_dir().with_file_name("accel-probe.txt");
    let known = std::fs::read_to_string(&file).unwrap_or_default();
    for line in known.lines() {
        let mut parts = line.splitn(3, '\t');
        if parts.next() == Some(key.as_str()) {
            return match parts.next() {
                Some("kvm") => Ok(()),
                _ => Err(parts.next().unwrap_or("the kernel probe failed").to_string()),
            };
        }
    }
    let verdict = probe_kernel(qemu, image, KERNEL_PROBE);
    let line = match &verdict {
        Ok(()) => format!("{key}\tkvm\n"),
        Err(e) => format!("{key}\ttcg\t{}\n", e.replace(['\t', '\n'], " ")),
    };
    // Best effort: without a writable cache the next run probes again. Written whole and renamed, so
    // a concurrent reader never sees half a line.
    if let Some(dir) = file.parent() {
        if std::fs::create_dir_all(dir).is_ok() {
            let tmp = dir.join(format!(".accel-probe.{}", std::process::id()));
            if std::fs::write(&tmp, format!("{known}{line}")).is_ok() && std::fs::rename(&tmp, &file).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
    }
    verdict
}

/// Whether Linux starts under KVM: boots `image` without an initrd (it panics for want of an init,
/// and with `panic=-1` qemu exits) and waits for the kernel's first console message.
pub fn probe_kernel(qemu: &Path, image: &Path, timeout: Duration) -> Result<(), String> {
    let dir = xdptest_compiler::owner::temp_dir("xdptest-probe-")
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let console = dir.path().join("console.log");
    let mut cmd = machine(qemu, Accel::Kvm);
    cmd.args(["-no-reboot", "-m", "128", "-kernel"])
        .arg(image)
        .args(["-append", "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 rdinit=/xdptest-no-init"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .stderr(Stdio::null());
    let mut q = Qemu::spawn(cmd).map_err(|e| format!("cannot start {}: {e}", qemu.display()))?;
    let deadline = Instant::now() + timeout;
    let started = || std::fs::read(&console).is_ok_and(|c| c.windows(13).any(|w| w == b"Linux version"));
    loop {
        if started() {
            return Ok(());
        }
        match q.child.try_wait() {
            Ok(Some(_)) if started() => return Ok(()),
            Ok(Some(st)) => return Err(format!("a kernel under KVM exited ({st}) before its first message")),
            Ok(None) if Instant::now() > deadline => {
                return Err(format!(
                    "KVM runs a boot sector but a Linux kernel under it printed nothing within {}s",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// One VM

/// Everything needed to boot one VM.
#[derive(Debug, Clone)]
pub struct VmConfig {
    pub qemu: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Where `console.log`, `results.bin` and `qemu.log` go.
    pub dir: PathBuf,
    pub memory_mib: u64,
    pub cpus: usize,
    pub accel: Accel,
    pub boot_timeout: Duration,
    pub run_timeout: Duration,
    /// Scenarios the guest must report.
    pub scenarios: usize,
    /// Stops the VM when set.
    pub cancel: Cancel,
    /// A machine that can be saved and restored (see [`warm`](crate::warm)): this file is the
    /// guest's fw_cfg payload (the placeholder while saving), and qemu takes commands on a control
    /// socket in `dir`.
    pub payload: Option<PathBuf>,
    /// Restore this snapshot instead of booting (needs `payload`).
    pub incoming: Option<PathBuf>,
}

impl VmConfig {
    fn qmp_socket(&self) -> PathBuf {
        self.dir.join("qmp.sock")
    }
}

/// What a VM did.
#[derive(Debug, Default)]
pub struct VmOutcome {
    /// Every record received, in order.
    pub records: Vec<Record>,
    /// Why not every result arrived (`None`: the run completed and every result arrived intact).
    /// Results that did arrive are intact (each record is checksummed) and valid.
    pub failure: Option<VmFailure>,
    /// The guest console (ttyS0).
    pub console: String,
    /// From starting qemu to the guest's `Start` record.
    pub boot: Option<Duration>,
    /// From starting qemu to the `End` record (or the failure).
    pub wall: Duration,
}

/// The kernel command line: console on ttyS0, reboot at once on panic (qemu exits: -no-reboot),
/// and `xdptest guest` as init.
pub fn cmdline() -> &'static str {
    "console=ttyS0 panic=-1 quiet rdinit=/init -- guest"
}

pub fn command(cfg: &VmConfig) -> Command {
    let mut cmd = machine(&cfg.qemu, cfg.accel);
    cmd.args(["-no-reboot"])
        .args(["-smp", &cfg.cpus.to_string(), "-m", &format!("{}M", cfg.memory_mib)])
        .arg("-kernel")
        .arg(&cfg.kernel)
        .arg("-initrd")
        .arg(&cfg.initrd)
        .args(["-append", cmdline()])
        .arg("-serial")
        .arg(format!("file:{}", cfg.dir.join("console.log").display()))
        .arg("-serial")
        .arg(format!("file:{}", cfg.dir.join("results.bin").display()));
    if let Some(payload) = &cfg.payload {
        // fw_cfg option values are comma-separated: a comma in a path is doubled.
        let file = payload.display().to_string().replace(',', ",,");
        cmd.arg("-fw_cfg").arg(format!("name={},file={file}", crate::bundle::FW_CFG_NAME));
        let sock = cfg.qmp_socket().display().to_string().replace(',', ",,");
        cmd.arg("-qmp").arg(format!("unix:{sock},server=on,wait=off"));
        if cfg.incoming.is_some() {
            cmd.args(["-incoming", "defer"]);
        }
    }
    cmd
}

/// A started qemu, for [`snapshot::save`](crate::warm::save): killed when dropped.
pub struct Running {
    qemu: Qemu,
    pub(crate) results: Tail,
    dir: PathBuf,
    qmp_socket: PathBuf,
}

impl Running {
    pub fn start(cfg: &VmConfig) -> Result<Running, String> {
        let mut cmd = command(cfg);
        let log = cfg.dir.join("qemu.log");
        cmd.stderr(File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?);
        let qemu = Qemu::spawn(cmd).map_err(|e| format!("cannot start {}: {e}", cfg.qemu.display()))?;
        Ok(Running {
            qemu,
            results: Tail { path: cfg.dir.join("results.bin"), at: 0 },
            dir: cfg.dir.clone(),
            qmp_socket: cfg.qmp_socket(),
        })
    }

    pub fn exited(&mut self) -> bool {
        !matches!(self.qemu.child.try_wait(), Ok(None))
    }

    /// What qemu wrote on its standard error.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("qemu.log")).unwrap_or_default().trim().to_string()
    }

    pub fn qmp(&self) -> Result<crate::warm::Qmp, String> {
        crate::warm::Qmp::connect(&self.qmp_socket, Duration::from_secs(10))
    }
}

/// Restores `snapshot` into the qemu just started with `-incoming defer`.
fn restore(cfg: &VmConfig, snapshot: &Path) -> Result<(), String> {
    let quoted =
        crate::warm::shell_quote(snapshot).ok_or_else(|| format!("{} cannot be given to qemu", snapshot.display()))?;
    let mut qmp = crate::warm::Qmp::connect(&cfg.qmp_socket(), Duration::from_secs(10))?;
    qmp.execute("migrate-incoming", serde_json::json!({ "uri": format!("exec:cat {quoted}") }))?;
    Ok(())
}

/// Reads what was appended to a file since the last call.
pub(crate) struct Tail {
    path: PathBuf,
    at: u64,
}

impl Tail {
    pub(crate) fn read(&mut self, into: &mut Vec<u8>) {
        let Ok(mut f) = File::open(&self.path) else { return };
        if f.seek(SeekFrom::Start(self.at)).is_ok() {
            if let Ok(n) = f.read_to_end(into) {
                self.at += n as u64;
            }
        }
    }
}

/// Boots one VM and watches it to the end. `on_record` sees each record as it arrives.
pub fn run_vm(cfg: &VmConfig, on_record: &mut dyn FnMut(&Record)) -> VmOutcome {
    let start = Instant::now();
    let mut out = VmOutcome::default();
    let console_path = cfg.dir.join("console.log");
    let qemu_log = cfg.dir.join("qemu.log");
    let mut cmd = command(cfg);
    match File::create(&qemu_log) {
        Ok(f) => {
            cmd.stderr(f);
        }
        Err(e) => {
            out.failure = Some(VmFailure::Prepare { os: OsError::new(format!("create {}", qemu_log.display()), &e) });
            return out;
        }
    }
    let mut qemu = match Qemu::spawn(cmd) {
        Ok(q) => q,
        Err(e) => {
            out.failure =
                Some(VmFailure::Spawn { qemu: cfg.qemu.display().to_string(), os: OsError::new("spawn", &e) });
            return out;
        }
    };
    if let Some(snapshot) = &cfg.incoming {
        if let Err(reason) = restore(cfg, snapshot) {
            out.failure = Some(VmFailure::WarmStart { step: "restored".into(), reason });
            return out;
        }
    }
    let mut tail = Tail { path: cfg.dir.join("results.bin"), at: 0 };
    let mut decoder = Decoder::default();
    let mut run_deadline = None;
    let mut ended = false;
    let mut fatal = None;
    let mut exited = None;
    let mut stopped = None;
    let received = |records: &[Record]| records.iter().filter(|r| matches!(r, Record::Result { .. })).count();
    loop {
        let status = qemu.child.try_wait().ok().flatten();
        // Read after checking the exit status, so nothing written before the exit is missed.
        let mut buf = Vec::new();
        tail.read(&mut buf);
        decoder.push(&buf);
        while let Some(r) = decoder.next_record() {
            match &r {
                Record::Start { .. } if out.boot.is_none() => {
                    out.boot = Some(start.elapsed());
                    run_deadline = Some(Instant::now() + cfg.run_timeout);
                }
                Record::End { .. } => ended = true,
                Record::Fatal { step, os, detail } => {
                    fatal = Some(VmFailure::Guest { step: step.clone(), os: os.clone(), detail: detail.clone() })
                }
                _ => {}
            }
            on_record(&r);
            out.records.push(r);
        }
        if ended || fatal.is_some() {
            break;
        }
        if let Some(st) = status {
            exited = Some(st);
            break;
        }
        let now = Instant::now();
        if cfg.cancel.is_cancelled() {
            stopped = Some(VmFailure::Cancelled);
            break;
        }
        match run_deadline {
            None if now > start + cfg.boot_timeout => {
                stopped = Some(VmFailure::BootTimeout { secs: cfg.boot_timeout.as_secs() });
                break;
            }
            Some(d) if now > d => {
                stopped = Some(VmFailure::RunTimeout {
                    received: received(&out.records),
                    expected: cfg.scenarios,
                    secs: cfg.run_timeout.as_secs(),
                });
                break;
            }
            _ => std::thread::sleep(Duration::from_millis(25)),
        }
    }
    out.wall = start.elapsed();
    if ended || fatal.is_some() {
        // The guest powers off by itself; give it a moment, then make sure.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(qemu.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    qemu.kill();
    drop(qemu);
    out.console = String::from_utf8_lossy(&std::fs::read(&console_path).unwrap_or_default()).into_owned();
    let qemu_err = std::fs::read_to_string(&qemu_log).unwrap_or_default();
    out.failure = if let Some(f) = fatal {
        Some(f)
    } else if ended {
        check_complete(&out.records, cfg.scenarios, decoder.garbled)
    } else if let Some(f @ VmFailure::Cancelled) = stopped {
        Some(f)
    } else {
        // The console says best what went wrong inside; else how the VM or qemu stopped.
        console_cause(&out.console, cfg.memory_mib).or(stopped).or_else(|| {
            Some(match (exited, out.boot) {
                (Some(st), None) if !qemu_err.trim().is_empty() => {
                    VmFailure::QemuFailed { status: st.to_string(), stderr: qemu_err.trim().to_string() }
                }
                (_, None) => VmFailure::StoppedDuringBoot,
                (st, Some(_)) => VmFailure::QemuDied {
                    status: st.map(|s| s.to_string()).unwrap_or_else(|| "unknown status".into()),
                    received: received(&out.records),
                    expected: cfg.scenarios,
                },
            })
        })
    };
    out
}

/// Whether the records hold exactly one intact result per scenario and an honest `End`.
fn check_complete(records: &[Record], scenarios: usize, garbled: usize) -> Option<VmFailure> {
    let mut seen = vec![false; scenarios];
    let mut dup = false;
    for r in records {
        if let Record::Result { index, .. } = r {
            match seen.get_mut(*index) {
                Some(s) if !*s => *s = true,
                _ => dup = true,
            }
        }
    }
    let got = seen.iter().filter(|s| **s).count();
    let claimed = records.iter().find_map(|r| if let Record::End { results, .. } = r { Some(*results) } else { None });
    if garbled > 0 {
        return Some(VmFailure::Garbled { records: garbled });
    }
    if dup || got != scenarios || claimed != Some(scenarios) {
        return Some(VmFailure::Incomplete { received: got, expected: scenarios, claimed: claimed.unwrap_or(0) });
    }
    None
}

/// A kernel panic or the OOM killer, from the console.
fn console_cause(console: &str, memory_mib: u64) -> Option<VmFailure> {
    if let Some(l) = console.lines().find(|l| l.contains("Kernel panic")) {
        let l = l.split("] ").nth(1).unwrap_or(l).trim();
        return Some(VmFailure::KernelPanic { line: l.to_string() });
    }
    if console.contains("Out of memory") || console.contains("oom-kill") {
        return Some(VmFailure::OutOfMemory { mib: memory_mib });
    }
    None
}

/// The last `n` lines of a console log.
pub fn console_tail(console: &str, n: usize) -> String {
    let lines: Vec<&str> = console.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_sector_is_bootable() {
        let s = probe_sector();
        assert_eq!(s.len(), 512);
        assert_eq!(&s[510..], &[0x55, 0xaa]);
    }

    #[test]
    fn causes_from_the_console() {
        let c = "[    1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\n";
        assert_eq!(
            console_cause(c, 256).unwrap().to_string(),
            "kernel panic: Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b"
        );
        assert_eq!(console_cause("Out of memory: Killed process 1", 256), Some(VmFailure::OutOfMemory { mib: 256 }));
        assert!(console_cause("all good", 256).is_none());
    }

    #[test]
    fn incomplete_or_duplicate_results_are_failures() {
        use xdptest_runner::{ScenarioResult, Verdict};
        let res = |index| Record::Result {
            index,
            result: Box::new(ScenarioResult {
                spec: "s".into(),
                scenario: "x".into(),
                verdict: Verdict::Pass,
                runs: vec![],
                duration: Duration::ZERO,
                coverage: None,
            }),
        };
        let end = |results| Record::End { results, loads: 0, load_micros: 0, wall_micros: 0 };
        assert!(check_complete(&[res(0), res(1), end(2)], 2, 0).is_none());
        assert!(check_complete(&[res(0), res(0), end(2)], 2, 0).is_some());
        assert!(check_complete(&[res(0), end(1)], 2, 0).is_some());
        assert!(check_complete(&[res(0), res(1), end(2)], 2, 1).is_some());
    }

    /// The TCG probe boots the probe sector: qemu and the probe work (skipped without qemu, except in
    /// CI, where qemu must be installed).
    #[test]
    fn tcg_probe_runs() {
        let qemu = match qemu_binary() {
            Ok(q) => q,
            Err(e) if std::env::var_os("CI").is_some() => panic!("{e}"),
            Err(_) => return,
        };
        probe(&qemu, Accel::Tcg, Duration::from_secs(30)).unwrap();
    }
}
