//! Running fixtures: a pool of workers (rayon threads) pulls scenarios from a shared queue. Each worker
//! loads its own copy of every program it needs (so no two scenarios share maps) and resets the maps
//! before each scenario. Results stream back as [`RunEvent`]s in suite order as they complete.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use xdptest_compiler::fixture::{
    combine_per_cpu, Bytes, EntryPart, ExpectedValue, Fixture, Iface, IfaceSlot, MapValue, Masked, Program, Step,
};

use crate::diff;
use crate::error::{MapOp, OsError, RunError, SkipReason};
use crate::events::{Cancel, RunEvent, RunStats, Target};
use crate::program::{LoadedMap, LoadedProgram, MapsDump};
use crate::stage::{self, Stage, StageError};
use crate::verdict::EventDiff;
use crate::verdict::{Failure, MapChange, MapDiff, RunRecord, ScenarioResult, SendTiming, TimingMode, Verdict};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Worker threads; each loads its own copy of the programs it runs.
    pub jobs: usize,
    /// Stops the run early when set.
    pub cancel: Cancel,
}

/// What to record beyond verdicts, for reports (see [`RunRecord::maps`]).
#[derive(Debug, Clone, Default)]
pub struct Observe {
    /// Indexed like the fixtures: read every map before and after each run of these scenarios. Missing
    /// entries mean no (the fast path: no map is read that the spec does not check).
    pub dump_maps: Vec<bool>,
    /// Time every send (`xdptest bench`), on top of running it.
    pub timing: Option<Timing>,
    /// Measure coverage: run every scenario again through counted copies of its programs, and keep
    /// the counts when that run did exactly what the first did ([`crate::coverage`]).
    pub coverage: bool,
}

/// How `xdptest bench` times a send: `samples` figures, each (in [`TimingMode::Repeat`]) the average
/// of `repeat` iterations of one test run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub samples: u32,
    pub repeat: u32,
}

/// Runs `fixtures` on this kernel; `on_event` sees `Started`, one `Finished` per scenario in the order of
/// `fixtures` (each as soon as it and all before it are done), then `Done`.
pub fn run(fixtures: &[Fixture], opts: &RunOptions, observe: &Observe, mut on_event: impl FnMut(RunEvent)) -> RunStats {
    on_event(RunEvent::Started { scenarios: fixtures.len(), targets: vec![Target::host()] });
    let stats = run_results(fixtures, opts, observe, |index, result| {
        on_event(RunEvent::Finished { target: 0, index, result: Box::new(result) })
    });
    on_event(RunEvent::Done { stats: stats.clone(), cancelled: opts.cancel.is_cancelled() });
    stats
}

/// [`run`] without the surrounding events: `on_result` sees each result in suite order. Scenarios not
/// started before the run was cancelled are not reported.
pub fn run_results(
    fixtures: &[Fixture],
    opts: &RunOptions,
    observe: &Observe,
    mut on_result: impl FnMut(usize, ScenarioResult),
) -> RunStats {
    let start = Instant::now();
    // One stage per spec that declares an environment, built before any worker needs it.
    let mut stages: HashMap<&str, Result<Stage, StageError>> = HashMap::new();
    for f in fixtures.iter().filter(|f| !f.env.is_empty()) {
        stages.entry(f.spec.as_str()).or_insert_with(|| Stage::build(&f.env));
    }
    let queue = Queue::new(fixtures);
    let jobs = opts.jobs.max(1).min(fixtures.len().max(1));
    let (tx, rx) = mpsc::channel::<Vec<Done>>();
    let mut stats = RunStats::default();
    std::thread::scope(|scope| {
        let (stages, queue, cancel) = (&stages, &queue, &opts.cancel);
        scope.spawn(move || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(jobs)
                .thread_name(|i| format!("xdptest-worker-{i}"))
                .build();
            let work = |tx: mpsc::Sender<_>| {
                pin_to_one_cpu(rayon::current_thread_index().unwrap_or(0));
                let mut worker = Worker::new(stages);
                let mut group = None;
                let mut batch = Batch::default();
                while let Some(idx) = queue.take(&mut group) {
                    if cancel.is_cancelled() {
                        break;
                    }
                    worker.dump_maps = observe.dump_maps.get(idx).copied().unwrap_or(false);
                    worker.timing = observe.timing;
                    worker.coverage = observe.coverage;
                    let result = worker.run(&fixtures[idx]);
                    if !batch.push(&tx, (idx, result, std::mem::take(&mut worker.stats))) {
                        break;
                    }
                }
                batch.flush(&tx);
                worker.leave();
            };
            match pool {
                Ok(pool) => {
                    pool.broadcast(|_| work(tx.clone()));
                }
                // No thread pool (resource limits): run everything on this thread.
                Err(_) => work(tx.clone()),
            }
            drop(tx);
        });
        // Emit in suite order; after a cancel, the first gap ends what is reported.
        let mut pending = BTreeMap::new();
        let mut emitted = 0;
        for (idx, result, ws) in rx.into_iter().flatten() {
            stats.loads += ws.loads;
            stats.load_time += ws.load_time;
            pending.insert(idx, result);
            while let Some(r) = pending.remove(&emitted) {
                on_result(emitted, r);
                emitted += 1;
            }
        }
    });
    stats.wall = start.elapsed();
    stats
}

/// A finished scenario on its way to the reporting thread: its index, result and the worker's loads.
type Done = (usize, ScenarioResult, WorkerStats);

/// Results of one worker on their way to the reporting thread, sent in batches: a send per scenario
/// woke the reporter for every result, and those wake-ups (futex calls and context switches) cost more
/// than the test runs themselves. A batch leaves when it is full, when it is old enough that a progress
/// display still looks live, at the worker's end, and at once after a result that is not a pass: the
/// reporter stops the run at `--fail-fast` / `--max-fail` and must hear of failures without delay.
#[derive(Default)]
struct Batch {
    results: Vec<Done>,
    since: Option<Instant>,
}

