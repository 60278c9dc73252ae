//! The headers of file requests and responses: which request headers a manifest may set
//! ([`validate_request_headers`]) and the size headers of answers ([`declared_length`], [`content_range`]).
//!
//! Pure functions over header maps: no I/O. Messages name a header but never its value.

use http::header::{
    HeaderName, ACCEPT_ENCODING, CONNECTION, CONTENT_LENGTH, CONTENT_RANGE, EXPECT, HOST, IF_RANGE,
    RANGE, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, HeaderValue};

/// Headers zipper sets or that would change the bytes or the framing; the manifest may not set them.
const RESERVED: [HeaderName; 11] = [
    HOST,
    RANGE,
    IF_RANGE,
    CONTENT_LENGTH,
    TRANSFER_ENCODING,
    CONNECTION,
    TE,
    UPGRADE,
    EXPECT,
    TRAILER,
    // No decompression is done, so a compressed answer would end up in the archive as is.
    ACCEPT_ENCODING,
];

/// A manifest request header that cannot be sent: its name and what is wrong (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHeader {
    /// The header name as given.
    pub name: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// Validates a manifest's extra request headers into a map.
pub fn validate_request_headers(headers: &[(String, String)]) -> Result<HeaderMap, BadHeader> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let bad = |reason| BadHeader {
            name: name.clone(),
            reason,
        };
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("not a valid name"))?;
        if RESERVED.contains(&header) || header.as_str() == "keep-alive" {
            return Err(bad("set by zipper, not allowed in a manifest"));
        }
        let value = HeaderValue::from_str(value).map_err(|_| bad("the value is not valid"))?;
        map.append(header, value);
    }
    Ok(map)
}

/// `Content-Length` of a whole-body answer.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

/// Parses `Content-Range: bytes first-last/total` into `(first, total)`; `total` is `None` for `*`.
pub fn content_range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    parse_content_range(headers.get(CONTENT_RANGE)?.to_str().ok()?)
}

fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.trim().split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    if last < first {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        n => {
            let n: u64 = n.parse().ok()?;
            if last >= n {
                return None;
            }
            Some(n)
        }
    };
    Some((first, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, Some(10))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("bytes 5-4/10"), None);
        assert_eq!(parse_content_range("bytes 5-10/10"), None);
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
