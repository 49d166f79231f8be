//! `xdptest explain SPEC::SCENARIO`: the whole story of one scenario. It runs the scenario on this
//! kernel with everything recorded and tells, in order: the map entries written before it, then per
//! `send` the input packet layer by layer, the action and the output packet (against what the spec
//! expects), the map entries the program changed and the lines it printed; then the map checks and the
//! verdict.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use xdptest_compiler::btf::ObjectInfo;
use xdptest_compiler::fixture::{action_name, MapValue, Step};
use xdptest_compiler::mapvalue::leaf_fields;
use xdptest_compiler::spec::IFINDEX_PLACEHOLDER;
use xdptest_compiler::Fixture;
use xdptest_runner::verdict::Failure;
use xdptest_runner::{Observe, RunOptions, ScenarioResult, Verdict};

use super::{load_suite, Outcome};
use crate::report::human::describe_failures;
use crate::report::scenario::{hexdump, indent, key_text, layers, map_change, Objects};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The scenario: `SPEC::SCENARIO`, as `xdptest run` names it (e.g. `specs/upf/upf.pkt::uplink ICMP
    /// is decapsulated and sent back out`). The name may be shortened to a part that only it contains.
    #[arg(value_name = "SPEC::SCENARIO")]
    pub scenario: String,
}

pub fn run(args: ExplainArgs) -> Outcome {
    let Some((spec, wanted)) = args.scenario.split_once("::") else {
        eprintln!("error: name the scenario as SPEC::SCENARIO, e.g. specs/upf/upf.pkt::uplink");
        return Outcome::Error;
    };
    let (_, suite) = match load_suite(&[PathBuf::from(spec)]) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let fixtures: Vec<Fixture> = suite.specs.into_iter().flat_map(|s| s.fixtures).collect();
    let exact: Vec<&Fixture> = fixtures.iter().filter(|f| f.scenario == wanted).collect();
    let lower = wanted.to_lowercase();
    let partial: Vec<&Fixture> = fixtures.iter().filter(|f| f.scenario.to_lowercase().contains(&lower)).collect();
    let list = |fs: &[&Fixture]| fs.iter().map(|f| format!("  {}", f.scenario)).collect::<Vec<_>>().join("\n");
    let fixture = match (exact.as_slice(), partial.as_slice()) {
        ([one], _) | ([], [one]) => (*one).clone(),
        ([], []) => {
            let all: Vec<&Fixture> = fixtures.iter().collect();
            eprintln!("error: {spec} has no scenario \"{wanted}\"; its scenarios:\n{}", list(&all));
            return Outcome::Error;
        }
        _ => {
            eprintln!("error: several scenarios of {spec} match \"{wanted}\":\n{}", list(&partial));
            return Outcome::Error;
        }
    };
    let mut result = None;
    let observe = Observe { dump_maps: vec![true] };
    xdptest_runner::run_observing(std::slice::from_ref(&fixture), &RunOptions { jobs: 1 }, &observe, |_, r| {
        result = Some(r)
    });
    let Some(result) = result else {
        eprintln!("error: the scenario did not run");
        return Outcome::Error;
    };
    let mut objects = Objects::default();
    print!("{}", story(&fixture, &result, objects.get(&fixture.program.object)));
    match result.verdict {
        Verdict::Pass | Verdict::Skip { .. } => Outcome::Ok,
        Verdict::Fail { .. } => Outcome::Failed,
        Verdict::Error { .. } => Outcome::Error,
    }
}

