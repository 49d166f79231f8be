//! Error snapshots, data-driven: every `tests/errors/*.pkt` is one mistake an author makes. Each file is
//! compiled as a spec; its diagnostics are rendered the way the CLI shows them (miette's graphical
//! handler, without colours) and snapshotted with insta.
//!
//! A file states how many errors it must produce on a `# errors: N` line, so a file with several mistakes
//! checks that all of them are reported in one run. Besides the snapshot, every located diagnostic must
//! carry `file:line:col` and a non-empty label.
//!
//! Files under `tests/errors/include/` are only included by the cases, never compiled on their own.
//! Snapshots live in `tests/errors/snapshots/`; update them with
//! `cargo insta test --accept -p xdptest-compiler --test e2e_errors`, then read the diff.

use std::path::{Path, PathBuf};

use miette::{GraphicalReportHandler, GraphicalTheme};
use xdptest_compiler::spec::{compile_spec, FsLoader};
use xdptest_compiler::Diag;

/// Diagnostics that are about a whole file rather than a place in one: no span, no label.
const GLOBAL_CODES: &[&str] = &["compile::not_utf8", "compile::unreadable"];

fn render(d: &Diag) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, d.report().as_ref())
        .expect("render");
    out
}

/// The `# errors: N` line of a case.
fn expected_count(text: &str) -> usize {
    text.lines()
        .find_map(|l| l.strip_prefix("# errors:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("every tests/errors/*.pkt states `# errors: N`")
}

/// Absolute paths (include cycles are reported with canonical paths) differ between machines.
fn redact(text: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = text.to_string();
    if let Ok(canonical) = dir.canonicalize() {
        text = text.replace(&canonical.display().to_string(), "[crate]");
    }
    text.replace(&dir.display().to_string(), "[crate]")
}

/// Redacts before rendering: miette wraps long lines, which would split a path in the output.
fn redact_diag(d: &Diag) -> Diag {
    let mut d = d.clone();
    d.message = redact(&d.message);
    d.label = redact(&d.label);
    d.help = d.help.as_deref().map(redact);
    d
}

#[test]
fn error_snapshots() {
    let mut problems: Vec<String> = Vec::new();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("errors/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    let _guard = settings.bind_to_scope();
    insta::glob!("errors/*.pkt", |path| {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        // Relative to the crate (the working directory of tests), as a user would type it.
        let rel: PathBuf = path.strip_prefix(crate_dir).unwrap_or(path).to_path_buf();
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        let want = expected_count(&text);

        let mut diags = Vec::new();
        let compiled = compile_spec(&rel, &mut FsLoader::unconfined(), &mut diags);
        if compiled.is_some() {
            problems.push(format!("{}: compiled without errors", rel.display()));
        }
        for d in &diags {
            if GLOBAL_CODES.contains(&d.code) {
                continue;
            }
            match d.location() {
                None => problems.push(format!("{}: `{}` has no location: {}", rel.display(), d.code, d.message)),
                Some(loc) if !loc.contains(".pkt:") => {
                    problems.push(format!("{}: location {loc} is not file:line:col", rel.display()))
                }
                Some(_) => {}
            }
            if d.label.trim().is_empty() {
                problems.push(format!("{}: `{}` has an empty label", rel.display(), d.code));
            }
        }
        let rendered: Vec<String> = diags
            .iter()
            .map(redact_diag)
            .map(|d| format!("[{}] {}\n{}", d.code, d.location().unwrap_or_else(|| "(no location)".into()), render(&d)))
            .collect();
        let snapshot = rendered.join("\n");
        insta::assert_snapshot!(snapshot);
        if diags.len() != want {
            problems.push(format!("{}: expected {want} errors, got {}:\n{snapshot}", rel.display(), diags.len()));
        }
    });
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Spans end at the last token of a construct, not at the whitespace or comment pest skipped before an
/// optional part that did not match (which made labels reach into the next line). Regression test.
#[test]
fn spans_stop_at_the_last_token() {
    use xdptest_grammar::ast::{ItemKind, Stmt, Term};
    let src = "packet p = input   # note\n\nscenario \"s\" {\n  send ether / payload(\"#\\\"#\")  # x\n  expect XDP_PASS\n}\n";
    let file = xdptest_grammar::parse(src).expect("parses");
    let ItemKind::Packet(def) = &file.items[0].kind else { panic!("a packet first") };
    let Term::Layer(call) = &def.expr.stack[0] else { panic!("a layer") };
    assert_eq!(&src[call.span.start..call.span.end], "input");
    let ItemKind::Scenario(s) = &file.items[1].kind else { panic!("a scenario second") };
    let Stmt::Send(send) = &s.stmts[0] else { panic!("a send") };
    let packet = &src[send.packet.span.start..send.packet.span.end];
    assert_eq!(packet, "ether / payload(\"#\\\"#\")");
}
