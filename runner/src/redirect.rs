//! Where an `XDP_REDIRECT` goes. A plain test run only returns the action: the frame is really sent
//! only with `BPF_F_TEST_XDP_LIVE_FRAMES`, which returns no data and runs the program again (so it runs
//! on a copy of the map state, see the caller). The frame is then observed where it lands, inside the
//! spec's network namespace: packet sockets bound to every interface, one per CPU in a
//! `PACKET_FANOUT_CPU` group, so that a frame tells both the interface it arrived on and the CPU that
//! handled it.
//!
//! - A frame redirected out of a veth arrives on its peer: "arrived on eth1p" means "sent out of
//!   eth1".
//! - A frame redirected to a CPU (CPUMAP) is handed to the stack on that CPU as if it had arrived on
//!   the ingress interface: the fanout socket that receives it says which CPU.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::OsError;

/// How long a redirected frame may take to arrive (a CPUMAP hands it to a kernel thread).
const WAIT: Duration = Duration::from_millis(500);
const PACKET_FANOUT: libc::c_int = 18;
const PACKET_FANOUT_CPU: u32 = 2;
const PACKET_OUTGOING: u8 = 4;

/// Where a frame was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub ifindex: u32,
    pub cpu: usize,
}

/// Packet sockets on every interface of the current network namespace, one per CPU.
pub struct Capture {
    sockets: Vec<OwnedFd>,
}

impl Capture {
    /// Opens the capture in the calling thread's network namespace.
    pub fn open(ncpus: usize) -> Result<Capture, OsError> {
        // A fanout group id unique to this capture (the group lives while its sockets do).
        let group = (std::process::id() ^ (Instant::now().elapsed().as_nanos() as u32) ^ ncpus as u32) & 0xffff;
        let group = group as u16 ^ (next_group() as u16);
        let mut sockets = Vec::with_capacity(ncpus);
        for _ in 0..ncpus {
            let proto = (libc::ETH_P_ALL as u16).to_be();
            // SAFETY: plain socket creation; the descriptor is owned right after.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    i32::from(proto),
                )
            };
            if fd < 0 {
                return Err(OsError::new("socket(AF_PACKET)", &std::io::Error::last_os_error()));
            }
            // SAFETY: a descriptor the kernel just returned.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: `sockaddr_ll` is plain data; zeroed it binds to every interface.
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = proto;
            // SAFETY: `addr` is a valid sockaddr_ll of the size passed.
            let r = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            if r < 0 {
                return Err(OsError::new("bind(AF_PACKET)", &std::io::Error::last_os_error()));
            }
            let arg: u32 = u32::from(group) | (PACKET_FANOUT_CPU << 16);
            // SAFETY: PACKET_FANOUT takes one u32.
            let r = unsafe {
                libc::setsockopt(fd.as_raw_fd(), libc::SOL_PACKET, PACKET_FANOUT, &arg as *const u32 as *const _, 4)
            };
            if r < 0 {
                return Err(OsError::new("setsockopt(PACKET_FANOUT)", &std::io::Error::last_os_error()));
            }
            sockets.push(fd);
        }
        let mut c = Capture { sockets };
        // Frames that were on their way before the run are not the run's.
        let _ = c.read_all();
        Ok(c)
    }

    /// Every frame received so far: (socket index, i.e. CPU, ifindex, bytes).
    fn read_all(&mut self) -> Vec<(usize, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        for (i, s) in self.sockets.iter().enumerate() {
            loop {
                // SAFETY: as in `open`.
                let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                // SAFETY: `buf` and `from` are valid for the sizes given.
                let n = unsafe {
                    libc::recvfrom(
                        s.as_raw_fd(),
                        buf.as_mut_ptr() as *mut _,
                        buf.len(),
                        0,
                        &mut from as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                        &mut len,
                    )
                };
                if n <= 0 {
                    break;
                }
                if from.sll_pkttype != PACKET_OUTGOING {
                    out.push((i, from.sll_ifindex as u32, buf[..n as usize].to_vec()));
                }
            }
        }
        out
    }

    /// Waits for `frame` to arrive; where it did, or `None` after the wait.
    pub fn wait_for(&mut self, frame: &[u8]) -> Option<Arrival> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some((cpu, ifindex, _)) = self.read_all().into_iter().find(|(_, _, b)| b == frame) {
                return Some(Arrival { ifindex, cpu });
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Fanout group ids of this process, so that two captures never share one.
fn next_group() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Interface names by the ifindex a frame sent out of them arrives on: a veth's peer stands for the
/// veth (and the other way round).
pub fn senders(ifindex: &HashMap<String, u32>, peers: &[(String, String)]) -> HashMap<u32, String> {
    let mut out: HashMap<u32, String> = ifindex.iter().map(|(n, i)| (*i, n.clone())).collect();
    for (a, b) in peers {
        if let (Some(ia), Some(ib)) = (ifindex.get(a), ifindex.get(b)) {
            out.insert(*ib, a.clone());
            out.insert(*ia, b.clone());
        }
    }
    out
}
