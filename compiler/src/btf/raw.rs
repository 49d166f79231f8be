//! Raw BTF decoding: the header, the type section and the string section of
//! a `.BTF` blob, turned into a flat table of [`Ty`] records indexed by type
//! id. Nothing here follows references between types; that is `layout.rs`'s
//! job. Every read is bounds-checked and every failure is a
//! [`BtfError::Malformed`], never a panic.

use super::BtfError;

/// `BTF_MAGIC` as it reads from a little-endian blob.
const MAGIC: u16 = 0xeb9f;
/// The same magic as it reads when the blob was written big-endian.
const MAGIC_SWAPPED: u16 = 0x9feb;
/// Size of `struct btf_header` (version 1).
const HEADER_LEN: usize = 24;

pub(super) const KIND_INT: u8 = 1;
pub(super) const KIND_PTR: u8 = 2;
pub(super) const KIND_ARRAY: u8 = 3;
pub(super) const KIND_STRUCT: u8 = 4;
pub(super) const KIND_UNION: u8 = 5;
pub(super) const KIND_ENUM: u8 = 6;
pub(super) const KIND_FWD: u8 = 7;
pub(super) const KIND_TYPEDEF: u8 = 8;
pub(super) const KIND_VOLATILE: u8 = 9;
pub(super) const KIND_CONST: u8 = 10;
pub(super) const KIND_RESTRICT: u8 = 11;
pub(super) const KIND_FUNC: u8 = 12;
pub(super) const KIND_FUNC_PROTO: u8 = 13;
pub(super) const KIND_VAR: u8 = 14;
pub(super) const KIND_DATASEC: u8 = 15;
pub(super) const KIND_FLOAT: u8 = 16;
pub(super) const KIND_DECL_TAG: u8 = 17;
pub(super) const KIND_TYPE_TAG: u8 = 18;
pub(super) const KIND_ENUM64: u8 = 19;

/// `BTF_INT_SIGNED` bit of an INT's encoding.
pub(super) const INT_SIGNED: u8 = 1;
/// `BTF_INT_BOOL` bit of an INT's encoding.
pub(super) const INT_BOOL: u8 = 4;

/// One member of a STRUCT or UNION, as stored.
#[derive(Debug, Clone)]
pub(super) struct RawMember {
    pub name_off: u32,
    pub ty: u32,
    pub offset_bits: u32,
    /// 0 when the member is not a bitfield.
    pub bitfield_bits: u32,
}

/// One `btf_var_secinfo` of a DATASEC.
#[derive(Debug, Clone)]
pub(super) struct SecInfo {
    pub ty: u32,
    /// Offset of the variable in its section (clang writes the real one for data sections).
    pub offset: u32,
    pub size: u32,
}

/// One decoded BTF type record. Names are string-section offsets.
#[derive(Debug, Clone)]
pub(super) enum Ty {
    Int {
        name_off: u32,
        size: u32,
        encoding: u8,
        bits_offset: u8,
        nr_bits: u8,
    },
    Ptr {
        ty: u32,
    },
    Array {
        elem: u32,
        nelems: u32,
    },
    /// STRUCT (`union == false`) or UNION.
    Composite {
        name_off: u32,
        size: u32,
        union: bool,
        members: Vec<RawMember>,
    },
    /// ENUM or ENUM64; values are sign- or zero-extended per `signed`.
    Enum {
        name_off: u32,
        size: u32,
        signed: bool,
        values: Vec<(u32, i64)>,
    },
    Fwd {
        name_off: u32,
        union: bool,
    },
    Typedef {
        name_off: u32,
        ty: u32,
    },
    /// `VOLATILE`, `CONST`, `RESTRICT` or `TYPE_TAG`: transparent for layout.
    Qualifier {
        kind: u8,
        ty: u32,
    },
    Func,
    FuncProto,
    Var {
        name_off: u32,
        ty: u32,
    },
    Datasec {
        name_off: u32,
        vars: Vec<SecInfo>,
    },
    Float {
        size: u32,
    },
    DeclTag,
}

