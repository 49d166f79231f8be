//! A property test for stable `cargo test` (the nightly fuzz targets under `fuzz/` go further): a few
//! thousand mutated versions of the example specs go through the parser, the compiler and the
//! diagnostic renderer, and the packets they produce (plus mutated bytes) through the decoder. Nothing
//! may panic, and a spec that does not compile must say why.
//!
//! Mutations are deterministic (xorshift); set `XDPTEST_NO_PANIC_SEED` / `XDPTEST_NO_PANIC_ITERS` to
//! explore further. A failure prints the mutated spec so it can be replayed.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use miette::{GraphicalReportHandler, GraphicalTheme};
use xdptest_compiler::fixture::Step;
use xdptest_compiler::spec::{compile_spec, Loader};
use xdptest_compiler::wire;

#[path = "support/xorshift.rs"]
mod xorshift;
use xorshift::XorShift;

/// The path the mutated spec is served under.
const MAIN: &str = "__mutated__.pkt";

/// Tokens worth inserting: the language's punctuation, keywords, layers, and edge-case literals.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "/",
    ",",
    "=",
    "==",
    ":",
    ".",
    "*",
    "\"",
    "#",
    "##",
    "\n",
    " ",
    "with ",
    "without ",
    "push ",
    " after ",
    " before ",
    "send ",
    "expect ",
    "XDP_PASS",
    "XDP_TX",
    "map ",
    "missing",
    "per_cpu [1, 2]",
    "input",
    "packet ",
    "scenario \"x\" {",
    "include \"",
    "ether",
    "vlan",
    "vlan(4095)",
    "ipv4",
    "ipv4:2",
    "ipv4:0",
    "udp",
    "gtpu",
    "gtpu.pdu_session",
    "gtpu.ext(ext_type=0x40)",
    "pdu_session(ppi=7)",
    "icmp.frag_needed",
    "payload(len=65535)",
    "payload(len=40000)",
    "payload(",
    "raw(",
    "len=",
    "checksum=0",
    "ihl=15",
    "options=hex\"01\"",
    "0",
    "1",
    "255",
    "256",
    "65535",
    "65536",
    "0xffffffff",
    "0x1_0000_0000",
    "18446744073709551615",
    "99999999999999999999",
    "255.255.255.255",
    "1.2.3",
    "ff:ff:ff:ff:ff:ff",
    "hex\"",
    "hex\"0\"",
    "é",
    "→",
    "\u{0}",
    "\\",
    "\\x",
    "ingress eth0 ",
    "queue 4294967296 ",
    "env { link ",
    "true",
];

fn mutate(rng: &mut XorShift, seed: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut s = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = s.len();
        match rng.below(7) {
            // Delete a range.
            0 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                s.drain(a..b);
            }
            // Insert a token.
            1 | 2 => {
                let at = rng.below(len + 1);
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                s.splice(at..at, t.iter().copied());
            }
            // Duplicate a range elsewhere.
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let chunk = s[a..b].to_vec();
                let at = rng.below(len + 1);
                s.splice(at..at, chunk);
            }
            // Splice in a range of another spec.
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(128)).min(other.len());
                    let at = rng.below(len + 1);
                    s.splice(at..at, other[a..b].iter().copied());
                }
            }
            // Replace a digit run with another number.
            5 => {
                let digits: Vec<usize> = (0..len).filter(|&i| s[i].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    let a = digits[rng.below(digits.len())];
                    let mut b = a;
                    while b < len && s[b].is_ascii_digit() {
                        b += 1;
                    }
                    let n = ["0", "1", "7", "255", "256", "4095", "65535", "65536", "4294967296"][rng.below(9)];
                    s.splice(a..b, n.bytes());
                }
            }
            // Flip a byte.
            _ if len > 0 => {
                let i = rng.below(len);
                s[i] ^= 1 << rng.below(8);
            }
            _ => {}
        }
    }
    s
}

/// Serves the mutated spec, the example specs (by file name, for includes) and the program objects
/// (by file name, whatever directory the spec names).
struct MemLoader {
    main: Vec<u8>,
    files: BTreeMap<String, Vec<u8>>,
}

impl Loader for MemLoader {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        if path == Path::new(MAIN) {
            return Ok(self.main.clone());
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        self.files.get(name).cloned().ok_or_else(|| std::io::ErrorKind::NotFound.into())
    }
}

