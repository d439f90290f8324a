//! `harness trace` and `harness watch` on programs written for these tests in
//! C (and Python, for the SDK), compiled here with `cc`, run unmodified.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::skip_unless;
use crate::util::{harness_bin, page_size, process, region, u64_at};

/// The repository root (for the test programs and the SDK).
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Compiles `harness/tests/programs/NAME.c` into `dir`.
pub(crate) fn compile(name: &str, dir: &Path) -> PathBuf {
    let source = repo().join(format!("harness/tests/programs/{name}.c"));
    let out = dir.join(name);
    let status = Command::new("cc")
        .args(["-O1", "-Wall", "-Werror", "-I"])
        .arg(repo().join("experiments/sdk"))
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed on {}", source.display());
    out
}

/// One `harness trace` (or `watch`) with its own results folder.
pub(crate) struct Traced {
    pub(crate) out: tempfile::TempDir,
    args: Vec<String>,
    pub(crate) output: Output,
}

impl Traced {
    pub(crate) fn run(command: &str, options: &[&str], program: &[&str]) -> Traced {
        let out = tempfile::tempdir().expect("temp dir");
        let mut args: Vec<String> = vec![command.into()];
        args.extend(options.iter().map(|s| s.to_string()));
        args.extend(["--out".into(), out.path().display().to_string()]);
        if !program.is_empty() {
            args.push("--".into());
            args.extend(program.iter().map(|s| s.to_string()));
        }
        let output = Command::new(harness_bin())
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run the harness");
        Traced { out, args, output }
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "command: harness {}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.output.status,
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.output.status.code(), Some(code), "{}", self.describe());
        self
    }

    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).to_string()
    }

    pub(crate) fn results(&self) -> Value {
        let path = self.out.path().join("latest/results.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), self.describe()));
        serde_json::from_str(&text).expect("results.json is JSON")
    }
}

pub(crate) fn only_variant(run: &Value) -> &Value {
    &run["experiments"][0]["variants"][0]
}

pub(crate) fn labels(variant: &Value) -> Vec<String> {
    variant["checkpoints"]
        .as_array()
        .expect("checkpoints")
        .iter()
        .map(|c| c["label"].as_str().expect("label").to_string())
        .collect()
}

/// The mappings of a process snapshot whose name ends with `suffix`.
pub(crate) fn mapping_ending<'a>(process: &'a Value, suffix: &str) -> &'a Value {
    process["mappings"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|m| m["name"].as_str().is_some_and(|n| n.ends_with(suffix)))
        })
        .unwrap_or_else(|| panic!("no mapping ending in {suffix} in {process:#}"))
}

/// A file of `pages` pages of ones (so the program's sum is predictable).
pub(crate) fn data_file(dir: &Path, pages: u64) -> PathBuf {
    let path = dir.join("data-random");
    std::fs::write(&path, vec![1u8; (pages * page_size()) as usize]).expect("write data file");
    path
}

fn a_program_waiting_on_getchar_is_measured_unmodified() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("mmap_read", dir.path());
    let pages = 512;
    let file = data_file(dir.path(), pages);
    let run = Traced::run(
        "trace",
        &["--label", "start,after-mmap", "--format", "json"],
        &[program.to_str().unwrap(), file.to_str().unwrap()],
    );
    run.assert_code(0);
    let results = run.results();
    assert_eq!(results["experiments"][0]["name"], "trace-mmap-read");
    let variant = only_variant(&results);
    // Two names given, the third from the program's last line, without the
    // number in it (the sum, which depends on the input).
    assert_eq!(
        labels(variant),
        ["start", "after-mmap", "read-every-page-sum"]
    );
    let size = pages * page_size();
    let mapped = mapping_ending(process(variant, "after-mmap", "main"), "data-random");
    assert_eq!(u64_at(mapped, &["size_bytes"]), size);
    assert_eq!(
        u64_at(mapped, &["rss_bytes"]),
        0,
        "mmap alone reads nothing"
    );
    let read = mapping_ending(
        process(variant, "read-every-page-sum", "main"),
        "data-random",
    );
    let rss = u64_at(read, &["rss_bytes"]);
    assert!(
        rss.abs_diff(size) <= page_size(),
        "after the read Rss is {rss}, the file {size}"
    );
    // The program's own output passed through (to stderr, as stdout holds the JSON).
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert!(
        stderr.contains("read every page (sum 512)"),
        "{}",
        run.describe()
    );
    for noise in variant["noise_floor"].as_array().expect("noise floor") {
        assert_eq!(noise["minor_faults"], 0, "the null phase faulted: {noise}");
    }
    // VmRSS was sampled from outside while it ran, as for the built-in experiments.
    let samples = variant["rss_samples"].as_array().expect("rss samples");
    assert!(!samples.is_empty());
    assert!(
        samples.iter().all(|s| u64_at(s, &["rss_bytes"]) > 0),
        "{samples:?}"
    );
    // The raw /proc text is kept as for the built-in experiments.
    assert!(run
        .out
        .path()
        .join("latest/raw/trace-mmap-read/default/02-read-every-page-sum/main/smaps")
        .is_file());
}

