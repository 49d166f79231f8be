//! The story of one scenario, as `xdptest explain` tells it: the map entries written before it, then per
//! `send` the input packet layer by layer, the action and the output packet (against what the spec
//! expects), the map entries the program changed and the lines it printed; then the map checks and the
//! verdict.

use std::fmt::Write as _;

use xdptest_compiler::fixture::{
    action_name, EntryPart, Fixture, IfaceSlot, MapValue, Program, ShownAs, Step, ValueField,
};
use xdptest_compiler::mapvalue::with_hints;
use xdptest_runner::verdict::Failure;
use xdptest_runner::{ScenarioResult, Verdict};

use super::human::{describe_failures, error_text};
use super::scenario::{hexdump, indent, key_text, layers, map_change};
use crate::outcome::count;

/// The text `explain` prints.
pub fn story(f: &Fixture, r: &ScenarioResult) -> String {
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
    let mut teller = Teller { s, f, r, failures, sends: 0, writes_shown: false, last_was_check: false };
    for step in &f.steps {
        teller.step(step);
    }
    teller.verdict()
}

/// The story so far, and where it is.
struct Teller<'a> {
    s: String,
    f: &'a Fixture,
    r: &'a ScenarioResult,
    failures: &'a [Failure],
    /// Sends told so far.
    sends: usize,
    /// The "map entries written" heading is out for the current run of writes.
    writes_shown: bool,
    last_was_check: bool,
}

