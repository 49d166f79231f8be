//! Differences between what a spec expects and what the program produced, in the author's terms:
//! packet fields by layer (decoded with the compiler's wire decoder), map values by field (from the
//! layout the compiler read from BTF).

use xdptest_compiler::fixture::{FieldRepr, Masked, ValueField};
use xdptest_compiler::wire::{decode, DecodedField, LayerKind};

use crate::verdict::{FieldDiff, PacketDiff};

/// Compares an output packet with an expected one; `None` when they match.
pub fn packet(expected: &Masked, got: &[u8]) -> Option<PacketDiff> {
    if expected.matches(got) {
        return None;
    }
    let (exp, mask) = (&expected.bytes.0, &expected.mask.0);
    let de = decode(exp);
    let dg = decode(got);
    let mut fields = Vec::new();
    let mut notes = Vec::new();
    let mut counts: Vec<(LayerKind, usize)> = Vec::new();
    for (i, le) in de.layers.iter().enumerate() {
        let nth = {
            match counts.iter_mut().find(|(k, _)| *k == le.kind) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    counts.push((le.kind, 1));
                    1
                }
            }
        };
        let total = de.layers.iter().filter(|l| l.kind == le.kind).count();
        let layer_name = if total > 1 { format!("{}:{nth}", le.kind.name()) } else { le.kind.name().to_string() };
        let Some(lg) = dg.layers.get(i) else {
            notes.push(format!("the output ends before the {layer_name} layer"));
            break;
        };
        if lg.kind != le.kind {
            notes.push(format!("layer {}: expected {layer_name}, got {}", i + 1, lg.kind.name()));
            break;
        }
        for fe in &le.fields {
            if fe.bits == 0 || fully_masked_out(mask, fe) {
                continue;
            }
            let Some(fg) = lg.fields.iter().find(|f| f.name == fe.name && f.bit_offset == fe.bit_offset) else {
                continue;
            };
            if masked_bits(exp, mask, fe) != masked_bits(got, mask, fe) {
                fields.push(FieldDiff {
                    layer: layer_name.clone(),
                    field: fe.name.to_string(),
                    expected: fe.display_value(),
                    got: fg.display_value(),
                });
            }
        }
    }
    if got.len() != exp.len() {
        notes.push(format!("expected {} bytes, got {}", exp.len(), got.len()));
    }
    if fields.is_empty() && notes.is_empty() {
        notes.push("the bytes differ where no decoded field explains it (see the hexdump)".into());
    }
    Some(PacketDiff { fields, notes, expected: exp.clone(), mask: mask.clone(), got: got.to_vec() })
}

fn fully_masked_out(mask: &[u8], f: &DecodedField) -> bool {
    (f.bit_offset..f.bit_offset + f.bits).all(|b| mask.get(b / 8).is_none_or(|m| m & (0x80 >> (b % 8)) == 0))
}

fn masked_bits(bytes: &[u8], mask: &[u8], f: &DecodedField) -> Vec<Option<bool>> {
    (f.bit_offset..f.bit_offset + f.bits)
        .map(|b| {
            let bit = 0x80 >> (b % 8);
            let m = mask.get(b / 8).is_some_and(|m| m & bit != 0);
            m.then(|| bytes.get(b / 8).is_some_and(|x| x & bit != 0))
        })
        .collect()
}

/// Compares a map value field by field under the mask; empty when it matches.
pub fn value(layout: &[ValueField], expected: &Masked, got: &[u8]) -> Vec<FieldDiff> {
    let (exp, mask) = (&expected.bytes.0, &expected.mask.0);
    let mut out = Vec::new();
    let mut covered = vec![false; exp.len()];
    for f in layout {
        let r = f.offset as usize..(f.offset + f.size) as usize;
        if r.end > exp.len() || r.end > got.len() {
            continue;
        }
        covered[r.clone()].iter_mut().for_each(|c| *c = true);
        let differs = r.clone().any(|i| exp[i] & mask[i] != got[i] & mask[i]);
        if differs {
            out.push(FieldDiff {
                layer: String::new(),
                field: f.name.clone(),
                expected: render(f, &exp[r.clone()], &mask[r.clone()]),
                got: render(f, &got[r.clone()], &[0xff; 64][..r.len().min(64)]),
            });
        }
    }
    // Bytes no field covers (padding, unknown layouts): compare them too, as raw bytes.
    let stray = (0..exp.len().min(got.len())).any(|i| !covered[i] && exp[i] & mask[i] != got[i] & mask[i]);
    if stray || (out.is_empty() && !expected.matches(got)) {
        out.push(FieldDiff {
            layer: String::new(),
            field: "(bytes)".into(),
            expected: xdptest_compiler::fixture::hex(exp),
            got: xdptest_compiler::fixture::hex(got),
        });
    }
    out
}

