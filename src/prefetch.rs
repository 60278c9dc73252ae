//! Read-ahead of one download's file bodies: the next files are fetched while the writer streams the
//! current one, within two bounds from the settings: at most `files` entries in flight (being fetched or
//! written), and at most `bytes` bytes buffered for entries the writer has not reached yet.
//!
//! The entry the writer is on never waits for the byte budget (otherwise entries further ahead holding the
//! budget would deadlock it); it is bounded by a small channel instead, so a slow client stalls its origin
//! read (back-pressure end to end). Dropping the returned stream cancels every fetch. This module knows
//! nothing of HTTP or zip: it moves `Bytes` from bodies opened by the caller to the zip writer.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::zipstream::{BoxError, EntryBody};

/// Bounds of the read-ahead.
#[derive(Debug, Clone, Copy)]
pub struct PrefetchLimits {
    /// Entries in flight at once (the one being written included); at least 1.
    pub files: usize,
    /// Bytes buffered for entries ahead of the writer.
    pub bytes: usize,
}

/// Chunks queued per entry (the current entry's only bound besides chunk size).
const CHANNEL_CHUNKS: usize = 8;

type Chunk = Result<(Bytes, Option<OwnedSemaphorePermit>), BoxError>;

/// Opens `count` bodies in order with `open(k)` and yields them to the writer in order, fetching ahead
/// within `limits`. Must be called inside a tokio runtime (it spawns one task per entry in flight).
pub fn prefetch<F>(
    count: usize,
    limits: PrefetchLimits,
    open: F,
) -> impl Stream<Item = Result<EntryBody, BoxError>> + Send + Unpin + 'static
where
    F: FnMut(usize) -> EntryBody + Send + 'static,
{
    prefetch_until(count, limits, &CancellationToken::new(), open)
}

