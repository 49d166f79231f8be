//! Snapshot reports: the [report](crate::report::scenario) of a scenario stored beside its spec, so a
//! change in what the program does shows up in code review.
//!
//! Files are insta's: `DIR/snapshots/<spec stem>__<scenario slug>.snap` for the spec `DIR/<spec
//! stem>.pkt`, a YAML front matter (`source`, `description`, `expression`) between `---` lines, then the
//! report. New or changed reports go to `<same>.snap.new` and never replace an accepted `.snap` unless
//! asked (`--snapshots=update`, `xdptest review`), so `cargo insta pending-snapshots`, `cargo insta
//! review` and `cargo insta accept` work on them too. The front matter is written byte for byte as insta
//! writes it, so accepting with either tool gives the same file.
//!
//! Which scenarios are compared: those that say `expect snapshot` and those that have an accepted `.snap`
//! (so a fresh checkout has nothing pending, and a snapshot once accepted stays checked). Only these have
//! their maps read around each run (the fast path stays fast).

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use xdptest_compiler::Fixture;
use xdptest_runner::verdict::Failure;
use xdptest_runner::{Observe, OsError, RunError, ScenarioResult, Verdict};

use crate::outcome::count;
use crate::report::scenario::render_report;

/// What `xdptest run` does with snapshots (`--snapshots`, or `snapshots` in xdptest.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Compare scenarios that say `expect snapshot` or have an accepted snapshot; a difference fails
    /// the scenario. A missing snapshot is written as `.snap.new`: pending review, or a failure in CI.
    Check,
    /// Like check, but write differing and missing snapshots of those scenarios as accepted `.snap`.
    Update,
    /// Like check, and write a `.snap.new` for every selected scenario whose report differs from its
    /// accepted snapshot or has none (to start snapshotting a suite; review them afterwards).
    New,
    /// No snapshots: nothing read, compared or written.
    Off,
}

/// Whether this looks like a CI run: insta's rule (`CI` set to anything but `false`, `0` or empty, or
/// `TF_BUILD` set).
pub fn is_ci() -> bool {
    match std::env::var("CI").ok().as_deref() {
        Some("false") | Some("0") | Some("") => false,
        None => std::env::var_os("TF_BUILD").is_some(),
        Some(_) => true,
    }
}

/// The accepted snapshot of scenario `scenario` of spec `spec`.
pub fn path_for(spec: &str, scenario: &str) -> PathBuf {
    let spec = Path::new(spec);
    let stem = spec.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = spec.parent().unwrap_or(Path::new("")).join("snapshots");
    dir.join(format!("{stem}__{}.snap", xdptest_compiler::fixture::slug(scenario)))
}

/// The pending file beside an accepted snapshot path.
pub fn pending_path(snap: &Path) -> PathBuf {
    let mut s = snap.as_os_str().to_owned();
    s.push(".new");
    PathBuf::from(s)
}

/// A snapshot file as insta writes it.
pub fn file_text(source: &str, description: &str, expression: &str, body: &str) -> String {
    let mut s = String::from("---\n");
    s.push_str(&format!("source: {}\n", yaml_str(source)));
    if !description.is_empty() {
        s.push_str(&format!("description: {}\n", yaml_str(description)));
    }
    s.push_str(&format!("expression: {}\n", yaml_str(expression)));
    s.push_str("---\n");
    s.push_str(&normalize(body));
    s.push('\n');
    s
}

/// What insta compares and stores: trailing whitespace trimmed, CRLF as LF.
fn normalize(body: &str) -> String {
    body.trim_end().replace("\r\n", "\n")
}

/// The report in a snapshot file, read as insta reads it (after the front matter, lines joined by `\n`,
/// trailing whitespace trimmed). `None` for a file without front matter.
pub fn read_body(text: &str) -> Option<String> {
    let mut lines = text.split_inclusive('\n');
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    for l in lines.by_ref() {
        if l.trim_end() == "---" {
            let body: Vec<&str> =
                lines.map(|l| l.strip_suffix('\n').unwrap_or(l)).map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
            return Some(normalize(&body.join("\n")));
        }
    }
    None
}

/// A field of a snapshot's front matter (`source`, `expression`, `description`), unquoted.
pub fn front_matter(text: &str, name: &str) -> Option<String> {
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let value = lines.take_while(|l| l.trim_end() != "---").find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))?;
    let Some(quoted) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return Some(value.to_string());
    };
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Some(out)
}

