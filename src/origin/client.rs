//! The shared HTTP client for origin requests: [`OriginClient`], one GET with its redirects
//! ([`OriginClient::get`]), the body reader with its time bounds ([`OriginBody`]), and one POST without
//! redirects ([`OriginClient::post`], the completion reports), behind the same guard.
//!
//! Built on hyper-util's pooled client rather than reqwest, because zipper must bound what one origin read
//! can hold: reqwest gives no handle on hyper's HTTP/1 read buffer, which grows adaptively to ~400 KiB per
//! connection when the consumer is slower than the origin, and every such read becomes one chunk held for a
//! slow client (measured: ~3.5 MiB per slow download). Here an HTTP/1 read is at most
//! [`ORIGIN_READ_MAX`] bytes, and an HTTP/2 stream buffers at most [`H2_STREAM_WINDOW`]; the memory budget
//! ([`crate::budget`]) counts the chunks from there on.
//!
//! One connection pool serves every download. Requests carry `User-Agent: zipper/<version>`; nothing is
//! decompressed; no proxy is used (it would hide the resolved address from the guard); no `Referer` is sent.
//! Connections are made only through the guard's resolver. Redirects are followed here, at most
//! `max_redirects` hops, each target checked by the guard; a redirect to another origin (scheme, host or
//! port) drops the request's extra headers (they were meant for the first origin only).
//!
//! This module must not know about zip or manifests, retry, or map errors to HTTP statuses.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, LOCATION, USER_AGENT as USER_AGENT_HEADER};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use url::Url;

use super::guard::{find_guard_error, Guard, GuardError, GuardedResolver, HostKind};
use super::OriginSettings;
use crate::metrics::{Metrics, OriginKind, OriginOutcome};

/// The `User-Agent` of every origin request (docs/contract.md, Manifest request).
pub const USER_AGENT: &str = concat!("zipper/", env!("CARGO_PKG_VERSION"));

/// The largest HTTP/1 read from an origin, hence the largest chunk: 8 KiB (hyper's minimum), so that the
/// per-download floor of the memory budget (16 KiB, docs/contract.md, Safety) holds two chunks: the one the
/// consumer has (in hyper's write queue, or being compressed) and the next one being read. hyper's
/// connection task reads one more chunk ahead into the body's channel before zipper asks (its `want` signal
/// stays on once the body was polled), so a slow download really holds three reads: a heap profile
/// (heaptrack, 200 clients at 64 KiB/s) found ~3 × 32 KiB of origin read buffers per download when this was
/// 32 KiB, the largest item of its ~174 KiB; at 16 KiB the 1,000-client crowd still took 111 KiB per
/// download. At 8 KiB that is 24 KiB. A slow client needs no more (64 KiB/s is eight reads a second), and a
/// fast client gets bulk reads instead ([`ORIGIN_BULK_READ_MAX`]). hyper also bounds a response head by this
/// size: a head that does not fit is requested again through the bulk pool ([`OriginClient::get`]), so
/// heads up to 256 KiB still work and only that rare response pays a second request.
pub const ORIGIN_READ_MAX: usize = 8 * 1024;

/// The HTTP/1 buffer of the report client ([`OriginClient::post`]): its response heads up to 16 KiB.
const POST_READ_MAX: usize = 16 * 1024;

/// The largest HTTP/1 read of a *bulk* fetch ([`ReadSize::Bulk`]): 256 KiB. Eight times fewer reads,
/// writes and task wake-ups per byte than 32 KiB reads (the profile of a fast download is mostly
/// per-syscall kernel work), for fetches whose reader holds a reservation of two such chunks.
pub const ORIGIN_BULK_READ_MAX: usize = 256 * 1024;

/// Which connection pool a request uses, hence the largest chunk its body yields (HTTP/1; an HTTP/2
/// origin's chunks are its frames, at most 16 KiB by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadSize {
    /// Reads of at most [`ORIGIN_READ_MAX`]: what a download's own floor holds.
    #[default]
    Lean,
    /// Reads of at most [`ORIGIN_BULK_READ_MAX`], for a reader that reserved room for them.
    Bulk,
}

