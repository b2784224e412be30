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
use skiff_engine::containers::handover::RESUME_ARG;

/// The exit code when skiff itself fails, as Docker's.
const EXIT_SKIFF_FAILED: u8 = 125;

fn main() -> ExitCode {
    // A container's monitor re-executes skiff to wait; it takes its own way,
    // before anything else touches memory it would keep.
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(RESUME_ARG.as_ref()) {
        skiff_engine::containers::handover::resume(&args.next().unwrap_or_default())
    }
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
