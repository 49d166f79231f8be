//! A suite: the spec files found under the paths a user gives, compiled together. Also writes the
//! compiled output (RON fixtures and one pcapng per spec) all-or-nothing: nothing is written unless every
//! spec compiled, and files appear by rename, so a failed or interrupted run leaves no partial file.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diag;
use crate::spec::{compile_spec, CompiledSpec, FsLoader};

/// The extension of spec files.
pub const SPEC_EXTENSION: &str = "pkt";

/// Compiled specs, in path order, with the warnings and notes their compilation raised.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    pub specs: Vec<CompiledSpec>,
    pub warnings: Vec<Diag>,
}

impl Suite {
    pub fn fixture_count(&self) -> usize {
        self.specs.iter().map(|s| s.fixtures.len()).sum()
    }
}

/// A spec file found under a given path, with the root it was found under (for output paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecPath {
    pub path: PathBuf,
    /// `path` relative to the directory given by the user (just the file name for a file argument).
    pub relative: PathBuf,
}

/// Finds `.pkt` files: files given directly, and every `.pkt` under given directories (recursively,
/// sorted, skipping hidden directories and `snapshots/`).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<SpecPath>, Vec<Diag>> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let mut visited = std::collections::HashSet::new();
    for p in paths {
        if let Some(e) = not_utf8(p) {
            errors.push(e);
            continue;
        }
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, p, &mut visited, &mut found, &mut errors),
            Ok(_) => found
                .push(SpecPath { path: p.clone(), relative: PathBuf::from(p.file_name().unwrap_or(p.as_os_str())) }),
            Err(e) => errors.push(
                Diag::global("usage::no_such_path", format!("cannot read {}: {}", p.display(), e))
                    .help("give spec files or directories that contain them"),
            ),
        }
    }
    // The same file reached twice (`specs specs`, or a file inside a given directory) is one spec.
    let mut seen = std::collections::HashSet::new();
    found.retain(|s| seen.insert(std::fs::canonicalize(&s.path).unwrap_or_else(|_| s.path.clone())));
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

/// Snapshot, fixture and report names are built from spec paths as text: a path that is not UTF-8
/// would be shown and looked up under a lossy spelling (and find no snapshot), so it is refused.
fn not_utf8(p: &Path) -> Option<Diag> {
    p.to_str().is_none().then(|| {
        Diag::global("usage::not_utf8_path", format!("{} is not a UTF-8 path", p.display()))
            .help("snapshots and reports are named after spec paths: rename it with UTF-8 characters")
    })
}

/// The directories a suite's files may be read from: for each path given, the repository it is in
/// (the nearest directory above with a `.git`), or else the directory itself (a file's directory),
/// plus the directories given with `--allow-path`.
pub fn spec_roots(paths: &[PathBuf], allowed: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    for p in paths {
        let Ok(real) = std::fs::canonicalize(p) else { continue };
        let dir = if real.is_dir() { real.clone() } else { real.parent().map_or(real.clone(), Path::to_path_buf) };
        let root = dir.ancestors().find(|a| a.join(".git").exists()).unwrap_or(&dir).to_path_buf();
        roots.push(root);
    }
    roots.extend(allowed.iter().map(|a| std::fs::canonicalize(a).unwrap_or_else(|_| a.clone())));
    roots.sort();
    roots.dedup();
    roots
}

/// Walks `dir` for specs. `visited` holds the (device, inode) of every directory entered, so that
/// symlinks forming a cycle (`ln -s . loop`) are entered once instead of forever.
fn walk(
    root: &Path,
    dir: &Path,
    visited: &mut std::collections::HashSet<(u64, u64)>,
    found: &mut Vec<SpecPath>,
    errors: &mut Vec<Diag>,
) {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(dir) {
        Ok(m) if !visited.insert((m.dev(), m.ino())) => return,
        _ => {}
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            errors.push(Diag::global("usage::unreadable_dir", format!("cannot read directory {}: {e}", dir.display())));
            return;
        }
    };
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if name.starts_with('.') || name == "snapshots" {
                continue;
            }
            match not_utf8(&p) {
                Some(e) => errors.push(e),
                None => walk(root, &p, visited, found, errors),
            }
        } else if p.extension().and_then(|e| e.to_str()) == Some(SPEC_EXTENSION) && p.to_str().is_none() {
            errors.extend(not_utf8(&p));
        } else if p.extension().and_then(|e| e.to_str()) == Some(SPEC_EXTENSION) {
            let relative = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
            found.push(SpecPath { path: p, relative });
        }
    }
}

