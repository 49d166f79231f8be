//! Hostile specs, one test per way a spec from a pull request broke the compiler: each must give a
//! located error (rendered without panicking) in bounded time and memory, never a crash or a hang.
//! The inputs are generated: they are too large to keep as files.

use std::path::{Path, PathBuf};

use miette::{GraphicalReportHandler, GraphicalTheme};
use xdptest_compiler::spec::{compile_spec, FsLoader, Loader, Refusal};
use xdptest_compiler::{suite, Diag};

/// The example programs are built by `make -C programs` (scripts/test does it first).
const PROGRAM: &str =
    concat!("program \"", env!("CARGO_MANIFEST_DIR"), "/../programs/build/counter.o\" xdp \"xdp_counter\"\n");

fn render(d: &Diag) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, d.report().as_ref())
        .expect("render");
    out
}

/// Compiles `text` as a spec in this crate's test directory (so the program line finds the object);
/// returns every diagnostic, rendered.
fn compile(name: &str, text: &str) -> Vec<(String, String, String)> {
    let dir = tempfile::Builder::new().prefix("hostile-").tempdir_in(Path::new("tests/specs")).unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let mut diags = Vec::new();
    let compiled = compile_spec(&path, &mut FsLoader::unconfined(), &mut diags);
    assert!(compiled.is_none() || diags.iter().all(|d| !d.is_error()));
    diags.iter().map(|d| (d.message.clone(), d.location().unwrap_or_default(), render(d))).collect()
}

/// The one error of `text`: its message and `line:col`.
fn one_error(name: &str, text: &str) -> (String, String, String) {
    let diags = compile(name, text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let (msg, loc, shown) = diags.into_iter().next().unwrap();
    let line_col = loc.rsplitn(3, ':').take(2).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(":");
    (msg, line_col, shown)
}

#[test]
fn deep_nesting_is_a_located_error_not_a_stack_overflow() {
    for (open, close) in [("{a:", "}"), ("[", "]"), ("(", ")")] {
        let depth = 20_000;
        let text = format!("{PROGRAM}map proto_count[0] = {}1{}\n", open.repeat(depth), close.repeat(depth));
        let (msg, at, shown) = one_error("deep.pkt", &text);
        assert_eq!(msg, "brackets nest deeper than 64 levels", "{open}");
        let col = "map proto_count[0] = ".len() + 64 * open.len() + 1;
        assert_eq!(at, format!("2:{col}"), "{open}");
        assert!(shown.contains("level 65"), "{shown}");
    }
    // 64 levels are still read (and then judged by the map's type, not by the parser).
    let text = format!("{PROGRAM}map proto_count[0] = {}1{}\n", "[".repeat(63), "]".repeat(63));
    assert!(compile("ok.pkt", &text).iter().all(|(m, ..)| !m.contains("nest")));
}

#[test]
fn long_chains_of_named_packets_stop_at_a_located_error() {
    let mut text = format!("{PROGRAM}packet p0 = ether / ipv4 / udp\n");
    for i in 1..=12_000 {
        text.push_str(&format!("packet p{i} = p{}\n", i - 1));
    }
    text.push_str("scenario \"s\" {\n  send p12000\n  expect XDP_PASS: input\n}\n");
    let diags = compile("chain.pkt", &text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].0.contains("through more than 100 named packets"), "{}", diags[0].0);
}

#[test]
fn doubling_packets_stop_at_the_layer_limit() {
    let mut text = format!("{PROGRAM}packet q0 = ether\n");
    for i in 1..=22 {
        text.push_str(&format!("packet q{i} = q{} / q{}\n", i - 1, i - 1));
    }
    text.push_str("scenario \"s\" {\n  send q22\n  expect XDP_PASS: input\n}\n");
    let start = std::time::Instant::now();
    let diags = compile("expo.pkt", &text);
    // Not a timing assertion: the 2^22-layer packet would take minutes and gigabytes.
    assert!(start.elapsed().as_secs() < 60);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].0, "this packet has 256 layers, more than 128");
    assert!(diags[0].1.ends_with(":10:13"), "{}", diags[0].1);
    // Payloads count too: 32 × 60,000 bytes is more than any test run takes.
    let mut text = format!("{PROGRAM}packet b0 = ether / payload(len=60000)\n");
    for i in 1..=5 {
        text.push_str(&format!("packet b{i} = b{} / b{}\n", i - 1, i - 1));
    }
    let diags = compile("big.pkt", &text);
    assert!(diags[0].0.contains("bytes of payload, more than a test run takes (73152)"), "{diags:#?}");
}

