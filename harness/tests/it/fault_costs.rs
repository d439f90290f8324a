//! The real fault-costs experiment at --quick size. Its timings are never
//! asserted on (they depend on the machine and its load); the fault counts of
//! each timed phase are, with tolerances derived from the page size, and so is
//! the shape of the price list in results.json.

use serde_json::Value;

use crate::util::{page_size, process, region, u64_at, variant, HarnessRun};

/// Every kind the experiment prices, as results.json names them.
const KINDS: [&str; 11] = [
    "anon-first-touch",
    "zero-page-read",
    "thp-first-touch",
    "file-minor-fault-around",
    "file-major-read-ahead",
    "file-major-no-read-ahead",
    "file-shared-write-fault",
    "file-private-cow-fault",
    "cow-after-fork",
    "fork",
    "munmap",
];

/// Faults of a phase beyond the measured pages: the loop's own code and stack
/// pages, and the timing note, in pages.
const SLACK_FAULTS: u64 = 32;

fn faults(v: &Value, label: &str) -> (u64, u64) {
    let p = process(v, label, "main");
    (
        u64_at(p, &["faults", "minor"]),
        u64_at(p, &["faults", "major"]),
    )
}

fn fault_costs_counts_one_fault_per_page_where_each_kind_says_so() {
    let run = HarnessRun::new(&["run", "fault-costs", "--quick", "--format", "json"]);
    run.assert_code(0);
    let json = run.json();
    let exp = &json["experiments"][0];
    assert_eq!(exp["status"], "ok", "{}", run.describe());
    let page = page_size();
    let reps = u64_at(exp, &["params", "repetitions"]);
    let block = u64_at(exp, &["params", "block_bytes"]);
    let pages = reps * block / page;
    let v = variant(&json, "fault-costs", "default");

    // A first write faults every page once, and so do a first read (the zero
    // page) and a write after fork (copy-on-write); nothing else faults much.
    for label in [
        "after-anon-first-touch",
        "after-zero-page-read",
        "after-cow-fault",
    ] {
        let (minor, major) = faults(v, label);
        assert!(
            (pages..=pages + SLACK_FAULTS).contains(&minor),
            "{label}: {minor} minor faults for {pages} pages\n{}",
            run.describe()
        );
        assert_eq!(major, 0, "{label}");
    }
    // The zero page costs no memory.
    let zero = region(process(v, "after-zero-page-read", "main"), "zero");
    assert!(u64_at(zero, &["rss_bytes"]) <= 2 * page, "{zero:#}");
    // The child still shares the originals, so the parent's copies are its own.
    let cow = region(process(v, "after-cow-fault", "main"), "cow");
    assert!(u64_at(cow, &["private_dirty_bytes"]) + 2 * page >= reps * block);

    // Fault-around: a cached file page faults at most once per page, and at least
    // once per fault-around window.
    // (The kernel's default, 64 KiB, when debugfs does not say.)
    let window = json["environment"]["fault_around_bytes"]
        .as_u64()
        .unwrap_or(64 << 10)
        .max(page);
    let (minor, major) = faults(v, "after-file-minor-fault");
    assert!(
        minor + major <= pages + SLACK_FAULTS && minor + major >= reps * block / window,
        "{minor} + {major} faults for {pages} cached pages, window {window}"
    );

    // Read-ahead off: every page of the cold part faults (and a disk fs makes
    // them major; tmpfs keeps the file in memory).
    let random_pages = reps * u64_at(exp, &["params", "random_block_bytes"]) / page;
    let (minor, major) = faults(v, "after-file-major-fault-no-read-ahead");
    assert!(
        minor + major >= random_pages,
        "{minor} + {major} faults for {random_pages} pages read without read-ahead"
    );
    if json["environment"]["temp_dir_fs"] != "tmpfs" {
        assert!(major > 0, "a cold file on a disk fs gave no major fault");
    }

    // Writes to cached file pages. Through a private mapping every page is
    // copied by a fault of its own. Through a shared mapping no fault-around
    // applies, but the kernel may map a whole large folio of the page cache per
    // fault: at most one fault per page, at least one per PMD-sized folio (the
    // largest the page cache holds) and per repetition.
    let (minor, major) = faults(v, "after-file-private-cow-fault");
    assert!(
        (pages..=pages + SLACK_FAULTS).contains(&(minor + major)),
        "private writes: {minor} + {major} faults for {pages} pages\n{}",
        run.describe()
    );
    let pmd = json["environment"]["thp_pmd_bytes"]
        .as_u64()
        .unwrap_or(2 << 20)
        .max(page);
    let fewest = reps * (block / pmd).max(1);
    let (minor, major) = faults(v, "after-file-shared-write-fault");
    assert!(
        (fewest..=pages + SLACK_FAULTS).contains(&(minor + major)),
        "shared writes: {minor} + {major} faults for {pages} pages, at least {fewest}\n{}",
        run.describe()
    );
    let private = region(
        process(v, "after-file-private-cow-fault", "main"),
        "file-private-write",
    );
    let copied = u64_at(private, &["anonymous_bytes"]);
    assert!(
        copied + 2 * page >= reps * block && copied <= reps * block,
        "{copied} bytes copied of {}: {private:#}",
        reps * block
    );
    let shared = region(
        process(v, "after-file-shared-write-fault", "main"),
        "file-shared-write",
    );
    assert_eq!(u64_at(shared, &["anonymous_bytes"]), 0, "{shared:#}");
    let dirty = u64_at(shared, &["private_dirty_bytes"]) + u64_at(shared, &["shared_dirty_bytes"]);
    assert!(
        dirty + 2 * page >= reps * block,
        "{dirty} dirty: {shared:#}"
    );

    // The price list: every kind is priced or the summary says why not.
    let costs = exp["fault_costs"]
        .as_array()
        .expect("fault_costs in results.json");
    let summary = exp["summary"][0]["rows"]
        .as_array()
        .expect("a price list table");
    // The list above is this test's expectation, not a copy it checks itself
    // against: a kind the run prices that the list lacks fails here too.
    for c in costs {
        assert!(
            KINDS.iter().any(|k| c["kind"] == *k),
            "priced but unknown to this test: {c:#}"
        );
    }
    for kind in KINDS {
        match costs.iter().find(|c| c["kind"] == kind) {
            Some(c) => {
                for spread in ["nanos_per_unit", "cpu_nanos_per_unit", "nanos_per_kib"] {
                    let (min, median, max) = (
                        c[spread]["min"].as_f64().expect("min"),
                        c[spread]["median"].as_f64().expect("median"),
                        c[spread]["max"].as_f64().expect("max"),
                    );
                    assert!(min <= median && median <= max, "{kind} {spread}: {c:#}");
                    assert!(min > 0.0, "{kind} {spread}: {c:#}");
                }
                assert_eq!(u64_at(c, &["repetitions"]), reps, "{kind}");
            }
            None => {
                let row = summary
                    .iter()
                    .find(|r| r[0] == kind)
                    .unwrap_or_else(|| panic!("{kind}: neither priced nor in the table"));
                let why = row[9].as_str().unwrap_or("");
                assert!(why.starts_with("not measured: "), "{kind}: {row:?}");
                // Only THP and the disk may be missing, and only for a reason;
                // a cached write only when reclaim took its pages first.
                assert!(
                    kind == "thp-first-touch"
                        || kind.starts_with("file-major")
                        || (kind.starts_with("file-") && why.contains("left the page cache")),
                    "{kind} missing: {why}"
                );
                eprintln!("SKIP: {kind} not priced here: {why}");
            }
        }
    }
    // The anonymous phase's price is per fault counted: 1 per page here.
    let anon = costs
        .iter()
        .find(|c| c["kind"] == "anon-first-touch")
        .expect("anon-first-touch priced");
    let per_rep = anon["units_per_repetition"].as_f64().expect("units");
    assert!(per_rep >= (block / page) as f64, "{anon:#}");
    run.assert_scratch_empty();
}

fn smaps_of_a_process_holding_a_1g_file_mapping_parses_to_the_resident_file() {
    // The capture the hot-path benchmark parses (see fixtures/proc/NOTES.md).
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proc/file-mapping-1g/smaps");
    let text = include_str!("../fixtures/proc/file-mapping-1g/smaps");
    let mappings = harness::probe::smaps::parse(text, &path).expect("parses");
    let file = mappings
        .iter()
        .find(|m| m.name.ends_with("/data"))
        .expect("the file mapping");
    assert_eq!(file.perms, "r--s");
    assert_eq!(file.figures.size_bytes, 976_564 * 1024);
    assert_eq!(file.figures.rss_bytes, 976_564 * 1024);
    assert_eq!(file.figures.anonymous_bytes, 0);
    assert_eq!(file.figures.private_dirty_bytes, 0);
}

crate::tests![
    fault_costs_counts_one_fault_per_page_where_each_kind_says_so,
    smaps_of_a_process_holding_a_1g_file_mapping_parses_to_the_resident_file,
];