fn a_forked_child_in_pause_is_measured_and_its_copies_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("fork_write", dir.path());
    let (pages, written) = (1024u64, 256u64);
    let run = Traced::run(
        "trace",
        &["--label", "before-fork", "--detail"],
        &[
            program.to_str().unwrap(),
            &pages.to_string(),
            &written.to_string(),
        ],
    );
    run.assert_code(0);
    let results = run.results();
    let variant = only_variant(&results);
    assert_eq!(
        labels(variant),
        [
            "before-fork",
            "forked-child-which-writes-pages",
            "child-ended"
        ]
    );
    let after = "forked-child-which-writes-pages";
    let child = process(variant, after, "child-1");
    let page = page_size();
    let buffer = child["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["size_bytes"] == pages * page && m["name"] == "")
        .unwrap_or_else(|| panic!("no buffer mapping in {child:#}"));
    let dirty = u64_at(buffer, &["private_dirty_bytes"]);
    assert!(
        dirty.abs_diff(written * page) <= page,
        "the child copied {dirty} bytes of the buffer, wrote {written} pages"
    );
    // Every write to a shared page is one copy-on-write fault. Besides them the
    // child copies a few pages of its own (stack, libc data) after fork, each
    // one fault, and a file fault may map up to one fault-around window (64 KiB).
    let other_dirty_pages: u64 = child["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| u64_at(m, &["private_dirty_bytes"]))
        .sum::<u64>()
        / page
        - dirty / page;
    let faults = u64_at(child, &["faults", "minor"]);
    let window = 65536 / page;
    assert!(
        faults >= written && faults <= written + other_dirty_pages + window,
        "child faults {faults}: {written} written + {other_dirty_pages} other copied pages + {window}"
    );
    // The parent's pages are shared with the child until it writes: its Pss halves.
    let parent = process(variant, after, "main");
    // It sleeps in waitpid while the child waits at the checkpoint: its
    // figures held still, though it was not the one waiting (issue 31).
    assert_eq!(parent["state"], "sleeping", "{parent:#}");
    assert_eq!(child["state"], "waiting");
    assert!(
        u64_at(parent, &["totals", "pss_bytes"])
            < u64_at(
                process(variant, "before-fork", "main"),
                &["totals", "pss_bytes"]
            )
    );
    let notes = &variant["notes"];
    assert!(
        notes["ended_child-1"]
            .as_str()
            .unwrap_or("")
            .contains("no signal handler"),
        "{notes:#}"
    );
    // The program's output passed through, and the report reads like the
    // built-in experiments' with --detail: the table, the noise floor, what
    // each step changed.
    let stdout = run.stdout();
    for part in [
        "forked child",
        "== trace-fork-write",
        "noise floor",
        "what each step changed",
        "child-1",
    ] {
        assert!(stdout.contains(part), "no {part:?} in\n{}", run.describe());
    }
}

fn sigstop_and_sigsuspend_are_checkpoints_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("stop_and_signal", dir.path());
    let run = Traced::run("trace", &[], &[program.to_str().unwrap()]);
    run.assert_code(0);
    let results = run.results();
    let variant = only_variant(&results);
    assert_eq!(
        labels(variant),
        ["pid-stops-itself", "continued-now-waiting-for-sigusr1"]
    );
    let notes = &variant["notes"];
    assert!(
        notes["wait_pid-stops-itself"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{notes:#}"
    );
    assert!(notes["wait_continued-now-waiting-for-sigusr1"]
        .as_str()
        .unwrap()
        .contains("sigsuspend"));
    // 64 pages malloc'ed and written between the two waits.
    let faults = u64_at(
        process(variant, "continued-now-waiting-for-sigusr1", "main"),
        &["faults", "minor"],
    );
    assert!(faults >= 64, "{faults} faults for 64 written pages");
    assert!(run.stdout().contains("got SIGUSR1"), "{}", run.describe());
}

const CLAIMS: &str = r#"
source = "mmap-read exercise"

[[claim]]
id = "whole-file-resident"
statement = "Reading every page of a mapped file makes all of it resident"
at = "after-read"
mapping = { path_ends_with = "random" }
figure = "rss"
op = ">="
percent_of = "size"
percent = 99

[[claim]]
id = "mmap-reads-the-file"
statement = "mmap alone brings the file into memory"
at = "after-mmap"
mapping = { path_ends_with = "random" }
figure = "rss"
op = ">="
percent_of = "size"
percent = 99

[[claim]]
id = "read-faults-per-page"
between = ["after-mmap", "after-read"]
figure = "minor_faults"
op = ">="
value = 512
expected = { verdict = "refuted", reason = "fault-around maps up to 16 pages per fault" }

[[claim]]
id = "heap-is-there"
at = "after-read"
mapping = { name = "[no-such-mapping]" }
figure = "rss"
op = "<="
value = "1 page"
"#;

fn a_claims_file_is_judged_both_ways_and_says_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("mmap_read", dir.path());
    let file = data_file(dir.path(), 512);
    let claims = dir.path().join("claims.toml");
    std::fs::write(&claims, CLAIMS).unwrap();
    let run = Traced::run(
        "trace",
        &[
            "--label",
            "start,after-mmap,after-read",
            "--claims",
            claims.to_str().unwrap(),
            "--format",
            "tap",
        ],
        &[program.to_str().unwrap(), file.to_str().unwrap()],
    );
    run.assert_code(0);
    let results = run.results();
    let claims = results["experiments"][0]["claims"]
        .as_array()
        .expect("claims");
    let verdict = |id: &str| {
        let c = claims
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no claim {id}"));
        assert!(!c["criterion"].as_str().unwrap().is_empty(), "{c:#}");
        (c["verdict"].as_str().unwrap().to_string(), c.clone())
    };
    let (v, c) = verdict("whole-file-resident");
    assert_eq!(v, "confirmed", "{c:#}");
    assert!(c["measured"].as_str().unwrap().contains("Rss"), "{c:#}");
    assert_eq!(verdict("mmap-reads-the-file").0, "refuted");
    // With fault-around one fault maps up to 16 pages, so 512 pages take fewer faults.
    let (v, c) = verdict("read-faults-per-page");
    let faults: u64 = c["measured"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        v,
        if faults >= 512 {
            "confirmed"
        } else {
            "refuted"
        },
        "{c:#}"
    );
    let (v, c) = verdict("heap-is-there");
    assert_eq!(v, "inconclusive");
    assert!(
        c["evidence"]
            .as_str()
            .unwrap()
            .contains("no mappings named '[no-such-mapping]'"),
        "{c:#}"
    );
    // The same claims in KTAP, on stdout.
    let tap = run.stdout();
    assert!(tap.starts_with("KTAP version 1"), "{tap}");
    assert!(tap.contains("whole-file-resident"), "{tap}");
    if faults < 512 {
        let line = tap
            .lines()
            .find(|l| l.contains("read-faults-per-page"))
            .unwrap_or("");
        assert!(
            line.contains("# XFAIL")
                || line.contains("# xfail")
                || line.to_lowercase().contains("xfail"),
            "{tap}"
        );
    }
}

fn a_malformed_claims_file_is_one_line_with_its_line_number() {
    let dir = tempfile::tempdir().expect("temp dir");
    let claims = dir.path().join("claims.toml");
    let broken = CLAIMS.replace("op = \"<=\"", "op = \"=<\"");
    let bad_line = 1 + broken
        .lines()
        .position(|l| l.contains("=<"))
        .expect("the broken line");
    std::fs::write(&claims, &broken).unwrap();
    let marker = dir.path().join("ran");
    let run = Traced::run(
        "trace",
        &["--claims", claims.to_str().unwrap()],
        &["touch", marker.to_str().unwrap()],
    );
    run.assert_code(2);
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("line {bad_line}:")), "{stderr}");
    assert!(
        !marker.exists(),
        "the program ran despite the bad claims file"
    );
}

