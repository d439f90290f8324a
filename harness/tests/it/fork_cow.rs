//! The real fork-cow experiment at --quick size: parent and child measured at
//! every checkpoint, relations asserted with tolerances in pages.

use harness::model::{ClaimRecord, MemoryFigures, RunRecord, Status, VariantRecord, Verdict};

use crate::util::{page_size, record_region, record_variant, snapshot, HarnessRun};

/// Slack for smaps figures, in pages: the region's edges.
const EDGE_PAGES: u64 = 2;
/// Slack for fault counts, in pages: stack pages that are themselves copied on
/// write after fork.
const STRAY_FAULTS: u64 = 8;

/// The data region's figures of `role` at `label`.
fn data<'a>(v: &'a VariantRecord, label: &str, role: &str) -> &'a MemoryFigures {
    &record_region(snapshot(v, label, role), "data").figures
}

fn minor_faults(v: &VariantRecord, label: &str, role: &str) -> u64 {
    snapshot(v, label, role).faults.minor
}

fn claim<'a>(record: &'a RunRecord, id: &str, variant: &str) -> &'a ClaimRecord {
    record.experiments[0]
        .claims
        .iter()
        .find(|c| c.id == id && c.variant.as_deref() == Some(variant))
        .unwrap_or_else(|| panic!("no claim {id} for {variant}"))
}

/// PFNs of the sampled pages of `role` at `label` (None when hidden).
fn pfns(v: &VariantRecord, label: &str, role: &str) -> Vec<(u64, Option<u64>)> {
    record_region(snapshot(v, label, role), "data")
        .pagemap
        .as_ref()
        .unwrap_or_else(|| panic!("no pagemap at {label}/{role}"))
        .sample
        .iter()
        .map(|s| (s.page_index, s.pfn))
        .collect()
}

