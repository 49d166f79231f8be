//! The tshark oracle through the library entry points (`suite::discover` → `compile` → `outputs` →
//! `write_all`): `compiler/tests/specs/layers.pkt` and `families.pkt` cover every layer and option of the language,
//! and Wireshark must decode their captures to the values in `specs/oracle.rs`. The root crate's
//! `tests/cli_tshark.rs` runs the same oracle through the `xdptest` binary.

#[path = "specs/oracle.rs"]
mod oracle;

use std::path::{Path, PathBuf};

use xdptest_compiler::suite;

#[test]
fn layers_spec_matches_wireshark() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    oracle::ensure_programs(crate_dir.parent().unwrap());
    let specs = suite::discover(&[PathBuf::from("tests/specs")]).expect("discover");
    let names: Vec<String> = specs.iter().map(|s| s.relative.display().to_string()).collect();
    assert_eq!(names, ["common.pkt", "families.pkt", "layers.pkt"]);
    let compiled = match suite::compile(&specs, &xdptest_compiler::spec::FsLoader::unconfined()) {
        Ok(s) => s,
        Err(diags) => panic!(
            "tests/specs does not compile:\n{}",
            diags.iter().map(|d| format!("{:?}", d.report())).collect::<Vec<_>>().join("\n")
        ),
    };
    assert_eq!(compiled.fixture_count(), 17);
    let files = suite::outputs(&specs, &compiled).expect("outputs");
    let out = tempfile::tempdir().unwrap();
    suite::write_all(out.path(), &files, &|| false).expect("write");
    oracle::check_layers_pcap(&out.path().join("layers.pcapng"));
    oracle::check_families_pcap(&out.path().join("families.pcapng"));
}
