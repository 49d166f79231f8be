//! Checks the encoder against an independent parser (etherparse): Ethernet, 802.1Q/QinQ, IPv4 (options,
//! header checksum), UDP (checksum) and ICMPv4 (checksum).

use etherparse::{
    Icmpv4Slice, Ipv4HeaderSlice, LinkExtSlice, LinkSlice, NetSlice, SlicedPacket, TransportSlice, UdpHeader,
    UdpHeaderSlice,
};
use xdptest_compiler::wire::{encode, FieldValue, Layer, LayerKind};

fn int(v: u64) -> FieldValue {
    FieldValue::Int(v)
}

fn bytes(b: &[u8]) -> FieldValue {
    FieldValue::Bytes(b.to_vec())
}

fn layer(kind: LayerKind, fields: Vec<(&'static str, FieldValue)>) -> Layer {
    let mut l = Layer::new(kind);
    l.fields.extend(fields);
    l
}

const SRC_MAC: [u8; 6] = [0, 0, 0x5e, 0, 0x53, 2];
const DST_MAC: [u8; 6] = [0, 0, 0x5e, 0, 0x53, 1];

fn eth() -> Layer {
    layer(LayerKind::Ether, vec![("src", bytes(&SRC_MAC)), ("dst", bytes(&DST_MAC))])
}

fn ipv4(src: [u8; 4], dst: [u8; 4], extra: Vec<(&'static str, FieldValue)>) -> Layer {
    let mut l = layer(LayerKind::Ipv4, vec![("src", bytes(&src)), ("dst", bytes(&dst))]);
    l.fields.extend(extra);
    l
}

/// The header checksum etherparse computes for the header it parsed.
fn ip_checksum_ok(h: &Ipv4HeaderSlice) -> bool {
    h.to_header().calc_header_checksum() == h.header_checksum()
}

fn udp_checksum(ip: &Ipv4HeaderSlice, udp_segment: &[u8]) -> u16 {
    let h = UdpHeaderSlice::from_slice(udp_segment).unwrap().to_header();
    h.calc_checksum_ipv4(&ip.to_header(), &udp_segment[UdpHeader::LEN..]).unwrap()
}

fn icmp_checksum(icmp: &Icmpv4Slice) -> u16 {
    let h = icmp.header();
    h.icmp_type.calc_checksum(icmp.payload())
}

#[test]
fn wire_vlan_ipv4_udp() {
    let layers = vec![
        eth(),
        layer(LayerKind::Vlan, vec![("vid", int(100)), ("pcp", int(6)), ("dei", int(1))]),
        ipv4(
            [192, 168, 10, 1],
            [192, 168, 10, 5],
            vec![("id", int(1212)), ("df", int(1)), ("dscp", int(46)), ("ecn", int(1)), ("ttl", int(3))],
        ),
        layer(LayerKind::Udp, vec![("sport", int(1234)), ("dport", int(53))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"hello world"))]),
    ];
    let pkt = encode(&layers).unwrap().bytes;
    let s = SlicedPacket::from_ethernet(&pkt).unwrap();
    let Some(LinkSlice::Ethernet2(e)) = &s.link else { panic!("no ethernet") };
    assert_eq!(e.source(), SRC_MAC);
    assert_eq!(e.destination(), DST_MAC);
    assert_eq!(e.ether_type().0, 0x8100);
    assert_eq!(s.link_exts.len(), 1);
    let LinkExtSlice::Vlan(v) = &s.link_exts[0] else { panic!("no vlan") };
    assert_eq!(v.vlan_identifier().value(), 100);
    assert_eq!(v.priority_code_point().value(), 6);
    assert!(v.drop_eligible_indicator());
    assert_eq!(v.ether_type().0, 0x0800);
    let Some(NetSlice::Ipv4(ip)) = &s.net else { panic!("no ipv4") };
    let h = ip.header();
    assert_eq!(h.source(), [192, 168, 10, 1]);
    assert_eq!(h.destination(), [192, 168, 10, 5]);
    assert_eq!(h.identification(), 1212);
    assert!(h.dont_fragment());
    assert!(!h.more_fragments());
    assert_eq!(h.dcp().value(), 46);
    assert_eq!(h.ecn().value(), 1);
    assert_eq!(h.ttl(), 3);
    assert_eq!(h.protocol().0, 17);
    assert_eq!(usize::from(h.total_len()), pkt.len() - 18);
    assert!(ip_checksum_ok(&h));
    let Some(TransportSlice::Udp(u)) = &s.transport else { panic!("no udp") };
    assert_eq!((u.source_port(), u.destination_port()), (1234, 53));
    assert_eq!(usize::from(u.length()), 8 + 11);
    assert_eq!(u.payload(), b"hello world");
    assert_eq!(u.checksum(), udp_checksum(&h, &pkt[38..]));
}

