//! Shared by the end-to-end tests: where the repository is, building the example programs once, a
//! builder that runs the real `xdptest` binary the same way everywhere (no colours, not in CI mode, no
//! stdin), the book's generated outputs (compare, or rewrite with `BLESS=1`), and independent oracles
//! (tshark, Python's `jsonschema` for the JSON contract).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn book_src() -> PathBuf {
    repo().join("book/src")
}

/// Builds `programs/` once per test binary.
pub fn build_programs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let out = Command::new("make").args(["-s", "-C"]).arg(repo().join("programs")).output().expect("make runs");
        assert!(
            out.status.success(),
            "building programs/ failed: install clang and libbpf-dev (scripts/setup)\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A run of the real binary, built up step by step.
pub struct Xdptest {
    cmd: Command,
}

/// `xdptest` in the repository root, with the example programs built.
pub fn xdptest() -> Xdptest {
    build_programs();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xdptest"));
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CI")
        .env_remove("TF_BUILD")
        // Specs written to temporary directories use the repository's programs: let them read it
        // (confinement itself is tested with this removed).
        .env("XDPTEST_ALLOW_PATH", repo())
        .stdin(Stdio::null());
    Xdptest { cmd }
}

impl Xdptest {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    /// Runs to the end.
    pub fn output(mut self) -> Output {
        self.cmd.output().expect("xdptest runs")
    }

    /// The command, for tests that spawn and signal it.
    pub fn command(self) -> Command {
        self.cmd
    }
}

/// `xdptest ARGS` in the repository root.
pub fn run(args: &[&str]) -> Output {
    xdptest().args(args).output()
}

/// `xdptest ARGS` in `dir`.
pub fn run_in_dir<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    xdptest().cwd(dir).args(args).output()
}

/// Exit code and both outputs, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Output with the durations of results (`(123 µs)`) replaced by `(… µs)`.
pub fn normalise_durations(text: &str) -> String {
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
    normalised
}

/// `xdptest ARGS` in `dir`: exit code and stdout then stderr, durations normalised (what the book shows).
pub fn run_in(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = run_in_dir(dir, args);
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code(), normalise_durations(&text))
}

/// Compares `book/src/generated/NAME` with `actual`, or rewrites it when `BLESS=1`.
pub fn compare_or_bless(name: &str, actual: &str, test: &str) {
    compare_or_bless_file(&book_src().join("generated").join(name), actual, test)
}

/// [`compare_or_bless`] for a file anywhere in the book.
pub fn compare_or_bless_file(path: &Path, actual: &str, test: &str) {
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(expected, actual, "{} is out of date: run BLESS=1 cargo test --test {test}", path.display());
}

