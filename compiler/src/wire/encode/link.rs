//! Link layers: Ethernet, 802.1Q tags, MPLS label stack entries, ARP.

use super::{address, ether_type_for, kind_at, Ctx, Writer};
use crate::wire::{Layer, LayerKind};

pub(super) fn header_len(l: &Layer) -> usize {
    match l.kind {
        LayerKind::Ether => 14,
        LayerKind::Vlan | LayerKind::Mpls => 4,
        LayerKind::Arp => 28,
        other => unreachable!("{other:?} is not a link layer"),
    }
}

pub(super) fn encode(ctx: &Ctx, w: &mut Writer) {
    let (layers, i) = (ctx.layers, ctx.i);
    let l = ctx.layer();
    match l.kind {
        LayerKind::Ether => {
            w.field("dst", 48, ctx.or("dst", 0));
            w.field("src", 48, ctx.or("src", 0));
            w.field("type", 16, ctx.or("type", ether_type_for(layers, i + 1)));
        }
        LayerKind::Vlan => {
            w.field("pcp", 3, ctx.or("pcp", 0));
            w.field("dei", 1, ctx.or("dei", 0));
            w.field("vid", 12, ctx.or("vid", 0));
            w.field("type", 16, ctx.or("type", ether_type_for(layers, i + 1)));
        }
        LayerKind::Mpls => {
            w.field("label", 20, ctx.or("label", 0));
            w.field("tc", 3, ctx.or("tc", 0));
            w.field("s", 1, ctx.or("s", u64::from(kind_at(layers, i + 1) != Some(LayerKind::Mpls))));
            w.field("ttl", 8, ctx.or("ttl", 64));
        }
        LayerKind::Arp => {
            w.field("htype", 16, ctx.or("htype", 1));
            w.field("ptype", 16, ctx.or("ptype", 0x0800));
            w.field("hlen", 8, ctx.or("hlen", 6));
            w.field("plen", 8, ctx.or("plen", 4));
            w.field("op", 16, ctx.or("op", 1));
            w.bytes("sender_mac", &address(l, "sender_mac", 6));
            w.bytes("sender_ip", &address(l, "sender_ip", 4));
            w.bytes("target_mac", &address(l, "target_mac", 6));
            w.bytes("target_ip", &address(l, "target_ip", 4));
        }
        other => unreachable!("{other:?} is not a link layer"),
    }
}