#[test]
fn wire_qinq() {
    let layers = vec![
        eth(),
        layer(LayerKind::Vlan, vec![("vid", int(10))]),
        layer(LayerKind::Vlan, vec![("vid", int(20))]),
        ipv4([10, 0, 0, 1], [10, 0, 0, 2], vec![]),
        layer(LayerKind::Udp, vec![("sport", int(7)), ("dport", int(7))]),
    ];
    let pkt = encode(&layers).unwrap().bytes;
    let s = SlicedPacket::from_ethernet(&pkt).unwrap();
    let Some(LinkSlice::Ethernet2(e)) = &s.link else { panic!("no ethernet") };
    assert_eq!(e.ether_type().0, 0x88a8);
    let vids: Vec<u16> = s.vlan_ids().iter().map(|v| v.value()).collect();
    assert_eq!(vids, [10, 20]);
    let LinkExtSlice::Vlan(outer) = &s.link_exts[0] else { panic!() };
    assert_eq!(outer.ether_type().0, 0x8100);
    let Some(NetSlice::Ipv4(ip)) = &s.net else { panic!("no ipv4") };
    assert!(ip_checksum_ok(&ip.header()));
    let Some(TransportSlice::Udp(u)) = &s.transport else { panic!("no udp") };
    assert_eq!(u.checksum(), udp_checksum(&ip.header(), &pkt[14 + 8 + 20..]));
}

#[test]
fn wire_ipv4_options_and_fragment_fields() {
    let options = [0x94, 0x04, 0x00, 0x00, 0x01, 0x07]; // router alert + NOP + unpadded tail
    let layers = vec![
        eth(),
        ipv4(
            [1, 2, 3, 4],
            [5, 6, 7, 8],
            vec![("options", bytes(&options)), ("mf", int(1)), ("id", int(0xbeef)), ("tos", int(0x2e))],
        ),
        layer(LayerKind::Udp, vec![("sport", int(9)), ("dport", int(10))]),
        layer(LayerKind::Payload, vec![("data", bytes(&[0xaa; 33]))]),
    ];
    let pkt = encode(&layers).unwrap().bytes;
    let h = Ipv4HeaderSlice::from_slice(&pkt[14..]).unwrap();
    assert_eq!(h.ihl(), 7);
    assert_eq!(h.options(), [0x94, 0x04, 0x00, 0x00, 0x01, 0x07, 0x00, 0x00]);
    assert!(h.more_fragments());
    assert_eq!(h.identification(), 0xbeef);
    assert_eq!(h.dcp().value(), 0x2e >> 2);
    assert_eq!(h.ecn().value(), 0x2e & 3);
    assert!(ip_checksum_ok(&h));
    assert_eq!(usize::from(h.total_len()), 28 + 8 + 33);
    let seg = &pkt[14 + 28..];
    let u = UdpHeaderSlice::from_slice(seg).unwrap();
    assert_eq!(u.checksum(), udp_checksum(&h, seg));

    // A fragment offset is written in 8-byte units.
    let layers = vec![eth(), ipv4([1, 1, 1, 1], [2, 2, 2, 2], vec![("frag", int(185))])];
    let pkt = encode(&layers).unwrap().bytes;
    let h = Ipv4HeaderSlice::from_slice(&pkt[14..]).unwrap();
    assert_eq!(h.fragments_offset().value(), 185);
    assert_eq!(h.protocol().0, 0xfd);
    assert!(ip_checksum_ok(&h));
}

