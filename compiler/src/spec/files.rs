//! Reading a spec and what it includes: every file parsed once, `include` cycles reported with the
//! chain, files reached twice (through different includes) loaded once.

use std::path::{Path, PathBuf};

use xdptest_grammar::ast::{self, ItemKind, Span};

use crate::diagnostic::{Diag, SourceFile};

/// Reads files; injectable so tests and fuzzing need no disk.
pub trait Loader {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>>;
}

/// The file system.
pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

/// A parsed file and where it came from.
pub(super) struct Parsed {
    pub src: SourceFile,
    pub ast: ast::File,
}

/// Parses `path` and, recursively, what it includes: the spec first, then its includes depth first.
pub(super) fn load_all(path: &Path, loader: &mut dyn Loader, diags: &mut Vec<Diag>) -> Vec<Parsed> {
    let mut files = Vec::new();
    load(path, None, loader, &mut files, &mut Vec::new(), diags);
    files
}

/// Parses `path` and what it includes. `stack` holds the files being loaded (for cycles).
fn load(
    path: &Path,
    from: Option<(&SourceFile, Span)>,
    loader: &mut dyn Loader,
    files: &mut Vec<Parsed>,
    stack: &mut Vec<PathBuf>,
    diags: &mut Vec<Diag>,
) {
    let key = normalize(path);
    if stack.contains(&key) {
        if let Some((src, span)) = from {
            let chain: Vec<String> =
                stack.iter().chain(std::iter::once(&key)).map(|p| p.display().to_string()).collect();
            diags.push(
                Diag::new("compile::include_cycle", src, span, "this include forms a cycle").help(chain.join(" → ")),
            );
        }
        return;
    }
    if files.iter().any(|f| normalize(Path::new(&f.src.name)) == key) {
        return; // already included through another path: definitions are shared, not duplicated
    }
    let Some(src) = read_source(path, from, loader, diags) else {
        return;
    };
    let ast = match xdptest_grammar::parse(&src.text) {
        Ok(ast) => ast,
        Err(errors) => {
            for e in errors {
                let mut d = Diag::new("syntax", &src, e.span, e.message).label(e.label);
                d.help = e.help;
                diags.push(d);
            }
            return;
        }
    };
    let includes: Vec<(String, Span)> = ast
        .items
        .iter()
        .filter_map(|i| if let ItemKind::Include(s) = &i.kind { Some((s.node.clone(), s.span)) } else { None })
        .collect();
    files.push(Parsed { src: src.clone(), ast });
    stack.push(key);
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    for (inc, span) in includes {
        load(&dir.join(&inc), Some((&src, span)), loader, files, stack, diags);
    }
    stack.pop();
}

/// The text of a spec file, or a diagnostic (located at the `include` that names it, if any).
fn read_source(
    path: &Path,
    from: Option<(&SourceFile, Span)>,
    loader: &mut dyn Loader,
    diags: &mut Vec<Diag>,
) -> Option<SourceFile> {
    let bytes = match loader.read(path) {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("cannot read {}: {}", path.display(), io_reason(&e));
            diags.push(match from {
                Some((src, span)) => Diag::new("compile::include_unreadable", src, span, msg)
                    .help("include paths are relative to the including file"),
                None => Diag::global("compile::unreadable", msg),
            });
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(t) => Some(SourceFile::new(path.display().to_string(), t)),
        Err(e) => {
            diags.push(Diag::global(
                "compile::not_utf8",
                format!("{} is not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()),
            ));
            None
        }
    }
}

fn normalize(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// An I/O error in the words of a message.
pub(super) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
