//! An installed harness: alone in a folder, with a clean environment (no
//! `CARGO`, so it builds nothing), it finds its experiments in PATH or says in
//! one line how to get them; plus `-q`, and the completions and manual page
//! it generates from its own options.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use harness::model::{RunRecord, Status};

use crate::util::{built_experiments, harness_bin};

/// Runs `command`, whose program was just copied. While it was being written,
/// another test's thread may have forked: until that child execs, it holds the
/// copy open for writing, and exec fails with `ETXTBSY` for that instant (the
/// file is complete). Tries again for up to a second.
fn output_of_fresh_copy(command: &mut Command) -> Output {
    for _ in 0..100 {
        match command.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other.expect("run the installed harness"),
        }
    }
    command.output().expect("run the installed harness")
}

/// A copy of the harness binary alone in a fresh folder, as `cargo install` leaves it.
struct Installed {
    root: tempfile::TempDir,
}

impl Installed {
    fn new() -> Installed {
        let root = tempfile::tempdir().expect("temp dir");
        for sub in ["bin", "cwd", "scratch", "path"] {
            std::fs::create_dir(root.path().join(sub)).expect("mkdir");
        }
        std::fs::copy(harness_bin(), root.path().join("bin/harness")).expect("copy the harness");
        Installed { root }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.root.path().join(sub)
    }

    /// Puts a copy of experiment binary `name` in the folder that PATH lists first.
    fn put_on_path(&self, name: &str) {
        let file = experiments::catalog::binary_name(name);
        let from = built_experiments().join(&file);
        std::fs::copy(&from, self.path("path").join(&file))
            .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }

    /// Runs it from an unrelated folder with only PATH (and `extra`) set.
    fn run(&self, args: &[&str], extra: &[(&str, &Path)]) -> Output {
        let path = std::env::join_paths([self.path("path"), "/usr/bin".into(), "/bin".into()])
            .expect("PATH");
        let mut command = Command::new(self.path("bin/harness"));
        command
            .args(args)
            .env_clear()
            .env("PATH", path)
            .current_dir(self.path("cwd"));
        for (k, v) in extra {
            command.env(k, v);
        }
        output_of_fresh_copy(&mut command)
    }

    /// What is in `sub`, for asserting that nothing was left there.
    fn entries(&self, sub: &str) -> Vec<PathBuf> {
        std::fs::read_dir(self.path(sub))
            .map(|d| d.map(|e| e.expect("entry").path()).collect())
            .unwrap_or_default()
    }
}

fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run_record(out: &Path) -> RunRecord {
    let text = std::fs::read_to_string(out.join("latest/results.json")).expect("results.json");
    serde_json::from_str(&text).expect("a RunRecord")
}

