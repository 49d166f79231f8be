//! `xdptest doc`: a suite's scenarios as mdBook pages (see [`page`]), a `SUMMARY.md` fragment that
//! lists them, and with `--book` a complete book around them (`book.toml`, the `.pkt` highlighter)
//! so `mdbook serve DIR` works in any repository. The output directory is written all at once and
//! replaced only when an earlier `xdptest doc` wrote it (its `.xdptest-doc` marker says so).

pub mod coverage;
pub mod highlight;
pub mod page;
pub mod results;

use std::path::{Path, PathBuf};

use clap::Args;
use xdptest_compiler::spec::FsLoader;
use xdptest_compiler::{suite, Diag};

use crate::cli::{allowed_paths, default_paths, load_suite, report};
use crate::outcome::{count, Outcome};

/// The file that marks a directory as `xdptest doc` output.
pub const MARKER: &str = ".xdptest-doc";

#[derive(Debug, Args)]
pub struct DocArgs {
    /// Spec files or directories (searched recursively for .pkt files). Default: specs/
    pub paths: Vec<PathBuf>,
    /// Write the pages into DIR (created, or replaced when an earlier `xdptest doc` wrote it).
    /// Default: `[doc] pages` of xdptest.toml.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write a complete mdBook (book.toml, src/SUMMARY.md, the .pkt highlighter) for `mdbook serve DIR`.
    #[arg(long)]
    pub book: bool,
    /// Add each scenario's verdict, duration and differences from this `xdptest run --format json`
    /// output.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Add a coverage page from the coverage.json of `xdptest run --coverage`.
    #[arg(long, value_name = "FILE")]
    pub coverage: Option<PathBuf>,
    /// The title of the book (`--book`) and of the pages' list.
    #[arg(long, value_name = "TITLE", default_value = "Scenarios")]
    pub title: String,
}

pub fn run(args: DocArgs) -> Outcome {
    let paths = default_paths(args.paths.clone());
    let out_dir = match &args.out {
        Some(o) => o.clone(),
        None => match crate::cli::config::for_paths(&paths) {
            Ok((config, Some(dir))) if config.doc.pages.is_some() => dir.join(config.doc.pages.unwrap_or_default()),
            Ok(_) => {
                errln!("error: give --out DIR, or set `[doc] pages` in xdptest.toml");
                return Outcome::Error;
            }
            Err(o) => return o,
        },
    };
    let Ok(results) = read_input("--results", args.results.as_deref(), results::Results::parse) else {
        return Outcome::Error;
    };
    let Ok(coverage) = read_input("--coverage", args.coverage.as_deref(), coverage::Coverage::parse) else {
        return Outcome::Error;
    };
    let (specs, suite) = match load_suite(&paths) {
        Ok(x) => x,
        Err(o) => return o,
    };
    if let Some(r) = &results {
        let matched = suite.specs.iter().flat_map(|s| &s.fixtures).filter(|f| r.has(&f.spec, &f.scenario)).count();
        if matched == 0 && r.len() > 0 {
            errln!(
                "warning: none of the {} results in --results is of these scenarios: give `doc` the spec paths the run was given",
                r.len()
            );
        }
    }
    let roots = suite::spec_roots(&paths, &allowed_paths());
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut listed: Vec<(String, PathBuf)> = Vec::new();
    let mut diags: Vec<Diag> = Vec::new();
    for (sp, compiled) in specs.iter().zip(&suite.specs) {
        let rel = unique(sp.relative.with_extension("md"), &listed);
        listed.push((compiled.path.display().to_string(), rel));
    }
    for ((sp, compiled), (_, rel)) in specs.iter().zip(&suite.specs).zip(&listed) {
        let packets = match xdptest_compiler::spec::named_packets(&sp.path, &mut FsLoader::confined(&roots)) {
            Ok(p) => p,
            Err(d) => {
                diags.extend(d);
                continue;
            }
        };
        let link = |file: &str| listed.iter().find(|(s, _)| s == file).map(|(_, to)| page::relative_link(rel, to));
        // The compiler read the file a moment ago through the same confined loader.
        let source = std::fs::read_to_string(&sp.path).unwrap_or_default();
        let text = page::render(compiled, &packets, results.as_ref(), &link, &source);
        files.push((rel.clone(), text.into_bytes()));
    }
    if !diags.is_empty() {
        return report(&diags);
    }
    let mut summary = summary(&args.title, &listed);
    if let Some(c) = &coverage {
        let anchors: Vec<((String, String), String)> = suite
            .specs
            .iter()
            .zip(&listed)
            .flat_map(|(spec, (_, rel))| {
                spec.fixtures.iter().zip(page::anchors(&spec.fixtures)).map(move |(f, anchor)| {
                    ((f.spec.clone(), f.scenario.clone()), format!("{}#{anchor}", rel.display()))
                })
            })
            .collect();
        let link = |spec: &str, name: &str| {
            anchors.iter().find(|((s, n), _)| s == spec && n == name).map(|(_, to)| to.clone())
        };
        files.push((PathBuf::from("coverage.md"), c.render(&link).into_bytes()));
        summary.push_str(
            "- [Coverage](coverage.md)
",
        );
    }
    let src = if args.book { PathBuf::from("src") } else { PathBuf::new() };
    let mut out: Vec<(PathBuf, Vec<u8>)> = files.into_iter().map(|(p, b)| (src.join(p), b)).collect();
    out.push((src.join("SUMMARY.md"), summary.into_bytes()));
    if args.book {
        out.push((PathBuf::from("book.toml"), book_toml(&args.title).into_bytes()));
        out.push((PathBuf::from("pkt-highlight.js"), highlight::highlight_js().into_bytes()));
    }
    out.push((PathBuf::from(MARKER), b"written by xdptest doc: the directory is replaced as a whole\n".to_vec()));
    let cancel = crate::session::cancel_on_signals();
    match suite::write_tree(&out_dir, &out, &|| cancel.is_cancelled(), &replaceable) {
        Ok(()) => {
            outln!(
                "wrote {} for {} into {}{}",
                count(listed.len(), "page"),
                count(suite.fixture_count(), "scenario"),
                out_dir.display(),
                if args.book { format!("\nserve it with: mdbook serve {}", out_dir.display()) } else { String::new() }
            );
            Outcome::Ok
        }
        Err(d) => report(&[d]),
    }
}

