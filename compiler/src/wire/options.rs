//! Lists of named items inside a header: TCP options, IPv4 options, IPv6 hop-by-hop and destination
//! options, neighbour discovery options, Geneve options, and lists of IPv6 addresses. A spec writes
//! `tcp(options=[mss(1460), sack_permitted, timestamps(100, 0), nop, wscale(7)])`; this module turns
//! such a list into the header's bytes (lengths and type codes filled in, nothing padded: the layer
//! pads), and finds the named values in such bytes again ([`views`]) for diffs and reports.

use super::schema::ListKind;
use super::FieldValue;

/// One item of a list as a spec writes it: `mss(1460)` is `mss` with one argument, `nop` has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    pub name: String,
    pub args: Vec<ItemArg>,
}

/// An argument of a list item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemArg {
    Int(u64),
    Bytes(Vec<u8>),
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
    Mac([u8; 6]),
    Prefix6([u8; 16], u8),
    List(Vec<ItemArg>),
}

/// Why a list cannot be encoded: which item, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    /// Index of the item in the list.
    pub item: usize,
    pub message: String,
    pub help: Option<String>,
}

/// What an item is, for hints and the book.
#[derive(Debug, Clone, Copy)]
pub struct ItemDoc {
    pub name: &'static str,
    /// The arguments, as a spec writes them: `(value)`, `(tsval, tsecr)`; empty for none.
    pub args: &'static str,
    pub doc: &'static str,
}

const TCP_ITEMS: &[ItemDoc] = &[
    ItemDoc { name: "eol", args: "", doc: "end of option list (kind 0)" },
    ItemDoc { name: "nop", args: "", doc: "no operation (kind 1)" },
    ItemDoc { name: "mss", args: "(bytes)", doc: "maximum segment size (kind 2)" },
    ItemDoc { name: "wscale", args: "(shift)", doc: "window scale (kind 3)" },
    ItemDoc { name: "sack_permitted", args: "", doc: "SACK permitted (kind 4)" },
    ItemDoc { name: "sack", args: "(left, right, ...)", doc: "SACK blocks, edge pairs (kind 5)" },
    ItemDoc { name: "timestamps", args: "(tsval, tsecr)", doc: "timestamps (kind 8)" },
    ItemDoc { name: "raw", args: "(kind, hex\"..\")", doc: "any option: its kind and data (the length is derived)" },
];

const IPV4_ITEMS: &[ItemDoc] = &[
    ItemDoc { name: "eol", args: "", doc: "end of option list (type 0)" },
    ItemDoc { name: "nop", args: "", doc: "no operation (type 1)" },
    ItemDoc { name: "rr", args: "([addresses])", doc: "record route with these addresses recorded (type 7)" },
    ItemDoc { name: "timestamp", args: "([values])", doc: "timestamps only, these recorded (type 68)" },
    ItemDoc { name: "router_alert", args: "(value)", doc: "router alert, usually 0 (type 148)" },
    ItemDoc { name: "raw", args: "(type, hex\"..\")", doc: "any option: its type and data (the length is derived)" },
];

const IPV6_ITEMS: &[ItemDoc] = &[
    ItemDoc { name: "pad1", args: "", doc: "one byte of padding (type 0)" },
    ItemDoc { name: "padn", args: "(n)", doc: "n bytes of padding, n >= 2 (type 1)" },
    ItemDoc { name: "router_alert", args: "(value)", doc: "router alert: 0 MLD, 1 RSVP, 2 active networks (type 5)" },
    ItemDoc { name: "jumbo", args: "(length)", doc: "jumbo payload length (type 0xc2)" },
    ItemDoc { name: "raw", args: "(type, hex\"..\")", doc: "any option: its type and data (the length is derived)" },
];

const ND_ITEMS: &[ItemDoc] = &[
    ItemDoc { name: "src_lladdr", args: "(mac)", doc: "source link-layer address (type 1)" },
    ItemDoc { name: "tgt_lladdr", args: "(mac)", doc: "target link-layer address (type 2)" },
    ItemDoc {
        name: "prefix_info",
        args: "(prefix/len, flags, valid, preferred)",
        doc: "prefix information (type 3): flags 0x80 on-link (L), 0x40 autonomous (A)",
    },
    ItemDoc { name: "mtu", args: "(mtu)", doc: "MTU (type 5)" },
    ItemDoc { name: "raw", args: "(type, hex\"..\")", doc: "any option: its type and data, padded to 8 bytes" },
];

const GENEVE_ITEMS: &[ItemDoc] = &[ItemDoc {
    name: "option",
    args: "(class, type, hex\"..\")",
    doc: "a TLV: class, type and data (padded to 4 bytes; the length is derived)",
}];