impl Batch {
    const FULL: usize = 256;
    const AGE: std::time::Duration = std::time::Duration::from_millis(20);

    /// Adds a result; false when the receiver is gone (the run is over).
    fn push(&mut self, tx: &mpsc::Sender<Vec<Done>>, r: Done) -> bool {
        let since = *self.since.get_or_insert_with(Instant::now);
        let urgent = !r.1.verdict.is_pass();
        self.results.push(r);
        if urgent || self.results.len() >= Self::FULL || since.elapsed() >= Self::AGE {
            return self.flush(tx);
        }
        true
    }

    fn flush(&mut self, tx: &mpsc::Sender<Vec<Done>>) -> bool {
        self.since = None;
        if self.results.is_empty() {
            return true;
        }
        tx.send(std::mem::take(&mut self.results)).is_ok()
    }
}

/// Keeps the calling worker on one CPU (the `index`-th this process may use). Everything a worker does
/// to its maps then happens on one CPU: LRU maps keep their free lists per CPU, so their evictions only
/// repeat from run to run, with any number of workers, when each worker's map stays on one CPU. Test
/// runs execute on the caller's CPU, so the programs run there too. Best effort: without the
/// permission to pin, workers move freely.
fn pin_to_one_cpu(index: usize) {
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
    let Ok(allowed) = sched_getaffinity(None) else { return };
    let cpus: Vec<usize> = (0..CpuSet::MAX_CPU).filter(|c| allowed.is_set(*c)).collect();
    if cpus.is_empty() {
        return;
    }
    let mut one = CpuSet::new();
    one.set(cpus[index % cpus.len()]);
    let _ = sched_setaffinity(None, &one);
}

/// Scenarios grouped by program. A worker keeps taking scenarios of the program it has loaded; when its
/// group runs dry it moves to a group nobody works on, and joins a busy group only when enough remains
/// there to pay for loading a second copy of the program (about 10 ms, the cost of ~1000 scenarios).
struct Queue {
    groups: Vec<Group>,
}

struct Group {
    items: Vec<usize>,
    next: AtomicUsize,
    workers: AtomicUsize,
}

impl Group {
    fn remaining(&self) -> usize {
        self.items.len().saturating_sub(self.next.load(Ordering::Relaxed))
    }
}

/// Scenarios left in a busy group that make a second loaded copy worthwhile.
const JOIN_BUSY_GROUP: usize = 1000;

impl Queue {
    fn new(fixtures: &[Fixture]) -> Queue {
        let mut by_program: Vec<(&Program, Vec<usize>)> = Vec::new();
        for (i, f) in fixtures.iter().enumerate() {
            match by_program.iter_mut().find(|(p, _)| p.same_load(&f.program)) {
                Some((_, items)) => items.push(i),
                None => by_program.push((&f.program, vec![i])),
            }
        }
        let groups = by_program
            .into_iter()
            .map(|(_, items)| Group { items, next: AtomicUsize::new(0), workers: AtomicUsize::new(0) })
            .collect();
        Queue { groups }
    }

    /// The next scenario for a worker currently on `group` (updated when the worker moves).
    fn take(&self, group: &mut Option<usize>) -> Option<usize> {
        loop {
            if let Some(g) = *group {
                let grp = &self.groups[g];
                let i = grp.next.fetch_add(1, Ordering::Relaxed);
                if let Some(&idx) = grp.items.get(i) {
                    return Some(idx);
                }
                grp.workers.fetch_sub(1, Ordering::Relaxed);
                *group = None;
            }
            // Groups with workers on them are always drained by those workers, so skipping a small busy
            // group never loses work.
            let pick = self
                .groups
                .iter()
                .enumerate()
                .filter(|(_, g)| {
                    let r = g.remaining();
                    r > 0 && (g.workers.load(Ordering::Relaxed) == 0 || r >= JOIN_BUSY_GROUP)
                })
                .min_by_key(|(_, g)| (g.workers.load(Ordering::Relaxed), std::cmp::Reverse(g.remaining())))
                .map(|(i, _)| i)?;
            self.groups[pick].workers.fetch_add(1, Ordering::Relaxed);
            *group = Some(pick);
        }
    }
}

#[derive(Default)]
struct WorkerStats {
    loads: usize,
    load_time: std::time::Duration,
}

/// Why a scenario stopped before its end.
enum Stop {
    Error(RunError),
    Skip(SkipReason),
}

impl From<RunError> for Stop {
    fn from(e: RunError) -> Self {
        Stop::Error(e)
    }
}

/// A loaded program is keyed by its object, its name, the programs loaded beside it and its `.rodata`
/// values: each distinct set is a load of its own.
type LoadKey = (String, String, Vec<String>, Vec<xdptest_compiler::fixture::GlobalInit>);

struct Worker<'a> {
    programs: HashMap<LoadKey, Result<LoadedProgram, RunError>>,
    stages: &'a HashMap<&'a str, Result<Stage, StageError>>,
    /// The namespace this thread started in, and the spec whose stage it is in now.
    home: Option<OwnedFd>,
    in_stage: Option<String>,
    stats: WorkerStats,
    out: Vec<u8>,
    /// Read maps around each run of the current scenario (see `Observe::dump_maps`).
    dump_maps: bool,
    /// Time every send (see `Observe::timing`).
    timing: Option<Timing>,
    /// Measure coverage (see `Observe::coverage`).
    coverage: bool,
    /// This thread's `bpf_printk` capture, set up when it first runs a program that prints.
    printk: Option<Result<crate::printk::Printk, crate::error::PrintkError>>,
}

