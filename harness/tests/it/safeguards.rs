//! Never touch what is not ours, never replace a good baseline, never crash on
//! a pipe: a folder in `--dir` that vmlab did not make survives a run; a save
//! over a FIFO or a device is refused before the run; a run whose experiment
//! failed keeps the previous baseline; a closed or full stdout is exit 2
//! without a panic; a killed run is marked partial and not read as complete.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use crate::reliability::{
    describe, fake_experiment, is_root, real_experiments, Sandbox, FIXTURE, READY,
};

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn quick_anatomy(sandbox: &Sandbox, extra: &[String]) -> Vec<String> {
    let mut args = strings(&["run", "anatomy", "--quick", "--format", "json", "--out"]);
    args.push(sandbox.out().display().to_string());
    args.extend(extra.iter().cloned());
    args
}

fn a_folder_vmlab_did_not_make_in_dir_survives_a_run_and_is_named() {
    let sandbox = Sandbox::new();
    // Named like a temporary folder of ours, an hour old, its "owner" long gone.
    let mine = sandbox.tmp().join("vmlab-photos-999999-2024");
    std::fs::create_dir(&mine).expect("mkdir");
    std::fs::write(mine.join("holiday.jpg"), b"not vmlab's").expect("write");
    std::fs::File::open(&mine)
        .expect("open")
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .expect("age it");
    let args = quick_anatomy(&sandbox, &[]);
    let output = sandbox.command(&args).output().expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&args, &output)
    );
    assert!(
        mine.join("holiday.jpg").is_file(),
        "{}",
        describe(&args, &output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("left alone") && stderr.contains("vmlab-photos-999999-2024"),
        "{}",
        describe(&args, &output)
    );
}

/// `--save-baseline-file` at something that is not a results.json vmlab wrote.
fn refused_save(sandbox: &Sandbox, target: &Path, what: &str) {
    let args = quick_anatomy(
        sandbox,
        &["--save-baseline-file".into(), target.display().to_string()],
    );
    let output = sandbox.command(&args).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&args, &output)
    );
    assert_eq!(stderr.lines().count(), 1, "{}", describe(&args, &output));
    assert!(stderr.contains(what), "{}", describe(&args, &output));
    // Refused before the run: no run folder was made.
    assert_eq!(
        Sandbox::entries(&sandbox.out()),
        Vec::<PathBuf>::new(),
        "{}",
        describe(&args, &output)
    );
}

fn a_save_over_a_fifo_a_device_or_a_users_file_is_refused_before_the_run() {
    use std::os::unix::fs::FileTypeExt;
    let sandbox = Sandbox::new();
    let fifo = sandbox.inputs().join("fifo");
    refused_save(&sandbox, &fifo, "a FIFO");
    assert!(std::fs::symlink_metadata(&fifo)
        .expect("still there")
        .file_type()
        .is_fifo());
    let notes = sandbox.inputs().join("notes.txt");
    std::fs::write(&notes, "my notes").expect("write");
    refused_save(&sandbox, &notes, "not a vmlab results.json");
    assert_eq!(std::fs::read_to_string(&notes).expect("read"), "my notes");
    if is_root() {
        let device = sandbox.inputs().join("null");
        nix::sys::stat::mknod(
            &device,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .expect("mknod");
        refused_save(&sandbox, &device, "a device");
        assert!(std::fs::symlink_metadata(&device)
            .expect("still there")
            .file_type()
            .is_char_device());
    } else {
        println!("device node case not run: mknod needs root");
    }
}

fn a_run_whose_experiment_failed_keeps_the_previous_baseline() {
    let sandbox = Sandbox::new();
    let dir = sandbox.root.path().join("baselines");
    let save = [
        "--baseline-dir".to_string(),
        dir.display().to_string(),
        "--save-baseline".into(),
        "good".into(),
    ];
    let args = quick_anatomy(&sandbox, &save);
    let output = sandbox.command(&args).output().expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&args, &output)
    );
    let saved = dir.join("good/results.json");
    let good = std::fs::read(&saved).expect("saved");
    let bins = sandbox.root.path().join("bins");
    std::fs::create_dir(&bins).expect("mkdir");
    fake_experiment(&bins, "anatomy", &format!("{READY}; exit 3"));
    let output = sandbox
        .command(&args)
        .env("VMLAB_EXPERIMENTS_DIR", &bins)
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        describe(&args, &output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("baseline not saved") && stderr.contains("saved there before is kept"),
        "{}",
        describe(&args, &output)
    );
    assert_eq!(std::fs::read(&saved).expect("still there"), good);
}

