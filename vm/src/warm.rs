//! Warm starts: a guest booted once and saved by qemu while it waits for its payload, then restored for
//! every run instead of booting (under TCG a boot costs seconds, a restore a fraction of one).
//!
//! - **What is saved:** a VM booted from an initramfs that holds only the guest binary (and its
//!   libraries). Its guest finds no suite, says [`Record::Waiting`], and polls a fw_cfg file; the host
//!   then migrates the VM to a file (`migrate exec:cat > …`) and stops it.
//! - **What a run restores:** the same machine with `-incoming`, whose fw_cfg file is now the run's
//!   [`bundle`](crate::bundle) (fixtures, objects, modules): the guest wakes, reads it, writes the
//!   files where a cold boot has them, and goes on exactly as a booted guest does.
//! - **Key:** everything that must match between save and restore — the initramfs (so the guest binary),
//!   the kernel image, the qemu binary, accelerator, CPUs, memory, the command line and the channel's
//!   protocol — hashed into the file name. A state saved from anything else is never restored.
//! - **Cache:** `vm-states/` beside the kernel cache, written to a temporary file and renamed (parallel
//!   runs never see half a state), the newest [`KEEP`] kept. A state that fails to restore is
//!   deleted and the VM boots instead; `XDPTEST_VM_WARM=0` always boots.
//!
//! ("Snapshot" in xdptest means a stored scenario report; these are *saved VM states*, `.vmstate`.)

use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use crate::channel::{Decoder, Record, PROTOCOL};
use crate::qemu::{self, Accel, VmConfig};

/// Saved states kept in the cache (each is the guest's used memory: about 100 MB).
pub const KEEP: usize = 4;

/// Everything a saved state depends on, hashed.
pub struct KeyParts<'a> {
    pub initrd: &'a [u8],
    pub kernel: &'a Path,
    pub qemu: &'a Path,
    pub accel: Accel,
    pub cpus: usize,
    pub memory_mib: u64,
}

/// The saved-state file for `parts` in `dir` (which may not exist yet).
pub fn path_for(dir: &Path, label: &str, parts: &KeyParts) -> std::io::Result<PathBuf> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    PROTOCOL.hash(&mut h);
    qemu::cmdline().hash(&mut h);
    parts.initrd.hash(&mut h);
    std::fs::read(parts.kernel)?.hash(&mut h);
    let q = std::fs::metadata(parts.qemu)?;
    (parts.qemu, q.len(), q.modified().ok()).hash(&mut h);
    (parts.accel.to_string(), parts.cpus, parts.memory_mib).hash(&mut h);
    let label: String = label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect();
    Ok(dir.join(format!("{label}-{}-{}M-{:016x}.vmstate", parts.accel, parts.memory_mib, h.finish())))
}

/// Memory of a saved VM: at least what the run needs, rounded up to a power of two so that suites
/// of similar size share a saved state.
pub fn memory_mib(needed: u64) -> u64 {
    needed.max(512).next_power_of_two()
}

