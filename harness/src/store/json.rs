//! results.json: the full record, the format every other tool reads back. Its
//! text is made here only, for the run folder, `--format json` and baselines
//! alike, so that what is written is what [`super::baseline::parse`] reads.

use crate::model::RunRecord;

/// Pretty-printed JSON of the record, with a final newline.
pub fn render(run: &RunRecord) -> String {
    // Serialising plain data structs with string keys cannot fail.
    let mut text =
        serde_json::to_string_pretty(run).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// Reads a results.json back.
pub fn parse(text: &str) -> serde_json::Result<RunRecord> {
    serde_json::from_str(text)
}
