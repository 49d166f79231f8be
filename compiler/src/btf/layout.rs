//! From raw BTF records to [`TypeLayout`] trees and [`MapDef`]s: follows
//! typedef/qualifier chains (noting network-order typedefs), checks that
//! every member fits inside its struct, decodes the `SEC(".maps")` definition
//! structs, and renders layouts back as short C-like text for hints.
//!
//! Resolution is bounded: qualifier chains by [`MAX_CHAIN`], nesting by
//! [`MAX_DEPTH`], and the total size of one resolved tree by [`MAX_NODES`],
//! so cyclic or adversarial BTF ends in a [`BtfError::Malformed`].

use std::fmt::Write as _;

use super::raw::{Btf, Ty, INT_BOOL, INT_SIGNED};
use super::{BtfError, MapDef, Member, TypeLayout};

/// Longest chain of typedefs and qualifiers (`const`, `volatile`, `restrict`, `type_tag`) followed.
const MAX_CHAIN: usize = 64;
/// Deepest nesting of struct members / array elements resolved.
const MAX_DEPTH: u32 = 32;
/// Most layout nodes built for one map key or value.
const MAX_NODES: usize = 100_000;
/// Typedef names that mark an integer as held in network byte order.
const BIG_ENDIAN_TYPEDEFS: &[&str] = &["__be16", "__be32", "__be64", "__sum16", "__wsum"];

fn malformed(msg: impl Into<String>) -> BtfError {
    BtfError::Malformed(msg.into())
}

/// Where a typedef/qualifier chain ends, and what was crossed on the way.
struct Peeled<'a> {
    id: u32,
    big_endian: bool,
    /// The outermost typedef name crossed, if any (what the C source wrote).
    typedef_name: Option<&'a str>,
}

struct Resolver<'b, 'a> {
    btf: &'b Btf<'a>,
    nodes: usize,
}

impl<'b, 'a> Resolver<'b, 'a> {
    fn new(btf: &'b Btf<'a>) -> Self {
        Resolver { btf, nodes: 0 }
    }

    /// Follows typedefs and qualifiers starting at `id`.
    fn peel(&self, id: u32) -> Result<Peeled<'a>, BtfError> {
        let mut out = Peeled { id, big_endian: false, typedef_name: None };
        for _ in 0..MAX_CHAIN {
            match self.btf.get(out.id)? {
                Some(Ty::Typedef { name_off, ty }) => {
                    let name = self.btf.name(*name_off)?;
                    out.big_endian |= BIG_ENDIAN_TYPEDEFS.contains(&name);
                    out.typedef_name.get_or_insert(name);
                    out.id = *ty;
                }
                Some(Ty::Qualifier { ty, .. }) => out.id = *ty,
                _ => return Ok(out),
            }
        }
        Err(malformed(format!("typedef/qualifier chain starting at type id {id} is longer than {MAX_CHAIN} (cycle?)")))
    }

    fn opt_name(&self, name_off: u32) -> Result<Option<String>, BtfError> {
        let n = self.btf.name(name_off)?;
        Ok((!n.is_empty()).then(|| n.to_string()))
    }

    /// The layout of type `id`, which must be a sized data type.
    fn layout(&mut self, id: u32, depth: u32) -> Result<TypeLayout, BtfError> {
        if depth > MAX_DEPTH {
            return Err(malformed(format!("types nested deeper than {MAX_DEPTH} levels at type id {id} (cycle?)")));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(malformed(format!("type layout has more than {MAX_NODES} parts")));
        }
        let p = self.peel(id)?;
        let Some(ty) = self.btf.get(p.id)? else {
            return Err(malformed(format!("type id {id} is void, which has no layout")));
        };
        match ty {
            Ty::Int { name_off, size, encoding, bits_offset, nr_bits } => {
                let name = self.btf.name(*name_off)?;
                if !matches!(size, 1 | 2 | 4 | 8 | 16) || u32::from(*bits_offset) + u32::from(*nr_bits) > size * 8 {
                    return Err(malformed(format!(
                        "INT '{name}' (type id {}) has size {size}, bits {nr_bits} at offset {bits_offset}",
                        p.id
                    )));
                }
                if encoding & INT_BOOL != 0 && *size == 1 {
                    return Ok(TypeLayout::Bool);
                }
                Ok(TypeLayout::Int {
                    name: p.typedef_name.unwrap_or(name).to_string(),
                    size: *size,
                    signed: encoding & INT_SIGNED != 0,
                    big_endian: p.big_endian,
                })
            }
            Ty::Ptr { .. } => Ok(TypeLayout::Pointer),
            Ty::Array { elem, nelems } => {
                let elem = self.layout(*elem, depth + 1)?;
                if elem.size().checked_mul(*nelems).is_none() {
                    return Err(malformed(format!(
                        "array type id {} of {nelems} elements of {} bytes overflows 4 GiB",
                        p.id,
                        elem.size()
                    )));
                }
                Ok(TypeLayout::Array { elem: Box::new(elem), len: *nelems })
            }
            Ty::Composite { name_off, size, union, members } => {
                let name = self.opt_name(*name_off)?;
                let what = || {
                    let kw = if *union { "union" } else { "struct" };
                    match &name {
                        Some(n) => format!("{kw} {n}"),
                        None => format!("anonymous {kw} (type id {})", p.id),
                    }
                };
                let mut out = Vec::with_capacity(members.len());
                for m in members {
                    let mname = self.btf.name(m.name_off)?.to_string();
                    let ty = self.layout(m.ty, depth + 1)?;
                    check_member(&ty, &mname, m.offset_bits, m.bitfield_bits, *size)
                        .map_err(|e| malformed(format!("{}: {e}", what())))?;
                    out.push(Member { name: mname, offset_bits: m.offset_bits, bitfield_bits: m.bitfield_bits, ty });
                }
                Ok(if *union {
                    TypeLayout::Union { name, size: *size, members: out }
                } else {
                    TypeLayout::Struct { name, size: *size, members: out }
                })
            }
            Ty::Enum { name_off, size, signed, values } => {
                let name = self.opt_name(*name_off)?;
                if !matches!(size, 1 | 2 | 4 | 8) {
                    return Err(malformed(format!("enum type id {} has size {size}", p.id)));
                }
                let values = values
                    .iter()
                    .map(|(off, v)| Ok((self.btf.name(*off)?.to_string(), *v)))
                    .collect::<Result<_, BtfError>>()?;
                Ok(TypeLayout::Enum { name, size: *size, signed: *signed, values })
            }
            Ty::Float { size } => Ok(TypeLayout::Opaque { size: *size }),
            Ty::Fwd { name_off, union } => Err(malformed(format!(
                "{} {} is only forward-declared, its layout is unknown",
                if *union { "union" } else { "struct" },
                self.btf.name(*name_off)?
            ))),
            other => Err(malformed(format!("type id {} is a {}, not a data type", p.id, other.kind_name()))),
        }
    }
}

