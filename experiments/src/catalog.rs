//! The experiments vmlab knows, in the order `all` runs them.
//!
//! The harness plans and judges each one; this table is where both sides agree on
//! the name (which is also the binary's name and the results folder's name).

/// Declares a contract's names once: one `&str` constant per name (its doc is
/// its value, after any doc written above it) and `ALL`, every name in the
/// order written, which is the list [`ExperimentInfo`] holds. A name added here
/// is in the list; none can be listed without its constant.
///
/// A name written `NAME: T = "key";` is a typed note key, a
/// [`Note<T>`](crate::note::Note), whose value both sides read and write as a `T`.
macro_rules! names {
    ($( $(#[$doc:meta])* $name:ident $(: $ty:ty)? = $value:expr; )*) => {
        $(
            $(#[$doc])*
            #[doc = concat!("`", stringify!($value), "`")]
            pub const $name: names!(@type $($ty)?) = names!(@value $value $(, $ty)?);
        )*
        /// Every name above, in order: what the contract lists.
        pub const ALL: &[&str] = &[$(names!(@key $name $($ty)?)),*];
    };
    (@type) => { &'static str };
    (@type $ty:ty) => { $crate::note::Note<$ty> };
    (@value $value:expr) => { $value };
    (@value $value:expr, $ty:ty) => { $crate::note::Note::new($value) };
    (@key $name:ident) => { $name };
    (@key $name:ident $ty:ty) => { $name.key() };
}

/// What the user sees of one experiment before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExperimentInfo {
    /// Kebab-case name, as typed on the command line; also the binary's name.
    pub name: &'static str,
    /// One line for `harness list`.
    pub summary: &'static str,
    /// The seed writings whose demonstration this reproduces (file names in
    /// `shared/seeds/`).
    pub sources: &'static [&'static str],
    /// Variant names the harness plans: nothing else may be planned.
    pub variants: &'static [&'static str],
    /// Checkpoint labels the binary announces; the runner refuses any other.
    pub checkpoints: &'static [&'static str],
    /// Roles of the processes named at checkpoints (`sharer-*` matches
    /// `sharer-1`, ...), populations included.
    pub roles: &'static [&'static str],
    /// Names of the address ranges the binary announces.
    pub regions: &'static [&'static str],
    /// Keys of the notes the binary sends.
    pub notes: &'static [&'static str],
}

impl ExperimentInfo {
    /// This experiment's executable: see [`binary_name`].
    pub fn binary_name(&self) -> String {
        binary_name(self.name)
    }

    /// The first name of kind `kind` that the contract does not list, if any:
    /// what the runner refuses, so that a binary and the harness that drift apart
    /// fail the first run instead of judging nothing.
    pub fn unlisted<'a>(
        &self,
        kind: NameKind,
        mut names: impl Iterator<Item = &'a str>,
    ) -> Option<&'a str> {
        let listed = match kind {
            NameKind::Variant => self.variants,
            NameKind::Checkpoint => self.checkpoints,
            NameKind::Role => self.roles,
            NameKind::Region => self.regions,
            NameKind::Note => self.notes,
        };
        names.find(|name| !listed.iter().any(|pattern| name_matches(pattern, name)))
    }
}

/// The kinds of names an experiment's contract lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A variant the harness plans.
    Variant,
    /// A checkpoint label.
    Checkpoint,
    /// A process role (or a population's).
    Role,
    /// An announced address range.
    Region,
    /// A note key.
    Note,
}

impl std::fmt::Display for NameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameKind::Variant => "variant",
            NameKind::Checkpoint => "checkpoint",
            NameKind::Role => "role",
            NameKind::Region => "region",
            NameKind::Note => "note",
        })
    }
}

/// Whether `name` matches `pattern`: equal, or with one `*` standing for one or
/// more characters (`sharer-*`, `n-*-kernel-delta`), for names numbered at run time.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, suffix)) => {
            name.len() > prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        }
    }
}

/// What every experiment that starts a separately built program (tiny-malloc,
/// static-dynamic, strip) takes besides its own arguments; flattened into each
/// one's `Args`, so that the option is spelled once for all three.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, clap::Args)]
pub struct LaunchArgs {
    /// Start the programs with address-space randomisation off.
    #[arg(long)]
    pub no_aslr: bool,
}

/// The notes every program launch sends (`program::prepare`), listed in each
/// of the three contracts.
pub mod launch_note {
    use crate::note::Note;

    /// Whether address-space randomisation was on for the program: `on`,
    /// `off`, or `on` with why turning it off failed.
    pub const ASLR: Note<String> = Note::new("aslr");
    /// The program's file, for the ELF facts the harness reads from it.
    pub const PROGRAM_PATH: Note<String> = Note::new("program_path");
}

