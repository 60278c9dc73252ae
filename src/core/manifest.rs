//! The manifest of CONTRACT.md §3: [`parse_manifest`] turns the origin's JSON body into a validated
//! [`Manifest`] (entries with safe, unique names, parsed URLs, sizes, CRCs, times and per-file headers), or a
//! [`ManifestError`] that names the entry and field (`files[12].url: not an absolute http(s) URL`).
//!
//! It must not fetch anything, read the clock or decide statuses: the body arrives already read (and capped)
//! by `origin::manifest`, the default time is the link's timestamp, and [`ManifestError`] maps to
//! `invalid_manifest` through [`HasCode`]. Entry names follow [`crate::core::names`].
//!
//! # Rules beyond the contract's text
//!
//! - Unknown fields are ignored, at the top level and in each file. An optional field given as `null` is
//!   treated as absent; a required one (`path`, or `url` of a file) given as `null` is missing. A field given
//!   twice in the same object is invalid JSON.
//! - `filename` is optional. When present it must be a string; it is passed through the download-name rule
//!   of §1 (control characters, `"`, `/` and `\` become `_`), must then end in `.zip` (case-insensitive, like
//!   the link's name) and be at most [`MAX_FILENAME_BYTES`] bytes.
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
//!   The headers are kept sorted by name. Error messages name a header but never echo a value.
//! - Limits ([`ManifestLimits`]): more than `max_entries` files is invalid (checked while parsing, so a huge
//!   list is never held in memory); the sum of the known `size`s over `max_total_bytes` is invalid, and
//!   the error names the entry at which the sum crosses the limit.
//! - Checks run in document order and the first failure is reported; within a file the order is `path`,
//!   `url`, `size`, `crc32`, `modified`, `compression`, `headers`. Duplicate names are resolved last, by
//!   [`names::dedupe`].

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::core::names::{self, NameError};
use crate::error::{Code, HasCode};

/// Default [`ManifestLimits::max_entries`] (CONTRACT.md §3).
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// Default [`ManifestLimits::max_total_bytes`]: 1 TiB (CONTRACT.md §3).
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 1 << 40;
/// The longest `filename` accepted, in bytes (a common file-system limit for one name).
pub const MAX_FILENAME_BYTES: usize = 255;

/// Headers a manifest may not set for a file's GET (see the module doc).
const REFUSED_HEADERS: &[&str] = &[
    "accept-encoding",
    "connection",
    "content-length",
    "expect",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

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

/// Why a manifest is invalid. Its `Display` names the entry and field; every variant is `invalid_manifest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The body is not JSON, or not JSON of the manifest's shape where no single field can be named.
    #[error("{message}")]
    Json {
        /// The full message, with the entry (`files[3]: …`) when known and the line and column.
        message: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// There is no `files` array.
    #[error("files: missing")]
    MissingFiles,
    /// More entries than [`ManifestLimits::max_entries`].
    #[error("files: more than {max} entries")]
    TooManyEntries {
        /// The limit.
        max: usize,
    },
    /// The `filename` field is invalid.
    #[error("filename: {problem}")]
    Filename {
        /// What is wrong.
        problem: Problem,
    },
    /// A field of one file is invalid.
    #[error("files[{index}].{field}: {problem}")]
    Field {
        /// 0-based index in `files`.
        index: usize,
        /// Which field.
        field: Field,
        /// What is wrong.
        problem: Problem,
    },
}

impl HasCode for ManifestError {
    fn code(&self) -> Code {
        Code::InvalidManifest
    }
}

/// A field of a file object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// `url`
    Url,
    /// `path`
    Path,
    /// `size`
    Size,
    /// `crc32`
    Crc32,
    /// `modified`
    Modified,
    /// `compression`
    Compression,
    /// `headers` as a whole.
    Headers,
    /// One header, by its (valid, lower-case) name: `headers.authorization`.
    Header(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Url => f.write_str("url"),
            Field::Path => f.write_str("path"),
            Field::Size => f.write_str("size"),
            Field::Crc32 => f.write_str("crc32"),
            Field::Modified => f.write_str("modified"),
            Field::Compression => f.write_str("compression"),
            Field::Headers => f.write_str("headers"),
            Field::Header(name) => write!(f, "headers.{name}"),
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A required field is absent or `null`.
    #[error("missing")]
    Missing,
    /// Not a JSON string.
    #[error("expected a string")]
    NotAString,
    /// Not a JSON object.
    #[error("expected an object")]
    NotAnObject,
    /// The URL does not parse, or its scheme is not http(s).
    #[error("not an absolute http(s) URL")]
    NotHttpUrl,
    /// The path cannot be an entry name.
    #[error("{0}")]
    Name(NameError),
    /// The path ends in `/` (a directory) but the entry has a `url`.
    #[error("not allowed on a directory (a path ending in '/')")]
    UrlOnDirectory,
    /// A duplicate path could not be renamed within the name limit.
    #[error(
        "duplicate name that cannot be renamed within {} bytes",
        names::MAX_NAME_BYTES
    )]
    CannotRename,
    /// Not an integer in `0..=u64::MAX`.
    #[error("expected an integer from 0 to 18446744073709551615")]
    NotASize,
    /// The known sizes add up to more than the limit.
    #[error("the sizes add up to more than {max} bytes")]
    TotalTooLarge {
        /// The limit.
        max: u64,
    },
    /// Not exactly 8 hex digits.
    #[error("expected a string of 8 hex digits")]
    NotCrc32,
    /// Not an RFC 3339 date-time.
    #[error("expected an RFC 3339 date-time such as \"2019-04-07T22:00:00Z\"")]
    NotRfc3339,
    /// Not `"store"` or `"deflate"`.
    #[error("expected \"store\" or \"deflate\"")]
    UnknownCompression,
    /// A header name that is not a valid HTTP field name.
    #[error("contains an invalid header name")]
    InvalidHeaderName,
    /// A header value that is not a valid HTTP field value.
    #[error("invalid header value")]
    InvalidHeaderValue,
    /// A header zipper sets or must control itself.
    #[error("may not be set by a manifest")]
    RefusedHeader,
    /// The same header name twice (case-insensitively).
    #[error("given more than once")]
    DuplicateHeader,
    /// The download name does not end in `.zip`.
    #[error("must end in .zip")]
    NotZip,
    /// The download name is too long.
    #[error("longer than {MAX_FILENAME_BYTES} bytes")]
    FilenameTooLong,
}

