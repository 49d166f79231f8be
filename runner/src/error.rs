//! Why a scenario could not run ([`RunError`]) or was skipped ([`SkipReason`]): typed, serializable data
//! that crosses from the runner (also inside a VM guest) to the reporters. Every variant carries the
//! structured fields a reporter needs (the object, the map, the spec location, the operation and errno);
//! the sentence is only their `Display`. Nothing anywhere decides by matching the text.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

/// An operating-system error: what was attempted and the errno it failed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsError {
    /// What failed, in the kernel's or the tool's terms: `BPF_MAP_UPDATE_ELEM`, `open /sys/...`.
    pub op: String,
    /// The errno (0 when the failure had none, e.g. a short read).
    pub errno: i32,
}

impl OsError {
    pub fn new(op: impl Into<String>, e: &io::Error) -> OsError {
        OsError { op: op.into(), errno: e.raw_os_error().unwrap_or(0) }
    }

    pub fn errno(op: impl Into<String>, errno: i32) -> OsError {
        OsError { op: op.into(), errno }
    }

    /// `EPERM`, `E2BIG`, ... (the number for errnos without a well-known name).
    pub fn errno_name(&self) -> String {
        let name = match self.errno {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::EINTR => "EINTR",
            libc::EIO => "EIO",
            libc::E2BIG => "E2BIG",
            libc::EBADF => "EBADF",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::ENODEV => "ENODEV",
            libc::EINVAL => "EINVAL",
            libc::ENOSPC => "ENOSPC",
            libc::ERANGE => "ERANGE",
            libc::ENOSYS => "ENOSYS",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::ENOTSUP_KERNEL => "ENOTSUPP",
            _ => return format!("errno {}", self.errno),
        };
        name.to_string()
    }
}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errno == 0 {
            return write!(f, "{} failed", self.op);
        }
        let text = io::Error::from_raw_os_error(self.errno).to_string();
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        write!(f, "{}: {text} ({})", self.op, self.errno_name())
    }
}

/// `ENOTSUPP` (524) is kernel-internal, so not in libc.
mod libc {
    pub use ::libc::*;
    pub const ENOTSUP_KERNEL: i32 = 524;
}

/// What map operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapOp {
    /// A `map` statement of the spec.
    Write,
    /// An `expect map`.
    Read,
    /// Restoring the map's state after loading, before a scenario.
    Reset,
    /// Reading the map right after loading.
    Snapshot,
    /// Reading every entry, for a report.
    Dump,
    /// Opening readers for a perf event array or ring buffer.
    Events,
}

impl fmt::Display for MapOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MapOp::Write => "writing",
            MapOp::Read => "reading",
            MapOp::Reset => "resetting",
            MapOp::Snapshot => "reading the loaded state of",
            MapOp::Dump => "dumping",
            MapOp::Events => "opening the event readers of",
        })
    }
}

/// The part of a map entry that has the wrong size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryPart {
    Key,
    Value,
}

/// Where a verifier rejection points in the C source: the last source line its log cites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLine {
    /// The file as the log names it (a base name).
    pub file: String,
    pub line: u32,
    /// The code on that line, as the log quotes it.
    pub code: String,
}

