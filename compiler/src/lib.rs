//! The compiler: `.pkt` syntax trees (from `xdptest-grammar`) → checked scenarios → byte [`fixture`]s and
//! pcapng captures. It owns the meaning of the language: layer fields and their derivation ([`wire`]),
//! packet expressions ([`packet`]), map layouts read from the program's BTF ([`btf`], [`mapvalue`]), the
//! network stage ([`env`]) and located diagnostics ([`diagnostic`]).
//!
//! **Architecture invariant:** the compiler reads program objects only to learn names and layouts; it
//! never loads anything into the kernel and knows nothing about aya, test runs or VMs.
//!
//! Entry points: [`suite::discover`] → [`suite::compile`] → [`suite::outputs`] / [`suite::write_all`].

// Diagnostics are the cold path and carry their source; boxing them buys nothing.
#![allow(clippy::result_large_err)]

pub mod btf;
pub mod capture;
pub mod diagnostic;
pub mod env;
pub mod fixture;
pub mod import;
pub mod lint;
pub mod mapvalue;
pub mod owner;
pub mod packet;
pub mod pcap;
pub mod spec;
pub mod suite;
pub mod wire;

pub use diagnostic::Diag;
pub use fixture::Fixture;
pub use suite::{compile, discover, Suite};
