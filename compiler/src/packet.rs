//! Packet expressions → layers. Resolves named packets and `input`, type-checks every field assignment
//! against the layer schema in [`crate::wire`], applies `with` / `without` / `push`, and turns an expected
//! packet with wildcards into bytes plus a bit mask.

use std::collections::BTreeSet;

use xdptest_grammar::ast::{self, Modifier, Position, Span, Term, Value, ValueKind};

use crate::diagnostic::{did_you_mean, one_of, Diag, Reported, SourceFile};
use crate::fixture::{Bytes, Masked};
use crate::wire::{self, constructor, FieldKind, FieldValue, ItemArg, Layer, LayerKind, ListKind};

/// A layer being built: the wire layer plus the fields an expected packet leaves open (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PLayer {
    pub layer: Layer,
    pub wild: BTreeSet<&'static str>,
}

/// A packet as a stack of layers.
pub type Packet = Vec<PLayer>;

/// What a packet states, layer by layer, for the fixture (see [`crate::fixture::WrittenLayer`]).
pub fn written(packet: &Packet) -> Vec<crate::fixture::WrittenLayer> {
    packet
        .iter()
        .map(|p| crate::fixture::WrittenLayer {
            layer: p.layer.kind.name().to_string(),
            fields: p.layer.fields.keys().map(|k| k.to_string()).collect(),
            wild: p.wild.iter().map(|k| k.to_string()).collect(),
        })
        .collect()
}

/// The most layers a packet may have: real stacks have a dozen or two (tunnels, extension headers).
pub const MAX_LAYERS: usize = 128;
/// The largest frame BPF_PROG_TEST_RUN takes in its linear part: PAGE_SIZE - XDP_PACKET_HEADROOM (256)
/// - SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) (320).
pub const MAX_LINEAR: usize = 4096 - 256 - 320;
/// The largest multi-buffer frame: MAX_SKB_FRAGS (17) pages after the linear part.
pub const MAX_FRAME: usize = MAX_LINEAR + 17 * 4096;

/// Whether wildcards are allowed: only in expected packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Input,
    Expected,
}

/// How names in a packet expression are resolved: named packets and the packet just sent.
pub trait Names {
    /// The packet defined under `name`, evaluated; `None` if no such packet. Errors inside the
    /// definition are reported by the implementation (once), and yield `Some(Err(Reported))`.
    fn packet(&mut self, name: &str) -> Option<Result<Packet, Reported>>;
    /// All packet names, for suggestions.
    fn packet_names(&self) -> Vec<String>;
    /// The last packet sent in this scenario, for `input`.
    fn input(&self) -> Option<Packet>;
}

pub struct Evaluator<'a> {
    pub src: &'a SourceFile,
    pub diags: &'a mut Vec<Diag>,
    pub role: Role,
}

