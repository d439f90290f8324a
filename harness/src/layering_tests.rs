//! The crate's imports point one way. Every file of `src/` is parsed (with
//! `syn`, so spacing, groups and line breaks do not matter), every path that
//! names this crate is resolved to the file it reaches (`crate::`, `super::`,
//! `self::`, an alias of the crate root such as `crate::{self as x}`, and the
//! names a module re-exports, lib.rs's included), and the test fails on an
//! import that points up the declared layers or on a cycle: between top-level
//! modules, or between the files inside one. Items under `#[cfg(test)]` are
//! left out: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

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

/// A module path from the crate root (`["report", "table"]`); the root is empty.
type ModPath = Vec<String>;

/// One source file: the module it is, where it is, and what it says.
struct Source {
    module: ModPath,
    file: String,
    text: String,
}

/// One resolved reference from a file to a module path, with its line.
#[derive(Debug, Clone)]
struct Reference {
    to: ModPath,
    line: usize,
}

/// One import between two files: which file module it reaches, from where.
#[derive(Debug, Clone)]
struct Import {
    to: ModPath,
    at: String,
}

/// The files of `src/` the crate's library is made of (its tests and the
/// binary's main.rs left out).
fn crate_sources() -> Vec<Source> {
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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(&src).expect("under src/");
            let rel = rel.to_string_lossy().to_string();
            let text = std::fs::read_to_string(path).expect("a readable source file");
            source(&rel, text)
        })
        .collect()
}

/// `rel` (a path under `src/`) as a module, or `None` for what is not part of
/// the library's module tree: main.rs and test files.
fn source(rel: &str, text: String) -> Option<Source> {
    if rel == "main.rs" || rel.ends_with("tests.rs") {
        return None;
    }
    let mut module: ModPath = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if module.last().is_some_and(|m| m == "mod" || m == "lib") {
        module.pop();
    }
    Some(Source {
        module,
        file: rel.to_string(),
        text,
    })
}

/// Whether `attrs` hold `#[cfg(test)]` (or a `cfg` naming `test` otherwise).
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta.require_list().is_ok_and(|list| {
                let words = list.tokens.to_string();
                let mut words = words.split(|c: char| !(c.is_alphanumeric() || c == '_'));
                let words: Vec<&str> = words.by_ref().filter(|w| !w.is_empty()).collect();
                words.contains(&"test") && !words.contains(&"not")
            })
    })
}

/// The attributes of an item, whatever its kind.
fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

/// The line a span starts on.
fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

/// Resolves a path's leading `crate`, `super`, `self` or crate-root alias
/// from inside `module`; `None` for a path that does not start from this
/// crate by one of those (a local name, another crate, a prelude item).
fn resolve(
    module: &[String],
    segments: &[String],
    root_aliases: &BTreeSet<String>,
) -> Option<ModPath> {
    let first = segments.first()?;
    match first.as_str() {
        "crate" => Some(segments[1..].to_vec()),
        "self" => {
            let mut out = module.to_vec();
            let rest = &segments[1..];
            if rest.first().is_some_and(|s| s == "super") {
                return resolve(module, rest, root_aliases);
            }
            out.extend_from_slice(rest);
            Some(out)
        }
        "super" => {
            let ups = segments.iter().take_while(|s| *s == "super").count();
            let base = module.len().checked_sub(ups)?;
            let mut out = module[..base].to_vec();
            out.extend_from_slice(&segments[ups..]);
            Some(out)
        }
        alias if root_aliases.contains(alias) => Some(segments[1..].to_vec()),
        _ => None,
    }
}

/// Walks one file: every `use` tree, every path in code, and the paths
/// written inside macro calls, resolved to module paths.
struct Walker<'a> {
    module: ModPath,
    root_aliases: &'a BTreeSet<String>,
    /// Every file module of the crate: a path may start with a child's name.
    modules: &'a BTreeSet<ModPath>,
    found: Vec<Reference>,
    /// The names each module's `use` items bring in: module -> name -> path.
    uses: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
}

