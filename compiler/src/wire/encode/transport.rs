//! Transport and control messages: UDP, TCP (with options), ICMP, ICMPv6 (echo, errors, neighbour
//! discovery). Their checksums cover an IPv4 or IPv6 pseudo-header (ICMP's does not).

use super::{address, get_bytes, inet_checksum, is_set, pseudo_header, round_up, Ctx, EncodeError, Writer};
use crate::wire::schema::ListKind;
use crate::wire::{Layer, LayerKind};

const MAX_TCP_OPTIONS: usize = 40;

/// TCP options as they go on the wire: zero-padded (EOL) to a multiple of 4 unless `doff` is set.
fn tcp_options(i: usize, layer: &Layer) -> Result<Vec<u8>, EncodeError> {
    let raw = get_bytes(layer, "options");
    let mut opts = raw.to_vec();
    if !is_set(layer, "doff") {
        opts.resize(round_up(raw.len(), 4), 0);
    }
    if opts.len() > MAX_TCP_OPTIONS {
        return Err(EncodeError::TooLong { layer: i, field: "options", len: raw.len(), max: MAX_TCP_OPTIONS });
    }
    Ok(opts)
}

/// The forms of an ICMPv6 message: which fields its body has after type, code and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Icmpv6Form {
    Echo,
    /// Destination unreachable, time exceeded, and unknown types: 4 unused bytes.
    Unused,
    PacketTooBig,
    ParamProblem,
    RouterSolicit,
    RouterAdvert,
    NeighborSolicit,
    NeighborAdvert,
}

impl Icmpv6Form {
    pub(crate) fn of(ty: u64) -> Icmpv6Form {
        match ty {
            128 | 129 => Icmpv6Form::Echo,
            2 => Icmpv6Form::PacketTooBig,
            4 => Icmpv6Form::ParamProblem,
            133 => Icmpv6Form::RouterSolicit,
            134 => Icmpv6Form::RouterAdvert,
            135 => Icmpv6Form::NeighborSolicit,
            136 => Icmpv6Form::NeighborAdvert,
            _ => Icmpv6Form::Unused,
        }
    }

    /// The fields of this form, after type, code and checksum.
    pub(crate) fn fields(self) -> &'static [&'static str] {
        match self {
            Icmpv6Form::Echo => &["id", "seq"],
            Icmpv6Form::Unused => &["unused"],
            Icmpv6Form::PacketTooBig => &["mtu"],
            Icmpv6Form::ParamProblem => &["pointer"],
            Icmpv6Form::RouterSolicit => &["unused", "options"],
            Icmpv6Form::RouterAdvert => &["cur_hlim", "m", "o", "lifetime", "reachable", "retrans", "options"],
            Icmpv6Form::NeighborSolicit => &["unused", "target", "options"],
            Icmpv6Form::NeighborAdvert => &["r", "s", "o", "target", "options"],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Icmpv6Form::Echo => "an echo message",
            Icmpv6Form::Unused => "this message type (only `unused` follows the checksum)",
            Icmpv6Form::PacketTooBig => "a packet too big message",
            Icmpv6Form::ParamProblem => "a parameter problem message",
            Icmpv6Form::RouterSolicit => "a router solicitation",
            Icmpv6Form::RouterAdvert => "a router advertisement",
            Icmpv6Form::NeighborSolicit => "a neighbour solicitation",
            Icmpv6Form::NeighborAdvert => "a neighbour advertisement",
        }
    }

    const ALL: [Icmpv6Form; 8] = [
        Icmpv6Form::Echo,
        Icmpv6Form::Unused,
        Icmpv6Form::PacketTooBig,
        Icmpv6Form::ParamProblem,
        Icmpv6Form::RouterSolicit,
        Icmpv6Form::RouterAdvert,
        Icmpv6Form::NeighborSolicit,
        Icmpv6Form::NeighborAdvert,
    ];

    /// The `type` names of this form, as a spec writes them.
    fn types(self) -> &'static str {
        match self {
            Icmpv6Form::Echo => "echo_request and echo_reply",
            Icmpv6Form::Unused => "dest_unreach, time_exceeded and unknown types",
            Icmpv6Form::PacketTooBig => "packet_too_big",
            Icmpv6Form::ParamProblem => "param_problem",
            Icmpv6Form::RouterSolicit => "router_solicit",
            Icmpv6Form::RouterAdvert => "router_advert",
            Icmpv6Form::NeighborSolicit => "neighbor_solicit",
            Icmpv6Form::NeighborAdvert => "neighbor_advert",
        }
    }

    /// The message types that have `field`, for errors.
    fn owners(field: &str) -> Option<String> {
        let owners: Vec<&str> =
            Icmpv6Form::ALL.iter().filter(|f| f.fields().contains(&field)).map(|f| f.types()).collect();
        (!owners.is_empty()).then(|| owners.join(", "))
    }

    /// Bytes of the fixed part after type, code and checksum.
    fn body_len(self) -> usize {
        match self {
            Icmpv6Form::RouterAdvert => 12,
            Icmpv6Form::NeighborSolicit | Icmpv6Form::NeighborAdvert => 20,
            _ => 4,
        }
    }

    fn has_options(self) -> bool {
        self.fields().contains(&"options")
    }
}

