//! `harness lecture`: a real Chromium clicks through fork-cow/thp-off stop by
//! stop and the page's figures are checked against the run's results.json;
//! the server refuses requests without its token; Quit, Ctrl-C and a browser
//! that went away (the timeout) all end with nothing left running or behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use harness::model::RunRecord;
use harness::units::human_bytes;
use serde_json::Value;

use crate::cdp::{self, Browser};
use crate::util::harness_bin;

crate::tests![
    fork_cow_is_stepped_through_in_a_real_browser,
    quit_keeps_a_partial_run_and_then_closes_the_lecture,
    a_lecture_left_alone_stops_after_its_timeout_and_cleans_up,
    ctrl_c_ends_a_lecture_cleanly,
    the_page_is_opened_with_xdg_open_where_there_is_a_display,
];

/// A `harness lecture` running in the background, with its own folders.
struct Lecture {
    child: Child,
    out: tempfile::TempDir,
    scratch: tempfile::TempDir,
    stderr: Receiver<String>,
    /// Everything it printed on stderr so far.
    said: Vec<String>,
    /// The page's address, token included (ends with '/').
    url: String,
    port: u16,
    token: String,
}

impl Lecture {
    fn start(extra: &[&str]) -> Lecture {
        let mut args = vec!["--no-open"];
        args.extend(extra);
        Lecture::start_with(&args, &[])
    }

    /// Starts it with `extra` arguments and `env` variables set.
    fn start_with(extra: &[&str], env: &[(&str, std::ffi::OsString)]) -> Lecture {
        let out = tempfile::tempdir().expect("temp dir");
        let scratch = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(harness_bin())
            .args(["lecture", "fork-cow/thp-off", "--quick"])
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("--out")
            .arg(out.path())
            .arg("--dir")
            .arg(scratch.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start harness lecture");
        let stderr = lines(child.stderr.take().expect("stderr"));
        let mut lecture = Lecture {
            child,
            out,
            scratch,
            stderr,
            said: Vec::new(),
            url: String::new(),
            port: 0,
            token: String::new(),
        };
        let line = lecture.wait_for_line("the page is at http://", Duration::from_secs(300));
        let url = line
            .split_once("http://")
            .expect("a URL")
            .1
            .trim()
            .to_string();
        let (addr, token) = url.split_once('/').expect("a path");
        assert!(
            addr.starts_with("127.0.0.1:"),
            "listens on loopback only: {line}"
        );
        lecture.port = addr["127.0.0.1:".len()..].parse().expect("a port");
        lecture.token = token.trim_end_matches('/').to_string();
        lecture.url = format!("http://{url}");
        lecture
    }

    /// Waits for a stderr line containing `needle`; returns it.
    fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.said.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.said.push(line),
                Err(_) => panic!(
                    "harness lecture did not print `{needle}` in {timeout:?}\n{}",
                    self.describe()
                ),
            }
        }
    }

    fn describe(&mut self) -> String {
        while let Ok(line) = self.stderr.try_recv() {
            self.said.push(line);
        }
        format!("--- stderr of harness lecture\n{}", self.said.join("\n"))
    }

    /// Waits for the harness to exit, up to `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The rest of its stderr.
                while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
                    self.said.push(line);
                }
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "harness lecture did not exit in {timeout:?}\n{}",
                    self.describe()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One request to the server: the status and the body.
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        http(self.port, method, path)
    }

    fn state(&self) -> Value {
        let (status, body) = self.request("GET", &format!("/{}/state", self.token));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("the state is JSON")
    }

    /// Polls the state until `check` holds.
    fn wait_state(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let state = self.state();
            if check(&state) {
                return state;
            }
            assert!(Instant::now() < deadline, "never {what}: {state}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asserts that nothing of the lecture is left: no listener on its port,
    /// no experiment process, nothing in its temporary folder.
    fn assert_nothing_left(&mut self, pids: &[i64]) {
        assert!(
            TcpStream::connect(("127.0.0.1", self.port)).is_err(),
            "something still listens on port {}",
            self.port
        );
        assert!(
            listeners(self.port).is_empty(),
            "listening sockets left on port {}: {:?}",
            self.port,
            listeners(self.port)
        );
        for pid in pids {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "experiment process {pid} is still there"
            );
        }
        let left: Vec<PathBuf> = std::fs::read_dir(self.scratch.path())
            .expect("read scratch")
            .map(|e| e.expect("entry").path())
            .collect();
        assert!(
            left.is_empty(),
            "left behind: {left:?}\n{}",
            self.describe()
        );
    }

    /// The run folders written under --out.
    fn run_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .expect("read out")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_dir() && !p.is_symlink())
            .collect();
        dirs.sort();
        dirs
    }
}

