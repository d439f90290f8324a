//! What the run says of each writing's statements: the verdicts of the claims
//! folded into one verdict per statement of [`experiments::statements`], and
//! the tally every output leads with (a statement counts once however many
//! claims and variants judge it; vmlab's own checks count for no writing).
//!
//! The rule, fixed here and nowhere else. First each judging claim, over the
//! variants it is judged in: refuted if any variant refutes it; confirmed if
//! one or more confirm it and none refutes (a variant where its precondition
//! does not hold, such as a build without the part the claim is about, says
//! nothing either way); inconclusive if no variant decided it. Then the
//! statement:
//! - **refuted** if any claim that judges it is refuted: one case where the
//!   kernel contradicts the writing is enough, and that claim's declared reason
//!   (or else its evidence) is the mechanism;
//! - **upheld** if every claim that judges it is confirmed;
//! - **undecided** otherwise: a claim inconclusive (its reason), an experiment
//!   not in this run, or a statement no claim judges (why not).

use std::fmt::Write;

use serde::Serialize;

use experiments::statements::{self as inventory, Judging, Statement, Writing};

use crate::model::{ClaimRecord, RunRecord, Status, Verdict};

/// What the run says of one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatementVerdict {
    /// Every claim judging it was confirmed.
    Upheld,
    /// A claim judging it was refuted.
    Refuted,
    /// Not decided by this run; the reason says why.
    Undecided,
}

impl std::fmt::Display for StatementVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StatementVerdict::Upheld => "upheld",
            StatementVerdict::Refuted => "refuted",
            StatementVerdict::Undecided => "undecided",
        })
    }
}

/// One statement judged (an entry of results.json's `statements`).
#[derive(Debug, Clone, Serialize)]
pub struct StatementRecord {
    /// `<writing>.<kebab-case>`.
    pub id: String,
    /// The writing's seed file.
    pub source: String,
    /// What the writing says, in vmlab's words.
    pub paraphrase: String,
    /// The verdict by the rule of this module.
    pub verdict: StatementVerdict,
    /// For a refutation the mechanism (the refuted claim's evidence); for an
    /// undecided statement why; empty when upheld.
    pub reason: String,
    /// The judging claims as `experiment/claim-id [variant]`, every variant
    /// this run judged.
    pub claims: Vec<String>,
}

/// The claim records of this run that judge `s`, with their experiment.
fn records<'a>(run: &'a RunRecord, s: &Statement) -> Vec<(&'a str, &'a ClaimRecord)> {
    let Judging::Claims(refs) = s.judging else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in refs {
        for e in run.experiments.iter().filter(|e| e.name == r.experiment) {
            for c in e.claims.iter().filter(|c| c.id == r.claim) {
                out.push((e.name.as_str(), c));
            }
        }
    }
    out
}

fn claim_name(experiment: &str, c: &ClaimRecord) -> String {
    match &c.variant {
        Some(v) => format!("{experiment}/{} [{v}]", c.id),
        None => format!("{experiment}/{}", c.id),
    }
}

/// Whether the run can say anything of `s`: a statement judged by claims is in
/// scope when one of its experiments ran; one no claim judges only in a run of
/// every experiment (so that `run strip` does not list Martin's 32-bit note).
fn in_scope(run: &RunRecord, s: &Statement) -> bool {
    let ran = |name: &str| run.experiments.iter().any(|e| e.name == name);
    match s.judging {
        Judging::Claims(refs) => refs.iter().any(|r| ran(r.experiment)),
        Judging::NotHere(_) | Judging::NoClaimYet(_) => {
            experiments::CATALOG.iter().all(|i| ran(i.name))
        }
    }
}

/// One statement judged by the module's rule.
pub fn judge(run: &RunRecord, s: &Statement) -> StatementRecord {
    let found = records(run, s);
    let claims = found.iter().map(|(e, c)| claim_name(e, c)).collect();
    let (verdict, reason) = match s.judging {
        Judging::NotHere(why) => (
            StatementVerdict::Undecided,
            format!("cannot be judged on one Linux machine: {why}"),
        ),
        Judging::NoClaimYet(what) => (
            StatementVerdict::Undecided,
            format!("no claim judges it yet: {what}"),
        ),
        Judging::Claims(refs) => {
            let of = |r: &inventory::ClaimRef| -> Vec<&(&str, &ClaimRecord)> {
                found
                    .iter()
                    .filter(|(e, c)| *e == r.experiment && c.id == r.claim)
                    .collect()
            };
            let refuted = found.iter().find(|(_, c)| c.verdict == Verdict::Refuted);
            let undecided = refs
                .iter()
                .find(|r| !of(r).iter().any(|(_, c)| c.verdict == Verdict::Confirmed));
            if let Some((e, c)) = refuted {
                let mechanism = c
                    .expected
                    .as_ref()
                    .map_or(c.evidence.as_str(), |x| &x.reason);
                (
                    StatementVerdict::Refuted,
                    format!("{}: {mechanism}", claim_name(e, c)),
                )
            } else if let Some(r) = undecided {
                let why = match of(r).first() {
                    Some((e, c)) => format!("{} inconclusive: {}", claim_name(e, c), c.evidence),
                    None => {
                        let state = run
                            .experiments
                            .iter()
                            .find(|e| e.name == r.experiment)
                            .map_or("not in this run", |e| match e.status {
                                Status::Skipped => "skipped",
                                Status::Failed => "failed",
                                Status::Ok => "judged no such claim",
                            });
                        format!("{}/{}: {state}", r.experiment, r.claim)
                    }
                };
                (StatementVerdict::Undecided, why)
            } else {
                (StatementVerdict::Upheld, String::new())
            }
        }
    };
    StatementRecord {
        id: s.id.to_string(),
        source: s.source.to_string(),
        paraphrase: s.paraphrase.to_string(),
        verdict,
        reason,
        claims,
    }
}