#[test]
fn wire_icmp_echo_and_dest_unreach() {
    let layers = vec![
        eth(),
        ipv4([192, 168, 100, 200], [192, 168, 30, 1], vec![("id", int(1160)), ("df", int(1))]),
        layer(LayerKind::Icmp, vec![("type", int(8)), ("id", int(1)), ("seq", int(1))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"abcd"))]),
    ];
    let pkt = encode(&layers).unwrap().bytes;
    let s = SlicedPacket::from_ethernet(&pkt).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &s.net else { panic!("no ipv4") };
    assert_eq!(ip.header().protocol().0, 1);
    assert!(ip_checksum_ok(&ip.header()));
    let Some(TransportSlice::Icmpv4(icmp)) = &s.transport else { panic!("no icmp") };
    match icmp.header().icmp_type {
        etherparse::Icmpv4Type::EchoRequest(echo) => assert_eq!((echo.id, echo.seq), (1, 1)),
        other => panic!("not an echo request: {other:?}"),
    }
    assert_eq!(icmp.payload(), b"abcd");
    assert_eq!(icmp.checksum(), icmp_checksum(icmp));

    // Destination unreachable (fragmentation needed) quoting an IPv4/UDP header.
    let layers = vec![
        eth(),
        ipv4([10, 0, 0, 1], [10, 0, 0, 2], vec![]),
        layer(LayerKind::Icmp, vec![("type", int(3)), ("code", int(4)), ("mtu", int(1400))]),
        ipv4([10, 0, 0, 2], [8, 8, 8, 8], vec![("ttl", int(1))]),
        layer(LayerKind::Udp, vec![("sport", int(5000)), ("dport", int(53))]),
    ];
    let pkt = encode(&layers).unwrap().bytes;
    let s = SlicedPacket::from_ethernet(&pkt).unwrap();
    let Some(TransportSlice::Icmpv4(icmp)) = &s.transport else { panic!("no icmp") };
    match icmp.header().icmp_type {
        etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu },
        ) => assert_eq!(next_hop_mtu, 1400),
        other => panic!("not frag needed: {other:?}"),
    }
    assert_eq!(icmp.checksum(), icmp_checksum(icmp));
    // The quoted packet parses on its own, with a valid header checksum.
    let quoted = SlicedPacket::from_ip(icmp.payload()).unwrap();
    let Some(NetSlice::Ipv4(qip)) = &quoted.net else { panic!("no quoted ipv4") };
    assert!(ip_checksum_ok(&qip.header()));
    let Some(TransportSlice::Udp(qu)) = &quoted.transport else { panic!("no quoted udp") };
    assert_eq!((qu.source_port(), qu.destination_port()), (5000, 53));
}

#[test]
fn wire_explicit_wrong_values_are_kept() {
    let layers = vec![
        eth(),
        ipv4([10, 0, 0, 1], [10, 0, 0, 2], vec![("checksum", int(0xbad))]),
        layer(LayerKind::Udp, vec![("sport", int(1)), ("dport", int(2)), ("checksum", int(0x1234))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"x"))]),
    ];
    let pkt = encode(&layers).unwrap().bytes;
    let h = Ipv4HeaderSlice::from_slice(&pkt[14..]).unwrap();
    assert_eq!(h.header_checksum(), 0x0bad);
    assert!(!ip_checksum_ok(&h));
    let u = UdpHeaderSlice::from_slice(&pkt[34..]).unwrap();
    assert_eq!(u.checksum(), 0x1234);
    assert_ne!(udp_checksum(&h, &pkt[34..]), 0x1234);

    let layers = vec![
        eth(),
        ipv4([10, 0, 0, 1], [10, 0, 0, 2], vec![]),
        layer(LayerKind::Icmp, vec![("type", int(0)), ("checksum", int(0x1111))]),
    ];
    let pkt = encode(&layers).unwrap().bytes;
    let icmp = Icmpv4Slice::from_slice(&pkt[34..]).unwrap();
    assert_eq!(icmp.checksum(), 0x1111);
    assert_ne!(icmp_checksum(&icmp), 0x1111);
}

#[test]
fn wire_udp_checksum_over_gtpu_tunnel() {
    let layers = vec![
        eth(),
        ipv4([192, 168, 10, 1], [192, 168, 10, 5], vec![]),
        layer(LayerKind::Udp, vec![]),
        layer(LayerKind::Gtpu, vec![("teid", int(2)), ("seq", int(3))]),
        layer(LayerKind::GtpuPduSession, vec![("qfi", int(9))]),
        ipv4([192, 168, 100, 200], [192, 168, 30, 1], vec![]),
        layer(LayerKind::Icmp, vec![("type", int(8))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"abc"))]),
    ];
    let pkt = encode(&layers).unwrap().bytes;
    let s = SlicedPacket::from_ethernet(&pkt).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &s.net else { panic!("no ipv4") };
    let Some(TransportSlice::Udp(u)) = &s.transport else { panic!("no udp") };
    assert_eq!((u.source_port(), u.destination_port()), (2152, 2152));
    assert_eq!(u.checksum(), udp_checksum(&ip.header(), &pkt[34..]));
    // The inner packet after the 12-byte GTP-U header and the 4-byte container.
    let inner = SlicedPacket::from_ip(&pkt[34 + 8 + 12 + 4..]).unwrap();
    let Some(NetSlice::Ipv4(iip)) = &inner.net else { panic!("no inner ipv4") };
    assert!(ip_checksum_ok(&iip.header()));
    let Some(TransportSlice::Icmpv4(icmp)) = &inner.transport else { panic!("no inner icmp") };
    assert_eq!(icmp.checksum(), icmp_checksum(icmp));
}
