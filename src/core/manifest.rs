//! The manifest of docs/contract.md, Manifest: [`parse_manifest`] turns the origin's JSON body into a
//! validated [`Manifest`] (entries with safe, unique names, parsed URLs, sizes, CRCs, times and per-file
//! headers), or a [`ManifestError`] that names the entry and field
//! (`files[12].url: not an absolute http(s) URL`).
//!
//! A callback may also answer with nginx mod_zip's file list: [`parse_response`] picks the format from the
//! answer's headers, and `mod_zip.rs` ([`parse_mod_zip`]) reads the list into the same [`Manifest`] through
//! the same rules and limits.
//!
//! It must not fetch anything, read the clock or decide statuses: the body arrives already read (and capped)
//! by `origin::manifest`, the default time is the link's timestamp, and [`ManifestError`] maps to
//! `invalid_manifest` through [`HasCode`](crate::error::HasCode). Entry names follow [`crate::core::names`].
//!
//! # Rules beyond the contract's text
//!
//! - Unknown fields are ignored, at the top level and in each file. An optional field given as `null` is
//!   treated as absent; a required one (`path`, or `url` of a file) given as `null` is missing. A field given
//!   twice in the same object is invalid JSON.
//! - `filename` is optional. When present it must be a string; it is passed through the download-name rule
//!   of docs/contract.md, Links (control characters, `"`, `/` and `\` become `_`), must then end in `.zip`
//!   (case-insensitive, like the link's name) and be at most [`MAX_FILENAME_BYTES`] bytes.
//! - `notify_url` is optional (docs/contract.md, Completion reports). When present it must be a string, an
//!   absolute http(s) URL under the rule of a file's `url` (below), at most [`MAX_NOTIFY_URL_BYTES`] bytes.
//!   Whether zipper may contact its host is the origin guard's decision, not this module's.
//! - `files` is required and may be empty (an empty archive is a valid zip).
//! - A path that ends in `/` (after `\` becomes `/`) is a directory. A directory with a `url` is invalid;
//!   its `size`, `crc32`, `compression` and `headers` are ignored; its `modified` is used.
//! - `url` must be written out as `http://host…` or `https://host…` (scheme in any case, no surrounding
//!   spaces: the lenient repairs of the WHATWG parser, such as `https:host` or `http:///host`, are refused);
//!   it is parsed with the `url` crate and kept in its normalised serialisation.
//! - `size` is an integer from 0 to 2^64-1 (`1.0` and `"1"` are refused). `crc32` is a string of exactly 8
//!   hex digits, either case. `modified` is RFC 3339; fractions of a second are dropped (rounded towards
//!   the past); any year RFC 3339 can write (0000–9999) is accepted, and the layout clamps what a zip cannot
//!   store. `compression` is exactly `"store"` or `"deflate"`.
//! - `headers` is an object of strings. Names must be valid HTTP field names and are compared and kept in
//!   lower case; the same name twice (in any case) is invalid; values must be valid field values. Headers
//!   that zipper must control are refused: the hop-by-hop ones (`connection`, `keep-alive`,
//!   `proxy-authenticate`, `proxy-authorization`, `proxy-connection`, `te`, `trailer`, `transfer-encoding`,
//!   `upgrade`), those that frame or select the body (`host`, `content-length`, `range`, `if-range`,
//!   `expect`, `accept-encoding`: zipper needs the identity bytes it asked for), and the conditional ones
//!   (`if-match`, `if-none-match`, `if-modified-since`, `if-unmodified-since`: a 304 or 412 is not a file).
//!   The headers are kept sorted by name.
//! - Errors are built from places and kinds, never from values (values carry signed URLs and credentials):
//!   `files[0]: expected an object`, `files[2].headers.authorization: invalid header value`. A shape error
//!   also gives the line and column; serde's own messages, which quote the value found, are never shown.
//! - Limits ([`ManifestLimits`]): more than `max_entries` files is invalid (checked while parsing, so a huge
//!   list is never held in memory); the sum of the known `size`s over `max_total_bytes` is invalid, and
//!   the error names the entry at which the sum crosses the limit.
//! - Checks run in document order and the first failure is reported; within a file the order is `path`,
//!   `url`, `size`, `crc32`, `modified`, `compression`, `headers`. Duplicate names are resolved last, by
//!   [`names::dedupe`].
//! - Cost: time and memory linear in the body's length. Fields stream into typed values (`wire.rs`: no
//!   `serde_json::Value`, a value of the wrong type is skipped, not kept), and files are validated as they
//!   leave the array (`rules.rs`).

