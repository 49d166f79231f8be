//! Fixtures: what a scenario compiles to. This is the contract between the compiler and everything after
//! it (the runner, the VM guest, the reporters): none of them sees the `.pkt` language or reopens the
//! program object for a fact the compiler already read. A fixture is self-describing:
//!
//! - bytes to send and expect (with bit masks for wildcards), map keys and values as the kernel stores
//!   them;
//! - where each interface name stands in a map entry ([`IfaceSlot`]), since only the runner, which builds
//!   the network stage, knows the ifindex;
//! - the program's facts ([`ProgramFacts`]) and every map's layout ([`MapInfo`]), so the runner knows how
//!   to reset maps and reporters know how to show values without reading BTF again;
//! - how the author wrote each checked value ([`FieldRepr`]), so a difference reads the way it was
//!   written (an address as an address).
//!
//! Fixtures serialize to RON; byte strings are written as hex so a fixture stays readable in review.
//! Programs and network stages are shared (`Arc`) by the fixtures of one spec.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// One compiled scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fixture {
    /// The spec file, as given on the command line (relative paths stay relative).
    pub spec: String,
    pub scenario: String,
    /// `spec.pkt:LINE:COL` of the scenario's name.
    pub location: String,
    /// The `##` doc comment above the scenario (Markdown), possibly empty.
    pub description: String,
    pub program: Arc<Program>,
    /// The network stage to build before running (empty when the spec declares none).
    #[serde(default)]
    pub env: Arc<Vec<EnvDecl>>,
    /// Map writes, packet runs and map checks, in the order the spec gives them.
    pub steps: Vec<Step>,
    /// `expect snapshot`: the scenario's report must match its stored snapshot (checked by `xdptest run`,
    /// which owns the snapshot files; the runner ignores this). Absent from fixtures that do not say it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub snapshot: bool,
}

/// The program under test, and what the compiler learnt about it from its object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Program {
    /// Path of the object, resolved against the spec's directory.
    pub object: String,
    /// The hook, `xdp`.
    pub hook: String,
    /// The program (function) name in the object.
    pub name: String,
    /// Its ELF section, as written in `SEC()` (`xdp`, `xdp.frags`, or a legacy name like
    /// `xdp_patch_ports`, which loads as XDP because the hook says so).
    #[serde(default)]
    pub section: String,
    /// A multi-buffer program (`SEC("xdp.frags")`): loaded with `BPF_F_XDP_HAS_FRAGS`, it takes packets
    /// larger than a page.
    #[serde(default)]
    pub frags: bool,
    /// Other programs of the object the spec uses (tail-call targets in a `PROG_ARRAY`, or sent to),
    /// loaded beside this one and sharing its maps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// `.rodata` variables set before the load (`global NAME = VALUE` of `const volatile` knobs): fixed
    /// at load, where the verifier prunes code on their values, so each distinct set is its own load.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rodata: Vec<GlobalInit>,
    /// `spec.pkt:LINE:COL` of the `program` line, where problems with the object are located.
    pub location: String,
    /// The spec sets the clock or the random numbers the program reads (`clock`, `random`): the
    /// runner loads copies whose calls of those helpers return what the scenario set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub controls: bool,
    pub facts: ProgramFacts,
    /// Every map the object declares, in declaration order.
    pub maps: Vec<MapInfo>,
}

impl Program {
    /// The map declared as `name`.
    pub fn map(&self, name: &str) -> Option<&MapInfo> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// Whether two programs are the same load: the same program of the same object.
    pub fn same_load(&self, other: &Program) -> bool {
        self.object == other.object
            && self.name == other.name
            && self.hook == other.hook
            && self.also == other.also
            && self.rodata == other.rodata
            && self.controls == other.controls
    }
}

/// Facts about the program's code, read from its instructions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProgramFacts {
    /// The program can add or remove map entries itself (it calls `bpf_map_update_elem`,
    /// `bpf_map_delete_elem`, `bpf_map_push_elem` or `bpf_map_pop_elem`). When it cannot, resetting a
    /// hash map only needs to delete the keys the scenario wrote.
    pub changes_keys: bool,
    /// The program prints with `bpf_printk` (`bpf_trace_printk` or `bpf_trace_vprintk`).
    pub prints: bool,
    /// Every BPF helper the object's code calls, by id, sorted.
    pub helpers: Vec<u32>,
    /// The C source files of the object's BTF line info, as clang was given them (for locating
    /// verifier complaints in the source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_files: Vec<String>,
}

