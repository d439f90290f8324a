//! Property tests for every parser of outside text: /proc files (smaps, status,
//! stat, meminfo, zoneinfo, pagemap, smaps_rollup, cgroup and mountinfo),
//! protocol lines, command-line sizes and counts, tolerances and results.json.
//! Each parser must answer every input with a value or an error, never a panic
//! or an overflow (these tests run in the dev profile, with overflow checks),
//! and a parse error must name the file it came from.
//!
//! The corpus is the captured text under `tests/fixtures/` (mutated: cut short,
//! bytes replaced, lines repeated or dropped) plus generated lines built from
//! the fields each format has; a failing case is kept by proptest in
//! `tests/it/fuzz.proptest-regressions` and replayed first on every run. The
//! number of cases per parser is fixed, so the time is bounded (a few seconds
//! in all).

use std::path::Path;

use harness::error::ProbeError;
use harness::probe::{meminfo, pagemap, population, smaps, stat, status};
use proptest::prelude::*;

const SMAPS: [&str; 3] = [
    include_str!("../fixtures/proc/mmap-file-after-read-all/smaps"),
    include_str!("../fixtures/proc/thp-anonymous/smaps"),
    include_str!("../fixtures/proc/thp-anonymous/smaps_rollup"),
];
const STATUS: [&str; 2] = [
    include_str!("../fixtures/proc/mmap-file-after-read-all/status"),
    include_str!("../fixtures/proc/thp-anonymous/status"),
];
const STAT: [&str; 2] = [
    include_str!("../fixtures/proc/mmap-file-after-read-all/stat"),
    include_str!("../fixtures/proc/thp-anonymous/stat"),
];
const RESULTS: &str = include_str!("../fixtures/runs/mmap-file-quick.json");

/// Cases per parser: enough to meet every branch of these small parsers many
/// times over, few enough that all of them take seconds in a debug build.
const CASES: u32 = 600;

/// Cases for the results.json round trip (parse, compare both ways, render),
/// which costs milliseconds a case.
const RESULTS_CASES: u32 = 150;

fn config() -> ProptestConfig {
    config_with(CASES)
}

fn config_with(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/it/fuzz.proptest-regressions"
            )),
        )),
        ..ProptestConfig::default()
    }
}

/// A change to captured text: where to cut it, bytes to overwrite, and a line
/// to repeat or drop.
#[derive(Debug, Clone)]
struct Mutation {
    cut: Option<usize>,
    overwrite: Vec<(usize, u8)>,
    repeat_line: Option<usize>,
    drop_line: Option<usize>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        proptest::option::of(any::<usize>()),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        proptest::option::of(any::<usize>()),
        proptest::option::of(any::<usize>()),
    )
        .prop_map(|(cut, overwrite, repeat_line, drop_line)| Mutation {
            cut,
            overwrite,
            repeat_line,
            drop_line,
        })
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if let (Some(i), false) = (m.repeat_line, lines.is_empty()) {
        let i = i % lines.len();
        lines.insert(i, lines[i]);
    }
    if let (Some(i), false) = (m.drop_line, lines.is_empty()) {
        lines.remove(i % lines.len());
    }
    let mut bytes = lines.join("\n").into_bytes();
    bytes.push(b'\n');
    for (at, byte) in &m.overwrite {
        let len = bytes.len();
        bytes[at % len] = *byte;
    }
    if let Some(cut) = m.cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A number as the kernel might write it, or as a corrupt file might: small,
/// at the edges of u64, or beyond it.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..100_000).prop_map(|n| n.to_string()),
        Just(u64::MAX.to_string()),
        Just((u64::MAX / 1024).to_string()),
        Just((u64::MAX / 1024 + 1).to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9a-f -]{0,8}",
    ]
}

fn assert_names_path(err: &ProbeError, path: &str) {
    assert!(err.to_string().contains(path), "{err}");
}