const ADDR_ITEMS: &[ItemDoc] = &[];

/// The items a list of `kind` may hold.
pub fn list_items(kind: ListKind) -> &'static [ItemDoc] {
    match kind {
        ListKind::TcpOptions => TCP_ITEMS,
        ListKind::Ipv4Options => IPV4_ITEMS,
        ListKind::Ipv6Options => IPV6_ITEMS,
        ListKind::NdOptions => ND_ITEMS,
        ListKind::GeneveOptions => GENEVE_ITEMS,
        ListKind::Ipv6Addrs => ADDR_ITEMS,
    }
}

/// Encodes one item; errors name what is wrong (the caller adds which item).
struct Item<'a> {
    item: &'a ListItem,
    index: usize,
}

impl Item<'_> {
    fn err(&self, message: impl Into<String>) -> ListError {
        let doc = ALL_ITEMS.iter().flat_map(|l| l.iter()).find(|d| d.name == self.item.name);
        ListError {
            item: self.index,
            message: message.into(),
            help: doc.map(|d| format!("write `{}{}`: {}", d.name, d.args, d.doc)),
        }
    }

    fn arity(&self, n: usize) -> Result<(), ListError> {
        if self.item.args.len() == n {
            Ok(())
        } else {
            Err(self.err(format!(
                "`{}` takes {n} argument{}, found {}",
                self.item.name,
                if n == 1 { "" } else { "s" },
                self.item.args.len()
            )))
        }
    }

    fn int(&self, i: usize, bits: u32) -> Result<u64, ListError> {
        match self.item.args.get(i) {
            Some(ItemArg::Int(n)) if bits >= 64 || *n >> bits == 0 => Ok(*n),
            Some(ItemArg::Int(n)) => Err(self.err(format!("{n} does not fit {bits} bits"))),
            _ => Err(self.err(format!("argument {} of `{}` is a number", i + 1, self.item.name))),
        }
    }

    fn bytes(&self, i: usize) -> Result<Vec<u8>, ListError> {
        match self.item.args.get(i) {
            Some(ItemArg::Bytes(b)) => Ok(b.clone()),
            _ => Err(self.err(format!("argument {} of `{}` is bytes: hex\"..\" or a string", i + 1, self.item.name))),
        }
    }

    fn mac(&self, i: usize) -> Result<[u8; 6], ListError> {
        match self.item.args.get(i) {
            Some(ItemArg::Mac(m)) => Ok(*m),
            _ => Err(self.err(format!("argument {} of `{}` is a MAC address", i + 1, self.item.name))),
        }
    }

    fn list(&self, i: usize) -> Result<&[ItemArg], ListError> {
        match self.item.args.get(i) {
            Some(ItemArg::List(l)) => Ok(l),
            _ => Err(self.err(format!("argument {} of `{}` is a list [..]", i + 1, self.item.name))),
        }
    }

    /// A type-length-value option: `ty`, the length of everything (`with_header`) or of the data, data.
    fn tlv(&self, ty: u64, data: &[u8], len_counts_header: bool) -> Result<Vec<u8>, ListError> {
        let len = data.len() + if len_counts_header { 2 } else { 0 };
        if len > 255 {
            return Err(self.err(format!("`{}` is {len} bytes long, at most 255 fit", self.item.name)));
        }
        let mut out = vec![ty as u8, len as u8];
        out.extend_from_slice(data);
        Ok(out)
    }
}

const ALL_ITEMS: [&[ItemDoc]; 5] = [TCP_ITEMS, IPV4_ITEMS, IPV6_ITEMS, ND_ITEMS, GENEVE_ITEMS];

/// The bytes of a list (not padded: the layer pads).
pub fn encode_list(kind: ListKind, items: &[ListItem]) -> Result<Vec<u8>, ListError> {
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let it = Item { item, index };
        let known = list_items(kind);
        if kind != ListKind::Ipv6Addrs && !known.iter().any(|d| d.name == item.name) {
            let names: Vec<&str> = known.iter().map(|d| d.name).collect();
            let near = crate::diagnostic::did_you_mean(&item.name, names.iter().copied());
            return Err(ListError {
                item: index,
                message: format!("`{}` is not one of these options", item.name),
                help: Some(match near {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!("the options are {}", crate::diagnostic::one_of(&names)),
                }),
            });
        }
        out.extend(match kind {
            ListKind::TcpOptions => tcp_option(&it)?,
            ListKind::Ipv4Options => ipv4_option(&it)?,
            ListKind::Ipv6Options => ipv6_option(&it)?,
            ListKind::NdOptions => nd_option(&it)?,
            ListKind::GeneveOptions => geneve_option(&it)?,
            ListKind::Ipv6Addrs => unreachable!("addresses are not items"),
        });
    }
    Ok(out)
}

