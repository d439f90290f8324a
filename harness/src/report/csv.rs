//! CSV tables in bytes and counts, one file per table, one row per observation.
//! Every table starts with the same key columns (experiment, variant, checkpoint,
//! role), so the files join on them.
//!
//! Each table is a row struct written by the `csv` crate: the header is the
//! struct's field names, and any field with a separator, quote, CR or LF is
//! quoted, so a mapping name or a claim's prose cannot break a row.

use serde::Serialize;

use crate::model::{
    CheckpointRecord, ExperimentRecord, MemoryFigures, ProcessRecord, RunRecord, Verdict,
};

/// Writes `rows` as CSV, the header taken from the row struct's fields. A
/// table without rows still has its header, written from a default row.
fn table<R: Serialize + Default>(rows: impl IntoIterator<Item = R>) -> String {
    let mut rows = rows.into_iter().peekable();
    let empty = rows.peek().is_none();
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    let serialised: Result<(), ::csv::Error> = if empty {
        writer.serialize(R::default())
    } else {
        rows.try_for_each(|row| writer.serialize(row))
    };
    serialised.expect("flat rows of text and numbers always serialise");
    let bytes = writer.into_inner().expect("writing to memory cannot fail");
    let text = String::from_utf8(bytes).expect("the fields are UTF-8 text and numbers");
    if empty {
        // Only the header line of the default row.
        text.split_inclusive('\n')
            .next()
            .unwrap_or_default()
            .to_string()
    } else {
        text
    }
}

/// Every process snapshot of the run, with what it belongs to.
fn snapshots(
    run: &RunRecord,
) -> impl Iterator<Item = (&ExperimentRecord, &str, &CheckpointRecord, &ProcessRecord)> {
    run.experiments.iter().flat_map(|e| {
        e.variants.iter().flat_map(move |v| {
            v.checkpoints
                .iter()
                .flat_map(move |c| c.processes.iter().map(move |p| (e, v.name.as_str(), c, p)))
        })
    })
}

/// A row of checkpoints.csv.
#[derive(Serialize, Default)]
struct CheckpointRow<'a> {
    experiment: &'a str,
    variant: &'a str,
    checkpoint: &'a str,
    role: &'a str,
    pid: i64,
    minor_faults: u64,
    major_faults: u64,
    vm_size_bytes: u64,
    rss_bytes: u64,
    rss_anon_bytes: u64,
    rss_file_bytes: u64,
    pss_bytes: u64,
    uss_bytes: u64,
    pte_bytes: u64,
    phase_millis: u64,
    /// What the process was doing while read (`running` figures moved); empty
    /// when not recorded.
    process_state: String,
}

/// A row of regions.csv.
#[derive(Serialize, Default)]
struct RegionRow<'a> {
    experiment: &'a str,
    variant: &'a str,
    checkpoint: &'a str,
    role: &'a str,
    region: &'a str,
    size_bytes: u64,
    rss_bytes: u64,
    pss_bytes: u64,
    shared_clean_bytes: u64,
    shared_dirty_bytes: u64,
    private_clean_bytes: u64,
    private_dirty_bytes: u64,
    anonymous_bytes: u64,
    anon_huge_pages_bytes: u64,
    swap_bytes: u64,
}

/// A row of mappings.csv.
#[derive(Serialize, Default)]
struct MappingRow<'a> {
    experiment: &'a str,
    variant: &'a str,
    checkpoint: &'a str,
    role: &'a str,
    start: crate::model::Address,
    end: crate::model::Address,
    perms: &'a str,
    name: &'a str,
    size_bytes: u64,
    rss_bytes: u64,
    pss_bytes: u64,
    shared_clean_bytes: u64,
    shared_dirty_bytes: u64,
    private_clean_bytes: u64,
    private_dirty_bytes: u64,
    anonymous_bytes: u64,
    anon_huge_pages_bytes: u64,
    swap_bytes: u64,
}

/// A row of claims.csv.
#[derive(Serialize, Default)]
struct ClaimRow<'a> {
    experiment: &'a str,
    variant: &'a str,
    claim: &'a str,
    /// Always set; `None` only in the default row that names the columns.
    verdict: Option<Verdict>,
    source: String,
    statement: &'a str,
    criterion: &'a str,
    measured: &'a str,
    evidence: &'a str,
    source_file: &'a str,
}

/// checkpoints.csv: one row per experiment, variant, checkpoint and process.
pub fn checkpoints(run: &RunRecord) -> String {
    table(snapshots(run).map(|(e, variant, c, p)| {
        let t = &p.totals;
        CheckpointRow {
            experiment: &e.name,
            variant,
            checkpoint: &c.label,
            role: &p.role,
            pid: i64::from(p.pid),
            minor_faults: p.faults.minor,
            major_faults: p.faults.major,
            vm_size_bytes: t.vm_size_bytes,
            rss_bytes: t.rss_bytes,
            rss_anon_bytes: t.rss_anon_bytes,
            rss_file_bytes: t.rss_file_bytes,
            pss_bytes: t.pss_bytes,
            uss_bytes: t.uss_bytes,
            pte_bytes: t.pte_bytes,
            phase_millis: c.phase_millis,
            process_state: p.state.map(|s| s.to_string()).unwrap_or_default(),
        }
    }))
}

