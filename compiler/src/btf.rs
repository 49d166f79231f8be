//! Reading clang-compiled BPF objects: this module owns everything the
//! compiler learns from a `.o` file. It lists the programs (global function
//! symbols in executable sections other than `.text`) and decodes the BTF
//! type information of every BTF-defined map (`SEC(".maps")`) into a
//! [`TypeLayout`] per key and value, so a `.pkt` spec can fill
//! `map sessions[2] = { ue_ip: 10.0.0.1, vlan_out: 300 }` field by field.
//!
//! ELF parsing goes through the `object` crate; the `.BTF` section is decoded
//! by hand (`btf/raw.rs`) and resolved into layouts (`btf/layout.rs`). Input
//! is untrusted: malformed objects produce a [`BtfError`], never a panic.
//! Legacy `maps`-section definitions (`struct bpf_map_def`) are rejected,
//! as libbpf 1.0 does.

mod layout;
mod raw;

use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

use crate::fixture::{MapInfo, MapKind};

/// What a BPF object file contains, as far as the compiler cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Program entry points, in symbol-table order.
    pub programs: Vec<ProgramSym>,
    /// BTF-defined maps, in declaration order.
    pub maps: Vec<MapDef>,
    /// Every BPF helper the object's code calls (by helper id, sorted, deduplicated). The runner uses
    /// it to know whether a program can add or remove map entries itself.
    pub helper_calls: Vec<u32>,
    /// Global variables (`.rodata`, `.data`, `.bss`), which specs set and check by name.
    pub globals: Vec<GlobalVar>,
    /// Struct types the object's BTF defines, by name, for records a spec names (`as struct NAME`).
    pub structs: Vec<(String, TypeLayout)>,
    /// Sizes of the global data sections (`.rodata`, `.data`, `.bss`, ...): the value size of the map
    /// the loader makes of each.
    pub data_sections: Vec<(String, u32)>,
}

/// A global variable of the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalVar {
    pub name: String,
    /// `.rodata`, `.data`, `.bss` (or a named subsection like `.data.config`).
    pub section: String,
    /// Offset in the section, which is one array value of the map the loader makes of it.
    pub offset: u32,
    pub ty: TypeLayout,
}

impl GlobalVar {
    /// Read-only for the program: `const volatile` configuration, fixed at load.
    pub fn is_rodata(&self) -> bool {
        self.section.starts_with(".rodata")
    }
}

impl ObjectInfo {
    /// The program whose function symbol is `name`.
    pub fn program(&self, name: &str) -> Option<&ProgramSym> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The map declared as `name`.
    pub fn map(&self, name: &str) -> Option<&MapDef> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// The global variable `name`.
    pub fn global(&self, name: &str) -> Option<&GlobalVar> {
        self.globals.iter().find(|g| g.name == name)
    }

