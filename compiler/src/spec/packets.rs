//! Named packets of a spec and its includes: collected once (duplicates and reserved names are errors),
//! evaluated lazily and at most once each, with cycle detection.

use std::collections::{BTreeMap, HashMap};

use xdptest_grammar::ast::{self, ItemKind, Span};

use super::files::Parsed;
use super::SpecCx;
use crate::diagnostic::{Diag, Reported, SourceFile};
use crate::lint;
use crate::packet::{encode_exact, encode_failure, Evaluator, Names, Packet, Role};

/// How many named packets one definition may go through (`p100 = p99`, `p99 = p98`, …): each level
/// recurses, and thousands overflow the stack. Real specs chain a few.
const MAX_CHAIN: usize = 100;

/// A named packet definition: its file and expression, and its value once evaluated. Cloned for the
/// threads that lower a large spec's scenarios (every slot is evaluated by then).
#[derive(Clone)]
pub(super) struct PacketSlot {
    file: usize,
    def: ast::PacketDef,
    state: SlotState,
}

#[derive(Clone)]
enum SlotState {
    Pending,
    InProgress,
    Done(Result<Packet, Reported>),
}

/// Every `packet` definition of every file. A name defined twice is an error (a shadowed name is a
/// trap), and so is a name that is already a layer or `input`.
pub(super) fn definitions(files: &[Parsed], diags: &mut Vec<Diag>) -> BTreeMap<String, PacketSlot> {
    let mut slots = BTreeMap::new();
    let mut first_def: HashMap<String, (usize, Span)> = HashMap::new();
    for (fi, f) in files.iter().enumerate() {
        for item in &f.ast.items {
            let ItemKind::Packet(def) = &item.kind else { continue };
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
            if let Some((pf, ps)) = first_def.get(name) {
                let (l, c) = files[*pf].src.line_col(ps.start);
                diags.push(
                    Diag::new(
                        "compile::duplicate_packet",
                        &f.src,
                        def.name.span,
                        format!("packet `{name}` is defined twice"),
                    )
                    .help(format!("first defined at {}:{l}:{c}", files[*pf].src.name)),
                );
                continue;
            }
            first_def.insert(name.to_string(), (fi, def.name.span));
            slots.insert(name.to_string(), PacketSlot { file: fi, def: def.clone(), state: SlotState::Pending });
        }
    }
    slots
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
    /// Evaluates every definition, also unused ones, so their errors show.
    pub(super) fn evaluate_all_packets(&mut self) {
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for name in names {
            let _ = self.packet(&name);
        }
    }

    /// The value of a named packet, evaluating it on first use.
    pub(super) fn packet(&mut self, name: &str) -> Option<Result<Packet, Reported>> {
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
        if self.packet_depth >= MAX_CHAIN {
            if !std::mem::replace(&mut self.chain_reported, true) {
                let src = &self.files[slot.file].src;
                self.diags.push(
                    Diag::new(
                        "compile::packet_chain",
                        src,
                        slot.def.name.span,
                        format!("packet `{name}` is reached through more than {MAX_CHAIN} named packets"),
                    )
                    .help(format!(
                        "a packet may build on packets that build on others, {MAX_CHAIN} deep at most: \
                         define the deep ones directly"
                    )),
                );
            }
            slot.state = SlotState::Done(Err(Reported));
            return Some(Err(Reported));
        }
        slot.state = SlotState::InProgress;
        let (file, expr) = (slot.file, slot.def.expr.clone());
        let src = self.files[file].src.clone();
        let mut local = Vec::new();
        self.packet_depth += 1;
        let result = {
            let mut scope = Scope { cx: self, input: None };
            let mut ev = Evaluator { src: &src, diags: &mut local, role: Role::Input };
            ev.eval(&expr, &mut scope)
        };
        self.packet_depth -= 1;
        // A cycle may already have settled this slot.
        let slot = self.slots.get_mut(name).expect("slot exists");
        if let SlotState::Done(r) = &slot.state {
            self.diags.extend(local);
            return Some(r.clone());
        }
        let result = match result {
            Ok(packet) => self.check_encodable(packet, &src, expr.span),
            Err(r) => Err(r),
        };
        self.diags.extend(local);
        self.slots.get_mut(name).expect("slot exists").state = SlotState::Done(result.clone());
        Some(result)
    }

    fn check_encodable(&mut self, packet: Packet, src: &SourceFile, span: Span) -> Result<Packet, Reported> {
        match encode_exact(&packet) {
            Ok(_) => {
                self.diags.extend(lint::packet(&packet, src, span));
                Ok(packet)
            }
            Err(e) => {
                self.diags.push(Diag::new("compile::encode", src, span, encode_failure(&packet, &e)));
                Err(Reported)
            }
        }
    }

    /// Evaluates a packet expression of a scenario; `input` is the packet of the preceding `send`.
    pub(super) fn eval(
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
}
