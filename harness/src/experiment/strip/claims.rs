//! The claims of strip, each with its criterion and its judge. Three compare the
//! two links (judged once, without a variant name); one is judged per link.

use experiments::catalog::strip::{checkpoint, note, role, variant};

use super::super::declared::{at, judged, Declared, Metric};
use super::super::kit::{self, pages, Case, Finding, Judged, Observed};
use super::super::programs;
use super::super::{human_bytes, Claim};
use crate::model::{
    BinaryFacts, ClaimRecord, DisturbanceCause, ExperimentRecord, MemoryFigures, Verdict,
};
use crate::system::Environment;

const SOURCE: &str = experiments::catalog::writing::KOHNTOPP;
/// How far apart the two runs' resident pages of the program file may be and
/// still count as the same.
const SAME_TOLERANCE_PAGES: u64 = 2;

const FILE_SHRINKS: Claim = Claim {
    id: "strip-makes-the-file-smaller",
    source: SOURCE,
    statement: "A stripped binary is smaller on disk.",
    criterion: "the stripped file's size in bytes is below the debug file's, the stripped file has neither symbol table nor debug sections and the debug file has them; exact, no tolerance",
};
const SEGMENTS_SAME: Claim = Claim {
    id: "strip-leaves-segments-unchanged",
    source: SOURCE,
    statement: "Stripping leaves what is loaded unchanged: `size` and the program headers show the same text, data and bss.",
    criterion: "the PT_LOAD program headers (flags, offset, address, file and memory size) of the two files are identical and `size`'s text, data and bss byte counts are equal; exact, no tolerance",
};
const FOOTPRINT: Claim = Claim {
    id: "strip-does-not-reduce-memory",
    source: SOURCE,
    statement: "Stripping does not reduce a program's memory footprint: symbols and debug information are never mapped, so they never take memory (Köhntopp, against the advice that strip significantly reduces it).",
    criterion: "at after-work, the program file's mappings have the same Size in both runs and their Rss differs by at most 2 pages (fault-around maps only neighbours already in the page cache, so the cache's state may add or drop a page or two); inconclusive if the debug file has no debug sections, so that there was nothing to strip",
};

pub(super) const ONE_PAGE_AT_A_TIME: Claim = Claim {
    id: "file-pages-come-in-one-at-a-time",
    source: SOURCE,
    statement: "Mapped file pages are not loaded until accessed; an access triggers demand paging, which brings them in one page at a time.",
    criterion: "per variant, at after-work: resident file-backed pages (RssFile) are at most the page faults the process took since it started (minflt + majflt of /proc/PID/stat, which also count its anonymous faults, so the comparison leans towards the seed); more resident file pages than faults refutes",
};

const DEBUG_NEVER_CACHED: Claim = Claim {
    id: "debug-information-never-enters-memory",
    source: SOURCE,
    statement: "Symbols and debug information are in the file but never mapped, so they are never brought into memory, ever.",
    criterion: "debug link, started cold (its file dropped from the page cache before the exec; inconclusive unless mincore then shows no page cached): at after-work, the file's pages in the page cache (mincore) that no PT_LOAD segment covers (page arithmetic on p_offset and p_filesz) number 0; one such page refutes. Where proactive reclaim (a DAMON pageout scheme) runs, none is inconclusive: it evicts idle page cache, so it can only make the claim look confirmed",
};

/// Every claim, in the order they are judged.
pub(super) static CLAIMS: [Claim; 5] = [
    FILE_SHRINKS,
    SEGMENTS_SAME,
    FOOTPRINT,
    DEBUG_NEVER_CACHED,
    ONE_PAGE_AT_A_TIME,
];

/// What the claims need of the machine and the figures they are judged on
/// (read by the tools that compare runs across kernels and machines).
pub(super) static DECLARED: [Declared; 1] = [judged(
    &ONE_PAGE_AT_A_TIME,
    &[at(Metric::RssFile, checkpoint::AFTER_WORK)],
)];

