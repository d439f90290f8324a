//! vmlab inside the engines kernel CI already runs: the kernel's own kselftest
//! runner (`run_kselftest.sh -c vmlab`, its output read by the kernel's
//! kunit_parser) and LAVA's lava-test-shell helpers running the test
//! definition's steps (scripts/lava/).
//!
//! `.ci/run` unpacks the runner (`tools/testing/selftests/run_kselftest.sh`
//! and `kselftest/`) from Debian's linux-source package next to the kunit
//! parser, and LAVA's helpers (`lava_dispatcher/lava_test_shell/`) from
//! Debian's lava-dispatcher package into ~/.cache/vmlab/lava/. A piece that is
//! missing fails the test under CI (`CI=true`) and ends it as ignored
//! elsewhere, with the reason.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::harness_bin;

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The test's precondition: fails under CI, skips elsewhere.
pub(crate) fn require<T>(what: Result<T, String>) -> T {
    match what {
        Ok(v) => v,
        Err(why) if under_ci() => panic!("missing under CI: {why}; .ci/run installs it"),
        Err(why) => crate::trials::skip(why),
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// The kernel's kunit folder and its sibling selftests folder (the runner).
fn kernel_tools() -> Result<(PathBuf, PathBuf), String> {
    let kunit = crate::ktap::kunit_dir().ok_or(
        "the kernel's tools/testing: run .ci/run, which unpacks it from Debian's linux-source package",
    )?;
    let selftests = kunit.parent().expect("tools/testing").join("selftests");
    for file in [
        "run_kselftest.sh",
        "kselftest/runner.sh",
        "kselftest/prefix.pl",
    ] {
        if !selftests.join(file).is_file() {
            return Err(format!(
                "the kselftest runner's {} is not in {}; .ci/run unpacks it",
                file,
                selftests.display()
            ));
        }
    }
    Ok((kunit, selftests))
}

fn text(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A kselftest tree (the kernel's runner, copied) with vmlab's collection
/// installed by scripts/kselftest/install from the binaries under test.
struct Tree {
    dir: tempfile::TempDir,
    kunit: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        let (kunit, selftests) = require(kernel_tools());
        // The experiments are built next to the harness by its first run.
        crate::util::shared_run(&["run", "mmap-file", "--quick", "--format", "junit"]);
        let dir = tempfile::tempdir().expect("temp dir");
        let copy = Command::new("cp")
            .arg("-R")
            .arg(selftests.join("run_kselftest.sh"))
            .arg(selftests.join("kselftest"))
            .arg(dir.path())
            .output()
            .expect("cp");
        assert!(copy.status.success(), "{}", text(&copy));
        let bin_dir = harness_bin().parent().expect("bin dir").to_path_buf();
        let install = Command::new("sh")
            .arg(workspace().join("scripts/kselftest/install"))
            .arg("--bin-dir")
            .arg(&bin_dir)
            .arg(dir.path())
            .output()
            .expect("run the install script");
        assert!(install.status.success(), "install: {}", text(&install));
        let list = std::fs::read_to_string(dir.path().join("kselftest-list.txt")).unwrap();
        assert_eq!(list, "vmlab:run_vmlab.sh\n");
        for file in [
            "run_vmlab.sh",
            "settings",
            "config",
            "bin/harness",
            "bin/vmlab-mmap-file",
        ] {
            assert!(
                dir.path().join("vmlab").join(file).is_file(),
                "{file} not installed"
            );
        }
        Tree { dir, kunit }
    }

    fn collection(&self) -> PathBuf {
        self.dir.path().join("vmlab")
    }

    /// `run_kselftest.sh -c vmlab`, the harness given `args` (none: the
    /// collection's default), its files in a scratch folder.
    fn run(&self, args: Option<&str>, scratch: &Path) -> Output {
        let mut command = Command::new("sh");
        command
            .arg(self.dir.path().join("run_kselftest.sh"))
            .args(["-c", "vmlab"])
            .env("VMLAB_DIR", scratch)
            .env("SHELL", "/bin/sh");
        if let Some(args) = args {
            command.env("KSELFTEST_RUN_VMLAB_SH_ARGS", args);
        }
        command.output().expect("run run_kselftest.sh")
    }

    /// kunit_parser on the runner's whole output: its LEAF, COUNTS and STATUS
    /// lines, and `kunit.py parse`'s exit status.
    fn kunit(&self, output: &Output) -> (Vec<String>, Option<i32>) {
        let file = self.dir.path().join("kselftest.out");
        std::fs::write(&file, &output.stdout).expect("write");
        let parsed = Command::new("python3")
            .args(["-c", crate::ktap::KUNIT_PY])
            .arg(&self.kunit)
            .arg(&file)
            .output()
            .expect("run kunit_parser");
        assert!(parsed.status.success(), "kunit_parser: {}", text(&parsed));
        let lines = String::from_utf8_lossy(&parsed.stdout)
            .lines()
            .map(String::from)
            .collect();
        let cli = Command::new("python3")
            .arg(self.kunit.join("kunit.py"))
            .arg("parse")
            .arg(&file)
            .output()
            .expect("run kunit.py parse");
        (lines, cli.status.code())
    }
}

const RESULT_LINE: &str = "selftests: vmlab: run_vmlab.sh";

fn a_clean_run_of_the_collection_under_the_kernels_runner_reads_as_success() {
    let tree = Tree::new();
    let scratch = tempfile::tempdir().expect("temp dir");
    // The collection's default: `all --quick`.
    let output = tree.run(None, scratch.path());
    let all = text(&output);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{all}");
    assert!(
        stdout.starts_with(&format!("TAP version 13\n1..1\n# {RESULT_LINE}\n")),
        "{all}"
    );
    assert!(stdout.ends_with(&format!("ok 1 {RESULT_LINE}\n")), "{all}");
    // vmlab's KTAP nested under the runner's test, as kselftest nests it.
    assert!(stdout.contains("\n# KTAP version 1\n"), "{all}");
    assert!(stdout.contains("\n#   # Subtest: mmap-file\n"), "{all}");
    let totals = stdout
        .lines()
        .find_map(|l| l.strip_prefix("# # Totals: "))
        .unwrap_or_else(|| panic!("no Totals line\n{all}"));
    assert!(
        totals.contains(" fail:0 ") && totals.ends_with(" error:0"),
        "{totals}"
    );

    let (lines, code) = tree.kunit(&output);
    let why = format!("{all}\n--- kunit_parser\n{}", lines.join("\n"));
    assert!(lines.contains(&"STATUS SUCCESS".to_string()), "{why}");
    assert!(lines.contains(&"COUNTS 1 0 0 0 0".to_string()), "{why}");
    assert!(
        lines.contains(&format!("LEAF {RESULT_LINE} SUCCESS")),
        "{why}"
    );
    assert_eq!(code, Some(0), "kunit.py parse passes: {why}");

    // The results folder holds every experiment's record, and the run
    // validates against the published schema.
    let results = tree.collection().join("results/latest/results.json");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("results.json"))
            .expect("json");
    let names: Vec<&str> = record["experiments"]
        .as_array()
        .expect("experiments")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    for info in experiments::catalog::CATALOG {
        assert!(
            names.contains(&info.name),
            "{} did not run\n{all}",
            info.name
        );
    }
    crate::schema::assert_valid(&results, "all --quick under kselftest");
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Replaces the installed mmap-file experiment with one that crashes after
/// saying it is ready.
fn crash_mmap_file(collection: &Path) {
    let path = collection.join("bin/vmlab-mmap-file");
    std::fs::remove_file(&path).expect("remove");
    std::fs::write(
        &path,
        "#!/bin/sh\necho \"vmlab-protocol 1 ready pid=$$ page_size=4096\"; read go; \
         echo 'out of cheese' >&2; exit 7\n",
    )
    .expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn a_crashed_experiment_fails_the_collection_and_the_kernels_parser() {
    let tree = Tree::new();
    crash_mmap_file(&tree.collection());
    let scratch = tempfile::tempdir().expect("temp dir");
    let output = tree.run(Some("run mmap-file --quick"), scratch.path());
    let all = text(&output);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        stdout.ends_with(&format!("not ok 1 {RESULT_LINE} # exit=1\n")),
        "{all}"
    );
    assert!(stdout.contains("\n# not ok 1 mmap-file # ERROR "), "{all}");
    let (lines, code) = tree.kunit(&output);
    let why = format!("{all}\n--- kunit_parser\n{}", lines.join("\n"));
    assert!(lines.contains(&"STATUS FAILURE".to_string()), "{why}");
    assert!(lines.contains(&"COUNTS 0 1 0 0 0".to_string()), "{why}");
    assert_eq!(code, Some(1), "kunit.py parse fails: {why}");
}

/// A stand-in harness that prints a KTAP document and exits with `code`.
fn fake_harness(collection: &Path, code: i32) {
    let path = collection.join("bin/harness");
    std::fs::remove_file(&path).ok();
    std::fs::write(
        &path,
        format!("#!/bin/sh\nprintf 'KTAP version 1\\n1..0\\n'\nexit {code}\n"),
    )
    .expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn bad_input_is_a_kselftest_failure_never_xfail_and_all_skipped_is_a_skip() {
    let tree = Tree::new();
    let scratch = tempfile::tempdir().expect("temp dir");
    // The real harness refusing its arguments exits 2, KSFT_XFAIL to kselftest.
    let output = tree.run(Some("run no-such-experiment"), scratch.path());
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        stdout.ends_with(&format!("not ok 1 {RESULT_LINE} # exit=1\n")),
        "{}",
        text(&output)
    );
    assert!(stdout.contains("no-such-experiment"), "{}", text(&output));
    assert!(
        stdout.contains("# # vmlab: the harness refused its input or this environment (exit 2"),
        "{}",
        text(&output)
    );
    // The wrapper's mapping of each harness code, through the real runner.
    for (code, line) in [
        (0, format!("ok 1 {RESULT_LINE}\n")),
        (1, format!("not ok 1 {RESULT_LINE} # exit=1\n")),
        (4, format!("ok 1 {RESULT_LINE} # SKIP\n")),
        (130, format!("not ok 1 {RESULT_LINE} # exit=1\n")),
    ] {
        fake_harness(&tree.collection(), code);
        let output = tree.run(None, scratch.path());
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            stdout.ends_with(&line),
            "harness exit {code}: {}",
            text(&output)
        );
    }
}

/// LAVA's lava-test-shell helpers as `.ci/run` unpacks them.
fn lava_helpers() -> Result<PathBuf, String> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or("no HOME")?;
    let dir =
        cache.join("vmlab/lava/usr/lib/python3/dist-packages/lava_dispatcher/lava_test_shell");
    for helper in [
        "lava-test-runner",
        "lava-test-shell",
        "lava-test-case",
        "lava-test-set",
        "lava-common-functions",
    ] {
        if !dir.join(helper).is_file() {
            return Err(format!(
                "LAVA's {helper} is not in {}; .ci/run unpacks it from Debian's lava-dispatcher",
                dir.display()
            ));
        }
    }
    let yaml = Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !yaml.status.success() {
        return Err("Python's yaml (pip install pyyaml)".into());
    }
    Ok(dir)
}

/// Writes run.sh for a test definition as LAVA's dispatcher does
/// (lava_dispatcher/actions/deploy/testdef.py, TestRunnerAction.run and
/// handle_parameters): the definition's params, the job's parameters, then
/// `set -e`, the start signal, the steps, the end signal.
const RUN_SH_PY: &str = r##"
import json, sys, yaml
testdef_path, runner_path, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
testdef = yaml.safe_load(open(testdef_path))
H3 = "#" * 3
assert testdef["metadata"]["format"] == "Lava-Test Test Definition 1.0", testdef["metadata"]
assert testdef["metadata"]["name"]
out = [H3 + "default parameters from test definition" + H3 + "\n"]
for name, value in testdef.get("params", {}).items():
    out.append("%s='%s'\n" % (name, value or ""))
out.append(H3 + H3 + "\n")
out.append(H3 + "test parameters from job submission" + H3 + "\n")
for name, value in params.items():
    out.append("%s='%s'\n" % (name, value or ""))
out.append(H3 + H3 + "\n")
out += ["set -e\n", "set -x\n", "export TESTRUN_ID=0_vmlab\n", "cd %s\n" % runner_path,
        "UUID=`cat uuid`\n", "set +x\n", 'echo "<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>"\n',
        "set -x\n"]
out += ["%s\n" % step for step in testdef["run"]["steps"] if step is not None]
out += ["set +x\n", 'echo "<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>"\n']
open(runner_path + "/run.sh", "w").write("".join(out))
"##;

fn the_lava_definition_reports_each_claim_and_experiment_under_lavas_own_helpers() {
    let helpers = require(lava_helpers());
    let tree = Tree::new();
    // The overlay LAVA puts on the device: bin/ with the helpers (each given
    // its interpreter line, as the overlay action does), the test definition's
    // repository cloned under tests/, and the runner's list of tests.
    let lava = tempfile::tempdir().expect("temp dir");
    let root = lava.path().join("lava-1");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for entry in std::fs::read_dir(&helpers).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with("lava-") || !entry.file_type().unwrap().is_file() {
            continue;
        }
        let body = std::fs::read_to_string(entry.path()).unwrap();
        let path = bin.join(&name);
        std::fs::write(&path, format!("#!/bin/sh\n\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let runner_path = root.join("0/tests/0_vmlab");
    std::fs::create_dir_all(runner_path.join("scripts")).unwrap();
    let copy = Command::new("cp")
        .arg("-R")
        .arg(workspace().join("scripts/lava"))
        .arg(runner_path.join("scripts"))
        .output()
        .expect("cp");
    assert!(copy.status.success(), "{}", text(&copy));
    std::fs::write(runner_path.join("uuid"), "1_1.1\n").unwrap();
    let results = lava.path().join("vmlab-results");
    let params = serde_json::json!({
        "COLLECTION": tree.collection(),
        "VMLAB_ARGS": "run mmap-file --quick",
        "RESULTS": results,
    });
    let made = Command::new("python3")
        .args(["-c", RUN_SH_PY])
        .arg(runner_path.join("scripts/lava/vmlab.yaml"))
        .arg(&runner_path)
        .arg(params.to_string())
        .output()
        .expect("python3");
    assert!(made.status.success(), "run.sh: {}", text(&made));
    std::fs::write(
        root.join("0/lava-test-runner.conf"),
        format!("{}\n", runner_path.display()),
    )
    .unwrap();
    let scratch = tempfile::tempdir().expect("temp dir");
    let output = Command::new(bin.join("lava-test-runner"))
        .arg(root.join("0"))
        .env("SHELL", "/bin/sh")
        .env("VMLAB_DIR", scratch.path())
        .output()
        .expect("run lava-test-runner");
    let all = text(&output);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{all}");
    assert!(
        stdout.contains("<LAVA_SIGNAL_ENDRUN 0_vmlab 1_1.1>"),
        "{all}"
    );
    assert!(stdout.contains("<LAVA_TEST_RUNNER EXIT>"), "{all}");

    // The signals LAVA's log parser reads: one test case per claim, within a
    // test set per experiment, one per experiment, one for the run.
    let cases: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID="))
        .map(|l| {
            let (name, rest) = l.split_once(" RESULT=").expect("RESULT");
            (name.to_string(), rest.trim_end_matches('>').to_string())
        })
        .collect();
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(results.join("results/latest/results.json")).expect("results"),
    )
    .expect("json");
    let claims = record["experiments"][0]["claims"]
        .as_array()
        .expect("claims");
    assert_eq!(cases.len(), claims.len() + 2, "{all}");
    for (claim, (name, result)) in claims.iter().zip(&cases) {
        let id = format!(
            "mmap-file.{}.{}",
            claim["variant"].as_str().unwrap(),
            claim["id"].as_str().unwrap()
        );
        assert_eq!(name, &id, "{all}");
        let expected = if claim["verdict"] == "inconclusive" {
            "skip"
        } else {
            "pass"
        };
        assert_eq!(result, expected, "{id}: {all}");
        if expected == "skip" {
            // Its reason, on the line before.
            let evidence = claim["evidence"].as_str().unwrap();
            let reason = format!(
                "vmlab: {id}: skip: {}",
                evidence.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            assert!(stdout.contains(&reason), "{reason}\n{all}");
        }
    }
    assert_eq!(
        cases[claims.len()..],
        [
            ("mmap-file".to_string(), "pass".to_string()),
            ("vmlab-run".to_string(), "pass".to_string())
        ],
        "{all}"
    );
    assert!(
        stdout.contains("<LAVA_SIGNAL_TESTSET START mmap-file>"),
        "{all}"
    );
    assert!(stdout.contains("<LAVA_SIGNAL_TESTSET STOP>"), "{all}");
    // lava-test-case kept each result where lava-test-shell put LAVA_RESULT_DIR.
    let run_dirs: Vec<PathBuf> = std::fs::read_dir(root.join("0/results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(run_dirs.len(), 1, "{run_dirs:?}");
    assert_eq!(
        std::fs::read_to_string(run_dirs[0].join("return_code")).unwrap(),
        "0\n"
    );
    assert_eq!(
        std::fs::read_to_string(run_dirs[0].join("results/vmlab-run/result")).unwrap(),
        "pass\n"
    );
    // The results folder's location, archived.
    let archive = results.join("vmlab-results.tar.gz");
    assert!(archive.is_file(), "{all}");
    assert!(
        stdout.contains(&format!(
            "vmlab: results folder on the device: {}",
            results.join("results").display()
        )),
        "{all}"
    );
}

/// Checks each job file with LAVA's own job schema
/// (`lava_common.schemas.validate`, strict, as the scheduler does on
/// submission); prints `VALID path` or `INVALID path: why`.
const JOB_SCHEMA_PY: &str = r#"
import sys, yaml
sys.path.insert(0, sys.argv[1])
from lava_common.schemas import validate
for path in sys.argv[2:]:
    try:
        validate(yaml.safe_load(open(path)), strict=True)
        print("VALID", path)
    except Exception as e:
        print("INVALID", path + ":", e)
"#;

fn the_sample_qemu_job_passes_lavas_own_job_schema() {
    let helpers = require(lava_helpers());
    let packages = helpers
        .parent()
        .and_then(Path::parent)
        .expect("dist-packages");
    require(
        if packages.join("lava_common/schemas/__init__.py").is_file() {
            Ok(())
        } else {
            Err(format!(
                "LAVA's job schema (lava_common) is not in {}; .ci/run unpacks it from Debian's lava-common",
                packages.display()
            ))
        },
    );
    let probe = Command::new("python3")
        .args(["-c", "import voluptuous"])
        .output()
        .expect("python3");
    require(if probe.status.success() {
        Ok(())
    } else {
        Err("Python's voluptuous (pip install voluptuous)".to_string())
    });
    let job = workspace().join("scripts/lava/qemu-job.yaml");
    // The same job with its test definition's repository left out.
    let broken_dir = tempfile::tempdir().expect("temp dir");
    let broken = broken_dir.path().join("broken.yaml");
    let job_text = std::fs::read_to_string(&job).unwrap();
    let without_repository: String = job_text
        .lines()
        .filter(|l| !l.trim_start().starts_with("- repository:"))
        .map(|l| l.replace("          from: git", "        - from: git") + "\n")
        .collect();
    std::fs::write(&broken, without_repository).unwrap();
    let output = Command::new("python3")
        .args(["-c", JOB_SCHEMA_PY])
        .arg(packages)
        .arg(&job)
        .arg(&broken)
        .output()
        .expect("python3");
    let all = text(&output);
    let lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 2, "{all}");
    assert_eq!(lines[0], format!("VALID {}", job.display()), "{all}");
    assert!(
        lines[1].starts_with(&format!("INVALID {}:", broken.display()))
            && lines[1].contains("repository"),
        "{all}"
    );
}

crate::tests![
    a_clean_run_of_the_collection_under_the_kernels_runner_reads_as_success,
    a_crashed_experiment_fails_the_collection_and_the_kernels_parser,
    bad_input_is_a_kselftest_failure_never_xfail_and_all_skipped_is_a_skip,
    the_lava_definition_reports_each_claim_and_experiment_under_lavas_own_helpers,
    the_sample_qemu_job_passes_lavas_own_job_schema,
];
