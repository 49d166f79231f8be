//! Integration tests for `xdptest_compiler::btf` against real clang-built
//! objects (fixtures in `tests/btf_fixtures/`). Layouts are asserted by hand
//! and cross-checked against `bpftool btf dump ... format raw`, an
//! independent BTF decoder.

#[path = "btf_fixtures/compile.rs"]
mod compile;

use std::collections::HashMap;

use xdptest_compiler::btf::{read_object, read_object_file, BtfError, MapDef, Member, TypeLayout};

fn int(name: &str, size: u32) -> TypeLayout {
    TypeLayout::Int { name: name.into(), size, signed: false, big_endian: false }
}

fn sint(name: &str, size: u32) -> TypeLayout {
    TypeLayout::Int { name: name.into(), size, signed: true, big_endian: false }
}

fn be(name: &str, size: u32) -> TypeLayout {
    TypeLayout::Int { name: name.into(), size, signed: false, big_endian: true }
}

fn arr(elem: TypeLayout, len: u32) -> TypeLayout {
    TypeLayout::Array { elem: Box::new(elem), len }
}

fn m(name: &str, offset_bits: u32, ty: TypeLayout) -> Member {
    Member { name: name.into(), offset_bits, bitfield_bits: 0, ty }
}

fn bits(name: &str, offset_bits: u32, bitfield_bits: u32, ty: TypeLayout) -> Member {
    Member { name: name.into(), offset_bits, bitfield_bits, ty }
}

fn map<'a>(maps: &'a [MapDef], name: &str) -> &'a MapDef {
    maps.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("map {name} not found"))
}

fn member<'a>(ty: &'a TypeLayout, name: &str) -> &'a Member {
    let (TypeLayout::Struct { members, .. } | TypeLayout::Union { members, .. }) = ty else {
        panic!("not an aggregate: {ty:?}");
    };
    members.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("member {name} not found"))
}

#[test]
fn btf_lists_programs_outside_text() {
    let obj = compile::compile("maps");
    let info = read_object(&obj.bytes).unwrap();
    let progs: Vec<(&str, &str)> = info.programs.iter().map(|p| (p.name.as_str(), p.section.as_str())).collect();
    // `helper` is a static function in .text: not a program.
    assert_eq!(progs, [("xdp_main", "xdp"), ("xdp_frags_prog", "xdp.frags"), ("tc_prog", "tc")]);
    assert_eq!(info.program("xdp_main").unwrap().section, "xdp");
    assert!(info.program("helper").is_none());
    // The file-reading wrapper sees the same thing.
    assert_eq!(read_object_file(&obj.path).unwrap(), info);
}

#[test]
fn btf_hash_with_struct_value() {
    let info = read_object(&compile::compile("maps").bytes).unwrap();
    let names: Vec<&str> = info.maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["sessions", "counters", "tx_ports", "routes", "backends"]);

    let s = map(&info.maps, "sessions");
    assert_eq!((s.map_type, s.type_name()), (1, "hash"));
    assert_eq!((s.max_entries, s.flags), (1024, 0));
    assert!(!s.is_per_cpu() && !s.is_lpm());
    assert_eq!(s.key, int("__u32", 4));
    let u32_ = || int("__u32", 4);
    let expected = TypeLayout::Struct {
        name: Some("session".into()),
        size: 48,
        members: vec![
            m("ue_ip", 0, be("__be32", 4)),
            m("vlan_out", 32, be("__be16", 2)),
            m("mac", 48, arr(int("__u8", 1), 6)),
            m(
                "nested",
                96,
                TypeLayout::Struct {
                    name: Some("inner".into()),
                    size: 4,
                    members: vec![m("port", 0, int("__u16", 2)), m("proto", 16, int("__u8", 1))],
                },
            ),
            bits("teid_hi", 128, 12, u32_()),
            bits("teid_lo", 140, 20, u32_()),
            m("counter", 192, sint("__s64", 8)),
            m("csum", 256, be("__sum16", 2)),
            m("active", 272, TypeLayout::Bool),
            m(
                "state",
                288,
                TypeLayout::Enum {
                    name: Some("session_state".into()),
                    size: 4,
                    signed: false,
                    values: vec![("SESSION_IDLE".into(), 0), ("SESSION_UP".into(), 1), ("SESSION_DOWN".into(), 7)],
                },
            ),
            m(
                "u",
                320,
                TypeLayout::Union {
                    name: None,
                    size: 4,
                    members: vec![m("raw", 0, u32_()), m("bytes", 0, arr(int("__u8", 1), 4))],
                },
            ),
        ],
    };
    assert_eq!(s.value, expected);
    assert_eq!(s.value.size(), 48);
    assert_eq!(
        s.value.describe(),
        "struct session { __be32 ue_ip; __be16 vlan_out; __u8 mac[6]; struct inner nested; \
         __u32 teid_hi:12; __u32 teid_lo:20; __s64 counter; __sum16 csum; _Bool active; \
         enum session_state state; union { __u32 raw; __u8 bytes[4]; } u; }"
    );
}

