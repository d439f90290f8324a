//! Every line the commands print fits an 80-column terminal (COLUMNS=80), and
//! the summary cuts no claim's figure: prose wraps, only table cells are cut.
// See: issue 23

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use crate::util::{harness_bin, shared_run_with_env, HarnessRun};

/// Lines of `output` (stdout and stderr) wider than `width` characters.
fn wide_lines(output: &Output, width: usize) -> Vec<String> {
    [&output.stdout, &output.stderr]
        .into_iter()
        .flat_map(|bytes| {
            String::from_utf8_lossy(bytes)
                .lines()
                .filter(|l| l.chars().count() > width)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Runs the harness with COLUMNS=80 and stdin closed.
fn at_80(args: &[&str]) -> Output {
    Command::new(harness_bin())
        .args(args)
        .env("COLUMNS", "80")
        .stdin(Stdio::null())
        .output()
        .expect("run the harness")
}

fn assert_fits(what: &str, output: &Output) {
    let wide = wide_lines(output, 80);
    assert!(
        wide.is_empty(),
        "{what}: {} lines wider than 80:\n{}\n--- stdout\n{}\n--- stderr\n{}",
        wide.len(),
        wide.join("\n"),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Text with its line breaks and indents made single spaces: a figure
/// wrapped over two lines reads whole again.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The quick run of every experiment as printed on an 80-column terminal,
/// shared with the repeatability test, which reads its results folder as one of
/// its runs: no test writes into that folder.
pub fn all_quick_at_80() -> Arc<HarnessRun> {
    shared_run_with_env(&["all", "--quick"], &[("COLUMNS", Path::new("80"))])
}

fn all_show_list_watch_and_trace_fit_80_columns_and_cut_no_claim_figure() {
    let run = all_quick_at_80();
    run.assert_code(0);
    assert_fits("all --quick", &run.output);
    let out = run.out.path().display().to_string();
    let shown = at_80(&["show", "--out", &out]);
    assert!(shown.status.success(), "{shown:?}");
    assert_fits("show", &shown);
    // The summary reprinted is the one the run printed.
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout),
        String::from_utf8_lossy(&run.output.stdout)
    );
    let text = flat(&String::from_utf8_lossy(&shown.stdout));
    let record = harness::store::json::parse(
        &std::fs::read_to_string(run.run_dir().join("results.json")).expect("results.json"),
    )
    .expect("a run record");
    let mut claims = 0;
    for e in &record.experiments {
        for c in &e.claims {
            claims += 1;
            let figure = flat(harness::report::summary::measured(c));
            assert!(
                text.contains(&figure),
                "{}/{}: the figure {figure:?} is not whole in the summary",
                e.name,
                c.id
            );
            assert!(text.contains(&flat(&c.statement)), "{}: no sentence", c.id);
        }
    }
    assert!(claims > 50, "only {claims} claims");

    let detail = at_80(&["show", "-v", "--out", &out]);
    assert!(detail.status.success(), "{detail:?}");
    assert_fits("show -v", &detail);
    assert!(flat(&String::from_utf8_lossy(&detail.stdout)).contains("criterion: "));

    assert_fits("list", &at_80(&["list"]));

    let mut sleeper = Command::new("sleep").arg("30").spawn().expect("sleep");
    let watched = at_80(&["watch", "--once", &sleeper.id().to_string()]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(watched.status.success(), "{watched:?}");
    assert_fits("watch --once", &watched);

    // The traces get a results folder of their own: the run's is shared.
    let trace_out = tempfile::tempdir().expect("temp dir");
    let traces = trace_out.path().display().to_string();
    let traced = at_80(&["trace", "--out", &traces, "--", "/bin/true"]);
    assert_fits("trace -- /bin/true", &traced);

    // A wait's line on stderr names the checkpoint (from the program's last
    // line, up to 48 characters) and why each process waits: with a long label
    // it is wrapped, not cut.
    let script = "echo the class waits here until the teacher presses enter; read x";
    let waited = at_80(&["trace", "--out", &traces, "--", "sh", "-c", script]);
    assert!(waited.status.success(), "{waited:?}");
    assert_fits("trace of a program that reads its input", &waited);
    let said = flat(&String::from_utf8_lossy(&waited.stderr));
    assert!(
        said.contains("checkpoint the-class-waits-here-until-the-teacher-presses: main (pid")
            && said.contains("reads its standard input"),
        "{said}"
    );
}

fn the_header_names_the_sizes_that_ran() {
    let run = HarnessRun::new(&["run", "lazy-alloc", "--size", "8MiB"]);
    run.assert_code(0);
    let out = String::from_utf8_lossy(&run.output.stdout);
    let head = out.lines().next().unwrap_or_default();
    assert!(
        head.contains("--size 8.0 MiB"),
        "{head}\n{}",
        run.describe()
    );
    assert!(!out.contains("full sizes"), "{}", run.describe());
}

fn show_of_a_run_that_does_not_exist_is_one_line_and_exit_2() {
    let out = tempfile::tempdir().unwrap();
    let output = at_80(&[
        "show",
        "no-such-run",
        "--out",
        &out.path().display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no run 'no-such-run'"), "{err}");
}

crate::tests![
    all_show_list_watch_and_trace_fit_80_columns_and_cut_no_claim_figure,
    the_header_names_the_sizes_that_ran,
    show_of_a_run_that_does_not_exist_is_one_line_and_exit_2,
];
