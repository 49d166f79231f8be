//! `--junit FILE`: JUnit XML (written with `quick-junit`), one `<testsuite>` per spec file and target, one
//! `<testcase>` per scenario. For VM runs the kernel is part of the suite name and the class name, so
//! the same scenario on two kernels is two distinct rows in CI systems. A failure's message names the
//! first difference (`vlan.vid: expected 301, got 300`); the body has them all.

use std::collections::BTreeMap;
use std::path::PathBuf;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use xdptest_runner::{RunEvent, ScenarioResult, Verdict};

use super::human::{describe_failures, error_text, headline};
use super::{write_atomically, Reporter, RunView, Summary};

/// One `<testsuite>`: a spec on a target, and its scenarios' results (with their fixture index).
struct Suite {
    target: usize,
    spec: String,
    results: Vec<(usize, ScenarioResult)>,
}

pub struct Junit {
    path: PathBuf,
    started: chrono::DateTime<chrono::FixedOffset>,
    /// In first-seen order; results in arrival order.
    suites: Vec<Suite>,
    /// Per target: what its VMs said on failing (written as the suites' system-out).
    outputs: BTreeMap<usize, String>,
}

impl Junit {
    pub fn new(path: PathBuf) -> Junit {
        Junit { path, started: chrono::Local::now().fixed_offset(), suites: Vec::new(), outputs: BTreeMap::new() }
    }
}

impl Reporter for Junit {
    fn event(&mut self, e: &RunEvent, _view: &RunView) -> std::io::Result<()> {
        match e {
            RunEvent::Finished { target, index, result } => {
                let entry = (*index, (**result).clone());
                match self.suites.iter_mut().find(|s| s.target == *target && s.spec == result.spec) {
                    Some(s) => s.results.push(entry),
                    None => {
                        self.suites.push(Suite { target: *target, spec: result.spec.clone(), results: vec![entry] })
                    }
                }
            }
            RunEvent::TargetDone { target, shard, failure: Some(f), .. } => {
                let out = self.outputs.entry(*target).or_default();
                out.push_str(&format!("VM (shard {}) failed: {}\n", shard + 1, f.failure));
                if !f.console.trim().is_empty() {
                    out.push_str(&format!(
                        "console (last 40 lines):\n{}\n",
                        xdptest_vm::qemu::console_tail(&f.console, 40)
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, view: &RunView, _summary: &Summary) -> Result<(), String> {
        let xml = self.render(view);
        write_atomically(&self.path, xml.as_bytes())
            .map_err(|e| format!("cannot write the JUnit report {}: {e}", self.path.display()))
    }
}

impl Junit {
    fn render(&self, view: &RunView) -> String {
        let mut report = Report::new("xdptest");
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
        let mut total = std::time::Duration::ZERO;
        for Suite { target, spec, results } in &self.suites {
            let on_vm = view.targets.get(*target).is_some_and(|t| t.vm);
            let label = view.label(*target);
            let mut suite = TestSuite::new(if on_vm { format!("{spec} [{label}]") } else { spec.clone() });
            suite.set_timestamp(self.started);
            suite.extra.insert("file".into(), spec.as_str().into());
            if !hostname.is_empty() {
                suite.extra.insert("hostname".into(), hostname.as_str().into());
            }
            let mut time = std::time::Duration::ZERO;
            for (index, r) in results {
                time += r.duration;
                let class = if on_vm { format!("{spec} [{label}]") } else { spec.clone() };
                let program = view.fixtures.get(*index).map(|f| &*f.program);
                suite.add_test_case(testcase(r, class, program));
            }
            suite.set_time(time);
            total += time;
            if let Some(out) = self.outputs.get(target) {
                suite.set_system_out(out.as_str());
            }
            report.add_test_suite(suite);
        }
        report.set_time(total);
        match report.to_string() {
            Ok(xml) => strict(&xml),
            Err(e) => format!("<!-- cannot render the JUnit report: {e} -->\n"),
        }
    }
}

/// The report as the strict junit-10 schema (the one pytest validates against) allows it:
/// quick-junit writes a `disabled` count on every `<testsuite>`, which that schema does not know.
/// Only start tags are touched: inside attribute values a quote is always `&quot;`.
fn strict(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    for line in xml.split_inclusive('\n') {
        match line.trim_start().starts_with("<testsuite ").then(|| line.find(" disabled=\"")).flatten() {
            Some(at) => {
                let value_end = line[at + 11..].find('"').map(|e| at + 11 + e + 1).unwrap_or(line.len());
                out.push_str(&line[..at]);
                out.push_str(&line[value_end..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

fn testcase(r: &ScenarioResult, class: String, program: Option<&xdptest_compiler::fixture::Program>) -> TestCase {
    let status = match &r.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail { failures } => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(headline(failures)).set_description(describe_failures(failures));
            s
        }
        Verdict::Error { error } => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            let text = error_text(error, program);
            s.set_message(error.to_string().lines().next().unwrap_or("error")).set_description(text);
            s
        }
        Verdict::Skip { reason } => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(reason.to_string());
            s
        }
    };
    let mut tc = TestCase::new(r.scenario.as_str(), status);
    tc.set_classname(class).set_time(r.duration);
    tc
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_suites_disabled_count_goes() {
        let xml = "<testsuites name=\"x\">\n  <testsuite name=\"a disabled=&quot;1&quot;\" tests=\"1\" disabled=\"0\" errors=\"0\">\n    <testcase name=\" disabled=\"/>\n";
        assert_eq!(
            super::strict(xml),
            "<testsuites name=\"x\">\n  <testsuite name=\"a disabled=&quot;1&quot;\" tests=\"1\" errors=\"0\">\n    <testcase name=\" disabled=\"/>\n"
        );
    }
}
