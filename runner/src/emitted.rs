//! Records a program emits through `BPF_MAP_TYPE_PERF_EVENT_ARRAY` (`bpf_perf_event_output`) and
//! `BPF_MAP_TYPE_RINGBUF` (`bpf_ringbuf_output`/`_submit`), collected after every run.
//!
//! A perf event array needs a reader per CPU: one `PERF_COUNT_SW_BPF_OUTPUT` event is opened on each,
//! its ring mmapped, and its descriptor written into the map at that CPU's index, as libbpf's
//! perf_buffer does. A ring buffer is mmapped directly (its consumer page writable, its producer page and
//! data read-only, the data mapped twice so records never wrap). Test runs execute on the calling
//! thread's CPU, so after each run every ring is drained and its records are what that run emitted.
//!
//! Perf samples are padded by the kernel to 8-byte alignment (the raw size includes the padding): their
//! bytes may exceed what the program wrote by up to 7. Ring buffer records have their exact length.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, Ordering};

use crate::error::OsError;

/// One record, with the map it came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub map: String,
    pub bytes: Vec<u8>,
}

struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(fd: RawFd, len: usize, prot: i32, offset: i64) -> Result<Mapping, OsError> {
        // SAFETY: a fresh shared mapping of `fd`, unmapped in `drop`; nothing else aliases it mutably.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, offset) };
        if ptr == libc::MAP_FAILED {
            return Err(OsError::new("mmap", &std::io::Error::last_os_error()));
        }
        Ok(Mapping { ptr: ptr as *mut u8, len })
    }

    fn u64_at(&self, at: usize) -> u64 {
        // SAFETY: `at` is inside the mapping (callers pass header offsets); the kernel updates it
        // concurrently, so it is read as one volatile load.
        unsafe { std::ptr::read_volatile(self.ptr.add(at) as *const u64) }
    }

    fn set_u64(&self, at: usize, v: u64) {
        // SAFETY: as in `u64_at`; this word is ours to write (a consumer position or data tail).
        unsafe { std::ptr::write_volatile(self.ptr.add(at) as *mut u64, v) }
    }

    fn bytes(&self, at: usize, len: usize) -> &[u8] {
        // SAFETY: callers keep `at + len` inside the mapping.
        unsafe { std::slice::from_raw_parts(self.ptr.add(at), len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, not used after this.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

// SAFETY: the mappings are only touched through `&mut Sources` (one thread at a time).
unsafe impl Send for Mapping {}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// The reader of one CPU of a perf event array.
struct PerfRing {
    map: String,
    _event: OwnedFd,
    mapping: Mapping,
    /// Size of the data area (after the first page).
    data_size: usize,
}

/// A ring buffer's consumer.
struct RingBuf {
    map: String,
    consumer: Mapping,
    producer: Mapping,
    mask: u64,
}

/// Every event source of one loaded object.
#[derive(Default)]
pub struct Sources {
    perf: Vec<PerfRing>,
    rings: Vec<RingBuf>,
    /// Records lost because a perf ring was full (PERF_RECORD_LOST).
    pub lost: u64,
}

/// Data pages per CPU for perf rings (a power of two).
const PERF_PAGES: usize = 8;
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
const PERF_SAMPLE_RAW: u64 = 1 << 10;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_RECORD_LOST: u32 = 2;
const PERF_RECORD_SAMPLE: u32 = 9;
/// `struct perf_event_mmap_page`: data_head, data_tail.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;
const RINGBUF_BUSY: u32 = 1 << 31;
const RINGBUF_DISCARD: u32 = 1 << 30;

/// `struct perf_event_attr`, as far as a BPF output event needs it (PERF_ATTR_SIZE_VER0 is 64).
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

impl Sources {
    /// Opens a reader per CPU for perf event array `fd` and writes their descriptors into it.
    pub fn add_perf_array(&mut self, map: &str, fd: RawFd, ncpus: usize) -> Result<(), OsError> {
        let page = page_size();
        for cpu in 0..ncpus {
            let attr = PerfEventAttr {
                kind: PERF_TYPE_SOFTWARE,
                size: std::mem::size_of::<PerfEventAttr>() as u32,
                config: PERF_COUNT_SW_BPF_OUTPUT,
                sample_period: 1,
                sample_type: PERF_SAMPLE_RAW,
                wakeup_events: 1,
                ..Default::default()
            };
            // SAFETY: `attr` is a valid perf_event_attr prefix of the size it declares.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_perf_event_open,
                    &attr as *const PerfEventAttr,
                    -1,
                    cpu as i32,
                    -1,
                    PERF_FLAG_FD_CLOEXEC,
                )
            };
            if r < 0 {
                return Err(OsError::new(format!("perf_event_open (CPU {cpu})"), &std::io::Error::last_os_error()));
            }
            // SAFETY: a descriptor the kernel just returned.
            let event = unsafe { OwnedFd::from_raw_fd(r as RawFd) };
            let mapping =
                Mapping::new(event.as_raw_fd(), page * (1 + PERF_PAGES), libc::PROT_READ | libc::PROT_WRITE, 0)?;
            // SAFETY: an ioctl without an argument on our own event.
            if unsafe { libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, 0) } < 0 {
                return Err(OsError::new("PERF_EVENT_IOC_ENABLE", &std::io::Error::last_os_error()));
            }
            crate::sys::update(fd, &(cpu as u32).to_ne_bytes(), &(event.as_raw_fd() as u32).to_ne_bytes())?;
            self.perf.push(PerfRing { map: map.to_string(), _event: event, mapping, data_size: page * PERF_PAGES });
        }
        Ok(())
    }

    /// Maps ring buffer `fd` (of `size` data bytes) for reading.
    pub fn add_ringbuf(&mut self, map: &str, fd: RawFd, size: usize) -> Result<(), OsError> {
        let page = page_size();
        let consumer = Mapping::new(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = Mapping::new(fd, page + 2 * size, libc::PROT_READ, page as i64)?;
        self.rings.push(RingBuf { map: map.to_string(), consumer, producer, mask: size as u64 - 1 });
        Ok(())
    }

    /// Whether `map` is a perf event array of these sources.
    pub fn is_perf(&self, map: &str) -> bool {
        self.perf.iter().any(|r| r.map == map)
    }

    pub fn is_empty(&self) -> bool {
        self.perf.is_empty() && self.rings.is_empty()
    }

    /// Every record written since the last call, perf arrays first (CPU order), then ring buffers.
    pub fn drain(&mut self) -> Vec<Record> {
        let mut out = Vec::new();
        for r in &mut self.perf {
            let head = r.mapping.u64_at(DATA_HEAD);
            fence(Ordering::Acquire);
            let mut tail = r.mapping.u64_at(DATA_TAIL);
            let page = page_size();
            let read = |at: u64, len: usize| -> Vec<u8> {
                (0..len).map(|i| r.mapping.bytes(page + ((at as usize + i) % r.data_size), 1)[0]).collect()
            };
            while tail < head {
                let header = read(tail, 8);
                let kind = u32::from_ne_bytes(header[0..4].try_into().expect("4 bytes"));
                let size = u16::from_ne_bytes(header[6..8].try_into().expect("2 bytes")) as u64;
                if size < 8 {
                    break;
                }
                match kind {
                    PERF_RECORD_SAMPLE => {
                        let body = read(tail + 8, size as usize - 8);
                        if body.len() >= 4 {
                            let raw = u32::from_ne_bytes(body[0..4].try_into().expect("4 bytes")) as usize;
                            let bytes = body.get(4..4 + raw).unwrap_or(&body[4..]).to_vec();
                            out.push(Record { map: r.map.clone(), bytes });
                        }
                    }
                    PERF_RECORD_LOST => {
                        let body = read(tail + 8, 16);
                        self.lost += u64::from_ne_bytes(body[8..16].try_into().expect("8 bytes"));
                    }
                    _ => {}
                }
                tail += size;
            }
            fence(Ordering::Release);
            r.mapping.set_u64(DATA_TAIL, tail);
        }
        for r in &mut self.rings {
            let mut cons = r.consumer.u64_at(0);
            let prod = r.producer.u64_at(0);
            fence(Ordering::Acquire);
            let page = page_size();
            while cons < prod {
                let at = page + (cons & r.mask) as usize;
                let hdr = u32::from_ne_bytes(r.producer.bytes(at, 4).try_into().expect("4 bytes"));
                if hdr & RINGBUF_BUSY != 0 {
                    break;
                }
                let len = (hdr & !(RINGBUF_BUSY | RINGBUF_DISCARD)) as usize;
                if hdr & RINGBUF_DISCARD == 0 {
                    out.push(Record { map: r.map.clone(), bytes: r.producer.bytes(at + 8, len).to_vec() });
                }
                cons += ((len + 8 + 7) & !7) as u64;
            }
            fence(Ordering::Release);
            r.consumer.set_u64(0, cons);
        }
        out
    }
}