/// Compiles every spec (in parallel, one file per task): every diagnostic of every file (errors,
/// warnings and notes) if any is an error, else the whole suite with its warnings and notes.
pub fn compile(specs: &[SpecPath], loader: &FsLoader) -> Result<Suite, Vec<Diag>> {
    let (compiled, warnings) = compile_each(specs, loader, |c| c)?;
    Ok(Suite { specs: compiled, warnings })
}

/// [`compile`] for a run: each spec is kept without its capture packets and what only pages read
/// ([`crate::fixture::Fixture::strip_for_run`]), dropped as soon as the spec is compiled.
pub fn compile_for_run(specs: &[SpecPath], loader: &FsLoader) -> Result<Suite, Vec<Diag>> {
    let (compiled, warnings) = compile_each(specs, loader, |mut c| {
        c.packets = Vec::new();
        c.fixtures.iter_mut().for_each(crate::fixture::Fixture::strip_for_run);
        c.fixtures.shrink_to_fit();
        c
    })?;
    Ok(Suite { specs: compiled, warnings })
}

/// What `check` keeps of a suite: how many scenarios it has, and its warnings.
#[derive(Debug, Default)]
pub struct Checked {
    pub scenarios: usize,
    pub warnings: Vec<Diag>,
}

/// [`compile`] for `check`: each spec's fixtures are counted and dropped as soon as the spec is
/// compiled, so memory is that of the specs being compiled at once, not of the whole suite (about
/// 5 KB per scenario kept).
pub fn check(specs: &[SpecPath], loader: &FsLoader) -> Result<Checked, Vec<Diag>> {
    let (counts, warnings) = compile_each(specs, loader, |c| c.fixtures.len())?;
    Ok(Checked { scenarios: counts.into_iter().sum(), warnings })
}

/// Compiles every spec in parallel and keeps `keep` of each compiled one, in spec order; the
/// warnings, or every diagnostic when there is an error.
fn compile_each<T: Send>(
    specs: &[SpecPath],
    loader: &FsLoader,
    keep: impl Fn(CompiledSpec) -> T + Sync,
) -> Result<(Vec<T>, Vec<Diag>), Vec<Diag>> {
    use rayon::prelude::*;
    let results: Vec<(Option<T>, Vec<Diag>)> = specs
        .par_iter()
        .map(|s| {
            let mut diags = Vec::new();
            let compiled = compile_spec(&s.path, &mut loader.clone(), &mut diags);
            (compiled.map(&keep), diags)
        })
        .collect();
    let mut kept = Vec::new();
    let mut diags = Vec::new();
    for (compiled, d) in results {
        diags.extend(d);
        kept.extend(compiled);
    }
    // A library included by several specs raises its warnings once per spec: show them once.
    let mut seen = std::collections::HashSet::new();
    diags.retain(|d| d.is_error() || seen.insert((d.code, d.location(), d.message.clone())));
    if diags.iter().any(Diag::is_error) {
        Err(diags)
    } else {
        Ok((kept, diags))
    }
}

/// The files `write` produces, relative to the output directory, with their contents.
pub fn outputs(specs: &[SpecPath], suite: &Suite) -> Result<Vec<(PathBuf, Vec<u8>)>, Diag> {
    let mut files = Vec::new();
    for (sp, compiled) in specs.iter().zip(&suite.specs) {
        if compiled.fixtures.is_empty() {
            continue; // a library of packet definitions: nothing to run
        }
        let stem = sp.relative.with_extension("");
        for f in &compiled.fixtures {
            files.push((stem.join(format!("{}.ron", crate::fixture::slug(&f.scenario))), f.to_ron().into_bytes()));
        }
        let pcap = crate::pcap::write_pcapng(&compiled.packets, Vec::new()).map_err(|e| {
            Diag::global("compile::pcap", format!("cannot encode the pcapng for {}: {e}", sp.path.display()))
        })?;
        files.push((stem.with_extension("pcapng"), pcap));
    }
    // Two specs with the same relative path (`a/x.pkt b/x.pkt`) would write the same files.
    let mut by_path: std::collections::HashMap<&Path, usize> = std::collections::HashMap::new();
    for (i, (path, _)) in files.iter().enumerate() {
        if let Some(first) = by_path.insert(path, i) {
            let owner = |file: usize| {
                let mut n = 0;
                for (sp, compiled) in specs.iter().zip(&suite.specs) {
                    if compiled.fixtures.is_empty() {
                        continue;
                    }
                    n += compiled.fixtures.len() + 1;
                    if file < n {
                        return sp.path.display().to_string();
                    }
                }
                String::new()
            };
            return Err(Diag::global(
                "compile::output_clash",
                format!("{} and {} would both write {}", owner(first), owner(i), path.display()),
            )
            .help("output paths are relative to the directory given; compile these specs separately or give their common parent"));
        }
    }
    Ok(files)
}

