//! Comparing runs with baselines, and KTAP output, through the real harness binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{harness_bin, HarnessRun};

/// Runs the harness with exactly these arguments.
/// The harness in a terminal wide enough for one line per table row, which
/// these tests read row by row (the 80-column layout is tested in `matrix`).
fn harness(args: &[&str]) -> Output {
    Command::new(harness_bin())
        .args(args)
        .env("COLUMNS", "1000")
        .output()
        .expect("run the harness")
}

fn describe(args: &[&str], output: &Output) -> String {
    format!(
        "command: harness {}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_code(args: &[&str], output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "unexpected exit code\n{}",
        describe(args, output)
    );
}

/// Asserts exit 2 with one line on stderr that contains every needle.
fn assert_bad_input(args: &[&str], needles: &[&str]) {
    let output = harness(args);
    assert_code(args, &output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line\n{}",
        describe(args, &output)
    );
    for n in needles {
        assert!(stderr.contains(n), "no {n:?}\n{}", describe(args, &output));
    }
}

/// One KTAP result line with the nested results before it.
#[derive(Debug)]
struct TapTest {
    ok: bool,
    name: String,
    directive: Option<String>,
    subtests: Vec<TapTest>,
}

/// Parses KTAP version 1 and checks its structure: a version line opens every
/// level, the plan follows, results are numbered from 1 without gaps, their
/// count matches the plan, and nested levels are indented by two spaces.
fn parse_ktap(text: &str) -> Vec<TapTest> {
    let lines: Vec<&str> = text.lines().collect();
    let mut pos = 0;
    let tests = parse_level(&lines, &mut pos, 0);
    let rest: Vec<_> = lines[pos..]
        .iter()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(
        rest.is_empty(),
        "lines after the last result: {rest:?}\n{text}"
    );
    tests
}

fn parse_level(lines: &[&str], pos: &mut usize, depth: usize) -> Vec<TapTest> {
    let indent = "  ".repeat(depth);
    assert_eq!(
        lines.get(*pos).copied(),
        Some(format!("{indent}KTAP version 1").as_str()),
        "no version line at line {pos}"
    );
    *pos += 1;
    while lines[*pos].starts_with(&format!("{indent}#")) {
        *pos += 1;
    }
    let plan: usize = lines[*pos]
        .strip_prefix(&format!("{indent}1.."))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no plan at line {pos}: {:?}", lines[*pos]));
    *pos += 1;
    let mut tests = Vec::new();
    let mut nested = Vec::new();
    while let Some(line) = lines.get(*pos) {
        if *line == format!("{indent}  KTAP version 1") {
            assert!(
                nested.is_empty(),
                "two nested blocks before one result at line {pos}"
            );
            nested = parse_level(lines, pos, depth + 1);
            continue;
        }
        let Some(own) = line.strip_prefix(&indent).filter(|l| !l.starts_with(' ')) else {
            break;
        };
        if own.starts_with('#') {
            *pos += 1;
            continue;
        }
        let (ok, rest) = if let Some(rest) = own.strip_prefix("ok ") {
            (true, rest)
        } else if let Some(rest) = own.strip_prefix("not ok ") {
            (false, rest)
        } else {
            break;
        };
        let (number, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        assert_eq!(
            number.parse::<usize>().ok(),
            Some(tests.len() + 1),
            "numbering at line {pos}: {line:?}"
        );
        let (name, directive) = match rest.split_once(" # ") {
            Some((name, directive)) => (name, Some(directive.to_string())),
            None => (rest, None),
        };
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)),
            "unsafe test name {name:?}"
        );
        tests.push(TapTest {
            ok,
            name: name.to_string(),
            directive,
            subtests: std::mem::take(&mut nested),
        });
        *pos += 1;
    }
    assert!(nested.is_empty(), "a nested block without its result line");
    assert_eq!(
        tests.len(),
        plan,
        "plan 1..{plan} but {} results",
        tests.len()
    );
    tests
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("results.json parses")
}

