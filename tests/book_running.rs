//! The "Running" chapter's outputs are real: this test runs the commands the chapter shows and keeps
//! `book/src/generated/run-*.txt` equal to what they print (durations normalised). After an intended
//! change, `BLESS=1 cargo test --test book_running` rewrites them; review the diff.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    assert!(Command::new("make").args(["-s", "-C"]).arg(root().join("programs")).status().unwrap().success());
    let o = Command::new(env!("CARGO_BIN_EXE_xdptest"))
        .args(args)
        .current_dir(root().join("book/src"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    // Durations vary from run to run.
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

fn compare_or_bless(name: &str, actual: &str) {
    let path = root().join("book/src/generated").join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(expected, actual, "{} is out of date: run BLESS=1 cargo test --test book_running", path.display());
}

#[test]
fn failure_output_in_the_book_is_real() {
    let (code, out) = run(&["run", "failing/upf_wrong.pkt", "-j1"]);
    assert_eq!(code, Some(1), "{out}");
    compare_or_bless("run-failing.txt", &out);
}

#[test]
fn passing_output_in_the_book_is_real() {
    let (code, out) = run(&["run", "examples/cookbook_firewall.pkt", "-j1"]);
    assert_eq!(code, Some(0), "{out}");
    compare_or_bless("run-passing.txt", &out);
}

#[test]
fn json_output_in_the_book_is_real() {
    let (code, out) = run(&["run", "failing/upf_wrong.pkt", "-j1", "--format", "json", "--filter", "unknown tunnel"]);
    assert_eq!(code, Some(1), "{out}");
    // The duration field varies: replace its value.
    let out = out
        .lines()
        .map(|l| match l.find("\"duration\":") {
            Some(at) => {
                let rest = &l[at + 11..];
                let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
                format!("{}\"duration\":0{}", &l[..at], &rest[end..])
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    compare_or_bless("run-json.txt", &format!("{out}\n"));
}
