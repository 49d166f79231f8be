//! Progress while VMs boot and run: bars on a terminal, a line per VM start and end otherwise (on
//! standard error, so it never mixes with machine output).

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use xdptest_runner::RunEvent;

use super::{Reporter, RunView, Summary};
use crate::outcome::count;

pub struct Progress {
    multi: Option<MultiProgress>,
    /// Per (target, shard): its bar and label.
    bars: HashMap<(usize, usize), (Option<ProgressBar>, String)>,
    /// Which shard of each target the last results came from is unknown (results carry the target
    /// only): results advance the first unfinished bar of their target.
    open: HashMap<usize, Vec<usize>>,
}

impl Progress {
    pub fn new(terminal: bool) -> Progress {
        Progress { multi: terminal.then(MultiProgress::new), bars: HashMap::new(), open: HashMap::new() }
    }
}

impl Reporter for Progress {
    fn event(&mut self, e: &RunEvent, view: &RunView) -> std::io::Result<()> {
        match e {
            RunEvent::Booting { target, shard, shards, scenarios } => {
                let kernel = view.label(*target);
                let label = if *shards > 1 { format!("{kernel} [{}/{shards}]", shard + 1) } else { kernel.to_string() };
                let bar = match &self.multi {
                    Some(m) => {
                        let bar = m.add(ProgressBar::new(*scenarios as u64));
                        bar.set_style(
                            ProgressStyle::with_template("{prefix:>20} {bar:30} {pos}/{len} {msg} ({elapsed})")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                        bar.set_prefix(label.clone());
                        bar.set_message("starting");
                        bar.enable_steady_tick(Duration::from_millis(200));
                        Some(bar)
                    }
                    None => {
                        errln!("vm: {label}: starting ({})", count(*scenarios, "scenario"));
                        None
                    }
                };
                self.bars.insert((*target, *shard), (bar, label));
                self.open.entry(*target).or_default().push(*shard);
            }
            RunEvent::Ready { target, shard, release } => {
                if let Some((Some(b), _)) = self.bars.get(&(*target, *shard)) {
                    b.set_message(format!("running on {release}"));
                }
            }
            RunEvent::Finished { target, .. } => {
                let shard = self.open.get(target).and_then(|s| s.first()).copied();
                if let Some((Some(b), _)) = shard.and_then(|s| self.bars.get(&(*target, s))) {
                    b.inc(1);
                }
            }
            RunEvent::TargetDone { target, shard, failure, .. } => {
                if let Some(open) = self.open.get_mut(target) {
                    open.retain(|s| s != shard);
                }
                if let Some((bar, label)) = self.bars.get(&(*target, *shard)) {
                    match (bar, failure) {
                        (Some(b), None) => b.finish_with_message("done"),
                        (Some(b), Some(f)) => b.abandon_with_message(format!("failed: {}", f.failure)),
                        (None, None) => errln!("vm: {label}: done"),
                        (None, Some(f)) => errln!("vm: {label}: failed: {}", f.failure),
                    }
                }
            }
            RunEvent::Done { .. } => {
                if let Some(m) = &self.multi {
                    let _ = m.clear();
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, _view: &RunView, _summary: &Summary) -> Result<(), String> {
        Ok(())
    }
}
