//! Who owns what an xdptest process leaves on disk while it works (compile staging directories, VM
//! directories, tracefs instances): their names carry `<pid>-<start>`, the process id and its start
//! time in clock ticks since boot, so that a pid the kernel reused for another process is not taken for
//! the owner. A process killed with SIGKILL cannot clean up; the next xdptest run removes what it left,
//! and only once its owner is gone — never what a concurrent run is still using.

use std::path::Path;
use std::sync::OnceLock;

/// A process, told apart from later processes with the same pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub start: u64,
}

impl Owner {
    /// This process.
    pub fn this() -> Owner {
        static THIS: OnceLock<Owner> = OnceLock::new();
        *THIS.get_or_init(|| {
            let pid = std::process::id();
            Owner { pid, start: start_time(pid).unwrap_or(0) }
        })
    }

    /// `<pid>-<start>`, the part of a name that says whose it is.
    pub fn tag(&self) -> String {
        format!("{}-{}", self.pid, self.start)
    }

    /// The owner named at the start of `text` (`<pid>-<start>[-…]`).
    pub fn parse(text: &str) -> Option<Owner> {
        let mut parts = text.split('-');
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        Some(Owner { pid, start })
    }

    /// Whether the process still runs (the same one: same pid, same start time).
    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

/// Field 22 of `/proc/<pid>/stat`, the start time; `None` when there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and ')': count after the last.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Removes the entries of `dir` named `<prefix><owner>…` whose owner is gone, with `remove`; entries
/// of live processes, and names that carry no owner, are left alone.
pub fn remove_stale(dir: &Path, prefix: &str, remove: impl Fn(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(owner) = name.to_str().and_then(|n| n.strip_prefix(prefix)).and_then(Owner::parse) else {
            continue;
        };
        if owner != Owner::this() && !owner.alive() {
            remove(&e.path());
        }
    }
}

/// A new temporary directory `<prefix><owner>-XXXXXX` of this process in the system's temporary
/// directory; the first time for `prefix`, the ones that processes now gone left behind are removed.
pub fn temp_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let base = std::env::temp_dir();
    // Once per prefix and process: a process's own directories are never stale, and loads of pinned
    // objects ask for one each.
    static SWEPT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let first = {
        let mut swept = SWEPT.lock().unwrap_or_else(|p| p.into_inner());
        let first = !swept.iter().any(|p| p == prefix);
        if first {
            swept.push(prefix.to_string());
        }
        first
    };
    if first {
        remove_stale(&base, prefix, |p| {
            let _ = std::fs::remove_dir_all(p);
        });
    }
    tempfile::Builder::new().prefix(&format!("{prefix}{}-", Owner::this().tag())).tempdir_in(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_not() {
        let me = Owner::this();
        assert!(me.start > 0 && me.alive());
        assert_eq!(Owner::parse(&format!("{}-rest", me.tag())), Some(me));
        // The same pid with another start time is another process.
        assert!(!Owner { pid: me.pid, start: me.start + 1 }.alive());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!Owner { pid, start: 1 }.alive());
        assert_eq!(Owner::parse("x-1"), None);
    }

    #[test]
    fn only_entries_of_dead_owners_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let me = Owner::this();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = Owner { pid: child.id(), start: 12345 };
        child.wait().unwrap();
        for name in [format!("p-{}-a", me.tag()), format!("p-{}-b", dead.tag()), "p-nobody".into(), "q-1-2".into()] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        remove_stale(dir.path(), "p-", |p| std::fs::remove_dir(p).unwrap());
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, [format!("p-{}-a", me.tag()), "p-nobody".into(), "q-1-2".to_string()]);
    }
}
