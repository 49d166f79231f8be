//! A first load of each object in a child process, so that an object that crashes the loader costs
//! one scenario's error instead of the whole run. aya parses ELF, BTF and relocations from the object's
//! bytes; a malformed object (one byte changed in `.BTF.ext`, a broken symbol table) has made it
//! panic, and a panic inside a load is caught (the load runs on a thread of its own), but an abort or a
//! stack overflow ends the process — no summary, no JUnit. So before the first in-process load of an
//! object, a child reads it the way the loader does (aya-obj's parsing and relocation steps, without
//! the kernel): this executable started again with [`ARG`], the program on its standard input. If the
//! child dies, the object is reported as crashing the loader (with what the child said last); if it
//! reads the object or rejects it with an ordinary error, the in-process load goes ahead and meets
//! the same outcome, deterministically.
//!
//! The executable must route [`ARG`] to [`child_main`] before anything else; until [`enable`] is
//! called (by the CLI, which does that routing) no child is started, so library users and tests of this
//! crate load in-process only. Each (object bytes, program) is probed once per process.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use xdptest_compiler::fixture::Program;

use crate::error::RunError;

/// The first argument that makes the executable a probe.
pub const ARG: &str = "__xdptest-probe-load";

/// Exit status of a probe whose load succeeded, or failed with an ordinary (reported) error.
const LOADED: i32 = 0;
const LOAD_FAILED: i32 = 3;
/// The load panicked (the child says the panic's message on standard error).
const CRASHED: i32 = 5;
/// The probe could not read its program from standard input.
const BAD_INPUT: i32 = 4;

/// How long a probe may take: a load is milliseconds, a big object's verification seconds.
const DEADLINE: Duration = Duration::from_secs(120);

static EXE: OnceLock<PathBuf> = OnceLock::new();

/// Turns probing on: `exe` is this executable, which routes [`ARG`] to [`child_main`].
pub fn enable(exe: PathBuf) {
    let _ = EXE.set(exe);
}

/// In the child: when this process was started as a probe, loads the program given on standard
/// input and returns the exit status; `None` otherwise (the caller goes on as usual).
pub fn child_main() -> Option<i32> {
    if std::env::args_os().nth(1)? != ARG {
        return None;
    }
    let mut text = String::new();
    if std::io::stdin().read_to_string(&mut text).is_err() {
        return Some(BAD_INPUT);
    }
    let Ok(program) = ron::from_str::<Program>(&text) else { return Some(BAD_INPUT) };
    let Ok(bytes) = std::fs::read(&program.object) else { return Some(LOAD_FAILED) };
    // On a thread with the loader thread's stack: what fits here fits there.
    let read = std::thread::Builder::new()
        .stack_size(crate::bpffs::LOADER_STACK)
        .spawn(move || read_like_the_loader(&program, &bytes))
        .ok()?
        .join();
    Some(match read {
        Ok(Ok(())) => LOADED,
        Ok(Err(_)) => LOAD_FAILED,
        // The panic's message is on standard error already (the default hook printed it).
        Err(_) => CRASHED,
    })
}