/// A string in YAML as insta's emitter writes it: plain when it can be, else double-quoted with escapes.
fn yaml_str(v: &str) -> String {
    let needs_quotes = v.is_empty()
        || v.starts_with(' ')
        || v.ends_with(' ')
        || v.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@'])
        || v.contains(|c: char| {
            matches!(c, ':' | '{' | '}' | '[' | ']' | ',' | '#' | '`' | '"' | '\'' | '\\' | '\0'..='\x06' | '\t' | '\n' | '\r' | '\x0e'..='\x1a' | '\x1c'..='\x1f')
        })
        || [
            "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE", "false", "on", "On", "ON",
            "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ]
        .contains(&v)
        || v.starts_with('.')
        || v.starts_with("0x")
        || v.parse::<i64>().is_ok()
        || v.parse::<f64>().is_ok();
    if !needs_quotes {
        return v.to_string();
    }
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\x08' => s.push_str("\\b"),
            '\t' => s.push_str("\\t"),
            '\n' => s.push_str("\\n"),
            '\x0c' => s.push_str("\\f"),
            '\r' => s.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Writes beside the target, then renames: nobody sees half a snapshot.
fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    // A temporary file is private (0600); a snapshot is a source file like the spec.
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The `source` of a snapshot: the spec's path relative to the working directory when it is under it.
fn source_of(spec: &str) -> String {
    let p = Path::new(spec);
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            std::fs::canonicalize(p).ok().and_then(|abs| abs.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        })
        .unwrap_or_else(|| p.to_path_buf());
    rel.to_string_lossy().replace('\\', "/")
}

/// Why a scenario's snapshot cannot be compared.
enum Unusable {
    /// Reading or writing this file failed.
    Io(PathBuf, std::io::Error),
    /// The accepted file has no front matter.
    NotASnapshot,
}

/// Snapshot handling for one run.
pub struct Snapshots {
    mode: Mode,
    ci: bool,
    /// Per fixture: the path of its snapshot, when it is compared.
    entries: Vec<Option<PathBuf>>,
    /// `.snap.new` files written, updated `.snap` files.
    pub pending: Vec<PathBuf>,
    pub written: Vec<PathBuf>,
}

/// What happened to one scenario's snapshot, for the reporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A new report waits for review (not a failure outside CI).
    Pending(PathBuf),
    /// `--snapshots=update` wrote the accepted snapshot.
    Written(PathBuf),
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Pending(p) => write!(f, "new snapshot, pending review: {}", p.display()),
            Note::Written(p) => write!(f, "snapshot written: {}", p.display()),
        }
    }
}

