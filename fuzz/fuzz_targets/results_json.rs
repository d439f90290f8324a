//! A results.json read back (`compare`, `--baseline`, `matrix --results`):
//! any bytes are a record or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = harness::store::baseline::parse(text, std::path::Path::new("fuzz.json"));
    }
});
