//! `xdptest list`: what `run` with the same paths, `--filter` and `--partition` would run, without
//! running it (no kernel, no root): one `SPEC::SCENARIO` per line, or JSON Lines.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use xdptest_runner::select::{full_name, select, Partition, Selection};

use super::{default_paths, load_suite};
use crate::outcome::{count, Outcome};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Spec files or directories (searched recursively for .pkt files). Default: specs/
    pub paths: Vec<PathBuf>,
    /// List only scenarios whose `SPEC::SCENARIO` name contains this text (repeatable: any may match),
    /// as `run --filter` selects them.
    #[arg(long, short = 'f', value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Match --filter against whole `SPEC::SCENARIO` names instead of parts of them.
    #[arg(long, requires = "filter")]
    pub exact: bool,
    /// Leave out scenarios whose `SPEC::SCENARIO` contains this text (repeatable).
    #[arg(long, short = 'x', value_name = "TEXT")]
    pub exclude: Vec<String>,
    /// Select with an expression over spec, scenario name and program: `spec(upf) and not name(ttl)`,
    /// `program(=xdp_lb) or name(=a scenario)` (`=` for whole values; `not`, `and`, `or`, parentheses).
    /// Combines with --filter and --exclude: all must agree.
    #[arg(long = "expr", short = 'E', value_name = "EXPR", value_parser = super::run::parse_expr)]
    pub expr: Option<xdptest_runner::select::Expr>,
    /// List one shard, as `run --partition` cuts it: `I/N` or `count:I/N`, `hash:I/N`.
    #[arg(long, value_name = "I/N", value_parser = super::run::parse_partition)]
    pub partition: Option<Partition>,
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
    let config = match super::config::find(&paths).map(|p| super::config::load(&p)) {
        None => super::config::Config::default(),
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            errln!("error: {e}");
            return Outcome::Error;
        }
    };
    let filters = match super::config::expand_filters(&args.filter, &config) {
        Ok(f) => f,
        Err(e) => {
            errln!("error: {e}");
            return Outcome::Error;
        }
    };
    let (specs, suite) = match load_suite(&paths) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let fixtures: Vec<_> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    let total = fixtures.len();
    let names_all: Vec<String> = fixtures.iter().map(full_name).collect();
    let sel = Selection {
        filters: filters.clone(),
        exact: args.exact,
        exclude: args.exclude,
        expr: args.expr,
        partition: args.partition,
    };
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
        errln!(
            "error: no scenario matches (out of {total}); check --filter and --partition{}",
            super::closest_name(&names_all, &filters)
        );
        return Outcome::Error;
    }
    Outcome::Ok
}
