//! The files a restored guest receives after its snapshot is restored (see [`warm`](crate::warm)):
//! the shard's `suite.json`, program objects and modules, which a cold boot finds in its initramfs. The
//! host hands them to qemu as a `fw_cfg` file; the guest reads it through the fw_cfg I/O ports.
//!
//! ```text
//! "XDPTPAY1" | body length: u32 LE | crc32(body): u32 LE | body
//! body = { path length: u32 LE | path (UTF-8, relative) | data length: u32 LE | data }*
//! ```
//!
//! The snapshot is taken while the fw_cfg file holds [`PLACEHOLDER`] (another magic), so a guest never
//! mistakes the placeholder for a payload, and a truncated or corrupted payload fails its checksum.

/// Magic of a payload.
pub const MAGIC: &[u8; 8] = b"XDPTPAY1";
/// Magic of the file present while the snapshot is taken.
pub const PLACEHOLDER: &[u8; 8] = b"XDPTWAIT";
/// Bytes before the body.
pub const HEADER: usize = 8 + 4 + 4;
/// The fw_cfg file name (`opt/` is the namespace qemu leaves to users).
pub const FW_CFG_NAME: &str = "opt/xdptest/payload";

/// The placeholder file's contents.
pub fn placeholder() -> Vec<u8> {
    let mut out = PLACEHOLDER.to_vec();
    out.resize(HEADER, 0);
    out
}

/// A payload holding `files` (relative path, bytes).
pub fn encode(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(files.iter().map(|(p, d)| 8 + p.len() + d.len()).sum());
    for (path, data) in files {
        body.extend_from_slice(&(path.len() as u32).to_le_bytes());
        body.extend_from_slice(path.as_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
    }
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// What a header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// The placeholder: no payload yet.
    Waiting,
    /// A payload of this many body bytes, with this checksum.
    Payload { len: usize, crc: u32 },
    /// Neither: not a file of ours.
    Unknown,
}

pub fn header(bytes: &[u8; HEADER]) -> Header {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    if &bytes[..8] == PLACEHOLDER {
        Header::Waiting
    } else if &bytes[..8] == MAGIC {
        Header::Payload { len: word(8) as usize, crc: word(12) }
    } else {
        Header::Unknown
    }
}

/// The files of a body, checked against its checksum.
pub fn decode(body: &[u8], crc: u32) -> Result<Vec<(String, Vec<u8>)>, String> {
    if crc32fast::hash(body) != crc {
        return Err(format!("the payload's checksum does not match ({} bytes)", body.len()));
    }
    let mut files = Vec::new();
    let mut at = 0;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
        let end = at.checked_add(n).filter(|&e| e <= body.len()).ok_or("the payload is truncated")?;
        let s = &body[*at..end];
        *at = end;
        Ok(s)
    };
    let len = |at: &mut usize| -> Result<usize, String> {
        Ok(u32::from_le_bytes(take(at, 4)?.try_into().expect("4 bytes")) as usize)
    };
    while at < body.len() {
        let n = len(&mut at)?;
        let path = std::str::from_utf8(take(&mut at, n)?).map_err(|_| "a path in the payload is not UTF-8")?;
        if path.starts_with('/') || path.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(format!("the payload names a path outside its directory: {path:?}"));
        }
        let path = path.to_string();
        let n = len(&mut at)?;
        files.push((path, take(&mut at, n)?.to_vec()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(bytes: &[u8]) -> (Header, &[u8]) {
        (header(bytes[..HEADER].try_into().unwrap()), &bytes[HEADER..])
    }

    #[test]
    fn files_survive_the_round_trip() {
        let files =
            vec![("xdptest/suite.json".to_string(), b"{}".to_vec()), ("xdptest/objects/0.o".into(), vec![0; 3])];
        let bytes = encode(&files);
        let (h, body) = split(&bytes);
        let Header::Payload { len, crc } = h else { panic!("{h:?}") };
        assert_eq!(len, body.len());
        assert_eq!(decode(body, crc).unwrap(), files);
        assert_eq!(decode(&encode(&[])[HEADER..], crc32fast::hash(&[])).unwrap(), vec![]);
    }

    #[test]
    fn the_placeholder_is_no_payload() {
        assert_eq!(header(placeholder()[..].try_into().unwrap()), Header::Waiting);
        assert_eq!(header(&[0; HEADER]), Header::Unknown);
    }

    #[test]
    fn damage_is_detected() {
        let bytes = encode(&[("a".to_string(), b"hello".to_vec())]);
        let (Header::Payload { crc, .. }, body) = split(&bytes) else { panic!() };
        let mut bad = body.to_vec();
        bad[6] ^= 1;
        assert!(decode(&bad, crc).unwrap_err().contains("checksum"));
        // A consistent checksum over a body whose lengths run past its end.
        let cut = &body[..body.len() - 1];
        assert!(decode(cut, crc32fast::hash(cut)).unwrap_err().contains("truncated"));
        for path in ["/etc/passwd", "../x", "a//b"] {
            let b = encode(&[(path.to_string(), vec![])]);
            let (Header::Payload { crc, .. }, body) = split(&b) else { panic!() };
            assert!(decode(body, crc).unwrap_err().contains("outside"), "{path}");
        }
    }
}
