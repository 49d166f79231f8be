//! Running fixtures: a pool of workers (rayon threads) pulls scenarios from a shared queue. Each worker
//! loads its own copy of every program it needs (so no two scenarios share maps) and resets the maps
//! before each scenario. Results stream back to the caller in suite order as they complete.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use xdptest_compiler::fixture::{Bytes, ExpectedValue, Fixture, Iface, MapValue, Masked, ProgramRef, Step};
use xdptest_compiler::spec::IFINDEX_PLACEHOLDER;

use crate::diff;
use crate::program::LoadedProgram;
use crate::stage::{self, Stage};
use crate::verdict::{Failure, MapChange, MapDiff, RunRecord, ScenarioResult, Verdict};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads; each loads its own copy of the programs it runs.
    pub jobs: usize,
}

/// What to record beyond verdicts, for reports (see [`run_observing`]).
#[derive(Debug, Clone, Default)]
pub struct Observe {
    /// Indexed like the fixtures: read every map before and after each run of these scenarios, for
    /// [`RunRecord::maps`]. Missing entries mean no (the fast path: no map is read that the spec does
    /// not check).
    pub dump_maps: Vec<bool>,
}

/// Figures about a run, for reports and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// Program loads (object parse + map creation + verifier), summed over workers.
    pub loads: usize,
    pub load_time: Duration,
    pub wall: Duration,
}

/// Runs `fixtures`; `on_result` sees each result in the order of `fixtures`, as soon as it and all
/// before it are done.
pub fn run(fixtures: &[Fixture], opts: &RunOptions, on_result: impl FnMut(usize, ScenarioResult)) -> RunStats {
    run_observing(fixtures, opts, &Observe::default(), on_result)
}

