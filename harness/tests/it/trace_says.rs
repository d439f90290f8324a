//! What `trace` says about its figures, on programs written for these tests
//! (harness/tests/programs/): a mapping the kernel extended, split or
//! unmapped; a child that runs while its parent waits; dirty page cache; a
//! program that never waits; labels without the program's numbers; and
//! `--no-aslr`. See: issue 31.

use std::io::Write;

use super::ktap::Consumer;
use super::trace::{compile, data_file, labels, mapping_ending, only_variant, Traced};
use crate::skip_unless;
use crate::util::{page_size, process, u64_at};

impl Traced {
    /// The run's results.md, which holds the before/after table and its notes.
    fn markdown(&self) -> String {
        let path = self.out.path().join("latest/results.md");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), self.describe()))
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).to_string()
    }
}

/// The table row of the before/after view at `label`, and the rows that
/// continue it (up to the next checkpoint's row).
fn delta_rows<'a>(markdown: &'a str, label: &str) -> Vec<&'a str> {
    let section = &markdown[markdown
        .find("What each step changed")
        .expect("a before/after view")..];
    let mut rows = Vec::new();
    let mut inside = false;
    for line in section.lines() {
        if inside && line.trim().is_empty() {
            break;
        }
        let first = line.trim_start_matches('|').split('|').next().unwrap_or("");
        if first.trim() == label {
            inside = true;
        } else if inside && !first.trim().is_empty() {
            break;
        }
        if inside {
            rows.push(line);
        }
    }
    assert!(!rows.is_empty(), "no row for {label} in\n{section}");
    rows
}

fn a_mapping_the_kernel_extended_split_or_unmapped_is_said_as_such() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("grow_split", dir.path());
    // Each half is 1 MiB, whatever the page size.
    let pages = (1 << 20) / page_size();
    let run = Traced::run(
        "trace",
        &["--format", "json"],
        &[program.to_str().unwrap(), &pages.to_string()],
    );
    run.assert_code(0);
    assert_eq!(
        labels(only_variant(&run.results())),
        [
            "filled-the-upper-half",
            "mapped-and-filled-the-lower-half",
            "made-the-middle-read-only",
            "unmapped-the-top-quarter"
        ]
    );
    let md = run.markdown();
    let grew = delta_rows(&md, "mapped-and-filled-the-lower-half").join("\n");
    assert!(grew.contains("[anon] (extended)"), "{grew}\n{md}");
    assert!(
        !grew.contains("(new)") && !grew.contains("(unmapped)"),
        "the merge is neither a new nor an unmapped mapping: {grew}"
    );
    // The kernel may have merged it with an anonymous neighbour already, so
    // the sizes are not fixed; that it grew by the MiB mapped is.
    let note = md
        .lines()
        .find(|l| {
            l.contains("mapped-and-filled-the-lower-half, main") && l.contains("extended from")
        })
        .unwrap_or_else(|| panic!("no note on the extension in\n{md}"));
    let sizes: Vec<f64> = note
        .split("extended from ")
        .nth(1)
        .expect("sizes")
        .split(" to ")
        .map(|s| {
            s.trim_end_matches(" MiB")
                .parse()
                .unwrap_or_else(|_| panic!("{note}"))
        })
        .collect();
    assert!((sizes[1] - sizes[0] - 1.0).abs() < 0.01, "{note}");

    let split = delta_rows(&md, "made-the-middle-read-only").join("\n");
    assert!(split.contains("[anon] (split)"), "{split}");
    assert!(
        md.contains("split into 3 mappings"),
        "the mprotect of the middle makes three: {md}"
    );
    let unmapped = delta_rows(&md, "unmapped-the-top-quarter").join("\n");
    assert!(unmapped.contains("[anon] (unmapped)"), "{unmapped}");
}

