//! Warnings and notes about packets that encode fine but may not say what their author meant. They
//! never stop a spec from compiling: a test may send a malformed packet on purpose, so the compiler
//! says what it noticed and lets the author decide.
//!
//! - `compile::ext_header_order` (warning): IPv6 extension headers out of the order RFC 8200 §4.1
//!   recommends, or repeated. Programs that walk the chain often assume that order.
//! - `compile::defaulted_protocol` (note): a raw `payload` right after `ipv4` or `ipv6` without
//!   `proto`/`nh`, so the protocol number was defaulted to 0xfd (experimental).

use xdptest_grammar::ast::Span;

use crate::diagnostic::{Diag, SourceFile};
use crate::packet::Packet;
use crate::wire::LayerKind;

/// Every warning and note about `packet`, written at `span` of `src`.
pub fn packet(packet: &Packet, src: &SourceFile, span: Span) -> Vec<Diag> {
    let kinds: Vec<LayerKind> = packet.iter().map(|l| l.layer.kind).collect();
    let mut out = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        if *kind == LayerKind::Ipv6 {
            if let Some(problem) = ext_order_problem(&kinds[i + 1..]) {
                out.push(
                    Diag::new("compile::ext_header_order", src, span, problem)
                        .help(
                            "RFC 8200 §4.1 order: hbh, dstopts (for the routing hops), routing or srh, frag6, \
                             dstopts (final), then the upper layer; each at most once. Keep the order if \
                             testing it is the point",
                        )
                        .warning(),
                );
            }
        }
    }
    for (i, pair) in packet.windows(2).enumerate() {
        let (ip, next) = (&pair[0].layer, &pair[1].layer);
        let field = match ip.kind {
            LayerKind::Ipv4 => "proto",
            LayerKind::Ipv6 => "nh",
            _ => continue,
        };
        if next.kind == LayerKind::Payload && !ip.fields.contains_key(field) && !pair[0].wild.contains(field) {
            out.push(
                Diag::new(
                    "compile::defaulted_protocol",
                    src,
                    span,
                    format!(
                        "layer {} (`{}`) carries a raw payload, so `{field}` was defaulted to 253 (experimental)",
                        i + 1,
                        ip.kind.name()
                    ),
                )
                .help(format!(
                    "say which protocol the bytes are, `{name}({field}=132) / payload(...)`, or write \
                     `{name}({field}=experimental)` to keep 253 without this note",
                    name = ip.kind.name()
                ))
                .note(),
            );
        }
    }
    out
}

/// Where an extension header chain (the layers after an `ipv6` layer) leaves RFC 8200's order, as
/// a message; `None` when it keeps it.
fn ext_order_problem(after_ipv6: &[LayerKind]) -> Option<String> {
    let chain: Vec<LayerKind> = after_ipv6.iter().copied().take_while(|k| k.is_ipv6_ext()).collect();
    let routing_at = chain.iter().position(|k| matches!(k, LayerKind::Routing | LayerKind::Srh));
    // Ranks in the recommended order. Destination options rank before routing when a routing header
    // follows them, else last (the final destination's options).
    let rank = |i: usize, k: LayerKind| match k {
        LayerKind::Hbh => 0,
        LayerKind::DstOpts if routing_at.is_some_and(|r| i < r) => 1,
        LayerKind::Routing | LayerKind::Srh => 2,
        LayerKind::Frag6 => 3,
        _ => 4,
    };
    if let Some(i) = chain.iter().skip(1).position(|k| *k == LayerKind::Hbh) {
        return Some(format!(
            "`hbh` is extension header {} after `ipv6`: hop-by-hop options must come right after the IPv6 header",
            i + 2
        ));
    }
    for i in 1..chain.len() {
        let (prev, here) = (rank(i - 1, chain[i - 1]), rank(i, chain[i]));
        if here <= prev {
            let what = if chain[i] == chain[i - 1] || here == prev { "a second" } else { "out of order:" };
            return Some(format!(
                "IPv6 extension headers {what} `{}` after `{}`",
                chain[i].name(),
                chain[i - 1].name()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use LayerKind::*;

    #[test]
    fn the_recommended_order_passes() {
        for chain in [
            vec![],
            vec![Hbh],
            vec![Hbh, DstOpts, Routing, Frag6, DstOpts, Tcp],
            vec![DstOpts, Srh, Udp],
            vec![Frag6, DstOpts],
            vec![Routing, DstOpts],
            vec![Hbh, Frag6, Payload],
            vec![Udp, Hbh], // after the upper layer: a quoted packet's business, not this chain's
        ] {
            assert_eq!(ext_order_problem(&chain), None, "{chain:?}");
        }
    }

    #[test]
    fn out_of_order_or_repeated_headers_are_named() {
        let cases = [
            (vec![DstOpts, Hbh], "`hbh` is extension header 2 after `ipv6`"),
            (vec![Frag6, Routing], "out of order: `routing` after `frag6`"),
            (vec![Routing, Routing], "a second `routing` after `routing`"),
            (vec![DstOpts, DstOpts], "a second `dstopts` after `dstopts`"),
            (vec![Frag6, Frag6, Udp], "a second `frag6` after `frag6`"),
            (vec![Routing, Srh], "a second `srh` after `routing`"),
            (vec![DstOpts, Frag6], "out of order: `frag6` after `dstopts`"),
        ];
        for (chain, want) in cases {
            let got = ext_order_problem(&chain).unwrap_or_default();
            assert!(got.contains(want), "{chain:?}: {got:?} lacks {want:?}");
        }
    }
}
