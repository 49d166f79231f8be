//! One spec file → its fixtures. Resolves `include`s (with cycle detection), reads the program object's
//! BTF for map layouts, evaluates named packets lazily (each once, with cycle detection), and lowers every
//! scenario into a [`Fixture`]. Errors are collected, never thrown: one pass reports all of them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use xdptest_grammar::ast::{self, ItemKind, Span, Stmt, ValueKind};

use crate::btf::{self, MapDef, ObjectInfo};
use crate::diagnostic::{did_you_mean, one_of, Diag, Reported, SourceFile};
use crate::env;
use crate::fixture::*;
use crate::mapvalue::{leaf_fields, Mode, Typer};
use crate::packet::{encode_exact, encode_masked, Evaluator, Names, Packet, Role};
use crate::pcap::PcapPacket;

/// A compiled spec file.
#[derive(Debug, Clone)]
pub struct CompiledSpec {
    /// The path as the user gave it (or as found under a given directory).
    pub path: PathBuf,
    pub fixtures: Vec<Fixture>,
    /// Every packet sent or expected, in scenario order, for the pcap.
    pub packets: Vec<PcapPacket>,
}

/// Reads files; injectable so tests and fuzzing need no disk.
pub trait Loader {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>>;
}

pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

/// A parsed file and where it came from.
struct Parsed {
    src: SourceFile,
    ast: ast::File,
}

/// A named packet definition: its file and expression, and its value once evaluated.
struct PacketSlot {
    file: usize,
    def: ast::PacketDef,
    state: SlotState,
}

enum SlotState {
    Pending,
    InProgress,
    Done(Result<Packet, Reported>),
}