impl ReadSize {
    /// The largest chunk a body read this way yields.
    pub fn max_chunk(self) -> usize {
        match self {
            ReadSize::Lean => ORIGIN_READ_MAX,
            ReadSize::Bulk => ORIGIN_BULK_READ_MAX,
        }
    }
}

/// How one fetch reads: through which pool, and for a lean fetch, the switch that may move it to bulk
/// reads mid-body ([`BulkSwitch`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// The pool the fetch starts with.
    pub size: ReadSize,
    /// Set for a lean fetch whose reader may later have room for bulk chunks.
    pub switch: Option<BulkSwitch>,
}

impl Reads {
    /// Reads through `size`'s pool, without a switch.
    pub fn fixed(size: ReadSize) -> Self {
        Reads { size, switch: None }
    }
}

/// Moves one lean fetch to bulk reads mid-body. Shared by the fetch and its reader (the read-ahead,
/// [`crate::prefetch`]): the fetch *offers* once its origin has shown it can resume the file exactly
/// (`Accept-Ranges: bytes` and a validator for `If-Range`); the reader *requests* once it has reserved room
/// for bulk chunks and its client has proven fast; before its next read the fetch takes the request, drops
/// the lean response and asks for the rest with `Range` and `If-Range` through the bulk pool.
///
/// Without it, an archive's first entry is read lean however fast its client (its pace is not known when
/// the entry opens), so a one-file archive streamed at 8 KiB reads: 236 MB/s and 4.96 CPU s/GB against
/// ~1,100 MB/s and ~1 s/GB for entries opened bulk (`cargo bench --bench compare`, "one big file").
#[derive(Debug, Clone, Default)]
pub struct BulkSwitch(Arc<AtomicU8>);

const SWITCH_OFFERED: u8 = 1;
const SWITCH_REQUESTED: u8 = 2;

