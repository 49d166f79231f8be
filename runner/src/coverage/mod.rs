//! Coverage: which blocks, branches and verdict paths of a program the scenarios reached, measured in
//! the real kernel. Counters are added to the program's instructions before loading ([`rewrite`]),
//! where a [`plan`] says (one per basic block, one per fall-through edge that needs its own); the
//! counted copy runs every scenario a second time, and its counts stand only if it did exactly what the
//! unmodified program did (the trust gate, in [`crate::execute`]).
//!
//! **Invariant:** counters cross the runner's boundary as bare numbers in plan order; any side that has
//! the object builds the same [`Plan`] from it ([`plan_for`]) to read them.

pub mod insn;
pub mod plan;
pub mod rewrite;
pub mod verdicts;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use plan::{Plan, Returns, SourceLine, VerdictPath};

/// A `struct bpf_func_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncInfo {
    pub insn_off: u32,
    pub type_id: u32,
}

/// A `struct bpf_line_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

/// A program's code as the kernel receives it: relocated instructions (subprograms appended), its func
/// and line info (instruction offsets), and the string section of its BTF, which the line info cites.
#[derive(Debug, Clone, Default)]
pub struct Code {
    pub name: String,
    pub insns: Vec<insn::Insn>,
    pub func_info: Vec<FuncInfo>,
    pub line_info: Vec<LineInfo>,
    pub strings: Vec<u8>,
    /// Function names by first slot (subprograms).
    pub function_names: HashMap<usize, String>,
}

impl Code {
    /// The string at `off` in the BTF string section.
    pub fn string(&self, off: u32) -> Option<String> {
        let s = self.strings.get(off as usize..)?;
        let end = s.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&s[..end]).into_owned())
    }

    pub fn insn_bytes(&self) -> Vec<u8> {
        self.insns.iter().flat_map(|i| i.encode()).collect()
    }

    pub fn func_info_bytes(&self) -> Vec<u8> {
        self.func_info.iter().flat_map(|f| [f.insn_off.to_ne_bytes(), f.type_id.to_ne_bytes()].concat()).collect()
    }

    pub fn line_info_bytes(&self) -> Vec<u8> {
        self.line_info
            .iter()
            .flat_map(|l| {
                [
                    l.insn_off.to_ne_bytes(),
                    l.file_name_off.to_ne_bytes(),
                    l.line_off.to_ne_bytes(),
                    l.line_col.to_ne_bytes(),
                ]
                .concat()
            })
            .collect()
    }
}

/// Why the rewrite cannot count a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// One scenario's coverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScenarioCoverage {
    /// Counted, and the counted programs did what the unmodified ones did.
    Measured {
        /// Per program: its nonzero counters (index, count), in plan order.
        programs: BTreeMap<String, ProgramCounts>,
    },
    Unavailable {
        reason: Unavailable,
    },
}

/// What one program counted in one scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramCounts {
    pub hits: Vec<(u32, u64)>,
    /// Counters whose code the verifier removed as dead code on this kernel (what it proved can never
    /// run, here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<u32>,
}

impl ProgramCounts {
    /// All counters of a plan with `len` of them.
    pub fn dense(&self, len: usize) -> Vec<u64> {
        let mut v = vec![0; len];
        for &(i, c) in &self.hits {
            if let Some(slot) = v.get_mut(i as usize) {
                *slot = c;
            }
        }
        v
    }
}

/// Why a scenario has no coverage. Such a scenario counts as covering nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unavailable {
    /// The rewrite cannot count this program.
    Rewrite { program: String, reason: String },
    /// The counted program failed the verifier (the unmodified one passed).
    Verifier { program: String, complaint: Option<String> },
    /// The counted program did something the unmodified one did not: the trust gate.
    Diverged { source: Option<String>, what: String },
    /// The scenario stopped before its end (an error or a skip), so there is nothing to compare.
    NotRun,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::Rewrite { program, reason } => write!(f, "`{program}` cannot be counted: {reason}"),
            Unavailable::Verifier { program, complaint } => {
                write!(f, "the verifier refused `{program}` with counters added")?;
                match complaint {
                    Some(c) => write!(f, ": {c}"),
                    None => Ok(()),
                }
            }
            Unavailable::Diverged { source: Some(s), what } => {
                write!(f, "{s}: the counted program {what} (trust gate)")
            }
            Unavailable::Diverged { source: None, what } => write!(f, "the counted program {what} (trust gate)"),
            Unavailable::NotRun => write!(f, "the scenario did not run to its end"),
        }
    }
}

