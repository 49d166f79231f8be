//! Builds a network stage with rtnetlink messages written by hand: the one way stages are built, on the
//! host and in a VM guest (whose initramfs holds nothing but xdptest). Each operation is described as
//! the `ip` command that would do the same, so errors read like iproute2's; the tests check the result
//! against iproute2 itself.

use std::io;
use std::os::fd::OwnedFd;

use xdptest_compiler::fixture::{EnvDecl, EnvItem, LinkKind, RouteKind};

use crate::error::OsError;

// Message types and flags (linux/rtnetlink.h, linux/netlink.h).
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RTM_NEWNEIGH: u16 = 28;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
// Attributes.
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_LINKINFO: u16 = 18;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_FLAGS: u16 = 3;
/// XDP_FLAGS_DRV_MODE: native XDP, which veth has.
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFLA_VLAN_ID: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NLA_F_NESTED: u16 = 1 << 15;
// Values.
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
const RTN_BLACKHOLE: u8 = 6;
const RTN_UNREACHABLE: u8 = 7;
const RTN_PROHIBIT: u8 = 8;
const NUD_PERMANENT: u16 = 0x80;
const IFA_F_NODAD: u8 = 0x02;
const IFF_UP: u32 = 1;

/// One stage operation, in terms of interface names (resolved to indexes when applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Up {
        dev: String,
    },
    AddLink {
        name: String,
        kind: NewLink,
    },
    SetMac {
        dev: String,
        mac: Vec<u8>,
    },
    SetMtu {
        dev: String,
        mtu: u32,
    },
    /// Attach XDP program `fd` to `dev` in native mode.
    AttachXdp {
        dev: String,
        fd: i32,
    },
    /// An IPv4 or IPv6 address (4 or 16 bytes); IPv6 ones skip duplicate address detection, so they
    /// are usable at once.
    AddAddr {
        dev: String,
        addr: Vec<u8>,
        len: u8,
    },
    AddRoute {
        dst: Vec<u8>,
        len: u8,
        via: Option<Vec<u8>>,
        dev: Option<String>,
        kind: u8,
    },
    Neigh {
        addr: Vec<u8>,
        mac: Vec<u8>,
        dev: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewLink {
    Dummy,
    Veth { peer: String },
    Vlan { parent: String, vid: u16 },
}

/// The address family of an address by its length: AF_INET6 for 16 bytes, else AF_INET.
fn family(addr: &[u8]) -> u8 {
    if addr.len() == 16 {
        libc::AF_INET6 as u8
    } else {
        libc::AF_INET as u8
    }
}

/// Whether the stage has IPv6 addresses, routes or neighbours (and so needs IPv6 forwarding on).
pub fn has_ipv6(decls: &[EnvDecl]) -> bool {
    decls.iter().any(|d| match &d.item {
        EnvItem::Link { addrs, .. } => addrs.iter().any(|(a, _)| a.0.len() == 16),
        EnvItem::Route { prefix, .. } => prefix.0 .0.len() == 16,
        EnvItem::Neigh { addr, .. } => addr.0.len() == 16,
    })
}

/// One operation and the `env` line (index into the declarations) it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub op: Op,
    pub decl: Option<usize>,
}

