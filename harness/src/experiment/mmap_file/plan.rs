//! The sizes and variants of an mmap-file run, and whether the machine has room
//! for them.

use std::collections::BTreeMap;

use experiments::catalog::mmap_file::{variant, Args, Cache};
use serde_json::json;

use super::super::{human_bytes, Plan, PlanContext, PlannedVariant};
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

    let planned = |name: &str, cache: Cache, sizes: &Sizes, chunk: u64| PlannedVariant {
        name: name.to_string(),
        args: experiments::args::to_args(&Args {
            cache,
            file_bytes: sizes.file_bytes,
            map_bytes: sizes.map_bytes as usize,
            write_chunk_bytes: chunk as usize,
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

/// The file must fit in the temp folder, and (for the warm variant to be warm) in
/// the cgroup's memory limit, since page cache is charged to the cgroup.
fn check_room(env: &Environment, file_bytes: u64) -> Result<(), String> {
    let needed = file_bytes + file_bytes / 20;
    if env.temp_dir_free_bytes < needed {
        return Err(format!(
            "needs {} free in {} for the file but only {} is free; pass --dir elsewhere, --quick or a smaller --size",
            human_bytes(needed),
            env.temp_dir.display(),
            human_bytes(env.temp_dir_free_bytes)
        ));
    }
    if let Some(limit) = env.memory_room_bytes() {
        if limit < needed + MEMORY_MARGIN_BYTES {
            return Err(format!(
                "the memory free for this run ({}, MemAvailable within the cgroup limit) cannot hold the file in the page cache; use --quick or a smaller --size",
                human_bytes(limit)
            ));
        }
    }
    Ok(())
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
}
