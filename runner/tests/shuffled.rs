//! The example suite (`specs/`) passes in any order (root needed): each scenario's maps are reset
//! to their state after loading whatever ran before it on the same worker, however the reset finds
//! what to restore (full, tracked keys, logged lookups).

use std::path::PathBuf;

use xdptest_runner::{run_results, Observe, RunOptions, Verdict};

#[test]
fn the_example_suite_passes_shuffled_and_reversed() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let st = std::process::Command::new("make").args(["-s", "-C"]).arg(root.join("programs")).status().unwrap();
    assert!(st.success());
    let specs = xdptest_compiler::discover(&[root.join("specs")]).unwrap();
    let suite = xdptest_compiler::compile(&specs, &xdptest_compiler::spec::FsLoader::unconfined())
        .unwrap_or_else(|d| panic!("{:?}", d[0].report()));
    let fixtures: Vec<_> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    assert!(fixtures.len() > 50);
    // A fixed permutation (an LCG's order), then the reverse of the suite.
    let mut order: Vec<usize> = (0..fixtures.len()).collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..order.len()).rev() {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        order.swap(i, (x >> 33) as usize % (i + 1));
    }
    let shuffled: Vec<_> = order.iter().map(|&i| fixtures[i].clone()).collect();
    let reversed: Vec<_> = fixtures.iter().rev().cloned().collect();
    for (what, suite) in [("shuffled", &shuffled), ("reversed", &reversed)] {
        for jobs in [1, 2] {
            let mut bad = Vec::new();
            run_results(suite, &RunOptions { jobs, ..RunOptions::default() }, &Observe::default(), |i, r| {
                if !matches!(r.verdict, Verdict::Pass) {
                    bad.push(format!("{}::{}: {:?}", suite[i].spec, suite[i].scenario, r.verdict));
                }
            });
            assert!(bad.is_empty(), "{what}, {jobs} job(s): {bad:#?}");
        }
    }
}
