//! The `.pkt` language: the pest grammar (`src/pkt.pest`) and a parser that turns source text into the
//! typed, spanned syntax tree of [`ast`]. This crate owns syntax only: it knows nothing about packet
//! layers, BPF, maps or the kernel. Literal checks that need no context (an IPv4 octet above 255, a number
//! that does not fit 64 bits, odd hex digits) happen here; everything else is the compiler's.
//!
//! Entry point: [`parse`], which returns the whole tree or every syntax error it found.

// pest is built without its `std` feature: that feature probes the remaining native stack on entry
// to every rule (about a sixth of all parsing time), while `parse` bounds nesting itself before pest
// runs. The parser pest derives then names `alloc` directly.
extern crate alloc;

pub mod ast;
mod parse;

pub use parse::{parse, MAX_BYTES, MAX_NESTING};

use ast::Span;

/// A syntax error located in the source. Rendered by the compiler with the file's name and text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(code(xdptest::syntax))]
pub struct SyntaxError {
    pub message: String,
    #[label("{label}")]
    pub span: Span,
    pub label: String,
    #[help]
    pub help: Option<String>,
}