mod canonical;
mod error;
mod mod_zip;
mod rules;
pub(crate) mod urls;
mod wire;

use serde::de::{self, DeserializeSeed};

use crate::core::names;
use wire::{At, Failure, RawFile, TopLevel, Typed};

pub use canonical::to_canonical_json;
pub use error::{Field, LineField, ManifestError, Problem};
pub use mod_zip::{parse_mod_zip, parse_response, BodyHeaders, MAX_NAME_SEP_BYTES};
pub use rules::{is_refused_header, REFUSED_HEADERS};

/// Default [`ManifestLimits::max_entries`] (docs/contract.md, Manifest).
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// Default [`ManifestLimits::max_total_bytes`]: 1 TiB (docs/contract.md, Manifest).
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 1 << 40;
/// The longest `filename` accepted, in bytes (a common file-system limit for one name).
pub const MAX_FILENAME_BYTES: usize = 255;

/// The longest `notify_url` accepted, in bytes.
pub const MAX_NOTIFY_URL_BYTES: usize = 8 * 1024;

/// How big a manifest may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestLimits {
    /// Most entries (files and directories) in one manifest.
    pub max_entries: usize,
    /// Most bytes, summed over the files whose `size` is known.
    pub max_total_bytes: u64,
}

impl Default for ManifestLimits {
    fn default() -> Self {
        Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
        }
    }
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The download name, sanitised and ending in `.zip`; overrides the link's name when present.
    pub filename: Option<String>,
    /// The entries in manifest order, with unique, normalised names.
    pub entries: Vec<Entry>,
    /// Where the completion report goes, when the manifest asks for one (normalised by the `url` crate).
    pub notify_url: Option<String>,
    /// The entries whose name was changed to make the names unique, in entry order.
    pub renamed: Vec<Renamed>,
}

/// An entry whose name [`names::dedupe`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// 0-based index of the entry in `files`.
    pub index: usize,
    /// The name the manifest asked for (normalised: `\` as `/`, no empty or `.` segments).
    pub path: String,
    /// The name in the archive.
    pub name: String,
}

/// One archive entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name inside the archive: normalised and deduplicated; a directory's ends in `/`.
    pub path: String,
    /// Modification time, unix seconds: the manifest's `modified`, else the link's timestamp.
    pub modified_unix: i64,
    /// A directory or a file and where to fetch it.
    pub kind: EntryKind,
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory: no data.
    Directory,
    /// A file fetched from an origin.
    File(FileSource),
}

/// Where and how to fetch a file, and what the manifest promises about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    /// Absolute http(s) URL, normalised by the `url` crate.
    pub url: String,
    /// The file's length in bytes, when the manifest gives it.
    pub size: Option<u64>,
    /// The file's CRC-32, when the manifest gives it.
    pub crc32: Option<u32>,
    /// How the file is stored in the archive.
    pub compression: Compression,
    /// Extra request headers for this file's GET: lower-case names, sorted by name, unique.
    pub headers: Vec<(String, String)>,
}

/// How a file is stored in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (method 0).
    #[default]
    Store,
    /// Deflate (method 8).
    Deflate,
}

