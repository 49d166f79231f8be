//! `xdptest run --kernel K…`: the selected scenarios in disposable qemu VMs, one or more per kernel, all
//! at once within the `--jobs` budget; then the normal reports, per kernel.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use xdptest_compiler::Fixture;
use xdptest_runner::{ScenarioResult, Verdict};
use xdptest_vm::kernel::{self, Kernel, KernelSpec};
use xdptest_vm::{Event, KernelRun};

use super::run::Format;
use super::Outcome;
use crate::report::{human, json, junit, Tally};

/// `--kernel` values: `debian:6.1`, `debian:6.12`, a bzImage path.
pub fn parse_kernel(s: &str) -> Result<KernelSpec, String> {
    s.parse::<KernelSpec>().map_err(|e| e.to_string())
}

/// Finds (downloads, caches) and checks every kernel. Problems are printed; the outcome is then 2.
pub fn resolve_kernels(specs: &[KernelSpec]) -> Result<Vec<Kernel>, Outcome> {
    let cache = kernel::default_cache_dir();
    let mut out = Vec::new();
    for spec in specs {
        let k = kernel::resolve(spec, &cache, &mut |line| eprintln!("xdptest: {spec}: {line}")).map_err(|e| {
            eprintln!("error: {e}");
            Outcome::Error
        })?;
        match kernel::check_config(&k) {
            Ok(warnings) => {
                for w in warnings {
                    eprintln!("warning: {}: {w}", k.label);
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Err(Outcome::Error);
            }
        }
        out.push(k);
    }
    Ok(out)
}

/// The static guest binary, with a warning when it looks older than this xdptest.
pub fn guest_binary() -> Result<std::path::PathBuf, Outcome> {
    let g = xdptest_vm::guest_binary().map_err(|e| {
        eprintln!("error: {e}");
        Outcome::Error
    })?;
    let mtime = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(gt), Some(et)) = (mtime(&g), std::env::current_exe().ok().as_deref().and_then(mtime)) {
        if gt + Duration::from_secs(60) < et {
            eprintln!(
                "warning: the guest binary {} is older than this xdptest; rebuild it with scripts/build-guest",
                g.display()
            );
        }
    }
    Ok(g)
}

/// Progress while VMs boot and run: bars on a terminal, a line per VM start and end otherwise.
pub struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<usize, ProgressBar>>,
    labels: Mutex<HashMap<usize, String>>,
}

impl Progress {
    pub fn new() -> Progress {
        let multi = std::io::stderr().is_terminal().then(MultiProgress::new);
        Progress { multi, bars: Mutex::new(HashMap::new()), labels: Mutex::new(HashMap::new()) }
    }

    pub fn event(&self, e: Event) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        let mut labels = self.labels.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            Event::Booting { vm, kernel, shard, shards, scenarios } => {
                let label = if shards > 1 { format!("{kernel} [{}/{shards}]", shard + 1) } else { kernel };
                match &self.multi {
                    Some(m) => {
                        let bar = m.add(ProgressBar::new(scenarios as u64));
                        bar.set_style(
                            ProgressStyle::with_template("{prefix:>20} {bar:30} {pos}/{len} {msg} ({elapsed})")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                        bar.set_prefix(label.clone());
                        bar.set_message("booting");
                        bar.enable_steady_tick(Duration::from_millis(200));
                        bars.insert(vm, bar);
                    }
                    None => eprintln!("vm: {label}: booting ({})", super::count(scenarios, "scenario")),
                }
                labels.insert(vm, label);
            }
            Event::Started { vm, release } => {
                if let Some(b) = bars.get(&vm) {
                    b.set_message(format!("running on {release}"));
                }
            }
            Event::Result { vm } => {
                if let Some(b) = bars.get(&vm) {
                    b.inc(1);
                }
            }
            Event::Finished { vm, failure } => {
                let label = labels.get(&vm).cloned().unwrap_or_default();
                match (bars.get(&vm), failure) {
                    (Some(b), None) => b.finish_with_message("done"),
                    (Some(b), Some(f)) => b.abandon_with_message(format!("failed: {f}")),
                    (None, None) => eprintln!("vm: {label}: done"),
                    (None, Some(f)) => eprintln!("vm: {label}: failed: {f}"),
                }
            }
        }
    }

    pub fn clear(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

/// `debian:6.1 (6.1.0-47-cloud-amd64, tcg)`.
pub fn kernel_title(k: &KernelRun) -> String {
    format!("{} ({}, {})", k.label, k.release, k.accel)
}

/// What `run --kernel` needs of the run arguments.
pub struct VmRun<'a> {
    pub kernels: &'a [KernelSpec],
    pub snapshots: crate::snapshot::Mode,
    pub jobs: Option<u16>,
    pub format: Format,
    pub junit: Option<&'a std::path::Path>,
}

