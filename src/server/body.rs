//! The download response body: archive chunks become HTTP data frames; an archive error becomes a body
//! error, which makes hyper abort the response (HTTP/1: the connection closes before the declared length
//! or without the final chunk; HTTP/2: RST_STREAM), so the client sees a failed download, never a
//! complete-looking broken zip. It also holds the download's concurrency slot and records the outcome
//! (completed, failed, cancelled) and the bytes sent when dropped.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http_body::{Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;

use crate::metrics::Metrics;
use crate::zipstream::BoxError;

/// A body over a stream of archive chunks.
pub struct ZipBody<S> {
    stream: Pin<Box<S>>,
    size: Option<u64>,
    sent: u64,
    outcome: Outcome,
    metrics: Arc<Metrics>,
    label: String,
    _slot: Option<OwnedSemaphorePermit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Running,
    Completed,
    Failed,
}

impl<S, E> ZipBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    /// A body of exactly `size` bytes when known. `label` names the download in logs (never a secret).
    pub fn new(
        stream: S,
        size: Option<u64>,
        metrics: Arc<Metrics>,
        label: String,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Self {
        metrics.active_downloads.fetch_add(1, Ordering::Relaxed);
        ZipBody {
            stream: Box::pin(stream),
            size,
            sent: 0,
            outcome: Outcome::Running,
            metrics,
            label,
            _slot: slot,
        }
    }
}

impl<S, E> http_body::Body for ZipBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.outcome != Outcome::Running {
            return Poll::Ready(None);
        }
        // (When the stream ends exactly at the declared length, `Completed` is set with the last chunk.)
        match self.stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.sent += chunk.len() as u64;
                if self.size == Some(self.sent) {
                    // hyper stops polling once the declared length is sent.
                    self.outcome = Outcome::Completed;
                }
                self.metrics
                    .bytes_sent
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => {
                self.outcome = Outcome::Failed;
                tracing::warn!(download = %self.label, sent = self.sent, error = %e, "download aborted");
                Poll::Ready(Some(Err(format!("download aborted: {e}").into())))
            }
            Poll::Ready(None) => {
                self.outcome = Outcome::Completed;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.outcome != Outcome::Running
    }

    fn size_hint(&self) -> SizeHint {
        match self.size {
            Some(total) => SizeHint::with_exact(total.saturating_sub(self.sent)),
            None => SizeHint::default(),
        }
    }
}

impl<S> Drop for ZipBody<S> {
    fn drop(&mut self) {
        self.metrics
            .active_downloads
            .fetch_sub(1, Ordering::Relaxed);
        let counter = match self.outcome {
            Outcome::Completed => &self.metrics.completed,
            Outcome::Failed => &self.metrics.failed,
            Outcome::Running => &self.metrics.cancelled,
        };
        Metrics::inc(counter);
        tracing::info!(download = %self.label, sent = self.sent, outcome = ?self.outcome, "download ended");
    }
}
