//! A line of the experiment protocol, as the harness reads it from a child.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = experiments::protocol::parse(line);
    }
});
