//! `--kernel K…`: what the command line resolves before a VM run (the kernels, downloaded and checked;
//! the static guest binary; deadline scaling). The run itself is the [session](crate::session)'s.

use xdptest_vm::kernel::{self, Kernel, KernelSpec};

use crate::outcome::Outcome;

/// `--kernel` values: `debian:6.1`, `debian:6.12`, a bzImage path.
pub fn parse_kernel(s: &str) -> Result<KernelSpec, String> {
    s.parse::<KernelSpec>().map_err(|e| e.to_string())
}

/// Finds (downloads, caches) and checks every kernel. Problems are printed; the outcome is then 2.
pub fn resolve_kernels(specs: &[KernelSpec]) -> Result<Vec<Kernel>, Outcome> {
    let cache = kernel::default_cache_dir();
    let mut out = Vec::new();
    for spec in specs {
        let k = kernel::resolve(spec, &cache, &mut |line| errln!("xdptest: {spec}: {line}")).map_err(|e| {
            errln!("error: {e}");
            Outcome::Error
        })?;
        match kernel::check_config(&k) {
            Ok(warnings) => {
                for w in warnings {
                    errln!("warning: {}: {w}", k.label);
                }
            }
            Err(e) => {
                errln!("error: {e}");
                return Err(Outcome::Error);
            }
        }
        out.push(k);
    }
    Ok(out)
}

/// The guest binary: this xdptest itself unless `XDPTEST_GUEST_BINARY` names another (so the guest
/// is always this version: no stale binary to rebuild).
pub fn guest_binary() -> Result<std::path::PathBuf, Outcome> {
    xdptest_vm::guest_binary().map_err(|e| {
        errln!("error: {e}");
        Outcome::Error
    })
}

/// `XDPTEST_VM_TIMEOUT_SCALE`: a positive, finite factor for every VM deadline (1 when unset).
pub fn timeout_scale() -> Result<f64, Outcome> {
    let Some(v) = std::env::var_os("XDPTEST_VM_TIMEOUT_SCALE") else { return Ok(1.0) };
    let text = v.to_string_lossy();
    match super::env::timeout_scale(&text) {
        Some(f) => Ok(f),
        None => {
            errln!(
                "error: XDPTEST_VM_TIMEOUT_SCALE={text} is not a factor for VM deadlines: give a number above 0 and at most 1000 (e.g. 2 on a slow machine)"
            );
            Err(Outcome::Error)
        }
    }
}
