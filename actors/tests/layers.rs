//! The realtime core's layers point one way (docs/architecture.md):
//!
//! ```text
//! gateway ──► chat · presence · calendar · live ──► core ──► protocol
//!                                            └────► sfu
//! ```
//!
//! This test reads every `crate::…` path in `actors/src` and fails on an
//! import that runs against that order: core naming a domain, a domain
//! naming another domain or the gateway, or anything forming a cycle among
//! the top-level modules. Inside one domain, files may name each other.

// A test binary: a panic is how its helpers report a failure.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Who may name whom. A module absent from a list may not be named by it.
const ALLOWED: &[(&str, &[&str])] = &[
    ("core", &[]),
    ("sfu", &["core"]),
    ("chat", &["core"]),
    ("presence", &["core"]),
    ("calendar", &["core"]),
    ("live", &["core", "sfu"]),
    ("boards", &["core"]),
    (
        "gateway",
        &["core", "chat", "presence", "calendar", "live", "boards", "sfu"],
    ),
];

/// `crate::protocol` re-exports the protocol crate: below everything.
const EXTERNAL: &[&str] = &["protocol"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module → the top-level modules its files name.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let Some(first) = rel.components().next() else { continue };
        let first = first.as_os_str().to_string_lossy();
        if first == "lib.rs" {
            continue;
        }
        let module = first.trim_end_matches(".rs").to_owned();
        let text = std::fs::read_to_string(&file).expect("read file");
        let named = graph.entry(module.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // `use crate::{a, b}` groups: read each name in the braces.
                if name.is_empty() && rest.starts_with('{') {
                    let inner = rest[1..].split('}').next().unwrap_or("");
                    for part in inner.split(',') {
                        let n: String = part
                            .trim()
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        if !n.is_empty() && n != module && !EXTERNAL.contains(&n.as_str()) {
                            named.insert(n);
                        }
                    }
                    continue;
                }
                if !name.is_empty() && name != module && !EXTERNAL.contains(&name.as_str()) {
                    named.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn every_import_points_down() {
    let graph = imports();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, named) in &graph {
        let Some(ok) = allowed.get(module.as_str()) else {
            wrong.push(format!(
                "`{module}` is a new top-level module: give it a place in ALLOWED and in docs/architecture.md"
            ));
            continue;
        };
        for n in named {
            if !ok.contains(&n.as_str()) {
                wrong.push(format!(
                    "`{module}` names `crate::{n}`: add a seam in core::seams instead"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn no_cycle_among_top_level_modules() {
    let graph = imports();
    // Depth-first search for a back edge.
    fn visit<'a>(
        n: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(1) => {
                let start = path.iter().position(|p| *p == n).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_owned());
                return Some(cycle);
            }
            Some(2) => return None,
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if let Some(cycle) = visit(n, &graph, &mut state, &mut Vec::new()) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_reader_sees_imports() {
    // The check above is only as good as its reading: the gateway must be
    // seen naming every domain, else the parser has gone blind.
    let graph = imports();
    let gateway = graph.get("gateway").expect("a gateway module");
    for d in ["chat", "presence", "calendar", "live", "core"] {
        assert!(gateway.contains(d), "gateway should name {d}: {gateway:?}");
    }
}
