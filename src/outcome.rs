//! How a command ends: its exit status. Only the command line turns outcomes into process exit codes;
//! everything else returns them.

/// Exit status of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Everything passed.
    Ok = 0,
    /// Some test failed.
    Failed = 1,
    /// Bad usage, bad input, or an environment that cannot run the tests.
    Error = 2,
    /// Interrupted (Ctrl-C, SIGTERM): 128 + SIGINT, as shells report it.
    Interrupted = 130,
}

/// "1 spec file", "2 spec files".
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