/// Every statement the run can say something of, in inventory order.
pub fn judge_run(run: &RunRecord) -> Vec<StatementRecord> {
    inventory::STATEMENTS
        .iter()
        .filter(|s| in_scope(run, s))
        .map(|s| judge(run, s))
        .collect()
}

/// One writing's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WritingTally {
    /// The writing.
    pub writing: &'static Writing,
    /// Upheld statements.
    pub upheld: usize,
    /// Refuted statements.
    pub refuted: usize,
    /// Undecided statements.
    pub undecided: usize,
    /// Of the undecided, those no claim judges (on no machine, or not yet).
    pub unjudged: usize,
}

impl WritingTally {
    /// Statements counted.
    pub fn total(&self) -> usize {
        self.upheld + self.refuted + self.undecided
    }

    /// `Köhntopp            15: 9 upheld, 2 refuted, 4 undecided (3 unjudged)`.
    pub fn line(&self) -> String {
        let mut out = format!(
            "{:<18} {:>2}: {} upheld, {} refuted, {} undecided",
            self.writing.short,
            self.total(),
            self.upheld,
            self.refuted,
            self.undecided
        );
        if self.unjudged > 0 {
            let _ = write!(out, " ({} no claim)", self.unjudged);
        }
        out
    }
}

/// The statements' tally: per writing, and in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// One entry per writing with a statement in the run.
    pub writings: Vec<WritingTally>,
}

impl Tally {
    /// Counts judged statements.
    pub fn of(statements: &[StatementRecord]) -> Tally {
        let mut writings = Vec::new();
        for w in inventory::WRITINGS {
            let mut t = WritingTally {
                writing: w,
                upheld: 0,
                refuted: 0,
                undecided: 0,
                unjudged: 0,
            };
            for s in statements.iter().filter(|s| s.source == w.source) {
                match s.verdict {
                    StatementVerdict::Upheld => t.upheld += 1,
                    StatementVerdict::Refuted => t.refuted += 1,
                    StatementVerdict::Undecided => {
                        t.undecided += 1;
                        if s.claims.is_empty() {
                            t.unjudged += 1;
                        }
                    }
                }
            }
            if t.total() > 0 {
                writings.push(t);
            }
        }
        Tally { writings }
    }

    /// Counts a run's statements.
    pub fn of_run(run: &RunRecord) -> Tally {
        Tally::of(&judge_run(run))
    }

    /// Sum over the writings.
    pub fn total(&self) -> WritingTally {
        let mut sum = WritingTally {
            writing: &inventory::WRITINGS[0],
            upheld: 0,
            refuted: 0,
            undecided: 0,
            unjudged: 0,
        };
        for w in &self.writings {
            sum.upheld += w.upheld;
            sum.refuted += w.refuted;
            sum.undecided += w.undecided;
            sum.unjudged += w.unjudged;
        }
        sum
    }

    /// `78 statements: 40 upheld, 12 refuted, 26 undecided`.
    pub fn line(&self) -> String {
        let t = self.total();
        format!(
            "{} statements of the writings: {} upheld, {} refuted, {} undecided",
            t.total(),
            t.upheld,
            t.refuted,
            t.undecided
        )
    }
}

/// The run record with its statements beside its fields, as results.json
/// holds them.
#[derive(Serialize)]
struct WithStatements<'a> {
    #[serde(flatten)]
    run: &'a RunRecord,
    statements: &'a [StatementRecord],
}

/// results.json: the run record with `statements` added, derived from the
/// claims (so it is not a field of [`RunRecord`], and records written before
/// it load unchanged). Written straight from the records: a full run's
/// record as a `serde_json::Value` tree first would take several times the
/// text's size, which is most of the harness's memory budget.
pub fn json(run: &RunRecord) -> String {
    let statements = judge_run(run);
    // Serialising plain data structs with string keys cannot fail.
    let mut text = serde_json::to_string_pretty(&WithStatements {
        run,
        statements: &statements,
    })
    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
