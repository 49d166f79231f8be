//! Map keys and values: `.pkt` literals typed against the layout the program's BTF declares, turned into
//! the exact bytes the kernel stores (host-order integers, network-order `__be*` fields and addresses,
//! LPM prefixes), with a mask for the fields an assertion leaves open, the places where interface names
//! stand for ifindexes, and how each field was written (for readable differences).

use xdptest_grammar::ast::{Value, ValueKind};

use crate::btf::{Member, TypeLayout};
use crate::diagnostic::{did_you_mean, Diag, Reported, SourceFile};
use crate::fixture::{FieldRepr, ValueField};

/// Writing a value (omitted struct fields are zero) or checking one (omitted fields are not checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

pub struct Typer<'a> {
    pub src: &'a SourceFile,
    pub diags: &'a mut Vec<Diag>,
    pub mode: Mode,
    /// Interface names that may stand for an integer field (their ifindex, which the runner fills in):
    /// the links the spec's `env` declares. Any other name is an error.
    pub ifaces: &'a [String],
}

/// Encoded bytes plus a mask (0 bits are not checked), and what the runner and reporters need to know
/// about them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub mask: Vec<u8>,
    /// Interface names: (offset, size, name) of each integer the runner fills with an ifindex.
    pub ifaces: Vec<(u32, u32, String)>,
    /// How fields were written where that differs from their declared type: (offset, size, repr).
    pub hints: Vec<(u32, u32, FieldRepr)>,
}

