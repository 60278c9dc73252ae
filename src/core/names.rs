//! Names: the entry paths inside the archive (docs/contract.md, Manifest) and the download name of the
//! response (Links).
//!
//! This module owns these pure rules and nothing else:
//!
//! - [`normalize_path`]: a manifest `path` becomes a safe, '/'-separated zip entry name, or a [`NameError`].
//! - [`dedupe`]: a list of normalised names becomes a list of unique names that also never clobber each
//!   other when extracted, renaming deterministically.
//! - [`sanitize_download_name`], [`has_zip_extension`] and [`content_disposition`]: the name a browser saves
//!   the archive under.
//!
//! It must not know where names come from (JSON, links) nor do any I/O; errors about *which* entry is wrong
//! belong to the caller (`core::manifest`).
//!
//! # Normalisation
//!
//! `\` becomes `/`; empty and `.` segments are dropped. Refused: a `..` segment, an absolute path (one that
//! starts with `/` after the `\` rewrite, which also covers `\\server\share`, or whose first segment is a
//! Windows drive such as `C:` or `c:foo`), any control character (`char::is_control`: C0 including NUL, DEL
//! and C1), a path with no segment left, and a name over [`MAX_NAME_BYTES`] bytes (the zip name field is
//! 16 bits). A path that ends in `/` (after the `\` rewrite) is a directory and keeps exactly one trailing
//! `/`; nothing else ends in `/`.
//!
//! # Duplicates and clobbering
//!
//! Names are compared byte for byte: case-sensitively and without Unicode normalisation, so `A.txt` and
//! `a.txt` are two names (a case-insensitive file system extracts one over the other; zipper does not guess
//! which file system the client has). Three kinds of clash are resolved, always by renaming the later or
//! the less structural entry, never by dropping one:
//!
//! 1. Two files, or two directories, with the same name: the first keeps it, later ones are renamed.
//! 2. A file whose name is also a directory, explicit (`a/`) or implied by another entry (`a/b`): the
//!    *file* is renamed, wherever it appears in the list, because renaming the directory would rename
//!    everything under it. macOS Archive Utility fails on such archives ("error -21").
//! 3. A rename may not land on a name that any entry uses, including entries that come later: every
//!    original name and every implied directory is reserved up front, so an original name is never taken
//!    away by an earlier rename.
//!
//! A rename inserts ` (n)`, with the smallest `n >= 1` that gives a free name, before the last extension of
//! the last segment: `a.txt` → `a (1).txt`, `a.tar.gz` → `a.tar (1).gz`, `README` → `README (1)`. Leading
//! dots do not start an extension (`.bashrc` → `.bashrc (1)`, `.config.json` → `.config (1).json`), nor
//! does a trailing dot (`a.` → `a. (1)`). A directory has no extension: `d.v2/` → `d.v2 (1)/`. Only the last
//! segment changes, so a rename never moves an entry to another directory. The result depends only on the
//! list, so the same manifest always gives the same names.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The longest entry name a zip header can carry, in bytes (APPNOTE 6.3.10 §4.4.10, a 16-bit field).
pub const MAX_NAME_BYTES: usize = 65_535;

/// Why a manifest path cannot be an entry name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Nothing is left once empty and `.` segments are dropped.
    #[error("is empty once '.' and empty segments are dropped")]
    Empty,
    /// A `..` segment (zip-slip).
    #[error("contains a '..' segment")]
    ParentSegment,
    /// Starts with `/` (or `\`).
    #[error("is an absolute path")]
    Absolute,
    /// The first segment is a Windows drive (`C:`).
    #[error("starts with a Windows drive letter")]
    DriveLetter,
    /// A control character (NUL, other C0, DEL, C1).
    #[error("contains a control character")]
    ControlCharacter,
    /// The name is longer than [`MAX_NAME_BYTES`].
    #[error("is {len} bytes long, over the limit of {MAX_NAME_BYTES}")]
    TooLong {
        /// The length in bytes of the name that was refused.
        len: usize,
    },
}

/// A duplicate could not be renamed within [`MAX_NAME_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("renaming this duplicate to a free name would exceed {MAX_NAME_BYTES} bytes")]
pub struct DedupeError {
    /// Index, in the list given to [`dedupe`], of the entry that could not be renamed.
    pub index: usize,
}

