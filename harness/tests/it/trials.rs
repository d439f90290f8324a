//! The test runner of the integration tests: each test is a `libtest_mimic`
//! trial, so a test whose precondition is missing on this machine (QEMU, root,
//! chromium, a KTAP consumer) ends as `ignored (reason)` in the list and in the
//! summary count instead of passing as `ok` with its reason lost in captured
//! output.
//!
//! A test is a plain `fn()` that panics on failure, registered with
//! [`tests!`](crate::tests) in its module and listed once in `main`. It skips
//! with [`skip`] (or `skip_unless!`), from any depth. The usual arguments work:
//! one name filter, `--exact`, `--skip`, `--list`, `--test-threads`. With
//! `--include-ignored` a skip fails the test instead, for a machine that must
//! have everything (`--ignored` selects nothing: no test is ignored before it
//! runs). Unlike libtest, output is not captured: what a test prints shows as
//! it runs. After the summary it lists the slowest tests with their seconds, so
//! that a maintainer sees where the test command's time goes (printed only,
//! never asserted: timings depend on the machine and its load).

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Trial};

/// One registered test: its full name (`module::function`) and its body.
pub struct Test {
    pub name: String,
    pub body: fn(),
}

/// Why a test did not run; carried by the unwind from [`skip`] to the runner.
struct Skip(String);

/// The variable that asks for the heavy tests: those that boot QEMU guests
/// (they fetch a Debian kernel package with apt, kept in `~/.cache/vmlab`)
/// and those that build the matrix's static harness there (minutes on a
/// 2-CPU machine).
/// `.ci/run` sets it; the README's test command does not, so a newcomer's
/// `cargo test --workspace` touches no network and nothing outside the
/// checkout and the temp folder.
pub const HEAVY_TESTS_VARIABLE: &str = "VMLAB_HEAVY_TESTS";

/// The reason a heavy test gives when it was not asked for.
pub const HEAVY_TESTS_REASON: &str =
    "boots QEMU with a fetched Debian kernel; set VMLAB_HEAVY_TESTS=1 (as .ci/run does) to run it";

/// The reason the matrix's host-column test gives when it was not asked for.
pub const HEAVY_MATRIX_REASON: &str =
    "builds the matrix's static binaries into ~/.cache/vmlab; set VMLAB_HEAVY_TESTS=1 (as .ci/run does) to run it";

/// True when the heavy tests were asked for (`VMLAB_HEAVY_TESTS=1`).
pub fn heavy_tests_asked() -> bool {
    std::env::var(HEAVY_TESTS_VARIABLE).is_ok_and(|v| v == "1")
}

/// Ends the running test as ignored, with the reason shown on its result line.
///
/// It unwinds without the panic hook, so nothing but the reason is printed.
pub fn skip(reason: impl Into<String>) -> ! {
    resume_unwind(Box::new(Skip(reason.into())))
}

/// Ends the running test as ignored with `$reason` when `$cond` does not hold.
#[macro_export]
macro_rules! skip_unless {
    ($cond:expr, $reason:expr) => {
        if !$cond {
            $crate::trials::skip($reason);
        }
    };
}

/// Registers the listed test functions of a module as `pub fn tests()`, each
/// named `module::function` as libtest would name it.
#[macro_export]
macro_rules! tests {
    ($($test:ident),+ $(,)?) => {
        /// The tests of this module, for the runner in `main`.
        pub fn tests() -> Vec<$crate::trials::Test> {
            let module = module_path!()
                .split_once("::")
                .map_or(module_path!(), |(_, rest)| rest);
            vec![$($crate::trials::Test {
                name: format!("{module}::{}", stringify!($test)),
                body: $test,
            }),+]
        }
    };
}

/// How many of the slowest tests the runner lists after the summary.
const SLOWEST_SHOWN: usize = 12;

/// The wall time of each test body that ran, by name, for the list of the
/// slowest tests.
static ELAPSED: Mutex<Vec<(String, Duration)>> = Mutex::new(Vec::new());

/// Runs `body` and records its wall time under `name`, whether it passed,
/// failed or skipped.
fn timed(name: &str, body: fn()) -> std::thread::Result<()> {
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(body));
    ELAPSED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((name.to_string(), start.elapsed()));
    outcome
}

/// Prints the slowest tests that ran, slowest first. A test that uses a run
/// shared with others (`util::shared_run`) is charged with the time it waited
/// for that run.
fn print_slowest() {
    let mut elapsed = std::mem::take(&mut *ELAPSED.lock().unwrap_or_else(|e| e.into_inner()));
    if elapsed.is_empty() {
        return;
    }
    elapsed.sort_by_key(|(_, duration)| std::cmp::Reverse(*duration));
    let total: Duration = elapsed.iter().map(|(_, d)| *d).sum();
    println!(
        "slowest tests (wall seconds; {} tests took {:.1} s together):",
        elapsed.len(),
        total.as_secs_f64()
    );
    for (name, duration) in elapsed.iter().take(SLOWEST_SHOWN) {
        println!("{:>8.1}  {name}", duration.as_secs_f64());
    }
    println!();
}

/// A registered test as a trial: a [`skip`] becomes an ignored outcome with its
/// reason; any other panic fails the test (its message was printed by the hook).
/// Under `--include-ignored` a skip is a failure.
fn trial(test: Test, strict: bool) -> Trial {
    let body = test.body;
    let name = test.name.clone();
    Trial::ignorable_test(test.name, move || match timed(&name, body) {
        Ok(()) => Ok(Completion::Completed),
        Err(payload) => match payload.downcast::<Skip>() {
            Ok(skip) if strict => Err(format!(
                "cannot run here ({}), and --include-ignored asks for every test",
                skip.0
            )
            .into()),
            Ok(skip) => Ok(Completion::ignored_with(skip.0)),
            Err(panic) => resume_unwind(panic),
        },
    })
}

/// Runs the tests of every module with the command line's arguments and exits
/// with libtest's status: 101 when a test failed.
pub fn main(modules: &[fn() -> Vec<Test>]) -> ! {
    let args = Arguments::from_args();
    let mut tests: Vec<Test> = modules.iter().flat_map(|m| m()).collect();
    tests.push(Test {
        name: "trials::every_test_function_is_registered".into(),
        body: every_test_function_is_registered,
    });
    let mut names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("test {} is registered twice", twice[0]);
    }
    // A filtered run may need no experiment: the harness builds them if it does.
    if args.filter.is_none() && !args.list {
        crate::util::point_harness_at_built_experiments();
    }
    let strict = args.include_ignored;
    let trials = tests.into_iter().map(|t| trial(t, strict)).collect();
    let conclusion = libtest_mimic::run(&args, trials);
    print_slowest();
    crate::util::drop_shared_runs();
    conclusion.exit()
}

/// With this runner a `#[test]` attribute compiles to nothing, so a test
/// written that way would never run: none may be left in the sources.
fn every_test_function_is_registered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let mut stray = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read tests/it") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read a test module");
            for (n, line) in text.lines().enumerate() {
                if line.trim() == "#[test]" {
                    stray.push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        stray.is_empty(),
        "#[test] never runs under this runner; register the function with \
         crate::tests![...] in its module instead: {stray:?}"
    );
}
