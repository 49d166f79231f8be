//! The `xdptest` command line: parses arguments, dispatches to a subcommand, maps the outcome to an
//! exit code (0 all passed, 1 test failures, 2 usage/input/environment errors). Only this crate knows
//! about terminals and exit codes.

// Errors are the cold path and carry what reporters need; boxing them buys nothing.
#![allow(clippy::result_large_err)]

#[macro_use]
mod term;
mod cli;
mod doc;
mod outcome;
mod report;
mod session;
mod snapshot;

use std::process::ExitCode;

// Compiling a suite allocates a great many small strings and vectors, from several threads at once:
// glibc's allocator spent a third of a run's time in malloc, free and their consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A child started to load one object first (see xdptest_runner::probe): nothing else to do.
    if let Some(code) = xdptest_runner::probe::child_main() {
        return ExitCode::from(code as u8);
    }
    if let Ok(exe) = std::env::current_exe() {
        xdptest_runner::probe::enable(exe);
    }
    let args = cli::parse();
    ExitCode::from(cli::main(args) as u8)
}
