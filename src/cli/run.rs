//! `xdptest run`: compile the specs, select scenarios, resolve kernels, then hand the plan to the
//! [session](crate::session), which runs and reports.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use xdptest_runner::select::{select, Selection};

use super::{default_paths, load_suite_for_run};
use crate::outcome::Outcome;
use crate::session::{self, Plan};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Spec files or directories (searched recursively for .pkt files). Default: specs/
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub select: super::selection::SelectArgs,
    /// Run only the scenarios that failed in the last run from this directory (recorded under the cache
    /// directory, see the book), among those the paths select.
    #[arg(long, conflicts_with_all = ["filter", "partition"])]
    pub rerun_failed: bool,
    /// Stop at the first scenario that fails or cannot run (the same as --max-fail 1).
    #[arg(long, conflicts_with = "max_fail")]
    pub fail_fast: bool,
    /// Stop once N scenarios failed or could not run: those running finish, the rest are not run.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_fail: Option<u32>,
    /// Also show what passing scenarios printed with bpf_printk.
    #[arg(long, short = 'v', conflicts_with = "quiet")]
    pub verbose: bool,
    /// Show only failures and the summary (no line per passing scenario).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Worker threads (each loads its own copy of the programs). Default: the number of CPUs.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Measure line, branch and verdict-path coverage of every program (counters added to its
    /// instructions, each scenario run again through the counted copy and kept only when it did the
    /// same), and write DIR/lcov.info and DIR/coverage.json. Default DIR: .xdptest/coverage
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = ".xdptest/coverage")]
    pub coverage: Option<PathBuf>,
    /// Fail the run (exit 1) when coverage over all programs is below these percentages:
    /// lines=80,branches=60,verdicts=100 (any of them). Implies --coverage.
    #[arg(long, value_name = "KIND=PERCENT,...")]
    pub min_coverage: Option<crate::report::coverage::Thresholds>,
    /// Colours in human output: auto (a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces them),
    /// always, never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Snapshot reports (snapshots/<spec>__<scenario>.snap beside each spec): check (compare scenarios that
    /// say `expect snapshot` or have one), update (accept differing and missing ones), new (propose one
    /// for every scenario as .snap.new), off. With --kernel, every kernel's report is compared with the
    /// same snapshot.
    /// Default: check.
    #[arg(long, value_enum, value_name = "MODE")]
    pub snapshots: Option<crate::snapshot::Mode>,
    /// Snapshot files whose scenario is gone: warn (list them), reject (list them and fail the run),
    /// delete, ignore.
    /// Default: warn.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub unreferenced: Option<crate::snapshot::Unreferenced>,
    /// Accept new and changed snapshots: the same as --snapshots=update.
    #[arg(long, conflicts_with = "snapshots")]
    pub accept: bool,
    /// Also write every packet sent and every packet the program returned to FILE (pcapng), each with a
    /// comment naming its spec, scenario, send, verdict and (for VM runs) kernel.
    #[arg(long, value_name = "FILE")]
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
    /// JSON Lines: one record per line (see the book's JSON reference).
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    pub fn choice(self) -> anstream::ColorChoice {
        match self {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        }
    }
}