/// Parses and validates a manifest body (CONTRACT.md §3; see the module doc for every rule).
///
/// `default_modified_unix` is the link's timestamp, used for entries without `modified`.
pub fn parse_manifest(
    body: &[u8],
    default_modified_unix: i64,
    limits: &ManifestLimits,
) -> Result<Manifest, ManifestError> {
    let mut builder = Builder {
        limits,
        default_modified_unix,
        filename: None,
        files_seen: false,
        entries: Vec::new(),
        total_bytes: 0,
        at: At::Top,
        error: None,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = TopLevel(&mut builder)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Some(error) = builder.error.take() {
        return Err(error);
    }
    if let Err(error) = parsed {
        return Err(json_error(&error, builder.at));
    }
    builder.finish()
}

fn json_error(error: &serde_json::Error, at: At) -> ManifestError {
    let what = match error.classify() {
        serde_json::error::Category::Data => "",
        _ => "invalid JSON: ",
    };
    let message = match at {
        At::File(index) => format!("files[{index}]: {what}{error}"),
        At::Files => format!("files: {what}{error}"),
        At::Top if what.is_empty() => format!("manifest: {error}"),
        At::Top => format!("{what}{error}"),
    };
    ManifestError::Json {
        message,
        line: error.line(),
        column: error.column(),
    }
}

/// Where a JSON error happened.
#[derive(Debug, Clone, Copy)]
enum At {
    Top,
    Files,
    File(usize),
}

// === impl Builder ===

/// The state of one parse: entries are validated as they stream out of the JSON array.
struct Builder<'a> {
    limits: &'a ManifestLimits,
    default_modified_unix: i64,
    filename: Option<String>,
    files_seen: bool,
    entries: Vec<Entry>,
    total_bytes: u64,
    /// Where the deserialiser is, to name it in JSON errors.
    at: At,
    /// The first validation error; the deserialiser is then stopped with a placeholder error.
    error: Option<ManifestError>,
}

