//! Typed note keys. A note crosses the protocol as text; a [`Note<T>`] names it
//! with the type of its value, so that the experiment that writes it and the
//! judge that reads it agree on that type at compile time, and the text form is
//! made and read in one place: `T`'s `Display` and `FromStr`, which for the
//! types notes carry are each other's inverse. Every key is typed: a plain
//! text key is not a key, so a new note cannot be written without its type.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

/// A note key whose value is a `T`.
#[derive(Debug)]
pub struct Note<T> {
    key: &'static str,
    value: PhantomData<fn() -> T>,
}

// Not derived: the derive would ask `T: Clone`, which a key does not need.
impl<T> Clone for Note<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Note<T> {}

impl<T> Note<T> {
    /// The key `key`, carrying a `T`.
    pub const fn new(key: &'static str) -> Note<T> {
        Note {
            key,
            value: PhantomData,
        }
    }

    /// The key as it is written on the wire and in results.
    pub const fn key(&self) -> &'static str {
        self.key
    }
}

impl<T: FromStr> Note<T> {
    /// The value, read from its text; `None` when the text is not a `T`.
    pub fn parse(&self, text: &str) -> Option<T> {
        self.read(text).ok()
    }

    /// The value, read from its text, or `T`'s reason why the text is not one.
    pub fn read(&self, text: &str) -> Result<T, T::Err> {
        text.trim().parse()
    }
}

impl<T: fmt::Display> Note<T> {
    /// The value as the protocol carries it.
    pub fn format(&self, value: &T) -> String {
        value.to_string()
    }
}

/// An address in a note: written `0x…`, as pmap and smaps print addresses,
/// and read back as the number it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hex(pub u64);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl FromStr for Hex {
    type Err = String;

    fn from_str(text: &str) -> Result<Hex, String> {
        text.strip_prefix("0x")
            .and_then(|digits| u64::from_str_radix(digits, 16).ok())
            .map(Hex)
            .ok_or_else(|| format!("'{text}' is not a 0x… address"))
    }
}

/// The most bytes a [`NamedNote`]'s key holds.
const NAMED_KEY_CAPACITY: usize = 64;

/// A note key formed at run time from the parts of a pattern of the contract
/// (`n-4-kernel-delta` of `n-*-kernel-delta`, `cost_fork_cpu_nanos` of
/// `cost_*_nanos`), carrying a `T`. It is held on the stack, so that forming
/// one between two checkpoints allocates nothing; only the contract forms
/// them, with the pattern they match.
#[derive(Debug)]
pub struct NamedNote<T> {
    bytes: [u8; NAMED_KEY_CAPACITY],
    len: usize,
    value: PhantomData<fn() -> T>,
}

// Not derived, as for `Note`: a key is copied whatever its value's type.
impl<T> Clone for NamedNote<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for NamedNote<T> {}

impl<T> NamedNote<T> {
    /// The key made of `parts` in order. Panics when they are longer than a
    /// key may be: the contract forms these keys from its own short names, so
    /// a longer one is a mistake in the contract, caught by its tests.
    pub(crate) fn joined(parts: &[&str]) -> NamedNote<T> {
        let mut bytes = [0; NAMED_KEY_CAPACITY];
        let mut len = 0;
        for part in parts {
            let end = len + part.len();
            assert!(
                end <= NAMED_KEY_CAPACITY,
                "note key {parts:?} is longer than {NAMED_KEY_CAPACITY} bytes"
            );
            bytes[len..end].copy_from_slice(part.as_bytes());
            len = end;
        }
        NamedNote {
            bytes,
            len,
            value: PhantomData,
        }
    }

    /// The key as it is written on the wire and in results.
    pub fn key(&self) -> &str {
        // Whole `&str`s copied end to end, never cut: always UTF-8.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl<T: FromStr> NamedNote<T> {
    /// The value, read from its text; `None` when the text is not a `T`.
    pub fn parse(&self, text: &str) -> Option<T> {
        self.read(text).ok()
    }

    /// The value, read from its text, or `T`'s reason why the text is not one.
    pub fn read(&self, text: &str) -> Result<T, T::Err> {
        text.trim().parse()
    }
}

/// A key a note can be written or read under: a [`Note<T>`] or a
/// [`NamedNote<T>`] takes only a `T` (a `Note<String>` also text in the forms
/// below, which read back as a `String`).
pub trait NoteKey<T> {
    /// The key's text.
    fn key(&self) -> &str;
}

impl<T> NoteKey<T> for Note<T> {
    fn key(&self) -> &str {
        self.key
    }
}

impl<T> NoteKey<T> for NamedNote<T> {
    fn key(&self) -> &str {
        NamedNote::key(self)
    }
}

/// Text notes are read as a `String` but may be written from any `&str`, so
/// that writing one between checkpoints allocates nothing.
impl NoteKey<&str> for Note<String> {
    fn key(&self) -> &str {
        self.key
    }
}

/// ... or from text formatted in place (`format_args!`), for the same reason.
impl NoteKey<fmt::Arguments<'_>> for Note<String> {
    fn key(&self) -> &str {
        self.key
    }
}

/// ... or from a path as it displays.
impl NoteKey<std::path::Display<'_>> for Note<String> {
    fn key(&self) -> &str {
        self.key
    }
}