    /// The named struct `name` of the object's BTF.
    pub fn struct_type(&self, name: &str) -> Option<&TypeLayout> {
        self.structs.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

/// One program: a global function placed in its own `SEC(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSym {
    /// The function symbol, e.g. `xdp_main`.
    pub name: String,
    /// The ELF section as written in `SEC()`, e.g. `xdp`, `xdp.frags`, `tc`.
    pub section: String,
}

impl ProgramSym {
    /// What the program's section says about it.
    pub fn class(&self) -> SectionClass {
        SectionClass::of(&self.section)
    }
}

/// What a program's ELF section says about how it loads, following libbpf's section names and, for
/// names libbpf 1.x no longer knows, iproute2 and xdp-loader, which load any named section as XDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionClass {
    /// `xdp`, `xdp.frags`, `xdp/...`: an XDP program (multi-buffer with `frags`).
    Xdp { frags: bool },
    /// A name libbpf 1.x rejects but older loaders took as XDP (`xdp_patch_ports`, `prog`): loaded as
    /// XDP, the type coming from the spec's `xdp` hook.
    Legacy,
    /// `xdp/devmap`, `xdp/cpumap` (and their `.frags` and legacy `xdp_devmap/` forms): programs run on
    /// redirect, which BPF_PROG_TEST_RUN refuses.
    XdpOnRedirect { cpumap: bool },
    /// A program of another type (`tc`, `kprobe/...`): left alone.
    Other { kind: &'static str },
}

/// Section prefixes of libbpf's program types other than XDP, with the type's name.
const OTHER_SECTIONS: &[(&str, &str)] = &[
    ("socket", "socket filter"),
    ("sk_reuseport", "sk_reuseport"),
    ("kprobe", "kprobe"),
    ("kretprobe", "kprobe"),
    ("kprobe.multi", "kprobe"),
    ("kretprobe.multi", "kprobe"),
    ("ksyscall", "kprobe"),
    ("kretsyscall", "kprobe"),
    ("uprobe", "uprobe"),
    ("uretprobe", "uprobe"),
    ("uprobe.s", "uprobe"),
    ("uretprobe.s", "uprobe"),
    ("uprobe.multi", "uprobe"),
    ("uretprobe.multi", "uprobe"),
    ("usdt", "usdt"),
    ("tc", "tc"),
    ("tcx", "tc"),
    ("netkit", "tc"),
    ("classifier", "tc"),
    ("action", "tc action"),
    ("tracepoint", "tracepoint"),
    ("tp", "tracepoint"),
    ("raw_tracepoint", "raw tracepoint"),
    ("raw_tp", "raw tracepoint"),
    ("raw_tracepoint.w", "raw tracepoint"),
    ("raw_tp.w", "raw tracepoint"),
    ("tp_btf", "BTF tracepoint"),
    ("fentry", "tracing"),
    ("fentry.s", "tracing"),
    ("fexit", "tracing"),
    ("fexit.s", "tracing"),
    ("fmod_ret", "tracing"),
    ("fmod_ret.s", "tracing"),
    ("freplace", "extension"),
    ("lsm", "LSM"),
    ("lsm.s", "LSM"),
    ("lsm_cgroup", "LSM"),
    ("iter", "iterator"),
    ("iter.s", "iterator"),
    ("syscall", "syscall"),
    ("cgroup_skb", "cgroup"),
    ("cgroup", "cgroup"),
    ("sockops", "sockops"),
    ("sk_skb", "sk_skb"),
    ("sk_msg", "sk_msg"),
    ("lirc_mode2", "lirc"),
    ("flow_dissector", "flow dissector"),
    ("sk_lookup", "sk_lookup"),
    ("perf_event", "perf event"),
    ("struct_ops", "struct_ops"),
    ("struct_ops.s", "struct_ops"),
    ("netfilter", "netfilter"),
];

impl SectionClass {
    pub fn of(section: &str) -> SectionClass {
        let (head, rest) = match section.split_once('/') {
            Some((h, r)) => (h, Some(r)),
            None => (section, None),
        };
        match (head, rest) {
            ("xdp" | "xdp.frags", Some("devmap")) | ("xdp_devmap", _) => SectionClass::XdpOnRedirect { cpumap: false },
            ("xdp" | "xdp.frags", Some("cpumap")) | ("xdp_cpumap", _) => SectionClass::XdpOnRedirect { cpumap: true },
            ("xdp", _) => SectionClass::Xdp { frags: false },
            ("xdp.frags", _) => SectionClass::Xdp { frags: true },
            _ => match OTHER_SECTIONS.iter().find(|(prefix, _)| *prefix == head) {
                Some((_, kind)) => SectionClass::Other { kind },
                None => SectionClass::Legacy,
            },
        }
    }

    /// Whether a spec can run this program through BPF_PROG_TEST_RUN as XDP.
    pub fn runs_as_xdp(self) -> bool {
        matches!(self, SectionClass::Xdp { .. } | SectionClass::Legacy)
    }