/// The `mmap-file` experiment's contract.
pub mod mmap_file {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            WARM = "warm";
            WARM_DD = "warm-dd";
            COLD = "cold";
            COLD_RANDOM = "cold-random";
        }
    }

    /// Checkpoint labels the binary announces, in the order it reaches them.
    ///
    /// A variant that writes its file stops before and after the writes
    /// (the seed's dd); one that reuses a kept file starts at `before-mmap`.
    pub mod checkpoint {
        names! {
            BEFORE_WRITE = "before-write";
            AFTER_WRITE = "after-write";
            BEFORE_MMAP = "before-mmap";
            AFTER_MMAP = "after-mmap";
            AFTER_FIRST_READ = "after-first-read";
            AFTER_READ_ALL = "after-read-all";
        }
    }

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            MAIN = "main";
        }
    }

    /// Address ranges it announces.
    pub mod region {
        names! {
            DATA = "data";
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        names! {
            CACHE_DROP_METHOD: String = "cache_drop_method";
            CHECKSUM: i64 = "checksum";
            FILE_SOURCE: super::FileSource = "file_source";
            FLUSHED_WITH: String = "flushed_with";
            MAPPED_PAGES: u64 = "mapped_pages";
            PAGE_CACHE_PAGES_BEFORE_MMAP: u64 = "page_cache_pages_before_mmap";
            PAGES_REREAD_TO_WARM: u64 = "pages_reread_to_warm";
            TEST_EVICTED_PAGES: u64 = "test_evicted_pages";
            WRITE_CHUNK_BYTES: u64 = "write_chunk_bytes";
        }
    }

    /// A test's forced disturbance: set to a marker file's path, the first
    /// warm variant that finds no marker creates it and drops its file from
    /// the page cache after measuring it and before mapping it (noting
    /// [`note::TEST_EVICTED_PAGES`]); every later run finds the marker and
    /// leaves the file alone. For tests of the session's retry only.
    pub const TEST_EVICT_ONCE_ENV: &str = "VMLAB_TEST_EVICT_ONCE";

    /// The file's name in `--dir`: the harness finds its mapping in smaps by it
    /// (for the fields a region does not sum, such as FilePmdMapped).
    pub const FILE_NAME: &str = "data";

    /// How the page cache stands when the file is mapped, and how it is read.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
    #[serde(rename_all = "kebab-case")]
    pub enum Cache {
        /// Just written and flushed: every page is in the page cache.
        Warm,
        /// Dropped from the page cache: reads go to the disk, with read-ahead.
        Cold,
        /// Dropped, and the mapping advised MADV_RANDOM, which turns read-ahead off.
        ColdRandom,
    }

    /// What the harness gives the binary, besides `--dir`.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {
        /// Page-cache state when mapping.
        #[arg(long, value_enum)]
        pub cache: Cache,
        /// Bytes written to the file.
        #[arg(long)]
        pub file_bytes: u64,
        /// Bytes mapped from its start (the seed wrote 1,024,000,000 and mapped 1,000,000,000).
        #[arg(long)]
        pub map_bytes: usize,
        /// Size of each write(2) while creating the file; it decides the size of the
        /// page-cache folios, and so how many faults a read costs.
        #[arg(long)]
        pub write_chunk_bytes: usize,
        /// Leave the file in `--dir` after the last checkpoint, out of the page
        /// cache, for a later variant of the same run to reuse (the harness
        /// removes the folder when the experiment ends).
        #[arg(long)]
        pub keep_file: bool,
        /// Map the file an earlier variant left in `--dir` when it was written
        /// the same way and is at least `file_bytes` long (cut to that length),
        /// instead of writing one; only for variants that drop the file from the
        /// page cache first, so which pages are cached is their own doing.
        #[arg(long)]
        pub reuse_file: bool,
    }

    /// How the variant came by its file ([`note::FILE_SOURCE`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FileSource {
        /// Written by this variant.
        Written,
        /// Left by an earlier variant of the same run (`--reuse-file`).
        Reused,
    }

    impl std::fmt::Display for FileSource {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(match self {
                FileSource::Written => "written",
                FileSource::Reused => "reused",
            })
        }
    }

    impl std::str::FromStr for FileSource {
        type Err = String;

        fn from_str(text: &str) -> Result<FileSource, String> {
            match text {
                "written" => Ok(FileSource::Written),
                "reused" => Ok(FileSource::Reused),
                _ => Err(format!("'{text}' is neither 'written' nor 'reused'")),
            }
        }
    }

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "mmap-file",
        summary: "mmap a 1 GB file: address space grows at once, memory only as pages are read",
        sources: &[crate::catalog::writing::CHODOROW],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: region::ALL,
        notes: note::ALL,
    };
}

/// The `fork-cow` experiment's contract.
pub mod fork_cow {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            THP_OFF = "thp-off";
            THP_ON = "thp-on";
            FILE_PRIVATE = "file-private";
            ZYGOTE = "zygote";
        }
    }

    /// Checkpoint labels the binary announces, in the order it reaches them.
    pub mod checkpoint {
        names! {
            AFTER_MMAP = "after-mmap";
            AFTER_FILL = "after-fill";
            AFTER_FORK = "after-fork";
            CHILD_READ_ALL = "child-read-all";
            CHILD_WRITE_QUARTER = "child-write-quarter";
            CHILD_WRITE_ALL = "child-write-all";
            AFTER_CHILD_EXIT = "after-child-exit";
            CHILDREN_WRITE_SHARE = "children-write-share";
            AFTER_CHILDREN_EXIT = "after-children-exit";
        }
    }

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            PARENT = "parent";
            /// The one child of the variants that fork one.
            CHILD = "child";
            /// The zygote's children, `child-1` to `child-N`.
            ZYGOTE_CHILD = "child-*";
        }

        /// The role of the zygote's `i`-th child, counted from 1 (what
        /// `ZYGOTE_CHILD` matches).
        pub fn zygote_child(i: usize) -> String {
            format!("child-{i}")
        }
    }

    /// Address ranges it announces.
    pub mod region {
        names! {
            DATA = "data";
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        names! {
            CONTENT_CHECKED_PAGES: u64 = "content_checked_pages";
            CONTENT_CHILD_MISMATCHES_AFTER_ALL: u64 = "content_child_mismatches_after_all";
            CONTENT_CHILD_MISMATCHES_AFTER_QUARTER: u64 = "content_child_mismatches_after_quarter";
            CONTENT_PARENT_MISMATCHES_AFTER_ALL: u64 = "content_parent_mismatches_after_all";
            CONTENT_PARENT_MISMATCHES_AFTER_QUARTER: u64 = "content_parent_mismatches_after_quarter";
            /// Whether the region starts on a PMD boundary (`--pmd-bytes`); the key
            /// keeps the name results have always had.
            REGION_ALIGNED_TO_PMD: bool = "region_aligned_to_2mib";
            REGION_PAGES: u64 = "region_pages";
            ZYGOTE_CHILDREN: u64 = "zygote_children";
            ZYGOTE_SHARE_PAGES: u64 = "zygote_share_pages";
        }
    }

    /// How the region is prepared: one per variant, named as the variant is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
    #[serde(rename_all = "kebab-case")]
    pub enum Variant {
        /// Anonymous memory with MADV_NOHUGEPAGE: one base page per fault.
        ThpOff,
        /// Anonymous memory aligned to a PMD with MADV_HUGEPAGE.
        ThpOn,
        /// A MAP_PRIVATE mapping of a temp file, only read by the parent.
        FilePrivate,
        /// Anonymous memory (MADV_NOHUGEPAGE), several children each writing a share.
        Zygote,
    }

    impl Variant {
        /// Every variant, in the order the harness runs them.
        pub const ALL: [Variant; 4] = [
            Variant::ThpOff,
            Variant::ThpOn,
            Variant::FilePrivate,
            Variant::Zygote,
        ];

        /// The variant's name, as planned and recorded.
        pub fn name(self) -> &'static str {
            match self {
                Variant::ThpOff => variant::THP_OFF,
                Variant::ThpOn => variant::THP_ON,
                Variant::FilePrivate => variant::FILE_PRIVATE,
                Variant::Zygote => variant::ZYGOTE,
            }
        }
    }

    /// The most children the zygote forks (their roles are made before the run,
    /// so that none is formatted between checkpoints).
    pub const MAX_ZYGOTE_CHILDREN: usize = 8;

    /// What the harness gives the binary, besides `--dir`.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {
        /// How the region is prepared.
        #[arg(long, value_enum)]
        pub variant: Variant,
        /// Bytes in the region (rounded up to whole pages).
        #[arg(long)]
        pub region_bytes: u64,
        /// Children forked by the `zygote` variant (none for the others).
        #[arg(long)]
        pub children: Option<usize>,
        /// Bytes one PMD entry maps (the kernel's `hpage_pmd_size`): the `thp-on`
        /// region starts on such a boundary. None when the kernel has no THP.
        #[arg(long)]
        pub pmd_bytes: Option<u64>,
    }

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "fork-cow",
        summary: "fork: the child shares every page until one side writes it; Rss, Pss, faults and page frames of both",
        sources: &[
            crate::catalog::writing::KOHNTOPP,
            crate::catalog::writing::HOOGLAND,
            crate::catalog::writing::MARTIN,
        ],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: region::ALL,
        notes: note::ALL,
    };
}

