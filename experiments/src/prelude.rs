//! What every experiment binary does around its own work, written once: read the
//! command line (the one `--dir` the harness gives every experiment, then the
//! experiment's typed [`catalog`](crate::catalog) arguments), connect to the
//! harness, run, and exit with one line on stderr if the run failed.
//!
//! A binary's `main` is then one call:
//!
//! ```no_run
//! # use experiments::catalog::strip::Args;
//! fn main() {
//!     experiments::prelude::main::<Args>("strip", "what stripping changes", |mut run| {
//!         run.checkpoints.checkpoint("started")?;
//!         run.checkpoints.done()
//!     })
//! }
//! ```

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use crate::Checkpoints;

/// The option that names the experiment's folder for temporary files. The
/// harness passes it to every experiment (and removes the folder afterwards),
/// with the same constant, so the two sides cannot spell it differently.
pub const DIR_OPTION: &str = "--dir";

/// One started experiment: its folder, its arguments and its connection.
#[derive(Debug)]
pub struct Run<A> {
    /// The folder for temporary files; experiments that write none ignore it.
    pub dir: PathBuf,
    /// The experiment's own arguments, as its catalog contract declares them.
    pub args: A,
    /// The connection to the harness, already past `ready`.
    pub checkpoints: Checkpoints,
}

/// Parses the command line, connects and calls `body`; exits 0 if it returns
/// `Ok`, else prints `<name>: <error>` on stderr and exits 1. A bad command line
/// is clap's usage error (exit 2), before anything is announced to the harness.
pub fn main<A>(name: &'static str, about: &str, body: impl FnOnce(Run<A>) -> io::Result<()>) -> !
where
    A: clap::Args + clap::FromArgMatches,
{
    let (dir, args) = parse_or_exit::<A>(name, about, std::env::args_os());
    let result = Checkpoints::connect().and_then(|checkpoints| {
        body(Run {
            dir,
            args,
            checkpoints,
        })
    });
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(1)
        }
    }
}

/// The command line every experiment understands: `--dir` and `A`'s options.
fn command<A: clap::Args>(name: &'static str, about: &str) -> clap::Command {
    let dir = clap::Arg::new("dir")
        .long(&DIR_OPTION[2..])
        .value_name("DIR")
        .required(true)
        .value_parser(clap::value_parser!(PathBuf))
        .help("Folder for temporary files (the harness removes it afterwards)");
    let about = format!("{about}; run by the vmlab harness");
    A::augment_args(clap::Command::new(name).about(about).arg(dir))
}

/// Parses `argv` (with the program name first) into the folder and `A`.
pub fn parse<A>(
    name: &'static str,
    about: &str,
    argv: impl IntoIterator<Item = OsString>,
) -> Result<(PathBuf, A), clap::Error>
where
    A: clap::Args + clap::FromArgMatches,
{
    let mut matches = command::<A>(name, about).try_get_matches_from(argv)?;
    let dir = matches.remove_one::<PathBuf>("dir").unwrap_or_default();
    Ok((dir, A::from_arg_matches(&matches)?))
}

fn parse_or_exit<A>(
    name: &'static str,
    about: &str,
    argv: impl IntoIterator<Item = OsString>,
) -> (PathBuf, A)
where
    A: clap::Args + clap::FromArgMatches,
{
    parse(name, about, argv).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::lazy_alloc::{Args, Thp};

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_folder_and_the_experiment_arguments_are_read_together() {
        let args = Args {
            map_bytes: 1 << 20,
            chunk_bytes: 4096,
            variant: Thp::ThpOn,
            overcommit_test: true,
        };
        let mut words = argv(&["vmlab-lazy-alloc", DIR_OPTION, "/tmp/x"]);
        words.extend(crate::args::to_args(&args));
        let (dir, back): (PathBuf, Args) = parse("lazy-alloc", "test", words).unwrap();
        assert_eq!(dir, PathBuf::from("/tmp/x"));
        assert_eq!(back, args);
    }

    #[test]
    fn the_folder_is_required() {
        let err = parse::<Args>("lazy-alloc", "test", argv(&["vmlab-lazy-alloc"])).unwrap_err();
        assert!(err.to_string().contains("--dir"), "{err}");
    }
}
