//! Packet layers as they are on the wire: the schema of every layer's fields, the encoder that fills in
//! derived fields (next-protocol numbers, lengths, checksums) unless the author set them, and a decoder that
//! turns bytes back into named fields (used by the runner's field-level diffs and the reports).
//!
//! The model is deliberately generic: a [`Layer`] is a [`LayerKind`] plus the fields the author set
//! explicitly. Everything not set is either a default or derived from the layers around it at encoding
//! time. Keeping "set by the author" apart from "computed" is what lets a spec put a wrong checksum or
//! length on purpose.
//!
//! CONTRACT (used by the rest of the compiler; keep signatures stable):
//! - `LayerKind::{name, from_name, fields, field, positional}` and `constructor(name)`.
//! - `encode(&[Layer]) -> Result<Encoded, EncodeError>`, where `Encoded::spans` lists every field of every
//!   layer (set, default or derived) with its bit position in the output.
//! - `decode(&[u8]) -> Decoded`, never panics on any input.

use std::collections::BTreeMap;

mod decode;
mod encode;
pub mod options;
mod schema;
mod schema_tables;

pub use decode::{decode, Decoded, DecodedField, DecodedLayer, Style};
pub use encode::{encode, EncodeError, Encoded, FieldSpan};
pub use options::{encode_list, list_items, ItemArg, ItemDoc, ListError, ListItem};
pub use schema::{constructor, constructor_names, Constructor, Display, FieldDef, FieldKind, ListKind};

/// The kinds of layer a `.pkt` packet can stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum LayerKind {
    Ether,
    Vlan,
    /// An MPLS label stack entry (RFC 3032).
    Mpls,
    Arp,
    Ipv4,
    Ipv6,
    /// IPv6 hop-by-hop options header.
    Hbh,
    /// IPv6 destination options header.
    DstOpts,
    /// IPv6 routing header (types 0 and 2: a list of addresses).
    Routing,
    /// IPv6 segment routing header (routing type 4, RFC 8754).
    Srh,
    /// IPv6 fragment header.
    Frag6,
    Udp,
    Tcp,
    Icmp,
    Icmpv6,
    /// Generic routing encapsulation (RFC 2784, 2890).
    Gre,
    Vxlan,
    Geneve,
    /// Generic UDP encapsulation, variant 0 (a header); variant 1 is IP right after UDP.
    Gue,
    Gtpu,
    /// GTP-U extension header: 5G PDU Session Container (TS 38.415), type 0x85.
    GtpuPduSession,
    /// Any other GTP-U extension header, given as type + raw content.
    GtpuExt,
    Payload,
}

/// A value the author gave to a field. Addresses and MACs are `Bytes` in network order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FieldValue {
    Int(u64),
    Bytes(Vec<u8>),
}

/// One layer of a packet: its kind and the fields set explicitly (by name from the kind's schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub kind: LayerKind,
    pub fields: BTreeMap<&'static str, FieldValue>,
}

impl Layer {
    pub fn new(kind: LayerKind) -> Self {
        Layer { kind, fields: BTreeMap::new() }
    }
}