/// The operations of a stage: links (with their MACs, MTUs and addresses), then every link up, then
/// routes and neighbours. Without a dummy driver, a `dummy` link is one end of a veth pair whose other
/// end (`<index>.xdptest`) is left unused.
pub fn ops(decls: &[EnvDecl], dummy_driver: bool) -> Vec<Step> {
    let step = |op, decl| Step { op, decl: Some(decl) };
    let mut v = vec![Step { op: Op::Up { dev: "lo".into() }, decl: None }];
    let mut ups = Vec::new();
    for (i, d) in decls.iter().enumerate() {
        if let EnvItem::Link { name, kind, mac, addrs, mtu } = &d.item {
            let kind = match kind {
                LinkKind::Dummy if dummy_driver => NewLink::Dummy,
                LinkKind::Dummy => NewLink::Veth { peer: format!("{i}.xdptest") },
                LinkKind::Veth { peer } => {
                    ups.push((peer.clone(), i));
                    NewLink::Veth { peer: peer.clone() }
                }
                LinkKind::Vlan { parent, vid } => NewLink::Vlan { parent: parent.clone(), vid: *vid },
            };
            v.push(step(Op::AddLink { name: name.clone(), kind }, i));
            if let Some(m) = mac {
                v.push(step(Op::SetMac { dev: name.clone(), mac: m.0.clone() }, i));
            }
            if let Some(mtu) = mtu {
                v.push(step(Op::SetMtu { dev: name.clone(), mtu: *mtu }, i));
            }
            for (a, len) in addrs {
                v.push(step(Op::AddAddr { dev: name.clone(), addr: a.0.clone(), len: *len }, i));
            }
            ups.push((name.clone(), i));
        }
    }
    v.extend(ups.into_iter().map(|(dev, i)| step(Op::Up { dev }, i)));
    for (i, d) in decls.iter().enumerate() {
        match &d.item {
            EnvItem::Route { prefix, via, dev, kind } => v.push(step(
                Op::AddRoute {
                    dst: prefix.0 .0.clone(),
                    len: prefix.1,
                    via: via.as_ref().map(|b| b.0.clone()),
                    dev: dev.clone(),
                    kind: match kind {
                        RouteKind::Unicast => RTN_UNICAST,
                        RouteKind::Blackhole => RTN_BLACKHOLE,
                        RouteKind::Unreachable => RTN_UNREACHABLE,
                        RouteKind::Prohibit => RTN_PROHIBIT,
                    },
                },
                i,
            )),
            EnvItem::Neigh { addr, mac, dev } => {
                v.push(step(Op::Neigh { addr: addr.0.clone(), mac: mac.0.clone(), dev: dev.clone() }, i))
            }
            EnvItem::Link { .. } => {}
        }
    }
    v
}

/// An address as `ip` writes it: dotted IPv4, or IPv6 in its canonical short form.
fn show_ip(a: &[u8]) -> String {
    match <[u8; 16]>::try_from(a) {
        Ok(v6) => std::net::Ipv6Addr::from(v6).to_string(),
        Err(_) => a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("."),
    }
}

fn colons(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

impl Op {
    /// The `ip` command that does the same, for messages.
    pub fn describe(&self) -> String {
        match self {
            Op::Up { dev } => format!("ip link set dev {dev} up"),
            Op::AddLink { name, kind: NewLink::Dummy } => format!("ip link add {name} type dummy"),
            Op::AddLink { name, kind: NewLink::Veth { peer } } => {
                format!("ip link add {name} type veth peer name {peer}")
            }
            Op::AddLink { name, kind: NewLink::Vlan { parent, vid } } => {
                format!("ip link add link {parent} name {name} type vlan id {vid}")
            }
            Op::SetMac { dev, mac } => format!("ip link set dev {dev} address {}", colons(mac)),
            Op::SetMtu { dev, mtu } => format!("ip link set dev {dev} mtu {mtu}"),
            Op::AttachXdp { dev, .. } => format!("ip link set dev {dev} xdpdrv (an XDP_PASS program)"),
            Op::AddAddr { dev, addr, len } => {
                let nodad = if addr.len() == 16 { " nodad" } else { "" };
                format!("ip addr add {}/{len} dev {dev}{nodad}", show_ip(addr))
            }
            Op::AddRoute { dst, len, via, dev, kind } => {
                // `ip` infers the family from the addresses.
                let p = format!("{}/{len}", show_ip(dst));
                match *kind {
                    RTN_BLACKHOLE => format!("ip route add blackhole {p}"),
                    RTN_UNREACHABLE => format!("ip route add unreachable {p}"),
                    RTN_PROHIBIT => format!("ip route add prohibit {p}"),
                    _ => {
                        let mut s = format!("ip route add {p}");
                        if let Some(v) = via {
                            s += &format!(" via {}", show_ip(v));
                        }
                        if let Some(d) = dev {
                            s += &format!(" dev {d}");
                        }
                        s
                    }
                }
            }
            Op::Neigh { addr, mac, dev } => {
                format!("ip neigh replace {} lladdr {} dev {dev} nud permanent", show_ip(addr), colons(mac))
            }
        }
    }
}

/// An operation the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The operation, as the `ip` command that does the same.
    pub step: String,
    /// The `env` line it comes from.
    pub decl: Option<usize>,
    pub os: OsError,
    /// Creating a link failed because the kernel has no driver for its type (EOPNOTSUPP).
    pub no_driver: bool,
}