fn bad_input_is_one_line_and_exit_2() {
    for (args, needle) in [
        (vec!["watch", "2147483647", "--once"], "no running process"),
        (
            vec!["trace", "--label", "Not Kebab", "--", "true"],
            "--label",
        ),
        (vec!["trace", "--every", "0s", "--", "true"], "out of range"),
        (vec!["trace", "--", "/nonexistent/program"], "cannot start"),
        (
            vec!["trace", "--claims", "/dev/zero", "--", "true"],
            "not a regular file",
        ),
        (
            vec!["trace", "--claims", "/nonexistent.toml", "--", "true"],
            "claims file /nonexistent.toml: cannot read it",
        ),
    ] {
        let out = tempfile::tempdir().expect("temp dir");
        let output = Command::new(harness_bin())
            .arg(args[0])
            .arg("--out")
            .arg(out.path())
            .args(&args[1..])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let left = std::fs::read_dir(out.path()).expect("read out").count();
        assert_eq!(left, 0, "{args:?} left a results folder");
    }
}

fn the_c_header_names_checkpoints_under_the_harness_and_is_silent_outside() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("sdk_checkpoint", dir.path());
    let alone = Command::new(&program)
        .arg("256")
        .output()
        .expect("run alone");
    assert!(alone.status.success());
    assert_eq!(
        String::from_utf8_lossy(&alone.stdout),
        "done, under the harness: no\n"
    );
    let run = Traced::run("trace", &[], &[program.to_str().unwrap(), "256"]);
    run.assert_code(0);
    let results = run.results();
    let variant = only_variant(&results);
    assert_eq!(labels(variant), ["after-alloc", "after-touch"]);
    let len = 256 * page_size();
    let before = region(process(variant, "after-alloc", "main"), "buffer");
    assert_eq!(u64_at(before, &["rss_bytes"]), 0);
    let after = region(process(variant, "after-touch", "main"), "buffer");
    assert!(
        u64_at(after, &["rss_bytes"]).abs_diff(len) <= page_size(),
        "{after:#}"
    );
    assert_eq!(variant["notes"]["buffer_bytes"], "set by argv[1]");
    assert!(run.stdout().contains("done, under the harness: yes"));
}

