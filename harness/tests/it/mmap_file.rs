//! The real mmap-file experiment at --quick size, judged on measured values with
//! tolerances derived from the page size.

use std::sync::Arc;

use serde_json::Value;

use harness::model::{RunRecord, Status, VariantRecord, Verdict};

use crate::util::{page_size, record_region, record_variant, shared_run, snapshot, HarnessRun};

/// The command line of mmap-file's quick run, which these tests and the
/// classroom's share.
pub const QUICK: &[&str] = &["run", "mmap-file", "--quick", "--format", "json"];

/// The shared quick run of mmap-file, checked to have succeeded.
fn quick_run() -> (Arc<HarnessRun>, RunRecord) {
    let run = shared_run(QUICK);
    run.assert_code(0);
    let record = run.record();
    (run, record)
}

fn mmap_file_measures_vsz_rss_and_faults_as_the_seed_describes() {
    let (run, record) = quick_run();
    let page = page_size();
    let exp = &record.experiments[0];
    assert_eq!(exp.status, Status::Ok, "{}", run.describe());
    let map_bytes = exp.params["map_bytes"].as_u64().expect("map_bytes");

    for name in ["warm", "cold"] {
        let v = record_variant(&record, "mmap-file", name);
        assert_eq!(v.status, Status::Ok, "{name}: {}", run.describe());
        let before = snapshot(v, "before-mmap", "main");
        let after = snapshot(v, "after-mmap", "main");
        let data = &record_region(after, "data").figures;
        let size = data.size_bytes;
        assert_eq!(size, map_bytes.div_ceil(page) * page, "{name}");
        // Mapping adds the file to the address space and nothing to RSS.
        let vsz_delta = after.totals.vm_size_bytes - before.totals.vm_size_bytes;
        assert!(
            vsz_delta.abs_diff(size) <= 2 * page,
            "{name}: VmSize grew by {vsz_delta}"
        );
        assert_eq!(data.rss_bytes, 0, "{name}");
        let resident = |label| {
            record_region(snapshot(v, label, "main"), "data")
                .figures
                .rss_bytes
        };
        // One read: at least the page read, at most one PMD's worth.
        let first = resident("after-first-read");
        assert!(
            (page..=2 << 20).contains(&first),
            "{name}: {first} bytes after one read"
        );
        // Reading all: the whole mapping is resident, within two pages.
        let all = resident("after-read-all");
        assert!(all + 2 * page >= size, "{name}: {all} of {size} resident");
    }

    // The storage reads charged to the process (/proc/PID/io): none for the
    // cached file, at least the mapping for the cold one.
    let read_bytes = |name: &str| {
        let v = record_variant(&record, "mmap-file", name);
        let io = |label| {
            snapshot(v, label, "main")
                .io
                .unwrap_or_else(|| panic!("{name}: no io counters at {label}"))
                .read_bytes
        };
        io("after-read-all") - io("after-mmap")
    };
    // Proactive reclaim (a DAMON pageout scheme) may evict pages of the cached
    // file while it is read; the claim is then inconclusive, and so is this check.
    if !record.environment.damon_pageout.is_empty() {
        eprintln!("SKIP: warm read_bytes not checked: proactive reclaim runs on this machine");
    } else {
        assert_eq!(read_bytes("warm"), 0, "{}", run.describe());
    }
    assert!(
        read_bytes("cold") >= map_bytes.div_ceil(page) * page * 99 / 100,
        "cold read {} bytes",
        read_bytes("cold")
    );
    // The seed's way of writing (1 KiB per write) is the warm-dd variant.
    let dd = record_variant(&record, "mmap-file", "warm-dd");
    assert_eq!(
        dd.notes.get("write_chunk_bytes").map(String::as_str),
        Some("1024")
    );
    run.assert_scratch_empty();
}

fn the_protocol_adds_no_faults_and_no_rss() {
    let (run, record) = quick_run();
    for v in &record.experiments[0].variants {
        assert!(
            !v.noise_floor.is_empty(),
            "no null phase in {}\n{}",
            v.name,
            run.describe()
        );
        for n in &v.noise_floor {
            assert_eq!(
                (n.minor_faults, n.major_faults, n.rss_delta_bytes),
                (0, 0, 0),
                "{}: {n:?}",
                v.name
            );
        }
        // The checkpoint right after the null phase saw nothing happen either.
        let first = &v.checkpoints[0].processes[0];
        assert_eq!(first.faults.minor, 0, "{}: {first:?}", v.name);
    }
}

fn every_claim_gets_a_measured_verdict() {
    let (run, record) = quick_run();
    let claims = &record.experiments[0].claims;
    assert!(claims.len() >= 12, "{}", run.describe());
    for c in claims {
        assert!(!c.evidence.is_empty(), "{c:?}");
        assert_eq!(c.source, experiments::catalog::writing::CHODOROW);
        // The criterion was declared before measuring, and the figure it was
        // applied to is recorded beside the verdict.
        assert!(!c.criterion.is_empty(), "{c:?}");
        if c.verdict != Verdict::Inconclusive {
            assert!(!c.measured.is_empty(), "{c:?}");
        }
    }
}

