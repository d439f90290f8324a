//! The result vocabulary: what a result means to CI, defined once and used by
//! every output (table, Markdown, JSON, CSV, KTAP) and by the exit code.
//!
//! The names follow kselftest (`tools/testing/selftests/kselftest.h`): pass,
//! fail, xfail, xpass, skip, error. A [`Outcome::Fail`] or [`Outcome::Error`] is
//! something CI should act on, and only those make a `not ok` line and exit 1.

use serde::{Deserialize, Serialize};

use crate::model::{ClaimRecord, Verdict};

/// What one result means to CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// As declared: the claim held, or the experiment ran as planned.
    Pass,
    /// A regression against a baseline (or the matrix's reference kernel).
    Fail,
    /// Refuted, as the experiment declared in advance with its reason.
    XFail,
    /// Confirmed, although a refutation was declared in advance.
    XPass,
    /// Not judged: a stated condition was not met, or the experiment was skipped.
    Skip,
    /// The experiment crashed, hung or broke the protocol.
    Error,
}

impl Outcome {
    /// The outcome of a judged claim on its own (no baseline). A refutation that
    /// was not declared is a finding about the writing, not a failure of the
    /// kernel: it passes, and reports show it as a refutation.
    pub fn of_claim(claim: &ClaimRecord) -> Outcome {
        let expected_refuted = claim
            .expected
            .as_ref()
            .is_some_and(|e| e.verdict == Verdict::Refuted);
        match (claim.verdict, expected_refuted) {
            (Verdict::Inconclusive, _) => Outcome::Skip,
            (Verdict::Refuted, true) => Outcome::XFail,
            (Verdict::Confirmed, true) => Outcome::XPass,
            (Verdict::Confirmed, false) | (Verdict::Refuted, false) => Outcome::Pass,
        }
    }

    /// True if CI should act on it (`not ok`, exit 1).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Error)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::XFail => "xfail",
            Outcome::XPass => "xpass",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
        })
    }
}
