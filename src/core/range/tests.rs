use proptest::prelude::*;

use super::*;
use crate::core::fuzzing::fuzz_range;

use RangeDecision::{Full, Partial, Unsatisfiable};

fn part(start: u64, end_inclusive: u64) -> RangeDecision {
    Partial {
        start,
        end_inclusive,
    }
}

#[test]
fn first_to_last() {
    assert_eq!(parse_range("bytes=0-499", 1000), part(0, 499));
    assert_eq!(parse_range("bytes=500-999", 1000), part(500, 999));
    assert_eq!(parse_range("bytes=0-0", 1000), part(0, 0));
    assert_eq!(parse_range("bytes=999-999", 1000), part(999, 999));
}

#[test]
fn last_is_clamped_to_the_end() {
    // Esri/zipstream answers 200 here; RFC 9110 §14.1.2 says clamp.
    assert_eq!(parse_range("bytes=500-1000", 1000), part(500, 999));
    assert_eq!(parse_range("bytes=1-18446744073709551615", 10), part(1, 9));
    assert_eq!(
        parse_range("bytes=1-99999999999999999999999", 10),
        part(1, 9)
    );
}

#[test]
fn open_ended() {
    assert_eq!(parse_range("bytes=0-", 1000), part(0, 999));
    assert_eq!(parse_range("bytes=999-", 1000), part(999, 999));
}

#[test]
fn suffix() {
    assert_eq!(parse_range("bytes=-1", 1000), part(999, 999));
    assert_eq!(parse_range("bytes=-500", 1000), part(500, 999));
    assert_eq!(parse_range("bytes=-1000", 1000), part(0, 999));
}

#[test]
fn a_suffix_longer_than_the_representation_is_the_whole_of_it() {
    assert_eq!(parse_range("bytes=-1001", 1000), part(0, 999));
    assert_eq!(
        parse_range("bytes=-99999999999999999999999", 1000),
        part(0, 999)
    );
}

#[test]
fn a_zero_suffix_is_unsatisfiable() {
    assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
    assert_eq!(parse_range("bytes=-000", 1000), Unsatisfiable);
}

#[test]
fn a_start_at_or_past_the_end_is_unsatisfiable() {
    assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
    assert_eq!(parse_range("bytes=1000-2000", 1000), Unsatisfiable);
    assert_eq!(parse_range("bytes=5000-", 1000), Unsatisfiable);
    assert_eq!(
        parse_range("bytes=99999999999999999999999-", u64::MAX),
        Unsatisfiable
    );
}

#[test]
fn an_empty_representation_satisfies_no_range() {
    for header in ["bytes=0-", "bytes=0-0", "bytes=-1", "bytes=-0", "bytes=5-9"] {
        assert_eq!(parse_range(header, 0), Unsatisfiable, "{header}");
    }
    // A header that is ignored is still ignored.
    assert_eq!(parse_range("bytes=x", 0), Full);
}

#[test]
fn the_largest_length() {
    assert_eq!(parse_range("bytes=0-", u64::MAX), part(0, u64::MAX - 1));
    assert_eq!(
        parse_range("bytes=-1", u64::MAX),
        part(u64::MAX - 1, u64::MAX - 1)
    );
}

#[test]
fn several_ranges_are_served_whole() {
    assert_eq!(parse_range("bytes=0-1,5-6", 1000), Full);
    assert_eq!(parse_range("bytes=0-1, -5", 1000), Full);
    assert_eq!(parse_range("bytes=0-1,0-1", 1000), Full);
    // Even when every range is past the end: the contract says several ranges → 200.
    assert_eq!(parse_range("bytes=2000-,3000-", 1000), Full);
}

#[test]
fn empty_list_elements_are_skipped() {
    assert_eq!(parse_range("bytes=,0-1", 1000), part(0, 1));
    assert_eq!(parse_range("bytes=0-1,", 1000), part(0, 1));
    assert_eq!(parse_range("bytes= , 0-1 ,, ", 1000), part(0, 1));
}

#[test]
fn whitespace_is_tolerated() {
    assert_eq!(parse_range(" bytes=0-1 ", 1000), part(0, 1));
    assert_eq!(parse_range("bytes = 0-1", 1000), part(0, 1));
    assert_eq!(parse_range("bytes=0 - 1", 1000), part(0, 1));
    assert_eq!(parse_range("bytes=\t-5\t", 1000), part(995, 999));
}

#[test]
fn the_unit_is_case_insensitive() {
    assert_eq!(parse_range("BYTES=0-1", 1000), part(0, 1));
    assert_eq!(parse_range("Bytes=0-1", 1000), part(0, 1));
}

