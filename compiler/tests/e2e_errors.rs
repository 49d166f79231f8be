//! Error snapshots, data-driven: every `tests/errors/*.pkt` is one mistake an author makes. Each file is
//! compiled as a spec; its diagnostics are rendered the way the CLI shows them (miette's graphical
//! handler, without colours) and snapshotted with insta.
//!
//! A file states how many errors it must produce on a `# errors: N` line, so a file with several mistakes
//! checks that all of them are reported in one run. Besides the snapshot, every located diagnostic must
//! carry `file:line:col` and a non-empty label.
//!
//! Files under `tests/errors/include/` are only included by the cases, never compiled on their own.
//! Update the snapshots with `cargo insta test --accept -p xdptest-compiler --test e2e_errors`.

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

#[test]
fn error_snapshots() {
    insta::glob!("errors/*.pkt", |path| {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        // Relative to the crate (the working directory of tests), as a user would type it.
        let rel: PathBuf = path.strip_prefix(crate_dir).unwrap_or(path).to_path_buf();
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        let want = expected_count(&text);

        let mut diags = Vec::new();
        let compiled = compile_spec(&rel, &mut FsLoader, &mut diags);
        assert!(
            compiled.is_none(),
            "{} compiled without errors",
            rel.display()
        );
        for d in &diags {
            if GLOBAL_CODES.contains(&d.code) {
                continue;
            }
            let loc = d.location().unwrap_or_else(|| {
                panic!(
                    "{}: `{}` has no location: {}",
                    rel.display(),
                    d.code,
                    d.message
                )
            });
            assert!(
                loc.contains(".pkt:"),
                "{}: location {loc} is not file:line:col",
                rel.display()
            );
            assert!(
                !d.label.trim().is_empty(),
                "{}: `{}` has an empty label",
                rel.display(),
                d.code
            );
        }
        let rendered: Vec<String> = diags
            .iter()
            .map(|d| {
                format!(
                    "[{}] {}\n{}",
                    d.code,
                    d.location().unwrap_or_else(|| "(no location)".into()),
                    render(d)
                )
            })
            .collect();
        let snapshot = redact(&rendered.join("\n"));
        insta::assert_snapshot!(snapshot);
        assert_eq!(
            diags.len(),
            want,
            "{}: expected {want} errors, got {}:\n{snapshot}",
            rel.display(),
            diags.len()
        );
    });
}
