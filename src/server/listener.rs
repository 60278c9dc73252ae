//! Accept loops: one task per connection, HTTP/1.1 and HTTP/2 (prior knowledge) on the same port, the
//! request-header timeout, the client idle-write timeout, and graceful shutdown (stop accepting, let
//! connections finish, then drop what remains).
//!
//! Bounds, for both protocols alike (docs/contract.md, Safety): at most `max_connections` open client connections
//! (more are closed at once); a connection with no request in progress for the header timeout is closed
//! (an HTTP/2 client that sent its preface and nothing else included); a connection whose every stream has
//! stalled (see [`super::body`]) is closed, which resets its streams; at most `h2_max_streams` streams per
//! HTTP/2 connection. Buffer sizes: hyper's HTTP/1 write queue is capped at [`H1_MAX_BUF`], so it asks the
//! body for more only when little is queued (the memory budget counts what is queued).
//!
//! An accept error is logged and retried after a pause; it never ends the server. This module knows nothing
//! of zip or links: it hands each request to the service function it was given.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};

use crate::origin::headers::owned_value;
use crate::zipstream::BoxError;

/// The response body type of every service.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// HTTP/2 pings on idle connections, and the time a ping may go unanswered before the connection closes.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);

/// Bytes a client must send within the header timeout before its protocol is known: the HTTP/2 preface
/// length, which is also shorter than any HTTP/1 request line worth serving.
const FIRST_BYTES: u64 = 24;

/// hyper's HTTP/1 buffer limit: request heads up to this size, and the write queue it keeps before it
/// stops asking the body for data.
const H1_MAX_BUF: usize = 64 * 1024;

/// Timeouts and bounds of a listener.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// Time allowed for a client to send its request headers; also the longest a connection may stay open
    /// with no request in progress.
    pub header_timeout: Duration,
    /// Time a client may leave a write pending (not reading) before the connection is dropped.
    pub write_timeout: Duration,
    /// Open client connections at most.
    pub max_connections: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub h2_max_streams: u32,
}

/// What one connection's requests share with its task: how many responses are alive, how many of them
/// have stalled, and since when it has been idle.
#[derive(Debug)]
pub struct ConnState {
    active: AtomicUsize,
    stalled: AtomicUsize,
    /// Milliseconds since `epoch` when the last response ended (or the connection opened).
    idle_since_ms: AtomicU64,
    epoch: Instant,
    wake: Notify,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            active: AtomicUsize::new(0),
            stalled: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            wake: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn request_started(&self) {
        self.active.fetch_add(1, Ordering::SeqCst);
    }

    fn response_ended(&self) {
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle_since_ms.store(self.now_ms(), Ordering::SeqCst);
        }
        self.wake.notify_one();
    }

    /// A download on this connection stalled (its client stopped taking data).
    pub fn stream_stalled(&self) {
        self.stalled.fetch_add(1, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// A stalled download's body was dropped.
    pub fn stalled_stream_ended(&self) {
        self.stalled.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether the connection only carries stalled streams.
    fn all_stalled(&self) -> bool {
        let stalled = self.stalled.load(Ordering::SeqCst);
        stalled > 0 && stalled >= self.active.load(Ordering::SeqCst)
    }

    /// How long the connection has had no request in progress (zero while one is).
    fn idle_for(&self) -> Duration {
        if self.active.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let since = self.idle_since_ms.load(Ordering::SeqCst);
        Duration::from_millis(self.now_ms().saturating_sub(since))
    }
}

/// A response body that tells its connection when it ends (is dropped).
struct Tracked {
    inner: Body,
    conn: Arc<ConnState>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.conn.response_ended();
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `listener` with `service` until `shutdown` turns true, then waits up to `grace` for open
/// connections to finish and returns.
pub async fn run<S, F>(
    listener: TcpListener,
    limits: ListenerLimits,
    service: S,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) where
    S: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_buf_size(H1_MAX_BUF)
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_streams.max(1))
        .keep_alive_interval(Some(H2_KEEP_ALIVE))
        .keep_alive_timeout(H2_KEEP_ALIVE);
    // One builder per protocol: the protocol is known before hyper sees the connection ([`sniff`]).
    let builders = Arc::new([builder.clone().http1_only(), builder.http2_only()]);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, _peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            tracing::warn!(
                max = limits.max_connections,
                "too many open client connections: connection closed"
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = service.clone();
        let builders = Arc::clone(&builders);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let protocol = match tokio::time::timeout(limits.header_timeout, sniff(&stream)).await {
                Ok(Ok(Some(protocol))) => protocol,
                Ok(Ok(None)) | Ok(Err(_)) => return,
                Err(_) => {
                    tracing::debug!("no request within the header timeout: closing the connection");
                    return;
                }
            };
            let io = TokioIo::new(ClientIo::new(stream, limits));
            let state = Arc::new(ConnState::new());
            let conn_state = Arc::clone(&state);
            let hyper_service = hyper::service::service_fn(move |req: Request<Incoming>| {
                conn_state.request_started();
                let mut req = detached(req);
                req.extensions_mut().insert(Arc::clone(&conn_state));
                // Boxed: hyper keeps the slot of the connection's in-flight future for the connection's
                // whole life, so inline the service's state (~10 KiB, heaptrack) would stay allocated while
                // the body streams; boxed, it is freed once the response head is ready.
                let fut = Box::pin(svc(req));
                let conn = Arc::clone(&conn_state);
                async move {
                    let res = fut.await;
                    Ok::<_, std::convert::Infallible>(
                        res.map(|inner| BodyExt::boxed_unsync(Tracked { inner, conn })),
                    )
                }
            });
            let builder = match protocol {
                Protocol::Http1 => &builders[0],
                Protocol::Http2 => &builders[1],
            };
            let conn = watcher.watch(builder.serve_connection(io, hyper_service));
            drive(conn, state, limits.header_timeout, permit).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "grace period over: dropping open connections"
        );
    }
}

