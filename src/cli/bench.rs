//! `xdptest bench`: how long the kernel takes per packet for each `send` of each scenario, and how
//! much the verifier checked per program, with a baseline to compare against in CI.
//!
//! Figures are the kernel's own (`BPF_PROG_TEST_RUN`'s duration), never wall-clock time around a
//! syscall. A program that leaves the packet and its maps as they were takes the same path on every
//! iteration, so one test run repeats it `--repeat` times; any other program is timed in fresh runs,
//! each from the state before the send (maps restored) on the original packet, because repeated
//! iterations would run on the buffer and maps the previous one changed and time another path.
//! Every timed run must give the scenario's action and output, or its figure is left out and
//! counted as diverged. Which of the two a figure is, is part of the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};
use xdptest_runner::select::select;
use xdptest_runner::verdict::TimingMode;
use xdptest_runner::{Observe, RunOptions, Timing, Verdict};

use super::{default_paths, load_suite};
use crate::outcome::{count, Outcome};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Spec files or directories (searched recursively for .pkt files). Default: specs/
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub select: super::selection::SelectArgs,
    /// Timed runs per send (the spread is over these).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub samples: u32,
    /// Iterations per timed run, for programs whose every iteration takes the same path.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub repeat: u32,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = super::run::Format::Human)]
    pub format: super::run::Format,
    /// Store the figures as baseline NAME (in `.xdptest/bench/NAME.json` under the current directory).
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Compare with baseline NAME: exit 1 when a send got slower, or a program's verified
    /// instructions grew, by more than --max-regression.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// How much worse than the baseline is a regression, in percent (`10` or `10%`).
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_percent)]
    pub max_regression: f64,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let n: f64 =
        s.strip_suffix('%').unwrap_or(s).trim().parse().map_err(|_| format!("`{s}` is not a percentage like 10%"))?;
    if !(0.0..=10_000.0).contains(&n) {
        return Err(format!("{s} is not between 0% and 10000%"));
    }
    Ok(n)
}

/// Differences below this many nanoseconds are timer noise, whatever their ratio (the kernel's
/// clock steps by about 10 ns for one iteration).
const NOISE_NS: f64 = 10.0;

/// The figures of one send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendFigures {
    /// `SPEC::SCENARIO#N`: the scenario's N-th send.
    pub id: String,
    pub program: String,
    pub mode: TimingMode,
    pub samples: usize,
    pub diverged: u32,
    /// The mean of the middle half of the figures: what is compared (the kernel's clock has a
    /// coarse step for one iteration, which a median keeps and this averages out).
    pub ns: f64,
    pub median_ns: f64,
    pub min_ns: f64,
    pub p90_ns: f64,
}

/// What a baseline file holds (and `--format json` prints, record by record).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u32,
    /// The kernel the figures come from (`uname -r`).
    pub kernel: String,
    pub sends: Vec<SendFigures>,
    /// Verified instructions per program (`OBJECT:PROGRAM`).
    pub verified_insns: BTreeMap<String, u32>,
    /// What an XDP_PASS-only program times, fresh and repeated (the timer's share of each figure).
    #[serde(default)]
    pub floor_ns: Option<(f64, f64)>,
}

