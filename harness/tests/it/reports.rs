//! What a class sees: the summary on an 80-column terminal, variant selection,
//! `explain --answers`, and results.html opened in a real browser.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{harness_bin, HarnessRun};

/// Every line of `text`, with its width in characters.
fn too_wide(text: &str, width: usize) -> Vec<String> {
    text.lines()
        .filter(|l| l.chars().count() > width)
        .map(String::from)
        .collect()
}

fn the_summary_fits_80_columns_and_ends_with_the_tally() {
    let run = HarnessRun::with_env(
        &["run", "mmap-file", "fork-cow/thp-off", "--quick"],
        &[("COLUMNS", Path::new("80"))],
    );
    run.assert_code(0);
    let stdout = String::from_utf8_lossy(&run.output.stdout);
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    for text in [&stdout, &stderr] {
        let wide = too_wide(text, 80);
        assert!(
            wide.is_empty(),
            "lines over 80: {wide:#?}\n{}",
            run.describe()
        );
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.run_dir().join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    let claims: usize = json["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["claims"].as_array().unwrap().len())
        .sum();
    // One line per claim, a heading per experiment, the machine, the
    // statements' block, and the tally (statements first, wrapped).
    let tally = stdout
        .rsplit("\n\n")
        .next()
        .unwrap_or_default()
        .replace('\n', " ");
    assert!(
        tally.contains(" statements of the writings: ")
            && tally.contains(&format!("; {claims} claims: ")),
        "the last paragraph is not the tally of statements and {claims} claims: {tally:?}\n{}",
        run.describe()
    );
    // Each claim's sentence and figure are there whole, wrapped rather than
    // cut (the line-per-claim summary of old cut both). See: issue 23
    let flat = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for e in json["experiments"].as_array().unwrap() {
        for c in e["claims"].as_array().unwrap() {
            let figure = c["measured"]
                .as_str()
                .filter(|m| !m.is_empty())
                .or(c["evidence"].as_str())
                .unwrap_or_default();
            let figure = figure.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                flat.contains(&figure),
                "{} is not whole in:\n{stdout}",
                c["id"]
            );
        }
    }
    assert!(
        !stdout.contains("what each step changed"),
        "tables without --detail"
    );
    let report = std::fs::read_to_string(run.run_dir().join("results.md")).expect("results.md");
    let head: Vec<&str> = report.lines().take(12).collect();
    assert!(
        head.iter()
            .any(|l| l.contains(&format!("{claims} claims: "))
                && l.contains(" statements of the writings: ")),
        "results.md does not open with the tally: {head:#?}"
    );
    assert!(
        report.contains("](#mmap-file)") && report.contains("\n## mmap-file"),
        "the claim table does not link to the sections"
    );
}

fn detail_fits_the_width_too() {
    let run = HarnessRun::with_env(
        &["run", "fork-cow/thp-off,file-private", "--quick", "-v"],
        &[("COLUMNS", Path::new("80"))],
    );
    run.assert_code(0);
    let stdout = String::from_utf8_lossy(&run.output.stdout);
    let wide = too_wide(&stdout, 80);
    assert!(wide.is_empty(), "lines over 80: {wide:#?}");
    assert!(
        stdout.contains("what each step changed"),
        "{}",
        run.describe()
    );
    assert!(
        stdout.contains("-- variant file-private"),
        "{}",
        run.describe()
    );
}

fn a_variant_can_be_chosen_and_an_unknown_one_is_a_usage_error() {
    let run = HarnessRun::new(&["run", "fork-cow/thp-off", "--quick", "--format", "json"]);
    run.assert_code(0);
    let json = run.json();
    let e = &json["experiments"][0];
    let variants: Vec<&str> = e["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["thp-off"], "{}", run.describe());
    for c in e["claims"].as_array().unwrap() {
        assert!(
            c["variant"].is_null() || c["variant"] == "thp-off",
            "a claim about a variant that did not run: {c}"
        );
    }

    let bad = HarnessRun::new(&["run", "fork-cow/thp-of", "--quick"]);
    bad.assert_code(2);
    let stderr = String::from_utf8_lossy(&bad.output.stderr);
    assert!(
        stderr.contains("no variant 'thp-of'") && stderr.contains("thp-off"),
        "{}",
        bad.describe()
    );
    assert!(
        std::fs::read_dir(bad.out.path()).map_or(true, |mut d| d.next().is_none()),
        "a usage error left a run folder"
    );
}

fn answers_quote_the_latest_run() {
    let run = HarnessRun::new(&["run", "mmap-file/warm", "--quick"]);
    run.assert_code(0);
    let output = Command::new(harness_bin())
        .args(["explain", "mmap-file", "--answers", "--results"])
        .arg(run.out.path())
        .output()
        .expect("run explain");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Figures from the latest run"), "{text}");
    assert!(text.contains("In the latest run: VmSize +"), "{text}");
    assert!(!text.contains("No answer is written"), "{text}");
}

fn list_names_sources_by_title_and_author() {
    let output = Command::new(harness_bin())
        .arg("list")
        .env("COLUMNS", "80")
        .output()
        .expect("run list");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("\"Playing with Virtual Memory\", Kristina Chodorow"),
        "{text}"
    );
    assert!(!text.contains(".txt"), "file names in list: {text}");
    assert!(too_wide(&text, 80).is_empty(), "{text}");
}

/// Debian's browser, if installed.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// Runs headless chromium on `page` with the given extra arguments.
fn headless(browser: &Path, profile: &Path, extra: &[String], page: &Path) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        // Its settings cache (dconf) goes with the profile, not to ~/.cache.
        .env("XDG_CACHE_HOME", profile)
        .output()
        .expect("run chromium")
}