proptest! {
    #![proptest_config(config())]

    fn smaps_parsing_never_panics_and_errors_name_the_file(
        base in 0..SMAPS.len(), m in mutation()
    ) {
        let text = apply(SMAPS[base], &m);
        if let Err(e) = smaps::parse(&text, Path::new("/proc/7/smaps")) {
            assert_names_path(&e, "/proc/7/smaps");
        }
    }

    fn smaps_fields_with_any_number_never_overflow(
        key in "[A-Z][a-z_]{0,12}", value in number(), unit in prop_oneof![Just(" kB"), Just(""), Just(" MB")]
    ) {
        let text = format!(
            "7f0000000000-7f0000001000 rw-p 00000000 00:00 0\nSize: 4 kB\n{key}: {value}{unit}\nVmFlags: rd wr mr mw me ac\n"
        );
        if let Ok(maps) = smaps::parse(&text, Path::new("smaps")) {
            prop_assert_eq!(maps.len(), 1);
        }
    }

    fn status_parsing_never_panics_and_errors_name_the_file(
        base in 0..STATUS.len(), m in mutation()
    ) {
        let text = apply(STATUS[base], &m);
        if let Err(e) = status::parse_totals(&text, Path::new("/proc/7/status")) {
            assert_names_path(&e, "/proc/7/status");
        }
    }

    fn status_sizes_with_any_number_never_overflow(key in "Vm[A-Z][a-z]{2}|Rss[A-Z][a-z]{3}", value in number()) {
        let text = STATUS[1].replacen("VmRSS:", &format!("{key}:\t{value} kB\nVmRSS:"), 1);
        let _ = status::parse_totals(&text, Path::new("status"));
    }

    fn stat_parsing_never_panics_and_errors_name_the_file(
        base in 0..STAT.len(), m in mutation()
    ) {
        let text = apply(STAT[base], &m);
        if let Err(e) = stat::parse_faults(&text, Path::new("/proc/7/stat")) {
            assert_names_path(&e, "/proc/7/stat");
        }
    }

    fn stat_lines_with_any_command_name_never_panic(
        pid in number(), comm in "\\PC{0,20}", state in "\\PC{0,2}", fields in proptest::collection::vec(number(), 0..60)
    ) {
        let text = format!("{pid} ({comm}) {state} {}\n", fields.join(" "));
        let _ = stat::parse_faults(&text, Path::new("stat"));
    }

    fn meminfo_and_zoneinfo_parsing_never_overflow(
        lines in proptest::collection::vec(("[A-Za-z_()]{1,14}", number()), 0..40)
    ) {
        let meminfo: String = lines.iter().map(|(k, v)| format!("{k}: {v} kB\n")).collect();
        let _ = meminfo::parse(&meminfo);
        let zoneinfo: String = lines
            .iter()
            .map(|(_, v)| format!("    cpu: 0\n              count: {v}\n"))
            .collect();
        let _ = meminfo::parse_pcp_pages(&zoneinfo);
        let _ = population::parse_rollup(&meminfo);
    }

    fn pagemap_entries_and_samples_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..200), pages in any::<u64>()
    ) {
        match pagemap::parse_entries(&bytes) {
            Ok(entries) => prop_assert_eq!(entries.len(), bytes.len() / 8),
            Err(reason) => prop_assert!(reason.contains(&bytes.len().to_string())),
        }
        let sample = pagemap::sample_indexes(pages.min(1 << 40).max(pages % 1000));
        prop_assert!(sample.windows(2).all(|w| w[0] < w[1]));
    }

    fn protocol_lines_never_panic(
        words in proptest::collection::vec(
            prop_oneof![
                Just("vmlab-protocol".to_string()), Just("1".to_string()),
                Just("ready".to_string()), Just("checkpoint".to_string()),
                Just("checkpoint-children".to_string()), Just("region".to_string()),
                Just("progress".to_string()), Just("note".to_string()),
                Just("null-phase".to_string()), Just("skip".to_string()), Just("done".to_string()),
                number().prop_map(|n| format!("pid={n}")),
                number().prop_map(|n| format!("page_size={n}")),
                number().prop_map(|n| format!("start=0x{n}")),
                number().prop_map(|n| format!("len={n}")),
                number().prop_map(|n| format!("main={n}")),
                "\\PC{0,12}",
            ],
            0..8,
        )
    ) {
        let _ = experiments::protocol::parse(&words.join(" "));
    }

    fn sizes_counts_and_timeouts_are_values_or_one_line_errors(text in prop_oneof![number(), "\\PC{0,12}", number().prop_map(|n| format!("{n}GiB")), number().prop_map(|n| format!("-{n}KiB"))]) {
        for result in [
            harness::cli::parse_size(&text).map(|_| ()),
            harness::cli::parse_run_size(&text).map(|_| ()),
            harness::cli::parse_count(&text).map(|_| ()),
            harness::cli::parse_timeout(&text).map(|_| ()),
        ] {
            if let Err(message) = result {
                prop_assert!(!message.contains('\n'), "{message}");
            }
        }
        if let Ok(bytes) = harness::cli::parse_run_size(&text) {
            prop_assert!(bytes <= harness::cli::MAX_SIZE_BYTES);
        }
    }

    fn tolerances_are_values_or_errors(kind in "faults|memory|time|\\PC{0,6}", value in prop_oneof![number(), number().prop_map(|n| format!("{n}%")), number().prop_map(|n| format!("{n}pages")), "\\PC{0,8}"]) {
        let setting = format!("{kind}={value}");
        if let Ok(t) = harness::compare::tolerance::parse_all(&[setting]) {
            use harness::compare::tolerance::MetricKind;
            for kind in [MetricKind::Memory, MetricKind::Process, MetricKind::Faults] {
                let _ = t.band(kind, i64::MIN, u64::MAX);
                let _ = t.band(kind, i64::MAX, 4096);
            }
        }
    }

    fn cgroup_and_mountinfo_text_never_panics(
        cgroup in proptest::collection::vec(("[0-9]{1,2}", "memory|cpu|name=systemd|", "/[a-z/]{0,10}"), 0..5),
        mounts in proptest::collection::vec(("/[a-z/]{0,8}", "/sys/fs/cgroup/[a-z]{0,8}", "cgroup|cgroup2|tmpfs", "rw,memory|rw|"), 0..5),
    ) {
        let cgroup: String = cgroup.iter().map(|(n, c, p)| format!("{n}:{c}:{p}\n")).collect();
        let mountinfo: String = mounts
            .iter()
            .map(|(root, point, fs, opts)| format!("35 31 0:32 {root} {point} rw - {fs} {fs} {opts}\n"))
            .collect();
        let _ = harness::system::MemoryCgroup::locate(&cgroup, &mountinfo);
    }
}

