//! The data behind [`super::schema`]: every layer kind's fields in wire order, and the constructors a spec
//! can call. Widths and positions here must agree with `encode.rs` and `decode.rs` (the round-trip tests
//! check that every field listed here shows up in both, at the same bits).

use super::schema::{Constructor, Display, FieldDef, FieldKind, ListKind};
use super::LayerKind;

const fn int(bits: u8) -> FieldKind {
    FieldKind::Int { bits }
}

const fn field(
    name: &'static str,
    kind: FieldKind,
    derived: bool,
    symbols: &'static [(&'static str, u64)],
    doc: &'static str,
) -> FieldDef {
    FieldDef { name, kind, derived, optional: false, symbols, list: None, display: Display::Plain, doc }
}

const fn f(name: &'static str, kind: FieldKind, doc: &'static str) -> FieldDef {
    field(name, kind, false, &[], doc)
}

const fn fs(
    name: &'static str,
    kind: FieldKind,
    symbols: &'static [(&'static str, u64)],
    doc: &'static str,
) -> FieldDef {
    field(name, kind, false, symbols, doc)
}

const fn derived(
    name: &'static str,
    kind: FieldKind,
    symbols: &'static [(&'static str, u64)],
    doc: &'static str,
) -> FieldDef {
    field(name, kind, true, symbols, doc)
}

/// Shown in hex.
const fn hex(d: FieldDef) -> FieldDef {
    FieldDef { display: Display::Hex, ..d }
}

/// Present only in some forms of the layer.
const fn optional(d: FieldDef) -> FieldDef {
    FieldDef { optional: true, ..d }
}

/// A byte field that also takes a list of named items.
const fn list(name: &'static str, kind: ListKind, doc: &'static str) -> FieldDef {
    FieldDef { list: Some(kind), ..f(name, FieldKind::Bytes, doc) }
}

const ETHER_TYPES: &[(&str, u64)] = &[
    ("ipv4", 0x0800),
    ("arp", 0x0806),
    ("vlan", 0x8100),
    ("qinq", 0x88a8),
    ("ipv6", 0x86dd),
    ("mpls", 0x8847),
    ("teb", 0x6558),
];

const DSCP: &[(&str, u64)] = &[
    ("cs0", 0),
    ("cs1", 8),
    ("af11", 10),
    ("af12", 12),
    ("af13", 14),
    ("cs2", 16),
    ("af21", 18),
    ("af22", 20),
    ("af23", 22),
    ("cs3", 24),
    ("af31", 26),
    ("af32", 28),
    ("af33", 30),
    ("cs4", 32),
    ("af41", 34),
    ("af42", 36),
    ("af43", 38),
    ("cs5", 40),
    ("ef", 46),
    ("cs6", 48),
    ("cs7", 56),
];

const ECN: &[(&str, u64)] = &[("not_ect", 0), ("ect1", 1), ("ect0", 2), ("ce", 3)];

/// IP protocol numbers (IPv4 `proto`, IPv6 `nh`).
pub(super) const IP_PROTOS: &[(&str, u64)] = &[
    ("hopopt", 0),
    ("icmp", 1),
    ("ipip", 4),
    ("tcp", 6),
    ("udp", 17),
    ("ipv6", 41),
    ("routing", 43),
    ("fragment", 44),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmpv6", 58),
    ("none", 59),
    ("dstopts", 60),
    ("experimental", 0xfd),
];

const GTPU_TYPES: &[(&str, u64)] = &[
    ("echo_request", 1),
    ("echo_response", 2),
    ("error_indication", 26),
    ("supported_extension_headers", 31),
    ("end_marker", 254),
    ("g_pdu", 255),
];

const GTPU_EXT_TYPES: &[(&str, u64)] = &[
    ("none", 0x00),
    ("udp_port", 0x40),
    ("ran_container", 0x81),
    ("xw_ran_container", 0x83),
    ("nr_ran_container", 0x84),
    ("pdu_session_container", 0x85),
    ("pdcp_pdu_number", 0xc0),
];

