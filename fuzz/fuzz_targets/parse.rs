//! Arbitrary UTF-8 → the `.pkt` parser: it returns a tree or syntax errors, never panics, and every
//! error span lies inside the source on character boundaries (the compiler slices the text with them).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = xdptest_grammar::parse(text) {
        assert!(!errors.is_empty(), "a failed parse reports at least one error");
        for e in errors {
            assert!(e.span.start <= e.span.end, "{e:?}");
            assert!(e.span.end <= text.len(), "{e:?}");
            assert!(text.is_char_boundary(e.span.start), "{e:?}");
            assert!(text.is_char_boundary(e.span.end), "{e:?}");
        }
    }
});