pub fn run(args: BenchArgs) -> Outcome {
    let paths = default_paths(args.paths.clone());
    let sel = match super::config::for_paths(&paths).and_then(|(config, _)| args.select.selection(&config)) {
        Ok(s) => s,
        Err(o) => return o,
    };
    for name in args.save_baseline.iter().chain(&args.baseline) {
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.starts_with('.')
        {
            errln!("error: baseline name `{name}`: use letters, digits, `-`, `_` and `.`");
            return Outcome::Error;
        }
    }
    let base = match &args.baseline {
        None => None,
        Some(name) => match read_baseline(&baseline_path(name)) {
            Ok(b) => Some(b),
            Err(e) => {
                errln!("error: baseline {name}: {e}");
                return Outcome::Error;
            }
        },
    };
    let (_, suite) = match load_suite(&paths) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let fixtures: Vec<_> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    let (total, names_all) = (fixtures.len(), super::selection::names(&fixtures));
    let fixtures = select(fixtures, &sel);
    if fixtures.is_empty() {
        return super::selection::nothing_selected(&sel, &names_all, total);
    }
    let timing = Timing { samples: args.samples, repeat: args.repeat };
    let floor = match xdptest_runner::timing_floor(timing) {
        Ok(f) => f,
        Err(os) => {
            errln!("error: cannot time a test run: {os}");
            return Outcome::Error;
        }
    };
    let cancel = crate::session::cancel_on_signals();
    // One worker: figures from one CPU, with nothing else of ours running beside them.
    let opts = RunOptions { jobs: 1, cancel: cancel.clone() };
    let observe = Observe { timing: Some(timing), ..Observe::default() };
    let mut figures = Baseline { version: 1, kernel: kernel_release(), floor_ns: Some(floor), ..Baseline::default() };
    let mut not_timed: Vec<(String, String)> = Vec::new();
    // Sends that ran and passed but cannot be timed (not a failure).
    let mut untimed: Vec<(String, String)> = Vec::new();
    xdptest_runner::run_results(&fixtures, &opts, &observe, |index, result| {
        let f = &fixtures[index];
        let name = format!("{}::{}", f.spec, f.scenario);
        match &result.verdict {
            Verdict::Pass => {}
            Verdict::Fail { .. } => {
                not_timed.push((name.clone(), "the scenario fails: fix it before timing it".into()))
            }
            Verdict::Error { error } => not_timed.push((name.clone(), error.to_string())),
            Verdict::Skip { reason } => not_timed.push((name.clone(), reason.to_string())),
        }
        if !matches!(result.verdict, Verdict::Pass) {
            return;
        }
        for (n, run) in result.runs.iter().enumerate() {
            let Some(t) = &run.timing else { continue };
            if let Some(why) = &t.unavailable {
                untimed.push((format!("{name}#{}", n + 1), why.clone()));
                continue;
            }
            let program = f.program.name.clone();
            if let Some(v) = t.verified_insns {
                figures
                    .verified_insns
                    .insert(format!("{}:{}", crate::doc::page::tidy_path(&f.program.object), program), v);
            }
            let mut ns: Vec<f64> = t.ns.iter().map(|x| f64::from(*x)).collect();
            ns.sort_by(f64::total_cmp);
            let at = |q: f64| ns.get(((ns.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
            figures.sends.push(SendFigures {
                id: format!("{name}#{}", n + 1),
                program,
                mode: t.mode,
                samples: ns.len(),
                diverged: t.diverged,
                ns: middle_mean(&ns),
                median_ns: at(0.5),
                min_ns: ns.first().copied().unwrap_or(f64::NAN),
                p90_ns: at(0.9),
            });
        }
    });
    if cancel.is_cancelled() {
        errln!("interrupted: nothing saved");
        return Outcome::Interrupted;
    }
    let regressions = base.as_ref().map(|b| compare(b, &figures, args.max_regression)).unwrap_or_default();
    match args.format {
        super::run::Format::Human => human(&args, &figures, &not_timed, &untimed, base.as_ref(), &regressions),
        super::run::Format::Json => json(&figures, &not_timed, &untimed, &regressions),
    }
    if let Some(name) = &args.save_baseline {
        let path = baseline_path(name);
        let text = serde_json::to_string_pretty(&figures).expect("figures serialise") + "\n";
        if let Err(e) = write_atomically(&path, text.as_bytes()) {
            errln!("error: cannot save baseline {}: {e}", path.display());
            return Outcome::Error;
        }
        errln!("saved baseline {name} ({})", path.display());
    }
    if !regressions.is_empty() || !not_timed.is_empty() {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}

/// The mean of the middle half of sorted figures (all of them when there are fewer than 4).
fn middle_mean(sorted: &[f64]) -> f64 {
    let q = if sorted.len() < 4 { 0 } else { sorted.len() / 4 };
    let mid = &sorted[q..sorted.len() - q];
    if mid.is_empty() {
        return f64::NAN;
    }
    mid.iter().sum::<f64>() / mid.len() as f64
}

/// Where baseline `name` lives.
fn baseline_path(name: &str) -> PathBuf {
    Path::new(".xdptest/bench").join(format!("{name}.json"))
}

fn read_baseline(path: &Path) -> Result<Baseline, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let b: Baseline = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.version != 1 {
        return Err(format!("{}: version {} (this xdptest reads version 1)", path.display(), b.version));
    }
    Ok(b)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".xdptest-bench-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot create a file in {}: {}", dir.display(), e.kind()))
        })?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map(|_| ()).map_err(|e| e.error)
}

