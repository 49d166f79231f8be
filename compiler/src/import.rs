//! Frames → `.pkt` packet definitions (`xdptest import`): each frame decoded into layers and written
//! the way an author would write it, with only the fields that matter.
//!
//! How a frame becomes a definition, and why the result is always exact:
//! 1. [`wire::decode`] names every field of every layer it knows. Setting all of them explicitly
//!    encodes back to the same bytes (the decoder and encoder span the same bits); where it does not
//!    (a header the decoder only half knows), the layers from there on become one raw `payload`.
//! 2. Fields are then dropped one at a time, keeping a drop only when the packet still encodes to
//!    the captured bytes: defaults, and lengths, checksums and protocol numbers that derive to the
//!    captured value, disappear; a wrong checksum (offload captures) stays, as the deliberate value
//!    it is. Option lists lose trailing padding the same way.
//! 3. The text is written from the layers (symbols, flags by name, option lists as items), and
//!    [`check`] compiles the whole file with the real front end and compares every packet with its
//!    frame, so an import never hands the user a definition that means different bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::capture::Frame;
use crate::wire::{self, FieldKind, FieldValue, ItemArg, Layer, LayerKind, ListItem, ListKind};

/// A frame as layers, and what could not be decoded.
#[derive(Debug, Clone)]
pub struct Lifted {
    /// The layers, with the fields to write (and the constructors' presets).
    pub layers: Vec<Layer>,
    /// How each layer is written: its own name or a preset constructor (`tcp.syn`) whose presets
    /// are the values on the wire.
    pub constructors: Vec<&'static wire::Constructor>,
    /// Why some bytes are a raw payload although a header was expected there.
    pub raw_reason: Option<String>,
    /// How many bytes after the IP packet's end the frame carries (the last payload layer).
    pub trailer: Option<usize>,
}

/// The decoded layers of `frame` with the fewest fields that still encode to exactly its bytes.
pub fn lift(frame: &[u8]) -> Lifted {
    let decoded = wire::decode(frame);
    let full: Vec<Layer> = decoded.layers.iter().map(full_layer).collect();
    let encodes = |layers: &[Layer]| wire::encode(layers).is_ok_and(|e| e.bytes == frame);
    let (mut layers, raw_reason) = if encodes(&full) {
        (full, decoded.truncated.clone())
    } else {
        // The longest prefix of layers that holds, then the rest as bytes.
        let mut found = None;
        for k in (0..full.len()).rev() {
            let at = decoded.layers[k].byte_offset;
            let mut attempt = full[..k].to_vec();
            attempt.push(raw(&frame[at..]));
            if encodes(&attempt) {
                let reason = format!(
                    "the {} header at byte {at} does not encode back to the captured bytes",
                    decoded.layers[k].kind.name()
                );
                found = Some((attempt, Some(reason)));
                break;
            }
        }
        found.unwrap_or_else(|| (vec![raw(frame)], Some("the frame does not decode as Ethernet".into())))
    };
    split_trailing_bytes(&mut layers, frame);
    let full = layers.clone();
    let constructors: Vec<&'static wire::Constructor> = full.iter().map(constructor_for).collect();
    for (layer, c) in layers.iter_mut().zip(&constructors) {
        for (name, v) in c.presets {
            layer.fields.insert(name, FieldValue::Int(*v));
        }
    }
    minimise(&mut layers, &constructors, frame);
    let mut lifted = Lifted { layers, constructors, raw_reason, trailer: None };
    split_trailer(&mut lifted, &decoded, frame);
    split_long_payloads(&mut lifted);
    lifted
}

/// The longest byte string a spec may write.
const MAX_BYTES: usize = 65_535;

