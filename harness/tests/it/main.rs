//! The harness's integration tests: one binary, one module per topic, run by
//! the runner in `trials` (each module registers its tests with `tests!`).

mod bad_inputs;
mod binaries;
mod builds;
mod cdp;
mod classroom;
mod cli;
mod compare;
mod demos;
mod engines;
mod examples;
mod failures;
mod fault_costs;
mod fixtures;
mod fork_cow;
mod fuzz;
mod gate;
mod golden;
mod install;
mod junit;
mod ktap;
mod lecture;
mod matrix;
mod mmap_file;
mod page;
mod reliability;
mod repeatability;
mod reports;
mod retry;
mod safeguards;
mod schema;
mod terminal;
mod trace;
mod trace_says;
mod trials;
mod util;

fn main() {
    trials::main(&[
        bad_inputs::tests,
        binaries::tests,
        builds::tests,
        classroom::tests,
        cli::tests,
        compare::tests,
        demos::tests,
        engines::tests,
        examples::tests,
        failures::tests,
        fault_costs::tests,
        fixtures::tests,
        fork_cow::tests,
        fuzz::tests,
        gate::tests,
        golden::tests,
        install::tests,
        junit::tests,
        lecture::tests,
        ktap::tests,
        matrix::tests,
        mmap_file::tests,
        page::tests,
        reliability::tests,
        repeatability::tests,
        reports::tests,
        retry::tests,
        safeguards::tests,
        schema::tests,
        terminal::tests,
        trace::tests,
        trace_says::tests,
    ]);
}
