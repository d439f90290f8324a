//! KTAP rendering of small records built from a saved real run.

use super::*;
use crate::compare::{compare, Tolerances};
use crate::model::Verdict;

const FIXTURE: &str = include_str!("../../../tests/fixtures/runs/mmap-file-quick.json");

/// The fixture with three claims of the warm variant: one confirmed, one
/// inconclusive, one refuted as declared in advance.
fn small_run() -> RunRecord {
    let mut run = crate::report::json::parse(FIXTURE).expect("fixture");
    run.environment.kernel = "6.18.44-test".into();
    let e = &mut run.experiments[0];
    e.claims.retain(|c| c.variant.as_deref() == Some("warm"));
    e.claims.truncate(3);
    e.claims[1].verdict = Verdict::Inconclusive;
    e.claims[1].evidence = "precondition not met:\nfile not cached".into();
    e.claims[2].verdict = Verdict::Refuted;
    e.claims[2] = e.claims[2]
        .clone()
        .expecting(Verdict::Refuted, "fault-around maps 16 pages");
    run
}

#[test]
fn claims_render_as_nested_ktap_with_skip_and_xfail() {
    let mut run = small_run();
    let mut skipped = run.experiments[0].clone();
    skipped.name = "fork cow".into();
    skipped.status = Status::Skipped;
    skipped.reason = Some("needs root".into());
    skipped.claims.clear();
    run.experiments.push(skipped);
    let out = render(&run, None);
    let expected = "\
KTAP version 1
# vmlab 0.1.0 on 6.18.44-test (x86_64, page size 4096 bytes, THP madvise), --quick sizes
1..2
  KTAP version 1
  1..3
  ok 1 mmap-file.warm.mmap-grows-vsz-by-mapping-size
  ok 2 mmap-file.warm.mmap-adds-no-rss # SKIP precondition not met: file not cached
  # refuted as expected: 256 pages (1.0 MiB) of the file became resident; the seed saw 1 page (4 KiB). That is more than fault-around alone maps (64.0 KiB, the kernel default; debugfs is not readable here): consistent with the page cache holding the file in large folios (it was written 1048576 bytes per write) and the fault mapping the whole folio it hit. 'Few' here means at most 2.0 MiB, the most one fault can map.
  ok 3 mmap-file.warm.first-read-makes-few-pages-resident # XFAIL fault-around maps 16 pages
ok 1 mmap-file
ok 2 fork_cow # SKIP needs root
# subtests: pass:1 fail:0 xfail:1 skip:1
";
    assert_eq!(out, expected, "got:\n{out}");
}

#[test]
fn an_unexpected_refutation_is_a_finding_not_a_failure() {
    let mut run = small_run();
    run.experiments[0].claims[0].verdict = Verdict::Refuted;
    let out = render(&run, None);
    assert!(
        out.contains("  # finding: this kernel refutes the claim: VmSize grew"),
        "{out}"
    );
    assert!(
        out.contains("  ok 1 mmap-file.warm.mmap-grows-vsz-by-mapping-size\n"),
        "{out}"
    );
    assert!(!out.contains("not ok"), "{out}");
}

#[test]
fn with_a_baseline_regressions_are_failed_subtests() {
    let old = small_run();
    let mut new = small_run();
    new.experiments[0].claims[0].verdict = Verdict::Refuted;
    for c in &mut new.experiments[0].variants[0].checkpoints {
        if c.label == "after-read-all" {
            c.processes[0].faults.minor += 500;
        }
    }
    let cmp = compare(&old, &new, Tolerances::default());
    let out = render(&new, Some(&cmp));
    assert!(
        out.contains("  not ok 1 mmap-file.warm.mmap-grows-vsz-by-mapping-size\n"),
        "{out}"
    );
    assert!(out.contains("  not ok 4 mmap-file.warm.metrics\n"), "{out}");
    assert!(out.contains("  ok 5 mmap-file.cold.metrics\n"), "{out}");
    assert!(out.contains("  # regression: after-read-all main minor_faults: 69 in the baseline, 569 now (+500, tolerance ±16)"), "{out}");
    assert!(out.contains("\n  1..5\n"), "{out}");
    assert!(out.contains("\nnot ok 1 mmap-file\n"), "{out}");
}

#[test]
fn a_failed_experiment_is_an_error_and_names_stay_unique_and_safe() {
    let mut run = small_run();
    run.experiments[0].status = Status::Failed;
    run.experiments[0].reason = Some("variant cold failed".into());
    let mut twin = run.experiments[0].claims[0].clone();
    twin.id = "mmap grows#vsz".into();
    run.experiments[0].claims.push(twin.clone());
    run.experiments[0].claims.push(twin);
    let out = render(&run, None);
    assert!(
        out.contains("\nnot ok 1 mmap-file # ERROR variant cold failed\n"),
        "{out}"
    );
    assert!(
        out.contains("  ok 4 mmap-file.warm.mmap_grows_vsz\n"),
        "{out}"
    );
    assert!(
        out.contains("  ok 5 mmap-file.warm.mmap_grows_vsz-2\n"),
        "{out}"
    );
}

#[test]
fn an_empty_run_has_an_empty_plan() {
    let mut run = small_run();
    run.experiments.clear();
    let out = render(&run, None);
    assert!(out.starts_with("KTAP version 1\n"));
    assert!(out.contains("\n1..0\n"), "{out}");
}
