//! `--format json`: JSON Lines, one record per line, version [`VERSION`] of the contract described by
//! `book/src/reference/run.schema.json` (a closed JSON Schema the tests validate real output against).
//! Records, each with `type` and `version`: `run` (first), `scenario` (one per scenario and target, as
//! they finish), `note`, `vm_failed`, and `summary` (last). Durations are in microseconds
//! (`duration_us`); actions are given as numbers and names.

use std::io::Write;

use serde::Serialize;
use xdptest_compiler::fixture::{action_name, hex};
use xdptest_runner::error::VmFailure;
use xdptest_runner::verdict::{Failure, FieldDiff, MapChange, MapDiff, RunRecord};
use xdptest_runner::{RunError, RunEvent, ScenarioResult, SkipReason, Verdict};

use super::{Reporter, RunView, Summary};

/// The version of the JSON Lines contract. Bumped when a record changes in a way a reader could notice.
pub const VERSION: u32 = 1;

/// A line: its type, the contract's version, and the record.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    version: u32,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize)]
struct RunJson<'a> {
    scenarios: usize,
    targets: Vec<TargetJson<'a>>,
}

#[derive(Serialize)]
struct TargetJson<'a> {
    label: &'a str,
    release: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    accel: Option<&'a str>,
    vm: bool,
}

#[derive(Serialize)]
struct ScenarioJson<'a> {
    target: &'a str,
    spec: &'a str,
    scenario: &'a str,
    location: &'a str,
    status: &'static str,
    duration_us: u64,
    runs: Vec<SendJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failures: Vec<FailureJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RunError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip: Option<&'a SkipReason>,
}

#[derive(Serialize)]
struct SendJson<'a> {
    source: &'a str,
    input: String,
    action: u32,
    action_name: String,
    output: String,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    printk: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    printk_error: Option<&'a xdptest_runner::error::PrintkError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maps: Option<Vec<MapChangeJson<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<String>,
    #[serde(skip_serializing_if = "<[xdptest_runner::verdict::EventRecord]>::is_empty")]
    events: &'a [xdptest_runner::verdict::EventRecord],
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect: Option<&'a str>,
}

#[derive(Serialize)]
struct MapChangeJson<'a> {
    map: &'a str,
    key: String,
    /// One value per CPU for per-CPU maps; absent: no entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FailureJson<'a> {
    Action {
        source: &'a str,
        expected: u32,
        expected_name: String,
        got: u32,
        got_name: String,
    },
    Packet {
        source: &'a str,
        fields: &'a [FieldDiff],
        notes: &'a [String],
        expected: String,
        mask: String,
        got: String,
    },
    Map {
        source: &'a str,
        entry: &'a str,
        diff: &'a MapDiff,
    },
    Snapshot {
        snapshot: &'a str,
        pending: &'a str,
        missing: bool,
        diff: &'a str,
    },
    Event {
        source: &'a str,
        map: &'a str,
        diff: &'a xdptest_runner::verdict::EventDiff,
    },
    Redirect {
        source: &'a str,
        expected: &'a str,
        got: &'a str,
    },
    Meta {
        source: &'a str,
        fields: &'a [FieldDiff],
        expected: String,
        got: String,
    },
}

#[derive(Serialize)]
struct NoteJson<'a> {
    target: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct VmFailedJson<'a> {
    target: &'a str,
    shard: usize,
    failure: &'a VmFailure,
    console_tail: String,
}

#[derive(Serialize)]
struct SummaryJson {
    passed: usize,
    failed: usize,
    errors: usize,
    skipped: usize,
    not_run: usize,
    /// Interrupted (Ctrl-C, SIGTERM).
    cancelled: bool,
    /// Stopped by `--fail-fast` / `--max-fail`.
    stopped_at_max_fail: bool,
    duration_us: u64,
    exit_code: u8,
}

/// The JSON Lines reporter.
pub struct Json {
    out: Box<dyn Write>,
}

impl Json {
    pub fn new(out: Box<dyn Write>) -> Json {
        Json { out }
    }

    fn line<T: Serialize>(&mut self, kind: &str, body: T) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, &Line { kind, version: VERSION, body })?;
        self.out.write_all(b"\n")
    }
}

