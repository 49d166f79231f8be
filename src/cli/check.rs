//! `xdptest check`: parse and type-check, write nothing.

use std::path::PathBuf;

use clap::Args;

use super::{default_paths, load_suite};
use crate::outcome::{count, Outcome};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Spec files or directories (searched recursively for .pkt files). Default: specs/
    pub paths: Vec<PathBuf>,
}

pub fn run(args: CheckArgs) -> Outcome {
    let paths = default_paths(args.paths);
    match load_suite(&paths) {
        Ok((specs, suite)) => {
            outln!("ok: {}, {}", count(specs.len(), "spec file"), count(suite.fixture_count(), "scenario"));
            Outcome::Ok
        }
        Err(o) => o,
    }
}