/// What the loader does with the object's bytes before the kernel sees them, in aya-obj's own steps
/// (as `aya::EbpfLoader::load` takes them): parse the ELF, BTF and relocations, patch globals, fix the
/// BTF up, relocate map references and calls. Map descriptors are stand-ins (nothing is created), and
/// CO-RE relocation against the kernel's BTF is left to the real load (it needs the 5 MB vmlinux BTF
/// parsed, which would make every probe as slow as a load; a panic there is still caught in-process).
pub fn read_like_the_loader(program: &Program, bytes: &[u8]) -> Result<(), String> {
    let load_as = if program.frags { "xdp.frags" } else { "xdp" };
    let renamed = crate::elf::rename_for_load(bytes, &program.section, load_as).map_err(|e| e.0)?;
    let mut obj = aya_obj::Object::parse(&renamed).map_err(|e| e.to_string())?;
    let globals = program.rodata.iter().map(|g| (g.name.as_str(), (g.bytes.0.as_slice(), true))).collect();
    obj.patch_map_data(globals).map_err(|e| e.to_string())?;
    let all = aya_obj::btf::BtfFeatures::new(true, true, true, true, true, true, true, true);
    obj.fixup_and_sanitize_btf(&all).map_err(|e| e.to_string())?;
    let text_sections = obj.functions.keys().map(|(section, _)| *section).collect();
    let maps: Vec<(String, aya_obj::Map)> = obj.maps.iter().map(|(n, m)| (n.clone(), m.clone())).collect();
    obj.relocate_maps(maps.iter().map(|(n, m)| (n.as_str(), -1, m)), &text_sections).map_err(|e| e.to_string())?;
    obj.relocate_calls(&text_sections).map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs `f`, turning a panic into `Err(what it said)`, printed nowhere: a loader's panic on a
/// malformed object is that object's error, reported like any other (the default hook would print it
/// with a backtrace in the middle of the run's output).
pub fn contained<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    use std::cell::RefCell;
    thread_local! {
        /// `Some` while this thread runs contained code: the hook records the panic here.
        static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
    }
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let recorded = CAUGHT.with(|c| match c.borrow_mut().as_mut() {
                Some(slot) => {
                    let message = info
                        .payload()
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| info.payload().downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    let at = info.location().map(|l| format!("panicked at {l}: ")).unwrap_or_default();
                    *slot = last_words(&format!("{at}{message}"));
                    true
                }
                None => false,
            });
            if !recorded {
                previous(info);
            }
        }));
    });
    CAUGHT.with(|c| *c.borrow_mut() = Some(String::new()));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let said = CAUGHT.with(|c| c.borrow_mut().take()).unwrap_or_default();
    r.map_err(|_| said)
}

/// What probing one object said: nothing to fear, or the error to report instead of loading it.
type Outcome = Result<(), RunError>;

/// Probes `program`'s object once per process (when probing is enabled): `Err` when the load crashed
/// the child, which the caller reports instead of loading in-process.
pub fn check(program: &Program, bytes: &[u8]) -> Outcome {
    let Some(exe) = EXE.get() else { return Ok(()) };
    static SEEN: OnceLock<Mutex<HashMap<u64, Arc<OnceLock<Outcome>>>>> = OnceLock::new();
    let key = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        (&program.name, &program.section, &program.also).hash(&mut h);
        h.finish()
    };
    let slot =
        SEEN.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().clone();
    // Workers loading the same object wait for one probe instead of starting their own.
    slot.get_or_init(|| probe(exe, program, DEADLINE)).clone()
}

fn probe(exe: &std::path::Path, program: &Program, deadline: Duration) -> Outcome {
    let crashed = |how: String, said: String| RunError::LoaderCrashed {
        object: program.object.clone(),
        location: program.location.clone(),
        how,
        said,
    };
    let input = ron::to_string(program).map_err(|e| crashed("could not be started".into(), e.to_string()))?;
    let mut child = Command::new(exe)
        .arg(ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| crashed("could not be started".into(), e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    // Read what it says on a thread: a full pipe must not stall the child while we wait for it.
    let mut stderr = child.stderr.take();
    let said = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(64 * 1024).read_to_string(&mut text);
        }
        text
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => break None,
        }
    };
    let said = last_words(&said.join().unwrap_or_default());
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) if matches!(s.code(), Some(LOADED | LOAD_FAILED)) => Ok(()),
        Some(s) if s.code() == Some(BAD_INPUT) => Err(crashed("could not read its input".into(), said)),
        Some(s) => Err(crashed(
            match (s.code(), s.signal()) {
                (_, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
                (Some(101 | CRASHED), _) => "panicked".to_string(),
                (Some(c), _) => format!("exited with status {c}"),
                _ => "ended".to_string(),
            },
            said,
        )),
        None => Err(crashed(format!("did not finish within {} s", deadline.as_secs_f64()), said)),
    }
}

