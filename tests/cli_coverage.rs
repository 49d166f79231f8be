//! `xdptest run --coverage`: counts measured in the kernel by counted copies of the programs, checked
//! where the answer is known by construction (a test program whose every path one scenario takes, the
//! example firewall), against independent readers (llvm-objdump's line table, genhtml and lcov's
//! own summary), and through the trust gate with a deliberately broken rewrite.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{build_programs, repo as root, text, xdptest};

/// The coverage test program, built into `dir`, with a spec whose scenarios take each of its paths.
fn cover_suite(dir: &Path) -> PathBuf {
    support::clang_bpf(&root(), root().join("tests/programs/cover.c"), dir.join("cover.o"));
    let spec = dir.join("cover.pkt");
    std::fs::write(
        &spec,
        r#"program "cover.o" xdp "xdp_cover"

scenario "a short frame is aborted" {
  send ether
  expect XDP_ABORTED
}

scenario "0x01 goes back out" {
  send ether / payload(hex"0100")
  expect XDP_TX
}

scenario "0x02 0xff is dropped by classify" {
  send ether / payload(hex"02ff")
  expect XDP_DROP
}

scenario "0x02 with another byte passes classify" {
  send ether / payload(hex"0200")
  expect XDP_PASS
}

scenario "anything else passes" {
  send ether / payload(hex"0300")
  expect XDP_PASS
}
"#,
    )
    .unwrap();
    spec
}

/// `run --coverage OUT` of `paths` (outside the repository: allowed), with `extra` arguments.
fn covered(dir: &Path, paths: &[&Path], extra: &[&str]) -> (std::process::Output, serde_json::Value, String) {
    let out = dir.join("coverage");
    let mut x = xdptest().env("XDPTEST_ALLOW_PATH", format!("{}:{}", root().display(), dir.display())).arg("run");
    for p in paths {
        x = x.arg(p);
    }
    let o = x.arg("--coverage").arg(&out).args(extra).output();
    let json = std::fs::read_to_string(out.join("coverage.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    let lcov = std::fs::read_to_string(out.join("lcov.info")).unwrap_or_default();
    (o, json, lcov)
}

fn program<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["programs"].as_array().unwrap().iter().find(|p| p["program"] == name).unwrap_or_else(|| panic!("{name}"))
}

/// The number of the first line of `file` that contains `needle`.
fn line_of(file: &Path, needle: &str) -> u32 {
    let text = std::fs::read_to_string(file).unwrap();
    1 + text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}")) as u32
}

/// `BRDA` records of one line: (block, branch) → taken (`None` for `-`).
fn brda(lcov: &str, line: u32) -> BTreeMap<(u64, u64), Option<u64>> {
    lcov.lines()
        .filter_map(|l| l.strip_prefix("BRDA:"))
        .filter_map(|r| {
            let f: Vec<&str> = r.split(',').collect();
            (f[0].parse::<u32>().ok()? == line)
                .then(|| ((f[1].parse().unwrap(), f[2].parse().unwrap()), f[3].parse().ok()))
        })
        .collect()
}

/// A scenario set that takes every way the program can return reports none unreached; the block that
/// `.rodata` switches off is the verifier's dead code, said apart, and counts for no line.
#[test]
fn every_return_of_a_program_is_followed() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let spec = cover_suite(dir.path());
    let (o, json, lcov) = covered(dir.path(), &[&spec], &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("verdict paths 5/5"), "{out}");
    assert!(!out.contains("never reached"), "{out}");
    let src = root().join("tests/programs/cover.c");
    let dead: Vec<String> = ["__u32 k = 0", "bpf_map_lookup_elem(&seen", "if (v)", "*v += 1"]
        .iter()
        .map(|n| format!("cover.c:{}", line_of(&src, n)))
        .collect();
    // The summary wraps at 86 columns.
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&format!("removed by the verifier as dead code: {}", dead.join(", "))), "{out}");
    let p = program(&json, "xdp_cover");
    assert_eq!(p["verdicts"], serde_json::json!({"hit": 5, "total": 5}));
    let returns: BTreeSet<String> =
        p["verdict_paths"].as_array().unwrap().iter().map(|v| v["returns"].as_str().unwrap().to_string()).collect();
    // ABORTED, TX (through the variable), DROP and PASS (from classify), PASS (the variable's default).
    assert_eq!(returns, ["0", "1", "2", "3"].iter().map(|s| s.to_string()).collect());
    assert_eq!(p["functions"].as_array().unwrap().len(), 2, "the subprogram is a function of its own");
    // Dead lines are neither hit nor missed.
    for d in &dead {
        let line = d.rsplit(':').next().unwrap();
        assert!(!lcov.contains(&format!("\nDA:{line},")), "{d} is no DA line:\n{lcov}");
    }
    assert!(lcov.contains("FN:") && lcov.contains(",classify\n") && lcov.contains("FNDA:2,classify"), "{lcov}");
    // `if (p[0] == 0x01)`: taken once (0x01), not taken three times (the 0x02s and 0x03).
    let choice = brda(&lcov, line_of(&src, "if (p[0] == 0x01)"));
    assert!(choice.values().any(|c| *c == Some(1)) && choice.values().any(|c| *c == Some(3)), "{choice:?}");
    assert!(choice.values().all(|c| c.is_some_and(|c| c > 0)), "{choice:?}");
}

