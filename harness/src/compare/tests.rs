//! Comparison of records built from a saved real run.

use super::*;
use crate::compare::tolerance::ToleranceSetting;

const FIXTURE: &str = crate::experiment::testkit::RECORDED_RUN_JSON;

fn run() -> RunRecord {
    crate::store::json::parse(FIXTURE).expect("the fixture parses")
}

/// The fixture's experiment, whichever it is.
fn name() -> String {
    run().experiments[0].name.clone()
}

/// The first claim the fixture judged on its warm variant.
fn warm_claim() -> String {
    run().experiments[0]
        .claims
        .iter()
        .find(|c| c.variant.as_deref() == Some("warm"))
        .expect("a claim judged on the warm variant")
        .id
        .clone()
}

fn variant_mut<'a>(run: &'a mut RunRecord, name: &str) -> &'a mut VariantRecord {
    run.experiments[0]
        .variants
        .iter_mut()
        .find(|v| v.name == name)
        .expect("variant")
}

fn checkpoint_mut<'a>(run: &'a mut RunRecord, variant: &str, label: &str) -> &'a mut ProcessRecord {
    variant_mut(run, variant)
        .checkpoints
        .iter_mut()
        .find(|c| c.label == label)
        .expect("checkpoint")
        .processes
        .iter_mut()
        .find(|p| p.role == "main")
        .expect("main")
}

fn beyond(cmp: &Comparison) -> Vec<String> {
    cmp.beyond_tolerance()
        .map(|m| {
            format!(
                "{}/{}/{}/{}/{}",
                m.experiment, m.variant, m.checkpoint, m.process, m.metric
            )
        })
        .collect()
}

#[test]
fn a_run_compared_with_itself_has_no_change() {
    let cmp = compare(&run(), &run(), Tolerances::default());
    assert!(!cmp.regressed());
    assert!(cmp.environment.is_empty());
    assert!(cmp.not_compared.is_empty(), "{:?}", cmp.not_compared);
    assert!(cmp.metrics.iter().all(|m| m.change == Change::Unchanged));
    assert_eq!(cmp.claims.len(), run().experiments[0].claims.len());
    assert!(!cmp.metrics.is_empty());
}

#[test]
fn a_fault_count_beyond_tolerance_is_the_only_regression() {
    let old = run();
    let mut new = run();
    checkpoint_mut(&mut new, "warm", "after-read-all")
        .faults
        .minor *= 10;
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(cmp.regressed());
    assert_eq!(
        beyond(&cmp),
        [format!("{}/warm/after-read-all/main/minor_faults", name())]
    );
    assert_eq!(cmp.flipped_claims().count(), 0);
    let m = cmp.beyond_tolerance().next().expect("one");
    assert_eq!(m.change, Change::Increased);
}

#[test]
fn a_change_within_tolerance_is_not_a_regression() {
    let old = run();
    let mut new = run();
    // One page more of page tables after reading: within 2 pages + 1%.
    let p = checkpoint_mut(&mut new, "cold", "after-read-all");
    p.totals.pte_bytes += 4096;
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(!cmp.regressed());
    let changed: Vec<_> = cmp
        .metrics
        .iter()
        .filter(|m| m.change != Change::Unchanged)
        .map(|m| (m.metric.as_str(), m.change))
        .collect();
    assert_eq!(changed, [("pte_bytes_change", Change::WithinTolerance)]);
    // The same change with no page of tolerance is beyond it.
    let strict = Tolerances::with(&[
        ToleranceSetting::MemoryPages(0),
        ToleranceSetting::MemoryPercent(0.0),
        ToleranceSetting::ProcessPages(0),
    ]);
    assert_eq!(
        beyond(&compare(&old, &new, strict)),
        [format!(
            "{}/cold/after-read-all/main/pte_bytes_change",
            name()
        )]
    );
}

#[test]
fn a_flipped_verdict_and_a_new_kernel_are_reported() {
    let old = run();
    let mut new = run();
    new.environment.kernel = "7.0.0-test".into();
    let claim = new.experiments[0]
        .claims
        .iter_mut()
        .find(|c| c.id == warm_claim() && c.variant.as_deref() == Some("warm"))
        .expect("claim");
    claim.verdict = Verdict::Refuted;
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(cmp.regressed());
    let fields: Vec<_> = cmp.environment.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["kernel"]);
    let flipped: Vec<_> = cmp
        .flipped_claims()
        .map(|c| (c.variant.as_deref(), c.id.as_str()))
        .collect();
    assert_eq!(flipped, [(Some("warm"), warm_claim().as_str())]);
    assert!(beyond(&cmp).is_empty());
}

