//! The real fork-cow experiment at --quick size: parent and child measured at
//! every checkpoint, relations asserted with tolerances in pages.

use serde_json::Value;

use crate::util::{page_size, process, region, u64_at, variant, HarnessRun};

/// Slack for smaps figures, in pages: the region's edges.
const EDGE_PAGES: u64 = 2;
/// Slack for fault counts, in pages: stack pages that are themselves copied on
/// write after fork.
const STRAY_FAULTS: u64 = 8;

fn figure(v: &Value, label: &str, role: &str, key: &str) -> u64 {
    u64_at(region(process(v, label, role), "data"), &[key])
}

fn minor_faults(v: &Value, label: &str, role: &str) -> u64 {
    u64_at(process(v, label, role), &["faults", "minor"])
}

fn claim<'a>(json: &'a Value, id: &str, variant: &str) -> &'a Value {
    json["experiments"][0]["claims"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id && c["variant"] == variant))
        .unwrap_or_else(|| panic!("no claim {id} for {variant}"))
}

/// PFNs of the sampled pages of `role` at `label` (null when hidden).
fn pfns(v: &Value, label: &str, role: &str) -> Vec<(u64, Option<u64>)> {
    let pagemap = &region(process(v, label, role), "data")["pagemap"];
    pagemap["sample"]
        .as_array()
        .unwrap_or_else(|| panic!("no pagemap sample at {label}/{role}: {pagemap:#}"))
        .iter()
        .map(|s| (u64_at(s, &["page_index"]), s["pfn"].as_u64()))
        .collect()
}

fn fork_shares_every_page_until_the_child_writes_it() {
    let run = HarnessRun::new(&["run", "fork-cow", "--quick", "--format", "json"]);
    run.assert_code(0);
    let json = run.json();
    let page = page_size();
    let exp = &json["experiments"][0];
    assert_eq!(exp["status"], "ok", "{}", run.describe());
    let size = u64_at(exp, &["params", "region_bytes"]);
    let pages = size / page;
    let quarter = pages / 4;
    let near = |a: u64, b: u64, pages: u64| a.abs_diff(b) <= pages * page;

    for name in ["thp-off", "thp-on"] {
        let v = variant(&json, "fork-cow", name);
        assert_eq!(v["status"], "ok", "{name}: {}", run.describe());
        // After fork: same Rss in both, each Pss about half, nothing private.
        let p_rss = figure(v, "after-fork", "parent", "rss_bytes");
        let c_rss = figure(v, "after-fork", "child", "rss_bytes");
        assert!(near(p_rss, size, EDGE_PAGES), "{name}: parent Rss {p_rss}");
        assert!(near(c_rss, p_rss, EDGE_PAGES), "{name}: child Rss {c_rss}");
        for role in ["parent", "child"] {
            let pss = figure(v, "after-fork", role, "pss_bytes");
            assert!(near(pss, size / 2, EDGE_PAGES), "{name}/{role}: Pss {pss}");
        }
        // Reading costs the child no faults beyond its own stack.
        let read = minor_faults(v, "child-read-all", "child");
        assert!(read <= STRAY_FAULTS, "{name}: {read} faults to read");
        // Writing a quarter: a quarter of the region becomes private to the child.
        let before = figure(v, "child-read-all", "child", "private_dirty_bytes");
        let after = figure(v, "child-write-quarter", "child", "private_dirty_bytes");
        assert!(
            near(after - before, quarter * page, EDGE_PAGES),
            "{name}: Private_Dirty grew by {}",
            after - before
        );
        // After the child exits, the parent's Pss is its Rss again.
        let pss = figure(v, "after-child-exit", "parent", "pss_bytes");
        let rss = figure(v, "after-child-exit", "parent", "rss_bytes");
        assert!(near(pss, rss, EDGE_PAGES), "{name}: Pss {pss} Rss {rss}");
    }

    // Without THP, one minor fault per written page.
    let off = variant(&json, "fork-cow", "thp-off");
    let faults = minor_faults(off, "child-write-quarter", "child");
    assert!(
        faults.abs_diff(quarter) <= STRAY_FAULTS,
        "{faults} faults for {quarter} pages"
    );
    // With THP, the precondition is checked from the measurement, not assumed.
    let on = variant(&json, "fork-cow", "thp-on");
    let huge = figure(on, "after-fill", "parent", "anon_huge_pages_bytes");
    let thp_verdict = &claim(&json, "fork-copies-nothing", "thp-on")["verdict"];
    if huge == 0 {
        assert_eq!(thp_verdict, "inconclusive", "no THP arrived");
    } else {
        assert_ne!(thp_verdict, "inconclusive", "{}", run.describe());
    }

    // A private file mapping: the child starts with nothing and faults to read.
    let file = variant(&json, "fork-cow", "file-private");
    assert!(figure(file, "after-fork", "child", "rss_bytes") <= EDGE_PAGES * page);
    assert!(minor_faults(file, "child-read-all", "child") > 0);
    assert!(near(
        figure(file, "child-read-all", "child", "rss_bytes"),
        size,
        EDGE_PAGES
    ));

    // Zygote: each child owns only its share; summed Pss is the memory used.
    let zygote = variant(&json, "fork-cow", "zygote");
    let share = zygote["notes"]["zygote_share_pages"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .expect("zygote_share_pages");
    let checkpoint = zygote["checkpoints"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["label"] == "children-write-share"))
        .expect("children-write-share");
    let procs = checkpoint["processes"].as_array().expect("processes");
    let children = procs.len() as u64 - 1;
    let pss: u64 = procs
        .iter()
        .map(|p| u64_at(region(p, "data"), &["pss_bytes"]))
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
        let v = variant(&json, "fork-cow", name);
        for (key, value) in v["notes"].as_object().expect("notes") {
            if key.contains("mismatches") {
                assert_eq!(value, "0", "{name}: {key}");
            }
        }
        assert_eq!(
            claim(&json, "writes-do-not-leak", name)["verdict"],
            "confirmed",
            "{name}"
        );
    }

    // Physically: the same frames after fork, different ones for written pages.
    let off = variant(&json, "fork-cow", "thp-off");
    let shared = pfns(off, "after-fork", "parent");
    if shared.iter().all(|(_, pfn)| pfn.is_none()) {
        eprintln!("SKIP: PFNs are hidden (not root); the frame comparison is not asserted");
        assert_eq!(
            claim(&json, "same-frames-until-written", "thp-off")["verdict"],
            "inconclusive"
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
    let tables = json["experiments"][0]["summary"]
        .as_array()
        .expect("summary tables");
    let side_by_side = tables
        .iter()
        .find(|t| t["title"] == "thp-off: the region in parent and child")
        .unwrap_or_else(|| panic!("no parent/child table in {tables:?}"));
    let thp_off = variant(&json, "fork-cow", "thp-off");
    assert_eq!(
        side_by_side["rows"].as_array().map(Vec::len),
        thp_off["checkpoints"].as_array().map(Vec::len)
    );
    run.assert_scratch_empty();
}

crate::tests![fork_shares_every_page_until_the_child_writes_it,];