/// Runs `args` with stdout a pipe whose reader is already gone.
fn with_closed_stdout(sandbox: &Sandbox, args: &[String]) {
    let (reader, writer) = nix::unistd::pipe().expect("pipe");
    drop(reader);
    let output = sandbox
        .command(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", describe(args, &output));
    // Quietly, as other tools: notes of a run may be there, but no complaint.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("harness:"),
        "{}",
        describe(args, &output)
    );
}

fn a_closed_or_full_stdout_is_exit_2_without_a_panic() {
    let sandbox = Sandbox::new();
    let out = sandbox.out().display().to_string();
    let cases: Vec<Vec<String>> = vec![
        strings(&["list"]),
        strings(&["explain", "anatomy"]),
        strings(&["explain", "anatomy", "--answers", "--results", &out]),
        strings(&["compare", FIXTURE, FIXTURE]),
        strings(&["compare", FIXTURE, FIXTURE, "--format", "json"]),
        strings(&["man"]),
        strings(&["completions", "bash"]),
        quick_anatomy(&sandbox, &[]),
    ];
    for args in &cases {
        with_closed_stdout(&sandbox, args);
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let output = sandbox.command(args).stdout(full).output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}", describe(args, &output));
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.contains("No space left on device") && !stderr.contains("panicked"),
            "{}",
            describe(args, &output)
        );
    }
}

fn a_killed_run_is_refused_by_compare_and_marked_partial_by_the_next_run() {
    use nix::sys::signal::{kill, Signal};
    let sandbox = Sandbox::new();
    let bins = sandbox.root.path().join("bins");
    std::fs::create_dir(&bins).expect("mkdir");
    std::os::unix::fs::symlink(
        real_experiments().join("vmlab-anatomy"),
        bins.join("vmlab-anatomy"),
    )
    .expect("link");
    // The second experiment waits forever, so the kill comes after the first is kept.
    // `exec`: the sleep inherits the shell's death signal and goes with the harness.
    fake_experiment(&bins, "lazy-alloc", &format!("{READY}; exec sleep 600"));
    let mut args = strings(&["run", "anatomy", "lazy-alloc", "--quick", "--out"]);
    args.push(sandbox.out().display().to_string());
    let mut child = sandbox
        .command(&args)
        .env("VMLAB_EXPERIMENTS_DIR", &bins)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let results = loop {
        let found = Sandbox::entries(&sandbox.out())
            .into_iter()
            .map(|d| d.join("results.json"))
            .find(|r| r.is_file());
        if let Some(found) = found {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "no results.json");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGKILL,
    );
    let _ = child.wait();
    let compare = vec![
        "compare".to_string(),
        FIXTURE.to_string(),
        results.display().to_string(),
    ];
    let output = sandbox.command(&compare).output().expect("compare");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&compare, &output)
    );
    assert!(
        stderr.contains("was killed before its end"),
        "{}",
        describe(&compare, &output)
    );
    let next = quick_anatomy(&sandbox, &[]);
    let output = sandbox.command(&next).output().expect("next run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&next, &output)
    );
    let partial = results
        .parent()
        .expect("run folder")
        .with_file_name(format!(
            "{}-partial",
            results
                .parent()
                .and_then(Path::file_name)
                .expect("name")
                .to_string_lossy()
        ));
    assert!(
        partial.join("PARTIAL").is_file() && !partial.join(".vmlab-owner").exists(),
        "{}",
        describe(&next, &output)
    );
}

/// `(pid, start time)` of every live process, with its parent and state.
fn process_table() -> Vec<(i32, i32, u64, char)> {
    let mut table = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let state = fields.first().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = fields.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        let start = fields.get(19).and_then(|p| p.parse().ok()).unwrap_or(0);
        table.push((pid, ppid, start, state));
    }
    table
}

/// Adds the descendants of `root` now alive to `seen` (pid and start time).
fn collect_descendants(root: i32, seen: &mut std::collections::BTreeSet<(i32, u64)>) {
    let table = process_table();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid, start, _) in &table {
            if ppid == parent {
                seen.insert((pid, start));
                frontier.push(pid);
            }
        }
    }
}

