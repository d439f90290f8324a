//! results.json: the full record, the format every other tool reads back. Its
//! text is made here only, for the run folder, `--format json` and baselines
//! alike, so that what is written is what [`super::baseline::parse`] reads.
//! Its JSON Schema ([`schema`]) is generated from the same types, and the copy
//! committed as `results/results.schema.json` is checked against it by a test.

use crate::model::{RunRecord, FORMAT_VERSION};

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

/// Where the committed schema lives, relative to the workspace root.
pub const SCHEMA_PATH: &str = "results/results.schema.json";

/// The JSON Schema (draft 2020-12) of results.json at [`FORMAT_VERSION`],
/// generated from [`RunRecord`] and the types it holds, so that it changes
/// when they do. `format_version` is pinned to the version this harness
/// writes, so a consumer validating against it also refuses a layout it was
/// not written for. Pretty-printed, with a final newline.
pub fn schema() -> String {
    let mut schema = schemars::schema_for!(RunRecord);
    schema.insert(
        "title".into(),
        format!("vmlab results.json, format_version {FORMAT_VERSION}").into(),
    );
    if let Some(format_version) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("format_version"))
        .and_then(|v| v.as_object_mut())
    {
        format_version.insert("const".into(), FORMAT_VERSION.into());
    }
    let mut text =
        serde_json::to_string_pretty(&schema).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schema is what the types generate now. Set
    /// `VMLAB_UPDATE_SCHEMA=1` to rewrite it after changing the types (and
    /// say what changed in results/README.md).
    #[test]
    fn committed_schema_matches_the_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SCHEMA_PATH);
        let generated = schema();
        if std::env::var_os("VMLAB_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).expect("write the schema");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} differs from the schema the types generate; rerun with \
             VMLAB_UPDATE_SCHEMA=1 to update it",
            path.display()
        );
    }

    #[test]
    fn the_schema_pins_the_format_version() {
        let schema: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(
            schema["properties"]["format_version"]["const"],
            FORMAT_VERSION
        );
        assert!(schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "experiments"));
    }
}