#[test]
fn byte_strings_have_the_same_limit_as_payload_lengths() {
    let text = format!("{PROGRAM}packet p = ether / payload(hex\"{}\")\n", "ab".repeat(65_536));
    let (msg, ..) = one_error("hex.pkt", &text);
    assert_eq!(msg, "a byte string of 65536 bytes is longer than 65535");
    let text = format!("{PROGRAM}packet p = ether / payload(\"{}\")\n", "a".repeat(65_536));
    let (msg, ..) = one_error("str.pkt", &text);
    assert_eq!(msg, "a string of 65536 bytes is longer than 65535");
    let text = format!("{PROGRAM}packet p = ether / payload(len=65536)\n");
    assert!(one_error("len.pkt", &text).0.contains("a length up to 65535"));
}

#[test]
fn diagnostics_past_column_65535_render_an_excerpt() {
    let text = format!("{PROGRAM}scenario \"s\" {{\n  send ether / payload(hex\"{}\") zz\n}}\n", "ab".repeat(40_000));
    let (_, at, shown) = one_error("long.pkt", &text);
    assert_eq!(at, format!("3:{}", "  send ether / payload(hex\"".len() + 80_000 + 4));
    assert!(shown.contains("…"), "{shown}");
    assert!(shown.lines().all(|l| l.chars().count() < 200), "{shown}");
    assert!(shown.contains("\") zz"), "{shown}");
}

#[test]
fn columns_count_characters_not_bytes() {
    let text = format!("{PROGRAM}scenario \"s\" {{ # é é é\n  send ether / ipv4(ttl=300) # ééé\n}}\n");
    let (_, at, shown) = one_error("col.pkt", &text);
    assert_eq!(at, "3:25");
    assert!(shown.contains("col.pkt:3:25]"), "{shown}");
    let text = format!(
        "{PROGRAM}scenario \"ééééé\" {{\n  send ether / ipv4 / udp\n  expect map proto_count[\"é\"] == 1 zz\n}}\n"
    );
    let (_, at, shown) = one_error("col2.pkt", &text);
    assert_eq!(at, "4:36");
    assert!(shown.contains("col2.pkt:4:36]"), "{shown}");
}

#[test]
fn numbers_that_would_wrap_are_range_errors() {
    for (opt, msg) in [
        ("ingress 4294967297", "ifindex 4294967297 is out of range"),
        ("ingress 0", "ifindex 0 is out of range"),
        ("queue 4294967296", "queue 4294967296 is out of range"),
    ] {
        let text =
            format!("{PROGRAM}scenario \"s\" {{\n  send ether / ipv4 / udp {opt}\n  expect XDP_PASS: input\n}}\n");
        let (m, at, _) = one_error("range.pkt", &text);
        assert_eq!((m.as_str(), at.as_str()), (msg, "3:27"));
    }
}

#[test]
fn a_field_given_twice_is_an_error_in_packets_and_map_values() {
    let text = format!("{PROGRAM}packet p = ether / ipv4(ttl=3, ttl=4)\n");
    assert_eq!(one_error("a.pkt", &text).0, "`ttl` is given twice");
    let text = format!("{PROGRAM}packet p = ether / vlan(1, 2)\n");
    assert_eq!(one_error("b.pkt", &text).0, "`vid` is given twice");
    let text = format!("{PROGRAM}packet p = ether / payload(len=4, fill=1, pattern=hex\"0102\")\n");
    assert!(one_error("c.pkt", &text).0.contains("`fill` with `pattern`"));
    let lb = concat!("program \"", env!("CARGO_MANIFEST_DIR"), "/../programs/build/lb.o\" xdp \"xdp_lb\"\n");
    let text = format!(
        "{lb}map vips[{{ addr: {{ v4: 10.0.0.1 }}, port: 80, port: 81, proto: 6, family: 4 }}] = {{ id: 0 }}\n"
    );
    let (m, at, _) = one_error("d.pkt", &text);
    assert_eq!((m.as_str(), at.as_str()), ("`port` is given twice", "2:46"));
}

