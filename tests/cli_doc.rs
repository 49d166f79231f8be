//! `xdptest doc`: the repository's specs as a standalone book that mdBook builds with no broken link,
//! byte-identical output across runs, results from a `run --format json` file, and bad specs or a
//! foreign output directory refused with nothing written.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{repo, stderr, stdout, xdptest};

fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The book of `specs/`: a page per spec file, a section per scenario with its anchor, the author's
/// values apart from derived ones, decapsulation read as the outer headers removed; mdBook builds
/// it and every internal link (scenario anchors, shared packets on another page) resolves. Two runs
/// give the same bytes.
#[test]
fn doc_writes_a_book_of_the_specs_that_mdbook_builds() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let o = xdptest().args(["doc", "specs", "--book", "--out"]).arg(out).output();
        assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
        assert!(stdout(&o).contains("wrote 16 pages for 84 scenarios"), "{}", stdout(&o));
    }
    assert_eq!(tree(&a), tree(&b), "doc output differs between two runs");
    let summary = std::fs::read_to_string(a.join("src/SUMMARY.md")).unwrap();
    assert!(summary.contains("- [specs/upf/upf.pkt](upf/upf.md)"), "{summary}");
    let upf = std::fs::read_to_string(a.join("src/upf/upf.md")).unwrap();
    assert!(upf
        .contains("## uplink ICMP is decapsulated and sent back out {#uplink-icmp-is-decapsulated-and-sent-back-out}"));
    assert!(upf.contains("| `ipv4:1` | id **1212**, **df**, src **192.168.10.1**, dst **192.168.10.5** | ihl 5, len 68, proto 17, checksum 0xa096 |"), "{upf}");
    assert!(upf.contains("- header `ipv4:1` removed\n- header `udp` removed\n- header `gtpu` removed"), "{upf}");
    assert!(upf.contains("- [`uplink`](packets.md#packet-uplink), from `specs/upf/packets.pkt`"), "{upf}");
    assert!(upf.contains("- `ue_sessions[192.168.100.200] = 2`"), "{upf}");
    // Wildcards of an expected packet, and map checks, by field.
    let fw = std::fs::read_to_string(a.join("src/firewall/firewall.md")).unwrap();
    assert!(fw.contains("**Then expect:**"), "{fw}");

    let o = Command::new("mdbook").arg("build").arg(&a).output().expect("mdbook runs (scripts/test installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = a.join("book");
    let page = std::fs::read_to_string(html.join("upf/upf.html")).unwrap();
    assert!(page.contains("id=\"uplink-icmp-is-decapsulated-and-sent-back-out\""));
    let mut broken = Vec::new();
    support::check_links(&html, &html, &mut broken);
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// With `--results`, each scenario shows its verdict and duration, failures their differing fields;
/// without, no duration appears anywhere.
#[test]
fn doc_adds_results_from_a_json_run() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.json");
    let o = xdptest().args(["run", "tests/specs/run/failing.pkt", "--format", "json"]).output();
    assert_eq!(o.status.code(), Some(1), "{}", support::text(&o));
    std::fs::write(&results, &o.stdout).unwrap();
    let out = dir.path().join("with");
    let o = xdptest()
        .args(["doc", "tests/specs/run/failing.pkt", "--results"])
        .arg(&results)
        .arg("--out")
        .arg(&out)
        .output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    let page = std::fs::read_to_string(out.join("failing.md")).unwrap();
    assert!(page.contains("| [wrong action](#wrong-action) | ❌ failed |"), "{page}");
    assert!(page.contains("| [this one passes](#this-one-passes) | ✅ passed |"), "{page}");
    assert!(page.contains("- send 1: vlan.vid: expected 301, got 300"), "{page}");
    assert!(page.contains("- line 24: map stats\\[0\\]: expected 2, got 1"), "{page}");
    assert!(page.contains(" µs."), "{page}");
    // The same results file gives the same pages.
    let again = dir.path().join("again");
    xdptest().args(["doc", "tests/specs/run/failing.pkt", "--results"]).arg(&results).arg("--out").arg(&again).output();
    assert_eq!(tree(&out), tree(&again));
    // Results of other specs than these: said.
    let o = xdptest()
        .args(["doc", "specs/counter", "--results"])
        .arg(&results)
        .arg("--out")
        .arg(dir.path().join("other"))
        .output();
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("none of the 4 results"), "{}", stderr(&o));
    let plain = dir.path().join("plain");
    let o = xdptest().args(["doc", "tests/specs/run/failing.pkt", "--out"]).arg(&plain).output();
    assert_eq!(o.status.code(), Some(0));
    assert!(!std::fs::read_to_string(plain.join("failing.md")).unwrap().contains("µs"));

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"type\":\"run\",\"version\":1}\nnot json\n").unwrap();
    let o = xdptest()
        .args(["doc", "tests/specs/run/failing.pkt", "--results"])
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("x"))
        .output();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 2: not JSON"), "{}", stderr(&o));
    assert!(!dir.path().join("x").exists());
    // A directory (or a FIFO) is refused before it is read.
    let o = xdptest()
        .args(["doc", "tests/specs/run/failing.pkt", "--results"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("x"))
        .output();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
}

