//! The answers themselves, one list per experiment in the order of its
//! questions (`Explanation::questions`); a test checks the counts agree.

use super::{bytes_and_pages, figure, Answer, Facts};
use crate::units::human_bytes;

fn delta(after: u64, before: u64) -> String {
    crate::units::signed_bytes(after as i64 - before as i64)
}

fn fault_sum(f: &Facts<'_>, variant: &str, role: &str, labels: &[&str]) -> Option<(u64, u64)> {
    labels.iter().try_fold((0, 0), |(min, maj), label| {
        let p = f.process(variant, label, role)?;
        Some((min + p.faults.minor, maj + p.faults.major))
    })
}

fn first_variant<'a>(f: &'a Facts<'_>) -> Option<&'a crate::model::VariantRecord> {
    f.record?.variants.first()
}

pub(super) const TINY_MALLOC: &[Answer] = &[
    |f| {
        let m = f.process("minimal", "after-mallocs", "program").map(|p| {
            format!(
                "{} mappings, VmRSS {}",
                p.mappings.len(),
                bytes_and_pages(f, p.totals.rss_bytes)
            )
        });
        format!("The program's text (r-xp), its read-only data, the writable data and bss, the stack, and the kernel's vdso/vvar pages. Text and bss need different permissions, and permissions are set per page, so they cannot share one page.{}", figure(m, "tiny-malloc"))
    },
    |f| {
        let m = f.process("static", "after-mallocs", "program").map(|p| {
            format!(
                "static build VmRSS {}",
                bytes_and_pages(f, p.totals.rss_bytes)
            )
        });
        format!("glibc's start-up runs a lot of code before main (locale, stdio, TLS set-up, IRELATIVE relocations) and that touches pages of text and data; fault-around then maps the cached neighbours of every page touched.{}", figure(m, "tiny-malloc"))
    },
    |f| {
        let m = (|| {
            let b = f.process("dynamic", "before-mallocs", "program")?;
            let a = f.process("dynamic", "after-mallocs", "program")?;
            let (minor, _) = fault_sum(f, "dynamic", "program", &["after-mallocs"])?;
            Some(format!(
                "dynamic build: VmRSS {}, {minor} minor faults",
                delta(a.totals.rss_bytes, b.totals.rss_bytes)
            ))
        })();
        format!("Small mallocs come from the heap (brk) in glibc: the first one sets the heap up and touches one or two pages, the rest fit in them; only large requests (128 KiB by default) get their own anonymous mmap.{}", figure(m, "tiny-malloc"))
    },
    |f| {
        let m = f
            .process("minimal", "after-mallocs", "program")
            .and_then(|p| {
                let stack = p.mappings.iter().find(|m| m.name == "[stack]")?;
                Some(format!(
                    "VmStk {}, [stack] Rss {}",
                    human_bytes(p.totals.stack_bytes),
                    human_bytes(stack.figures.rss_bytes)
                ))
            });
        format!("VmStk is the size of the stack mapping (it grows on demand); the stack's Rss is the part of it that has been touched and is resident.{}", figure(m, "tiny-malloc"))
    },
    |f| {
        let m = f
            .process("minimal", "after-mallocs", "program")
            .map(|p| format!("VmPTE {}", human_bytes(p.totals.pte_bytes)));
        format!("The kernel's own memory for the process: page tables (VmPTE in status shows them), the kernel stack, and the task and VMA structures in slab; /proc/meminfo's KernelStack, PageTables and Slab count them machine-wide.{}", figure(m, "tiny-malloc"))
    },
];

