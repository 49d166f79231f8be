//! `xdptest init OBJECT`: a starter spec for an object: its `program` line, every map with the layout
//! of its keys and values from BTF (as comments showing how to write entries), and one scenario to
//! edit. The spec passes `xdptest check` as written.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use xdptest_compiler::btf::{self, MapDef};

use crate::outcome::Outcome;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The BPF object (clang -target bpf -g).
    pub object: PathBuf,
    /// The XDP program (function name) to test, when the object has several.
    #[arg(long, short = 'p', value_name = "NAME")]
    pub program: Option<String>,
    /// Write the spec to FILE (which must not exist) instead of standard output; the program line is
    /// then relative to FILE's directory.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: InitArgs) -> Outcome {
    let info = match btf::read_object_file(&args.object) {
        Ok(i) => i,
        Err(e) => {
            errln!("error: cannot use {}: {e}", args.object.display());
            return Outcome::Error;
        }
    };
    let xdp: Vec<&btf::ProgramSym> = info.programs.iter().filter(|p| p.class().runs_as_xdp()).collect();
    let names = || xdp.iter().map(|p| format!("{} (SEC(\"{}\"))", p.name, p.section)).collect::<Vec<_>>().join(", ");
    let program = match (&args.program, xdp.as_slice()) {
        (Some(name), _) => match xdp.iter().find(|p| &p.name == name) {
            Some(p) => *p,
            None => {
                errln!("error: {} has no XDP program `{name}`; it has: {}", args.object.display(), names());
                return Outcome::Error;
            }
        },
        (None, [one]) => *one,
        (None, []) => {
            errln!("error: {} has no XDP program", args.object.display());
            return Outcome::Error;
        }
        (None, _) => {
            errln!(
                "error: {} has several XDP programs: {}; choose one with --program NAME",
                args.object.display(),
                names()
            );
            return Outcome::Error;
        }
    };
    let object_line = match &args.out {
        Some(out) => relative_to(&args.object, out.parent().unwrap_or(Path::new(""))),
        None => args.object.display().to_string(),
    };
    let text = starter(&object_line, &program.name, &info.maps);
    match &args.out {
        None => {
            out!("{text}");
            Outcome::Ok
        }
        Some(path) => {
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()));
            match written {
                Ok(()) => {
                    outln!("wrote {} (check it with: xdptest check {})", path.display(), path.display());
                    Outcome::Ok
                }
                Err(e) => {
                    errln!("error: cannot write {}: {e}", path.display());
                    Outcome::Error
                }
            }
        }
    }
}

/// The spec's text.
fn starter(object: &str, program: &str, maps: &[MapDef]) -> String {
    let mut s = format!(
        "# A starter spec for `{program}`, written by `xdptest init`: edit the packets and expectations, then\n\
         # run it with `sudo xdptest run` (the book's language chapter has every construct).\n\
         program \"{object}\" xdp \"{program}\"\n"
    );
    let shown: Vec<&MapDef> = maps.iter().filter(|m| !m.name.starts_with('.')).collect();
    if !shown.is_empty() {
        s.push_str("\n# The program's maps (from its BTF). Seed entries before the scenarios, check them after:\n");
        for m in shown {
            let kind = m.kind();
            s.push_str(&format!("#   {} ({}, {} entries)\n", m.name, kind.name(), m.max_entries));
            if m.key.size() > 0 {
                s.push_str(&format!("#     key:   {}\n", m.key.describe()));
            }
            if m.value.size() > 0 {
                s.push_str(&format!("#     value: {}\n", m.value.describe()));
            }
            let example = if kind.is_per_cpu() { "per_cpu [VALUE, ...]" } else { "VALUE" };
            match kind.name() {
                "queue" | "stack" => s.push_str(&format!("#   map {}[] = {example}\n", m.name)),
                "perf_event_array" | "ringbuf" => {
                    s.push_str(&format!("#   expect event {} == VALUE   (after a send)\n", m.name))
                }
                _ => s.push_str(&format!(
                    "#   map {0}[KEY] = {example}            expect map {0}[KEY] == {example}\n",
                    m.name
                )),
            }
        }
    }
    s.push_str(
        "\npacket udp_packet = ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01)\n\
         \x20                 / ipv4(src=192.0.2.1, dst=198.51.100.1)\n\
         \x20                 / udp(sport=5000, dport=6000)\n\
         \x20                 / payload(len=16)\n\
         \n\
         ## What the program does with a plain UDP packet: replace with what it should do.\n\
         scenario \"a UDP packet\" {\n\
         \x20 send udp_packet\n\
         \x20 expect XDP_PASS: input\n\
         }\n",
    );
    s
}

/// `target` as a path from `dir` (both made absolute), for a program line that works wherever the
/// spec is read from.
fn relative_to(target: &Path, dir: &Path) -> String {
    let abs =
        |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| std::env::current_dir().unwrap_or_default().join(p));
    let (t, d) = (abs(target), abs(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }));
    let common = t.components().zip(d.components()).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in d.components().skip(common) {
        rel.push("..");
    }
    for c in t.components().skip(common) {
        rel.push(c);
    }
    rel.display().to_string()
}