/// [`prefetch`], also stopping every fetch when `parent` is cancelled.
pub fn prefetch_until<F>(
    count: usize,
    limits: PrefetchLimits,
    parent: &CancellationToken,
    mut open: F,
) -> impl Stream<Item = Result<EntryBody, BoxError>> + Send + Unpin + 'static
where
    F: FnMut(usize) -> EntryBody + Send + 'static,
{
    let cancel = parent.child_token();
    let files = Arc::new(Semaphore::new(
        limits.files.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let ahead = Arc::new(Semaphore::new(
        limits.bytes.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let budget = u32::try_from(limits.bytes.max(1)).unwrap_or(u32::MAX);
    let (current_tx, current_rx) = watch::channel(0usize);
    let current_tx = Arc::new(current_tx);
    let (bodies_tx, bodies_rx) = mpsc::unbounded_channel::<EntryBody>();
    let scheduler_cancel = cancel.clone();
    tokio::spawn(async move {
        for k in 0..count {
            let permit = tokio::select! {
                _ = scheduler_cancel.cancelled() => return,
                p = Arc::clone(&files).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            };
            let (tx, rx) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
            let body = open(k);
            tokio::spawn(fetch_task(
                k,
                body,
                tx,
                Arc::clone(&ahead),
                budget,
                current_rx.clone(),
                scheduler_cancel.clone(),
            ));
            let reader = EntryReader {
                index: k,
                rx,
                current: Arc::clone(&current_tx),
                announced: false,
                _slot: permit,
            };
            if bodies_tx.send(Box::pin(reader)).is_err() {
                return;
            }
        }
    });
    Bodies {
        rx: bodies_rx,
        _cancel: cancel.drop_guard(),
    }
}

/// Pulls one body from the origin into its channel.
async fn fetch_task(
    k: usize,
    mut body: EntryBody,
    tx: mpsc::Sender<Chunk>,
    ahead: Arc<Semaphore>,
    budget: u32,
    mut current: watch::Receiver<usize>,
    cancel: CancellationToken,
) {
    loop {
        let item = tokio::select! {
            _ = cancel.cancelled() => return,
            item = body.next() => item,
        };
        let chunk = match item {
            None => return,
            Some(Err(e)) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
            Some(Ok(chunk)) => chunk,
        };
        let permit = if *current.borrow() >= k {
            None
        } else {
            let n = u32::try_from(chunk.len()).unwrap_or(u32::MAX).min(budget);
            tokio::select! {
                _ = cancel.cancelled() => return,
                p = Arc::clone(&ahead).acquire_many_owned(n) => p.ok(),
                _ = current.wait_for(|c| *c >= k) => None,
            }
        };
        if tx.send(Ok((chunk, permit))).await.is_err() {
            return;
        }
    }
}

/// The bodies in order; dropping it cancels every fetch.
struct Bodies {
    rx: mpsc::UnboundedReceiver<EntryBody>,
    _cancel: DropGuard,
}

impl Stream for Bodies {
    type Item = Result<EntryBody, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|b| b.map(Ok))
    }
}

/// The writer's view of one entry: announces itself as current on first poll, releases budget as chunks
/// are consumed, and frees its in-flight slot when dropped.
struct EntryReader {
    index: usize,
    rx: mpsc::Receiver<Chunk>,
    current: Arc<watch::Sender<usize>>,
    announced: bool,
    _slot: OwnedSemaphorePermit,
}

impl Stream for EntryReader {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.announced {
            self.announced = true;
            let k = self.index;
            self.current.send_if_modified(|c| {
                let changed = *c < k;
                *c = (*c).max(k);
                changed
            });
        }
        match self.rx.poll_recv(cx) {
            // The permit drops here: the bytes now belong to the writer.
            Poll::Ready(Some(Ok((chunk, _permit)))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting_body(chunks: usize, size: usize, pulled: Arc<AtomicUsize>) -> EntryBody {
        Box::pin(futures_util::stream::iter(0..chunks).map(move |_| {
            pulled.fetch_add(size, Ordering::SeqCst);
            Ok::<Bytes, BoxError>(Bytes::from(vec![7u8; size]))
        }))
    }

    #[tokio::test]
    async fn yields_every_body_in_order() {
        let limits = PrefetchLimits {
            files: 3,
            bytes: 1000,
        };
        let mut bodies = prefetch(10, limits, |k| {
            Box::pin(futures_util::stream::iter([Ok::<Bytes, BoxError>(
                Bytes::from(vec![k as u8; k + 1]),
            )]))
        });
        for k in 0..10 {
            let mut body = bodies.next().await.expect("body").expect("ok");
            let chunk = body.next().await.expect("chunk").expect("ok");
            assert_eq!(chunk.len(), k + 1);
            assert!(chunk.iter().all(|b| *b == k as u8));
            assert!(body.next().await.is_none());
        }
        assert!(bodies.next().await.is_none());
    }

    #[tokio::test]
    async fn read_ahead_stays_within_the_byte_budget() {
        let pulled: Vec<Arc<AtomicUsize>> = (0..4).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let p2 = pulled.clone();
        let limits = PrefetchLimits {
            files: 4,
            bytes: 10_000,
        };
        let mut bodies = prefetch(4, limits, move |k| {
            counting_body(1000, 1000, Arc::clone(&p2[k]))
        });
        // Take the first body but read only one chunk: the others must stop near the budget.
        let mut first = bodies.next().await.expect("body").expect("ok");
        let _ = first.next().await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let ahead: usize = pulled[1..].iter().map(|p| p.load(Ordering::SeqCst)).sum();
        // Budget, plus one chunk pulled per waiting entry and the channel slots.
        assert!(ahead <= 10_000 + 3 * 1000, "read {ahead} bytes ahead");
        // The current entry is bounded by its channel.
        let cur = pulled[0].load(Ordering::SeqCst);
        assert!(
            cur <= (CHANNEL_CHUNKS + 3) * 1000,
            "read {cur} bytes of the current entry"
        );
        // Draining everything still works (no deadlock with the budget held by later entries).
        let mut total = 0;
        while let Some(Ok(c)) = first.next().await {
            total += c.len();
        }
        drop(first);
        for _ in 1..4 {
            let mut b = bodies.next().await.expect("body").expect("ok");
            while let Some(Ok(c)) = b.next().await {
                total += c.len();
            }
        }
        assert_eq!(total + 1000, 4 * 1000 * 1000);
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_fetches() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let p2 = Arc::clone(&pulled);
        let limits = PrefetchLimits {
            files: 2,
            bytes: 1 << 20,
        };
        let bodies = prefetch(2, limits, move |_| {
            let p = Arc::clone(&p2);
            Box::pin(futures_util::stream::repeat_with(move || {
                p.fetch_add(1, Ordering::SeqCst);
                Ok::<Bytes, BoxError>(Bytes::from_static(b"x"))
            })) as EntryBody
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(bodies);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let a = pulled.load(Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(
            pulled.load(Ordering::SeqCst),
            a,
            "fetching stopped after drop"
        );
    }
}