#[test]
fn btf_percpu_lpm_devmap_and_array_of_structs() {
    let info = read_object(&compile::compile("maps").bytes).unwrap();

    let c = map(&info.maps, "counters");
    assert_eq!((c.type_name(), c.max_entries), ("percpu_array", 4));
    assert!(c.is_per_cpu());
    assert_eq!(c.value, int("__u64", 8));

    let r = map(&info.maps, "routes");
    assert_eq!((r.map_type, r.type_name(), r.max_entries), (11, "lpm_trie", 256));
    assert!(r.is_lpm() && !r.is_per_cpu());
    assert_eq!(r.flags, 1, "BPF_F_NO_PREALLOC");
    assert_eq!(
        r.key,
        TypeLayout::Struct {
            name: Some("lpm_key".into()),
            size: 8,
            members: vec![m("prefixlen", 0, int("__u32", 4)), m("addr", 32, be("__be32", 4))],
        }
    );
    assert_eq!(r.key.describe(), "struct lpm_key { __u32 prefixlen; __be32 addr; }");

    let d = map(&info.maps, "tx_ports");
    assert_eq!((d.map_type, d.type_name(), d.max_entries), (14, "devmap", 8));
    assert_eq!(d.key, TypeLayout::Opaque { size: 4 });
    assert_eq!(d.value, TypeLayout::Opaque { size: 4 });

    let b = map(&info.maps, "backends");
    assert_eq!((b.type_name(), b.max_entries), ("array", 2));
    let TypeLayout::Array { elem, len: 4 } = &b.value else {
        panic!("backends value: {:?}", b.value);
    };
    assert_eq!(b.value.size(), 48);
    assert_eq!(elem.size(), 12);
    assert_eq!(member(elem, "weight").offset_bits, 80);
    assert_eq!(b.value.describe(), "struct backend { __be32 addr; __u8 mac[6]; __u16 weight; }[4]");
}

#[test]
fn btf_edge_shapes() {
    let info = read_object(&compile::compile("edge").bytes).unwrap();
    assert_eq!(info.programs.len(), 1);
    assert_eq!(info.programs[0].name, "xdp_edge");

    let f = map(&info.maps, "flows");
    assert_eq!((f.type_name(), f.max_entries), ("lru_percpu_hash", 16));
    assert!(f.is_per_cpu());
    assert_eq!(f.key, be("__be64", 8));
    let v = &f.value;
    let TypeLayout::Struct { name: None, size: 72, .. } = v else {
        panic!("flows value: {v:?}");
    };
    // const volatile typedef chain still finds __be64.
    assert_eq!(member(v, "cookie").ty, be("__be64", 8));
    assert_eq!(member(v, "ports").ty, arr(arr(be("__be16", 2), 3), 2));
    let anon = member(v, "");
    assert_eq!(anon.offset_bits, 160);
    assert_eq!(member(&anon.ty, "b").offset_bits, 8);
    let TypeLayout::Enum { values, signed, .. } = &member(v, "verdict").ty else {
        panic!("verdict is not an enum");
    };
    // clang < 15 marks every enum unsigned; newer clang sets the signed flag.
    let neg = values[0].1;
    assert!((*signed && neg == -2) || (!*signed && neg == 0xffff_fffe), "{values:?}");
    assert!(matches!(&member(v, "anon_kind").ty, TypeLayout::Enum { name: None, size: 4, .. }));
    assert_eq!(member(v, "up").ty, TypeLayout::Bool);
    assert_eq!(member(v, "ifindex").ty, int("ifindex_t", 4));
    assert_eq!(member(v, "partial").ty, be("__wsum", 4));
    let n = &member(v, "n").ty;
    assert_eq!(member(n, "next").ty, TypeLayout::Pointer);
    assert_eq!(member(n, "user_ptr").ty, TypeLayout::Pointer);
    assert_eq!(member(n, "weight").ty, TypeLayout::Opaque { size: 8 });
    let tail = member(v, "tail");
    assert_eq!((tail.offset_bits, tail.ty.size()), (576, 0));
    assert_eq!(
        v.describe(),
        "struct { __be64 cookie; __be16 ports[2][3]; struct { __u8 a; __u8 b; }; \
         enum { ANON_A = 1, ANON_B = 2 } anon_kind; enum verdict verdict; _Bool up; \
         ifindex_t ifindex; __wsum partial; struct node n; __u8 tail[0]; }"
    );

    let e = map(&info.maps, "events");
    assert_eq!((e.type_name(), e.max_entries), ("ringbuf", 4096));
    assert_eq!(e.key, TypeLayout::Opaque { size: 0 });
    assert_eq!(e.value, TypeLayout::Opaque { size: 0 });

    // Map definition struct reached through a typedef.
    let s = map(&info.maps, "small");
    assert_eq!((s.type_name(), s.max_entries), ("array", 1));
    assert_eq!(s.value, sint("signed char", 1));
}

