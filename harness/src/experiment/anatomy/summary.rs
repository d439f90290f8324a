//! anatomy's tables: where each piece lies, the PT_LOAD segments and the
//! mappings they became, and the mappings that are not plain file data.

use super::super::human_bytes;
use super::super::kit::Observed;
use super::map::{ProcessMap, PIECES};
use crate::model::{ExperimentRecord, MappingRecord, Status, SummaryTable};
use crate::system::Environment;

/// The three tables, from the first variant that ran to its end (none without
/// one, or when its checkpoint was not measured).
pub(super) fn tables(record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
    let Some(variant) = record.variants.iter().find(|v| v.status == Status::Ok) else {
        return Vec::new();
    };
    let v = Observed { variant, env };
    if v.main().is_err() {
        return Vec::new();
    }
    vec![pieces_table(&v), segments_table(&v), special_table(&v)]
}

fn pieces_table(v: &Observed<'_>) -> SummaryTable {
    let mut table = SummaryTable {
        title: "where each piece of the process lies".into(),
        headers: [
            "piece",
            "what",
            "address",
            "mapping",
            "perms",
            "mapping range",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for piece in PIECES {
        let addr = v.address(piece);
        let m = addr.and_then(|a| v.mapping_at(a));
        table.rows.push(vec![
            piece.name.to_string(),
            piece.what.to_string(),
            addr.map_or("-".into(), |a| format!("{a:#x}")),
            m.map_or("-".into(), |m| v.kind(m)),
            m.map_or("-".into(), |m| m.perms.clone()),
            m.map_or("-".into(), |m| format!("{}-{}", m.start, m.end)),
        ]);
    }
    table
}

fn segments_table(v: &Observed<'_>) -> SummaryTable {
    let mut table = SummaryTable {
        title: "PT_LOAD segments (readelf -l) and the mappings they became".into(),
        headers: [
            "file",
            "segment",
            "flags",
            "file offset",
            "file size",
            "mem size",
            "mapping(s)",
            "perms",
            "mapping offset",
            "matches",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for (path, result) in v.matches() {
        let file = path.rsplit('/').next().unwrap_or(&path).to_string();
        let Ok(segs) = result else {
            table.rows.push(vec![file, "unreadable".into()]);
            continue;
        };
        for s in segs {
            let mut maps: Vec<&MappingRecord> = s.mappings.iter().collect();
            if let Some(b) = &s.bss_mapping {
                maps.push(b);
            }
            let join = |f: &dyn Fn(&MappingRecord) -> String| {
                maps.iter().map(|m| f(m)).collect::<Vec<_>>().join(", ")
            };
            table.rows.push(vec![
                file.clone(),
                format!("#{}", s.index),
                s.segment.flags.trim_end().to_string(),
                format!("{:#x}", s.segment.offset),
                format!("{:#x}", s.segment.file_bytes),
                format!("{:#x}", s.segment.mem_bytes),
                join(&|m| {
                    format!(
                        "{}-{}{}",
                        m.start,
                        m.end,
                        if m.name.is_empty() {
                            " (anon, .bss)"
                        } else {
                            ""
                        }
                    )
                }),
                join(&|m| m.perms.clone()),
                join(&|m| format!("{:#x}", m.offset_bytes)),
                if s.perms_ok && s.offsets_ok {
                    if s.relro_mappings > 0 {
                        "yes (RELRO → r--p)".into()
                    } else {
                        "yes".into()
                    }
                } else {
                    "no".into()
                },
            ]);
        }
    }
    table
}

fn special_table(v: &Observed<'_>) -> SummaryTable {
    let mut table = SummaryTable {
        title: "mappings that are not plain file data".into(),
        headers: ["mapping", "perms", "size", "Rss", "what it is"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    for m in v.mappings() {
        let what = match m.name.as_str() {
            "[vdso]" => "code the kernel maps into every process, so calls like clock_gettime run without a system call",
            "[vvar]" | "[vvar_vclock]" => "kernel data the vDSO code reads (clock values), read-only to the process",
            "[vsyscall]" => "the legacy fixed-address system-call page of x86-64: a call into it traps and the kernel emulates it (--xp, execute-only)",
            "[stack]" => "the main thread's stack; it grows down on demand",
            "[heap]" => "the brk heap: malloc's arena for small blocks",
            _ if m.perms.starts_with("---") => "reserved, inaccessible address space (PROT_NONE): a hole between a library's segments or a guard",
            _ => continue,
        };
        table.rows.push(vec![
            if m.name.is_empty() {
                format!("(anonymous) {}", m.start)
            } else {
                format!("{} {}", v.kind(m), m.start)
            },
            m.perms.clone(),
            human_bytes(m.figures.size_bytes),
            human_bytes(m.figures.rss_bytes),
            what.to_string(),
        ]);
    }
    table
}
