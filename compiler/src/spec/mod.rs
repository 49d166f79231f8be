//! One spec file → its fixtures. The steps, one module each: reading the spec and its includes
//! ([`files`]), the `program` line and the object it names ([`program`]), named packets ([`packets`]),
//! map statements ([`maps`]), and lowering each scenario ([`scenario`]). Errors are collected, never
//! thrown: one pass reports all of them.

mod events;
mod files;
mod globals;
mod maps;
mod packets;
mod program;
mod scenario;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use xdptest_grammar::ast::{ItemKind, Span};

pub use files::{FsLoader, Loader, Refusal, MAX_FILE};

use crate::btf::ObjectInfo;
use crate::diagnostic::{error_count, Diag, SourceFile};
use crate::env;
use crate::fixture::{slug, EnvDecl, EnvItem, Fixture, Step};
use crate::pcap::PcapPacket;
use files::Parsed;
use packets::PacketSlot;

/// A compiled spec file.
#[derive(Debug, Clone)]
pub struct CompiledSpec {
    /// The path as the user gave it (or as found under a given directory).
    pub path: PathBuf,
    pub fixtures: Vec<Fixture>,
    /// Every packet sent or expected, in scenario order, for the pcap.
    pub packets: Vec<PcapPacket>,
}

/// What lowering a spec's parts needs: the parsed files, named packets, the object and the stage.
struct SpecCx<'a> {
    files: &'a [Parsed],
    slots: BTreeMap<String, PacketSlot>,
    object: Option<&'a ObjectInfo>,
    diags: &'a mut Vec<Diag>,
    /// Interfaces the spec's `env` declares: names that may stand for ifindexes in map entries.
    iface_names: &'a [String],
    /// Whether the program takes multi-buffer frames (`None`: the program is unknown).
    program_frags: Option<bool>,
    /// Other programs of the object that map values or sends name: loaded with the spec's.
    also: std::collections::BTreeSet<String>,
    /// `.rodata` values set at top level (for every scenario's load).
    rodata: Vec<crate::fixture::GlobalInit>,
    /// A scenario sets the clock or the random numbers (`clock`, `random`).
    controls: bool,
    /// Named packets being evaluated through one another right now (`p2 = p1 / …`, `p1 = p0 / …`).
    packet_depth: usize,
    /// Whether a chain of named packets too long to follow was reported (once per spec).
    chain_reported: bool,
}

/// Compiles one spec file. `path` is shown in messages and stored in fixtures as given.
pub fn compile_spec(path: &Path, loader: &mut dyn Loader, diags: &mut Vec<Diag>) -> Option<CompiledSpec> {
    let before = error_count(diags);
    let files = files::load_all(path, loader, diags);
    if files.is_empty() || error_count(diags) > before {
        return None;
    }
    let main = &files[0];
    let slots = packets::definitions(&files, diags);
    let base_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let (program, object) = match program::program_line(&files, diags) {
        Some(p) => program::resolve(p, &base_dir, &main.src, loader, diags),
        None => (None, None),
    };
    let env: Vec<EnvDecl> = main
        .ast
        .items
        .iter()
        .filter_map(|i| if let ItemKind::Env(stmts) = &i.kind { Some(stmts) } else { None })
        .flat_map(|stmts| env::lower(stmts, &main.src, diags))
        .collect();
    let iface_names: Vec<String> = env
        .iter()
        .filter_map(|e| if let EnvItem::Link { name, .. } = &e.item { Some(name.clone()) } else { None })
        .collect();
    let program_frags = program.as_ref().map(|p| p.frags);
    let mut cx = SpecCx {
        files: &files,
        slots,
        object: object.as_ref(),
        diags,
        iface_names: &iface_names,
        program_frags,
        also: Default::default(),
        rodata: Vec::new(),
        controls: false,
        packet_depth: 0,
        chain_reported: false,
    };
    let defaults = cx.map_defaults();
    cx.evaluate_all_packets();
    let (fixtures, packets) = cx.scenarios(path, program, Arc::new(env), &defaults);
    if error_count(diags) > before {
        return None;
    }
    Some(CompiledSpec { path: path.to_path_buf(), fixtures, packets })
}

/// Named packets by name: their bytes, or why one does not encode.
pub type NamedPackets = BTreeMap<String, Result<Vec<u8>, String>>;

/// A `packet` definition of a spec or of a file it includes, evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPacket {
    pub name: String,
    /// Its `##` doc comment lines.
    pub docs: Vec<String>,
    /// The file that defines it, as the spec names it (the spec itself first).
    pub file: String,
    /// Its bytes, or why it does not encode.
    pub bytes: Result<Vec<u8>, String>,
    /// What the definition states, layer by layer.
    pub written: Vec<crate::fixture::WrittenLayer>,
}

