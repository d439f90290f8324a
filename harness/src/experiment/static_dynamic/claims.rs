//! The claims of static-dynamic, each with its criterion and its judge. Two are
//! judged per variant, and copy-on-write where children are forked; three
//! compare the static and dynamic prefork variants, once. (Roberson's count of
//! page-table pages is judged on the tiny process he counted, in tiny-malloc.)

use experiments::catalog::static_dynamic::{variant, Linking, Mode, VARIANTS};

use super::super::kit::{self, pages, Case, Finding, Judged, Observed};
use super::super::programs::{self, Part};
use super::super::{human_bytes, Claim};
use crate::model::{CheckpointRecord, ClaimRecord, ExperimentRecord, VariantRecord, Verdict};
use crate::system::Environment;

const SOURCE: &str = experiments::catalog::writing::KOHNTOPP;
/// Slack when comparing costs, in pages.
const TOLERANCE_PAGES: u64 = 2;

const RSS_OVERSTATES: Claim = Claim {
    id: "summing-rss-overstates-memory",
    source: SOURCE,
    statement: "Read-only segments use physical memory only once however many processes map them, yet count in every process's RSS, so summing RSS over the instances overstates what they use.",
    criterion: "at the last checkpoint (most instances), summed Rss (from smaps) is at least 1.5 times summed Pss, i.e. a third or more of the summed Rss is pages counted more than once; inconclusive with fewer than two instances",
};
const FIRST_COSTS_MORE: Claim = Claim {
    id: "static-first-instance-costs-more",
    source: SOURCE,
    statement: "Started once, the static server does use more memory than the dynamic one: it loads its own private copy of the library code instead of sharing the copy every dynamic program on the machine uses.",
    criterion: "at n-1 (one instance), the static prefork variant's Pss exceeds the dynamic prefork variant's by more than 2 pages (slack for the pages either start-up may or may not touch); otherwise refuted",
};
const SHARED_TEXT: Claim = Claim {
    id: "instances-share-the-program-text",
    source: SOURCE,
    statement: "The program's text is shared by all instances (forked children inherit the mapping; exec'd ones find it in the page cache) and occupies physical memory only once, even if mapped many times.",
    criterion: "at the last checkpoint, the Pss of the program file's executable mappings summed over the instances is at most the smaller of (a) their Size in one instance, since pages in memory once add up to at most every page of the text once, and (b) one instance's Rss of them plus one page per instance, for pages only some instances touched (smaps truncates Pss, which only lowers the sum); inconclusive unless two or more instances have text resident",
};
const LIBRARY_TEXT: Claim = Claim {
    id: "instances-share-the-library-text",
    source: SOURCE,
    statement: "The loader and the shared libraries are in memory once, shared by every dynamically linked program: each dynamic instance maps the same copy of their code.",
    criterion: "dynamic builds, at the last checkpoint: the Pss of the loader's and libc's executable mappings summed over the instances is at most the smaller of their Size in one instance and one instance's Rss of them plus one page per instance (the same bound as the program's text; other programs on the machine sharing them only lower it); inconclusive unless two or more instances have them resident",
};
const STATIC_LARGER: Claim = Claim {
    id: "static-binary-is-much-larger",
    source: SOURCE,
    statement: "The static build carries its own partial copy of the libraries, so its file is much larger than the dynamic build's.",
    criterion: "the static server's file is at least twice the dynamic server's (both built from one source; 'much larger' read as a factor of 2); smaller refutes",
};
const COPY_ON_WRITE: Claim = Claim {
    id: "forked-children-copy-only-the-pages-they-write",
    source: SOURCE,
    statement: "The writable parts of the image are shared between the master and its forked children at first; a child gets its own copy of a page only when it writes to it, so it copies only the writable pages it touches.",
    criterion: "prefork variants, last checkpoint: in every forked child (every instance but the first), the writable mappings hold resident pages still shared with the parent (Shared_Clean + Shared_Dirty > 0) and fewer Private_Dirty bytes than Rss; a child that copied every writable page refutes",
};
const MARGINAL: Claim = Claim {
    id: "static-prefork-children-cost-little-more",
    source: SOURCE,
    statement: "Each extra child of a preforked static server costs little more memory than one of a dynamic server: children share the text and copy only the writable pages they touch.",
    criterion: "summed Pss per extra forked child (last minus first checkpoint, over the instances added) of static-prefork is at most dynamic-prefork's plus 2 pages",
};
const ONE_COPY: Claim = Claim {
    id: "static-overhead-is-one-library-copy",
    source: SOURCE,
    statement: "The memory overhead of the static preforked server is approximately one extra copy of the libraries a dynamic build shares (mostly libc).",
    criterion: "at the last checkpoint, summed Pss of static-prefork minus that of dynamic-prefork lies between half and twice L, where L is the Rss of the library mappings (loader and libc) of one dynamic instance at n-1; 'approximately' is two-sided, so below half refutes as much as above twice",
};
/// Every claim, in the order they are judged.
pub(super) static CLAIMS: [Claim; 8] = [
    RSS_OVERSTATES,
    SHARED_TEXT,
    LIBRARY_TEXT,
    COPY_ON_WRITE,
    FIRST_COSTS_MORE,
    MARGINAL,
    ONE_COPY,
    STATIC_LARGER,
];

