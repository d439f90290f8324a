//! anatomy: a process finds its own pieces in its memory map, as "Playing with
//! Virtual Memory" (Kristina Chodorow, seed 001) does with pmap, "Hey dude, where's
//! my memory?" (Frits Hoogland, seed 002) with /proc/self/maps and readelf, and
//! "Some things I've learned about memory" (Evan Martin, seed 003) with its
//! remarks on r-x, rw- and ---p regions.
//!
//! The process reports the address of a stack variable, a small and a large heap
//! allocation, a function, an initialised and a zero-initialised static, and an
//! anonymous mmap, then stops once so the harness can place each in a mapping.
//! Beside them lies a region it wrote in full and then made inaccessible
//! (PROT_NONE), to show what a ---p line can hold.

use std::hint::black_box;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use experiments::catalog::anatomy::{checkpoint, note, Args, HOLES_LIBRARY_FILE};
use experiments::mapping::Mapping;
use experiments::note::{Hex, Note};
use experiments::pages::page_size;
use experiments::Checkpoints;

/// An initialised static: it lives in .data, in the file.
static INITIALISED: AtomicU64 = AtomicU64::new(0x5eed_0001);
/// A zero-initialised static: it lives in .bss, which takes no room in the file.
static ZEROED: AtomicU64 = AtomicU64::new(0);

/// A small allocation (malloc serves it from the brk heap) and a large one (above
/// glibc's default 128 KiB mmap threshold: a mapping of its own).
const SMALL_ALLOC_BYTES: usize = 4;
const LARGE_ALLOC_BYTES: usize = 1 << 20;
const ANON_MMAP_BYTES: usize = 64 * 1024;
/// The region written in full, then given PROT_NONE.
const PROTECTED_BYTES: usize = 256 * 1024;

fn main() {
    experiments::prelude::main::<Args>(
        "anatomy",
        "report the addresses of a process's pieces",
        |start| run(&start.args, start.checkpoints),
    )
}

/// A function whose address is reported: code, in the executable's r-xp mapping.
#[inline(never)]
fn a_function(x: u64) -> u64 {
    black_box(x.wrapping_mul(3))
}

/// A fresh anonymous region with every page written, then made inaccessible:
/// mprotect changes what the process may do with the pages, not whether it has
/// them.
fn protected_after_use() -> io::Result<Mapping> {
    let region = Mapping::anonymous(PROTECTED_BYTES)?;
    // SAFETY: every byte written lies inside the region, which is writable.
    unsafe { std::ptr::write_bytes(region.ptr(), 0x5a, PROTECTED_BYTES) };
    region.protect(libc::PROT_NONE)?;
    Ok(region)
}