#[test]
fn push_takes_a_named_packet_as_the_book_says() {
    let text = format!(
        "{PROGRAM}packet tag = vlan(7)\nscenario \"s\" {{\n  send ether / ipv4 / udp push tag after ether\n  \
         expect XDP_PASS: input\n}}\n"
    );
    let d = compile("push.pkt", &text);
    assert!(d.is_empty(), "{d:#?}");
}

/// A loader that reads like the CLI's, confined to the crate's test directory.
fn confined() -> FsLoader {
    FsLoader::confined(&[PathBuf::from("tests")])
}

fn refusal(loader: &mut FsLoader, path: &str) -> Refusal {
    let e = loader.read(Path::new(path)).expect_err(path);
    Refusal::of(&e).unwrap_or_else(|| panic!("{path}: {e}")).clone()
}

#[test]
fn only_regular_files_inside_the_allowed_tree_are_read() {
    let mut l = confined();
    assert!(matches!(refusal(&mut l, "/etc/passwd"), Refusal::Outside { .. }));
    assert!(matches!(refusal(&mut l, "tests/../Cargo.toml"), Refusal::Outside { .. }));
    assert!(l.read(Path::new("tests/errors/no_send.pkt")).is_ok());
    let mut any = FsLoader::unconfined();
    assert_eq!(refusal(&mut any, "/dev/zero"), Refusal::NotRegular("device"));
    assert_eq!(refusal(&mut any, "/tmp"), Refusal::NotRegular("directory"));
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // Would block forever if opened for reading.
    assert_eq!(refusal(&mut any, fifo.to_str().unwrap()), Refusal::NotRegular("FIFO"));
    // A symlink out of the tree is judged by where it leads.
    let link = Path::new("tests/specs").join(format!("hostile-link-{}", std::process::id()));
    std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
    let r = refusal(&mut l, link.to_str().unwrap());
    std::fs::remove_file(&link).unwrap();
    assert!(matches!(r, Refusal::Outside { .. }));
}

#[test]
fn includes_outside_the_tree_are_refused_without_quoting_them() {
    let dir = tempfile::Builder::new().prefix("hostile-").tempdir_in("tests/specs").unwrap();
    let spec = dir.path().join("a.pkt");
    std::fs::write(&spec, "include \"/etc/passwd\"\n").unwrap();
    let mut diags = Vec::new();
    assert!(compile_spec(&spec, &mut confined(), &mut diags).is_none());
    assert_eq!(diags.len(), 1);
    let shown = render(&diags[0]);
    assert!(diags[0].message.contains("outside the directories specs may read"), "{shown}");
    assert!(diags[0].message.contains("--allow-path"), "{shown}");
    assert!(!shown.contains("root:"), "{shown}");
}

#[test]
fn discovery_enters_each_directory_once_through_symlink_cycles() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.pkt"), "").unwrap();
    for name in ["l1", "l2", "l3"] {
        std::os::unix::fs::symlink(".", dir.path().join(name)).unwrap();
    }
    let found = suite::discover(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn spec_paths_that_are_not_utf8_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("a.pkt"), "").unwrap();
    let errors = suite::discover(&[dir.path().to_path_buf()]).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("is not a UTF-8 path"), "{}", errors[0].message);
    assert!(suite::discover(&[bad.join("a.pkt")]).is_err());
}

#[test]
fn roots_are_the_repository_of_the_specs() {
    let roots = suite::spec_roots(&[PathBuf::from("tests/errors")], &[]);
    let repo = std::fs::canonicalize("..").unwrap();
    assert_eq!(roots, [repo]);
    let outside = tempfile::tempdir().unwrap();
    let roots = suite::spec_roots(&[outside.path().to_path_buf()], &[PathBuf::from("/usr")]);
    assert_eq!(roots, [std::fs::canonicalize(outside.path()).unwrap(), PathBuf::from("/usr")]);
}