proptest! {
    #![proptest_config(config_with(RESULTS_CASES))]

    fn results_files_with_any_figure_load_or_fail_without_panicking(
        at in any::<usize>(), value in number()
    ) {
        // Replace the n-th number of a real results.json with another one.
        let spans: Vec<(usize, usize)> = {
            let bytes = RESULTS.as_bytes();
            let mut spans = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i].is_ascii_digit() && i > 0 && matches!(bytes[i - 1], b' ' | b'[') {
                    let start = i;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    spans.push((start, i));
                }
                i += 1;
            }
            spans
        };
        let (start, end) = spans[at % spans.len()];
        let text = format!("{}{value}{}", &RESULTS[..start], &RESULTS[end..]);
        if let Ok(run) = harness::store::baseline::parse(&text, Path::new("x.json")) {
            let original = harness::store::baseline::parse(RESULTS, Path::new("y.json")).expect("fixture");
            let forward = harness::compare::compare(&original, &run, Default::default());
            let backward = harness::compare::compare(&run, &original, Default::default());
            let _ = harness::report::comparison::text(&forward, "y.json");
            let _ = harness::report::comparison::markdown(&backward, "x.json");
        }
    }
}

fn the_fixtures_themselves_parse() {
    for text in SMAPS {
        smaps::parse(text, Path::new("smaps")).expect("smaps fixture");
    }
    for text in STATUS {
        status::parse_totals(text, Path::new("status")).expect("status fixture");
    }
    for text in STAT {
        stat::parse_faults(text, Path::new("stat")).expect("stat fixture");
    }
}

crate::tests![
    smaps_parsing_never_panics_and_errors_name_the_file,
    smaps_fields_with_any_number_never_overflow,
    status_parsing_never_panics_and_errors_name_the_file,
    status_sizes_with_any_number_never_overflow,
    stat_parsing_never_panics_and_errors_name_the_file,
    stat_lines_with_any_command_name_never_panic,
    meminfo_and_zoneinfo_parsing_never_overflow,
    pagemap_entries_and_samples_never_panic,
    protocol_lines_never_panic,
    sizes_counts_and_timeouts_are_values_or_one_line_errors,
    tolerances_are_values_or_errors,
    cgroup_and_mountinfo_text_never_panics,
    results_files_with_any_figure_load_or_fail_without_panicking,
    the_fixtures_themselves_parse,
];
