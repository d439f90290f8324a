//! One owned memory mapping, unmapped on drop: the only `mmap`/`munmap` pair the
//! experiments need for memory they map themselves (anonymous regions, and file
//! ranges mapped through raw pointers). Experiments touch the pages through
//! [`Mapping::at`] and volatile reads and writes, never through slices, so the
//! mapping can be watched from outside without Rust references aliasing it.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// How a file range is mapped by [`Mapping::file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAccess {
    /// `MAP_SHARED`, read-only: reads see the page cache.
    SharedRead,
    /// `MAP_SHARED`, writable: writes dirty the page cache itself.
    SharedWrite,
    /// `MAP_PRIVATE`, writable: a write copies the page-cache page.
    PrivateWrite,
}

/// A mapping this process owns: `len` bytes from `ptr`, unmapped on drop (what is
/// left of it, after [`Mapping::unmap_front`]).
#[derive(Debug)]
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    /// A private anonymous read-write mapping of `len` bytes, placed by the kernel.
    pub fn anonymous(len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh anonymous mapping at an address the kernel picks; no
        // existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        Mapping::checked(ptr, len)
    }

    /// A private anonymous mapping of `len` bytes that starts on a multiple of
    /// `align` (a huge page, say): `align` more bytes are mapped, then the head
    /// before the boundary and the tail after `len` are unmapped again.
    pub fn anonymous_aligned(len: usize, align: usize) -> io::Result<Mapping> {
        let raw = Mapping::anonymous(len + align)?;
        let start = raw.ptr as usize;
        let aligned = start.next_multiple_of(align.max(1));
        let head = aligned - start;
        let tail = raw.len - head - len;
        let raw = std::mem::ManuallyDrop::new(raw);
        // SAFETY: both ranges lie inside the mapping just made and are page
        // aligned (align is a multiple of the page size); the rest is owned by
        // the returned Mapping, and nothing refers to the trimmed parts.
        unsafe {
            if head > 0 && libc::munmap(raw.ptr.cast(), head) != 0 {
                return Err(io::Error::last_os_error());
            }
            if tail > 0 && libc::munmap(raw.ptr.add(head + len).cast(), tail) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Mapping {
            ptr: aligned as *mut u8,
            len,
        })
    }

    /// Maps `len` bytes of `file` from `offset` (a multiple of the page size).
    /// The file must be open for writing for [`FileAccess::SharedWrite`]; whoever truncates
    /// it while it is mapped makes later accesses fault with SIGBUS, so the
    /// experiments map only files in their own temporary folder.
    pub fn file(file: &File, offset: u64, len: usize, access: FileAccess) -> io::Result<Mapping> {
        let (prot, flags) = match access {
            FileAccess::SharedRead => (libc::PROT_READ, libc::MAP_SHARED),
            FileAccess::SharedWrite => (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED),
            FileAccess::PrivateWrite => (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE),
        };
        // SAFETY: a fresh mapping of a file we hold open, at an address the
        // kernel picks; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                flags,
                file.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        Mapping::checked(ptr, len)
    }

    fn checked(ptr: *mut libc::c_void, len: usize) -> io::Result<Mapping> {
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The first byte.
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is left mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte at `offset`; `offset` may be the end (for an empty range there).
    ///
    /// # Panics
    ///
    /// If `offset` is past the end: a pointer outside would be a bug in the caller.
    pub fn at(&self, offset: usize) -> *mut u8 {
        assert!(offset <= self.len, "offset {offset} past {}", self.len);
        // SAFETY: offset <= len, so the result is inside the mapping or one past it.
        unsafe { self.ptr.add(offset) }
    }

    /// The start of block `index` of `block` bytes.
    pub fn block(&self, index: usize, block: usize) -> *mut u8 {
        self.at(index * block)
    }

    /// `madvise(advice)` over the whole mapping.
    pub fn advise_all(&self, advice: libc::c_int) -> io::Result<()> {
        self.advise(0, self.len, advice)
    }

    /// `madvise(advice)` over `len` bytes from `offset` (page aligned).
    pub fn advise(&self, offset: usize, len: usize, advice: libc::c_int) -> io::Result<()> {
        assert!(offset + len <= self.len, "advice past the mapping's end");
        // SAFETY: a range inside the mapping this value owns.
        if unsafe { libc::madvise(self.at(offset).cast(), len, advice) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `mprotect(prot)` over the whole mapping: what the process may do with
    /// the pages changes, not whether it has them.
    pub fn protect(&self, prot: libc::c_int) -> io::Result<()> {
        // SAFETY: the whole mapping this value owns; no Rust reference points
        // into it.
        if unsafe { libc::mprotect(self.ptr.cast(), self.len, prot) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Unmaps the first `len` bytes (page aligned): what is left starts after
    /// them. Allocates nothing and faults nothing in, so it may be timed.
    pub fn unmap_front(&mut self, len: usize) -> io::Result<()> {
        let len = len.min(self.len);
        // SAFETY: the first `len` bytes of the mapping this value owns; from
        // now on it owns only the rest.
        if unsafe { libc::munmap(self.ptr.cast(), len) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: len <= self.len, so the new start is inside or one past the end.
        self.ptr = unsafe { self.ptr.add(len) };
        self.len -= len;
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping exactly the range this value still owns.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::page_size;

    #[test]
    fn an_aligned_mapping_starts_on_its_boundary_and_is_writable() {
        let align = 16 * page_size();
        let map = Mapping::anonymous_aligned(3 * page_size(), align).unwrap();
        assert_eq!(map.ptr() as usize % align, 0);
        assert_eq!(map.len(), 3 * page_size());
        // SAFETY: inside the mapping, which is writable.
        unsafe { map.at(2 * page_size()).write_volatile(7) };
    }

    #[test]
    fn unmapping_the_front_leaves_the_rest_owned() {
        let page = page_size();
        let mut map = Mapping::anonymous(4 * page).unwrap();
        let second = map.block(1, page);
        map.unmap_front(page).unwrap();
        assert_eq!(map.ptr(), second);
        assert_eq!(map.len(), 3 * page);
        map.unmap_front(3 * page).unwrap();
        assert!(map.is_empty());
    }

    #[test]
    fn a_file_range_maps_what_the_file_holds() {
        use std::io::Write;
        // Unlinked at once: nothing is left behind, whatever happens next.
        let path = std::env::temp_dir().join(format!("vmlab-mapping-{}", std::process::id()));
        let mut file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file.write_all(&vec![9u8; page_size()]).unwrap();
        let map = Mapping::file(&file, 0, page_size(), FileAccess::SharedRead).unwrap();
        // SAFETY: inside the mapping, which is readable.
        assert_eq!(unsafe { map.at(10).read_volatile() }, 9);
    }
}
