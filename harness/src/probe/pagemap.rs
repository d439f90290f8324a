//! /proc/PID/pagemap and /proc/kpagecount: where a virtual page really lives.
//!
//! smaps says how much is shared; pagemap says which physical frame backs each
//! virtual page, so two processes can be shown to map the very same frame after
//! fork, and different frames once one of them wrote. Each pagemap entry is 8
//! bytes, native endian (Documentation/admin-guide/mm/pagemap.rst):
//!
//! - bit 63: present in RAM;
//! - bit 62: swapped out;
//! - bit 56: mapped by this process only (since Linux 4.2);
//! - bits 0-54: the page frame number (PFN) when present. Since Linux 4.2 it
//!   reads as zero without CAP_SYS_ADMIN.
//!
//! /proc/kpagecount holds one 8-byte map count per PFN (root only).
//!
//! [`parse_entries`] and [`summarize`] are pure; [`read_region`] does the I/O.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::model::{PageSample, RegionPagemap};

/// Bytes per pagemap or kpagecount entry.
pub const ENTRY_BYTES: usize = 8;
/// How many pages of a region are sampled for PFN and map count.
pub const SAMPLE_PAGES: u64 = 16;

const PRESENT: u64 = 1 << 63;
const SWAPPED: u64 = 1 << 62;
const EXCLUSIVE: u64 = 1 << 56;
const PFN_MASK: u64 = (1 << 55) - 1;
/// Pagemap entries read per `pread`, to bound the buffer (4096 entries: 32 KiB).
const CHUNK_ENTRIES: u64 = 4096;

/// One decoded pagemap entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entry {
    /// Bit 63: the page is in RAM.
    pub present: bool,
    /// Bit 62: the page is in swap.
    pub swapped: bool,
    /// Bit 56: no other process maps this page.
    pub exclusive: bool,
    /// Bits 0-54 when present: the page frame number (zero when hidden).
    pub pfn: u64,
}

impl Entry {
    /// Decodes one raw 64-bit entry.
    pub fn decode(raw: u64) -> Entry {
        let present = raw & PRESENT != 0;
        Entry {
            present,
            swapped: raw & SWAPPED != 0,
            exclusive: raw & EXCLUSIVE != 0,
            pfn: if present { raw & PFN_MASK } else { 0 },
        }
    }
}

