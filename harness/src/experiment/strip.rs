//! strip: "Notes on VM" (Kristian Köhntopp, seed 000) answers the advice that
//! stripping a binary shrinks its memory footprint: the file shrinks, but `size`
//! and the memory map show the same segments, because symbols and debug
//! information are never mapped. Here one object file is linked with its full
//! debug information and linked stripped, and both runs are measured.

use std::collections::BTreeMap;

use experiments::ExperimentInfo;
use serde_json::json;

use super::programs;
use super::{
    human_bytes, pages, process_at, verdict_of, Claim, Experiment, Explanation, Plan, PlanContext,
};
use crate::model::{
    BinaryFacts, ClaimRecord, ExperimentRecord, MemoryFigures, ProcessRecord, Verdict,
};
use crate::system::Environment;

/// The experiment.
pub struct Strip;

const SOURCE: &str = "000_242c9450f32c56c8.txt";
const ROLE: &str = "program";
const LABEL: &str = "after-work";
const DEBUG: &str = "debug";
const STRIPPED: &str = "stripped";
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

const ONE_PAGE_AT_A_TIME: Claim = Claim {
    id: "file-pages-come-in-one-at-a-time",
    source: SOURCE,
    statement: "Mapped file pages are not loaded until accessed; an access triggers demand paging, which brings them in one page at a time.",
    criterion: "per variant, at after-work: resident file-backed pages (RssFile) are at most the page faults the process took since it started (minflt + majflt of /proc/PID/stat, which also count its anonymous faults, so the comparison leans towards the seed); more resident file pages than faults refutes",
};

/// Every claim, in the order they are judged.
static CLAIMS: [Claim; 4] = [FILE_SHRINKS, SEGMENTS_SAME, FOOTPRINT, ONE_PAGE_AT_A_TIME];

const ONE_PAGE_EXPECTED: &str = "since Linux 3.15 a read fault on a file mapping also maps the neighbouring pages \
    already in the page cache (fault-around, fault_around_bytes = 64 KiB: up to 16 pages per fault), and large \
    page-cache folios can be mapped whole";

static EXPLANATION: Explanation = Explanation {
    seed_claims: "In \"Notes on VM\", Kristian Köhntopp disputes advice from a PHP performance talk that \
        stripping binaries significantly reduces an application's memory footprint. The file does get smaller, \
        he says, but `size` shows the loaded part unchanged, and /proc/PID/maps shows only the text and data \
        segments mapped from the file, paged in on demand one page at a time. Symbols and debug information \
        sit in the file outside those segments, are never mapped, and so never take memory.",
    steps: &[(
        "after-work",
        "The program (linked with full debug information, or the same object linked stripped) filled, sorted \
         and formatted a table of records and stopped itself before exiting.",
    )],
    expectations: "The file with debug information is several times larger; its PT_LOAD segments and `size` \
        totals are byte for byte the same as the stripped file's, because the debug sections (.debug_*, \
        .symtab, .strtab) are not in any loadable segment. At run time both map the same segments and have the \
        same pages resident, within a page or two (fault-around maps cached neighbours of each page touched, \
        and both files are in the page cache after the build): the seed is right that strip saves no memory. \
        Its picture of demand paging one page at a time is older than fault-around: since Linux 3.15 a read \
        fault maps up to 16 cached pages of the file around the one touched, so the process has several times \
        more file pages resident than it took faults.",
    questions: &[
        "Which sections did stripping remove, and why is none of them in a PT_LOAD segment?",
        "Why does the Rss of the program's own mappings not depend on the file's size?",
        "When would debug information cost memory after all (think of a debugger or a crash reporter reading it)?",
        "How many file pages did each page fault bring in, and why more than one?",
    ],
    answers: &[],
};

