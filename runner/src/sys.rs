//! Raw `bpf(2)` commands: map commands on byte keys and values of any size (aya's typed maps need a Rust
//! type per key and value; fixtures carry plain bytes whose layout only the compiler knew), test runs
//! with every option the kernel has (live frames, contexts in and out), and the program and BTF loads
//! of the programs an object shares maps with. aya creates the maps and loads the main program.

use std::io;
use std::os::fd::RawFd;

use crate::error::OsError;

const BPF_MAP_CREATE: u32 = 0;
const BPF_MAP_LOOKUP_ELEM: u32 = 1;
const BPF_MAP_UPDATE_ELEM: u32 = 2;
const BPF_MAP_DELETE_ELEM: u32 = 3;
const BPF_MAP_GET_NEXT_KEY: u32 = 4;
const BPF_MAP_LOOKUP_AND_DELETE_ELEM: u32 = 21;
const BPF_MAP_LOOKUP_BATCH: u32 = 24;
const BPF_MAP_LOOKUP_AND_DELETE_BATCH: u32 = 25;
const BPF_MAP_UPDATE_BATCH: u32 = 26;
const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;

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
        BPF_MAP_CREATE => "BPF_MAP_CREATE",
        BPF_OBJ_GET_INFO_BY_FD => "BPF_OBJ_GET_INFO_BY_FD",
        BPF_MAP_LOOKUP_ELEM => "BPF_MAP_LOOKUP_ELEM",
        BPF_MAP_UPDATE_ELEM => "BPF_MAP_UPDATE_ELEM",
        BPF_MAP_DELETE_ELEM => "BPF_MAP_DELETE_ELEM",
        BPF_MAP_GET_NEXT_KEY => "BPF_MAP_GET_NEXT_KEY",
        BPF_MAP_LOOKUP_AND_DELETE_ELEM => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
        BPF_MAP_LOOKUP_BATCH => "BPF_MAP_LOOKUP_BATCH",
        BPF_MAP_LOOKUP_AND_DELETE_BATCH => "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
        BPF_MAP_UPDATE_BATCH => "BPF_MAP_UPDATE_BATCH",
        BPF_PROG_LOAD => "BPF_PROG_LOAD",
        BPF_PROG_TEST_RUN => "BPF_PROG_TEST_RUN",
        BPF_BTF_LOAD => "BPF_BTF_LOAD",
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

/// A key's address for the kernel: NULL for the empty keys of queues and stacks, which have none.
fn key_ptr(key: &[u8]) -> u64 {
    if key.is_empty() {
        0
    } else {
        key.as_ptr() as u64
    }
}

/// Pops the head of a queue or stack into `value`; false when it is empty.
pub fn pop(fd: RawFd, value: &mut [u8]) -> Result<bool, OsError> {
    let mut a = ElemAttr { map_fd: fd as u32, value_or_next_key: value.as_mut_ptr() as u64, ..Default::default() };
    match bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &mut a) {
        Ok(()) => Ok(true),
        Err(e) if e.errno == libc::ENOENT => Ok(false),
        Err(e) => Err(e),
    }
}

/// Looks up `key`; `value` must hold the full value size (for per-CPU maps: all CPUs' slots).
/// Returns false when the key is absent.
pub fn lookup(fd: RawFd, key: &[u8], value: &mut [u8]) -> Result<bool, OsError> {
    let mut a = ElemAttr {
        map_fd: fd as u32,
        key: key_ptr(key),
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
        key: key_ptr(key),
        value_or_next_key: value.as_ptr() as u64,
        flags: 0, /* BPF_ANY */
        ..Default::default()
    };
    bpf(BPF_MAP_UPDATE_ELEM, &mut a)
}

/// Deletes `key`; absent keys are fine.
pub fn delete(fd: RawFd, key: &[u8]) -> Result<(), OsError> {
    let mut a = ElemAttr { map_fd: fd as u32, key: key_ptr(key), ..Default::default() };
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

const BPF_PROG_LOAD: u32 = 5;
const BPF_PROG_TEST_RUN: u32 = 10;
const BPF_BTF_LOAD: u32 = 18;

/// `union bpf_attr` as used by `BPF_PROG_TEST_RUN`.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

/// What one `BPF_PROG_TEST_RUN` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestRunOut {
    pub retval: u32,
    /// The kernel's own time per iteration, in nanoseconds.
    pub duration: u32,
    /// Bytes the kernel wrote to `data_out` (its whole output when it fits).
    pub data_size_out: u32,
    pub ctx_size_out: u32,
}

/// `BPF_F_TEST_XDP_LIVE_FRAMES`: the frames are really sent (redirects happen), no output comes back.
pub const BPF_F_TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;