fn a_child_running_while_only_its_parent_waits_is_marked_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("running_child", dir.path());
    let run = Traced::run(
        "trace",
        &["--format", "json"],
        &[program.to_str().unwrap(), "256"],
    );
    run.assert_code(0);
    let results = run.results();
    let variant = only_variant(&results);
    let label = "the-child-works-on-press-enter";
    assert_eq!(process(variant, label, "main")["state"], "waiting");
    let child = process(variant, label, "child-1");
    assert_eq!(child["state"], "running", "{child:#}");
    // Only the process that held still has a noise floor.
    assert_eq!(variant["noise_floor"].as_array().map(Vec::len), Some(1));
    let pid = u64_at(child, &["pid"]);
    let md = run.markdown();
    assert!(md.contains(&format!("child-1 {pid} (running)")), "{md}");
    assert!(
        md.contains(&format!("child-1 {pid} was running when it was read")),
        "{md}"
    );
}

fn a_file_written_just_before_and_read_through_a_shared_mapping_is_dirty_page_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("shared_read", dir.path());
    let file = data_file(dir.path(), 1024);
    let size = 1024 * page_size();
    let trace = || {
        Traced::run(
            "trace",
            &["--format", "json"],
            &[program.to_str().unwrap(), file.to_str().unwrap()],
        )
    };
    // Written by this test a moment ago: the page cache holds it dirty.
    let fresh = trace();
    fresh.assert_code(0);
    let results = fresh.results();
    let read = mapping_ending(
        process(only_variant(&results), "read-every-page-sum", "main"),
        "data-random",
    );
    assert_eq!(read["perms"], "r--s");
    let dirty = u64_at(read, &["private_dirty_bytes"]) + u64_at(read, &["shared_dirty_bytes"]);
    skip_unless!(
        dirty > 0,
        "the kernel wrote the file back before the program read it, so no page was dirty"
    );
    let md = fresh.markdown();
    let row = delta_rows(&md, "read-every-page-sum").join("\n");
    assert!(row.contains("data-random (dirty page cache)"), "{row}");
    assert!(md.contains("not writes of this process"), "{md}");

    // Once written back, the same read has no dirty page to explain.
    std::fs::File::open(&file)
        .and_then(|f| f.sync_all())
        .expect("fsync the file");
    let clean = trace();
    clean.assert_code(0);
    let results = clean.results();
    let read = mapping_ending(
        process(only_variant(&results), "read-every-page-sum", "main"),
        "data-random",
    );
    assert!(u64_at(read, &["rss_bytes"]).abs_diff(size) <= page_size());
    assert_eq!(u64_at(read, &["private_dirty_bytes"]), 0, "{read:#}");
    assert!(!clean.markdown().contains("dirty page cache"));
}

fn a_program_that_only_sleeps_warns_and_exits_4_with_a_ktap_skip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("sleep_only", dir.path());
    let run = Traced::run("trace", &["--format", "tap"], &[program.to_str().unwrap()]);
    run.assert_code(4);
    let stderr = run.stderr();
    // The warning wraps to the terminal: its continuation lines are indented.
    let mut lines = stderr
        .lines()
        .skip_while(|l| !l.starts_with("warning: no checkpoint"));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no warning\n{}", run.describe()));
    let warning = std::iter::once(first)
        .chain(lines.take_while(|l| l.starts_with("  ")).map(str::trim))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        warning.contains("main (pid ") && warning.contains("nanosleep()"),
        "says where it slept: {warning}"
    );
    assert!(warning.contains("--every"), "{warning}");
    let results = run.results();
    assert_eq!(results["experiments"][0]["status"], "skipped");
    let ktap = dir.path().join("run.ktap");
    std::fs::File::create(&ktap)
        .and_then(|mut f| f.write_all(&run.output.stdout))
        .expect("write the KTAP");
    assert!(run
        .stdout()
        .contains("ok 1 trace-sleep-only # SKIP no checkpoint"));
    for consumer in [Consumer::TapPy, Consumer::TapParser] {
        if consumer.present() {
            let lines = consumer.read(&ktap);
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with("RESULT 0 ok skip trace-sleep-only")),
                "{consumer:?}: {lines:?}"
            );
        }
    }
    if Consumer::Kunit.present() {
        let lines = Consumer::Kunit.read(&ktap);
        assert!(
            lines.contains(&"LEAF trace-sleep-only SKIPPED".to_string()),
            "{lines:?}"
        );
    }
}

