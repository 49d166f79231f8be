//! The guest side: `xdptest guest`, run by the kernel as `/init` of a throwaway initramfs. It mounts the
//! pseudo file systems, loads the modules the host packed, runs the packed fixtures with the ordinary
//! runner, streams every result as a framed record on ttyS1 (see [`channel`](crate::channel)) and powers
//! the VM off. Nothing from the host file system is shared: everything arrives in the initramfs.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use xdptest_compiler::Fixture;
use xdptest_runner::{OsError, RunOptions};

use crate::channel::{Record, PROTOCOL};

/// Where the host puts things in the initramfs.
pub const SUITE: &str = "xdptest/suite.json";
pub const OBJECTS: &str = "xdptest/objects";
pub const MODULES: &str = "xdptest/modules";
/// The serial port results go out on (the console is ttyS0).
const RESULTS_TTY: &str = "/dev/ttyS1";

/// What the host packs for one VM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    /// The shard's fixtures, program objects rewritten to paths inside the initramfs.
    pub fixtures: Vec<Fixture>,
    /// Module file names under [`MODULES`], in load order (dependencies first).
    pub modules: Vec<String>,
    /// Per fixture: read map contents around each send (for snapshot reports on the host).
    #[serde(default)]
    pub dump_maps: Vec<bool>,
    /// Measure coverage.
    #[serde(default)]
    pub coverage: bool,
}

/// Entry point of `xdptest guest`. Refuses to run anywhere but as PID 1 (it powers the machine off).
pub fn main() -> i32 {
    if !rustix::process::getpid().is_init() {
        eprintln!("error: `xdptest guest` is the init process of xdptest's VMs; it only runs as PID 1 in a VM");
        return 2;
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!("xdptest guest: panic: {info}");
        let _ =
            send_to_tty(&Record::Fatal { step: "run the suite".into(), os: None, detail: format!("panic: {info}") });
        power_off();
    }));
    if let Err(f) = run() {
        eprintln!(
            "xdptest guest: cannot {}: {}",
            f.step,
            f.os.as_ref().map(|o| o.to_string()).unwrap_or(f.detail.clone())
        );
        let _ = send_to_tty(&Record::Fatal { step: f.step, os: f.os, detail: f.detail });
    }
    power_off();
}

/// Why the guest cannot go on: the step, and the OS error or another reason.
struct Failed {
    step: String,
    os: Option<OsError>,
    detail: String,
}

fn os_failed(step: impl Into<String>, e: &std::io::Error) -> Failed {
    let step = step.into();
    Failed { os: Some(OsError::new(step.clone(), e)), step, detail: String::new() }
}

fn mount(source: &str, target: &str, fstype: &str) -> Result<(), Failed> {
    let _ = std::fs::create_dir_all(target);
    rustix::mount::mount(source, target, fstype, rustix::mount::MountFlags::empty(), None)
        .map_err(|e| os_failed(format!("mount {fstype} on {target}"), &e.into()))
}

/// The results port, in raw mode (no newline translation: records are binary).
fn open_results() -> Result<File, Failed> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(RESULTS_TTY)
        .map_err(|e| os_failed(format!("open {RESULTS_TTY}"), &e))?;
    if let Ok(mut t) = rustix::termios::tcgetattr(&f) {
        t.make_raw();
        let _ = rustix::termios::tcsetattr(&f, rustix::termios::OptionalActions::Now, &t);
    }
    Ok(f)
}

fn send(port: &mut File, r: &Record) -> Result<(), Failed> {
    port.write_all(&r.encode()).map_err(|e| os_failed(format!("write to {RESULTS_TTY}"), &e))
}

/// Last resort for a record outside the normal flow (fatal errors, panics).
fn send_to_tty(r: &Record) -> Result<(), Failed> {
    let mut port = open_results()?;
    send(&mut port, r)?;
    drain(&port);
    Ok(())
}

/// Waits until the UART has sent everything: the host must see the last record before power-off.
fn drain(port: &File) {
    let _ = rustix::termios::tcdrain(port);
}

fn load_module(path: &str) -> Result<(), String> {
    let f = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    match rustix::system::finit_module(&f, c"", 0) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

fn run() -> Result<(), Failed> {
    mount("proc", "/proc", "proc")?;
    mount("sysfs", "/sys", "sysfs")?;
    mount("devtmpfs", "/dev", "devtmpfs")?;
    mount("bpf", "/sys/fs/bpf", "bpf")?;
    // Optional: tracing (bpf_printk output) where the kernel has it.
    let _ = mount("tracefs", "/sys/kernel/tracing", "tracefs");
    // Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Memlock,
        rustix::process::Rlimit { current: None, maximum: None },
    );
    let mut port = open_results()?;
    let text = std::fs::read_to_string(format!("/{SUITE}")).map_err(|e| os_failed(format!("read /{SUITE}"), &e))?;
    let payload: Payload = serde_json::from_str(&text).map_err(|e| Failed {
        step: format!("decode /{SUITE}"),
        os: None,
        detail: e.to_string(),
    })?;
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    send(
        &mut port,
        &Record::Start {
            protocol: PROTOCOL,
            version: env!("CARGO_PKG_VERSION").into(),
            release,
            cpus,
            scenarios: payload.fixtures.len(),
        },
    )?;
    for m in &payload.modules {
        if let Err(e) = load_module(&format!("/{MODULES}/{m}")) {
            send(&mut port, &Record::Note { text: format!("module {e}") })?;
        }
    }
    let mut failed = None;
    let mut sent = 0;
    let observe =
        xdptest_runner::Observe { dump_maps: payload.dump_maps.clone(), timing: None, coverage: payload.coverage };
    let opts = RunOptions { jobs: cpus, ..RunOptions::default() };
    let stats = xdptest_runner::run_results(&payload.fixtures, &opts, &observe, |index, result| {
        if failed.is_none() {
            match send(&mut port, &Record::Result { index, result: Box::new(result) }) {
                Ok(()) => sent += 1,
                Err(e) => failed = Some(e),
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    send(
        &mut port,
        &Record::End {
            results: sent,
            loads: stats.loads,
            load_micros: stats.load_time.as_micros() as u64,
            wall_micros: stats.wall.as_micros() as u64,
        },
    )?;
    drain(&port);
    Ok(())
}

fn power_off() -> ! {
    // As PID 1 in a VM, this is the whole point of this function.
    rustix::fs::sync();
    let _ = rustix::system::reboot(rustix::system::RebootCommand::PowerOff);
    // Without ACPI power-off, a reboot also ends the VM (qemu runs with -no-reboot).
    let _ = rustix::system::reboot(rustix::system::RebootCommand::Restart);
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}
