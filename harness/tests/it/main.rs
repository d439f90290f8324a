//! The harness's integration tests: one binary, one module per topic, run by
//! the runner in `trials` (each module registers its tests with `tests!`).

mod binaries;
mod cdp;
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
mod lecture;
mod matrix;
mod mmap_file;
mod reliability;
mod repeatability;
mod reports;
mod trace;
mod trials;
mod util;

fn main() {
    trials::main(&[
        binaries::tests,
        classroom::tests,
        cli::tests,
        compare::tests,
        demos::tests,
        failures::tests,
        fault_costs::tests,
        fixtures::tests,
        fork_cow::tests,
        fuzz::tests,
        install::tests,
        lecture::tests,
        ktap::tests,
        matrix::tests,
        mmap_file::tests,
        reliability::tests,
        repeatability::tests,
        reports::tests,
        trace::tests,
    ]);
}