/// BPF helper ids (`enum bpf_func_id`) the compiler looks for.
pub mod helper {
    pub const MAP_LOOKUP_ELEM: u32 = 1;
    pub const MAP_UPDATE_ELEM: u32 = 2;
    pub const KTIME_GET_NS: u32 = 5;
    pub const GET_PRANDOM_U32: u32 = 7;
    pub const KTIME_GET_BOOT_NS: u32 = 125;
    pub const KTIME_GET_COARSE_NS: u32 = 160;
    /// The clocks `clock` sets.
    pub const CLOCKS: [u32; 3] = [KTIME_GET_NS, KTIME_GET_BOOT_NS, KTIME_GET_COARSE_NS];
    pub const MAP_DELETE_ELEM: u32 = 3;
    pub const TAIL_CALL: u32 = 12;
    pub const TRACE_PRINTK: u32 = 6;
    pub const MAP_PUSH_ELEM: u32 = 87;
    pub const MAP_POP_ELEM: u32 = 88;
    pub const TRACE_VPRINTK: u32 = 177;
}

impl ProgramFacts {
    /// The facts that follow from the helpers a program calls and its source files.
    pub fn new(helpers: Vec<u32>, source_files: Vec<String>) -> ProgramFacts {
        use helper::*;
        let changes_keys =
            helpers.iter().any(|h| matches!(*h, MAP_UPDATE_ELEM | MAP_DELETE_ELEM | MAP_PUSH_ELEM | MAP_POP_ELEM));
        let prints = helpers.iter().any(|h| matches!(*h, TRACE_PRINTK | TRACE_VPRINTK));
        ProgramFacts { changes_keys, prints, helpers, source_files }
    }
}

/// One map of the program: its kind and the layout of its keys and values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MapInfo {
    pub name: String,
    pub kind: MapKind,
    pub max_entries: u32,
    /// Sizes as declared (for per-CPU maps: one CPU's value).
    pub key_size: u32,
    pub value_size: u32,
    /// Leaf fields of the key and the value (empty when the object gives no type).
    pub key: Vec<ValueField>,
    pub value: Vec<ValueField>,
    /// Declared with `LIBBPF_PIN_BY_NAME`: loading needs a (private) bpffs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
}

/// `enum bpf_map_type`. The one definition of what each kind is (per-CPU, array, ...) for the compiler,
/// the runner and the reporters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapKind {
    Unspec,
    Hash,
    Array,
    ProgArray,
    PerfEventArray,
    PercpuHash,
    PercpuArray,
    StackTrace,
    CgroupArray,
    LruHash,
    LruPercpuHash,
    LpmTrie,
    ArrayOfMaps,
    HashOfMaps,
    Devmap,
    Sockmap,
    Cpumap,
    Xskmap,
    Sockhash,
    CgroupStorage,
    ReuseportSockarray,
    PercpuCgroupStorage,
    Queue,
    Stack,
    SkStorage,
    DevmapHash,
    StructOps,
    Ringbuf,
    InodeStorage,
    TaskStorage,
    BloomFilter,
    UserRingbuf,
    CgrpStorage,
    Arena,
    /// A number this version does not know.
    Other(u32),
}

impl MapKind {
    /// Every known kind, by its `enum bpf_map_type` value.
    pub const KNOWN: [MapKind; 34] = [
        MapKind::Unspec,
        MapKind::Hash,
        MapKind::Array,
        MapKind::ProgArray,
        MapKind::PerfEventArray,
        MapKind::PercpuHash,
        MapKind::PercpuArray,
        MapKind::StackTrace,
        MapKind::CgroupArray,
        MapKind::LruHash,
        MapKind::LruPercpuHash,
        MapKind::LpmTrie,
        MapKind::ArrayOfMaps,
        MapKind::HashOfMaps,
        MapKind::Devmap,
        MapKind::Sockmap,
        MapKind::Cpumap,
        MapKind::Xskmap,
        MapKind::Sockhash,
        MapKind::CgroupStorage,
        MapKind::ReuseportSockarray,
        MapKind::PercpuCgroupStorage,
        MapKind::Queue,
        MapKind::Stack,
        MapKind::SkStorage,
        MapKind::DevmapHash,
        MapKind::StructOps,
        MapKind::Ringbuf,
        MapKind::InodeStorage,
        MapKind::TaskStorage,
        MapKind::BloomFilter,
        MapKind::UserRingbuf,
        MapKind::CgrpStorage,
        MapKind::Arena,
    ];

