//! The terminal reporter: one line per scenario, and for failures everything needed to see the problem at
//! once: every mismatching field by layer, then an annotated hexdump; map differences field by field;
//! errors located (a verifier rejection at its C line). VM results carry their kernel. Colours are
//! always written and the output stream (`anstream`) drops them where they do not belong (`--color`,
//! `NO_COLOR`, `CLICOLOR_FORCE`, not a terminal).

use std::fmt::Write as _;
use std::io::Write;

use anstyle::{AnsiColor, Effects, Style};
use xdptest_compiler::fixture::action_name;
use xdptest_runner::verdict::{EventDiff, Failure, FieldDiff, MapDiff, PacketDiff};
use xdptest_runner::{RunError, RunEvent, ScenarioResult, Verdict};

use super::{Reporter, RunView, Summary, Tally};
use crate::outcome::count;

/// Styles for text, or none (for text that ends up in files: JUnit bodies, reports).
#[derive(Debug, Clone, Copy, Default)]
pub struct Palette {
    pub enabled: bool,
}

impl Palette {
    /// Styled text: what the terminal stream passes on or strips.
    pub fn on() -> Palette {
        Palette { enabled: true }
    }

    fn paint(&self, style: Style, s: &str) -> String {
        if self.enabled {
            format!("{}{s}{}", style.render(), style.render_reset())
        } else {
            s.to_string()
        }
    }
    pub fn green(&self, s: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint(AnsiColor::Red.on_default(), s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default(), s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(Style::new().effects(Effects::BOLD), s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint(Style::new().effects(Effects::DIMMED), s)
    }
}

/// What the terminal reporter prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every scenario, details for failures, the summary.
    Full,
    /// As `Full`, and for passing scenarios what they printed with `bpf_printk` (`-v`).
    Verbose,
    /// Failures (and notes about them) and the summary only (`-q`).
    Quiet,
    /// The summary only (the results go elsewhere, e.g. JSON on standard output).
    SummaryOnly,
}

/// The terminal reporter's state: errors that repeat (a program that cannot load fails every scenario
/// the same way) are printed in full once.
pub struct Human {
    out: Box<dyn Write>,
    palette: Palette,
    detail: Detail,
    last_error: Option<RunError>,
    /// Where each scenario's page section is, for the end-of-run list of failures.
    book_links: super::BookLinks,
}

impl Human {
    pub fn new(out: Box<dyn Write>, palette: Palette, detail: Detail) -> Human {
        Human { out, palette, detail, last_error: None, book_links: Default::default() }
    }

