//! Local kernel images: the x86 boot header of a bzImage (its magic, version string and compressed
//! payload), where its configuration is, and a configuration embedded with `CONFIG_IKCONFIG` (as the
//! kernel's `scripts/extract-ikconfig` finds it: decompress the payload, then the gzip data between the
//! `IKCFG_ST` and `IKCFG_ED` markers).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Kernel, KernelConfig, KernelError};

/// Offset of the `HdrS` magic in the x86 boot header.
pub const HDRS_OFFSET: usize = 0x202;

/// What the boot header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BzImage {
    /// The first word of the kernel's version string (its release, as `uname -r` prints it).
    pub release: Option<String>,
    /// The compressed kernel inside, as a byte range of the file (boot protocol 2.08 and later).
    pub payload: Option<std::ops::Range<usize>>,
}

/// Reads the boot header; `Err` says why the bytes are not a bzImage.
pub(crate) fn inspect(bytes: &[u8]) -> Result<BzImage, String> {
    if bytes.starts_with(b"\x7fELF") {
        return Err(
            "it is an ELF file (an uncompressed vmlinux?); qemu boots the bzImage (arch/x86/boot/bzImage)".into()
        );
    }
    if bytes.len() < 0x250 || &bytes[HDRS_OFFSET..HDRS_OFFSET + 4] != b"HdrS" {
        return Err("no x86 boot header (magic 'HdrS' at offset 0x202); expected a bzImage/vmlinuz".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let protocol = u16_at(0x206);
    let release = match u16_at(0x20e) as usize {
        0 => None,
        offset => bytes.get(offset + 0x200..).and_then(|s| {
            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len()).min(256);
            let text = std::str::from_utf8(&s[..end]).ok()?;
            text.split_whitespace().next().map(str::to_string)
        }),
    };
    let payload = (protocol >= 0x208).then(|| {
        let setup_sects = match bytes[0x1f1] {
            0 => 4,
            n => n as usize,
        };
        let start = (setup_sects + 1) * 512 + u32_at(0x248) as usize;
        start..start + u32_at(0x24c) as usize
    });
    Ok(BzImage { release, payload: payload.filter(|r| r.end <= bytes.len() && r.start < r.end) })
}

/// The configuration embedded in a bzImage: `Ok(None)` when it has none, `Err` (a reason) when the
/// payload can't be read.
pub(crate) fn embedded_config(bytes: &[u8], bz: &BzImage) -> Result<Option<String>, String> {
    let Some(range) = bz.payload.clone() else {
        return Err("its boot protocol is older than 2.08, so the compressed kernel can't be located".into());
    };
    let vmlinux = decompress_payload(&bytes[range])?;
    Ok(ikconfig(&vmlinux))
}

/// Largest decompressed kernel we read (a vmlinux with debug info is well under this).
const MAX_VMLINUX: u64 = 1 << 30;

fn decompress_payload(p: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if p.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(p)
            .take(MAX_VMLINUX)
            .read_to_end(&mut out)
            .map_err(|e| format!("its gzip payload: {e}"))?;
    } else if p.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let decoder = ruzstd::decoding::StreamingDecoder::new(p).map_err(|e| format!("its zstd payload: {e}"))?;
        decoder.take(MAX_VMLINUX).read_to_end(&mut out).map_err(|e| format!("its zstd payload: {e}"))?;
    } else if p.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        // The kernel's own xz images add an x86 BCJ filter that lzma-rs doesn't implement.
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(p), &mut out)
            .map_err(|e| format!("its xz payload: {e}"))?;
    } else {
        let kind = if p.starts_with(&[0x02, 0x21, 0x4c, 0x18]) {
            "lz4"
        } else if p.starts_with(b"BZh") {
            "bzip2"
        } else if p.starts_with(&[0x89, b'L', b'Z', b'O']) {
            "lzo"
        } else if p.starts_with(&[0x5d, 0, 0]) {
            "lzma"
        } else {
            "an unknown format"
        };
        return Err(format!("its payload is compressed with {kind}, which xdptest can't decompress"));
    }
    Ok(out)
}

/// The configuration between `IKCFG_ST` and `IKCFG_ED` (gzip), if present.
pub(crate) fn ikconfig(vmlinux: &[u8]) -> Option<String> {
    let start = find(vmlinux, b"IKCFG_ST")? + 8;
    let end = start + find(&vmlinux[start..], b"IKCFG_ED")?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&vmlinux[start..end]).read_to_string(&mut text).ok()?;
    Some(text)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A kernel given as a path: checks it is a bzImage and looks for its configuration and modules.
