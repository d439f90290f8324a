//! What the five writings say that a machine can check, one entry per
//! statement, and which claims judge each one.
//!
//! The claims (in the harness, per experiment) are checks: one statement may be
//! judged by several claims, in several variants, and one claim may bear on
//! statements of two writings. The tally a run ends with counts these
//! statements, so that a statement judged ten times counts once, and vmlab's
//! own checks ([`VMLAB_OWN`]) count for no writing. Every statement is either
//! judged by claims, or says why it cannot be judged on one Linux machine, or
//! says what vmlab would need to build to judge it.
//!
//! Paraphrases are vmlab's words; the writings are cited by their seed file
//! (see [`crate::catalog::SOURCES`]).

/// One claim of one experiment, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRef {
    /// The experiment's name ([`crate::catalog::ExperimentInfo::name`]).
    pub experiment: &'static str,
    /// The claim's id within it.
    pub claim: &'static str,
}

/// How a statement is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judging {
    /// By these claims (every variant they are judged in).
    Claims(&'static [ClaimRef]),
    /// Not on one machine running Linux, and why (another OS, a 32-bit
    /// process, a question rather than a statement of fact).
    NotHere(&'static str),
    /// It could be judged here, but no experiment measures it yet: what it
    /// needs.
    NoClaimYet(&'static str),
}

/// One checkable statement of a writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement {
    /// `<writing>.<kebab-case>`, stable across versions.
    pub id: &'static str,
    /// The seed file of the writing.
    pub source: &'static str,
    /// What the writing says, in vmlab's words.
    pub paraphrase: &'static str,
    /// The claims that judge it, or why none does.
    pub judging: Judging,
}

/// The writing a statement id's prefix names, with its seed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writing {
    /// The prefix of its statements' ids.
    pub key: &'static str,
    /// Its seed file.
    pub source: &'static str,
    /// A short name for one-line tallies.
    pub short: &'static str,
}

const KOHNTOPP: &str = crate::catalog::writing::KOHNTOPP;
const CHODOROW: &str = crate::catalog::writing::CHODOROW;
const HOOGLAND: &str = crate::catalog::writing::HOOGLAND;
const MARTIN: &str = crate::catalog::writing::MARTIN;
const BERNSTEIN: &str = crate::catalog::writing::BERNSTEIN;

/// The five writings, in seed order.
pub const WRITINGS: &[Writing] = &[
    Writing {
        key: "kohntopp",
        source: KOHNTOPP,
        short: "Köhntopp",
    },
    Writing {
        key: "chodorow",
        source: CHODOROW,
        short: "Chodorow",
    },
    Writing {
        key: "hoogland",
        source: HOOGLAND,
        short: "Hoogland",
    },
    Writing {
        key: "martin",
        source: MARTIN,
        short: "Martin",
    },
    Writing {
        key: "bernstein",
        source: BERNSTEIN,
        short: "Bernstein/Roberson",
    },
];

/// The writing a statement belongs to.
pub fn writing_of(statement: &Statement) -> Option<&'static Writing> {
    WRITINGS.iter().find(|w| w.source == statement.source)
}

const fn c(experiment: &'static str, claim: &'static str) -> ClaimRef {
    ClaimRef { experiment, claim }
}

/// Claims that judge no writing's statement: checks vmlab adds to explain a
/// mechanism (the zero page, commit accounting, the other overcommit modes,
/// read-ahead switched off) or to cost what a writing only names.
pub const VMLAB_OWN: &[ClaimRef] = &[
    c("lazy-alloc", "anonymous-mmap-is-committed-at-once"),
    c("lazy-alloc", "reading-untouched-memory-uses-no-memory"),
    c("lazy-alloc", "reading-untouched-memory-costs-page-tables"),
    c(
        "lazy-alloc",
        "munmap-returns-address-space-memory-and-commit",
    ),
    c(
        "lazy-alloc",
        "always-overcommit-grants-one-mapping-larger-than-ram-and-swap",
    ),
    c(
        "lazy-alloc",
        "strict-overcommit-refuses-beyond-commit-limit",
    ),
    c(
        "many-processes",
        "one-more-process-costs-mostly-kernel-memory",
    ),
    c("fork-cow", "writes-do-not-leak"),
];

