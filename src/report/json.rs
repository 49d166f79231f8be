//! `--format json`: one JSON object per scenario per line (JSON Lines), in suite order.

use std::io::Write;

use xdptest_runner::ScenarioResult;

pub fn write_result(out: &mut impl Write, r: &ScenarioResult) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, r)?;
    out.write_all(b"\n")
}
