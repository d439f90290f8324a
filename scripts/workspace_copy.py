"""The harness and experiments built in the workspace and copied into a
folder of the script's own, so that a build made meanwhile does not change
what is measured (shared by scripts/concurrent and scripts/kill-campaign)."""

import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(work, fail):
    """Builds the harness and the experiments (CARGO_TARGET_DIR is honoured)
    and copies them, with the separately built programs, into `work`/bin,
    which it returns. `fail(message)` is called when the build fails."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    done = subprocess.run(
        ["cargo", "build", "--quiet", "-p", "harness", "-p", "experiments", "--bins"],
        cwd=ROOT,
    )
    if done.returncode != 0:
        fail("cargo build failed (see above)")
    built = os.path.join(target, "debug")
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir)
    for name in os.listdir(built):
        path = os.path.join(built, name)
        if (name == "harness" or name.startswith("vmlab-")) and os.path.isfile(path):
            shutil.copy2(path, bin_dir)
    # The separately built programs (tiny-malloc's, strip's, ...), which the
    # experiments look for next to themselves.
    programs = os.path.join(built, "vmlab-programs")
    if os.path.isdir(programs):
        shutil.copytree(programs, os.path.join(bin_dir, "vmlab-programs"), symlinks=True)
    return bin_dir


def environment(bin_dir):
    """The environment a copied harness runs in: its experiments beside it."""
    env = dict(os.environ, VMLAB_EXPERIMENTS_DIR=bin_dir)
    env.pop("CARGO", None)
    return env
