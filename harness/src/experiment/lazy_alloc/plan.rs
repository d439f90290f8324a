//! How big lazy-alloc's mapping and chunks are, and what the machine must
//! have room for.

use std::collections::BTreeMap;

use experiments::catalog::lazy_alloc::{Args, Thp};
use serde_json::json;

use super::super::{human_bytes, room, Plan, PlanContext, PlannedVariant};

const FULL_MAP_BYTES: u64 = 8 << 30;
const QUICK_MAP_BYTES: u64 = 1 << 30;
/// Each step reads or writes an eighth of the mapping at full size (1 GiB of
/// 8 GiB) and a quarter at --quick size (256 MiB of 1 GiB).
const FULL_CHUNK_SHARE: u64 = 8;
const QUICK_CHUNK_SHARE: u64 = 4;
/// Memory left free besides what the run writes.
const HEADROOM_BYTES: u64 = 64 << 20;

/// The two variants, THP off (with the overcommit attempts) and on, sized
/// for `ctx`; refused when the machine cannot hold what the run writes.
pub(super) fn plan(ctx: &PlanContext<'_>) -> Result<Plan, String> {
    let page = ctx.env.page_size.max(1);
    let (default, share) = if ctx.quick {
        (QUICK_MAP_BYTES, QUICK_CHUNK_SHARE)
    } else {
        (FULL_MAP_BYTES, FULL_CHUNK_SHARE)
    };
    let map_bytes = ctx.size_bytes.unwrap_or(default).div_ceil(page) * page;
    let chunk_bytes = (map_bytes / share).div_ceil(page) * page;
    if map_bytes < 64 * page {
        return Err(format!(
            "a mapping of {map_bytes} bytes is too small to show anything; use --size 1MiB or more"
        ));
    }
    // Two chunks are written, and reading one costs a page table per 512 pages.
    let written = 2 * chunk_bytes + chunk_bytes / 512;
    let what = format!("the {} this experiment writes", human_bytes(written));
    room::check_memory(ctx.env, written + HEADROOM_BYTES, &what)?;
    room::check_half_of_ram(ctx.env, written)?;
    strict_commit_room(ctx, map_bytes)?;
    let variant = |thp: Thp, overcommit_test: bool| {
        let args = Args {
            map_bytes: map_bytes as usize,
            chunk_bytes: chunk_bytes as usize,
            variant: thp,
            overcommit_test,
        };
        PlannedVariant {
            name: thp.variant().to_string(),
            args: experiments::args::to_args(&args),
        }
    };
    let mut params = BTreeMap::new();
    params.insert("map_bytes".into(), json!(map_bytes));
    params.insert("chunk_bytes".into(), json!(chunk_bytes));
    Ok(Plan {
        params,
        variants: vec![variant(Thp::ThpOff, true), variant(Thp::ThpOn, false)],
    })
}

/// Under `vm.overcommit_memory = 2` the kernel refuses any mapping that
/// CommitLimit cannot back, the measured one included: declines when the
/// mapping (with headroom for the run's own needs) exceeds what can still be
/// committed, so that a guest or machine in strict mode is sized for it, or
/// told why not.
fn strict_commit_room(ctx: &PlanContext<'_>, map_bytes: u64) -> Result<(), String> {
    let (Some(2), Some(room)) = (ctx.env.overcommit_memory, ctx.env.commit_room_bytes) else {
        return Ok(());
    };
    if map_bytes.saturating_add(HEADROOM_BYTES) <= room {
        return Ok(());
    }
    Err(format!(
        "under vm.overcommit_memory = 2 the kernel refuses what CommitLimit cannot back: the {} \
         mapping needs {} of commit room, and {} is left here; raise vm.overcommit_ratio, or use a \
         smaller --size",
        human_bytes(map_bytes),
        human_bytes(map_bytes + HEADROOM_BYTES),
        human_bytes(room)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(env: &crate::system::Environment) -> Result<Plan, String> {
        plan(&PlanContext {
            quick: true,
            size_bytes: None,
            count: None,
            env,
            no_aslr: false,
        })
    }

    #[test]
    fn strict_overcommit_without_room_for_the_mapping_declines_and_says_why() {
        let mut env = crate::experiment::testkit::env();
        env.mem_total_bytes = 24 << 30;
        env.overcommit_memory = Some(2);
        env.commit_room_bytes = Some(QUICK_MAP_BYTES / 2);
        let why = quick(&env).expect_err("no room to commit the mapping");
        assert!(why.contains("vm.overcommit_memory = 2"), "{why}");
        // Room enough, or a mode that does not refuse: planned.
        env.commit_room_bytes = Some(QUICK_MAP_BYTES + HEADROOM_BYTES);
        assert!(quick(&env).is_ok());
        env.commit_room_bytes = Some(0);
        env.overcommit_memory = Some(0);
        assert!(quick(&env).is_ok());
    }
}
