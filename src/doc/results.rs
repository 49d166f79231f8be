//! The results `xdptest doc --results FILE` adds to pages: the `scenario` records of a
//! `xdptest run --format json` output (JSON Lines, version 1), by spec and scenario, each with its
//! target, verdict, duration and, for failures, the differing fields in words.

use std::collections::BTreeMap;

use serde_json::Value;

/// One scenario's result on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `host`, or the kernel of a VM run (`debian:6.1`).
    pub target: String,
    /// `pass`, `fail`, `error` or `skip`.
    pub status: String,
    pub duration_us: u64,
    /// What differed or went wrong, one line each, with the `file:line:col` of the statement it
    /// is about when the record says.
    pub details: Vec<(Option<String>, String)>,
}

/// Results by (spec path as `run` printed it, scenario name).
#[derive(Debug, Clone, Default)]
pub struct Results {
    by_scenario: BTreeMap<(String, String), Vec<Outcome>>,
}

impl Results {
    /// Reads JSON Lines; a line that is not a version-1 record is an error naming the line.
    pub fn parse(text: &str) -> Result<Results, String> {
        let mut by_scenario: BTreeMap<(String, String), Vec<Outcome>> = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line).map_err(|e| {
                format!("line {}: not JSON ({e}); give the output of `xdptest run --format json`", n + 1)
            })?;
            if v["version"] != 1 {
                return Err(format!(
                    "line {}: a record of version {} (this xdptest reads version 1)",
                    n + 1,
                    v["version"]
                ));
            }
            if v["type"] != "scenario" {
                continue;
            }
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let outcome = Outcome {
                target: text("target"),
                status: text("status"),
                duration_us: v["duration_us"].as_u64().unwrap_or(0),
                details: details(&v),
            };
            by_scenario.entry((text("spec"), text("scenario"))).or_default().push(outcome);
        }
        Ok(Results { by_scenario })
    }

    /// How many scenarios the file has results for.
    pub fn len(&self) -> usize {
        self.by_scenario.len()
    }

    /// Whether the file's results name this scenario.
    pub fn has(&self, spec: &str, scenario: &str) -> bool {
        self.by_scenario.contains_key(&(spec.to_string(), scenario.to_string()))
    }

    /// The outcomes of one scenario, in the order of the file.
    pub fn of(&self, spec: &str, scenario: &str) -> &[Outcome] {
        self.by_scenario.get(&(spec.to_string(), scenario.to_string())).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A failure or error in words: `vlan.vid: expected 301, got 300`.
fn details(v: &Value) -> Vec<(Option<String>, String)> {
    let mut lines: Vec<(Option<String>, String)> = Vec::new();
    for f in v["failures"].as_array().into_iter().flatten() {
        let source = f["source"].as_str().unwrap_or_default();
        let mut out: Vec<String> = Vec::new();
        match f["kind"].as_str().unwrap_or_default() {
            "packet" => {
                for d in f["fields"].as_array().into_iter().flatten() {
                    out.push(format!("{}: {}", field_name(d), expected_got(d)));
                }
                if f["fields"].as_array().is_none_or(|a| a.is_empty()) {
                    out.push("the output packet differs".to_string());
                }
            }
            "action" => out.push(format!(
                "action: expected {}, got {}",
                f["expected_name"].as_str().unwrap_or("?"),
                f["got_name"].as_str().unwrap_or("?")
            )),
            "map" => {
                let entry = f["entry"].as_str().unwrap_or("?");
                let diff = &f["diff"];
                match diff["problem"].as_str().unwrap_or_default() {
                    "missing" => out.push(format!("map {entry}: expected an entry, there is none")),
                    "present" => out.push(format!("map {entry}: expected no entry, there is one")),
                    _ => {
                        for d in diff["fields"].as_array().into_iter().flatten() {
                            let name = field_name(d);
                            let at = if name.is_empty() { String::new() } else { format!(" {name}") };
                            out.push(format!("map {entry}{at}: {}", expected_got(d)));
                        }
                    }
                }
            }
            other => out.push(format!("{} differs", other.replace('_', " "))),
        }
        let at = (!source.is_empty()).then(|| source.to_string());
        lines.extend(out.into_iter().map(|l| (at.clone(), l)));
    }
    let mut out: Vec<String> = Vec::new();
    if let Some(e) = v["error"].as_object() {
        let mut parts: Vec<String> = e
            .iter()
            .filter(|(k, _)| k.as_str() != "hint")
            .filter_map(|(k, x)| match x {
                Value::String(s) => Some(format!("{k} {s}")),
                Value::Number(n) => Some(format!("{k} {n}")),
                Value::Object(o) => o.get("errno").map(|n| format!("errno {n}")),
                _ => None,
            })
            .collect();
        parts.sort();
        out.push(format!("error: {}", parts.join(", ")));
        if let Some(h) = e.get("hint").and_then(Value::as_str) {
            out.push(format!("hint: {h}"));
        }
    }
    if let Some(r) = v["reason"].as_str() {
        out.push(format!("skipped: {r}"));
    }
    lines.extend(out.into_iter().map(|l| (None, l)));
    lines
}

fn field_name(d: &Value) -> String {
    let (layer, field) = (d["layer"].as_str().unwrap_or_default(), d["field"].as_str().unwrap_or_default());
    match (layer.is_empty(), field.is_empty()) {
        (true, _) => field.to_string(),
        (false, true) => layer.to_string(),
        (false, false) => format!("{layer}.{field}"),
    }
}

fn expected_got(d: &Value) -> String {
    format!("expected {}, got {}", d["expected"].as_str().unwrap_or("?"), d["got"].as_str().unwrap_or("?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_outcomes_in_words() {
        let text = r#"{"type":"run","version":1,"scenarios":2,"targets":[]}
{"type":"scenario","version":1,"target":"host","spec":"a.pkt","scenario":"s","status":"fail","duration_us":12,"runs":[],"failures":[{"kind":"packet","source":"a.pkt:3:3","fields":[{"layer":"vlan","field":"vid","expected":"301","got":"300"}]},{"kind":"action","source":"a.pkt:4:3","expected":2,"expected_name":"XDP_PASS","got":1,"got_name":"XDP_DROP"},{"kind":"map","source":"a.pkt:5:3","entry":"stats[0]","diff":{"problem":"fields","fields":[{"layer":"","field":"","expected":"2","got":"1"}]}}]}
"#;
        let r = Results::parse(text).unwrap();
        let o = &r.of("a.pkt", "s")[0];
        assert_eq!((o.target.as_str(), o.status.as_str(), o.duration_us), ("host", "fail", 12));
        assert_eq!(
            o.details.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
            [
                "vlan.vid: expected 301, got 300",
                "action: expected XDP_PASS, got XDP_DROP",
                "map stats[0]: expected 2, got 1"
            ]
        );
        assert_eq!(o.details[0].0.as_deref(), Some("a.pkt:3:3"));
        assert!(r.of("a.pkt", "other").is_empty());
        assert!(Results::parse("{\"version\":2}").unwrap_err().contains("line 1"));
        assert!(Results::parse("\nnot json").unwrap_err().contains("line 2: not JSON"));
    }
}
