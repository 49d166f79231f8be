//! The outputs shown in the book's "Snapshot reports" and "Debugging a scenario" chapters are real: this
//! test runs the commands the chapters show and keeps `book/src/generated/{snapshot,explain,pcap}-*.txt`
//! equal to what they print (durations normalised). After an intended change,
//! `BLESS=1 cargo test --test book_debugging` rewrites them; review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::{book_src, repo as root, run_in};

fn compare_or_bless(name: &str, actual: &str) {
    support::compare_or_bless(name, actual, "book_debugging")
}

/// `failing/` copied into a temporary directory with the program paths made absolute, so that the
/// run's pending snapshot (`.snap.new`) lands there and not in the book.
fn failing_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let programs = format!("{}/", root().join("programs/build").display());
    let copy = |rel: &str| {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(book_src().join(rel)).unwrap();
        std::fs::write(to, text.replace("../../../programs/build/", &programs)).unwrap();
    };
    copy("failing/snapshot_changed.pkt");
    copy("failing/snapshots/snapshot_changed__uplink-ping.snap");
    dir
}

#[test]
fn a_changed_snapshot_in_the_book_is_real() {
    let dir = failing_copy();
    let (code, out) = run_in(dir.path(), &["run", "failing/snapshot_changed.pkt", "-j1"]);
    assert_eq!(code, Some(1), "{out}");
    compare_or_bless("snapshot-changed.txt", &out);
    let pending = dir.path().join("failing/snapshots/snapshot_changed__uplink-ping.snap.new");
    assert!(std::fs::read_to_string(pending).unwrap().contains("      vid = 301\n"));
    // The review session the chapter shows: the same change, accepted.
    let o = Command::new(env!("CARGO_BIN_EXE_xdptest"))
        .args(["review", "failing"])
        .current_dir(dir.path())
        .stdin(std::fs::File::open(write_answer(dir.path(), "a\n")).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    compare_or_bless("snapshot-review.txt", &String::from_utf8_lossy(&o.stdout));
}

fn write_answer(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("answers");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn explain_in_the_book_is_real() {
    let (code, out) = run_in(&book_src(), &["explain", "examples/printk.pkt::tagged query"]);
    assert_eq!(code, Some(0), "{out}");
    compare_or_bless("explain-printk.txt", &out);
}

#[test]
fn pcap_comments_in_the_book_are_real() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("run.pcapng");
    let (code, out) = run_in(
        &book_src(),
        &["run", "examples/snapshots.pkt", "examples/printk.pkt", "--pcap", pcap.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{out}");
    let o = match Command::new("tshark")
        .args(["-r", "run.pcapng", "-T", "fields", "-e", "frame.number", "-e", "frame.comment"])
        .current_dir(dir.path())
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run tshark ({e}): install it (apt-get install tshark)"),
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    compare_or_bless("pcap-comments.txt", &String::from_utf8_lossy(&o.stdout));
    let page = std::fs::read_to_string(book_src().join("debugging.md")).unwrap();
    assert!(page.contains("tshark -r run.pcapng -T fields -e frame.number -e frame.comment"));
}
