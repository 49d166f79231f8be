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

/// Keeps the fixtures whose full name contains any of `filters` (is one of them, when `exact`; all
/// when there are none), then this shard.
pub fn select(fixtures: Vec<Fixture>, filters: &[String], exact: bool, partition: Option<Partition>) -> Vec<Fixture> {
    let filtered = fixtures.into_iter().filter(|f| {
        let name = full_name(f);
        filters.is_empty() || filters.iter().any(|p| if exact { name == *p } else { name.contains(p.as_str()) })
    });
    match partition {
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

/// FNV-1a: stable across platforms and releases, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;

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
