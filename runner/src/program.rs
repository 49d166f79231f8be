//! A program under test, loaded into the kernel, and its maps: written, read, and reset to the state they
//! had right after loading, so that no scenario sees another's map state. What the program can do to maps
//! (whether it adds or removes keys) comes from the fixture, which the compiler filled in.
//!
//! Loading: the program's section is renamed so that aya accepts it whatever the object calls it
//! ([`crate::elf`]), and everything happens in a private bpffs ([`crate::bpffs`]), so that maps pinned by
//! name never touch the host. aya creates the maps and loads the main program; the other programs a spec
//! uses (tail-call targets) are loaded from the same object by aya-obj's relocations onto those maps, so
//! all programs of the object share them, as they do when the object is loaded for real.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use std::os::fd::OwnedFd;

use aya::maps::{Map, MapData};
use aya::programs::{ProgramError, Xdp};
use aya::{Ebpf, EbpfError, EbpfLoader, VerifierLogLevel};
use xdptest_compiler::btf::{self, SectionClass};
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
            MapError::Os(os) => {
                RunError::Map { map: map.into(), op, location: location.map(str::to_string), os, hint: None }
            }
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
    /// An array whose lookups the logging copy logs: resets restore the logged keys and the written
    /// ones ([`crate::keylog`]).
    logged: bool,
    /// For maps whose values are file descriptors of programs or maps: the entries the kernel has and
    /// the ones the scenario wants. Writing such an entry from user space waits for an RCU grace period
    /// (milliseconds), so entries are reconciled just before a run needs them and left in place across
    /// scenarios that set them alike, instead of being deleted at every reset and written again.
    fd_entries: Option<FdEntries>,
}

#[derive(Default)]
struct FdEntries {
    current: BTreeMap<Vec<u8>, Vec<u8>>,
    desired: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The spec line that wrote each desired entry: the kernel only judges the entry when it is
    /// written, later, and its refusal must point there.
    written_at: HashMap<Vec<u8>, String>,
}

pub struct LoadedProgram {
    /// Keeps the maps and the main program alive.
    _ebpf: Ebpf,
    name: String,
    /// The main program and the others the spec uses, by function name.
    programs: HashMap<String, RawFd>,
    /// Programs loaded beside the main one (their descriptors; `programs` lends them out).
    _extra: Vec<OwnedFd>,
    pub maps: HashMap<String, LoadedMap>,
    pub ncpus: usize,
    /// How long loading (object parse, map creation, verifier) took.
    pub load_time: Duration,
    /// The program calls `bpf_trace_printk` or `bpf_trace_vprintk` (what `bpf_printk` compiles to).
    pub prints: bool,
    /// The object calls `bpf_xdp_adjust_meta`: runs read the context back to find the metadata.
    pub adjusts_meta: bool,
    /// A multi-buffer program (`xdp.frags`): its output can span fragment pages.
    frags: bool,
    /// Readers of the object's perf event arrays and ring buffers.
    pub events: crate::emitted::Sources,
    /// Counted copies of the programs, when loaded for coverage (or why there are none).
    counted: Option<Result<Counted, crate::coverage::Unavailable>>,
    /// Runs go to the counted copies.
    counting: bool,
    /// The clock and random numbers the scenario set, read by the controlled copies of the programs
    /// (for specs that set them: see [`crate::coverage::rewrite::control`]).
    control: Option<OwnedFd>,
    /// The copy of the main program that logs the keys of its array lookups, so that resets write
    /// back only what a scenario can have changed ([`crate::keylog`]); `None` where that is not known
    /// or not worth it.
    logged: Option<Logged>,
    /// What building the logging copy later needs, until it is built or known to be impossible: it
    /// costs a second verification of the program, so it is built only once full resets have cost
    /// as much as loading did (at most twice the better of the two choices, whatever the suite).
    pending_log: Option<Box<PendingLog>>,
    /// Runs of the main program go through the logging copy (off for timed runs: they time the
    /// program itself).
    pub logging: bool,
    /// A run went through something else than the logging copy since the last reset, which then
    /// restores every entry.
    unlogged: std::cell::Cell<bool>,
}

/// What [`logging_copy`] needs, kept from the load, and the time full resets have cost so far.
struct PendingLog {
    program: Program,
    bytes: Vec<u8>,
    sym: btf::ProgramSym,
    kernel: Option<&'static aya::Btf>,
    spent: Duration,
}

/// A logging copy of the main program ([`crate::keylog`]).
struct Logged {
    fd: OwnedFd,
    /// One value: each logged map's part, [`crate::keylog::SLOT`] bytes at its offset.
    log: OwnedFd,
    maps: Vec<(String, usize)>,
    size: usize,
}

/// The counted copies of a load's programs, by name.
struct Counted {
    programs: HashMap<String, CountedProgram>,
}

/// A program with coverage counters added, and the map its counters live in.
struct CountedProgram {
    fd: OwnedFd,
    counters: OwnedFd,
    len: usize,
    /// Counters whose code the verifier removed as dead code.
    removed: Vec<u32>,
}

/// How to load.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Also load counted copies of the programs, for coverage.
    pub coverage: bool,
}

/// `bpf_xdp_adjust_meta` in `enum bpf_func_id`.
const XDP_ADJUST_META: u32 = 54;

/// `BPF_XDP` in `enum bpf_attach_type`.
const BPF_XDP: u32 = 37;
/// XDP in `enum bpf_prog_type`.
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `BPF_F_XDP_HAS_FRAGS`: a multi-buffer program.
const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

impl LoadedProgram {
    /// Loads `program`, its object read by a probe child first when probing is on ([`crate::probe`]).
    pub fn load(program: &Program) -> Result<LoadedProgram, RunError> {
        Self::load_with(program, LoadOptions::default())
    }

