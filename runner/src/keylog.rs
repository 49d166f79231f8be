//! Which entries of a program's arrays a run can have changed, so that the reset before the next
//! scenario writes back only those instead of every entry (a 256-entry per-CPU array cost a hundred
//! microseconds per scenario on two CPUs, fifty times the test run; on a 64-CPU runner, 32× more).
//!
//! A program changes an array's values only through pointers that `bpf_map_lookup_elem` returned for
//! one key (the verifier keeps every access inside that entry's value), unless the map's address
//! escapes: direct value access (`ld_imm64` of a map value, as globals use), a map pointer given to
//! any other helper (update, for-each, per-CPU lookup…), or one that goes anywhere but straight into
//! a lookup. So for each array whose every reference in the code is "load the map, then look it up",
//! a copy of the program logs the key of each lookup (into a log map, before the call, through
//! registers the call clobbers anyway) and the reset restores the logged keys and those the scenario
//! wrote. Any doubt means the map is not logged and gets the full reset: an escaping pointer, a
//! lookup whose map is not known at the call, a log that overflowed, a run that did not go through
//! the logging copy (other programs, counted copies, timed runs), programs that share the maps with
//! other programs (tail calls, sends to other programs) or that reach maps through maps.
//!
//! **Invariant:** after a reset every map holds what it held after loading, exactly as a full reset
//! leaves it; the isolation tests and a shuffled run of the benchmark suite check it.

use std::collections::{BTreeMap, HashSet};

use xdptest_compiler::fixture::helper::MAP_LOOKUP_ELEM;

use crate::coverage::insn::{bit, Cfg, Insn, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE};

/// Keys logged per map and scenario; a scenario that looks up more is reset in full.
pub const CAP: usize = 64;
/// Bytes of one map's part of the log: the number of lookups, then the keys.
pub const SLOT: usize = 4 * (1 + CAP);

/// The lookups to log: for each `bpf_map_lookup_elem` call (its slot), the byte offset of its map's
/// part of the log; and each logged map (by descriptor) with its offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub sites: Vec<(usize, usize)>,
    pub maps: BTreeMap<i32, usize>,
}

/// What to log for the arrays `candidates` (descriptors) in `insns` (relocated code, maps loaded by
/// descriptor). Maps left out of the plan are reset in full.
pub fn plan(insns: &[Insn], cfg: &Cfg, candidates: &[i32]) -> Plan {
    let n = insns.len();
    let mut sites: Vec<(usize, i32)> = Vec::new();
    let mut escaped: HashSet<i32> = HashSet::new();
    for at in (0..n).filter(|&i| cfg.starts[i]) {
        let i = &insns[at];
        if !i.is_wide() {
            continue;
        }
        let fd = i.imm;
        match i.src {
            PSEUDO_MAP_FD if candidates.contains(&fd) => match straight_into_lookup(insns, cfg, at) {
                Some(call) => sites.push((call, fd)),
                None => {
                    escaped.insert(fd);
                }
            },
            PSEUDO_MAP_VALUE if candidates.contains(&fd) => {
                escaped.insert(fd);
            }
            // Maps by index (not relocated): nothing is known of them.
            0 | PSEUDO_MAP_FD | PSEUDO_MAP_VALUE => {}
            _ => return Plan::default(),
        }
    }
    let mut maps = BTreeMap::new();
    for fd in candidates.iter().filter(|fd| !escaped.contains(fd) && sites.iter().any(|s| s.1 == **fd)) {
        let next = maps.len() * SLOT;
        maps.insert(*fd, next);
    }
    let sites = sites.into_iter().filter_map(|(call, fd)| maps.get(&fd).map(|off| (call, *off))).collect();
    Plan { sites, maps }
}

/// The call the map loaded at `at` goes to, when the map goes nowhere else: in the same basic block,
/// the register loaded is r1 of a `bpf_map_lookup_elem` call, and nothing between reads it or jumps.
fn straight_into_lookup(insns: &[Insn], cfg: &Cfg, at: usize) -> Option<usize> {
    let reg = insns[at].dst;
    let block = cfg.block_of[at];
    let mut j = at + 2;
    while j < insns.len() && cfg.block_of[j] == block {
        let i = &insns[j];
        if i.is_helper_call(MAP_LOOKUP_ELEM as i32) {
            return (reg == 1).then_some(j);
        }
        if i.is_call() || i.is_exit() || i.jump_target(j).is_some() {
            return None;
        }
        // Read, or overwritten unused (which compilers do not emit): either way not the plain pattern.
        let (uses, defs) = i.uses_defs();
        if (uses | defs) & bit(reg) != 0 {
            return None;
        }
        j += if i.is_wide() { 2 } else { 1 };
    }
    None
}

