//! `xdptest explain SPEC::SCENARIO`: the whole story of one scenario. It runs the scenario on this
//! kernel with everything recorded and prints its [story](crate::report::story).

use std::path::PathBuf;

use clap::Args;
use xdptest_compiler::Fixture;
use xdptest_runner::{Observe, RunOptions, Verdict};

use super::load_suite;
use crate::outcome::Outcome;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The scenario: `SPEC::SCENARIO`, as `xdptest run` names it (e.g. `specs/upf/upf.pkt::uplink ICMP
    /// is decapsulated and sent back out`). The name may be shortened to a part that only it contains.
    #[arg(value_name = "SPEC::SCENARIO")]
    pub scenario: String,
    /// Colours: auto (a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces them), always, never.
    #[arg(long, value_enum, default_value_t = super::run::Color::Auto)]
    pub color: super::run::Color,
}

pub fn run(args: ExplainArgs) -> Outcome {
    let Some((spec, wanted)) = args.scenario.split_once("::") else {
        errln!("error: name the scenario as SPEC::SCENARIO, e.g. specs/upf/upf.pkt::uplink");
        return Outcome::Error;
    };
    let (_, suite) = match load_suite(&[PathBuf::from(spec)]) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let fixtures: Vec<Fixture> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    let exact: Vec<&Fixture> = fixtures.iter().filter(|f| f.scenario == wanted).collect();
    let lower = wanted.to_lowercase();
    let partial: Vec<&Fixture> = fixtures.iter().filter(|f| f.scenario.to_lowercase().contains(&lower)).collect();
    let list = |fs: &[&Fixture]| fs.iter().map(|f| format!("  {}", f.scenario)).collect::<Vec<_>>().join("\n");
    let fixture = match (exact.as_slice(), partial.as_slice()) {
        ([one], _) | ([], [one]) => (*one).clone(),
        ([], []) => {
            let all: Vec<&Fixture> = fixtures.iter().collect();
            let names: Vec<&str> = all.iter().map(|f| f.scenario.as_str()).collect();
            errln!("error: {spec} has no scenario \"{wanted}\"; its scenarios:\n{}", list(&all));
            if let Some(m) = super::selection::suggest_in_names(wanted, &names) {
                errln!("  help: did you mean {m}?");
            }
            return Outcome::Error;
        }
        _ => {
            errln!("error: several scenarios of {spec} match \"{wanted}\":\n{}", list(&partial));
            return Outcome::Error;
        }
    };
    let mut result = None;
    let observe = Observe { dump_maps: vec![true], ..Observe::default() };
    let opts = RunOptions { jobs: 1, ..RunOptions::default() };
    xdptest_runner::run_results(std::slice::from_ref(&fixture), &opts, &observe, |_, r| result = Some(r));
    let Some(result) = result else {
        errln!("error: the scenario did not run");
        return Outcome::Error;
    };
    let mut stream = anstream::AutoStream::new(std::io::stdout(), args.color.choice());
    let _ = std::io::Write::write_all(&mut stream, crate::report::story::story(&fixture, &result).as_bytes());
    // Where `xdptest doc` puts this scenario (run on the spec file, as here).
    let index = fixtures.iter().position(|f| f.scenario == fixture.scenario).unwrap_or(0);
    let anchor = crate::doc::page::anchors(&fixtures).swap_remove(index);
    let page = std::path::Path::new(spec).with_extension("md");
    let page = page.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let _ = std::io::Write::write_all(&mut stream, format!("\nsee book: {page}#{anchor}\n").as_bytes());
    match result.verdict {
        Verdict::Pass | Verdict::Skip { .. } => Outcome::Ok,
        Verdict::Fail { .. } => Outcome::Failed,
        Verdict::Error { .. } => Outcome::Error,
    }
}