impl Experiment for Strip {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::strip::INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let mut params = BTreeMap::new();
        params.insert("debug_flags".into(), json!("-O2 -g3"));
        params.insert(
            "stripped_with".into(),
            json!("link with -s (strip --strip-all)"),
        );
        programs::aslr_param(ctx, &mut params);
        let variants = programs::named_variants(&[DEBUG, STRIPPED], ctx);
        Ok(Plan { params, variants })
    }

    fn explanation(&self) -> &'static Explanation {
        &EXPLANATION
    }

    fn claims(&self) -> &'static [Claim] {
        &CLAIMS
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let find = |name: &str| record.variants.iter().find(|v| v.name == name);
        let (Some(debug), Some(stripped)) = (find(DEBUG), find(STRIPPED)) else {
            let why = "both variants, debug and stripped, are needed";
            return CLAIMS.map(|c| c.unmeasured(None, why)).into();
        };
        let mut claims = Vec::new();
        match (&debug.binary, &stripped.binary) {
            (Some(d), Some(s)) => {
                claims.push(file_shrinks(d, s));
                claims.push(segments_same(d, s));
            }
            _ => {
                let why = programs::not_ok(debug)
                    .or_else(|| programs::not_ok(stripped))
                    .unwrap_or_else(|| "the programs' ELF facts could not be read".into());
                claims.push(FILE_SHRINKS.unmeasured(None, why.clone()));
                claims.push(SEGMENTS_SAME.unmeasured(None, why));
            }
        }
        let figures = |v| {
            let process = process_at(v, LABEL, ROLE)?;
            let program = programs::program_path(v)?;
            Some((programs::program_figures(process, program), process.totals))
        };
        let footprint = match (
            programs::not_ok(debug).or_else(|| programs::not_ok(stripped)),
            figures(debug),
            figures(stripped),
        ) {
            (None, Some((d, d_totals)), Some((s, s_totals))) => match &debug.binary {
                Some(b) if !b.stripped => footprint(
                    &d,
                    &s,
                    d_totals.rss_bytes,
                    s_totals.rss_bytes,
                    env.page_size.max(1),
                ),
                Some(_) => FOOTPRINT.unmeasured(
                    None,
                    "precondition not met: the debug build has no symbols or debug sections, so nothing was stripped",
                ),
                None => FOOTPRINT.unmeasured(None, "the debug program's ELF facts could not be read"),
            },
            (why, _, _) => FOOTPRINT.unmeasured(
                None,
                why.unwrap_or_else(|| "after-work was not measured in both variants".into()),
            ),
        };
        claims.push(footprint);
        for v in [debug, stripped] {
            let name = Some(v.name.as_str());
            let claim = match (programs::not_ok(v), process_at(v, LABEL, ROLE)) {
                (None, Some(p)) => one_page_at_a_time(name, p, env.page_size.max(1)),
                (why, _) => ONE_PAGE_AT_A_TIME.unmeasured(
                    name,
                    why.unwrap_or_else(|| "after-work was not measured".into()),
                ),
            };
            claims.push(claim.expecting(Verdict::Refuted, ONE_PAGE_EXPECTED));
        }
        claims
    }
}

fn one_page_at_a_time(variant: Option<&str>, p: &ProcessRecord, page: u64) -> ClaimRecord {
    let file_pages = pages(p.totals.rss_file_bytes, page);
    let faults = p.faults_total.minor + p.faults_total.major;
    ONE_PAGE_AT_A_TIME
        .judged(
            variant,
            verdict_of(file_pages <= faults),
            format!(
                "{file_pages} file-backed pages resident (RssFile) after {faults} page faults in all ({} minor, {} \
                 major, anonymous ones included): {:.1} file pages per fault",
                p.faults_total.minor,
                p.faults_total.major,
                file_pages as f64 / faults.max(1) as f64
            ),
        )
        .with_measured(format!("{file_pages} file pages, {faults} faults"))
}

fn file_shrinks(debug: &BinaryFacts, stripped: &BinaryFacts) -> ClaimRecord {
    FILE_SHRINKS
        .judged(
            None,
            verdict_of(
                stripped.file_bytes < debug.file_bytes && stripped.stripped && !debug.stripped,
            ),
            format!(
                "with debug information {} ({} bytes), stripped {} ({} bytes): {:.1} times smaller",
                human_bytes(debug.file_bytes),
                debug.file_bytes,
                human_bytes(stripped.file_bytes),
                stripped.file_bytes,
                debug.file_bytes as f64 / stripped.file_bytes.max(1) as f64
            ),
        )
        .with_measured(format!(
            "{} vs {} bytes",
            debug.file_bytes, stripped.file_bytes
        ))
}

