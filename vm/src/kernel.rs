//! Guest kernels: which kernel a `--kernel` argument names, where its files are, and whether it can run
//! the suite.
//!
//! A kernel is either a Debian kernel package (`debian:6.1`, `debian:6.12`, `debian:6.1.0-47`) or a local
//! bzImage (`path/to/bzImage`, `/boot/vmlinuz-…`). Debian kernels are found and downloaded with apt from
//! the Debian mirror the machine's own apt sources name, through a private apt configuration (its own
//! source list, index lists and download cache under the kernel cache): the machine's apt sources and
//! lists are never touched. Packages are unpacked with `dpkg-deb -x` into the cache
//! (`$XDG_CACHE_HOME/xdptest/kernels`, else `~/.cache/xdptest/kernels`), one directory per package
//! version, and a symlink per spec (`debian-6.1 -> linux-image-6.1.0-…`) remembers what a spec resolved
//! to, so later runs neither download nor need the network. Delete the symlink (or the whole cache) to
//! pick up a newer package. A lock file (`.lock`, flock) serialises downloads between threads and
//! processes.
//!
//! Before booting, [`check_config`] reads the kernel's build configuration (`boot/config-<version>` in
//! the package; for a local bzImage a `config-<version>` beside it, the `.config` of the build tree it
//! sits in, or a configuration embedded with `CONFIG_IKCONFIG`) and refuses kernels that lack what the
//! guest needs.
//!
//! Drivers that Debian's cloud kernels build as modules (veth, dummy, 8021q; virtio in 6.1) are loaded in
//! the guest from the package's module tree: [`module_path`] finds one, [`modules_to_load`] returns a list
//! of modules with their dependencies first and each image decompressed (6.1 ships plain `.ko`, 6.12
//! `.ko.xz`), ready for `init_module(2)`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

mod apt;
mod cache;
mod config;
mod image;
mod modules;
mod process;
pub(crate) use process::kill_group;
mod version;

pub use config::{KernelConfig, Need, OPTIONAL, REQUIRED};
pub use modules::{module_path, modules_to_load, needed_modules, Module};

/// A kernel ready to boot: its image, its configuration if known and its module tree if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    /// What the user wrote: `debian:6.1` or the path.
    pub label: String,
    /// The kernel release (`uname -r`), e.g. `6.1.0-47-cloud-amd64`.
    pub version: String,
    /// The bootable image (a bzImage; Debian calls it `vmlinuz`).
    pub image: PathBuf,
    /// The build configuration, when one was found.
    pub config: Option<KernelConfig>,
    /// `lib/modules/<version>` for modular drivers (veth.ko etc.), when the kernel has one.
    pub modules_dir: Option<PathBuf>,
}

/// Which kernel to boot, as written after `--kernel`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KernelSpec {
    /// A Debian `linux-image-*-cloud-amd64` package. `series` is a kernel series (`6.1`, `6.12`: the
    /// newest package of that series) or a package ABI (`6.1.0-47`, `6.12.43+deb12`: exactly that one).
    Debian { series: String },
    /// A bzImage on disk.
    Path(PathBuf),
}

/// Everything that can go wrong finding, fetching or checking a kernel. Messages are lowercase sentences
/// that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("bad kernel '{spec}': {reason}")]
    BadSpec { spec: String, reason: String },
    #[error("{tool} not found: {label} is downloaded with apt, so it needs a Debian-like host with apt-get, apt-cache and dpkg-deb; pass the path of a bzImage instead")]
    AptUnavailable { tool: String, label: String },
    #[error("no Debian mirror in the machine's apt sources ({searched}): {label} is downloaded from the Debian mirror configured there; add one or pass the path of a bzImage")]
    NoMirror { label: String, searched: String },
    #[error("can't reach the Debian mirror {mirror} while updating the package index for {label}: {detail}\n(check the network or proxy settings apt uses; kernels already in the cache keep working offline)")]
    MirrorUnreachable { label: String, mirror: String, detail: String },
    #[error("apt can't verify the signature of suite {suite} on {mirror}: {detail}\n(the machine's keyring {keyring} lacks its key: install a newer debian-archive-keyring; xdptest never skips signature checks)")]
    Signature { suite: String, mirror: String, keyring: String, detail: String },
    #[error("suite {suite} is not on the mirror {mirror} ({detail}); it may have moved to the archive")]
    SuiteMissing { suite: String, mirror: String, detail: String },
    #[error(
        "no Debian kernel package matches {label}: looked for linux-image-{series}*-cloud-amd64 in {suites}{available}"
    )]
    NotFound { label: String, series: String, suites: String, available: String },
    #[error("{command} failed{status}: {detail}")]
    Apt { command: String, status: String, detail: String },
    #[error("{what} took longer than {secs} s and was stopped (check the network; a retry resumes)")]
    Timeout { what: String, secs: u64 },
    #[error("can't unpack {package}: {detail}")]
    Unpack { package: String, detail: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{} is not a bootable kernel image: {reason}", path.display())]
    NotBzImage { path: PathBuf, reason: String },
    #[error("kernel {label} ({version}) lacks options the guest needs:\n{missing}\nuse a kernel built with them")]
    MissingOptions { label: String, version: String, missing: String },
    #[error("kernel {label} ({version}) has no module {module}{hint}")]
    ModuleNotFound { label: String, version: String, module: String, hint: String },
    #[error("can't read module {}: {detail}", path.display())]
    BadModule { path: PathBuf, detail: String },
    #[error("can't lock the kernel cache {}: {source}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
}

