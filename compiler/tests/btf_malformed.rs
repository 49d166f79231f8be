//! Robustness tests for `xdptest_compiler::btf`: random bytes, truncated
//! and mutated `.BTF` sections of a real object, and hand-built hostile BTF
//! (cycles, self-containing structs, exponential type graphs). Every input
//! must yield `Ok` or `Err`, never a panic or a hang.

#[path = "btf_fixtures/compile.rs"]
mod compile;

#[path = "support/xorshift.rs"]
mod xorshift;
use object::{Object, ObjectSection};
use xdptest_compiler::btf::{read_btf_maps, read_object, BtfError};
use xorshift::XorShift;

/// Byte range of the `.BTF` section inside an object file.
fn btf_range(obj: &[u8]) -> std::ops::Range<usize> {
    let file = object::File::parse(obj).unwrap();
    let (off, len) = file.section_by_name(".BTF").unwrap().file_range().unwrap();
    off as usize..(off + len) as usize
}

#[test]
fn btf_random_bytes_are_rejected() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for i in 0..2000 {
        let len = rng.below(512);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Half the inputs get past the magic checks.
        if i % 2 == 0 && len >= 4 {
            bytes[..4].copy_from_slice(b"\x7fELF");
        }
        assert!(read_object(&bytes).is_err(), "random input {i} accepted");
        if i % 2 == 1 && len >= 4 {
            bytes[..4].copy_from_slice(&[0x9f, 0xeb, 1, 0]);
        }
        assert!(read_btf_maps(&bytes).is_err(), "random BTF {i} accepted");
    }
}

#[test]
fn btf_every_truncation_is_an_error() {
    let obj = compile::compile("maps");
    let range = btf_range(&obj.bytes);
    let btf = &obj.bytes[range];
    let full = read_btf_maps(btf).unwrap();
    assert_eq!(full, read_object(&obj.bytes).unwrap().maps);
    for len in 0..btf.len() {
        match read_btf_maps(&btf[..len]) {
            Err(BtfError::Malformed(_)) => {}
            other => panic!("truncated to {len} bytes: {other:?}"),
        }
    }
    // Truncating the whole object must not panic either.
    for len in (0..obj.bytes.len()).step_by(7) {
        let _ = read_object(&obj.bytes[..len]);
    }
}

#[test]
fn btf_mutated_sections_never_panic() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for name in ["maps", "edge"] {
        let obj = compile::compile(name);
        let range = btf_range(&obj.bytes);
        let (mut ok, mut err) = (0, 0);
        for _ in 0..3000 {
            let mut bytes = obj.bytes.clone();
            let btf = &mut bytes[range.clone()];
            for _ in 0..1 + rng.below(4) {
                // Overwrite an aligned u32 (header fields, type ids, sizes,
                // name offsets, info words) with an interesting value, or
                // flip one byte.
                let at = rng.below(btf.len() / 4) * 4;
                let value: u32 = match rng.below(6) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => rng.below(200) as u32,
                    3 => (rng.below(20) as u32) << 24 | rng.below(4) as u32,
                    4 => 1 << 31 | (rng.below(32) as u32) << 24 | rng.below(300) as u32,
                    _ => rng.next() as u32,
                };
                if rng.below(3) == 0 {
                    btf[rng.below(btf.len())] ^= 1 << rng.below(8);
                } else {
                    btf[at..at + 4].copy_from_slice(&value.to_le_bytes());
                }
            }
            let btf_only = read_btf_maps(&bytes[range.clone()]);
            match read_object(&bytes) {
                Ok(info) => {
                    ok += 1;
                    // Whatever was accepted must be self-consistent.
                    assert_eq!(btf_only.unwrap(), info.maps);
                    for m in &info.maps {
                        let _ = (m.key.describe(), m.value.describe(), m.type_name());
                    }
                }
                Err(_) => {
                    err += 1;
                    assert!(btf_only.is_err());
                }
            }
        }
        // Both outcomes must actually be exercised.
        assert!(ok > 0 && err > 0, "{name}: ok={ok} err={err}");
    }
}

/// Builds little-endian BTF blobs by hand.
struct Builder {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

const INT: u32 = 1;
const PTR: u32 = 2;
const ARRAY: u32 = 3;
const STRUCT: u32 = 4;
const TYPEDEF: u32 = 8;
const CONST: u32 = 10;
const VAR: u32 = 14;
const DATASEC: u32 = 15;

impl Builder {
    fn new() -> Self {
        Builder { types: Vec::new(), strings: vec![0], next_id: 1 }
    }

