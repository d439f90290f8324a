//! The claims of anatomy, each with its criterion and its judge.

use super::super::kit::{Case, Finding, Judged, Observed};
use super::super::{human_bytes, Claim};
use super::map::{self, bounds, ProcessMap};
use crate::model::{MappingRecord, Verdict};

const SEED_001: &str = experiments::catalog::writing::CHODOROW;
const SEED_002: &str = experiments::catalog::writing::HOOGLAND;
const SEED_003: &str = experiments::catalog::writing::MARTIN;
/// Where x86-64 puts the legacy vsyscall page.
pub(super) const VSYSCALL_ADDRESS: u64 = 0xffff_ffff_ff60_0000;
/// The heap's and the stack's size in the seed's pmap: 132K each.
const SEED_BLOCK_BYTES: u64 = 132 * 1024;

const STACK: Claim = Claim {
    id: "stack-variable-lies-in-stack",
    source: SEED_001,
    statement: "A local variable's address lies in the mapping named [stack].",
    criterion: "the address of a local variable, reported by the process, lies inside the start-end range of the mapping named [stack]; exact",
};
const HEAP: Claim = Claim {
    id: "malloc-block-lies-in-heap",
    source: SEED_001,
    statement: "A small malloc'd block lies in the heap, the mapping named [heap].",
    criterion: "the address malloc(4) returned lies inside the mapping named [heap]; exact (where the 1 MiB block lies is shown, not judged: the seed says nothing of it)",
};
const CODE_AND_DATA: Claim = Claim {
    id: "code-and-statics-lie-in-the-executables-mappings",
    source: SEED_002,
    statement: "Code lies in the executable's r-xp mapping and initialised data in its rw-p mapping; zero-initialised data (.bss) follows it.",
    criterion: "a function's address lies in the executable's r-xp mapping, an initialised static's in its rw-p mapping, and a zeroed static's in that rw-p mapping or in the anonymous rw-p mapping that starts where the executable's last mapping ends; all three, exact",
};
const TWO_LINES: Claim = Claim {
    id: "executable-appears-as-two-mappings",
    source: SEED_002,
    statement: "The executable is mentioned twice in the map, once per load segment: the code (r-xp) and the data (rw-p); two is extremely common for executables.",
    criterion: "the executable's file appears in exactly two mappings, one r-xp and one rw-p; any other number refutes",
};
const ANON: Claim = Claim {
    id: "anonymous-mmap-is-an-unnamed-mapping",
    source: SEED_002,
    statement: "An anonymous mmap appears as a mapping with no file name.",
    criterion: "the address mmap(MAP_PRIVATE | MAP_ANONYMOUS) returned lies in a mapping with an empty name and perms rw-p; exact",
};
const SEGMENTS: Claim = Claim {
    id: "every-load-segment-becomes-a-mapping-with-its-permissions",
    source: SEED_002,
    statement: "Every PT_LOAD program header of the executable and of libc becomes a mapping of that file at the segment's file offset, with permissions from its flags (R E → r-xp, RW → rw-p).",
    criterion: "for every PT_LOAD segment of the executable and of libc (read from the files), a mapping of that file at the segment's page-rounded file offset exists whose permissions follow the flags (R → r, W → w, E → x; a RW page inside PT_GNU_RELRO may show r--p, the loader protects it after relocation); one unmatched segment refutes",
};
const GAPS: Claim = Claim {
    id: "no-access-regions-use-no-memory",
    source: SEED_003,
    statement: "The --- spans the loader leaves between a library's segments are completely inaccessible, reserved address space: they hold no memory.",
    criterion: "every ---p mapping lying within a hole between a mapped file's PT_LOAD segments (its program headers, at its load bias) has Rss 0; inconclusive when no mapped file has such a hole. Guard regions and regions protected after use are other objects, not judged: PROT_NONE removes access, not pages already there",
};
const PROTECTED: Claim = Claim {
    id: "no-access-regions-never-hold-memory",
    source: SEED_001,
    statement: "Regions shown with no permissions (-----, ---p) never take up any memory (the author's reply to a reader under the post).",
    criterion: "the 256 KiB region the process wrote in full and then gave PROT_NONE shows as ---p with Rss 0, the reply's 'never'; one resident page refutes; inconclusive if the region is not in the map or not ---p",
};
const DATA_WRITABLE: Claim = Claim {
    id: "data-segment-stays-writable",
    source: SEED_002,
    statement: "The data segment (GOT, .dynamic, .data, .bss) cannot be read-only, since what dynamic linking fills in is not known in advance.",
    criterion: "every mapping of a RW PT_LOAD segment of the executable and of libc (program headers at their load bias) is writable; one r--p mapping in it refutes",
};
const LIBRARY_LINES: Claim = Claim {
    id: "libraries-appear-as-three-or-four-mappings",
    source: SEED_002,
    statement:
        "A library appears as 3 or 4 lines of the map (the loader 3, libc 4 in the writing).",
    criterion:
        "the loader's and libc's file mappings each number 3 or 4 lines; any other count refutes",
};
const LOW_AND_HIGH: Claim = Claim {
    id: "program-low-libraries-high",
    source: SEED_003,
    statement: "The program's own file is mapped at a low address and its libraries at high addresses.",
    criterion: "every mapping of the executable starts below every mapping of another file; one library mapping below the program refutes",
};
const ADDRESS_SPACE: Claim = Claim {
    id: "address-space-is-almost-10-million-tb",
    source: SEED_001,
    statement: "A process can address almost 10 million terabytes (the writing's figure).",
    criterion: "the user address space, the smallest power of two at or above the end of the highest mapping other than [vsyscall] (the stack lies just under the top), within a factor of 2 of 10^19 bytes; outside refutes",
};
const LIBRARY_HOLES: Claim = Claim {
    id: "library-holes-are-protected-none",
    source: SEED_003,
    statement: "A shared object whose segments are not contiguous is loaded as one big block, and the loader makes the bits between its segments inaccessible (PROT_NONE, shown ---).",
    criterion: "for every mapped file whose PT_LOAD segments leave page-rounded holes between them (read from its program headers), each hole's address range at the file's load bias is wholly covered by ---p mappings; inconclusive when no mapped file has such holes",
};
const KERNEL: Claim = Claim {
    id: "kernel-maps-vdso-into-every-process",
    source: SEED_002,
    statement: "The kernel maps code of its own into every process, [vdso], so that some system calls (gettimeofday) can run in user space.",
    criterion: "the process has a mapping named [vdso] that is executable and not backed by a file (offset 0); its absence refutes",
};

