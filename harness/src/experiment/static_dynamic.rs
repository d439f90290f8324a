//! static-dynamic: "Notes on VM" (Kristian Köhntopp, seed 000) argues that a
//! statically linked, preforked server costs little more memory than a dynamic
//! one: after fork the children share the text and copy only the writable pages
//! they touch, so the static build's overhead is about one extra copy of the
//! library code it uses. Here a small server-like C program, linked both ways,
//! runs as N instances, forked from one parent or exec'd one by one.

use std::collections::BTreeMap;

use experiments::ExperimentInfo;
use serde_json::json;

use super::programs::{self, Part};
use super::{
    human_bytes, pages, verdict_of, Claim, Experiment, Explanation, Plan, PlanContext,
    PlannedVariant,
};
use crate::model::{CheckpointRecord, ClaimRecord, ExperimentRecord, VariantRecord};
use crate::system::Environment;

/// The experiment.
pub struct StaticDynamic;

const SOURCE: &str = "000_242c9450f32c56c8.txt";
const ROBERSON: &str = "004_27fc77f6d1b07880.txt";
const FULL_COUNTS: [u64; 3] = [1, 8, 32];
const QUICK_COUNTS: [u64; 3] = [1, 2, 4];
/// (variant, linking, mode), in the order they run.
const VARIANTS: [(&str, &str, &str); 4] = [
    ("static-prefork", "static", "prefork"),
    ("static-exec", "static", "exec"),
    ("dynamic-prefork", "dynamic", "prefork"),
    ("dynamic-exec", "dynamic", "exec"),
];
/// Slack when comparing costs, in pages.
const TOLERANCE_PAGES: u64 = 2;

const RSS_OVERSTATES: Claim = Claim {
    id: "summing-rss-overstates-memory",
    source: SOURCE,
    statement: "Shared pages take memory once but count in every process's RSS, so summing RSS over the instances overstates what they use (here: by half or more over summed Pss).",
    criterion: "",
};
const MARGINAL: Claim = Claim {
    id: "static-prefork-children-cost-little-more",
    source: SOURCE,
    statement: "Each extra child of a preforked static server costs little more memory than one of a dynamic server (at most 2 pages more): children share the text and copy only the writable pages they touch.",
    criterion: "",
};
const ONE_COPY: Claim = Claim {
    id: "static-overhead-is-one-library-copy",
    source: SOURCE,
    statement: "The memory overhead of the static preforked server is about one extra copy of the library pages it uses (at most that, plus 2 pages).",
    criterion: "",
};
const KERNEL_SHARE: Claim = Claim {
    id: "every-process-costs-kernel-memory",
    source: ROBERSON,
    statement: "Every process also costs memory no per-process figure shows: page tables and a kernel stack (at least a page per process).",
    criterion: "",
};

static EXPLANATION: Explanation = Explanation {
    seed_claims: "In \"Notes on VM\", Kristian Köhntopp answers the worry that linking PHP statically into a \
        preforked Apache multiplies its memory use. A static binary carries its own partial copy of libc and the \
        other libraries, so the first process does use more memory than a dynamic one that shares the libraries \
        with everything else on the machine. But that is a one-time cost: forked children share the parent's \
        text, which takes memory once however often it is mapped, and its writable pages too until a child \
        writes to one, when only that page is copied. So the overhead of the static server is about one extra \
        copy of the libraries it uses, mostly libc.",
    steps: &[
        ("n-1", "One instance of the server has started, done its request-like work (formatting, sorting, string functions, a malloc) and stopped."),
        ("n-2", "Two instances are running: in prefork variants the second was forked from the first after start-up; in exec variants each was started on its own."),
        ("n-4", "Four instances, started the variant's way, each stopped after its work."),
        ("n-8", "Eight instances, started the variant's way, each stopped after its work."),
        ("n-32", "Thirty-two instances, started the variant's way, each stopped after its work."),
    ],
    expectations: "Summed Rss counts the shared text and libraries once per instance and so is several times \
        summed Pss. Forked instances share everything they did not write, so each extra child costs a few \
        pages: its stack, the data and heap pages it wrote, and its page tables. Exec'd static instances share \
        the file's text through the page cache but each writes its own data, bss and relocation pages. Dynamic \
        instances pay for the loader's work in every process (relocations dirty the GOT and relro pages of libc \
        and the program), so a dynamic child is not cheaper than a static one; the static build's extra cost is \
        the libc code it contains, mapped once, about the size of the libc pages a dynamic instance has \
        resident. The kernel's own share (page tables, a 16 KiB kernel stack per task) shows only in \
        /proc/meminfo, whose counters cover the whole machine: other processes starting or ending at the same \
        time blur them.",
    questions: &[
        "Why is the sum of Rss over the instances so much larger than the sum of Pss?",
        "Which pages does a forked child copy, and which does an exec'd instance have to fault in again?",
        "Why do dynamic instances have Private_Dirty pages in libc's mappings, and static ones not?",
        "What does a process cost that neither Rss nor Pss includes?",
    ],
};

