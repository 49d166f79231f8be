//! The rewrite that adds counters: before each counted place, a 64-bit atomic add of 1 into the
//! counter map's one value (`lock *(u64 *)(map_value + 8 * counter) += 1`), through two registers the
//! program does not need there (dead ones; else registers it has set, saved on the stack below the
//! frame's own and put back). Jumps, calls, callback addresses, func info and line info are moved to
//! where their instructions went. Nothing the program computes changes: a trust gate checks that on
//! every scenario anyway.

use xdptest_compiler::fixture::helper;

use super::insn::{bit, initialized_before, live_before, Insn, Regs, PSEUDO_MAP_VALUE, R10};
use super::plan::{Plan, Site};
use super::{Code, Unsupported};

/// Registers a counter may use: r0–r9.
const USABLE: Regs = 0x3ff;

/// What a rewrite adds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Counters (coverage): counter `i` at byte `8 * i` of the one value of this map.
    pub counters: Option<i32>,
    /// Clocks and random numbers the scenario sets: calls of `bpf_ktime_get_ns` (and the boot and
    /// coarse clocks) and `bpf_get_prandom_u32` return the values in this map's one value, once set
    /// (see [`control`]); until then they call the helper as before.
    pub control: Option<i32>,
    /// Tests only: flip bit 0 of every return value, a rewrite the trust gate must catch.
    pub break_program: bool,
    /// Keys of array lookups logged into this map's one value: before each listed
    /// `bpf_map_lookup_elem` call (its slot), the key goes to the log's part at that byte offset
    /// ([`crate::keylog`]).
    pub key_log: Option<(i32, &'a [(usize, usize)])>,
}

/// The one value of a control map: 64-bit words, each value after the word that says it is set.
pub mod control {
    pub const CLOCK_SET: usize = 0;
    pub const CLOCK: usize = 1;
    pub const RANDOM_SET: usize = 2;
    pub const RANDOM: usize = 3;
    pub const WORDS: usize = 4;
}