/// What one scenario is run with: its program, its stage, and what it has found so far.
struct Scenario<'w> {
    prog: &'w mut LoadedProgram,
    stage: Option<&'w Stage>,
    failures: Vec<Failure>,
    /// Records the sends emitted that no `expect event` has taken yet, in order.
    pending: std::collections::VecDeque<Pending>,
    /// The stage's AF_XDP sockets, held from the scenario's first XSKMAP write to its end.
    xsk: Option<std::sync::MutexGuard<'w, crate::xsk::Sockets>>,
}

/// An emitted record, with the packet of the send that emitted it.
struct Pending {
    record: crate::emitted::Record,
    input: Vec<u8>,
    /// It came through a perf event array (whose samples are padded).
    perf: bool,
}

impl<'a> Worker<'a> {
    fn new(stages: &'a HashMap<&'a str, Result<Stage, StageError>>) -> Self {
        Worker {
            programs: HashMap::new(),
            stages,
            home: stage::current_netns().ok(),
            in_stage: None,
            stats: WorkerStats::default(),
            out: Vec::new(),
            dump_maps: false,
            timing: None,
            coverage: false,
            printk: None,
        }
    }

    /// Returns the thread to the namespace it started in.
    fn leave(&mut self) {
        if self.in_stage.take().is_some() {
            if let Some(home) = &self.home {
                let _ = stage::setns(home);
            }
        }
    }

    fn run(&mut self, f: &Fixture) -> ScenarioResult {
        let start = Instant::now();
        let mut runs = Vec::new();
        let outcome = self.execute(f, &mut runs);
        let coverage = self.coverage.then(|| self.cover(f, &outcome, &runs));
        let verdict = match outcome {
            Ok(failures) if failures.is_empty() => Verdict::Pass,
            Ok(failures) => Verdict::Fail { failures },
            Err(Stop::Error(error)) => Verdict::Error { error },
            Err(Stop::Skip(reason)) => Verdict::Skip { reason },
        };
        ScenarioResult {
            spec: f.spec.clone(),
            scenario: f.scenario.clone(),
            verdict,
            runs,
            duration: start.elapsed(),
            coverage,
        }
    }

    /// The scenario again, through the counted copies of its programs, from the same start (maps
    /// reset, the same writes): the counts stand only if this run returned the same actions, wrote
    /// the same bytes, metadata and events, came to the same checks and left the maps as the first
    /// run (`outcome`, `runs`) did. The trust gate of coverage.
    fn cover(
        &mut self,
        f: &Fixture,
        outcome: &Result<Vec<Failure>, Stop>,
        runs: &[RunRecord],
    ) -> crate::coverage::ScenarioCoverage {
        use crate::coverage::{ScenarioCoverage, Unavailable};
        let unavailable = |reason| ScenarioCoverage::Unavailable { reason };
        let Ok(failures) = outcome else { return unavailable(Unavailable::NotRun) };
        let key = load_key(&f.program);
        let Some(Ok(prog)) = self.programs.get_mut(&key) else { return unavailable(Unavailable::NotRun) };
        if let Some(u) = prog.coverage_unavailable() {
            return unavailable(u);
        }
        let diverged = |source: Option<&str>, what: String| {
            unavailable(Unavailable::Diverged { source: source.map(str::to_string), what })
        };
        let Ok(first) = prog.dump() else { return unavailable(Unavailable::NotRun) };
        if let Err(e) = prog.set_counting(true) {
            return diverged(None, format!("could not be set up: {e}"));
        }
        let timing = self.timing.take();
        let mut counted_runs = Vec::new();
        let counted = self.execute(f, &mut counted_runs);
        self.timing = timing;
        let Some(Ok(prog)) = self.programs.get_mut(&key) else { return unavailable(Unavailable::NotRun) };
        let (after, counts) = (prog.dump(), prog.counts());
        let _ = prog.set_counting(false);
        let counted_failures = match counted {
            Ok(f) => f,
            Err(Stop::Error(e)) => return diverged(None, format!("stopped with an error: {e}")),
            Err(Stop::Skip(_)) => return diverged(None, "was skipped".into()),
        };
        for (a, b) in runs.iter().zip(&counted_runs) {
            let src = Some(a.source.as_str());
            if a.action != b.action {
                return diverged(src, format!("returned {} where the program returned {}", b.action, a.action));
            }
            if a.output != b.output || a.meta != b.meta {
                return diverged(src, "wrote other bytes than the program".into());
            }
            if a.events != b.events {
                return diverged(src, "emitted other events than the program".into());
            }
            if a.maps != b.maps || a.redirect != b.redirect {
                return diverged(src, "changed maps or redirected unlike the program".into());
            }
        }
        if runs.len() != counted_runs.len() {
            return diverged(None, format!("ran {} sends where the program ran {}", counted_runs.len(), runs.len()));
        }
        if format!("{failures:?}") != format!("{counted_failures:?}") {
            return diverged(None, "came to other check results than the program".into());
        }
        match (after, counts) {
            (Ok(after), Ok(programs)) if after == first => ScenarioCoverage::Measured { programs },
            (Ok(_), Ok(_)) => diverged(None, "left the maps in another state than the program".into()),
            (Err(e), _) => diverged(None, format!("left maps that cannot be read: {e}")),
            (_, Err(e)) => diverged(None, format!("has counters that cannot be read: {e}")),
        }
    }