/// Beyond-tolerance rows of the comparison table as `variant checkpoint process metric`.
fn beyond_rows(table: &str) -> Vec<String> {
    table
        .lines()
        .filter(|l| l.contains("BEYOND TOLERANCE"))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(4)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Data rows (after the rule) of the section whose title starts with `title`.
fn section_rows(table: &str, title: &str) -> Vec<String> {
    let Some(start) = table.find(&format!("== {title}")) else {
        return Vec::new();
    };
    table[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.trim_start().starts_with("---"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn two_quick_runs_compare_clean_and_a_doctored_copy_names_exactly_its_rows() {
    let baselines = tempfile::tempdir().expect("temp dir");
    let dir = baselines.path().display().to_string();
    // One run (a saved baseline repeats 3 times unless told): two single runs.
    let first = HarnessRun::new(&[
        "run",
        "mmap-file",
        "--quick",
        "--repeat",
        "1",
        "--format",
        "json",
        "--save-baseline",
        "first",
        "--baseline-dir",
        &dir,
    ]);
    first.assert_code(0);
    let saved = baselines.path().join("first").join("results.json");
    assert_eq!(
        read_json(&saved),
        first.json(),
        "the saved baseline is the run\n{}",
        first.describe()
    );

    // The second run is compared as it runs; KTAP on stdout, the table on stderr.
    let second = HarnessRun::new(&[
        "run",
        "mmap-file",
        "--quick",
        "--format",
        "tap",
        "--baseline",
        "first",
        "--baseline-dir",
        &dir,
    ]);
    second.assert_code(0);
    let stdout = String::from_utf8_lossy(&second.output.stdout);
    let tests = parse_ktap(&stdout);
    assert_eq!(tests.len(), 1, "{}", second.describe());
    let exp = &tests[0];
    assert!(exp.ok && exp.name == "mmap-file", "{}", second.describe());
    assert!(exp.subtests.iter().all(|t| t.ok), "{}", second.describe());
    for v in ["warm", "cold", "cold-random"] {
        let name = format!("{v}.metrics");
        assert!(
            exp.subtests.iter().any(|t| t.name == name),
            "no {name}\n{}",
            second.describe()
        );
    }
    assert!(second.run_dir().join("comparison.md").is_file());

    let old = first.run_dir().join("results.json");
    let new = second.run_dir().join("results.json");
    let (old_s, new_s) = (old.display().to_string(), new.display().to_string());
    let args = ["compare", old_s.as_str(), new_s.as_str()];
    let output = harness(&args);
    assert_code(&args, &output, 0);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        beyond_rows(&table).is_empty(),
        "{}",
        describe(&args, &output)
    );
    // A claim a disturbed run left undecided (reclaim took a page of a
    // cached file) changes "not judged on one side": shown, not a failure;
    // any other verdict change fails.
    let verdict_changes = section_rows(&table, "Claims whose verdict changed");
    for row in &verdict_changes {
        assert!(
            row.contains("not judged on one side"),
            "{row}\n{}",
            describe(&args, &output)
        );
        println!("SKIP: a claim undecided in one of two identical runs: {row}");
    }
    assert!(
        table.contains("no change beyond tolerance") || !verdict_changes.is_empty(),
        "{}",
        describe(&args, &output)
    );

    // A copy with one fault count far beyond tolerance, one flipped verdict and
    // another kernel string.
    let mut doctored = read_json(&new);
    doctored["environment"]["kernel"] = Value::from("7.0.0-doctored");
    let exp = &mut doctored["experiments"][0];
    let warm = exp["variants"]
        .as_array_mut()
        .and_then(|vs| vs.iter_mut().find(|v| v["name"] == "warm"))
        .expect("warm");
    // The state the warm file started from as in the first run (reclaim may
    // have made one of the two runs read pages back, which leaves the warm
    // metrics not compared): only the fault count differs.
    let old_warm = read_json(&old)["experiments"][0]["variants"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == "warm").cloned())
        .expect("warm in the first run");
    warm["notes"]["pages_reread_to_warm"] = old_warm["notes"]["pages_reread_to_warm"].clone();
    let read_all = warm["checkpoints"]
        .as_array_mut()
        .and_then(|cs| cs.iter_mut().find(|c| c["label"] == "after-read-all"))
        .expect("after-read-all");
    let minor = read_all["processes"][0]["faults"]["minor"]
        .as_u64()
        .expect("minor");
    read_all["processes"][0]["faults"]["minor"] = Value::from(minor * 10 + 100);
    let claim = exp["claims"]
        .as_array_mut()
        .and_then(|cs| {
            cs.iter_mut()
                .find(|c| c["id"] == "mmap-adds-no-rss" && c["variant"] == "cold")
        })
        .expect("claim");
    assert_eq!(
        claim["verdict"], "confirmed",
        "the doctoring assumes a confirmed claim"
    );
    claim["verdict"] = Value::from("refuted");
    let scratch = tempfile::tempdir().expect("temp dir");
    let doctored_path: PathBuf = scratch.path().join("doctored.json");
    std::fs::write(
        &doctored_path,
        serde_json::to_string(&doctored).expect("json"),
    )
    .expect("write");
    let doc_s = doctored_path.display().to_string();

    let args = ["compare", old_s.as_str(), doc_s.as_str()];
    let output = harness(&args);
    assert_code(&args, &output, 1);
    let table = String::from_utf8_lossy(&output.stdout);
    let why = describe(&args, &output);
    assert_eq!(
        beyond_rows(&table),
        ["warm after-read-all main minor_faults"],
        "{why}"
    );
    assert_eq!(
        section_rows(&table, "Claims whose verdict changed"),
        ["mmap-file cold mmap-adds-no-rss confirmed refuted REGRESSION"],
        "{why}"
    );
    let env = section_rows(&table, "Environment differences");
    assert_eq!(env.len(), 1, "{why}");
    assert!(
        env[0].starts_with("kernel ") && env[0].ends_with(" 7.0.0-doctored"),
        "{why}"
    );

    // The same comparison as KTAP: exactly the flipped claim and the warm metrics fail.
    let args = ["compare", "--format", "tap", old_s.as_str(), doc_s.as_str()];
    let output = harness(&args);
    assert_code(&args, &output, 1);
    let tests = parse_ktap(&String::from_utf8_lossy(&output.stdout));
    let failed: Vec<_> = tests[0]
        .subtests
        .iter()
        .filter(|t| !t.ok)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        failed,
        ["cold.mmap-adds-no-rss", "warm.metrics"],
        "{}",
        describe(&args, &output)
    );
    assert!(!tests[0].ok);
}

fn a_skipped_experiment_is_a_ktap_skip_with_its_reason_and_exits_4() {
    let run = HarnessRun::new(&["run", "mmap-file", "--size", "1KiB", "--format", "tap"]);
    // Every experiment of the run was skipped: kselftest's KSFT_SKIP.
    run.assert_code(4);
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert!(
        stderr.contains("every experiment was skipped") && stderr.contains("too small"),
        "{}",
        run.describe()
    );
    let tests = parse_ktap(&String::from_utf8_lossy(&run.output.stdout));
    assert_eq!(tests.len(), 1, "{}", run.describe());
    let directive = tests[0].directive.as_deref().unwrap_or("");
    assert!(
        tests[0].ok && directive.starts_with("SKIP ") && directive.contains("too small"),
        "{}",
        run.describe()
    );
}

fn bad_baselines_and_tolerances_exit_2_with_one_line_and_overwrite_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/runs/mmap-file-quick.json"
    );
    std::fs::write(
        path("garbage.json"),
        "{ \"format_version\": 1, \"experiments\": [",
    )
    .expect("write");
    let newer = std::fs::read_to_string(fixture).expect("fixture").replacen(
        "\"format_version\": 1",
        "\"format_version\": 2",
        1,
    );
    std::fs::write(path("newer.json"), newer).expect("write");

    let missing = path("missing.json");
    assert_bad_input(&["compare", &missing, fixture], &[&missing, "no such file"]);
    let garbage = path("garbage.json");
    assert_bad_input(
        &["compare", fixture, &garbage],
        &[&garbage, "not a vmlab results.json"],
    );
    let newer = path("newer.json");
    assert_bad_input(&["compare", &newer, fixture], &[&newer, "format_version 2"]);
    assert_bad_input(
        &["compare", "--tolerance", "faults=lots", fixture, fixture],
        &["bad tolerance 'faults=lots'", "whole number"],
    );
    // See: this tolerance wrapped and reported 22 false regressions.
    assert_bad_input(
        &[
            "compare",
            "--tolerance",
            "memory=4503599627370480pages",
            fixture,
            fixture,
        ],
        &["memory=4503599627370480pages", "at most"],
    );

    // A bad baseline stops a run before it starts, and the baseline to be
    // saved is left as it was.
    let baselines = dir.path().join("baselines");
    std::fs::create_dir_all(baselines.join("keep")).expect("mkdir");
    std::fs::write(baselines.join("keep").join("results.json"), "old").expect("write");
    std::fs::create_dir_all(baselines.join("broken")).expect("mkdir");
    std::fs::write(baselines.join("broken").join("results.json"), "[]").expect("write");
    let b = baselines.display().to_string();
    for args in [
        ["--baseline", "nosuch", "--save-baseline", "keep"],
        ["--baseline", "broken", "--save-baseline", "keep"],
        ["--tolerance", "time=5%", "--save-baseline", "keep"],
        ["--baseline", "../x", "--save-baseline", "keep"],
    ] {
        let run = HarnessRun::new(
            &[
                &["run", "mmap-file", "--quick", "--baseline-dir", &b],
                &args[..],
            ]
            .concat(),
        );
        run.assert_code(2);
        assert!(
            !run.out.path().join("latest").exists(),
            "a run happened\n{}",
            run.describe()
        );
        let keep =
            std::fs::read_to_string(baselines.join("keep").join("results.json")).expect("read");
        assert_eq!(
            keep,
            "old",
            "the baseline was overwritten\n{}",
            run.describe()
        );
    }
}