/// Every named packet of a spec and its includes, in file order (the spec's own first), without
/// compiling scenarios or reading the program: what `xdptest doc` shows as a spec's shared packets.
/// `Err` holds the diagnostics when the files do not parse or a definition does not check.
pub fn named_packets(path: &Path, loader: &mut dyn Loader) -> Result<Vec<NamedPacket>, Vec<Diag>> {
    let mut diags = Vec::new();
    let files = files::load_all(path, loader, &mut diags);
    if files.is_empty() || error_count(&diags) > 0 {
        return Err(diags);
    }
    let slots = packets::definitions(&files, &mut diags);
    let mut order: Vec<(String, Vec<String>, String)> = Vec::new();
    for f in &files {
        for item in &f.ast.items {
            if let ItemKind::Packet(def) = &item.kind {
                if slots.contains_key(&def.name.node) && !order.iter().any(|(n, ..)| *n == def.name.node) {
                    order.push((def.name.node.clone(), item.docs.clone(), f.src.name.clone()));
                }
            }
        }
    }
    let mut cx = SpecCx {
        files: &files,
        slots,
        object: None,
        diags: &mut diags,
        iface_names: &[],
        program_frags: None,
        also: Default::default(),
        rodata: Vec::new(),
        controls: false,
        packet_depth: 0,
        chain_reported: false,
    };
    let mut out = Vec::new();
    for (name, docs, file) in order {
        let (bytes, written) = match cx.packet(&name) {
            Some(Ok(packet)) => {
                (crate::packet::encode_exact(&packet).map_err(|e| e.to_string()), crate::packet::written(&packet))
            }
            _ => (Err("it does not compile".to_string()), Vec::new()),
        };
        out.push(NamedPacket { name, docs, file, bytes, written });
    }
    if error_count(&diags) > 0 {
        return Err(diags);
    }
    Ok(out)
}

/// Every named packet of one spec text (no `include`, no program), encoded: what `xdptest import`
/// uses to prove that the definitions it wrote mean exactly the captured bytes. `Err` holds the
/// diagnostics when the text does not parse or check; a packet that fails alone is `Err(message)`.
pub fn packet_definitions_of_text(name: &str, text: &str) -> Result<NamedPackets, Vec<Diag>> {
    /// Serves the one text and nothing else.
    struct OneText<'t>(&'t Path, &'t str);
    impl Loader for OneText<'_> {
        fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
            if path == self.0 {
                Ok(self.1.as_bytes().to_vec())
            } else {
                Err(std::io::Error::new(std::io::ErrorKind::NotFound, "an imported file includes nothing"))
            }
        }
    }
    let path = Path::new(name);
    let packets = named_packets(path, &mut OneText(path, text))?;
    Ok(packets.into_iter().map(|p| (p.name, p.bytes)).collect())
}

impl SpecCx<'_> {
    /// Map defaults: top-level `map` items of included files, then of the spec, before every scenario.
    fn map_defaults(&mut self) -> Vec<Step> {
        let files = self.files;
        let mut defaults = Vec::new();
        for f in files.iter().rev() {
            for item in &f.ast.items {
                match &item.kind {
                    ItemKind::Map(m) => defaults.extend(self.map_set(m, &f.src)),
                    ItemKind::Global(g) => match self.global_set(g, &f.src) {
                        Some(globals::GlobalWrite::Rodata(init)) => {
                            self.rodata.retain(|r| r.name != init.name);
                            self.rodata.push(init);
                        }
                        Some(globals::GlobalWrite::Step(step)) => defaults.push(*step),
                        None => {}
                    },
                    _ => {}
                }
            }
        }
        defaults
    }

    /// Every scenario of the spec, lowered (those with errors are left out, their errors reported).
    fn scenarios(
        &mut self,
        path: &Path,
        program: Option<Arc<crate::fixture::Program>>,
        env: Arc<Vec<EnvDecl>>,
        defaults: &[Step],
    ) -> (Vec<Fixture>, Vec<PcapPacket>) {
        let main = &self.files[0];
        let mut fixtures = Vec::new();
        let mut packets = Vec::new();
        let mut rodata = Vec::new();
        let mut names = Names::default();
        let mut selected = Vec::new();
        for item in &main.ast.items {
            let ItemKind::Scenario(s) = &item.kind else { continue };
            if names.unique(&s.name.node, s.name.span, &main.src, self.diags) {
                selected.push((item, s));
            }
        }
        let lowered = self.lower_all(&selected, &main.src, defaults);
        for ((item, s), lowered) in selected.into_iter().zip(lowered) {
            let Some(lowered) = lowered else { continue };
            let Some(program) = &program else { continue };
            fixtures.push(Fixture {
                spec: path.display().to_string(),
                scenario: s.name.node.clone(),
                location: main.src.location(s.name.span),
                description: item.docs.join("\n"),
                program: program.clone(),
                env: env.clone(),
                steps: lowered.steps,
                snapshot: lowered.snapshot,
            });
            rodata.push(lowered.rodata);
            packets.extend(lowered.packets);
        }
        // Every scenario loads the programs any part of the spec uses, with the spec's `.rodata` values
        // and its own on top; scenarios with the same values share one program (and one load).
        let mut loads: HashMap<Vec<crate::fixture::GlobalInit>, Arc<crate::fixture::Program>> = HashMap::new();
        let also: Vec<String> =
            self.also.iter().filter(|n| program.as_ref().is_some_and(|p| p.name != **n)).cloned().collect();
        for (f, own) in fixtures.iter_mut().zip(rodata) {
            let mut values = self.rodata.clone();
            for init in own {
                values.retain(|r| r.name != init.name);
                values.push(init);
            }
            values.sort_by(|a, b| a.name.cmp(&b.name));
            let base = &f.program;
            f.program = loads
                .entry(values.clone())
                .or_insert_with(|| {
                    Arc::new(crate::fixture::Program {
                        also: also.clone(),
                        rodata: values,
                        controls: self.controls,
                        ..(**base).clone()
                    })
                })
                .clone();
        }
        (fixtures, packets)
    }
}

