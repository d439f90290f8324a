//! Finds the experiments, as Cargo finds binaries: every folder
//! `src/experiment/<name>/` with a `mod.rs` is one experiment's module, which
//! defines `pub static EXPERIMENT` (its `Experiment`) beside its
//! `explanation.md`. The generated `experiments.rs` declares those modules and
//! lists them; `experiment::registry` orders them as the catalog does, and a
//! test fails when the two disagree. Adding an experiment adds a folder, and
//! no list to edit here.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    git_commit();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join("experiment");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut modules: Vec<String> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("mod.rs").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    modules.sort();
    let mut out = String::new();
    for module in &modules {
        let path = root.join(module).join("mod.rs");
        let _ = writeln!(
            out,
            "#[path = {:?}]\npub mod {module};",
            path.display().to_string()
        );
    }
    out.push_str("\n/// Every experiment folder's experiment, in folder order.\n");
    out.push_str("fn found() -> Vec<&'static dyn Experiment> {\n    vec![");
    for module in &modules {
        let _ = write!(out, "&{module}::EXPERIMENT, ");
    }
    out.push_str("]\n}\n");
    let target =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("experiments.rs");
    std::fs::write(&target, out)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}

/// The commit the harness is built from, for the run's provenance
/// (`VMLAB_GIT_COMMIT`; `unknown` outside a git checkout). Rebuilt when HEAD
/// moves (a commit, a checkout).
fn git_commit() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/logs/HEAD");
    }
    println!("cargo:rustc-env=VMLAB_GIT_COMMIT={commit}");
}