/// A spec with an error is reported as `check` reports it (exit 2) and nothing is written; a
/// directory `doc` did not write is never replaced, one it wrote is.
#[test]
fn doc_refuses_bad_specs_and_foreign_directories() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("programs/build/counter.o"), dir.path().join("counter.o")).unwrap_or_else(|_| {
        support::build_programs();
        std::fs::copy(repo().join("programs/build/counter.o"), dir.path().join("counter.o")).unwrap()
    });
    let spec = dir.path().join("bad.pkt");
    std::fs::write(
        &spec,
        "program \"counter.o\" xdp \"xdp_counter\"\nscenario \"x\" {\n  send ether / ipv4(ttl=300) / udp\n}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let check = xdptest().env("XDPTEST_ALLOW_PATH", dir.path()).arg("check").arg(&spec).output();
    let doc = xdptest().env("XDPTEST_ALLOW_PATH", dir.path()).arg("doc").arg(&spec).arg("--out").arg(&out).output();
    assert_eq!(doc.status.code(), Some(2));
    assert_eq!(stderr(&doc), stderr(&check), "doc reports errors as check does");
    assert!(!out.exists(), "nothing is written");

    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.md"), "mine\n").unwrap();
    let o = xdptest().args(["doc", "specs/icmp_echo", "--out"]).arg(&mine).output();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("was not written by xdptest doc"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(mine.join("notes.md")).unwrap(), "mine\n");
    // An earlier output is replaced as a whole.
    let o = xdptest().args(["doc", "specs/icmp_echo", "--out"]).arg(&out).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    let o = xdptest().args(["doc", "specs/counter", "--out"]).arg(&out).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    assert!(out.join("counter.md").exists() && !out.join("icmp_echo.md").exists());
}

/// The book's gallery is `xdptest doc specs` as it is now (`BLESS=1` rewrites it), and the book's
/// `SUMMARY.md` lists every page of it.
#[test]
fn the_gallery_is_current() {
    let gallery = support::book_src().join("gallery");
    let args = ["doc", "specs", "--title", "Gallery of the example specs", "--out"];
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        let o = xdptest().args(args).arg(&gallery).output();
        assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    }
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("gallery");
    let o = xdptest().args(args).arg(&fresh).output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    let (now, committed) = (tree(&fresh), tree(&gallery));
    let stale: std::collections::BTreeSet<String> = now
        .keys()
        .chain(committed.keys())
        .filter(|k| now.get(*k) != committed.get(*k))
        .map(|k| k.display().to_string())
        .collect();
    assert!(stale.is_empty(), "book/src/gallery is stale ({stale:?}): BLESS=1 cargo test --test cli_doc");
    let summary = std::fs::read_to_string(support::book_src().join("SUMMARY.md")).unwrap();
    let fragment = std::fs::read_to_string(gallery.join("SUMMARY.md")).unwrap();
    for line in fragment.lines().filter(|l| l.starts_with("- [")) {
        let entry = format!("  {}", line.replace("](", "](gallery/"));
        assert!(summary.contains(&entry), "book/src/SUMMARY.md does not list: {entry}");
    }
}