const VSYSCALL: Claim = Claim {
    id: "vsyscall-page-is-kernel-code-at-a-fixed-address",
    source: SEED_002,
    statement: "Every x86-64 process also has [vsyscall], a page of kernel code at the fixed address ffffffffff600000, readable and executable (r-xp), for fast system calls.",
    criterion: "a mapping named [vsyscall] starts at 0xffffffffff600000 with perms r-xp; --xp (execute-only) or no such mapping refutes",
};
const SIZES: Claim = Claim {
    id: "heap-and-stack-start-at-132-kib",
    source: SEED_001,
    statement: "pmap shows the heap holding the malloc'd block as a 132K block, and the stack as another 132K block.",
    criterion: "the [heap] and [stack] mappings are each exactly 132 KiB (33 pages) long, as the seed's pmap shows them; any other size refutes (inconclusive if either mapping is missing)",
};

/// Every claim, in the order they are judged.
pub(super) static CLAIMS: [Claim; 16] = [
    STACK,
    HEAP,
    SIZES,
    CODE_AND_DATA,
    TWO_LINES,
    ANON,
    SEGMENTS,
    GAPS,
    PROTECTED,
    DATA_WRITABLE,
    LIBRARY_LINES,
    LOW_AND_HIGH,
    ADDRESS_SPACE,
    LIBRARY_HOLES,
    KERNEL,
    VSYSCALL,
];

const TWO_LINES_EXPECTED: &str = "current toolchains link with -z separate-code (binutils 2.31 on x86-64), which \
    gives the ELF headers and read-only data their own non-executable segments, and with RELRO, whose pages the \
    loader makes read-only after relocation: four or five lines per executable or library";
const DATA_WRITABLE_EXPECTED: &str = "with RELRO (the default of current toolchains) the loader makes the part of \
    the RW segment holding the GOT and .dynamic read-only once relocation is done, so it shows r--p: it is \
    written once, at load time, then protected against overwriting";
const VSYSCALL_EXPECTED: &str = "current x86-64 kernels default to vsyscall=xonly: the page holds no code a process \
    can read, and a call into it traps so the kernel emulates the system call; maps shows it --xp (vsyscall=none \
    removes it). The vDSO took over its job";

/// Each claim with its judge.
pub(super) static CASES: [Case; 16] = [
    (STACK, stack),
    (HEAP, heap),
    (SIZES, sizes),
    (CODE_AND_DATA, code_and_data),
    (TWO_LINES, two_lines),
    (ANON, anon),
    (SEGMENTS, segments),
    (GAPS, gaps),
    (PROTECTED, protected),
    (DATA_WRITABLE, data_writable),
    (LIBRARY_LINES, library_lines),
    (LOW_AND_HIGH, low_and_high),
    (ADDRESS_SPACE, address_space),
    (LIBRARY_HOLES, library_holes),
    (KERNEL, kernel),
    (VSYSCALL, vsyscall),
];

/// The mapping named `name`, if the process has one.
fn named<'a>(v: &Observed<'a>, name: &str) -> Option<&'a MappingRecord> {
    v.mappings().iter().find(|m| m.name == name)
}

fn stack(v: &Observed<'_>) -> Judged {
    v.main()?;
    let (_, m) = v
        .place(map::STACK_VARIABLE)
        .ok_or_else(|| v.placed_text(map::STACK_VARIABLE))?;
    Ok(Finding::new(
        m.name == "[stack]",
        v.placed_text(map::STACK_VARIABLE),
        format!("in {}", v.kind(m)),
    ))
}