impl Builder<'_> {
    /// Records a validation error and returns the deserialiser error that stops parsing.
    fn fail<E: de::Error>(&mut self, error: ManifestError) -> E {
        self.error = Some(error);
        E::custom("invalid manifest")
    }

    fn set_filename(&mut self, raw: Value) -> Result<(), ManifestError> {
        let fail = |problem| ManifestError::Filename { problem };
        let Value::String(raw) = raw else {
            return Err(fail(Problem::NotAString));
        };
        let name = names::sanitize_download_name(&raw);
        let ends_in_zip = name
            .len()
            .checked_sub(4)
            .and_then(|at| name.get(at..))
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".zip"));
        if !ends_in_zip {
            return Err(fail(Problem::NotZip));
        }
        if name.len() > MAX_FILENAME_BYTES {
            return Err(fail(Problem::FilenameTooLong));
        }
        self.filename = Some(name);
        Ok(())
    }

    fn push(&mut self, index: usize, raw: RawFile) -> Result<(), ManifestError> {
        let entry = validate_file(index, raw, self.default_modified_unix)?;
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
        let mut paths: Vec<String> = entries
            .iter_mut()
            .map(|entry| std::mem::take(&mut entry.path))
            .collect();
        names::dedupe(&mut paths).map_err(|e| ManifestError::Field {
            index: e.index,
            field: Field::Path,
            problem: Problem::CannotRename,
        })?;
        for (entry, path) in entries.iter_mut().zip(paths) {
            entry.path = path;
        }
        Ok(Manifest {
            filename: self.filename,
            entries,
        })
    }
}

// === validation of one file ===

/// A file object as written, each known field kept loose so that its errors can name it.
#[derive(Deserialize)]
#[serde(expecting = "a file object")]
struct RawFile {
    url: Option<Value>,
    path: Option<Value>,
    size: Option<Value>,
    crc32: Option<Value>,
    modified: Option<Value>,
    compression: Option<Value>,
    headers: Option<RawHeaders>,
}

fn validate_file(
    index: usize,
    raw: RawFile,
    default_modified_unix: i64,
) -> Result<Entry, ManifestError> {
    let fail = |field, problem| ManifestError::Field {
        index,
        field,
        problem,
    };
    let (path, is_dir) = match raw.path {
        None => return Err(fail(Field::Path, Problem::Missing)),
        Some(Value::String(path)) => {
            names::normalize_path(&path).map_err(|e| fail(Field::Path, Problem::Name(e)))?
        }
        Some(_) => return Err(fail(Field::Path, Problem::NotAString)),
    };
    if is_dir {
        if raw.url.is_some() {
            return Err(fail(Field::Url, Problem::UrlOnDirectory));
        }
        let modified_unix = parse_modified(raw.modified, default_modified_unix)
            .map_err(|p| fail(Field::Modified, p))?;
        return Ok(Entry {
            path,
            modified_unix,
            kind: EntryKind::Directory,
        });
    }
    let url = parse_url(raw.url).map_err(|p| fail(Field::Url, p))?;
    let size = match raw.size {
        None => None,
        Some(value) => Some(
            value
                .as_u64()
                .ok_or_else(|| fail(Field::Size, Problem::NotASize))?,
        ),
    };
    let crc32 = match raw.crc32 {
        None => None,
        Some(value) => {
            Some(parse_crc32(&value).ok_or_else(|| fail(Field::Crc32, Problem::NotCrc32))?)
        }
    };
    let modified_unix = parse_modified(raw.modified, default_modified_unix)
        .map_err(|p| fail(Field::Modified, p))?;
    let compression = match raw.compression.as_ref() {
        None => Compression::Store,
        Some(Value::String(s)) if s == "store" => Compression::Store,
        Some(Value::String(s)) if s == "deflate" => Compression::Deflate,
        Some(_) => return Err(fail(Field::Compression, Problem::UnknownCompression)),
    };
    let headers = match raw.headers {
        None => Vec::new(),
        Some(raw) => parse_headers(raw).map_err(|(field, problem)| fail(field, problem))?,
    };
    Ok(Entry {
        path,
        modified_unix,
        kind: EntryKind::File(FileSource {
            url,
            size,
            crc32,
            compression,
            headers,
        }),
    })
}

fn parse_url(raw: Option<Value>) -> Result<String, Problem> {
    let raw = match raw {
        None => return Err(Problem::Missing),
        Some(Value::String(raw)) => raw,
        Some(_) => return Err(Problem::NotAString),
    };
    // The WHATWG parser repairs `https:host`, `https:\\host`, `http:///host` and surrounding spaces; a
    // manifest must write the URL out in full.
    let after_scheme = ["http://", "https://"].iter().find_map(|scheme| {
        raw.get(..scheme.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(scheme))
            .map(|_| &raw[scheme.len()..])
    });
    if after_scheme.is_none_or(|rest| rest.starts_with(['/', '\\'])) {
        return Err(Problem::NotHttpUrl);
    }
    let url = url::Url::parse(&raw).map_err(|_| Problem::NotHttpUrl)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Problem::NotHttpUrl);
    }
    Ok(url.into())
}