impl Experiment for StaticDynamic {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::STATIC_DYNAMIC
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let counts = if ctx.quick { QUICK_COUNTS } else { FULL_COUNTS };
        let counts_arg = counts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut params = BTreeMap::new();
        params.insert("instance_counts".into(), json!(counts));
        programs::aslr_param(ctx, &mut params);
        let variants = VARIANTS
            .iter()
            .map(|(name, linking, mode)| {
                let mut args = vec![
                    "--linking".into(),
                    (*linking).into(),
                    "--mode".into(),
                    (*mode).into(),
                    "--counts".into(),
                    counts_arg.clone().into(),
                ];
                args.extend(programs::aslr_args(ctx));
                PlannedVariant {
                    name: (*name).to_string(),
                    args,
                }
            })
            .collect();
        Ok(Plan { params, variants })
    }

    fn explanation(&self) -> &'static Explanation {
        &EXPLANATION
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let page = env.page_size;
        let find = |name: &str| record.variants.iter().find(|v| v.name == name);
        let mut claims = Vec::new();
        for variant in &record.variants {
            let name = Some(variant.name.as_str());
            if let Some(why) = programs::not_ok(variant) {
                claims.push(RSS_OVERSTATES.unmeasured(name, why.clone()));
                claims.push(KERNEL_SHARE.unmeasured(name, why));
                continue;
            }
            claims.push(rss_overstates(variant, page));
            claims.push(kernel_share(variant, page));
        }
        let pair = (find("static-prefork"), find("dynamic-prefork"));
        let (Some(st), Some(dy)) = pair else {
            let why = "static-prefork and dynamic-prefork both need to run";
            claims.push(MARGINAL.unmeasured(None, why));
            claims.push(ONE_COPY.unmeasured(None, why));
            return claims;
        };
        if let Some(why) = programs::not_ok(st).or_else(|| programs::not_ok(dy)) {
            claims.push(MARGINAL.unmeasured(None, why.clone()));
            claims.push(ONE_COPY.unmeasured(None, why));
            return claims;
        }
        let exec = (find("static-exec"), find("dynamic-exec"));
        claims.push(marginal(st, dy, exec, page));
        claims.push(one_copy(st, dy, page));
        claims
    }
}

/// The instances at one checkpoint, summed.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    instances: u64,
    /// Rss from smaps, bytes.
    rss_bytes: u64,
    pss_bytes: u64,
    uss_bytes: u64,
    /// Private_Dirty of file mappings (program and libraries): pages copied
    /// because they were written, by relocation (GOT, relro) or by the program.
    file_dirty_bytes: u64,
    /// The part of it in read-only file mappings: relro pages, written by the
    /// loader's (or static start-up's) relocations and then write-protected.
    relro_dirty_bytes: u64,
}

fn sums(checkpoint: &CheckpointRecord) -> Sums {
    let mut s = Sums::default();
    for p in &checkpoint.processes {
        s.instances += 1;
        // Rss summed from smaps, which reads the page tables, rather than status
        // VmRSS: before Linux 6.2 VmRSS came from per-task counters folded in
        // only every 64 faults, so a small process could show a fraction of its
        // pages, and the comparison with Pss (also from smaps) would be unfair.
        s.rss_bytes += p.totals.mapped_rss_bytes;
        s.pss_bytes += p.totals.pss_bytes;
        s.uss_bytes += p.totals.uss_bytes;
        for m in p.mappings.iter().filter(|m| m.name.starts_with('/')) {
            s.file_dirty_bytes += m.figures.private_dirty_bytes;
            if !m.perms.contains('w') {
                s.relro_dirty_bytes += m.figures.private_dirty_bytes;
            }
        }
    }
    s
}

/// The first and the last checkpoint (fewest and most instances).
fn ends(variant: &VariantRecord) -> Option<(&CheckpointRecord, &CheckpointRecord)> {
    Some((variant.checkpoints.first()?, variant.checkpoints.last()?))
}