/// Runs tshark (an independent decoder).
pub fn tshark(args: &[&str]) -> String {
    let o = match Command::new("tshark").args(args).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run tshark ({e}): install it (apt-get install tshark)"),
    };
    assert!(o.status.success(), "tshark {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The records of JSON Lines output.
pub fn json_records(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// Validates every line of `lines` against the JSON schema at `schema` (relative to the repository)
/// with Python's `jsonschema` (an independent validator); the error names the first line that fails.
pub fn check_schema(schema: &str, lines: &str) -> Result<(), String> {
    let script = "import json, sys\n\
                  from jsonschema import Draft202012Validator\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  Draft202012Validator.check_schema(schema)\n\
                  v = Draft202012Validator(schema)\n\
                  for n, line in enumerate(sys.stdin, 1):\n\
                  \x20   errors = sorted(v.iter_errors(json.loads(line)), key=lambda e: e.path)\n\
                  \x20   if errors:\n\
                  \x20       print(f'line {n}: {errors[0].message} at {list(errors[0].absolute_path)}')\n\
                  \x20       sys.exit(1)\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(repo().join(schema))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (with jsonschema: scripts/setup installs it)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// Compiles the BPF C file `source` into `object` the way `programs/Makefile` does, in `cwd` (relative
/// paths are recorded as given in the object's line info, which verifier diagnostics resolve).
#[allow(dead_code)]
pub fn clang_bpf(cwd: &Path, source: impl AsRef<OsStr>, object: impl AsRef<OsStr>) {
    let st = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c"])
        .arg(source)
        .arg("-o")
        .arg(object)
        .current_dir(cwd)
        .status()
        .expect("clang runs");
    assert!(st.success(), "clang failed");
}

/// Checks a JUnit file against the rules of the strict junit-10 schema that pytest validates its own
/// reports with (no package ships it, so its rules are written here): which attributes each element
/// may carry and which it must, which elements nest where, and times with at most three decimals.
/// One deviation: a scenario that could not run is an `<error>` element, as every JUnit consumer
/// (and pytest's own xunit2 output) writes it. Parsed by Python's ElementTree, not by our code.
pub fn assert_strict_junit(path: &Path) {
    let script = r#"
import re, sys, xml.etree.ElementTree as ET
allowed = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set()),
    "testsuite": ({"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname",
                   "id", "package", "file", "log", "url", "version"}, {"name", "tests", "failures", "errors"}),
    "testcase": ({"name", "time", "classname", "group"}, {"name"}),
    "failure": ({"type", "message"}, set()), "error": ({"type", "message"}, set()),
    "skipped": ({"type", "message"}, set()), "properties": (set(), set()),
    "property": ({"name", "value"}, {"name", "value"}), "system-out": (set(), set()), "system-err": (set(), set()),
}
children = {
    "testsuites": {"testsuite"},
    "testsuite": {"testsuite", "properties", "testcase", "system-out", "system-err"},
    "testcase": {"skipped", "error", "failure", "system-out", "system-err"},
    "properties": {"property"},
}
time = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]{0,3})?")
problems = []
def check(e, path):
    where = path + "/" + e.tag
    if e.tag not in allowed:
        problems.append(where + ": unknown element"); return
    ok, required = allowed[e.tag]
    for a in e.attrib:
        if a not in ok: problems.append(where + ": attribute " + a + " is not allowed")
    for a in required - set(e.attrib):
        problems.append(where + ": attribute " + a + " is required")
    if "time" in e.attrib and e.tag in ("testsuites", "testsuite") and not time.fullmatch(e.attrib["time"]):
        problems.append(where + ": time " + e.attrib["time"] + " has more than 3 decimals")
    for c in e:
        if c.tag not in children.get(e.tag, set()):
            problems.append(where + ": " + c.tag + " may not be inside " + e.tag)
        check(c, where)
root = ET.parse(sys.argv[1]).getroot()
if root.tag != "testsuites": problems.append("root is " + root.tag)
check(root, "")
print("\n".join(problems))
sys.exit(1 if problems else 0)
"#;
    let o = Command::new("python3").args(["-c", script]).arg(path).output().expect("python3 runs");
    assert!(
        o.status.success(),
        "{} breaks the strict junit-10 rules:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Internal links of a built mdBook (its HTML under `dir`) that lead to no page or no anchor.
pub fn check_links(root: &Path, dir: &Path, broken: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            check_links(root, &path, broken);
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy();
        if !name.ends_with(".html") || ["print.html", "toc.html", "404.html"].contains(&name.as_ref()) {
            continue;
        }
        let html = std::fs::read_to_string(&path).unwrap();
        let Some(main) = html.split("<main>").nth(1).and_then(|m| m.split("</main>").next()) else {
            continue;
        };
        for href in main.split("href=\"").skip(1).filter_map(|h| h.split('"').next()) {
            if href.contains("://") || href.starts_with("mailto:") {
                continue;
            }
            let (file, id) = href.split_once('#').unwrap_or((href, ""));
            let target = if file.is_empty() { path.clone() } else { path.parent().unwrap().join(file) };
            let shown = format!("{}: {href}", path.strip_prefix(root).unwrap().display());
            match std::fs::read_to_string(&target) {
                Err(_) => broken.push(format!("{shown} (no such page)")),
                Ok(t) if !id.is_empty() && !t.contains(&format!("id=\"{id}\"")) => {
                    broken.push(format!("{shown} (no such anchor)"))
                }
                Ok(_) => {}
            }
        }
    }
}

/// The words of the language: every lowercase literal of `grammar/src/pkt.pest` (`scenario`, `send`, …).
pub fn grammar_keywords() -> std::collections::BTreeSet<String> {
    let grammar = std::fs::read_to_string(repo().join("grammar/src/pkt.pest")).unwrap();
    let mut words = std::collections::BTreeSet::new();
    for line in grammar.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, part) in line.split('"').enumerate() {
            if i % 2 == 1 && part.len() > 1 && part.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                words.insert(part.to_string());
            }
        }
    }
    words
}
