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

/// `needed_bytes` (what for: `what`, e.g. "1000 workers") must be at most half
/// of what the run may take now, or of the machine's RAM when that is unknown.
/// For a demand known only as an upper bound per piece (a worker's pages,
/// page tables and kernel stack): half leaves the rest of the machine room
/// when the bound is loose, and refuses counts that could squeeze it.
/// `advice` says what to pass instead.
pub fn check_half_of_room(
    env: &Environment,
    needed_bytes: u64,
    what: &str,
    advice: &str,
) -> Result<(), String> {
    let available = env.memory_room_bytes().unwrap_or(env.mem_total_bytes);
    if available > 0 && needed_bytes > available / 2 {
        return Err(format!(
            "{what} may need {} and this machine or cgroup has {}; {advice}",
            human_bytes(needed_bytes),
            human_bytes(available)
        ));
    }
    Ok(())
}

/// Writing `written_bytes` must take at most half of the machine's RAM
/// (passes when the RAM is unknown): a ceiling that does not move with what
/// else runs now, so that a size that is refused here is refused on every
/// run, besides [`check_memory`]'s check of the room at the moment.
pub fn check_half_of_ram(env: &Environment, written_bytes: u64) -> Result<(), String> {
    if env.mem_total_bytes > 0 && written_bytes > env.mem_total_bytes / 2 {
        return Err(format!(
            "writing {} would take more than half of this machine's {} of RAM; use --quick or a smaller --size",
            human_bytes(written_bytes),
            human_bytes(env.mem_total_bytes)
        ));
    }
    Ok(())
}

/// Memory kept free besides what a plan holds resident, in
/// [`check_resident_limit`].
const RESIDENT_HEADROOM_BYTES: u64 = 64 << 20;

/// `resident_bytes`, held resident at once, must fit with 64 MiB to spare under
/// the cgroup's memory limit and half of the machine's RAM (whichever is
/// lower; no bound where neither is known). Limits, not the room free now: a
/// run that holds its pages for a long time must stay clear of the OOM killer
/// under its limit and of reclaim on the machine, whatever else runs
/// meanwhile, and its size does not change from one run to the next.
pub fn check_resident_limit(env: &Environment, resident_bytes: u64) -> Result<(), String> {
    let half_ram = env
        .mem_total_bytes
        .checked_div(2)
        .filter(|m| *m > 0)
        .unwrap_or(u64::MAX);
    let limit = env
        .cgroup_memory_max_bytes
        .unwrap_or(u64::MAX)
        .min(half_ram);
    if resident_bytes.saturating_add(RESIDENT_HEADROOM_BYTES) > limit {
        return Err(format!(
            "holds up to {} resident at once, more than the {} it may use here; use --quick or a smaller --size",
            human_bytes(resident_bytes),
            human_bytes(limit)
        ));
    }
    Ok(())
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

    #[test]
    fn half_of_the_room_or_of_the_ram_is_the_most_a_bounded_demand_may_take() {
        let mut env = crate::experiment::testkit::env();
        let room = env
            .memory_room_bytes()
            .expect("the captured machine's MemAvailable");
        check_half_of_room(&env, room / 4, "a few workers", "use fewer").unwrap();
        check_half_of_room(&env, room / 2, "half", "use fewer").unwrap();
        let err = check_half_of_room(&env, room / 2 + 1, "many workers", "use fewer").unwrap_err();
        assert!(err.starts_with("many workers may need"), "{err}");
        assert!(err.ends_with("; use fewer"), "{err}");
        // A machine whose room and RAM are both unknown (nothing readable
        // under its root) refuses nothing.
        let empty = tempfile::tempdir().unwrap();
        env.detected_in = crate::system::Root::at(empty.path());
        env.cgroup_memory_max_bytes = None;
        env.mem_total_bytes = 0;
        assert_eq!(env.memory_room_bytes(), None);
        check_half_of_room(&env, u64::MAX, "anything", "-").unwrap();
    }

    #[test]
    fn writing_more_than_half_of_the_ram_is_refused_and_unknown_ram_passes() {
        let mut env = crate::experiment::testkit::env();
        env.mem_total_bytes = 8 << 30;
        check_half_of_ram(&env, 4 << 30).unwrap();
        let err = check_half_of_ram(&env, (4 << 30) + 1).unwrap_err();
        assert!(
            err.contains("more than half of this machine's 8.0 GiB"),
            "{err}"
        );
        env.mem_total_bytes = 0;
        check_half_of_ram(&env, u64::MAX).unwrap();
    }

    #[test]
    fn the_resident_limit_is_the_lower_of_the_cgroup_limit_and_half_the_ram() {
        let mut env = crate::experiment::testkit::env();
        env.mem_total_bytes = 8 << 30;
        env.cgroup_memory_max_bytes = None;
        check_resident_limit(&env, (4 << 30) - (64 << 20)).unwrap();
        let err = check_resident_limit(&env, 4 << 30).unwrap_err();
        assert!(err.contains("more than the 4.0 GiB it may use"), "{err}");
        env.cgroup_memory_max_bytes = Some(1 << 30);
        let err = check_resident_limit(&env, 1 << 30).unwrap_err();
        assert!(err.contains("more than the 1.0 GiB it may use"), "{err}");
        env.cgroup_memory_max_bytes = None;
        env.mem_total_bytes = 0;
        check_resident_limit(&env, 1 << 40).unwrap();
    }
}
