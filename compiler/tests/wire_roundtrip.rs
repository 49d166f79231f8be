//! Encode → decode round trips for every layer kind, span/field agreement with the schema, and
//! no-panic checks of the decoder (and encoder) on arbitrary input.

use xdptest_compiler::wire::{decode, encode, FieldKind, FieldValue, Layer, LayerKind};

fn int(v: u64) -> FieldValue {
    FieldValue::Int(v)
}

fn bytes(b: &[u8]) -> FieldValue {
    FieldValue::Bytes(b.to_vec())
}

fn ip(a: [u8; 4]) -> FieldValue {
    FieldValue::Bytes(a.to_vec())
}

fn mac(a: [u8; 6]) -> FieldValue {
    FieldValue::Bytes(a.to_vec())
}

fn layer(kind: LayerKind, fields: Vec<(&'static str, FieldValue)>) -> Layer {
    let mut l = Layer::new(kind);
    l.fields.extend(fields);
    l
}

/// The background packet of the project's examples.
fn background() -> Vec<Layer> {
    vec![
        layer(LayerKind::Ether, vec![("src", mac([0, 0, 0x5e, 0, 0x53, 2])), ("dst", mac([0, 0, 0x5e, 0, 0x53, 1]))]),
        layer(LayerKind::Vlan, vec![("vid", int(100))]),
        layer(
            LayerKind::Ipv4,
            vec![
                ("src", ip([192, 168, 10, 1])),
                ("dst", ip([192, 168, 10, 5])),
                ("id", int(1212)),
                ("df", int(1)),
                ("ttl", int(64)),
            ],
        ),
        layer(LayerKind::Udp, vec![]),
        layer(LayerKind::Gtpu, vec![("teid", int(2))]),
        layer(
            LayerKind::Ipv4,
            vec![("src", ip([192, 168, 100, 200])), ("dst", ip([192, 168, 30, 1])), ("id", int(1160)), ("df", int(1))],
        ),
        layer(LayerKind::Icmp, vec![("type", int(8)), ("id", int(1)), ("seq", int(1))]),
        layer(LayerKind::Payload, vec![("data", bytes(b"abcd"))]),
    ]
}

fn eth() -> Layer {
    layer(LayerKind::Ether, vec![("src", mac([2, 0, 0, 0, 0, 1])), ("dst", mac([2, 0, 0, 0, 0, 2]))])
}

fn ipv6() -> Layer {
    let a = |last: u8| {
        let mut b = [0u8; 16];
        b[0] = 0x20;
        b[1] = 0x01;
        b[2] = 0x0d;
        b[3] = 0xb8;
        b[15] = last;
        FieldValue::Bytes(b.to_vec())
    };
    layer(LayerKind::Ipv6, vec![("src", a(1)), ("dst", a(2)), ("flow", int(0x12345))])
}

fn ipv4(src: [u8; 4], dst: [u8; 4]) -> Layer {
    layer(LayerKind::Ipv4, vec![("src", ip(src)), ("dst", ip(dst))])
}

/// Packets covering every layer kind and the optional parts of each header.
fn corpus() -> Vec<(&'static str, Vec<Layer>)> {
    let outer = || ipv4([10, 0, 0, 1], [10, 0, 0, 2]);
    let inner = || ipv4([172, 16, 0, 1], [172, 16, 0, 2]);
    vec![
        ("background", background()),
        ("ether only", vec![eth()]),
        ("ether payload", vec![eth(), layer(LayerKind::Payload, vec![("data", bytes(b"hello"))])]),
        (
            "qinq",
            vec![
                eth(),
                layer(LayerKind::Vlan, vec![("vid", int(10)), ("pcp", int(5)), ("dei", int(1))]),
                layer(LayerKind::Vlan, vec![("vid", int(4095))]),
                outer(),
                layer(LayerKind::Udp, vec![("sport", int(53)), ("dport", int(5353))]),
                layer(LayerKind::Payload, vec![("data", bytes(&[1, 2, 3]))]),
            ],
        ),
        (
            "ipv4 options and flags",
            vec![
                eth(),
                layer(
                    LayerKind::Ipv4,
                    vec![
                        ("src", ip([1, 2, 3, 4])),
                        ("dst", ip([5, 6, 7, 8])),
                        ("options", bytes(&[0x94, 0x04, 0, 0, 1, 1, 1, 0])),
                        ("dscp", int(46)),
                        ("ecn", int(2)),
                        ("reserved", int(1)),
                        ("mf", int(1)),
                        ("ttl", int(1)),
                        ("id", int(0xffff)),
                    ],
                ),
                layer(LayerKind::Udp, vec![("sport", int(1)), ("dport", int(2))]),
            ],
        ),
        (
            "ipv4 tos wins",
            vec![
                eth(),
                layer(LayerKind::Ipv4, vec![("tos", int(0xb9)), ("dscp", int(1))]),
                layer(LayerKind::Payload, vec![("data", bytes(b"x"))]),
            ],
        ),
        (
            "ipv4 non-first fragment",
            vec![
                eth(),
                layer(LayerKind::Ipv4, vec![("frag", int(185)), ("proto", int(17))]),
                layer(LayerKind::Payload, vec![("data", bytes(&[0; 16]))]),
            ],
        ),
        (
            "ipip",
            vec![
                eth(),
                outer(),
                inner(),
                layer(LayerKind::Icmp, vec![("type", int(0)), ("id", int(7)), ("seq", int(9))]),
            ],
        ),
        (
            "gtpu seq npdu",
            vec![
                eth(),
                outer(),
                layer(LayerKind::Udp, vec![]),
                layer(LayerKind::Gtpu, vec![("teid", int(0xdeadbeef)), ("seq", int(4242)), ("npdu", int(7))]),
                inner(),
                layer(LayerKind::Udp, vec![("sport", int(1000)), ("dport", int(2000))]),
                layer(LayerKind::Payload, vec![("data", bytes(b"data"))]),
            ],
        ),
        (
            "gtpu pdu session dl with ppi",
            vec![
                eth(),
                outer(),
                layer(LayerKind::Udp, vec![]),
                layer(LayerKind::Gtpu, vec![("teid", int(1))]),
                layer(LayerKind::GtpuPduSession, vec![("qfi", int(9)), ("ppi", int(5)), ("rqi", int(1))]),
                inner(),
                layer(LayerKind::Icmp, vec![("type", int(8))]),
            ],
        ),
        (
            "gtpu pdu session ul + generic ext",
            vec![
                eth(),
                outer(),
                layer(LayerKind::Udp, vec![]),
                layer(LayerKind::Gtpu, vec![("teid", int(1))]),
                layer(LayerKind::GtpuPduSession, vec![("pdu_type", int(1)), ("qfi", int(63))]),
                layer(LayerKind::GtpuExt, vec![("ext_type", int(0x40)), ("content", bytes(&[0x08, 0x68]))]),
                layer(LayerKind::GtpuExt, vec![("ext_type", int(0x81)), ("content", bytes(&[1, 2, 3, 4, 5, 6]))]),
                inner(),
                layer(LayerKind::Payload, vec![]),
            ],
        ),
        (
            "gtpu echo request",
            vec![
                eth(),
                outer(),
                layer(LayerKind::Udp, vec![]),
                layer(LayerKind::Gtpu, vec![("type", int(1)), ("seq", int(1))]),
                layer(LayerKind::Payload, vec![("data", bytes(&[14, 0]))]),
            ],
        ),
        (
            "icmp dest unreach quoting ipv4/udp",
            vec![
                eth(),
                outer(),
                layer(LayerKind::Icmp, vec![("type", int(3)), ("code", int(4)), ("mtu", int(1400))]),
                inner(),
                layer(LayerKind::Udp, vec![("sport", int(4000)), ("dport", int(53))]),
            ],
        ),
        (
            "icmp time exceeded quoting gtpu",
            vec![
                eth(),
                outer(),
                layer(LayerKind::Icmp, vec![("type", int(11)), ("rest", int(0x01020304))]),
                inner(),
                layer(LayerKind::Udp, vec![]),
                layer(LayerKind::Gtpu, vec![("teid", int(77))]),
            ],
        ),
        (
            "tcp syn with every option",
            vec![
                eth(),
                ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
                layer(
                    LayerKind::Tcp,
                    vec![
                        ("sport", int(40000)),
                        ("dport", int(80)),
                        ("seq", int(0x01020304)),
                        ("syn", int(1)),
                        ("ece", int(1)),
                        ("window", int(29200)),
                        ("options", bytes(&[2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7])),
                    ],
                ),
            ],
        ),
        (
            "tcp flags at once and a payload",
            vec![
                eth(),
                ipv6(),
                layer(LayerKind::Tcp, vec![("flags", int(0x12)), ("ack_seq", int(99)), ("urg_ptr", int(5))]),
                layer(LayerKind::Payload, vec![("data", bytes(b"GET /"))]),
            ],
        ),
        (
            "ipv6 extension headers in order",
            vec![
                eth(),
                ipv6(),
                layer(LayerKind::Hbh, vec![("options", bytes(&[5, 2, 0, 0]))]),
                layer(LayerKind::DstOpts, vec![]),
                layer(LayerKind::Routing, vec![("type", int(0)), ("addresses", bytes(&[0x20; 32]))]),
                layer(LayerKind::Frag6, vec![("id", int(0xdeadbeef)), ("m", int(1))]),
                layer(LayerKind::Udp, vec![("sport", int(1)), ("dport", int(2))]),
                layer(LayerKind::Payload, vec![("data", bytes(b"x"))]),
            ],
        ),
        (
            "segment routing",
            vec![
                eth(),
                ipv6(),
                layer(LayerKind::Srh, vec![("segments", bytes(&[0xfc; 48])), ("tag", int(7))]),
                layer(LayerKind::Ipv6, vec![]),
                layer(LayerKind::Icmpv6, vec![("type", int(128)), ("id", int(1)), ("seq", int(2))]),
            ],
        ),
        (
            "icmpv6 neighbour discovery",
            vec![
                eth(),
                ipv6(),
                layer(
                    LayerKind::Icmpv6,
                    vec![
                        ("type", int(136)),
                        ("r", int(1)),
                        ("s", int(1)),
                        ("target", bytes(&[0xfe; 16])),
                        ("options", bytes(&[2, 1, 2, 0, 0, 0, 0, 1])),
                    ],
                ),
            ],
        ),
        (
            "icmpv6 router advertisement",
            vec![
                eth(),
                ipv6(),
                layer(
                    LayerKind::Icmpv6,
                    vec![
                        ("type", int(134)),
                        ("m", int(1)),
                        ("lifetime", int(600)),
                        ("options", bytes(&[5, 1, 0, 0, 0, 0, 5, 0xdc])),
                    ],
                ),
            ],
        ),
        (
            "icmpv6 packet too big quoting ipv6",
            vec![
                eth(),
                ipv6(),
                layer(LayerKind::Icmpv6, vec![("type", int(2)), ("mtu", int(1400))]),
                ipv6(),
                layer(LayerKind::Udp, vec![]),
            ],
        ),
        (
            "arp reply",
            vec![
                eth(),
                layer(
                    LayerKind::Arp,
                    vec![
                        ("op", int(2)),
                        ("sender_mac", mac([2, 0, 0, 0, 0, 1])),
                        ("sender_ip", ip([10, 0, 0, 1])),
                        ("target_mac", mac([2, 0, 0, 0, 0, 2])),
                        ("target_ip", ip([10, 0, 0, 2])),
                    ],
                ),
            ],
        ),
        (
            "gre with checksum, key and sequence, bridging ethernet",
            vec![
                eth(),
                ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
                layer(LayerKind::Gre, vec![("c", int(1)), ("key", int(42)), ("seq", int(7))]),
                eth(),
                ipv4([192, 0, 2, 1], [192, 0, 2, 2]),
                layer(LayerKind::Icmp, vec![("type", int(8))]),
            ],
        ),
        (
            "vxlan",
            vec![
                eth(),
                ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
                layer(LayerKind::Udp, vec![("sport", int(49152))]),
                layer(LayerKind::Vxlan, vec![("vni", int(0x123456))]),
                eth(),
                ipv4([192, 0, 2, 1], [192, 0, 2, 2]),
                layer(LayerKind::Udp, vec![]),
            ],
        ),
        (
            "geneve with an option",
            vec![
                eth(),
                ipv6(),
                layer(LayerKind::Udp, vec![]),
                layer(LayerKind::Geneve, vec![("vni", int(9)), ("options", bytes(&[0x01, 0x02, 0x80, 1, 9, 9, 9, 9]))]),
                eth(),
                ipv6(),
            ],
        ),
        (
            "gue variant 0 and mpls",
            vec![
                eth(),
                layer(LayerKind::Mpls, vec![("label", int(100))]),
                layer(LayerKind::Mpls, vec![("label", int(200)), ("ttl", int(9))]),
                ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
                layer(LayerKind::Udp, vec![]),
                layer(LayerKind::Gue, vec![("fields", bytes(&[1, 2, 3]))]),
                ipv4([192, 0, 2, 1], [192, 0, 2, 2]),
                layer(LayerKind::Tcp, vec![("syn", int(1))]),
            ],
        ),
        (
            "ipip and 6in4",
            vec![
                eth(),
                ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
                ipv4([192, 0, 2, 1], [192, 0, 2, 2]),
                ipv6(),
                layer(LayerKind::Udp, vec![("dport", int(53))]),
            ],
        ),
        (
            "wrong values kept",
            vec![
                eth(),
                layer(
                    LayerKind::Ipv4,
                    vec![("checksum", int(0x1234)), ("len", int(9999)), ("proto", int(17)), ("version", int(6))],
                ),
                layer(LayerKind::Udp, vec![("checksum", int(0)), ("len", int(3))]),
                layer(LayerKind::Gtpu, vec![("len", int(0)), ("e", int(0)), ("s", int(0)), ("pn", int(1))]),
                layer(LayerKind::Payload, vec![("data", bytes(b"zz"))]),
            ],
        ),
    ]
}

/// What the decoder gives back for a value the author set: addresses always come back as bytes.
fn normalized(kind: LayerKind, name: &str, v: &FieldValue) -> FieldValue {
    let width = match kind.field(name).map(|f| f.kind) {
        Some(FieldKind::Ipv4Addr) => 4,
        Some(FieldKind::Ipv6Addr) => 16,
        Some(FieldKind::Mac) => 6,
        _ => return v.clone(),
    };
    match v {
        FieldValue::Int(n) => FieldValue::Bytes(n.to_be_bytes()[8 - width..].to_vec()),
        b => b.clone(),
    }
}

#[test]
fn wire_round_trip_every_corpus_packet() {
    for (name, layers) in corpus() {
        let enc = encode(&layers).unwrap_or_else(|e| panic!("{name}: {e}"));
        let dec = decode(&enc.bytes);
        assert_eq!(dec.truncated, None, "{name}");
        let kinds: Vec<_> = dec.layers.iter().map(|l| l.kind).collect();
        let mut want: Vec<_> = layers.iter().map(|l| l.kind).collect();
        // An empty trailing payload has no bytes to decode.
        if layers.last().is_some_and(|l| l.kind == LayerKind::Payload && enc.spans.last().unwrap().bits == 0) {
            want.pop();
        }
        assert_eq!(kinds, want, "{name}: layer kinds");

        for (i, l) in dec.layers.iter().enumerate() {
            // Every decoded field has exactly the encoder's span.
            let spans: Vec<_> = enc.spans.iter().filter(|s| s.layer == i).collect();
            let dec_fields: Vec<_> = l.fields.iter().map(|f| (f.name, f.bit_offset, f.bits)).collect();
            let enc_fields: Vec<_> = spans.iter().map(|s| (s.field, s.bit_offset, s.bits)).collect();
            assert_eq!(dec_fields, enc_fields, "{name}: layer {i} ({:?}) spans", l.kind);
            // Every field the author set comes back with the same value.
            for (&field, v) in &layers[i].fields {
                let got = &l.field(field).unwrap_or_else(|| panic!("{name}: {field} missing")).value;
                let mut want = normalized(l.kind, field, v);
                // Padded fields come back with their padding (zeros, or Pad1/PadN in IPv6 options).
                if let (FieldValue::Bytes(w), FieldValue::Bytes(g)) = (&mut want, got) {
                    let padding = &g[w.len().min(g.len())..];
                    let ipv6_pad = matches!(padding, [0] | [1, _, ..])
                        && padding.len() == usize::from(padding.get(1).copied().unwrap_or(0)) + 2
                        || padding == [0];
                    if g.len() > w.len() && g.starts_with(w) && (padding.iter().all(|&b| b == 0) || ipv6_pad) {
                        *w = g.clone();
                    }
                }
                let overridden = (field == "dscp" && layers[i].fields.contains_key("tos"))
                    || (matches!(field, "dscp" | "ecn") && layers[i].fields.contains_key("tc"))
                    || (matches!(field, "id" | "seq" | "mtu") && layers[i].fields.contains_key("rest"))
                    || (l.kind == LayerKind::Tcp
                        && field != "flags"
                        && layers[i].fields.contains_key("flags")
                        && ["cwr", "ece", "urg", "ack", "psh", "rst", "syn", "fin"].contains(&field));
                if !overridden {
                    assert_eq!(got, &want, "{name}: layer {i} field {field}");
                }
            }
            // Byte ranges agree with the spans.
            let first = spans.iter().map(|s| s.bit_offset).min().unwrap();
            assert_eq!(l.byte_offset * 8, first, "{name}: layer {i} offset");
        }
        // Every schema field of every layer is spanned (optional parts excepted).
        for (i, l) in layers.iter().enumerate() {
            for def in l.kind.fields() {
                let has = enc.spans.iter().any(|s| s.layer == i && s.field == def.name);
                assert!(has || def.optional, "{name}: layer {i} has no span for {}", def.name);
            }
        }
        // Spans stay inside the packet.
        for s in &enc.spans {
            assert!(s.bit_offset + s.bits <= enc.bytes.len() * 8, "{name}: span {s:?} out of range");
        }
    }
}

#[test]
fn wire_schema_has_no_duplicate_fields_and_constructors_resolve() {
    use xdptest_compiler::wire::constructor;
    for kind in LayerKind::ALL {
        let names: Vec<_> = kind.fields().iter().map(|f| f.name).collect();
        let mut dedup = names.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(names.len(), dedup.len(), "{kind:?}");
        assert_eq!(LayerKind::from_name(kind.name()), Some(kind));
        assert_eq!(constructor(kind.name()).map(|c| c.kind), Some(kind));
        if let Some(p) = kind.positional() {
            assert!(kind.field(p).is_some());
        }
        for f in kind.fields() {
            for (sym, v) in f.symbols {
                if let FieldKind::Int { bits } = f.kind {
                    assert!(*v < 1 << bits, "{kind:?}.{} symbol {sym}", f.name);
                }
            }
        }
    }
    for (name, kind, presets) in [
        ("dot1q", LayerKind::Vlan, &[][..]),
        ("gtpu.pdu_session", LayerKind::GtpuPduSession, &[]),
        ("gtpu.ext", LayerKind::GtpuExt, &[]),
        ("gtpu.echo_request", LayerKind::Gtpu, &[("type", 1)]),
        ("gtpu.echo_response", LayerKind::Gtpu, &[("type", 2)]),
        ("gtpu.end_marker", LayerKind::Gtpu, &[("type", 254)]),
        ("gtpu.error_indication", LayerKind::Gtpu, &[("type", 26)]),
        ("icmp.echo_request", LayerKind::Icmp, &[("type", 8), ("code", 0)]),
        ("icmp.echo_reply", LayerKind::Icmp, &[("type", 0), ("code", 0)]),
        ("icmp.dest_unreach", LayerKind::Icmp, &[("type", 3)]),
        ("icmp.port_unreachable", LayerKind::Icmp, &[("type", 3), ("code", 3)]),
        ("icmp.frag_needed", LayerKind::Icmp, &[("type", 3), ("code", 4)]),
        ("icmp.time_exceeded", LayerKind::Icmp, &[("type", 11), ("code", 0)]),
        ("raw", LayerKind::Payload, &[]),
    ] {
        let c = constructor(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(c.kind, kind, "{name}");
        assert_eq!(c.presets, presets, "{name}");
        for (f, _) in c.presets {
            assert!(kind.field(f).is_some());
        }
    }
}

#[test]
fn wire_derived_values() {
    let enc = encode(&background()).unwrap();
    let dec = decode(&enc.bytes);
    let get = |i: usize, f: &str| dec.layers[i].int(f).unwrap();
    assert_eq!(get(0, "type"), 0x8100);
    assert_eq!(get(1, "type"), 0x0800);
    assert_eq!(get(2, "proto"), 17);
    assert_eq!(get(2, "len") as usize, enc.bytes.len() - 18);
    assert_eq!(get(2, "ihl"), 5);
    assert_eq!((get(3, "sport"), get(3, "dport")), (2152, 2152));
    assert_eq!(get(3, "len") as usize, enc.bytes.len() - 38);
    assert_eq!(get(4, "len") as usize, enc.bytes.len() - 54);
    assert_eq!((get(4, "version"), get(4, "pt"), get(4, "type")), (1, 1, 255));
    assert_eq!((get(4, "e"), get(4, "s"), get(4, "pn")), (0, 0, 0));
    assert_eq!(dec.layers[4].byte_len, 8);
    assert_eq!(get(5, "proto"), 1);
    assert_eq!(get(5, "ttl"), 64);

    // QinQ: outer tag announced as 0x88a8, inner as 0x8100.
    let enc = encode(&corpus()[3].1).unwrap();
    assert_eq!(&enc.bytes[12..14], &[0x88, 0xa8]);
    assert_eq!(&enc.bytes[16..18], &[0x81, 0x00]);
    assert_eq!(&enc.bytes[20..22], &[0x08, 0x00]);

    // Nothing after ether / ipv4: local experimental EtherType and IP protocol.
    let enc = encode(&[eth()]).unwrap();
    assert_eq!(&enc.bytes[12..14], &[0x88, 0xb5]);
    let enc = encode(&[eth(), ipv4([0; 4], [0; 4])]).unwrap();
    assert_eq!(enc.bytes[14 + 9], 0xfd);

    // Options padded to a multiple of 4 with EOL, ihl follows.
    let enc = encode(&[eth(), layer(LayerKind::Ipv4, vec![("options", bytes(&[1, 1, 1, 1, 7]))])]).unwrap();
    assert_eq!(enc.bytes.len(), 14 + 28);
    assert_eq!(enc.bytes[14], 0x47);
    assert_eq!(&enc.bytes[14 + 20..], &[1, 1, 1, 1, 7, 0, 0, 0]);
    // ... but not when ihl is set explicitly.
    let enc =
        encode(&[eth(), layer(LayerKind::Ipv4, vec![("options", bytes(&[1, 1, 1, 1, 7])), ("ihl", int(6))])]).unwrap();
    assert_eq!(enc.bytes.len(), 14 + 25);
    assert_eq!(enc.bytes[14], 0x46);

    // Empty generic extension content is padded to a 4-byte header.
    let enc =
        encode(&[layer(LayerKind::Gtpu, vec![]), layer(LayerKind::GtpuExt, vec![("ext_type", int(0x40))])]).unwrap();
    assert_eq!(enc.bytes, [0x34, 0xff, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0x40, 1, 0, 0, 0]);
}

#[test]
fn wire_pdu_session_bytes() {
    let gtpu = || layer(LayerKind::Gtpu, vec![("teid", int(2))]);
    // DL, QFI 9: len 1, type 0, QFI 9, no next header.
    let enc = encode(&[gtpu(), layer(LayerKind::GtpuPduSession, vec![("qfi", int(9))])]).unwrap();
    assert_eq!(enc.bytes[..4], [0x34, 0xff, 0, 8]);
    assert_eq!(enc.bytes[8..], [0, 0, 0, 0x85, 1, 0x00, 0x09, 0]);
    // UL, QFI 9.
    let enc = encode(&[gtpu(), layer(LayerKind::GtpuPduSession, vec![("qfi", int(9)), ("pdu_type", int(1))])]).unwrap();
    assert_eq!(enc.bytes[12..], [1, 0x10, 0x09, 0]);
    // DL with PPI 5: PPP set, PPI octet, padded to 8 bytes.
    let enc = encode(&[gtpu(), layer(LayerKind::GtpuPduSession, vec![("qfi", int(9)), ("ppi", int(5))])]).unwrap();
    assert_eq!(enc.bytes[12..], [2, 0x00, 0x89, 0xa0, 0, 0, 0, 0]);
}

#[test]
fn wire_checksums_edge_cases() {
    // A UDP checksum that computes to 0 is sent as 0xffff: find one by varying the source port.
    let mut found = false;
    for sport in 0..=u16::MAX {
        let layers = vec![
            ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
            layer(LayerKind::Udp, vec![("sport", int(u64::from(sport))), ("dport", int(9))]),
        ];
        let enc = encode(&layers).unwrap();
        let mut zeroed = enc.bytes.clone();
        zeroed[26] = 0;
        zeroed[27] = 0;
        // Sum of pseudo header + segment with a zero checksum field.
        let mut sum: u32 = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 8;
        for c in zeroed[20..].chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        if !(sum as u16) == 0 {
            assert_eq!(&enc.bytes[26..28], &[0xff, 0xff]);
            found = true;
            break;
        }
    }
    assert!(found);
    // An explicit 0 means "no checksum" and is kept.
    let enc = encode(&[ipv4([1, 1, 1, 1], [2, 2, 2, 2]), layer(LayerKind::Udp, vec![("checksum", int(0))])]).unwrap();
    assert_eq!(&enc.bytes[26..28], &[0, 0]);
}

#[test]
fn wire_encode_errors() {
    use xdptest_compiler::wire::EncodeError;
    let e = encode(&[layer(LayerKind::Vlan, vec![("vid", int(4096))])]).unwrap_err();
    assert!(matches!(e, EncodeError::TooWide { layer: 0, field: "vid", .. }), "{e}");
    let e = encode(&[eth(), layer(LayerKind::Ipv4, vec![("df", int(2))])]).unwrap_err();
    assert!(matches!(e, EncodeError::TooWide { layer: 1, field: "df", .. }), "{e}");
    let e = encode(&[eth(), layer(LayerKind::Ipv4, vec![("options", bytes(&[0; 41]))])]).unwrap_err();
    assert!(matches!(e, EncodeError::TooLong { layer: 1, field: "options", .. }), "{e}");
    let e = encode(&[eth(), layer(LayerKind::Ipv4, vec![("options", bytes(&[1; 40]))])]);
    assert!(e.is_ok());
    let e = encode(&[layer(LayerKind::Udp, vec![("nope", int(1))])]).unwrap_err();
    assert!(matches!(e, EncodeError::UnknownField { layer: 0, field: "nope", .. }), "{e}");
    let e = encode(&[layer(LayerKind::Udp, vec![("sport", bytes(b"x"))])]).unwrap_err();
    assert!(matches!(e, EncodeError::WrongType { layer: 0, field: "sport", .. }), "{e}");
    let e = encode(&[layer(LayerKind::Ether, vec![("src", bytes(&[1, 2, 3]))])]).unwrap_err();
    assert!(matches!(e, EncodeError::WrongType { layer: 0, field: "src", .. }), "{e}");
    let e = encode(&[layer(LayerKind::Gtpu, vec![]), layer(LayerKind::GtpuExt, vec![])]).unwrap_err();
    assert!(matches!(e, EncodeError::Missing { layer: 1, field: "ext_type" }), "{e}");
    let e = encode(&[layer(LayerKind::Icmp, vec![("seq", int(1)), ("mtu", int(2))])]).unwrap_err();
    assert!(matches!(e, EncodeError::Conflict { layer: 0, .. }), "{e}");
    let e =
        encode(&[layer(LayerKind::Ipv4, vec![]), layer(LayerKind::Payload, vec![("data", bytes(&vec![0; 70000]))])])
            .unwrap_err();
    assert!(matches!(e, EncodeError::LengthOverflow { layer: 0, field: "len", .. }), "{e}");
    let e =
        encode(&[layer(LayerKind::GtpuExt, vec![("ext_type", int(1)), ("content", bytes(&[0; 1019]))])]).unwrap_err();
    assert!(matches!(e, EncodeError::TooLong { layer: 0, field: "content", .. }), "{e}");
    // Messages are lowercase and name the field; the caller names the layer (`EncodeError::layer`).
    let e = EncodeError::TooWide { layer: 2, field: "vid", value: 5000, bits: 12 };
    assert_eq!(e.to_string(), "value 5000 does not fit field `vid` (12 bits)");
    assert_eq!(e.layer(), 2);
    let e = encode(&[layer(LayerKind::Icmpv6, vec![("type", int(128)), ("mtu", int(1))])]).unwrap_err();
    assert_eq!(e.to_string(), "`mtu` is not part of an echo message; it belongs to packet_too_big");
}

#[test]
fn wire_display_values() {
    let enc = encode(&background()).unwrap();
    let dec = decode(&enc.bytes);
    let show = |i: usize, f: &str| dec.layers[i].field(f).unwrap().display_value();
    assert_eq!(show(0, "src"), "00:00:5e:00:53:02");
    assert_eq!(show(0, "type"), "0x8100");
    assert_eq!(show(1, "vid"), "100");
    assert_eq!(show(2, "src"), "192.168.10.1");
    assert_eq!(show(2, "id"), "1212");
    assert!(show(2, "checksum").starts_with("0x") && show(2, "checksum").len() == 6);
    assert_eq!(show(7, "data"), "61626364");
    assert_eq!(show(6, "type"), "8");
}

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Decoding must not panic and must account for every byte exactly once.
fn check_decode(bytes: &[u8]) {
    let dec = decode(bytes);
    let mut pos = 0;
    for l in &dec.layers {
        assert_eq!(l.byte_offset, pos, "{bytes:02x?}");
        for f in &l.fields {
            assert!(f.bit_offset + f.bits <= bytes.len() * 8, "{bytes:02x?}");
            let _ = f.display_value();
        }
        pos += l.byte_len;
    }
    assert_eq!(pos, bytes.len(), "{bytes:02x?}");
}

#[test]
fn wire_decode_never_panics() {
    let mut packets: Vec<Vec<u8>> = corpus().into_iter().map(|(_, l)| encode(&l).unwrap().bytes).collect();
    // Every prefix of every corpus packet.
    for p in packets.clone() {
        for n in 0..=p.len() {
            check_decode(&p[..n]);
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Random bytes behind plausible headers, so that the deeper decoders are reached too.
    let mut prefixes = packets.clone();
    prefixes.push(Vec::new());
    for _ in 0..20_000 {
        let base = &prefixes[rng.below(prefixes.len() as u64) as usize];
        let keep = rng.below(base.len() as u64 + 1) as usize;
        let mut p = base[..keep].to_vec();
        for _ in 0..rng.below(80) {
            p.push(rng.next() as u8);
        }
        check_decode(&p);
    }
    // Random bit flips in valid packets.
    for _ in 0..20_000 {
        let i = rng.below(packets.len() as u64) as usize;
        let p = &mut packets[i];
        let pos = rng.below(p.len() as u64) as usize;
        p[pos] ^= 1 << rng.below(8);
        check_decode(p);
    }
}

#[test]
fn wire_encode_never_panics() {
    let mut rng = Rng(12345);
    for _ in 0..5_000 {
        let n = rng.below(7) as usize + 1;
        let mut layers = Vec::new();
        for _ in 0..n {
            let kind = LayerKind::ALL[rng.below(LayerKind::ALL.len() as u64) as usize];
            let mut l = Layer::new(kind);
            for def in kind.fields() {
                if rng.below(3) != 0 {
                    continue;
                }
                let v = match (def.kind, rng.below(8)) {
                    (_, 0) => FieldValue::Int(rng.next()),
                    (_, 1) => FieldValue::Bytes((0..rng.below(50)).map(|_| rng.next() as u8).collect()),
                    (FieldKind::Int { bits }, _) => FieldValue::Int(rng.next() & ((1 << bits) - 1)),
                    (FieldKind::Flag, _) => FieldValue::Int(rng.below(2)),
                    (FieldKind::Ipv4Addr, _) => FieldValue::Bytes(rng.next().to_be_bytes()[..4].to_vec()),
                    (FieldKind::Ipv6Addr, _) => FieldValue::Bytes((0..16).map(|_| rng.next() as u8).collect()),
                    (FieldKind::Mac, _) => FieldValue::Bytes(rng.next().to_be_bytes()[..6].to_vec()),
                    (FieldKind::Bytes, _) => FieldValue::Bytes((0..rng.below(45)).map(|_| rng.next() as u8).collect()),
                };
                l.fields.insert(def.name, v);
            }
            layers.push(l);
        }
        if let Ok(enc) = encode(&layers) {
            for s in &enc.spans {
                assert!(s.bit_offset + s.bits <= enc.bytes.len() * 8);
            }
            check_decode(&enc.bytes);
        }
    }
}