    /// [`load`](Self::load), with counted copies of the programs when `options.coverage`.
    pub fn load_with(program: &Program, options: LoadOptions) -> Result<LoadedProgram, RunError> {
        let start = Instant::now();
        let (object, location) = (program.object.as_str(), program.location.as_str());
        let bytes = std::fs::read(object).map_err(|e| RunError::ObjectUnreadable {
            object: object.into(),
            location: location.into(),
            os: OsError::new("read", &e),
        })?;
        let invalid =
            |reason: String| RunError::ObjectInvalid { object: object.into(), location: location.into(), reason };
        let info = btf::read_object(&bytes).map_err(|e| invalid(e.to_string()))?;
        // The main program first, then the others, each found in the object the way `check` finds it.
        let mut wanted = Vec::new();
        for name in std::iter::once(&program.name).chain(&program.also) {
            let Some(sym) = info.program(name) else {
                return Err(RunError::NoProgram {
                    object: object.into(),
                    location: location.into(),
                    program: name.clone(),
                    available: info.programs.iter().map(|p| p.name.clone()).collect(),
                });
            };
            if !sym.class().runs_as_xdp() {
                return Err(RunError::NotXdp {
                    object: object.into(),
                    location: location.into(),
                    program: name.clone(),
                });
            }
            wanted.push(sym.clone());
        }
        crate::probe::check(program, &bytes)?;
        let ncpus = aya::util::nr_cpus().map_err(|(what, e)| invalid(format!("{what}: {e}")))?;
        // Only pinned maps need a bpffs (a private one, in a mount namespace of its own: CAP_SYS_ADMIN);
        // other objects load with CAP_BPF and CAP_NET_ADMIN alone.
        let pinned = program.maps.iter().any(|m| m.pinned);
        // Parsed here, outside the loader's namespace, where it is hidden (see bpffs::hide_kernel_btf).
        let core = crate::elf::has_core_relocations(&bytes).map_err(|e| invalid(e.0))?;
        let kernel = if core { kernel_btf() } else { None };
        let (ebpf, programs, extra) = crate::bpffs::isolated_if(pinned, |pins| {
            // A panic inside aya on a malformed object is that object's error (aborts are what the
            // probe is for).
            crate::probe::contained(|| load_all(program, &bytes, &wanted, pins, kernel)).unwrap_or_else(|said| {
                Err(RunError::LoaderCrashed {
                    object: object.into(),
                    location: location.into(),
                    how: "panicked".into(),
                    said,
                })
            })
        })??;
        let (mut programs, mut extra) = (programs, extra);
        let map_fds = map_fds(&ebpf);
        // Specs that set the clock or random numbers run copies whose helper calls read them instead.
        let control = if program.controls {
            let ctl = sys::one_value_array("xdptest_ctl", (8 * crate::coverage::rewrite::control::WORDS) as u32)
                .map_err(|e| invalid(format!("creating the clock and random number map: {e}")))?;
            for sym in &wanted {
                let fd = controlled(program, &bytes, sym, &map_fds, kernel, ctl.as_raw_fd())?;
                programs.insert(sym.name.clone(), fd.as_raw_fd());
                extra.push(fd);
            }
            Some(ctl)
        } else {
            None
        };
        let control_fd = control.as_ref().map(|c| c.as_raw_fd());
        let counted = options.coverage.then(|| {
            let count = || count_all(program, &bytes, &wanted, &map_fds, kernel, control_fd);
            crate::probe::contained(count).unwrap_or_else(|said| {
                Err(crate::coverage::Unavailable::Rewrite {
                    program: program.name.clone(),
                    reason: format!("the object's loader panicked: {said}"),
                })
            })
        });
        let mut maps = HashMap::new();
        let mut events = crate::emitted::Sources::default();
        for (map_name, map) in ebpf.maps() {
            let events_fail = |os: OsError| RunError::Map {
                map: map_name.to_string(),
                op: crate::error::MapOp::Events,
                location: None,
                os,
                hint: None,
            };
            match map {
                Map::PerfEventArray(d) => {
                    events.add_perf_array(map_name, d.fd().as_fd().as_raw_fd(), ncpus).map_err(events_fail)?;
                    continue;
                }
                Map::RingBuf(d) => {
                    let size = d.info().map_err(|e| invalid(format!("map {map_name}: {e}")))?.max_entries() as usize;
                    events.add_ringbuf(map_name, d.fd().as_fd().as_raw_fd(), size).map_err(events_fail)?;
                    continue;
                }
                _ => {}
            }
            let Some(data) = map_data(map) else { continue };
            let info = data.info().map_err(|e| invalid(format!("map {map_name}: {e}")))?;
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
                // Maps whose entries programs cannot change (devices, CPUs, sockets, programs, maps):
                // resetting deletes what the scenario wrote.
                tracked: matches!(
                    kind,
                    MapKind::Devmap
                        | MapKind::Cpumap
                        | MapKind::Xskmap
                        | MapKind::ProgArray
                        | MapKind::ArrayOfMaps
                        | MapKind::HashOfMaps
                ) || (kind.is_hash_like() && !program.facts.changes_keys),
                written: Vec::new(),
                batch_ok: true,
                logged: false,
                fd_entries: matches!(kind, MapKind::ProgArray | MapKind::ArrayOfMaps | MapKind::HashOfMaps)
                    .then(FdEntries::default),
            };
            m.snapshot(ncpus).map_err(|e| e.into_run(map_name, crate::error::MapOp::Snapshot, None))?;
            maps.insert(map_name.to_string(), m);
        }
        let pending_log =
            (!program.controls && !options.coverage && program.also.is_empty() && worth_logging(program, &maps, ncpus))
                .then(|| {
                    Box::new(PendingLog {
                        program: program.clone(),
                        bytes,
                        sym: wanted[0].clone(),
                        kernel,
                        spent: Duration::ZERO,
                    })
                });
        let mut loaded = LoadedProgram {
            _ebpf: ebpf,
            name: program.name.clone(),
            programs,
            _extra: extra,
            maps,
            ncpus,
            load_time: start.elapsed(),
            prints: program.facts.prints,
            adjusts_meta: program.facts.helpers.contains(&XDP_ADJUST_META),
            frags: program.frags,
            events,
            counted,
            counting: false,
            control,
            logged: None,
            pending_log,
            logging: true,
            unlogged: std::cell::Cell::new(false),
        };
        // Tests: `XDPTEST_KEYLOG=eager` builds the logging copy at once, so that small specs reach it.
        if std::env::var_os("XDPTEST_KEYLOG").is_some_and(|v| v == "eager") {
            loaded.build_logging_copy();
        }
        Ok(loaded)
    }

    /// Sets what the program's clocks read (`clock`): `ns`, or `ns` more than they read now.
    pub fn set_clock(&mut self, ns: u64, advance: bool) -> Result<(), OsError> {
        use crate::coverage::rewrite::control;
        let now = if advance { self.control_word(control::CLOCK)?.unwrap_or(0) } else { 0 };
        self.set_control(control::CLOCK_SET, control::CLOCK, now.saturating_add(ns))
    }

    /// Sets what `bpf_get_prandom_u32` returns (`random`).
    pub fn set_random(&mut self, value: u32) -> Result<(), OsError> {
        use crate::coverage::rewrite::control;
        self.set_control(control::RANDOM_SET, control::RANDOM, u64::from(value))
    }

    /// Word `i` of the control map (`None` without one).
    fn control_word(&self, i: usize) -> Result<Option<u64>, OsError> {
        let Some(c) = &self.control else { return Ok(None) };
        let mut v = vec![0u8; 8 * crate::coverage::rewrite::control::WORDS];
        sys::lookup(c.as_raw_fd(), &0u32.to_ne_bytes(), &mut v)?;
        Ok(Some(u64::from_ne_bytes(v[8 * i..8 * i + 8].try_into().expect("8 bytes"))))
    }

    fn set_control(&mut self, set: usize, at: usize, value: u64) -> Result<(), OsError> {
        let Some(c) = &self.control else {
            return Err(OsError {
                op: "set the clock or random numbers of a program loaded without them".into(),
                errno: 0,
            });
        };
        let mut v = vec![0u8; 8 * crate::coverage::rewrite::control::WORDS];
        sys::lookup(c.as_raw_fd(), &0u32.to_ne_bytes(), &mut v)?;
        v[8 * set..8 * set + 8].copy_from_slice(&1u64.to_ne_bytes());
        v[8 * at..8 * at + 8].copy_from_slice(&value.to_ne_bytes());
        sys::update(c.as_raw_fd(), &0u32.to_ne_bytes(), &v)
    }

    /// Why this load has no counted programs (`None` when it has them, or was not asked for them).
    pub fn coverage_unavailable(&self) -> Option<crate::coverage::Unavailable> {
        match &self.counted {
            Some(Err(u)) => Some(u.clone()),
            _ => None,
        }
    }

    /// Whether counted copies are loaded.
    pub fn can_count(&self) -> bool {
        matches!(self.counted, Some(Ok(_)))
    }

    /// Sends runs to the counted copies (`true`) or the unmodified programs, and zeroes the counters.
    pub fn set_counting(&mut self, on: bool) -> Result<(), OsError> {
        self.counting = on && self.can_count();
        if let Some(Ok(c)) = &self.counted {
            for p in c.programs.values() {
                sys::update(p.counters.as_raw_fd(), &0u32.to_ne_bytes(), &vec![0u8; 8 * p.len.max(1)])?;
            }
        }
        Ok(())
    }

    /// What each counted program counted since [`set_counting`](Self::set_counting).
    pub fn counts(&self) -> Result<std::collections::BTreeMap<String, crate::coverage::ProgramCounts>, OsError> {
        let mut out = std::collections::BTreeMap::new();
        let Some(Ok(c)) = &self.counted else { return Ok(out) };
        for (name, p) in &c.programs {
            let mut value = vec![0u8; 8 * p.len.max(1)];
            sys::lookup(p.counters.as_raw_fd(), &0u32.to_ne_bytes(), &mut value)?;
            let hits = value
                .chunks_exact(8)
                .take(p.len)
                .enumerate()
                .map(|(i, c)| (i as u32, u64::from_ne_bytes(c.try_into().expect("8 bytes"))))
                .filter(|(_, c)| *c != 0)
                .collect();
            out.insert(name.clone(), crate::coverage::ProgramCounts { hits, removed: p.removed.clone() });
        }
        Ok(out)
    }

    /// Whether `map` is one of the object's perf event arrays.
    pub fn is_perf_map(&self, map: &str) -> bool {
        self.events.is_perf(map)
    }

    /// The main program's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The programs loaded, by name.
    pub fn program_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.programs.keys().cloned().collect();
        v.sort();
        v
    }

    /// How many instructions the verifier checked for program `name` (the main program; `None` for
    /// the others, or on kernels before 5.16).
    pub fn verified_insns(&self, name: &str) -> Option<u32> {
        (name == self.name).then(|| self._ebpf.program(name)?.info().ok()?.verified_instruction_count()).flatten()
    }

    /// The kernel's id of program `name`, by which other tools (`bpftool prog run id N`) reach it.
    pub fn program_id(&self, name: &str) -> Option<u32> {
        sys::object_id(self.program_fd(name)?).ok()
    }

    /// The file descriptor of program `name` (the main program or one loaded beside it).
    pub fn program_fd(&self, name: &str) -> Option<RawFd> {
        if let (true, Some(Ok(c))) = (self.counting, &self.counted) {
            return c.programs.get(name).map(|p| p.fd.as_raw_fd());
        }
        if let (true, Some(l)) = (self.logs(name), &self.logged) {
            return Some(l.fd.as_raw_fd());
        }
        self.programs.get(name).copied()
    }

    /// The arrays whose resets restore only the logged and written keys ([`crate::keylog`]).
    pub fn logged_maps(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.logged.iter().flat_map(|l| l.maps.iter().map(|(n, _)| n.as_str())).collect();
        names.sort_unstable();
        names
    }

    /// Whether runs of program `name` go through the logging copy.
    fn logs(&self, name: &str) -> bool {
        self.logging && !self.counting && name == self.name && self.logged.is_some()
    }

    /// Runs one packet through the main program. `ctx` is the raw `struct xdp_md`, when the scenario
    /// gives one.
    pub fn test_run(&self, input: &[u8], ctx: Option<&[u8]>, out: &mut Vec<u8>) -> Result<u32, OsError> {
        self.test_run_of(&self.name, input, ctx, out)
    }

    /// Runs one packet through program `name`.
    pub fn test_run_of(&self, name: &str, input: &[u8], ctx: Option<&[u8]>, out: &mut Vec<u8>) -> Result<u32, OsError> {
        Ok(self.run(name, input, ctx, out)?.0)
    }

    /// Runs `input` through program `name` in live mode (`BPF_F_TEST_XDP_LIVE_FRAMES`): redirected
    /// frames are really sent. Nothing comes back but an error.
    pub fn run_live(&self, name: &str, input: &[u8], ctx: Option<&[u8]>) -> Result<(), OsError> {
        let fd = self.program_fd(name).ok_or_else(|| OsError { op: format!("no program {name} loaded"), errno: 0 })?;
        self.unlogged.set(true);
        sys::test_run(fd, input, &mut [], ctx, None, sys::BPF_F_TEST_XDP_LIVE_FRAMES, 1)?;
        Ok(())
    }

    /// Runs `input` (metadata, then the packet) through program `name`; returns the action and how many
    /// leading bytes of `out` are metadata. With a context, it is read back: after the run its `data`
    /// field says where the packet starts in the output.
    pub fn run(
        &self,
        name: &str,
        input: &[u8],
        ctx: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> Result<(u32, usize), OsError> {
        let fd = self.program_fd(name).ok_or_else(|| OsError { op: format!("no program {name} loaded"), errno: 0 })?;
        if !self.logs(name) {
            self.unlogged.set(true);
        }
        // Room for all the kernel lets a program add: in front, the XDP headroom; behind, up to the end
        // of the page (bpf_xdp_adjust_tail grows into the frame, which for a test run is one page of
        // linear data plus, for multi-buffer programs, 17 fragment pages). A smaller buffer makes the
        // run fail with ENOSPC although the program did nothing wrong.
        const PAGE: usize = 4096;
        const XDP_PACKET_HEADROOM: usize = 256;
        let room = if self.frags { PAGE + 17 * PAGE + XDP_PACKET_HEADROOM } else { PAGE };
        out.clear();
        out.resize(room.max(input.len() + 2 * XDP_PACKET_HEADROOM), 0);
        let mut ctx_out = [0u8; 24];
        let r = sys::test_run(fd, input, out, ctx, ctx.map(|_| &mut ctx_out[..]), 0, 1)?;
        out.truncate(r.data_size_out as usize);
        let meta_len =
            if ctx.is_some() { u32::from_ne_bytes(ctx_out[0..4].try_into().expect("4 bytes")) as usize } else { 0 };
        Ok((r.retval, meta_len))
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

    /// Brings maps of program and map descriptors to what the scenario wrote (see `fd_entries`). Runs,
    /// reads and dumps call it first.
    pub fn sync(&mut self) -> Result<(), RunError> {
        for m in self.maps.values_mut() {
            if let Err((e, location)) = m.sync() {
                let hint = m.refusal_hint(&e);
                return Err(e.into_run(&m.name, crate::error::MapOp::Write, location.as_deref()).with_hint(hint));
            }
        }
        Ok(())
    }

    /// Puts every map that [`dump`](Self::dump) reads back to `state` (a dump taken earlier): entries
    /// added since are deleted (zeroed in arrays), changed ones written back.
    pub fn restore(&mut self, state: &MapsDump) -> Result<(), RunError> {
        let ncpus = self.ncpus;
        let now = self.dump()?;
        for (name, m) in self.maps.iter_mut() {
            let Some(want) = state.get(name) else { continue };
            let have = now.get(name);
            let fail = |e: MapError| e.into_run(name, crate::error::MapOp::Write, None);
            for key in have.into_iter().flat_map(|h| h.keys()).filter(|k| !want.contains_key(*k)) {
                if m.is_array() {
                    let zeros = vec![0u8; m.value_size];
                    m.write(key, &[&zeros], ncpus, false).map_err(fail)?;
                } else {
                    sys::delete(m.fd, key).map_err(|os| fail(MapError::Os(os)))?;
                }
            }
            for (key, values) in want {
                if have.and_then(|h| h.get(key)) == Some(values) {
                    continue;
                }
                let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
                m.write(key, &refs, ncpus, m.is_per_cpu()).map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Resets every map to its state right after loading, and the clock and random numbers to the
    /// kernel's own.
    pub fn reset(&mut self) -> Result<(), RunError> {
        let ncpus = self.ncpus;
        if let Some(c) = &self.control {
            let zero = vec![0u8; 8 * crate::coverage::rewrite::control::WORDS];
            sys::update(c.as_raw_fd(), &0u32.to_ne_bytes(), &zero)
                .map_err(|os| RunError::TestRun { location: String::new(), os })?;
        }
        let start = Instant::now();
        let logged = self.logged_keys().map_err(|os| RunError::TestRun { location: String::new(), os })?;
        for m in self.maps.values_mut() {
            let done = match logged.get(&m.name) {
                Some(Some(keys)) => m.reset_keys(keys, ncpus),
                _ => m.reset(ncpus),
            };
            done.map_err(|e| e.into_run(&m.name, crate::error::MapOp::Reset, None))?;
        }
        self.unlogged.set(false);
        if let Some(p) = &mut self.pending_log {
            p.spent += start.elapsed();
            if p.spent >= self.load_time {
                self.build_logging_copy();
            }
        }
        Ok(())
    }

    /// Builds the logging copy now, if the program can have one and has not yet (tests; resets build
    /// it once full resets have cost as much as the load). Maps are in their state after loading.
    pub fn build_logging_copy(&mut self) {
        let Some(p) = self.pending_log.take() else { return };
        let map_fds = map_fds(&self._ebpf);
        let (maps, ncpus) = (&self.maps, self.ncpus);
        let built =
            crate::probe::contained(|| logging_copy(&p.program, &p.bytes, &p.sym, &map_fds, p.kernel, maps, ncpus));
        if let Ok(Some(l)) = built {
            for (name, _) in &l.maps {
                if let Some(m) = self.maps.get_mut(name) {
                    m.logged = true;
                    m.written.clear();
                }
            }
            self.logged = Some(l);
        }
    }

    /// The keys the logging copy looked up since the last reset, per logged map (`None` for a map
    /// whose log overflowed; nothing at all when a run went elsewhere), the log emptied.
    fn logged_keys(&self) -> Result<HashMap<String, Option<Vec<u32>>>, OsError> {
        let Some(l) = &self.logged else { return Ok(HashMap::new()) };
        let mut log = vec![0u8; l.size];
        sys::lookup(l.log.as_raw_fd(), &0u32.to_ne_bytes(), &mut log)?;
        let any = l.maps.iter().any(|(_, off)| log[*off..*off + 4] != [0; 4]);
        if any {
            sys::update(l.log.as_raw_fd(), &0u32.to_ne_bytes(), &vec![0u8; l.size])?;
        }
        if self.unlogged.get() {
            return Ok(HashMap::new());
        }
        Ok(l.maps
            .iter()
            .map(|(name, off)| (name.clone(), crate::keylog::logged_keys(&log[*off..*off + crate::keylog::SLOT])))
            .collect())
    }
}

/// Arrays smaller than this (entries × CPUs for per-CPU ones) are reset in full: one batch command
/// is then as cheap as reading the log.
const LOG_WORTH: usize = 64;

/// Whether a logging copy could pay: some array large enough, and nothing that rules logging out
/// for the whole program (see [`logging_copy`]).
fn worth_logging(program: &Program, maps: &HashMap<String, LoadedMap>, ncpus: usize) -> bool {
    // Programs that share maps with others, or reach maps through maps, change entries no log sees.
    !program.facts.helpers.contains(&xdptest_compiler::fixture::helper::TAIL_CALL)
        && !maps.values().any(|m| matches!(m.kind, MapKind::ArrayOfMaps | MapKind::HashOfMaps))
        && !log_candidates(maps, ncpus).is_empty()
}

/// The descriptors of the arrays large enough to log (entries × CPUs for per-CPU ones).
fn log_candidates(maps: &HashMap<String, LoadedMap>, ncpus: usize) -> Vec<i32> {
    let slots = |m: &LoadedMap| m.max_entries as usize * if m.is_per_cpu() { ncpus } else { 1 };
    maps.values().filter(|m| m.initial.is_some() && slots(m) >= LOG_WORTH).map(|m| m.fd).collect()
}

/// The logging copy of program `sym` ([`crate::keylog`]) for the arrays of `maps` whose references
/// allow it, loaded onto the same maps; `None` when no array's references allow it or any step fails
/// (the program then runs as loaded, with full resets). Only for programs [`worth_logging`].
fn logging_copy(
    program: &Program,
    bytes: &[u8],
    sym: &btf::ProgramSym,
    map_fds: &HashMap<String, RawFd>,
    kernel: Option<&'static aya::Btf>,
    maps: &HashMap<String, LoadedMap>,
    ncpus: usize,
) -> Option<Logged> {
    let candidates = log_candidates(maps, ncpus);
    let load_as = load_as(sym);
    let r = relocated(bytes, sym, load_as, Some(map_fds), kernel).ok()?;
    let plan = crate::coverage::Plan::new(&r.code).ok()?;
    let keys = crate::keylog::plan(&plan.insns, &plan.cfg, &candidates);
    if keys.maps.is_empty() {
        return None;
    }
    let size = keys.maps.len() * crate::keylog::SLOT;
    let log = sys::one_value_array("xdptest_keys", size as u32).ok()?;
    let opts =
        crate::coverage::rewrite::Options { key_log: Some((log.as_raw_fd(), &keys.sites)), ..Default::default() };
    let code = crate::coverage::rewrite::instrument(&r.code, &plan, &opts, &mut || {
        Err(crate::coverage::Unsupported("no registers are saved for the key log".into()))
    })
    .ok()?;
    let (fd, _) = load_code(program, &r, &code, load_as, false).ok()?;
    let names = keys
        .maps
        .iter()
        .filter_map(|(fd, off)| maps.values().find(|m| m.fd == *fd).map(|m| (m.name.clone(), *off)))
        .collect();
    Some(Logged { fd, log, maps: names, size })
}

/// What a load returns: the object (maps and main program), every wanted program's descriptor, and the
/// descriptors of the programs loaded beside the main one.
type Loaded = (Ebpf, HashMap<String, RawFd>, Vec<OwnedFd>);

/// The kernel's BTF, parsed once per process (`None` when the kernel has none): what CO-RE
/// relocations are resolved against.
pub fn kernel_btf() -> Option<&'static aya::Btf> {
    static KERNEL: std::sync::OnceLock<Option<aya::Btf>> = std::sync::OnceLock::new();
    KERNEL.get_or_init(|| aya::Btf::from_sys_fs().ok()).as_ref()
}

/// Loads the object for `wanted[0]` with aya (maps pinned, if the object asks, in `pins`), then the other
/// wanted programs onto the same maps, with the kernel's BTF for CO-RE objects. Runs in the private
/// bpffs thread.
fn load_all(
    program: &Program,
    bytes: &[u8],
    wanted: &[btf::ProgramSym],
    pins: &Path,
    kernel: Option<&'static aya::Btf>,
) -> Result<Loaded, RunError> {
    let invalid = |reason: String| RunError::ObjectInvalid {
        object: program.object.clone(),
        location: program.location.clone(),
        reason,
    };
    let main = &wanted[0];
    let renamed = crate::elf::rename_for_load(bytes, &main.section, load_as(main)).map_err(|e| invalid(e.0))?;
    let mut loader = EbpfLoader::new();
    // Verbose logs only matter when loading fails; aya retries with a log buffer then. The kernel's
    // BTF only for objects that relocate against it.
    loader
        .verifier_log_level(VerifierLogLevel::DEBUG | VerifierLogLevel::STATS)
        .default_map_pin_directory(pins)
        .btf(kernel);
    // `.rodata` configuration, written into the section before it becomes a frozen map.
    for init in &program.rodata {
        loader.override_global(init.name.as_str(), init.bytes.0.as_slice(), true);
    }
    let mut ebpf = loader.load(&renamed).map_err(|e| ebpf_error(program, e))?;
    let xdp: &mut Xdp = ebpf
        .program_mut(&main.name)
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| invalid(format!("aya does not see `{}` as an XDP program", main.name)))?;
    xdp.load().map_err(|e| program_error(program, &main.name, e))?;
    let fd = xdp.fd().map_err(|e| invalid(e.to_string()))?.as_fd().as_raw_fd();
    let mut programs = HashMap::from([(main.name.clone(), fd)]);
    let mut extra = Vec::new();
    let map_fds = map_fds(&ebpf);
    for other in &wanted[1..] {
        if programs.contains_key(&other.name) {
            continue;
        }
        let fd = load_beside(program, bytes, other, load_as(other), &map_fds)?;
        programs.insert(other.name.clone(), fd.as_raw_fd());
        extra.push(fd);
    }
    Ok((ebpf, programs, extra))
}

/// Program `sym` whose clock and random number calls read the control map `control` once a scenario
/// set them, loaded onto the same maps. Runs use it in place of the unmodified program.
fn controlled(
    program: &Program,
    bytes: &[u8],
    sym: &btf::ProgramSym,
    map_fds: &HashMap<String, RawFd>,
    kernel: Option<&'static aya::Btf>,
    control: RawFd,
) -> Result<OwnedFd, RunError> {
    let invalid = |reason: String| RunError::ObjectInvalid {
        object: program.object.clone(),
        location: program.location.clone(),
        reason: format!("setting the clock and random numbers of `{}`: {reason}", sym.name),
    };
    let load_as = load_as(sym);
    let r = relocated(bytes, sym, load_as, Some(map_fds), kernel).map_err(invalid)?;
    let plan = crate::coverage::Plan::new(&r.code).map_err(|e| invalid(e.0))?;
    let opts = crate::coverage::rewrite::Options { control: Some(control), ..Default::default() };
    let code = crate::coverage::rewrite::instrument(&r.code, &plan, &opts, &mut || {
        Err(crate::coverage::Unsupported("no registers are saved for the clock".into()))
    })
    .map_err(|e| invalid(e.0))?;
    load_code(program, &r, &code, load_as, false).map(|(fd, _)| fd)
}

/// Counted copies of every wanted program (the main one and those beside it), onto the same maps.
fn count_all(
    program: &Program,
    bytes: &[u8],
    wanted: &[btf::ProgramSym],
    map_fds: &HashMap<String, RawFd>,
    kernel: Option<&'static aya::Btf>,
    control: Option<RawFd>,
) -> Result<Counted, crate::coverage::Unavailable> {
    let mut programs = HashMap::new();
    for sym in wanted {
        if programs.contains_key(&sym.name) {
            continue;
        }
        programs.insert(sym.name.clone(), count_one(program, bytes, sym, map_fds, kernel, control)?);
    }
    Ok(Counted { programs })
}

/// Program `sym` with counters added ([`crate::coverage::rewrite`]), loaded.
fn count_one(
    program: &Program,
    bytes: &[u8],
    sym: &btf::ProgramSym,
    map_fds: &HashMap<String, RawFd>,
    kernel: Option<&'static aya::Btf>,
    control: Option<RawFd>,
) -> Result<CountedProgram, crate::coverage::Unavailable> {
    use crate::coverage::{Unavailable, Unsupported};
    let cannot = |reason: String| Unavailable::Rewrite { program: sym.name.clone(), reason };
    let load_as = load_as(sym);
    let r = relocated(bytes, sym, load_as, Some(map_fds), kernel).map_err(cannot)?;
    let plan = crate::coverage::Plan::new(&r.code).map_err(|e| cannot(e.0))?;
    let len = plan.counters();
    let counters = sys::one_value_array("xdptest_cov", (8 * len.max(1)) as u32).map_err(|e| cannot(e.to_string()))?;
    let mut depths = || -> Result<Vec<u32>, Unsupported> {
        let (_, log) = load_code(program, &r, &r.code, load_as, true).map_err(|e| Unsupported(e.to_string()))?;
        crate::coverage::parse_stack_depths(&log)
            .ok_or_else(|| Unsupported("the verifier's statistics name no stack depth".into()))
    };
    let opts = crate::coverage::rewrite::Options {
        counters: Some(counters.as_raw_fd()),
        control,
        break_program: crate::coverage::break_rewrite(),
        key_log: None,
    };
    let code = crate::coverage::rewrite::instrument(&r.code, &plan, &opts, &mut depths).map_err(|e| cannot(e.0))?;
    let (fd, _) = load_code(program, &r, &code, load_as, false).map_err(|e| match e {
        RunError::Verifier { complaint, .. } => Unavailable::Verifier {
            program: sym.name.clone(),
            complaint: (!complaint.is_empty()).then(|| complaint.join(" ")),
        },
        other => cannot(other.to_string()),
    })?;
    // The verifier removes code it proved dead, counters with it: those missing from what it kept.
    let removed = match (sys::prog_xlated(fd.as_raw_fd()), sys::object_id(counters.as_raw_fd())) {
        (Ok(kept), Ok(id)) if !kept.is_empty() => crate::coverage::removed_counters(&kept, id, len),
        _ => Vec::new(),
    };
    Ok(CountedProgram { fd, counters, len, removed })
}

/// The section name a program is loaded under: `xdp.frags` for multi-buffer programs, else `xdp`.
pub(crate) fn load_as(s: &btf::ProgramSym) -> &'static str {
    if s.class() == (SectionClass::Xdp { frags: true }) {
        "xdp.frags"
    } else {
        "xdp"
    }
}

/// Loads program `sym` of the object onto maps that already exist (`map_fds`, by name): aya-obj parses
/// and relocates the object, the kernel gets it through `BPF_PROG_LOAD` with the object's BTF.
fn load_beside(
    program: &Program,
    bytes: &[u8],
    sym: &btf::ProgramSym,
    load_as: &str,
    map_fds: &HashMap<String, RawFd>,
) -> Result<OwnedFd, RunError> {
    let invalid = |reason: String| RunError::ObjectInvalid {
        object: program.object.clone(),
        location: program.location.clone(),
        reason: format!("loading `{}`: {reason}", sym.name),
    };
    let r = relocated(bytes, sym, load_as, Some(map_fds), None).map_err(invalid)?;
    load_code(program, &r, &r.code, load_as, false).map(|(fd, _)| fd)
}

/// A program of an object, relocated as the kernel will get it.
pub(crate) struct Relocated {
    pub code: crate::coverage::Code,
    pub license: std::ffi::CString,
    /// The object's BTF as the kernel takes it, loaded (`None` without BTF).
    pub btf: Option<OwnedFd>,
}

/// Placeholder descriptor for maps when only the shape of the code matters (coverage plans).
const NO_MAP_FD: RawFd = 0x7fff_0000;

/// Program `sym` of the object, its maps relocated onto `map_fds` (maps missing there are left out;
/// with `None`, every map gets a placeholder and no BTF is loaded), its calls linked, and with the
/// kernel's BTF given, its CO-RE relocations applied.
pub(crate) fn relocated(
    bytes: &[u8],
    sym: &btf::ProgramSym,
    load_as: &str,
    map_fds: Option<&HashMap<String, RawFd>>,
    kernel: Option<&aya::Btf>,
) -> Result<Relocated, String> {
    let renamed = crate::elf::rename_for_load(bytes, &sym.section, load_as).map_err(|e| e.0)?;
    let mut obj = aya_obj::Object::parse(&renamed).map_err(|e| e.to_string())?;
    // BTF as the kernel takes it (DATASEC sizes and offsets filled in, as aya does for the main load).
    let features = aya_obj::btf::BtfFeatures::new(true, true, true, true, true, true, true, true);
    let btf_bytes = obj.fixup_and_sanitize_btf(&features).map_err(|e| e.to_string())?.map(|b| b.to_bytes());
    let btf = match (&btf_bytes, map_fds) {
        (Some(b), Some(_)) => Some(sys::btf_load(b).map_err(|os| os.to_string())?),
        _ => None,
    };
    if let Some(k) = kernel {
        obj.relocate_btf(k).map_err(|e| e.to_string())?;
    }
    let maps: Vec<(String, RawFd, aya_obj::Map)> = obj
        .maps
        .iter()
        .filter_map(|(name, m)| match map_fds {
            Some(fds) => fds.get(name).map(|fd| (name.clone(), *fd, m.clone())),
            None => Some((name.clone(), NO_MAP_FD, m.clone())),
        })
        .collect();
    let text_sections = obj.functions.keys().map(|(section, _)| *section).collect();
    obj.relocate_maps(maps.iter().map(|(n, fd, m)| (n.as_str(), *fd, m)), &text_sections).map_err(|e| e.to_string())?;
    obj.relocate_calls(&text_sections).map_err(|e| e.to_string())?;
    let prog = obj.programs.get(&sym.name).ok_or_else(|| "not in the object".to_string())?;
    let function = obj.functions.get(&prog.function_key()).ok_or_else(|| "no code".to_string())?;
    let insns = function
        .instructions
        .iter()
        .map(|i| {
            // SAFETY: `bpf_insn` is a plain 8-byte C struct.
            let b = unsafe { std::slice::from_raw_parts(i as *const _ as *const u8, std::mem::size_of_val(i)) };
            crate::coverage::insn::Insn::decode(b)
        })
        .collect();
    let func_info: Vec<crate::coverage::FuncInfo> = function
        .func_info
        .func_info
        .iter()
        .map(|r| crate::coverage::FuncInfo { insn_off: r.insn_off, type_id: r.type_id })
        .collect();
    let line_info = function
        .line_info
        .line_info
        .iter()
        .map(|r| crate::coverage::LineInfo {
            insn_off: r.insn_off,
            file_name_off: r.file_name_off,
            line_off: r.line_off,
            line_col: r.line_col,
        })
        .collect();
    // Each function's own func info record comes first in it: its type names the linked copies.
    let names_by_type: HashMap<u32, String> = obj
        .functions
        .values()
        .filter_map(|f| f.func_info.func_info.first().map(|r| (r.type_id, f.name.clone())))
        .collect();
    let function_names =
        func_info.iter().filter_map(|f| Some((f.insn_off as usize, names_by_type.get(&f.type_id)?.clone()))).collect();
    let strings = btf_bytes.as_deref().map(btf_strings).unwrap_or_default();
    Ok(Relocated {
        code: crate::coverage::Code { name: sym.name.clone(), insns, func_info, line_info, strings, function_names },
        license: obj.license.clone(),
        btf,
    })
}

/// The string section of raw BTF (`struct btf_header`: magic, version, flags, hdr_len, type_off,
/// type_len, str_off, str_len).
fn btf_strings(btf: &[u8]) -> Vec<u8> {
    let u32_at = |at: usize| btf.get(at..at + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize);
    let (Some(hdr), Some(off), Some(len)) = (u32_at(4), u32_at(16), u32_at(20)) else { return Vec::new() };
    btf.get(hdr + off..hdr + off + len).map(<[u8]>::to_vec).unwrap_or_default()
}

/// `BPF_PROG_LOAD` of `code` (the relocated program `r`, or a rewrite of it); with `stats`, also the
/// verifier's statistics (its log at level 4).
pub(crate) fn load_code(
    program: &Program,
    r: &Relocated,
    code: &crate::coverage::Code,
    load_as: &str,
    stats: bool,
) -> Result<(OwnedFd, String), RunError> {
    let insns = code.insn_bytes();
    let (fi, li) = (code.func_info_bytes(), code.line_info_bytes());
    let with_btf = r.btf.is_some();
    let load = sys::ProgLoad {
        prog_type: BPF_PROG_TYPE_XDP,
        // As aya loads the main program: PROG_ARRAY entries must agree with the programs calling them.
        expected_attach_type: BPF_XDP,
        name: &code.name,
        insns: &insns,
        license: &r.license,
        flags: if load_as == "xdp.frags" { BPF_F_XDP_HAS_FRAGS } else { 0 },
        btf_fd: r.btf.as_ref().map(|f| f.as_raw_fd()),
        func_info: if with_btf { (&fi, 8, code.func_info.len() as u32) } else { (&[], 0, 0) },
        line_info: if with_btf { (&li, 16, code.line_info.len() as u32) } else { (&[], 0, 0) },
    };
    let loaded = if stats { sys::prog_load_stats(&load) } else { sys::prog_load(&load).map(|fd| (fd, String::new())) };
    loaded.map_err(|(os, log)| {
        if RunError::is_denied(&os) && log.trim().is_empty() {
            return RunError::permission(os);
        }
        let v = crate::verifier::parse(&log);
        RunError::Verifier {
            object: program.object.clone(),
            program: code.name.clone(),
            location: program.location.clone(),
            os,
            log,
            complaint: v.complaint,
            at: v.at,
        }
    })
}

/// Every map's descriptor by name, event maps included: what programs loaded beside the main one are
/// relocated onto.
fn map_fds(ebpf: &Ebpf) -> HashMap<String, RawFd> {
    ebpf.maps()
        .filter_map(|(name, m)| any_map_data(m).map(|d| (name.to_string(), d.fd().as_fd().as_raw_fd())))
        .collect()
}

/// Any map's data, event maps included (for relocating programs loaded beside the main one).
fn any_map_data(map: &Map) -> Option<&MapData> {
    match map {
        Map::PerfEventArray(d) | Map::RingBuf(d) => Some(d),
        other => map_data(other),
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
        | Map::Stack(d)
        | Map::ProgramArray(d)
        | Map::ArrayOfMaps(d)
        | Map::HashOfMaps(d)
        | Map::XskMap(d) => Some(d),
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
        return program_error(p, &p.name, pe);
    }
    if let EbpfError::MapError(aya::maps::MapError::CreateError { name, io_error }) = &e {
        let os = OsError::new("BPF_MAP_CREATE", io_error);
        if RunError::is_denied(&os) {
            return RunError::permission(os);
        }
        return RunError::MapCreate { object: p.object.clone(), location: p.location.clone(), map: name.clone(), os };
    }
    match os_cause(&e, "loading") {
        Some(os) if RunError::is_denied(&os) => RunError::permission(os),
        _ => {
            RunError::ObjectInvalid { object: p.object.clone(), location: p.location.clone(), reason: error_chain(&e) }
        }
    }
}

fn program_error(p: &Program, name: &str, e: ProgramError) -> RunError {
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
                program: name.to_string(),
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
    /// The map's file descriptor (a map-of-maps value).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Queues and stacks: no keys, values pushed and popped.
    pub fn is_keyless(&self) -> bool {
        matches!(self.kind, MapKind::Queue | MapKind::Stack)
    }

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

    /// On failure, the error and the spec line that wrote the refused entry.
    fn sync(&mut self) -> Result<(), (MapError, Option<String>)> {
        let Some(e) = &mut self.fd_entries else { return Ok(()) };
        if e.current == e.desired {
            return Ok(());
        }
        for k in e.current.keys().filter(|k| !e.desired.contains_key(*k)) {
            sys::delete(self.fd, k).map_err(|os| (os.into(), None))?;
        }
        for (k, v) in &e.desired {
            if e.current.get(k) != Some(v) {
                if let Err(os) = sys::update(self.fd, k, v) {
                    // What the kernel has now is unknown: forget it, so the next sync writes again.
                    let at = e.written_at.get(k).cloned();
                    e.current.clear();
                    for k in e.desired.keys() {
                        let _ = sys::delete(self.fd, k);
                    }
                    return Err((os.into(), at));
                }
            }
        }
        e.current = e.desired.clone();
        Ok(())
    }

    /// Remembers the spec line that wrote `key`, for maps whose writes the kernel judges later (see
    /// `fd_entries`).
    pub fn written_at(&mut self, key: &[u8], location: &str) {
        if let Some(e) = &mut self.fd_entries {
            e.written_at.insert(key.to_vec(), location.to_string());
        }
    }

    /// What the kernel's refusal `e` of a write means for this map, in the spec's terms.
    pub fn refusal_hint(&self, e: &MapError) -> Option<String> {
        let MapError::Os(os) = e else { return None };
        let n = self.max_entries;
        let hint = match (self.kind, os.errno) {
            (k, libc::E2BIG) if k.is_array() || k == MapKind::ProgArray || k == MapKind::ArrayOfMaps => {
                format!("the index is out of range: its indexes are 0 to {}", n.saturating_sub(1))
            }
            (MapKind::Queue | MapKind::Stack, libc::E2BIG) => {
                format!("the {} is full: it holds {n} values; pop some first", self.kind.name())
            }
            (MapKind::Cpumap, libc::E2BIG) => format!("the map has {n} entries, CPUs 0 to {}", n.saturating_sub(1)),
            (_, libc::E2BIG) => format!(
                "the map is full: it holds at most {n} entries (max_entries), and the writes before this one filled it"
            ),
            (MapKind::Devmap | MapKind::DevmapHash, libc::EINVAL | libc::ENODEV) => "a DEVMAP value is an interface \
                 (its ifindex, and optionally a program of type `xdp/devmap`): write the name of an interface of the \
                 spec's `env`"
                .into(),
            (MapKind::Cpumap, libc::ENODEV) => "no such CPU on this machine".into(),
            (MapKind::Cpumap, libc::EINVAL | libc::EOVERFLOW) => {
                "a CPUMAP value needs a queue size (`{ qsize: 64 }`, 1 to 16384)".into()
            }
            (MapKind::ProgArray, libc::EINVAL) => "a tail-call target must be an XDP program of the same object, \
                 loaded like the caller (a `xdp.frags` program only calls `xdp.frags` programs)"
                .into(),
            (MapKind::ArrayOfMaps | MapKind::HashOfMaps, libc::EINVAL) => {
                "the inner map must have the type, key and value sizes of the outer map's `__array(values, ...)`".into()
            }
            (MapKind::LpmTrie, libc::EINVAL) => {
                "an LPM key starts with a prefix length no larger than the key's address bits".into()
            }
            _ => return None,
        };
        Some(hint)
    }

    /// Note `BPF_F_RDONLY_PROG` only says the *program* cannot write: the kernel sets it on every DEVMAP,
    /// which scenarios do write, so it is no reason to skip a reset (regression: a DEVMAP entry of one
    /// scenario leaked into the next).
    fn reset(&mut self, ncpus: usize) -> Result<(), MapError> {
        if let Some(e) = &mut self.fd_entries {
            e.desired.clear();
            return Ok(());
        }
        if let Some(initial) = &self.initial {
            self.written.clear();
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
                match sys::delete(self.fd, &k) {
                    // Gone already: an XSKMAP entry leaves with its socket, closed at the end of the
                    // scenario that opened it.
                    Err(e) if e.errno == libc::ENOENT => {}
                    r => r?,
                }
            }
            return Ok(());
        }
        if self.kind.is_hash_like() {
            return self.clear(ncpus);
        }
        if self.is_keyless() {
            let mut v = vec![0u8; self.value_size];
            while sys::pop(self.fd, &mut v)? {}
        }
        Ok(())
    }

    /// Restores the entries `keys` (those the logging copy looked up) and those the scenario wrote to
    /// their state after loading.
    fn reset_keys(&mut self, keys: &[u32], ncpus: usize) -> Result<(), MapError> {
        let written = std::mem::take(&mut self.written);
        let Some(initial) = &self.initial else { return self.reset(ncpus) };
        let per = self.value_buffer_len(ncpus);
        let mut done = std::collections::BTreeSet::new();
        let written = written.iter().filter_map(|k| Some(u32::from_ne_bytes(k.get(..4)?.try_into().ok()?)));
        for k in keys.iter().copied().chain(written) {
            if k < self.max_entries && done.insert(k) {
                let at = k as usize * per;
                sys::update(self.fd, &k.to_ne_bytes(), &initial[at..at + per])?;
            }
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
        if let Some(e) = &mut self.fd_entries {
            e.desired.insert(key.to_vec(), first.to_vec());
            return Ok(());
        }
        if self.tracked || self.logged {
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
        // Maps without keys to list, read-only arrays, and maps of descriptors, whose contents only
        // the spec sets (and which the kernel does not read back as written).
        if self.is_keyless()
            || self.fd_entries.is_some()
            || matches!(self.kind, MapKind::BloomFilter | MapKind::Xskmap)
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
        // Queues and stacks are read by popping: consecutive checks see consecutive elements.
        let found = if self.is_keyless() { sys::pop(self.fd, &mut buf)? } else { sys::lookup(self.fd, key, &mut buf)? };
        if !found {
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