const ICMP_TYPES: &[(&str, u64)] = &[
    ("echo_reply", 0),
    ("dest_unreach", 3),
    ("redirect", 5),
    ("echo_request", 8),
    ("time_exceeded", 11),
    ("param_problem", 12),
];

const ICMP_CODES: &[(&str, u64)] = &[
    ("net_unreachable", 0),
    ("host_unreachable", 1),
    ("protocol_unreachable", 2),
    ("port_unreachable", 3),
    ("frag_needed", 4),
    ("source_route_failed", 5),
    ("admin_prohibited", 13),
    ("ttl_exceeded", 0),
    ("reassembly_time_exceeded", 1),
];

pub(super) const ICMPV6_TYPES: &[(&str, u64)] = &[
    ("dest_unreach", 1),
    ("packet_too_big", 2),
    ("time_exceeded", 3),
    ("param_problem", 4),
    ("echo_request", 128),
    ("echo_reply", 129),
    ("router_solicit", 133),
    ("router_advert", 134),
    ("neighbor_solicit", 135),
    ("neighbor_advert", 136),
];

const ICMPV6_CODES: &[(&str, u64)] = &[
    ("no_route", 0),
    ("admin_prohibited", 1),
    ("beyond_scope", 2),
    ("address_unreachable", 3),
    ("port_unreachable", 4),
    ("hop_limit_exceeded", 0),
    ("reassembly_time_exceeded", 1),
    ("erroneous_header", 0),
    ("unrecognized_next_header", 1),
    ("unrecognized_option", 2),
];

/// TCP flag bits, for `flags=syn|ack`.
pub(super) const TCP_FLAGS: &[(&str, u64)] = &[
    ("fin", 0x01),
    ("syn", 0x02),
    ("rst", 0x04),
    ("psh", 0x08),
    ("ack", 0x10),
    ("urg", 0x20),
    ("ece", 0x40),
    ("cwr", 0x80),
];

const ARP_OPS: &[(&str, u64)] = &[("request", 1), ("reply", 2)];

const ETHER: &[FieldDef] = &[
    f("dst", FieldKind::Mac, "destination MAC address (default 00:00:00:00:00:00)"),
    f("src", FieldKind::Mac, "source MAC address (default 00:00:00:00:00:00)"),
    hex(derived(
        "type",
        int(16),
        ETHER_TYPES,
        "EtherType from the next layer: ipv4 0x0800, ipv6 0x86dd, arp 0x0806, vlan 0x8100 (0x88a8 before two vlans, QinQ), mpls 0x8847, else 0x88b5",
    )),
];

const VLAN: &[FieldDef] = &[
    f("pcp", int(3), "priority code point (default 0)"),
    f("dei", FieldKind::Flag, "drop eligible indicator"),
    f("vid", int(12), "VLAN identifier (default 0)"),
    hex(derived(
        "type",
        int(16),
        ETHER_TYPES,
        "EtherType of what follows the tag, same rule as ether.type (the TPID is the previous type)",
    )),
];

const MPLS: &[FieldDef] = &[
    f("label", int(20), "label value (default 0)"),
    f("tc", int(3), "traffic class (default 0)"),
    derived("s", FieldKind::Flag, &[], "bottom of stack: 1 unless another mpls entry follows"),
    f("ttl", int(8), "time to live (default 64)"),
];

const ARP: &[FieldDef] = &[
    hex(derived("htype", int(16), &[("ethernet", 1)], "hardware type: 1 (Ethernet)")),
    hex(derived("ptype", int(16), &[("ipv4", 0x0800)], "protocol type: 0x0800 (IPv4)")),
    derived("hlen", int(8), &[], "hardware address length: 6"),
    derived("plen", int(8), &[], "protocol address length: 4"),
    fs("op", int(16), ARP_OPS, "operation (default request)"),
    f("sender_mac", FieldKind::Mac, "sender hardware address"),
    f("sender_ip", FieldKind::Ipv4Addr, "sender protocol address"),
    f("target_mac", FieldKind::Mac, "target hardware address (default 00:00:00:00:00:00)"),
    f("target_ip", FieldKind::Ipv4Addr, "target protocol address"),
];

