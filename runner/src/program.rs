//! A program under test, loaded into the kernel with aya, and its maps: written, read, and reset to the
//! state they had right after loading, so that no scenario sees another's map state. What the program
//! can do to maps (whether it adds or removes keys) comes from the fixture, which the compiler filled in.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use aya::maps::{Map, MapData};
use aya::programs::{ProgramError, TestRun, TestRunOptions, Xdp};
use aya::{Ebpf, EbpfError, EbpfLoader, VerifierLogLevel};
use xdptest_compiler::fixture::{MapKind, Program};

use crate::error::{EntryPart, OsError, RunError};
use crate::sys;

/// Maps the program can only read (`.rodata`, DEVMAPs): no snapshot is needed to undo the program's writes.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// The contents of a program's maps at one moment: per map, every entry (key → one value, or one per
/// CPU). Arrays list only entries that are not all zeros; maps without keys (queues, stacks, bloom
/// filters) and read-only arrays (`.rodata`) are left out.
pub type MapsDump = BTreeMap<String, MapEntries>;

/// The entries of one map: key → one value, or one per CPU.
pub type MapEntries = BTreeMap<Vec<u8>, Vec<Vec<u8>>>;

/// Why a map operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapError {
    /// The kernel refused.
    Os(OsError),
    /// A key or value has another size than the map's.
    Size { part: EntryPart, got: usize, want: usize },
    /// More per-CPU values than CPUs.
    CpuCount { given: usize, cpus: usize },
}

impl From<OsError> for MapError {
    fn from(e: OsError) -> Self {
        MapError::Os(e)
    }
}

impl MapError {
    /// The run error for this failure of `op` on `map`, at `location` in the spec.
    pub fn into_run(self, map: &str, op: crate::error::MapOp, location: Option<&str>) -> RunError {
        match self {
            MapError::Os(os) if RunError::is_denied(&os) => RunError::permission(os),
            MapError::Os(os) => RunError::Map { map: map.into(), op, location: location.map(str::to_string), os },
            MapError::Size { part, got, want } => RunError::EntrySize { map: map.into(), part, got, want },
            MapError::CpuCount { given, cpus } => {
                RunError::CpuCount { map: map.into(), location: location.unwrap_or_default().to_string(), given, cpus }
            }
        }
    }
}

/// One map of a loaded program.
pub struct LoadedMap {
    pub name: String,
    fd: RawFd,
    pub kind: MapKind,
    pub key_size: usize,
    pub value_size: usize,
    pub max_entries: u32,
    flags: u32,
    /// Array contents right after loading (initialised globals live here), restored on reset.
    initial: Option<Vec<u8>>,
    /// Every key of an array (`0..max_entries`, packed), built once for the batch restore.
    array_keys: Vec<u8>,
    /// Whether only our writes change this map's set of keys, so that a reset deletes just the keys we
    /// wrote: DEVMAPs (programs cannot write them), and hash-like maps when the program never calls a
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
    pub fn load(program: &Program) -> Result<LoadedProgram, RunError> {
        let start = Instant::now();
        let (object, location) = (program.object.as_str(), program.location.as_str());
        let bytes = std::fs::read(object).map_err(|e| RunError::ObjectUnreadable {
            object: object.into(),
            location: location.into(),
            os: OsError::new("read", &e),
        })?;
        let mut ebpf = EbpfLoader::new()
            // Verbose logs only matter when loading fails; aya retries with a log buffer then.
            .verifier_log_level(VerifierLogLevel::DEBUG | VerifierLogLevel::STATS)
            .load(&bytes)
            .map_err(|e| ebpf_error(program, e))?;
        let programs: Vec<String> = ebpf.programs().map(|(n, _)| n.to_string()).collect();
        let prog = ebpf.program_mut(&program.name).ok_or_else(|| RunError::NoProgram {
            object: object.into(),
            location: location.into(),
            program: program.name.clone(),
            available: programs,
        })?;
        let xdp: &mut Xdp = prog.try_into().map_err(|_| RunError::NotXdp {
            object: object.into(),
            location: location.into(),
            program: program.name.clone(),
        })?;
        xdp.load().map_err(|e| program_error(program, e))?;
        let ncpus = aya::util::nr_cpus().map_err(|(what, e)| RunError::ObjectInvalid {
            object: object.into(),
            location: location.into(),
            reason: format!("{what}: {e}"),
        })?;
        let mut maps = HashMap::new();
        for (map_name, map) in ebpf.maps() {
            let Some(data) = map_data(map) else { continue };
            let info = data.info().map_err(|e| RunError::ObjectInvalid {
                object: object.into(),
                location: location.into(),
                reason: format!("map {map_name}: {e}"),
            })?;
            let kind = MapKind::from_raw(info.map_type().map(|t| t as u32).unwrap_or(0));
            let mut m = LoadedMap {
                name: map_name.to_string(),
                fd: data.fd().as_fd().as_raw_fd(),
                kind,
                key_size: info.key_size() as usize,
                value_size: info.value_size() as usize,
                max_entries: info.max_entries(),
                flags: info.map_flags(),
                initial: None,
                array_keys: Vec::new(),
                tracked: kind == MapKind::Devmap || (kind.is_hash_like() && !program.facts.changes_keys),
                written: Vec::new(),
                batch_ok: true,
            };
            m.snapshot(ncpus).map_err(|e| e.into_run(map_name, crate::error::MapOp::Snapshot, None))?;
            maps.insert(map_name.to_string(), m);
        }
        Ok(LoadedProgram {
            ebpf,
            name: program.name.clone(),
            maps,
            ncpus,
            load_time: start.elapsed(),
            prints: program.facts.prints,
        })
    }