/// A value field as the author wrote it: integers in decimal, `__be32` as an address, MACs as MACs.
pub fn render(f: &ValueField, bytes: &[u8], mask: &[u8]) -> String {
    if mask.iter().all(|m| *m == 0) {
        return "*".into();
    }
    match f.kind {
        FieldRepr::Int if bytes.len() <= 8 => {
            let mut b = [0u8; 8];
            b[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(b).to_string()
        }
        FieldRepr::BigEndian if bytes.len() == 4 => {
            format!("{}.{}.{}.{}", bytes[0], bytes[1], bytes[2], bytes[3])
        }
        FieldRepr::BigEndian if bytes.len() <= 8 => bytes.iter().fold(0u64, |a, b| a << 8 | u64::from(*b)).to_string(),
        FieldRepr::Bytes if bytes.len() == 6 => bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
        _ => xdptest_compiler::fixture::hex(bytes),
    }
}

/// Sums per-CPU values field by field (integer fields; other bytes are taken from CPU 0).
pub fn sum_per_cpu(layout: &[ValueField], values: &[Vec<u8>]) -> Vec<u8> {
    let Some(first) = values.first() else {
        return Vec::new();
    };
    let mut out = first.clone();
    for f in layout {
        let r = f.offset as usize..(f.offset + f.size) as usize;
        if r.end > out.len() || f.size > 8 {
            continue;
        }
        let read = |b: &[u8]| -> u64 {
            match f.kind {
                FieldRepr::BigEndian => b.iter().fold(0u64, |a, x| a << 8 | u64::from(*x)),
                _ => b.iter().rev().fold(0u64, |a, x| a << 8 | u64::from(*x)),
            }
        };
        if f.kind == FieldRepr::Bytes {
            continue;
        }
        let total = values.iter().fold(0u64, |acc, v| acc.wrapping_add(read(&v[r.clone()])));
        let n = f.size as usize;
        for i in 0..n {
            let byte = (total >> (8 * i)) as u8;
            let at = if f.kind == FieldRepr::BigEndian { r.start + n - 1 - i } else { r.start + i };
            out[at] = byte;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use xdptest_compiler::fixture::Bytes;

    fn int(name: &str, offset: u32, size: u32) -> ValueField {
        ValueField { name: name.into(), offset, size, kind: FieldRepr::Int }
    }

    #[test]
    fn per_cpu_sums_each_integer_field() {
        let layout =
            [int("packets", 0, 8), ValueField { name: "addr".into(), offset: 8, size: 4, kind: FieldRepr::BigEndian }];
        let cpu0 = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff].to_vec();
        let cpu1 = [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01].to_vec();
        let sum = sum_per_cpu(&layout, &[cpu0, cpu1]);
        assert_eq!(sum, [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn value_diff_names_fields() {
        let layout = [int("a", 0, 2), int("b", 2, 2)];
        let exp = Masked { bytes: Bytes(vec![1, 0, 2, 0]), mask: Bytes(vec![0xff, 0xff, 0, 0]) };
        assert!(value(&layout, &exp, &[1, 0, 9, 9]).is_empty());
        let d = value(&layout, &exp, &[7, 0, 2, 0]);
        assert_eq!(
            d,
            vec![FieldDiff { layer: String::new(), field: "a".into(), expected: "1".into(), got: "7".into() }]
        );
    }
}