/// Normalises a manifest path into an entry name (see the module doc for the rules).
///
/// Returns the name and whether it is a directory (the name then ends in exactly one `/`).
pub fn normalize_path(raw: &str) -> Result<(String, bool), NameError> {
    if raw.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    let slashed = raw.replace('\\', "/");
    if slashed.starts_with('/') {
        return Err(NameError::Absolute);
    }
    let is_dir = slashed.ends_with('/');
    let mut out = String::with_capacity(slashed.len());
    for segment in slashed.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err(NameError::ParentSegment),
            _ => {}
        }
        if out.is_empty() && is_drive(segment) {
            return Err(NameError::DriveLetter);
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(segment);
    }
    if out.is_empty() {
        return Err(NameError::Empty);
    }
    if is_dir {
        out.push('/');
    }
    if out.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong { len: out.len() });
    }
    Ok((out, is_dir))
}

/// `C:`, `c:foo`: a segment that Windows reads as a drive.
fn is_drive(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Makes normalised names unique and clobber-free (see the module doc), in place.
///
/// Each name is as returned by [`normalize_path`]: directories end in `/`, files do not. Names that need no
/// change are left as they are; the order of the list is kept. Time and memory are linear in the total
/// length of the names, however deep the paths and however many duplicates ([`PathTree`]).
pub fn dedupe(names: &mut [String]) -> Result<(), DedupeError> {
    for (index, name) in plan_renames(names)? {
        names[index] = name;
    }
    Ok(())
}

/// The new names of the entries that must be renamed, as `(index, name)` in list order.
fn plan_renames(names: &[String]) -> Result<Vec<(usize, String)>, DedupeError> {
    // Every original stem (name without the directory's '/') and every implied directory is a node.
    let mut tree = PathTree::default();
    let nodes: Vec<usize> = names
        .iter()
        .map(|name| {
            let (stem, is_dir) = split_dir(name);
            let node = tree.insert(stem);
            tree.nodes[node].is_dir |= is_dir;
            node
        })
        .collect();

    // Which entries keep their name: the first file of each name that is not a directory, the first
    // directory of each name.
    let mut to_rename: Vec<usize> = Vec::new();
    for (index, (name, &node)) in names.iter().zip(&nodes).enumerate() {
        let info = &mut tree.nodes[node];
        let keeps = if name.ends_with('/') {
            !std::mem::replace(&mut info.dir_kept, true)
        } else {
            !info.is_dir && !std::mem::replace(&mut info.file_kept, true)
        };
        if !keeps {
            to_rename.push(index);
        }
    }

    // Renames, in list order. Only the last segment changes, so a candidate is free when its parent has no
    // such child in the tree and no earlier rename took it. `next` remembers, per original name, the last n
    // tried: the names tried before stay taken, so resuming there gives the same result as counting from 1
    // again, in linear time.
    let mut taken: HashSet<(usize, String)> = HashSet::new();
    let mut next: HashMap<(usize, bool), u64> = HashMap::new();
    let mut renames = Vec::with_capacity(to_rename.len());
    for index in to_rename {
        let (stem, is_dir) = split_dir(&names[index]);
        let parent = tree.nodes[nodes[index]].parent;
        let segment_start = stem.rfind('/').map_or(0, |i| i + 1);
        let last = &stem[segment_start..];
        let counter = next.entry((nodes[index], is_dir)).or_insert(0);
        let renamed = loop {
            *counter = counter.saturating_add(1);
            let candidate = with_suffix(last, is_dir, *counter);
            if segment_start + candidate.len() + usize::from(is_dir) > MAX_NAME_BYTES {
                return Err(DedupeError { index });
            }
            if tree.child(parent, &candidate).is_none() && taken.insert((parent, candidate.clone()))
            {
                break candidate;
            }
        };
        let mut name = String::with_capacity(segment_start + renamed.len() + 1);
        name.push_str(&stem[..segment_start]);
        name.push_str(&renamed);
        if is_dir {
            name.push('/');
        }
        renames.push((index, name));
    }
    Ok(renames)
}

/// Every stem of a list of names and every directory they imply, as a tree of `/`-separated segments:
/// node 0 is the root (the empty path), every other node one segment under its parent. Each segment is
/// hashed once, so building it and finding a name's node cost O(name length), where a set of every
/// prefix as a string would cost O(length²) for a deep path.
#[derive(Debug)]
struct PathTree<'a> {
    children: HashMap<(usize, &'a str), usize>,
    nodes: Vec<PathNode>,
}

/// One node of a [`PathTree`].
#[derive(Debug, Clone, Copy, Default)]
struct PathNode {
    parent: usize,
    /// A directory: an entry's name ends in `/` here, or some name goes on below it.
    is_dir: bool,
    /// A file of this name keeps it.
    file_kept: bool,
    /// A directory of this name keeps it.
    dir_kept: bool,
}

impl Default for PathTree<'_> {
    fn default() -> Self {
        PathTree {
            children: HashMap::new(),
            nodes: vec![PathNode::default()],
        }
    }
}

