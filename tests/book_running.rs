//! The "Running" chapter's outputs are real: this test runs the commands the chapter shows and keeps
//! `book/src/generated/run-*.txt` equal to what they print (durations normalised). After an intended
//! change, `BLESS=1 cargo test --test book_running` rewrites them; review the diff.

mod book_support;

fn run(args: &[&str]) -> (Option<i32>, String) {
    book_support::run_in(&book_support::book_src(), args)
}

fn compare_or_bless(name: &str, actual: &str) {
    book_support::compare_or_bless(name, actual, "book_running")
}

#[test]
fn failure_output_in_the_book_is_real() {
    let (code, out) = run(&["run", "failing/upf_wrong.pkt", "-j1"]);
    assert_eq!(code, Some(1), "{out}");
    compare_or_bless("run-failing.txt", &out);
}

#[test]
fn passing_output_in_the_book_is_real() {
    let (code, out) = run(&["run", "examples/cookbook_firewall.pkt", "-j1"]);
    assert_eq!(code, Some(0), "{out}");
    compare_or_bless("run-passing.txt", &out);
}

#[test]
fn json_output_in_the_book_is_real() {
    let (code, out) = run(&["run", "failing/upf_wrong.pkt", "-j1", "--format", "json", "--filter", "unknown tunnel"]);
    assert_eq!(code, Some(1), "{out}");
    // The duration field varies: replace its value.
    let out = out
        .lines()
        .map(|l| match l.find("\"duration\":") {
            Some(at) => {
                let rest = &l[at + 11..];
                let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
                format!("{}\"duration\":0{}", &l[..at], &rest[end..])
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    compare_or_bless("run-json.txt", &format!("{out}\n"));
}