/// Test-only: `XDPTEST_COVERAGE_BREAK=1` makes the rewrite change every return value, which the trust
/// gate must catch (its tests set it; nothing else should).
pub fn break_rewrite() -> bool {
    std::env::var_os("XDPTEST_COVERAGE_BREAK").is_some_and(|v| v == "1")
}

/// The coverage plans of `program`'s main program and the programs loaded beside it, built from the
/// object as the runner relocates it (map descriptors do not matter to a plan).
pub fn plan_for(program: &xdptest_compiler::fixture::Program) -> Result<Vec<Plan>, String> {
    let bytes = std::fs::read(&program.object).map_err(|e| format!("{}: {e}", program.object))?;
    let info = xdptest_compiler::btf::read_object(&bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for name in std::iter::once(&program.name).chain(&program.also) {
        if out.iter().any(|p: &Plan| &p.program == name) {
            continue;
        }
        let sym = info.program(name).ok_or_else(|| format!("no program `{name}` in {}", program.object))?;
        let code = crate::program::relocated(&bytes, sym, crate::program::load_as(sym), None, None)?.code;
        out.push(Plan::new(&code).map_err(|e| e.0)?);
    }
    Ok(out)
}

/// The counters (of `len`) missing from `xlated`, the instructions the verifier kept of a counted
/// program whose counter map has id `map_id`: each counter's `ld_imm64` of its value address is shown
/// as (map id, offset), so the ones not found were removed with the dead code around them.
pub fn removed_counters(xlated: &[u8], map_id: u32, len: usize) -> Vec<u32> {
    let insns = insn::decode_all(xlated);
    let mut kept = vec![false; len];
    let mut i = 0;
    while i < insns.len() {
        let x = &insns[i];
        if x.is_wide() {
            if x.src == 2 && x.imm as u32 == map_id {
                if let Some(slot) = insns.get(i + 1).and_then(|n| kept.get_mut(n.imm as usize / 8)) {
                    *slot = true;
                }
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    (0..len as u32).filter(|&c| !kept[c as usize]).collect()
}

/// The stack depth of each subprogram, from the verifier's statistics (`stack depth 24+8`).
pub fn parse_stack_depths(log: &str) -> Option<Vec<u32>> {
    let line = log.lines().rev().find_map(|l| l.trim().strip_prefix("stack depth "))?;
    line.split('+').map(|d| d.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_depths_from_the_verifier_statistics() {
        let log = "processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1\nstack depth 24+0+8\n";
        assert_eq!(parse_stack_depths(log), Some(vec![24, 0, 8]));
        assert_eq!(parse_stack_depths("nothing"), None);
    }

    #[test]
    fn counts_become_dense_in_plan_order() {
        let c = ProgramCounts { hits: vec![(1, 5), (3, 2), (9, 1)], removed: vec![] };
        assert_eq!(c.dense(4), vec![0, 5, 0, 2]);
    }

    #[test]
    fn counters_missing_from_the_kept_code_were_removed() {
        let ld = |off: i32, id: i32| {
            [
                insn::Insn { code: 0x18, dst: 1, src: 2, off: 0, imm: id }.encode(),
                insn::Insn { code: 0, dst: 0, src: 0, off: 0, imm: off }.encode(),
            ]
            .concat()
        };
        // Counters 0 and 2 of map 7 kept; an address in map 8 says nothing about map 7.
        let kept = [
            ld(0, 7),
            ld(16, 7),
            ld(8, 8),
            insn::Insn { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }.encode().to_vec(),
        ]
        .concat();
        assert_eq!(removed_counters(&kept, 7, 4), vec![1, 3]);
    }
}
