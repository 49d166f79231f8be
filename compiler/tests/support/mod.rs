//! Helpers shared by the compiler's oracle tests: compiling packets written in the `.pkt` language
//! through the real spec pipeline (`spec::compile_spec`) to the bytes an oracle then decodes.

#![allow(dead_code)] // each including test uses a part

use std::path::Path;
use std::process::Command;

use xdptest_compiler::spec::{compile_spec, FsLoader};

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The counter program (passes everything), built on demand: specs need a program for scenarios.
pub fn counter_object() -> std::path::PathBuf {
    let counter = repo().join("programs/build/counter.o");
    if !counter.exists() {
        let out = Command::new("make").arg("-C").arg(repo().join("programs")).output().expect("run make");
        assert!(out.status.success(), "make -C programs: {}", String::from_utf8_lossy(&out.stderr));
    }
    counter
}

/// Compiles one scenario per `(name, packet expression)` that sends the packet, and returns the
/// bytes of each packet in order. Panics with the diagnostics if the spec does not compile.
pub fn compile_packets(packets: &[(&str, String)]) -> Vec<Vec<u8>> {
    let mut spec = format!("program \"{}\" xdp \"xdp_counter\"\n", counter_object().display());
    for (name, pkt) in packets {
        spec.push_str(&format!("scenario \"{name}\" {{\n  send {pkt}\n}}\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("packets.pkt");
    std::fs::write(&path, &spec).unwrap();
    let mut diags = Vec::new();
    let Some(compiled) = compile_spec(&path, &mut FsLoader::unconfined(), &mut diags) else {
        panic!(
            "the test spec does not compile:\n{}",
            diags.iter().map(|d| format!("{:?}", d.report())).collect::<Vec<_>>().join("\n")
        );
    };
    assert_eq!(compiled.packets.len(), packets.len());
    compiled.packets.into_iter().map(|p| p.bytes).collect()
}
