//! Typed note keys. A note crosses the protocol as text; a [`Note<T>`] names it
//! with the type of its value, so that the experiment that writes it and the
//! judge that reads it agree on that type at compile time, and the text form is
//! made and read in one place: `T`'s `Display` and `FromStr`, which for the
//! types notes carry are each other's inverse.

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
        text.trim().parse().ok()
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

/// A key a note can be written or read under: a [`Note<T>`] takes only a `T`
/// (a `Note<String>` also a `&str`); a plain text key, for notes not typed
/// yet, takes any `T`.
pub trait NoteKey<T> {
    /// The key's text.
    fn key(&self) -> &str;
}

impl<T> NoteKey<T> for Note<T> {
    fn key(&self) -> &str {
        self.key
    }
}

/// Text notes are read as a `String` but may be written from any `&str`, so
/// that writing one between checkpoints allocates nothing.
impl NoteKey<&str> for Note<String> {
    fn key(&self) -> &str {
        self.key
    }
}

impl<T, K: AsRef<str> + ?Sized> NoteKey<T> for &K {
    fn key(&self) -> &str {
        (*self).as_ref()
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
}
