//! The guest side: `xdptest guest`, run by the kernel as `/init` of a throwaway initramfs. It mounts the
//! pseudo file systems, loads the modules the host packed, runs the packed fixtures with the ordinary
//! runner, streams every result as a framed record on ttyS1 (see [`channel`](crate::channel)) and powers
//! the VM off. Nothing from the host file system is shared: everything arrives in the initramfs.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use xdptest_compiler::Fixture;
use xdptest_runner::RunOptions;

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
}

/// Entry point of `xdptest guest`. Refuses to run anywhere but as PID 1 (it powers the machine off).
pub fn main() -> i32 {
    // SAFETY: getpid has no preconditions.
    if unsafe { libc::getpid() } != 1 {
        eprintln!("error: `xdptest guest` is the init process of xdptest's VMs; it only runs as PID 1 in a VM");
        return 2;
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!("xdptest guest: panic: {info}");
        let _ = send_to_tty(&Record::Fatal { message: format!("the guest panicked: {info}") });
        power_off();
    }));
    if let Err(message) = run() {
        eprintln!("xdptest guest: {message}");
        let _ = send_to_tty(&Record::Fatal { message });
    }
    power_off();
}

fn mount(source: &str, target: &str, fstype: &str) -> Result<(), String> {
    let _ = std::fs::create_dir_all(target);
    let c = |s: &str| CString::new(s).expect("no NUL in mount arguments");
    let (src, tgt, fs) = (c(source), c(target), c(fstype));
    // SAFETY: valid NUL-terminated strings; no data argument.
    let r = unsafe { libc::mount(src.as_ptr(), tgt.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) };
    if r != 0 {
        return Err(format!("mounting {fstype} on {target}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The results port, in raw mode (no newline translation: records are binary).
fn open_results() -> Result<File, String> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(RESULTS_TTY)
        .map_err(|e| format!("cannot open {RESULTS_TTY}: {e}"))?;
    // SAFETY: termios calls on a descriptor we own, with a zero-initialised struct filled by tcgetattr.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(f.as_raw_fd(), &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(f.as_raw_fd(), libc::TCSANOW, &t);
        }
    }
    Ok(f)
}

fn send(port: &mut File, r: &Record) -> Result<(), String> {
    port.write_all(&r.encode()).map_err(|e| format!("writing to {RESULTS_TTY}: {e}"))
}

/// Last resort for a record outside the normal flow (fatal errors, panics).
fn send_to_tty(r: &Record) -> Result<(), String> {
    let mut port = open_results()?;
    send(&mut port, r)?;
    drain(&port);
    Ok(())
}

/// Waits until the UART has sent everything: the host must see the last record before power-off.
fn drain(port: &File) {
    // SAFETY: tcdrain on a descriptor we own.
    unsafe { libc::tcdrain(port.as_raw_fd()) };
}

fn load_module(path: &str) -> Result<(), String> {
    let f = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let params = CString::default();
    // SAFETY: finit_module with an open descriptor and an empty parameter string.
    let r = unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), params.as_ptr(), 0) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(format!("{path}: {e}"));
        }
    }
    Ok(())
}

fn run() -> Result<(), String> {
    mount("proc", "/proc", "proc")?;
    mount("sysfs", "/sys", "sysfs")?;
    mount("devtmpfs", "/dev", "devtmpfs")?;
    mount("bpf", "/sys/fs/bpf", "bpf")?;
    // Optional: tracing (bpf_printk output) where the kernel has it.
    let _ = mount("tracefs", "/sys/kernel/tracing", "tracefs");
    // Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
    let inf = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: setrlimit with a valid struct.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &inf) };
    let mut port = open_results()?;
    let text = std::fs::read_to_string(format!("/{SUITE}")).map_err(|e| format!("cannot read the suite: {e}"))?;
    let payload: Payload = serde_json::from_str(&text).map_err(|e| format!("cannot decode the suite: {e}"))?;
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
    let observe = xdptest_runner::Observe { dump_maps: payload.dump_maps.clone() };
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
    // SAFETY: sync and reboot(2) as PID 1 in a VM: the whole point of this function.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
        // Without ACPI power-off, a reboot also ends the VM (qemu runs with -no-reboot).
        libc::reboot(libc::RB_AUTOBOOT);
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}
