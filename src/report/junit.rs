//! `--junit FILE`: JUnit XML, one `<testsuite>` per spec file, one `<testcase>` per scenario.

use std::fmt::Write as _;

use xdptest_runner::{ScenarioResult, Verdict};

use super::human::describe_failures;

/// Renders the whole report. `suite_name` names the outer `<testsuites>` (e.g. the kernel in VM runs).
pub fn render(suite_name: &str, results: &[ScenarioResult]) -> String {
    let mut specs: Vec<&str> = Vec::new();
    for r in results {
        if !specs.contains(&r.spec.as_str()) {
            specs.push(&r.spec);
        }
    }
    let count =
        |pred: &dyn Fn(&Verdict) -> bool, rs: &[&ScenarioResult]| rs.iter().filter(|r| pred(&r.verdict)).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all: Vec<&ScenarioResult> = results.iter().collect();
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        esc(suite_name),
        all.len(),
        count(&|v| matches!(v, Verdict::Fail { .. }), &all),
        count(&|v| matches!(v, Verdict::Error { .. }), &all),
        count(&|v| matches!(v, Verdict::Skip { .. }), &all)
    );
    for spec in specs {
        let rs: Vec<&ScenarioResult> = results.iter().filter(|r| r.spec == spec).collect();
        let time: f64 = rs.iter().map(|r| r.duration.as_secs_f64()).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.6}\">",
            esc(spec),
            rs.len(),
            count(&|v| matches!(v, Verdict::Fail { .. }), &rs),
            count(&|v| matches!(v, Verdict::Error { .. }), &rs),
            count(&|v| matches!(v, Verdict::Skip { .. }), &rs)
        );
        for r in rs {
            testcase(&mut x, r, spec);
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// One kernel's part of a VM run, for [`render_kernels`].
pub struct KernelSuite<'a> {
    /// `debian:6.1 (6.1.0-47-cloud-amd64, tcg)`.
    pub name: String,
    pub results: &'a [ScenarioResult],
    /// Written as the testsuite's `<system-out>` (VM failures and their consoles).
    pub output: String,
}

/// VM runs: one `<testsuite>` per kernel (named after it), one `<testcase>` per scenario with the spec as
/// its class name.
pub fn render_kernels(suite_name: &str, kernels: &[KernelSuite]) -> String {
    let all: Vec<&ScenarioResult> = kernels.iter().flat_map(|k| k.results.iter()).collect();
    let count =
        |pred: &dyn Fn(&Verdict) -> bool, rs: &[&ScenarioResult]| rs.iter().filter(|r| pred(&r.verdict)).count();
    let fail = |v: &Verdict| matches!(v, Verdict::Fail { .. });
    let error = |v: &Verdict| matches!(v, Verdict::Error { .. });
    let skip = |v: &Verdict| matches!(v, Verdict::Skip { .. });
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        esc(suite_name),
        all.len(),
        count(&fail, &all),
        count(&error, &all),
        count(&skip, &all)
    );
    for k in kernels {
        let rs: Vec<&ScenarioResult> = k.results.iter().collect();
        let time: f64 = rs.iter().map(|r| r.duration.as_secs_f64()).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.6}\">",
            esc(&k.name),
            rs.len(),
            count(&fail, &rs),
            count(&error, &rs),
            count(&skip, &rs)
        );
        for r in rs {
            testcase(&mut x, r, &r.spec);
        }
        if !k.output.is_empty() {
            let _ = writeln!(x, "    <system-out>{}</system-out>", esc(&k.output));
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

fn testcase(x: &mut String, r: &ScenarioResult, class: &str) {
    let _ = write!(
        x,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.6}\"",
        esc(&r.scenario),
        esc(class),
        r.duration.as_secs_f64()
    );
    match &r.verdict {
        Verdict::Pass => x.push_str("/>\n"),
        Verdict::Fail { failures } => {
            let text = describe_failures(failures);
            let first = text.lines().next().unwrap_or("failed").to_string();
            let _ =
                write!(x, ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n", esc(&first), esc(&text));
        }
        Verdict::Error { message } => {
            let first = message.lines().next().unwrap_or("error");
            let _ = write!(x, ">\n      <error message=\"{}\">{}</error>\n    </testcase>\n", esc(first), esc(message));
        }
        Verdict::Skip { reason } => {
            let _ = write!(x, ">\n      <skipped message=\"{}\"/>\n    </testcase>\n", esc(reason));
        }
    }
}

/// XML-escapes text; characters XML 1.0 cannot carry are replaced.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(esc("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;\u{fffd}");
    }
}