pub fn run(args: RunArgs) -> Outcome {
    let paths = default_paths(args.paths);
    // Defaults from xdptest.toml; what the command line gives wins.
    let (config, config_dir) = match super::config::for_paths(&paths) {
        Ok(c) => c,
        Err(o) => return o,
    };
    let sel = match args.select.selection(&config) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let kernel_specs = if args.kernel.is_empty() {
        let mut out = Vec::new();
        for k in &config.run.kernels {
            // A bzImage path in the file is relative to the file.
            let k = match (&config_dir, k.starts_with("debian:") || Path::new(k).is_absolute()) {
                (Some(dir), false) => dir.join(k).display().to_string(),
                _ => k.clone(),
            };
            match super::vm::parse_kernel(&k) {
                Ok(spec) => out.push(spec),
                Err(e) => {
                    errln!("error: {}: [run] kernels: {e}", super::config::FILE);
                    return Outcome::Error;
                }
            }
        }
        out
    } else {
        args.kernel.clone()
    };
    let snapshots_mode = args.snapshots.or(config.run.snapshots).unwrap_or(crate::snapshot::Mode::Check);
    let unreferenced_rule =
        args.unreferenced.or(config.run.unreferenced).unwrap_or(crate::snapshot::Unreferenced::Warn);
    let (spec_paths, suite) = match load_suite_for_run(&paths) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let book_links = match (&config.doc.pages, &config_dir) {
        (Some(pages), Some(dir)) => crate::doc::section_links(&dir.join(pages), &spec_paths, &suite.specs),
        _ => Default::default(),
    };
    let fixtures: Vec<_> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    let total = fixtures.len();
    let names_all = super::selection::names(&fixtures);
    let orphan_rule = if snapshots_mode == crate::snapshot::Mode::Off {
        crate::snapshot::Unreferenced::Ignore
    } else {
        unreferenced_rule
    };
    // Snapshots of every scenario of the specs, selected or not: the others belong to no scenario.
    let orphans = if orphan_rule == crate::snapshot::Unreferenced::Ignore {
        Vec::new()
    } else {
        let referenced: std::collections::HashSet<_> =
            fixtures.iter().map(|f| crate::snapshot::path_for(&f.spec, &f.scenario)).collect();
        let mut specs: Vec<&str> = fixtures.iter().map(|f| f.spec.as_str()).collect();
        specs.dedup();
        crate::snapshot::unreferenced(&specs, &referenced)
    };
    let failures_file = super::rerun::file();
    let fixtures = if args.rerun_failed {
        let names = match super::rerun::recorded(&failures_file) {
            Ok(n) if n.is_empty() => {
                outln!("the last run from this directory had no failures: nothing to rerun");
                return Outcome::Ok;
            }
            Ok(n) => n,
            Err(e) => {
                errln!("error: --rerun-failed: {e}");
                return Outcome::Error;
            }
        };
        select(fixtures, &Selection::names(names))
    } else {
        select(fixtures, &sel)
    };
    if fixtures.is_empty() {
        return super::selection::nothing_selected(&sel, &names_all, total);
    }
    let (kernels, guest, timeout_scale) = if kernel_specs.is_empty() {
        (Vec::new(), None, 1.0)
    } else {
        let scale = match super::vm::timeout_scale() {
            Ok(s) => s,
            Err(o) => return o,
        };
        let kernels = match super::vm::resolve_kernels(&kernel_specs) {
            Ok(k) => k,
            Err(o) => return o,
        };
        match super::vm::guest_binary() {
            Ok(g) => (kernels, Some(g), scale),
            Err(o) => return o,
        }
    };
    let plan = Plan {
        fixtures,
        kernels,
        guest,
        jobs: args.jobs.or(config.run.jobs).map(usize::from),
        format: match args.format {
            Format::Human => session::Format::Human,
            Format::Json => session::Format::Json,
        },
        color: args.color.choice(),
        junit: args.junit,
        pcap: args.pcap,
        snapshots: if args.accept { crate::snapshot::Mode::Update } else { snapshots_mode },
        timeout_scale,
        max_fail: if args.fail_fast { Some(1) } else { args.max_fail.or(config.run.max_fail).map(|n| n as usize) },
        detail: match (args.verbose, args.quiet) {
            (true, _) => crate::report::human::Detail::Verbose,
            (_, true) => crate::report::human::Detail::Quiet,
            _ => crate::report::human::Detail::Full,
        },
        failures_file: Some(failures_file),
        book_links,
        coverage: match (args.coverage, args.min_coverage) {
            (None, None) => None,
            (dir, t) => Some((dir.unwrap_or_else(|| PathBuf::from(".xdptest/coverage")), t)),
        },
    };
    let outcome = session::run(plan);
    outcome.max(unreferenced(&orphans, orphan_rule, outcome))
}

/// Reports (or deletes) the snapshot files that belong to no scenario; the outcome they add.
fn unreferenced(orphans: &[PathBuf], what: crate::snapshot::Unreferenced, outcome: Outcome) -> Outcome {
    use crate::snapshot::Unreferenced;
    if orphans.is_empty() || what == Unreferenced::Ignore || outcome == Outcome::Interrupted {
        return Outcome::Ok;
    }
    if what == Unreferenced::Delete {
        for f in orphans {
            match std::fs::remove_file(f) {
                Ok(()) => errln!("deleted {} (its scenario is gone)", f.display()),
                Err(e) => errln!("warning: cannot delete {}: {e}", f.display()),
            }
        }
        return Outcome::Ok;
    }
    errln!(
        "{}: {} {} to no scenario (renamed or deleted); --unreferenced=delete removes {}:",
        if what == Unreferenced::Reject { "error" } else { "warning" },
        crate::outcome::count(orphans.len(), "snapshot file"),
        if orphans.len() == 1 { "belongs" } else { "belong" },
        if orphans.len() == 1 { "it" } else { "them" }
    );
    for f in orphans {
        errln!("  {}", f.display());
    }
    if what == Unreferenced::Reject {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}