fn a_repeated_baseline_records_each_metrics_spread_and_a_fresh_run_compares_clean() {
    let baselines = tempfile::tempdir().expect("temp dir");
    let dir = baselines.path().display().to_string();
    let repeated = HarnessRun::new(&[
        "run",
        "mmap-file",
        "--quick",
        "--repeat",
        "3",
        "--format",
        "json",
        "--save-baseline",
        "three",
        "--baseline-dir",
        &dir,
    ]);
    repeated.assert_code(0);
    let json = repeated.json();
    let why = repeated.describe();
    assert_eq!(json["repeats"]["count"], 3, "{why}");
    let spread = json["repeats"]["spread"].as_array().expect("spread");
    assert!(!spread.is_empty(), "{why}");
    for s in spread {
        let (min, median, max) = (
            s["min"].as_i64().expect("min"),
            s["median"].as_i64().expect("median"),
            s["max"].as_i64().expect("max"),
        );
        assert!(min <= median && median <= max, "{s}\n{why}");
        assert_eq!(s["runs"], 3, "{s}\n{why}");
    }
    // The record keeps one run's variants; the saved baseline carries the spread.
    assert_eq!(
        json["experiments"][0]["variants"].as_array().map(Vec::len),
        Some(4),
        "{why}"
    );
    let saved = read_json(&baselines.path().join("three").join("results.json"));
    assert_eq!(saved["repeats"], json["repeats"], "{why}");

    let fresh = HarnessRun::new(&[
        "run",
        "mmap-file",
        "--quick",
        "--baseline",
        "three",
        "--baseline-dir",
        &dir,
    ]);
    fresh.assert_code(0);
    // The policy is prose wrapped to the terminal: read as one line.
    let stdout = String::from_utf8_lossy(&fresh.output.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        stdout.contains("the spread (min..max) of the baseline's 3 runs"),
        "{}",
        fresh.describe()
    );
}

