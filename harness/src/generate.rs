//! Shell completions and manual pages, generated from the clap definitions in
//! [`crate::cli`] so that they cannot fall behind the options the harness takes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// The name the scripts and pages call the program by: the installed binary's.
const BIN_NAME: &str = "harness";

/// `harness completions SHELL`: the script on stdout.
pub fn print_completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    crate::verbosity::stdout_bytes(&completions(shell));
    Ok(ExitCode::SUCCESS)
}

/// `harness man [--out-dir DIR]`: harness(1) on stdout, or every page into DIR
/// with a line saying how many.
pub fn man(out_dir: Option<&Path>) -> Result<ExitCode> {
    match out_dir {
        None => crate::verbosity::stdout_bytes(&man_page()?),
        Some(dir) => {
            let written = write_man_pages(dir)?;
            crate::verbosity::note(format_args!(
                "{} manual pages written to {}",
                written.len(),
                dir.display()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut without_hidden(Cli::command()),
        BIN_NAME,
        &mut script,
    );
    script
}

/// `command` without its hidden subcommands (the matrix guest's PID 1), which
/// some shells' generators would offer: the same options and visible
/// subcommands under a fresh command, since clap cannot remove one.
fn without_hidden(command: clap::Command) -> clap::Command {
    let visible: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    clap::Command::new(BIN_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .args(command.get_arguments().cloned())
        .subcommands(visible)
}

/// harness(1), in roff: the options every subcommand takes and one entry per
/// subcommand, each pointing at its own page.
pub fn man_page() -> Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("cannot render the manual page")?;
    Ok(page)
}

/// Writes harness.1 and a harness-SUBCOMMAND.1 for each subcommand into `dir`
/// (made if missing), the set a `man1` folder holds; returns the files written.
pub fn write_man_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut written = Vec::new();
    write_pages(&command, dir, &mut written)?;
    Ok(written)
}

fn write_pages(command: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    let man = clap_mangen::Man::new(command.clone());
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)
        .with_context(|| format!("cannot render {}", path.display()))?;
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&page))
        .with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible_subcommands() -> Vec<String> {
        Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name().to_string())
            .collect()
    }

    #[test]
    fn the_pages_written_are_the_main_one_and_one_per_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(dir.path()).unwrap();
        let mut names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected: Vec<String> = visible_subcommands()
            .iter()
            .map(|s| format!("{BIN_NAME}-{s}.1"))
            .chain([format!("{BIN_NAME}.1")])
            .collect();
        expected.sort();
        assert_eq!(names, expected);
        assert!(!names.iter().any(|n| n.contains("guest-init")));
    }

    #[test]
    fn a_subcommand_page_has_its_options() {
        let dir = tempfile::tempdir().unwrap();
        write_man_pages(dir.path()).unwrap();
        let run = std::fs::read_to_string(dir.path().join(format!("{BIN_NAME}-run.1"))).unwrap();
        assert!(run.contains("quick"), "{run}");
        assert!(run.contains("baseline"), "{run}");
    }
}
