//! The classroom features: explanations, step mode through a pseudo-terminal, and
//! the SVG charts.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{harness_bin, HarnessRun};

fn explain_exists_for_every_listed_experiment() {
    for e in harness::experiment::registry() {
        let name = e.info().name;
        let output = Command::new(harness_bin())
            .args(["explain", name])
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "explain {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for section in [
            "WHAT THE SEED CLAIMED",
            "WHAT THE EXPERIMENT DOES",
            "WHAT THE COLUMNS MEAN",
            "WHAT TO EXPECT",
            "QUESTIONS",
        ] {
            assert!(
                text.contains(section),
                "explain {name} lacks {section}:\n{text}"
            );
        }
        // Every step is captioned, so step mode has something to say everywhere.
        assert!(!e.explanation().steps.is_empty(), "{name} has no steps");
    }
}

fn explain_of_an_unknown_experiment_exits_with_code_2() {
    let output = Command::new(harness_bin())
        .args(["explain", "nope"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown experiment 'nope'"));
}

fn step_mode_without_a_terminal_is_a_clear_error() {
    let output = Command::new(harness_bin())
        .args(["run", "mmap-file", "--quick", "--step"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--step needs a terminal"));
}

fn charts_are_valid_svg_with_named_series_and_are_embedded_in_the_report() {
    let run = crate::util::shared_run(crate::mmap_file::QUICK);
    run.assert_code(0);
    let dir = run.run_dir();
    let report = std::fs::read_to_string(dir.join("results.md")).expect("results.md");
    for (file, series) in [
        (
            "mmap-file-warm-memory.svg",
            &["main", "VmSize", "Rss", "Pss", "memory (linear)"][..],
        ),
        (
            "mmap-file-warm-region-data.svg",
            &["main: the data region", "Pss", "resident (linear)"][..],
        ),
        (
            "mmap-file-cold-faults.svg",
            &[
                "main minor faults",
                "main major faults",
                "faults in the phase ending here",
                "after-read-all",
            ][..],
        ),
    ] {
        let svg = std::fs::read_to_string(dir.join("plots").join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let doc =
            roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{file} is not XML: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        for s in series {
            assert!(texts.contains(s), "{file} has no text {s:?}: {texts:?}");
        }
        assert!(
            report.contains(&format!("(plots/{file})")),
            "results.md does not embed {file}"
        );
    }
    assert!(report.contains("What each step changed"));
}

/// Reads everything the pseudo-terminal shows into a shared buffer.
fn spawn_reader(master: OwnedFd) -> Arc<Mutex<String>> {
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut file = std::fs::File::from(master);
        let mut buf = [0u8; 4096];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    seen
}

fn wait_for(seen: &Arc<Mutex<String>>, needle: &str, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = seen.lock().unwrap().clone();
        if text.matches(needle).count() >= count {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {count}× {needle:?}; the terminal shows:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn step_mode_pauses_at_checkpoints_and_q_leaves_nothing_behind() {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let out = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
    let mut child = Command::new(harness_bin())
        .args(["run", "mmap-file", "--quick", "--step", "--out"])
        .arg(out.path())
        .arg("--dir")
        .arg(scratch.path())
        .stdin(slave(&pty.slave))
        .stdout(slave(&pty.slave))
        .stderr(slave(&pty.slave))
        .spawn()
        .expect("start the harness");
    drop(pty.slave);
    let mut input = std::fs::File::from(pty.master.try_clone().expect("dup master"));
    let seen = spawn_reader(pty.master);

    let first = wait_for(&seen, "Press Enter", 1);
    assert!(first.contains("stopped at before-write"), "{first}");
    assert!(
        first.contains("the claims and their criteria, fixed before measuring")
            && first.contains("mmap-adds-no-rss: "),
        "the criteria are shown before the variant runs: {first}"
    );
    assert!(first.contains("pmap -X"), "{first}");
    assert!(first.contains("the seed's dd"), "no caption: {first}");
    // On through the write phase's end and the flush to the mapping.
    input.write_all(b"\n").unwrap();
    let written = wait_for(&seen, "Press Enter", 2);
    assert!(written.contains("stopped at after-write"), "{written}");
    input.write_all(b"\n").unwrap();
    let flushed = wait_for(&seen, "Press Enter", 3);
    assert!(flushed.contains("flushed to disk"), "no caption: {flushed}");
    input.write_all(b"\n").unwrap();
    let second = wait_for(&seen, "Press Enter", 4);
    assert!(second.contains("stopped at after-mmap"), "{second}");
    assert!(
        second.contains("new "),
        "the new mapping is not shown: {second}"
    );
    let pid: i32 = second
        .split("pmap -X ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|p| p.parse().ok())
        .expect("the experiment's pid on screen");
    input.write_all(b"q\n").unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the harness did not quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = seen.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains("stopped as asked at "), "{text}");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "experiment {pid} survived"
    );
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn charts_of_many_processes_show_the_first_and_the_sum() {
    let run = HarnessRun::new(&["run", "static-dynamic", "--quick", "--format", "json"]);
    run.assert_code(0);
    let file = run
        .run_dir()
        .join("plots")
        .join("static-dynamic-static-prefork-memory.svg");
    let svg = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let doc = roxmltree::Document::parse(&svg).expect("valid SVG");
    let texts: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    // One panel for the first process, one for the sum, each with the three lines.
    for series in [
        "instance-0",
        "Σ instance-0…instance-3 (those running)",
        "VmSize",
        "Rss",
        "Pss",
    ] {
        assert!(texts.contains(&series), "no {series:?} in {texts:?}");
    }
    assert!(
        !texts.iter().any(|t| t.starts_with("instance-3")),
        "every instance drawn: {texts:?}"
    );
}

/// Runs `harness ARGS` on a pseudo-terminal; returns the child, its input and
/// what it shows.
fn on_pty(args: &[&str]) -> (std::process::Child, std::fs::File, Arc<Mutex<String>>) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
    let child = Command::new(harness_bin())
        .args(args)
        .env("COLUMNS", "80")
        .stdin(slave(&pty.slave))
        .stdout(slave(&pty.slave))
        .stderr(slave(&pty.slave))
        .spawn()
        .expect("start the harness");
    drop(pty.slave);
    let input = std::fs::File::from(pty.master.try_clone().expect("dup master"));
    let seen = spawn_reader(pty.master);
    (child, input, seen)
}

fn wait_exit(child: &mut std::process::Child, seen: &Arc<Mutex<String>>) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "the harness did not end:\n{}",
            seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn every_step_of_one_variant_fits_a_screen_and_q_keeps_latest_on_the_complete_run() {
    let out = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (out_s, scratch_s) = (
        out.path().display().to_string(),
        scratch.path().display().to_string(),
    );
    let args = [
        "run",
        "fork-cow/thp-off",
        "--quick",
        "--step",
        "--out",
        &out_s,
        "--dir",
        &scratch_s,
    ];
    // A complete run, Enter at every stop.
    let (mut child, mut input, seen) = on_pty(&args);
    let stops = harness::experiment::find("fork-cow")
        .unwrap()
        .explanation()
        .steps
        .iter()
        .filter(|(label, _)| !label.contains('/'))
        .count();
    let mut pressed = 0;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        let text = seen.lock().unwrap().clone();
        if text.matches("Press Enter").count() > pressed {
            pressed += 1;
            input.write_all(b"\n").unwrap();
        }
        assert!(pressed <= stops + 1, "more stops than steps:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = seen.lock().unwrap().clone();
    assert_eq!(code, 0, "{text}");
    let screens: Vec<&str> = text.split("\n=== ").skip(1).collect();
    assert!(screens.len() >= 5, "too few stops:\n{text}");
    for screen in &screens {
        let stop = screen.split("Press Enter").next().unwrap();
        // The stop's lines, its heading and the prompt line included.
        let lines = stop.lines().count() + 1;
        assert!(lines <= 50, "a stop of {lines} lines:\n=== {stop}");
        for line in stop.lines() {
            assert!(line.trim_end().chars().count() <= 80, "wide line {line:?}");
        }
    }
    let fork = screens
        .iter()
        .find(|s| s.contains("stopped at after-fork"))
        .expect("an after-fork stop");
    assert!(fork.contains("Shared_Dirty"), "{fork}");
    assert!(fork.contains("Page frames (pagemap)"), "{fork}");
    let complete = std::fs::canonicalize(out.path().join("latest")).expect("latest");

    // q at the first stop: the run is kept as partial, latest does not move.
    let (mut child, mut input, seen) = on_pty(&args);
    wait_for(&seen, "Press Enter", 1);
    input.write_all(b"q\n").unwrap();
    assert_eq!(wait_exit(&mut child, &seen), 0, "{}", seen.lock().unwrap());
    assert_eq!(
        std::fs::canonicalize(out.path().join("latest")).unwrap(),
        complete,
        "latest moved to the partial run"
    );
    let partial: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-partial"))
        .collect();
    assert_eq!(partial.len(), 1, "{partial:?}");
    assert!(partial[0].join("PARTIAL").is_file());
    assert!(partial[0].join("results.json").is_file());
}

// See: issue 23
fn q_at_a_later_stop_keeps_the_stops_walked_and_judges_what_they_decided() {
    let out = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (out_s, scratch_s) = (
        out.path().display().to_string(),
        scratch.path().display().to_string(),
    );
    let (mut child, mut input, seen) = on_pty(&[
        "run",
        "fork-cow/thp-off",
        "--quick",
        "--step",
        "--out",
        &out_s,
        "--dir",
        &scratch_s,
    ]);
    let before = wait_for(&seen, "Press Enter", 1);
    // Only this variant's claims are listed before its first stop.
    assert!(before.contains("fork-copies-nothing: "), "{before}");
    assert!(
        !before.contains("zygote-children-share"),
        "a claim of another variant is listed:\n{before}"
    );
    for stop in 1..4 {
        input.write_all(b"\n").unwrap();
        wait_for(&seen, "Press Enter", stop + 1);
    }
    input.write_all(b"q\n").unwrap();
    let code = wait_exit(&mut child, &seen);
    let text = seen.lock().unwrap().clone();
    assert_eq!(code, 0, "{text}");
    let at = text
        .split("stopped as asked at ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no stop named:\n{text}"));
    assert!(text.contains("(4 of up to "), "{text}");
    assert!(!text.contains("FAILED"), "{text}");
    assert!(
        text.contains(&out_s),
        "the results folder is not named:\n{text}"
    );
    let partial = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-partial"))
        .unwrap_or_else(|| panic!("no partial folder:\n{text}"));
    assert!(
        !partial.join(harness::scratch::LOCK_FILE).exists(),
        "the finished partial folder keeps its owner record"
    );
    let json = std::fs::read_to_string(partial.join("results.json")).unwrap();
    let run: harness::model::RunRecord = serde_json::from_str(&json).unwrap();
    let e = &run.experiments[0];
    let v = e
        .variants
        .iter()
        .find(|v| v.name == "thp-off")
        .unwrap_or_else(|| panic!("the walked variant is not recorded: {e:?}"));
    let labels: Vec<&str> = v.checkpoints.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels.len(), 4, "{labels:?}");
    assert_eq!(labels.last().copied(), Some(at), "{labels:?}");
    let copies = e
        .claims
        .iter()
        .find(|c| c.id == "fork-copies-nothing")
        .unwrap_or_else(|| panic!("the after-fork claim was not judged: {:?}", e.claims));
    assert_eq!(
        copies.verdict,
        harness::model::Verdict::Confirmed,
        "{copies:?}"
    );
    assert!(
        e.claims
            .iter()
            .all(|c| c.verdict != harness::model::Verdict::Inconclusive),
        "claims of stops not reached are reported: {:?}",
        e.claims
    );
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

crate::tests![
    q_at_a_later_stop_keeps_the_stops_walked_and_judges_what_they_decided,
    explain_exists_for_every_listed_experiment,
    explain_of_an_unknown_experiment_exits_with_code_2,
    step_mode_without_a_terminal_is_a_clear_error,
    charts_are_valid_svg_with_named_series_and_are_embedded_in_the_report,
    step_mode_pauses_at_checkpoints_and_q_leaves_nothing_behind,
    charts_of_many_processes_show_the_first_and_the_sum,
    every_step_of_one_variant_fits_a_screen_and_q_keeps_latest_on_the_complete_run,
];
