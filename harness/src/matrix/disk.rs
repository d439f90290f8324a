//! The guests' disk for the experiments' files: a sparse raw image made on the
//! host with `mkfs.ext4` (e2fsprogs), attached as a virtio block device. Files
//! on it live in the page cache as on any disk-backed system, so they can be
//! dropped from memory and read back with major faults, and stay clean while
//! only read; on tmpfs they could not.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The tool that makes the file system.
const MKFS: &str = "mkfs.ext4";

/// Whether the image can be made here, or why not (with the install command).
pub fn available() -> Result<(), String> {
    let found = super::qemu::on_path(MKFS)
        || ["/sbin", "/usr/sbin"]
            .iter()
            .any(|d| Path::new(d).join(MKFS).is_file());
    if found {
        Ok(())
    } else {
        Err(format!(
            "{MKFS} not found (apt-get install e2fsprogs), so no disk can be made for the guests' files"
        ))
    }
}

/// The disk size for experiments of `size_bytes` (their quick sizes when
/// None): room for a few files of that size and the file system's own blocks.
/// The image is sparse, so only what is written takes space on the host.
pub fn size_for(size_bytes: Option<u64>) -> u64 {
    let files = size_bytes.unwrap_or(256 << 20).saturating_mul(4);
    (files + (256 << 20)).max(1 << 30)
}

/// Makes an ext4 image of `bytes` at `path`. The inode tables and the journal
/// are written now (`lazy_itable_init=0,lazy_journal_init=0`), so that the
/// guest kernel does not start a background thread that zeroes them while the
/// experiments measure; one inode per MiB (`-T largefile`) is plenty for a few
/// large files and keeps those tables small.
pub fn make(path: &Path, bytes: u64) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.set_len(bytes)
        .with_context(|| format!("cannot size {}", path.display()))?;
    drop(file);
    let mkfs = ["/sbin", "/usr/sbin"]
        .iter()
        .map(|d| Path::new(d).join(MKFS))
        .find(|p| p.is_file())
        .unwrap_or_else(|| MKFS.into());
    let output = Command::new(&mkfs)
        .args([
            "-q",
            "-F",
            "-T",
            "largefile",
            "-L",
            "vmlab-files",
            "-E",
            "lazy_itable_init=0,lazy_journal_init=0",
        ])
        .arg(path)
        .output()
        .with_context(|| format!("cannot run {}", mkfs.display()))?;
    if !output.status.success() {
        bail!(
            "`{} {}` failed ({}): {}",
            mkfs.display(),
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_an_ext4_file_system_of_the_asked_size() {
        if let Err(why) = available() {
            eprintln!("SKIP: {why}");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("files.ext4");
        make(&image, 64 << 20).unwrap();
        assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 << 20);
        // The ext2/3/4 superblock starts at 1024; its magic 0xEF53 is at 56.
        let bytes = std::fs::read(&image).unwrap();
        assert_eq!(&bytes[1024 + 56..1024 + 58], &[0x53, 0xef]);
    }

    #[test]
    fn disks_hold_a_few_files_of_the_chosen_size() {
        assert_eq!(size_for(None), 1280 << 20);
        assert_eq!(size_for(Some(1 << 30)), (4 << 30) + (256 << 20));
    }
}
