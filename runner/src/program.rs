//! A program under test, loaded into the kernel with aya, and its maps: written, read, and reset to the
//! state they had right after loading, so that no scenario sees another's map state.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use aya::maps::{Map, MapData};
use aya::programs::{ProgramError, TestRun, TestRunOptions, Xdp};
use aya::{Ebpf, EbpfError, EbpfLoader, VerifierLogLevel};

use crate::sys;

// Map types (enum bpf_map_type) that need special handling.
const HASH: u32 = 1;
const ARRAY: u32 = 2;
const PERCPU_HASH: u32 = 5;
const PERCPU_ARRAY: u32 = 6;
const LRU_HASH: u32 = 9;
const LRU_PERCPU_HASH: u32 = 10;
const LPM_TRIE: u32 = 11;
const DEVMAP: u32 = 14;
const CPUMAP: u32 = 16;
const DEVMAP_HASH: u32 = 25;
/// Maps the program can only read (`.rodata`, DEVMAPs): no snapshot is needed to undo the program's writes.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// Why a program could not be loaded: each variant is an environment or input problem (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("permission denied loading {path}: xdptest run needs root, or CAP_BPF with CAP_NET_ADMIN")]
    Permission { path: String },
    #[error("cannot load {path}: {message}")]
    Object { path: String, message: String },
    #[error("{path} has no program `{name}`{hint}")]
    NoProgram { path: String, name: String, hint: String },
    #[error("`{name}` in {path} is not an XDP program")]
    NotXdp { path: String, name: String },
    #[error("{VERIFIER_REJECTED}`{name}` in {path}: {error}\n{log}")]
    Verifier { path: String, name: String, error: String, log: String },
}

/// How a verifier rejection's message starts: the first line names the program, the rest is the log.
const VERIFIER_REJECTED: &str = "the verifier rejected ";

/// A verifier rejection read back from a scenario's error message (the form of [`LoadError::Verifier`]'s
/// message, which is also what VM guests report), for reporters that locate it in the C source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected<'a> {
    /// The first line: "the verifier rejected `xdp_x` in build/x.o: Permission denied (os error 13)".
    pub headline: &'a str,
    pub program: &'a str,
    pub object: &'a str,
    pub log: &'a str,
}

/// See [`Rejected`]; `None` for any other error.
pub fn verifier_rejection(message: &str) -> Option<Rejected<'_>> {
    let (headline, log) = message.split_once('\n').unwrap_or((message, ""));
    let rest = headline.strip_prefix(VERIFIER_REJECTED)?.strip_prefix('`')?;
    let (program, rest) = rest.split_once("` in ")?;
    // The error (an errno's text) has no ": "; the path may.
    let (object, _error) = rest.rsplit_once(": ")?;
    Some(Rejected { headline, program, object, log })
}

/// The contents of a program's maps at one moment: per map, every entry (key → one value, or one per
/// CPU). Arrays list only entries that are not all zeros; maps without keys (queues, stacks, bloom
/// filters) and read-only arrays (`.rodata`) are left out.
pub type MapsDump = BTreeMap<String, MapEntries>;

/// The entries of one map: key → one value, or one per CPU.
pub type MapEntries = BTreeMap<Vec<u8>, Vec<Vec<u8>>>;

/// One map of a loaded program.
pub struct LoadedMap {
    pub name: String,
    fd: RawFd,
    pub map_type: u32,
    pub key_size: usize,
    pub value_size: usize,
    pub max_entries: u32,
    flags: u32,
    /// Array contents right after loading (initialised globals live here), restored on reset.
    initial: Option<Vec<u8>>,
    /// Every key of an array (`0..max_entries`, packed), built once for the batch restore.
    array_keys: Vec<u8>,
    /// Whether only our writes change this map's set of keys, so that a reset deletes just the keys we
    /// wrote: DEVMAPs (programs cannot write them), and hash-like maps when the object never calls a
    /// helper that adds or removes entries. Emptying a hash map otherwise walks every bucket in the
    /// kernel (16,384 of them for a typical session table), the largest cost of a reset.
    tracked: bool,
    /// Keys written since the last reset, for `tracked` maps.
    written: Vec<Vec<u8>>,
    /// Batch commands work on this map (checked on first use).
    batch_ok: bool,
}

