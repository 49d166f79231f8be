//! The field schema of every layer kind: names, widths, defaults, symbolic values, which fields are
//! derived, and how values are shown. The compiler type-checks `.pkt` field assignments against this
//! table, and the book's layer reference is generated from the same data, so the three can never
//! disagree.

use super::LayerKind;

/// What values a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An unsigned integer of `bits` bits (1..=32).
    Int { bits: u8 },
    /// A one-bit flag; can also be set by writing its bare name (`ipv4(df)`, `tcp(syn)`).
    Flag,
    /// An IPv4 address (4 bytes, network order).
    Ipv4Addr,
    /// An IPv6 address (16 bytes, network order).
    Ipv6Addr,
    /// A MAC address (6 bytes).
    Mac,
    /// Raw bytes of any length (options, payload, extension content). Fields with a
    /// [`ListKind`] also take a list of named items, encoded into these bytes.
    Bytes,
}

/// How a field's value is shown in diffs and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Decimal (addresses and bytes by their kind).
    Plain,
    /// Hexadecimal, as protocol numbers and checksums are usually read (`0x0800`).
    Hex,
    /// The names of the bits that are set, from the field's symbols (`syn|ack`).
    FlagSet,
    /// A list of IPv6 addresses (segment lists).
    Ipv6List,
}

/// The kinds of item lists some byte fields accept (`tcp(options=[mss(1460), nop])`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    TcpOptions,
    Ipv4Options,
    /// Hop-by-hop and destination options.
    Ipv6Options,
    /// Neighbour discovery options of ICMPv6.
    NdOptions,
    /// Geneve TLV options.
    GeneveOptions,
    /// IPv6 addresses (routing header addresses, segment lists).
    Ipv6Addrs,
}

/// One field of a layer kind.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: FieldKind,
    /// Computed at encoding time from the surrounding layers unless the author sets it.
    pub derived: bool,
    /// Present only in some forms of the layer (GTP-U's optional part, ICMPv6 fields of one message
    /// type).
    pub optional: bool,
    /// Named values accepted in place of a number (`type=echo_request`, `flags=syn|ack`).
    pub symbols: &'static [(&'static str, u64)],
    /// The items a list written for this field may hold.
    pub list: Option<ListKind>,
    pub display: Display,
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
    pub const ALL: [LayerKind; 23] = [
        LayerKind::Ether,
        LayerKind::Vlan,
        LayerKind::Mpls,
        LayerKind::Arp,
        LayerKind::Ipv4,
        LayerKind::Ipv6,
        LayerKind::Hbh,
        LayerKind::DstOpts,
        LayerKind::Routing,
        LayerKind::Srh,
        LayerKind::Frag6,
        LayerKind::Udp,
        LayerKind::Tcp,
        LayerKind::Icmp,
        LayerKind::Icmpv6,
        LayerKind::Gre,
        LayerKind::Vxlan,
        LayerKind::Geneve,
        LayerKind::Gue,
        LayerKind::Gtpu,
        LayerKind::GtpuPduSession,
        LayerKind::GtpuExt,
        LayerKind::Payload,
    ];

    /// The name used in specs for selectors (`ipv4.ttl`, `without [gtpu]`).
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Ether => "ether",
            LayerKind::Vlan => "vlan",
            LayerKind::Mpls => "mpls",
            LayerKind::Arp => "arp",
            LayerKind::Ipv4 => "ipv4",
            LayerKind::Ipv6 => "ipv6",
            LayerKind::Hbh => "hbh",
            LayerKind::DstOpts => "dstopts",
            LayerKind::Routing => "routing",
            LayerKind::Srh => "srh",
            LayerKind::Frag6 => "frag6",
            LayerKind::Udp => "udp",
            LayerKind::Tcp => "tcp",
            LayerKind::Icmp => "icmp",
            LayerKind::Icmpv6 => "icmpv6",
            LayerKind::Gre => "gre",
            LayerKind::Vxlan => "vxlan",
            LayerKind::Geneve => "geneve",
            LayerKind::Gue => "gue",
            LayerKind::Gtpu => "gtpu",
            LayerKind::GtpuPduSession => "pdu_session",
            LayerKind::GtpuExt => "gtpu_ext",
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
            LayerKind::Mpls => Some("label"),
            LayerKind::Payload => Some("data"),
            LayerKind::GtpuExt => Some("content"),
            _ => None,
        }
    }

    /// An IPv6 extension header (RFC 8200 §4).
    pub fn is_ipv6_ext(self) -> bool {
        matches!(self, LayerKind::Hbh | LayerKind::DstOpts | LayerKind::Routing | LayerKind::Srh | LayerKind::Frag6)
    }
}

/// Looks up a constructor by the name written in a spec: a layer name (`ipv4`) or a preset
/// (`icmp.echo_request`, `gtpu.pdu_session`, `dot1q`, `tcp.syn`).
pub fn constructor(name: &str) -> Option<&'static Constructor> {
    super::schema_tables::CONSTRUCTORS.iter().find(|c| c.name == name)
}

/// Every constructor name, for suggestions and the book.
pub fn constructor_names() -> Vec<&'static str> {
    super::schema_tables::CONSTRUCTORS.iter().map(|c| c.name).collect()
}
