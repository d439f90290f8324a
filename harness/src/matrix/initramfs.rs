//! The guest's root file system: an uncompressed `newc` cpio archive (the format
//! the kernel unpacks into its initial rootfs, see
//! Documentation/driver-api/early-userspace/buffer-format.rst) written here in
//! Rust, so no `cpio` tool is needed. The kernel accepts it uncompressed, which
//! also spares the guest a decompression under software emulation.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// One entry of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory (`path` without a leading slash, e.g. `bin`).
    Dir {
        /// Path inside the archive.
        path: String,
    },
    /// A regular file with its contents.
    File {
        /// Path inside the archive.
        path: String,
        /// Permission bits (0o755 for programs).
        mode: u32,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A character device node (`dev/console`, needed before devtmpfs is mounted).
    CharDevice {
        /// Path inside the archive.
        path: String,
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
}

const MAGIC: &str = "070701";
const TRAILER: &str = "TRAILER!!!";
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;

/// Writes `entries` as a newc archive, ending with the trailer. Inode numbers are
/// assigned in order; owner is root; times are zero so the archive is
/// reproducible.
pub fn write(out: &mut impl Write, entries: &[Entry]) -> io::Result<u64> {
    let mut writer = Writer { out, written: 0 };
    for (index, entry) in entries.iter().enumerate() {
        let ino = index as u32 + 1;
        match entry {
            Entry::Dir { path } => writer.entry(path, ino, S_IFDIR | 0o755, 2, (0, 0), &[])?,
            Entry::File { path, mode, data } => {
                writer.entry(path, ino, S_IFREG | (mode & 0o7777), 1, (0, 0), data)?
            }
            Entry::CharDevice { path, major, minor } => {
                writer.entry(path, ino, S_IFCHR | 0o600, 1, (*major, *minor), &[])?
            }
        }
    }
    writer.entry(TRAILER, 0, 0, 1, (0, 0), &[])?;
    Ok(writer.written)
}

/// Builds the archive for the guest: `/init` (the harness, which runs as PID 1),
/// the experiment binaries under `/bin`, `/dev/console`, empty mount points, and
/// `support` files by their path inside the guest (their folders are created).
pub fn build(
    harness: &Path,
    experiments: &[(String, std::path::PathBuf)],
    support: &[(String, std::path::PathBuf)],
) -> Result<Vec<u8>> {
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let mut entries = vec![];
    for dir in ["bin", "dev", "proc", "sys", "tmp", "results", "files"] {
        entries.push(Entry::Dir { path: dir.into() });
    }
    entries.push(Entry::CharDevice {
        path: "dev/console".into(),
        major: 5,
        minor: 1,
    });
    entries.push(Entry::File {
        path: "init".into(),
        mode: 0o755,
        data: read(harness)?,
    });
    for (name, path) in experiments {
        entries.push(Entry::File {
            path: format!("bin/{}", experiments::catalog::binary_name(name)),
            mode: 0o755,
            data: read(path)?,
        });
    }
    let mut folders: Vec<&str> = vec!["bin"];
    for (inside, path) in support {
        // Every ancestor folder, outermost first, once.
        for (slash, _) in inside.match_indices('/') {
            let folder = &inside[..slash];
            if !folders.contains(&folder) {
                folders.push(folder);
                entries.push(Entry::Dir {
                    path: folder.into(),
                });
            }
        }
        entries.push(Entry::File {
            path: inside.clone(),
            mode: 0o755,
            data: read(path)?,
        });
    }
    let mut out = Vec::new();
    write(&mut out, &entries).context("cannot write the initramfs")?;
    Ok(out)
}

struct Writer<'a, W: Write> {
    out: &'a mut W,
    written: u64,
}

