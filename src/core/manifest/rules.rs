//! The manifest's validation rules (the module doc of `core::manifest` lists them): one file object as
//! read by `wire.rs` becomes an [`Entry`], or the [`Field`] and [`Problem`] that are wrong. The rules never
//! see JSON, and their errors never carry a value (a header is named, its value never).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::urls::UrlParser;
use super::wire::{HeaderPairs, RawFile, Typed};
use super::{Compression, Entry, EntryKind, Field, FileSource, ManifestError, Problem};
use super::{MAX_FILENAME_BYTES, MAX_NOTIFY_URL_BYTES};
use crate::core::names;

/// Headers a manifest may not set for a file's GET (see the module doc of `core::manifest`), lower case:
/// the one deny-list, used by manifest validation here and by the origin client before every file request
/// (`origin::headers::request_headers`).
pub const REFUSED_HEADERS: &[&str] = &[
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

/// Whether a manifest may not set header `name` (any case) for a file's GET.
pub fn is_refused_header(name: &str) -> bool {
    REFUSED_HEADERS
        .iter()
        .any(|refused| refused.eq_ignore_ascii_case(name))
}

/// The `filename` field: a sanitised download name ending in `.zip`, at most [`MAX_FILENAME_BYTES`].
pub(super) fn download_name(raw: Typed<String>) -> Result<String, Problem> {
    let Typed::Is(raw) = raw else {
        return Err(Problem::NotAString);
    };
    let name = names::sanitize_download_name(&raw);
    if !names::has_zip_extension(&name) {
        return Err(Problem::NotZip);
    }
    if name.len() > MAX_FILENAME_BYTES {
        return Err(Problem::FilenameTooLong);
    }
    Ok(name)
}

/// Validates file `index`, field by field in the documented order.
pub(super) fn validate_file(
    index: usize,
    raw: RawFile,
    default_modified_unix: i64,
    urls: &mut UrlParser,
) -> Result<Entry, ManifestError> {
    let fail = |field, problem| ManifestError::Field {
        index,
        field,
        problem,
    };
    let (path, is_dir) = match raw.path {
        None => return Err(fail(Field::Path, Problem::Missing)),
        Some(Typed::Is(path)) => {
            names::normalize_path(&path).map_err(|e| fail(Field::Path, Problem::Name(e)))?
        }
        Some(Typed::Other) => return Err(fail(Field::Path, Problem::NotAString)),
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
    let url = parse_url(raw.url, urls).map_err(|p| fail(Field::Url, p))?;
    let size = match raw.size {
        None => None,
        Some(Typed::Is(size)) => Some(size),
        Some(Typed::Other) => return Err(fail(Field::Size, Problem::NotASize)),
    };
    let crc32 = match raw.crc32 {
        None => None,
        Some(value) => {
            Some(parse_crc32(value).ok_or_else(|| fail(Field::Crc32, Problem::NotCrc32))?)
        }
    };
    let modified_unix = parse_modified(raw.modified, default_modified_unix)
        .map_err(|p| fail(Field::Modified, p))?;
    let compression = match raw.compression {
        None => Compression::Store,
        Some(Typed::Is(s)) if s == "store" => Compression::Store,
        Some(Typed::Is(s)) if s == "deflate" => Compression::Deflate,
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

/// The `notify_url` field: an absolute http(s) URL written out in full (the rule of a file's `url`), at most
/// [`MAX_NOTIFY_URL_BYTES`] long.
pub(super) fn notify_url(raw: Typed<String>) -> Result<String, Problem> {
    if matches!(&raw, Typed::Is(s) if s.len() > MAX_NOTIFY_URL_BYTES) {
        return Err(Problem::UrlTooLong);
    }
    parse_url(Some(raw), &mut UrlParser::default())
}

fn parse_url(raw: Option<Typed<String>>, urls: &mut UrlParser) -> Result<String, Problem> {
    let raw = match raw {
        None => return Err(Problem::Missing),
        Some(Typed::Is(raw)) => raw,
        Some(Typed::Other) => return Err(Problem::NotAString),
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
    let url = urls.parse(&raw).map_err(|_| Problem::NotHttpUrl)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Problem::NotHttpUrl);
    }
    Ok(url.into())
}

fn parse_crc32(value: Typed<String>) -> Option<u32> {
    let Typed::Is(s) = value else {
        return None;
    };
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(&s, 16).ok()
}

fn parse_modified(raw: Option<Typed<String>>, default: i64) -> Result<i64, Problem> {
    match raw {
        None => Ok(default),
        Some(Typed::Is(s)) => OffsetDateTime::parse(&s, &Rfc3339)
            .map(OffsetDateTime::unix_timestamp)
            .map_err(|_| Problem::NotRfc3339),
        Some(Typed::Other) => Err(Problem::NotRfc3339),
    }
}

fn parse_headers(raw: Typed<HeaderPairs>) -> Result<Vec<(String, String)>, (Field, Problem)> {
    let Typed::Is(HeaderPairs(pairs)) = raw else {
        return Err((Field::Headers, Problem::NotAnObject));
    };
    let mut headers = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| (Field::Headers, Problem::InvalidHeaderName))?;
        let name = name.as_str().to_owned();
        let Typed::Is(value) = value else {
            return Err((Field::Header(name), Problem::NotAString));
        };
        if is_refused_header(&name) {
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
