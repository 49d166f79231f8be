//! AF_XDP sockets behind XSKMAP entries. `map xsks[0] = xsk eth0` asks for a socket bound to queue 0
//! of `eth0` in the spec's network stage, in the XSKMAP at key 0, for the rest of the scenario: without
//! one, `bpf_redirect_map` into the XSKMAP falls back to its flags, so a program that steers to
//! user space could not even be seen returning `XDP_REDIRECT`. With one, a live run's frame lands in
//! the socket's receive ring, and [`Sockets::take`] says which entry's socket got it.
//!
//! Sockets are in copy mode (any device, veth included) and small: one UMEM of [`FRAMES`] frames per
//! device queue, shared by every socket on that queue (the kernel lets several sockets bind to one
//! queue only through a shared UMEM), each socket with its own receive ring. A frame read is handed
//! back to the fill ring at once, so a scenario may receive any number of frames.
//!
//! The sockets belong to the stage and live as long as it does, handed to one scenario at a time
//! (the stage's mutex): the kernel lets one UMEM own a device queue and frees it asynchronously after
//! its sockets close, so a socket closed by one scenario would make the next one's bind fail with
//! `EBUSY`. What a scenario sees is still its own: [`Sockets::begin`] forgets the previous scenario's
//! entries and frames, and the XSKMAP holds only the entries the scenario writes.

use std::alloc::Layout;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::ptr::NonNull;

use xdpilone::{DeviceQueue, IfInfo, RingRx, Socket, SocketConfig, Umem, UmemConfig, User};

use crate::error::OsError;

/// Frames per UMEM, and entries of every ring (a power of two).
const FRAMES: u32 = 16;
const FRAME_SIZE: u32 = 4096;

/// Page-aligned memory for one UMEM, freed on drop (after the sockets that use it: see `DeviceRx`).
struct Area {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Area {
    fn new() -> Area {
        let layout = Layout::from_size_align((FRAMES * FRAME_SIZE) as usize, 4096).expect("a valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Area { ptr, layout }
    }

    fn as_slice_ptr(&self) -> NonNull<[u8]> {
        NonNull::slice_from_raw_parts(self.ptr, self.layout.size())
    }

    /// The bytes of a received descriptor, if they lie inside the area.
    fn bytes(&self, addr: u64, len: u32) -> Option<Vec<u8>> {
        let (start, len) = (usize::try_from(addr).ok()?, len as usize);
        if start.checked_add(len)? > self.layout.size() {
            return None;
        }
        // SAFETY: the range is inside the allocation; the kernel wrote it before publishing the
        // descriptor, and does not touch the frame until it is handed back to the fill ring.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(start), len) }.to_vec())
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// One socket: its receive ring and what keeps it bound.
struct Receiver {
    rx: RingRx,
    _user: User,
    _socket: Socket,
}

/// The sockets of one device queue and their shared UMEM. Field order is drop order: the sockets
/// close before the UMEM, and the memory goes last.
struct DeviceRx {
    ifindex: u32,
    queue: u32,
    receivers: Vec<Receiver>,
    fill: DeviceQueue,
    umem: Umem,
    area: Area,
}

// SAFETY: the rings and the UMEM are used by the one thread that runs the scenario; `Umem` is not
// `Send` only because it holds a raw pointer to `area`, which moves with it.
unsafe impl Send for DeviceRx {}

/// Where a received frame arrived: the device queue and the socket on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SocketId {
    device: usize,
    receiver: usize,
}

/// A frame an AF_XDP socket received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The XSKMAP entries (map, key) that hold the socket it arrived on.
    pub holders: Vec<(String, Vec<u8>)>,
    pub bytes: Vec<u8>,
}

/// A stage's AF_XDP sockets, and the XSKMAP entry each one is in for the current scenario.
#[derive(Default)]
pub struct Sockets {
    devices: Vec<DeviceRx>,
    /// (map, key) → socket, in the current scenario.
    entries: HashMap<(String, Vec<u8>), SocketId>,
    /// Sockets of each device queue handed out in the current scenario: the next entry written on that
    /// queue gets the next socket (a new one past the end).
    used: HashMap<usize, usize>,
}

fn os(op: &str, e: xdpilone::Errno) -> OsError {
    OsError::errno(op, e.get_raw().abs())
}

impl std::fmt::Debug for Sockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queues: Vec<_> = self.devices.iter().map(|d| (d.ifindex, d.queue, d.receivers.len())).collect();
        f.debug_struct("Sockets").field("queues (ifindex, queue, sockets)", &queues).finish()
    }
}

