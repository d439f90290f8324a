//! tiny-malloc, `std` variant: the five allocations of "ten thousand small
//! processes" (D. J. Bernstein) as an ordinary Rust program, with the standard
//! library's start-up and the system allocator. Built by build.rs with rustc.
//! It stops itself (SIGSTOP) before and after the allocations to be measured.

use std::hint::black_box;

extern "C" {
    fn raise(signal: i32) -> i32;
}

/// SIGSTOP on Linux.
const SIGSTOP: i32 = 19;

fn stop() {
    // SAFETY: raise only sends a signal to this process.
    unsafe {
        raise(SIGSTOP);
    }
}

fn main() {
    stop();
    let kept = black_box((
        Box::new([1u8; 360]),
        Box::new([2u8; 80]),
        Box::new([3u8; 180]),
        Box::new([4u8; 16]),
        Box::new([5u8; 440]),
    ));
    stop();
    black_box(&kept);
    std::process::exit(0);
}