pub(super) const STATIC_DYNAMIC: &[Answer] = &[
    |f| {
        let m = ["static-prefork", "dynamic-prefork"]
            .iter()
            .filter_map(|v| {
                let (n, rss, pss) = f.sums_at_end(v)?;
                Some(format!(
                    "{v}, {n} instances: Σ Rss {}, Σ Pss {}",
                    human_bytes(rss),
                    human_bytes(pss)
                ))
            })
            .collect::<Vec<_>>();
        format!("Every instance's Rss counts the pages all instances share (program text, libraries, and after fork the parent's data) in full; Pss divides each shared page among its sharers, so Σ Pss counts it once.{}", figure((!m.is_empty()).then(|| m.join("; ")), "static-dynamic"))
    },
    |f| {
        let m = ["static-prefork", "static-exec"]
            .iter()
            .filter_map(|v| {
                let p = f.process(v, "n-8", "instance-1")?;
                Some(format!("{v} instance-1: {} minor faults", p.faults.minor))
            })
            .collect::<Vec<_>>();
        format!("A forked child copies nothing at first: it shares every page, and only the pages it then writes are copied (a fault each). An exec'd instance starts from an empty address space and faults in the pages it uses again, from the page cache, which it still shares with the others.{}", figure((!m.is_empty()).then(|| m.join("; ")), "static-dynamic"))
    },
    |f| {
        let m = f.process("dynamic-exec", "n-1", "instance-0").map(|p| {
            let dirty: u64 = p
                .mappings
                .iter()
                .filter(|m| m.name.contains("libc"))
                .map(|m| m.figures.private_dirty_bytes)
                .sum();
            format!(
                "dynamic instance-0: Private_Dirty in libc's mappings {}",
                human_bytes(dirty)
            )
        });
        format!("The dynamic loader writes into each library's data: relocations (the GOT), and the RELRO area it then makes read-only. Those written pages are private copies in every process. A static program has its relocations resolved at link time, so there is nothing to write.{}", figure(m, "static-dynamic"))
    },
    |f| {
        let m = f
            .process("static-exec", "n-1", "instance-0")
            .map(|p| format!("VmPTE of one instance {}", human_bytes(p.totals.pte_bytes)));
        format!("Kernel memory: page tables (VmPTE), the kernel stack, and the task, mm and VMA structures in slab. /proc/meminfo's PageTables, KernelStack and Slab count them machine-wide.{}", figure(m, "static-dynamic"))
    },
];

pub(super) const STRIP: &[Answer] = &[
    |f| {
        let m = (|| {
            let d = f.variant("debug")?.binary.as_ref()?;
            let s = f.variant("stripped")?.binary.as_ref()?;
            Some(format!(
                "file {} with debug information, {} stripped; PT_LOAD segments {} and {}",
                human_bytes(d.file_bytes),
                human_bytes(s.file_bytes),
                d.load_segments.len(),
                s.load_segments.len()
            ))
        })();
        format!("strip removes the symbol table (.symtab, .strtab) and the .debug_* sections. None of them has the SHF_ALLOC flag, so no PT_LOAD segment covers them: the loader never maps them.{}", figure(m, "strip"))
    },
    |f| {
        let m = ["debug", "stripped"]
            .iter()
            .filter_map(|v| {
                let p = f.process(v, "after-work", "program")?;
                Some(format!("{v}: VmRSS {}", human_bytes(p.totals.rss_bytes)))
            })
            .collect::<Vec<_>>();
        format!("Only the PT_LOAD segments are mapped, and they are the same in both files; the pages resident are the ones the program touched, so the debug information's size does not matter.{}", figure((!m.is_empty()).then(|| m.join("; ")), "strip"))
    },
    |_| {
        "When a debugger, a profiler or a crash reporter reads the debug sections from the file (for a backtrace with line numbers): then they pass through the page cache, and through the reader's memory, not the program's.".to_string()
    },
    |f| {
        let m = f
            .record
            .map(|r| {
                r.claims
                    .iter()
                    .filter(|c| {
                        c.id == "file-pages-come-in-one-at-a-time" && !c.measured.is_empty()
                    })
                    .map(|c| format!("{}: {}", c.variant.as_deref().unwrap_or("all"), c.measured))
                    .collect::<Vec<_>>()
            })
            .filter(|m| !m.is_empty());
        format!("More than one: the program's file is in the page cache, and on a fault the kernel also maps the cached pages around the one asked for (fault-around, 64 KiB by default), so each fault brings in up to 16 pages of text or read-only data.{}", figure(m.map(|m| m.join("; ")), "strip"))
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
