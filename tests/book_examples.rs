//! Keeps the user book (`book/`) true. Every example spec under `book/src/examples/` must pass
//! `xdptest check`, compile, and pass `xdptest run` on this kernel (root needed); every spec under
//! `book/src/errors/` must fail with exactly the diagnostics the book shows; the generated parts of the book (layer tables from the wire schema, a
//! fixture, the compile output listing, tshark's view of a capture) must be up to date; every layer
//! field, constructor and CLI flag must be documented; every `{{#include}}` must resolve; and
//! `mdbook build book` must succeed (mdbook must be installed: a missing mdbook fails the test).
//!
//! After an intended change, regenerate the snapshots with `BLESS=1 cargo test --test book_examples`
//! and review the diff of `book/src/generated/` and `book/src/errors/*.txt`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::{repo, text as describe};

fn xdptest(dir: &Path, args: &[&str]) -> Output {
    support::run_in_dir(dir, args)
}

use xdptest_compiler::wire::{self, Display, FieldDef, FieldKind, LayerKind};

/// The page holding the layer reference.
const LAYERS_PAGE: &str = "src/reference/layers.md";
/// The page documenting the command line.
const COMMANDS_PAGE: &str = "src/commands.md";
/// The tshark command the Wireshark chapter shows, run from `book/src/examples` on first.pkt's capture.
const TSHARK_ARGS: &[&str] =
    &["-r", "fixtures/first.pcapng", "-T", "fields", "-e", "frame.number", "-e", "frame.comment"];

fn book_dir() -> PathBuf {
    repo().join("book")
}

fn examples_dir() -> PathBuf {
    book_dir().join("src/examples")
}

fn generated_dir() -> PathBuf {
    book_dir().join("src/generated")
}

/// Builds `programs/build/*.o` once per test run if any object is missing (needs clang).
fn programs_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let build = repo().join("programs/build");
        let needed = ["upf", "counter", "firewall", "icmp_echo", "router", "printk"];
        if needed.iter().all(|p| build.join(format!("{p}.o")).exists()) {
            return;
        }
        let out = Command::new("make").arg("-C").arg(repo().join("programs")).output().expect("run make -C programs");
        assert!(
            out.status.success(),
            "`make -C programs` failed (the book's examples need the example programs; install clang):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Sorted `*.pkt` file names directly in `dir`.
fn specs_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pkt"))
        .collect();
    names.sort();
    names
}

/// Compares `actual` with the file at `path`; with `BLESS=1` in the environment, writes it instead.
fn compare_or_bless(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return Ok(());
    }
    let first_diff = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Err(format!(
        "{} is out of date (first difference at line {}).\n--- book has\n{}\n--- now\n{}\n\
         If the change is intended: BLESS=1 cargo test --test book_examples, then review the diff.",
        path.display(),
        first_diff + 1,
        expected.lines().skip(first_diff).take(5).collect::<Vec<_>>().join("\n"),
        actual.lines().skip(first_diff).take(5).collect::<Vec<_>>().join("\n"),
    ))
}

// ---------------------------------------------------------------------------------------------------
// Examples