/// `code` rewritten as `opts` says. `stack_depths` gives each subprogram's stack depth (the
/// verifier's figures) when a counter must save registers.
pub fn instrument(
    code: &Code,
    plan: &Plan,
    opts: &Options<'_>,
    stack_depths: &mut dyn FnMut() -> Result<Vec<u32>, Unsupported>,
) -> Result<Code, Unsupported> {
    let break_program = opts.break_program;
    let insns = &plan.insns;
    let n = insns.len();
    let cfg = &plan.cfg;
    let live = live_before(insns, cfg);
    let init = initialized_before(insns, cfg);
    let dead = |at: usize| USABLE & !live[at];
    // What goes before each slot: `before` ahead of the place jumps land on (it runs only when control
    // comes from the previous instruction), `after` between that place and the instruction.
    let mut before: Vec<Vec<Group>> = vec![Vec::new(); n];
    let mut after: Vec<Vec<Group>> = vec![Vec::new(); n];
    let mut depths: Option<Vec<u32>> = None;
    let mut place = |at: usize, what: What, landing_first: bool| -> Result<(), Unsupported> {
        let g = Group::at(at, what, dead(at), live[at] & init[at], cfg, n, &mut depths, stack_depths)?;
        if landing_first {
            after[at].push(g);
        } else {
            before[at].push(g);
        }
        Ok(())
    };
    let counting = opts.counters.is_some();
    // No verdict path is known until one is taken. (After the landing place: the program's first
    // instruction must stay where its func and line info say.)
    if counting {
        place(0, What::Mark(plan.exit_slots - 1), true)?;
    }
    for (counter, site) in plan.sites.iter().enumerate().filter(|_| counting) {
        match site {
            Site::Block { block } => {
                let r = &cfg.blocks[*block];
                let best = (r.start..r.end).filter(|&k| cfg.starts[k]).find(|&k| dead(k).count_ones() >= 2);
                place(best.unwrap_or(r.start), What::Count(counter), true)?;
            }
            Site::Edge { into } => place(*into, What::Count(counter), false)?,
        }
    }
    // Each verdict path marks itself right after it sets its value; each exit of the program's own
    // frame counts the path marked last.
    for (id, v) in plan.verdicts.iter().enumerate().filter(|_| counting) {
        let next = v.insn + if insns[v.insn].is_wide() { 2 } else { 1 };
        if next >= n {
            return Err(Unsupported(format!("the verdict path at instruction {} ends the program", v.insn)));
        }
        place(next, What::Mark(id), false)?;
    }
    for at in cfg.subprog_of(0, n).1.filter(|&i| counting && cfg.starts[i] && insns[i].is_exit()) {
        place(at, What::Exit, true)?;
    }
    // Last before their call: the control's own jumps go to the call and just past it.
    if opts.control.is_some() {
        for at in (0..n).filter(|&i| cfg.starts[i]) {
            let i = &insns[at];
            let what = if helper::CLOCKS.iter().any(|&h| i.is_helper_call(h as i32)) {
                What::Control { set: control::CLOCK_SET, value: control::CLOCK, word: false }
            } else if i.is_helper_call(helper::GET_PRANDOM_U32 as i32) {
                What::Control { set: control::RANDOM_SET, value: control::RANDOM, word: true }
            } else {
                continue;
            };
            place(at, what, true)?;
        }
    }
    if let Some((_, sites)) = opts.key_log {
        for &(at, offset) in sites {
            if !insns.get(at).is_some_and(|i| i.is_helper_call(helper::MAP_LOOKUP_ELEM as i32)) || !cfg.starts[at] {
                return Err(Unsupported(format!("instruction {at} is no map lookup to log")));
            }
            place(at, What::LogKey { offset }, true)?;
        }
    }
    let layout = Layout {
        map_fd: opts.counters.unwrap_or(0),
        control_fd: opts.control.unwrap_or(0),
        log_fd: opts.key_log.map_or(0, |(fd, _)| fd),
        last: plan.last_path,
        exits: plan.exits,
        mask: plan.exit_slots - 1,
    };
    // Lay out: `before` groups, the landing place of jumps, `after` groups, the instruction.
    let mut out: Vec<Insn> = Vec::with_capacity(n * 2);
    let mut landing = vec![usize::MAX; n];
    let mut moved = vec![usize::MAX; n];
    for at in 0..n {
        if !cfg.starts[at] {
            out.push(insns[at]);
            continue;
        }
        for g in &before[at] {
            g.emit(&layout, &mut out);
        }
        landing[at] = out.len();
        for g in &after[at] {
            g.emit(&layout, &mut out);
        }
        if break_program && insns[at].is_exit() && cfg.subprog_of(at, n).0 == 0 {
            out.push(Insn { code: 0xa7, dst: 0, src: 0, off: 0, imm: 1 });
        }
        moved[at] = out.len();
        out.push(insns[at]);
    }
    // Jumps and calls to where their targets went.
    for at in (0..n).filter(|&i| cfg.starts[i]) {
        let from = moved[at] as i64;
        let insn = &mut out[moved[at]];
        if let Some(t) = insns[at].jump_target(at) {
            let off = landing[t] as i64 - from - 1;
            if insn.class() == super::insn::CLASS_JMP32 && insn.is_ja() {
                insn.imm = i32::try_from(off).map_err(|_| too_far(at))?;
            } else {
                insn.off = i16::try_from(off).map_err(|_| too_far(at))?;
            }
        } else if let Some(t) = insns[at].function_target(at) {
            insn.imm = i32::try_from(landing[t] as i64 - from - 1).map_err(|_| too_far(at))?;
        }
    }
    let place = |off: u32| landing.get(off as usize).copied().filter(|&p| p != usize::MAX).map(|p| p as u32);
    let mut func_info = Vec::new();
    for f in &code.func_info {
        func_info.push(super::FuncInfo {
            insn_off: place(f.insn_off).ok_or_else(|| Unsupported("func info inside an instruction".into()))?,
            type_id: f.type_id,
        });
    }
    let mut line_info = Vec::new();
    for l in &code.line_info {
        if let Some(p) = place(l.insn_off) {
            line_info.push(super::LineInfo { insn_off: p, ..*l });
        }
    }
    Ok(Code {
        name: code.name.clone(),
        insns: out,
        func_info,
        line_info,
        strings: code.strings.clone(),
        function_names: code.function_names.clone(),
    })
}

