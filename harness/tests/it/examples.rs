//! The slide-sized programs (`experiments/examples/*.c`): each compiled with
//! `cc`, run unmodified under `harness trace` at a small size, and compared
//! with its built-in experiment run at the same size: the same checkpoints, and
//! the figures of the region the experiment declares (found in the program by
//! its mapping, since a plain C program declares nothing) within the project's
//! tolerance policy ([`Tolerances`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use harness::compare::tolerance::{MetricKind, Tolerances};
use serde_json::Value;

use crate::trace::{labels, only_variant, repo, Traced};
use crate::util::{page_size, shared_run, variant};

/// The size every comparison runs at: small enough for seconds, large enough
/// that the region's pages outnumber a libc program's own by far.
const SIZE_MIB: u64 = 8;

/// The region figures the demonstrations are about.
const REGION_FIGURES: &[&str] = &[
    "size_bytes",
    "rss_bytes",
    "pss_bytes",
    "private_dirty_bytes",
    "shared_dirty_bytes",
];

/// Compiles `experiments/examples/FILE` into `dir` the way its header says
/// (plain `cc`, no include path), with warnings as errors.
fn compile(file: &str, dir: &Path) -> PathBuf {
    compile_as(file, &dir.join(file.trim_end_matches(".c")), &[])
}

/// Compiles `experiments/examples/FILE` into `out` with `cc`, warnings as
/// errors, and the `extra` flags.
fn compile_as(file: &str, out: &Path, extra: &[&str]) -> PathBuf {
    let source = repo().join("experiments/examples").join(file);
    let output = Command::new("cc")
        .args(["-O1", "-Wall", "-Wextra", "-Werror"])
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(&source)
        .output()
        .expect("run cc");
    assert!(
        output.status.success(),
        "cc failed on {}:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    out.to_path_buf()
}

/// The built-in experiment's variant at [`SIZE_MIB`], and its run for messages.
fn built_in(experiment: &str) -> (Value, String) {
    let example = experiments::examples::find(experiment).expect("an example");
    built_in_variant(experiment, example.variant)
}

/// The built-in experiment's `variant_name` at [`SIZE_MIB`], and its run for
/// messages. `strip` runs whole, once for both builds: a run of a build
/// drops and reads its program file's page cache, which another run of the
/// same file at the same moment would disturb.
fn built_in_variant(experiment: &str, variant_name: &str) -> (Value, String) {
    let selection = match experiment {
        "strip" => experiment.to_string(),
        _ => format!("{experiment}/{variant_name}"),
    };
    let size = format!("{SIZE_MIB}MiB");
    let run = shared_run(&["run", &selection, "--size", &size, "--format", "json"]);
    run.assert_code(0);
    let json = run.json();
    (
        variant(&json, experiment, variant_name).clone(),
        run.describe(),
    )
}

/// Runs the example of `experiment` under trace with `args`.
fn traced(experiment: &str, dir: &Path, args: &[&str]) -> Traced {
    let example = experiments::examples::find(experiment).expect("an example");
    let program = compile(example.file, dir);
    let program = program.display().to_string();
    let mut command = vec![program.as_str()];
    command.extend(args);
    let traced = Traced::run("trace", &["--format", "json"], &command);
    traced.assert_code(0);
    traced
}

fn trace_json(traced: &Traced) -> Value {
    serde_json::from_slice(&traced.output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", traced.describe()))
}

fn checkpoint<'a>(variant: &'a Value, label: &str) -> &'a Value {
    variant["checkpoints"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["label"] == label))
        .unwrap_or_else(|| panic!("no checkpoint {label}"))
}

fn process_at<'a>(variant: &'a Value, label: &str, role: &str) -> Option<&'a Value> {
    checkpoint(variant, label)["processes"]
        .as_array()?
        .iter()
        .find(|p| p["role"] == role)
}

fn number(value: &Value, key: &str) -> i64 {
    value[key]
        .as_i64()
        .unwrap_or_else(|| panic!("no number {key} in {value:#}"))
}

/// Asserts `got` is within the policy's band of `want` for `kind`.
fn assert_close(kind: MetricKind, want: i64, got: i64, what: &str) {
    let band = Tolerances::default().band(kind, want, page_size()) as i64;
    assert!(
        (got - want).abs() <= band,
        "{what}: the program gives {got}, the built-in experiment {want} (tolerance {band})"
    );
}

