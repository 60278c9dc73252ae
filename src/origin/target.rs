//! The request target of the manifest GET, kept as signed (docs/contract.md, Manifest request): the path and query of the
//! callback string exactly as the link carries it, escapes and their case kept, nothing decoded or
//! re-encoded. Only bytes that may not appear in a request line (outside RFC 3986's `unreserved`,
//! `reserved` and `%`: non-ASCII, controls, space, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`) are
//! percent-encoded, and dot segments are resolved as RFC 3986 §5.2.4 says.
//!
//! Why not `url::Url`'s serialisation: it follows the WHATWG URL standard, which for `http(s)` turns `\`
//! into `/` and percent-encodes `'` in the query, so the origin would be asked for another target than the
//! one it signed. [`url::Url`] still decides the scheme, host and port (what the guard checks and the
//! connection uses); this module only supplies the path and query.

use url::{Position, Url};

/// The path and query to request for the absolute URL `signed`, as signed; `None` when its authority
/// does not end in a plain `/`, `?`, `#` or the end (then the parsed URL's own target is used).
pub fn exact_target(signed: &str) -> Option<String> {
    let (_, after_scheme) = signed.split_once("://")?;
    let at = after_scheme
        .find(['/', '?', '#', '\\'])
        .unwrap_or(after_scheme.len());
    let rest = &after_scheme[at..];
    if rest.starts_with('\\') {
        return None;
    }
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let mut out = remove_dot_segments(&encode_forbidden(path));
    if out.is_empty() {
        out.push('/');
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&encode_forbidden(query));
    }
    Some(out)
}

/// The `http::Uri` sent for `url`: its scheme and authority, and `exact` (from [`exact_target`]) or else
/// the URL's own path and query.
pub fn request_uri(url: &Url, exact: Option<&str>) -> Option<http::Uri> {
    let base = &url[..Position::AfterPort];
    let target = exact.unwrap_or(&url[Position::BeforePath..Position::AfterQuery]);
    format!("{base}{target}").parse().ok()
}

/// Whether `b` may stand as is in a request target: RFC 3986 `unreserved`, `gen-delims` other than `#`,
/// `[` and `]` (not allowed in a path or query), `sub-delims`, and `%` (escapes are kept as written).
fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b':'
                | b'/'
                | b'?'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'%'
        )
}

fn encode_forbidden(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if allowed(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// RFC 3986 §5.2.4 on a path (only literal `.` and `..` segments are dot segments).
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut output: Vec<&str> = Vec::new();
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            output.pop();
        } else if input == "/.." {
            input = "/";
            output.pop();
        } else if input == "." || input == ".." {
            input = "";
        } else {
            // The first segment, with its leading '/' if any, up to the next '/'.
            let from = usize::from(input.starts_with('/'));
            let end = input[from..].find('/').map_or(input.len(), |i| i + from);
            output.push(&input[..end]);
            input = &input[end..];
        }
    }
    output.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(signed: &str) -> String {
        let url = Url::parse(signed).expect("test URL");
        let exact = exact_target(signed);
        let uri = request_uri(&url, exact.as_deref()).expect("a request target");
        uri.path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    #[test]
    fn awkward_callbacks_are_requested_as_signed() {
        for (signed, want) in [
            (
                "https://app.example/dl/%7e/zip?timestamp=1",
                "/dl/%7e/zip?timestamp=1",
            ),
            (
                "https://app.example/dl/%7E/zip?timestamp=1",
                "/dl/%7E/zip?timestamp=1",
            ),
            (
                "https://app.example/a%2Fb/zip?x=%2f&timestamp=1",
                "/a%2Fb/zip?x=%2f&timestamp=1",
            ),
            (
                "https://app.example/a+b/zip?q=a+b&timestamp=1",
                "/a+b/zip?q=a+b&timestamp=1",
            ),
            (
                "https://app.example/zip?a=&&b&timestamp=1&",
                "/zip?a=&&b&timestamp=1&",
            ),
            (
                "https://app.example/zip?timestamp=1&name='x'",
                "/zip?timestamp=1&name='x'",
            ),
            (
                "https://app.example/caf%C3%A9?timestamp=1",
                "/caf%C3%A9?timestamp=1",
            ),
            (
                "https://app.example/café/zip?n=é&timestamp=1",
                "/caf%C3%A9/zip?n=%C3%A9&timestamp=1",
            ),
            (
                "https://app.example/a b?c d&timestamp=1",
                "/a%20b?c%20d&timestamp=1",
            ),
            (
                "https://app.example/a\\b?c\\d&timestamp=1",
                "/a%5Cb?c%5Cd&timestamp=1",
            ),
            ("https://app.example/x?timestamp=1#frag", "/x?timestamp=1"),
            ("https://app.example?timestamp=1", "/?timestamp=1"),
            (
                "https://app.example/a/./b/../c?timestamp=1",
                "/a/c?timestamp=1",
            ),
            (
                "https://app.example/a/%2e%2E/c?timestamp=1",
                "/a/%2e%2E/c?timestamp=1",
            ),
            (
                "https://app.example:8443/x;p=1?timestamp=1",
                "/x;p=1?timestamp=1",
            ),
            (
                "https://app.example/x?timestamp=1&json={\"a\":1}",
                "/x?timestamp=1&json=%7B%22a%22:1%7D",
            ),
        ] {
            assert_eq!(sent(signed), want, "{signed}");
        }
    }

    #[test]
    fn what_the_parsed_url_alone_would_have_changed() {
        // The reasons this module exists: the WHATWG serialisation re-encodes these.
        let url = Url::parse("https://app.example/a\\b?n='x'").expect("url");
        assert_eq!(&url[Position::BeforePath..], "/a/b?n=%27x%27");
        assert_eq!(sent("https://app.example/a\\b?n='x'"), "/a%5Cb?n='x'");
    }

    #[test]
    fn scheme_host_and_port_come_from_the_parsed_url() {
        let signed = "HTTPS://App.Example:443/x?timestamp=1";
        let url = Url::parse(signed).expect("url");
        let uri = request_uri(&url, exact_target(signed).as_deref()).expect("uri");
        assert_eq!(uri.to_string(), "https://app.example/x?timestamp=1");
        // An authority ended by '\' is left to the parsed URL.
        assert_eq!(exact_target("https://app.example\\x?timestamp=1"), None);
        assert_eq!(sent("https://app.example\\x?timestamp=1"), "/x?timestamp=1");
    }

    #[test]
    fn dot_segments_follow_rfc_3986() {
        for (path, want) in [
            ("/a/b/c/./../../g", "/a/g"),
            ("/../x", "/x"),
            ("/a/..", "/"),
            ("/a/.", "/a/"),
            ("/a//b", "/a//b"),
            ("/.well-known/x", "/.well-known/x"),
        ] {
            assert_eq!(remove_dot_segments(path), want, "{path}");
        }
    }
}
