//! A claims file of `trace --claims`: parsed, and when it parses, judged on
//! the fixture run's record.
#![no_main]

use harness::trace::claims;
use libfuzzer_sys::fuzz_target;

const SEED: &str = include_str!("../../harness/tests/fixtures/runs/mmap-file-quick.json");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = claims::parse(text, "fuzz.toml", "fuzz.toml") else {
        return;
    };
    let run = harness::store::baseline::parse(SEED, std::path::Path::new("seed.json"))
        .expect("the seed parses");
    for experiment in &run.experiments {
        let _ = claims::judge(&file, experiment, 4096);
        let _ = claims::judge(&file, experiment, 0);
    }
});