/// Which built-in checkpoints the program has: all of them but `left_out`, in
/// the same order.
fn assert_same_checkpoints(built_in: &Value, program: &Value, left_out: &[&str]) {
    let want: Vec<String> = labels(built_in)
        .into_iter()
        .filter(|l| !left_out.contains(&l.as_str()))
        .collect();
    assert_eq!(labels(program), want);
}

/// How the program's counterpart of the experiment's declared region is found
/// among its mappings.
#[derive(Clone, Copy)]
enum Mapping<'a> {
    /// The anonymous mapping of exactly this many bytes.
    Anonymous(u64),
    /// The mapping of this file.
    File(&'a Path),
}

/// The region's figures in the program: those of its mapping, all zero when it
/// has none (after munmap, as the experiment's region then covers nothing).
fn program_region(process: &Value, mapping: Mapping<'_>) -> Value {
    let found = process["mappings"].as_array().and_then(|maps| {
        maps.iter().find(|m| {
            let name = m["name"].as_str().unwrap_or("");
            match mapping {
                Mapping::Anonymous(bytes) => name.is_empty() && m["size_bytes"] == bytes,
                Mapping::File(path) => name == path.display().to_string(),
            }
        })
    });
    match found {
        Some(m) => m.clone(),
        None => serde_json::json!({
            "size_bytes": 0, "rss_bytes": 0, "pss_bytes": 0,
            "private_dirty_bytes": 0, "shared_dirty_bytes": 0,
        }),
    }
}

/// At every checkpoint of the program, for each (built-in role, program role):
/// the region's figures, and the faults of the phase. The first checkpoint's
/// faults are left out: under trace its phase holds the program's start-up
/// (exec, the dynamic loader, stdio), the built-in experiment counts from its
/// ready line.
fn assert_region_figures(
    built_in: &Value,
    program: &Value,
    region: &str,
    mapping: Mapping<'_>,
    roles: &[(&str, &str)],
) {
    for (i, label) in labels(program).iter().enumerate() {
        for (built_role, program_role) in roles {
            let Some(want) = process_at(built_in, label, built_role) else {
                assert!(
                    process_at(program, label, program_role).is_none(),
                    "{program_role} at {label} has no counterpart"
                );
                continue;
            };
            let got = process_at(program, label, program_role)
                .unwrap_or_else(|| panic!("no {program_role} at {label}"));
            let want_region = want["regions"]
                .as_array()
                .and_then(|a| a.iter().find(|r| r["name"] == region));
            let got_region = program_region(got, mapping);
            for figure in REGION_FIGURES {
                let want_value = want_region.map_or(0, |r| number(r, figure));
                assert_close(
                    MetricKind::Memory,
                    want_value,
                    number(&got_region, figure),
                    &format!("{label}, {program_role}, region {region}, {figure}"),
                );
            }
            if i > 0 {
                for kind in ["minor", "major"] {
                    assert_close(
                        MetricKind::Faults,
                        number(&want["faults"], kind),
                        number(&got["faults"], kind),
                        &format!("{label}, {program_role}, {kind} faults"),
                    );
                }
            }
        }
    }
}

/// The size of the experiment's region where it is largest (its mapped size).
fn region_size(built_in: &Value, region: &str) -> u64 {
    built_in["checkpoints"]
        .as_array()
        .expect("checkpoints")
        .iter()
        .flat_map(|c| c["processes"].as_array().into_iter().flatten())
        .flat_map(|p| p["regions"].as_array().into_iter().flatten())
        .filter(|r| r["name"] == region)
        .filter_map(|r| r["size_bytes"].as_u64())
        .max()
        .unwrap_or_else(|| panic!("no region {region} in {built_in:#}"))
}

/// Writes `bytes` bytes to `path`, `chunk` bytes per write(2), and flushes
/// them: the page cache then holds every page, in folios no larger than a chunk.
fn write_file(path: &Path, bytes: u64, chunk: usize) {
    let mut out = std::fs::File::create(path).expect("create the file");
    let block: Vec<u8> = (0..chunk).map(|i| (i * 7 + 1) as u8).collect();
    let mut left = bytes as usize;
    while left > 0 {
        let n = left.min(chunk);
        out.write_all(&block[..n]).expect("write the file");
        left -= n;
    }
    out.sync_all().expect("fsync the file");
}

