//! IP: IPv4 (with options), IPv6 and its extension headers (hop-by-hop and destination options,
//! routing types 0/2 and segment routing, fragment).

use super::{address, get, get_bytes, inet_checksum, ip_proto_for, is_set, round_up, Ctx, EncodeError, Writer};
use crate::wire::schema::ListKind;
use crate::wire::{Layer, LayerKind};

const MAX_IPV4_OPTIONS: usize = 40;

/// IPv4 options as they go on the wire: zero-padded to a multiple of 4 unless `ihl` is set.
fn ipv4_options(i: usize, layer: &Layer) -> Result<Vec<u8>, EncodeError> {
    let raw = get_bytes(layer, "options");
    let mut opts = raw.to_vec();
    if !is_set(layer, "ihl") {
        opts.resize(round_up(raw.len(), 4), 0);
    }
    if opts.len() > MAX_IPV4_OPTIONS {
        return Err(EncodeError::TooLong { layer: i, field: "options", len: raw.len(), max: MAX_IPV4_OPTIONS });
    }
    Ok(opts)
}

/// Hop-by-hop or destination options padded (Pad1 or PadN) so the header is a multiple of 8 bytes,
/// unless `len` is set.
fn ext_options(layer: &Layer) -> Vec<u8> {
    let mut opts = get_bytes(layer, "options").to_vec();
    if is_set(layer, "len") {
        return opts;
    }
    let pad = round_up(2 + opts.len(), 8) - 2 - opts.len();
    match pad {
        0 => {}
        1 => opts.push(0),
        n => {
            opts.extend_from_slice(&[1, (n - 2) as u8]);
            opts.resize(opts.len() + n - 2, 0);
        }
    }
    opts
}

/// Segments left of a routing header: as set, else `default`.
pub(super) fn segleft(layer: &Layer, default: usize) -> u64 {
    get(layer, "segleft").unwrap_or(default as u64)
}

pub(super) fn header_len(i: usize, l: &Layer) -> Result<usize, EncodeError> {
    Ok(match l.kind {
        LayerKind::Ipv4 => 20 + ipv4_options(i, l)?.len(),
        LayerKind::Ipv6 => 40,
        LayerKind::Hbh | LayerKind::DstOpts => 2 + ext_options(l).len(),
        LayerKind::Routing => 8 + addresses(i, l, "addresses")?.len(),
        LayerKind::Srh => {
            let tlvs = get_bytes(l, "tlvs").len();
            if !tlvs.is_multiple_of(8) {
                return Err(EncodeError::BadMultiple { layer: i, field: "tlvs", len: tlvs, multiple: 8 });
            }
            8 + addresses(i, l, "segments")?.len() + tlvs
        }
        LayerKind::Frag6 => 8,
        other => unreachable!("{other:?} is not an IP layer"),
    })
}

/// A list of IPv6 addresses: whole addresses only.
fn addresses<'a>(i: usize, l: &'a Layer, name: &'static str) -> Result<&'a [u8], EncodeError> {
    let a = get_bytes(l, name);
    if !a.len().is_multiple_of(16) {
        return Err(EncodeError::BadMultiple { layer: i, field: name, len: a.len(), multiple: 16 });
    }
    Ok(a)
}