    pub fn from_raw(n: u32) -> MapKind {
        MapKind::KNOWN.get(n as usize).copied().unwrap_or(MapKind::Other(n))
    }

    pub fn raw(self) -> u32 {
        match self {
            MapKind::Other(n) => n,
            known => MapKind::KNOWN.iter().position(|k| *k == known).expect("every known kind is listed") as u32,
        }
    }

    /// The name as in `BPF_MAP_TYPE_*`, lower-case: `hash`, `percpu_array`, `lpm_trie`, ... (`unknown`
    /// for numbers this version does not know).
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 34] = [
            "unspec",
            "hash",
            "array",
            "prog_array",
            "perf_event_array",
            "percpu_hash",
            "percpu_array",
            "stack_trace",
            "cgroup_array",
            "lru_hash",
            "lru_percpu_hash",
            "lpm_trie",
            "array_of_maps",
            "hash_of_maps",
            "devmap",
            "sockmap",
            "cpumap",
            "xskmap",
            "sockhash",
            "cgroup_storage",
            "reuseport_sockarray",
            "percpu_cgroup_storage",
            "queue",
            "stack",
            "sk_storage",
            "devmap_hash",
            "struct_ops",
            "ringbuf",
            "inode_storage",
            "task_storage",
            "bloom_filter",
            "user_ringbuf",
            "cgrp_storage",
            "arena",
        ];
        match self {
            MapKind::Other(_) => "unknown",
            known => NAMES[known.raw() as usize],
        }
    }

    /// Each key holds one value per CPU.
    pub fn is_per_cpu(self) -> bool {
        matches!(
            self,
            MapKind::PercpuHash | MapKind::PercpuArray | MapKind::LruPercpuHash | MapKind::PercpuCgroupStorage
        )
    }

    /// Keys are `0..max_entries` and every entry always exists.
    pub fn is_array(self) -> bool {
        matches!(self, MapKind::Array | MapKind::PercpuArray)
    }

    /// Entries come and go: emptying means deleting keys.
    pub fn is_hash_like(self) -> bool {
        matches!(
            self,
            MapKind::Hash
                | MapKind::PercpuHash
                | MapKind::LruHash
                | MapKind::LruPercpuHash
                | MapKind::LpmTrie
                | MapKind::DevmapHash
        )
    }

    /// Keys start with a `__u32` prefix length.
    pub fn is_lpm(self) -> bool {
        self == MapKind::LpmTrie
    }
}

impl fmt::Display for MapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapKind::Other(n) => write!(f, "map type {n}"),
            known => f.write_str(known.name()),
        }
    }
}

/// One line of an `env` block: what to build, and where the spec says so (for errors the kernel gives).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvDecl {
    pub item: EnvItem,
    /// `spec.pkt:LINE:COL` of the line.
    pub location: String,
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
    SetMap {
        map: String,
        key: Bytes,
        value: MapValue,
        /// Interface names in the key or value, filled in with their ifindex by the runner.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ifaces: Vec<IfaceSlot>,
        /// `spec.pkt:LINE:COL` of the `map` statement, for errors the kernel gives when writing.
        location: String,
        /// Where the spec wrote an address or a MAC into a field of another type (`10.0.0.1` into a
        /// `__u32`), so that reports show it as written.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        shown: Vec<ShownAs>,
    },
    /// Run one packet through the program and check what it did.
    Run {
        input: Bytes,
        ctx: Ctx,
        expect: Option<Expectation>,
        source: String,
        /// What the spec states about `input`, layer by layer (see [`WrittenLayer`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        written: Vec<WrittenLayer>,
    },
    /// From here on, the program's clocks (`bpf_ktime_get_ns`, `bpf_ktime_get_boot_ns`,
    /// `bpf_ktime_get_coarse_ns`) read `ns`; with `advance`, they read `ns` more than they did.
    SetClock { ns: u64, advance: bool, location: String },
    /// From here on, `bpf_get_prandom_u32` returns `value`.
    SetRandom { value: u32, location: String },
    /// Check the next record the sends so far emitted through a perf event array or ring buffer
    /// (`None`: there must be none left).
    CheckEvent { map: String, expected: Option<ExpectedEvent>, source: String },
    /// Check one map entry (`None`: the entry must not exist).
    CheckMap {
        map: String,
        key: Bytes,
        /// The entry as the spec writes it (`stats[0]`), for reports.
        entry: String,
        expected: Option<ExpectedValue>,
        /// The value's leaf fields, each shown the way the spec wrote it.
        layout: Vec<ValueField>,
        /// Interface names in the key or the expected value.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ifaces: Vec<IfaceSlot>,
        source: String,
    },
}

