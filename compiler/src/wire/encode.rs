//! Layers to bytes. Derived fields (next-protocol numbers, lengths, checksums, GTP-U flags) are computed
//! only when the author did not set them; a value the author set is written as is, even when it is wrong.
//!
//! Encoding runs in two passes: the first sizes every layer's header (which depends only on the layer
//! itself), the second writes the layers back to front so that lengths and checksums see the final bytes
//! of everything that follows.
//!
//! Lengths (`ipv4.len`, `udp.len`, `gtpu.len`) cover everything to the end of the packet, including the
//! quoted packet after an ICMP error.

use super::{FieldKind, FieldValue, Layer, LayerKind};

/// Where one field sits in the encoded packet. `bit_offset` counts from the first bit of the packet,
/// most significant bit of each byte first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpan {
    /// Index of the layer in the slice given to [`encode`].
    pub layer: usize,
    pub field: &'static str,
    pub bit_offset: usize,
    pub bits: usize,
}

/// The bytes of a packet and the position of every field on the wire (set, default or derived), layer by
/// layer in order.
///
/// Some fields are alternative views of the same bits and all get a span: `ipv4.tos` over `dscp`+`ecn`,
/// `icmp.rest` over `id`+`seq` and `icmp.mtu` over `seq`. `gtpu_ext.ext_type` lives in the previous
/// header's `next_ext`; its span is 0 bits long at the start of the extension header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub spans: Vec<FieldSpan>,
}

/// Why a list of layers cannot be encoded. `layer` is the index in the slice given to [`encode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("layer {layer} ({kind}): unknown field `{field}`")]
    UnknownField { layer: usize, kind: &'static str, field: &'static str },
    #[error("layer {layer}: field `{field}` expects {expected}")]
    WrongType { layer: usize, field: &'static str, expected: &'static str },
    #[error("layer {layer}: value {value} does not fit field `{field}` ({bits} bits)")]
    TooWide { layer: usize, field: &'static str, value: u64, bits: u32 },
    #[error("layer {layer}: field `{field}` is {len} bytes long, at most {max} allowed")]
    TooLong { layer: usize, field: &'static str, len: usize, max: usize },
    #[error("layer {layer}: derived `{field}` would be {value}, more than the field can hold ({max})")]
    LengthOverflow { layer: usize, field: &'static str, value: usize, max: u64 },
    #[error("layer {layer}: field `{field}` must be set (the previous header's next_ext needs it)")]
    Missing { layer: usize, field: &'static str },
    #[error("layer {layer}: fields `{field}` and `{other}` both set the same bits to different values")]
    Conflict { layer: usize, field: &'static str, other: &'static str },
}

/// The GTP-U extension header type of a PDU Session Container.
pub(crate) const EXT_PDU_SESSION: u64 = 0x85;

/// Encodes a packet. See the module documentation for how derived fields are computed.
pub fn encode(layers: &[Layer]) -> Result<Encoded, EncodeError> {
    for (i, layer) in layers.iter().enumerate() {
        validate(i, layer)?;
    }
    let mut sizes = Vec::with_capacity(layers.len());
    for i in 0..layers.len() {
        sizes.push(header_len(layers, i)?);
    }
    let mut starts = Vec::with_capacity(layers.len());
    let mut total = 0usize;
    for size in &sizes {
        starts.push(total);
        total += size;
    }
    let mut bytes = vec![0u8; total];
    let mut per_layer: Vec<Vec<FieldSpan>> = vec![Vec::new(); layers.len()];
    for i in (0..layers.len()).rev() {
        let (head, tail) = bytes.split_at_mut(starts[i] + sizes[i]);
        let ctx = Ctx { layers, i, rest_len: total - starts[i], tail };
        let w = encode_layer(&ctx)?;
        // The writer produces exactly `sizes[i]` bytes (checked by the tests); never index past it.
        let len = w.buf.len().min(sizes[i]);
        head[starts[i]..starts[i] + len].copy_from_slice(&w.buf[..len]);
        per_layer[i] = w
            .spans
            .into_iter()
            .map(|(field, bit_offset, bits)| FieldSpan {
                layer: i,
                field,
                bit_offset: starts[i] * 8 + bit_offset,
                bits,
            })
            .collect();
    }
    Ok(Encoded { bytes, spans: per_layer.into_iter().flatten().collect() })
}

/// Checks every explicitly set field against the schema: known name, right type, fits its width.
fn validate(i: usize, layer: &Layer) -> Result<(), EncodeError> {
    for (&name, value) in &layer.fields {
        let Some(def) = layer.kind.field(name) else {
            return Err(EncodeError::UnknownField { layer: i, kind: layer.kind.name(), field: name });
        };
        let wrong = |expected| EncodeError::WrongType { layer: i, field: name, expected };
        let fits = |v: u64, bits: u32| {
            if bits < 64 && v >> bits != 0 {
                Err(EncodeError::TooWide { layer: i, field: name, value: v, bits })
            } else {
                Ok(())
            }
        };
        match (def.kind, value) {
            (FieldKind::Int { bits }, FieldValue::Int(v)) => fits(*v, u32::from(bits))?,
            (FieldKind::Int { .. }, _) => return Err(wrong("a number")),
            (FieldKind::Flag, FieldValue::Int(v)) => fits(*v, 1)?,
            (FieldKind::Flag, _) => return Err(wrong("a flag (0 or 1)")),
            (FieldKind::Ipv4Addr, FieldValue::Bytes(b)) if b.len() == 4 => {}
            (FieldKind::Ipv4Addr, FieldValue::Int(v)) => fits(*v, 32)?,
            (FieldKind::Ipv4Addr, _) => return Err(wrong("an IPv4 address")),
            (FieldKind::Mac, FieldValue::Bytes(b)) if b.len() == 6 => {}
            (FieldKind::Mac, FieldValue::Int(v)) => fits(*v, 48)?,
            (FieldKind::Mac, _) => return Err(wrong("a MAC address")),
            (FieldKind::Bytes, FieldValue::Bytes(_)) => {}
            (FieldKind::Bytes, _) => return Err(wrong("bytes")),
        }
    }
    Ok(())
}

/// A numeric field as set by the author (ints, flags, and addresses as big-endian numbers).
fn get(layer: &Layer, name: &str) -> Option<u64> {
    match layer.fields.get(name)? {
        FieldValue::Int(v) => Some(*v),
        FieldValue::Bytes(b) => Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))),
    }
}

