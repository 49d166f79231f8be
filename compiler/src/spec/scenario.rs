//! Lowering one `scenario` into the steps of a fixture: map writes, sends with their expectations, map
//! checks, in the order written. A statement that fails to compile reports once: an `expect` after a
//! `send` that failed is not checked again.

use xdptest_grammar::ast::{self, Span, Stmt};

use super::globals::GlobalWrite;
use super::SpecCx;
use crate::diagnostic::{did_you_mean, error_count, one_of, Diag, SourceFile};
use crate::fixture::{
    action_name, Bytes, Ctx, Expectation, GlobalInit, Iface, Masked, RedirectTarget, Step, XDP_ACTIONS,
};
use crate::lint;
use crate::mapvalue::{Mode, Typer};
use crate::packet::{encode_exact, encode_failure, encode_masked, MaskError, Packet, Role};
use crate::pcap::PcapPacket;

/// A scenario's steps, its packets for the capture, and whether it says `expect snapshot`.
pub(super) struct Lowered {
    pub steps: Vec<Step>,
    pub packets: Vec<PcapPacket>,
    pub snapshot: bool,
    /// `.rodata` values this scenario sets (on top of the spec's): a load of its own.
    pub rodata: Vec<GlobalInit>,
}

/// State while lowering one scenario.
struct Lowering<'s> {
    scenario: &'s str,
    steps: Vec<Step>,
    packets: Vec<PcapPacket>,
    /// `expect snapshot`, where it was first written.
    snapshot: Option<Span>,
    last_input: Option<Packet>,
    sends: usize,
    /// Index in `steps` of the last `send` whose expectation is still open.
    open_run: Option<usize>,
    /// The last `send` failed to compile: its `expect` is not checked again (no cascade errors).
    failed_send: bool,
    /// Index in `steps` of the last `send`, for `expect meta`.
    last_run: Option<usize>,
    rodata: Vec<GlobalInit>,
}

