//! Section names, rewritten so that aya can load a program whatever its object calls it. aya (like
//! libbpf 1.x) only knows today's section names (`xdp`, `xdp.frags`, ...), while objects in the wild
//! use the names older loaders accepted (`xdp_patch_ports`, `prog`), which iproute2 and xdp-loader still
//! load because they set the program type themselves. Before a load, the section of the program to load
//! is renamed to `xdp` (or `xdp.frags`) and every other program section to `socket`, a type aya parses
//! and that is never loaded. The BTF line and function info (`.BTF.ext`) names sections too, so its
//! records are renamed with them: verifier messages keep their source lines, and two sections never
//! end up with the same name in it.
//!
//! New names are added at the end of the file (the section header string table and the `.BTF` string
//! section move there, grown), so no offset inside the object changes. Only 64-bit little-endian ELF
//! (what `clang -target bpf` writes on x86 and arm64 hosts) is handled; anything else is an error.

use std::collections::HashMap;

/// A section name the loader cannot use, and why the object cannot be rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfError(pub String);

const SHF_EXECINSTR: u64 = 0x4;
const SHDR_SIZE: usize = 64;
/// What sections of programs that are not loaded become.
pub const PARKED: &str = "socket";

struct Section {
    header_at: usize,
    name_off: u32,
    name: String,
    flags: u64,
    offset: u64,
    size: u64,
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, ElfError> {
    b.get(at..at + 2).map(|w| u16::from_le_bytes([w[0], w[1]])).ok_or_else(|| truncated(at))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, ElfError> {
    b.get(at..at + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).ok_or_else(|| truncated(at))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, ElfError> {
    b.get(at..at + 8).map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes"))).ok_or_else(|| truncated(at))
}

fn truncated(at: usize) -> ElfError {
    ElfError(format!("the object is truncated (reading byte {at})"))
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The NUL-terminated string at `at` of a string table.
fn c_str(table: &[u8], at: usize) -> Option<String> {
    let rest = table.get(at..)?;
    let end = rest.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

fn range(offset: u64, size: u64, len: usize) -> Result<std::ops::Range<usize>, ElfError> {
    let start = usize::try_from(offset).map_err(|_| truncated(usize::MAX))?;
    let end =
        start.checked_add(usize::try_from(size).map_err(|_| truncated(start))?).ok_or_else(|| truncated(start))?;
    if end > len {
        return Err(truncated(end));
    }
    Ok(start..end)
}

fn sections(b: &[u8]) -> Result<(Vec<Section>, usize), ElfError> {
    if b.get(..4) != Some(b"\x7fELF") {
        return Err(ElfError("not an ELF file".into()));
    }
    if b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return Err(ElfError("not a 64-bit little-endian ELF object (clang -target bpfel)".into()));
    }
    let shoff = usize::try_from(u64_at(b, 0x28)?).map_err(|_| truncated(0x28))?;
    let shentsize = u16_at(b, 0x3a)? as usize;
    let shnum = u16_at(b, 0x3c)? as usize;
    let shstrndx = u16_at(b, 0x3e)? as usize;
    if shentsize != SHDR_SIZE || shstrndx >= shnum {
        return Err(ElfError("unexpected section header layout".into()));
    }
    let mut out = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let h = shoff.checked_add(i * SHDR_SIZE).ok_or_else(|| truncated(shoff))?;
        out.push(Section {
            header_at: h,
            name_off: u32_at(b, h)?,
            name: String::new(),
            flags: u64_at(b, h + 8)?,
            offset: u64_at(b, h + 24)?,
            size: u64_at(b, h + 32)?,
        });
    }
    let strtab = range(out[shstrndx].offset, out[shstrndx].size, b.len())?;
    for s in &mut out {
        s.name = c_str(&b[strtab.clone()], s.name_off as usize)
            .ok_or_else(|| ElfError(format!("section name at {} is outside the string table", s.name_off)))?;
    }
    Ok((out, shstrndx))
}

/// Whether the object has CO-RE relocations (`.BTF.ext` with a non-empty `core_relo` part): only
/// then does loading need the kernel's BTF. A header too short to have that part has none.
pub fn has_core_relocations(bytes: &[u8]) -> Result<bool, ElfError> {
    let (secs, _) = sections(bytes)?;
    let Some(ext) = secs.iter().find(|s| s.name == ".BTF.ext") else { return Ok(false) };
    let r = range(ext.offset, ext.size, bytes.len())?;
    let h = &bytes[r];
    // struct btf_ext_header: magic, version, flags, hdr_len, then func/line info offset and length,
    // then (when hdr_len says so) core_relo_off and core_relo_len.
    if h.len() < 8 || u16_at(h, 0)? != 0xeb9f {
        return Ok(false);
    }
    let hdr_len = u32_at(h, 4)? as usize;
    if hdr_len < 32 || h.len() < 32 {
        return Ok(false);
    }
    Ok(u32_at(h, 28)? > 0)
}

/// Whether a section holds programs (executable, not empty, not shared `.text` code).
fn is_program_section(s: &Section) -> bool {
    s.flags & SHF_EXECINSTR != 0 && s.size > 0 && s.name != ".text" && !s.name.starts_with(".text.")
}

/// Appends `data` at the end of `out`, 8-byte aligned; returns where it starts.
fn append(out: &mut Vec<u8>, data: &[u8]) -> usize {
    out.resize(out.len().next_multiple_of(8), 0);
    let at = out.len();
    out.extend_from_slice(data);
    at
}

/// The object with the section of the program to load named `load_as` (`xdp` or `xdp.frags`) and
/// every other program section named [`PARKED`]. `section` is the name the program's section has.
pub fn rename_for_load(bytes: &[u8], section: &str, load_as: &str) -> Result<Vec<u8>, ElfError> {
    let (secs, shstrndx) = sections(bytes)?;
    if !secs.iter().any(|s| is_program_section(s) && s.name == section) {
        return Err(ElfError(format!("no program section `{section}`")));
    }
    let new_name = |s: &Section| -> Option<&str> {
        if !is_program_section(s) {
            None
        } else if s.name == section {
            Some(load_as)
        } else {
            Some(PARKED)
        }
    };
    let mut out = bytes.to_vec();

    // The section header string table, moved to the end with the new names.
    let old_strtab = &bytes[range(secs[shstrndx].offset, secs[shstrndx].size, bytes.len())?];
    let mut strtab = old_strtab.to_vec();
    let mut added: HashMap<&str, u32> = HashMap::new();
    for name in [load_as, PARKED] {
        added.insert(name, strtab.len() as u32);
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
    }
    for s in &secs {
        if let Some(n) = new_name(s) {
            put_u32(&mut out, s.header_at, added[n]);
        }
    }
    let at = append(&mut out, &strtab);
    put_u64(&mut out, secs[shstrndx].header_at + 24, at as u64);
    put_u64(&mut out, secs[shstrndx].header_at + 32, strtab.len() as u64);

    // `.BTF.ext` records name their section through `.BTF`'s string table: add the new names there and
    // point the records of renamed sections at them.
    let (Some(btf), Some(ext)) = (secs.iter().find(|s| s.name == ".BTF"), secs.iter().find(|s| s.name == ".BTF.ext"))
    else {
        return Ok(out);
    };
    let btf_bytes = &bytes[range(btf.offset, btf.size, bytes.len())?];
    let hdr_len = u32_at(btf_bytes, 4)? as usize;
    let (str_off, str_len) = (u32_at(btf_bytes, 16)? as usize, u32_at(btf_bytes, 20)? as usize);
    let strings_start = hdr_len + str_off;
    if strings_start + str_len != btf_bytes.len() {
        // Strings are not last: leave the line info alone (the program loads, without source lines).
        return Ok(out);
    }
    let old_strings = &btf_bytes[strings_start..];
    let mut grown = btf_bytes.to_vec();
    let mut btf_names: HashMap<&str, u32> = HashMap::new();
    for name in [load_as, PARKED] {
        btf_names.insert(name, (grown.len() - strings_start) as u32);
        grown.extend_from_slice(name.as_bytes());
        grown.push(0);
    }
    let new_len = (grown.len() - strings_start) as u32;
    put_u32(&mut grown, 20, new_len);
    let renames: HashMap<&str, &str> = secs.iter().filter_map(|s| new_name(s).map(|n| (s.name.as_str(), n))).collect();
    let ext_range = range(ext.offset, ext.size, bytes.len())?;
    let ext_bytes = &bytes[ext_range.clone()];
    let ext_hdr = u32_at(ext_bytes, 4)? as usize;
    // func_info, line_info, and core_relo when the header has them.
    let mut blocks = vec![(8, 12), (16, 20)];
    if ext_hdr >= 32 {
        blocks.push((24, 28));
    }
    for (off_at, len_at) in blocks {
        let start = ext_hdr + u32_at(ext_bytes, off_at)? as usize;
        let end = start + u32_at(ext_bytes, len_at)? as usize;
        if end > ext_bytes.len() || end <= start {
            continue;
        }
        let rec_size = u32_at(ext_bytes, start)? as usize;
        let mut at = start + 4;
        while at + 8 <= end {
            let name_off = u32_at(ext_bytes, at)? as usize;
            let count = u32_at(ext_bytes, at + 4)? as usize;
            if let Some(new) = c_str(old_strings, name_off).and_then(|n| renames.get(n.as_str()).copied()) {
                put_u32(&mut out, ext_range.start + at, btf_names[new]);
            }
            at = at
                .checked_add(8 + count.checked_mul(rec_size).ok_or_else(|| truncated(at))?)
                .ok_or_else(|| truncated(at))?;
        }
    }
    let at = append(&mut out, &grown);
    put_u64(&mut out, btf.header_at + 24, at as u64);
    put_u64(&mut out, btf.header_at + 32, grown.len() as u64);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object, ObjectSection};

    fn object(name: &str) -> Vec<u8> {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let path = repo.join("programs/build").join(name);
        if !path.exists() {
            assert!(std::process::Command::new("make")
                .arg("-C")
                .arg(repo.join("programs"))
                .status()
                .unwrap()
                .success());
        }
        std::fs::read(path).unwrap()
    }

    fn section_names(bytes: &[u8]) -> Vec<String> {
        let f = object::File::parse(bytes).unwrap();
        f.sections().map(|s| s.name().unwrap().to_string()).collect()
    }

    #[test]
    fn the_loaded_section_becomes_xdp_and_the_others_are_parked() {
        let bytes = object("legacy.o");
        let before = section_names(&bytes);
        assert!(before.iter().any(|n| n == "xdp_patch_ports"), "{before:?}");
        let out = rename_for_load(&bytes, "xdp_patch_ports", "xdp").unwrap();
        let after = section_names(&out);
        assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            match b.as_str() {
                "xdp_patch_ports" => assert_eq!(a, "xdp"),
                n if n.starts_with(".text") || n.starts_with('.') || !a.is_empty() && a == n => {}
                _ => assert_eq!(a, PARKED, "{b}"),
            }
        }
        // An independent reader (the `object` crate) still parses everything, symbols included.
        let f = object::File::parse(&*out).unwrap();
        assert!(f.symbols().count() > 0);
        // aya-obj sees one XDP program and the rest as socket filters it will never load.
        let obj = aya_obj::Object::parse(&out).expect("aya-obj parses the rewritten object");
        let xdp: Vec<&String> = obj
            .programs
            .iter()
            .filter(|(_, p)| matches!(p.section, aya_obj::ProgramSection::Xdp { .. }))
            .map(|(n, _)| n)
            .collect();
        assert_eq!(xdp, ["xdp_patch_ports_func"]);
        // The original does not parse at all.
        assert!(aya_obj::Object::parse(&bytes).is_err());
    }

    #[test]
    fn line_info_follows_the_rename() {
        let bytes = object("legacy.o");
        let out = rename_for_load(&bytes, "xdp_patch_ports", "xdp").unwrap();
        let obj = aya_obj::Object::parse(&out).unwrap();
        let prog = &obj.programs["xdp_patch_ports_func"];
        let f = &obj.functions[&prog.function_key()];
        assert!(f.line_info.num_info > 0, "the loaded program keeps its line info");
        assert!(f.func_info.num_info > 0, "and its function info");
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        assert!(rename_for_load(b"not elf", "xdp", "xdp").is_err());
        let bytes = object("legacy.o");
        for cut in [16, 64, 200, bytes.len() / 2] {
            let _ = rename_for_load(&bytes[..cut], "xdp_patch_ports", "xdp");
        }
        assert!(rename_for_load(&bytes, "no_such_section", "xdp").is_err());
    }
}