impl Evaluator<'_> {
    fn err(&mut self, code: &'static str, span: Span, msg: impl Into<String>) -> &mut Diag {
        self.diags.push(Diag::new(code, self.src, span, msg));
        self.diags.last_mut().unwrap()
    }

    /// Evaluates an expression. On error the diagnostics are recorded and `Err(Reported)` is returned.
    pub fn eval(&mut self, expr: &ast::PacketExpr, names: &mut dyn Names) -> Result<Packet, Reported> {
        let mut packet = Vec::new();
        let mut ok = true;
        for term in &expr.stack {
            match self.term(term, names) {
                Ok(mut layers) => {
                    packet.append(&mut layers);
                    // Checked as the packet grows, so `q1 = q0 / q0`, `q2 = q1 / q1`, … stops at the
                    // limit instead of doubling into gigabytes.
                    self.bounded(&packet, expr.span)?;
                }
                Err(Reported) => ok = false,
            }
        }
        if !ok {
            return Err(Reported);
        }
        for m in &expr.modifiers {
            self.modifier(m, &mut packet, names)?;
            self.bounded(&packet, expr.span)?;
        }
        Ok(packet)
    }

    /// Whether `packet` stays within what any test run takes: [`MAX_LAYERS`] layers and payloads of
    /// [`MAX_FRAME`] bytes in all (headers are a few dozen bytes a layer, so the layer bound covers them).
    fn bounded(&mut self, packet: &Packet, span: Span) -> Result<(), Reported> {
        let payload: usize = packet
            .iter()
            .filter_map(|l| match l.layer.fields.get("data") {
                Some(FieldValue::Bytes(b)) if l.layer.kind == LayerKind::Payload => Some(b.len()),
                _ => None,
            })
            .sum();
        let problem = if packet.len() > MAX_LAYERS {
            format!("this packet has {} layers, more than {MAX_LAYERS}", packet.len())
        } else if payload > MAX_FRAME {
            format!("this packet carries {payload} bytes of payload, more than a test run takes ({MAX_FRAME})")
        } else {
            return Ok(());
        };
        self.err("compile::packet_size", span, problem).help = Some(format!(
            "BPF_PROG_TEST_RUN takes frames up to {MAX_LINEAR} bytes, or {MAX_FRAME} for an xdp.frags program"
        ));
        Err(Reported)
    }

    fn term(&mut self, term: &Term, names: &mut dyn Names) -> Result<Packet, Reported> {
        match term {
            Term::Group(inner) => self.eval(inner, names),
            Term::Layer(call) => {
                let name = call.name.node.as_str();
                if call.args.is_none() {
                    if name == "input" {
                        return match names.input() {
                            Some(p) if self.role == Role::Expected => Ok(p),
                            _ => {
                                self.err(
                                    "compile::input_outside_expect",
                                    call.span,
                                    "`input` is only meaningful in an `expect` after a `send`",
                                )
                                .help = Some("`input` stands for the packet of the preceding `send`".into());
                                Err(Reported)
                            }
                        };
                    }
                    if let Some(p) = names.packet(name) {
                        return p;
                    }
                }
                self.layer(call, names)
            }
        }
    }

    /// `ipv4(src=..., df)`: a new layer from a constructor.
    fn layer(&mut self, call: &ast::LayerCall, names: &dyn Names) -> Result<Packet, Reported> {
        let name = call.name.node.as_str();
        let Some(ctor) = constructor(name) else {
            let ctors = wire::constructor_names();
            let packet_names = names.packet_names();
            let mut candidates: Vec<&str> = ctors.to_vec();
            candidates.extend(packet_names.iter().map(String::as_str));
            let help = match did_you_mean(name, candidates.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "layers are {}; packets defined here: {}",
                    one_of(&LayerKind::ALL.map(|k| k.name())),
                    if packet_names.is_empty() { "none".to_string() } else { packet_names.join(", ") }
                ),
            };
            self.err("compile::unknown_layer", call.name.span, format!("no layer or packet named `{name}`")).help =
                Some(help);
            return Err(Reported);
        };
        let mut layer = PLayer { layer: Layer::new(ctor.kind), wild: BTreeSet::new() };
        for (field, value) in ctor.presets {
            layer
                .layer
                .fields
                .insert(ctor.kind.field(field).expect("presets name schema fields").name, FieldValue::Int(*value));
        }
        let mut ok = true;
        let mut payload_opts = PayloadOpts::default();
        let mut given: Vec<(&'static str, Span)> = Vec::new();
        for arg in call.args.iter().flatten() {
            let payload_option = |n: &str| ctor.kind == LayerKind::Payload && PAYLOAD_OPTIONS.contains(&n);
            let r = match &arg.name {
                Some(field) if payload_option(&field.node) => {
                    self.payload_option(&mut payload_opts, &field.node, &arg.value)
                }
                None if ctor.kind == LayerKind::Payload
                    && matches!(&arg.value.kind, ValueKind::Ident(n) if n == "counting") =>
                {
                    payload_opts.counting = Some(256);
                    Ok(())
                }
                Some(field) => self
                    .once(&mut given, ctor.kind, &field.node, field.span)
                    .and_then(|()| self.assign(&mut layer, &field.node, field.span, &arg.value)),
                None => self.positional(&mut layer, &arg.value, &mut given),
            };
            ok &= r.is_ok();
        }
        if ctor.kind == LayerKind::Payload && ok {
            ok &= self.apply_payload_opts(&mut layer, payload_opts, call.span).is_ok();
        }
        if ok {
            Ok(vec![layer])
        } else {
            Err(Reported)
        }
    }

    /// Each field once per layer: `ipv4(ttl=3, ttl=4)` is a mistake, not "the last one wins".
    fn once(
        &mut self,
        given: &mut Vec<(&'static str, Span)>,
        kind: LayerKind,
        field: &str,
        span: Span,
    ) -> Result<(), Reported> {
        let Some(def) = kind.field(field) else { return Ok(()) };
        if let Some((_, first)) = given.iter().find(|(n, _)| *n == def.name) {
            let (l, c) = self.src.line_col(first.start);
            self.err("compile::duplicate_field", span, format!("`{}` is given twice", def.name)).help =
                Some(format!("the first is at line {l}, column {c}; give each field once"));
            return Err(Reported);
        }
        given.push((def.name, span));
        Ok(())
    }

    fn positional(
        &mut self,
        layer: &mut PLayer,
        value: &Value,
        given: &mut Vec<(&'static str, Span)>,
    ) -> Result<(), Reported> {
        let kind = layer.layer.kind;
        // A bare name that is a flag of this layer sets it: `ipv4(df)`, `tcp(syn)`.
        if let ValueKind::Ident(flag) = &value.kind {
            if let Some(def) = kind.field(flag).filter(|d| d.kind == FieldKind::Flag) {
                self.once(given, kind, def.name, value.span)?;
                layer.layer.fields.insert(def.name, FieldValue::Int(1));
                return Ok(());
            }
            let flags: Vec<&str> = kind.fields().iter().filter(|f| f.kind == FieldKind::Flag).map(|f| f.name).collect();
            if kind.positional().is_none() || !flags.is_empty() {
                if let Some(m) = did_you_mean(flag, flags.iter().copied()) {
                    self.err("compile::unknown_flag", value.span, format!("{} has no flag `{flag}`", kind.name()))
                        .help = Some(format!("did you mean `{m}`?"));
                    return Err(Reported);
                }
            }
        }
        match kind.positional() {
            Some(field) => {
                self.once(given, kind, field, value.span)?;
                self.assign(layer, field, value.span, value)
            }
            None => {
                let flags: Vec<&str> =
                    kind.fields().iter().filter(|f| f.kind == FieldKind::Flag).map(|f| f.name).collect();
                let help = if flags.is_empty() {
                    format!("write `field=value`; {} has {}", kind.name(), field_list(kind))
                } else {
                    format!("write `field=value`, or a flag: {}", one_of(&flags))
                };
                self.err(
                    "compile::positional_argument",
                    value.span,
                    format!("{} takes no positional argument here", kind.name()),
                )
                .help = Some(help);
                Err(Reported)
            }
        }
    }

    /// Sets `field` of `layer` to `value`, type-checked.
    fn assign(&mut self, layer: &mut PLayer, field: &str, field_span: Span, value: &Value) -> Result<(), Reported> {
        let kind = layer.layer.kind;
        let Some(def) = kind.field(field) else {
            let names: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
            let hint = match did_you_mean(field, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? {} has {}", kind.name(), field_list(kind)),
                None => format!("{} has {}", kind.name(), field_list(kind)),
            };
            self.err("compile::unknown_field", field_span, format!("unknown field `{field}` on {}", kind.name()))
                .help = Some(hint);
            return Err(Reported);
        };
        if value.kind == ValueKind::Wildcard {
            if self.role == Role::Input {
                self.err(
                    "compile::wildcard_in_input",
                    value.span,
                    "a wildcard `*` can only appear in an expected packet",
                )
                .help = Some("inputs are sent to the program and need a concrete value".into());
                return Err(Reported);
            }
            layer.wild.insert(def.name);
            return Ok(());
        }
        let v = self.field_value(def, value)?;
        layer.wild.remove(def.name);
        layer.layer.fields.insert(def.name, v);
        Ok(())
    }

    fn field_value(&mut self, def: &wire::FieldDef, value: &Value) -> Result<FieldValue, Reported> {
        let expected = match def.kind {
            FieldKind::Int { bits } => {
                let n = match &value.kind {
                    ValueKind::Int(n) => Some(*n),
                    ValueKind::Flags(names) if !def.symbols.is_empty() => {
                        let mut v = 0;
                        for n in names {
                            v |= self.symbol(def, &n.node, n.span)?;
                        }
                        Some(v)
                    }
                    ValueKind::Ident(s) => Some(self.symbol(def, s, value.span)?),
                    _ => None,
                };
                if let Some(n) = n {
                    let max = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
                    if n > max {
                        self.err(
                            "compile::value_too_large",
                            value.span,
                            format!("{n} does not fit `{}` ({bits} bits, at most {max})", def.name),
                        );
                        return Err(Reported);
                    }
                    return Ok(FieldValue::Int(n));
                }
                format!("a number of {bits} bits")
            }
            FieldKind::Flag => match &value.kind {
                ValueKind::Int(n @ (0 | 1)) => return Ok(FieldValue::Int(*n)),
                ValueKind::Ident(s) if s == "true" || s == "false" => {
                    return Ok(FieldValue::Int(u64::from(s == "true")))
                }
                _ => "0 or 1 (or the bare flag name)".to_string(),
            },
            FieldKind::Ipv4Addr => match &value.kind {
                ValueKind::Ipv4(a) => return Ok(FieldValue::Bytes(a.to_vec())),
                _ => "an IPv4 address like 192.0.2.1".to_string(),
            },
            FieldKind::Ipv6Addr => match &value.kind {
                ValueKind::Ipv6(a) => return Ok(FieldValue::Bytes(a.to_vec())),
                _ => "an IPv6 address like 2001:db8::1".to_string(),
            },
            FieldKind::Mac => match &value.kind {
                ValueKind::Mac(m) => return Ok(FieldValue::Bytes(m.to_vec())),
                _ => "a MAC address like 00:00:5e:00:53:01".to_string(),
            },
            FieldKind::Bytes => match (&value.kind, def.list) {
                (ValueKind::Bytes(b), _) => return Ok(FieldValue::Bytes(b.clone())),
                (ValueKind::Str(s), _) => return Ok(FieldValue::Bytes(s.as_bytes().to_vec())),
                (ValueKind::List(items), Some(list)) => return self.list(def, list, items).map(FieldValue::Bytes),
                (_, Some(ListKind::Ipv6Addrs)) => "a list of IPv6 addresses [2001:db8::1, ...] or hex\"...\"".into(),
                (_, Some(list)) => {
                    let names: Vec<&str> = wire::list_items(list).iter().map(|d| d.name).collect();
                    format!("a list of options ({}) or hex\"...\"", one_of(&names))
                }
                (_, None) => "bytes: a string \"...\" or hex\"...\"".to_string(),
            },
        };
        self.err(
            "compile::type_mismatch",
            value.span,
            format!("`{}` takes {expected}, found {}", def.name, value.kind.describe()),
        )
        .label = format!("expected {expected}");
        Err(Reported)
    }

    /// The value of a named value of `def` (`echo_request`, `syn`), or a diagnostic with a suggestion.
    fn symbol(&mut self, def: &wire::FieldDef, name: &str, span: Span) -> Result<u64, Reported> {
        if let Some((_, v)) = def.symbols.iter().find(|(n, _)| *n == name) {
            return Ok(*v);
        }
        let syms: Vec<&str> = def.symbols.iter().map(|(n, _)| *n).collect();
        let help = match did_you_mean(name, syms.iter().copied()) {
            Some(m) => format!("did you mean `{m}`?"),
            None if syms.is_empty() => format!("`{}` takes a number", def.name),
            None => format!("`{}` takes a number or one of: {}", def.name, syms.join(", ")),
        };
        self.err("compile::unknown_symbol", span, format!("`{name}` is not a known value of `{}`", def.name)).help =
            Some(help);
        Err(Reported)
    }

    /// A list written for a list field (`options=[mss(1460), nop]`, `segments=[2001:db8::1]`): its bytes.
    fn list(&mut self, def: &wire::FieldDef, list: ListKind, items: &[Value]) -> Result<Vec<u8>, Reported> {
        if list == ListKind::Ipv6Addrs {
            let mut out = Vec::new();
            for v in items {
                match &v.kind {
                    ValueKind::Ipv6(a) => out.extend_from_slice(a),
                    other => {
                        self.err(
                            "compile::type_mismatch",
                            v.span,
                            format!("`{}` holds IPv6 addresses, found {}", def.name, other.describe()),
                        );
                        return Err(Reported);
                    }
                }
            }
            return Ok(out);
        }
        let mut parsed = Vec::new();
        for v in items {
            let (name, args) = match &v.kind {
                ValueKind::Ident(n) => (n.clone(), Vec::new()),
                ValueKind::Call(n, args) => {
                    let mut out = Vec::new();
                    for a in args {
                        out.push(self.item_arg(a)?);
                    }
                    (n.node.clone(), out)
                }
                other => {
                    let names: Vec<&str> = wire::list_items(list).iter().map(|d| d.name).collect();
                    self.err(
                        "compile::type_mismatch",
                        v.span,
                        format!(
                            "an item of `{}` is an option like `nop` or `mss(1460)`, found {}",
                            def.name,
                            other.describe()
                        ),
                    )
                    .help = Some(format!("the options are {}", one_of(&names)));
                    return Err(Reported);
                }
            };
            parsed.push(wire::ListItem { name, args });
        }
        wire::encode_list(list, &parsed).map_err(|e| {
            let d = self.err("compile::bad_option", items[e.item].span, e.message);
            d.help = e.help;
            Reported
        })
    }

    fn item_arg(&mut self, v: &Value) -> Result<ItemArg, Reported> {
        Ok(match &v.kind {
            ValueKind::Int(n) => ItemArg::Int(*n),
            ValueKind::Bytes(b) => ItemArg::Bytes(b.clone()),
            ValueKind::Str(s) => ItemArg::Bytes(s.as_bytes().to_vec()),
            ValueKind::Ipv4(a) => ItemArg::Ipv4(*a),
            ValueKind::Ipv6(a) => ItemArg::Ipv6(*a),
            ValueKind::Mac(m) => ItemArg::Mac(*m),
            ValueKind::Prefix6(a, l) => ItemArg::Prefix6(*a, *l),
            ValueKind::List(items) => {
                let mut out = Vec::new();
                for i in items {
                    out.push(self.item_arg(i)?);
                }
                ItemArg::List(out)
            }
            other => {
                self.err(
                    "compile::type_mismatch",
                    v.span,
                    format!("an option argument cannot be {}", other.describe()),
                );
                return Err(Reported);
            }
        })
    }

    fn payload_option(&mut self, opts: &mut PayloadOpts, name: &str, value: &Value) -> Result<(), Reported> {
        let twice = match name {
            "len" => opts.len.is_some(),
            "fill" | "pattern" => opts.pattern.is_some(),
            _ => opts.counting.is_some(),
        };
        if twice {
            self.err(
                "compile::payload_conflict",
                value.span,
                format!("the payload's `{name}` is given twice, or `fill` with `pattern`"),
            )
            .help = Some("give one length and one of fill, pattern or counting".into());
            return Err(Reported);
        }
        match (name, &value.kind) {
            ("len", ValueKind::Int(n)) if *n <= 65535 => opts.len = Some(*n as usize),
            ("fill", ValueKind::Int(n)) if *n <= 255 => opts.pattern = Some(vec![*n as u8]),
            ("pattern", ValueKind::Str(s)) if !s.is_empty() => opts.pattern = Some(s.as_bytes().to_vec()),
            ("pattern", ValueKind::Bytes(b)) if !b.is_empty() => opts.pattern = Some(b.clone()),
            ("counting", ValueKind::Int(n)) if (1..=256).contains(n) => opts.counting = Some(*n as usize),
            _ => {
                let what = match name {
                    "len" => "a length up to 65535",
                    "fill" => "a byte value (0..255)",
                    "counting" => "a modulus from 1 to 256 (bytes 0, 1, ... m-1, 0, ...), or nothing: `counting`",
                    _ => "a non-empty string or hex\"...\"",
                };
                self.err(
                    "compile::type_mismatch",
                    value.span,
                    format!("payload `{name}` takes {what}, found {}", value.kind.describe()),
                );
                return Err(Reported);
            }
        }
        Ok(())
    }

    fn apply_payload_opts(&mut self, layer: &mut PLayer, opts: PayloadOpts, span: Span) -> Result<(), Reported> {
        if opts.len.is_none() && opts.pattern.is_none() && opts.counting.is_none() {
            return Ok(());
        }
        if opts.pattern.is_some() && opts.counting.is_some() {
            self.err("compile::payload_conflict", span, "give `fill`/`pattern` or `counting`, not both").help =
                Some("payload(len=64, counting) is 0, 1, 2, ...; payload(len=64, fill=7) is 7, 7, 7, ...".into());
            return Err(Reported);
        }
        if layer.layer.fields.contains_key("data") {
            self.err("compile::payload_conflict", span, "give the payload's data, or `len` with `fill`/`pattern`, not both")
                .help = Some("payload(\"abc\"), payload(hex\"0102\"), payload(len=64), payload(len=64, fill=0xff), payload(len=100, pattern=\"ab\")".into());
            return Err(Reported);
        }
        let Some(len) = opts.len else {
            self.err("compile::payload_conflict", span, "`fill`, `pattern` and `counting` need a length").help =
                Some("add `len=N`".into());
            return Err(Reported);
        };
        if let Some(m) = opts.counting {
            let data: Vec<u8> = (0..len).map(|i| (i % m) as u8).collect();
            layer.layer.fields.insert("data", FieldValue::Bytes(data));
            return Ok(());
        }
        let pattern = opts.pattern.unwrap_or_else(|| vec![0]);
        let data: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
        layer.layer.fields.insert("data", FieldValue::Bytes(data));
        Ok(())
    }

    fn modifier(&mut self, m: &Modifier, packet: &mut Packet, names: &mut dyn Names) -> Result<(), Reported> {
        match m {
            Modifier::With(assignments) => {
                let mut ok = true;
                for a in assignments {
                    let idx = self.select(&a.selector, packet)?;
                    ok &= self.assign(&mut packet[idx], &a.field.node, a.field.span, &a.value).is_ok();
                }
                if ok {
                    Ok(())
                } else {
                    Err(Reported)
                }
            }
            Modifier::Without(selectors) => {
                let mut remove = BTreeSet::new();
                for s in selectors {
                    let idx = self.select(s, packet)?;
                    if !remove.insert(idx) {
                        self.err("compile::duplicate_selector", s.span, "this layer is already removed");
                        return Err(Reported);
                    }
                }
                let mut i = 0;
                packet.retain(|_| {
                    i += 1;
                    !remove.contains(&(i - 1))
                });
                Ok(())
            }
            Modifier::Push { layer, position, anchor, .. } => {
                let idx = self.select(anchor, packet)?;
                // A layer, or a named packet's layers (`push outer_vlan after ether`).
                let new = self.term(&Term::Layer(layer.clone()), names)?;
                let at = if *position == Position::After { idx + 1 } else { idx };
                packet.splice(at..at, new);
                Ok(())
            }
        }
    }

    /// The index of the layer a selector names (`ipv4:2` = second ipv4 layer).
    fn select(&mut self, s: &ast::Selector, packet: &Packet) -> Result<usize, Reported> {
        let name = s.layer.node.as_str();
        let kind = LayerKind::from_name(name).or_else(|| constructor(name).map(|c| c.kind));
        let Some(kind) = kind else {
            let help = match did_you_mean(name, LayerKind::ALL.map(|k| k.name())) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("layers are {}", one_of(&LayerKind::ALL.map(|k| k.name()))),
            };
            self.err("compile::unknown_layer", s.layer.span, format!("no layer kind named `{name}`")).help = Some(help);
            return Err(Reported);
        };
        let nth = s.index.as_ref().map(|i| i.node).unwrap_or(1).max(1) as usize;
        match packet.iter().enumerate().filter(|(_, l)| l.layer.kind == kind).nth(nth - 1) {
            Some((i, _)) => Ok(i),
            None => {
                let have: Vec<&str> = packet.iter().map(|l| l.layer.kind.name()).collect();
                let count = have.iter().filter(|n| **n == kind.name()).count();
                let what = if s.index.is_some() { format!("{}:{nth}", kind.name()) } else { kind.name().to_string() };
                self.err("compile::no_such_layer", s.span, format!("the packet has no {what} layer")).help =
                    Some(format!(
                        "its layers are {} ({count} {})",
                        if have.is_empty() { "none".into() } else { have.join(" / ") },
                        kind.name()
                    ));
                Err(Reported)
            }
        }
    }
}

