//! The `env { }` block: the network stage a program needs (interfaces, addresses, routes, neighbours),
//! checked and lowered to [`EnvItem`]s that the runner builds in a throwaway network namespace.
//!
//! ```text
//! env {
//!   link eth0 dummy mac 00:00:5e:00:53:01 addr 192.168.10.5/24
//!   link eth0.100 vlan 100 on eth0 addr 192.168.100.1/24
//!   link veth0 veth peer veth1 addr 10.0.0.1/24 mtu 1500
//!   route 192.168.30.0/24 via 192.168.100.2
//!   route 10.66.0.0/16 blackhole
//!   neigh 192.168.100.2 mac 00:00:5e:00:53:99 dev eth0.100
//!   link eth1 veth peer eth1p addr 2001:db8:1::1/64
//!   route 2001:db8:99::/48 via 2001:db8:1::2
//!   neigh 2001:db8:1::2 mac 00:00:5e:00:53:98 dev eth1
//! }
//! ```
//!
//! Addresses, routes and neighbours are IPv4 or IPv6; the fixture stores an address as its 4 or 16
//! bytes, so the family travels with it. A route's gateway has its prefix's family.

use xdptest_grammar::ast::{EnvStmt, Span, Spanned};

use crate::diagnostic::{Diag, SourceFile};
use crate::fixture::{Bytes, EnvDecl, EnvItem, LinkKind, RouteKind};

/// The stage an `env` block declares, one [`EnvDecl`] per line that is correct.
/// Words `ip link` reads as keywords where a device name may stand.
const IP_KEYWORDS: &[&str] = &[
    "help",
    "type",
    "all",
    "default",
    "dev",
    "name",
    "link",
    "peer",
    "up",
    "down",
    "add",
    "del",
    "delete",
    "set",
    "show",
    "list",
    "lst",
    "group",
    "master",
    "nomaster",
    "netns",
    "alias",
    "mtu",
    "address",
    "broadcast",
    "txqueuelen",
    "vf",
    "xdp",
];

/// The smallest MTU that carries IPv4 (RFC 791).
const MIN_MTU: u64 = 68;

pub fn lower(stmts: &[EnvStmt], src: &SourceFile, diags: &mut Vec<Diag>) -> Vec<EnvDecl> {
    let mut out = Vec::new();
    let mut spans = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for s in stmts {
        let mut p = Words { args: &s.args, pos: 0, src, diags, stmt: s.span };
        let item = match s.keyword.node.as_str() {
            "link" => p.link(&names),
            "route" => p.route(),
            "neigh" => p.neigh(),
            _ => None,
        };
        if let Some(item) = item {
            if let EnvItem::Link { name, .. } = &item {
                names.push(name.clone());
            }
            out.push(item);
            spans.push(s.span);
        }
    }
    // A veth's peer is an interface of its own: no other link or peer may have its name.
    let mut seen_peers: Vec<&str> = Vec::new();
    for (span, item) in spans.iter().zip(out.iter()) {
        let EnvItem::Link { name, kind: LinkKind::Veth { peer }, .. } = item else { continue };
        if peer == name {
            continue; // reported where it is written
        }
        if names.contains(peer) || seen_peers.contains(&peer.as_str()) {
            diags.push(
                Diag::new(
                    "compile::env",
                    src,
                    *span,
                    format!("the peer `{peer}` of `{name}` is another interface's name"),
                )
                .help("a veth's peer is a new interface: give it a name of its own"),
            );
        }
        seen_peers.push(peer);
    }
    // Routes and neighbours must name declared devices (also ones declared after them).
    for (span, item) in spans.iter().zip(out.iter()) {
        let dev = match item {
            EnvItem::Route { dev: Some(d), .. } | EnvItem::Neigh { dev: d, .. } => d,
            _ => continue,
        };
        if !names.contains(dev) {
            diags.push(
                Diag::new("compile::env", src, *span, format!("device `{dev}` is not declared in `env`")).help(
                    format!("declared: {}", if names.is_empty() { "none".to_string() } else { names.join(", ") }),
                ),
            );
        }
    }
    out.into_iter().zip(spans).map(|(item, span)| EnvDecl { item, location: src.location(span) }).collect()
}

struct Words<'a> {
    args: &'a [Spanned<String>],
    pos: usize,
    src: &'a SourceFile,
    diags: &'a mut Vec<Diag>,
    stmt: Span,
}

