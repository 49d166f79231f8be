//! Tunnel headers: GRE, VXLAN, Geneve, GUE, and GTP-U with its extension headers. The protocol a
//! tunnel announces comes from the layer after it.

use super::{
    ether_type_for, get, get_bytes, inet_checksum, ip_proto_for, is_set, kind_at, round_up, Ctx, EncodeError, Writer,
    EXT_PDU_SESSION,
};
use crate::wire::schema::ListKind;
use crate::wire::{Layer, LayerKind};

/// An extension header is at most 255 * 4 bytes: length octet, content, next-type octet.
const MAX_EXT_CONTENT: usize = 255 * 4 - 2;

fn is_ext(kind: Option<LayerKind>) -> bool {
    matches!(kind, Some(LayerKind::GtpuPduSession | LayerKind::GtpuExt))
}

/// Whether the 4 optional GTP-U bytes (seq, npdu, next_ext) are written: when any of e/s/pn is 1, or
/// when the author set one of them (with explicit zero flags, a deliberately malformed header).
fn gtpu_has_optional(layers: &[Layer], i: usize) -> bool {
    let l = &layers[i];
    let (e, s, pn) = gtpu_flags(layers, i);
    e | s | pn != 0 || ["seq", "npdu", "next_ext"].iter().any(|f| is_set(l, f))
}

fn gtpu_flags(layers: &[Layer], i: usize) -> (u64, u64, u64) {
    let l = &layers[i];
    let e = get(l, "e").unwrap_or(u64::from(is_ext(kind_at(layers, i + 1))));
    let s = get(l, "s").unwrap_or(u64::from(is_set(l, "seq")));
    let pn = get(l, "pn").unwrap_or(u64::from(is_set(l, "npdu")));
    (e, s, pn)
}

/// PDU Session Container: (pdu_type, ppp, whether the PPI octet is written).
fn pdu_session_shape(l: &Layer) -> (u64, u64, bool) {
    let pdu_type = get(l, "pdu_type").unwrap_or(0);
    let ppp = get(l, "ppp").unwrap_or(u64::from(pdu_type == 0 && is_set(l, "ppi")));
    let has_ppi = is_set(l, "ppi") || (pdu_type == 0 && ppp == 1);
    (pdu_type, ppp, has_ppi)
}

/// GRE presence flags: (c, k, s), from the fields given unless set.
fn gre_flags(l: &Layer) -> (u64, u64, u64) {
    let c = get(l, "c").unwrap_or(u64::from(is_set(l, "checksum")));
    let k = get(l, "k").unwrap_or(u64::from(is_set(l, "key")));
    let s = get(l, "s").unwrap_or(u64::from(is_set(l, "seq")));
    (c, k, s)
}

/// Which optional parts a GRE header has: checksum (with reserved1), key, sequence number. A part is
/// written when its bit is set (C or R, RFC 1701, for the checksum) or when its field is given: a bit
/// the author sets to 0 next to its field gives a deliberately malformed header, as with GTP-U.
fn gre_parts(l: &Layer) -> (bool, bool, bool) {
    let (c, k, s) = gre_flags(l);
    (
        c == 1 || get(l, "r") == Some(1) || is_set(l, "checksum") || is_set(l, "reserved1"),
        k == 1 || is_set(l, "key"),
        s == 1 || is_set(l, "seq"),
    )
}

fn geneve_options(l: &Layer) -> Vec<u8> {
    let mut o = get_bytes(l, "options").to_vec();
    o.resize(round_up(o.len(), 4), 0);
    o
}

fn gue_fields(l: &Layer) -> Vec<u8> {
    let mut f = get_bytes(l, "fields").to_vec();
    f.resize(round_up(f.len(), 4), 0);
    f
}

pub(super) fn header_len(layers: &[Layer], i: usize) -> Result<usize, EncodeError> {
    let l = &layers[i];
    Ok(match l.kind {
        LayerKind::Gre => {
            let (csum, key, seq) = gre_parts(l);
            4 + 4 * (usize::from(csum) + usize::from(key) + usize::from(seq))
        }
        LayerKind::Vxlan => 8,
        LayerKind::Geneve => 8 + geneve_options(l).len(),
        LayerKind::Gue => 4 + gue_fields(l).len(),
        LayerKind::Gtpu => {
            if gtpu_has_optional(layers, i) {
                12
            } else {
                8
            }
        }
        LayerKind::GtpuPduSession => {
            let (_, _, has_ppi) = pdu_session_shape(l);
            round_up(1 + 2 + usize::from(has_ppi) + 1, 4)
        }
        LayerKind::GtpuExt => {
            let content = get_bytes(l, "content").len();
            if content > MAX_EXT_CONTENT {
                return Err(EncodeError::TooLong { layer: i, field: "content", len: content, max: MAX_EXT_CONTENT });
            }
            round_up(1 + content + 1, 4)
        }
        other => unreachable!("{other:?} is not a tunnel layer"),
    })
}

/// The extension header type announcing layer `next` (for next_ext fields): 0 if it is no extension.
fn next_ext_for(layers: &[Layer], next: usize) -> Result<u64, EncodeError> {
    match kind_at(layers, next) {
        Some(LayerKind::GtpuPduSession) => Ok(EXT_PDU_SESSION),
        Some(LayerKind::GtpuExt) => {
            get(&layers[next], "ext_type").ok_or(EncodeError::Missing { layer: next, field: "ext_type" })
        }
        _ => Ok(0),
    }
}

