//! The parsers on captured real /proc text (see tests/fixtures/proc/NOTES.md).

use std::path::Path;

use harness::probe::{parse_snapshot, smaps, DirProbe, Probe, RawSnapshot};
use harness::ProbeError;

const PAGE: u64 = 4096;

fn mmap_file_snapshot() -> RawSnapshot {
    RawSnapshot {
        smaps: include_str!("../fixtures/proc/mmap-file-after-read-all/smaps").into(),
        status: include_str!("../fixtures/proc/mmap-file-after-read-all/status").into(),
        stat: include_str!("../fixtures/proc/mmap-file-after-read-all/stat").into(),
    }
}

fn parses_the_mapped_file_of_a_real_snapshot_in_bytes() {
    let parsed = parse_snapshot(&mmap_file_snapshot(), Path::new("fixture")).unwrap();
    let data = parsed
        .mappings
        .iter()
        .find(|m| m.name.ends_with("/data"))
        .expect("the mapped file");
    assert_eq!(data.perms, "r--s");
    // 65,536,000 bytes mapped, rounded up to whole pages.
    assert_eq!(data.figures.size_bytes, 65_536_000u64.div_ceil(PAGE) * PAGE);
    assert_eq!(data.figures.rss_bytes, data.figures.size_bytes);
    assert_eq!(data.figures.anonymous_bytes, 0);
    assert!(data.vm_flags.contains("sh"), "{}", data.vm_flags);
    // Whole-process totals agree with the mappings they summarise.
    let rss_sum: u64 = parsed.mappings.iter().map(|m| m.figures.rss_bytes).sum();
    assert_eq!(parsed.totals.rss_bytes, rss_sum);
    assert!(parsed.totals.pss_bytes <= rss_sum);
    assert!(parsed.totals.vm_size_bytes >= data.figures.size_bytes);
    assert!(parsed.faults_total.minor > 0);
}

fn parses_smaps_with_thp_fields() {
    let maps = smaps::parse(
        include_str!("../fixtures/proc/thp-anonymous/smaps"),
        Path::new("smaps"),
    )
    .unwrap();
    let thp = maps
        .iter()
        .find(|m| m.figures.anon_huge_pages_bytes > 0)
        .expect("a mapping with AnonHugePages");
    assert_eq!(thp.figures.anon_huge_pages_bytes, 8 << 20);
    assert!(thp.vm_flags.split_whitespace().any(|f| f == "hg"));
    assert_eq!(thp.other.get("THPeligible"), Some(&1));
}

fn parses_smaps_rollup_as_one_mapping() {
    let maps = smaps::parse(
        include_str!("../fixtures/proc/thp-anonymous/smaps_rollup"),
        Path::new("smaps_rollup"),
    )
    .unwrap();
    assert_eq!(maps.len(), 1);
    assert_eq!(maps[0].name, "[rollup]");
    assert_eq!(maps[0].figures.anon_huge_pages_bytes, 8 << 20);
    assert!(maps[0].other.contains_key("Pss_Anon"));
}

fn names_heap_stack_vdso_and_anonymous_mappings() {
    let maps = smaps::parse(
        include_str!("../fixtures/proc/thp-anonymous/smaps"),
        Path::new("smaps"),
    )
    .unwrap();
    let names: Vec<&str> = maps.iter().map(|m| m.name.as_str()).collect();
    for expected in ["[heap]", "[stack]", "[vdso]", "[vvar]", ""] {
        assert!(names.contains(&expected), "{expected:?} not in {names:?}");
    }
}

fn a_truncated_real_smaps_is_a_parse_error_not_a_panic() {
    let text = include_str!("../fixtures/proc/mmap-file-after-read-all/smaps");
    for cut in [text.len() / 3, text.len() / 2, text.len() - 40] {
        // The capture is ASCII, so any byte offset is a character boundary.
        let cut = &text[..cut];
        let err = smaps::parse(cut, Path::new("smaps")).unwrap_err();
        assert!(
            matches!(err, ProbeError::Parse { .. }),
            "cut at {}: {err}",
            cut.len()
        );
    }
}

fn the_dir_probe_serves_a_captured_snapshot() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("4242");
    std::fs::create_dir(&dir).unwrap();
    let raw = mmap_file_snapshot();
    std::fs::write(dir.join("smaps"), &raw.smaps).unwrap();
    std::fs::write(dir.join("status"), &raw.status).unwrap();
    std::fs::write(dir.join("stat"), &raw.stat).unwrap();
    let probe = DirProbe {
        root: root.path().into(),
    };
    assert_eq!(probe.read(4242).unwrap(), raw);
    assert!(matches!(
        probe.read(4243),
        Err(ProbeError::ProcessGone { pid: 4243 })
    ));
}

crate::tests![
    parses_the_mapped_file_of_a_real_snapshot_in_bytes,
    parses_smaps_with_thp_fields,
    parses_smaps_rollup_as_one_mapping,
    names_heap_stack_vdso_and_anonymous_mappings,
    a_truncated_real_smaps_is_a_parse_error_not_a_panic,
    the_dir_probe_serves_a_captured_snapshot,
];