    /// Enters the spec's stage (or goes home) before touching maps: DEVMAP entries and ifindexes are
    /// resolved in the current namespace.
    fn enter_stage(&mut self, f: &Fixture) -> Result<Option<&'a Stage>, Stop> {
        if f.env.is_empty() {
            self.leave();
            return Ok(None);
        }
        let st = match self.stages.get(f.spec.as_str()) {
            Some(Ok(s)) => s,
            Some(Err(StageError::Skip(r))) => return Err(Stop::Skip(r.clone())),
            Some(Err(StageError::Error(e))) => return Err(Stop::Error(e.clone())),
            None => unreachable!("a stage is built for every spec with an `env`"),
        };
        if self.in_stage.as_deref() != Some(f.spec.as_str()) {
            st.enter().map_err(|os| RunError::EnterStage { os })?;
            self.in_stage = Some(f.spec.clone());
        }
        Ok(Some(st))
    }

    fn execute(&mut self, f: &Fixture, runs: &mut Vec<RunRecord>) -> Result<Vec<Failure>, Stop> {
        let stage = self.enter_stage(f)?;
        let Worker { programs, stats, out, dump_maps, printk: printk_slot, timing, coverage, .. } = self;
        let timing = *timing;
        let prog = load(programs, stats, &f.program, crate::program::LoadOptions { coverage: *coverage })?;
        prog.reset()?;
        // Timed sends time the program itself, not its logging copy.
        prog.logging = timing.is_none();
        let mut printk = if prog.prints {
            Some(printk_slot.get_or_insert_with(crate::printk::Printk::for_this_thread))
        } else {
            None
        };
        // Lines of an earlier scenario that ended between a run and its read (an error) are not this one's.
        if let Some(Ok(p)) = printk.as_deref_mut() {
            let _ = p.take();
        }
        let dump_maps = *dump_maps;
        // Records left over from an earlier scenario are not this one's.
        let _ = prog.events.drain();
        let mut sc =
            Scenario { prog, stage, failures: Vec::new(), pending: std::collections::VecDeque::new(), xsk: None };
        for step in &f.steps {
            match step {
                Step::SetMap { map, key, value, ifaces, location, .. } => {
                    sc.set_map(map, key, value, ifaces, location)?;
                }
                Step::Run { input, ctx, expect, source, .. } => {
                    let target = expect.as_ref().and_then(|e| e.target.as_ref());
                    let before = match target {
                        Some(_) => {
                            sc.prog.sync()?;
                            Some(sc.prog.dump()?)
                        }
                        None => None,
                    };
                    let mut record = sc.send(input, ctx, source, out, dump_maps, timing, printk.as_deref_mut())?;
                    if let (Some(target), Some(before)) = (target, before) {
                        if record.action == 4 {
                            let got = sc.redirect_target(input, ctx, source, &record.output, &before, target)?;
                            let expected = target_text(target);
                            if got != expected {
                                sc.failures.push(Failure::Redirect {
                                    source: source.clone(),
                                    expected,
                                    got: got.clone(),
                                });
                            }
                            record.redirect = Some(got);
                        }
                    }
                    if let Some(exp) = expect {
                        if exp.action != record.action {
                            sc.failures.push(Failure::Action {
                                source: source.clone(),
                                expected: exp.action,
                                got: record.action,
                            });
                        }
                        if let Some(p) = &exp.packet {
                            if let Some(d) = diff::packet(p, &record.output) {
                                sc.failures.push(Failure::Packet { source: source.clone(), diff: d });
                            }
                        }
                        if let Some(m) = &exp.meta {
                            if !m.matches(&record.meta) {
                                let mut fields = diff::value(&[], m, &record.meta);
                                if record.meta.len() != m.bytes.0.len() {
                                    fields.push(length_diff(m.bytes.0.len(), record.meta.len()));
                                }
                                sc.failures.push(Failure::Meta {
                                    source: source.clone(),
                                    fields,
                                    expected: m.bytes.0.clone(),
                                    got: record.meta.clone(),
                                });
                            }
                        }
                    }
                    runs.push(record);
                }
                Step::CheckEvent { map, expected, source } => sc.check_event(map, expected.as_ref(), source),
                Step::SetClock { ns, advance, location } => {
                    sc.prog
                        .set_clock(*ns, *advance)
                        .map_err(|os| RunError::TestRun { location: location.clone(), os })?;
                }
                Step::SetRandom { value, location } => {
                    sc.prog.set_random(*value).map_err(|os| RunError::TestRun { location: location.clone(), os })?;
                }
                Step::CheckMap { map, key, entry, expected, layout, ifaces, source } => {
                    sc.check_map(map, key, entry, expected.as_ref(), layout, ifaces, source)?;
                }
            }
        }
        Ok(sc.failures)
    }
}

/// The timer's floor for [`Timing`]: the median nanoseconds the kernel reports for a program that
/// only returns XDP_PASS, timed as a fresh run (one iteration) and as a repeated one. Fresh figures
/// include the timer's own cost once per iteration; this says how much that is.
pub fn timing_floor(t: Timing) -> Result<(f64, f64), OsError> {
    let fd = crate::sys::xdp_pass_program()?;
    let packet = [0u8; 64];
    let mut buf = vec![0u8; 4096];
    let mut median = |repeat: u32| -> Result<f64, OsError> {
        let mut ns = Vec::new();
        for _ in 0..t.samples.max(5) {
            ns.push(
                crate::sys::test_run(std::os::fd::AsRawFd::as_raw_fd(&fd), &packet, &mut buf, None, None, 0, repeat)?
                    .duration,
            );
        }
        ns.sort_unstable();
        Ok(f64::from(ns[ns.len() / 2]))
    };
    Ok((median(1)?, median(t.repeat.max(1))?))
}

/// What a timed send runs: the program, the bytes (metadata first), the `xdp_md` and the action
/// the scenario's own run took.
struct TimedRun<'a> {
    program: &'a str,
    data: &'a [u8],
    ctx: Option<&'a [u8]>,
    action: u32,
    source: &'a str,
}

/// A redirect target as reports show it: the interface's name, `cpu N`, `xsk N`.
fn target_text(t: &xdptest_compiler::fixture::RedirectTarget) -> String {
    use xdptest_compiler::fixture::RedirectTarget;
    match t {
        RedirectTarget::Iface(Iface::Name(n)) => n.clone(),
        RedirectTarget::Iface(Iface::Index(i)) => format!("ifindex {i}"),
        RedirectTarget::Cpu(c) => format!("cpu {c}"),
        RedirectTarget::Xsk(q) => format!("xsk {q}"),
    }
}

