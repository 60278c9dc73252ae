//! Fetching one origin file as a pulled stream of bytes: [`fetch_file`], [`FileRequest`], [`FetchError`].
//!
//! The stream retries transient failures (connect errors, resets, 408/429/5xx) with exponential backoff,
//! resumes a body broken mid-way with `Range` (checked against `Content-Range` and guarded by `If-Range`),
//! or else re-reads the file from the start and checks the already-delivered prefix against a running
//! CRC-32, serves a window `[start, end)` of the file, and enforces the expected size: it never yields a
//! byte past the declared size and fails if the file is shorter. It holds at most one chunk and reads the
//! origin only when polled, so a slow consumer slows the origin down.
//!
//! This module must not know about zip, must not buffer a file, and must never log header values or query
//! strings (URLs are shown through [`redact_url`]).
//!
//! Retries follow the origin's one [`RetryPolicy`](super::RetryPolicy): a failure after the stream delivered
//! new bytes starts the consecutive count again, and an overall cap per file ends an origin that breaks after
//! every few bytes. A body slower than the minimum rate is a failed read like a reset.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{self, Stream};
use futures_util::FutureExt as _;
use http::header::{ACCEPT_RANGES, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use http::{HeaderMap, HeaderValue, StatusCode};
use url::Url;

use super::client::{BulkSwitch, CrossOrigin, OriginBody, ReadSize, TransportError};
use super::guard::{GuardError, HostKind};
use super::headers::{content_range, declared_length, owned_value, validate_headers};
use super::retry::Retries;
use super::{redact_url, redact_url_str, OriginClient};
use crate::core::encoder::SourceCrc;
use crate::error::{Code, HasCode};
use crate::metrics::OriginKind;

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileRequest {
    /// Absolute `http(s)` URL.
    pub url: String,
    /// Extra request headers (from the manifest). Names that zipper manages itself are refused, see
    /// [`request_headers`].
    pub headers: Vec<(String, String)>,
    /// The file's size from the manifest: the origin must deliver exactly this many bytes.
    pub expected_size: Option<u64>,
    /// The first byte wanted (0 for the whole file).
    pub start: u64,
    /// One past the last byte wanted; `None` reads to the end. Clamped to `expected_size` when both are
    /// known. When the size is unknown and the file ends before `end`, the stream fails.
    pub end: Option<u64>,
    /// What the fetch is for, as the metrics count its requests and retries.
    pub kind: OriginKind,
    /// Headers zipper adds to every request of this fetch for the download it serves (the client's
    /// `traceparent`, see [`super::client::CONTEXT_HEADERS`]): sent after the manifest's, kept across
    /// redirects to other origins.
    pub context: HeaderMap,
    /// The consumer checks the whole body against a CRC-32 it already knows (the manifest's), so this
    /// fetch keeps no running CRC of the bytes it delivered: that was a second CRC pass over every byte
    /// (~0.07 CPU s/GB, issue 12's profile). Only then may a re-read from byte 0 (an origin that ignored
    /// `Range`) go unchecked here: a changed file still fails the consumer's check at the end of the
    /// entry, which aborts the archive. Ignored for a window (`start > 0` or an `end`), whose consumer
    /// sees only part of the file.
    pub crc_checked_by_consumer: bool,
    /// For a lean fetch: the switch its reader may use to move it to bulk reads mid-body.
    pub bulk_switch: Option<BulkSwitch>,
    /// For a whole file whose CRC this fetch keeps anyway (no `crc_checked_by_consumer`): where it puts
    /// the CRC of every byte it delivered once it has confirmed the end, so the archive writer takes it
    /// instead of hashing the bytes a second time (`core::encoder`, hashed by the source). Ignored for a
    /// window.
    pub crc_out: Option<SourceCrc>,
}

impl FileRequest {
    /// A request for the whole file at `url`, no extra headers, size unknown.
    pub fn new(url: impl Into<String>) -> Self {
        FileRequest {
            url: url.into(),
            ..Default::default()
        }
    }
}

/// Why a file could not be delivered. Every message names the URL without its query string; header values
/// never appear. Codes: a refused host is `origin_not_allowed`; a bad URL, bad header or wrong size is
/// `invalid_manifest` (the manifest misdescribes the file); a bad window is `internal` (a caller bug);
/// everything else the origin did is `file_unavailable` (502).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Not an absolute `http(s)` URL.
    #[error("file {url}: not an absolute http(s) URL")]
    BadUrl {
        /// The URL, redacted.
        url: String,
    },
    /// An extra header that cannot be sent.
    #[error("file {url}: header {name:?}: {reason}")]
    BadHeader {
        /// The URL, redacted.
        url: String,
        /// The header name as given.
        name: String,
        /// What is wrong (never the value).
        reason: &'static str,
    },
    /// `start`/`end` do not describe a window of the file.
    #[error("file {url}: bad byte window start={start} end={end:?} (size {size:?})")]
    BadWindow {
        /// The URL, redacted.
        url: String,
        /// Requested start.
        start: u64,
        /// Requested end.
        end: Option<u64>,
        /// Expected size.
        size: Option<u64>,
    },
    /// The guard refused the host, an address or a redirect.
    #[error("file {url}: {source}")]
    NotAllowed {
        /// The URL, redacted.
        url: String,
        /// The refusal.
        #[source]
        source: GuardError,
    },
    /// An error status (after the retries for 408, 429 and 5xx).
    #[error("file {url}: the origin answered {status} (after {attempts} attempt(s))")]
    Status {
        /// The URL, redacted.
        url: String,
        /// The last status.
        status: StatusCode,
        /// Requests sent.
        attempts: u32,
    },
    /// The connection or the body failed, after the retries.
    #[error("file {url}: {reason} (after {attempts} attempt(s))")]
    Transport {
        /// The URL, redacted.
        url: String,
        /// Requests sent.
        attempts: u32,
        /// What failed, from the error chain.
        reason: String,
    },
    /// The origin sent more bytes than the expected size.
    #[error("file {url}: the origin sent more than the expected {expected} bytes")]
    TooLong {
        /// The URL, redacted.
        url: String,
        /// The expected size.
        expected: u64,
    },
    /// The file ended before the expected size (or before `end`).
    #[error("file {url}: the origin's file ended at {got} bytes, expected {expected}")]
    TooShort {
        /// The URL, redacted.
        url: String,
        /// Bytes the file should have had (or `end`).
        expected: u64,
        /// Where it ended.
        got: u64,
    },
    /// The origin declares (`Content-Length` / `Content-Range`) a size other than the expected one.
    #[error("file {url}: the origin declares {declared} bytes, expected {expected}")]
    SizeDeclared {
        /// The URL, redacted.
        url: String,
        /// The expected size.
        expected: u64,
        /// The size the origin declares.
        declared: u64,
    },
    /// The file changed between attempts, so the pieces cannot be joined.
    #[error("file {url}: it changed while being fetched ({what})")]
    Changed {
        /// The URL, redacted.
        url: String,
        /// What showed the change.
        what: &'static str,
    },
}