impl Walker<'_> {
    /// A path resolved from this module: from the crate root, or from a
    /// child module whose name it starts with (`report::Table` in lib.rs).
    fn resolve(&self, segments: &[String]) -> Option<ModPath> {
        resolve(&self.module, segments, self.root_aliases).or_else(|| {
            let mut child = self.module.clone();
            child.push(segments.first()?.clone());
            self.modules.contains(&child).then(|| {
                let mut out = self.module.clone();
                out.extend_from_slice(segments);
                out
            })
        })
    }

    fn take(&mut self, segments: &[String], line: usize) {
        if let Some(to) = self.resolve(segments) {
            self.found.push(Reference { to, line });
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                self.use_leaf(prefix, &name, &name, line_of(n.ident.span()));
            }
            syn::UseTree::Rename(r) => {
                let (name, alias) = (r.ident.to_string(), r.rename.to_string());
                self.use_leaf(prefix, &name, &alias, line_of(r.ident.span()));
            }
            syn::UseTree::Glob(g) => {
                self.take(prefix, line_of(g.star_token.spans[0]));
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], name: &str, alias: &str, line: usize) {
        let mut segments = prefix.to_vec();
        if name != "self" || segments.is_empty() {
            segments.push(name.to_string());
        }
        let alias = if name == "self" && alias == "self" {
            prefix.last().cloned().unwrap_or_default()
        } else {
            alias.to_string()
        };
        if let Some(to) = self.resolve(&segments) {
            self.uses
                .entry(self.module.clone())
                .or_default()
                .insert(alias, to.clone());
            self.found.push(Reference { to, line });
        }
    }

    /// `crate :: a :: b` and its kin inside a macro's tokens.
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        use proc_macro2::TokenTree;
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            if let TokenTree::Group(g) = &trees[i] {
                self.tokens(g.stream());
                i += 1;
                continue;
            }
            let TokenTree::Ident(first) = &trees[i] else {
                i += 1;
                continue;
            };
            let mut segments = vec![first.to_string()];
            let line = line_of(first.span());
            let mut j = i + 1;
            loop {
                match (trees.get(j), trees.get(j + 1), trees.get(j + 2)) {
                    (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) if a.as_char() == ':' && b.as_char() == ':' => {
                        segments.push(next.to_string());
                        j += 3;
                    }
                    _ => break,
                }
            }
            if segments.len() > 1 {
                self.take(&segments, line);
            }
            i = j.max(i + 1);
        }
    }
}

impl<'ast> Visit<'ast> for Walker<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if is_test_only(item_attrs(item)) {
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.module.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        if item.leading_colon.is_none() {
            self.use_tree(&mut prefix, &item.tree);
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !is_test_only(&item.attrs) {
            syn::visit::visit_impl_item_fn(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            let line = path.segments.first().map_or(0, |s| line_of(s.ident.span()));
            self.take(&segments, line);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.tokens(mac.tokens.clone());
    }
}

/// The names that stand for the crate root in a file: `use crate::{self as
/// x}`, `use crate as x`, `use super as x` from a top-level file.
fn root_aliases(module: &[String], file: &syn::File) -> BTreeSet<String> {
    fn walk(
        module: &[String],
        prefix: &mut Vec<String>,
        tree: &syn::UseTree,
        out: &mut BTreeSet<String>,
    ) {
        let none = BTreeSet::new();
        let is_root =
            |segments: &[String]| resolve(module, segments, &none).is_some_and(|p| p.is_empty());
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                walk(module, prefix, &p.tree, out);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                let mut segments = prefix.clone();
                if r.ident != "self" {
                    segments.push(r.ident.to_string());
                }
                if is_root(&segments) {
                    out.insert(r.rename.to_string());
                }
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    walk(module, prefix, tree, out);
                }
            }
            syn::UseTree::Name(_) | syn::UseTree::Glob(_) => {}
        }
    }
    let mut out = BTreeSet::new();
    for item in &file.items {
        if let syn::Item::Use(u) = item {
            if !is_test_only(&u.attrs) {
                walk(module, &mut Vec::new(), &u.tree, &mut out);
            }
        }
    }
    out
}

