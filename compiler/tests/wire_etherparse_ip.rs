//! Checks the encoder's newer layers against etherparse, where etherparse covers them: TCP (flags,
//! options, checksum over IPv4 and IPv6), IPv6 (header fields, the extension header chain, fragments),
//! ICMPv6 (every message type etherparse knows, checksum), ARP, and IP-in-IP stacks. The packets are
//! written in the `.pkt` language and compiled by the real spec pipeline.

mod support;

use etherparse::icmpv6::{DestUnreachableCode, ParameterProblemCode, TimeExceededCode};
use etherparse::{
    ArpOperation, IcmpEchoHeader, Icmpv6Slice, Icmpv6Type, IpNumber, Ipv6ExtensionSlice, Ipv6Slice, NetSlice,
    SlicedPacket, TcpOptionElement, TcpSlice, TransportSlice,
};

const ETHER: &str = "ether(src=00:00:5e:00:53:01, dst=00:00:5e:00:53:02)";

/// Compiles `pkt` (with `E` standing for a fixed Ethernet header) to bytes.
fn bytes(pkt: &str) -> Vec<u8> {
    support::compile_packets(&[("p", pkt.replace("E /", &format!("{ETHER} /")))]).remove(0)
}

fn ipv6<'a>(p: &SlicedPacket<'a>) -> Ipv6Slice<'a> {
    match &p.net {
        Some(NetSlice::Ipv6(v6)) => v6.clone(),
        other => panic!("not IPv6: {other:?}"),
    }
}

fn tcp<'a>(p: &'a SlicedPacket) -> &'a TcpSlice<'a> {
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => t,
        other => panic!("no TCP: {other:?}"),
    }
}

fn icmpv6<'a>(p: &'a SlicedPacket) -> &'a Icmpv6Slice<'a> {
    match &p.transport {
        Some(TransportSlice::Icmpv6(i)) => i,
        other => panic!("no ICMPv6: {other:?}"),
    }
}

/// The valid ICMPv6 checksum over the packet's IPv6 pseudo-header.
fn icmpv6_checksum_ok(p: &SlicedPacket) -> bool {
    let h = ipv6(p).header();
    icmpv6(p).is_checksum_valid(h.source(), h.destination())
}

#[test]
fn tcp_over_ipv4_flags_options_and_checksum() {
    let b = bytes(
        "E / ipv4(src=10.0.0.1, dst=10.0.0.2) / tcp(sport=40000, dport=443, seq=1000, ack_seq=5, syn, ece, cwr, \
         window=1024, options=[mss(1460), sack_permitted, timestamps(100, 7), nop, wscale(7), nop, nop, \
         sack(1, 2)]) / payload(\"abc\")",
    );
    let p = SlicedPacket::from_ethernet(&b).unwrap();
    let Some(NetSlice::Ipv4(v4)) = &p.net else { panic!("not IPv4") };
    assert_eq!(v4.header().protocol(), IpNumber::TCP);
    let t = tcp(&p);
    assert_eq!((t.source_port(), t.destination_port()), (40000, 443));
    assert_eq!((t.sequence_number(), t.acknowledgment_number()), (1000, 5));
    assert!(t.syn() && t.ece() && t.cwr());
    assert!(!(t.ack() || t.fin() || t.rst() || t.psh() || t.urg() || t.ns()));
    assert_eq!(t.window_size(), 1024);
    // 20 + 4 + 2 + 10 + 1 + 3 + 2 + 10 = 52 bytes of header: doff 13.
    assert_eq!(t.data_offset(), 13);
    let options: Vec<TcpOptionElement> = t.options_iterator().map(|o| o.unwrap()).collect();
    assert_eq!(
        options,
        [
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(100, 7),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::SelectiveAcknowledgement((1, 2), [None, None, None]),
        ]
    );
    assert_eq!(t.payload(), b"abc");
    let h = v4.header();
    assert_eq!(t.calc_checksum_ipv4(h.source(), h.destination()).unwrap(), t.checksum());
}