/// What a cold exec of the debug link brought into the page cache beyond the
/// parts of the file its segments map.
fn debug_never_cached(v: &Observed<'_>) -> Judged {
    if let Some(why) = kit::not_run_reason(v.variant) {
        return Err(why);
    }
    let before = v.need_note(note::CACHED_BEFORE_EXEC)?;
    let after = v.need_note(note::CACHED_AFTER_WORK)?;
    let total: u64 = v.need_note(note::FILE_PAGES)?;
    let Some(binary) = v.variant.binary.as_ref() else {
        return Err("the program's file facts were not recorded".into());
    };
    let before: Vec<u64> = before.indices().collect();
    let after: Vec<u64> = after.indices().collect();
    if !before.is_empty() {
        return Err(format!(
            "precondition not met: {} of the file's pages stayed cached after dropping it (mapped by \
             another process, or dirty), so the exec was not cold",
            before.len()
        ));
    }
    let page = v.page();
    let loaded = |i: u64| {
        binary.load_segments.iter().any(|s| {
            s.file_bytes > 0 && i >= s.offset / page && i < (s.offset + s.file_bytes).div_ceil(page)
        })
    };
    let unloaded: Vec<u64> = after.iter().copied().filter(|i| !loaded(*i)).collect();
    let loaded_pages = (0..total).filter(|i| loaded(*i)).count();
    // Proactive reclaim evicts idle page cache, and pages read ahead but never
    // mapped are the idlest: it can only make the claim look confirmed.
    // Transient: on most runs the read-ahead pages are still there at
    // after-work, so the session measures the variant again.
    if unloaded.is_empty() && !v.env.damon_pageout.is_empty() {
        return Ok(Finding::disturbed(
            DisturbanceCause::Reclaim,
            format!(
                "no unmapped page cached ({} of {total} pages cached) while proactive reclaim ran",
                after.len()
            ),
            format!(
                "precondition not met: no page outside the segments was cached at after-work ({} of {total} \
                 pages cached), but proactive reclaim runs on this machine ({}) and evicts idle page cache, \
                 such as pages read ahead and never mapped, so it alone could explain it",
                after.len(),
                v.env.damon_pageout.join("; ")
            ),
            "0 unmapped pages cached",
        ));
    }
    Ok(Finding::new(
        unloaded.is_empty(),
        format!(
            "cold exec of the {}-page debug file: {} pages cached at after-work, {} of them outside every \
             PT_LOAD segment (the segments cover {loaded_pages} pages){}",
            total,
            after.len(),
            unloaded.len(),
            if unloaded.is_empty() {
                String::new()
            } else {
                ". Reading the segments in, the kernel's read-ahead brought neighbouring pages of the file \
                 into the page cache, symbols and debug sections included: they are never mapped, but they \
                 do take memory, as page cache, until reclaimed"
                    .to_string()
            }
        ),
        format!("{} unmapped pages cached", unloaded.len()),
    ))
}

const ONE_PAGE_EXPECTED: &str = "since Linux 3.15 a read fault on a file mapping also maps the neighbouring pages \
    already in the page cache (fault-around, fault_around_bytes = 64 KiB: up to 16 pages per fault), and large \
    page-cache folios can be mapped whole";

/// The claim judged on each link by itself, with its judge.
static PER_LINK: [Case; 1] = [(ONE_PAGE_AT_A_TIME, one_page_at_a_time)];

/// Judges every claim: the comparisons of the two links once, the per-link
/// claim on each.
pub(super) fn judge(record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
    let find = |name: &str| record.variants.iter().find(|v| v.name == name);
    let (Some(debug), Some(stripped)) = (find(variant::DEBUG), find(variant::STRIPPED)) else {
        let why = "both variants, debug and stripped, are needed";
        // The debug link's own claim needs only the debug link (so that a
        // run of it alone can be judged, as the session's retry does).
        return CLAIMS
            .map(|c| match find(variant::DEBUG) {
                Some(debug) if c.id == DEBUG_NEVER_CACHED.id => c.record(
                    Some(variant::DEBUG),
                    debug_never_cached(&Observed {
                        variant: debug,
                        env,
                    }),
                ),
                _ => c.unmeasured(None, why),
            })
            .into();
    };
    let debug = Observed {
        variant: debug,
        env,
    };
    let stripped = Observed {
        variant: stripped,
        env,
    };
    let mut claims = vec![
        FILE_SHRINKS.record(None, file_facts(&debug, &stripped).map(file_shrinks)),
        SEGMENTS_SAME.record(None, file_facts(&debug, &stripped).map(segments_same)),
        FOOTPRINT.record(None, footprint_of(&debug, &stripped)),
        DEBUG_NEVER_CACHED.record(Some(variant::DEBUG), debug_never_cached(&debug)),
    ];
    for v in [debug, stripped] {
        claims.extend(
            kit::judge_variant(v.variant, env, &PER_LINK)
                .into_iter()
                .map(|c| c.expecting(Verdict::Refuted, ONE_PAGE_EXPECTED)),
        );
    }
    claims
}

