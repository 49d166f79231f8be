//! Global variables: `global NAME = VALUE` and `expect global NAME == VALUE`, typed against the
//! variable's BTF. A `.rodata` variable (`const volatile` configuration) is part of the load: it goes
//! into the [`Program`](crate::fixture::Program) as a [`GlobalInit`]. A `.data` or `.bss` variable is
//! bytes of the one value of its section's array map: written as a [`MapValue::Patch`], checked as a
//! [`Step::CheckMap`] whose mask covers just the variable.

use xdptest_grammar::ast;

use super::SpecCx;
use crate::btf::GlobalVar;
use crate::diagnostic::{did_you_mean, one_of, Diag, SourceFile};
use crate::fixture::{Bytes, ExpectedValue, GlobalInit, MapValue, Masked, Step, ValueField};
use crate::mapvalue::{leaf_fields, with_hints, Mode, Typer};

/// What setting a global amounts to.
pub(super) enum GlobalWrite {
    /// A `.rodata` value, fixed at load.
    Rodata(GlobalInit),
    /// A write to a `.data`/`.bss` variable.
    Step(Box<Step>),
}

impl SpecCx<'_> {
    /// The global a statement names, or a diagnostic listing the object's.
    fn global_def(&mut self, name: &ast::Ident, src: &SourceFile) -> Option<GlobalVar> {
        let object = self.object?;
        if let Some(g) = object.global(&name.node) {
            return Some(g.clone());
        }
        let names: Vec<&str> = object.globals.iter().map(|g| g.name.as_str()).collect();
        let help = match did_you_mean(&name.node, names.iter().copied()) {
            Some(m) => format!("did you mean `{m}`?"),
            None if names.is_empty() => "the program has no global variables (.rodata, .data, .bss)".into(),
            None => format!("its globals: {}", one_of(&names)),
        };
        self.diags.push(
            Diag::new("compile::unknown_global", src, name.span, format!("the program has no global `{}`", name.node))
                .help(help),
        );
        None
    }

    /// `global NAME = VALUE`.
    pub(super) fn global_set(&mut self, g: &ast::GlobalSet, src: &SourceFile) -> Option<GlobalWrite> {
        let var = self.global_def(&g.name, src)?;
        let what = format!("global `{}`", var.name);
        let mut typer = Typer { src, diags: self.diags, mode: Mode::Write, ifaces: &[] };
        let enc = typer.encode(&var.ty, &g.value, &what).ok()?;
        if var.is_rodata() {
            return Some(GlobalWrite::Rodata(GlobalInit { name: var.name.clone(), bytes: Bytes(enc.bytes) }));
        }
        Some(GlobalWrite::Step(Box::new(Step::SetMap {
            map: var.section.clone(),
            key: Bytes(0u32.to_le_bytes().to_vec()),
            value: MapValue::Patch { offset: var.offset, bytes: Bytes(enc.bytes) },
            ifaces: Vec::new(),
            location: src.location(g.span),
            shown: Vec::new(),
        })))
    }

    /// `expect global NAME == VALUE`.
    pub(super) fn expect_global(&mut self, e: &ast::ExpectGlobal, src: &SourceFile) -> Option<Step> {
        let var = self.global_def(&e.name, src)?;
        if var.is_rodata() {
            self.diags.push(
                Diag::new(
                    "compile::rodata_check",
                    src,
                    e.name.span,
                    format!("`{}` is read-only (`{}`): the program cannot change it", var.name, var.section),
                )
                .help("check `.data` and `.bss` variables, which the program writes"),
            );
            return None;
        }
        let size = self.object?.data_sections.iter().find(|(n, _)| *n == var.section).map(|(_, s)| *s)?;
        let what = format!("global `{}`", var.name);
        let mut typer = Typer { src, diags: self.diags, mode: Mode::Check, ifaces: &[] };
        let enc = typer.encode(&var.ty, &e.expected, &what).ok()?;
        let (at, len) = (var.offset as usize, enc.bytes.len());
        let mut bytes = vec![0u8; size as usize];
        let mut mask = vec![0u8; size as usize];
        bytes.get_mut(at..at + len)?.copy_from_slice(&enc.bytes);
        mask.get_mut(at..at + len)?.copy_from_slice(&enc.mask);
        // The variable's fields, named after it, at their place in the section.
        let layout: Vec<ValueField> = with_hints(leaf_fields(&var.ty), &enc.hints)
            .into_iter()
            .map(|f| ValueField {
                name: if f.name.is_empty() { var.name.clone() } else { format!("{}.{}", var.name, f.name) },
                offset: f.offset + var.offset,
                ..f
            })
            .collect();
        Some(Step::CheckMap {
            map: var.section.clone(),
            key: Bytes(0u32.to_le_bytes().to_vec()),
            entry: format!("global {}", var.name),
            expected: Some(ExpectedValue::Exact(Masked { bytes: Bytes(bytes), mask: Bytes(mask) })),
            layout,
            ifaces: Vec::new(),
            source: src.location(e.span),
        })
    }
}
