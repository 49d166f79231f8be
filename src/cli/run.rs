//! `xdptest run`: compile the specs, select scenarios, run them on this kernel, report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use xdptest_runner::select::{select, Partition};
use xdptest_runner::{RunOptions, ScenarioResult, Verdict};

use super::{default_paths, load_suite, Outcome};
use crate::report::{human, json, junit, Tally};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Spec files or directories (searched recursively for .pkt files). Default: specs/
    pub paths: Vec<PathBuf>,
    /// Run only scenarios whose `SPEC::SCENARIO` name contains this text (repeatable: any may match).
    #[arg(long, short = 'f', value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Run one shard of the suite: `I/N` or `count:I/N` (round-robin), `hash:I/N` (stable by name).
    #[arg(long, value_name = "I/N", value_parser = parse_partition)]
    pub partition: Option<Partition>,
    /// Worker threads (each loads its own copy of the programs). Default: the number of CPUs.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Colours in human output: auto (when a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Snapshot reports (snapshots/<spec>__<scenario>.snap beside each spec): check (compare scenarios that
    /// say `expect snapshot` or have one), update (accept differing and missing ones), new (propose one
    /// for every scenario as .snap.new), off. With --kernel, every kernel's report is compared with the
    /// same snapshot.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = crate::snapshot::Mode::Check)]
    pub snapshots: crate::snapshot::Mode,
    /// Accept new and changed snapshots: the same as --snapshots=update.
    #[arg(long, conflicts_with = "snapshots")]
    pub accept: bool,
    /// Also write every packet sent and every packet the program returned to FILE (pcapng), each with a
    /// comment naming its spec, scenario, send and verdict. Not with --kernel yet.
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
    pub pcap: Option<PathBuf>,
    /// Run in a disposable qemu VM on this kernel instead of the host's: `debian:6.1`, `debian:6.12` (a
    /// Debian cloud kernel, downloaded and cached) or the path of a bzImage. Repeatable: every kernel
    /// runs the suite, all at once within --jobs vCPUs.
    #[arg(long, value_name = "KERNEL", value_parser = super::vm::parse_kernel)]
    pub kernel: Vec<xdptest_vm::kernel::KernelSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per scenario, details for failures, a summary line.
    Human,
    /// One JSON object per scenario per line.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

fn parse_partition(s: &str) -> Result<Partition, String> {
    s.parse()
}

pub fn run(args: RunArgs) -> Outcome {
    let paths = default_paths(args.paths);
    let (_, suite) = match load_suite(&paths) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let fixtures: Vec<_> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    let total = fixtures.len();
    let fixtures = select(fixtures, &args.filter, args.partition);
    if fixtures.is_empty() {
        eprintln!("error: no scenario matches (out of {total}); check --filter and --partition");
        return Outcome::Error;
    }
    let palette = human::Palette {
        enabled: match args.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        },
    };
    let mode = if args.accept { crate::snapshot::Mode::Update } else { args.snapshots };
    if !args.kernel.is_empty() {
        let vm_args = super::vm::VmRun {
            snapshots: mode,
            kernels: &args.kernel,
            jobs: args.jobs,
            format: args.format,
            junit: args.junit.as_deref(),
        };
        return super::vm::run(&vm_args, fixtures, palette);
    }
    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut tally = Tally::default();
    let mut results: Vec<ScenarioResult> = Vec::with_capacity(fixtures.len());
    let mut write_failed = false;
    let mut human = human::Human::new(palette);
    let mut snapshots = crate::snapshot::Snapshots::new(&fixtures, mode);
    let mut capture = args.pcap.as_ref().map(|_| crate::report::pcap::Capture::default());
    let observe = snapshots.observe();
    xdptest_runner::run_observing(&fixtures, &RunOptions { jobs }, &observe, |idx, mut r| {
        let note = snapshots.check(idx, &fixtures[idx], &mut r);
        if let Some(c) = &mut capture {
            c.add(&r);
        }
        tally.add(&r);
        let w = match args.format {
            Format::Human => human.write_result(&mut out, &r),
            Format::Json => json::write_result(&mut out, &r),
        };
        write_failed |= w.is_err();
        if let Some(note) = note {
            let _ = match args.format {
                Format::Human => human::write_note(&mut out, &note.to_string(), palette),
                Format::Json => writeln!(std::io::stderr(), "{}::{}: {note}", r.spec, r.scenario),
            };
        }
        results.push(r);
    });
    if args.format == Format::Human {
        let _ = human::write_summary(&mut out, tally, palette);
    } else {
        let _ = human::write_summary(&mut std::io::stderr(), tally, human::Palette { enabled: false });
    }
    let _ = out.flush();
    if let Some(line) = snapshots.summary() {
        eprintln!("{line}");
    }
    if let (Some(path), Some(capture)) = (&args.pcap, &capture) {
        let written = capture.bytes().and_then(|b| {
            write_atomically(path, &b)
                .and_then(|()| std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644)))
                .map_err(|e| e.to_string())
        });
        if let Err(e) = written {
            eprintln!("error: cannot write the capture {}: {e}", path.display());
            return Outcome::Error;
        }
    }
    if let Some(path) = &args.junit {
        if let Err(e) = write_atomically(path, junit::render("xdptest", &results).as_bytes()) {
            eprintln!("error: cannot write the JUnit report {}: {e}", path.display());
            return Outcome::Error;
        }
    }
    if write_failed {
        return Outcome::Error;
    }
    outcome(&results)
}

/// Environment problems (a scenario that could not run) outrank test failures.
pub(super) fn outcome(results: &[ScenarioResult]) -> Outcome {
    if results.iter().any(|r| matches!(r.verdict, Verdict::Error { .. })) {
        Outcome::Error
    } else if results.iter().any(|r| matches!(r.verdict, Verdict::Fail { .. })) {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}

/// Writes beside the target, then renames: readers never see half a report.
pub(super) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