#[test]
fn tcp_over_ipv6_and_a_deliberately_wrong_checksum() {
    let good = bytes(
        "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / tcp(sport=1, dport=2, flags=psh|ack|fin|urg, urg_ptr=4) \
         / payload(len=5, counting)",
    );
    let p = SlicedPacket::from_ethernet(&good).unwrap();
    let t = tcp(&p);
    assert!(t.psh() && t.ack() && t.fin() && t.urg() && !t.syn());
    assert_eq!(t.urgent_pointer(), 4);
    assert_eq!(t.data_offset(), 5);
    let h = ipv6(&p).header();
    assert_eq!(t.calc_checksum_ipv6(h.source(), h.destination()).unwrap(), t.checksum());

    let bad = bytes("E / ipv6(src=2001:db8::1, dst=2001:db8::2) / tcp(sport=1, dport=2, checksum=0x1234)");
    let p = SlicedPacket::from_ethernet(&bad).unwrap();
    let t = tcp(&p);
    assert_eq!(t.checksum(), 0x1234);
    let h = ipv6(&p).header();
    assert_ne!(t.calc_checksum_ipv6(h.source(), h.destination()).unwrap(), 0x1234);
}

#[test]
fn ipv6_header_fields() {
    let b = bytes(
        "E / ipv6(src=2001:db8::1, dst=2001:db8::2, dscp=af41, ecn=ce, flow=0xabcde, hlim=3) \
         / udp(sport=1, dport=2) / payload(\"six\")",
    );
    let p = SlicedPacket::from_ethernet(&b).unwrap();
    let h = ipv6(&p).header();
    assert_eq!(h.version(), 6);
    assert_eq!(h.traffic_class(), (34 << 2) | 3);
    assert_eq!(h.flow_label().value(), 0xabcde);
    assert_eq!(h.hop_limit(), 3);
    assert_eq!(h.next_header(), IpNumber::UDP);
    assert_eq!(h.payload_length(), 11);
    assert_eq!(h.source_addr(), "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap());
    let Some(TransportSlice::Udp(u)) = &p.transport else { panic!("no UDP") };
    let expected = u.to_header().calc_checksum_ipv6_raw(h.source(), h.destination(), u.payload()).unwrap();
    assert_eq!(u.checksum(), expected);
}

#[test]
fn ipv6_extension_header_chain() {
    let b = bytes(
        "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / hbh(options=[router_alert(0)]) / dstopts(options=[padn(6)]) \
         / routing(type=2, segleft=1, addresses=[2001:db8::99]) / dstopts / tcp.syn(sport=1, dport=2)",
    );
    let p = SlicedPacket::from_ethernet(&b).unwrap();
    let v6 = ipv6(&p);
    assert_eq!(v6.header().next_header(), IpNumber::IPV6_HEADER_HOP_BY_HOP);
    let kinds: Vec<&str> = v6
        .extensions()
        .clone()
        .into_iter()
        .map(|e| match e {
            Ipv6ExtensionSlice::HopByHop(_) => "hbh",
            Ipv6ExtensionSlice::DestinationOptions(_) => "dstopts",
            Ipv6ExtensionSlice::Routing(_) => "routing",
            Ipv6ExtensionSlice::Fragment(_) => "frag",
            Ipv6ExtensionSlice::Authentication(_) => "auth",
        })
        .collect();
    assert_eq!(kinds, ["hbh", "dstopts", "routing", "dstopts"]);
    let lens: Vec<usize> = v6
        .extensions()
        .clone()
        .into_iter()
        .map(|e| match e {
            Ipv6ExtensionSlice::HopByHop(s)
            | Ipv6ExtensionSlice::DestinationOptions(s)
            | Ipv6ExtensionSlice::Routing(s) => s.slice().len(),
            _ => 0,
        })
        .collect();
    assert_eq!(lens, [8, 8, 24, 8]);
    assert_eq!(v6.payload().ip_number, IpNumber::TCP);
    // The TCP checksum is over the home address in the type 2 routing header (RFC 6275 §6.4), which
    // etherparse does not know about: check it against the pseudo-header built by hand.
    let t = tcp(&p);
    let home: [u8; 16] = "2001:db8::99".parse::<std::net::Ipv6Addr>().unwrap().octets();
    assert_eq!(t.calc_checksum_ipv6(v6.header().source(), home).unwrap(), t.checksum());
}

#[test]
fn ipv6_fragments() {
    let first = bytes(
        "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / frag6(m, id=0xdeadbeef) / udp(sport=1, dport=2) \
         / payload(len=16)",
    );
    let p = SlicedPacket::from_ethernet(&first).unwrap();
    let v6 = ipv6(&p);
    let Some(Ipv6ExtensionSlice::Fragment(f)) = v6.extensions().clone().into_iter().next() else {
        panic!("no fragment header")
    };
    assert!(f.more_fragments());
    assert_eq!(f.fragment_offset().value(), 0);
    assert_eq!(f.identification(), 0xdeadbeef);
    assert_eq!(f.next_header(), IpNumber::UDP);
    assert!(v6.is_payload_fragmented());

    let later = bytes("E / ipv6(src=2001:db8::1, dst=2001:db8::2) / ipv6.frag(offset=3, id=7) / payload(len=8)");
    let p = SlicedPacket::from_ethernet(&later).unwrap();
    let v6 = ipv6(&p);
    let Some(Ipv6ExtensionSlice::Fragment(f)) = v6.extensions().clone().into_iter().next() else {
        panic!("no fragment header")
    };
    assert!(!f.more_fragments());
    assert_eq!(f.fragment_offset().value(), 3);
    assert_eq!(f.identification(), 7);
}

#[test]
fn icmpv6_messages_and_checksums() {
    let cases: Vec<(&str, Icmpv6Type)> = vec![
        (
            "icmpv6.echo_request(id=7, seq=9) / payload(\"ping\")",
            Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 7, seq: 9 }),
        ),
        ("icmpv6.echo_reply(id=7, seq=9)", Icmpv6Type::EchoReply(IcmpEchoHeader { id: 7, seq: 9 })),
        (
            "icmpv6.dest_unreach(code=port_unreachable) / ipv6 / udp",
            Icmpv6Type::DestinationUnreachable(DestUnreachableCode::Port),
        ),
        (
            "icmpv6.dest_unreach(code=admin_prohibited) / ipv6 / udp",
            Icmpv6Type::DestinationUnreachable(DestUnreachableCode::Prohibited),
        ),
        ("icmpv6.packet_too_big(mtu=1280) / ipv6 / tcp", Icmpv6Type::PacketTooBig { mtu: 1280 }),
        ("icmpv6.time_exceeded / ipv6 / udp", Icmpv6Type::TimeExceeded(TimeExceededCode::HopLimitExceeded)),
        (
            "icmpv6.time_exceeded(code=reassembly_time_exceeded) / ipv6 / udp",
            Icmpv6Type::TimeExceeded(TimeExceededCode::FragmentReassemblyTimeExceeded),
        ),
        (
            "icmpv6.param_problem(code=unrecognized_next_header, pointer=6) / ipv6(nh=200)",
            Icmpv6Type::ParameterProblem(etherparse::icmpv6::ParameterProblemHeader {
                code: ParameterProblemCode::UnrecognizedNextHeader,
                pointer: 6,
            }),
        ),
        ("icmpv6.rs(options=[src_lladdr(00:00:5e:00:53:01)])", Icmpv6Type::RouterSolicitation),
        (
            "icmpv6.ra(cur_hlim=64, lifetime=600, options=[mtu(1500)])",
            Icmpv6Type::RouterAdvertisement(etherparse::icmpv6::RouterAdvertisementHeader {
                cur_hop_limit: 64,
                managed_address_config: false,
                other_config: false,
                router_lifetime: 600,
            }),
        ),
        ("icmpv6.ns(target=2001:db8::2)", Icmpv6Type::NeighborSolicitation),
        (
            "icmpv6.na(target=2001:db8::2, s, o, options=[tgt_lladdr(00:00:5e:00:53:02)])",
            Icmpv6Type::NeighborAdvertisement(etherparse::icmpv6::NeighborAdvertisementHeader {
                router: false,
                solicited: true,
                r#override: true,
            }),
        ),
        (
            "icmpv6(type=200, code=9) / payload(hex\"01020304\")",
            Icmpv6Type::Unknown { type_u8: 200, code_u8: 9, bytes5to8: [0, 0, 0, 0] },
        ),
    ];
    for (msg, expected) in cases {
        let b = bytes(&format!("E / ipv6(src=2001:db8::1, dst=2001:db8::2, hlim=255) / {msg}"));
        let p = SlicedPacket::from_ethernet(&b).unwrap();
        assert_eq!(icmpv6(&p).icmp_type(), expected, "{msg}");
        assert!(icmpv6_checksum_ok(&p), "{msg}: bad checksum");
    }
    let bad = bytes("E / ipv6(src=2001:db8::1, dst=2001:db8::2) / icmpv6.echo_request(checksum=0xdead)");
    let p = SlicedPacket::from_ethernet(&bad).unwrap();
    assert!(!icmpv6_checksum_ok(&p));
}