fn heap(v: &Observed<'_>) -> Judged {
    v.main()?;
    let (_, small) = v
        .place(map::SMALL_MALLOC)
        .ok_or_else(|| v.placed_text(map::SMALL_MALLOC))?;
    Ok(Finding::new(
        small.name == "[heap]",
        format!(
            "{}; {} (glibc serves blocks above its mmap threshold, 128 KiB by default, with a mapping of their own)",
            v.placed_text(map::SMALL_MALLOC),
            v.placed_text(map::LARGE_MALLOC)
        ),
        format!("in {}", v.kind(small)),
    ))
}

fn sizes(v: &Observed<'_>) -> Judged {
    v.main()?;
    let (Some(heap), Some(stack)) = (named(v, "[heap]"), named(v, "[stack]")) else {
        return Err("precondition not met: the process has no [heap] or no [stack] mapping".into());
    };
    let (h, st) = (heap.figures.size_bytes, stack.figures.size_bytes);
    Ok(Finding::new(
        h == SEED_BLOCK_BYTES && st == SEED_BLOCK_BYTES,
        format!(
            "[heap] is {} and [stack] {}, against the seed's 132K each: glibc's first brk asks for the \
             request plus a 128 KiB top pad, and exec makes the stack the pages its arguments, environment \
             and auxiliary vector fill (one, when they fit in a page) plus 128 KiB below them",
            human_bytes(h),
            human_bytes(st)
        ),
        format!("heap {} KiB, stack {} KiB", h / 1024, st / 1024),
    ))
}

/// Whether `m` is the anonymous rw-p mapping that starts where the
/// executable's last file-backed mapping ends (the rest of .bss).
fn bss_after_executable(v: &Observed<'_>, m: &MappingRecord) -> bool {
    let Some(exe) = v.executable() else {
        return false;
    };
    let Some((start, _)) = bounds(m) else {
        return false;
    };
    m.name.is_empty()
        && m.perms == "rw-p"
        && v.mappings()
            .iter()
            .any(|e| e.name == exe && bounds(e).is_some_and(|(_, end)| end == start))
}

fn code_and_data(v: &Observed<'_>) -> Judged {
    v.main()?;
    let exe = v
        .executable()
        .ok_or("the executable's path was not reported")?;
    let (Some((_, code)), Some((_, data)), Some((_, bss))) = (
        v.place(map::FUNCTION),
        v.place(map::INITIALISED_STATIC),
        v.place(map::ZEROED_STATIC),
    ) else {
        return Err("an address was not found in any mapping".into());
    };
    let code_ok = code.name == exe && code.perms == "r-xp";
    let data_ok = data.name == exe && data.perms == "rw-p";
    let bss_ok = (bss.name == exe && bss.perms == "rw-p") || bss_after_executable(v, bss);
    let measured = format!(
        "code in {} {}, data in {} {}, bss in {} {}",
        v.kind(code),
        code.perms,
        v.kind(data),
        data.perms,
        v.kind(bss),
        bss.perms
    );
    Ok(Finding::new(
        code_ok && data_ok && bss_ok,
        format!(
            "{}; {}; {}{}",
            v.placed_text(map::FUNCTION),
            v.placed_text(map::INITIALISED_STATIC),
            v.placed_text(map::ZEROED_STATIC),
            if bss.name.is_empty() {
                " (the anonymous mapping right after the executable's rw-p line: .bss past the last file page)"
            } else {
                ""
            }
        ),
        measured,
    ))
}

fn two_lines(v: &Observed<'_>) -> Judged {
    v.main()?;
    let exe = v
        .executable()
        .ok_or("the executable's path was not reported")?;
    let lines: Vec<&MappingRecord> = v.mappings().iter().filter(|m| m.name == exe).collect();
    if lines.is_empty() {
        return Err("the executable was not found in the map".into());
    }
    let perms: Vec<&str> = lines.iter().map(|m| m.perms.as_str()).collect();
    let mut sorted = perms.clone();
    sorted.sort_unstable();
    let libraries: Vec<String> = v
        .mapped_files()
        .into_iter()
        .filter(|f| *f != exe)
        .map(|f| {
            let n = v.mappings().iter().filter(|m| m.name == f).count();
            format!("{} {n}", f.rsplit('/').next().unwrap_or(f))
        })
        .collect();
    Ok(Finding::new(
        sorted == ["r-xp", "rw-p"],
        format!(
            "the executable has {} lines in the map ({}); the other files: {}",
            lines.len(),
            perms.join(", "),
            libraries.join(", ")
        ),
        format!("{} lines", lines.len()),
    )
    .expecting(Verdict::Refuted, TWO_LINES_EXPECTED))
}