impl BulkSwitch {
    /// The fetch: it could move now.
    pub fn offer(&self) {
        let _ = self
            .0
            .compare_exchange(0, SWITCH_OFFERED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The reader: whether the fetch offered (and nobody requested yet).
    pub fn offered(&self) -> bool {
        self.0.load(Ordering::Acquire) == SWITCH_OFFERED
    }

    /// The reader: move, room for bulk chunks is reserved.
    pub fn request(&self) {
        self.0.store(SWITCH_REQUESTED, Ordering::Release);
    }

    /// The fetch: whether a move was requested; a request is taken once (the switch is spent after).
    pub fn take_request(&self) -> bool {
        self.0
            .compare_exchange(
                SWITCH_REQUESTED,
                SWITCH_REQUESTED + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

impl PartialEq for BulkSwitch {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for BulkSwitch {}

/// The HTTP/2 receive window per origin stream: what h2 buffers for a stream before its consumer reads.
pub const H2_STREAM_WINDOW: u32 = 256 * 1024;

/// The HTTP/2 receive window per origin connection (shared by its streams).
const H2_CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;

/// The headers zipper itself adds for a download's context (the client's W3C `traceparent`, the request's
/// `X-Request-Id`): they replace a manifest header of the same name and, unlike a manifest's headers, follow
/// a redirect to another origin.
pub const CONTEXT_HEADERS: &[&str] = &["traceparent", "x-request-id"];

/// Idle pooled connections kept per origin host.
const POOL_IDLE_PER_HOST: usize = 64;

/// Idle pooled connections kept per host for [`OriginClient::post`].
const POST_POOL_IDLE_PER_HOST: usize = 8;

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

type Connector = HttpsConnector<HttpConnector<GuardedResolver>>;

/// The client could not be built (for example, the TLS roots failed to load).
#[derive(Debug, thiserror::Error)]
#[error("building the origin HTTP client: {0}")]
pub struct ClientBuildError(String);

/// Why one request (with its redirects) or one body read failed. Messages never contain a URL's query or a
/// header value.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The guard refused a host, an address or a redirect.
    #[error(transparent)]
    NotAllowed(#[from] GuardError),
    /// No connection could be made (DNS, refused, TLS, connect timeout).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The request or the response head failed after connecting.
    #[error("the request failed: {0}")]
    Request(String),
    /// No response head, or no body bytes, within the read timeout.
    #[error("timed out after {0:?} without data")]
    Timeout(Duration),
    /// The body arrived slower than the minimum rate over a whole read-timeout window.
    #[error("the origin sent {got} bytes in {window:?}, below the minimum of {min_rate} bytes/s")]
    TooSlow {
        /// Bytes received in the window.
        got: u64,
        /// The window.
        window: Duration,
        /// The minimum rate.
        min_rate: u64,
    },
    /// The response body broke off.
    #[error("the response body broke off: {0}")]
    Body(String),
    /// A redirect without a usable `Location`.
    #[error("redirect ({0}) without a usable Location")]
    BadRedirect(StatusCode),
}

impl TransportError {
    /// Whether trying again may succeed (everything but a refusal or a broken redirect).
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            TransportError::NotAllowed(_) | TransportError::BadRedirect(_)
        )
    }
}

/// What the caller wants done with a redirect to another origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossOrigin {
    /// Follow it with the same extra headers (the manifest request: its headers sign the callback only).
    KeepHeaders,
    /// Follow it without the extra headers (file requests with manifest `headers`).
    DropHeaders,
}

/// The origin client: cheap to clone, shared by all downloads.
#[derive(Debug, Clone)]
pub struct OriginClient {
    inner: std::sync::Arc<Inner>,
    reads: ReadSize,
}

#[derive(Debug)]
struct Inner {
    /// The lean pool ([`ReadSize::Lean`]).
    http: Client<Connector, Empty<Bytes>>,
    /// The client of [`OriginClient::post`] (completion reports): its own pool, the same guarded connector.
    post: Client<Connector, Full<Bytes>>,
    /// The bulk pool ([`ReadSize::Bulk`]): the same settings with a larger HTTP/1 read buffer (hyper sets
    /// it per pool, not per request).
    bulk: Client<Connector, Empty<Bytes>>,
    guard: Guard,
    settings: OriginSettings,
    metrics: Arc<Metrics>,
}

/// A response head and its body, after redirects.
#[derive(Debug)]
pub struct OriginResponse {
    /// The final status.
    pub status: StatusCode,
    /// The final headers.
    pub headers: HeaderMap,
    /// The URL that answered (the last redirect target).
    pub url: Url,
    /// The body, read through the time bounds.
    pub body: OriginBody,
}

impl OriginClient {
    /// Builds the client from `settings`, counting its requests into a registry nobody scrapes.
    pub fn new(settings: OriginSettings) -> Result<Self, ClientBuildError> {
        Self::with_metrics(settings, crate::metrics::unscraped())
    }

    /// Builds the client from `settings`, counting every request (by kind and outcome) and retry into
    /// `metrics`.
    pub fn with_metrics(
        settings: OriginSettings,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ClientBuildError> {
        let guard = Guard::new(&settings);
        let mut http = HttpConnector::new_with_resolver(guard.resolver());
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls_provider())
            .map_err(|e| ClientBuildError(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let post = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POST_POOL_IDLE_PER_HOST)
            .http1_max_buf_size(POST_READ_MAX)
            .build(tls.clone());
        let pool = |read_max: usize| {
            Client::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                .pool_max_idle_per_host(POOL_IDLE_PER_HOST)
                .http1_max_buf_size(read_max)
                .http2_initial_stream_window_size(H2_STREAM_WINDOW)
                .http2_initial_connection_window_size(H2_CONNECTION_WINDOW)
                .http2_adaptive_window(false)
                .http2_keep_alive_interval(Some(Duration::from_secs(20)))
                .http2_keep_alive_timeout(Duration::from_secs(20))
                .build(tls.clone())
        };
        Ok(OriginClient {
            inner: Arc::new(Inner {
                http: pool(ORIGIN_READ_MAX),
                bulk: pool(ORIGIN_BULK_READ_MAX),
                post,
                guard,
                settings,
                metrics,
            }),
            reads: ReadSize::Lean,
        })
    }

    /// The same client, sending its requests through the pool of `reads`.
    pub fn with_reads(&self, reads: ReadSize) -> OriginClient {
        OriginClient {
            inner: std::sync::Arc::clone(&self.inner),
            reads,
        }
    }

    /// The pool its requests go through.
    pub fn reads(&self) -> ReadSize {
        self.reads
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &OriginSettings {
        &self.inner.settings
    }

    /// The registry its requests and retries are counted in.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The guard applying the settings' allowlists and private-network rule.
    pub fn guard(&self) -> &Guard {
        &self.inner.guard
    }

    /// GETs `url` with `headers` (plus `User-Agent`), following redirects: each hop is checked by the
    /// guard, at most `max_redirects`; `cross_origin` says what happens to `headers` on a hop to another
    /// origin. The response head must arrive within the read timeout. Each request sent is counted under
    /// `purpose`.
    pub async fn get(
        &self,
        kind: HostKind,
        purpose: OriginKind,
        url: Url,
        headers: HeaderMap,
        cross_origin: CrossOrigin,
    ) -> Result<OriginResponse, TransportError> {
        self.get_with_target(kind, purpose, url, None, headers, cross_origin)
            .await
    }

    /// [`OriginClient::get`], whose first request carries `first_target` (a path and query from
    /// [`super::target::exact_target`]) instead of `url`'s own: the manifest GET keeps the callback's
    /// request target as signed (docs/contract.md, Manifest request). Redirect targets are requested as parsed.
    pub async fn get_with_target(
        &self,
        kind: HostKind,
        purpose: OriginKind,
        mut url: Url,
        mut first_target: Option<String>,
        mut headers: HeaderMap,
        cross_origin: CrossOrigin,
    ) -> Result<OriginResponse, TransportError> {
        let mut hops = 0usize;
        loop {
            self.inner.guard.check_url(&url, kind)?;
            let target = first_target.take();
            let sent = self.send_once(&url, target.as_deref(), &headers).await;
            let outcome = match &sent {
                Ok(response) => OriginOutcome::of_status(response.status().as_u16()),
                Err(_) => OriginOutcome::Error,
            };
            self.inner.metrics.origin_request(purpose, outcome);
            let response = sent?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                let (parts, body) = response.into_parts();
                return Ok(OriginResponse {
                    status,
                    headers: parts.headers,
                    url,
                    body: OriginBody::new(body, &self.inner.settings),
                });
            }
            let target = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url.join(loc).ok())
                .ok_or(TransportError::BadRedirect(status))?;
            hops += 1;
            self.inner.guard.check_redirect(hops, &target, kind)?;
            if target.origin() != url.origin() && cross_origin == CrossOrigin::DropHeaders {
                tracing::debug!(from = %super::redact_url(&url), to = %super::redact_url(&target), "cross-origin redirect: dropping manifest headers");
                headers = context_only(&headers);
            }
            url = target;
        }
    }

    /// POSTs `body` to `url` with `headers` (plus `User-Agent`), after the guard's check: one request, no
    /// redirect followed (a 3xx is returned as it is). Connect and the response head must come within
    /// `timeout`; the response body is not read. Returns the status.
    pub async fn post(
        &self,
        kind: HostKind,
        url: &Url,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<StatusCode, TransportError> {
        self.inner.guard.check_url(url, kind)?;
        let uri = super::target::request_uri(url, None).ok_or_else(|| {
            TransportError::Request("the URL is not a valid request target".into())
        })?;
        let mut request = Request::post(uri)
            .body(Full::new(body))
            .map_err(|_| TransportError::Request("the request could not be built".into()))?;
        *request.headers_mut() = headers;
        request
            .headers_mut()
            .insert(USER_AGENT_HEADER, HeaderValue::from_static(USER_AGENT));
        match tokio::time::timeout(timeout, self.inner.post.request(request)).await {
            Err(_) => Err(TransportError::Timeout(timeout)),
            Ok(Ok(response)) => Ok(response.status()),
            Ok(Err(e)) => Err(transport_error(&e)),
        }
    }

    async fn send_once(
        &self,
        url: &Url,
        target: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<http::Response<Incoming>, TransportError> {
        let read_timeout = self.inner.settings.read_timeout;
        // The connect timeout is the connector's; the head must follow within the read timeout.
        let bound = self.inner.settings.connect_timeout + read_timeout;
        let pool = match self.reads {
            ReadSize::Lean => &self.inner.http,
            ReadSize::Bulk => &self.inner.bulk,
        };
        let first =
            send_within(pool, build_get(url, target, headers)?, bound, read_timeout).await?;
        let e = match first {
            Ok(response) => return Ok(response),
            Err(e) => e,
        };
        if self.reads == ReadSize::Lean && head_too_large(&e) {
            // The lean pool's reads bound a head to ORIGIN_READ_MAX; the bulk pool's hold 256 KiB.
            tracing::debug!(url = %super::redact_url(url), "response head over {ORIGIN_READ_MAX} bytes: asking again with larger reads");
            let request = build_get(url, target, headers)?;
            return send_within(&self.inner.bulk, request, bound, read_timeout)
                .await?
                .map_err(|e| transport_error(&e));
        }
        Err(transport_error(&e))
    }
}

/// `request` on `pool`: a timeout (reported as the read timeout) after `bound`, else hyper's outcome.
async fn send_within(
    pool: &Client<Connector, Empty<Bytes>>,
    request: Request<Empty<Bytes>>,
    bound: Duration,
    read_timeout: Duration,
) -> Result<Result<http::Response<Incoming>, hyper_util::client::legacy::Error>, TransportError> {
    tokio::time::timeout(bound, pool.request(request))
        .await
        .map_err(|_| TransportError::Timeout(read_timeout))
}

/// The GET of `url` (or of `target` on its origin) with `headers` and zipper's `User-Agent`.
fn build_get(
    url: &Url,
    target: Option<&str>,
    headers: &HeaderMap,
) -> Result<Request<Empty<Bytes>>, TransportError> {
    let uri = super::target::request_uri(url, target)
        .ok_or_else(|| TransportError::Request("the URL is not a valid request target".into()))?;
    let mut request = Request::get(uri)
        .body(Empty::new())
        .map_err(|_| TransportError::Request("the request could not be built".into()))?;
    *request.headers_mut() = headers.clone();
    request
        .headers_mut()
        .insert(USER_AGENT_HEADER, HeaderValue::from_static(USER_AGENT));
    Ok(request)
}

/// Whether a request failed because its response head did not fit the connection's read buffer.
fn head_too_large(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            return hyper.is_parse_too_large();
        }
        source = cause.source();
    }
    false
}

/// The [`CONTEXT_HEADERS`] of `headers`.
fn context_only(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in CONTEXT_HEADERS {
        if let Some(value) = headers.get(*name) {
            kept.insert(*name, value.clone());
        }
    }
    kept
}

/// The transport error for a failed client request: the guard's refusal, a connect error or another.
fn transport_error(e: &hyper_util::client::legacy::Error) -> TransportError {
    if let Some(refused) = find_guard_error(e) {
        return TransportError::NotAllowed(refused.clone());
    }
    let text = describe(e);
    if e.is_connect() {
        TransportError::Connect(text)
    } else {
        TransportError::Request(text)
    }
}

/// The TLS crypto provider (ring, the one reqwest used here before).
fn rustls_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An origin response body, read chunk by chunk within two time bounds: each chunk must arrive within the
/// read timeout, and over every read-timeout window at least `min_rate_bytes_per_sec` × window bytes must
/// arrive (docs/contract.md, Safety), so a drip of a byte now and then cannot hold a download forever.
#[derive(Debug)]
pub struct OriginBody {
    body: Incoming,
    read_timeout: Duration,
    min_rate: u64,
    window_start: Instant,
    window_bytes: u64,
}

impl OriginBody {
    fn new(body: Incoming, settings: &OriginSettings) -> Self {
        OriginBody {
            body,
            read_timeout: settings.read_timeout,
            min_rate: settings.min_rate_bytes_per_sec,
            window_start: Instant::now(),
            window_bytes: 0,
        }
    }

    /// The next data chunk, `None` at the end of the body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        let idle_deadline = Instant::now() + self.read_timeout;
        loop {
            let window_end = self.window_start + self.read_timeout;
            let deadline = if self.min_rate > 0 {
                idle_deadline.min(window_end)
            } else {
                idle_deadline
            };
            let frame = match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) if Instant::now() >= idle_deadline => {
                    return Err(TransportError::Timeout(self.read_timeout))
                }
                Err(_) => {
                    self.end_window()?;
                    continue;
                }
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(TransportError::Body(describe(&e))),
                Ok(Some(Ok(frame))) => frame,
            };
            // Trailers carry no data; keep reading until the end.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            self.window_bytes += data.len() as u64;
            if Instant::now() >= window_end {
                self.end_window()?;
            }
            if !data.is_empty() {
                return Ok(Some(data));
            }
        }
    }