    pub fn frags(self) -> bool {
        matches!(self, SectionClass::Xdp { frags: true })
    }
}

/// One BTF-defined map (`struct { __uint(type, ...); ... } name SEC(".maps")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDef {
    /// The map variable's name.
    pub name: String,
    /// `enum bpf_map_type` value (0 when the definition has no `type`).
    pub map_type: u32,
    /// `max_entries` (0 when absent).
    pub max_entries: u32,
    /// `map_flags`, e.g. `BPF_F_NO_PREALLOC` (0 when absent).
    pub flags: u32,
    /// `__uint(pinning, LIBBPF_PIN_BY_NAME)`: the loader pins it in a bpffs.
    pub pinned: bool,
    /// Key layout: from `__type(key, T)`, else `Opaque` from `key_size`
    /// (`Opaque { size: 0 }` when neither is given, e.g. ring buffers).
    pub key: TypeLayout,
    /// Value layout, same rules as `key`. For per-CPU maps this is one CPU's
    /// value.
    pub value: TypeLayout,
}

impl MapDef {
    /// The map's kind (`enum bpf_map_type`).
    pub fn kind(&self) -> MapKind {
        MapKind::from_raw(self.map_type)
    }

    /// Whether each key holds one value per CPU.
    pub fn is_per_cpu(&self) -> bool {
        self.kind().is_per_cpu()
    }

    /// Whether this is an LPM trie (keys start with a `__u32` prefix length).
    pub fn is_lpm(&self) -> bool {
        self.kind().is_lpm()
    }

    /// The map type's name as in `BPF_MAP_TYPE_*`, lower-case: `"hash"`, `"percpu_array"`, ...
    pub fn type_name(&self) -> &'static str {
        self.kind().name()
    }

    /// What fixtures carry about this map.
    pub fn info(&self) -> MapInfo {
        MapInfo {
            name: self.name.clone(),
            kind: self.kind(),
            max_entries: self.max_entries,
            key_size: self.key.size(),
            value_size: self.value.size(),
            key: crate::mapvalue::leaf_fields(&self.key),
            value: crate::mapvalue::leaf_fields(&self.value),
            pinned: self.pinned,
        }
    }
}

/// The memory layout of a map key or value, with typedefs and qualifiers
/// resolved away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeLayout {
    /// An integer. `name` is the outermost typedef name the source used
    /// (`__be32`, `__u16`), else the C type name (`unsigned int`).
    /// `big_endian` is set when a typedef named `__be16`, `__be32`,
    /// `__be64`, `__sum16` or `__wsum` was crossed: the program keeps the
    /// field in network byte order.
    Int {
        /// Type name as written in the source.
        name: String,
        /// Size in bytes (1, 2, 4, 8 or 16).
        size: u32,
        /// Signed integer.
        signed: bool,
        /// Stored in network byte order.
        big_endian: bool,
    },
    /// `_Bool` / `bool`, one byte.
    Bool,
    /// A fixed-size array.
    Array {
        /// Element layout.
        elem: Box<TypeLayout>,
        /// Number of elements (0 for a flexible array member).
        len: u32,
    },
    /// A struct.
    Struct {
        /// Tag name; `None` for an anonymous struct.
        name: Option<String>,
        /// `sizeof`, including padding.
        size: u32,
        /// Members in declaration order.
        members: Vec<Member>,
    },
    /// A union.
    Union {
        /// Tag name; `None` for an anonymous union.
        name: Option<String>,
        /// `sizeof`.
        size: u32,
        /// Alternatives in declaration order (all at offset 0 unless bitfields).
        members: Vec<Member>,
    },
    /// An enum (or 64-bit enum).
    Enum {
        /// Tag name; `None` for an anonymous enum.
        name: Option<String>,
        /// Size in bytes (1, 2, 4 or 8).
        size: u32,
        /// Whether values are signed.
        signed: bool,
        /// Enumerators and their values (unsigned 64-bit values above
        /// `i64::MAX` wrap to negative).
        values: Vec<(String, i64)>,
    },
    /// Any pointer, 8 bytes.
    Pointer,
    /// Bytes of unknown structure: `key_size`/`value_size` without a type,
    /// or a floating-point member.
    Opaque {
        /// Size in bytes.
        size: u32,
    },
}

