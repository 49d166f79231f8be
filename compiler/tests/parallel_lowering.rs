//! A large spec's scenarios are lowered on several threads: the result must be that of one thread —
//! the same fixtures in the same order, the same diagnostics in the same order, and the findings that
//! concern the whole spec (programs that late scenarios send to, a clock set only at the end) kept.

use std::path::Path;

use xdptest_compiler::spec::{compile_spec, FsLoader};

fn object(name: &str) -> String {
    format!("{}/../programs/build/{name}.o", env!("CARGO_MANIFEST_DIR"))
}

/// Compiles `text` with a pool of `threads` threads; the fixtures (as text) and the diagnostics.
fn compile_with(threads: usize, path: &Path) -> (String, Vec<String>) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let mut diags = Vec::new();
        let compiled = compile_spec(path, &mut FsLoader::unconfined(), &mut diags);
        let fixtures = compiled.map(|c| format!("{:#?}", c.fixtures)).unwrap_or_default();
        (fixtures, diags.iter().map(|d| format!("{} {}", d.location().unwrap_or_default(), d.message)).collect())
    })
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn parallel_lowering_equals_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    // Only the last scenarios send to the second program and set the clock.
    let mut lb =
        format!("program \"{}\" xdp \"xdp_lb\"\npacket syn = ether / ipv4 / tcp.syn(dport=80)\n", object("lb"));
    let mut rate = format!("program \"{}\" xdp \"xdp_ratelimit\"\n", object("ratelimit"));
    for i in 0..1500 {
        let last = i == 1499;
        let target = if last { " program xdp_lb_encap" } else { "" };
        lb.push_str(&format!(
            "## scenario {i}\nscenario \"s{i}\" {{\n  map lb_stats[0] = {{ packets: {i} }}\n  send syn with tcp.sport={}{target}\n  expect XDP_TX\n}}\n",
            1000 + i
        ));
        let clock = if last { "  clock 5s\n" } else { "" };
        rate.push_str(&format!(
            "scenario \"r{i}\" {{\n{clock}  send ether / ipv4 / udp(sport={i})\n  expect XDP_PASS: input\n}}\n"
        ));
    }
    let good = [write(dir.path(), "lb.pkt", &lb), write(dir.path(), "rate.pkt", &rate)];
    for path in &good {
        let one = compile_with(1, path);
        assert!(one.1.is_empty(), "{:?}", one.1);
        assert_eq!(compile_with(4, path), one, "{}", path.display());
    }
    let (fixtures, _) = compile_with(4, &good[0]);
    assert!(fixtures.contains("xdp_lb_encap"), "the program the last scenario sends to is loaded");
    let (fixtures, _) = compile_with(4, &good[1]);
    assert!(fixtures.contains("controls: true"), "the clock the last scenario sets is controlled");

    // Mistakes spread over the whole spec: every one reported, in order, as one thread reports them.
    let bad: String = lb
        .lines()
        .enumerate()
        .map(|(n, l)| match n % 211 {
            5 => l.replace("tcp.sport=", "tcp.sportt="),
            6 => l.replace("packets:", "pkts:"),
            _ => l.to_string(),
        } + "\n")
        .collect();
    let bad = write(dir.path(), "bad.pkt", &bad);
    let one = compile_with(1, &bad);
    assert!(one.1.len() >= 8, "{:?}", one.1);
    assert_eq!(compile_with(4, &bad), one);
}
