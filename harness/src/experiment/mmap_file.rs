//! mmap-file: "Playing with Virtual Memory" (Kristina Chodorow, seed 001) maps a
//! 1 GB file of random bytes and watches pmap: the address space jumps by the
//! file's size while the resident set stays tiny, then grows to the file's size
//! as the program reads it all; a footnote explains minor and major faults and
//! the kernel reading ahead of the program.

use std::collections::BTreeMap;

use experiments::ExperimentInfo;
use serde_json::json;

use super::{
    faults_over, human_bytes, pages, process_at, region_at, verdict_of, Claim, Experiment,
    Explanation, Plan, PlanContext, PlannedVariant,
};
use crate::model::{ClaimRecord, ExperimentRecord, Status, VariantRecord, Verdict};
use crate::system::Environment;

/// The experiment.
pub struct MmapFile;

const SOURCE: &str = "001_3c62cec1a17aa088.txt";
const MAIN: &str = "main";
const REGION: &str = "data";

/// The seed's sizes: `dd bs=1024 count=1000000` wrote 1,024,000,000 bytes and the
/// program mapped the first 1,000,000,000.
const SEED_FILE_BYTES: u64 = 1_024_000_000;
const QUICK_FILE_BYTES: u64 = 64 << 20;
/// With read-ahead off every page is a trip to the disk, so `cold-random` uses a
/// quarter of the file size.
const RANDOM_SHARE: u64 = 4;
/// Size of each write(2) that creates the file.
const WRITE_CHUNK_BYTES: u64 = 1 << 20;
/// Major faults tolerated on a fully cached file: one per this many pages...
const MAJOR_FAULT_NOISE_PAGES: u64 = 10_000;
/// ...and at least this many, since the few seen do not shrink with the file.
const MAJOR_FAULT_NOISE_MIN: u64 = 8;
/// A single fault never maps more than one PMD (2 MiB on x86-64) of a file.
const FEW_PAGES_LIMIT_BYTES: u64 = 2 << 20;

const VSZ_GROWS: Claim = Claim {
    id: "mmap-grows-vsz-by-mapping-size",
    source: SOURCE,
    statement: "Mapping the file grows the address space (VSZ) by the size of the mapping at once.",
    criterion: "",
};
const NO_RSS: Claim = Claim {
    id: "mmap-adds-no-rss",
    source: SOURCE,
    statement: "Mapping the file makes none of it resident: RSS does not change.",
    criterion: "",
};
const FIRST_READ: Claim = Claim {
    id: "first-read-makes-few-pages-resident",
    source: SOURCE,
    statement: "Reading one int at the start makes only a few pages of the file resident (the seed saw 4 KiB).",
    criterion: "",
};
const ONLY_THAT_PAGE: Claim = Claim {
    id: "first-read-maps-only-that-page",
    source: SOURCE,
    statement:
        "Reading one int makes exactly that one page resident, 4 KiB, as pmap showed in the seed.",
    criterion: "",
};
const READ_ALL: Claim = Claim {
    id: "read-all-makes-file-resident",
    source: SOURCE,
    statement: "Reading the whole mapping brings its RSS to about the size of the file.",
    criterion: "",
};
const WARM_MINOR: Claim = Claim {
    id: "cached-file-reads-take-minor-faults-only",
    source: SOURCE,
    statement: "A file still in the page cache (just written) is read with minor faults only, no trip to the disk (at most 1 major fault per 10,000 pages, or 8).",
    criterion: "",
};
const COLD_MAJOR: Claim = Claim {
    id: "uncached-file-reads-take-major-faults",
    source: SOURCE,
    statement: "A file not in the page cache costs major faults: the process waits for the disk.",
    criterion: "",
};
const FEWER_FAULTS: Claim = Claim {
    id: "kernel-maps-more-than-asked",
    source: SOURCE,
    statement: "The kernel brings in more than the page asked for, so reading the file costs far fewer faults than it has pages.",
    criterion: "",
};
const RANDOM_EVERY_PAGE: Claim = Claim {
    id: "random-access-faults-every-page",
    source: SOURCE,
    statement: "Without read-ahead (MADV_RANDOM), reading an uncached file costs a major fault for every page.",
    criterion: "",
};