fn kernel_release() -> String {
    xdptest_runner::Target::host().release
}

/// One figure that got worse than the baseline allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    /// A send's id, or `OBJECT:PROGRAM` for verified instructions.
    pub what: String,
    pub unit: &'static str,
    pub baseline: f64,
    pub now: f64,
}

/// The sends and programs of `now` worse than in `base` by more than `max_pct` percent (and, for
/// times, by more than [`NOISE_NS`], with even the fastest timed run slower than the baseline's
/// 90th percentile).
pub fn compare(base: &Baseline, now: &Baseline, max_pct: f64) -> Vec<Regression> {
    let limit = 1.0 + max_pct / 100.0;
    let mut out = Vec::new();
    for s in &now.sends {
        let Some(b) = base.sends.iter().find(|b| b.id == s.id) else { continue };
        // Apart, not only worse on average: the fastest run now is slower than most runs then (a
        // busy machine shifts a few runs, not all of them).
        if s.ns > b.ns * limit && s.ns - b.ns > NOISE_NS && s.min_ns > b.p90_ns {
            out.push(Regression { what: s.id.clone(), unit: "ns/packet", baseline: b.ns, now: s.ns });
        }
    }
    for (program, &v) in &now.verified_insns {
        let Some(&b) = base.verified_insns.get(program) else { continue };
        if f64::from(v) > f64::from(b) * limit {
            out.push(Regression { what: program.clone(), unit: "verified insns", baseline: b.into(), now: v.into() });
        }
    }
    out
}

fn human(
    args: &BenchArgs,
    figures: &Baseline,
    not_timed: &[(String, String)],
    untimed: &[(String, String)],
    base: Option<&Baseline>,
    regressions: &[Regression],
) {
    outln!(
        "xdptest bench: {}, {} timed runs each (×{} in repeat mode), on {}",
        count(figures.sends.len(), "send"),
        args.samples,
        args.repeat,
        figures.kernel
    );
    for s in &figures.sends {
        let mode = match s.mode {
            TimingMode::Repeat => "repeat",
            TimingMode::Fresh => "fresh",
        };
        let diverged = if s.diverged > 0 { format!(", {} diverged", s.diverged) } else { String::new() };
        let vs = base
            .and_then(|b| b.sends.iter().find(|b| b.id == s.id))
            .map(|b| format!("  {:.2}× baseline", s.ns / b.ns))
            .unwrap_or_default();
        outln!("  {}", s.id);
        outln!(
            "  {:>8.1} ns/packet  (median {:.0}, min {:.0}, p90 {:.0}; {mode}{diverged}){vs}",
            s.ns,
            s.median_ns,
            s.min_ns,
            s.p90_ns
        );
    }
    for (program, v) in &figures.verified_insns {
        outln!("  {v:>9} verified instructions  {program}");
    }
    if let Some((fresh, repeat)) = figures.floor_ns {
        outln!("  floor: a program that only returns XDP_PASS times {fresh:.1} ns fresh, {repeat:.1} ns repeated");
    }
    for (name, why) in untimed.iter().chain(not_timed) {
        outln!("  not timed: {name}: {why}");
    }
    if let Some(b) = base {
        if b.kernel != figures.kernel {
            errln!(
                "warning: the baseline is from kernel {}, this is {}: the figures may not compare",
                b.kernel,
                figures.kernel
            );
        }
        if regressions.is_empty() {
            outln!("no regression beyond {}% against the baseline", args.max_regression);
        } else {
            outln!("{} beyond {}%:", count(regressions.len(), "regression"), args.max_regression);
            for r in regressions {
                outln!("  {}: {:.1} → {:.1} {} ({:.2}×)", r.what, r.baseline, r.now, r.unit, r.now / r.baseline);
            }
        }
    }
}

