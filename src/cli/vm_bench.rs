//! `xdptest bench-vm` (hidden): how long a VM takes from starting qemu to its last result, per kernel
//! alone, then for all kernels at once (the matrix `run --kernel A --kernel B` runs).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use xdptest_vm::kernel::KernelSpec;

use super::{default_paths, load_suite};
use crate::outcome::Outcome;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Spec files or directories. Default: specs/
    pub paths: Vec<PathBuf>,
    /// Kernels to measure (repeatable), as for `run --kernel`.
    #[arg(long, value_name = "KERNEL", value_parser = super::vm::parse_kernel, required = true)]
    pub kernel: Vec<KernelSpec>,
    /// vCPU budget of the matrix run. Default: the number of CPUs.
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Runs per measurement (the table shows the median).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
}

pub fn run(args: BenchArgs) -> Outcome {
    let paths = default_paths(args.paths);
    let (_, suite) = match load_suite(&paths) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let fixtures: Vec<_> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    let kernels = match super::vm::resolve_kernels(&args.kernel) {
        Ok(k) => k,
        Err(o) => return o,
    };
    let guest = match super::vm::guest_binary() {
        Ok(g) => g,
        Err(o) => return o,
    };
    let mut opts = xdptest_vm::Options::new(guest);
    if let Some(j) = args.jobs {
        opts.jobs = j.max(1);
    }
    opts.shards = Some(1);
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    outln!("{} scenarios per VM, {} run(s) per figure", fixtures.len(), args.repeat.max(1));
    outln!(
        "{:<24} {:<32} {:<5} {:<8} {:>7} {:>11} {:>8}",
        "kernel",
        "release",
        "accel",
        "start",
        "start s",
        "results s",
        "verdicts"
    );
    let mut failed = false;
    // Booted, then restored from a saved state (saved by an unmeasured run first, when missing).
    let modes: Vec<(&str, Option<std::path::PathBuf>)> =
        std::iter::once(("booted", None)).chain(opts.vm_states.clone().map(|d| ("restored", Some(d)))).collect();
    for k in &kernels {
        for (mode, states) in &modes {
            let mut opts = opts.clone();
            opts.vm_states = states.clone();
            let measured = args.repeat.max(1);
            let (mut start, mut wall) = (Vec::new(), Vec::new());
            let mut line = None;
            for i in 0..measured + usize::from(states.is_some()) {
                let runs = match xdptest_vm::run_collected(std::slice::from_ref(k), &fixtures, &opts) {
                    Ok(r) => r,
                    Err(e) => {
                        errln!("error: {e}");
                        return Outcome::Error;
                    }
                };
                let r = &runs[0];
                failed |= !r.failures.is_empty();
                for f in &r.failures {
                    errln!("{}: VM failed: {}", r.label, f.failure);
                }
                if states.is_some() && i == 0 {
                    continue;
                }
                if let Some(v) = r.timings.first() {
                    start.push(v.boot.map(|b| b.as_secs_f64()).unwrap_or(f64::NAN));
                    wall.push(v.wall.as_secs_f64());
                    if *mode == "restored" && v.start != xdptest_runner::events::VmStart::Restored {
                        errln!("{}: the VM booted instead of restoring its saved state", r.label);
                        failed = true;
                    }
                }
                let pass = r.results.iter().filter(|x| x.verdict.is_pass()).count();
                let accel = xdptest_vm::qemu::qemu_binary()
                    .map(|q| xdptest_vm::qemu::accel(&q).0.to_string())
                    .unwrap_or_default();
                line = Some((r.release.clone(), accel, format!("{pass}/{} ok", r.results.len())));
            }
            if let Some((release, accel, verdicts)) = line {
                outln!(
                    "{:<24} {:<32} {:<5} {:<8} {:>7.1} {:>11.1} {:>8}",
                    k.label,
                    release,
                    accel,
                    mode,
                    median(start),
                    median(wall),
                    verdicts
                );
            }
        }
    }
    if kernels.len() > 1 {
        let mut walls = Vec::new();
        for _ in 0..args.repeat.max(1) {
            let t = Instant::now();
            match xdptest_vm::run_collected(&kernels, &fixtures, &opts) {
                Ok(runs) => failed |= runs.iter().any(|r| !r.failures.is_empty()),
                Err(e) => {
                    errln!("error: {e}");
                    return Outcome::Error;
                }
            }
            walls.push(t.elapsed().as_secs_f64());
        }
        outln!(
            "matrix: {} kernels at once within {} vCPUs: {:.1} s to the last result",
            kernels.len(),
            opts.jobs,
            median(walls)
        );
    }
    if failed {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}
