//! `xdptest review`: accept or reject pending snapshots (`*.snap.new`) one by one, seeing what changed.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::default_paths;
use crate::outcome::{count, Outcome};
use crate::snapshot::{find_pending, front_matter, line_diff, read_body};

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Spec files or directories whose pending snapshots to review. Default: specs/
    pub paths: Vec<PathBuf>,
    /// Accept every pending snapshot without asking.
    #[arg(long, conflicts_with = "reject")]
    pub accept: bool,
    /// Reject (delete) every pending snapshot without asking.
    #[arg(long)]
    pub reject: bool,
}

enum Choice {
    Accept,
    Reject,
    Skip,
}

pub fn run(args: ReviewArgs) -> Outcome {
    let paths = default_paths(args.paths);
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        errln!("error: cannot read {}: no such file or directory", missing.display());
        return Outcome::Error;
    }
    let pending = find_pending(&paths);
    if pending.is_empty() {
        outln!("no pending snapshots");
        return Outcome::Ok;
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut lines = stdin.lock().lines();
    let (mut accepted, mut rejected, mut skipped) = (0, 0, 0);
    let total = pending.len();
    for (i, new) in pending.iter().enumerate() {
        let snap = new.with_extension("");
        let gone = stale(new);
        let choice = if let (Some(why), false) = (&gone, args.reject) {
            // Accepting would keep a snapshot no run compares again: say so, leave the decision.
            outln!("not accepted {}: {why} (remove it with --reject)", new.display());
            Choice::Skip
        } else if args.accept {
            Choice::Accept
        } else if args.reject {
            Choice::Reject
        } else {
            show(i + 1, total, new, &snap);
            loop {
                out!("accept (a), reject (r) or skip (s)? ");
                let _ = std::io::stdout().flush();
                match lines.next() {
                    // End of input: leave this and the rest as they are.
                    None | Some(Err(_)) => {
                        outln!();
                        break Choice::Skip;
                    }
                    Some(Ok(l)) => {
                        if !interactive {
                            outln!("{}", l.trim());
                        }
                        match l.trim() {
                            "a" | "accept" => break Choice::Accept,
                            "r" | "reject" => break Choice::Reject,
                            "s" | "skip" | "" => break Choice::Skip,
                            _ => continue,
                        }
                    }
                }
            }
        };
        let done = match choice {
            Choice::Accept => std::fs::rename(new, &snap).map(|_| {
                accepted += 1;
                outln!("accepted {}", snap.display());
            }),
            Choice::Reject => std::fs::remove_file(new).map(|_| {
                rejected += 1;
                outln!("rejected {}", new.display());
            }),
            Choice::Skip => {
                skipped += 1;
                Ok(())
            }
        };
        if let Err(e) = done {
            errln!("error: {}: {e}", new.display());
            return Outcome::Error;
        }
    }
    outln!("{} accepted, {} rejected, {} skipped", count(accepted, "snapshot"), rejected, skipped);
    Outcome::Ok
}

/// Why a pending snapshot belongs to no scenario any more (its spec, or the scenario in it, was
/// deleted or renamed), if it does not. A spec that does not parse is given the benefit of the doubt.
fn stale(new: &Path) -> Option<String> {
    // `DIR/snapshots/<stem>__<slug>.snap.new` belongs to `DIR/<stem>.pkt`.
    let name = new.file_name()?.to_str()?.strip_suffix(".snap.new")?;
    let (stem, slug) = name.split_once("__")?;
    let spec = new.parent()?.parent()?.join(format!("{stem}.pkt"));
    let Ok(text) = std::fs::read_to_string(&spec) else {
        return Some(format!("its spec {} does not exist", spec.display()));
    };
    let file = xdptest_grammar::parse(&text).ok()?;
    let exists = file.items.iter().any(|i| {
        matches!(&i.kind, xdptest_grammar::ast::ItemKind::Scenario(s) if xdptest_compiler::fixture::slug(&s.name.node) == slug)
    });
    (!exists).then(|| format!("{} has no scenario it belongs to", spec.display()))
}

/// The pending snapshot against the accepted one.
fn show(n: usize, total: usize, new: &Path, snap: &Path) {
    let new_text = std::fs::read_to_string(new).unwrap_or_default();
    let old = std::fs::read_to_string(snap).ok();
    outln!();
    outln!("snapshot {n} of {total}: {}", snap.display());
    if let Some(e) = front_matter(&new_text, "expression") {
        outln!("scenario: {e}");
    }
    if let Some(s) = front_matter(&new_text, "source") {
        outln!("spec: {s}");
    }
    let new_body = read_body(&new_text).unwrap_or_default();
    match old.as_deref().and_then(read_body) {
        Some(old_body) => {
            outln!("changes (- accepted, + new):");
            out!("{}", line_diff(&old_body, &new_body));
        }
        None => {
            outln!("new snapshot:");
            for l in new_body.lines() {
                outln!("+ {l}");
            }
        }
    }
}