/// regions.csv: one row per declared region per process and checkpoint.
pub fn regions(run: &RunRecord) -> String {
    table(snapshots(run).flat_map(|(e, variant, c, p)| {
        p.regions.iter().map(move |r| {
            let f: &MemoryFigures = &r.figures;
            RegionRow {
                experiment: &e.name,
                variant,
                checkpoint: &c.label,
                role: &p.role,
                region: &r.name,
                size_bytes: f.size_bytes,
                rss_bytes: f.rss_bytes,
                pss_bytes: f.pss_bytes,
                shared_clean_bytes: f.shared_clean_bytes,
                shared_dirty_bytes: f.shared_dirty_bytes,
                private_clean_bytes: f.private_clean_bytes,
                private_dirty_bytes: f.private_dirty_bytes,
                anonymous_bytes: f.anonymous_bytes,
                anon_huge_pages_bytes: f.anon_huge_pages_bytes,
                swap_bytes: f.swap_bytes,
            }
        })
    }))
}

/// mappings.csv: every mapping of every snapshot.
pub fn mappings(run: &RunRecord) -> String {
    table(snapshots(run).flat_map(|(e, variant, c, p)| {
        p.mappings.iter().map(move |m| {
            let f = &m.figures;
            MappingRow {
                experiment: &e.name,
                variant,
                checkpoint: &c.label,
                role: &p.role,
                start: m.start,
                end: m.end,
                perms: &m.perms,
                name: &m.name,
                size_bytes: f.size_bytes,
                rss_bytes: f.rss_bytes,
                pss_bytes: f.pss_bytes,
                shared_clean_bytes: f.shared_clean_bytes,
                shared_dirty_bytes: f.shared_dirty_bytes,
                private_clean_bytes: f.private_clean_bytes,
                private_dirty_bytes: f.private_dirty_bytes,
                anonymous_bytes: f.anonymous_bytes,
                anon_huge_pages_bytes: f.anon_huge_pages_bytes,
                swap_bytes: f.swap_bytes,
            }
        })
    }))
}

/// claims.csv: one row per judged claim.
pub fn claims(run: &RunRecord) -> String {
    table(run.experiments.iter().flat_map(|e| {
        e.claims.iter().map(move |c| ClaimRow {
            experiment: &e.name,
            variant: c.variant.as_deref().unwrap_or(""),
            claim: &c.id,
            verdict: Some(c.verdict),
            source: crate::explain::cite(&c.source),
            statement: &c.statement,
            criterion: &c.criterion,
            measured: &c.measured,
            evidence: &c.evidence,
            source_file: &c.source,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real run of `mmap-file --quick` (tests/fixtures/runs/NOTES.md).
    fn captured_run() -> RunRecord {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/runs/mmap-file-quick.json"
        ))
        .expect("the run fixture loads")
    }

    fn header(table: &str) -> &str {
        table.lines().next().unwrap_or_default()
    }

    #[test]
    fn headers_keep_their_column_names() {
        let run = captured_run();
        let figures = "size_bytes,rss_bytes,pss_bytes,shared_clean_bytes,shared_dirty_bytes,private_clean_bytes,private_dirty_bytes,anonymous_bytes,anon_huge_pages_bytes,swap_bytes";
        assert_eq!(
            header(&checkpoints(&run)),
            "experiment,variant,checkpoint,role,pid,minor_faults,major_faults,vm_size_bytes,rss_bytes,rss_anon_bytes,rss_file_bytes,pss_bytes,uss_bytes,pte_bytes,phase_millis,process_state"
        );
        assert_eq!(
            header(&regions(&run)),
            format!("experiment,variant,checkpoint,role,region,{figures}")
        );
        assert_eq!(
            header(&mappings(&run)),
            format!("experiment,variant,checkpoint,role,start,end,perms,name,{figures}")
        );
        assert_eq!(
            header(&claims(&run)),
            "experiment,variant,claim,verdict,source,statement,criterion,measured,evidence,source_file"
        );
    }

    #[test]
    fn a_table_without_rows_is_its_header_alone() {
        let mut run = captured_run();
        run.experiments.clear();
        let text = claims(&run);
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(
            text.starts_with("experiment,variant,claim,verdict,"),
            "{text:?}"
        );
    }

    #[test]
    fn a_field_with_cr_comma_quote_and_lf_round_trips() {
        let mut run = captured_run();
        let tricky = "one,\"two\"\r\nthree\rfour\nfive";
        let claim = &mut run.experiments[0].claims[0];
        claim.evidence = tricky.into();
        let (id, verdict) = (claim.id.clone(), claim.verdict.to_string());
        let text = claims(&run);
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let columns = reader.headers().expect("a header").clone();
        let at = |name: &str| columns.iter().position(|c| c == name).expect(name);
        let rows: Vec<::csv::StringRecord> = reader
            .records()
            .collect::<Result<_, _>>()
            .expect("rows parse");
        let claim_count: usize = run.experiments.iter().map(|e| e.claims.len()).sum();
        assert_eq!(rows.len(), claim_count);
        let row = rows.iter().find(|r| r[at("claim")] == id).expect("the row");
        assert_eq!(&row[at("evidence")], tricky);
        assert_eq!(&row[at("verdict")], verdict);
    }

    #[test]
    fn every_snapshot_of_the_run_is_a_checkpoint_row() {
        let run = captured_run();
        let snapshots: usize = run
            .experiments
            .iter()
            .flat_map(|e| &e.variants)
            .flat_map(|v| &v.checkpoints)
            .map(|c| c.processes.len())
            .sum();
        let text = checkpoints(&run);
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.records().count(), snapshots);
        assert!(snapshots > 0);
    }
}
