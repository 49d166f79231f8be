//! The kernel cache:
//!
//! ```text
//! <cache>/.lock                                   flock: one downloader at a time (threads and processes)
//! <cache>/apt/<release>/                          private apt configuration, index lists, partial downloads
//! <cache>/<package>_<version>/                    an unpacked package: boot/vmlinuz-*, boot/config-*,
//!                                                 [usr/]lib/modules/*, and xdptest-kernel (written last)
//! <cache>/debian-<series> -> <package>_<version>  what a spec resolved to (replaced atomically)
//! ```
//!
//! Entries appear by rename, so a reader without the lock sees a whole entry or none; the lock only keeps
//! two runs from downloading the same thing. Leftovers of an interrupted run (`.tmp-*`) are removed by the
//! next run that takes the lock.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::apt::{self, Candidate, PrivateApt};
use super::process::{run, tail};
use super::{image, Kernel, KernelConfig, KernelError};

const METADATA: &str = "xdptest-kernel";
const UNPACK_TIMEOUT: Duration = Duration::from_secs(300);

/// An exclusive flock on `<cache>/.lock`, released on drop. flock locks belong to the open file, so two
/// threads of one process exclude each other too.
pub(crate) struct CacheLock {
    _file: File,
}

impl CacheLock {
    pub fn acquire(cache: &Path, progress: &mut dyn FnMut(&str)) -> Result<CacheLock, KernelError> {
        let path = cache.join(".lock");
        let lock_err = |source| KernelError::Lock { path: path.clone(), source };
        let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(lock_err)?;
        let flock = |op| loop {
            match rustix::fs::flock(&file, op) {
                Ok(()) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(std::io::Error::from(e)),
            }
        };
        if let Err(e) = flock(rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            if e.kind() != std::io::ErrorKind::WouldBlock {
                return Err(lock_err(e));
            }
            progress(&format!(
                "waiting for another xdptest run that is downloading a kernel (lock {})",
                path.display()
            ));
            flock(rustix::fs::FlockOperation::LockExclusive).map_err(lock_err)?;
        }
        Ok(CacheLock { _file: file })
    }
}