impl Step {
    /// What a `clock` or `random` step does, in words: `the clock reads 1500ms`, `the clock moves on
    /// 1s`, `bpf_get_prandom_u32() returns 7` (`None` for other steps).
    pub fn control_text(&self) -> Option<String> {
        match self {
            Step::SetClock { ns, advance: false, .. } => Some(format!("the clock reads {}", duration_text(*ns))),
            Step::SetClock { ns, advance: true, .. } => Some(format!("the clock moves on {}", duration_text(*ns))),
            Step::SetRandom { value, .. } => Some(format!("bpf_get_prandom_u32() returns {value}")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod duration_tests {
    #[test]
    fn durations_read_in_the_largest_whole_unit() {
        assert_eq!(super::duration_text(1_500_000_000), "1500ms");
        assert_eq!(super::duration_text(2_000_000_000), "2s");
        assert_eq!(super::duration_text(334_000_000), "334ms");
        assert_eq!(super::duration_text(20_000), "20us");
        assert_eq!(super::duration_text(7), "7ns");
        assert_eq!(super::duration_text(0), "0ns");
    }
}

/// Nanoseconds in the largest unit that holds them whole: `1500ms`, `2s`, `7ns`.
pub fn duration_text(ns: u64) -> String {
    for (unit, scale) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
        if ns != 0 && ns.is_multiple_of(scale) {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

/// A `.rodata` variable's value for a load: its symbol name and bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GlobalInit {
    pub name: String,
    pub bytes: Bytes,
}

/// Where an interface name stands in a map entry: `size` bytes (a host-order integer) at `offset` of
/// the key, of the value, or of one CPU's value, hold the ifindex of `iface`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfaceSlot {
    pub part: EntryPart,
    pub offset: u32,
    pub size: u32,
    pub iface: String,
}

/// Bytes `offset..offset + size` of one part of a map entry were written as `repr` (an address, a MAC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownAs {
    pub part: EntryPart,
    pub offset: u32,
    pub size: u32,
    pub repr: FieldRepr,
}

/// A part of a map entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryPart {
    Key,
    /// The value (of an ordinary map, or every CPU's value of a per-CPU map written with one value).
    Value,
    /// One CPU's value in a `per_cpu [..]` list.
    CpuValue(u32),
}

impl IfaceSlot {
    /// Writes `ifindex` into `bytes` (the part this slot belongs to). Slots outside the bytes are
    /// ignored (the compiler only makes slots inside them).
    pub fn fill(&self, bytes: &mut [u8], ifindex: u32) {
        let (at, size) = (self.offset as usize, self.size as usize);
        if let Some(dst) = bytes.get_mut(at..at + size) {
            let le = u64::from(ifindex).to_le_bytes();
            dst.copy_from_slice(&le[..size.min(8)]);
        }
    }
}

/// The `xdp_md` context passed with a run, and where the run goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ctx {
    pub ingress: Option<Iface>,
    pub rx_queue: Option<u32>,
    /// Another program of the object to run (`send ... program NAME`); `None`: the spec's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// XDP metadata in front of the packet (`send ... meta VALUE`), a multiple of 4 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Bytes>,
}

/// One record expected from an event map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedEvent {
    /// The record (without the packet bytes), masked.
    pub record: Masked,
    /// The record's fields, for readable differences (empty for raw bytes).
    pub layout: Vec<ValueField>,
    /// `+ packet(N)`: N bytes of the packet follow the record, checked against the packet sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet: Option<u32>,
}

/// Where `XDP_REDIRECT` must send the frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedirectTarget {
    /// An interface (DEVMAP, DEVMAP_HASH or `bpf_redirect`).
    Iface(Iface),
    /// A CPU (CPUMAP).
    Cpu(u32),
    /// An AF_XDP socket slot (XSKMAP).
    Xsk(u32),
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
    /// For `XDP_REDIRECT ... to TARGET`: where the frame must go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<RedirectTarget>,
    /// The metadata the program must leave in front of the packet (`expect meta == ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Masked>,
    /// What the spec states about the expected packet, layer by layer (see [`WrittenLayer`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub written: Vec<WrittenLayer>,
}

