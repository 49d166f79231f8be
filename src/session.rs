//! One `xdptest run`: the selected fixtures go to a source of run events (this kernel's runner, or the
//! VM matrix), each event goes through the snapshot stage (which may turn a pass into a failure) and
//! then to every reporter; the summary, and so the exit code, is computed once from the same stream.
//! A first Ctrl-C (or SIGTERM, SIGHUP) stops starting scenarios and VMs, and the run still reports what
//! finished; a second one exits at once.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

use xdptest_compiler::Fixture;
use xdptest_runner::{Cancel, RunEvent, RunOptions, Target};
use xdptest_vm::kernel::Kernel;

use crate::outcome::Outcome;
use crate::report::human::{Detail, Human, Palette};
use crate::report::{json, junit, pcap, progress, Reporter, RunView, Summary};
use crate::snapshot::{self, Snapshots};

/// Where results are written on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// Everything a run needs, checked and resolved by the command line.
pub struct Plan {
    pub fixtures: Vec<Fixture>,
    /// Empty: this kernel.
    pub kernels: Vec<Kernel>,
    /// The static guest binary, for VM runs.
    pub guest: Option<PathBuf>,
    pub jobs: Option<usize>,
    pub format: Format,
    pub color: anstream::ColorChoice,
    pub junit: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
    pub snapshots: snapshot::Mode,
    /// Multiplies every VM deadline.
    pub timeout_scale: f64,
    /// Stop once this many scenarios failed or could not run (`--max-fail`, `--fail-fast`).
    pub max_fail: Option<usize>,
    /// How much the human report says (`-v`, `-q`).
    pub detail: Detail,
    /// Where to record the names of the scenarios that failed, for `--rerun-failed`.
    pub failures_file: Option<PathBuf>,
    /// Each scenario's section in the scenario pages (`[doc] pages`), by spec and scenario name.
    pub book_links: crate::report::BookLinks,
    /// `--coverage DIR` (and `--min-coverage`): measure coverage, write its reports into DIR.
    pub coverage: Option<(PathBuf, Option<crate::report::coverage::Thresholds>)>,
}

/// The run's cancellation, set by the signal handler (installed once per process).
pub fn cancel_on_signals() -> Cancel {
    static CANCEL: OnceLock<Cancel> = OnceLock::new();
    CANCEL
        .get_or_init(|| {
            let cancel = Cancel::new();
            let c = cancel.clone();
            let _ = ctrlc::set_handler(move || {
                if c.is_cancelled() {
                    // A second interrupt: the user does not want to wait for the summary.
                    xdptest_vm::qemu::kill_all();
                    std::process::exit(Outcome::Interrupted as i32);
                }
                c.cancel();
                xdptest_vm::qemu::kill_all();
                errln!("\nxdptest: interrupted; finishing what runs (Ctrl-C again to quit at once)");
            });
            cancel
        })
        .clone()
}

