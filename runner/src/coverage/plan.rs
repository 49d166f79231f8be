//! What coverage counts in one program, decided from its instructions alone: a counter per basic block
//! and one per fall-through edge that a block count cannot stand for, the branches those counters
//! measure, the source line of every instruction (BTF line info), and the program's verdict paths.
//! The same plan is built wherever the same object is (the runner that instruments it, the host that
//! reports what a VM counted), so counters travel as bare numbers.

use serde::{Deserialize, Serialize};

use super::insn::{Cfg, Insn, Malformed};
use super::Code;

/// A line of C source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceLine {
    pub file: String,
    pub line: u32,
}

/// A counted basic block: slots `start..end`, counted by counter `counter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub start: usize,
    pub end: usize,
    pub counter: usize,
}

/// A conditional jump: taken = its block's count − the fall-through count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub insn: usize,
    pub block: usize,
    /// The counter of the fall-through edge: the next block's own counter when nothing else jumps
    /// there, else a counter of the edge alone.
    pub fallthrough: usize,
}

/// Where a counter goes: before slot `at`, counting block `block` or the fall-through edge into `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    Block { block: usize },
    Edge { into: usize },
}

/// How a program can return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Returns {
    /// A constant, set at the instruction.
    Constant(i64),
    /// What a helper returned (`return bpf_redirect_map(...)`): helper number.
    Helper(i32),
    /// A value computed at the instruction.
    Computed,
}

/// One way the program can return: the instruction that gives r0 its value on a path into an exit of
/// the program's own frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictPath {
    pub insn: usize,
    pub returns: Returns,
}

/// A function of the program (the program itself, then subprograms), by first slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// The coverage plan of one program.
#[derive(Debug, Clone)]
pub struct Plan {
    pub program: String,
    pub insns: Vec<Insn>,
    pub cfg: Cfg,
    pub blocks: Vec<Block>,
    pub branches: Vec<Branch>,
    /// Per counter: where it goes.
    pub sites: Vec<Site>,
    /// Distinct source lines, sorted; `insn_line` indexes them.
    pub lines: Vec<SourceLine>,
    pub insn_line: Vec<Option<usize>>,
    pub functions: Vec<Function>,
    pub verdicts: Vec<VerdictPath>,
    /// The counter that holds the last verdict path taken (set where each path gives r0 its value).
    pub last_path: usize,
    /// Counters `exits..exits + exit_slots` count the exits of the program's own frame by the verdict
    /// path that was last taken (the last slot: none known); a power of two, so the index is masked.
    pub exits: usize,
    pub exit_slots: usize,
}

impl Plan {
    pub fn new(code: &Code) -> Result<Plan, Malformed> {
        let insns = code.insns.clone();
        let cfg = Cfg::new(&insns)?;
        let mut sites: Vec<Site> = Vec::new();
        let mut blocks = Vec::new();
        for (b, r) in cfg.blocks.iter().enumerate() {
            blocks.push(Block { start: r.start, end: r.end, counter: sites.len() });
            sites.push(Site::Block { block: b });
        }
        // Blocks that something other than the fall-through reaches: jump targets and function starts.
        let mut entered = vec![false; insns.len()];
        for at in (0..insns.len()).filter(|&i| cfg.starts[i]) {
            for t in insns[at].jump_target(at).into_iter().chain(insns[at].function_target(at)) {
                entered[t] = true;
            }
        }
        let mut branches = Vec::new();
        for at in (0..insns.len()).filter(|&i| cfg.starts[i] && insns[i].is_conditional()) {
            let next = at + 1;
            if next >= insns.len() {
                return Err(Malformed(format!("the conditional jump at {at} is the last instruction")));
            }
            let fallthrough = if entered[next] {
                sites.push(Site::Edge { into: next });
                sites.len() - 1
            } else {
                blocks[cfg.block_of[next]].counter
            };
            branches.push(Branch { insn: at, block: cfg.block_of[at], fallthrough });
        }
        let (lines, insn_line) = line_table(code, &entered);
        let functions = functions(code, &cfg);
        let verdicts = super::verdicts::paths(&insns, &cfg);
        let last_path = sites.len();
        let exit_slots = (verdicts.len() + 1).next_power_of_two();
        Ok(Plan {
            last_path,
            exits: last_path + 1,
            exit_slots,
            program: code.name.clone(),
            insns,
            cfg,
            blocks,
            branches,
            sites,
            lines,
            insn_line,
            functions,
            verdicts,
        })
    }

    /// How many 64-bit counters the program's counter map holds.
    pub fn counters(&self) -> usize {
        self.exits + self.exit_slots
    }