/// Which of `seen` still live (zombies count as gone).
fn still_alive(seen: &std::collections::BTreeSet<(i32, u64)>) -> Vec<(i32, u64)> {
    let table = process_table();
    seen.iter()
        .copied()
        .filter(|&(pid, start)| {
            table
                .iter()
                .any(|&(p, _, s, state)| p == pid && s == start && state != 'Z')
        })
        .collect()
}

/// SIGKILLs the harness at random moments of the experiments that start
/// several processes; every process it started must go with it. The number
/// of kills per experiment is `VMLAB_KILLS` (default 3).
fn a_killed_harness_leaves_no_process_of_a_multi_process_experiment() {
    use nix::sys::signal::{kill, Signal};
    let kills: u64 = std::env::var("VMLAB_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(3);
    let sandbox = Sandbox::new();
    let mut orphans_total = Vec::new();
    let mut clock = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    for experiment in [
        "fork-cow",
        "static-dynamic",
        "shared-file",
        "many-processes",
    ] {
        for k in 0..kills {
            clock = clock
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Within the first second: static-dynamic takes about 0.9 s here.
            let delay = Duration::from_millis(20 + (clock >> 33) % 1000);
            let mut args = strings(&["run", experiment, "--quick", "--out"]);
            args.push(sandbox.out().display().to_string());
            let mut child = sandbox
                .command(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            let root = child.id() as i32;
            let mut seen = std::collections::BTreeSet::new();
            let until = std::time::Instant::now() + delay;
            while std::time::Instant::now() < until {
                collect_descendants(root, &mut seen);
                std::thread::sleep(Duration::from_millis(10));
            }
            collect_descendants(root, &mut seen);
            let _ = kill(nix::unistd::Pid::from_raw(root), Signal::SIGKILL);
            let _ = child.wait();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let mut alive = still_alive(&seen);
            while !alive.is_empty() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
                alive = still_alive(&seen);
            }
            for &(pid, _) in &alive {
                // Whatever the test started must not outlive it, pass or fail.
                let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
            if !alive.is_empty() {
                orphans_total.push(format!(
                    "{experiment} kill {k} after {delay:?}: {alive:?} of {} processes",
                    seen.len()
                ));
            }
        }
    }
    assert!(orphans_total.is_empty(), "orphans: {orphans_total:#?}");
}

/// Reads of user-named files that once read without bound: each is one line
/// and exit 2 within a 200 MiB data limit.
fn a_huge_or_endless_file_is_refused_within_bounded_memory() {
    let sandbox = Sandbox::new();
    let inputs = sandbox.inputs();
    let endless = inputs.join("endless");
    std::fs::create_dir(&endless).expect("mkdir");
    std::os::unix::fs::symlink("/proc/self/pagemap", endless.join("results.json")).expect("link");
    // 96 MiB of `[[],[],...]`: under the 128 MiB cap, far over it as a tree of values.
    let arrays = inputs.join("arrays.json");
    let mut text = String::with_capacity(96 << 20);
    text.push('[');
    while text.len() < (96 << 20) {
        text.push_str("[],");
    }
    text.push_str("[]]");
    std::fs::write(&arrays, text).expect("write");
    let arrays = arrays.display().to_string();
    let cases: Vec<Vec<String>> = vec![
        strings(&["trace", "--claims", "/proc/self/pagemap", "--", "true"]),
        strings(&["matrix", "--results", &endless.display().to_string()]),
        strings(&["matrix", "--kernel", "/proc/self/pagemap"]),
        strings(&["compare", &arrays, &arrays]),
        strings(&["compare", FIXTURE, "/proc/self/pagemap"]),
        strings(&["matrix", "--results", &arrays]),
    ];
    for args in &cases {
        let mut command = sandbox.command(args);
        // SAFETY: setrlimit is async-signal-safe and changes only the child.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                nix::sys::resource::setrlimit(
                    nix::sys::resource::Resource::RLIMIT_DATA,
                    200 << 20,
                    200 << 20,
                )
                .map_err(std::io::Error::from)
            });
        }
        let output = command.output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}", describe(args, &output));
        assert_eq!(stderr.lines().count(), 1, "{}", describe(args, &output));
    }
}

/// The checkpoints kept in a run folder's results.json.
fn checkpoints_kept(dir: &Path) -> usize {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).expect("results"))
            .expect("json");
    json["experiments"][0]["variants"][0]["checkpoints"]
        .as_array()
        .map_or(0, Vec::len)
}

