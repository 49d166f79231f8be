//! Compile throughput on a large generated spec, with etherparse's `PacketBuilder` as a baseline for the
//! pure cost of encoding the same packets.
//!
//!     cargo bench -p xdptest-compiler --bench compile            # N = 10,000 scenarios
//!     XDPTEST_BENCH_N=1000 cargo bench -p xdptest-compiler --bench compile
//!     XDPTEST_BENCH_WRITE=/tmp cargo bench -p xdptest-compiler --bench compile   # only write the specs
//!
//! The spec (written to a temp dir) cycles through three kinds of scenario, all for `upf.o`:
//! - GTP-U uplink derived from a named packet (`with` on the outer and inner headers), a map write,
//!   an expected packet with `without`, `with` and a wildcard, and a map check;
//! - VLAN-tagged UDP with a generated payload, expected back with wildcards;
//! - firewall-like ICMP echo, expected dropped, with a map check.
//!
//! Rows: parsing alone; parse + compile (`compile_spec`, from the file); the fixture and capture
//! serialization (`suite::outputs`); `wire::encode` alone on the same layer stacks; etherparse building
//! the same packets. Every packet the compiler produced is checked byte for byte against etherparse's
//! before anything is timed. Each row is the best of a few runs.
//!
//! A second suite of the same size, TCP/IPv6-heavy (for `syn_filter.o`), is measured in the same run:
//! TCP SYNs with five options over IPv6, IPv6 extension header chains (hop-by-hop, fragment) with
//! counting payloads, and TCP in IPv6-in-IPv4 tunnels. Its SYNs are checked against etherparse too.
//! The last line compares the two suites' packets per second.

use std::path::Path;
use std::time::{Duration, Instant};

use etherparse::{PacketBuilder, VlanId};
use xdptest_compiler::spec::{compile_spec, FsLoader};
use xdptest_compiler::suite::{self, SpecPath};
use xdptest_compiler::wire::{self, FieldValue, Layer, LayerKind};

const RUNS: usize = 3;

const ENB_MAC: [u8; 6] = [0, 0, 0x5e, 0, 0x53, 2];
const UPF_MAC: [u8; 6] = [0, 0, 0x5e, 0, 0x53, 1];
const ENB_IP: [u8; 4] = [192, 168, 10, 1];
const UPF_IP: [u8; 4] = [192, 168, 10, 5];
const SERVER_IP: [u8; 4] = [192, 168, 30, 1];

/// The parameters of scenario `i`.
#[derive(Clone, Copy)]
enum Kind {
    Uplink { ue: [u8; 4], teid: u32, seq: u16 },
    Vlan { vid: u16, src: [u8; 4], dst: [u8; 4], ttl: u8, sport: u16, fill: u8 },
    Firewall { src: [u8; 4], dst: [u8; 4], ttl: u8, id: u16 },
}

fn kind(i: usize) -> Kind {
    let (a, b) = (((i >> 8) & 0xff) as u8, (i & 0xff) as u8);
    match i % 3 {
        0 => Kind::Uplink { ue: [10, 45, a, b], teid: 1000 + i as u32, seq: (i % 65536) as u16 },
        1 => Kind::Vlan {
            vid: (i % 4094 + 1) as u16,
            src: [172, 16, a, b],
            dst: [172, 17, b, a],
            ttl: (i % 255 + 1) as u8,
            sport: (1024 + i % 60000) as u16,
            fill: b,
        },
        _ => Kind::Firewall {
            src: [198, 51, a, b],
            dst: [203, 0, 113, b],
            ttl: (i % 64 + 1) as u8,
            id: (i % 65536) as u16,
        },
    }
}

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

