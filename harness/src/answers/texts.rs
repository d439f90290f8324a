//! The answers themselves, one list per experiment in the order of its
//! questions (`Explanation::questions`); a test checks the counts agree.

use super::{bytes_and_pages, figure, Answer, Facts};
use crate::experiment::human_bytes;
use crate::model::MemoryFigures;

fn delta(after: u64, before: u64) -> String {
    crate::report::delta::signed_bytes(after as i64 - before as i64)
}

fn fault_sum(f: &Facts<'_>, variant: &str, role: &str, labels: &[&str]) -> Option<(u64, u64)> {
    labels.iter().try_fold((0, 0), |(min, maj), label| {
        let p = f.process(variant, label, role)?;
        Some((min + p.faults.minor, maj + p.faults.major))
    })
}

/// Σ of `pick` over every process at `label` of `variant`.
fn sum_at(
    f: &Facts<'_>,
    variant: &str,
    label: &str,
    pick: fn(&crate::model::ProcessRecord) -> u64,
) -> Option<(usize, u64)> {
    let c = f.variant(variant)?.checkpoint(label)?;
    Some((c.processes.len(), c.processes.iter().map(pick).sum()))
}

fn first_variant<'a>(f: &'a Facts<'_>) -> Option<&'a crate::model::VariantRecord> {
    f.record?.variants.first()
}

pub(super) const MMAP_FILE: &[Answer] = &[
    |f| {
        let m = (|| {
            let before = f.process("warm", "before-mmap", "main")?;
            let after = f.process("warm", "after-mmap", "main")?;
            Some(format!(
                "VmSize {}, VmRSS {}",
                delta(after.totals.vm_size_bytes, before.totals.vm_size_bytes),
                delta(after.totals.rss_bytes, before.totals.rss_bytes)
            ))
        })();
        format!("mmap only records a new area (a VMA) in the address space; no page is read and no page table entry is made until the program touches the memory, so the address space grows by the whole mapping at once and the resident set not at all.{}", figure(m, "mmap-file"))
    },
    |f| {
        let m = ["warm", "cold"]
            .iter()
            .filter_map(|v| {
                let r = f.region(v, "after-first-read", "main", "data")?;
                Some(format!("{v}: {} resident", bytes_and_pages(f, r.rss_bytes)))
            })
            .collect::<Vec<_>>();
        format!("More than the one page read: on a fault the kernel maps the neighbouring pages that are already in the page cache as well (fault-around, 64 KiB by default), and large page-cache folios can be mapped whole; a cold file also has read-ahead bring in pages around the one asked for.{}", figure((!m.is_empty()).then(|| m.join("; ")), "mmap-file"))
    },
    |f| {
        let m = ["warm", "warm-dd"]
            .iter()
            .filter_map(|v| {
                let r = f.region(v, "after-first-read", "main", "data")?;
                let chunk = f.variant(v)?.notes.get("write_chunk_bytes")?;
                Some(format!(
                    "{v} (written {chunk} bytes per write): {} resident",
                    bytes_and_pages(f, r.rss_bytes)
                ))
            })
            .collect::<Vec<_>>();
        format!("The page cache keeps a file in folios whose size follows how the file arrived: large writes let the file system allocate large folios (up to 2 MiB), 1 KiB writes leave it in small ones. A fault on a cached page maps the whole folio it hits, or fault-around's 64 KiB window when folios are small, so the same one-int read maps more of a file written in big chunks.{}", figure((!m.is_empty()).then(|| m.join("; ")), "mmap-file"))
    },
    |f| {
        let m = (|| {
            let (minor, major) = fault_sum(f, "warm", "main", &["after-read-all"])?;
            let r = f.region("warm", "after-read-all", "main", "data")?;
            Some(format!(
                "{} faults ({minor} minor, {major} major) for {} pages of file",
                minor + major,
                f.pages(r.size_bytes)
            ))
        })();
        format!("Each fault maps many pages at once: fault-around maps the cached neighbours of the faulting page, and a large folio in the page cache is mapped in one go, so one fault serves 16 pages or more.{}", figure(m, "mmap-file"))
    },
    |f| {
        let m = ["warm", "cold"]
            .iter()
            .filter_map(|v| {
                let (minor, major) =
                    fault_sum(f, v, "main", &["after-first-read", "after-read-all"])?;
                let read = f
                    .process(v, "after-read-all", "main")
                    .zip(f.process(v, "after-mmap", "main"))
                    .and_then(|(end, start)| {
                        Some(end.io?.read_bytes.saturating_sub(start.io?.read_bytes))
                    })
                    .map_or(String::new(), |b| {
                        format!(", {} read from storage", human_bytes(b))
                    });
                Some(format!("{v}: {minor} minor, {major} major{read}"))
            })
            .collect::<Vec<_>>();
        format!("A minor fault is served without waiting for I/O (the page is in the page cache); a major fault is one the kernel counted as having waited for I/O or retried. The cold variant is where major faults can appear, but read-ahead does most of the disk work ahead of the faults, so even a cold read shows few major faults; /proc/PID/io read_bytes shows the I/O.{}", figure((!m.is_empty()).then(|| m.join("; ")), "mmap-file"))
    },
    |f| {
        let m = f.region("warm", "after-read-all", "main", "data").map(|r| {
            format!(
                "Rss {}, Pss {}",
                human_bytes(r.rss_bytes),
                human_bytes(r.pss_bytes)
            )
        });
        format!("Pss divides each page by the number of processes that map it; here one process maps the file, so Pss equals Rss. A second process mapping the same pages would halve it; pages only in the page cache count in neither.{}", figure(m, "mmap-file"))
    },
];

