//! CSV tables in bytes and counts, one file per table, one row per observation.

use std::fmt::Write;

use crate::model::{ClaimRecord, RunRecord};

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// checkpoints.csv: one row per experiment, variant, checkpoint and process.
pub fn checkpoints(run: &RunRecord) -> String {
    let mut out = String::from(
        "experiment,variant,checkpoint,role,pid,minor_faults,major_faults,vm_size_bytes,rss_bytes,rss_anon_bytes,rss_file_bytes,pss_bytes,uss_bytes,pte_bytes,phase_millis\n",
    );
    for e in &run.experiments {
        for v in &e.variants {
            for c in &v.checkpoints {
                for p in &c.processes {
                    let t = &p.totals;
                    let _ = writeln!(
                        out,
                        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                        field(&e.name),
                        field(&v.name),
                        field(&c.label),
                        field(&p.role),
                        p.pid,
                        p.faults.minor,
                        p.faults.major,
                        t.vm_size_bytes,
                        t.rss_bytes,
                        t.rss_anon_bytes,
                        t.rss_file_bytes,
                        t.pss_bytes,
                        t.uss_bytes,
                        t.pte_bytes,
                        c.phase_millis
                    );
                }
            }
        }
    }
    out
}

/// regions.csv: one row per declared region per process and checkpoint.
pub fn regions(run: &RunRecord) -> String {
    let mut out = String::from(
        "experiment,variant,checkpoint,role,region,size_bytes,rss_bytes,pss_bytes,shared_clean_bytes,shared_dirty_bytes,private_clean_bytes,private_dirty_bytes,anonymous_bytes,anon_huge_pages_bytes\n",
    );
    for e in &run.experiments {
        for v in &e.variants {
            for c in &v.checkpoints {
                for p in &c.processes {
                    for r in &p.regions {
                        let f = &r.figures;
                        let _ = writeln!(
                            out,
                            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                            field(&e.name),
                            field(&v.name),
                            field(&c.label),
                            field(&p.role),
                            field(&r.name),
                            f.size_bytes,
                            f.rss_bytes,
                            f.pss_bytes,
                            f.shared_clean_bytes,
                            f.shared_dirty_bytes,
                            f.private_clean_bytes,
                            f.private_dirty_bytes,
                            f.anonymous_bytes,
                            f.anon_huge_pages_bytes
                        );
                    }
                }
            }
        }
    }
    out
}

/// mappings.csv: every mapping of every snapshot.
pub fn mappings(run: &RunRecord) -> String {
    let mut out = String::from(
        "experiment,variant,checkpoint,role,start,end,perms,name,size_bytes,rss_bytes,pss_bytes,shared_clean_bytes,shared_dirty_bytes,private_clean_bytes,private_dirty_bytes,anonymous_bytes,anon_huge_pages_bytes,swap_bytes\n",
    );
    for e in &run.experiments {
        for v in &e.variants {
            for c in &v.checkpoints {
                for p in &c.processes {
                    for m in &p.mappings {
                        let f = &m.figures;
                        let _ = writeln!(
                            out,
                            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                            field(&e.name),
                            field(&v.name),
                            field(&c.label),
                            field(&p.role),
                            m.start,
                            m.end,
                            m.perms,
                            field(&m.name),
                            f.size_bytes,
                            f.rss_bytes,
                            f.pss_bytes,
                            f.shared_clean_bytes,
                            f.shared_dirty_bytes,
                            f.private_clean_bytes,
                            f.private_dirty_bytes,
                            f.anonymous_bytes,
                            f.anon_huge_pages_bytes,
                            f.swap_bytes
                        );
                    }
                }
            }
        }
    }
    out
}

/// claims.csv: one row per judged claim.
pub fn claims(run: &RunRecord) -> String {
    let mut out = String::from("experiment,variant,claim,verdict,source,statement,evidence\n");
    for e in &run.experiments {
        for ClaimRecord {
            id,
            variant,
            source,
            statement,
            verdict,
            evidence,
            ..
        } in &e.claims
        {
            let verdict = serde_json::to_value(verdict)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                field(&e.name),
                field(variant.as_deref().unwrap_or("")),
                field(id),
                verdict,
                field(source),
                field(statement),
                field(evidence)
            );
        }
    }
    out
}
