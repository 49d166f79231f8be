//! A private bpffs for loading one object. Maps declared with `LIBBPF_PIN_BY_NAME` ask the loader to pin
//! them, and to reuse whatever is already pinned under that name: done on the host's `/sys/fs/bpf`,
//! that shares state between runs and with programs xdptest did not load. Loads therefore run in a
//! thread of their own that leaves the process's mount namespace, mounts a fresh bpffs on an empty
//! directory nobody else can see, and pins there; when the thread ends the namespace goes, the bpffs
//! with it, and the pins with that. The maps live on through the file descriptors the load returned.
//!
//! The host's `/sys/fs/bpf` is never opened, read or written: the loader is pointed at the private
//! directory for every pin.

use std::path::Path;

use rustix::mount::{mount, mount_change, unmount, MountFlags, MountPropagationFlags, UnmountFlags};

use crate::error::{OsError, RunError};

/// The stack of the thread that loads (and of a probe's, see [`crate::probe`]): aya recurses over
/// BTF types, and a deep (or malformed) type graph needs more than a default thread's 2 MiB.
pub const LOADER_STACK: usize = 16 << 20;

/// [`isolated`] when `pins` is set; else `load` runs on a loader thread all the same, given a path
/// that is never used (nothing is pinned).
pub fn isolated_if<T: Send>(pins: bool, load: impl FnOnce(&Path) -> T + Send) -> Result<T, RunError> {
    if pins {
        return isolated(load);
    }
    on_loader_thread(|| {
        // A mount namespace of its own, where the kernel's BTF can be hidden from aya (see
        // [`hide_kernel_btf`]); without the privilege for one, the load parses it as before.
        // SAFETY: as in [`isolated`].
        let own = unsafe {
            rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS | rustix::thread::UnshareFlags::NEWNS)
        }
        .is_ok();
        if own && mount_change("/", MountPropagationFlags::PRIVATE | MountPropagationFlags::REC).is_ok() {
            hide_kernel_btf();
        }
        Ok(load(Path::new("/nonexistent/xdptest-no-pins")))
    })
}

/// aya's `EbpfLoader::new` parses the kernel's BTF (`/sys/kernel/btf/vmlinux`, megabytes) on every
/// load, whether the object needs it or not: most of a load's time. In the loader thread's own
/// mount namespace (private: nothing propagates to the host) an empty file is bound over it, so that
/// parse fails at once; the loader then gets the kernel BTF parsed once per process
/// ([`crate::program::kernel_btf`]), and only for objects with CO-RE relocations. Failing to hide
/// it (no such file, no privilege) only costs the time it always did.
fn hide_kernel_btf() {
    let _ = rustix::mount::mount_bind("/dev/null", "/sys/kernel/btf/vmlinux");
}

/// Runs `work` on a thread of its own with [`LOADER_STACK`], and waits for it.
fn on_loader_thread<T: Send>(work: impl FnOnce() -> Result<T, RunError> + Send) -> Result<T, RunError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(LOADER_STACK)
            .spawn_scoped(s, work)
            .map_err(|e| RunError::Isolation {
                step: "start a loader thread".into(),
                os: OsError::new("spawn a thread", &e),
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(RunError::Isolation { step: "load".into(), os: OsError::errno("the loader thread panicked", 0) })
            })
    })
}

/// Runs `load` with a private bpffs mounted at the path it is given, in a thread of its own.
pub fn isolated<T: Send>(load: impl FnOnce(&Path) -> T + Send) -> Result<T, RunError> {
    on_loader_thread(|| {
        let fail = |step: &str, e: std::io::Error| {
            let os = OsError::new(step.to_string(), &e);
            if RunError::is_denied(&os) {
                return RunError::permission_for(os, &["CAP_SYS_ADMIN"]);
            }
            RunError::Isolation { step: step.to_string(), os }
        };
        // SAFETY: CLONE_FS gives this thread its own root/cwd/umask and CLONE_NEWNS its own mount
        // table; neither touches memory or file descriptors shared with other threads.
        unsafe {
            rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS | rustix::thread::UnshareFlags::NEWNS)
        }
        .map_err(|e| fail("unshare(CLONE_FS | CLONE_NEWNS)", e.into()))?;
        // Nothing mounted from here on propagates back to the host's namespace.
        mount_change("/", MountPropagationFlags::PRIVATE | MountPropagationFlags::REC)
            .map_err(|e| fail("mount --make-rprivate /", e.into()))?;
        hide_kernel_btf();
        let dir = xdptest_compiler::owner::temp_dir("xdptest-bpffs-")
            .map_err(|e| fail("create a directory for the private bpffs", e))?;
        mount("bpf", dir.path(), "bpf", MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC, None)
            .map_err(|e| fail("mount -t bpf", e.into()))?;
        let out = load(dir.path());
        // Unpinning happens when the namespace goes; unmounting now also frees the directory.
        let _ = unmount(dir.path(), UnmountFlags::DETACH);
        drop(dir);
        Ok(out)
    })
}