pub(crate) fn resolve_path(path: &Path) -> Result<Kernel, KernelError> {
    let meta = std::fs::metadata(path).map_err(|e| KernelError::io(path, e))?;
    if !meta.is_file() {
        return Err(KernelError::NotBzImage { path: path.into(), reason: "it is not a regular file".into() });
    }
    let bytes = std::fs::read(path).map_err(|e| KernelError::io(path, e))?;
    let bz = inspect(&bytes).map_err(|reason| KernelError::NotBzImage { path: path.into(), reason })?;
    let file_version =
        path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("vmlinuz-")).map(str::to_string);
    let version = bz.release.clone().or(file_version).unwrap_or_else(|| "unknown".into());
    let config = find_config(path, &version)
        .map(|p| std::fs::read_to_string(&p).map_err(|e| KernelError::io(&p, e)))
        .transpose()?
        .or_else(|| embedded_config(&bytes, &bz).ok().flatten())
        .map(|text| KernelConfig::parse(&text));
    let modules_dir = ["/lib/modules", "/usr/lib/modules"]
        .iter()
        .map(|d| Path::new(d).join(&version))
        .find(|d| d.join("kernel").is_dir());
    Ok(Kernel { label: path.display().to_string(), version, image: path.into(), config, modules_dir })
}

/// A configuration file that belongs with an image: `config-<version>` beside it (`/boot`, an unpacked
/// Debian package), else the `.config` of the kernel build tree the image sits in (`arch/x86/boot/`).
fn find_config(image: &Path, version: &str) -> Option<PathBuf> {
    let dir = image.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let beside = dir.join(format!("config-{version}"));
    if beside.is_file() {
        return Some(beside);
    }
    dir.ancestors().take(4).map(|d| d.join(".config")).find(|c| {
        let tree = c.parent().expect("joined");
        c.is_file() && (tree.join("Makefile").is_file() || tree.join("Kconfig").is_file())
    })
}

/// Why a kernel given as a path has no configuration, for the warning: the embedded-config attempt's
/// reason when there was one.
pub(crate) fn no_config_reason(k: &Kernel) -> Option<String> {
    let bytes = std::fs::read(&k.image).ok()?;
    let bz = inspect(&bytes).ok()?;
    match embedded_config(&bytes, &bz) {
        Ok(Some(_)) => None,
        Ok(None) => {
            Some("no config-<version> beside it, no build tree .config, and none embedded (CONFIG_IKCONFIG)".into())
        }
        Err(reason) => Some(format!("no config-<version> beside it, no build tree .config, and {reason}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A minimal bzImage: boot header with version string, then a gzip payload holding `vmlinux`.
    pub(crate) fn fake_bzimage(release: &str, vmlinux: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 0x1000];
        b[0x1f1] = 3; // setup sectors: protected-mode code at (3 + 1) * 512
        b[HDRS_OFFSET..HDRS_OFFSET + 4].copy_from_slice(b"HdrS");
        b[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        b[0x20e..0x210].copy_from_slice(&(0x400u16 - 0x200).to_le_bytes());
        let v = format!("{release} (test@example) #1 SMP\0");
        b[0x400..0x400 + v.len()].copy_from_slice(v.as_bytes());
        let payload = gzip(vmlinux);
        b.truncate(4 * 512 + 0x100);
        b[0x248..0x24c].copy_from_slice(&0x100u32.to_le_bytes());
        b[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        b.extend_from_slice(&payload);
        b.extend_from_slice(&[0; 16]);
        b
    }

    pub(crate) fn vmlinux_with_config(config: &str) -> Vec<u8> {
        let mut v = b"\x7fELF...kernel text...".to_vec();
        v.extend_from_slice(b"IKCFG_ST");
        v.extend_from_slice(&gzip(config.as_bytes()));
        v.extend_from_slice(b"IKCFG_ED...more");
        v
    }

    #[test]
    fn header_and_embedded_config() {
        let img = fake_bzimage("6.9.0-test+", &vmlinux_with_config("CONFIG_BPF_SYSCALL=y\n"));
        let bz = inspect(&img).unwrap();
        assert_eq!(bz.release.as_deref(), Some("6.9.0-test+"));
        assert_eq!(embedded_config(&img, &bz).unwrap().as_deref(), Some("CONFIG_BPF_SYSCALL=y\n"));
        let plain = fake_bzimage("6.9.0", b"no config here");
        assert_eq!(embedded_config(&plain, &inspect(&plain).unwrap()).unwrap(), None);
    }

    #[test]
    fn not_bzimages() {
        assert!(inspect(b"\x7fELF\x02\x01").unwrap_err().contains("ELF"));
        assert!(inspect(&[0u8; 0x300]).unwrap_err().contains("HdrS"));
        assert!(inspect(b"short").is_err());
    }
}