/// Every checkable statement of the five writings, in the order each writing
/// makes them.
pub const STATEMENTS: &[Statement] = &[
    // Köhntopp, "Notes on VM".
    Statement {
        id: "kohntopp.strip-shrinks-the-file",
        source: KOHNTOPP,
        paraphrase: "After strip the file takes fewer bytes on disk.",
        judging: Judging::Claims(&[c("strip", "strip-makes-the-file-smaller")]),
    },
    Statement {
        id: "kohntopp.strip-keeps-the-segments",
        source: KOHNTOPP,
        paraphrase: "`size` and the map report the same loaded segments before and after strip.",
        judging: Judging::Claims(&[c("strip", "strip-leaves-segments-unchanged")]),
    },
    Statement {
        id: "kohntopp.map-lines-are-file-offsets",
        source: KOHNTOPP,
        paraphrase: "Each file line of the map is a range of the file, from a given offset, placed at an address range.",
        judging: Judging::Claims(&[c(
            "anatomy",
            "every-load-segment-becomes-a-mapping-with-its-permissions",
        )]),
    },
    Statement {
        id: "kohntopp.mapped-pages-load-on-access",
        source: KOHNTOPP,
        paraphrase: "Mapping reads nothing; a page comes from the file only when it is touched, one page at a time.",
        judging: Judging::Claims(&[c("strip", "file-pages-come-in-one-at-a-time")]),
    },
    Statement {
        id: "kohntopp.debug-info-never-enters-memory",
        source: KOHNTOPP,
        paraphrase: "Symbols and debug data are in the file but never mapped, so they never come into memory at all.",
        judging: Judging::Claims(&[c("strip", "debug-information-never-enters-memory")]),
    },
    Statement {
        id: "kohntopp.strip-does-not-reduce-memory",
        source: KOHNTOPP,
        paraphrase: "Strip does not lower the memory a running program uses.",
        judging: Judging::Claims(&[c("strip", "strip-does-not-reduce-memory")]),
    },
    Statement {
        id: "kohntopp.read-only-and-writable-segments",
        source: KOHNTOPP,
        paraphrase: "The image's read-only mappings hold what `size` calls text, the writable ones its data and bss.",
        judging: Judging::Claims(&[c(
            "anatomy",
            "code-and-statics-lie-in-the-executables-mappings",
        )]),
    },
    Statement {
        id: "kohntopp.read-only-segments-in-memory-once",
        source: KOHNTOPP,
        paraphrase: "Children inherit the parent's mappings, and the program's read-only segments sit in memory once for all of them.",
        judging: Judging::Claims(&[c("static-dynamic", "instances-share-the-program-text")]),
    },
    Statement {
        id: "kohntopp.loader-and-libc-shared-by-every-dynamic-program",
        source: KOHNTOPP,
        paraphrase: "The dynamic loader (and the shared libraries) are in memory once for every dynamically linked program on the system.",
        judging: Judging::Claims(&[c("static-dynamic", "instances-share-the-library-text")]),
    },
    Statement {
        id: "kohntopp.static-binary-is-larger",
        source: KOHNTOPP,
        paraphrase: "A static build carries its own partial copy of the libraries and is much larger than the dynamic one.",
        judging: Judging::Claims(&[c("static-dynamic", "static-binary-is-much-larger")]),
    },
    Statement {
        id: "kohntopp.static-first-instance-costs-more",
        source: KOHNTOPP,
        paraphrase: "One static instance uses more memory than one dynamic instance: it loads a private copy of the library code.",
        judging: Judging::Claims(&[c("static-dynamic", "static-first-instance-costs-more")]),
    },
    Statement {
        id: "kohntopp.writable-pages-shared-until-written",
        source: KOHNTOPP,
        paraphrase: "Forked children share the writable pages too until one writes a page, and then only that page is copied.",
        judging: Judging::Claims(&[
            c("static-dynamic", "forked-children-copy-only-the-pages-they-write"),
            c("fork-cow", "write-copies-only-the-written-pages"),
        ]),
    },
    Statement {
        id: "kohntopp.static-prefork-overhead-is-small",
        source: KOHNTOPP,
        paraphrase: "The extra memory of a preforked static server over a dynamic one is small per child.",
        judging: Judging::Claims(&[c("static-dynamic", "static-prefork-children-cost-little-more")]),
    },
    Statement {
        id: "kohntopp.static-overhead-is-one-library-copy",
        source: KOHNTOPP,
        paraphrase: "The whole static overhead is about one more copy of the libraries a dynamic build shares.",
        judging: Judging::Claims(&[c("static-dynamic", "static-overhead-is-one-library-copy")]),
    },
    Statement {
        id: "kohntopp.static-php-is-faster",
        source: KOHNTOPP,
        paraphrase: "A statically built PHP in Apache runs up to 30 % faster (the claim the writing quotes).",
        judging: Judging::NotHere(
            "a speed claim about PHP in Apache, quoted by the writing and not made by it; vmlab measures memory",
        ),
    },
    // Chodorow, "Playing with Virtual Memory".
    Statement {
        id: "chodorow.program-has-three-mappings",
        source: CHODOROW,
        paraphrase: "A small dynamic program shows three mappings of its own file: r-x, r-- and rw-.",
        judging: Judging::Claims(&[c("tiny-malloc", "small-c-program-has-three-mappings")]),
    },
    Statement {
        id: "chodorow.heap-address-is-in-the-heap",
        source: CHODOROW,
        paraphrase: "The address malloc returns lies in the anonymous block pmap shows after the program.",
        judging: Judging::Claims(&[c("anatomy", "malloc-block-lies-in-heap")]),
    },
    Statement {
        id: "chodorow.stack-address-is-in-the-stack",
        source: CHODOROW,
        paraphrase: "A local variable's address lies in the [stack] mapping.",
        judging: Judging::Claims(&[c("anatomy", "stack-variable-lies-in-stack")]),
    },
    Statement {
        id: "chodorow.heap-and-stack-are-132k",
        source: CHODOROW,
        paraphrase: "pmap shows the heap and the stack as 132K blocks each.",
        judging: Judging::Claims(&[c("anatomy", "heap-and-stack-start-at-132-kib")]),
    },
    Statement {
        id: "chodorow.address-space-is-almost-10-million-tb",
        source: CHODOROW,
        paraphrase: "A process can address almost 10 million terabytes.",
        judging: Judging::Claims(&[c("anatomy", "address-space-is-almost-10-million-tb")]),
    },
    Statement {
        id: "chodorow.no-access-sections-never-take-memory",
        source: CHODOROW,
        paraphrase: "In a reply to a reader under the post: sections shown with no permissions never take up memory, only address space.",
        judging: Judging::Claims(&[
            c("anatomy", "no-access-regions-never-hold-memory"),
            c("anatomy", "no-access-regions-use-no-memory"),
        ]),
    },
    Statement {
        id: "chodorow.can-address-more-than-ram",
        source: CHODOROW,
        paraphrase: "A process can address more memory than the machine has; the kernel brings in what is used.",
        judging: Judging::Claims(&[c(
            "lazy-alloc",
            "default-kernel-lets-a-process-map-more-than-ram",
        )]),
    },
    Statement {
        id: "chodorow.mmap-grows-vsz",
        source: CHODOROW,
        paraphrase: "Mapping the 1 GB file grows the virtual size by the mapping at once.",
        judging: Judging::Claims(&[c("mmap-file", "mmap-grows-vsz-by-mapping-size")]),
    },
    Statement {
        id: "chodorow.mmap-adds-no-rss",
        source: CHODOROW,
        paraphrase: "Right after mapping, none of the file is resident.",
        judging: Judging::Claims(&[c("mmap-file", "mmap-adds-no-rss")]),
    },
    Statement {
        id: "chodorow.first-read-makes-one-page-resident",
        source: CHODOROW,
        paraphrase: "Reading the first int makes 4 KB of the file resident.",
        judging: Judging::Claims(&[c("mmap-file", "first-read-maps-only-that-page")]),
    },
    Statement {
        id: "chodorow.read-all-makes-all-resident",
        source: CHODOROW,
        paraphrase: "Reading the whole mapping makes its resident size about its virtual size.",
        judging: Judging::Claims(&[c("mmap-file", "read-all-makes-file-resident")]),
    },
    Statement {
        id: "chodorow.kernel-reads-ahead",
        source: CHODOROW,
        paraphrase: "Asked for the first page, the kernel reads some more of the file (about a dozen KB).",
        judging: Judging::Claims(&[c("mmap-file", "kernel-reads-more-than-the-page-asked-for")]),
    },
    Statement {
        id: "chodorow.process-learns-one-page-per-fault",
        source: CHODOROW,
        paraphrase: "The kernel tells the process about one page at a time, so each page touched first costs a fault (minor when in RAM).",
        judging: Judging::Claims(&[c("mmap-file", "each-page-touched-costs-a-fault")]),
    },
    Statement {
        id: "chodorow.disk-reads-are-major-faults",
        source: CHODOROW,
        paraphrase: "A fault that has to read from the disk is a major fault.",
        judging: Judging::Claims(&[
            c("mmap-file", "uncached-file-reads-take-major-faults"),
            c("mmap-file", "random-access-faults-every-page"),
        ]),
    },
    Statement {
        id: "chodorow.just-written-file-is-cached",
        source: CHODOROW,
        paraphrase: "A file just written is probably all in the page cache before it is mapped.",
        judging: Judging::Claims(&[c("mmap-file", "just-written-file-is-in-the-page-cache")]),
    },
    Statement {
        id: "chodorow.cached-file-costs-only-minor-faults",
        source: CHODOROW,
        paraphrase: "Reading a file the page cache holds needs no disk: only minor faults.",
        judging: Judging::Claims(&[c("mmap-file", "cached-file-reads-need-no-disk")]),
    },
    // Hoogland, "Hey dude, where's my memory?".
    Statement {
        id: "hoogland.anonymous-allocations-are-unnamed",
        source: HOOGLAND,
        paraphrase: "Anonymous allocations appear in the map as lines without a file name.",
        judging: Judging::Claims(&[c("anatomy", "anonymous-mmap-is-an-unnamed-mapping")]),
    },
    Statement {
        id: "hoogland.vdso-in-every-process",
        source: HOOGLAND,
        paraphrase: "Every process has a [vdso] mapping so that some system calls (gettimeofday) run in user space.",
        judging: Judging::Claims(&[c("anatomy", "kernel-maps-vdso-into-every-process")]),
    },
    Statement {
        id: "hoogland.vsyscall-page",
        source: HOOGLAND,
        paraphrase: "Every process shows a [vsyscall] page at ffffffffff600000.",
        judging: Judging::Claims(&[c(
            "anatomy",
            "vsyscall-page-is-kernel-code-at-a-fixed-address",
        )]),
    },
    Statement {
        id: "hoogland.strip-makes-the-file-smaller",
        source: HOOGLAND,
        paraphrase: "Stripping removes symbols and makes the executable smaller.",
        judging: Judging::Claims(&[c("strip", "strip-makes-the-file-smaller")]),
    },
    Statement {
        id: "hoogland.executable-is-two-mappings",
        source: HOOGLAND,
        paraphrase: "The executable appears twice in the map, code (r-xp) and data (rw-p); two is the common count for executables.",
        judging: Judging::Claims(&[c("anatomy", "executable-appears-as-two-mappings")]),
    },
    Statement {
        id: "hoogland.map-permissions-follow-program-headers",
        source: HOOGLAND,
        paraphrase: "The map's permissions are the LOAD program headers' flags (R E to r-xp, RW to rw-p).",
        judging: Judging::Claims(&[c(
            "anatomy",
            "every-load-segment-becomes-a-mapping-with-its-permissions",
        )]),
    },
    Statement {
        id: "hoogland.code-and-data-segments",
        source: HOOGLAND,
        paraphrase: "The code segment holds the instructions, the data segment the GOT, .data and .bss.",
        judging: Judging::Claims(&[c(
            "anatomy",
            "code-and-statics-lie-in-the-executables-mappings",
        )]),
    },
    Statement {
        id: "hoogland.data-segment-cannot-be-read-only",
        source: HOOGLAND,
        paraphrase: "The data segment (GOT, .dynamic) must stay writable because of dynamic linking.",
        judging: Judging::Claims(&[c("anatomy", "data-segment-stays-writable")]),
    },
    Statement {
        id: "hoogland.libraries-have-three-or-four-mappings",
        source: HOOGLAND,
        paraphrase: "The loader has 3 map lines, libc 4; 3 or 4 is common for libraries.",
        judging: Judging::Claims(&[c("anatomy", "libraries-appear-as-three-or-four-mappings")]),
    },
    Statement {
        id: "hoogland.fork-copies-nothing",
        source: HOOGLAND,
        paraphrase: "After fork the child shares the parent's memory; nothing is copied.",
        judging: Judging::Claims(&[c("fork-cow", "fork-copies-nothing")]),
    },
    Statement {
        id: "hoogland.same-physical-pages-until-written",
        source: HOOGLAND,
        paraphrase: "Parent and child translate the same addresses to the same physical pages until one writes.",
        judging: Judging::Claims(&[c("fork-cow", "same-frames-until-written")]),
    },
    Statement {
        id: "hoogland.read-only-sections-in-memory-once",
        source: HOOGLAND,
        paraphrase: "Read-only sections are in memory at one place, used by many processes.",
        judging: Judging::Claims(&[c("static-dynamic", "instances-share-the-program-text")]),
    },
    Statement {
        id: "hoogland.writable-sections-allocated-on-write",
        source: HOOGLAND,
        paraphrase: "Even writable sections get memory of their own only when written.",
        judging: Judging::Claims(&[c("fork-cow", "write-copies-only-the-written-pages")]),
    },
    Statement {
        id: "hoogland.anonymous-mmap-backed-when-used",
        source: HOOGLAND,
        paraphrase: "An anonymous mmap shows in the map at once but gets memory only when used.",
        judging: Judging::Claims(&[
            c("lazy-alloc", "anonymous-mmap-adds-address-space-not-memory"),
            c("lazy-alloc", "writing-costs-a-page-per-page"),
        ]),
    },
    Statement {
        id: "hoogland.summing-memory-double-counts",
        source: HOOGLAND,
        paraphrase: "Adding up the memory figures of processes counts shared memory more than once.",
        judging: Judging::Claims(&[
            c("fork-cow", "summing-rss-double-counts"),
            c("static-dynamic", "summing-rss-overstates-memory"),
            c("many-processes", "summing-rss-overstates-the-cost"),
        ]),
    },
    // Martin, "Some things I've learned about memory".
    Statement {
        id: "martin.binary-low-libraries-high",
        source: MARTIN,
        paraphrase: "The program's file is mapped at a low address, its libraries at high addresses.",
        judging: Judging::Claims(&[c("anatomy", "program-low-libraries-high")]),
    },
    Statement {
        id: "martin.permissions-name-the-parts",
        source: MARTIN,
        paraphrase: "r-x is code, r-- read-only data, rw- read-write data.",
        judging: Judging::Claims(&[c(
            "anatomy",
            "code-and-statics-lie-in-the-executables-mappings",
        )]),
    },
    Statement {
        id: "martin.no-access-spans",
        source: MARTIN,
        paraphrase: "Spans marked --- (such as the gaps the loader leaves in a library) are completely inaccessible reserved address space.",
        judging: Judging::Claims(&[c("anatomy", "no-access-regions-use-no-memory")]),
    },
    Statement {
        id: "martin.loader-protects-library-holes",
        source: MARTIN,
        paraphrase: "A library whose segments are not contiguous is mapped as one block and the gaps made PROT_NONE.",
        judging: Judging::Claims(&[c("anatomy", "library-holes-are-protected-none")]),
    },
    Statement {
        id: "martin.default-kernel-overcommits",
        source: MARTIN,
        paraphrase: "By default a process can keep getting address space beyond the machine's memory.",
        judging: Judging::Claims(&[
            c("lazy-alloc", "default-kernel-lets-a-process-map-more-than-ram"),
            c(
                "lazy-alloc",
                "heuristic-overcommit-refuses-one-mapping-larger-than-ram-and-swap",
            ),
        ]),
    },
    Statement {
        id: "martin.32-bit-runs-out-of-address-space",
        source: MARTIN,
        paraphrase: "A 32-bit process can run out of address space while memory is left.",
        judging: Judging::NotHere("needs a 32-bit process (and a linker mapping 900 MB)"),
    },
    Statement {
        id: "martin.touched-addresses-get-memory",
        source: MARTIN,
        paraphrase: "Addresses not backed by a file get memory when the process touches them.",
        judging: Judging::Claims(&[c("lazy-alloc", "writing-costs-a-page-per-page")]),
    },
    Statement {
        id: "martin.shared-library-loaded-once",
        source: MARTIN,
        paraphrase: "Ten processes using the same libc need it in memory once, not ten times.",
        judging: Judging::Claims(&[c("static-dynamic", "instances-share-the-library-text")]),
    },
    Statement {
        id: "martin.writable-pages-copied-on-write",
        source: MARTIN,
        paraphrase: "Writable pages are copy-on-write: a process that writes gets its own copy.",
        judging: Judging::Claims(&[
            c("fork-cow", "write-copies-only-the-written-pages"),
            c("tiny-malloc", "data-changes-are-private-copies"),
        ]),
    },
    Statement {
        id: "martin.fork-marks-private-memory-cow",
        source: MARTIN,
        paraphrase: "After fork all private memory is shared copy-on-write with the child.",
        judging: Judging::Claims(&[
            c("fork-cow", "child-reads-without-faults"),
            c("fork-cow", "private-file-child-faults-to-read"),
        ]),
    },
    Statement {
        id: "martin.pss-divides-by-sharers",
        source: MARTIN,
        paraphrase: "PSS charges each of N sharers 1/N of the shared pages.",
        judging: Judging::Claims(&[c("shared-file", "pss-is-rss-divided-by-sharers")]),
    },
    Statement {
        id: "martin.pss-rises-when-a-sharer-exits",
        source: MARTIN,
        paraphrase: "When a sharer exits, the others' PSS goes up.",
        judging: Judging::Claims(&[
            c("shared-file", "pss-rises-when-a-sharer-exits"),
            c("fork-cow", "pss-returns-to-rss-when-sharers-exit"),
        ]),
    },
    Statement {
        id: "martin.killing-a-sharer-frees-nothing-shared",
        source: MARTIN,
        paraphrase: "Killing one sharer does not free the memory it shared.",
        judging: Judging::Claims(&[c("shared-file", "a-sharers-exit-frees-no-shared-memory")]),
    },
    Statement {
        id: "martin.shared-memory-apis-share-pages",
        source: MARTIN,
        paraphrase: "Processes can share pages explicitly through shared-memory APIs.",
        judging: Judging::Claims(&[c("shared-file", "shared-memory-object-is-held-once")]),
    },
    Statement {
        id: "martin.same-binary-shares-code",
        source: MARTIN,
        paraphrase: "Processes of the same binary share its code pages through the loader.",
        judging: Judging::Claims(&[c("static-dynamic", "instances-share-the-program-text")]),
    },
    Statement {
        id: "martin.one-mapped-file-one-copy",
        source: MARTIN,
        paraphrase: "Many processes mapping one file hold one copy of it in memory.",
        judging: Judging::Claims(&[
            c("shared-file", "file-pages-read-by-all-are-shared-clean"),
            c("shared-file", "sum-of-rss-overstates-sum-of-pss-does-not"),
        ]),
    },
    Statement {
        id: "martin.zygote-state-stays-shared",
        source: MARTIN,
        paraphrase: "What a zygote set up before forking stays shared by its children while unmodified.",
        judging: Judging::Claims(&[c("fork-cow", "zygote-children-share-the-initialised-state")]),
    },
    Statement {
        id: "martin.allocator-bookkeeping-costs-memory",
        source: MARTIN,
        paraphrase: "A memory allocator's bookkeeping costs memory of its own.",
        judging: Judging::Claims(&[c("tiny-malloc", "allocator-bookkeeping-costs-memory")]),
    },
    // Bernstein's question and Roberson's reply, "ten thousand small processes".
    Statement {
        id: "bernstein.tiny-static-program-rss-44k",
        source: BERNSTEIN,
        paraphrase: "A static program with five small mallocs has 44 KB resident (FreeBSD 4.8).",
        judging: Judging::Claims(&[
            c("tiny-malloc", "static-program-takes-44k-rss-168k-vsz"),
            c("many-processes", "tiny-static-process-has-44kb-rss"),
        ]),
    },
    Statement {
        id: "bernstein.tiny-static-program-vsz-168k",
        source: BERNSTEIN,
        paraphrase: "The same program has 168 KB of virtual size.",
        judging: Judging::Claims(&[
            c("tiny-malloc", "static-program-takes-44k-rss-168k-vsz"),
            c("many-processes", "tiny-static-process-has-168kb-vsz"),
        ]),
    },
    Statement {
        id: "bernstein.text-is-three-pages",
        source: BERNSTEIN,
        paraphrase: "Its text segment is 3 pages.",
        judging: Judging::Claims(&[c("tiny-malloc", "static-text-segment-is-3-pages")]),
    },
    Statement {
        id: "bernstein.39-extra-pages-of-vm",
        source: BERNSTEIN,
        paraphrase: "Beyond the text, 39 pages of virtual size are extra.",
        judging: Judging::Claims(&[c("tiny-malloc", "static-program-has-39-extra-pages-of-vm")]),
    },
    Statement {
        id: "bernstein.one-page-would-do",
        source: BERNSTEIN,
        paraphrase: "Nothing prevents a small program from fitting in one page; two or three are excusable.",
        judging: Judging::Claims(&[c("tiny-malloc", "small-program-fits-in-a-few-pages")]),
    },
    Statement {
        id: "bernstein.exit-pulls-in-stdio",
        source: BERNSTEIN,
        paraphrase: "Calling exit() links in part of stdio (84 bytes of data, 316 of bss), wasting about 2 pages.",
        judging: Judging::Claims(&[c("tiny-malloc", "exit-pulls-in-stdio")]),
    },
    Statement {
        id: "bernstein.malloc-takes-a-page-each",
        source: BERNSTEIN,
        paraphrase: "Each small malloc takes a whole new page.",
        judging: Judging::Claims(&[c("tiny-malloc", "malloc-takes-a-page-per-call")]),
    },
    Statement {
        id: "bernstein.malloc-adds-an-anonymous-mmap",
        source: BERNSTEIN,
        paraphrase: "malloc also takes a page for an anonymous mmap.",
        judging: Judging::Claims(&[c("tiny-malloc", "malloc-adds-an-anonymous-mmap")]),
    },
    Statement {
        id: "bernstein.allocations-fit-in-bss-slack",
        source: BERNSTEIN,
        paraphrase: "The 1076 requested bytes would fit in the roughly 3000 free bytes at the end of the bss page.",
        judging: Judging::Claims(&[c("tiny-malloc", "allocations-fit-in-the-bss-slack")]),
    },
    Statement {
        id: "bernstein.stack-reserved-despite-4k-limit",
        source: BERNSTEIN,
        paraphrase: "32 pages of stack are reserved even with the stack hard-limited to 4K before exec.",
        judging: Judging::Claims(&[c("tiny-malloc", "stack-reservation-stays-under-a-4k-limit")]),
    },
    Statement {
        id: "bernstein.roberson-page-tables-take-three-pages",
        source: BERNSTEIN,
        paraphrase: "Roberson: even a tiny process needs 3 pages of page tables on x86 (a directory, one table for text/data/bss, one for the stack).",
        judging: Judging::Claims(&[
            c("tiny-malloc", "every-process-needs-page-tables"),
            c("many-processes", "even-a-tiny-process-needs-page-tables"),
        ]),
    },
    Statement {
        id: "bernstein.roberson-32-pages-are-stack-reservation",
        source: BERNSTEIN,
        paraphrase: "Roberson: 32 of the pages are the initial stack reservation and cost no memory.",
        judging: Judging::Claims(&[c("tiny-malloc", "stack-reservation-is-address-space-not-memory")]),
    },
    Statement {
        id: "bernstein.roberson-text-and-data-in-separate-pages",
        source: BERNSTEIN,
        paraphrase: "Roberson: text is read-only and shared, data private, so the two must lie in separate pages.",
        judging: Judging::Claims(&[c("tiny-malloc", "text-and-data-need-separate-pages")]),
    },
    Statement {
        id: "bernstein.roberson-data-changes-are-private",
        source: BERNSTEIN,
        paraphrase: "Roberson: data is never written back to the file; its changes are private.",
        judging: Judging::Claims(&[c("tiny-malloc", "data-changes-are-private-copies")]),
    },
    Statement {
        id: "bernstein.roberson-bss-not-from-the-file",
        source: BERNSTEIN,
        paraphrase: "Roberson: bss is not mapped from the file.",
        judging: Judging::Claims(&[c("tiny-malloc", "bss-is-not-mapped-from-the-file")]),
    },
    Statement {
        id: "bernstein.solaris-is-worse",
        source: BERNSTEIN,
        paraphrase: "Solaris is worse than FreeBSD 4.8 for the same program.",
        judging: Judging::NotHere("compares FreeBSD with Solaris; vmlab runs on Linux"),
    },
];

/// The statements of one writing, in order.
pub fn of_writing(writing: &Writing) -> impl Iterator<Item = &'static Statement> + '_ {
    STATEMENTS
        .iter()
        .filter(move |s| s.source == writing.source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_name_their_writing() {
        for (i, s) in STATEMENTS.iter().enumerate() {
            let w = writing_of(s).expect("a statement's source is one of the five writings");
            assert!(
                s.id.starts_with(&format!("{}.", w.key)),
                "{} does not name its writing {}",
                s.id,
                w.key
            );
            assert!(
                STATEMENTS[..i].iter().all(|o| o.id != s.id),
                "{} twice",
                s.id
            );
        }
    }

    #[test]
    fn every_statement_is_judged_or_says_why_not() {
        for s in STATEMENTS {
            match s.judging {
                Judging::Claims(claims) => assert!(!claims.is_empty(), "{}", s.id),
                Judging::NotHere(why) | Judging::NoClaimYet(why) => {
                    assert!(why.len() > 10, "{}: say why", s.id)
                }
            }
        }
    }
}
