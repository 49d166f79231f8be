//! eBPF instructions as the coverage rewrite sees them: decoding, what each one reads and writes, and
//! the control flow of a program as the kernel receives it (subprograms, basic blocks, successors).
//! Slots are 8-byte instruction slots; the second half of a `ld_imm64` is never a place of its own.

/// One 8-byte instruction slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

/// `src_reg` of a `ld_imm64` that loads a map by descriptor (`imm`).
pub const PSEUDO_MAP_FD: u8 = 1;
/// `src_reg` of a `ld_imm64` that loads the address of a map's value (`imm` = map fd, next `imm` =
/// offset).
pub const PSEUDO_MAP_VALUE: u8 = 2;

pub const CLASS_LD: u8 = 0x00;
pub const CLASS_LDX: u8 = 0x01;
pub const CLASS_ST: u8 = 0x02;
pub const CLASS_STX: u8 = 0x03;
pub const CLASS_ALU: u8 = 0x04;
pub const CLASS_JMP: u8 = 0x05;
pub const CLASS_JMP32: u8 = 0x06;
pub const CLASS_ALU64: u8 = 0x07;

const OP_JA: u8 = 0x00;
const OP_CALL: u8 = 0x80;
const OP_EXIT: u8 = 0x90;
const OP_MOV: u8 = 0xb0;
const MODE_ATOMIC: u8 = 0xc0;
const BPF_FETCH: i32 = 0x01;
const BPF_CMPXCHG: i32 = 0xf0 | BPF_FETCH;

/// `src_reg` of a call to another function of the program (bpf-to-bpf).
pub const PSEUDO_CALL: u8 = 1;
/// `src_reg` of a call to a kernel function.
pub const PSEUDO_KFUNC_CALL: u8 = 2;
/// `src_reg` of a `ld_imm64` that loads the address of a function of the program (callbacks).
pub const PSEUDO_FUNC: u8 = 4;
/// `bpf_tail_call` in `enum bpf_func_id`: on success it does not return.
pub const HELPER_TAIL_CALL: i32 = 12;

/// A set of registers r0–r10 as bits.
pub type Regs = u16;
pub const R10: u8 = 10;
/// r1–r5: arguments, clobbered by every call.
pub const ARGS: Regs = 0b11_1110;

pub fn bit(r: u8) -> Regs {
    1 << r
}

impl Insn {
    pub fn decode(b: &[u8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.src << 4) | (self.dst & 0x0f);
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }

    pub fn class(&self) -> u8 {
        self.code & 0x07
    }

    fn op(&self) -> u8 {
        self.code & 0xf0
    }

    fn is_jmp_class(&self) -> bool {
        matches!(self.class(), CLASS_JMP | CLASS_JMP32)
    }

    /// `ld_imm64`: two slots.
    pub fn is_wide(&self) -> bool {
        self.code == 0x18
    }

    pub fn is_exit(&self) -> bool {
        self.is_jmp_class() && self.op() == OP_EXIT
    }

    pub fn is_call(&self) -> bool {
        self.is_jmp_class() && self.op() == OP_CALL
    }

    pub fn is_helper_call(&self, id: i32) -> bool {
        self.is_call() && self.src == 0 && self.imm == id
    }

    /// A call to another function of the program.
    pub fn is_local_call(&self) -> bool {
        self.is_call() && self.src == PSEUDO_CALL
    }

    pub fn is_ja(&self) -> bool {
        self.is_jmp_class() && self.op() == OP_JA
    }

    /// A jump that may go either way.
    pub fn is_conditional(&self) -> bool {
        self.is_jmp_class() && !matches!(self.op(), OP_JA | OP_CALL | OP_EXIT)
    }

    /// The slot a jump at `at` goes to (`gotol` keeps its offset in `imm`).
    pub fn jump_target(&self, at: usize) -> Option<usize> {
        if !(self.is_ja() || self.is_conditional()) {
            return None;
        }
        let off = if self.class() == CLASS_JMP32 && self.is_ja() { self.imm as i64 } else { self.off as i64 };
        usize::try_from(at as i64 + off + 1).ok()
    }

    /// The first slot of the function a local call or a function address at `at` refers to.
    pub fn function_target(&self, at: usize) -> Option<usize> {
        if self.is_local_call() || (self.is_wide() && self.src == PSEUDO_FUNC) {
            return usize::try_from(at as i64 + self.imm as i64 + 1).ok();
        }
        None
    }

    /// `rD = imm` (32 or 64 bits).
    pub fn mov_imm(&self) -> Option<i64> {
        let alu = matches!(self.class(), CLASS_ALU | CLASS_ALU64);
        (alu && self.op() == OP_MOV && self.code & 0x08 == 0 && self.off == 0).then(|| match self.class() {
            CLASS_ALU => self.imm as u32 as i64,
            _ => self.imm as i64,
        })
    }

