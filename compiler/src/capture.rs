//! Reading captures (pcap and pcapng) into Ethernet frames, for `xdptest import`. It owns the file
//! formats and the link layers: frames of other link types that carry IP (raw IP, Linux cooked
//! captures v1 and v2, the usual `tcpdump -i any` output) get an Ethernet header made up from what the
//! capture says, because an XDP program only ever sees Ethernet frames.
//!
//! Captures come from anywhere (production, a colleague's laptop, a pull request), so a malformed one
//! is an error that names the frame, never a panic: the parsers work on a slice already in memory
//! (no allocation sized by a length field), and a panic inside them is caught and reported like any
//! other malformed record.

use std::time::Duration;

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::DataLink;

/// One captured frame, as an Ethernet frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame's number in the capture, from 1 (as Wireshark counts).
    pub number: usize,
    /// When it was captured, since the Unix epoch (`None` for pcapng simple packet blocks).
    pub time: Option<Duration>,
    /// The bytes, Ethernet header first.
    pub bytes: Vec<u8>,
    /// How long the frame was on the wire: more than was captured when the snap length cut it.
    pub original_len: usize,
    /// What was done to make it an Ethernet frame (`None` for Ethernet captures).
    pub link_note: Option<&'static str>,
    /// The capture's comments on this frame (pcapng `opt_comment`).
    pub comments: Vec<String>,
}

impl Frame {
    /// How many bytes the capture cut off (its snap length).
    pub fn cut(&self) -> usize {
        self.original_len.saturating_sub(self.bytes.len())
    }
}

/// Why a capture cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("not a pcap or pcapng capture (the file starts with {magic})")]
    NotACapture { magic: String },
    #[error("the capture's header is malformed: {reason}")]
    BadHeader { reason: String },
    #[error("frame {frame} is malformed: {reason}")]
    BadFrame { frame: usize, reason: String },
    #[error("frame {frame} has link type {link}, which xdptest cannot turn into an Ethernet frame")]
    UnsupportedLink { frame: usize, link: String },
}

/// Which frames to read: all of them, or those whose numbers some range holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameSet {
    /// Inclusive ranges of frame numbers; empty: every frame.
    pub ranges: Vec<(usize, usize)>,
}

impl FrameSet {
    /// Parses `3`, `1-10`, `5-` and comma-separated lists of those.
    pub fn parse(text: &str) -> Result<FrameSet, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            let num = |s: &str| -> Result<usize, String> {
                match s.trim().parse::<usize>() {
                    Ok(0) => Err("frames are numbered from 1".to_string()),
                    Ok(n) => Ok(n),
                    Err(_) => Err(format!("`{s}` is not a frame number")),
                }
            };
            let range = match part.split_once('-') {
                Some((a, "")) => (num(a)?, usize::MAX),
                Some((a, b)) => (num(a)?, num(b)?),
                None => {
                    let n = num(part)?;
                    (n, n)
                }
            };
            if range.0 > range.1 {
                return Err(format!("`{part}` is an empty range"));
            }
            ranges.push(range);
        }
        Ok(FrameSet { ranges })
    }

    pub fn contains(&self, number: usize) -> bool {
        self.ranges.is_empty() || self.ranges.iter().any(|(a, b)| (*a..=*b).contains(&number))
    }

    /// The last frame number wanted: reading stops after it, so a damaged end of file can be avoided.
    fn last(&self) -> usize {
        self.ranges.iter().map(|r| r.1).max().unwrap_or(usize::MAX)
    }
}

/// Reads the frames of a capture that `wanted` selects.
pub fn read(data: &[u8], wanted: &FrameSet) -> Result<Vec<Frame>, CaptureError> {
    // A parser that panics on some malformed record becomes that record's error.
    match std::panic::catch_unwind(|| read_inner(data, wanted)) {
        Ok(r) => r,
        Err(_) => Err(CaptureError::BadFrame { frame: 0, reason: "the capture parser failed on it".into() }),
    }
}

fn read_inner(data: &[u8], wanted: &FrameSet) -> Result<Vec<Frame>, CaptureError> {
    match data.get(..4) {
        Some(
            [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0xc3, 0xd4] | [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d],
        ) => read_pcap(data, wanted),
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(data, wanted),
        _ => Err(CaptureError::NotACapture {
            magic: match data.get(..4) {
                Some(m) => format!("{:02x}{:02x}{:02x}{:02x}", m[0], m[1], m[2], m[3]),
                None => format!("only {} bytes", data.len()),
            },
        }),
    }
}

