//! Lowering one `scenario` into the steps of a fixture: map writes, sends with their expectations, map
//! checks, in the order written. A statement that fails to compile reports once: an `expect` after a
//! `send` that failed is not checked again.

use xdptest_grammar::ast::{self, Span, Stmt};

use super::SpecCx;
use crate::diagnostic::{did_you_mean, error_count, one_of, Diag, SourceFile};
use crate::fixture::{action_name, Bytes, Ctx, Expectation, Iface, Step, XDP_ACTIONS};
use crate::lint;
use crate::packet::{encode_exact, encode_failure, encode_masked, MaskError, Packet, Role};
use crate::pcap::PcapPacket;

/// A scenario's steps, its packets for the capture, and whether it says `expect snapshot`.
pub(super) struct Lowered {
    pub steps: Vec<Step>,
    pub packets: Vec<PcapPacket>,
    pub snapshot: bool,
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
                Stmt::Send(send) => self.send(&mut l, send, src),
                Stmt::ExpectPacket(e) => self.expect_packet(&mut l, e, src),
                Stmt::ExpectMap(e) => {
                    l.open_run = None;
                    l.failed_send = false;
                    l.steps.extend(self.expect_map(e, src));
                }
            }
        }
        if l.sends == 0 && error_count(self.diags) == before {
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
        Some(Lowered { steps: l.steps, packets: l.packets, snapshot: l.snapshot.is_some() })
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
        l.sends += 1;
        let ctx = Ctx {
            ingress: send.ingress.as_ref().map(|i| self.ingress(i, src)),
            rx_queue: send.queue.as_ref().map(|q| q.node.min(u32::MAX as u64) as u32),
        };
        l.packets
            .push(PcapPacket {
                comment: format!("{} · send #{} · input", l.scenario, l.sends), bytes: bytes.clone()
            });
        l.steps.push(Step::Run { input: Bytes(bytes), ctx, expect: None, source: src.location(send.span) });
        l.open_run = Some(l.steps.len() - 1);
        l.failed_send = false;
        l.last_input = Some(packet);
    }

    /// `ingress eth0` or `ingress 3`; a name must be declared in `env`.
    fn ingress(&mut self, i: &ast::Spanned<ast::IfaceRef>, src: &SourceFile) -> Iface {
        match &i.node {
            ast::IfaceRef::Index(n) => Iface::Index(*n as u32),
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
        let packet = match &e.packet {
            None => None,
            Some(expr) => {
                let Ok(p) = self.eval(expr, src, Role::Expected, l.last_input.clone()) else {
                    return;
                };
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
        if let Step::Run { expect, .. } = &mut l.steps[idx] {
            *expect = Some(Expectation { action, packet });
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
