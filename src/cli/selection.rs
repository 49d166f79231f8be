//! The selection flags `run` and `list` share (`--filter`, `--exact`, `--exclude`, `--expr`,
//! `--partition`), turned into the runner's [`Selection`] with `xdptest.toml` aliases expanded, and
//! the error when they select nothing.

use clap::Args;
use xdptest_runner::select::{full_name, Expr, Partition, Selection};

use super::config::{expand_filters, Config};
use crate::outcome::Outcome;

#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Only scenarios whose `SPEC::SCENARIO` name contains this text (repeatable: any may match;
    /// `@NAME` stands for an alias of xdptest.toml).
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
    #[arg(long = "expr", short = 'E', value_name = "EXPR", value_parser = parse_expr)]
    pub expr: Option<Expr>,
    /// One shard of the suite: `I/N` or `count:I/N` (round-robin), `hash:I/N` (stable by name).
    #[arg(long, value_name = "I/N", value_parser = parse_partition)]
    pub partition: Option<Partition>,
}

fn parse_expr(s: &str) -> Result<Expr, String> {
    s.parse()
}

fn parse_partition(s: &str) -> Result<Partition, String> {
    s.parse()
}

impl SelectArgs {
    /// The selection these flags make, aliases expanded; an unknown alias is a usage error (printed).
    pub fn selection(&self, config: &Config) -> Result<Selection, Outcome> {
        let filters = expand_filters(&self.filter, config).map_err(|e| {
            errln!("error: {e}");
            Outcome::Error
        })?;
        Ok(Selection {
            filters,
            exact: self.exact,
            exclude: self.exclude.clone(),
            expr: self.expr.clone(),
            partition: self.partition,
        })
    }
}

/// Says that `sel` matched none of `total` scenarios (`names`: all of them), with the closest name to
/// a filter when one is close enough to be a typo; the outcome to exit with.
pub fn nothing_selected(sel: &Selection, names: &[String], total: usize) -> Outcome {
    errln!(
        "error: no scenario matches (out of {total}); check --filter and --partition{}",
        closest_name(names, &sel.filters)
    );
    Outcome::Error
}

/// `; did you mean …?` for filters that select nothing: the scenario (or `SPEC::SCENARIO`) closest to
/// one of them, case-insensitively, when one is close enough to be a typo.
fn closest_name(names: &[String], filters: &[String]) -> String {
    for f in filters {
        let scenarios: Vec<&str> = names.iter().filter_map(|n| n.split_once("::").map(|(_, s)| s)).collect();
        let hit = if f.contains("::") {
            xdptest_compiler::diagnostic::did_you_mean(f, names.iter().map(String::as_str)).map(|m| format!("\"{m}\""))
        } else {
            suggest_in_names(f, &scenarios)
        };
        if let Some(m) = hit {
            return format!("; did you mean {m}?");
        }
    }
    String::new()
}

/// The scenario name closest to `word`, or, since filters match parts of names, the word of a name
/// closest to it (`pnig` finds `ping` in "answers a ping"); quoted, ready for "did you mean".
pub fn suggest_in_names(word: &str, names: &[&str]) -> Option<String> {
    use xdptest_compiler::diagnostic::did_you_mean;
    if let Some(m) = did_you_mean(word, names.iter().copied()) {
        return Some(format!("\"{m}\""));
    }
    // As many consecutive words of a name as the filter has (`ecoh reply` finds `echo reply`).
    let n = word.split_whitespace().count().max(1);
    let phrases: Vec<String> = names
        .iter()
        .flat_map(|name| {
            let words: Vec<&str> =
                name.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric())).collect();
            words.windows(n).map(|w| w.join(" ")).collect::<Vec<_>>()
        })
        .filter(|p| p.len() > 1)
        .collect();
    let m = did_you_mean(word, phrases.iter().map(String::as_str))?;
    let example = names.iter().find(|name| name.contains(m))?;
    Some(format!("\"{m}\" (as in \"{example}\")"))
}

/// `SPEC::SCENARIO` of every fixture, for [`nothing_selected`].
pub fn names(fixtures: &[xdptest_compiler::Fixture]) -> Vec<String> {
    fixtures.iter().map(full_name).collect()
}
