//! Reading a file the user named, bounded in bytes whatever its size claims to
//! be: /proc files say 0 and can be endless (/proc/self/pagemap), a FIFO
//! blocks, a device never ends. One home for the rule, so each reader only
//! says how much it takes.

use std::io::{self, Read};
use std::path::Path;

/// Reads the regular file `path` whole if it holds at most `limit` bytes. A
/// FIFO, device, socket or folder is refused without waiting on it, and a
/// file that turns out larger than `limit` (whatever stat said) is refused
/// after reading `limit + 1` bytes, never more.
pub fn read_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("more than {limit} bytes"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proc_file_of_size_0_is_read_no_further_than_the_limit() {
        // stat says 0 bytes; it holds several KiB.
        let e = read_capped(Path::new("/proc/self/smaps"), 1024).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge, "{e}");
        let e = read_capped(Path::new("/dev/zero"), 4096).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(read_capped(&fifo, 10).is_err());
        let small = dir.path().join("small");
        std::fs::write(&small, b"12345").unwrap();
        assert_eq!(read_capped(&small, 5).unwrap(), b"12345");
        assert!(read_capped(&small, 4).is_err());
    }
}
