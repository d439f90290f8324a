//! How big fault-costs' blocks are, and what the machine must have room for.

use std::collections::BTreeMap;

use experiments::catalog::fault_costs::{variant, Args};
use serde_json::json;

use super::super::{room, Plan, PlanContext, PlannedVariant};
use crate::system::Environment;

/// Sizes at full size and at `--quick` size.
struct Sizes {
    block_bytes: u64,
    thp_block_bytes: u64,
    random_block_bytes: u64,
    repetitions: u64,
}

const FULL: Sizes = Sizes {
    block_bytes: 8 << 20,
    thp_block_bytes: 16 << 20,
    random_block_bytes: 1 << 20,
    repetitions: 16,
};
const QUICK: Sizes = Sizes {
    block_bytes: 1 << 20,
    thp_block_bytes: 4 << 20,
    random_block_bytes: 128 << 10,
    repetitions: 8,
};

/// The one variant, sized for `ctx`; refused when the file or what is resident
/// at once does not fit.
pub(super) fn plan(ctx: &PlanContext<'_>) -> Result<Plan, String> {
    let sizes = if ctx.quick { QUICK } else { FULL };
    let page = ctx.env.page_size.max(1);
    let block = ctx.size_bytes.unwrap_or(sizes.block_bytes).div_ceil(page) * page;
    if block < 16 * page {
        return Err(format!(
            "a block of {block} bytes is too small to time faults in; use --size 64KiB or more"
        ));
    }
    let reps = sizes.repetitions;
    // Whole transparent huge pages of the kernel's PMD size.
    let thp_block = match ctx.env.thp_pmd_bytes {
        Some(pmd) if pmd > 0 => sizes.thp_block_bytes.div_ceil(pmd) * pmd,
        _ => sizes.thp_block_bytes,
    };
    // The read file (warm, cold, random parts) and the write file (shared and
    // private parts).
    let file_bytes = reps * (2 * block + sizes.random_block_bytes) + reps * 2 * block;
    // Resident at once at most: the anonymous block set, the COW set twice
    // (the parent's copies and the child's originals), the private file copies,
    // the THP set, both files.
    let resident = reps * (4 * block + thp_block) + file_bytes;
    check_room(ctx.env, file_bytes, resident)?;
    let args = Args {
        block_bytes: block as usize,
        thp_block_bytes: thp_block as usize,
        random_block_bytes: sizes.random_block_bytes as usize,
        repetitions: reps as usize,
        pmd_bytes: ctx.env.thp_pmd_bytes.map(|b| b as usize),
    };
    let mut params = BTreeMap::new();
    params.insert("block_bytes".into(), json!(block));
    params.insert("thp_block_bytes".into(), json!(thp_block));
    params.insert("random_block_bytes".into(), json!(sizes.random_block_bytes));
    params.insert("repetitions".into(), json!(reps));
    params.insert("file_bytes".into(), json!(file_bytes));
    Ok(Plan {
        params,
        variants: vec![PlannedVariant {
            name: variant::DEFAULT.into(),
            args: experiments::args::to_args(&args),
        }],
    })
}

/// The file must fit in the temp folder, and what is resident at once under
/// the memory limits ([`room::check_resident_limit`]: the phases hold their
/// blocks for the whole run, so the bound is the limit, not the room free now).
fn check_room(env: &Environment, file_bytes: u64, resident_bytes: u64) -> Result<(), String> {
    room::check_disk(env, file_bytes, "the file")?;
    room::check_resident_limit(env, resident_bytes)
}