/// Leaving one scenario out reports exactly the path it alone took, and its branch as taken one way
/// only: 1 of 2 in the branch's `BRDA` records.
#[test]
fn leaving_a_scenario_out_reports_exactly_the_path_it_took() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let spec = cover_suite(dir.path());
    let (o, json, lcov) = covered(dir.path(), &[&spec], &["--exclude", "0x01 goes back out"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let never: Vec<&str> = out.lines().filter(|l| l.contains("never reached")).collect();
    assert_eq!(never.len(), 1, "{out}");
    assert!(never[0].contains("`return XDP_TX`"), "{out}");
    let p = program(&json, "xdp_cover");
    let unreached: Vec<&serde_json::Value> =
        p["verdict_paths"].as_array().unwrap().iter().filter(|v| v["reached"] == false).collect();
    assert_eq!(unreached.len(), 1);
    assert_eq!(unreached[0]["returns"], "3");
    let src = root().join("tests/programs/cover.c");
    let choice = brda(&lcov, line_of(&src, "if (p[0] == 0x01)"));
    let first_block = choice.keys().next().unwrap().0;
    let taken: Vec<Option<u64>> = choice.iter().filter(|((b, _), _)| *b == first_block).map(|(_, c)| *c).collect();
    assert_eq!(taken, vec![Some(0), Some(3)], "taken never, not taken three times: {choice:?}");

    // The example firewall: every path but the one no test run can take (frames under 14 bytes,
    // which the kernel refuses) is reached; leaving out the bogus headers leaves their three paths.
    let fw = root().join("specs/firewall");
    let (o, _, _) = covered(dir.path(), &[&fw], &[]);
    let out = text(&o);
    let never: Vec<&str> = out.lines().filter(|l| l.contains("never reached")).collect();
    // Its `r0 = XDP_PASS` is hoisted to the program's first instruction: the line of its name.
    let eth = line_of(&root().join("programs/firewall.c"), "int xdp_firewall(");
    assert_eq!(never, vec![format!("    `return XDP_PASS` at firewall.c:{eth} is never reached")], "{out}");
    let (o, _, _) = covered(dir.path(), &[&fw], &["--exclude", "bogus IPv4 headers"]);
    let out = text(&o);
    let fw_c = root().join("programs/firewall.c");
    let (bogus, long) = (line_of(&fw_c, "iph->version != 4"), line_of(&fw_c, "iph->ihl * 4 > data_end"));
    let never: BTreeSet<String> = out.lines().filter(|l| l.contains("never reached")).map(str::to_string).collect();
    let want: BTreeSet<String> = [
        format!("    `return XDP_PASS` at firewall.c:{eth} is never reached"),
        format!("    `return XDP_DROP` at firewall.c:{bogus} (2 places) is never reached"),
        format!("    `return XDP_DROP` at firewall.c:{long} is never reached"),
    ]
    .into_iter()
    .collect();
    assert_eq!(never, want, "{out}");
}

/// A rewrite that changes what the program does (a test-only switch flips every return value) is
/// caught scenario by scenario: the verdicts still come from the unmodified program, every scenario's
/// coverage is unavailable with the gate's reason, and none of its counts are reported.
#[test]
fn the_trust_gate_catches_a_broken_rewrite() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let spec = cover_suite(dir.path());
    let out_dir = dir.path().join("coverage");
    let o = xdptest()
        .env("XDPTEST_ALLOW_PATH", dir.path())
        .env("XDPTEST_COVERAGE_BREAK", "1")
        .arg("run")
        .arg(&spec)
        .arg("--coverage")
        .arg(&out_dir)
        .args(["--min-coverage", "lines=1"])
        .output();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "below the threshold: {out}");
    assert!(out.contains("5 passed, 0 failed"), "the verdicts are the unmodified program's: {out}");
    assert!(out.contains("5 scenarios without coverage"), "{out}");
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(flat.matches("(trust gate)").count(), 5, "{out}");
    assert!(flat.contains("the counted program returned 1 where the program returned 0"), "{out}");
    assert!(out.contains("error: lines coverage 0.0% (0/") && out.contains("is below --min-coverage 1%"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("coverage.json")).unwrap()).unwrap();
    let scenarios = json["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 5);
    assert!(scenarios.iter().all(|s| s["unavailable"].as_str().unwrap().contains("trust gate")), "{json}");
    assert_eq!(program(&json, "xdp_cover")["lines"]["hit"], 0);
}

