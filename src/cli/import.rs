//! `xdptest import CAPTURE`: a pcap or pcapng capture as `packet` definitions written in layers, so
//! production traffic becomes test input. Every definition is compiled again before it is written
//! and must give its frame's bytes exactly (see `xdptest_compiler::import`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use xdptest_compiler::capture::{self, FrameSet};
use xdptest_compiler::import;
use xdptest_compiler::packet::MAX_FRAME;
use xdptest_compiler::spec::MAX_FILE;

use crate::outcome::Outcome;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The capture: pcap or pcapng (tcpdump -w, Wireshark, dumpcap), Ethernet, raw IP or Linux cooked.
    pub capture: PathBuf,
    /// Write the definitions to FILE (which must not exist) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Import only these frames, numbered from 1 as Wireshark does: `3`, `1-10`, `20-`, `1,4,7-9`.
    /// Reading stops after the last one, so a damaged end of a capture can be left out.
    #[arg(long, value_name = "LIST")]
    pub frames: Option<String>,
    /// Name packets PREFIX followed by the frame number.
    #[arg(long, value_name = "PREFIX", default_value = "frame_")]
    pub prefix: String,
}

pub fn run(args: ImportArgs) -> Outcome {
    let wanted = match args.frames.as_deref().map(FrameSet::parse).transpose() {
        Ok(w) => w.unwrap_or_default(),
        Err(e) => {
            errln!("error: --frames {}: {e}", args.frames.as_deref().unwrap_or_default());
            return Outcome::Error;
        }
    };
    if !valid_prefix(&args.prefix) {
        errln!(
            "error: --prefix `{}` cannot start a packet name: use letters, digits and `_`, starting with a letter or `_`",
            args.prefix
        );
        return Outcome::Error;
    }
    let data = match read_capture(&args.capture) {
        Ok(d) => d,
        Err(e) => {
            errln!("error: cannot read {}: {e}", args.capture.display());
            return Outcome::Error;
        }
    };
    let frames = match capture::read(&data, &wanted) {
        Ok(f) => f,
        Err(e) => {
            errln!("error: {}: {e}", args.capture.display());
            if let capture::CaptureError::BadFrame { frame, .. } = e {
                if frame > 1 {
                    errln!("  help: `--frames 1-{}` imports the frames before it", frame - 1);
                }
            }
            return Outcome::Error;
        }
    };
    if frames.is_empty() {
        errln!(
            "error: {} has no frames{}",
            args.capture.display(),
            if wanted.ranges.is_empty() { "" } else { " in --frames" }
        );
        return Outcome::Error;
    }
    if let Some(big) = frames.iter().find(|f| f.bytes.len() > MAX_FRAME) {
        errln!(
            "error: {}: frame {} is {} bytes; a test run takes at most {MAX_FRAME} (a multi-buffer frame)",
            args.capture.display(),
            big.number,
            big.bytes.len()
        );
        errln!("  help: leave it out with --frames");
        return Outcome::Error;
    }
    let (text, raw) = definitions(&args, &frames);
    let summary = format!(
        "{} frame{} imported{}",
        frames.len(),
        if frames.len() == 1 { "" } else { "s" },
        if raw == 0 { String::new() } else { format!(" ({raw} with raw bytes where decoding stopped)") }
    );
    match &args.out {
        None => {
            out!("{text}");
            errln!("{summary}");
            Outcome::Ok
        }
        Some(path) => match write_new(path, &text) {
            Ok(()) => {
                outln!("wrote {}: {summary}", path.display());
                Outcome::Ok
            }
            Err(e) => {
                errln!("error: cannot write {}: {e}", path.display());
                Outcome::Error
            }
        },
    }
}

/// The file's text, and how many frames kept raw bytes. A definition that does not compile back to
/// its frame (a bug of ours, never the user's) is replaced by the frame's raw bytes, with a note.
fn definitions(args: &ImportArgs, frames: &[capture::Frame]) -> (String, usize) {
    let name = args.capture.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut lifted: Vec<import::Lifted> = frames.iter().map(|f| import::lift(&f.bytes)).collect();
    let names: Vec<String> = frames.iter().map(|f| import::packet_name(&args.prefix, f)).collect();
    let render = |lifted: &[import::Lifted]| -> String {
        let mut text = format!(
            "# Frames of {}, imported by `xdptest import`.\n# Include this file in a spec and send its packets by name.\n",
            import::one_line(&name)
        );
        for ((frame, l), n) in frames.iter().zip(lifted).zip(&names) {
            text.push('\n');
            text.push_str(&import::definition(n, frame, l, frames[0].time));
        }
        text
    };
    let mut text = render(&lifted);
    let expected: BTreeMap<String, Vec<u8>> =
        names.iter().cloned().zip(frames.iter().map(|f| f.bytes.clone())).collect();
    let bad = import::check(&text, &expected);
    if !bad.is_empty() {
        for m in &bad {
            if let Some(i) = names.iter().position(|n| *n == m.name) {
                lifted[i] =
                    import::raw_lifted(&frames[i].bytes, format!("its layers did not compile back ({})", m.reason));
            }
        }
        text = render(&lifted);
    }
    let raw = lifted.iter().filter(|l| l.raw_reason.is_some()).count();
    (text, raw)
}

fn valid_prefix(p: &str) -> bool {
    let mut chars = p.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The capture's bytes: a regular file (a FIFO would block forever) of at most [`MAX_FILE`] bytes.
fn read_capture(path: &Path) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_FILE {
        return Err(std::io::Error::other(format!(
            "it is {} MiB; xdptest reads captures of at most {} MiB (cut one with `editcap -r`)",
            meta.len() >> 20,
            MAX_FILE >> 20
        )));
    }
    std::fs::read(path)
}

/// Writes `text` to `path`, which must not exist, all at once: a temporary file beside it, renamed
/// into place without replacing anything, so an interrupted import leaves no partial file.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile's errors name the temporary file, which means nothing to the user.
    let mut tmp = tempfile::Builder::new().prefix(".xdptest-import-").tempfile_in(dir).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create a file in {}: {}", dir.display(), e.kind()))
    })?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map(|_| ()).map_err(|e| e.error)
}
