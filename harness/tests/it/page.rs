//! results.html as a class sees it: a real headless Chromium opens the page of
//! a fresh quick run, and of the full reference run kept in results/, at 1280
//! and 420 pixels wide. It must open with the contents and the cards, never
//! scroll sideways at 420 px, resolve every in-page link, give every claim
//! its anchor, load nothing from outside, and its slide view must move with
//! the arrow keys and show the run's own figures. Set VMLAB_PAGE_SHOTS to a
//! folder to keep the screenshots.

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::model::RunRecord;
use harness::units::human_bytes;
use serde_json::{json, Value};

use crate::cdp::{self, Browser, Page};
use crate::util::HarnessRun;

crate::tests![
    a_quick_run_s_page_has_cards_anchors_and_slides_that_move,
    the_reference_run_s_page_fits_a_phone_and_every_link_resolves,
];

/// Chromium, or a visible skip (CI installs it, so there it must be found).
fn browser() -> Browser {
    match cdp::chromium() {
        Some(path) => Browser::launch(&path),
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must install chromium (.ci/run) for this test"
            );
            crate::trials::skip("chromium is not installed; results.html was not opened");
        }
    }
}

/// Opens `page` at `width` pixels wide and waits until it has loaded.
fn open(tab: &mut Page, page: &Path, width: u32) {
    tab.set_viewport(width, 900);
    tab.navigate(&format!("file://{}", page.display()));
    tab.wait_for(
        "document.readyState === 'complete' && !!document.getElementById('contents')",
        Duration::from_secs(60),
    );
}

fn shot(tab: &mut Page, name: &str) {
    if let Some(dir) = std::env::var_os("VMLAB_PAGE_SHOTS") {
        tab.screenshot(&PathBuf::from(dir).join(name));
    }
}

/// What every page must satisfy, at both widths; `run` is the record it shows.
fn check_page(tab: &mut Page, page: &Path, run: &RunRecord, name: &str) {
    let html = std::fs::read_to_string(page).expect("results.html");
    for outside in ["<script src", "<link", " src=", "url(", "@import"] {
        assert!(!html.contains(outside), "{name}: refers outside: {outside}");
    }
    for width in [1280u32, 420] {
        open(tab, page, width);
        shot(tab, &format!("{name}-{width}.png"));
        if std::env::var_os("VMLAB_PAGE_SHOTS").is_some() {
            for (section, id) in [("cards", "experiments"), ("detail", "fork-cow")] {
                tab.eval(&format!(
                    "(() => {{ const e = document.getElementById({id:?}); if (e) e.scrollIntoView(); return 0; }})()"
                ));
                shot(tab, &format!("{name}-{width}-{section}.png"));
            }
            tab.eval("scrollTo(0, 0)");
        }
        // Opens with the tally, the contents and the cards, in that order.
        let order = tab.eval(
            "['.tally', '#contents', '#experiments', '#slide-view', '#details', '#every-claim', '#machine']\
             .map(s => document.querySelector(s)).map(e => e ? e.getBoundingClientRect().top + scrollY : -1)",
        );
        let tops: Vec<f64> = order
            .as_array()
            .expect("an array")
            .iter()
            .map(|v| v.as_f64().unwrap_or(-1.0))
            .collect();
        assert!(
            tops.iter().all(|t| *t >= 0.0),
            "{name}: a section is missing: {tops:?}"
        );
        assert!(
            tops.windows(2).all(|w| w[0] < w[1]),
            "{name} at {width}: sections out of order: {tops:?}"
        );
        let scroll = tab.eval("[document.scrollingElement.scrollWidth, innerWidth]");
        eprintln!(
            "  {name} at {width} px: {} px wide, {} px tall, {} bytes",
            scroll[0],
            tab.eval("document.scrollingElement.scrollHeight"),
            html.len()
        );
        assert!(
            scroll[0].as_f64() <= scroll[1].as_f64(),
            "{name} at {width} px scrolls sideways: {scroll}; widest: {}",
            tab.eval(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)\
                 .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
            )
        );
    }
    // A claim's link from its card opens the fold its row is in.
    if let Some(c) = run
        .experiments
        .iter()
        .flat_map(|e| e.claims.first().map(|c| (e, c)))
        .next()
    {
        let id = match &c.1.variant {
            Some(v) => format!("claim--{}--{v}--{}", c.0.name, c.1.id),
            None => format!("claim--{}--{}", c.0.name, c.1.id),
        };
        tab.eval(&format!(
            "document.querySelector('a[href=\"#{id}\"]').click()"
        ));
        tab.wait_for(
            &format!("document.getElementById({id:?}).getClientRects().length > 0"),
            Duration::from_secs(10),
        );
    }
    // On paper: no contents or slide controls, every fold open.
    tab.call("Emulation.setEmulatedMedia", json!({"media": "print"}));
    let printed = tab.eval(
        "(() => { window.dispatchEvent(new Event('beforeprint')); \
         return [getComputedStyle(document.getElementById('contents')).display, \
         getComputedStyle(document.getElementById('slide-view')).display, \
         [...document.querySelectorAll('details')].every(d => d.open)]; })()",
    );
    assert_eq!(printed, json!(["none", "none", true]), "{name}: print view");
    tab.call("Emulation.setEmulatedMedia", json!({"media": ""}));
    // Every in-page link resolves; every id is unique.
    let broken = tab.eval(
        "[...document.querySelectorAll('a[href^=\"#\"]')].map(a => a.getAttribute('href').slice(1))\
         .filter(id => !document.getElementById(decodeURIComponent(id)))",
    );
    assert_eq!(broken, json!([]), "{name}: links to nowhere");
    let duplicates = tab.eval(
        "(() => { const seen = new Set(), twice = []; for (const e of document.querySelectorAll('[id]')) \
         { if (seen.has(e.id)) twice.push(e.id); seen.add(e.id); } return twice; })()",
    );
    assert_eq!(duplicates, json!([]), "{name}: ids used twice");
    // An anchor for every experiment, variant and claim, each linked from a card.
    for e in &run.experiments {
        let mut ids = vec![e.name.clone(), format!("card--{}", e.name)];
        ids.extend(e.variants.iter().map(|v| format!("{}--{}", e.name, v.name)));
        ids.extend(e.claims.iter().map(|c| match &c.variant {
            Some(v) => format!("claim--{}--{v}--{}", e.name, c.id),
            None => format!("claim--{}--{}", e.name, c.id),
        }));
        for id in ids {
            let found = tab.eval(&format!(
                "!!document.getElementById({id:?}) && !!document.querySelector('a[href=\"#{id}\"]')"
            ));
            assert_eq!(
                found,
                json!(true),
                "{name}: no anchor, or no link to it: #{id}"
            );
        }
    }
    assert!(
        tab.console_errors.is_empty(),
        "{name}: the page logged errors: {:#?}",
        tab.console_errors
    );
}

