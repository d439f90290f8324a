//! The harness's integration tests: one binary, one module per topic.

mod binaries;
mod classroom;
mod cli;
mod compare;
mod demos;
mod failures;
mod fault_costs;
mod fixtures;
mod fork_cow;
mod fuzz;
mod install;
mod ktap;
mod matrix;
mod mmap_file;
mod reliability;
mod repeatability;
mod reports;
mod trace;
mod util;
