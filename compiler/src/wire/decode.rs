//! Bytes to named fields, for field-level diffs and reports. The decoder follows the same layer choices
//! as a receiver would (EtherType, IP protocol and next header, well-known UDP ports, GTP-U
//! next-extension types, GRE and Geneve protocol types, the first nibble after MPLS or in a G-PDU) and
//! never panics: whatever it cannot parse becomes a trailing `payload` layer, and `truncated` says why it
//! stopped early. It emits exactly the fields the encoder spans, at the same bits (the round-trip tests
//! check that), including the named values inside option lists.
//!
//! Lengths in headers (`ipv4.len`, `udp.len`, `gtpu.len`, ...) are decoded as values but never used to
//! bound what follows: decoding always runs to the end of the bytes, which keeps quoted (truncated)
//! packets in ICMP errors and deliberately wrong lengths decodable. The payload of a non-first IPv4 or
//! IPv6 fragment is not parsed further. UDP carrying IP directly (FOU, GUE variant 1) is recognised on
//! GUE's port, or elsewhere only when the payload is a whole, consistent IP packet.

use super::encode::EXT_PDU_SESSION;
use super::options::views;
use super::schema::{Display, ListKind};
use super::{FieldKind, FieldValue, LayerKind};

/// How a decoded value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Hex,
    /// The names of the set bits (`syn|ack`).
    FlagSet(&'static [(&'static str, u64)]),
    Ipv4,
    Ipv6,
    Mac,
    Ipv6List,
    Bytes,
}

/// One decoded field; `bit_offset` counts from the first bit of the packet, MSB first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedField {
    pub name: &'static str,
    pub value: FieldValue,
    pub bit_offset: usize,
    pub bits: usize,
    pub style: Style,
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
    /// The value as a spec would write it: decimal numbers; hex for checksums, EtherTypes and
    /// extension header types (`0x0800`); flag names (`syn|ack`); addresses as addresses; other bytes
    /// as lowercase hex (`(empty)` when there are none).
    pub fn display_value(&self) -> String {
        let hex = |b: &[u8]| -> String {
            if b.is_empty() {
                "(empty)".to_string()
            } else {
                crate::fixture::hex(b)
            }
        };
        match (&self.value, self.style) {
            (FieldValue::Int(v), Style::Hex) => {
                let digits = self.bits.div_ceil(4).max(2);
                format!("0x{v:0digits$x}")
            }
            (FieldValue::Int(v), Style::FlagSet(symbols)) => {
                let mut names = Vec::new();
                let mut left = *v;
                // Highest bit first reads like tcpdump's order, `syn|ack` as people write it: low first.
                for (name, bit) in symbols.iter() {
                    if v & bit != 0 {
                        names.push(name.to_string());
                        left &= !bit;
                    }
                }
                if left != 0 || names.is_empty() {
                    names.push(format!("0x{left:02x}"));
                }
                names.join("|")
            }
            (FieldValue::Int(v), _) => v.to_string(),
            (FieldValue::Bytes(b), Style::Ipv4) if b.len() == 4 => format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
            (FieldValue::Bytes(b), Style::Ipv6) if b.len() == 16 => {
                let a: [u8; 16] = b[..].try_into().expect("16 bytes");
                std::net::Ipv6Addr::from(a).to_string()
            }
            (FieldValue::Bytes(b), Style::Mac) if b.len() == 6 => {
                b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
            }
            (FieldValue::Bytes(b), Style::Ipv6List) if b.len() % 16 == 0 && !b.is_empty() => b
                .chunks(16)
                .map(|c| std::net::Ipv6Addr::from(<[u8; 16]>::try_from(c).expect("16 bytes")).to_string())
                .collect::<Vec<_>>()
                .join(", "),
            (FieldValue::Bytes(b), _) => hex(b),
        }
    }
}

/// How the schema says a field of `kind` is shown.
fn style_of(kind: LayerKind, name: &str) -> Style {
    let Some(def) = kind.field(name) else { return Style::Plain };
    match (def.kind, def.display) {
        (_, Display::FlagSet) => Style::FlagSet(def.symbols),
        (_, Display::Ipv6List) => Style::Ipv6List,
        (_, Display::Hex) => Style::Hex,
        (FieldKind::Ipv4Addr, _) => Style::Ipv4,
        (FieldKind::Ipv6Addr, _) => Style::Ipv6,
        (FieldKind::Mac, _) => Style::Mac,
        (FieldKind::Bytes, _) => Style::Bytes,
        _ => Style::Plain,
    }
}

