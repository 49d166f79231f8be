//! The tshark oracle, end to end through the real binary: `xdptest compile compiler/tests/specs --out
//! DIR`, then Wireshark decodes `DIR/layers.pcapng` and `DIR/families.pcapng`, and every field of every frame is compared with the
//! table in `compiler/tests/specs/oracle.rs`. tshark must be installed: a missing tshark fails the test
//! with an install hint instead of skipping it.

#[path = "../compiler/tests/specs/oracle.rs"]
mod oracle;

mod support;

use std::path::Path;

use support::repo;

fn xdptest(args: &[&Path]) -> std::process::Output {
    support::xdptest().args(args).output()
}

#[test]
fn every_layer_and_option_matches_wireshark() {
    oracle::ensure_programs(&repo());
    let out = tempfile::tempdir().unwrap();
    let specs = repo().join("compiler/tests/specs");
    let run = xdptest(&[Path::new("compile"), &specs, Path::new("--out"), out.path()]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "xdptest compile failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    // common.pkt is a library (no scenarios): no capture, no fixtures.
    assert!(!out.path().join("common.pcapng").exists());
    assert!(!out.path().join("common").exists());
    for scenario in ["ether", "vlan", "qinq", "ipv4", "udp", "gtpu", "icmp", "payload", "derived"] {
        let ron = out.path().join("layers").join(format!("{scenario}.ron"));
        assert!(ron.is_file(), "missing fixture {}", ron.display());
    }
    for scenario in ["tcp", "ipv6", "ext-headers", "icmpv6", "arp", "mpls", "tunnels", "ipv4-options"] {
        let ron = out.path().join("families").join(format!("{scenario}.ron"));
        assert!(ron.is_file(), "missing fixture {}", ron.display());
    }
    oracle::check_layers_pcap(&out.path().join("layers.pcapng"));
    oracle::check_families_pcap(&out.path().join("families.pcapng"));
}