fn parse_crc32(value: &Value) -> Option<u32> {
    let s = value.as_str()?;
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

fn parse_modified(raw: Option<Value>, default: i64) -> Result<i64, Problem> {
    match raw {
        None => Ok(default),
        Some(Value::String(s)) => OffsetDateTime::parse(&s, &Rfc3339)
            .map(OffsetDateTime::unix_timestamp)
            .map_err(|_| Problem::NotRfc3339),
        Some(_) => Err(Problem::NotRfc3339),
    }
}

fn parse_headers(raw: RawHeaders) -> Result<Vec<(String, String)>, (Field, Problem)> {
    let RawHeaders::Object(pairs) = raw else {
        return Err((Field::Headers, Problem::NotAnObject));
    };
    let mut headers = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| (Field::Headers, Problem::InvalidHeaderName))?;
        let name = name.as_str().to_owned();
        let Value::String(value) = value else {
            return Err((Field::Header(name), Problem::NotAString));
        };
        if REFUSED_HEADERS.contains(&name.as_str()) {
            return Err((Field::Header(name), Problem::RefusedHeader));
        }
        if http::HeaderValue::from_str(&value).is_err() {
            return Err((Field::Header(name), Problem::InvalidHeaderValue));
        }
        headers.push((name, value));
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = headers.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err((Field::Header(pair[0].0.clone()), Problem::DuplicateHeader));
    }
    Ok(headers)
}

// === deserialisation ===

/// `headers` as written: every pair kept (a repeated key is caught, not overwritten), or not an object.
enum RawHeaders {
    Object(Vec<(String, Value)>),
    NotAnObject,
}

impl<'de> Deserialize<'de> for RawHeaders {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawHeadersVisitor)
    }
}

struct RawHeadersVisitor;

impl<'de> Visitor<'de> for RawHeadersVisitor {
    type Value = RawHeaders;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of header names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeaders, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry::<String, Value>()? {
            pairs.push(pair);
        }
        Ok(RawHeaders::Object(pairs))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawHeaders, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawHeaders::NotAnObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawHeaders, E> {
        Ok(RawHeaders::NotAnObject)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawHeaders, E> {
        Ok(RawHeaders::NotAnObject)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawHeaders, E> {
        Ok(RawHeaders::NotAnObject)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawHeaders, E> {
        Ok(RawHeaders::NotAnObject)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawHeaders, E> {
        Ok(RawHeaders::NotAnObject)
    }
}

/// The top-level keys zipper reads; every other key is skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum TopField {
    Filename,
    Files,
    #[serde(other)]
    Other,
}

/// Deserialises the top-level object into the builder.
struct TopLevel<'b, 'a>(&'b mut Builder<'a>);

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a manifest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let builder = self.0;
        let mut filename_seen = false;
        while let Some(key) = map.next_key::<TopField>()? {
            match key {
                TopField::Filename => {
                    if std::mem::replace(&mut filename_seen, true) {
                        return Err(de::Error::duplicate_field("filename"));
                    }
                    if let Some(raw) = map.next_value::<Option<Value>>()? {
                        if let Err(error) = builder.set_filename(raw) {
                            return Err(builder.fail(error));
                        }
                    }
                }
                TopField::Files => {
                    if std::mem::replace(&mut builder.files_seen, true) {
                        return Err(de::Error::duplicate_field("files"));
                    }
                    builder.at = At::Files;
                    map.next_value_seed(Files(&mut *builder))?;
                    builder.at = At::Top;
                }
                TopField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Deserialises the `files` array, validating each file as it arrives.
struct Files<'b, 'a>(&'b mut Builder<'a>);

impl<'de> DeserializeSeed<'de> for Files<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Files<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of file objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let builder = self.0;
        for index in 0.. {
            builder.at = At::File(index);
            let Some(raw) = seq.next_element::<RawFile>()? else {
                break;
            };
            if index >= builder.limits.max_entries {
                let max = builder.limits.max_entries;
                return Err(builder.fail(ManifestError::TooManyEntries { max }));
            }
            if let Err(error) = builder.push(index, raw) {
                return Err(builder.fail(error));
            }
        }
        builder.at = At::Files;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