/// Compiles one spec file. `display` is the path shown in messages and stored in fixtures.
pub fn compile_spec(path: &Path, loader: &mut dyn Loader, diags: &mut Vec<Diag>) -> Option<CompiledSpec> {
    let before = diags.len();
    let mut files: Vec<Parsed> = Vec::new();
    load(path, None, loader, &mut files, &mut Vec::new(), diags);
    if files.is_empty() || diags.len() > before {
        return None;
    }
    let main = &files[0];
    let scenarios: Vec<&ast::Item> =
        main.ast.items.iter().filter(|i| matches!(i.kind, ItemKind::Scenario(_))).collect();

    // Packet definitions from every file (includes first, so the main file may shadow... no: duplicates
    // are errors, a shadowed name is a trap).
    let mut slots: BTreeMap<String, PacketSlot> = BTreeMap::new();
    let mut first_def: HashMap<String, (usize, Span)> = HashMap::new();
    for (fi, f) in files.iter().enumerate() {
        for item in &f.ast.items {
            if let ItemKind::Packet(def) = &item.kind {
                let name = def.name.node.as_str();
                if name == "input" || crate::wire::constructor(name).is_some() {
                    let what = if name == "input" { "the packet of the preceding `send`" } else { "a layer" };
                    diags.push(
                        Diag::new(
                            "compile::reserved_name",
                            &f.src,
                            def.name.span,
                            format!("`{name}` is {what}: a packet cannot take that name"),
                        )
                        .help(format!("choose another name, e.g. `my_{name}`")),
                    );
                    continue;
                }
                if let Some((pf, ps)) = first_def.get(&def.name.node) {
                    let (l, c) = files[*pf].src.line_col(ps.start);
                    diags.push(
                        Diag::new(
                            "compile::duplicate_packet",
                            &f.src,
                            def.name.span,
                            format!("packet `{}` is defined twice", def.name.node),
                        )
                        .help(format!("first defined at {}:{l}:{c}", files[*pf].src.name)),
                    );
                    continue;
                }
                first_def.insert(def.name.node.clone(), (fi, def.name.span));
                slots.insert(
                    def.name.node.clone(),
                    PacketSlot { file: fi, def: def.clone(), state: SlotState::Pending },
                );
            }
        }
    }

    // The program: exactly one, in the main file, needed once there are scenarios.
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
    let program = programs.first().copied();
    if program.is_none() && !scenarios.is_empty() {
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
    let base_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let (program_ref, object) = match program {
        Some(p) => resolve_program(p, &base_dir, &main.src, loader, diags),
        None => (None, None),
    };

    // The network stage.
    let mut env_items = Vec::new();
    for item in &main.ast.items {
        if let ItemKind::Env(stmts) = &item.kind {
            env_items.extend(env::lower(stmts, &main.src, diags));
        }
    }
    let iface_names: Vec<String> = env_items
        .iter()
        .filter_map(|e| if let EnvItem::Link { name, .. } = e { Some(name.clone()) } else { None })
        .collect();

    let mut cx = SpecCx { files: &files, slots, object: object.as_ref(), diags, iface_names: &iface_names };

    // Map defaults: top-level `map` items of included files, then of the main file, before every scenario.
    let mut defaults = Vec::new();
    for f in files.iter().rev() {
        for item in &f.ast.items {
            if let ItemKind::Map(m) = &item.kind {
                if let Some(step) = cx.map_set(m, &f.src) {
                    defaults.push(step);
                }
            }
        }
    }
    // Evaluate every definition, also unused ones, so their errors show.
    let names: Vec<String> = cx.slots.keys().cloned().collect();
    for name in names {
        let _ = cx.packet(&name);
    }

    let mut fixtures = Vec::new();
    let mut packets = Vec::new();
    let mut seen_names: HashMap<String, Span> = HashMap::new();
    let mut seen_slugs: HashMap<String, (String, Span)> = HashMap::new();
    for item in scenarios {
        let ItemKind::Scenario(s) = &item.kind else { unreachable!() };
        if let Some(first) = seen_names.get(&s.name.node) {
            let (l, c) = main.src.line_col(first.start);
            cx.diags.push(
                Diag::new(
                    "compile::duplicate_scenario",
                    &main.src,
                    s.name.span,
                    format!("two scenarios are named \"{}\"", s.name.node),
                )
                .help(format!("the first is at line {l}, column {c}; names identify scenarios in reports and filters")),
            );
            continue;
        }
        seen_names.insert(s.name.node.clone(), s.name.span);
        // Fixture files are named after the scenario: two names with one file name would overwrite.
        let file_name = crate::suite::slug(&s.name.node);
        if let Some((other, _)) = seen_slugs.get(&file_name) {
            cx.diags.push(
                Diag::new(
                    "compile::fixture_name_clash",
                    &main.src,
                    s.name.span,
                    format!("scenarios \"{other}\" and \"{}\" would both compile to {file_name}.ron", s.name.node),
                )
                .help("fixture files are named after scenarios (letters and digits, the rest as `-`): rename one"),
            );
            continue;
        }
        seen_slugs.insert(file_name, (s.name.node.clone(), s.name.span));
        if let Some((steps, pk, snapshot)) = cx.scenario(s, &main.src, &defaults) {
            if let Some(program) = &program_ref {
                fixtures.push(Fixture {
                    spec: path.display().to_string(),
                    scenario: s.name.node.clone(),
                    description: item.docs.join("\n"),
                    program: program.clone(),
                    env: env_items.clone(),
                    steps,
                    snapshot,
                });
                packets.extend(pk);
            }
        }
    }
    if diags.len() > before {
        return None;
    }
    Some(CompiledSpec { path: path.to_path_buf(), fixtures, packets })
}

/// Parses `path` and, recursively, what it includes. `stack` holds the files being loaded (for cycles).
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
    let bytes = match loader.read(path) {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("cannot read {}: {}", path.display(), io_reason(&e));
            diags.push(match from {
                Some((src, span)) => Diag::new("compile::include_unreadable", src, span, msg)
                    .help("include paths are relative to the including file"),
                None => Diag::global("compile::unreadable", msg),
            });
            return;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diag::global(
                "compile::not_utf8",
                format!("{} is not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()),
            ));
            return;
        }
    };
    let src = SourceFile::new(path.display().to_string(), text);
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
    let includes: Vec<Spanned> = ast
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

type Spanned = (String, Span);