/// The input file of `flag` (`--results`, `--coverage`), read and parsed; `Err` after saying why.
fn read_input<T>(flag: &str, path: Option<&Path>, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, ()> {
    let Some(p) = path else { return Ok(None) };
    read_results(p).and_then(|t| parse(&t)).map(Some).map_err(|e| {
        errln!("error: {flag} {}: {e}", p.display());
    })
}

/// The results file's text: a regular file (a FIFO would block) of at most
/// [`xdptest_compiler::spec::MAX_FILE`] bytes.
fn read_results(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > xdptest_compiler::spec::MAX_FILE {
        return Err(format!("{} MiB is more than a results file of xdptest has", meta.len() >> 20));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// Where `xdptest doc` run on the same paths puts each scenario, under `pages` (shown relative to
/// the working directory when it is below it): `pages/upf/upf.md#uplink-…`, by spec and scenario.
pub fn section_links(
    pages: &Path,
    specs: &[suite::SpecPath],
    compiled: &[xdptest_compiler::spec::CompiledSpec],
) -> crate::report::BookLinks {
    let cwd = std::env::current_dir().unwrap_or_default();
    let shown = pages.strip_prefix(&cwd).unwrap_or(pages);
    let mut out = std::collections::BTreeMap::new();
    let mut taken: Vec<(String, PathBuf)> = Vec::new();
    for (sp, spec) in specs.iter().zip(compiled) {
        let rel = unique(sp.relative.with_extension("md"), &taken);
        taken.push((spec.path.display().to_string(), rel.clone()));
        for (f, anchor) in spec.fixtures.iter().zip(page::anchors(&spec.fixtures)) {
            let link = format!("{}#{anchor}", shown.join(&rel).display());
            out.insert((f.spec.clone(), f.scenario.clone()), link);
        }
    }
    out
}

/// A page path no earlier spec took (two `upf.pkt` given as files would share `upf.md`).
fn unique(path: PathBuf, taken: &[(String, PathBuf)]) -> PathBuf {
    let mut candidate = path.clone();
    let mut n = 1;
    while taken.iter().any(|(_, p)| *p == candidate) {
        n += 1;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        candidate = path.with_file_name(format!("{stem}-{n}.md"));
    }
    candidate
}

/// The `SUMMARY.md`: the list of pages (with `--book`, the whole book's summary; without, a fragment
/// to paste into a book's own, links relative to the output directory).
fn summary(title: &str, pages: &[(String, PathBuf)]) -> String {
    let mut s = format!("# {title}\n\n");
    for (spec, rel) in pages {
        s.push_str(&format!("- [{spec}]({})\n", rel.display()));
    }
    s
}

fn book_toml(title: &str) -> String {
    let quoted = title.replace('\\', "\\\\").replace('"', "\\\"");
    format!("[book]\ntitle = \"{quoted}\"\nsrc = \"src\"\n\n[output.html]\nadditional-js = [\"pkt-highlight.js\"]\n")
}

/// An existing output directory may be replaced when it is empty or an earlier `xdptest doc` wrote it.
fn replaceable(dir: &Path) -> Result<(), Diag> {
    let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
    if empty || dir.join(MARKER).is_file() {
        return Ok(());
    }
    Err(Diag::global(
        "doc::write",
        format!("{} exists and was not written by xdptest doc (it has no {MARKER})", dir.display()),
    )
    .help("the output directory is replaced as a whole: give a new or empty directory, or an earlier output"))
}

/// `xdptest __grammar js|textmate`: the generated highlighters (for the repository's committed copies).
#[derive(Debug, Args)]
pub struct GrammarArgs {
    /// `js` (highlight.js, for mdBook) or `textmate` (JSON).
    pub format: String,
}

pub fn grammar(args: GrammarArgs) -> Outcome {
    match args.format.as_str() {
        "js" => out!("{}", highlight::highlight_js()),
        "textmate" => out!("{}", highlight::textmate()),
        other => {
            errln!("error: `{other}` is not a grammar format; write js or textmate");
            return Outcome::Error;
        }
    }
    Outcome::Ok
}
