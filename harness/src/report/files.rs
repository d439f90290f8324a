//! The run folder's report files, one exporter per format: results.json,
//! results.md, results.html, the CSV tables and the SVG charts. The charts are
//! rendered once and shared by the files that show them; [`crate::store`] then
//! writes the set atomically.

use std::path::{Path, PathBuf};

use super::{csv, html, markdown, plot};
use crate::model::RunRecord;
use crate::store::{self, RunFile};

/// The name of the run record in a run folder.
const RECORD: &str = "results.json";

/// The run record alone: what is kept after every experiment, so that a later
/// failure, Ctrl-C or kill loses no measurement (every other file is rendered
/// from it).
pub fn run_record(run: &RunRecord) -> RunFile {
    RunFile {
        name: PathBuf::from(RECORD),
        contents: crate::statements::json(run),
    }
}

/// Every file of a run folder's set, with its contents: rendered once, when
/// the run ends.
pub fn run_files(run: &RunRecord) -> Vec<RunFile> {
    let charts = plot::Charts::of(run);
    let mut files: Vec<RunFile> = [
        (RECORD, crate::statements::json(run)),
        ("results.md", markdown::render(run, &charts)),
        ("results.html", html::render(run, &charts)),
        ("checkpoints.csv", csv::checkpoints(run)),
        ("regions.csv", csv::regions(run)),
        ("mappings.csv", csv::mappings(run)),
        ("claims.csv", csv::claims(run)),
    ]
    .into_iter()
    .map(|(name, contents)| RunFile {
        name: PathBuf::from(name),
        contents,
    })
    .collect();
    let plots = Path::new(store::PLOTS_DIR);
    files.extend(charts.iter().map(|chart| RunFile {
        name: plots.join(&chart.file_name),
        contents: chart.svg.clone(),
    }));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_linked_from_the_markdown_is_in_the_set_once() {
        let run = crate::store::json::parse(include_str!(
            "../../tests/fixtures/runs/mmap-file-quick.json"
        ))
        .expect("the fixture parses");
        let files = run_files(&run);
        let markdown = &files
            .iter()
            .find(|f| f.name == Path::new("results.md"))
            .expect("results.md")
            .contents;
        let svgs: Vec<&RunFile> = files
            .iter()
            .filter(|f| f.name.extension().is_some_and(|x| x == "svg"))
            .collect();
        assert!(!svgs.is_empty(), "the fixture has checkpoints to chart");
        for svg in &svgs {
            let link = format!("]({})", svg.name.display());
            assert_eq!(markdown.matches(&link).count(), 1, "{link}");
        }
        let mut names: Vec<&PathBuf> = files.iter().map(|f| &f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), files.len(), "no file twice");
    }
}
