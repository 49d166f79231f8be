//! Capturing what a program writes with `bpf_printk` during a test run, attributed to exactly that run.
//!
//! `bpf_trace_printk` (and `bpf_trace_vprintk`) emit the trace event `bpf_trace/bpf_trace_printk` in
//! the context of the task that runs the program; `BPF_PROG_TEST_RUN` runs it in the calling thread. So
//! each worker thread gets a tracefs instance of its own (`instances/xdptest-<pid>-<start>-<tid>`) in which only
//! that event is enabled, filtered on `common_pid == <tid>`, and drains the instance's `trace_pipe` after
//! every run: lines can neither leak between parallel workers nor between runs. The top-level trace buffer
//! and other users' instances are left alone (the kernel itself turns the event on in the top-level
//! buffer when it loads a program that prints, as it always does). The instance is removed when the
//! worker ends, and instances left behind by xdptest processes that died are removed on first use.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{OsError, PrintkError};

fn setup(op: String, e: &io::Error) -> PrintkError {
    PrintkError::Setup { os: OsError::new(op, e) }
}

const PREFIX: &str = "xdptest-";
const EVENT: &str = "events/bpf_trace/bpf_trace_printk";

/// One worker thread's capture.
pub struct Printk {
    dir: PathBuf,
    pipe: Option<File>,
    buf: Vec<u8>,
}

impl Printk {
    /// Sets up capture for the calling thread. The error says why capture is impossible here.
    pub fn for_this_thread() -> Result<Printk, PrintkError> {
        let root = tracefs()?;
        let instances = root.join("instances");
        remove_stale(&instances);
        let tid = rustix::thread::gettid().as_raw_nonzero();
        let dir = instances.join(format!("{PREFIX}{}-{tid}", xdptest_compiler::owner::Owner::this().tag()));
        if dir.exists() {
            let _ = std::fs::remove_dir(&dir);
        }
        std::fs::create_dir(&dir).map_err(|e| setup(format!("mkdir {}", dir.display()), &e))?;
        // From here on, Drop removes the instance whatever fails.
        let mut p = Printk { dir, pipe: None, buf: vec![0; 64 * 1024] };
        let event = p.dir.join(EVENT);
        if !event.exists() {
            return Err(PrintkError::NoEvent);
        }
        let write = |file: &Path, text: &str| {
            std::fs::write(file, text).map_err(|e| setup(format!("write {}", file.display()), &e))
        };
        write(&event.join("filter"), &format!("common_pid == {tid}"))?;
        write(&event.join("enable"), "1")?;
        let pipe = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(p.dir.join("trace_pipe"))
            .map_err(|e| setup(format!("open {}", p.dir.join("trace_pipe").display()), &e))?;
        p.pipe = Some(pipe);
        Ok(p)
    }

    /// The lines printed by this thread since the last call.
    pub fn take(&mut self) -> Result<Vec<String>, PrintkError> {
        let Some(pipe) = &mut self.pipe else {
            return Ok(Vec::new());
        };
        let mut text = Vec::new();
        loop {
            match pipe.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => text.extend_from_slice(&self.buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PrintkError::Read { os: OsError::new("read trace_pipe", &e) }),
            }
        }
        Ok(parse(&String::from_utf8_lossy(&text)))
    }
}

impl Drop for Printk {
    fn drop(&mut self) {
        // An instance cannot be removed while a file in it is open.
        self.pipe = None;
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The messages in `trace_pipe` output. Each event is `<task>-<pid> [cpu] flags time: bpf_trace_printk:
/// <message>`; a message with a newline inside continues on the next lines, which are kept as lines of
/// their own. Empty lines (a message ending in `\n` gets one) are dropped, control characters replaced.
fn parse(text: &str) -> Vec<String> {
    const TAG: &str = "bpf_trace_printk: ";
    text.lines()
        .map(|l| match l.find(TAG) {
            Some(at) => &l[at + TAG.len()..],
            None => l,
        })
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim_end().chars().map(|c| if c.is_control() && c != '\t' { '\u{fffd}' } else { c }).collect())
        .collect()
}

/// Where tracefs is mounted; mounts it on `/sys/kernel/tracing` if it is nowhere (as `bpftool prog
/// tracelog` does).
fn tracefs() -> Result<&'static Path, PrintkError> {
    static ROOT: OnceLock<Result<PathBuf, PrintkError>> = OnceLock::new();
    ROOT.get_or_init(|| {
        for dir in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
            if Path::new(dir).join("instances").is_dir() {
                return Ok(PathBuf::from(dir));
            }
        }
        let mounted =
            rustix::mount::mount("nodev", "/sys/kernel/tracing", "tracefs", rustix::mount::MountFlags::empty(), None);
        match mounted {
            Ok(()) if Path::new("/sys/kernel/tracing/instances").is_dir() => Ok(PathBuf::from("/sys/kernel/tracing")),
            Ok(()) => {
                Err(PrintkError::NoTracefs { os: OsError::errno("find /sys/kernel/tracing/instances", ::libc::ENOENT) })
            }
            Err(e) => Err(PrintkError::NoTracefs { os: OsError::new("mount tracefs", &e.into()) }),
        }
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

/// Removes instances of xdptest processes that no longer exist (killed before they could clean up):
/// `xdptest-<pid>-<start>-<tid>`, judged by pid and start time (see [`xdptest_compiler::owner`]).
fn remove_stale(instances: &Path) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        xdptest_compiler::owner::remove_stale(instances, PREFIX, |p| {
            let _ = std::fs::remove_dir(p);
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trace_pipe_lines() {
        let text = "   xdptest-worker-0-4242    [001] b..11  2294.396427: bpf_trace_printk: ipv4 proto 17 ttl 64\n\
                    bpf_trace_printk: two\n\
                    \n\
                    bpf_trace_printk: lines\\x01\n\
                    continued\n";
        assert_eq!(parse(text), ["ipv4 proto 17 ttl 64", "two", "lines\\x01", "continued"]);
        assert_eq!(parse("bpf_trace_printk: bell\u{7}\n"), ["bell\u{fffd}"]);
    }
}
