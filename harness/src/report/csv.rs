//! CSV tables in bytes and counts, one file per table, one row per observation.
//! Every table starts with the same key columns (experiment, variant, checkpoint,
//! role), so the files join on them.

use crate::model::{
    CheckpointRecord, ExperimentRecord, MemoryFigures, ProcessRecord, RunRecord, VariantRecord,
};

const KEY_COLUMNS: &str = "experiment,variant,checkpoint,role";
const FIGURE_COLUMNS: &str = "size_bytes,rss_bytes,pss_bytes,shared_clean_bytes,shared_dirty_bytes,private_clean_bytes,private_dirty_bytes,anonymous_bytes,anon_huge_pages_bytes,swap_bytes";

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Every process snapshot of the run, with what it belongs to.
fn snapshots(
    run: &RunRecord,
) -> impl Iterator<
    Item = (
        &ExperimentRecord,
        &VariantRecord,
        &CheckpointRecord,
        &ProcessRecord,
    ),
> {
    run.experiments.iter().flat_map(|e| {
        e.variants.iter().flat_map(move |v| {
            v.checkpoints
                .iter()
                .flat_map(move |c| c.processes.iter().map(move |p| (e, v, c, p)))
        })
    })
}

fn key(
    e: &ExperimentRecord,
    v: &VariantRecord,
    c: &CheckpointRecord,
    p: &ProcessRecord,
) -> Vec<String> {
    vec![
        field(&e.name),
        field(&v.name),
        field(&c.label),
        field(&p.role),
    ]
}

fn figures(f: &MemoryFigures) -> Vec<String> {
    [
        f.size_bytes,
        f.rss_bytes,
        f.pss_bytes,
        f.shared_clean_bytes,
        f.shared_dirty_bytes,
        f.private_clean_bytes,
        f.private_dirty_bytes,
        f.anonymous_bytes,
        f.anon_huge_pages_bytes,
        f.swap_bytes,
    ]
    .iter()
    .map(u64::to_string)
    .collect()
}

fn table(header: String, rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = header;
    out.push('\n');
    for row in rows {
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// checkpoints.csv: one row per experiment, variant, checkpoint and process.
pub fn checkpoints(run: &RunRecord) -> String {
    let header = format!(
        "{KEY_COLUMNS},pid,minor_faults,major_faults,vm_size_bytes,rss_bytes,rss_anon_bytes,rss_file_bytes,pss_bytes,uss_bytes,pte_bytes,phase_millis"
    );
    table(
        header,
        snapshots(run).map(|(e, v, c, p)| {
            let t = &p.totals;
            let mut row = key(e, v, c, p);
            row.extend(
                [
                    p.pid as u64,
                    p.faults.minor,
                    p.faults.major,
                    t.vm_size_bytes,
                    t.rss_bytes,
                    t.rss_anon_bytes,
                    t.rss_file_bytes,
                    t.pss_bytes,
                    t.uss_bytes,
                    t.pte_bytes,
                    c.phase_millis,
                ]
                .iter()
                .map(u64::to_string),
            );
            row
        }),
    )
}

/// regions.csv: one row per declared region per process and checkpoint.
pub fn regions(run: &RunRecord) -> String {
    table(
        format!("{KEY_COLUMNS},region,{FIGURE_COLUMNS}"),
        snapshots(run).flat_map(|(e, v, c, p)| {
            p.regions.iter().map(move |r| {
                let mut row = key(e, v, c, p);
                row.push(field(&r.name));
                row.extend(figures(&r.figures));
                row
            })
        }),
    )
}

/// mappings.csv: every mapping of every snapshot.
pub fn mappings(run: &RunRecord) -> String {
    table(
        format!("{KEY_COLUMNS},start,end,perms,name,{FIGURE_COLUMNS}"),
        snapshots(run).flat_map(|(e, v, c, p)| {
            p.mappings.iter().map(move |m| {
                let mut row = key(e, v, c, p);
                row.extend([
                    m.start.clone(),
                    m.end.clone(),
                    m.perms.clone(),
                    field(&m.name),
                ]);
                row.extend(figures(&m.figures));
                row
            })
        }),
    )
}

/// claims.csv: one row per judged claim.
pub fn claims(run: &RunRecord) -> String {
    table(
        "experiment,variant,claim,verdict,source,statement,criterion,measured,evidence,source_file"
            .into(),
        run.experiments.iter().flat_map(|e| {
            e.claims.iter().map(move |c| {
                let verdict = serde_json::to_value(c.verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                vec![
                    field(&e.name),
                    field(c.variant.as_deref().unwrap_or("")),
                    field(&c.id),
                    verdict,
                    field(&crate::explain::cite(&c.source)),
                    field(&c.statement),
                    field(&c.criterion),
                    field(&c.measured),
                    field(&c.evidence),
                    field(&c.source),
                ]
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
