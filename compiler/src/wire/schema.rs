//! The field schema of every layer kind: names, widths, defaults, symbolic values, and which fields are
//! derived. The compiler type-checks `.pkt` field assignments against this table, and the book's layer
//! reference is generated from the same data, so the three can never disagree.

use super::LayerKind;

/// What values a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An unsigned integer of `bits` bits (1..=32).
    Int { bits: u8 },
    /// A one-bit flag; can also be set by writing its bare name (`ipv4(df)`).
    Flag,
    /// An IPv4 address (4 bytes, network order).
    Ipv4Addr,
    /// A MAC address (6 bytes).
    Mac,
    /// Raw bytes of any length (IPv4 options, payload, extension content).
    Bytes,
}

/// One field of a layer kind.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: FieldKind,
    /// Computed at encoding time from the surrounding layers unless the author sets it.
    pub derived: bool,
    /// Named values accepted in place of a number (`type=echo_request`, `code=port_unreachable`).
    pub symbols: &'static [(&'static str, u64)],
    /// One line for error hints and the book.
    pub doc: &'static str,
}

/// A layer constructor as written in a spec (`icmp.echo_request`): which kind it builds and which fields
/// it presets (the author can still override them).
#[derive(Debug, Clone, Copy)]
pub struct Constructor {
    pub name: &'static str,
    pub kind: LayerKind,
    pub presets: &'static [(&'static str, u64)],
    pub doc: &'static str,
}

impl LayerKind {
    pub const ALL: [LayerKind; 9] = [
        LayerKind::Ether,
        LayerKind::Vlan,
        LayerKind::Ipv4,
        LayerKind::Udp,
        LayerKind::Gtpu,
        LayerKind::GtpuPduSession,
        LayerKind::GtpuExt,
        LayerKind::Icmp,
        LayerKind::Payload,
    ];

    /// The name used in specs for selectors (`ipv4.ttl`, `without [gtpu]`).
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Ether => "ether",
            LayerKind::Vlan => "vlan",
            LayerKind::Ipv4 => "ipv4",
            LayerKind::Udp => "udp",
            LayerKind::Gtpu => "gtpu",
            LayerKind::GtpuPduSession => "pdu_session",
            LayerKind::GtpuExt => "gtpu_ext",
            LayerKind::Icmp => "icmp",
            LayerKind::Payload => "payload",
        }
    }

    pub fn from_name(name: &str) -> Option<LayerKind> {
        LayerKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Every field of this kind, in wire order.
    pub fn fields(self) -> &'static [FieldDef] {
        super::schema_tables::fields(self)
    }

    pub fn field(self, name: &str) -> Option<&'static FieldDef> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The field a single positional argument sets: `vlan(100)` is `vid`, `payload("abc")` is `data`.
    pub fn positional(self) -> Option<&'static str> {
        match self {
            LayerKind::Vlan => Some("vid"),
            LayerKind::Payload => Some("data"),
            LayerKind::GtpuExt => Some("content"),
            _ => None,
        }
    }
}

/// Looks up a constructor by the name written in a spec: a layer name (`ipv4`) or a preset
/// (`icmp.echo_request`, `gtpu.echo_request`, `gtpu.pdu_session`, `dot1q`).
pub fn constructor(name: &str) -> Option<&'static Constructor> {
    super::schema_tables::CONSTRUCTORS.iter().find(|c| c.name == name)
}

/// Every constructor name, for suggestions and the book.
pub fn constructor_names() -> Vec<&'static str> {
    super::schema_tables::CONSTRUCTORS.iter().map(|c| c.name).collect()
}