/// One member of a [`TypeLayout::Struct`] or [`TypeLayout::Union`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Member name; empty for an anonymous struct/union member.
    pub name: String,
    /// Offset from the start of the enclosing type, in bits (a multiple of 8
    /// unless this is a bitfield).
    pub offset_bits: u32,
    /// Bitfield width in bits; 0 when the member is not a bitfield.
    pub bitfield_bits: u32,
    /// The member's layout (for bitfields, the declared integer type).
    pub ty: TypeLayout,
}

impl TypeLayout {
    /// `sizeof` this type in bytes (saturating, though resolved layouts are
    /// checked to fit in `u32`).
    pub fn size(&self) -> u32 {
        match self {
            TypeLayout::Int { size, .. }
            | TypeLayout::Struct { size, .. }
            | TypeLayout::Union { size, .. }
            | TypeLayout::Enum { size, .. }
            | TypeLayout::Opaque { size } => *size,
            TypeLayout::Bool => 1,
            TypeLayout::Pointer => 8,
            TypeLayout::Array { elem, len } => elem.size().saturating_mul(*len),
        }
    }
}

/// Why an object file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    /// The bytes do not start with the ELF magic.
    #[error("not an ELF file")]
    NotElf,
    /// The ELF structure itself is broken.
    #[error("malformed ELF: {0}")]
    Elf(String),
    /// An ELF file for another machine (an x86 or arm binary, a host object): `e_machine` is not
    /// EM_BPF.
    #[error("not a BPF object: an ELF file for {machine} (compile with clang -target bpf)")]
    NotBpf {
        /// What the ELF header says the machine is.
        machine: String,
    },
    /// No `.BTF` section: the object was compiled without `-g`.
    #[error("no .BTF section (compile with -g)")]
    NoBtf,
    /// The object defines maps the pre-BTF way (`SEC("maps")`).
    #[error(
        "legacy `maps` section (struct bpf_map_def) is not supported; \
         declare maps with SEC(\".maps\") and __uint/__type"
    )]
    LegacyMaps,
    /// The `.BTF` section is big-endian (e.g. built with `-target bpfeb`).
    #[error("big-endian BTF is not supported (build with -target bpf or bpfel)")]
    BigEndian,
    /// The BTF data is inconsistent or not understood.
    #[error("malformed BTF: {0}")]
    Malformed(String),
    /// The object file could not be read from disk.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Reads the programs and BTF-defined maps of a BPF ELF object.