/// Named arguments of `payload(...)` that are not fields.
const PAYLOAD_OPTIONS: &[&str] = &["len", "fill", "pattern", "counting"];

#[derive(Default)]
struct PayloadOpts {
    len: Option<usize>,
    pattern: Option<Vec<u8>>,
    /// Counting bytes, modulo this.
    counting: Option<usize>,
}

fn field_list(kind: LayerKind) -> String {
    let names: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
    one_of(&names)
}

/// Why `packet` cannot be encoded, naming the layer as the author counts it (from 1, by kind).
pub fn encode_failure(packet: &Packet, e: &wire::EncodeError) -> String {
    let at = e.layer();
    let kind = packet.get(at).map(|l| l.layer.kind.name()).unwrap_or("?");
    format!("this packet cannot be encoded: layer {} (`{kind}`): {e}", at + 1)
}

/// Encodes a packet that has no wildcards.
pub fn encode_exact(packet: &Packet) -> Result<Vec<u8>, wire::EncodeError> {
    let layers: Vec<Layer> = packet.iter().map(|l| l.layer.clone()).collect();
    Ok(wire::encode(&layers)?.bytes)
}

/// Encodes an expected packet into bytes and a mask. Wildcard fields are masked out, and so is every
/// field whose value depends on them (a checksum over a wildcard field, a length over a wildcard
/// payload): we encode with three different fillings of the wildcards and mask each field whose bits
/// differ between them. Three fillings, because a ones'-complement checksum cannot tell 0x0000 from
/// 0xffff: a third, irregular filling exposes the dependency.
pub fn encode_masked(packet: &Packet) -> Result<Masked, MaskError> {
    const FILLS: [u8; 3] = [0x00, 0xff, 0x5a];
    // Without wildcards every bit is checked: one encoding is the answer (most expected packets are
    // `input` or an edit of it).
    if packet.iter().all(|l| l.wild.is_empty()) {
        let bytes = encode_exact(packet).map_err(MaskError::Encode)?;
        let mask = vec![0xffu8; bytes.len()];
        return Ok(Masked { bytes: Bytes(bytes), mask: Bytes(mask) });
    }
    let mut encodings = Vec::new();
    for fill in FILLS {
        let layers: Vec<Layer> = packet
            .iter()
            .map(|l| {
                let mut layer = l.layer.clone();
                for name in &l.wild {
                    let def = layer.kind.field(name).expect("wildcards name schema fields");
                    layer.fields.insert(def.name, fill_value(def.kind, layer.fields.get(def.name), fill));
                }
                layer
            })
            .collect();
        encodings.push(wire::encode(&layers).map_err(MaskError::Encode)?);
    }
    let base = &encodings[0];
    let mut mask = vec![0xffu8; base.bytes.len()];
    if encodings.iter().any(|e| e.bytes.len() != base.bytes.len()) {
        let fields: Vec<String> =
            packet.iter().flat_map(|l| l.wild.iter().map(move |f| format!("{}.{f}", l.layer.kind.name()))).collect();
        return Err(MaskError::ShapeDepends { fields });
    }
    for (i, span) in base.spans.iter().enumerate() {
        let wild = packet.get(span.layer).is_some_and(|l| l.wild.contains(span.field));
        let differs = encodings[1..].iter().any(|e| {
            e.spans.get(i).is_none_or(|s| s.bit_offset != span.bit_offset || s.bits != span.bits)
                || bits_of(&e.bytes, span.bit_offset, span.bits) != bits_of(&base.bytes, span.bit_offset, span.bits)
        });
        if wild || differs {
            clear_bits(&mut mask, span.bit_offset, span.bits);
        }
    }
    Ok(Masked { bytes: Bytes(base.bytes.clone()), mask: Bytes(mask) })
}