fn tcp_option(it: &Item) -> Result<Vec<u8>, ListError> {
    Ok(match it.item.name.as_str() {
        "eol" => {
            it.arity(0)?;
            vec![0]
        }
        "nop" => {
            it.arity(0)?;
            vec![1]
        }
        "mss" => {
            it.arity(1)?;
            it.tlv(2, &(it.int(0, 16)? as u16).to_be_bytes(), true)?
        }
        "wscale" => {
            it.arity(1)?;
            it.tlv(3, &[it.int(0, 8)? as u8], true)?
        }
        "sack_permitted" => {
            it.arity(0)?;
            vec![4, 2]
        }
        "sack" => {
            if it.item.args.is_empty() || !it.item.args.len().is_multiple_of(2) {
                return Err(it.err("`sack` takes pairs of edges: left, right, ..."));
            }
            let mut data = Vec::new();
            for i in 0..it.item.args.len() {
                data.extend_from_slice(&(it.int(i, 32)? as u32).to_be_bytes());
            }
            it.tlv(5, &data, true)?
        }
        "timestamps" => {
            it.arity(2)?;
            let mut data = (it.int(0, 32)? as u32).to_be_bytes().to_vec();
            data.extend_from_slice(&(it.int(1, 32)? as u32).to_be_bytes());
            it.tlv(8, &data, true)?
        }
        _ => {
            it.arity(2)?;
            it.tlv(it.int(0, 8)?, &it.bytes(1)?, true)?
        }
    })
}

fn ipv4_option(it: &Item) -> Result<Vec<u8>, ListError> {
    Ok(match it.item.name.as_str() {
        "eol" => {
            it.arity(0)?;
            vec![0]
        }
        "nop" => {
            it.arity(0)?;
            vec![1]
        }
        "rr" | "timestamp" => {
            it.arity(1)?;
            let mut data = Vec::new();
            for (i, v) in it.list(0)?.iter().enumerate() {
                match (it.item.name.as_str(), v) {
                    ("rr", ItemArg::Ipv4(a)) => data.extend_from_slice(a),
                    ("timestamp", ItemArg::Int(n)) if *n >> 32 == 0 => {
                        data.extend_from_slice(&(*n as u32).to_be_bytes())
                    }
                    _ => {
                        return Err(it.err(format!(
                            "element {} of `{}`'s list is not a valid value",
                            i + 1,
                            it.item.name
                        )))
                    }
                }
            }
            // The pointer says where the next entry goes: after the ones given (the option is full).
            if it.item.name == "rr" {
                let mut body = vec![(4 + data.len()) as u8];
                body.extend(data);
                it.tlv(7, &body, true)?
            } else {
                // Pointer, then overflow (0) and flag (0: timestamps only).
                let mut body = vec![(5 + data.len()) as u8, 0];
                body.extend(data);
                it.tlv(68, &body, true)?
            }
        }
        "router_alert" => {
            it.arity(1)?;
            it.tlv(148, &(it.int(0, 16)? as u16).to_be_bytes(), true)?
        }
        _ => {
            it.arity(2)?;
            it.tlv(it.int(0, 8)?, &it.bytes(1)?, true)?
        }
    })
}

fn ipv6_option(it: &Item) -> Result<Vec<u8>, ListError> {
    Ok(match it.item.name.as_str() {
        "pad1" => {
            it.arity(0)?;
            vec![0]
        }
        "padn" => {
            it.arity(1)?;
            let n = it.int(0, 8)? as usize;
            if n < 2 {
                return Err(it.err("`padn` pads at least 2 bytes (use pad1 for one)"));
            }
            it.tlv(1, &vec![0; n - 2], false)?
        }
        "router_alert" => {
            it.arity(1)?;
            it.tlv(5, &(it.int(0, 16)? as u16).to_be_bytes(), false)?
        }
        "jumbo" => {
            it.arity(1)?;
            it.tlv(0xc2, &(it.int(0, 32)? as u32).to_be_bytes(), false)?
        }
        _ => {
            it.arity(2)?;
            it.tlv(it.int(0, 8)?, &it.bytes(1)?, false)?
        }
    })
}

