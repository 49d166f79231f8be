//! House rules that a reviewer should not have to check by eye: every Rust source file opens with a
//! `//!` comment saying what it owns.

mod support;

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            // Build output, and what cargo-fuzz and VCS keep, are not sources.
            if !name.starts_with('.') && name != "target" && name != "corpus" && name != "artifacts" {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_source_file_says_what_it_owns() {
    let mut files = Vec::new();
    for dir in ["src", "grammar", "compiler", "runner", "vm", "tests", "benches", "fuzz"] {
        rust_files(&support::repo().join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| f.strip_prefix(support::repo()).unwrap().display().to_string())
        .collect();
    assert!(missing.is_empty(), "these files do not open with a `//!` comment:\n{}", missing.join("\n"));
}
