//! Benchmark of `xdptest run` (not a timed test: it prints figures, it asserts nothing about speed).
//!
//! Generates a suite of N scenarios (default 10,000; `XDPTEST_BENCH_SCENARIOS` overrides) spread over
//! [`SPECS`] example programs (the first five of the early examples: UPF, firewall, counter, ICMP echo,
//! router; then programs of the kinds users bring: a SYN filter over both IP families, a two-stage load
//! balancer with tail calls, metadata, an LRU table and map-of-maps rings, a SYN dumper with perf
//! events and global variables, and a program of a legacy section with a pinned map), then measures,
//! in one process and one run:
//! - the floor: a raw loop of BPF_PROG_TEST_RUN syscalls over the same input packets, one loaded copy
//!   of each program, nothing else;
//! - the runner alone (library: fixtures already compiled) with 1 and 2 workers, and the suite in a
//!   shuffled order (it must still pass: isolation);
//! - `xdptest run` end to end (the real binary: parse, compile, load, run, report) with --jobs 1 and 2,
//!   and with --jobs 1 --coverage (every scenario run twice, once counted, and the reports written);
//! - program load time (object parse, map creation, verifier) per program;
//! - two peers on the same packets: one `bpftool prog run` process per packet (how scripted tests
//!   drive the kernel), and scapy building every input and expected packet (how users build them by
//!   hand; its inputs are checked equal to the fixtures').
//!
//! Needs root and built programs: `make -C programs && cargo bench --bench run`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use xdptest_compiler::fixture::Step;
use xdptest_runner::program::LoadedProgram;
use xdptest_runner::{run_results, Observe, RunOptions, Verdict};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Programs (specs) in the generated suite.
const SPECS: usize = 9;

