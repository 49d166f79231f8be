//! Which scenarios run: name filters and deterministic partitions (`--partition count:2/3`), so a CI
//! matrix can split one suite across machines and every scenario runs on exactly one of them.

use std::fmt;
use std::str::FromStr;

use xdptest_compiler::Fixture;

/// `count:I/N` (round-robin over the sorted list) or `hash:I/N` (by a stable hash of the name, so adding
/// scenarios does not move the others). `I` counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub kind: PartitionKind,
    pub index: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKind {
    Count,
    Hash,
}

impl FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, rest) = match s.split_once(':') {
            Some(("count", r)) => (PartitionKind::Count, r),
            Some(("hash", r)) => (PartitionKind::Hash, r),
            Some((k, _)) => return Err(format!("unknown partition kind `{k}`: use count:I/N or hash:I/N")),
            None => (PartitionKind::Count, s),
        };
        let (i, n) = rest.split_once('/').ok_or_else(|| format!("`{s}` is not a partition: write I/N, e.g. 1/3"))?;
        let index: u64 = i.trim().parse().map_err(|_| format!("`{i}` is not a shard number"))?;
        let total: u64 = n.trim().parse().map_err(|_| format!("`{n}` is not a shard count"))?;
        if total == 0 || index == 0 || index > total {
            return Err(format!("shard {index} of {total} does not exist: shards count from 1 to N"));
        }
        Ok(Partition { kind, index, total })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            PartitionKind::Count => "count",
            PartitionKind::Hash => "hash",
        };
        write!(f, "{k}:{}/{}", self.index, self.total)
    }
}

/// The full name of a scenario, as filters and reports show it: `specs/upf/upf.pkt::uplink ...`.
pub fn full_name(f: &Fixture) -> String {
    format!("{}::{}", f.spec, f.scenario)
}

/// What to run: name filters (any may match; whole names when `exact`), names to leave out, an
/// [`Expr`], then one shard. Every part that is given must agree.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filters: Vec<String>,
    pub exact: bool,
    /// Scenarios whose `SPEC::SCENARIO` contains any of these are left out.
    pub exclude: Vec<String>,
    pub expr: Option<Expr>,
    pub partition: Option<Partition>,
}

impl Selection {
    /// Whole names only, as `--rerun-failed` and the end-of-run rerun command select.
    pub fn names(names: Vec<String>) -> Selection {
        Selection { filters: names, exact: true, ..Selection::default() }
    }

    fn wants(&self, f: &Fixture) -> bool {
        let name = full_name(f);
        let filtered = self.filters.is_empty()
            || self.filters.iter().any(|p| if self.exact { name == *p } else { name.contains(p.as_str()) });
        filtered
            && !self.exclude.iter().any(|x| name.contains(x.as_str()))
            && self.expr.as_ref().is_none_or(|e| e.matches(f))
    }
}

/// Keeps the fixtures `sel` wants, then its shard (counted over what the rest selected).
pub fn select(fixtures: Vec<Fixture>, sel: &Selection) -> Vec<Fixture> {
    let filtered = fixtures.into_iter().filter(|f| sel.wants(f));
    match sel.partition {
        None => filtered.collect(),
        Some(p) => filtered
            .enumerate()
            .filter(|(i, f)| {
                let slot = match p.kind {
                    PartitionKind::Count => *i as u64,
                    PartitionKind::Hash => fnv1a(full_name(f).as_bytes()),
                };
                slot % p.total == p.index - 1
            })
            .map(|(_, f)| f)
            .collect(),
    }
}

/// A selection expression (`--expr`): `spec(TEXT)`, `name(TEXT)` (the scenario), `program(TEXT)` (its
/// function or object file) match when the field contains TEXT, or equals it written `=TEXT`; `all()`;
/// combined with `not`, `and`, `or` (also `!`, `&`, `|`) and parentheses, `not` binding tightest:
/// `spec(upf) and not name(=uplink to an untagged session drops the VLAN tag)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Spec(Pattern),
    Name(Pattern),
    Program(Pattern),
    All,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// Text a field contains, or (`=TEXT`) equals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub text: String,
    pub exact: bool,
}

impl Pattern {
    fn matches(&self, field: &str) -> bool {
        if self.exact {
            field == self.text
        } else {
            field.contains(&self.text)
        }
    }
}

impl Expr {
    pub fn matches(&self, f: &Fixture) -> bool {
        match self {
            Expr::Spec(p) => p.matches(&f.spec),
            Expr::Name(p) => p.matches(&f.scenario),
            Expr::Program(p) => {
                let file = std::path::Path::new(&f.program.object).file_name().and_then(|n| n.to_str()).unwrap_or("");
                p.matches(&f.program.name) || p.matches(file)
            }
            Expr::All => true,
            Expr::Not(e) => !e.matches(f),
            Expr::And(a, b) => a.matches(f) && b.matches(f),
            Expr::Or(a, b) => a.matches(f) || b.matches(f),
        }
    }
}

