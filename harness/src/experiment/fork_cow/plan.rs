//! How fork-cow runs: the region's size, checked against the machine's free
//! memory and temp space, and one planned variant per way of preparing it.

use std::collections::BTreeMap;

use experiments::catalog::fork_cow::{Args, Variant};
use serde_json::json;

use super::super::{human_bytes, room, Plan, PlanContext, PlannedVariant};

/// Region sizes: full, and `--quick` (a few huge pages' worth).
const FULL_REGION_BYTES: u64 = 256 << 20;
const QUICK_REGION_BYTES: u64 = 16 << 20;
/// Children of the zygote variant.
const ZYGOTE_CHILDREN: usize = 4;
/// Room kept besides the two copies of the region: the file-private variant's
/// page cache and the processes themselves.
const SLACK_BYTES: u64 = 64 << 20;

/// The plan, or why the run cannot fit here.
pub(super) fn plan(ctx: &PlanContext<'_>) -> Result<Plan, String> {
    let bytes = ctx.size_bytes.unwrap_or(if ctx.quick {
        QUICK_REGION_BYTES
    } else {
        FULL_REGION_BYTES
    });
    let page = ctx.env.page_size.max(1);
    if bytes < 64 * page {
        return Err(format!(
            "a region of {bytes} bytes is too small to divide into quarters and sixteenths; use --size 1MiB or more"
        ));
    }
    // Parent and child each end with a full copy, plus the page cache of the file.
    let needed = 2 * bytes + SLACK_BYTES;
    let copies = format!("two copies of the region ({})", human_bytes(bytes));
    room::check_memory(ctx.env, needed, &copies)?;
    room::check_disk(ctx.env, bytes, "the file-private variant's file")?;
    let planned = |variant: Variant| {
        let args = Args {
            variant,
            region_bytes: bytes,
            children: (variant == Variant::Zygote).then_some(ZYGOTE_CHILDREN),
            pmd_bytes: ctx.env.thp_pmd_bytes,
        };
        PlannedVariant {
            name: variant.name().to_string(),
            args: experiments::args::to_args(&args),
        }
    };
    let mut params = BTreeMap::new();
    params.insert("region_bytes".into(), json!(bytes));
    params.insert("zygote_children".into(), json!(ZYGOTE_CHILDREN));
    Ok(Plan {
        params,
        variants: Variant::ALL.into_iter().map(planned).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(env: &crate::system::Environment) -> PlanContext<'_> {
        PlanContext {
            quick: true,
            size_bytes: None,
            count: None,
            env,
            no_aslr: false,
        }
    }

    #[test]
    fn each_variant_reads_back_its_own_arguments_with_the_machines_pmd_size() {
        let mut env = crate::experiment::testkit::env();
        env.thp_pmd_bytes = Some(1 << 21);
        env.temp_dir_free_bytes = u64::MAX;
        let plan = plan(&ctx(&env)).expect("a quick run fits");
        let names: Vec<_> = plan.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, experiments::catalog::fork_cow::INFO.variants);
        for v in &plan.variants {
            let args: Args = experiments::args::parse(&v.args).expect("the binary reads it");
            assert_eq!(args.variant.name(), v.name);
            assert_eq!(args.region_bytes, QUICK_REGION_BYTES);
            assert_eq!(args.pmd_bytes, env.thp_pmd_bytes);
            let zygote = args.variant == Variant::Zygote;
            assert_eq!(
                args.children,
                zygote.then_some(ZYGOTE_CHILDREN),
                "{}",
                v.name
            );
        }
    }

    #[test]
    fn a_region_too_small_to_divide_is_refused() {
        let env = crate::experiment::testkit::env();
        let mut ctx = ctx(&env);
        ctx.size_bytes = Some(63 * env.page_size);
        let err = plan(&ctx).unwrap_err();
        assert!(err.contains("too small"), "{err}");
    }
}