fn mmap_file_program_matches_the_warm_variant() {
    let (built_in, described) = built_in("mmap-file");
    // The file as the warm variant makes it: as many bytes as it maps, written
    // in its chunk size (which decides the page-cache folios, and so how much
    // the first read maps), flushed, so every page is in the page cache.
    let bytes = region_size(&built_in, "data");
    let chunk: usize = built_in["notes"]["write_chunk_bytes"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no write_chunk_bytes note\n{described}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("data");
    write_file(&file, bytes, chunk);
    let traced = traced("mmap-file", dir.path(), &[&file.display().to_string()]);
    let program = trace_json(&traced);
    let program = only_variant(&program);
    // The program is given the file the test wrote: the experiment's write
    // phase has no counterpart in it.
    assert_same_checkpoints(&built_in, program, &["before-write", "after-write"]);
    assert_region_figures(
        &built_in,
        program,
        "data",
        Mapping::File(&file),
        &[("main", "main")],
    );
}

fn fork_cow_program_matches_the_thp_off_variant() {
    let (built_in, _) = built_in("fork-cow");
    let dir = tempfile::tempdir().expect("temp dir");
    let traced = traced("fork-cow", dir.path(), &[&SIZE_MIB.to_string()]);
    let program = trace_json(&traced);
    let program = only_variant(&program);
    assert_same_checkpoints(&built_in, program, &[]);
    assert_region_figures(
        &built_in,
        program,
        "data",
        Mapping::Anonymous(SIZE_MIB << 20),
        &[("parent", "main"), ("child", "child-1")],
    );
}

fn lazy_alloc_program_matches_the_thp_off_variant() {
    let (built_in, described) = built_in("lazy-alloc");
    // The program reads and writes 1 MiB chunks, as the experiment does at this size.
    assert_eq!(
        built_in["notes"]["chunk_bytes"], "1048576",
        "the experiment's chunk at {SIZE_MIB} MiB\n{described}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let traced = traced("lazy-alloc", dir.path(), &[&SIZE_MIB.to_string()]);
    let program = trace_json(&traced);
    let program = only_variant(&program);
    // The overcommit attempts (a mapping larger than RAM + swap) are a second
    // demonstration, left out of the slide.
    assert_same_checkpoints(&built_in, program, &["after-overcommit-attempts"]);
    assert_region_figures(
        &built_in,
        program,
        "anon",
        Mapping::Anonymous(SIZE_MIB << 20),
        &[("main", "main")],
    );
}

/// The sharers are the program's children; the experiment ends the last and
/// then the one before it, as the program does. The faults of the first phase
/// are not compared (see [`assert_region_figures`]): there the program's
/// children count reading the file, the experiment's do not.
fn shared_file_program_matches_the_experiment() {
    let (built_in, _) = built_in("shared-file");
    let bytes = region_size(&built_in, "file");
    let sharers: Vec<String> = checkpoint(&built_in, "all-reading")["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .filter_map(|p| p["role"].as_str().filter(|r| r.starts_with("sharer-")))
        .map(str::to_string)
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("shared");
    // The experiment writes its file 1 MiB per write(2), too.
    write_file(&file, bytes, 1 << 20);
    let count = sharers.len().to_string();
    let traced = traced(
        "shared-file",
        dir.path(),
        &[&file.display().to_string(), &count],
    );
    let program = trace_json(&traced);
    let program = only_variant(&program);
    assert_same_checkpoints(&built_in, program, &[]);
    let children: Vec<String> = sharers
        .iter()
        .map(|s| s.replace("sharer-", "child-"))
        .collect();
    let mut roles = vec![("main", "main")];
    roles.extend(
        sharers
            .iter()
            .map(String::as_str)
            .zip(children.iter().map(String::as_str)),
    );
    assert_region_figures(&built_in, program, "file", Mapping::File(&file), &roles);
}

/// Where `address` (`0x...`) lies in a process snapshot: the kind of mapping
/// (`[stack]`, `[heap]`, `anonymous`, `program` for `executable`'s own file,
/// else the file) and its permissions.
fn placed(process: &Value, address: &str, executable: &str) -> (String, String) {
    let hex = |text: &str| u64::from_str_radix(text.trim_start_matches("0x"), 16).ok();
    let at = hex(address).unwrap_or_else(|| panic!("not an address: {address}"));
    let mapping = process["mappings"]
        .as_array()
        .and_then(|maps| {
            maps.iter().find(|m| {
                let start = m["start"].as_str().and_then(hex);
                let end = m["end"].as_str().and_then(hex);
                start.is_some_and(|s| s <= at) && end.is_some_and(|e| at < e)
            })
        })
        .unwrap_or_else(|| panic!("{address} is in no mapping of {process:#}"));
    let name = mapping["name"].as_str().unwrap_or("");
    let kind = match name {
        "" => "anonymous",
        n if n == executable => "program",
        n => n,
    };
    (
        kind.to_string(),
        mapping["perms"].as_str().unwrap_or("").to_string(),
    )
}

/// anatomy: the program prints each address under the name the experiment
/// gives its note (`stack variable` is `address_stack_variable`); each must lie
/// in the same kind of mapping with the same permissions in both. The
/// experiment's protected region (mprotect after use) is a step the slide
/// leaves out.
fn anatomy_program_places_each_piece_as_the_experiment_does() {
    let (built_in, _) = built_in("anatomy");
    let dir = tempfile::tempdir().expect("temp dir");
    let traced = traced("anatomy", dir.path(), &[]);
    let record = trace_json(&traced);
    let program = only_variant(&record);
    assert_same_checkpoints(&built_in, program, &[]);
    let label = "addresses-reported";
    let want = process_at(&built_in, label, "main").expect("main");
    let got = process_at(program, label, "main").expect("main");
    let program_path = program["notes"]["program_path"]
        .as_str()
        .unwrap_or_else(|| panic!("no program_path note\n{}", traced.describe()))
        .to_string();
    let executable = built_in["notes"]["executable"]
        .as_str()
        .expect("executable note");
    let output = String::from_utf8_lossy(&traced.output.stderr).to_string();
    let mut printed = Vec::new();
    for line in output.lines() {
        let Some((words, address)) = line.rsplit_once(' ') else {
            continue;
        };
        if !address.starts_with("0x") {
            continue;
        }
        let key = format!(
            "address_{}",
            words.split_whitespace().collect::<Vec<_>>().join("_")
        );
        let built_address = built_in["notes"][&key]
            .as_str()
            .unwrap_or_else(|| panic!("the experiment has no note {key}"));
        assert_eq!(
            placed(got, address, &program_path),
            placed(want, built_address, executable),
            "{key}"
        );
        printed.push(key);
    }
    // Every address the experiment reports, but the protected region's.
    let mut reported: Vec<String> = built_in["notes"]
        .as_object()
        .expect("notes")
        .keys()
        .filter(|k| k.starts_with("address_") && *k != "address_protected_after_use")
        .cloned()
        .collect();
    reported.sort();
    printed.sort();
    assert_eq!(printed, reported, "{}", traced.describe());
}

/// The Rss of the mappings of a process's own program file (`program_path`).
fn own_rss(variant: &Value, label: &str, role: &str) -> i64 {
    let path = variant["notes"]["program_path"]
        .as_str()
        .expect("program_path note");
    let process = process_at(variant, label, role).expect("the program");
    process["mappings"]
        .as_array()
        .expect("mappings")
        .iter()
        .filter(|m| m["name"] == path)
        .map(|m| number(m, "rss_bytes"))
        .sum()
}

/// strip: the program built with `cc -g`, and a copy stripped with `strip`;
/// each is compared with the experiment's build of the same kind on what the
/// demonstration is about: the file is larger with debug information, the
/// resident pages of the program's own file are not.
fn strip_program_matches_both_builds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let debug = compile_as("strip.c", &dir.path().join("debug"), &["-g"]);
    let stripped = dir.path().join("stripped");
    let strip = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&debug)
        .output()
        .expect("run strip");
    assert!(
        strip.status.success(),
        "{}",
        String::from_utf8_lossy(&strip.stderr)
    );
    let size = |p: &Path| std::fs::metadata(p).expect("the build").len();
    assert!(
        size(&debug) > size(&stripped),
        "debug information takes room in the file"
    );

    for (variant_name, build) in [("debug", &debug), ("stripped", &stripped)] {
        let (built_in, described) = built_in_variant("strip", variant_name);
        assert!(
            built_in["binary"]["stripped"] == (variant_name == "stripped"),
            "{described}"
        );
        let build = build.display().to_string();
        let traced = Traced::run("trace", &["--format", "json"], &[&build]);
        traced.assert_code(0);
        let record = trace_json(&traced);
        let program = only_variant(&record);
        assert_same_checkpoints(&built_in, program, &[]);
        assert_close(
            MetricKind::Memory,
            own_rss(&built_in, "after-work", "program"),
            own_rss(program, "after-work", "main"),
            &format!("{variant_name}: Rss of the program's own file"),
        );
    }
}

/// tiny-malloc has no region: the demonstration is how small a process is.
/// The program prints and reads with stdio, which the experiment's build (it
/// stops itself with SIGSTOP) does not: stdio's code pages are libc's, shared
/// page cache that its Rss counts, some 50 pages more. So the whole Rss is not
/// compared; the address space (VmSize), the process's own pages (USS) and the
/// heap the five mallocs need are, once they are done: before them, the
/// program's heap already holds stdio's buffer for the terminal (the mallocs
/// then find it made), while the experiment's has none yet.
fn tiny_malloc_program_matches_the_dynamic_build() {
    let (built_in, _) = built_in("tiny-malloc");
    let dir = tempfile::tempdir().expect("temp dir");
    let traced = traced("tiny-malloc", dir.path(), &[]);
    let program = trace_json(&traced);
    let program = only_variant(&program);
    assert_same_checkpoints(&built_in, program, &[]);
    let want = process_at(&built_in, "after-mallocs", "program").expect("the program");
    let got = process_at(program, "after-mallocs", "main").expect("main");
    for figure in ["vm_size_bytes", "uss_bytes"] {
        assert_close(
            MetricKind::Process,
            number(&want["totals"], figure),
            number(&got["totals"], figure),
            &format!("after-mallocs, {figure}"),
        );
    }
    let heap = |process: &Value| -> Value {
        process["mappings"]
            .as_array()
            .and_then(|maps| maps.iter().find(|m| m["name"] == "[heap]"))
            .cloned()
            .unwrap_or_else(|| panic!("no [heap] in {process:#}"))
    };
    let (want, got) = (heap(want), heap(got));
    for figure in ["size_bytes", "rss_bytes"] {
        assert_close(
            MetricKind::Memory,
            number(&want, figure),
            number(&got, figure),
            &format!("after-mallocs, [heap], {figure}"),
        );
    }
}

/// static-dynamic: the program built with `cc` and with `cc -static`, each
/// traced, against the built-in prefork variant of the same linking at
/// `--quick`'s counts (1, 2, 4). The experiment's checkpoints are numbers
/// (`n-1`), which trace leaves out of a label, so the program says its counts
/// in words and the checkpoints are matched by order; its processes `main`,
/// `child-1`, ... are the experiment's `instance-0`, `instance-1`, ... (both
/// number them in order of fork). Compared per instance: USS, the pages each
/// instance has to itself (the static build's own copy of the library code
/// it uses, the children's copied writable pages). Pss, what the
/// demonstration is about, is not compared between the two: it also counts
/// every other process that maps the same libc or binary, which the tests
/// running beside this one change; the static build's larger Pss alone is
/// checked at the end. Rss is not compared: it counts every shared
/// library page a process has touched, and the two programs touch different
/// ones besides the request (the program's stdio reading Enter, the
/// experiment's stop and report of its pids). Nor the faults: the first phase
/// holds the program's start-up, and a child's later faults are its copies
/// made on write, which USS already holds.
fn static_dynamic_program_matches_both_prefork_builds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dynamic = compile_as("static-dynamic.c", &dir.path().join("dynamic"), &[]);
    let source = repo().join("experiments/examples/static-dynamic.c");
    let statically = dir.path().join("static");
    let linked = Command::new("cc")
        .args(["-O1", "-static", "-o"])
        .arg(&statically)
        .arg(&source)
        .output()
        .expect("run cc");
    if !linked.status.success() {
        let why = String::from_utf8_lossy(&linked.stderr);
        crate::trials::skip(format!(
            "cc -static fails here (no static libc?): {}",
            why.lines().next().unwrap_or("")
        ));
    }
    let run = shared_run(&["run", "static-dynamic", "--quick", "--format", "json"]);
    run.assert_code(0);
    let json = run.json();
    let mut first_pss = Vec::new();
    for (variant_name, build) in [
        ("static-prefork", &statically),
        ("dynamic-prefork", &dynamic),
    ] {
        let built_in = variant(&json, "static-dynamic", variant_name);
        let build = build.display().to_string();
        let traced = Traced::run("trace", &["--format", "json"], &[&build]);
        traced.assert_code(0);
        let record = trace_json(&traced);
        let program = only_variant(&record);
        let (want_labels, got_labels) = (labels(built_in), labels(program));
        assert_eq!(want_labels, ["n-1", "n-2", "n-4"], "{}", run.describe());
        assert_eq!(
            got_labels,
            ["one-instance", "two-instances", "four-instances"],
            "{}",
            traced.describe()
        );
        for (want_label, got_label) in want_labels.iter().zip(&got_labels) {
            let count = checkpoint(built_in, want_label)["processes"]
                .as_array()
                .map_or(0, Vec::len);
            let got_count = checkpoint(program, got_label)["processes"]
                .as_array()
                .map_or(0, Vec::len);
            assert_eq!(got_count, count, "{variant_name}: processes at {got_label}");
            for i in 0..count {
                let role = if i == 0 {
                    "main".to_string()
                } else {
                    format!("child-{i}")
                };
                let want = process_at(built_in, want_label, &format!("instance-{i}"))
                    .expect("the instance");
                let got = process_at(program, got_label, &role).expect("the process");
                // USS, the pages an instance has to itself: Pss also counts
                // every other process mapping the same libc (or, for the
                // built-in's binaries, another run of this experiment), which
                // the tests running beside this one change from run to run.
                assert_close(
                    MetricKind::Process,
                    number(&want["totals"], "uss_bytes"),
                    number(&got["totals"], "uss_bytes"),
                    &format!("{variant_name}, {got_label}, {role}, uss_bytes"),
                );
            }
        }
        let main = process_at(program, "one-instance", "main").expect("main");
        first_pss.push(number(&main["totals"], "pss_bytes"));
    }
    // The comparison tells the builds apart: alone, the static instance holds
    // its own copy of the library code it uses, by more than the band (others
    // mapping libc can only lower the dynamic build's Pss).
    let band = Tolerances::default().band(MetricKind::Process, first_pss[1], page_size()) as i64;
    assert!(
        first_pss[0] - first_pss[1] > band,
        "one instance: static Pss {} vs dynamic {} (band {band})",
        first_pss[0],
        first_pss[1]
    );
}

