//! The download response body: archive chunks become HTTP data frames; an archive error becomes a body
//! error, which makes hyper abort the response (HTTP/1: the connection closes before the declared length
//! or without the final chunk; HTTP/2: RST_STREAM), so the client sees a failed download, never a
//! complete-looking broken zip. It also holds the download's concurrency slot and its
//! [`DownloadRecord`], which it ends when dropped with the outcome (completed, failed with its cause,
//! cancelled) and the bytes sent, and then hands them (with the first failure's file and reason,
//! [`FailureDetail`]) to its end hook ([`ZipBody::on_end`], the completion report).
//!
//! A stall watchdog covers clients that stop taking data without a socket write ever blocking (an HTTP/2
//! client that never opens its flow-control window): once the body has had data ready and has not been
//! polled for the write timeout, the download's fetches are cancelled, its archive stream is dropped (its
//! buffered chunks return to the memory budget and its origin connections close), its slot is freed, the
//! connection is told (it closes once every stream it carries is stalled, which resets them), and the next
//! poll (if any) fails. Time spent waiting for the origin does not count.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use http_body::{Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::listener::ConnState;
use super::record::{self, DownloadRecord};
use super::reporting::BodyEnd;
use crate::core::encoder::EncodeError;
use crate::core::report::{Outcome as ReportOutcome, ReportError};
use crate::error::{Code, HasCode};
use crate::metrics::{Metrics, Stage};
use crate::origin::FetchError;
use crate::zipstream::{BoxError, ZipStreamError};

/// Called once when the body is dropped, with how it ended.
pub type EndHook = Box<dyn FnOnce(BodyEnd) + Send>;

/// What a stream error says about a failed download (for the completion report).
pub trait FailureDetail: std::fmt::Display {
    /// The code, message and failing file.
    fn detail(&self) -> ReportError;
}

impl FailureDetail for ZipStreamError {
    fn detail(&self) -> ReportError {
        let (code, message, path) = match self {
            ZipStreamError::Source { entry, source } => (
                source
                    .downcast_ref::<FetchError>()
                    .map_or(Code::FileUnavailable, HasCode::code),
                source.to_string(),
                Some(entry.clone()),
            ),
            ZipStreamError::Encode(e) => {
                let name = match e {
                    EncodeError::TooLong { name, .. }
                    | EncodeError::TooShort { name, .. }
                    | EncodeError::CrcMismatch { name, .. } => Some(name.clone()),
                    EncodeError::Misuse(_) | EncodeError::LayoutDrift { .. } => None,
                };
                let code = if name.is_some() {
                    Code::FileUnavailable
                } else {
                    Code::Internal
                };
                (code, e.to_string(), name)
            }
            ZipStreamError::MissingBody(name) => {
                (Code::Internal, self.to_string(), Some(name.clone()))
            }
        };
        ReportError {
            code: code.as_str(),
            message,
            path,
        }
    }
}

impl FailureDetail for String {
    fn detail(&self) -> ReportError {
        ReportError {
            code: Code::Internal.as_str(),
            message: self.clone(),
            path: None,
        }
    }
}

/// A body over a stream of archive chunks.
pub struct ZipBody<S> {
    size: Option<u64>,
    sent: u64,
    outcome: Outcome,
    /// The code a failure is counted under.
    cause: &'static str,
    failure: Option<ReportError>,
    on_end: Option<EndHook>,
    metrics: Arc<Metrics>,
    record: DownloadRecord,
    label: String,
    watch: Arc<Watched<S>>,
    epoch: Instant,
    cancel: CancellationToken,
}

/// What the body shares with its stall watchdog.
struct Watched<S> {
    /// The archive stream; taken (dropped) by the watchdog on a stall.
    stream: Mutex<Option<Pin<Box<S>>>>,
    /// The connection the download runs on, told about a stall.
    conn: Option<Arc<ConnState>>,
    /// Set once the watchdog has declared a stall.
    stalled: AtomicBool,
    /// Milliseconds since `epoch` of the last poll that returned data.
    last_ready_ms: AtomicU64,
    /// Whether the body's last poll returned data (the client's turn) rather than pending (the origin's).
    waiting_on_client: AtomicBool,
    /// The concurrency slot, freed by whichever comes first: the body's end or a stall.
    slot: Mutex<Option<OwnedSemaphorePermit>>,
}

impl<S> Watched<S> {
    /// Releases everything the download holds: fetches, buffered chunks, origin connections, its slot.
    fn stall(&self, cancel: &CancellationToken) {
        cancel.cancel();
        let stream = self.stream.lock().ok().and_then(|mut s| s.take());
        drop(stream);
        if let Ok(mut slot) = self.slot.lock() {
            slot.take();
        }
        if !self.stalled.swap(true, Ordering::SeqCst) {
            if let Some(conn) = &self.conn {
                conn.stream_stalled();
            }
        }
    }
}

