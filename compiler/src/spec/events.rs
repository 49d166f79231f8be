//! Events a program emits through a perf event array or a ring buffer: `expect event MAP [as struct
//! NAME] == VALUE [+ packet(N)]` and `expect no event [MAP]`. Neither map kind says what its records
//! are, and clang emits BTF only for types that reach a global or a function argument, so the spec
//! names the record's struct; a struct the object's BTF lacks is a located error, with raw bytes as
//! the way out.

use xdptest_grammar::ast::{self, Span};

use super::SpecCx;
use crate::btf::TypeLayout;
use crate::diagnostic::{did_you_mean, Diag, SourceFile};
use crate::fixture::{Bytes, ExpectedEvent, MapKind, Masked, Step};
use crate::mapvalue::{leaf_fields, with_hints, Mode, Typer};

impl SpecCx<'_> {
    /// The struct `name` of the object's BTF, or a diagnostic saying why it may be missing.
    pub(super) fn record_type(&mut self, name: &ast::Ident, src: &SourceFile) -> Option<TypeLayout> {
        let object = self.object?;
        if let Some(t) = object.struct_type(&name.node) {
            return Some(t.clone());
        }
        let names: Vec<&str> = object.structs.iter().map(|(n, _)| n.as_str()).collect();
        let why = format!(
            "clang writes BTF only for types that reach a global variable or a function's arguments, so a \
             struct used only as a local is not in the object: give the record as hex\"...\", or make the \
             type reach BTF (`struct {} *unused __attribute__((unused));`)",
            name.node
        );
        let help = match did_you_mean(&name.node, names.iter().copied()) {
            Some(m) => format!("did you mean `{m}`? If `{}` is right: {why}", name.node),
            None => why,
        };
        self.diags.push(
            Diag::new(
                "compile::unknown_struct",
                src,
                name.span,
                format!("the object's BTF has no `struct {}`", name.node),
            )
            .help(help),
        );
        None
    }

    /// An event map a statement names: a perf event array or a ring buffer.
    fn event_map(&mut self, name: &ast::Ident, src: &SourceFile) -> Option<String> {
        let def = self.map_def(name, src)?;
        if matches!(def.kind(), MapKind::PerfEventArray | MapKind::Ringbuf) {
            return Some(def.name.clone());
        }
        self.diags.push(
            Diag::new(
                "compile::not_event_map",
                src,
                name.span,
                format!("`{}` is a {} map, not a perf event array or ring buffer", def.name, def.type_name()),
            )
            .help("events come from BPF_MAP_TYPE_PERF_EVENT_ARRAY (bpf_perf_event_output) or BPF_MAP_TYPE_RINGBUF"),
        );
        None
    }

    /// `expect event MAP [as struct NAME] == VALUE [+ packet(N)]`.
    pub(super) fn expect_event(&mut self, e: &ast::ExpectEvent, src: &SourceFile) -> Option<Step> {
        let map = self.event_map(&e.map, src)?;
        let (record, layout) = match &e.record {
            Some(name) => {
                let ty = self.record_type(name, src)?;
                let mut typer = Typer { src, diags: self.diags, mode: Mode::Check, ifaces: &[] };
                let enc = typer.encode(&ty, &e.expected, &format!("the `{}` record", name.node)).ok()?;
                let layout = with_hints(leaf_fields(&ty), &enc.hints);
                (Masked { bytes: Bytes(enc.bytes), mask: Bytes(enc.mask) }, layout)
            }
            None => match &e.expected.kind {
                ast::ValueKind::Bytes(b) => (Masked::exact(b.clone()), Vec::new()),
                other => {
                    self.diags.push(
                        Diag::new(
                            "compile::event_value",
                            src,
                            e.expected.span,
                            format!("a record without a type is bytes, found {}", other.describe()),
                        )
                        .help(format!("name its type: `expect event {} as struct NAME == {{ ... }}`", e.map.node)),
                    );
                    return None;
                }
            },
        };
        let packet = e.packet.as_ref().map(|p| p.node.min(u32::MAX.into()) as u32);
        Some(Step::CheckEvent {
            map,
            expected: Some(ExpectedEvent { record, layout, packet }),
            source: src.location(e.span),
        })
    }

    /// `expect no event [MAP]`: no record left (of that map, or of any).
    pub(super) fn expect_no_event(&mut self, map: Option<&ast::Ident>, span: Span, src: &SourceFile) -> Option<Step> {
        let map = match map {
            Some(m) => self.event_map(m, src)?,
            None => String::new(),
        };
        Some(Step::CheckEvent { map, expected: None, source: src.location(span) })
    }
}