/// Why a link cannot be compared, if either did not run to its end.
fn not_run(debug: &Observed<'_>, stripped: &Observed<'_>) -> Option<String> {
    kit::not_run_reason(debug.variant).or_else(|| kit::not_run_reason(stripped.variant))
}

/// The two programs' ELF facts (read from the files, so they are there even
/// when a run failed), or why they are missing.
fn file_facts<'a>(
    debug: &Observed<'a>,
    stripped: &Observed<'a>,
) -> Result<(&'a BinaryFacts, &'a BinaryFacts), String> {
    match (&debug.variant.binary, &stripped.variant.binary) {
        (Some(d), Some(s)) => Ok((d, s)),
        _ => Err(not_run(debug, stripped)
            .unwrap_or_else(|| "the programs' ELF facts could not be read".into())),
    }
}

/// The program file's own mappings and the whole process's VmRSS at after-work.
fn program_at_work(v: &Observed<'_>) -> Option<(MemoryFigures, u64)> {
    let process = v.process(checkpoint::AFTER_WORK, role::PROGRAM)?;
    let program = programs::program_path(v.variant)?;
    Some((
        programs::program_figures(process, program),
        process.totals.rss_bytes,
    ))
}

fn footprint_of(debug: &Observed<'_>, stripped: &Observed<'_>) -> Judged {
    if let Some(why) = not_run(debug, stripped) {
        return Err(why);
    }
    let (Some((d, d_total)), Some((s, s_total))) =
        (program_at_work(debug), program_at_work(stripped))
    else {
        return Err(format!(
            "{} was not measured in both variants",
            checkpoint::AFTER_WORK
        ));
    };
    match &debug.variant.binary {
        Some(b) if !b.stripped => Ok(footprint(&d, &s, d_total, s_total, debug.page())),
        Some(_) => Err(
            "precondition not met: the debug build has no symbols or debug sections, so nothing was stripped"
                .into(),
        ),
        None => Err("the debug program's ELF facts could not be read".into()),
    }
}

fn one_page_at_a_time(v: &Observed<'_>) -> Judged {
    let p = v
        .process(checkpoint::AFTER_WORK, role::PROGRAM)
        .ok_or_else(|| format!("{} was not measured", checkpoint::AFTER_WORK))?;
    let file_pages = v.pages(p.totals.rss_file_bytes);
    let faults = p.faults_total.minor + p.faults_total.major;
    Ok(Finding::new(
        file_pages <= faults,
        format!(
            "{file_pages} file-backed pages resident (RssFile) after {faults} page faults in all ({} minor, {} \
             major, anonymous ones included): {:.1} file pages per fault",
            p.faults_total.minor,
            p.faults_total.major,
            file_pages as f64 / faults.max(1) as f64
        ),
        format!("{file_pages} file pages, {faults} faults"),
    ))
}

fn file_shrinks((debug, stripped): (&BinaryFacts, &BinaryFacts)) -> Finding {
    Finding::new(
        stripped.file_bytes < debug.file_bytes && stripped.stripped && !debug.stripped,
        format!(
            "with debug information {} ({} bytes), stripped {} ({} bytes): {:.1} times smaller",
            human_bytes(debug.file_bytes),
            debug.file_bytes,
            human_bytes(stripped.file_bytes),
            stripped.file_bytes,
            debug.file_bytes as f64 / stripped.file_bytes.max(1) as f64
        ),
        format!("{} vs {} bytes", debug.file_bytes, stripped.file_bytes),
    )
}

