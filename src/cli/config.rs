//! `xdptest.toml`: the defaults a team shares for `xdptest run` (jobs, kernels, snapshot handling,
//! failure limit) and named selections (`--filter @smoke`), found from the spec paths upwards to the
//! repository root. Flags given on the command line win over the file. Unknown keys are errors with
//! their place in the file, so a typo never silently does nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file's name.
pub const FILE: &str = "xdptest.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub run: RunDefaults,
    /// Named selections: `smoke = ["upf.pkt::uplink", "icmp"]` makes `--filter @smoke` select what
    /// any of those filters selects.
    #[serde(default)]
    pub aliases: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub doc: DocDefaults,
}

/// `[doc]`: where the team's scenario pages live.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocDefaults {
    /// The directory `xdptest doc` writes (relative to the file): its default `--out`, and where
    /// `run` points failed scenarios (`see book: DIR/upf/upf.md#…`).
    pub pages: Option<String>,
}

/// `[run]`: defaults for the flags of the same names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunDefaults {
    pub jobs: Option<u16>,
    /// `--kernel` values (`debian:6.1`, a bzImage path relative to the file).
    #[serde(default)]
    pub kernels: Vec<String>,
    /// `--snapshots`: check, update, new, off.
    pub snapshots: Option<crate::snapshot::Mode>,
    /// `--unreferenced`: warn, reject, delete, ignore.
    pub unreferenced: Option<crate::snapshot::Unreferenced>,
    /// `--max-fail`.
    pub max_fail: Option<u32>,
}

/// The nearest `xdptest.toml` above the first of `paths` (itself included when it is a directory),
/// not looking past the repository root (the directory with `.git`).
pub fn find(paths: &[PathBuf]) -> Option<PathBuf> {
    let first = paths.first()?;
    let start = std::fs::canonicalize(first).ok()?;
    let start = if start.is_dir() { start } else { start.parent()?.to_path_buf() };
    for dir in start.ancestors() {
        let candidate = dir.join(FILE);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// The `xdptest.toml` that applies to `paths` (see [`find`]), read once, and the directory it is in;
/// the defaults without one. `Err` is a usage error, printed.
pub fn for_paths(paths: &[PathBuf]) -> Result<(Config, Option<PathBuf>), crate::outcome::Outcome> {
    let Some(path) = find(paths) else { return Ok((Config::default(), None)) };
    let config = load(&path).map_err(|e| {
        errln!("error: {e}");
        crate::outcome::Outcome::Error
    })?;
    Ok((config, path.parent().map(Path::to_path_buf)))
}

/// Reads and checks the file: `Err` is a message located at the offending key (`FILE:LINE:COL`).
pub fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let config: Config = toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| {
            let before = &text[..s.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!(":{line}:{col}")
        });
        format!("{}{}: {}", path.display(), at.unwrap_or_default(), e.message())
    })?;
    if let Some(0) = config.run.jobs {
        return Err(format!("{}: [run] jobs must be at least 1", path.display()));
    }
    for (name, filters) in &config.aliases {
        if filters.is_empty() {
            return Err(format!("{}: alias `{name}` selects nothing (give at least one filter)", path.display()));
        }
    }
    Ok(config)
}

/// `--filter` values with `@ALIAS` replaced by the alias's filters; `Err` names an unknown alias.
pub fn expand_filters(filters: &[String], config: &Config) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for f in filters {
        match f.strip_prefix('@') {
            Some(name) => match config.aliases.get(name) {
                Some(list) => out.extend(list.iter().cloned()),
                None => {
                    let known: Vec<&str> = config.aliases.keys().map(String::as_str).collect();
                    let hint = match xdptest_compiler::diagnostic::did_you_mean(name, known.iter().copied()) {
                        Some(m) => format!("; did you mean @{m}?"),
                        None if known.is_empty() => format!(" (no {FILE} defines aliases)"),
                        None => format!(
                            " (aliases: {})",
                            known.iter().map(|k| format!("@{k}")).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    return Err(format!("no selection alias @{name}{hint}"));
                }
            },
            None => out.push(f.clone()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, text).unwrap();
        load(&path).map_err(|e| e.replace(&path.display().to_string(), FILE))
    }

    #[test]
    fn keys_are_checked_and_located() {
        let c = parse("[run]\njobs = 2\nkernels = [\"debian:6.1\"]\n\n[aliases]\nsmoke = [\"icmp\"]\n").unwrap();
        assert_eq!(c.run.jobs, Some(2));
        assert_eq!(c.run.kernels, ["debian:6.1"]);
        let e = parse("[run]\njobs = 2\njbos = 3\n").unwrap_err();
        assert!(e.starts_with("xdptest.toml:3:1: unknown field `jbos`"), "{e}");
        let e = parse("[run]\njobs = \"two\"\n").unwrap_err();
        assert!(e.starts_with("xdptest.toml:2:8: "), "{e}");
        assert!(parse("[run]\njobs = 0\n").unwrap_err().contains("at least 1"));
        let e = parse("[run]\nsnapshots = \"chek\"\n").unwrap_err();
        assert!(e.starts_with("xdptest.toml:2:13: unknown variant `chek`, expected one of"), "{e}");
        let c = parse("[run]\nsnapshots = \"off\"\nunreferenced = \"reject\"\n").unwrap();
        assert_eq!(
            (c.run.snapshots, c.run.unreferenced),
            (Some(crate::snapshot::Mode::Off), Some(crate::snapshot::Unreferenced::Reject))
        );
    }

    #[test]
    fn aliases_expand_and_unknown_ones_are_named() {
        let c = parse("[aliases]\nsmoke = [\"a\", \"b\"]\n").unwrap();
        assert_eq!(expand_filters(&["@smoke".into(), "c".into()], &c).unwrap(), ["a", "b", "c"]);
        assert_eq!(
            expand_filters(&["@smok".into()], &c).unwrap_err(),
            "no selection alias @smok; did you mean @smoke?"
        );
    }
}
