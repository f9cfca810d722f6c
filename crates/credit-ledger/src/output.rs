//! What the command line prints for a person or a script.
//!
//! Results go to stdout (a checkpoint note, an export, a report), so that they can be piped;
//! problems go to stderr. This module is the one place that prints directly, which is why it
//! allows the workspace's print lints: a command-line tool's output is its interface, not a
//! stray debug print.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write as _;

/// Prints a line of result on stdout.
pub fn line(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`credit-ledger ... | head`) is not an error worth reporting.
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

/// Prints text on stdout as it is (a signed note ends in its own newline).
pub fn raw(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Prints a problem on stderr.
pub fn error(text: &str) {
    eprintln!("{text}");
}

/// Prints a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => line(&text),
        Err(e) => error(&format!("could not print JSON: {e}")),
    }
}
