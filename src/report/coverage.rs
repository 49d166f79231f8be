//! `run --coverage`: what the scenarios reached of each program, from the counts the runner measured
//! (per scenario, per target) read through the program's coverage plan, which is rebuilt here from the
//! object. Writes an lcov tracefile (`lcov.info`: `FN`, `DA`, `BRDA` records for `genhtml`) and a JSON
//! summary per scenario and program (`coverage.json`), prints a summary per program with the verdict
//! paths no scenario reached, and gates the run on `--min-coverage`.
//!
//! Lines the verifier removed as dead code are not counted as lines (they cannot run on that kernel)
//! and are listed apart; a scenario whose coverage is unavailable covers nothing and is listed with
//! its reason.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use xdptest_compiler::fixture::Program;
use xdptest_runner::coverage::{Plan, Returns, ScenarioCoverage, SourceLine};
use xdptest_runner::RunEvent;

use super::{RunView, Summary};

/// `--min-coverage lines=80,branches=60,verdicts=100`: percentages a run must reach.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds {
    pub lines: Option<f64>,
    pub branches: Option<f64>,
    pub verdicts: Option<f64>,
}

impl std::str::FromStr for Thresholds {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut t = Thresholds::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!("`{part}`: expected KIND=PERCENT, e.g. lines=80 (kinds: lines, branches, verdicts)")
            })?;
            let pct: f64 = value
                .trim()
                .trim_end_matches('%')
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=100.0).contains(p))
                .ok_or_else(|| format!("`{part}`: the percentage must be a number from 0 to 100"))?;
            let slot = match key.trim() {
                "lines" => &mut t.lines,
                "branches" => &mut t.branches,
                "verdicts" => &mut t.verdicts,
                other => {
                    return Err(format!("`{other}`: not a kind of coverage (expected lines, branches or verdicts)"))
                }
            };
            *slot = Some(pct);
        }
        if t == Thresholds::default() {
            return Err("give at least one KIND=PERCENT, e.g. lines=80".into());
        }
        Ok(t)
    }
}

/// One scenario's coverage as it arrived.
struct Arrived {
    target: String,
    index: usize,
    coverage: ScenarioCoverage,
}

/// Collects coverage from run events; [`Collector::finish`] reports it.
pub struct Collector {
    dir: PathBuf,
    thresholds: Option<Thresholds>,
    arrived: Vec<Arrived>,
}

/// Counts of one kind: reached of total.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Ratio {
    pub hit: usize,
    pub total: usize,
}

impl Ratio {
    fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.hit as f64 / self.total as f64
        }
    }

    fn add(&mut self, o: Ratio) {
        self.hit += o.hit;
        self.total += o.total;
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1}% ({}/{})", self.percent(), self.hit, self.total)
    }
}

/// What a set of counts reached of one program.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reach {
    pub lines: Ratio,
    pub branches: Ratio,
    pub functions: Ratio,
    pub verdicts: Ratio,
}

/// A program's plan and everything counted in it.
struct ProgramReport {
    object: String,
    plan: Plan,
    /// Counters summed over every measured scenario and target.
    counts: Vec<u64>,
    /// What the verifier removed as dead code (on some target), never executed anywhere.
    dead: Dead,
    /// Per verdict path: reached by some scenario.
    reached: Vec<bool>,
    /// Scenarios (per target) that ran it with counters.
    scenarios: usize,
    /// The C source files as found from here, by the name the object records.
    sources: BTreeMap<String, String>,
}

impl Collector {
    pub fn new(dir: PathBuf, thresholds: Option<Thresholds>) -> Collector {
        Collector { dir, thresholds, arrived: Vec::new() }
    }

    pub fn event(&mut self, e: &RunEvent, view: &RunView) {
        if let RunEvent::Finished { target, index, result } = e {
            if let Some(c) = &result.coverage {
                self.arrived.push(Arrived {
                    target: view.label(*target).to_string(),
                    index: *index,
                    coverage: c.clone(),
                });
            }
        }
    }

