//! `xdptest compile`: write fixtures (RON) and captures (pcapng), all or nothing.

use std::path::PathBuf;

use clap::Args;
use xdptest_compiler::suite;

use super::{default_paths, load_suite, report};
use crate::outcome::{count, Outcome};

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Spec files or directories (searched recursively for .pkt files). Default: specs/
    pub paths: Vec<PathBuf>,
    /// Output directory: <spec path>/<scenario>.ron per scenario and <spec path>.pcapng per spec.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: CompileArgs) -> Outcome {
    let paths = default_paths(args.paths);
    let (specs, suite) = match load_suite(&paths) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let files = match suite::outputs(&specs, &suite) {
        Ok(f) => f,
        Err(d) => return report(&[d]),
    };
    let cancel = crate::session::cancel_on_signals();
    if let Err(d) = suite::write_all(&args.out, &files, &|| cancel.is_cancelled()) {
        if cancel.is_cancelled() {
            errln!("xdptest: interrupted; {} is as it was", args.out.display());
            return Outcome::Interrupted;
        }
        return report(&[d]);
    }
    let pcaps = files.iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "pcapng")).count();
    outln!(
        "compiled {} from {} into {} ({}, {})",
        count(suite.fixture_count(), "scenario"),
        count(specs.len(), "spec file"),
        args.out.display(),
        count(files.len() - pcaps, "fixture"),
        count(pcaps, "capture")
    );
    Outcome::Ok
}
