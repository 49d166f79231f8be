//! Layers to bytes. Derived fields (next-protocol numbers, lengths, checksums, presence flags) are
//! computed only when the author did not set them; a value the author set is written as is, even when
//! it is wrong.
//!
//! Encoding runs in two passes: the first sizes every layer's header (which depends only on the layer
//! itself), the second writes the layers back to front so that lengths and checksums see the final bytes
//! of everything that follows. The layers themselves are written by the family modules: [`link`]
//! (Ethernet, VLAN, MPLS, ARP), [`ip`] (IPv4, IPv6 and its extension headers), [`transport`] (UDP, TCP,
//! ICMP, ICMPv6) and [`tunnel`] (GRE, VXLAN, Geneve, GUE, GTP-U).
//!
//! Lengths (`ipv4.len`, `udp.len`, `gtpu.len`, ...) cover everything to the end of the packet, including
//! the quoted packet after an ICMP error.

mod ip;
mod link;
mod transport;
mod tunnel;

pub(crate) use transport::Icmpv6Form;

use super::options::views;
use super::schema::ListKind;
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
/// `tcp.flags` over the eight flags, `icmp.rest` over `id`+`seq`, and the named values inside option
/// lists (`tcp` `mss`, `wscale`, ...). `gtpu_ext.ext_type` lives in the previous header's `next_ext`;
/// its span is 0 bits long at the start of the extension header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub spans: Vec<FieldSpan>,
}

