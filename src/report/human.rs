//! The terminal reporter: one line per scenario, and for failures everything needed to see the problem at
//! once: every mismatching field by layer, then an annotated hexdump; map differences field by field.

use std::fmt::Write as _;
use std::io::Write;

use xdptest_compiler::fixture::action_name;
use xdptest_runner::verdict::{Failure, FieldDiff, MapDiff, PacketDiff};
use xdptest_runner::{ScenarioResult, Verdict};

use super::Tally;

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy, Default)]
pub struct Palette {
    pub enabled: bool,
}

impl Palette {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// The terminal reporter's state: errors that repeat (a program that cannot load fails every scenario
/// the same way) are printed in full once.
#[derive(Debug, Default)]
pub struct Human {
    pub palette: Palette,
    last_error: Option<String>,
}

impl Human {
    pub fn new(palette: Palette) -> Self {
        Human { palette, last_error: None }
    }

    pub fn write_result(&mut self, out: &mut impl Write, r: &ScenarioResult) -> std::io::Result<()> {
        if let Verdict::Error { message } = &r.verdict {
            let p = self.palette;
            if self.last_error.as_deref() == Some(message) {
                return writeln!(
                    out,
                    "{} {}::{} {}",
                    p.red(" ERROR"),
                    r.spec,
                    r.scenario,
                    p.dim("(the same error as above)")
                );
            }
            self.last_error = Some(message.clone());
        }
        write_result(out, r, self.palette)
    }
}

pub fn write_result(out: &mut impl Write, r: &ScenarioResult, p: Palette) -> std::io::Result<()> {
    let name = format!("{}::{}", r.spec, r.scenario);
    let time = p.dim(&format!("({} µs)", r.duration.as_micros()));
    match &r.verdict {
        Verdict::Pass => writeln!(out, "{} {name} {time}", p.green("  PASS")),
        Verdict::Skip { reason } => writeln!(out, "{} {name}: {reason}", p.yellow("  SKIP")),
        Verdict::Error { message } => {
            writeln!(out, "{} {name}", p.red(" ERROR"))?;
            // A verifier rejection points at the C line it stopped at.
            let text = match xdptest_runner::program::verifier_rejection(message) {
                Some(v) => super::verifier::render(v.headline, v.object, v.log),
                None => message.clone(),
            };
            for l in text.lines().map(str::trim_end) {
                if l.is_empty() {
                    writeln!(out)?;
                } else {
                    writeln!(out, "        {l}")?;
                }
            }
            Ok(())
        }
        Verdict::Fail { failures } => {
            writeln!(out, "{} {}", p.red("  FAIL"), p.bold(&name))?;
            for l in render_failures(failures, p).lines() {
                writeln!(out, "        {l}")?;
            }
            // What the program printed: often the quickest way to see why.
            for (i, run) in r.runs.iter().enumerate() {
                if let Some(e) = &run.printk_error {
                    writeln!(out, "        send #{} ({}): bpf_printk output not captured: {e}", i + 1, run.source)?;
                } else if !run.printk.is_empty() {
                    writeln!(out, "        send #{} ({}) printed:", i + 1, run.source)?;
                    for l in &run.printk {
                        writeln!(out, "          {}", p.dim(l))?;
                    }
                }
            }
            Ok(())
        }
    }
}

/// A line under a scenario's result (snapshot notes).
pub fn write_note(out: &mut impl Write, note: &str, p: Palette) -> std::io::Result<()> {
    writeln!(out, "        {}", p.yellow(note))
}

/// The closing line. Its shape (`N passed, N failed, N skipped`) is what CI systems look for.
pub fn write_summary(out: &mut impl Write, t: Tally, p: Palette) -> std::io::Result<()> {
    let line = format!("xdptest: {} passed, {} failed, {} skipped", t.passed, t.failed + t.errors, t.skipped);
    let colored = if t.failed + t.errors > 0 { p.red(&line) } else { p.green(&line) };
    writeln!(out, "{colored}")?;
    if t.errors > 0 {
        writeln!(out, "{}", p.red(&format!("({} of the failures are errors: the scenario could not run)", t.errors)))?;
    }
    Ok(())
}

/// Plain-text failure description (JUnit bodies use it too).
pub fn describe_failures(failures: &[Failure]) -> String {
    render_failures(failures, Palette { enabled: false })
}

fn render_failures(failures: &[Failure], p: Palette) -> String {
    let mut s = String::new();
    for f in failures {
        match f {
            Failure::Action { source, expected, got } => {
                let _ = writeln!(
                    s,
                    "{source}: action: expected {}, got {}",
                    p.green(&action_name(*expected)),
                    p.red(&action_name(*got))
                );
            }
            Failure::Packet { source, diff } => {
                let _ = writeln!(s, "{source}: the output packet differs:");
                s.push_str(&render_packet_diff(diff, p));
            }
            Failure::Snapshot { snapshot, pending, missing, diff } => {
                if *missing {
                    let _ = writeln!(s, "snapshot {snapshot}: none accepted yet (in CI a missing snapshot fails)");
                } else {
                    let _ = writeln!(s, "snapshot {snapshot}: the report differs (- accepted, + now):");
                }
                for l in diff.lines() {
                    let _ = match l.as_bytes().first() {
                        Some(b'-') => writeln!(s, "    {}", p.green(l)),
                        Some(b'+') => writeln!(s, "    {}", p.red(l)),
                        _ => writeln!(s, "    {}", p.dim(l)),
                    };
                }
                let _ = writeln!(
                    s,
                    "    the new report is in {pending}: accept it with `xdptest review` (or `cargo insta review`) if the change is intended"
                );
            }
            Failure::Map { source, entry, diff } => {
                let what = entry;
                match diff {
                    MapDiff::Missing => {
                        let _ = writeln!(s, "{source}: map {what}: expected an entry, there is none");
                    }
                    MapDiff::Present { value } => {
                        let _ = writeln!(s, "{source}: map {what}: expected no entry, found {value}");
                    }
                    MapDiff::CpuCount { expected, got } => {
                        let _ = writeln!(
                            s,
                            "{source}: map {what}: the spec gives values for {expected} CPUs, this machine has {got}"
                        );
                    }
                    MapDiff::Fields { cpu, fields } => {
                        let on = cpu.map(|c| format!(" on CPU {c}")).unwrap_or_default();
                        let _ = writeln!(s, "{source}: map {what}{on} differs:");
                        for fd in fields {
                            let name = if fd.field.is_empty() { "value".to_string() } else { fd.field.clone() };
                            let _ =
                                writeln!(s, "    {name}: expected {}, got {}", p.green(&fd.expected), p.red(&fd.got));
                        }
                    }
                }
            }
        }
    }
    s
}

fn field_line(fd: &FieldDiff, p: Palette) -> String {
    format!("    {}.{}: expected {}, got {}", fd.layer, fd.field, p.green(&fd.expected), p.red(&fd.got))
}

fn render_packet_diff(d: &PacketDiff, p: Palette) -> String {
    let mut s = String::new();
    for fd in &d.fields {
        let _ = writeln!(s, "{}", field_line(fd, p));
    }
    for n in &d.notes {
        let _ = writeln!(s, "    {n}");
    }
    let _ = writeln!(s, "    expected (.. = any value) and got, differing bytes marked ^^:");
    s.push_str(&hexdump(&d.expected, &d.mask, &d.got, p));
    s
}

/// Two hexdumps interleaved per 16-byte row, with a marker row under bytes that differ.
pub fn hexdump(expected: &[u8], mask: &[u8], got: &[u8], p: Palette) -> String {
    let mut s = String::new();
    let len = expected.len().max(got.len());
    for row in (0..len).step_by(16) {
        let (mut e, mut g, mut m) = (String::new(), String::new(), String::new());
        let mut any = false;
        for i in row..(row + 16).min(len) {
            let sep = if i % 16 == 8 { "  " } else { " " };
            let ex = expected.get(i).copied();
            let mk = mask.get(i).copied().unwrap_or(0xff);
            let gt = got.get(i).copied();
            let differs = match (ex, gt) {
                (Some(a), Some(b)) => a & mk != b & mk,
                _ => true,
            };
            any |= differs;
            e += sep;
            e += &match ex {
                Some(_) if mk == 0 => "..".to_string(),
                Some(b) => format!("{b:02x}"),
                None => "  ".to_string(),
            };
            g += sep;
            let gs = gt.map(|b| format!("{b:02x}")).unwrap_or_else(|| "  ".into());
            g += &if differs { p.red(&gs) } else { gs };
            m += sep;
            m += if differs { "^^" } else { "  " };
        }
        let _ = writeln!(s, "      {row:04x} exp{e}");
        let _ = writeln!(s, "      {row:04x} got{g}");
        if any {
            let _ = writeln!(s, "              {}", p.red(m.trim_end()));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_marks_only_masked_differences() {
        // Byte 1 is a wildcard (not marked although it differs), byte 2 differs.
        let out = hexdump(&[1, 2, 3], &[0xff, 0, 0xff], &[1, 9, 4], Palette { enabled: false });
        assert_eq!(out, "      0000 exp 01 .. 03\n      0000 got 01 09 04\n                     ^^\n");
    }
}