fn normalize(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn resolve_program(
    p: &ast::Program,
    base_dir: &Path,
    src: &SourceFile,
    loader: &mut dyn Loader,
    diags: &mut Vec<Diag>,
) -> (Option<ProgramRef>, Option<ObjectInfo>) {
    let object_path = base_dir.join(&p.object.node);
    let info = match loader.read(&object_path) {
        Ok(bytes) => match btf::read_object(&bytes) {
            Ok(info) => info,
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
                .help("the path is relative to this spec; build the programs first (`make -C programs`)"),
            );
            return (None, None);
        }
    };
    let xdp: Vec<&btf::ProgramSym> =
        info.programs.iter().filter(|s| s.section == "xdp" || s.section.starts_with("xdp")).collect();
    let name = match &p.name {
        Some(n) => {
            if !xdp.iter().any(|s| s.name == n.node) {
                let names: Vec<&str> = xdp.iter().map(|s| s.name.as_str()).collect();
                let help = match did_you_mean(&n.node, names.iter().copied()) {
                    Some(m) => format!("did you mean \"{m}\"?"),
                    None if names.is_empty() => "the object has no program in an `xdp` section".into(),
                    None => format!("its XDP programs: {}", names.join(", ")),
                };
                diags.push(
                    Diag::new(
                        "compile::unknown_program",
                        src,
                        n.span,
                        format!("{} has no XDP program `{}`", object_path.display(), n.node),
                    )
                    .help(help),
                );
                // Keep the object: its maps still type-check the rest of the spec.
                return (None, Some(info));
            }
            n.node.clone()
        }
        None => match xdp.as_slice() {
            [one] => one.name.clone(),
            _ => {
                let names: Vec<&str> = xdp.iter().map(|s| s.name.as_str()).collect();
                diags.push(
                    Diag::new(
                        "compile::ambiguous_program",
                        src,
                        p.object.span,
                        format!("{} has {} XDP programs: name one", object_path.display(), xdp.len()),
                    )
                    .help(format!(
                        "its XDP programs: {}",
                        if names.is_empty() { "none".into() } else { names.join(", ") }
                    )),
                );
                return (None, Some(info));
            }
        },
    };
    (Some(ProgramRef { object: object_path.display().to_string(), hook: p.hook.node.clone(), name }), Some(info))
}

struct SpecCx<'a> {
    files: &'a [Parsed],
    slots: BTreeMap<String, PacketSlot>,
    object: Option<&'a ObjectInfo>,
    diags: &'a mut Vec<Diag>,
    iface_names: &'a [String],
}

/// The names visible while evaluating one expression.
struct Scope<'s, 'a> {
    cx: &'s mut SpecCx<'a>,
    input: Option<Packet>,
}

impl Names for Scope<'_, '_> {
    fn packet(&mut self, name: &str) -> Option<Result<Packet, Reported>> {
        self.cx.packet(name)
    }
    fn packet_names(&self) -> Vec<String> {
        self.cx.slots.keys().cloned().collect()
    }
    fn input(&self) -> Option<Packet> {
        self.input.clone()
    }
}

