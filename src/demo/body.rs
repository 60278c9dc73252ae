//! The demo origin's response bodies: a small fixed body, or a generated file streamed chunk by chunk
//! (never buffered whole), with the `chunk`, `chunk_delay_ms` and `reset_at` knobs applied.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use super::content::fill_generated;
use super::state::State;

/// Pause before a `reset_at` abort, so that the bytes sent before it reach the client.
const RESET_FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// The response body of the demo origin: a small fixed body or a generated file.
pub(super) struct DemoBody {
    kind: BodyKind,
}

enum BodyKind {
    Full(Option<Bytes>),
    Generated(Box<GenBody>),
}

pub(super) struct GenBody {
    pub(super) seed: u64,
    pub(super) pos: u64,
    pub(super) end: u64,
    pub(super) chunk: usize,
    pub(super) reset_at: Option<u64>,
    pub(super) flushed_before_reset: bool,
    pub(super) exact: bool,
    pub(super) chunk_delay: Option<Duration>,
    pub(super) sleep: Option<Pin<Box<Sleep>>>,
    pub(super) state: Arc<State>,
    pub(super) path: String,
}

impl DemoBody {
    pub(super) fn full(bytes: Bytes) -> Self {
        DemoBody {
            kind: BodyKind::Full(Some(bytes)),
        }
    }

    pub(super) fn generated(body: GenBody) -> Self {
        DemoBody {
            kind: BodyKind::Generated(Box::new(body)),
        }
    }
}

impl Body for DemoBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().kind {
            BodyKind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            BodyKind::Generated(g) => g.poll_chunk(cx),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            BodyKind::Generated(g) if g.exact => SizeHint::with_exact(g.end - g.pos),
            BodyKind::Generated(_) => SizeHint::default(),
        }
    }
}

impl GenBody {
    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(sleep) = self.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        if self.pos >= self.end {
            return Poll::Ready(None);
        }
        let mut n = self.end - self.pos;
        if let Some(reset) = self.reset_at {
            if self.pos >= reset {
                if !self.flushed_before_reset {
                    // hyper flushes what it queued when the body is pending; without this pause the bytes
                    // before the reset would die in its write buffer and never reach the client.
                    self.flushed_before_reset = true;
                    let mut pause = Box::pin(tokio::time::sleep(RESET_FLUSH_PAUSE));
                    if pause.as_mut().poll(cx).is_pending() {
                        self.sleep = Some(pause);
                        return Poll::Pending;
                    }
                }
                return Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "demo origin: reset_at knob",
                ))));
            }
            n = n.min(reset - self.pos);
        }
        let n = usize::try_from(n).unwrap_or(self.chunk).min(self.chunk);
        let mut buf = vec![0; n];
        fill_generated(self.seed, self.pos, &mut buf);
        self.pos += n as u64;
        self.state.count_bytes(&self.path, n as u64);
        if let Some(delay) = self.chunk_delay {
            self.sleep = Some(Box::pin(tokio::time::sleep(delay)));
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
    }
}

/// A small `text/plain` response.
pub(super) fn text(status: StatusCode, body: String) -> Response<DemoBody> {
    let mut r = Response::new(DemoBody::full(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}
