//! Names: the entry paths inside the archive (CONTRACT.md §3) and the download name of the response (§1).
//!
//! This module owns three pure rules and nothing else:
//!
//! - [`normalize_path`]: a manifest `path` becomes a safe, '/'-separated zip entry name, or a [`NameError`].
//! - [`dedupe`]: a list of normalised names becomes a list of unique names that also never clobber each
//!   other when extracted, renaming deterministically.
//! - [`sanitize_download_name`] and [`content_disposition`]: the name a browser saves the archive under.
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
/// change are left as they are; the order of the list is kept.
pub fn dedupe(names: &mut [String]) -> Result<(), DedupeError> {
    // Every original stem (name without the directory's '/') and every implied directory is reserved.
    let mut reserved: HashSet<String> = HashSet::with_capacity(names.len() * 2);
    let mut directories: HashSet<&str> = HashSet::new();
    for name in names.iter() {
        let (stem, is_dir) = split_dir(name);
        reserved.insert(stem.to_owned());
        if is_dir {
            directories.insert(stem);
        }
        for (i, _) in stem.match_indices('/') {
            directories.insert(&stem[..i]);
        }
    }
    for dir in &directories {
        reserved.insert((*dir).to_owned());
    }

    // Which entries keep their name: the first file of each name that is not a directory, the first
    // directory of each name.
    let mut kept_files: HashSet<&str> = HashSet::new();
    let mut kept_dirs: HashSet<&str> = HashSet::new();
    let mut to_rename: Vec<usize> = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let (stem, is_dir) = split_dir(name);
        let keeps = if is_dir {
            kept_dirs.insert(stem)
        } else {
            !directories.contains(stem) && kept_files.insert(stem)
        };
        if !keeps {
            to_rename.push(index);
        }
    }
    drop((kept_files, kept_dirs, directories));

    // Renames, in list order. `next` remembers, per original name, the last n tried: the names tried
    // before stay taken, so resuming there gives the same result as counting from 1 again, in linear time.
    let mut next: HashMap<String, u64> = HashMap::new();
    for index in to_rename {
        let (stem, is_dir) = split_dir(&names[index]);
        let counter = next.entry(names[index].clone()).or_insert(0);
        let renamed = loop {
            *counter = counter.saturating_add(1);
            let candidate = with_suffix(stem, is_dir, *counter);
            if candidate.len() + usize::from(is_dir) > MAX_NAME_BYTES {
                return Err(DedupeError { index });
            }
            if reserved.insert(candidate.clone()) {
                break candidate;
            }
        };
        names[index] = if is_dir { renamed + "/" } else { renamed };
    }
    Ok(())
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

/// The download name rule of CONTRACT.md §1: control characters, `"`, `/` and `\` become `_`.
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