    /// Closes the current rate window: fails if it averaged below the minimum rate, else starts the next.
    fn end_window(&mut self) -> Result<(), TransportError> {
        let window = self.window_start.elapsed();
        let needed = rate_floor(self.min_rate, window);
        if self.min_rate > 0 && self.window_bytes < needed {
            return Err(TransportError::TooSlow {
                got: self.window_bytes,
                window,
                min_rate: self.min_rate,
            });
        }
        self.window_start = Instant::now();
        self.window_bytes = 0;
        Ok(())
    }
}

/// The bytes `min_rate` bytes/s require over `window`.
fn rate_floor(min_rate: u64, window: Duration) -> u64 {
    let bytes = u128::from(min_rate).saturating_mul(window.as_millis()) / 1000;
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

/// An error and its causes, one line, without URLs (hyper and the connector do not print them).
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    let mut depth = 0;
    while let Some(cause) = source {
        if depth >= 8 {
            break;
        }
        let line = cause.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
        depth += 1;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_switch_is_offered_requested_and_taken_once() {
        let switch = BulkSwitch::default();
        assert!(!switch.offered());
        assert!(!switch.take_request(), "nothing requested");
        switch.offer();
        assert!(switch.offered());
        let fetch_side = switch.clone();
        assert_eq!(fetch_side, switch);
        assert_ne!(
            BulkSwitch::default(),
            switch,
            "equal only to its own clones"
        );
        switch.request();
        assert!(!switch.offered(), "requested: no longer on offer");
        assert!(fetch_side.take_request());
        assert!(!fetch_side.take_request(), "taken once");
        fetch_side.offer();
        assert!(!switch.offered(), "a spent switch is not offered again");
    }

    #[test]
    fn rate_floor_scales_with_the_window() {
        assert_eq!(rate_floor(1024, Duration::from_secs(30)), 30 * 1024);
        assert_eq!(rate_floor(1000, Duration::from_millis(1500)), 1500);
        assert_eq!(rate_floor(0, Duration::from_secs(30)), 0);
        assert_eq!(
            rate_floor(u64::MAX, Duration::from_secs(u64::MAX)),
            u64::MAX
        );
    }
}