impl Drop for Lecture {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn lines(stderr: ChildStderr) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("  | {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// One HTTP/1.1 request to 127.0.0.1:`port`.
fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the lecture");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

/// The local addresses listening on `port`, IPv4 and IPv6 (/proc/net/tcp*).
fn listeners(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // st 0A is LISTEN.
            if fields.len() > 3 && fields[3] == "0A" {
                if let Some((addr, p)) = fields[1].rsplit_once(':') {
                    if u16::from_str_radix(p, 16) == Ok(port) {
                        out.push(format!("{file} {addr}"));
                    }
                }
            }
        }
    }
    out
}

/// The server refuses anything without its token, and answers a wrong path
/// or method with a clear status; none of it changes the lecture.
fn assert_refusals(lecture: &Lecture) {
    let seq = lecture.state()["seq"].clone();
    let mut wrong = lecture.token.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    for (method, path, status) in [
        ("GET", "/".to_string(), 403),
        ("GET", "/state".to_string(), 403),
        ("POST", "/next".to_string(), 403),
        ("POST", "/quit".to_string(), 403),
        ("GET", format!("/{wrong}/"), 403),
        ("GET", format!("/{wrong}/state"), 403),
        ("POST", format!("/{wrong}/next"), 403),
        ("POST", format!("/{wrong}/quit"), 403),
        ("GET", format!("/{}/../../etc/passwd", lecture.token), 404),
        ("GET", format!("/{}/nothing-here", lecture.token), 404),
        ("GET", format!("/{}/next", lecture.token), 405),
        ("DELETE", format!("/{}/state", lecture.token), 405),
    ] {
        let (got, body) = lecture.request(method, &path);
        assert_eq!(got, status, "{method} {path}: {body}");
    }
    assert_eq!(
        lecture.state()["seq"],
        seq,
        "a refused request changed the lecture"
    );
    let listening = listeners(lecture.port);
    assert_eq!(
        listening,
        vec!["/proc/net/tcp 0100007F".to_string()],
        "the lecture listens on 127.0.0.1 only"
    );
}

/// What the page shows of the current stop, read from its elements.
const READ_STOP: &str = r#"(() => ({
  label: document.body.dataset.label,
  where: document.getElementById("where").textContent,
  caption: document.getElementById("caption").textContent,
  figures: [...document.querySelectorAll(".fig")].map((f) => ({
    role: f.dataset.role, region: f.dataset.region, name: f.dataset.name,
    bytes: Number(f.dataset.bytes), text: f.querySelector(".val").textContent,
    change: f.querySelector(".chg").dataset.change === undefined ? null : Number(f.querySelector(".chg").dataset.change),
  })),
  processes: [...document.querySelectorAll(".proc")].map((p) => ({
    role: p.dataset.role, pid: Number(p.dataset.pid),
    minor: Number(p.querySelector(".fig-faults").dataset.minorFaults),
    major: Number(p.querySelector(".fig-faults").dataset.majorFaults),
    minor_shown: p.querySelector(".fig-faults .val").textContent,
  })),
  commands: document.querySelector(".cmds").textContent,
  frames: [...document.querySelectorAll(".frame")].map((f) => f.textContent),
  bars: document.querySelectorAll(".bar").length,
  chart_points: [...document.querySelectorAll(".chart")].map((c) => c.querySelectorAll("circle").length),
}))()"#;

