//! The data behind [`super::schema`]: every layer kind's fields in wire order, and the constructors a spec
//! can call. Widths and positions here must agree with `encode.rs` and `decode.rs` (the round-trip tests
//! check that every field listed here shows up in both).

use super::schema::{Constructor, FieldDef, FieldKind};
use super::LayerKind;

const fn int(bits: u8) -> FieldKind {
    FieldKind::Int { bits }
}

const fn f(name: &'static str, kind: FieldKind, doc: &'static str) -> FieldDef {
    FieldDef { name, kind, derived: false, symbols: &[], doc }
}

const fn fs(
    name: &'static str,
    kind: FieldKind,
    symbols: &'static [(&'static str, u64)],
    doc: &'static str,
) -> FieldDef {
    FieldDef { name, kind, derived: false, symbols, doc }
}

const fn derived(
    name: &'static str,
    kind: FieldKind,
    symbols: &'static [(&'static str, u64)],
    doc: &'static str,
) -> FieldDef {
    FieldDef { name, kind, derived: true, symbols, doc }
}

const ETHER_TYPES: &[(&str, u64)] =
    &[("ipv4", 0x0800), ("arp", 0x0806), ("vlan", 0x8100), ("qinq", 0x88a8), ("ipv6", 0x86dd)];

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

const IP_PROTOS: &[(&str, u64)] = &[("icmp", 1), ("ipip", 4), ("tcp", 6), ("udp", 17), ("experimental", 0xfd)];

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

const ETHER: &[FieldDef] = &[
    f("dst", FieldKind::Mac, "destination MAC address (default 00:00:00:00:00:00)"),
    f("src", FieldKind::Mac, "source MAC address (default 00:00:00:00:00:00)"),
    derived(
        "type",
        int(16),
        ETHER_TYPES,
        "EtherType: 0x0800 before ipv4, 0x8100 before vlan, 0x88a8 before two vlans (QinQ), else 0x88b5",
    ),
];

const VLAN: &[FieldDef] = &[
    f("pcp", int(3), "priority code point (default 0)"),
    f("dei", FieldKind::Flag, "drop eligible indicator"),
    f("vid", int(12), "VLAN identifier (default 0)"),
    derived(
        "type",
        int(16),
        ETHER_TYPES,
        "EtherType of what follows the tag, same rule as ether.type (the TPID is the previous type)",
    ),
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
        "next protocol: udp 17, icmp 1, ipv4 4, otherwise 0xfd (experimental, RFC 3692)",
    ),
    derived("checksum", int(16), &[], "header checksum"),
    f("src", FieldKind::Ipv4Addr, "source address (default 0.0.0.0)"),
    f("dst", FieldKind::Ipv4Addr, "destination address (default 0.0.0.0)"),
    f(
        "options",
        FieldKind::Bytes,
        "raw options, at most 40 bytes; zero-padded (EOL) to a multiple of 4 unless ihl is set",
    ),
];

const UDP: &[FieldDef] = &[
    f("sport", int(16), "source port (default 2152 when a gtpu layer follows, else 0)"),
    f("dport", int(16), "destination port (default 2152 when a gtpu layer follows, else 0)"),
    derived("len", int(16), &[], "length: UDP header + everything after it"),
    derived(
        "checksum",
        int(16),
        &[],
        "checksum over the IPv4 pseudo-header; a computed 0 is sent as 0xffff, an explicit 0 means none",
    ),
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
    f("seq", int(16), "sequence number (optional part, present when e, s or pn is 1)"),
    f("npdu", int(8), "N-PDU number (optional part, present when e, s or pn is 1)"),
    derived(
        "next_ext",
        int(8),
        GTPU_EXT_TYPES,
        "type of the first extension header: from the following extension layer, 0 if none",
    ),
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
    f("ppi", int(3), "paging policy indicator, present in DL when ppp is 1"),
    derived(
        "next_ext",
        int(8),
        GTPU_EXT_TYPES,
        "type of the next extension header: from the following extension layer, 0 if none",
    ),
];

const GTPU_EXT: &[FieldDef] = &[
    fs(
        "ext_type",
        int(8),
        GTPU_EXT_TYPES,
        "extension header type (required): written into the previous header's next_ext, no bits of its own",
    ),
    derived("len", int(8), &[], "extension header length in 4-byte units"),
    f("content", FieldKind::Bytes, "raw content, zero-padded so that the header is a multiple of 4 bytes"),
    derived(
        "next_ext",
        int(8),
        GTPU_EXT_TYPES,
        "type of the next extension header: from the following extension layer, 0 if none",
    ),
];

const ICMP: &[FieldDef] = &[
    fs("type", int(8), ICMP_TYPES, "message type (default 0)"),
    fs("code", int(8), ICMP_CODES, "message code (default 0)"),
    derived("checksum", int(16), &[], "checksum over the ICMP header and everything after it"),
    f("id", int(16), "identifier, bytes 4-5 (echo)"),
    f("seq", int(16), "sequence number, bytes 6-7 (echo)"),
    f("mtu", int(16), "next-hop MTU, bytes 6-7 (frag_needed)"),
    f("rest", int(32), "bytes 4-7 as one number; wins over id/seq/mtu when set"),
];

const PAYLOAD: &[FieldDef] = &[f("data", FieldKind::Bytes, "raw bytes")];

pub(super) fn fields(kind: LayerKind) -> &'static [FieldDef] {
    match kind {
        LayerKind::Ether => ETHER,
        LayerKind::Vlan => VLAN,
        LayerKind::Ipv4 => IPV4,
        LayerKind::Udp => UDP,
        LayerKind::Gtpu => GTPU,
        LayerKind::GtpuPduSession => PDU_SESSION,
        LayerKind::GtpuExt => GTPU_EXT,
        LayerKind::Icmp => ICMP,
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
    c("ipv4", LayerKind::Ipv4, &[], "IPv4 header"),
    c("udp", LayerKind::Udp, &[], "UDP header"),
    c("gtpu", LayerKind::Gtpu, &[], "GTPv1-U header (TS 29.281)"),
    c("pdu_session", LayerKind::GtpuPduSession, &[], "GTP-U PDU Session Container extension header (TS 38.415)"),
    c("gtpu_ext", LayerKind::GtpuExt, &[], "any other GTP-U extension header (positional argument: content)"),
    c("icmp", LayerKind::Icmp, &[], "ICMP header"),
    c("payload", LayerKind::Payload, &[], "raw bytes (positional argument: data)"),
    c("dot1q", LayerKind::Vlan, &[], "alias of vlan"),
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
    c("raw", LayerKind::Payload, &[], "alias of payload"),
];
