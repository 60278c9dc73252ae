//! The download route: link → manifest → plan → headers → body (whole archive, or one Range of it).
//!
//! Order of work follows the contract: the link is checked completely (shape, syntax, key, signature, time)
//! before anything is fetched; then a concurrency slot is taken (or `503 overloaded`); then the signed
//! manifest request; then validation and planning. Every failure before the first byte goes through
//! [`error_response`], the one place that turns a typed error into a status and JSON body. After the first
//! byte, failures abort the body (see [`super::body`]). This module moves data between the pure core and
//! the origin client; it holds no format logic of its own.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt};
use http::header::{self, HeaderValue};
use http::{Method as HttpMethod, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};

use super::body::ZipBody;
use super::listener::Body;
use super::AppState;
use crate::core::etag::archive_etag;
use crate::core::layout::{
    EntryKind as LayoutKind, EntrySpec, Method, Plan, PlanError, SegmentKind,
};
use crate::core::link::{self, LinkError};
use crate::core::manifest::{self, Compression, EntryKind, FileSource, ManifestError};
use crate::core::names::content_disposition;
use crate::core::range::{self, RangeDecision};
use crate::error::{json_body, Code, HasCode};
use crate::metrics::Metrics;
use crate::origin::{fetch_file, fetch_manifest, FetchError, FileRequest, ManifestFetchError};
use crate::prefetch::prefetch_until;
use crate::zipstream::{zip_stream_observed, BoxError, EntryBody, ZipStreamError};

/// Everything that can answer a download request before its first byte.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Not a route of the public listener.
    #[error("no such route")]
    NotFound,
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
}

impl HasCode for RequestError {
    fn code(&self) -> Code {
        match self {
            RequestError::NotFound => Code::NotFound,
            RequestError::MethodNotAllowed => Code::MethodNotAllowed,
            RequestError::Link(e) => e.code(),
            RequestError::Overloaded => Code::Overloaded,
            RequestError::ManifestFetch(e) => e.code(),
            RequestError::Manifest(_) | RequestError::Plan(_) => Code::InvalidManifest,
            RequestError::File(e) => e.code(),
            RequestError::RangeNotSatisfiable(_) => Code::RangeNotSatisfiable,
        }
    }
}