    fn str(&mut self, s: &str) -> u32 {
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn ty(&mut self, name: &str, kind: u32, vlen: u32, size_or_type: u32, extra: &[u32]) -> u32 {
        let name = if name.is_empty() { 0 } else { self.str(name) };
        for w in [name, kind << 24 | vlen, size_or_type].iter().chain(extra) {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.next_id += 1;
        self.next_id - 1
    }

    fn int(&mut self) -> u32 {
        self.ty("int", INT, 0, 4, &[(1 << 24) | 32])
    }

    fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let mut extra = Vec::new();
        for &(n, t, off) in members {
            extra.extend([self.str(n), t, off]);
        }
        self.ty(name, STRUCT, members.len() as u32, size, &extra)
    }

    /// `struct { __uint(type, 1); __type(value, T); } m SEC(".maps")`.
    fn map_with_value(&mut self, value: u32) -> u32 {
        let int = self.int();
        let arr = self.ty("", ARRAY, 0, 0, &[int, int, 1]);
        let ptr_arr = self.ty("", PTR, 0, arr, &[]);
        let ptr_val = self.ty("", PTR, 0, value, &[]);
        let def = self.strukt("", 16, &[("type", ptr_arr, 0), ("value", ptr_val, 64)]);
        let var = self.ty("m", VAR, 0, def, &[1]);
        self.ty(".maps", DATASEC, 1, 0, &[var, 0, 16])
    }

    fn finish(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        let tl = self.types.len() as u32;
        for w in [24, 0, tl, tl, self.strings.len() as u32] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

fn malformed(btf: &[u8]) -> String {
    match read_btf_maps(btf) {
        Err(BtfError::Malformed(msg)) => msg,
        other => panic!("expected a malformed-BTF error, got {other:?}"),
    }
}

#[test]
fn btf_builder_sanity() {
    let mut b = Builder::new();
    let int = b.int();
    let s = b.strukt("pair", 8, &[("a", int, 0), ("b", int, 32)]);
    b.map_with_value(s);
    let maps = read_btf_maps(&b.finish()).unwrap();
    assert_eq!(maps.len(), 1);
    assert_eq!(maps[0].map_type, 1);
    assert_eq!(maps[0].value.size(), 8);
    assert_eq!(maps[0].value.describe(), "struct pair { int a; int b; }");
}

#[test]
fn btf_hostile_type_graphs_are_errors() {
    // typedef a -> const -> typedef a: a qualifier cycle.
    let mut b = Builder::new();
    let id = b.next_id;
    b.ty("a", TYPEDEF, 0, id + 1, &[]);
    b.ty("", CONST, 0, id, &[]);
    b.map_with_value(id);
    assert!(malformed(&b.finish()).contains("cycle"));

    // A struct that contains itself by value.
    let mut b = Builder::new();
    let id = b.next_id;
    b.strukt("loop", 8, &[("self_", id, 0)]);
    b.map_with_value(id);
    assert!(malformed(&b.finish()).contains("deeper"));

    // 30 levels of struct { next a; next b; }: 2^30 leaves if expanded.
    let mut b = Builder::new();
    let mut id = b.int();
    for _ in 0..30 {
        id = b.strukt("", 8, &[("a", id, 0), ("b", id, 0)]);
    }
    b.map_with_value(id);
    assert!(malformed(&b.finish()).contains("more than"));

    // Array whose total size overflows u32.
    let mut b = Builder::new();
    let int = b.int();
    let big = b.ty("", ARRAY, 0, 0, &[int, int, u32::MAX / 2]);
    b.map_with_value(big);
    assert!(malformed(&b.finish()).contains("overflows"));

    // Member running past the end of its struct.
    let mut b = Builder::new();
    let int = b.int();
    let s = b.strukt("short", 4, &[("a", int, 0), ("b", int, 32)]);
    b.map_with_value(s);
    assert!(malformed(&b.finish()).contains("runs past"));

    // Dangling type id.
    let mut b = Builder::new();
    b.map_with_value(999);
    assert!(malformed(&b.finish()).contains("999"));

    // Unknown kind.
    let mut b = Builder::new();
    b.ty("", 31, 0, 0, &[]);
    assert!(malformed(&b.finish()).contains("unknown kind 31"));

    // Name offset outside the string section: an error once the name is
    // needed, ignored while the type is unreferenced.
    let mut b = Builder::new();
    let int = b.int();
    b.map_with_value(int);
    let mut bad = b.finish();
    bad[24..28].copy_from_slice(&10_000u32.to_le_bytes());
    assert!(malformed(&bad).contains("name offset 10000"));
    let mut b = Builder::new();
    b.int();
    let mut bad = b.finish();
    bad[24..28].copy_from_slice(&10_000u32.to_le_bytes());
    assert!(read_btf_maps(&bad).unwrap().is_empty());

    // Big-endian magic.
    let mut b = Builder::new();
    b.int();
    let mut bytes = b.finish();
    bytes[0..2].copy_from_slice(&[0xeb, 0x9f]);
    assert!(matches!(read_btf_maps(&bytes), Err(BtfError::BigEndian)));

    // Forward declarations have no layout.
    let mut b = Builder::new();
    let fwd = b.ty("opaque", 7, 0, 0, &[]);
    b.map_with_value(fwd);
    assert!(malformed(&b.finish()).contains("forward-declared"));
}

#[test]
fn btf_key_size_must_match_key_type() {
    // struct { __uint(type, 1); __uint(key_size, 8); __type(key, int); }
    let mut b = Builder::new();
    let int = b.int();
    let one = b.ty("", ARRAY, 0, 0, &[int, int, 1]);
    let eight = b.ty("", ARRAY, 0, 0, &[int, int, 8]);
    let p1 = b.ty("", PTR, 0, one, &[]);
    let p8 = b.ty("", PTR, 0, eight, &[]);
    let pk = b.ty("", PTR, 0, int, &[]);
    let def = b.strukt("", 24, &[("type", p1, 0), ("key_size", p8, 64), ("key", pk, 128)]);
    let var = b.ty("m", VAR, 0, def, &[1]);
    b.ty(".maps", DATASEC, 1, 0, &[var, 0, 24]);
    let msg = malformed(&b.finish());
    assert!(msg.contains("key_size 8"), "{msg}");
}

/// A host executable or object is not a BPF object: said so, with its machine, instead of "no .BTF".
#[test]
fn elf_files_for_other_machines_are_named_as_such() {
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let e = read_object(&exe).unwrap_err().to_string();
    let machine = if cfg!(target_arch = "x86_64") { "x86-64" } else { "aarch64" };
    assert_eq!(e, format!("not a BPF object: an ELF file for {machine} (compile with clang -target bpf)"));
}