pub struct LoadedProgram {
    ebpf: Ebpf,
    name: String,
    pub maps: HashMap<String, LoadedMap>,
    pub ncpus: usize,
    /// How long loading (object parse, map creation, verifier) took.
    pub load_time: Duration,
    /// The program calls `bpf_trace_printk` or `bpf_trace_vprintk` (what `bpf_printk` compiles to).
    pub prints: bool,
}

impl LoadedProgram {
    pub fn load(object: &str, name: &str) -> Result<LoadedProgram, LoadError> {
        let start = Instant::now();
        let bytes = std::fs::read(object).map_err(|source| LoadError::Read { path: object.into(), source })?;
        let mut ebpf = EbpfLoader::new()
            // Verbose logs only matter when loading fails; aya retries with a log buffer then.
            .verifier_log_level(VerifierLogLevel::DEBUG | VerifierLogLevel::STATS)
            .load(&bytes)
            .map_err(|e| ebpf_error(object, e))?;
        let programs: Vec<String> = ebpf.programs().map(|(n, _)| n.to_string()).collect();
        let prog = ebpf.program_mut(name).ok_or_else(|| LoadError::NoProgram {
            path: object.into(),
            name: name.into(),
            hint: if programs.is_empty() { String::new() } else { format!(" (it has: {})", programs.join(", ")) },
        })?;
        let xdp: &mut Xdp =
            prog.try_into().map_err(|_| LoadError::NotXdp { path: object.into(), name: name.into() })?;
        xdp.load().map_err(|e| program_error(object, name, e))?;
        let helpers = xdptest_compiler::btf::read_object(&bytes).map(|info| info.helper_calls).ok();
        // bpf_map_update_elem (2), bpf_map_delete_elem (3), bpf_map_push_elem (87), bpf_map_pop_elem (88).
        let changes_keys = helpers.as_ref().is_none_or(|h| h.iter().any(|h| matches!(h, 2 | 3 | 87 | 88)));
        // bpf_trace_printk (6), bpf_trace_vprintk (177).
        let prints = helpers.as_ref().is_some_and(|h| h.iter().any(|h| matches!(h, 6 | 177)));
        let ncpus = aya::util::nr_cpus()
            .map_err(|(what, e)| LoadError::Object { path: object.into(), message: format!("{what}: {e}") })?;
        let mut maps = HashMap::new();
        for (map_name, map) in ebpf.maps() {
            let Some(data) = map_data(map) else { continue };
            let info = data
                .info()
                .map_err(|e| LoadError::Object { path: object.into(), message: format!("map {map_name}: {e}") })?;
            let mut m = LoadedMap {
                name: map_name.to_string(),
                fd: data.fd().as_fd().as_raw_fd(),
                map_type: info.map_type().map(|t| t as u32).unwrap_or(0),
                key_size: info.key_size() as usize,
                value_size: info.value_size() as usize,
                max_entries: info.max_entries(),
                flags: info.map_flags(),
                initial: None,
                array_keys: Vec::new(),
                tracked: false,
                written: Vec::new(),
                batch_ok: true,
            };
            m.tracked = m.map_type == DEVMAP || (m.is_hash_like() && !changes_keys);
            m.snapshot(ncpus).map_err(|e| LoadError::Object {
                path: object.into(),
                message: format!("reading map {map_name}: {e}"),
            })?;
            maps.insert(map_name.to_string(), m);
        }
        Ok(LoadedProgram { ebpf, name: name.into(), maps, ncpus, load_time: start.elapsed(), prints })
    }

    /// Runs one packet. `ctx` is the raw `struct xdp_md`, when the scenario gives one.
    pub fn test_run(&self, input: &[u8], ctx: Option<&[u8]>, out: &mut Vec<u8>) -> Result<u32, io::Error> {
        let prog: &Xdp = self
            .ebpf
            .program(&self.name)
            .and_then(|p| p.try_into().ok())
            .expect("the program was found and loaded as XDP");
        // Room for what the program may add in front (XDP headroom is 256 bytes) or behind.
        out.clear();
        out.resize(input.len() + 512, 0);
        let r = prog
            .test_run(TestRunOptions { data_in: Some(input), data_out: Some(out), ctx_in: ctx, ..Default::default() })
            .map_err(|e| match e {
                ProgramError::SyscallError(s) => s.io_error,
                other => io::Error::other(other.to_string()),
            })?;
        out.truncate(r.data_size_out as usize);
        Ok(r.return_value)
    }

