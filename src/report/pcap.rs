//! `--pcap FILE`: every packet a run sent and every packet the program gave back, in suite order, each
//! with a pcapng comment naming its spec, scenario, `send`, role and the scenario's verdict (with what
//! differed for that `send`), for Wireshark or `tshark -r FILE -T fields -e frame.comment`.

use xdptest_compiler::fixture::action_name;
use xdptest_compiler::pcap::{write_pcapng, PcapPacket};
use xdptest_runner::verdict::Failure;
use xdptest_runner::{ScenarioResult, Verdict};

#[derive(Default)]
pub struct Capture {
    packets: Vec<PcapPacket>,
}

impl Capture {
    pub fn add(&mut self, r: &ScenarioResult) {
        let verdict = match &r.verdict {
            Verdict::Pass => "PASS".to_string(),
            Verdict::Skip { .. } => "SKIP".to_string(),
            Verdict::Error { .. } => "ERROR".to_string(),
            Verdict::Fail { .. } => "FAIL".to_string(),
        };
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
            let verdict = if what.is_empty() { verdict.clone() } else { format!("{verdict} ({})", what.join(", ")) };
            let head = format!("{}::{} · send #{}", r.spec, r.scenario, i + 1);
            self.packets
                .push(PcapPacket { comment: format!("{head} · input · {verdict}"), bytes: run.input.clone() });
            self.packets.push(PcapPacket {
                comment: format!("{head} · output {} · {verdict}", action_name(run.action)),
                bytes: run.output.clone(),
            });
        }
    }

    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        write_pcapng(&self.packets, Vec::new()).map_err(|e| e.to_string())
    }
}