#[test]
fn another_page_size_compares_verdicts_only_and_says_so() {
    let old = run();
    let mut new = run();
    new.environment.page_size = 16384;
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(cmp.metrics.is_empty());
    assert_eq!(cmp.claims.len(), old.experiments[0].claims.len());
    assert!(
        cmp.not_compared
            .iter()
            .any(|n| n.contains("page size differs")),
        "{:?}",
        cmp.not_compared
    );
    assert!(!cmp.regressed());
}

#[test]
fn other_experiments_and_variants_are_listed_as_not_compared() {
    let old = run();
    let mut new = run();
    new.experiments[0].variants.retain(|v| v.name == "warm");
    new.experiments[0]
        .claims
        .retain(|c| c.variant.as_deref() == Some("warm"));
    let mut extra = new.experiments[0].clone();
    extra.name = "another-experiment".into();
    new.experiments.push(extra);
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(!cmp.regressed());
    let text = cmp.not_compared.join("\n");
    assert!(
        text.contains("another-experiment: not in the baseline"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}/cold: in the baseline only", name())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{}/cold: claim {}: judged in the baseline only",
            name(),
            warm_claim()
        )),
        "{text}"
    );
    assert!(cmp.compared_variant(&name(), "warm"));
    assert!(!cmp.compared_variant(&name(), "cold"));
}

#[test]
fn different_parameters_compare_verdicts_only() {
    let old = run();
    let mut new = run();
    new.experiments[0]
        .params
        .insert("file_bytes".into(), serde_json::json!(1 << 30));
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(cmp.metrics.is_empty());
    assert!(
        cmp.not_compared[0].contains("file_bytes 67108864 → 1073741824"),
        "{:?}",
        cmp.not_compared
    );
}

#[test]
fn the_table_lists_environment_claims_then_metrics_beyond_tolerance_first() {
    let old = run();
    let mut new = run();
    new.environment.thp_enabled = "always".into();
    checkpoint_mut(&mut new, "cold", "after-read-all")
        .totals
        .pte_bytes += 4096;
    checkpoint_mut(&mut new, "warm", "after-read-all")
        .faults
        .minor += 1000;
    new.experiments[0].claims[0].verdict = Verdict::Inconclusive;
    let cmp = compare(&old, &new, Tolerances::default());
    let text = crate::report::comparison::text(&cmp, "v6.18");
    let env = text.find("Environment differences").expect("env section");
    let claims = text
        .find("Claims whose verdict changed")
        .expect("claims section");
    let metrics = text.find("Metrics that changed").expect("metrics section");
    assert!(env < claims && claims < metrics, "{text}");
    let beyond_at = text.find("BEYOND TOLERANCE").expect("beyond");
    let within_at = text.find("within tolerance\n").expect("within");
    assert!(beyond_at < within_at, "{text}");
    // The verdict is the last paragraph (wrapped to the terminal).
    assert!(
        text.trim_end()
            .rsplit("\n\n")
            .next()
            .is_some_and(|l| l.starts_with("REGRESSION")),
        "{text}"
    );
}

#[test]
fn a_decrease_beyond_tolerance_is_a_change_with_its_direction_not_a_regression() {
    let old = run();
    let mut new = run();
    checkpoint_mut(&mut new, "warm", "after-read-all")
        .faults
        .minor = 0;
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(!cmp.regressed());
    let m = cmp.beyond_tolerance().next().expect("one");
    assert_eq!(
        (m.change, m.change.direction()),
        (Change::Decreased, "decreased")
    );
    assert!(crate::report::comparison::summary(&cmp).starts_with("no regression, but changes"));
}

