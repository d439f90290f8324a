//! Records that pass the checks of a results.json read back, judged again by
//! every experiment's judge and by the comparison, then rendered in every
//! report format: nothing that parses may panic or overflow further on.
#![no_main]

use harness::report::{self, Format};
use libfuzzer_sys::fuzz_target;

/// A valid record to mutate from, so that the fuzzer reaches past parsing.
const SEED: &str = include_str!("../../harness/tests/fixtures/runs/mmap-file-quick.json");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("fuzz.json");
    let Ok(run) = harness::store::baseline::parse(text, path) else {
        return;
    };
    let seed = harness::store::baseline::parse(SEED, path).expect("the seed parses");
    for experiment in &run.experiments {
        if let Some(judge) = harness::experiment::find(&experiment.name) {
            let _ = judge.judge(experiment, &run.environment);
        }
    }
    for (a, b) in [(&seed, &run), (&run, &seed), (&run, &run)] {
        let cmp = harness::compare::compare(a, b, Default::default());
        let _ = report::comparison::text(&cmp, "fuzz");
        let _ = report::comparison::markdown(&cmp, "fuzz");
        let _ = report::ktap::render(b, Some(&cmp));
        let _ = harness::outcome::run_cases(b, harness::outcome::Against::Baseline(&cmp));
    }
    for format in [Format::Table, Format::Markdown, Format::Json, Format::Csv, Format::Tap] {
        let _ = report::render(&run, format);
    }
    let _ = report::run_files(&run);
});