pub(crate) fn resolve_debian(
    series: &str,
    label: &str,
    cache: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Kernel, KernelError> {
    std::fs::create_dir_all(cache).map_err(|e| KernelError::io(cache, e))?;
    let link = cache.join(format!("debian-{series}"));
    if let Some(k) = load_link(&link, label) {
        return Ok(k);
    }
    let _lock = CacheLock::acquire(cache, progress)?;
    // Another run may have fetched it while we waited.
    if let Some(k) = load_link(&link, label) {
        return Ok(k);
    }
    remove_leftovers(cache);
    // An exact ABI (`6.1.0-47`) names one package: a cached copy needs no index update.
    if let Some(name) = cached_package(cache, series) {
        point(&link, &name)?;
        if let Some(k) = load_link(&link, label) {
            return Ok(k);
        }
    }
    let started = Instant::now();
    let (apt, candidate) = find_package(series, label, cache, progress)?;
    let dir_name = format!("{}_{}", candidate.package, candidate.version.replace(':', "%3a"));
    let dir = cache.join(&dir_name);
    if load_entry(&dir, label).is_none() {
        fetch(&apt, &candidate, &dir, cache, label, progress)?;
    }
    point(&link, &dir_name)?;
    let k = load_link(&link, label).ok_or_else(|| KernelError::Unpack {
        package: candidate.package.clone(),
        detail: format!("the cache entry {} is incomplete after unpacking", dir.display()),
    })?;
    progress(&format!(
        "{} {} from {} ready in {:.1} s ({})",
        candidate.package,
        candidate.version,
        candidate.suite,
        started.elapsed().as_secs_f64(),
        dir.display()
    ));
    Ok(k)
}

/// Searches the suite groups for `series` in order and returns the newest package of the first group
/// that has one.
fn find_package(
    series: &str,
    label: &str,
    cache: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(PrivateApt, Candidate), KernelError> {
    let mirrors = apt::machine_mirrors(label)?;
    let mut searched = Vec::new();
    let mut available = Vec::new();
    let mut notes = Vec::new();
    for (i, (release, suites)) in apt::groups_for(series).into_iter().enumerate() {
        let mut suites: Vec<apt::Suite> =
            suites.into_iter().filter(|s| !s.security || mirrors.security.is_some()).collect();
        let dir = cache.join("apt").join(&release);
        let names = |s: &[apt::Suite]| s.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
        progress(&format!("updating the package index of {} from {}", names(&suites), mirrors.debian.uri));
        let mut private = PrivateApt::new(&dir, &mirrors, &suites, label)?;
        let updated = match private.update(&suites) {
            Ok(Err(failed)) => {
                progress(&format!(
                    "{} unavailable on the mirror; searching without {}",
                    failed.join(", "),
                    if failed.len() == 1 { "it" } else { "them" }
                ));
                suites.retain(|s| !failed.contains(&s.name));
                private = PrivateApt::new(&dir, &mirrors, &suites, label)?;
                private.update(&suites).and_then(|r| {
                    r.map_err(|failed| KernelError::Apt {
                        command: "apt-get update".into(),
                        status: String::new(),
                        detail: format!("suites {} failed again", failed.join(", ")),
                    })
                })
            }
            other => other.map(|_| ()),
        };
        match updated {
            Ok(()) => {}
            // A fallback suite that left the mirror (old backports move to the archive) is not fatal.
            Err(e @ KernelError::SuiteMissing { .. }) if i > 0 => {
                notes.push(e.to_string());
                continue;
            }
            Err(e) => return Err(e),
        }
        searched.push(names(&suites));
        let candidates = private.candidates(series, &suites)?;
        if let Some(c) = apt::newest(&candidates) {
            let c = c.clone();
            return Ok((private, c));
        }
        available.extend(private.available_series());
    }
    available.sort_by(|a, b| super::version::compare(a, b));
    available.dedup();
    // Show the same series when there is some of it.
    let series_of = |abi: &str| abi.split(|c: char| !c.is_ascii_digit()).take(2).collect::<Vec<_>>().join(".");
    if available.iter().any(|a| series_of(a) == series_of(series)) {
        available.retain(|a| series_of(a) == series_of(series));
    }
    let shown = &available[available.len().saturating_sub(15)..];
    Err(KernelError::NotFound {
        label: label.to_string(),
        series: series.to_string(),
        suites: searched.join("; then "),
        available: if shown.is_empty() {
            String::new()
        } else {
            format!(
                "\navailable there: {}{}",
                if shown.len() < available.len() { "…, " } else { "" },
                shown.iter().map(|a| format!("debian:{a}")).collect::<Vec<_>>().join(", ")
            )
        } + &notes.iter().map(|n| format!("\n({n})")).collect::<String>(),
    })
}

/// Downloads and unpacks a package into cache entry `dir`.
fn fetch(
    apt: &PrivateApt,
    c: &Candidate,
    dir: &Path,
    cache: &Path,
    label: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(), KernelError> {
    let tmp = tempfile::Builder::new().prefix(".tmp-").tempdir_in(cache).map_err(|e| KernelError::io(cache, e))?;
    let download = tmp.path().join("download");
    std::fs::create_dir(&download).map_err(|e| KernelError::io(&download, e))?;
    let size = apt.size(c).map(|s| format!(" ({:.1} MB)", s as f64 / 1e6)).unwrap_or_default();
    progress(&format!("downloading {} {} from {}{size}", c.package, c.version, c.suite));
    let (deb, took) = apt.download(c, &download)?;
    let bytes = std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0);
    progress(&format!("downloaded {:.1} MB in {:.1} s; unpacking", bytes as f64 / 1e6, took.as_secs_f64()));
    let root = tmp.path().join("root");
    let out = run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root), "unpacking", UNPACK_TIMEOUT, label)?;
    let unpack_err = |detail: String| KernelError::Unpack { package: format!("{} {}", c.package, c.version), detail };
    if !out.status.success() {
        return Err(unpack_err(format!("dpkg-deb -x failed{}: {}", out.status_note(), tail(&out.stderr, 3))));
    }
    // The package's own name for the release is authoritative; fall back to what its files say.
    let boot = root.join("boot");
    let release = if boot.join(format!("vmlinuz-{}", c.release)).is_file() {
        c.release.clone()
    } else {
        std::fs::read_dir(&boot)
            .ok()
            .and_then(|d| {
                d.flatten().find_map(|e| e.file_name().to_str()?.strip_prefix("vmlinuz-").map(str::to_string))
            })
            .ok_or_else(|| unpack_err("it has no boot/vmlinuz-*: not a kernel image package".into()))?
    };
    let image = format!("boot/vmlinuz-{release}");
    let head = std::fs::read(root.join(&image)).map_err(|e| KernelError::io(root.join(&image), e))?;
    image::inspect(&head).map_err(|reason| unpack_err(format!("{image}: {reason}")))?;
    let config = format!("boot/config-{release}");
    let modules = [format!("lib/modules/{release}"), format!("usr/lib/modules/{release}")]
        .into_iter()
        .find(|m| root.join(m).is_dir());
    let mut meta = format!(
        "# The kernel package unpacked here, written by xdptest once the entry was complete.\n\
         package={}\npackage_version={}\nsuite={}\nrelease={release}\nimage={image}\n",
        c.package, c.version, c.suite
    );
    if root.join(&config).is_file() {
        meta += &format!("config={config}\n");
    }
    if let Some(m) = &modules {
        meta += &format!("modules={m}\n");
    }
    let meta_path = root.join(METADATA);
    std::fs::write(&meta_path, meta).map_err(|e| KernelError::io(&meta_path, e))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| KernelError::io(dir, e))?;
    }
    std::fs::rename(&root, dir).map_err(|e| KernelError::io(dir, e))?;
    Ok(())
}