#[test]
fn a_verdict_that_one_run_could_not_judge_is_a_change_not_a_regression() {
    let old = run();
    let mut new = run();
    new.experiments[0].claims[0].verdict = Verdict::Inconclusive;
    let cmp = compare(&old, &new, Tolerances::default());
    assert_eq!(cmp.flipped_claims().count(), 1);
    assert!(!cmp.regressed());
    assert_eq!(
        VerdictChange::of(Verdict::Confirmed, Verdict::Refuted),
        VerdictChange::Flipped
    );
    assert_eq!(
        VerdictChange::of(Verdict::Refuted, Verdict::Inconclusive),
        VerdictChange::Judgement
    );
}

#[test]
fn the_spread_of_repeats_is_min_median_max_of_each_metric() {
    let one = run();
    let mut two = run();
    let mut three = run();
    checkpoint_mut(&mut two, "warm", "after-read-all")
        .faults
        .minor = 300;
    checkpoint_mut(&mut three, "warm", "after-read-all")
        .faults
        .minor = 10;
    let variants: Vec<&VariantRecord> = [&one, &two, &three]
        .iter()
        .map(|r| {
            r.experiments[0]
                .variants
                .iter()
                .find(|v| v.name == "warm")
                .expect("warm")
        })
        .collect();
    let spread = spread(&name(), &variants, 4096);
    let minor = spread
        .iter()
        .find(|s| s.checkpoint == "after-read-all" && s.metric == "minor_faults")
        .expect("minor faults");
    assert_eq!(
        (minor.min, minor.median, minor.max, minor.runs),
        (10, 69, 300, 3)
    );
    // Every metric a comparison would list is there, once.
    let listed = compare(&one, &one, Tolerances::default())
        .metrics
        .iter()
        .filter(|m| m.variant == "warm")
        .count();
    assert_eq!(spread.len(), listed);
}

#[test]
fn a_repeated_baseline_flags_only_what_falls_outside_its_spread_widened_by_the_tolerance() {
    let mut old = run();
    old.repeats = Some(crate::model::Repeats {
        count: 3,
        spread: vec![MetricSpread {
            experiment: name(),
            variant: "warm".into(),
            checkpoint: "after-read-all".into(),
            process: "main".into(),
            metric: "minor_faults".into(),
            min: 10,
            median: 69,
            max: 300,
            runs: 3,
        }],
        unstable: Vec::new(),
    });
    // The band around the median (69) is 16 faults: 300 + 16 is still noise.
    let mut within = run();
    checkpoint_mut(&mut within, "warm", "after-read-all")
        .faults
        .minor = 316;
    let cmp = compare(&old, &within, Tolerances::default());
    assert!(beyond(&cmp).is_empty(), "{:?}", beyond(&cmp));
    assert!(!cmp.regressed());
    let m = cmp
        .metrics
        .iter()
        .find(|m| {
            m.variant == "warm" && m.checkpoint == "after-read-all" && m.metric == "minor_faults"
        })
        .expect("row");
    assert_eq!(m.baseline_text(), "69 (10..300)");
    let mut beyond_it = run();
    checkpoint_mut(&mut beyond_it, "warm", "after-read-all")
        .faults
        .minor = 317;
    let cmp = compare(&old, &beyond_it, Tolerances::default());
    assert_eq!(
        beyond(&cmp),
        [format!("{}/warm/after-read-all/main/minor_faults", name())]
    );
    assert!(cmp.regressed());
    // Without the spread, 316 is far beyond 69 ± 16.
    let single = run();
    assert!(compare(&single, &within, Tolerances::default()).regressed());
}

#[test]
fn process_counts_are_volatile_but_process_limits_are_not() {
    let old = run();
    let mut new = run();
    new.environment.processes_running = new.environment.processes_running.map(|n| n + 5);
    new.environment.cgroup_pids_current = Some(12_345);
    assert!(compare(&old, &new, Tolerances::default())
        .environment
        .is_empty());
    new.environment.pid_max = Some(99);
    let cmp = compare(&old, &new, Tolerances::default());
    let fields: Vec<_> = cmp.environment.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["pid_max"]);
}

