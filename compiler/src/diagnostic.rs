//! Compile diagnostics: one located error, warning or note with its source file, a namespaced code
//! (`xdptest::compile::unknown_field`), a label and a hint, rendered by miette. Every phase of the compiler
//! pushes into one `Vec<Diag>` instead of stopping at the first problem, so an author sees all mistakes
//! of a run at once. Only errors stop a spec from compiling: warnings and notes travel with the result.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, SourceCode};
use xdptest_grammar::ast::Span;

/// A source file as the diagnostics see it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<String>,
    /// Byte offset of the start of each line, for `line_col` in O(log n): fixtures record a location
    /// for every step, and rescanning a large spec each time made compiling quadratic.
    line_starts: Arc<Vec<usize>>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text: String = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        SourceFile { name: name.into(), text: Arc::new(text), line_starts: Arc::new(line_starts) }
    }

    /// `name:LINE:COL` of where `span` starts.
    pub fn location(&self, span: Span) -> String {
        let (line, col) = self.line_col(span.start);
        format!("{}:{line}:{col}", self.name)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let col = self.text.get(start..offset).map(|s| s.chars().count()).unwrap_or(offset - start) + 1;
        (line, col)
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The spec does not compile.
    Error,
    /// The spec compiles, but probably does not say what its author meant.
    Warning,
    /// The spec compiles; the compiler explains a choice it made for the author.
    Note,
}

/// One compile diagnostic.
#[derive(Debug, Clone)]
pub struct Diag {
    pub severity: Severity,
    /// Short code after `xdptest::`, e.g. `compile::unknown_field`.
    pub code: &'static str,
    pub message: String,
    pub label: String,
    pub span: Option<Span>,
    pub help: Option<String>,
    pub source: Option<SourceFile>,
}

impl Diag {
    pub fn new(code: &'static str, source: &SourceFile, span: Span, message: impl Into<String>) -> Self {
        Diag {
            severity: Severity::Error,
            code,
            message: message.into(),
            label: "here".into(),
            span: Some(span),
            help: None,
            source: Some(source.clone()),
        }
    }

    /// An error not tied to a place in a spec (unreadable directory, unwritable output).
    pub fn global(code: &'static str, message: impl Into<String>) -> Self {
        Diag {
            severity: Severity::Error,
            code,
            message: message.into(),
            label: String::new(),
            span: None,
            help: None,
            source: None,
        }
    }

    /// This diagnostic as a warning: the spec still compiles.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// This diagnostic as a note: the spec still compiles.
    pub fn note(mut self) -> Self {
        self.severity = Severity::Note;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// `file:line:col` of the error, for one-line renderings (JSON, logs).
    pub fn location(&self) -> Option<String> {
        let (src, span) = (self.source.as_ref()?, self.span?);
        let (l, c) = src.line_col(span.start);
        Some(format!("{}:{l}:{c}", src.name))
    }

    /// miette's view of this diagnostic, with (an excerpt of) its source attached.
    pub fn report(&self) -> miette::Report {
        match (&self.source, self.span) {
            (Some(src), Some(span)) => {
                let (excerpt, span) = Excerpt::around(src, span);
                miette::Report::new(Diag { span: Some(span), ..self.clone() }).with_source_code(excerpt)
            }
            _ => miette::Report::new(self.clone()),
        }
    }
}

/// What miette reads a diagnostic's source through: the lines around the span, each cut to
/// [`Excerpt::WIDTH`] characters (around the span on its own line), with the file's real line numbers
/// and the column counted in characters.
///
/// miette counts columns in bytes, and its renderer panics on lines longer than 65,535 columns
/// (formatting widths are 16-bit); a long hex payload line printed whole is unreadable anyway.
struct Excerpt {
    name: String,
    text: String,
    /// 0-based line of the file where `text` starts.
    first_line: usize,
    /// Where the span starts in `text`, and its real 0-based column (in characters) in the file.
    start: usize,
    column: usize,
}

impl Excerpt {
    /// At most this many characters of a line are shown.
    const WIDTH: usize = 160;
    /// Lines shown before and after the span's lines (miette's default context).
    const CONTEXT: usize = 1;