/// Why a list of layers cannot be encoded. `layer` is the index in the slice given to [`encode`]; the
/// messages leave it out, for the caller to name the layer as its user wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{kind} has no field `{field}`")]
    UnknownField { layer: usize, kind: &'static str, field: &'static str },
    #[error("field `{field}` expects {expected}")]
    WrongType { layer: usize, field: &'static str, expected: &'static str },
    #[error("value {value} does not fit field `{field}` ({bits} bits)")]
    TooWide { layer: usize, field: &'static str, value: u64, bits: u32 },
    #[error("field `{field}` is {len} bytes long, at most {max} allowed")]
    TooLong { layer: usize, field: &'static str, len: usize, max: usize },
    #[error("derived `{field}` would be {value}, more than the field can hold ({max})")]
    LengthOverflow { layer: usize, field: &'static str, value: usize, max: u64 },
    #[error("field `{field}` must be set (the previous header's next_ext needs it)")]
    Missing { layer: usize, field: &'static str },
    #[error("fields `{field}` and `{other}` both set the same bits to different values")]
    Conflict { layer: usize, field: &'static str, other: &'static str },
    #[error("`{field}` is not part of {form}{}", owners.as_ref().map(|o| format!("; it belongs to {o}")).unwrap_or_default())]
    NotInForm { layer: usize, field: &'static str, form: String, owners: Option<String> },
    #[error("field `{field}` is {len} bytes long, which must be a multiple of {multiple}")]
    BadMultiple { layer: usize, field: &'static str, len: usize, multiple: usize },
}

impl EncodeError {
    /// The index of the layer at fault.
    pub fn layer(&self) -> usize {
        match self {
            EncodeError::UnknownField { layer, .. }
            | EncodeError::WrongType { layer, .. }
            | EncodeError::TooWide { layer, .. }
            | EncodeError::TooLong { layer, .. }
            | EncodeError::LengthOverflow { layer, .. }
            | EncodeError::Missing { layer, .. }
            | EncodeError::Conflict { layer, .. }
            | EncodeError::NotInForm { layer, .. }
            | EncodeError::BadMultiple { layer, .. } => *layer,
        }
    }
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
            (FieldKind::Ipv6Addr, FieldValue::Bytes(b)) if b.len() == 16 => {}
            (FieldKind::Ipv6Addr, _) => return Err(wrong("an IPv6 address")),
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

/// An address field as bytes of `width` (set as bytes, or as a number), zeros when unset.
fn address(layer: &Layer, name: &str, width: usize) -> Vec<u8> {
    match layer.fields.get(name) {
        Some(FieldValue::Bytes(b)) => b.clone(),
        Some(FieldValue::Int(v)) => v.to_be_bytes()[8 - width.min(8)..].to_vec(),
        None => vec![0; width],
    }
}

fn kind_at(layers: &[Layer], i: usize) -> Option<LayerKind> {
    layers.get(i).map(|l| l.kind)
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// Byte length of layer `i`'s own header (for payload: its data).
fn header_len(layers: &[Layer], i: usize) -> Result<usize, EncodeError> {
    let l = &layers[i];
    match l.kind {
        LayerKind::Ether | LayerKind::Vlan | LayerKind::Mpls | LayerKind::Arp => Ok(link::header_len(l)),
        LayerKind::Ipv4
        | LayerKind::Ipv6
        | LayerKind::Hbh
        | LayerKind::DstOpts
        | LayerKind::Routing
        | LayerKind::Srh
        | LayerKind::Frag6 => ip::header_len(i, l),
        LayerKind::Udp | LayerKind::Tcp | LayerKind::Icmp | LayerKind::Icmpv6 => transport::header_len(i, l),
        LayerKind::Gre
        | LayerKind::Vxlan
        | LayerKind::Geneve
        | LayerKind::Gue
        | LayerKind::Gtpu
        | LayerKind::GtpuPduSession
        | LayerKind::GtpuExt => tunnel::header_len(layers, i),
        LayerKind::Payload => Ok(get_bytes(l, "data").len()),
    }
}

fn encode_layer(ctx: &Ctx) -> Result<Writer, EncodeError> {
    let mut w = Writer::default();
    match ctx.layer().kind {
        LayerKind::Ether | LayerKind::Vlan | LayerKind::Mpls | LayerKind::Arp => link::encode(ctx, &mut w),
        LayerKind::Ipv4
        | LayerKind::Ipv6
        | LayerKind::Hbh
        | LayerKind::DstOpts
        | LayerKind::Routing
        | LayerKind::Srh
        | LayerKind::Frag6 => ip::encode(ctx, &mut w)?,
        LayerKind::Udp | LayerKind::Tcp | LayerKind::Icmp | LayerKind::Icmpv6 => transport::encode(ctx, &mut w)?,
        LayerKind::Gre
        | LayerKind::Vxlan
        | LayerKind::Geneve
        | LayerKind::Gue
        | LayerKind::Gtpu
        | LayerKind::GtpuPduSession
        | LayerKind::GtpuExt => tunnel::encode(ctx, &mut w)?,
        LayerKind::Payload => w.bytes("data", get_bytes(ctx.layer(), "data")),
    }
    Ok(w)
}

/// The EtherType announcing layer `next` (ether.type, vlan.type, gre.proto, geneve.proto).
fn ether_type_for(layers: &[Layer], next: usize) -> u64 {
    match kind_at(layers, next) {
        Some(LayerKind::Vlan) if kind_at(layers, next + 1) == Some(LayerKind::Vlan) => 0x88a8,
        Some(LayerKind::Vlan) => 0x8100,
        Some(LayerKind::Ipv4) => 0x0800,
        Some(LayerKind::Ipv6) => 0x86dd,
        Some(LayerKind::Arp) => 0x0806,
        Some(LayerKind::Mpls) => 0x8847,
        Some(LayerKind::Ether) => 0x6558,
        _ => 0x88b5,
    }
}

/// The IP protocol number of layer `next` (ipv4.proto, ipv6.nh, extension headers' nh, gue.proto):
/// `None` when it is not an IP protocol (a payload, or nothing).
fn ip_proto_for(layers: &[Layer], next: usize) -> Option<u64> {
    Some(match kind_at(layers, next)? {
        LayerKind::Hbh => 0,
        LayerKind::Icmp => 1,
        LayerKind::Ipv4 => 4,
        LayerKind::Tcp => 6,
        LayerKind::Udp => 17,
        LayerKind::Ipv6 => 41,
        LayerKind::Routing | LayerKind::Srh => 43,
        LayerKind::Frag6 => 44,
        LayerKind::Gre => 47,
        LayerKind::Icmpv6 => 58,
        LayerKind::DstOpts => 60,
        _ => return None,
    })
}

pub(super) struct Ctx<'a> {
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

    fn next_kind(&self) -> Option<LayerKind> {
        kind_at(self.layers, self.i + 1)
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

    /// Errors for fields the author set that this form of the layer has no place for; `owners` says
    /// which forms have a field.
    fn only(&self, allowed: &[&str], form: &str, owners: impl Fn(&str) -> Option<String>) -> Result<(), EncodeError> {
        match self.layer().fields.keys().find(|k| !allowed.contains(k)) {
            Some(field) => {
                Err(EncodeError::NotInForm { layer: self.i, field, form: form.to_string(), owners: owners(field) })
            }
            None => Ok(()),
        }
    }
}

/// Writes bits MSB-first and records the span of every field relative to the start of the layer.
#[derive(Default)]
pub(super) struct Writer {
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

    /// A list field: its bytes, then a view for every named value in them.
    fn list(&mut self, name: &'static str, kind: ListKind, data: &[u8]) {
        let at = self.bit;
        self.bytes(name, data);
        for v in views(kind, data) {
            self.view(v.name, at + v.byte_offset * 8, v.bytes * 8);
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

/// The pseudo-header for an upper-layer checksum of layer `i` (protocol `proto`, `len` bytes): over the
/// nearest IP header before it, IPv4 (RFC 768/793) or IPv6 (RFC 8200 §8.1: with a routing header that
/// still has segments left, the final destination is the routing header's). `None` without an IP
/// header.
fn pseudo_header(layers: &[Layer], i: usize, proto: u8, len: usize) -> Option<Vec<u8>> {
    let ip = layers[..i].iter().rposition(|l| matches!(l.kind, LayerKind::Ipv4 | LayerKind::Ipv6))?;
    let l = &layers[ip];
    if l.kind == LayerKind::Ipv4 {
        let mut p = address(l, "src", 4);
        p.extend(address(l, "dst", 4));
        p.extend_from_slice(&[0, proto]);
        p.extend_from_slice(&(len as u16).to_be_bytes());
        return Some(p);
    }
    let mut dst = address(l, "dst", 16);
    for r in &layers[ip + 1..i] {
        let n_addrs = |name| get_bytes(r, name).len() / 16;
        let final_dest = match r.kind {
            LayerKind::Routing if ip::segleft(r, n_addrs("addresses")) != 0 && n_addrs("addresses") > 0 => {
                let a = get_bytes(r, "addresses");
                Some(a[a.len() - 16..].to_vec())
            }
            LayerKind::Srh if ip::segleft(r, n_addrs("segments").saturating_sub(1)) != 0 && n_addrs("segments") > 0 => {
                Some(get_bytes(r, "segments")[..16].to_vec())
            }
            _ => None,
        };
        if let Some(d) = final_dest {
            dst = d;
            break;
        }
    }
    let mut p = address(l, "src", 16);
    p.extend(dst);
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, proto]);
    Some(p)
}
