//! The guest side: `xdptest guest`, run by the kernel as `/init` of a throwaway initramfs. It mounts the
//! pseudo file systems, loads the modules the host packed, runs the packed fixtures with the ordinary
//! runner, streams every result as a framed record on ttyS1 (see [`channel`](crate::channel)) and powers
//! the VM off. Nothing from the host file system is shared: everything arrives in the initramfs, or —
//! for a guest restored from a snapshot, whose initramfs holds only the binary — as one fw_cfg file
//! read after the restore (see [`warm`](crate::warm)).

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
    if !std::path::Path::new(&format!("/{SUITE}")).exists() {
        receive_payload(&mut port)?;
    }
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

/// A snapshot's guest: says it waits, then (once the host has saved the VM and restored it with a
/// payload) writes the payload's files where a cold boot finds them in its initramfs.
fn receive_payload(port: &mut File) -> Result<(), Failed> {
    use crate::bundle::{self, Header};
    let failed = |detail: String| Failed { step: "receive the payload".into(), os: None, detail };
    #[cfg(not(target_arch = "x86_64"))]
    return Err(failed("payloads arrive through x86 I/O ports: this guest is no x86-64 binary".into()));
    #[cfg(target_arch = "x86_64")]
    let cfg = fw_cfg::FwCfg::open().map_err(|e| os_failed("open the fw_cfg ports", &e))?;
    zero_free_memory();
    send(port, &Record::Waiting { protocol: PROTOCOL })?;
    drain(port);
    let (key, len, crc) = loop {
        // The directory is read again each time: a restored VM may list its files in another order.
        let key =
            cfg.find(bundle::FW_CFG_NAME).ok_or_else(|| failed(format!("no fw_cfg file {}", bundle::FW_CFG_NAME)))?;
        let mut head = [0u8; bundle::HEADER];
        cfg.select(key);
        cfg.read(&mut head);
        match bundle::header(&head) {
            Header::Waiting => std::thread::sleep(Duration::from_millis(1)),
            Header::Payload { len, crc } => break (key, len, crc),
            Header::Unknown => return Err(failed("the fw_cfg file is no payload".into())),
        }
    };
    // The body: by DMA where the device has it (a page per request), else byte by byte from the
    // data register (about 6 MB/s under TCG).
    let body = match cfg.read_dma(key, bundle::HEADER, len) {
        Some(Ok(body)) => body,
        Some(Err(e)) => return Err(os_failed("read the payload by fw_cfg DMA", &e)),
        None => {
            let mut body = vec![0u8; len];
            cfg.select(key);
            let mut head = [0u8; bundle::HEADER];
            cfg.read(&mut head);
            cfg.read(&mut body);
            body
        }
    };
    for (path, data) in bundle::decode(&body, crc).map_err(failed)? {
        let path = std::path::Path::new("/").join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| os_failed(format!("create {}", dir.display()), &e))?;
        }
        std::fs::write(&path, data).map_err(|e| os_failed(format!("write {}", path.display()), &e))?;
    }
    Ok(())
}

/// Before the save: makes free memory zero (freed pages keep what they held, such as the unpacked
/// initramfs archive), so that qemu saves only the memory in use — zero pages take no room in a
/// saved state — and every restore reads less. Taking the free pages once and giving them back is
/// enough: the kernel clears each page it hands out.
fn zero_free_memory() {
    let Ok(info) = std::fs::read_to_string("/proc/meminfo") else { return };
    let free_kib = info
        .lines()
        .find_map(|l| l.strip_prefix("MemFree:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .unwrap_or(0);
    // Leave room for the kernel (it must not run out while this process holds the rest).
    let size = free_kib.saturating_sub(32 << 10) * 1024;
    if size == 0 {
        return;
    }
    // SAFETY: a fresh anonymous mapping, populated (each page cleared by the kernel) and unmapped
    // again; nothing else refers to it.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE | libc::MAP_NORESERVE,
            -1,
            0,
        );
        if p != libc::MAP_FAILED {
            libc::munmap(p, size);
        }
    }
}

/// qemu's firmware configuration device through its I/O ports (x86: selector 0x510, data 0x511), which
/// needs no driver: a file is a key to select, then its bytes from the data register.
#[cfg(target_arch = "x86_64")]
mod fw_cfg {
    const SELECTOR: u16 = 0x510;
    const DATA: u16 = 0x511;
    /// The DMA address register (64-bit big-endian: the high half, then the low half at +4, whose
    /// write starts the transfer).
    const DMA: u16 = 0x514;
    /// The key of the feature bits, and the one saying that DMA works.
    const ID: u16 = 0x01;
    const ID_DMA: u32 = 1 << 1;
    /// The key of the file directory.
    const FILE_DIR: u16 = 0x19;
    /// DMA control bits.
    const DMA_ERROR: u32 = 1 << 0;
    const DMA_READ: u32 = 1 << 1;
    const PAGE: usize = 4096;

    pub struct FwCfg(());

