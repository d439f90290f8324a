//! The builds the harness starts itself (the experiments under cargo, the
//! matrix's static guest binaries) end with it: Ctrl-C or SIGTERM during one
//! kills the build's whole process group and ends the run as interrupted, with
//! no run folder left. A stand-in cargo (a shell script that starts a
//! long-lived child and waits) takes the real one's place, so the tests see
//! exactly which processes outlive the harness.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::util::harness_bin;

/// A cargo that writes its own pid and its child's, then waits for the child.
const STAND_IN_CARGO: &str = "#!/bin/sh
sleep 300 &
echo $! > \"$VMLAB_TEST_PIDS.child\"
echo $$ > \"$VMLAB_TEST_PIDS.cargo\"
wait
";

/// How long the tests wait for a process to start or to go: generous, since
/// the machine may be busy; passing never depends on it being short.
const PATIENCE: Duration = Duration::from_secs(30);

/// A folder with the stand-in cargo, its pid files, results and scratch.
struct Bench {
    root: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("temp dir");
        let cargo = root.path().join("cargo");
        std::fs::write(&cargo, STAND_IN_CARGO).expect("write the stand-in cargo");
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        for sub in ["out", "tmp", "cache"] {
            std::fs::create_dir(root.path().join(sub)).expect("mkdir");
        }
        Bench { root }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Starts the harness with `args`, the stand-in as its cargo and no
    /// prebuilt binaries to take instead of building.
    fn start(&self, args: &[&str]) -> Child {
        Command::new(harness_bin())
            .args(args)
            .arg("--out")
            .arg(self.path("out"))
            .env("CARGO", self.path("cargo"))
            .env("VMLAB_TEST_PIDS", self.path("pids"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env_remove(harness::runner::locate::DIR_VARIABLE)
            .env_remove(harness::matrix::qemu::GUEST_BIN_VARIABLE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the harness")
    }

    /// The pid the stand-in wrote under `name` (`cargo` or `child`), once it has.
    fn pid(&self, name: &str, harness: &mut Child) -> Pid {
        let file = self.path(&format!("pids.{name}"));
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(pid) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                return Pid::from_raw(pid);
            }
            if let Ok(Some(status)) = harness.try_wait() {
                panic!(
                    "the harness ended ({status}) before starting its build:\n{}",
                    stderr_of(harness)
                );
            }
            assert!(Instant::now() < deadline, "the build never started");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn stderr_of(harness: &mut Child) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(mut stderr) = harness.stderr.take() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}

/// Whether `pid` is still a live process (a zombie has ended).
fn alive(pid: Pid) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
    !matches!(state, None | Some(Some('Z')) | Some(Some('X')))
}

/// Waits for `pid` to end; false if it is still there after [`PATIENCE`].
fn ends(pid: Pid) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Sends `signal` to the harness once its build runs, and checks that the
/// build's processes end with it, the run ends as interrupted (exit 130) and
/// no run folder is left in `out`.
fn interrupt_the_build(bench: &Bench, args: &[&str], signal: Signal) {
    let mut harness = bench.start(args);
    let cargo = bench.pid("cargo", &mut harness);
    let child = bench.pid("child", &mut harness);
    assert!(
        alive(cargo) && alive(child),
        "the stand-in build is not running"
    );
    kill(Pid::from_raw(harness.id() as i32), signal).expect("signal the harness");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = harness.try_wait().expect("wait for the harness") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = harness.kill();
            let _ = kill(cargo, Signal::SIGKILL);
            let _ = kill(child, Signal::SIGKILL);
            panic!(
                "harness {args:?} still runs {PATIENCE:?} after {signal}: it waits for its build"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let cargo_ended = ends(cargo);
    let child_ended = ends(child);
    // Whatever the outcome, nothing of the stand-in outlives the test; and
    // only then is the harness's stderr read to its end, since a build left
    // running may hold it open.
    let _ = kill(cargo, Signal::SIGKILL);
    let _ = kill(child, Signal::SIGKILL);
    let stderr = stderr_of(&mut harness);
    assert!(
        cargo_ended && child_ended,
        "after {signal}, harness {args:?} left its build running (cargo {}, its child {})\n{stderr}",
        if cargo_ended { "ended" } else { "alive" },
        if child_ended { "ended" } else { "alive" },
    );
    assert_eq!(status.code(), Some(130), "{signal}: {status}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{signal}: {stderr}");
    assert_eq!(
        folder_entries(&bench.path("out")),
        Vec::<String>::new(),
        "{signal}: a run folder was left"
    );
}

fn folder_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn an_interrupted_experiments_build_ends_with_the_harness() {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let bench = Bench::new();
        let tmp = bench.path("tmp").display().to_string();
        interrupt_the_build(
            &bench,
            &["run", "tiny-malloc", "--quick", "--dir", &tmp],
            signal,
        );
    }
}

fn an_interrupted_guest_build_ends_with_the_matrix() {
    crate::skip_unless!(
        Path::new("/usr/lib/x86_64-linux-gnu/libc.a").is_file(),
        "the matrix builds its guest binaries only where glibc's static library is installed (libc6-dev)"
    );
    let bench = Bench::new();
    interrupt_the_build(
        &bench,
        &["matrix", "--kernel", "host", "--experiments", "tiny-malloc"],
        Signal::SIGTERM,
    );
}

crate::tests![
    an_interrupted_experiments_build_ends_with_the_harness,
    an_interrupted_guest_build_ends_with_the_matrix,
];
