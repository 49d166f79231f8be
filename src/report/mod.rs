//! Reporters: turn the run's [`RunEvent`]s into what people and CI systems read. The runner (or the VM
//! matrix) emits events; each reporter consumes the same stream, none influences running, and adding
//! one never touches the runner. The run's [`Summary`] and so its exit code are computed once, here.

pub mod coverage;
pub mod human;
pub mod json;
pub mod junit;
pub mod pcap;
pub mod progress;
pub mod scenario;
pub mod story;
pub mod verifier;

use std::io;
use std::time::Duration;

use xdptest_compiler::Fixture;
use xdptest_runner::{RunEvent, ScenarioResult, Target, Verdict};

use crate::outcome::Outcome;

/// What every reporter may look at besides the event: the fixtures (indexed like the events' `index`)
/// and the targets, once the run has started.
/// Each scenario's section in the scenario pages (`xdptest doc`), by spec and scenario name.
pub type BookLinks = std::collections::BTreeMap<(String, String), String>;

pub struct RunView<'a> {
    pub fixtures: &'a [Fixture],
    pub targets: &'a [Target],
}

impl RunView<'_> {
    /// Whether results come from VMs (and so need their kernel named).
    pub fn on_vms(&self) -> bool {
        self.targets.iter().any(|t| t.vm)
    }

    pub fn label(&self, target: usize) -> &str {
        self.targets.get(target).map(|t| t.label.as_str()).unwrap_or("host")
    }
}

/// A consumer of run events.
pub trait Reporter {
    /// Sees every event, in order.
    fn event(&mut self, e: &RunEvent, view: &RunView) -> io::Result<()>;

    /// After the run: a last word, and files to write. `summary` is the run's result.
    fn finish(&mut self, _view: &RunView, _summary: &Summary) -> Result<(), String> {
        Ok(())
    }
}

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

    pub fn total(&self) -> usize {
        self.passed + self.failed + self.errors + self.skipped
    }
}

/// What a run came to, built from its events.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub total: Tally,
    /// Per target, in the order of [`RunView::targets`].
    pub per_target: Vec<Tally>,
    /// Scenarios (per target) that were selected but did not finish.
    pub not_run: usize,
    pub cancelled: bool,
    pub wall: Duration,
    /// (target, fixture index) of every scenario that failed or could not run, in arrival order.
    pub failed: Vec<(usize, usize)>,
    /// `--max-fail N` (or `--fail-fast`, N = 1) stopped the run once N had failed: `Some(N)`.
    pub max_fail_reached: Option<usize>,
    expected: usize,
}

impl Summary {
    pub fn event(&mut self, e: &RunEvent) {
        match e {
            RunEvent::Started { scenarios, targets } => {
                self.per_target = vec![Tally::default(); targets.len()];
                self.expected = scenarios * targets.len();
            }
            RunEvent::Finished { target, index, result } => {
                self.total.add(result);
                if let Some(t) = self.per_target.get_mut(*target) {
                    t.add(result);
                }
                if matches!(result.verdict, Verdict::Fail { .. } | Verdict::Error { .. }) {
                    self.failed.push((*target, *index));
                }
            }
            RunEvent::Done { stats, cancelled } => {
                self.cancelled = *cancelled;
                self.wall = stats.wall;
                self.not_run = self.expected.saturating_sub(self.total.total());
            }
            _ => {}
        }
    }

    /// The run's outcome: an interrupt outranks everything, environment problems (a scenario that could
    /// not run) outrank test failures.
    pub fn outcome(&self) -> Outcome {
        if self.cancelled && self.max_fail_reached.is_none() {
            Outcome::Interrupted
        } else if self.total.errors > 0 {
            Outcome::Error
        } else if self.total.failed > 0 {
            Outcome::Failed
        } else {
            Outcome::Ok
        }
    }
}

/// A reporter's final write: a closed pipe (`| head`) is no error, as for every line before it.
pub fn unless_closed(r: io::Result<()>) -> Result<(), String> {
    match r {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// Writes beside the target, then renames: readers never see half a report.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    // A temporary file is private (0600); a report is for everyone who can read the directory.
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
