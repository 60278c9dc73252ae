//! Range math for one representation of known length (RFC 9110 §14, docs/contract.md, Responses):
//! [`parse_range`] turns a `Range` header into a [`RangeDecision`], [`if_range_allows_partial`] applies
//! `If-Range`, and [`content_range`] / [`unsatisfied_content_range`] format the answer's `Content-Range`.
//!
//! It must not know about archives, parts or origins (mapping a range onto the layout is the layout's job),
//! and it never fails: a header it cannot use is ignored, as RFC 9110 §14.2 allows.
//!
//! Decisions, in order:
//!
//! - A header that is not `bytes=` followed by a valid range set is ignored ([`RangeDecision::Full`]): an
//!   unknown unit, a malformed spec, `last-pos < first-pos`, a non-digit, an empty set. The unit is
//!   case-insensitive; spaces and tabs are tolerated around the header, around `=`, `,` and `-`; empty list
//!   elements (`bytes=0-1,`) are skipped (RFC 9110 §5.6.1).
//! - More than one range: [`RangeDecision::Full`] (the contract serves several ranges as the whole 200;
//!   RFC 9110 lets a server ignore `Range`).
//! - One range: `a-b` is `a..=min(b, len-1)`; `a-` is `a..=len-1`; `-n` is the last `min(n, len)` bytes.
//!   A first position at or past `len`, a suffix of `-0`, or any range of an empty representation is
//!   [`RangeDecision::Unsatisfiable`] (416). Numbers too large for `u64` saturate, which gives the same
//!   answer as exact arithmetic since `len` fits in `u64`.

/// What to send for a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeDecision {
    /// Ignore the header: `200` with the whole representation.
    Full,
    /// `206` with bytes `start..=end_inclusive`, which always lie within `0..len`.
    Partial {
        /// First byte sent.
        start: u64,
        /// Last byte sent (inclusive).
        end_inclusive: u64,
    },
    /// `416` with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// One syntactically valid range-spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `a-b` or `a-` (`last` is `None`).
    FromTo { first: u64, last: Option<u64> },
    /// `-n`.
    Suffix(u64),
}

/// Decides what a `Range` header asks of a representation of `len` bytes (see the module doc).
pub fn parse_range(header: &str, len: u64) -> RangeDecision {
    let Some(specs) = parse_specs(header) else {
        return RangeDecision::Full;
    };
    let [spec] = specs[..] else {
        return RangeDecision::Full;
    };
    let Some(last_byte) = len.checked_sub(1) else {
        return RangeDecision::Unsatisfiable;
    };
    match spec {
        Spec::FromTo { first, last } => {
            if first >= len {
                RangeDecision::Unsatisfiable
            } else {
                RangeDecision::Partial {
                    start: first,
                    end_inclusive: last.map_or(last_byte, |last| last.min(last_byte)),
                }
            }
        }
        Spec::Suffix(0) => RangeDecision::Unsatisfiable,
        Spec::Suffix(n) => RangeDecision::Partial {
            start: len - n.min(len),
            end_inclusive: last_byte,
        },
    }
}

/// The valid range-specs of a `bytes` Range header, or `None` when the header must be ignored.
///
/// Stops at the second spec: the caller only needs to know whether there is exactly one, and the syntax of
/// the rest does not change the answer (`Full` either way).
fn parse_specs(header: &str) -> Option<Vec<Spec>> {
    let (unit, set) = header.split_once('=')?;
    if !trim_ows(unit).eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::with_capacity(1);
    for element in set.split(',') {
        let element = trim_ows(element);
        if element.is_empty() {
            continue;
        }
        let (first, last) = element.split_once('-')?;
        let (first, last) = (trim_ows(first), trim_ows(last));
        let spec = match (first.is_empty(), last.is_empty()) {
            (true, true) => return None,
            (true, false) => Spec::Suffix(digits(last)?),
            (false, true) => Spec::FromTo {
                first: digits(first)?,
                last: None,
            },
            (false, false) => {
                let (first, last) = (digits(first)?, digits(last)?);
                if last < first {
                    return None;
                }
                Spec::FromTo {
                    first,
                    last: Some(last),
                }
            }
        };
        specs.push(spec);
        if specs.len() > 1 {
            break;
        }
    }
    (!specs.is_empty()).then_some(specs)
}

/// `1*DIGIT` as a `u64`, saturating at `u64::MAX`; `None` for anything else.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Strips RFC 9110 OWS (spaces and horizontal tabs).
pub(crate) fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Whether a `Range` may be honoured given the request's `If-Range` (RFC 9110 §13.1.5).
///
/// `etag` is this representation's entity-tag as sent in `ETag`, quotes included (`"abc"`). No `If-Range`
/// allows the range. Otherwise the range is honoured only when `If-Range` is an entity-tag that is
/// byte-for-byte equal to `etag` and both are strong (strong comparison, §8.8.3.2). A weak validator never
/// matches, and neither does a date: zipper sends no `Last-Modified`, so a date cannot be validated.
pub fn if_range_allows_partial(if_range: Option<&str>, etag: &str) -> bool {
    let Some(if_range) = if_range else {
        return true;
    };
    let if_range = trim_ows(if_range);
    is_strong_entity_tag(etag) && if_range == etag
}

/// `"…"` with only `etagc` characters inside (RFC 9110 §8.8.3), not `W/"…"`.
pub(crate) fn is_strong_entity_tag(tag: &str) -> bool {
    tag.len() >= 2
        && tag.starts_with('"')
        && tag.ends_with('"')
        && tag[1..tag.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
}

/// `Content-Range` of a `206`: `bytes start-end/len`.
pub fn content_range(start: u64, end_inclusive: u64, len: u64) -> String {
    format!("bytes {start}-{end_inclusive}/{len}")
}

/// `Content-Range` of a `416`: `bytes */len`.
pub fn unsatisfied_content_range(len: u64) -> String {
    format!("bytes */{len}")
}

#[cfg(test)]
mod tests;