/// The `tiny-malloc` experiment's contract.
pub mod tiny_malloc {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            STATIC = "static";
            STATIC_EXIT = "static-exit";
            DYNAMIC = "dynamic";
            MINIMAL = "minimal";
            MINIMAL_STACK_4K = "minimal-stack-4k";
            MINIMAL_BSS = "minimal-bss";
            MINIMAL_RWX = "minimal-rwx";
            STD = "std";
            MANY_SMALL = "many-small";
        }
    }

    /// The many-small build's allocations: this many mallocs...
    pub const MANY_SMALL_COUNT: usize = 65536;
    /// ...of this many bytes each (1 MiB requested in all), which the
    /// experiment passes to the program as its two arguments.
    pub const MANY_SMALL_BYTES: usize = 16;

    /// Checkpoint labels the binary announces, in the order it reaches them.
    pub mod checkpoint {
        names! {
            BEFORE_MALLOCS = "before-mallocs";
            AFTER_MALLOCS = "after-mallocs";
        }
    }

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            PROGRAM = "program";
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        names! {
            ASLR: String = crate::catalog::launch_note::ASLR.key();
            PROGRAM_PATH: String = crate::catalog::launch_note::PROGRAM_PATH.key();
            STACK_LIMIT_BYTES: u64 = "stack_limit_bytes";
        }
    }

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "tiny-malloc",
        summary:
            "five small mallocs in static, dynamic, libc-free and Rust builds: where every page goes",
        sources: &[crate::catalog::writing::BERNSTEIN],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: &[],
        notes: note::ALL,
    };

    /// How the measured program was built.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
    #[serde(rename_all = "kebab-case")]
    pub enum Variant {
        /// C, statically linked against the system C library.
        Static,
        /// The same, ending with exit() rather than _exit(), as the seed's
        /// program did.
        #[serde(rename = "static-exit")]
        #[value(name = "static-exit")]
        StaticExit,
        /// C, dynamically linked.
        Dynamic,
        /// C with no C library: its own start-up, a bump allocator over brk.
        Minimal,
        /// The minimal build started with its stack limited to 4 KiB (soft
        /// RLIMIT_STACK at exec), as the seed limited its program's stack, and
        /// with address-space randomisation off.
        #[serde(rename = "minimal-stack-4k")]
        #[value(name = "minimal-stack-4k")]
        MinimalStack4k,
        /// The minimal build serving the allocations from the free tail of
        /// its .bss page, as the seed proposes.
        #[serde(rename = "minimal-bss")]
        #[value(name = "minimal-bss")]
        MinimalBss,
        /// That build linked with `ld -N`: text, data and bss in one writable
        /// and executable segment.
        #[serde(rename = "minimal-rwx")]
        #[value(name = "minimal-rwx")]
        MinimalRwx,
        /// Ordinary Rust with the standard library.
        Std,
        /// C, dynamically linked, making many small mallocs rather than five,
        /// so that what the allocator keeps per block shows beside the bytes
        /// requested.
        #[serde(rename = "many-small")]
        #[value(name = "many-small")]
        ManySmall,
    }

    impl Variant {
        /// Every build, in the order the harness plans them.
        pub const ALL: [Variant; 9] = [
            Variant::Static,
            Variant::StaticExit,
            Variant::Dynamic,
            Variant::Minimal,
            Variant::MinimalStack4k,
            Variant::MinimalBss,
            Variant::MinimalRwx,
            Variant::Std,
            Variant::ManySmall,
        ];

        /// The variant's name, as the harness plans and records it.
        pub fn name(self) -> &'static str {
            match self {
                Variant::Static => variant::STATIC,
                Variant::StaticExit => variant::STATIC_EXIT,
                Variant::Dynamic => variant::DYNAMIC,
                Variant::Minimal => variant::MINIMAL,
                Variant::MinimalStack4k => variant::MINIMAL_STACK_4K,
                Variant::MinimalBss => variant::MINIMAL_BSS,
                Variant::MinimalRwx => variant::MINIMAL_RWX,
                Variant::Std => variant::STD,
                Variant::ManySmall => variant::MANY_SMALL,
            }
        }

        /// The built program this variant runs (see `build.rs`).
        pub fn program(self) -> &'static str {
            match self {
                Variant::Static => "tiny-malloc-static",
                Variant::StaticExit => "tiny-malloc-static-exit",
                Variant::Dynamic => "tiny-malloc-dynamic",
                Variant::Minimal | Variant::MinimalStack4k => "tiny-malloc-minimal",
                Variant::MinimalBss => "tiny-malloc-minimal-bss",
                Variant::MinimalRwx => "tiny-malloc-minimal-rwx",
                Variant::Std => "tiny-malloc-std",
                Variant::ManySmall => "tiny-malloc-many",
            }
        }
    }

    /// What the harness gives the binary, besides `--dir`.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {
        /// Which build to measure.
        #[arg(long, value_enum)]
        pub variant: Variant,
        /// How the program is started.
        #[command(flatten)]
        #[serde(flatten)]
        pub launch: super::LaunchArgs,
    }
}