/// The target a frame received by an AF_XDP socket went to: `xsk KEY`, the XSKMAP entry holding the
/// socket (the expected one when it holds the socket too).
fn socket_target(holders: &[(String, Vec<u8>)], expected: &xdptest_compiler::fixture::RedirectTarget) -> String {
    let key = |k: &[u8]| <[u8; 4]>::try_from(k).ok().map(u32::from_le_bytes);
    let keys: Vec<u32> = holders.iter().filter_map(|(_, k)| key(k)).collect();
    match expected {
        xdptest_compiler::fixture::RedirectTarget::Xsk(n) if keys.contains(n) => format!("xsk {n}"),
        _ => match keys.first() {
            Some(k) => format!("xsk {k}"),
            None => "an AF_XDP socket no XSKMAP entry holds any more".into(),
        },
    }
}

/// `length: expected N bytes, got M`.
fn length_diff(expected: usize, got: usize) -> crate::verdict::FieldDiff {
    crate::verdict::FieldDiff {
        layer: String::new(),
        field: "length".into(),
        expected: format!("{expected} bytes"),
        got: format!("{got} bytes"),
    }
}

impl Scenario<'_> {
    /// Where the frame of a send goes when it is really sent: the send again, in live mode, on the map
    /// state it ran on (`before`), observed in the stage; then the maps are put back as the first run
    /// left them.
    fn redirect_target(
        &mut self,
        input: &Bytes,
        ctx: &xdptest_compiler::fixture::Ctx,
        source: &str,
        frame: &[u8],
        before: &MapsDump,
        target: &xdptest_compiler::fixture::RedirectTarget,
    ) -> Result<String, Stop> {
        use xdptest_compiler::fixture::RedirectTarget;
        let Some(stage) = self.stage else {
            return Err(Stop::Error(RunError::TestRun {
                location: source.into(),
                os: OsError { op: "observe a redirect (the spec has no network stage)".into(), errno: 0 },
            }));
        };
        let fail = |os: OsError| Stop::Error(RunError::TestRun { location: source.into(), os });
        stage.make_receivers().map_err(fail)?;
        let after = self.prog.dump()?;
        self.prog.restore(before)?;
        let mut capture = crate::redirect::Capture::open(self.prog.ncpus).map_err(fail)?;
        // Frames an earlier send left in the AF_XDP sockets are not this one's.
        if let Some(x) = &mut self.xsk {
            x.take();
        }
        let meta_in = ctx.meta.as_ref().map(|m| m.0.as_slice()).unwrap_or(&[]);
        let with_meta = !meta_in.is_empty() || self.prog.adjusts_meta;
        let md = xdp_md(ctx, self.stage, meta_in.len(), input.0.len(), with_meta, source)?;
        let data = [meta_in, &input.0].concat();
        let program = ctx.program.as_deref().unwrap_or(self.prog.name()).to_string();
        self.prog.run_live(&program, &data, md.as_ref().map(|m| &m[..])).map_err(fail)?;
        // An AF_XDP socket has the frame as soon as the run returns (the run flushes its redirects).
        let to_socket = self.xsk.as_mut().and_then(|x| x.take().into_iter().find(|r| r.bytes == frame));
        let arrival = if to_socket.is_some() { None } else { capture.wait_for(frame) };
        // What the second run emitted is not the scenario's.
        let _ = self.prog.events.drain();
        self.prog.restore(&after)?;
        let senders = crate::redirect::senders(&stage.ifindex, &stage.peers);
        if let Some(r) = to_socket {
            return Ok(socket_target(&r.holders, target));
        }
        Ok(match (arrival, target) {
            (None, RedirectTarget::Xsk(_)) => "nowhere (the frame did not arrive; an AF_XDP socket receives only \
                 frames of the interface and queue it is bound to: send with `ingress` that interface)"
                .into(),
            (None, _) => "nowhere (the frame did not arrive)".into(),
            (Some(a), RedirectTarget::Cpu(_)) => format!("cpu {}", a.cpu),
            (Some(a), _) => senders.get(&a.ifindex).cloned().unwrap_or_else(|| format!("ifindex {}", a.ifindex)),
        })
    }

    /// `expect event MAP == ...` (the next record of MAP) or `expect no event [MAP]`.
    fn check_event(&mut self, map: &str, expected: Option<&xdptest_compiler::fixture::ExpectedEvent>, source: &str) {
        let of_map = |r: &Pending| map.is_empty() || r.record.map == map;
        let Some(e) = expected else {
            let left: Vec<String> = self
                .pending
                .iter()
                .filter(|r| of_map(r))
                .map(|r| xdptest_compiler::fixture::hex(&r.record.bytes))
                .collect();
            if !left.is_empty() {
                self.pending.retain(|r| !of_map(r));
                self.failures.push(Failure::Event {
                    source: source.into(),
                    map: map.into(),
                    diff: EventDiff::Unexpected { records: left },
                });
            }
            return;
        };
        let Some(i) = self.pending.iter().position(of_map) else {
            self.failures.push(Failure::Event { source: source.into(), map: map.into(), diff: EventDiff::Missing });
            return;
        };
        let Pending { record, input, perf } = self.pending.remove(i).expect("found above");
        let got = &record.bytes;
        let record_len = e.record.bytes.0.len();
        let packet_len = e.packet.unwrap_or(0) as usize;
        let want = record_len + packet_len;
        let mut fields = Vec::new();
        // Perf samples carry the kernel's padding to 8 bytes; ring buffer records are exact.
        let slack = if perf { 7 } else { 0 };
        if got.len() < want || got.len() > want + slack {
            fields.push(length_diff(want, got.len()));
        }
        let head = &got[..record_len.min(got.len())];
        if !e.record.matches(head) || head.len() < record_len {
            fields.extend(diff::value(&e.layout, &e.record, head));
        }
        if packet_len > 0 {
            let appended = got.get(record_len..(record_len + packet_len).min(got.len())).unwrap_or(&[]);
            let sent = &input[..packet_len.min(input.len())];
            if appended != sent {
                fields.push(crate::verdict::FieldDiff {
                    layer: String::new(),
                    field: "packet".into(),
                    expected: xdptest_compiler::fixture::hex(sent),
                    got: xdptest_compiler::fixture::hex(appended),
                });
            }
        }
        if !fields.is_empty() {
            self.failures.push(Failure::Event {
                source: source.into(),
                map: record.map,
                diff: EventDiff::Fields { fields },
            });
        }
    }

    fn map(&mut self, name: &str) -> Result<&mut LoadedMap, RunError> {
        let available: Vec<String> = self.prog.maps.keys().cloned().collect();
        self.prog.maps.get_mut(name).ok_or_else(|| RunError::NoMap { map: name.into(), available })
    }

    /// Bytes of one part of an entry with its interface names replaced by ifindexes.
    fn resolve(&self, bytes: &[u8], part: EntryPart, slots: &[IfaceSlot], location: &str) -> Result<Vec<u8>, RunError> {
        let mut out = bytes.to_vec();
        for slot in slots.iter().filter(|s| s.part == part) {
            let idx =
                self.stage.and_then(|s| s.ifindex.get(&slot.iface)).copied().ok_or_else(|| {
                    RunError::UnknownInterface { location: location.into(), iface: slot.iface.clone() }
                })?;
            slot.fill(&mut out, idx);
        }
        Ok(out)
    }

    fn set_map(
        &mut self,
        map: &str,
        key: &Bytes,
        value: &MapValue,
        slots: &[IfaceSlot],
        location: &str,
    ) -> Result<(), RunError> {
        let key = self.resolve(&key.0, EntryPart::Key, slots, location)?;
        let ncpus = self.prog.ncpus;
        let (values, list): (Vec<Vec<u8>>, bool) = match value {
            MapValue::All(v) => (vec![self.resolve(&v.0, EntryPart::Value, slots, location)?], false),
            // A global variable: its bytes patched into the section's one value.
            MapValue::Patch { offset, bytes } => {
                let m = self.map(map)?;
                let mut current = m
                    .read(&key, ncpus)
                    .map_err(|e| e.into_run(map, MapOp::Read, Some(location)))?
                    .and_then(|v| v.into_iter().next())
                    .unwrap_or_else(|| vec![0; m.value_size]);
                let at = *offset as usize;
                match current.get_mut(at..at + bytes.0.len()) {
                    Some(dst) => dst.copy_from_slice(&bytes.0),
                    None => {
                        return Err(RunError::EntrySize {
                            map: map.into(),
                            part: crate::error::EntryPart::Value,
                            got: at + bytes.0.len(),
                            want: current.len(),
                        })
                    }
                }
                (vec![current], false)
            }
            MapValue::Program(name) => {
                let fd = self.prog.program_fd(name).ok_or_else(|| RunError::NoProgram {
                    object: String::new(),
                    location: location.into(),
                    program: name.clone(),
                    available: self.prog.program_names(),
                })?;
                (vec![(fd as u32).to_ne_bytes().to_vec()], false)
            }
            MapValue::Map(name) => {
                let fd = self.map(name)?.fd();
                (vec![(fd as u32).to_ne_bytes().to_vec()], false)
            }
            MapValue::Xsk { iface, queue } => {
                let unknown = || RunError::UnknownInterface { location: location.into(), iface: iface.clone() };
                let stage = self.stage.ok_or_else(unknown)?;
                let ifindex = stage.ifindex.get(iface).copied().ok_or_else(unknown)?;
                let sockets = self.xsk.get_or_insert_with(|| stage.xsk_sockets());
                let fd = sockets.open(map, &key, ifindex, *queue).map_err(|os| RunError::Map {
                    map: map.into(),
                    op: MapOp::Write,
                    location: Some(location.into()),
                    os,
                    hint: Some(format!("opening an AF_XDP socket on queue {queue} of {iface} failed")),
                })?;
                (vec![(fd as u32).to_ne_bytes().to_vec()], false)
            }
            MapValue::PerCpu(vs) => {
                let mut out = Vec::with_capacity(vs.len());
                for (cpu, v) in vs.iter().enumerate() {
                    out.push(self.resolve(&v.0, EntryPart::CpuValue(cpu as u32), slots, location)?);
                }
                (out, true)
            }
        };
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let m = self.map(map)?;
        match m.write(&key, &refs, ncpus, list) {
            Ok(()) => {
                m.written_at(&key, location);
                Ok(())
            }
            Err(e) => {
                let hint = m.refusal_hint(&e);
                Err(e.into_run(map, MapOp::Write, Some(location)).with_hint(hint))
            }
        }
    }

    // The send's parts and what to record of it, each used once: a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        input: &Bytes,
        ctx: &xdptest_compiler::fixture::Ctx,
        source: &str,
        out: &mut Vec<u8>,
        dump_maps: bool,
        timing: Option<Timing>,
        printk: Option<&mut Result<crate::printk::Printk, crate::error::PrintkError>>,
    ) -> Result<RunRecord, Stop> {
        let meta_in = ctx.meta.as_ref().map(|m| m.0.as_slice()).unwrap_or(&[]);
        // With metadata in or possibly out, the context says where the packet starts in the output.
        let with_meta = !meta_in.is_empty() || self.prog.adjusts_meta;
        let ctx_bytes = xdp_md(ctx, self.stage, meta_in.len(), input.0.len(), with_meta, source)?;
        let data_in;
        let data: &[u8] = if meta_in.is_empty() {
            &input.0
        } else {
            data_in = [meta_in, &input.0].concat();
            &data_in
        };
        self.prog.sync()?;
        // Queues and stacks can only be read by popping them: their state cannot be put back
        // between timed runs, so such sends are not timed (and their maps not read for it).
        let keyless = self.prog.maps.values().any(|m| m.is_keyless());
        let timed = timing.filter(|_| !keyless);
        let before = if dump_maps || timed.is_some() { Some(self.prog.dump()?) } else { None };
        let program = ctx.program.clone().unwrap_or_else(|| self.prog.name().to_string());
        let (action, meta_len) = self
            .prog
            .run(&program, data, ctx_bytes.as_ref().map(|c| &c[..]), out)
            .map_err(|os| test_run_error(os, ctx_bytes.is_some(), source))?;
        let meta = out.drain(..meta_len.min(out.len())).collect::<Vec<u8>>();
        let records = self.prog.events.drain();
        let events: Vec<crate::verdict::EventRecord> = records
            .iter()
            .map(|r| crate::verdict::EventRecord { map: r.map.clone(), bytes: r.bytes.clone() })
            .collect();
        for record in records {
            let perf = self.prog.is_perf_map(&record.map);
            self.pending.push_back(Pending { record, input: input.0.clone(), perf });
        }
        let (printk_lines, printk_error) = match printk {
            None => (Vec::new(), None),
            Some(Ok(p)) => match p.take() {
                Ok(lines) => (lines, None),
                Err(e) => (Vec::new(), Some(e)),
            },
            Some(Err(e)) => (Vec::new(), Some(e.clone())),
        };
        let timing = match (timed, &before) {
            _ if timing.is_some() && keyless => Some(SendTiming {
                mode: TimingMode::Fresh,
                ns: Vec::new(),
                diverged: 0,
                verified_insns: self.prog.verified_insns(&program),
                unavailable: Some("the program has a queue or stack map, whose state cannot be restored".into()),
            }),
            (Some(t), Some(before)) => {
                let run = TimedRun { program: &program, data, ctx: ctx_bytes.as_ref().map(|c| &c[..]), action, source };
                Some(self.time(t, &run, before, &[meta.as_slice(), out.as_slice()].concat())?)
            }
            _ => None,
        };
        let maps = match (before, dump_maps) {
            (Some(before), true) => Some(map_changes(&before, &self.prog.dump()?, self.prog)),
            _ => None,
        };
        Ok(RunRecord {
            source: source.into(),
            input: input.0.clone(),
            action,
            output: out.clone(),
            meta,
            events,
            redirect: None,
            printk: printk_lines,
            printk_error,
            maps,
            timing,
        })
    }

    /// Times the send just made (its maps were `before` it, its output `expected`): in one repeated
    /// test run when the program left packet and maps as they were, else in fresh runs from the
    /// state before the send, restored each time. The scenario then goes on from the state after it.
    fn time(&mut self, t: Timing, run: &TimedRun, before: &MapsDump, expected: &[u8]) -> Result<SendTiming, Stop> {
        let fd = self.prog.program_fd(run.program).ok_or_else(|| {
            test_run_error(OsError::errno(format!("no program {} loaded", run.program), 0), false, run.source)
        })?;
        self.prog.sync()?;
        let after = self.prog.dump()?;
        let steady = after == *before && expected == run.data;
        let mode = if steady { TimingMode::Repeat } else { TimingMode::Fresh };
        let mut buf = vec![0u8; expected.len().max(4096) + 512];
        let mut ctx_out = [0u8; 24];
        let (mut ns, mut diverged) = (Vec::new(), 0);
        for _ in 0..t.samples {
            if !steady {
                self.prog.restore(before)?;
            }
            let repeat = if steady { t.repeat.max(1) } else { 1 };
            let r = crate::sys::test_run(fd, run.data, &mut buf, run.ctx, run.ctx.map(|_| &mut ctx_out[..]), 0, repeat)
                .map_err(|os| test_run_error(os, run.ctx.is_some(), run.source))?;
            let out = &buf[..(r.data_size_out as usize).min(buf.len())];
            if r.retval == run.action && out == expected {
                ns.push(r.duration);
            } else {
                diverged += 1;
            }
        }
        // What the timed runs emitted or printed is not the scenario's.
        let _ = self.prog.events.drain();
        self.prog.restore(&after)?;
        Ok(SendTiming { mode, ns, diverged, verified_insns: self.prog.verified_insns(run.program), unavailable: None })
    }

    #[allow(clippy::too_many_arguments)]
    fn check_map(
        &mut self,
        map: &str,
        key: &Bytes,
        entry: &str,
        expected: Option<&ExpectedValue>,
        layout: &[xdptest_compiler::fixture::ValueField],
        slots: &[IfaceSlot],
        source: &str,
    ) -> Result<(), RunError> {
        let key = self.resolve(&key.0, EntryPart::Key, slots, source)?;
        let ncpus = self.prog.ncpus;
        self.prog.sync()?;
        let got = self.map(map)?.read(&key, ncpus).map_err(|e| e.into_run(map, MapOp::Read, Some(source)))?;
        let mut fail = |diff| self.failures.push(Failure::Map { source: source.into(), entry: entry.into(), diff });
        let (exp, values) = match (expected, got) {
            (None, None) => return Ok(()),
            (None, Some(v)) => {
                fail(MapDiff::Present { value: xdptest_compiler::fixture::hex(&v[0]) });
                return Ok(());
            }
            (Some(_), None) => {
                fail(MapDiff::Missing);
                return Ok(());
            }
            (Some(exp), Some(values)) => (exp, values),
        };
        let resolved = |m: &Masked, part| -> Result<Masked, RunError> {
            Ok(Masked { bytes: Bytes(self.resolve(&m.bytes.0, part, slots, source)?), mask: m.mask.clone() })
        };
        let mut diffs = Vec::new();
        match exp {
            ExpectedValue::Exact(m) => {
                let m = resolved(m, EntryPart::Value)?;
                // A DEVMAP's value may be longer in the kernel than declared; the declared part comes
                // first (see `LoadedMap::write`).
                let got = &values[0][..m.bytes.0.len().min(values[0].len())];
                diffs.push((None, diff::value(layout, &m, got)));
            }
            ExpectedValue::Sum(m) => {
                let m = resolved(m, EntryPart::Value)?;
                diffs.push((None, diff::value(layout, &m, &combine_per_cpu(layout, &values))));
            }
            // CPUs the list does not reach are not checked.
            ExpectedValue::PerCpu(ms) if ms.len() > values.len() => {
                self.failures.push(Failure::Map {
                    source: source.into(),
                    entry: entry.into(),
                    diff: MapDiff::CpuCount { expected: ms.len(), got: values.len() },
                });
            }
            ExpectedValue::PerCpu(ms) => {
                for (cpu, (m, v)) in ms.iter().zip(&values).enumerate() {
                    let m = resolved(m, EntryPart::CpuValue(cpu as u32))?;
                    diffs.push((Some(cpu), diff::value(layout, &m, v)));
                }
            }
        }
        for (cpu, fields) in diffs.into_iter().filter(|(_, d)| !d.is_empty()) {
            self.failures.push(Failure::Map {
                source: source.into(),
                entry: entry.into(),
                diff: MapDiff::Fields { cpu, fields },
            });
        }
        Ok(())
    }
}