impl<'a> PathTree<'a> {
    /// The node of `stem`, added with its parents if new; every node above it becomes a directory.
    fn insert(&mut self, stem: &'a str) -> usize {
        let mut node = 0;
        for segment in stem.split('/') {
            if node != 0 {
                self.nodes[node].is_dir = true;
            }
            let parent = node;
            let fresh = self.nodes.len();
            node = *self.children.entry((parent, segment)).or_insert(fresh);
            if node == fresh {
                self.nodes.push(PathNode {
                    parent,
                    ..PathNode::default()
                });
            }
        }
        node
    }

    /// The node of segment `segment` under `parent`, if any name has it.
    fn child(&self, parent: usize, segment: &str) -> Option<usize> {
        // The map's keys borrow the names; a shorter-lived segment looks them up through covariance.
        let children: &HashMap<(usize, &str), usize> = &self.children;
        children.get(&(parent, segment)).copied()
    }
}

/// `("a/b", true)` for `a/b/`, `("a/b", false)` for `a/b`.
fn split_dir(name: &str) -> (&str, bool) {
    match name.strip_suffix('/') {
        Some(stem) => (stem, true),
        None => (name, false),
    }
}

/// Inserts ` (n)` before the last extension of the last segment of `stem` (at the end for a directory).
fn with_suffix(stem: &str, is_dir: bool, n: u64) -> String {
    let segment_start = stem.rfind('/').map_or(0, |i| i + 1);
    let at = if is_dir {
        stem.len()
    } else {
        extension_dot(&stem[segment_start..]).map_or(stem.len(), |dot| segment_start + dot)
    };
    let mut out = String::with_capacity(stem.len() + 24);
    out.push_str(&stem[..at]);
    // Writing to a String cannot fail.
    let _ = write!(out, " ({n})");
    out.push_str(&stem[at..]);
    out
}

/// Index of the dot that starts the extension of a segment, if it has one.
fn extension_dot(segment: &str) -> Option<usize> {
    let leading_dots = segment.len() - segment.trim_start_matches('.').len();
    let dot = segment[leading_dots..].rfind('.')? + leading_dots;
    (dot + 1 < segment.len()).then_some(dot)
}

/// The download name rule of docs/contract.md, Links: control characters, `"`, `/` and `\` become `_`.
pub fn sanitize_download_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | '/' | '\\') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Whether a download name ends in `.zip`, in any case: the one rule for the link's name (docs/contract.md,
/// Links) and the manifest's `filename` (Manifest).
pub fn has_zip_extension(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 4 && b[b.len() - 4..].eq_ignore_ascii_case(b".zip")
}

/// RFC 5987 `attr-char`s stay as they are; every other byte is percent-encoded.
const ATTR_CHAR_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The `Content-Disposition` value for a download name (RFC 6266 with RFC 8187/5987 `filename*`).
///
/// The name is first passed through [`sanitize_download_name`]. `filename="…"` is the ASCII fallback:
/// every non-ASCII character becomes `_`, and so does `%` (RFC 6266 Appendix D: some user agents
/// percent-decode the fallback). `filename*=UTF-8''…` carries the exact sanitised name. The result is always
/// a valid header value (visible ASCII and spaces only).
pub fn content_disposition(name: &str) -> String {
    let name = sanitize_download_name(name);
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii() && c != '%' { c } else { '_' })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(&name, ATTR_CHAR_ESCAPES)
    )
}

#[cfg(test)]
mod tests;
