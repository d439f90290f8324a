//! The lecture's HTTP server: one page and its data on 127.0.0.1, every path
//! under a random token, so that no other user of the machine can read or drive
//! the lecture. Requests are answered from the [`Lecture`] state alone (nothing
//! is read from disk); the routing is a pure function, [`route`], tested
//! without a socket.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use crate::error::UsageError;
use crate::model::Verdict;
use crate::step::Stop;

/// The page, self-contained: its style and script inline, no external file.
const PAGE: &str = include_str!("page.html");

/// Where the lecture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The experiment is starting; no stop yet.
    Starting,
    /// Parked at a checkpoint, waiting for Next.
    Paused,
    /// Running to its next checkpoint.
    Running,
    /// Quit was pressed (or the wait timed out): the processes are being ended.
    Stopping,
    /// The run ended and its results are written; the page shows its claims.
    Finished,
    /// The teacher closed the lecture; the server is going away.
    Closed,
}

/// A claim as the end of the lecture shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EndClaim {
    /// The claim's id.
    pub id: String,
    /// The variant it is about, if one.
    pub variant: Option<String>,
    /// The writing's statement.
    pub statement: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What was measured, and why that verdict.
    pub evidence: String,
}

/// How the run ended.
#[derive(Debug, Clone, Serialize)]
pub struct End {
    /// The run folder (renamed `-partial` when the run was stopped).
    pub run_dir: String,
    /// Stopped before its end: the results cover what was reached.
    pub partial: bool,
    /// One sentence for the page and the terminal.
    pub message: String,
    /// The claims and their verdicts.
    pub claims: Vec<EndClaim>,
}

/// A claim's criterion, shown before anything is measured.
#[derive(Debug, Clone, Serialize)]
pub struct Criterion {
    /// The claim's id.
    pub id: String,
    /// How it will be judged.
    pub criterion: String,
}

/// Everything the page shows; the page polls it as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Lecture {
    /// Grows with every change, so the page redraws only when something moved.
    pub seq: u64,
    /// Where the lecture is.
    pub phase: Phase,
    /// The experiment's name.
    pub experiment: String,
    /// The running variant.
    pub variant: String,
    /// The variant's claims and their criteria, fixed before measuring.
    pub criteria: Vec<Criterion>,
    /// Every stop so far, in order.
    pub stops: Vec<Stop>,
    /// Set when the run has ended.
    pub end: Option<End>,
    /// A line about what is happening (stopping, timed out).
    pub note: Option<String>,
    /// The run's results.html, served at `results.html` once the run ended.
    #[serde(skip)]
    pub results_html: Option<String>,
    /// Nobody pressed Next within the timeout: the run was stopped for it.
    #[serde(skip)]
    pub timed_out: bool,
}

impl Lecture {
    /// A lecture of `experiment` whose first stop is still to come.
    pub fn new(experiment: &str) -> Lecture {
        Lecture {
            seq: 0,
            phase: Phase::Starting,
            experiment: experiment.to_string(),
            variant: String::new(),
            criteria: Vec::new(),
            stops: Vec::new(),
            end: None,
            note: None,
            results_html: None,
            timed_out: false,
        }
    }
}

/// The lecture state, shared by the session's thread and the server's, with
/// the condition variable that wakes a waiting side when it changes.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<Lecture>,
    changed: Condvar,
}

impl Shared {
    /// `lecture`, ready to be shared.
    pub fn new(lecture: Lecture) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(lecture),
            changed: Condvar::new(),
        })
    }

    /// The state, locked (a panic elsewhere does not lose it).
    pub fn lock(&self) -> MutexGuard<'_, Lecture> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state with `f`, counts the change and wakes the waiters.
    pub fn update<T>(&self, f: impl FnOnce(&mut Lecture) -> T) -> T {
        let mut state = self.lock();
        let out = f(&mut state);
        state.seq += 1;
        drop(state);
        self.changed.notify_all();
        out
    }

    /// Waits up to `timeout` for a change; returns the state, locked.
    pub fn wait<'a>(
        &'a self,
        guard: MutexGuard<'a, Lecture>,
        timeout: Duration,
    ) -> MutexGuard<'a, Lecture> {
        match self.changed.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(e) => e.into_inner().0,
        }
    }
}

/// An answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Its Content-Type.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    fn text(status: u16, text: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{text}\n").into_bytes(),
        }
    }
}

/// GET or POST; anything else is refused before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Reads.
    Get,
    /// Acts (Next, Quit).
    Post,
    /// Any other method.
    Other,
}