/// Applies the steps in the calling thread's network namespace, stopping at the first the kernel
/// refuses.
pub fn apply(steps: &[Step]) -> Result<(), Failure> {
    let fail = |s: &Step, os: OsError| Failure {
        step: s.op.describe(),
        decl: s.decl,
        no_driver: matches!(s.op, Op::AddLink { .. }) && os.errno == libc::EOPNOTSUPP,
        os,
    };
    let sock = Socket::open().map_err(|e| Failure {
        step: "open a netlink socket".into(),
        decl: None,
        os: OsError::new("socket(AF_NETLINK)", &e),
        no_driver: false,
    })?;
    for s in steps {
        let msg = message(&s.op).map_err(|os| fail(s, os))?;
        sock.request(&msg).map_err(|e| fail(s, OsError::new("RTM_NEW*", &e)))?;
    }
    Ok(())
}

/// The ifindex of interface `name` in the calling thread's namespace.
pub fn index(name: &str) -> Result<u32, OsError> {
    let op = || format!("SIOCGIFINDEX {name}");
    // Any socket of the namespace answers the ioctl.
    let sock = rustix::net::socket(rustix::net::AddressFamily::INET, rustix::net::SocketType::DGRAM, None)
        .map_err(|e| OsError::new(op(), &e.into()))?;
    rustix::net::netdevice::name_to_index(&sock, name).map_err(|e| OsError::new(op(), &e.into()))
}