fn nd_option(it: &Item) -> Result<Vec<u8>, ListError> {
    // Type, then the length in units of 8 bytes, header included.
    let tlv8 = |ty: u8, data: &[u8]| -> Result<Vec<u8>, ListError> {
        let total = (2 + data.len()).div_ceil(8) * 8;
        if total / 8 > 255 {
            return Err(it.err("the option is longer than 255 × 8 bytes"));
        }
        let mut out = vec![ty, (total / 8) as u8];
        out.extend_from_slice(data);
        out.resize(total, 0);
        Ok(out)
    };
    match it.item.name.as_str() {
        "src_lladdr" | "tgt_lladdr" => {
            it.arity(1)?;
            tlv8(if it.item.name == "src_lladdr" { 1 } else { 2 }, &it.mac(0)?)
        }
        "prefix_info" => {
            it.arity(4)?;
            let (prefix, len) = match it.item.args.first() {
                Some(ItemArg::Prefix6(p, l)) => (*p, *l),
                _ => return Err(it.err("argument 1 of `prefix_info` is an IPv6 prefix like 2001:db8::/64")),
            };
            let mut data = vec![len, it.int(1, 8)? as u8];
            data.extend_from_slice(&(it.int(2, 32)? as u32).to_be_bytes());
            data.extend_from_slice(&(it.int(3, 32)? as u32).to_be_bytes());
            data.extend_from_slice(&[0; 4]);
            data.extend_from_slice(&prefix);
            tlv8(3, &data)
        }
        "mtu" => {
            it.arity(1)?;
            let mut data = vec![0, 0];
            data.extend_from_slice(&(it.int(0, 32)? as u32).to_be_bytes());
            tlv8(5, &data)
        }
        _ => {
            it.arity(2)?;
            tlv8(it.int(0, 8)? as u8, &it.bytes(1)?)
        }
    }
}

fn geneve_option(it: &Item) -> Result<Vec<u8>, ListError> {
    it.arity(3)?;
    let mut data = it.bytes(2)?;
    data.resize(data.len().div_ceil(4) * 4, 0);
    if data.len() / 4 > 31 {
        return Err(it.err("Geneve option data is at most 124 bytes"));
    }
    let mut out = (it.int(0, 16)? as u16).to_be_bytes().to_vec();
    out.push(it.int(1, 8)? as u8);
    out.push((data.len() / 4) as u8);
    out.extend(data);
    Ok(out)
}

/// A list of IPv6 addresses as bytes.
pub fn encode_addresses(items: &[[u8; 16]]) -> Vec<u8> {
    items.iter().flatten().copied().collect()
}

/// A named value found inside list bytes: `byte_offset` counts from the start of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub name: &'static str,
    pub byte_offset: usize,
    pub bytes: usize,
    pub value: FieldValue,
}

