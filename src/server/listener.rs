//! Accept loops: one task per connection, HTTP/1.1 and HTTP/2 (prior knowledge) on the same port, the
//! request-header timeout, the client idle-write timeout, and graceful shutdown (stop accepting, let
//! connections finish, then drop what remains).
//!
//! An accept error is logged and retried after a pause; it never ends the server. This module knows nothing
//! of zip or links: it hands each request to the service function it was given.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::zipstream::BoxError;

/// The response body type of every service.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// HTTP/2 pings on idle connections, and the time a ping may go unanswered before the connection closes.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);

/// Bytes a client must send within the header timeout before its protocol is known: the HTTP/2 preface
/// length, which is also shorter than any HTTP/1 request line worth serving.
const FIRST_BYTES: u64 = 24;

/// Timeouts of a listener.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// Time allowed for a client to send its request headers.
    pub header_timeout: Duration,
    /// Time a client may leave a write pending (not reading) before the connection is dropped.
    pub write_timeout: Duration,
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
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(H2_KEEP_ALIVE))
        .keep_alive_timeout(H2_KEEP_ALIVE);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
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
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(ClientIo::new(stream, limits));
        let svc = service.clone();
        let hyper_service = hyper::service::service_fn(move |req| {
            let fut = svc(req);
            async move { Ok::<_, std::convert::Infallible>(fut.await) }
        });
        let conn = builder.serve_connection_with_upgrades(io, hyper_service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
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