impl Snapshots {
    /// The closing words about snapshots, if there is anything to say.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.written.is_empty() {
            parts.push(format!("{} accepted", count(self.written.len(), "snapshot")));
        }
        if !self.pending.is_empty() {
            parts.push(format!(
                "{} pending review: `xdptest review` (or `cargo insta review`) to accept or reject",
                count(self.pending.len(), "snapshot")
            ));
        }
        (!parts.is_empty()).then(|| format!("snapshots: {}", parts.join("; ")))
    }

    pub fn new(fixtures: &[Fixture], mode: Mode) -> Snapshots {
        // Per spec, the accepted snapshots of its scenarios: one directory listing per spec, no work per
        // scenario unless it has one (the suite without snapshots pays nothing per scenario).
        let mut stored: HashMap<&str, HashSet<String>> = HashMap::new();
        let mut entries = Vec::with_capacity(fixtures.len());
        if mode == Mode::Off {
            entries.resize(fixtures.len(), None);
        }
        // Scenarios of one spec come one after the other: look the spec up once per run of them.
        let mut i = 0;
        while entries.len() < fixtures.len() {
            let spec = fixtures[i].spec.as_str();
            let names = stored.entry(spec).or_insert_with(|| {
                let path = Path::new(spec);
                let prefix = format!("{}__", path.file_stem().unwrap_or_default().to_string_lossy());
                let dir = path.parent().unwrap_or(Path::new("")).join("snapshots");
                let Ok(rd) = std::fs::read_dir(dir) else { return HashSet::new() };
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&prefix) && n.ends_with(".snap"))
                    .collect()
            });
            while let Some(f) = fixtures.get(i).filter(|f| f.spec == spec) {
                i += 1;
                if mode != Mode::New && !f.snapshot && names.is_empty() {
                    entries.push(None);
                    continue;
                }
                let path = path_for(&f.spec, &f.scenario);
                let has = path.file_name().is_some_and(|n| names.contains(n.to_string_lossy().as_ref()));
                entries.push((mode == Mode::New || f.snapshot || has).then_some(path));
            }
        }
        Snapshots { mode, ci: is_ci(), entries, pending: Vec::new(), written: Vec::new() }
    }

    /// What the runner must record for the compared scenarios.
    pub fn observe(&self) -> Observe {
        if self.entries.iter().all(Option::is_none) {
            return Observe::default();
        }
        Observe { dump_maps: self.entries.iter().map(Option::is_some).collect(), ..Observe::default() }
    }

    /// Compares scenario `idx`'s report with its snapshot and writes what the mode says; a difference
    /// becomes a failure of `r`. Scenarios that could not run (errors, skips) are left alone.
    pub fn check(&mut self, idx: usize, f: &Fixture, r: &mut ScenarioResult) -> Option<Note> {
        let path = self.entries.get(idx)?.clone()?;
        if matches!(r.verdict, Verdict::Error { .. } | Verdict::Skip { .. }) {
            return None;
        }
        match self.compare(&path, f, r) {
            Ok(note) => note,
            Err(Unusable::Io(file, e)) => {
                let os = OsError::new(format!("write {}", file.display()), &e);
                r.verdict = Verdict::Error { error: RunError::Snapshot { path: path.display().to_string(), os } };
                None
            }
            Err(Unusable::NotASnapshot) => {
                r.verdict = Verdict::Error { error: RunError::NotASnapshot { path: path.display().to_string() } };
                None
            }
        }
    }

    /// Errors name the file that could not be read or written.
    fn compare(&mut self, path: &Path, f: &Fixture, r: &mut ScenarioResult) -> Result<Option<Note>, Unusable> {
        let body = render_report(f, r);
        let body = normalize(&body);
        let pending = pending_path(path);
        let on = |p: &Path| {
            let p = p.to_path_buf();
            move |e| Unusable::Io(p, e)
        };
        let stored = match std::fs::read_to_string(path) {
            // Without front matter it is no snapshot of ours (or insta's): comparing it with an empty
            // report would propose to overwrite whatever it is.
            Ok(text) => Some(read_body(&text).ok_or(Unusable::NotASnapshot)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Unusable::Io(path.to_path_buf(), e)),
        };
        if stored.as_deref() == Some(body.as_str()) {
            // Matches: a pending report from an earlier run is stale.
            remove_if_present(&pending).map_err(on(&pending))?;
            return Ok(None);
        }
        let text = file_text(&source_of(&f.spec), &f.description.replace('\n', " "), &f.scenario, &body);
        if self.mode == Mode::Update && (f.snapshot || stored.is_some()) {
            write_file(path, &text).map_err(on(path))?;
            remove_if_present(&pending).map_err(on(&pending))?;
            self.written.push(path.to_path_buf());
            return Ok(Some(Note::Written(path.to_path_buf())));
        }
        write_file(&pending, &text).map_err(on(&pending))?;
        self.pending.push(pending.clone());
        let failure = match &stored {
            Some(old) => Some(Failure::Snapshot {
                snapshot: path.display().to_string(),
                pending: pending.display().to_string(),
                missing: false,
                diff: line_diff(old, &body),
            }),
            // Only scenarios that ask for a snapshot miss one; `--snapshots=new` on the others just
            // proposes one.
            None if f.snapshot && self.ci => Some(Failure::Snapshot {
                snapshot: path.display().to_string(),
                pending: pending.display().to_string(),
                missing: true,
                diff: line_diff("", &body),
            }),
            None => None,
        };
        match failure {
            Some(failure) => {
                match &mut r.verdict {
                    Verdict::Fail { failures } => failures.push(failure),
                    v => *v = Verdict::Fail { failures: vec![failure] },
                }
                Ok(None)
            }
            None => Ok(Some(Note::Pending(pending))),
        }
    }
}

/// What `run` does with snapshot files that belong to no scenario (the scenario was renamed or
/// deleted): they would otherwise sit there unnoticed, and `cargo insta test --unreferenced=delete`
/// does not know xdptest's scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unreferenced {
    /// List them on standard error.
    Warn,
    /// List them, and fail the run (exit 1).
    Reject,
    /// Delete them (and their pending `.snap.new`), saying which.
    Delete,
    /// Say nothing.
    Ignore,
}

