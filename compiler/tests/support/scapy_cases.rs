//! Packets written twice, in the `.pkt` language and with scapy's layer classes, covering every
//! layer, flag, option and extension header of the language: the parity test compares the two
//! encodings, and `xdptest import`'s round trip imports scapy's capture of them.
#![allow(dead_code)]

/// One packet in both languages. In `pkt`, `E` stands for the Ethernet header both sides share.
pub struct Case {
    pub name: &'static str,
    pub pkt: &'static str,
    pub scapy: &'static str,
}

pub const fn case(name: &'static str, pkt: &'static str, scapy: &'static str) -> Case {
    Case { name, pkt, scapy }
}

pub const ETHER_PKT: &str = "ether(src=00:00:5e:00:53:01, dst=00:00:5e:00:53:02)";

/// What every scapy expression may use.
pub const SCAPY_PRELUDE: &str = r#"
import sys, json
from scapy.all import *
from scapy.contrib.mpls import MPLS
from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.layers.vxlan import VXLAN
E = Ether(src="00:00:5e:00:53:01", dst="00:00:5e:00:53:02")
A4, B4 = "10.0.0.1", "10.0.0.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
def ip(**kw):
    kw.setdefault("src", A4); kw.setdefault("dst", B4); kw.setdefault("id", 0)
    return IP(**kw)
def ip6(**kw):
    kw.setdefault("src", A6); kw.setdefault("dst", B6)
    return IPv6(**kw)
def tcp(**kw):
    kw.setdefault("sport", 1); kw.setdefault("dport", 2); kw.setdefault("window", 65535)
    kw.setdefault("flags", "")
    return TCP(**kw)
def udp(**kw):
    kw.setdefault("sport", 1); kw.setdefault("dport", 2)
    return UDP(**kw)
"#;

