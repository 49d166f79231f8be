//! `--format json`: one JSON object per scenario per line (JSON Lines), in suite order.

use std::io::Write;

use xdptest_runner::ScenarioResult;

pub fn write_result(out: &mut impl Write, r: &ScenarioResult) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, r)?;
    out.write_all(b"\n")
}

/// A result from a VM run: the same object with the kernel it ran on (`kernel`: the label as given to
/// `--kernel`, `kernel_release`: what the guest reported, `accel`: `kvm` or `tcg`).
pub fn write_vm_result(
    out: &mut impl Write,
    r: &ScenarioResult,
    kernel: &str,
    release: &str,
    accel: &str,
) -> std::io::Result<()> {
    let mut v = serde_json::to_value(r)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("kernel".into(), kernel.into());
        o.insert("kernel_release".into(), release.into());
        o.insert("accel".into(), accel.into());
    }
    serde_json::to_writer(&mut *out, &v)?;
    out.write_all(b"\n")
}
