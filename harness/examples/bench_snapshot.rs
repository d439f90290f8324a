//! What a harness snapshot costs next to the kernel's own cost and to `pmap -X`,
//! measured side by side on one live process (run by `scripts/bench-snapshot`).
//!
//! ```text
//! bench_snapshot PID [RUNS]      compare, RUNS rounds (default 30)
//! bench_snapshot --once PID      one harness snapshot (read + parse), then exit
//! ```
//!
//! Each round runs, in turn, three commands as processes (so each pays one
//! process start): this program with `--once` (the harness's snapshot: smaps,
//! status, stat read and parsed as the runner does), `cat smaps status stat` to
//! /dev/null (the kernel generating the text: the floor), and `pmap -X PID` to
//! /dev/null. Interleaving the three keeps a change in the machine's load from
//! favouring one of them. It also times, inside this process, the snapshot
//! against reading the three files without parsing, which leaves process start
//! out. Medians are printed with the ratios to the floor.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use harness::probe::{self, Probe, ProcProbe};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, pid] if flag == "--once" => parse_pid(pid).and_then(once),
        [pid] => parse_pid(pid).and_then(|p| compare(p, 30)),
        [pid, runs] => parse_pid(pid).and_then(|p| {
            runs.parse::<usize>()
                .ok()
                .filter(|r| *r > 0)
                .ok_or_else(|| format!("RUNS must be a whole number above 0, not {runs:?}"))
                .and_then(|r| compare(p, r))
        }),
        _ => Err("usage: bench_snapshot PID [RUNS] | bench_snapshot --once PID".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_snapshot: {e}");
            ExitCode::from(2)
        }
    }
}

fn parse_pid(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .ok()
        .filter(|p| *p > 0 && PathBuf::from(format!("/proc/{p}")).exists())
        .ok_or_else(|| format!("{text:?} is not the pid of a running process"))
}

/// The runner's snapshot: read the three files, parse them.
fn snapshot(pid: i32) -> Result<usize, String> {
    let raw = ProcProbe.read(pid).map_err(|e| e.to_string())?;
    let parsed = probe::parse_snapshot(&raw, &PathBuf::from(format!("/proc/{pid}")))
        .map_err(|e| e.to_string())?;
    Ok(parsed.mappings.len())
}

fn once(pid: i32) -> Result<(), String> {
    snapshot(pid).map(|_| ())
}

fn files(pid: i32) -> [String; 3] {
    ["smaps", "status", "stat"].map(|f| format!("/proc/{pid}/{f}"))
}

fn time_command(cmd: &mut Command) -> Result<Duration, String> {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let took = start.elapsed();
    if !status.success() {
        return Err(format!("{cmd:?} failed: {status}"));
    }
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn compare(pid: i32, runs: usize) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let mappings = snapshot(pid)?;
    let (mut ours, mut floor, mut pmap) = (Vec::new(), Vec::new(), Vec::new());
    let (mut inner_snapshot, mut inner_read) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(time_command(
            Command::new(&me).arg("--once").arg(pid.to_string()),
        )?);
        floor.push(time_command(Command::new("cat").args(files(pid)))?);
        pmap.push(time_command(
            Command::new("pmap").arg("-X").arg(pid.to_string()),
        )?);
        let start = Instant::now();
        snapshot(pid)?;
        inner_snapshot.push(start.elapsed());
        let start = Instant::now();
        for f in files(pid) {
            std::fs::read_to_string(&f).map_err(|e| format!("cannot read {f}: {e}"))?;
        }
        inner_read.push(start.elapsed());
    }
    let (ours, floor, pmap) = (median(ours), median(floor), median(pmap));
    let (inner_snapshot, inner_read) = (median(inner_snapshot), median(inner_read));
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "process {pid}: VmRSS {rss_kib} kB, {mappings} mappings; median of {runs} interleaved rounds"
    );
    println!(
        "  as processes: harness snapshot {:.3} ms, cat smaps status stat {:.3} ms, pmap -X {:.3} ms",
        ms(ours),
        ms(floor),
        ms(pmap)
    );
    println!(
        "  ratios to the floor (cat): harness snapshot {:.2}x, pmap -X {:.2}x",
        ratio(ours, floor),
        ratio(pmap, floor)
    );
    println!(
        "  in one process (no process start): snapshot {:.3} ms, reading the three files {:.3} ms: {:.2}x",
        ms(inner_snapshot),
        ms(inner_read),
        ratio(inner_snapshot, inner_read)
    );
    Ok(())
}