#[test]
fn provenance_fields_that_differ_are_environment_differences_but_the_command_line_is_not() {
    let fixture = FIXTURE;
    let mut old = crate::store::json::parse(fixture).expect("fixture");
    old.provenance = crate::provenance::Provenance::detect_in(
        &crate::system::Root::live(),
        &["harness".into(), "--save-baseline".into(), "x".into()],
    );
    let mut new = old.clone();
    new.provenance.command_line = "harness --baseline x".into();
    new.provenance.swappiness = "10".into();
    new.provenance.kernel_config = "/proc/config.gz fnv1a64:0000000000000001".into();
    let cmp = compare(&old, &new, Tolerances::default());
    let fields: Vec<&str> = cmp.environment.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"swappiness"), "{fields:?}");
    assert!(fields.contains(&"kernel_config"), "{fields:?}");
    assert!(!fields.contains(&"command_line"), "{fields:?}");
    // A record of an older version, without provenance, is not flagged.
    let mut older = old.clone();
    older.provenance = Default::default();
    let cmp = compare(&older, &new, Tolerances::default());
    assert!(!cmp.environment.iter().any(|e| e.field == "swappiness"));
}

// See: issue 25. Pages read back to warm the file come back in other folios,
// so the read phases' faults are not comparable when that count differs.
#[test]
fn a_warm_file_warmed_differently_is_not_compared_and_says_why() {
    let old = run();
    let mut new = run();
    let warm = variant_mut(&mut new, "warm");
    warm.notes
        .insert("pages_reread_to_warm".into(), "30".into());
    checkpoint_mut(&mut new, "warm", "after-read-all")
        .faults
        .minor += 30;
    let cmp = compare(&old, &new, Tolerances::default());
    assert!(!cmp.regressed(), "{:?}", beyond(&cmp));
    let why = cmp
        .not_compared
        .iter()
        .find(|w| w.starts_with(&format!("{}/warm:", name())))
        .expect("the warm variant is listed as not compared");
    assert!(why.contains("pages_reread_to_warm"), "{why}");
    assert!(why.contains("30 now"), "{why}");
    assert!(
        cmp.metrics.iter().all(|m| m.variant != "warm"),
        "no metric of the warm variant is compared"
    );
    // The same count on both sides compares as before: the extra faults regress.
    let mut old = old;
    variant_mut(&mut old, "warm")
        .notes
        .insert("pages_reread_to_warm".into(), "30".into());
    assert!(compare(&old, &new, Tolerances::default()).regressed());
}

// See: issue 22. A THP variant whose huge-page faults fell back to small pages
// counts other faults and page tables: not comparable, both counts given.
#[test]
fn a_variant_whose_thp_faults_fell_back_is_not_compared_and_gives_both_counts() {
    // The fixture's warm variant, dressed as the THP variant of the
    // experiment that declares the fallback condition: what is
    // compared is only whether its counter moved between its checkpoints.
    use experiments::catalog::lazy_alloc::{checkpoint, variant, INFO};
    let (thp_on, counted_at) = (variant::THP_ON, checkpoint::AFTER_WRITE_SECOND_CHUNK);
    let listed = format!("{}/{thp_on}:", INFO.name);
    let as_thp = |fallback_now: u64| {
        let mut run = run();
        run.experiments[0].name = INFO.name.into();
        run.experiments[0].claims.clear();
        let v = variant_mut(&mut run, "warm");
        v.name = thp_on.into();
        for c in &mut v.checkpoints {
            let moved = c.label == "after-read-all";
            if moved {
                c.label = counted_at.into();
            }
            c.system = Some(crate::model::SystemCounters {
                vmstat: Some(crate::model::VmstatCounters {
                    thp_fault_fallback: Some(100 + if moved { fallback_now } else { 0 }),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        run
    };
    let cmp = compare(&as_thp(0), &as_thp(0), Tolerances::default());
    assert!(
        cmp.not_compared.iter().all(|w| !w.starts_with(&listed)),
        "{:?}",
        cmp.not_compared
    );
    assert!(cmp.metrics.iter().any(|m| m.variant == thp_on));
    let mut new = as_thp(7);
    checkpoint_mut(&mut new, thp_on, counted_at).faults.minor *= 10;
    let cmp = compare(&as_thp(0), &new, Tolerances::default());
    assert!(!cmp.regressed(), "{:?}", beyond(&cmp));
    let why = cmp
        .not_compared
        .iter()
        .find(|w| w.starts_with(&listed))
        .expect("thp-on is listed as not compared");
    assert!(
        why.contains("thp_fault_fallback +0 in the baseline, +7 now"),
        "{why}"
    );
    assert!(cmp.metrics.iter().all(|m| m.variant != thp_on));
}
