//! Arbitrary bytes → the packet decoder, which must never panic (the runner decodes whatever the
//! program under test produced).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = xdptest_compiler::wire::decode(data);
});