/// Boots `cfg` (an initramfs without a suite, its fw_cfg file the placeholder), waits until the guest
/// waits, and saves the VM to `out`. Returns how long the guest took to boot.
pub fn save(cfg: &VmConfig, out: &Path) -> Result<Duration, String> {
    let start = Instant::now();
    let dir = out.parent().ok_or("a saved-state path has a directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("vmstate"),
        std::process::id()
    ));
    let quoted = shell_quote(&tmp).ok_or_else(|| format!("{} cannot be given to qemu", tmp.display()))?;
    let result = (|| {
        let mut vm = qemu::Running::start(cfg)?;
        let mut decoder = Decoder::default();
        let deadline = start + cfg.boot_timeout;
        loop {
            let mut buf = Vec::new();
            vm.results.read(&mut buf);
            decoder.push(&buf);
            match decoder.next_record() {
                Some(Record::Waiting { protocol }) if protocol == PROTOCOL => break,
                Some(Record::Waiting { protocol }) => {
                    return Err(format!("the guest speaks protocol {protocol}, this xdptest {PROTOCOL}"))
                }
                Some(Record::Fatal { step, detail, os }) => {
                    return Err(format!("the guest could not {step}: {}", os.map(|o| o.to_string()).unwrap_or(detail)))
                }
                Some(_) => {}
                None if cfg.cancel.is_cancelled() => return Err("interrupted".into()),
                None if vm.exited() => return Err(format!("qemu exited during boot: {}", vm.stderr())),
                None if Instant::now() > deadline => {
                    return Err(format!("the guest did not boot within {} s", cfg.boot_timeout.as_secs()))
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let booted = start.elapsed();
        let mut qmp = vm.qmp()?;
        qmp.execute("migrate", json!({ "uri": format!("exec:cat > {quoted}") }))?;
        let deadline = Instant::now() + cfg.boot_timeout;
        loop {
            let r = qmp.execute("query-migrate", json!({}))?;
            match r.get("status").and_then(Value::as_str) {
                Some("completed") => break,
                Some("failed" | "cancelled") => {
                    return Err(format!(
                        "qemu could not save the VM: {}",
                        r.get("error-desc").and_then(Value::as_str).unwrap_or("no reason given")
                    ))
                }
                _ if cfg.cancel.is_cancelled() => return Err("interrupted".into()),
                _ if Instant::now() > deadline => return Err("saving the VM took too long".into()),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        drop(vm);
        std::fs::rename(&tmp, out).map_err(|e| format!("rename {} to {}: {e}", tmp.display(), out.display()))?;
        Ok(booted)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    evict(dir, KEEP);
    result
}

/// Marks `path` as used now (eviction removes the least recently used).
pub fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Removes all but the `keep` most recently used saved states of `dir`.
pub fn evict(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut snaps: Vec<(SystemTime, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "vmstate"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    snaps.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (_, p) in snaps.into_iter().skip(keep) {
        let _ = std::fs::remove_file(p);
    }
    // What a killed save left (a save takes seconds; an hour-old temporary file is nobody's).
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for p in entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "tmp")) {
        let old = std::fs::metadata(&p).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if old.is_some_and(|age| age > Duration::from_secs(3600)) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `path` in single quotes for qemu's `exec:` (run by `/bin/sh -c`); `None` when it holds a quote.
pub fn shell_quote(path: &Path) -> Option<String> {
    let s = path.to_str()?;
    (!s.contains('\'')).then(|| format!("'{s}'"))
}

/// A QMP connection (qemu's JSON control protocol on a unix socket).
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects to the socket qemu listens on (retrying until it exists) and negotiates capabilities.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Qmp, String> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("cannot connect to qemu's control socket: {e}")),
            }
        };
        stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        let mut qmp = Qmp { reader: BufReader::new(stream), writer };
        qmp.read()?; // the greeting
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    fn read(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("qemu closed its control socket".into()),
            Ok(_) => serde_json::from_str(&line).map_err(|e| format!("qemu sent no JSON ({e}): {line}")),
            Err(e) => Err(format!("reading qemu's control socket: {e}")),
        }
    }

    /// Runs `command`; its `return` value, or qemu's error description.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Result<Value, String> {
        let mut msg = json!({ "execute": command });
        if arguments.as_object().is_some_and(|a| !a.is_empty()) {
            msg["arguments"] = arguments;
        }
        let mut line = msg.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes()).map_err(|e| format!("writing qemu's control socket: {e}"))?;
        loop {
            let r = self.read()?;
            if r.get("event").is_some() {
                continue;
            }
            if let Some(v) = r.get("return") {
                return Ok(v.clone());
            }
            let desc = r.pointer("/error/desc").and_then(Value::as_str).unwrap_or("an unknown error");
            return Err(format!("{command}: {desc}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_bucketed() {
        assert_eq!(memory_mib(192), 512);
        assert_eq!(memory_mib(512), 512);
        assert_eq!(memory_mib(513), 1024);
        assert_eq!(memory_mib(3000), 4096);
    }

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(shell_quote(Path::new("/a b/c")).unwrap(), "'/a b/c'");
        assert!(shell_quote(Path::new("/a'b")).is_none());
    }

    #[test]
    fn the_key_changes_with_what_must_match() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("bzImage");
        std::fs::write(&kernel, b"kernel").unwrap();
        let qemu = std::env::current_exe().unwrap();
        let parts = |initrd: &'static [u8], cpus| KeyParts {
            initrd,
            kernel: &kernel,
            qemu: &qemu,
            accel: Accel::Tcg,
            cpus,
            memory_mib: 512,
        };
        let a = path_for(dir.path(), "debian:6.1", &parts(b"one", 2)).unwrap();
        assert_eq!(a, path_for(dir.path(), "debian:6.1", &parts(b"one", 2)).unwrap());
        assert!(a.file_name().unwrap().to_str().unwrap().starts_with("debian-6.1-tcg-512M-"), "{a:?}");
        assert_ne!(a, path_for(dir.path(), "debian:6.1", &parts(b"two", 2)).unwrap());
        assert_ne!(a, path_for(dir.path(), "debian:6.1", &parts(b"one", 1)).unwrap());
        std::fs::write(&kernel, b"another kernel").unwrap();
        assert_ne!(a, path_for(dir.path(), "debian:6.1", &parts(b"one", 2)).unwrap());
    }

    #[test]
    fn eviction_keeps_the_most_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = SystemTime::now() - Duration::from_secs(100);
        for i in 0..6u64 {
            let p = dir.path().join(format!("{i}.vmstate"));
            std::fs::write(&p, b"x").unwrap();
            std::fs::File::options().append(true).open(&p).unwrap().set_modified(t0 + Duration::from_secs(i)).unwrap();
        }
        std::fs::write(dir.path().join("other.txt"), b"x").unwrap();
        let stale = dir.path().join(".x.vmstate.1.tmp");
        std::fs::write(&stale, b"x").unwrap();
        std::fs::File::options()
            .append(true)
            .open(&stale)
            .unwrap()
            .set_modified(t0 - Duration::from_secs(7200))
            .unwrap();
        std::fs::write(dir.path().join(".y.vmstate.2.tmp"), b"x").unwrap(); // a save under way
        touch(&dir.path().join("0.vmstate"));
        evict(dir.path(), 3);
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, [".y.vmstate.2.tmp", "0.vmstate", "4.vmstate", "5.vmstate", "other.txt"]);
    }
}