fn segments_same((debug, stripped): (&BinaryFacts, &BinaryFacts)) -> Finding {
    let same_segments = debug.load_segments == stripped.load_segments;
    let same_size = (debug.text_bytes, debug.data_bytes, debug.bss_bytes)
        == (stripped.text_bytes, stripped.data_bytes, stripped.bss_bytes);
    let list = |b: &BinaryFacts| {
        b.load_segments
            .iter()
            .map(|s| {
                format!(
                    "{} {:#x}+{}/{}",
                    s.flags.trim_end(),
                    s.vaddr,
                    s.file_bytes,
                    s.mem_bytes
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    Finding::new(
        same_segments && same_size,
        format!(
            "size: text {} data {} bss {} (debug) vs {} {} {} (stripped); PT_LOAD segments (flags vaddr+filesz/memsz) \
             {} in both: {}{}",
            debug.text_bytes,
            debug.data_bytes,
            debug.bss_bytes,
            stripped.text_bytes,
            stripped.data_bytes,
            stripped.bss_bytes,
            if same_segments { "identical" } else { "differ" },
            list(debug),
            if same_segments {
                String::new()
            } else {
                format!(" vs {}", list(stripped))
            }
        ),
        format!(
            "segments {}, size {}",
            if same_segments { "identical" } else { "differ" },
            if same_size { "equal" } else { "differs" }
        ),
    )
}

fn footprint(
    debug: &MemoryFigures,
    stripped: &MemoryFigures,
    debug_total: u64,
    stripped_total: u64,
    page: u64,
) -> Finding {
    let saved = debug.rss_bytes as i64 - stripped.rss_bytes as i64;
    let same = saved.unsigned_abs() <= SAME_TOLERANCE_PAGES * page
        && debug.size_bytes == stripped.size_bytes;
    Finding::new(
        same,
        format!(
            "the program file's own mappings: Rss {} pages (Pss {}) with debug information, {} pages (Pss {}) \
             stripped, a difference of {} pages (tolerance {SAME_TOLERANCE_PAGES}); whole process VmRSS {} vs {}. \
             The file's mapped size: {}. The debug sections lie outside every PT_LOAD segment, so no mapping \
             covers them",
            pages(debug.rss_bytes, page),
            human_bytes(debug.pss_bytes),
            pages(stripped.rss_bytes, page),
            human_bytes(stripped.pss_bytes),
            saved / page as i64,
            human_bytes(debug_total),
            human_bytes(stripped_total),
            if debug.size_bytes == stripped.size_bytes {
                format!("{} in both", human_bytes(debug.size_bytes))
            } else {
                format!(
                    "not the same: {} vs {}",
                    human_bytes(debug.size_bytes),
                    human_bytes(stripped.size_bytes)
                )
            }
        ),
        format!(
            "Rss {} vs {} pages",
            pages(debug.rss_bytes, page),
            pages(stripped.rss_bytes, page)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 4096;

    fn figures(size_pages: u64, rss_pages: u64) -> MemoryFigures {
        MemoryFigures {
            size_bytes: size_pages * PAGE,
            rss_bytes: rss_pages * PAGE,
            ..Default::default()
        }
    }

    fn facts(file_bytes: u64, stripped: bool) -> BinaryFacts {
        BinaryFacts {
            path: "/p".into(),
            file_bytes,
            linking: crate::model::Linking::Dynamic,
            stripped,
            load_segments: vec![crate::model::LoadSegment {
                flags: "R E".into(),
                offset: 0x1000,
                vaddr: 0x1000,
                file_bytes: 657,
                mem_bytes: 657,
            }],
            text_bytes: 1903,
            data_bytes: 616,
            bss_bytes: 9248,
        }
    }

    #[test]
    fn the_same_pages_resident_within_two_confirm_that_strip_saves_no_memory() {
        for (debug_rss, stripped_rss, holds) in [
            (5, 5, true),
            (7, 5, true),
            (5, 7, true),
            (8, 5, false),
            (5, 8, false),
        ] {
            let finding = footprint(
                &figures(5, debug_rss),
                &figures(5, stripped_rss),
                0,
                0,
                PAGE,
            );
            assert_eq!(finding.holds, holds, "{debug_rss} vs {stripped_rss}");
            assert!(!finding.measured.is_empty());
        }
        // A different mapped size means something else was loaded.
        assert!(!footprint(&figures(6, 5), &figures(5, 5), 0, 0, PAGE).holds);
    }

    #[test]
    fn one_page_at_a_time_allows_no_more_file_pages_than_faults() {
        use crate::experiment::programs::fixtures;
        let env = fixtures::env();
        let holds = |file_pages: u64, minor: u64| {
            let mut p = fixtures::process(role::PROGRAM, Vec::new());
            p.totals.rss_file_bytes = file_pages * fixtures::PAGE;
            p.faults_total.minor = minor;
            p.faults_total.major = 1;
            let at_work = fixtures::checkpoint(checkpoint::AFTER_WORK, vec![p]);
            let variant = fixtures::variant(variant::DEBUG, vec![at_work]);
            let view = Observed {
                variant: &variant,
                env: &env,
            };
            one_page_at_a_time(&view).map(|f| f.holds)
        };
        assert_eq!(holds(60, 59), Ok(true));
        assert_eq!(holds(61, 59), Ok(false));
        assert_eq!(holds(347, 59), Ok(false));
    }

    #[test]
    fn a_cold_exec_must_cache_no_page_outside_the_segments() {
        use crate::experiment::programs::fixtures;
        let mut env = fixtures::env();
        env.damon_pageout.clear();
        // The segment covers page 1 of a 5-page file (offset 0x1000, 657 bytes).
        let claim = |env: &crate::system::Environment, before: &str, after: &str| {
            let p = fixtures::process(role::PROGRAM, Vec::new());
            let at_work = fixtures::checkpoint(checkpoint::AFTER_WORK, vec![p]);
            let mut variant = fixtures::variant(variant::DEBUG, vec![at_work]);
            variant.binary = Some(facts(5 * PAGE, false));
            for (key, value) in [
                (note::FILE_PAGES.key(), "5"),
                (note::CACHED_BEFORE_EXEC.key(), before),
                (note::CACHED_AFTER_WORK.key(), after),
            ] {
                variant.notes.insert(key.into(), value.into());
            }
            let view = Observed {
                variant: &variant,
                env,
            };
            DEBUG_NEVER_CACHED.record(None, debug_never_cached(&view))
        };
        let judged = |env: &crate::system::Environment, before: &str, after: &str| {
            claim(env, before, after).verdict
        };
        assert_eq!(judged(&env, "none", "1"), Verdict::Confirmed);
        assert_eq!(judged(&env, "none", "0-4"), Verdict::Refuted);
        assert_eq!(judged(&env, "3", "0-4"), Verdict::Inconclusive);
        // See: issue 22. Proactive reclaim evicts idle page cache: it can
        // only hide pages read ahead, so it leaves a confirmation undecided
        // and a refutation standing.
        env.damon_pageout = vec!["kdamond 0: pageout of idle paddr memory".into()];
        assert_eq!(judged(&env, "none", "1"), Verdict::Inconclusive);
        assert_eq!(judged(&env, "none", "0-4"), Verdict::Refuted);
        // Reclaim is transient (the session measures the variant again); a
        // file that stayed cached is not.
        let hidden = claim(&env, "none", "1").disturbance.map(|d| d.cause);
        assert_eq!(hidden, Some(DisturbanceCause::Reclaim));
        assert_eq!(claim(&env, "3", "0-4").disturbance, None);
        // A corrupt note is told apart from a missing one, with its text.
        let corrupt = claim(&env, "none", "1-x");
        assert_eq!(corrupt.verdict, Verdict::Inconclusive);
        assert!(
            corrupt.evidence.contains("cached_pages_after_work")
                && corrupt.evidence.contains("\"1-x\""),
            "{}",
            corrupt.evidence
        );
    }

    #[test]
    fn the_stripped_file_must_be_smaller_and_without_symbols() {
        let debug = facts(77480, false);
        assert!(file_shrinks((&debug, &facts(14512, true))).holds);
        assert!(!file_shrinks((&debug, &facts(77480, true))).holds);
        assert!(!file_shrinks((&debug, &facts(14512, false))).holds);
    }

    #[test]
    fn any_difference_in_the_load_segments_refutes_unchanged_segments() {
        let debug = facts(77480, false);
        assert!(segments_same((&debug, &facts(14512, true))).holds);
        let mut other = facts(14512, true);
        other.load_segments[0].mem_bytes += 1;
        assert!(!segments_same((&debug, &other)).holds);
        let mut other = facts(14512, true);
        other.bss_bytes += 1;
        assert!(!segments_same((&debug, &other)).holds);
    }
}