/// `check --format json`: each diagnostic located by file, byte span, line and column, valid by
/// the closed check schema (which a renamed property breaks), then a summary; the same exit status.
#[test]
fn check_reports_diagnostics_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    support::build_programs();
    std::fs::copy(repo().join("programs/build/counter.o"), dir.path().join("counter.o")).unwrap();
    let text = "program \"counter.o\" xdp \"xdp_counter\"\nscenario \"x\" {\n  send ether / ipv4(ttl=300) / udp\n}\n";
    std::fs::write(dir.path().join("bad.pkt"), text).unwrap();
    let o =
        xdptest().env("XDPTEST_ALLOW_PATH", dir.path()).args(["check", "--format", "json"]).arg(dir.path()).output();
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    support::check_schema("book/src/reference/check.schema.json", &out).unwrap();
    let records = support::json_records(&out);
    assert_eq!(records.len(), 2, "{out}");
    let d = &records[0];
    assert_eq!(d["code"], "xdptest::compile::value_too_large");
    assert_eq!((d["location"]["line"].as_u64(), d["location"]["column"].as_u64()), (Some(3), Some(25)));
    let (start, end) =
        (d["location"]["start"].as_u64().unwrap() as usize, d["location"]["end"].as_u64().unwrap() as usize);
    assert_eq!(&text[start..end], "300");
    assert_eq!(records[1]["errors"], 1);
    let renamed = out.replacen("\"label\"", "\"lable\"", 1);
    assert!(support::check_schema("book/src/reference/check.schema.json", &renamed).is_err());
    let o = xdptest().args(["check", "specs", "--format", "json"]).output();
    assert_eq!(o.status.code(), Some(0));
    support::check_schema("book/src/reference/check.schema.json", &stdout(&o)).unwrap();
    assert!(stdout(&o).contains("\"ok\":true,\"scenarios\":84,\"specs\":16"), "{}", stdout(&o));
}

/// With `[doc] pages` in xdptest.toml, `xdptest doc` writes there by default, and `run` lists each
/// failed scenario with its section on those pages, a link that resolves.
#[test]
fn failures_point_to_their_section_in_the_pages() {
    support::build_programs();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::create_dir(root.join("specs")).unwrap();
    std::fs::copy(repo().join("programs/build/upf.o"), root.join("upf.o")).unwrap();
    std::fs::copy(repo().join("specs/upf/packets.pkt"), root.join("specs/packets.pkt")).unwrap();
    let failing = std::fs::read_to_string(repo().join("tests/specs/run/failing.pkt"))
        .unwrap()
        .replace("\"../../../programs/build/upf.o\"", "\"../upf.o\"")
        .replace("\"../../../specs/upf/packets.pkt\"", "\"packets.pkt\"");
    std::fs::write(root.join("specs/failing.pkt"), failing).unwrap();
    std::fs::write(root.join("xdptest.toml"), "[doc]\npages = \"book/scenarios\"\n").unwrap();
    let o = xdptest().cwd(root).env("XDPTEST_ALLOW_PATH", root).arg("doc").output();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o));
    let page = std::fs::read_to_string(root.join("book/scenarios/failing.md")).unwrap();
    let o = xdptest().cwd(root).env("XDPTEST_ALLOW_PATH", root).arg("run").output();
    assert_eq!(o.status.code(), Some(1), "{}", support::text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("  specs/failing.pkt::wrong action\n    see book: book/scenarios/failing.md#wrong-action\n"),
        "{out}"
    );
    for link in out.lines().filter_map(|l| l.trim().strip_prefix("see book: ")) {
        let (file, anchor) = link.split_once('#').unwrap();
        assert_eq!(file, "book/scenarios/failing.md");
        assert!(page.contains(&format!("{{#{anchor}}}")), "no section {anchor} on the page");
    }
    // Without the setting, doc needs --out.
    std::fs::write(root.join("xdptest.toml"), "").unwrap();
    let o = xdptest().cwd(root).env("XDPTEST_ALLOW_PATH", root).arg("doc").output();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("give --out DIR"), "{}", stderr(&o));
}