const IPV4: &[FieldDef] = &[
    f("version", int(4), "IP version (default 4)"),
    derived("ihl", int(4), &[], "header length in 32-bit words, from the options length"),
    fs("dscp", int(6), DSCP, "differentiated services code point (ignored when tos is set)"),
    fs("ecn", int(2), ECN, "explicit congestion notification (ignored when tos is set)"),
    f("tos", int(8), "whole type-of-service byte (dscp << 2 | ecn); wins over dscp/ecn when set"),
    derived("len", int(16), &[], "total length: header + everything after it"),
    f("id", int(16), "identification (default 0)"),
    f("reserved", FieldKind::Flag, "reserved flag bit (the evil bit, RFC 3514)"),
    f("df", FieldKind::Flag, "don't fragment"),
    f("mf", FieldKind::Flag, "more fragments"),
    f("frag", int(13), "fragment offset in 8-byte units"),
    f("ttl", int(8), "time to live (default 64)"),
    derived(
        "proto",
        int(8),
        IP_PROTOS,
        "next protocol: tcp 6, udp 17, icmp 1, gre 47, ipv4 4, ipv6 41, otherwise 0xfd (experimental, RFC 3692)",
    ),
    hex(derived("checksum", int(16), &[], "header checksum")),
    f("src", FieldKind::Ipv4Addr, "source address (default 0.0.0.0)"),
    f("dst", FieldKind::Ipv4Addr, "destination address (default 0.0.0.0)"),
    list(
        "options",
        ListKind::Ipv4Options,
        "options: a list (nop, eol, router_alert, rr, timestamp, raw) or raw bytes; at most 40 bytes, zero-padded (EOL) to a multiple of 4 unless ihl is set",
    ),
];

const IPV6: &[FieldDef] = &[
    f("version", int(4), "IP version (default 6)"),
    fs("dscp", int(6), DSCP, "differentiated services code point (ignored when tc is set)"),
    fs("ecn", int(2), ECN, "explicit congestion notification (ignored when tc is set)"),
    f("tc", int(8), "whole traffic class byte (dscp << 2 | ecn); wins over dscp/ecn when set"),
    f("flow", int(20), "flow label (default 0)"),
    derived("plen", int(16), &[], "payload length: everything after this header, extension headers included"),
    derived(
        "nh",
        int(8),
        IP_PROTOS,
        "next header from the next layer: extension headers, tcp 6, udp 17, icmpv6 58, ipv4 4, ipv6 41, gre 47; 59 (none) when nothing follows, else 0xfd",
    ),
    f("hlim", int(8), "hop limit (default 64)"),
    f("src", FieldKind::Ipv6Addr, "source address (default ::)"),
    f("dst", FieldKind::Ipv6Addr, "destination address (default ::)"),
];

/// The first two bytes of every IPv6 extension header but the fragment header.
const fn ext_nh() -> FieldDef {
    derived("nh", int(8), IP_PROTOS, "next header, from the next layer (same rule as ipv6.nh)")
}

const HBH: &[FieldDef] = &[
    ext_nh(),
    derived("len", int(8), &[], "header length in 8-byte units, not counting the first 8 bytes"),
    list(
        "options",
        ListKind::Ipv6Options,
        "options: a list (pad1, padn, router_alert, jumbo, raw) or raw bytes; padded (Pad1/PadN) to a multiple of 8 bytes",
    ),
];

const DSTOPTS: &[FieldDef] = HBH;

const ROUTING: &[FieldDef] = &[
    ext_nh(),
    derived("len", int(8), &[], "header length in 8-byte units, not counting the first 8 bytes"),
    f("type", int(8), "routing type: 0 (deprecated source route) or 2 (mobile IPv6); default 0"),
    derived("segleft", int(8), &[], "segments left: the number of addresses"),
    hex(f("reserved", int(32), "reserved (default 0)")),
    FieldDef {
        display: Display::Ipv6List,
        ..list("addresses", ListKind::Ipv6Addrs, "the addresses, a list of IPv6 addresses")
    },
];

