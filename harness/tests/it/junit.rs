//! `--format junit` read by a real consumer: Python's junitparser (what many
//! CI integrations use to read JUnit XML), which `.ci/run` installs. Each
//! figure it reads is checked against the results.json of the same run.

use std::path::Path;
use std::process::Command;

use crate::util::HarnessRun;

/// Prints what junitparser reads: `SUITE name tests failures errors skipped`,
/// `CASE suite name result message` (result: passed, skipped, failure, error)
/// and `PROPERTY name value` for the first suite's environment.
const JUNITPARSER_PY: &str = r#"
import sys
from junitparser import JUnitXml, Skipped, Failure, Error
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    print("SUITE", suite.name, suite.tests, suite.failures, suite.errors, suite.skipped)
    for case in suite:
        kind, message = "passed", ""
        for r in case.result:
            if isinstance(r, Skipped):
                kind = "skipped"
            elif isinstance(r, Failure):
                kind = "failure"
            elif isinstance(r, Error):
                kind = "error"
            message = r.message or ""
        print("CASE", suite.name, case.name, kind, message)
for suite in xml:
    for p in suite.properties():
        if p.name.startswith("environment."):
            print("PROPERTY", p.name, p.value)
    break
"#;

fn junitparser() -> Result<(), String> {
    let probe = Command::new("python3")
        .args(["-c", "import junitparser"])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if probe.status.success() {
        Ok(())
    } else {
        Err("Python's junitparser (pip install junitparser)".into())
    }
}

/// junitparser's reading of the run's stdout.
fn read(run: &HarnessRun) -> Vec<String> {
    crate::engines::require(junitparser());
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, &run.output.stdout).expect("write");
    let output = Command::new("python3")
        .args(["-c", JUNITPARSER_PY])
        .arg(&file)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "junitparser failed\n--- stderr\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        run.describe()
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect()
}

fn record(run_dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("results.json")).unwrap()).unwrap()
}

fn a_quick_run_reads_in_junitparser_one_case_per_claim_skips_with_their_reasons() {
    let run = crate::util::shared_run(&["run", "mmap-file", "--quick", "--format", "junit"]);
    run.assert_code(0);
    let lines = read(&run);
    let why = format!("{}\n--- junitparser\n{}", run.describe(), lines.join("\n"));
    let record = record(&run.run_dir());
    let claims = record["experiments"][0]["claims"].as_array().unwrap();
    let inconclusive: Vec<&serde_json::Value> = claims
        .iter()
        .filter(|c| c["verdict"] == "inconclusive")
        .collect();
    assert_eq!(
        lines[0],
        format!(
            "SUITE mmap-file {} 0 0 {}",
            claims.len(),
            inconclusive.len()
        ),
        "{why}"
    );
    let cases: Vec<&String> = lines.iter().filter(|l| l.starts_with("CASE ")).collect();
    assert_eq!(cases.len(), claims.len(), "{why}");
    for (claim, case) in claims.iter().zip(&cases) {
        let name = format!(
            "{}.{}",
            claim["variant"].as_str().unwrap(),
            claim["id"].as_str().unwrap()
        );
        let evidence = claim["evidence"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let expected = if claim["verdict"] == "inconclusive" {
            format!("CASE mmap-file {name} skipped {evidence}")
        } else {
            format!("CASE mmap-file {name} passed ")
        };
        assert_eq!(case.as_str(), expected, "{why}");
    }
    let env = &record["environment"];
    for field in ["kernel", "page_size", "thp_enabled"] {
        let value = match &env[field] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let expected = format!("PROPERTY environment.{field} {value}");
        assert!(lines.contains(&expected), "{expected}\n{why}");
    }
}

fn a_crashed_experiment_is_a_junit_error_with_its_reason() {
    let bins = tempfile::tempdir().expect("temp dir");
    let path = bins.path().join("vmlab-mmap-file");
    std::fs::write(
        &path,
        "#!/bin/sh\necho \"vmlab-protocol 1 ready pid=$$ page_size=4096\"; read go; \
         echo 'out of cheese' >&2; exit 7\n",
    )
    .expect("write script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = HarnessRun::with_env(
        &["run", "mmap-file", "--quick", "--format", "junit"],
        &[("VMLAB_EXPERIMENTS_DIR", bins.path())],
    );
    run.assert_code(1);
    let lines = read(&run);
    let why = format!("{}\n--- junitparser\n{}", run.describe(), lines.join("\n"));
    let suite: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(&suite[..2], ["SUITE", "mmap-file"], "{why}");
    let tests: usize = suite[2].parse().unwrap();
    assert!(tests > 0, "{why}");
    assert_eq!(suite[4], suite[2], "every case is an error: {why}");
    let cases: Vec<&String> = lines.iter().filter(|l| l.starts_with("CASE ")).collect();
    assert_eq!(cases.len(), tests, "{why}");
    for case in cases {
        let fields: Vec<&str> = case.splitn(5, ' ').collect();
        assert_eq!(fields[3], "error", "{why}");
        assert!(
            fields[4].starts_with("variant ") && fields[4].contains(" failed: "),
            "{case}\n{why}"
        );
    }
}

crate::tests![
    a_quick_run_reads_in_junitparser_one_case_per_claim_skips_with_their_reasons,
    a_crashed_experiment_is_a_junit_error_with_its_reason,
];
