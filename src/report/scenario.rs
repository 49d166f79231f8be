//! The report of one scenario: what the program did, in words a reviewer can read. Snapshots store it
//! and `xdptest explain` prints it (with more around it). Everything in it is deterministic: no timings,
//! no source locations (editing a spec above a scenario must not change its snapshot), no CPU numbers
//! (per-CPU map values are summed), no paths.

use std::fmt::Write as _;

use xdptest_compiler::fixture::{action_name, combine_per_cpu, Fixture, Program, ValueField};
use xdptest_compiler::wire::{decode, LayerKind};
use xdptest_runner::verdict::{MapChange, RunRecord};
use xdptest_runner::ScenarioResult;

/// The snapshot report: per `send`, the action, the output packet (decoded layer by layer, then a
/// hexdump), the map entries the run changed and the lines it printed. Map layouts come from the
/// fixture.
pub fn render_report(f: &Fixture, r: &ScenarioResult) -> String {
    let info = Some(&*f.program);
    let mut s = String::new();
    let _ = writeln!(s, "program {}", f.program.name);
    for (i, run) in r.runs.iter().enumerate() {
        s.push('\n');
        let _ = writeln!(s, "send #{} → {}", i + 1, action_name(run.action));
        s.push_str(&indent(&output_section(run), 2));
        if let Some(changes) = &run.maps {
            s.push_str("  maps\n");
            if changes.is_empty() {
                s.push_str("    (no change)\n");
            }
            for c in changes {
                s.push_str(&indent(&map_change(c, info), 4));
            }
        }
        s.push_str(&indent(&printk_section(run), 2));
    }
    s
}

fn output_section(run: &RunRecord) -> String {
    if run.output == run.input {
        return format!("output: the input, unchanged ({} bytes)\n", run.output.len());
    }
    let mut s = format!("output: {} bytes\n", run.output.len());
    s.push_str(&indent(&layers(&run.output), 2));
    s.push_str("  bytes\n");
    s.push_str(&indent(&hexdump(&run.output), 4));
    s
}

/// `bpf_printk` lines, or why they could not be captured; nothing for programs that do not print.
pub fn printk_section(run: &RunRecord) -> String {
    let mut s = String::new();
    if let Some(e) = &run.printk_error {
        let _ = writeln!(s, "printk: not captured ({e})");
    } else if !run.printk.is_empty() {
        s.push_str("printk\n");
        for l in &run.printk {
            let _ = writeln!(s, "  {l}");
        }
    }
    s
}

/// A packet decoded layer by layer, one `field = value` per line; layers that occur more than once are
/// numbered like selectors (`ipv4:2` is the inner header of a tunnel).
pub fn layers(bytes: &[u8]) -> String {
    let d = decode(bytes);
    let mut s = String::new();
    let mut seen: Vec<(LayerKind, usize)> = Vec::new();
    for l in &d.layers {
        let total = d.layers.iter().filter(|x| x.kind == l.kind).count();
        let nth = match seen.iter_mut().find(|(k, _)| *k == l.kind) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((l.kind, 1));
                1
            }
        };
        if total > 1 {
            let _ = writeln!(s, "{}:{nth}", l.kind.name());
        } else {
            let _ = writeln!(s, "{}", l.kind.name());
        }
        for f in shown_fields(l) {
            let _ = writeln!(s, "  {} = {}", f.name, f.display_value());
        }
    }
    if let Some(why) = &d.truncated {
        let _ = writeln!(s, "(decoding stopped: {why})");
    }
    s
}

/// The fields of a decoded layer worth showing: fields over bits that earlier fields already show
/// (`ipv4.tos` over dscp and ecn, `icmp.rest` over id and seq) are views, left out.
pub fn shown_fields(l: &xdptest_compiler::wire::DecodedLayer) -> Vec<&xdptest_compiler::wire::DecodedField> {
    let mut covered: Vec<(usize, usize)> = Vec::new();
    let mut out = Vec::new();
    for f in &l.fields {
        let end = f.bit_offset + f.bits;
        if f.bits > 0 && (f.bit_offset..end).all(|bit| covered.iter().any(|&(a, b)| a <= bit && bit < b)) {
            continue;
        }
        if f.bits > 0 {
            covered.push((f.bit_offset, end));
        }
        out.push(f);
    }
    out
}

