//! The inventory against the claims the experiments judge, and the rule on
//! records built from a saved real run.

use super::*;
use crate::experiment;
use experiments::statements::{ClaimRef, STATEMENTS, VMLAB_OWN};

const FIXTURE: &str = include_str!("../../tests/fixtures/runs/mmap-file-quick.json");

fn linked() -> Vec<ClaimRef> {
    STATEMENTS
        .iter()
        .flat_map(|s| match s.judging {
            Judging::Claims(refs) => refs.to_vec(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn every_claim_the_inventory_names_exists() {
    for r in linked().iter().chain(VMLAB_OWN) {
        let e = experiment::find(r.experiment)
            .unwrap_or_else(|| panic!("no experiment {}", r.experiment));
        assert!(
            e.claims().iter().any(|c| c.id == r.claim),
            "{} judges no claim {}",
            r.experiment,
            r.claim
        );
    }
}

#[test]
fn every_claim_judges_a_statement_or_is_marked_as_vmlabs_own() {
    let linked = linked();
    let mut loose = Vec::new();
    for e in experiment::registry() {
        for c in e.claims() {
            let r = ClaimRef {
                experiment: e.info().name,
                claim: c.id,
            };
            let own = VMLAB_OWN.contains(&r);
            let judges = linked.contains(&r);
            if own == judges {
                loose.push(format!(
                    "{}/{} ({})",
                    r.experiment,
                    r.claim,
                    if own {
                        "both linked and vmlab's own"
                    } else {
                        "neither"
                    }
                ));
            }
        }
    }
    assert!(loose.is_empty(), "claims:\n{}", loose.join("\n"));
}

/// The fixture's mmap-file claims, all confirmed first.
fn run() -> RunRecord {
    let mut run = crate::store::json::parse(FIXTURE).expect("fixture");
    for c in &mut run.experiments[0].claims {
        c.verdict = Verdict::Confirmed;
    }
    run
}

fn statement(run: &RunRecord, id: &str) -> StatementRecord {
    judge_run(run)
        .into_iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("{id} not judged"))
}

const GROWS: &str = "chodorow.mmap-grows-vsz";

#[test]
fn all_claims_confirmed_uphold_the_statement() {
    let s = statement(&run(), GROWS);
    assert_eq!(s.verdict, StatementVerdict::Upheld, "{s:?}");
    assert!(s.claims.len() > 1, "every variant is listed: {s:?}");
}

#[test]
fn one_refuted_variant_refutes_it_with_that_claims_evidence() {
    let mut run = run();
    let c = run.experiments[0]
        .claims
        .iter_mut()
        .rev()
        .find(|c| c.id == "mmap-grows-vsz-by-mapping-size")
        .expect("claim in fixture");
    c.verdict = Verdict::Refuted;
    c.evidence = "16 pages resident: fault-around".into();
    let s = statement(&run, GROWS);
    assert_eq!(s.verdict, StatementVerdict::Refuted);
    assert!(s.reason.contains("fault-around"), "{}", s.reason);
}

#[test]
fn a_claim_no_variant_decided_leaves_it_undecided_with_the_reason() {
    let mut run = run();
    let mut ours = run.experiments[0]
        .claims
        .iter_mut()
        .filter(|c| c.id == "mmap-grows-vsz-by-mapping-size");
    let first = ours.next().expect("claim in fixture");
    first.verdict = Verdict::Inconclusive;
    first.evidence = "file not cached".into();
    // One variant undecided, another confirming: the claim is confirmed.
    assert_eq!(statement(&run, GROWS).verdict, StatementVerdict::Upheld);
    for c in run.experiments[0]
        .claims
        .iter_mut()
        .filter(|c| c.id == "mmap-grows-vsz-by-mapping-size")
    {
        c.verdict = Verdict::Inconclusive;
    }
    let s = statement(&run, GROWS);
    assert_eq!(s.verdict, StatementVerdict::Undecided);
    assert!(s.reason.contains("file not cached"), "{}", s.reason);
}

#[test]
fn a_declared_refutation_gives_its_reason_as_the_mechanism() {
    let mut run = run();
    let c = run.experiments[0]
        .claims
        .iter_mut()
        .find(|c| c.id == "mmap-grows-vsz-by-mapping-size")
        .expect("claim in fixture");
    c.verdict = Verdict::Refuted;
    *c = c
        .clone()
        .expecting(Verdict::Refuted, "the mapping is rounded up");
    let s = statement(&run, GROWS);
    assert_eq!(s.verdict, StatementVerdict::Refuted);
    assert!(
        s.reason.ends_with(": the mapping is rounded up"),
        "{}",
        s.reason
    );
}

#[test]
fn a_partial_run_counts_only_the_statements_its_experiments_judge() {
    let tally = Tally::of_run(&run());
    assert_eq!(tally.writings.len(), 1, "{tally:?}");
    assert_eq!(tally.writings[0].writing.key, "chodorow");
    let judged = STATEMENTS
        .iter()
        .filter(|s| match s.judging {
            Judging::Claims(refs) => refs.iter().any(|r| r.experiment == "mmap-file"),
            _ => false,
        })
        .count();
    assert_eq!(tally.total().total(), judged);
    assert!(tally.writings[0].line().chars().count() <= 80);
}

#[test]
fn results_json_carries_the_statements_and_loads_back() {
    let run = run();
    let text = json(&run);
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let list = value["statements"].as_array().expect("a statements list");
    assert!(list.iter().any(|s| s["id"] == GROWS
        && s["verdict"] == "upheld"
        && s["claims"][0]
            .as_str()
            .is_some_and(|c| c.starts_with("mmap-file/mmap-grows-vsz-by-mapping-size"))));
    let back = crate::store::json::parse(&text).expect("loads as a run record");
    assert_eq!(back.experiments.len(), run.experiments.len());
}

#[test]
fn results_json_holds_the_record_and_the_statements_and_nothing_else() {
    let run = run();
    let value: serde_json::Value = serde_json::from_str(&json(&run)).expect("json");
    let mut expected = serde_json::to_value(&run).expect("the record serialises");
    expected.as_object_mut().expect("an object").insert(
        "statements".into(),
        serde_json::to_value(judge_run(&run)).expect("the statements serialise"),
    );
    assert_eq!(value, expected);
}