    /// Writes the reports, prints the summary to `out`; `Ok(false)` when a threshold was missed.
    pub fn finish(&self, view: &RunView, _summary: &Summary, out: &mut dyn std::io::Write) -> Result<bool, String> {
        let mut programs: BTreeMap<(String, String), ProgramReport> = BTreeMap::new();
        let mut plan_errors: BTreeMap<String, String> = BTreeMap::new();
        // Plans per distinct program of the suite.
        let mut seen: Vec<&Program> = Vec::new();
        for f in view.fixtures {
            if seen.iter().any(|p| p.same_load(&f.program)) {
                continue;
            }
            seen.push(&f.program);
            let p = &f.program;
            match xdptest_runner::coverage::plan_for(p) {
                Ok(plans) => {
                    for plan in plans {
                        let key = (p.object.clone(), plan.program.clone());
                        programs.entry(key).or_insert_with(|| ProgramReport {
                            object: p.object.clone(),
                            counts: vec![0; plan.counters()],
                            reached: vec![false; plan.verdicts.len()],
                            dead: Dead::default(),
                            scenarios: 0,
                            sources: sources_of(&plan, p),
                            plan,
                        });
                    }
                }
                Err(e) => {
                    plan_errors.insert(format!("{} in {}", p.name, p.object), e);
                }
            }
        }
        let mut scenarios = Vec::new();
        let mut unavailable = Vec::new();
        for a in &self.arrived {
            let f = &view.fixtures[a.index];
            let mut json = ScenarioJson {
                target: &a.target,
                spec: &f.spec,
                scenario: &f.scenario,
                unavailable: None,
                programs: BTreeMap::new(),
            };
            match &a.coverage {
                ScenarioCoverage::Unavailable { reason } => {
                    json.unavailable = Some(reason.to_string());
                    unavailable.push(format!("{} :: {} [{}]: {reason}", f.spec, f.scenario, a.target));
                }
                ScenarioCoverage::Measured { programs: counted } => {
                    for (name, pc) in counted {
                        let Some(r) = programs.get_mut(&(f.program.object.clone(), name.clone())) else { continue };
                        let dense = pc.dense(r.plan.counters());
                        if dense.iter().any(|&c| c > 0) {
                            r.scenarios += 1;
                        }
                        for (sum, c) in r.counts.iter_mut().zip(&dense) {
                            *sum += c;
                        }
                        let dead = Dead::of(&r.plan, pc.removed.clone());
                        r.dead.counters.extend(&pc.removed);
                        let reached: Vec<bool> = r.plan.verdict_counts(&dense).iter().map(|&c| c > 0).collect();
                        for (all, this) in r.reached.iter_mut().zip(&reached) {
                            *all |= *this;
                        }
                        json.programs.insert(name.clone(), reach(&r.plan, &dense, &dead, &reached));
                    }
                }
            }
            scenarios.push(json);
        }
        // Code that ran somewhere was not dead everywhere.
        for r in programs.values_mut() {
            let mut counters = std::mem::take(&mut r.dead.counters);
            counters.sort_unstable();
            counters.dedup();
            counters.retain(|&c| r.counts.get(c as usize).copied().unwrap_or(0) == 0);
            r.dead = Dead::of(&r.plan, counters);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let lcov_path = self.dir.join("lcov.info");
        let json_path = self.dir.join("coverage.json");
        super::write_atomically(&lcov_path, lcov(&programs).as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", lcov_path.display()))?;
        let summary_json = CoverageJson {
            version: 1,
            programs: programs.values().map(ProgramJson::of).collect(),
            scenarios,
            unavailable_plans: plan_errors.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
        };
        let mut text = serde_json::to_string_pretty(&summary_json).map_err(|e| e.to_string())?;
        text.push('\n');
        super::write_atomically(&json_path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;

        let mut total = Reach::default();
        let mut s = format!("coverage: {} and {}\n", lcov_path.display(), json_path.display());
        for r in programs.values() {
            let reach = reach(&r.plan, &r.counts, &r.dead, &r.reached);
            let _ = writeln!(s, "  {} ({})", r.plan.program, tidy(&r.object));
            let _ = writeln!(
                s,
                "    lines {}, branches {}, verdict paths {}/{}",
                reach.lines, reach.branches, reach.verdicts.hit, reach.verdicts.total
            );
            // Paths that read alike (two places on one line) are said once, with how many they are.
            let mut unreached: Vec<(String, usize)> = Vec::new();
            for (path, _) in r.plan.verdicts.iter().zip(&r.reached).filter(|(_, hit)| !**hit) {
                let text = verdict_text(&r.plan, path);
                match unreached.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, n)) => *n += 1,
                    None => unreached.push((text, 1)),
                }
            }
            for (text, n) in unreached {
                let places = if n > 1 { format!(" ({n} places)") } else { String::new() };
                s.push_str(&wrap(&format!("{text}{places} is never reached"), 4));
            }
            if !r.dead.lines.is_empty() {
                let lines: Vec<String> = r.dead.lines.iter().map(|l| format!("{}:{}", base(&l.file), l.line)).collect();
                s.push_str(&wrap(&format!("removed by the verifier as dead code: {}", lines.join(", ")), 4));
            }
            total.lines.add(reach.lines);
            total.branches.add(reach.branches);
            total.verdicts.add(reach.verdicts);
        }
        if programs.len() > 1 {
            let _ = writeln!(
                s,
                "  all programs: lines {}, branches {}, verdict paths {}/{}",
                total.lines, total.branches, total.verdicts.hit, total.verdicts.total
            );
        }
        for (what, why) in &plan_errors {
            s.push_str(&wrap(&format!("{what}: no coverage plan: {why}"), 2));
        }
        if !unavailable.is_empty() {
            let _ = writeln!(s, "  {} without coverage (they count as covering nothing):", count(unavailable.len()));
            for u in &unavailable {
                s.push_str(&wrap(u, 4));
            }
        }
        let mut passed = true;
        if let Some(t) = &self.thresholds {
            for (kind, want, got) in [
                ("lines", t.lines, total.lines),
                ("branches", t.branches, total.branches),
                ("verdict paths", t.verdicts, total.verdicts),
            ] {
                let Some(want) = want else { continue };
                if got.percent() + 1e-9 < want {
                    passed = false;
                    let _ = writeln!(s, "error: {kind} coverage {got} is below --min-coverage {want}%");
                }
            }
        }
        let _ = out.write_all(s.as_bytes());
        Ok(passed)
    }
}

