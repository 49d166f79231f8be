//! The coverage page `xdptest doc --coverage FILE` adds: the `coverage.json` of `xdptest run
//! --coverage` (version 1) as a table per program (lines, branches, verdict paths), the verdict paths
//! no scenario reached, the verifier's dead code, and per scenario what it reached, linked to its
//! section.

use std::fmt::Write as _;

use serde_json::Value;

/// A coverage summary, checked to be one.
pub struct Coverage(Value);

impl Coverage {
    pub fn parse(text: &str) -> Result<Coverage, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("not JSON ({e}); give the coverage.json of `xdptest run --coverage`"))?;
        if v["version"] != 1 || !v["programs"].is_array() || !v["scenarios"].is_array() {
            return Err("not a version-1 coverage.json of `xdptest run --coverage`".into());
        }
        Ok(Coverage(v))
    }

    /// The page: `link(spec, scenario)` gives a scenario's section, when it has one.
    pub fn render(&self, link: &dyn Fn(&str, &str) -> Option<String>) -> String {
        let v = &self.0;
        let ratio = |r: &Value| {
            let (hit, total) = (r["hit"].as_u64().unwrap_or(0), r["total"].as_u64().unwrap_or(0));
            let pct = if total == 0 { 100.0 } else { 100.0 * hit as f64 / total as f64 };
            format!("{pct:.1}% ({hit}/{total})")
        };
        let s_of = |x: &Value| x.as_str().unwrap_or_default().to_string();
        let mut s = String::from("# Coverage\n\n");
        s.push_str(
            "What the scenarios reached of each program, counted in the kernel by `xdptest run --coverage`. \
             A verdict path is one way the program returns (an instruction that gives the return value \
             its value); lines the verifier removed as dead code cannot run and are not counted.\n\n",
        );
        s.push_str("| Program | Object | Lines | Branches | Verdict paths |\n| --- | --- | --- | --- | --- |\n");
        let programs = v["programs"].as_array().cloned().unwrap_or_default();
        for p in &programs {
            let _ = writeln!(
                s,
                "| `{}` | `{}` | {} | {} | {} |",
                s_of(&p["program"]),
                crate::report::coverage::tidy(&s_of(&p["object"])),
                ratio(&p["lines"]),
                ratio(&p["branches"]),
                ratio(&p["verdicts"])
            );
        }
        for p in &programs {
            let _ = write!(s, "\n## `{}`\n\n", s_of(&p["program"]));
            let paths = p["verdict_paths"].as_array().cloned().unwrap_or_default();
            s.push_str("| Verdict path | Reached |\n| --- | --- |\n");
            for path in &paths {
                let reached = if path["reached"] == true { "yes" } else { "**never**" };
                let _ = writeln!(s, "| {} | {reached} |", s_of(&path["text"]));
            }
            let dead = p["removed_by_verifier"].as_array().cloned().unwrap_or_default();
            if !dead.is_empty() {
                let lines: Vec<String> = dead.iter().map(|l| format!("`{}`", short(&s_of(l)))).collect();
                let _ = write!(s, "\nRemoved by the verifier as dead code: {}.\n", lines.join(", "));
            }
        }
        s.push_str("\n## Scenarios\n\n| Scenario | Target | Program | Lines | Branches | Verdict paths |\n");
        s.push_str("| --- | --- | --- | --- | --- | --- |\n");
        for sc in v["scenarios"].as_array().cloned().unwrap_or_default() {
            let (spec, name, target) = (s_of(&sc["spec"]), s_of(&sc["scenario"]), s_of(&sc["target"]));
            let shown = match link(&spec, &name) {
                Some(to) => format!("[{}]({to})", escape(&name)),
                None => escape(&name),
            };
            if let Some(why) = sc["unavailable"].as_str() {
                let _ = writeln!(s, "| {shown} | {target} | | unavailable: {} | | |", escape(why));
                continue;
            }
            for (program, r) in sc["programs"].as_object().cloned().unwrap_or_default() {
                let _ = writeln!(
                    s,
                    "| {shown} | {target} | `{program}` | {} | {} | {} |",
                    ratio(&r["lines"]),
                    ratio(&r["branches"]),
                    ratio(&r["verdicts"])
                );
            }
        }
        s
    }
}

/// `file.c:12` from a path as the object recorded it.
fn short(line: &str) -> &str {
    line.rsplit('/').next().unwrap_or(line)
}

/// Text safe in a table cell.
fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
