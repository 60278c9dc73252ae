//! The repository stands alone: every relative Markdown link in README.md, CHANGELOG.md and docs/ resolves
//! to a file inside the repository (and a `#fragment` to a heading of that file), and no text file points
//! at the workspace outside it (the shared contract it was written from).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .expect("repository root")
}

/// Every file under `dir` (recursively) whose name ends in one of `exts`, skipping build output.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | ".git" | "node_modules" | "corpus" | "artifacts"
            ) {
                files(&path, exts, out);
            }
        } else if exts.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// The Markdown documents whose links are checked.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut docs = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    files(&root.join("docs"), &[".md"], &mut docs);
    docs
}

/// The targets of `[text](target)` links in `text`, outside code spans and fenced blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || line.starts_with("    ") {
            continue;
        }
        // Drop code spans, whose brackets are not links.
        let plain: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].trim().to_owned());
            rest = &after[end..];
        }
    }
    targets
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation other than `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of every heading of a Markdown file.
fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            !fenced && l.starts_with('#')
        })
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn markdown_links_resolve_inside_the_repository() {
    let root = root();
    let mut checked = 0;
    let mut broken = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("markdown");
        let name = doc
            .strip_prefix(&root)
            .unwrap_or(&doc)
            .display()
            .to_string();
        for target in link_targets(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                doc.clone()
            } else {
                doc.parent().expect("dir").join(path)
            };
            let Ok(resolved) = file.canonicalize() else {
                broken.push(format!("{name}: {target}: no such file"));
                continue;
            };
            if !resolved.starts_with(&root) {
                broken.push(format!("{name}: {target}: outside the repository"));
                continue;
            }
            if let Some(fragment) = fragment {
                let heads = std::fs::read_to_string(&resolved)
                    .map(|t| anchors(&t))
                    .unwrap_or_default();
                if !heads.iter().any(|h| h == fragment) {
                    broken.push(format!("{name}: {target}: no heading with this anchor"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(
        checked > 20,
        "only {checked} relative links found: is the parser right?"
    );
}

#[test]
fn nothing_points_at_the_workspace_outside_the_repository() {
    let root = root();
    let mut texts = Vec::new();
    for dir in ["src", "tests", "docs", "config", "benches", "fuzz", ".ci"] {
        files(
            &root.join(dir),
            &[
                ".rs",
                ".md",
                ".toml",
                ".sh",
                ".py",
                ".js",
                ".rb",
                ".java",
                ".json",
                "Caddyfile",
                ".conf",
                ".service",
                "run",
            ],
            &mut texts,
        );
    }
    texts.extend(["README.md", "CHANGELOG.md", "Cargo.toml"].map(|f| root.join(f)));
    // Spelled in pieces so that this file does not match itself.
    let needles = [
        concat!("../", "shared"),
        concat!("CONTRACT", ".md"),
        concat!("/work", "/shared"),
    ];
    let mut found = Vec::new();
    for file in texts {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for needle in needles {
            if text.contains(needle) {
                found.push(format!(
                    "{}: {needle}",
                    file.strip_prefix(&root).unwrap_or(&file).display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "references outside the repository:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_link_parser_finds_links_and_skips_code() {
    let text = "See [a](docs/a.md#x) and `[b](no.md)`.\n\n    [c](indented.md)\n```\n[d](fenced.md)\n```\n[e](#f)";
    assert_eq!(link_targets(text), ["docs/a.md#x", "#f"]);
    assert_eq!(
        anchor("From the demo to your own app"),
        "from-the-demo-to-your-own-app"
    );
    assert_eq!(anchor(" Resume (Range requests)"), "resume-range-requests");
    assert_eq!(anchor("`path_prefix` setting"), "path_prefix-setting");
}