    /// Failed scenarios are listed with their section in the scenario pages (`see book: …`).
    pub fn with_book_links(mut self, links: super::BookLinks) -> Human {
        self.book_links = links;
        self
    }
}

impl Reporter for Human {
    fn event(&mut self, e: &RunEvent, view: &RunView) -> std::io::Result<()> {
        let p = self.palette;
        match e {
            RunEvent::Finished { result, .. }
                if self.detail == Detail::Quiet && matches!(result.verdict, Verdict::Pass | Verdict::Skip { .. }) =>
            {
                Ok(())
            }
            RunEvent::Finished { target, index, result } if self.detail != Detail::SummaryOnly => {
                let prefix = if view.on_vms() { format!("[{}] ", view.label(*target)) } else { String::new() };
                if let Verdict::Error { error } = &result.verdict {
                    if self.last_error.as_ref() == Some(error) {
                        return writeln!(
                            self.out,
                            "{} {prefix}{}::{} {}",
                            p.red(" ERROR"),
                            result.spec,
                            result.scenario,
                            p.dim("(the same error as above)")
                        );
                    }
                    self.last_error = Some(error.clone());
                }
                let program = view.fixtures.get(*index).map(|f| &*f.program);
                write_result(&mut self.out, result, &prefix, program, p)?;
                if self.detail == Detail::Verbose && matches!(result.verdict, Verdict::Pass) {
                    write_printk(&mut self.out, result, p)?;
                }
                Ok(())
            }
            RunEvent::Note { target, text } if matches!(self.detail, Detail::Full | Detail::Verbose) => {
                let prefix = if view.on_vms() { format!("[{}] ", view.label(*target)) } else { String::new() };
                writeln!(self.out, "        {}", p.yellow(&format!("{prefix}{text}")))
            }
            RunEvent::TargetDone { target, shard, failure: Some(f), .. } => {
                writeln!(
                    self.out,
                    "{}",
                    p.red(&format!("VM on {} (shard {}) failed: {}", view.label(*target), shard + 1, f.failure))
                )?;
                if !f.console.trim().is_empty() {
                    writeln!(self.out, "        console (last 40 lines):")?;
                    for l in xdptest_vm::qemu::console_tail(&f.console, 40).lines() {
                        writeln!(self.out, "          {l}")?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn finish(&mut self, view: &RunView, summary: &Summary) -> Result<(), String> {
        super::unless_closed(
            write_summary(&mut self.out, view, summary, self.palette, &self.book_links).and_then(|()| self.out.flush()),
        )
    }
}

/// One scenario: a line, and for failures and errors what went wrong. `program` lets a verifier
/// rejection be located in the C source.
pub fn write_result(
    out: &mut dyn Write,
    r: &ScenarioResult,
    prefix: &str,
    program: Option<&xdptest_compiler::fixture::Program>,
    p: Palette,
) -> std::io::Result<()> {
    let name = format!("{prefix}{}::{}", r.spec, r.scenario);
    let time = p.dim(&format!("({} µs)", r.duration.as_micros()));
    match &r.verdict {
        Verdict::Pass => writeln!(out, "{} {name} {time}", p.green("  PASS")),
        Verdict::Skip { reason } => writeln!(out, "{} {name}: {reason}", p.yellow("  SKIP")),
        Verdict::Error { error } => {
            writeln!(out, "{} {name}", p.red(" ERROR"))?;
            for l in error_text(error, program).lines().map(str::trim_end) {
                if l.is_empty() {
                    writeln!(out)?;
                } else {
                    writeln!(out, "        {l}")?;
                }
            }
            Ok(())
        }
        Verdict::Fail { failures } => {
            writeln!(out, "{} {} {time}", p.red("  FAIL"), p.bold(&name))?;
            for l in render_failures(failures, p).lines() {
                writeln!(out, "        {l}")?;
            }
            // What the program printed: often the quickest way to see why.
            write_printk(out, r, p)
        }
    }
}

/// An error as text: a verifier rejection located in the C source, anything else as its sentence.
pub fn error_text(error: &RunError, program: Option<&xdptest_compiler::fixture::Program>) -> String {
    match error {
        RunError::Verifier { .. } => super::verifier::render(error, program),
        // Problems with the object are the `program` line's: say where it is.
        other => match other.object_location() {
            Some((_, location)) if !location.is_empty() => format!("{location}: {other}"),
            _ => other.to_string(),
        },
    }
}

/// The closing lines. Their shape (`N passed, N failed, N skipped`) is what CI systems look for.
/// What each send of `r` printed with `bpf_printk`, under the scenario's line.
fn write_printk(out: &mut dyn Write, r: &ScenarioResult, p: Palette) -> std::io::Result<()> {
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

/// Failed scenarios listed at most, and rerun by one command at most.
const FAILED_SHOWN: usize = 50;
const RERUN_AT_MOST: usize = 20;

/// The scenarios that failed or could not run, once more at the end where a reader looks (with their
/// kernel on VM runs), and the command that reruns exactly them.
fn write_failed(
    out: &mut dyn Write,
    view: &RunView,
    s: &Summary,
    p: Palette,
    links: &super::BookLinks,
) -> std::io::Result<()> {
    if s.failed.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{}", p.red(&format!("failed ({}):", s.failed.len())))?;
    let (mut specs, mut names, mut kernels): (Vec<&str>, Vec<String>, Vec<&str>) = Default::default();
    for (n, &(target, index)) in s.failed.iter().enumerate() {
        let Some(f) = view.fixtures.get(index) else { continue };
        let name = format!("{}::{}", f.spec, f.scenario);
        if n < FAILED_SHOWN {
            let on = if view.on_vms() { format!(" [{}]", view.label(target)) } else { String::new() };
            writeln!(out, "  {name}{on}")?;
            if let Some(link) = links.get(&(f.spec.clone(), f.scenario.clone())) {
                writeln!(out, "    see book: {link}")?;
            }
        }
        if !specs.contains(&f.spec.as_str()) {
            specs.push(&f.spec);
        }
        if view.on_vms() && !kernels.contains(&view.label(target)) {
            kernels.push(view.label(target));
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if s.failed.len() > FAILED_SHOWN {
        writeln!(out, "  … and {} more", s.failed.len() - FAILED_SHOWN)?;
    }
    if names.len() <= RERUN_AT_MOST {
        let mut cmd = String::from("xdptest run");
        for spec in &specs {
            cmd.push(' ');
            cmd.push_str(&shell_word(spec));
        }
        for k in &kernels {
            cmd.push_str(" --kernel ");
            cmd.push_str(&shell_word(k));
        }
        cmd.push_str(" --exact");
        for name in &names {
            cmd.push_str(" -f ");
            cmd.push_str(&shell_word(name));
        }
        writeln!(out, "rerun them: {cmd}")?;
    }
    Ok(())
}

/// `word` as one shell word: as it is when it needs no quoting, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

pub fn write_summary(
    out: &mut dyn Write,
    view: &RunView,
    s: &Summary,
    p: Palette,
    links: &super::BookLinks,
) -> std::io::Result<()> {
    if view.on_vms() {
        for (target, t) in view.targets.iter().zip(&s.per_target) {
            let line = format!(
                "{} ({}, {}): {}",
                target.label,
                target.release,
                target.accel.as_deref().unwrap_or("host"),
                tally_words(t)
            );
            writeln!(out, "{}", if t.failed + t.errors > 0 { p.red(&line) } else { p.green(&line) })?;
        }
    }
    write_failed(out, view, s, p, links)?;
    if let Some(n) = s.max_fail_reached {
        let line = format!(
            "stopped at --max-fail {n} (scenarios already under way finished): {} not run",
            count(s.not_run, "scenario")
        );
        writeln!(out, "{}", p.yellow(&line))?;
    } else if s.cancelled {
        writeln!(out, "{}", p.yellow(&format!("interrupted: {} not run", count(s.not_run, "scenario"))))?;
    }
    let t = s.total;
    let line = format!("xdptest: {}", tally_words(&t));
    writeln!(out, "{}", if t.failed + t.errors > 0 { p.red(&line) } else { p.green(&line) })?;
    if t.errors > 0 {
        writeln!(out, "{}", p.red(&format!("({} of the failures are errors: the scenario could not run)", t.errors)))?;
    }
    Ok(())
}

fn tally_words(t: &Tally) -> String {
    format!("{} passed, {} failed, {} skipped", t.passed, t.failed + t.errors, t.skipped)
}

/// Plain-text failure description (JUnit bodies use it too).
pub fn describe_failures(failures: &[Failure]) -> String {
    render_failures(failures, Palette { enabled: false })
}

/// One line naming what failed first, for JUnit messages and CI annotations.
pub fn headline(failures: &[Failure]) -> String {
    let Some(f) = failures.first() else { return "failed".into() };
    match f {
        Failure::Action { source, expected, got } => {
            format!("{source}: action: expected {}, got {}", action_name(*expected), action_name(*got))
        }
        Failure::Packet { source, diff } => match diff.fields.first() {
            Some(fd) => format!("{source}: {}.{}: expected {}, got {}", fd.layer, fd.field, fd.expected, fd.got),
            None => format!("{source}: the output packet differs: {}", diff.notes.join("; ")),
        },
        Failure::Map { source, entry, diff } => match diff {
            MapDiff::Fields { fields, .. } if !fields.is_empty() => {
                let fd = &fields[0];
                let name = if fd.field.is_empty() { String::new() } else { format!(".{}", fd.field) };
                format!("{source}: map {entry}{name}: expected {}, got {}", fd.expected, fd.got)
            }
            MapDiff::Missing => format!("{source}: map {entry}: expected an entry, there is none"),
            MapDiff::Present { value } => format!("{source}: map {entry}: expected no entry, found {value}"),
            _ => format!("{source}: map {entry} differs"),
        },
        Failure::Event { source, map, diff } => format!("{source}: {}", event_headline(map, diff)),
        Failure::Redirect { source, expected, got } => {
            format!("{source}: redirect target: expected {expected}, got {got}")
        }
        Failure::Meta { source, fields, .. } => match fields.first() {
            Some(fd) => format!("{source}: metadata {}: expected {}, got {}", fd.field, fd.expected, fd.got),
            None => format!("{source}: the metadata differs"),
        },
        Failure::Snapshot { snapshot, missing: true, .. } => format!("snapshot {snapshot}: none accepted yet"),
        Failure::Snapshot { snapshot, .. } => format!("snapshot {snapshot}: the report differs"),
    }
}

/// `events`, or `any event map` for `expect no event` without a map.
fn event_map_name(map: &str) -> String {
    if map.is_empty() {
        "any event map".into()
    } else {
        format!("event map {map}")
    }
}

fn event_headline(map: &str, diff: &EventDiff) -> String {
    let on = event_map_name(map);
    match diff {
        EventDiff::Missing => format!("{on}: expected a record, there is none"),
        EventDiff::Unexpected { records } => {
            format!(
                "{on}: expected no record, found {} ({})",
                records.len(),
                records.first().cloned().unwrap_or_default()
            )
        }
        EventDiff::Fields { fields } => match fields.first() {
            Some(fd) => format!("{on}: {}: expected {}, got {}", fd.field, fd.expected, fd.got),
            None => format!("{on}: the record differs"),
        },
    }
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
            Failure::Map { source, entry, diff } => render_map_diff(&mut s, source, entry, diff, p),
            Failure::Event { source, map, diff } => match diff {
                EventDiff::Fields { fields } => {
                    let _ = writeln!(s, "{source}: the next record of {} differs:", event_map_name(map));
                    for fd in fields {
                        let _ =
                            writeln!(s, "    {}: expected {}, got {}", fd.field, p.green(&fd.expected), p.red(&fd.got));
                    }
                }
                EventDiff::Unexpected { records } => {
                    let _ =
                        writeln!(s, "{source}: {}: expected no record, found {}:", event_map_name(map), records.len());
                    for r in records {
                        let _ = writeln!(s, "    {}", p.red(r));
                    }
                }
                EventDiff::Missing => {
                    let _ = writeln!(s, "{source}: {}", event_headline(map, diff));
                }
            },
            Failure::Redirect { source, expected, got } => {
                let _ = writeln!(s, "{source}: redirect target: expected {}, got {}", p.green(expected), p.red(got));
            }
            Failure::Meta { source, fields, .. } => {
                let _ = writeln!(s, "{source}: the metadata differs:");
                for fd in fields {
                    let _ = writeln!(s, "    {}: expected {}, got {}", fd.field, p.green(&fd.expected), p.red(&fd.got));
                }
            }
        }
    }
    s
}

fn render_map_diff(s: &mut String, source: &str, what: &str, diff: &MapDiff, p: Palette) {
    match diff {
        MapDiff::Missing => {
            let _ = writeln!(s, "{source}: map {what}: expected an entry, there is none");
        }
        MapDiff::Present { value } => {
            let _ = writeln!(s, "{source}: map {what}: expected no entry, found {value}");
        }
        MapDiff::CpuCount { expected, got } => {
            let _ =
                writeln!(s, "{source}: map {what}: the spec gives values for {expected} CPUs, this machine has {got}");
        }
        MapDiff::Fields { cpu, fields } => {
            let on = cpu.map(|c| format!(" on CPU {c}")).unwrap_or_default();
            let _ = writeln!(s, "{source}: map {what}{on} differs:");
            for fd in fields {
                let name = if fd.field.is_empty() { "value".to_string() } else { fd.field.clone() };
                let _ = writeln!(s, "    {name}: expected {}, got {}", p.green(&fd.expected), p.red(&fd.got));
            }
        }
    }
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