const ONE_COPY_EXPECTED: &str = "a static binary holds only the libc objects it calls (a few hundred KiB, of which the \
    instances touch part), not the whole library a dynamic instance maps and faults around in, and every dynamic \
    instance pays for the loader's relocated GOT and relro pages: the static server costs well under one library \
    copy more, and with many instances less than the dynamic one";

/// The claims judged on each exec'd variant, with their judges.
static EXEC_CASES: [Case; 2] = [(RSS_OVERSTATES, rss_overstates), (SHARED_TEXT, shared_text)];

/// The dynamic exec'd variant's: those and the shared library text.
static DYNAMIC_EXEC_CASES: [Case; 3] = [
    (RSS_OVERSTATES, rss_overstates),
    (SHARED_TEXT, shared_text),
    (LIBRARY_TEXT, library_text),
];

/// The claims judged on each preforked variant: those and copy-on-write.
static PREFORK_CASES: [Case; 3] = [
    (RSS_OVERSTATES, rss_overstates),
    (SHARED_TEXT, shared_text),
    (COPY_ON_WRITE, copy_on_write),
];

/// The dynamic preforked variant's: the prefork claims and the shared library text.
static DYNAMIC_PREFORK_CASES: [Case; 4] = [
    (RSS_OVERSTATES, rss_overstates),
    (SHARED_TEXT, shared_text),
    (COPY_ON_WRITE, copy_on_write),
    (LIBRARY_TEXT, library_text),
];

/// Whether variant `name` forks its instances from one parent.
fn is_prefork(name: &str) -> bool {
    VARIANTS
        .iter()
        .any(|(v, _, mode)| *v == name && *mode == Mode::Prefork)
}

