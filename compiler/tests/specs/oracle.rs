//! The tshark oracle for `layers.pkt`, shared by `compiler/tests/e2e_tshark.rs` (library entry points)
//! and the root crate's `tests/cli_tshark.rs` (the real `xdptest` binary) through `#[path]`.
//!
//! Every frame of the spec's pcapng is decoded by Wireshark's dissectors and compared field by field
//! with the table below, keyed by the frame comment (`<scenario> · send #N · input` / `· expected X`).
//! Every frame of the capture must have an entry, so a packet added to the spec cannot go unchecked.
//!
//! Values are tshark 4.0's `-T fields` renderings: checksum status Bad=0, Good=1, Unverified=2,
//! Not present=3; repeated fields (outer and inner headers) are joined with `,`.

#![allow(dead_code)] // each including test uses a part

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// One frame and the tshark field values it must have.
pub struct Frame {
    pub comment: String,
    pub fields: Vec<(&'static str, &'static str)>,
}

fn input(scenario: &str, n: usize, fields: &[(&'static str, &'static str)]) -> Frame {
    Frame { comment: format!("{scenario} · send #{n} · input"), fields: fields.to_vec() }
}

fn expected(scenario: &str, n: usize, action: &str, fields: &[(&'static str, &'static str)]) -> Frame {
    Frame { comment: format!("{scenario} · send #{n} · expected {action}"), fields: fields.to_vec() }
}

const GOOD: &str = "1";
const BAD: &str = "0";
const UNVERIFIED: &str = "2";
const NOT_PRESENT: &str = "3";