pub fn run(plan: Plan) -> Outcome {
    let cancel = cancel_on_signals();
    let mut snapshots = Snapshots::new(&plan.fixtures, plan.snapshots);
    let mut observe = snapshots.observe();
    observe.coverage = plan.coverage.is_some();
    let mut coverage =
        plan.coverage.as_ref().map(|(dir, t)| crate::report::coverage::Collector::new(dir.clone(), t.clone()));
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    match plan.format {
        Format::Human => reporters.push(Box::new(
            Human::new(Box::new(anstream::AutoStream::new(std::io::stdout(), plan.color)), Palette::on(), plan.detail)
                .with_book_links(plan.book_links.clone()),
        )),
        Format::Json => {
            reporters.push(Box::new(json::Json::new(Box::new(std::io::stdout()))));
            reporters.push(Box::new(Human::new(
                Box::new(anstream::AutoStream::new(std::io::stderr(), anstream::ColorChoice::Never)),
                Palette::on(),
                Detail::SummaryOnly,
            )));
        }
    }
    if !plan.kernels.is_empty() {
        reporters.push(Box::new(progress::Progress::new(std::io::stderr().is_terminal())));
    }
    if let Some(path) = &plan.junit {
        reporters.push(Box::new(junit::Junit::new(path.clone())));
    }
    if let Some(path) = &plan.pcap {
        reporters.push(Box::new(pcap::Capture::new(path.clone())));
    }
    let mut summary = Summary::default();
    let mut targets: Vec<Target> = Vec::new();
    let mut write_failed = None;
    let fixtures = &plan.fixtures;
    let mut deliver = |e: RunEvent| {
        let mut e = e;
        if let RunEvent::Started { targets: t, .. } = &e {
            targets = t.clone();
        }
        let mut note = None;
        if let RunEvent::Finished { target, index, result } = &mut e {
            note = snapshots.check(*index, &fixtures[*index], result).map(|n| (*target, n.to_string()));
        }
        summary.event(&e);
        if let Some(c) = coverage.as_mut() {
            c.event(&e, &RunView { fixtures, targets: &targets });
        }
        if let Some(max) = plan.max_fail {
            if summary.failed.len() >= max && summary.max_fail_reached.is_none() {
                // Scenarios already running finish; nothing new starts (the runner and the VMs stop as
                // for an interrupt, but the outcome stays the failures').
                summary.max_fail_reached = Some(max);
                cancel.cancel();
            }
        }
        let view = RunView { fixtures, targets: &targets };
        let notes = note.map(|(target, text)| RunEvent::Note { target, text });
        for ev in std::iter::once(&e).chain(notes.as_ref()) {
            for r in reporters.iter_mut() {
                match r.event(ev, &view) {
                    // A closed standard output (`| head`) ends reading, not the run or its verdict.
                    Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
                    Err(err) => {
                        write_failed.get_or_insert(err);
                    }
                    Ok(()) => {}
                }
            }
        }
    };
    if plan.kernels.is_empty() {
        let jobs = plan.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        let opts = RunOptions { jobs, cancel: cancel.clone() };
        xdptest_runner::run(fixtures, &opts, &observe, &mut deliver);
    } else {
        let Some(guest) = plan.guest.clone() else {
            errln!("error: no static guest binary for VMs");
            return Outcome::Error;
        };
        let mut opts = xdptest_vm::Options::new(guest);
        if let Some(j) = plan.jobs {
            opts.jobs = j;
        }
        opts.timeout_scale = plan.timeout_scale;
        opts.dump_maps = observe.dump_maps.clone();
        opts.coverage = observe.coverage;
        opts.cancel = cancel.clone();
        if let Err(e) = xdptest_vm::run(&plan.kernels, fixtures, &opts, &mut deliver) {
            errln!("error: {e}");
            return Outcome::Error;
        }
        if let Ok(q) = xdptest_vm::qemu::qemu_binary() {
            if let (xdptest_vm::qemu::Accel::Tcg, Some(why)) = xdptest_vm::qemu::accel(&q) {
                errln!("note: VMs run under TCG (software emulation), not KVM: {why}");
            }
        }
    }
    let view = RunView { fixtures, targets: &targets };
    let mut outcome = summary.outcome();
    for r in reporters.iter_mut() {
        if let Err(e) = r.finish(&view, &summary) {
            errln!("error: {e}");
            outcome = outcome.max(Outcome::Error);
        }
    }
    if let Some(line) = snapshots.summary() {
        errln!("{line}");
    }
    if let Some(c) = &coverage {
        let mut out: Box<dyn std::io::Write> = match plan.format {
            Format::Human => Box::new(anstream::AutoStream::new(std::io::stdout(), plan.color)),
            Format::Json => Box::new(anstream::AutoStream::new(std::io::stderr(), plan.color)),
        };
        match c.finish(&view, &summary, &mut out) {
            Ok(true) => {}
            Ok(false) => outcome = outcome.max(Outcome::Failed),
            Err(e) => {
                errln!("error: coverage: {e}");
                outcome = outcome.max(Outcome::Error);
            }
        }
    }
    if write_failed.is_some() && outcome != Outcome::Interrupted {
        outcome = outcome.max(Outcome::Error);
    }
    if let (Some(path), false) = (&plan.failures_file, outcome == Outcome::Interrupted) {
        let mut names: Vec<String> = summary
            .failed
            .iter()
            .filter_map(|&(_, index)| fixtures.get(index).map(xdptest_runner::select::full_name))
            .collect();
        names.dedup();
        if let Err(e) = crate::cli::rerun::record(path, &names) {
            errln!("warning: cannot record the failures for --rerun-failed in {}: {e}", path.display());
        }
    }
    outcome
}