const SRH: &[FieldDef] = &[
    ext_nh(),
    derived("len", int(8), &[], "header length in 8-byte units, not counting the first 8 bytes"),
    derived("type", int(8), &[], "routing type: 4"),
    derived("segleft", int(8), &[], "segments left: index of the active segment, last_entry by default"),
    derived("last_entry", int(8), &[], "index of the last element of the segment list"),
    hex(f("flags", int(8), "flags (default 0)")),
    f("tag", int(16), "tag (default 0)"),
    FieldDef {
        display: Display::Ipv6List,
        ..list("segments", ListKind::Ipv6Addrs, "the segment list, in wire order (segment 0 is the final destination)")
    },
    f("tlvs", FieldKind::Bytes, "raw TLVs after the segment list (their length must be a multiple of 8)"),
];

const FRAG6: &[FieldDef] = &[
    ext_nh(),
    hex(f("reserved", int(8), "reserved (default 0)")),
    f("offset", int(13), "fragment offset in 8-byte units (default 0)"),
    f("res", int(2), "reserved bits (default 0)"),
    f("m", FieldKind::Flag, "more fragments"),
    hex(f("id", int(32), "identification (default 0)")),
];

const UDP: &[FieldDef] = &[
    f("sport", int(16), "source port (default 2152 before gtpu, else 0)"),
    f(
        "dport",
        int(16),
        "destination port (default 2152 before gtpu, 4789 before vxlan, 6081 before geneve, 6080 before gue, else 0)",
    ),
    derived("len", int(16), &[], "length: UDP header + everything after it"),
    hex(derived(
        "checksum",
        int(16),
        &[],
        "checksum over the IPv4 or IPv6 pseudo-header; a computed 0 is sent as 0xffff, an explicit 0 means none",
    )),
];

const TCP: &[FieldDef] = &[
    f("sport", int(16), "source port (default 0)"),
    f("dport", int(16), "destination port (default 0)"),
    f("seq", int(32), "sequence number (default 0)"),
    f("ack_seq", int(32), "acknowledgement number (default 0)"),
    derived("doff", int(4), &[], "data offset in 32-bit words, from the options length"),
    f("reserved", int(4), "reserved bits (default 0)"),
    f("cwr", FieldKind::Flag, "congestion window reduced"),
    f("ece", FieldKind::Flag, "ECN echo"),
    f("urg", FieldKind::Flag, "urgent pointer significant"),
    f("ack", FieldKind::Flag, "acknowledgement number significant"),
    f("psh", FieldKind::Flag, "push"),
    f("rst", FieldKind::Flag, "reset"),
    f("syn", FieldKind::Flag, "synchronize"),
    f("fin", FieldKind::Flag, "finish"),
    FieldDef {
        display: Display::FlagSet,
        ..fs("flags", int(8), TCP_FLAGS, "all eight flags at once (`flags=syn|ack`); wins over the single flags when set")
    },
    f("window", int(16), "window (default 65535)"),
    hex(derived("checksum", int(16), &[], "checksum over the IPv4 or IPv6 pseudo-header")),
    f("urg_ptr", int(16), "urgent pointer (default 0)"),
    list(
        "options",
        ListKind::TcpOptions,
        "options: a list (mss, wscale, sack_permitted, sack, timestamps, nop, eol, raw) or raw bytes; at most 40 bytes, zero-padded (EOL) to a multiple of 4 unless doff is set",
    ),
];

const ICMP: &[FieldDef] = &[
    fs("type", int(8), ICMP_TYPES, "message type (default 0)"),
    fs("code", int(8), ICMP_CODES, "message code (default 0)"),
    hex(derived("checksum", int(16), &[], "checksum over the ICMP header and everything after it")),
    f("id", int(16), "identifier, bytes 4-5 (echo)"),
    f("seq", int(16), "sequence number, bytes 6-7 (echo)"),
    f("mtu", int(16), "next-hop MTU, bytes 6-7 (frag_needed)"),
    f("rest", int(32), "bytes 4-7 as one number; wins over id/seq/mtu when set"),
];

