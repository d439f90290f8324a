//! A program's ELF file as `trace` reads it (sections summed, segments).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = harness::elf::parse("fuzz", data);
});
