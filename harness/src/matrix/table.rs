//! The matrix as tables: one describing each kernel's machine (how it ran, its
//! memory and THP mode), and the comparison itself with differing cells marked.
//! Laid out by the shared terminal and Markdown renderers.

use super::changes::Explanation;
use super::compare::{Matrix, Row, RowKind, Unit, Value};
use super::KernelResult;
use crate::report::table::{verdict_word, Table};
use crate::units::grouped;
use crate::units::human_bytes;

/// The mark after a cell that differs from the reference column beyond tolerance.
pub const DIFFERS: &str = " *";

/// Column names longer than this are shown as `K1`, `K2`, ... with a legend,
/// so that three kernels fit an 80-column terminal.
const LONGEST_LABEL: usize = 12;

/// Each column's name as the tables show it: itself when short, else `K<n>`.
pub fn short_labels(labels: &[String]) -> Vec<String> {
    labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if l.chars().count() <= LONGEST_LABEL {
                l.clone()
            } else {
                format!("K{}", i + 1)
            }
        })
        .collect()
}

/// The lines that spell out the abbreviated column names (empty if none).
pub fn label_legend(labels: &[String]) -> String {
    labels
        .iter()
        .zip(short_labels(labels))
        .filter(|(long, short)| *long != short)
        .map(|(long, short)| format!("{short} = {long}\n"))
        .collect()
}

/// One column per kernel: how it ran and the setup it really had, as the
/// guest reported it after boot (THP mode, memory, overcommit mode, page
/// size), with what differs from what was asked.
pub fn kernels(results: &[KernelResult]) -> Table {
    let labels: Vec<String> = results.iter().map(|k| k.label.clone()).collect();
    let mut headers = vec![String::new()];
    headers.extend(short_labels(&labels));
    let mut rows: Vec<Vec<String>> = FACTS
        .iter()
        .map(|(name, fact)| {
            let mut row = vec![name.to_string()];
            row.extend(results.iter().map(|k| match &k.run {
                Ok(run) => fact(run),
                Err(_) => "-".into(),
            }));
            row
        })
        .collect();
    rows.extend(setup_and_outcome(results));
    let mut numeric = vec![false];
    numeric.extend(results.iter().map(|_| false));
    Table {
        headers,
        rows,
        numeric,
    }
}

/// A fact of a column's run, for the kernels table.
type Fact = fn(&crate::model::RunRecord) -> String;

/// What the kernels table shows of each run, as the run recorded it.
const FACTS: [(&str, Fact); 10] = [
    ("release", |r| r.environment.kernel.clone()),
    ("ran as", |r| match &r.environment.guest {
        Some(g) => format!("VM ({})", g.accelerator),
        None => "native".into(),
    }),
    ("memory given", |r| {
        r.environment
            .guest
            .as_ref()
            .map_or("-".into(), |g| human_bytes(g.memory_bytes))
    }),
    ("MemTotal", |r| human_bytes(r.environment.mem_total_bytes)),
    ("THP enabled", |r| r.environment.thp_enabled.clone()),
    ("THP defrag", |r| r.environment.thp_defrag.clone()),
    ("PMD page", |r| {
        r.environment.thp_pmd_bytes.map_or("-".into(), human_bytes)
    }),
    ("overcommit", |r| {
        r.environment
            .overcommit_memory
            .map_or("-".into(), |m| m.to_string())
    }),
    ("page size", |r| r.environment.page_size.to_string()),
    ("files on", |r| r.environment.temp_dir_fs.clone()),
];