impl Teller<'_> {
    fn step(&mut self, step: &Step) {
        if !matches!(step, Step::CheckMap { .. }) {
            self.last_was_check = false;
        }
        match step {
            Step::SetMap { map, key, value, ifaces, shown, .. } => {
                if !self.writes_shown {
                    self.s.push_str(if self.sends == 0 {
                        "\nmap entries written first\n"
                    } else {
                        "\nmap entries written\n"
                    });
                    self.writes_shown = true;
                }
                let _ = writeln!(self.s, "  {}", map_write(map, &key.0, value, ifaces, shown, Some(&self.f.program)));
            }
            Step::SetClock { location, .. } | Step::SetRandom { location, .. } => {
                self.writes_shown = false;
                if let Some(text) = step.control_text() {
                    let _ = writeln!(self.s, "\n{text} ({location})");
                }
            }
            Step::Run { expect, source, .. } => {
                self.writes_shown = false;
                self.sends += 1;
                self.send(expect.as_ref(), source);
            }
            Step::CheckMap { entry, source, expected, .. } => {
                self.writes_shown = false;
                self.check(entry, source, expected.is_some());
            }
            Step::CheckEvent { map, expected, source } => {
                self.writes_shown = false;
                let what = match (map.is_empty(), expected.is_some()) {
                    (_, true) => format!("check event {map} ({source})"),
                    (true, false) => format!("check no event ({source})"),
                    (false, false) => format!("check no event {map} ({source})"),
                };
                let mine: Vec<Failure> = self
                    .failures
                    .iter()
                    .filter(|x| matches!(x, Failure::Event { source: s, .. } if s == source))
                    .cloned()
                    .collect();
                if !self.s.ends_with("\n\n") && !self.last_was_check {
                    self.s.push('\n');
                }
                self.last_was_check = true;
                if mine.is_empty() {
                    let _ = writeln!(self.s, "{what}: as expected");
                } else {
                    let _ = writeln!(self.s, "{what}: differs");
                    self.s.push_str(&indent(&describe_failures(&mine), 2));
                }
            }
        }
    }

    /// One `send`: the input, the action, the output against the expectation, map changes, printk.
    fn send(&mut self, expect: Option<&xdptest_compiler::fixture::Expectation>, source: &str) {
        let s = &mut self.s;
        let _ = writeln!(s, "\nsend #{} ({source})", self.sends);
        let Some(run) = self.r.runs.get(self.sends - 1) else {
            s.push_str("  not run (the scenario stopped before it)\n");
            return;
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
        let mine: Vec<Failure> = self
            .failures
            .iter()
            .filter(|x| {
                matches!(x, Failure::Action { source: s, .. } | Failure::Packet { source: s, .. }
                    | Failure::Redirect { source: s, .. } | Failure::Meta { source: s, .. } if s == source)
            })
            .cloned()
            .collect();
        match expect.and_then(|e| e.packet.as_ref()) {
            _ if !mine.is_empty() => {
                s.push_str("  differs from the spec:\n");
                s.push_str(&indent(&describe_failures(&mine), 4));
            }
            Some(_) => s.push_str("  the output matches the expected packet\n"),
            None => s.push_str("  the output packet is not checked\n"),
        }
        if !run.meta.is_empty() {
            let _ = writeln!(s, "  metadata: {} bytes: {}", run.meta.len(), xdptest_compiler::fixture::hex(&run.meta));
        }
        if let Some(r) = &run.redirect {
            let _ = writeln!(s, "  redirected to {r}");
        }
        if !run.events.is_empty() {
            s.push_str(
                "  events emitted
",
            );
            for e in &run.events {
                let _ =
                    writeln!(s, "    {}: {} bytes: {}", e.map, e.bytes.len(), xdptest_compiler::fixture::hex(&e.bytes));
            }
        }
        match &run.maps {
            Some(changes) if !changes.is_empty() => {
                s.push_str("  maps changed by the program\n");
                for c in changes {
                    s.push_str(&indent(&map_change(c, Some(&self.f.program)), 4));
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

    /// One `expect map`: as expected, or what differs.
    fn check(&mut self, entry: &str, source: &str, present: bool) {
        let what = if present { "as expected" } else { "absent, as expected" };
        let mine: Vec<Failure> = self
            .failures
            .iter()
            .filter(|x| matches!(x, Failure::Map { source: s, .. } if s == source))
            .cloned()
            .collect();
        if !self.s.ends_with("\n\n") && !self.last_was_check {
            self.s.push('\n');
        }
        self.last_was_check = true;
        if mine.is_empty() {
            if self.sends <= self.r.runs.len() && !matches!(self.r.verdict, Verdict::Error { .. }) {
                let _ = writeln!(self.s, "check map {entry} ({source}): {what}");
            }
        } else {
            let _ = writeln!(self.s, "check map {entry} ({source}): differs");
            self.s.push_str(&indent(&describe_failures(&mine), 2));
        }
    }

    /// Snapshot differences, then the verdict.
    fn verdict(mut self) -> String {
        let s = &mut self.s;
        let others: Vec<Failure> =
            self.failures.iter().filter(|x| matches!(x, Failure::Snapshot { .. })).cloned().collect();
        if !others.is_empty() {
            s.push('\n');
            s.push_str(&describe_failures(&others));
        }
        s.push('\n');
        // Styled: the terminal stream keeps or strips the colours (`--color`).
        let p = super::human::Palette::on();
        match &self.r.verdict {
            Verdict::Pass => {
                let _ = writeln!(s, "verdict: {}", p.green("PASS"));
            }
            Verdict::Fail { failures } => {
                let _ = writeln!(s, "verdict: {} ({})", p.red("FAIL"), count(failures.len(), "difference"));
            }
            Verdict::Skip { reason } => {
                let _ = writeln!(s, "verdict: {}: {reason}", p.yellow("SKIP"));
            }
            Verdict::Error { error } => {
                let text = error_text(error, Some(&self.f.program));
                let _ = writeln!(s, "verdict: {}\n{}", p.red("ERROR"), indent(&text, 2).trim_end());
            }
        }
        self.s
    }
}

/// `sessions[2] = { ue_ip: 192.168.100.200, ... }`, interface names where the spec wrote them.
pub fn map_write(
    map: &str,
    key: &[u8],
    value: &MapValue,
    ifaces: &[IfaceSlot],
    shown: &[ShownAs],
    info: Option<&Program>,
) -> String {
    let def = info.and_then(|i| i.map(map));
    // Each part's fields, shown the way the spec wrote them.
    let fields = |part: EntryPart, of: Option<&Vec<ValueField>>| {
        let hints: Vec<_> = shown.iter().filter(|s| s.part == part).map(|s| (s.offset, s.size, s.repr)).collect();
        with_hints(of.cloned().unwrap_or_default(), &hints)
    };
    let kf = fields(EntryPart::Key, def.map(|d| &d.key));
    let vf = fields(EntryPart::Value, def.map(|d| &d.value));
    let v = match value {
        MapValue::All(v) => entry_text(&vf, &v.0, EntryPart::Value, ifaces),
        MapValue::Patch { offset, bytes } => format!("bytes {offset}.. = {}", xdptest_compiler::fixture::hex(&bytes.0)),
        MapValue::Program(p) => format!("program {p}"),
        MapValue::Map(m) => format!("map {m}"),
        MapValue::Xsk { iface, queue: 0 } => format!("xsk {iface}"),
        MapValue::Xsk { iface, queue } => format!("xsk {iface} queue {queue}"),
        MapValue::PerCpu(vs) => format!(
            "per_cpu [{}]",
            vs.iter()
                .enumerate()
                .map(|(cpu, v)| {
                    let part = EntryPart::CpuValue(cpu as u32);
                    entry_text(&fields(part, def.map(|d| &d.value)), &v.0, part, ifaces)
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("{map}[{}] = {v}", entry_text(&kf, key, EntryPart::Key, ifaces))
}

/// A key or value as the spec wrote it; interface slots show the interface's name.
fn entry_text(fields: &[ValueField], bytes: &[u8], part: EntryPart, ifaces: &[IfaceSlot]) -> String {
    let slot = |f: &ValueField| ifaces.iter().find(|s| s.part == part && s.offset == f.offset && s.size == f.size);
    let show = |f: &ValueField| slot(f).map(|s| s.iface.clone()).unwrap_or_else(|| f.show_in(bytes));
    match fields {
        [] => key_text(fields, bytes),
        [one] if one.name.is_empty() => show(one),
        many => {
            let parts: Vec<String> = many.iter().map(|f| format!("{}: {}", f.name, show(f))).collect();
            format!("{{ {} }}", parts.join(", "))
        }
    }
}