/// Memory each extra instance adds to the summed Pss, in bytes.
fn marginal_bytes(variant: &VariantRecord) -> Option<(i64, Sums, Sums)> {
    let (first, last) = ends(variant)?;
    let (a, b) = (sums(first), sums(last));
    if b.instances <= a.instances {
        return None;
    }
    let extra = (b.instances - a.instances) as i64;
    Some(((b.pss_bytes as i64 - a.pss_bytes as i64) / extra, a, b))
}

fn rss_overstates(variant: &VariantRecord, page: u64) -> ClaimRecord {
    let name = Some(variant.name.as_str());
    let Some((_, last)) = ends(variant) else {
        return RSS_OVERSTATES.unmeasured(name, "no checkpoint was measured");
    };
    let s = sums(last);
    if s.instances < 2 {
        return RSS_OVERSTATES.unmeasured(name, "needs at least two instances");
    }
    RSS_OVERSTATES.judged(
        name,
        verdict_of(s.rss_bytes * 2 >= s.pss_bytes * 3),
        format!(
            "{} instances: summed Rss {}, summed Pss {} ({:.1} times), summed USS {} ({} per instance); each \
             instance has {} pages of Private_Dirty in file mappings, {} of them in write-protected (relro) ones",
            s.instances,
            human_bytes(s.rss_bytes),
            human_bytes(s.pss_bytes),
            s.rss_bytes as f64 / s.pss_bytes.max(1) as f64,
            human_bytes(s.uss_bytes),
            human_bytes(s.uss_bytes / s.instances),
            pages(s.file_dirty_bytes / s.instances, page),
            pages(s.relro_dirty_bytes / s.instances, page)
        ),
    )
}