    /// `rD = rS` (32 or 64 bits, no sign extension): the source register.
    pub fn mov_reg(&self) -> Option<u8> {
        let alu = matches!(self.class(), CLASS_ALU | CLASS_ALU64);
        (alu && self.op() == OP_MOV && self.code & 0x08 != 0 && self.off == 0).then_some(self.src)
    }

    /// Registers read and written (a call's clobbered arguments count as written).
    pub fn uses_defs(&self) -> (Regs, Regs) {
        let (d, s) = (bit(self.dst), bit(self.src));
        match self.class() {
            CLASS_ALU | CLASS_ALU64 => {
                let src = if self.code & 0x08 != 0 { s } else { 0 };
                if self.op() == OP_MOV {
                    (src, d)
                } else {
                    (d | src, d)
                }
            }
            CLASS_LD if self.is_wide() => (0, d),
            // LD_ABS / LD_IND: read the context from r6 (and r_src), clobber like a call.
            CLASS_LD => (bit(6) | s, bit(0) | ARGS),
            CLASS_LDX => (s, d),
            CLASS_ST => (d, 0),
            CLASS_STX if self.code & 0xe0 == MODE_ATOMIC => {
                let mut uses = d | s;
                let mut defs = 0;
                if self.imm == BPF_CMPXCHG {
                    uses |= bit(0);
                    defs |= bit(0);
                } else if self.imm & BPF_FETCH != 0 {
                    defs |= s;
                }
                (uses, defs)
            }
            CLASS_STX => (d | s, 0),
            _ if self.is_exit() => (bit(0), 0),
            _ if self.is_call() => (ARGS, bit(0) | ARGS),
            _ if self.is_conditional() => {
                let src = if self.code & 0x08 != 0 { s } else { 0 };
                (d | src, 0)
            }
            _ => (0, 0),
        }
    }
}

/// Decodes 8-byte slots.
pub fn decode_all(bytes: &[u8]) -> Vec<Insn> {
    bytes.chunks_exact(8).map(Insn::decode).collect()
}

/// The shape of a program: its subprograms, basic blocks, and per slot the block it is in.
#[derive(Debug, Clone)]
pub struct Cfg {
    /// First slot of each subprogram, ascending (the first is 0).
    pub subprogs: Vec<usize>,
    /// Basic blocks as slot ranges, ascending.
    pub blocks: Vec<std::ops::Range<usize>>,
    /// Per slot: its block (the second slot of a `ld_imm64` shares the first's).
    pub block_of: Vec<usize>,
    /// Per slot: whether it starts an instruction (false for the second half of a `ld_imm64`).
    pub starts: Vec<bool>,
}

/// Why a program cannot be analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl Cfg {
    pub fn new(insns: &[Insn]) -> Result<Cfg, Malformed> {
        let n = insns.len();
        if n == 0 {
            return Err(Malformed("the program has no instructions".into()));
        }
        let mut starts = vec![false; n];
        let mut i = 0;
        while i < n {
            starts[i] = true;
            i += if insns[i].is_wide() { 2 } else { 1 };
        }
        let mut subprogs = vec![0];
        let mut leader = vec![false; n];
        leader[0] = true;
        let check = |t: usize, at: usize| -> Result<usize, Malformed> {
            if t < n && starts[t] {
                Ok(t)
            } else {
                Err(Malformed(format!("instruction {at} jumps to {t}, outside the program or into a ld_imm64")))
            }
        };
        for at in (0..n).filter(|&i| starts[i]) {
            let insn = &insns[at];
            if let Some(t) = insn.function_target(at) {
                let t = check(t, at)?;
                subprogs.push(t);
                leader[t] = true;
            }
            if let Some(t) = insn.jump_target(at) {
                leader[check(t, at)?] = true;
            }
            let next = at + if insn.is_wide() { 2 } else { 1 };
            let ends = insn.is_ja() || insn.is_conditional() || insn.is_exit() || insn.is_helper_call(HELPER_TAIL_CALL);
            if ends && next < n {
                leader[next] = true;
            }
        }
        subprogs.sort_unstable();
        subprogs.dedup();
        let mut blocks = Vec::new();
        let mut block_of = vec![0; n];
        let mut start = 0;
        for at in 1..=n {
            if at == n || leader[at] {
                for b in &mut block_of[start..at] {
                    *b = blocks.len();
                }
                blocks.push(start..at);
                start = at;
            }
        }
        Ok(Cfg { subprogs, blocks, block_of, starts })
    }

    /// The subprogram slot `at` belongs to: its index and its slot range.
    pub fn subprog_of(&self, at: usize, len: usize) -> (usize, std::ops::Range<usize>) {
        let i = self.subprogs.partition_point(|&s| s <= at) - 1;
        let end = self.subprogs.get(i + 1).copied().unwrap_or(len);
        (i, self.subprogs[i]..end)
    }

    /// Where control can go after the instruction at `at` (within its subprogram; a call returns).
    pub fn successors(&self, insns: &[Insn], at: usize) -> Vec<usize> {
        let insn = &insns[at];
        let next = at + if insn.is_wide() { 2 } else { 1 };
        if insn.is_exit() {
            return Vec::new();
        }
        if insn.is_ja() {
            return insn.jump_target(at).into_iter().collect();
        }
        let mut out = vec![next];
        if insn.is_conditional() {
            out.extend(insn.jump_target(at));
        }
        out.retain(|&s| s < insns.len());
        out
    }
}