    /// Reads every map (see [`MapsDump`]). Costs a few syscalls per map and one per hash entry: only for
    /// reports, never on the plain test path.
    pub fn dump(&self) -> io::Result<MapsDump> {
        let mut out = MapsDump::new();
        for (name, m) in &self.maps {
            if let Some(entries) =
                m.dump(self.ncpus).map_err(|e| io::Error::new(e.kind(), format!("reading map {name}: {e}")))?
            {
                out.insert(name.clone(), entries);
            }
        }
        Ok(out)
    }

    /// Resets every map to its state right after loading.
    pub fn reset(&mut self) -> io::Result<()> {
        let ncpus = self.ncpus;
        for m in self.maps.values_mut() {
            m.reset(ncpus).map_err(|e| io::Error::new(e.kind(), format!("resetting map {}: {e}", m.name)))?;
        }
        Ok(())
    }
}

fn map_data(map: &Map) -> Option<&MapData> {
    match map {
        Map::Array(d)
        | Map::PerCpuArray(d)
        | Map::HashMap(d)
        | Map::PerCpuHashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuLruHashMap(d)
        | Map::LpmTrie(d)
        | Map::DevMap(d)
        | Map::DevMapHash(d)
        | Map::CpuMap(d)
        | Map::BloomFilter(d)
        | Map::Queue(d)
        | Map::Stack(d) => Some(d),
        _ => None,
    }
}

fn ebpf_error(path: &str, e: EbpfError) -> LoadError {
    let message = error_chain(&e);
    if message.contains("Operation not permitted") || message.contains("os error 1)") {
        return LoadError::Permission { path: path.into() };
    }
    if let EbpfError::ProgramError(ProgramError::LoadError { io_error, verifier_log }) = e {
        return LoadError::Verifier {
            path: path.into(),
            name: String::new(),
            error: io_error.to_string(),
            log: verifier_log.to_string(),
        };
    }
    LoadError::Object { path: path.into(), message }
}

