//! Kernel specs, configuration checks and local kernel images: no network needed.

use std::io::Write;
use std::path::{Path, PathBuf};

use xdptest_vm::kernel::{self, Kernel, KernelConfig, KernelError, KernelSpec};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A minimal bzImage: an x86 boot header (protocol 2.15) with a version string, then a gzip payload.
fn bzimage(release: &str, vmlinux: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 4 * 512 + 0x100];
    b[0x1f1] = 3;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
    b[0x20e..0x210].copy_from_slice(&0x200u16.to_le_bytes());
    let v = format!("{release} (someone@example) #1 SMP PREEMPT_DYNAMIC\0");
    b[0x400..0x400 + v.len()].copy_from_slice(v.as_bytes());
    let payload = gzip(vmlinux);
    b[0x248..0x24c].copy_from_slice(&0x100u32.to_le_bytes());
    b[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend_from_slice(&payload);
    b.extend_from_slice(&[0u8; 4]);
    b
}

fn with_ikconfig(config: &str) -> Vec<u8> {
    let mut v = b"\x7fELF\x02\x01\x01 pretend kernel text ".to_vec();
    v.extend_from_slice(b"IKCFG_ST");
    v.extend_from_slice(&gzip(config.as_bytes()));
    v.extend_from_slice(b"IKCFG_ED pretend kernel data");
    v
}

/// Everything the guest needs, built in.
const GOOD: &str = "CONFIG_BPF_SYSCALL=y\nCONFIG_NET=y\nCONFIG_NET_NS=y\nCONFIG_VETH=y\nCONFIG_BLK_DEV_INITRD=y\n\
                    CONFIG_DEVTMPFS=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_BINFMT_ELF=y\n\
                    CONFIG_PROC_FS=y\nCONFIG_SYSFS=y\nCONFIG_DEBUG_INFO_BTF=y\nCONFIG_BPF_JIT=y\nCONFIG_DUMMY=y\n\
                    CONFIG_VLAN_8021Q=y\n";

fn kernel_with(config: &str) -> Kernel {
    Kernel {
        label: "test".into(),
        version: "6.9.0-test".into(),
        image: PathBuf::from("/nonexistent/bzImage"),
        config: Some(KernelConfig::parse(config)),
        modules_dir: None,
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn bad_specs_are_refused_with_help() {
    for (spec, want) in [
        ("", "empty"),
        ("debian:", "is not a kernel series"),
        ("debian:6", "'6' is not a kernel series"),
        ("debian:latest", "'latest' is not a kernel series"),
        ("debian:6.1 ", "is not a kernel series"),
        ("ubuntu:24.04", "unknown kernel source 'ubuntu:'"),
        ("Debian:6.1", "unknown kernel source 'Debian:'"),
    ] {
        let e = spec.parse::<KernelSpec>().unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, KernelError::BadSpec { .. }), "{spec:?}: {msg}");
        assert!(msg.contains(want), "{spec:?}: {msg}");
        assert!(msg.contains("debian:6.1"), "{spec:?}: the message should show an example: {msg}");
    }
    assert_eq!("debian:6.12".parse::<KernelSpec>().unwrap(), KernelSpec::Debian { series: "6.12".into() });
    assert_eq!("debian:6.1.0-47".parse::<KernelSpec>().unwrap(), KernelSpec::Debian { series: "6.1.0-47".into() });
    assert_eq!("vmlinuz".parse::<KernelSpec>().unwrap(), KernelSpec::Path("vmlinuz".into()));
    assert_eq!(
        "/boot/vmlinuz-6.1.0-47-cloud-amd64".parse::<KernelSpec>().unwrap(),
        KernelSpec::Path("/boot/vmlinuz-6.1.0-47-cloud-amd64".into())
    );
}

#[test]
fn config_check_refuses_missing_options_and_lists_them() {
    assert_eq!(kernel::check_config(&kernel_with(GOOD)).unwrap(), Vec::<String>::new());

    let no_bpf = GOOD.replace("CONFIG_BPF_SYSCALL=y\n", "# CONFIG_BPF_SYSCALL is not set\n");
    let e = kernel::check_config(&kernel_with(&no_bpf)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, KernelError::MissingOptions { .. }), "{msg}");
    assert!(msg.contains("CONFIG_BPF_SYSCALL=y"), "{msg}");
    assert!(!msg.contains("CONFIG_NET_NS"), "only what is missing: {msg}");

    // Every missing option is listed at once; a console driver as a module is not enough.
    let several = GOOD.replace("CONFIG_BPF_SYSCALL=y\n", "").replace("CONFIG_SERIAL_8250=y", "CONFIG_SERIAL_8250=m");
    let msg = kernel::check_config(&kernel_with(&several)).unwrap_err().to_string();
    assert!(msg.contains("CONFIG_BPF_SYSCALL=y") && msg.contains("CONFIG_SERIAL_8250=y"), "{msg}");
    assert!(msg.contains("it is m"), "{msg}");
}

