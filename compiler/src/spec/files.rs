//! Reading a spec and what it includes: every file parsed once, `include` cycles reported with the
//! chain, files reached twice (through different includes) loaded once.

use std::path::{Path, PathBuf};

use xdptest_grammar::ast::{self, ItemKind, Span};

use crate::diagnostic::{Diag, SourceFile};

/// Reads files; injectable so tests and fuzzing need no disk.
pub trait Loader {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>>;
}

/// The file system, as specs from a pull request may see it: regular files only (a FIFO would block
/// forever, `/dev/zero` would never end), at most [`MAX_FILE`] bytes, and only under the directories
/// given to [`FsLoader::confined`], so that `include "/etc/shadow"` is neither read nor quoted.
#[derive(Debug, Clone, Default)]
pub struct FsLoader {
    /// Canonical directories files may be read from; empty: anywhere.
    roots: Vec<PathBuf>,
}

/// The largest spec or object file read (a big BPF object with BTF is a few MB).
pub const MAX_FILE: u64 = 256 << 20;

/// Why [`FsLoader`] refused a file, carried inside the `io::Error` it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The file lies outside every allowed directory (shown).
    Outside { allowed: Vec<PathBuf> },
    /// Not a regular file: a directory, FIFO, socket or device (its kind).
    NotRegular(&'static str),
    /// Larger than [`MAX_FILE`].
    TooLarge(u64),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Outside { allowed } => {
                let shown: Vec<String> = allowed.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "it is outside the directories specs may read ({}); allow more with --allow-path DIR",
                    shown.join(", ")
                )
            }
            Refusal::NotRegular(kind) => write!(f, "it is a {kind}, not a regular file"),
            Refusal::TooLarge(n) => write!(f, "it has {n} bytes, more than the {MAX_FILE} read at most"),
        }
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// The refusal inside an I/O error from [`FsLoader`], if that is what it is.
    pub fn of(e: &std::io::Error) -> Option<&Refusal> {
        e.get_ref().and_then(|r| r.downcast_ref::<Refusal>())
    }

    /// What the author can do about it.
    pub fn help(&self) -> &'static str {
        match self {
            Refusal::Outside { .. } => {
                "specs from a pull request must not read the machine's files: keep includes and objects \
                 in the repository, or pass --allow-path DIR"
            }
            Refusal::NotRegular(_) => "name a regular file",
            Refusal::TooLarge(_) => "name the spec or object file itself",
        }
    }
}

impl FsLoader {
    /// Reads anything regular (library use and tests).
    pub fn unconfined() -> Self {
        FsLoader { roots: Vec::new() }
    }

    /// Reads only under `roots` (made canonical: `..` and symlinks cannot leave them).
    pub fn confined(roots: &[PathBuf]) -> Self {
        FsLoader { roots: roots.iter().map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.clone())).collect() }
    }

    fn refuse(r: Refusal) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, r)
    }
}

/// The kind of a file that is not regular, in a word.
fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() || t.is_block_device() {
        "device"
    } else {
        "special file"
    }
}

impl Loader for FsLoader {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let real = std::fs::canonicalize(path)?;
        if !self.roots.is_empty() && !self.roots.iter().any(|r| real.starts_with(r)) {
            return Err(Self::refuse(Refusal::Outside { allowed: self.roots.clone() }));
        }
        let meta = std::fs::metadata(&real)?;
        if !meta.is_file() {
            return Err(Self::refuse(Refusal::NotRegular(file_kind(meta.file_type()))));
        }
        // Non-blocking, and checked again on the open file: a FIFO put in its place since cannot block.
        let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&real)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(Self::refuse(Refusal::NotRegular(file_kind(meta.file_type()))));
        }
        if meta.len() > MAX_FILE {
            return Err(Self::refuse(Refusal::TooLarge(meta.len())));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(Self::refuse(Refusal::TooLarge(bytes.len() as u64)));
        }
        Ok(bytes)
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
            let refused = Refusal::of(&e).map(Refusal::help);
            diags.push(match from {
                Some((src, span)) => Diag::new("compile::include_unreadable", src, span, msg)
                    .help(refused.unwrap_or("include paths are relative to the including file")),
                None => Diag::global("compile::unreadable", msg).maybe_help(refused.map(str::to_string)),
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
    if let Some(r) = Refusal::of(e) {
        return r.to_string();
    }
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
