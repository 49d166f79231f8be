//! `LoadedProgram::dump` against the real example programs (root needed): every kind of map the examples
//! use lists exactly its entries: arrays their non-zero ones, hash maps, LPM tries and DEVMAPs all of
//! theirs, per-CPU maps one value per CPU; read-only data is left out.

use std::path::PathBuf;
use std::process::Command;

use xdptest_runner::program::LoadedProgram;

fn load(object_name: &str, program: &str) -> LoadedProgram {
    let p = xdptest_compiler::btf::describe_program(std::path::Path::new(&object(object_name)), program).unwrap();
    LoadedProgram::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn object(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let st = Command::new("make").args(["-s", "-C"]).arg(root.join("programs")).status().expect("make runs");
    assert!(st.success(), "building programs/ failed (clang, libbpf-dev)");
    root.join("programs/build").join(format!("{name}.o")).display().to_string()
}

#[test]
fn dumps_list_every_entry_and_nothing_else() {
    let mut upf = load("upf", "xdp_upf");
    let ncpus = upf.ncpus;
    let empty = upf.dump().unwrap();
    assert!(empty.values().all(|entries| entries.is_empty()), "a fresh program has all-zero maps: {empty:?}");
    assert!(empty.contains_key("sessions") && empty.contains_key("stats") && empty.contains_key("config"));

    let session = [7u8; 28];
    upf.maps.get_mut("sessions").unwrap().write(&2u32.to_ne_bytes(), &[&session], ncpus, false).unwrap();
    upf.maps.get_mut("sessions").unwrap().write(&9u32.to_ne_bytes(), &[&session], ncpus, false).unwrap();
    let counter = 5u64.to_ne_bytes();
    upf.maps.get_mut("stats").unwrap().write(&3u32.to_ne_bytes(), &[&counter], ncpus, true).unwrap();
    let d = upf.dump().unwrap();
    let sessions: Vec<&Vec<u8>> = d["sessions"].keys().collect();
    assert_eq!(sessions, [&2u32.to_ne_bytes().to_vec(), &9u32.to_ne_bytes().to_vec()]);
    assert_eq!(d["sessions"][&2u32.to_ne_bytes().to_vec()], [session.to_vec()]);
    // Per-CPU: one value per CPU; CPU 0 got the 5, the others zero. Only the non-zero entry is listed.
    let stats = &d["stats"];
    assert_eq!(stats.len(), 1);
    let values = &stats[&3u32.to_ne_bytes().to_vec()];
    assert_eq!(values.len(), ncpus);
    assert_eq!(values[0], counter.to_vec());

    let mut fw = load("firewall", "xdp_firewall");
    let key = [8u8, 0, 0, 0, 10, 0, 0, 0]; // 10.0.0.0/8
    fw.maps.get_mut("blocklist").unwrap().write(&key, &[&1u32.to_ne_bytes()], fw.ncpus, false).unwrap();
    let d = fw.dump().unwrap();
    assert_eq!(d["blocklist"].keys().collect::<Vec<_>>(), [&key.to_vec()]);

    let mut router = load("router", "xdp_router");
    // ifindex 1 (lo) always exists.
    router
        .maps
        .get_mut("tx_ports")
        .unwrap()
        .write(&1u32.to_ne_bytes(), &[&1u32.to_ne_bytes()], router.ncpus, false)
        .unwrap();
    let d = router.dump().unwrap();
    assert_eq!(d["tx_ports"].keys().collect::<Vec<_>>(), [&1u32.to_ne_bytes().to_vec()]);

    // .rodata (the format strings of bpf_printk) is read-only: not listed.
    let printk = load("printk", "xdp_printk");
    assert!(printk.prints);
    assert!(printk.maps.keys().any(|k| k.contains("rodata")), "{:?}", printk.maps.keys().collect::<Vec<_>>());
    assert!(!printk.dump().unwrap().keys().any(|k| k.contains("rodata")));
    assert!(!upf.prints);
}