/// The `static-dynamic` experiment's contract.
pub mod static_dynamic {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            STATIC_PREFORK = "static-prefork";
            STATIC_EXEC = "static-exec";
            DYNAMIC_PREFORK = "dynamic-prefork";
            DYNAMIC_EXEC = "dynamic-exec";
        }
    }

    /// Checkpoint labels the binary announces, in the order it reaches them.
    pub mod checkpoint {
        names! {
            N_INSTANCES = "n-*";
        }

        /// The checkpoint at which `count` instances run (what `N_INSTANCES` matches).
        pub fn n(count: usize) -> String {
            format!("n-{count}")
        }
    }

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            INSTANCE = "instance-*";
        }

        /// The role of the `i`-th instance, counted from 0, the first started
        /// (what `INSTANCE` matches).
        pub fn instance(i: usize) -> String {
            format!("instance-{i}")
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        names! {
            ASLR: String = crate::catalog::launch_note::ASLR.key();
            PROGRAM_PATH: String = crate::catalog::launch_note::PROGRAM_PATH.key();
            KERNEL_DELTA: crate::program::KernelCounters = "n-*-kernel-delta";
        }

        /// The note with the /proc/meminfo counters' change over starting the
        /// instances of checkpoint `label` (what `KERNEL_DELTA` matches).
        pub fn kernel_delta_at(
            label: &str,
        ) -> crate::note::NamedNote<crate::program::KernelCounters> {
            crate::note::NamedNote::joined(&[label, "-kernel-delta"])
        }
    }

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "static-dynamic",
        summary: "a server linked statically and dynamically, 1 to 32 instances forked or exec'd",
        sources: &[crate::catalog::writing::KOHNTOPP],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: &[],
        notes: note::ALL,
    };

    /// How the program is linked.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
    #[serde(rename_all = "kebab-case")]
    pub enum Linking {
        /// Statically.
        Static,
        /// Dynamically.
        Dynamic,
    }

    impl Linking {
        /// The built program linked this way (see `build.rs`).
        pub fn program(self) -> &'static str {
            match self {
                Linking::Static => "server-static",
                Linking::Dynamic => "server-dynamic",
            }
        }
    }

    /// How the instances come to be.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
    #[serde(rename_all = "kebab-case")]
    pub enum Mode {
        /// One program forks the others after its start-up.
        Prefork,
        /// Every instance is its own exec of the program.
        Exec,
    }

    /// Each variant's linking and mode, in the order the harness plans them.
    pub const VARIANTS: [(&str, Linking, Mode); 4] = [
        (variant::STATIC_PREFORK, Linking::Static, Mode::Prefork),
        (variant::STATIC_EXEC, Linking::Static, Mode::Exec),
        (variant::DYNAMIC_PREFORK, Linking::Dynamic, Mode::Prefork),
        (variant::DYNAMIC_EXEC, Linking::Dynamic, Mode::Exec),
    ];

    /// The most instances one checkpoint may hold (its protocol line must fit
    /// the line buffer).
    pub const MAX_INSTANCES: usize = 32;

    /// What the harness gives the binary, besides `--dir`.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {
        /// How the program is linked.
        #[arg(long, value_enum)]
        pub linking: Linking,
        /// How the instances are started.
        #[arg(long, value_enum)]
        pub mode: Mode,
        /// Instance counts, one checkpoint each, e.g. 1,8,32.
        #[arg(long, value_delimiter = ',', required = true)]
        pub counts: Vec<usize>,
        /// How the program is started.
        #[command(flatten)]
        #[serde(flatten)]
        pub launch: super::LaunchArgs,
    }
}

/// The `strip` experiment's contract.
pub mod strip {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            DEBUG = "debug";
            STRIPPED = "stripped";
        }
    }

    /// Checkpoint labels the binary announces, in the order it reaches them.
    pub mod checkpoint {
        names! {
            AFTER_WORK = "after-work";
        }
    }

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            PROGRAM = "program";
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        names! {
            ASLR: String = crate::catalog::launch_note::ASLR.key();
            PROGRAM_PATH: String = crate::catalog::launch_note::PROGRAM_PATH.key();
            FILE_PAGES: u64 = "file_pages";
            CACHED_BEFORE_EXEC: crate::note::PageRanges = "cached_pages_before_exec";
            CACHED_AFTER_WORK: crate::note::PageRanges = "cached_pages_after_work";
        }
    }

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "strip",
        summary:
            "one program with and without debug information: the file shrinks, memory does not",
        sources: &[crate::catalog::writing::KOHNTOPP],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: &[],
        notes: note::ALL,
    };

    /// Which link of the program a run measures.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
    #[serde(rename_all = "kebab-case")]
    pub enum Variant {
        /// Linked with its full debug information (`-g3`).
        Debug,
        /// The same object linked with `-s`: no symbol table, no debug sections.
        Stripped,
    }

    impl Variant {
        /// Every link, in the order the harness plans them.
        pub const ALL: [Variant; 2] = [Variant::Debug, Variant::Stripped];

        /// The variant's name, as the harness plans and records it.
        pub fn name(self) -> &'static str {
            match self {
                Variant::Debug => variant::DEBUG,
                Variant::Stripped => variant::STRIPPED,
            }
        }

        /// The built program this link is (see `build.rs`).
        pub fn program(self) -> &'static str {
            match self {
                Variant::Debug => "strip-debug",
                Variant::Stripped => "strip-stripped",
            }
        }
    }

    /// What the harness gives the binary, besides `--dir`.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {
        /// Which link to measure.
        #[arg(long, value_enum)]
        pub variant: Variant,
        /// How the program is started.
        #[command(flatten)]
        #[serde(flatten)]
        pub launch: super::LaunchArgs,
    }
}

/// The `anatomy` experiment's contract.
pub mod anatomy {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            DEFAULT = "default";
        }
    }

    /// Checkpoint labels the binary announces, in the order it reaches them.
    pub mod checkpoint {
        names! {
            ADDRESSES_REPORTED = "addresses-reported";
        }
    }

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            MAIN = "main";
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        use crate::note::Hex;

        names! {
            ADDRESS_ANONYMOUS_MMAP: Hex = "address_anonymous_mmap";
            ADDRESS_FUNCTION: Hex = "address_function";
            ADDRESS_INITIALISED_STATIC: Hex = "address_initialised_static";
            ADDRESS_LARGE_MALLOC: Hex = "address_large_malloc";
            ADDRESS_PROTECTED_AFTER_USE: Hex = "address_protected_after_use";
            ADDRESS_SMALL_MALLOC: Hex = "address_small_malloc";
            ADDRESS_STACK_VARIABLE: Hex = "address_stack_variable";
            ADDRESS_ZEROED_STATIC: Hex = "address_zeroed_static";
            EXECUTABLE: String = "executable";
            /// The holes library's path, or why it was not loaded.
            HOLES_LIBRARY: String = "holes_library";
            PAGE_SIZE: u64 = "page_size";
        }
    }

    /// The shared library built with 2 MiB segment alignment (see build.rs),
    /// which the binary loads so that a library with holes is in its map.
    pub const HOLES_LIBRARY_FILE: &str = "libvmlab-holes.so";

    /// What the harness gives the binary, besides `--dir`: nothing, the
    /// process only reports where its pieces lie.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {}

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "anatomy",
        summary: "a process finds its stack, heap, code and statics in its own map; ELF segments become mappings",
        sources: &[
            crate::catalog::writing::CHODOROW,
            crate::catalog::writing::HOOGLAND,
            crate::catalog::writing::MARTIN,
        ],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: &[],
        notes: note::ALL,
    };
}

