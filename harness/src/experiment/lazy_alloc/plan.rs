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
    if ctx.env.mem_total_bytes > 0 && written > ctx.env.mem_total_bytes / 2 {
        return Err(format!(
            "writing {} would take more than half of this machine's {} of RAM; use --quick or a smaller --size",
            human_bytes(written),
            human_bytes(ctx.env.mem_total_bytes)
        ));
    }
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
