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
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{Method as HttpMethod, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};

use super::body::ZipBody;
use super::download::Download;
use super::listener::{Body, ConnState};
use super::record::{DownloadRecord, Outcome};
use super::reporting::{Arrival, ReportSeed, SeedParts};
pub use super::request_error::{error_response, RequestError};
use super::AppState;
use crate::core::etag::archive_etag;
use crate::core::layout::{EntryKind as LayoutKind, EntrySpec, Method, Plan};
use crate::core::link::{self, VerifiedLink};
use crate::core::manifest::Renamed;
use crate::core::manifest::{self, Compression, EntryKind, FileSource, Manifest};
use crate::core::names::content_disposition;
use crate::core::range::{self, RangeDecision};
use crate::core::report::{ReportError, ServedRange};
use crate::core::traceparent::valid_traceparent;
use crate::error::{Code, HasCode};
use crate::metrics::{Metrics, Stage};
use crate::origin::guard::HostKind;
use crate::request_id::{self, RequestId};
use url::Url;

/// Answers one request on the public listener; every answer carries the request's `X-Request-Id`.
pub async fn handle<B>(state: Arc<AppState>, req: Request<B>) -> Response<Body> {
    let started = Instant::now();
    Metrics::inc(&state.metrics.requests);
    let arrival = Arrival::now();
    let id = RequestId::from_header_or_new(
        req.headers()
            .get(request_id::HEADER)
            .map(HeaderValue::as_bytes),
    );
    // Set once the link checks out; ended here on an error, else by the body (or dropped: cancelled).
    let mut record = None;
    let mut res = match download(&state, &req, &id, arrival, started, &mut record).await {
        Ok(res) => res,
        Err(e) => {
            let code = e.code();
            tracing::info!(code = code.as_str(), error = %e, request_id = %id, "request refused");
            if let Some(mut record) = record {
                let outcome = match code {
                    Code::Overloaded => Outcome::Overloaded,
                    code => Outcome::Failed {
                        cause: code.as_str(),
                        stage: Stage::Head,
                    },
                };
                record.finish(outcome, 0);
            }
            error_response(&e, &state.metrics)
        }
    };
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(request_id::HEADER, v);
    }
    res
}

/// A validated manifest turned into a plan and its file sources.
struct Planned {
    plan: Arc<Plan>,
    sources: Vec<(usize, FileSource)>,
    filename: Option<String>,
    /// The manifest's `notify_url`, checked by the guard.
    notify_url: Option<Url>,
    renamed: Vec<Renamed>,
}

async fn download<B>(
    state: &Arc<AppState>,
    req: &Request<B>,
    id: &RequestId,
    arrival: Arrival,
    started: Instant,
    record: &mut Option<DownloadRecord>,
) -> Result<Response<Body>, RequestError> {
    // The raw path: hyper does not decode it, so the link is percent-decoded exactly once, by `link`.
    let not_found = || RequestError::NotFound {
        prefix: state.path_prefix.to_string(),
    };
    let path = state
        .path_prefix
        .strip(req.uri().path())
        .ok_or_else(not_found)?;
    if path.split('/').count() != 5 {
        return Err(not_found());
    }
    let is_head = match *req.method() {
        HttpMethod::GET => false,
        HttpMethod::HEAD => true,
        _ => return Err(RequestError::MethodNotAllowed),
    };
    let parsed = link::parse_path(path)?;
    let now = (state.clock)();
    let verified = link::verify(&parsed, &state.keys, now, &state.link_policy)?;
    let rec = record.insert(DownloadRecord::new(
        Arc::clone(&state.metrics),
        started,
        verified.key_id(),
        verified.callback(),
    ));
    rec.request_id = Some(id.as_str().to_string());
    let slot = Arc::clone(&state.downloads)
        .try_acquire_owned()
        .map_err(|_| RequestError::Overloaded)?;
    let budget = state.budget.admit().ok_or(RequestError::Overloaded)?;

    let context = origin_context(req.headers(), id);
    let mut manifest_headers = manifest_request_headers(state, &verified, now, id);
    manifest_headers.extend(context.clone());
    // A resume takes the link's manifest from a cache when one has it (docs/contract.md, Resume).
    let resume = req.headers().contains_key(header::RANGE);
    let fetch_started = Instant::now();
    let manifest =
        super::manifest_load::load(state, &verified, now, resume, manifest_headers).await;
    state.metrics.manifest_fetched(fetch_started.elapsed());
    let planned = plan(state, Arc::unwrap_or_clone(manifest?))?;
    rec.entries = planned.plan.entries().len();
    let filename = planned
        .filename
        .unwrap_or_else(|| verified.filename().to_string());
    let label = rec.label();
    let entries = planned.plan.entries().len();
    // A GET whose manifest asks for a report gets one when it ends (HEAD downloads nothing).
    let secret = state.keys.get(verified.key_id()).cloned();
    let seed_parts = match (planned.notify_url, secret, is_head) {
        (Some(url), Some(secret), false) => Some(SeedParts {
            url,
            secret,
            request_id: id.clone(),
            link_timestamp: verified.timestamp(),
            filename: filename.clone(),
            files: entries,
            renamed: planned.renamed,
            arrival,
            reports: state.reports.clone(),
        }),
        _ => None,
    };
    let dl = Arc::new(Download::new(
        Arc::clone(state),
        planned.plan,
        planned.sources,
        verified.key_id(),
        budget,
        label,
        context,
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
    let mut seed = seed_parts.map(|parts| ReportSeed::new(parts, total));
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
            rec.ranged = true;
            if is_head {
                rec.discard();
                return Ok(res);
            }
            dl.warm_crcs().await;
            if let Some(seed) = seed.as_mut() {
                seed.served(ServedRange { start, end, total });
            }
            let stream = super::ranged::range_archive(Arc::clone(&dl), start, end + 1)
                .await
                .map_err(|e| report_refusal(seed.take(), e))?;
            Metrics::inc(&state.metrics.partial_responses);
            let len = Some(end - start + 1);
            let body = ZipBody::new(
                stream,
                len,
                Arc::clone(&state.metrics),
                take_record(record),
                Some(slot),
                stall,
            );
            *res.body_mut() = BodyExt::boxed_unsync(with_report(body, seed));
        }
        _ => {
            if is_head {
                rec.discard();
                return Ok(res);
            }
            let stream = super::archive::full_archive(Arc::clone(&dl), &stall.cancel)
                .await
                .map_err(|e| report_refusal(seed.take(), e))?;
            let body = ZipBody::new(
                stream,
                total,
                Arc::clone(&state.metrics),
                take_record(record),
                Some(slot),
                stall,
            );
            *res.body_mut() = BodyExt::boxed_unsync(with_report(body, seed));
        }
    }
    Ok(res)
}

