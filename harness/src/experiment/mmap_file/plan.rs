//! The sizes and variants of an mmap-file run, and whether the machine has room
//! for them.

use std::collections::BTreeMap;

use experiments::catalog::mmap_file::{variant, Args, Cache};
use serde_json::json;

use super::super::{room, Plan, PlanContext, PlannedVariant};
use crate::system::Environment;

/// The seed's sizes: `dd bs=1024 count=1000000` wrote 1,024,000,000 bytes and the
/// program mapped the first 1,000,000,000.
const SEED_FILE_BYTES: u64 = 1_024_000_000;
const QUICK_FILE_BYTES: u64 = 64 << 20;
/// The smallest file that shows anything (and the smallest cold-random one).
const MIN_FILE_BYTES: u64 = 1 << 16;
/// With read-ahead off every page is a trip to the disk, so `cold-random` uses a
/// quarter of the file size.
const RANDOM_SHARE: u64 = 4;
/// Size of each write(2) that creates the file in the warm and cold variants:
/// the page cache keeps such a file in large folios.
const WRITE_CHUNK_BYTES: u64 = 1 << 20;
/// The seed's own method, `dd bs=1024`: 1 KiB per write(2) (variant `warm-dd`).
pub(super) const SEED_WRITE_CHUNK_BYTES: u64 = 1024;
/// Memory the run needs beside the file's page cache.
const MEMORY_MARGIN_BYTES: u64 = 64 << 20;

/// Sizes of one variant.
struct Sizes {
    file_bytes: u64,
    map_bytes: u64,
}

impl Sizes {
    /// The seed's ratio of mapped to written bytes (1000/1024), on whole 4-byte ints.
    fn for_file(file_bytes: u64) -> Sizes {
        Sizes {
            file_bytes,
            map_bytes: (file_bytes / 1024 * 1000).max(4) / 4 * 4,
        }
    }
}

/// The four variants: warm, warm-dd (the seed's 1 KiB writes), cold, and
/// cold-random on a quarter of the file.
pub(super) fn plan(ctx: &PlanContext<'_>) -> Result<Plan, String> {
    let file_bytes = ctx.size_bytes.unwrap_or(if ctx.quick {
        QUICK_FILE_BYTES
    } else {
        SEED_FILE_BYTES
    });
    if file_bytes < MIN_FILE_BYTES {
        return Err(format!(
            "a file of {file_bytes} bytes is too small to show anything; use --size 1MiB or more"
        ));
    }
    let main = Sizes::for_file(file_bytes);
    let random = Sizes::for_file((file_bytes / RANDOM_SHARE).max(MIN_FILE_BYTES));
    check_room(ctx.env, main.file_bytes)?;
    let reuse = FileReuse::plan(ctx.env, main.file_bytes);

    let planned = |name: &str, cache: Cache, sizes: &Sizes, chunk: u64| PlannedVariant {
        name: name.to_string(),
        args: experiments::args::to_args(&Args {
            cache,
            file_bytes: sizes.file_bytes,
            map_bytes: sizes.map_bytes as usize,
            write_chunk_bytes: chunk as usize,
            keep_file: reuse.keeps(name),
            reuse_file: reuse.reuses(name),
        }),
    };
    let mut params = BTreeMap::new();
    params.insert("file_bytes".into(), json!(main.file_bytes));
    params.insert("map_bytes".into(), json!(main.map_bytes));
    params.insert("cold_random_file_bytes".into(), json!(random.file_bytes));
    params.insert("cold_random_map_bytes".into(), json!(random.map_bytes));
    params.insert("write_chunk_bytes".into(), json!(WRITE_CHUNK_BYTES));
    params.insert(
        "warm_dd_write_chunk_bytes".into(),
        json!(SEED_WRITE_CHUNK_BYTES),
    );
    params.insert("file_reused".into(), json!(reuse.on));
    Ok(Plan {
        params,
        variants: vec![
            planned(variant::WARM, Cache::Warm, &main, WRITE_CHUNK_BYTES),
            // warm-dd is the warm variant with the seed's way of writing the file.
            planned(variant::WARM_DD, Cache::Warm, &main, SEED_WRITE_CHUNK_BYTES),
            planned(variant::COLD, Cache::Cold, &main, WRITE_CHUNK_BYTES),
            planned(
                variant::COLD_RANDOM,
                Cache::ColdRandom,
                &random,
                WRITE_CHUNK_BYTES,
            ),
        ],
    })
}

