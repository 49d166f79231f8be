//! What running a scenario produced: a [`Verdict`] and, for failures, structured differences that any
//! reporter (terminal, JSON, JUnit) can render. Nothing here knows how it will be displayed.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::error::{RunError, SkipReason};

/// The result of one scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub spec: String,
    pub scenario: String,
    pub verdict: Verdict,
    /// What each run step did, in order (also for passing scenarios: reports and snapshots use it).
    pub runs: Vec<RunRecord>,
    /// Wall time of the scenario, setup included.
    #[serde(with = "micros")]
    pub duration: Duration,
    /// What the scenario covered of its programs, when the run measured coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<crate::coverage::ScenarioCoverage>,
}

/// Durations as whole microseconds (results also travel back from VM guests in this form).
mod micros {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_micros)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// The program did something else than the spec says; every mismatch is listed.
    Fail {
        failures: Vec<Failure>,
    },
    /// The scenario could not be run (load error, environment, input the kernel refuses).
    Error {
        error: RunError,
    },
    /// The scenario needs something this kernel lacks; not a failure.
    Skip {
        reason: SkipReason,
    },
}

impl Verdict {
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }
}

/// One `send`: its input, what came out and the program's action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// `spec.pkt:line:col` of the `send`.
    pub source: String,
    #[serde(with = "hex")]
    pub input: Vec<u8>,
    pub action: u32,
    #[serde(with = "hex")]
    pub output: Vec<u8>,
    /// The XDP metadata in front of the output packet (empty when there is none).
    #[serde(default, with = "hex", skip_serializing_if = "Vec::is_empty")]
    pub meta: Vec<u8>,
    /// Records the run emitted through perf event arrays and ring buffers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventRecord>,
    /// Where an `XDP_REDIRECT` went, when the spec asked (`expect XDP_REDIRECT to ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// Lines the program wrote with `bpf_printk` during this run (captured for programs that call
    /// `bpf_trace_printk`/`bpf_trace_vprintk`; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub printk: Vec<String>,
    /// Why the program's `bpf_printk` lines could not be captured (no tracefs, no permission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printk_error: Option<crate::error::PrintkError>,
    /// Map entries this run changed, in map then key order; `None` when maps were not read (they are
    /// read only when a report needs them: snapshots, `xdptest explain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maps: Option<Vec<MapChange>>,
    /// How long the program takes on this packet, when the run was asked to time (`xdptest bench`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<SendTiming>,
}

/// The kernel's time for one `send` (see [`crate::Timing`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendTiming {
    pub mode: TimingMode,
    /// Nanoseconds per packet, one figure per timed test run, as the kernel measured them.
    pub ns: Vec<u32>,
    /// Timed runs whose action or output differed from the scenario's own run: their figures are
    /// left out of `ns` (they timed another path).
    pub diverged: u32,
    /// What the verifier checked of the program that ran (`verified_insns`), when the kernel says.
    pub verified_insns: Option<u32>,
    /// Why the send was not timed (then `ns` is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// How the runs were timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimingMode {
    /// The program leaves the packet and its maps as they were, so every iteration takes the same
    /// path: one test run repeats it many times, and the kernel's average is one figure.
    Repeat,
    /// The program changes the packet or its maps: each timed run is one iteration from the state
    /// before the send (maps restored), so each takes the scenario's path.
    Fresh,
}

/// One map entry whose value a run changed. Values are one per CPU for per-CPU maps; `None` means no
/// entry (array entries always exist: their absent side is all zeros).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapChange {
    pub map: String,
    pub key: xdptest_compiler::fixture::Bytes,
    pub before: Option<Vec<xdptest_compiler::fixture::Bytes>>,
    pub after: Option<Vec<xdptest_compiler::fixture::Bytes>>,
}

/// Byte strings as lowercase hex.
mod hex {
    use serde::{Deserialize, Deserializer, Serializer};
    use xdptest_compiler::fixture::Bytes;

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&xdptest_compiler::fixture::hex(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Bytes::deserialize(d).map(|b| b.0)
    }
}

/// One way the program's behaviour differs from the spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    Action {
        source: String,
        expected: u32,
        got: u32,
    },
    Packet {
        source: String,
        diff: PacketDiff,
    },
    /// `entry` as the spec writes it: `stats[0]`.
    Map {
        source: String,
        entry: String,
        diff: MapDiff,
    },
    /// Records of an event map (`map` empty: any) that do not meet `expect event` / `expect no event`.
    Event {
        source: String,
        map: String,
        diff: EventDiff,
    },
    /// `expect XDP_REDIRECT to TARGET`: where the frame went instead (`got` says "nowhere" when the
    /// redirect failed).
    Redirect {
        source: String,
        expected: String,
        got: String,
    },
    /// `expect meta == ...`: the metadata the program left differs.
    Meta {
        source: String,
        fields: Vec<FieldDiff>,
        #[serde(with = "hex")]
        expected: Vec<u8>,
        #[serde(with = "hex")]
        got: Vec<u8>,
    },
    /// The scenario's report differs from its accepted snapshot (`snapshot`), or there is none yet
    /// (`missing`, a failure in CI); the new report was written to `pending` for review. `diff` is
    /// line-based: `-` accepted, `+` now.
    Snapshot {
        snapshot: String,
        pending: String,
        missing: bool,
        diff: String,
    },
}

/// An output packet that does not match: field differences by layer, then the bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PacketDiff {
    /// Every mismatching field, outermost layer first.
    pub fields: Vec<FieldDiff>,
    /// Structural differences the field list cannot express (missing layers, extra bytes).
    pub notes: Vec<String>,
    #[serde(with = "hex")]
    pub expected: Vec<u8>,
    #[serde(with = "hex")]
    pub mask: Vec<u8>,
    #[serde(with = "hex")]
    pub got: Vec<u8>,
}

/// `ipv4.ttl: expected 63, got 64`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FieldDiff {
    /// `ipv4`, or `ipv4:2` for the second ipv4 layer.
    pub layer: String,
    pub field: String,
    pub expected: String,
    pub got: String,
}

/// An event record that does not match.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum EventDiff {
    /// A record was expected, none is left.
    Missing,
    /// Records nothing expected, as hex.
    Unexpected { records: Vec<String> },
    /// The next record differs, field by field (`(bytes)` for raw records, `packet` for the appended
    /// packet bytes, `length` for its size).
    Fields { fields: Vec<FieldDiff> },
}

/// A record a run emitted through an event map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub map: String,
    #[serde(with = "hex")]
    pub bytes: Vec<u8>,
}

/// A map entry that does not match.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum MapDiff {
    /// The entry should exist but does not.
    Missing,
    /// The entry should not exist but does.
    Present { value: String },
    /// Field by field (`name` empty for a plain integer value); `cpu` set for per-CPU comparisons.
    Fields { cpu: Option<usize>, fields: Vec<FieldDiff> },
    /// The spec lists values for a different number of CPUs than this machine has.
    CpuCount { expected: usize, got: usize },
}
