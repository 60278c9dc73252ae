//! What can be wrong with a manifest: [`ManifestError`], naming the place (`files[12].url`) and the kind of
//! problem ([`Problem`]), never a value from the body: values carry signed URLs and credentials, and errors
//! reach the response body and the logs.

use std::fmt;

use super::MAX_FILENAME_BYTES;
use crate::core::names::{self, NameError};
use crate::error::{Code, HasCode};

/// Why a manifest is invalid. Its `Display` names the entry and field; every variant is `invalid_manifest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The body is not JSON, or not JSON of the manifest's shape where no single field can be named.
    #[error("{message}")]
    Json {
        /// The full message: the place (`manifest`, `files`, `files[3]`), the kind of problem (`expected an
        /// object`, a JSON syntax error) and the line and column; never a value from the body.
        message: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// There is no `files` array.
    #[error("files: missing")]
    MissingFiles,
    /// More entries than [`ManifestLimits::max_entries`](super::ManifestLimits::max_entries).
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
    /// The `notify_url` field is invalid.
    #[error("notify_url: {problem}")]
    NotifyUrl {
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
    /// A field of one line of a mod_zip file list is invalid (`line 3: location: …`).
    #[error("line {line}: {field}: {problem}")]
    Line {
        /// 1-based line number in the body.
        line: usize,
        /// Which field of the line.
        field: LineField,
        /// What is wrong.
        problem: Problem,
    },
    /// A mod_zip file list declared a charset other than UTF-8 (`X-Archive-Charset`).
    #[error("X-Archive-Charset: only utf-8 is supported")]
    Charset,
    /// The download name in the `Content-Disposition` of a mod_zip answer is invalid.
    #[error("Content-Disposition filename: {problem}")]
    Disposition {
        /// What is wrong.
        problem: Problem,
    },
}

/// A field of a line of a mod_zip file list: `<crc32> <size> <location> <name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineField {
    /// The CRC-32 (hex, or `-`).
    Crc32,
    /// The size in bytes.
    Size,
    /// Where to fetch the file (a path, an absolute URL, or `@directory`).
    Location,
    /// The name inside the archive.
    Name,
}

impl fmt::Display for LineField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineField::Crc32 => "crc32",
            LineField::Size => "size",
            LineField::Location => "location",
            LineField::Name => "name",
        })
    }
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
    /// A mod_zip CRC-32 that is neither `-` nor 1 to 8 hex digits.
    #[error("expected '-' or 1 to 8 hex digits")]
    NotModZipCrc32,
    /// A mod_zip location that is neither a path (`/…`), an absolute http(s) URL nor `@directory`.
    #[error("expected a path starting with '/', an absolute http(s) URL or @directory")]
    NotModZipLocation,
    /// Bytes that are not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
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
    /// The `notify_url` is too long.
    #[error("longer than {} bytes", super::MAX_NOTIFY_URL_BYTES)]
    UrlTooLong,
    /// The download name is too long.
    #[error("longer than {MAX_FILENAME_BYTES} bytes")]
    FilenameTooLong,
}