/// `--min-coverage` gates the run: met, exit 0; missed, exit 1 naming the kind; malformed, exit 2.
#[test]
fn min_coverage_gates_the_run() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let spec = cover_suite(dir.path());
    let (o, _, _) = covered(dir.path(), &[&spec], &["--min-coverage", "lines=100,branches=100,verdicts=100"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (o, _, _) = covered(dir.path(), &[&spec], &["-x", "0x01", "--min-coverage", "verdicts=100"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("error: verdict paths coverage 80.0% (4/5) is below --min-coverage 100%"),
        "{}",
        text(&o)
    );
    for bad in ["lines", "lines=101", "paths=5", ""] {
        let o = xdptest().arg("run").arg(&spec).args(["--min-coverage", bad]).output();
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
    }
}

/// Symbols: name → (section, instruction index).
type Symbols = BTreeMap<String, (String, usize)>;
/// (section, instruction index) → line.
type Lines = BTreeMap<(String, usize), u32>;

/// The line of every instruction, per section and index, as llvm-objdump prints it: a `; file:line`
/// marker holds until the next one, and a label (a jump target, a function) starts without a line.
fn objdump_lines(object: &Path) -> (Symbols, Lines) {
    let o = Command::new("llvm-objdump").args(["-d", "-l", "--no-show-raw-insn"]).arg(object).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (mut symbols, mut lines) = (BTreeMap::new(), BTreeMap::new());
    let (mut section, mut current) = (String::new(), None::<u32>);
    for l in String::from_utf8(o.stdout).unwrap().lines() {
        if let Some(s) = l.strip_prefix("Disassembly of section ") {
            section = s.trim_end_matches(':').to_string();
            current = None;
        } else if let (Some(lt), true) = (l.find(" <"), l.ends_with(">:")) {
            let addr = usize::from_str_radix(l[..lt].trim(), 16).unwrap();
            symbols.entry(l[lt + 2..l.len() - 2].to_string()).or_insert((section.clone(), addr / 8));
            current = None;
        } else if let Some(m) = l.strip_prefix("; ") {
            if let Some((_, n)) = m.rsplit_once(':') {
                if let Ok(n) = n.parse() {
                    current = Some(n);
                }
            }
        } else if let Some((idx, _)) = l.trim_start().split_once(":\t") {
            if let (Ok(i), Some(line)) = (idx.parse::<usize>(), current) {
                lines.insert((section.clone(), i), line);
            }
        }
    }
    (symbols, lines)
}

/// The lines coverage reports as run are the lines llvm-objdump gives the instructions that ran
/// (function starts aside: BTF gives a function's first instruction the line of its name, DWARF the
/// line after), for every program of the example suite and the coverage test program.
#[test]
fn covered_lines_agree_with_llvm_objdump() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let spec = cover_suite(dir.path());
    let specs = root().join("specs");
    let (o, json, _) = covered(dir.path(), &[&specs, &spec], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut checked = 0;
    for p in json["programs"].as_array().unwrap() {
        let object = PathBuf::from(p["object"].as_str().unwrap());
        let object = if object.is_absolute() { object } else { root().join(object) };
        let object = if object.exists() { object } else { dir.path().join(p["object"].as_str().unwrap()) };
        let (symbols, lines) = objdump_lines(&object);
        let mut from_objdump = BTreeSet::new();
        let mut starts = BTreeSet::new();
        for f in p["functions"].as_array().unwrap() {
            let (start, len) = (f["start"].as_u64().unwrap() as usize, f["len"].as_u64().unwrap() as usize);
            let (section, at) = symbols.get(f["name"].as_str().unwrap()).unwrap_or_else(|| panic!("{f}"));
            starts.insert(start);
            for r in p["executed_insns"].as_array().unwrap() {
                let (a, b) = (r[0].as_u64().unwrap() as usize, r[1].as_u64().unwrap() as usize);
                for slot in a.max(start + 1)..b.min(start + len) {
                    if let Some(line) = lines.get(&(section.clone(), at + slot - start)) {
                        from_objdump.insert(*line);
                    }
                }
            }
        }
        let ours: BTreeSet<u32> = p["executed_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap())
            .collect();
        // Our only lines objdump has not: the function-name lines of the functions that ran.
        let extra: BTreeSet<u32> = ours.difference(&from_objdump).copied().collect();
        let missing: BTreeSet<u32> = from_objdump.difference(&ours).copied().collect();
        assert!(missing.is_empty(), "{}: lines that ran per objdump but not per coverage: {missing:?}", p["program"]);
        assert!(extra.len() <= starts.len(), "{}: lines only coverage has: {extra:?}", p["program"]);
        checked += 1;
    }
    assert!(checked >= 15, "{checked} programs checked");
}

/// genhtml (Debian's lcov) turns the tracefile into pages, and lcov's own summary of it counts what
/// xdptest's JSON counts.
#[test]
fn genhtml_reads_the_tracefile() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let spec = cover_suite(dir.path());
    let (o, json, _) = covered(dir.path(), &[&root().join("specs"), &spec], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lcov = dir.path().join("coverage/lcov.info");
    let html = dir.path().join("html");
    let g = Command::new("genhtml").arg("--branch-coverage").arg("-o").arg(&html).arg(&lcov).output().unwrap();
    assert!(g.status.success(), "{}{}", String::from_utf8_lossy(&g.stdout), String::from_utf8_lossy(&g.stderr));
    let index = std::fs::read_to_string(html.join("index.html")).unwrap();
    assert!(index.contains("firewall.c") || index.contains("programs"), "{index}");
    let s = Command::new("lcov").args(["--rc", "lcov_branch_coverage=1", "--summary"]).arg(&lcov).output().unwrap();
    let summary = String::from_utf8_lossy(&s.stdout).to_string() + &String::from_utf8_lossy(&s.stderr);
    let (mut lines, mut branches) = ((0, 0), (0, 0));
    for p in json["programs"].as_array().unwrap() {
        lines.0 += p["lines"]["hit"].as_u64().unwrap();
        lines.1 += p["lines"]["total"].as_u64().unwrap();
        branches.0 += p["branches"]["hit"].as_u64().unwrap();
        branches.1 += p["branches"]["total"].as_u64().unwrap();
    }
    // Programs sharing a file (lb.c, router.c) share its lines in the tracefile: lcov counts each
    // line once, so its totals are at most the sum over programs.
    let figure = |kind: &str| -> (u64, u64) {
        let l = summary.lines().find(|l| l.trim_start().starts_with(kind)).unwrap_or_else(|| panic!("{summary}"));
        let inner = &l[l.find('(').unwrap() + 1..l.find(')').unwrap()];
        let mut it = inner.split(" of ").map(|n| n.trim().trim_end_matches(|c: char| !c.is_ascii_digit()));
        let hit = it.next().unwrap().parse().unwrap();
        let total = it.next().unwrap().split_whitespace().next().unwrap().parse().unwrap();
        (hit, total)
    };
    let (lh, lt) = figure("lines");
    assert!(lt <= lines.1 && lt > 0 && lh <= lt, "{summary} vs {lines:?}");
    let (bh, bt) = figure("branches");
    assert_eq!((bh, bt), branches, "branches are per program, never merged: {summary}");
}

/// In VMs on both kernels of the matrix, the guests count and the host reads their counts through
/// the same plans: every scenario is measured on each kernel, and the verifier's dead code is found
/// there too.
#[test]
fn coverage_is_measured_in_vms_on_both_kernels() {
    let has_qemu = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("qemu-system-x86_64").is_file());
    if !has_qemu {
        assert!(std::env::var_os("CI").is_none(), "CI must run the VM tests: install qemu-system-x86");
        eprintln!("skipped: qemu-system-x86_64 is not installed");
        return;
    }
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let spec = cover_suite(dir.path());
    let (o, json, _) = covered(
        dir.path(),
        &[&spec],
        &["--kernel", "debian:6.1", "--kernel", "debian:6.12", "--min-coverage", "verdicts=100"],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("verdict paths 5/5") && out.contains("removed by the verifier as dead code"), "{out}");
    let scenarios = json["scenarios"].as_array().unwrap();
    for kernel in ["debian:6.1", "debian:6.12"] {
        let on: Vec<&serde_json::Value> = scenarios.iter().filter(|s| s["target"] == kernel).collect();
        assert_eq!(on.len(), 5, "{kernel}: {json}");
        assert!(on.iter().all(|s| s.get("unavailable").is_none() && s["programs"]["xdp_cover"].is_object()), "{json}");
    }
    assert_eq!(program(&json, "xdp_cover")["scenarios"], 10);
}

/// The coverage chapter's report of the example suite is what `run --coverage` prints for it. After
/// an intended change, `BLESS=1 cargo test --test cli_coverage` rewrites it; review the diff.
#[test]
fn the_books_coverage_report_is_real() {
    build_programs();
    let o = xdptest().args(["run", "specs/", "-q", "-j1", "--coverage", "target/book-coverage"]).output();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = support::stdout(&o);
    let report = &out[out.find("coverage: ").expect("a coverage summary")..];
    support::compare_or_bless_file(&root().join("book/src/generated/coverage-specs.txt"), report, "cli_coverage");
    // The chapter's gate passes on the example suite, and one branch percentage more fails it.
    let gate = |t: &str| {
        xdptest().args(["run", "specs/", "-q", "--coverage", "target/book-coverage", "--min-coverage", t]).output()
    };
    let o = gate("lines=90,branches=50,verdicts=60");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = gate("lines=90,branches=60,verdicts=60");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("error: branches coverage 53.1%"), "{}", text(&o));
}

/// `doc --coverage` adds a page built from coverage.json, listed in the summary, with every verdict
/// path and links to the scenarios' sections; a file that is not a coverage summary is refused.
#[test]
fn doc_adds_a_coverage_page() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let spec = cover_suite(dir.path());
    let (o, _, _) = covered(dir.path(), &[&spec], &["-x", "0x01"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pages = dir.path().join("pages");
    let o = xdptest()
        .env("XDPTEST_ALLOW_PATH", dir.path())
        .arg("doc")
        .arg(&spec)
        .arg("--out")
        .arg(&pages)
        .arg("--coverage")
        .arg(dir.path().join("coverage/coverage.json"))
        .output();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let page = std::fs::read_to_string(pages.join("coverage.md")).unwrap();
    assert!(page.contains("| `xdp_cover` |") && page.contains("80.0% (4/5)"), "{page}");
    assert!(page.contains("`return XDP_TX` at xdp_cover+21 (no source line) | **never** |"), "{page}");
    assert!(page.contains("[a short frame is aborted](cover.md#"), "{page}");
    assert!(std::fs::read_to_string(pages.join("SUMMARY.md")).unwrap().contains("- [Coverage](coverage.md)"));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"version\": 1}").unwrap();
    let o = xdptest()
        .env("XDPTEST_ALLOW_PATH", dir.path())
        .arg("doc")
        .arg(&spec)
        .arg("--out")
        .arg(&pages)
        .arg("--coverage")
        .arg(&bad)
        .output();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not a version-1 coverage.json"), "{}", text(&o));
}

/// A tail call from the counted program reaches the counted copy of its target (the program array
/// gets the counted copies), so both programs of the load balancer count one packet.
#[test]
fn tail_called_programs_are_counted() {
    build_programs();
    let dir = tempfile::tempdir().unwrap();
    let lb = root().join("specs/lb/lb.pkt");
    let (o, json, _) = covered(
        dir.path(),
        &[&lb],
        &["--exact", "-f", &format!("{}::a packet to an IPv4 VIP is wrapped toward an IPv4 real", lb.display())],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("1 passed"), "{}", text(&o));
    for name in ["xdp_lb", "xdp_lb_encap"] {
        let p = program(&json, name);
        assert_eq!(p["scenarios"], 1, "{name}: {p}");
        assert!(p["lines"]["hit"].as_u64().unwrap() > 10, "{name}: {p}");
        assert_eq!(p["functions"][0]["calls"], 1, "{name} ran once: {p}");
    }
    // The stage's `return XDP_TX` is reached; the entry program's ways out are all the tail call's.
    let encap = program(&json, "xdp_lb_encap");
    assert!(
        encap["verdict_paths"].as_array().unwrap().iter().any(|v| v["returns"] == "3" && v["reached"] == true),
        "{encap}"
    );
}
