//! Where the experiment binaries are, and building them when needed.
//!
//! `cargo run -p harness` builds only the harness. When the harness runs under
//! cargo (`CARGO` is set), it builds the experiments package itself with the
//! same profile and target folder (a no-op when they are fresh), so a fresh clone
//! needs no extra step. Installed elsewhere, the binaries are looked for next to
//! the harness, or in `VMLAB_EXPERIMENTS_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The path of one experiment's binary, with a hint if it is missing.
pub fn binary(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
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
        .arg("--quiet")
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
    let status = command
        .status()
        .with_context(|| format!("cannot run {} to build the experiments", cargo.display()))?;
    if !status.success() {
        bail!("building the experiments failed ({status}); run `cargo build -p experiments --bins` to see why");
    }
    Ok(())
}
