//! The crate's floors, kept true: which module may import which (the map in `src/lib.rs`),
//! and no import circle between files. Reads the sources as text: every `crate::…` and
//! `super::…` path outside `#[cfg(test)]` code, resolved to the file that defines it.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The top-level modules each top-level module may use (besides itself). Anything not
/// listed is forbidden; `main.rs` and `lib.rs` may use everything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("text", &[]),
    ("files", &[]),
    ("fault", &[]),
    ("sample", &[]),
    ("config", &["sample", "files"]),
    ("conninfo", &["files"]),
    ("queries", &["sample"]),
    (
        "collect",
        &["sample", "queries", "conninfo", "fault", "text"],
    ),
    ("model", &["sample", "config", "text"]),
    ("tui", &["sample", "model", "config", "text", "fault"]),
    ("record", &["sample", "model", "config", "text"]),
    ("export", &["sample", "model", "config", "text"]),
    ("fetch", &["text"]),
    ("cluster", &["fetch"]),
    ("demo", &["cluster"]),
    (
        "app",
        &[
            "sample", "collect", "model", "config", "conninfo", "record", "tui", "text",
        ],
    ),
    ("serve", &["app", "export", "model", "sample", "config"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/collect/pool.rs` → `["collect", "pool"]`,
/// `src/collect/mod.rs` → `["collect"]`, `src/lib.rs` → `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file defining module `path`, if there is one: the longest prefix of `path` that is a
/// module file (`a/b.rs` or `a/b/mod.rs`).
fn file_of(path: &[String], files: &BTreeSet<PathBuf>) -> Option<PathBuf> {
    for n in (1..=path.len()).rev() {
        let base = src().join(path[..n].join("/"));
        for candidate in [base.with_extension("rs"), base.join("mod.rs")] {
            if files.contains(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

/// The source without `#[cfg(test)]` items (unit tests may reach anywhere) and comments.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut depth = 0i32;
    let mut pending_test = false;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        if skip_depth.is_none() && code.trim_start().starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        let opens = code.matches('{').count() as i32;
        let closes = code.matches('}').count() as i32;
        if pending_test {
            pending_test = false;
            if opens > closes {
                skip_depth = Some(depth);
                depth += opens - closes;
                continue;
            }
            // a one-line item (`use` under cfg(test))
            continue;
        }
        if let Some(d) = skip_depth {
            depth += opens - closes;
            if depth <= d {
                skip_depth = None;
            }
            continue;
        }
        depth += opens - closes;
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every module path the code refers to: `crate::a::b::C`, `super::x`, and the items of
/// `use crate::a::{b, c::d}` groups, as absolute module paths.
fn references(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut refs = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let text: String = bytes.iter().collect();
    for (start, _) in text
        .match_indices("crate::")
        .chain(text.match_indices("super::"))
    {
        if start > 0 {
            let prev = bytes[start - 1];
            if prev.is_alphanumeric() || prev == '_' || prev == ':' {
                continue;
            }
        }
        let rest = &text[start..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let path = &rest[..end];
        let mut parts: Vec<String> = path
            .split("::")
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let mut base: Vec<String> = Vec::new();
        match parts.first().map(String::as_str) {
            Some("crate") => {
                parts.remove(0);
            }
            Some("super") => {
                base = module.to_vec();
                while parts.first().map(String::as_str) == Some("super") {
                    parts.remove(0);
                    base.pop();
                }
            }
            _ => continue,
        }
        let prefix: Vec<String> = base.into_iter().chain(parts).collect();
        // a `{...}` group after the path: each item extends it
        let after = &rest[end..];
        if let Some(group) = after.strip_prefix('{') {
            let close = group.find('}').unwrap_or(group.len());
            for item in group[..close].split(',') {
                let item = item.trim();
                if item.is_empty() || item == "self" || item == "*" {
                    refs.push(prefix.clone());
                    continue;
                }
                let mut p = prefix.clone();
                p.extend(
                    item.split("::")
                        .map(|s| s.trim().trim_start_matches('{').to_owned())
                        .filter(|s| !s.is_empty() && s != "self" && s != "*"),
                );
                refs.push(p);
            }
        } else {
            refs.push(prefix);
        }
    }
    refs
}

/// file → the other files it refers to.
fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut list = Vec::new();
    rust_files(&src(), &mut list);
    let files: BTreeSet<PathBuf> = list.iter().cloned().collect();
    let mut graph = BTreeMap::new();
    for file in &list {
        let module = module_of(file);
        let code = production_code(&fs::read_to_string(file).unwrap());
        let mut to = BTreeSet::new();
        for path in references(&code, &module) {
            if let Some(target) = file_of(&path, &files) {
                if &target != file {
                    to.insert(target);
                }
            }
        }
        graph.insert(file.clone(), to);
    }
    graph
}

fn top(file: &Path) -> String {
    module_of(file).first().cloned().unwrap_or_default()
}

fn name(file: &Path) -> String {
    file.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn every_module_imports_only_the_floors_below_it() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (file, targets) in graph() {
        let from = top(&file);
        if from.is_empty() {
            continue; // lib.rs, main.rs
        }
        let Some(ok) = allowed.get(from.as_str()) else {
            wrong.push(format!(
                "{}: module {from} is not in the layer table",
                name(&file)
            ));
            continue;
        };
        for target in targets {
            let to = top(&target);
            if to != from && !ok.contains(&to.as_str()) {
                wrong.push(format!("{} imports {}", name(&file), name(&target)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the floors:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_import_circle_between_files() {
    let graph = graph();
    // Tarjan-free: a depth-first search reporting the first back edge's circle.
    fn visit(
        node: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        stack: &mut Vec<PathBuf>,
        done: &mut BTreeSet<PathBuf>,
        circles: &mut Vec<Vec<PathBuf>>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(i) = stack.iter().position(|n| n == node) {
            circles.push(stack[i..].to_vec());
            return;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, circles);
        }
        stack.pop();
        done.insert(node.clone());
    }
    let mut circles = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done, &mut circles);
    }
    let shown: Vec<String> = circles
        .iter()
        .map(|c| {
            c.iter()
                .map(|f| name(f))
                .chain(c.first().map(|f| name(f)))
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect();
    assert!(shown.is_empty(), "import circles:\n{}", shown.join("\n"));
}

#[test]
fn the_checker_sees_real_imports() {
    // The graph must see what is there, or the tests above prove nothing.
    let graph = graph();
    let pool = src().join("collect/pool.rs");
    let sample = src().join("sample/mod.rs");
    assert!(
        graph[&pool]
            .iter()
            .any(|t| t.starts_with(src().join("sample")))
            || graph[&pool].contains(&sample),
        "collect/pool.rs uses crate::sample: {:?}",
        graph[&pool]
    );
    let refs = references(
        "use crate::a::{b, c::d};\nlet x = super::super::e::F;",
        &["m".into(), "n".into()],
    );
    assert!(refs.contains(&vec!["a".to_string(), "b".to_string()]));
    assert!(refs.contains(&vec!["a".to_string(), "c".to_string(), "d".to_string()]));
    assert!(refs.contains(&vec!["e".to_string(), "F".to_string()]));
}