fn data(f: &Facts<'_>, variant: &str, label: &str, role: &str) -> Option<MemoryFigures> {
    f.region(variant, label, role, "data").cloned()
}

pub(super) const FORK_COW: &[Answer] = &[
    |f| {
        let m = (|| {
            let p = data(f, "thp-off", "after-fork", "parent")?;
            let c = data(f, "thp-off", "after-fork", "child")?;
            Some(format!(
                "parent Rss {}, child Rss {}, child Shared_Dirty {}",
                human_bytes(p.rss_bytes),
                human_bytes(c.rss_bytes),
                human_bytes(c.shared_dirty_bytes)
            ))
        })();
        format!("Rss counts the pages a process maps, not the pages it owns. fork copies the page tables, so the child maps every page the parent had, write-protected in both; the pages show as Shared_Dirty on both sides until one writes.{}", figure(m, "fork-cow"))
    },
    |f| {
        let m = (|| {
            let p = data(f, "thp-off", "after-fork", "parent")?;
            let e = data(f, "thp-off", "after-child-exit", "parent")?;
            Some(format!(
                "parent's region Pss {} of Rss {} after fork, {} after the child exited",
                human_bytes(p.pss_bytes),
                human_bytes(p.rss_bytes),
                human_bytes(e.pss_bytes)
            ))
        })();
        format!("A page mapped by two processes counts half in each one's Pss. When the child exits, the parent maps its pages alone again and its Pss returns to its Rss.{}", figure(m, "fork-cow"))
    },
    |f| {
        let m = (|| {
            let (anon, _) = fault_sum(f, "thp-off", "child", &["child-read-all"])?;
            let (file, _) = fault_sum(f, "file-private", "child", &["child-read-all"])?;
            Some(format!(
                "child's faults reading everything: anonymous {anon}, private file mapping {file}"
            ))
        })();
        format!("fork copies the page table entries of anonymous memory (it has no other copy), but for a private file mapping whose pages the parent never wrote it can leave them out: the pages are still in the page cache, and the child's first read faults them in, cheaply.{}", figure(m, "fork-cow"))
    },
    |f| {
        let m = (|| {
            let (minor, _) = fault_sum(f, "thp-off", "child", &["child-write-quarter"])?;
            let c = data(f, "thp-off", "child-write-quarter", "child")?;
            Some(format!(
                "{minor} faults; the child's region has Private_Dirty {} and Shared_Dirty {}",
                human_bytes(c.private_dirty_bytes),
                human_bytes(c.shared_dirty_bytes)
            ))
        })();
        format!("One fault per page written (4 KiB pages): each write hits a write-protected shared page and the kernel copies it. The copied pages move from Shared_Dirty to Private_Dirty in the writer, and the parent's copies become private to the parent.{}", figure(m, "fork-cow"))
    },
    |f| {
        let m = (|| {
            let (minor, _) = fault_sum(f, "thp-on", "child", &["child-write-quarter"])?;
            let c = data(f, "thp-on", "child-write-quarter", "child")?;
            let p = data(f, "thp-on", "after-fill", "parent")?;
            Some(format!(
                "{minor} faults writing the quarter; parent's AnonHugePages before fork {}, child's after writing {}",
                human_bytes(p.anon_huge_pages_bytes),
                human_bytes(c.anon_huge_pages_bytes)
            ))
        })();
        format!("Current kernels split a shared huge page at the copy-on-write fault and copy 4 KiB; the fault count (about one per 4 KiB page written) and AnonHugePages in smaps show it.{}", figure(m, "fork-cow"))
    },
    |f| {
        let m = (|| {
            let v = f.variant("zygote")?;
            let c = v.checkpoint("children-write-share")?;
            let kids: Vec<_> = c.processes.iter().filter(|p| p.role != "parent").collect();
            Some(format!(
                "{} children: Σ Rss {}, Σ Pss {}",
                kids.len(),
                human_bytes(kids.iter().map(|p| p.totals.rss_bytes).sum()),
                human_bytes(kids.iter().map(|p| p.totals.pss_bytes).sum())
            ))
        })();
        format!("Every child's Rss includes the pages all of them still share with the zygote, so the sum counts each shared page once per child; Σ Pss counts it once in all.{}", figure(m, "fork-cow"))
    },
];

