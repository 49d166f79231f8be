//! Resets by logged keys ([`xdptest_runner::keylog`]) on the real example programs (root needed):
//! the arrays that qualify are logged, a reset after runs and writes leaves every map exactly as a
//! full reset does (all entries as after loading), and the arrays that do not qualify are not logged;
//! the logging copy is built once full resets have cost as much as loading.

use std::path::PathBuf;
use std::process::Command;

use xdptest_runner::program::LoadedProgram;

fn load(object_name: &str, program: &str) -> LoadedProgram {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let st = Command::new("make").args(["-s", "-C"]).arg(root.join("programs")).status().expect("make runs");
    assert!(st.success(), "building programs/ failed (clang, libbpf-dev)");
    let object = root.join("programs/build").join(format!("{object_name}.o"));
    let p = xdptest_compiler::btf::describe_program(&object, program).unwrap();
    LoadedProgram::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// An Ethernet + IPv4 frame of IP protocol `proto` (checksum left zero: the counter does not check it).
fn ipv4(proto: u8) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&28u16.to_be_bytes());
    f[22] = 64;
    f[23] = proto;
    f
}

#[test]
fn logged_resets_restore_every_entry_a_scenario_changed() {
    let mut p = load("counter", "xdp_counter");
    assert!(p.logged_maps().is_empty(), "no logging copy before full resets have cost a load");
    p.build_logging_copy();
    assert_eq!(p.logged_maps(), ["proto_count"], "the counter's per-CPU array is logged");
    let ncpus = p.ncpus;
    let mut out = Vec::new();
    // Runs only (logged keys), runs and a write (a key only the scenario knows), more runs than the
    // log holds (a full reset), and runs that bypass the logging copy (a full reset).
    let cases: [(&[u8], Option<u32>, bool); 4] =
        [(&[17], None, true), (&[6, 17], Some(200), true), (&[1; 0], None, true), (&[17, 6], None, false)];
    let many: Vec<u8> = (1..=100).collect();
    for (protos, write, logging) in cases {
        let protos = if protos.is_empty() { &many[..] } else { protos };
        p.reset().unwrap();
        p.logging = logging;
        if let Some(key) = write {
            let v = 9u64.to_ne_bytes();
            p.maps.get_mut("proto_count").unwrap().write(&key.to_ne_bytes(), &[&v], ncpus, false).unwrap();
        }
        for &proto in protos {
            p.test_run(&ipv4(proto), None, &mut out).unwrap();
        }
        let touched = p.dump().unwrap();
        assert!(!touched["proto_count"].is_empty(), "the runs counted");
        p.reset().unwrap();
        let after = p.dump().unwrap();
        assert!(after.values().all(|entries| entries.is_empty()), "{protos:?} {write:?}: {after:?}");
    }
}

#[test]
fn arrays_whose_address_escapes_are_reset_in_full() {
    // Globals are read and written through their address: never logged.
    let mut dump = load("syn_dump", "xdp_syn_dump");
    dump.build_logging_copy();
    assert!(dump.logged_maps().is_empty());
    // Maps reached through maps, and tail calls: nothing is logged.
    let p = xdptest_compiler::btf::describe_program(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../programs/build/lb.o"),
        "xdp_lb",
    )
    .unwrap();
    let mut lb = LoadedProgram::load(&p).unwrap();
    lb.build_logging_copy();
    assert!(lb.logged_maps().is_empty());
}

#[test]
fn the_logging_copy_is_built_once_full_resets_cost_a_load() {
    let mut p = load("counter", "xdp_counter");
    let mut resets = 0;
    while p.logged_maps().is_empty() {
        p.reset().unwrap();
        resets += 1;
        assert!(resets < 100_000, "never built");
    }
    assert!(resets > 1, "built at once");
}