/// The rows saying whether each column had the setup it asked for, and how
/// its run ended.
fn setup_and_outcome(results: &[KernelResult]) -> [Vec<String>; 2] {
    let mut setup = vec!["setup".to_string()];
    let mut outcome = vec!["outcome".to_string()];
    for k in results {
        match &k.run {
            Ok(run) => {
                let off = super::setup::mismatches(run);
                setup.push(if off.is_empty() {
                    "as asked".into()
                } else {
                    format!(
                        "DIFFERS: {}",
                        off.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
                outcome.push(if run.any_failed() {
                    "experiment failed".into()
                } else {
                    "ok".into()
                });
            }
            Err(why) => {
                setup.push("-".into());
                let first = why.lines().next().unwrap_or("");
                outcome.push(format!(
                    "NO RESULTS: {}",
                    first.split(';').next().unwrap_or(first)
                ));
            }
        }
    }
    [setup, outcome]
}

/// Which rows the comparison shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    /// Every row in measurement order, not only the differing ones grouped.
    pub all_rows: bool,
}

/// The name of a row's "what" for the table: the claim, or the metric with
/// its unit (the cells of byte figures are in KiB).
fn what(row: &Row) -> String {
    match row.kind {
        RowKind::Claim => format!("claim {}", row.point),
        RowKind::Metric => match row.cells.iter().find_map(|c| match c.value {
            Value::Number(_, unit) | Value::Change(_, unit) => Some(unit),
            _ => None,
        }) {
            Some(Unit::Bytes) => format!("{} (KiB)", row.metric),
            _ => row.metric.clone(),
        },
    }
}

/// The rows to show, in order: by default only those that differ from the
/// reference, the claims first and then the figures, each group (one claim,
/// or one metric across experiments and checkpoints) together; with
/// `--all-rows` every row in the order measured.
fn shown_rows(m: &Matrix, shown: Shown) -> Vec<usize> {
    if shown.all_rows {
        return (0..m.rows.len()).collect();
    }
    let differing: Vec<usize> = (0..m.rows.len())
        .filter(|&i| m.rows[i].cells.iter().any(|c| c.differs))
        .collect();
    let mut groups: Vec<(RowKind, String)> = Vec::new();
    for &i in &differing {
        let key = (m.rows[i].kind, what(&m.rows[i]));
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    groups.sort_by_key(|(kind, _)| *kind != RowKind::Claim);
    groups
        .iter()
        .flat_map(|group| {
            differing
                .iter()
                .copied()
                .filter(|&i| (m.rows[i].kind, what(&m.rows[i])) == *group)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The comparison, one column per kernel: by default the rows that differ,
/// grouped by claim and metric, each with the known kernel change that
/// explains it where there is one; see [`Shown`].
pub fn matrix(m: &Matrix, explained: &[Vec<Explanation>], shown: Shown) -> Table {
    let mut headers = vec![
        "claim / metric".to_string(),
        "experiment".into(),
        "variant".into(),
        "process".into(),
        "checkpoint".into(),
    ];
    headers.extend(short_labels(&m.columns).iter().enumerate().map(|(i, c)| {
        if Some(i) == m.reference {
            format!("{c} (ref)")
        } else {
            c.clone()
        }
    }));
    headers.push("known change that explains it".into());
    let mut numeric = vec![false; 5];
    numeric.extend(m.columns.iter().map(|_| true));
    numeric.push(false);
    let mut previous_group = String::new();
    let rows = shown_rows(m, shown)
        .into_iter()
        .map(|index| {
            let row = &m.rows[index];
            let group = what(row);
            // A group's name once, at its first row, when rows are grouped.
            let name = if !shown.all_rows && group == previous_group {
                String::new()
            } else {
                group.clone()
            };
            previous_group = group;
            let checkpoint = match row.kind {
                RowKind::Metric => row.point.clone(),
                RowKind::Claim => String::new(),
            };
            let mut cells = vec![
                name,
                row.experiment.clone(),
                row.variant.clone(),
                row.process.clone(),
                checkpoint,
            ];
            cells.extend(row.cells.iter().map(|c| {
                let text = match &c.value {
                    Value::Number(n, Unit::Faults) => grouped(*n),
                    Value::Number(n, Unit::Bytes) => kib(*n),
                    Value::Change(n, Unit::Faults) => format!("{n:+}"),
                    Value::Change(n, Unit::Bytes) => signed_kib(*n),
                    Value::Verdict(v) => verdict_word(*v).to_string(),
                    Value::Missing => "-".to_string(),
                    Value::NotRun => "not run".to_string(),
                };
                if c.differs {
                    format!("{text}{DIFFERS}")
                } else {
                    text
                }
            }));
            let changes = explained.get(index).map(Vec::as_slice).unwrap_or_default();
            cells.push(
                changes
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            cells
        })
        .collect();
    Table {
        headers,
        rows,
        numeric,
    }
}

/// A change in KiB with its sign (`+1,024`, `-8`).
fn signed_kib(bytes: i64) -> String {
    let sign = if bytes < 0 { "-" } else { "+" };
    format!("{sign}{}", kib(bytes.unsigned_abs()))
}

/// Bytes in KiB, exact (unlike rounded MiB, so that a difference of a page
/// stays visible); /proc reports whole KiB, anything else gets decimals.
fn kib(bytes: u64) -> String {
    if bytes % 1024 == 0 {
        grouped(bytes / 1024)
    } else {
        format!(
            "{}.{:02}",
            grouped(bytes / 1024),
            (bytes % 1024) * 100 / 1024
        )
    }
}

/// The legend printed under the matrix: what `*` means, how many rows differ
/// and how many are shown, and the known changes named in the table.
pub fn legend(m: &Matrix, explained: &[Vec<Explanation>], shown: Shown) -> String {
    let differing = m.differing_rows();
    let t = crate::compare::Tolerances::default();
    let mut out = label_legend(&m.columns);
    out += &format!(
        "{DIFFERS} = differs from the reference column by more than the comparison's tolerance \
         ({} pages + {}% of the reference for bytes; {}% of the reference, at least {}, for faults), \
         or another verdict. {differing} of {} rows differ; {}\n",
        t.memory_pages,
        t.memory_percent,
        t.faults_percent,
        t.faults_min,
        m.rows.len(),
        if shown.all_rows {
            "all are shown.".to_string()
        } else {
            format!("only those are shown (--all-rows shows all {}).", m.rows.len())
        }
    );
    let not_run = m
        .rows
        .iter()
        .filter(|r| r.cells.iter().any(|c| c.value == Value::NotRun))
        .count();
    if not_run > 0 {
        out.push_str(&format!(
            "{not_run} rows are \"not run\" in a column whose results have no such experiment: \
             never counted as differences.\n"
        ));
    }
    if m.rows
        .iter()
        .any(|r| r.cells.iter().any(|c| matches!(c.value, Value::Change(..))))
    {
        out.push_str(
            "A column ran natively with randomised addresses, so figures are compared as \
             `harness compare` compares a run with its baseline: faults per phase, whole-process \
             figures as their change over a phase (_change), regions' figures, spreads of repeated runs.\n",
        );
    }
    let mut named: Vec<&Explanation> = Vec::new();
    for index in shown_rows(m, shown) {
        for change in explained.get(index).map(Vec::as_slice).unwrap_or_default() {
            if !named.contains(&change) {
                named.push(change);
            }
        }
    }
    if !named.is_empty() {
        out.push_str("\nExplanations named above:\n");
        for change in named {
            out.push_str(&format!("- {}: {}\n", change.name, change.detail));
        }
    }
    let unexplained = shown_rows(m, shown)
        .into_iter()
        .filter(|&i| {
            m.rows[i].cells.iter().any(|c| c.differs)
                && explained.get(i).is_none_or(|c| c.is_empty())
        })
        .count();
    if unexplained > 0 {
        out.push_str(&format!(
            "\n{unexplained} differing rows have no known change named: look at them first.\n"
        ));
    }
    out.push_str(
        "Timings are left out: an emulated guest's clock is not comparable with the host's.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::compare::{compare, tests::run, Column};
    use crate::model::Verdict;

    fn two_kernels() -> (crate::model::RunRecord, crate::model::RunRecord) {
        let mut a = run(1 << 20, 10, Verdict::Confirmed);
        a.environment.kernel = "6.1.0-48-amd64".into();
        a.environment.temp_dir_fs = "tmpfs".into();
        a.experiments[0].variants[0].checkpoints[0].processes[0]
            .totals
            .mapped_rss_bytes = 2 << 20;
        let mut b = run(2 << 20, 10, Verdict::Refuted);
        b.environment.kernel = "6.18.44".into();
        b.environment.temp_dir_fs = "tmpfs".into();
        (a, b)
    }

    #[test]
    fn by_default_only_differing_rows_show_claims_first_with_their_explanation() {
        let (a, b) = two_kernels();
        let columns = [
            Column {
                label: "debian:6.1".into(),
                run: Ok(&a),
            },
            Column {
                label: "host".into(),
                run: Ok(&b),
            },
        ];
        let m = compare(&columns);
        let explained = crate::matrix::changes::explain(&m, &columns);
        let shown = Shown { all_rows: false };
        let text = crate::report::text::layout(&matrix(&m, &explained, shown));
        assert!(text.contains("debian:6.1 (ref)"), "{text}");
        let lines: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(lines.len(), 2, "the claim and VmRSS differ:\n{text}");
        assert!(lines[0].contains("claim a-claim"), "{text}");
        assert!(lines[0].contains("refuted *"), "{text}");
        assert!(lines[1].contains("VmRSS (KiB)"), "{text}");
        assert!(
            lines[1].contains("1,024") && lines[1].contains("2,048 *"),
            "{text}"
        );
        assert!(lines[1].ends_with("RSS counters lag before 6.2"), "{text}");
        assert!(
            !text.contains("minor faults"),
            "equal rows are hidden:\n{text}"
        );
        let legend = legend(&m, &explained, shown);
        assert!(legend.contains("--all-rows"), "{legend}");
        assert!(legend.contains("f1a7941243c1"), "{legend}");

        let all = crate::report::text::layout(&matrix(&m, &explained, Shown { all_rows: true }));
        assert!(all.contains("minor faults"), "{all}");
        assert_eq!(all.lines().count() - 2, m.rows.len());
    }

    #[test]
    fn kib_values_are_exact_and_grouped() {
        assert_eq!(kib(65_536 * 1024), "65,536");
        assert_eq!(kib(4096), "4");
        assert_eq!(kib(1536), "1.50");
        assert_eq!(kib(1_048_576 * 1024), "1,048,576");
    }
}