/// A stand-in `mmap-file` in a temporary folder, for runs that must crash.
fn crashing_experiments() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let bins = tempfile::tempdir().expect("temp dir");
    let path = bins.path().join("vmlab-mmap-file");
    std::fs::write(
        &path,
        "#!/bin/sh\necho \"vmlab-protocol 1 ready pid=$$ page_size=4096\"; read go; exit 7\n",
    )
    .expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bins
}

fn bisect_mode_exits_0_good_1_bad_125_cannot_test_and_128_on_bad_input() {
    let good = HarnessRun::new(&["run", "tiny-malloc", "--quick", "--bisect"]);
    good.assert_code(0);
    let stderr = String::from_utf8_lossy(&good.output.stderr);
    assert!(
        stderr.contains("bisect: exit 0, good"),
        "{}",
        good.describe()
    );

    let bins = crashing_experiments();
    let bad = HarnessRun::with_env(
        &["run", "mmap-file", "--quick", "--bisect"],
        &[("VMLAB_EXPERIMENTS_DIR", bins.path())],
    );
    bad.assert_code(1);

    let skipped = HarnessRun::new(&["run", "mmap-file", "--size", "1KiB", "--bisect"]);
    skipped.assert_code(125);
    let stderr = String::from_utf8_lossy(&skipped.output.stderr);
    assert!(
        stderr.contains("bisect: exit 125, cannot test: mmap-file:"),
        "{}",
        skipped.describe()
    );

    let broken = HarnessRun::new(&[
        "run",
        "mmap-file",
        "--quick",
        "--bisect",
        "--tolerance",
        "memory=4503599627370480pages",
    ]);
    broken.assert_code(128);
    let stderr = String::from_utf8_lossy(&broken.output.stderr);
    assert!(stderr.contains("at most"), "{}", broken.describe());
}

crate::tests![
    two_quick_runs_compare_clean_and_a_doctored_copy_names_exactly_its_rows,
    a_skipped_experiment_is_a_ktap_skip_with_its_reason_and_exits_4,
    bad_baselines_and_tolerances_exit_2_with_one_line_and_overwrite_nothing,
    a_repeated_baseline_records_each_metrics_spread_and_a_fresh_run_compares_clean,
    bisect_mode_exits_0_good_1_bad_125_cannot_test_and_128_on_bad_input,
];