impl<S> Drop for Watched<S> {
    fn drop(&mut self) {
        if self.stalled.load(Ordering::SeqCst) {
            if let Some(conn) = &self.conn {
                conn.stalled_stream_ended();
            }
        }
    }
}

/// How the body watches for a stalled client.
#[derive(Debug, Clone)]
pub struct StallGuard {
    /// Longest time data may wait for the client.
    pub timeout: Duration,
    /// Cancelled on a stall: the download's fetches listen to it.
    pub cancel: CancellationToken,
    /// The connection the download runs on (absent in unit tests).
    pub conn: Option<Arc<ConnState>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Running,
    Completed,
    Failed,
    /// The client stopped taking data (counted as failed; reported as cancelled).
    Stalled,
}

impl<S> ZipBody<S> {
    /// Calls `hook` with how the body ended, once, when it is dropped.
    pub fn on_end(mut self, hook: EndHook) -> Self {
        self.on_end = Some(hook);
        self
    }
}

/// The error code under which a body stream's failure is counted (`zipper_downloads_failed_total`).
pub trait FailureCause {
    /// The contract code of the failure.
    fn cause(&self) -> &'static str;
}

impl FailureCause for ZipStreamError {
    fn cause(&self) -> &'static str {
        match self {
            ZipStreamError::Source { source, .. } => source
                .downcast_ref::<FetchError>()
                .map_or(Code::FileUnavailable, HasCode::code)
                .as_str(),
            // The file's bytes did not match what the manifest said (size or CRC).
            ZipStreamError::Encode(_) => Code::InvalidManifest.as_str(),
            ZipStreamError::MissingBody(_) => Code::Internal.as_str(),
        }
    }
}

impl FailureCause for String {
    fn cause(&self) -> &'static str {
        Code::Internal.as_str()
    }
}

/// The cause of a download whose client stopped taking data.
const CLIENT_STALLED: &str = "client_stalled";

impl<S, E> ZipBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: FailureCause + FailureDetail,
{
    /// A body of exactly `size` bytes when known, ending `record` when dropped. Must be created inside a
    /// tokio runtime (it spawns the stall watchdog).
    pub fn new(
        stream: S,
        size: Option<u64>,
        metrics: Arc<Metrics>,
        record: DownloadRecord,
        slot: Option<OwnedSemaphorePermit>,
        stall: StallGuard,
    ) -> Self {
        let label = record.label();
        metrics.active_downloads.inc();
        let watch = Arc::new(Watched {
            stream: Mutex::new(Some(Box::pin(stream))),
            conn: stall.conn.clone(),
            stalled: AtomicBool::new(false),
            last_ready_ms: AtomicU64::new(0),
            // The head is out and the first bytes are ready: until the body asks the origin, it waits on the client.
            waiting_on_client: AtomicBool::new(true),
            slot: Mutex::new(slot),
        });
        let epoch = Instant::now();
        spawn_watchdog(Arc::downgrade(&watch), epoch, stall.clone(), label.clone());
        ZipBody {
            size,
            sent: 0,
            outcome: Outcome::Running,
            cause: CLIENT_STALLED,
            failure: None,
            on_end: None,
            metrics,
            record,
            label,
            watch,
            epoch,
            cancel: stall.cancel,
        }
    }

    fn mark(&self, ready: bool) {
        if ready {
            let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.watch.last_ready_ms.store(ms, Ordering::Relaxed);
        }
        self.watch.waiting_on_client.store(ready, Ordering::Relaxed);
    }
}

/// Watches one body until it is dropped: cancels the download once data has waited for the client longer
/// than the timeout.
fn spawn_watchdog<S: Send + 'static>(
    watch: std::sync::Weak<Watched<S>>,
    epoch: Instant,
    stall: StallGuard,
    label: String,
) {
    let tick = (stall.timeout / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let limit = u64::try_from(stall.timeout.as_millis()).unwrap_or(u64::MAX);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(tick).await;
            let Some(w) = watch.upgrade() else {
                return;
            };
            let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            let idle = now.saturating_sub(w.last_ready_ms.load(Ordering::Relaxed));
            if w.waiting_on_client.load(Ordering::Relaxed) && idle > limit {
                tracing::warn!(download = %label, idle_ms = idle, "client stopped taking data: download cancelled");
                w.stall(&stall.cancel);
                return;
            }
        }
    });
}