/// Where the screenshots of the stops go: $VMLAB_SCREENSHOTS, or a folder of
/// the test's own.
fn screenshot_dir(own: &Path) -> PathBuf {
    std::env::var_os("VMLAB_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| own.to_path_buf())
}

fn fork_cow_is_stepped_through_in_a_real_browser() {
    let Some(chromium) = cdp::chromium() else {
        crate::trials::skip("chromium is not installed (.ci/run installs it)");
    };
    let mut lecture = Lecture::start(&["--timeout", "120"]);
    lecture.wait_for_line("stop 1,", Duration::from_secs(120));
    assert_refusals(&lecture);

    let browser = Browser::launch(&chromium);
    let mut page = browser.page();
    page.set_viewport(1280, 720);
    page.navigate(&lecture.url);
    let shots = tempfile::tempdir().expect("temp dir");
    let shot_dir = screenshot_dir(shots.path());
    let mut seen: Vec<Value> = Vec::new();
    for stop in 1.. {
        page.wait_for(
            &format!(
                "document.body.dataset.phase === 'finished' || \
                 (document.body.dataset.phase === 'paused' && document.body.dataset.stops === '{stop}' \
                  && !document.getElementById('next').disabled)"
            ),
            Duration::from_secs(120),
        );
        if page.eval("document.body.dataset.phase") == "finished" {
            break;
        }
        seen.push(page.eval(READ_STOP));
        if stop == 3 || stop == 5 {
            page.screenshot(&shot_dir.join(format!("lecture-stop-{stop}.png")));
        }
        page.click("#next");
    }

    // The end: the claims with their verdicts, and the run's report.
    let claims = page.eval(
        "[...document.querySelectorAll('tr.claim')].map((r) => [r.dataset.id, r.dataset.verdict])",
    );
    let report = page.eval(
        "fetch(document.getElementById('results-link').href).then(async (r) => [r.status, (await r.text()).length])",
    );
    page.screenshot(&shot_dir.join("lecture-end.png"));
    let partial = page.eval("document.getElementById('end').dataset.partial");
    page.click("#quit");
    let status = lecture.wait_exit(Duration::from_secs(60));
    // Events that arrived after the last call are read by one more.
    page.eval("1");
    let errors = page.console_errors.clone();
    drop(page);
    drop(browser);

    assert!(status.success(), "exit {status}\n{}", lecture.describe());
    assert_eq!(partial, "false");
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    let run_dir = std::fs::canonicalize(lecture.out.path().join("latest")).expect("latest");
    let text = std::fs::read_to_string(run_dir.join("results.json")).expect("results.json");
    let run: RunRecord = serde_json::from_str(&text).expect("a run record");
    let variant = &run.experiments[0].variants[0];
    assert_eq!(variant.name, "thp-off");
    assert_eq!(
        seen.len(),
        variant.checkpoints.len(),
        "one stop per checkpoint: {seen:#?}"
    );
    let mut pids = Vec::new();
    for (i, (shown, checkpoint)) in seen.iter().zip(&variant.checkpoints).enumerate() {
        let at = format!("stop {} ({})", i + 1, checkpoint.label);
        assert_eq!(shown["label"], checkpoint.label.as_str(), "{at}");
        assert!(
            shown["where"].as_str().unwrap().contains(&checkpoint.label),
            "{at}: {}",
            shown["where"]
        );
        assert!(
            !shown["caption"].as_str().unwrap().is_empty(),
            "{at}: a caption"
        );
        let processes = shown["processes"].as_array().unwrap();
        assert_eq!(processes.len(), checkpoint.processes.len(), "{at}");
        let mut expected_figures = 0;
        for (p, record) in processes.iter().zip(&checkpoint.processes) {
            assert_eq!(p["role"], record.role.as_str(), "{at}");
            assert_eq!(p["pid"], record.pid, "{at}");
            assert_eq!(
                p["minor"], record.faults.minor,
                "{at}: {} minor faults",
                record.role
            );
            assert_eq!(
                p["major"], record.faults.major,
                "{at}: {} major faults",
                record.role
            );
            pids.push(i64::from(record.pid));
            assert!(
                shown["commands"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("pmap -X {}", record.pid)),
                "{at}: the commands name PID {}",
                record.pid
            );
            for region in &record.regions {
                for (name, bytes) in [
                    ("Rss", region.figures.rss_bytes),
                    ("Pss", region.figures.pss_bytes),
                    ("Private_Dirty", region.figures.private_dirty_bytes),
                    ("Shared_Dirty", region.figures.shared_dirty_bytes),
                ] {
                    expected_figures += 1;
                    let figure = shown["figures"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|f| {
                            f["role"] == record.role.as_str()
                                && f["region"] == region.name.as_str()
                                && f["name"] == name
                        })
                        .unwrap_or_else(|| {
                            panic!(
                                "{at}: no {} {} {name} on the page",
                                record.role, region.name
                            )
                        });
                    assert_eq!(
                        figure["bytes"], bytes,
                        "{at}: {} {} {name}",
                        record.role, region.name
                    );
                    assert_eq!(
                        figure["text"],
                        human_bytes(bytes).as_str(),
                        "{at}: {} {} {name} as shown",
                        record.role,
                        region.name
                    );
                }
            }
        }
        assert_eq!(
            shown["figures"].as_array().unwrap().len(),
            expected_figures,
            "{at}"
        );
        // After fork, the sharing of frames between parent and child shows as a bar.
        if checkpoint.processes.len() > 1 {
            assert!(
                shown["frames"].as_array().is_some_and(|f| !f.is_empty()),
                "{at}: the page-frame line"
            );
        }
        // The charts grow by one point per process at every stop.
        let points: usize = checkpoint.processes.len();
        let earlier: usize = variant.checkpoints[..i]
            .iter()
            .map(|c| c.processes.len())
            .sum();
        for n in shown["chart_points"].as_array().unwrap() {
            assert_eq!(
                n.as_u64(),
                Some((earlier + points) as u64),
                "{at}: chart points"
            );
        }
    }
    // Figures move between stops: the page is not showing one stop over and over.
    assert_ne!(seen[1]["figures"], seen[4]["figures"]);
    let expected: Vec<Value> = run.experiments[0]
        .claims
        .iter()
        .map(|c| serde_json::json!([c.id, serde_json::to_value(c.verdict).unwrap()]))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        claims,
        Value::Array(expected),
        "the claims and verdicts at the end"
    );
    assert_eq!(report[0], 200, "results.html is served");
    assert!(
        report[1].as_u64().unwrap() > 1000,
        "results.html has the report"
    );
    lecture.assert_nothing_left(&pids);
}

