//! The syntax tree of a `.pkt` file: plain data with a byte [`Span`] on everything a diagnostic may point
//! at. It records what the author wrote and nothing more: names are not resolved, fields not checked,
//! literals not typed against layers or maps (that is the compiler's job).

/// A byte range in the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.len()).into()
    }
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

pub type Ident = Spanned<String>;

/// A whole file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct File {
    pub items: Vec<Item>,
}

/// A top-level item and the `##` doc comment lines before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub docs: Vec<String>,
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    Include(Spanned<String>),
    Program(Program),
    Env(Vec<EnvStmt>),
    Packet(PacketDef),
    Map(MapSet),
    Global(GlobalSet),
    Scenario(Scenario),
}

/// `program "build/upf.o" xdp "xdp_upf"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub object: Spanned<String>,
    pub hook: Ident,
    pub name: Option<Spanned<String>>,
}

/// One line of an `env { }` block: a keyword and its words, interpreted by the compiler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvStmt {
    pub keyword: Ident,
    pub args: Vec<Spanned<String>>,
    pub span: Span,
}

/// `packet NAME = EXPR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketDef {
    pub name: Ident,
    pub expr: PacketExpr,
}

/// A stack of terms joined by `/`, then modifiers applied left to right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketExpr {
    pub stack: Vec<Term>,
    pub modifiers: Vec<Modifier>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// `ipv4(...)`, `udp`, or a bare name that may also be a named packet or `input`.
    Layer(LayerCall),
    /// `( EXPR )`.
    Group(Box<PacketExpr>),
}

/// `name(args)` or a bare `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCall {
    pub name: Ident,
    /// `None` when written without parentheses.
    pub args: Option<Vec<Arg>>,
    pub span: Span,
}

/// `name=value` or a positional `value` (a bare identifier is a flag: `df`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    With(Vec<Assignment>),
    Without(Vec<Selector>),
    Push { layer: LayerCall, position: Position, anchor: Selector, span: Span },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Before,
    After,
}

/// `ipv4` or `ipv4:2` (1-based occurrence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub layer: Ident,
    pub index: Option<Spanned<u32>>,
    pub span: Span,
}

/// `selector.field = value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub selector: Selector,
    pub field: Ident,
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind {
    Int(u64),
    Ipv4([u8; 4]),
    Prefix([u8; 4], u8),
    Ipv6([u8; 16]),
    Prefix6([u8; 16], u8),
    Mac([u8; 6]),
    Str(String),
    Bytes(Vec<u8>),
    Ident(String),
    Wildcard,
    Struct(Vec<(Ident, Value)>),
    List(Vec<Value>),
    PerCpu(Vec<Value>),
    /// `mss(1460)`: a name applied to arguments.
    Call(Ident, Vec<Value>),
    /// `syn|ack`: names combined.
    Flags(Vec<Ident>),
    /// `program NAME`: a program of the object (a PROG_ARRAY value).
    ProgramRef(Ident),
    /// `map NAME`: a map of the object (a map-of-maps value).
    MapRef(Ident),
    /// `xsk IFACE [queue N]`: an AF_XDP socket on a queue of an interface (an XSKMAP value).
    XskRef {
        iface: Ident,
        queue: Option<Spanned<u64>>,
    },
    /// Nothing between the brackets of `map q[] = ...`: the key of a queue or stack, which has none.
    Nothing,
}

impl ValueKind {
    /// What kind of literal this is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::Int(_) => "a number",
            ValueKind::Ipv4(_) => "an IPv4 address",
            ValueKind::Prefix(..) => "an IPv4 prefix",
            ValueKind::Ipv6(_) => "an IPv6 address",
            ValueKind::Prefix6(..) => "an IPv6 prefix",
            ValueKind::Call(..) => "a call `name(...)`",
            ValueKind::Flags(_) => "flags `a|b`",
            ValueKind::Mac(_) => "a MAC address",
            ValueKind::Str(_) => "a string",
            ValueKind::Bytes(_) => "a byte string",
            ValueKind::Ident(_) => "a name",
            ValueKind::Wildcard => "a wildcard `*`",
            ValueKind::Struct(_) => "a struct `{ ... }`",
            ValueKind::List(_) => "a list `[ ... ]`",
            ValueKind::PerCpu(_) => "a per-CPU list",
            ValueKind::ProgramRef(_) => "a program `program NAME`",
            ValueKind::MapRef(_) => "a map `map NAME`",
            ValueKind::XskRef { .. } => "an AF_XDP socket `xsk IFACE`",
            ValueKind::Nothing => "an empty key `[]`",
        }
    }
}

/// `map NAME[KEY] = VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSet {
    pub map: Ident,
    pub key: Value,
    pub value: Value,
    pub span: Span,
}

/// `scenario "name" { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub name: Spanned<String>,
    pub stmts: Vec<Stmt>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    Map(MapSet),
    Global(GlobalSet),
    Send(Send),
    ExpectPacket(ExpectPacket),
    ExpectMap(ExpectMap),
    ExpectGlobal(ExpectGlobal),
    ExpectEvent(ExpectEvent),
    /// `expect no event [MAP]`.
    ExpectNoEvent {
        map: Option<Ident>,
        span: Span,
    },
    ExpectMeta(ExpectMeta),
    /// `expect snapshot`: the scenario's report must match its stored snapshot.
    ExpectSnapshot(Span),
    /// `clock 1500ms` (`advance`: `clock +1s`): the time the program reads from here on, in ns.
    Clock {
        ns: Spanned<u64>,
        advance: bool,
        span: Span,
    },
    /// `random 7`: what `bpf_get_prandom_u32()` returns from here on.
    Random {
        value: Spanned<u64>,
        span: Span,
    },
}

/// `send EXPR [ingress IFACE] [queue N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub packet: PacketExpr,
    pub ingress: Option<Spanned<IfaceRef>>,
    pub queue: Option<Spanned<u64>>,
    /// `program NAME`: another program of the object.
    pub program: Option<Ident>,
    /// `meta VALUE`: metadata in front of the packet.
    pub meta: Option<Value>,
    pub span: Span,
}

/// `global NAME = VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalSet {
    pub name: Ident,
    pub value: Value,
    pub span: Span,
}

/// `expect global NAME == VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectGlobal {
    pub name: Ident,
    pub expected: Value,
    pub span: Span,
}

/// `expect event MAP [as struct NAME] == VALUE [+ packet(N)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectEvent {
    pub map: Ident,
    /// The record's struct type in the object's BTF; `None`: raw bytes.
    pub record: Option<Ident>,
    pub expected: Value,
    /// `+ packet(N)`: N bytes of the packet follow the record.
    pub packet: Option<Spanned<u64>>,
    pub span: Span,
}

/// `expect meta [as struct NAME] == VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectMeta {
    pub record: Option<Ident>,
    pub expected: Value,
    pub span: Span,
}

/// Where a redirect goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectTarget {
    Iface(IfaceRef),
    Cpu(u64),
    Xsk(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfaceRef {
    Index(u64),
    Name(String),
}

/// `expect ACTION [: EXPR]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectPacket {
    pub action: Spanned<String>,
    /// `to TARGET`, for `XDP_REDIRECT`.
    pub target: Option<Spanned<RedirectTarget>>,
    pub packet: Option<PacketExpr>,
    pub span: Span,
}

/// `expect map NAME[KEY] == VALUE` or `... missing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectMap {
    pub map: Ident,
    pub key: Value,
    /// `None` means the entry must be missing.
    pub expected: Option<Value>,
    pub span: Span,
}
