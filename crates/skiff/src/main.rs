//! skiff: Docker's verbs, no daemon. This binary parses the command line and
//! prints; the engine crate does the work.

mod cli;
mod commands;
mod format;
mod parse;
mod progress;
mod template;

use std::process::ExitCode;

use clap::Parser;

/// The exit code when skiff itself fails, as Docker's.
const EXIT_SKIFF_FAILED: u8 = 125;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_SKIFF_FAILED } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("skiff: {e:#}");
            ExitCode::from(EXIT_SKIFF_FAILED)
        }
    }
}