const ICMPV6: &[FieldDef] = &[
    fs("type", int(8), ICMPV6_TYPES, "message type (default 128, echo request)"),
    fs("code", int(8), ICMPV6_CODES, "message code (default 0)"),
    hex(derived("checksum", int(16), &[], "checksum over the IPv6 pseudo-header and the whole message")),
    optional(f("id", int(16), "identifier (echo)")),
    optional(f("seq", int(16), "sequence number (echo)")),
    optional(f("mtu", int(32), "MTU (packet_too_big)")),
    optional(f("pointer", int(32), "offset of the error (param_problem)")),
    optional(f("cur_hlim", int(8), "current hop limit (router_advert, default 64)")),
    optional(f("m", FieldKind::Flag, "managed address configuration (router_advert)")),
    optional(f("o", FieldKind::Flag, "other configuration (router_advert); override (neighbor_advert)")),
    optional(f("r", FieldKind::Flag, "router (neighbor_advert)")),
    optional(f("s", FieldKind::Flag, "solicited (neighbor_advert)")),
    optional(f("lifetime", int(16), "router lifetime in seconds (router_advert, default 1800)")),
    optional(f("reachable", int(32), "reachable time in ms (router_advert, default 0)")),
    optional(f("retrans", int(32), "retransmission timer in ms (router_advert, default 0)")),
    optional(hex(f("unused", int(32), "bytes 4-7 of error messages and solicitations (default 0)"))),
    optional(f("target", FieldKind::Ipv6Addr, "target address (neighbor_solicit, neighbor_advert)")),
    optional(list(
        "options",
        ListKind::NdOptions,
        "neighbour discovery options: a list (src_lladdr, tgt_lladdr, prefix_info, mtu, raw) or raw bytes",
    )),
];

const GRE: &[FieldDef] = &[
    derived("c", FieldKind::Flag, &[], "checksum present: 1 when checksum is set (write `gre(c)` to have it computed)"),
    f("r", FieldKind::Flag, "routing present (RFC 1701; default 0)"),
    derived("k", FieldKind::Flag, &[], "key present: 1 when key is set"),
    derived("s", FieldKind::Flag, &[], "sequence number present: 1 when seq is set"),
    hex(f("reserved0", int(9), "reserved bits (default 0)")),
    f("version", int(3), "version (default 0)"),
    hex(derived(
        "proto",
        int(16),
        ETHER_TYPES,
        "protocol type from the next layer: ipv4 0x0800, ipv6 0x86dd, ether 0x6558 (transparent Ethernet bridging), mpls 0x8847, else 0x88b5",
    )),
    optional(hex(derived("checksum", int(16), &[], "checksum over the GRE header and payload (present when c)"))),
    optional(hex(f("reserved1", int(16), "reserved, after the checksum (default 0)"))),
    optional(f("key", int(32), "key (present when set)")),
    optional(f("seq", int(32), "sequence number (present when set)")),
];

const VXLAN: &[FieldDef] = &[
    hex(f("flags", int(8), "flags (default 0x08: the VNI is valid)")),
    hex(f("reserved1", int(24), "reserved (default 0)")),
    f("vni", int(24), "VXLAN network identifier (default 0)"),
    hex(f("reserved2", int(8), "reserved (default 0)")),
];

const GENEVE: &[FieldDef] = &[
    f("version", int(2), "version (default 0)"),
    derived("opt_len", int(6), &[], "options length in 4-byte units"),
    f("o", FieldKind::Flag, "OAM packet"),
    f("c", FieldKind::Flag, "critical options present"),
    hex(f("reserved1", int(6), "reserved (default 0)")),
    hex(derived("proto", int(16), ETHER_TYPES, "protocol type from the next layer (same rule as gre.proto)")),
    f("vni", int(24), "virtual network identifier (default 0)"),
    hex(f("reserved2", int(8), "reserved (default 0)")),
    list("options", ListKind::GeneveOptions, "options: a list of option(class, type, data) or raw bytes"),
];