/// The record, moved into the body (it was set when the link checked out).
fn take_record(record: &mut Option<DownloadRecord>) -> DownloadRecord {
    record.take().unwrap_or_else(|| {
        // Unreachable: `download` sets it before any archive is started; a fresh one keeps counting right.
        DownloadRecord::new(Arc::default(), Instant::now(), "", "")
    })
}

/// The headers passed on to the origin with the manifest and file requests for the download's context: the
/// request's id, and the client's W3C `traceparent` when it is well-formed (a malformed one is dropped,
/// never an error). Both are in [`crate::origin::client::CONTEXT_HEADERS`].
fn origin_context(headers: &http::HeaderMap, id: &RequestId) -> http::HeaderMap {
    let mut context = http::HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        context.insert(request_id::HEADER, v);
    }
    if let Some(value) = headers.get("traceparent") {
        if value.to_str().is_ok_and(valid_traceparent) {
            context.insert("traceparent", value.clone());
        }
    }
    context
}

/// `body`, which sends its report (if the manifest asked for one) when it has ended.
fn with_report<S>(body: ZipBody<S>, seed: Option<ReportSeed>) -> ZipBody<S> {
    match seed {
        Some(seed) => body.on_end(Box::new(move |end| seed.finish(end))),
        None => body,
    }
}

/// Reports a download that failed before its first byte (if the manifest asked), and passes the error on.
fn report_refusal(seed: Option<ReportSeed>, err: RequestError) -> RequestError {
    if let Some(seed) = seed {
        let code = err.code();
        let (message, path) = match &err {
            RequestError::FirstFile { entry, message, .. } => {
                (message.clone(), Some(entry.clone()))
            }
            other => (other.to_string(), None),
        };
        seed.refused(
            code.status().as_u16(),
            ReportError {
                code: code.as_str(),
                message,
                path,
            },
        );
    }
    err
}

/// `X-Zipper-Time` and `X-Zipper-Signature` of the manifest request (docs/contract.md, Manifest request).
fn manifest_request_headers(
    state: &AppState,
    verified: &VerifiedLink,
    now: i64,
    id: &RequestId,
) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        headers.insert(request_id::HEADER, v);
    }
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
fn plan(state: &AppState, manifest: Manifest) -> Result<Planned, RequestError> {
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
                crate::origin::files::headers_for(&source.url, &source.headers)?;
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
    let notify_url = match manifest.notify_url {
        None => None,
        Some(raw) => Some(notify_target(state, &raw)?),
    };
    Ok(Planned {
        plan: Arc::new(Plan::with_options(specs, state.plan_options)?),
        sources,
        filename: manifest.filename,
        notify_url,
        renamed: manifest.renamed,
    })
}

/// The manifest's `notify_url`, if the guard allows it now (scheme, the callback allowlist, an address
/// written as an IP literal); a host name is checked again, on its resolved addresses, when the report is
/// sent.
fn notify_target(state: &AppState, raw: &str) -> Result<Url, RequestError> {
    let url = Url::parse(raw).map_err(|_| {
        RequestError::Manifest(manifest::ManifestError::NotifyUrl {
            problem: manifest::Problem::NotHttpUrl,
        })
    })?;
    state
        .origin
        .guard()
        .check_url(&url, HostKind::Callback)
        .map_err(|source| RequestError::NotifyNotAllowed {
            url: crate::origin::redact_url(&url),
            source,
        })?;
    Ok(url)
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
