//! What running a scenario produced: a [`Verdict`] and, for failures, structured differences that any
//! reporter (terminal, JSON, JUnit) can render. Nothing here knows how it will be displayed.

use serde::Serialize;
use std::time::Duration;

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub spec: String,
    pub scenario: String,
    pub verdict: Verdict,
    /// What each run step did, in order (also for passing scenarios: reports and snapshots use it).
    pub runs: Vec<RunRecord>,
    /// Wall time of the scenario, setup included.
    #[serde(serialize_with = "micros")]
    pub duration: Duration,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros() as u64)
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// The program did something else than the spec says; every mismatch is listed.
    Fail {
        failures: Vec<Failure>,
    },
    /// The scenario could not be run (load error, missing kernel feature, environment).
    Error {
        message: String,
    },
    /// The scenario needs something this kernel lacks; not a failure.
    Skip {
        reason: String,
    },
}

impl Verdict {
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }
}

/// One `send`: its input, what came out and the program's action.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// `spec.pkt:line:col` of the `send`.
    pub source: String,
    #[serde(serialize_with = "hex")]
    pub input: Vec<u8>,
    pub action: u32,
    #[serde(serialize_with = "hex")]
    pub output: Vec<u8>,
}

fn hex<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&xdptest_compiler::fixture::hex(b))
}

/// One way the program's behaviour differs from the spec.
#[derive(Debug, Clone, Serialize)]
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
}

/// An output packet that does not match: field differences by layer, then the bytes.
#[derive(Debug, Clone, Serialize)]
pub struct PacketDiff {
    /// Every mismatching field, outermost layer first.
    pub fields: Vec<FieldDiff>,
    /// Structural differences the field list cannot express (missing layers, extra bytes).
    pub notes: Vec<String>,
    #[serde(serialize_with = "hex")]
    pub expected: Vec<u8>,
    #[serde(serialize_with = "hex")]
    pub mask: Vec<u8>,
    #[serde(serialize_with = "hex")]
    pub got: Vec<u8>,
}

/// `ipv4.ttl: expected 63, got 64`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldDiff {
    /// `ipv4`, or `ipv4:2` for the second ipv4 layer.
    pub layer: String,
    pub field: String,
    pub expected: String,
    pub got: String,
}

/// A map entry that does not match.
#[derive(Debug, Clone, Serialize)]
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