/// The `lazy-alloc` experiment's contract.
pub mod lazy_alloc {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            THP_OFF = "thp-off";
            THP_ON = "thp-on";
        }
    }

    /// Checkpoint labels the binary announces, in the order it reaches them.
    pub mod checkpoint {
        names! {
            BEFORE_MMAP = "before-mmap";
            AFTER_MMAP = "after-mmap";
            AFTER_READ_FIRST_CHUNK = "after-read-first-chunk";
            AFTER_WRITE_FIRST_CHUNK = "after-write-first-chunk";
            AFTER_WRITE_SECOND_CHUNK = "after-write-second-chunk";
            AFTER_MUNMAP = "after-munmap";
            AFTER_OVERCOMMIT_ATTEMPTS = "after-overcommit-attempts";
        }
    }

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            MAIN = "main";
        }
    }

    /// Address ranges it announces.
    pub mod region {
        names! {
            ANON = "anon";
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        names! {
            /// The process's RLIMIT_AS (`ulimit -v`).
            ADDRESS_SPACE_LIMIT: super::AddressSpaceLimit = "address_space_limit";
            CHUNK_BYTES: u64 = "chunk_bytes";
            MAP_BYTES: u64 = "map_bytes";
            OVERCOMMIT_PIECE_BYTES: u64 = "overcommit_piece_bytes";
            OVERCOMMIT_PIECES_MAPPED: u64 = "overcommit_pieces_mapped";
            OVERCOMMIT_PIECES_REFUSED_WITH: String = "overcommit_pieces_refused_with";
            OVERCOMMIT_PIECES_REQUESTED: u64 = "overcommit_pieces_requested";
            OVERCOMMIT_RAM_AND_SWAP_BYTES: u64 = "overcommit_ram_and_swap_bytes";
            OVERCOMMIT_SINGLE_BYTES: u64 = "overcommit_single_bytes";
            OVERCOMMIT_SINGLE_RESULT: String = "overcommit_single_result";
            READ_CHECKSUM: u64 = "read_checksum";
        }
    }

    /// The process's address-space limit (RLIMIT_AS, `ulimit -v`), as
    /// [`note::ADDRESS_SPACE_LIMIT`] carries it: bytes, or `unlimited`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum AddressSpaceLimit {
        /// Mappings beyond this many bytes of address space are refused.
        Bytes(u64),
        /// No limit.
        Unlimited,
    }

    impl std::fmt::Display for AddressSpaceLimit {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                AddressSpaceLimit::Bytes(bytes) => write!(f, "{bytes}"),
                AddressSpaceLimit::Unlimited => f.write_str("unlimited"),
            }
        }
    }

    impl std::str::FromStr for AddressSpaceLimit {
        type Err = String;

        fn from_str(text: &str) -> Result<AddressSpaceLimit, String> {
            match text {
                "unlimited" => Ok(AddressSpaceLimit::Unlimited),
                _ => text
                    .parse()
                    .map(AddressSpaceLimit::Bytes)
                    .map_err(|_| format!("'{text}' is neither bytes nor 'unlimited'")),
            }
        }
    }

    /// What `overcommit_single_result` says the kernel answered (besides other
    /// errno names).
    pub mod result {
        /// The mapping was granted.
        pub const MAPPED: &str = "mapped";
        /// The mapping was refused for want of memory.
        pub const ENOMEM: &str = "ENOMEM";
    }

    /// Whether transparent huge pages may back the mapping: one per variant.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
    #[serde(rename_all = "kebab-case")]
    pub enum Thp {
        /// madvise(MADV_NOHUGEPAGE): base pages only.
        ThpOff,
        /// madvise(MADV_HUGEPAGE): PMD-sized pages where the mapping is aligned.
        ThpOn,
    }

    impl Thp {
        /// The variant this setting names.
        pub fn variant(self) -> &'static str {
            match self {
                Thp::ThpOff => variant::THP_OFF,
                Thp::ThpOn => variant::THP_ON,
            }
        }
    }

    /// What the harness gives the binary, besides `--dir`.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {
        /// Bytes of anonymous memory mapped.
        #[arg(long)]
        pub map_bytes: usize,
        /// Bytes read, then written, at each step (the seed-sized run uses 1 GiB).
        #[arg(long)]
        pub chunk_bytes: usize,
        /// THP on or off for the mapping.
        #[arg(long, value_enum)]
        pub variant: Thp,
        /// Also try mappings larger than RAM + swap and report what the kernel said.
        #[arg(long)]
        pub overcommit_test: bool,
    }

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "lazy-alloc",
        summary:
            "8 GiB of anonymous memory: address space and commit at once, memory only when written",
        sources: &[
            crate::catalog::writing::HOOGLAND,
            crate::catalog::writing::MARTIN,
        ],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: region::ALL,
        notes: note::ALL,
    };
}

/// The `shared-file` experiment's contract.
pub mod shared_file {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            DEFAULT = "default";
            SHM = "shm";
        }
    }

    /// Checkpoint labels the binary announces, in the order it reaches them.
    pub mod checkpoint {
        names! {
            ALL_READING = "all-reading";
            AFTER_ONE_EXITS = "after-one-exits";
            AFTER_TWO_EXIT = "after-two-exit";
        }
    }

    /// The most sharers a run may have: every checkpoint line names each one
    /// with its pid and must fit the experiment's fixed line buffer.
    pub const MAX_SHARERS: usize = 50;

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            MAIN = "main";
            SHARER_ANY = "sharer-*";
        }

        /// The role of the `i`-th sharer, counted from 1 (what `SHARER_ANY` matches).
        pub fn sharer(i: usize) -> String {
            format!("sharer-{i}")
        }
    }

    /// Address ranges it announces.
    pub mod region {
        names! {
            FILE = "file";
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        names! {
            FILE_PAGES: u64 = "file_pages";
            PAGE_CACHE_PAGES_AFTER_ONE_EXITS: u64 = "page_cache_pages_after_one_exits";
            PAGE_CACHE_PAGES_AFTER_TWO_EXIT: u64 = "page_cache_pages_after_two_exit";
            PAGE_CACHE_PAGES_ALL_READING: u64 = "page_cache_pages_all_reading";
        }

        /// The note with the page cache's count of the file's pages at `checkpoint`.
        pub fn page_cache_pages_at(checkpoint: &str) -> Option<crate::note::Note<u64>> {
            use super::checkpoint as c;
            match checkpoint {
                c::ALL_READING => Some(PAGE_CACHE_PAGES_ALL_READING),
                c::AFTER_ONE_EXITS => Some(PAGE_CACHE_PAGES_AFTER_ONE_EXITS),
                c::AFTER_TWO_EXIT => Some(PAGE_CACHE_PAGES_AFTER_TWO_EXIT),
                _ => None,
            }
        }
    }

    /// What the harness gives the binary, besides `--dir`.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {
        /// Bytes in the file.
        #[arg(long)]
        pub file_bytes: u64,
        /// How many processes map and read it.
        #[arg(long)]
        pub sharers: usize,
        /// Share a POSIX shared-memory object (shm_open) instead of a file.
        #[arg(long)]
        pub shm: bool,
    }

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "shared-file",
        summary: "N processes map one file: Pss is Rss/N, and rises when a sharer exits",
        sources: &[crate::catalog::writing::MARTIN],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: region::ALL,
        notes: note::ALL,
    };
}

