//! KTAP rendering of small records built from a saved real run.

use super::*;
use crate::compare::{compare, Tolerances};
use crate::model::{Status, Verdict};
use crate::outcome::RunVerdict;

const FIXTURE: &str = include_str!("../../../tests/fixtures/runs/mmap-file-quick.json");

/// The fixture with three claims of the warm variant: one confirmed, one
/// inconclusive, one refuted as declared in advance.
fn small_run() -> RunRecord {
    let mut run = crate::store::json::parse(FIXTURE).expect("fixture");
    run.environment.kernel = "6.18.44-test".into();
    let e = &mut run.experiments[0];
    e.claims.retain(|c| c.variant.as_deref() == Some("warm"));
    e.claims.truncate(3);
    e.claims[1].verdict = Verdict::Inconclusive;
    e.claims[1].evidence = "precondition not met:\nfile not cached".into();
    e.claims[2].verdict = Verdict::Refuted;
    e.claims[2].evidence = "256 pages became resident".into();
    e.claims[2] = e.claims[2]
        .clone()
        .expecting(Verdict::Refuted, "fault-around maps 16 pages");
    run
}

fn skipped(name: &str, reason: &str) -> crate::model::ExperimentRecord {
    let mut e = small_run().experiments[0].clone();
    e.name = name.into();
    e.status = Status::Skipped;
    e.reason = Some(reason.into());
    e.claims.clear();
    e.variants.clear();
    e
}

#[test]
fn claims_render_as_nested_ktap_with_subtest_lines_skip_xfail_and_totals() {
    let mut run = small_run();
    run.experiments.push(skipped("fork cow", "needs root"));
    let out = render(&run, None);
    let expected = "\
KTAP version 1
1..2
# vmlab 0.1.0 on 6.18.44-test (x86_64, page size 4096 bytes, THP madvise), --quick sizes
# 9 statements of the writings: 1 upheld, 0 refuted, 8 undecided
  KTAP version 1
  # Subtest: mmap-file
  1..3
  ok 1 warm.mmap-grows-vsz-by-mapping-size
  ok 2 warm.mmap-adds-no-rss # SKIP precondition not met: file not cached
  # refuted as declared: 256 pages became resident
  ok 3 warm.first-read-makes-few-pages-resident # XFAIL fault-around maps 16 pages
ok 1 mmap-file
ok 2 fork_cow # SKIP needs root
# Totals: pass:1 fail:0 xfail:1 xpass:0 skip:2 error:0
";
    assert_eq!(out, expected, "got:\n{out}");
}

#[test]
fn an_undeclared_refutation_is_a_finding_not_a_failure() {
    let mut run = small_run();
    run.experiments[0].claims[0].verdict = Verdict::Refuted;
    let out = render(&run, None);
    assert!(
        out.contains("  # finding: this kernel refutes the writing's claim: VmSize grew"),
        "{out}"
    );
    assert!(
        out.contains("  ok 1 warm.mmap-grows-vsz-by-mapping-size\n"),
        "{out}"
    );
    assert!(!out.contains("not ok"), "{out}");
}