impl Reporter for Json {
    fn event(&mut self, e: &RunEvent, view: &RunView) -> std::io::Result<()> {
        match e {
            RunEvent::Started { scenarios, targets } => {
                let targets = targets
                    .iter()
                    .map(|t| TargetJson { label: &t.label, release: &t.release, accel: t.accel.as_deref(), vm: t.vm })
                    .collect();
                self.line("run", RunJson { scenarios: *scenarios, targets })
            }
            RunEvent::Finished { target, index, result } => {
                let location = view.fixtures.get(*index).map(|f| f.location.as_str()).unwrap_or("");
                let body = scenario(result, view.label(*target), location);
                self.line("scenario", body)
            }
            RunEvent::Note { target, text } => self.line("note", NoteJson { target: view.label(*target), text }),
            RunEvent::TargetDone { target, shard, failure: Some(f), .. } => self.line(
                "vm_failed",
                VmFailedJson {
                    target: view.label(*target),
                    shard: *shard,
                    failure: &f.failure,
                    console_tail: xdptest_vm::qemu::console_tail(&f.console, 40),
                },
            ),
            _ => Ok(()),
        }
    }

    fn finish(&mut self, _view: &RunView, s: &Summary) -> Result<(), String> {
        let body = SummaryJson {
            passed: s.total.passed,
            failed: s.total.failed,
            errors: s.total.errors,
            skipped: s.total.skipped,
            not_run: s.not_run,
            cancelled: s.cancelled && s.max_fail_reached.is_none(),
            stopped_at_max_fail: s.max_fail_reached.is_some(),
            duration_us: s.wall.as_micros() as u64,
            exit_code: s.outcome() as u8,
        };
        super::unless_closed(self.line("summary", body).and_then(|()| self.out.flush()))
    }
}

fn scenario<'a>(r: &'a ScenarioResult, target: &'a str, location: &'a str) -> ScenarioJson<'a> {
    let (status, failures, error, skip) = match &r.verdict {
        Verdict::Pass => ("pass", Vec::new(), None, None),
        Verdict::Fail { failures } => ("fail", failures.iter().map(failure).collect(), None, None),
        Verdict::Error { error } => ("error", Vec::new(), Some(error), None),
        Verdict::Skip { reason } => ("skip", Vec::new(), None, Some(reason)),
    };
    ScenarioJson {
        target,
        spec: &r.spec,
        scenario: &r.scenario,
        location,
        status,
        duration_us: r.duration.as_micros() as u64,
        runs: r.runs.iter().map(send).collect(),
        failures,
        error,
        skip,
    }
}

fn send(run: &RunRecord) -> SendJson<'_> {
    SendJson {
        source: &run.source,
        input: hex(&run.input),
        action: run.action,
        action_name: action_name(run.action),
        output: hex(&run.output),
        printk: &run.printk,
        printk_error: run.printk_error.as_ref(),
        maps: run.maps.as_ref().map(|changes| changes.iter().map(map_change).collect()),
        meta: (!run.meta.is_empty()).then(|| hex(&run.meta)),
        events: &run.events,
        redirect: run.redirect.as_deref(),
    }
}

fn map_change(c: &MapChange) -> MapChangeJson<'_> {
    let values =
        |v: &Option<Vec<xdptest_compiler::fixture::Bytes>>| v.as_ref().map(|v| v.iter().map(|b| hex(&b.0)).collect());
    MapChangeJson { map: &c.map, key: hex(&c.key.0), before: values(&c.before), after: values(&c.after) }
}

fn failure(f: &Failure) -> FailureJson<'_> {
    match f {
        Failure::Action { source, expected, got } => FailureJson::Action {
            source,
            expected: *expected,
            expected_name: action_name(*expected),
            got: *got,
            got_name: action_name(*got),
        },
        Failure::Packet { source, diff } => FailureJson::Packet {
            source,
            fields: &diff.fields,
            notes: &diff.notes,
            expected: hex(&diff.expected),
            mask: hex(&diff.mask),
            got: hex(&diff.got),
        },
        Failure::Map { source, entry, diff } => FailureJson::Map { source, entry, diff },
        Failure::Snapshot { snapshot, pending, missing, diff } => {
            FailureJson::Snapshot { snapshot, pending, missing: *missing, diff }
        }
        Failure::Event { source, map, diff } => FailureJson::Event { source, map, diff },
        Failure::Redirect { source, expected, got } => FailureJson::Redirect { source, expected, got },
        Failure::Meta { source, fields, expected, got } => {
            FailureJson::Meta { source, fields, expected: hex(expected), got: hex(got) }
        }
    }
}