pub(super) fn encode(ctx: &Ctx, w: &mut Writer) -> Result<(), EncodeError> {
    let (layers, i) = (ctx.layers, ctx.i);
    let l = ctx.layer();
    match l.kind {
        LayerKind::Gre => gre(ctx, w),
        LayerKind::Vxlan => {
            w.field("flags", 8, ctx.or("flags", 0x08));
            w.field("reserved1", 24, ctx.or("reserved1", 0));
            w.field("vni", 24, ctx.or("vni", 0));
            w.field("reserved2", 8, ctx.or("reserved2", 0));
        }
        LayerKind::Geneve => {
            let opts = geneve_options(l);
            w.field("version", 2, ctx.or("version", 0));
            w.field("opt_len", 6, ctx.length("opt_len", opts.len() / 4, 6)?);
            w.field("o", 1, ctx.or("o", 0));
            w.field("c", 1, ctx.or("c", 0));
            w.field("reserved1", 6, ctx.or("reserved1", 0));
            w.field("proto", 16, ctx.or("proto", ether_type_for(layers, i + 1)));
            w.field("vni", 24, ctx.or("vni", 0));
            w.field("reserved2", 8, ctx.or("reserved2", 0));
            w.list("options", ListKind::GeneveOptions, &opts);
        }
        LayerKind::Gue => {
            let fields = gue_fields(l);
            w.field("version", 2, ctx.or("version", 0));
            w.field("c", 1, ctx.or("c", 0));
            w.field("hlen", 5, ctx.length("hlen", fields.len() / 4, 5)?);
            w.field("proto", 8, ctx.or("proto", ip_proto_for(layers, i + 1).unwrap_or(0xfd)));
            w.field("flags", 16, ctx.or("flags", 0));
            w.bytes("fields", &fields);
        }
        LayerKind::Gtpu => {
            let (e, s, pn) = gtpu_flags(layers, i);
            let optional = gtpu_has_optional(layers, i);
            w.field("version", 3, ctx.or("version", 1));
            w.field("pt", 1, ctx.or("pt", 1));
            w.field("reserved", 1, ctx.or("reserved", 0));
            w.field("e", 1, e);
            w.field("s", 1, s);
            w.field("pn", 1, pn);
            w.field("type", 8, ctx.or("type", 255));
            w.field("len", 16, ctx.length("len", ctx.rest_len.saturating_sub(8), 16)?);
            w.field("teid", 32, ctx.or("teid", 0));
            if optional {
                w.field("seq", 16, ctx.or("seq", 0));
                w.field("npdu", 8, ctx.or("npdu", 0));
                let next = match ctx.get("next_ext") {
                    Some(v) => v,
                    None => next_ext_for(layers, i + 1)?,
                };
                w.field("next_ext", 8, next);
            }
        }
        LayerKind::GtpuPduSession => {
            let size = header_len(layers, i)?;
            let (pdu_type, ppp, has_ppi) = pdu_session_shape(l);
            w.field("len", 8, ctx.length("len", size / 4, 8)?);
            w.field("pdu_type", 4, pdu_type);
            w.field("flags", 4, ctx.or("flags", 0));
            w.field("ppp", 1, ppp);
            w.field("rqi", 1, ctx.or("rqi", 0));
            w.field("qfi", 6, ctx.or("qfi", 0));
            if has_ppi {
                w.field("ppi", 3, ctx.or("ppi", 0));
                w.bits(5, 0);
            }
            while w.pos() + 1 < size {
                w.bits(8, 0);
            }
            let next = match ctx.get("next_ext") {
                Some(v) => v,
                None => next_ext_for(layers, i + 1)?,
            };
            w.field("next_ext", 8, next);
        }
        LayerKind::GtpuExt => {
            let size = header_len(layers, i)?;
            w.view("ext_type", 0, 0);
            w.field("len", 8, ctx.length("len", size / 4, 8)?);
            let mut content = get_bytes(l, "content").to_vec();
            content.resize(size - 2, 0);
            w.bytes("content", &content);
            let next = match ctx.get("next_ext") {
                Some(v) => v,
                None => next_ext_for(layers, i + 1)?,
            };
            w.field("next_ext", 8, next);
        }
        other => unreachable!("{other:?} is not a tunnel layer"),
    }
    Ok(())
}

fn gre(ctx: &Ctx, w: &mut Writer) {
    let l = ctx.layer();
    let (c, k, s) = gre_flags(l);
    w.field("c", 1, c);
    w.field("r", 1, ctx.or("r", 0));
    w.field("k", 1, k);
    w.field("s", 1, s);
    w.field("reserved0", 9, ctx.or("reserved0", 0));
    w.field("version", 3, ctx.or("version", 0));
    w.field("proto", 16, ctx.or("proto", ether_type_for(ctx.layers, ctx.i + 1)));
    let (has_csum, has_key, has_seq) = gre_parts(l);
    let mut csum_at = None;
    if has_csum {
        csum_at = Some(w.pos());
        w.field("checksum", 16, ctx.or("checksum", 0));
        w.field("reserved1", 16, ctx.or("reserved1", 0));
    }
    if has_key {
        w.field("key", 32, ctx.or("key", 0));
    }
    if has_seq {
        w.field("seq", 32, ctx.or("seq", 0));
    }
    // RFC 2784: the checksum covers the GRE header and the payload.
    if let (Some(at), None, 1) = (csum_at, ctx.get("checksum"), c) {
        let csum = inet_checksum(&[&w.buf, ctx.tail]);
        w.patch16(at, csum);
    }
}
