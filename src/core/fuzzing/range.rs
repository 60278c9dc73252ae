//! `Range` / `If-Range` headers and lengths (`fuzz/fuzz_targets/range.rs`).

use crate::core::range::{
    content_range, if_range_allows_partial, is_strong_entity_tag, parse_range, trim_ows,
    unsatisfied_content_range, RangeDecision,
};

/// Fuzz logic for `fuzz/fuzz_targets/range.rs`: never panics, and a partial range lies within `0..len`.
///
/// Panics (on purpose, for the fuzzer) if an invariant is broken.
pub fn fuzz_range(header: &str, len: u64, if_range: Option<&str>) {
    match parse_range(header, len) {
        RangeDecision::Partial {
            start,
            end_inclusive,
        } => {
            assert!(
                start <= end_inclusive,
                "{header:?} on {len}: {start} > {end_inclusive}"
            );
            assert!(
                end_inclusive < len,
                "{header:?} on {len}: ends at {end_inclusive}"
            );
            let header_value = content_range(start, end_inclusive, len);
            assert!(http::HeaderValue::from_str(&header_value).is_ok());
        }
        RangeDecision::Unsatisfiable => {
            assert!(http::HeaderValue::from_str(&unsatisfied_content_range(len)).is_ok());
        }
        RangeDecision::Full => {}
    }
    let _ = if_range_allows_partial(if_range, "\"zipper-etag\"");
    if let Some(value) = if_range {
        // A tag always matches itself exactly when it is strong.
        let trimmed = trim_ows(value);
        assert_eq!(
            if_range_allows_partial(Some(trimmed), trimmed),
            is_strong_entity_tag(trimmed)
        );
    }
}