impl Words<'_> {
    fn err(&mut self, span: Span, msg: impl Into<String>, help: &str) {
        self.diags.push(Diag::new("compile::env", self.src, span, msg).help(help));
    }

    fn next(&mut self, what: &str, help: &str) -> Option<Spanned<String>> {
        let w = self.args.get(self.pos).cloned();
        self.pos += 1;
        if w.is_none() {
            let at = Span { start: self.stmt.end, end: self.stmt.end };
            self.err(at, format!("expected {what}"), help);
        }
        w
    }

    /// An IPv4 or IPv6 address: its 4 or 16 bytes.
    fn ip(&mut self, w: &Spanned<String>) -> Option<Vec<u8>> {
        match w.node.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => Some(a.octets().to_vec()),
            Ok(std::net::IpAddr::V6(a)) => Some(a.octets().to_vec()),
            Err(_) => {
                self.err(
                    w.span,
                    format!("`{}` is not an IP address", w.node),
                    "write it like 192.0.2.1 or 2001:db8::1",
                );
                None
            }
        }
    }

    /// `ADDRESS/LEN`, IPv4 (up to /32) or IPv6 (up to /128).
    fn prefix(&mut self, w: &Spanned<String>) -> Option<(Vec<u8>, u8)> {
        const HELP: &str = "write it like 192.0.2.0/24 or 2001:db8::/32";
        let Some((a, l)) = w.node.split_once('/') else {
            self.err(w.span, format!("`{}` is not a prefix", w.node), HELP);
            return None;
        };
        let addr = self.ip(&Spanned { node: a.to_string(), span: w.span })?;
        let max = addr.len() * 8;
        match l.parse::<u8>() {
            Ok(len) if usize::from(len) <= max => Some((addr, len)),
            _ => {
                self.err(w.span, format!("`{l}` is not a prefix length (0..{max})"), HELP);
                None
            }
        }
    }

    fn mac(&mut self, w: &Spanned<String>) -> Option<[u8; 6]> {
        let parts: Option<Vec<u8>> =
            w.node.split(':').map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() <= 2)).collect();
        match parts {
            Some(p) if p.len() == 6 => Some([p[0], p[1], p[2], p[3], p[4], p[5]]),
            _ => {
                self.err(w.span, format!("`{}` is not a MAC address", w.node), "write it like 00:00:5e:00:53:01");
                None
            }
        }
    }

    fn number(&mut self, w: &Spanned<String>, max: u64) -> Option<u64> {
        match w.node.parse::<u64>() {
            Ok(n) if n <= max => Some(n),
            _ => {
                self.err(w.span, format!("`{}` is not a number up to {max}", w.node), "");
                None
            }
        }
    }

    /// A name the kernel and iproute2 take for an interface: 1 to 15 bytes, not `.` or `..`, no `/`,
    /// `:` or blanks, and not a word that `ip link` reads as a keyword (`ip link add help …` prints
    /// its usage instead).
    fn check_ifname(&mut self, name: &Spanned<String>) {
        let n = name.node.as_str();
        let problem = if n.is_empty() || n.len() > 15 {
            Some("1 to 15 characters".to_string())
        } else if n == "." || n == ".." || n.contains(['/', ':']) || n.contains(char::is_whitespace) {
            Some("no `/`, `:` or blanks, and not `.` or `..`".to_string())
        } else if IP_KEYWORDS.contains(&n) {
            Some(format!("`{n}` is a keyword of `ip link`; choose another name, e.g. `{n}0`"))
        } else {
            None
        };
        if let Some(help) = problem {
            self.err(name.span, format!("`{n}` is not a valid interface name"), &help);
        }
    }

    fn link(&mut self, declared: &[String]) -> Option<EnvItem> {
        const HELP: &str =
            "link NAME dummy | veth peer PEER | vlan VID on PARENT, then any of: mac MAC, addr ADDRESS/LEN (IPv4 or \
             IPv6, repeatable), mtu N";
        let name = self.next("an interface name", HELP)?;
        self.check_ifname(&name);
        if declared.contains(&name.node) {
            self.err(name.span, format!("interface `{}` is declared twice", name.node), "");
        }
        let kind_word = self.next("the link kind: dummy, veth or vlan", HELP)?;
        let kind = match kind_word.node.as_str() {
            "dummy" => LinkKind::Dummy,
            "veth" => {
                let kw = self.next("`peer NAME`", HELP)?;
                if kw.node != "peer" {
                    self.err(kw.span, "expected `peer NAME`", HELP);
                    return None;
                }
                let peer = self.next("the peer's name", HELP)?;
                self.check_ifname(&peer);
                if peer.node == name.node {
                    let help = format!("give the peer a name of its own, e.g. `peer {}p`", name.node);
                    self.err(peer.span, format!("the peer of `{}` has the same name", name.node), &help);
                }
                LinkKind::Veth { peer: peer.node }
            }
            "vlan" => {
                let vid_word = self.next("a VLAN id", HELP)?;
                let vid = self.number(&vid_word, 4094)? as u16;
                let kw = self.next("`on PARENT`", HELP)?;
                if kw.node != "on" {
                    self.err(kw.span, "expected `on PARENT`", HELP);
                    return None;
                }
                let parent = self.next("the parent interface", HELP)?;
                if !declared.contains(&parent.node) {
                    self.err(parent.span, format!("parent `{}` must be declared before its VLAN", parent.node), HELP);
                }
                LinkKind::Vlan { parent: parent.node, vid }
            }
            other => {
                self.err(kind_word.span, format!("unknown link kind `{other}`"), HELP);
                return None;
            }
        };
        let (mut mac, mut addrs, mut mtu) = (None, Vec::new(), None);
        while let Some(opt) = self.args.get(self.pos).cloned() {
            self.pos += 1;
            let val = self.next(&format!("a value after `{}`", opt.node), HELP)?;
            match opt.node.as_str() {
                "mac" => mac = Some(Bytes(self.mac(&val)?.to_vec())),
                "addr" => {
                    let (a, l) = self.prefix(&val)?;
                    addrs.push((Bytes(a), l));
                }
                "mtu" => {
                    let n = self.number(&val, 65535)?;
                    if n < MIN_MTU {
                        self.err(
                            val.span,
                            format!("mtu {n} is below {MIN_MTU}"),
                            "an interface carrying IPv4 needs at least 68 bytes (IPv6: 1280)",
                        );
                        return None;
                    }
                    mtu = Some(n as u32)
                }
                other => {
                    self.err(opt.span, format!("unknown link option `{other}`"), HELP);
                    return None;
                }
            }
        }
        Some(EnvItem::Link { name: name.node, kind, mac, addrs, mtu })
    }

    fn route(&mut self) -> Option<EnvItem> {
        const HELP: &str = "route PREFIX [via GATEWAY] [dev NAME] | route PREFIX blackhole|unreachable|prohibit";
        let p = self.next("a prefix", HELP)?;
        let (addr, len) = self.prefix(&p)?;
        let (mut via, mut dev, mut kind) = (None, None, RouteKind::Unicast);
        while let Some(opt) = self.args.get(self.pos).cloned() {
            self.pos += 1;
            match opt.node.as_str() {
                "blackhole" => kind = RouteKind::Blackhole,
                "unreachable" => kind = RouteKind::Unreachable,
                "prohibit" => kind = RouteKind::Prohibit,
                "via" => {
                    let w = self.next("a gateway address", HELP)?;
                    let gw = self.ip(&w)?;
                    if gw.len() != addr.len() {
                        let family = |n: usize| if n == 4 { "IPv4" } else { "IPv6" };
                        self.err(
                            w.span,
                            format!("the gateway is {} but the prefix is {}", family(gw.len()), family(addr.len())),
                            "an IPv4 route needs an IPv4 gateway, an IPv6 route an IPv6 one",
                        );
                        return None;
                    }
                    via = Some(Bytes(gw));
                }
                "dev" => dev = Some(self.next("a device", HELP)?.node),
                other => {
                    self.err(opt.span, format!("unknown route option `{other}`"), HELP);
                    return None;
                }
            }
        }
        if kind == RouteKind::Unicast && via.is_none() && dev.is_none() {
            self.err(p.span, "a route needs `via`, `dev`, or a type (blackhole, unreachable, prohibit)", HELP);
            return None;
        }
        Some(EnvItem::Route { prefix: (Bytes(addr), len), via, dev, kind })
    }

    fn neigh(&mut self) -> Option<EnvItem> {
        const HELP: &str = "neigh ADDRESS mac MAC dev NAME (an IPv4 or IPv6 address)";
        let a = self.next("an address", HELP)?;
        let addr = self.ip(&a)?;
        let (mut mac, mut dev) = (None, None);
        while let Some(opt) = self.args.get(self.pos).cloned() {
            self.pos += 1;
            let val = self.next(&format!("a value after `{}`", opt.node), HELP)?;
            match opt.node.as_str() {
                "mac" | "lladdr" => mac = Some(self.mac(&val)?),
                "dev" => dev = Some(val.node),
                other => {
                    self.err(opt.span, format!("unknown neigh option `{other}`"), HELP);
                    return None;
                }
            }
        }
        match (mac, dev) {
            (Some(mac), Some(dev)) => Some(EnvItem::Neigh { addr: Bytes(addr), mac: Bytes(mac.to_vec()), dev }),
            _ => {
                self.err(a.span, "a neighbour needs `mac` and `dev`", HELP);
                None
            }
        }
    }
}
