//! The one room check every plan makes before it asks for disk or memory: a
//! plan that cannot fit is refused with what it needs, what there is, and what
//! to pass instead, rather than filling the disk or waking the OOM killer.

use crate::system::Environment;
use crate::units::human_bytes;

/// Disk space a file of `file_bytes` takes, with 5% to spare for the file
/// system's own blocks.
pub fn disk_bytes_for(file_bytes: u64) -> u64 {
    file_bytes + file_bytes / 20
}

/// A file of `file_bytes` (what it is: `what`) must fit in the temp folder.
pub fn check_disk(env: &Environment, file_bytes: u64, what: &str) -> Result<(), String> {
    let needed = disk_bytes_for(file_bytes);
    if env.temp_dir_free_bytes < needed {
        return Err(format!(
            "needs {} free in {} for {what} but only {} is free; pass --dir elsewhere, --quick or a smaller --size",
            human_bytes(needed),
            env.temp_dir.display(),
            human_bytes(env.temp_dir_free_bytes)
        ));
    }
    Ok(())
}

/// `needed_bytes` of memory (what for: `what`) must fit in what the run may
/// take now ([`Environment::memory_room_bytes`]); passes when that is unknown.
pub fn check_memory(env: &Environment, needed_bytes: u64, what: &str) -> Result<(), String> {
    match env.memory_room_bytes() {
        Some(room) if room < needed_bytes => Err(format!(
            "the memory free for this run ({}, MemAvailable within the cgroup limit) cannot hold {what}; use --quick or a smaller --size",
            human_bytes(room)
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_larger_than_the_free_space_is_refused_with_both_figures() {
        let mut env = crate::experiment::testkit::env();
        env.temp_dir_free_bytes = 1 << 20;
        let err = check_disk(&env, 1 << 20, "the file").unwrap_err();
        assert!(err.contains("1.0 MiB is free"), "{err}");
        assert!(err.contains("for the file"), "{err}");
        env.temp_dir_free_bytes = disk_bytes_for(1 << 20);
        check_disk(&env, 1 << 20, "the file").unwrap();
    }

    #[test]
    fn more_memory_than_there_is_room_for_is_refused() {
        let env = crate::experiment::testkit::env();
        assert!(
            env.memory_room_bytes().is_some(),
            "MemAvailable is readable"
        );
        let err = check_memory(&env, u64::MAX, "everything").unwrap_err();
        assert!(err.contains("cannot hold everything"), "{err}");
        check_memory(&env, 0, "nothing").unwrap();
    }
}