/// Every program in the catalog's list is one of the tests above.
fn every_example_is_compared() {
    let compared = [
        "mmap-file",
        "fork-cow",
        "lazy-alloc",
        "tiny-malloc",
        "shared-file",
        "anatomy",
        "strip",
        "static-dynamic",
    ];
    for example in experiments::examples::EXAMPLES {
        assert!(
            compared.contains(&example.experiment),
            "{} has no comparison test",
            example.file
        );
    }
}

/// A traced program without claims prints its checkpoint table, not only a
/// tally of nothing, fitted to 80 columns. See: issue 23
fn trace_without_claims_prints_the_checkpoint_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tempfile::tempdir().expect("temp dir");
    let program = compile("lazy-alloc.c", dir.path());
    let output = Command::new(crate::util::harness_bin())
        .env("COLUMNS", "80")
        .arg("trace")
        .arg("--out")
        .arg(out.path())
        .arg("--")
        .arg(&program)
        .arg(SIZE_MIB.to_string())
        .output()
        .expect("run the harness");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("after-write-first-chunk "))
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "one row per checkpoint and process:\n{stdout}"
    );
    assert!(rows[0].contains("MiB"), "{stdout}");
    for line in stdout.lines() {
        assert!(line.chars().count() <= 80, "wider than 80: {line}");
    }
}

/// `explain NAME --program` prints the embedded source, byte for byte the file.
fn explain_program_prints_the_file() {
    for example in experiments::examples::EXAMPLES {
        let output = Command::new(crate::util::harness_bin())
            .args(["explain", example.experiment, "--program"])
            .output()
            .expect("run the harness");
        assert!(output.status.success(), "{output:?}");
        let file = repo().join("experiments/examples").join(example.file);
        let text = std::fs::read(&file).expect("read the example");
        assert_eq!(output.stdout, text, "{}", file.display());
    }
    let output = Command::new(crate::util::harness_bin())
        .args(["explain", "many-processes", "--program"])
        .output()
        .expect("run the harness");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

crate::tests![
    mmap_file_program_matches_the_warm_variant,
    fork_cow_program_matches_the_thp_off_variant,
    lazy_alloc_program_matches_the_thp_off_variant,
    tiny_malloc_program_matches_the_dynamic_build,
    shared_file_program_matches_the_experiment,
    anatomy_program_places_each_piece_as_the_experiment_does,
    strip_program_matches_both_builds,
    static_dynamic_program_matches_both_prefork_builds,
    every_example_is_compared,
    trace_without_claims_prints_the_checkpoint_table,
    explain_program_prints_the_file,
];
