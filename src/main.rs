//! The `xdptest` command line: parses arguments, dispatches to a subcommand, maps the outcome to an
//! exit code (0 all passed, 1 test failures, 2 usage/input/environment errors). Only this crate knows
//! about terminals and exit codes.

mod cli;
mod report;
mod snapshot;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    ExitCode::from(cli::main(args) as u8)
}
