//! The layering holds: nothing under `src/core/` may import the runtime, the HTTP stacks, the filesystem, the
//! network or the clock (the module doc of `core` promises it), and no two sibling modules import each other
//! in a cycle (read from the `crate::` and `super::` paths of every file under `src/`).

#[test]
fn core_does_no_io_and_reads_no_clock() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let forbidden = [
        "tokio",
        "hyper",
        "reqwest",
        "std::fs",
        "std::net",
        "SystemTime",
        "Instant::now",
        "std::env",
        "std::process",
    ];
    let mut stack = vec![root];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/core") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in forbidden {
                    assert!(
                        !code.contains(word),
                        "{}:{}: `{word}` in the pure core: {line}",
                        path.display(),
                        n + 1
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} files found under src/core");
}

/// A module's path under `src/` (`["core", "layout"]` for `src/core/layout.rs` or `src/core/layout/mod.rs`),
/// or `None` for the crate roots (`lib.rs`, `main.rs`).
fn module_path(src: &std::path::Path, file: &std::path::Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    match parts.as_slice() {
        [] => None,
        [only] if only == "lib" || only == "main" => None,
        _ => Some(parts),
    }
}

/// Every `crate::a::b` and `super::a` path in a file's code (comments and the test module left out),
/// resolved to an absolute module path.
fn referenced_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        for (at, _) in code
            .match_indices("crate::")
            .chain(code.match_indices("super::"))
        {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // the `super` of `crate::a::super`, or part of a longer name
            }
            let mut rest = &code[at..];
            let mut base = module.to_vec();
            let mut path: Vec<String> = Vec::new();
            loop {
                let len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                match &rest[..len] {
                    "" => break,
                    "crate" if path.is_empty() => base.clear(),
                    "super" if path.is_empty() => {
                        base.pop();
                    }
                    "self" if path.is_empty() => {}
                    ident => path.push(ident.to_owned()),
                }
                // `{`, `;`, `(`: the path ends here.
                let Some(next) = rest[len..].strip_prefix("::") else {
                    break;
                };
                rest = next;
            }
            base.extend(path);
            out.push(base);
        }
    }
    out
}

/// Fails on an import cycle among sibling modules: the top-level modules of `src/`, the files of
/// `src/core/`, and the children of every other folder. A folder's own file (`mod.rs` or `x.rs` beside
/// `x/`) is not a sibling: it declares its children and they may use what it defines. `tests` modules are
/// left out (a test may use any module it checks).
#[test]
fn no_import_cycle_between_modules() {
    use std::collections::{BTreeMap, BTreeSet};
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .filter_map(|f| module_path(&src, f))
        .filter(|m| !m.iter().any(|p| p == "tests"))
        .collect();
    // Edges between siblings: (parent, from child, to child).
    let mut edges: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in &files {
        let Some(from) = module_path(&src, file).filter(|m| modules.contains(m)) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for mut target in referenced_paths(&text, &from) {
            while !target.is_empty() && !modules.contains(&target) {
                target.pop(); // an item (`Config`), not a module
            }
            let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if let (Some(a), Some(b)) = (from.get(common), target.get(common)) {
                edges
                    .entry(from[..common].to_vec())
                    .or_default()
                    .entry(a.clone())
                    .or_default()
                    .insert(b.clone());
            }
        }
    }
    assert!(
        edges.get(&Vec::new()).is_some_and(|top| top.len() >= 5),
        "the top-level import graph looks empty: {edges:?}"
    );
    assert!(
        edges
            .get(&vec!["core".to_owned()])
            .is_some_and(|core| core.len() >= 5),
        "the core's import graph looks empty: {edges:?}"
    );
    for (parent, graph) in &edges {
        if let Some(cycle) = find_cycle(graph) {
            panic!(
                "import cycle among the modules of src/{}: {}",
                parent.join("/"),
                cycle.join(" -> ")
            );
        }
    }
}

/// A cycle in a directed graph, as the nodes along it (first repeated last), if there is one.
fn find_cycle(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        done: &mut std::collections::BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let graph = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .iter()
        .fold(
            std::collections::BTreeMap::new(),
            |mut g: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
             (x, y)| {
                g.entry((*x).to_owned())
                    .or_default()
                    .insert((*y).to_owned());
                g
            },
        );
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let module = ["core", "layout"].map(String::from);
    let text = "use super::header::{a, b};\nlet x = crate::core::encoder::f();\n// crate::x";
    let strings = |path: &[&str]| path.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        referenced_paths(text, &module),
        [
            strings(&["core", "header"]),
            strings(&["core", "encoder", "f"])
        ]
    );
}