/// `text` at `indent` spaces, broken at spaces to fit 86 columns (continuation lines indented 2 more).
fn wrap(text: &str, indent: usize) -> String {
    const WIDTH: usize = 86;
    let mut out = String::new();
    let mut line = " ".repeat(indent);
    let mut fresh = true;
    for word in text.split(' ') {
        if !fresh && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent + 2);
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 scenario".into()
    } else {
        format!("{n} scenarios")
    }
}

/// A path without `.` and `dir/..` steps (as written: nothing is resolved on disk).
pub fn tidy(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "." | "" if !out.is_empty() => {}
            ".." if out.last().is_some_and(|l| *l != ".." && !l.is_empty()) => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

fn base(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// The C files of a plan, found from here as the verifier report finds them.
fn sources_of(plan: &Plan, program: &Program) -> BTreeMap<String, String> {
    let files: BTreeSet<&String> = plan.lines.iter().map(|l| &l.file).collect();
    files
        .into_iter()
        .map(|f| {
            let mut recorded = program.facts.source_files.clone();
            recorded.push(f.clone());
            // Absolute, so that genhtml finds it from anywhere.
            let found = super::verifier::find_source(Path::new(&program.object), &recorded, base(f))
                .and_then(|p| p.canonicalize().ok())
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| f.clone());
            (f.clone(), found)
        })
        .collect()
}

/// Code the verifier removed: its counters, and the lines all of whose code is in it.
#[derive(Debug, Clone, Default)]
struct Dead {
    counters: Vec<u32>,
    lines: BTreeSet<SourceLine>,
}

impl Dead {
    fn of(plan: &Plan, counters: Vec<u32>) -> Dead {
        Dead { lines: plan.removed_lines(&counters), counters }
    }
}

/// Source lines with their execution count (the most any of their instructions ran), dead code left out.
fn line_counts(plan: &Plan, counts: &[u64], removed: &BTreeSet<SourceLine>) -> BTreeMap<SourceLine, u64> {
    let exec = plan.executions(counts);
    let mut out: BTreeMap<SourceLine, u64> = BTreeMap::new();
    for (i, line) in plan.insn_line.iter().enumerate() {
        let Some(l) = line.map(|l| &plan.lines[l]) else { continue };
        if removed.contains(l) {
            continue;
        }
        let e = out.entry(l.clone()).or_default();
        *e = (*e).max(exec[i]);
    }
    out
}

/// What `counts` reached of `plan`.
fn reach(plan: &Plan, counts: &[u64], dead: &Dead, reached: &[bool]) -> Reach {
    let lines = line_counts(plan, counts, &dead.lines);
    let exec = plan.executions(counts);
    let mut r = Reach {
        lines: Ratio { hit: lines.values().filter(|&&c| c > 0).count(), total: lines.len() },
        ..Reach::default()
    };
    // As lcov counts them: branches with a source line, ways into dead code left out.
    for (b, ways) in plan.branches.iter().zip(plan.branch_counts(counts, &dead.counters)) {
        if plan.insn_line[b.insn].is_none() {
            continue;
        }
        for c in ways.into_iter().flatten() {
            r.branches.total += 1;
            r.branches.hit += usize::from(c > 0);
        }
    }
    r.functions = Ratio {
        hit: plan.functions.iter().filter(|f| exec.get(f.start).copied().unwrap_or(0) > 0).count(),
        total: plan.functions.len(),
    };
    r.verdicts = Ratio { hit: reached.iter().filter(|&&h| h).count(), total: reached.len() };
    r
}

/// `` `return XDP_ABORTED` at upf.c:212 `` (what the path returns, where the value is set).
fn verdict_text(plan: &Plan, v: &xdptest_runner::coverage::VerdictPath) -> String {
    let what = match v.returns {
        Returns::Constant(c) => match u32::try_from(c) {
            Ok(a) if a <= 4 => xdptest_compiler::fixture::action_name(a),
            _ => c.to_string(),
        },
        Returns::Helper(id) => format!("{}(…)", helper_name(id)),
        Returns::Computed => "a computed value".into(),
    };
    let at = match plan.insn_line.get(v.insn).copied().flatten() {
        Some(l) => format!("{}:{}", base(&plan.lines[l].file), plan.lines[l].line),
        // Code the compiler gave no line (a constant set in a shared exit block).
        None => match plan.function_of(v.insn) {
            Some(f) => format!("{}+{} (no source line)", f.name, v.insn - f.start),
            None => format!("instruction {}", v.insn),
        },
    };
    format!("`return {what}` at {at}")
}

/// Helpers whose result programs return as their action.
fn helper_name(id: i32) -> String {
    match id {
        12 => "bpf_tail_call".into(),
        23 => "bpf_redirect".into(),
        51 => "bpf_redirect_map".into(),
        _ => format!("helper {id}"),
    }
}

/// The lcov tracefile: one record per source file, its functions, lines and branches over every program.
fn lcov(programs: &BTreeMap<(String, String), ProgramReport>) -> String {
    #[derive(Default)]
    struct FileRecord {
        functions: BTreeMap<(u32, String), u64>,
        lines: BTreeMap<u32, u64>,
        /// (line, block, branch) → taken count, `None` when the branch's block never ran.
        branches: BTreeMap<(u32, usize, usize), Option<u64>>,
    }
    let mut files: BTreeMap<String, FileRecord> = BTreeMap::new();
    for (block_base, r) in programs.values().enumerate().map(|(i, r)| (i * 1_000_000, r)) {
        let exec = r.plan.executions(&r.counts);
        let path = |l: &SourceLine| r.sources.get(&l.file).cloned().unwrap_or_else(|| l.file.clone());
        for (l, c) in line_counts(&r.plan, &r.counts, &r.dead.lines) {
            *files.entry(path(&l)).or_default().lines.entry(l.line).or_default() += c;
        }
        for f in &r.plan.functions {
            let Some(l) = r.plan.insn_line.get(f.start).copied().flatten().map(|l| &r.plan.lines[l]) else { continue };
            *files.entry(path(l)).or_default().functions.entry((l.line, f.name.clone())).or_default() +=
                exec.get(f.start).copied().unwrap_or(0);
        }
        for (b, ways) in r.plan.branches.iter().zip(r.plan.branch_counts(&r.counts, &r.dead.counters)) {
            let Some(l) = r.plan.insn_line[b.insn].map(|l| &r.plan.lines[l]) else { continue };
            let ran = exec[b.insn] > 0;
            let rec = files.entry(path(l)).or_default();
            for (n, c) in ways.into_iter().enumerate() {
                let Some(c) = c else { continue };
                let slot = rec.branches.entry((l.line, block_base + b.block, n)).or_insert(None);
                if ran {
                    *slot = Some(slot.unwrap_or(0) + c);
                }
            }
        }
    }
    let mut out = String::from("TN:xdptest\n");
    for (file, rec) in files {
        let _ = writeln!(out, "SF:{file}");
        for (line, name) in rec.functions.keys() {
            let _ = writeln!(out, "FN:{line},{name}");
        }
        for ((_, name), c) in &rec.functions {
            let _ = writeln!(out, "FNDA:{c},{name}");
        }
        let _ = writeln!(out, "FNF:{}", rec.functions.len());
        let _ = writeln!(out, "FNH:{}", rec.functions.values().filter(|&&c| c > 0).count());
        for ((line, block, branch), c) in &rec.branches {
            let taken = c.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
            let _ = writeln!(out, "BRDA:{line},{block},{branch},{taken}");
        }
        let _ = writeln!(out, "BRF:{}", rec.branches.len());
        let _ = writeln!(out, "BRH:{}", rec.branches.values().filter(|c| c.is_some_and(|c| c > 0)).count());
        for (line, c) in &rec.lines {
            let _ = writeln!(out, "DA:{line},{c}");
        }
        let _ = writeln!(out, "LF:{}", rec.lines.len());
        let _ = writeln!(out, "LH:{}", rec.lines.values().filter(|&&c| c > 0).count());
        out.push_str("end_of_record\n");
    }
    out
}

#[derive(Serialize)]
struct CoverageJson<'a> {
    version: u32,
    programs: Vec<ProgramJson>,
    scenarios: Vec<ScenarioJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unavailable_plans: Vec<String>,
}

