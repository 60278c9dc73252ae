//! The download route: link → admission → manifest → plan → headers → body (the whole archive from
//! [`super::archive`], or one Range of it from [`super::ranged`]).
//!
//! Order of work follows the contract: the link is checked completely (shape, syntax, key, signature, time)
//! before anything is fetched; then the download is admitted (a concurrency slot and its memory floor, or
//! `503 overloaded`); then the manifest (the signed manifest request, or for a resume a cache:
//! [`super::manifest_load`]); then validation and planning; then the first
//! file's answer. Every failure before the first byte is a [`RequestError`] and goes through
//! [`error_response`], the one place that turns a typed error into a status and JSON body. After the first byte, failures abort the body (see
//! [`super::body`]). This module moves data between the pure core and the origin client; it holds no
//! format logic of its own.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method as HttpMethod, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};

use super::body::ZipBody;
use super::download::Download;
use super::listener::{Body, ConnState};
pub use super::request_error::{error_response, RequestError};
use super::AppState;
use crate::core::etag::archive_etag;
use crate::core::layout::{EntryKind as LayoutKind, EntrySpec, Method, Plan};
use crate::core::link::{self, VerifiedLink};
use crate::core::manifest::{Compression, EntryKind, FileSource, Manifest};
use crate::core::names::content_disposition;
use crate::core::range::{self, RangeDecision};
use crate::error::HasCode;
use crate::metrics::Metrics;
use crate::origin::FileRequest;

/// Answers one request on the public listener.
pub async fn handle<B>(state: Arc<AppState>, req: Request<B>) -> Response<Body> {
    Metrics::inc(&state.metrics.requests);
    match download(&state, &req).await {
        Ok(res) => res,
        Err(e) => {
            tracing::info!(code = e.code().as_str(), error = %e, "request refused");
            error_response(&e, &state.metrics)
        }
    }
}

/// A validated manifest turned into a plan and its file sources.
struct Planned {
    plan: Arc<Plan>,
    sources: Vec<(usize, FileSource)>,
    filename: Option<String>,
}

async fn download<B>(
    state: &Arc<AppState>,
    req: &Request<B>,
) -> Result<Response<Body>, RequestError> {
    // The raw path: hyper does not decode it, so the link is percent-decoded exactly once, by `link`.
    let path = req.uri().path();
    if path.split('/').count() != 5 {
        return Err(RequestError::NotFound);
    }
    let is_head = match *req.method() {
        HttpMethod::GET => false,
        HttpMethod::HEAD => true,
        _ => return Err(RequestError::MethodNotAllowed),
    };
    let parsed = link::parse_path(path)?;
    let now = (state.clock)();
    let verified = link::verify(&parsed, &state.keys, now, &state.link_policy)?;
    let overloaded = || {
        Metrics::inc(&state.metrics.overloaded);
        RequestError::Overloaded
    };
    let slot = Arc::clone(&state.downloads)
        .try_acquire_owned()
        .map_err(|_| overloaded())?;
    let budget = state.budget.admit().ok_or_else(overloaded)?;

    let resume = req.headers().contains_key(header::RANGE);
    let manifest = super::manifest_load::load(
        state,
        &verified,
        now,
        resume,
        manifest_request_headers(state, &verified, now),
    )
    .await?;
    let planned = plan(Arc::unwrap_or_clone(manifest))?;
    let filename = planned
        .filename
        .unwrap_or_else(|| verified.filename().to_string());
    let label = format!(
        "{}/{}",
        verified.key_id(),
        crate::origin::redact_url_str(verified.callback())
    );
    let dl = Arc::new(Download::new(
        Arc::clone(state),
        planned.plan,
        planned.sources,
        verified.key_id(),
        budget,
        label,
    ));

    let mut res = archive_head(&filename);
    let total = dl.plan.total_len();
    let etag =
        total.map(|_| archive_etag(&dl.plan, dl.files.iter().map(|f| f.source.url.as_str())));
    let h = res.headers_mut();
    if let (Some(total), Some(etag)) = (total, etag.as_deref()) {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Ok(v) = HeaderValue::from_str(etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    } else {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    }
    let conn = req.extensions().get::<Arc<ConnState>>().cloned();
    let stall = state.stall_guard(conn);
    match (
        total,
        etag.as_deref(),
        requested_range(req, total, etag.as_deref())?,
    ) {
        (Some(total), Some(_), Some((start, end))) => {
            *res.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = res.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            if let Ok(v) = HeaderValue::from_str(&range::content_range(start, end, total)) {
                h.insert(header::CONTENT_RANGE, v);
            }
            if is_head {
                return Ok(res);
            }
            dl.warm_crcs().await;
            let stream = super::ranged::range_archive(Arc::clone(&dl), start, end + 1).await?;
            Metrics::inc(&state.metrics.partial_responses);
            let len = Some(end - start + 1);
            let body = ZipBody::new(
                stream,
                len,
                Arc::clone(&state.metrics),
                dl.label.clone(),
                Some(slot),
                stall,
            );
            *res.body_mut() = BodyExt::boxed_unsync(body);
        }
        _ => {
            if is_head {
                return Ok(res);
            }
            let stream = super::archive::full_archive(Arc::clone(&dl), &stall.cancel).await?;
            let body = ZipBody::new(
                stream,
                total,
                Arc::clone(&state.metrics),
                dl.label.clone(),
                Some(slot),
                stall,
            );
            *res.body_mut() = BodyExt::boxed_unsync(body);
        }
    }
    Ok(res)
}

/// `X-Zipper-Time` and `X-Zipper-Signature` of the manifest request (docs/contract.md, Manifest request).
fn manifest_request_headers(
    state: &AppState,
    verified: &VerifiedLink,
    now: i64,
) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    if let Some(secret) = state.keys.get(verified.key_id()) {
        let sig = link::manifest_request_signature(secret, now, verified.callback());
        if let (Ok(t), Ok(s)) = (
            HeaderValue::from_str(&now.to_string()),
            HeaderValue::from_str(&sig),
        ) {
            headers.insert("x-zipper-time", t);
            headers.insert("x-zipper-signature", s);
        }
    }
    headers
}

