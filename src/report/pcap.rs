//! `--pcap FILE`: every packet a run sent and every packet the program gave back, in the order results
//! arrive, each with a pcapng comment naming its spec, scenario, `send`, role, the scenario's verdict
//! (with what differed for that `send`) and, for VM runs, the kernel. For Wireshark or
//! `tshark -r FILE -T fields -e frame.comment`.

use std::path::PathBuf;

use xdptest_compiler::fixture::action_name;
use xdptest_compiler::pcap::{write_pcapng, PcapPacket};
use xdptest_runner::verdict::Failure;
use xdptest_runner::{RunEvent, ScenarioResult, Verdict};

use super::{write_atomically, Reporter, RunView, Summary};

pub struct Capture {
    path: PathBuf,
    packets: Vec<PcapPacket>,
}

impl Capture {
    pub fn new(path: PathBuf) -> Capture {
        Capture { path, packets: Vec::new() }
    }

    fn add(&mut self, r: &ScenarioResult, kernel: Option<&str>) {
        let verdict = match &r.verdict {
            Verdict::Pass => "PASS",
            Verdict::Skip { .. } => "SKIP",
            Verdict::Error { .. } => "ERROR",
            Verdict::Fail { .. } => "FAIL",
        };
        let on = kernel.map(|k| format!(" · on {k}")).unwrap_or_default();
        for (i, run) in r.runs.iter().enumerate() {
            // What differed at this `send` (failures name their source location).
            let mut what: Vec<&str> = Vec::new();
            if let Verdict::Fail { failures } = &r.verdict {
                for f in failures {
                    match f {
                        Failure::Action { source, .. } if *source == run.source => what.push("action differs"),
                        Failure::Packet { source, .. } if *source == run.source => what.push("output differs"),
                        _ => {}
                    }
                }
            }
            let verdict =
                if what.is_empty() { verdict.to_string() } else { format!("{verdict} ({})", what.join(", ")) };
            let head = format!("{}::{} · send #{}", r.spec, r.scenario, i + 1);
            self.packets
                .push(PcapPacket { comment: format!("{head} · input · {verdict}{on}"), bytes: run.input.clone() });
            self.packets.push(PcapPacket {
                comment: format!("{head} · output {} · {verdict}{on}", action_name(run.action)),
                bytes: run.output.clone(),
            });
        }
    }
}

impl Reporter for Capture {
    fn event(&mut self, e: &RunEvent, view: &RunView) -> std::io::Result<()> {
        if let RunEvent::Finished { target, result, .. } = e {
            let kernel = view.on_vms().then(|| view.label(*target).to_string());
            self.add(result, kernel.as_deref());
        }
        Ok(())
    }

    fn finish(&mut self, _view: &RunView, _summary: &Summary) -> Result<(), String> {
        let bytes = write_pcapng(&self.packets, Vec::new())
            .map_err(|e| format!("cannot encode the capture {}: {e}", self.path.display()))?;
        write_atomically(&self.path, &bytes)
            .map_err(|e| format!("cannot write the capture {}: {e}", self.path.display()))
    }
}