/// Snapshot files (`.snap` and `.snap.new`) in the `snapshots/` directories of `specs` that belong to
/// none of `referenced` (the snapshot paths of every scenario of those specs, selected or not).
pub fn unreferenced(specs: &[&str], referenced: &std::collections::HashSet<PathBuf>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for spec in specs {
        let p = Path::new(spec);
        let dir = p.parent().unwrap_or(Path::new("")).join("snapshots");
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match dirs.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, stems)) => stems.push(stem),
            None => dirs.push((dir, vec![stem])),
        }
    }
    for (dir, stems) in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let Some(name) = f.file_name().and_then(|n| n.to_str()) else { continue };
            let accepted = name.strip_suffix(".new").unwrap_or(name);
            // Only files of the specs that ran: `<stem>__<slug>.snap`.
            let ours = accepted.ends_with(".snap") && stems.iter().any(|s| accepted.starts_with(&format!("{s}__")));
            if ours && !referenced.contains(&dir.join(accepted)) {
                out.push(f);
            }
        }
    }
    out
}

/// A line diff of two texts (`-` old, `+` new, two spaces for context), three lines of context around
/// each change, `@@ line N @@` before each hunk (N counts lines of the new text). Computed by `similar`.
pub fn line_diff(old: &str, new: &str) -> String {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::configure().algorithm(similar::Algorithm::Myers).diff_lines(old, new);
    let mut out = String::new();
    for group in diff.grouped_ops(3) {
        let Some(first) = group.first() else { continue };
        out.push_str(&format!("@@ line {} @@\n", first.new_range().start + 1));
        for op in &group {
            for change in diff.iter_changes(op) {
                let tag = match change.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                let line = change.value().trim_end_matches(['\n', '\r']);
                out.push(tag);
                if !line.is_empty() {
                    out.push(' ');
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
    }
    out
}

/// Pending snapshots (`*.snap.new`) under `paths`: in `snapshots/` directories below the directories
/// given, and of the specs given as files. Sorted.
pub fn find_pending(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    walk(&p, out);
                }
            } else if name.ends_with(".snap.new") && p.parent().is_some_and(|d| d.ends_with("snapshots")) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else {
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let dir = p.parent().unwrap_or(Path::new("")).join("snapshots");
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&format!("{stem}__")) && name.ends_with(".snap.new") {
                    out.push(e.path());
                }
            }
        }
    }
    // `.` walks as `./snapshots/...`: shown as `snapshots/...`.
    let mut out: Vec<PathBuf> =
        out.into_iter().map(|p| p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p)).collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_sit_beside_the_spec() {
        assert_eq!(
            path_for("specs/upf/upf.pkt", "uplink ICMP is decapsulated!"),
            PathBuf::from("specs/upf/snapshots/upf__uplink-icmp-is-decapsulated.snap")
        );
        assert_eq!(pending_path(Path::new("a/b.snap")), PathBuf::from("a/b.snap.new"));
    }

    #[test]
    fn front_matter_is_insta_yaml() {
        let t = file_text("specs/x.pkt", "", "uplink: \"quoted\"", "body\n\n");
        assert_eq!(t, "---\nsource: specs/x.pkt\nexpression: \"uplink: \\\"quoted\\\"\"\n---\nbody\n");
        assert_eq!(read_body(&t).as_deref(), Some("body"));
        assert_eq!(yaml_str("plain words"), "plain words");
        for quoted in ["", "true", "12", "1.5", "-dash", "a # b", "0x10", ".dot", "tab\there"] {
            assert!(yaml_str(quoted).starts_with('"'), "{quoted}");
        }
        assert_eq!(read_body("no front matter"), None);
        assert_eq!(front_matter(&t, "expression").as_deref(), Some("uplink: \"quoted\""));
        assert_eq!(front_matter(&t, "source").as_deref(), Some("specs/x.pkt"));
        assert_eq!(front_matter(&t, "description"), None);
    }

    #[test]
    fn diffs_show_changes_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni";
        assert_eq!(line_diff(old, new), "@@ line 2 @@\n  b\n  c\n  d\n- e\n+ E\n  f\n  g\n  h\n");
        assert_eq!(line_diff("", "x\ny"), "@@ line 1 @@\n+ x\n+ y\n");
    }
}
