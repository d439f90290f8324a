//! The harness's integration tests: one binary, one module per topic.

mod classroom;
mod cli;
mod failures;
mod fixtures;
mod matrix;
mod mmap_file;
mod util;
