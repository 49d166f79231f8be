//! The results channel: what the guest writes on its second serial port (ttyS1), which qemu backs with a
//! host file. Every record is framed and checksummed, so a garbled or truncated stream is detected and
//! can never turn into a pass:
//!
//! ```text
//! "XDPT" | kind: u8 | length: u32 LE | crc32(kind ‖ payload): u32 LE | payload: JSON
//! ```
//!
//! A run is `Start`, then one `Result` per scenario (any order), `Note`s for guest-side warnings, then
//! `End` with the number of results sent. The host trusts a run only when it saw `Start`, `End`, and
//! exactly as many distinct results as `End` claims and the shard holds.

use serde::{Deserialize, Serialize};
use xdptest_runner::{OsError, ScenarioResult};

const MAGIC: &[u8; 4] = b"XDPT";
const HEADER: usize = 4 + 1 + 4 + 4;
/// Bumped whenever a record's meaning changes: a guest binary from another build is refused.
pub const PROTOCOL: u32 = 4;

/// One message from the guest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    /// The guest is up and about to run `scenarios` scenarios.
    Start { protocol: u32, version: String, release: String, cpus: usize, scenarios: usize },
    /// A warning the host should show (a module that did not load, …).
    Note { text: String },
    /// One scenario's result; `index` is its position in the shard.
    Result { index: usize, result: Box<ScenarioResult> },
    /// All results were sent.
    End { results: usize, loads: usize, load_micros: u64, wall_micros: u64 },
    /// A guest booted to be snapshotted (see [`warm`](crate::warm)) is ready and waits for its
    /// payload: the host saves the VM now.
    Waiting { protocol: u32 },
    /// The guest could not run the suite at all: what it was doing, the OS error (if any) or what else
    /// went wrong (a panic's message).
    Fatal { step: String, os: Option<OsError>, detail: String },
}

impl Record {
    fn kind(&self) -> u8 {
        match self {
            Record::Start { .. } => 1,
            Record::Note { .. } => 2,
            Record::Result { .. } => 3,
            Record::End { .. } => 4,
            Record::Fatal { .. } => 5,
            Record::Waiting { .. } => 6,
        }
    }

    /// The framed bytes of this record.
    pub fn encode(&self) -> Vec<u8> {
        let payload = serde_json::to_vec(self).expect("records serialize");
        let kind = self.kind();
        let mut h = crc32fast::Hasher::new();
        h.update(&[kind]);
        h.update(&payload);
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.extend_from_slice(MAGIC);
        out.push(kind);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&h.finalize().to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }
}

/// Incremental decoder: feed it the results file as it grows.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Records whose checksum or payload was wrong, or bytes that were not a record.
    pub garbled: usize,
}

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete record, if any. Bytes that are not a valid record are skipped (and counted).
    pub fn next_record(&mut self) -> Option<Record> {
        loop {
            let start = find(&self.buf, MAGIC)?;
            if start > 0 {
                self.garbled += 1;
                self.buf.drain(..start);
            }
            if self.buf.len() < HEADER {
                return None;
            }
            let kind = self.buf[4];
            let len = u32::from_le_bytes(self.buf[5..9].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_le_bytes(self.buf[9..13].try_into().expect("4 bytes"));
            if len > 64 << 20 {
                // Not a plausible header: skip this magic.
                self.garbled += 1;
                self.buf.drain(..1);
                continue;
            }
            if self.buf.len() < HEADER + len {
                return None;
            }
            let payload = &self.buf[HEADER..HEADER + len];
            let mut h = crc32fast::Hasher::new();
            h.update(&[kind]);
            h.update(payload);
            let record = if h.finalize() == crc { serde_json::from_slice::<Record>(payload).ok() } else { None };
            match record {
                Some(r) if r.kind() == kind => {
                    self.buf.drain(..HEADER + len);
                    return Some(r);
                }
                _ => {
                    self.garbled += 1;
                    self.buf.drain(..1);
                }
            }
        }
    }

    /// Bytes received that are not (yet) a complete record.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use xdptest_runner::Verdict;

    fn result(name: &str) -> Record {
        Record::Result {
            index: 0,
            result: Box::new(ScenarioResult {
                spec: "s.pkt".into(),
                scenario: name.into(),
                verdict: Verdict::Pass,
                runs: vec![],
                duration: Duration::from_micros(7),
                coverage: None,
            }),
        }
    }

    #[test]
    fn round_trip_across_split_reads_and_noise() {
        let mut bytes = b"noise".to_vec();
        bytes.extend(Record::Note { text: "hi".into() }.encode());
        bytes.extend(result("a").encode());
        let mut d = Decoder::default();
        for chunk in bytes.chunks(3) {
            d.push(chunk);
        }
        assert!(matches!(d.next_record(), Some(Record::Note { text }) if text == "hi"));
        match d.next_record() {
            Some(Record::Result { result, .. }) => {
                assert_eq!(result.scenario, "a");
                assert_eq!(result.duration, Duration::from_micros(7));
            }
            other => panic!("{other:?}"),
        }
        assert!(d.next_record().is_none());
        assert_eq!(d.garbled, 1);
    }

    #[test]
    fn a_flipped_bit_drops_the_record() {
        let mut bytes = result("a").encode();
        let n = bytes.len();
        bytes[n - 3] ^= 0x10;
        bytes.extend(result("b").encode());
        let mut d = Decoder::default();
        d.push(&bytes);
        match d.next_record() {
            Some(Record::Result { result, .. }) => assert_eq!(result.scenario, "b"),
            other => panic!("{other:?}"),
        }
        assert!(d.garbled >= 1);
    }

    #[test]
    fn a_truncated_record_waits() {
        let bytes = result("a").encode();
        let mut d = Decoder::default();
        d.push(&bytes[..bytes.len() - 1]);
        assert!(d.next_record().is_none());
        d.push(&bytes[bytes.len() - 1..]);
        assert!(d.next_record().is_some());
    }
}
