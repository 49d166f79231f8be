//! Bytes to named fields, for field-level diffs and reports. The decoder follows the same layer choices
//! as a receiver would (EtherType, IP protocol, UDP port 2152, GTP-U next-extension types, the first
//! nibble of a G-PDU) and never panics: whatever it cannot parse becomes a trailing `payload` layer, and
//! `truncated` says why it stopped early.
//!
//! Lengths in headers (`ipv4.len`, `udp.len`, `gtpu.len`) are decoded as values but never used to bound
//! what follows: decoding always runs to the end of the bytes, which keeps quoted (truncated) packets in
//! ICMP errors and deliberately wrong lengths decodable. The payload of a non-first IPv4 fragment
//! (`frag` != 0) is not parsed further.

use super::encode::EXT_PDU_SESSION;
use super::{FieldValue, LayerKind};

/// One decoded field; `bit_offset` counts from the first bit of the packet, MSB first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedField {
    pub name: &'static str,
    pub value: FieldValue,
    pub bit_offset: usize,
    pub bits: usize,
}

/// One decoded layer: its fields in wire order, and which bytes its own header occupies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedLayer {
    pub kind: LayerKind,
    pub fields: Vec<DecodedField>,
    pub byte_offset: usize,
    pub byte_len: usize,
}

/// A decoded packet. `truncated` is set when a header was cut short (the rest is then a payload layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub layers: Vec<DecodedLayer>,
    pub truncated: Option<String>,
}

impl DecodedLayer {
    /// The field called `name`, if this layer has it.
    pub fn field(&self, name: &str) -> Option<&DecodedField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The numeric value of field `name`, if this layer has it and it is a number.
    pub fn int(&self, name: &str) -> Option<u64> {
        match self.field(name)?.value {
            FieldValue::Int(v) => Some(v),
            FieldValue::Bytes(_) => None,
        }
    }
}

impl DecodedField {
    /// Renders the value for humans: decimal numbers, hex for checksums, EtherTypes and extension
    /// header types (`0x0800`), dotted IPv4 addresses, colon-separated lowercase MACs, other bytes as
    /// lowercase hex (`(empty)` when there are none).
    pub fn display_value(&self) -> String {
        match &self.value {
            FieldValue::Int(v) => {
                let hex = self.name == "checksum"
                    || (self.name == "type" && self.bits == 16)
                    || self.name == "next_ext"
                    || self.name == "ext_type";
                if hex {
                    let digits = self.bits.div_ceil(4).max(2);
                    format!("0x{v:0digits$x}")
                } else {
                    v.to_string()
                }
            }
            FieldValue::Bytes(b) => {
                let addr = matches!(self.name, "src" | "dst");
                if addr && b.len() == 4 {
                    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
                } else if addr && b.len() == 6 {
                    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
                } else if b.is_empty() {
                    "(empty)".to_string()
                } else {
                    b.iter().map(|x| format!("{x:02x}")).collect()
                }
            }
        }
    }
}

/// Decodes an Ethernet frame. Never panics.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut d = Decoder { data: bytes, pos: 0, layers: Vec::new(), truncated: None };
    d.run();
    if d.pos < bytes.len() {
        let mut l = d.start(LayerKind::Payload);
        let rest = bytes.len() - d.pos;
        l.bytes(&d, "data", rest);
        d.finish(l);
    }
    Decoded { layers: d.layers, truncated: d.truncated }
}

#[derive(Clone, Copy)]
enum Next {
    Ether,
    Vlan,
    Ipv4,
    Udp,
    Icmp,
    Gtpu,
    Payload,
}

struct Decoder<'a> {
    data: &'a [u8],
    /// Byte position of the next unread byte.
    pos: usize,
    layers: Vec<DecodedLayer>,
    truncated: Option<String>,
}

/// A layer under construction; fields are read from the decoder's current position.
struct Building {
    kind: LayerKind,
    start: usize,
    /// Bit position of the next unread bit, from the start of the packet.
    bit: usize,
    fields: Vec<DecodedField>,
}

impl Building {
    /// Reads a `bits` wide number. The caller has checked that the bytes are there; missing bits read
    /// as zero rather than panicking.
    fn int(&mut self, d: &Decoder, name: &'static str, bits: usize) -> u64 {
        let value = d.bits_at(self.bit, bits);
        self.fields.push(DecodedField { name, value: FieldValue::Int(value), bit_offset: self.bit, bits });
        self.bit += bits;
        value
    }

    /// Skips bits that belong to no field (spare bits, padding).
    fn skip(&mut self, bits: usize) {
        self.bit += bits;
    }