/// What Wireshark must see in every frame of `layers.pcapng`.
pub fn expectations() -> Vec<Frame> {
    vec![
        // ether
        input(
            "ether",
            1,
            &[
                ("eth.src", "02:00:00:00:00:01"),
                ("eth.dst", "02:00:00:00:00:02"),
                ("eth.type", "0x0800"),
                ("ip.src", "10.0.0.1"),
                ("ip.dst", "10.0.0.2"),
                ("ip.len", "33"),
                ("ip.checksum.status", GOOD),
                ("udp.srcport", "40000"),
                ("udp.dstport", "40001"),
                ("udp.length", "13"),
                ("udp.checksum.status", GOOD),
                ("data.data", "68656c6c6f"),
            ],
        ),
        input(
            "ether",
            2,
            &[
                ("eth.src", "02:00:00:00:00:01"),
                ("eth.dst", "00:00:00:00:00:00"),
                ("eth.type", "0x1234"),
                ("ip.version", ""),
                ("data.len", "21"),
            ],
        ),
        input("ether", 3, &[("eth.type", "0x88b5"), ("data.data", "01020304")]),
        // vlan
        input(
            "vlan",
            1,
            &[
                ("eth.type", "0x8100"),
                ("vlan.id", "100"),
                ("vlan.priority", "5"),
                ("vlan.dei", "1"),
                ("vlan.etype", "0x0800"),
                ("udp.length", "9"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "vlan",
            2,
            &[
                ("vlan.id", "300"),
                ("vlan.priority", "0"),
                ("vlan.dei", "0"),
                ("ip.proto", "1"),
                ("icmp.type", "8"),
                ("icmp.checksum.status", GOOD),
            ],
        ),
        input("vlan", 3, &[("vlan.id", "7"), ("vlan.dei", "0"), ("vlan.etype", "0x88b5"), ("data.data", "78")]),
        // qinq
        input(
            "qinq",
            1,
            &[
                ("eth.type", "0x88a8"),
                ("ieee8021ad.id", "10"),
                ("ieee8021ad.priority", "3"),
                ("ieee8021ad.dei", "0"),
                ("vlan.id", "20"),
                ("vlan.priority", "0"),
                ("vlan.dei", "1"),
                ("vlan.etype", "0x0800"),
                ("ip.checksum.status", GOOD),
                ("udp.checksum.status", GOOD),
            ],
        ),
        // ipv4
        input(
            "ipv4",
            1,
            &[
                ("ip.src", "10.0.0.1"),
                ("ip.dst", "10.0.0.2"),
                ("ip.ttl", "7"),
                ("ip.id", "0xbeef"),
                ("ip.dsfield", "0x8a"),
                ("ip.dsfield.dscp", "34"),
                ("ip.dsfield.ecn", "2"),
                ("ip.hdr_len", "20"),
                ("ip.proto", "17"),
                ("ip.checksum.status", GOOD),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "ipv4",
            2,
            &[
                ("ip.dsfield", "0xb9"),
                ("ip.dsfield.dscp", "46"),
                ("ip.dsfield.ecn", "1"),
                ("ip.proto", "253"),
                ("ip.checksum.status", GOOD),
            ],
        ),
        input("ipv4", 3, &[("ip.flags.df", "1"), ("ip.flags.mf", "0"), ("ip.ttl", "1"), ("icmp.type", "8")]),
        input(
            "ipv4",
            4,
            &[
                ("ip.flags.df", "0"),
                ("ip.flags.mf", "1"),
                ("ip.frag_offset", "100"),
                ("ip.id", "0x0005"),
                ("ip.len", "28"),
                ("ip.checksum.status", GOOD),
            ],
        ),
        input("ipv4", 5, &[("ip.flags.rb", "1"), ("ip.checksum.status", GOOD)]),
        input(
            "ipv4",
            6,
            &[("ip.hdr_len", "24"), ("ip.opt.type", "148"), ("ip.len", "36"), ("ip.checksum.status", GOOD)],
        ),
        input(
            "ipv4",
            7,
            &[
                ("ip.hdr_len", "24"),
                ("ip.opt.type", "1,0"),
                ("ip.checksum.status", GOOD),
                ("data.data", "706164646564"),
            ],
        ),
        input("ipv4", 8, &[("ip.proto", "6"), ("ip.len", "40"), ("ip.checksum.status", GOOD)]),
        // ihl=6 over a 20-byte header: tshark takes the first 4 payload bytes (zeros) as options.
        input(
            "ipv4",
            9,
            &[("ip.hdr_len", "24"), ("ip.len", "26"), ("ip.checksum.status", GOOD), ("data.data", "4142")],
        ),
        input("ipv4", 10, &[("ip.len", "1000")]),
        input("ipv4", 11, &[("ip.checksum", "0x1234"), ("ip.checksum.status", BAD)]),
        input(
            "ipv4",
            12,
            &[
                ("ip.proto", "4,253"),
                ("ip.src", "192.0.2.1,10.0.0.1"),
                ("ip.len", "44,24"),
                ("ip.checksum.status", "1,1"),
            ],
        ),
        // udp
        input(
            "udp",
            1,
            &[("udp.srcport", "1234"), ("udp.dstport", "40001"), ("udp.length", "11"), ("udp.checksum.status", GOOD)],
        ),
        // A length shorter than the datagram: receivers checksum `len` bytes, and so does the encoder.
        input("udp", 2, &[("udp.length", "9"), ("udp.checksum.status", GOOD)]),
        // Longer than the packet: nothing to verify against.
        input(
            "udp",
            3,
            &[("udp.length", "100"), ("udp.checksum.status", UNVERIFIED), ("_ws.malformed", "_ws.malformed")],
        ),
        input("udp", 4, &[("udp.checksum", "0x1234"), ("udp.checksum.status", BAD)]),
        input("udp", 5, &[("udp.checksum", "0x0000"), ("udp.checksum.status", NOT_PRESENT)]),
        input("udp", 6, &[("udp.checksum", "0xffff"), ("udp.checksum.status", GOOD), ("data.data", "ebd4")]),
        // gtpu
        input(
            "gtpu",
            1,
            &[
                ("eth.src", "02:00:00:00:00:01"),
                ("vlan.id", "100"),
                ("ip.src", "192.0.2.1,10.45.0.1"),
                ("ip.dst", "192.0.2.2,198.51.100.7"),
                ("ip.id", "0x04bc,0x0488"),
                ("ip.ttl", "64,63"),
                ("ip.flags.df", "1,0"),
                ("ip.checksum.status", "1,1"),
                ("udp.srcport", "2152"),
                ("udp.dstport", "2152"),
                ("udp.length", "48"),
                ("udp.checksum.status", GOOD),
                ("gtp.flags.version", "1"),
                ("gtp.flags.payload", "1"),
                ("gtp.flags.e", "0"),
                ("gtp.flags.s", "0"),
                ("gtp.flags.pn", "0"),
                ("gtp.message", "0xff"),
                ("gtp.length", "32"),
                ("gtp.teid", "0x00001234"),
                ("icmp.type", "8"),
                ("icmp.ident", "1"),
                ("icmp.seq", "1"),
                ("icmp.checksum.status", GOOD),
                ("data.data", "61626364"),
            ],
        ),
        input(
            "gtpu",
            2,
            &[
                ("gtp.message", "0x01"),
                ("gtp.teid", "0x00000000"),
                ("gtp.flags.s", "1"),
                ("gtp.seq_number", "0x0001"),
                ("gtp.length", "4"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input("gtpu", 3, &[("gtp.message", "0x02"), ("gtp.seq_number", "0x0001"), ("ip.src", "192.0.2.2")]),
        input(
            "gtpu",
            4,
            &[
                ("gtp.teid", "0x00000005"),
                ("gtp.flags.s", "1"),
                ("gtp.flags.pn", "1"),
                ("gtp.flags.e", "0"),
                ("gtp.seq_number", "0x0009"),
                ("gtp.npdu_number", "0x03"),
                ("gtp.length", "8"),
            ],
        ),
        input(
            "gtpu",
            5,
            &[
                ("gtp.teid", "0x00001234"),
                ("gtp.flags.e", "1"),
                ("gtp.flags.s", "1"),
                ("gtp.seq_number", "0x0007"),
                ("gtp.length", "40"),
                ("gtp.ext_hdr.next", "0x85,0x00"),
                ("gtp.ext_hdr.length", "1"),
                ("gtp.ext_hdr.pdu_ses_con.pdu_type", "1"),
                ("gtp.ext_hdr.pdu_ses_con.qos_flow_id", "9"),
                ("ip.ttl", "64,63"),
                ("icmp.checksum.status", GOOD),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "gtpu",
            6,
            &[
                ("gtp.teid", "0x00000006"),
                ("gtp.flags.e", "1"),
                ("gtp.ext_hdr.length", "2"),
                ("gtp.ext_hdr.pdu_ses_con.pdu_type", "0"),
                ("gtp.ext_hdr.pdu_ses_con.qos_flow_id", "5"),
                ("gtp.ext_hdr.pdu_ses_cont.ppp", "1"),
                ("gtp.ext_hdr.pdu_ses_cont.ppi", "2"),
                ("gtp.ext_hdr.pdu_ses_cont.rqi", "1"),
                ("ip.src", "0.0.0.0,10.45.0.1"),
                ("udp.dstport", "2152,53"),
                ("udp.checksum.status", "1,1"),
                // The inner payload "q" to port 53 is not a DNS message.
                ("_ws.malformed", "[Malformed Packet: DNS],_ws.malformed"),
            ],
        ),
        input(
            "gtpu",
            7,
            &[
                ("udp.checksum", "0x0000"),
                ("udp.checksum.status", NOT_PRESENT),
                ("gtp.teid", "0x00000001"),
                ("gtp.flags.e", "1"),
                ("gtp.length", "12"),
                ("gtp.ext_hdr.next", "0x40,0xc0,0x00"),
                ("gtp.ext_hdr.length", "1,1"),
                ("gtp.ext_hdr.udp_port", "2152"),
                ("gtp.ext_hdr.pdcp_sn", "7"),
            ],
        ),
        input("gtpu", 8, &[("gtp.message", "0xfe"), ("gtp.teid", "0x00000003"), ("gtp.length", "0")]),
        input("gtpu", 9, &[("gtp.message", "0x1a")]),
        // icmp
        input(
            "icmp",
            1,
            &[
                ("icmp.type", "8"),
                ("icmp.code", "0"),
                ("icmp.ident", "4660"),
                ("icmp.seq", "7"),
                ("icmp.checksum.status", GOOD),
                ("data.data", "70696e67"),
            ],
        ),
        input(
            "icmp",
            2,
            &[
                ("icmp.type", "0"),
                ("icmp.code", "0"),
                ("icmp.ident", "1"),
                ("icmp.seq", "2"),
                ("icmp.checksum.status", GOOD),
            ],
        ),
        input(
            "icmp",
            3,
            &[
                ("icmp.type", "3"),
                ("icmp.code", "3"),
                ("icmp.checksum.status", GOOD),
                ("ip.src", "10.0.0.1,10.0.0.2"),
                ("ip.dst", "10.0.0.2,10.0.0.1"),
                ("ip.ttl", "64,1"),
                ("ip.len", "64,36"),
                ("ip.checksum.status", "1,1"),
                ("udp.srcport", "33434"),
                ("udp.dstport", "33435"),
                ("udp.length", "16"),
            ],
        ),
        input(
            "icmp",
            4,
            &[("icmp.type", "3"), ("icmp.code", "1"), ("icmp.checksum.status", GOOD), ("ip.dst", "10.0.0.2,10.0.0.5")],
        ),
        input(
            "icmp",
            5,
            &[("icmp.type", "11"), ("icmp.code", "0"), ("icmp.checksum.status", GOOD), ("ip.ttl", "64,1")],
        ),
        input(
            "icmp",
            6,
            &[
                ("icmp.type", "3"),
                ("icmp.code", "4"),
                ("icmp.mtu", "1400"),
                ("icmp.checksum.status", GOOD),
                ("ip.flags.df", "0,1"),
            ],
        ),
        input("icmp", 7, &[("icmp.type", "13"), ("icmp.code", "0"), ("icmp.checksum.status", GOOD)]),
        input(
            "icmp",
            8,
            &[("icmp.type", "5"), ("icmp.code", "1"), ("icmp.redir_gw", "192.0.2.1"), ("icmp.checksum.status", GOOD)],
        ),
        input("icmp", 9, &[("icmp.checksum", "0xdead"), ("icmp.checksum.status", BAD)]),
        input(
            "icmp",
            10,
            &[("icmp.ident", "2"), ("icmp.seq", "3"), ("icmp.checksum.status", GOOD), ("data.data", "6f6464")],
        ),
        // payload
        input("payload", 1, &[("data.data", "68656c6c6f")]),
        input("payload", 2, &[("data.data", "deadbeef")]),
        input("payload", 3, &[("data.data", "000000")]),
        input("payload", 4, &[("data.data", "ffffffffffff")]),
        input("payload", 5, &[("data.data", "61626162616261")]),
        input("payload", 6, &[("data.data", "0102010201")]),
        // derived
        input(
            "derived",
            1,
            &[
                ("eth.dst", "02:00:00:00:00:02"),
                ("ip.ttl", "3,5"),
                ("ip.checksum.status", "1,1"),
                ("gtp.teid", "0x00000063"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        // Wildcards are written as zeros in the capture; checksums over them are recomputed.
        expected(
            "derived",
            1,
            "XDP_PASS",
            &[
                ("eth.src", "02:00:00:00:00:01"),
                ("eth.dst", "00:00:00:00:00:00"),
                ("ip.ttl", "3,0"),
                ("ip.checksum.status", "1,1"),
                ("gtp.teid", "0x00000063"),
            ],
        ),
        input(
            "derived",
            2,
            &[
                ("eth.type", "0x0800"),
                ("vlan.id", ""),
                ("gtp.teid", ""),
                ("ip.src", "10.45.0.1"),
                ("ip.ttl", "63"),
                ("icmp.type", "8"),
            ],
        ),
        expected("derived", 2, "XDP_PASS", &[("eth.type", "0x0800"), ("ip.src", "10.45.0.1")]),
        input(
            "derived",
            3,
            &[("eth.type", "0x8100"), ("vlan.id", "300"), ("vlan.priority", "1"), ("gtp.teid", "0x00001234")],
        ),
        input(
            "derived",
            4,
            &[
                ("eth.type", "0x88a8"),
                ("ieee8021ad.id", "100"),
                ("vlan.id", "77"),
                ("vlan.etype", "0x0800"),
                ("gtp.teid", "0x00001234"),
            ],
        ),
        input(
            "derived",
            5,
            &[
                ("vlan.id", "5"),
                ("ip.src", "10.45.0.1"),
                ("ip.ttl", "9"),
                ("udp.srcport", "5000"),
                ("udp.dstport", "40001"),
                ("udp.checksum.status", GOOD),
                ("data.data", "71"),
            ],
        ),
        input(
            "derived",
            6,
            &[
                ("ip.src", "192.0.2.1,10.45.0.1"),
                ("udp.dstport", "2152,40002"),
                ("udp.checksum.status", "1,1"),
                ("gtp.teid", "0x00000008"),
                ("gtp.length", "29"),
            ],
        ),
        expected(
            "derived",
            6,
            "XDP_PASS",
            &[("eth.src", "00:00:00:00:00:00"), ("ip.src", "10.45.0.1"), ("udp.dstport", "40002"), ("gtp.teid", "")],
        ),
    ]
}

/// What Wireshark must see in every frame of `families.pcapng` (TCP, IPv6, ICMPv6, ARP, MPLS,
/// tunnels, IPv4 options). A value ending in `…` is a prefix.
pub fn families() -> Vec<Frame> {
    vec![
        // tcp
        input(
            "tcp",
            1,
            &[
                ("frame.protocols", "eth:ethertype:ip:tcp"),
                ("ip.proto", "6"),
                ("ip.len", "60"),
                ("ip.checksum.status", GOOD),
                ("tcp.srcport", "40000"),
                ("tcp.dstport", "443"),
                ("tcp.seq", "1000"),
                ("tcp.ack", "0"),
                ("tcp.hdr_len", "40"),
                ("tcp.flags", "0x0002"),
                ("tcp.window_size_value", "65535"),
                ("tcp.checksum.status", GOOD),
                ("tcp.options.mss_val", "1460"),
                ("tcp.options.sack_perm", "0402"),
                ("tcp.options.timestamp.tsval", "100"),
                ("tcp.options.timestamp.tsecr", "0"),
                ("tcp.options.nop", "01"),
                ("tcp.options.wscale.shift", "7"),
                ("tcp.option_kind", "2,4,8,1,3"),
            ],
        ),
        input(
            "tcp",
            2,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:tcp"),
                ("ipv6.nxt", "6"),
                ("ipv6.plen", "28"),
                ("tcp.seq", "5000"),
                ("tcp.ack", "1001"),
                ("tcp.flags", "0x0012"),
                ("tcp.flags.syn", "1"),
                ("tcp.flags.ack", "1"),
                ("tcp.hdr_len", "28"),
                ("tcp.window_size_value", "28960"),
                ("tcp.checksum.status", GOOD),
                ("tcp.options.mss_val", "1440"),
                ("tcp.option_kind", "2,1,1,4"),
            ],
        ),
        input(
            "tcp",
            3,
            &[
                ("tcp.flags", "0x0038"),
                ("tcp.flags.urg", "1"),
                ("tcp.flags.push", "1"),
                ("tcp.flags.ack", "1"),
                ("tcp.seq", "1001"),
                ("tcp.ack", "5001"),
                ("tcp.urgent_pointer", "3"),
                ("tcp.hdr_len", "20"),
                ("tcp.payload", "474554202f20485454502f312e310d0a"),
                ("tcp.checksum.status", GOOD),
            ],
        ),
        input(
            "tcp",
            4,
            &[
                ("tcp.flags", "0x0010"),
                ("tcp.hdr_len", "40"),
                ("tcp.options.sack_le", "100,300"),
                ("tcp.options.sack_re", "200,400"),
                ("tcp.options.sack.count", "2"),
                ("tcp.checksum.status", GOOD),
            ],
        ),
        input("tcp", 5, &[("tcp.flags", "0x0004"), ("tcp.flags.reset", "1"), ("tcp.checksum.status", GOOD)]),
        input("tcp", 6, &[("tcp.flags", "0x0011"), ("tcp.flags.fin", "1"), ("tcp.checksum.status", GOOD)]),
        input(
            "tcp",
            7,
            &[("tcp.flags", "0x00c2"), ("tcp.flags.cwr", "1"), ("tcp.flags.ece", "1"), ("tcp.checksum.status", GOOD)],
        ),
        input("tcp", 8, &[("tcp.checksum", "0x1234"), ("tcp.checksum.status", BAD)]),
        input(
            "tcp",
            9,
            &[
                ("tcp.hdr_len", "28"),
                ("tcp.option_kind", "253,0,0,0,0"),
                ("tcp.options.experimental.exid", "0x0102"),
                ("tcp.checksum.status", GOOD),
            ],
        ),
        input("tcp", 10, &[("tcp.hdr_len", "24"), ("tcp.options.mss_val", "1460"), ("tcp.checksum.status", GOOD)]),
        // ipv6
        input(
            "ipv6",
            1,
            &[
                ("eth.type", "0x86dd"),
                ("ipv6.version", "6"),
                ("ipv6.tclass.dscp", "46"),
                ("ipv6.tclass.ecn", "2"),
                ("ipv6.flow", "0x012345"),
                ("ipv6.hlim", "7"),
                ("ipv6.plen", "11"),
                ("ipv6.nxt", "17"),
                ("ipv6.src", "2001:db8::1"),
                ("ipv6.dst", "2001:db8::2"),
                ("udp.length", "11"),
                ("udp.checksum.status", GOOD),
                ("data.data", "736978"),
            ],
        ),
        input("ipv6", 2, &[("frame.protocols", "eth:ethertype:ipv6"), ("ipv6.plen", "0"), ("ipv6.nxt", "59")]),
        input("ipv6", 3, &[("ipv6.plen", "3"), ("ipv6.nxt", "253"), ("data.data", "726177")]),
        input(
            "ipv6",
            4,
            &[
                ("ipv6.tclass", "0x000000b9"),
                ("ipv6.plen", "100"),
                ("_ws.expert.message", "…IPv6 payload length exceeds framing length (8 bytes)"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input("ipv6", 5, &[("udp.checksum", "0x1234"), ("udp.checksum.status", BAD)]),
        // ext_headers
        input(
            "ext_headers",
            1,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:ipv6.hopopts:udp"),
                ("ipv6.nxt", "0"),
                ("ipv6.plen", "16"),
                ("ipv6.hopopts.nxt", "17"),
                ("ipv6.hopopts.len", "0"),
                ("ipv6.opt.type", "0x05,0x01"),
                ("ipv6.opt.router_alert", "0"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "ext_headers",
            2,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:ipv6.hopopts:ipv6.dstopts:ipv6.routing:ipv6.fraghdr:data"),
                ("ipv6.plen", "57"),
                ("ipv6.hopopts.nxt", "60"),
                ("ipv6.opt.type", "0x01,0x01,0x1e,0x00,0x00"),
                ("ipv6.opt.experimental", "aabb"),
                ("ipv6.dstopts.nxt", "43"),
                ("ipv6.routing.nxt", "44"),
                ("ipv6.routing.type", "2"),
                ("ipv6.routing.segleft", "1"),
                ("ipv6.routing.len", "2"),
                ("ipv6.routing.mipv6.home_address", "2001:db8::99"),
                ("ipv6.fraghdr.nxt", "17"),
                ("ipv6.fraghdr.offset", "0"),
                ("ipv6.fraghdr.more", "1"),
                ("ipv6.fraghdr.ident", "0x00001234"),
                // The UDP header of the first fragment: ports 1 and 2, length 9.
                ("data.data", "0001000200092bcd78"),
            ],
        ),
        input(
            "ext_headers",
            3,
            &[
                ("ipv6.nxt", "43"),
                ("ipv6.routing.type", "0"),
                ("ipv6.routing.segleft", "2"),
                ("ipv6.routing.len", "4"),
                ("ipv6.routing.src.addr", "2001:db8::20,2001:db8::30"),
                ("_ws.expert.message", "…Routing header type is deprecated"),
                // Computed over the final destination (2001:db8::30), as RFC 8200 §8.1 says.
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "ext_headers",
            4,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:ipv6.routing:ipv6:udp:data"),
                ("ipv6.routing.type", "4"),
                ("ipv6.routing.nxt", "41"),
                ("ipv6.routing.segleft", "1"),
                ("ipv6.routing.srh.last_entry", "1"),
                ("ipv6.routing.srh.tag", "0007"),
                ("ipv6.routing.srh.addr", "2001:db8::2,2001:db8::100"),
                ("ipv6.dst", "2001:db8::100,2001:db8::2"),
                ("udp.checksum.status", GOOD),
                ("data.data", "0001020304050607"),
            ],
        ),
        input(
            "ext_headers",
            5,
            &[
                ("ipv6.nxt", "44"),
                ("ipv6.fraghdr.nxt", "253"),
                ("ipv6.fraghdr.offset", "185"),
                ("ipv6.fraghdr.more", "0"),
                ("data.data", "00010203040506000102030405060001"),
            ],
        ),
        // icmpv6
        input(
            "icmpv6",
            1,
            &[
                ("ipv6.nxt", "58"),
                ("icmpv6.type", "128"),
                ("icmpv6.code", "0"),
                ("icmpv6.echo.identifier", "0x0007"),
                ("icmpv6.echo.sequence_number", "1"),
                ("icmpv6.checksum.status", GOOD),
                ("data.data", "000102030405060708090a0b0c0d0e0f"),
            ],
        ),
        input("icmpv6", 2, &[("icmpv6.type", "129"), ("icmpv6.checksum.status", GOOD), ("data.data", "706f6e67")]),
        input(
            "icmpv6",
            3,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:icmpv6:ipv6:udp"),
                ("icmpv6.type", "1"),
                ("icmpv6.code", "4"),
                ("icmpv6.checksum.status", GOOD),
                ("ipv6.src", "2001:db8::fe,2001:db8::1"),
                ("udp.dstport", "33435"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "icmpv6",
            4,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:icmpv6:ipv6:tcp"),
                ("icmpv6.type", "2"),
                ("icmpv6.mtu", "1280"),
                ("icmpv6.checksum.status", GOOD),
                ("tcp.flags", "0x0010"),
                ("tcp.checksum.status", GOOD),
            ],
        ),
        input(
            "icmpv6",
            5,
            &[("icmpv6.type", "3"), ("icmpv6.code", "0"), ("ipv6.hlim", "64,1"), ("icmpv6.checksum.status", GOOD)],
        ),
        input(
            "icmpv6",
            6,
            &[
                ("icmpv6.type", "4"),
                ("icmpv6.code", "1"),
                ("icmpv6.pointer", "6"),
                ("ipv6.nxt", "58,200"),
                ("icmpv6.checksum.status", GOOD),
                (
                    "_ws.expert.message",
                    "…IPv6 payload length equals 0 (maybe because of \"TCP segmentation offload\" (TSO))",
                ),
            ],
        ),
        input(
            "icmpv6",
            7,
            &[
                ("eth.dst", "33:33:ff:00:00:02"),
                ("ipv6.hlim", "255"),
                ("icmpv6.type", "135"),
                ("icmpv6.nd.ns.target_address", "2001:db8::2"),
                ("icmpv6.opt.type", "1"),
                ("icmpv6.opt.length", "1"),
                ("icmpv6.opt.src_linkaddr", "00:00:5e:00:53:01"),
                ("icmpv6.checksum.status", GOOD),
            ],
        ),
        input(
            "icmpv6",
            8,
            &[
                ("icmpv6.type", "136"),
                ("icmpv6.nd.na.flag.r", "1"),
                ("icmpv6.nd.na.flag.s", "1"),
                ("icmpv6.nd.na.flag.o", "1"),
                ("icmpv6.nd.na.target_address", "2001:db8::2"),
                ("icmpv6.opt.target_linkaddr", "00:00:5e:00:53:02"),
                ("icmpv6.checksum.status", GOOD),
            ],
        ),
        input(
            "icmpv6",
            9,
            &[
                ("icmpv6.type", "133"),
                ("icmpv6.opt.src_linkaddr", "00:00:5e:00:53:02"),
                ("icmpv6.checksum.status", GOOD),
            ],
        ),
        input(
            "icmpv6",
            10,
            &[
                ("icmpv6.type", "134"),
                ("icmpv6.nd.ra.cur_hop_limit", "64"),
                ("icmpv6.nd.ra.flag.m", "1"),
                ("icmpv6.nd.ra.flag.o", "0"),
                ("icmpv6.nd.ra.router_lifetime", "600"),
                ("icmpv6.nd.ra.reachable_time", "30000"),
                ("icmpv6.nd.ra.retrans_timer", "1000"),
                ("icmpv6.opt.type", "1,5,3"),
                ("icmpv6.opt.src_linkaddr", "00:00:5e:00:53:fe"),
                ("icmpv6.opt.mtu", "1500"),
                ("icmpv6.opt.prefix", "2001:db8:1::"),
                ("icmpv6.opt.prefix.length", "64"),
                ("icmpv6.opt.prefix.flag.l", "1"),
                ("icmpv6.opt.prefix.flag.a", "1"),
                ("icmpv6.opt.prefix.valid_lifetime", "86400"),
                ("icmpv6.opt.prefix.preferred_lifetime", "14400"),
                ("icmpv6.checksum.status", GOOD),
            ],
        ),
        input("icmpv6", 11, &[("icmpv6.checksum", "0xdead"), ("icmpv6.checksum.status", BAD)]),
        input(
            "icmpv6",
            12,
            &[
                ("icmpv6.type", "200"),
                ("icmpv6.code", "9"),
                ("icmpv6.data", "0000000001020304"),
                ("icmpv6.checksum.status", GOOD),
                ("_ws.expert.message", "…Dissector for ICMPv6 Type (200) code not implemented…"),
            ],
        ),
        // arp
        input(
            "arp",
            1,
            &[
                ("eth.type", "0x0806"),
                ("arp.hw.type", "1"),
                ("arp.proto.type", "0x0800"),
                ("arp.hw.size", "6"),
                ("arp.proto.size", "4"),
                ("arp.opcode", "1"),
                ("arp.src.hw_mac", "00:00:5e:00:53:01"),
                ("arp.src.proto_ipv4", "192.0.2.1"),
                ("arp.dst.hw_mac", "00:00:00:00:00:00"),
                ("arp.dst.proto_ipv4", "192.0.2.2"),
            ],
        ),
        input(
            "arp",
            2,
            &[
                ("arp.opcode", "2"),
                ("arp.src.hw_mac", "00:00:5e:00:53:02"),
                ("arp.src.proto_ipv4", "192.0.2.2"),
                ("arp.dst.hw_mac", "00:00:5e:00:53:01"),
                ("arp.dst.proto_ipv4", "192.0.2.1"),
            ],
        ),
        // mpls
        input(
            "mpls",
            1,
            &[
                ("eth.type", "0x8847"),
                ("mpls.label", "100,200"),
                ("mpls.exp", "5,0"),
                ("mpls.bottom", "0,1"),
                ("mpls.ttl", "64,32"),
                ("ip.src", "10.0.0.1"),
                ("ip.checksum.status", GOOD),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "mpls",
            2,
            &[
                ("frame.protocols", "eth:ethertype:mpls:ipv6:icmpv6"),
                ("mpls.label", "16"),
                ("mpls.bottom", "1"),
                ("icmpv6.checksum.status", GOOD),
            ],
        ),
        // tunnels
        input(
            "tunnels",
            1,
            &[
                ("frame.protocols", "eth:ethertype:ip:ip:tcp"),
                ("ip.proto", "4,6"),
                ("ip.len", "60,40"),
                ("ip.checksum.status", "1,1"),
                ("tcp.checksum.status", GOOD),
            ],
        ),
        input(
            "tunnels",
            2,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:ipv6:tcp"),
                ("ipv6.nxt", "41,6"),
                ("ipv6.plen", "60,20"),
                ("tcp.checksum.status", GOOD),
            ],
        ),
        input(
            "tunnels",
            3,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:ip:udp"),
                ("ipv6.nxt", "4"),
                ("ip.checksum.status", GOOD),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "tunnels",
            4,
            &[("frame.protocols", "eth:ethertype:ip:ipv6:udp"), ("ip.proto", "41"), ("udp.checksum.status", GOOD)],
        ),
        input(
            "tunnels",
            5,
            &[
                ("frame.protocols", "eth:ethertype:ip:gre:ip:udp"),
                ("ip.proto", "47,17"),
                ("gre.flags.checksum", "0"),
                ("gre.flags.key", "1"),
                ("gre.flags.sequence_number", "0"),
                ("gre.proto", "0x0800"),
                ("gre.key", "0x0000002a"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "tunnels",
            6,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:gre:ipv6:udp"),
                ("ipv6.nxt", "47,17"),
                ("gre.flags_and_version", "0xb000"),
                ("gre.proto", "0x86dd"),
                ("gre.checksum.status", GOOD),
                ("gre.key", "0x01020304"),
                ("gre.sequence_number", "7"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "tunnels",
            7,
            &[
                ("frame.protocols", "eth:ethertype:ip:gre:eth:ethertype:ip:udp"),
                ("gre.flags_and_version", "0x0000"),
                ("gre.proto", "0x6558"),
                ("eth.src", "00:00:00:00:00:00,00:00:5e:00:53:01"),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "tunnels",
            8,
            &[
                ("frame.protocols", "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:udp"),
                ("udp.srcport", "49152,1"),
                ("udp.dstport", "4789,2"),
                ("udp.checksum.status", "1,1"),
                ("vxlan.flags", "0x0800"),
                ("vxlan.vni", "100"),
                ("eth.dst", "00:00:00:00:00:00,00:00:5e:00:53:02"),
            ],
        ),
        input(
            "tunnels",
            9,
            &[
                ("frame.protocols", "eth:ethertype:ipv6:udp:geneve:eth:ethertype:ip:udp"),
                ("udp.dstport", "6081,2"),
                ("udp.checksum.status", "1,1"),
                ("geneve.version", "0"),
                ("geneve.option.length", "8,8"),
                ("geneve.proto_type", "0x6558"),
                ("geneve.vni", "0x001234"),
                ("geneve.option.class", "0x0102"),
                ("geneve.option.type", "0x80"),
                ("geneve.option.unknown.data", "01020304"),
            ],
        ),
        input(
            "tunnels",
            10,
            &[
                // Wireshark has no GUE dissector: the header is checked by its bytes (version 0, no
                // control, hlen 0, protocol 4, flags 0) and the inner packet by scapy parity.
                ("udp.dstport", "6080"),
                ("udp.length", "52"),
                ("udp.checksum.status", GOOD),
                ("data.data", "0004000045…"),
            ],
        ),
        input(
            "tunnels",
            11,
            &[
                // FOU has no header: decoded as IP after UDP port 5555 (`-d udp.port==5555,ip`).
                // (Wireshark's `ip` dissector hands version 6 to `ipv6`, hence `ip:ipv6`.)
                ("frame.protocols", "eth:ethertype:ip:udp:ip:ipv6:tcp"),
                ("udp.checksum.status", GOOD),
                ("ipv6.nxt", "6"),
                ("tcp.checksum.status", GOOD),
            ],
        ),
        // ipv4_options
        input(
            "ipv4_options",
            1,
            &[
                ("ip.hdr_len", "24"),
                ("ip.opt.type", "148"),
                ("ip.opt.ra", "0"),
                ("ip.checksum.status", GOOD),
                ("udp.checksum.status", GOOD),
            ],
        ),
        input(
            "ipv4_options",
            2,
            &[
                ("ip.hdr_len", "36"),
                ("ip.opt.type", "1,7,0"),
                ("ip.opt.len", "11"),
                ("ip.opt.ptr", "12"),
                ("ip.rec_rt", "10.0.0.1,10.0.0.9"),
                ("ip.checksum.status", GOOD),
            ],
        ),
        input(
            "ipv4_options",
            3,
            &[
                ("ip.hdr_len", "32"),
                ("ip.opt.type", "68"),
                ("ip.opt.len", "12"),
                ("ip.opt.ptr", "13"),
                ("ip.opt.flag", "0x00"),
                ("ip.opt.time_stamp", "1000,2000"),
                ("ip.checksum.status", GOOD),
            ],
        ),
    ]
}

/// Builds the BPF programs (`make -C programs`) when an object of a `programs/*.c` is missing.
pub fn ensure_programs(repo: &Path) {
    let programs = repo.join("programs");
    let missing = std::fs::read_dir(&programs)
        .expect("programs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .any(|c| {
            let stem = c.file_stem().unwrap();
            !programs.join("build").join(stem).with_extension("o").exists()
        });
    if !missing {
        return;
    }
    let out = Command::new("make")
        .arg("-C")
        .arg(repo.join("programs"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run make ({e}): install make and clang to build programs/"));
    assert!(
        out.status.success(),
        "`make -C programs` failed (needs clang, llvm and libbpf-dev):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Per frame comment, tshark's value of each of `fields` (occurrences joined with `,`).
pub fn tshark_fields(pcap: &Path, fields: &[&str]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(pcap);
    cmd.args(["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"]);
    // Absolute sequence numbers, and no conversation analysis across unrelated test packets.
    cmd.args(["-o", "tcp.relative_sequence_numbers:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE"]);
    // FOU (IP right after UDP) has no header to recognise: `families.pkt` uses port 5555 for it.
    cmd.args(["-d", "udp.port==5555,ip"]);
    cmd.args(["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a"]);
    cmd.args(["-E", "aggregator=,", "-e", "frame.comment"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run tshark ({e}): this test needs Wireshark's tshark on PATH \
             (Debian/Ubuntu: `apt-get install tshark`, Fedora: `dnf install wireshark-cli`, \
             macOS: `brew install wireshark`)"
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark failed on {}: {}\n{stdout}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut frames = BTreeMap::new();
    for line in stdout.lines() {
        let mut cols = line.split('\t');
        let comment = cols.next().unwrap_or_default().to_string();
        let values: BTreeMap<String, String> =
            fields.iter().map(|f| (f.to_string(), cols.next().unwrap_or_default().to_string())).collect();
        assert!(frames.insert(comment.clone(), values).is_none(), "two frames are commented {comment:?}");
    }
    frames
}

/// Decodes `pcap` (the capture of `layers.pkt`) with tshark and checks it against [`expectations`],
/// reporting every mismatch at once.
pub fn check_layers_pcap(pcap: &Path) {
    check_pcap(pcap, "layers.pkt", &expectations());
}

/// Decodes `pcap` (the capture of `families.pkt`) and checks it against [`families`].
pub fn check_families_pcap(pcap: &Path) {
    check_pcap(pcap, "families.pkt", &families());
}

/// Whether tshark's `have` matches `want`, where `…` in `want` stands for any text.
fn matches(have: &str, want: &str) -> bool {
    let parts: Vec<&str> = want.split('…').collect();
    if parts.len() == 1 {
        return have == want;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !have.starts_with(first) || !have[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &have[first.len()..have.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Checks every frame of `pcap` against `expect`: each listed field, and that Wireshark found
/// nothing malformed (unless the frame lists `_ws.malformed` itself).
fn check_pcap(pcap: &Path, spec: &str, expect: &[Frame]) {
    let mut fields: BTreeSet<&str> = expect.iter().flat_map(|f| f.fields.iter().map(|(n, _)| *n)).collect();
    fields.insert("_ws.malformed");
    let fields: Vec<&str> = fields.into_iter().collect();
    let frames = tshark_fields(pcap, &fields);
    let mut problems = Vec::new();
    for frame in expect {
        let Some(got) = frames.get(&frame.comment) else {
            problems.push(format!("no frame commented {:?}", frame.comment));
            continue;
        };
        let mut wanted = frame.fields.clone();
        if !wanted.iter().any(|(f, _)| *f == "_ws.malformed") {
            wanted.push(("_ws.malformed", ""));
        }
        for (field, want) in &wanted {
            let have = got.get(*field).map(String::as_str).unwrap_or_default();
            if !matches(have, want) {
                problems.push(format!("{}: {field} is {have:?}, expected {want:?}", frame.comment));
            }
        }
    }
    let known: BTreeSet<&str> = expect.iter().map(|f| f.comment.as_str()).collect();
    for comment in frames.keys() {
        if !known.contains(comment.as_str()) {
            problems.push(format!("frame {comment:?} has no expectations in the oracle"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches between {spec} and Wireshark:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}