/// The `many-processes` experiment's contract.
pub mod many_processes {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            DEFAULT = "default";
        }
    }

    /// Checkpoint labels the binary announces, in the order it reaches them.
    pub mod checkpoint {
        names! {
            BEFORE_START = "before-start";
            ALL_STARTED = "all-started";
            AFTER_EXIT = "after-exit";
        }
    }

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            MAIN = "main";
            WORKER = "worker";
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        names! {
            COUNT: u64 = "count";
            WORKER_KIND: String = "worker_kind";
            /// The sizes of the worker's mallocs, in order, space-separated.
            WORKER_MALLOCS: String = "worker_mallocs";
        }
    }

    /// The `worker_kind` note when the worker is the seed's own program, the only
    /// kind the seed's figures are judged on.
    pub const STATIC_C_WORKER: &str = "static C (cc -static -O2), the seed's program";

    /// What the harness gives the binary, besides `--dir`.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {
        /// How many processes to start.
        #[arg(long)]
        pub count: usize,
        /// Use this executable in worker mode even if a C compiler is available.
        #[arg(long)]
        pub no_static_worker: bool,
    }

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "many-processes",
        summary: "a thousand tiny processes: what one more process really costs, and who pays",
        sources: &[crate::catalog::writing::BERNSTEIN],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: &[],
        notes: note::ALL,
    };
}

/// The `fault-costs` experiment's contract.
pub mod fault_costs {
    use super::ExperimentInfo;

    /// Variant names the harness plans.
    pub mod variant {
        names! {
            DEFAULT = "default";
        }
    }

    /// Checkpoint labels the binary announces, in the order it reaches them.
    pub mod checkpoint {
        names! {
            BEFORE_MEASURING = "before-measuring";
            AFTER_ANON_FIRST_TOUCH = "after-anon-first-touch";
            AFTER_ZERO_PAGE_READ = "after-zero-page-read";
            AFTER_THP_FIRST_TOUCH = "after-thp-first-touch";
            AFTER_FILE_MINOR_FAULT = "after-file-minor-fault";
            AFTER_FILE_MAJOR_FAULT = "after-file-major-fault";
            AFTER_FILE_MAJOR_FAULT_NO_READ_AHEAD = "after-file-major-fault-no-read-ahead";
            AFTER_FILE_SHARED_WRITE_FAULT = "after-file-shared-write-fault";
            AFTER_FILE_PRIVATE_COW_FAULT = "after-file-private-cow-fault";
            AFTER_FORK_CHILD = "after-fork-child";
            AFTER_COW_FAULT = "after-cow-fault";
            BEFORE_FORK = "before-fork";
            AFTER_FORK = "after-fork";
            AFTER_MUNMAP = "after-munmap";
        }
    }

    /// Roles of the processes it names at checkpoints.
    pub mod role {
        names! {
            MAIN = "main";
            CHILD = "child";
        }
    }

    /// Address ranges it announces.
    pub mod region {
        names! {
            ANON = "anon";
            COW = "cow";
            FILE_COLD = "file-cold";
            FILE_PRIVATE_WRITE = "file-private-write";
            FILE_RANDOM = "file-random";
            FILE_SHARED_WRITE = "file-shared-write";
            FILE_WARM = "file-warm";
            THP = "thp";
            ZERO = "zero";
        }
    }

    /// Keys of the notes it sends.
    pub mod note {
        names! {
            BLOCK_BYTES: u64 = "block_bytes";
            /// Every timing note: `<stem>_nanos` and `<stem>_cpu_nanos` for each
            /// stem in [`super::timing`], one figure per repetition.
            TIMINGS: crate::note::Series = "cost_*_nanos";
            FILE_BYTES: u64 = "file_bytes";
            FILE_PAGES_CACHED_BEFORE: u64 = "file_pages_cached_before";
            WRITE_FILE_BYTES: u64 = "write_file_bytes";
            WRITE_FILE_PAGES_CACHED_BEFORE: u64 = "write_file_pages_cached_before";
            RANDOM_BLOCK_BYTES: u64 = "random_block_bytes";
            REPETITIONS: u64 = "repetitions";
            THP_BLOCK_BYTES: u64 = "thp_block_bytes";
            /// Why the THP kind was left out.
            THP_UNAVAILABLE: String = "thp_unavailable";
            /// What failed when the page cache was to be dropped.
            PAGE_CACHE_DROP_FAILED: String = "page_cache_drop_failed";
        }
    }

    /// The stems of the timing notes: each kind's wall-clock nanoseconds go in
    /// `<stem>_nanos`, its thread CPU time in `<stem>_cpu_nanos` (both match
    /// `note::TIMINGS`).
    pub mod timing {
        use crate::note::{NamedNote, Series};

        names! {
            ANON_FIRST_TOUCH = "cost_anon_first_touch";
            ZERO_PAGE_READ = "cost_zero_page_read";
            THP_FIRST_TOUCH = "cost_thp_first_touch";
            FILE_MINOR_FAULT_AROUND = "cost_file_minor_fault_around";
            FILE_MAJOR_READ_AHEAD = "cost_file_major_read_ahead";
            FILE_MAJOR_NO_READ_AHEAD = "cost_file_major_no_read_ahead";
            FILE_SHARED_WRITE = "cost_file_shared_write";
            FILE_PRIVATE_COW = "cost_file_private_cow";
            COW_AFTER_FORK = "cost_cow_after_fork";
            FORK = "cost_fork";
            MUNMAP = "cost_munmap";
            /// The suffix of the wall-clock series.
            NANOS = "_nanos";
            /// The suffix of the thread CPU time series.
            CPU_NANOS = "_cpu_nanos";
        }

        /// The note with the wall-clock nanoseconds of timing `stem`.
        pub fn wall_note(stem: &str) -> NamedNote<Series> {
            NamedNote::joined(&[stem, NANOS])
        }

        /// The note with the thread CPU nanoseconds of timing `stem`.
        pub fn cpu_note(stem: &str) -> NamedNote<Series> {
            NamedNote::joined(&[stem, CPU_NANOS])
        }
    }