impl Typer<'_> {
    /// Encodes `value` as `ty`; `what` names the thing for messages ("key of `sessions`").
    pub fn encode(&mut self, ty: &TypeLayout, value: &Value, what: &str) -> Result<Encoded, Reported> {
        let size = ty.size() as usize;
        let mut out = Encoded { bytes: vec![0; size], mask: vec![0xff; size], ..Encoded::default() };
        self.write(ty, value, what, &mut out, 0)?;
        Ok(out)
    }

    fn err(&mut self, value: &Value, msg: String) -> &mut Diag {
        self.diags.push(Diag::new("compile::map_value", self.src, value.span, msg));
        self.diags.last_mut().unwrap()
    }

    fn write(
        &mut self,
        ty: &TypeLayout,
        value: &Value,
        what: &str,
        out: &mut Encoded,
        at: usize,
    ) -> Result<(), Reported> {
        let size = ty.size() as usize;
        if let ValueKind::Wildcard = value.kind {
            if self.mode == Mode::Write {
                self.err(value, "a wildcard `*` can only be used in `expect map`".into()).help =
                    Some("a written value needs every byte; omit a struct field to write zero".into());
                return Err(Reported);
            }
            out.mask[at..at + size].fill(0);
            return Ok(());
        }
        // Raw bytes of the right size are accepted for any type: the always-available fallback.
        if let ValueKind::Bytes(b) = &value.kind {
            if b.len() == size {
                out.bytes[at..at + size].copy_from_slice(b);
                return Ok(());
            }
            if !matches!(ty, TypeLayout::Array { .. }) {
                self.err(value, format!("{what} is {size} bytes, this byte string has {}", b.len())).help =
                    Some(format!("the type is `{}`", ty.describe()));
                return Err(Reported);
            }
        }
        match ty {
            TypeLayout::Int { size: isz, big_endian, .. } => self.int(value, what, *isz as usize, *big_endian, out, at),
            TypeLayout::Bool => self.int(value, what, 1, false, out, at),
            TypeLayout::Enum { values, size: esz, .. } => {
                if let ValueKind::Ident(name) = &value.kind {
                    if let Some((_, v)) = values.iter().find(|(n, _)| n == name) {
                        out.bytes[at..at + *esz as usize].copy_from_slice(&v.to_le_bytes()[..*esz as usize]);
                        return Ok(());
                    }
                    let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
                    let help = did_you_mean(name, names.iter().copied())
                        .map(|m| format!("did you mean `{m}`?"))
                        .unwrap_or_else(|| format!("the enum has {}", names.join(", ")));
                    self.err(value, format!("`{name}` is not a value of this enum")).help = Some(help);
                    return Err(Reported);
                }
                self.int(value, what, *esz as usize, false, out, at)
            }
            TypeLayout::Array { elem, len } => self.array(elem, *len as usize, value, what, out, at),
            TypeLayout::Struct { members, .. } | TypeLayout::Union { members, .. } => {
                self.strukt(ty, members, value, what, out, at)
            }
            TypeLayout::Opaque { size } => match &value.kind {
                ValueKind::Int(_) if *size <= 8 => self.int(value, what, *size as usize, false, out, at),
                ValueKind::Ipv4(a) if *size == 4 => {
                    out.bytes[at..at + 4].copy_from_slice(a);
                    out.hints.push((at as u32, 4, FieldRepr::Ipv4));
                    Ok(())
                }
                _ => {
                    self.err(
                        value,
                        format!("{what} has no type information ({size} bytes): give hex\"...\" of {size} bytes"),
                    )
                    .help = Some(
                        "declare the map with `__type(key, ...)`/`__type(value, ...)` to write typed values".into(),
                    );
                    Err(Reported)
                }
            },
            TypeLayout::Pointer => {
                self.err(value, format!("{what} is a pointer; it cannot be written from a spec"));
                Err(Reported)
            }
        }
    }

    fn int(
        &mut self,
        value: &Value,
        what: &str,
        size: usize,
        big_endian: bool,
        out: &mut Encoded,
        at: usize,
    ) -> Result<(), Reported> {
        let n = match &value.kind {
            ValueKind::Int(n) => *n,
            // Addresses are stored as on the wire, whatever the field's declared endianness.
            ValueKind::Ipv4(a) if size == 4 => {
                out.bytes[at..at + 4].copy_from_slice(a);
                out.hints.push((at as u32, 4, FieldRepr::Ipv4));
                return Ok(());
            }
            ValueKind::Ident(name) if name == "true" || name == "false" => u64::from(name == "true"),
            // An interface of the stage: its ifindex, a host-order integer the runner writes here.
            ValueKind::Ident(name) if self.ifaces.contains(name) && !big_endian && (size == 4 || size == 8) => {
                out.ifaces.push((at as u32, size as u32, name.clone()));
                return Ok(());
            }
            ValueKind::Ident(name) => {
                let help = if self.ifaces.contains(name) {
                    format!("`{name}` stands for its ifindex, a host-order integer of 4 or 8 bytes; {what} is not one")
                } else if let Some(m) = did_you_mean(name, self.ifaces.iter().map(String::as_str)) {
                    format!("did you mean the interface `{m}`?")
                } else {
                    "write a number (decimal or 0x...), an IPv4 address for 4-byte fields, an interface declared in `env`, or hex\"...\"".into()
                };
                self.err(value, format!("{what} is an integer, found the name `{name}`")).help = Some(help);
                return Err(Reported);
            }
            other => {
                let extra = if size == 4 { ", an IPv4 address" } else { "" };
                self.err(
                    value,
                    format!(
                        "{what} is {} {size}-byte integer, found {}",
                        if size == 8 { "an" } else { "a" },
                        other.describe()
                    ),
                )
                .help = Some(format!("write a number{extra} or hex\"...\" of {size} bytes"));
                return Err(Reported);
            }
        };
        if size < 8 && n >> (size * 8) != 0 {
            self.err(value, format!("{n} does not fit {what} ({size} bytes)"));
            return Err(Reported);
        }
        let le = n.to_le_bytes();
        for i in 0..size {
            out.bytes[at + i] = if big_endian { le[size - 1 - i] } else { le[i] };
        }
        Ok(())
    }

    fn array(
        &mut self,
        elem: &TypeLayout,
        len: usize,
        value: &Value,
        what: &str,
        out: &mut Encoded,
        at: usize,
    ) -> Result<(), Reported> {
        let esz = elem.size() as usize;
        let bytes: Option<Vec<u8>> = match &value.kind {
            ValueKind::Mac(m) if esz == 1 => Some(m.to_vec()),
            ValueKind::Str(s) if esz == 1 => Some(s.as_bytes().to_vec()),
            ValueKind::Bytes(b) if esz == 1 => Some(b.clone()),
            ValueKind::Ipv4(a) if esz == 1 => Some(a.to_vec()),
            _ => None,
        };
        if let Some(b) = bytes {
            if b.len() > len {
                self.err(value, format!("{what} holds {len} bytes, found {}", b.len()));
                return Err(Reported);
            }
            out.bytes[at..at + b.len()].copy_from_slice(&b);
            match &value.kind {
                ValueKind::Mac(_) => out.hints.push((at as u32, 6, FieldRepr::Mac)),
                ValueKind::Ipv4(_) => out.hints.push((at as u32, 4, FieldRepr::Ipv4)),
                _ => {}
            }
            return Ok(());
        }
        let ValueKind::List(items) = &value.kind else {
            self.err(value, format!("{what} is an array of {len}, found {}", value.kind.describe())).help = Some(
                if esz == 1 { "write a list [..], a string, hex\"..\" or a MAC" } else { "write a list [a, b, ...]" }
                    .into(),
            );
            return Err(Reported);
        };
        if items.len() > len {
            self.err(value, format!("{what} holds {len} elements, found {}", items.len()));
            return Err(Reported);
        }
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            ok &= self.write(elem, item, &sub(what, &format!("[{i}]")), out, at + i * esz).is_ok();
        }
        // Elements a shorter list does not reach are zero, as in C initialisers, also in checks.
        if ok {
            Ok(())
        } else {
            Err(Reported)
        }
    }

    fn strukt(
        &mut self,
        ty: &TypeLayout,
        members: &[Member],
        value: &Value,
        what: &str,
        out: &mut Encoded,
        at: usize,
    ) -> Result<(), Reported> {
        let size = ty.size() as usize;
        match &value.kind {
            ValueKind::Struct(fields) => {
                if self.mode == Mode::Check {
                    // Omitted fields are not checked: open the whole struct, then close what is given.
                    out.mask[at..at + size].fill(0);
                }
                let mut ok = true;
                for (name, v) in fields {
                    let Some(m) = members.iter().find(|m| m.name == name.node) else {
                        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                        let help = match did_you_mean(&name.node, names.iter().copied()) {
                            Some(s) => {
                                format!("did you mean `{s}`? the type is `{}`", ty.describe())
                            }
                            None => format!("the type is `{}`", ty.describe()),
                        };
                        self.diags.push(
                            Diag::new(
                                "compile::unknown_field",
                                self.src,
                                name.span,
                                format!("{what} has no field `{}`", name.node),
                            )
                            .help(help),
                        );
                        ok = false;
                        continue;
                    };
                    ok &= self.member(m, v, &sub(what, &format!(".{}", m.name)), out, at).is_ok();
                }
                if ok {
                    Ok(())
                } else {
                    Err(Reported)
                }
            }
            // An LPM trie key: `10.0.0.0/8` fills the prefix length and then the address.
            ValueKind::Prefix(addr, len) if lpm_shape(members) => {
                out.bytes[at..at + 4].copy_from_slice(&u32::from(*len).to_le_bytes());
                let data_at = at + (members[1].offset_bits / 8) as usize;
                out.bytes[data_at..data_at + 4].copy_from_slice(addr);
                Ok(())
            }
            other => {
                let hint = if lpm_shape(members) {
                    format!("write a prefix like 10.0.0.0/8, or {{ field: value, ... }} for `{}`", ty.describe())
                } else {
                    format!("write {{ field: value, ... }} for `{}`", ty.describe())
                };
                self.err(value, format!("{what} is a struct, found {}", other.describe())).help = Some(hint);
                Err(Reported)
            }
        }
    }

    fn member(&mut self, m: &Member, v: &Value, what: &str, out: &mut Encoded, at: usize) -> Result<(), Reported> {
        if m.bitfield_bits == 0 {
            let off = at + (m.offset_bits / 8) as usize;
            let sz = m.ty.size() as usize;
            out.mask[off..off + sz].fill(0xff);
            return self.write(&m.ty, v, what, out, off);
        }
        // A bitfield: x86 and BPF are little-endian, so bit n of the struct is bit n%8 of byte n/8.
        let bits = m.bitfield_bits as usize;
        let n = match &v.kind {
            ValueKind::Int(n) if bits >= 64 || *n >> bits == 0 => *n,
            ValueKind::Wildcard if self.mode == Mode::Check => return Ok(()),
            _ => {
                self.err(v, format!("{what} is a {bits}-bit field: write a number below {}", 1u128 << bits));
                return Err(Reported);
            }
        };
        for i in 0..bits {
            let bit = m.offset_bits as usize + i;
            let (byte, shift) = (at + bit / 8, bit % 8);
            out.mask[byte] |= 1 << shift;
            if n >> i & 1 == 1 {
                out.bytes[byte] |= 1 << shift;
            } else {
                out.bytes[byte] &= !(1 << shift);
            }
        }
        Ok(())
    }
}

