//! Reporters: turn runner results into what people and CI systems read. The runner emits results; a
//! reporter never influences running, and adding one never touches the runner.

pub mod human;
pub mod json;
pub mod junit;
pub mod pcap;
pub mod scenario;
pub mod verifier;

use xdptest_runner::{ScenarioResult, Verdict};

/// Counts by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Tally {
    pub fn add(&mut self, r: &ScenarioResult) {
        match r.verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail { .. } => self.failed += 1,
            Verdict::Error { .. } => self.errors += 1,
            Verdict::Skip { .. } => self.skipped += 1,
        }
    }
}