fn fork_shares_every_page_until_the_child_writes_it() {
    let run = HarnessRun::new(&["run", "fork-cow", "--quick", "--format", "json"]);
    run.assert_code(0);
    let record = run.record();
    let page = page_size();
    let exp = &record.experiments[0];
    assert_eq!(exp.status, Status::Ok, "{}", run.describe());
    let size = exp.params["region_bytes"].as_u64().expect("region_bytes");
    let pages = size / page;
    let quarter = pages / 4;
    let near = |a: u64, b: u64, pages: u64| a.abs_diff(b) <= pages * page;
    let variant = |name| record_variant(&record, "fork-cow", name);

    for name in ["thp-off", "thp-on"] {
        let v = variant(name);
        assert_eq!(v.status, Status::Ok, "{name}: {}", run.describe());
        // After fork: same Rss in both, each Pss about half, nothing private.
        let p_rss = data(v, "after-fork", "parent").rss_bytes;
        let c_rss = data(v, "after-fork", "child").rss_bytes;
        assert!(near(p_rss, size, EDGE_PAGES), "{name}: parent Rss {p_rss}");
        assert!(near(c_rss, p_rss, EDGE_PAGES), "{name}: child Rss {c_rss}");
        for role in ["parent", "child"] {
            let pss = data(v, "after-fork", role).pss_bytes;
            assert!(near(pss, size / 2, EDGE_PAGES), "{name}/{role}: Pss {pss}");
        }
        // Reading costs the child no faults beyond its own stack.
        let read = minor_faults(v, "child-read-all", "child");
        assert!(read <= STRAY_FAULTS, "{name}: {read} faults to read");
        // Writing a quarter: a quarter of the region becomes private to the child.
        let before = data(v, "child-read-all", "child").private_dirty_bytes;
        let after = data(v, "child-write-quarter", "child").private_dirty_bytes;
        assert!(
            near(after - before, quarter * page, EDGE_PAGES),
            "{name}: Private_Dirty grew by {}",
            after - before
        );
        // After the child exits, the parent's Pss is its Rss again.
        let exited = data(v, "after-child-exit", "parent");
        let (pss, rss) = (exited.pss_bytes, exited.rss_bytes);
        assert!(near(pss, rss, EDGE_PAGES), "{name}: Pss {pss} Rss {rss}");
    }

    // Without THP, one minor fault per written page.
    let off = variant("thp-off");
    let faults = minor_faults(off, "child-write-quarter", "child");
    assert!(
        faults.abs_diff(quarter) <= STRAY_FAULTS,
        "{faults} faults for {quarter} pages"
    );
    // With THP, the precondition is checked from the measurement, not assumed.
    let on = variant("thp-on");
    let huge = data(on, "after-fill", "parent").anon_huge_pages_bytes;
    let thp_verdict = claim(&record, "fork-copies-nothing", "thp-on").verdict;
    if huge == 0 {
        assert_eq!(thp_verdict, Verdict::Inconclusive, "no THP arrived");
    } else {
        assert_ne!(thp_verdict, Verdict::Inconclusive, "{}", run.describe());
    }

    // A private file mapping: the child starts with nothing and faults to read.
    let file = variant("file-private");
    assert!(data(file, "after-fork", "child").rss_bytes <= EDGE_PAGES * page);
    assert!(minor_faults(file, "child-read-all", "child") > 0);
    assert!(near(
        data(file, "child-read-all", "child").rss_bytes,
        size,
        EDGE_PAGES
    ));

    // Zygote: each child owns only its share; summed Pss is the memory used.
    let zygote = variant("zygote");
    let share = zygote
        .notes
        .get("zygote_share_pages")
        .and_then(|s| s.parse::<u64>().ok())
        .expect("zygote_share_pages");
    let procs = &zygote
        .checkpoint("children-write-share")
        .expect("children-write-share")
        .processes;
    let children = procs.len() as u64 - 1;
    let pss: u64 = procs
        .iter()
        .map(|p| record_region(p, "data").figures.pss_bytes)
        .sum();
    assert!(
        near(
            pss,
            (pages + children * share) * page,
            EDGE_PAGES * (children + 1)
        ),
        "summed Pss {pss}"
    );

    // The content proof held in every variant.
    for name in ["thp-off", "thp-on", "file-private", "zygote"] {
        for (key, value) in &variant(name).notes {
            if key.contains("mismatches") {
                assert_eq!(value, "0", "{name}: {key}");
            }
        }
        assert_eq!(
            claim(&record, "writes-do-not-leak", name).verdict,
            Verdict::Confirmed,
            "{name}"
        );
    }

    // Physically: the same frames after fork, different ones for written pages.
    let shared = pfns(off, "after-fork", "parent");
    if shared.iter().all(|(_, pfn)| pfn.is_none()) {
        eprintln!("SKIP: PFNs are hidden (not root); the frame comparison is not asserted");
        assert_eq!(
            claim(&record, "same-frames-until-written", "thp-off").verdict,
            Verdict::Inconclusive
        );
    } else {
        assert_eq!(shared, pfns(off, "after-fork", "child"));
        let parent = pfns(off, "child-write-quarter", "parent");
        let child = pfns(off, "child-write-quarter", "child");
        for ((index, p), (_, c)) in parent.iter().zip(&child) {
            if *index < quarter {
                assert_ne!(p, c, "page {index} was written by the child");
            } else {
                assert_eq!(p, c, "page {index} was not written");
            }
        }
    }
    // The side-by-side table: one row per checkpoint of the variant.
    let tables = &record.experiments[0].summary;
    let side_by_side = tables
        .iter()
        .find(|t| t.title == "thp-off: the region in parent and child")
        .unwrap_or_else(|| panic!("no parent/child table in {tables:?}"));
    assert_eq!(side_by_side.rows.len(), off.checkpoints.len());
    run.assert_scratch_empty();
}

crate::tests![fork_shares_every_page_until_the_child_writes_it];