fn is_set(layer: &Layer, name: &str) -> bool {
    layer.fields.contains_key(name)
}

fn get_bytes<'a>(layer: &'a Layer, name: &str) -> &'a [u8] {
    match layer.fields.get(name) {
        Some(FieldValue::Bytes(b)) => b,
        _ => &[],
    }
}

fn kind_at(layers: &[Layer], i: usize) -> Option<LayerKind> {
    layers.get(i).map(|l| l.kind)
}

fn is_ext(kind: Option<LayerKind>) -> bool {
    matches!(kind, Some(LayerKind::GtpuPduSession | LayerKind::GtpuExt))
}

fn round4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

const MAX_IPV4_OPTIONS: usize = 40;
/// An extension header is at most 255 * 4 bytes: length octet, content, next-type octet.
const MAX_EXT_CONTENT: usize = 255 * 4 - 2;

/// IPv4 options as they go on the wire: zero-padded to a multiple of 4 unless `ihl` is set.
fn ipv4_options(i: usize, layer: &Layer) -> Result<Vec<u8>, EncodeError> {
    let raw = get_bytes(layer, "options");
    let mut opts = raw.to_vec();
    if !is_set(layer, "ihl") {
        opts.resize(round4(raw.len()), 0);
    }
    if opts.len() > MAX_IPV4_OPTIONS {
        return Err(EncodeError::TooLong { layer: i, field: "options", len: raw.len(), max: MAX_IPV4_OPTIONS });
    }
    Ok(opts)
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

/// Byte length of layer `i`'s own header (for payload: its data).
fn header_len(layers: &[Layer], i: usize) -> Result<usize, EncodeError> {
    let l = &layers[i];
    Ok(match l.kind {
        LayerKind::Ether => 14,
        LayerKind::Vlan => 4,
        LayerKind::Ipv4 => 20 + ipv4_options(i, l)?.len(),
        LayerKind::Udp | LayerKind::Icmp => 8,
        LayerKind::Gtpu => {
            if gtpu_has_optional(layers, i) {
                12
            } else {
                8
            }
        }
        LayerKind::GtpuPduSession => {
            let (_, _, has_ppi) = pdu_session_shape(l);
            round4(1 + 2 + usize::from(has_ppi) + 1)
        }
        LayerKind::GtpuExt => {
            let content = get_bytes(l, "content").len();
            if content > MAX_EXT_CONTENT {
                return Err(EncodeError::TooLong { layer: i, field: "content", len: content, max: MAX_EXT_CONTENT });
            }
            round4(1 + content + 1)
        }
        LayerKind::Payload => get_bytes(l, "data").len(),
    })
}

/// The EtherType announcing layer `next` (used by ether.type and vlan.type).
fn ether_type_for(layers: &[Layer], next: usize) -> u64 {
    match kind_at(layers, next) {
        Some(LayerKind::Vlan) if kind_at(layers, next + 1) == Some(LayerKind::Vlan) => 0x88a8,
        Some(LayerKind::Vlan) => 0x8100,
        Some(LayerKind::Ipv4) => 0x0800,
        _ => 0x88b5,
    }
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

struct Ctx<'a> {
    layers: &'a [Layer],
    i: usize,
    /// Bytes from the start of this layer to the end of the packet.
    rest_len: usize,
    /// The already encoded bytes of every following layer.
    tail: &'a [u8],
}

impl Ctx<'_> {
    fn layer(&self) -> &Layer {
        &self.layers[self.i]
    }

    fn get(&self, name: &str) -> Option<u64> {
        get(self.layer(), name)
    }

    fn or(&self, name: &str, default: u64) -> u64 {
        self.get(name).unwrap_or(default)
    }

    /// A derived length: the explicit value, or `value` if it fits in `bits`.
    fn length(&self, name: &'static str, value: usize, bits: u32) -> Result<u64, EncodeError> {
        if let Some(v) = self.get(name) {
            return Ok(v);
        }
        let max = (1u64 << bits) - 1;
        match u64::try_from(value) {
            Ok(v) if v <= max => Ok(v),
            _ => Err(EncodeError::LengthOverflow { layer: self.i, field: name, value, max }),
        }
    }
}