fn anon(v: &Observed<'_>) -> Judged {
    v.main()?;
    let (_, m) = v
        .place(map::ANONYMOUS_MMAP)
        .ok_or_else(|| v.placed_text(map::ANONYMOUS_MMAP))?;
    let mut evidence = v.placed_text(map::ANONYMOUS_MMAP);
    if m.figures.size_bytes > 64 * 1024 {
        evidence.push_str(&format!(
            " ({} for a 64 KiB request: the kernel merges adjacent anonymous mappings with the same \
             permissions into one line, here with the large malloc block's)",
            human_bytes(m.figures.size_bytes)
        ));
    }
    Ok(Finding::new(
        m.name.is_empty() && m.perms == "rw-p",
        evidence,
        format!("in {} {}", v.kind(m), m.perms),
    ))
}

fn segments(v: &Observed<'_>) -> Judged {
    v.main()?;
    let matches = v.matches();
    if matches.is_empty() {
        return Err("neither the executable nor libc was found in the map".into());
    }
    let mut holds = true;
    let mut parts = Vec::new();
    let (mut matched, mut total) = (0, 0);
    for (path, result) in &matches {
        let file = path.rsplit('/').next().unwrap_or(path);
        let segs = result.as_ref().map_err(|e| format!("{file}: {e}"))?;
        let ok = segs.iter().filter(|s| s.perms_ok && s.offsets_ok).count();
        let relro: usize = segs.iter().map(|s| s.relro_mappings).sum();
        holds &= ok == segs.len();
        matched += ok;
        total += segs.len();
        parts.push(format!(
            "{file}: {ok} of {} PT_LOAD segments found as mappings at their file offsets with the \
             expected permissions{}",
            segs.len(),
            if relro > 0 {
                format!(
                    " ({relro} mapping(s) inside PT_GNU_RELRO show r--p instead of rw-p: the loader \
                     makes relocated data read-only)"
                )
            } else {
                String::new()
            }
        ));
    }
    Ok(Finding::new(
        holds,
        parts.join("; "),
        format!("{matched} of {total} segments matched"),
    ))
}

fn gaps(v: &Observed<'_>) -> Judged {
    v.main()?;
    gaps_judged(v, &v.file_holes())
}

/// Whether the ---p mappings inside `holes` (file, start, end), the loader's
/// protected gaps, hold no resident page.
fn gaps_judged(v: &Observed<'_>, holes: &[(String, u64, u64)]) -> Judged {
    let in_hole = |m: &&MappingRecord| {
        bounds(m).is_some_and(|(s, e)| holes.iter().any(|(_, hs, he)| s >= *hs && e <= *he))
    };
    let gaps: Vec<&MappingRecord> = v
        .mappings()
        .iter()
        .filter(|m| m.perms.starts_with("---"))
        .filter(in_hole)
        .collect();
    if gaps.is_empty() {
        let others = v
            .mappings()
            .iter()
            .filter(|m| m.perms.starts_with("---"))
            .count();
        return Err(format!(
            "precondition not met: no ---p mapping lies between a library's segments (the {} mapped files \
             were linked with contiguous, page-aligned segments); the process's {others} other ---p \
             mapping(s) are guard regions, not what the writing describes",
            v.mapped_files().len()
        ));
    }
    let size: u64 = gaps.iter().map(|m| m.figures.size_bytes).sum();
    let rss: u64 = gaps.iter().map(|m| m.figures.rss_bytes).sum();
    let names: Vec<String> = gaps.iter().map(|m| v.describe(m)).collect();
    Ok(Finding::new(
        rss == 0,
        format!(
            "{} ---p mapping(s) between library segments, {} of address space, Rss {}: {}",
            gaps.len(),
            human_bytes(size),
            human_bytes(rss),
            names.join("; "),
        ),
        format!("{} ---p, Rss {} KiB", gaps.len(), rss / 1024),
    ))
}

fn protected(v: &Observed<'_>) -> Judged {
    v.main()?;
    let (_, m) = v
        .place(map::PROTECTED_AFTER_USE)
        .ok_or_else(|| v.placed_text(map::PROTECTED_AFTER_USE))?;
    if !m.perms.starts_with("---") {
        return Err(format!(
            "precondition not met: the region protected after use shows as {}, not ---p",
            m.perms
        ));
    }
    let page = v.page();
    Ok(Finding::new(
        m.figures.rss_bytes == 0,
        format!(
            "{}: a ---p mapping of {} with Rss {} ({} pages){}",
            v.placed_text(map::PROTECTED_AFTER_USE),
            human_bytes(m.figures.size_bytes),
            human_bytes(m.figures.rss_bytes),
            m.figures.rss_bytes / page.max(1),
            if m.figures.rss_bytes > 0 {
                ". PROT_NONE removes access, not pages: what was written before mprotect stays resident \
                 until it is unmapped or reclaimed. Only ---p regions never touched (the loader's holes, \
                 guard pages) hold no memory"
            } else {
                ""
            }
        ),
        format!("---p Rss {} KiB", m.figures.rss_bytes / 1024),
    )
    .expecting(
        Verdict::Refuted,
        "mprotect(PROT_NONE) changes access, not residency: pages written before it stay resident \
         under ---p until the region is unmapped or reclaimed",
    ))
}

