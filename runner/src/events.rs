//! Run events: what a run reports as it goes, the same stream for a run on this kernel and for runs in
//! VMs (which the vm crate produces). Reporters (terminal, JSON lines, JUnit, pcapng, snapshots) consume
//! the stream; none of them influences the run, and adding one never touches the runner.
//!
//! A run is `Started`, then for each target (this kernel, or one kernel of a VM matrix) its shards'
//! `Booting`/`Ready`/`TargetDone` (VM runs only) and one `Finished` per scenario, then `Done`. Results
//! arrive as scenarios finish: in suite order on the host, as each VM reports them otherwise.
//!
//! Not to be confused with the events programs emit through perf or ring buffers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::VmFailure;
use crate::verdict::ScenarioResult;

/// Where scenarios run: this kernel, or a kernel in VMs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host`, or the kernel as given to `--kernel` (`debian:6.1`, a bzImage path).
    pub label: String,
    /// The kernel release (`uname -r`); for VMs, what the package names until the guest reports.
    pub release: String,
    /// How a VM's CPU is provided (`kvm`, `tcg`); `None` on the host.
    pub accel: Option<String>,
    /// Whether this target is a VM.
    pub vm: bool,
}

impl Target {
    /// The kernel xdptest runs on.
    pub fn host() -> Target {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        Target { label: "host".into(), release, accel: None, vm: false }
    }
}

/// One thing that happened during a run.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The run begins: every target runs the `scenarios` selected fixtures.
    Started { scenarios: usize, targets: Vec<Target> },
    /// A VM of `target` is being booted for one shard of the suite.
    Booting { target: usize, shard: usize, shards: usize, scenarios: usize },
    /// The VM's guest is up and reported its kernel release.
    Ready { target: usize, shard: usize, release: String },
    /// One scenario finished on one target; `index` is its position among the fixtures.
    Finished { target: usize, index: usize, result: Box<ScenarioResult> },
    /// Something the user should know about a target (a module that did not load in a VM, ...).
    Note { target: usize, text: String },
    /// A VM is done. With a failure, its scenarios that did not report are errors that say why, and its
    /// console is kept.
    TargetDone { target: usize, shard: usize, failure: Option<TargetFailure>, timing: ShardTiming },
    /// The run is over. `cancelled`: it was interrupted, and scenarios that did not finish are not
    /// reported.
    Done { stats: RunStats, cancelled: bool },
}

/// A failed VM: why, and what its console said.
#[derive(Debug, Clone)]
pub struct TargetFailure {
    pub failure: VmFailure,
    pub console: String,
}

/// How long one VM took.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShardTiming {
    /// From starting qemu to the guest's start record.
    pub boot: Option<Duration>,
    /// From starting qemu to the last result (or the failure).
    pub wall: Duration,
    /// The runner's wall time inside the guest.
    pub guest_wall: Option<Duration>,
    /// How the VM started.
    pub start: VmStart,
}

/// How a VM started: booted, or restored from a snapshot of a booted guest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VmStart {
    #[default]
    Booted,
    Restored,
}

/// Figures about a run, for reports and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// Program loads (object parse, map creation, verifier), summed over workers.
    pub loads: usize,
    pub load_time: Duration,
    pub wall: Duration,
}

/// Asks a run to stop: no new scenario starts once it is set (running ones finish). Cloned into every
/// part of a run; the command line sets it from its signal handler.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
