//! The book in a real browser: headless Chromium renders a language page of our book and a page
//! `xdptest doc --book` generated, and the DOM must show `.pkt` blocks highlighted by our language
//! (keyword and layer spans inside `code.language-pkt`: every block gets the class `hljs` anyway, so
//! that alone proves nothing). Without the additional script the same check fails. Screenshots of
//! each page are kept under `target/test-artifacts/`. Also: the committed highlighters are the ones
//! the language generates, and their word lists are the grammar's and the schema's.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{repo, stdout, xdptest};

/// Chromium's DOM of `page` after its scripts ran.
fn dump_dom(page: &Path) -> String {
    let o = chromium().arg("--dump-dom").arg(format!("file://{}", page.display())).output().expect("chromium runs");
    assert!(o.status.success(), "chromium failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn chromium() -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--virtual-time-budget=5000",
    ]);
    c.env("HOME", std::env::temp_dir());
    c
}

fn screenshot(page: &Path, name: &str) {
    let dir = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join(format!("{name}.png"));
    let o = chromium()
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,1600")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(o.status.success() && shot.exists(), "no screenshot: {}", String::from_utf8_lossy(&o.stderr));
}

/// Whether the page's `code.language-pkt` blocks hold a keyword span with `keyword` and a type span
/// with `layer` (what our language definition produces, and nothing else does).
fn highlighted(dom: &str, keyword: &str, layer: &str) -> bool {
    let blocks: Vec<&str> =
        dom.split("<code class=\"language-pkt").skip(1).filter_map(|b| b.split("</code>").next()).collect();
    let has = |span: String| blocks.iter().any(|b| b.contains(&span));
    has(format!("<span class=\"hljs-keyword\">{keyword}</span>"))
        && has(format!("<span class=\"hljs-type\">{layer}</span>"))
}

fn mdbook_build(book: &Path, dest: &Path) {
    let o = Command::new("mdbook").arg("build").arg(book).arg("-d").arg(dest).output().expect("mdbook runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Copies the book's sources to `to` (for a build with a changed book.toml).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn pkt_blocks_are_highlighted_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    // Our book: a language page.
    let built = dir.path().join("book");
    mdbook_build(&repo().join("book"), &built);
    let language = built.join("getting-started.html");
    let dom = dump_dom(&language);
    assert!(highlighted(&dom, "scenario", "ether"), "getting-started.html: no highlighted pkt block");
    screenshot(&language, "book-getting-started");

    // A page `doc --book` writes.
    let out = dir.path().join("doc");
    let o = xdptest().args(["doc", "specs/icmp_echo", "--book", "--out"]).arg(&out).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    let doc_built = dir.path().join("doc-built");
    mdbook_build(&out, &doc_built);
    let page = doc_built.join("icmp_echo.html");
    let dom = dump_dom(&page);
    assert!(highlighted(&dom, "scenario", "ether"), "icmp_echo.html: no highlighted pkt block");
    screenshot(&page, "doc-icmp-echo");

    // The check means something: without the script, mdBook's own highlight.js knows no `pkt`.
    let bare = dir.path().join("bare");
    copy_tree(&repo().join("book"), &bare);
    let toml = std::fs::read_to_string(bare.join("book.toml")).unwrap();
    let without: String = toml.lines().filter(|l| !l.starts_with("additional-js")).map(|l| format!("{l}\n")).collect();
    assert_ne!(toml, without, "book.toml loads the highlighter");
    std::fs::write(bare.join("book.toml"), without).unwrap();
    let bare_built = dir.path().join("bare-built");
    mdbook_build(&bare, &bare_built);
    let dom = dump_dom(&bare_built.join("getting-started.html"));
    assert!(dom.contains("language-pkt"), "the page has pkt blocks");
    assert!(!highlighted(&dom, "scenario", "ether"), "pkt highlighted without the script?");
}

/// `book/pkt-highlight.js` and `grammar/editors/pkt.tmLanguage.json` are what the language generates
/// (`BLESS=1` rewrites them); the keyword list is the grammar's; every layer and field of the
/// schema is in both; the TextMate patterns compile and mark a sample line as expected.
#[test]
fn highlighters_are_generated_from_the_language() {
    let js = stdout(&xdptest().args(["__grammar", "js"]).output());
    let tm = stdout(&xdptest().args(["__grammar", "textmate"]).output());
    for (path, text) in [("book/pkt-highlight.js", &js), ("grammar/editors/pkt.tmLanguage.json", &tm)] {
        let p: PathBuf = repo().join(path);
        if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&p, text).unwrap();
        }
        assert_eq!(
            &std::fs::read_to_string(&p).unwrap(),
            text,
            "{path} is stale: BLESS=1 cargo test --test book_browser"
        );
    }
    // The grammar's literals are the keywords.
    let words = support::grammar_keywords();
    let keyword_line = js.lines().find(|l| l.trim_start().starts_with("keyword:")).unwrap();
    let listed: std::collections::BTreeSet<String> =
        keyword_line.split('"').nth(1).unwrap().split(' ').map(str::to_string).collect();
    assert_eq!(listed, words, "the highlighter's keywords are not the grammar's");
    // Layers and fields from the schema, checked by a Python run of the TextMate patterns.
    let script = r#"
import json, re, sys
g = json.load(open(sys.argv[1]))
pats = {p["name"]: re.compile(p["match"]) for p in g["patterns"] if "match" in p}
line = 'scenario "x" { send ether / ipv4(ttl=1) / tcp.syn(dport=443) / payload(len=3)  expect XDP_DROP }'
def names(scope):
    return sorted(set(m.group(0) for m in pats[scope].finditer(line)))
print(names("keyword.control.pkt"))
print(names("entity.name.type.layer.pkt"))
print(names("variable.parameter.field.pkt"))
print(names("constant.language.action.pkt"))
"#;
    let tm_path = repo().join("grammar/editors/pkt.tmLanguage.json");
    let o = Command::new("python3").args(["-c", script]).arg(&tm_path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "['expect', 'scenario', 'send']\n['ether', 'ipv4', 'payload', 'tcp.syn']\n['dport', 'len', 'ttl']\n['XDP_DROP']\n"
    );
}