///
/// # Errors
///
/// [`BtfError::NotElf`] / [`BtfError::Elf`] for non-ELF or broken ELF input,
/// [`BtfError::NoBtf`] without a `.BTF` section, [`BtfError::LegacyMaps`]
/// for a `maps` section, and the errors of [`read_btf_maps`].
pub fn read_object(bytes: &[u8]) -> Result<ObjectInfo, BtfError> {
    if !bytes.starts_with(b"\x7fELF") {
        return Err(BtfError::NotElf);
    }
    let elf = |e: object::read::Error| BtfError::Elf(e.to_string());
    let file = object::File::parse(bytes).map_err(elf)?;
    if file.architecture() != object::Architecture::Bpf {
        // `e_machine` (offset 18, two bytes in the file's byte order): the number the ELF spec gives.
        let raw = bytes.get(18..20).map(|b| {
            if bytes.get(5) == Some(&2) {
                u16::from_be_bytes([b[0], b[1]])
            } else {
                u16::from_le_bytes([b[0], b[1]])
            }
        });
        let machine = match file.architecture() {
            object::Architecture::Unknown => format!("machine {}", raw.unwrap_or(0)),
            a => format!("{a:?}").to_lowercase().replace('_', "-"),
        };
        return Err(BtfError::NotBpf { machine });
    }

    let mut programs = Vec::new();
    for sym in file.symbols() {
        if sym.kind() != SymbolKind::Text || !sym.is_global() || sym.is_undefined() {
            continue;
        }
        let Some(index) = sym.section_index() else {
            continue;
        };
        let section = file.section_by_index(index).map_err(elf)?;
        if section.kind() != SectionKind::Text {
            continue;
        }
        let section_name = section.name().map_err(elf)?;
        if section_name == ".text" {
            continue;
        }
        programs.push(ProgramSym { name: sym.name().map_err(elf)?.to_string(), section: section_name.to_string() });
    }

    let mut helper_calls = Vec::new();
    for section in file.sections().filter(|s| s.kind() == SectionKind::Text) {
        helper_calls.extend(helper_calls_in(section.data().map_err(elf)?));
    }
    helper_calls.sort_unstable();
    helper_calls.dedup();

    if file.section_by_name("maps").is_some_and(|s| s.size() > 0) {
        return Err(BtfError::LegacyMaps);
    }
    let btf = file.section_by_name(".BTF").ok_or(BtfError::NoBtf)?;
    let data_sections = file
        .sections()
        .filter_map(|sec| {
            let name = sec.name().ok()?;
            let data = name.starts_with(".rodata") || name.starts_with(".data") || name.starts_with(".bss");
            (data && sec.size() > 0).then(|| (name.to_string(), sec.size() as u32))
        })
        .collect();
    let btf_data = btf.data().map_err(elf)?;
    let maps = read_btf_maps(btf_data)?;
    let raw = raw::Btf::parse(btf_data)?;
    let mut globals = layout::globals(&raw)?;
    // clang leaves the DATASEC offsets at 0 (the loader fills them in from the symbol table): take
    // each variable's offset from its symbol.
    for g in &mut globals {
        let sym = file.symbols().find(|sym| {
            sym.name() == Ok(g.name.as_str())
                && sym
                    .section_index()
                    .and_then(|i| file.section_by_index(i).ok())
                    .and_then(|s| s.name().ok().map(str::to_string))
                    == Some(g.section.clone())
        });
        if let Some(sym) = sym {
            g.offset = sym.address() as u32;
        }
    }
    let structs = layout::structs(&raw);
    Ok(ObjectInfo { programs, maps, helper_calls, globals, structs, data_sections })
}

/// Helper ids of `call` instructions (opcode 0x85 with source register 0; 1 is a BPF-to-BPF call and 2 a
/// kfunc) in a section of BPF code. Instructions are 8 bytes; the second half of a 16-byte `ld_imm64`
/// has opcode 0 and is skipped naturally.
fn helper_calls_in(code: &[u8]) -> impl Iterator<Item = u32> + '_ {
    code.chunks_exact(8)
        .filter(|insn| insn[0] == 0x85 && insn[1] >> 4 == 0)
        .map(|insn| i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]) as u32)
}

/// The C source files named in the object's BTF line info (`.BTF.ext`), as the compiler recorded them
/// (absolute, or relative to the directory clang ran in), in order of first appearance. The kernel's
/// verifier log cites only their base names (`; if (x) @ prog.c:12`); this gives the whole path back.
/// Empty when the object has no line info. Never panics on malformed input.
pub fn source_files(bytes: &[u8]) -> Vec<String> {
    let Ok(file) = object::File::parse(bytes) else {
        return Vec::new();
    };
    let (Some(btf), Some(ext)) = (file.section_by_name(".BTF"), file.section_by_name(".BTF.ext")) else {
        return Vec::new();
    };
    let (Ok(btf), Ok(ext)) = (btf.data(), ext.data()) else {
        return Vec::new();
    };
    line_info_files(btf, ext).unwrap_or_default()
}