/// Judges every claim: the per-variant ones on each variant, then the
/// comparisons of the two prefork variants.
pub(super) fn judge(record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
    let mut claims = kit::judge_each_variant(record, env, |name| {
        match (is_prefork(name), is_dynamic(name)) {
            (true, false) => &PREFORK_CASES,
            (true, true) => &DYNAMIC_PREFORK_CASES,
            (false, false) => &EXEC_CASES,
            (false, true) => &DYNAMIC_EXEC_CASES,
        }
    });
    let find = |name: &str| {
        let variant = record.variants.iter().find(|v| v.name == name)?;
        Some(Observed { variant, env })
    };
    claims.push(static_larger(record));
    let across = [FIRST_COSTS_MORE, MARGINAL, ONE_COPY];
    let (Some(st), Some(dy)) = (
        find(variant::STATIC_PREFORK),
        find(variant::DYNAMIC_PREFORK),
    ) else {
        let why = "static-prefork and dynamic-prefork both need to run";
        claims.extend(across.iter().map(|c| c.unmeasured(None, why)));
        return claims;
    };
    if let Some(why) = kit::not_run_reason(st.variant).or_else(|| kit::not_run_reason(dy.variant)) {
        claims.extend(across.iter().map(|c| c.unmeasured(None, why.clone())));
        return claims;
    }
    let exec = (find(variant::STATIC_EXEC), find(variant::DYNAMIC_EXEC));
    claims.push(FIRST_COSTS_MORE.record(None, first_costs_more(&st, &dy)));
    claims.push(MARGINAL.record(None, marginal(&st, &dy, exec)));
    claims.push(
        ONE_COPY
            .record(None, one_copy(&st, &dy))
            .expecting(Verdict::Refuted, ONE_COPY_EXPECTED),
    );
    claims
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

/// The program file's executable mappings across the instances at one checkpoint.
#[derive(Debug, Clone, Copy, Default)]
struct TextSums {
    /// Their Pss summed over the instances, bytes.
    pss_bytes: u64,
    /// Their Rss summed over the instances, bytes.
    rss_bytes: u64,
    /// The largest Rss of them in one instance, bytes.
    max_rss_bytes: u64,
    /// The largest Size of them in one instance, bytes.
    max_size_bytes: u64,
    /// Instances with at least one text page resident.
    resident_in: u64,
}

impl TextSums {
    /// The most the instances' Pss may sum to if the code is in memory once:
    /// one instance's mappings (their Size, or their Rss plus a page per
    /// instance for pages touched at different moments, whichever is smaller).
    fn once_bound(&self, instances: u64, page: u64) -> u64 {
        self.max_size_bytes.min(
            self.max_rss_bytes
                .saturating_add(instances.saturating_mul(page)),
        )
    }
}

fn text_sums(checkpoint: &CheckpointRecord, program: &str) -> TextSums {
    code_sums(checkpoint, |name| name == program)
}

/// The executable mappings of the files `of` picks, summed over the instances.
fn code_sums(checkpoint: &CheckpointRecord, of: impl Fn(&str) -> bool) -> TextSums {
    let mut t = TextSums::default();
    for p in &checkpoint.processes {
        let (mut pss, mut rss, mut size) = (0, 0, 0);
        for m in p
            .mappings
            .iter()
            .filter(|m| of(&m.name) && m.perms.contains('x'))
        {
            pss = m.figures.pss_bytes.saturating_add(pss);
            rss = m.figures.rss_bytes.saturating_add(rss);
            size = m.figures.size_bytes.saturating_add(size);
        }
        t.max_size_bytes = t.max_size_bytes.max(size);
        t.pss_bytes = t.pss_bytes.saturating_add(pss);
        t.rss_bytes = t.rss_bytes.saturating_add(rss);
        t.max_rss_bytes = t.max_rss_bytes.max(rss);
        t.resident_in += u64::from(rss > 0);
    }
    t
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

/// The part of the program file's resident pages that processes outside the
/// variant hold in their Pss shares at one checkpoint, at least, in bytes.
/// When only the variant's instances map a file, their Pss of it sums to the
/// pages any of them has resident, so to at least the largest Rss of it in one
/// instance; a sum below that is the share other processes hold (another run
/// of the same program, e.g. a concurrent vmlab run). Smaps rounds each
/// mapping's Pss down to a KiB, allowed once per mapping.
fn outside_share(checkpoint: &CheckpointRecord, program: &str) -> u64 {
    let (mut pss, mut max_rss, mut mappings) = (0u64, 0u64, 0u64);
    for p in &checkpoint.processes {
        let mut rss = 0u64;
        for m in p.mappings.iter().filter(|m| m.name == program) {
            pss = pss.saturating_add(m.figures.pss_bytes);
            rss = rss.saturating_add(m.figures.rss_bytes);
            mappings += 1;
        }
        max_rss = max_rss.max(rss);
    }
    max_rss.saturating_sub(pss.saturating_add(mappings.saturating_mul(1024)))
}

/// How far other processes mapping a variant's program file can have moved
/// its summed Pss, over its first and last checkpoints (the two figures, in
/// bytes), or `None` when nobody else held a share of it.
fn outside_shares(variant: &VariantRecord) -> Option<(u64, u64)> {
    let program = programs::program_path(variant)?;
    let (first, last) = ends(variant)?;
    let shares = (outside_share(first, program), outside_share(last, program));
    (shares.0 > 0 || shares.1 > 0).then_some(shares)
}

/// Why a claim on summed Pss cannot be judged: other processes held shares
/// of the programs' pages, which moves Pss sums by as much as those shares,
/// more than the claim's margin. `per` divides the shares where the claim
/// judges a figure per instance.
fn disturbed(views: &[&Observed<'_>], per: impl Fn(&VariantRecord) -> u64) -> Result<(), String> {
    let page = views.first().map_or(4096, |v| v.page());
    let mut parts = Vec::new();
    let mut bound = 0u64;
    for v in views {
        if let Some((first, last)) = outside_shares(v.variant) {
            bound = bound.saturating_add(first.saturating_add(last) / per(v.variant).max(1));
            parts.push(format!(
                "{}: {} at the first checkpoint, {} at the last",
                v.variant.name,
                human_bytes(first),
                human_bytes(last)
            ));
        }
    }
    if bound <= TOLERANCE_PAGES * page {
        return Ok(());
    }
    Err(format!(
        "other processes map the same program files (another run of them, e.g. a concurrent vmlab run) and hold \
         shares of their resident pages that this run's Pss sums do not count ({}): enough to move the judged \
         figure by up to {} ({} pages), more than the {TOLERANCE_PAGES}-page margin; run it alone",
        parts.join("; "),
        human_bytes(bound),
        bound / page
    ))
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

fn rss_overstates(v: &Observed<'_>) -> Judged {
    let (variant, page) = (v.variant, v.page());
    let Some((_, last)) = ends(variant) else {
        return Err("no checkpoint was measured".into());
    };
    let s = sums(last);
    if s.instances < 2 {
        return Err("needs at least two instances".into());
    }
    Ok(Finding::new(
s.rss_bytes * 2 >= s.pss_bytes * 3,
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
format!(
        "Σ Rss {:.1} × Σ Pss",
        s.rss_bytes as f64 / s.pss_bytes.max(1) as f64
    )))
}

fn shared_text(v: &Observed<'_>) -> Judged {
    let (variant, page) = (v.variant, v.page());
    let (Some((_, last)), Some(program)) = (ends(variant), programs::program_path(variant)) else {
        return Err("no checkpoint or program path was recorded".into());
    };
    let t = text_sums(last, program);
    let n = last.processes.len() as u64;
    if t.resident_in < 2 {
        return Err(format!(
                "precondition not met: {} of {n} instances have text of the program resident, so nothing is shared",
                t.resident_in
            ));
    }
    let bound = t.once_bound(n, page);
    Ok(Finding::new(
        t.pss_bytes <= bound,
        format!(
            "{n} instances at {}: the program's executable mappings have Size {} and Rss {} in the largest \
             instance, Rss {} summed and Pss {} summed, against the bound of {} (the smaller of one instance's \
             Size, and its Rss plus a page per instance): the text is in memory {:.1} times",
            last.label,
            human_bytes(t.max_size_bytes),
            human_bytes(t.max_rss_bytes),
            human_bytes(t.rss_bytes),
            human_bytes(t.pss_bytes),
            human_bytes(bound),
            t.pss_bytes as f64 / t.max_rss_bytes.max(1) as f64
        ),
        format!(
            "Σ text Pss {} pages, bound {} pages",
            pages(t.pss_bytes, page),
            pages(bound, page)
        ),
    ))
}

/// Whether variant `name` runs the dynamically linked build.
fn is_dynamic(name: &str) -> bool {
    VARIANTS
        .iter()
        .any(|(v, linking, _)| *v == name && *linking == Linking::Dynamic)
}

/// Whether a mapped file is the dynamic loader or libc.
fn is_loader_or_libc(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or("");
    file.starts_with("ld-linux")
        || file.starts_with("libc.so")
        || (file.starts_with("libc-") && file.ends_with(".so"))
}

fn library_text(v: &Observed<'_>) -> Judged {
    let (variant, page) = (v.variant, v.page());
    let Some((_, last)) = ends(variant) else {
        return Err("no checkpoint was measured".into());
    };
    let t = code_sums(last, is_loader_or_libc);
    let n = last.processes.len() as u64;
    if t.resident_in < 2 {
        return Err(format!(
            "precondition not met: {} of {n} instances have the loader's or libc's code resident",
            t.resident_in
        ));
    }
    let bound = t.once_bound(n, page);
    Ok(Finding::new(
        t.pss_bytes <= bound,
        format!(
            "{n} instances at {}: the loader's and libc's executable mappings have Size {} and Rss {} in \
             the largest instance, Rss {} summed and Pss {} summed, against the bound of {}: each instance \
             is charged {:.1} % of the code it has resident, the rest by the other programs sharing it",
            last.label,
            human_bytes(t.max_size_bytes),
            human_bytes(t.max_rss_bytes),
            human_bytes(t.rss_bytes),
            human_bytes(t.pss_bytes),
            human_bytes(bound),
            100.0 * t.pss_bytes as f64 / t.rss_bytes.max(1) as f64
        ),
        format!(
            "Σ library code Pss {} pages, bound {} pages",
            pages(t.pss_bytes, page),
            pages(bound, page)
        ),
    ))
}

/// The static and the dynamic server's files compared.
fn static_larger(record: &ExperimentRecord) -> ClaimRecord {
    let size = |name: &str| {
        let v = record.variants.iter().find(|v| v.name == name)?;
        Some(v.binary.as_ref()?.file_bytes)
    };
    let (Some(st), Some(dy)) = (
        size(variant::STATIC_PREFORK),
        size(variant::DYNAMIC_PREFORK),
    ) else {
        return STATIC_LARGER.unmeasured(None, "the file facts of both servers were not recorded");
    };
    let ratio = st as f64 / dy.max(1) as f64;
    STATIC_LARGER.record(
        None,
        Ok(Finding::new(
            st >= 2 * dy,
            format!(
                "static server {}, dynamic {}: {ratio:.1} times as large",
                human_bytes(st),
                human_bytes(dy)
            ),
            format!("{ratio:.1} times"),
        )),
    )
}

fn copy_on_write(v: &Observed<'_>) -> Judged {
    let (variant, page) = (v.variant, v.page());
    let Some((_, last)) = ends(variant) else {
        return Err("no checkpoint was measured".into());
    };
    let children = last.processes.get(1..).unwrap_or_default();
    if children.is_empty() {
        return Err("precondition not met: no child was forked".into());
    }
    let mut rows = Vec::new();
    let mut holds = true;
    let (mut least_shared, mut most_copied) = (u64::MAX, 0.0_f64);
    for child in children {
        let mut w = crate::model::MemoryFigures::default();
        for m in child.mappings.iter().filter(|m| m.perms.contains('w')) {
            w.add(&m.figures);
        }
        let shared = w.shared_clean_bytes + w.shared_dirty_bytes;
        holds &= shared > 0 && w.private_dirty_bytes < w.rss_bytes;
        least_shared = least_shared.min(shared);
        most_copied = most_copied.max(w.private_dirty_bytes as f64 / w.rss_bytes.max(1) as f64);
        rows.push(format!(
            "{}: writable Rss {} pages, {} still shared, {} copied (Private_Dirty)",
            child.role,
            pages(w.rss_bytes, page),
            pages(shared, page),
            pages(w.private_dirty_bytes, page)
        ));
    }
    Ok(Finding::new(
        holds,
        rows.join("; "),
        format!(
            "≥ {} pages shared, ≤ {:.0}% copied",
            pages(least_shared, page),
            most_copied * 100.0
        ),
    ))
}

fn first_costs_more(st: &Observed<'_>, dy: &Observed<'_>) -> Judged {
    let (st_v, dy_v) = (st, dy);
    let (st, dy, page) = (st.variant, dy.variant, st.page());
    let first = |v: &VariantRecord| {
        let c = v.checkpoints.first()?;
        (c.processes.len() == 1).then(|| sums(c))
    };
    let (Some(s), Some(d)) = (first(st), first(dy)) else {
        return Err("a prefork variant did not start with one instance".into());
    };
    disturbed(&[st_v, dy_v], |_| 1)?;
    let more = s.pss_bytes as i64 - d.pss_bytes as i64;
    Ok(Finding::new(
more > (TOLERANCE_PAGES * page) as i64,
format!(
                "one instance: Pss static {} (USS {}) vs dynamic {} (USS {}), {} pages more for the static one \
                 (tolerance {TOLERANCE_PAGES}); a dynamic instance's Pss divides libc's pages among every process \
                 on the machine that maps them",
                human_bytes(s.pss_bytes),
                human_bytes(s.uss_bytes),
                human_bytes(d.pss_bytes),
                human_bytes(d.uss_bytes),
                more / page as i64
            ),
format!("{:+} pages of Pss", more / page as i64)))
}

fn marginal(
    st: &Observed<'_>,
    dy: &Observed<'_>,
    exec: (Option<Observed<'_>>, Option<Observed<'_>>),
) -> Judged {
    let (st_v, dy_v) = (st, dy);
    let (st, dy, page) = (st.variant, dy.variant, st.page());
    let (Some((st_m, _, st_last)), Some((dy_m, _, dy_last))) =
        (marginal_bytes(st), marginal_bytes(dy))
    else {
        return Err("needs at least two instance counts in both prefork variants".into());
    };
    disturbed(&[st_v, dy_v], |v| {
        marginal_bytes(v).map_or(1, |(_, a, b)| b.instances - a.instances)
    })?;
    let per = |m: i64| {
        format!(
            "{} ({} pages)",
            human_bytes(m.unsigned_abs()),
            m / page as i64
        )
    };
    let exec_text = match exec {
        (Some(se), Some(de)) => match (marginal_bytes(se.variant), marginal_bytes(de.variant)) {
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
    Ok(Finding::new(
st_m <= dy_m + (TOLERANCE_PAGES * page) as i64,
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
format!(
        "{} vs {} pages per child",
        st_m / page as i64,
        dy_m / page as i64
    )))
}

fn one_copy(st: &Observed<'_>, dy: &Observed<'_>) -> Judged {
    disturbed(&[st, dy], |_| 1)?;
    let (st, dy, page) = (st.variant, dy.variant, st.page());
    let (Some((_, st_last)), Some((dy_first, dy_last))) = (ends(st), ends(dy)) else {
        return Err("no checkpoint was measured".into());
    };
    if st_last.label != dy_last.label {
        return Err("the two variants reached different checkpoints".into());
    }
    let (Some(program), Some(first)) = (programs::program_path(dy), dy_first.processes.first())
    else {
        return Err("the dynamic program's path was not noted".into());
    };
    let libraries = programs::breakdown(first, program)
        .get(&Part::Libraries)
        .map_or(0, |f| f.rss_bytes);
    if libraries == 0 {
        return Err(
            "precondition not met: the dynamic instance had no library page resident".into(),
        );
    }
    let (s, d) = (sums(st_last), sums(dy_last));
    let overhead = s.pss_bytes as i64 - d.pss_bytes as i64;
    let (low, high) = ((libraries / 2) as i64, (2 * libraries) as i64);
    let holds = (low..=high).contains(&overhead);
    Ok(Finding::new(
holds,
format!(
            "{} instances: summed Pss static {} vs dynamic {}, an overhead of {}{} ({} pages); one copy of the \
             library pages a dynamic instance has resident (loader and libc, Rss) is {} ({} pages), so the band is \
             {} to {} pages. The static file holds only the parts of libc it calls, and its overhead is paid once, \
             not per child{}",
            s.instances,
            human_bytes(s.pss_bytes),
            human_bytes(d.pss_bytes),
            if overhead < 0 { "-" } else { "" },
            human_bytes(overhead.unsigned_abs()),
            overhead / page as i64,
            human_bytes(libraries),
            pages(libraries, page),
            low / page as i64,
            high / page as i64,
            if overhead < 0 {
                ". Here the static server uses less memory than the dynamic one: no dynamic loader, no \
                 relocated GOT or relro pages per process, and its text is the few hundred KiB of libc it links \
                 rather than the libraries' pages it touches"
            } else {
                ""
            }
        ),
format!(
        "{:+} pages against {} to {}",
        overhead / page as i64,
        low / page as i64,
        high / page as i64
    )))
}

#[cfg(test)]
mod tests {
    use experiments::catalog::static_dynamic::checkpoint;

    use super::*;

    use crate::elf::PROGRAM_PATH_NOTE;
    use crate::experiment::programs::fixtures::{self, mapping, PAGE};
    use crate::model::ProcessRecord;

    const PROGRAM: &str = "/srv";
    const LIBC: &str = "/lib/libc.so.6";

    /// The verdict `judge` gives on variant `v`.
    fn verdict_by(judge: fn(&Observed<'_>) -> Judged, v: &VariantRecord) -> Verdict {
        let env = fixtures::env();
        let view = Observed {
            variant: v,
            env: &env,
        };
        RSS_OVERSTATES.record(None, judge(&view)).verdict
    }

    /// The verdict `judge` gives on the static and dynamic variants `st`, `dy`.
    fn pair_verdict_by(
        judge: fn(&Observed<'_>, &Observed<'_>) -> Judged,
        st: &VariantRecord,
        dy: &VariantRecord,
    ) -> Verdict {
        let env = fixtures::env();
        let view = |variant| Observed { variant, env: &env };
        FIRST_COSTS_MORE
            .record(None, judge(&view(st), &view(dy)))
            .verdict
    }

    /// One instance: `text_rss` pages of program text with `text_pss` of Pss,
    /// `lib_rss` pages of libc, `pss` pages of Pss in all, VmPTE `pte` pages.
    fn instance(text_rss: u64, text_pss: u64, lib_rss: u64, pss: u64, pte: u64) -> ProcessRecord {
        let mut text = mapping(0x400, 200, PROGRAM, "r-xp", text_rss);
        text.figures.pss_bytes = text_pss * PAGE;
        let mut p = fixtures::process(
            "instance",
            vec![text, mapping(0x7f000, 400, LIBC, "r-xp", lib_rss)],
        );
        p.totals.pss_bytes = pss * PAGE;
        p.totals.pte_bytes = pte * PAGE;
        p
    }

    /// A variant whose checkpoints hold these instances, in order.
    fn run(name: &str, checkpoints: Vec<Vec<ProcessRecord>>) -> VariantRecord {
        let cps = checkpoints
            .into_iter()
            .map(|ps| fixtures::checkpoint(&checkpoint::n(ps.len()), ps))
            .collect();
        let mut v = fixtures::variant(name, cps);
        v.notes.insert(PROGRAM_PATH_NOTE.into(), PROGRAM.into());
        v
    }

    /// Prefork-like: one instance, then `n` with the given total Pss each.
    fn grown(name: &str, first_pss: u64, n: usize, pss_each: u64) -> VariantRecord {
        run(
            name,
            vec![
                vec![instance(100, 100, 50, first_pss, 6)],
                (0..n)
                    .map(|_| instance(100, 100 / n as u64, 50, pss_each, 6))
                    .collect(),
            ],
        )
    }

    #[test]
    fn summed_rss_must_be_half_again_summed_pss() {
        // Rss 150 pages each (text 100 + libc 50); Pss set per case.
        for (pss, verdict) in [
            (100, Verdict::Confirmed),
            (101, Verdict::Refuted),
            (40, Verdict::Confirmed),
        ] {
            let v = run(
                "static-exec",
                vec![vec![
                    instance(100, 50, 50, pss, 6),
                    instance(100, 50, 50, pss, 6),
                ]],
            );
            assert_eq!(verdict_by(rss_overstates, &v), verdict, "Pss {pss}");
        }
        let one = run("static-exec", vec![vec![instance(100, 100, 50, 150, 6)]]);
        assert_eq!(verdict_by(rss_overstates, &one), Verdict::Inconclusive);
    }

    #[test]
    fn text_in_memory_once_allows_a_page_per_instance() {
        let four = |pss_each: u64| {
            run(
                "static-prefork",
                vec![(0..4)
                    .map(|_| instance(100, pss_each, 50, 200, 6))
                    .collect()],
            )
        };
        // 4 × 26 = 104 = 100 + 4 pages: the boundary.
        assert_eq!(verdict_by(shared_text, &four(26)), Verdict::Confirmed);
        assert_eq!(verdict_by(shared_text, &four(27)), Verdict::Refuted);
        // Private copies: each instance's text counted whole.
        assert_eq!(verdict_by(shared_text, &four(100)), Verdict::Refuted);
        // A one-page text: a page per instance would let copies pass, the
        // text's own Size does not.
        let one_page = |pss_each: u64| {
            let instances = (0..32)
                .map(|_| {
                    let mut p = instance(1, pss_each, 50, 60, 6);
                    p.mappings[0].figures.size_bytes = PAGE;
                    p.mappings[0].figures.pss_bytes = pss_each * PAGE / 32;
                    p
                })
                .collect();
            run("dynamic-exec", vec![instances])
        };
        assert_eq!(verdict_by(shared_text, &one_page(1)), Verdict::Confirmed);
        assert_eq!(verdict_by(shared_text, &one_page(32)), Verdict::Refuted);
        // Only one instance has text resident: nothing was shared.
        let lone = run(
            "static-prefork",
            vec![vec![
                instance(100, 100, 50, 200, 6),
                instance(0, 0, 50, 50, 6),
            ]],
        );
        assert_eq!(verdict_by(shared_text, &lone), Verdict::Inconclusive);
    }

    #[test]
    fn library_code_must_be_in_memory_once_across_dynamic_instances() {
        let four = |pss_each_quarters: u64| {
            let instances = (0..4)
                .map(|_| {
                    let mut p = instance(100, 25, 50, 200, 6);
                    p.mappings[1].figures.pss_bytes = pss_each_quarters * PAGE / 4;
                    p
                })
                .collect();
            run("dynamic-exec", vec![instances])
        };
        // 50 pages resident in each, charged a quarter each: once in all.
        assert_eq!(verdict_by(library_text, &four(50)), Verdict::Confirmed);
        // Each charged all 50: four copies.
        assert_eq!(verdict_by(library_text, &four(200)), Verdict::Refuted);
    }

    #[test]
    fn the_static_file_must_be_twice_the_dynamic_one() {
        use crate::model::{BinaryFacts, Linking as FileLinking};
        let with_size = |name: &str, bytes: u64| {
            let mut v = run(name, vec![vec![instance(1, 1, 1, 1, 6)]]);
            v.binary = Some(BinaryFacts {
                path: PROGRAM.into(),
                file_bytes: bytes,
                linking: FileLinking::Static,
                stripped: false,
                load_segments: Vec::new(),
                text_bytes: 0,
                data_bytes: 0,
                bss_bytes: 0,
            });
            v
        };
        let record = |st: u64, dy: u64| ExperimentRecord {
            name: "static-dynamic".into(),
            status: crate::model::Status::Ok,
            reason: None,
            params: Default::default(),
            variants: vec![
                with_size(variant::STATIC_PREFORK, st),
                with_size(variant::DYNAMIC_PREFORK, dy),
            ],
            claims: Vec::new(),
            summary: Vec::new(),
            fault_costs: Vec::new(),
        };
        assert_eq!(static_larger(&record(800, 400)).verdict, Verdict::Confirmed);
        assert_eq!(static_larger(&record(799, 400)).verdict, Verdict::Refuted);
    }

    #[test]
    fn the_first_static_instance_must_cost_more_than_two_pages_extra() {
        let dy = grown("dynamic-prefork", 40, 2, 30);
        for (static_pss, verdict) in [
            (43, Verdict::Confirmed),
            (42, Verdict::Refuted),
            (180, Verdict::Confirmed),
        ] {
            let st = grown("static-prefork", static_pss, 2, 30);
            assert_eq!(
                pair_verdict_by(first_costs_more, &st, &dy),
                verdict,
                "{static_pss}"
            );
        }
    }

    #[test]
    fn other_processes_sharing_the_program_leave_the_pss_claims_undecided() {
        let dy = grown("dynamic-prefork", 40, 2, 30);
        // Static, measured beside another run of the same program: at first its
        // one instance holds 20 of the text's 100 resident pages in Pss (the
        // other run holds the rest), at the end 2 × 50: the other run left,
        // and the per-child figure rose with it, not with the children.
        let st = run(
            "static-prefork",
            vec![
                vec![instance(100, 20, 50, 100, 6)],
                vec![instance(100, 50, 50, 150, 6), instance(100, 50, 50, 150, 6)],
            ],
        );
        let judged = marginal(
            &Observed {
                variant: &st,
                env: &fixtures::env(),
            },
            &Observed {
                variant: &dy,
                env: &fixtures::env(),
            },
            (None, None),
        );
        let why = judged.expect_err("undecided");
        assert!(
            why.contains("static-prefork: 319.0 KiB at the first checkpoint"),
            "{why}"
        );
        assert_eq!(
            pair_verdict_by(|st, dy| marginal(st, dy, (None, None)), &st, &dy),
            Verdict::Inconclusive
        );
        assert_eq!(
            pair_verdict_by(first_costs_more, &st, &dy),
            Verdict::Inconclusive
        );
        // Alone, the instances' text Pss sums to its Rss: judged as before.
        let st = grown("static-prefork", 100, 2, 61);
        assert_eq!(
            pair_verdict_by(|st, dy| marginal(st, dy, (None, None)), &st, &dy),
            Verdict::Confirmed
        );
    }

    #[test]
    fn a_static_child_may_cost_at_most_two_pages_more_than_a_dynamic_one() {
        // Dynamic: 40 -> 2 × 30 = 60, 20 pages per extra child.
        let dy = grown("dynamic-prefork", 40, 2, 30);
        // Static: 100 -> 2 × 61 = 122, 22 pages per extra child: the boundary.
        let st = grown("static-prefork", 100, 2, 61);
        assert_eq!(
            pair_verdict_by(|st, dy| marginal(st, dy, (None, None)), &st, &dy),
            Verdict::Confirmed
        );
        let st = grown("static-prefork", 100, 2, 62);
        assert_eq!(
            pair_verdict_by(|st, dy| marginal(st, dy, (None, None)), &st, &dy),
            Verdict::Refuted
        );
    }

    #[test]
    fn about_one_library_copy_is_judged_on_both_sides() {
        // L = 50 pages of libc in the dynamic instance at n-1: the band is 25 to 100 pages.
        let dy = grown("dynamic-prefork", 40, 2, 30);
        let case = |static_each: u64| {
            let st = grown("static-prefork", 100, 2, static_each);
            pair_verdict_by(one_copy, &st, &dy)
        };
        // Summed Pss 60 for dynamic; static 2 × each.
        assert_eq!(case(43), Verdict::Confirmed, "26 pages over");
        assert_eq!(
            case(42),
            Verdict::Refuted,
            "24 pages over: under half a copy"
        );
        assert_eq!(case(80), Verdict::Confirmed, "100 pages over: twice");
        assert_eq!(case(81), Verdict::Refuted, "102 pages over");
        assert_eq!(case(20), Verdict::Refuted, "negative overhead");
    }

    #[test]
    fn a_child_that_copied_every_writable_page_refutes_copy_on_write() {
        let child = |shared: u64, copied: u64| {
            let mut p = instance(1, 1, 1, 1, 6);
            let mut data = mapping(0x500, 4, PROGRAM, "rw-p", 4);
            data.figures.shared_dirty_bytes = shared * PAGE;
            data.figures.private_dirty_bytes = copied * PAGE;
            p.mappings.push(data);
            p
        };
        let case = |shared: u64, copied: u64| {
            let v = run(
                "static-prefork",
                vec![vec![child(0, 4), child(shared, copied)]],
            );
            verdict_by(copy_on_write, &v)
        };
        assert_eq!(case(1, 3), Verdict::Confirmed);
        assert_eq!(case(0, 4), Verdict::Refuted);
        assert_eq!(case(0, 3), Verdict::Refuted, "nothing left shared");
        let lone = run("static-prefork", vec![vec![child(0, 4)]]);
        assert_eq!(verdict_by(copy_on_write, &lone), Verdict::Inconclusive);
    }
}