const GUE: &[FieldDef] = &[
    f("version", int(2), "variant (default 0: a GUE header; variant 1 is IP right after UDP, no gue layer)"),
    f("c", FieldKind::Flag, "control message (default 0)"),
    derived("hlen", int(5), &[], "length of the extension fields in 4-byte units"),
    derived("proto", int(8), IP_PROTOS, "protocol of the payload, from the next layer (same numbers as ipv4.proto)"),
    hex(f("flags", int(16), "flags (default 0)")),
    f("fields", FieldKind::Bytes, "extension fields, zero-padded to a multiple of 4 bytes"),
];

const GTPU: &[FieldDef] = &[
    f("version", int(3), "GTP version (default 1)"),
    f("pt", FieldKind::Flag, "protocol type: 1 = GTP, 0 = GTP' (default 1)"),
    f("reserved", FieldKind::Flag, "spare bit (default 0)"),
    derived("e", FieldKind::Flag, &[], "extension header flag: 1 when an extension header layer follows"),
    derived("s", FieldKind::Flag, &[], "sequence number flag: 1 when seq is set"),
    derived("pn", FieldKind::Flag, &[], "N-PDU number flag: 1 when npdu is set"),
    fs("type", int(8), GTPU_TYPES, "message type (default 255, G-PDU)"),
    derived("len", int(16), &[], "length of everything after the mandatory 8 bytes"),
    f("teid", int(32), "tunnel endpoint identifier (default 0)"),
    optional(f("seq", int(16), "sequence number (optional part, present when e, s or pn is 1)")),
    optional(f("npdu", int(8), "N-PDU number (optional part, present when e, s or pn is 1)")),
    optional(hex(derived(
        "next_ext",
        int(8),
        GTPU_EXT_TYPES,
        "type of the first extension header: from the following extension layer, 0 if none",
    ))),
];

const PDU_SESSION: &[FieldDef] = &[
    derived("len", int(8), &[], "extension header length in 4-byte units"),
    fs("pdu_type", int(4), &[("dl", 0), ("ul", 1)], "PDU type: 0 = DL PDU session information, 1 = UL"),
    f(
        "flags",
        int(4),
        "low nibble of octet 1 (DL: QMP, SNP, MSNP, spare; UL: QMP, DL delay, UL delay, SNP); default 0",
    ),
    derived(
        "ppp",
        FieldKind::Flag,
        &[],
        "paging policy presence (DL; 1 when ppi is set); in UL the N3/N9 delay indicator bit",
    ),
    f("rqi", FieldKind::Flag, "reflective QoS indicator (DL); in UL the new IE flag bit"),
    f("qfi", int(6), "QoS flow identifier"),
    optional(f("ppi", int(3), "paging policy indicator, present in DL when ppp is 1")),
    hex(derived(
        "next_ext",
        int(8),
        GTPU_EXT_TYPES,
        "type of the next extension header: from the following extension layer, 0 if none",
    )),
];

const GTPU_EXT: &[FieldDef] = &[
    hex(fs(
        "ext_type",
        int(8),
        GTPU_EXT_TYPES,
        "extension header type (required): written into the previous header's next_ext, no bits of its own",
    )),
    derived("len", int(8), &[], "extension header length in 4-byte units"),
    f("content", FieldKind::Bytes, "raw content, zero-padded so that the header is a multiple of 4 bytes"),
    hex(derived(
        "next_ext",
        int(8),
        GTPU_EXT_TYPES,
        "type of the next extension header: from the following extension layer, 0 if none",
    )),
];

const PAYLOAD: &[FieldDef] = &[f("data", FieldKind::Bytes, "raw bytes")];

