//! A verifier rejection as a located diagnostic: the C line the verifier stopped at (the runner read it
//! from the log), labelled with the verifier's complaint, then the end of the log. The kernel cites only
//! a file's base name; the fixture has the paths clang was given (from the object's BTF line info),
//! looked for as they are, then relative to the object's directory and its parent (`programs/build/x.o`
//! from `programs/x.c`), then the working directory.

use std::path::{Path, PathBuf};
use xdptest_compiler::spec::FsLoader;

use xdptest_compiler::diagnostic::{Diag, SourceFile};
use xdptest_compiler::fixture::Program;
use xdptest_grammar::ast::Span;
use xdptest_runner::RunError;

/// How many lines of the log end the report.
const TAIL: usize = 20;

/// The source file the log's base name stands for, if it can be found.
pub fn find_source(object: &Path, recorded: &[String], base: &str) -> Option<PathBuf> {
    let mut names: Vec<PathBuf> = recorded
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == base))
        .collect();
    names.push(PathBuf::from(base));
    let dir = object.parent().unwrap_or(Path::new(""));
    for name in &names {
        let mut candidates = vec![];
        if name.is_absolute() {
            candidates.push(name.clone());
        } else {
            candidates.push(dir.join(name));
            if let Some(parent) = dir.parent() {
                candidates.push(parent.join(name));
            }
            candidates.push(name.clone());
        }
        if let Some(found) = candidates.into_iter().find(|c| c.is_file()) {
            return Some(found);
        }
    }
    None
}

/// The diagnostic for a verifier rejection: located in the C file when it is found, else naming the
/// file and line; the log's tail follows. `program` is the fixture's, for the source files it records.
pub fn render(error: &RunError, program: Option<&Program>) -> String {
    let RunError::Verifier { object, complaint, at, log, location, .. } = error else {
        return error.to_string();
    };
    let headline = if location.is_empty() { error.to_string() } else { format!("{location}: {error}") };
    let first = complaint.first().cloned().unwrap_or_else(|| "rejected here".into());
    let explanation = (complaint.len() > 1).then(|| complaint[1..].join("\n"));
    let recorded = program.map(|p| p.facts.source_files.as_slice()).unwrap_or_default();
    let located = at.as_ref().and_then(|at| {
        let path = find_source(Path::new(object), recorded, &at.file)?;
        // The file name comes from the object's BTF: read it only inside the spec's tree (a crafted
        // object must not make a report quote /etc/shadow), and only if it is a regular file.
        let spec = location.rsplitn(3, ':').nth(2).unwrap_or(object);
        let roots = xdptest_compiler::suite::spec_roots(&[PathBuf::from(spec)], &crate::cli::allowed_paths());
        let bytes = xdptest_compiler::spec::Loader::read(&mut FsLoader::confined(&roots), &path).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let span = line_span(&text, at.line as usize, &at.code)?;
        let shown = display_path(&path);
        Some(Diag::new("run::verifier", &SourceFile::new(shown, text), span, headline.clone()).label(first.clone()))
    });
    let diag = match located {
        Some(d) => d.maybe_help(explanation),
        None => {
            let mut help = complaint.join("\n");
            if let Some(at) = at {
                help = format!("at {}:{}: {}\n{help}", at.file, at.line, at.code);
            }
            Diag::global("run::verifier", headline).help(help)
        }
    };
    let lines: Vec<&str> = log.lines().collect();
    let tail = &lines[lines.len().saturating_sub(TAIL)..];
    let mut out = format!("{:?}", diag.report());
    out.push_str(&format!(
        "verifier log{}:\n",
        if lines.len() > TAIL { format!(" (last {TAIL} of {} lines)", lines.len()) } else { String::new() }
    ));
    for l in tail {
        out.push_str("  ");
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The span of line `line` (1-based) without its indentation; `None` when the file is shorter, or the
/// line does not hold the code the log quotes (the source changed since the object was built).
fn line_span(text: &str, line: usize, code: &str) -> Option<Span> {
    let start: usize = text.split_inclusive('\n').take(line.checked_sub(1)?).map(str::len).sum();
    let l = text.get(start..)?.lines().next()?;
    let lead = l.len() - l.trim_start().len();
    let trimmed = l.trim();
    if !code.is_empty() && !trimmed.contains(code.trim_end_matches(|c: char| c == '{' || c.is_whitespace())) {
        return None;
    }
    Some(Span { start: start + lead, end: start + lead + trimmed.len() })
}

fn display_path(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| std::fs::canonicalize(p).ok().and_then(|a| a.strip_prefix(cwd).ok().map(Path::to_path_buf)))
        .unwrap_or_else(|| p.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_skip_indentation_and_check_the_code() {
        let text = "int f()\n{\n\treturn x;\n}\n";
        assert_eq!(line_span(text, 3, "return x;"), Some(Span { start: 11, end: 20 }));
        assert_eq!(line_span(text, 3, "something else"), None);
        assert_eq!(line_span(text, 9, "return x;"), None);
    }
}