/// Writes bits MSB-first and records the span of every field relative to the start of the layer.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
    bit: usize,
    spans: Vec<(&'static str, usize, usize)>,
}

impl Writer {
    fn bits(&mut self, bits: usize, value: u64) {
        for k in (0..bits).rev() {
            if self.bit & 7 == 0 {
                self.buf.push(0);
            }
            if k < 64 && (value >> k) & 1 == 1 {
                let last = self.buf.len() - 1;
                self.buf[last] |= 0x80 >> (self.bit % 8);
            }
            self.bit += 1;
        }
    }

    fn field(&mut self, name: &'static str, bits: usize, value: u64) {
        self.spans.push((name, self.bit, bits));
        self.bits(bits, value);
    }

    /// A span over bits already written (or about to be written) under another name.
    fn view(&mut self, name: &'static str, bit_offset: usize, bits: usize) {
        self.spans.push((name, bit_offset, bits));
    }

    fn bytes(&mut self, name: &'static str, data: &[u8]) {
        self.spans.push((name, self.bit, data.len() * 8));
        for &b in data {
            self.bits(8, u64::from(b));
        }
    }

    /// Byte position of the next byte to be written (the writer is byte aligned at this point).
    fn pos(&self) -> usize {
        self.bit / 8
    }

    fn patch16(&mut self, pos: usize, value: u16) {
        if let Some(dst) = self.buf.get_mut(pos..pos + 2) {
            dst.copy_from_slice(&value.to_be_bytes());
        }
    }
}

