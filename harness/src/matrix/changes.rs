//! Known kernel changes that explain differences between columns. A change is
//! named for a differing row only when the two kernels lie on either side of
//! the release that made it and the row measures what it changed; otherwise
//! the difference stands unexplained, for the reader to look into.

use super::compare::{Column, Matrix, Row, RowKind, Value, ANON_HUGE_PAGES};
use super::setup::{self, Mismatch};
use crate::experiment::declared::{self, Metric, MAJOR_FAULTS, MINOR_FAULTS};
use crate::model::{RunRecord, Verdict};

/// One change in the kernel that alters what the experiments measure.
#[derive(Debug)]
pub struct KnownChange {
    /// A few words for the table.
    pub name: &'static str,
    /// The first release with the change.
    pub since: (u32, u32),
    /// What changed and what it does to the figures, with the commit.
    pub explanation: &'static str,
    /// Only when both kernels kept the experiments' files on this file system.
    pub files_on: Option<&'static str>,
    /// Which rows of figures it can explain, given the matrix and the runs (to
    /// look at related rows and figures). A claim's row takes the changes of
    /// the rows of the figures it declares it is judged on
    /// ([`declared::Declared::judges`]): a claim judged on smaps does not
    /// follow a lag of the status counters, whatever else moved beside it.
    applies: fn(&Evidence<'_>, &Row) -> bool,
}

/// What a change's test may look at besides the row.
pub struct Evidence<'a> {
    /// The whole comparison.
    pub matrix: &'a Matrix,
    /// The runs behind it.
    pub columns: &'a [Column<'a>],
}

/// The changes known to move the matrix's figures, oldest first.
pub const KNOWN_CHANGES: &[KnownChange] = &[
    KnownChange {
        name: "RSS counters lag before 6.2",
        since: (6, 2),
        explanation: "Before Linux 6.2 each task cached its RSS counter changes and folded \
            them into the process's counters only every 64 page faults \
            (SPLIT_RSS_COUNTING), so VmRSS, RssAnon and RssFile in /proc/PID/status, read \
            from outside, lagged the page tables by up to 64 faults' worth of pages; 6.2 made \
            them per-CPU counters that are summed when read (commit f1a7941243c1, \"mm: \
            convert mm's rss stats into percpu_counter\"). The smaps figures never lagged.",
        files_on: None,
        applies: |evidence, row| status_counter(&row.metric) && counter_lags(evidence, row),
    },
    KnownChange {
        name: "THP alignment of large anonymous mappings (6.7)",
        since: (6, 7),
        explanation: "Since Linux 6.7 an anonymous mapping of 2 MiB or more is placed at a \
            2 MiB-aligned address (commit efa7df3e3bb5, \"mm: align larger anonymous \
            mappings on THP boundaries\"; later limited to sizes that are multiples of 2 MiB), \
            so transparent huge pages can back it from its first fault: AnonHugePages grow, \
            and one fault maps 512 pages instead of one.",
        files_on: None,
        // Not where huge-page faults fell back in a column: then the kernel
        // lacked free 2 MiB blocks (the guest's memory), whatever its version.
        applies: |evidence, row| {
            (row.metric.ends_with(ANON_HUGE_PAGES)
                || huge_pages_differ_beside(evidence.matrix, row))
                && !evidence.columns.iter().any(|c| {
                    c.run
                        .as_ref()
                        .is_ok_and(|run| thp_fell_back(run, row).is_some())
                })
        },
    },
    KnownChange {
        name: "large folios in the ext4 page cache (6.16)",
        since: (6, 16),
        explanation: "Since Linux 6.16 ext4 caches regular files in large folios (commit \
            7ac67301e82f, \"ext4: enable large folio for regular file\"): read-ahead brings a \
            file in as multi-page folios, and a fault on a file mapping can map a whole folio \
            at once, so reading a mapped file takes fewer faults and a first read may map more \
            pages than fault-around's 16.",
        files_on: Some("ext4"),
        applies: file_mapping_row,
    },
];

/// Why a row differs, as the table and its legend show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// A few words for the table.
    pub name: String,
    /// The full explanation for the legend.
    pub detail: String,
}

