//! The price list as criterion micro-benchmarks, for kernel developers: each
//! kind of page fault the `fault-costs` experiment prices, timed over a fresh
//! block per iteration (set up and torn down outside the timed part, with
//! `iter_custom`). Throughput is in pages (elements), so criterion reports the
//! time per page touched; a kind that cannot be set up here (no THP, a tmpfs
//! temp folder for the cold-file kinds) prints `SKIP: reason` and is left out.
//!
//! `cargo bench -p harness --features bench --bench faults`; `VMLAB_BENCH_DIR`
//! picks the folder for the file (default: the system temp folder, which must
//! be on a disk for the major-fault kinds).

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use experiments::waiting_child::WaitingChild;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

const HUGE_PAGE: usize = 2 << 20;
/// Bytes touched per iteration by the 4 KiB kinds.
const BLOCK: usize = 1 << 20;
/// Bytes read per iteration from a cold file without read-ahead.
const RANDOM_BLOCK: usize = 128 << 10;
/// Resident memory of the process when fork is timed.
const FORK_RESIDENT: usize = 64 << 20;

fn page() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// A private anonymous mapping aligned to `align`, advised `advice`, unmapped on drop.
struct Anon {
    ptr: *mut u8,
    len: usize,
}

impl Anon {
    fn new(len: usize, align: usize, advice: libc::c_int) -> Anon {
        let reserve = len + align;
        // SAFETY: a fresh anonymous mapping.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserve,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(raw, libc::MAP_FAILED, "mmap of {reserve} bytes failed");
        let start = (raw as usize).div_ceil(align) * align;
        let head = start - raw as usize;
        let tail = reserve - head - len;
        // SAFETY: trimming the ends of the mapping just made; advising what is kept.
        unsafe {
            if head > 0 {
                libc::munmap(raw, head);
            }
            if tail > 0 {
                libc::munmap((start + len) as *mut libc::c_void, tail);
            }
            libc::madvise(start as *mut libc::c_void, len, advice);
        }
        Anon {
            ptr: start as *mut u8,
            len,
        }
    }
}

