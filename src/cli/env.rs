//! The environment variables xdptest reads, checked once at start: a value that means nothing is an
//! error naming the variable and what it takes (a typo'd value used to fall back silently, and
//! `XDPTEST_VM_TIMEOUT_SCALE=inf` panicked), and an unknown `XDPTEST_*` name gets a did-you-mean.

use std::ffi::OsString;
use std::path::PathBuf;

use xdptest_compiler::diagnostic::did_you_mean;

/// What the checked variables say (only those the CLI itself uses; the others are read where needed).
#[derive(Debug, Default)]
pub struct Vars {
    pub allow_path: Vec<PathBuf>,
}

/// Every variable xdptest reads, with what its value must be.
const KNOWN: &[(&str, &str)] = &[
    ("XDPTEST_VM_TIMEOUT_SCALE", "a number above 0 and at most 1000"),
    ("XDPTEST_VM_ACCEL", "`kvm` or `tcg`"),
    ("XDPTEST_VM_KEEP", "`1` (keep VM files) or `0`"),
    ("XDPTEST_VM_WARM", "`1` (restore saved VM states, the default) or `0` (always boot)"),
    ("XDPTEST_QEMU", "the path of a qemu-system-x86_64 executable"),
    ("XDPTEST_GUEST_BINARY", "the path of the static guest executable"),
    ("XDPTEST_ALLOW_PATH", "directories separated by `:`"),
];

/// The factor `XDPTEST_VM_TIMEOUT_SCALE=text` gives every VM deadline: a finite number above 0 and at
/// most 1000.
pub fn timeout_scale(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|f| f.is_finite() && *f > 0.0 && *f <= 1000.0)
}

/// Checks every `XDPTEST_*` variable of the process environment.
pub fn checked() -> Result<Vars, String> {
    check(std::env::vars_os())
}

fn check(vars: impl Iterator<Item = (OsString, OsString)>) -> Result<Vars, String> {
    let mut out = Vars::default();
    for (name, value) in vars {
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("XDPTEST_") {
            continue;
        }
        let Some((_, takes)) = KNOWN.iter().find(|(n, _)| *n == name) else {
            // Test and benchmark knobs (`XDPTEST_BENCH_*`, …) are read by those harnesses, not here.
            if let Some(m) = did_you_mean(name, KNOWN.iter().map(|(n, _)| *n)) {
                errln!("warning: {name} is not a variable xdptest reads; did you mean {m}?");
            }
            continue;
        };
        let bad = || format!("{name}={} is not valid: it takes {takes}", value.to_string_lossy());
        let text = value.to_str().ok_or_else(bad)?;
        let ok = match name {
            "XDPTEST_VM_TIMEOUT_SCALE" => timeout_scale(text).is_some(),
            "XDPTEST_VM_ACCEL" => matches!(text, "kvm" | "tcg"),
            "XDPTEST_VM_KEEP" | "XDPTEST_VM_WARM" => matches!(text, "0" | "1"),
            "XDPTEST_QEMU" | "XDPTEST_GUEST_BINARY" => std::path::Path::new(text).is_file(),
            "XDPTEST_ALLOW_PATH" => {
                let dirs: Vec<PathBuf> = std::env::split_paths(text).filter(|d| !d.as_os_str().is_empty()).collect();
                let all = dirs.iter().all(|d| d.is_dir());
                out.allow_path.extend(dirs);
                all
            }
            _ => true,
        };
        if !ok {
            return Err(bad());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, value: &str) -> Result<Vars, String> {
        check(std::iter::once((OsString::from(name), OsString::from(value))))
    }

    #[test]
    fn timeout_scale_takes_a_positive_finite_factor() {
        for bad in ["inf", "NaN", "-1", "0", "1e9", "", "two"] {
            let e = one("XDPTEST_VM_TIMEOUT_SCALE", bad).unwrap_err();
            assert!(e.contains("XDPTEST_VM_TIMEOUT_SCALE") && e.contains("above 0"), "{bad}: {e}");
        }
        for good in ["0.5", "1", "2", " 3 ", "1000"] {
            assert!(one("XDPTEST_VM_TIMEOUT_SCALE", good).is_ok(), "{good}");
        }
    }

    #[test]
    fn every_known_variable_is_checked() {
        assert!(one("XDPTEST_VM_ACCEL", "kvm").is_ok());
        assert!(one("XDPTEST_VM_ACCEL", "KVM").unwrap_err().contains("`kvm` or `tcg`"));
        assert!(one("XDPTEST_VM_KEEP", "yes").is_err());
        assert!(one("XDPTEST_VM_WARM", "0").is_ok());
        assert!(one("XDPTEST_VM_WARM", "off").unwrap_err().contains("always boot"));
        assert!(one("XDPTEST_QEMU", "/nonexistent/qemu").is_err());
        assert!(one("XDPTEST_GUEST_BINARY", "/").is_err());
        assert!(one("XDPTEST_ALLOW_PATH", "/nonexistent").is_err());
        let v = one("XDPTEST_ALLOW_PATH", "/tmp:/").unwrap();
        assert_eq!(v.allow_path, [PathBuf::from("/tmp"), PathBuf::from("/")]);
        // Unknown names are not errors (harness knobs share the prefix).
        assert!(one("XDPTEST_BENCH_SCENARIOS", "x").is_ok());
    }
}
