//! Raw `bpf(2)` map commands on byte keys and values of any size. aya's typed maps need a Rust type per
//! key and value; fixtures carry plain bytes whose layout only the compiler knew, so the runner talks to
//! the kernel directly for map I/O (aya still creates the maps and loads the program).

use std::io;
use std::os::fd::RawFd;

use crate::error::OsError;

const BPF_MAP_LOOKUP_ELEM: u32 = 1;
const BPF_MAP_UPDATE_ELEM: u32 = 2;
const BPF_MAP_DELETE_ELEM: u32 = 3;
const BPF_MAP_GET_NEXT_KEY: u32 = 4;
const BPF_MAP_LOOKUP_BATCH: u32 = 24;
const BPF_MAP_LOOKUP_AND_DELETE_BATCH: u32 = 25;
const BPF_MAP_UPDATE_BATCH: u32 = 26;

/// `union bpf_attr` as used by the element commands.
#[repr(C)]
#[derive(Default)]
struct ElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value_or_next_key: u64,
    flags: u64,
}

/// `union bpf_attr` as used by the batch commands.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// The name of a `bpf(2)` command, for errors.
fn command_name(cmd: u32) -> &'static str {
    match cmd {
        BPF_MAP_LOOKUP_ELEM => "BPF_MAP_LOOKUP_ELEM",
        BPF_MAP_UPDATE_ELEM => "BPF_MAP_UPDATE_ELEM",
        BPF_MAP_DELETE_ELEM => "BPF_MAP_DELETE_ELEM",
        BPF_MAP_GET_NEXT_KEY => "BPF_MAP_GET_NEXT_KEY",
        BPF_MAP_LOOKUP_BATCH => "BPF_MAP_LOOKUP_BATCH",
        BPF_MAP_LOOKUP_AND_DELETE_BATCH => "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
        BPF_MAP_UPDATE_BATCH => "BPF_MAP_UPDATE_BATCH",
        _ => "bpf",
    }
}

fn bpf<T>(cmd: u32, attr: &mut T) -> Result<(), OsError> {
    raw_bpf(cmd, attr).map_err(|e| OsError::new(command_name(cmd), &e))
}

fn raw_bpf<T>(cmd: u32, attr: &mut T) -> io::Result<()> {
    // SAFETY: `attr` is a properly initialised `bpf_attr` prefix for `cmd`; the kernel reads and writes
    // at most `size_of::<T>()` bytes of it, and every pointer inside points to a live buffer of the size
    // the map's key/value sizes require (checked by the callers).
    let r = unsafe {
        libc::syscall(libc::SYS_bpf, cmd as libc::c_long, attr as *mut T, std::mem::size_of::<T>() as libc::c_long)
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Looks up `key`; `value` must hold the full value size (for per-CPU maps: all CPUs' slots).
/// Returns false when the key is absent.
pub fn lookup(fd: RawFd, key: &[u8], value: &mut [u8]) -> Result<bool, OsError> {
    let mut a = ElemAttr {
        map_fd: fd as u32,
        key: key.as_ptr() as u64,
        value_or_next_key: value.as_mut_ptr() as u64,
        ..Default::default()
    };
    match bpf(BPF_MAP_LOOKUP_ELEM, &mut a) {
        Ok(()) => Ok(true),
        Err(e) if e.errno == libc::ENOENT => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn update(fd: RawFd, key: &[u8], value: &[u8]) -> Result<(), OsError> {
    let mut a = ElemAttr {
        map_fd: fd as u32,
        key: key.as_ptr() as u64,
        value_or_next_key: value.as_ptr() as u64,
        flags: 0, /* BPF_ANY */
        ..Default::default()
    };
    bpf(BPF_MAP_UPDATE_ELEM, &mut a)
}

/// Deletes `key`; absent keys are fine.
pub fn delete(fd: RawFd, key: &[u8]) -> Result<(), OsError> {
    let mut a = ElemAttr { map_fd: fd as u32, key: key.as_ptr() as u64, ..Default::default() };
    match bpf(BPF_MAP_DELETE_ELEM, &mut a) {
        Err(e) if e.errno == libc::ENOENT => Ok(()),
        r => r,
    }
}

/// The first key (`key = None`) or the key after `key`; `None` at the end.
pub fn next_key(fd: RawFd, key: Option<&[u8]>, next: &mut [u8]) -> Result<bool, OsError> {
    let mut a = ElemAttr {
        map_fd: fd as u32,
        key: key.map(|k| k.as_ptr() as u64).unwrap_or(0),
        value_or_next_key: next.as_mut_ptr() as u64,
        ..Default::default()
    };
    match bpf(BPF_MAP_GET_NEXT_KEY, &mut a) {
        Ok(()) => Ok(true),
        Err(e) if e.errno == libc::ENOENT => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `count` entries at once (`keys` and `values` packed back to back).
pub fn update_batch(fd: RawFd, keys: &[u8], values: &[u8], count: u32) -> Result<(), OsError> {
    let mut a = BatchAttr {
        keys: keys.as_ptr() as u64,
        values: values.as_ptr() as u64,
        count,
        map_fd: fd as u32,
        ..Default::default()
    };
    bpf(BPF_MAP_UPDATE_BATCH, &mut a)
}

/// Reads up to `count` entries starting at the beginning of the map. Returns how many were read.
pub fn lookup_batch(fd: RawFd, keys: &mut [u8], values: &mut [u8], count: u32) -> Result<u32, OsError> {
    read_batch(BPF_MAP_LOOKUP_BATCH, fd, keys, values, count)
}

/// Empties a hash-like map with as few syscalls as possible: each call deletes up to `count` entries
/// (their keys and values land in the scratch buffers). Returns how many were deleted in this call.
pub fn lookup_and_delete_batch(fd: RawFd, keys: &mut [u8], values: &mut [u8], count: u32) -> Result<u32, OsError> {
    read_batch(BPF_MAP_LOOKUP_AND_DELETE_BATCH, fd, keys, values, count)
}

fn read_batch(cmd: u32, fd: RawFd, keys: &mut [u8], values: &mut [u8], count: u32) -> Result<u32, OsError> {
    // The batch cursor: a bucket index for hash maps, a key for arrays; 8 bytes hold either.
    let mut out_batch = [0u8; 8];
    let mut a = BatchAttr {
        out_batch: out_batch.as_mut_ptr() as u64,
        keys: keys.as_mut_ptr() as u64,
        values: values.as_mut_ptr() as u64,
        count,
        map_fd: fd as u32,
        ..Default::default()
    };
    match bpf(cmd, &mut a) {
        Ok(()) => Ok(a.count),
        // ENOENT: the end of the map was reached; `count` says how many entries came back.
        Err(e) if e.errno == libc::ENOENT => Ok(a.count),
        Err(e) => Err(e),
    }
}

/// `ENOTSUPP` (524) is kernel-internal, so not in libc; some map types answer batch commands with it.
const ENOTSUPP: i32 = 524;

/// The kernel's "operation not supported" answers, for falling back to element-wise commands.
pub fn unsupported(e: &OsError) -> bool {
    matches!(e.errno, libc::EINVAL | ENOTSUPP | libc::EOPNOTSUPP)
}