impl KernelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> KernelError {
        KernelError::Io { path: path.into(), source }
    }
}

const SPEC_HELP: &str = "write debian:<series> (debian:6.1, debian:6.12), debian:<package ABI> (debian:6.1.0-47) \
                         or the path of a bzImage";

impl FromStr for KernelSpec {
    type Err = KernelError;

    fn from_str(s: &str) -> Result<KernelSpec, KernelError> {
        let bad = |reason: String| KernelError::BadSpec { spec: s.to_string(), reason };
        if s.trim().is_empty() {
            return Err(bad(format!("empty; {SPEC_HELP}")));
        }
        if let Some(series) = s.strip_prefix("debian:") {
            return if valid_series(series) {
                Ok(KernelSpec::Debian { series: series.to_string() })
            } else {
                Err(bad(format!("'{series}' is not a kernel series; {SPEC_HELP}")))
            };
        }
        // `ubuntu:22.04`, `Debian:6.1`, `http://…`: a source we don't know rather than a file name.
        if let Some((scheme, _)) = s.split_once(':') {
            let looks_like_scheme = !scheme.is_empty()
                && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
            if looks_like_scheme && !Path::new(s).exists() {
                let near = xdptest_compiler::diagnostic::did_you_mean(scheme, ["debian"])
                    .map(|m| format!("did you mean '{m}:'? "))
                    .unwrap_or_default();
                return Err(bad(format!(
                    "unknown kernel source '{scheme}:'; {near}{SPEC_HELP} (write ./{s} for a file of that name)"
                )));
            }
        }
        Ok(KernelSpec::Path(PathBuf::from(s)))
    }
}

/// `6.1`, `6.12`, `6.1.0-47`, `6.12.43+deb12`: digits, a dot, digits, then optionally an ABI suffix that
/// starts with `.`, `-` or `+` and stays within package-name characters.
fn valid_series(s: &str) -> bool {
    let Some((major, rest)) = s.split_once('.') else { return false };
    let minor_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (minor, suffix) = rest.split_at(minor_len);
    let digits = |t: &str| !t.is_empty() && t.len() <= 4 && t.chars().all(|c| c.is_ascii_digit());
    digits(major)
        && digits(minor)
        && (suffix.is_empty()
            || (suffix.starts_with(['.', '-', '+'])
                && suffix.len() > 1
                && suffix.chars().all(|c| c.is_ascii_alphanumeric() || ".+-~".contains(c))))
}

impl fmt::Display for KernelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelSpec::Debian { series } => write!(f, "debian:{series}"),
            KernelSpec::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Where kernels are cached: `$XDG_CACHE_HOME/xdptest/kernels`, else `~/.cache/xdptest/kernels` (else a
/// directory under the system's temporary directory when there is no home).
pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("xdptest-cache-{}", rustix::process::geteuid().as_raw())))
        .join("xdptest")
        .join("kernels")
}

/// Finds the kernel a spec names: a local image is inspected in place; a Debian kernel comes from the
/// cache, or is downloaded and unpacked into it first (under the cache lock, so parallel runs download
/// it once). `progress` receives one line per slow step.
pub fn resolve(spec: &KernelSpec, cache: &Path, progress: &mut dyn FnMut(&str)) -> Result<Kernel, KernelError> {
    match spec {
        KernelSpec::Path(path) => image::resolve_path(path),
        KernelSpec::Debian { series } => cache::resolve_debian(series, &spec.to_string(), cache, progress),
    }
}

/// Checks a kernel's configuration before booting it. Missing required options are an error that lists
/// them all; things that only limit what can run (no kernel BTF, no JIT, no dummy or VLAN driver, an
/// unknown configuration) are returned as warnings.
pub fn check_config(k: &Kernel) -> Result<Vec<String>, KernelError> {
    config::check(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let d = |s: &str| KernelSpec::Debian { series: s.into() };
        assert_eq!("debian:6.1".parse::<KernelSpec>().unwrap(), d("6.1"));
        assert_eq!("debian:6.12".parse::<KernelSpec>().unwrap(), d("6.12"));
        assert_eq!("debian:6.1.0-47".parse::<KernelSpec>().unwrap(), d("6.1.0-47"));
        assert_eq!("debian:6.12.43+deb12".parse::<KernelSpec>().unwrap(), d("6.12.43+deb12"));
        assert_eq!("bzImage".parse::<KernelSpec>().unwrap(), KernelSpec::Path("bzImage".into()));
        assert_eq!("./a:b".parse::<KernelSpec>().unwrap(), KernelSpec::Path("./a:b".into()));
        for bad in
            ["", " ", "debian:", "debian:6", "debian:six", "debian:6.", "debian:6.1-", "debian:6.1 x", "ubuntu:22.04"]
        {
            assert!(bad.parse::<KernelSpec>().is_err(), "{bad:?} should be refused");
        }
        assert_eq!(d("6.1").to_string(), "debian:6.1");
        for typo in ["debain:6.1", "Debian:6.1"] {
            let e = typo.parse::<KernelSpec>().unwrap_err().to_string();
            assert!(e.contains("did you mean 'debian:'?"), "{typo}: {e}");
        }
        assert!(!"ubuntu:22.04".parse::<KernelSpec>().unwrap_err().to_string().contains("did you mean"));
    }
}