/// The answer to `method url`: the token is checked first, so a request
/// without it learns nothing and changes nothing. `quit` is what Quit does to
/// the run (the session's clean stop); it is called only when the request is
/// accepted.
pub fn route(shared: &Shared, token: &str, method: Method, url: &str, quit: &dyn Fn()) -> Reply {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let Some(rest) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .filter(|(given, _)| same_token(given, token))
        .map(|(_, rest)| rest)
    else {
        return Reply::text(
            403,
            "forbidden: this lecture answers only the link printed in its terminal, token included",
        );
    };
    match (rest, method) {
        ("", Method::Get) => Reply {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: PAGE.as_bytes().to_vec(),
        },
        ("state", Method::Get) => {
            let state = shared.lock();
            match serde_json::to_vec(&*state) {
                Ok(body) => Reply {
                    status: 200,
                    content_type: "application/json",
                    body,
                },
                Err(e) => Reply::text(500, &format!("cannot serialise the lecture: {e}")),
            }
        }
        ("results.html", Method::Get) => match &shared.lock().results_html {
            Some(html) => Reply {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: html.as_bytes().to_vec(),
            },
            None => Reply::text(404, "not found: results.html exists once the run has ended"),
        },
        ("next", Method::Post) => next(shared),
        ("quit", Method::Post) => stop(shared, quit),
        ("" | "state" | "results.html", _) => {
            Reply::text(405, "method not allowed: this path is read with GET")
        }
        ("next" | "quit", _) => Reply::text(405, "method not allowed: this path takes a POST"),
        _ => Reply::text(
            404,
            "not found: the lecture serves its page, state, next, quit and results.html",
        ),
    }
}

/// Next: resumes the experiment parked at a checkpoint, and nothing else.
fn next(shared: &Shared) -> Reply {
    let mut state = shared.lock();
    match state.phase {
        Phase::Paused => {
            state.phase = Phase::Running;
            state.note = None;
            state.seq += 1;
            drop(state);
            shared.changed.notify_all();
            Reply::text(202, "running to the next checkpoint")
        }
        Phase::Starting | Phase::Running => Reply::text(
            409,
            "conflict: the experiment is running to its next checkpoint; Next works once it stops there",
        ),
        Phase::Stopping | Phase::Finished | Phase::Closed => {
            Reply::text(409, "conflict: the run has ended; there is no next checkpoint")
        }
    }
}

/// Quit: while the run goes, stops it as q in step mode does (what was
/// reached is kept); once it has ended, closes the lecture.
fn stop(shared: &Shared, quit: &dyn Fn()) -> Reply {
    let mut state = shared.lock();
    let reply = match state.phase {
        Phase::Starting | Phase::Paused | Phase::Running => {
            state.phase = Phase::Stopping;
            state.note = Some(
                "stopping: ending the experiment's processes, keeping what was reached".into(),
            );
            quit();
            Reply::text(202, "stopping the run; what was reached is kept")
        }
        Phase::Finished => {
            state.phase = Phase::Closed;
            Reply::text(202, "the lecture is closed")
        }
        Phase::Stopping => return Reply::text(409, "conflict: the run is already stopping"),
        Phase::Closed => return Reply::text(409, "conflict: the lecture is already closed"),
    };
    state.seq += 1;
    drop(state);
    shared.changed.notify_all();
    reply
}