fn pkt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "snapshots") {
                pkt_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "pkt") {
            out.push(p);
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Parses, compiles and renders one spec text; decodes what it compiles to. True if it compiled.
fn exercise(text: &[u8], files: &BTreeMap<String, Vec<u8>>, rng_bytes: u64) -> bool {
    if let Ok(s) = std::str::from_utf8(text) {
        if let Err(errors) = xdptest_grammar::parse(s) {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(e.span.start <= e.span.end && e.span.end <= s.len(), "{e:?}");
            }
        }
    }
    let mut loader = MemLoader { main: text.to_vec(), files: files.clone() };
    let mut diags = Vec::new();
    let compiled = compile_spec(Path::new(MAIN), &mut loader, &mut diags);
    assert_eq!(
        compiled.is_some(),
        !diags.iter().any(|d| d.is_error()),
        "a spec failed without an error, or compiled with one: {diags:?}"
    );
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor());
    for d in &diags {
        let mut out = String::new();
        handler.render_report(&mut out, d.report().as_ref()).expect("render");
    }
    for f in compiled.iter().flat_map(|c| &c.fixtures) {
        for step in &f.steps {
            if let Step::Run { input, .. } = step {
                let mut bytes = input.0.clone();
                for l in wire::decode(&bytes).layers {
                    for field in &l.fields {
                        let _ = field.display_value();
                    }
                }
                // And a damaged copy.
                if !bytes.is_empty() {
                    let i = (rng_bytes as usize) % bytes.len();
                    bytes[i] ^= (rng_bytes >> 8) as u8 | 1;
                    bytes.truncate(1 + (rng_bytes as usize >> 16) % bytes.len());
                    let _ = wire::decode(&bytes);
                }
            }
        }
        let back = xdptest_compiler::Fixture::from_ron(&f.to_ron()).expect("RON round trip");
        assert_eq!(&back, f);
    }
    compiled.is_some()
}

#[test]
fn mutated_specs_never_panic() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = crate_dir.parent().unwrap();
    let mut paths = Vec::new();
    pkt_files(&repo.join("specs"), &mut paths);
    pkt_files(&crate_dir.join("tests/specs"), &mut paths);
    paths.sort();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut corpus = Vec::new();
    for p in &paths {
        let bytes = std::fs::read(p).unwrap();
        files.insert(p.file_name().unwrap().to_str().unwrap().to_string(), bytes.clone());
        corpus.push(bytes);
    }
    if let Ok(rd) = std::fs::read_dir(repo.join("programs/build")) {
        for e in rd {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "o") {
                files.insert(p.file_name().unwrap().to_str().unwrap().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    assert!(files.contains_key("upf.o"), "build the programs first: make -C programs");
    assert!(corpus.len() >= 3, "too few example specs: {paths:?}");

    // The unmutated specs compile (through this loader too).
    for (p, text) in paths.iter().zip(&corpus) {
        let mut diags = Vec::new();
        let mut loader = MemLoader { main: text.clone(), files: files.clone() };
        compile_spec(Path::new(MAIN), &mut loader, &mut diags);
        diags.retain(|d| d.is_error());
        assert!(diags.is_empty(), "{}: {diags:?}", p.display());
    }

    let mut rng = XorShift(env_u64("XDPTEST_NO_PANIC_SEED", 0x9e37_79b9_7f4a_7c15) | 1);
    let iters = env_u64("XDPTEST_NO_PANIC_ITERS", 3000);
    let mut failures = Vec::new();
    let mut compiled_ok = 0usize;
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..iters {
        let seed = &corpus[rng.below(corpus.len())];
        let text = mutate(&mut rng, seed, &corpus);
        let extra = rng.next();
        let r = catch_unwind(AssertUnwindSafe(|| exercise(&text, &files, extra)));
        match r {
            Ok(compiled) => compiled_ok += usize::from(compiled),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!(
                    "iteration {i}: {msg}\n--- input ({} bytes) ---\n{}\n---",
                    text.len(),
                    String::from_utf8_lossy(&text)
                ));
            }
        }
    }
    std::panic::set_hook(prev_hook);
    eprintln!("{iters} mutated specs, {compiled_ok} compiled, {} panicked", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {iters} mutated specs panicked; the first ones:\n{}",
        failures.len(),
        failures.iter().take(3).cloned().collect::<Vec<_>>().join("\n\n")
    );
    // The mutations must not be so destructive that nothing compiles any more.
    assert!(compiled_ok > 0, "no mutated spec compiled: the test exercises only error paths");
}
