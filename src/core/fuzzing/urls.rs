//! Lines of arbitrary bytes as the file URLs of one manifest (`fuzz/fuzz_targets/manifest_urls.rs`).

use crate::core::manifest::urls::UrlParser;

/// Fuzz logic for `fuzz/fuzz_targets/manifest_urls.rs`: each line of `data`, parsed by one
/// [`UrlParser`] (which reuses the authorities of earlier lines), gives exactly what a full
/// `url::Url::parse` gives, error or not. Every line is parsed twice, so the second time its authority is
/// always remembered.
///
/// Panics (on purpose, for the fuzzer) on any difference.
pub fn fuzz_urls(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').take(64).collect();
    let mut parser = UrlParser::default();
    for raw in lines.iter().chain(lines.iter()) {
        let fast = parser.parse(raw).map(String::from);
        let full = url::Url::parse(raw).map(String::from);
        assert_eq!(fast, full, "{raw:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_lines_parse_as_a_full_parse_does(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            fuzz_urls(&data);
        }
    }

    #[test]
    fn urls_sharing_an_authority_parse_as_a_full_parse_does() {
        fuzz_urls(b"http://a.example/x\nhttp://a.example//b.example/y\nHTTPS://a.example:443/%7e?q#f\nhttp://a.example/\\z");
    }
}