/// The imports between the files of `sources`, by file module.
fn file_graph(sources: &[Source]) -> BTreeMap<ModPath, Vec<Import>> {
    let modules: BTreeSet<ModPath> = sources.iter().map(|s| s.module.clone()).collect();
    let mut uses: BTreeMap<ModPath, BTreeMap<String, ModPath>> = BTreeMap::new();
    let mut found: Vec<(ModPath, String, Vec<Reference>)> = Vec::new();
    for source in sources {
        let file = syn::parse_file(&source.text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", source.file));
        let aliases = root_aliases(&source.module, &file);
        let mut walker = Walker {
            module: source.module.clone(),
            root_aliases: &aliases,
            modules: &modules,
            found: Vec::new(),
            uses: BTreeMap::new(),
        };
        walker.visit_file(&file);
        for (module, names) in walker.uses {
            uses.entry(module).or_default().extend(names);
        }
        found.push((source.module.clone(), source.file.clone(), walker.found));
    }
    let mut graph: BTreeMap<ModPath, Vec<Import>> = BTreeMap::new();
    for (from, file, references) in found {
        let imports = graph.entry(from.clone()).or_default();
        for reference in references {
            let to = file_module_of(&reference.to, &modules, &uses);
            if to != from {
                imports.push(Import {
                    to,
                    at: format!("{file}:{}", reference.line),
                });
            }
        }
    }
    graph
}

/// The file module a resolved path reaches: its longest prefix that is a
/// file, following the names modules re-export (`pub use`, lib.rs's too).
fn file_module_of(
    path: &[String],
    modules: &BTreeSet<ModPath>,
    uses: &BTreeMap<ModPath, BTreeMap<String, ModPath>>,
) -> ModPath {
    let mut path = path.to_vec();
    for _ in 0..16 {
        let mut depth = 0;
        while depth < path.len() && modules.contains(&path[..=depth].to_vec()) {
            depth += 1;
        }
        let reexported = path
            .get(depth)
            .and_then(|name| uses.get(&path[..depth].to_vec())?.get(name));
        match reexported {
            Some(target) if target.as_slice() != &path[..=depth] => {
                let mut next = target.clone();
                next.extend_from_slice(&path[depth + 1..]);
                path = next;
            }
            _ => return path[..depth].to_vec(),
        }
    }
    panic!("re-exports of {path:?} go round in a circle");
}

/// The imports between top-level modules (a file's imports count for the
/// top-level module it is part of).
fn module_graph(files: &BTreeMap<ModPath, Vec<Import>>) -> BTreeMap<String, Vec<Import>> {
    let mut graph: BTreeMap<String, Vec<Import>> = BTreeMap::new();
    for (from, imports) in files {
        let Some(top) = from.first() else { continue };
        let own = graph.entry(top.clone()).or_default();
        for i in imports {
            if i.to.first().is_some_and(|to| to != top) {
                own.push(i.clone());
            }
        }
    }
    graph
}

/// The nodes of every cycle (strongly connected components of more than one).
fn cycles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<BTreeSet<N>> {
    let reaches = |from: &N| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for to in edges.get(&m).into_iter().flatten() {
                if seen.insert(to.clone()) {
                    stack.push(to.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&N, BTreeSet<N>> = edges.keys().map(|m| (m, reaches(m))).collect();
    let mut out: Vec<BTreeSet<N>> = Vec::new();
    for m in edges.keys() {
        let component: BTreeSet<N> = edges
            .keys()
            .filter(|o| {
                *o == m || (reach[m].contains(*o) && reach.get(o).is_some_and(|r| r.contains(m)))
            })
            .cloned()
            .collect();
        if component.len() > 1 && !out.contains(&component) {
            out.push(component);
        }
    }
    out
}

/// What is wrong with the layering of `sources`, one line per offence.
fn offences(sources: &[Source]) -> Vec<String> {
    let files = file_graph(sources);
    let modules = module_graph(&files);
    let mut out = Vec::new();
    let rank = |m: &str| LAYERS.iter().position(|layer| layer.contains(&m));
    for (from, imports) in &modules {
        let Some(own) = rank(from) else {
            out.push(format!("{from} is in no layer of LAYERS"));
            continue;
        };
        for i in imports {
            let to = &i.to[0];
            if rank(to).is_some_and(|to| to > own) {
                out.push(format!("{from} -> {to} points up, at {}", i.at));
            }
        }
    }
    let top_edges: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|(m, imports)| (m.clone(), imports.iter().map(|i| i.to[0].clone()).collect()))
        .collect();
    for component in cycles(&top_edges) {
        out.push(format!("cycle among {component:?}"));
        for from in &component {
            for i in &modules[from] {
                if component.contains(&i.to[0]) {
                    out.push(format!("  {from} -> {} at {}", i.to[0], i.at));
                }
            }
        }
    }
    // Inside a module: a mod.rs composes its own parts, so the edges between
    // a file and the files above it are its structure; between the others
    // (siblings, cousins) an import circle is a tangle.
    let is_above = |a: &ModPath, b: &ModPath| b.starts_with(a) || a.starts_with(b);
    let inner: BTreeMap<ModPath, BTreeSet<ModPath>> = files
        .iter()
        .map(|(from, imports)| {
            let to = imports
                .iter()
                .filter(|i| i.to.first() == from.first() && !is_above(from, &i.to))
                .map(|i| i.to.clone())
                .collect();
            (from.clone(), to)
        })
        .collect();
    for component in cycles(&inner) {
        let names: Vec<String> = component.iter().map(|m| m.join("::")).collect();
        out.push(format!("cycle among the files {names:?}"));
        for from in &component {
            for i in &files[from] {
                if component.contains(&i.to) {
                    out.push(format!(
                        "  {} -> {} at {}",
                        from.join("::"),
                        i.to.join("::"),
                        i.at
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn imports_point_down_the_declared_layers_and_go_round_in_no_circle() {
    let sources = crate_sources();
    assert!(
        sources.iter().any(|s| s.module == ["model"])
            && sources.iter().any(|s| s.module.is_empty())
    );
    let offences = offences(&sources);
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

/// A crate of the given files, lib.rs declaring the layers' modules.
fn fake_crate(files: &[(&str, &str)]) -> Vec<Source> {
    let mut sources: Vec<Source> = files
        .iter()
        .filter_map(|(rel, text)| source(rel, text.to_string()))
        .collect();
    if !sources.iter().any(|s| s.module.is_empty()) {
        sources.extend(source("lib.rs", String::new()));
    }
    sources
}

/// The up-pointing imports found in a fake crate.
fn ups(files: &[(&str, &str)]) -> Vec<String> {
    offences(&fake_crate(files))
        .into_iter()
        .filter(|o| o.contains("points up"))
        .collect()
}

#[test]
fn an_upward_import_is_found_however_it_is_written() {
    let report = "pub struct Table;\npub fn f() {}\n";
    let cases: &[(&str, &str)] = &[
        ("plain", "use crate::report::Table;\n"),
        (
            "a group over lines",
            "use crate::{\n    units,\n    report::Table,\n};\n",
        ),
        ("spaces around ::", "use crate :: report :: Table;\n"),
        ("super from a top-level file", "use super::report::Table;\n"),
        ("a path in code", "fn g() { crate::report::f() }\n"),
        (
            "a path in a macro",
            "fn g() { println!(\"{:?}\", crate::report::f()); }\n",
        ),
        (
            "the crate root renamed",
            "use crate::{self as top};\nfn g() { top::report::f() }\n",
        ),
        ("a re-export through lib.rs", "use crate::Table;\n"),
    ];
    for (what, store) in cases {
        let lib = "pub mod report;\npub mod store;\npub mod units;\npub use report::Table;\n";
        let found = ups(&[
            ("lib.rs", lib),
            ("report.rs", report),
            ("store.rs", store),
            ("units.rs", ""),
        ]);
        assert_eq!(found.len(), 1, "{what}: {found:?}");
        assert!(
            found[0].starts_with("store -> report points up, at store.rs:"),
            "{what}: {found:?}"
        );
    }
}

#[test]
fn comments_tests_and_other_crates_are_not_imports() {
    let store = "// use crate::report::Table;\nfn f() { mycrate::report::x(); let s = \"crate::report\"; }\n#[cfg(test)]\nmod tests {\n    use crate::report::Table;\n}\n#[cfg(test)]\nfn helper() { crate::report::f() }\n";
    let found = ups(&[("report.rs", "pub fn f() {}"), ("store.rs", store)]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_circle_between_the_files_of_one_module_is_found() {
    let files = [
        (
            "report/mod.rs",
            "pub mod summary;\npub mod table;\npub use table::Table;\n",
        ),
        (
            "report/table.rs",
            "pub struct Table;\nfn f() { super::summary::g() }\n",
        ),
        ("report/summary.rs", "use super::Table;\npub fn g() {}\n"),
    ];
    let found = offences(&fake_crate(&files));
    assert!(
        found
            .iter()
            .any(|o| o.contains("cycle among the files") && o.contains("report::summary")),
        "{found:?}"
    );
    let untangled = [
        files[0],
        ("report/table.rs", "pub struct Table;\n"),
        files[2],
    ];
    let found = offences(&fake_crate(&untangled));
    assert!(!found.iter().any(|o| o.contains("cycle")), "{found:?}");
}

/// The layers as text art, highest first: what harness/docs/architecture.md
/// shows, made from `LAYERS` so the picture cannot drift from the rule.
fn layer_diagram() -> String {
    let rows: Vec<String> = LAYERS
        .iter()
        .enumerate()
        .rev()
        .map(|(i, layer)| format!("{:>2} │ {}", i + 1, layer.join("  ")))
        .collect();
    let width = rows.iter().map(|r| r.chars().count()).max().unwrap_or(0);
    let rule = format!("───┼{}", "─".repeat(width.saturating_sub(4)));
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            out.push_str(&rule);
            out.push('\n');
        }
        out.push_str(row);
        out.push('\n');
    }
    out
}

#[test]
fn the_architecture_document_draws_the_layers_as_they_are() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/architecture.md");
    let doc = std::fs::read_to_string(path).expect("read docs/architecture.md");
    let diagram = layer_diagram();
    assert!(
        doc.contains(&diagram),
        "docs/architecture.md's layer diagram differs from LAYERS; put this in its place:\n{diagram}"
    );
}
