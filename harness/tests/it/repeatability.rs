//! Identical runs must give identical verdicts: the quick suite of every
//! experiment runs several times through the real harness binary, and any claim
//! whose verdict differs between runs fails the test, listed with its verdict in
//! every run.
//!
//! Three runs bound the test's time; `VMLAB_REPEAT_RUNS=8 cargo test -p harness
//! --test it repeatability -- --nocapture` runs more by hand (8 were run on the
//! reference machine before the criteria were last changed). Two of the runs
//! are the quick runs of every experiment that the terminal and KTAP tests
//! make anyway: those differ from the others only in how stdout is printed,
//! and the verdicts are read from each run's `results.json`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::util::HarnessRun;

/// Runs of the quick suite when `VMLAB_REPEAT_RUNS` is not set.
const DEFAULT_RUNS: usize = 3;

/// `experiment variant claim` → verdict and measured figure, for one run.
fn verdicts(json: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in json["experiments"].as_array().into_iter().flatten() {
        for c in e["claims"].as_array().into_iter().flatten() {
            let key = format!(
                "{} {} {}",
                e["name"].as_str().unwrap_or("?"),
                c["variant"].as_str().unwrap_or("-"),
                c["id"].as_str().unwrap_or("?")
            );
            let verdict = c["verdict"].as_str().unwrap_or("?");
            let measured = c["measured"].as_str().unwrap_or_default();
            out.insert(key, format!("{verdict} [{measured}]"));
        }
    }
    out
}

/// The verdict part of a `verdict [measured]` entry.
fn verdict_of(entry: &str) -> &str {
    entry.split(" [").next().unwrap_or(entry)
}

/// The claims whose verdicts are not the same in every run, each with its
/// verdict (and measured figure) per run (`missing` where a run did not judge it).
fn flips(runs: &[BTreeMap<String, String>]) -> Vec<String> {
    let mut keys: Vec<&String> = runs.iter().flat_map(|r| r.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let seen: Vec<&str> = runs
                .iter()
                .map(|r| r.get(key).map_or("missing", String::as_str))
                .collect();
            let first = verdict_of(seen[0]);
            (seen.iter().any(|v| verdict_of(v) != first))
                .then(|| format!("{key}: {}", seen.join(", ")))
        })
        .collect()
}

fn identical_quick_runs_give_identical_verdicts() {
    let runs: usize = std::env::var("VMLAB_REPEAT_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_RUNS)
        .max(2);
    let mut all = Vec::with_capacity(runs);
    for i in 0..runs {
        let run = quick_run_of_all(i);
        run.assert_code(0);
        let v = verdicts(&results_of(&run));
        assert!(!v.is_empty(), "run {i} judged no claim\n{}", run.describe());
        all.push(v);
    }
    let differing = flips(&all);
    println!(
        "{runs} quick runs, {} claims each, {} differing",
        all[0].len(),
        differing.len()
    );
    // A claim the machine disturbed in one run (reclaim took a cached file's
    // pages, a machine-wide counter moved for another reason) says
    // inconclusive there: shown, not failed. A verdict that turns into its
    // opposite, or a claim one run did not judge, fails.
    let (disturbed, opposite): (Vec<&String>, Vec<&String>) =
        differing.iter().partition(|f| only_to_inconclusive(f));
    for f in &disturbed {
        println!("SKIP: inconclusive in some runs, not a flip to the opposite: {f}");
    }
    assert!(
        opposite.is_empty(),
        "verdicts that differ between {runs} identical quick runs (one column per run):\n{}",
        opposite
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The `i`th quick run of every experiment: the two that other tests share
/// first, then runs of this test's own.
fn quick_run_of_all(i: usize) -> Arc<HarnessRun> {
    match i {
        0 => crate::terminal::all_quick_at_80(),
        1 => crate::util::shared_run(crate::ktap::ALL_QUICK_TAP),
        _ => Arc::new(HarnessRun::new(&["all", "--quick", "--format", "json"])),
    }
}

/// The run record a run wrote to its results folder.
fn results_of(run: &HarnessRun) -> Value {
    let file = run.run_dir().join("results.json");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("read {} ({e})\n{}", file.display(), run.describe()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e})\n{}", file.display(), run.describe()))
}

/// True when a flip line's verdicts are one verdict and `inconclusive`.
fn only_to_inconclusive(flip: &str) -> bool {
    let Some((_, verdicts)) = flip.split_once(": ") else {
        return false;
    };
    let mut decided: Vec<&str> = verdicts
        .split(", ")
        .map(|v| verdict_of(v.trim()))
        .filter(|v| *v != "inconclusive")
        .collect();
    decided.dedup();
    let mut kinds = decided.clone();
    kinds.sort_unstable();
    kinds.dedup();
    kinds.len() <= 1 && !kinds.contains(&"missing")
}

fn a_verdict_that_differs_between_runs_is_reported() {
    let run = |verdict: &str| {
        BTreeMap::from([
            ("e v a".to_string(), "confirmed".to_string()),
            ("e v b".to_string(), verdict.to_string()),
        ])
    };
    assert!(flips(&[run("refuted"), run("refuted")]).is_empty());
    // A measured figure that moves is not a flip; a verdict that does is.
    assert!(flips(&[run("refuted [3 pages]"), run("refuted [4 pages]")]).is_empty());
    assert_eq!(
        flips(&[run("refuted [3 pages]"), run("confirmed [1 page]")]),
        ["e v b: refuted [3 pages], confirmed [1 page]"]
    );
    assert_eq!(
        flips(&[run("refuted"), run("confirmed"), run("refuted")]),
        ["e v b: refuted, confirmed, refuted"]
    );
    // Only to inconclusive and back is a disturbed run, not a flip to the
    // opposite; the test shows it and does not fail on it.
    assert!(only_to_inconclusive(
        "e v b: confirmed [0 B], inconclusive [8 pages re-read], confirmed [0 B]"
    ));
    assert!(!only_to_inconclusive(
        "e v b: confirmed, inconclusive, refuted"
    ));
    assert!(!only_to_inconclusive("e v a: confirmed, missing"));
    let mut missing = run("refuted");
    missing.remove("e v a");
    assert_eq!(
        flips(&[run("refuted"), missing]),
        ["e v a: confirmed, missing"]
    );
}

crate::tests![
    identical_quick_runs_give_identical_verdicts,
    a_verdict_that_differs_between_runs_is_reported,
];
