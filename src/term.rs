//! Writing to the terminal without panicking: `println!` panics when standard output is a closed pipe
//! (`xdptest check | head -1`, `run 2>&1 | true`). These macros write the same text and drop it when
//! the reader has gone, as `cat` or `grep` would stop writing; the run itself goes on to its end (its
//! reports, snapshots and cleanup do not depend on anyone reading the terminal).

use std::fmt;
use std::io::Write;

/// Writes `args` and a newline to standard output; a write error (a closed pipe) is dropped.
pub fn write_out(args: fmt::Arguments, newline: bool) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_fmt(args).and_then(|()| if newline { o.write_all(b"\n") } else { Ok(()) });
}

/// Writes `args` and a newline to standard error; a write error (a closed pipe) is dropped.
pub fn write_err(args: fmt::Arguments, newline: bool) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| if newline { e.write_all(b"\n") } else { Ok(()) });
}

/// `println!` that survives a closed standard output.
macro_rules! outln {
    () => { $crate::term::write_out(format_args!(""), true) };
    ($($t:tt)*) => { $crate::term::write_out(format_args!($($t)*), true) };
}

/// `print!` that survives a closed standard output.
macro_rules! out {
    ($($t:tt)*) => { $crate::term::write_out(format_args!($($t)*), false) };
}

/// `eprintln!` that survives a closed standard error.
macro_rules! errln {
    () => { $crate::term::write_err(format_args!(""), true) };
    ($($t:tt)*) => { $crate::term::write_err(format_args!($($t)*), true) };
}