#[test]
fn a_declared_refutation_that_did_not_happen_is_an_xpass() {
    let mut run = small_run();
    run.experiments[0].claims[2].verdict = Verdict::Confirmed;
    let out = render(&run, None);
    assert!(
        out.contains(
            "  ok 3 warm.first-read-makes-few-pages-resident # XPASS fault-around maps 16 pages\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("# Totals: pass:1 fail:0 xfail:0 xpass:1 skip:1 error:0\n"),
        "{out}"
    );
}

#[test]
fn with_a_baseline_a_flip_and_an_increase_fail_and_a_decrease_is_a_change() {
    let old = small_run();
    let mut new = small_run();
    new.experiments[0].claims[0].verdict = Verdict::Refuted;
    for v in &mut new.experiments[0].variants {
        for c in &mut v.checkpoints {
            if c.label == "after-read-all" {
                if v.name == "warm" {
                    c.processes[0].faults.minor += 500;
                } else {
                    c.processes[0].faults.minor = 0;
                }
            }
        }
    }
    let cmp = compare(&old, &new, Tolerances::default());
    let out = render(&new, Some(&cmp));
    assert!(
        out.contains("  not ok 1 warm.mmap-grows-vsz-by-mapping-size\n"),
        "{out}"
    );
    assert!(out.contains("  not ok 4 warm.metrics\n"), "{out}");
    assert!(
        out.contains("  # regression: after-read-all main minor_faults: 69 in the baseline, 569 now (+500, increased)"),
        "{out}"
    );
    // The cold variant's faults dropped to 0: reported with its direction, not failed.
    assert!(out.contains("  ok 5 cold.metrics\n"), "{out}");
    assert!(
        out.contains("  # change: after-read-all main minor_faults: 442 in the baseline, 0 now (-442, decreased)"),
        "{out}"
    );
    assert!(out.contains("\n  1..5\n"), "{out}");
    assert!(out.contains("\nnot ok 1 mmap-file\n"), "{out}");
    let cases = crate::outcome::run_cases(&new, Against::Baseline(&cmp));
    assert_eq!(RunVerdict::of(&new, &cases).exit_code(), 1);
}

#[test]
fn a_claim_that_one_run_could_not_judge_is_a_change_not_a_regression() {
    let old = small_run();
    let mut new = small_run();
    new.experiments[0].claims[0].verdict = Verdict::Inconclusive;
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(!cmp.regressed());
    let out = render(&new, Some(&cmp));
    assert!(!out.contains("not ok"), "{out}");
    assert!(out.contains("# change (not a regression"), "{out}");
}

#[test]
fn every_claim_of_a_failed_variant_is_an_error_leaf_naming_every_failed_variant() {
    let mut run = small_run();
    let e = &mut run.experiments[0];
    for v in &mut e.variants {
        v.status = Status::Failed;
        v.reason = Some(format!("{} crashed:\nexit 7", v.name));
    }
    e.status = Status::Failed;
    e.reason = Some("variant warm failed".into());
    let out = render(&run, None);
    assert!(
        out.contains("\nnot ok 1 mmap-file # ERROR variant warm failed: warm crashed: exit 7; variant cold failed: cold crashed: exit 7\n"),
        "{out}"
    );
    assert!(
        out.contains("  not ok 1 warm.mmap-grows-vsz-by-mapping-size # ERROR variant warm failed: warm crashed: exit 7\n"),
        "{out}"
    );
    // The cold variant has no claims here, so it is an error leaf itself.
    assert!(
        out.contains("  not ok 4 cold # ERROR variant cold failed: cold crashed: exit 7\n"),
        "{out}"
    );
    assert!(
        out.ends_with("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:0 error:4\n"),
        "{out}"
    );
    assert!(
        !out.contains("\n  ok "),
        "no leaf of a failed variant passes:\n{out}"
    );
}

#[test]
fn names_stay_unique_and_safe_and_never_repeat_the_parent() {
    let mut run = small_run();
    let mut twin = run.experiments[0].claims[0].clone();
    twin.id = "mmap grows#vsz".into();
    run.experiments[0].claims.push(twin.clone());
    run.experiments[0].claims.push(twin);
    let out = render(&run, None);
    assert!(out.contains("  ok 4 warm.mmap_grows_vsz\n"), "{out}");
    assert!(out.contains("  ok 5 warm.mmap_grows_vsz-2\n"), "{out}");
    assert!(!out.contains(" mmap-file.warm"), "{out}");
}

#[test]
fn a_run_where_every_experiment_was_skipped_says_why_and_exits_4() {
    let mut run = small_run();
    run.experiments = vec![skipped("mmap-file", "no room for the file")];
    let out = render(&run, None);
    assert!(out.starts_with("KTAP version 1\n1..1\n"), "{out}");
    assert!(
        out.contains(
            "# every experiment was skipped, whole or variant by variant: mmap-file: no room for the file\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("ok 1 mmap-file # SKIP no room for the file\n"),
        "{out}"
    );
    let cases = crate::outcome::run_cases(&run, Against::Nothing);
    let verdict = RunVerdict::of(&run, &cases);
    assert_eq!(verdict.exit_code(), 4);
    assert_eq!(verdict.bisect_code(), 125);
}

#[test]
fn bisect_codes_are_good_bad_and_cannot_test() {
    let run = small_run();
    let cases = crate::outcome::run_cases(&run, Against::Nothing);
    assert_eq!(RunVerdict::of(&run, &cases).bisect_code(), 0);
    let mut partly = small_run();
    partly.experiments.push(skipped("strip", "no strip(1)"));
    let cases = crate::outcome::run_cases(&partly, Against::Nothing);
    assert_eq!(RunVerdict::of(&partly, &cases).exit_code(), 0);
    assert_eq!(RunVerdict::of(&partly, &cases).bisect_code(), 125);
    let mut failed = small_run();
    failed.experiments[0].status = Status::Failed;
    failed.experiments[0].variants[0].status = Status::Failed;
    let cases = crate::outcome::run_cases(&failed, Against::Nothing);
    assert_eq!(RunVerdict::of(&failed, &cases).bisect_code(), 1);
}

#[test]
fn the_matrix_fails_a_claim_that_differs_from_the_reference_and_a_kernel_without_results() {
    let reference = small_run();
    let mut other = small_run();
    other.experiments[0].claims[0].verdict = Verdict::Refuted;
    let columns = vec![
        ("debian:6.1".to_string(), Ok(&reference)),
        ("host".to_string(), Ok(&other)),
        (
            "debian:6.12".to_string(),
            Err("timed out\nconsole tail".to_string()),
        ),
    ];
    let cases = crate::outcome::kernel_cases(&columns);
    let out = write(&cases, &[]);
    assert!(
        out.starts_with("KTAP version 1\n1..3\n  KTAP version 1\n  # Subtest: debian_6.1\n"),
        "{out}"
    );
    assert!(out.contains("\nok 1 debian_6.1\n"), "{out}");
    assert!(
        out.contains("    # regression: confirmed in the reference kernel debian:6.1, refuted now"),
        "{out}"
    );
    assert!(
        out.contains("    not ok 1 warm.mmap-grows-vsz-by-mapping-size\n"),
        "{out}"
    );
    assert!(out.contains("\nnot ok 2 host\n"), "{out}");
    assert!(
        out.contains("\nnot ok 3 debian_6.12 # ERROR no results: timed out console tail\n"),
        "{out}"
    );
}