#[test]
fn arp_request_and_reply() {
    for (pkt, op) in [
        (
            "E / arp.request(sender_mac=00:00:5e:00:53:01, sender_ip=192.0.2.1, target_ip=192.0.2.2)",
            ArpOperation::REQUEST,
        ),
        (
            "E / arp(op=reply, sender_mac=00:00:5e:00:53:01, sender_ip=192.0.2.1, target_mac=00:00:5e:00:53:02, \
             target_ip=192.0.2.2)",
            ArpOperation::REPLY,
        ),
    ] {
        let b = bytes(pkt);
        let p = SlicedPacket::from_ethernet(&b).unwrap();
        let Some(NetSlice::Arp(arp)) = &p.net else { panic!("not ARP: {pkt}") };
        let arp = arp.to_packet().try_eth_ipv4().unwrap();
        assert_eq!(arp.operation, op);
        assert_eq!(arp.sender_mac, [0, 0, 0x5e, 0, 0x53, 1]);
        assert_eq!(arp.sender_ipv4, [192, 0, 2, 1]);
        assert_eq!(arp.target_ipv4, [192, 0, 2, 2]);
        let target_mac = if op == ArpOperation::REPLY { [0, 0, 0x5e, 0, 0x53, 2] } else { [0; 6] };
        assert_eq!(arp.target_mac, target_mac);
    }
}