/// Runs `prog_fd` once on `data_in`. `ctx_in`/`ctx_out` are `struct xdp_md`, when given.
pub fn test_run(
    prog_fd: RawFd,
    data_in: &[u8],
    data_out: &mut [u8],
    ctx_in: Option<&[u8]>,
    ctx_out: Option<&mut [u8]>,
    flags: u32,
    repeat: u32,
) -> Result<TestRunOut, OsError> {
    let (ctx_out_ptr, ctx_out_len) = match ctx_out {
        Some(c) => (c.as_mut_ptr() as u64, c.len() as u32),
        None => (0, 0),
    };
    let mut a = TestRunAttr {
        prog_fd: prog_fd as u32,
        data_size_in: data_in.len() as u32,
        data_size_out: data_out.len() as u32,
        data_in: data_in.as_ptr() as u64,
        data_out: if data_out.is_empty() { 0 } else { data_out.as_mut_ptr() as u64 },
        repeat,
        ctx_size_in: ctx_in.map(|c| c.len() as u32).unwrap_or(0),
        ctx_size_out: ctx_out_len,
        ctx_in: ctx_in.map(|c| c.as_ptr() as u64).unwrap_or(0),
        ctx_out: ctx_out_ptr,
        flags,
        ..Default::default()
    };
    match raw_bpf(BPF_PROG_TEST_RUN, &mut a) {
        Ok(()) => Ok(TestRunOut {
            retval: a.retval,
            duration: a.duration,
            data_size_out: a.data_size_out,
            ctx_size_out: a.ctx_size_out,
        }),
        // ENOSPC: the output did not fit `data_out`; the kernel still ran the program and says how
        // much there was.
        Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
            Err(OsError::new(format!("BPF_PROG_TEST_RUN (output of {} bytes)", a.data_size_out), &e))
        }
        Err(e) => Err(OsError::new("BPF_PROG_TEST_RUN", &e)),
    }
}

/// `union bpf_attr` as used by `BPF_BTF_LOAD`.
#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    btf_log_true_size: u32,
}

/// Loads raw BTF into the kernel; returns its file descriptor.
pub fn btf_load(btf: &[u8]) -> Result<std::os::fd::OwnedFd, OsError> {
    let mut a = BtfLoadAttr { btf: btf.as_ptr() as u64, btf_size: btf.len() as u32, ..Default::default() };
    fd_from(BPF_BTF_LOAD, &mut a)
}

/// `union bpf_attr` as used by `BPF_PROG_LOAD` (up to `core_relo_rec_size`).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_prog_fd: u32,
    core_relo_cnt: u32,
    fd_array: u64,
    core_relos: u64,
    core_relo_rec_size: u32,
    log_true_size: u32,
}

/// A program to load: its code and what the kernel needs to check and describe it.
pub struct ProgLoad<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub name: &'a str,
    /// Instructions, 8 bytes each.
    pub insns: &'a [u8],
    pub license: &'a std::ffi::CStr,
    pub flags: u32,
    pub btf_fd: Option<RawFd>,
    /// Records of `func_info_rec_size` / `line_info_rec_size` bytes.
    pub func_info: (&'a [u8], u32, u32),
    pub line_info: (&'a [u8], u32, u32),
}

/// `BPF_PROG_LOAD`. On failure, the error and the verifier's log.
pub fn prog_load(p: &ProgLoad) -> Result<std::os::fd::OwnedFd, (OsError, String)> {
    let attr = |log: &mut Vec<u8>, level: u32| prog_load_attr(p, log, level);
    let mut none = Vec::new();
    match fd_from(BPF_PROG_LOAD, &mut attr(&mut none, 0)) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            // Again with a log, as large as the kernel allows, to say why.
            let mut log = vec![0u8; 16 * 1024 * 1024];
            let err = match fd_from(BPF_PROG_LOAD, &mut attr(&mut log, 1 | 4)) {
                Ok(fd) => return Ok(fd),
                Err(e) => e,
            };
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let _ = first;
            Err((err, String::from_utf8_lossy(&log[..end]).into_owned()))
        }
    }
}

/// The `BPF_PROG_LOAD` attributes of `p`, logging into `log` at `level` (0: no log).
fn prog_load_attr(p: &ProgLoad, log: &mut [u8], level: u32) -> ProgLoadAttr {
    let mut name = [0u8; 16];
    for (d, s) in name.iter_mut().zip(p.name.bytes().take(15)) {
        *d = s;
    }
    ProgLoadAttr {
        prog_type: p.prog_type,
        insn_cnt: (p.insns.len() / 8) as u32,
        insns: p.insns.as_ptr() as u64,
        license: p.license.as_ptr() as u64,
        log_level: level,
        log_size: if level == 0 { 0 } else { log.len() as u32 },
        log_buf: if level == 0 { 0 } else { log.as_mut_ptr() as u64 },
        prog_flags: p.flags,
        prog_name: name,
        expected_attach_type: p.expected_attach_type,
        prog_btf_fd: p.btf_fd.unwrap_or(0) as u32,
        func_info_rec_size: p.func_info.1,
        func_info: if p.func_info.2 == 0 { 0 } else { p.func_info.0.as_ptr() as u64 },
        func_info_cnt: p.func_info.2,
        line_info_rec_size: p.line_info.1,
        line_info: if p.line_info.2 == 0 { 0 } else { p.line_info.0.as_ptr() as u64 },
        line_info_cnt: p.line_info.2,
        ..Default::default()
    }
}

