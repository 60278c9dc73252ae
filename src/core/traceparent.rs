//! The W3C Trace Context `traceparent` header (<https://www.w3.org/TR/trace-context/#traceparent-header>):
//! [`valid_traceparent`] decides whether a client's value may be passed on to origins.
//!
//! Accepted: `version-traceid-parentid-flags` in lower-case hex, 2-32-16-2 digits, version not `ff`, trace
//! and parent ids not all zeros; version `00` is exactly that long, a later version may carry more
//! `-`-separated fields (as the spec asks of a reader that does not know it). Anything else is dropped, not
//! refused: a bad `traceparent` never fails a download. Pure: no I/O.

/// The longest value considered (a later version's extra fields included).
const MAX_LEN: usize = 512;

/// Whether `value` is a `traceparent` zipper passes on.
pub fn valid_traceparent(value: &str) -> bool {
    if value.len() > MAX_LEN {
        return false;
    }
    let mut parts = value.splitn(5, '-');
    let (Some(version), Some(trace_id), Some(parent_id), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let rest = parts.next();
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    hex(version, 2)
        && version != "ff"
        && hex(trace_id, 32)
        && nonzero(trace_id)
        && hex(parent_id, 16)
        && nonzero(parent_id)
        && hex(flags, 2)
        && match rest {
            None => true,
            // Version 00 has exactly four fields; a later one may have more.
            Some(_) => version != "00",
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_spec_example_passes() {
        assert!(valid_traceparent(GOOD));
        assert!(valid_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        ));
        // A later version with an extra field.
        assert!(valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next"
        ));
    }

    #[test]
    fn malformed_values_are_dropped() {
        for bad in [
            "",
            "00",
            "garbage",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx: y",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(!valid_traceparent(bad), "{bad:?}");
        }
        assert!(!valid_traceparent(&format!("01{}", &GOOD[2..]).repeat(20)));
    }
}