fn main() {
    let n: usize = std::env::var("XDPTEST_BENCH_SCENARIOS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    assert!(Command::new("make").args(["-s", "-C"]).arg(root().join("programs")).status().unwrap().success());
    let dir = tempfile::tempdir().unwrap();
    let per = n / SPECS;
    write_suite(dir.path(), per);
    // XDPTEST_BENCH_KEEP=DIR keeps a copy of the generated suite, for profiling.
    if let Some(keep) = std::env::var_os("XDPTEST_BENCH_KEEP") {
        std::fs::create_dir_all(&keep).unwrap();
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), Path::new(&keep).join(e.file_name())).unwrap();
        }
    }
    let total = per * SPECS;
    println!(
        "xdptest run benchmark: {total} scenarios over {SPECS} programs, {} CPUs",
        std::thread::available_parallelism().unwrap()
    );

    // Compile once (library) for the in-process measurements.
    let t = Instant::now();
    let specs = xdptest_compiler::discover(&[dir.path().to_path_buf()]).unwrap();
    let suite = xdptest_compiler::compile(&specs, &xdptest_compiler::spec::FsLoader::unconfined())
        .unwrap_or_else(|d| panic!("{:?}", d[0].report()));
    let compile_time = t.elapsed();
    let fixtures: Vec<_> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    assert_eq!(fixtures.len(), total);

    // Program load time.
    let mut loads = Vec::new();
    let mut loaded = std::collections::HashMap::new();
    // The process's first load also pays one-time costs (the loader library's probes of the kernel's
    // features, the kernel BTF for CO-RE objects): timed apart, then every program timed on its own
    // second load.
    let mut first_load = None;
    for f in &fixtures {
        if !loaded.contains_key(&f.program) {
            let t = Instant::now();
            let p = LoadedProgram::load(&f.program).unwrap();
            let first = t.elapsed();
            first_load.get_or_insert((f.program.name.clone(), first));
            drop(p);
            let t = Instant::now();
            let p = LoadedProgram::load(&f.program).unwrap();
            loads.push((f.program.name.clone(), t.elapsed()));
            loaded.insert(f.program.clone(), p);
        }
    }

    // The floor: one test run per packet, nothing else (no resets, no maps, no comparisons). The router
    // runs without its namespace here, so its fib lookups fail fast; that only lowers the floor.
    let packets: Vec<(&LoadedProgram, &[u8])> = fixtures
        .iter()
        .flat_map(|f| {
            let p = &loaded[&f.program];
            f.steps
                .iter()
                .filter_map(move |s| if let Step::Run { input, .. } = s { Some((p, &input.0[..])) } else { None })
        })
        .collect();
    let mut out = Vec::with_capacity(4096);
    let mut floor = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for (p, input) in &packets {
            std::hint::black_box(p.test_run(input, None, &mut out).unwrap());
        }
        floor = floor.min(t.elapsed());
    }
    let packet_count = packets.len();
    let bpftool = bpftool_loop(&packets, dir.path());
    drop(packets);
    drop(loaded);

    // The runner alone.
    let mut runner = Vec::new();
    for jobs in [1, 2] {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let mut not_passed = Vec::new();
            run_results(&fixtures, &RunOptions { jobs, ..RunOptions::default() }, &Observe::default(), |_, r| {
                if !matches!(r.verdict, Verdict::Pass) {
                    not_passed.push(r)
                }
            });
            best = best.min(t.elapsed());
            assert!(not_passed.is_empty(), "every generated scenario passes; not: {:#?}", &not_passed[..1]);
        }
        runner.push((jobs, best));
    }

    // Isolation: the same suite in a shuffled order, on one and two workers, still passes (a faster
    // reset that skipped state would show here).
    let mut order: Vec<usize> = (0..fixtures.len()).collect();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in (1..order.len()).rev() {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        order.swap(i, (x >> 33) as usize % (i + 1));
    }
    let shuffled: Vec<_> = order.iter().map(|&i| fixtures[i].clone()).collect();
    for jobs in [1, 2] {
        let mut failed = 0;
        run_results(&shuffled, &RunOptions { jobs, ..RunOptions::default() }, &Observe::default(), |_, r| {
            failed += usize::from(!matches!(r.verdict, Verdict::Pass))
        });
        assert_eq!(failed, 0, "{failed} scenarios fail in shuffled order with {jobs} worker(s)");
    }
    drop(shuffled);

    // Per program, one worker, program loads excluded: what a scenario costs on top of its test run.
    let mut per_program = Vec::new();
    let mut programs: Vec<_> = fixtures.iter().map(|f| f.program.clone()).collect();
    programs.dedup();
    for prog in &programs {
        let subset: Vec<_> = fixtures.iter().filter(|f| &f.program == prog).cloned().collect();
        let mut best = f64::MAX;
        for _ in 0..3 {
            let opts = RunOptions { jobs: 1, ..RunOptions::default() };
            let stats = run_results(&subset, &opts, &Observe::default(), |_, _| {});
            best = best.min((stats.wall - stats.load_time).as_secs_f64() * 1e6 / subset.len() as f64);
        }
        let maps = subset[0].steps.iter().filter(|s| !matches!(s, Step::Run { .. })).count();
        per_program.push((prog.name.clone(), best, maps));
    }

    // End to end through the binary.
    let mut e2e = Vec::new();
    for jobs in ["1", "2"] {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            // The generated specs live in a temporary directory and name the repository's objects.
            let o = Command::new(env!("CARGO_BIN_EXE_xdptest"))
                .args(["run", "--jobs", jobs, "--format", "json"])
                .arg(dir.path())
                .env("XDPTEST_ALLOW_PATH", root())
                .output()
                .unwrap();
            best = best.min(t.elapsed());
            assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        }
        e2e.push((jobs, best));
    }
    // With coverage: counted copies loaded beside the programs, every scenario run a second time.
    let cov_dir = dir.path().join("coverage-out");
    let mut covered = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_xdptest"))
            .args(["run", "--jobs", "1", "--format", "json", "--coverage"])
            .arg(&cov_dir)
            .arg(dir.path())
            .env("XDPTEST_ALLOW_PATH", root())
            .output()
            .unwrap();
        covered = covered.min(t.elapsed());
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }

    let scapy = scapy_peer(&fixtures, per.min(500));

    let us = |d: Duration| d.as_secs_f64() * 1e6 / total as f64;
    let floor_us = floor.as_secs_f64() * 1e6 / packet_count as f64;
    let mut r = String::new();
    let _ = writeln!(
        r,
        "  raw BPF_PROG_TEST_RUN loop (floor)   {:>8.2} µs/packet   ({} packets, {:.3} s)",
        floor_us,
        packet_count,
        floor.as_secs_f64()
    );
    let _ = writeln!(
        r,
        "  compile (parse + check + encode)     {:>8.2} µs/scenario ({:.3} s)",
        us(compile_time),
        compile_time.as_secs_f64()
    );
    for (jobs, d) in &runner {
        let _ = writeln!(
            r,
            "  runner, {jobs} worker(s)                {:>8.2} µs/scenario ({:.3} s)  {:.1}× floor",
            us(*d),
            d.as_secs_f64(),
            us(*d) / floor_us
        );
    }
    for (jobs, d) in &e2e {
        let _ = writeln!(
            r,
            "  xdptest run --jobs {jobs} (end to end)  {:>8.2} µs/scenario ({:.3} s)  {:.1}× floor",
            us(*d),
            d.as_secs_f64(),
            us(*d) / floor_us
        );
    }
    let _ = writeln!(
        r,
        "  xdptest run --jobs 1 --coverage       {:>8.2} µs/scenario ({:.3} s)  {:.2}× the run without",
        us(covered),
        covered.as_secs_f64(),
        covered.as_secs_f64() / e2e[0].1.as_secs_f64()
    );
    let _ = writeln!(
        r,
        "  scaling --jobs 1 → 2: runner {:.2}×, end to end {:.2}×",
        runner[0].1.as_secs_f64() / runner[1].1.as_secs_f64(),
        e2e[0].1.as_secs_f64() / e2e[1].1.as_secs_f64()
    );
    let e2e_us = us(e2e[0].1);
    let peers = [
        ("one `bpftool prog run` per packet", "µs/packet  ", "packets", &bpftool),
        ("scapy builds the packets         ", "µs/scenario", "scenarios, inputs equal to the fixtures'", &scapy),
    ];
    for (peer, unit, counted, figure) in peers {
        let _ = match figure {
            Ok((secs, n)) => writeln!(
                r,
                "  peer: {peer} {:>8.2} {unit} ({n} {counted}): xdptest --jobs 1 end to end is {:.0}× faster",
                secs * 1e6,
                secs * 1e6 / e2e_us
            ),
            Err(e) => writeln!(r, "  peer: {} not measured: {e}", peer.trim_end()),
        };
    }
    for (name, us_per, steps) in &per_program {
        let _ = writeln!(
            r,
            "  runner, {name:<16} {us_per:>8.2} µs/scenario ({:.1}× floor; {steps} map steps per scenario)",
            us_per / floor_us
        );
    }
    if let Some((name, d)) = &first_load {
        let _ = writeln!(r, "  first load of the process ({name}) {:>8.2} ms", d.as_secs_f64() * 1e3);
    }
    for (name, d) in &loads {
        let _ = writeln!(r, "  load {name:<16} {:>8.2} ms", d.as_secs_f64() * 1e3);
    }
    print!("{r}");
}