#[test]
fn malformed_headers_are_ignored() {
    for header in [
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "bytes=-",
        "bytes=a-b",
        "bytes=1-a",
        "bytes=0x10-",
        "bytes=+1-2",
        "bytes=-+1",
        "bytes=1--2",
        "bytes=1-2-3",
        "bytes=5-4",
        "bytes=0.5-1",
        "bytes=0-1;q=1",
        "bytes=١-٢",
        "bytes 0-1",
        "bytes=0-1,x",
        "items=0-1",
        "bytesx=0-1",
        "=0-1",
    ] {
        assert_eq!(parse_range(header, 1000), Full, "{header:?}");
    }
}

#[test]
fn leading_zeros_are_digits() {
    assert_eq!(parse_range("bytes=007-010", 1000), part(7, 10));
}

#[test]
fn content_range_strings() {
    assert_eq!(content_range(0, 499, 1000), "bytes 0-499/1000");
    assert_eq!(
        content_range(u64::MAX - 1, u64::MAX - 1, u64::MAX),
        "bytes 18446744073709551614-18446744073709551614/18446744073709551615"
    );
    assert_eq!(unsatisfied_content_range(1000), "bytes */1000");
    assert_eq!(unsatisfied_content_range(0), "bytes */0");
}

// === If-Range ===

const ETAG: &str = "\"z1-abc\"";

#[test]
fn no_if_range_allows_the_range() {
    assert!(if_range_allows_partial(None, ETAG));
}

#[test]
fn the_same_strong_etag_allows_the_range() {
    assert!(if_range_allows_partial(Some("\"z1-abc\""), ETAG));
    assert!(if_range_allows_partial(Some("  \"z1-abc\"\t"), ETAG));
}

#[test]
fn another_etag_gives_the_whole() {
    assert!(!if_range_allows_partial(Some("\"z1-abd\""), ETAG));
    assert!(!if_range_allows_partial(Some("\"Z1-ABC\""), ETAG));
    assert!(!if_range_allows_partial(Some("z1-abc"), ETAG));
    assert!(!if_range_allows_partial(Some(""), ETAG));
}

#[test]
fn a_weak_validator_never_matches() {
    assert!(!if_range_allows_partial(Some("W/\"z1-abc\""), ETAG));
    assert!(!if_range_allows_partial(
        Some("W/\"z1-abc\""),
        "W/\"z1-abc\""
    ));
}

#[test]
fn a_date_never_matches() {
    assert!(!if_range_allows_partial(
        Some("Sun, 07 Apr 2019 22:00:00 GMT"),
        ETAG
    ));
}

#[test]
fn a_malformed_own_etag_never_matches() {
    assert!(!if_range_allows_partial(Some("abc"), "abc"));
    assert!(!if_range_allows_partial(Some("\""), "\""));
    assert!(!if_range_allows_partial(Some("\"a\"b\""), "\"a\"b\""));
}

// === properties ===

/// Headers built from the pieces of the grammar, so that most are valid and many are near misses.
fn range_header() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        (0u64..2_000).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just("99999999999999999999999".to_owned()),
        Just(String::new()),
    ];
    let spec = (number.clone(), number).prop_map(|(a, b)| format!("{a}-{b}"));
    (
        prop_oneof![Just("bytes"), Just("BYTES"), Just("bites")],
        prop::collection::vec(spec, 0..3),
        prop_oneof![Just(","), Just(" , "), Just(",,")],
    )
        .prop_map(|(unit, specs, sep)| format!("{unit}={}", specs.join(sep)))
}

proptest! {
    #[test]
    fn every_partial_lies_within_the_representation(
        header in range_header(),
        len in prop_oneof![0u64..2_000, any::<u64>()],
    ) {
        if let Partial { start, end_inclusive } = parse_range(&header, len) {
            prop_assert!(start <= end_inclusive);
            prop_assert!(end_inclusive < len);
        }
        fuzz_range(&header, len, None);
    }

    #[test]
    fn a_single_valid_range_agrees_with_a_slice(a in 0u64..300, b in 0u64..300, len in 0u64..200) {
        // Reference: the bytes a..=b of a representation of `len` bytes, clamped.
        let decision = parse_range(&format!("bytes={a}-{b}"), len);
        let expected = if b < a {
            Full
        } else if a >= len {
            Unsatisfiable
        } else {
            part(a, b.min(len - 1))
        };
        prop_assert_eq!(decision, expected);
    }

    #[test]
    fn a_suffix_agrees_with_a_slice(n in 0u64..300, len in 0u64..200) {
        let decision = parse_range(&format!("bytes=-{n}"), len);
        let expected = if n == 0 || len == 0 {
            Unsatisfiable
        } else {
            part(len.saturating_sub(n), len - 1)
        };
        prop_assert_eq!(decision, expected);
    }

    #[test]
    fn arbitrary_headers_never_panic(header in any::<String>(), len in any::<u64>(), if_range in any::<Option<String>>()) {
        fuzz_range(&header, len, if_range.as_deref());
    }
}