#[test]
fn ip_in_ip_stacks_announce_their_inner_protocol() {
    let stacks = [
        ("ipv4(src=198.51.100.1, dst=198.51.100.2) / ipv4(src=10.0.0.1, dst=10.0.0.2)", IpNumber::IPV4, 4),
        ("ipv4(src=198.51.100.1, dst=198.51.100.2) / ipv6(src=2001:db8::1, dst=2001:db8::2)", IpNumber::IPV6, 6),
        ("ipv6(src=2001:db8:ff::1, dst=2001:db8:ff::2) / ipv4(src=10.0.0.1, dst=10.0.0.2)", IpNumber::IPV4, 4),
        ("ipv6(src=2001:db8:ff::1, dst=2001:db8:ff::2) / ipv6(src=2001:db8::1, dst=2001:db8::2)", IpNumber::IPV6, 6),
    ];
    for (outer_inner, proto, version) in stacks {
        let b = bytes(&format!("E / {outer_inner} / tcp.syn(sport=1, dport=2)"));
        let p = SlicedPacket::from_ethernet(&b).unwrap();
        let payload = p.net.as_ref().and_then(|n| n.ip_payload_ref()).expect("an IP payload");
        assert_eq!(payload.ip_number, proto, "{outer_inner}");
        let inner = SlicedPacket::from_ip(payload.payload).unwrap();
        let t = tcp(&inner);
        assert!(t.syn());
        let ok = match &inner.net {
            Some(NetSlice::Ipv4(v4)) if version == 4 => {
                t.calc_checksum_ipv4(v4.header().source(), v4.header().destination()).unwrap() == t.checksum()
            }
            Some(NetSlice::Ipv6(v6)) if version == 6 => {
                t.calc_checksum_ipv6(v6.header().source(), v6.header().destination()).unwrap() == t.checksum()
            }
            other => panic!("{outer_inner}: inner is {other:?}"),
        };
        assert!(ok, "{outer_inner}: inner TCP checksum");
    }
}