#[test]
fn every_example_passes_check() {
    programs_built();
    let specs = specs_in(&examples_dir());
    assert!(specs.len() >= 10, "expected the book's examples, found {specs:?}");
    // As the commands chapter shows it: a directory argument, from book/src.
    let out = xdptest(&book_dir().join("src"), &["check", "examples"]);
    assert!(out.status.success(), "xdptest check on the book's examples:\n{}", describe(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(&format!("ok: {} spec files", specs.len())), "{stdout}");
    compare_or_bless(&generated_dir().join("check-examples.txt"), &stdout).unwrap();
}

/// The examples are not only well-formed but true: every scenario passes on this kernel. Needs root,
/// like `xdptest run` (CI runs as root). The per-CPU example needs at least two CPUs.
#[test]
fn every_example_passes_on_the_kernel() {
    programs_built();
    let out = xdptest(&book_dir().join("src"), &["run", "examples", "--color", "never"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" 0 failed, 0 skipped"),
        "xdptest run on the book's examples:\n{}",
        describe(&out)
    );
}

#[test]
fn examples_compile_and_the_listing_is_current() {
    programs_built();
    let out_dir = tempfile::tempdir().unwrap();
    let fixtures = out_dir.path().join("fixtures");
    let fixtures_arg = fixtures.to_str().unwrap();
    // As the commands chapter shows it: a directory argument, from book/src.
    let out = xdptest(&book_dir().join("src"), &["compile", "examples", "-o", fixtures_arg]);
    assert!(out.status.success(), "xdptest compile:\n{}", describe(&out));
    let stdout = String::from_utf8(out.stdout).unwrap().replace(fixtures_arg, "fixtures");
    compare_or_bless(&generated_dir().join("compile-examples.txt"), &stdout).unwrap();
    let mut files = Vec::new();
    list_files(&fixtures, &fixtures, &mut files);
    files.sort();
    assert!(files.contains(&"cookbook_firewall.pcapng".to_string()), "{files:?}");
    assert!(!files.iter().any(|f| f.starts_with("values")), "a library of packets produces no output: {files:?}");
    let listing: String = std::iter::once("fixtures/".to_string())
        .chain(files.iter().map(|f| format!("  {f}")))
        .map(|l| l + "\n")
        .collect();
    compare_or_bless(&generated_dir().join("compile-listing.txt"), &listing).unwrap();
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            list_files(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Compiles first.pkt from `book/src/examples` into `out_dir`, as the getting-started chapter
/// does with `--out fixtures`; returns the output with `out_dir` shown as `fixtures`.
fn compile_first(out_dir: &Path) -> String {
    let dir = out_dir.to_str().unwrap();
    let out = xdptest(&examples_dir(), &["compile", "first.pkt", "--out", dir]);
    assert!(out.status.success(), "xdptest compile first.pkt:\n{}", describe(&out));
    String::from_utf8(out.stdout).unwrap().replace(dir, "fixtures")
}

#[test]
fn getting_started_shows_real_output() {
    programs_built();
    let out = xdptest(&examples_dir(), &["check", "first.pkt"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    compare_or_bless(&generated_dir().join("check-first.txt"), &stdout).unwrap();
    let work = tempfile::tempdir().unwrap();
    let stdout = compile_first(&work.path().join("fixtures"));
    compare_or_bless(&generated_dir().join("compile-first.txt"), &stdout).unwrap();
    let ron = std::fs::read_to_string(work.path().join("fixtures/first/uplink-ping-is-decapsulated.ron"))
        .expect("the fixture of the first scenario");
    compare_or_bless(&generated_dir().join("first-uplink.ron"), &format!("{ron}\n")).unwrap();
}

#[test]
fn wireshark_chapter_command_shows_the_comments() {
    programs_built();
    let work = tempfile::tempdir().unwrap();
    compile_first(&work.path().join("fixtures"));
    let out = match Command::new("tshark").args(TSHARK_ARGS).current_dir(work.path()).output() {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run tshark ({e}): the Wireshark chapter's command needs tshark on PATH \
             (Debian/Ubuntu: apt-get install tshark)"
        ),
    };
    assert!(out.status.success(), "tshark failed:\n{}", describe(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("uplink ping is decapsulated · send #1 · expected XDP_TX"), "{stdout}");
    compare_or_bless(&generated_dir().join("tshark-comments.txt"), &stdout).unwrap();
    let page = std::fs::read_to_string(book_dir().join("src/wireshark.md")).unwrap();
    let shown = format!("tshark {}", TSHARK_ARGS.join(" "));
    assert!(page.contains(&shown), "src/wireshark.md must show `{shown}`");
}

#[test]
fn error_examples_match_their_diagnostics() {
    programs_built();
    let dir = book_dir().join("src/errors");
    let specs = specs_in(&dir);
    assert!(!specs.is_empty(), "no error examples in {}", dir.display());
    let mut failures = Vec::new();
    for spec in &specs {
        let out = xdptest(&dir, &["check", spec]);
        if out.status.code() != Some(2) {
            failures.push(format!("{spec}: expected exit 2\n{}", describe(&out)));
            continue;
        }
        let stderr = String::from_utf8(out.stderr).unwrap();
        let snapshot = dir.join(spec.replace(".pkt", ".txt"));
        if let Err(e) = compare_or_bless(&snapshot, &stderr) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------------------------------------------
// Layer reference, generated from the wire schema

/// How a field's named value is shown: in hex for fields read in hex (EtherTypes, extension header
/// types), the bit pattern for flag sets, else in decimal.
fn symbol_value(f: &FieldDef, v: u64) -> String {
    match f.display {
        Display::Hex => format!("0x{v:04x}").replace("0x00", "0x"),
        Display::FlagSet => format!("0x{v:02x}"),
        _ => v.to_string(),
    }
}

fn width(kind: FieldKind) -> String {
    match kind {
        FieldKind::Int { bits } => format!("{bits} bits"),
        FieldKind::Flag => "1 bit, flag".into(),
        FieldKind::Ipv4Addr => "32 bits, IPv4 address".into(),
        FieldKind::Ipv6Addr => "128 bits, IPv6 address".into(),
        FieldKind::Mac => "48 bits, MAC address".into(),
        FieldKind::Bytes => "bytes".into(),
    }
}

const GENERATED: &str =
    "<!-- Generated from compiler/src/wire/schema_tables.rs by tests/book_examples.rs: do not edit. -->";

/// The field table of one layer kind, as Markdown.
fn layer_table(kind: LayerKind) -> String {
    let mut out =
        format!("{GENERATED}\n\n| Field | Width | Default or derivation | Named values |\n| --- | --- | --- | --- |\n");
    for f in kind.fields() {
        let symbols: Vec<String> =
            f.symbols.iter().map(|(name, v)| format!("`{name}` {}", symbol_value(f, *v))).collect();
        let doc = if f.derived { format!("**derived**: {}", f.doc) } else { f.doc.to_string() };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            f.name,
            width(f.kind),
            doc.replace('|', "\\|"),
            symbols.join(", ")
        ));
    }
    for f in kind.fields() {
        let Some(list) = f.list else { continue };
        let items = wire::list_items(list);
        if items.is_empty() {
            // A plain list of values, not of named items (segment lists).
            out.push_str(&format!(
                "\n`{}` also takes a list of IPv6 addresses, `{}=[2001:db8::1, 2001:db8::2]` (raw bytes still work).\n",
                f.name, f.name
            ));
            continue;
        }
        out.push_str(&format!(
            "\n`{}` also takes a list, `{}=[item, ...]`, of these items (raw bytes still work):\n\n\
             | Item | Meaning |\n| --- | --- |\n",
            f.name, f.name
        ));
        for item in items {
            out.push_str(&format!("| `{}{}` | {} |\n", item.name, item.args, item.doc.replace('|', "\\|")));
        }
    }
    if let Some(p) = kind.positional() {
        out.push_str(&format!(
            "\nA positional argument sets `{p}`: `{}(x)` is `{}({p}=x)`.\n",
            kind.name(),
            kind.name()
        ));
    }
    out
}

/// The table of every constructor, as Markdown.
fn constructor_table() -> String {
    let mut out =
        format!("{GENERATED}\n\n| Constructor | Builds | Presets | Description |\n| --- | --- | --- | --- |\n");
    for name in wire::constructor_names() {
        let c = wire::constructor(name).expect("listed constructors exist");
        let presets: Vec<String> = c
            .presets
            .iter()
            .map(|(f, v)| {
                // Name the value only when its name is unambiguous (ICMP codes repeat per type).
                let names: Vec<&str> = c
                    .kind
                    .field(f)
                    .map(|d| d.symbols.iter().filter(|(_, sv)| sv == v).map(|(s, _)| *s).collect())
                    .unwrap_or_default();
                let sym = match names.as_slice() {
                    [one] => format!(" ({one})"),
                    _ => String::new(),
                };
                format!("`{f}={v}`{sym}")
            })
            .collect();
        out.push_str(&format!(
            "| `{}` | [`{}`](#{}) | {} | {} |\n",
            c.name,
            c.kind.name(),
            c.kind.name(),
            presets.join(", "),
            c.doc
        ));
    }
    out
}

#[test]
fn layer_tables_are_generated_from_the_schema() {
    let dir = generated_dir().join("layers");
    let mut failures = Vec::new();
    for kind in LayerKind::ALL {
        let path = dir.join(format!("{}.md", kind.name()));
        if let Err(e) = compare_or_bless(&path, &layer_table(kind)) {
            failures.push(e);
        }
    }
    if let Err(e) = compare_or_bless(&generated_dir().join("constructors.md"), &constructor_table()) {
        failures.push(e);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn layer_reference_covers_every_field_and_constructor() {
    let page = book_dir().join(LAYERS_PAGE);
    let raw = std::fs::read_to_string(&page).expect("layer reference page");
    let text = expand_includes(&page, &raw);
    let mut missing = Vec::new();
    for kind in LayerKind::ALL {
        let section = section_of(&text, kind.name());
        if section.is_empty() {
            missing.push(format!("a section `## {}`", kind.name()));
        }
        for f in kind.fields() {
            if !section.contains(&format!("`{}`", f.name)) {
                missing.push(format!("field `{}.{}`", kind.name(), f.name));
            }
        }
    }
    for name in wire::constructor_names() {
        if !text.contains(&format!("`{name}`")) {
            missing.push(format!("constructor `{name}`"));
        }
    }
    assert!(missing.is_empty(), "{} does not mention: {}", page.display(), missing.join(", "));
}

/// The `## layer` section of the expanded layer page, up to the next layer's heading. (Included
/// examples contain `## ` doc comments, so any `## ` line cannot end a section.)
fn section_of<'a>(text: &'a str, layer: &str) -> &'a str {
    let head = |name: &str| format!("\n## {name}\n");
    let Some(start) = text.find(&head(layer)) else {
        return "";
    };
    let rest = &text[start + head(layer).len()..];
    let end = LayerKind::ALL.iter().filter_map(|k| rest.find(&head(k.name()))).min().unwrap_or(rest.len());
    &rest[..end]
}

// ---------------------------------------------------------------------------------------------------
// Commands chapter

fn help(args: &[&str]) -> String {
    let out = xdptest(&repo(), args);
    assert!(out.status.success(), "xdptest {args:?}:\n{}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Subcommand names from `xdptest --help`.
fn subcommands() -> Vec<String> {
    let text = help(&["--help"]);
    let names: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(!names.is_empty(), "no subcommands in:\n{text}");
    names
}

/// Long flags (`--out`) in a help text.
fn long_flags(text: &str) -> Vec<String> {
    let mut flags: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '=' | '(' | ')'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_string())
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

#[test]
fn commands_chapter_documents_every_subcommand_and_flag() {
    let page = book_dir().join(COMMANDS_PAGE);
    let text = std::fs::read_to_string(&page).expect("commands page");
    let mut missing = Vec::new();
    for cmd in subcommands() {
        if !text.contains(&format!("## `xdptest {cmd}`")) {
            missing.push(format!("a section `## `xdptest {cmd}``"));
        }
        for flag in long_flags(&help(&[&cmd, "--help"])) {
            if !text.contains(&format!("`{flag}")) {
                missing.push(format!("`{flag}` of `xdptest {cmd}`"));
            }
        }
    }
    assert!(missing.is_empty(), "{} does not document: {}", page.display(), missing.join(", "));
}

// ---------------------------------------------------------------------------------------------------
// mdBook

/// `{{#include PATH}}` and `{{#include PATH:ANCHOR}}` directives of a page: (path, anchor).
fn include_directives(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{#include ") {
        let after = &rest[i + "{{#include ".len()..];
        let Some(end) = after.find("}}") else { break };
        let target = after[..end].trim();
        match target.split_once(':') {
            Some((p, a)) => out.push((p.to_string(), Some(a.to_string()))),
            None => out.push((target.to_string(), None)),
        }
        rest = &after[end..];
    }
    out
}

/// The lines between `ANCHOR: name` and `ANCHOR_END: name`, without anchor lines (as mdBook does).
fn anchored(content: &str, anchor: &str) -> Option<String> {
    let start = content.lines().position(|l| l.trim_end().ends_with(&format!("ANCHOR: {anchor}")))?;
    let mut lines = Vec::new();
    for l in content.lines().skip(start + 1) {
        if l.trim_end().ends_with(&format!("ANCHOR_END: {anchor}")) {
            return Some(lines.join("\n"));
        }
        if !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:") {
            lines.push(l);
        }
    }
    None
}

/// `text` (the contents of `page`) with its includes replaced by what they include.
fn expand_includes(page: &Path, text: &str) -> String {
    let mut out = text.to_string();
    for (target, anchor) in include_directives(text) {
        let path = page.parent().unwrap().join(&target);
        let content = std::fs::read_to_string(&path).unwrap_or_default();
        let (directive, body) = match &anchor {
            Some(a) => (format!("{{{{#include {target}:{a}}}}}"), anchored(&content, a).unwrap_or_default()),
            None => (format!("{{{{#include {target}}}}}"), content),
        };
        out = out.replace(&directive, &body);
    }
    out
}

fn md_pages(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            md_pages(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

#[test]
fn includes_resolve() {
    let mut pages = Vec::new();
    md_pages(&book_dir().join("src"), &mut pages);
    let mut problems = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for (target, anchor) in include_directives(&text) {
            let path = page.parent().unwrap().join(&target);
            let Ok(content) = std::fs::read_to_string(&path) else {
                problems.push(format!("{}: no file {target}", page.display()));
                continue;
            };
            match anchor {
                Some(a) if anchored(&content, &a).is_none() => {
                    problems.push(format!("{}: no anchor `{a}` in {target}", page.display()))
                }
                None if content.contains("ANCHOR:") => problems.push(format!(
                    "{}: includes all of {target}, whose ANCHOR lines mdBook would show: include `{target}:all`",
                    page.display()
                )),
                _ => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Code blocks marked `pkt` only include example files, so every piece of `.pkt` code in the book is
/// checked by `every_example_passes_check`, `error_examples_match_their_diagnostics` or
/// `tests/book_running.rs`. Syntax
/// outlines use `text` blocks.
#[test]
fn pkt_code_blocks_only_include_checked_examples() {
    let mut pages = Vec::new();
    md_pages(&book_dir().join("src"), &mut pages);
    let mut problems = Vec::new();
    // gallery/: `xdptest doc specs` quotes the repository's specs, which CI runs (tests/cli_doc.rs
    // keeps the pages current).
    for page in pages.into_iter().filter(|p| !p.starts_with(book_dir().join("src/gallery"))) {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut in_pkt = false;
        for (n, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.starts_with("```") {
                in_pkt = !in_pkt && t == "```pkt";
                continue;
            }
            if in_pkt && !t.is_empty() && !t.starts_with("{{#include ") {
                problems.push(format!("{}:{}: {line}", page.display(), n + 1));
            } else if in_pkt {
                let (target, _) = include_directives(t).pop().unwrap_or_default();
                // failing/: specs that fail on purpose, run by tests/book_running.rs; specs/: the
                // repository's specs, run by tests/cli_run.rs and on VM kernels by CI.
                let checked = ["examples/", "errors/", "failing/", "specs/"];
                if !target.is_empty() && !checked.iter().any(|dir| target.contains(dir)) {
                    problems.push(format!("{}:{}: not an example file: {line}", page.display(), n + 1));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "```pkt blocks must include files from book/src/examples or book/src/errors (which the tests \
         check); use ```text for outlines:\n{}",
        problems.join("\n")
    );
}

#[test]
fn summary_lists_every_page() {
    let src = book_dir().join("src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let mut pages = Vec::new();
    md_pages(&src, &mut pages);
    let orphans: Vec<String> = pages
        .iter()
        .map(|p| p.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/"))
        .filter(|rel| rel != "SUMMARY.md" && rel != "gallery/SUMMARY.md" && !rel.starts_with("generated/"))
        .filter(|rel| !summary.contains(&format!("({rel})")))
        .collect();
    assert!(orphans.is_empty(), "pages missing from SUMMARY.md: {orphans:?}");
}

#[test]
fn mdbook_builds_the_book() {
    let installed = Command::new("mdbook").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        installed,
        "mdbook is not on PATH, so the book cannot be built. Install it with:\n    \
         cargo install mdbook --locked --version 0.5.4"
    );
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new("mdbook")
        .arg("build")
        .arg(book_dir())
        .arg("--dest-dir")
        .arg(dest.path())
        .output()
        .expect("run mdbook");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "mdbook build failed:\n{log}");
    // mdBook logs a broken include or link as an error but may still exit 0.
    assert!(!log.contains("ERROR") && !log.contains("WARN"), "mdbook build reported problems:\n{log}");
    assert!(dest.path().join("index.html").exists(), "{log}");
    let mut broken = Vec::new();
    support::check_links(dest.path(), dest.path(), &mut broken);
    assert!(broken.is_empty(), "broken links in the book:\n{}", broken.join("\n"));
}

/// The words of the language (every literal of `grammar/src/pkt.pest`) appear in code the book
/// shows from checked example files, so every construct has an example that CI runs.
#[test]
fn every_keyword_of_the_language_has_an_example() {
    let words = support::grammar_keywords();
    assert!(words.contains("scenario") && words.contains("global"), "no keywords found: {words:?}");
    let mut pages = Vec::new();
    md_pages(&book_dir().join("src"), &mut pages);
    let mut shown = std::collections::BTreeSet::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for block in text.split("```pkt").skip(1) {
            let block = block.split("```").next().unwrap_or_default();
            let code = expand_includes(page, block);
            for line in code.lines() {
                let code = line.split('#').next().unwrap_or_default();
                for token in code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    // A unit glued to its number (`1500ms`) shows the unit's word too.
                    let unit = token.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_');
                    if unit.len() < token.len() && token.starts_with(|c: char| c.is_ascii_digit()) {
                        shown.insert(unit.to_string());
                    }
                    shown.insert(token.to_string());
                }
            }
        }
    }
    let missing: Vec<_> = words.iter().filter(|w| !shown.contains(*w)).collect();
    assert!(missing.is_empty(), "keywords of the grammar no `pkt` block of the book shows: {missing:?}");
}

/// The widest code line the book shows without scrolling at 1280 px.
const CODE_WIDTH: usize = 86;

/// Whether a code line longer than [`CODE_WIDTH`] is one that cannot break, by kind: a JSON Lines
/// record (one per line by definition), a fixture's byte string, a hexdump row of a report, or a
/// command xdptest prints to be copied whole (`rerun them: …`).
fn unbreakable(line: &str) -> bool {
    let t = line.trim_start();
    let hex_run = t.split('"').any(|s| s.len() >= 40 && s.chars().all(|c| c.is_ascii_hexdigit()));
    let hexdump_row = t
        .split_whitespace()
        .skip_while(|w| !(w.len() == 4 && w.chars().all(|c| c.is_ascii_hexdigit())))
        .skip(1)
        .take(8)
        .filter(|w| w.len() == 2 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .count()
        == 8;
    t.starts_with("{\"") || hex_run || hexdump_row || t.starts_with("rerun them: xdptest run")
}

/// Lines the rule above does not cover and that stay as they are, each with why.
const WIDE_LINES: &[(&str, &str)] = &[
    // The tshark command the chapter shows is matched verbatim by a test, which runs it.
    ("$ tshark -r fixtures/first.pcapng", "a command that a test runs as shown"),
    // Output of real runs and diagnostics, as xdptest and miette print them.
    ("× the verifier rejected `xdp_unchecked`", "miette's rendering of a verifier rejection"),
    ("·                            ╰── invalid access", "miette's rendering of a verifier rejection"),
    ("PASS [debian:6.1", "a VM run's output line (6.1 and 6.12)"),
    ("snapshot failing/snapshots/", "a snapshot failure as the run prints it"),
    ("the new report is in failing/snapshots/", "a snapshot failure as the run prints it"),
    ("snapshots: 1 snapshot pending review", "the run's snapshot summary line"),
    ("description: \"", "a fixture's description, one RON string"),
];

/// Code blocks (with what they include) fit [`CODE_WIDTH`] columns, so no example scrolls
/// sideways; lines that cannot break are allowed by kind ([`unbreakable`]) or listed with a reason
/// ([`WIDE_LINES`]). The gallery quotes the specs, which this covers.
#[test]
fn code_blocks_fit_86_columns() {
    let mut pages = Vec::new();
    md_pages(&book_dir().join("src"), &mut pages);
    let mut wide = Vec::new();
    let mut listed_used = std::collections::BTreeSet::new();
    for page in pages.iter().filter(|p| !p.starts_with(book_dir().join("src/gallery"))) {
        let text = expand_includes(page, &std::fs::read_to_string(page).unwrap());
        let mut in_code = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if !in_code || line.chars().count() <= CODE_WIDTH || unbreakable(line) {
                continue;
            }
            match WIDE_LINES.iter().find(|(start, _)| line.trim_start().starts_with(start)) {
                Some((start, _)) => {
                    listed_used.insert(*start);
                }
                None => wide.push(format!(
                    "{}: {} columns: {line}",
                    page.strip_prefix(book_dir()).unwrap().display(),
                    line.chars().count()
                )),
            }
        }
    }
    assert!(wide.is_empty(), "code lines wider than {CODE_WIDTH} columns:\n{}", wide.join("\n"));
    let stale: Vec<&str> = WIDE_LINES.iter().map(|(s, _)| *s).filter(|s| !listed_used.contains(s)).collect();
    assert!(stale.is_empty(), "WIDE_LINES entries that no longer match a wide line: {stale:?}");
}