fn icmpv6_type(l: &Layer) -> u64 {
    super::get(l, "type").unwrap_or(128)
}

pub(super) fn header_len(i: usize, l: &Layer) -> Result<usize, EncodeError> {
    Ok(match l.kind {
        LayerKind::Udp | LayerKind::Icmp => 8,
        LayerKind::Tcp => 20 + tcp_options(i, l)?.len(),
        LayerKind::Icmpv6 => {
            let form = Icmpv6Form::of(icmpv6_type(l));
            4 + form.body_len() + if form.has_options() { get_bytes(l, "options").len() } else { 0 }
        }
        other => unreachable!("{other:?} is not a transport layer"),
    })
}

pub(super) fn encode(ctx: &Ctx, w: &mut Writer) -> Result<(), EncodeError> {
    match ctx.layer().kind {
        LayerKind::Udp => udp(ctx, w),
        LayerKind::Tcp => tcp(ctx, w),
        LayerKind::Icmp => icmp(ctx, w),
        LayerKind::Icmpv6 => icmpv6(ctx, w),
        other => unreachable!("{other:?} is not a transport layer"),
    }
}

/// Fills in an upper-layer checksum over the pseudo-header, this header and the rest of the packet
/// (`covered` bytes from the start of this layer). `zero_is_ffff`: UDP sends a computed 0 as 0xffff.
fn upper_checksum(ctx: &Ctx, w: &mut Writer, at: usize, proto: u8, covered: usize, zero_is_ffff: bool) {
    let Some(pseudo) = pseudo_header(ctx.layers, ctx.i, proto, covered) else { return };
    let covered = covered.min(ctx.rest_len);
    let hdr = w.buf.len().min(covered);
    let data = covered.saturating_sub(w.buf.len()).min(ctx.tail.len());
    let csum = inet_checksum(&[&pseudo, &w.buf[..hdr], &ctx.tail[..data]]);
    w.patch16(at, if zero_is_ffff && csum == 0 { 0xffff } else { csum });
}

fn udp(ctx: &Ctx, w: &mut Writer) -> Result<(), EncodeError> {
    let (sport, dport) = match ctx.next_kind() {
        Some(LayerKind::Gtpu) => (2152, 2152),
        Some(LayerKind::Vxlan) => (0, 4789),
        Some(LayerKind::Geneve) => (0, 6081),
        Some(LayerKind::Gue) => (0, 6080),
        _ => (0, 0),
    };
    w.field("sport", 16, ctx.or("sport", sport));
    w.field("dport", 16, ctx.or("dport", dport));
    let len = ctx.length("len", ctx.rest_len, 16)?;
    w.field("len", 16, len);
    let at = w.pos();
    w.field("checksum", 16, ctx.or("checksum", 0));
    if ctx.get("checksum").is_none() {
        // Receivers checksum `len` bytes (the header's own length) when they are there.
        let covered = usize::try_from(len).unwrap_or(usize::MAX);
        upper_checksum(ctx, w, at, 17, covered, true);
    }
    Ok(())
}