static EXPLANATION: Explanation = Explanation {
    seed_claims: "In \"Playing with Virtual Memory\", Kristina Chodorow writes a 1 GB file of random bytes, \
        maps it with mmap and looks at the process with pmap. Right after mmap the process's virtual size has \
        grown by about a gigabyte, yet its resident set has not: pmap -x shows 4 KB of the file in RAM after \
        reading one int. After a loop reads an int every 4 bytes of the whole mapping, the file's RSS is almost \
        the full gigabyte. A footnote explains that the kernel reads more of the file than the program asked \
        for, that touching a page already in RAM is a minor fault and one that needs the disk a major fault, and \
        that a file just written is still in the page cache, so reading it costs only minor faults.",
    steps: &[
        ("before-mmap", "The file is written, flushed to disk with fsync and, for the cold variants, dropped from the page cache. Nothing of it is mapped yet."),
        ("after-mmap", "mmap returned an address: the file now occupies address space (VmSize jumped) but no page of it has been touched, so none is resident."),
        ("after-first-read", "The program read one int at offset 0. That page faulted in, and the kernel may have mapped its neighbours as well."),
        ("after-read-all", "The program read one int every 4 bytes of the whole mapping. Every page has been touched, so the whole file is resident."),
    ],
    expectations: "VmSize grows by exactly the mapping's size and Rss by nothing, as in the seed. After one read, a \
        current kernel shows more than the seed's 4 KiB: fault-around (since Linux 3.15) maps up to \
        fault_around_bytes (64 KiB) of neighbouring pages that are already cached, and since file systems such as \
        ext4 and XFS keep files in large folios, one fault can map a whole folio (up to 2 MiB). For the same \
        reason reading the whole file costs far fewer faults than it has pages. A warm file costs only minor \
        faults; a cold one costs major faults, but read-ahead means only a few of them; with MADV_RANDOM, \
        read-ahead is off and each page needs its own trip to the disk.",
    questions: &[
        "Why does VmSize grow by the whole mapping while VmRSS does not change?",
        "After reading one int, how many pages of the file are resident, and where do the extra ones come from?",
        "Why does reading the whole warm file cost far fewer faults than it has pages?",
        "What is the difference between a minor and a major fault, and which variant shows each?",
        "Why is the file's Pss equal to its Rss here, and when would it not be?",
    ],
};

/// Sizes of one variant.
struct Sizes {
    file_bytes: u64,
    map_bytes: u64,
}

impl Sizes {
    /// The seed's ratio of mapped to written bytes (1000/1024), on whole 4-byte ints.
    fn for_file(file_bytes: u64) -> Sizes {
        Sizes {
            file_bytes,
            map_bytes: (file_bytes / 1024 * 1000).max(4) / 4 * 4,
        }
    }
}

impl Experiment for MmapFile {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::MMAP_FILE
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let file_bytes = ctx.size_bytes.unwrap_or(if ctx.quick {
            QUICK_FILE_BYTES
        } else {
            SEED_FILE_BYTES
        });
        if file_bytes < 1 << 16 {
            return Err(format!("a file of {file_bytes} bytes is too small to show anything; use --size 1MiB or more"));
        }
        let main = Sizes::for_file(file_bytes);
        let random = Sizes::for_file((file_bytes / RANDOM_SHARE).max(1 << 16));
        check_room(ctx.env, main.file_bytes)?;

        let variant = |name: &str, sizes: &Sizes| PlannedVariant {
            name: name.to_string(),
            args: vec![
                "--variant".into(),
                name.into(),
                "--file-bytes".into(),
                sizes.file_bytes.to_string().into(),
                "--map-bytes".into(),
                sizes.map_bytes.to_string().into(),
                "--write-chunk-bytes".into(),
                WRITE_CHUNK_BYTES.to_string().into(),
            ],
        };
        let mut params = BTreeMap::new();
        params.insert("file_bytes".into(), json!(main.file_bytes));
        params.insert("map_bytes".into(), json!(main.map_bytes));
        params.insert("cold_random_file_bytes".into(), json!(random.file_bytes));
        params.insert("cold_random_map_bytes".into(), json!(random.map_bytes));
        params.insert("write_chunk_bytes".into(), json!(WRITE_CHUNK_BYTES));
        Ok(Plan {
            params,
            variants: vec![
                variant("warm", &main),
                variant("cold", &main),
                variant("cold-random", &random),
            ],
        })
    }

    fn explanation(&self) -> &'static Explanation {
        &EXPLANATION
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let mut claims = Vec::new();
        for variant in &record.variants {
            let name = Some(variant.name.as_str());
            if variant.status != Status::Ok {
                let why = format!(
                    "variant {} {}: {}",
                    variant.name,
                    if variant.status == Status::Skipped {
                        "was skipped"
                    } else {
                        "failed"
                    },
                    variant.reason.as_deref().unwrap_or("no reason given")
                );
                claims.extend(
                    [VSZ_GROWS, NO_RSS, FIRST_READ, ONLY_THAT_PAGE, READ_ALL]
                        .map(|c| c.unmeasured(name, why.clone())),
                );
                continue;
            }
            let judge = Judge { variant, env };
            claims.push(judge.vsz_grows());
            claims.push(judge.no_rss());
            claims.push(judge.first_read());
            claims.push(judge.only_that_page());
            claims.push(judge.read_all());
            match variant.name.as_str() {
                "warm" => {
                    claims.push(judge.warm_minor());
                    claims.push(judge.fewer_faults());
                }
                "cold" => {
                    claims.push(judge.cold_major());
                    claims.push(judge.fewer_faults());
                }
                _ => {
                    claims.push(judge.cold_major());
                    claims.push(judge.random_every_page());
                }
            }
        }
        claims
    }
}