/// `req` with its URI and header values copied out of the buffer hyper parsed them from.
///
/// hyper's HTTP/1 parser hands out the URI and header values as slices of the connection's 8 KiB read
/// buffer. While any of them lives, that buffer cannot be reused, and hyper's next read on the connection
/// (the end-of-connection check it makes while a response streams) allocates a second one, which then
/// stays for the connection's life: 8 KiB per download (heaptrack, 200 slow clients). A request head is a
/// few hundred bytes, so copying it costs nothing measurable. Values that cannot be copied stay shared.
fn detached<B>(req: Request<B>) -> Request<B> {
    let (mut parts, body) = req.into_parts();
    let mut uri = http::uri::Parts::from(parts.uri.clone());
    uri.authority = uri.authority.map(|a| a.as_str().parse().unwrap_or(a));
    uri.path_and_query = uri.path_and_query.map(|p| p.as_str().parse().unwrap_or(p));
    // The parts came from a valid URI, so this cannot fail; if it did, the shared original stays.
    if let Ok(copy) = http::Uri::from_parts(uri) {
        parts.uri = copy;
    }
    let mut headers = http::HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        headers.append(name, owned_value(value));
    }
    parts.headers = headers;
    Request::from_parts(parts, body)
}

/// The protocol of a client connection, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// The HTTP/2 client preface (RFC 9113 §3.4): a connection starting with it speaks HTTP/2 (prior
/// knowledge), any other is HTTP/1.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Decides the protocol of `stream` by peeking at its first bytes, without consuming them: `None` if the
/// client closed first. Wait bounds are the caller's.
///
/// Written here rather than left to hyper-util's automatic detection, which reads the first bytes into a
/// buffer of its own and replays them: hyper's first read then returns only those bytes, so its request
/// parser reserves a second time and every connection's read buffer doubles to 16 KiB (heaptrack: 16 KiB
/// per client connection, the largest per-connection item). Peeking lets hyper's first read take the whole
/// request into its initial 8 KiB.
async fn sniff(stream: &tokio::net::TcpStream) -> io::Result<Option<Protocol>> {
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        let protocol = sniffed(&buf[..n]);
        if protocol.is_some() {
            return Ok(protocol);
        }
        // A proper prefix of the preface: `peek` would return the same bytes at once, so wait a little.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The protocol `first` bytes show, or `None` while they are a proper prefix of the HTTP/2 preface.
fn sniffed(first: &[u8]) -> Option<Protocol> {
    if !H2_PREFACE.starts_with(first) {
        Some(Protocol::Http1)
    } else if first.len() == H2_PREFACE.len() {
        Some(Protocol::Http2)
    } else {
        None
    }
}

/// Runs one connection until it ends, it has been idle (no request in progress) for `idle`, or every
/// stream it carries has stalled; then drops it (closing the socket).
async fn drive<C, E>(
    conn: C,
    state: Arc<ConnState>,
    idle: Duration,
    _permit: tokio::sync::OwnedSemaphorePermit,
) where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let tick = (idle / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut conn = std::pin::pin!(conn);
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = state.wake.notified() => {
                if state.all_stalled() {
                    tracing::debug!("every stream of the connection stalled: closing it");
                    return;
                }
            }
            _ = tokio::time::sleep(tick) => {
                if state.idle_for() >= idle {
                    tracing::debug!("no request within the header timeout: closing the connection");
                    return;
                }
            }
        }
    }
}