fn read_pcap(data: &[u8], wanted: &FrameSet) -> Result<Vec<Frame>, CaptureError> {
    let (mut rest, parser) = PcapParser::new(data).map_err(|e| CaptureError::BadHeader { reason: e.to_string() })?;
    let header = parser.header();
    let link = header.datalink;
    let nanos = header.ts_resolution == pcap_file::TsResolution::NanoSecond;
    let mut frames = Vec::new();
    let mut number = 0;
    while !rest.is_empty() && number < wanted.last() {
        number += 1;
        // The raw record: pcap-file's checked one refuses a frame longer on the wire than the snap
        // length, which is exactly what a snap length cut leaves (`tcpdump -s 64`).
        let (next, packet) = parser
            .next_raw_packet(rest)
            .map_err(|e| CaptureError::BadFrame { frame: number, reason: e.to_string() })?;
        rest = next;
        if !wanted.contains(number) {
            continue;
        }
        let frac = u64::from(packet.ts_frac);
        let time = Duration::from_secs(u64::from(packet.ts_sec))
            + Duration::from_nanos(if nanos { frac } else { frac * 1000 });
        let (bytes, link_note) = to_ethernet(link, &packet.data, number)?;
        let added = bytes.len() as isize - packet.data.len() as isize;
        frames.push(Frame {
            number,
            time: Some(time),
            original_len: (packet.orig_len as isize + added).max(0) as usize,
            bytes,
            link_note,
            comments: Vec::new(),
        });
    }
    Ok(frames)
}

fn read_pcapng(data: &[u8], wanted: &FrameSet) -> Result<Vec<Frame>, CaptureError> {
    let (mut rest, mut parser) =
        PcapNgParser::new(data).map_err(|e| CaptureError::BadHeader { reason: e.to_string() })?;
    let mut frames = Vec::new();
    let mut number = 0;
    while !rest.is_empty() && number < wanted.last() {
        let (next, block) =
            parser.next_block(rest).map_err(|e| CaptureError::BadFrame { frame: number + 1, reason: e.to_string() })?;
        rest = next;
        let (link, time, original_len, payload, comments) = match &block {
            Block::EnhancedPacket(p) => {
                let Some(iface) = parser.packet_interface(p) else {
                    return Err(CaptureError::BadFrame {
                        frame: number + 1,
                        reason: format!("it names interface {}, which the capture does not describe", p.interface_id),
                    });
                };
                // pcap-file reads the raw timestamp as nanoseconds; the interface says what a unit is.
                let time = Some(timestamp(p.timestamp.as_nanos(), resolution(iface)));
                let comments = p
                    .options
                    .iter()
                    .filter_map(|o| match o {
                        EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                        _ => None,
                    })
                    .collect();
                (iface.linktype, time, p.original_len, &p.data[..], comments)
            }
            Block::SimplePacket(p) => {
                let Some(iface) = parser.interfaces().first() else {
                    return Err(CaptureError::BadFrame {
                        frame: number + 1,
                        reason: "a simple packet block comes before any interface description".into(),
                    });
                };
                // The block is padded to 32 bits; the frame is as long as it was (or the snap length).
                let len = (p.original_len as usize).min(iface.snaplen as usize).min(p.data.len());
                let len = if iface.snaplen == 0 { (p.original_len as usize).min(p.data.len()) } else { len };
                (iface.linktype, None, p.original_len, &p.data[..len], Vec::new())
            }
            Block::Packet(p) => {
                let Some(iface) = parser.interfaces().get(usize::from(p.interface_id)) else {
                    return Err(CaptureError::BadFrame {
                        frame: number + 1,
                        reason: format!("it names interface {}, which the capture does not describe", p.interface_id),
                    });
                };
                let time = Some(timestamp(u128::from(p.timestamp), resolution(iface)));
                (iface.linktype, time, p.original_len, &p.data[..], Vec::new())
            }
            _ => continue,
        };
        number += 1;
        if !wanted.contains(number) {
            continue;
        }
        let (bytes, link_note) = to_ethernet(link, payload, number)?;
        let added = bytes.len() as isize - payload.len() as isize;
        frames.push(Frame {
            number,
            time,
            original_len: (original_len as isize + added).max(0) as usize,
            bytes,
            link_note,
            comments,
        });
    }
    Ok(frames)
}

/// The interface's timestamp unit (`if_tsresol`; microseconds when it says nothing).
fn resolution(iface: &InterfaceDescriptionBlock) -> u8 {
    iface
        .options
        .iter()
        .find_map(|o| match o {
            InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
            _ => None,
        })
        .unwrap_or(6)
}