/// `BPF_PROG_LOAD` with the verifier's statistics (log level 4: instructions processed, stack depth
/// per subprogram), which come back with the descriptor.
pub fn prog_load_stats(p: &ProgLoad) -> Result<(std::os::fd::OwnedFd, String), (OsError, String)> {
    let mut log = vec![0u8; 64 * 1024];
    let mut a = prog_load_attr(p, &mut log, 4);
    let r = fd_from(BPF_PROG_LOAD, &mut a);
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]).into_owned();
    match r {
        Ok(fd) => Ok((fd, text)),
        // Refused: the whole story, as `prog_load` tells it.
        Err(_) => prog_load(p).map(|fd| (fd, text)),
    }
}

/// `union bpf_attr` as used by `BPF_MAP_CREATE` (up to `map_name`).
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// A one-entry array map (`BPF_MAP_TYPE_ARRAY`) with a `value_size`-byte value: programs reach its value
/// directly by address.
pub fn one_value_array(name: &str, value_size: u32) -> Result<std::os::fd::OwnedFd, OsError> {
    let mut map_name = [0u8; 16];
    for (d, s) in map_name.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    let mut a = MapCreateAttr { map_type: 2, key_size: 4, value_size, max_entries: 1, map_name, ..Default::default() };
    fd_from(BPF_MAP_CREATE, &mut a)
}

/// `union bpf_attr` as used by `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The instructions of loaded program `fd` as the verifier left them (`xlated`: dead code removed, map
/// addresses shown as map id and offset). Empty when the kernel does not show them (it needs
/// CAP_SYS_ADMIN).
pub fn prog_xlated(fd: RawFd) -> Result<Vec<u8>, OsError> {
    const SIZE: usize = 232;
    const LEN: usize = 20;
    const PTR: usize = 32;
    let mut info = [0u8; SIZE];
    let mut a = InfoAttr { bpf_fd: fd as u32, info_len: SIZE as u32, info: info.as_mut_ptr() as u64 };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a)?;
    let len = u32::from_ne_bytes(info[LEN..LEN + 4].try_into().expect("4 bytes")) as usize;
    if len == 0 {
        return Ok(Vec::new());
    }
    let mut insns = vec![0u8; len];
    let mut again = [0u8; SIZE];
    again[LEN..LEN + 4].copy_from_slice(&(len as u32).to_ne_bytes());
    again[PTR..PTR + 8].copy_from_slice(&(insns.as_mut_ptr() as u64).to_ne_bytes());
    let mut a = InfoAttr { bpf_fd: fd as u32, info_len: SIZE as u32, info: again.as_mut_ptr() as u64 };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a)?;
    // Without the privilege to see them, the kernel copies nothing and says so with a zero length.
    let shown = u32::from_ne_bytes(again[LEN..LEN + 4].try_into().expect("4 bytes")) as usize;
    insns.truncate(shown);
    Ok(insns)
}

/// The id of map or program `fd` (`struct bpf_map_info` and `struct bpf_prog_info` both start with
/// the type, then the id).
pub fn object_id(fd: RawFd) -> Result<u32, OsError> {
    let mut info = [0u8; 96];
    let mut a = InfoAttr { bpf_fd: fd as u32, info_len: info.len() as u32, info: info.as_mut_ptr() as u64 };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a)?;
    Ok(u32::from_ne_bytes(info[4..8].try_into().expect("4 bytes")))
}

/// A two-instruction XDP program that returns XDP_PASS (`r0 = 2; exit`).
pub fn xdp_pass_program() -> Result<std::os::fd::OwnedFd, OsError> {
    const INSNS: [u8; 16] = [0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let p = ProgLoad {
        prog_type: 6,
        expected_attach_type: 0,
        name: "xdptest_pass",
        insns: &INSNS,
        license: c"GPL",
        flags: 0,
        btf_fd: None,
        func_info: (&[], 0, 0),
        line_info: (&[], 0, 0),
    };
    prog_load(&p).map_err(|(os, _)| os)
}

fn fd_from<T>(cmd: u32, attr: &mut T) -> Result<std::os::fd::OwnedFd, OsError> {
    use std::os::fd::FromRawFd;
    // SAFETY: as in `raw_bpf`; the commands here return a new file descriptor on success.
    let r = unsafe {
        libc::syscall(libc::SYS_bpf, cmd as libc::c_long, attr as *mut T, std::mem::size_of::<T>() as libc::c_long)
    };
    if r < 0 {
        Err(OsError::new(command_name(cmd), &io::Error::last_os_error()))
    } else {
        // SAFETY: a fresh descriptor the kernel just gave us, owned by nobody else.
        Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(r as RawFd) })
    }
}
