//! Real Debian kernels, downloaded with apt from the machine's configured Debian mirror into the default
//! kernel cache (once: later runs reuse it). Set XDPTEST_OFFLINE=1 to skip these.

use std::path::Path;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use xdptest_vm::kernel::{self, Kernel, KernelError, KernelSpec};

fn offline() -> bool {
    let skip = std::env::var_os("XDPTEST_OFFLINE").is_some_and(|v| v != "0");
    if skip {
        eprintln!("XDPTEST_OFFLINE set: skipping a test that downloads kernels");
    }
    skip
}

fn resolve_logged(spec: &str, cache: &Path) -> (Kernel, Vec<String>) {
    let spec: KernelSpec = spec.parse().unwrap();
    let mut lines = Vec::new();
    let start = Instant::now();
    let k = kernel::resolve(&spec, cache, &mut |l| {
        eprintln!("{spec}: {l}");
        lines.push(l.to_string());
    })
    .unwrap_or_else(|e| panic!("{spec}: {e}"));
    eprintln!("{spec}: resolved to {} in {:.1} s", k.version, start.elapsed().as_secs_f64());
    (k, lines)
}

fn assert_bzimage(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[0x202..0x206], b"HdrS", "{} is not a bzImage", path.display());
}

/// Checks a resolved Debian kernel end to end: image, configuration, modular drivers, module loading.
fn check_debian(k: &Kernel, series: &str) {
    assert!(k.version.starts_with(&format!("{series}.")) && k.version.ends_with("-cloud-amd64"), "{}", k.version);
    assert_bzimage(&k.image);
    assert!(k.image.starts_with(kernel::default_cache_dir()), "{}", k.image.display());
    let config = k.config.as_ref().expect("Debian packages ship boot/config-<version>");
    assert_eq!(config.get("CONFIG_BPF_SYSCALL"), Some("y"));
    let warnings = kernel::check_config(k).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}: config warnings: {warnings:?}", k.label);

    // Debian's cloud kernels build veth, dummy and 8021q as modules.
    for (option, module) in [("VETH", "veth"), ("DUMMY", "dummy"), ("VLAN_8021Q", "8021q")] {
        assert_eq!(config.get(option), Some("m"), "CONFIG_{option}");
        let path = kernel::module_path(k, module).unwrap_or_else(|| panic!("no {module} module"));
        assert!(path.starts_with(k.modules_dir.as_ref().unwrap()), "{}", path.display());
        eprintln!("{}: {module}: {}", k.label, path.display());
    }
    assert_eq!(kernel::needed_modules(k), ["veth", "dummy", "8021q"]);
    assert_eq!(kernel::module_path(k, "veth.ko"), kernel::module_path(k, "veth"));
    assert_eq!(kernel::module_path(k, "no_such_driver"), None);

    // Dependencies first, each once, decompressed to ELF.
    let mods = kernel::modules_to_load(k, &["veth", "8021q", "dummy", "veth"]).unwrap();
    let names: Vec<&str> = mods.iter().map(|m| m.name.as_str()).collect();
    eprintln!("{}: load order {names:?}", k.label);
    let pos = |n: &str| names.iter().position(|m| *m == n).unwrap_or_else(|| panic!("{n} not in {names:?}"));
    assert!(pos("veth") < pos("8021q") && pos("8021q") < pos("dummy"));
    for dep in ["garp", "mrp", "stp", "llc"] {
        assert!(pos(dep) < pos("8021q"), "{dep} must load before 8021q: {names:?}");
    }
    assert!(pos("llc") < pos("stp") && pos("stp") < pos("garp"), "{names:?}");
    assert_eq!(names.len(), 7, "{names:?}");
    for m in &mods {
        assert!(m.image.starts_with(b"\x7fELF"), "{}", m.path.display());
    }
    let e = kernel::modules_to_load(k, &["no_such_driver"]).unwrap_err();
    assert!(matches!(e, KernelError::ModuleNotFound { .. }), "{e}");

    // The same image given as a path finds its configuration beside it (boot/config-<version>).
    let local = kernel::resolve(&KernelSpec::Path(k.image.clone()), Path::new("/nonexistent"), &mut |_| {}).unwrap();
    assert_eq!(local.version, k.version);
    assert_eq!(local.config, k.config);
}