/// Parses and validates a manifest body (docs/contract.md, Manifest; see the module doc for every rule).
///
/// `default_modified_unix` is the link's timestamp, used for entries without `modified`.
pub fn parse_manifest(
    body: &[u8],
    default_modified_unix: i64,
    limits: &ManifestLimits,
) -> Result<Manifest, ManifestError> {
    let mut builder = Builder::new(limits, default_modified_unix);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = TopLevel(&mut builder)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match (builder.error.take(), parsed) {
        (Some(Failure::Invalid(error)), _) => Err(error),
        (Some(Failure::Shape(message)), Err(error)) => Err(wire::positioned(message, &error)),
        (None, Err(error)) => Err(wire::json_error(&error, builder.at)),
        // A visitor that records a failure always stops the parse with an error.
        (Some(Failure::Shape(message)), Ok(())) => Err(ManifestError::Json {
            message,
            line: 0,
            column: 0,
        }),
        (None, Ok(())) => builder.finish(),
    }
}

// === impl Builder ===

/// The state of one parse: entries are validated as they stream out of the JSON array.
struct Builder<'a> {
    limits: &'a ManifestLimits,
    default_modified_unix: i64,
    filename: Option<String>,
    notify_url: Option<String>,
    files_seen: bool,
    entries: Vec<Entry>,
    total_bytes: u64,
    /// The file URLs' parser, which remembers their authorities.
    urls: urls::UrlParser,
    /// Where the deserialiser is, to name it in JSON errors.
    at: At,
    /// The first failure; the deserialiser is then stopped with a placeholder error.
    error: Option<Failure>,
}

impl<'a> Builder<'a> {
    fn new(limits: &'a ManifestLimits, default_modified_unix: i64) -> Self {
        Builder {
            limits,
            default_modified_unix,
            filename: None,
            notify_url: None,
            files_seen: false,
            entries: Vec::new(),
            total_bytes: 0,
            urls: urls::UrlParser::default(),
            at: At::Top,
            error: None,
        }
    }

    /// Records a validation error and returns the deserialiser error that stops parsing.
    fn fail<E: de::Error>(&mut self, failure: Failure) -> E {
        self.error = Some(failure);
        E::custom("invalid manifest")
    }

    fn set_filename(&mut self, raw: Typed<String>) -> Result<(), ManifestError> {
        let name =
            rules::download_name(raw).map_err(|problem| ManifestError::Filename { problem })?;
        self.filename = Some(name);
        Ok(())
    }

    fn set_notify_url(&mut self, raw: Typed<String>) -> Result<(), ManifestError> {
        let url = rules::notify_url(raw).map_err(|problem| ManifestError::NotifyUrl { problem })?;
        self.notify_url = Some(url);
        Ok(())
    }

    fn push(&mut self, index: usize, raw: RawFile) -> Result<(), ManifestError> {
        let entry = rules::validate_file(index, raw, self.default_modified_unix, &mut self.urls)?;
        if let EntryKind::File(FileSource {
            size: Some(size), ..
        }) = entry.kind
        {
            let max = self.limits.max_total_bytes;
            match self.total_bytes.checked_add(size) {
                Some(total) if total <= max => self.total_bytes = total,
                _ => {
                    return Err(ManifestError::Field {
                        index,
                        field: Field::Size,
                        problem: Problem::TotalTooLarge { max },
                    })
                }
            }
        }
        self.entries.push(entry);
        Ok(())
    }

    fn finish(self) -> Result<Manifest, ManifestError> {
        if !self.files_seen {
            return Err(ManifestError::MissingFiles);
        }
        let mut entries = self.entries;
        let mut paths: Vec<String> = entries.iter().map(|entry| entry.path.clone()).collect();
        names::dedupe(&mut paths).map_err(|e| ManifestError::Field {
            index: e.index,
            field: Field::Path,
            problem: Problem::CannotRename,
        })?;
        let mut renamed = Vec::new();
        for (index, (entry, name)) in entries.iter_mut().zip(paths).enumerate() {
            if entry.path != name {
                let path = std::mem::replace(&mut entry.path, name.clone());
                renamed.push(Renamed { index, path, name });
            }
        }
        Ok(Manifest {
            filename: self.filename,
            entries,
            notify_url: self.notify_url,
            renamed,
        })
    }
}

#[cfg(test)]
mod tests;
