//! Reading a verifier log: the complaint (the lines after the last instruction, before the statistics)
//! and the C line the verifier stopped at (from the `; code @ file.c:LINE` lines that BTF line info puts
//! into the log). Data for [`RunError::Verifier`](crate::error::RunError::Verifier); reporters locate
//! it in the source.

use crate::error::SourceLine;

/// What the log says about the rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub complaint: Vec<String>,
    /// The last source line the log cites before the complaint.
    pub at: Option<SourceLine>,
}

/// Reads a verifier log.
pub fn parse(log: &str) -> Rejection {
    let lines: Vec<&str> = log.lines().map(str::trim_end).collect();
    let is_stats = |l: &str| {
        l.starts_with("verification time")
            || l.starts_with("stack depth")
            || l.starts_with("processed ")
            || l.starts_with("-- END PROG LOAD LOG --")
    };
    let is_insn = |l: &str| {
        let digits = l.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0 && l[digits..].starts_with(": ")) || l.starts_with("; ")
    };
    let end = lines.iter().rposition(|l| !l.is_empty() && !is_stats(l)).map_or(0, |i| i + 1);
    let last_insn = lines[..end].iter().rposition(|l| is_insn(l));
    let start = last_insn.map_or(0, |i| i + 1);
    let complaint: Vec<String> = lines[start..end].iter().filter(|l| !l.is_empty()).map(|l| l.to_string()).collect();
    let at = lines[..start].iter().rev().find_map(|l| source_line(l));
    Rejection { complaint, at }
}

/// `; return data[20]; @ prog.c:9` → (`prog.c`, 9, `return data[20];`).
fn source_line(l: &str) -> Option<SourceLine> {
    let rest = l.strip_prefix("; ")?;
    let (code, loc) = rest.rsplit_once(" @ ")?;
    let (file, line) = loc.rsplit_once(':')?;
    Some(SourceLine { file: file.to_string(), line: line.trim().parse().ok()?, code: code.trim().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "0: R1=ctx() R10=fp0\n\
        ; unsigned char *data = (void *)(long)ctx->data; @ bad_verifier.c:8\n\
        0: (61) r1 = *(u32 *)(r1 +0)          ; R1=pkt(r=0)\n\
        ; return data[20] == 0x11 ? XDP_DROP : XDP_PASS; @ bad_verifier.c:9\n\
        1: (71) r1 = *(u8 *)(r1 +20)\n\
        invalid access to packet, off=20 size=1, R1(id=0,off=20,r=0)\n\
        R1 offset is outside of the packet\n\
        verification time 17 usec\n\
        stack depth 0\n\
        processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";

    #[test]
    fn finds_the_complaint_and_the_line() {
        let r = parse(LOG);
        assert_eq!(
            r.complaint,
            ["invalid access to packet, off=20 size=1, R1(id=0,off=20,r=0)", "R1 offset is outside of the packet"]
        );
        assert_eq!(
            r.at,
            Some(SourceLine {
                file: "bad_verifier.c".into(),
                line: 9,
                code: "return data[20] == 0x11 ? XDP_DROP : XDP_PASS;".into()
            })
        );
    }
}
