//! The figures the answers to mmap-file's questions quote from the latest run,
//! one per question of explanation.md, in order.

use experiments::catalog::mmap_file::{checkpoint, note, region, role, variant};

use super::super::kit::{AnswerFigure, Facts};
use super::super::{human_bytes, signed_bytes};

/// `after - before`, signed, in bytes.
fn delta(after: u64, before: u64) -> String {
    signed_bytes(after as i64 - before as i64)
}

/// Minor and major faults of the process in `variant` over the phases ending at `labels`.
fn faults(f: &Facts<'_>, variant: &str, labels: &[&str]) -> Option<(u64, u64)> {
    labels.iter().try_fold((0, 0), |(minor, major), label| {
        let p = f.process(variant, label, role::MAIN)?;
        Some((minor + p.faults.minor, major + p.faults.major))
    })
}

/// The pages resident after the first read in each of `variants` that ran.
fn first_read(
    f: &Facts<'_>,
    variants: &[&str],
    describe: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let m: Vec<String> = variants
        .iter()
        .filter_map(|v| {
            let r = f.region(v, checkpoint::AFTER_FIRST_READ, role::MAIN, region::DATA)?;
            Some(format!(
                "{}: {} resident",
                describe(v)?,
                f.bytes_and_pages(r.rss_bytes)
            ))
        })
        .collect();
    (!m.is_empty()).then(|| m.join("; "))
}

pub(super) static FIGURES: [Option<AnswerFigure>; 6] = [
    Some(|f| {
        let before = f.process(variant::WARM, checkpoint::BEFORE_MMAP, role::MAIN)?;
        let after = f.process(variant::WARM, checkpoint::AFTER_MMAP, role::MAIN)?;
        Some(format!(
            "VmSize {}, VmRSS {}",
            delta(after.totals.vm_size_bytes, before.totals.vm_size_bytes),
            delta(after.totals.rss_bytes, before.totals.rss_bytes)
        ))
    }),
    Some(|f| first_read(f, &[variant::WARM, variant::COLD], |v| Some(v.to_string()))),
    Some(|f| {
        first_read(f, &[variant::WARM, variant::WARM_DD], |v| {
            let chunk = f.variant(v)?.note(note::WRITE_CHUNK_BYTES)?;
            Some(format!("{v} (written {chunk} bytes per write)"))
        })
    }),
    Some(|f| {
        let (minor, major) = faults(f, variant::WARM, &[checkpoint::AFTER_READ_ALL])?;
        let r = f.region(
            variant::WARM,
            checkpoint::AFTER_READ_ALL,
            role::MAIN,
            region::DATA,
        )?;
        Some(format!(
            "{} faults ({minor} minor, {major} major) for {} pages of file",
            minor + major,
            f.pages(r.size_bytes)
        ))
    }),
    Some(|f| {
        let m: Vec<String> = [variant::WARM, variant::COLD]
            .iter()
            .filter_map(|v| {
                let (minor, major) = faults(
                    f,
                    v,
                    &[checkpoint::AFTER_FIRST_READ, checkpoint::AFTER_READ_ALL],
                )?;
                let read = f
                    .process(v, checkpoint::AFTER_READ_ALL, role::MAIN)
                    .zip(f.process(v, checkpoint::AFTER_MMAP, role::MAIN))
                    .and_then(|(end, start)| {
                        Some(end.io?.read_bytes.saturating_sub(start.io?.read_bytes))
                    })
                    .map_or(String::new(), |b| {
                        format!(", {} read from storage", human_bytes(b))
                    });
                Some(format!("{v}: {minor} minor, {major} major{read}"))
            })
            .collect();
        (!m.is_empty()).then(|| m.join("; "))
    }),
    Some(|f| {
        f.region(
            variant::WARM,
            checkpoint::AFTER_READ_ALL,
            role::MAIN,
            region::DATA,
        )
        .map(|r| {
            format!(
                "Rss {}, Pss {}",
                human_bytes(r.rss_bytes),
                human_bytes(r.pss_bytes)
            )
        })
    }),
];
