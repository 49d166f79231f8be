//! The "Running" chapter's outputs are real: this test runs the commands the chapter shows and keeps
//! `book/src/generated/run-*.txt` equal to what they print (durations normalised). After an intended
//! change, `BLESS=1 cargo test --test book_running` rewrites them; review the diff.

mod support;

fn run(args: &[&str]) -> (Option<i32>, String) {
    support::run_in(&support::book_src(), args)
}

fn compare_or_bless(name: &str, actual: &str) {
    support::compare_or_bless(name, actual, "book_running")
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
    // Durations and the kernel release vary: replace their values.
    let mut out = out;
    for field in ["\"duration_us\":", "\"release\":"] {
        out = out
            .lines()
            .map(|l| {
                let mut l = l.to_string();
                let mut from = 0;
                while let Some(at) = l[from..].find(field).map(|i| i + from) {
                    let start = at + field.len();
                    let rest = &l[start..];
                    let end = if let Some(quoted) = rest.strip_prefix('"') {
                        quoted.find('"').map_or(rest.len(), |i| i + 2)
                    } else {
                        rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())
                    };
                    let placeholder = if rest.starts_with('"') { "\"…\"" } else { "0" };
                    l.replace_range(start..start + end, placeholder);
                    from = start + placeholder.len();
                }
                l
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    compare_or_bless("run-json.txt", &format!("{out}\n"));
}
