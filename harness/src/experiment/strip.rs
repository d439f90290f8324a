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
use crate::model::{BinaryFacts, ClaimRecord, ExperimentRecord, MemoryFigures, Verdict};
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
    criterion: "",
};
const SEGMENTS_SAME: Claim = Claim {
    id: "strip-leaves-segments-unchanged",
    source: SOURCE,
    statement: "Stripping leaves what is loaded unchanged: `size` and the program headers show the same text, data and bss.",
    criterion: "",
};
const FOOTPRINT: Claim = Claim {
    id: "strip-reduces-memory-footprint",
    source: SOURCE,
    statement: "Stripping a binary significantly reduces the program's memory footprint (the advice the seed disputes).",
    criterion: "",
};

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
        and both files are in the page cache after the build).",
    questions: &[
        "Which sections did stripping remove, and why is none of them in a PT_LOAD segment?",
        "Why does the Rss of the program's own mappings not depend on the file's size?",
        "When would debug information cost memory after all (think of a debugger or a crash reporter reading it)?",
    ],
};

impl Experiment for Strip {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::STRIP
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

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let find = |name: &str| record.variants.iter().find(|v| v.name == name);
        let (Some(debug), Some(stripped)) = (find(DEBUG), find(STRIPPED)) else {
            let why = "both variants, debug and stripped, are needed";
            return [FILE_SHRINKS, SEGMENTS_SAME, FOOTPRINT]
                .map(|c| c.unmeasured(None, why))
                .into();
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
        let expected = "debug sections lie outside every PT_LOAD segment, so they are never mapped";
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
            (None, Some((d, d_totals)), Some((s, s_totals))) => footprint(
                &d,
                &s,
                d_totals.rss_bytes,
                s_totals.rss_bytes,
                env.page_size,
            ),
            (why, _, _) => FOOTPRINT.unmeasured(
                None,
                why.unwrap_or_else(|| "after-work was not measured in both variants".into()),
            ),
        };
        claims.push(footprint.expecting(Verdict::Refuted, expected));
        claims
    }
}

fn file_shrinks(debug: &BinaryFacts, stripped: &BinaryFacts) -> ClaimRecord {
    FILE_SHRINKS.judged(
        None,
        verdict_of(stripped.file_bytes < debug.file_bytes && stripped.stripped && !debug.stripped),
        format!(
            "with debug information {} ({} bytes), stripped {} ({} bytes): {:.1} times smaller",
            human_bytes(debug.file_bytes),
            debug.file_bytes,
            human_bytes(stripped.file_bytes),
            stripped.file_bytes,
            debug.file_bytes as f64 / stripped.file_bytes.max(1) as f64
        ),
    )
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
}

fn footprint(
    debug: &MemoryFigures,
    stripped: &MemoryFigures,
    debug_total: u64,
    stripped_total: u64,
    page: u64,
) -> ClaimRecord {
    let saved = debug.rss_bytes as i64 - stripped.rss_bytes as i64;
    let reduces = saved > (SAME_TOLERANCE_PAGES * page) as i64;
    FOOTPRINT.judged(
        None,
        verdict_of(reduces),
        format!(
            "the program file's own mappings: Rss {} pages (Pss {}) with debug information, {} pages (Pss {}) \
             stripped, a difference of {} pages (tolerance {SAME_TOLERANCE_PAGES}); whole process VmRSS {} vs {}. \
             The file's mapped size is {} in both",
            pages(debug.rss_bytes, page),
            human_bytes(debug.pss_bytes),
            pages(stripped.rss_bytes, page),
            human_bytes(stripped.pss_bytes),
            saved / page as i64,
            human_bytes(debug_total),
            human_bytes(stripped_total),
            if debug.size_bytes == stripped.size_bytes {
                human_bytes(debug.size_bytes)
            } else {
                format!(
                    "not the same: {} vs {}",
                    human_bytes(debug.size_bytes),
                    human_bytes(stripped.size_bytes)
                )
            }
        ),
    )
}
