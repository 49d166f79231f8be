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
        // An IPv6 address goes into any 16-byte aggregate as on the wire: `struct in6_addr`, `__u8[16]`,
        // `__be32[4]`, `__be16[8]`.
        if let ValueKind::Ipv6(a) = &value.kind {
            if size == 16 && !matches!(ty, TypeLayout::Int { .. } | TypeLayout::Pointer) {
                out.bytes[at..at + 16].copy_from_slice(a);
                out.hints.push((at as u32, 16, FieldRepr::Ipv6));
                return Ok(());
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
                for (i, (name, v)) in fields.iter().enumerate() {
                    if let Some((first, _)) = fields[..i].iter().find(|(n, _)| n.node == name.node) {
                        let (l, c) = self.src.line_col(first.span.start);
                        self.diags.push(
                            Diag::new(
                                "compile::duplicate_field",
                                self.src,
                                name.span,
                                format!("`{}` is given twice", name.node),
                            )
                            .help(format!("the first is at line {l}, column {c}; give each field once")),
                        );
                        ok = false;
                        continue;
                    }
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
            // An LPM trie key: `10.0.0.0/8` or `2001:db8::/32` fills the prefix length, then the address.
            ValueKind::Prefix(addr, len) if lpm_shape(members, 4) && !lpm_shape(members, 16) => {
                self.lpm(members, u32::from(*len), addr, out, at);
                Ok(())
            }
            ValueKind::Prefix6(addr, len) if lpm_shape(members, 16) => {
                self.lpm(members, u32::from(*len), addr, out, at);
                Ok(())
            }
            ValueKind::Prefix(..) | ValueKind::Prefix6(..) if lpm_shape(members, 4) => {
                let (holds, example) =
                    if lpm_shape(members, 16) { ("IPv6", "2001:db8::/32") } else { ("IPv4", "10.0.0.0/8") };
                self.err(value, format!("{what} holds {holds} prefixes, found {}", value.kind.describe())).help =
                    Some(format!("write a prefix like {example} for `{}`", ty.describe()));
                Err(Reported)
            }
            other => {
                let hint = if lpm_shape(members, 16) {
                    format!("write a prefix like 2001:db8::/32, or {{ field: value, ... }} for `{}`", ty.describe())
                } else if lpm_shape(members, 4) {
                    format!("write a prefix like 10.0.0.0/8, or {{ field: value, ... }} for `{}`", ty.describe())
                } else {
                    format!("write {{ field: value, ... }} for `{}`", ty.describe())
                };
                self.err(value, format!("{what} is a struct, found {}", other.describe())).help = Some(hint);
                Err(Reported)
            }
        }
    }

    /// Writes an LPM trie key: the prefix length (host order), then the address bytes.
    fn lpm(&mut self, members: &[Member], len: u32, addr: &[u8], out: &mut Encoded, at: usize) {
        out.bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        let data_at = at + (members[1].offset_bits / 8) as usize;
        out.bytes[data_at..data_at + addr.len()].copy_from_slice(addr);
        let repr = if addr.len() == 16 { FieldRepr::Ipv6 } else { FieldRepr::Ipv4 };
        out.hints.push((data_at as u32, addr.len() as u32, repr));
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

/// `struct { __u32 prefixlen; <addr_len or more bytes of address> }`: the shape of an LPM trie key for
/// addresses of `addr_len` bytes (4 for IPv4, 16 for IPv6).
fn lpm_shape(members: &[Member], addr_len: u32) -> bool {
    members.len() == 2
        && matches!(members[0].ty, TypeLayout::Int { size: 4, .. })
        && members[0].offset_bits == 0
        && members[1].ty.size() >= addr_len
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
        // `struct in6_addr` (a union of byte, word and double-word arrays) is one address.
        TypeLayout::Struct { name: Some(n), size: 16, .. } if n == "in6_addr" => {
            out.push(ValueField { name, offset, size: 16, kind: FieldRepr::Ipv6 })
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
/// A hint that covers several leaves exactly (an IPv6 address written into `__be32 addr[4]`) makes them
/// one field, named like the array.
pub fn with_hints(mut fields: Vec<ValueField>, hints: &[(u32, u32, FieldRepr)]) -> Vec<ValueField> {
    for &(at, size, repr) in hints {
        let inside: Vec<usize> = (0..fields.len())
            .filter(|&i| fields[i].offset >= at && fields[i].offset + fields[i].size <= at + size)
            .collect();
        let covered: u32 = inside.iter().map(|&i| fields[i].size).sum();
        match inside.as_slice() {
            [one] if fields[*one].offset == at && fields[*one].size == size => fields[*one].kind = repr,
            [first, ..] if covered == size => {
                let name = fields[*first].name.strip_suffix("[0]").unwrap_or(&fields[*first].name).to_string();
                let merged = ValueField { name, offset: at, size, kind: repr };
                fields.splice(*first..=*inside.last().expect("not empty"), [merged]);
            }
            _ => {}
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use xdptest_grammar::ast::ItemKind;

    fn value(text: &str) -> Value {
        let file = xdptest_grammar::parse(&format!("map m[0] = {text}\n")).expect("parses");
        let ItemKind::Map(m) = &file.items[0].kind else { panic!("not a map item") };
        m.value.clone()
    }

    fn u8s(len: u32) -> TypeLayout {
        TypeLayout::Array {
            elem: Box::new(TypeLayout::Int { name: "__u8".into(), size: 1, signed: false, big_endian: false }),
            len,
        }
    }

    fn be32s(len: u32) -> TypeLayout {
        TypeLayout::Array {
            elem: Box::new(TypeLayout::Int { name: "__be32".into(), size: 4, signed: false, big_endian: true }),
            len,
        }
    }

    /// `struct in6_addr` as clang's BTF has it: a struct around a union of three array views.
    fn in6_addr() -> TypeLayout {
        let view = |name: &str, ty: TypeLayout| Member { name: name.into(), offset_bits: 0, bitfield_bits: 0, ty };
        let union = TypeLayout::Union {
            name: None,
            size: 16,
            members: vec![
                view("u6_addr8", u8s(16)),
                view(
                    "u6_addr16",
                    TypeLayout::Array {
                        elem: Box::new(TypeLayout::Int {
                            name: "__be16".into(),
                            size: 2,
                            signed: false,
                            big_endian: true,
                        }),
                        len: 8,
                    },
                ),
                view("u6_addr32", be32s(4)),
            ],
        };
        TypeLayout::Struct { name: Some("in6_addr".into()), size: 16, members: vec![view("in6_u", union)] }
    }

    fn lpm_key(addr: TypeLayout) -> TypeLayout {
        let size = 4 + addr.size();
        TypeLayout::Struct {
            name: Some("lpm_key".into()),
            size,
            members: vec![
                Member {
                    name: "prefixlen".into(),
                    offset_bits: 0,
                    bitfield_bits: 0,
                    ty: TypeLayout::Int { name: "__u32".into(), size: 4, signed: false, big_endian: false },
                },
                Member { name: "addr".into(), offset_bits: 32, bitfield_bits: 0, ty: addr },
            ],
        }
    }

    fn encode(ty: &TypeLayout, text: &str) -> Result<Encoded, Vec<Diag>> {
        let src = SourceFile::new("t.pkt", format!("map m[0] = {text}\n"));
        let mut diags = Vec::new();
        let mut typer = Typer { src: &src, diags: &mut diags, mode: Mode::Write, ifaces: &[] };
        let r = typer.encode(ty, &value(text), "the value of `m`");
        r.map_err(|_| diags)
    }

    const ADDR: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

    #[test]
    fn an_ipv6_address_fills_any_16_byte_address_type_as_on_the_wire() {
        for ty in [in6_addr(), u8s(16), be32s(4)] {
            let e = encode(&ty, "2001:db8::1").unwrap_or_else(|d| panic!("{}: {d:?}", ty.describe()));
            assert_eq!(e.bytes, ADDR, "{}", ty.describe());
            assert_eq!(e.hints, [(0, 16, FieldRepr::Ipv6)]);
        }
        // Not into an integer, nor into something of another size.
        assert!(encode(&u8s(4), "2001:db8::1").is_err());
        assert!(encode(&TypeLayout::Int { name: "__u64".into(), size: 8, signed: false, big_endian: false }, "::1")
            .is_err());
    }

    #[test]
    fn lpm_keys_take_prefixes_of_their_family() {
        let v6 = lpm_key(in6_addr());
        let e = encode(&v6, "2001:db8::/32").unwrap();
        assert_eq!(&e.bytes[..4], &32u32.to_le_bytes());
        assert_eq!(&e.bytes[4..], &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let v4 = lpm_key(TypeLayout::Int { name: "__be32".into(), size: 4, signed: false, big_endian: true });
        assert_eq!(encode(&v4, "10.0.0.0/8").unwrap().bytes, [8, 0, 0, 0, 10, 0, 0, 0]);
        // The wrong family is an error that says which one the key holds.
        let d = encode(&v6, "10.0.0.0/8").unwrap_err();
        assert!(d[0].message.contains("holds IPv6 prefixes, found an IPv4 prefix"), "{}", d[0].message);
        let d = encode(&v4, "2001:db8::/32").unwrap_err();
        assert!(d[0].message.contains("holds IPv4 prefixes"), "{}", d[0].message);
        // A `__be32[4]` address works as well as `struct in6_addr`.
        assert_eq!(encode(&lpm_key(be32s(4)), "2001:db8::1/128").unwrap().bytes[4..], ADDR);
    }

    #[test]
    fn in6_addr_is_one_field_shown_as_an_address() {
        let fields = leaf_fields(&lpm_key(in6_addr()));
        assert_eq!(fields.len(), 2);
        assert_eq!((fields[1].name.as_str(), fields[1].offset, fields[1].size), ("addr", 4, 16));
        assert_eq!(fields[1].kind, FieldRepr::Ipv6);
        assert_eq!(fields[1].show(&ADDR, &[]), "2001:db8::1");
        // A plain byte array becomes an address where the spec wrote one.
        let hinted = with_hints(leaf_fields(&u8s(16)), &[(0, 16, FieldRepr::Ipv6)]);
        assert_eq!(hinted[0].show(&ADDR, &[]), "2001:db8::1");
        // So do four `__be32` (which alone would each read as an IPv4 address): one field, named like
        // the array.
        let key = lpm_key(be32s(4));
        assert_eq!(leaf_fields(&key).len(), 5);
        let hinted = with_hints(leaf_fields(&key), &encode(&key, "2001:db8::1/128").unwrap().hints);
        assert_eq!(hinted.len(), 2, "{hinted:?}");
        assert_eq!((hinted[1].name.as_str(), hinted[1].offset, hinted[1].size), ("addr", 4, 16));
        assert_eq!(hinted[1].show(&ADDR, &[]), "2001:db8::1");
    }
}
