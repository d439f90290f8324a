//! The slide-sized programs: one short C program per demonstration, in
//! `experiments/examples/`, written the way the writings show theirs (print the
//! pid, wait for Enter between steps). Each prints, before every wait, a line
//! that is the built-in experiment's checkpoint label in words (`after mmap`),
//! so `harness trace` names its checkpoints as the experiment does, and the two
//! can be compared checkpoint by checkpoint. static-dynamic's checkpoints are
//! numbers (`n-1`), which trace leaves out of a label, so its program says the
//! count in words (`two instances`) and the two are matched by order. The sources are embedded here, so
//! `harness explain NAME --program` prints them wherever the harness runs.

/// One demonstration's program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example {
    /// The experiment it demonstrates (a catalog name).
    pub experiment: &'static str,
    /// Its file name in `experiments/examples/`.
    pub file: &'static str,
    /// The variant of the experiment that does what the program does (for
    /// `strip`, the build with debug information; stripped, it is the other;
    /// for `static-dynamic`, the build with `cc -static`; with plain `cc`, it
    /// is `dynamic-prefork`).
    pub variant: &'static str,
    /// Its source text.
    pub source: &'static str,
}

/// Every program, in the catalog's order.
pub const EXAMPLES: &[Example] = &[
    Example {
        experiment: "mmap-file",
        file: "mmap-file.c",
        variant: "warm",
        source: include_str!("../examples/mmap-file.c"),
    },
    Example {
        experiment: "fork-cow",
        file: "fork-cow.c",
        variant: "thp-off",
        source: include_str!("../examples/fork-cow.c"),
    },
    Example {
        experiment: "tiny-malloc",
        file: "tiny-malloc.c",
        variant: "dynamic",
        source: include_str!("../examples/tiny-malloc.c"),
    },
    Example {
        experiment: "lazy-alloc",
        file: "lazy-alloc.c",
        variant: "thp-off",
        source: include_str!("../examples/lazy-alloc.c"),
    },
    Example {
        experiment: "shared-file",
        file: "shared-file.c",
        variant: "default",
        source: include_str!("../examples/shared-file.c"),
    },
    Example {
        experiment: "anatomy",
        file: "anatomy.c",
        variant: "default",
        source: include_str!("../examples/anatomy.c"),
    },
    Example {
        experiment: "strip",
        file: "strip.c",
        variant: "debug",
        source: include_str!("../examples/strip.c"),
    },
    Example {
        experiment: "static-dynamic",
        file: "static-dynamic.c",
        variant: "static-prefork",
        source: include_str!("../examples/static-dynamic.c"),
    },
];

/// The program of experiment `name`, if it has one.
pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.experiment == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CATALOG;

    #[test]
    fn every_program_names_a_catalog_experiment_and_variant_and_fits_a_slide() {
        for example in EXAMPLES {
            let info = CATALOG
                .iter()
                .find(|i| i.name == example.experiment)
                .unwrap_or_else(|| panic!("{} is not in the catalog", example.experiment));
            assert!(info.variants.contains(&example.variant), "{example:?}");
            let lines = example.source.lines().count();
            assert!(
                (15..=30).contains(&lines),
                "{}: {lines} lines",
                example.file
            );
        }
    }

    #[test]
    fn each_checkpoint_line_a_program_prints_is_a_label_of_its_experiment() {
        for example in EXAMPLES {
            let info = CATALOG
                .iter()
                .find(|i| i.name == example.experiment)
                .expect("in the catalog");
            let printed: Vec<String> = example
                .source
                .match_indices("puts(\"")
                .map(|(at, _)| {
                    let rest = &example.source[at + 6..];
                    rest[..rest.find('"').unwrap_or(0)].replace(' ', "-")
                })
                .collect();
            assert!(!printed.is_empty(), "{}", example.file);
            if info.checkpoints.iter().any(|c| c.contains('*')) {
                // Numbered checkpoints (`n-*`): words, matched by order.
                let mut distinct = printed.clone();
                distinct.sort();
                distinct.dedup();
                assert_eq!(distinct.len(), printed.len(), "{}", example.file);
                continue;
            }
            for label in &printed {
                assert!(
                    info.checkpoints.contains(&label.as_str()),
                    "{}: {label}",
                    example.file
                );
            }
        }
    }
}