pub(super) fn encode(ctx: &Ctx, w: &mut Writer) -> Result<(), EncodeError> {
    let i = ctx.i;
    let l = ctx.layer();
    match l.kind {
        LayerKind::Ipv4 => ipv4(ctx, w)?,
        LayerKind::Ipv6 => {
            w.field("version", 4, ctx.or("version", 6));
            let tc = match ctx.get("tc") {
                Some(tc) => tc,
                None => ctx.or("dscp", 0) << 2 | ctx.or("ecn", 0),
            };
            w.view("dscp", 4, 6);
            w.view("ecn", 10, 2);
            w.view("tc", 4, 8);
            w.bits(8, tc);
            w.field("flow", 20, ctx.or("flow", 0));
            w.field("plen", 16, ctx.length("plen", ctx.rest_len - 40, 16)?);
            w.field("nh", 8, ctx.or("nh", next_header(ctx)));
            w.field("hlim", 8, ctx.or("hlim", 64));
            w.bytes("src", &address(l, "src", 16));
            w.bytes("dst", &address(l, "dst", 16));
        }
        LayerKind::Hbh | LayerKind::DstOpts => {
            let opts = ext_options(l);
            w.field("nh", 8, ctx.or("nh", next_header(ctx)));
            w.field("len", 8, ctx.length("len", (2 + opts.len()).div_ceil(8).saturating_sub(1), 8)?);
            w.list("options", ListKind::Ipv6Options, &opts);
        }
        LayerKind::Routing => {
            let a = addresses(i, l, "addresses")?;
            w.field("nh", 8, ctx.or("nh", next_header(ctx)));
            w.field("len", 8, ctx.length("len", a.len() / 8, 8)?);
            w.field("type", 8, ctx.or("type", 0));
            w.field("segleft", 8, segleft(l, a.len() / 16));
            w.field("reserved", 32, ctx.or("reserved", 0));
            w.bytes("addresses", a);
        }
        LayerKind::Srh => {
            let s = addresses(i, l, "segments")?;
            let tlvs = get_bytes(l, "tlvs");
            let last = (s.len() / 16).saturating_sub(1);
            w.field("nh", 8, ctx.or("nh", next_header(ctx)));
            w.field("len", 8, ctx.length("len", (s.len() + tlvs.len()) / 8, 8)?);
            w.field("type", 8, ctx.or("type", 4));
            w.field("segleft", 8, segleft(l, last));
            w.field("last_entry", 8, ctx.or("last_entry", last as u64));
            w.field("flags", 8, ctx.or("flags", 0));
            w.field("tag", 16, ctx.or("tag", 0));
            w.bytes("segments", s);
            w.bytes("tlvs", tlvs);
        }
        LayerKind::Frag6 => {
            w.field("nh", 8, ctx.or("nh", next_header(ctx)));
            w.field("reserved", 8, ctx.or("reserved", 0));
            w.field("offset", 13, ctx.or("offset", 0));
            w.field("res", 2, ctx.or("res", 0));
            w.field("m", 1, ctx.or("m", 0));
            w.field("id", 32, ctx.or("id", 0));
        }
        other => unreachable!("{other:?} is not an IP layer"),
    }
    Ok(())
}

/// `nh` of an IPv6 header or extension header: the next layer's protocol; 59 (no next header) when
/// nothing follows; 0xfd (experimental) before a raw payload.
fn next_header(ctx: &Ctx) -> u64 {
    match (ip_proto_for(ctx.layers, ctx.i + 1), ctx.next_kind()) {
        (Some(p), _) => p,
        (None, None) => 59,
        (None, Some(_)) => 0xfd,
    }
}

fn ipv4(ctx: &Ctx, w: &mut Writer) -> Result<(), EncodeError> {
    let (layers, i) = (ctx.layers, ctx.i);
    let l = ctx.layer();
    let opts = ipv4_options(i, l)?;
    let hdr_len = 20 + opts.len();
    w.field("version", 4, ctx.or("version", 4));
    w.field("ihl", 4, ctx.or("ihl", (hdr_len / 4) as u64));
    let tos = match ctx.get("tos") {
        Some(tos) => tos,
        None => ctx.or("dscp", 0) << 2 | ctx.or("ecn", 0),
    };
    w.view("dscp", 8, 6);
    w.view("ecn", 14, 2);
    w.view("tos", 8, 8);
    w.bits(8, tos);
    w.field("len", 16, ctx.length("len", ctx.rest_len, 16)?);
    w.field("id", 16, ctx.or("id", 0));
    w.field("reserved", 1, ctx.or("reserved", 0));
    w.field("df", 1, ctx.or("df", 0));
    w.field("mf", 1, ctx.or("mf", 0));
    w.field("frag", 13, ctx.or("frag", 0));
    w.field("ttl", 8, ctx.or("ttl", 64));
    w.field("proto", 8, ctx.or("proto", ip_proto_for(layers, i + 1).unwrap_or(0xfd)));
    let csum_pos = w.pos();
    w.field("checksum", 16, ctx.or("checksum", 0));
    w.bytes("src", &address(l, "src", 4));
    w.bytes("dst", &address(l, "dst", 4));
    w.list("options", ListKind::Ipv4Options, &opts);
    if ctx.get("checksum").is_none() {
        let csum = inet_checksum(&[&w.buf]);
        w.patch16(csum_pos, csum);
    }
    Ok(())
}