fn the_python_module_names_checkpoints_under_the_harness_and_is_silent_outside() {
    skip_unless!(
        have("python3"),
        "python3 is not installed (.ci/run installs it)"
    );
    let script = repo().join("harness/tests/programs/sdk_checkpoint.py");
    let sdk = repo().join("experiments/sdk");
    let size = (1u64 << 20).to_string();
    let alone = Command::new("python3")
        .arg(&script)
        .arg(&sdk)
        .arg(&size)
        .output()
        .expect("run alone");
    assert!(
        alone.status.success(),
        "{}",
        String::from_utf8_lossy(&alone.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&alone.stdout),
        "done, under the harness: no\n"
    );
    let run = Traced::run(
        "trace",
        &[],
        &[
            "python3",
            script.to_str().unwrap(),
            sdk.to_str().unwrap(),
            &size,
        ],
    );
    run.assert_code(0);
    let results = run.results();
    assert_eq!(results["experiments"][0]["name"], "trace-python3");
    let variant = only_variant(&results);
    assert_eq!(labels(variant), ["after-alloc", "after-write"]);
    let data = region(process(variant, "after-write", "main"), "data");
    assert!(u64_at(data, &["rss_bytes"]) >= 1 << 20, "{data:#}");
    assert!(run.stdout().contains("done, under the harness: yes"));
}

fn a_thread_other_than_the_main_one_reading_stdin_is_a_wait() {
    skip_unless!(
        have("python3"),
        "python3 is not installed (.ci/run installs it)"
    );
    let script = "import threading, sys\n\
                  t = threading.Thread(target=sys.stdin.readline)\n\
                  print('a thread reads stdin', flush=True)\n\
                  t.start(); t.join()\n\
                  print('joined')\n";
    let run = Traced::run("trace", &[], &["python3", "-c", script]);
    run.assert_code(0);
    let results = run.results();
    let variant = only_variant(&results);
    assert_eq!(labels(variant), ["a-thread-reads-stdin"]);
    assert!(run.stdout().contains("joined"), "{}", run.describe());
}