fn results_html_is_self_contained_and_renders_in_a_browser() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must install chromium (.ci/run) for this test"
        );
        crate::trials::skip("chromium is not installed; results.html was not rendered");
    };
    let run = HarnessRun::new(&["run", "fork-cow/thp-off", "--quick"]);
    run.assert_code(0);
    let page = run.run_dir().join("results.html");
    let html = std::fs::read_to_string(&page).expect("results.html");
    for outside in ["<script src", "<link", " src=", "url(", "@import"] {
        assert!(
            !html.contains(outside),
            "results.html refers outside: {outside}"
        );
    }
    assert!(html.contains("<svg"), "no inline chart");

    let profile = tempfile::tempdir().expect("profile dir");
    let dom = headless(&browser, profile.path(), &["--dump-dom".into()], &page);
    let text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(
        text.contains("class=\"tally\""),
        "the page did not load: {text:.500}"
    );
    let log = String::from_utf8_lossy(&dom.stderr);
    let page_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("net::ERR") || l.contains("Failed to load"))
        .collect();
    assert!(
        page_errors.is_empty(),
        "the page logged errors: {page_errors:#?}"
    );

    let shot = run.out.path().join("results.png");
    let (width, height) = (1280u32, 1600u32);
    let output = headless(
        &browser,
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={width},{height}"),
        ],
        &page,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decoder = png::Decoder::new(std::fs::File::open(&shot).expect("screenshot"));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("PNG pixels");
    assert_eq!(
        (info.width, info.height),
        (width, height),
        "screenshot size"
    );
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let dark = pixels
        .chunks(channels)
        .filter(|px| px.iter().take(3).map(|c| *c as u32).sum::<u32>() < 3 * 128)
        .count();
    let total = (width * height) as usize;
    // Text and table rules on white: some dark pixels, far from all of them.
    assert!(
        dark > total / 200 && dark < total / 2,
        "the screenshot looks blank or black: {dark} dark pixels of {total}"
    );
    if let Ok(keep) = std::env::var("VMLAB_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("keep the screenshot");
    }
}

crate::tests![
    the_summary_fits_80_columns_and_ends_with_the_tally,
    detail_fits_the_width_too,
    a_variant_can_be_chosen_and_an_unknown_one_is_a_usage_error,
    answers_quote_the_latest_run,
    list_names_sources_by_title_and_author,
    results_html_is_self_contained_and_renders_in_a_browser,
];
