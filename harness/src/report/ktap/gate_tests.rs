//! KTAP of a run that gates a kernel: strict judging, comparisons that could
//! not compare, metric directions, hangs, ASCII and provenance.

use super::*;
use crate::compare::{compare, Tolerances};
use crate::model::{Precondition, Status, Verdict, KERNEL_PRECONDITION};
use crate::outcome::RunVerdict;

const FIXTURE: &str = include_str!("../../../tests/fixtures/runs/mmap-file-quick.json");

fn run() -> RunRecord {
    let mut run = crate::store::json::parse(FIXTURE).expect("fixture");
    run.experiments[0]
        .claims
        .retain(|c| c.variant.as_deref() == Some("warm"));
    run.experiments[0].claims.truncate(2);
    for c in &mut run.experiments[0].claims {
        c.verdict = Verdict::Confirmed;
        c.expected = None;
    }
    run
}

fn verdict(run: &RunRecord, cmp: Option<&Comparison>) -> RunVerdict {
    let against = cmp.map_or(Against::Nothing, Against::Baseline);
    let v = RunVerdict::of(run, &outcome::run_cases(run, against));
    match cmp {
        Some(cmp) => v.compared(cmp),
        None => v,
    }
}

#[test]
fn under_strict_an_undeclared_refutation_is_not_ok_and_exits_1() {
    let mut r = run();
    r.experiments[0].claims[0].verdict = Verdict::Refuted;
    assert_eq!(
        verdict(&r, None).exit_code(),
        0,
        "a finding without --strict"
    );
    r.gate.strict = true;
    let out = render(&r, None);
    assert!(
        out.contains("  not ok 1 warm.mmap-grows-vsz-by-mapping-size\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  # strict: this kernel refutes the writing's claim and no refutation was declared: "
        ),
        "{out}"
    );
    assert_eq!(verdict(&r, None).exit_code(), 1);
    assert_eq!(verdict(&r, None).bisect_code(), 1);
    // A declared refutation stays an XFAIL.
    r.experiments[0].claims[0] = r.experiments[0].claims[0]
        .clone()
        .expecting(Verdict::Refuted, "known");
    assert!(!render(&r, None).contains("not ok"));
}

#[test]
fn a_claims_files_strict_claim_fails_without_the_runs_strict() {
    let mut r = run();
    r.experiments[0].claims[1].verdict = Verdict::Refuted;
    r.experiments[0].claims[1].strict = true;
    let out = render(&r, None);
    assert!(out.contains("  not ok 2 warm.mmap-adds-no-rss\n"), "{out}");
    assert_eq!(verdict(&r, None).exit_code(), 1);
}

#[test]
fn a_precondition_the_kernel_left_unmet_fails_under_strict_and_the_environments_skips() {
    let mut r = run();
    let c = &mut r.experiments[0].claims[0];
    c.verdict = Verdict::Inconclusive;
    c.evidence = format!("{KERNEL_PRECONDITION}no huge page arrived; /proc/vmstat over the phase: thp_fault_alloc +0, thp_fault_fallback +32");
    c.precondition = Precondition::of_reason(&c.evidence);
    assert_eq!(c.precondition, Some(Precondition::Kernel));
    let e = &mut r.experiments[0].claims[1];
    e.verdict = Verdict::Inconclusive;
    e.evidence = "precondition not met: needs root".into();
    e.precondition = Precondition::of_reason(&e.evidence);
    assert_eq!(e.precondition, Some(Precondition::Environment));
    let out = render(&r, None);
    assert!(
        out.contains(
            "  ok 1 warm.mmap-grows-vsz-by-mapping-size # SKIP precondition not met by the kernel"
        ),
        "{out}"
    );
    r.gate.strict = true;
    let out = render(&r, None);
    assert!(
        out.contains("  not ok 1 warm.mmap-grows-vsz-by-mapping-size\n"),
        "{out}"
    );
    assert!(out.contains("thp_fault_fallback +32"), "{out}");
    assert!(
        out.contains("  ok 2 warm.mmap-adds-no-rss # SKIP precondition not met: needs root\n"),
        "{out}"
    );
    assert_eq!(verdict(&r, None).exit_code(), 1);
}

#[test]
fn a_hang_is_a_timeout_directive() {
    let mut r = run();
    let e = &mut r.experiments[0];
    e.status = Status::Failed;
    e.variants[0].status = Status::Failed;
    e.variants[0].reason = Some(
        crate::error::RunnerError::Timeout {
            checkpoint: "after-mmap".into(),
            after: std::time::Duration::from_secs(1),
        }
        .to_string(),
    );
    let out = render(&r, None);
    assert!(
        out.contains("  not ok 1 warm.mmap-grows-vsz-by-mapping-size # TIMEOUT variant warm failed: timed out after 1s"),
        "{out}"
    );
    assert!(out.contains("\nnot ok 1 mmap-file # TIMEOUT "), "{out}");
    assert!(!out.contains("# ERROR"), "{out}");
}