/// `0000  45 00 00 1c ...  e...`: 16 bytes a row, hex then printable ASCII.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut s = String::new();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let mut hex = String::new();
        for i in 0..16 {
            if i == 8 {
                hex.push(' ');
            }
            match chunk.get(i) {
                Some(b) => {
                    let _ = write!(hex, " {b:02x}");
                }
                None => hex.push_str("   "),
            }
        }
        let ascii: String = chunk.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
        let _ = writeln!(s, "{:04x} {hex}  {ascii}", row * 16);
    }
    s
}

/// One changed entry: `stats[0]: 0 → 1` for a plain value, else field by field.
pub fn map_change(c: &MapChange, program: Option<&Program>) -> String {
    let def = program.and_then(|p| p.map(&c.map));
    let key_fields = def.map(|d| d.key.clone()).unwrap_or_default();
    let value_fields = def.map(|d| d.value.clone()).unwrap_or_default();
    let per_cpu = c.before.iter().chain(&c.after).any(|v| v.len() > 1) || def.is_some_and(|d| d.kind.is_per_cpu());
    let merge = |vs: &Option<Vec<xdptest_compiler::fixture::Bytes>>| -> Option<Vec<u8>> {
        let vs: Vec<Vec<u8>> = vs.as_ref()?.iter().map(|b| b.0.clone()).collect();
        Some(if per_cpu { combine_per_cpu(&value_fields, &vs) } else { vs.into_iter().next().unwrap_or_default() })
    };
    let (before, after) = (merge(&c.before), merge(&c.after));
    let entry = format!("{}[{}]", c.map, key_text(&key_fields, &c.key.0));
    let sum = if per_cpu { " (per-CPU values summed)" } else { "" };
    let mut s = String::new();
    let plain = value_fields.len() == 1 && value_fields[0].name.is_empty();
    match (&before, &after) {
        (Some(b), Some(a)) if plain => {
            let f = &value_fields[0];
            let _ = writeln!(s, "{entry}: {} → {}{sum}", f.show_in(b), f.show_in(a));
        }
        (None, Some(a)) if plain => {
            let _ = writeln!(s, "{entry}: added, {}{sum}", value_fields[0].show_in(a));
        }
        (Some(b), None) if plain => {
            let _ = writeln!(s, "{entry}: removed (was {}){sum}", value_fields[0].show_in(b));
        }
        (Some(b), Some(a)) => {
            let _ = writeln!(s, "{entry}: changed{sum}");
            if value_fields.is_empty() {
                s.push_str(&indent(&byte_changes(b, a), 2));
            } else {
                for f in &value_fields {
                    let (vb, va) = (f.show_in(b), f.show_in(a));
                    if vb != va {
                        let _ = writeln!(s, "  {}: {vb} → {va}", f.name);
                    }
                }
            }
        }
        (None, Some(v)) | (Some(v), None) => {
            let what = if before.is_none() { "added" } else { "removed" };
            let _ = writeln!(s, "{entry}: {what}{sum}");
            if value_fields.is_empty() {
                s.push_str(&indent(&hexdump(v), 2));
            } else {
                for f in &value_fields {
                    let _ = writeln!(s, "  {} = {}", f.name, f.show_in(v));
                }
            }
        }
        (None, None) => {}
    }
    s
}

/// A key as a spec would write it: `2`, `192.168.1.1`, `{ prefixlen: 8, addr: 10.0.0.0 }`; hex without
/// a layout.
pub fn key_text(fields: &[ValueField], key: &[u8]) -> String {
    match fields {
        [] => xdptest_compiler::fixture::hex(key),
        [one] if one.name.is_empty() => one.show_in(key),
        many => {
            let parts: Vec<String> = many.iter().map(|f| format!("{}: {}", f.name, f.show_in(key))).collect();
            format!("{{ {} }}", parts.join(", "))
        }
    }
}