#[test]
fn btf_error_cases() {
    let legacy = compile::compile("legacy");
    let err = read_object(&legacy.bytes).unwrap_err();
    assert!(matches!(err, BtfError::LegacyMaps), "{err:?}");
    assert!(err.to_string().contains("legacy `maps` section"));

    let no_btf = compile::compile_with("maps", &[]);
    let err = read_object(&no_btf.bytes).unwrap_err();
    assert_eq!(err.to_string(), "no .BTF section (compile with -g)");

    let big = compile::compile_with("maps", &["-g", "-target", "bpfeb"]);
    let err = read_object(&big.bytes).unwrap_err();
    assert!(matches!(err, BtfError::BigEndian), "{err:?}");

    let err = read_object(b"#!/bin/sh\necho not elf\n").unwrap_err();
    assert_eq!(err.to_string(), "not an ELF file");
    let err = read_object(b"\x7fELF\x02\x01").unwrap_err();
    assert!(err.to_string().starts_with("malformed ELF"), "{err}");

    let missing = std::env::temp_dir().join("xdptest-btf-definitely-missing.o");
    let err = read_object_file(&missing).unwrap_err();
    assert!(matches!(err, BtfError::Io { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------
// bpftool oracle

/// One type from `bpftool btf dump ... format raw`.
#[derive(Debug, Default)]
struct OType {
    kind: String,
    name: String,
    /// `size=` (INT, STRUCT, UNION, ENUM, FLOAT).
    size: Option<u32>,
    /// `type_id=` on the header line (PTR, TYPEDEF, CONST, VAR, ARRAY elem...).
    type_id: Option<u32>,
    nr_elems: Option<u32>,
    encoding: String,
    /// Indented lines: members, enumerators or secinfos.
    lines: Vec<String>,
}

/// `key=value` fields (and the quoted name) of one line.
fn fields(line: &str) -> HashMap<String, String> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_end_matches(',').to_string()))
        .collect()
}

fn quoted(line: &str) -> String {
    let start = line.find('\'').expect("quoted name");
    let end = line[start + 1..].find('\'').expect("closing quote") + start + 1;
    line[start + 1..end].to_string()
}

fn parse_bpftool(text: &str) -> HashMap<u32, OType> {
    let mut types = HashMap::new();
    let mut current: Option<u32> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            let (id, rest) = rest.split_once("] ").unwrap();
            let id: u32 = id.parse().unwrap();
            let kind = rest.split_whitespace().next().unwrap().to_string();
            let f = fields(rest);
            let num = |k: &str| f.get(k).map(|v| v.parse::<u32>().unwrap());
            types.insert(
                id,
                OType {
                    kind,
                    name: quoted(rest),
                    size: num("size"),
                    type_id: num("type_id"),
                    nr_elems: num("nr_elems"),
                    encoding: f.get("encoding").cloned().unwrap_or_default(),
                    lines: Vec::new(),
                },
            );
            current = Some(id);
        } else if let Some(body) = line.strip_prefix('\t') {
            let id = current.expect("member line before any type");
            types.get_mut(&id).unwrap().lines.push(body.to_string());
        }
    }
    types
}

struct Oracle {
    types: HashMap<u32, OType>,
}

impl Oracle {
    fn get(&self, id: u32) -> &OType {
        &self.types[&id]
    }