pub(super) fn fields(kind: LayerKind) -> &'static [FieldDef] {
    match kind {
        LayerKind::Ether => ETHER,
        LayerKind::Vlan => VLAN,
        LayerKind::Mpls => MPLS,
        LayerKind::Arp => ARP,
        LayerKind::Ipv4 => IPV4,
        LayerKind::Ipv6 => IPV6,
        LayerKind::Hbh => HBH,
        LayerKind::DstOpts => DSTOPTS,
        LayerKind::Routing => ROUTING,
        LayerKind::Srh => SRH,
        LayerKind::Frag6 => FRAG6,
        LayerKind::Udp => UDP,
        LayerKind::Tcp => TCP,
        LayerKind::Icmp => ICMP,
        LayerKind::Icmpv6 => ICMPV6,
        LayerKind::Gre => GRE,
        LayerKind::Vxlan => VXLAN,
        LayerKind::Geneve => GENEVE,
        LayerKind::Gue => GUE,
        LayerKind::Gtpu => GTPU,
        LayerKind::GtpuPduSession => PDU_SESSION,
        LayerKind::GtpuExt => GTPU_EXT,
        LayerKind::Payload => PAYLOAD,
    }
}

const fn c(
    name: &'static str,
    kind: LayerKind,
    presets: &'static [(&'static str, u64)],
    doc: &'static str,
) -> Constructor {
    Constructor { name, kind, presets, doc }
}

