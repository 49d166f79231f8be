//! The `program` line: which object and program a spec tests, read from the object (programs, maps,
//! helper calls) into the [`Program`] every fixture of the spec shares.

use std::path::Path;
use std::sync::Arc;

use xdptest_grammar::ast::{self, ItemKind, Span};

use super::files::{io_reason, Loader, Parsed};
use crate::btf::{self, ObjectInfo};
use crate::diagnostic::{did_you_mean, Diag, SourceFile};
use crate::fixture::{Program, ProgramFacts};

/// Checks what may appear where: one `program` in the spec itself; included files hold only packets and
/// map defaults; a spec with scenarios names a program. Returns the spec's `program` line, if any.
pub(super) fn program_line<'a>(files: &'a [Parsed], diags: &mut Vec<Diag>) -> Option<&'a ast::Program> {
    let main = &files[0];
    let programs: Vec<&ast::Program> =
        main.ast.items.iter().filter_map(|i| if let ItemKind::Program(p) = &i.kind { Some(p) } else { None }).collect();
    for extra in programs.iter().skip(1) {
        diags.push(
            Diag::new("compile::duplicate_program", &main.src, extra.object.span, "a spec names one program")
                .help("split scenarios for different programs into different files"),
        );
    }
    for f in &files[1..] {
        for item in &f.ast.items {
            if matches!(item.kind, ItemKind::Program(_) | ItemKind::Scenario(_) | ItemKind::Env(_)) {
                diags.push(
                    Diag::new(
                        "compile::include_content",
                        &f.src,
                        item.span,
                        "an included file may only define packets and map defaults",
                    )
                    .help("`program`, `env` and scenarios belong in the spec that includes this file"),
                );
            }
        }
    }
    let has_scenarios = main.ast.items.iter().any(|i| matches!(i.kind, ItemKind::Scenario(_)));
    if programs.is_empty() && has_scenarios {
        diags.push(
            Diag::new(
                "compile::no_program",
                &main.src,
                Span { start: 0, end: 0 },
                "this spec has scenarios but no `program`",
            )
            .help("add a line like: program \"../programs/build/upf.o\" xdp \"xdp_upf\""),
        );
    }
    programs.first().copied()
}

/// Reads the object a `program` line names. The program is `None` when it cannot be determined; the
/// object's information is kept whenever it could be read, so its maps still type-check the rest of the
/// spec.
pub(super) fn resolve(
    p: &ast::Program,
    base_dir: &Path,
    src: &SourceFile,
    loader: &mut dyn Loader,
    diags: &mut Vec<Diag>,
) -> (Option<Arc<Program>>, Option<ObjectInfo>) {
    let object_path = base_dir.join(&p.object.node);
    let (info, sources) = match loader.read(&object_path) {
        Ok(bytes) => match btf::read_object(&bytes) {
            Ok(info) => (info, btf::source_files(&bytes)),
            Err(e) => {
                diags.push(
                    Diag::new(
                        "compile::bad_object",
                        src,
                        p.object.span,
                        format!("cannot use {}: {e}", object_path.display()),
                    )
                    .help("compile BPF C with `clang -O2 -g -target bpf` and BTF-defined maps (SEC(\".maps\"))"),
                );
                return (None, None);
            }
        },
        Err(e) => {
            diags.push(
                Diag::new(
                    "compile::missing_object",
                    src,
                    p.object.span,
                    format!("cannot read {}: {}", object_path.display(), io_reason(&e)),
                )
                .label("the program object")
                .help(super::files::Refusal::of(&e).map_or(
                    "the path is relative to this spec; build the programs first (`make -C programs`)",
                    super::files::Refusal::help,
                )),
            );
            return (None, None);
        }
    };
    let Some(sym) = program_name(p, &object_path, &info, src, diags) else {
        return (None, Some(info));
    };
    let (line, col) = src.line_col(p.object.span.start);
    let program = Program {
        object: object_path.display().to_string(),
        hook: p.hook.node.clone(),
        name: sym.name.clone(),
        section: sym.section.clone(),
        frags: sym.class().frags(),
        also: Vec::new(),
        rodata: Vec::new(),
        controls: false,
        location: format!("{}:{line}:{col}", src.name),
        facts: ProgramFacts::new(info.helper_calls.clone(), sources),
        maps: info.maps.iter().map(btf::MapDef::info).collect(),
    };
    (Some(Arc::new(program)), Some(info))
}