/// The JSON error response for any request error: the single place statuses and bodies are made.
pub fn error_response(err: &RequestError, metrics: &Metrics) -> Response<Body> {
    Metrics::inc(&metrics.error_responses);
    let code = err.code();
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

/// One file entry's source and its index among the plan's entries.
struct FileItem {
    entry: usize,
    source: FileSource,
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
    let slot = Arc::clone(&state.downloads)
        .try_acquire_owned()
        .map_err(|_| {
            Metrics::inc(&state.metrics.overloaded);
            RequestError::Overloaded
        })?;

    let mut manifest_headers = http::HeaderMap::new();
    if let Some(secret) = state.keys.get(verified.key_id()) {
        let sig = link::manifest_request_signature(secret, now, verified.callback());
        if let (Ok(t), Ok(s)) = (
            HeaderValue::from_str(&now.to_string()),
            HeaderValue::from_str(&sig),
        ) {
            manifest_headers.insert("x-zipper-time", t);
            manifest_headers.insert("x-zipper-signature", s);
        }
    }
    let body = fetch_manifest(&state.origin, verified.callback(), manifest_headers).await?;
    let manifest = manifest::parse_manifest(&body, verified.timestamp(), &state.manifest_limits)?;
    drop(body);

    let mut specs = Vec::with_capacity(manifest.entries.len());
    let mut files = Vec::new();
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
                files.push(FileItem { entry: k, source });
                kind
            }
        };
        specs.push(EntrySpec {
            name: e.path,
            modified_unix: e.modified_unix,
            kind,
        });
    }
    let plan = Arc::new(Plan::new(specs)?);
    let filename = manifest
        .filename
        .unwrap_or_else(|| verified.filename().to_string());
    let label = format!(
        "{}/{}",
        verified.key_id(),
        crate::origin::redact_url_str(verified.callback())
    );
    let files = Arc::new(files);

    let mut res = Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&filename)) {
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
    let total = plan.total_len();
    let etag = total.map(|_| archive_etag(&plan, files.iter().map(|f| f.source.url.as_str())));
    if let (Some(total), Some(etag)) = (total, etag.as_deref()) {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Ok(v) = HeaderValue::from_str(etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    } else {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    }

    // One Range, honoured only with an exact layout and a matching If-Range.
    let mut window = None;
    if let (Some(total), Some(etag), Some(range_header)) =
        (total, etag.as_deref(), req.headers().get(header::RANGE))
    {
        // An If-Range that is present but not text cannot match: the whole archive, not the range.
        let if_range = match req.headers().get(header::IF_RANGE) {
            None => Ok(None),
            Some(v) => v.to_str().map(Some),
        };
        if if_range.is_ok_and(|ir| range::if_range_allows_partial(ir, etag)) {
            match range_header.to_str().map(|r| range::parse_range(r, total)) {
                Ok(RangeDecision::Partial {
                    start,
                    end_inclusive,
                }) => {
                    window = Some((start, end_inclusive));
                }
                Ok(RangeDecision::Unsatisfiable) => {
                    return Err(RequestError::RangeNotSatisfiable(total))
                }
                Ok(RangeDecision::Full) | Err(_) => {}
            }
        }
    }
    if let (Some((start, end)), Some(total)) = (window, total) {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
        let h = res.headers_mut();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
        if let Ok(v) = HeaderValue::from_str(&range::content_range(start, end, total)) {
            h.insert(header::CONTENT_RANGE, v);
        }
        if is_head {
            return Ok(res);
        }
        Metrics::inc(&state.metrics.partial_responses);
        let stream = range_stream(Arc::clone(state), Arc::clone(&plan), files, start, end + 1);
        let body = ZipBody::new(
            stream,
            Some(end - start + 1),
            Arc::clone(&state.metrics),
            label,
            Some(slot),
            state.stall_guard(),
        );
        *res.body_mut() = BodyExt::boxed_unsync(body);
        return Ok(res);
    }
    if is_head {
        return Ok(res);
    }

    // The whole archive: files fetched ahead of the writer, CRCs recorded for later resumes.
    let st = Arc::clone(state);
    let fs = Arc::clone(&files);
    let stall = state.stall_guard();
    let bodies = prefetch_until(files.len(), state.prefetch, &stall.cancel, move |i| {
        open_file(&st, &fs[i].source, 0, None)
    });
    let cache_files = Arc::clone(&files);
    let cache_state = Arc::clone(state);
    let entry_to_file: std::collections::HashMap<usize, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.entry, i))
        .collect();
    let on_entry = Box::new(move |entry: usize, crc: u32| {
        if let Some(f) = entry_to_file.get(&entry).and_then(|i| cache_files.get(*i)) {
            if let Some(size) = f.source.size {
                cache_state.crc_cache.put(&f.source.url, size, crc);
            }
        }
    });
    let stream = zip_stream_observed(Arc::clone(&plan), bodies, Some(on_entry));
    let body = ZipBody::new(
        stream,
        total,
        Arc::clone(&state.metrics),
        label,
        Some(slot),
        stall,
    );
    *res.body_mut() = BodyExt::boxed_unsync(body);
    Ok(res)
}

/// Opens one file (or the window `[start, end)` of it) as an entry body.
fn open_file(state: &AppState, source: &FileSource, start: u64, end: Option<u64>) -> EntryBody {
    let req = FileRequest {
        url: source.url.clone(),
        headers: source.headers.clone(),
        expected_size: source.size,
        start,
        end,
    };
    Box::pin(fetch_file(&state.origin, req).map(|r| r.map_err(|e| Box::new(e) as BoxError)))
}

/// Reads a whole file to learn its CRC-32 (a resume that needs a CRC neither the manifest nor the cache has).
async fn compute_crc(state: &AppState, source: &FileSource) -> Result<u32, BoxError> {
    let mut body = open_file(state, source, 0, None);
    let mut hasher = crc32fast::Hasher::new();
    while let Some(chunk) = body.next().await {
        hasher.update(&chunk?);
    }
    let crc = hasher.finalize();
    if let Some(size) = source.size {
        state.crc_cache.put(&source.url, size, crc);
    }
    Ok(crc)
}