impl HasCode for FetchError {
    fn code(&self) -> Code {
        match self {
            FetchError::NotAllowed { source, .. } => source.code(),
            FetchError::BadUrl { .. }
            | FetchError::BadHeader { .. }
            | FetchError::TooLong { .. }
            | FetchError::TooShort { .. }
            | FetchError::SizeDeclared { .. } => Code::InvalidManifest,
            FetchError::BadWindow { .. } => Code::Internal,
            FetchError::Status { .. }
            | FetchError::Transport { .. }
            | FetchError::Changed { .. } => Code::FileUnavailable,
        }
    }
}

/// Validates `req`'s extra headers into a map. The service can call this before the first byte is sent,
/// so that a bad header answers with an error instead of a broken download.
pub fn request_headers(req: &FileRequest) -> Result<HeaderMap, FetchError> {
    headers_for(&req.url, &req.headers)
}

/// [`request_headers`] for the file at `url` with the manifest's `headers`, without a [`FileRequest`].
pub fn headers_for(url: &str, headers: &[(String, String)]) -> Result<HeaderMap, FetchError> {
    validate_headers(headers).map_err(|bad| FetchError::BadHeader {
        url: redact_url_str(url),
        name: bad.name,
        reason: bad.reason,
    })
}

/// Streams the bytes `[start, end)` of the file at `req.url`, pulled by the consumer.
///
/// The stream ends after the last byte, or yields one `Err` and ends. Nothing is requested until it is
/// first polled. When the end of the body is already there with the last bytes (the usual case), it is
/// confirmed at once and the stream's `size_hint` turns to `(0, Some(0))` as it yields those bytes: a
/// consumer that checks it (the read-ahead, [`crate::prefetch`]) learns of the end with the last chunk
/// instead of polling once more, which for a small file is a task wake-up less per file.
pub fn fetch_file(
    client: &OriginClient,
    req: FileRequest,
) -> impl Stream<Item = Result<Bytes, FetchError>> + Send + 'static {
    let client = client.clone();
    let ended = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ended);
    let inner = stream::unfold(Step::Start(Box::new((client, req))), move |step| {
        let flag = Arc::clone(&flag);
        async move {
            let mut fetch = match step {
                Step::Start(start) => match Fetch::new(start.0, start.1) {
                    Ok(fetch) => fetch,
                    Err(e) => return Some((Err(e), Step::Done)),
                },
                Step::Running(fetch) => fetch,
                Step::Ready(fetch, bytes) => return Some((Ok(bytes), Step::Running(fetch))),
                Step::Failed(e) => return Some((Err(e), Step::Done)),
                Step::Done => return None,
            };
            match fetch.next_chunk().await {
                Ok(Some(bytes)) => {
                    if !fetch.reached_stop() {
                        return Some((Ok(bytes), Step::Running(fetch)));
                    }
                    // The last bytes of the window: confirm the end now if that needs no waiting (at the
                    // end, `next_chunk` only awaits the body, which is safe to drop while pending).
                    let next = match fetch.next_chunk().now_or_never() {
                        None => Step::Running(fetch),
                        Some(Ok(None)) => {
                            flag.store(true, Ordering::Release);
                            Step::Done
                        }
                        Some(Ok(Some(more))) => Step::Ready(fetch, more),
                        Some(Err(e)) => Step::Failed(e),
                    };
                    Some((Ok(bytes), next))
                }
                Ok(None) => None,
                Err(e) => Some((Err(e), Step::Done)),
            }
        }
    });
    Ending {
        inner: Box::pin(inner),
        ended,
    }
}

