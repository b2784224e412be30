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
use skiff_image::userns::{helper_main, HELPER_ARG};

/// The exit code when skiff itself fails, as Docker's.
const EXIT_SKIFF_FAILED: u8 = 125;

fn main() -> ExitCode {
    // A container's monitor re-executes skiff to wait; it takes its own way,
    // before anything else touches memory it would keep.
    let mut args = std::env::args_os().skip(1);
    match args.next() {
        Some(a) if a == RESUME_ARG => {
            skiff_engine::containers::handover::resume(&args.next().unwrap_or_default())
        }
        // An ordinary user's layers unpack in a user namespace of this binary.
        Some(a) if a == HELPER_ARG => helper_main(&args.next().unwrap_or_default()),
        _ => {}
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
