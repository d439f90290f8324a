//! The whole session, end to end and deterministic: a scripted tiny-malloc
//! child speaks the real checkpoint protocol and, before each checkpoint, puts
//! the /proc text captured at that moment (tests/fixtures/session/NOTES.md)
//! where the session's probe reads it. The run's results.json and results.md
//! are compared with the checked-in files in tests/fixtures/session/golden;
//! `VMLAB_UPDATE_GOLDEN=1` rewrites them.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use experiments::protocol;
use harness::options::Options;
use harness::probe::{Probe, TreeProbe};
use harness::provenance::Provenance;
use harness::selection::Selection;
use harness::session::{self, Machine};
use harness::system::{Environment, Root};

/// The variable that rewrites the golden files instead of comparing with them.
const UPDATE: &str = "VMLAB_UPDATE_GOLDEN";

/// The pid the captured text belongs to (tiny-malloc's minimal program).
const CAPTURED_PID: i32 = 684;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/session")
}

/// The machine of the fixtures: its /proc and /sys are a copy of the captured
/// tree, into which the scripted child writes its process's files; what no
/// file says (host name, uname, clock, ...) is fixed here.
struct FixtureMachine {
    probe: TreeProbe,
    bin: PathBuf,
}

impl Machine for FixtureMachine {
    fn probe(&self) -> &dyn Probe {
        &self.probe
    }

    fn environment(&self, _temp_dir: &Path) -> Environment {
        let temp_dir = Path::new("/tmp/vmlab-golden");
        let mut env = Environment::detect_in(&self.probe.root, temp_dir);
        env.kernel = "6.18.44-fc-v657".into();
        env.hostname = "golden".into();
        env.page_size = 4096;
        env.cpu_count = 2;
        env.is_root = false;
        env.rlimit_nproc = Some(96365);
        env.glibc_version = "2.41".into();
        env.temp_dir_fs = "ext4".into();
        env.temp_dir_free_bytes = 10 << 30;
        env.temp_dir_read_ahead_kb = Some(128);
        env
    }

    fn provenance(&self) -> Provenance {
        let args = ["harness", "run", "tiny-malloc/minimal", "--quick"].map(String::from);
        let mut p = Provenance::detect_in(&self.probe.root, &args);
        p.vmlab_git_commit = "golden".into();
        p.kernel_config = "not captured".into();
        p
    }

    fn now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn experiments_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(self.bin.clone())
    }
}

/// One protocol line, encoded by the experiments' own encoder.
fn line(encode: impl FnOnce(&mut String) -> std::fmt::Result) -> String {
    let mut s = String::new();
    encode(&mut s).unwrap();
    s.trim_end().to_string()
}

/// The scripted child: ready (with its real pid, as the runner checks), a
/// note, the two checkpoints of tiny-malloc's minimal build, done. It waits
/// for `go` where the real one does.
fn child_script(proc_dir: &Path) -> String {
    let stages = fixtures().join("stages");
    let program = [("program", CAPTURED_PID)];
    // The encoder writes a number; the shell's own pid replaces it.
    let ready =
        line(|s| protocol::encode_ready(s, i32::MAX, 4096)).replace(&i32::MAX.to_string(), "$$");
    let note = line(|s| protocol::encode_note(s, "aslr", format_args!("on")));
    let mut script = format!(
        "#!/bin/sh\nset -e\necho \"{ready}\"\nread go\necho '{note}'\nmkdir -p '{}'\n",
        proc_dir.join(CAPTURED_PID.to_string()).display()
    );
    for label in ["before-mallocs", "after-mallocs"] {
        let checkpoint = line(|s| protocol::encode_checkpoint(s, label, &program));
        script += &format!(
            "cp '{}'/* '{}'/\necho '{checkpoint}'\nread go\n",
            stages.join(label).display(),
            proc_dir.join(CAPTURED_PID.to_string()).display()
        );
    }
    script + &format!("echo '{}'\n", line(protocol::encode_done))
}

/// Copies the folder `from` into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// results.json with the phases' wall-clock durations (informational, never
/// judged, and the one figure the fixtures cannot fix) set to 0.
fn without_durations(json: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
    zero_key(&mut value, "phase_millis");
    serde_json::to_string_pretty(&value).unwrap() + "\n"
}

fn zero_key(value: &mut serde_json::Value, key: &str) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == key {
                    *v = serde_json::json!(0);
                } else {
                    zero_key(v, key);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| zero_key(v, key)),
        _ => {}
    }
}

/// Compares `got` with the golden file `name`, or rewrites it under [`UPDATE`].
fn check_golden(name: &str, got: &str) {
    let path = fixtures().join("golden").join(name);
    if std::env::var_os(UPDATE).is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with {UPDATE}=1 to write it", path.display()));
    if want != got {
        let first = want
            .lines()
            .zip(got.lines())
            .position(|(w, g)| w != g)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from {} at line {}:\n  want: {:?}\n  got:  {:?}\nrun with {UPDATE}=1 to accept the new output",
            path.display(),
            first + 1,
            want.lines().nth(first).unwrap_or("(end)"),
            got.lines().nth(first).unwrap_or("(end)")
        );
    }
}

fn a_scripted_run_on_captured_proc_text_writes_the_golden_reports() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    copy_tree(&fixtures().join("root"), &root);
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let child = bin.join("vmlab-tiny-malloc");
    std::fs::write(&child, child_script(&root.join("proc"))).unwrap();
    let mut perms = std::fs::metadata(&child).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&child, perms).unwrap();

    let mut options = Options::quick(vec![Selection::parse("tiny-malloc/minimal").unwrap()]);
    options.results_root = work.path().join("out");
    options.temp_dir = work.path().join("tmp");
    std::fs::create_dir(&options.temp_dir).unwrap();
    let machine = FixtureMachine {
        probe: TreeProbe {
            root: Root::at(&root),
        },
        bin,
    };
    session::run_on(&options, None, &machine).expect("the session runs");

    let latest = options.results_root.join("latest");
    let read = |name: &str| {
        std::fs::read_to_string(latest.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", latest.join(name).display()))
    };
    check_golden("results.json", &without_durations(&read("results.json")));
    check_golden("results.md", &read("results.md"));
}

crate::tests![a_scripted_run_on_captured_proc_text_writes_the_golden_reports];