impl<S, E> http_body::Body for ZipBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: FailureCause + FailureDetail,
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
        if self.cancel.is_cancelled() {
            self.outcome = Outcome::Stalled;
            return Poll::Ready(Some(Err(
                "download cancelled: the client stopped taking data".into(),
            )));
        }
        // (When the stream ends exactly at the declared length, `Completed` is set with the last chunk.)
        let polled = match self.watch.stream.lock() {
            Ok(mut guard) => guard.as_mut().map(|s| s.as_mut().poll_next(cx)),
            Err(_) => None,
        };
        let Some(polled) = polled else {
            self.outcome = Outcome::Stalled;
            return Poll::Ready(Some(Err(
                "download cancelled: the client stopped taking data".into(),
            )));
        };
        match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                self.mark(true);
                self.record.first_byte();
                self.sent += chunk.len() as u64;
                if self.size == Some(self.sent) {
                    // hyper stops polling once the declared length is sent.
                    self.outcome = Outcome::Completed;
                }
                self.metrics.bytes_sent.inc_by(chunk.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => {
                self.outcome = Outcome::Failed;
                self.cause = e.cause();
                self.failure = Some(e.detail());
                tracing::warn!(download = %self.label, sent = self.sent, error = %e, "download aborted");
                Poll::Ready(Some(Err(format!("download aborted: {e}").into())))
            }
            Poll::Ready(None) => {
                self.outcome = Outcome::Completed;
                Poll::Ready(None)
            }
            Poll::Pending => {
                self.mark(false);
                Poll::Pending
            }
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
        self.metrics.active_downloads.dec();
        let stalled = self.watch.stalled.load(Ordering::SeqCst);
        let (outcome, reported) = match self.outcome {
            Outcome::Completed => (record::Outcome::Completed, ReportOutcome::Completed),
            Outcome::Running if !stalled => (record::Outcome::Cancelled, ReportOutcome::Cancelled),
            Outcome::Failed => (
                record::Outcome::Failed {
                    cause: self.cause,
                    stage: Stage::Body,
                },
                ReportOutcome::Failed,
            ),
            // The client stopped taking data: a failure in the metrics, "cancelled" in the report.
            Outcome::Stalled | Outcome::Running => (
                record::Outcome::Failed {
                    cause: CLIENT_STALLED,
                    stage: Stage::Body,
                },
                ReportOutcome::Cancelled,
            ),
        };
        self.record.finish(outcome, self.sent);
        if let Some(hook) = self.on_end.take() {
            hook(BodyEnd {
                outcome: reported,
                bytes_sent: self.sent,
                error: self.failure.take(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http_body_util::BodyExt;
    use tokio::sync::Semaphore;

    fn record(metrics: &Arc<Metrics>) -> DownloadRecord {
        DownloadRecord::new(Arc::clone(metrics), Instant::now(), "t", "http://h/m")
    }

    fn endless() -> impl Stream<Item = Result<Bytes, String>> + Send {
        stream::repeat_with(|| Ok(Bytes::from_static(b"data")))
    }

    #[tokio::test]
    async fn a_client_that_stops_polling_loses_its_slot_and_its_fetches() {
        let slots = Arc::new(Semaphore::new(1));
        let slot = Arc::clone(&slots).try_acquire_owned().expect("slot");
        let cancel = CancellationToken::new();
        let stall = StallGuard {
            timeout: Duration::from_millis(100),
            cancel: cancel.clone(),
            conn: None,
        };
        let metrics: Arc<Metrics> = Arc::default();
        let mut body = ZipBody::new(
            endless(),
            None,
            Arc::clone(&metrics),
            record(&metrics),
            Some(slot),
            stall,
        );
        // The client takes one frame, then stops.
        assert!(body.frame().await.expect("frame").is_ok());
        assert_eq!(slots.available_permits(), 0);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(cancel.is_cancelled(), "fetches cancelled");
        assert_eq!(slots.available_permits(), 1, "slot freed");
        assert!(
            body.watch.stream.lock().expect("lock").is_none(),
            "the archive stream (and what it buffers) is dropped"
        );
        // If the client comes back, the download fails rather than continuing.
        assert!(body.frame().await.expect("frame").is_err());
        drop(body);
        let text = metrics.render();
        assert!(
            text.contains(
                "zipper_downloads_failed_total{cause=\"client_stalled\",stage=\"body\"} 1\n"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn waiting_for_the_origin_is_not_a_stall() {
        let slots = Arc::new(Semaphore::new(1));
        let slot = Arc::clone(&slots).try_acquire_owned().expect("slot");
        let cancel = CancellationToken::new();
        let stall = StallGuard {
            timeout: Duration::from_millis(100),
            cancel: cancel.clone(),
            conn: None,
        };
        // An origin that answers after 400 ms.
        let slow = stream::once(async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok::<Bytes, String>(Bytes::from_static(b"late"))
        });
        let metrics: Arc<Metrics> = Arc::default();
        let mut body = ZipBody::new(
            slow,
            None,
            Arc::clone(&metrics),
            record(&metrics),
            Some(slot),
            stall,
        );
        let frame = body.frame().await.expect("frame").expect("data");
        assert_eq!(
            frame.into_data().expect("data"),
            Bytes::from_static(b"late")
        );
        assert!(!cancel.is_cancelled());
        drop(body);
        assert_eq!(slots.available_permits(), 1, "slot freed at the end");
    }
}
