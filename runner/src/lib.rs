//! The runner: compiled [`Fixture`](xdptest_compiler::Fixture)s in, [`verdict`]s out. It loads each
//! program with aya, seeds and resets its maps, builds the spec's network stage in a throwaway namespace,
//! runs every packet through `BPF_PROG_TEST_RUN` (in parallel, one program copy per worker) and compares
//! action, bytes and maps with what the fixture expects.
//!
//! **Architecture invariant:** the runner never sees `.pkt` source: it works from fixtures alone, so it
//! runs the same on the host and inside a VM guest. It knows nothing about terminals or output formats:
//! results are data ([`verdict::ScenarioResult`]) that reporters render.
//!
//! Steps, in order: [`select`] (filter, partition) → [`execute::run`], which emits [`RunEvent`]s →
//! reporters (in the CLI). Errors are typed data ([`error`]), never sentences to parse.

// Errors are the cold path and carry what reporters need (a verifier log, locations); boxing them
// buys nothing.
#![allow(clippy::result_large_err)]

pub mod bpffs;
pub mod coverage;
pub mod diff;
pub mod elf;
pub mod emitted;
pub mod error;
pub mod events;
pub mod execute;
pub mod keylog;
pub mod netlink;
pub mod printk;
pub mod probe;
pub mod program;
pub mod redirect;
pub mod select;
pub mod stage;
mod sys;
pub mod verdict;
pub mod verifier;
pub mod xsk;

pub use error::{OsError, RunError, SkipReason};
pub use events::{Cancel, RunEvent, RunStats, Target};
pub use execute::{run, run_results, timing_floor, Observe, RunOptions, Timing};
pub use verdict::{ScenarioResult, Verdict};