enum Step {
    Start(Box<(OriginClient, FileRequest)>),
    Running(Box<Fetch>),
    /// Bytes read while confirming the end, yielded next.
    Ready(Box<Fetch>, Bytes),
    /// An error found while confirming the end, yielded next.
    Failed(FetchError),
    Done,
}

/// [`fetch_file`]'s stream: `inner`, with a `size_hint` of `(0, Some(0))` once `ended` says the end of
/// the body was confirmed.
struct Ending<S> {
    inner: Pin<Box<S>>,
    ended: Arc<AtomicBool>,
}

impl<S: Stream> Stream for Ending<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.inner.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ended.load(Ordering::Acquire) {
            (0, Some(0))
        } else {
            self.inner.size_hint()
        }
    }
}

/// The state of one file fetch. Positions are absolute offsets in the origin file.
struct Fetch {
    client: OriginClient,
    kind: OriginKind,
    context: HeaderMap,
    url: Url,
    shown: String,
    headers: HeaderMap,
    start: u64,
    /// The caller's end, clamped to the expected size.
    end: Option<u64>,
    /// The file's size: from the manifest, else learned from the first response.
    total: Option<u64>,
    total_from_manifest: bool,
    /// The next byte to deliver.
    pos: u64,
    /// CRC-32 of the delivered bytes `[start, pos)`, to check a re-read of them; `None` when the
    /// consumer checks the whole file ([`FileRequest::crc_checked_by_consumer`]).
    crc: Option<crc32fast::Hasher>,
    body: Option<Body>,
    /// `If-Range` value: the first response's strong ETag, else its Last-Modified.
    validator: Option<HeaderValue>,
    /// The first response's strong ETag, compared with later ones.
    etag: Option<HeaderValue>,
    /// Cleared once the origin ignored or mangled a Range request.
    use_range: bool,
    attempts: u32,
    /// Transient failures so far, against the retry policy.
    retries: Retries,
    /// Whether a read below the minimum rate was already retried.
    slow_retried: bool,
    /// See [`FileRequest::bulk_switch`].
    switch: Option<BulkSwitch>,
    /// See [`FileRequest::crc_out`] (`None` for a window).
    crc_out: Option<SourceCrc>,
}