/// Why a scenario could not be run. An error is the environment's or the input's fault, not the
/// program's: exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunError {
    /// The object file cannot be read.
    #[error("cannot read {object}: {os}")]
    ObjectUnreadable { object: String, location: String, os: OsError },
    /// The object is not one the loader can use (broken ELF or BTF, an unsupported construct).
    #[error("cannot load {object}: {reason}")]
    ObjectInvalid { object: String, location: String, reason: String },
    /// Loading the object crashed the loader (aya): a malformed object that it does not reject
    /// cleanly. `how` it ended (panicked, killed by a signal), and what it `said` last.
    #[error("cannot load {object}: the loader crashed on it ({how}){}; the object is malformed", if .said.is_empty() { String::new() } else { format!(": {said}") })]
    LoaderCrashed { object: String, location: String, how: String, said: String },
    /// The kernel refused for lack of privileges.
    #[error("permission denied ({os}): xdptest run needs root, or the capabilities {}", .needs.join(", "))]
    Permission { os: OsError, needs: Vec<String> },
    /// The object has no such program.
    #[error("{object} has no program `{program}`{}", if .available.is_empty() { String::new() } else { format!(" (it has: {})", .available.join(", ")) })]
    NoProgram { object: String, location: String, program: String, available: Vec<String> },
    /// The program is of another type.
    #[error("`{program}` in {object} is not an XDP program")]
    NotXdp { object: String, location: String, program: String },
    /// The private bpffs that object loads pin into could not be set up.
    #[error("cannot load in isolation (`{step}`: {os}): xdptest pins maps only in a private bpffs")]
    Isolation { step: String, os: OsError },
    /// The kernel could not create a map of the object.
    #[error("cannot create map `{map}` of {object}: {os}")]
    MapCreate { object: String, location: String, map: String, os: OsError },
    /// The verifier rejected the program.
    #[error("the verifier rejected `{program}` in {object}: {os}")]
    Verifier {
        object: String,
        program: String,
        location: String,
        os: OsError,
        /// The verifier's whole log.
        log: String,
        /// Its complaint: the lines after the last instruction, before the statistics.
        complaint: Vec<String>,
        /// The C line it stopped at, when the object has line info.
        at: Option<SourceLine>,
    },
    /// The loaded program has no map a step names (the fixture was compiled against another object).
    #[error("the loaded program has no map `{map}` (it has: {}); recompile the specs against this object", .available.join(", "))]
    NoMap { map: String, available: Vec<String> },
    /// A key or value has another size than the loaded map's (the fixture was compiled against another
    /// object).
    #[error("map {map}: the fixture's {part:?} has {got} bytes, the loaded map's has {want} (recompile the specs against this object)")]
    EntrySize { map: String, part: EntryPart, got: usize, want: usize },
    /// The spec gives values for more CPUs than this machine has.
    #[error("{location}: the spec gives {given} per-CPU values for map {map}, this machine has {cpus} CPUs")]
    CpuCount { map: String, location: String, given: usize, cpus: usize },
    /// A map operation failed. `hint` says what the kernel's errno means for this kind of map, when
    /// that is known (a full hash map, a DEVMAP value that is not an interface).
    #[error("{}{op} map {map}: {os}{}", .location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default(),
        .hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Map {
        map: String,
        op: MapOp,
        location: Option<String>,
        os: OsError,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
    /// A map entry names an interface the stage does not have.
    #[error("{location}: interface {iface} is not part of the spec's network stage")]
    UnknownInterface { location: String, iface: String },
    /// The network stage could not be built: `step` is the operation, `location` the `env` line.
    #[error("{}setting up the network stage failed at `{step}`: {os}", .location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
    Stage { step: String, location: Option<String>, os: OsError },
    /// Moving into the network stage failed.
    #[error("cannot enter the network stage: {os}")]
    EnterStage { os: OsError },
    /// The kernel refused the `xdp_md` context of a send.
    #[error("{location}: the kernel refused the xdp_md context ({os}): the ingress interface must exist in the stage and the rx queue must be below its queue count")]
    Context { location: String, os: OsError },
    /// `BPF_PROG_TEST_RUN` failed.
    #[error("{location}: {os}")]
    TestRun { location: String, os: OsError },
    /// The VM that ran the scenario failed (see [`VmFailure`]).
    #[error("VM on {kernel}: {failure}")]
    Vm { kernel: String, failure: VmFailure },
    /// The scenario's snapshot file could not be read or written.
    #[error("snapshot {path}: {os}")]
    Snapshot { path: String, os: OsError },
    /// The file where the scenario's accepted snapshot belongs is not a snapshot (no `---` front
    /// matter): left alone rather than compared with, or overwritten by, the report.
    #[error("{path} is not a snapshot file (it has no `---` front matter): move it away, or delete it to record a new snapshot")]
    NotASnapshot { path: String },
}

impl RunError {
    /// The permission error for a refused operation.
    /// A refused BPF operation (loading, maps, test runs): XDP programs need CAP_BPF and CAP_NET_ADMIN.
    pub fn permission(os: OsError) -> RunError {
        Self::permission_for(os, &["CAP_BPF", "CAP_NET_ADMIN"])
    }

    /// A refused operation and the capabilities it takes (a private mount namespace and bpffs for
    /// pinned maps, or a network namespace for `env`, take CAP_SYS_ADMIN).
    pub fn permission_for(os: OsError, needs: &[&str]) -> RunError {
        RunError::Permission { os, needs: needs.iter().map(|s| s.to_string()).collect() }
    }

    /// Whether this is an `EPERM`/`EACCES` from the kernel (callers turn these into [`RunError::Permission`]).
    pub fn is_denied(os: &OsError) -> bool {
        matches!(os.errno, ::libc::EPERM | ::libc::EACCES)
    }

    /// Adds what a map error means, when that is known (see [`RunError::Map`]).
    pub fn with_hint(mut self, with: Option<String>) -> RunError {
        if let RunError::Map { hint, .. } = &mut self {
            *hint = with;
        }
        self
    }

    /// The object this error is about, with its location in the spec, for reporters that point there.
    pub fn object_location(&self) -> Option<(&str, &str)> {
        match self {
            RunError::ObjectUnreadable { object, location, .. }
            | RunError::ObjectInvalid { object, location, .. }
            | RunError::LoaderCrashed { object, location, .. }
            | RunError::MapCreate { object, location, .. }
            | RunError::NoProgram { object, location, .. }
            | RunError::NotXdp { object, location, .. }
            | RunError::Verifier { object, location, .. } => Some((object, location)),
            _ => None,
        }
    }

    /// Replaces the object path wherever this error names it (VM guests see objects under other paths).
    pub fn rename_object(&mut self, from: &str, to: &str) {
        match self {
            RunError::ObjectUnreadable { object, .. }
            | RunError::ObjectInvalid { object, .. }
            | RunError::LoaderCrashed { object, .. }
            | RunError::NoProgram { object, .. }
            | RunError::NotXdp { object, .. }
            | RunError::MapCreate { object, .. }
            | RunError::Verifier { object, .. }
                if object == from =>
            {
                *object = to.to_string()
            }
            _ => {}
        }
    }
}

