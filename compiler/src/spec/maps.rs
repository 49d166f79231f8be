//! Map statements: `map NAME[KEY] = VALUE` (at top level, a default written before every scenario) and
//! `expect map NAME[KEY] == VALUE | missing`, typed against the map's BTF layout.

use xdptest_grammar::ast::{self, ValueKind};

use super::SpecCx;
use crate::btf::{MapDef, TypeLayout};
use crate::diagnostic::{did_you_mean, one_of, Diag, SourceFile};
use crate::fixture::{
    Bytes, EntryPart, ExpectedValue, FieldRepr, IfaceSlot, MapKind, MapValue, Masked, ShownAs, Step, ValueField,
};
use crate::mapvalue::{leaf_fields, with_hints, Encoded, Mode, Typer};

impl SpecCx<'_> {
    /// The map a statement names, or a diagnostic with the object's map names.
    pub(super) fn map_def(&mut self, name: &ast::Ident, src: &SourceFile) -> Option<MapDef> {
        let object = self.object?;
        if let Some(m) = object.map(&name.node) {
            return Some(m.clone());
        }
        let names: Vec<&str> = object.maps.iter().map(|m| m.name.as_str()).collect();
        let help = match did_you_mean(&name.node, names.iter().copied()) {
            Some(m) => format!("did you mean `{m}`?"),
            None if names.is_empty() => "the program declares no maps".into(),
            None => format!("the program's maps: {}", one_of(&names)),
        };
        self.diags.push(
            Diag::new("compile::unknown_map", src, name.span, format!("the program has no map `{}`", name.node))
                .help(help),
        );
        None
    }

    /// The key of a statement on `def`: nothing for queues and stacks (`q[]`), else typed.
    fn key_of(&mut self, def: &MapDef, key: &ast::Value, src: &SourceFile) -> Option<Encoded> {
        let keyless = matches!(def.kind(), MapKind::Queue | MapKind::Stack);
        match (&key.kind, keyless) {
            (ValueKind::Nothing, true) => Some(Encoded::default()),
            (ValueKind::Nothing, false) => {
                self.diags.push(
                    Diag::new("compile::map_key", src, key.span, format!("`{}` needs a key", def.name)).help(format!(
                        "it is a {} map: write `{}[KEY]`",
                        def.type_name(),
                        def.name
                    )),
                );
                None
            }
            (_, true) => {
                self.diags.push(
                    Diag::new("compile::map_key", src, key.span, format!("`{}` has no keys", def.name)).help(format!(
                        "it is a {} map: `map {name}[] = V` pushes V, `expect map {name}[] == V` pops and compares",
                        def.type_name(),
                        name = def.name
                    )),
                );
                None
            }
            _ => self.typed(&def.key, key, src, Mode::Write, &format!("the key of `{}`", def.name)),
        }
    }

    /// `program NAME` or `map NAME` as the value of a PROG_ARRAY or map-of-maps entry.
    fn reference(&mut self, def: &MapDef, v: &ast::Value, src: &SourceFile) -> Option<Option<MapValue>> {
        let object = self.object?;
        match (&v.kind, def.kind()) {
            (ValueKind::ProgramRef(name), MapKind::ProgArray) => {
                let runnable: Vec<&str> =
                    object.programs.iter().filter(|p| p.class().runs_as_xdp()).map(|p| p.name.as_str()).collect();
                if !runnable.contains(&name.node.as_str()) {
                    let help = match did_you_mean(&name.node, runnable.iter().copied()) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => format!("its XDP programs: {}", one_of(&runnable)),
                    };
                    self.diags.push(
                        Diag::new(
                            "compile::unknown_program",
                            src,
                            name.span,
                            format!("the object has no XDP program `{}`", name.node),
                        )
                        .help(help),
                    );
                    return None;
                }
                self.also.insert(name.node.clone());
                Some(Some(MapValue::Program(name.node.clone())))
            }
            (ValueKind::MapRef(name), MapKind::ArrayOfMaps | MapKind::HashOfMaps) => {
                self.map_def(name, src)?;
                Some(Some(MapValue::Map(name.node.clone())))
            }
            (ValueKind::XskRef { iface, queue }, MapKind::Xskmap) => {
                if !self.iface_names.iter().any(|n| n == &iface.node) {
                    let help = match did_you_mean(&iface.node, self.iface_names.iter().map(String::as_str)) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None if self.iface_names.is_empty() => {
                            "an AF_XDP socket is bound to an interface of the spec's network stage: declare it in \
                             `env` (`link eth0 veth peer eth0p`) and send with `ingress eth0`"
                                .into()
                        }
                        None => {
                            let names: Vec<&str> = self.iface_names.iter().map(String::as_str).collect();
                            format!("the `env` interfaces: {}", one_of(&names))
                        }
                    };
                    self.diags.push(
                        Diag::new(
                            "compile::map_value",
                            src,
                            iface.span,
                            format!("`{}` is not an interface of the spec's `env`", iface.node),
                        )
                        .help(help),
                    );
                    return None;
                }
                let queue = match queue {
                    Some(q) if q.node > 0 => {
                        self.diags.push(
                            Diag::new("compile::map_value", src, q.span, format!("queue {} does not exist", q.node))
                                .help("interfaces created by `env` have one receive queue, number 0"),
                        );
                        return None;
                    }
                    _ => 0,
                };
                Some(Some(MapValue::Xsk { iface: iface.node.clone(), queue }))
            }
            (_, MapKind::Xskmap) => {
                self.diags.push(
                    Diag::new("compile::map_value", src, v.span, format!("`{}` holds AF_XDP sockets", def.name)).help(
                        format!(
                        "write `map {}[KEY] = xsk IFACE`: xdptest opens a socket on queue 0 of that `env` interface",
                        def.name
                    ),
                    ),
                );
                None
            }
            (ValueKind::ProgramRef(_) | ValueKind::MapRef(_) | ValueKind::XskRef { .. }, kind) => {
                let what = match v.kind {
                    ValueKind::ProgramRef(_) => "a program",
                    ValueKind::MapRef(_) => "a map",
                    _ => "an AF_XDP socket",
                };
                self.diags.push(
                    Diag::new(
                        "compile::map_value",
                        src,
                        v.span,
                        format!("`{}` is a {} map: its values are not {what}", def.name, kind.name()),
                    )
                    .help(
                        "`program NAME` goes into PROG_ARRAY maps, `map NAME` into ARRAY_OF_MAPS and HASH_OF_MAPS, \
                         `xsk IFACE` into XSKMAP",
                    ),
                );
                None
            }
            (_, MapKind::ProgArray) => {
                self.diags.push(
                    Diag::new("compile::map_value", src, v.span, format!("`{}` holds programs", def.name))
                        .help(format!("write `map {}[KEY] = program NAME`", def.name)),
                );
                None
            }
            (_, MapKind::ArrayOfMaps | MapKind::HashOfMaps) => {
                self.diags.push(
                    Diag::new("compile::map_value", src, v.span, format!("`{}` holds maps", def.name))
                        .help(format!("write `map {}[KEY] = map NAME`", def.name)),
                );
                None
            }
            _ => Some(None),
        }
    }

    /// `map NAME[KEY] = VALUE`.
    pub(super) fn map_set(&mut self, m: &ast::MapSet, src: &SourceFile) -> Option<Step> {
        let def = self.map_def(&m.map, src)?;
        let key = self.key_of(&def, &m.key, src)?;
        self.index_in_range(&def, &key, &m.key, src)?;
        let entry = entry_text(&def.name, &m.key, src);
        let mut ifaces = slots(EntryPart::Key, &key);
        let mut shown = shown_as(EntryPart::Key, &key, &def.key);
        if let Some(value) = self.reference(&def, &m.value, src)? {
            return Some(Step::SetMap {
                map: def.name.clone(),
                key: Bytes(key.bytes),
                value,
                ifaces,
                location: src.location(m.span),
                shown,
            });
        }
        let value = match &m.value.kind {
            ValueKind::PerCpu(items) => {
                self.require_per_cpu(&def, &m.value, src, "give one value")?;
                let mut values = Vec::new();
                for (cpu, v) in items.iter().enumerate() {
                    let e = self.typed(&def.value, v, src, Mode::Write, &entry)?;
                    ifaces.extend(slots(EntryPart::CpuValue(cpu as u32), &e));
                    shown.extend(shown_as(EntryPart::CpuValue(cpu as u32), &e, &def.value));
                    values.push(Bytes(e.bytes));
                }
                MapValue::PerCpu(values)
            }
            _ => {
                let e = self.typed(&def.value, &m.value, src, Mode::Write, &entry)?;
                ifaces.extend(slots(EntryPart::Value, &e));
                shown.extend(shown_as(EntryPart::Value, &e, &def.value));
                MapValue::All(Bytes(e.bytes))
            }
        };
        Some(Step::SetMap {
            map: def.name.clone(),
            key: Bytes(key.bytes),
            value,
            ifaces,
            location: src.location(m.span),
            shown,
        })
    }

    /// `expect map NAME[KEY] == VALUE` or `... missing`.
    pub(super) fn expect_map(&mut self, e: &ast::ExpectMap, src: &SourceFile) -> Option<Step> {
        let def = self.map_def(&e.map, src)?;
        let key = self.key_of(&def, &e.key, src)?;
        let what = entry_text(&def.name, &e.key, src);
        let mut ifaces = slots(EntryPart::Key, &key);
        let mut hints = Vec::new();
        let expected = match &e.expected {
            None => None,
            Some(v) => Some(match &v.kind {
                ValueKind::PerCpu(items) => {
                    self.require_per_cpu(&def, v, src, "compare with one value")?;
                    let mut masked = Vec::new();
                    for (cpu, item) in items.iter().enumerate() {
                        let enc = self.typed(&def.value, item, src, Mode::Check, &what)?;
                        ifaces.extend(slots(EntryPart::CpuValue(cpu as u32), &enc));
                        hints.extend(enc.hints.iter().cloned());
                        masked.push(Masked { bytes: Bytes(enc.bytes), mask: Bytes(enc.mask) });
                    }
                    ExpectedValue::PerCpu(masked)
                }
                _ => {
                    let enc = self.typed(&def.value, v, src, Mode::Check, &what)?;
                    ifaces.extend(slots(EntryPart::Value, &enc));
                    hints.extend(enc.hints.iter().cloned());
                    let masked = Masked { bytes: Bytes(enc.bytes), mask: Bytes(enc.mask) };
                    if def.is_per_cpu() {
                        ExpectedValue::Sum(masked)
                    } else {
                        ExpectedValue::Exact(masked)
                    }
                }
            }),
        };
        Some(Step::CheckMap {
            map: def.name.clone(),
            key: Bytes(key.bytes),
            entry: what.trim_matches('`').to_string(),
            expected,
            layout: with_hints(leaf_fields(&def.value), &hints),
            ifaces,
            source: src.location(e.span),
        })
    }

    /// Maps indexed `0..max_entries` (arrays, PROG_ARRAY, DEVMAP, CPUMAP, ARRAY_OF_MAPS) refuse writes
    /// past their end: say so here rather than as the kernel's `E2BIG` at run time.
    fn index_in_range(&mut self, def: &MapDef, key: &Encoded, v: &ast::Value, src: &SourceFile) -> Option<()> {
        let indexed = def.kind().is_array()
            || matches!(def.kind(), MapKind::ProgArray | MapKind::ArrayOfMaps | MapKind::Devmap | MapKind::Cpumap);
        let Ok(bytes) = <[u8; 4]>::try_from(key.bytes.as_slice()) else { return Some(()) };
        // Interface names are placeholders until the stage exists: their index is not known yet.
        if !indexed || def.max_entries == 0 || !key.ifaces.is_empty() {
            return Some(());
        }
        let index = u32::from_le_bytes(bytes);
        if index < def.max_entries {
            return Some(());
        }
        self.diags.push(
            Diag::new(
                "compile::map_key",
                src,
                v.span,
                format!(
                    "index {index} is out of range: `{}` has {} {}",
                    def.name,
                    def.max_entries,
                    if def.max_entries == 1 { "entry" } else { "entries" }
                ),
            )
            .help(format!(
                "its indexes are 0 to {} (max_entries {})",
                def.max_entries - 1,
                def.max_entries
            )),
        );
        None
    }

    fn require_per_cpu(&mut self, def: &MapDef, v: &ast::Value, src: &SourceFile, help: &str) -> Option<()> {
        if def.is_per_cpu() {
            return Some(());
        }
        self.diags.push(
            Diag::new(
                "compile::not_per_cpu",
                src,
                v.span,
                format!("`{}` is a {} map, not per-CPU", def.name, def.type_name()),
            )
            .help(help),
        );
        None
    }

    fn typed(&mut self, ty: &TypeLayout, v: &ast::Value, src: &SourceFile, mode: Mode, what: &str) -> Option<Encoded> {
        let mut typer = Typer { src, diags: self.diags, mode, ifaces: self.iface_names };
        typer.encode(ty, v, what).ok()
    }
}

