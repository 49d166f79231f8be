//! `run --rerun-failed`: the names of the scenarios that failed in the last run from this directory,
//! kept in a small JSON file under the cache directory (`$XDG_CACHE_HOME/xdptest/last-failed/`, else
//! `~/.cache/xdptest/last-failed/`), one file per working directory, so that checkouts do not mix and
//! nothing is written beside the specs.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Recorded {
    /// The working directory of the run (the file's key, kept for whoever reads the file).
    directory: String,
    /// `SPEC::SCENARIO` of every scenario that failed or could not run, in report order.
    failed: Vec<String>,
}

/// The file that holds the last run's failures for the current directory.
pub fn file() -> PathBuf {
    let cwd = std::env::current_dir().ok().and_then(|d| std::fs::canonicalize(d).ok()).unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    cwd.hash(&mut h);
    let root = xdptest_vm::kernel::default_cache_dir();
    let base = root.parent().map(Path::to_path_buf).unwrap_or(root);
    base.join("last-failed").join(format!("{:016x}.json", h.finish()))
}

/// Records `failed` (replacing what the previous run recorded).
pub fn record(path: &Path, failed: &[String]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let directory = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    let text = serde_json::to_string_pretty(&Recorded { directory, failed: failed.to_vec() })
        .map_err(std::io::Error::other)?;
    crate::report::write_atomically(path, text.as_bytes())
}

/// The names the last run from here recorded; `Err` says why there are none to rerun.
pub fn recorded(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|_| format!("no run from this directory is recorded (looked for {})", path.display()))?;
    let r: Recorded =
        serde_json::from_str(&text).map_err(|e| format!("{} is not a record of failures: {e}", path.display()))?;
    Ok(r.failed)
}
