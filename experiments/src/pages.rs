//! Page-level helpers shared by the experiments. Everything here runs before or
//! after a measured phase, never inside one.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;

use rand::{rngs::SmallRng, RngCore, SeedableRng};

use crate::mapping::{FileAccess, Mapping};
use crate::note::PageRanges;

/// The page size in bytes, as the kernel reports it.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}

/// Rounds `bytes` up to a whole number of pages.
pub fn round_up_to_pages(bytes: usize) -> usize {
    bytes.div_ceil(page_size()) * page_size()
}

/// How much is written between two requests to start writeback.
const WRITEBACK_STEP_BYTES: u64 = 32 << 20;

/// When the pages [`write_random_file`] dirties go to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writeback {
    /// Writeback of each 32 MiB written is started at once (`sync_file_range`,
    /// without waiting), so the disk writes while the next bytes are made and
    /// the caller's fsync has little left to wait for. The pages stay in the
    /// page cache, but clean sooner, and clean pages are what reclaim takes:
    /// not for a file whose page cache after writing is itself measured.
    Early,
    /// Left to the kernel and the caller's fsync, as a plain writer does.
    Default,
}

/// Fills `file` with `size` pseudo-random bytes written in `chunk` sized writes,
/// calling `progress(done_bytes)` after each write. The generator is seeded from
/// the OS, so the content cannot be deduplicated or compressed by anything below.
pub fn write_random_file(
    file: &mut File,
    size: u64,
    chunk: usize,
    writeback: Writeback,
    mut progress: impl FnMut(u64) -> io::Result<()>,
) -> io::Result<()> {
    let mut rng = SmallRng::from_os_rng();
    let mut buf = vec![0u8; chunk];
    let mut done = 0u64;
    let mut flushed = 0u64;
    while done < size {
        let n = chunk.min((size - done) as usize);
        rng.fill_bytes(&mut buf[..n]);
        file.write_all(&buf[..n])?;
        done += n as u64;
        if writeback == Writeback::Early && (done - flushed >= WRITEBACK_STEP_BYTES || done == size)
        {
            start_writeback(file, flushed, done - flushed);
            flushed = done;
        }
        progress(done)?;
    }
    Ok(())
}

/// Starts writeback of `len` bytes of `file` from `offset`, without waiting
/// for it (`SYNC_FILE_RANGE_WRITE`). Only a head start: a file system that
/// refuses it is flushed by the caller's fsync all the same, which also
/// reports any write error.
fn start_writeback(file: &File, offset: u64, len: u64) {
    // SAFETY: plain syscall on a descriptor we own.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        )
    };
}

/// Reads the first `len` bytes of `file` with read(2), `chunk` bytes at a time,
/// which puts them in the page cache without mapping anything.
pub fn read_through(file: &File, len: u64, chunk: usize) -> io::Result<()> {
    read_range(file, &mut vec![0u8; chunk.max(1)], 0, len)
}

/// Reads `file` from `offset` up to `end` with read(2), `buf.len()` bytes at
/// a time, stopping early at the end of the file.
fn read_range(file: &File, buf: &mut [u8], mut offset: u64, end: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    while offset < end {
        let want = buf.len().min((end - offset) as usize);
        let n = file.read_at(&mut buf[..want], offset)?;
        if n == 0 {
            break;
        }
        offset += n as u64;
    }
    Ok(())
}

/// Reads back, with read(2) `chunk` bytes at a time, only the pages of
/// `file`'s first `len` bytes that mincore finds missing from the page cache,
/// and answers how many pages that was. Reading the whole file again to bring
/// back a few pages that reclaim took costs a second per GiB in 1 KiB reads;
/// the missing ones are all a warm file needs.
pub fn read_missing(file: &File, len: usize, chunk: usize) -> io::Result<usize> {
    if len == 0 {
        return Ok(0);
    }
    let page = page_size();
    let mut buf = vec![0u8; chunk.max(1)];
    let mut missing = 0;
    for (first, last) in missing_runs(&page_cache_map(file, len)?) {
        missing += last - first;
        let end = (last * page).min(len) as u64;
        read_range(file, &mut buf, (first * page) as u64, end)?;
    }
    Ok(missing)
}