/// The named values in a list's bytes, for diffs and reports: TCP `mss`, `wscale`, `ts_val`, ...;
/// padding is left out, options this module does not know are `option`. Never panics.
pub fn views(kind: ListKind, bytes: &[u8]) -> Vec<View> {
    let mut out = Vec::new();
    let int = |b: &[u8]| b.iter().fold(0u64, |a, x| a << 8 | u64::from(*x));
    let mut push = |name: &'static str, at: usize, len: usize, numeric: bool| {
        if let Some(b) = bytes.get(at..at + len) {
            let value = if numeric { FieldValue::Int(int(b)) } else { FieldValue::Bytes(b.to_vec()) };
            out.push(View { name, byte_offset: at, bytes: len, value });
        }
    };
    let mut at = 0;
    match kind {
        ListKind::TcpOptions | ListKind::Ipv4Options => {
            while at < bytes.len() {
                let ty = bytes[at];
                if ty == 0 || ty == 1 {
                    at += 1;
                    continue;
                }
                let Some(&len) = bytes.get(at + 1) else { break };
                let len = usize::from(len);
                if len < 2 || at + len > bytes.len() {
                    break;
                }
                match (kind, ty, len) {
                    (ListKind::TcpOptions, 2, 4) => push("mss", at + 2, 2, true),
                    (ListKind::TcpOptions, 3, 3) => push("wscale", at + 2, 1, true),
                    (ListKind::TcpOptions, 4, 2) => push("sack_permitted", at, 2, false),
                    (ListKind::TcpOptions, 5, _) => push("sack", at + 2, len - 2, false),
                    (ListKind::TcpOptions, 8, 10) => {
                        push("ts_val", at + 2, 4, true);
                        push("ts_ecr", at + 6, 4, true);
                    }
                    (ListKind::Ipv4Options, 7, _) => push("rr", at + 3, len - 3, false),
                    (ListKind::Ipv4Options, 68, _) if len >= 4 => push("timestamp", at + 4, len - 4, false),
                    (ListKind::Ipv4Options, 148, 4) => push("router_alert", at + 2, 2, true),
                    _ => push("option", at, len, false),
                }
                at += len;
            }
        }
        ListKind::Ipv6Options => {
            while at < bytes.len() {
                let ty = bytes[at];
                if ty == 0 {
                    at += 1;
                    continue;
                }
                let Some(&len) = bytes.get(at + 1) else { break };
                let len = usize::from(len);
                if at + 2 + len > bytes.len() {
                    break;
                }
                match (ty, len) {
                    (1, _) => {}
                    (5, 2) => push("router_alert", at + 2, 2, true),
                    (0xc2, 4) => push("jumbo", at + 2, 4, true),
                    _ => push("option", at, len + 2, false),
                }
                at += 2 + len;
            }
        }
        ListKind::NdOptions => {
            while at + 2 <= bytes.len() {
                let (ty, len) = (bytes[at], usize::from(bytes[at + 1]) * 8);
                if len == 0 || at + len > bytes.len() {
                    break;
                }
                match (ty, len) {
                    (1, 8) => push("src_lladdr", at + 2, 6, false),
                    (2, 8) => push("tgt_lladdr", at + 2, 6, false),
                    (3, 32) => {
                        push("prefix_len", at + 2, 1, true);
                        push("prefix_flags", at + 3, 1, true);
                        push("valid", at + 4, 4, true);
                        push("preferred", at + 8, 4, true);
                        push("prefix", at + 16, 16, false);
                    }
                    (5, 8) => push("link_mtu", at + 4, 4, true),
                    _ => push("option", at, len, false),
                }
                at += len;
            }
        }
        ListKind::GeneveOptions => {
            while at + 4 <= bytes.len() {
                let len = 4 + usize::from(bytes[at + 3] & 0x1f) * 4;
                if at + len > bytes.len() {
                    break;
                }
                push("option", at, len, false);
                at += len;
            }
        }
        ListKind::Ipv6Addrs => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, args: Vec<ItemArg>) -> ListItem {
        ListItem { name: name.into(), args }
    }

    #[test]
    fn tcp_options_encode_and_read_back() {
        let items = vec![
            item("mss", vec![ItemArg::Int(1460)]),
            item("sack_permitted", vec![]),
            item("timestamps", vec![ItemArg::Int(100), ItemArg::Int(0)]),
            item("nop", vec![]),
            item("wscale", vec![ItemArg::Int(7)]),
        ];
        let b = encode_list(ListKind::TcpOptions, &items).unwrap();
        assert_eq!(b, [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0, 1, 3, 3, 7]);
        let v = views(ListKind::TcpOptions, &b);
        let names: Vec<_> = v.iter().map(|v| (v.name, v.value.clone())).collect();
        assert_eq!(names[0], ("mss", FieldValue::Int(1460)));
        assert_eq!(names[2], ("ts_val", FieldValue::Int(100)));
        assert_eq!(names[4], ("wscale", FieldValue::Int(7)));
    }

    #[test]
    fn mistakes_name_the_item() {
        let e =
            encode_list(ListKind::TcpOptions, &[item("nop", vec![]), item("mms", vec![ItemArg::Int(1)])]).unwrap_err();
        assert_eq!(e.item, 1);
        assert_eq!(e.help.as_deref(), Some("did you mean `mss`?"));
        let e = encode_list(ListKind::TcpOptions, &[item("mss", vec![])]).unwrap_err();
        assert!(e.message.contains("takes 1 argument"), "{e:?}");
        let e = encode_list(ListKind::Ipv6Options, &[item("padn", vec![ItemArg::Int(1)])]).unwrap_err();
        assert!(e.message.contains("at least 2"), "{e:?}");
    }

    #[test]
    fn nd_options_are_padded_to_8_bytes() {
        let b =
            encode_list(ListKind::NdOptions, &[item("src_lladdr", vec![ItemArg::Mac([2, 0, 0, 0, 0, 1])])]).unwrap();
        assert_eq!(b, [1, 1, 2, 0, 0, 0, 0, 1]);
        let v = views(ListKind::NdOptions, &b);
        assert_eq!(v[0].name, "src_lladdr");
    }

    #[test]
    fn views_never_panic() {
        for kind in [
            ListKind::TcpOptions,
            ListKind::Ipv4Options,
            ListKind::Ipv6Options,
            ListKind::NdOptions,
            ListKind::GeneveOptions,
        ] {
            for len in 0..40 {
                let b: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
                let _ = views(kind, &b);
            }
        }
    }
}