impl Ty {
    /// The BTF kind name, for error messages.
    pub(super) fn kind_name(&self) -> &'static str {
        match self {
            Ty::Int { .. } => "INT",
            Ty::Ptr { .. } => "PTR",
            Ty::Array { .. } => "ARRAY",
            Ty::Composite { union: false, .. } => "STRUCT",
            Ty::Composite { union: true, .. } => "UNION",
            Ty::Enum { .. } => "ENUM",
            Ty::Fwd { .. } => "FWD",
            Ty::Typedef { .. } => "TYPEDEF",
            Ty::Qualifier { kind, .. } => match *kind {
                KIND_VOLATILE => "VOLATILE",
                KIND_CONST => "CONST",
                KIND_RESTRICT => "RESTRICT",
                _ => "TYPE_TAG",
            },
            Ty::Func => "FUNC",
            Ty::FuncProto => "FUNC_PROTO",
            Ty::Var { .. } => "VAR",
            Ty::Datasec { .. } => "DATASEC",
            Ty::Float { .. } => "FLOAT",
            Ty::DeclTag => "DECL_TAG",
        }
    }
}

/// A decoded `.BTF` blob: the type table plus the string section it names into.
#[derive(Debug)]
pub(super) struct Btf<'a> {
    /// `types[i]` is type id `i + 1`; id 0 is `void` and has no record.
    types: Vec<Ty>,
    strings: &'a [u8],
}

fn malformed(msg: impl Into<String>) -> BtfError {
    BtfError::Malformed(msg.into())
}

/// Little-endian cursor over the type section.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn u32(&mut self) -> Result<u32, BtfError> {
        let end = self.pos.checked_add(4).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(malformed(format!("type section truncated at byte {} of {}", self.pos, self.data.len())));
        };
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.data[self.pos..end]);
        self.pos = end;
        Ok(u32::from_le_bytes(b))
    }
}

fn read_u32(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&data[at..at + 4]);
    u32::from_le_bytes(b)
}

/// `data[start..start+len]`, checked, for a header-described section.
fn sub<'a>(data: &'a [u8], start: u32, len: u32, what: &str) -> Result<&'a [u8], BtfError> {
    let start = start as usize;
    let end = start.checked_add(len as usize).filter(|&e| e <= data.len()).ok_or_else(|| {
        malformed(format!(
            "{what} section (offset {start}, length {len}) runs past the end of .BTF ({} bytes after header)",
            data.len()
        ))
    })?;
    Ok(&data[start..end])
}

impl<'a> Btf<'a> {
    /// Decodes a raw `.BTF` section.
    pub(super) fn parse(data: &'a [u8]) -> Result<Self, BtfError> {
        if data.len() < HEADER_LEN {
            return Err(malformed(format!(
                "section is {} bytes, shorter than the {HEADER_LEN}-byte header",
                data.len()
            )));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic == MAGIC_SWAPPED {
            return Err(BtfError::BigEndian);
        }
        if magic != MAGIC {
            return Err(malformed(format!("bad magic {magic:#06x}")));
        }
        let version = data[2];
        if version != 1 {
            return Err(malformed(format!("unsupported BTF version {version}")));
        }
        let hdr_len = read_u32(data, 4) as usize;
        if hdr_len < HEADER_LEN || hdr_len > data.len() {
            return Err(malformed(format!("bad header length {hdr_len}")));
        }
        let type_off = read_u32(data, 8);
        let type_len = read_u32(data, 12);
        let str_off = read_u32(data, 16);
        let str_len = read_u32(data, 20);
        let body = &data[hdr_len..];
        let type_data = sub(body, type_off, type_len, "type")?;
        let strings = sub(body, str_off, str_len, "string")?;
        if strings.first().is_some_and(|&b| b != 0) {
            return Err(malformed("string section does not start with an empty string"));
        }
        if strings.last().is_some_and(|&b| b != 0) {
            return Err(malformed("string section is not NUL-terminated"));
        }
        let types = parse_types(type_data)?;
        Ok(Btf { types, strings })
    }

    /// The record for type id `id` (`None` for id 0, `void`).
    pub(super) fn get(&self, id: u32) -> Result<Option<&Ty>, BtfError> {
        if id == 0 {
            return Ok(None);
        }
        self.types
            .get(id as usize - 1)
            .map(Some)
            .ok_or_else(|| malformed(format!("reference to type id {id}, but only {} types exist", self.types.len())))
    }

    /// All type records, in id order starting at id 1.
    pub(super) fn types(&self) -> &[Ty] {
        &self.types
    }

    /// The NUL-terminated string at `off` in the string section.
    pub(super) fn name(&self, off: u32) -> Result<&'a str, BtfError> {
        let rest = self.strings.get(off as usize..).filter(|r| !r.is_empty()).ok_or_else(|| {
            malformed(format!("name offset {off} outside the {}-byte string section", self.strings.len()))
        })?;
        // The section is known to end in NUL, so a terminator exists.
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).map_err(|_| malformed(format!("name at offset {off} is not UTF-8")))
    }
}

