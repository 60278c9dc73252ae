//! nginx mod_zip's file list as a second manifest format: [`parse_mod_zip`] reads it into the same validated
//! [`Manifest`] as a JSON body, through the same rules and limits; [`parse_response`] picks the format from
//! the callback's answer ([`BodyHeaders`]). So an origin written for mod_zip works with zipper unchanged.
//!
//! It must not fetch, read the clock or decide statuses (like the JSON reader), and it never puts a value
//! from the body or the headers into an error: errors name the line and the field (`line 3: location: …`).
//!
//! # The format (mod_zip's README and test suite)
//!
//! The answer is mod_zip's when it has `X-Archive-Files: zip`, or `Content-Type: text/plain` and a body
//! that does not start with `{` (a JSON manifest served as text keeps working). The body is one entry a line
//! (`\n` or `\r\n`; blank lines are skipped), fields separated by one or more spaces:
//!
//! ```text
//! <crc32> <size> <location> <name>
//! 1034ab38 428    /foo.txt   My Document1.txt
//! -        100339 /bar%20baz.txt?v=2 docs/My Other Document1.txt
//! 0        0      @directory empty folder/
//! ```
//!
//! - `crc32`: `-` (unknown) or 1 to 8 hex digits, either case (mod_zip reads any number of digits; shorter
//!   forms are printed by origins that drop leading zeros).
//! - `size`: decimal bytes, 0 to 2^64-1.
//! - `location`: `@directory` makes the line a directory (its size and CRC are ignored and the name gets a
//!   trailing `/`); an absolute `http://` or `https://` URL (zipper's extension) follows the rule of a JSON
//!   `url`; otherwise it must be a path starting with `/`, percent-encoded as mod_zip requires, and is
//!   resolved against the callback's scheme, host and port (never its user info). As in mod_zip, a `+` in
//!   the path is a space (sent as `%20`), the query after `?` is kept as written, and `#` is part of the
//!   location (sent as `%23`), not a fragment.
//! - `name`: the rest of the line after the spaces, spaces (trailing ones too) included; it must be UTF-8,
//!   then follows the rules of a JSON `path`. With `X-Archive-Name-Sep: <sep>`, only what follows the first
//!   `<sep>` is used: mod_zip's UTF-8 name (zipper writes UTF-8 names only). A separator longer than
//!   [`MAX_NAME_SEP_BYTES`] is ignored.
//! - `X-Archive-Charset`: absent or `utf-8` (`utf8`, a trailing `;`, any case); any other charset is
//!   [`ManifestError::Charset`]: zipper does not transcode names.
//! - `Content-Disposition`: its `filename*` (UTF-8) or `filename` becomes the manifest's `filename`, under
//!   the same rule (it must end in `.zip`).
//!
//! # The same rules
//!
//! Each line becomes the raw file the JSON reader would have produced (`RawFile`) and goes through the same
//! `Builder`: the same field rules (`rules.rs`), the entry and total-size limits, the duplicate renaming.
//! Their errors are re-addressed from `files[i].field` to the line and mod_zip's field name. Cost: one pass
//! over the lines, each byte looked at a constant number of times; the body was already capped by the
//! fetcher.

use url::Url;

use super::wire::{RawFile, Typed};
use super::{
    parse_manifest, Builder, Field, LineField, Manifest, ManifestError, ManifestLimits, Problem,
};

/// The longest `X-Archive-Name-Sep` used (a longer one is ignored), so finding it stays linear.
pub const MAX_NAME_SEP_BYTES: usize = 16;

/// The headers of the callback's answer that say how to read its body (values as received; absent is
/// `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyHeaders {
    /// `X-Archive-Files` (mod_zip's switch: `zip`).
    pub x_archive_files: Option<Vec<u8>>,
    /// `Content-Type`.
    pub content_type: Option<Vec<u8>>,
    /// `X-Archive-Charset`: the names' charset.
    pub x_archive_charset: Option<Vec<u8>>,
    /// `X-Archive-Name-Sep`: separates a native name from the UTF-8 one.
    pub x_archive_name_sep: Option<Vec<u8>>,
    /// `Content-Disposition`: the download name.
    pub content_disposition: Option<Vec<u8>>,
}

impl BodyHeaders {
    /// The headers that matter, from a response's header map (first value of each).
    pub fn from_header_map(headers: &http::HeaderMap) -> BodyHeaders {
        let get = |name: &str| headers.get(name).map(|v| v.as_bytes().to_vec());
        BodyHeaders {
            x_archive_files: get("x-archive-files"),
            content_type: get("content-type"),
            x_archive_charset: get("x-archive-charset"),
            x_archive_name_sep: get("x-archive-name-sep"),
            content_disposition: get("content-disposition"),
        }
    }

    /// Whether `body` is a mod_zip file list (see the module doc).
    pub fn is_mod_zip(&self, body: &[u8]) -> bool {
        if self
            .x_archive_files
            .as_deref()
            .is_some_and(|v| trim(v).eq_ignore_ascii_case(b"zip"))
        {
            return true;
        }
        let text_plain = self.content_type.as_deref().is_some_and(|v| {
            let media = v.split(|&b| b == b';').next().unwrap_or_default();
            trim(media).eq_ignore_ascii_case(b"text/plain")
        });
        text_plain && body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
    }
}

