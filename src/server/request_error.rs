//! [`RequestError`], everything that can answer a download request before its first byte, and
//! [`error_response`], the one place that turns it into a status, headers and a JSON body.
//!
//! It decides nothing about downloads; it only names and renders refusals.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::Response;
use http_body_util::{BodyExt, Full};

use super::listener::Body;
use crate::core::layout::PlanError;
use crate::core::link::LinkError;
use crate::core::manifest::ManifestError;
use crate::core::range;
use crate::error::{json_body, Code, HasCode};
use crate::metrics::Metrics;
use crate::origin::{FetchError, GuardError, ManifestFetchError};
use crate::zipstream::BoxError;

/// Everything that can answer a download request before its first byte.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Not a route of the public listener. The message shows the expected shape, never the path.
    #[error(
        "no such route: a download link is {prefix}/{{key_id}}/{{callback}}/{{signature}}/{{filename}} \
         (4 segments, each percent-encoded, so a '/' inside one is %2F)"
    )]
    NotFound {
        /// The configured `path_prefix` (empty for none).
        prefix: String,
    },
    /// Not GET or HEAD.
    #[error("method not allowed: use GET or HEAD")]
    MethodNotAllowed,
    /// The link is malformed, unknown, forged or expired.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Too many downloads at once.
    #[error("too many concurrent downloads; retry shortly")]
    Overloaded,
    /// The manifest request failed.
    #[error(transparent)]
    ManifestFetch(#[from] ManifestFetchError),
    /// The manifest is invalid.
    #[error("invalid manifest: {0}")]
    Manifest(#[from] ManifestError),
    /// The manifest's entries cannot form a zip.
    #[error("invalid manifest: {0}")]
    Plan(#[from] PlanError),
    /// A file entry's request cannot be made (bad header in the manifest).
    #[error("invalid manifest: {0}")]
    File(#[from] FetchError),
    /// The Range starts past the end.
    #[error("range not satisfiable: the archive is {0} bytes")]
    RangeNotSatisfiable(u64),
    /// The guard refuses the manifest's `notify_url`.
    #[error("notify_url {url}: {source}")]
    NotifyNotAllowed {
        /// The URL, redacted.
        url: String,
        /// The refusal.
        source: GuardError,
    },
    /// The first file failed before any archive byte was sent.
    #[error("{entry}: {message}")]
    FirstFile {
        /// The entry's name in the archive.
        entry: String,
        /// Why (the fetch error's message: URL without query, never a header value).
        message: String,
        /// Its code (`file_unavailable`, `origin_not_allowed`, `invalid_manifest`).
        code: Code,
    },
}

impl RequestError {
    /// The error for a first file that failed before the head was sent.
    pub fn first_file(entry: &str, err: BoxError) -> RequestError {
        let code = err
            .downcast_ref::<FetchError>()
            .map_or(Code::FileUnavailable, HasCode::code);
        RequestError::FirstFile {
            entry: entry.to_string(),
            message: err.to_string(),
            code,
        }
    }
}

impl HasCode for RequestError {
    fn code(&self) -> Code {
        match self {
            RequestError::NotFound { .. } => Code::NotFound,
            RequestError::MethodNotAllowed => Code::MethodNotAllowed,
            RequestError::Link(e) => e.code(),
            RequestError::Overloaded => Code::Overloaded,
            RequestError::ManifestFetch(e) => e.code(),
            RequestError::Manifest(_) | RequestError::Plan(_) => Code::InvalidManifest,
            RequestError::File(e) => e.code(),
            RequestError::RangeNotSatisfiable(_) => Code::RangeNotSatisfiable,
            RequestError::NotifyNotAllowed { source, .. } => source.code(),
            RequestError::FirstFile { code, .. } => *code,
        }
    }
}

/// The JSON error response for any request error: the single place statuses and bodies are made.
pub fn error_response(err: &RequestError, metrics: &Metrics) -> Response<Body> {
    let code = err.code();
    metrics.error_response(code.as_str());
    let mut res = Response::new(full(json_body(code, &err.to_string())));
    *res.status_mut() = code.status();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match err {
        RequestError::Overloaded => {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        RequestError::RangeNotSatisfiable(len) => {
            if let Ok(v) = HeaderValue::from_str(&range::unsatisfied_content_range(*len)) {
                h.insert(header::CONTENT_RANGE, v);
            }
        }
        RequestError::MethodNotAllowed => {
            h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        _ => {}
    }
    res
}

fn full(body: String) -> Body {
    Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed_unsync()
}
