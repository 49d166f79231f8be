//! pcapng output: every packet of a spec (inputs and expected outputs) in one capture, each annotated
//! with a comment naming its scenario and role, so Wireshark or tshark can open what a spec means.
//! Timestamps are the packet's position (1 µs apart), never the clock: the same spec gives the same file.

use std::borrow::Cow;
use std::io::Write;
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

/// One packet and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapPacket {
    pub comment: String,
    pub bytes: Vec<u8>,
}

/// Writes a pcapng capture (Ethernet link type) of `packets` to `out`.
pub fn write_pcapng<W: Write>(packets: &[PcapPacket], out: W) -> Result<W, pcap_file::PcapError> {
    let mut writer = PcapNgWriter::new(out)?;
    writer.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: 0,
        options: vec![],
    })?;
    for (i, p) in packets.iter().enumerate() {
        writer.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_micros(i as u64),
            original_len: p.bytes.len() as u32,
            data: Cow::Borrowed(&p.bytes),
            options: vec![EnhancedPacketOption::Comment(Cow::Borrowed(&p.comment))],
        })?;
    }
    Ok(writer.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_readable_back() {
        let packets = vec![PcapPacket { comment: "s · input".into(), bytes: vec![1, 2, 3] }];
        let a = write_pcapng(&packets, Vec::new()).unwrap();
        let b = write_pcapng(&packets, Vec::new()).unwrap();
        assert_eq!(a, b);
        let mut reader = pcap_file::pcapng::PcapNgReader::new(&a[..]).unwrap();
        let mut seen = 0;
        while let Some(block) = reader.next_block() {
            if let Some(epb) = block.unwrap().into_enhanced_packet() {
                assert_eq!(&epb.data[..], &[1, 2, 3]);
                assert!(matches!(&epb.options[0], EnhancedPacketOption::Comment(c) if c == "s · input"));
                seen += 1;
            }
        }
        assert_eq!(seen, 1);
    }
}
