//! The `zipper` binary: parses the command line, runs it, and maps failure to an exit code (64 for a bad
//! configuration or bad arguments). Everything else lives in the library (`zipper::cli`).

use std::process::ExitCode;

use clap::Parser;
use zipper::cli::{self, Cli};

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zipper: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