impl SpecCx<'_> {
    pub(super) fn scenario(&mut self, s: &ast::Scenario, src: &SourceFile, defaults: &[Step]) -> Option<Lowered> {
        let before = error_count(self.diags);
        let mut l = Lowering {
            scenario: &s.name.node,
            steps: defaults.to_vec(),
            packets: Vec::new(),
            snapshot: None,
            last_input: None,
            sends: 0,
            open_run: None,
            failed_send: false,
            last_run: None,
            rodata: Vec::new(),
        };
        for stmt in &s.stmts {
            match stmt {
                // A statement about the whole scenario: it neither opens nor closes a `send`'s expectation.
                Stmt::ExpectSnapshot(span) => self.expect_snapshot(&mut l, *span, src),
                Stmt::Map(m) => {
                    l.open_run = None;
                    l.failed_send = false;
                    l.steps.extend(self.map_set(m, src));
                }
                Stmt::Global(g) => {
                    l.open_run = None;
                    l.failed_send = false;
                    match self.global_set(g, src) {
                        Some(GlobalWrite::Rodata(init)) if l.sends > 0 => {
                            let _ = init;
                            self.diags.push(
                                Diag::new(
                                    "compile::rodata_late",
                                    src,
                                    g.span,
                                    format!(
                                        "`{}` is read-only configuration, fixed when the program loads",
                                        g.name.node
                                    ),
                                )
                                .help("set it before the scenario's first `send` (it applies to the whole scenario)"),
                            );
                        }
                        Some(GlobalWrite::Rodata(init)) => {
                            l.rodata.retain(|r| r.name != init.name);
                            l.rodata.push(init);
                        }
                        Some(GlobalWrite::Step(step)) => l.steps.push(*step),
                        None => {}
                    }
                }
                Stmt::ExpectGlobal(e) => {
                    l.open_run = None;
                    l.failed_send = false;
                    l.steps.extend(self.expect_global(e, src));
                }
                Stmt::ExpectEvent(e) => {
                    l.open_run = None;
                    l.failed_send = false;
                    l.steps.extend(self.expect_event(e, src));
                }
                Stmt::ExpectNoEvent { map, span } => {
                    l.open_run = None;
                    l.failed_send = false;
                    l.steps.extend(self.expect_no_event(map.as_ref(), *span, src));
                }
                Stmt::ExpectMeta(e) => self.expect_meta(&mut l, e, src),
                Stmt::Clock { ns, advance, span } => {
                    l.open_run = None;
                    l.failed_send = false;
                    if self.reads_helper(&crate::fixture::helper::CLOCKS, "`clock`", *span, src) {
                        l.steps.push(Step::SetClock { ns: ns.node, advance: *advance, location: src.location(*span) });
                    }
                }
                Stmt::Random { value, span } => {
                    l.open_run = None;
                    l.failed_send = false;
                    match u32::try_from(value.node) {
                        Err(_) => self.diags.push(
                            Diag::new(
                                "compile::random_too_large",
                                src,
                                value.span,
                                format!("{} does not fit what `bpf_get_prandom_u32()` returns", value.node),
                            )
                            .help("the helper returns a 32-bit number: at most 4294967295 (0xffffffff)"),
                        ),
                        Ok(v) => {
                            let random = [crate::fixture::helper::GET_PRANDOM_U32];
                            if self.reads_helper(&random, "`random`", *span, src) {
                                l.steps.push(Step::SetRandom { value: v, location: src.location(*span) });
                            }
                        }
                    }
                }
                Stmt::Send(send) => self.send(&mut l, send, src),
                Stmt::ExpectPacket(e) => self.expect_packet(&mut l, e, src),
                Stmt::ExpectMap(e) => {
                    l.open_run = None;
                    l.failed_send = false;
                    l.steps.extend(self.expect_map(e, src));
                }
            }
        }
        // A `send` whose packet failed (maybe where a named packet is defined) was reported already.
        let any_send = s.stmts.iter().any(|st| matches!(st, Stmt::Send(_)));
        if l.sends == 0 && !any_send && error_count(self.diags) == before {
            self.diags.push(
                Diag::new(
                    "compile::no_send",
                    src,
                    s.name.span,
                    format!("scenario \"{}\" sends no packet", s.name.node),
                )
                .help("add `send PACKET` and an `expect`"),
            );
        }
        if error_count(self.diags) > before {
            return None;
        }
        Some(Lowered { steps: l.steps, packets: l.packets, snapshot: l.snapshot.is_some(), rodata: l.rodata })
    }

    /// Whether the object calls one of `helpers` (what `what` sets); an error where it does not, since
    /// the statement would change nothing. Marks the spec's loads as controlled.
    fn reads_helper(&mut self, helpers: &[u32], what: &str, span: Span, src: &SourceFile) -> bool {
        let Some(object) = self.object else { return false };
        if !object.helper_calls.iter().any(|h| helpers.contains(h)) {
            let names = if helpers.len() > 1 {
                "bpf_ktime_get_ns, bpf_ktime_get_boot_ns or bpf_ktime_get_coarse_ns"
            } else {
                "bpf_get_prandom_u32"
            };
            self.diags.push(
                Diag::new(
                    "compile::helper_not_called",
                    src,
                    span,
                    format!("{what} changes nothing: the object never calls {names}"),
                )
                .help("it sets what those helpers return to the program; remove it, or check the `program` line"),
            );
            return false;
        }
        self.controls = true;
        true
    }

    fn expect_snapshot(&mut self, l: &mut Lowering, span: Span, src: &SourceFile) {
        if let Some(first) = l.snapshot {
            let (line, col) = src.line_col(first.start);
            self.diags.push(
                Diag::new("compile::duplicate_snapshot", src, span, "this scenario already says `expect snapshot`")
                    .help(format!("the first is at line {line}, column {col}; one per scenario")),
            );
        }
        l.snapshot.get_or_insert(span);
    }

    fn send(&mut self, l: &mut Lowering, send: &ast::Send, src: &SourceFile) {
        l.open_run = None;
        l.failed_send = true;
        let Ok(packet) = self.eval(&send.packet, src, Role::Input, None) else {
            return;
        };
        let bytes = match encode_exact(&packet) {
            Ok(b) => {
                // A bare named packet was checked where it is defined.
                if !is_bare_name(&send.packet) {
                    self.diags.extend(lint::packet(&packet, src, send.packet.span));
                }
                b
            }
            Err(e) => {
                self.diags.push(Diag::new("compile::encode", src, send.packet.span, encode_failure(&packet, &e)));
                return;
            }
        };
        if !self.frame_fits(bytes.len(), send.packet.span, src) {
            return;
        }
        let program = match &send.program {
            Some(p) => match self.send_program(p, src) {
                Some(name) => Some(name),
                None => return,
            },
            None => None,
        };
        let meta = match &send.meta {
            Some(v) => match self.meta_bytes(v, src) {
                Some(b) => Some(Bytes(b)),
                None => return,
            },
            None => None,
        };
        l.sends += 1;
        let ctx = Ctx {
            ingress: send.ingress.as_ref().map(|i| self.ingress(i, src)),
            rx_queue: send.queue.as_ref().map(|q| self.rx_queue(q, src)),
            program,
            meta,
        };
        l.packets
            .push(PcapPacket {
                comment: format!("{} · send #{} · input", l.scenario, l.sends), bytes: bytes.clone()
            });
        l.steps.push(Step::Run {
            input: Bytes(bytes),
            ctx,
            expect: None,
            source: src.location(send.span),
            written: crate::packet::written(&packet),
        });
        l.open_run = Some(l.steps.len() - 1);
        l.last_run = l.open_run;
        l.failed_send = false;
        l.last_input = Some(packet);
    }

    /// Whether a frame of `len` bytes can go through BPF_PROG_TEST_RUN: at least an Ethernet header,
    /// and at most what fits one page beside the XDP headroom and the shared info, unless the program
    /// takes multi-buffer frames.
    fn frame_fits(&mut self, len: usize, span: ast::Span, src: &SourceFile) -> bool {
        /// ETH_HLEN: the kernel refuses shorter test-run input with EINVAL.
        const MIN: usize = 14;
        use crate::packet::{MAX_FRAME as MAX_FRAGS, MAX_LINEAR};
        let frags = self.program_frags == Some(true);
        let problem = if len < MIN {
            Some((
                format!("a frame of {len} bytes is shorter than an Ethernet header (14 bytes)"),
                "BPF_PROG_TEST_RUN refuses frames under 14 bytes: start the packet with `ether`".to_string(),
            ))
        } else if len > MAX_LINEAR && !frags {
            Some((
                format!("a frame of {len} bytes does not fit one page ({MAX_LINEAR} bytes at most)"),
                "larger frames need a multi-buffer program, SEC(\"xdp.frags\")".to_string(),
            ))
        } else if len > MAX_FRAGS {
            Some((
                format!("a frame of {len} bytes is more than a multi-buffer test run takes ({MAX_FRAGS} bytes)"),
                "the kernel builds at most 17 fragments after the first page".to_string(),
            ))
        } else {
            None
        };
        match problem {
            Some((msg, help)) => {
                self.diags.push(Diag::new("compile::frame_size", src, span, msg).help(help));
                false
            }
            None => true,
        }
    }

    /// `queue 3`: the receive queue, a `u32` in `struct xdp_md` (a larger number would wrap).
    fn rx_queue(&mut self, q: &ast::Spanned<u64>, src: &SourceFile) -> u32 {
        u32::try_from(q.node).unwrap_or_else(|_| {
            self.diags.push(
                Diag::new("compile::out_of_range", src, q.span, format!("queue {} is out of range", q.node))
                    .help(format!("a receive queue is a 32-bit number: 0 to {}", u32::MAX)),
            );
            0
        })
    }

    /// `ingress eth0` or `ingress 3`; a name must be declared in `env`.
    fn ingress(&mut self, i: &ast::Spanned<ast::IfaceRef>, src: &SourceFile) -> Iface {
        match &i.node {
            // The kernel's ifindex is a positive `int`: a larger number would wrap to another device.
            ast::IfaceRef::Index(n) if (1..=i32::MAX as u64).contains(n) => Iface::Index(*n as u32),
            ast::IfaceRef::Index(n) => {
                self.diags.push(
                    Diag::new("compile::out_of_range", src, i.span, format!("ifindex {n} is out of range"))
                        .help(format!("an interface index is 1 to {}, or name an `env` interface", i32::MAX)),
                );
                Iface::Index(1)
            }
            ast::IfaceRef::Name(n) => {
                if !self.iface_names.contains(n) {
                    let help = match did_you_mean(n, self.iface_names.iter().map(String::as_str)) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None if self.iface_names.is_empty() => {
                            "declare it in an `env { link ... }` block, or give an ifindex number".to_string()
                        }
                        None => format!("interfaces declared in `env`: {}", self.iface_names.join(", ")),
                    };
                    self.diags.push(
                        Diag::new(
                            "compile::unknown_interface",
                            src,
                            i.span,
                            format!("interface `{n}` is not declared"),
                        )
                        .help(help),
                    );
                }
                Iface::Name(n.clone())
            }
        }
    }

    fn expect_packet(&mut self, l: &mut Lowering, e: &ast::ExpectPacket, src: &SourceFile) {
        if std::mem::take(&mut l.failed_send) {
            return;
        }
        let Some(idx) = l.open_run.take() else {
            self.diags.push(
                Diag::new("compile::expect_without_send", src, e.span, "this `expect` follows no `send`")
                    .help("each `send` takes at most one `expect` right after it"),
            );
            return;
        };
        let Some(action) = self.action(&e.action, src) else {
            return;
        };
        let mut written = Vec::new();
        let packet = match &e.packet {
            None => None,
            Some(expr) => {
                let Ok(p) = self.eval(expr, src, Role::Expected, l.last_input.clone()) else {
                    return;
                };
                written = crate::packet::written(&p);
                match encode_masked(&p) {
                    Ok(m) => {
                        l.packets.push(PcapPacket {
                            comment: format!("{} · send #{} · expected {}", l.scenario, l.sends, action_name(action)),
                            bytes: m.bytes.0.clone(),
                        });
                        Some(m)
                    }
                    Err(err) => {
                        self.diags.push(Diag::new(
                            "compile::encode",
                            src,
                            expr.span,
                            match &err {
                                MaskError::Encode(e) => encode_failure(&p, e),
                                other => format!("this packet cannot be encoded: {other}"),
                            },
                        ));
                        return;
                    }
                }
            }
        };
        let target = match &e.target {
            None => None,
            Some(t) if action != 4 => {
                self.diags.push(
                    Diag::new("compile::redirect_target", src, t.span, "only XDP_REDIRECT has a target")
                        .help("write `expect XDP_REDIRECT to eth1` (or `to cpu N`, `to xsk N`)"),
                );
                return;
            }
            Some(t) if self.iface_names.is_empty() => {
                self.diags.push(
                    Diag::new("compile::redirect_target", src, t.span, "a redirect target needs a network stage").help(
                        "xdptest sends the frame for real to see where it goes, inside the spec's `env`: \
                             declare the interfaces there (and send with `ingress` one of them)",
                    ),
                );
                return;
            }
            Some(t) => Some(match &t.node {
                ast::RedirectTarget::Cpu(n) => RedirectTarget::Cpu(*n as u32),
                ast::RedirectTarget::Xsk(n) => RedirectTarget::Xsk(*n as u32),
                ast::RedirectTarget::Iface(i) => {
                    RedirectTarget::Iface(self.ingress(&ast::Spanned { node: i.clone(), span: t.span }, src))
                }
            }),
        };
        if let Step::Run { expect, .. } = &mut l.steps[idx] {
            *expect = Some(Expectation { action, packet, target, meta: None, written });
        }
    }

    /// `program NAME` of a send: another XDP program of the object.
    fn send_program(&mut self, p: &ast::Ident, src: &SourceFile) -> Option<String> {
        let object = self.object?;
        let runnable: Vec<&str> =
            object.programs.iter().filter(|s| s.class().runs_as_xdp()).map(|s| s.name.as_str()).collect();
        if runnable.contains(&p.node.as_str()) {
            self.also.insert(p.node.clone());
            return Some(p.node.clone());
        }
        let help = match did_you_mean(&p.node, runnable.iter().copied()) {
            Some(m) => format!("did you mean `{m}`?"),
            None => format!("its XDP programs: {}", one_of(&runnable)),
        };
        self.diags.push(
            Diag::new("compile::unknown_program", src, p.span, format!("the object has no XDP program `{}`", p.node))
                .help(help),
        );
        None
    }

    /// XDP metadata bytes: `hex"..."`, a multiple of 4 bytes, at most 32 (what every kernel takes).
    fn meta_bytes(&mut self, v: &ast::Value, src: &SourceFile) -> Option<Vec<u8>> {
        let ast::ValueKind::Bytes(b) = &v.kind else {
            self.diags.push(
                Diag::new("compile::meta", src, v.span, format!("metadata is bytes, found {}", v.kind.describe()))
                    .help("write `meta hex\"00000001\"`"),
            );
            return None;
        };
        if b.len() % 4 != 0 || b.len() > 32 || b.is_empty() {
            self.diags.push(Diag::new("compile::meta", src, v.span, format!("metadata of {} bytes", b.len())).help(
                "XDP metadata is 4 to 32 bytes, a multiple of 4 (the kernel aligns it; older kernels take 32 at most)",
            ));
            return None;
        }
        Some(b.clone())
    }

    /// `expect meta [as struct NAME] == VALUE`: the metadata the last send's program left.
    fn expect_meta(&mut self, l: &mut Lowering, e: &ast::ExpectMeta, src: &SourceFile) {
        let Some(idx) = l.last_run else {
            self.diags.push(
                Diag::new("compile::expect_without_send", src, e.span, "this `expect meta` follows no `send`")
                    .help("write it after the `expect XDP_...` of the send"),
            );
            return;
        };
        let masked = match &e.record {
            Some(name) => {
                let Some(ty) = self.record_type(name, src) else { return };
                let mut typer = Typer { src, diags: self.diags, mode: Mode::Check, ifaces: &[] };
                let Ok(enc) = typer.encode(&ty, &e.expected, "the metadata") else { return };
                Masked { bytes: Bytes(enc.bytes), mask: Bytes(enc.mask) }
            }
            None => match &e.expected.kind {
                ast::ValueKind::Bytes(b) => Masked::exact(b.clone()),
                other => {
                    self.diags.push(
                        Diag::new(
                            "compile::meta",
                            src,
                            e.expected.span,
                            format!("metadata is bytes, found {}", other.describe()),
                        )
                        .help("write `expect meta == hex\"...\"`, or `expect meta as struct NAME == { ... }`"),
                    );
                    return;
                }
            },
        };
        match &mut l.steps[idx] {
            Step::Run { expect: Some(x), .. } => x.meta = Some(masked),
            _ => {
                self.diags.push(
                    Diag::new("compile::expect_meta", src, e.span, "`expect meta` needs the send's action first")
                        .help("write `expect XDP_PASS` (or the action the program returns) before `expect meta`"),
                );
            }
        }
    }

    fn action(&mut self, a: &ast::Spanned<String>, src: &SourceFile) -> Option<u32> {
        if let Ok(n) = a.node.parse::<u32>() {
            return Some(n);
        }
        if let Some(i) = XDP_ACTIONS.iter().position(|n| *n == a.node) {
            return Some(i as u32);
        }
        let help = match did_you_mean(&a.node, XDP_ACTIONS) {
            Some(m) => format!("did you mean {m}?"),
            None => format!("the actions are {}, or a number", one_of(&XDP_ACTIONS)),
        };
        self.diags.push(
            Diag::new("compile::unknown_action", src, a.span, format!("unknown XDP action `{}`", a.node)).help(help),
        );
        None
    }
}

/// Whether `expr` is just a name (`send tunnel`): a named packet, whose definition was linted.
fn is_bare_name(expr: &ast::PacketExpr) -> bool {
    matches!(expr.stack.as_slice(), [ast::Term::Layer(call)] if call.args.is_none()) && expr.modifiers.is_empty()
}