/// A client connection with two deadlines: its first bytes must arrive within the header timeout (before
/// hyper knows the protocol, nothing else bounds a silent connection), and a pending write fails after the
/// write timeout, so a client that stops reading is dropped instead of holding a download (and its origin
/// connections) forever.
pub struct ClientIo<T> {
    inner: T,
    limit: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    first_bytes: Option<Pin<Box<tokio::time::Sleep>>>,
    read: u64,
}

impl<T> ClientIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, limits: ListenerLimits) -> Self {
        ClientIo {
            inner,
            limit: limits.write_timeout,
            timer: None,
            first_bytes: Some(Box::pin(tokio::time::sleep(limits.header_timeout))),
            read: 0,
        }
    }

    fn check<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Pending => {
                let limit = self.limit;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if timer.as_mut().poll(cx).is_ready() {
                    self.timer = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client stopped reading",
                    )));
                }
                Poll::Pending
            }
            ready => {
                self.timer = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ClientIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.first_bytes.is_none() {
            return poll;
        }
        if let Poll::Ready(Ok(())) = poll {
            self.read += (buf.filled().len() - before) as u64;
            if self.read >= FIRST_BYTES {
                self.first_bytes = None;
            }
            return poll;
        }
        if let Some(deadline) = self.first_bytes.as_mut() {
            if poll.is_pending() && deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client sent no request in time",
                )));
            }
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ClientIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.check(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.check(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.check(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_request_keeps_its_uri_and_headers_in_buffers_of_its_own() {
        let req = Request::get("http://zipper.example/0/https%3A%2F%2Fa.example%2Fm/sig/x.zip?q=1")
            .header("range", "bytes=1-")
            .header("x-custom", "one")
            .header("x-custom", "two")
            .header("authorization", "secret")
            .body(())
            .expect("request");
        let mut original = req.headers().clone();
        original
            .get_mut("authorization")
            .expect("set")
            .set_sensitive(true);
        let uri = req.uri().clone();
        let (mut parts, ()) = req.into_parts();
        parts.headers = original.clone();
        let copy = detached(Request::from_parts(parts, ()));
        assert_eq!(copy.uri(), &uri);
        assert_eq!(copy.headers(), &original);
        let all: Vec<_> = copy.headers().get_all("x-custom").iter().collect();
        assert_eq!(all, ["one", "two"]);
        assert!(copy.headers()["authorization"].is_sensitive());
        for (name, value) in &original {
            assert_ne!(
                copy.headers()[name].as_bytes().as_ptr(),
                value.as_bytes().as_ptr(),
                "{name} was copied"
            );
        }
        assert_ne!(
            copy.uri().path().as_ptr(),
            uri.path().as_ptr(),
            "the path was copied"
        );
    }

    #[test]
    fn the_preface_means_http2_and_anything_else_http1_as_soon_as_it_differs() {
        assert_eq!(sniffed(H2_PREFACE), Some(Protocol::Http2));
        assert_eq!(sniffed(b"GET / HTTP/1.1\r\n"), Some(Protocol::Http1));
        // POST and PUT share only the first byte with the preface.
        assert_eq!(sniffed(b"P"), None);
        assert_eq!(sniffed(b"PO"), Some(Protocol::Http1));
        assert_eq!(sniffed(b"PUT"), Some(Protocol::Http1));
        assert_eq!(sniffed(&H2_PREFACE[..23]), None);
        let mut wrong = *H2_PREFACE;
        wrong[23] = b'x';
        assert_eq!(sniffed(&wrong), Some(Protocol::Http1));
    }
}