fn labels_from_output_are_the_same_for_two_inputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("mmap_read", dir.path());
    let labels_for = |pages: u64| {
        let sub = dir.path().join(pages.to_string());
        std::fs::create_dir(&sub).expect("folder");
        let file = data_file(&sub, pages);
        // The first line names the file, whose path differs: it is named here.
        let run = Traced::run(
            "trace",
            &["--format", "json", "--label", "start"],
            &[program.to_str().unwrap(), file.to_str().unwrap()],
        );
        run.assert_code(0);
        labels(only_variant(&run.results()))
    };
    // The program prints the size, an address and a sum: all differ.
    let small = labels_for(8);
    assert_eq!(small, ["start", "mapped-bytes-at", "read-every-page-sum"]);
    assert_eq!(small, labels_for(24));
}

/// The start of the mapping named `name` (or ending in it) at the last checkpoint.
fn start_of(run: &Traced, name: &str) -> String {
    let results = run.results();
    let variant = only_variant(&results);
    let last = variant["checkpoints"]
        .as_array()
        .and_then(|c| c.last())
        .expect("a checkpoint");
    mapping_ending(&last["processes"][0], name)["start"]
        .as_str()
        .expect("start")
        .to_string()
}

fn no_aslr_maps_everything_at_the_same_addresses_in_every_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("mmap_read", dir.path());
    let file = data_file(dir.path(), 8);
    let trace = |options: &[&str]| {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(options);
        let run = Traced::run(
            "trace",
            &all,
            &[program.to_str().unwrap(), file.to_str().unwrap()],
        );
        run.assert_code(0);
        run
    };
    let (first, second) = (trace(&["--no-aslr"]), trace(&["--no-aslr"]));
    assert_eq!(first.results()["experiments"][0]["params"]["no_aslr"], true);
    for name in ["[stack]", "data-random"] {
        assert_eq!(
            start_of(&first, name),
            start_of(&second, name),
            "{name} moved between two --no-aslr runs"
        );
    }
    let randomized = std::fs::read_to_string("/proc/sys/kernel/randomize_va_space")
        .is_ok_and(|v| v.trim() != "0");
    skip_unless!(
        randomized,
        "kernel.randomize_va_space is 0: every run is unrandomised, so --no-aslr cannot be told apart"
    );
    // Without it the stack lands elsewhere each run (2^22 or more places).
    let (a, b) = (trace(&[]), trace(&[]));
    assert_ne!(start_of(&a, "[stack]"), start_of(&b, "[stack]"));
}

fn watch_marks_the_process_that_runs_and_not_the_one_that_sleeps() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("running_child", dir.path());
    let mut parent = std::process::Command::new(&program)
        .arg("256")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the program");
    // Wait until it has forked (its child is in /proc/PID/task/PID/children).
    let children = format!("/proc/{0}/task/{0}/children", parent.id());
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&children).map_or(true, |c| c.trim().is_empty()) {
        assert!(started.elapsed().as_secs() < 10, "the program did not fork");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = parent.id().to_string();
    let run = Traced::run("watch", &[&pid, "--count", "1", "--format", "json"], &[]);
    // Enter ends the program (it kills its child).
    let _ = parent.stdin.take().expect("stdin").write_all(b"\n");
    let _ = parent.wait();
    run.assert_code(0);
    let results = run.results();
    let variant = only_variant(&results);
    assert_eq!(process(variant, "snapshot-1", "main")["state"], "sleeping");
    assert_eq!(
        process(variant, "snapshot-1", "child-1")["state"],
        "running"
    );
    assert!(run.markdown().contains("(running)"));
}

crate::tests![
    a_mapping_the_kernel_extended_split_or_unmapped_is_said_as_such,
    a_child_running_while_only_its_parent_waits_is_marked_running,
    a_file_written_just_before_and_read_through_a_shared_mapping_is_dirty_page_cache,
    a_program_that_only_sleeps_warns_and_exits_4_with_a_ktap_skip,
    labels_from_output_are_the_same_for_two_inputs,
    no_aslr_maps_everything_at_the_same_addresses_in_every_run,
    watch_marks_the_process_that_runs_and_not_the_one_that_sleeps,
];
