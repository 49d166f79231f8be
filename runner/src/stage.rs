//! The network stage of a spec: a throwaway network namespace with the interfaces, addresses, routes and
//! neighbours its `env` block declares, configured with rtnetlink messages of our own ([`netlink`]; the
//! same code runs on the host and in a VM guest, where there is no iproute2). Built by a short-lived
//! thread that unshares into a new namespace; the namespace lives exactly as long as the [`Stage`]'s
//! file descriptor, so nothing leaks even if xdptest is killed. The host's own interfaces are never
//! touched.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::OwnedFd;

use xdptest_compiler::fixture::{EnvDecl, LinkKind};

use crate::error::{OsError, RunError, SkipReason};
use crate::netlink;

/// A built namespace and the ifindex of each declared interface in it (veth peers included).
#[derive(Debug)]
pub struct Stage {
    netns: OwnedFd,
    pub ifindex: HashMap<String, u32>,
    /// Veth pairs, (name, peer).
    pub peers: Vec<(String, String)>,
    /// Whether both ends of every veth pair have an XDP program, so that frames redirected into one
    /// end are received by the other (veth hands redirected frames only to a peer running XDP).
    receivers: std::sync::Mutex<bool>,
    /// The stage's AF_XDP sockets, held by one scenario at a time (see [`crate::xsk`]).
    xsk: std::sync::Mutex<crate::xsk::Sockets>,
}

/// Why a stage cannot be built: an error, or a link type this kernel has no driver for (a skip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageError {
    Error(RunError),
    Skip(SkipReason),
}

impl Stage {
    /// Builds the stage. Errors say which `env` line failed and why.
    pub fn build(decls: &[EnvDecl]) -> Result<Stage, StageError> {
        let needs_dummy = decls
            .iter()
            .any(|d| matches!(&d.item, xdptest_compiler::fixture::EnvItem::Link { kind: LinkKind::Dummy, .. }));
        let dummy_driver = !needs_dummy || dummy_supported();
        let ops = netlink::ops(decls, dummy_driver);
        let peers: Vec<(String, String)> = decls
            .iter()
            .filter_map(|d| match &d.item {
                xdptest_compiler::fixture::EnvItem::Link { name, kind: LinkKind::Veth { peer }, .. } => {
                    Some((name.clone(), peer.clone()))
                }
                _ => None,
            })
            .collect();
        let names: Vec<String> = decls
            .iter()
            .filter_map(|d| match &d.item {
                xdptest_compiler::fixture::EnvItem::Link { name, .. } => Some(name.clone()),
                _ => None,
            })
            .chain(peers.iter().map(|(_, p)| p.clone()))
            .collect();
        let locations: Vec<String> = decls.iter().map(|d| d.location.clone()).collect();
        let ipv6 = netlink::has_ipv6(decls);
        std::thread::spawn(move || -> Result<Stage, StageError> {
            let netns = unshare_net()?;
            if let Err(f) = netlink::apply(&ops) {
                let location = f.decl.and_then(|i| locations.get(i).cloned());
                return Err(if f.no_driver {
                    StageError::Skip(SkipReason::NoLinkDriver { step: f.step, location, os: f.os })
                } else if RunError::is_denied(&f.os) {
                    StageError::Error(RunError::permission_for(f.os, STAGE_CAPS))
                } else {
                    StageError::Error(RunError::Stage { step: f.step, location, os: f.os })
                });
            }
            // A router stage forwards: bpf_fib_lookup reports "forwarding disabled" otherwise.
            let mut sysctls = vec!["/proc/sys/net/ipv4/conf/all/forwarding", "/proc/sys/net/ipv4/ip_forward"];
            if ipv6 {
                sysctls.push("/proc/sys/net/ipv6/conf/all/forwarding");
            }
            for path in sysctls {
                std::fs::write(path, "1").map_err(|e| {
                    StageError::Error(RunError::Stage {
                        step: format!("write 1 to {path}"),
                        location: None,
                        os: OsError::new(format!("write {path}"), &e),
                    })
                })?;
            }
            let mut ifindex = HashMap::new();
            for n in &names {
                let idx = netlink::index(n).map_err(|os| {
                    StageError::Error(RunError::Stage { step: format!("find interface {n}"), location: None, os })
                })?;
                ifindex.insert(n.clone(), idx);
            }
            Ok(Stage {
                netns,
                ifindex,
                peers,
                receivers: std::sync::Mutex::new(false),
                xsk: std::sync::Mutex::new(crate::xsk::Sockets::default()),
            })
        })
        .join()
        .unwrap_or_else(|_| {
            Err(StageError::Error(RunError::Stage {
                step: "build the stage".into(),
                location: None,
                os: OsError::errno("the stage builder thread panicked", 0),
            }))
        })
    }

