//! Running apt and dpkg-deb with a deadline: the child gets its own process group, so a stuck download
//! is stopped together with the helpers apt starts (its http methods).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::KernelError;

pub(crate) struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// ` (exit status 100)` for messages.
    pub fn status_note(&self) -> String {
        match self.status.code() {
            Some(c) => format!(" (exit status {c})"),
            None => " (killed by a signal)".into(),
        }
    }
}

/// Runs `cmd` to completion or until `timeout`, in the C locale (messages are matched in English).
/// `label` names the kernel for the "tool not found" message.
pub(crate) fn run(cmd: &mut Command, what: &str, timeout: Duration, label: &str) -> Result<Output, KernelError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            KernelError::AptUnavailable { tool: program.clone(), label: label.to_string() }
        } else {
            KernelError::io(&program, e)
        }
    })?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                // The process group this child leads (process_group(0) above): only processes this call
                // started are in it.
                kill_group(child.id());
                let _ = child.wait();
                let _ = (out_reader.join(), err_reader.join());
                return Err(KernelError::Timeout { what: what.to_string(), secs: timeout.as_secs() });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(KernelError::io(&program, e)),
        }
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Ok(Output { status, stdout, stderr })
}

/// The last few meaningful lines of a tool's error output, for a message.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let useful: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let start = useful.len().saturating_sub(lines);
    let joined = useful[start..].join("; ");
    if joined.is_empty() {
        "no error output".into()
    } else {
        joined
    }
}

/// Kills the process group `leader` leads.
pub(crate) fn kill_group(leader: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(leader as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_stops_the_whole_process_group() {
        let start = Instant::now();
        // The shell's child (sleep) holds the pipes too: it must die with the group for this to return.
        let e =
            run(Command::new("sh").args(["-c", "sleep 30 & sleep 30"]), "sleeping", Duration::from_millis(300), "t")
                .err()
                .expect("timeout");
        assert!(matches!(&e, KernelError::Timeout { what, .. } if what == "sleeping"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn missing_tool() {
        let e =
            run(&mut Command::new("xdptest-no-such-tool"), "x", Duration::from_secs(1), "debian:6.1").err().unwrap();
        assert!(e.to_string().starts_with("xdptest-no-such-tool not found: debian:6.1 is downloaded with apt"), "{e}");
    }

    #[test]
    fn output_and_status() {
        let out =
            run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), "x", Duration::from_secs(5), "t")
                .unwrap();
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("out\n", "err\n"));
        assert_eq!(out.status_note(), " (exit status 3)");
    }
}