fn tcp(ctx: &Ctx, w: &mut Writer) -> Result<(), EncodeError> {
    let opts = tcp_options(ctx.i, ctx.layer())?;
    w.field("sport", 16, ctx.or("sport", 0));
    w.field("dport", 16, ctx.or("dport", 0));
    w.field("seq", 32, ctx.or("seq", 0));
    w.field("ack_seq", 32, ctx.or("ack_seq", 0));
    w.field("doff", 4, ctx.or("doff", ((20 + opts.len()) / 4) as u64));
    w.field("reserved", 4, ctx.or("reserved", 0));
    // The eight flags, one bit each, and all of them as `flags` (which wins when set).
    const FLAGS: [&str; 8] = ["cwr", "ece", "urg", "ack", "psh", "rst", "syn", "fin"];
    let flags = match ctx.get("flags") {
        Some(f) => f,
        None => FLAGS.iter().fold(0, |acc, f| acc << 1 | ctx.or(f, 0)),
    };
    let at = w.bit;
    for (k, name) in FLAGS.iter().enumerate() {
        w.view(name, at + k, 1);
    }
    w.view("flags", at, 8);
    w.bits(8, flags);
    w.field("window", 16, ctx.or("window", 65535));
    let csum_at = w.pos();
    w.field("checksum", 16, ctx.or("checksum", 0));
    w.field("urg_ptr", 16, ctx.or("urg_ptr", 0));
    w.list("options", ListKind::TcpOptions, &opts);
    if ctx.get("checksum").is_none() {
        upper_checksum(ctx, w, csum_at, 6, ctx.rest_len, false);
    }
    Ok(())
}

fn icmp(ctx: &Ctx, w: &mut Writer) -> Result<(), EncodeError> {
    w.field("type", 8, ctx.or("type", 0));
    w.field("code", 8, ctx.or("code", 0));
    let csum_pos = w.pos();
    w.field("checksum", 16, ctx.or("checksum", 0));
    let rest = match ctx.get("rest") {
        Some(rest) => rest,
        None => {
            let low = match (ctx.get("seq"), ctx.get("mtu")) {
                (Some(s), Some(m)) if s != m => {
                    return Err(EncodeError::Conflict { layer: ctx.i, field: "seq", other: "mtu" })
                }
                (s, m) => s.or(m).unwrap_or(0),
            };
            ctx.or("id", 0) << 16 | low
        }
    };
    w.view("id", 32, 16);
    w.view("seq", 48, 16);
    w.view("mtu", 48, 16);
    w.view("rest", 32, 32);
    w.bits(32, rest);
    if ctx.get("checksum").is_none() {
        let csum = inet_checksum(&[&w.buf, ctx.tail]);
        w.patch16(csum_pos, csum);
    }
    Ok(())
}

fn icmpv6(ctx: &Ctx, w: &mut Writer) -> Result<(), EncodeError> {
    let l = ctx.layer();
    let ty = icmpv6_type(l);
    let form = Icmpv6Form::of(ty);
    let mut allowed = vec!["type", "code", "checksum"];
    allowed.extend(form.fields());
    ctx.only(&allowed, form.name(), Icmpv6Form::owners)?;
    w.field("type", 8, ty);
    w.field("code", 8, ctx.or("code", 0));
    let csum_at = w.pos();
    w.field("checksum", 16, ctx.or("checksum", 0));
    match form {
        Icmpv6Form::Echo => {
            w.field("id", 16, ctx.or("id", 0));
            w.field("seq", 16, ctx.or("seq", 0));
        }
        Icmpv6Form::Unused | Icmpv6Form::RouterSolicit => w.field("unused", 32, ctx.or("unused", 0)),
        Icmpv6Form::PacketTooBig => w.field("mtu", 32, ctx.or("mtu", 1280)),
        Icmpv6Form::ParamProblem => w.field("pointer", 32, ctx.or("pointer", 0)),
        Icmpv6Form::RouterAdvert => {
            w.field("cur_hlim", 8, ctx.or("cur_hlim", 64));
            w.field("m", 1, ctx.or("m", 0));
            w.field("o", 1, ctx.or("o", 0));
            w.bits(6, 0);
            w.field("lifetime", 16, ctx.or("lifetime", 1800));
            w.field("reachable", 32, ctx.or("reachable", 0));
            w.field("retrans", 32, ctx.or("retrans", 0));
        }
        Icmpv6Form::NeighborSolicit => {
            w.field("unused", 32, ctx.or("unused", 0));
            w.bytes("target", &address(l, "target", 16));
        }
        Icmpv6Form::NeighborAdvert => {
            w.field("r", 1, ctx.or("r", 0));
            w.field("s", 1, ctx.or("s", 0));
            w.field("o", 1, ctx.or("o", 0));
            w.bits(29, 0);
            w.bytes("target", &address(l, "target", 16));
        }
    }
    if form.has_options() {
        w.list("options", ListKind::NdOptions, get_bytes(l, "options"));
    }
    if ctx.get("checksum").is_none() {
        upper_checksum(ctx, w, csum_at, 58, ctx.rest_len, false);
    }
    Ok(())
}
