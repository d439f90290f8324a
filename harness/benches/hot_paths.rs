//! The harness's own hot paths, so that measuring stays cheaper than what it
//! measures:
//!
//! - `smaps/parse-1g-file-mapping`: parsing the captured smaps of a process
//!   holding a 1 GB file mapping (tests/fixtures/proc/file-mapping-1g);
//! - `snapshot/live-process-64MiB-file`: reading and parsing smaps, status and
//!   stat of a live process (this one) holding a 64 MiB resident file mapping,
//!   plus the pagemap of that mapping: what the runner does at every checkpoint;
//! - `population/scan-1000-processes`: the brief snapshot of 1,000 children
//!   (smaps_rollup and status of each), as `many-processes` takes it;
//! - `report/<format>`: rendering every report format of a saved run
//!   (tests/fixtures/runs/mmap-file-quick.json, or the results.json named by
//!   `VMLAB_BENCH_RUN`, e.g. a full run's).
//!
//! `cargo bench -p harness --features bench --bench hot_paths`.

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use harness::model::RunRecord;
use harness::probe::{self, Probe, ProcProbe};
use harness::report::{self, Format};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn smaps(c: &mut Criterion) {
    let path = Path::new(FIXTURES).join("proc/file-mapping-1g/smaps");
    let text = std::fs::read_to_string(&path).expect("the captured smaps");
    let mut g = c.benchmark_group("smaps");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse-1g-file-mapping", |b| {
        b.iter(|| probe::smaps::parse(black_box(&text), &path).expect("parses"))
    });
    g.finish();
}

/// A file mapped and read by this process, removed and unmapped on drop.
struct MappedFile {
    path: PathBuf,
    ptr: *mut libc::c_void,
    len: usize,
}

impl MappedFile {
    fn new(len: usize) -> MappedFile {
        let path =
            std::env::temp_dir().join(format!("vmlab-bench-snapshot-{}", std::process::id()));
        let mut file = File::create_new(&path).expect("the bench file");
        let chunk = vec![0x5au8; 1 << 20];
        for _ in 0..len / chunk.len() {
            file.write_all(&chunk).expect("writing the bench file");
        }
        // SAFETY: a read-only shared mapping of the file just written.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        let mut sum = 0u64;
        for offset in (0..len).step_by(4096) {
            // SAFETY: inside the mapping.
            sum += unsafe { std::ptr::read_volatile(ptr.cast::<u8>().add(offset)) } as u64;
        }
        black_box(sum);
        MappedFile { path, ptr, len }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what was mapped.
        unsafe { libc::munmap(self.ptr, self.len) };
        let _ = std::fs::remove_file(&self.path);
    }
}

fn snapshot(c: &mut Criterion) {
    let mapped = MappedFile::new(64 << 20);
    let pid = std::process::id() as i32;
    let source = PathBuf::from(format!("/proc/{pid}"));
    let page = experiments::pages::page_size() as u64;
    let mut g = c.benchmark_group("snapshot");
    g.bench_function("live-process-64MiB-file", |b| {
        b.iter(|| {
            let raw = ProcProbe.read(pid).expect("reads /proc/self");
            let parsed = probe::parse_snapshot(&raw, &source).expect("parses");
            let pagemap = ProcProbe.region_pagemap(pid, mapped.ptr as u64, mapped.len as u64, page);
            black_box((parsed, pagemap))
        })
    });
    g.finish();
    drop(mapped);
}

/// Children parked on a pipe; they exit when it closes (also if this process dies).
struct Parked {
    pids: Vec<libc::pid_t>,
    release: libc::c_int,
}

impl Parked {
    fn start(count: usize) -> Parked {
        let mut fds = [0; 2];
        // SAFETY: `fds` holds two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let mut pids = Vec::with_capacity(count);
        for _ in 0..count {
            // SAFETY: the child only reads from the pipe and exits.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed after {} children", pids.len());
            if pid == 0 {
                let mut byte = 0u8;
                // SAFETY: the child's own descriptors and a local byte.
                unsafe {
                    libc::close(fds[1]);
                    libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                    libc::_exit(0);
                }
            }
            pids.push(pid);
        }
        // SAFETY: the parent only writes (by closing).
        unsafe { libc::close(fds[0]) };
        Parked {
            pids,
            release: fds[1],
        }
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        // SAFETY: closing the pipe releases the children; each is reaped.
        unsafe {
            libc::close(self.release);
            for pid in &self.pids {
                let mut status = 0;
                libc::waitpid(*pid, &mut status, 0);
            }
        }
    }
}

fn population(c: &mut Criterion) {
    let parked = Parked::start(1000);
    let me = std::process::id() as i32;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("population");
    g.sample_size(10);
    g.throughput(Throughput::Elements(parked.pids.len() as u64));
    g.bench_function("scan-1000-processes", |b| {
        b.iter(|| {
            let record = probe::population::snapshot(me, "worker", threads).expect("scans");
            assert!(record.count >= parked.pids.len());
            record
        })
    });
    g.finish();
    drop(parked);
}

fn reports(c: &mut Criterion) {
    let path = std::env::var_os("VMLAB_BENCH_RUN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(FIXTURES).join("runs/mmap-file-quick.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let run: RunRecord = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a results.json: {e}", path.display()));
    let mut g = c.benchmark_group("report");
    for (name, format) in [
        ("table", Format::Table),
        ("markdown", Format::Markdown),
        ("json", Format::Json),
        ("csv-checkpoints", Format::Csv),
        ("ktap", Format::Tap),
    ] {
        g.bench_function(name, |b| b.iter(|| report::render(black_box(&run), format)));
    }
    g.bench_function("csv-regions-mappings-claims", |b| {
        b.iter(|| {
            (
                report::csv::regions(&run),
                report::csv::mappings(&run),
                report::csv::claims(&run),
            )
        })
    });
    g.bench_function("plots", |b| {
        b.iter(|| report::plot::Charts::of(&run).iter().count())
    });
    g.finish();
}

criterion_group!(benches, smaps, snapshot, population, reports);
criterion_main!(benches);
