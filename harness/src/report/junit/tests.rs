//! JUnit rendering of small records built from a saved real run, read back
//! with an XML parser.

use super::*;
use crate::model::{Status, Verdict};

const FIXTURE: &str = include_str!("../../../tests/fixtures/runs/mmap-file-quick.json");

/// The fixture's warm variant with three claims: confirmed, inconclusive, and
/// refuted as declared; plus a skipped experiment.
fn small_run() -> RunRecord {
    let mut run = crate::store::json::parse(FIXTURE).expect("fixture");
    let e = &mut run.experiments[0];
    e.claims.retain(|c| c.variant.as_deref() == Some("warm"));
    e.claims.truncate(3);
    e.claims[1].verdict = Verdict::Inconclusive;
    e.claims[1].evidence = "precondition not met: file <not> \"cached\" & \u{1} gone".into();
    e.claims[2].verdict = Verdict::Refuted;
    e.claims[2] = e.claims[2]
        .clone()
        .expecting(Verdict::Refuted, "fault-around maps 16 pages");
    let mut skipped = e.clone();
    skipped.name = "fork-cow".into();
    skipped.status = Status::Skipped;
    skipped.reason = Some("needs root".into());
    skipped.claims.clear();
    skipped.variants.clear();
    run.experiments.push(skipped);
    run
}

fn parse(xml: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"))
}

#[test]
fn one_suite_per_experiment_one_case_per_claim_with_skip_reasons() {
    let xml = render(&small_run(), None);
    let doc = parse(&xml);
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2);
    assert_eq!(suites[0].attribute("name"), Some("mmap-file"));
    assert_eq!(suites[0].attribute("tests"), Some("3"));
    assert_eq!(suites[0].attribute("skipped"), Some("1"));
    assert_eq!(suites[0].attribute("failures"), Some("0"));
    let cases: Vec<_> = suites[0]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(
        cases[1].attribute("name"),
        Some("warm.mmap-adds-no-rss"),
        "{xml}"
    );
    let skip = cases[1]
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .expect("skipped");
    // Markup and control characters survive as text.
    assert_eq!(
        skip.attribute("message"),
        Some("precondition not met: file <not> \"cached\" & \u{FFFD} gone")
    );
    let xfail_out = cases[2]
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(
        xfail_out.starts_with("XFAIL (refuted as declared): fault-around maps 16 pages"),
        "{xfail_out}"
    );
    assert!(xfail_out.contains("\nevidence: "), "{xfail_out}");
    // The skipped experiment is its suite's one skipped case.
    assert_eq!(suites[1].attribute("tests"), Some("1"));
    let only = suites[1]
        .children()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert_eq!(
        only.children()
            .find(|n| n.has_tag_name("skipped"))
            .and_then(|n| n.attribute("message")),
        Some("needs root")
    );
}

#[test]
fn a_crashed_variant_is_an_error_with_its_reason_and_properties_name_the_environment() {
    let mut run = small_run();
    let e = &mut run.experiments[0];
    e.status = Status::Failed;
    let warm = e.variants.iter_mut().find(|v| v.name == "warm").unwrap();
    warm.status = Status::Failed;
    warm.reason = Some("killed by SIGSEGV".into());
    let xml = render(&run, None);
    let doc = parse(&xml);
    let errors: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .collect();
    assert_eq!(errors.len(), 3, "{xml}");
    assert_eq!(
        errors[0].attribute("message"),
        Some("variant warm failed: killed by SIGSEGV")
    );
    let root = doc.root_element();
    assert_eq!(root.attribute("errors"), Some("3"));
    let property = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
            .map(str::to_string)
    };
    assert_eq!(
        property("environment.kernel"),
        Some(run.environment.kernel.clone())
    );
    assert_eq!(
        property("environment.page_size"),
        Some(run.environment.page_size.to_string())
    );
    assert!(property("params.file_bytes").is_some(), "{xml}");
}

#[test]
fn a_regression_against_a_baseline_is_a_failure_with_the_evidence() {
    let baseline = small_run();
    let mut now = small_run();
    now.experiments[0].claims[0].verdict = Verdict::Refuted;
    now.experiments[0].claims[0].evidence = "VmSize grew by 0 bytes".into();
    let cmp = crate::compare::compare(&baseline, &now, crate::compare::Tolerances::default());
    let xml = render(&now, Some(&cmp));
    let doc = parse(&xml);
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap_or_else(|| panic!("no failure:\n{xml}"));
    assert!(
        failure
            .attribute("message")
            .is_some_and(|m| m.starts_with("regression: confirmed in the baseline, refuted now")),
        "{xml}"
    );
    assert!(
        failure
            .text()
            .is_some_and(|t| t.contains("evidence: VmSize grew by 0 bytes")),
        "{xml}"
    );
}