/// Values without a layout (global data sections): the 16-byte rows that changed.
fn byte_changes(before: &[u8], after: &[u8]) -> String {
    let mut s = String::new();
    let len = before.len().max(after.len());
    for row in (0..len).step_by(16) {
        let b = &before[row.min(before.len())..(row + 16).min(before.len())];
        let a = &after[row.min(after.len())..(row + 16).min(after.len())];
        if a != b {
            let _ = writeln!(
                s,
                "+{row:#06x}: {} → {}",
                xdptest_compiler::fixture::hex(b),
                xdptest_compiler::fixture::hex(a)
            );
        }
    }
    s
}

/// Every line of `text` indented by `n` spaces.
pub fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| if l.is_empty() { "\n".to_string() } else { format!("{pad}{l}\n") }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xdptest_compiler::fixture::{Bytes, FieldRepr, MapInfo, MapKind, ProgramFacts};

    #[test]
    fn hexdump_rows_keep_the_ascii_column() {
        let out = hexdump(b"0123456789abcdefXY");
        assert_eq!(
            out,
            "0000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  0123456789abcdef\n\
             0010  58 59                                             XY\n"
        );
    }

    #[test]
    fn per_cpu_values_without_a_layout_show_bytes() {
        let c = MapChange {
            map: "stats".into(),
            key: Bytes(vec![0, 0, 0, 0]),
            before: Some(vec![Bytes(vec![0; 8]), Bytes(vec![0; 8])]),
            after: Some(vec![Bytes(vec![0; 8]), Bytes(vec![1, 0, 0, 0, 0, 0, 0, 0])]),
        };
        assert_eq!(
            map_change(&c, None),
            "stats[00000000]: changed (per-CPU values summed)\n  +0x0000: 0000000000000000 → 0100000000000000\n"
        );
    }

    #[test]
    fn struct_values_show_fields() {
        let field = |name: &str, offset, size, kind| ValueField { name: name.into(), offset, size, kind };
        let program = Program {
            object: "x.o".into(),
            hook: "xdp".into(),
            name: "xdp_x".into(),
            section: "xdp".into(),
            frags: false,
            also: Vec::new(),
            rodata: Vec::new(),
            controls: false,
            location: "x.pkt:1:1".into(),
            facts: ProgramFacts::default(),
            maps: vec![MapInfo {
                name: "sessions".into(),
                kind: MapKind::Hash,
                max_entries: 4,
                key_size: 4,
                value_size: 8,
                key: vec![field("", 0, 4, FieldRepr::Int)],
                value: vec![
                    field("ue_ip", 0, 4, FieldRepr::BigEndian),
                    field("vlan", 4, 2, FieldRepr::Int),
                    field("pad", 6, 2, FieldRepr::Int),
                ],
                pinned: false,
            }],
        };
        let v = |ip: [u8; 4], vlan: u16| {
            let mut b = ip.to_vec();
            b.extend_from_slice(&vlan.to_le_bytes());
            b.extend_from_slice(&[0, 0]);
            Some(vec![Bytes(b)])
        };
        let key = Bytes(7u32.to_le_bytes().to_vec());
        let change = |before, after| MapChange { map: "sessions".into(), key: key.clone(), before, after };
        assert_eq!(
            map_change(&change(None, v([10, 0, 0, 1], 300)), Some(&program)),
            "sessions[7]: added\n  ue_ip = 10.0.0.1\n  vlan = 300\n  pad = 0\n"
        );
        assert_eq!(
            map_change(&change(v([10, 0, 0, 1], 300), v([10, 0, 0, 1], 301)), Some(&program)),
            "sessions[7]: changed\n  vlan: 300 → 301\n"
        );
        assert_eq!(
            map_change(&change(v([10, 0, 0, 1], 300), None), Some(&program)).lines().next(),
            Some("sessions[7]: removed")
        );
    }

    #[test]
    fn views_are_left_out() {
        let ip = [0x45, 0, 0, 20, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip);
        let text = layers(&frame);
        assert!(text.contains("  dscp = 0\n") && text.contains("  ttl = 64\n"), "{text}");
        assert!(!text.contains("tos"), "{text}");
    }
}