/// Plans the archive of a validated manifest (a JSON one or a mod_zip file list).
fn plan(manifest: Manifest) -> Result<Planned, RequestError> {
    let mut specs = Vec::with_capacity(manifest.entries.len());
    let mut sources = Vec::new();
    for (k, e) in manifest.entries.into_iter().enumerate() {
        let kind = match e.kind {
            EntryKind::Directory => LayoutKind::Directory,
            EntryKind::File(source) => {
                let kind = LayoutKind::File {
                    size: source.size,
                    crc32: source.crc32,
                    method: match source.compression {
                        Compression::Store => Method::Store,
                        Compression::Deflate => Method::Deflate,
                    },
                };
                // A header the fetcher would refuse fails now, as a clear error, not mid-download.
                crate::origin::files::request_headers(&FileRequest {
                    url: source.url.clone(),
                    headers: source.headers.clone(),
                    ..Default::default()
                })?;
                sources.push((k, source));
                kind
            }
        };
        specs.push(EntrySpec {
            name: e.path,
            modified_unix: e.modified_unix,
            kind,
        });
    }
    Ok(Planned {
        plan: Arc::new(Plan::new(specs)?),
        sources,
        filename: manifest.filename,
    })
}

/// The response head shared by every archive answer (status 200, no body yet).
fn archive_head(filename: &str) -> Response<Body> {
    let mut res = Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-transform"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// The one Range to serve, if any: honoured only with an exact layout and a matching If-Range.
fn requested_range<B>(
    req: &Request<B>,
    total: Option<u64>,
    etag: Option<&str>,
) -> Result<Option<(u64, u64)>, RequestError> {
    let (Some(total), Some(etag), Some(range_header)) =
        (total, etag, req.headers().get(header::RANGE))
    else {
        return Ok(None);
    };
    // An If-Range that is present but not text cannot match: the whole archive, not the range.
    let if_range = match req.headers().get(header::IF_RANGE) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some),
    };
    if !if_range.is_ok_and(|ir| range::if_range_allows_partial(ir, etag)) {
        return Ok(None);
    }
    match range_header.to_str().map(|r| range::parse_range(r, total)) {
        Ok(RangeDecision::Partial {
            start,
            end_inclusive,
        }) => Ok(Some((start, end_inclusive))),
        Ok(RangeDecision::Unsatisfiable) => Err(RequestError::RangeNotSatisfiable(total)),
        Ok(RangeDecision::Full) | Err(_) => Ok(None),
    }
}