/// The least a lean fetch must have left to move to bulk reads: the move costs one more request.
const BULK_SWITCH_MIN_LEFT: u64 = 4 << 20;

/// The response being read.
struct Body {
    body: OriginBody,
    /// Position of the next body byte.
    read_pos: u64,
    /// CRC-32 of the re-read part of the delivered prefix, while a full re-read passes over it.
    verify: Option<crc32fast::Hasher>,
}

/// What one request attempt produced.
enum Opened {
    Body(Body),
    /// The origin answered a Range request with a different range: try again without Range.
    RangeUnusable,
}

/// A failure of one attempt.
enum Failure {
    Transient(FetchError),
    /// Below the minimum rate: retried, but the bytes it trickled do not count as progress (so a drip
    /// cannot reset the retry count forever).
    TooSlow(FetchError),
    Fatal(FetchError),
}

impl Fetch {
    fn new(client: OriginClient, req: FileRequest) -> Result<Box<Fetch>, FetchError> {
        let url = Url::parse(&req.url).map_err(|_| FetchError::BadUrl {
            url: redact_url_str(&req.url),
        })?;
        let shown = redact_url(&url);
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(FetchError::BadUrl { url: shown });
        }
        let headers = request_headers(&req)?;
        let bad_window = || FetchError::BadWindow {
            url: shown.clone(),
            start: req.start,
            end: req.end,
            size: req.expected_size,
        };
        let end = match (req.end, req.expected_size) {
            (Some(end), Some(size)) => Some(end.min(size)),
            (end, _) => end,
        };
        if end.is_some_and(|e| e < req.start) || req.expected_size.is_some_and(|s| req.start > s) {
            return Err(bad_window());
        }
        client
            .guard()
            .check_url(&url, HostKind::File)
            .map_err(|source| FetchError::NotAllowed {
                url: shown.clone(),
                source,
            })?;
        let retries = client.settings().retry.start();
        let whole = req.start == 0 && req.end.is_none();
        let crc_out = req.crc_out.filter(|_| whole);
        Ok(Box::new(Fetch {
            retries,
            slow_retried: false,
            kind: req.kind,
            context: req.context,
            client,
            url,
            shown,
            headers,
            start: req.start,
            end,
            total: req.expected_size,
            total_from_manifest: req.expected_size.is_some(),
            pos: req.start,
            crc: (!req.crc_checked_by_consumer || !whole || crc_out.is_some())
                .then(crc32fast::Hasher::new),
            body: None,
            validator: None,
            etag: None,
            use_range: true,
            attempts: 0,
            switch: req.bulk_switch,
            crc_out,
        }))
    }

    /// Where delivery stops: the caller's end, else the file's size if known.
    fn stop(&self) -> Option<u64> {
        self.end.or(self.total)
    }

    /// Whether every byte of the window has been delivered.
    fn reached_stop(&self) -> bool {
        self.stop().is_some_and(|stop| self.pos >= stop)
    }

    /// Whether the window reaches the end of the file, so that the end of the body must be confirmed.
    fn window_reaches_eof(&self) -> bool {
        match self.end {
            None => true,
            Some(end) => Some(end) == self.total,
        }
    }

    /// The next chunk to deliver, `None` once the end is confirmed (then the CRC of every delivered byte
    /// goes to [`FileRequest::crc_out`]).
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, FetchError> {
        let next = self.read_next().await;
        if let (Ok(None), Some(out), Some(crc)) = (&next, &self.crc_out, &self.crc) {
            out.set(self.pos - self.start, crc.clone().finalize());
        }
        next
    }

    /// [`Self::next_chunk`] without the hand-over of the CRC.
    async fn read_next(&mut self) -> Result<Option<Bytes>, FetchError> {
        loop {
            let reached = self.stop().is_some_and(|stop| self.pos >= stop);
            if reached && self.body.is_none() {
                // Nothing left to read, except that a whole file expected to be empty is asked for once,
                // to check that it is.
                let confirm_empty = self.attempts == 0 && self.start == 0 && self.end.is_none();
                if !confirm_empty {
                    return Ok(None);
                }
            }
            if reached && !self.window_reaches_eof() {
                self.body = None;
                return Ok(None);
            }
            if self.take_bulk_switch() {
                continue;
            }
            // Past this point with `reached`, the body is read once more to check that it ends here.
            let Some(body) = self.body.as_mut() else {
                match self.open().await {
                    Ok(Opened::Body(body)) => self.body = Some(body),
                    Ok(Opened::RangeUnusable) => self.use_range = false,
                    Err(Failure::Fatal(e)) => return Err(e),
                    Err(Failure::Transient(e)) => self.back_off(e, true).await?,
                    Err(Failure::TooSlow(e)) => self.back_off_slow(e).await?,
                }
                continue;
            };
            match body.body.chunk().await {
                Ok(Some(chunk)) => {
                    if let Some(out) = self.take(chunk)? {
                        return Ok(Some(out));
                    }
                }
                Ok(None) => {
                    let read_to = body.read_pos;
                    let verifying = body.verify.is_some();
                    self.body = None;
                    if verifying {
                        return Err(
                            self.changed("the file is now shorter than what was already sent")
                        );
                    }
                    return match self.stop() {
                        Some(stop) if self.pos < stop => Err(FetchError::TooShort {
                            url: self.shown.clone(),
                            expected: stop,
                            got: read_to,
                        }),
                        _ => Ok(None),
                    };
                }
                Err(e) => {
                    self.body = None;
                    if self.stop().is_some_and(|s| self.pos >= s) {
                        // Every byte of the window arrived; only the end of the message broke.
                        return Ok(None);
                    }
                    let failure = self.transport_failure(e);
                    match failure {
                        Failure::Fatal(e) => return Err(e),
                        Failure::Transient(e) => self.back_off(e, true).await?,
                        Failure::TooSlow(e) => self.back_off_slow(e).await?,
                    }
                }
            }
        }
    }

    /// Moves to bulk reads if the reader asked ([`BulkSwitch`]) and the move is safe and worth a request:
    /// drops the lean response so that the next [`Fetch::open`] asks for the rest with `Range` and
    /// `If-Range` through the bulk pool (a file that changed meanwhile is caught there as after any break).
    fn take_bulk_switch(&mut self) -> bool {
        // Taken only mid-body (not while a retry reopens or a re-read is checked), then decided once.
        let mid_body = self.body.as_ref().is_some_and(|b| b.verify.is_none());
        if !mid_body || !self.switch.as_ref().is_some_and(BulkSwitch::take_request) {
            return false;
        }
        let left = self.stop().map_or(0, |stop| stop.saturating_sub(self.pos));
        let resumable = self.use_range && self.validator.is_some();
        if !(resumable && left >= BULK_SWITCH_MIN_LEFT) {
            return false;
        }
        tracing::debug!(url = %self.shown, at = self.pos, left, "moving to bulk reads");
        self.client = self.client.with_reads(ReadSize::Bulk);
        self.body = None;
        true
    }

    /// Accounts for one body chunk; returns the part to deliver, if any.
    fn take(&mut self, chunk: Bytes) -> Result<Option<Bytes>, FetchError> {
        let Some(body) = self.body.as_mut() else {
            return Ok(None);
        };
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        let from = body.read_pos;
        let to = from.saturating_add(len);
        if let Some(total) = self.total {
            if to > total {
                self.body = None;
                return Err(FetchError::TooLong {
                    url: self.shown.clone(),
                    expected: total,
                });
            }
        }
        body.read_pos = to;
        let slice = |lo: u64, hi: u64| chunk.slice(offset(lo - from)..offset(hi - from));
        // Re-read part of the delivered prefix: checked against the running CRC.
        if let Some(verify) = body.verify.as_mut() {
            let lo = from.max(self.start);
            let hi = to.min(self.pos);
            if lo < hi {
                verify.update(&slice(lo, hi));
            }
            if to >= self.pos {
                let reread = verify.clone().finalize();
                body.verify = None;
                let sent = self.crc.as_ref().map(|crc| crc.clone().finalize());
                if sent.is_some_and(|sent| sent != reread) {
                    self.body = None;
                    return Err(self.changed("re-read bytes differ from those already sent"));
                }
            }
        }
        let lo = from.max(self.pos);
        let hi = self.stop().map_or(to, |stop| to.min(stop));
        if lo >= hi {
            return Ok(None);
        }
        let out = slice(lo, hi);
        if let Some(crc) = self.crc.as_mut() {
            crc.update(&out);
        }
        self.pos = hi;
        Ok(Some(out))
    }

    /// Sends one request for the bytes from `pos` (with Range when useful and allowed).
    async fn open(&mut self) -> Result<Opened, Failure> {
        let stop = self.stop();
        let partial_window = stop.is_some() && stop != self.total;
        // Resuming after delivered bytes needs a validator for If-Range: without one, a file that changed
        // meanwhile would be spliced from two versions, so re-read from 0 (the prefix CRC check covers it).
        let unguarded_resume = self.pos > self.start && self.validator.is_none();
        let want_range = self.use_range && (self.pos > 0 || partial_window) && !unguarded_resume;
        let mut headers = self.headers.clone();
        for (name, value) in &self.context {
            headers.insert(name.clone(), value.clone());
        }
        if want_range {
            let range = match stop {
                Some(stop) if stop > self.pos => format!("bytes={}-{}", self.pos, stop - 1),
                _ => format!("bytes={}-", self.pos),
            };
            if let Ok(v) = HeaderValue::from_str(&range) {
                headers.insert(RANGE, v);
            }
            if let Some(validator) = &self.validator {
                headers.insert(IF_RANGE, validator.clone());
            }
        }
        self.attempts += 1;
        let response = self
            .client
            .get(
                HostKind::File,
                self.kind,
                self.url.clone(),
                headers,
                CrossOrigin::DropHeaders,
            )
            .await
            .map_err(|e| self.transport_failure(e))?;
        if !self.headers.is_empty() && response.url.origin() != self.url.origin() {
            // Followed to another origin without the manifest headers: later attempts go there directly.
            self.url = response.url.clone();
            self.headers = HeaderMap::new();
        }
        let status = response.status;
        if !status.is_success() {
            let err = FetchError::Status {
                url: self.shown.clone(),
                status,
                attempts: self.attempts,
            };
            let transient = status.is_server_error()
                || status == StatusCode::REQUEST_TIMEOUT
                || status == StatusCode::TOO_MANY_REQUESTS;
            return Err(if transient {
                Failure::Transient(err)
            } else {
                Failure::Fatal(err)
            });
        }
        let etag = response.headers.get(ETAG).map(owned_value);
        if let (Some(first), Some(now)) = (&self.etag, &etag) {
            if first != now {
                return Err(Failure::Fatal(self.changed("its ETag changed")));
            }
        }
        if self.validator.is_none() && self.etag.is_none() {
            self.remember_validators(&response.headers);
        }
        if status == StatusCode::PARTIAL_CONTENT {
            let Some((first, declared)) = content_range(&response.headers) else {
                tracing::debug!(url = %self.shown, "206 without a usable Content-Range; retrying without Range");
                return Ok(Opened::RangeUnusable);
            };
            if first != self.pos {
                tracing::debug!(url = %self.shown, "206 for another range; retrying without Range");
                return Ok(Opened::RangeUnusable);
            }
            if let Some(declared) = declared {
                self.check_declared(declared).map_err(Failure::Fatal)?;
            }
            self.offer_bulk_switch(&response.headers);
            return Ok(Opened::Body(Body {
                body: response.body,
                read_pos: first,
                verify: None,
            }));
        }
        // A whole body (200 or another 2xx): from byte 0.
        if want_range {
            // The origin ignores ranges (or If-Range said the file changed; the prefix check will tell).
            self.use_range = false;
        }
        if let Some(declared) = declared_length(&response.headers) {
            self.check_declared(declared).map_err(Failure::Fatal)?;
        }
        let verify = (self.pos > self.start && self.crc.is_some()).then(crc32fast::Hasher::new);
        self.offer_bulk_switch(&response.headers);
        Ok(Opened::Body(Body {
            body: response.body,
            read_pos: 0,
            verify,
        }))
    }

    /// Offers the move to bulk reads ([`BulkSwitch`]) when this lean fetch could resume its file exactly:
    /// ranges still usable, the origin says it serves them and gave a validator for `If-Range`.
    fn offer_bulk_switch(&self, headers: &HeaderMap) {
        let Some(switch) = self.switch.as_ref().filter(|_| self.use_range) else {
            return;
        };
        let ranges = headers
            .get(ACCEPT_RANGES)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"bytes"));
        if ranges && self.validator.is_some() && self.client.reads() == ReadSize::Lean {
            switch.offer();
        }
    }

    fn remember_validators(&mut self, headers: &HeaderMap) {
        // Copies: these live as long as the fetch, and a clone would keep the connection's read buffer.
        let strong = headers
            .get(ETAG)
            .filter(|v| !v.as_bytes().starts_with(b"W/"))
            .map(owned_value);
        self.etag = strong.clone();
        self.validator = strong.or_else(|| headers.get(LAST_MODIFIED).map(owned_value));
    }

    /// Checks a size the origin declares against the known one, or learns it.
    fn check_declared(&mut self, declared: u64) -> Result<(), FetchError> {
        match self.total {
            Some(total) if total != declared => Err(if self.total_from_manifest {
                FetchError::SizeDeclared {
                    url: self.shown.clone(),
                    expected: total,
                    declared,
                }
            } else {
                self.changed("its size changed")
            }),
            Some(_) => Ok(()),
            None => {
                self.total = Some(declared);
                if self.end.is_some_and(|end| end > declared) {
                    return Err(FetchError::TooShort {
                        url: self.shown.clone(),
                        expected: self.end.unwrap_or(declared),
                        got: declared,
                    });
                }
                Ok(())
            }
        }
    }

    fn transport_failure(&self, err: TransportError) -> Failure {
        match err {
            TransportError::NotAllowed(refused) => Failure::Fatal(FetchError::NotAllowed {
                url: self.shown.clone(),
                source: refused,
            }),
            TransportError::BadRedirect(status) => Failure::Fatal(FetchError::Status {
                url: self.shown.clone(),
                status,
                attempts: self.attempts,
            }),
            slow @ TransportError::TooSlow { .. } => Failure::TooSlow(FetchError::Transport {
                url: self.shown.clone(),
                attempts: self.attempts,
                reason: slow.to_string(),
            }),
            other => Failure::Transient(FetchError::Transport {
                url: self.shown.clone(),
                attempts: self.attempts,
                reason: other.to_string(),
            }),
        }
    }

    /// A read below the minimum rate: retried once per fetch (an origin too slow twice will not recover),
    /// its trickle not counted as progress.
    async fn back_off_slow(&mut self, err: FetchError) -> Result<(), FetchError> {
        if self.slow_retried {
            return Err(err);
        }
        self.slow_retried = true;
        self.back_off(err, false).await
    }

    /// Counts a transient failure (after progress, if `progress` counts); waits before the next attempt, or
    /// gives up with `err`.
    async fn back_off(&mut self, err: FetchError, progress: bool) -> Result<(), FetchError> {
        let at = if progress { self.pos } else { 0 };
        let Some(delay) = self.retries.failed(at) else {
            return Err(err);
        };
        tracing::debug!(url = %self.shown, delivered = self.pos - self.start, retry = self.retries.taken(), ?delay, error = %err, "retrying file fetch");
        self.client.metrics().origin_retry(self.kind);
        tokio::time::sleep(delay).await;
        Ok(())
    }

    fn changed(&self, what: &'static str) -> FetchError {
        FetchError::Changed {
            url: self.shown.clone(),
            what,
        }
    }
}

/// A chunk-relative offset (always within the chunk, which fits in memory).
fn offset(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}