/// One layer of a packet as its spec states it: the fields written (by the author, or preset by a
/// constructor such as `tcp.syn`) and those left open with `..`; every other field of the layer is a
/// default or derived (lengths, checksums, protocol numbers). The runner ignores it: it is for
/// readers (`xdptest doc`) that tell the author's values apart from computed ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenLayer {
    /// The layer's name (`ipv4`).
    pub layer: String,
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wild: Vec<String>,
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
    /// `bytes` written at `offset` of the existing value, the rest kept: a global variable in its
    /// section's map.
    Patch { offset: u32, bytes: Bytes },
    /// The file descriptor of a program of the object (a PROG_ARRAY entry).
    Program(String),
    /// The file descriptor of a map of the object (an ARRAY_OF_MAPS / HASH_OF_MAPS entry).
    Map(String),
    /// An AF_XDP socket the runner opens on `queue` of `iface` (an XSKMAP entry).
    Xsk { iface: String, queue: u32 },
}

/// A map value to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedValue {
    /// The value of an ordinary map.
    Exact(Masked),
    /// A per-CPU map, combined over CPUs by [`combine_per_cpu`].
    Sum(Masked),
    /// A per-CPU map, one value per CPU, CPU 0 first.
    PerCpu(Vec<Masked>),
}

/// One leaf field of a map key or value, for per-field sums, diffs and reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ValueField {
    /// `ue_ip`, `counters[2]`, `inner.flags`; empty for a value that is a plain integer.
    pub name: String,
    pub offset: u32,
    pub size: u32,
    pub kind: FieldRepr,
}

/// What a field holds and so how it is combined and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldRepr {
    /// Little-endian (host order) unsigned integer, shown in decimal.
    Int,
    /// Big-endian (network order) integer: reached through a `__be16`/`__be32` typedef. Four bytes are
    /// shown as an IPv4 address, other sizes in decimal.
    BigEndian,
    /// An IPv4 address in network order (the spec wrote one), whatever the declared type.
    Ipv4,
    /// An IPv6 address, 16 bytes in network order: a `struct in6_addr`, or a field the spec wrote one
    /// into (`__u8[16]`, `__be32[4]`).
    Ipv6,
    /// A MAC address.
    Mac,
    /// Anything else: shown as hex.
    Bytes,
}

impl ValueField {
    /// The field's bytes as a spec writes them: integers in decimal, addresses as addresses, MACs as
    /// MACs, other bytes as hex; `*` when the mask leaves the whole field open.
    pub fn show(&self, bytes: &[u8], mask: &[u8]) -> String {
        if !mask.is_empty() && mask.iter().all(|m| *m == 0) {
            return "*".into();
        }
        let be = || bytes.iter().fold(0u64, |a, b| a << 8 | u64::from(*b));
        match self.kind {
            FieldRepr::Int if bytes.len() <= 8 => {
                bytes.iter().rev().fold(0u64, |a, b| a << 8 | u64::from(*b)).to_string()
            }
            FieldRepr::BigEndian | FieldRepr::Ipv4 if bytes.len() == 4 => {
                format!("{}.{}.{}.{}", bytes[0], bytes[1], bytes[2], bytes[3])
            }
            FieldRepr::BigEndian if bytes.len() <= 8 => be().to_string(),
            FieldRepr::Ipv6 if bytes.len() == 16 => {
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).expect("16 bytes")).to_string()
            }
            FieldRepr::Mac | FieldRepr::Bytes if bytes.len() == 6 => {
                bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
            }
            _ => hex(bytes),
        }
    }

    /// This field of a whole key or value (`?` when the bytes are too short).
    pub fn show_in(&self, value: &[u8]) -> String {
        let r = self.offset as usize..(self.offset + self.size) as usize;
        match value.get(r) {
            Some(bytes) => self.show(bytes, &[]),
            None => "?".into(),
        }
    }
}

impl FieldRepr {
    /// An integer that per-CPU values sum.
    pub fn is_counter(self) -> bool {
        matches!(self, FieldRepr::Int | FieldRepr::BigEndian)
    }
}