/// The program the line names (by function, or by a section that holds exactly one program, as
/// iproute2's `sec NAME` does), or the object's only XDP program.
fn program_name<'i>(
    p: &ast::Program,
    object_path: &Path,
    info: &'i ObjectInfo,
    src: &SourceFile,
    diags: &mut Vec<Diag>,
) -> Option<&'i btf::ProgramSym> {
    let runnable: Vec<&btf::ProgramSym> = info.programs.iter().filter(|s| s.class().runs_as_xdp()).collect();
    let listing = |list: &[&btf::ProgramSym]| -> String {
        if list.is_empty() {
            "none".into()
        } else {
            list.iter().map(|s| format!("{} (section `{}`)", s.name, s.section)).collect::<Vec<_>>().join(", ")
        }
    };
    let Some(n) = &p.name else {
        if let [one] = runnable.as_slice() {
            return Some(one);
        }
        diags.push(
            Diag::new(
                "compile::ambiguous_program",
                src,
                p.object.span,
                format!("{} has {} XDP programs: name one", object_path.display(), runnable.len()),
            )
            .help(format!("its XDP programs: {}", listing(&runnable))),
        );
        return None;
    };
    if let Some(sym) = info.program(&n.node) {
        let problem = match sym.class() {
            c if c.runs_as_xdp() => return Some(sym),
            btf::SectionClass::XdpOnRedirect { cpumap } => (
                "compile::redirect_program",
                format!(
                    "`{}` (section `{}`) runs on frames redirected into a {}: BPF_PROG_TEST_RUN cannot run it",
                    sym.name,
                    sym.section,
                    if cpumap { "CPUMAP" } else { "DEVMAP" }
                ),
                "test the program that redirects; this one is attached through the map's entries".to_string(),
            ),
            btf::SectionClass::Other { kind } => (
                "compile::not_xdp",
                format!("`{}` is a {kind} program (section `{}`), not XDP", sym.name, sym.section),
                format!("its XDP programs: {}", listing(&runnable)),
            ),
            _ => unreachable!("runnable classes returned above"),
        };
        diags.push(Diag::new(problem.0, src, n.span, problem.1).help(problem.2));
        return None;
    }
    // Not a function: a section, as iproute2 names programs.
    let in_section: Vec<&btf::ProgramSym> = runnable.iter().copied().filter(|s| s.section == n.node).collect();
    match in_section.as_slice() {
        [one] => Some(one),
        [] => {
            let candidates =
                runnable.iter().map(|s| s.name.as_str()).chain(runnable.iter().map(|s| s.section.as_str()));
            let help = match did_you_mean(&n.node, candidates) {
                Some(m) => format!("did you mean \"{m}\"?"),
                None if runnable.is_empty() => "the object has no XDP program".into(),
                None => format!("its XDP programs: {}", listing(&runnable)),
            };
            diags.push(
                Diag::new(
                    "compile::unknown_program",
                    src,
                    n.span,
                    format!("{} has no XDP program or section `{}`", object_path.display(), n.node),
                )
                .help(help),
            );
            None
        }
        several => {
            diags.push(
                Diag::new(
                    "compile::ambiguous_program",
                    src,
                    n.span,
                    format!("section `{}` holds {} programs: name one by its function", n.node, several.len()),
                )
                .help(format!("in it: {}", several.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "))),
            );
            None
        }
    }
}