/// How a named value inside an option list is shown.
fn view_style(name: &str, value: &FieldValue) -> Style {
    match (name, value) {
        ("src_lladdr" | "tgt_lladdr", _) => Style::Mac,
        ("prefix", _) => Style::Ipv6,
        (_, FieldValue::Int(_)) => Style::Plain,
        _ => Style::Bytes,
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

/// What the decoder reads next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    Ether,
    Vlan,
    Mpls,
    Arp,
    Ipv4,
    Ipv6,
    /// An IPv6 extension header or upper layer by its protocol number (IPv6 next header).
    Proto(u64),
    Udp,
    Tcp,
    Icmp,
    Icmpv6,
    Gre,
    Vxlan,
    Geneve,
    Gue,
    Gtpu,
    /// IP whose version the first nibble tells (after MPLS, in FOU).
    IpByVersion,
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
        let style = style_of(self.kind, name);
        self.fields.push(DecodedField { name, value: FieldValue::Int(value), bit_offset: self.bit, bits, style });
        self.bit += bits;
        value
    }

    /// Skips bits that belong to no field (spare bits, padding).
    fn skip(&mut self, bits: usize) {
        self.bit += bits;
    }

    /// A field over bits already read (or about to be read) under another name.
    fn view(&mut self, d: &Decoder, name: &'static str, bit_offset: usize, bits: usize) {
        let value = d.bits_at(bit_offset, bits);
        let style = style_of(self.kind, name);
        self.fields.push(DecodedField { name, value: FieldValue::Int(value), bit_offset, bits, style });
    }

    /// Reads `n` bytes (byte aligned) as a bytes field, and advances past them.
    fn bytes(&mut self, d: &Decoder, name: &'static str, n: usize) -> Vec<u8> {
        let from = (self.bit / 8).min(d.data.len());
        let to = from.saturating_add(n).min(d.data.len());
        let value = d.data[from..to].to_vec();
        let style = style_of(self.kind, name);
        self.fields.push(DecodedField {
            name,
            value: FieldValue::Bytes(value.clone()),
            bit_offset: from * 8,
            bits: (to - from) * 8,
            style,
        });
        self.bit = to * 8;
        value
    }

    /// Reads `n` bytes as a list field, with a field for every named value in it.
    fn list(&mut self, d: &Decoder, name: &'static str, kind: ListKind, n: usize) {
        let at = self.bit;
        let data = self.bytes(d, name, n);
        for v in views(kind, &data) {
            let style = view_style(v.name, &v.value);
            self.fields.push(DecodedField {
                name: v.name,
                value: v.value,
                bit_offset: at + v.byte_offset * 8,
                bits: v.bytes * 8,
                style,
            });
        }
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

    fn byte(&self, at: usize) -> Option<u8> {
        self.data.get(at).copied()
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
            let step = match next {
                Next::Ether => self.ether(),
                Next::Vlan => self.vlan(),
                Next::Mpls => self.mpls(),
                Next::Arp => self.arp(),
                Next::Ipv4 => self.ipv4(),
                Next::Ipv6 => self.ipv6(),
                Next::Proto(p) => self.proto(p),
                Next::Udp => self.udp(),
                Next::Tcp => self.tcp(),
                Next::Icmp => self.icmp(),
                Next::Icmpv6 => self.icmpv6(),
                Next::Gre => self.gre(),
                Next::Vxlan => self.vxlan(),
                Next::Geneve => self.geneve(),
                Next::Gue => self.gue(),
                Next::Gtpu => self.gtpu(),
                Next::IpByVersion => Some(match self.byte(self.pos).map(|b| b >> 4) {
                    Some(4) => Next::Ipv4,
                    Some(6) => Next::Ipv6,
                    _ => Next::Payload,
                }),
                Next::Payload => return,
            };
            match step {
                Some(n) => next = n,
                None => return,
            }
        }
    }

    /// What an EtherType announces.
    fn after_ether_type(t: u64) -> Next {
        match t {
            0x8100 | 0x88a8 => Next::Vlan,
            0x0800 => Next::Ipv4,
            0x86dd => Next::Ipv6,
            0x0806 => Next::Arp,
            0x8847 | 0x8848 => Next::Mpls,
            _ => Next::Payload,
        }
    }

    /// What an IP protocol number (IPv4 proto, IPv6 next header) announces.
    fn after_ip_proto(p: u64) -> Next {
        match p {
            1 => Next::Icmp,
            4 => Next::Ipv4,
            6 => Next::Tcp,
            17 => Next::Udp,
            41 => Next::Ipv6,
            47 => Next::Gre,
            58 => Next::Icmpv6,
            0 | 43 | 44 | 60 => Next::Proto(p),
            _ => Next::Payload,
        }
    }

    fn proto(&mut self, p: u64) -> Option<Next> {
        match p {
            0 => self.ipv6_options(LayerKind::Hbh),
            60 => self.ipv6_options(LayerKind::DstOpts),
            43 => self.routing(),
            44 => self.frag6(),
            _ => Some(Self::after_ip_proto(p)),
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

    fn mpls(&mut self) -> Option<Next> {
        if !self.need(4, "mpls") {
            return None;
        }
        let mut l = self.start(LayerKind::Mpls);
        l.int(self, "label", 20);
        l.int(self, "tc", 3);
        let s = l.int(self, "s", 1);
        l.int(self, "ttl", 8);
        self.finish(l);
        Some(if s == 0 { Next::Mpls } else { Next::IpByVersion })
    }

    fn arp(&mut self) -> Option<Next> {
        if !self.need(28, "arp") {
            return None;
        }
        let mut l = self.start(LayerKind::Arp);
        l.int(self, "htype", 16);
        l.int(self, "ptype", 16);
        l.int(self, "hlen", 8);
        l.int(self, "plen", 8);
        l.int(self, "op", 16);
        l.bytes(self, "sender_mac", 6);
        l.bytes(self, "sender_ip", 4);
        l.bytes(self, "target_mac", 6);
        l.bytes(self, "target_ip", 4);
        self.finish(l);
        Some(Next::Payload)
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
        l.list(self, "options", ListKind::Ipv4Options, opt_len);
        self.finish(l);
        if self.truncated.is_some() {
            return None;
        }
        Some(if frag != 0 { Next::Payload } else { Self::after_ip_proto(proto) })
    }

    fn ipv6(&mut self) -> Option<Next> {
        if !self.need(40, "ipv6") {
            return None;
        }
        let mut l = self.start(LayerKind::Ipv6);
        l.int(self, "version", 4);
        let tc_at = l.bit;
        l.int(self, "dscp", 6);
        l.int(self, "ecn", 2);
        l.view(self, "tc", tc_at, 8);
        l.int(self, "flow", 20);
        l.int(self, "plen", 16);
        let nh = l.int(self, "nh", 8);
        l.int(self, "hlim", 8);
        l.bytes(self, "src", 16);
        l.bytes(self, "dst", 16);
        self.finish(l);
        Some(Self::after_ip_proto(nh))
    }

    /// Hop-by-hop or destination options: 8 bytes per unit of `len`, plus the first 8.
    fn ipv6_options(&mut self, kind: LayerKind) -> Option<Next> {
        let size = usize::from(self.byte(self.pos + 1)?) * 8 + 8;
        if !self.need(size, kind.name()) {
            return None;
        }
        let mut l = self.start(kind);
        let nh = l.int(self, "nh", 8);
        l.int(self, "len", 8);
        l.list(self, "options", ListKind::Ipv6Options, size - 2);
        self.finish(l);
        Some(Self::after_ip_proto(nh))
    }

    fn routing(&mut self) -> Option<Next> {
        let size = usize::from(self.byte(self.pos + 1)?) * 8 + 8;
        let ty = self.byte(self.pos + 2)?;
        if !self.need(size, "routing") {
            return None;
        }
        let nh;
        if ty == 4 {
            let last = usize::from(self.byte(self.pos + 4).unwrap_or(0));
            let segments = ((last + 1) * 16).min(size - 8);
            let mut l = self.start(LayerKind::Srh);
            nh = l.int(self, "nh", 8);
            l.int(self, "len", 8);
            l.int(self, "type", 8);
            l.int(self, "segleft", 8);
            l.int(self, "last_entry", 8);
            l.int(self, "flags", 8);
            l.int(self, "tag", 16);
            l.bytes(self, "segments", segments);
            l.bytes(self, "tlvs", size - 8 - segments);
            self.finish(l);
        } else {
            let mut l = self.start(LayerKind::Routing);
            nh = l.int(self, "nh", 8);
            l.int(self, "len", 8);
            l.int(self, "type", 8);
            l.int(self, "segleft", 8);
            l.int(self, "reserved", 32);
            l.bytes(self, "addresses", size - 8);
            self.finish(l);
        }
        Some(Self::after_ip_proto(nh))
    }

    fn frag6(&mut self) -> Option<Next> {
        if !self.need(8, "frag6") {
            return None;
        }
        let mut l = self.start(LayerKind::Frag6);
        let nh = l.int(self, "nh", 8);
        l.int(self, "reserved", 8);
        let offset = l.int(self, "offset", 13);
        l.int(self, "res", 2);
        l.int(self, "m", 1);
        l.int(self, "id", 32);
        self.finish(l);
        Some(if offset != 0 { Next::Payload } else { Self::after_ip_proto(nh) })
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
        Some(match (sport, dport) {
            (2152, _) | (_, 2152) => Next::Gtpu,
            (_, 4789) => Next::Vxlan,
            (_, 6081) => Next::Geneve,
            // GUE: variant 0 has a header; variant 1 (first bits 01) is IP right away.
            (_, 6080) if self.byte(self.pos).is_some_and(|b| b >> 6 == 0) => Next::Gue,
            (_, 6080) => Next::IpByVersion,
            _ if self.whole_ip_packet() => Next::IpByVersion,
            _ => Next::Payload,
        })
    }

    /// Whether the rest is exactly one IP packet (UDP carrying IP on a port that does not say so:
    /// FOU): an IPv4 header with a valid checksum and a total length that ends at the end, or an IPv6
    /// header whose payload length does.
    fn whole_ip_packet(&self) -> bool {
        let rest = &self.data[self.pos.min(self.data.len())..];
        match rest.first().map(|b| b >> 4) {
            Some(4) if rest.len() >= 20 => {
                let ihl = usize::from(rest[0] & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
                ihl >= 20
                    && rest.len() >= ihl
                    && total == rest.len()
                    && super::encode::inet_checksum(&[&rest[..ihl]]) == 0
            }
            Some(6) if rest.len() >= 40 => usize::from(u16::from_be_bytes([rest[4], rest[5]])) + 40 == rest.len(),
            _ => false,
        }
    }

    fn tcp(&mut self) -> Option<Next> {
        if !self.need(20, "tcp") {
            return None;
        }
        let mut l = self.start(LayerKind::Tcp);
        l.int(self, "sport", 16);
        l.int(self, "dport", 16);
        l.int(self, "seq", 32);
        l.int(self, "ack_seq", 32);
        let doff = l.int(self, "doff", 4);
        l.int(self, "reserved", 4);
        let at = l.bit;
        for name in ["cwr", "ece", "urg", "ack", "psh", "rst", "syn", "fin"] {
            l.int(self, name, 1);
        }
        l.view(self, "flags", at, 8);
        l.int(self, "window", 16);
        l.int(self, "checksum", 16);
        l.int(self, "urg_ptr", 16);
        let opt_len = (doff as usize * 4).saturating_sub(20);
        let left = self.remaining() - 20;
        if opt_len > left {
            self.truncated = Some(format!("tcp: data offset {} exceeds the {} bytes left", doff * 4, left + 20));
        }
        l.list(self, "options", ListKind::TcpOptions, opt_len);
        self.finish(l);
        if self.truncated.is_some() {
            return None;
        }
        Some(Next::Payload)
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

    fn icmpv6(&mut self) -> Option<Next> {
        use super::encode::Icmpv6Form as Form;
        let form = Form::of(u64::from(self.byte(self.pos)?));
        let fixed = match form {
            Form::RouterAdvert => 16,
            Form::NeighborSolicit | Form::NeighborAdvert => 24,
            _ => 8,
        };
        if !self.need(fixed, "icmpv6") {
            return None;
        }
        let mut l = self.start(LayerKind::Icmpv6);
        let t = l.int(self, "type", 8);
        l.int(self, "code", 8);
        l.int(self, "checksum", 16);
        match form {
            Form::Echo => {
                l.int(self, "id", 16);
                l.int(self, "seq", 16);
            }
            Form::Unused | Form::RouterSolicit => {
                l.int(self, "unused", 32);
            }
            Form::PacketTooBig => {
                l.int(self, "mtu", 32);
            }
            Form::ParamProblem => {
                l.int(self, "pointer", 32);
            }
            Form::RouterAdvert => {
                l.int(self, "cur_hlim", 8);
                l.int(self, "m", 1);
                l.int(self, "o", 1);
                l.skip(6);
                l.int(self, "lifetime", 16);
                l.int(self, "reachable", 32);
                l.int(self, "retrans", 32);
            }
            Form::NeighborSolicit => {
                l.int(self, "unused", 32);
                l.bytes(self, "target", 16);
            }
            Form::NeighborAdvert => {
                l.int(self, "r", 1);
                l.int(self, "s", 1);
                l.int(self, "o", 1);
                l.skip(29);
                l.bytes(self, "target", 16);
            }
        }
        let nd =
            matches!(form, Form::RouterSolicit | Form::RouterAdvert | Form::NeighborSolicit | Form::NeighborAdvert);
        if nd {
            let left = self.data.len() - (l.bit / 8).min(self.data.len());
            l.list(self, "options", ListKind::NdOptions, left);
        }
        self.finish(l);
        // Error messages quote the offending packet, starting with its IPv6 header.
        Some(if matches!(t, 1..=4) { Next::Ipv6 } else { Next::Payload })
    }

    fn gre(&mut self) -> Option<Next> {
        let flags = self.byte(self.pos)?;
        let (c, r, k, s) = (flags >> 7 & 1, flags >> 6 & 1, flags >> 5 & 1, flags >> 4 & 1);
        let size = 4 + 4 * usize::from((c | r) + k + s);
        if !self.need(size, "gre") {
            return None;
        }
        let mut l = self.start(LayerKind::Gre);
        l.int(self, "c", 1);
        l.int(self, "r", 1);
        l.int(self, "k", 1);
        l.int(self, "s", 1);
        l.int(self, "reserved0", 9);
        l.int(self, "version", 3);
        let proto = l.int(self, "proto", 16);
        if c | r == 1 {
            l.int(self, "checksum", 16);
            l.int(self, "reserved1", 16);
        }
        if k == 1 {
            l.int(self, "key", 32);
        }
        if s == 1 {
            l.int(self, "seq", 32);
        }
        self.finish(l);
        Some(match proto {
            0x6558 => Next::Ether,
            t => Self::after_ether_type(t),
        })
    }

    fn vxlan(&mut self) -> Option<Next> {
        if !self.need(8, "vxlan") {
            return None;
        }
        let mut l = self.start(LayerKind::Vxlan);
        l.int(self, "flags", 8);
        l.int(self, "reserved1", 24);
        l.int(self, "vni", 24);
        l.int(self, "reserved2", 8);
        self.finish(l);
        Some(Next::Ether)
    }

    fn geneve(&mut self) -> Option<Next> {
        let opt_len = usize::from(self.byte(self.pos)? & 0x3f) * 4;
        if !self.need(8 + opt_len, "geneve") {
            return None;
        }
        let mut l = self.start(LayerKind::Geneve);
        l.int(self, "version", 2);
        l.int(self, "opt_len", 6);
        l.int(self, "o", 1);
        l.int(self, "c", 1);
        l.int(self, "reserved1", 6);
        let proto = l.int(self, "proto", 16);
        l.int(self, "vni", 24);
        l.int(self, "reserved2", 8);
        l.list(self, "options", ListKind::GeneveOptions, opt_len);
        self.finish(l);
        Some(match proto {
            0x6558 => Next::Ether,
            t => Self::after_ether_type(t),
        })
    }

    fn gue(&mut self) -> Option<Next> {
        let hlen = usize::from(self.byte(self.pos)? & 0x1f) * 4;
        if !self.need(4 + hlen, "gue") {
            return None;
        }
        let mut l = self.start(LayerKind::Gue);
        l.int(self, "version", 2);
        l.int(self, "c", 1);
        l.int(self, "hlen", 5);
        let proto = l.int(self, "proto", 8);
        l.int(self, "flags", 16);
        l.bytes(self, "fields", hlen);
        self.finish(l);
        Some(Self::after_ip_proto(proto))
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
        Some(if msg == 255 { Next::IpByVersion } else { Next::Payload })
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
                style: Style::Hex,
            });
            l.int(self, "len", 8);
            l.bytes(self, "content", size - 2);
            next = l.int(self, "next_ext", 8);
            self.finish(l);
        }
        Some(next)
    }
}