/// The newest complete cache entry of package `linux-image-<abi>-cloud-amd64`, by directory name.
fn cached_package(cache: &Path, abi: &str) -> Option<String> {
    let prefix = format!("linux-image-{abi}{}_", apt::FLAVOUR);
    std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix) && load_entry(&cache.join(n), "").is_some())
        .max_by(|a, b| super::version::compare(&a[prefix.len()..], &b[prefix.len()..]))
}

/// Points `link` at `target` (a name in the same directory), replacing any old link atomically.
fn point(link: &Path, target: &str) -> Result<(), KernelError> {
    let tmp = link.with_file_name(format!(".tmp-link-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| KernelError::io(&tmp, e))?;
    std::fs::rename(&tmp, link).map_err(|e| KernelError::io(link, e))
}

fn load_link(link: &Path, label: &str) -> Option<Kernel> {
    let target = std::fs::read_link(link).ok()?;
    load_entry(&link.parent()?.join(target), label)
}

/// A complete cache entry as a [`Kernel`]; `None` when it is missing or damaged (it is then fetched
/// again).
fn load_entry(dir: &Path, label: &str) -> Option<Kernel> {
    let meta = std::fs::read_to_string(dir.join(METADATA)).ok()?;
    let field = |k: &str| meta.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).map(str::to_string);
    let image = dir.join(field("image")?);
    if !image.is_file() {
        return None;
    }
    let config = match field("config") {
        Some(c) => Some(KernelConfig::parse(&std::fs::read_to_string(dir.join(c)).ok()?)),
        None => None,
    };
    Some(Kernel {
        label: label.to_string(),
        version: field("release")?,
        image,
        config,
        modules_dir: field("modules").map(|m| dir.join(m)).filter(|m| m.is_dir()),
    })
}

/// Removes `.tmp-*` leftovers of interrupted runs. Only called with the lock held, when no other run can
/// be using them.
fn remove_leftovers(cache: &Path) {
    let Ok(entries) = std::fs::read_dir(cache) else { return };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".tmp-") {
            let p: PathBuf = e.path();
            let _ = if p.is_dir() && !p.is_symlink() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}
