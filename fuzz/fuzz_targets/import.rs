//! Arbitrary bytes → the capture reader, and every frame it yields → the importer's layers: neither
//! may panic, and every lifted frame must encode back to exactly its bytes (what `xdptest import`
//! promises before its own compile check).
#![no_main]

use libfuzzer_sys::fuzz_target;
use xdptest_compiler::{capture, import, wire};

fuzz_target!(|data: &[u8]| {
    // A capture as read from a file...
    if let Ok(frames) = capture::read(data, &capture::FrameSet::default()) {
        for f in frames.iter().take(4) {
            let lifted = import::lift(&f.bytes);
            assert_eq!(wire::encode(&lifted.layers).map(|e| e.bytes).ok().as_deref(), Some(&f.bytes[..]));
        }
    }
    // ...and the bytes as one frame.
    let lifted = import::lift(data);
    assert_eq!(wire::encode(&lifted.layers).map(|e| e.bytes).ok().as_deref(), Some(data));
});