/// Per slot: the registers live before it (read on some path before being written). Calls count as
/// reading every argument register, so a register said dead is dead whatever the callee takes.
pub fn live_before(insns: &[Insn], cfg: &Cfg) -> Vec<Regs> {
    let n = insns.len();
    let mut live = vec![0 as Regs; n];
    let order: Vec<usize> = (0..n).rev().filter(|&i| cfg.starts[i]).collect();
    let mut changed = true;
    while changed {
        changed = false;
        for &at in &order {
            let out = cfg.successors(insns, at).iter().fold(0, |acc, &s| acc | live[s]);
            let (uses, defs) = insns[at].uses_defs();
            let new = uses | (out & !defs);
            if new != live[at] {
                live[at] = new;
                changed = true;
            }
        }
    }
    live
}

/// Per slot: the registers written on every path from the start of its subprogram (so that storing
/// them is allowed). At the start of the program r1 (the context) and r10 are; at the start of a
/// subprogram, only r10 is taken for granted.
pub fn initialized_before(insns: &[Insn], cfg: &Cfg) -> Vec<Regs> {
    let n = insns.len();
    const ALL: Regs = 0x7ff;
    let mut init = vec![ALL; n];
    for &s in &cfg.subprogs {
        init[s] = if s == 0 { bit(1) | bit(R10) } else { bit(R10) };
    }
    let order: Vec<usize> = (0..n).filter(|&i| cfg.starts[i]).collect();
    let mut changed = true;
    while changed {
        changed = false;
        for &at in &order {
            let insn = &insns[at];
            let (_, defs) = insn.uses_defs();
            let out = if insn.is_call() { (init[at] | bit(0)) & !ARGS } else { init[at] | defs };
            for s in cfg.successors(insns, at) {
                if cfg.subprogs.binary_search(&s).is_ok() {
                    continue;
                }
                let met = init[s] & out;
                if met != init[s] {
                    init[s] = met;
                    changed = true;
                }
            }
        }
    }
    init
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mov(dst: u8, imm: i32) -> Insn {
        Insn { code: 0xb7, dst, src: 0, off: 0, imm }
    }
    fn exit() -> Insn {
        Insn { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }
    }
    fn jeq(dst: u8, imm: i32, off: i16) -> Insn {
        Insn { code: 0x15, dst, src: 0, off, imm }
    }

    #[test]
    fn encoding_round_trips() {
        let i = Insn { code: 0x7b, dst: 10, src: 3, off: -8, imm: 0x1234_5678 };
        assert_eq!(Insn::decode(&i.encode()), i);
        assert_eq!(i.encode()[1], 0x3a);
    }

    #[test]
    fn blocks_split_at_jumps_and_targets() {
        // 0: r0 = 2; 1: if r1 == 0 goto 3; 2: r0 = 1; 3: exit
        let p = [mov(0, 2), jeq(1, 0, 1), mov(0, 1), exit()];
        let cfg = Cfg::new(&p).unwrap();
        assert_eq!(cfg.blocks, vec![0..2, 2..3, 3..4]);
        assert_eq!(cfg.successors(&p, 1), vec![2, 3]);
        let live = live_before(&p, &cfg);
        assert_eq!(live[0], bit(1));
        assert_eq!(live[2], 0);
        assert_eq!(live[3], bit(0));
        let init = initialized_before(&p, &cfg);
        assert_eq!(init[3] & bit(0), bit(0));
        assert_eq!(init[2] & bit(2), 0);
    }

    #[test]
    fn calls_clobber_arguments_and_define_r0() {
        let call = Insn { code: 0x85, dst: 0, src: 0, off: 0, imm: 5 };
        let p = [mov(6, 1), mov(2, 1), call, exit()];
        let cfg = Cfg::new(&p).unwrap();
        let init = initialized_before(&p, &cfg);
        assert_eq!(init[3] & (bit(0) | bit(2) | bit(6)), bit(0) | bit(6));
        assert_eq!(live_before(&p, &cfg)[2], ARGS);
    }

    #[test]
    fn a_jump_outside_the_program_is_malformed() {
        assert!(Cfg::new(&[jeq(1, 0, 5), exit()]).is_err());
    }
}
