//! Arbitrary bytes as a BPF object → the object reader `check` uses (`btf::read_object`) and, when it
//! accepts them, the loader's reading of the object (aya-obj's parse, BTF fix-up and relocations, as the
//! probe child runs them before a load, see `xdptest_runner::probe`). The reader must never panic;
//! aya's panics on malformed objects are contained (that is what xdptest does with them) so the fuzzer
//! looks for what containment cannot catch in-process: aborts, stack overflows, memory errors and hangs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xdptest_compiler::fixture::{Program, ProgramFacts};

fuzz_target!(|data: &[u8]| {
    let Ok(info) = xdptest_compiler::btf::read_object(data) else {
        return;
    };
    for sym in info.programs.iter().take(2) {
        let program = Program {
            object: "fuzz.o".into(),
            hook: "xdp".into(),
            name: sym.name.clone(),
            section: sym.section.clone(),
            frags: sym.class().frags(),
            also: Vec::new(),
            rodata: Vec::new(),
            location: "fuzz.pkt:1:9".into(),
            facts: ProgramFacts::default(),
            maps: info.maps.iter().map(|m| m.info()).collect(),
        };
        let _ = xdptest_runner::probe::contained(|| xdptest_runner::probe::read_like_the_loader(&program, data));
    }
});