impl Drop for Anon {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` kept.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn write_every(base: *mut u8, len: usize, stride: usize) {
    for offset in (0..len).step_by(stride) {
        // SAFETY: inside a writable mapping of `len` bytes.
        unsafe { std::ptr::write_volatile(base.add(offset), 1) };
    }
}

fn read_every(base: *const u8, len: usize, stride: usize) -> u64 {
    let mut sum = 0u64;
    for offset in (0..len).step_by(stride) {
        // SAFETY: inside a readable mapping of `len` bytes.
        sum = sum.wrapping_add(unsafe { std::ptr::read_volatile(base.add(offset)) } as u64);
    }
    black_box(sum)
}

/// Times `work` on a fresh `setup()` per iteration; setup and drop are untimed.
fn timed<T>(iters: u64, mut setup: impl FnMut() -> T, mut work: impl FnMut(&T)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let state = setup();
        let start = Instant::now();
        work(&state);
        total += start.elapsed();
        drop(state);
    }
    total
}

fn anonymous(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let page = page();
    g.throughput(Throughput::Elements((BLOCK / page) as u64));
    g.bench_function("anon-first-touch", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || Anon::new(BLOCK, page, libc::MADV_NOHUGEPAGE),
                |m| write_every(m.ptr, m.len, page),
            )
        })
    });
    g.bench_function("zero-page-read", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || Anon::new(BLOCK, page, libc::MADV_NOHUGEPAGE),
                |m| {
                    read_every(m.ptr, m.len, page);
                },
            )
        })
    });
    g.bench_function("munmap-resident", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let m = Anon::new(BLOCK, page, libc::MADV_NOHUGEPAGE);
                write_every(m.ptr, m.len, page);
                let start = Instant::now();
                drop(m);
                total += start.elapsed();
            }
            total
        })
    });
    g.bench_function("cow-after-fork", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || {
                    let m = Anon::new(BLOCK, page, libc::MADV_NOHUGEPAGE);
                    write_every(m.ptr, m.len, page);
                    (WaitingChild::fork().expect("fork"), m)
                },
                |(_, m)| write_every(m.ptr, m.len, page),
            )
        })
    });
}

fn thp(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let mode =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if page() != 4096 || !(mode.contains("[always]") || mode.contains("[madvise]")) {
        println!(
            "SKIP: thp-first-touch: transparent huge pages are {}",
            mode.trim()
        );
        return;
    }
    g.throughput(Throughput::Elements((HUGE_PAGE / page()) as u64));
    g.bench_function("thp-first-touch", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || Anon::new(HUGE_PAGE, HUGE_PAGE, libc::MADV_HUGEPAGE),
                |m| write_every(m.ptr, m.len, HUGE_PAGE),
            )
        })
    });
}

fn fork(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let page = page();
    let resident = Anon::new(FORK_RESIDENT, page, libc::MADV_NOHUGEPAGE);
    write_every(resident.ptr, resident.len, page);
    g.throughput(Throughput::Bytes(FORK_RESIDENT as u64));
    g.bench_function("fork-64MiB-resident", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                // SAFETY: the child only exits.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    // SAFETY: leaves the child at once.
                    unsafe { libc::_exit(0) };
                }
                total += start.elapsed();
                let mut status = 0;
                // SAFETY: reaping our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
            }
            total
        })
    });
    drop(resident);
}

/// A file of random bytes in the bench folder, removed on drop.
struct BenchFile {
    file: File,
    path: PathBuf,
    len: usize,
}

impl BenchFile {
    fn create(len: usize) -> BenchFile {
        let dir = std::env::var_os("VMLAB_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let path = dir.join(format!("vmlab-bench-faults-{}", std::process::id()));
        let mut file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        let mut chunk = vec![0u8; 1 << 20];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for byte in chunk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *byte = x as u8;
        }
        for _ in 0..len.div_ceil(chunk.len()) {
            file.write_all(&chunk).expect("writing the bench file");
        }
        file.sync_all().expect("fsync of the bench file");
        BenchFile { file, path, len }
    }

    fn map(&self, random: bool) -> FileMap {
        self.map_as(libc::PROT_READ, libc::MAP_SHARED, random)
    }

    /// A writable mapping: `MAP_SHARED` writes dirty the page cache,
    /// `MAP_PRIVATE` writes copy its pages.
    fn map_writable(&self, flags: libc::c_int) -> FileMap {
        self.map_as(libc::PROT_READ | libc::PROT_WRITE, flags, false)
    }

    fn map_as(&self, prot: libc::c_int, flags: libc::c_int, random: bool) -> FileMap {
        // SAFETY: a mapping of a file this bench owns (opened read-write).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                self.len,
                prot,
                flags,
                self.file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        if random {
            // SAFETY: advising the mapping just made.
            unsafe { libc::madvise(ptr, self.len, libc::MADV_RANDOM) };
        }
        FileMap {
            ptr: ptr.cast(),
            len: self.len,
        }
    }

    fn drop_cache(&self) {
        // SAFETY: plain syscall on our descriptor.
        unsafe { libc::posix_fadvise(self.file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }

    fn on_tmpfs(&self) -> bool {
        // SAFETY: statfs into a zeroed local.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid descriptor and a valid out-pointer.
        unsafe { libc::fstatfs(self.file.as_raw_fd(), &mut st) };
        st.f_type == libc::TMPFS_MAGIC
    }
}

impl Drop for BenchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

struct FileMap {
    ptr: *mut u8,
    len: usize,
}

impl Drop for FileMap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what was mapped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn files(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let page = page();
    let warm = BenchFile::create(BLOCK);
    read_every(warm.map(false).ptr, BLOCK, page);
    g.throughput(Throughput::Elements((BLOCK / page) as u64));
    g.bench_function("file-minor-fault-around", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || warm.map(false),
                |m| {
                    read_every(m.ptr, m.len, page);
                },
            )
        })
    });
    // Writes to the cached pages: through MAP_SHARED (the page made writable
    // and dirty in place) and through MAP_PRIVATE (the page copied).
    for (name, flags) in [
        ("file-shared-write-fault", libc::MAP_SHARED),
        ("file-private-cow-fault", libc::MAP_PRIVATE),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                timed(
                    iters,
                    || warm.map_writable(flags),
                    |m| write_every(m.ptr, m.len, page),
                )
            })
        });
    }
    drop(warm);
    let cold = BenchFile::create(BLOCK);
    if cold.on_tmpfs() {
        println!("SKIP: file-major-*: the bench folder is tmpfs (set VMLAB_BENCH_DIR to a disk)");
        return;
    }
    g.bench_function("file-major-read-ahead", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || {
                    cold.drop_cache();
                    cold.map(false)
                },
                |m| {
                    read_every(m.ptr, m.len, page);
                },
            )
        })
    });
    drop(cold);
    let random = BenchFile::create(RANDOM_BLOCK);
    g.throughput(Throughput::Elements((RANDOM_BLOCK / page) as u64));
    g.bench_function("file-major-no-read-ahead", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || {
                    random.drop_cache();
                    random.map(true)
                },
                |m| {
                    read_every(m.ptr, m.len, page);
                },
            )
        })
    });
}

fn faults(c: &mut Criterion) {
    let mut g = c.benchmark_group("fault");
    g.sample_size(20);
    anonymous(&mut g);
    thp(&mut g);
    files(&mut g);
    fork(&mut g);
    g.finish();
}

criterion_group!(benches, faults);
criterion_main!(benches);