fn segments_same(debug: &BinaryFacts, stripped: &BinaryFacts) -> ClaimRecord {
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
    SEGMENTS_SAME.judged(
        None,
        verdict_of(same_segments && same_size),
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
    )
    .with_measured(format!(
        "segments {}, size {}",
        if same_segments { "identical" } else { "differ" },
        if same_size { "equal" } else { "differs" }
    ))
}

fn footprint(
    debug: &MemoryFigures,
    stripped: &MemoryFigures,
    debug_total: u64,
    stripped_total: u64,
    page: u64,
) -> ClaimRecord {
    let saved = debug.rss_bytes as i64 - stripped.rss_bytes as i64;
    let same = saved.unsigned_abs() <= SAME_TOLERANCE_PAGES * page
        && debug.size_bytes == stripped.size_bytes;
    FOOTPRINT.judged(
        None,
        verdict_of(same),
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
    )
    .with_measured(format!(
        "Rss {} vs {} pages",
        pages(debug.rss_bytes, page),
        pages(stripped.rss_bytes, page)
    ))
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
        for (debug_rss, stripped_rss, verdict) in [
            (5, 5, Verdict::Confirmed),
            (7, 5, Verdict::Confirmed),
            (5, 7, Verdict::Confirmed),
            (8, 5, Verdict::Refuted),
            (5, 8, Verdict::Refuted),
        ] {
            let claim = footprint(
                &figures(5, debug_rss),
                &figures(5, stripped_rss),
                0,
                0,
                PAGE,
            );
            assert_eq!(claim.verdict, verdict, "{debug_rss} vs {stripped_rss}");
            assert!(!claim.measured.is_empty());
        }
        // A different mapped size means something else was loaded.
        let claim = footprint(&figures(6, 5), &figures(5, 5), 0, 0, PAGE);
        assert_eq!(claim.verdict, Verdict::Refuted);
    }

    #[test]
    fn one_page_at_a_time_allows_no_more_file_pages_than_faults() {
        let process = |file_pages: u64, minor: u64| {
            let mut p = crate::experiment::programs::fixtures::process(ROLE, Vec::new());
            p.totals.rss_file_bytes = file_pages * PAGE;
            p.faults_total.minor = minor;
            p.faults_total.major = 1;
            p
        };
        let verdict =
            |file_pages, minor| one_page_at_a_time(None, &process(file_pages, minor), PAGE).verdict;
        assert_eq!(verdict(60, 59), Verdict::Confirmed);
        assert_eq!(verdict(61, 59), Verdict::Refuted);
        assert_eq!(verdict(347, 59), Verdict::Refuted);
    }

    #[test]
    fn the_stripped_file_must_be_smaller_and_without_symbols() {
        let debug = facts(77480, false);
        assert_eq!(
            file_shrinks(&debug, &facts(14512, true)).verdict,
            Verdict::Confirmed
        );
        assert_eq!(
            file_shrinks(&debug, &facts(77480, true)).verdict,
            Verdict::Refuted
        );
        assert_eq!(
            file_shrinks(&debug, &facts(14512, false)).verdict,
            Verdict::Refuted
        );
    }

    #[test]
    fn any_difference_in_the_load_segments_refutes_unchanged_segments() {
        let debug = facts(77480, false);
        assert_eq!(
            segments_same(&debug, &facts(14512, true)).verdict,
            Verdict::Confirmed
        );
        let mut other = facts(14512, true);
        other.load_segments[0].mem_bytes += 1;
        assert_eq!(segments_same(&debug, &other).verdict, Verdict::Refuted);
        let mut other = facts(14512, true);
        other.bss_bytes += 1;
        assert_eq!(segments_same(&debug, &other).verdict, Verdict::Refuted);
    }
}