/// Per-CPU values as one, the rule every check and report uses: integer fields of up to 8 bytes are
/// summed (wrapping, in their own byte order); any other field takes the value of the first CPU on which
/// it is not all zeros (a program writes such fields on the CPU it ran on, and which CPU that was must
/// not matter). Bytes no field covers are treated like such fields, byte by byte.
pub fn combine_per_cpu(fields: &[ValueField], values: &[Vec<u8>]) -> Vec<u8> {
    let len = values.iter().map(Vec::len).max().unwrap_or(0);
    let first_nonzero = |r: std::ops::Range<usize>| -> Vec<u8> {
        values
            .iter()
            .filter_map(|v| v.get(r.clone()))
            .find(|b| b.iter().any(|x| *x != 0))
            .map(<[u8]>::to_vec)
            .unwrap_or_else(|| vec![0; r.len()])
    };
    let mut out = vec![0u8; len];
    let mut covered = vec![false; len];
    for f in fields {
        let r = f.offset as usize..(f.offset + f.size) as usize;
        if r.end > len {
            continue;
        }
        covered[r.clone()].iter_mut().for_each(|c| *c = true);
        if f.kind.is_counter() && f.size <= 8 {
            let be = f.kind == FieldRepr::BigEndian;
            let total = values.iter().filter_map(|v| v.get(r.clone())).fold(0u64, |acc, b| {
                let n = if be {
                    b.iter().fold(0u64, |a, x| a << 8 | u64::from(*x))
                } else {
                    b.iter().rev().fold(0u64, |a, x| a << 8 | u64::from(*x))
                };
                acc.wrapping_add(n)
            });
            for i in 0..r.len() {
                out[if be { r.end - 1 - i } else { r.start + i }] = (total >> (8 * i)) as u8;
            }
        } else {
            out[r.clone()].copy_from_slice(&first_nonzero(r));
        }
    }
    for i in (0..len).filter(|i| !covered[*i]) {
        out[i] = first_nonzero(i..i + 1)[0];
    }
    out
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
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The bytes of a hex string (`None` when it is not an even number of hex digits).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        unhex(&s).map(Bytes).ok_or_else(|| serde::de::Error::custom("expected an even number of hex digits"))
    }
}

/// Names of the XDP actions, by number.
pub const XDP_ACTIONS: [&str; 5] = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"];

/// `XDP_TX` for 3, the number itself for values without a name.
pub fn action_name(action: u32) -> String {
    XDP_ACTIONS.get(action as usize).map(|s| s.to_string()).unwrap_or_else(|| action.to_string())
}

/// A file name from a scenario name: lowercase letters and digits, runs of anything else as one `-`.
/// Fixture files, snapshot files and book anchors are named with it.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "scenario".into()
    } else {
        trimmed.to_string()
    }
}

impl Fixture {
    /// Drops what only documentation pages read (what the spec wrote of each packet sent), and spare
    /// capacity: a suite held for a run then costs what running and reporting it needs.
    pub fn strip_for_run(&mut self) {
        for step in &mut self.steps {
            if let Step::Run { written, .. } = step {
                *written = Vec::new();
            }
        }
        self.steps.shrink_to_fit();
    }