/// Compares in time independent of where the first difference is.
fn same_token(given: &str, token: &str) -> bool {
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A fresh token: 128 random bits from the kernel, in hex.
pub fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The running server: dropped (or [`Server::stop`]ped), it stops listening
/// and its thread ends.
pub struct Server {
    /// Where it listens (127.0.0.1 and a port).
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the server's thread looks whether it should stop.
const POLL: Duration = Duration::from_millis(100);

impl Server {
    /// Listens on 127.0.0.1:`port` (0: a free port) and answers every request
    /// with [`route`].
    pub fn start(port: u16, token: String, shared: Arc<Shared>) -> anyhow::Result<Server> {
        let http = tiny_http::Server::http(("127.0.0.1", port)).map_err(|e| {
            UsageError(format!(
                "cannot listen on 127.0.0.1:{port}: {e}; pass another --port, or none for a free one"
            ))
        })?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("the lecture's server has no IP address"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("lecture-http".into())
            .spawn(move || {
                while !stopping.load(Ordering::SeqCst) {
                    let request = match http.recv_timeout(POLL) {
                        Ok(Some(request)) => request,
                        Ok(None) => continue,
                        Err(_) => break,
                    };
                    let method = match request.method() {
                        tiny_http::Method::Get => Method::Get,
                        tiny_http::Method::Post => Method::Post,
                        _ => Method::Other,
                    };
                    let reply = route(
                        &shared,
                        &token,
                        method,
                        request.url(),
                        &crate::step::request_quit,
                    );
                    let mut response =
                        tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
                    for (name, value) in [
                        ("Content-Type", reply.content_type),
                        ("Cache-Control", "no-store"),
                        ("Referrer-Policy", "no-referrer"),
                    ] {
                        if let Ok(header) = tiny_http::Header::from_bytes(name, value) {
                            response.add_header(header);
                        }
                    }
                    // A browser that went away mid-answer is no error of ours.
                    let _ = request.respond(response);
                }
            })?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops listening and waits for the thread.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn ask(shared: &Shared, method: Method, url: &str) -> (u16, bool) {
        let quit = Cell::new(false);
        let reply = route(shared, TOKEN, method, url, &|| quit.set(true));
        (reply.status, quit.get())
    }

    #[test]
    fn a_request_without_the_token_is_refused_and_changes_nothing() {
        let shared = Shared::new(Lecture::new("fork-cow"));
        shared.update(|s| s.phase = Phase::Paused);
        let seq = shared.lock().seq;
        for url in [
            "/",
            "/state",
            "/next",
            "/quit",
            "/wrong/next",
            "/0123456789abcdef0123456789abcdee/next",
            "//next",
        ] {
            for method in [Method::Get, Method::Post] {
                assert_eq!(ask(&shared, method, url), (403, false), "{url}");
            }
        }
        assert_eq!(shared.lock().phase, Phase::Paused);
        assert_eq!(shared.lock().seq, seq);
    }

    #[test]
    fn next_resumes_a_paused_run_once_and_is_refused_while_it_runs() {
        let shared = Shared::new(Lecture::new("fork-cow"));
        let next = format!("/{TOKEN}/next");
        assert_eq!(
            ask(&shared, Method::Post, &next).0,
            409,
            "before the first stop"
        );
        shared.update(|s| s.phase = Phase::Paused);
        assert_eq!(ask(&shared, Method::Post, &next).0, 202);
        assert_eq!(shared.lock().phase, Phase::Running);
        let seq = shared.lock().seq;
        assert_eq!(ask(&shared, Method::Post, &next).0, 409);
        assert_eq!(shared.lock().phase, Phase::Running);
        assert_eq!(shared.lock().seq, seq, "a refused Next changes nothing");
        assert_eq!(ask(&shared, Method::Get, &next).0, 405);
    }

    #[test]
    fn quit_stops_a_running_lecture_and_then_closes_an_ended_one() {
        let shared = Shared::new(Lecture::new("fork-cow"));
        let quit = format!("/{TOKEN}/quit");
        shared.update(|s| s.phase = Phase::Paused);
        assert_eq!(ask(&shared, Method::Post, &quit), (202, true));
        assert_eq!(shared.lock().phase, Phase::Stopping);
        assert_eq!(ask(&shared, Method::Post, &quit), (409, false));
        shared.update(|s| s.phase = Phase::Finished);
        assert_eq!(ask(&shared, Method::Post, &quit), (202, false));
        assert_eq!(shared.lock().phase, Phase::Closed);
    }

    #[test]
    fn unknown_paths_are_not_found_and_the_page_and_state_are_served() {
        let shared = Shared::new(Lecture::new("fork-cow"));
        assert_eq!(
            ask(&shared, Method::Get, &format!("/{TOKEN}/etc/passwd")).0,
            404
        );
        assert_eq!(
            ask(&shared, Method::Get, &format!("/{TOKEN}/results.html")).0,
            404
        );
        assert_eq!(ask(&shared, Method::Other, &format!("/{TOKEN}/")).0, 405);
        let page = route(
            &shared,
            TOKEN,
            Method::Get,
            &format!("/{TOKEN}/?x=1"),
            &|| {},
        );
        assert_eq!(
            (page.status, page.content_type),
            (200, "text/html; charset=utf-8")
        );
        let state = route(
            &shared,
            TOKEN,
            Method::Get,
            &format!("/{TOKEN}/state"),
            &|| {},
        );
        let json: serde_json::Value = serde_json::from_slice(&state.body).unwrap();
        assert_eq!(json["phase"], "starting");
        assert_eq!(json["experiment"], "fork-cow");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for needle in [
            "src=\"http",
            "href=\"http",
            "@import",
            "url(http",
            "<script src",
        ] {
            assert!(!PAGE.contains(needle), "the page refers outside: {needle}");
        }
    }

    #[test]
    fn tokens_are_fresh_128_bit_hex() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