/// Parses the callback's answer: a mod_zip file list when [`BodyHeaders::is_mod_zip`] says so, else a JSON
/// manifest ([`parse_manifest`]). `callback` is the signed callback URL that mod_zip locations resolve
/// against.
pub fn parse_response(
    body: &[u8],
    headers: &BodyHeaders,
    callback: &str,
    default_modified_unix: i64,
    limits: &ManifestLimits,
) -> Result<Manifest, ManifestError> {
    if headers.is_mod_zip(body) {
        parse_mod_zip(body, headers, callback, default_modified_unix, limits)
    } else {
        parse_manifest(body, default_modified_unix, limits)
    }
}

/// Parses and validates a mod_zip file list (see the module doc for the format and every rule).
pub fn parse_mod_zip(
    body: &[u8],
    headers: &BodyHeaders,
    callback: &str,
    default_modified_unix: i64,
    limits: &ManifestLimits,
) -> Result<Manifest, ManifestError> {
    if !charset_is_utf8(headers.x_archive_charset.as_deref()) {
        return Err(ManifestError::Charset);
    }
    let name_sep = headers
        .x_archive_name_sep
        .as_deref()
        .map(header_token)
        .filter(|sep| !sep.is_empty() && sep.len() <= MAX_NAME_SEP_BYTES);
    let base = origin_of(callback);
    let mut builder = Builder::new(limits, default_modified_unix);
    builder.files_seen = true;
    if let Some(name) = headers
        .content_disposition
        .as_deref()
        .and_then(disposition_filename)
    {
        builder
            .set_filename(Typed::Is(name))
            .map_err(|error| match error {
                ManifestError::Filename { problem } => ManifestError::Disposition { problem },
                other => other,
            })?;
    }
    // The body line of each entry, to name it in errors found after the list (duplicates).
    let mut lines = Vec::new();
    for (number, line) in body.split(|&b| b == b'\n').enumerate() {
        let number = number + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Trailing spaces belong to the name (mod_zip keeps them); only a line of spaces is blank.
        let line = trim_leading_spaces(line);
        if line.is_empty() {
            continue;
        }
        let index = lines.len();
        if index >= limits.max_entries {
            return Err(ManifestError::TooManyEntries {
                max: limits.max_entries,
            });
        }
        let raw = read_line(line, number, base.as_deref(), name_sep)?;
        builder
            .push(index, raw)
            .map_err(|error| at_line(error, number))?;
        lines.push(number);
    }
    builder.finish().map_err(|error| match error {
        ManifestError::Field { index, .. } => {
            at_line(error, lines.get(index).copied().unwrap_or_default())
        }
        other => other,
    })
}

/// One non-blank line (trimmed) as the raw file the rules judge.
fn read_line(
    line: &[u8],
    number: usize,
    base: Option<&str>,
    name_sep: Option<&[u8]>,
) -> Result<RawFile, ManifestError> {
    let fail = |field, problem| ManifestError::Line {
        line: number,
        field,
        problem,
    };
    let (crc, rest) = split_field(line);
    let (size, rest) = split_field(rest);
    let (location, name) = split_field(rest);
    let crc32 = parse_crc32(crc).ok_or_else(|| fail(LineField::Crc32, Problem::NotModZipCrc32))?;
    if size.is_empty() {
        return Err(fail(LineField::Size, Problem::Missing));
    }
    let size = parse_size(size).ok_or_else(|| fail(LineField::Size, Problem::NotASize))?;
    if location.is_empty() {
        return Err(fail(LineField::Location, Problem::Missing));
    }
    let location = std::str::from_utf8(location)
        .map_err(|_| fail(LineField::Location, Problem::NotModZipLocation))?;
    let name = match name_sep.and_then(|sep| find(name, sep)) {
        Some(at) => &name[at + name_sep.map_or(0, <[u8]>::len)..],
        None => name,
    };
    if name.is_empty() {
        return Err(fail(LineField::Name, Problem::Missing));
    }
    let mut name = std::str::from_utf8(name)
        .map_err(|_| fail(LineField::Name, Problem::NotUtf8))?
        .to_owned();
    if location == "@directory" {
        if !name.ends_with(['/', '\\']) {
            name.push('/');
        }
        return Ok(RawFile {
            path: Some(Typed::Is(name)),
            ..RawFile::default()
        });
    }
    let url = if is_absolute_http(location) {
        location.to_owned()
    } else if location.starts_with('/') {
        let base = base.ok_or_else(|| fail(LineField::Location, Problem::NotHttpUrl))?;
        resolve(base, location)
    } else {
        return Err(fail(LineField::Location, Problem::NotModZipLocation));
    };
    Ok(RawFile {
        url: Some(Typed::Is(url)),
        path: Some(Typed::Is(name)),
        size: Some(Typed::Is(size)),
        crc32: crc32.map(|crc| Typed::Is(format!("{crc:08x}"))),
        ..RawFile::default()
    })
}