/// The one's-complement sum of 16-bit big-endian words (odd length padded with a zero byte), unfolded.
fn sum16(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum (RFC 1071) of the concatenation of `parts`.
pub(crate) fn inet_checksum(parts: &[&[u8]]) -> u16 {
    if parts.iter().all(|p| p.len() & 1 == 0) {
        return fold(parts.iter().fold(0, |acc, p| sum16(acc, p)));
    }
    fold(sum16(0, &parts.concat()))
}

fn encode_layer(ctx: &Ctx) -> Result<Writer, EncodeError> {
    let (layers, i) = (ctx.layers, ctx.i);
    let l = ctx.layer();
    let mut w = Writer::default();
    match l.kind {
        LayerKind::Ether => {
            w.field("dst", 48, ctx.or("dst", 0));
            w.field("src", 48, ctx.or("src", 0));
            w.field("type", 16, ctx.or("type", ether_type_for(layers, i + 1)));
        }
        LayerKind::Vlan => {
            w.field("pcp", 3, ctx.or("pcp", 0));
            w.field("dei", 1, ctx.or("dei", 0));
            w.field("vid", 12, ctx.or("vid", 0));
            w.field("type", 16, ctx.or("type", ether_type_for(layers, i + 1)));
        }
        LayerKind::Ipv4 => {
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
            let proto = match kind_at(layers, i + 1) {
                Some(LayerKind::Udp) => 17,
                Some(LayerKind::Icmp) => 1,
                Some(LayerKind::Ipv4) => 4,
                _ => 0xfd,
            };
            w.field("proto", 8, ctx.or("proto", proto));
            let csum_pos = w.pos();
            w.field("checksum", 16, ctx.or("checksum", 0));
            w.field("src", 32, ctx.or("src", 0));
            w.field("dst", 32, ctx.or("dst", 0));
            w.bytes("options", &opts);
            if ctx.get("checksum").is_none() {
                let csum = inet_checksum(&[&w.buf]);
                w.patch16(csum_pos, csum);
            }
        }
        LayerKind::Udp => {
            let gtpu_next = kind_at(layers, i + 1) == Some(LayerKind::Gtpu);
            let port = if gtpu_next { 2152 } else { 0 };
            w.field("sport", 16, ctx.or("sport", port));
            w.field("dport", 16, ctx.or("dport", port));
            let len = ctx.length("len", ctx.rest_len, 16)?;
            w.field("len", 16, len);
            let csum_pos = w.pos();
            w.field("checksum", 16, ctx.or("checksum", 0));
            if ctx.get("checksum").is_none() {
                let ip = layers[..i].iter().rposition(|l| l.kind == LayerKind::Ipv4);
                if let Some(ip) = ip {
                    let ip = &layers[ip];
                    let src = (get(ip, "src").unwrap_or(0) as u32).to_be_bytes();
                    let dst = (get(ip, "dst").unwrap_or(0) as u32).to_be_bytes();
                    // Receivers checksum `len` bytes (the header's own length) when they are there.
                    let covered = usize::try_from(len).unwrap_or(usize::MAX).min(ctx.rest_len);
                    let data_len = covered.saturating_sub(w.buf.len()).min(ctx.tail.len());
                    let pseudo_len = (len as u16).to_be_bytes();
                    let hdr_len = w.buf.len().min(covered);
                    let csum =
                        inet_checksum(&[&src, &dst, &[0, 17], &pseudo_len, &w.buf[..hdr_len], &ctx.tail[..data_len]]);
                    w.patch16(csum_pos, if csum == 0 { 0xffff } else { csum });
                }
            }
        }
        LayerKind::Icmp => {
            w.field("type", 8, ctx.or("type", 0));
            w.field("code", 8, ctx.or("code", 0));
            let csum_pos = w.pos();
            w.field("checksum", 16, ctx.or("checksum", 0));
            let rest = match ctx.get("rest") {
                Some(rest) => rest,
                None => {
                    let low = match (ctx.get("seq"), ctx.get("mtu")) {
                        (Some(s), Some(m)) if s != m => {
                            return Err(EncodeError::Conflict { layer: i, field: "seq", other: "mtu" })
                        }
                        (s, m) => s.or(m).unwrap_or(0),
                    };
                    ctx.or("id", 0) << 16 | low
                }
            };
            w.view("id", 32, 16);
            w.view("seq", 48, 16);
            w.view("mtu", 48, 16);
            w.view("rest", 32, 32);
            w.bits(32, rest);
            if ctx.get("checksum").is_none() {
                let csum = inet_checksum(&[&w.buf, ctx.tail]);
                w.patch16(csum_pos, csum);
            }
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
        LayerKind::Payload => {
            w.bytes("data", get_bytes(l, "data"));
        }
    }
    Ok(w)
}