fn data_writable(v: &Observed<'_>) -> Judged {
    v.main()?;
    let mut rows = Vec::new();
    let mut read_only = 0;
    for (file, matched) in v.matches() {
        let Ok(matched) = matched else { continue };
        for m in matched.iter().filter(|m| m.segment.flags.contains('W')) {
            let ro = m.mappings.iter().filter(|x| !x.perms.contains('w')).count();
            read_only += ro;
            let perms: Vec<&str> = m.mappings.iter().map(|x| x.perms.as_str()).collect();
            rows.push(format!(
                "{}: RW segment {} as {}",
                file.rsplit('/').next().unwrap_or(&file),
                m.index,
                perms.join(" + ")
            ));
        }
    }
    if rows.is_empty() {
        return Err("no RW segment of the executable or libc was matched to the map".into());
    }
    Ok(Finding::new(
        read_only == 0,
        format!(
            "{}; {read_only} mapping(s) of them read-only",
            rows.join("; ")
        ),
        format!("{read_only} read-only"),
    )
    .expecting(Verdict::Refuted, DATA_WRITABLE_EXPECTED))
}

/// The loader's file: the mapped file named ld-linux* or ld-*.so.
fn loader<'a>(v: &Observed<'a>) -> Option<&'a str> {
    v.mapped_files().into_iter().find(|f| {
        let name = f.rsplit('/').next().unwrap_or("");
        name.starts_with("ld-linux") || (name.starts_with("ld-") && name.contains(".so"))
    })
}