/// Decodes native-endian 8-byte entries; a trailing partial entry is an error
/// carrying the byte count, since the kernel only ever returns whole entries.
pub fn parse_entries(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    if bytes.len() % ENTRY_BYTES != 0 {
        return Err(format!(
            "{} bytes is not a whole number of {ENTRY_BYTES}-byte entries",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(ENTRY_BYTES)
        .map(|c| {
            let mut raw = [0u8; ENTRY_BYTES];
            raw.copy_from_slice(c);
            Entry::decode(u64::from_ne_bytes(raw))
        })
        .collect())
}

/// The page indexes sampled from a region of `pages` pages: [`SAMPLE_PAGES`]
/// evenly spaced ones starting at page 0 (all pages if there are fewer).
pub fn sample_indexes(pages: u64) -> Vec<u64> {
    if pages <= SAMPLE_PAGES {
        return (0..pages).collect();
    }
    (0..SAMPLE_PAGES)
        // In u128: i × pages may not fit in a u64 for a huge declared region.
        .map(|i| (u128::from(i) * u128::from(pages) / u128::from(SAMPLE_PAGES)) as u64)
        .collect()
}

/// Counts over the whole region so far, filled chunk by chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Present pages.
    pub present: u64,
    /// Swapped pages.
    pub swapped: u64,
    /// Present pages mapped by this process only.
    pub exclusive: u64,
    /// Present pages whose PFN read as a number other than zero.
    pub with_pfn: u64,
}

impl Counts {
    /// Adds a run of entries.
    pub fn add(&mut self, entries: &[Entry]) {
        for e in entries {
            self.present += u64::from(e.present);
            self.swapped += u64::from(e.swapped);
            self.exclusive += u64::from(e.present && e.exclusive);
            self.with_pfn += u64::from(e.present && e.pfn != 0);
        }
    }
}

/// Builds the record from counts and the sampled entries (`(index, entry)`);
/// `map_count` looks up a PFN's map count (None when it cannot).
pub fn summarize(
    pages: u64,
    counts: Counts,
    sampled: &[(u64, Entry)],
    mut map_count: impl FnMut(u64) -> Option<u64>,
    no_map_count_reason: Option<String>,
) -> RegionPagemap {
    let pfns_hidden = counts.present > 0 && counts.with_pfn == 0;
    let sample = sampled
        .iter()
        .map(|(index, e)| {
            let pfn = (e.present && e.pfn != 0).then_some(e.pfn);
            PageSample {
                page_index: *index,
                present: e.present,
                exclusive: e.present && e.exclusive,
                pfn,
                map_count: pfn.and_then(&mut map_count),
            }
        })
        .collect();
    let pfn_unavailable = if pfns_hidden {
        Some("pagemap shows every present page with PFN 0: reading PFNs needs CAP_SYS_ADMIN (run as root)".into())
    } else {
        no_map_count_reason
    };
    RegionPagemap {
        pages,
        present_pages: counts.present,
        swapped_pages: counts.swapped,
        exclusive_pages: counts.exclusive,
        sample,
        pfn_unavailable,
    }
}

/// Reads the pagemap of `len` bytes from `start` of process `pid`, with map
/// counts from /proc/kpagecount where readable. `None` if pagemap itself cannot
/// be read (the process is gone, or the kernel has no pagemap); a missing
/// kpagecount or hidden PFNs are recorded in the result instead.
pub fn read_region(pid: i32, start: u64, len: u64, page_size: u64) -> Option<RegionPagemap> {
    read_region_at(
        &PathBuf::from(format!("/proc/{pid}/pagemap")),
        Path::new("/proc/kpagecount"),
        start,
        len,
        page_size,
    )
}

fn read_region_at(
    pagemap_path: &Path,
    kpagecount_path: &Path,
    start: u64,
    len: u64,
    page_size: u64,
) -> Option<RegionPagemap> {
    let page_size = page_size.max(1);
    let first = start / page_size;
    let pages = len.div_ceil(page_size);
    // A region reaching past what a pagemap offset can address is not a real one.
    first.checked_add(pages)?.checked_mul(ENTRY_BYTES as u64)?;
    let pagemap = File::open(pagemap_path).ok()?;
    let wanted = sample_indexes(pages);
    let mut sampled = Vec::with_capacity(wanted.len());
    let mut counts = Counts::default();
    let mut buf = vec![0u8; (CHUNK_ENTRIES as usize) * ENTRY_BYTES];
    let mut done = 0;
    while done < pages {
        let n = CHUNK_ENTRIES.min(pages - done);
        let bytes = &mut buf[..n as usize * ENTRY_BYTES];
        pagemap
            .read_exact_at(bytes, (first + done) * ENTRY_BYTES as u64)
            .ok()?;
        let entries = parse_entries(bytes).ok()?;
        counts.add(&entries);
        for &index in wanted.iter().filter(|i| (done..done + n).contains(*i)) {
            sampled.push((index, entries[(index - done) as usize]));
        }
        done += n;
    }
    let (kpagecount, no_count_reason) = match File::open(kpagecount_path) {
        Ok(f) => (Some(f), None),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => (
            None,
            Some(format!(
                "{} is readable by root only: map counts are not recorded",
                kpagecount_path.display()
            )),
        ),
        Err(e) => (
            None,
            Some(format!(
                "cannot read {}: {e}; map counts are not recorded",
                kpagecount_path.display()
            )),
        ),
    };
    let map_count = |pfn: u64| {
        let file = kpagecount.as_ref()?;
        let mut raw = [0u8; ENTRY_BYTES];
        file.read_exact_at(&mut raw, pfn.checked_mul(ENTRY_BYTES as u64)?)
            .ok()?;
        Some(u64::from_ne_bytes(raw))
    };
    Some(summarize(
        pages,
        counts,
        &sampled,
        map_count,
        no_count_reason,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(entries: &[u64]) -> Vec<u8> {
        entries.iter().flat_map(|e| e.to_ne_bytes()).collect()
    }

    #[test]
    fn decodes_present_swapped_exclusive_and_pfn_bits() {
        let raw = [
            PRESENT | EXCLUSIVE | 0x1234,
            PRESENT | 0x5678,
            SWAPPED | 0x00ab_cd00, // swap type and offset, not a PFN
            0,
        ];
        let e = parse_entries(&bytes(&raw)).expect("whole entries");
        assert_eq!(
            e[0],
            Entry {
                present: true,
                swapped: false,
                exclusive: true,
                pfn: 0x1234
            }
        );
        assert!(e[1].present && !e[1].exclusive && e[1].pfn == 0x5678);
        assert!(!e[2].present && e[2].swapped && e[2].pfn == 0);
        assert_eq!(e[3], Entry::default());
    }

    #[test]
    fn the_pfn_is_bits_0_to_54_only() {
        let e = Entry::decode(PRESENT | (1 << 55) | PFN_MASK);
        assert_eq!(e.pfn, PFN_MASK);
    }

    #[test]
    fn a_partial_entry_is_an_error_that_names_the_length() {
        let err = parse_entries(&[0u8; 12]).expect_err("12 bytes");
        assert!(err.contains("12 bytes"), "{err}");
    }

    #[test]
    fn samples_are_evenly_spaced_and_start_at_page_zero() {
        assert_eq!(sample_indexes(4), vec![0, 1, 2, 3]);
        let s = sample_indexes(1024);
        assert_eq!(s.len(), SAMPLE_PAGES as usize);
        assert_eq!(s[0], 0);
        assert_eq!(s[1], 64);
        assert_eq!(s[15], 960);
        // A quarter of the samples fall in the first quarter of the region.
        assert_eq!(s.iter().filter(|i| **i < 256).count(), 4);
    }

    #[test]
    fn hidden_pfns_are_recorded_as_null_with_the_reason() {
        let entries = parse_entries(&bytes(&[PRESENT, PRESENT | EXCLUSIVE, 0])).expect("ok");
        let mut counts = Counts::default();
        counts.add(&entries);
        let sampled: Vec<_> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u64, *e))
            .collect();
        let r = summarize(3, counts, &sampled, |_| Some(1), None);
        assert_eq!(r.present_pages, 2);
        assert_eq!(r.exclusive_pages, 1);
        assert!(r
            .sample
            .iter()
            .all(|s| s.pfn.is_none() && s.map_count.is_none()));
        assert!(r
            .pfn_unavailable
            .as_deref()
            .is_some_and(|w| w.contains("CAP_SYS_ADMIN")));
    }

    #[test]
    fn visible_pfns_carry_their_map_count() {
        let entries = parse_entries(&bytes(&[PRESENT | 7, PRESENT | EXCLUSIVE | 9])).expect("ok");
        let mut counts = Counts::default();
        counts.add(&entries);
        let sampled = [(0, entries[0]), (1, entries[1])];
        let r = summarize(2, counts, &sampled, |pfn| Some(pfn / 7), None);
        assert_eq!(r.sample[0].pfn, Some(7));
        assert_eq!(r.sample[0].map_count, Some(1));
        assert!(r.sample[1].exclusive);
        assert_eq!(r.pfn_unavailable, None);
    }

    #[test]
    fn reads_a_region_from_files_laid_out_like_proc() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pagemap = dir.path().join("pagemap");
        let kpagecount = dir.path().join("kpagecount");
        // Pages 0..8 of the address space; the region is pages 2..6.
        let raw: Vec<u64> = (0..8).map(|i| PRESENT | (i + 1)).collect();
        std::fs::write(&pagemap, bytes(&raw)).expect("write");
        std::fs::write(&kpagecount, bytes(&[0, 1, 1, 2, 2, 1, 1, 1, 1])).expect("write");
        let r = read_region_at(&pagemap, &kpagecount, 2 * 4096, 4 * 4096, 4096).expect("read");
        assert_eq!(r.pages, 4);
        assert_eq!(r.present_pages, 4);
        let pfns: Vec<_> = r.sample.iter().map(|s| s.pfn).collect();
        assert_eq!(pfns, vec![Some(3), Some(4), Some(5), Some(6)]);
        assert_eq!(r.sample[0].map_count, Some(2));
        assert_eq!(r.sample[2].map_count, Some(1));
    }
}