    /// What the harness gives the binary, besides `--dir`.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clap::Args)]
    pub struct Args {
        /// Bytes touched per repetition by the 4 KiB kinds (anonymous, zero page,
        /// file with fault-around and read-ahead, file writes, COW, munmap).
        #[arg(long)]
        pub block_bytes: usize,
        /// Bytes touched per repetition by the THP kind (a multiple of the PMD size).
        #[arg(long)]
        pub thp_block_bytes: usize,
        /// Bytes read per repetition from the cold file with read-ahead off (every
        /// page is a disk read, so this is smaller).
        #[arg(long)]
        pub random_block_bytes: usize,
        /// How many times each loop runs (each on a fresh block), 1 to 32.
        #[arg(long)]
        pub repetitions: usize,
        /// Bytes one PMD entry maps (the kernel's `hpage_pmd_size`): the size of
        /// one transparent huge page. None when the kernel has no THP, and then
        /// the THP kind is left out.
        #[arg(long)]
        pub pmd_bytes: Option<usize>,
    }

    /// Name, summary, sources and the names both sides use.
    pub const INFO: ExperimentInfo = ExperimentInfo {
        name: "fault-costs",
        summary: "what each kind of page fault costs: anonymous, THP, zero page, file, disk, file writes, COW, fork, munmap",
        sources: &[
            crate::catalog::writing::KOHNTOPP,
            crate::catalog::writing::CHODOROW,
            crate::catalog::writing::HOOGLAND,
        ],
        variants: variant::ALL,
        checkpoints: checkpoint::ALL,
        roles: role::ALL,
        regions: region::ALL,
        notes: note::ALL,
    };
}

/// A writing an experiment reproduces, named the way people cite it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// File name in `shared/seeds/` (what claims and results record).
    pub file: &'static str,
    /// Title.
    pub title: &'static str,
    /// Author(s).
    pub author: &'static str,
}

/// The executable of experiment `name`: `vmlab-<name>`, so that an installed
/// experiment never shadows a system tool of the same name (`strip`).
pub fn binary_name(name: &str) -> String {
    format!("vmlab-{name}")
}

impl Source {
    /// `"Title", Author`: how every listing and report names the writing.
    pub fn citation(&self) -> String {
        format!("\"{}\", {}", self.title, self.author)
    }
}

/// The five writings' file names in `shared/seeds/`, one constant each, named
/// after the first author: every reference to a writing goes through these.
pub mod writing {
    /// "Notes on VM", Kristian Köhntopp.
    pub const KOHNTOPP: &str = "000_242c9450f32c56c8.txt";
    /// "Playing with Virtual Memory", Kristina Chodorow.
    pub const CHODOROW: &str = "001_3c62cec1a17aa088.txt";
    /// "Hey dude, where's my memory?", Frits Hoogland.
    pub const HOOGLAND: &str = "002_4ca7868f1a8c4269.txt";
    /// "Some things I've learned about memory", Evan Martin.
    pub const MARTIN: &str = "003_189c8fe560e6e530.txt";
    /// "ten thousand small processes", D. J. Bernstein and Jeff Roberson.
    pub const BERNSTEIN: &str = "004_27fc77f6d1b07880.txt";
}

/// The five writings the experiments reproduce.
pub const SOURCES: &[Source] = &[
    Source {
        file: writing::KOHNTOPP,
        title: "Notes on VM",
        author: "Kristian Köhntopp",
    },
    Source {
        file: writing::CHODOROW,
        title: "Playing with Virtual Memory",
        author: "Kristina Chodorow",
    },
    Source {
        file: writing::HOOGLAND,
        title: "Hey dude, where's my memory?",
        author: "Frits Hoogland",
    },
    Source {
        file: writing::MARTIN,
        title: "Some things I've learned about memory",
        author: "Evan Martin",
    },
    Source {
        file: writing::BERNSTEIN,
        title: "ten thousand small processes",
        author: "D. J. Bernstein and Jeff Roberson",
    },
];

/// The writing stored as `file`, if it is one of [`SOURCES`].
pub fn source(file: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.file == file)
}