/// The `n-N-kernel-delta` note: signed bytes per /proc/meminfo counter.
fn kernel_delta(variant: &VariantRecord, label: &str) -> Option<BTreeMap<String, i64>> {
    let text = variant.notes.get(&format!("{label}-kernel-delta"))?;
    text.split_whitespace()
        .map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn kernel_share(variant: &VariantRecord, page: u64) -> ClaimRecord {
    let name = Some(variant.name.as_str());
    let Some((_, last)) = ends(variant) else {
        return KERNEL_SHARE.unmeasured(name, "no checkpoint was measured");
    };
    let n = last.processes.len() as i64;
    let Some(delta) = kernel_delta(variant, &last.label) else {
        return KERNEL_SHARE.unmeasured(name, "the /proc/meminfo counters were not noted");
    };
    let get = |k: &str| delta.get(k).copied().unwrap_or(0);
    let kernel = get("PageTables") + get("KernelStack");
    let per_process = kernel / n.max(1);
    let vm_pte: u64 = last.processes.iter().map(|p| p.totals.pte_bytes).sum();
    let evidence = format!(
        "/proc/meminfo over starting {n} instances: PageTables {:+} KiB, KernelStack {:+} KiB, Slab {:+} KiB, \
         AnonPages {:+} KiB; {} per process of page tables and kernel stack ({} pages), against summed VmPTE \
         {}. These counters are machine-wide: anything else starting or ending meanwhile moves them",
        get("PageTables") / 1024,
        get("KernelStack") / 1024,
        get("Slab") / 1024,
        get("AnonPages") / 1024,
        human_bytes(per_process.unsigned_abs()),
        per_process / page as i64,
        human_bytes(vm_pte)
    );
    if kernel <= 0 {
        return KERNEL_SHARE.unmeasured(
            name,
            format!(
                "the machine-wide counters fell, so other processes ended meanwhile; {evidence}"
            ),
        );
    }
    KERNEL_SHARE.judged(name, verdict_of(per_process >= page as i64), evidence)
}

fn marginal(
    st: &VariantRecord,
    dy: &VariantRecord,
    exec: (Option<&VariantRecord>, Option<&VariantRecord>),
    page: u64,
) -> ClaimRecord {
    let (Some((st_m, _, st_last)), Some((dy_m, _, dy_last))) =
        (marginal_bytes(st), marginal_bytes(dy))
    else {
        return MARGINAL.unmeasured(
            None,
            "needs at least two instance counts in both prefork variants",
        );
    };
    let per = |m: i64| {
        format!(
            "{} ({} pages)",
            human_bytes(m.unsigned_abs()),
            m / page as i64
        )
    };
    let exec_text = match exec {
        (Some(se), Some(de)) => match (marginal_bytes(se), marginal_bytes(de)) {
            (Some((sm, ..)), Some((dm, ..))) => format!(
                "; exec'd instead of forked: static {} and dynamic {} per extra instance",
                per(sm),
                per(dm)
            ),
            _ => String::new(),
        },
        _ => String::new(),
    };
    let smaller = if st_m < dy_m { "static" } else { "dynamic" };
    MARGINAL.judged(
        None,
        verdict_of(st_m <= dy_m + (TOLERANCE_PAGES * page) as i64),
        format!(
            "summed Pss per extra forked child: static {}, dynamic {}; {smaller} is smaller. Private_Dirty in \
             file mappings per instance: static {}, dynamic {} (the loader's relocations write the GOT and relro \
             pages of every dynamic process){exec_text}. Pss divides each shared page among every process on the \
             machine that maps it, so each extra dynamic instance also takes over part of libc's pages from the \
             rest of the system",
            per(st_m),
            per(dy_m),
            human_bytes(st_last.file_dirty_bytes / st_last.instances.max(1)),
            human_bytes(dy_last.file_dirty_bytes / dy_last.instances.max(1)),
        ),
    )
}

fn one_copy(st: &VariantRecord, dy: &VariantRecord, page: u64) -> ClaimRecord {
    let (Some((_, st_last)), Some((dy_first, dy_last))) = (ends(st), ends(dy)) else {
        return ONE_COPY.unmeasured(None, "no checkpoint was measured");
    };
    if st_last.label != dy_last.label {
        return ONE_COPY.unmeasured(None, "the two variants reached different checkpoints");
    }
    let (Some(program), Some(first)) = (programs::program_path(dy), dy_first.processes.first())
    else {
        return ONE_COPY.unmeasured(None, "the dynamic program's path was not noted");
    };
    let libraries = programs::breakdown(first, program)
        .get(&Part::Libraries)
        .map_or(0, |f| f.rss_bytes);
    let (s, d) = (sums(st_last), sums(dy_last));
    let overhead = s.pss_bytes as i64 - d.pss_bytes as i64;
    let holds = overhead <= (libraries + TOLERANCE_PAGES * page) as i64;
    ONE_COPY.judged(
        None,
        verdict_of(holds),
        format!(
            "{} instances: summed Pss static {} vs dynamic {}, an overhead of {}{} ({} pages); one copy of the \
             library pages a dynamic instance has resident (loader and libc, Rss) is {} ({} pages). The static \
             file holds only the parts of libc it calls, and its overhead is paid once, not per child{}",
            s.instances,
            human_bytes(s.pss_bytes),
            human_bytes(d.pss_bytes),
            if overhead < 0 { "-" } else { "" },
            human_bytes(overhead.unsigned_abs()),
            overhead / page as i64,
            human_bytes(libraries),
            pages(libraries, page),
            if overhead < 0 {
                ". Here the static server uses less memory than the dynamic one: no dynamic loader, no \
                 relocated GOT or relro pages per process, and its text is the few hundred KiB of libc it links \
                 rather than the libraries' pages it touches"
            } else {
                ""
            }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn variant_with_note(key: &str, value: &str) -> VariantRecord {
        VariantRecord {
            name: "static-exec".into(),
            status: Status::Ok,
            reason: None,
            notes: [(key.to_string(), value.to_string())].into_iter().collect(),
            noise_floor: Vec::new(),
            checkpoints: Vec::new(),
            rss_samples: Vec::new(),
            binary: None,
        }
    }

    #[test]
    fn kernel_counter_notes_parse_into_signed_bytes() {
        let v = variant_with_note(
            "n-8-kernel-delta",
            "AnonPages=4096 PageTables=-8192 KernelStack=131072 Slab=0",
        );
        let delta = kernel_delta(&v, "n-8").expect("parsed");
        assert_eq!(delta["PageTables"], -8192);
        assert_eq!(delta["KernelStack"], 131072);
        assert!(kernel_delta(&v, "n-32").is_none());
        let bad = variant_with_note("n-8-kernel-delta", "AnonPages=lots");
        assert!(kernel_delta(&bad, "n-8").is_none());
    }

    #[test]
    fn quick_runs_use_fewer_instances_with_the_same_claims() {
        assert!(QUICK_COUNTS.iter().max() < FULL_COUNTS.iter().max());
        assert_eq!(QUICK_COUNTS[0], 1);
        assert!(
            FULL_COUNTS.iter().all(|&n| n <= 32),
            "a checkpoint line holds 32 roles"
        );
    }
}