pub fn cases() -> Vec<Case> {
    vec![
        // TCP
        case(
            "tcp_syn_every_option",
            "E / ipv4(src=10.0.0.1, dst=10.0.0.2) / tcp(sport=40000, dport=443, seq=1000, syn, \
             options=[mss(1460), sack_permitted, timestamps(100, 7), nop, wscale(7)])",
            "E/ip()/tcp(sport=40000, dport=443, seq=1000, flags='S', options=[('MSS', 1460), ('SAckOK', b''), \
             ('Timestamp', (100, 7)), ('NOP', None), ('WScale', 7)])",
        ),
        case(
            "tcp_every_flag",
            "E / ipv4(src=10.0.0.1, dst=10.0.0.2) / tcp(sport=1, dport=2, flags=fin|syn|rst|psh|ack|urg|ece|cwr, \
             ack_seq=77, urg_ptr=9)",
            "E/ip()/tcp(flags='FSRPAUEC', ack=77, urgptr=9)",
        ),
        case(
            "tcp_bare_flags_reserved_and_data_over_ipv6",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / tcp(sport=1, dport=2, psh, ack, reserved=1, seq=1, \
             ack_seq=2, window=512) / payload(\"data\")",
            "E/ip6()/tcp(flags='PAN', seq=1, ack=2, window=512)/Raw(b'data')",
        ),
        case(
            "tcp_sack_raw_and_eol",
            "E / ipv4(src=10.0.0.1, dst=10.0.0.2) / tcp(sport=1, dport=2, ack, \
             options=[nop, nop, sack(100, 200, 300, 400), raw(253, hex\"0102\"), eol])",
            "E/ip()/tcp(flags='A', options=[('NOP', None), ('NOP', None), ('SAck', (100, 200, 300, 400)), \
             (253, b'\\x01\\x02'), ('EOL', None)])",
        ),
        case(
            "tcp_presets",
            "E / ipv4(src=10.0.0.1, dst=10.0.0.2) / tcp.synack(sport=1, dport=2) / ipv4(src=10.0.0.1, dst=10.0.0.2) \
             / tcp.fin(sport=1, dport=2)",
            "E/ip()/tcp(flags='SA')/ip()/tcp(flags='FA')",
        ),
        // IPv4 options
        case(
            "ipv4_options_by_name",
            "E / ipv4(src=10.0.0.1, dst=10.0.0.2, options=[nop, rr([10.0.0.1, 10.0.0.9]), router_alert(0), eol]) \
             / udp(sport=1, dport=2)",
            "E/ip(options=[IPOption_NOP(), IPOption_RR(pointer=12, routers=['10.0.0.1', '10.0.0.9']), \
             IPOption_Router_Alert(), IPOption_EOL()])/udp()",
        ),
        case(
            "ipv4_timestamp_option",
            "E / ipv4(src=10.0.0.1, dst=10.0.0.2, options=[timestamp([1000])]) / udp(sport=1, dport=2)",
            "E/ip(options=[IPOption_Timestamp(pointer=9, flg=0, timestamp=1000)])/udp()",
        ),
        // IPv6
        case(
            "ipv6_traffic_class_and_flow",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::2, dscp=ef, ecn=ect0, flow=0x12345, hlim=7) \
             / udp(sport=40000, dport=40001) / payload(\"six\")",
            "E/ip6(tc=0xba, fl=0x12345, hlim=7)/udp(sport=40000, dport=40001)/Raw(b'six')",
        ),
        case("ipv6_alone", "E / ipv6(src=2001:db8::1, dst=2001:db8::2)", "E/ip6()"),
        case(
            "ipv6_hop_by_hop_router_alert",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / hbh(options=[router_alert(0)]) / udp(sport=1, dport=2)",
            "E/ip6()/IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])/udp()",
        ),
        case(
            "ipv6_options_padding_and_raw",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / ipv6.hbh(options=[padn(4)]) \
             / dstopts(options=[raw(0x1e, hex\"aabb\"), pad1, pad1]) / udp(sport=1, dport=2)",
            "E/ip6()/IPv6ExtHdrHopByHop(options=[PadN(optdata=b'\\x00\\x00')])\
             /IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x1e, optdata=b'\\xaa\\xbb'), Pad1(), Pad1()])/udp()",
        ),
        case(
            "ipv6_jumbo",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::2, plen=0) / hbh(options=[jumbo(70000)]) / udp(sport=1, dport=2)",
            "E/ip6(plen=0)/IPv6ExtHdrHopByHop(options=[Jumbo(jumboplen=70000)])/udp()",
        ),
        case(
            "ipv6_routing_type_0_final_destination",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::10) \
             / routing(type=0, segleft=2, addresses=[2001:db8::20, 2001:db8::30]) / tcp.syn(sport=1, dport=2)",
            "E/ip6(dst='2001:db8::10')/IPv6ExtHdrRouting(type=0, segleft=2, addresses=['2001:db8::20', \
             '2001:db8::30'])/tcp(flags='S')",
        ),
        case(
            "ipv6_routing_type_2_and_first_fragment",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / routing(type=2, segleft=1, addresses=[2001:db8::99]) \
             / frag6(m, id=0x1234) / udp(sport=1, dport=2) / payload(\"x\")",
            "E/ip6()/IPv6ExtHdrRouting(type=2, segleft=1, addresses=['2001:db8::99'])\
             /IPv6ExtHdrFragment(m=1, id=0x1234)/udp()/Raw(b'x')",
        ),
        case(
            "ipv6_later_fragment",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / ipv6.frag(offset=185, id=0x1234) \
             / payload(len=16, counting=7)",
            "E/ip6()/IPv6ExtHdrFragment(offset=185, id=0x1234, nh=253)/Raw(bytes(i % 7 for i in range(16)))",
        ),
        case(
            "ipv6_segment_routing",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::100) / srh(segments=[2001:db8::2, 2001:db8::100], tag=7) \
             / ipv6(src=2001:db8::1, dst=2001:db8::2) / udp(sport=1, dport=2) / payload(len=8, counting)",
            "E/ip6(dst='2001:db8::100')/IPv6ExtHdrSegmentRouting(addresses=['2001:db8::2', '2001:db8::100'], \
             tag=7)/ip6()/udp()/Raw(bytes(range(8)))",
        ),
        case(
            "ipv6_segment_routing_pseudo_header",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::100) / srh(segments=[2001:db8::2, 2001:db8::100]) \
             / udp(sport=1, dport=2)",
            "E/ip6(dst='2001:db8::100')/IPv6ExtHdrSegmentRouting(addresses=['2001:db8::2', '2001:db8::100'])\
             /udp()",
        ),
        // ICMPv6
        case(
            "icmpv6_echo",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / icmpv6.echo_request(id=7, seq=1) / payload(len=16, counting) \
             / ipv6(src=2001:db8::1, dst=2001:db8::2) / icmpv6.echo_reply(id=7, seq=1)",
            "E/ip6()/ICMPv6EchoRequest(id=7, seq=1, data=bytes(range(16))+bytes(ip6()/ICMPv6EchoReply(id=7, seq=1)))",
        ),
        case(
            "icmpv6_errors_quote_a_packet",
            "E / ipv6(src=2001:db8::fe, dst=2001:db8::1) / icmpv6.dest_unreach(code=port_unreachable) \
             / ipv6(src=2001:db8::1, dst=2001:db8::2) / udp(sport=33434, dport=33435)",
            "E/ip6(src='2001:db8::fe', dst=A6)/ICMPv6DestUnreach(code=4)/ip6()/udp(sport=33434, dport=33435)",
        ),
        case(
            "icmpv6_packet_too_big",
            "E / ipv6(src=2001:db8::fe, dst=2001:db8::1) / icmpv6.packet_too_big(mtu=1280) \
             / ipv6(src=2001:db8::1, dst=2001:db8::2) / tcp.ack(sport=1, dport=2)",
            "E/ip6(src='2001:db8::fe', dst=A6)/ICMPv6PacketTooBig(mtu=1280)/ip6()/tcp(flags='A')",
        ),
        case(
            "icmpv6_time_exceeded_and_param_problem",
            "E / ipv6(src=2001:db8::fe, dst=2001:db8::1) / icmpv6.time_exceeded \
             / ipv6(src=2001:db8::1, dst=2001:db8::2, hlim=1) / icmpv6.param_problem(code=unrecognized_next_header, \
             pointer=6) / ipv6(src=2001:db8::1, dst=2001:db8::2, nh=200)",
            "E/ip6(src='2001:db8::fe', dst=A6)/ICMPv6TimeExceeded(code=0)/ip6(hlim=1)\
             /ICMPv6ParamProblem(code=1, ptr=6)/ip6(nh=200)",
        ),
        case(
            "icmpv6_neighbour_solicitation",
            "ether(src=00:00:5e:00:53:01, dst=33:33:ff:00:00:02) / ipv6(src=2001:db8::1, dst=ff02::1:ff00:2, hlim=255) \
             / icmpv6.ns(target=2001:db8::2, options=[src_lladdr(00:00:5e:00:53:01)])",
            "Ether(src='00:00:5e:00:53:01', dst='33:33:ff:00:00:02')/ip6(dst='ff02::1:ff00:2', hlim=255)\
             /ICMPv6ND_NS(tgt=B6)/ICMPv6NDOptSrcLLAddr(lladdr='00:00:5e:00:53:01')",
        ),
        case(
            "icmpv6_neighbour_advertisement",
            "E / ipv6(src=2001:db8::2, dst=2001:db8::1, hlim=255) \
             / icmpv6.na(target=2001:db8::2, r, s, o, options=[tgt_lladdr(00:00:5e:00:53:02)]) \
             / ipv6(src=2001:db8::2, dst=2001:db8::1, hlim=255) / icmpv6.na(target=2001:db8::2, s)",
            "E/ip6(src=B6, dst=A6, hlim=255)/ICMPv6ND_NA(tgt=B6, R=1, S=1, O=1)\
             /ICMPv6NDOptDstLLAddr(lladdr='00:00:5e:00:53:02')/ip6(src=B6, dst=A6, hlim=255)\
             /ICMPv6ND_NA(tgt=B6, R=0, S=1, O=0)",
        ),
        case(
            "icmpv6_router_discovery",
            "E / ipv6(src=fe80::1, dst=ff02::1, hlim=255) / icmpv6.ra(cur_hlim=64, m, lifetime=600, reachable=30000, \
             retrans=1000, options=[src_lladdr(00:00:5e:00:53:fe), mtu(1500), \
             prefix_info(2001:db8:1::/64, 0xc0, 86400, 14400)]) \
             / ipv6(src=fe80::2, dst=ff02::2, hlim=255) / icmpv6.rs(options=[src_lladdr(00:00:5e:00:53:02)])",
            "E/ip6(src='fe80::1', dst='ff02::1', hlim=255)/ICMPv6ND_RA(chlim=64, M=1, prf=0, routerlifetime=600, \
             reachabletime=30000, retranstimer=1000)/ICMPv6NDOptSrcLLAddr(lladdr='00:00:5e:00:53:fe')\
             /ICMPv6NDOptMTU(mtu=1500)/ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, validlifetime=86400, \
             preferredlifetime=14400, prefix='2001:db8:1::')/ip6(src='fe80::2', dst='ff02::2', hlim=255)\
             /ICMPv6ND_RS()/ICMPv6NDOptSrcLLAddr(lladdr='00:00:5e:00:53:02')",
        ),
        case(
            "icmpv6_raw_type_and_code",
            "E / ipv6(src=2001:db8::1, dst=2001:db8::2) / icmpv6(type=200, code=9) / payload(hex\"01020304\")",
            "E/ip6()/ICMPv6Unknown(type=200, code=9, msgbody=b'\\x00\\x00\\x00\\x00\\x01\\x02\\x03\\x04')",
        ),
        // ICMP
        case(
            "icmp_echo_and_error",
            "E / ipv4(src=10.0.0.1, dst=10.0.0.2) / icmp.port_unreachable / ipv4(src=10.0.0.2, dst=10.0.0.1) \
             / udp(sport=1, dport=2) / payload(\"ab\")",
            "E/ip()/ICMP(type=3, code=3)/IPerror(src=B4, dst=A4, id=0)/UDPerror(sport=1, dport=2)/Raw(b'ab')",
        ),
        // ARP
        case(
            "arp_request",
            "ether(src=00:00:5e:00:53:01, dst=ff:ff:ff:ff:ff:ff) / arp.request(sender_mac=00:00:5e:00:53:01, \
             sender_ip=192.0.2.1, target_ip=192.0.2.2)",
            "Ether(src='00:00:5e:00:53:01', dst='ff:ff:ff:ff:ff:ff')/ARP(op=1, hwsrc='00:00:5e:00:53:01', \
             psrc='192.0.2.1', hwdst='00:00:00:00:00:00', pdst='192.0.2.2')",
        ),
        case(
            "arp_reply",
            "E / arp(op=reply, sender_mac=00:00:5e:00:53:02, sender_ip=192.0.2.2, target_mac=00:00:5e:00:53:01, \
             target_ip=192.0.2.1)",
            "E/ARP(op=2, hwsrc='00:00:5e:00:53:02', psrc='192.0.2.2', hwdst='00:00:5e:00:53:01', pdst='192.0.2.1')",
        ),
        // VLAN and MPLS
        case(
            "qinq",
            "E / vlan(10, pcp=3) / vlan(20, dei) / ipv4(src=10.0.0.1, dst=10.0.0.2) / udp(sport=1, dport=2)",
            "E/Dot1AD(vlan=10, prio=3)/Dot1Q(vlan=20, dei=1)/ip()/udp()",
        ),
        case(
            "mpls_label_stack",
            "E / mpls(100, tc=5) / mpls(200, ttl=32) / ipv4(src=10.0.0.1, dst=10.0.0.2) / udp(sport=1, dport=2)",
            "E/MPLS(label=100, cos=5, s=0, ttl=64)/MPLS(label=200, s=1, ttl=32)/ip()/udp()",
        ),
        case(
            "mpls_ipv6",
            "E / mpls(label=16) / ipv6(src=2001:db8::1, dst=2001:db8::2) / icmpv6.echo_request",
            "E/MPLS(label=16, s=1, ttl=64)/ip6()/ICMPv6EchoRequest(id=0, seq=0)",
        ),
        // Tunnels
        case(
            "ip_in_ip",
            "E / ipv4(src=198.51.100.1, dst=198.51.100.2) / ipv4(src=10.0.0.1, dst=10.0.0.2) / tcp.syn(sport=1, dport=2)",
            "E/ip(src='198.51.100.1', dst='198.51.100.2')/ip()/tcp(flags='S')",
        ),
        case(
            "ipv6_in_ipv6",
            "E / ipv6(src=2001:db8:ff::1, dst=2001:db8:ff::2) / ipv6(src=2001:db8::1, dst=2001:db8::2) \
             / tcp.syn(sport=1, dport=2)",
            "E/ip6(src='2001:db8:ff::1', dst='2001:db8:ff::2')/ip6()/tcp(flags='S')",
        ),
        case(
            "ipv4_in_ipv6_and_ipv6_in_ipv4",
            "E / ipv6(src=2001:db8:ff::1, dst=2001:db8:ff::2) / ipv4(src=10.0.0.1, dst=10.0.0.2) \
             / ipv6(src=2001:db8::1, dst=2001:db8::2) / udp(sport=1, dport=2)",
            "E/ip6(src='2001:db8:ff::1', dst='2001:db8:ff::2')/ip()/ip6()/udp()",
        ),
        case(
            "gre_key",
            "E / ipv4(src=198.51.100.1, dst=198.51.100.2) / gre(key=42) / ipv4(src=10.0.0.1, dst=10.0.0.2) \
             / udp(sport=1, dport=2)",
            "E/ip(src='198.51.100.1', dst='198.51.100.2')/GRE(key_present=1, key=42)/ip()/udp()",
        ),
        case(
            "gre_checksum_key_sequence",
            "E / ipv6(src=2001:db8:ff::1, dst=2001:db8:ff::2) / gre(c, key=0x01020304, seq=7) \
             / ipv6(src=2001:db8::1, dst=2001:db8::2) / udp(sport=1, dport=2)",
            "E/ip6(src='2001:db8:ff::1', dst='2001:db8:ff::2')/GRE(chksum_present=1, key_present=1, \
             seqnum_present=1, key=0x01020304, sequence_number=7)/ip6()/udp()",
        ),
        case(
            "gre_transparent_ethernet_bridging",
            "E / ipv4(src=198.51.100.1, dst=198.51.100.2) / gre / E / ipv4(src=10.0.0.1, dst=10.0.0.2) \
             / udp(sport=1, dport=2)",
            "E/ip(src='198.51.100.1', dst='198.51.100.2')/GRE(proto=0x6558)/E/ip()/udp()",
        ),
        case(
            "vxlan",
            "E / ipv4(src=198.51.100.1, dst=198.51.100.2) / udp(sport=49152) / vxlan(vni=100) / E \
             / ipv4(src=10.0.0.1, dst=10.0.0.2) / udp(sport=1, dport=2)",
            "E/ip(src='198.51.100.1', dst='198.51.100.2')/udp(sport=49152, dport=4789)/VXLAN(flags=0x08, vni=100)\
             /E/ip()/udp()",
        ),
        case(
            "geneve_with_an_option",
            "E / ipv6(src=2001:db8:ff::1, dst=2001:db8:ff::2) / udp(sport=49152) \
             / geneve(vni=0x1234, options=[option(0x0102, 0x80, hex\"01020304\")]) / E \
             / ipv4(src=10.0.0.1, dst=10.0.0.2) / udp(sport=1, dport=2)",
            "E/ip6(src='2001:db8:ff::1', dst='2001:db8:ff::2')/udp(sport=49152, dport=6081)/GENEVE(vni=0x1234, \
             proto=0x6558, options=[GeneveOptions(classid=0x0102, type=0x80, data=b'\\x01\\x02\\x03\\x04')])\
             /E/ip()/udp()",
        ),
        case(
            "gue_and_fou",
            "E / ipv4(src=198.51.100.1, dst=198.51.100.2) / udp(sport=40000) / gue / ipv4(src=10.0.0.1, dst=10.0.0.2) \
             / udp(sport=40000, dport=5555) / ipv6(src=2001:db8::1, dst=2001:db8::2) / tcp.syn(sport=1, dport=2)",
            // scapy has no GUE class: its 4-byte header (variant 0, protocol 4) is spelt out.
            "E/ip(src='198.51.100.1', dst='198.51.100.2')/udp(sport=40000, dport=6080)/Raw(bytes([0, 4, 0, 0]))\
             /ip()/udp(sport=40000, dport=5555)/ip6()/tcp(flags='S')",
        ),
        // GTP-U (the older layers, for completeness of the set)
        case(
            "gtpu_pdu_session",
            "E / ipv4(src=192.0.2.1, dst=192.0.2.2) / udp / gtpu(teid=1) / pdu_session(pdu_type=ul, qfi=9) \
             / ipv4(src=10.0.0.1, dst=10.0.0.2) / udp(sport=1, dport=2)",
            "E/ip(src='192.0.2.1', dst='192.0.2.2')/udp(sport=2152, dport=2152)/GTP_U_Header(teid=1, E=1, \
             next_ex=0x85, gtp_type=255)/GTPPDUSessionContainer(type=1, QFI=9)/ip()/udp()",
        ),
    ]
}