impl FromStr for Expr {
    type Err = String;

    /// Parses an expression; the error says what was expected and at which character.
    fn from_str(s: &str) -> Result<Expr, String> {
        let mut p = ExprParser { s, at: 0 };
        let e = p.or()?;
        p.blank();
        if p.at < s.len() {
            return Err(p.error("`and`, `or` or the end"));
        }
        Ok(e)
    }
}

struct ExprParser<'a> {
    s: &'a str,
    at: usize,
}

impl ExprParser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.at..]
    }

    fn blank(&mut self) {
        self.at += self.rest().len() - self.rest().trim_start().len();
    }

    fn error(&self, expected: &str) -> String {
        let col = self.s[..self.at].chars().count() + 1;
        let found = self.rest().chars().take(12).collect::<String>();
        let found = if found.is_empty() { "the end".to_string() } else { format!("`{found}`") };
        format!("expected {expected} at character {col}, found {found} (e.g. `spec(upf) and not name(ttl)`)")
    }

    /// Takes `word` (an operator) if it comes next as a whole word, or its symbol.
    fn take(&mut self, word: &str, symbol: char) -> bool {
        self.blank();
        let r = self.rest();
        if r.starts_with(symbol) {
            self.at += symbol.len_utf8();
            return true;
        }
        let whole = r.starts_with(word) && !r[word.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if whole {
            self.at += word.len();
        }
        whole
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.take("or", '|') {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.take("and", '&') {
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.take("not", '!') {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        self.blank();
        if self.rest().starts_with('(') {
            self.at += 1;
            let e = self.or()?;
            self.blank();
            if !self.rest().starts_with(')') {
                return Err(self.error("`)`"));
            }
            self.at += 1;
            return Ok(e);
        }
        let word: String = self.rest().chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        let known = ["spec", "name", "program", "all"];
        if !known.contains(&word.as_str()) {
            return Err(self.error("`spec(…)`, `name(…)`, `program(…)`, `all()`, `not` or `(`"));
        }
        self.at += word.len();
        if !self.rest().starts_with('(') {
            return Err(self.error(&format!("`(` after `{word}`")));
        }
        self.at += 1;
        let Some(close) = self.rest().find(')') else { return Err(self.error("`)`")) };
        let text = self.rest()[..close].trim().to_string();
        self.at += close + 1;
        let pattern = match text.strip_prefix('=') {
            Some(t) => Pattern { text: t.to_string(), exact: true },
            None => Pattern { text, exact: false },
        };
        Ok(match word.as_str() {
            "spec" => Expr::Spec(pattern),
            "name" => Expr::Name(pattern),
            "program" => Expr::Program(pattern),
            _ => Expr::All,
        })
    }
}

/// FNV-1a: stable across platforms and releases, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_parse_with_precedence_and_locate_mistakes() {
        let e: Expr = "spec(upf) and not name(=b) or program(lb)".parse().unwrap();
        let spec = |t: &str| Box::new(Expr::Spec(Pattern { text: t.into(), exact: false }));
        let name = Box::new(Expr::Not(Box::new(Expr::Name(Pattern { text: "b".into(), exact: true }))));
        let prog = Box::new(Expr::Program(Pattern { text: "lb".into(), exact: false }));
        assert_eq!(e, Expr::Or(Box::new(Expr::And(spec("upf"), name)), prog));
        assert_eq!("!(all())".parse::<Expr>().unwrap(), Expr::Not(Box::new(Expr::All)));
        assert_eq!(
            "spec(a)&spec(b)|spec(c)".parse::<Expr>().unwrap(),
            "(spec(a) and spec(b)) or spec(c)".parse().unwrap()
        );
        let e = "spec(upf) nand name(x)".parse::<Expr>().unwrap_err();
        assert!(e.starts_with("expected `and`, `or` or the end at character 11, found `nand name(x)`"), "{e}");
        assert!("sepc(x)".parse::<Expr>().unwrap_err().contains("at character 1"));
        assert!("spec(x".parse::<Expr>().unwrap_err().contains("expected `)`"));
        // `android` is not `and` + `roid`.
        assert!("spec(a) android".parse::<Expr>().is_err());
    }

    #[test]
    fn parses_partitions() {
        assert_eq!("2/3".parse::<Partition>().unwrap(), Partition { kind: PartitionKind::Count, index: 2, total: 3 });
        assert_eq!("hash:1/2".parse::<Partition>().unwrap().kind, PartitionKind::Hash);
        assert!("0/3".parse::<Partition>().is_err());
        assert!("4/3".parse::<Partition>().is_err());
        assert!("x:1/3".parse::<Partition>().is_err());
        assert!("1-3".parse::<Partition>().is_err());
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