/// A rule's `files[i].field` error re-addressed to body line `line`.
fn at_line(error: ManifestError, line: usize) -> ManifestError {
    match error {
        ManifestError::Field { field, problem, .. } => ManifestError::Line {
            line,
            field: match field {
                Field::Url => LineField::Location,
                Field::Size => LineField::Size,
                Field::Crc32 => LineField::Crc32,
                _ => LineField::Name,
            },
            problem,
        },
        other => other,
    }
}

/// The field up to the next space, and the rest after the spaces that follow it.
fn split_field(line: &[u8]) -> (&[u8], &[u8]) {
    let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let (field, rest) = line.split_at(end);
    (field, trim_leading_spaces(rest))
}

/// `-` is `Some(None)`; 1 to 8 hex digits are `Some(Some(crc))`; anything else is `None`.
fn parse_crc32(field: &[u8]) -> Option<Option<u32>> {
    if field == b"-" {
        return Some(None);
    }
    if field.is_empty() || field.len() > 8 || !field.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let text = std::str::from_utf8(field).ok()?;
    u32::from_str_radix(text, 16).ok().map(Some)
}

fn parse_size(field: &[u8]) -> Option<u64> {
    if !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

fn is_absolute_http(location: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        location
            .get(..scheme.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
    })
}

/// `scheme://host[:port]` of the callback, or `None` if it has no host.
fn origin_of(callback: &str) -> Option<String> {
    let url = Url::parse(callback).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// The URL of mod_zip location `location` (a path) on `base`: `+` in the path is a space, `#` is literal.
fn resolve(base: &str, location: &str) -> String {
    let (path, query) = match location.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (location, None),
    };
    let mut url = String::with_capacity(base.len() + location.len() + 8);
    url.push_str(base);
    for c in path.chars() {
        match c {
            '+' => url.push_str("%20"),
            '#' => url.push_str("%23"),
            c => url.push(c),
        }
    }
    if let Some(query) = query {
        url.push('?');
        for c in query.chars() {
            match c {
                '#' => url.push_str("%23"),
                c => url.push(c),
            }
        }
    }
    url
}

/// Whether an `X-Archive-Charset` value names UTF-8 (absent or empty is UTF-8).
fn charset_is_utf8(value: Option<&[u8]>) -> bool {
    let Some(value) = value.map(header_token) else {
        return true;
    };
    value.is_empty() || value.eq_ignore_ascii_case(b"utf-8") || value.eq_ignore_ascii_case(b"utf8")
}

/// A header value trimmed, without the trailing `;` of mod_zip's examples (`native;`).
fn header_token(value: &[u8]) -> &[u8] {
    let value = trim(value);
    match value.strip_suffix(b";") {
        Some(stripped) if !stripped.is_empty() => trim(stripped),
        _ => value,
    }
}

/// The download name of a `Content-Disposition` value: `filename*` in UTF-8 when present and readable,
/// else `filename` (a token or a quoted string), else `None`.
fn disposition_filename(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?;
    let mut plain = None;
    let mut extended = None;
    let mut rest = value.split_once(';').map_or("", |(_, params)| params);
    while !rest.is_empty() {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let (name, after) = match rest.find(['=', ';']) {
            Some(at) if rest.as_bytes()[at] == b'=' => (rest[..at].trim(), &rest[at + 1..]),
            Some(at) => {
                rest = &rest[at..];
                continue;
            }
            None => break,
        };
        let after = after.trim_start_matches([' ', '\t']);
        let (param, next) = match after.strip_prefix('"') {
            Some(quoted) => read_quoted(quoted),
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim().to_owned(), &after[end..])
            }
        };
        if name.eq_ignore_ascii_case("filename") {
            plain = Some(param);
        } else if name.eq_ignore_ascii_case("filename*") {
            extended = decode_ext_value(&param);
        }
        rest = next;
    }
    extended.or(plain).filter(|name| !name.is_empty())
}

/// A quoted string's content (backslash escapes undone) and what follows its closing quote.
fn read_quoted(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    out.push(escaped);
                }
            }
            c => out.push(c),
        }
    }
    (out, "")
}

/// An RFC 8187 `UTF-8''percent-encoded` value, decoded; other charsets are `None`.
fn decode_ext_value(value: &str) -> Option<String> {
    let (charset, rest) = value.split_once('\'')?;
    let (_language, encoded) = rest.split_once('\'')?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .ok()
        .map(|name| name.into_owned())
}

/// The first index of `needle` in `haystack` (at most [`MAX_NAME_SEP_BYTES`] long, so this is linear).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn trim(value: &[u8]) -> &[u8] {
    value.trim_ascii()
}

fn trim_leading_spaces(value: &[u8]) -> &[u8] {
    let start = value.iter().take_while(|&&b| b == b' ').count();
    &value[start..]
}

#[cfg(test)]
mod tests;