fn run(_args: &Args, mut session: Checkpoints) -> io::Result<()> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    session.note(note::EXECUTABLE, exe.display())?;
    let library = HolesLibrary::load();
    match &library {
        Ok(lib) => session.note(note::HOLES_LIBRARY, lib.path.display())?,
        Err(why) => session.note(note::HOLES_LIBRARY, format_args!("not loaded: {why}"))?,
    }

    let on_stack: u64 = black_box(42);
    // SAFETY: plain malloc calls; the blocks are freed below.
    let small = unsafe { libc::malloc(SMALL_ALLOC_BYTES) }.cast::<u8>();
    // SAFETY: as above.
    let large = unsafe { libc::malloc(LARGE_ALLOC_BYTES) }.cast::<u8>();
    if small.is_null() || large.is_null() {
        return Err(io::Error::other("malloc failed"));
    }
    let anon = Mapping::anonymous(ANON_MMAP_BYTES)?;
    let protected = protected_after_use()?;
    // Touch what was asked for, so each piece is really in use.
    // SAFETY: each write is inside its block.
    unsafe {
        small.write_volatile(1);
        large.write_volatile(1);
        anon.ptr().write_volatile(1);
    }
    INITIALISED.fetch_add(1, Ordering::SeqCst);
    ZEROED.fetch_add(1, Ordering::SeqCst);
    black_box(a_function(on_stack));
    if let Ok(lib) = &library {
        black_box(lib.touch(on_stack as i32));
    }

    let function = a_function as *const u8;
    let pieces: [(Note<Hex>, *const u8); 8] = [
        (
            note::ADDRESS_STACK_VARIABLE,
            (&on_stack as *const u64).cast(),
        ),
        (note::ADDRESS_SMALL_MALLOC, small),
        (note::ADDRESS_LARGE_MALLOC, large),
        (note::ADDRESS_FUNCTION, function),
        (
            note::ADDRESS_INITIALISED_STATIC,
            INITIALISED.as_ptr().cast_const().cast(),
        ),
        (
            note::ADDRESS_ZEROED_STATIC,
            ZEROED.as_ptr().cast_const().cast(),
        ),
        (note::ADDRESS_ANONYMOUS_MMAP, anon.ptr().cast_const()),
        (
            note::ADDRESS_PROTECTED_AFTER_USE,
            protected.ptr().cast_const(),
        ),
    ];
    note_addresses(&mut session, &pieces)?;
    session.note(note::PAGE_SIZE, page_size() as u64)?;
    session.checkpoint(checkpoint::ADDRESSES_REPORTED)?;

    // SAFETY: freeing exactly what was allocated above.
    unsafe {
        libc::free(small.cast());
        libc::free(large.cast());
    }
    drop(anon);
    drop(protected);
    black_box(on_stack);
    drop(library);
    session.done()
}

/// Notes each piece's address. Notes rather than regions: the harness places
/// each address in the mapping that contains it, and eight regions would crowd
/// the checkpoint table.
fn note_addresses(session: &mut Checkpoints, pieces: &[(Note<Hex>, *const u8)]) -> io::Result<()> {
    for (key, addr) in pieces {
        session.note(*key, Hex(*addr as u64))?;
    }
    Ok(())
}

/// The library with holes between its segments, loaded with dlopen and
/// unloaded on drop.
struct HolesLibrary {
    path: PathBuf,
    handle: *mut libc::c_void,
    touch: extern "C" fn(libc::c_int) -> libc::c_int,
}

impl HolesLibrary {
    /// Loads it from the built programs' folder, or says why not (the
    /// claims about holes then find none and are inconclusive).
    fn load() -> Result<HolesLibrary, String> {
        use std::os::unix::ffi::OsStrExt;
        let path = experiments::program::locate(HOLES_LIBRARY_FILE)?;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|e| format!("bad path {}: {e}", path.display()))?;
        // SAFETY: a valid NUL-terminated path; the library has no constructors.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(format!("dlopen {} failed", path.display()));
        }
        // SAFETY: a valid handle and a NUL-terminated symbol name.
        let symbol = unsafe { libc::dlsym(handle, c"holes_touch".as_ptr()) };
        if symbol.is_null() {
            // SAFETY: closing the handle just opened.
            unsafe { libc::dlclose(handle) };
            return Err(format!("{} has no holes_touch", path.display()));
        }
        // SAFETY: holes_touch is `int holes_touch(int)` in c/holes-lib.c.
        let touch = unsafe {
            std::mem::transmute::<*mut libc::c_void, extern "C" fn(libc::c_int) -> libc::c_int>(
                symbol,
            )
        };
        Ok(HolesLibrary {
            path,
            handle,
            touch,
        })
    }

    /// Uses the library's text, read-only data, data and bss.
    fn touch(&self, x: i32) -> i32 {
        (self.touch)(x)
    }
}

impl Drop for HolesLibrary {
    fn drop(&mut self) {
        // SAFETY: the handle dlopen returned, closed once; no pointer into the
        // library outlives this value.
        unsafe { libc::dlclose(self.handle) };
    }
}
