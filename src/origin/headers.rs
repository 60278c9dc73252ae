//! The headers of file requests and responses: which request headers a manifest may set
//! ([`validate_headers`], holding them to the one deny-list [`crate::core::manifest::REFUSED_HEADERS`]) and
//! the size headers of answers ([`declared_length`], [`content_range`]), and copies of header values kept
//! past their message ([`owned_value`]). It does not know the file fetcher
//! (`files.rs` wraps [`BadHeader`] into its own error), so the two do not import each other.
//!
//! Pure functions over header maps: no I/O. Messages name a header but never its value.

use http::header::{HeaderName, CONTENT_LENGTH, CONTENT_RANGE};
use http::{HeaderMap, HeaderValue};

use crate::core::manifest::is_refused_header;

/// A manifest header that cannot be sent: its name as given and what is wrong (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHeader {
    /// The header name as given.
    pub name: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// A copy of `value` in an allocation of its own (sensitivity kept).
///
/// hyper parses an HTTP/1 head into slices of the connection's 8 KiB read buffer, so a cloned value keeps
/// that whole buffer alive, and hyper allocates another for its next read: a value kept for as long as a
/// download runs (an origin's ETag, a client's `traceparent`) would cost 8 KiB per download. The copy is a
/// few bytes. A value that cannot be copied (it always can: it was valid) is shared as before.
pub fn owned_value(value: &HeaderValue) -> HeaderValue {
    match HeaderValue::from_bytes(value.as_bytes()) {
        Ok(mut copy) => {
            copy.set_sensitive(value.is_sensitive());
            copy
        }
        Err(_) => value.clone(),
    }
}

/// Validates a file request's extra headers into a map (`files::request_headers` wraps it with the URL).
pub fn validate_headers(headers: &[(String, String)]) -> Result<HeaderMap, BadHeader> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let bad = |reason| BadHeader {
            name: name.clone(),
            reason,
        };
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("not a valid name"))?;
        // The one deny-list, the manifest validation's: a request built by other means is held to it too.
        if is_refused_header(header.as_str()) {
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
    use super::super::files::{request_headers, FileRequest};
    use super::*;
    use crate::error::{Code, HasCode};

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, Some(10))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("bytes 5-4/10"), None);
        assert_eq!(parse_content_range("bytes 5-10/10"), None);
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn reserved_and_invalid_headers_are_refused_without_their_values() {
        let mut req = FileRequest::new("https://cdn.example.com/a?sig=secret");
        req.headers = vec![("Authorization".into(), "Bearer x".into())];
        assert_eq!(request_headers(&req).map(|m| m.len()).ok(), Some(1));
        for (name, value) in [
            ("Range", "bytes=0-"),
            ("bad name", "v"),
            ("X-A", "line\nbreak"),
        ] {
            req.headers = vec![(name.into(), value.into())];
            let err = request_headers(&req).expect_err(name);
            let text = err.to_string();
            assert!(
                !text.contains("secret") && !text.contains("bytes=0-"),
                "{text}"
            );
            assert_eq!(err.code(), Code::InvalidManifest);
        }
    }

    /// One deny-list: every header the manifest validation refuses, the origin client refuses too (in any
    /// case), and the manifest validation refuses exactly the list's names.
    #[test]
    fn the_one_deny_list_holds_for_manifests_and_file_requests() {
        use crate::core::manifest::{parse_manifest, ManifestLimits, REFUSED_HEADERS};
        for name in REFUSED_HEADERS {
            for spelled in [name.to_string(), name.to_ascii_uppercase()] {
                let mut req = FileRequest::new("https://cdn.example.com/a");
                req.headers = vec![(spelled.clone(), "v".into())];
                assert!(request_headers(&req).is_err(), "{spelled}");
                let manifest = format!(
                    r#"{{"files":[{{"url":"https://cdn.example.com/a","path":"a","headers":{{"{spelled}":"v"}}}}]}}"#
                );
                assert!(
                    parse_manifest(manifest.as_bytes(), 0, &ManifestLimits::default()).is_err(),
                    "{spelled}"
                );
            }
        }
        let mut req = FileRequest::new("https://cdn.example.com/a");
        req.headers = vec![("X-Custom".into(), "v".into())];
        assert!(request_headers(&req).is_ok());
    }
}