pub(super) const ANATOMY: &[Answer] = &[
    |f| {
        let m = first_variant(f)
            .and_then(|v| v.binary.as_ref())
            .map(|b| format!("{} PT_LOAD segments in the file", b.load_segments.len()));
        format!("Each PT_LOAD segment becomes one mapping with its own permissions (read-only headers and data, executable text, writable data); the read-only part after relocation (RELRO) is split off the data segment by mprotect, and bss beyond the file gets an anonymous mapping.{}", figure(m, "anatomy"))
    },
    |_| {
        "The RELRO part of the writable data segment (.data.rel.ro, the GOT): the loader writes the relocations, then mprotects it read-only (r--p) so that it cannot be overwritten later.".to_string()
    },
    |_| {
        "glibc's malloc serves requests of M_MMAP_THRESHOLD (128 KiB by default) and more with their own anonymous mmap, not from the brk heap, so the 1 MiB block is an anonymous mapping of its own.".to_string()
    },
    |f| {
        let m = f.record.and_then(|r| {
            let p = r.variants.first()?.checkpoints.last()?.processes.first()?;
            let guards: Vec<_> = p
                .mappings
                .iter()
                .filter(|m| m.perms.starts_with("---"))
                .collect();
            Some(format!(
                "{} ---p mappings, Rss {}",
                guards.len(),
                human_bytes(guards.iter().map(|m| m.figures.rss_bytes).sum())
            ))
        });
        format!("Zero: a ---p region cannot be read or written, so no page of it is ever faulted in. It reserves address space (guard pages, gaps between a library's segments).{}", figure(m, "anatomy"))
    },
    |f| {
        let m = f.record.and_then(|r| {
            let p = r.variants.first()?.checkpoints.last()?.processes.first()?;
            let names: Vec<&str> = p
                .mappings
                .iter()
                .map(|m| m.name.as_str())
                .filter(|n| n.starts_with('['))
                .collect();
            Some(names.join(", "))
        });
        format!("[stack] and [heap] are anonymous memory the kernel set up; [vdso] is code the kernel maps so that calls like clock_gettime need no system call, and [vvar] the data it reads; [vsyscall] on x86-64 is the legacy fixed-address page, emulated through a trap on current kernels.{}", figure(m, "anatomy"))
    },
];

