//! `xdptest check`: parse and type-check, write nothing. `--format json` prints the diagnostics as
//! JSON Lines (version 1, `book/src/reference/check.schema.json`) for editors and CI annotations.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use xdptest_compiler::diagnostic::Severity;
use xdptest_compiler::spec::FsLoader;
use xdptest_compiler::{suite, Diag};

use super::{allowed_paths, default_paths, load_with};
use crate::outcome::{count, Outcome};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Spec files or directories (searched recursively for .pkt files). Default: specs/
    pub paths: Vec<PathBuf>,
    /// `human` (rendered diagnostics on stderr) or `json` (one record per diagnostic on stdout, then
    /// a summary).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn run(args: CheckArgs) -> Outcome {
    let paths = default_paths(args.paths);
    if args.format == Format::Json {
        return json(&paths);
    }
    match load_with(&paths, suite::check, |c| &c.warnings) {
        Ok((specs, checked)) => {
            outln!("ok: {}, {}", count(specs.len(), "spec file"), count(checked.scenarios, "scenario"));
            Outcome::Ok
        }
        Err(o) => o,
    }
}

/// The JSON Lines output: a `diagnostic` record each, then a `summary`; exit 2 on any error.
fn json(paths: &[PathBuf]) -> Outcome {
    let (diags, specs, scenarios) = match suite::discover(paths) {
        Err(d) => (d, 0, 0),
        Ok(found) if found.is_empty() => {
            let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            (vec![Diag::global("check::no_specs", format!("no .pkt spec files under {}", shown.join(", ")))], 0, 0)
        }
        Ok(found) => {
            let roots = suite::spec_roots(paths, &allowed_paths());
            match suite::check(&found, &FsLoader::confined(&roots)) {
                Ok(s) => (s.warnings, found.len(), s.scenarios),
                Err(d) => (d, found.len(), 0),
            }
        }
    };
    for d in &diags {
        outln!("{}", record(d));
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.iter().filter(|d| d.severity == Severity::Warning).count();
    let summary = serde_json::json!({
        "type": "summary", "version": 1, "ok": errors == 0, "errors": errors, "warnings": warnings,
        "specs": specs, "scenarios": scenarios,
    });
    outln!("{summary}");
    if errors == 0 {
        Outcome::Ok
    } else {
        Outcome::Error
    }
}

/// One diagnostic: where (file, byte span, 1-based line and column of both ends), what (severity,
/// code, message, label) and the hint.
fn record(d: &Diag) -> serde_json::Value {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let at = match (&d.source, d.span) {
        (Some(src), Some(span)) => {
            let (line, column) = src.line_col(span.start);
            let (end_line, end_column) = src.line_col(span.end);
            serde_json::json!({
                "file": src.name, "start": span.start, "end": span.end,
                "line": line, "column": column, "end_line": end_line, "end_column": end_column,
            })
        }
        _ => serde_json::Value::Null,
    };
    serde_json::json!({
        "type": "diagnostic", "version": 1, "severity": severity, "code": format!("xdptest::{}", d.code),
        "message": d.message, "label": d.label, "help": d.help, "location": at,
    })
}
