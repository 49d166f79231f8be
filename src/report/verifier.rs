//! A verifier rejection as a located diagnostic: the C line the verifier stopped at (from the `; code @
//! file.c:LINE` lines that BTF line info puts into its log), labelled with the verifier's complaint, then
//! the end of the log. The kernel cites only a file's base name; the object's BTF line info has the path
//! clang was given, which is looked for as it is, then relative to the object's directory and its parent
//! (`programs/build/x.o` from `programs/x.c`), then the working directory.

use std::path::{Path, PathBuf};

use xdptest_compiler::diagnostic::{Diag, SourceFile};
use xdptest_grammar::ast::Span;

/// How many lines of the log end the report.
const TAIL: usize = 20;

/// What the log says about the rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The verifier's complaint: the lines after the last instruction, before the statistics.
    pub complaint: Vec<String>,
    /// The last source line the log cites before the complaint: (file base name, line, code).
    pub at: Option<(String, usize, String)>,
}

/// Reads a verifier log.
pub fn parse(log: &str) -> Rejection {
    let lines: Vec<&str> = log.lines().map(str::trim_end).collect();
    let is_stats = |l: &str| {
        l.starts_with("verification time")
            || l.starts_with("stack depth")
            || l.starts_with("processed ")
            || l.starts_with("-- END PROG LOAD LOG --")
    };
    let is_insn = |l: &str| {
        let digits = l.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0 && l[digits..].starts_with(": ")) || l.starts_with("; ")
    };
    let end = lines.iter().rposition(|l| !l.is_empty() && !is_stats(l)).map_or(0, |i| i + 1);
    let last_insn = lines[..end].iter().rposition(|l| is_insn(l));
    let start = last_insn.map_or(0, |i| i + 1);
    let complaint: Vec<String> = lines[start..end].iter().filter(|l| !l.is_empty()).map(|l| l.to_string()).collect();
    let at = lines[..start].iter().rev().find_map(|l| source_line(l));
    Rejection { complaint, at }
}

/// `; return data[20]; @ prog.c:9` → (`prog.c`, 9, `return data[20];`).
fn source_line(l: &str) -> Option<(String, usize, String)> {
    let rest = l.strip_prefix("; ")?;
    let (code, loc) = rest.rsplit_once(" @ ")?;
    let (file, line) = loc.rsplit_once(':')?;
    Some((file.to_string(), line.trim().parse().ok()?, code.trim().to_string()))
}

/// The source file the log's base name stands for, if it can be found.
pub fn find_source(object: &Path, base: &str) -> Option<PathBuf> {
    let recorded = std::fs::read(object).map(|b| xdptest_compiler::btf::source_files(&b)).unwrap_or_default();
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

/// The diagnostic for a rejection of `program` in `object` with verifier `log`: located in the C file
/// when it is found, else naming the file and line; the log's tail follows.
pub fn render(headline: &str, object: &str, log: &str) -> String {
    let r = parse(log);
    let complaint = r.complaint.first().cloned().unwrap_or_else(|| "rejected here".into());
    let explanation = (r.complaint.len() > 1).then(|| r.complaint[1..].join("\n"));
    let located = r.at.as_ref().and_then(|(base, line, code)| {
        let path = find_source(Path::new(object), base)?;
        let text = std::fs::read_to_string(&path).ok()?;
        let span = line_span(&text, *line, code)?;
        let shown = display_path(&path);
        Some(
            Diag::new("run::verifier", &SourceFile::new(shown, text), span, headline.to_string())
                .label(complaint.clone()),
        )
    });
    let diag = match located {
        Some(d) => d.maybe_help(explanation),
        None => {
            let mut help = r.complaint.join("\n");
            if let Some((base, line, code)) = &r.at {
                help = format!("at {base}:{line}: {code}\n{help}");
            }
            Diag::global("run::verifier", headline.to_string()).help(help)
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

    const LOG: &str = "0: R1=ctx() R10=fp0\n\
        ; unsigned char *data = (void *)(long)ctx->data; @ bad_verifier.c:8\n\
        0: (61) r1 = *(u32 *)(r1 +0)          ; R1=pkt(r=0)\n\
        ; return data[20] == 0x11 ? XDP_DROP : XDP_PASS; @ bad_verifier.c:9\n\
        1: (71) r1 = *(u8 *)(r1 +20)\n\
        invalid access to packet, off=20 size=1, R1(id=0,off=20,r=0)\n\
        R1 offset is outside of the packet\n\
        verification time 17 usec\n\
        stack depth 0\n\
        processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";

    #[test]
    fn finds_the_complaint_and_the_line() {
        let r = parse(LOG);
        assert_eq!(
            r.complaint,
            ["invalid access to packet, off=20 size=1, R1(id=0,off=20,r=0)", "R1 offset is outside of the packet"]
        );
        assert_eq!(r.at, Some(("bad_verifier.c".into(), 9, "return data[20] == 0x11 ? XDP_DROP : XDP_PASS;".into())));
    }

    #[test]
    fn spans_skip_indentation_and_check_the_code() {
        let text = "int f()\n{\n\treturn x;\n}\n";
        assert_eq!(line_span(text, 3, "return x;"), Some(Span { start: 11, end: 20 }));
        assert_eq!(line_span(text, 3, "something else"), None);
        assert_eq!(line_span(text, 9, "return x;"), None);
    }
}