/// `trace` stopped by Ctrl-C keeps the checkpoints it took, in a folder marked
/// partial; one killed with SIGKILL keeps them too, in a folder the next run
/// marks partial.
fn an_interrupted_or_killed_trace_keeps_its_checkpoints_in_a_partial_folder() {
    use nix::sys::signal::{kill, Signal};
    let sandbox = Sandbox::new();
    let out = sandbox.out().display().to_string();
    let args = strings(&[
        "trace", "--every", "200ms", "--out", &out, "--", "sleep", "60",
    ]);
    for signal in [Signal::SIGINT, Signal::SIGKILL] {
        let mut child = sandbox
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(1500));
        let _ = kill(nix::unistd::Pid::from_raw(child.id() as i32), signal);
        let status = child.wait().expect("wait");
        if signal == Signal::SIGINT {
            assert_eq!(status.code(), Some(130), "{signal}");
            let partial = Sandbox::entries(&sandbox.out())
                .into_iter()
                .find(|d| d.to_string_lossy().ends_with("-partial"))
                .expect("a -partial folder");
            let taken = checkpoints_kept(&partial);
            assert!(taken >= 2, "{taken} checkpoints kept in {partial:?}");
            assert!(partial.join("PARTIAL").is_file());
            assert!(!partial.join(".vmlab-owner").exists());
        }
    }
    let next = strings(&["trace", "--out", &out, "--", "true"]);
    let output = sandbox.command(&next).output().expect("next");
    // `true` never reaches a checkpoint: nothing measured, exit 4.
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        describe(&next, &output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tidied run folders"),
        "{}",
        describe(&next, &output)
    );
    let partial: Vec<_> = Sandbox::entries(&sandbox.out())
        .into_iter()
        .filter(|d| d.to_string_lossy().contains("-partial"))
        .collect();
    assert_eq!(
        partial.len(),
        2,
        "{partial:?}: {}",
        describe(&next, &output)
    );
    for dir in &partial {
        let taken = checkpoints_kept(dir);
        assert!(taken >= 2, "{taken} checkpoints kept in {dir:?}");
        assert!(dir.join("PARTIAL").is_file(), "{dir:?}");
    }
    for dir in Sandbox::entries(&sandbox.out()) {
        assert!(
            !dir.join(".vmlab-owner").exists()
                && (dir.ends_with("latest") || dir.join("results.json").is_file()),
            "{dir:?} left: {}",
            describe(&next, &output)
        );
    }
}

/// `watch` killed with SIGKILL keeps the snapshots it took: the next run
/// finds its folder's owner gone and marks it partial, with every snapshot.
fn a_killed_watch_keeps_its_snapshots_in_a_partial_folder() {
    use nix::sys::signal::{kill, Signal};
    let sandbox = Sandbox::new();
    let out = sandbox.out().display().to_string();
    let mut watched = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    let pid = watched.id().to_string();
    let args = strings(&["watch", &pid, "--every", "200ms", "--out", &out]);
    let mut child = sandbox
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1500));
    let _ = kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGKILL,
    );
    let _ = child.wait();
    let _ = watched.kill();
    let _ = watched.wait();
    let next = strings(&["trace", "--out", &out, "--", "true"]);
    let output = sandbox.command(&next).output().expect("next");
    // `true` never reaches a checkpoint: nothing measured, exit 4.
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        describe(&next, &output)
    );
    let partial = Sandbox::entries(&sandbox.out())
        .into_iter()
        .find(|d| d.to_string_lossy().ends_with("-partial"))
        .unwrap_or_else(|| panic!("no -partial folder: {}", describe(&next, &output)));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(partial.join("results.json")).expect("results"),
    )
    .expect("json");
    let taken = json["experiments"][0]["variants"][0]["checkpoints"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(taken >= 3, "{taken} snapshots kept in {partial:?}");
}

crate::tests![
    a_folder_vmlab_did_not_make_in_dir_survives_a_run_and_is_named,
    a_save_over_a_fifo_a_device_or_a_users_file_is_refused_before_the_run,
    a_run_whose_experiment_failed_keeps_the_previous_baseline,
    a_closed_or_full_stdout_is_exit_2_without_a_panic,
    a_killed_run_is_refused_by_compare_and_marked_partial_by_the_next_run,
    a_killed_harness_leaves_no_process_of_a_multi_process_experiment,
    a_huge_or_endless_file_is_refused_within_bounded_memory,
    an_interrupted_or_killed_trace_keeps_its_checkpoints_in_a_partial_folder,
    a_killed_watch_keeps_its_snapshots_in_a_partial_folder,
];