fn load_key(p: &Program) -> LoadKey {
    (p.object.clone(), p.name.clone(), p.also.clone(), p.rodata.clone())
}

/// The worker's copy of a program, loaded on first use.
fn load<'p>(
    programs: &'p mut HashMap<LoadKey, Result<LoadedProgram, RunError>>,
    stats: &mut WorkerStats,
    p: &Program,
    options: crate::program::LoadOptions,
) -> Result<&'p mut LoadedProgram, Stop> {
    let loaded = programs.entry(load_key(p)).or_insert_with(|| {
        let t = Instant::now();
        let loaded = LoadedProgram::load_with(p, options);
        stats.loads += 1;
        stats.load_time += t.elapsed();
        loaded
    });
    match loaded {
        Ok(p) => Ok(p),
        Err(e) => Err(Stop::Error(e.clone())),
    }
}

/// What changed between two dumps of `prog`'s maps. A missing array entry is all zeros.
fn map_changes(before: &MapsDump, after: &MapsDump, prog: &LoadedProgram) -> Vec<MapChange> {
    let empty = BTreeMap::new();
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for name in names {
        let (b, a) = (before.get(name).unwrap_or(&empty), after.get(name).unwrap_or(&empty));
        let zero = prog.maps.get(name).filter(|m| m.is_array()).map(|m| {
            let cpus = if m.is_per_cpu() { prog.ncpus } else { 1 };
            vec![Bytes(vec![0; m.value_size]); cpus]
        });
        let keys: std::collections::BTreeSet<&Vec<u8>> = b.keys().chain(a.keys()).collect();
        for key in keys {
            let side = |d: &BTreeMap<Vec<u8>, Vec<Vec<u8>>>| {
                d.get(key).map(|vs| vs.iter().map(|v| Bytes(v.clone())).collect::<Vec<_>>()).or_else(|| zero.clone())
            };
            let (vb, va) = (side(b), side(a));
            if vb != va {
                out.push(MapChange { map: name.clone(), key: Bytes(key.clone()), before: vb, after: va });
            }
        }
    }
    out
}

