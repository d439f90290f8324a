//! `harness`: see `harness --help`.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use harness::app;
use harness::cli::Cli;
use harness::error::Interrupted;
use harness::error::{clap_error_line, named_subcommand, one_line};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are answers, not mistakes: printed as clap writes them.
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let args: Vec<String> = std::env::args().collect();
            let command = Cli::command();
            let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
            let subcommand = named_subcommand(&args, &names);
            eprintln!("harness: {}", clap_error_line(&e, subcommand));
            return ExitCode::from(app::usage_exit_code(&args));
        }
    };
    match cli.verbosity.level() {
        Ok(level) => harness::verbosity::set(level),
        Err(e) => {
            eprintln!("harness: {e}");
            let args: Vec<String> = std::env::args().collect();
            return ExitCode::from(app::usage_exit_code(&args));
        }
    }
    let result = app::run(cli);
    // A closed pipe is the reader's choice (`| head`): exit 2 without a word,
    // as other tools; a full disk says so. Either way, once cleanup has run.
    if let Some(e) = harness::verbosity::stdout_failure() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("harness: cannot write the report to stdout: {e}");
        }
        return ExitCode::from(2);
    }
    match result {
        Ok(code) => code,
        Err(e) if e.is::<Interrupted>() => {
            eprintln!("harness: {e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("harness: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}