/// The file must fit in the temp folder, and (for the warm variant to be warm) in
/// the cgroup's memory limit, since page cache is charged to the cgroup.
fn check_room(env: &Environment, file_bytes: u64) -> Result<(), String> {
    let needed = file_bytes + file_bytes / 20;
    if env.temp_dir_free_bytes < needed {
        return Err(format!(
            "needs {} free in {} for the file but only {} is free; pass --dir elsewhere, --quick or a smaller --size",
            human_bytes(needed),
            env.temp_dir.display(),
            human_bytes(env.temp_dir_free_bytes)
        ));
    }
    if let Some(limit) = env.memory_room_bytes() {
        if limit < needed + (64 << 20) {
            return Err(format!(
                "the memory free for this run ({}, MemAvailable within the cgroup limit) cannot hold the file in the page cache; use --quick or a smaller --size",
                human_bytes(limit)
            ));
        }
    }
    Ok(())
}

/// Judges one variant that ran to its end.
struct Judge<'a> {
    variant: &'a VariantRecord,
    env: &'a Environment,
}

impl Judge<'_> {
    fn name(&self) -> Option<&str> {
        Some(self.variant.name.as_str())
    }

    fn page(&self) -> u64 {
        self.env.page_size
    }

    fn note_number(&self, key: &str) -> Option<u64> {
        self.variant.notes.get(key)?.parse().ok()
    }

    fn vsz_grows(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some(region)) = (
            process_at(self.variant, "before-mmap", MAIN),
            process_at(self.variant, "after-mmap", MAIN),
            region_at(self.variant, "after-mmap", MAIN, REGION),
        ) else {
            return VSZ_GROWS.unmeasured(self.name(), "before-mmap or after-mmap was not measured");
        };
        let delta = after.totals.vm_size_bytes as i64 - before.totals.vm_size_bytes as i64;
        let expected = region.figures.size_bytes as i64;
        let tolerance = 2 * self.page() as i64;
        let holds = expected > 0 && (delta - expected).abs() <= tolerance;
        VSZ_GROWS.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "VmSize grew by {} ({} bytes); the mapping is {} bytes (tolerance 2 pages)",
                human_bytes(delta.unsigned_abs()),
                delta,
                expected
            ),
        )
    }

    fn no_rss(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some(region)) = (
            process_at(self.variant, "before-mmap", MAIN),
            process_at(self.variant, "after-mmap", MAIN),
            region_at(self.variant, "after-mmap", MAIN, REGION),
        ) else {
            return NO_RSS.unmeasured(self.name(), "before-mmap or after-mmap was not measured");
        };
        let delta = after.totals.rss_bytes as i64 - before.totals.rss_bytes as i64;
        let holds = region.figures.rss_bytes == 0 && delta.abs() <= 2 * self.page() as i64;
        NO_RSS.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "the mapping's Rss is {} and VmRSS changed by {} bytes (tolerance 2 pages)",
                human_bytes(region.figures.rss_bytes),
                delta
            ),
        )
    }

    fn first_read(&self) -> ClaimRecord {
        let Some(region) = region_at(self.variant, "after-first-read", MAIN, REGION) else {
            return FIRST_READ.unmeasured(self.name(), "after-first-read was not measured");
        };
        let rss = region.figures.rss_bytes;
        let page = self.page();
        let fault_around = self.env.fault_around_or_default();
        let holds = rss >= page && rss <= FEW_PAGES_LIMIT_BYTES;
        let mut evidence = format!(
            "{} pages ({}) of the file became resident; the seed saw 1 page (4 KiB). ",
            pages(rss, page),
            human_bytes(rss)
        );
        if rss > fault_around {
            evidence.push_str(&format!(
                "That is more than fault-around alone maps ({}): consistent with the page cache holding the \
                 file in large folios (it was written {} bytes per write) and the fault mapping the whole folio it \
                 hit. 'Few' here means at most {}, the most one fault can map.",
                self.fault_around_text(),
                self.variant.notes.get("write_chunk_bytes").map_or("?", String::as_str),
                human_bytes(FEW_PAGES_LIMIT_BYTES)
            ));
        } else if rss > page {
            evidence.push_str(&format!(
                "Fault-around maps up to fault_around_bytes ({}) of pages already in the page cache around the \
                 one that faulted.",
                self.fault_around_text(),
            ));
        } else {
            evidence.push_str("Exactly the page that was read, as in the seed.");
        }
        FIRST_READ.judged(self.name(), verdict_of(holds), evidence)
    }

    /// The seed's exact figure. Fault-around (Linux 3.15 and later) maps cached
    /// neighbours of the faulting page, so on current kernels only the variant
    /// with MADV_RANDOM (which turns fault-around off) is expected to show it.
    fn only_that_page(&self) -> ClaimRecord {
        let Some(region) = region_at(self.variant, "after-first-read", MAIN, REGION) else {
            return ONLY_THAT_PAGE.unmeasured(self.name(), "after-first-read was not measured");
        };
        let rss = region.figures.rss_bytes;
        let resident = pages(rss, self.page());
        let record = ONLY_THAT_PAGE.judged(
            self.name(),
            verdict_of(resident == 1),
            format!(
                "{resident} pages ({}) became resident after reading one int",
                human_bytes(rss)
            ),
        );
        if self.variant.name == "cold-random" {
            record
        } else {
            record.expecting(
                Verdict::Refuted,
                format!(
                    "fault-around maps up to fault_around_bytes ({}) of neighbouring pages already in the page \
                     cache, and a large page-cache folio is mapped whole",
                    self.fault_around_text()
                ),
            )
        }
    }

    /// `fault_around_bytes` for evidence text, saying where the figure comes from.
    fn fault_around_text(&self) -> String {
        match self.env.fault_around_bytes {
            Some(bytes) => human_bytes(bytes),
            None => format!(
                "{}, the kernel default; debugfs is not readable here",
                human_bytes(self.env.fault_around_or_default())
            ),
        }
    }

    fn read_all(&self) -> ClaimRecord {
        let Some(region) = region_at(self.variant, "after-read-all", MAIN, REGION) else {
            return READ_ALL.unmeasured(self.name(), "after-read-all was not measured");
        };
        let size = region.figures.size_bytes;
        let rss = region.figures.rss_bytes;
        let holds = size > 0 && rss + 2 * self.page() >= size;
        READ_ALL.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "Rss of the mapping is {} of {} ({:.2}%; tolerance 2 pages short of all)",
                human_bytes(rss),
                human_bytes(size),
                rss as f64 * 100.0 / size.max(1) as f64
            ),
        )
    }

    /// Pages of the mapping, and how many of them were in the page cache when it
    /// was mapped (as the experiment measured with mincore).
    fn cache_state(&self) -> Option<(u64, u64)> {
        Some((
            self.note_number("mapped_pages")?,
            self.note_number("page_cache_pages_before_mmap")?,
        ))
    }

    fn read_faults(&self) -> Option<crate::model::Faults> {
        faults_over(self.variant, &["after-first-read", "after-read-all"], MAIN)
    }

    fn warm_minor(&self) -> ClaimRecord {
        let (Some((mapped, cached)), Some(faults)) = (self.cache_state(), self.read_faults())
        else {
            return WARM_MINOR.unmeasured(
                self.name(),
                "the page-cache state or the read phases were not measured",
            );
        };
        if cached < mapped {
            return WARM_MINOR.unmeasured(
                self.name(),
                format!("precondition not met: only {cached} of {mapped} pages were in the page cache before mapping"),
            );
        }
        // Identical runs on a fully cached file occasionally count a handful of
        // major faults (up to about 1 per 12,000 pages was seen on 6.18), even
        // when mincore showed every page cached right before the phase; "only
        // minor" allows one major fault per 10,000 pages, at least 8, and says so.
        let allowed = (mapped / MAJOR_FAULT_NOISE_PAGES).max(MAJOR_FAULT_NOISE_MIN);
        let mut evidence = format!(
            "{cached} of {mapped} pages were cached before mapping; reading cost {} minor and {} major faults \
             (at most {allowed} major allowed: 1 per {MAJOR_FAULT_NOISE_PAGES} pages, at least \
             {MAJOR_FAULT_NOISE_MIN})",
            faults.minor, faults.major
        );
        if faults.major > 0 {
            evidence.push_str(
                ". Every page was in the page cache when the file was mapped; identical runs on this machine \
                 counted between none and about 20 such major faults, which the allowance above covers",
            );
        }
        WARM_MINOR.judged(
            self.name(),
            verdict_of(faults.major <= allowed && faults.minor > 0),
            evidence,
        )
    }

    fn cold_major(&self) -> ClaimRecord {
        let (Some((mapped, cached)), Some(faults)) = (self.cache_state(), self.read_faults())
        else {
            return COLD_MAJOR.unmeasured(
                self.name(),
                "the page-cache state or the read phases were not measured",
            );
        };
        let method = self
            .variant
            .notes
            .get("cache_drop_method")
            .map_or("unknown", String::as_str);
        if cached * 100 > mapped {
            return COLD_MAJOR.unmeasured(
                self.name(),
                format!("precondition not met: {cached} of {mapped} pages were still cached after {method}"),
            );
        }
        COLD_MAJOR.judged(
            self.name(),
            verdict_of(faults.major > 0),
            format!(
                "{cached} of {mapped} pages were cached before mapping (dropped by {method}); reading cost {} major \
                 and {} minor faults",
                faults.major, faults.minor
            ),
        )
    }

    fn fewer_faults(&self) -> ClaimRecord {
        let (Some(faults), Some((mapped, _))) = (self.read_faults(), self.cache_state()) else {
            return FEWER_FAULTS.unmeasured(self.name(), "the read phases were not measured");
        };
        let total = faults.minor + faults.major;
        let holds = total > 0 && total * 4 <= mapped;
        let per_fault = mapped as f64 / total.max(1) as f64;
        FEWER_FAULTS.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "{total} faults ({} minor, {} major) for {mapped} pages: {per_fault:.1} pages per fault \
                 ('far fewer' here means at most a quarter). Fault-around maps up to {} of cached pages per \
                 fault, a large page-cache folio is mapped whole, and read-ahead fills the page cache ahead of \
                 the reader{}",
                faults.minor,
                faults.major,
                self.fault_around_text(),
                self.env
                    .temp_dir_read_ahead_kb
                    .map(|kb| format!(" (read_ahead_kb {kb} on this device)"))
                    .unwrap_or_default()
            ),
        )
    }

    fn random_every_page(&self) -> ClaimRecord {
        let (Some(faults), Some((mapped, cached))) = (self.read_faults(), self.cache_state())
        else {
            return RANDOM_EVERY_PAGE.unmeasured(self.name(), "the read phases were not measured");
        };
        if cached * 100 > mapped {
            return RANDOM_EVERY_PAGE.unmeasured(
                self.name(),
                format!("precondition not met: {cached} of {mapped} pages were still cached"),
            );
        }
        let holds = faults.major * 100 >= mapped * 90;
        let mut evidence = format!(
            "{} major faults for {mapped} pages ({:.1}% of pages; 'every page' here means at least 90%)",
            faults.major,
            faults.major as f64 * 100.0 / mapped.max(1) as f64
        );
        if !holds {
            evidence.push_str(
                ". MADV_RANDOM turns off read-ahead, yet each fault still brought in more than one page: \
                 the page cache holds this file in large folios, and a fault maps the whole folio it hits",
            );
        }
        RANDOM_EVERY_PAGE.judged(self.name(), verdict_of(holds), evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_keeps_the_seeds_ratio_on_whole_ints() {
        let seed = Sizes::for_file(SEED_FILE_BYTES);
        assert_eq!(seed.map_bytes, 1_000_000_000);
        let quick = Sizes::for_file(QUICK_FILE_BYTES);
        assert_eq!(quick.map_bytes % 4, 0);
        assert!(quick.map_bytes < quick.file_bytes);
    }

    #[test]
    fn unmeasured_claims_are_inconclusive() {
        assert_eq!(
            VSZ_GROWS.unmeasured(None, "x").verdict,
            Verdict::Inconclusive
        );
    }
}
