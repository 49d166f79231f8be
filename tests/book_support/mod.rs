//! Shared by the tests that keep the book's generated command outputs true (`book_running`,
//! `book_debugging`): run the real binary, normalise what varies, compare with or rewrite the file.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn book_src() -> PathBuf {
    root().join("book/src")
}

/// Runs `xdptest ARGS` in `dir` (programs built first, no colours, not in CI mode); exit code and
/// output with durations (`(123 µs)`) replaced by `(… µs)`.
pub fn run_in(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    assert!(Command::new("make").args(["-s", "-C"]).arg(root().join("programs")).status().unwrap().success());
    let o = Command::new(env!("CARGO_BIN_EXE_xdptest"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    let mut normalised = String::new();
    for line in text.lines() {
        let line = match line.rfind(" µs)") {
            Some(end) => match line[..end].rfind('(') {
                Some(open) if line[open + 1..end].chars().all(|c| c.is_ascii_digit()) => {
                    format!("{}(… µs){}", &line[..open], &line[end + " µs)".len()..])
                }
                _ => line.to_string(),
            },
            None => line.to_string(),
        };
        normalised.push_str(&line);
        normalised.push('\n');
    }
    (o.status.code(), normalised)
}

/// Compares `book/src/generated/NAME` with `actual`, or rewrites it when `BLESS=1`.
pub fn compare_or_bless(name: &str, actual: &str, test: &str) {
    let path = book_src().join("generated").join(name);
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(expected, actual, "{} is out of date: run BLESS=1 cargo test --test {test}", path.display());
}