    /// Serializes to RON; stable across runs (no maps with random order, no timestamps).
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::new().struct_names(true))
            .expect("fixtures contain only serializable data")
    }

    pub fn from_ron(text: &str) -> Result<Fixture, ron::error::SpannedError> {
        ron::from_str(text)
    }

    /// `SPEC::SCENARIO`, as filters and reports name a scenario.
    pub fn full_name(&self) -> String {
        format!("{}::{}", self.spec, self.scenario)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> Arc<Program> {
        Arc::new(Program {
            object: "p.o".into(),
            hook: "xdp".into(),
            name: "xdp_p".into(),
            section: "xdp".into(),
            frags: false,
            also: Vec::new(),
            rodata: Vec::new(),
            controls: false,
            location: "x.pkt:1:1".into(),
            facts: ProgramFacts::new(vec![1, 6], vec!["p.c".into()]),
            maps: vec![MapInfo {
                name: "m".into(),
                kind: MapKind::PercpuArray,
                max_entries: 4,
                key_size: 4,
                value_size: 8,
                key: vec![ValueField { name: String::new(), offset: 0, size: 4, kind: FieldRepr::Int }],
                value: vec![ValueField { name: String::new(), offset: 0, size: 8, kind: FieldRepr::Int }],
                pinned: false,
            }],
        })
    }

    #[test]
    fn ron_round_trip() {
        let f = Fixture {
            spec: "specs/x.pkt".into(),
            scenario: "s".into(),
            location: "specs/x.pkt:3:10".into(),
            description: String::new(),
            program: program(),
            env: Arc::new(vec![]),
            snapshot: false,
            steps: vec![
                Step::SetMap {
                    map: "m".into(),
                    key: Bytes(vec![1, 0, 0, 0]),
                    value: MapValue::All(Bytes(vec![2])),
                    ifaces: vec![IfaceSlot { part: EntryPart::Value, offset: 0, size: 4, iface: "eth0".into() }],
                    location: "specs/x.pkt:4:3".into(),
                    shown: vec![],
                },
                Step::Run {
                    input: Bytes(vec![0xde, 0xad]),
                    ctx: Ctx { ingress: Some(Iface::Name("eth0".into())), rx_queue: Some(1), ..Ctx::default() },
                    expect: Some(Expectation {
                        action: 3,
                        packet: Some(Masked::exact(vec![0xbe, 0xef])),
                        target: None,
                        meta: None,
                        written: vec![],
                    }),
                    source: "x.pkt:3:3".into(),
                    written: vec![WrittenLayer { layer: "ether".into(), fields: vec!["src".into()], wild: vec![] }],
                },
            ],
        };
        let text = f.to_ron();
        assert!(text.contains("\"dead\""), "{text}");
        assert!(text.contains("percpu_array"), "{text}");
        assert_eq!(Fixture::from_ron(&text).unwrap(), f);
    }

    #[test]
    fn masked_matching() {
        let m = Masked { bytes: Bytes(vec![0x12, 0x34]), mask: Bytes(vec![0xff, 0x0f]) };
        assert!(m.matches(&[0x12, 0xf4]));
        assert!(!m.matches(&[0x12, 0x35]));
        assert!(!m.matches(&[0x12]));
    }

    #[test]
    fn map_kinds_round_trip_and_read_well() {
        for (n, k) in MapKind::KNOWN.iter().enumerate() {
            assert_eq!(MapKind::from_raw(n as u32), *k);
            assert_eq!(k.raw(), n as u32);
        }
        assert_eq!(MapKind::from_raw(99), MapKind::Other(99));
        assert_eq!(MapKind::PercpuArray.name(), "percpu_array");
        assert_eq!(MapKind::LpmTrie.name(), "lpm_trie");
        // The names are the serde names of the variants.
        for k in MapKind::KNOWN {
            assert_eq!(ron::to_string(&k).unwrap(), k.name(), "{k:?}");
        }
        assert!(MapKind::PercpuCgroupStorage.is_per_cpu() && !MapKind::Devmap.is_per_cpu());
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex("00ab10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(unhex("0a1"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn iface_slots_fill_any_offset() {
        let mut b = vec![0xaa; 7];
        IfaceSlot { part: EntryPart::Value, offset: 1, size: 4, iface: "x".into() }.fill(&mut b, 0x0102_0304);
        assert_eq!(b, [0xaa, 4, 3, 2, 1, 0xaa, 0xaa]);
    }

    #[test]
    fn per_cpu_values_combine_whatever_the_cpu() {
        let fields = [
            ValueField { name: "packets".into(), offset: 0, size: 8, kind: FieldRepr::Int },
            ValueField { name: "addr".into(), offset: 8, size: 4, kind: FieldRepr::BigEndian },
            ValueField { name: "mac".into(), offset: 12, size: 6, kind: FieldRepr::Mac },
        ];
        let mut cpu0 = vec![0u8; 18];
        let mut cpu1 = vec![0u8; 18];
        cpu0[0] = 1;
        cpu1[0] = 2;
        cpu0[11] = 0xff;
        cpu1[11] = 0x01;
        cpu1[12..18].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        let a = combine_per_cpu(&fields, &[cpu0.clone(), cpu1.clone()]);
        assert_eq!(&a[..8], &[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&a[8..12], &[0, 0, 1, 0], "big-endian fields sum in their own order");
        assert_eq!(&a[12..18], &[2, 0, 0, 0, 0, 9], "a MAC is taken whole from the CPU that has one");
        // The same values on other CPUs give the same result.
        let b = combine_per_cpu(&fields, &[cpu1, cpu0]);
        assert_eq!(a, b);
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("uplink ICMP is decapsulated!"), "uplink-icmp-is-decapsulated");
        assert_eq!(slug("  "), "scenario");
        assert_eq!(slug("a/b..c"), "a-b-c");
    }
}