/// The scripted-shell peer: one `bpftool prog run` process per packet, over an even sample of the
/// floor's packets. Seconds per packet and how many were run.
fn bpftool_loop(packets: &[(&LoadedProgram, &[u8])], dir: &Path) -> Result<(f64, usize), String> {
    let sample: Vec<_> = packets.iter().step_by((packets.len() / 200).max(1)).collect();
    let mut jobs = Vec::new();
    for (i, (p, input)) in sample.iter().enumerate() {
        let id = p.program_id(p.name()).ok_or("no program id")?;
        let file = dir.join(format!("bpftool-{i}.bin"));
        std::fs::write(&file, input).map_err(|e| e.to_string())?;
        jobs.push((id, file));
    }
    let t = Instant::now();
    for (id, file) in &jobs {
        let o = Command::new("bpftool")
            .args(["prog", "run", "id", &id.to_string(), "data_in"])
            .arg(file)
            .output()
            .map_err(|e| format!("bpftool: {e}"))?;
        if !o.status.success() || !String::from_utf8_lossy(&o.stdout).contains("Return value") {
            return Err(format!("bpftool failed: {}", String::from_utf8_lossy(&o.stderr).trim()));
        }
    }
    Ok((t.elapsed().as_secs_f64() / jobs.len() as f64, jobs.len()))
}