fn json(figures: &Baseline, not_timed: &[(String, String)], untimed: &[(String, String)], regressions: &[Regression]) {
    for s in &figures.sends {
        let mut v = serde_json::to_value(s).expect("figures serialise");
        v["type"] = "send".into();
        v["version"] = 1.into();
        outln!("{v}");
    }
    for (program, n) in &figures.verified_insns {
        outln!("{}", serde_json::json!({"type": "program", "version": 1, "program": program, "verified_insns": n}));
    }
    for (name, why) in untimed {
        outln!("{}", serde_json::json!({"type": "not_timed", "version": 1, "send": name, "reason": why}));
    }
    for (name, why) in not_timed {
        outln!("{}", serde_json::json!({"type": "not_timed", "version": 1, "scenario": name, "reason": why}));
    }
    for r in regressions {
        let mut v = serde_json::to_value(r).expect("regressions serialise");
        v["type"] = "regression".into();
        v["version"] = 1.into();
        outln!("{v}");
    }
    outln!(
        "{}",
        serde_json::json!({"type": "summary", "version": 1, "kernel": figures.kernel, "sends": figures.sends.len(),
            "not_timed": not_timed.len(), "regressions": regressions.len(),
            "floor_ns": figures.floor_ns.map(|(f, r)| serde_json::json!({"fresh": f, "repeat": r}))})
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(id: &str, ns: f64) -> SendFigures {
        SendFigures {
            id: id.into(),
            program: "p".into(),
            mode: TimingMode::Fresh,
            samples: 3,
            diverged: 0,
            ns,
            median_ns: ns,
            min_ns: ns,
            p90_ns: ns,
        }
    }

    #[test]
    fn the_gate_trips_past_the_limit_and_not_on_noise() {
        let base = Baseline {
            version: 1,
            sends: vec![send("a#1", 100.0), send("b#1", 20.0), send("gone#1", 5.0)],
            verified_insns: [("o:p".to_string(), 1000)].into(),
            ..Baseline::default()
        };
        let now = Baseline {
            version: 1,
            sends: vec![send("a#1", 111.0), send("b#1", 29.0), send("new#1", 500.0)],
            verified_insns: [("o:p".to_string(), 1101)].into(),
            ..Baseline::default()
        };
        let r = compare(&base, &now, 10.0);
        let what: Vec<&str> = r.iter().map(|r| r.what.as_str()).collect();
        // 111 > 110 trips; 29 vs 20 is 45% but only 9 ns: noise; new sends have nothing to compare.
        assert_eq!(what, ["a#1", "o:p"]);
        assert!(compare(&base, &now, 20.0).iter().all(|r| r.what != "a#1"));
        assert_eq!(parse_percent("10%"), Ok(10.0));
        assert!(parse_percent("ten").is_err() && parse_percent("-1").is_err() && parse_percent("10%%").is_err());
        assert_eq!(middle_mean(&[1.0, 10.0, 10.0, 10.0, 10.0, 100.0, 100.0, 1000.0]), 32.5);
        assert_eq!(middle_mean(&[3.0]), 3.0);
    }
}