    /// Per verdict path: how often the program returned through it.
    pub fn verdict_counts(&self, counts: &[u64]) -> Vec<u64> {
        (0..self.verdicts.len()).map(|i| counts.get(self.exits + i).copied().unwrap_or(0)).collect()
    }

    /// How often each slot ran, from the counters (0 where `counts` is short).
    pub fn executions(&self, counts: &[u64]) -> Vec<u64> {
        let mut out = vec![0; self.insns.len()];
        for b in &self.blocks {
            let c = counts.get(b.counter).copied().unwrap_or(0);
            for e in &mut out[b.start..b.end] {
                *e = c;
            }
        }
        out
    }

    /// Per branch: how often it was taken and not taken; `None` for a way that leads into code the
    /// verifier removed (the `removed` counters), which cannot happen on that kernel. A branch in
    /// removed code has neither.
    pub fn branch_counts(&self, counts: &[u64], removed: &[u32]) -> Vec<[Option<u64>; 2]> {
        let at = |i: usize| counts.get(i).copied().unwrap_or(0);
        let dead = |c: usize| removed.contains(&(c as u32));
        self.branches
            .iter()
            .map(|b| {
                let fall = at(b.fallthrough);
                let taken = at(self.blocks[b.block].counter).saturating_sub(fall);
                let target = self.insns[b.insn].jump_target(b.insn).map(|t| self.blocks[self.cfg.block_of[t]].counter);
                if dead(self.blocks[b.block].counter) {
                    return [None, None];
                }
                [(!target.is_some_and(dead)).then_some(taken), (!dead(b.fallthrough)).then_some(fall)]
            })
            .collect()
    }

    /// Lines whose every instruction is in code the verifier removed (the blocks and edges of the
    /// `removed` counters): dead code on that kernel.
    pub fn removed_lines(&self, removed: &[u32]) -> std::collections::BTreeSet<SourceLine> {
        let gone: std::collections::HashSet<usize> = removed.iter().map(|&c| c as usize).collect();
        let mut live = vec![false; self.lines.len()];
        let mut seen = vec![false; self.lines.len()];
        for b in &self.blocks {
            for l in self.insn_line[b.start..b.end].iter().flatten() {
                seen[*l] = true;
                live[*l] |= !gone.contains(&b.counter);
            }
        }
        (0..self.lines.len()).filter(|&l| seen[l] && !live[l]).map(|l| self.lines[l].clone()).collect()
    }

    /// The function slot `at` belongs to.
    pub fn function_of(&self, at: usize) -> Option<&Function> {
        self.functions.iter().find(|f| (f.start..f.end).contains(&at))
    }
}

/// The line of every slot: each line info record covers the slots from its own to the next record's,
/// but not into a block that jumps enter (`entered`). BTF has no records for instructions that have
/// no line (DWARF's line 0: a constant hoisted into a shared exit block, say); inheriting the line of
/// whatever code precedes a jump target would credit an unrelated line, often dead code, with what
/// runs there. A block reached only by falling through continues its predecessor's line.
fn line_table(code: &Code, entered: &[bool]) -> (Vec<SourceLine>, Vec<Option<usize>>) {
    let mut recs: Vec<(usize, SourceLine)> = code
        .line_info
        .iter()
        .filter(|r| r.line_col >> 10 != 0)
        .filter_map(|r| {
            let file = code.string(r.file_name_off)?;
            Some((r.insn_off as usize, SourceLine { file, line: r.line_col >> 10 }))
        })
        .collect();
    recs.sort_by_key(|(at, _)| *at);
    let mut lines: Vec<SourceLine> = recs.iter().map(|(_, l)| l.clone()).collect();
    lines.sort();
    lines.dedup();
    let mut insn_line = vec![None; code.insns.len()];
    for (i, (at, l)) in recs.iter().enumerate() {
        let end = recs.get(i + 1).map(|(n, _)| *n).unwrap_or(code.insns.len()).min(code.insns.len());
        let idx = lines.binary_search(l).ok();
        let end = (at + 1..end).find(|&s| entered.get(s).copied().unwrap_or(false)).unwrap_or(end);
        for slot in insn_line.iter_mut().take(end).skip(*at) {
            *slot = idx;
        }
    }
    (lines, insn_line)
}

/// The program's functions, named from its func info (the program's own name for the first).
fn functions(code: &Code, cfg: &Cfg) -> Vec<Function> {
    let n = code.insns.len();
    cfg.subprogs
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = cfg.subprogs.get(i + 1).copied().unwrap_or(n);
            let name = if start == 0 {
                code.name.clone()
            } else {
                code.function_names.get(&start).cloned().unwrap_or_else(|| format!("subprogram at {start}"))
            };
            Function { name, start, end }
        })
        .collect()
}
