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
//! Retry count: a failure after the stream delivered new bytes starts the count again, so a long file on a
//! flaky link still completes as long as every attempt makes progress.

use bytes::Bytes;
use futures_util::stream::{self, Stream};
use http::header::{
    HeaderName, ACCEPT_ENCODING, CONNECTION, CONTENT_LENGTH, CONTENT_RANGE, ETAG, EXPECT, HOST,
    IF_RANGE, LAST_MODIFIED, RANGE, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use url::Url;

use super::guard::{find_guard_error, GuardError, HostKind};
use super::manifest::describe;
use super::{redact_url, redact_url_str, OriginClient};
use crate::error::{Code, HasCode};

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
/// everything else the origin did is `manifest_unavailable` (502, the contract's code for an unusable
/// origin).
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
            | FetchError::Changed { .. } => Code::ManifestUnavailable,
        }
    }
}

/// Headers zipper sets or that would change the bytes or the framing; the manifest may not set them.
const RESERVED: [HeaderName; 11] = [
    HOST,
    RANGE,
    IF_RANGE,
    CONTENT_LENGTH,
    TRANSFER_ENCODING,
    CONNECTION,
    TE,
    UPGRADE,
    EXPECT,
    TRAILER,
    // No decompression is done, so a compressed answer would end up in the archive as is.
    ACCEPT_ENCODING,
];

/// Validates `req`'s extra headers into a map. The service can call this before the first byte is sent,
/// so that a bad header answers with an error instead of a broken download.
pub fn request_headers(req: &FileRequest) -> Result<HeaderMap, FetchError> {
    let mut map = HeaderMap::with_capacity(req.headers.len());
    for (name, value) in &req.headers {
        let bad = |reason| FetchError::BadHeader {
            url: redact_url_str(&req.url),
            name: name.clone(),
            reason,
        };
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("not a valid name"))?;
        if RESERVED.contains(&header) || header.as_str() == "keep-alive" {
            return Err(bad("set by zipper, not allowed in a manifest"));
        }
        let value = HeaderValue::from_str(value).map_err(|_| bad("the value is not valid"))?;
        map.append(header, value);
    }
    Ok(map)
}

/// Streams the bytes `[start, end)` of the file at `req.url`, pulled by the consumer.
///
/// The stream ends after the last byte, or yields one `Err` and ends. Nothing is requested until it is
/// first polled.
pub fn fetch_file(
    client: &OriginClient,
    req: FileRequest,
) -> impl Stream<Item = Result<Bytes, FetchError>> + Send + 'static {
    let client = client.clone();
    stream::unfold(Step::Start(client, req), |step| async move {
        let mut fetch = match step {
            Step::Start(client, req) => match Fetch::new(client, req) {
                Ok(fetch) => fetch,
                Err(e) => return Some((Err(e), Step::Done)),
            },
            Step::Running(fetch) => fetch,
            Step::Done => return None,
        };
        match fetch.next_chunk().await {
            Ok(Some(bytes)) => Some((Ok(bytes), Step::Running(fetch))),
            Ok(None) => None,
            Err(e) => Some((Err(e), Step::Done)),
        }
    })
}

enum Step {
    Start(OriginClient, FileRequest),
    Running(Box<Fetch>),
    Done,
}

/// The state of one file fetch. Positions are absolute offsets in the origin file.
struct Fetch {
    client: OriginClient,
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
    /// CRC-32 of the delivered bytes `[start, pos)`.
    crc: crc32fast::Hasher,
    body: Option<Body>,
    /// `If-Range` value: the first response's strong ETag, else its Last-Modified.
    validator: Option<HeaderValue>,
    /// The first response's strong ETag, compared with later ones.
    etag: Option<HeaderValue>,
    /// Cleared once the origin ignored or mangled a Range request.
    use_range: bool,
    attempts: u32,
    /// Transient failures since the last progress.
    failures: u32,
    /// `pos` at the last transient failure.
    progress_mark: u64,
}