/// Specs with at least this many scenarios lower them on several threads.
const PARALLEL_SCENARIOS: usize = 256;

impl SpecCx<'_> {
    /// Lowers `scenarios` in order. A large spec is cut into runs of scenarios lowered in parallel,
    /// each by a copy of this context with its own diagnostics; the copies' findings are merged back
    /// in scenario order, so messages, fixtures and the programs to load are those of one pass.
    fn lower_all(
        &mut self,
        scenarios: &[(&xdptest_grammar::ast::Item, &xdptest_grammar::ast::Scenario)],
        src: &SourceFile,
        defaults: &[Step],
    ) -> Vec<Option<scenario::Lowered>> {
        use rayon::prelude::*;
        if scenarios.len() < PARALLEL_SCENARIOS || rayon::current_num_threads() < 2 {
            return scenarios.iter().map(|(_, s)| self.scenario(s, src, defaults)).collect();
        }
        let per = scenarios.len().div_ceil(4 * rayon::current_num_threads()).max(PARALLEL_SCENARIOS / 4);
        let this = &*self;
        let parts: Vec<_> = scenarios
            .par_chunks(per)
            .map(|part| {
                let mut diags = Vec::new();
                let mut cx = SpecCx {
                    files: this.files,
                    slots: this.slots.clone(),
                    object: this.object,
                    diags: &mut diags,
                    iface_names: this.iface_names,
                    program_frags: this.program_frags,
                    also: Default::default(),
                    rodata: this.rodata.clone(),
                    controls: false,
                    packet_depth: 0,
                    chain_reported: this.chain_reported,
                };
                let lowered: Vec<_> = part.iter().map(|(_, s)| cx.scenario(s, src, defaults)).collect();
                let SpecCx { also, controls, chain_reported, .. } = cx;
                (lowered, diags, also, controls, chain_reported)
            })
            .collect();
        let mut out = Vec::with_capacity(scenarios.len());
        for (lowered, diags, also, controls, chain_reported) in parts {
            out.extend(lowered);
            self.diags.extend(diags);
            self.also.extend(also);
            self.controls |= controls;
            self.chain_reported |= chain_reported;
        }
        out
    }
}

/// Scenario names seen so far: names identify scenarios in reports and filters, and name their fixture
/// and snapshot files, so two scenarios may share neither.
#[derive(Default)]
struct Names {
    seen: HashMap<String, Span>,
    slugs: HashMap<String, String>,
}

impl Names {
    fn unique(&mut self, name: &str, span: Span, src: &SourceFile, diags: &mut Vec<Diag>) -> bool {
        if let Some(first) = self.seen.get(name) {
            let (l, c) = src.line_col(first.start);
            diags.push(
                Diag::new("compile::duplicate_scenario", src, span, format!("two scenarios are named \"{name}\""))
                    .help(format!(
                        "the first is at line {l}, column {c}; names identify scenarios in reports and filters"
                    )),
            );
            return false;
        }
        self.seen.insert(name.to_string(), span);
        let file_name = slug(name);
        if let Some(other) = self.slugs.get(&file_name) {
            diags.push(
                Diag::new(
                    "compile::fixture_name_clash",
                    src,
                    span,
                    format!("scenarios \"{other}\" and \"{name}\" would both compile to {file_name}.ron"),
                )
                .help("fixture files are named after scenarios (letters and digits, the rest as `-`): rename one"),
            );
            return false;
        }
        self.slugs.insert(file_name, name.to_string());
        true
    }
}