fn quit_keeps_a_partial_run_and_then_closes_the_lecture() {
    let mut lecture = Lecture::start(&["--timeout", "120"]);
    let state = lecture.wait_state("paused at the first stop", |s| s["phase"] == "paused");
    let pid = state["stops"][0]["processes"][0]["pid"].as_i64().unwrap();
    let token = lecture.token.clone();
    assert_eq!(lecture.request("POST", &format!("/{token}/next")).0, 202);
    lecture.wait_state("paused at the second stop", |s| {
        s["phase"] == "paused" && s["stops"].as_array().unwrap().len() == 2
    });
    assert_eq!(lecture.request("POST", &format!("/{token}/quit")).0, 202);
    let state = lecture.wait_state("finished", |s| s["phase"] == "finished");
    assert_eq!(state["end"]["partial"], true, "{state}");
    assert!(state["end"]["message"]
        .as_str()
        .unwrap()
        .contains("-partial"));
    // The run's processes are gone while the page still shows the end.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "{pid} still runs"
    );
    assert_eq!(lecture.request("POST", &format!("/{token}/next")).0, 409);
    assert_eq!(lecture.request("POST", &format!("/{token}/quit")).0, 202);
    let status = lecture.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "exit {status}\n{}", lecture.describe());
    let dirs = lecture.run_dirs();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(dirs[0].to_string_lossy().ends_with("-partial"), "{dirs:?}");
    assert!(dirs[0].join("results.json").is_file());
    assert!(dirs[0].join("PARTIAL").is_file());
    assert!(
        !lecture.out.path().join("latest").exists(),
        "latest stays on complete runs"
    );
    lecture.wait_for_line("stopped as asked", Duration::from_secs(1));
    lecture.assert_nothing_left(&[pid]);
}

fn a_lecture_left_alone_stops_after_its_timeout_and_cleans_up() {
    let mut lecture = Lecture::start(&["--timeout", "2"]);
    let state = lecture.wait_state("paused at the first stop", |s| s["phase"] == "paused");
    let pid = state["stops"][0]["processes"][0]["pid"].as_i64().unwrap();
    let status = lecture.wait_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(130), "{}", lecture.describe());
    lecture.wait_for_line("no Next within 2 s", Duration::from_secs(1));
    let dirs = lecture.run_dirs();
    assert!(
        dirs.len() == 1 && dirs[0].to_string_lossy().ends_with("-partial"),
        "{dirs:?}"
    );
    lecture.assert_nothing_left(&[pid]);
}

fn ctrl_c_ends_a_lecture_cleanly() {
    let mut lecture = Lecture::start(&["--timeout", "120"]);
    let state = lecture.wait_state("paused at the first stop", |s| s["phase"] == "paused");
    let pid = state["stops"][0]["processes"][0]["pid"].as_i64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(lecture.child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("send SIGINT");
    let status = lecture.wait_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(130), "{}", lecture.describe());
    let dirs = lecture.run_dirs();
    assert!(
        dirs.len() == 1 && dirs[0].to_string_lossy().ends_with("-partial"),
        "{dirs:?}"
    );
    lecture.assert_nothing_left(&[pid]);
}

fn the_page_is_opened_with_xdg_open_where_there_is_a_display() {
    // A stand-in xdg-open first in PATH writes down the link it was given.
    let bin = tempfile::tempdir().expect("temp dir");
    let opened = bin.path().join("opened");
    let script = bin.path().join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" > '{}'\n",
            opened.display()
        ),
    )
    .expect("write xdg-open");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let mut path = std::ffi::OsString::from(bin.path());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let mut lecture = Lecture::start_with(
        &["--timeout", "2"],
        &[("PATH", path), ("DISPLAY", ":99".into())],
    );
    let status = lecture.wait_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(130), "{}", lecture.describe());
    let link = std::fs::read_to_string(&opened).expect("xdg-open was run");
    assert_eq!(
        link.trim(),
        lecture.url,
        "xdg-open got the page's link, token included"
    );
    lecture.assert_nothing_left(&[]);
}