    /// Skips typedefs and qualifiers; reports whether a `__be*`-style
    /// typedef was crossed and the outermost typedef name.
    fn peel(&self, mut id: u32) -> (u32, bool, Option<String>) {
        let (mut big, mut first) = (false, None);
        loop {
            let t = self.get(id);
            match t.kind.as_str() {
                "TYPEDEF" => {
                    big |= ["__be16", "__be32", "__be64", "__sum16", "__wsum"].contains(&t.name.as_str());
                    first.get_or_insert(t.name.clone());
                }
                "CONST" | "VOLATILE" | "RESTRICT" | "TYPE_TAG" => {}
                _ => return (id, big, first),
            }
            id = t.type_id.unwrap();
        }
    }

    /// `int (*name)[N]` → N.
    fn uint(&self, id: u32) -> u32 {
        let ptr = self.get(self.peel(id).0);
        assert_eq!(ptr.kind, "PTR");
        let a = self.get(self.peel(ptr.type_id.unwrap()).0);
        a.nr_elems.unwrap()
    }

    /// Compares our layout with the type bpftool printed for `id`.
    fn check(&self, ours: &TypeLayout, id: u32, path: &str) {
        let (id, big, typedef) = self.peel(id);
        let t = self.get(id);
        match t.kind.as_str() {
            "INT" if t.encoding == "BOOL" => assert_eq!(ours, &TypeLayout::Bool, "{path}"),
            "INT" => {
                let TypeLayout::Int { name, size, signed, big_endian } = ours else {
                    panic!("{path}: expected INT, have {ours:?}");
                };
                assert_eq!(Some(*size), t.size, "{path} size");
                assert_eq!(*signed, t.encoding == "SIGNED", "{path} signed");
                assert_eq!(*big_endian, big, "{path} big_endian");
                assert_eq!(name, typedef.as_ref().unwrap_or(&t.name), "{path} name");
            }
            "PTR" => assert_eq!(ours, &TypeLayout::Pointer, "{path}"),
            "FLOAT" => assert_eq!(ours, &TypeLayout::Opaque { size: t.size.unwrap() }, "{path}"),
            "ARRAY" => {
                let TypeLayout::Array { elem, len } = ours else {
                    panic!("{path}: expected ARRAY, have {ours:?}");
                };
                assert_eq!(Some(*len), t.nr_elems, "{path} len");
                self.check(elem, t.type_id.unwrap(), &format!("{path}[]"));
            }
            "ENUM" => {
                let TypeLayout::Enum { size, values, .. } = ours else {
                    panic!("{path}: expected ENUM, have {ours:?}");
                };
                assert_eq!(Some(*size), t.size, "{path} size");
                assert_eq!(values.len(), t.lines.len(), "{path} enumerators");
                for ((n, v), line) in values.iter().zip(&t.lines) {
                    assert_eq!(n, &quoted(line), "{path}");
                    let val: i64 = fields(line)["val"].parse().unwrap();
                    assert_eq!(*v, val, "{path}.{n}");
                }
            }
            "STRUCT" | "UNION" => {
                let (TypeLayout::Struct { name, size, members } | TypeLayout::Union { name, size, members }) = ours
                else {
                    panic!("{path}: expected {}, have {ours:?}", t.kind);
                };
                assert_eq!(matches!(ours, TypeLayout::Union { .. }), t.kind == "UNION", "{path}");
                let oname = (t.name != "(anon)").then(|| t.name.clone());
                assert_eq!(name, &oname, "{path} name");
                assert_eq!(Some(*size), t.size, "{path} size");
                assert_eq!(members.len(), t.lines.len(), "{path} member count");
                for (mem, line) in members.iter().zip(&t.lines) {
                    let f = fields(line);
                    let oname = quoted(line);
                    let oname = if oname == "(anon)" { String::new() } else { oname };
                    assert_eq!(mem.name, oname, "{path}");
                    let p = format!("{path}.{oname}");
                    assert_eq!(mem.offset_bits.to_string(), f["bits_offset"], "{p} offset");
                    let bf = f.get("bitfield_size").map_or("0", String::as_str);
                    assert_eq!(mem.bitfield_bits.to_string(), bf, "{p} bitfield");
                    self.check(&mem.ty, f["type_id"].parse().unwrap(), &p);
                }
            }
            other => panic!("{path}: unexpected kind {other}"),
        }
    }

