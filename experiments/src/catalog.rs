//! The experiments vmlab knows, in the order `all` runs them.
//!
//! The harness plans and judges each one; this table is where both sides agree on
//! the name (which is also the binary's name and the results folder's name).

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
}

/// `mmap-file`.
pub const MMAP_FILE: ExperimentInfo = ExperimentInfo {
    name: "mmap-file",
    summary: "mmap a 1 GB file: address space grows at once, memory only as pages are read",
    sources: &["001_3c62cec1a17aa088.txt"],
};

/// `fork-cow`.
pub const FORK_COW: ExperimentInfo = ExperimentInfo {
    name: "fork-cow",
    summary: "fork: the child shares every page until one side writes it; Rss, Pss, faults and page frames of both",
    sources: &[
        "000_242c9450f32c56c8.txt",
        "002_4ca7868f1a8c4269.txt",
        "003_189c8fe560e6e530.txt",
    ],
};

/// `tiny-malloc`.
pub const TINY_MALLOC: ExperimentInfo = ExperimentInfo {
    name: "tiny-malloc",
    summary:
        "five small mallocs in static, dynamic, libc-free and Rust builds: where every page goes",
    sources: &["004_27fc77f6d1b07880.txt"],
};

/// `static-dynamic`.
pub const STATIC_DYNAMIC: ExperimentInfo = ExperimentInfo {
    name: "static-dynamic",
    summary: "a server linked statically and dynamically, 1 to 32 instances forked or exec'd",
    sources: &["000_242c9450f32c56c8.txt"],
};

/// `strip`.
pub const STRIP: ExperimentInfo = ExperimentInfo {
    name: "strip",
    summary: "one program with and without debug information: the file shrinks, memory does not",
    sources: &["000_242c9450f32c56c8.txt"],
};

/// `anatomy`.
pub const ANATOMY: ExperimentInfo = ExperimentInfo {
    name: "anatomy",
    summary: "a process finds its stack, heap, code and statics in its own map; ELF segments become mappings",
    sources: &[
        "001_3c62cec1a17aa088.txt",
        "002_4ca7868f1a8c4269.txt",
        "003_189c8fe560e6e530.txt",
    ],
};

/// `lazy-alloc`.
pub const LAZY_ALLOC: ExperimentInfo = ExperimentInfo {
    name: "lazy-alloc",
    summary:
        "8 GiB of anonymous memory: address space and commit at once, memory only when written",
    sources: &["002_4ca7868f1a8c4269.txt", "003_189c8fe560e6e530.txt"],
};

/// `shared-file`.
pub const SHARED_FILE: ExperimentInfo = ExperimentInfo {
    name: "shared-file",
    summary: "N processes map one file: Pss is Rss/N, and rises when a sharer exits",
    sources: &["003_189c8fe560e6e530.txt"],
};

/// `many-processes`.
pub const MANY_PROCESSES: ExperimentInfo = ExperimentInfo {
    name: "many-processes",
    summary: "a thousand tiny processes: what one more process really costs, and who pays",
    sources: &["004_27fc77f6d1b07880.txt"],
};

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

impl ExperimentInfo {
    /// This experiment's executable: see [`binary_name`].
    pub fn binary_name(&self) -> String {
        binary_name(self.name)
    }
}

impl Source {
    /// `"Title", Author`: how every listing and report names the writing.
    pub fn citation(&self) -> String {
        format!("\"{}\", {}", self.title, self.author)
    }
}

/// The five writings the experiments reproduce.
pub const SOURCES: &[Source] = &[
    Source {
        file: "000_242c9450f32c56c8.txt",
        title: "Notes on VM",
        author: "Kristian Köhntopp",
    },
    Source {
        file: "001_3c62cec1a17aa088.txt",
        title: "Playing with Virtual Memory",
        author: "Kristina Chodorow",
    },
    Source {
        file: "002_4ca7868f1a8c4269.txt",
        title: "Hey dude, where's my memory?",
        author: "Frits Hoogland",
    },
    Source {
        file: "003_189c8fe560e6e530.txt",
        title: "Some things I've learned about memory",
        author: "Evan Martin",
    },
    Source {
        file: "004_27fc77f6d1b07880.txt",
        title: "ten thousand small processes",
        author: "D. J. Bernstein and Jeff Roberson",
    },
];

/// The writing stored as `file`, if it is one of [`SOURCES`].
pub fn source(file: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.file == file)
}

/// `fault-costs`.
pub const FAULT_COSTS: ExperimentInfo = ExperimentInfo {
    name: "fault-costs",
    summary: "what each kind of page fault costs: anonymous, THP, zero page, file, disk, COW, fork, munmap",
    sources: &[
        "000_242c9450f32c56c8.txt",
        "001_3c62cec1a17aa088.txt",
        "002_4ca7868f1a8c4269.txt",
    ],
};

/// Every experiment, in the order `harness all` runs them.
pub const CATALOG: &[ExperimentInfo] = &[
    MMAP_FILE,
    FORK_COW,
    TINY_MALLOC,
    STATIC_DYNAMIC,
    STRIP,
    ANATOMY,
    LAZY_ALLOC,
    SHARED_FILE,
    MANY_PROCESSES,
    FAULT_COSTS,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::is_valid_name;

    #[test]
    fn every_name_is_unique_and_safe_as_a_folder_name() {
        for (i, e) in CATALOG.iter().enumerate() {
            assert!(is_valid_name(e.name), "{}", e.name);
            assert!(CATALOG[..i].iter().all(|o| o.name != e.name), "{}", e.name);
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