/// Checks that a member lies inside a struct of `size` bytes.
fn check_member(ty: &TypeLayout, name: &str, offset_bits: u32, bitfield_bits: u32, size: u32) -> Result<(), String> {
    let limit = u64::from(size) * 8;
    let start = u64::from(offset_bits);
    if bitfield_bits > 0 {
        if !matches!(ty, TypeLayout::Int { .. } | TypeLayout::Enum { .. } | TypeLayout::Bool) {
            return Err(format!("bitfield member '{name}' is not an integer"));
        }
        if bitfield_bits > ty.size() * 8 || start + u64::from(bitfield_bits) > limit {
            return Err(format!("bitfield member '{name}' ({bitfield_bits} bits at bit {offset_bits}) does not fit"));
        }
        return Ok(());
    }
    if offset_bits & 7 != 0 {
        return Err(format!("member '{name}' at bit {offset_bits} is not byte-aligned"));
    }
    if start / 8 + u64::from(ty.size()) > u64::from(size) {
        return Err(format!(
            "member '{name}' ({} bytes at byte {}) runs past the {size}-byte end",
            ty.size(),
            start / 8
        ));
    }
    Ok(())
}

/// Decodes every map of the `.maps` DATASEC(s), in declaration order.
pub(super) fn maps(btf: &Btf<'_>) -> Result<Vec<MapDef>, BtfError> {
    let mut out = Vec::new();
    for ty in btf.types() {
        let Ty::Datasec { name_off, vars } = ty else {
            continue;
        };
        if btf.name(*name_off)? != ".maps" {
            continue;
        }
        for v in vars {
            out.push(map_def(btf, v.ty)?);
        }
    }
    Ok(out)
}

/// Every variable of the global data sections (`.rodata*`, `.data*`, `.bss*`), in declaration order.
/// Variables whose type cannot be laid out (functions, void) are left out: a spec cannot set them.
pub(super) fn globals(btf: &Btf<'_>) -> Result<Vec<super::GlobalVar>, BtfError> {
    let mut out = Vec::new();
    for ty in btf.types() {
        let Ty::Datasec { name_off, vars } = ty else {
            continue;
        };
        let section = btf.name(*name_off)?;
        if !(section.starts_with(".rodata") || section.starts_with(".data") || section.starts_with(".bss")) {
            continue;
        }
        for v in vars {
            let Some(Ty::Var { name_off, ty }) = btf.get(v.ty)? else { continue };
            let mut r = Resolver::new(btf);
            let Ok(layout) = r.layout(*ty, 0) else { continue };
            if layout.size() != v.size {
                continue;
            }
            out.push(super::GlobalVar {
                name: btf.name(*name_off)?.to_string(),
                section: section.to_string(),
                offset: v.offset,
                ty: layout,
            });
        }
    }
    Ok(out)
}