#[test]
fn config_check_warnings() {
    let limited = GOOD
        .replace("CONFIG_DEBUG_INFO_BTF=y\n", "")
        .replace("CONFIG_DUMMY=y\n", "")
        .replace("CONFIG_VETH=y", "CONFIG_VETH=m");
    let warnings = kernel::check_config(&kernel_with(&limited)).unwrap();
    let all = warnings.join("\n");
    assert_eq!(warnings.len(), 3, "{all}");
    assert!(all.contains("CONFIG_DEBUG_INFO_BTF") && all.contains("CO-RE"), "{all}");
    assert!(all.contains("CONFIG_DUMMY"), "{all}");
    assert!(all.contains("CONFIG_VETH=m but veth.ko is not in the kernel's module tree"), "{all}");

    let mut unknown = kernel_with(GOOD);
    unknown.config = None;
    let warnings = kernel::check_config(&unknown).unwrap();
    assert!(warnings.len() == 1 && warnings[0].contains("no configuration found"), "{warnings:?}");
}

#[test]
fn path_kernel_with_embedded_config() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("bzImage");
    write(&image, &bzimage("6.9.0-xdp+", &with_ikconfig(GOOD)));
    let k = kernel::resolve(&KernelSpec::Path(image.clone()), dir.path(), &mut |_| panic!("no progress")).unwrap();
    assert_eq!(k.label, image.display().to_string());
    assert_eq!(k.version, "6.9.0-xdp+");
    assert_eq!(k.image, image);
    assert_eq!(k.config, Some(KernelConfig::parse(GOOD)));
    assert_eq!(k.modules_dir, None);
    assert_eq!(kernel::check_config(&k).unwrap(), Vec::<String>::new());
    assert_eq!(kernel::module_path(&k, "veth"), None);
}

#[test]
fn path_kernel_config_beside_it_or_in_its_build_tree() {
    let dir = tempfile::tempdir().unwrap();
    // /boot style: vmlinuz-<version> with config-<version> beside it.
    let boot = dir.path().join("boot");
    write(&boot.join("vmlinuz-6.6.6-custom"), &bzimage("6.6.6-custom", b"no config inside"));
    write(&boot.join("config-6.6.6-custom"), b"CONFIG_BPF_SYSCALL=y\n");
    let k = kernel::resolve(&KernelSpec::Path(boot.join("vmlinuz-6.6.6-custom")), dir.path(), &mut |_| {}).unwrap();
    assert_eq!(k.config.unwrap().get("BPF_SYSCALL"), Some("y"));

    // A build tree: arch/x86/boot/bzImage under a directory with .config and Makefile.
    let tree = dir.path().join("linux");
    write(&tree.join("arch/x86/boot/bzImage"), &bzimage("6.10.0-rc1", b"no config inside"));
    write(&tree.join(".config"), b"CONFIG_NET=y\n");
    write(&tree.join("Makefile"), b"# kernel\n");
    let k = kernel::resolve(&KernelSpec::Path(tree.join("arch/x86/boot/bzImage")), dir.path(), &mut |_| {}).unwrap();
    assert_eq!(k.version, "6.10.0-rc1");
    assert_eq!(k.config.unwrap().get("NET"), Some("y"));

    // Nothing anywhere: accepted, with a warning that says what was tried.
    let lone = dir.path().join("lone/bzImage");
    write(&lone, &bzimage("6.10.0", b"no config inside"));
    let k = kernel::resolve(&KernelSpec::Path(lone), dir.path(), &mut |_| {}).unwrap();
    assert_eq!(k.config, None);
    let w = kernel::check_config(&k).unwrap();
    assert!(w.len() == 1 && w[0].contains("CONFIG_IKCONFIG"), "{w:?}");
}

#[test]
fn path_kernels_that_cannot_boot() {
    let dir = tempfile::tempdir().unwrap();
    let resolve = |p: &Path| kernel::resolve(&KernelSpec::Path(p.into()), dir.path(), &mut |_| {});

    let e = resolve(&dir.path().join("missing")).unwrap_err();
    assert!(matches!(&e, KernelError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound), "{e}");

    let vmlinux = dir.path().join("vmlinux");
    write(&vmlinux, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0 and more");
    let e = resolve(&vmlinux).unwrap_err().to_string();
    assert!(e.contains("ELF") && e.contains("bzImage"), "{e}");

    let text = dir.path().join("notes.txt");
    write(&text, &[b'x'; 4096]);
    let e = resolve(&text).unwrap_err().to_string();
    assert!(e.contains("HdrS"), "{e}");

    let e = resolve(dir.path()).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
}

#[test]
fn default_cache_dir_is_under_the_user_cache() {
    let d = kernel::default_cache_dir();
    assert!(d.ends_with("xdptest/kernels"), "{}", d.display());
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|x| Path::new(x).is_absolute()) {
        assert!(d.starts_with(xdg));
    } else if let Some(home) = std::env::var_os("HOME") {
        assert_eq!(d, Path::new(&home).join(".cache/xdptest/kernels"));
    }
}