/// `struct xdp_md` for the run's context, when the spec sets one.
/// The `struct xdp_md` to pass with a run, when one is needed: an ingress interface or queue, or
/// metadata (`meta_len` bytes of it precede the `len`-byte packet).
fn xdp_md(
    ctx: &xdptest_compiler::fixture::Ctx,
    stage: Option<&Stage>,
    meta_len: usize,
    len: usize,
    with_meta: bool,
    source: &str,
) -> Result<Option<[u8; 24]>, RunError> {
    if ctx.ingress.is_none() && ctx.rx_queue.is_none() && !with_meta {
        return Ok(None);
    }
    let ifindex = match &ctx.ingress {
        None => 0,
        Some(Iface::Index(i)) => *i,
        Some(Iface::Name(n)) => match stage.and_then(|s| s.ifindex.get(n)) {
            Some(i) => *i,
            None => return Err(RunError::UnknownInterface { location: source.into(), iface: n.clone() }),
        },
    };
    // The kernel reads `data_end` as the size of the linear part (the rest would become fragments, out
    // of the program's direct reach): the whole input, metadata included. `data` is where the packet
    // starts after the metadata; `data_meta` and `egress_ifindex` stay 0.
    let mut md = [0u8; 24];
    md[0..4].copy_from_slice(&(meta_len as u32).to_ne_bytes());
    md[4..8].copy_from_slice(&((meta_len + len) as u32).to_ne_bytes());
    md[12..16].copy_from_slice(&ifindex.to_ne_bytes());
    md[16..20].copy_from_slice(&ctx.rx_queue.unwrap_or(0).to_ne_bytes());
    Ok(Some(md))
}

fn test_run_error(os: OsError, with_ctx: bool, source: &str) -> Stop {
    if RunError::is_denied(&os) {
        return Stop::Error(RunError::permission(os));
    }
    if with_ctx && os.errno == libc::EINVAL {
        if kernel_older_than(5, 15) {
            return Stop::Skip(SkipReason::KernelTooOld {
                location: source.into(),
                feature: "pass an xdp_md context to test runs".into(),
                needs: "5.15".into(),
            });
        }
        return Stop::Error(RunError::Context { location: source.into(), os });
    }
    Stop::Error(RunError::TestRun { location: source.into(), os })
}

/// Whether the running kernel is older than `major.minor`.
pub fn kernel_older_than(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let (ma, mi) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (ma, mi) < (major, minor)
}
