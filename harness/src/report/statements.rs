//! The writings' statements as every output leads with them: per writing how
//! many the run upholds, refutes and leaves undecided, then each refuted or
//! undecided statement with its mechanism or reason. The claims follow as the
//! evidence. The verdicts themselves are [`crate::statements`]'s.

use super::table::Table;
use super::width::{fit_lines, wrap, wrap_hanging};
use crate::explain::cite;
use crate::model::RunRecord;
use crate::statements::{judge_run, StatementRecord, StatementVerdict, Tally};

/// The heading the statement block opens with.
pub const HEADING: &str =
    "Statements of the writings (each counted once; the claims are the evidence)";

/// The terminal's statement block, every line at most `width` characters:
/// one line per writing, then the statements not upheld by id, wrapped
/// (never cut).
pub fn lines(run: &RunRecord, width: usize) -> Vec<String> {
    let statements = judge_run(run);
    if statements.is_empty() {
        return Vec::new();
    }
    let tally = Tally::of(&statements);
    let mut text = String::new();
    text.push_str(&wrap(HEADING, width, ""));
    for w in &tally.writings {
        text.push_str(&fit_lines(&format!("  {}", w.line()), width));
    }
    // The statements not upheld by id; each one's mechanism or reason is told
    // with the claim that judged it, below (results.md has both together).
    for (word, verdict) in [
        ("refuted", StatementVerdict::Refuted),
        ("undecided", StatementVerdict::Undecided),
    ] {
        let ids: Vec<&str> = statements
            .iter()
            .filter(|s| s.verdict == verdict)
            .map(|s| s.id.as_str())
            .collect();
        if !ids.is_empty() {
            text.push_str(&wrap_hanging(
                &ids.join(", "),
                width,
                &format!("  {word:<10}"),
                "            ",
            ));
        }
    }
    text.lines().map(str::to_string).collect()
}

/// Every statement of the run in one table: verdict, what the writing says,
/// the mechanism or reason, and the claims that judged it.
pub fn table(statements: &[StatementRecord]) -> Table {
    let mut table = Table {
        headers: [
            "statement",
            "verdict",
            "the writing says",
            "mechanism or reason",
            "judged by",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false; 5],
        rows: Vec::new(),
    };
    for s in statements {
        table.rows.push(vec![
            s.id.clone(),
            s.verdict.to_string(),
            format!("{} ({})", s.paraphrase, cite(&s.source)),
            s.reason.clone(),
            s.claims.join(", "),
        ]);
    }
    table
}

/// The per-writing counts as a table.
pub fn tally_table(tally: &Tally) -> Table {
    let mut table = Table {
        headers: [
            "writing",
            "statements",
            "upheld",
            "refuted",
            "undecided",
            "of which no claim",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false, true, true, true, true, true],
        rows: Vec::new(),
    };
    for w in &tally.writings {
        table.rows.push(vec![
            cite(w.writing.source),
            w.total().to_string(),
            w.upheld.to_string(),
            w.refuted.to_string(),
            w.undecided.to_string(),
            w.unjudged.to_string(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_fits_80_columns() {
        let run = crate::store::json::parse(include_str!(
            "../../tests/fixtures/runs/mmap-file-quick.json"
        ))
        .expect("fixture");
        let lines = lines(&run, 80);
        assert!(lines.len() > 2, "{lines:?}");
        for l in &lines {
            assert!(l.chars().count() <= 80, "{l}");
        }
    }
}
