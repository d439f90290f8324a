//! A variant measured again when a transient disturbance left a claim of it
//! undecided, and only then: the real harness at --quick size.

use std::path::Path;

use harness::model::{ClaimRecord, Precondition, RunRecord, Verdict};

use crate::util::HarnessRun;

/// The claim `id` of `variant` in the run's only experiment.
fn claim<'a>(record: &'a RunRecord, id: &str, variant: &str, run: &HarnessRun) -> &'a ClaimRecord {
    record.experiments[0]
        .claims
        .iter()
        .find(|c| c.id == id && c.variant.as_deref() == Some(variant))
        .unwrap_or_else(|| panic!("no claim {id} of {variant}\n{}", run.describe()))
}

/// The test makes mmap-file's warm-dd drop its own file from the page cache
/// between mincore and the read, on its first run only (a marker file says a
/// run did): the first run reads the file from storage, so its
/// no-disk claim is inconclusive with that disturbance, and the second,
/// undisturbed, is judged (confirmed). Where proactive reclaim runs, the
/// second run may be disturbed too (then a third is made).
fn a_disturbed_variant_is_measured_again_and_its_attempts_recorded() {
    let marker_dir = tempfile::tempdir().expect("temp dir");
    let marker = marker_dir.path().join("evicted-once");
    let run = HarnessRun::with_env(
        &["run", "mmap-file/warm-dd", "--quick", "--format", "json"],
        &[(
            experiments::catalog::mmap_file::TEST_EVICT_ONCE_ENV,
            Path::new(&marker),
        )],
    );
    run.assert_code(0);
    assert!(
        marker.exists(),
        "the first run evicted nothing\n{}",
        run.describe()
    );
    let record = run.record();
    let fs = record.environment.temp_dir_fs.as_str();
    if matches!(fs, "tmpfs" | "ramfs" | "shmem") {
        crate::trials::skip(format!(
            "the temporary folder is on {fs}, whose pages posix_fadvise cannot evict"
        ));
    }
    let c = claim(&record, "cached-file-reads-need-no-disk", "warm-dd", &run);
    let attempts = c
        .attempts
        .as_ref()
        .unwrap_or_else(|| panic!("warm-dd was not measured again: {c:#?}\n{}", run.describe()));
    assert!(attempts.judged >= 2, "{attempts:?}");
    assert_eq!(attempts.made, attempts.judged, "{attempts:?}");
    assert_eq!(attempts.disturbed.len() as u32, attempts.judged - 1);
    assert!(
        attempts.disturbed[0].starts_with("cached-file-reads-need-no-disk: the test evicted "),
        "{attempts:?}"
    );
    assert!(
        c.evidence.contains(&format!(
            "attempt {} of {}; attempt 1: ",
            attempts.judged, attempts.made
        )),
        "{}",
        c.evidence
    );
    // Every claim of the variant was judged on the same run.
    for other in &record.experiments[0].claims {
        assert_eq!(other.attempts.as_ref(), Some(attempts), "{}", other.id);
    }
    let reclaim = !record.environment.damon_pageout.is_empty();
    if attempts.judged == 2 {
        assert_eq!(c.verdict, Verdict::Confirmed, "{}", run.describe());
        assert_eq!(c.disturbance, None);
    } else {
        assert!(reclaim, "a third run without reclaim: {attempts:?}");
        eprintln!("NOTE: proactive reclaim disturbed the second run too: {attempts:?}");
    }
    run.assert_scratch_empty();
}

/// A claim undecided by a permanent precondition (lazy-alloc's overcommit
/// claims of a mode not in force) carries no disturbance, and its variant is
/// run once.
fn a_permanent_precondition_is_not_retried() {
    let mode = std::fs::read_to_string("/proc/sys/vm/overcommit_memory")
        .unwrap_or_default()
        .trim()
        .to_string();
    let id = match mode.as_str() {
        "0" | "2" => "always-overcommit-grants-one-mapping-larger-than-ram-and-swap",
        "1" => "strict-overcommit-refuses-beyond-commit-limit",
        _ => crate::trials::skip("vm.overcommit_memory is not readable"),
    };
    let run = HarnessRun::new(&["run", "lazy-alloc/thp-off", "--quick", "--format", "json"]);
    run.assert_code(0);
    let record = run.record();
    let c = claim(&record, id, "thp-off", &run);
    assert_eq!(c.verdict, Verdict::Inconclusive, "{c:#?}");
    assert_eq!(c.precondition, Some(Precondition::Environment), "{c:#?}");
    assert_eq!(c.disturbance, None, "{c:#?}");
    for other in &record.experiments[0].claims {
        assert_eq!(other.attempts, None, "{other:#?}\n{}", run.describe());
    }
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert!(!stderr.contains("measuring it again"), "{}", run.describe());
}

crate::tests![
    a_disturbed_variant_is_measured_again_and_its_attempts_recorded,
    a_permanent_precondition_is_not_retried,
];