impl Sockets {
    /// A new socket bound to `queue` of `ifindex` (in the calling thread's network namespace), for the
    /// entry `key` of XSKMAP `map`; returns its file descriptor, the value to write there.
    pub fn open(&mut self, map: &str, key: &[u8], ifindex: u32, queue: u32) -> Result<i32, OsError> {
        let known = self.devices.iter().position(|d| d.ifindex == ifindex && d.queue == queue);
        if let Some(d) = known {
            let next = *self.used.get(&d).unwrap_or(&0);
            if next < self.devices[d].receivers.len() {
                return Ok(self.hand_out(map, key, d, next));
            }
        }
        let mut info = IfInfo::invalid();
        info.from_ifindex(ifindex).map_err(|e| os("if_indextoname", e))?;
        info.set_queue(queue);
        let rx_config = |bind_flags| SocketConfig { rx_size: NonZeroU32::new(FRAMES), tx_size: None, bind_flags };
        let device = match known {
            Some(d) => {
                // Another socket on a queue that has a UMEM: it shares that UMEM (and its fill ring).
                let dev = &mut self.devices[d];
                let socket = Socket::new(&info).map_err(|e| os("socket(AF_XDP)", e))?;
                let user = dev.umem.rx_tx(&socket, &rx_config(0)).map_err(|e| os("setsockopt(XDP_RX_RING)", e))?;
                let rx = user.map_rx().map_err(|e| os("mmap(XDP_PGOFF_RX_RING)", e))?;
                dev.fill.bind(&user).map_err(|e| os("bind(AF_XDP, XDP_SHARED_UMEM)", e))?;
                dev.receivers.push(Receiver { rx, _user: user, _socket: socket });
                d
            }
            None => {
                let area = Area::new();
                let config = UmemConfig {
                    fill_size: FRAMES,
                    complete_size: FRAMES,
                    frame_size: FRAME_SIZE,
                    headroom: 0,
                    flags: 0,
                };
                // SAFETY: the area is page aligned, as large as said, and outlives the UMEM (field
                // order of `DeviceRx`).
                let umem = unsafe { Umem::new(config, area.as_slice_ptr()) }.map_err(|e| os("XDP_UMEM_REG", e))?;
                let socket = Socket::with_shared(&info, &umem).map_err(|e| os("socket(AF_XDP)", e))?;
                let mut fill = umem.fq_cq(&socket).map_err(|e| os("setsockopt(XDP_UMEM_FILL_RING)", e))?;
                let user = umem
                    .rx_tx(&socket, &rx_config(SocketConfig::XDP_BIND_COPY))
                    .map_err(|e| os("setsockopt(XDP_RX_RING)", e))?;
                let rx = user.map_rx().map_err(|e| os("mmap(XDP_PGOFF_RX_RING)", e))?;
                umem.bind(&user).map_err(|e| os("bind(AF_XDP)", e))?;
                {
                    let mut w = fill.fill(FRAMES);
                    w.insert((0..FRAMES).map(|i| u64::from(i * FRAME_SIZE)));
                    w.commit();
                }
                self.devices.push(DeviceRx {
                    ifindex,
                    queue,
                    receivers: vec![Receiver { rx, _user: user, _socket: socket }],
                    fill,
                    umem,
                    area,
                });
                self.devices.len() - 1
            }
        };
        let receiver = self.devices[device].receivers.len() - 1;
        Ok(self.hand_out(map, key, device, receiver))
    }

    /// Gives socket `receiver` of device queue `device` to the entry (map, key); its descriptor.
    fn hand_out(&mut self, map: &str, key: &[u8], device: usize, receiver: usize) -> i32 {
        self.used.insert(device, receiver + 1);
        self.entries.insert((map.to_string(), key.to_vec()), SocketId { device, receiver });
        self.devices[device].receivers[receiver].rx.as_raw_fd()
    }

    /// Starts a scenario: no socket is in an entry yet, and frames left in the rings are dropped.
    pub fn begin(&mut self) {
        self.entries.clear();
        self.used.clear();
        self.take();
    }

    /// Every frame the sockets received since the last call. Frames go back to their fill ring.
    pub fn take(&mut self) -> Vec<Received> {
        let mut out = Vec::new();
        for (d, dev) in self.devices.iter_mut().enumerate() {
            let mut freed = Vec::new();
            for (r, recv) in dev.receivers.iter_mut().enumerate() {
                let mut read = recv.rx.receive(FRAMES);
                while let Some(desc) = read.read() {
                    let bytes = dev.area.bytes(desc.addr, desc.len).unwrap_or_default();
                    let id = SocketId { device: d, receiver: r };
                    let mut holders: Vec<(String, Vec<u8>)> =
                        self.entries.iter().filter(|(_, s)| **s == id).map(|(k, _)| k.clone()).collect();
                    holders.sort();
                    out.push(Received { holders, bytes });
                    // The frame's chunk: its address less the offset inside the chunk.
                    freed.push(desc.addr - desc.addr % u64::from(FRAME_SIZE));
                }
                read.release();
            }
            let mut w = dev.fill.fill(freed.len() as u32);
            w.insert(freed.into_iter());
            w.commit();
        }
        out
    }
}
