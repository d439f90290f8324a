//! Brief snapshots of many processes at once: every child of one process, each read
//! from /proc/PID/status and /proc/PID/smaps_rollup only (no per-mapping detail),
//! in a few threads, so that a thousand processes are read in well under a second.

use std::path::Path;

use crate::error::ProbeError;
use crate::model::{MemberFigures, MemberRecord, PopulationRecord};

/// The pids whose parent is `parent` in the /proc at `proc_dir`, from the
/// `PPid` field of each stat file (the `children` files need
/// CONFIG_PROC_CHILDREN, which not every kernel has).
pub fn children_in(proc_dir: &Path, parent: i32) -> Result<Vec<i32>, ProbeError> {
    let entries = std::fs::read_dir(proc_dir).map_err(|source| ProbeError::Io {
        path: proc_dir.to_path_buf(),
        source,
    })?;
    let mut pids: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(proc_dir.join(pid.to_string()).join("stat"))
                .ok()
                .and_then(|stat| parent_pid(&stat))
                == Some(parent)
        })
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// The children of `pid` in the /proc at `proc_dir`, sorted: from
/// `PID/task/*/children` when the kernel writes them (CONFIG_PROC_CHILDREN),
/// else from the parent field of every `*/stat` ([`children_in`]).
pub fn children_by_task_in(proc_dir: &Path, pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(proc_dir.join(pid.to_string()).join("task")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        match std::fs::read_to_string(entry.path().join("children")) {
            Ok(text) => found.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            ),
            // A thread that exited meanwhile takes its file with it; a kernel
            // without CONFIG_PROC_CHILDREN has none for a live thread.
            Err(_) if entry.path().exists() => {
                return children_in(proc_dir, pid).unwrap_or_default()
            }
            Err(_) => {}
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// The parent pid (fourth field) of a /proc/PID/stat line; the command name in
/// parentheses may itself hold spaces and parentheses, so fields count from the last `)`.
fn parent_pid(stat: &str) -> Option<i32> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Pss and Private_* of a /proc/PID/smaps_rollup text, in bytes: (pss, uss).
pub fn parse_rollup(text: &str) -> (u64, u64) {
    let mut pss = 0;
    let mut uss = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let kib: u64 = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match key {
            "Pss" => pss = kib.saturating_mul(1024),
            "Private_Clean" | "Private_Dirty" => {
                uss = kib.saturating_mul(1024).saturating_add(uss);
            }
            _ => {}
        }
    }
    (pss, uss)
}

/// One member's brief snapshot; `None` if it exited meanwhile.
fn read_member(proc_dir: &Path, pid: i32) -> Result<Option<MemberRecord>, ProbeError> {
    let dir = proc_dir.join(pid.to_string());
    let (Ok(status), Ok(rollup)) = (
        std::fs::read_to_string(dir.join("status")),
        std::fs::read_to_string(dir.join("smaps_rollup")),
    ) else {
        return Ok(None);
    };
    if status
        .lines()
        .any(|l| l.starts_with("State:") && l.contains("zombie"))
    {
        return Ok(None);
    }
    let totals = super::status::parse_totals(&status, &dir.join("status"))?;
    let (pss, uss) = parse_rollup(&rollup);
    Ok(Some(MemberRecord {
        pid,
        figures: MemberFigures {
            vm_size_bytes: totals.vm_size_bytes,
            rss_bytes: totals.rss_bytes,
            rss_anon_bytes: totals.rss_anon_bytes,
            rss_file_bytes: totals.rss_file_bytes,
            pss_bytes: pss,
            uss_bytes: uss,
            pte_bytes: totals.pte_bytes,
        },
    }))
}

/// Finds every child of `parent` and snapshots each briefly, in `threads` threads.
pub fn snapshot(parent: i32, role: &str, threads: usize) -> Result<PopulationRecord, ProbeError> {
    snapshot_in(Path::new("/proc"), parent, role, threads)
}

/// [`snapshot`] in the /proc at `proc_dir` (a fixture tree in tests).
pub fn snapshot_in(
    proc_dir: &Path,
    parent: i32,
    role: &str,
    threads: usize,
) -> Result<PopulationRecord, ProbeError> {
    let pids = children_in(proc_dir, parent)?;
    let threads = threads.clamp(1, 8);
    let chunk = pids.len().div_ceil(threads).max(1);
    let results: Vec<Result<Vec<Option<MemberRecord>>, ProbeError>> = std::thread::scope(|s| {
        let handles: Vec<_> = pids
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|p| read_member(proc_dir, *p)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ProbeError::Io {
                        path: proc_dir.join(parent.to_string()),
                        source: std::io::Error::other(format!(
                            "a reader thread panicked ({}:{})",
                            file!(),
                            line!()
                        )),
                    })
                })
            })
            .collect()
    });
    let mut record = PopulationRecord {
        role: role.to_string(),
        parent_pid: parent,
        count: pids.len(),
        ..Default::default()
    };
    for part in results {
        for member in part? {
            match member {
                Some(m) => {
                    record.sum.add(&m.figures);
                    record.members.push(m);
                }
                None => record.vanished += 1,
            }
        }
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_pid_is_found_after_an_awkward_command_name() {
        assert_eq!(parent_pid("42 (a) b (c)) S 7 42 42 0"), Some(7));
        assert_eq!(parent_pid("1 (init) S 0 1 1"), Some(0));
    }

    #[test]
    fn rollup_pss_and_private_pages_are_read_in_bytes() {
        let text = "55d0-7ffd ---p 00000000 00:00 0  [rollup]\nRss:  100 kB\nPss:  40 kB\nPss_Anon: 8 kB\nPrivate_Clean: 4 kB\nPrivate_Dirty: 8 kB\n";
        assert_eq!(parse_rollup(text), (40 * 1024, 12 * 1024));
    }

    /// tests/fixtures/trace/root/proc (see tests/fixtures/trace/NOTES.md).
    fn traced() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trace/root/proc")
    }

    #[test]
    fn children_come_from_the_task_files_else_from_every_stat() {
        assert_eq!(children_by_task_in(&traced(), 29687), vec![29691, 29692]);
        assert_eq!(children_by_task_in(&traced(), 29691), Vec::<i32>::new());
        assert_eq!(children_by_task_in(&traced(), 4), Vec::<i32>::new());
        // The same processes on a kernel without CONFIG_PROC_CHILDREN.
        let dir = tempfile::tempdir().unwrap();
        for pid in [29687, 29691, 29692] {
            let task = dir.path().join(format!("{pid}/task/{pid}"));
            std::fs::create_dir_all(&task).unwrap();
            let stat = traced().join(format!("{pid}/stat"));
            std::fs::copy(stat, dir.path().join(format!("{pid}/stat"))).unwrap();
        }
        assert_eq!(children_by_task_in(dir.path(), 29687), vec![29691, 29692]);
    }

    #[test]
    fn this_process_is_a_child_of_its_parent() {
        let me = std::process::id() as i32;
        let parent = nix::unistd::getppid().as_raw();
        assert!(children_in(Path::new("/proc"), parent)
            .unwrap()
            .contains(&me));
    }
}