impl<W: Write> Writer<'_, W> {
    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Pads with zeros to the next multiple of four bytes, as newc requires after
    /// the name and after the data.
    fn pad(&mut self) -> io::Result<()> {
        let padding = (4 - (self.written % 4) as usize) % 4;
        self.bytes(&[0u8; 3][..padding])
    }

    fn entry(
        &mut self,
        name: &str,
        ino: u32,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> io::Result<()> {
        let size = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name} is too large for a cpio archive (4 GiB limit)"),
            )
        })?;
        // Fields: ino mode uid gid nlink mtime filesize devmajor devminor
        // rdevmajor rdevminor namesize check, each 8 hex digits.
        let header = format!(
            "{MAGIC}{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            0,
            0,
            0,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        self.bytes(header.as_bytes())?;
        self.bytes(name.as_bytes())?;
        self.bytes(&[0])?;
        self.pad()?;
        self.bytes(data)?;
        self.pad()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry as read back.
    #[derive(Debug, PartialEq, Eq)]
    struct ReadEntry {
        name: String,
        mode: u32,
        rdev: (u32, u32),
        data: Vec<u8>,
    }

    fn read_entry(name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) -> ReadEntry {
        ReadEntry {
            name: name.into(),
            mode,
            rdev,
            data: data.to_vec(),
        }
    }

    /// Reads a newc archive back, stopping at the trailer. A minimal reader,
    /// written from the format description.
    fn read_back(archive: &[u8]) -> Vec<ReadEntry> {
        let field = |at: usize, n: usize| {
            u32::from_str_radix(
                std::str::from_utf8(&archive[at + 6 + n * 8..][..8]).unwrap(),
                16,
            )
            .unwrap()
        };
        let align = |n: usize| n.div_ceil(4) * 4;
        let mut at = 0;
        let mut entries = vec![];
        loop {
            assert_eq!(&archive[at..at + 6], MAGIC.as_bytes(), "magic at {at}");
            let mode = field(at, 1);
            let size = field(at, 6) as usize;
            let rdev = (field(at, 9), field(at, 10));
            let namesize = field(at, 11) as usize;
            let name_start = at + 110;
            let name = std::str::from_utf8(&archive[name_start..name_start + namesize - 1])
                .unwrap()
                .to_string();
            assert_eq!(archive[name_start + namesize - 1], 0, "name ends with NUL");
            let data_start = align(name_start + namesize);
            let data = archive[data_start..data_start + size].to_vec();
            at = align(data_start + size);
            if name == TRAILER {
                assert_eq!(at, archive.len(), "nothing after the trailer");
                return entries;
            }
            entries.push(ReadEntry {
                name,
                mode,
                rdev,
                data,
            });
        }
    }

    #[test]
    fn archives_read_back_with_names_modes_and_contents() {
        let entries = vec![
            Entry::Dir { path: "bin".into() },
            Entry::File {
                path: "init".into(),
                mode: 0o755,
                data: b"#!hello".to_vec(),
            },
            Entry::File {
                path: "bin/empty".into(),
                mode: 0o644,
                data: vec![],
            },
            Entry::CharDevice {
                path: "dev/console".into(),
                major: 5,
                minor: 1,
            },
        ];
        let mut out = vec![];
        let written = write(&mut out, &entries).unwrap();
        assert_eq!(written, out.len() as u64);
        assert_eq!(out.len() % 4, 0, "the archive is padded to four bytes");
        let back = read_back(&out);
        assert_eq!(
            back,
            vec![
                read_entry("bin", S_IFDIR | 0o755, (0, 0), b""),
                read_entry("init", S_IFREG | 0o755, (0, 0), b"#!hello"),
                read_entry("bin/empty", S_IFREG | 0o644, (0, 0), b""),
                read_entry("dev/console", S_IFCHR | 0o600, (5, 1), b""),
            ]
        );
    }

    #[test]
    fn support_files_land_at_their_guest_paths_with_their_folders() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, name).unwrap();
            path
        };
        let archive = build(
            &file("harness"),
            &[("an-experiment".into(), file("an-experiment"))],
            &[
                ("bin/vmlab-programs/a-program".into(), file("a-program")),
                ("lib/x86_64-linux-gnu/libc.so.6".into(), file("libc")),
                ("lib64/ld-linux-x86-64.so.2".into(), file("ld")),
            ],
        )
        .unwrap();
        let names: Vec<String> = read_back(&archive).into_iter().map(|e| e.name).collect();
        for expected in [
            "init",
            "bin/vmlab-an-experiment",
            "bin/vmlab-programs",
            "bin/vmlab-programs/a-program",
            "lib",
            "lib/x86_64-linux-gnu",
            "lib/x86_64-linux-gnu/libc.so.6",
            "lib64",
            "lib64/ld-linux-x86-64.so.2",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
        // Each folder once, and before what it holds.
        let lib = names.iter().position(|n| n == "lib").unwrap();
        let libc = names
            .iter()
            .position(|n| n == "lib/x86_64-linux-gnu/libc.so.6")
            .unwrap();
        assert!(lib < libc);
        assert_eq!(names.iter().filter(|n| *n == "lib").count(), 1);
    }

    #[test]
    fn names_and_data_of_every_length_stay_aligned() {
        // Lengths 1..=9 cover every remainder modulo four for names and data.
        let entries: Vec<Entry> = (1..=9)
            .map(|n| Entry::File {
                path: "x".repeat(n),
                mode: 0o600,
                data: vec![b'a'; n],
            })
            .collect();
        let mut out = vec![];
        write(&mut out, &entries).unwrap();
        let back = read_back(&out);
        assert_eq!(back.len(), 9);
        for (n, entry) in (1..=9).zip(back) {
            assert_eq!(entry.name.len(), n);
            assert_eq!(entry.data, vec![b'a'; n]);
        }
    }
}