/// Which variants write the file and which reuse one: writing and flushing
/// 1 GB costs more than any measured phase, and the cold variants throw the
/// file's page cache away before they measure, so they need not write their
/// own. `warm` writes the file and keeps it (out of the page cache), `cold`
/// reuses and keeps it, `cold-random` reuses it cut to its quarter. `warm-dd`
/// always writes its own: its 1 KiB writes are what it measures. The variants
/// run in one folder ([`super::MmapFile`] says so), in plan order.
struct FileReuse {
    /// Off when the temp folder has no room for the kept file beside
    /// warm-dd's: then every variant writes and removes its own, as a variant
    /// run alone does.
    on: bool,
}

impl FileReuse {
    fn plan(env: &Environment, file_bytes: u64) -> FileReuse {
        FileReuse {
            on: env.temp_dir_free_bytes >= 2 * room_needed(file_bytes),
        }
    }

    /// Whether `variant` leaves its file for a later one.
    fn keeps(&self, variant: &str) -> bool {
        self.on && matches!(variant, variant::WARM | variant::COLD)
    }

    /// Whether `variant` maps the file an earlier one left, when there is one.
    fn reuses(&self, variant: &str) -> bool {
        self.on && matches!(variant, variant::COLD | variant::COLD_RANDOM)
    }
}

/// Disk space one file takes, with room to spare.
fn room_needed(file_bytes: u64) -> u64 {
    room::disk_bytes_for(file_bytes)
}

/// The file must fit in the temp folder, and (for the warm variant to be warm) in
/// the cgroup's memory limit, since page cache is charged to the cgroup.
fn check_room(env: &Environment, file_bytes: u64) -> Result<(), String> {
    room::check_disk(env, file_bytes, "the file")?;
    let needed = room_needed(file_bytes) + MEMORY_MARGIN_BYTES;
    room::check_memory(env, needed, "the file in the page cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_keeps_the_seeds_ratio_on_whole_ints() {
        let seed = Sizes::for_file(SEED_FILE_BYTES);
        assert_eq!(seed.map_bytes, 1_000_000_000);
        let quick = Sizes::for_file(QUICK_FILE_BYTES);
        assert_eq!(quick.map_bytes % 4, 0);
        assert!(quick.map_bytes < quick.file_bytes);
    }

    #[test]
    fn every_variant_reads_back_its_cache_state_and_sizes() {
        let mut env = crate::experiment::testkit::env();
        env.temp_dir_free_bytes = u64::MAX;
        // A file small enough for any machine's memory.
        let size = 4 << 20;
        let ctx = PlanContext {
            quick: true,
            size_bytes: Some(size),
            count: None,
            env: &env,
            no_aslr: false,
        };
        let plan = plan(&ctx).expect("a 4 MiB file fits");
        let args: Vec<Args> = plan
            .variants
            .iter()
            .map(|v| experiments::args::parse(&v.args).expect("the binary reads its arguments"))
            .collect();
        assert_eq!(
            args.iter().map(|a| a.cache).collect::<Vec<_>>(),
            [Cache::Warm, Cache::Warm, Cache::Cold, Cache::ColdRandom]
        );
        assert_eq!(args[1].write_chunk_bytes as u64, SEED_WRITE_CHUNK_BYTES);
        assert_eq!(args[0].file_bytes, size);
        assert_eq!(args[3].file_bytes, size / RANDOM_SHARE);
    }

    /// (keep_file, reuse_file) of each variant, in plan order, with `free`
    /// bytes in the temp folder for a file of `size`.
    fn reuse_flags(size: u64, free: u64) -> Vec<(String, bool, bool)> {
        let mut env = crate::experiment::testkit::env();
        env.temp_dir_free_bytes = free;
        let ctx = PlanContext {
            quick: true,
            size_bytes: Some(size),
            count: None,
            env: &env,
            no_aslr: false,
        };
        let plan = plan(&ctx).expect("the file fits");
        plan.variants
            .iter()
            .map(|v| {
                let args: Args = experiments::args::parse(&v.args).expect("arguments read back");
                (v.name.clone(), args.keep_file, args.reuse_file)
            })
            .collect()
    }

    #[test]
    fn the_cold_variants_reuse_the_warm_file_and_warm_dd_writes_its_own() {
        let size = 4 << 20;
        let flags = reuse_flags(size, 2 * room_needed(size));
        let expected = [
            (variant::WARM, true, false),
            (variant::WARM_DD, false, false),
            (variant::COLD, true, true),
            (variant::COLD_RANDOM, false, true),
        ];
        assert_eq!(
            flags,
            expected.map(|(n, k, r)| (n.to_string(), k, r)).to_vec()
        );
    }

    #[test]
    fn without_room_for_two_files_every_variant_writes_its_own() {
        let size = 4 << 20;
        let flags = reuse_flags(size, 2 * room_needed(size) - 1);
        assert!(
            flags.iter().all(|(_, keep, reuse)| !keep && !reuse),
            "{flags:?}"
        );
    }
}