pub(super) static CONSTRUCTORS: &[Constructor] = &[
    c("ether", LayerKind::Ether, &[], "Ethernet II header"),
    c("vlan", LayerKind::Vlan, &[], "802.1Q tag (positional argument: vid)"),
    c("mpls", LayerKind::Mpls, &[], "MPLS label stack entry (positional argument: label)"),
    c("arp", LayerKind::Arp, &[], "ARP message for IPv4 over Ethernet"),
    c("ipv4", LayerKind::Ipv4, &[], "IPv4 header"),
    c("ipv6", LayerKind::Ipv6, &[], "IPv6 header"),
    c("hbh", LayerKind::Hbh, &[], "IPv6 hop-by-hop options header"),
    c("dstopts", LayerKind::DstOpts, &[], "IPv6 destination options header"),
    c("routing", LayerKind::Routing, &[], "IPv6 routing header, types 0 and 2"),
    c("srh", LayerKind::Srh, &[], "IPv6 segment routing header (routing type 4)"),
    c("frag6", LayerKind::Frag6, &[], "IPv6 fragment header"),
    c("udp", LayerKind::Udp, &[], "UDP header"),
    c("tcp", LayerKind::Tcp, &[], "TCP header (flags as bare words: tcp(syn, ack))"),
    c("icmp", LayerKind::Icmp, &[], "ICMP header"),
    c("icmpv6", LayerKind::Icmpv6, &[], "ICMPv6 message"),
    c("gre", LayerKind::Gre, &[], "GRE header"),
    c("vxlan", LayerKind::Vxlan, &[], "VXLAN header (an ether layer follows)"),
    c("geneve", LayerKind::Geneve, &[], "Geneve header"),
    c("gue", LayerKind::Gue, &[], "GUE header, variant 0"),
    c("gtpu", LayerKind::Gtpu, &[], "GTPv1-U header (TS 29.281)"),
    c("pdu_session", LayerKind::GtpuPduSession, &[], "GTP-U PDU Session Container extension header (TS 38.415)"),
    c("gtpu_ext", LayerKind::GtpuExt, &[], "any other GTP-U extension header (positional argument: content)"),
    c("payload", LayerKind::Payload, &[], "raw bytes (positional argument: data)"),
    c("dot1q", LayerKind::Vlan, &[], "alias of vlan"),
    c("arp.request", LayerKind::Arp, &[("op", 1)], "ARP request"),
    c("arp.reply", LayerKind::Arp, &[("op", 2)], "ARP reply"),
    c("ipv6.hbh", LayerKind::Hbh, &[], "alias of hbh"),
    c("ipv6.dstopts", LayerKind::DstOpts, &[], "alias of dstopts"),
    c("ipv6.routing", LayerKind::Routing, &[], "alias of routing"),
    c("ipv6.srh", LayerKind::Srh, &[], "alias of srh"),
    c("ipv6.frag", LayerKind::Frag6, &[], "alias of frag6"),
    c("tcp.syn", LayerKind::Tcp, &[("syn", 1)], "TCP with SYN set"),
    c("tcp.synack", LayerKind::Tcp, &[("syn", 1), ("ack", 1)], "TCP with SYN and ACK set"),
    c("tcp.ack", LayerKind::Tcp, &[("ack", 1)], "TCP with ACK set"),
    c("tcp.rst", LayerKind::Tcp, &[("rst", 1)], "TCP with RST set"),
    c("tcp.fin", LayerKind::Tcp, &[("fin", 1), ("ack", 1)], "TCP with FIN and ACK set"),
    c("gtpu.pdu_session", LayerKind::GtpuPduSession, &[], "alias of pdu_session"),
    c("gtpu.ext", LayerKind::GtpuExt, &[], "alias of gtpu_ext"),
    c("gtpu.echo_request", LayerKind::Gtpu, &[("type", 1)], "GTP-U echo request"),
    c("gtpu.echo_response", LayerKind::Gtpu, &[("type", 2)], "GTP-U echo response"),
    c("gtpu.end_marker", LayerKind::Gtpu, &[("type", 254)], "GTP-U end marker"),
    c("gtpu.error_indication", LayerKind::Gtpu, &[("type", 26)], "GTP-U error indication"),
    c("icmp.echo_request", LayerKind::Icmp, &[("type", 8), ("code", 0)], "ICMP echo request"),
    c("icmp.echo_reply", LayerKind::Icmp, &[("type", 0), ("code", 0)], "ICMP echo reply"),
    c("icmp.dest_unreach", LayerKind::Icmp, &[("type", 3)], "ICMP destination unreachable (set code)"),
    c(
        "icmp.port_unreachable",
        LayerKind::Icmp,
        &[("type", 3), ("code", 3)],
        "ICMP destination unreachable, port unreachable",
    ),
    c(
        "icmp.frag_needed",
        LayerKind::Icmp,
        &[("type", 3), ("code", 4)],
        "ICMP destination unreachable, fragmentation needed (set mtu)",
    ),
    c("icmp.time_exceeded", LayerKind::Icmp, &[("type", 11), ("code", 0)], "ICMP time exceeded in transit"),
    c("icmpv6.echo_request", LayerKind::Icmpv6, &[("type", 128), ("code", 0)], "ICMPv6 echo request"),
    c("icmpv6.echo_reply", LayerKind::Icmpv6, &[("type", 129), ("code", 0)], "ICMPv6 echo reply"),
    c("icmpv6.dest_unreach", LayerKind::Icmpv6, &[("type", 1)], "ICMPv6 destination unreachable (set code)"),
    c("icmpv6.packet_too_big", LayerKind::Icmpv6, &[("type", 2), ("code", 0)], "ICMPv6 packet too big (set mtu)"),
    c("icmpv6.time_exceeded", LayerKind::Icmpv6, &[("type", 3), ("code", 0)], "ICMPv6 hop limit exceeded"),
    c("icmpv6.param_problem", LayerKind::Icmpv6, &[("type", 4)], "ICMPv6 parameter problem (set code, pointer)"),
    c("icmpv6.rs", LayerKind::Icmpv6, &[("type", 133), ("code", 0)], "router solicitation"),
    c("icmpv6.ra", LayerKind::Icmpv6, &[("type", 134), ("code", 0)], "router advertisement"),
    c("icmpv6.ns", LayerKind::Icmpv6, &[("type", 135), ("code", 0)], "neighbour solicitation (set target)"),
    c("icmpv6.na", LayerKind::Icmpv6, &[("type", 136), ("code", 0)], "neighbour advertisement (set target)"),
    c("raw", LayerKind::Payload, &[], "alias of payload"),
];
