//! The network stage of a spec: a throwaway network namespace with the interfaces, addresses, routes and
//! neighbours its `env` block declares. Built by a short-lived thread that unshares into a new namespace
//! and configures it with iproute2's `ip -batch`; the namespace lives exactly as long as the
//! [`Stage`]'s file descriptor, so nothing leaks even if xdptest is killed. The host's own interfaces are
//! never touched.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};

use xdptest_compiler::fixture::{EnvItem, LinkKind, RouteKind};

use crate::netlink;

/// A built namespace and the ifindex of each declared interface in it.
#[derive(Debug)]
pub struct Stage {
    netns: OwnedFd,
    pub ifindex: HashMap<String, u32>,
    /// Interfaces in declaration order (map values that name interfaces refer to this order).
    pub order: Vec<String>,
}

impl Stage {
    /// Builds the stage. Errors say which declaration failed and why.
    pub fn build(items: &[EnvItem]) -> Result<Stage, String> {
        Stage::build_with(items, Backend::detect())
    }

    /// Builds the stage with `ip -batch` or with netlink messages of our own.
    pub fn build_with(items: &[EnvItem], backend: Backend) -> Result<Stage, String> {
        let needs_dummy = items.iter().any(|i| matches!(i, EnvItem::Link { kind: LinkKind::Dummy, .. }));
        let dummy_driver = !needs_dummy || dummy_supported(backend);
        let script = batch_script(items, dummy_driver);
        let ops = netlink::ops(items, dummy_driver);
        let order: Vec<String> = items
            .iter()
            .filter_map(|i| if let EnvItem::Link { name, .. } = i { Some(name.clone()) } else { None })
            .collect();
        let names = order.clone();
        std::thread::spawn(move || -> Result<Stage, String> {
            // SAFETY: unshare only changes this (short-lived) thread's network namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                let e = io::Error::last_os_error();
                return Err(format!(
                    "cannot create a network namespace: {e} (xdptest run needs root or CAP_SYS_ADMIN for `env`)"
                ));
            }
            let netns: OwnedFd = File::open("/proc/thread-self/ns/net")
                .map_err(|e| format!("cannot open the new namespace: {e}"))?
                .into();
            configure(backend, &script, &ops)?;
            // A router stage forwards: bpf_fib_lookup reports "forwarding disabled" otherwise.
            for path in ["/proc/sys/net/ipv4/conf/all/forwarding", "/proc/sys/net/ipv4/ip_forward"] {
                std::fs::write(path, "1").map_err(|e| format!("cannot enable forwarding ({path}): {e}"))?;
            }
            let mut ifindex = HashMap::new();
            for n in &names {
                let c = std::ffi::CString::new(n.as_str()).map_err(|_| format!("bad interface name {n:?}"))?;
                // SAFETY: a valid NUL-terminated string; the lookup happens in this thread's namespace.
                let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
                if idx == 0 {
                    return Err(format!("interface {n} was not created"));
                }
                ifindex.insert(n.clone(), idx);
            }
            Ok(Stage { netns, ifindex, order: names })
        })
        .join()
        .map_err(|_| "the stage builder thread panicked".to_string())?
        .map(|mut s| {
            s.order = order;
            s
        })
    }

    /// Moves the calling thread into this stage's namespace.
    pub fn enter(&self) -> io::Result<()> {
        setns(&self.netns)
    }
}

/// The calling thread's current network namespace, to come back to.
pub fn current_netns() -> io::Result<OwnedFd> {
    Ok(File::open("/proc/thread-self/ns/net")?.into())
}

pub fn setns(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: `fd` is an open namespace file descriptor; setns affects only the calling thread.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn ip4(b: &[u8]) -> String {
    b.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(".")
}

fn mac(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

/// How a stage is configured: iproute2's `ip -batch`, or netlink messages of our own (where there is no
/// `ip`, as in a VM guest; `XDPTEST_STAGE_NETLINK=1` forces it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Ip,
    Netlink,
}

impl Backend {
    pub fn detect() -> Backend {
        let forced = std::env::var_os("XDPTEST_STAGE_NETLINK").is_some_and(|v| v == "1");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let has_ip = std::env::split_paths(&path).any(|d| d.join("ip").is_file());
        if forced || !has_ip {
            Backend::Netlink
        } else {
            Backend::Ip
        }
    }
}

fn configure(backend: Backend, script: &str, ops: &[netlink::Op]) -> Result<(), String> {
    match backend {
        Backend::Ip => run_ip_batch(script),
        Backend::Netlink => netlink::apply(ops, &script.lines().collect::<Vec<_>>()),
    }
}

/// Whether this kernel can create dummy interfaces (some minimal kernels lack the driver). Probed once,
/// in a namespace of its own.
fn dummy_supported(backend: Backend) -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        std::thread::spawn(move || {
            // SAFETY: only this short-lived thread moves to a new namespace, which dies with it.
            let unshared = unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0;
            let op = netlink::Op::AddLink { name: "xdptest0".into(), kind: netlink::NewLink::Dummy };
            unshared && configure(backend, "link add xdptest0 type dummy\n", &[op]).is_ok()
        })
        .join()
        .unwrap_or(false)
    })
}

