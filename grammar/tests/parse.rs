//! Parser tests: what each construct turns into, and the message each common mistake gets.

use xdptest_grammar::ast::*;
use xdptest_grammar::parse;

const UPLINK: &str = r#"
# specs/upf/uplink.pkt
program "../../programs/build/upf.o" xdp "xdp_upf"

packet uplink = ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01)
              / vlan(100)
              / ipv4(src=192.168.10.1, dst=192.168.10.5, id=1212, df)
              / udp(sport=2152, dport=2152)
              / gtpu(teid=2)
              / ipv4(src=192.168.100.200, dst=192.168.30.1, id=1160, df)
              / icmp.echo_request(id=1, seq=1)
              / payload("abcd")

## A UE pings a host: the tunnel is stripped.
## Second line.
scenario "uplink ICMP is decapsulated and sent back out" {
  map sessions[2] = { ue_ip: 192.168.100.200, vlan_out: 300 }
  send uplink ingress eth0 queue 1
  expect XDP_TX: uplink without [ipv4, udp, gtpu] with vlan.vid=300, ether.dst=*
  expect map stats[0] == 1
  expect map stats[1] == per_cpu [1, 0]
  expect map sessions[7] missing
}
"#;

fn errors(src: &str) -> String {
    match parse(src) {
        Ok(_) => panic!("expected an error for {src:?}"),
        Err(errs) => errs
            .iter()
            .map(|e| {
                format!(
                    "{}..{}: {} | help: {}",
                    e.span.start,
                    e.span.end,
                    e.message,
                    e.help.clone().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn parses_the_uplink_example() {
    let file = parse(UPLINK).unwrap();
    assert_eq!(file.items.len(), 3);
    let ItemKind::Packet(def) = &file.items[1].kind else { panic!() };
    assert_eq!(def.name.node, "uplink");
    assert_eq!(def.expr.stack.len(), 8);
    let Term::Layer(ether) = &def.expr.stack[0] else { panic!() };
    let args = ether.args.as_ref().unwrap();
    assert_eq!(args[0].name.as_ref().unwrap().node, "src");
    assert_eq!(args[0].value.kind, ValueKind::Mac([0, 0, 0x5e, 0, 0x53, 2]));
    let Term::Layer(icmp) = &def.expr.stack[6] else { panic!() };
    assert_eq!(icmp.name.node, "icmp.echo_request");
    let scenario_item = &file.items[2];
    assert_eq!(scenario_item.docs, vec!["A UE pings a host: the tunnel is stripped.", "Second line."]);
    let ItemKind::Scenario(s) = &scenario_item.kind else { panic!() };
    assert_eq!(s.stmts.len(), 6);
    let Stmt::Send(send) = &s.stmts[1] else { panic!() };
    assert_eq!(send.ingress.as_ref().unwrap().node, IfaceRef::Name("eth0".into()));
    assert_eq!(send.queue.as_ref().unwrap().node, 1);
    let Stmt::ExpectPacket(exp) = &s.stmts[2] else { panic!() };
    assert_eq!(exp.action.node, "XDP_TX");
    let pkt = exp.packet.as_ref().unwrap();
    assert_eq!(pkt.modifiers.len(), 2);
    let Modifier::Without(sel) = &pkt.modifiers[0] else { panic!() };
    assert_eq!(sel.iter().map(|s| s.layer.node.as_str()).collect::<Vec<_>>(), ["ipv4", "udp", "gtpu"]);
    let Modifier::With(assign) = &pkt.modifiers[1] else { panic!() };
    assert_eq!(assign[1].value.kind, ValueKind::Wildcard);
    let Stmt::ExpectMap(m) = &s.stmts[4] else { panic!() };
    assert!(matches!(m.expected.as_ref().unwrap().kind, ValueKind::PerCpu(ref v) if v.len() == 2));
    let Stmt::ExpectMap(m) = &s.stmts[5] else { panic!() };
    assert!(m.expected.is_none());
}

#[test]
fn values() {
    let f = parse("map m[10.0.0.0/8] = [0x10, 0b101, 1_000, hex\"de ad:be ef\", \"a\\x41\\n\", x, *]").unwrap();
    let ItemKind::Map(m) = &f.items[0].kind else { panic!() };
    assert_eq!(m.key.kind, ValueKind::Prefix([10, 0, 0, 0], 8));
    let ValueKind::List(v) = &m.value.kind else { panic!() };
    let kinds: Vec<_> = v.iter().map(|v| v.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            ValueKind::Int(16),
            ValueKind::Int(5),
            ValueKind::Int(1000),
            ValueKind::Bytes(vec![0xde, 0xad, 0xbe, 0xef]),
            ValueKind::Str("aA\n".into()),
            ValueKind::Ident("x".into()),
            ValueKind::Wildcard
        ]
    );
}

#[test]
fn selectors_groups_push_and_env() {
    let src = "env {\n link eth0 dummy mac 00:00:5e:00:53:01 addr 10.0.0.1/24\n route 10.1.0.0/16 via 10.0.0.2\n}\n\
               packet p = (a with ipv4:2.ttl=3) / udp push vlan(7) after ether";
    let f = parse(src).unwrap();
    let ItemKind::Env(env) = &f.items[0].kind else { panic!() };
    assert_eq!(env.len(), 2);
    assert_eq!(
        env[0].args.iter().map(|a| a.node.as_str()).collect::<Vec<_>>(),
        ["eth0", "dummy", "mac", "00:00:5e:00:53:01", "addr", "10.0.0.1/24"]
    );
    let ItemKind::Packet(p) = &f.items[1].kind else { panic!() };
    let Term::Group(g) = &p.expr.stack[0] else { panic!() };
    let Modifier::With(a) = &g.modifiers[0] else { panic!() };
    assert_eq!(a[0].selector.index.as_ref().unwrap().node, 2);
    assert!(matches!(p.expr.modifiers[0], Modifier::Push { position: Position::After, .. }));
}

#[test]
fn syntax_errors_are_located_and_worded() {
    insta::assert_snapshot!(errors("packet p = ipv4(src=1.2.3.4"), @"27..27: expected `)`, `,` or `/`, found end of file | help:");
    insta::assert_snapshot!(errors("scenario \"x\" { send p\n expect xdp_tx }"), @"30..36: expected `event`, `global`, `meta`, `no event`, `snapshot` or an XDP action (XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT) or a number, found `xdp_tx` | help: write the action in capitals, e.g. `expect XDP_PASS`");
    insta::assert_snapshot!(errors("// hello"), @"0..2: expected an item (`program`, `include`, `env`, `packet`, `map`, `scenario`), found `//` | help: comments start with `#`");
    insta::assert_snapshot!(errors("map m[1] = 300.1.1.1"), @"11..20: `300.1.1.1` is not an IPv4 address: `300` is above 255 | help:");
    insta::assert_snapshot!(errors("map m[1] = 99999999999999999999999"), @"11..34: `99999999999999999999999` is not a valid 64-bit number | help:");
    insta::assert_snapshot!(errors("packet p = ipv4 with ipv4:0.ttl=1"), @"26..27: layer occurrences count from 1 | help: `ipv4:1` is the first ipv4 layer, `ipv4:2` the second");
    insta::assert_snapshot!(errors("map m[1] = hex\"abc\""), @r#"11..19: a byte string needs an even number of hex digits | help: write each byte as two digits, e.g. hex"0a 0b""#);
}

#[test]
fn expect_snapshot_is_a_statement() {
    let src = "scenario \"s\" {\n  send ether\n  expect snapshot\n  expect XDP_PASS\n}\npacket snapshot = ether\n";
    let f = parse(src).unwrap();
    let ItemKind::Scenario(s) = &f.items[0].kind else { panic!() };
    let Stmt::ExpectSnapshot(span) = &s.stmts[1] else { panic!("{:?}", s.stmts[1]) };
    assert_eq!(&src[span.start..span.end], "expect snapshot");
    assert!(matches!(s.stmts[2], Stmt::ExpectPacket(_)));
    // `snapshot` stays usable as a name.
    let ItemKind::Packet(p) = &f.items[1].kind else { panic!() };
    assert_eq!(p.name.node, "snapshot");
    // `expect snapshots` is not `expect snapshot`.
    assert!(parse("scenario \"s\" {\n  send ether\n  expect snapshots\n}\n").is_err());
}

fn one_value(text: &str) -> ValueKind {
    let src = format!("map m[0] = {text}\n");
    let file = parse(&src).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    let ItemKind::Map(m) = &file.items[0].kind else { panic!() };
    m.value.kind.clone()
}

#[test]
fn ipv6_literals_and_prefixes() {
    let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
    assert_eq!(one_value("2001:db8::1"), ValueKind::Ipv6(v6("2001:db8::1")));
    assert_eq!(one_value("::1"), ValueKind::Ipv6(v6("::1")));
    assert_eq!(one_value("::"), ValueKind::Ipv6(v6("::")));
    assert_eq!(one_value("fe80::1:2:3:4"), ValueKind::Ipv6(v6("fe80::1:2:3:4")));
    assert_eq!(one_value("1:2:3:4:5:6:7:8"), ValueKind::Ipv6(v6("1:2:3:4:5:6:7:8")));
    assert_eq!(one_value("::ffff:192.0.2.1"), ValueKind::Ipv6(v6("::ffff:192.0.2.1")));
    assert_eq!(one_value("2001:db8::/32"), ValueKind::Prefix6(v6("2001:db8::"), 32));
    // A MAC stays a MAC, an IPv4 address an IPv4 address.
    assert_eq!(one_value("00:00:5e:00:53:01"), ValueKind::Mac([0, 0, 0x5e, 0, 0x53, 1]));
    assert_eq!(one_value("10.0.0.1"), ValueKind::Ipv4([10, 0, 0, 1]));
}

#[test]
fn ipv6_mistakes_are_located() {
    assert!(errors("map m[0] = 1:2:3:4:5:6:7\n").contains("is not an IPv6 address"));
    assert!(errors("map m[0] = 1::2::3\n").contains("is not an IPv6 address"));
    assert!(errors("map m[0] = 2001:db8::/129\n").contains("prefix length 129 is above 128"));
}

#[test]
fn calls_and_flag_sets() {
    let ValueKind::List(items) = one_value("[mss(1460), nop, timestamps(100, 0), sack([1, 2])]") else { panic!() };
    let ValueKind::Call(name, args) = &items[0].kind else { panic!("{:?}", items[0]) };
    assert_eq!((name.node.as_str(), args.len()), ("mss", 1));
    assert_eq!(items[1].kind, ValueKind::Ident("nop".into()));
    let ValueKind::Call(_, args) = &items[2].kind else { panic!() };
    assert_eq!(args.iter().map(|a| a.kind.clone()).collect::<Vec<_>>(), [ValueKind::Int(100), ValueKind::Int(0)]);
    let ValueKind::Flags(names) = one_value("syn|ack") else { panic!() };
    assert_eq!(names.iter().map(|n| n.node.as_str()).collect::<Vec<_>>(), ["syn", "ack"]);
    let ValueKind::Flags(names) = one_value("fin | psh |urg") else { panic!() };
    assert_eq!(names.len(), 3);
}

/// Inputs the fuzz targets found crashing the parser, kept as they were found: each parses to a tree
/// or to errors whose spans lie on character boundaries.
#[test]
fn fuzz_findings_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        if let Err(errors) = xdptest_grammar::parse(&text) {
            for e in errors {
                assert!(
                    text.is_char_boundary(e.span.start) && text.is_char_boundary(e.span.end),
                    "{}: {e:?}",
                    path.display()
                );
            }
        }
        n += 1;
    }
    assert!(n >= 1);
}

#[test]
fn clock_and_random_statements() {
    let f =
        parse("scenario \"s\" {\n  clock 1_500ms\n  clock +2s\n  clock 7ns\n  clock 20us\n  random 0xff\n}\n").unwrap();
    let ItemKind::Scenario(s) = &f.items[0].kind else { panic!() };
    let got: Vec<String> = s
        .stmts
        .iter()
        .map(|st| match st {
            Stmt::Clock { ns, advance, .. } => format!("clock {}{}", if *advance { "+" } else { "" }, ns.node),
            Stmt::Random { value, .. } => format!("random {}", value.node),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, ["clock 1500000000", "clock +2000000000", "clock 7", "clock 20000", "random 255"]);
    // A clock past 64 bits of nanoseconds, and a duration without its unit.
    assert!(
        errors("scenario \"s\" {\n  clock 18446744074s\n}\n").contains("more nanoseconds than a 64-bit clock holds")
    );
    assert!(errors("scenario \"s\" {\n  clock 5\n}\n").contains("expected `ms`, `ns`, `s` or `us`"));
}