/// A program started outside the harness, killed and reaped when dropped
/// (also when an assertion fails).
struct Parked(std::process::Child);

impl Drop for Parked {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts mmap_read outside the harness and brings it to its last wait, the
/// file mapped and read.
fn started_and_parked(program: &Path, file: &Path) -> Parked {
    let child = Command::new(program)
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the program");
    // Two Enters at once: stdio reads both, so the program maps, reads and
    // parks at its third getchar().
    let mut child = Parked(child);
    child.0.stdin.as_mut().unwrap().write_all(b"\n\n").unwrap();
    let pid = child.0.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let fd0_read = syscall.starts_with("0 0x0 ");
        if maps.contains("data-random") && fd0_read {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "the program did not park: {maps}\n{syscall}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Address → Rss in KiB from a table whose header names `Address` and `Rss`.
fn rss_by_address(text: &str) -> Vec<(u64, u64)> {
    let mut columns: Option<(usize, usize)> = None;
    let mut rows = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let (Some(a), Some(r)) = (
            words.iter().position(|w| *w == "Address"),
            words.iter().position(|w| *w == "Rss"),
        ) {
            columns = Some((a, r));
            continue;
        }
        let Some((a, r)) = columns else { continue };
        // Mapping rows only: the address is followed by permissions (`r-xp`).
        let perms = words.get(a + 1).copied().unwrap_or("");
        if perms.len() != 4 || !perms.starts_with(['r', '-']) {
            continue;
        }
        if let (Some(Ok(address)), Some(Ok(rss))) = (
            words.get(a).map(|w| u64::from_str_radix(w, 16)),
            words.get(r).map(|w| w.parse::<u64>()),
        ) {
            rows.push((address, rss));
        }
    }
    rows.sort_unstable();
    rows
}

fn watch_once_agrees_with_pmap_on_rss_per_mapping() {
    skip_unless!(
        have("pmap"),
        "pmap (procps) is not installed (.ci/run installs it)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("mmap_read", dir.path());
    let file = data_file(dir.path(), 256);
    let child = started_and_parked(&program, &file);
    let pid = child.0.id().to_string();
    let ours = Traced::run("watch", &[&pid, "--once"], &[]);
    let pmap = Command::new("pmap")
        .args(["-X", &pid])
        .output()
        .expect("run pmap");
    drop(child);
    ours.assert_code(0);
    let (ours_rows, pmap_rows) = (
        rss_by_address(&ours.stdout()),
        rss_by_address(&String::from_utf8_lossy(&pmap.stdout)),
    );
    assert!(
        pmap_rows.len() > 5,
        "pmap printed: {}",
        String::from_utf8_lossy(&pmap.stdout)
    );
    assert_eq!(
        ours_rows,
        pmap_rows,
        "\n--- watch --once\n{}\n--- pmap -X\n{}",
        ours.stdout(),
        String::from_utf8_lossy(&pmap.stdout)
    );
    let file_row = ours
        .stdout()
        .lines()
        .find(|l| l.ends_with("data-random"))
        .map(str::to_string);
    let rss_kib: u64 = file_row
        .as_deref()
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|w| w.parse().ok())
        .expect("file row");
    assert_eq!(rss_kib * 1024, 256 * page_size(), "{file_row:?}");
}

fn watch_takes_timed_snapshots_into_a_normal_run_that_compare_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("mmap_read", dir.path());
    let file = data_file(dir.path(), 64);
    let child = started_and_parked(&program, &file);
    let pid = child.0.id().to_string();
    let run = Traced::run(
        "watch",
        &[&pid, "--every", "100ms", "--count", "3", "--format", "json"],
        &[],
    );
    drop(child);
    run.assert_code(0);
    let results = run.results();
    assert_eq!(results["experiments"][0]["name"], "watch-mmap-read");
    let variant = only_variant(&results);
    assert_eq!(labels(variant), ["snapshot-1", "snapshot-2", "snapshot-3"]);
    let mapped = mapping_ending(process(variant, "snapshot-3", "main"), "data-random");
    assert_eq!(u64_at(mapped, &["rss_bytes"]), 64 * page_size());
    // A parked process does not fault between snapshots.
    assert_eq!(
        u64_at(process(variant, "snapshot-3", "main"), &["faults", "minor"]),
        0
    );
    let json = run.out.path().join("latest/results.json");
    let cmp = Command::new(harness_bin())
        .arg("compare")
        .arg(&json)
        .arg(&json)
        .output()
        .expect("compare");
    assert_eq!(
        cmp.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cmp.stdout)
    );
}