fn library_lines(v: &Observed<'_>) -> Judged {
    v.main()?;
    let (Some(ld), Some(libc)) = (loader(v), v.libc()) else {
        return Err(
            "precondition not met: the loader or libc is not mapped (a static program)".into(),
        );
    };
    let count = |f: &str| v.mappings().iter().filter(|m| m.name == f).count();
    let perms = |f: &str| {
        v.mappings()
            .iter()
            .filter(|m| m.name == f)
            .map(|m| m.perms.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (n_ld, n_libc) = (count(ld), count(libc));
    Ok(Finding::new(
        (3..=4).contains(&n_ld) && (3..=4).contains(&n_libc),
        format!(
            "the loader has {n_ld} lines ({}), libc {n_libc} ({})",
            perms(ld),
            perms(libc)
        ),
        format!("loader {n_ld}, libc {n_libc} lines"),
    )
    .expecting(Verdict::Refuted, TWO_LINES_EXPECTED))
}

fn low_and_high(v: &Observed<'_>) -> Judged {
    v.main()?;
    let exe = v
        .executable()
        .ok_or("the executable's path was not reported")?;
    let start = |m: &MappingRecord| bounds(m).map(|(s, _)| s);
    let program_top = v
        .mappings()
        .iter()
        .filter(|m| m.name == exe)
        .filter_map(start)
        .max()
        .ok_or("the executable was not found in the map")?;
    let lowest_library = v
        .mappings()
        .iter()
        .filter(|m| m.name.starts_with('/') && m.name != exe)
        .filter_map(|m| Some((start(m)?, m)))
        .min_by_key(|(s, _)| *s)
        .ok_or("precondition not met: no library is mapped (a static program)")?;
    Ok(Finding::new(
        program_top < lowest_library.0,
        format!(
            "the executable's mappings start at most at {program_top:#x}; the lowest library mapping \
             is {} at {:#x}",
            v.describe(lowest_library.1),
            lowest_library.0
        ),
        format!("program {program_top:#x}, libraries from {:#x}", lowest_library.0),
    ))
}

/// The writing's "almost 10 million terabytes", in bytes.
const SEED_ADDRESS_SPACE_BYTES: f64 = 1e19;

fn address_space(v: &Observed<'_>) -> Judged {
    v.main()?;
    let top = v
        .mappings()
        .iter()
        .filter(|m| m.name != "[vsyscall]")
        .filter_map(|m| bounds(m).map(|(_, e)| e))
        .max()
        .ok_or("no mapping was measured")?;
    let space = top.checked_next_power_of_two().unwrap_or(u64::MAX);
    let ratio = space as f64 / SEED_ADDRESS_SPACE_BYTES;
    let tib = space as f64 / (1u64 << 40) as f64;
    Ok(Finding::new(
        (0.5..=2.0).contains(&ratio),
        format!(
            "the highest mapping ends at {top:#x}, so the user address space is {} bits: {tib:.0} TiB, \
             {ratio:.1e} of the writing's 10 million TB. The writing read the canonical top \
             0x00007fffffffffff with extra digits; x86-64 gives a process 47 bits with four-level page \
             tables, 56 with five",
            space.trailing_zeros()
        ),
        format!("{tib:.0} TiB"),
    )
    .expecting(
        Verdict::Refuted,
        "x86-64 gives a process 47 bits of address space (128 TiB) with four-level page tables and 56 \
         (64 PiB) with five; the writing's figure corresponds to 63 bits",
    ))
}

fn library_holes(v: &Observed<'_>) -> Judged {
    v.main()?;
    holes_judged(v, &v.file_holes())
}

/// Whether every one of `holes` (file, start, end) is wholly covered by ---p
/// mappings.
fn holes_judged(v: &Observed<'_>, holes: &[(String, u64, u64)]) -> Judged {
    if holes.is_empty() {
        return Err(format!(
            "precondition not met: none of the {} mapped files has holes between its segments (they \
             were linked with page-aligned, contiguous segments), so the loader had nothing to protect",
            v.mapped_files().len()
        ));
    }
    let mut checked = Vec::new();
    let mut covered = 0;
    for (file, start, end) in holes {
        let protected: u64 = v
            .mappings()
            .iter()
            .filter(|m| m.perms == "---p")
            .filter_map(bounds)
            .map(|(s, e)| e.min(*end).saturating_sub(s.max(*start)))
            .sum();
        covered += usize::from(protected == end - start);
        checked.push(format!(
            "{file}: hole {start:#x}-{end:#x} ({}), {} of it ---p",
            human_bytes(end - start),
            human_bytes(protected)
        ));
    }
    Ok(Finding::new(
        covered == holes.len(),
        checked.join("; "),
        format!("{covered} of {} holes ---p", holes.len()),
    ))
}

fn kernel(v: &Observed<'_>) -> Judged {
    v.main()?;
    let Some(vdso) = named(v, "[vdso]") else {
        return Ok(Finding::new(
            false,
            "no [vdso] mapping in this process",
            "no [vdso]",
        ));
    };
    Ok(Finding::new(
        vdso.perms.contains('x') && vdso.offset_bytes == 0,
        v.describe(vdso),
        format!("[vdso] {}", vdso.perms),
    ))
}

fn vsyscall(v: &Observed<'_>) -> Judged {
    v.main()?;
    let finding = match named(v, "[vsyscall]") {
        None => Finding::new(
            false,
            "no [vsyscall] mapping: the kernel runs with vsyscall=none",
            "no [vsyscall]",
        ),
        Some(m) => {
            let at_fixed = m.start.0 == VSYSCALL_ADDRESS;
            Finding::new(
                at_fixed && m.perms == "r-xp",
                format!(
                    "{}{}",
                    v.describe(m),
                    if m.perms.starts_with("--x") {
                        ": execute-only, so nothing there can be read; a call traps and the kernel emulates it"
                    } else {
                        ""
                    }
                ),
                format!("[vsyscall] {}", m.perms),
            )
        }
    };
    Ok(finding.expecting(Verdict::Refuted, VSYSCALL_EXPECTED))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use experiments::catalog::anatomy::{checkpoint, note, role, variant};
    use experiments::note::{Hex, Note};

    use super::*;
    use crate::experiment::programs::fixtures::{self, mapping, PAGE};
    use crate::model::VariantRecord;

    const EXE: &str = "/bin/anatomy";

    /// The mappings of a typical process, by page number.
    fn maps() -> Vec<MappingRecord> {
        vec![
            mapping(0x100, 1, EXE, "r--p", 1),
            mapping(0x101, 4, EXE, "r-xp", 4),
            mapping(0x105, 1, EXE, "r--p", 1),
            mapping(0x106, 1, EXE, "rw-p", 1),
            mapping(0x107, 1, "", "rw-p", 1),
            mapping(0x200, 33, "[heap]", "rw-p", 1),
            mapping(0x7000, 16, "", "rw-p", 0),
            mapping(0x7010, 1, "", "---p", 0),
            mapping(0x7100, 2, "[vdso]", "r-xp", 2),
            mapping(0x7ff00, 33, "[stack]", "rw-p", 2),
            mapping(VSYSCALL_ADDRESS / PAGE, 1, "[vsyscall]", "--xp", 0),
        ]
    }

    /// Where each piece lies, as page numbers (the address is 16 bytes in).
    const PLACES: [(Note<Hex>, u64); 7] = [
        (note::ADDRESS_STACK_VARIABLE, 0x7ff20),
        (note::ADDRESS_SMALL_MALLOC, 0x200),
        (note::ADDRESS_LARGE_MALLOC, 0x7000),
        (note::ADDRESS_FUNCTION, 0x102),
        (note::ADDRESS_INITIALISED_STATIC, 0x106),
        (note::ADDRESS_ZEROED_STATIC, 0x107),
        (note::ADDRESS_ANONYMOUS_MMAP, 0x7008),
    ];

    fn variant_with(mappings: Vec<MappingRecord>, places: &[(Note<Hex>, u64)]) -> VariantRecord {
        let process = fixtures::process(role::MAIN, mappings);
        let mut v = fixtures::variant(
            variant::DEFAULT,
            vec![fixtures::checkpoint(
                checkpoint::ADDRESSES_REPORTED,
                vec![process],
            )],
        );
        v.notes.insert(note::EXECUTABLE.key().into(), EXE.into());
        for (key, page) in places {
            v.notes
                .insert(key.key().into(), key.format(&Hex(page * PAGE + 16)));
        }
        v
    }

    fn verdicts(
        mappings: Vec<MappingRecord>,
        places: &[(Note<Hex>, u64)],
    ) -> BTreeMap<&'static str, Verdict> {
        let variant = variant_with(mappings, places);
        let env = fixtures::env();
        let v = Observed {
            variant: &variant,
            env: &env,
        };
        // Every judge but the segments', which reads the files themselves.
        CASES
            .iter()
            .filter(|(claim, _)| claim.id != SEGMENTS.id)
            .map(|(claim, judge)| v.verdict(claim, judge(&v)))
            .map(|c| {
                assert!(
                    c.verdict == Verdict::Inconclusive || !c.measured.is_empty(),
                    "{}",
                    c.id
                );
                let id = CLAIMS.iter().find(|k| k.id == c.id).expect("declared").id;
                (id, c.verdict)
            })
            .collect()
    }

    fn moved(piece: Note<Hex>, page: u64) -> Vec<(Note<Hex>, u64)> {
        PLACES
            .iter()
            .map(|&(p, at)| (p, if p.key() == piece.key() { page } else { at }))
            .collect()
    }

    #[test]
    fn a_typical_process_confirms_the_seeds_map_except_vsyscall() {
        let v = verdicts(maps(), &PLACES);
        for claim in [STACK, HEAP, SIZES, CODE_AND_DATA, ANON, KERNEL] {
            assert_eq!(v[claim.id], Verdict::Confirmed, "{}", claim.id);
        }
        // Its one ---p mapping is no library's hole, and no region was
        // protected after use: neither ---p claim has its object.
        assert_eq!(v[GAPS.id], Verdict::Inconclusive);
        assert_eq!(v[PROTECTED.id], Verdict::Inconclusive);
        // Four lines for the executable, as current toolchains link it.
        assert_eq!(v[TWO_LINES.id], Verdict::Refuted);
        assert_eq!(v[VSYSCALL.id], Verdict::Refuted);
    }

    #[test]
    fn pieces_in_the_wrong_mapping_refute() {
        assert_eq!(
            verdicts(maps(), &moved(note::ADDRESS_STACK_VARIABLE, 0x200))[STACK.id],
            Verdict::Refuted
        );
        assert_eq!(
            verdicts(maps(), &moved(note::ADDRESS_SMALL_MALLOC, 0x7000))[HEAP.id],
            Verdict::Refuted
        );
        assert_eq!(
            verdicts(maps(), &moved(note::ADDRESS_FUNCTION, 0x105))[CODE_AND_DATA.id],
            Verdict::Refuted
        );
        assert_eq!(
            verdicts(maps(), &moved(note::ADDRESS_ZEROED_STATIC, 0x7000))[CODE_AND_DATA.id],
            Verdict::Refuted
        );
        assert_eq!(
            verdicts(maps(), &moved(note::ADDRESS_ANONYMOUS_MMAP, 0x200))[ANON.id],
            Verdict::Refuted
        );
        // An address in no mapping at all: no judgement.
        assert_eq!(
            verdicts(maps(), &moved(note::ADDRESS_STACK_VARIABLE, 0x9000))[STACK.id],
            Verdict::Inconclusive
        );
    }

    #[test]
    fn an_executable_of_two_lines_code_and_data_confirms() {
        let mut m = maps();
        m.drain(0..3);
        m.insert(0, mapping(0x101, 4, EXE, "r-xp", 4));
        let places = moved(note::ADDRESS_FUNCTION, 0x102);
        assert_eq!(
            verdicts(m.clone(), &places)[TWO_LINES.id],
            Verdict::Confirmed
        );
        m[1].perms = "r--p".into();
        assert_eq!(verdicts(m, &places)[TWO_LINES.id], Verdict::Refuted);
    }

    #[test]
    fn heap_and_stack_must_be_exactly_132_kib() {
        let mut m = maps();
        m[5] = mapping(0x200, 34, "[heap]", "rw-p", 1);
        assert_eq!(verdicts(m, &PLACES)[SIZES.id], Verdict::Refuted);
        let mut m = maps();
        m[9] = mapping(0x7ff00, 32, "[stack]", "rw-p", 2);
        assert_eq!(verdicts(m, &PLACES)[SIZES.id], Verdict::Refuted);
        let mut m = maps();
        m.remove(5);
        assert_eq!(verdicts(m, &PLACES)[SIZES.id], Verdict::Inconclusive);
    }

    #[test]
    fn a_resident_page_in_a_librarys_hole_refutes_and_a_guard_region_is_not_judged() {
        let env = fixtures::env();
        let judge = |mappings: Vec<MappingRecord>, holes: &[(String, u64, u64)]| {
            let variant = variant_with(mappings, &PLACES);
            let v = Observed {
                variant: &variant,
                env: &env,
            };
            v.verdict(&GAPS, gaps_judged(&v, holes)).verdict
        };
        let hole = [("libx.so".to_string(), 0x7010 * PAGE, 0x7011 * PAGE)];
        let mut m = maps();
        m[7] = mapping(0x7010, 1, "libx.so", "---p", 0);
        assert_eq!(judge(m.clone(), &hole), Verdict::Confirmed);
        m[7] = mapping(0x7010, 1, "libx.so", "---p", 1);
        assert_eq!(judge(m.clone(), &hole), Verdict::Refuted);
        // The same resident ---p page outside any library's hole (a region
        // protected after use, a guard page) is not the writing's object.
        assert_eq!(judge(m, &[]), Verdict::Inconclusive);
    }

    #[test]
    fn a_region_protected_after_use_must_hold_no_page_to_confirm_never() {
        let mut places = PLACES.to_vec();
        places.push((note::ADDRESS_PROTECTED_AFTER_USE, 0x7020));
        for (rss, verdict) in [(0, Verdict::Confirmed), (64, Verdict::Refuted)] {
            let mut m = maps();
            m.push(mapping(0x7020, 64, "", "---p", rss));
            assert_eq!(verdicts(m, &places)[PROTECTED.id], verdict, "Rss {rss}");
        }
        // Still accessible: not the object of the claim.
        let mut m = maps();
        m.push(mapping(0x7020, 64, "", "rw-p", 64));
        assert_eq!(verdicts(m, &places)[PROTECTED.id], Verdict::Inconclusive);
    }

    #[test]
    fn libraries_must_lie_above_the_program_and_have_three_or_four_lines() {
        const LD: &str = "/lib64/ld-linux-x86-64.so.2";
        const LIBC: &str = "/lib/libc.so.6";
        let with_libs = |at: u64, ld_lines: u64| {
            let mut m = maps();
            for i in 0..ld_lines {
                m.push(mapping(at + i, 1, LD, "r--p", 1));
            }
            for i in 0..4 {
                m.push(mapping(at + 0x10 + i, 1, LIBC, "r--p", 1));
            }
            m.sort_by_key(|x| map::bounds(x).map(|(s, _)| s));
            verdicts(m, &PLACES)
        };
        let v = with_libs(0x6000, 3);
        assert_eq!(v[LOW_AND_HIGH.id], Verdict::Confirmed);
        assert_eq!(v[LIBRARY_LINES.id], Verdict::Confirmed);
        let v = with_libs(0x50, 5);
        assert_eq!(v[LOW_AND_HIGH.id], Verdict::Refuted);
        assert_eq!(v[LIBRARY_LINES.id], Verdict::Refuted);
        let v = verdicts(maps(), &PLACES);
        assert_eq!(v[LOW_AND_HIGH.id], Verdict::Inconclusive);
        assert_eq!(v[LIBRARY_LINES.id], Verdict::Inconclusive);
    }

    #[test]
    fn the_address_space_is_judged_against_ten_million_terabytes() {
        // The fixture's stack ends near 2 GiB: far below the writing's figure.
        assert_eq!(
            verdicts(maps(), &PLACES)[ADDRESS_SPACE.id],
            Verdict::Refuted
        );
        // A mapping ending just above 2^62: a 2^63-byte space, 0.9 of it.
        let mut m = maps();
        m.insert(10, mapping((1 << 62) / PAGE, 1, "", "rw-p", 0));
        assert_eq!(verdicts(m, &PLACES)[ADDRESS_SPACE.id], Verdict::Confirmed);
    }

    #[test]
    fn every_hole_between_a_librarys_segments_must_be_no_access() {
        let env = fixtures::env();
        let judge = |mappings: Vec<MappingRecord>, holes: &[(String, u64, u64)]| {
            let variant = variant_with(mappings, &PLACES);
            let v = Observed {
                variant: &variant,
                env: &env,
            };
            v.verdict(&LIBRARY_HOLES, holes_judged(&v, holes)).verdict
        };
        let hole = [("libx.so".to_string(), 0x7010 * PAGE, 0x7011 * PAGE)];
        assert_eq!(judge(maps(), &hole), Verdict::Confirmed);
        // One page of the hole left accessible.
        let wider = [("libx.so".to_string(), 0x7010 * PAGE, 0x7012 * PAGE)];
        assert_eq!(judge(maps(), &wider), Verdict::Refuted);
        // No file with holes: nothing to judge.
        assert_eq!(judge(maps(), &[]), Verdict::Inconclusive);
    }

    #[test]
    fn vdso_must_be_there_and_vsyscall_readable_at_its_fixed_address() {
        let mut m = maps();
        m.remove(8);
        assert_eq!(verdicts(m, &PLACES)[KERNEL.id], Verdict::Refuted);
        let mut m = maps();
        m[10].perms = "r-xp".into();
        assert_eq!(verdicts(m, &PLACES)[VSYSCALL.id], Verdict::Confirmed);
        let mut m = maps();
        m[10] = mapping(VSYSCALL_ADDRESS / PAGE + 1, 1, "[vsyscall]", "r-xp", 0);
        assert_eq!(verdicts(m, &PLACES)[VSYSCALL.id], Verdict::Refuted);
        let mut m = maps();
        m.remove(10);
        assert_eq!(verdicts(m, &PLACES)[VSYSCALL.id], Verdict::Refuted);
    }
}