#[test]
fn debian_6_1() {
    if offline() {
        return;
    }
    let cache = kernel::default_cache_dir();
    let (k, _) = resolve_logged("debian:6.1", &cache);
    assert_eq!(k.label, "debian:6.1");
    check_debian(&k, "6.1");
    // Modules are plain .ko files in 6.1.
    assert_eq!(kernel::module_path(&k, "veth").unwrap().extension().unwrap(), "ko");

    // The second time it is a cache hit: no downloads, no network, nothing to report.
    let start = Instant::now();
    let (again, lines) = resolve_logged("debian:6.1", &cache);
    assert_eq!(again, k);
    assert!(lines.is_empty(), "{lines:?}");
    assert!(start.elapsed().as_secs() < 5);

    // A copy of the image alone: no configuration to be found (Debian doesn't set CONFIG_IKCONFIG).
    let dir = tempfile::tempdir().unwrap();
    let lone = dir.path().join("bzImage");
    std::fs::copy(&k.image, &lone).unwrap();
    let local = kernel::resolve(&KernelSpec::Path(lone), dir.path(), &mut |_| {}).unwrap();
    assert_eq!(local.version, k.version, "read from the boot header");
    assert_eq!(local.config, None);
    let w = kernel::check_config(&local).unwrap();
    eprintln!("lone 6.1 image: {w:?}");
    assert!(w.len() == 1 && w[0].contains("no configuration found"), "{w:?}");
}

#[test]
fn debian_6_12() {
    if offline() {
        return;
    }
    let (k, _) = resolve_logged("debian:6.12", &kernel::default_cache_dir());
    check_debian(&k, "6.12");
    let veth = kernel::module_path(&k, "veth").unwrap();
    eprintln!("6.12 module compression: {}", veth.display());
}

#[test]
fn exact_package_abi() {
    if offline() {
        return;
    }
    // Whatever debian:6.1 resolved to, its ABI names the same package.
    let cache = kernel::default_cache_dir();
    let (k, _) = resolve_logged("debian:6.1", &cache);
    let abi = k.version.strip_suffix("-cloud-amd64").unwrap();
    let (exact, _) = resolve_logged(&format!("debian:{abi}"), &cache);
    assert_eq!(exact.image, k.image);
    assert_eq!(exact.label, format!("debian:{abi}"));
}

#[test]
fn unknown_package_is_a_clear_error() {
    if offline() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let spec: KernelSpec = "debian:6.1.0-9999".parse().unwrap();
    let e = kernel::resolve(&spec, cache.path(), &mut |l| eprintln!("{l}")).unwrap_err();
    let msg = e.to_string();
    eprintln!("{msg}");
    assert!(matches!(e, KernelError::NotFound { .. }), "{msg}");
    assert!(msg.contains("linux-image-6.1.0-9999*-cloud-amd64") && msg.contains("bookworm"), "{msg}");
    assert!(msg.contains("available there: ") && msg.contains("debian:6.1.0-"), "{msg}");
    // Nothing half-made is left behind.
    let names: Vec<String> =
        std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert!(names.iter().all(|n| n == ".lock" || n == "apt"), "{names:?}");
}

/// Two resolvers at once on an empty cache: one downloads, the other waits for the lock and then finds
/// the kernel in the cache.
#[test]
fn concurrent_resolves_download_once() {
    if offline() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let barrier = Arc::new(Barrier::new(2));
    let results: Vec<Kernel> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let lines = lines.clone();
                let barrier = barrier.clone();
                let cache = cache.path();
                s.spawn(move || {
                    barrier.wait();
                    let spec: KernelSpec = "debian:6.1".parse().unwrap();
                    kernel::resolve(&spec, cache, &mut |l| {
                        eprintln!("thread {i}: {l}");
                        lines.lock().unwrap().push(l.to_string());
                    })
                    .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results[0], results[1]);
    assert_bzimage(&results[0].image);
    let lines = lines.lock().unwrap();
    let downloads = lines.iter().filter(|l| l.starts_with("downloading ")).count();
    assert_eq!(downloads, 1, "{lines:#?}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("waiting for another xdptest run")).count(), 1, "{lines:#?}");
    // One entry, one link, no leftovers.
    let mut names: Vec<String> =
        std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names[0] == ".lock" && names[1] == "apt" && names[2] == "debian-6.1", "{names:?}");
    assert!(names[3].starts_with("linux-image-6.1.0-"), "{names:?}");
}
