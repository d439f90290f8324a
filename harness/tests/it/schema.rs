//! results.json against its published JSON Schema (results/results.schema.json,
//! generated from the Rust types; a unit test keeps the file current), checked
//! by an independent validator: Python's jsonschema (draft 2020-12), which
//! `.ci/run` installs. Real runs of every kind are validated: every experiment
//! (here a repeated run and a trace run; `all --quick` in engines.rs, a host
//! matrix kernel in ktap.rs), the committed reference run, and the test
//! fixture; a tampered record must be refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::HarnessRun;

/// Validates each file named on the command line; prints `VALID path` or
/// `INVALID path: error` per file (at most three errors each).
const VALIDATE_PY: &str = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    errors = sorted(validator.iter_errors(json.load(open(path))), key=lambda e: list(e.path))
    if errors:
        for e in errors[:3]:
            print("INVALID", path + ":", "/".join(map(str, e.path)) + ":", e.message[:300])
    else:
        print("VALID", path)
"#;

fn schema_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(harness::store::json::SCHEMA_PATH)
}

fn validator() -> Result<(), String> {
    let probe = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if probe.status.success() {
        Ok(())
    } else {
        Err("Python's jsonschema (pip install jsonschema)".into())
    }
}

/// The validator's verdict on each file: `VALID path` or `INVALID path: ...`.
fn validate(files: &[&Path]) -> Vec<String> {
    crate::engines::require(validator());
    let output = Command::new("python3")
        .args(["-c", VALIDATE_PY])
        .arg(schema_file())
        .args(files)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "the validator failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Asserts that the results.json at `path` validates (`what` names the run).
pub(crate) fn assert_valid(path: &Path, what: &str) {
    let verdicts = validate(&[path]);
    assert_eq!(
        verdicts,
        [format!("VALID {}", path.display())],
        "{what}: {} does not validate against {}",
        path.display(),
        schema_file().display()
    );
}

fn a_repeated_run_a_trace_run_the_reference_run_and_the_fixture_validate() {
    let repeated = HarnessRun::new(&["run", "mmap-file", "--quick", "--repeat", "2", "-q"]);
    repeated.assert_code(0);
    let repeated_json = repeated.run_dir().join("results.json");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&repeated_json).unwrap()).unwrap();
    assert_eq!(record["repeats"]["count"], 2, "{}", repeated.describe());

    // A traced program that stops itself once: one checkpoint.
    let traced_out = tempfile::tempdir().expect("temp dir");
    let traced = Command::new(crate::util::harness_bin())
        .args(["trace", "-q", "--out"])
        .arg(traced_out.path())
        .args(["--", "/bin/sh", "-c", "kill -STOP $$; true"])
        .output()
        .expect("run harness trace");
    let traced_describe = format!(
        "harness trace: {}
--- stderr
{}",
        traced.status,
        String::from_utf8_lossy(&traced.stderr)
    );
    assert_eq!(traced.status.code(), Some(0), "{traced_describe}");
    let traced_json = traced_out.path().join("latest/results.json");

    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![repeated_json.clone(), traced_json.clone()];
    // The committed reference runs (other folders there are local runs).
    for entry in std::fs::read_dir(workspace.join("results")).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path().join("results.json");
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("reference-")
            && path.is_file()
        {
            files.push(path);
        }
    }
    files.push(workspace.join("harness/tests/fixtures/runs/mmap-file-quick.json"));
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let verdicts = validate(&refs);
    let expected: Vec<String> = files
        .iter()
        .map(|f| format!("VALID {}", f.display()))
        .collect();
    assert_eq!(
        verdicts,
        expected,
        "{}\n{traced_describe}",
        repeated.describe()
    );
}

fn a_tampered_results_json_is_refused() {
    let run = crate::util::shared_run(&["run", "mmap-file", "--quick", "--format", "junit"]);
    run.assert_code(0);
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.run_dir().join("results.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir().expect("temp dir");
    type Tamper = fn(&mut serde_json::Value);
    let tampers: [(&str, Tamper); 6] = [
        ("a verdict that does not exist", |r| {
            r["experiments"][0]["claims"][0]["verdict"] = "maybe".into()
        }),
        ("another format version", |r| r["format_version"] = 2.into()),
        ("no experiments", |r| {
            r.as_object_mut().unwrap().remove("experiments");
        }),
        ("a byte count as text", |r| {
            r["experiments"][0]["variants"][0]["checkpoints"][0]["processes"][0]["totals"]
                ["rss_bytes"] = "4 KiB".into()
        }),
        ("a negative fault count", |r| {
            r["experiments"][0]["variants"][0]["checkpoints"][0]["processes"][0]["faults"]
                ["minor"] = (-1).into()
        }),
        ("a status that does not exist", |r| {
            r["experiments"][0]["status"] = "fine".into()
        }),
    ];
    let mut files = Vec::new();
    for (i, (_, tamper)) in tampers.iter().enumerate() {
        let mut record = original.clone();
        tamper(&mut record);
        let path = dir.path().join(format!("tampered-{i}.json"));
        std::fs::write(&path, record.to_string()).unwrap();
        files.push(path);
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let verdicts = validate(&refs);
    for ((what, _), path) in tampers.iter().zip(&files) {
        let prefix = format!("INVALID {}:", path.display());
        assert!(
            verdicts.iter().any(|v| v.starts_with(&prefix)),
            "{what} was not refused: {verdicts:?}"
        );
        assert!(
            !verdicts.contains(&format!("VALID {}", path.display())),
            "{what}: {verdicts:?}"
        );
    }
}

crate::tests![
    a_repeated_run_a_trace_run_the_reference_run_and_the_fixture_validate,
    a_tampered_results_json_is_refused,
];