fn alone_it_says_in_one_line_how_to_get_the_experiments_and_makes_no_run_folder() {
    let installed = Installed::new();
    let out = installed.path("cwd/out");
    let scratch = installed.path("scratch");
    let args = ["run", "mmap-file", "--quick", "--out"];
    let mut args: Vec<&str> = args.to_vec();
    args.extend([out.to_str().unwrap(), "--dir", scratch.to_str().unwrap()]);
    let output = installed.run(&args, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert_eq!(stderr.lines().count(), 1, "{}", describe(&output));
    assert!(
        stderr.contains("cargo install --path experiments")
            && stderr.contains("VMLAB_EXPERIMENTS_DIR"),
        "{}",
        describe(&output)
    );
    assert!(!out.exists(), "{} was made", out.display());
    // Without --out the default is ./results of where it runs: not made either.
    let output = installed.run(&["all", "--quick", "--dir", scratch.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert_eq!(installed.entries("cwd"), Vec::<PathBuf>::new());
    assert_eq!(installed.entries("scratch"), Vec::<PathBuf>::new());
    // Listing needs no experiment binary.
    let output = installed.run(&["list"], &[]);
    assert!(output.status.success(), "{}", describe(&output));
}

fn it_finds_experiments_in_path_and_a_missing_program_names_its_fix() {
    let installed = Installed::new();
    installed.put_on_path("tiny-malloc");
    let out = installed.path("out");
    let scratch = installed.path("scratch");
    let common = [
        "-q",
        "run",
        "tiny-malloc",
        "--quick",
        "--out",
        out.to_str().unwrap(),
        "--dir",
        scratch.to_str().unwrap(),
    ];
    // The measured programs are not installed beside the binary: each variant
    // that needs one is skipped with the way to get them.
    let output = installed.run(&common, &[]);
    assert_ne!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        output.stdout.is_empty(),
        "-q printed:\n{}",
        describe(&output)
    );
    let run = run_record(&out);
    let exp = &run.experiments[0];
    let skipped: Vec<&str> = exp
        .variants
        .iter()
        .filter(|v| v.status == Status::Skipped)
        .filter_map(|v| v.reason.as_deref())
        .chain(exp.reason.as_deref())
        .collect();
    assert!(
        !skipped.is_empty(),
        "nothing skipped\n{}",
        describe(&output)
    );
    for reason in &skipped {
        assert!(
            reason.contains("VMLAB_PROGRAMS_DIR") && !reason.contains('\n'),
            "{reason}"
        );
    }
    // Pointed at the built programs, they run.
    let programs = built_experiments().join("vmlab-programs");
    let output = installed.run(&common, &[("VMLAB_PROGRAMS_DIR", &programs)]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        output.stdout.is_empty(),
        "-q printed:\n{}",
        describe(&output)
    );
    assert!(
        output.stderr.is_empty(),
        "-q printed:\n{}",
        describe(&output)
    );
    let run = run_record(&out);
    assert!(
        run.experiments[0]
            .variants
            .iter()
            .any(|v| v.status == Status::Ok),
        "no variant ran\n{}",
        describe(&output)
    );
    assert_eq!(installed.entries("scratch"), Vec::<PathBuf>::new());
}

fn harness(args: &[&str]) -> Output {
    Command::new(harness_bin())
        .args(args)
        .output()
        .expect("run the harness")
}

fn visible_subcommands() -> Vec<String> {
    use clap::CommandFactory;
    harness::cli::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

fn the_bash_completion_offers_every_subcommand_and_no_hidden_one() {
    let output = harness(&["completions", "bash"]);
    assert!(output.status.success(), "{}", describe(&output));
    let script = String::from_utf8_lossy(&output.stdout);
    let subcommands = visible_subcommands();
    assert!(subcommands.len() > 5, "{subcommands:?}");
    // The line that lists what may follow `harness`.
    let top = script
        .lines()
        .find(|l| l.contains("opts=") && l.contains(" run "))
        .unwrap_or_else(|| panic!("no top-level opts line in:\n{script}"));
    for name in &subcommands {
        assert!(
            top.split_whitespace().any(|w| w == name),
            "{name} not offered: {top}"
        );
    }
    assert!(!script.contains("guest-init"), "{top}");
    for flag in ["--quiet", "--verbose"] {
        assert!(top.contains(flag), "{flag} not offered: {top}");
    }
}

fn a_shell_that_is_not_known_is_a_usage_error() {
    let output = harness(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

/// Renders `page` with `man -l -` (groff warnings on); returns the text and stderr.
fn render_man(page: &[u8]) -> Option<(String, String)> {
    let mut child = Command::new("man")
        .args(["--warnings", "-l", "-"])
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(page)
        .expect("write the page");
    let output = child.wait_with_output().expect("man");
    assert!(output.status.success(), "{}", describe(&output));
    Some((
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

fn the_man_page_renders_without_warnings_and_names_every_subcommand() {
    let output = harness(&["man"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(output.stdout.starts_with(b".ie"), "not roff");
    let Some((text, warnings)) = render_man(&output.stdout) else {
        crate::trials::skip("`man` is missing: install man-db (.ci/run does)");
    };
    assert!(warnings.is_empty(), "man warned:\n{warnings}");
    for name in visible_subcommands() {
        let entry = format!("harness-{name}(1)");
        assert!(text.contains(&entry), "no {entry} in:\n{text}");
    }
    for flag in ["--quiet", "--verbose"] {
        assert!(text.contains(flag), "no {flag} in:\n{text}");
    }
}

fn man_out_dir_writes_a_page_per_subcommand_that_renders_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pages = dir.path().join("man1");
    let output = harness(&["man", "--out-dir", pages.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let run = std::fs::read(pages.join("harness-run.1")).expect("harness-run.1");
    let Some((text, warnings)) = render_man(&run) else {
        crate::trials::skip("`man` is missing: install man-db (.ci/run does)");
    };
    assert!(warnings.is_empty(), "man warned:\n{warnings}");
    assert!(text.contains("--quick"), "{text}");
    for name in visible_subcommands() {
        assert!(pages.join(format!("harness-{name}.1")).is_file(), "{name}");
    }
}

fn help_of_the_new_subcommands_says_what_they_print() {
    let output = harness(&["completions", "--help"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    for word in ["bash", "zsh", "fish", "SHELL"] {
        assert!(text.contains(word), "no {word} in:\n{text}");
    }
    let output = harness(&["man", "--help"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    for word in ["roff", "--out-dir", "man1"] {
        assert!(text.contains(word), "no {word} in:\n{text}");
    }
}

fn quiet_and_verbose_together_are_a_usage_error_wherever_they_stand() {
    for args in [&["-q", "list", "-v"][..], &["list", "-q", "-v"]] {
        let output = harness(args);
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

crate::tests![
    alone_it_says_in_one_line_how_to_get_the_experiments_and_makes_no_run_folder,
    it_finds_experiments_in_path_and_a_missing_program_names_its_fix,
    the_bash_completion_offers_every_subcommand_and_no_hidden_one,
    a_shell_that_is_not_known_is_a_usage_error,
    the_man_page_renders_without_warnings_and_names_every_subcommand,
    man_out_dir_writes_a_page_per_subcommand_that_renders_cleanly,
    help_of_the_new_subcommands_says_what_they_print,
    quiet_and_verbose_together_are_a_usage_error_wherever_they_stand,
];