/// Runs the fixtures in VMs and reports. `args.kernels` is not empty.
pub fn run(args: &VmRun, fixtures: Vec<Fixture>, palette: human::Palette) -> Outcome {
    let kernels = match resolve_kernels(args.kernels) {
        Ok(k) => k,
        Err(o) => return o,
    };
    let guest = match guest_binary() {
        Ok(g) => g,
        Err(o) => return o,
    };
    let mut opts = xdptest_vm::Options::new(guest);
    if let Some(j) = args.jobs {
        opts.jobs = usize::from(j);
    }
    // Snapshot reports need the maps read around each send, in the guest.
    let mut snapshots = crate::snapshot::Snapshots::new(&fixtures, args.snapshots);
    opts.dump_maps = snapshots.observe().dump_maps;
    let progress = Progress::new();
    let runs = xdptest_vm::run(&kernels, &fixtures, &opts, &|e| progress.event(e));
    progress.clear();
    let mut runs = match runs {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Error;
        }
    };
    // Every kernel's report is compared with the same snapshot: behaviour that differs between kernels
    // fails on the kernels that differ (a pending .snap.new holds the last differing report).
    let mut notes = Vec::new();
    for k in &mut runs {
        for (i, r) in k.results.iter_mut().enumerate() {
            if let Some(note) = snapshots.check(i, &fixtures[i], r) {
                notes.push(format!("{}: {}::{}: {note}", k.label, r.spec, r.scenario));
            }
        }
    }
    if let Ok(q) = xdptest_vm::qemu::qemu_binary() {
        if let (xdptest_vm::qemu::Accel::Tcg, Some(why)) = xdptest_vm::qemu::accel(&q) {
            eprintln!("note: VMs run under TCG (software emulation), not KVM: {why}");
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut total = Tally::default();
    let mut write_failed = false;
    for k in &runs {
        let mut tally = Tally::default();
        for r in &k.results {
            tally.add(r);
            total.add(r);
        }
        let w = match args.format {
            Format::Human => write_human(&mut out, k, tally, palette),
            Format::Json => k
                .results
                .iter()
                .try_for_each(|r| json::write_vm_result(&mut out, r, &k.label, &k.release, &k.accel.to_string())),
        };
        write_failed |= w.is_err();
        if args.format == Format::Json {
            for f in &k.failures {
                eprintln!("error: VM on {} failed: {}", k.label, f.reason);
            }
        }
    }
    for note in &notes {
        let _ = match args.format {
            Format::Human => human::write_note(&mut out, note, palette),
            Format::Json => writeln!(std::io::stderr(), "{note}"),
        };
    }
    if args.format == Format::Human {
        let _ = human::write_summary(&mut out, total, palette);
    } else {
        let _ = human::write_summary(&mut std::io::stderr(), total, human::Palette { enabled: false });
    }
    let _ = out.flush();
    if let Some(line) = snapshots.summary() {
        eprintln!("{line}");
    }
    if let Some(path) = args.junit {
        let suites: Vec<junit::KernelSuite> = runs
            .iter()
            .map(|k| junit::KernelSuite { name: kernel_title(k), results: &k.results, output: failure_text(k) })
            .collect();
        if let Err(e) = super::run::write_atomically(path, junit::render_kernels("xdptest", &suites).as_bytes()) {
            eprintln!("error: cannot write the JUnit report {}: {e}", path.display());
            return Outcome::Error;
        }
    }
    if write_failed {
        return Outcome::Error;
    }
    let all: Vec<ScenarioResult> = runs.into_iter().flat_map(|k| k.results).collect();
    super::run::outcome(&all)
}

/// VM failures with the end of their consoles, and guest notes.
fn failure_text(k: &KernelRun) -> String {
    let mut s = String::new();
    for n in &k.notes {
        s += &format!("note: {n}\n");
    }
    for f in &k.failures {
        s += &format!("VM failed: {}\n", f.reason);
        if !f.console.trim().is_empty() {
            s += &format!("console (last 40 lines):\n{}\n", xdptest_vm::qemu::console_tail(&f.console, 40));
        }
    }
    s
}

fn write_human(out: &mut impl Write, k: &KernelRun, tally: Tally, p: human::Palette) -> std::io::Result<()> {
    let boots: Vec<String> = k.vms.iter().filter_map(|v| v.boot).map(|b| format!("{:.1} s", b.as_secs_f64())).collect();
    let booted = if boots.is_empty() { String::new() } else { format!(", booted in {}", boots.join(", ")) };
    writeln!(out, "{}", p.bold(&format!("== {}{booted}", kernel_title(k))))?;
    for r in &k.results {
        // A failed VM is reported once below, not once per scenario.
        if matches!(&r.verdict, Verdict::Error { message } if !k.failures.is_empty() && message.starts_with("VM on ")) {
            writeln!(out, "{} {}::{}", p.red(" ERROR"), r.spec, r.scenario)?;
            continue;
        }
        human::write_result(out, r, p)?;
    }
    for line in failure_text(k).lines() {
        writeln!(out, "        {line}")?;
    }
    let line = format!(
        "{}: {} passed, {} failed, {} skipped",
        k.label,
        tally.passed,
        tally.failed + tally.errors,
        tally.skipped
    );
    writeln!(out, "{}", if tally.failed + tally.errors > 0 { p.red(&line) } else { p.green(&line) })
}