impl From<&KnownChange> for Explanation {
    fn from(change: &KnownChange) -> Explanation {
        Explanation {
            name: change.name.to_string(),
            detail: change.explanation.to_string(),
        }
    }
}

/// For each row of `matrix`, what explains its differences: the known kernel
/// changes that apply, and setup notes that differ between the columns (empty
/// for rows that do not differ, or whose difference nothing known explains).
/// A claim's row takes the changes of the differing figures of its variant,
/// unless one of its verdicts is inconclusive (its evidence then says why).
pub fn explain(matrix: &Matrix, columns: &[Column<'_>]) -> Vec<Vec<Explanation>> {
    let evidence = Evidence { matrix, columns };
    let Some(reference) = matrix.reference else {
        return vec![Vec::new(); matrix.rows.len()];
    };
    let run = |i: usize| columns[i].run.as_ref().ok();
    // A column that did not get the setup it asked for explains nothing by
    // its kernel, nor does the reference against it.
    let off: Vec<Vec<Mismatch>> = (0..columns.len())
        .map(|i| run(i).map(|r| setup::mismatches(r)).unwrap_or_default())
        .collect();
    let kernel_may_explain = |i: usize| off[i].is_empty() && off[reference].is_empty();
    let mut per_row: Vec<Vec<Explanation>> = matrix
        .rows
        .iter()
        .map(|row| match row.kind {
            RowKind::Metric => KNOWN_CHANGES
                .iter()
                .filter(|change| {
                    row.cells.iter().enumerate().any(|(i, cell)| {
                        cell.differs
                            && measured_in_both(row, reference, i)
                            && kernel_may_explain(i)
                            && straddles(change, run(reference), run(i))
                    }) && (change.applies)(&evidence, row)
                })
                .map(Explanation::from)
                .collect(),
            RowKind::Claim => Vec::new(),
        })
        .collect();
    for (index, row) in matrix.rows.iter().enumerate() {
        if row.kind != RowKind::Claim || !row.cells.iter().any(|c| c.differs) {
            continue;
        }
        let inconclusive = row
            .cells
            .iter()
            .any(|c| c.value == Value::Verdict(Verdict::Inconclusive));
        if !inconclusive {
            per_row[index] = claim_changes(matrix, &per_row, row);
        }
    }
    for (row, explanations) in matrix.rows.iter().zip(per_row.iter_mut()) {
        for (i, cell) in row.cells.iter().enumerate() {
            if !cell.differs {
                continue;
            }
            for column in [reference, i] {
                if let Some(setup) = setup_differs(&matrix.columns[column], &off[column]) {
                    if !explanations.contains(&setup) {
                        explanations.push(setup);
                    }
                }
            }
            for column in [reference, i] {
                let fell_back =
                    run(column).and_then(|r| fell_back(r, row, &matrix.columns[column]));
                if let Some(setup) = fell_back.filter(|e| !explanations.contains(e)) {
                    explanations.push(setup);
                }
            }
            if let (Some(a), Some(b)) = (run(reference), run(i)) {
                for setup in
                    setup_differences(row, a, b, &matrix.columns[reference], &matrix.columns[i])
                {
                    if !explanations.contains(&setup) {
                        explanations.push(setup);
                    }
                }
            }
        }
    }
    per_row
}

/// The notes the row's experiment declares to describe its setup
/// ([`crate::experiment::Experiment::setup_notes`]) that differ between two
/// runs (for the row's variant, when it has one).
fn setup_differences(
    row: &Row,
    a: &RunRecord,
    b: &RunRecord,
    a_label: &str,
    b_label: &str,
) -> Vec<Explanation> {
    let notes = |run: &RunRecord, note: &str| -> Vec<Option<String>> {
        run.experiments
            .iter()
            .filter(|e| e.name == row.experiment)
            .flat_map(|e| &e.variants)
            .filter(|v| row.variant.is_empty() || v.name == row.variant)
            .map(|v| v.notes.get(note).cloned())
            .collect()
    };
    declared::setup_notes(&row.experiment)
        .iter()
        .filter_map(|note| {
            let (left, right) = (notes(a, note), notes(b, note));
            (left != right).then(|| {
                let show = |v: &[Option<String>]| {
                    v.iter()
                        .map(|n| n.clone().unwrap_or_else(|| "(none)".into()))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                Explanation {
                    name: format!("not the kernel: {note} differs"),
                    detail: format!(
                        "the setup differs, so the programs measured do: {note} is \"{}\" under {a_label} \
                         and \"{}\" under {b_label}",
                        show(&left),
                        show(&right)
                    ),
                }
            })
        })
        .collect()
}

/// "not the kernel: LABEL's setup differs" for a column that did not have
/// what it asked for, with what it had.
fn setup_differs(label: &str, off: &[Mismatch]) -> Option<Explanation> {
    (!off.is_empty()).then(|| Explanation {
        name: format!("not the kernel: {label}'s setup differs"),
        detail: format!(
            "{label} did not run with the setup it asked for: {}",
            off.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// True when both columns measured the row's figure: a figure one column did
/// not measure (its variant skipped) differs, but no kernel change made it so.
fn measured_in_both(row: &Row, reference: usize, i: usize) -> bool {
    let number = |c: Option<&super::compare::Cell>| {
        c.is_some_and(|c| matches!(c.value, Value::Number(..) | Value::Change(..)))
    };
    number(row.cells.get(reference)) && number(row.cells.get(i))
}

/// True when one run's kernel has the change and the other's has not (and
/// both kept their files where the change applies).
fn straddles(change: &KnownChange, a: Option<&&RunRecord>, b: Option<&&RunRecord>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    let (Some(va), Some(vb)) = (
        release_version(&a.environment.kernel),
        release_version(&b.environment.kernel),
    ) else {
        return false;
    };
    let on_fs = change
        .files_on
        .is_none_or(|fs| a.environment.temp_dir_fs == fs && b.environment.temp_dir_fs == fs);
    on_fs && ((va < change.since) != (vb < change.since))
}

/// `(6, 1)` for a release such as `6.1.0-48-amd64` or `6.18.44-fc`.
pub fn release_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// True for the rows of VmRSS, RssAnon and RssFile: the counters of
/// /proc/PID/status that lagged before 6.2.
fn status_counter(metric: &str) -> bool {
    [Metric::VmRss, Metric::RssAnon, Metric::RssFile]
        .iter()
        .any(|m| m.row_name().as_deref() == Some(metric))
}

/// The changes that explain a claim's row: those of the differing rows of the
/// figures the claim declares it is judged on (metric and checkpoint, in its
/// variant or, for a claim over the whole experiment, in any). A claim that
/// declares no figure is never explained by a change.
fn claim_changes(matrix: &Matrix, per_row: &[Vec<Explanation>], row: &Row) -> Vec<Explanation> {
    let Some(declaration) = declared::claim(&row.experiment, &row.point) else {
        return Vec::new();
    };
    let mut found: Vec<Explanation> = Vec::new();
    for figure in declaration.judges {
        let Some(name) = figure.metric.row_name() else {
            continue;
        };
        for (other, changes) in matrix.rows.iter().zip(per_row) {
            let judged_here = other.kind == RowKind::Metric
                && other.experiment == row.experiment
                && (row.variant.is_empty() || other.variant == row.variant)
                && other.point == figure.at
                && other.metric == name;
            if judged_here {
                for change in changes {
                    if !found.contains(change) {
                        found.push(change.clone());
                    }
                }
            }
        }
    }
    found
}

/// True when, in a column whose kernel predates 6.2, the process of the row
/// shows the lag: its VmRSS (status counters) is below the sum of its smaps
/// Rss (the page tables) at that checkpoint.
fn counter_lags(evidence: &Evidence<'_>, row: &Row) -> bool {
    let role = if row.process.is_empty() {
        super::compare::MAIN_ROLE
    } else {
        row.process.as_str()
    };
    evidence.columns.iter().any(|column| {
        let Ok(run) = column.run else {
            return false;
        };
        let old = release_version(&run.environment.kernel).is_some_and(|v| v < (6, 2));
        old && run
            .experiments
            .iter()
            .filter(|e| e.name == row.experiment)
            .flat_map(|e| &e.variants)
            .filter(|v| v.name == row.variant)
            .filter_map(|v| v.checkpoint(&row.point))
            .flat_map(|c| &c.processes)
            .filter(|p| p.role == role)
            .any(|p| p.totals.rss_bytes < p.totals.mapped_rss_bytes)
    })
}

/// True when an AnonHugePages figure differs in the same experiment and
/// variant: the row's faults or memory then follow the huge pages (also where
/// only the huge zero page was mapped, which AnonHugePages does not count).
/// "not the kernel: huge pages fell back under LABEL" for a figure row whose
/// variant saw huge-page faults fall back in `run`.
fn fell_back(run: &RunRecord, row: &Row, label: &str) -> Option<Explanation> {
    let fallbacks = thp_fell_back(run, row).filter(|_| row.kind == RowKind::Metric)?;
    Some(Explanation {
        name: format!("not the kernel: huge pages fell back under {label}"),
        detail: format!(
            "{fallbacks} huge-page faults fell back to small pages under {label} \
             (thp_fault_fallback in /proc/vmstat): the kernel found no free 2 MiB block, which \
             is the memory it had, not its version"
        ),
    })
}

/// How many huge-page faults fell back to small pages (the growth of
/// /proc/vmstat's thp_fault_fallback over the checkpoints of the row's
/// variant) in `run`, if any did.
fn thp_fell_back(run: &RunRecord, row: &Row) -> Option<u64> {
    let counts = run
        .experiments
        .iter()
        .filter(|e| e.name == row.experiment)
        .flat_map(|e| &e.variants)
        .filter(|v| row.variant.is_empty() || v.name == row.variant)
        .map(|v| {
            let seen: Vec<u64> = v
                .checkpoints
                .iter()
                .filter_map(|c| c.system.as_ref()?.vmstat.as_ref()?.thp_fault_fallback)
                .collect();
            let low = seen.iter().min().copied().unwrap_or(0);
            let high = seen.iter().max().copied().unwrap_or(0);
            high - low
        });
    counts.max().filter(|&n| n > 0)
}

fn huge_pages_differ_beside(matrix: &Matrix, row: &Row) -> bool {
    row.kind == RowKind::Metric
        && matrix.rows.iter().any(|other| {
            other.kind == RowKind::Metric
                && other.experiment == row.experiment
                && other.variant == row.variant
                // At the row's own checkpoint: a figure taken before the
                // huge pages came (before the mapping) is not theirs.
                && other.point == row.point
                && other.metric.ends_with(ANON_HUGE_PAGES)
                && (0..other.cells.len()).any(|i| {
                    other.cells[i].differs
                        && matrix
                            .reference
                            .is_some_and(|r| measured_in_both(other, r, i))
                })
        })
}

/// Faults and resident file pages of a process that maps the experiment's own
/// files (a mapping in its temporary folder) at the row's checkpoint in some
/// column: what the run shows it measured, not which experiment it was.
fn file_mapping_row(evidence: &Evidence<'_>, row: &Row) -> bool {
    let figure = [MINOR_FAULTS, MAJOR_FAULTS, "RssFile", "VmRSS", "Pss"]
        .contains(&row.metric.as_str())
        || row.metric.ends_with(" Rss")
        || row.metric.ends_with(" Pss");
    figure && maps_own_files(evidence, row)
}

/// True when the row's process maps a file of the experiment's temporary
/// folder at the row's checkpoint, in any column.
fn maps_own_files(evidence: &Evidence<'_>, row: &Row) -> bool {
    let role = if row.process.is_empty() {
        super::compare::MAIN_ROLE
    } else {
        row.process.as_str()
    };
    evidence
        .columns
        .iter()
        .filter_map(|c| c.run.as_ref().ok())
        .flat_map(|run| &run.experiments)
        .filter(|e| e.name == row.experiment)
        .flat_map(|e| &e.variants)
        .filter(|v| v.name == row.variant)
        .filter_map(|v| v.checkpoint(&row.point))
        .flat_map(|c| &c.processes)
        .filter(|p| p.role == role)
        .flat_map(|p| &p.mappings)
        .any(|m| m.name.starts_with(crate::runner::TEMP_DIR_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::declared::Figure;
    use crate::matrix::compare::{compare, tests::retarget, tests::run};
    use crate::model::Verdict;

    /// The first experiment with a claim declared as judged on a figure that
    /// `pick` accepts: its name, the claim's id and the figure.
    fn declared_on(pick: impl Fn(&Figure) -> bool) -> (&'static str, &'static str, Figure) {
        crate::experiment::registry()
            .into_iter()
            .find_map(|e| {
                e.declared().iter().find_map(|d| {
                    d.judges
                        .iter()
                        .find(|f| pick(f))
                        .map(|f| (e.info().name, d.claim.id, *f))
                })
            })
            .expect("a claim declares such a figure")
    }

    #[test]
    fn releases_read_as_major_and_minor() {
        assert_eq!(release_version("6.1.0-48-amd64"), Some((6, 1)));
        assert_eq!(release_version("6.18.44-fc-v657"), Some((6, 18)));
        assert_eq!(release_version("custom"), None);
    }

    #[test]
    fn the_rss_lag_explains_vmrss_only_across_6_2() {
        // Files on tmpfs: the ext4 page-cache change does not apply.
        let mut old = run(1 << 20, 10, Verdict::Confirmed);
        old.environment.kernel = "6.1.0-48-amd64".into();
        old.environment.temp_dir_fs = "tmpfs".into();
        // VmRSS below the page tables' count: the lag is seen.
        old.experiments[0].variants[0].checkpoints[0].processes[0]
            .totals
            .mapped_rss_bytes = (1 << 20) + 40 * 4096;
        let mut new = run((1 << 20) + 40 * 4096, 10, Verdict::Refuted);
        new.environment.kernel = "6.18.44".into();
        new.environment.temp_dir_fs = "tmpfs".into();
        let mut same_era = new.clone();
        same_era.environment.kernel = "6.12.1".into();
        let (m, explained) = compared(("old", &old), ("new", &new));
        let at = |metric: &str| m.rows.iter().position(|r| r.metric == metric).unwrap();
        let names = |i: usize| {
            explained[i]
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(at("VmRSS")), vec!["RSS counters lag before 6.2"]);
        assert!(names(at("minor faults")).is_empty(), "faults do not differ");
        // The claim of the same variant differs too, but it declares no figure
        // (as a claim judged on smaps alone), so the lag does not explain it.
        assert!(
            names(at("verdict")).is_empty(),
            "{:?}",
            names(at("verdict"))
        );
        // A claim declared as judged on VmRSS at that checkpoint takes the explanation.
        let (experiment, claim, figure) =
            declared_on(|f| f.metric.row_name().as_deref() == Some("VmRSS"));
        let (mut old_vmrss, mut new_vmrss) = (old.clone(), new.clone());
        for r in [&mut old_vmrss, &mut new_vmrss] {
            retarget(r, experiment, figure.at, claim);
        }
        let columns_vmrss = [
            Column {
                label: "old".into(),
                run: Ok(&old_vmrss),
            },
            Column {
                label: "new".into(),
                run: Ok(&new_vmrss),
            },
        ];
        let m_vmrss = compare(&columns_vmrss);
        let explained_vmrss = explain(&m_vmrss, &columns_vmrss);
        let verdict_row = m_vmrss
            .rows
            .iter()
            .position(|r| r.metric == "verdict")
            .unwrap();
        assert_eq!(
            explained_vmrss[verdict_row]
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            vec!["RSS counters lag before 6.2"]
        );

        let mut moved = old.clone();
        moved.environment.kernel = "6.12.1".into();
        let columns_same_side = [
            Column {
                label: "a".into(),
                run: Ok(&same_era),
            },
            Column {
                label: "b".into(),
                run: Ok(&moved),
            },
        ];
        let m = compare(&columns_same_side);
        let explained = explain(&m, &columns_same_side);
        let vmrss = m.rows.iter().position(|r| r.metric == "VmRSS").unwrap();
        assert!(m.rows[vmrss].cells[1].differs);
        assert!(
            explained[vmrss].is_empty(),
            "6.12 and 6.12 do not straddle 6.2"
        );

        // Across 6.2 but with a VmRSS that agrees with smaps: no lag to blame.
        let mut exact = old.clone();
        exact.experiments[0].variants[0].checkpoints[0].processes[0]
            .totals
            .mapped_rss_bytes = 1 << 20;
        let (m, explained) = compared(("old", &exact), ("new", &new));
        let vmrss = m.rows.iter().position(|r| r.metric == "VmRSS").unwrap();
        assert!(m.rows[vmrss].cells[1].differs);
        assert!(explained[vmrss].is_empty(), "{:?}", explained[vmrss]);
    }

    #[test]
    fn a_guest_without_the_thp_it_asked_for_is_never_explained_by_a_kernel_change() {
        let mut old = run(1 << 20, 10, Verdict::Confirmed);
        old.environment.kernel = "6.1.0-57-amd64".into();
        old.environment.thp_enabled = "never".into();
        old.environment.guest = Some(crate::system::GuestInfo {
            kernel_spec: "debian:6.1".into(),
            thp_cmdline: "madvise".into(),
            ..Default::default()
        });
        old.experiments[0].variants[0].checkpoints[0].processes[0]
            .totals
            .mapped_rss_bytes = (1 << 20) + 40 * 4096;
        let mut new = run((1 << 20) + 40 * 4096, 10, Verdict::Confirmed);
        new.environment.kernel = "6.18.44".into();
        let (m, explained) = compared(("debian:6.1", &old), ("host", &new));
        let vmrss = m.rows.iter().position(|r| r.metric == "VmRSS").unwrap();
        let names: Vec<&str> = explained[vmrss].iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["not the kernel: debian:6.1's setup differs"]);
        assert!(
            explained[vmrss][0]
                .detail
                .contains("thp never (asked madvise)"),
            "{:?}",
            explained[vmrss]
        );
    }

    /// The matrix of two labelled runs, the first the reference, and what
    /// explains its rows.
    fn compared(
        (old_label, old): (&str, &RunRecord),
        (new_label, new): (&str, &RunRecord),
    ) -> (Matrix, Vec<Vec<Explanation>>) {
        let columns = [
            Column {
                label: old_label.into(),
                run: Ok(old),
            },
            Column {
                label: new_label.into(),
                run: Ok(new),
            },
        ];
        let m = compare(&columns);
        let explained = explain(&m, &columns);
        (m, explained)
    }

    /// A run under `kernel` whose region ended with `huge` bytes of huge
    /// pages, `fallbacks` huge-page faults having fallen back on the way.
    fn with_huge_pages(kernel: &str, huge: u64, fallbacks: u64) -> crate::model::RunRecord {
        let mut r = run(1 << 20, 10, Verdict::Confirmed);
        r.environment.kernel = kernel.into();
        let v = &mut r.experiments[0].variants[0];
        let mut before = v.checkpoints[0].clone();
        before.label = "before".into();
        v.checkpoints.insert(0, before);
        for (n, c) in (0u64..).zip(v.checkpoints.iter_mut()) {
            c.processes[0].regions = vec![crate::model::RegionRecord {
                name: "anon".into(),
                mapping_count: 1,
                figures: crate::model::MemoryFigures {
                    anon_huge_pages_bytes: huge * n,
                    ..Default::default()
                },
                pagemap: None,
            }];
            c.system = Some(crate::model::SystemCounters {
                vmstat: Some(crate::model::VmstatCounters {
                    thp_fault_fallback: Some(100 + n * fallbacks),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        r
    }

    #[test]
    fn huge_pages_that_fell_back_are_the_guests_memory_not_the_alignment_change() {
        let names = |old: &crate::model::RunRecord, new: &crate::model::RunRecord| {
            let (m, explained) = compared(("debian:6.1", old), ("host", new));
            let row = m
                .rows
                .iter()
                .position(|r| r.metric.ends_with(ANON_HUGE_PAGES) && r.cells[1].differs)
                .expect("the huge pages differ");
            explained[row]
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>()
        };
        let new = with_huge_pages("6.18.44", 256 << 20, 0);
        // A figure of a checkpoint where the huge pages were still equal (0
        // before the mapping in both) is never the alignment change's.
        let mut old = with_huge_pages("6.1.0-57-amd64", 4 << 20, 0);
        old.experiments[0].variants[0].checkpoints[0].processes[0]
            .totals
            .rss_bytes = 64 << 20;
        let (m, explained) = compared(("debian:6.1", &old), ("host", &new));
        let early = m
            .rows
            .iter()
            .position(|r| r.point == "before" && r.metric == "VmRSS")
            .expect("VmRSS before");
        assert!(m.rows[early].cells[1].differs);
        assert!(
            !explained[early]
                .iter()
                .any(|e| e.name.contains("THP alignment")),
            "{:?}",
            explained[early]
        );
        // Huge pages missing without a fallback: the alignment change may say why.
        let aligned = names(&with_huge_pages("6.1.0-57-amd64", 4 << 20, 0), &new);
        assert!(
            aligned.iter().any(|n| n.contains("THP alignment")),
            "{aligned:?}"
        );
        // Missing because the kernel found no free 2 MiB block: never the version.
        let short = names(&with_huge_pages("6.1.0-57-amd64", 4 << 20, 126), &new);
        assert!(
            !short.iter().any(|n| n.contains("THP alignment")),
            "{short:?}"
        );
        assert!(
            short
                .iter()
                .any(|n| n == "not the kernel: huge pages fell back under debian:6.1"),
            "{short:?}"
        );
    }

    #[test]
    fn a_setup_note_that_differs_is_named_as_not_the_kernel() {
        let experiment = crate::experiment::registry()
            .into_iter()
            .find(|e| !e.setup_notes().is_empty())
            .expect("an experiment declares a setup note");
        let note = experiment.setup_notes()[0];
        let mut guest = run(1 << 20, 10, Verdict::Refuted);
        guest.environment.kernel = "6.12.1".into();
        guest.experiments[0].name = experiment.info().name.into();
        let mut host = guest.clone();
        host.experiments[0].claims[0].verdict = Verdict::Confirmed;
        guest.experiments[0].variants[0]
            .notes
            .insert(note.into(), "Rust worker".into());
        host.experiments[0].variants[0]
            .notes
            .insert(note.into(), "static C".into());
        let (m, explained) = compared(("guest", &guest), ("host", &host));
        let verdict = m.rows.iter().position(|r| r.metric == "verdict").unwrap();
        assert_eq!(explained[verdict].len(), 1, "{:?}", explained[verdict]);
        assert_eq!(
            explained[verdict][0].name,
            format!("not the kernel: {note} differs")
        );
        assert!(
            explained[verdict][0]
                .detail
                .contains("\"Rust worker\" under guest"),
            "{:?}",
            explained[verdict]
        );
    }

    #[test]
    fn large_folios_explain_file_faults_only_when_both_kernels_used_ext4() {
        let mut old = run(1 << 20, 999, Verdict::Confirmed);
        old.environment.kernel = "6.1.0-57-amd64".into();
        old.environment.temp_dir_fs = "ext4".into();
        // The process maps a file of its own temporary folder.
        let own_file = crate::model::MappingRecord {
            start: crate::model::Address(0),
            end: crate::model::Address(0),
            name: format!("{}/data", crate::runner::TEMP_DIR_NAME),
            perms: "r--s".into(),
            offset_bytes: 0,
            figures: Default::default(),
            other: Default::default(),
            vm_flags: String::new(),
        };
        let without_file = old.clone();
        old.experiments[0].variants[0].checkpoints[0].processes[0]
            .mappings
            .push(own_file);
        let mut new = run(1 << 20, 69, Verdict::Confirmed);
        new.environment.kernel = "6.18.44".into();
        new.environment.temp_dir_fs = "ext4".into();
        let names = |old: &RunRecord, new: &RunRecord| {
            let (m, explained) = compared(("old", old), ("new", new));
            let faults = m
                .rows
                .iter()
                .position(|r| r.metric == MINOR_FAULTS)
                .unwrap();
            assert!(m.rows[faults].cells[1].differs);
            explained[faults]
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&old, &new),
            vec!["large folios in the ext4 page cache (6.16)"]
        );
        let mut on_tmpfs = new.clone();
        on_tmpfs.environment.temp_dir_fs = "tmpfs".into();
        assert!(names(&old, &on_tmpfs).is_empty());
        // Faults of a process that maps no file of its own are not the page cache's.
        assert!(names(&without_file, &new).is_empty());
    }
}