/// The interface slots of one encoded part of an entry.
fn slots(part: EntryPart, e: &Encoded) -> Vec<IfaceSlot> {
    e.ifaces
        .iter()
        .map(|(offset, size, iface)| IfaceSlot { part, offset: *offset, size: *size, iface: iface.clone() })
        .collect()
}

/// How the spec wrote the fields of one encoded part of an entry (of type `ty`), where that says more
/// than their type: an address in a `__u32`, not in a `__be32`.
fn shown_as(part: EntryPart, e: &Encoded, ty: &TypeLayout) -> Vec<ShownAs> {
    let natural = leaf_fields(ty);
    e.hints
        .iter()
        .filter(|&&(offset, size, repr)| {
            // A four-byte big-endian field is shown as an IPv4 address anyway.
            let same = |f: &ValueField| {
                f.kind == repr || (f.kind == FieldRepr::BigEndian && f.size == 4 && repr == FieldRepr::Ipv4)
            };
            !natural.iter().any(|f| f.offset == offset && f.size == size && same(f))
        })
        .map(|&(offset, size, repr)| ShownAs { part, offset, size, repr })
        .collect()
}

/// `` `sessions[2]` ``: a map entry as the spec writes it, for messages and reports.
fn entry_text(map: &str, key: &ast::Value, src: &SourceFile) -> String {
    let key_text = src.text.get(key.span.start..key.span.end).unwrap_or("..");
    format!("`{map}[{}]`", key_text.split_whitespace().collect::<Vec<_>>().join(" "))
}
