//! Subcommands and their shared plumbing (finding specs, printing diagnostics).

mod check;
mod compile;
mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use xdptest_compiler::{suite, Diag, Suite};

/// Exit status of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything passed.
    Ok = 0,
    /// Some test failed.
    Failed = 1,
    /// Bad usage, bad input, or an environment that cannot run the tests.
    Error = 2,
}

/// Declarative tests for XDP programs.
///
/// Write scenarios in `.pkt` files (packets layer by layer, the expected action, output packet and map
/// state), then check, compile or run them against the program through BPF_PROG_TEST_RUN.
#[derive(Debug, Parser)]
#[command(name = "xdptest", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and type-check specs; report every error with its location.
    Check(check::CheckArgs),
    /// Compile specs into fixtures: one RON file per scenario and one pcapng per spec.
    Compile(compile::CompileArgs),
    /// Run specs through the program on this kernel (BPF_PROG_TEST_RUN) and check every expectation.
    Run(run::RunArgs),
}

pub fn main(cli: Cli) -> Outcome {
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Run(a) => run::run(a),
    }
}

/// "1 spec file", "2 spec files".
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
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
    let specs = suite::discover(paths).map_err(|d| report(&d))?;
    if specs.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        eprintln!("error: no .pkt spec files under {}", shown.join(", "));
        return Err(Outcome::Error);
    }
    let suite = suite::compile(&specs).map_err(|d| report(&d))?;
    Ok((specs, suite))
}

/// Prints diagnostics (all of them) and a summary line; returns the error outcome.
pub fn report(diags: &[Diag]) -> Outcome {
    for d in diags {
        eprintln!("{:?}", d.report());
    }
    eprintln!("error: {} found", count(diags.len(), "error"));
    Outcome::Error
}