/// A netlink message under construction: header, fixed part, attributes (nested ones by start offset).
struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    fn new(kind: u16, flags: u16) -> Msg {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes());
        Msg { buf, nests: Vec::new() }
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self.pad();
        self
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.bytes(data)
    }

    fn attr_str(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(kind, &d)
    }

    fn begin(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    fn end(&mut self) -> &mut Self {
        let at = self.nests.pop().expect("balanced nests");
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// `struct ifinfomsg`.
fn ifinfo(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = libc::AF_UNSPEC as u8;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

fn message(op: &Op) -> Result<Vec<u8>, OsError> {
    let m = match op {
        Op::Up { dev } => {
            let mut m = Msg::new(RTM_NEWLINK, 0);
            m.bytes(&ifinfo(index(dev)?, IFF_UP, IFF_UP));
            m
        }
        Op::SetMac { dev, mac } => {
            let mut m = Msg::new(RTM_NEWLINK, 0);
            m.bytes(&ifinfo(index(dev)?, 0, 0)).attr(IFLA_ADDRESS, mac);
            m
        }
        Op::SetMtu { dev, mtu } => {
            let mut m = Msg::new(RTM_NEWLINK, 0);
            m.bytes(&ifinfo(index(dev)?, 0, 0)).attr(IFLA_MTU, &mtu.to_ne_bytes());
            m
        }
        Op::AttachXdp { dev, fd } => {
            let mut m = Msg::new(RTM_NEWLINK, 0);
            m.bytes(&ifinfo(index(dev)?, 0, 0))
                .begin(IFLA_XDP)
                .attr(IFLA_XDP_FD, &fd.to_ne_bytes())
                .attr(IFLA_XDP_FLAGS, &XDP_FLAGS_DRV_MODE.to_ne_bytes())
                .end();
            m
        }
        Op::AddLink { name, kind } => {
            let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
            m.bytes(&ifinfo(0, 0, 0)).attr_str(IFLA_IFNAME, name);
            if let NewLink::Vlan { parent, .. } = kind {
                m.attr(IFLA_LINK, &index(parent)?.to_ne_bytes());
            }
            m.begin(IFLA_LINKINFO);
            match kind {
                NewLink::Dummy => {
                    m.attr_str(IFLA_INFO_KIND, "dummy");
                }
                NewLink::Veth { peer } => {
                    m.attr_str(IFLA_INFO_KIND, "veth").begin(IFLA_INFO_DATA).begin(VETH_INFO_PEER);
                    m.bytes(&ifinfo(0, 0, 0)).attr_str(IFLA_IFNAME, peer).end().end();
                }
                NewLink::Vlan { vid, .. } => {
                    m.attr_str(IFLA_INFO_KIND, "vlan")
                        .begin(IFLA_INFO_DATA)
                        .attr(IFLA_VLAN_ID, &vid.to_ne_bytes())
                        .end();
                }
            }
            m.end();
            m
        }
        Op::AddAddr { dev, addr, len } => {
            let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
            let mut ifa = [0u8; 8];
            ifa[0] = family(addr);
            ifa[1] = *len;
            if addr.len() == 16 {
                ifa[2] = IFA_F_NODAD;
            }
            ifa[3] = RT_SCOPE_UNIVERSE;
            ifa[4..8].copy_from_slice(&index(dev)?.to_ne_bytes());
            m.bytes(&ifa).attr(IFA_LOCAL, addr).attr(IFA_ADDRESS, addr);
            m
        }
        Op::AddRoute { dst, len, via, dev, kind } => {
            let mut m = Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
            // Like `ip route add`: an IPv4 unicast route without a gateway is on-link; IPv6 routes are
            // always of universe scope.
            let v4 = dst.len() == 4;
            let scope = if v4 && *kind == RTN_UNICAST && via.is_none() { RT_SCOPE_LINK } else { RT_SCOPE_UNIVERSE };
            let rtm = [family(dst), *len, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, *kind, 0, 0, 0, 0];
            m.bytes(&rtm).attr(RTA_DST, dst);
            if let Some(v) = via {
                m.attr(RTA_GATEWAY, v);
            }
            if let Some(d) = dev {
                m.attr(RTA_OIF, &index(d)?.to_ne_bytes());
            }
            m
        }
        Op::Neigh { addr, mac, dev } => {
            let mut m = Msg::new(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE);
            let mut nd = [0u8; 12];
            nd[0] = family(addr);
            nd[4..8].copy_from_slice(&index(dev)?.to_ne_bytes());
            nd[8..10].copy_from_slice(&NUD_PERMANENT.to_ne_bytes());
            m.bytes(&nd).attr(NDA_DST, addr).attr(NDA_LLADDR, mac);
            m
        }
    };
    Ok(m.finish())
}

struct Socket {
    fd: OwnedFd,
}

impl Socket {
    fn open() -> io::Result<Socket> {
        use rustix::net::{socket_with, AddressFamily, SocketFlags, SocketType};
        // Protocol `None` is NETLINK_ROUTE (0).
        let fd = socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC, None)?;
        Ok(Socket { fd })
    }

    /// Sends one request and waits for its acknowledgement.
    fn request(&self, msg: &[u8]) -> io::Result<()> {
        rustix::net::send(&self.fd, msg, rustix::net::SendFlags::empty())?;
        let mut buf = vec![0u8; 8192];
        loop {
            let (n, _) = rustix::net::recv(&self.fd, &mut buf[..], rustix::net::RecvFlags::empty())?;
            let mut at = 0usize;
            while at + 16 <= n {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
                let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
                if kind == NLMSG_ERROR && at + 20 <= n {
                    let err = i32::from_ne_bytes(buf[at + 16..at + 20].try_into().expect("4 bytes"));
                    return if err == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(-err)) };
                }
                if len < 16 {
                    break;
                }
                at += len.div_ceil(4) * 4;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xdptest_compiler::fixture::Bytes;

    fn v6(a: &str) -> Vec<u8> {
        a.parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec()
    }

    fn decls(items: Vec<EnvItem>) -> Vec<EnvDecl> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| EnvDecl { item, location: format!("s.pkt:{}:3", i + 2) })
            .collect()
    }

    #[test]
    fn nested_attributes_have_their_lengths() {
        let op = Op::AddLink { name: "a".into(), kind: NewLink::Veth { peer: "b".into() } };
        let m = message(&op).unwrap();
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize, m.len());
        // header 16 + ifinfomsg 16 + IFNAME "a\0" (8), then LINKINFO spans the rest.
        let linkinfo = &m[40..];
        assert_eq!(u16::from_ne_bytes(linkinfo[0..2].try_into().unwrap()) as usize, linkinfo.len());
        assert_eq!(u16::from_ne_bytes(linkinfo[2..4].try_into().unwrap()), IFLA_LINKINFO | NLA_F_NESTED);
    }

    #[test]
    fn steps_order_links_before_routes_and_name_their_line() {
        let d = decls(vec![
            EnvItem::Route {
                prefix: (Bytes(vec![10, 1, 0, 0]), 16),
                via: Some(Bytes(vec![10, 0, 0, 2])),
                dev: None,
                kind: RouteKind::Unicast,
            },
            EnvItem::Link {
                name: "eth0".into(),
                kind: LinkKind::Dummy,
                mac: Some(Bytes(vec![0, 0, 0x5e, 0, 0x53, 1])),
                addrs: vec![(Bytes(vec![10, 0, 0, 1]), 24)],
                mtu: None,
            },
            EnvItem::Neigh { addr: Bytes(vec![10, 0, 0, 2]), mac: Bytes(vec![2, 0, 0, 0, 0, 2]), dev: "eth0".into() },
        ]);
        let text: Vec<(String, Option<usize>)> = ops(&d, true).iter().map(|s| (s.op.describe(), s.decl)).collect();
        assert_eq!(
            text,
            [
                ("ip link set dev lo up".to_string(), None),
                ("ip link add eth0 type dummy".into(), Some(1)),
                ("ip link set dev eth0 address 00:00:5e:00:53:01".into(), Some(1)),
                ("ip addr add 10.0.0.1/24 dev eth0".into(), Some(1)),
                ("ip link set dev eth0 up".into(), Some(1)),
                ("ip route add 10.1.0.0/16 via 10.0.0.2".into(), Some(0)),
                ("ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev eth0 nud permanent".into(), Some(2)),
            ]
        );
        assert!(ops(&d, false).iter().any(|s| s.op.describe() == "ip link add eth0 type veth peer name 1.xdptest"));
    }

    /// Oracle: iproute2 itself. The same stage built by our netlink messages and by `ip -batch` (the
    /// commands our steps describe) looks the same to `ip` (needs root). VLAN links are left out: not
    /// every host kernel has 8021q (the VM tests cover them where it exists).
    #[test]
    fn netlink_stage_matches_ip_batch() {
        use std::io::Write;
        let d = decls(vec![
            EnvItem::Link {
                name: "eth0".into(),
                kind: LinkKind::Veth { peer: "eth0p".into() },
                mac: Some(Bytes(vec![2, 0, 0, 0, 0, 1])),
                addrs: vec![(Bytes(vec![10, 0, 1, 1]), 24)],
                mtu: Some(1400),
            },
            EnvItem::Link {
                name: "d0".into(),
                kind: LinkKind::Dummy,
                mac: None,
                addrs: vec![(Bytes(vec![10, 0, 2, 1]), 24)],
                mtu: None,
            },
            EnvItem::Neigh { addr: Bytes(vec![10, 0, 2, 2]), mac: Bytes(vec![2, 0, 0, 0, 2, 2]), dev: "d0".into() },
            EnvItem::Route {
                prefix: (Bytes(vec![192, 0, 2, 0]), 24),
                via: Some(Bytes(vec![10, 0, 2, 2])),
                dev: None,
                kind: RouteKind::Unicast,
            },
            EnvItem::Route {
                prefix: (Bytes(vec![10, 9, 0, 0]), 16),
                via: None,
                dev: Some("d0".into()),
                kind: RouteKind::Unicast,
            },
            EnvItem::Route {
                prefix: (Bytes(vec![198, 51, 100, 0]), 24),
                via: None,
                dev: None,
                kind: RouteKind::Blackhole,
            },
            EnvItem::Route {
                prefix: (Bytes(vec![198, 51, 101, 0]), 24),
                via: None,
                dev: None,
                kind: RouteKind::Prohibit,
            },
            EnvItem::Link {
                name: "v6".into(),
                kind: LinkKind::Veth { peer: "v6p".into() },
                mac: Some(Bytes(vec![2, 0, 0, 0, 6, 1])),
                addrs: vec![(Bytes(v6("2001:db8:1::1")), 64), (Bytes(vec![10, 0, 6, 1]), 24)],
                mtu: None,
            },
            EnvItem::Neigh { addr: Bytes(v6("2001:db8:1::2")), mac: Bytes(vec![2, 0, 0, 0, 6, 2]), dev: "v6".into() },
            EnvItem::Route {
                prefix: (Bytes(v6("2001:db8:99::")), 48),
                via: Some(Bytes(v6("2001:db8:1::2"))),
                dev: None,
                kind: RouteKind::Unicast,
            },
            EnvItem::Route {
                prefix: (Bytes(v6("2001:db8:98::")), 48),
                via: None,
                dev: Some("v6".into()),
                kind: RouteKind::Unicast,
            },
            EnvItem::Route {
                prefix: (Bytes(v6("2001:db8:66::")), 48),
                via: None,
                dev: None,
                kind: RouteKind::Blackhole,
            },
        ]);
        // Some host kernels have no dummy driver: then both sides use the veth stand-in.
        let steps = ops(&d, crate::stage::dummy_supported());
        let script: String = steps.iter().map(|s| format!("{}\n", s.op.describe().trim_start_matches("ip "))).collect();
        let show = |with_ip: bool| {
            let (steps, script) = (&steps, &script);
            std::thread::scope(|s| {
                s.spawn(move || {
                    // Only this scoped thread moves to a new namespace, which dies with it.
                    crate::stage::unshare_net_here().expect("needs root");
                    if with_ip {
                        let mut child = std::process::Command::new("ip")
                            .args(["-batch", "-"])
                            .stdin(std::process::Stdio::piped())
                            .spawn()
                            .unwrap();
                        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
                        assert!(child.wait().unwrap().success(), "{script}");
                    } else {
                        apply(steps).unwrap();
                    }
                    let mut out = String::new();
                    for args in [
                        &["-d", "link"][..],
                        &["-4", "addr"],
                        &["-6", "addr"],
                        &["route"],
                        &["-6", "route"],
                        &["neigh"],
                    ] {
                        let o = std::process::Command::new("ip").args(args).output().unwrap();
                        out += &String::from_utf8_lossy(&o.stdout);
                    }
                    // Drop what differs between any two namespaces (random peer MACs, link timers).
                    out.lines()
                        .filter(|l| !l.contains("link/ether") || l.contains("02:00:00:00:00:01"))
                        // Link-local addresses derive from the random peer MACs (and lifetimes tick).
                        .filter(|l| !l.contains("fe80::") && !l.contains("valid_lft"))
                        // Carrier state settles asynchronously (linkwatch): not ours to compare.
                        .map(|l| {
                            l.replace("NO-CARRIER,", "").replace(" linkdown", "").replace("LOWERLAYERDOWN", "UNKNOWN")
                                + "\n"
                        })
                        .collect::<String>()
                })
                .join()
                .unwrap()
            })
        };
        let (ip, nl) = (show(true), show(false));
        assert!(ip.contains("192.0.2.0/24 via 10.0.2.2"), "{ip}");
        assert!(ip.contains("2001:db8:99::/48 via 2001:db8:1::2"), "{ip}");
        assert!(ip.contains("2001:db8:1::1/64 scope global nodad"), "{ip}");
        assert_eq!(ip, nl);
    }
}