/// The `ip -batch` commands for a stage, one per line. Without a dummy driver, a `dummy` link is one end
/// of a veth pair whose other end (`<index>.xdptest`) is left unused.
pub fn batch_script(items: &[EnvItem], dummy_driver: bool) -> String {
    let mut s = String::from("link set dev lo up\n");
    let mut ups = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let EnvItem::Link { name, kind, mac: m, addrs, mtu } = item {
            match kind {
                LinkKind::Dummy if dummy_driver => s += &format!("link add {name} type dummy\n"),
                LinkKind::Dummy => s += &format!("link add {name} type veth peer name {i}.xdptest\n"),
                LinkKind::Veth { peer } => {
                    s += &format!("link add {name} type veth peer name {peer}\n");
                    ups.push(peer.clone());
                }
                LinkKind::Vlan { parent, vid } => {
                    s += &format!("link add link {parent} name {name} type vlan id {vid}\n")
                }
            }
            if let Some(m) = m {
                s += &format!("link set dev {name} address {}\n", mac(&m.0));
            }
            if let Some(mtu) = mtu {
                s += &format!("link set dev {name} mtu {mtu}\n");
            }
            for (a, len) in addrs {
                s += &format!("addr add {}/{len} dev {name}\n", ip4(&a.0));
            }
            ups.push(name.clone());
        }
    }
    for n in ups {
        s += &format!("link set dev {n} up\n");
    }
    for item in items {
        match item {
            EnvItem::Route { prefix, via, dev, kind } => {
                let p = format!("{}/{}", ip4(&prefix.0 .0), prefix.1);
                match kind {
                    RouteKind::Unicast => {
                        s += &format!("route add {p}");
                        if let Some(v) = via {
                            s += &format!(" via {}", ip4(&v.0));
                        }
                        if let Some(d) = dev {
                            s += &format!(" dev {d}");
                        }
                        s += "\n";
                    }
                    RouteKind::Blackhole => s += &format!("route add blackhole {p}\n"),
                    RouteKind::Unreachable => s += &format!("route add unreachable {p}\n"),
                    RouteKind::Prohibit => s += &format!("route add prohibit {p}\n"),
                }
            }
            EnvItem::Neigh { addr, mac: m, dev } => {
                s += &format!("neigh replace {} lladdr {} dev {dev} nud permanent\n", ip4(&addr.0), mac(&m.0));
            }
            EnvItem::Link { .. } => {}
        }
    }
    s
}

/// Whether a stage error says the kernel has no driver for a link type (`ip`: "Unknown device type";
/// netlink: EOPNOTSUPP), which makes the scenario a skip rather than an error.
pub fn lacks_driver(error: &str) -> bool {
    error.contains("Unknown device type") || error.contains(netlink::NO_DRIVER)
}

fn run_ip_batch(script: &str) -> Result<(), String> {
    let mut child = Command::new("ip")
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `ip` (install iproute2): {e}"))?;
    child.stdin.take().expect("piped").write_all(script.as_bytes()).map_err(|e| format!("writing to `ip`: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("waiting for `ip`: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    // `ip -batch` says "Command failed -:N": show that line of the script.
    let line = err
        .split("Command failed -:")
        .nth(1)
        .and_then(|rest| rest.trim().parse::<usize>().ok())
        .and_then(|n| script.lines().nth(n - 1));
    Err(match line {
        Some(l) => {
            format!("setting up the network stage failed at `ip {l}`: {}", err.lines().next().unwrap_or("").trim())
        }
        None => format!("setting up the network stage failed: {}", err.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xdptest_compiler::fixture::Bytes;

    #[test]
    fn script_orders_links_before_routes() {
        let items = vec![
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
        ];
        assert_eq!(
            batch_script(&items, true),
            "link set dev lo up\nlink add eth0 type dummy\nlink set dev eth0 address 00:00:5e:00:53:01\naddr add 10.0.0.1/24 dev eth0\n\
             link set dev eth0 up\nroute add 10.1.0.0/16 via 10.0.0.2\nneigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev eth0 nud permanent\n"
        );
        assert!(batch_script(&items, false).contains("link add eth0 type veth peer name 1.xdptest\n"));
    }
}
