//! The file URLs of one manifest, parsed by the WHATWG rules of the `url` crate, with the parse of each
//! scheme and authority done once: a manifest's files nearly always sit on one host or a few, and the
//! authority (host parsing and IDNA mapping) was about half of the `url` crate's time per URL, which was a
//! third of the time to a 5,000-entry archive's first byte.
//!
//! Why a module of our own: `url` has no API for many URLs that share an authority. It does parse a
//! relative reference against a base (`ParseOptions::base_url`), and for a *path-absolute* reference
//! (`/path?query#fragment`) that copies the base's scheme, user info, host and port and parses only the
//! rest, which is exactly what a full parse does after the authority. [`split`] finds where that rest
//! starts and refuses every input where the two could differ (see its doc); the property test and the
//! `manifest` fuzz target check the outcome against a full parse. This module owns parsing only: which
//! URLs a manifest accepts is `rules.rs`'s.

use url::Url;

/// Authorities remembered per manifest. A manifest with more hosts than this parses the rest in full,
/// which is only slower; a linear scan of a few strings costs less than one host parse.
const BASES: usize = 8;

/// Parses the URLs of one manifest.
#[derive(Debug, Default)]
pub(crate) struct UrlParser {
    /// `http(s)://authority` as written, and the parse of it with a `/` path.
    bases: Vec<(String, Url)>,
}

impl UrlParser {
    /// `raw` parsed as [`Url::parse`] parses it.
    pub(crate) fn parse(&mut self, raw: &str) -> Result<Url, url::ParseError> {
        let Some(at) = split(raw) else {
            return Url::parse(raw);
        };
        let (prefix, rest) = raw.split_at(at);
        if let Some((_, base)) = self.bases.iter().find(|(p, _)| p == prefix) {
            return Url::options().base_url(Some(base)).parse(rest);
        }
        let url = Url::parse(raw)?;
        if self.bases.len() < BASES {
            if let Ok(base) = Url::parse(&format!("{prefix}/")) {
                self.bases.push((prefix.to_owned(), base));
            }
        }
        Ok(url)
    }
}

/// Where `raw`'s path starts, when the rest parses against the parse of what comes before it (with a
/// `/` path) to exactly what a full parse gives. That holds when:
/// - `raw` starts with `http://` or `https://` (any case): a special scheme written out, so the first
///   `://` ends the scheme and `\` ends the authority as `/` does;
/// - `raw` has no tab, line feed or carriage return: the parser deletes them anywhere first, so
///   `/\t/x` would become the scheme-relative `//x` on its own but stays a path after an authority;
/// - the authority ends at a `/` (not `\`, `?` or `#`, and not at the end of the input);
/// - that `/` is not followed by `/` or `\`, which would make the rest scheme-relative (a new host).
fn split(raw: &str) -> Option<usize> {
    if raw.bytes().any(|b| matches!(b, b'\t' | b'\n' | b'\r')) {
        return None;
    }
    let start = ["http://", "https://"].iter().find_map(|scheme| {
        raw.get(..scheme.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(scheme))
            .map(|_| scheme.len())
    })?;
    let end = start + raw.get(start..)?.find(['/', '\\', '?', '#'])?;
    let bytes = raw.as_bytes();
    if bytes.get(end) != Some(&b'/') || matches!(bytes.get(end + 1), Some(b'/' | b'\\')) {
        return None;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Each URL parsed through one parser (so later ones hit the remembered authorities) gives what a
    /// full parse gives, error or not.
    fn agrees(urls: &[String]) -> Result<(), TestCaseError> {
        let mut parser = UrlParser::default();
        for raw in urls {
            let fast = parser.parse(raw).map(String::from);
            let full = Url::parse(raw).map(String::from);
            prop_assert_eq!(fast, full, "{:?}", raw);
        }
        Ok(())
    }

    #[test]
    fn urls_on_remembered_authorities_parse_as_a_full_parse_does() {
        let cases: Vec<String> = [
            "http://app.example/a/b.jpg",
            "http://app.example/a/../c%2F?x=1#f",
            "http://app.example//evil.example/x",
            "http://app.example/\\evil.example/x",
            "http://app.example/\t/evil.example/x",
            "http://app.example/ spaced name.txt ",
            "http://app.example/ünïcödé/ß?q=ü",
            "HTTP://User:Pass@App.Example:80/x",
            "HTTP://User:Pass@App.Example:80/y",
            "http://app.example:/x",
            "http://app.example:99999/x",
            "http://app.example?x",
            "http://app.example#x",
            "http://app.example",
            "https://xn--bcher-kva.example/x",
            "https://bücher.example/y",
            "https://bücher.example/z",
            "http://[::1]:8080/a",
            "http://[::1]:8080/b",
            "http://0x7f.1/a",
            "http://0x7f.1/b",
            "http://%41pp.example/a",
            "http://%41pp.example/b",
            "http://a b/x",
            "http:///x",
            "http://@/x",
            "http://u@/x",
            "http:app.example/?u=http://b/c",
            "http:app.example/?u=http://b/d",
            " http://app.example/x",
            "foo://app.example/x",
            "foo://app.example/y",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        agrees(&cases).expect("agrees");
    }

    fn authority() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("http://app.example".to_string()),
            Just("https://App.EXAMPLE:443".to_string()),
            Just("http://user:p%40ss@cdn.example:8080".to_string()),
            Just("https://bücher.example".to_string()),
            Just("http://[::1]:1".to_string()),
            Just("http://127.1".to_string()),
            "(http|https|HTTP)://[a-zA-Z0-9.%@:\\[\\]ü-]{0,12}",
            "(http:|foo://|http:/)[a-z0-9./?=:-]{0,12}",
        ]
    }

    fn rest() -> impl Strategy<Value = String> {
        "[/\\\\?#a-z0-9.%ü \t:@;=&+-]{0,16}"
    }

    proptest! {
        #[test]
        fn any_url_parses_as_a_full_parse_does(
            urls in proptest::collection::vec((authority(), rest()), 1..12),
        ) {
            let urls: Vec<String> = urls.into_iter().map(|(a, r)| format!("{a}{r}")).collect();
            // Twice over: the second round finds every authority remembered.
            let twice: Vec<String> = urls.iter().chain(urls.iter()).cloned().collect();
            agrees(&twice)?;
        }
    }
}