/// Whole numbers in a note, written comma-separated (`1200,980,1010`): a
/// series of measurements, in the order they were taken.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Series(pub Vec<u64>);

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SeriesOf(&self.0).fmt(f)
    }
}

impl FromStr for Series {
    type Err = String;

    fn from_str(text: &str) -> Result<Series, String> {
        // An empty series writes as nothing, and reads back as empty.
        if text.trim().is_empty() {
            return Ok(Series(Vec::new()));
        }
        text.split(',')
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{s:?} in {text:?} is not a whole number"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Series)
    }
}

/// A [`Series`] written from a slice, so that writing one allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct SeriesOf<'a>(pub &'a [u64]);

impl fmt::Display for SeriesOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl NoteKey<SeriesOf<'_>> for NamedNote<Series> {
    fn key(&self) -> &str {
        NamedNote::key(self)
    }
}

/// Page indices of a file in a note, as ranges: `0-3,7,40-52`, or `none`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageRanges(pub Vec<(u64, u64)>);

impl PageRanges {
    /// The ranges of the pages marked in `marked` (one entry per page).
    pub fn of(marked: impl IntoIterator<Item = bool>) -> PageRanges {
        let mut ranges = Vec::new();
        let mut start = None;
        for (index, is_marked) in (0u64..).zip(marked.into_iter().chain([false])) {
            match (is_marked, start) {
                (true, None) => start = Some(index),
                (false, Some(s)) => {
                    ranges.push((s, index - 1));
                    start = None;
                }
                _ => {}
            }
        }
        PageRanges(ranges)
    }

    /// Every page index, in order.
    pub fn indices(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().flat_map(|&(first, last)| first..=last)
    }

    /// Whether no page is in a range.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for PageRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, &(first, last)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match first == last {
                true => write!(f, "{first}")?,
                false => write!(f, "{first}-{last}")?,
            }
        }
        Ok(())
    }
}

impl FromStr for PageRanges {
    type Err = String;

    fn from_str(text: &str) -> Result<PageRanges, String> {
        if text == "none" {
            return Ok(PageRanges::default());
        }
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?} in {text:?} is not a page index"))
        };
        text.split(',')
            .map(|part| {
                let (first, last) = part.split_once('-').unwrap_or((part, part));
                Ok((number(first)?, number(last)?))
            })
            .collect::<Result<Vec<_>, String>>()
            .map(PageRanges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BYTES: Note<u64> = Note::new("some_bytes");

    #[test]
    fn a_value_reads_back_as_it_was_written() {
        let text = BYTES.format(&4096);
        assert_eq!(BYTES.parse(&text), Some(4096));
        assert_eq!(BYTES.parse(" 12\n"), Some(12));
        assert_eq!(BYTES.parse("twelve"), None);
        assert_eq!(NoteKey::<u64>::key(&BYTES), "some_bytes");
    }

    #[test]
    fn an_address_is_written_in_hex_and_read_back() {
        const AT: Note<Hex> = Note::new("address");
        let text = AT.format(&Hex(0x7f00_0000_1000));
        assert_eq!(text, "0x7f0000001000");
        assert_eq!(AT.parse(&text), Some(Hex(0x7f00_0000_1000)));
        assert_eq!(AT.parse("7f00"), None);
    }

    #[test]
    fn a_named_key_is_its_parts_and_reads_its_own_type() {
        let key: NamedNote<u64> = NamedNote::joined(&["n-4", "-kernel-delta"]);
        assert_eq!(key.key(), "n-4-kernel-delta");
        assert_eq!(NoteKey::<u64>::key(&key), "n-4-kernel-delta");
        assert_eq!(key.parse(" 7\n"), Some(7));
        assert_eq!(key.parse("seven"), None);
    }

    #[test]
    #[should_panic(expected = "longer than")]
    fn a_named_key_longer_than_its_room_is_refused() {
        let long = "x".repeat(NAMED_KEY_CAPACITY);
        let _: NamedNote<u64> = NamedNote::joined(&[&long, "y"]);
    }

    #[test]
    fn a_series_reads_back_as_it_was_written() {
        assert_eq!(SeriesOf(&[1200, 980, 1010]).to_string(), "1200,980,1010");
        let series: Series = "1200, 980,1010".parse().unwrap();
        assert_eq!(series, Series(vec![1200, 980, 1010]));
        assert_eq!(series.to_string(), "1200,980,1010");
        // Nothing measured writes as nothing and reads back as nothing.
        let empty = Series::default();
        assert_eq!(empty.to_string().parse::<Series>(), Ok(empty));
        assert!(",".parse::<Series>().is_err());
        let err = "12,x".parse::<Series>().unwrap_err();
        assert!(err.contains("\"x\" in \"12,x\""), "{err}");
    }

    #[test]
    fn page_ranges_read_back_as_they_were_written() {
        let marked = [true, true, true, true, false, false, false, true, false];
        let ranges = PageRanges::of(marked);
        assert_eq!(ranges.to_string(), "0-3,7");
        assert_eq!(ranges.indices().collect::<Vec<_>>(), [0, 1, 2, 3, 7]);
        assert_eq!("0-3,7".parse::<PageRanges>(), Ok(ranges));
        let none = PageRanges::of([false, false]);
        assert_eq!(none.to_string(), "none");
        assert!("none".parse::<PageRanges>().unwrap().is_empty());
        assert!("0-x".parse::<PageRanges>().is_err());
    }
}
