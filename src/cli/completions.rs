//! `xdptest completions SHELL` and `xdptest man`: shell completions and a man page generated from the
//! same clap definitions the parser uses, so they never drift from `--help`.

use clap::{Args, CommandFactory};

use crate::outcome::Outcome;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. Install, e.g. for bash:
    /// `xdptest completions bash > /etc/bash_completion.d/xdptest`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn completions(args: CompletionsArgs) -> Outcome {
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "xdptest", &mut out);
    out!("{}", String::from_utf8_lossy(&out));
    Outcome::Ok
}

/// The man page (roff) on standard output: `xdptest man > /usr/local/share/man/man1/xdptest.1`.
pub fn man() -> Outcome {
    let cmd = super::Cli::command();
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(cmd.clone()).render(&mut out) {
        errln!("error: cannot render the man page: {e}");
        return Outcome::Error;
    }
    // One section per subcommand after the main page, as `git help` pages list theirs.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("xdptest-{}", sub.get_name());
        let page = clap_mangen::Man::new(sub.clone().name(name));
        if let Err(e) = page.render(&mut out) {
            errln!("error: cannot render the man page: {e}");
            return Outcome::Error;
        }
    }
    out!("{}", String::from_utf8_lossy(&out));
    Outcome::Ok
}