/// Chooses `variant` (`experiment--variant`) in the slide view and opens it.
fn start_slides(tab: &mut Page, variant: &str) {
    tab.eval(&format!(
        "(() => {{ const s = document.getElementById('slide-variant'); s.value = {variant:?}; \
         document.getElementById('slide-start').scrollIntoView({{block: 'center'}}); return s.value; }})()"
    ));
    tab.click("#slide-start");
    tab.wait_for(
        "!document.getElementById('slideshow').hidden",
        Duration::from_secs(10),
    );
}

/// The visible slide: its heading and its table as rows of cell texts.
fn visible_slide(tab: &mut Page) -> Value {
    tab.eval(
        "(() => { const s = [...document.querySelectorAll('.slide')].filter(s => !s.hidden); \
         if (s.length !== 1) return {count: s.length}; \
         return {count: 1, at: document.getElementById('slideshow').dataset.at, \
         label: s[0].querySelector('h2').textContent, \
         rows: [...s[0].querySelectorAll('tr')].map(r => [...r.cells].map(c => c.textContent))}; })()",
    )
}

fn a_quick_run_s_page_has_cards_anchors_and_slides_that_move() {
    let run = HarnessRun::new(&["run", "fork-cow/thp-off", "--quick"]);
    run.assert_code(0);
    let text = std::fs::read_to_string(run.run_dir().join("results.json")).expect("results.json");
    let record = harness::store::json::parse(&text).expect("results.json parses");
    let page = run.run_dir().join("results.html");
    let browser = browser();
    let mut tab = browser.page();
    check_page(&mut tab, &page, &record, "fork-cow");

    let variant = &record.experiments[0].variants[0];
    let labels: Vec<&str> = variant
        .checkpoints
        .iter()
        .map(|c| c.label.as_str())
        .collect();
    assert!(labels.len() >= 3, "{labels:?}");
    for width in [1280u32, 420] {
        open(&mut tab, &page, width);
        start_slides(&mut tab, "fork-cow--thp-off");
        let mut at = 0;
        for (key, code, step) in [
            ("ArrowRight", 39, 1),
            ("ArrowRight", 39, 1),
            ("ArrowLeft", 37, -1),
            ("ArrowRight", 39, 1),
        ] {
            let slide = visible_slide(&mut tab);
            assert_eq!(slide["count"], json!(1), "one slide at a time: {slide}");
            assert_eq!(slide["label"], json!(labels[at]), "{slide}");
            if width == 420 {
                let scroll = tab.eval("[document.scrollingElement.scrollWidth, innerWidth]");
                assert!(
                    scroll[0].as_f64() <= scroll[1].as_f64(),
                    "slide scrolls sideways: {scroll}"
                );
            }
            // The region's figures are the run's own: each process's Rss and Pss after the step.
            let rows = slide["rows"].as_array().expect("rows").clone();
            for p in &variant.checkpoints[at].processes {
                let Some(region) = p.region("data") else {
                    continue;
                };
                for (figure, bytes) in [
                    ("Rss", region.figures.rss_bytes),
                    ("Pss", region.figures.pss_bytes),
                ] {
                    let row = rows
                        .iter()
                        .find(|r| r[0] == json!(p.who()) && r[1] == json!(figure))
                        .unwrap_or_else(|| panic!("no {} {figure} row: {slide}", p.who()));
                    assert_eq!(row[3], json!(human_bytes(bytes)), "{slide}");
                }
            }
            shot(&mut tab, &format!("slide-{width}-{at}.png"));
            tab.press(key, code);
            at = (at as i64 + step) as usize;
        }
        assert_eq!(visible_slide(&mut tab)["label"], json!(labels[at]));
        tab.press("Escape", 27);
        tab.wait_for(
            "document.getElementById('slideshow').hidden",
            Duration::from_secs(10),
        );
    }
    assert!(tab.console_errors.is_empty(), "{:#?}", tab.console_errors);
}

