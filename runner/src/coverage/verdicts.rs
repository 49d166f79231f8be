//! Verdict paths from the bytecode: for every exit of the program's own frame, the instructions that
//! can give r0 its value on a path into it. Copies are followed (`r0 = r6` to where r6 was set), and
//! so are calls of the program's own functions (`return decide(ctx)` to the callee's returns), so
//! returns through a variable or a subprogram end at the constant that was returned.

use std::collections::BTreeMap;

use super::insn::{bit, Cfg, Insn};
use super::plan::{Returns, VerdictPath};

/// Every verdict path of the program, by instruction.
pub fn paths(insns: &[Insn], cfg: &Cfg) -> Vec<VerdictPath> {
    let preds = predecessors(insns, cfg);
    let mut found: BTreeMap<usize, Returns> = BTreeMap::new();
    let main = cfg.subprog_of(0, insns.len()).1;
    for exit in main.filter(|&i| cfg.starts[i] && insns[i].is_exit()) {
        sources(insns, cfg, &preds, exit, 0, 0, &mut found);
    }
    found.into_iter().map(|(insn, returns)| VerdictPath { insn, returns }).collect()
}

/// Per slot: the slots control comes from.
fn predecessors(insns: &[Insn], cfg: &Cfg) -> Vec<Vec<usize>> {
    let mut preds = vec![Vec::new(); insns.len()];
    for at in (0..insns.len()).filter(|&i| cfg.starts[i]) {
        for s in cfg.successors(insns, at) {
            preds[s].push(at);
        }
    }
    preds
}

/// Calls followed into callees at most this deep (recursion is not allowed in BPF anyway).
const MAX_DEPTH: usize = 8;

/// Where register `reg` read at slot `at` got its value, added to `found`.
fn sources(
    insns: &[Insn],
    cfg: &Cfg,
    preds: &[Vec<usize>],
    at: usize,
    reg: u8,
    depth: usize,
    found: &mut BTreeMap<usize, Returns>,
) {
    let mut seen = std::collections::HashSet::new();
    let mut work: Vec<usize> = preds[at].clone();
    while let Some(p) = work.pop() {
        if !seen.insert(p) {
            continue;
        }
        let insn = &insns[p];
        let (_, defs) = insn.uses_defs();
        if defs & bit(reg) == 0 {
            work.extend(preds[p].iter().copied());
            continue;
        }
        if let Some(v) = insn.mov_imm() {
            found.insert(p, Returns::Constant(v));
        } else if insn.is_wide() && insn.src == 0 {
            let hi = insns.get(p + 1).map(|h| h.imm as u32 as i64).unwrap_or(0);
            found.insert(p, Returns::Constant((hi << 32) | insn.imm as u32 as i64));
        } else if let Some(src) = insn.mov_reg() {
            if depth < MAX_DEPTH * 4 {
                sources(insns, cfg, preds, p, src, depth + 1, found);
            } else {
                found.insert(p, Returns::Computed);
            }
        } else if insn.is_local_call() && reg == 0 {
            let Some(start) = insn.function_target(p) else { continue };
            if depth >= MAX_DEPTH {
                found.insert(p, Returns::Computed);
                continue;
            }
            let callee = cfg.subprog_of(start, insns.len()).1;
            for exit in callee.filter(|&i| cfg.starts[i] && insns[i].is_exit()) {
                sources(insns, cfg, preds, exit, 0, depth + 1, found);
            }
        } else if insn.is_call() && insn.src == 0 && reg == 0 {
            found.insert(p, Returns::Helper(insn.imm));
        } else {
            found.insert(p, Returns::Computed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn { code, dst, src, off, imm }
    }

    fn of(p: &[Insn]) -> Vec<(usize, Returns)> {
        paths(p, &Cfg::new(p).unwrap()).into_iter().map(|v| (v.insn, v.returns)).collect()
    }

    #[test]
    fn constants_on_each_path_into_a_shared_exit() {
        // 0: r0 = 2; 1: if r1 == 0 goto 3; 2: w0 = 1; 3: exit
        let p = [i(0xb7, 0, 0, 0, 2), i(0x15, 1, 0, 1, 0), i(0xb4, 0, 0, 0, 1), i(0x95, 0, 0, 0, 0)];
        assert_eq!(of(&p), vec![(0, Returns::Constant(2)), (2, Returns::Constant(1))]);
    }

    #[test]
    fn returns_through_a_variable_and_a_subprogram() {
        // 0: r6 = 2; 1: if r1 == 0 goto 3; 2: r6 = 1; 3: r0 = r6; 4: if r6 == 1 goto 6; 5: exit;
        // 6: call 8 (pc+1 = 7, +1 → 8) ... 7: exit; 8: r0 = 3; 9: exit
        let p = [
            i(0xb7, 6, 0, 0, 2),
            i(0x15, 1, 0, 1, 0),
            i(0xb7, 6, 0, 0, 1),
            i(0xbf, 0, 6, 0, 0),
            i(0x15, 6, 0, 1, 1),
            i(0x95, 0, 0, 0, 0),
            i(0x85, 0, 1, 0, 1),
            i(0x95, 0, 0, 0, 0),
            i(0xb7, 0, 0, 0, 3),
            i(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(of(&p), vec![(0, Returns::Constant(2)), (2, Returns::Constant(1)), (8, Returns::Constant(3))]);
    }

    #[test]
    fn a_helper_result_is_its_own_path() {
        let p = [i(0x85, 0, 0, 0, 51), i(0x95, 0, 0, 0, 0)];
        assert_eq!(of(&p), vec![(0, Returns::Helper(51))]);
    }
}