    /// The excerpt around `span`, and the span in the excerpt's coordinates.
    fn around(src: &SourceFile, span: Span) -> (Excerpt, Span) {
        let text = src.text.as_str();
        let start = span.start.min(text.len());
        let end = span.end.clamp(start, text.len());
        let line_of = |off: usize| src.line_starts.partition_point(|&s| s <= off) - 1;
        let first_span_line = line_of(start);
        let last_span_line = line_of(end.saturating_sub(1).max(start));
        let first_line = first_span_line.saturating_sub(Self::CONTEXT);
        let last_line = (last_span_line + Self::CONTEXT).min(src.line_starts.len() - 1);
        let column = text[src.line_starts[first_span_line]..start].chars().count();
        let (mut shown, mut new_start, mut new_end) = (String::new(), None, None);
        for line in first_line..=last_line {
            let from = src.line_starts[line];
            let to = src.line_starts.get(line + 1).copied().unwrap_or(text.len());
            let body = text[from..to].trim_end_matches(['\n', '\r']);
            if from == text.len() && from > 0 {
                // The "line" after a final newline: nothing to show (miette shows nothing either), but
                // a span at the end of the file points there.
                if new_start.is_none() {
                    new_start = Some(shown.len());
                }
                break;
            }
            let long = body.len() > Self::WIDTH && body.chars().count() > Self::WIDTH;
            let skip = if line == first_span_line && long { column.saturating_sub(Self::WIDTH / 4) } else { 0 };
            if skip > 0 {
                shown.push('…');
            }
            let mut kept = 0;
            for (i, c) in body.char_indices().skip(skip).take(Self::WIDTH) {
                if from + i == start {
                    new_start = Some(shown.len());
                }
                if from + i == end && new_start.is_some() {
                    new_end = Some(shown.len());
                }
                shown.push(c);
                kept += 1;
            }
            // A span starting at the line's end, or ending past what is shown of its line.
            let here = shown.len();
            let unterminated = !text[from..to].ends_with('\n');
            if new_start.is_none() && ((from..to).contains(&start) || (start == to && unterminated)) {
                new_start = Some(here);
            }
            if new_end.is_none() && new_start.is_some() && (from..=to).contains(&end) {
                new_end = Some(here);
            }
            if skip + kept < body.chars().count() {
                shown.push('…');
            }
            shown.push('\n');
        }
        let new_start = new_start.unwrap_or(0);
        let new_end = new_end.unwrap_or(new_start).max(new_start);
        let excerpt = Excerpt { name: src.name.clone(), text: shown, first_line, start: new_start, column };
        (excerpt, Span { start: new_start, end: new_end })
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let (read, line, line_count, byte_column) = {
            let inner = self.text.read_span(span, before, after)?;
            (*inner.span(), inner.line(), inner.line_count(), inner.column())
        };
        // Without context lines miette reports the span's own column (in bytes): count characters.
        let column = if before > 0 {
            byte_column
        } else if span.offset() == self.start {
            self.column
        } else {
            let line_start = self.text[..span.offset()].rfind('\n').map_or(0, |n| n + 1);
            self.text[line_start..span.offset()].chars().count()
        };
        let data = &self.text.as_bytes()[read.offset()..read.offset() + read.len()];
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            data,
            read,
            line + self.first_line,
            column,
            line_count,
        )))
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

impl Diagnostic for Diag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("xdptest::{}", self.code)))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Note => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(Some(self.label.clone()), span))))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        None
    }
}

/// How many of `diags` are errors: a step failed when this grew, whatever warnings it added.
pub fn error_count(diags: &[Diag]) -> usize {
    diags.iter().filter(|d| d.is_error()).count()
}

/// The error of a compiler step whose problems were already pushed as [`Diag`]s: the caller only needs
/// to know that the step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

/// The closest candidate to `word` by edit distance, if it is close enough to be a plausible typo.
/// Case does not count: `QFI` finds `qfi`, `S` finds `s`.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// "a, b or c".
pub fn one_of(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("tll", ["ttl", "tos", "id"]), Some("ttl"));
        assert_eq!(did_you_mean("sessions", ["session", "stats"]), Some("session"));
        assert_eq!(did_you_mean("zzz", ["ttl", "tos"]), None);
        assert_eq!(did_you_mean("QFI", ["qfi", "ppi"]), Some("qfi"));
        assert_eq!(did_you_mean("S", ["s", "e", "pn"]), Some("s"));
        assert_eq!(did_you_mean("XDP_pass", ["XDP_PASS", "XDP_DROP"]), Some("XDP_PASS"));
    }

    #[test]
    fn line_col_is_one_based() {
        let src = SourceFile::new("x", "ab\ncd\né\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(2), (1, 3));
        assert_eq!(src.line_col(3), (2, 1));
        assert_eq!(src.line_col(4), (2, 2));
        assert_eq!(src.line_col(8), (3, 2));
        assert_eq!(src.line_col(100), (4, 1));
    }
}