fn ctrl_c_ends_the_traced_program_and_its_children() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("pids");
    // A parent and a forked child that both run on (no wait to checkpoint).
    let script = format!("sleep 600 & echo $$ $! > {}; wait", pid_file.display());
    let mut harness = Command::new(harness_bin())
        .args(["trace", "--out"])
        .arg(out.path())
        .args(["--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the harness");
    let deadline = Instant::now() + Duration::from_secs(30);
    let pids: Vec<i32> = loop {
        let text = std::fs::read_to_string(&pid_file).unwrap_or_default();
        let pids: Vec<i32> = text
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if pids.len() == 2 {
            break pids;
        }
        assert!(
            Instant::now() < deadline,
            "the traced program never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(harness.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("send SIGINT");
    let status = harness.wait().expect("wait for the harness");
    assert_eq!(status.code(), Some(130));
    // SIGKILL to the group is sent as the harness exits; the kernel finishes
    // the processes a moment later.
    let deadline = Instant::now() + Duration::from_secs(10);
    for pid in pids {
        let gone = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |s| s.contains(") Z") || s.contains(") X"))
        };
        while !gone() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(), "pid {pid} outlived the harness");
    }
}

fn every_adds_snapshots_of_the_running_program() {
    let run = Traced::run(
        "trace",
        &["--every", "100ms", "--format", "json"],
        // Three seconds, thirty times the period: on a loaded machine the first
        // snapshot can come late, and the test asserts only that one came.
        &["sh", "-c", "sleep 3"],
    );
    run.assert_code(0);
    let results = run.results();
    let labels = labels(only_variant(&results));
    assert!(!labels.is_empty(), "no timed snapshot in three seconds");
    for (i, label) in labels.iter().enumerate() {
        assert_eq!(label, &format!("every-{}", i + 1));
    }
    assert_eq!(results["experiments"][0]["params"]["every_millis"], 100);
}

fn watch_on_enter_snapshots_at_each_line_until_input_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = compile("mmap_read", dir.path());
    let file = data_file(dir.path(), 16);
    let child = started_and_parked(&program, &file);
    let out = tempfile::tempdir().expect("temp dir");
    let mut watch = Command::new(harness_bin())
        .args([
            "watch",
            &child.0.id().to_string(),
            "--on-enter",
            "--format",
            "json",
            "--out",
        ])
        .arg(out.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    // Two Enters, then end of input.
    watch.stdin.take().unwrap().write_all(b"\n\n").unwrap();
    let output = watch.wait_with_output().expect("watch ends");
    drop(child);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(labels(only_variant(&results)), ["snapshot-1", "snapshot-2"]);
}

crate::tests![
    a_program_waiting_on_getchar_is_measured_unmodified,
    a_forked_child_in_pause_is_measured_and_its_copies_counted,
    sigstop_and_sigsuspend_are_checkpoints_too,
    a_claims_file_is_judged_both_ways_and_says_what_is_missing,
    a_malformed_claims_file_is_one_line_with_its_line_number,
    bad_input_is_one_line_and_exit_2,
    the_c_header_names_checkpoints_under_the_harness_and_is_silent_outside,
    the_python_module_names_checkpoints_under_the_harness_and_is_silent_outside,
    a_thread_other_than_the_main_one_reading_stdin_is_a_wait,
    watch_once_agrees_with_pmap_on_rss_per_mapping,
    watch_takes_timed_snapshots_into_a_normal_run_that_compare_reads,
    ctrl_c_ends_the_traced_program_and_its_children,
    every_adds_snapshots_of_the_running_program,
    watch_on_enter_snapshots_at_each_line_until_input_ends,
];