fn too_far(at: usize) -> Unsupported {
    Unsupported(format!("the jump at instruction {at} no longer reaches its target with counters added"))
}

/// Where things are in the counter map's value, in counters.
struct Layout {
    map_fd: i32,
    control_fd: i32,
    log_fd: i32,
    last: usize,
    exits: usize,
    mask: usize,
}

/// What a group of added instructions does.
#[derive(Debug, Clone, Copy)]
enum What {
    /// Adds 1 to a counter.
    Count(usize),
    /// Records that verdict path `id` was taken last.
    Mark(usize),
    /// Counts an exit under the verdict path taken last.
    Exit,
    /// Before a helper call: when word `set` of the control map is not 0, r0 = word `value` (its low
    /// 32 bits when `word`) and the call is skipped. Uses only r0, which the call sets anyway.
    Control { set: usize, value: usize, word: bool },
    /// Before a `bpf_map_lookup_elem` call: logs its key at byte `offset` of the key log. Uses r0 and
    /// r3–r5, which the call sets or clobbers without reading.
    LogKey { offset: usize },
}

impl What {
    fn registers(&self) -> usize {
        match self {
            What::Control { .. } | What::LogKey { .. } => 0,
            What::Mark(_) => 1,
            What::Count(_) | What::Exit => 2,
        }
    }
}

/// One group of added instructions and the registers it uses.
#[derive(Debug, Clone)]
struct Group {
    what: What,
    regs: Vec<u8>,
    /// Registers saved first, with their stack slots.
    saved: Vec<(u8, i16)>,
}

impl Group {
    /// The group for `what` before slot `at`, where `free` registers are dead and `saveable` ones are
    /// set and live (saved below the frame's stack, whose depth `stack_depths` tells).
    #[allow(clippy::too_many_arguments)]
    fn at(
        at: usize,
        what: What,
        free: Regs,
        saveable: Regs,
        cfg: &super::insn::Cfg,
        n: usize,
        depths: &mut Option<Vec<u32>>,
        stack_depths: &mut dyn FnMut() -> Result<Vec<u32>, Unsupported>,
    ) -> Result<Group, Unsupported> {
        let want = what.registers();
        let mut regs: Vec<u8> = (0..10).filter(|&r| free & bit(r) != 0).take(want).collect();
        let mut saved_regs = Vec::new();
        for r in (0..10).filter(|&r| USABLE & saveable & bit(r) != 0) {
            if regs.len() == want {
                break;
            }
            regs.push(r);
            saved_regs.push(r);
        }
        if regs.len() < want {
            return Err(Unsupported(format!(
                "no {want} registers are free or saveable at instruction {at}, where coverage counts"
            )));
        }
        let mut saved = Vec::new();
        if !saved_regs.is_empty() {
            if depths.is_none() {
                *depths = Some(stack_depths()?);
            }
            let (sub, _) = cfg.subprog_of(at, n);
            let depth = depths
                .as_ref()
                .and_then(|d| d.get(sub))
                .copied()
                .ok_or_else(|| Unsupported(format!("the verifier gave no stack depth for subprogram {sub}")))?;
            let base = (depth as i64 + 7) / 8 * 8;
            for (k, r) in saved_regs.into_iter().enumerate() {
                let off = -(base + 8 * (k as i64 + 1));
                if off < -512 {
                    return Err(Unsupported(format!(
                        "no stack left to save registers at instruction {at} (the frame uses {depth} bytes)"
                    )));
                }
                saved.push((r, off as i16));
            }
        }
        Ok(Group { what, regs, saved })
    }