fn parse_types(data: &[u8]) -> Result<Vec<Ty>, BtfError> {
    let mut cur = Cursor { data, pos: 0 };
    let mut types = Vec::new();
    while cur.pos < data.len() {
        let id = types.len() + 1;
        let name_off = cur.u32()?;
        let info = cur.u32()?;
        let size_or_type = cur.u32()?;
        let vlen = info & 0xffff;
        let kind = ((info >> 24) & 0x1f) as u8;
        let kind_flag = info >> 31 == 1;
        let ty = match kind {
            KIND_INT => {
                let enc = cur.u32()?;
                Ty::Int {
                    name_off,
                    size: size_or_type,
                    encoding: ((enc >> 24) & 0x0f) as u8,
                    bits_offset: ((enc >> 16) & 0xff) as u8,
                    nr_bits: (enc & 0xff) as u8,
                }
            }
            KIND_PTR => Ty::Ptr { ty: size_or_type },
            KIND_ARRAY => {
                let elem = cur.u32()?;
                let _index_type = cur.u32()?;
                let nelems = cur.u32()?;
                Ty::Array { elem, nelems }
            }
            KIND_STRUCT | KIND_UNION => {
                let mut members = Vec::new();
                for _ in 0..vlen {
                    let m_name = cur.u32()?;
                    let m_ty = cur.u32()?;
                    let off = cur.u32()?;
                    let (offset_bits, bitfield_bits) =
                        if kind_flag { (off & 0x00ff_ffff, off >> 24) } else { (off, 0) };
                    members.push(RawMember { name_off: m_name, ty: m_ty, offset_bits, bitfield_bits });
                }
                Ty::Composite { name_off, size: size_or_type, union: kind == KIND_UNION, members }
            }
            KIND_ENUM => {
                let mut values = Vec::new();
                for _ in 0..vlen {
                    let v_name = cur.u32()?;
                    let raw = cur.u32()?;
                    let val = if kind_flag { i64::from(raw as i32) } else { i64::from(raw) };
                    values.push((v_name, val));
                }
                Ty::Enum { name_off, size: size_or_type, signed: kind_flag, values }
            }
            KIND_ENUM64 => {
                let mut values = Vec::new();
                for _ in 0..vlen {
                    let v_name = cur.u32()?;
                    let lo = cur.u32()?;
                    let hi = cur.u32()?;
                    // Unsigned values above i64::MAX wrap; `signed` says how to read them.
                    let val = ((u64::from(hi) << 32) | u64::from(lo)) as i64;
                    values.push((v_name, val));
                }
                Ty::Enum { name_off, size: size_or_type, signed: kind_flag, values }
            }
            KIND_FWD => Ty::Fwd { name_off, union: kind_flag },
            KIND_TYPEDEF => Ty::Typedef { name_off, ty: size_or_type },
            KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => Ty::Qualifier { kind, ty: size_or_type },
            KIND_FUNC => Ty::Func,
            KIND_FUNC_PROTO => {
                for _ in 0..vlen {
                    cur.u32()?;
                    cur.u32()?;
                }
                Ty::FuncProto
            }
            KIND_VAR => {
                let _linkage = cur.u32()?;
                Ty::Var { name_off, ty: size_or_type }
            }
            KIND_DATASEC => {
                let mut vars = Vec::new();
                for _ in 0..vlen {
                    let ty = cur.u32()?;
                    let offset = cur.u32()?;
                    let size = cur.u32()?;
                    vars.push(SecInfo { ty, offset, size });
                }
                Ty::Datasec { name_off, vars }
            }
            KIND_FLOAT => Ty::Float { size: size_or_type },
            KIND_DECL_TAG => {
                let _component_idx = cur.u32()?;
                Ty::DeclTag
            }
            other => return Err(malformed(format!("type id {id} has unknown kind {other}"))),
        };
        types.push(ty);
    }
    Ok(types)
}