/// The full run kept in results/ (every experiment at full size): the
/// longest page the harness makes.
fn reference_run() -> Option<PathBuf> {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let mut found: Vec<PathBuf> = std::fs::read_dir(results)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("reference-"))
                && p.join("results.json").is_file()
        })
        .collect();
    found.sort();
    found.pop().map(|p| p.join("results.json"))
}

fn the_reference_run_s_page_fits_a_phone_and_every_link_resolves() {
    let Some(json) = reference_run() else {
        crate::trials::skip("no results/reference-*/results.json to render");
    };
    let text = std::fs::read_to_string(&json).expect("the reference run");
    let record = harness::store::json::parse(&text).expect("the reference run parses");
    let dir = tempfile::tempdir().expect("temp dir");
    for file in harness::report::run_files(&record) {
        let path = dir.path().join(&file.name);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(&path, &file.contents).expect("write");
    }
    let page = dir.path().join("results.html");
    let browser = browser();
    let mut tab = browser.page();
    check_page(&mut tab, &page, &record, "reference");
    // tiny-malloc's builds side by side, mapping kind by mapping kind.
    let svg = std::fs::read_to_string(dir.path().join("plots/tiny-malloc-kinds.svg"))
        .expect("tiny-malloc-kinds.svg");
    let doc = roxmltree::Document::parse(&svg).expect("valid SVG");
    let texts: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    let tiny = record
        .experiments
        .iter()
        .find(|e| e.name == "tiny-malloc")
        .expect("tiny-malloc in the reference run");
    for want in ["text", "data", "heap", "stack", "libraries"]
        .into_iter()
        .chain(tiny.variants.iter().map(|v| v.name.as_str()))
    {
        assert!(
            texts.contains(&want),
            "no {want:?} in tiny-malloc-kinds.svg: {texts:?}"
        );
    }
    // The charts, each alone, for a look.
    if std::env::var_os("VMLAB_PAGE_SHOTS").is_some() {
        for svg in [
            "fork-cow-thp-off-region-data.svg",
            "fork-cow-zygote-region-data.svg",
            "tiny-malloc-kinds.svg",
            "mmap-file-cold-rss-over-time.svg",
            "fork-cow-thp-off-memory.svg",
            "lazy-alloc-thp-off-faults.svg",
            "lazy-alloc-thp-off-region-anon.svg",
            "static-dynamic-static-prefork-memory.svg",
        ] {
            let path = dir.path().join("plots").join(svg);
            if path.is_file() {
                tab.set_viewport(1000, 900);
                tab.navigate(&format!("file://{}", path.display()));
                std::thread::sleep(Duration::from_millis(500));
                shot(&mut tab, &svg.replace(".svg", ".png"));
            }
        }
    }
}