/// Passes a whole file through, recording its CRC-32 in the cache once it has ended with `size` bytes.
fn crc_into_cache(body: EntryBody, state: Arc<AppState>, url: String, size: u64) -> EntryBody {
    let init = (body, crc32fast::Hasher::new(), 0u64, state, url);
    Box::pin(stream::unfold(Some(init), move |st| async move {
        let (mut body, mut hasher, mut n, state, url) = st?;
        match body.next().await {
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                n += chunk.len() as u64;
                Some((Ok(chunk), Some((body, hasher, n, state, url))))
            }
            Some(Err(e)) => Some((Err(e), None)),
            None => {
                if n == size {
                    state.crc_cache.put(&url, size, hasher.finalize());
                }
                None
            }
        }
    }))
}

/// The bytes `start..end` of the archive, produced from the layout's offset map: only the files that
/// overlap the range are read (each with a ranged request), and records are rendered directly.
fn range_stream(
    state: Arc<AppState>,
    plan: Arc<Plan>,
    files: Arc<Vec<FileItem>>,
    start: u64,
    end: u64,
) -> impl Stream<Item = Result<Bytes, ZipStreamError>> + Send {
    let pieces = plan
        .layout()
        .map(|l| l.pieces(start, end))
        .unwrap_or_default();
    let by_entry: std::collections::HashMap<usize, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.entry, i))
        .collect();
    stream::iter(pieces)
        .then(move |piece| {
            let state = Arc::clone(&state);
            let plan = Arc::clone(&plan);
            let files = Arc::clone(&files);
            let by_entry = by_entry.clone();
            async move {
                let name_of = |k: usize| {
                    plan.entries()
                        .get(k)
                        .map(|e| e.name.clone())
                        .unwrap_or_default()
                };
                let source_of = |k: usize| {
                    by_entry
                        .get(&k)
                        .and_then(|i| files.get(*i))
                        .map(|f| &f.source)
                };
                if let SegmentKind::Data(k) = piece.kind {
                    let Some(source) = source_of(k) else {
                        return Err(ZipStreamError::MissingBody(name_of(k)));
                    };
                    let mut body =
                        open_file(&state, source, piece.skip, Some(piece.skip + piece.len));
                    // A range over a whole file whose CRC is unknown: learn it on the way, so the data
                    // descriptor that follows does not read the file a second time.
                    if let Some(size) = source.size {
                        let whole = piece.skip == 0 && piece.len == size;
                        let unknown = plan.segment_needs_crc(SegmentKind::Descriptor(k)).is_some()
                            && state.crc_cache.get(&source.url, size).is_none();
                        if whole && unknown {
                            body =
                                crc_into_cache(body, Arc::clone(&state), source.url.clone(), size);
                        }
                    }
                    let name = name_of(k);
                    return Ok(body
                        .map(move |r| {
                            r.map_err(|source| ZipStreamError::Source {
                                entry: name.clone(),
                                source,
                            })
                        })
                        .boxed());
                }
                let mut crc = None;
                if let Some(k) = plan.segment_needs_crc(piece.kind) {
                    let Some(source) = source_of(k) else {
                        return Err(ZipStreamError::MissingBody(name_of(k)));
                    };
                    crc = match source
                        .size
                        .and_then(|size| state.crc_cache.get(&source.url, size))
                    {
                        Some(c) => Some(c),
                        // In a task of its own, shared by every request that needs it: if the client gives
                        // up first, the read still completes and fills the cache for its next attempt.
                        None => {
                            let (st, src) = (Arc::clone(&state), source.clone());
                            let size = source.size.unwrap_or(0);
                            let read =
                                state
                                    .crc_reads
                                    .join_or_start(&source.url, size, async move {
                                        compute_crc(&st, &src).await
                                    });
                            Some(read.await.map_err(|e| ZipStreamError::Source {
                                entry: name_of(k),
                                source: e.to_string().into(),
                            })?)
                        }
                    };
                }
                let mut bytes = Vec::new();
                plan.render_segment(piece.kind, &|_| crc, &mut bytes)
                    .ok_or_else(|| ZipStreamError::MissingBody(format!("{:?}", piece.kind)))?;
                let from = usize::try_from(piece.skip)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let to = usize::try_from(piece.skip + piece.len)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let chunk = Bytes::from(bytes).slice(from..to);
                Ok(stream::iter([Ok(chunk)]).boxed())
            }
        })
        .map(|r: Result<_, ZipStreamError>| match r {
            Ok(s) => s,
            Err(e) => stream::iter([Err(e)]).boxed(),
        })
        .flatten()
}
