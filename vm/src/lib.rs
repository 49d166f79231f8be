//! Disposable qemu VMs that run the same suite on the kernels production uses (`xdptest run --kernel`).
//!
//! - [`kernel`]: which kernel a `--kernel` argument names, fetched and cached (Debian packages via apt).
//! - [`matrix`]: kernels × shards as concurrent VMs within a CPU/memory budget; results per kernel.
//! - [`qemu`]: starting and watching one VM (deadlines per phase, KVM probe, no orphan processes).
//! - [`initramfs`]: the throwaway root file system (cpio `newc`, written here).
//! - [`guest`]: `xdptest guest`, the guest's `/init`: runs the fixtures with the ordinary runner.
//! - [`channel`]: framed, checksummed result records on the guest's second serial port.
//! - [`warm`]: warm starts: a booted guest saved once per guest binary and kernel, restored per run.
//! - [`bundle`]: the files a restored guest receives instead of an initramfs payload.
//!
//! **Architecture invariant:** this crate knows nothing about the `.pkt` language: it takes
//! [`Fixture`](xdptest_compiler::Fixture)s and returns [`ScenarioResult`](xdptest_runner::ScenarioResult)s.
//! Nothing of the host's file system is shared with a guest; everything it needs is in its initramfs
//! (or, restored from a snapshot, in the one file qemu hands it).

// Errors are the cold path and carry what reporters need (a verifier log, locations); boxing them
// buys nothing.
#![allow(clippy::result_large_err)]

pub mod bundle;
pub mod channel;
pub mod guest;
pub mod initramfs;
pub mod kernel;
pub mod matrix;
pub mod qemu;
pub mod warm;

pub use matrix::{guest_binary, run, run_collected, KernelRun, MatrixError, Options};