/// Every named struct of the object's BTF with a layout (for event and metadata records). Unnamed and
/// broken ones are left out; the first definition of a name wins.
pub(super) fn structs(btf: &Btf<'_>) -> Vec<(String, TypeLayout)> {
    let mut out: Vec<(String, TypeLayout)> = Vec::new();
    for (i, ty) in btf.types().iter().enumerate() {
        let Ty::Composite { name_off, union: false, .. } = ty else { continue };
        let Ok(name) = btf.name(*name_off) else { continue };
        if name.is_empty() || out.iter().any(|(n, _)| n == name) {
            continue;
        }
        let mut r = Resolver::new(btf);
        if let Ok(layout) = r.layout(i as u32 + 1, 0) {
            out.push((name.to_string(), layout));
        }
    }
    out
}

/// Reads a `__uint(field, N)` member: `int (*field)[N]`.
fn uint_field(r: &Resolver<'_, '_>, map: &str, field: &str, id: u32) -> Result<u32, BtfError> {
    let bad = || malformed(format!("map '{map}': field '{field}' is not declared with __uint()"));
    let Some(Ty::Ptr { ty }) = r.btf.get(r.peel(id)?.id)? else {
        return Err(bad());
    };
    let Some(Ty::Array { nelems, .. }) = r.btf.get(r.peel(*ty)?.id)? else {
        return Err(bad());
    };
    Ok(*nelems)
}

/// Reads a `__type(field, T)` member: `T *field`.
fn type_field(r: &mut Resolver<'_, '_>, map: &str, field: &str, id: u32) -> Result<TypeLayout, BtfError> {
    let Some(Ty::Ptr { ty }) = r.btf.get(r.peel(id)?.id)? else {
        return Err(malformed(format!("map '{map}': field '{field}' is not declared with __type()")));
    };
    let ty = *ty;
    r.nodes = 0;
    r.layout(ty, 0).map_err(|e| malformed(format!("map '{map}' {field}: {}", strip(&e))))
}

