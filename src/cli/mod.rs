//! Subcommands and their shared plumbing (finding specs, printing diagnostics).

mod bench;
mod check;
mod compile;
mod completions;
pub mod config;
mod env;
mod explain;
mod import;
mod init;
mod list;
pub mod rerun;
mod review;
mod run;
mod selection;
mod vm;
mod vm_bench;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use xdptest_compiler::spec::FsLoader;
use xdptest_compiler::{suite, Diag, Suite};

use crate::outcome::{count, Outcome};

/// Declarative tests for XDP programs.
///
/// Write scenarios in `.pkt` files (packets layer by layer, the expected action, output packet and map
/// state), then check, compile or run them against the program through BPF_PROG_TEST_RUN.
#[derive(Debug, Parser)]
#[command(name = "xdptest", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Let specs read files (includes, objects) under DIR too. By default they read only inside the
    /// repository (the directory with `.git`) of the specs given, or else the specs' own directory.
    /// Repeatable; `XDPTEST_ALLOW_PATH` adds more (`:`-separated).
    #[arg(long = "allow-path", value_name = "DIR", global = true)]
    pub allow_path: Vec<PathBuf>,
}

/// Directories given with `--allow-path` and `XDPTEST_ALLOW_PATH`, set once by [`main`].
static ALLOWED: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and type-check specs; report every error with its location.
    Check(check::CheckArgs),
    /// Compile specs into fixtures: one RON file per scenario and one pcapng per spec.
    Compile(compile::CompileArgs),
    /// Run specs through the program on this kernel (BPF_PROG_TEST_RUN) and check every expectation.
    Run(run::RunArgs),
    /// Write a starter spec for a BPF object: its program line, its maps' layouts, one scenario.
    Init(init::InitArgs),
    /// Write a suite's scenarios as mdBook pages a reviewer can read (with --book, a whole book).
    Doc(crate::doc::DocArgs),
    /// Time each send of each scenario in the kernel (ns/packet) and report verified instructions;
    /// compare with a saved baseline.
    Bench(bench::BenchArgs),
    /// Turn a capture (pcap, pcapng) into packet definitions written in layers, one per frame.
    Import(import::ImportArgs),
    /// List the scenarios `run` would run with the same paths, --filter and --partition.
    List(list::ListArgs),
    /// Accept or reject pending snapshot reports (`*.snap.new`), one by one or all at once.
    Review(review::ReviewArgs),
    /// Run one scenario and tell its whole story: packets layer by layer, actions, map changes, printk.
    Explain(explain::ExplainArgs),
    /// Print shell completions for SHELL (generated from this command line's definitions).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff), with a section per command.
    Man,
    /// The .pkt highlighters, generated from the language (for the repository's copies).
    #[command(name = "__grammar", hide = true)]
    Grammar(crate::doc::GrammarArgs),
    /// The init process of xdptest's VMs (runs only as PID 1 inside a guest).
    #[command(hide = true)]
    Guest,
    /// Benchmark: boot-to-results time of VMs, one kernel at a time and all at once.
    #[command(hide = true)]
    BenchVm(vm_bench::BenchArgs),
}

/// The command line, parsed; on a usage error, clap's message (exit 2). A misspelt command or flag
/// gets a suggestion from the same did-you-mean as the rest of xdptest, so case does not count
/// (`RUN` finds `run`, `--Fail-Fast` finds `--fail-fast`), where clap's own finds none.
pub fn parse() -> Cli {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use clap::CommandFactory;
    let mut err = match Cli::try_parse() {
        Ok(cli) => return cli,
        Err(e) => e,
    };
    let text = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let command = Cli::command();
    let suggestion = match err.kind() {
        ErrorKind::InvalidSubcommand if err.get(ContextKind::SuggestedSubcommand).is_none() => {
            text(ContextKind::InvalidSubcommand).and_then(|bad| {
                let names: Vec<&str> =
                    command.get_subcommands().filter(|c| !c.is_hide_set()).map(|c| c.get_name()).collect();
                xdptest_compiler::diagnostic::did_you_mean(&bad, names)
                    .map(|m| (ContextKind::SuggestedSubcommand, m.to_string()))
            })
        }
        ErrorKind::UnknownArgument if err.get(ContextKind::SuggestedArg).is_none() => {
            text(ContextKind::InvalidArg).and_then(|bad| {
                // The flags of the subcommand named on the command line, and the global ones.
                let args: Vec<String> = std::env::args().skip(1).collect();
                let sub = args.iter().find_map(|a| command.find_subcommand(a));
                let longs: Vec<String> = sub
                    .into_iter()
                    .flat_map(|c| c.get_arguments())
                    .chain(command.get_arguments())
                    .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                    .collect();
                let flag = bad.split('=').next().unwrap_or(&bad).to_string();
                xdptest_compiler::diagnostic::did_you_mean(&flag, longs.iter().map(String::as_str))
                    .map(|m| (ContextKind::SuggestedArg, m.to_string()))
            })
        }
        _ => None,
    };
    if let Some((kind, value)) = suggestion {
        err.insert(kind, ContextValue::String(value));
    }
    err.exit()
}