/// File names of the line info records in `.BTF.ext`, resolved in the `.BTF` string section.
fn line_info_files(btf: &[u8], ext: &[u8]) -> Option<Vec<String>> {
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        b.get(at..at.checked_add(4)?).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    // struct btf_header: magic u16, version u8, flags u8, hdr_len, type_off, type_len, str_off, str_len.
    if btf.get(..2)? != [0x9f, 0xeb] {
        return None;
    }
    let strings_at = (u32_at(btf, 4)? as usize).checked_add(u32_at(btf, 16)? as usize)?;
    let strings = btf.get(strings_at..strings_at.checked_add(u32_at(btf, 20)? as usize)?)?;
    // struct btf_ext_header: magic u16, version u8, flags u8, hdr_len, func_info_off, func_info_len,
    // line_info_off, line_info_len (offsets from the end of the header).
    if ext.get(..2)? != [0x9f, 0xeb] {
        return None;
    }
    let hdr_len = u32_at(ext, 4)? as usize;
    let start = hdr_len.checked_add(u32_at(ext, 16)? as usize)?;
    let info = ext.get(start..start.checked_add(u32_at(ext, 20)? as usize)?)?;
    // rec_size, then per section: sec_name_off, num_info, num_info records of rec_size bytes whose
    // second word is file_name_off.
    let rec_size = u32_at(info, 0)? as usize;
    if rec_size < 8 {
        return None;
    }
    let mut files: Vec<String> = Vec::new();
    let mut at = 4;
    while at < info.len() {
        let n = u32_at(info, at + 4)? as usize;
        at += 8;
        for _ in 0..n {
            let off = u32_at(info, at + 4)? as usize;
            let name = strings.get(off..)?;
            let name = &name[..name.iter().position(|&b| b == 0)?];
            let name = String::from_utf8_lossy(name).into_owned();
            if !name.is_empty() && !files.contains(&name) {
                files.push(name);
            }
            at = at.checked_add(rec_size)?;
        }
    }
    Some(files)
}

/// The [`Program`] a fixture carries for program `name` of the object at `path`, for tools and tests
/// that load a program without a spec (`location` is left empty).
pub fn describe_program(path: &Path, name: &str) -> Result<crate::fixture::Program, BtfError> {
    let bytes = std::fs::read(path).map_err(|source| BtfError::Io { path: path.to_path_buf(), source })?;
    let info = read_object(&bytes)?;
    let section = info.program(name).map(|p| p.section.clone()).unwrap_or_default();
    Ok(crate::fixture::Program {
        object: path.display().to_string(),
        hook: "xdp".into(),
        name: name.into(),
        frags: SectionClass::of(&section).frags(),
        also: Vec::new(),
        rodata: Vec::new(),
        section,
        location: String::new(),
        controls: false,
        facts: crate::fixture::ProgramFacts::new(info.helper_calls.clone(), source_files(&bytes)),
        maps: info.maps.iter().map(MapDef::info).collect(),
    })
}

/// [`read_object`] on a file read from `path`.
///
/// # Errors
///
/// [`BtfError::Io`] if the file cannot be read, else as [`read_object`].
pub fn read_object_file(path: &Path) -> Result<ObjectInfo, BtfError> {
    let bytes = std::fs::read(path).map_err(|source| BtfError::Io { path: path.to_path_buf(), source })?;
    read_object(&bytes)
}

/// Decodes the maps of a raw `.BTF` section (the bytes of the section, not
/// the whole object).
///
/// # Errors
///
/// [`BtfError::BigEndian`] for big-endian BTF, [`BtfError::Malformed`] for
/// anything inconsistent: bad header, truncated sections, dangling type ids,
/// cycles, members outside their struct, map fields of the wrong shape.
pub fn read_btf_maps(btf: &[u8]) -> Result<Vec<MapDef>, BtfError> {
    let btf = raw::Btf::parse(btf)?;
    layout::maps(&btf)
}