/// `units` of 10^-r seconds (or 2^-r when the top bit of `r` is set) as a duration.
fn timestamp(units: u128, resolution: u8) -> Duration {
    let nanos = if resolution & 0x80 != 0 {
        let shift = u32::from(resolution & 0x7f).min(64);
        units.saturating_mul(1_000_000_000) >> shift
    } else {
        let exp = u32::from(resolution).min(30);
        if exp <= 9 {
            units.saturating_mul(10u128.pow(9 - exp))
        } else {
            units / 10u128.pow(exp - 9)
        }
    };
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The frame as an Ethernet frame, and what was made up to get there.
fn to_ethernet(link: DataLink, data: &[u8], frame: usize) -> Result<(Vec<u8>, Option<&'static str>), CaptureError> {
    let ether = |dst: [u8; 6], src: &[u8], proto: [u8; 2], rest: &[u8]| {
        let mut out = Vec::with_capacity(14 + rest.len());
        out.extend_from_slice(&dst);
        let mut s = [0u8; 6];
        if src.len() == 6 {
            s.copy_from_slice(src);
        }
        out.extend_from_slice(&s);
        out.extend_from_slice(&proto);
        out.extend_from_slice(rest);
        out
    };
    let by_version = |ip: &[u8]| match ip.first().map(|b| b >> 4) {
        Some(6) => [0x86, 0xdd],
        _ => [0x08, 0x00],
    };
    let short = |what: &str, need: usize| CaptureError::BadFrame {
        frame,
        reason: format!("a {what} header needs {need} bytes, the frame has {}", data.len()),
    };
    Ok(match link {
        DataLink::ETHERNET => (data.to_vec(), None),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => (
            ether([0; 6], &[], by_version(data), data),
            Some("a raw IP capture: the Ethernet header (zero addresses) is made up"),
        ),
        DataLink::LINUX_SLL => {
            // Packet type, ARPHRD type, address length, 8 address bytes, protocol.
            let Some(head) = data.get(..16) else { return Err(short("Linux cooked (SLL)", 16)) };
            let addr_len = usize::from(u16::from_be_bytes([head[4], head[5]])).min(8);
            (
                ether([0; 6], &head[6..6 + addr_len], [head[14], head[15]], &data[16..]),
                Some("a Linux cooked capture: the Ethernet header is made up (source: the captured address)"),
            )
        }
        DataLink::LINUX_SLL2 => {
            // Protocol, reserved, interface index, ARPHRD type, packet type, address length, 8 address bytes.
            let Some(head) = data.get(..20) else { return Err(short("Linux cooked (SLL2)", 20)) };
            let addr_len = usize::from(head[11]).min(8);
            (
                ether([0; 6], &head[12..12 + addr_len], [head[0], head[1]], &data[20..]),
                Some("a Linux cooked capture (v2): the Ethernet header is made up (source: the captured address)"),
            )
        }
        other => return Err(CaptureError::UnsupportedLink { frame, link: format!("{other:?}") }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sets_parse_and_select() {
        let s = FrameSet::parse("1-3, 7,10-").unwrap();
        assert!(s.contains(2) && s.contains(7) && s.contains(10_000));
        assert!(!s.contains(4) && !s.contains(9));
        assert_eq!(s.last(), usize::MAX);
        assert_eq!(FrameSet::parse("2-4").unwrap().last(), 4);
        assert!(FrameSet::parse("0").unwrap_err().contains("from 1"));
        assert!(FrameSet::parse("5-2").unwrap_err().contains("empty range"));
        assert!(FrameSet::parse("x").unwrap_err().contains("not a frame number"));
        assert!(FrameSet::default().contains(1));
    }

    #[test]
    fn timestamps_follow_the_interface_resolution() {
        assert_eq!(timestamp(1_500_000, 6), Duration::from_millis(1500));
        assert_eq!(timestamp(1_500_000_000, 9), Duration::from_millis(1500));
        assert_eq!(timestamp(3, 0x81), Duration::from_millis(1500));
        assert_eq!(timestamp(u128::MAX, 0), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn cooked_and_raw_frames_become_ethernet() {
        let ip = [0x45u8, 0, 0, 20];
        let (b, note) = to_ethernet(DataLink::RAW, &ip, 1).unwrap();
        assert_eq!(&b[12..14], &[0x08, 0x00]);
        assert_eq!(&b[14..], &ip);
        assert!(note.is_some());
        let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 9, 0, 0, 0x86, 0xdd];
        sll.extend_from_slice(&[0x60, 0, 0, 0]);
        let (b, _) = to_ethernet(DataLink::LINUX_SLL, &sll, 1).unwrap();
        assert_eq!(&b[6..12], &[2, 0, 0, 0, 0, 9]);
        assert_eq!(&b[12..14], &[0x86, 0xdd]);
        assert!(matches!(
            to_ethernet(DataLink::LINUX_SLL, &sll[..10], 3),
            Err(CaptureError::BadFrame { frame: 3, .. })
        ));
        assert!(matches!(
            to_ethernet(DataLink::IEEE802_11, &ip, 2),
            Err(CaptureError::UnsupportedLink { frame: 2, .. })
        ));
    }

    #[test]
    fn garbage_is_not_a_capture_and_never_panics() {
        assert!(matches!(read(b"hello world", &FrameSet::default()), Err(CaptureError::NotACapture { .. })));
        assert!(matches!(read(b"", &FrameSet::default()), Err(CaptureError::NotACapture { .. })));
        let mut seed = 0x1234_5678u64;
        for len in 0..200 {
            for magic in [[0xd4u8, 0xc3, 0xb2, 0xa1], [0x0a, 0x0d, 0x0d, 0x0a]] {
                let mut data = magic.to_vec();
                for _ in 0..len {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    data.push(seed as u8);
                }
                let _ = read(&data, &FrameSet::default());
            }
        }
    }
}