fn spec_text(n: usize, object: &Path) -> String {
    let mut s = format!(
        "program \"{}\" xdp \"xdp_upf\"\n\
         packet uplink = ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01) / vlan(100)\n\
         \x20 / ipv4(src=192.168.10.1, dst=192.168.10.5, df) / udp / gtpu(teid=2)\n\
         \x20 / ipv4(src=192.168.100.200, dst=192.168.30.1, df) / icmp.echo_request(id=1, seq=1)\n\
         \x20 / payload(\"abcd\")\n\
         map config[0] = {{ local_ip: 192.168.10.5 }}\n\n",
        object.display()
    );
    for i in 0..n {
        let text = match kind(i) {
            Kind::Uplink { ue, teid, seq } => format!(
                "## GTP-U uplink {i}.\nscenario \"uplink {i}\" {{\n\
                 \x20 map ue_sessions[{ue}] = {i}\n\
                 \x20 send uplink with gtpu.teid={teid}, ipv4:2.src={ue}, icmp.seq={seq}\n\
                 \x20 expect XDP_TX: input without [ipv4, udp, gtpu]\n\
                 \x20               with vlan.vid=300, ether.src=00:00:5e:00:53:01, ether.dst=*\n\
                 \x20 expect map stats[0] == 1\n}}\n",
                ue = ip(ue)
            ),
            Kind::Vlan { vid, src, dst, ttl, sport, fill } => format!(
                "scenario \"vlan {i}\" {{\n\
                 \x20 send ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01) / vlan({vid})\n\
                 \x20    / ipv4(src={}, dst={}, ttl={ttl}, df) / udp(sport={sport}, dport=4789)\n\
                 \x20    / payload(len=64, fill={fill})\n\
                 \x20 expect XDP_PASS: input with vlan.vid=*, ipv4.ttl=*\n}}\n",
                ip(src),
                ip(dst)
            ),
            Kind::Firewall { src, dst, ttl, id } => format!(
                "scenario \"firewall {i}\" {{\n\
                 \x20 send ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01)\n\
                 \x20    / ipv4(src={}, dst={}, ttl={ttl}, df) / icmp.echo_request(id={id}, seq=1)\n\
                 \x20    / payload(\"ping\")\n\
                 \x20 expect XDP_DROP\n\
                 \x20 expect map stats[2] == 1\n}}\n",
                ip(src),
                ip(dst)
            ),
        };
        s.push_str(&text);
    }
    s
}

/// The TCP/IPv6-heavy suite: scenario `i` of three kinds, for `syn_filter.o`.
fn families_text(n: usize, object: &Path) -> String {
    let mut s = format!(
        "program \"{}\" xdp \"xdp_syn_filter\"\nmap open_ports[443] = 1\nmap config[0] = {{ min_mss: 536 }}\n\n",
        object.display()
    );
    for i in 0..n {
        let (a, b) = ((i >> 8) & 0xff, i & 0xff);
        let text = match i % 3 {
            0 => format!(
                "## TCP SYN {i}.\nscenario \"syn {i}\" {{\n\
                 \x20 send ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01)\n\
                 \x20    / ipv6(src=2001:db8:{a:x}::{b:x}, dst=2001:db8::1)\n\
                 \x20    / tcp.syn(sport={}, dport=443, seq={i}, options=[mss(1460), sack_permitted, \
                 timestamps({i}, 0), nop, wscale(7)])\n\
                 \x20 expect XDP_PASS: input\n\
                 \x20 expect map syn_stats[0] == 1\n}}\n",
                1024 + i % 60000
            ),
            1 => format!(
                "scenario \"ext {i}\" {{\n\
                 \x20 send ether / ipv6(src=2001:db8:{a:x}::{b:x}, dst=2001:db8::1, flow={i})\n\
                 \x20    / hbh(options=[router_alert(0)]) / frag6(m, id={i}) / udp(sport={}, dport=53)\n\
                 \x20    / payload(len=32, counting)\n\
                 \x20 expect XDP_PASS: input with ipv6.hlim=*\n}}\n",
                1024 + i % 60000
            ),
            _ => format!(
                "scenario \"tunnel {i}\" {{\n\
                 \x20 send ether / ipv4(src=198.51.{a}.{b}, dst=203.0.113.1) / ipv6(src=2001:db8::{b:x}, dst=2001:db8::1)\n\
                 \x20    / tcp(sport=40000, dport=443, flags=psh|ack, seq={i}, ack_seq=1) / payload(\"GET / HTTP/1.1\")\n\
                 \x20 expect XDP_PASS: input\n}}\n"
            ),
        };
        s.push_str(&text);
    }
    s
}