/// The message of a `Malformed` error without its "malformed BTF: " prefix.
fn strip(e: &BtfError) -> String {
    match e {
        BtfError::Malformed(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Picks the key/value layout from `__type` and/or `__uint(..._size)`.
fn pick(map: &str, field: &str, ty: Option<TypeLayout>, size: Option<u32>) -> Result<TypeLayout, BtfError> {
    match (ty, size) {
        (Some(t), Some(s)) if t.size() != s => {
            Err(malformed(format!("map '{map}': {field}_size {s} does not match the {}-byte {field} type", t.size())))
        }
        (Some(t), _) => Ok(t),
        (None, Some(s)) => Ok(TypeLayout::Opaque { size: s }),
        (None, None) => Ok(TypeLayout::Opaque { size: 0 }),
    }
}

fn map_def(btf: &Btf<'_>, var_id: u32) -> Result<MapDef, BtfError> {
    let mut r = Resolver::new(btf);
    let (name_off, def_ty) = match btf.get(var_id)? {
        Some(Ty::Var { name_off, ty }) => (*name_off, *ty),
        other => {
            return Err(malformed(format!(
                ".maps entry type id {var_id} is a {}, not a VAR",
                other.map_or("void", Ty::kind_name)
            )))
        }
    };
    let name = btf.name(name_off)?.to_string();
    let Some(Ty::Composite { union: false, members, .. }) = btf.get(r.peel(def_ty)?.id)? else {
        return Err(malformed(format!("map '{name}': definition is not a struct")));
    };
    let (mut map_type, mut max_entries, mut flags, mut pinning) = (0, 0, 0, 0);
    let (mut key, mut value, mut key_size, mut value_size) = (None, None, None, None);
    for m in members {
        match btf.name(m.name_off)? {
            "type" => map_type = uint_field(&r, &name, "type", m.ty)?,
            "max_entries" => max_entries = uint_field(&r, &name, "max_entries", m.ty)?,
            "map_flags" => flags = uint_field(&r, &name, "map_flags", m.ty)?,
            "key_size" => key_size = Some(uint_field(&r, &name, "key_size", m.ty)?),
            "value_size" => value_size = Some(uint_field(&r, &name, "value_size", m.ty)?),
            "key" => key = Some(type_field(&mut r, &name, "key", m.ty)?),
            "value" => value = Some(type_field(&mut r, &name, "value", m.ty)?),
            "pinning" => pinning = uint_field(&r, &name, "pinning", m.ty)?,
            // numa_node, map_extra, values (map-in-map): not needed here.
            _ => {}
        }
    }
    let key = pick(&name, "key", key, key_size)?;
    let value = pick(&name, "value", value, value_size)?;
    Ok(MapDef { name, map_type, max_entries, flags, pinned: pinning != 0, key, value })
}

/// Members listed before `describe` elides the rest with `...`.
const DESCRIBE_MEMBERS: usize = 32;
/// Anonymous struct/union nesting expanded by `describe`.
const DESCRIBE_DEPTH: u32 = 3;
/// Enumerators listed for an anonymous enum.
const DESCRIBE_ENUMS: usize = 8;

impl TypeLayout {
    /// A short C-like rendering for hints and error messages. Structs and
    /// unions at the top (also under arrays) are expanded one member per
    /// `;`, nested named ones are referred to by name, e.g.
    /// `struct session { __be32 ue_ip; __u8 mac[6]; struct inner nested; __u32 hi:12; }`.
    pub fn describe(&self) -> String {
        let mut dims = String::new();
        let mut t = self;
        while let TypeLayout::Array { elem, len } = t {
            let _ = write!(dims, "[{len}]");
            t = elem;
        }
        let mut out = match t {
            TypeLayout::Struct { .. } | TypeLayout::Union { .. } => expand(t, 0),
            _ => type_ref(t, 0),
        };
        out.push_str(&dims);
        out
    }
}

/// How `t` is named in a declaration (anonymous aggregates get expanded).
fn type_ref(t: &TypeLayout, depth: u32) -> String {
    match t {
        TypeLayout::Int { name, .. } => name.clone(),
        TypeLayout::Bool => "_Bool".into(),
        TypeLayout::Pointer => "void *".into(),
        TypeLayout::Opaque { size } => format!("<{size} bytes>"),
        TypeLayout::Array { .. } => {
            // Only reached for arrays nested inside a declarator-less context.
            let mut dims = String::new();
            let mut e = t;
            while let TypeLayout::Array { elem, len } = e {
                let _ = write!(dims, "[{len}]");
                e = elem;
            }
            format!("{}{dims}", type_ref(e, depth))
        }
        TypeLayout::Struct { name: Some(n), .. } => format!("struct {n}"),
        TypeLayout::Union { name: Some(n), .. } => format!("union {n}"),
        TypeLayout::Struct { name: None, .. } | TypeLayout::Union { name: None, .. } => expand(t, depth),
        TypeLayout::Enum { name: Some(n), .. } => format!("enum {n}"),
        TypeLayout::Enum { name: None, values, .. } => {
            let mut items: Vec<String> =
                values.iter().take(DESCRIBE_ENUMS).map(|(n, v)| format!("{n} = {v}")).collect();
            if values.len() > DESCRIBE_ENUMS {
                items.push("...".into());
            }
            format!("enum {{ {} }}", items.join(", "))
        }
    }
}

/// `struct name { members }` with each member as a C declaration.
fn expand(t: &TypeLayout, depth: u32) -> String {
    let (kw, name, members) = match t {
        TypeLayout::Struct { name, members, .. } => ("struct", name, members),
        TypeLayout::Union { name, members, .. } => ("union", name, members),
        _ => return type_ref(t, depth),
    };
    let mut s = String::from(kw);
    if let Some(n) = name {
        let _ = write!(s, " {n}");
    }
    if depth >= DESCRIBE_DEPTH {
        s.push_str(" { ... }");
        return s;
    }
    s.push_str(" {");
    for (i, m) in members.iter().enumerate() {
        if i == DESCRIBE_MEMBERS {
            s.push_str(" ...;");
            break;
        }
        let _ = write!(s, " {};", declaration(m, depth + 1));
    }
    s.push_str(" }");
    s
}

/// One member as a C declaration: `__u8 mac[6]`, `__u32 hi:12`, `void *p`.
fn declaration(m: &Member, depth: u32) -> String {
    let mut dims = String::new();
    let mut t = &m.ty;
    while let TypeLayout::Array { elem, len } = t {
        let _ = write!(dims, "[{len}]");
        t = elem;
    }
    let base = type_ref(t, depth);
    let sep = if base.ends_with('*') || m.name.is_empty() { "" } else { " " };
    let mut s = format!("{base}{sep}{}{dims}", m.name);
    if m.bitfield_bits > 0 {
        let _ = write!(s, ":{}", m.bitfield_bits);
    }
    s
}
