//! A cpio archive in the `newc` format (the only one the kernel's initramfs unpacker reads), written in
//! memory. Parent directories are created on demand. The kernel also accepts a gzip-compressed archive
//! ([`gzip`]), but an uncompressed one boots faster under TCG (no guest-side inflate) and costs only
//! memory, so that is what VMs get by default.

use std::collections::BTreeSet;
use std::io::Write;

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;

#[derive(Debug, Default)]
pub struct Archive {
    out: Vec<u8>,
    ino: u32,
    dirs: BTreeSet<String>,
}

impl Archive {
    pub fn new() -> Archive {
        Archive::default()
    }

    /// A directory (and its parents).
    pub fn dir(&mut self, path: &str) -> &mut Self {
        let path = path.trim_matches('/');
        if path.is_empty() || self.dirs.contains(path) {
            return self;
        }
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
        self.dirs.insert(path.to_string());
        self.entry(path, S_IFDIR | 0o755, 2, (0, 0), &[]);
        self
    }

    /// A regular file with permission bits `perm` (e.g. 0o755).
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> &mut Self {
        let path = path.trim_matches('/');
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
        self.entry(path, S_IFREG | (perm & 0o7777), 1, (0, 0), data);
        self
    }

    /// A character device node (e.g. `/dev/console`, 5:1).
    pub fn char_device(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> &mut Self {
        let path = path.trim_matches('/');
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
        self.entry(path, S_IFCHR | (perm & 0o7777), 1, (major, minor), &[]);
        self
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime: fixed, so archives are reproducible
            data.len() as u32,
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0, // check
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            let _ = write!(self.out, "{f:08x}");
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    /// The archive, with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[]);
        self.out
    }
}

/// Gzip-compresses an archive (fast level: the guest inflates it, the host should not wait long).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// name, mode, rdev, data
    type Entry = (String, u32, (u32, u32), Vec<u8>);

    /// Parses a newc archive back.
    fn parse(mut b: &[u8]) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut at = 0usize;
        let total = b.len();
        loop {
            assert_eq!(&b[..6], b"070701", "at {at}");
            let f =
                |i: usize| u32::from_str_radix(std::str::from_utf8(&b[6 + 8 * i..14 + 8 * i]).unwrap(), 16).unwrap();
            let (mode, size, rdev, namesize) = (f(1), f(6) as usize, (f(9), f(10)), f(11) as usize);
            let name = String::from_utf8(b[110..110 + namesize - 1].to_vec()).unwrap();
            let data_at = (110 + namesize).div_ceil(4) * 4;
            let data = b[data_at..data_at + size].to_vec();
            let next = (data_at + size).div_ceil(4) * 4;
            at += next;
            b = &b[next..];
            if name == "TRAILER!!!" {
                assert_eq!(at, total);
                return out;
            }
            out.push((name, mode, rdev, data));
        }
    }

    #[test]
    fn writes_parents_files_and_devices() {
        let mut a = Archive::new();
        a.file("/xdptest/objects/0.o", 0o644, b"abc").char_device("dev/console", 0o600, 5, 1).file("init", 0o755, b"");
        let entries = parse(&a.finish());
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["xdptest", "xdptest/objects", "xdptest/objects/0.o", "dev", "dev/console", "init"]);
        assert_eq!(entries[2].1, 0o100644);
        assert_eq!(entries[2].3, b"abc");
        assert_eq!(entries[4].1, 0o020600);
        assert_eq!(entries[4].2, (5, 1));
    }

    /// Oracle: GNU cpio, where installed, lists the same entries.
    #[test]
    fn gnu_cpio_reads_it() {
        let child = std::process::Command::new("cpio")
            .args(["-t", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            // Outside CI, a machine without cpio skips the oracle; CI installs it (scripts/setup).
            Err(_) if std::env::var_os("CI").is_none() => return,
            Err(e) => panic!("cpio is the oracle of this test and CI must have it: {e}"),
        };
        let mut a = Archive::new();
        a.file("a/b", 0o644, b"x");
        child.stdin.take().unwrap().write_all(&a.finish()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a\na/b\n");
    }
}