pub(super) const LAZY_ALLOC: &[Answer] = &[
    |f| {
        let m = (|| {
            let b = f.process("thp-off", "after-mmap", "main")?;
            let a = f.process("thp-off", "after-read-first-chunk", "main")?;
            Some(format!(
                "VmRSS {} while reading, VmPTE {}",
                delta(a.totals.rss_bytes, b.totals.rss_bytes),
                delta(a.totals.pte_bytes, b.totals.pte_bytes)
            ))
        })();
        format!("A read of untouched anonymous memory maps the shared zero page, read-only; no page is allocated and the zero page is not counted in the process's Rss.{}", figure(m, "lazy-alloc"))
    },
    |f| {
        let m = ["thp-off", "thp-on"]
            .iter()
            .filter_map(|v| {
                let b = f.process(v, "after-mmap", "main")?;
                let a = f.process(v, "after-read-first-chunk", "main")?;
                Some(format!(
                    "{v}: VmPTE {}",
                    delta(a.totals.pte_bytes, b.totals.pte_bytes)
                ))
            })
            .collect::<Vec<_>>();
        format!("Page tables: one entry per 4 KiB page read (8 bytes each, 2 MiB of page tables per GiB). With THP the kernel can map the huge zero page with one PMD entry per 2 MiB, and no page-table page below it.{}", figure((!m.is_empty()).then(|| m.join("; ")), "lazy-alloc"))
    },
    |_| {
        "Under mode 2 (strict accounting) a mapping that would take Committed_AS above CommitLimit (swap plus overcommit_ratio of RAM) is refused at mmap or brk time with ENOMEM, instead of the OOM killer acting later.".to_string()
    },
    |_| {
        "Mode 0's heuristic checks each request on its own against what could possibly be made free (RAM plus swap); it does not add requests up, so several smaller mappings pass where one larger one is refused.".to_string()
    },
    |f| {
        let m = f.process("thp-off", "after-mmap", "main").map(|p| {
            format!(
                "after mmap: VmSize {}, VmRSS {}",
                human_bytes(p.totals.vm_size_bytes),
                human_bytes(p.totals.rss_bytes)
            )
        });
        format!("VmSize against VmRSS for one process (a large gap is address space reserved but not used), and Committed_AS machine-wide for what has been promised; VmPTE grows only with pages touched.{}", figure(m, "lazy-alloc"))
    },
];

pub(super) const MANY_PROCESSES: &[Answer] = &[
    |f| {
        let m = f
            .variant("default")
            .and_then(|v| v.checkpoint("all-started"))
            .and_then(|c| c.population.as_ref())
            .filter(|p| p.count > 0)
            .map(|p| {
                let n = p.count as u64;
                format!(
                    "{} workers: Pss {} and VmPTE {} each on average",
                    p.count,
                    human_bytes(p.sum.pss_bytes / n),
                    human_bytes(p.sum.pte_bytes / n)
                )
            });
        format!("Its Pss (its share of the pages) plus the kernel's part: page tables, kernel stack and task structures, which no per-mapping figure includes; the machine-wide counters (PageTables, KernelStack, Slab) divided by the number of processes show them.{}", figure(m, "many-processes"))
    },
    |f| {
        let m = f
            .variant("default")
            .and_then(|v| v.checkpoint("all-started"))
            .and_then(|c| c.population.as_ref())
            .map(|p| {
                format!(
                    "Σ Rss {}, Σ Pss {}",
                    human_bytes(p.sum.rss_bytes),
                    human_bytes(p.sum.pss_bytes)
                )
            });
        format!("The workers share almost all their pages (program text, libraries, the parent's data after fork); each one's Rss counts them in full, Pss only its share.{}", figure(m, "many-processes"))
    },
    |_| {
        "Page tables have several levels, and even a few mappings spread over the address space (program, libraries, stack, vdso) each need their own lower-level table pages: every page of page table covers 2 MiB, and the mappings are far apart.".to_string()
    },
    |f| {
        let m = sum_at(f, "default", "all-started", |p| p.totals.pss_bytes).map(|(n, pss)| {
            format!(
                "Σ Pss of the {n} processes snapshotted in full: {}",
                human_bytes(pss)
            )
        });
        format!("Pss per process plus the kernel's per-process memory (page tables, kernel stack, slab), measured as the growth of MemAvailable-side counters when the processes start; Rss would overstate it many times.{}", figure(m, "many-processes"))
    },
];