fn program_error(path: &str, name: &str, e: ProgramError) -> LoadError {
    match e {
        ProgramError::LoadError { io_error, verifier_log } => {
            if io_error.raw_os_error() == Some(libc::EPERM) && verifier_log.to_string().trim().is_empty() {
                return LoadError::Permission { path: path.into() };
            }
            LoadError::Verifier {
                path: path.into(),
                name: name.into(),
                error: io_error.to_string(),
                log: verifier_log.to_string(),
            }
        }
        other => {
            let message = error_chain(&other);
            if message.contains("Operation not permitted") {
                LoadError::Permission { path: path.into() }
            } else {
                LoadError::Object { path: path.into(), message }
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

impl LoadedMap {
    pub fn is_per_cpu(&self) -> bool {
        matches!(self.map_type, PERCPU_HASH | PERCPU_ARRAY | LRU_PERCPU_HASH)
    }

    pub fn is_array(&self) -> bool {
        matches!(self.map_type, ARRAY | PERCPU_ARRAY)
    }

    fn is_hash_like(&self) -> bool {
        matches!(self.map_type, HASH | PERCPU_HASH | LRU_HASH | LRU_PERCPU_HASH | LPM_TRIE | DEVMAP_HASH)
    }

    /// Bytes of one value slot in a per-CPU buffer (the kernel rounds each CPU's value up to 8).
    fn slot(&self) -> usize {
        if self.is_per_cpu() {
            self.value_size.div_ceil(8) * 8
        } else {
            self.value_size
        }
    }

    /// Size of the buffer a lookup/update of one element needs.
    pub fn value_buffer_len(&self, ncpus: usize) -> usize {
        if self.is_per_cpu() {
            self.slot() * ncpus
        } else {
            self.value_size
        }
    }

    fn snapshot(&mut self, ncpus: usize) -> io::Result<()> {
        if !self.is_array() || self.flags & BPF_F_RDONLY_PROG != 0 {
            return Ok(());
        }
        let per = self.value_buffer_len(ncpus);
        let mut all = vec![0u8; per * self.max_entries as usize];
        self.array_keys = (0..self.max_entries).flat_map(|i| i.to_ne_bytes()).collect();
        let mut keys = vec![0u8; self.array_keys.len()];
        match sys::lookup_batch(self.fd, &mut keys, &mut all, self.max_entries) {
            Ok(n) if n == self.max_entries => {
                self.initial = Some(all);
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if sys::unsupported(&e) => self.batch_ok = false,
            Err(e) => return Err(e),
        }
        for i in 0..self.max_entries {
            let at = i as usize * per;
            sys::lookup(self.fd, &i.to_ne_bytes(), &mut all[at..at + per])?;
        }
        self.initial = Some(all);
        Ok(())
    }

    /// Note `BPF_F_RDONLY_PROG` only says the *program* cannot write: the kernel sets it on every DEVMAP,
    /// which scenarios do write, so it is no reason to skip a reset (regression: a DEVMAP entry of one
    /// scenario leaked into the next).
    fn reset(&mut self, ncpus: usize) -> io::Result<()> {
        if let Some(initial) = &self.initial {
            let per = self.value_buffer_len(ncpus);
            if self.batch_ok {
                match sys::update_batch(self.fd, &self.array_keys, initial, self.max_entries) {
                    Ok(()) => return Ok(()),
                    Err(e) if sys::unsupported(&e) => self.batch_ok = false,
                    Err(e) => return Err(e),
                }
            }
            for i in 0..self.max_entries {
                let at = i as usize * per;
                sys::update(self.fd, &i.to_ne_bytes(), &initial[at..at + per])?;
            }
            return Ok(());
        }
        if self.tracked {
            for k in std::mem::take(&mut self.written) {
                sys::delete(self.fd, &k)?;
            }
            return Ok(());
        }
        if self.is_hash_like() {
            return self.clear(ncpus);
        }
        Ok(())
    }

    /// Deletes every entry.
    fn clear(&mut self, ncpus: usize) -> io::Result<()> {
        const CHUNK: u32 = 64;
        if self.batch_ok && self.map_type != LPM_TRIE {
            let mut keys = vec![0u8; self.key_size * CHUNK as usize];
            let mut values = vec![0u8; self.value_buffer_len(ncpus) * CHUNK as usize];
            loop {
                match sys::lookup_and_delete_batch(self.fd, &mut keys, &mut values, CHUNK) {
                    Ok(n) if n == CHUNK => continue,
                    Ok(_) => return Ok(()),
                    Err(e) if sys::unsupported(&e) => {
                        self.batch_ok = false;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let mut key = vec![0u8; self.key_size];
        while sys::next_key(self.fd, None, &mut key)? {
            sys::delete(self.fd, &key)?;
        }
        Ok(())
    }

    /// DEVMAP and CPUMAP values may be declared as a bare `__u32` while the kernel (and aya) use the
    /// longer `struct bpf_devmap_val` / `bpf_cpumap_val`: the declared part comes first, the rest (an
    /// attached program) stays zero.
    fn widened(&self) -> bool {
        matches!(self.map_type, DEVMAP | DEVMAP_HASH | CPUMAP)
    }

    /// Writes one entry. `values` holds one value (copied to every CPU of a per-CPU map) or, when
    /// `per_cpu_list`, one per CPU (`per_cpu [..]`; CPUs the list does not reach start at zero).
    pub fn write(&mut self, key: &[u8], values: &[&[u8]], ncpus: usize, per_cpu_list: bool) -> io::Result<()> {
        let first = values.first().copied().unwrap_or(&[]);
        self.check_sizes(key, first)?;
        if self.tracked {
            self.written.push(key.to_vec());
        }
        if !self.is_per_cpu() {
            if self.widened() && first.len() < self.value_size {
                let mut v = first.to_vec();
                v.resize(self.value_size, 0);
                return sys::update(self.fd, key, &v);
            }
            return sys::update(self.fd, key, first);
        }
        if values.len() > ncpus {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the spec gives {} per-CPU values for map {}, this machine has {ncpus} CPUs",
                    values.len(),
                    self.name
                ),
            ));
        }
        let slot = self.slot();
        let mut buf = vec![0u8; slot * ncpus];
        for cpu in 0..ncpus {
            let v = match (per_cpu_list, values.get(cpu)) {
                (false, _) => first,
                (true, Some(v)) => v,
                (true, None) => continue,
            };
            buf[cpu * slot..cpu * slot + v.len()].copy_from_slice(v);
        }
        sys::update(self.fd, key, &buf)
    }

    /// Every entry, or `None` for maps that have no keys to list or cannot change (see [`MapsDump`]).
    fn dump(&self, ncpus: usize) -> io::Result<Option<MapEntries>> {
        const QUEUE: u32 = 22;
        const STACK: u32 = 23;
        const BLOOM_FILTER: u32 = 30;
        if matches!(self.map_type, QUEUE | STACK | BLOOM_FILTER)
            || (self.is_array() && self.flags & BPF_F_RDONLY_PROG != 0)
        {
            return Ok(None);
        }
        let per = self.value_buffer_len(ncpus);
        let split = |buf: &[u8]| -> Vec<Vec<u8>> {
            if self.is_per_cpu() {
                let slot = self.slot();
                (0..ncpus).map(|c| buf[c * slot..c * slot + self.value_size].to_vec()).collect()
            } else {
                vec![buf.to_vec()]
            }
        };
        let mut out = BTreeMap::new();
        if self.is_array() {
            let n = self.max_entries as usize;
            let mut all = vec![0u8; per * n];
            let mut keys = vec![0u8; 4 * n];
            let batch = self.batch_ok
                && match sys::lookup_batch(self.fd, &mut keys, &mut all, self.max_entries) {
                    Ok(got) => got == self.max_entries,
                    Err(e) if sys::unsupported(&e) => false,
                    Err(e) => return Err(e),
                };
            for i in 0..self.max_entries {
                let at = i as usize * per;
                let value = &mut all[at..at + per];
                if !batch {
                    sys::lookup(self.fd, &i.to_ne_bytes(), value)?;
                }
                if value.iter().any(|b| *b != 0) {
                    out.insert(i.to_ne_bytes().to_vec(), split(value));
                }
            }
            return Ok(Some(out));
        }
        // Hash-like maps, LPM tries, DEVMAPs, CPUMAPs: walk the keys (at most max_entries of them, so a
        // map that changed under us cannot loop forever).
        let mut key = vec![0u8; self.key_size];
        let mut next = vec![0u8; self.key_size];
        let mut value = vec![0u8; per];
        let mut first = true;
        for _ in 0..=self.max_entries {
            let more = match sys::next_key(self.fd, (!first).then_some(&key[..]), &mut next) {
                Ok(more) => more,
                // Map types without key iteration.
                Err(e) if first && sys::unsupported(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            if !more {
                break;
            }
            first = false;
            std::mem::swap(&mut key, &mut next);
            if sys::lookup(self.fd, &key, &mut value)? {
                out.insert(key.clone(), split(&value));
            }
        }
        Ok(Some(out))
    }

    /// Reads one entry: one value, or one per CPU. `None` when absent.
    pub fn read(&self, key: &[u8], ncpus: usize) -> io::Result<Option<Vec<Vec<u8>>>> {
        if key.len() != self.key_size {
            return Err(self.size_error("key", key.len(), self.key_size));
        }
        let mut buf = vec![0u8; self.value_buffer_len(ncpus)];
        if !sys::lookup(self.fd, key, &mut buf)? {
            return Ok(None);
        }
        if !self.is_per_cpu() {
            return Ok(Some(vec![buf]));
        }
        let slot = self.slot();
        Ok(Some((0..ncpus).map(|c| buf[c * slot..c * slot + self.value_size].to_vec()).collect()))
    }

    fn check_sizes(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        if key.len() != self.key_size {
            return Err(self.size_error("key", key.len(), self.key_size));
        }
        if value.len() != self.value_size && !(self.widened() && value.len() < self.value_size) {
            return Err(self.size_error("value", value.len(), self.value_size));
        }
        Ok(())
    }

    fn size_error(&self, what: &str, got: usize, want: usize) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("map {}: the fixture's {what} has {got} bytes, the loaded map's has {want} (recompile the specs against this object)", self.name),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_messages_read_back() {
        let e = LoadError::Verifier {
            path: "dir: odd/x.o".into(),
            name: "xdp_x".into(),
            error: "Permission denied (os error 13)".into(),
            log: "0: R1=ctx()\ninvalid access".into(),
        };
        let message = e.to_string();
        let r = verifier_rejection(&message).expect("a verifier rejection");
        assert_eq!((r.program, r.object, r.log), ("xdp_x", "dir: odd/x.o", "0: R1=ctx()\ninvalid access"));
        assert!(r.headline.starts_with("the verifier rejected `xdp_x` in dir: odd/x.o: Permission denied"));
        assert_eq!(verifier_rejection("cannot read x.o: no such file"), None);
    }
}
