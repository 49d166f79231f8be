//! Shared by the `btf_*` integration tests: compiles a fixture from
//! `tests/btf_fixtures/` with clang into a temporary directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A compiled fixture; the object lives as long as this value.
pub struct Compiled {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Compiles `tests/btf_fixtures/{name}.c` for the BPF target with `-g`.
pub fn compile(name: &str) -> Compiled {
    compile_with(name, &["-g"])
}

/// Compiles `tests/btf_fixtures/{name}.c` with `-O2 -target bpf` plus `extra`.
/// Panics (failing the test) with a clear message if clang is missing or the
/// fixture does not compile.
pub fn compile_with(name: &str, extra: &[&str]) -> Compiled {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/btf_fixtures").join(format!("{name}.c"));
    let dir = tempfile::Builder::new().prefix(&format!("xdptest-btf-{name}-")).tempdir().expect("create temp dir");
    let out = dir.path().join(format!("{name}.o"));
    let result = Command::new("clang")
        .args(["-O2", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu"])
        .args(extra)
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output();
    let result = match result {
        Ok(r) => r,
        Err(e) => panic!(
            "clang is required to build the BTF test fixtures but could not be run ({e}); \
             install clang, libbpf-dev and gcc-multilib"
        ),
    };
    assert!(result.status.success(), "clang failed on {}:\n{}", src.display(), String::from_utf8_lossy(&result.stderr));
    let bytes = std::fs::read(&out).expect("read compiled object");
    Compiled { _dir: dir, path: out, bytes }
}

/// Runs `bpftool btf dump file <path> format raw`, failing clearly if bpftool
/// is missing.
pub fn bpftool_raw(path: &Path) -> String {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(path)
        .args(["format", "raw"])
        .output()
        .unwrap_or_else(|e| panic!("bpftool is required as the independent BTF oracle but could not be run ({e})"));
    assert!(out.status.success(), "bpftool failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("bpftool output is UTF-8")
}