    fn emit(&self, l: &Layout, out: &mut Vec<Insn>) {
        let value_at = |dst: u8, counter: usize, out: &mut Vec<Insn>| {
            out.push(Insn { code: 0x18, dst, src: PSEUDO_MAP_VALUE, off: 0, imm: l.map_fd });
            out.push(Insn { code: 0, dst: 0, src: 0, off: 0, imm: (counter * 8) as i32 });
        };
        if let What::Control { set, value, word } = self.what {
            let at = |word: usize, out: &mut Vec<Insn>| {
                out.push(Insn { code: 0x18, dst: 0, src: PSEUDO_MAP_VALUE, off: 0, imm: l.control_fd });
                out.push(Insn { code: 0, dst: 0, src: 0, off: 0, imm: (word * 8) as i32 });
            };
            at(set, out);
            out.push(Insn { code: 0x79, dst: 0, src: 0, off: 0, imm: 0 });
            // Not set: on to the call (the 4 slots below).
            out.push(Insn { code: 0x15, dst: 0, src: 0, off: 4, imm: 0 });
            at(value, out);
            // BPF_LDX | BPF_MEM | (BPF_W or BPF_DW).
            out.push(Insn { code: if word { 0x61 } else { 0x79 }, dst: 0, src: 0, off: 0, imm: 0 });
            // Set: past the call.
            out.push(Insn { code: 0x05, dst: 0, src: 0, off: 1, imm: 0 });
            return;
        }
        if let What::LogKey { offset } = self.what {
            crate::keylog::log_key(l.log_fd, offset, out);
            return;
        }
        for &(r, off) in &self.saved {
            out.push(Insn { code: 0x7b, dst: R10, src: r, off, imm: 0 });
        }
        let a = self.regs[0];
        match self.what {
            What::Count(counter) => {
                let b = self.regs[1];
                value_at(a, counter, out);
                out.push(Insn { code: 0xb7, dst: b, src: 0, off: 0, imm: 1 });
                // BPF_STX | BPF_DW | BPF_ATOMIC, imm = BPF_ADD: `lock *(u64 *)(a + 0) += b`.
                out.push(Insn { code: 0xdb, dst: a, src: b, off: 0, imm: 0 });
            }
            What::Mark(id) => {
                value_at(a, l.last, out);
                // `*(u64 *)(a + 0) = id`
                out.push(Insn { code: 0x7a, dst: a, src: 0, off: 0, imm: id as i32 });
            }
            What::Control { .. } | What::LogKey { .. } => unreachable!("emitted above"),
            What::Exit => {
                let b = self.regs[1];
                value_at(a, l.last, out);
                // b = last & mask, as a byte offset into the exit counters.
                out.push(Insn { code: 0x79, dst: b, src: a, off: 0, imm: 0 });
                out.push(Insn { code: 0x57, dst: b, src: 0, off: 0, imm: l.mask as i32 });
                out.push(Insn { code: 0x67, dst: b, src: 0, off: 0, imm: 3 });
                value_at(a, l.exits, out);
                out.push(Insn { code: 0x0f, dst: a, src: b, off: 0, imm: 0 });
                out.push(Insn { code: 0xb7, dst: b, src: 0, off: 0, imm: 1 });
                out.push(Insn { code: 0xdb, dst: a, src: b, off: 0, imm: 0 });
            }
        }
        for &(r, off) in &self.saved {
            out.push(Insn { code: 0x79, dst: r, src: R10, off, imm: 0 });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn { code, dst, src, off, imm }
    }

    fn code(insns: Vec<Insn>) -> Code {
        Code { name: "p".into(), insns, ..Default::default() }
    }

    #[test]
    fn jumps_land_on_the_counters_of_their_targets() {
        // 0: r0 = 2; 1: if r1 == 0 goto 3; 2: r0 = 1; 3: exit
        let c = code(vec![i(0xb7, 0, 0, 0, 2), i(0x15, 1, 0, 1, 0), i(0xb7, 0, 0, 0, 1), i(0x95, 0, 0, 0, 0)]);
        let plan = Plan::new(&c).unwrap();
        // Blocks 0..2, 2..3, 3..4 (the fall-through into 2 is the block's own count); then the last
        // verdict path, and exit counters for two paths and "none known" (rounded up to 4).
        assert_eq!(plan.sites.len(), 3);
        assert_eq!((plan.last_path, plan.exits, plan.exit_slots, plan.counters()), (3, 4, 4, 8));
        let opts = Options { counters: Some(7), ..Options::default() };
        let out = instrument(&c, &plan, &opts, &mut || panic!("no registers need saving")).unwrap();
        let jump = out.insns.iter().position(|x| x.code == 0x15).unwrap();
        let target = (jump as i64 + out.insns[jump].off as i64 + 1) as usize;
        // The target is the exit block's counter (a ld_imm64 of counter 2); the mark of `r0 = 1` is
        // before it, on the fall-through only.
        assert_eq!(out.insns[target].code, 0x18);
        assert_eq!(out.insns[target + 1].imm, 16);
        assert_eq!(out.insns[target - 1], Insn { code: 0x7a, dst: out.insns[target - 1].dst, src: 0, off: 0, imm: 1 });
        assert_eq!(out.insns.last().unwrap().code, 0x95);
        // Three block counters and the exit's count; marks at the start and after each path.
        assert_eq!(out.insns.iter().filter(|x| x.code == 0xdb).count(), 4);
        let marks: Vec<i32> = out.insns.iter().filter(|x| x.code == 0x7a).map(|x| x.imm).collect();
        assert_eq!(marks, vec![3, 0, 1]);
        assert!(out.insns.iter().filter(|x| x.code == 0x18).all(|x| x.src == PSEUDO_MAP_VALUE && x.imm == 7));
    }

    #[test]
    fn clock_calls_read_the_control_map_once_it_is_set() {
        // 0: r6 = r1; 1: call bpf_ktime_get_ns; 2: call bpf_get_prandom_u32; 3: exit
        let c = code(vec![i(0xbf, 6, 1, 0, 0), i(0x85, 0, 0, 0, 5), i(0x85, 0, 0, 0, 7), i(0x95, 0, 0, 0, 0)]);
        let plan = Plan::new(&c).unwrap();
        let opts = Options { control: Some(9), ..Options::default() };
        let out = instrument(&c, &plan, &opts, &mut || panic!("nothing to save")).unwrap().insns;
        // Nothing is counted; each call gets its 8-slot preamble, and only r0 is written.
        assert_eq!(out.len(), 4 + 2 * 8);
        assert!(out.iter().all(|x| x.code != 0xdb));
        for (call, set, value, load) in [(9, 0, 8, 0x79), (18, 16, 24, 0x61)] {
            assert_eq!(out[call].code, 0x85);
            let pre = &out[call - 8..call];
            assert_eq!((pre[0].code, pre[0].src, pre[0].imm, pre[1].imm), (0x18, PSEUDO_MAP_VALUE, 9, set));
            assert_eq!((pre[2].code, pre[3].code, pre[3].off), (0x79, 0x15, 4));
            assert_eq!(3 + 1 + pre[3].off as usize, 8, "not set: on to the call");
            assert_eq!(
                (pre[4].imm, pre[5].imm, pre[6].code),
                (9, value, load),
                "the clock is 64 bits, the random number 32"
            );
            assert_eq!((pre[7].code, pre[7].off), (0x05, 1), "set: past the call");
            assert!(pre.iter().all(|x| x.dst == 0), "only r0: {pre:?}");
        }
    }

    #[test]
    fn live_registers_are_saved_below_the_frame() {
        // r0–r9 are set, then read after `if r1 == 0 goto +0`: the edge counter of its fall-through
        // sees every register live and must save the two it uses.
        let mut v: Vec<Insn> = (0..10).map(|r| i(0xb7, r, 0, 0, r as i32)).collect();
        v.push(i(0x15, 1, 0, 0, 0));
        for r in 1..10 {
            v.push(i(0x0f, 0, r, 0, 0)); // r0 += rR
        }
        v.push(i(0x95, 0, 0, 0, 0));
        let c = code(v);
        let plan = Plan::new(&c).unwrap();
        let opts = Options { counters: Some(3), ..Options::default() };
        let out = instrument(&c, &plan, &opts, &mut || Ok(vec![20])).unwrap();
        let saves: Vec<&Insn> = out.insns.iter().filter(|x| x.code == 0x7b && x.dst == R10).collect();
        assert!(!saves.is_empty());
        // Below a 20-byte frame, rounded to 24: slots at -32 and -40.
        assert!(saves.iter().all(|s| s.off == -32 || s.off == -40), "{saves:?}");
        let fills = out.insns.iter().filter(|x| x.code == 0x79 && x.src == R10).count();
        assert_eq!(fills, saves.len());
    }
}