/// The child's last meaningful lines (a panic message, "has overflowed its stack"), without the
/// backtrace that follows them.
fn last_words(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        // "thread '<unnamed>' (28429) panicked at": the thread and its id change from run to run.
        .map(|l| l.find("panicked at ").map_or(l, |i| &l[i..]))
        .filter(|l| !l.is_empty())
        .take_while(|l| !l.starts_with("stack backtrace") && !l.starts_with("note: run with"))
        .collect();
    let shown = &lines[lines.len().saturating_sub(3)..];
    /// What is kept of a line: aya's messages can carry a whole log as a byte list.
    const LINE: usize = 240;
    let cut = |l: &str| match l.char_indices().nth(LINE) {
        Some((i, _)) => format!("{}…", &l[..i]),
        None => l.to_string(),
    };
    // Source paths of dependencies: from the crate's directory on (`aya-obj-0.3.0/src/btf/btf.rs`).
    shown
        .iter()
        .map(|l| match l.find("/registry/src/").and_then(|i| l[i + 14..].find('/').map(|j| (i, i + 14 + j + 1))) {
            Some((i, j)) => {
                let start = l[..i].rfind(' ').map_or(0, |s| s + 1);
                format!("{}{}", &l[..start], &l[j..])
            }
            None => l.to_string(),
        })
        .map(|l| cut(&l))
        .collect::<Vec<_>>()
        .join(" ")
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> Program {
        Program {
            object: "bad.o".into(),
            hook: "xdp".into(),
            name: "xdp_x".into(),
            section: "xdp".into(),
            frags: false,
            also: Vec::new(),
            rodata: Vec::new(),
            controls: false,
            location: "s.pkt:1:9".into(),
            facts: Default::default(),
            maps: Vec::new(),
        }
    }

    /// A stand-in for a child whose loader aborts, hangs or loads: the parent's side of the protocol.
    fn child(script: &str) -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("child");
        std::fs::write(&exe, format!("#!/bin/sh\ncat >/dev/null\n{script}\n")).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        (dir, exe)
    }

    #[test]
    fn a_contained_panic_is_said_not_printed() {
        let r: Result<(), String> = contained(|| panic!("range end index {} out of range", 9));
        let said = r.unwrap_err();
        assert!(said.starts_with("panicked at runner/src/probe.rs:"), "{said}");
        assert!(said.ends_with(": range end index 9 out of range"), "{said}");
        assert_eq!(contained(|| 7), Ok(7));
        let long: Result<(), String> = contained(|| panic!("{}", "x".repeat(5000)));
        assert!(long.unwrap_err().chars().count() < 300);
    }

    #[test]
    fn an_aborting_or_hanging_child_is_the_objects_error() {
        let (_d, exe) = child("echo 'fatal runtime error: stack overflow, aborting' >&2; kill -ABRT $$");
        match probe(&exe, &program(), DEADLINE) {
            Err(RunError::LoaderCrashed { how, said, location, .. }) => {
                assert_eq!(how, "killed by signal 6 (SIGABRT)");
                assert_eq!(said, "fatal runtime error: stack overflow, aborting");
                assert_eq!(location, "s.pkt:1:9");
            }
            other => panic!("{other:?}"),
        }
        let (_d, exe) = child("exec sleep 30");
        let r = probe(&exe, &program(), Duration::from_millis(200));
        assert!(matches!(r, Err(RunError::LoaderCrashed { how, .. }) if how == "did not finish within 0.2 s"));
        for (code, ok) in [(0, true), (3, true), (5, false), (101, false), (4, false)] {
            let (_d, exe) = child(&format!("exit {code}"));
            assert_eq!(probe(&exe, &program(), DEADLINE).is_ok(), ok, "exit {code}");
        }
    }

    #[test]
    fn last_words_keep_the_message_not_the_backtrace() {
        let text = "\nthread '<unnamed>' (28429) panicked at /root/.cargo/registry/src/some-index/aya-obj-0.3.0/src/btf/btf.rs:1095:25:\nrange end index 9 out of range\n\
                    stack backtrace:\n   0: rust_begin_unwind\n";
        assert_eq!(
            last_words(text),
            "panicked at aya-obj-0.3.0/src/btf/btf.rs:1095:25: range end index 9 out of range"
        );
        assert_eq!(
            last_words("thread 'main' has overflowed its stack\nfatal runtime error: stack overflow, aborting\n"),
            "thread 'main' has overflowed its stack fatal runtime error: stack overflow, aborting"
        );
    }
}
