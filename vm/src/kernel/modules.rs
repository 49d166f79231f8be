//! Kernel modules from a kernel's module tree (`lib/modules/<version>`). Debian's packages ship no
//! `modules.dep` (depmod writes it at install time), so dependencies come from each module's own
//! `.modinfo` section (`depends=`), which is what depmod reads too.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection};

use super::{Kernel, KernelError};

/// A module ready for `init_module(2)`.
#[derive(Debug, Clone)]
pub struct Module {
    /// Its name as the kernel knows it (`veth`, `8021q`).
    pub name: String,
    /// The file it came from (maybe compressed: `.ko.xz`, `.ko.zst`, `.ko.gz`).
    pub path: PathBuf,
    /// The decompressed ELF object.
    pub image: Vec<u8>,
}

/// The modules the suite's drivers need on this kernel: those of `veth`, `dummy` and `8021q` that its
/// configuration builds as modules (`=m`) and its module tree has. Load them with [`modules_to_load`].
pub fn needed_modules(k: &Kernel) -> Vec<&'static str> {
    let Some(config) = &k.config else { return Vec::new() };
    super::REQUIRED
        .iter()
        .chain(super::OPTIONAL)
        .filter_map(|need| need.module.filter(|_| config.get(need.option) == Some("m")))
        .filter(|m| find(k, m).is_some())
        .collect()
}

/// The file of module `name` (`veth`, `veth.ko`, `nf-tables` and `nf_tables` alike) in the kernel's
/// module tree; `None` when it has no tree or no such module (or the driver is built in).
pub fn module_path(k: &Kernel, name: &str) -> Option<PathBuf> {
    find(k, name)
}

pub(crate) fn find(k: &Kernel, name: &str) -> Option<PathBuf> {
    let dir = k.modules_dir.as_ref()?;
    let want = normalize(name);
    // modules.order lists every module the build made, without the compression suffix.
    if let Ok(order) = std::fs::read_to_string(dir.join("modules.order")) {
        for line in order.lines() {
            if normalize(line) == want {
                let base = dir.join(line.trim());
                for ext in ["", ".xz", ".zst", ".gz"] {
                    let mut p = base.clone().into_os_string();
                    p.push(ext);
                    let p = PathBuf::from(p);
                    if p.is_file() {
                        return Some(p);
                    }
                }
            }
        }
    }
    walk(dir, &want)
}

fn walk(dir: &Path, want: &str) -> Option<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in &entries {
        let p = e.path();
        let ty = e.file_type().ok()?;
        if ty.is_file()
            && p.to_str().is_some_and(|s| s.contains(".ko"))
            && normalize(&e.file_name().to_string_lossy()) == want
        {
            return Some(p);
        }
    }
    entries.iter().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).find_map(|e| walk(&e.path(), want))
}

/// `kernel/net/8021q/8021q.ko.xz` → `8021q`; `nf-tables` → `nf_tables`.
fn normalize(name: &str) -> String {
    let base = name.trim().rsplit('/').next().unwrap_or(name);
    let base = base.split(".ko").next().unwrap_or(base);
    base.replace('-', "_")
}

/// Whether the kernel builds `name` in (listed in `modules.builtin`).
fn builtin(k: &Kernel, name: &str) -> bool {
    let Some(dir) = &k.modules_dir else { return false };
    let want = normalize(name);
    std::fs::read_to_string(dir.join("modules.builtin")).is_ok_and(|text| text.lines().any(|l| normalize(l) == want))
}

/// The modules to load, in order, for drivers `names`: each one's dependencies come before it, modules
/// the kernel builds in are skipped, and each appears once. Images are decompressed.
pub fn modules_to_load(k: &Kernel, names: &[&str]) -> Result<Vec<Module>, KernelError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for name in names {
        visit(k, name, &mut seen, &mut out, &mut Vec::new())?;
    }
    Ok(out)
}

fn visit(
    k: &Kernel,
    name: &str,
    seen: &mut HashSet<String>,
    out: &mut Vec<Module>,
    stack: &mut Vec<String>,
) -> Result<(), KernelError> {
    let key = normalize(name);
    if seen.contains(&key) || builtin(k, &key) {
        return Ok(());
    }
    if stack.contains(&key) {
        return Ok(()); // a dependency cycle; the kernel would refuse it anyway
    }
    let Some(path) = find(k, &key) else {
        return Err(KernelError::ModuleNotFound {
            label: k.label.clone(),
            version: k.version.clone(),
            module: key.clone(),
            hint: match &k.modules_dir {
                None => " (it has no module tree; for a local bzImage build the driver in)".into(),
                Some(d) => {
                    let required_by = stack.last().map(|m| format!(", needed by {m}")).unwrap_or_default();
                    format!(" in {}{required_by}", d.display())
                }
            },
        });
    };
    let image = read_module(&path)?;
    let (modname, depends) = modinfo(&image).map_err(|detail| KernelError::BadModule { path: path.clone(), detail })?;
    stack.push(key.clone());
    for dep in depends {
        visit(k, &dep, seen, out, stack)?;
    }
    stack.pop();
    seen.insert(key.clone());
    out.push(Module { name: modname.unwrap_or(key), path, image });
    Ok(())
}

/// A module file's ELF bytes, decompressing `.xz`, `.zst` and `.gz` (recognised by their magic).
pub(crate) fn read_module(path: &Path) -> Result<Vec<u8>, KernelError> {
    let raw = std::fs::read(path).map_err(|e| KernelError::io(path, e))?;
    let bad = |detail: String| KernelError::BadModule { path: path.into(), detail };
    let mut out = Vec::new();
    if raw.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(&raw[..]), &mut out)
            .map_err(|e| bad(format!("xz: {e}")))?;
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        ruzstd::decoding::StreamingDecoder::new(&raw[..])
            .map_err(|e| bad(format!("zstd: {e}")))?
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("zstd: {e}")))?;
    } else if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(|e| bad(format!("gzip: {e}")))?;
    } else {
        out = raw;
    }
    if !out.starts_with(b"\x7fELF") {
        return Err(bad("not an ELF object after decompression".into()));
    }
    Ok(out)
}

/// `name=` and `depends=` from a module's `.modinfo` section.
fn modinfo(elf: &[u8]) -> Result<(Option<String>, Vec<String>), String> {
    let file = object::File::parse(elf).map_err(|e| format!("bad ELF: {e}"))?;
    let section = file.section_by_name(".modinfo").ok_or("no .modinfo section")?;
    let data = section.data().map_err(|e| format!(".modinfo: {e}"))?;
    let mut name = None;
    let mut depends = Vec::new();
    for entry in data.split(|&b| b == 0) {
        let Ok(entry) = std::str::from_utf8(entry) else { continue };
        if let Some(n) = entry.strip_prefix("name=") {
            name = Some(n.to_string());
        } else if let Some(d) = entry.strip_prefix("depends=") {
            depends.extend(d.split(',').filter(|s| !s.is_empty()).map(str::to_string));
        }
    }
    Ok((name, depends))
}