    /// A field over bits already read under another name.
    fn view(&mut self, d: &Decoder, name: &'static str, bit_offset: usize, bits: usize) {
        let value = d.bits_at(bit_offset, bits);
        self.fields.push(DecodedField { name, value: FieldValue::Int(value), bit_offset, bits });
    }

    /// Reads `n` bytes (byte aligned) as a bytes field, and advances the decoder past them.
    fn bytes(&mut self, d: &Decoder, name: &'static str, n: usize) -> Vec<u8> {
        let from = (self.bit / 8).min(d.data.len());
        let to = from.saturating_add(n).min(d.data.len());
        let value = d.data[from..to].to_vec();
        self.fields.push(DecodedField {
            name,
            value: FieldValue::Bytes(value.clone()),
            bit_offset: from * 8,
            bits: (to - from) * 8,
        });
        self.bit = to * 8;
        value
    }
}

impl Decoder<'_> {
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// Whether `n` more bytes are there for `what`; if not, records why decoding stops.
    fn need(&mut self, n: usize, what: &str) -> bool {
        let left = self.remaining();
        if left >= n {
            return true;
        }
        self.truncated = Some(format!("{what}: needs {n} bytes, only {left} left"));
        false
    }

    fn bits_at(&self, bit: usize, bits: usize) -> u64 {
        let mut v = 0u64;
        for k in 0..bits {
            let b = bit + k;
            let set = self.data.get(b / 8).is_some_and(|byte| byte & (0x80 >> (b % 8)) != 0);
            v = (v << 1) | u64::from(set);
        }
        v
    }

    fn start(&self, kind: LayerKind) -> Building {
        Building { kind, start: self.pos, bit: self.pos * 8, fields: Vec::new() }
    }

    fn finish(&mut self, l: Building) {
        let end = l.bit.div_ceil(8).min(self.data.len()).max(l.start);
        self.pos = end;
        self.layers.push(DecodedLayer {
            kind: l.kind,
            fields: l.fields,
            byte_offset: l.start,
            byte_len: end - l.start,
        });
    }

    fn run(&mut self) {
        let mut next = Next::Ether;
        while self.pos < self.data.len() {
            next = match next {
                Next::Ether => match self.ether() {
                    Some(n) => n,
                    None => return,
                },
                Next::Vlan => match self.vlan() {
                    Some(n) => n,
                    None => return,
                },
                Next::Ipv4 => match self.ipv4() {
                    Some(n) => n,
                    None => return,
                },
                Next::Udp => match self.udp() {
                    Some(n) => n,
                    None => return,
                },
                Next::Icmp => match self.icmp() {
                    Some(n) => n,
                    None => return,
                },
                Next::Gtpu => match self.gtpu() {
                    Some(n) => n,
                    None => return,
                },
                Next::Payload => return,
            };
        }
    }

    fn after_ether_type(t: u64) -> Next {
        match t {
            0x8100 | 0x88a8 => Next::Vlan,
            0x0800 => Next::Ipv4,
            _ => Next::Payload,
        }
    }

    fn ether(&mut self) -> Option<Next> {
        if !self.need(14, "ether") {
            return None;
        }
        let mut l = self.start(LayerKind::Ether);
        l.bytes(self, "dst", 6);
        l.bytes(self, "src", 6);
        let t = l.int(self, "type", 16);
        self.finish(l);
        Some(Self::after_ether_type(t))
    }

    fn vlan(&mut self) -> Option<Next> {
        if !self.need(4, "vlan") {
            return None;
        }
        let mut l = self.start(LayerKind::Vlan);
        l.int(self, "pcp", 3);
        l.int(self, "dei", 1);
        l.int(self, "vid", 12);
        let t = l.int(self, "type", 16);
        self.finish(l);
        Some(Self::after_ether_type(t))
    }

    fn ipv4(&mut self) -> Option<Next> {
        if !self.need(20, "ipv4") {
            return None;
        }
        let mut l = self.start(LayerKind::Ipv4);
        l.int(self, "version", 4);
        let ihl = l.int(self, "ihl", 4);
        let tos_at = l.bit;
        l.int(self, "dscp", 6);
        l.int(self, "ecn", 2);
        l.view(self, "tos", tos_at, 8);
        l.int(self, "len", 16);
        l.int(self, "id", 16);
        l.int(self, "reserved", 1);
        l.int(self, "df", 1);
        l.int(self, "mf", 1);
        let frag = l.int(self, "frag", 13);
        l.int(self, "ttl", 8);
        let proto = l.int(self, "proto", 8);
        l.int(self, "checksum", 16);
        l.bytes(self, "src", 4);
        l.bytes(self, "dst", 4);
        let opt_len = (ihl as usize * 4).saturating_sub(20);
        let left = self.remaining() - 20;
        if opt_len > left {
            self.truncated = Some(format!("ipv4: header length {} exceeds the {} bytes left", ihl * 4, left + 20));
        }
        l.bytes(self, "options", opt_len);
        self.finish(l);
        if self.truncated.is_some() {
            return None;
        }
        Some(match proto {
            _ if frag != 0 => Next::Payload,
            17 => Next::Udp,
            1 => Next::Icmp,
            4 => Next::Ipv4,
            _ => Next::Payload,
        })
    }

    fn udp(&mut self) -> Option<Next> {
        if !self.need(8, "udp") {
            return None;
        }
        let mut l = self.start(LayerKind::Udp);
        let sport = l.int(self, "sport", 16);
        let dport = l.int(self, "dport", 16);
        l.int(self, "len", 16);
        l.int(self, "checksum", 16);
        self.finish(l);
        Some(if sport == 2152 || dport == 2152 { Next::Gtpu } else { Next::Payload })
    }

    fn icmp(&mut self) -> Option<Next> {
        if !self.need(8, "icmp") {
            return None;
        }
        let mut l = self.start(LayerKind::Icmp);
        let t = l.int(self, "type", 8);
        l.int(self, "code", 8);
        l.int(self, "checksum", 16);
        let rest_at = l.bit;
        l.int(self, "id", 16);
        let seq_at = l.bit;
        l.int(self, "seq", 16);
        l.view(self, "mtu", seq_at, 16);
        l.view(self, "rest", rest_at, 32);
        self.finish(l);
        // Error messages quote the offending packet, starting with its IPv4 header.
        Some(if matches!(t, 3 | 5 | 11 | 12) { Next::Ipv4 } else { Next::Payload })
    }

    fn gtpu(&mut self) -> Option<Next> {
        let optional = self.data.get(self.pos).is_some_and(|b| b & 0x07 != 0);
        if !self.need(if optional { 12 } else { 8 }, "gtpu") {
            return None;
        }
        let mut l = self.start(LayerKind::Gtpu);
        l.int(self, "version", 3);
        l.int(self, "pt", 1);
        l.int(self, "reserved", 1);
        let e = l.int(self, "e", 1);
        l.int(self, "s", 1);
        l.int(self, "pn", 1);
        let msg = l.int(self, "type", 8);
        l.int(self, "len", 16);
        l.int(self, "teid", 32);
        let mut next_ext = 0;
        if optional {
            l.int(self, "seq", 16);
            l.int(self, "npdu", 8);
            next_ext = l.int(self, "next_ext", 8);
        }
        self.finish(l);
        if e == 1 {
            while next_ext != 0 {
                next_ext = self.gtpu_ext_header(next_ext)?;
            }
        }
        let inner_ipv4 = self.data.get(self.pos).is_some_and(|b| b >> 4 == 4);
        Some(if msg == 255 && inner_ipv4 { Next::Ipv4 } else { Next::Payload })
    }

    /// Decodes one extension header of type `ext_type`; returns its next_ext.
    fn gtpu_ext_header(&mut self, ext_type: u64) -> Option<u64> {
        let Some(&len) = self.data.get(self.pos) else {
            self.truncated = Some(format!("gtpu: extension header 0x{ext_type:02x} announced but missing"));
            return None;
        };
        if len == 0 {
            self.truncated = Some(format!("gtpu: extension header 0x{ext_type:02x} has length 0"));
            return None;
        }
        let size = usize::from(len) * 4;
        let what = if ext_type == EXT_PDU_SESSION { "pdu_session" } else { "gtpu_ext" };
        if !self.need(size, what) {
            return None;
        }
        let end_bit = (self.pos + size - 1) * 8;
        let next;
        if ext_type == EXT_PDU_SESSION {
            let mut l = self.start(LayerKind::GtpuPduSession);
            l.int(self, "len", 8);
            let pdu_type = l.int(self, "pdu_type", 4);
            l.int(self, "flags", 4);
            let ppp = l.int(self, "ppp", 1);
            l.int(self, "rqi", 1);
            l.int(self, "qfi", 6);
            if pdu_type == 0 && ppp == 1 && size > 4 {
                l.int(self, "ppi", 3);
                l.skip(5);
            }
            l.bit = end_bit;
            next = l.int(self, "next_ext", 8);
            self.finish(l);
        } else {
            let mut l = self.start(LayerKind::GtpuExt);
            l.fields.push(DecodedField {
                name: "ext_type",
                value: FieldValue::Int(ext_type),
                bit_offset: l.bit,
                bits: 0,
            });
            l.int(self, "len", 8);
            l.bytes(self, "content", size - 2);
            next = l.int(self, "next_ext", 8);
            self.finish(l);
        }
        Some(next)
    }
}