    /// Gives every veth end an XDP program that passes everything, once: a frame redirected out of one
    /// end then arrives, unchanged, at the other. The calling thread must be in the stage.
    pub fn make_receivers(&self) -> Result<(), OsError> {
        use std::os::fd::AsRawFd;
        let mut done = self.receivers.lock().unwrap_or_else(|e| e.into_inner());
        if *done {
            return Ok(());
        }
        let pass = crate::sys::xdp_pass_program()?;
        let ops: Vec<netlink::Step> = self
            .peers
            .iter()
            .flat_map(|(a, b)| [a, b])
            .map(|dev| netlink::Step {
                op: netlink::Op::AttachXdp { dev: dev.clone(), fd: pass.as_raw_fd() },
                decl: None,
            })
            .collect();
        netlink::apply(&ops).map_err(|f| f.os)?;
        *done = true;
        Ok(())
    }

    /// The stage's AF_XDP sockets, once no other scenario has them, started afresh for the caller's
    /// scenario; its turn lasts as long as the guard.
    pub fn xsk_sockets(&self) -> std::sync::MutexGuard<'_, crate::xsk::Sockets> {
        let mut sockets = self.xsk.lock().unwrap_or_else(|e| e.into_inner());
        sockets.begin();
        sockets
    }

    /// Moves the calling thread into this stage's namespace.
    pub fn enter(&self) -> Result<(), OsError> {
        setns(&self.netns)
    }
}

/// What building an `env` stage takes: a network namespace (CAP_SYS_ADMIN) and its links.
const STAGE_CAPS: &[&str] = &["CAP_SYS_ADMIN", "CAP_NET_ADMIN"];

/// Moves the calling thread into a new network namespace; returns it.
fn unshare_net() -> Result<OwnedFd, StageError> {
    if let Err(e) = unshare_net_here() {
        let os = OsError::new("unshare(CLONE_NEWNET)", &e.into());
        return Err(StageError::Error(if RunError::is_denied(&os) {
            RunError::permission_for(os, STAGE_CAPS)
        } else {
            RunError::Stage { step: "create a network namespace".into(), location: None, os }
        }));
    }
    current_netns().map_err(|os| {
        StageError::Error(RunError::Stage { step: "open the new network namespace".into(), location: None, os })
    })
}

/// The calling thread's current network namespace, to come back to.
pub fn current_netns() -> Result<OwnedFd, OsError> {
    File::open("/proc/thread-self/ns/net")
        .map(OwnedFd::from)
        .map_err(|e| OsError::new("open /proc/thread-self/ns/net", &e))
}

pub fn setns(fd: &OwnedFd) -> Result<(), OsError> {
    use std::os::fd::AsFd;
    rustix::thread::move_into_link_name_space(fd.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
        .map_err(|e| OsError::new("setns(CLONE_NEWNET)", &e.into()))
}

/// Moves the calling thread (only) into a new network namespace.
pub(crate) fn unshare_net_here() -> rustix::io::Result<()> {
    // SAFETY: unsharing the network namespace changes only the calling thread's view of the network;
    // no memory or file descriptors are affected, which is what `unshare_unsafe` warns about.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
}

/// Whether this kernel can create dummy interfaces (some minimal kernels lack the driver). Probed once,
/// in a namespace of its own.
pub(crate) fn dummy_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        std::thread::spawn(move || {
            // Only this short-lived thread moves to a new namespace, which dies with it.
            let unshared = unshare_net_here().is_ok();
            let op = netlink::Op::AddLink { name: "xdptest0".into(), kind: netlink::NewLink::Dummy };
            unshared && netlink::apply(&[netlink::Step { op, decl: None }]).is_ok()
        })
        .join()
        .unwrap_or(false)
    })
}
