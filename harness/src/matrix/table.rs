//! The matrix as tables: one describing each kernel's machine (how it ran, its
//! memory and THP mode), and the comparison itself with differing cells marked.
//! Laid out by the shared terminal and Markdown renderers.

use super::compare::{Matrix, Unit, Value};
use super::KernelResult;
use crate::experiment::human_bytes;
use crate::report::table::{verdict_word, Table};

/// The mark after a cell that differs from the reference column beyond tolerance.
pub const DIFFERS: &str = " *";

/// One column per kernel: what it is and how it ran.
pub fn kernels(results: &[KernelResult]) -> Table {
    let mut table = Table {
        headers: [
            "kernel",
            "release",
            "ran as",
            "memory",
            "THP",
            "page size",
            "temp fs",
            "outcome",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![],
        numeric: vec![false, false, false, true, false, true, false, false],
    };
    for k in results {
        let row = match &k.run {
            Ok(run) => {
                let env = &run.environment;
                let (how, memory, thp) = match &env.guest {
                    Some(g) => (
                        format!("VM ({})", g.accelerator),
                        human_bytes(g.memory_bytes),
                        format!("{} (cmdline)", g.thp_cmdline),
                    ),
                    None => (
                        "native".to_string(),
                        human_bytes(env.mem_total_bytes),
                        env.thp_enabled.clone(),
                    ),
                };
                let outcome = if run.any_failed() {
                    "experiment failed"
                } else {
                    "ok"
                };
                vec![
                    k.label.clone(),
                    env.kernel.clone(),
                    how,
                    memory,
                    thp,
                    env.page_size.to_string(),
                    env.temp_dir_fs.clone(),
                    outcome.to_string(),
                ]
            }
            Err(why) => {
                let mut row = vec![k.label.clone()];
                row.extend(std::iter::repeat_n("-".to_string(), 6));
                let first = why.lines().next().unwrap_or("");
                row.push(format!(
                    "NO RESULTS: {}",
                    first.split(';').next().unwrap_or(first)
                ));
                row
            }
        };
        table.rows.push(row);
    }
    table
}

/// The comparison: one row per experiment / variant / checkpoint / metric and
/// per claim, one column per kernel.
pub fn matrix(m: &Matrix) -> Table {
    let mut headers = vec![
        "experiment".to_string(),
        "variant".into(),
        "checkpoint / claim".into(),
        "metric".into(),
    ];
    headers.extend(m.columns.iter().enumerate().map(|(i, c)| {
        if Some(i) == m.reference {
            format!("{c} (ref)")
        } else {
            c.clone()
        }
    }));
    let mut numeric = vec![false; 4];
    numeric.extend(m.columns.iter().map(|_| true));
    let rows = m
        .rows
        .iter()
        .map(|row| {
            let mut cells = vec![
                row.experiment.clone(),
                row.variant.clone(),
                row.point.clone(),
                row.metric.clone(),
            ];
            cells.extend(row.cells.iter().map(|c| {
                let text = match &c.value {
                    Value::Number(n, Unit::Faults) => n.to_string(),
                    Value::Number(n, Unit::Bytes) => kib(*n),
                    Value::Verdict(v) => verdict_word(*v).to_string(),
                    Value::Missing => "-".to_string(),
                };
                if c.differs {
                    format!("{text}{DIFFERS}")
                } else {
                    text
                }
            }));
            cells
        })
        .collect();
    Table {
        headers,
        rows,
        numeric,
    }
}

/// Bytes as KiB with thousands separators (exact, unlike rounded MiB, so that a
/// difference of a page stays visible).
fn kib(bytes: u64) -> String {
    let whole = (bytes / 1024).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if bytes % 1024 == 0 {
        format!("{grouped} KiB")
    } else {
        format!("{bytes} B")
    }
}

/// The legend printed under the matrix.
pub fn legend(m: &Matrix) -> String {
    let t = crate::compare::Tolerances::default();
    format!(
        "{DIFFERS} = differs from the reference column by more than the comparison's tolerance \
         ({} pages + {}% of the reference for bytes; {}% of the reference, at least {}, for faults); \
         verdicts differ when they are not the same. {} of {} rows differ. Timings are left out: \
         an emulated guest's clock is not comparable with the host's.\n",
        t.memory_pages,
        t.memory_percent,
        t.faults_percent,
        t.faults_min,
        m.differing_rows(),
        m.rows.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_column_is_named_and_differing_cells_are_marked() {
        use crate::matrix::compare::{compare, tests::run, Column};
        use crate::model::Verdict;
        let a = run(1 << 20, 10, Verdict::Confirmed);
        let b = run(2 << 20, 10, Verdict::Refuted);
        let m = compare(&[
            Column {
                label: "debian:6.1".into(),
                run: Ok(&a),
            },
            Column {
                label: "host".into(),
                run: Ok(&b),
            },
        ]);
        let text = crate::report::text::layout(&matrix(&m));
        assert!(text.contains("debian:6.1 (ref)"), "{text}");
        let line = |metric: &str| {
            text.lines()
                .find(|l| l.contains(metric))
                .unwrap_or_else(|| panic!("no {metric} row in\n{text}"))
                .to_string()
        };
        assert!(line(" rss_bytes").ends_with("2,048 KiB *"), "{text}");
        assert!(line("minor_faults").ends_with("10"), "{text}");
        assert!(line("verdict").ends_with("refuted *"), "{text}");
    }

    #[test]
    fn kib_values_are_exact_and_grouped() {
        assert_eq!(kib(65_536 * 1024), "65,536 KiB");
        assert_eq!(kib(4096), "4 KiB");
        assert_eq!(kib(1000), "1000 B");
        assert_eq!(kib(1_048_576 * 1024), "1,048,576 KiB");
    }
}
