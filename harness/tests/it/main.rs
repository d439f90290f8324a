//! The harness's integration tests: one binary, one module per topic.

mod cli;
mod demos;
mod failures;
mod fixtures;
mod mmap_file;
mod util;