#[derive(Serialize)]
struct ScenarioJson<'a> {
    target: &'a str,
    spec: &'a str,
    scenario: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    programs: BTreeMap<String, Reach>,
}

#[derive(Serialize)]
struct ProgramJson {
    object: String,
    program: String,
    #[serde(flatten)]
    reach: Reach,
    scenarios: usize,
    verdict_paths: Vec<VerdictJson>,
    removed_by_verifier: Vec<String>,
    /// Source lines (`file:line`, the file as the object names it) that ran.
    executed_lines: Vec<String>,
    /// The program's functions: where each starts among its instruction slots, and how many it has.
    functions: Vec<FunctionJson>,
    /// Instruction slots (of the program as loaded, subprograms appended) that ran, as ranges.
    executed_insns: Vec<[usize; 2]>,
}

#[derive(Serialize)]
struct FunctionJson {
    name: String,
    start: usize,
    len: usize,
    calls: u64,
}

#[derive(Serialize)]
struct VerdictJson {
    /// `` `return XDP_DROP` at firewall.c:81 `` (as the summary says it).
    text: String,
    returns: String,
    insn: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<String>,
    reached: bool,
}

impl ProgramJson {
    fn of(r: &ProgramReport) -> ProgramJson {
        let exec = r.plan.executions(&r.counts);
        let mut executed_insns: Vec<[usize; 2]> = Vec::new();
        for (i, &c) in exec.iter().enumerate().filter(|(_, c)| **c > 0) {
            let _ = c;
            match executed_insns.last_mut() {
                Some(last) if last[1] == i => last[1] = i + 1,
                _ => executed_insns.push([i, i + 1]),
            }
        }
        ProgramJson {
            object: r.object.clone(),
            program: r.plan.program.clone(),
            reach: reach(&r.plan, &r.counts, &r.dead, &r.reached),
            scenarios: r.scenarios,
            verdict_paths: r
                .plan
                .verdicts
                .iter()
                .zip(&r.reached)
                .map(|(v, &reached)| VerdictJson {
                    text: verdict_text(&r.plan, v),
                    returns: match v.returns {
                        Returns::Constant(c) => c.to_string(),
                        Returns::Helper(id) => helper_name(id),
                        Returns::Computed => "computed".into(),
                    },
                    insn: v.insn,
                    line: r.plan.insn_line[v.insn]
                        .map(|l| format!("{}:{}", r.plan.lines[l].file, r.plan.lines[l].line)),
                    reached,
                })
                .collect(),
            removed_by_verifier: r.dead.lines.iter().map(|l| format!("{}:{}", l.file, l.line)).collect(),
            executed_lines: line_counts(&r.plan, &r.counts, &r.dead.lines)
                .into_iter()
                .filter(|(_, c)| *c > 0)
                .map(|(l, _)| format!("{}:{}", l.file, l.line))
                .collect(),
            functions: r
                .plan
                .functions
                .iter()
                .map(|f| FunctionJson {
                    name: f.name.clone(),
                    start: f.start,
                    len: f.end - f.start,
                    calls: exec.get(f.start).copied().unwrap_or(0),
                })
                .collect(),
            executed_insns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_wrapped_at_spaces() {
        let words = vec!["word"; 30].join(" ");
        let w = wrap(&words, 4);
        assert!(w.lines().all(|l| l.chars().count() <= 86), "{w}");
        assert!(w.lines().skip(1).all(|l| l.starts_with("      w")), "{w}");
        assert_eq!(w.split_whitespace().count(), 30);
        assert_eq!(wrap("short", 2), "  short\n");
    }

    #[test]
    fn paths_are_tidied_as_written() {
        assert_eq!(tidy("specs/counter/../../programs/build/counter.o"), "programs/build/counter.o");
        assert_eq!(tidy("./a/./b"), "./a/b");
        assert_eq!(tidy("../x/../y"), "../y");
        assert_eq!(tidy("/abs/./p"), "/abs/p");
    }

    #[test]
    fn thresholds_parse_and_refuse_with_reasons() {
        let t: Thresholds = "lines=80, branches=60%".parse().unwrap();
        assert_eq!(t, Thresholds { lines: Some(80.0), branches: Some(60.0), verdicts: None });
        assert!("lines".parse::<Thresholds>().unwrap_err().contains("KIND=PERCENT"));
        assert!("lines=120".parse::<Thresholds>().unwrap_err().contains("0 to 100"));
        assert!("paths=1".parse::<Thresholds>().unwrap_err().contains("not a kind"));
        assert!("".parse::<Thresholds>().is_err());
    }
}