/// The instructions that log the key of the lookup that follows them into the log map `log_fd` at
/// byte `offset`: `r3 = key (u32)`, `r4 = &log[offset]`, `r5 = count`; the key is stored at
/// `keys[count]` when `count < CAP`, and `count` grows by one either way (beyond [`CAP`]: overflowed).
/// r0 and r3–r5 are free there: the call sets r0 and clobbers r1–r5, and reads only r1 and r2.
pub fn log_key(log_fd: i32, offset: usize, out: &mut Vec<Insn>) {
    let insn = |code: u8, dst: u8, src: u8, off: i16, imm: i32| Insn { code, dst, src, off, imm };
    // BPF_LDX | BPF_MEM | BPF_W: r3 = *(u32 *)(r2 + 0)
    out.push(insn(0x61, 3, 2, 0, 0));
    // r4 = address of the log's value, plus offset
    out.push(insn(0x18, 4, PSEUDO_MAP_VALUE, 0, log_fd));
    out.push(insn(0, 0, 0, 0, offset as i32));
    // r5 = *(u32 *)(r4 + 0)
    out.push(insn(0x61, 5, 4, 0, 0));
    // BPF_JMP | BPF_JGE | BPF_K: if r5 >= CAP goto +4 (over the store)
    out.push(insn(0x35, 5, 0, 4, CAP as i32));
    // r0 = r5; r0 <<= 2; r0 += r4; *(u32 *)(r0 + 4) = r3
    out.push(insn(0xbf, 0, 5, 0, 0));
    out.push(insn(0x67, 0, 0, 0, 2));
    out.push(insn(0x0f, 0, 4, 0, 0));
    out.push(insn(0x63, 0, 3, 4, 0));
    // r5 += 1; *(u32 *)(r4 + 0) = r5
    out.push(insn(0x07, 5, 0, 0, 1));
    out.push(insn(0x63, 4, 5, 0, 0));
}

/// The keys a log's part for one map holds: `None` when it overflowed (more lookups than [`CAP`]).
pub fn logged_keys(part: &[u8]) -> Option<Vec<u32>> {
    let word = |i: usize| u32::from_ne_bytes(part[4 * i..4 * i + 4].try_into().expect("4 bytes"));
    let count = word(0) as usize;
    (count <= CAP).then(|| (0..count).map(|k| word(1 + k)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::insn::Cfg;

    fn i(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn { code, dst, src, off, imm }
    }
    fn map(dst: u8, fd: i32) -> [Insn; 2] {
        [i(0x18, dst, PSEUDO_MAP_FD, 0, fd), i(0, 0, 0, 0, 0)]
    }
    const CALL_LOOKUP: Insn = Insn { code: 0x85, dst: 0, src: 0, off: 0, imm: 1 };
    const KEY: [Insn; 2] =
        [Insn { code: 0xbf, dst: 2, src: 10, off: 0, imm: 0 }, Insn { code: 0x07, dst: 2, src: 0, off: 0, imm: -4 }];
    const EXIT: [Insn; 2] =
        [Insn { code: 0xb7, dst: 0, src: 0, off: 0, imm: 2 }, Insn { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }];

    fn plan_of(code: &[Insn], candidates: &[i32]) -> Plan {
        plan(code, &Cfg::new(code).unwrap(), candidates)
    }

    #[test]
    fn a_map_loaded_straight_into_a_lookup_is_logged() {
        let code: Vec<Insn> = [&KEY[..], &map(1, 7), &[CALL_LOOKUP], &EXIT].concat();
        assert_eq!(plan_of(&code, &[7]), Plan { sites: vec![(4, 0)], maps: BTreeMap::from([(7, 0)]) });
        // A map the plan was not asked about is left alone.
        assert_eq!(plan_of(&code, &[8]), Plan::default());
    }

    #[test]
    fn a_map_whose_pointer_escapes_is_not_logged() {
        // Copied to another register first.
        let copied: Vec<Insn> = [&map(6, 7)[..], &[i(0xbf, 1, 6, 0, 0)], &KEY, &[CALL_LOOKUP], &EXIT].concat();
        assert_eq!(plan_of(&copied, &[7]), Plan::default());
        // Given to another helper (bpf_map_update_elem), besides a lookup elsewhere.
        let updated: Vec<Insn> =
            [&KEY[..], &map(1, 7), &[CALL_LOOKUP], &map(1, 7), &[i(0x85, 0, 0, 0, 2)], &EXIT].concat();
        assert_eq!(plan_of(&updated, &[7]), Plan::default());
        // Its value read directly (globals).
        let direct: Vec<Insn> =
            [&KEY[..], &map(1, 7), &[CALL_LOOKUP], &[i(0x18, 3, PSEUDO_MAP_VALUE, 0, 7), i(0, 0, 0, 0, 0)], &EXIT]
                .concat();
        assert_eq!(plan_of(&direct, &[7]), Plan::default());
        // The other map of the program is still logged.
        let two: Vec<Insn> =
            [&KEY[..], &map(1, 7), &[CALL_LOOKUP], &KEY, &map(1, 9), &[CALL_LOOKUP], &copied[..]].concat();
        let p = plan_of(&two, &[7, 9]);
        assert_eq!(p.maps, BTreeMap::from([(9, 0)]));
        assert_eq!(p.sites, vec![(9, 0)]);
    }

    #[test]
    fn a_lookup_past_a_branch_is_not_followed() {
        // The map is loaded, then a conditional jump: the lookup is in another block.
        let code: Vec<Insn> = [&map(1, 7)[..], &[i(0x15, 3, 0, 0, 0)], &KEY, &[CALL_LOOKUP], &EXIT].concat();
        assert_eq!(plan_of(&code, &[7]), Plan::default());
    }

    #[test]
    fn logged_keys_read_back_and_overflow() {
        let mut part = vec![0u8; SLOT];
        part[0..4].copy_from_slice(&2u32.to_ne_bytes());
        part[4..8].copy_from_slice(&17u32.to_ne_bytes());
        part[8..12].copy_from_slice(&6u32.to_ne_bytes());
        assert_eq!(logged_keys(&part), Some(vec![17, 6]));
        part[0..4].copy_from_slice(&(CAP as u32 + 1).to_ne_bytes());
        assert_eq!(logged_keys(&part), None);
    }
}