/// The runs of pages not in the page cache in a mincore vector, as
/// half-open ranges of page indices.
fn missing_runs(vec: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in vec.iter().chain([&1]).enumerate() {
        match (b & 1 == 0, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// One byte per page of `file`'s first `len` bytes, bit 0 set where the page
/// is in the page cache: `mincore(2)` on a temporary mapping that is never
/// touched.
fn page_cache_map(file: &File, len: usize) -> io::Result<Vec<u8>> {
    let map = Mapping::file(file, 0, len, FileAccess::SharedRead)?;
    let mut vec = vec![0u8; len.div_ceil(page_size())];
    // SAFETY: `map` is a live mapping of `len` bytes and `vec` has one byte per page.
    if unsafe { libc::mincore(map.ptr().cast(), len, vec.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(vec)
}

/// How many of the first `len` bytes' pages of `file` are in the page cache.
pub fn resident_pages(file: &File, len: usize) -> io::Result<usize> {
    if len == 0 {
        return Ok(0);
    }
    Ok(page_cache_map(file, len)?
        .iter()
        .filter(|b| **b & 1 == 1)
        .count())
}

/// The pages of `file`'s first `len` bytes that are in the page cache, as
/// ranges of page indices (`0-3,40-52`, or `none`).
pub fn cached_page_ranges(file: &File, len: usize) -> io::Result<PageRanges> {
    if len == 0 {
        return Ok(PageRanges::default());
    }
    let vec = page_cache_map(file, len)?;
    Ok(PageRanges::of(vec.iter().map(|b| b & 1 == 1)))
}

/// Asks the kernel to drop `file`'s clean pages from the page cache
/// (`posix_fadvise(POSIX_FADV_DONTNEED)`); the file must have been synced first.
pub fn drop_from_page_cache(file: &File) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we own.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_runs_are_the_pages_without_bit_zero() {
        assert_eq!(missing_runs(&[1, 1, 1]), vec![]);
        assert_eq!(
            missing_runs(&[0, 0, 1, 0, 1, 1, 0]),
            vec![(0, 2), (3, 4), (6, 7)]
        );
        // Only bit 0 says "cached"; other bits are the kernel's own.
        assert_eq!(missing_runs(&[2, 3]), vec![(0, 1)]);
    }

    /// Whether `dir` is on tmpfs (statfs's TMPFS_MAGIC).
    fn on_tmpfs(dir: &std::path::Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
        let mut fs = std::mem::MaybeUninit::<libc::statfs>::zeroed();
        // SAFETY: a NUL-terminated path and a statfs buffer the call fills.
        let ok = unsafe { libc::statfs(path.as_ptr(), fs.as_mut_ptr()) } == 0;
        // SAFETY: filled by the successful call above.
        ok && unsafe { fs.assume_init() }.f_type == libc::TMPFS_MAGIC
    }

    #[test]
    fn read_missing_brings_back_the_dropped_pages_and_counts_them() {
        let dir = std::env::temp_dir().join(format!("vmlab-pages-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("file");
        let len = 16 * page_size();
        std::fs::write(&path, vec![7u8; len]).unwrap();
        let file = File::open(&path).unwrap();
        file.sync_all().unwrap();
        drop_from_page_cache(&file).unwrap();
        let cached_before = resident_pages(&file, len).unwrap();
        let read = read_missing(&file, len, 1024).unwrap();
        let cached_after = resident_pages(&file, len).unwrap();
        let dropped_nothing_here = cached_before == 16 && on_tmpfs(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        // tmpfs keeps its pages whatever fadvise says: only there may nothing be missing.
        assert!(
            cached_before < 16 || dropped_nothing_here,
            "a flushed file dropped from the page cache has pages missing"
        );
        assert_eq!(
            read,
            16 - cached_before,
            "every missing page is counted once"
        );
        assert_eq!(cached_after, 16, "read back: every page is cached");
    }
}
