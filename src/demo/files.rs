//! `GET|HEAD /files/{size}/{seed}/{name}` of the demo origin: a generated file with `Content-Length`, a
//! strong `ETag`, `Last-Modified` and single-range `Range`/`If-Range` support, shaped by the request's
//! fault knobs.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE, LAST_MODIFIED,
    RANGE,
};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::body::{text, DemoBody, GenBody};
use super::content::{file_etag, LAST_MODIFIED_VALUE};
use super::faults::Knobs;
use super::state::State;

/// A single byte range `[first, last]` of a file of `size` bytes, from a `Range` header.
enum RangeAsk {
    None,
    Satisfiable(u64, u64),
    Unsatisfiable,
}

fn parse_range(value: &str, size: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::None;
    };
    if spec.contains(',') {
        return RangeAsk::None;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAsk::None;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return match b.parse::<u64>() {
            Ok(0) => RangeAsk::Unsatisfiable,
            Ok(_) if size == 0 => RangeAsk::Unsatisfiable,
            Ok(n) => RangeAsk::Satisfiable(size - n.min(size), size - 1),
            Err(_) => RangeAsk::None,
        };
    }
    let Ok(first) = a.parse::<u64>() else {
        return RangeAsk::None;
    };
    let last = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(last) if last >= first => last,
            _ => return RangeAsk::None,
        }
    };
    if first >= size {
        return RangeAsk::Unsatisfiable;
    }
    RangeAsk::Satisfiable(first, last.min(size - 1))
}

pub(super) fn serve_file(
    state: &Arc<State>,
    req: &Request<Incoming>,
    path: &str,
    rest: &str,
    knobs: &Knobs,
    index: u64,
) -> Response<DemoBody> {
    let mut parts = rest.splitn(3, '/');
    let (Some(size), Some(seed), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return text(
            StatusCode::NOT_FOUND,
            "expected /files/{size}/{seed}/{name}".into(),
        );
    };
    let (Ok(size), Ok(seed)) = (size.parse::<u64>(), seed.parse::<u64>()) else {
        return text(
            StatusCode::NOT_FOUND,
            "size and seed must be numbers".into(),
        );
    };
    if name.is_empty() {
        return text(StatusCode::NOT_FOUND, "empty name".into());
    }
    let etag = file_etag(size, seed);
    let lying = knobs.lie != 0;
    let ranges_on = !(knobs.no_range || knobs.chunked || lying);
    let if_range_ok = match req.headers().get(IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => v == etag || v == LAST_MODIFIED_VALUE,
    };
    let ask = match req.headers().get(RANGE).and_then(|v| v.to_str().ok()) {
        Some(v) if ranges_on && if_range_ok => parse_range(v, size),
        _ => RangeAsk::None,
    };
    let mut builder = Response::builder().header(CONTENT_TYPE, "application/octet-stream");
    if !knobs.no_validators {
        builder = builder
            .header(ETAG, etag.as_str())
            .header(LAST_MODIFIED, LAST_MODIFIED_VALUE);
    }
    if ranges_on {
        builder = builder.header(ACCEPT_RANGES, "bytes");
    }
    let (status, first, end) = match ask {
        RangeAsk::Unsatisfiable => {
            return builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(CONTENT_RANGE, format!("bytes */{size}"))
                .body(DemoBody::full(Bytes::new()))
                .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, String::new()));
        }
        RangeAsk::Satisfiable(first, last) => {
            builder = builder.header(CONTENT_RANGE, format!("bytes {first}-{last}/{size}"));
            state.count_partial(path);
            (StatusCode::PARTIAL_CONTENT, first, last + 1)
        }
        RangeAsk::None => {
            let end = if knobs.lie >= 0 {
                size.saturating_add(knobs.lie.unsigned_abs())
            } else {
                size.saturating_sub(knobs.lie.unsigned_abs())
            };
            (StatusCode::OK, 0, end)
        }
    };
    let exact = !(knobs.chunked || lying);
    if exact {
        builder = builder.header(CONTENT_LENGTH, end - first);
    }
    let body = if req.method() == Method::HEAD {
        DemoBody::full(Bytes::new())
    } else {
        let reset_at = knobs
            .reset_at
            .filter(|_| index < knobs.reset_times)
            .map(|n| first.saturating_add(n));
        DemoBody::generated(GenBody {
            seed: if knobs.changed_from.is_some_and(|n| index >= n) {
                seed.wrapping_add(1)
            } else {
                seed
            },
            pos: first,
            end,
            chunk: knobs.chunk,
            reset_at,
            flushed_before_reset: false,
            exact,
            chunk_delay: knobs.chunk_delay,
            sleep: None,
            state: Arc::clone(state),
            path: path.to_string(),
        })
    };
    builder
        .status(status)
        .body(body)
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_parsing() {
        let sat = |v, size| match parse_range(v, size) {
            RangeAsk::Satisfiable(a, b) => Some((a, b)),
            _ => None,
        };
        assert_eq!(sat("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(sat("bytes=90-", 100), Some((90, 99)));
        assert_eq!(sat("bytes=90-200", 100), Some((90, 99)));
        assert_eq!(sat("bytes=-10", 100), Some((90, 99)));
        assert_eq!(sat("bytes=-200", 100), Some((0, 99)));
        assert!(matches!(
            parse_range("bytes=100-", 100),
            RangeAsk::Unsatisfiable
        ));
        assert!(matches!(
            parse_range("bytes=-0", 100),
            RangeAsk::Unsatisfiable
        ));
        assert!(matches!(parse_range("bytes=0-1,5-6", 100), RangeAsk::None));
        assert!(matches!(parse_range("bytes=5-1", 100), RangeAsk::None));
    }
}