/// Every experiment, in the order `harness all` runs them.
pub const CATALOG: &[ExperimentInfo] = &[
    mmap_file::INFO,
    fork_cow::INFO,
    tiny_malloc::INFO,
    static_dynamic::INFO,
    strip::INFO,
    anatomy::INFO,
    lazy_alloc::INFO,
    shared_file::INFO,
    many_processes::INFO,
    fault_costs::INFO,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::is_valid_name;

    #[test]
    fn the_few_word_notes_read_back_as_they_were_written() {
        use lazy_alloc::{note as lazy, AddressSpaceLimit};
        use mmap_file::{note as mmap, FileSource};
        for source in [FileSource::Written, FileSource::Reused] {
            let text = mmap::FILE_SOURCE.format(&source);
            assert_eq!(mmap::FILE_SOURCE.parse(&text), Some(source));
        }
        assert_eq!(mmap::FILE_SOURCE.format(&FileSource::Reused), "reused");
        assert_eq!(mmap::FILE_SOURCE.parse("copied"), None);
        for limit in [
            AddressSpaceLimit::Bytes(1 << 30),
            AddressSpaceLimit::Unlimited,
        ] {
            let text = lazy::ADDRESS_SPACE_LIMIT.format(&limit);
            assert_eq!(lazy::ADDRESS_SPACE_LIMIT.parse(&text), Some(limit));
        }
        assert_eq!(
            lazy::ADDRESS_SPACE_LIMIT.format(&AddressSpaceLimit::Unlimited),
            "unlimited"
        );
        assert_eq!(lazy::ADDRESS_SPACE_LIMIT.parse("lots"), None);
    }

    #[test]
    fn a_named_note_matches_the_pattern_it_is_formed_for() {
        let delta = static_dynamic::note::kernel_delta_at(&static_dynamic::checkpoint::n(4));
        assert_eq!(delta.key(), "n-4-kernel-delta");
        assert!(name_matches(
            static_dynamic::note::KERNEL_DELTA.key(),
            delta.key()
        ));
        let wall = fault_costs::timing::wall_note(fault_costs::timing::FILE_PRIVATE_COW);
        let cpu = fault_costs::timing::cpu_note(fault_costs::timing::FILE_MAJOR_NO_READ_AHEAD);
        for key in [wall.key(), cpu.key()] {
            assert!(name_matches(fault_costs::note::TIMINGS.key(), key), "{key}");
        }
    }

    #[test]
    fn every_name_is_unique_and_safe_as_a_folder_name() {
        for (i, e) in CATALOG.iter().enumerate() {
            assert!(is_valid_name(e.name), "{}", e.name);
            assert!(CATALOG[..i].iter().all(|o| o.name != e.name), "{}", e.name);
        }
    }

    #[test]
    fn every_experiments_arguments_read_back_as_written() {
        use crate::args::round_trip;
        for shm in [false, true] {
            round_trip(&shared_file::Args {
                file_bytes: 1 << 20,
                sharers: 4,
                shm,
            })
            .unwrap();
        }
        round_trip(&fork_cow::Args {
            variant: fork_cow::Variant::Zygote,
            region_bytes: 16 << 20,
            children: Some(4),
            pmd_bytes: Some(2 << 20),
        })
        .unwrap();
        round_trip(&fork_cow::Args {
            variant: fork_cow::Variant::ThpOn,
            region_bytes: 1 << 20,
            children: None,
            pmd_bytes: None,
        })
        .unwrap();
        for no_static_worker in [false, true] {
            round_trip(&many_processes::Args {
                count: 100,
                no_static_worker,
            })
            .unwrap();
        }
        for cache in [
            mmap_file::Cache::Warm,
            mmap_file::Cache::Cold,
            mmap_file::Cache::ColdRandom,
        ] {
            round_trip(&mmap_file::Args {
                cache,
                file_bytes: 1 << 20,
                map_bytes: 1_000_000,
                write_chunk_bytes: 1024,
                keep_file: cache == mmap_file::Cache::Warm,
                reuse_file: cache != mmap_file::Cache::Warm,
            })
            .unwrap();
        }
        round_trip(&anatomy::Args {}).unwrap();
        round_trip(&fault_costs::Args {
            block_bytes: 1 << 20,
            thp_block_bytes: 4 << 20,
            random_block_bytes: 128 << 10,
            repetitions: 8,
            pmd_bytes: Some(2 << 20),
        })
        .unwrap();
        round_trip(&fault_costs::Args {
            block_bytes: 1 << 20,
            thp_block_bytes: 4 << 20,
            random_block_bytes: 128 << 10,
            repetitions: 8,
            pmd_bytes: None,
        })
        .unwrap();
        for (variant, overcommit_test) in [
            (lazy_alloc::Thp::ThpOff, true),
            (lazy_alloc::Thp::ThpOn, false),
        ] {
            round_trip(&lazy_alloc::Args {
                map_bytes: 1 << 30,
                chunk_bytes: 1 << 28,
                variant,
                overcommit_test,
            })
            .unwrap();
        }
        for variant in tiny_malloc::Variant::ALL {
            round_trip(&tiny_malloc::Args {
                variant,
                launch: LaunchArgs { no_aslr: false },
            })
            .unwrap();
        }
        for (_, linking, mode) in static_dynamic::VARIANTS {
            round_trip(&static_dynamic::Args {
                linking,
                mode,
                counts: vec![1, 8, 32],
                launch: LaunchArgs { no_aslr: true },
            })
            .unwrap();
        }
        for variant in strip::Variant::ALL {
            for no_aslr in [false, true] {
                round_trip(&strip::Args {
                    variant,
                    launch: LaunchArgs { no_aslr },
                })
                .unwrap();
            }
        }
    }

    #[test]
    fn fork_cows_variants_are_parsed_by_their_names() {
        use clap::ValueEnum;
        for v in fork_cow::Variant::ALL {
            assert_eq!(fork_cow::Variant::from_str(v.name(), false), Ok(v));
        }
        let names: Vec<_> = fork_cow::Variant::ALL.map(fork_cow::Variant::name).to_vec();
        assert_eq!(names, fork_cow::INFO.variants);
    }

    #[test]
    fn fault_costs_timing_notes_and_lazy_alloc_settings_are_in_their_contracts() {
        use fault_costs::timing;
        let stems = [
            timing::ANON_FIRST_TOUCH,
            timing::ZERO_PAGE_READ,
            timing::THP_FIRST_TOUCH,
            timing::FILE_MINOR_FAULT_AROUND,
            timing::FILE_MAJOR_READ_AHEAD,
            timing::FILE_MAJOR_NO_READ_AHEAD,
            timing::COW_AFTER_FORK,
            timing::FORK,
            timing::MUNMAP,
        ];
        let notes: Vec<String> = stems
            .iter()
            .flat_map(|s| [timing::wall_note(s), timing::cpu_note(s)])
            .map(|n| n.key().to_string())
            .collect();
        let info = fault_costs::INFO;
        assert_eq!(
            info.unlisted(NameKind::Note, notes.iter().map(String::as_str)),
            None
        );
        let settings = [lazy_alloc::Thp::ThpOff, lazy_alloc::Thp::ThpOn];
        let names = settings.iter().map(|t| t.variant());
        assert_eq!(lazy_alloc::INFO.unlisted(NameKind::Variant, names), None);
    }

    /// What `to_args` writes for an enum value: its serialised name.
    fn written<T: serde::Serialize>(value: &T) -> String {
        let value = serde_json::to_value(value).unwrap();
        value.as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn every_variant_enum_writes_the_name_the_contract_lists() {
        for v in strip::Variant::ALL {
            assert_eq!(written(&v), v.name());
            assert!(strip::INFO.variants.contains(&v.name()));
        }
        assert_eq!(strip::Variant::ALL.len(), strip::INFO.variants.len());
        for v in tiny_malloc::Variant::ALL {
            assert_eq!(written(&v), v.name());
        }
        let planned: Vec<&str> = tiny_malloc::Variant::ALL.map(|v| v.name()).into();
        assert_eq!(planned, tiny_malloc::INFO.variants);
        let planned: Vec<&str> = static_dynamic::VARIANTS.iter().map(|v| v.0).collect();
        assert_eq!(planned, static_dynamic::INFO.variants);
    }

    #[test]
    fn a_star_stands_for_a_run_time_number() {
        assert!(name_matches("sharer-*", "sharer-12"));
        assert!(!name_matches("sharer-*", "sharer-"));
        assert!(name_matches("n-*-kernel-delta", "n-4-kernel-delta"));
        assert!(!name_matches("n-*-kernel-delta", "n-4"));
        assert!(name_matches("main", "main"));
        assert!(!name_matches("main", "mains"));
    }

    #[test]
    fn the_contract_names_what_it_does_not_list() {
        let info = shared_file::INFO;
        let roles = ["main", "sharer-3", "worker"];
        assert_eq!(
            info.unlisted(NameKind::Role, roles.into_iter()),
            Some("worker")
        );
        let labels = info.checkpoints.iter().copied();
        assert_eq!(info.unlisted(NameKind::Checkpoint, labels), None);
    }

    #[test]
    fn every_listed_name_is_safe_on_the_protocol_line() {
        for e in CATALOG {
            for name in e
                .variants
                .iter()
                .chain(e.checkpoints)
                .chain(e.roles)
                .chain(e.regions)
                .chain(e.notes)
            {
                let concrete = name.replace('*', "1");
                assert!(
                    !concrete.is_empty() && !concrete.contains(char::is_whitespace),
                    "{}: {name:?}",
                    e.name
                );
            }
        }
    }

    #[test]
    fn every_source_of_every_experiment_has_a_title_and_an_author() {
        for e in CATALOG {
            for file in e.sources {
                let s = source(file).unwrap_or_else(|| panic!("{}: unknown source {file}", e.name));
                assert!(!s.title.is_empty() && !s.author.is_empty(), "{file}");
            }
        }
    }
}