/// The SYN of families scenario `i` (a multiple of 3), input and expected, built with etherparse.
fn etherparse_syn(i: usize, out: &mut Vec<Vec<u8>>) {
    use etherparse::TcpOptionElement::*;
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    src[4..6].copy_from_slice(&(((i >> 8) & 0xff) as u16).to_be_bytes());
    src[14..16].copy_from_slice(&((i & 0xff) as u16).to_be_bytes());
    let mut dst = [0u8; 16];
    dst[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    dst[15] = 1;
    let mut p = Vec::with_capacity(100);
    PacketBuilder::ethernet2(ENB_MAC, UPF_MAC)
        .ipv6(src, dst, 64)
        .tcp((1024 + i % 60000) as u16, 443, i as u32, 65535)
        .syn()
        .options(&[
            MaximumSegmentSize(1460),
            SelectiveAcknowledgementPermitted,
            Timestamp(i as u32, 0),
            Noop,
            WindowScale(7),
        ])
        .unwrap()
        .write(&mut p, &[])
        .unwrap();
    out.push(p.clone());
    out.push(p);
}

/// The packets of scenario `i` (input, then the expected packet if any, wildcards as zeros), built
/// with etherparse.
fn etherparse_packets(i: usize, out: &mut Vec<Vec<u8>>) {
    match kind(i) {
        Kind::Uplink { ue, teid, seq } => {
            let mut inner = Vec::with_capacity(64);
            PacketBuilder::ipv4(ue, SERVER_IP, 64).icmpv4_echo_request(1, seq).write(&mut inner, b"abcd").unwrap();
            let mut gtp = Vec::with_capacity(8 + inner.len());
            gtp.extend_from_slice(&[0x30, 0xff]);
            gtp.extend_from_slice(&(inner.len() as u16).to_be_bytes());
            gtp.extend_from_slice(&teid.to_be_bytes());
            gtp.extend_from_slice(&inner);
            let mut input = Vec::with_capacity(128);
            PacketBuilder::ethernet2(ENB_MAC, UPF_MAC)
                .single_vlan(VlanId::try_new(100).unwrap())
                .ipv4(ENB_IP, UPF_IP, 64)
                .udp(2152, 2152)
                .write(&mut input, &gtp)
                .unwrap();
            out.push(input);
            let mut expected = Vec::with_capacity(64);
            PacketBuilder::ethernet2(UPF_MAC, [0; 6])
                .single_vlan(VlanId::try_new(300).unwrap())
                .ipv4(ue, SERVER_IP, 64)
                .icmpv4_echo_request(1, seq)
                .write(&mut expected, b"abcd")
                .unwrap();
            out.push(expected);
        }
        Kind::Vlan { vid, src, dst, ttl, sport, fill } => {
            let payload = [fill; 64];
            for (vid, ttl) in [(vid, ttl), (0, 0)] {
                let mut p = Vec::with_capacity(128);
                PacketBuilder::ethernet2(ENB_MAC, UPF_MAC)
                    .single_vlan(VlanId::try_new(vid).unwrap())
                    .ipv4(src, dst, ttl)
                    .udp(sport, 4789)
                    .write(&mut p, &payload)
                    .unwrap();
                out.push(p);
            }
        }
        Kind::Firewall { src, dst, ttl, id } => {
            let mut p = Vec::with_capacity(64);
            PacketBuilder::ethernet2(ENB_MAC, UPF_MAC)
                .ipv4(src, dst, ttl)
                .icmpv4_echo_request(id, 1)
                .write(&mut p, b"ping")
                .unwrap();
            out.push(p);
        }
    }
}

fn layer(kind: LayerKind, fields: &[(&'static str, FieldValue)]) -> Layer {
    let mut l = Layer::new(kind);
    l.fields.extend(fields.iter().cloned());
    l
}

fn b(bytes: &[u8]) -> FieldValue {
    FieldValue::Bytes(bytes.to_vec())
}

fn n(v: u64) -> FieldValue {
    FieldValue::Int(v)
}

/// The same packets as layer stacks for `wire::encode`.
fn layer_stacks(i: usize, out: &mut Vec<Vec<Layer>>) {
    let ether = |src: [u8; 6], dst: [u8; 6]| layer(LayerKind::Ether, &[("src", b(&src)), ("dst", b(&dst))]);
    let vlan = |vid: u16| layer(LayerKind::Vlan, &[("vid", n(vid.into()))]);
    let ipv4 = |src: [u8; 4], dst: [u8; 4], ttl: u8| {
        layer(LayerKind::Ipv4, &[("src", b(&src)), ("dst", b(&dst)), ("ttl", n(ttl.into())), ("df", n(1))])
    };
    let echo = |id: u16, seq: u16| {
        layer(LayerKind::Icmp, &[("type", n(8)), ("code", n(0)), ("id", n(id.into())), ("seq", n(seq.into()))])
    };
    let payload = |data: &[u8]| layer(LayerKind::Payload, &[("data", b(data))]);
    match kind(i) {
        Kind::Uplink { ue, teid, seq } => {
            out.push(vec![
                ether(ENB_MAC, UPF_MAC),
                vlan(100),
                ipv4(ENB_IP, UPF_IP, 64),
                layer(LayerKind::Udp, &[]),
                layer(LayerKind::Gtpu, &[("teid", n(teid.into()))]),
                ipv4(ue, SERVER_IP, 64),
                echo(1, seq),
                payload(b"abcd"),
            ]);
            out.push(vec![ether(UPF_MAC, [0; 6]), vlan(300), ipv4(ue, SERVER_IP, 64), echo(1, seq), payload(b"abcd")]);
        }
        Kind::Vlan { vid, src, dst, ttl, sport, fill } => {
            for (vid, ttl) in [(vid, ttl), (0, 0)] {
                out.push(vec![
                    ether(ENB_MAC, UPF_MAC),
                    vlan(vid),
                    ipv4(src, dst, ttl),
                    layer(LayerKind::Udp, &[("sport", n(sport.into())), ("dport", n(4789))]),
                    payload(&[fill; 64]),
                ]);
            }
        }
        Kind::Firewall { src, dst, ttl, id } => {
            out.push(vec![ether(ENB_MAC, UPF_MAC), ipv4(src, dst, ttl), echo(id, 1), payload(b"ping")]);
        }
    }
}

/// Best wall time of `RUNS` runs of `f`.
fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let r = f();
        best = best.min(start.elapsed());
        last = Some(r);
    }
    (best, last.unwrap())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, so keep that cheap.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: usize =
        std::env::var("XDPTEST_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 300 } else { 10_000 });

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let object = repo.join("programs/build/upf.o");
    if !object.exists() {
        let ok =
            std::process::Command::new("make").arg("-C").arg(repo.join("programs")).status().is_ok_and(|s| s.success());
        assert!(ok, "cannot build {}: run `make -C programs`", object.display());
    }
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("bench.pkt");
    let text = spec_text(n, &object);
    std::fs::write(&spec_path, &text).unwrap();
    // For profiling other builds on the same input: write both specs and stop.
    if let Some(out) = std::env::var_os("XDPTEST_BENCH_WRITE") {
        let out = Path::new(&out);
        std::fs::write(out.join("ipv4.pkt"), &text).unwrap();
        std::fs::write(out.join("families.pkt"), families_text(n, &repo.join("programs/build/syn_filter.o"))).unwrap();
        println!("wrote {} and {}", out.join("ipv4.pkt").display(), out.join("families.pkt").display());
        return;
    }

    // Correctness first: the compiler's packets are etherparse's, byte for byte.
    let mut diags = Vec::new();
    let compiled = compile_spec(&spec_path, &mut FsLoader::unconfined(), &mut diags);
    let Some(compiled) = compiled else {
        for d in &diags {
            eprintln!("{:?}", d.report());
        }
        panic!("the generated spec does not compile");
    };
    assert_eq!(compiled.fixtures.len(), n);
    let mut reference = Vec::new();
    for i in 0..n {
        etherparse_packets(i, &mut reference);
    }
    assert_eq!(compiled.packets.len(), reference.len());
    for (k, (p, r)) in compiled.packets.iter().zip(&reference).enumerate() {
        assert!(p.bytes == *r, "packet {k} ({}) differs from etherparse's", p.comment);
    }
    let mut stacks = Vec::new();
    for i in 0..n {
        layer_stacks(i, &mut stacks);
    }
    for (k, s) in stacks.iter().enumerate() {
        assert_eq!(wire::encode(s).unwrap().bytes, reference[k], "layer stack {k}");
    }
    let packets = reference.len();
    let bytes: usize = reference.iter().map(Vec::len).sum();

    let (t_parse, _) = best(|| xdptest_grammar::parse(&text).expect("parses").items.len());
    let (t_compile, _) = best(|| {
        let mut diags = Vec::new();
        compile_spec(&spec_path, &mut FsLoader::unconfined(), &mut diags).expect("compiles")
    });
    let specs = vec![SpecPath { path: spec_path.clone(), relative: "bench.pkt".into() }];
    let suite = xdptest_compiler::Suite { specs: vec![compiled], warnings: Vec::new() };
    let (t_outputs, files) = best(|| suite::outputs(&specs, &suite).expect("outputs"));
    let out_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let (t_encode, _) = best(|| stacks.iter().map(|s| wire::encode(s).unwrap().bytes.len()).sum::<usize>());
    let (t_etherparse, _) = best(|| {
        let mut out = Vec::with_capacity(packets);
        for i in 0..n {
            etherparse_packets(i, &mut out);
        }
        out.len()
    });

    println!(
        "\nxdptest compile benchmark: {n} scenarios, {packets} packets ({bytes} bytes), spec {} KiB, \
         best of {RUNS}{}",
        text.len() / 1024,
        if quick { " (quick run: pass --bench or set XDPTEST_BENCH_N)" } else { "" }
    );
    println!("{:<42} {:>10} {:>14} {:>14} {:>9}", "step", "time", "scenarios/s", "packets/s", "µs/packet");
    let row = |name: &str, t: Duration, per_scenario: bool| {
        let s = t.as_secs_f64();
        println!(
            "{:<42} {:>8.1}ms {:>14} {:>14.0} {:>9.2}",
            name,
            s * 1e3,
            if per_scenario { format!("{:.0}", n as f64 / s) } else { "-".into() },
            packets as f64 / s,
            s * 1e6 / packets as f64
        );
    };
    row("parse (grammar only)", t_parse, true);
    row("parse + compile (compile_spec, from file)", t_compile, true);
    row("fixtures + pcapng (suite::outputs)", t_outputs, true);
    row("wire::encode only (same layer stacks)", t_encode, false);
    row("etherparse PacketBuilder (baseline)", t_etherparse, false);
    println!(
        "ratios: parse+compile / etherparse = {:.0}x, wire::encode / etherparse = {:.1}x, \
         parse share of parse+compile = {:.0}%; outputs: {} files, {} KiB",
        t_compile.as_secs_f64() / t_etherparse.as_secs_f64(),
        t_encode.as_secs_f64() / t_etherparse.as_secs_f64(),
        100.0 * t_parse.as_secs_f64() / t_compile.as_secs_f64(),
        files.len(),
        out_bytes / 1024
    );

    // The TCP/IPv6-heavy suite, same size, same run.
    let syn_filter = repo.join("programs/build/syn_filter.o");
    let fam_path = dir.path().join("families.pkt");
    let fam_text = families_text(n, &syn_filter);
    std::fs::write(&fam_path, &fam_text).unwrap();
    let mut diags = Vec::new();
    let Some(fam) = compile_spec(&fam_path, &mut FsLoader::unconfined(), &mut diags) else {
        for d in &diags {
            eprintln!("{:?}", d.report());
        }
        panic!("the generated TCP/IPv6 spec does not compile");
    };
    assert!(diags.iter().all(|d| !d.is_error()));
    assert_eq!(fam.fixtures.len(), n);
    // Two packets per scenario (input and expected); the SYNs checked against etherparse.
    assert_eq!(fam.packets.len(), 2 * n);
    for i in (0..n).step_by(3) {
        let mut want = Vec::new();
        etherparse_syn(i, &mut want);
        assert!(fam.packets[2 * i].bytes == want[0], "SYN {i} differs from etherparse's");
        assert!(fam.packets[2 * i + 1].bytes == want[1], "expected SYN {i} differs from etherparse's");
    }
    let fam_packets = fam.packets.len();
    let fam_bytes: usize = fam.packets.iter().map(|p| p.bytes.len()).sum();
    let (f_parse, _) = best(|| xdptest_grammar::parse(&fam_text).expect("parses").items.len());
    let (f_compile, _) = best(|| {
        let mut diags = Vec::new();
        compile_spec(&fam_path, &mut FsLoader::unconfined(), &mut diags).expect("compiles")
    });
    let fam_specs = vec![SpecPath { path: fam_path.clone(), relative: "families.pkt".into() }];
    let fam_suite = xdptest_compiler::Suite { specs: vec![fam], warnings: Vec::new() };
    let (f_outputs, _) = best(|| suite::outputs(&fam_specs, &fam_suite).expect("outputs"));
    println!(
        "\nTCP/IPv6 suite: {n} scenarios, {fam_packets} packets ({fam_bytes} bytes), spec {} KiB",
        fam_text.len() / 1024
    );
    let fam_row = |name: &str, t: Duration| {
        let s = t.as_secs_f64();
        println!(
            "{:<42} {:>8.1}ms {:>14.0} {:>14.0} {:>9.2}",
            name,
            s * 1e3,
            n as f64 / s,
            fam_packets as f64 / s,
            s * 1e6 / fam_packets as f64
        );
    };
    fam_row("parse (grammar only)", f_parse);
    fam_row("parse + compile (compile_spec, from file)", f_compile);
    fam_row("fixtures + pcapng (suite::outputs)", f_outputs);
    let pps = |t: Duration, p: usize| p as f64 / t.as_secs_f64();
    println!(
        "parse + compile, packets/s: IPv4/GTP-U suite {:.0}, TCP/IPv6 suite {:.0} (ratio {:.2})",
        pps(t_compile, packets),
        pps(f_compile, fam_packets),
        pps(f_compile, fam_packets) / pps(t_compile, packets)
    );
}