/// The response being read.
struct Body {
    response: reqwest::Response,
    /// Position of the next body byte.
    read_pos: u64,
    /// CRC-32 of the re-read part of the delivered prefix, while a full re-read passes over it.
    verify: Option<crc32fast::Hasher>,
}

/// What one request attempt produced.
enum Opened {
    Body(Body),
    /// A cross-origin redirect was taken: send the request again to the new URL.
    Redirected,
    /// The origin answered a Range request with a different range: try again without Range.
    RangeUnusable,
}

/// A failure of one attempt.
enum Failure {
    Transient(FetchError),
    Fatal(FetchError),
}

impl Fetch {
    fn new(client: OriginClient, req: FileRequest) -> Result<Box<Fetch>, FetchError> {
        let shown = redact_url_str(&req.url);
        let url = Url::parse(&req.url).map_err(|_| FetchError::BadUrl { url: shown.clone() })?;
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
        Ok(Box::new(Fetch {
            client,
            url,
            shown,
            headers,
            start: req.start,
            end,
            total: req.expected_size,
            total_from_manifest: req.expected_size.is_some(),
            pos: req.start,
            crc: crc32fast::Hasher::new(),
            body: None,
            validator: None,
            etag: None,
            use_range: true,
            attempts: 0,
            failures: 0,
            progress_mark: req.start,
        }))
    }

    /// Where delivery stops: the caller's end, else the file's size if known.
    fn stop(&self) -> Option<u64> {
        self.end.or(self.total)
    }

    /// Whether the window reaches the end of the file, so that the end of the body must be confirmed.
    fn window_reaches_eof(&self) -> bool {
        match self.end {
            None => true,
            Some(end) => Some(end) == self.total,
        }
    }