/// Why a scenario was skipped: it needs something this kernel lacks. Not a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// The kernel has no driver for a link type of the stage (a `vlan` link without 8021q).
    #[error("{}this kernel has no driver for `{step}` ({os})", .location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
    NoLinkDriver { step: String, location: Option<String>, os: OsError },
    /// The kernel is older than a feature the scenario uses.
    #[error("{location}: this kernel cannot {feature} (needs Linux {needs})")]
    KernelTooOld { location: String, feature: String, needs: String },
}

/// Why a program's `bpf_printk` lines could not be captured (the scenario still runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrintkError {
    /// No tracefs, and it cannot be mounted.
    #[error("tracefs is not mounted and cannot be mounted on /sys/kernel/tracing ({os})")]
    NoTracefs { os: OsError },
    /// The kernel has no `bpf_trace_printk` trace event.
    #[error("this kernel has no bpf_trace_printk trace event (Linux 5.10 or newer has it)")]
    NoEvent,
    /// Setting up this thread's trace instance failed.
    #[error("cannot set up the trace instance: {os}")]
    Setup { os: OsError },
    /// Reading the trace pipe failed.
    #[error("reading the trace pipe: {os}")]
    Read { os: OsError },
}

/// Why a VM did not deliver (all of) its results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VmFailure {
    /// Preparing the VM failed (writing its initramfs, ...).
    #[error("preparing the VM failed: {os}")]
    Prepare { os: OsError },
    /// qemu could not be started.
    #[error("cannot start {qemu}: {os}")]
    Spawn { qemu: String, os: OsError },
    /// No guest start record within the boot deadline.
    #[error("hung during boot: no start record after {secs} s")]
    BootTimeout { secs: u64 },
    /// Results stopped coming within the run deadline.
    #[error("hung while running: {received} of {expected} results after {secs} s")]
    RunTimeout { received: usize, expected: usize, secs: u64 },
    /// The guest kernel panicked.
    #[error("kernel panic: {line}")]
    KernelPanic { line: String },
    /// The guest ran out of memory.
    #[error("out of memory ({mib} MiB)")]
    OutOfMemory { mib: u64 },
    /// qemu exited before the guest started, saying why.
    #[error("qemu failed ({status}): {stderr}")]
    QemuFailed { status: String, stderr: String },
    /// The qemu process died (killed, or it crashed) before the guest finished: results received
    /// before that are kept.
    #[error("the qemu process died ({status}) after {received} of {expected} results")]
    QemuDied { status: String, received: usize, expected: usize },
    /// The guest stopped during boot.
    #[error("the VM stopped during boot, before the guest started")]
    StoppedDuringBoot,
    /// The guest reported that it cannot run the suite: what it was doing, and why.
    #[error("the guest could not {step}: {}", match .os { Some(os) => os.to_string(), None => .detail.clone() })]
    Guest { step: String, os: Option<OsError>, detail: String },
    /// The guest binary speaks another protocol.
    #[error("the guest binary speaks protocol {guest}, this xdptest {host}")]
    Protocol { guest: u32, host: u32 },
    /// Damaged records on the results channel.
    #[error("the results channel was garbled ({records} damaged records)")]
    Garbled { records: usize },
    /// The guest finished without sending every result.
    #[error("incomplete results: {received} of {expected} scenarios arrived, the guest claims {claimed}")]
    Incomplete { received: usize, expected: usize, claimed: usize },
    /// The saved state of a booted guest could not be saved or restored (see `xdptest_vm::warm`): the
    /// step, and what qemu or the guest said.
    #[error("the saved VM state could not be {step}: {reason}")]
    WarmStart { step: String, reason: String },
    /// The run was interrupted.
    #[error("interrupted")]
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_well() {
        let e = OsError::errno("BPF_MAP_UPDATE_ELEM", libc::E2BIG);
        assert_eq!(e.to_string(), "BPF_MAP_UPDATE_ELEM: Argument list too long (E2BIG)");
        assert_eq!(OsError::errno("x", 524).errno_name(), "ENOTSUPP");
        assert_eq!(OsError::errno("x", 0).to_string(), "x failed");
    }

    #[test]
    fn errors_are_data() {
        let e = RunError::Map {
            map: "stats".into(),
            op: MapOp::Write,
            location: Some("s.pkt:3:3".into()),
            os: OsError::errno("BPF_MAP_UPDATE_ELEM", libc::E2BIG),
            hint: None,
        };
        assert_eq!(e.to_string(), "s.pkt:3:3: writing map stats: BPF_MAP_UPDATE_ELEM: Argument list too long (E2BIG)");
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"kind\":\"map\"") && json.contains("\"errno\":7"), "{json}");
        assert_eq!(serde_json::from_str::<RunError>(&json).unwrap(), e);
    }
}