    /// Runs one packet. `ctx` is the raw `struct xdp_md`, when the scenario gives one.
    pub fn test_run(&self, input: &[u8], ctx: Option<&[u8]>, out: &mut Vec<u8>) -> Result<u32, OsError> {
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
                ProgramError::SyscallError(s) => OsError::new("BPF_PROG_TEST_RUN", &s.io_error),
                other => OsError { op: format!("BPF_PROG_TEST_RUN ({other})"), errno: 0 },
            })?;
        out.truncate(r.data_size_out as usize);
        Ok(r.return_value)
    }

    /// Reads every map (see [`MapsDump`]). Costs a few syscalls per map and one per hash entry: only for
    /// reports, never on the plain test path.
    pub fn dump(&self) -> Result<MapsDump, RunError> {
        let mut out = MapsDump::new();
        for (name, m) in &self.maps {
            if let Some(entries) = m.dump(self.ncpus).map_err(|e| e.into_run(name, crate::error::MapOp::Dump, None))? {
                out.insert(name.clone(), entries);
            }
        }
        Ok(out)
    }

    /// Resets every map to its state right after loading.
    pub fn reset(&mut self) -> Result<(), RunError> {
        let ncpus = self.ncpus;
        for m in self.maps.values_mut() {
            m.reset(ncpus).map_err(|e| e.into_run(&m.name, crate::error::MapOp::Reset, None))?;
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

/// The first OS error in an error's chain of causes.
fn os_cause(e: &(dyn std::error::Error + 'static), op: &str) -> Option<OsError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            return Some(OsError::new(op, io));
        }
        cur = c.source();
    }
    None
}

fn ebpf_error(p: &Program, e: EbpfError) -> RunError {
    if let EbpfError::ProgramError(pe) = e {
        return program_error(p, pe);
    }
    if let EbpfError::MapError(aya::maps::MapError::CreateError { name, io_error }) = &e {
        let os = OsError::new("BPF_MAP_CREATE", io_error);
        if RunError::is_denied(&os) {
            return RunError::permission(os);
        }
        return RunError::MapCreate { object: p.object.clone(), map: name.clone(), os };
    }
    match os_cause(&e, "loading") {
        Some(os) if RunError::is_denied(&os) => RunError::permission(os),
        _ => {
            RunError::ObjectInvalid { object: p.object.clone(), location: p.location.clone(), reason: error_chain(&e) }
        }
    }
}

fn program_error(p: &Program, e: ProgramError) -> RunError {
    match e {
        ProgramError::LoadError { io_error, verifier_log } => {
            let os = OsError::new("BPF_PROG_LOAD", &io_error);
            let log = verifier_log.to_string();
            if RunError::is_denied(&os) && log.trim().is_empty() {
                return RunError::permission(os);
            }
            let r = crate::verifier::parse(&log);
            RunError::Verifier {
                object: p.object.clone(),
                program: p.name.clone(),
                location: p.location.clone(),
                os,
                log,
                complaint: r.complaint,
                at: r.at,
            }
        }
        other => match os_cause(&other, "BPF_PROG_LOAD") {
            Some(os) if RunError::is_denied(&os) => RunError::permission(os),
            _ => RunError::ObjectInvalid {
                object: p.object.clone(),
                location: p.location.clone(),
                reason: error_chain(&other),
            },
        },
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
        self.kind.is_per_cpu()
    }

    pub fn is_array(&self) -> bool {
        self.kind.is_array()
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

    fn snapshot(&mut self, ncpus: usize) -> Result<(), MapError> {
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
            Err(e) => return Err(e.into()),
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
    fn reset(&mut self, ncpus: usize) -> Result<(), MapError> {
        if let Some(initial) = &self.initial {
            let per = self.value_buffer_len(ncpus);
            if self.batch_ok {
                match sys::update_batch(self.fd, &self.array_keys, initial, self.max_entries) {
                    Ok(()) => return Ok(()),
                    Err(e) if sys::unsupported(&e) => self.batch_ok = false,
                    Err(e) => return Err(e.into()),
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
        if self.kind.is_hash_like() {
            return self.clear(ncpus);
        }
        Ok(())
    }

    /// Deletes every entry.
    fn clear(&mut self, ncpus: usize) -> Result<(), MapError> {
        const CHUNK: u32 = 64;
        if self.batch_ok && self.kind != MapKind::LpmTrie {
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
                    Err(e) => return Err(e.into()),
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
        matches!(self.kind, MapKind::Devmap | MapKind::DevmapHash | MapKind::Cpumap)
    }

    /// Writes one entry. `values` holds one value (copied to every CPU of a per-CPU map) or, when
    /// `per_cpu_list`, one per CPU (`per_cpu [..]`; CPUs the list does not reach start at zero).
    pub fn write(&mut self, key: &[u8], values: &[&[u8]], ncpus: usize, per_cpu_list: bool) -> Result<(), MapError> {
        let first = values.first().copied().unwrap_or(&[]);
        self.check_sizes(key, first)?;
        if self.tracked {
            self.written.push(key.to_vec());
        }
        if !self.is_per_cpu() {
            if self.widened() && first.len() < self.value_size {
                let mut v = first.to_vec();
                v.resize(self.value_size, 0);
                return Ok(sys::update(self.fd, key, &v)?);
            }
            return Ok(sys::update(self.fd, key, first)?);
        }
        if values.len() > ncpus {
            return Err(MapError::CpuCount { given: values.len(), cpus: ncpus });
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
        Ok(sys::update(self.fd, key, &buf)?)
    }

    /// Every entry, or `None` for maps that have no keys to list or cannot change (see [`MapsDump`]).
    fn dump(&self, ncpus: usize) -> Result<Option<MapEntries>, MapError> {
        if matches!(self.kind, MapKind::Queue | MapKind::Stack | MapKind::BloomFilter)
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
                    Err(e) => return Err(e.into()),
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
                Err(e) => return Err(e.into()),
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
    pub fn read(&self, key: &[u8], ncpus: usize) -> Result<Option<Vec<Vec<u8>>>, MapError> {
        if key.len() != self.key_size {
            return Err(MapError::Size { part: EntryPart::Key, got: key.len(), want: self.key_size });
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

    fn check_sizes(&self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        if key.len() != self.key_size {
            return Err(MapError::Size { part: EntryPart::Key, got: key.len(), want: self.key_size });
        }
        if value.len() != self.value_size && !(self.widened() && value.len() < self.value_size) {
            return Err(MapError::Size { part: EntryPart::Value, got: value.len(), want: self.value_size });
        }
        Ok(())
    }
}