/// Extends a backticked path in a message: `sessions[2]` + `.vlan_out` = `sessions[2].vlan_out`.
fn sub(what: &str, segment: &str) -> String {
    match what.strip_suffix('`') {
        Some(open) => format!("{open}{segment}`"),
        None => format!("{what}{segment}"),
    }
}

/// `struct { __u32 prefixlen; <4+ bytes of address> }`: the shape of an IPv4 LPM trie key.
fn lpm_shape(members: &[Member]) -> bool {
    members.len() == 2
        && matches!(members[0].ty, TypeLayout::Int { size: 4, .. })
        && members[0].offset_bits == 0
        && members[1].ty.size() >= 4
}

/// The leaf fields of a layout, for per-field sums of per-CPU values and for readable diffs.
pub fn leaf_fields(ty: &TypeLayout) -> Vec<ValueField> {
    let mut out = Vec::new();
    leaves(ty, String::new(), 0, &mut out);
    out
}

fn leaves(ty: &TypeLayout, name: String, offset: u32, out: &mut Vec<ValueField>) {
    match ty {
        TypeLayout::Int { size, big_endian, .. } => out.push(ValueField {
            name,
            offset,
            size: *size,
            kind: if *big_endian && *size > 1 { FieldRepr::BigEndian } else { FieldRepr::Int },
        }),
        TypeLayout::Bool | TypeLayout::Enum { .. } => {
            out.push(ValueField { name, offset, size: ty.size(), kind: FieldRepr::Int })
        }
        TypeLayout::Array { elem, len } if elem.size() == 1 => out.push(ValueField {
            name,
            offset,
            size: *len,
            kind: if *len == 6 { FieldRepr::Mac } else { FieldRepr::Bytes },
        }),
        TypeLayout::Array { elem, len } => {
            for i in 0..*len {
                leaves(elem, format!("{name}[{i}]"), offset + i * elem.size(), out);
            }
        }
        TypeLayout::Struct { members, .. } => {
            for m in members.iter().filter(|m| m.bitfield_bits == 0) {
                let sub = if name.is_empty() { m.name.clone() } else { format!("{name}.{}", m.name) };
                leaves(&m.ty, sub, offset + m.offset_bits / 8, out);
            }
        }
        TypeLayout::Union { .. } | TypeLayout::Opaque { .. } | TypeLayout::Pointer => {
            out.push(ValueField { name, offset, size: ty.size(), kind: FieldRepr::Bytes })
        }
    }
}

/// `fields` with the way the spec wrote each value: a field written as an IPv4 address or a MAC is shown
/// as one.
pub fn with_hints(mut fields: Vec<ValueField>, hints: &[(u32, u32, FieldRepr)]) -> Vec<ValueField> {
    for f in &mut fields {
        if let Some((_, _, repr)) = hints.iter().find(|(at, size, _)| *at == f.offset && *size == f.size) {
            f.kind = *repr;
        }
    }
    fields
}