    impl FwCfg {
        pub fn open() -> std::io::Result<FwCfg> {
            // SAFETY: asks the kernel for access to the device's I/O ports; no memory is involved.
            if unsafe { libc::ioperm(SELECTOR.into(), u64::from(DMA - SELECTOR) + 8, 1) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(FwCfg(()))
        }

        pub fn select(&self, key: u16) {
            // SAFETY: `open` was granted the port; writing the selector has no effect on memory.
            unsafe {
                std::arch::asm!("out dx, ax", in("dx") SELECTOR, in("ax") key, options(nomem, nostack, preserves_flags))
            }
        }

        /// The next `buf.len()` bytes of the selected item (zeros past its end).
        pub fn read(&self, buf: &mut [u8]) {
            // SAFETY: `rep insb` writes exactly `rcx` bytes from `rdi` on (the direction flag is clear
            // on function entry by the ABI), all inside `buf`.
            unsafe {
                std::arch::asm!(
                    "rep insb",
                    in("dx") DATA,
                    inout("rdi") buf.as_mut_ptr() => _,
                    inout("rcx") buf.len() => _,
                    options(nostack, preserves_flags)
                )
            }
        }

        fn out32(port: u16, value: u32) {
            // SAFETY: a port `open` was granted; the device reads guest memory only where the
            // request it is pointed at says (see `read_dma`).
            unsafe { std::arch::asm!("out dx, eax", in("dx") port, in("eax") value, options(nostack, preserves_flags)) }
        }

        /// `len` bytes of item `key` after its first `skip` by DMA, one page per request into locked
        /// pages whose physical addresses `/proc/self/pagemap` gives. `None` when the device has no
        /// DMA or the addresses cannot be known (then the caller reads through the data register).
        pub fn read_dma(&self, key: u16, skip: usize, len: usize) -> Option<std::io::Result<Vec<u8>>> {
            self.select(ID);
            let mut id = [0u8; 4];
            self.read(&mut id);
            if u32::from_le_bytes(id) & ID_DMA == 0 {
                return None;
            }
            // Locked pages still move when the kernel compacts memory, unless told not to; nothing
            // else runs in this guest.
            let _ = std::fs::write("/proc/sys/vm/compact_unevictable_allowed", "0");
            let pages = Pages::new(len.div_ceil(PAGE) + 1).ok()?;
            let pagemap = std::fs::File::open("/proc/self/pagemap").ok()?;
            let phys = |i: usize| -> Option<u64> {
                use std::os::unix::fs::FileExt;
                let virt = pages.ptr as usize + i * PAGE;
                let mut entry = [0u8; 8];
                pagemap.read_exact_at(&mut entry, (virt / PAGE * 8) as u64).ok()?;
                let e = u64::from_le_bytes(entry);
                // Present, and a page frame number (zero when this process may not see them).
                let pfn = e & ((1 << 55) - 1);
                (e >> 63 == 1 && pfn != 0).then_some(pfn * PAGE as u64)
            };
            // Page 0 holds the request; the data goes to pages 1…
            let request = phys(0)?;
            let mut targets = Vec::with_capacity(pages.count - 1);
            for i in 1..pages.count {
                targets.push(phys(i)?);
            }
            // Requests without the select bit read on from where the data register left off.
            self.select(key);
            let mut skipped = vec![0u8; skip];
            self.read(&mut skipped);
            let req = pages.ptr as *mut u32;
            for (i, &target) in targets.iter().enumerate() {
                let n = (len - i * PAGE).min(PAGE);
                // SAFETY: `req` points at the start of locked page 0, which holds the 16-byte
                // request (control, length, address: big-endian); the device writes `n` bytes at
                // `target`, a page of ours.
                unsafe {
                    req.write_volatile(DMA_READ.to_be());
                    req.add(1).write_volatile((n as u32).to_be());
                    (req.add(2) as *mut u64).write_volatile(target.to_be());
                }
                Self::out32(DMA, ((request >> 32) as u32).to_be());
                Self::out32(DMA + 4, (request as u32).to_be());
                // SAFETY: as above; the device clears the control word when done.
                let control = u32::from_be(unsafe { req.read_volatile() });
                if control & DMA_ERROR != 0 || control != 0 {
                    return Some(Err(std::io::Error::other(format!("the device says {control:#x}"))));
                }
            }
            // SAFETY: pages 1… are `count - 1` pages of initialised memory (zeroed, then written).
            let data = unsafe { std::slice::from_raw_parts((pages.ptr as *const u8).add(PAGE), len) };
            Some(Ok(data.to_vec()))
        }

        /// The key of the file called `name`.
        pub fn find(&self, name: &str) -> Option<u16> {
            self.select(FILE_DIR);
            let mut count = [0u8; 4];
            self.read(&mut count);
            // Entries: size (u32 BE), key (u16 BE), reserved (u16), NUL-padded name (56 bytes).
            let mut entry = [0u8; 64];
            for _ in 0..u32::from_be_bytes(count).min(4096) {
                self.read(&mut entry);
                let n = &entry[8..];
                let n = &n[..n.iter().position(|&b| b == 0).unwrap_or(n.len())];
                if n == name.as_bytes() {
                    return Some(u16::from_be_bytes([entry[4], entry[5]]));
                }
            }
            None
        }
    }

    /// Page-aligned, zeroed, locked memory.
    struct Pages {
        ptr: *mut u8,
        count: usize,
    }

    impl Pages {
        fn new(count: usize) -> std::io::Result<Pages> {
            let size = count * PAGE;
            // SAFETY: a fresh anonymous mapping, owned by the returned value.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE | libc::MAP_LOCKED,
                    -1,
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            let pages = Pages { ptr: ptr as *mut u8, count };
            // SAFETY: the mapping is `size` bytes; locking it keeps every page resident, and
            // touching each one gives it a page frame of its own.
            unsafe {
                if libc::mlock(ptr, size) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                for i in 0..count {
                    pages.ptr.add(i * PAGE).write_volatile(0);
                }
            }
            Ok(pages)
        }
    }

    impl Drop for Pages {
        fn drop(&mut self) {
            // SAFETY: the mapping `new` made.
            unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.count * PAGE) };
        }
    }
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