#[test]
fn every_line_is_ascii() {
    let mut r = run();
    r.experiments[0].claims[0].verdict = Verdict::Inconclusive;
    r.experiments[0].claims[0].evidence = "Σ Rss ± 2 pages → 16 MiB… µs “quoted” 日本".into();
    let out = render(&r, None);
    assert!(out.is_ascii(), "{out}");
    assert!(
        out.contains("# SKIP sum  Rss +/- 2 pages -> 16 MiB... us \"quoted\" \\u{65e5}\\u{672c}"),
        "{out}"
    );
}

#[test]
fn a_run_whose_every_variant_skipped_exits_4() {
    let mut r = run();
    for v in &mut r.experiments[0].variants {
        v.status = Status::Skipped;
        v.reason = Some("no disk here".into());
    }
    let v = verdict(&r, None);
    assert_eq!(v.exit_code(), 4, "{v:?}");
    assert_eq!(v.bisect_code(), 125);
}

#[test]
fn a_comparison_of_other_sizes_skips_each_variant_and_exits_4_or_fails_when_required() {
    let old = run();
    let mut new = run();
    new.experiments[0]
        .params
        .insert("file_bytes".into(), serde_json::json!(1u64 << 27));
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(cmp.metrics.is_empty());
    let out = render(&new, Some(&cmp));
    assert!(
        out.contains("  ok 3 warm.metrics # SKIP not compared: mmap-file: metrics not compared, the parameters differ (file_bytes 67108864 -> 134217728)"),
        "{out}"
    );
    assert!(
        out.contains("  ok 4 cold.metrics # SKIP not compared: "),
        "{out}"
    );
    assert!(
        out.contains("# nothing was compared with the baseline"),
        "{out}"
    );
    let v = verdict(&new, Some(&cmp));
    assert_eq!(v.exit_code(), 4, "{v:?}");
    assert_eq!(v.bisect_code(), 125);
    new.gate.require_comparable = true;
    let out = render(&new, Some(&cmp));
    assert!(out.contains("  not ok 3 warm.metrics\n"), "{out}");
    assert!(
        out.contains("  # --require-comparable: not compared: "),
        "{out}"
    );
    assert_eq!(verdict(&new, Some(&cmp)).exit_code(), 1);
}

#[test]
fn fewer_huge_pages_is_a_regression_and_fewer_faults_a_change() {
    let mut old = run();
    let mut new = run();
    for (r, huge) in [(&mut old, 16u64 << 20), (&mut new, 0)] {
        for v in &mut r.experiments[0].variants {
            for c in &mut v.checkpoints {
                for p in &mut c.processes {
                    for region in &mut p.regions {
                        region.figures.anon_huge_pages_bytes = huge;
                    }
                }
            }
        }
    }
    let cmp = compare(&old, &new, Tolerances::default());
    let huge: Vec<_> = cmp
        .metrics
        .iter()
        .filter(|m| m.metric.ends_with("anon_huge_pages_bytes"))
        .collect();
    assert!(!huge.is_empty());
    assert!(huge.iter().all(|m| m.is_regression()), "{huge:?}");
    assert!(cmp.regressed());
    let out = render(&new, Some(&cmp));
    assert!(
        out.contains(
            "anon_huge_pages_bytes: 16777216 in the baseline, 0 now (-16777216, decreased)"
        ),
        "{out}"
    );
    assert_eq!(verdict(&new, Some(&cmp)).exit_code(), 1);
}

#[test]
fn the_header_carries_the_provenance() {
    let mut r = run();
    r.provenance = crate::provenance::Provenance::detect_in(
        &crate::system::Root::live(),
        &["harness".into(), "run".into(), "mmap-file".into()],
    );
    let out = render(&r, None);
    let header: Vec<&str> = out
        .lines()
        .take_while(|l| l.starts_with('#') || !l.starts_with(' '))
        .collect();
    let header = header.join("\n");
    assert!(header.contains("# vmlab 0.1.0 git "), "{header}");
    assert!(
        header.contains("; command: harness run mmap-file"),
        "{header}"
    );
    assert!(header.contains("# kernel: compiler "), "{header}");
    assert!(
        header.contains("# memory settings: swappiness "),
        "{header}"
    );
    assert!(!header.contains("null"), "{header}");
}