fn results_are_written_as_json_markdown_csv_and_raw_text() {
    let run = shared_run(QUICK);
    run.assert_code(0);
    let json = run.json();
    let dir = run.run_dir();
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(saved, json, "stdout and results.json differ");
    assert_eq!(saved["format_version"], 1);
    for key in [
        "kernel",
        "page_size",
        "thp_enabled",
        "thp_defrag",
        "overcommit_memory",
        "temp_dir_fs",
        "cpu_model",
        "cpu_count",
        "mem_total_bytes",
        "is_root",
        "glibc_version",
    ] {
        assert!(
            saved["environment"].get(key).is_some(),
            "environment lacks {key}"
        );
    }
    let md = std::fs::read_to_string(dir.join("results.md")).unwrap();
    assert!(
        md.contains("## mmap-file") && md.contains("after-read-all"),
        "{md}"
    );
    let csv = std::fs::read_to_string(dir.join("checkpoints.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.contains("rss_bytes") && header.contains("minor_faults"));
    let columns = header.split(',').count();
    // warm and warm-dd write their files (6 checkpoints), cold and
    // cold-random reuse warm's (4).
    assert_eq!(
        lines.clone().count(),
        2 * 6 + 2 * 4,
        "checkpoints of the 4 variants"
    );
    assert!(lines.all(|l| l.split(',').count() == columns));
    for name in ["regions.csv", "mappings.csv", "claims.csv"] {
        assert!(dir.join(name).is_file(), "{name}");
    }
    let raw = dir.join("raw/mmap-file/warm/05-after-read-all/main/smaps");
    let smaps = std::fs::read_to_string(&raw).unwrap_or_else(|e| panic!("{}: {e}", raw.display()));
    assert!(smaps.contains("VmFlags"));
}

/// The cold variant maps the file the warm variant wrote and kept; run alone
/// it writes its own, in a write phase of its own before `before-mmap`.
/// Either way it measures the same from there: the same checkpoints, nothing
/// cached before mapping, the same faults in the phases before the bulk read,
/// the whole mapping resident after it, and the same verdicts.
fn a_reused_file_measures_as_one_written_for_the_variant() {
    let (run, record) = quick_run();
    assert_eq!(
        record.experiments[0].params["file_reused"],
        Value::Bool(true),
        "{}",
        run.describe()
    );
    let alone = HarnessRun::new(&["run", "mmap-file/cold", "--quick", "--format", "json"]);
    alone.assert_code(0);
    let alone_record = alone.record();
    let reused = record_variant(&record, "mmap-file", "cold");
    let written = record_variant(&alone_record, "mmap-file", "cold");
    let source = |v: &VariantRecord| v.notes.get("file_source").cloned();
    assert_eq!(source(reused).as_deref(), Some("reused"));
    assert_eq!(source(written).as_deref(), Some("written"));
    let labels = |v: &VariantRecord| {
        v.checkpoints
            .iter()
            .map(|c| c.label.clone())
            .collect::<Vec<_>>()
    };
    let mut expected = labels(reused);
    assert_eq!(expected[0], "before-mmap", "a reused file is not written");
    expected.splice(
        0..0,
        ["before-write".to_string(), "after-write".to_string()],
    );
    assert_eq!(labels(written), expected);
    for v in [reused, written] {
        let cached = v.notes.get("page_cache_pages_before_mmap").cloned();
        assert_eq!(cached.as_deref(), Some("0"), "{}", run.describe());
    }
    let page = page_size();
    for label in ["after-mmap", "after-first-read"] {
        let faults = |v: &VariantRecord| {
            let p = snapshot(v, label, "main");
            (p.faults.minor, p.faults.major)
        };
        assert_eq!(faults(reused), faults(written), "faults at {label}");
    }
    let resident = |v: &VariantRecord| {
        record_region(snapshot(v, "after-read-all", "main"), "data")
            .figures
            .rss_bytes
    };
    assert!(
        resident(reused).abs_diff(resident(written)) <= 2 * page,
        "resident after reading all: {} reused, {} written",
        resident(reused),
        resident(written)
    );
    let verdicts = |r: &RunRecord| {
        r.experiments[0]
            .claims
            .iter()
            .filter(|c| c.variant.as_deref() == Some("cold"))
            .map(|c| (c.id.clone(), c.verdict, c.evidence.clone()))
            .collect::<Vec<_>>()
    };
    let (ours, theirs) = (verdicts(&record), verdicts(&alone_record));
    assert_eq!(ours.len(), theirs.len());
    for ((id, a, why_a), (_, b, why_b)) in ours.iter().zip(&theirs) {
        if a == b {
            continue;
        }
        // Proactive reclaim can evict pages of either file while it is read.
        if !record.environment.damon_pageout.is_empty() {
            eprintln!(
                "SKIP: cold {id}: {a:?} with the reused file, {b:?} with its own, under proactive reclaim: {why_a} / {why_b}"
            );
            continue;
        }
        panic!("cold {id}: {a:?} with the reused file ({why_a}), {b:?} with its own ({why_b})");
    }
    run.assert_scratch_empty();
    alone.assert_scratch_empty();
}

crate::tests![
    mmap_file_measures_vsz_rss_and_faults_as_the_seed_describes,
    a_reused_file_measures_as_one_written_for_the_variant,
    the_protocol_adds_no_faults_and_no_rss,
    every_claim_gets_a_measured_verdict,
    results_are_written_as_json_markdown_csv_and_raw_text,
];