/// The median wall nanoseconds per unit of a kind of the price list.
fn cost(f: &Facts<'_>, kind: &str) -> Option<f64> {
    f.record?
        .fault_costs
        .iter()
        .find(|c| c.kind == kind)
        .map(|c| c.nanos_per_unit.median)
}

/// The median wall nanoseconds per KiB of a kind of the price list.
fn cost_per_kib(f: &Facts<'_>, kind: &str) -> Option<f64> {
    f.record?
        .fault_costs
        .iter()
        .find(|c| c.kind == kind)
        .map(|c| c.nanos_per_kib.median)
}

pub(super) const FAULT_COSTS: &[Answer] = &[
    |f| {
        let m = (|| {
            Some(format!(
                "a THP fault {:.0} ns against {:.0} ns for a 4 KiB fault; per KiB {:.1} ns against {:.1} ns",
                cost(f, "thp-first-touch")?,
                cost(f, "anon-first-touch")?,
                cost_per_kib(f, "thp-first-touch")?,
                cost_per_kib(f, "anon-first-touch")?
            ))
        })();
        format!("A THP fault has to find 2 MiB of contiguous free memory and zero all of it, 512 times the work of zeroing one page; but it is one trap into the kernel, one page-table entry and one accounting step for those 512 pages, so per KiB it costs less.{}", figure(m, "fault-costs"))
    },
    |f| {
        let m = (|| {
            let c = f
                .record?
                .fault_costs
                .iter()
                .find(|c| c.kind == "file-minor-fault-around")?;
            Some(format!(
                "{:.0} ns per fault, each fault mapping {:.0} pages on average",
                c.nanos_per_unit.median,
                c.bytes as f64 / f.page_size.max(1) as f64 / c.units_per_repetition.max(1.0)
            ))
        })();
        format!("Each of those faults maps many cached pages at once (fault-around, up to 64 KiB, or a whole large folio), so the program takes one trap where it would have taken a dozen or more; per page mapped, it is much cheaper than one fault per page.{}", figure(m, "fault-costs"))
    },
    |f| {
        let m = (|| {
            let major = cost(f, "file-major-no-read-ahead")?;
            let minor = cost(f, "anon-first-touch")?;
            Some(format!(
                "a major fault without read-ahead {major:.0} ns, a first-touch minor fault {minor:.0} ns: about {:.0} minor faults",
                major / minor.max(1.0)
            ))
        })();
        format!("A major fault waits for the storage device, a minor one only for the CPU and memory: the ratio is set by the device (a virtual disk backed by a host's page cache is far faster than a spinning disk, where one major fault costs milliseconds).{}", figure(m, "fault-costs"))
    },
    |f| {
        let m = (|| {
            Some(format!(
                "fork {:.0} µs, a copy-on-write fault {:.0} ns against a first touch {:.0} ns",
                cost(f, "fork")? / 1000.0,
                cost(f, "cow-after-fork")?,
                cost(f, "anon-first-touch")?
            ))
        })();
        format!("fork copies page tables, not pages: its cost grows with the resident memory the page tables map (and with the number of mappings). The pages stay shared and write-protected, so the first write to each one afterwards faults and copies a page, which costs more than a first touch because the old page must be read as well.{}", figure(m, "fault-costs"))
    },
    |f| {
        let m = (|| {
            Some(format!(
                "reading an untouched page {:.0} ns, writing one {:.0} ns",
                cost(f, "zero-page-read")?,
                cost(f, "anon-first-touch")?
            ))
        })();
        format!("A read of never-written anonymous memory maps the shared zero page: no page is allocated or zeroed, only a page-table entry written. A write has to allocate a page and clear it first.{}", figure(m, "fault-costs"))
    },
];