pub fn main(cli: Cli) -> Outcome {
    let mut allowed = cli.allow_path.clone();
    match env::checked() {
        Ok(vars) => allowed.extend(vars.allow_path),
        Err(e) => {
            errln!("error: {e}");
            return Outcome::Error;
        }
    }
    let _ = ALLOWED.set(allowed);
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Run(a) => run::run(a),
        Command::List(a) => list::run(a),
        Command::Init(a) => init::run(a),
        Command::Import(a) => import::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Doc(a) => crate::doc::run(a),
        Command::Grammar(a) => crate::doc::grammar(a),
        Command::Completions(a) => completions::completions(a),
        Command::Man => completions::man(),
        Command::Review(a) => review::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Guest => match xdptest_vm::guest::main() {
            0 => Outcome::Ok,
            _ => Outcome::Error,
        },
        Command::BenchVm(a) => vm_bench::run(a),
    }
}

/// Directories given with `--allow-path` and `XDPTEST_ALLOW_PATH`.
pub fn allowed_paths() -> Vec<PathBuf> {
    ALLOWED.get().cloned().unwrap_or_default()
}

/// Default spec location when no path is given.
pub fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("specs")]
    } else {
        paths
    }
}

/// Finds and compiles specs, printing every diagnostic on failure.
pub fn load_suite(paths: &[PathBuf]) -> Result<(Vec<suite::SpecPath>, Suite), Outcome> {
    load_with(paths, suite::compile, |s| &s.warnings)
}

/// [`load_suite`] for runs: fixtures without what only pages and captures read
/// ([`suite::compile_for_run`]).
pub fn load_suite_for_run(paths: &[PathBuf]) -> Result<(Vec<suite::SpecPath>, Suite), Outcome> {
    load_with(paths, suite::compile_for_run, |s| &s.warnings)
}

/// Finds specs and compiles them with `compile` (which keeps what its command needs of them),
/// printing every diagnostic on failure and the `warnings` it kept on success.
pub fn load_with<T>(
    paths: &[PathBuf],
    compile: fn(&[suite::SpecPath], &FsLoader) -> Result<T, Vec<Diag>>,
    warnings: fn(&T) -> &[Diag],
) -> Result<(Vec<suite::SpecPath>, T), Outcome> {
    let specs = suite::discover(paths).map_err(|d| report(&d))?;
    if specs.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        errln!("error: no .pkt spec files under {}", shown.join(", "));
        return Err(Outcome::Error);
    }
    let roots = suite::spec_roots(paths, &allowed_paths());
    let suite = compile(&specs, &FsLoader::confined(&roots)).map_err(|d| report(&d))?;
    // Warnings and notes do not stop the run, but the author should see them.
    for w in warnings(&suite) {
        errln!("{:?}", w.report());
    }
    Ok((specs, suite))
}

/// Prints diagnostics (all of them, warnings and notes too) and a summary line; returns the error
/// outcome.
pub fn report(diags: &[Diag]) -> Outcome {
    for d in diags {
        errln!("{:?}", d.report());
    }
    errln!("error: {} found", count(diags.iter().filter(|d| d.is_error()).count(), "error"));
    Outcome::Error
}