/// The text `explain` prints.
pub fn story(f: &Fixture, r: &ScenarioResult, info: Option<&ObjectInfo>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "scenario: {}", f.scenario);
    let _ = writeln!(s, "spec: {}", f.spec);
    for l in f.description.lines() {
        let _ = writeln!(s, "  {l}");
    }
    let _ = writeln!(s, "program: {} in {}", f.program.name, f.program.object);
    let failures: &[Failure] = match &r.verdict {
        Verdict::Fail { failures } => failures,
        _ => &[],
    };
    let mut run_index = 0;
    let mut writes_shown = false;
    let mut last_was_check = false;
    for step in &f.steps {
        if !matches!(step, Step::CheckMap { .. }) {
            last_was_check = false;
        }
        match step {
            Step::SetMap { map, key, value } => {
                if !writes_shown {
                    s.push_str(if run_index == 0 {
                        "\nmap entries written first\n"
                    } else {
                        "\nmap entries written\n"
                    });
                    writes_shown = true;
                }
                let mut text = map_write(map, &key.0, value, info);
                // Interface names of the stage stand for their ifindex, which only the run knows.
                let links = f.env.iter().filter_map(|e| match e {
                    xdptest_compiler::fixture::EnvItem::Link { name, .. } => Some(name),
                    _ => None,
                });
                for (i, name) in links.enumerate() {
                    text = text.replace(&(IFINDEX_PLACEHOLDER + i as u64).to_string(), name);
                }
                let _ = writeln!(s, "  {text}");
            }
            Step::Run { expect, source, .. } => {
                writes_shown = false;
                run_index += 1;
                let _ = writeln!(s, "\nsend #{run_index} ({source})");
                let Some(run) = r.runs.get(run_index - 1) else {
                    s.push_str("  not run (the scenario stopped before it)\n");
                    continue;
                };
                let _ = writeln!(s, "  input: {} bytes", run.input.len());
                s.push_str(&indent(&layers(&run.input), 4));
                let expected = match expect {
                    Some(e) => format!(" (expected {})", action_name(e.action)),
                    None => " (not checked)".into(),
                };
                let _ = writeln!(s, "  action: {}{expected}", action_name(run.action));
                if run.output == run.input {
                    let _ = writeln!(s, "  output: the input, unchanged");
                } else {
                    let _ = writeln!(s, "  output: {} bytes", run.output.len());
                    s.push_str(&indent(&layers(&run.output), 4));
                    s.push_str("    bytes\n");
                    s.push_str(&indent(&hexdump(&run.output), 6));
                }
                let mine: Vec<Failure> = failures
                    .iter()
                    .filter(|x| matches!(x, Failure::Action { source: s, .. } | Failure::Packet { source: s, .. } if s == source))
                    .cloned()
                    .collect();
                match expect.as_ref().and_then(|e| e.packet.as_ref()) {
                    _ if !mine.is_empty() => {
                        s.push_str("  differs from the spec:\n");
                        s.push_str(&indent(&describe_failures(&mine), 4));
                    }
                    Some(_) => s.push_str("  the output matches the expected packet\n"),
                    None => s.push_str("  the output packet is not checked\n"),
                }
                match &run.maps {
                    Some(changes) if !changes.is_empty() => {
                        s.push_str("  maps changed by the program\n");
                        for c in changes {
                            s.push_str(&indent(&map_change(c, info), 4));
                        }
                    }
                    Some(_) => s.push_str("  no map entry changed\n"),
                    None => {}
                }
                if let Some(e) = &run.printk_error {
                    let _ = writeln!(s, "  printk: not captured ({e})");
                } else if !run.printk.is_empty() {
                    s.push_str("  printk\n");
                    for l in &run.printk {
                        let _ = writeln!(s, "    {l}");
                    }
                }
            }
            Step::CheckMap { entry, source, expected, .. } => {
                writes_shown = false;
                let what = if expected.is_some() { "as expected" } else { "absent, as expected" };
                let mine: Vec<Failure> = failures
                    .iter()
                    .filter(|x| matches!(x, Failure::Map { source: s, .. } if s == source))
                    .cloned()
                    .collect();
                if !s.ends_with("\n\n") && !last_was_check {
                    s.push('\n');
                }
                last_was_check = true;
                if mine.is_empty() {
                    if run_index <= r.runs.len() && !matches!(r.verdict, Verdict::Error { .. }) {
                        let _ = writeln!(s, "check map {entry} ({source}): {what}");
                    }
                } else {
                    let _ = writeln!(s, "check map {entry} ({source}): differs");
                    s.push_str(&indent(&describe_failures(&mine), 2));
                }
                continue;
            }
        }
    }
    let others: Vec<Failure> = failures.iter().filter(|x| matches!(x, Failure::Snapshot { .. })).cloned().collect();
    if !others.is_empty() {
        s.push('\n');
        s.push_str(&describe_failures(&others));
    }
    s.push('\n');
    match &r.verdict {
        Verdict::Pass => s.push_str("verdict: PASS\n"),
        Verdict::Fail { failures } => {
            let _ = writeln!(s, "verdict: FAIL ({})", super::count(failures.len(), "difference"));
        }
        Verdict::Skip { reason } => {
            let _ = writeln!(s, "verdict: SKIP: {reason}");
        }
        Verdict::Error { message } => {
            let text = match xdptest_runner::program::verifier_rejection(message) {
                Some(v) => crate::report::verifier::render(v.headline, v.object, v.log),
                None => message.clone(),
            };
            let _ = writeln!(s, "verdict: ERROR\n{}", indent(&text, 2).trim_end());
        }
    }
    s
}

/// `sessions[2] = { ue_ip: 192.168.100.200, ... }`.
fn map_write(map: &str, key: &[u8], value: &MapValue, info: Option<&ObjectInfo>) -> String {
    let def = info.and_then(|i| i.map(map));
    let kf = def.map(|d| leaf_fields(&d.key)).unwrap_or_default();
    let vf = def.map(|d| leaf_fields(&d.value)).unwrap_or_default();
    let v = match value {
        MapValue::All(v) => key_text(&vf, &v.0),
        MapValue::PerCpu(vs) => {
            format!("per_cpu [{}]", vs.iter().map(|v| key_text(&vf, &v.0)).collect::<Vec<_>>().join(", "))
        }
    };
    format!("{map}[{}] = {v}", key_text(&kf, key))
}