    /// Checks every map of the `.maps` DATASEC; returns how many were checked.
    fn check_maps(&self, maps: &[MapDef]) -> usize {
        let datasec = self
            .types
            .values()
            .find(|t| t.kind == "DATASEC" && t.name == ".maps")
            .expect(".maps DATASEC in bpftool output");
        assert_eq!(datasec.lines.len(), maps.len());
        for line in &datasec.lines {
            let var = self.get(fields(line)["type_id"].parse().unwrap());
            assert_eq!(var.kind, "VAR");
            let ours = map(maps, &var.name);
            let def = self.get(self.peel(var.type_id.unwrap()).0);
            let (mut key_seen, mut value_seen) = (false, false);
            for mline in &def.lines {
                let field = quoted(mline);
                let tid: u32 = fields(mline)["type_id"].parse().unwrap();
                let path = format!("{}.{field}", var.name);
                match field.as_str() {
                    "type" => assert_eq!(ours.map_type, self.uint(tid), "{path}"),
                    "max_entries" => assert_eq!(ours.max_entries, self.uint(tid), "{path}"),
                    "map_flags" => assert_eq!(ours.flags, self.uint(tid), "{path}"),
                    "key_size" if !key_seen => {
                        assert_eq!(ours.key, TypeLayout::Opaque { size: self.uint(tid) })
                    }
                    "value_size" if !value_seen => {
                        assert_eq!(ours.value, TypeLayout::Opaque { size: self.uint(tid) })
                    }
                    "key" | "value" => {
                        let ptr = self.get(self.peel(tid).0);
                        assert_eq!(ptr.kind, "PTR", "{path}");
                        let ty = if field == "key" { &ours.key } else { &ours.value };
                        self.check(ty, ptr.type_id.unwrap(), &path);
                        key_seen |= field == "key";
                        value_seen |= field == "value";
                    }
                    _ => {}
                }
            }
        }
        maps.len()
    }
}

#[test]
fn btf_layouts_match_bpftool() {
    for name in ["maps", "edge"] {
        let obj = compile::compile(name);
        let info = read_object(&obj.bytes).unwrap();
        let oracle = Oracle { types: parse_bpftool(&compile::bpftool_raw(&obj.path)) };
        let checked = oracle.check_maps(&info.maps);
        assert!(checked >= 3, "{name}: only {checked} maps checked");
    }
}

/// The helper calls found in each example program, checked against llvm-objdump's disassembly.
#[test]
fn helper_calls_match_the_disassembly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(std::process::Command::new("make")
        .args(["-s", "-C"])
        .arg(root.join("programs"))
        .status()
        .unwrap()
        .success());
    for prog in ["upf", "firewall", "counter", "icmp_echo", "router"] {
        let obj = root.join(format!("programs/build/{prog}.o"));
        let info = xdptest_compiler::btf::read_object_file(&obj).unwrap();
        let dump = std::process::Command::new("llvm-objdump")
            .arg("-d")
            .arg(&obj)
            .output()
            .expect("llvm-objdump (package llvm)");
        let mut expected: Vec<u32> = String::from_utf8_lossy(&dump.stdout)
            .lines()
            .filter_map(|l| {
                let (_, rest) = l.split_once("call ")?;
                rest.trim().parse::<u32>().ok()
            })
            .collect();
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(info.helper_calls, expected, "{prog}");
        if prog == "upf" {
            // bpf_map_lookup_elem (1) and bpf_xdp_adjust_head (44), at least.
            assert!(expected.contains(&1) && expected.contains(&44), "{expected:?}");
        }
    }
}

/// The source file names of BTF line info: what `bpftool` prints in `prog dump ... linum` comes from the
/// same records. clang records the path it was given.
#[test]
fn btf_line_info_names_the_source_file() {
    let c = compile::compile("maps");
    let files = xdptest_compiler::btf::source_files(&c.bytes);
    let expected = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/btf_fixtures/maps.c");
    assert_eq!(files, vec![expected.display().to_string()]);
    // Without -g there is no line info; garbage gives nothing, never a panic.
    assert!(xdptest_compiler::btf::source_files(&compile::compile_with("maps", &[]).bytes).is_empty());
    assert!(xdptest_compiler::btf::source_files(b"\x7fELF garbage").is_empty());
    for cut in [64, c.bytes.len() / 2, c.bytes.len() - 1] {
        let _ = xdptest_compiler::btf::source_files(&c.bytes[..cut]);
    }
}