/// [`run`], recording what `observe` asks for.
pub fn run_observing(
    fixtures: &[Fixture],
    opts: &RunOptions,
    observe: &Observe,
    mut on_result: impl FnMut(usize, ScenarioResult),
) -> RunStats {
    let start = Instant::now();
    // One stage per spec that declares an environment, built before any worker needs it.
    let mut stages: HashMap<&str, Result<Stage, String>> = HashMap::new();
    for f in fixtures.iter().filter(|f| !f.env.is_empty()) {
        stages.entry(f.spec.as_str()).or_insert_with(|| Stage::build(&f.env));
    }
    let queue = Queue::new(fixtures);
    let jobs = opts.jobs.max(1).min(fixtures.len().max(1));
    let (tx, rx) = mpsc::channel::<(usize, ScenarioResult, WorkerStats)>();
    let mut stats = RunStats::default();
    std::thread::scope(|scope| {
        let (stages, queue) = (&stages, &queue);
        scope.spawn(move || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(jobs)
                .thread_name(|i| format!("xdptest-worker-{i}"))
                .build();
            let work = |tx: mpsc::Sender<_>| {
                let mut worker = Worker::new(stages);
                let mut group = None;
                while let Some(idx) = queue.take(&mut group) {
                    worker.dump_maps = observe.dump_maps.get(idx).copied().unwrap_or(false);
                    let result = worker.run(&fixtures[idx]);
                    if tx.send((idx, result, std::mem::take(&mut worker.stats))).is_err() {
                        break;
                    }
                }
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
        // Emit in suite order.
        let mut pending = BTreeMap::new();
        let mut emitted = 0;
        for (idx, result, ws) in rx {
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
        let mut by_program: Vec<(&ProgramRef, Vec<usize>)> = Vec::new();
        for (i, f) in fixtures.iter().enumerate() {
            match by_program.iter_mut().find(|(p, _)| **p == f.program) {
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
    load_time: Duration,
}

struct Worker<'a> {
    programs: HashMap<ProgramRef, Result<LoadedProgram, String>>,
    stages: &'a HashMap<&'a str, Result<Stage, String>>,
    /// The namespace this thread started in, and the spec whose stage it is in now.
    home: Option<OwnedFd>,
    in_stage: Option<String>,
    stats: WorkerStats,
    out: Vec<u8>,
    /// Read maps around each run of the current scenario (see `Observe::dump_maps`).
    dump_maps: bool,
    /// This thread's `bpf_printk` capture, set up when it first runs a program that prints.
    printk: Option<Result<crate::printk::Printk, String>>,
}

impl<'a> Worker<'a> {
    fn new(stages: &'a HashMap<&'a str, Result<Stage, String>>) -> Self {
        Worker {
            programs: HashMap::new(),
            stages,
            home: stage::current_netns().ok(),
            in_stage: None,
            stats: WorkerStats::default(),
            out: Vec::new(),
            dump_maps: false,
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
        let verdict = match self.execute(f, &mut runs) {
            Ok(failures) if failures.is_empty() => Verdict::Pass,
            Ok(failures) => Verdict::Fail { failures },
            Err(Outcome::Error(message)) => Verdict::Error { message },
            Err(Outcome::Skip(reason)) => Verdict::Skip { reason },
        };
        ScenarioResult { spec: f.spec.clone(), scenario: f.scenario.clone(), verdict, runs, duration: start.elapsed() }
    }

    fn execute(&mut self, f: &Fixture, runs: &mut Vec<RunRecord>) -> Result<Vec<Failure>, Outcome> {
        // Enter the spec's stage (or go home) before touching maps: DEVMAP entries and ifindexes are
        // resolved in the current namespace.
        let stage = if f.env.is_empty() {
            self.leave();
            None
        } else {
            let st = match self.stages.get(f.spec.as_str()) {
                Some(Ok(s)) => s,
                // A link type whose driver this kernel lacks (vlan without 8021q): not a failure.
                Some(Err(e)) if stage::lacks_driver(e) => return Err(Outcome::Skip(e.clone())),
                Some(Err(e)) => return Err(Outcome::Error(e.clone())),
                None => return Err(Outcome::Error("internal: no stage was built for this spec".into())),
            };
            if self.in_stage.as_deref() != Some(f.spec.as_str()) {
                st.enter().map_err(|e| Outcome::Error(format!("cannot enter the network stage: {e}")))?;
                self.in_stage = Some(f.spec.clone());
            }
            Some(st)
        };
        if !self.programs.contains_key(&f.program) {
            let t = Instant::now();
            let loaded = LoadedProgram::load(&f.program.object, &f.program.name).map_err(|e| e.to_string());
            self.stats.loads += 1;
            self.stats.load_time += t.elapsed();
            self.programs.insert(f.program.clone(), loaded);
        }
        let prog = match self.programs.get_mut(&f.program) {
            Some(Ok(p)) => p,
            Some(Err(e)) => return Err(Outcome::Error(e.clone())),
            None => unreachable!("inserted above"),
        };
        prog.reset().map_err(|e| Outcome::Error(e.to_string()))?;
        let ncpus = prog.ncpus;
        let mut printk = if prog.prints {
            Some(self.printk.get_or_insert_with(crate::printk::Printk::for_this_thread))
        } else {
            None
        };
        // Lines of an earlier scenario that ended between a run and its read (an error) are not this one's.
        if let Some(Ok(p)) = printk.as_deref_mut() {
            let _ = p.take();
        }
        let mut failures = Vec::new();
        for step in &f.steps {
            match step {
                Step::SetMap { map, key, value } => {
                    let m = map_of(prog, map)?;
                    let key = resolve_ifnames(&key.0, stage)?;
                    let (values, list): (Vec<Vec<u8>>, bool) = match value {
                        MapValue::All(v) => (vec![resolve_ifnames(&v.0, stage)?], false),
                        MapValue::PerCpu(vs) => {
                            (vs.iter().map(|v| resolve_ifnames(&v.0, stage)).collect::<Result<_, _>>()?, true)
                        }
                    };
                    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
                    m.write(&key, &refs, ncpus, list).map_err(|e| Outcome::Error(format!("writing {map}: {e}")))?;
                }
                Step::Run { input, ctx, expect, source } => {
                    let ctx_bytes = xdp_md(ctx, stage, input.0.len())?;
                    let before = if self.dump_maps { Some(dump(prog)?) } else { None };
                    let action = match prog.test_run(&input.0, ctx_bytes.as_ref().map(|c| &c[..]), &mut self.out) {
                        Ok(a) => a,
                        Err(e) => return Err(test_run_error(e, ctx_bytes.is_some(), source)),
                    };
                    let (printk_lines, printk_error) = match printk.as_deref_mut() {
                        None => (Vec::new(), None),
                        Some(Ok(p)) => match p.take() {
                            Ok(lines) => (lines, None),
                            Err(e) => (Vec::new(), Some(format!("reading the trace pipe: {e}"))),
                        },
                        Some(Err(e)) => (Vec::new(), Some(e.clone())),
                    };
                    let maps = match before {
                        Some(before) => Some(map_changes(&before, &dump(prog)?, prog)),
                        None => None,
                    };
                    runs.push(RunRecord {
                        source: source.clone(),
                        input: input.0.clone(),
                        action,
                        output: self.out.clone(),
                        printk: printk_lines,
                        printk_error,
                        maps,
                    });
                    if let Some(exp) = expect {
                        if exp.action != action {
                            failures.push(Failure::Action {
                                source: source.clone(),
                                expected: exp.action,
                                got: action,
                            });
                        }
                        if let Some(p) = &exp.packet {
                            if let Some(d) = diff::packet(p, &self.out) {
                                failures.push(Failure::Packet { source: source.clone(), diff: d });
                            }
                        }
                    }
                }
                Step::CheckMap { map, key, entry, expected, layout, source } => {
                    let m = map_of(prog, map)?;
                    let key = resolve_ifnames(&key.0, stage)?;
                    let got = m.read(&key, ncpus).map_err(|e| Outcome::Error(format!("reading {map}: {e}")))?;
                    let fail = |diff| Failure::Map { source: source.clone(), entry: entry.clone(), diff };
                    match (expected, got) {
                        (None, None) => {}
                        (None, Some(v)) => {
                            failures.push(fail(MapDiff::Present { value: xdptest_compiler::fixture::hex(&v[0]) }))
                        }
                        (Some(_), None) => failures.push(fail(MapDiff::Missing)),
                        (Some(exp), Some(values)) => match &resolve_expected(exp, stage)? {
                            ExpectedValue::Exact(m) => {
                                // A DEVMAP's value may be longer in the kernel than declared; the
                                // declared part comes first (see `LoadedMap::write`).
                                let got = &values[0][..m.bytes.0.len().min(values[0].len())];
                                let d = diff::value(layout, m, got);
                                if !d.is_empty() {
                                    failures.push(fail(MapDiff::Fields { cpu: None, fields: d }));
                                }
                            }
                            ExpectedValue::Sum(m) => {
                                let d = diff::value(layout, m, &diff::sum_per_cpu(layout, &values));
                                if !d.is_empty() {
                                    failures.push(fail(MapDiff::Fields { cpu: None, fields: d }));
                                }
                            }
                            // CPUs the list does not reach are not checked.
                            ExpectedValue::PerCpu(ms) => {
                                if ms.len() > values.len() {
                                    failures.push(fail(MapDiff::CpuCount { expected: ms.len(), got: values.len() }));
                                } else {
                                    for (cpu, (m, v)) in ms.iter().zip(&values).enumerate() {
                                        let d = diff::value(layout, m, v);
                                        if !d.is_empty() {
                                            failures.push(fail(MapDiff::Fields { cpu: Some(cpu), fields: d }));
                                        }
                                    }
                                }
                            }
                        },
                    }
                }
            }
        }
        Ok(failures)
    }
}

enum Outcome {
    Error(String),
    Skip(String),
}

fn dump(prog: &LoadedProgram) -> Result<crate::program::MapsDump, Outcome> {
    prog.dump().map_err(|e| Outcome::Error(e.to_string()))
}

/// What changed between two dumps of `prog`'s maps. A missing array entry is all zeros.
fn map_changes(
    before: &crate::program::MapsDump,
    after: &crate::program::MapsDump,
    prog: &LoadedProgram,
) -> Vec<MapChange> {
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

fn map_of<'p>(prog: &'p mut LoadedProgram, name: &str) -> Result<&'p mut crate::program::LoadedMap, Outcome> {
    let names: Vec<String> = prog.maps.keys().cloned().collect();
    prog.maps
        .get_mut(name)
        .ok_or_else(|| Outcome::Error(format!("the loaded program has no map `{name}` (it has: {})", names.join(", "))))
}

/// `struct xdp_md` for the run's context, when the spec sets one.
fn xdp_md(
    ctx: &xdptest_compiler::fixture::Ctx,
    stage: Option<&Stage>,
    len: usize,
) -> Result<Option<[u8; 24]>, Outcome> {
    if ctx.ingress.is_none() && ctx.rx_queue.is_none() {
        return Ok(None);
    }
    let ifindex = match &ctx.ingress {
        None => 0,
        Some(Iface::Index(i)) => *i,
        Some(Iface::Name(n)) => match stage.and_then(|s| s.ifindex.get(n)) {
            Some(i) => *i,
            None => return Err(Outcome::Error(format!("interface {n} is not part of the spec's network stage"))),
        },
    };
    // The kernel reads `data_end` as the size of the linear part (the rest would become fragments, out
    // of the program's direct reach): the whole packet. `data`, `data_meta`, `egress_ifindex` stay 0.
    let mut md = [0u8; 24];
    md[4..8].copy_from_slice(&(len as u32).to_ne_bytes());
    md[12..16].copy_from_slice(&ifindex.to_ne_bytes());
    md[16..20].copy_from_slice(&ctx.rx_queue.unwrap_or(0).to_ne_bytes());
    Ok(Some(md))
}

/// An expected value with interface names resolved, like written values.
fn resolve_expected(e: &ExpectedValue, stage: Option<&Stage>) -> Result<ExpectedValue, Outcome> {
    let fix = |m: &Masked| -> Result<Masked, Outcome> {
        Ok(Masked { bytes: Bytes(resolve_ifnames(&m.bytes.0, stage)?), mask: m.mask.clone() })
    };
    Ok(match e {
        ExpectedValue::Exact(m) => ExpectedValue::Exact(fix(m)?),
        ExpectedValue::Sum(m) => ExpectedValue::Sum(fix(m)?),
        ExpectedValue::PerCpu(ms) => ExpectedValue::PerCpu(ms.iter().map(fix).collect::<Result<_, _>>()?),
    })
}

/// Replaces interface-name placeholders (see `IFINDEX_PLACEHOLDER`) with the stage's ifindexes.
fn resolve_ifnames(bytes: &[u8], stage: Option<&Stage>) -> Result<Vec<u8>, Outcome> {
    let mut out = bytes.to_vec();
    for at in (0..out.len().saturating_sub(3)).step_by(4) {
        let word = u32::from_ne_bytes([out[at], out[at + 1], out[at + 2], out[at + 3]]) as u64;
        if (IFINDEX_PLACEHOLDER..IFINDEX_PLACEHOLDER + 4096).contains(&word) {
            let pos = (word - IFINDEX_PLACEHOLDER) as usize;
            let idx = stage.and_then(|s| s.order.get(pos).and_then(|n| s.ifindex.get(n))).ok_or_else(|| {
                Outcome::Error("an interface name in a map entry has no interface in the stage".into())
            })?;
            out[at..at + 4].copy_from_slice(&idx.to_ne_bytes());
        }
    }
    Ok(out)
}

fn test_run_error(e: std::io::Error, with_ctx: bool, source: &str) -> Outcome {
    if with_ctx && e.raw_os_error() == Some(libc::EINVAL) {
        if kernel_older_than(5, 15) {
            return Outcome::Skip(format!(
                "{source}: this kernel cannot pass an xdp_md context to test runs (needs 5.15)"
            ));
        }
        return Outcome::Error(format!(
            "{source}: the kernel refused the xdp_md context (EINVAL): the ingress interface must exist in the stage and the rx queue must be below its queue count"
        ));
    }
    Outcome::Error(format!("{source}: BPF_PROG_TEST_RUN failed: {e}"))
}

/// Whether the running kernel is older than `major.minor`.
pub fn kernel_older_than(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let (ma, mi) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (ma, mi) < (major, minor)
}