    /// The next chunk to deliver, `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, FetchError> {
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
            // Past this point with `reached`, the body is read once more to check that it ends here.
            let Some(body) = self.body.as_mut() else {
                match self.open().await {
                    Ok(Opened::Body(body)) => self.body = Some(body),
                    Ok(Opened::RangeUnusable) => self.use_range = false,
                    Ok(Opened::Redirected) => {}
                    Err(Failure::Fatal(e)) => return Err(e),
                    Err(Failure::Transient(e)) => self.back_off(e).await?,
                }
                continue;
            };
            match body.response.chunk().await {
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
                        Failure::Transient(e) => self.back_off(e).await?,
                    }
                }
            }
        }
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
                if reread != self.crc.clone().finalize() {
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
        self.crc.update(&out);
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
        let http = if self.headers.is_empty() {
            self.client.http(HostKind::File)
        } else {
            self.client.http_files_with_headers()
        };
        let mut request = http.get(self.url.clone()).headers(self.headers.clone());
        if want_range {
            let range = match stop {
                Some(stop) if stop > self.pos => format!("bytes={}-{}", self.pos, stop - 1),
                _ => format!("bytes={}-", self.pos),
            };
            request = request.header(RANGE, range);
            if let Some(validator) = &self.validator {
                request = request.header(IF_RANGE, validator.clone());
            }
        }
        self.attempts += 1;
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_failure(e))?;
        let status = response.status();
        if status.is_redirection() && !self.headers.is_empty() {
            return self.cross_origin_redirect(&response);
        }
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
        let etag = response.headers().get(ETAG).cloned();
        if let (Some(first), Some(now)) = (&self.etag, &etag) {
            if first != now {
                return Err(Failure::Fatal(self.changed("its ETag changed")));
            }
        }
        if self.validator.is_none() && self.etag.is_none() {
            self.remember_validators(response.headers());
        }
        if status == StatusCode::PARTIAL_CONTENT {
            let Some((first, declared)) = content_range(response.headers()) else {
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
            return Ok(Opened::Body(Body {
                response,
                read_pos: first,
                verify: None,
            }));
        }
        // A whole body (200 or another 2xx): from byte 0.
        if want_range {
            // The origin ignores ranges (or If-Range said the file changed; the prefix check will tell).
            self.use_range = false;
        }
        if let Some(declared) = declared_length(response.headers()) {
            self.check_declared(declared).map_err(Failure::Fatal)?;
        }
        let verify = (self.pos > self.start).then(crc32fast::Hasher::new);
        Ok(Opened::Body(Body {
            response,
            read_pos: 0,
            verify,
        }))
    }

    /// A redirect to another origin, handed back by the client used for requests with manifest headers:
    /// follow it from now on without those headers (they were meant for the first origin only).
    fn cross_origin_redirect(&mut self, response: &reqwest::Response) -> Result<Opened, Failure> {
        let target = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|loc| response.url().join(loc).ok());
        let Some(target) = target else {
            return Err(Failure::Fatal(FetchError::Status {
                url: self.shown.clone(),
                status: response.status(),
                attempts: self.attempts,
            }));
        };
        self.client
            .guard()
            .check_url(&target, HostKind::File)
            .map_err(|refused| {
                Failure::Fatal(FetchError::NotAllowed {
                    url: redact_url(&target),
                    source: refused,
                })
            })?;
        tracing::debug!(from = %self.shown, to = %redact_url(&target), "cross-origin redirect: dropping manifest headers");
        self.url = target;
        self.headers = HeaderMap::new();
        Ok(Opened::Redirected)
    }

    fn remember_validators(&mut self, headers: &HeaderMap) {
        let strong = headers
            .get(ETAG)
            .filter(|v| !v.as_bytes().starts_with(b"W/"))
            .cloned();
        self.etag = strong.clone();
        self.validator = strong.or_else(|| headers.get(LAST_MODIFIED).cloned());
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

    fn transport_failure(&self, err: reqwest::Error) -> Failure {
        if let Some(refused) = find_guard_error(&err) {
            return Failure::Fatal(FetchError::NotAllowed {
                url: self.shown.clone(),
                source: refused.clone(),
            });
        }
        let transient = err.is_connect()
            || err.is_timeout()
            || err.is_request()
            || err.is_body()
            || err.is_decode();
        let e = FetchError::Transport {
            url: self.shown.clone(),
            attempts: self.attempts,
            reason: describe(&err),
        };
        if transient {
            Failure::Transient(e)
        } else {
            Failure::Fatal(e)
        }
    }

    /// Counts a transient failure; waits before the next attempt, or gives up with `err`.
    async fn back_off(&mut self, err: FetchError) -> Result<(), FetchError> {
        if self.pos > self.progress_mark {
            self.failures = 0;
            self.progress_mark = self.pos;
        }
        self.failures += 1;
        let settings = self.client.settings();
        if self.failures > settings.retries {
            return Err(err);
        }
        let delay = settings.backoff(self.failures);
        tracing::debug!(url = %self.shown, delivered = self.pos - self.start, retry = self.failures, ?delay, error = %err, "retrying file fetch");
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

/// `Content-Length` of a whole-body answer.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

/// Parses `Content-Range: bytes first-last/total` into `(first, total)`; `total` is `None` for `*`.
fn content_range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    parse_content_range(headers.get(CONTENT_RANGE)?.to_str().ok()?)
}

fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.trim().split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    if last < first {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        n => {
            let n: u64 = n.parse().ok()?;
            if last >= n {
                return None;
            }
            Some(n)
        }
    };
    Some((first, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, Some(10))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("bytes 5-4/10"), None);
        assert_eq!(parse_content_range("bytes 5-10/10"), None);
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn reserved_and_invalid_headers_are_refused_without_their_values() {
        let mut req = FileRequest::new("https://cdn.example.com/a?sig=secret");
        req.headers = vec![("Authorization".into(), "Bearer x".into())];
        assert_eq!(request_headers(&req).map(|m| m.len()).ok(), Some(1));
        for (name, value) in [
            ("Range", "bytes=0-"),
            ("bad name", "v"),
            ("X-A", "line\nbreak"),
        ] {
            req.headers = vec![(name.into(), value.into())];
            let err = request_headers(&req).expect_err(name);
            let text = err.to_string();
            assert!(
                !text.contains("secret") && !text.contains("bytes=0-"),
                "{text}"
            );
            assert_eq!(err.code(), Code::InvalidManifest);
        }
    }
}
