//! The harness's integration tests: one binary, one module per topic.

mod binaries;
mod cli;
mod failures;
mod fixtures;
mod mmap_file;
mod util;
