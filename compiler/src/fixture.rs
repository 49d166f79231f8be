//! Fixtures: what a scenario compiles to, as bytes and nothing else. This is the contract between the
//! compiler and the runner (and the guest side of VM runs): the runner never sees the `.pkt` language.
//! Fixtures serialize to RON; byte strings are written as hex so a fixture stays readable in review.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One compiled scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fixture {
    /// The spec file, as given on the command line (relative paths stay relative).
    pub spec: String,
    pub scenario: String,
    /// The `##` doc comment above the scenario (Markdown), possibly empty.
    pub description: String,
    pub program: ProgramRef,
    /// The network stage to build before running (empty when the spec declares none).
    #[serde(default)]
    pub env: Vec<EnvItem>,
    /// Map writes, packet runs and map checks, in the order the spec gives them.
    pub steps: Vec<Step>,
    /// `expect snapshot`: the scenario's report must match its stored snapshot (checked by `xdptest run`,
    /// which owns the snapshot files; the runner ignores this). Absent from fixtures that do not say it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub snapshot: bool,
}

/// The program under test.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProgramRef {
    /// Path of the object, resolved against the spec's directory.
    pub object: String,
    /// The hook, `xdp`.
    pub hook: String,
    /// The program (function) name in the object.
    pub name: String,
}

/// One element of a declared network stage (see `env` in the language reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvItem {
    Link { name: String, kind: LinkKind, mac: Option<Bytes>, addrs: Vec<(Bytes, u8)>, mtu: Option<u32> },
    Route { prefix: (Bytes, u8), via: Option<Bytes>, dev: Option<String>, kind: RouteKind },
    Neigh { addr: Bytes, mac: Bytes, dev: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkKind {
    Dummy,
    Veth { peer: String },
    Vlan { parent: String, vid: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteKind {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Write one map entry.
    SetMap { map: String, key: Bytes, value: MapValue },
    /// Run one packet through the program and check what it did.
    Run { input: Bytes, ctx: Ctx, expect: Option<Expectation>, source: String },
    /// Check one map entry (`None`: the entry must not exist).
    CheckMap {
        map: String,
        key: Bytes,
        /// The entry as the spec writes it (`stats[0]`), for reports.
        entry: String,
        expected: Option<ExpectedValue>,
        layout: Vec<ValueField>,
        source: String,
    },
}

/// The `xdp_md` context passed with a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ctx {
    pub ingress: Option<Iface>,
    pub rx_queue: Option<u32>,
}

/// An interface: by index, or by a name that the runner resolves in the spec's network stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Iface {
    Index(u32),
    Name(String),
}

/// What a run must produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// The XDP action number (XDP_ABORTED 0 .. XDP_REDIRECT 4).
    pub action: u32,
    /// The output packet; absent when the spec checks the action only.
    pub packet: Option<Masked>,
}

/// Bytes with a mask: a result byte `b` matches when `b & mask == bytes & mask`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Masked {
    pub bytes: Bytes,
    pub mask: Bytes,
}

impl Masked {
    pub fn exact(bytes: Vec<u8>) -> Self {
        let mask = vec![0xff; bytes.len()];
        Masked { bytes: Bytes(bytes), mask: Bytes(mask) }
    }

    /// Whether `actual` matches: same length, and equal on every masked bit.
    pub fn matches(&self, actual: &[u8]) -> bool {
        actual.len() == self.bytes.0.len()
            && actual.iter().zip(&self.bytes.0).zip(&self.mask.0).all(|((a, e), m)| a & m == e & m)
    }
}

/// A map value to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapValue {
    /// The value (for per-CPU maps: the same value on every CPU).
    All(Bytes),
    /// One value per CPU, CPU 0 first (per-CPU maps only).
    PerCpu(Vec<Bytes>),
}

/// A map value to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedValue {
    /// The value of an ordinary map.
    Exact(Masked),
    /// A per-CPU map, every integer field summed over CPUs.
    Sum(Masked),
    /// A per-CPU map, one value per CPU, CPU 0 first.
    PerCpu(Vec<Masked>),
}

/// One leaf field of a map value's layout, for per-field sums and diffs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueField {
    /// `ue_ip`, `counters[2]`, `inner.flags`; empty for a value that is a plain integer.
    pub name: String,
    pub offset: u32,
    pub size: u32,
    pub kind: FieldRepr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldRepr {
    /// Little-endian (host order) unsigned integer.
    Int,
    /// Big-endian (network order) integer: reached through a `__be16`/`__be32` typedef.
    BigEndian,
    /// Anything else: shown as hex (MACs as MACs when 6 bytes).
    Bytes,
}

/// A byte string, serialized as hex.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({})", hex(&self.0))
    }
}

/// Lowercase hex, no separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() % 2 != 0 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(serde::de::Error::custom("expected an even number of hex digits"));
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

/// Names of the XDP actions, by number.
pub const XDP_ACTIONS: [&str; 5] = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"];

/// `XDP_TX` for 3, the number itself for values without a name.
pub fn action_name(action: u32) -> String {
    XDP_ACTIONS.get(action as usize).map(|s| s.to_string()).unwrap_or_else(|| action.to_string())
}

impl Fixture {
    /// Serializes to RON; stable across runs (no maps with random order, no timestamps).
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::new().struct_names(true))
            .expect("fixtures contain only serializable data")
    }

    pub fn from_ron(text: &str) -> Result<Fixture, ron::error::SpannedError> {
        ron::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ron_round_trip() {
        let f = Fixture {
            spec: "specs/x.pkt".into(),
            scenario: "s".into(),
            description: String::new(),
            program: ProgramRef { object: "p.o".into(), hook: "xdp".into(), name: "xdp_p".into() },
            env: vec![],
            snapshot: false,
            steps: vec![
                Step::SetMap { map: "m".into(), key: Bytes(vec![1, 0, 0, 0]), value: MapValue::All(Bytes(vec![2])) },
                Step::Run {
                    input: Bytes(vec![0xde, 0xad]),
                    ctx: Ctx { ingress: Some(Iface::Name("eth0".into())), rx_queue: Some(1) },
                    expect: Some(Expectation { action: 3, packet: Some(Masked::exact(vec![0xbe, 0xef])) }),
                    source: "x.pkt:3:3".into(),
                },
            ],
        };
        let text = f.to_ron();
        assert!(text.contains("\"dead\""), "{text}");
        assert_eq!(Fixture::from_ron(&text).unwrap(), f);
    }

    #[test]
    fn masked_matching() {
        let m = Masked { bytes: Bytes(vec![0x12, 0x34]), mask: Bytes(vec![0xff, 0x0f]) };
        assert!(m.matches(&[0x12, 0xf4]));
        assert!(!m.matches(&[0x12, 0x35]));
        assert!(!m.matches(&[0x12]));
    }
}