/// A payload longer than a byte string may be (a multi-buffer frame) becomes several payloads.
fn split_long_payloads(lifted: &mut Lifted) {
    let mut i = 0;
    while i < lifted.layers.len() {
        let long = match lifted.layers[i].fields.get("data") {
            Some(FieldValue::Bytes(d)) if lifted.layers[i].kind == LayerKind::Payload && d.len() > MAX_BYTES => {
                d.clone()
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let parts: Vec<Layer> = long.chunks(32_768).map(raw).collect();
        let n = parts.len();
        let ctor = lifted.constructors[i];
        lifted.layers.splice(i..=i, parts);
        lifted.constructors.splice(i..=i, std::iter::repeat_n(ctor, n));
        i += n;
    }
}

/// Bytes after the end of the outermost IP packet (its total length says where: Ethernet pads
/// short frames to 60 bytes, and some NICs append a trailer) become a payload of their own after
/// the packet's data, so that `payload("hi")` reads as the data it is.
fn split_trailer(lifted: &mut Lifted, decoded: &wire::Decoded, frame: &[u8]) {
    let ip_end = decoded.layers.iter().find_map(|l| match l.kind {
        LayerKind::Ipv4 => l.int("len").map(|n| l.byte_offset + n as usize),
        LayerKind::Ipv6 => l.int("plen").map(|n| l.byte_offset + 40 + n as usize),
        _ => None,
    });
    let (Some(end), Some(last)) = (ip_end, decoded.layers.last()) else { return };
    if last.kind != LayerKind::Payload || end <= last.byte_offset || end >= frame.len() {
        return;
    }
    let Some(layer) = lifted.layers.last_mut().filter(|l| l.kind == LayerKind::Payload) else { return };
    let Some(FieldValue::Bytes(data)) = layer.fields.get_mut("data") else { return };
    let cut = end - last.byte_offset;
    if cut >= data.len() {
        return;
    }
    let trailer = data.split_off(cut);
    let mut attempt = lifted.layers.clone();
    attempt.push(raw(&trailer));
    if wire::encode(&attempt).is_ok_and(|e| e.bytes == frame) {
        lifted.trailer = Some(trailer.len());
        lifted.layers = attempt;
        lifted.constructors.push(constructor_for(lifted.layers.last().expect("just pushed")));
    } else if let Some(FieldValue::Bytes(data)) = lifted.layers.last_mut().and_then(|l| l.fields.get_mut("data")) {
        data.extend(trailer);
    }
}

/// Neighbour discovery options run to the end of the packet, so bytes after the last well-formed
/// option (padding, a second message, junk) are read as options that no list can write. They
/// become a payload after the message instead, when that encodes to the same bytes.
fn split_trailing_bytes(layers: &mut Vec<Layer>, frame: &[u8]) {
    for i in 0..layers.len() {
        let Some(FieldValue::Bytes(options)) = layers[i].fields.get("options") else { continue };
        if layers[i].kind.field("options").and_then(|d| d.list) != Some(ListKind::NdOptions)
            || list_items(ListKind::NdOptions, options).is_some()
        {
            continue;
        }
        let (_, used) = leading_items(ListKind::NdOptions, options);
        let rest = options[used..].to_vec();
        let mut attempt = layers.clone();
        attempt[i].fields.insert("options", FieldValue::Bytes(options[..used].to_vec()));
        match attempt.get_mut(i + 1) {
            Some(next) if next.kind == LayerKind::Payload => {
                if let Some(FieldValue::Bytes(data)) = next.fields.get_mut("data") {
                    data.splice(0..0, rest);
                }
            }
            _ => attempt.insert(i + 1, raw(&rest)),
        }
        if wire::encode(&attempt).is_ok_and(|e| e.bytes == frame) {
            *layers = attempt;
        }
        return;
    }
}

fn raw(bytes: &[u8]) -> Layer {
    let mut l = Layer::new(LayerKind::Payload);
    l.fields.insert("data", FieldValue::Bytes(bytes.to_vec()));
    l
}

/// Every schema field the decoder found, except the named values inside option lists (the list's
/// bytes carry them).
fn full_layer(d: &wire::DecodedLayer) -> Layer {
    let lists: Vec<(usize, usize)> = d
        .fields
        .iter()
        .filter(|f| d.kind.field(f.name).is_some_and(|def| def.list.is_some()))
        .map(|f| (f.bit_offset, f.bit_offset + f.bits))
        .collect();
    let mut layer = Layer::new(d.kind);
    for f in &d.fields {
        let Some(def) = d.kind.field(f.name) else { continue };
        let inside_list =
            def.list.is_none() && lists.iter().any(|(a, b)| f.bit_offset >= *a && f.bit_offset + f.bits <= *b);
        if !inside_list {
            layer.fields.insert(def.name, f.value.clone());
        }
    }
    layer
}

/// Fields to try dropping before the others, so that the one that reads best stays: TCP flags as
/// one `flags=syn|ack` rather than eight bits, DSCP/ECN rather than the whole TOS byte, ICMP
/// id/seq (or the MTU of "fragmentation needed") rather than the four bytes they share.
fn drop_first(layer: &Layer) -> &'static [&'static str] {
    match layer.kind {
        LayerKind::Tcp => &["cwr", "ece", "urg", "ack", "psh", "rst", "syn", "fin"],
        LayerKind::Ipv4 => &["tos"],
        LayerKind::Ipv6 => &["tc"],
        LayerKind::Icmp if layer.fields.get("type") == Some(&FieldValue::Int(3)) => &["rest", "id", "seq"],
        LayerKind::Icmp => &["rest", "mtu"],
        _ => &[],
    }
}

/// Drops every field whose absence leaves the bytes as they are (see the module comment), except
/// the presets of each layer's constructor. Repeated until nothing more goes: one field can hold
/// another in place (an explicit N-PDU number keeps the flag that says it is there).
fn minimise(layers: &mut [Layer], constructors: &[&wire::Constructor], frame: &[u8]) {
    let encodes = |layers: &[Layer]| wire::encode(layers).is_ok_and(|e| e.bytes == frame);
    for _pass in 0..4 {
        let before: usize = layers.iter().map(|l| l.fields.len()).sum();
        for (i, constructor) in constructors.iter().enumerate() {
            drop_fields(layers, i, constructor, &encodes);
        }
        if layers.iter().map(|l| l.fields.len()).sum::<usize>() == before {
            break;
        }
    }
}

fn drop_fields(layers: &mut [Layer], i: usize, constructor: &wire::Constructor, encodes: &dyn Fn(&[Layer]) -> bool) {
    {
        let first = drop_first(&layers[i]);
        let pinned = |n: &str| constructor.presets.iter().any(|(p, _)| *p == n);
        let mut order: Vec<&'static str> = first.iter().copied().filter(|n| layers[i].fields.contains_key(n)).collect();
        order.extend(layers[i].kind.fields().iter().map(|d| d.name).filter(|n| !first.contains(n)));
        for name in order.into_iter().filter(|n| !pinned(n)) {
            let Some(value) = layers[i].fields.remove(name) else { continue };
            if !encodes(layers) {
                layers[i].fields.insert(name, value);
            }
        }
        // Padding at the end of an option list that the layer would add anyway.
        let list_fields: Vec<(&'static str, ListKind)> = layers[i]
            .fields
            .keys()
            .filter_map(|n| layers[i].kind.field(n).and_then(|d| d.list.map(|k| (d.name, k))))
            .collect();
        for (name, kind) in list_fields {
            let Some(FieldValue::Bytes(bytes)) = layers[i].fields.get(name) else { continue };
            let Some(mut items) = list_items(kind, bytes) else { continue };
            while items.last().is_some_and(|it| matches!(it.name.as_str(), "eol" | "nop" | "pad1" | "padn")) {
                let mut shorter = items.clone();
                shorter.pop();
                let Ok(b) = wire::encode_list(kind, &shorter) else { break };
                let before = layers[i].fields.insert(name, FieldValue::Bytes(b));
                if encodes(layers) {
                    items = shorter;
                } else {
                    if let Some(v) = before {
                        layers[i].fields.insert(name, v);
                    }
                    break;
                }
            }
            if items.is_empty() {
                let before = layers[i].fields.remove(name);
                if !encodes(layers) {
                    if let Some(v) = before {
                        layers[i].fields.insert(name, v);
                    }
                }
            }
        }
    }
}

/// The items of an option list, when its bytes are exactly a list the language can write.
pub fn list_items(kind: ListKind, bytes: &[u8]) -> Option<Vec<ListItem>> {
    let (items, used) = leading_items(kind, bytes);
    (used == bytes.len()).then_some(items)
}

/// The items at the start of an option list that write back to exactly their bytes, and how many
/// bytes they take.
fn leading_items(kind: ListKind, bytes: &[u8]) -> (Vec<ListItem>, usize) {
    let (mut items, mut ends) = parse_items(kind, bytes);
    // Only items that write back to exactly these bytes (a padded raw option may not).
    while let Some(&end) = ends.last() {
        if wire::encode_list(kind, &items).ok().as_deref() == Some(&bytes[..end]) {
            return (items, end);
        }
        items.pop();
        ends.pop();
    }
    (Vec::new(), 0)
}

/// The items a list's bytes start with, and where each ends; reading stops at the first that is
/// cut short or malformed.
fn parse_items(kind: ListKind, bytes: &[u8]) -> (Vec<ListItem>, Vec<usize>) {
    let mut ends = Vec::new();
    let items = parse_into(kind, bytes, &mut ends);
    (items, ends)
}

fn parse_into(kind: ListKind, bytes: &[u8], ends: &mut Vec<usize>) -> Vec<ListItem> {
    let item = |name: &str, args: Vec<ItemArg>| ListItem { name: name.to_string(), args };
    let int = |b: &[u8]| b.iter().fold(0u64, |a, x| a << 8 | u64::from(*x));
    let mut items = Vec::new();
    let mut at = 0;
    // `None` from a lookup: the item is cut short, and the list ends before it.
    let step = |at: usize, items: &mut Vec<ListItem>| -> Option<usize> {
        let ty = bytes[at];
        let next = match kind {
            ListKind::TcpOptions | ListKind::Ipv4Options => {
                if ty <= 1 {
                    items.push(item(if ty == 0 { "eol" } else { "nop" }, vec![]));
                    return Some(at + 1);
                }
                let len = usize::from(*bytes.get(at + 1)?);
                let opt = bytes.get(at..at + len).filter(|_| len >= 2)?;
                let data = &opt[2..];
                items.push(match (kind, ty, len) {
                    (ListKind::TcpOptions, 2, 4) => item("mss", vec![ItemArg::Int(int(data))]),
                    (ListKind::TcpOptions, 3, 3) => item("wscale", vec![ItemArg::Int(int(data))]),
                    (ListKind::TcpOptions, 4, 2) => item("sack_permitted", vec![]),
                    (ListKind::TcpOptions, 5, _) if len > 2 && (len - 2) % 8 == 0 => {
                        item("sack", data.chunks(4).map(|c| ItemArg::Int(int(c))).collect())
                    }
                    (ListKind::TcpOptions, 8, 10) => {
                        item("timestamps", vec![ItemArg::Int(int(&data[..4])), ItemArg::Int(int(&data[4..]))])
                    }
                    (ListKind::Ipv4Options, 7, _)
                        if len >= 3 && (len - 3) % 4 == 0 && usize::from(data[0]) == len + 1 =>
                    {
                        let addrs = data[1..].chunks(4).map(|c| ItemArg::Ipv4(c.try_into().expect("4 bytes")));
                        item("rr", vec![ItemArg::List(addrs.collect())])
                    }
                    (ListKind::Ipv4Options, 68, _)
                        if len >= 4 && (len - 4) % 4 == 0 && usize::from(data[0]) == len + 1 && data[1] == 0 =>
                    {
                        let values = data[2..].chunks(4).map(|c| ItemArg::Int(int(c)));
                        item("timestamp", vec![ItemArg::List(values.collect())])
                    }
                    (ListKind::Ipv4Options, 148, 4) => item("router_alert", vec![ItemArg::Int(int(data))]),
                    _ => item("raw", vec![ItemArg::Int(u64::from(ty)), ItemArg::Bytes(data.to_vec())]),
                });
                at + len
            }
            ListKind::Ipv6Options => {
                if ty == 0 {
                    items.push(item("pad1", vec![]));
                    return Some(at + 1);
                }
                let len = usize::from(*bytes.get(at + 1)?);
                let data = bytes.get(at + 2..at + 2 + len)?;
                items.push(match (ty, len) {
                    (1, _) if data.iter().all(|b| *b == 0) => item("padn", vec![ItemArg::Int(len as u64 + 2)]),
                    (5, 2) => item("router_alert", vec![ItemArg::Int(int(data))]),
                    (0xc2, 4) => item("jumbo", vec![ItemArg::Int(int(data))]),
                    _ => item("raw", vec![ItemArg::Int(u64::from(ty)), ItemArg::Bytes(data.to_vec())]),
                });
                at + 2 + len
            }
            ListKind::NdOptions => {
                let len = usize::from(*bytes.get(at + 1)?) * 8;
                let opt = bytes.get(at..at + len).filter(|_| len > 0)?;
                let zero = |r: std::ops::Range<usize>| opt[r].iter().all(|b| *b == 0);
                items.push(match (ty, len) {
                    (1 | 2, 8) => item(
                        if ty == 1 { "src_lladdr" } else { "tgt_lladdr" },
                        vec![ItemArg::Mac(opt[2..8].try_into().expect("6 bytes"))],
                    ),
                    (3, 32) if zero(12..16) => item(
                        "prefix_info",
                        vec![
                            ItemArg::Prefix6(opt[16..32].try_into().expect("16 bytes"), opt[2]),
                            ItemArg::Int(u64::from(opt[3])),
                            ItemArg::Int(int(&opt[4..8])),
                            ItemArg::Int(int(&opt[8..12])),
                        ],
                    ),
                    (5, 8) if zero(2..4) => item("mtu", vec![ItemArg::Int(int(&opt[4..8]))]),
                    _ => item("raw", vec![ItemArg::Int(u64::from(ty)), ItemArg::Bytes(opt[2..].to_vec())]),
                });
                at + len
            }
            ListKind::GeneveOptions => {
                let head = bytes.get(at..at + 4)?;
                let len = 4 + usize::from(head[3] & 0x1f) * 4;
                let opt = bytes.get(at..at + len).filter(|_| head[3] & 0xe0 == 0)?;
                items.push(item(
                    "option",
                    vec![
                        ItemArg::Int(int(&opt[..2])),
                        ItemArg::Int(u64::from(opt[2])),
                        ItemArg::Bytes(opt[4..].to_vec()),
                    ],
                ));
                at + len
            }
            ListKind::Ipv6Addrs => return None,
        };
        Some(next)
    };
    while at < bytes.len() {
        match step(at, &mut items) {
            Some(next) => {
                ends.push(next);
                at = next;
            }
            None => break,
        }
    }
    items
}

/// The name a frame's packet gets.
pub fn packet_name(prefix: &str, frame: &Frame) -> String {
    format!("{prefix}{}", frame.number)
}

/// One frame's definition: its `##` description and the `packet` line(s).
/// `start` is when the first frame imported was captured: times are shown from there.
pub fn definition(name: &str, frame: &Frame, lifted: &Lifted, start: Option<std::time::Duration>) -> String {
    let mut out = String::new();
    let mut head = format!("## Frame {}: {} bytes", frame.number, frame.bytes.len());
    if frame.cut() > 0 {
        let _ = write!(head, " of {} (the capture's snap length cut the rest)", frame.original_len);
    }
    if let (Some(t), Some(start)) = (frame.time, start) {
        let _ = write!(head, ", at +{:.6} s", t.saturating_sub(start).as_secs_f64());
    }
    let _ = writeln!(out, "{head}.");
    if let Some(note) = frame.link_note {
        let _ = writeln!(out, "## From {note}.");
    }
    if let Some(n) = lifted.trailer {
        let _ = writeln!(out, "## The last {n} bytes come after the IP packet's end (Ethernet padding or a trailer).");
    }
    if let Some(reason) = &lifted.raw_reason {
        let _ = writeln!(out, "## Raw bytes from where decoding stopped: {}.", one_line(reason));
    }
    for c in &frame.comments {
        for line in c.lines() {
            let _ = writeln!(out, "## Capture comment: {}", one_line(line));
        }
    }
    let lead = format!("packet {name} = ");
    let indent = " ".repeat(lead.len() - 2);
    for (i, layer) in lifted.layers.iter().enumerate() {
        if i == 0 {
            out.push_str(&lead);
        } else {
            let _ = write!(out, "\n{indent}/ ");
        }
        let column = if i == 0 { lead.len() } else { indent.len() + 2 };
        out.push_str(&render_layer(layer, lifted.constructors[i], column));
    }
    out.push('\n');
    out
}

/// Control characters would end a comment line or hide text: they become spaces.
pub fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `kind(field=value, flag, …)`, `vlan(100)`, `payload("abc")`, or a bare `udp`; the presets of
/// `constructor` are left for it to set. `indent` is the column the layer starts at: arguments that
/// would run past [`WIDTH`] continue on the next line, under the first.
pub fn render_layer(layer: &Layer, constructor: &wire::Constructor, indent: usize) -> String {
    let (ctor, presets) = (constructor.name, constructor.presets);
    if let (Some(pos), [only]) = (layer.kind.positional(), layer.fields.keys().collect::<Vec<_>>().as_slice()) {
        if **only == pos && presets.is_empty() {
            let def = layer.kind.field(pos).expect("positional field is in the schema");
            return format!("{ctor}({})", render_value(def, &layer.fields[pos], indent));
        }
    }
    // Addresses first, as people write them (`ipv4(src=…, dst=…, ttl=1)`), then wire order.
    let mut defs: Vec<&wire::FieldDef> = layer.kind.fields().iter().collect();
    defs.sort_by_key(|d| match d.name {
        "src" => 0,
        "dst" => 1,
        _ => 2,
    });
    let mut args: Vec<String> = Vec::new();
    for def in defs {
        let Some(value) = layer.fields.get(def.name) else { continue };
        if presets.iter().any(|(n, _)| *n == def.name) {
            continue;
        }
        // ICMP code names are those of "destination unreachable": for other types, a number.
        let unreach = match layer.kind {
            LayerKind::Icmp => Some(3),
            LayerKind::Icmpv6 => Some(1),
            _ => None,
        };
        let plain;
        let def = match unreach {
            Some(t) if def.name == "code" && layer.fields.get("type") != Some(&FieldValue::Int(t)) => {
                plain = wire::FieldDef { symbols: &[], ..*def };
                &plain
            }
            _ => def,
        };
        args.push(match (def.kind, value) {
            (FieldKind::Flag, FieldValue::Int(1)) => def.name.to_string(),
            _ => format!("{}={}", def.name, render_value(def, value, indent)),
        });
    }
    if args.is_empty() {
        return ctor.to_string();
    }
    let under = indent + ctor.len() + 1;
    let mut out = format!("{ctor}(");
    let mut col = under;
    for (i, arg) in args.iter().enumerate() {
        let first_line = arg.lines().next().unwrap_or_default().chars().count();
        if i > 0 {
            if col + 2 + first_line + 1 > WIDTH {
                let _ = write!(out, ",\n{}", " ".repeat(under));
                col = under;
            } else {
                out.push_str(", ");
                col += 2;
            }
        }
        let arg = wrap_list(arg, col, i + 1 == args.len());
        out.push_str(&arg);
        col = match arg.rsplit_once('\n') {
            Some((_, last)) => last.chars().count(),
            None => col + first_line,
        };
    }
    out.push(')');
    out
}

/// `options=[a, b, c]` starting at column `col`, its items continued under the first when the
/// whole would run past [`WIDTH`] (`last`: the layer's `)` follows).
fn wrap_list(arg: &str, col: usize, last: bool) -> String {
    let tail = usize::from(last);
    let Some(open) = arg.find("=[").map(|i| i + 2) else { return arg.to_string() };
    if arg.contains('\n') || col + arg.chars().count() + tail <= WIDTH || !arg.ends_with(']') {
        return arg.to_string();
    }
    // Items at the list's own depth.
    let inner = &arg[open..arg.len() - 1];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                items.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(inner[start..].trim());
    let under = col + arg[..open].chars().count();
    let mut out = arg[..open].to_string();
    let mut at = under;
    for (i, item) in items.iter().enumerate() {
        let len = item.chars().count();
        let end = if i + 1 == items.len() { 1 + tail } else { 1 };
        if i > 0 {
            if at + 2 + len + end > WIDTH {
                let _ = write!(out, ",\n{}", " ".repeat(under));
                at = under;
            } else {
                out.push_str(", ");
                at += 2;
            }
        }
        out.push_str(item);
        at += len;
    }
    out.push(']');
    out
}

/// The column that imported definitions wrap at.
const WIDTH: usize = 86;

/// The constructor that presets the most of the values on the wire (`tcp.syn`, `icmp.echo_request`),
/// or the layer's own. A TCP constructor is taken only for exactly its flags: `tcp.syn` for a SYN,
/// not for a SYN with ECE and CWR.
fn constructor_for(full: &Layer) -> &'static wire::Constructor {
    let mut best = wire::constructor(full.kind.name()).expect("every layer kind has a constructor of its name");
    for name in wire::constructor_names() {
        let Some(c) = wire::constructor(name) else { continue };
        if c.kind != full.kind || c.presets.len() <= best.presets.len() {
            continue;
        }
        let matches = c.presets.iter().all(|(n, v)| full.fields.get(n) == Some(&FieldValue::Int(*v)));
        let exact_flags = full.kind != LayerKind::Tcp
            || full.kind.fields().iter().filter(|d| d.kind == FieldKind::Flag).all(|d| {
                let set = full.fields.get(d.name) == Some(&FieldValue::Int(1));
                set == c.presets.iter().any(|(n, _)| *n == d.name)
            });
        if matches && exact_flags {
            best = c;
        }
    }
    best
}

fn render_value(def: &wire::FieldDef, value: &FieldValue, indent: usize) -> String {
    match (def.kind, value) {
        (_, FieldValue::Int(v)) => render_int(def, *v),
        (FieldKind::Ipv4Addr, FieldValue::Bytes(b)) if b.len() == 4 => format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
        (FieldKind::Ipv6Addr, FieldValue::Bytes(b)) if b.len() == 16 => ipv6(b),
        (FieldKind::Mac, FieldValue::Bytes(b)) if b.len() == 6 => mac(b),
        (_, FieldValue::Bytes(b)) => match def.list {
            Some(ListKind::Ipv6Addrs) if !b.is_empty() && b.len() % 16 == 0 => {
                format!("[{}]", b.chunks(16).map(ipv6).collect::<Vec<_>>().join(", "))
            }
            Some(kind) if kind != ListKind::Ipv6Addrs => match list_items(kind, b) {
                Some(items) => {
                    format!("[{}]", items.iter().map(|i| render_item(i, indent)).collect::<Vec<_>>().join(", "))
                }
                None => render_bytes(b, indent),
            },
            _ => render_bytes(b, indent),
        },
    }
}

fn render_int(def: &wire::FieldDef, v: u64) -> String {
    if matches!(def.display, wire::Display::FlagSet) {
        let mut names = Vec::new();
        let mut left = v;
        for (name, bit) in def.symbols {
            if v & bit != 0 && left & bit != 0 {
                names.push(*name);
                left &= !bit;
            }
        }
        if left == 0 && !names.is_empty() {
            return names.join("|");
        }
    } else if let Some((name, _)) = def.symbols.iter().find(|(_, s)| *s == v) {
        return name.to_string();
    }
    match def.display {
        wire::Display::Hex | wire::Display::FlagSet => {
            let bits = match def.kind {
                FieldKind::Int { bits } => usize::from(bits),
                _ => 8,
            };
            format!("0x{v:0width$x}", width = bits.div_ceil(4).max(2))
        }
        _ => v.to_string(),
    }
}

fn ipv6(b: &[u8]) -> String {
    std::net::Ipv6Addr::from(<[u8; 16]>::try_from(b).expect("16 bytes")).to_string()
}

fn mac(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

fn render_item(item: &ListItem, indent: usize) -> String {
    if item.args.is_empty() {
        return item.name.clone();
    }
    let args: Vec<String> = item.args.iter().map(|a| render_arg(a, indent)).collect();
    format!("{}({})", item.name, args.join(", "))
}

fn render_arg(arg: &ItemArg, indent: usize) -> String {
    match arg {
        ItemArg::Int(n) => n.to_string(),
        ItemArg::Bytes(b) => render_bytes(b, indent),
        ItemArg::Ipv4(a) => format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
        ItemArg::Ipv6(a) => ipv6(a),
        ItemArg::Mac(m) => mac(m),
        ItemArg::Prefix6(a, l) => format!("{}/{l}", ipv6(a)),
        ItemArg::List(l) => format!("[{}]", l.iter().map(|a| render_arg(a, indent)).collect::<Vec<_>>().join(", ")),
    }
}

/// Text as a string when it is text; otherwise hex, in lines of 16 bytes when long.
fn render_bytes(b: &[u8], indent: usize) -> String {
    let text = !b.is_empty() && b.iter().all(|c| (0x20..0x7f).contains(c) || matches!(c, b'\n' | b'\t' | b'\r'));
    if text && b.len() <= 200 {
        let mut s = String::from("\"");
        for c in b {
            match c {
                b'"' => s.push_str("\\\""),
                b'\\' => s.push_str("\\\\"),
                b'\n' => s.push_str("\\n"),
                b'\t' => s.push_str("\\t"),
                b'\r' => s.push_str("\\r"),
                c => s.push(char::from(*c)),
            }
        }
        s.push('"');
        return s;
    }
    let groups = |chunk: &[u8]| -> String { chunk.chunks(2).map(crate::fixture::hex).collect::<Vec<_>>().join(" ") };
    if b.len() <= 16 {
        return format!("hex\"{}\"", crate::fixture::hex(b));
    }
    let pad = " ".repeat(indent + 2);
    let mut s = String::from("hex\"");
    for line in b.chunks(16) {
        let _ = write!(s, "\n{pad}{}", groups(line));
    }
    let _ = write!(s, "\n{}\"", " ".repeat(indent));
    s
}

/// What [`check`] found wrong with an imported file: packets whose bytes are not their frame's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub name: String,
    pub reason: String,
}

/// Compiles `text` (a file of packet definitions) with the real front end and compares each named
/// packet with the bytes `expected` gives for it.
pub fn check(text: &str, expected: &BTreeMap<String, Vec<u8>>) -> Vec<Mismatch> {
    let compiled = crate::spec::packet_definitions_of_text("import.pkt", text);
    let mut out = Vec::new();
    match compiled {
        Err(diags) => {
            for name in expected.keys() {
                out.push(Mismatch {
                    name: name.clone(),
                    reason: diags.first().map(|d| d.to_string()).unwrap_or_else(|| "does not compile".into()),
                });
            }
        }
        Ok(packets) => {
            for (name, bytes) in expected {
                match packets.get(name) {
                    Some(Ok(b)) if b == bytes => {}
                    Some(Ok(b)) => out.push(Mismatch {
                        name: name.clone(),
                        reason: format!("it encodes to {} bytes that differ from the frame's {}", b.len(), bytes.len()),
                    }),
                    Some(Err(e)) => out.push(Mismatch { name: name.clone(), reason: e.clone() }),
                    None => out.push(Mismatch { name: name.clone(), reason: "it is not defined".into() }),
                }
            }
        }
    }
    out
}

/// A frame written as one raw payload behind its Ethernet header's bytes: the last resort when a
/// definition fails [`check`].
pub fn raw_lifted(frame: &[u8], reason: String) -> Lifted {
    let layers = vec![raw(frame)];
    let constructors = layers.iter().map(constructor_for).collect();
    let mut lifted = Lifted { layers, constructors, raw_reason: Some(reason), trailer: None };
    split_long_payloads(&mut lifted);
    lifted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_syn_frame() -> Vec<u8> {
        let l = |kind, fields: Vec<(&'static str, FieldValue)>| {
            let mut l = Layer::new(kind);
            l.fields.extend(fields);
            l
        };
        let layers = vec![
            l(LayerKind::Ether, vec![("src", FieldValue::Bytes(vec![2, 0, 0, 0, 0, 1]))]),
            l(LayerKind::Ipv4, vec![("src", FieldValue::Bytes(vec![192, 0, 2, 1])), ("ttl", FieldValue::Int(61))]),
            l(
                LayerKind::Tcp,
                vec![
                    ("sport", FieldValue::Int(40000)),
                    ("flags", FieldValue::Int(0x12)),
                    ("options", FieldValue::Bytes(vec![2, 4, 5, 0xb4, 1, 1, 4, 2])),
                ],
            ),
        ];
        wire::encode(&layers).unwrap().bytes
    }

    #[test]
    fn a_frame_lifts_to_the_fields_an_author_writes() {
        let frame = tcp_syn_frame();
        let lifted = lift(&frame);
        assert_eq!(lifted.raw_reason, None);
        let text: Vec<String> =
            lifted.layers.iter().zip(&lifted.constructors).map(|(l, c)| render_layer(l, c, 4)).collect();
        assert_eq!(text[0], "ether(src=02:00:00:00:00:01)");
        assert_eq!(text[1], "ipv4(src=192.0.2.1, ttl=61)");
        assert_eq!(text[2], "tcp.synack(sport=40000, options=[mss(1460), nop, nop, sack_permitted])");
        assert_eq!(wire::encode(&lifted.layers).unwrap().bytes, frame);
    }

    #[test]
    fn a_wrong_checksum_stays_and_unknown_bytes_are_raw() {
        let mut frame = tcp_syn_frame();
        frame[14 + 10] ^= 0xff;
        let lifted = lift(&frame);
        assert!(lifted.layers[1].fields.contains_key("checksum"));
        let raw = lift(&[1, 2, 3]);
        assert_eq!(raw.layers.len(), 1);
        assert_eq!(raw.layers[0].kind, LayerKind::Payload);
        assert_eq!(wire::encode(&raw.layers).unwrap().bytes, vec![1, 2, 3]);
    }

    #[test]
    fn ethernet_padding_is_a_payload_of_its_own() {
        let mut l = Layer::new(LayerKind::Ipv4);
        l.fields.insert("src", FieldValue::Bytes(vec![10, 0, 0, 1]));
        let layers = vec![Layer::new(LayerKind::Ether), l, Layer::new(LayerKind::Udp), raw(b"hi")];
        let mut frame = wire::encode(&layers).unwrap().bytes;
        frame.resize(60, 0);
        let lifted = lift(&frame);
        assert_eq!(lifted.trailer, Some(60 - 44));
        let n = lifted.layers.len();
        assert_eq!(lifted.layers[n - 2].fields.get("data"), Some(&FieldValue::Bytes(b"hi".to_vec())));
        assert_eq!(wire::encode(&lifted.layers).unwrap().bytes, frame);
        assert_eq!(lifted.constructors.len(), n);
    }

    #[test]
    fn option_lists_read_back_exactly_or_not_at_all() {
        let tcp = [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 7, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2];
        let items = list_items(ListKind::TcpOptions, &tcp).unwrap();
        let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["mss", "sack_permitted", "timestamps", "nop", "wscale", "sack"]);
        assert_eq!(list_items(ListKind::TcpOptions, &[2, 9, 0]), None, "a length past the end");
        assert_eq!(list_items(ListKind::TcpOptions, &[30, 3, 7]).unwrap()[0].name, "raw");
        let nd = [1, 1, 2, 0, 0, 0, 0, 9, 5, 1, 0, 0, 0, 0, 5, 220];
        let names: Vec<String> = list_items(ListKind::NdOptions, &nd).unwrap().into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["src_lladdr", "mtu"]);
        assert_eq!(list_items(ListKind::Ipv6Options, &[0, 1, 2, 0, 0, 5, 2, 0, 0]).unwrap().len(), 3);
    }

    #[test]
    fn bytes_render_as_text_or_hex_lines() {
        assert_eq!(render_bytes(b"abc\"d", 0), "\"abc\\\"d\"");
        assert_eq!(render_bytes(&[0, 1], 0), "hex\"0001\"");
        let long = render_bytes(&[0xab; 20], 2);
        assert_eq!(long, "hex\"\n    abab abab abab abab abab abab abab abab\n    abab abab\n  \"");
    }
}