/// Why an expected packet has no mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskError {
    Encode(wire::EncodeError),
    /// A wildcard decides the packet's length or layout (`gtpu.s=*` adds four bytes or not), so no
    /// byte-for-byte comparison is possible.
    ShapeDepends {
        fields: Vec<String>,
    },
}

impl std::fmt::Display for MaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaskError::Encode(e) => write!(f, "{e}"),
            MaskError::ShapeDepends { fields } => {
                write!(f, "a wildcard changes the packet's length ({}): give the field a value", fields.join(", "))
            }
        }
    }
}

fn fill_value(kind: FieldKind, current: Option<&FieldValue>, fill: u8) -> FieldValue {
    match kind {
        FieldKind::Int { bits } => {
            let all = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
            FieldValue::Int(u64::from_ne_bytes([fill; 8]) & all)
        }
        FieldKind::Flag => FieldValue::Int(u64::from(fill & 1)),
        FieldKind::Ipv4Addr => FieldValue::Bytes(vec![fill; 4]),
        FieldKind::Ipv6Addr => FieldValue::Bytes(vec![fill; 16]),
        FieldKind::Mac => FieldValue::Bytes(vec![fill; 6]),
        // A wildcard byte field keeps its length: it matches any content of that length.
        FieldKind::Bytes => {
            let len = match current {
                Some(FieldValue::Bytes(b)) => b.len(),
                _ => 0,
            };
            FieldValue::Bytes(vec![fill; len])
        }
    }
}

fn bits_of(bytes: &[u8], bit_offset: usize, bits: usize) -> Vec<bool> {
    (bit_offset..bit_offset + bits)
        .map(|b| bytes.get(b / 8).is_some_and(|byte| byte & (0x80 >> (b % 8)) != 0))
        .collect()
}

fn clear_bits(mask: &mut [u8], bit_offset: usize, bits: usize) {
    for b in bit_offset..bit_offset + bits {
        if let Some(byte) = mask.get_mut(b / 8) {
            *byte &= !(0x80 >> (b % 8));
        }
    }
}
