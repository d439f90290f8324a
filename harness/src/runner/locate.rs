//! Where the experiment binaries are, and building them when needed.
//!
//! `cargo run -p harness` builds only the harness. When the harness runs under
//! cargo (`CARGO` is set), it builds the experiments package itself with the
//! same profile and target folder (a no-op when they are fresh), so a fresh clone
//! needs no extra step. Installed elsewhere, the binaries are looked for next to
//! the harness, or in `VMLAB_EXPERIMENTS_DIR`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// Overrides where experiment binaries are looked for (no build is attempted).
pub const DIR_VARIABLE: &str = "VMLAB_EXPERIMENTS_DIR";

/// The folder that holds the experiment binaries, built if needed.
pub fn experiments_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DIR_VARIABLE) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("cannot find the harness's own executable")?;
    let dir = exe
        .parent()
        .context("the harness executable has no parent folder")?
        .to_path_buf();
    if let Some(cargo) = std::env::var_os("CARGO") {
        build_with_cargo(Path::new(&cargo), &dir)?;
    }
    Ok(dir)
}

/// The path of experiment `name`'s binary (`vmlab-<name>`), with a hint if it
/// is missing.
pub fn binary(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(experiments::catalog::binary_name(name));
    if !path.is_file() {
        bail!(
            "experiment binary {} not found; build it with `cargo build -p experiments --bins` \
             or point {DIR_VARIABLE} at the folder that holds it",
            path.display()
        );
    }
    Ok(path)
}

/// Builds the experiments package into the folder the harness itself runs from.
fn build_with_cargo(cargo: &Path, exe_dir: &Path) -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the harness crate has no parent folder")?;
    let manifest = workspace.join("Cargo.toml");
    let (Some(profile_dir), Some(target_dir)) = (exe_dir.file_name(), exe_dir.parent()) else {
        return Ok(());
    };
    if !manifest.is_file() {
        return Ok(());
    }
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "experiments", "--bins"])
        .env("CARGO_TARGET_DIR", target_dir);
    match profile_dir.to_str() {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
        None => return Ok(()),
    }
    // cargo says `Compiling` only when something is out of date: then the user
    // is told what the wait is for; a fresh build stays silent.
    command.stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {} to build the experiments", cargo.display()))?;
    let mut said = false;
    let mut captured = String::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.trim_start().starts_with("Compiling") && !said {
                eprintln!("building the experiment programs (first run, or after a change)...");
                said = true;
            }
            captured.push_str(&line);
            captured.push('\n');
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for {}", cargo.display()))?;
    if !status.success() {
        eprint!("{captured}");
        bail!("building the experiments failed ({status}); run `cargo build -p experiments --bins` to see why");
    }
    Ok(())
}