impl SpecCx<'_> {
    /// The value of a named packet, evaluating it on first use.
    fn packet(&mut self, name: &str) -> Option<Result<Packet, Reported>> {
        let slot = self.slots.get_mut(name)?;
        match &slot.state {
            SlotState::Done(r) => return Some(r.clone()),
            SlotState::InProgress => {
                let src = &self.files[slot.file].src;
                self.diags.push(
                    Diag::new(
                        "compile::packet_cycle",
                        src,
                        slot.def.name.span,
                        format!("packet `{name}` is defined in terms of itself"),
                    )
                    .help("a packet can derive from other packets, but not from itself"),
                );
                slot.state = SlotState::Done(Err(Reported));
                return Some(Err(Reported));
            }
            SlotState::Pending => {}
        }
        slot.state = SlotState::InProgress;
        let (file, expr) = (slot.file, slot.def.expr.clone());
        let src = self.files[file].src.clone();
        let mut local = Vec::new();
        let result = {
            let mut scope = Scope { cx: self, input: None };
            let mut ev = Evaluator { src: &src, diags: &mut local, role: Role::Input };
            ev.eval(&expr, &mut scope)
        };
        // A cycle may already have settled this slot.
        let slot = self.slots.get_mut(name).expect("slot exists");
        if let SlotState::Done(r) = &slot.state {
            self.diags.extend(local);
            return Some(r.clone());
        }
        let result = if result.is_ok() { self.check_encodable(&result, &src, expr.span) } else { result };
        self.diags.extend(local);
        self.slots.get_mut(name).unwrap().state = SlotState::Done(result.clone());
        Some(result)
    }

    fn check_encodable(
        &mut self,
        p: &Result<Packet, Reported>,
        src: &SourceFile,
        span: Span,
    ) -> Result<Packet, Reported> {
        let packet = p.clone()?;
        match encode_exact(&packet) {
            Ok(_) => Ok(packet),
            Err(e) => {
                self.diags.push(Diag::new("compile::encode", src, span, format!("this packet cannot be encoded: {e}")));
                Err(Reported)
            }
        }
    }

    fn eval(
        &mut self,
        expr: &ast::PacketExpr,
        src: &SourceFile,
        role: Role,
        input: Option<Packet>,
    ) -> Result<Packet, Reported> {
        let mut local = Vec::new();
        let r = {
            let mut scope = Scope { cx: self, input };
            let mut ev = Evaluator { src, diags: &mut local, role };
            ev.eval(expr, &mut scope)
        };
        self.diags.extend(local);
        r
    }

    fn map_def(&mut self, name: &ast::Ident, src: &SourceFile) -> Option<&MapDef> {
        let object = self.object?;
        match object.map(&name.node) {
            Some(m) => Some(m),
            None => {
                let names: Vec<&str> = object.maps.iter().map(|m| m.name.as_str()).collect();
                let help = match did_you_mean(&name.node, names.iter().copied()) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None if names.is_empty() => "the program declares no maps".into(),
                    None => format!("the program's maps: {}", one_of(&names)),
                };
                self.diags.push(
                    Diag::new(
                        "compile::unknown_map",
                        src,
                        name.span,
                        format!("the program has no map `{}`", name.node),
                    )
                    .help(help),
                );
                None
            }
        }
    }

    /// Resolves interface names declared in `env` to placeholders the runner fills in: names are kept
    /// as errors here unless declared, since only the runner knows the ifindex.
    fn map_set(&mut self, m: &ast::MapSet, src: &SourceFile) -> Option<Step> {
        let def = self.map_def(&m.map, src)?.clone();
        let key = self.typed(&def.key, &m.key, src, Mode::Write, &format!("the key of `{}`", def.name))?;
        let entry = entry_text(&def.name, &m.key, src);
        let value = match &m.value.kind {
            ValueKind::PerCpu(items) => {
                if !def.is_per_cpu() {
                    self.diags.push(
                        Diag::new(
                            "compile::not_per_cpu",
                            src,
                            m.value.span,
                            format!("`{}` is a {} map, not per-CPU", def.name, def.type_name()),
                        )
                        .help("give one value"),
                    );
                    return None;
                }
                let mut values = Vec::new();
                for v in items {
                    values.push(Bytes(self.typed(&def.value, v, src, Mode::Write, &entry)?.0));
                }
                MapValue::PerCpu(values)
            }
            _ => MapValue::All(Bytes(self.typed(&def.value, &m.value, src, Mode::Write, &entry)?.0)),
        };
        Some(Step::SetMap { map: def.name.clone(), key: Bytes(key.0), value })
    }

    fn typed(
        &mut self,
        ty: &btf::TypeLayout,
        v: &ast::Value,
        src: &SourceFile,
        mode: Mode,
        what: &str,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let ifaces = self.iface_names;
        // Interface names stand for their ifindex, which only exists once the runner builds the stage:
        // a name compiles to `IFINDEX_PLACEHOLDER` plus its position in `env`, which the runner rewrites.
        let resolver = move |name: &str| ifaces.iter().position(|n| n == name).map(|i| IFINDEX_PLACEHOLDER + i as u64);
        let mut typer = Typer { src, diags: self.diags, mode, name_resolver: Some(&resolver) };
        typer.encode(ty, v, what).ok().map(|e| (e.bytes, e.mask))
    }

    fn scenario(
        &mut self,
        s: &ast::Scenario,
        src: &SourceFile,
        defaults: &[Step],
    ) -> Option<(Vec<Step>, Vec<PcapPacket>, bool)> {
        let before = self.diags.len();
        // `expect snapshot`, where it was written.
        let mut snapshot: Option<Span> = None;
        let mut steps: Vec<Step> = defaults.to_vec();
        let mut packets = Vec::new();
        let mut last_input: Option<Packet> = None;
        let mut run_count = 0;
        // Index in `steps` of the last Run whose expectation is still open.
        let mut open_run: Option<usize> = None;
        // The last `send` failed to compile: its `expect` is not checked again (no cascade errors).
        let mut failed_send = false;
        for stmt in &s.stmts {
            match stmt {
                // A statement about the whole scenario: it neither opens nor closes a `send`'s expectation.
                Stmt::ExpectSnapshot(span) => {
                    if let Some(first) = snapshot {
                        let (l, c) = src.line_col(first.start);
                        self.diags.push(
                            Diag::new(
                                "compile::duplicate_snapshot",
                                src,
                                *span,
                                "this scenario already says `expect snapshot`",
                            )
                            .help(format!("the first is at line {l}, column {c}; one per scenario")),
                        );
                    }
                    snapshot.get_or_insert(*span);
                }
                Stmt::Map(m) => {
                    open_run = None;
                    failed_send = false;
                    if let Some(step) = self.map_set(m, src) {
                        steps.push(step);
                    }
                }
                Stmt::Send(send) => {
                    open_run = None;
                    failed_send = true;
                    let Ok(packet) = self.eval(&send.packet, src, Role::Input, None) else {
                        continue;
                    };
                    let bytes = match encode_exact(&packet) {
                        Ok(b) => b,
                        Err(e) => {
                            self.diags.push(Diag::new(
                                "compile::encode",
                                src,
                                send.packet.span,
                                format!("this packet cannot be encoded: {e}"),
                            ));
                            continue;
                        }
                    };
                    run_count += 1;
                    let ctx = Ctx {
                        ingress: send.ingress.as_ref().map(|i| match &i.node {
                            ast::IfaceRef::Index(n) => Iface::Index(*n as u32),
                            ast::IfaceRef::Name(n) => {
                                if !self.iface_names.contains(n) {
                                    let help = if self.iface_names.is_empty() {
                                        "declare it in an `env { link ... }` block, or give an ifindex number"
                                            .to_string()
                                    } else {
                                        format!("interfaces declared in `env`: {}", self.iface_names.join(", "))
                                    };
                                    self.diags.push(
                                        Diag::new(
                                            "compile::unknown_interface",
                                            src,
                                            i.span,
                                            format!("interface `{n}` is not declared"),
                                        )
                                        .help(help),
                                    );
                                }
                                Iface::Name(n.clone())
                            }
                        }),
                        rx_queue: send.queue.as_ref().map(|q| q.node.min(u32::MAX as u64) as u32),
                    };
                    let (l, c) = src.line_col(send.span.start);
                    packets.push(PcapPacket {
                        comment: format!("{} · send #{run_count} · input", s.name.node),
                        bytes: bytes.clone(),
                    });
                    steps.push(Step::Run {
                        input: Bytes(bytes),
                        ctx,
                        expect: None,
                        source: format!("{}:{l}:{c}", src.name),
                    });
                    open_run = Some(steps.len() - 1);
                    failed_send = false;
                    last_input = Some(packet);
                }
                Stmt::ExpectPacket(e) => {
                    if std::mem::take(&mut failed_send) {
                        continue;
                    }
                    let Some(idx) = open_run.take() else {
                        self.diags.push(
                            Diag::new("compile::expect_without_send", src, e.span, "this `expect` follows no `send`")
                                .help("each `send` takes at most one `expect` right after it"),
                        );
                        continue;
                    };
                    let Some(action) = self.action(&e.action, src) else {
                        continue;
                    };
                    let packet = match &e.packet {
                        None => None,
                        Some(expr) => {
                            let Ok(p) = self.eval(expr, src, Role::Expected, last_input.clone()) else {
                                continue;
                            };
                            match encode_masked(&p) {
                                Ok(m) => {
                                    packets.push(PcapPacket {
                                        comment: format!(
                                            "{} · send #{run_count} · expected {}",
                                            s.name.node,
                                            action_name(action)
                                        ),
                                        bytes: m.bytes.0.clone(),
                                    });
                                    Some(m)
                                }
                                Err(err) => {
                                    self.diags.push(Diag::new(
                                        "compile::encode",
                                        src,
                                        expr.span,
                                        format!("this packet cannot be encoded: {err}"),
                                    ));
                                    continue;
                                }
                            }
                        }
                    };
                    if let Step::Run { expect, .. } = &mut steps[idx] {
                        *expect = Some(Expectation { action, packet });
                    }
                }
                Stmt::ExpectMap(e) => {
                    open_run = None;
                    failed_send = false;
                    let Some(def) = self.map_def(&e.map, src).cloned() else {
                        continue;
                    };
                    let Some((key, _)) =
                        self.typed(&def.key, &e.key, src, Mode::Write, &format!("the key of `{}`", def.name))
                    else {
                        continue;
                    };
                    let what = entry_text(&def.name, &e.key, src);
                    let expected = match &e.expected {
                        None => None,
                        Some(v) => match &v.kind {
                            ValueKind::PerCpu(items) => {
                                if !def.is_per_cpu() {
                                    self.diags.push(
                                        Diag::new(
                                            "compile::not_per_cpu",
                                            src,
                                            v.span,
                                            format!("`{}` is a {} map, not per-CPU", def.name, def.type_name()),
                                        )
                                        .help("compare with one value"),
                                    );
                                    continue;
                                }
                                let mut masked = Vec::new();
                                for item in items {
                                    let Some((b, m)) = self.typed(&def.value, item, src, Mode::Check, &what) else {
                                        break;
                                    };
                                    masked.push(Masked { bytes: Bytes(b), mask: Bytes(m) });
                                }
                                if masked.len() != items.len() {
                                    continue;
                                }
                                Some(ExpectedValue::PerCpu(masked))
                            }
                            _ => {
                                let Some((b, m)) = self.typed(&def.value, v, src, Mode::Check, &what) else {
                                    continue;
                                };
                                let masked = Masked { bytes: Bytes(b), mask: Bytes(m) };
                                Some(if def.is_per_cpu() {
                                    ExpectedValue::Sum(masked)
                                } else {
                                    ExpectedValue::Exact(masked)
                                })
                            }
                        },
                    };
                    let (l, c) = src.line_col(e.span.start);
                    steps.push(Step::CheckMap {
                        map: def.name.clone(),
                        key: Bytes(key),
                        entry: what.trim_matches('`').to_string(),
                        expected,
                        layout: leaf_fields(&def.value),
                        source: format!("{}:{l}:{c}", src.name),
                    });
                }
            }
        }
        if run_count == 0 && self.diags.len() == before {
            self.diags.push(
                Diag::new(
                    "compile::no_send",
                    src,
                    s.name.span,
                    format!("scenario \"{}\" sends no packet", s.name.node),
                )
                .help("add `send PACKET` and an `expect`"),
            );
        }
        if self.diags.len() > before {
            return None;
        }
        Some((steps, packets, snapshot.is_some()))
    }

    fn action(&mut self, a: &ast::Spanned<String>, src: &SourceFile) -> Option<u32> {
        if let Ok(n) = a.node.parse::<u32>() {
            return Some(n);
        }
        if let Some(i) = XDP_ACTIONS.iter().position(|n| *n == a.node) {
            return Some(i as u32);
        }
        let help = match did_you_mean(&a.node, XDP_ACTIONS) {
            Some(m) => format!("did you mean {m}?"),
            None => format!("the actions are {}, or a number", one_of(&XDP_ACTIONS)),
        };
        self.diags.push(
            Diag::new("compile::unknown_action", src, a.span, format!("unknown XDP action `{}`", a.node)).help(help),
        );
        None
    }
}

/// `` `sessions[2]` ``: a map entry as the spec writes it, for messages and reports.
fn entry_text(map: &str, key: &ast::Value, src: &SourceFile) -> String {
    let key_text = src.text.get(key.span.start..key.span.end).unwrap_or("..");
    format!("`{map}[{}]`", key_text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Interface names used as map values (DEVMAP entries: `tx_ports[1] = eth1`) compile to this base plus
/// the interface's position in `env`; the runner, which creates the interfaces, replaces them with the
/// real ifindex. The base is far above any real ifindex.
pub const IFINDEX_PLACEHOLDER: u64 = 0x7ff0_0000;