/// The prefix of the directory an output is staged in, beside the output directory.
pub const STAGING_PREFIX: &str = ".xdptest-staging-";

/// Writes `files` as the whole content of `out`, all or nothing: everything goes into a staging
/// directory beside `out` (named after this process, see [`crate::owner`]), which then takes `out`'s
/// place in one atomic exchange (`renameat2(RENAME_EXCHANGE)`), or one rename when `out` is new. A
/// reader, or a run killed at any moment, sees the old output or the new one, never a mix. `cancelled`
/// is asked between files (Ctrl-C): the staging directory is removed and `out` stays as it was.
/// Staging directories of xdptest processes that died are removed first.
///
/// `out` is replaced as a whole, so it must be new, empty, or an earlier output (only `.ron` and
/// `.pcapng` files): `--out .` in a source tree is refused, not emptied.
pub fn write_all(out: &Path, files: &[(PathBuf, Vec<u8>)], cancelled: &dyn Fn() -> bool) -> Result<(), Diag> {
    let replaceable = |out: &Path| match foreign_file(out) {
        Some(foreign) => Err(Diag::global(
            "compile::write",
            format!("{} holds files xdptest compile did not write ({})", out.display(), foreign.display()),
        )
        .help("the output directory is replaced as a whole: give a new or empty directory, or an earlier output")),
        None => Ok(()),
    };
    write_tree(out, files, cancelled, &replaceable)
}

/// Writes `files` (paths relative to `out`) as the directory `out`, all at once: into a staging
/// directory beside it, then renamed into place (swapped with an existing `out`, which
/// `replaceable` must accept first). An interruption (`cancelled`) or an error leaves `out` as it was.
pub fn write_tree(
    out: &Path,
    files: &[(PathBuf, Vec<u8>)],
    cancelled: &dyn Fn() -> bool,
    replaceable: &dyn Fn(&Path) -> Result<(), Diag>,
) -> Result<(), Diag> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Diag::global("compile::write", format!("cannot {what} {}: {e}", p.display()))
    };
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| io("create", &parent, e))?;
    crate::owner::remove_stale(&parent, STAGING_PREFIX, |p| {
        let _ = std::fs::remove_dir_all(p);
    });
    let exists = match std::fs::symlink_metadata(out) {
        Ok(m) if m.is_dir() => true,
        Ok(_) => {
            return Err(Diag::global("compile::write", format!("{} exists and is not a directory", out.display()))
                .help("give a new directory, or an earlier output of xdptest"))
        }
        Err(_) => false,
    };
    if exists {
        replaceable(out)?;
    }
    let prefix = format!("{STAGING_PREFIX}{}-", crate::owner::Owner::this().tag());
    let staging =
        tempfile::Builder::new().prefix(&prefix).tempdir_in(&parent).map_err(|e| io("write into", &parent, e))?;
    let interrupted = || Diag::global("compile::interrupted", "interrupted: nothing was written".to_string());
    for (rel, bytes) in files {
        if cancelled() {
            return Err(interrupted());
        }
        let p = staging.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| io("write", &p, e))?;
    }
    if cancelled() {
        return Err(interrupted());
    }
    if exists {
        // The old output ends up at the staging path, which the TempDir then removes.
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            staging.path(),
            rustix::fs::CWD,
            out,
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .map_err(|e| io("replace", out, e.into()))?;
    } else {
        std::fs::rename(staging.path(), out).map_err(|e| io("write", out, e))?;
        let _ = staging.keep();
    }
    Ok(())
}

/// A file under `dir` that is not a fixture or a capture (what an earlier `compile` writes), if any.
fn foreign_file(dir: &Path) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let (path, kind) = (e.path(), e.file_type().ok()?);
            if kind.is_dir() {
                stack.push(path);
            } else if !(kind.is_file() && path.extension().is_some_and(|x| x == "ron" || x == "pcapng")) {
                return Some(path);
            }
        }
    }
    None
}