/// The hand-built peer: scapy builds the inputs and expected outputs of `per` scenarios of each of
/// four specs (`benches/scapy_peer.py`); every input it builds must equal the fixture's, so both
/// sides build the same packets. Seconds per scenario (the building alone, not Python's start) and
/// how many scenarios.
fn scapy_peer(fixtures: &[xdptest_compiler::fixture::Fixture], per: usize) -> Result<(f64, usize), String> {
    let o = Command::new("python3")
        .arg(root().join("benches/scapy_peer.py"))
        .arg(per.to_string())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !o.status.success() {
        return Err(format!("scapy_peer.py failed: {}", String::from_utf8_lossy(&o.stderr).trim()));
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let (last, built) = lines.split_last().ok_or("no output")?;
    let seconds: f64 = last.trim().parse().map_err(|_| format!("no time in {last:?}"))?;
    let inputs: std::collections::HashMap<&str, &[u8]> = fixtures
        .iter()
        .filter_map(|f| {
            f.steps
                .iter()
                .find_map(|s| if let Step::Run { input, .. } = s { Some(&input.0[..]) } else { None })
                .map(|i| (f.scenario.as_str(), i))
        })
        .collect();
    for line in built {
        let (name, hex) = line.split_once('\t').ok_or("bad line")?;
        let ours: String =
            inputs.get(name).ok_or(format!("no scenario {name}"))?.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(ours, hex, "scapy and xdptest build different inputs for {name}");
    }
    Ok((seconds / built.len() as f64, built.len()))
}

/// [`SPECS`] specs, `per` scenarios each, varied packets, every scenario passing on the example programs.
fn write_suite(dir: &Path, per: usize) {
    let prog = |name: &str| root().join("programs/build").join(format!("{name}.o")).display().to_string();
    let mut upf = format!(
        "program \"{}\" xdp \"xdp_upf\"\n\
         map config[0] = {{ local_ip: 192.168.10.5 }}\n\
         packet uplink = ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01) / vlan(100)\n\
           / ipv4(src=192.168.10.1, dst=192.168.10.5, id=1212, df) / udp / gtpu(teid=2)\n\
           / ipv4(src=192.168.100.200, dst=192.168.30.1, id=1160, df) / icmp.echo_request(id=1, seq=1) / payload(\"abcd\")\n",
        prog("upf")
    );
    for i in 0..per {
        let teid = 1 + i % 1000;
        let _ = write!(
            upf,
            "scenario \"uplink {i}\" {{\n  map sessions[{teid}] = {{ ue_ip: 192.168.100.200, vlan_out: {}, src_mac: 00:00:5e:00:53:01, dst_mac: 00:00:5e:00:53:aa }}\n  \
             send uplink with gtpu.teid={teid}, ipv4:2.id={}\n  expect XDP_TX: input without [ipv4, udp, gtpu] with vlan.vid={}, ether.src=00:00:5e:00:53:01, ether.dst=00:00:5e:00:53:aa\n  \
             expect map stats[0] == 1\n}}\n",
            100 + i % 3000,
            i % 65536,
            100 + i % 3000
        );
    }
    std::fs::write(dir.join("upf.pkt"), upf).unwrap();

    let mut fw = format!("program \"{}\" xdp \"xdp_firewall\"\nmap blocklist[10.0.0.0/8] = 1\n", prog("firewall"));
    for i in 0..per {
        let blocked = i % 2 == 0;
        let src = if blocked {
            format!("10.{}.{}.{}", i % 250, (i / 250) % 250, 1 + i % 200)
        } else {
            format!("198.51.100.{}", 1 + i % 250)
        };
        let expect =
            if blocked { "XDP_DROP\n  expect map rule_hits[1] == 1".to_string() } else { "XDP_PASS: input".into() };
        let _ = write!(fw, "scenario \"fw {i}\" {{\n  send ether / ipv4(src={src}, dst=192.168.1.10) / udp(sport={}, dport=53) / payload(len={})\n  expect {expect}\n}}\n", 1024 + i % 60000, i % 64);
    }
    std::fs::write(dir.join("firewall.pkt"), fw).unwrap();

    let mut counter = format!("program \"{}\" xdp \"xdp_counter\"\n", prog("counter"));
    for i in 0..per {
        let _ = write!(counter, "scenario \"count {i}\" {{\n  send ether / vlan({}) / ipv4(src=192.0.2.1, dst=198.51.100.1, ttl={}) / udp(sport=1, dport=2)\n  expect XDP_PASS: input\n  expect map proto_count[17] == 1\n}}\n", 1 + i % 4000, 1 + i % 254);
    }
    std::fs::write(dir.join("counter.pkt"), counter).unwrap();

    let mut echo = format!("program \"{}\" xdp \"xdp_icmp_echo\"\n", prog("icmp_echo"));
    for i in 0..per {
        let _ = write!(
            echo,
            "scenario \"echo {i}\" {{\n  send ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01) / ipv4(src=192.0.2.10, dst=192.0.2.1) / icmp.echo_request(id={}, seq={}) / payload(len={}, fill=0x61)\n  \
             expect XDP_TX: input with ether.src=00:00:5e:00:53:01, ether.dst=00:00:5e:00:53:02, ipv4.src=192.0.2.1, ipv4.dst=192.0.2.10, icmp.type=echo_reply\n}}\n",
            // id 0 / seq 0 / no payload is the ones'-complement zero case where the program's incremental
            // checksum update (0x0000) and a full computation (0xffff) disagree: kept out of the benchmark.
            1 + i % 65535,
            (i * 7) % 65536,
            i % 100
        );
    }
    std::fs::write(dir.join("icmp_echo.pkt"), echo).unwrap();

    let mut router = format!(
        "program \"{}\" xdp \"xdp_router\"\nenv {{\n  link eth0 veth peer eth0p mac 02:00:00:00:00:01 addr 10.0.1.1/24\n  \
         link eth1 veth peer eth1p mac 02:00:00:00:01:01 addr 10.0.2.1/24\n  neigh 10.0.2.2 mac 02:00:00:00:02:02 dev eth1\n  route 192.0.2.0/24 via 10.0.2.2\n}}\n\
         map tx_ports[eth1] = eth1\n",
        prog("router")
    );
    for i in 0..per {
        let _ = write!(
            router,
            "scenario \"route {i}\" {{\n  send ether(dst=02:00:00:00:00:01) / ipv4(src=10.0.1.50, dst=192.0.2.{}, ttl={}) / udp(sport=1, dport=2)\n  ingress eth0\n  \
             expect XDP_REDIRECT: input with ipv4.ttl={}, ether.src=02:00:00:00:01:01, ether.dst=02:00:00:00:02:02\n  expect map route_stats[0] == 1\n}}\n",
            1 + i % 250,
            2 + i % 250,
            1 + i % 250
        );
    }
    std::fs::write(dir.join("router.pkt"), router).unwrap();

    let mut syn_filter = format!(
        "program \"{}\" xdp \"xdp_syn_filter\"\nmap open_ports[443] = 1\nmap config[0] = {{ min_mss: 536 }}\n\
         map blocklist_v4[203.0.113.0/24] = 1\nmap blocklist_v6[2001:db8:bad::/48] = 2\n",
        prog("syn_filter")
    );
    for i in 0..per {
        let (ip, blocked) = match i % 4 {
            0 => (format!("ipv4(src=198.51.100.{}, dst=192.0.2.1)", 1 + i % 250), false),
            1 => (format!("ipv6(src=2001:db8:1::{:x}, dst=2001:db8::1)", 1 + i % 65000), false),
            2 => (format!("ipv4(src=203.0.113.{}, dst=192.0.2.1)", 1 + i % 250), true),
            _ => (format!("ipv6(src=2001:db8:bad::{:x}, dst=2001:db8::1)", 1 + i % 65000), true),
        };
        let (action, stat) = if blocked { ("XDP_DROP", 1) } else { ("XDP_PASS: input", 0) };
        let _ = write!(
            syn_filter,
            "scenario \"syn {i}\" {{\n  send ether / {ip} / tcp.syn(sport={}, dport=443, options=[mss({}), sack_permitted])\n  \
             expect {action}\n  expect map syn_stats[{stat}] == 1\n}}\n",
            1024 + i % 60000,
            536 + i % 1000
        );
    }
    std::fs::write(dir.join("syn_filter.pkt"), syn_filter).unwrap();

    let mut lb = format!(
        "program \"{}\" xdp \"xdp_lb\"\n\
         map config[0] = {{ src_v4: 10.0.0.1, src_v6: 2001:db8:ff::1, gw_mac: 00:00:5e:00:53:fe, mtu: 1500 }}\n\
         map lb_stages[0] = program xdp_lb_encap\n\
         map vips[{{ addr: {{ v4: 192.0.2.10 }}, port: 80, proto: 6, family: 4 }}] = {{ id: 0 }}\n\
         map ch_rings[0] = map ring_web\n\
         map reals[0] = {{ addr: {{ v4: 10.1.0.1 }} }}\nmap reals[1] = {{ addr: {{ v4: 10.1.0.2 }} }}\n",
        prog("lb")
    );
    for slot in 0..8 {
        let _ = writeln!(lb, "map ring_web[{slot}] = {}", slot % 2);
    }
    for i in 0..per {
        let _ = write!(
            lb,
            "scenario \"lb {i}\" {{\n  send ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01) / ipv4(src=198.51.100.{}, dst=192.0.2.10) / tcp.syn(sport={}, dport=80)\n  \
             expect XDP_TX\n  expect meta == hex\"\"\n  expect map lb_stats[0] == {{ packets: 1 }}\n}}\n",
            1 + i % 250,
            1024 + i % 60000
        );
    }
    std::fs::write(dir.join("lb.pkt"), lb).unwrap();

    let mut dump = format!("program \"{}\" xdp \"xdp_syn_dump\"\n", prog("syn_dump"));
    for i in 0..per {
        let dport = 1 + i % 65000;
        let _ = write!(
            dump,
            "scenario \"dump {i}\" {{\n  send ether / ipv4(src=198.51.100.7, dst=192.0.2.1) / tcp.syn(sport=40000, dport={dport})\n  \
             expect XDP_PASS: input\n  expect event syn_events as struct syn_event == {{ family: 4, dport: {dport} }} + packet(54)\n  \
             expect no event\n  expect global syns_seen == 1\n}}\n"
        );
    }
    std::fs::write(dir.join("syn_dump.pkt"), dump).unwrap();

    let mut legacy = format!("program \"{}\" xdp \"xdp_patch_ports\"\n", prog("legacy"));
    for i in 0..per {
        let dport = 2 + i % 65000;
        let _ = write!(
            legacy,
            "scenario \"legacy {i}\" {{\n  send ether / ipv4(src=192.0.2.1, dst=192.0.2.2) / udp(sport=40000, dport={dport}) / payload(len={})\n  \
             expect XDP_PASS: input with udp.dport={}\n  expect map xdp_stats_map[2] == {{ rx_packets: 1 }}\n}}\n",
            i % 64,
            dport - 1
        );
    }
    std::fs::write(dir.join("legacy.pkt"), legacy).unwrap();
}
