//! `harness`: see `harness --help`.

use std::process::ExitCode;

use clap::Parser;
use harness::app::{self, Interrupted};
use harness::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match app::run(cli) {
        Ok(code) => code,
        Err(e) if e.is::<Interrupted>() => {
            eprintln!("harness: {e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("harness: {e:#}");
            ExitCode::from(2)
        }
    }
}
