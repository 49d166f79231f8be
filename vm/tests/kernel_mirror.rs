//! How a Debian kernel fails when the machine's apt setup can't provide it: no apt, no Debian mirror in
//! the sources, an unreachable mirror. The "machine" here is a fake apt configuration (APT_CONFIG) whose
//! sources this test writes, so one test owns the process environment.

use std::path::Path;

use xdptest_vm::kernel::{self, KernelError, KernelSpec};

fn fake_machine(dir: &Path, sources: &str) {
    std::fs::create_dir_all(dir.join("sources.list.d")).unwrap();
    std::fs::write(dir.join("sources.list"), "").unwrap();
    std::fs::write(dir.join("sources.list.d/machine.sources"), sources).unwrap();
    // A file apt ignores (not .list or .sources) must be ignored here too.
    std::fs::write(dir.join("sources.list.d/old.list.disabled"), "deb http://127.0.0.1:9/debian bookworm main\n")
        .unwrap();
    let conf = format!(
        "Dir::Etc::sourcelist \"{0}/sources.list\";\nDir::Etc::sourceparts \"{0}/sources.list.d\";\n",
        dir.display()
    );
    std::fs::write(dir.join("apt.conf"), conf).unwrap();
    std::env::set_var("APT_CONFIG", dir.join("apt.conf"));
}

#[test]
fn failures_before_any_download() {
    let spec: KernelSpec = "debian:6.1".parse().unwrap();
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let resolve = || kernel::resolve(&spec, &cache, &mut |l| eprintln!("{l}"));

    // No Debian entry: only some other vendor's repository.
    fake_machine(
        &work.path().join("etc1"),
        "Types: deb\nURIs: http://127.0.0.1:9/node\nSuites: nodistro\nComponents: main\n",
    );
    let e = resolve().unwrap_err();
    assert!(matches!(e, KernelError::NoMirror { .. }), "{e}");
    assert!(e.to_string().contains("no Debian mirror in the machine's apt sources"), "{e}");
    assert!(e.to_string().contains("machine.sources"), "says which files were read: {e}");

    // A Debian mirror nobody answers at (a closed local port): a quick, precise error.
    fake_machine(
        &work.path().join("etc2"),
        "Types: deb\nURIs: http://127.0.0.1:9/debian\nSuites: bookworm\nComponents: main\n\n\
         Types: deb\nURIs: http://127.0.0.1:9/debian-security\nSuites: bookworm-security\nComponents: main\n",
    );
    let start = std::time::Instant::now();
    let e = resolve().unwrap_err();
    eprintln!("{e} ({:.1} s)", start.elapsed().as_secs_f64());
    assert!(
        matches!(&e, KernelError::MirrorUnreachable { mirror, .. } if mirror == "http://127.0.0.1:9/debian"),
        "{e}"
    );
    assert!(e.to_string().contains("Could not connect to 127.0.0.1:9"), "{e}");
    assert!(!cache.join("debian-6.1").exists());

    // No apt at all.
    let empty = work.path().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let path = std::env::var_os("PATH");
    std::env::set_var("PATH", &empty);
    let e = resolve().unwrap_err();
    if let Some(p) = path {
        std::env::set_var("PATH", p);
    }
    assert!(matches!(e, KernelError::AptUnavailable { .. }), "{e}");
    assert!(e.to_string().contains("pass the path of a bzImage instead"), "{e}");
}
