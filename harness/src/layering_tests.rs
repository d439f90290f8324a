//! The crate's imports point one way: read every module of `src/`, take the
//! `crate::` paths of its code (comments and `#[cfg(test)]` modules left out:
//! tests may reach anywhere), and fail on a cycle or on an import that points
//! up the declared layers, naming each offending import by file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first (the order of the crate docs). A module may import
/// from its own layer and the layers below it, never from a layer above.
const LAYERS: &[&[&str]] = &[
    &["error", "units", "system", "verbosity", "provenance"],
    &["model"],
    &["probe"],
    &["runner"],
    &["store", "scratch"],
    &["elf"],
    &["experiment"],
    &["explain", "selection"],
    &["compare"],
    &["outcome", "statements"],
    &["report"],
    &["cli", "progress", "step"],
    &["options"],
    &["session"],
    &[
        "app", "matrix", "trace", "answers", "generate", "lecture", "show",
    ],
];

/// One `crate::` import: which module, where.
#[derive(Debug, Clone)]
struct Import {
    to: String,
    at: String,
}

/// Every module's imports of other top-level modules.
type Graph = BTreeMap<String, Vec<Import>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The lines of `text` that are code outside test modules, with their numbers.
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed == "#[cfg(test)]" {
            let opens_module = lines.peek().is_some_and(|(_, next)| {
                let next = next.trim_start();
                (next.starts_with("mod ") || next.starts_with("pub(crate) mod "))
                    && next.ends_with('{')
            });
            if opens_module {
                // Skip to the brace that closes the module.
                let mut depth = 0i64;
                for (_, skipped) in lines.by_ref() {
                    depth += skipped.matches('{').count() as i64;
                    depth -= skipped.matches('}').count() as i64;
                    if depth <= 0 && skipped.contains('}') {
                        break;
                    }
                }
            }
            continue;
        }
        let code = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        out.push((i + 1, code));
    }
    out
}

/// The leading identifier of `text` (`report` of `report::table::Table`).
fn head(text: &str) -> Option<&str> {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| &text[..end])
}

/// The top-level modules `code` names through `crate::`, with the line of
/// each; a `crate::{a, b::c}` group may span lines.
fn imports_of(code: &[(usize, &str)]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let joined: Vec<(usize, char)> = code
        .iter()
        .flat_map(|(n, line)| {
            line.chars()
                .chain(std::iter::once('\n'))
                .map(move |c| (*n, c))
        })
        .collect();
    let text: String = joined.iter().map(|(_, c)| c).collect();
    let line_at = |byte: usize| {
        let chars = text[..byte].chars().count();
        joined.get(chars).map_or(0, |(n, _)| *n)
    };
    for (at, _) in text.match_indices("crate::") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `mycrate::`, not this crate
        }
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group's top level at commas.
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        if let Some(m) = head(&group[start..i]) {
                            out.push((m.to_string(), line_at(at)));
                        }
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if let Some(m) = head(&group[start..i]) {
                            out.push((m.to_string(), line_at(at)));
                        }
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else if let Some(m) = head(rest) {
            out.push((m.to_string(), line_at(at)));
        }
    }
    out
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph = Graph::new();
    for path in files {
        let rel = path.strip_prefix(&src).expect("under src/");
        let rel_text = rel.display().to_string();
        let first = rel.iter().next().expect("a file name").to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" || rel_text.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a readable source file");
        let imports = graph.entry(module.clone()).or_default();
        for (to, line) in imports_of(&code_lines(&text)) {
            if to != module && to != "self" {
                imports.push(Import {
                    to,
                    at: format!("{rel_text}:{line}"),
                });
            }
        }
    }
    graph
}

/// The modules of every cycle (strongly connected components of more than one).
fn cycles(graph: &Graph) -> Vec<BTreeSet<String>> {
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(m) = stack.pop() {
            for i in graph.get(&m).into_iter().flatten() {
                if seen.insert(i.to.clone()) {
                    stack.push(i.to.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reaches(m))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for m in graph.keys() {
        let component: BTreeSet<String> = graph
            .keys()
            .filter(|o| *o == m || (reach[m].contains(*o) && reach[*o].contains(m)))
            .cloned()
            .collect();
        if component.len() > 1 && !out.contains(&component) {
            out.push(component);
        }
    }
    out
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    assert!(graph.contains_key("model") && graph.contains_key("session"));
    let mut report = String::new();
    for component in cycles(&graph) {
        report.push_str(&format!("cycle among {component:?}:\n"));
        for from in &component {
            for i in &graph[from] {
                if component.contains(&i.to) {
                    report.push_str(&format!("  {from} -> {} at {}\n", i.to, i.at));
                }
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

#[test]
fn every_import_points_down_the_declared_layers() {
    let rank = |m: &str| LAYERS.iter().position(|layer| layer.contains(&m));
    let graph = graph();
    let mut report = String::new();
    for (from, imports) in &graph {
        let Some(own) = rank(from) else {
            report.push_str(&format!("{from} is in no layer of LAYERS\n"));
            continue;
        };
        for i in imports {
            if rank(&i.to).is_some_and(|to| to > own) {
                report.push_str(&format!("{from} -> {} points up, at {}\n", i.to, i.at));
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

#[test]
fn imports_are_read_from_code_paths_and_groups_not_comments_or_tests() {
    let text = "use crate::model::X;\n// crate::report\nuse crate::{\n    store::json,\n    units,\n};\nfn f() { mycrate::x(); }\n#[cfg(test)]\nmod tests {\n    use crate::app;\n}\nlet y = crate::outcome::Outcome::Pass; // crate::trace\n";
    let found: Vec<(String, usize)> = imports_of(&code_lines(text));
    let names: Vec<&str> = found.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(names, ["model", "store", "units", "outcome"]);
    assert_eq!(found[1].1, 3, "a group is placed at its first line");
    assert_eq!(found[3].1, 12);
}
