//! Differences between what a spec expects and what the program produced, in the author's terms:
//! packet fields by layer (decoded with the compiler's wire decoder), map values by field (from the
//! layout the fixture carries, each field shown the way the spec wrote it).

use xdptest_compiler::fixture::{Masked, ValueField};
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
                expected: f.show(&exp[r.clone()], &mask[r.clone()]),
                got: f.show(&got[r.clone()], &[]),
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

#[cfg(test)]
mod tests {
    use super::*;
    use xdptest_compiler::fixture::{Bytes, FieldRepr};

    fn int(name: &str, offset: u32, size: u32) -> ValueField {
        ValueField { name: name.into(), offset, size, kind: FieldRepr::Int }
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
