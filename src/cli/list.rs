//! `xdptest list`: what `run` with the same paths, `--filter` and `--partition` would run, without
//! running it (no kernel, no root): one `SPEC::SCENARIO` per line, or JSON Lines.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use xdptest_runner::select::{full_name, select};

use super::{default_paths, load_suite};
use crate::outcome::{count, Outcome};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Spec files or directories (searched recursively for .pkt files). Default: specs/
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub select: super::selection::SelectArgs,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = super::run::Format::Human)]
    pub format: super::run::Format,
}

/// One scenario, as `--format json` lists it.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    spec: &'a str,
    scenario: &'a str,
    /// `SPEC::SCENARIO`, what `--filter` matches against.
    name: String,
    location: &'a str,
    object: &'a str,
    program: &'a str,
}

#[derive(Serialize)]
struct Totals {
    #[serde(rename = "type")]
    kind: &'static str,
    selected: usize,
    total: usize,
    specs: usize,
}

pub fn run(args: ListArgs) -> Outcome {
    let paths = default_paths(args.paths);
    let sel = match super::config::for_paths(&paths).and_then(|(config, _)| args.select.selection(&config)) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let (specs, suite) = match load_suite(&paths) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let fixtures: Vec<_> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    let total = fixtures.len();
    let names_all = super::selection::names(&fixtures);
    let selected = select(fixtures, &sel);
    let spec_count = {
        let mut s: Vec<&str> = selected.iter().map(|f| f.spec.as_str()).collect();
        s.dedup();
        s.len()
    };
    match args.format {
        super::run::Format::Human => {
            for f in &selected {
                outln!("{}", full_name(f));
            }
            errln!(
                "{} of {} selected, in {} of {}",
                count(selected.len(), "scenario"),
                total,
                count(spec_count, "spec file"),
                specs.len()
            );
        }
        super::run::Format::Json => {
            for f in &selected {
                let line = Listed {
                    kind: "scenario",
                    spec: &f.spec,
                    scenario: &f.scenario,
                    name: full_name(f),
                    location: &f.location,
                    object: &f.program.object,
                    program: &f.program.name,
                };
                outln!("{}", serde_json::to_string(&line).expect("serializable"));
            }
            let totals = Totals { kind: "summary", selected: selected.len(), total, specs: spec_count };
            outln!("{}", serde_json::to_string(&totals).expect("serializable"));
        }
    }
    if selected.is_empty() {
        return super::selection::nothing_selected(&sel, &names_all, total);
    }
    Outcome::Ok
}
