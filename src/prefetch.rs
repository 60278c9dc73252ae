//! Read-ahead of one download's file bodies, inside the memory budget ([`crate::budget`]).
//!
//! Up to `files` entries are in flight at once (being fetched or written), each pulled by a task of its
//! own into a short channel. Every chunk is charged to the budget *before* it is read from the origin and
//! carries its charge until hyper has written it out, so the bytes a download holds are known exactly:
//! - the entry the writer is on reads with the download's own floor ([`FLOOR`]: two chunks of at most
//!   [`CHUNK`], the one the writer holds and the next): it never waits on other downloads, so nothing can
//!   deadlock, and a client slower than its origin holds at most the floor, whatever the origin's speed;
//! - entries ahead read only while the current entry is waiting for *its origin*: an entry ahead sends its
//!   request and takes its first chunk while the current one (after the first) waits for its first bytes
//!   (this hides the per-file latency, the point of read-ahead), and reads on only while the current one waits for more
//!   body bytes after its first (the origin's bandwidth, not the client, is the bottleneck, so what is read
//!   ahead will be wanted soon). They borrow from the shared read-ahead pool, at most `bytes` per download.
//!   A client slower than its origin therefore holds at most one first chunk per entry ahead; a fast one
//!   gets as much read-ahead as the budget allows.
//!
//! - a download whose client has been taking its bytes fast ([`BULK_MIN_RATE`]) opens its next entries with
//!   bulk reads ([`ReadSize::Bulk`], 256 KiB instead of 16 KiB: the CPU of a fast download is mostly
//!   per-read kernel and wake-up work) when the shared read-ahead and the download's cap have room for two
//!   such chunks *now*: the entry reserves them ([`BulkFloor`]) and charges its chunks there instead. Slow
//!   clients and a crowd that has spent the read-ahead keep lean reads, so nothing here changes what they hold.
//!
//! Dropping the returned stream, or cancelling `parent`, stops every fetch at once, wherever it waits
//! (origin, budget or channel), which closes its origin connection. This module knows nothing of HTTP or
//! zip: it moves `Bytes` from bodies opened by the caller to the zip writer.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::budget::{BulkFloor, Charge, DownloadBudget, CHUNK, FLOOR};
use crate::origin::client::{BulkSwitch, ReadSize, Reads};
use crate::zipstream::{BoxError, EntryBody};

/// Bounds of the read-ahead.
#[derive(Debug, Clone, Copy)]
pub struct PrefetchLimits {
    /// Entries in flight at once (the one being written included); at least 1.
    pub files: usize,
    /// Bytes one download may borrow for entries ahead of the writer.
    pub bytes: usize,
}

/// Chunks queued per entry. Memory is bounded by the charges, not by this; it only lets a lane that runs
/// ahead keep a few chunks ready.
const CHANNEL_CHUNKS: usize = 4;

type Chunk = Result<Bytes, BoxError>;

/// How long the current lane must have been waiting for more body bytes before entries ahead read on: a
/// handoff between tasks makes many reads wait a few microseconds, which says nothing about the origin.
const MID_BODY_GRACE: Duration = Duration::from_millis(2);

/// The rate at which a client must have taken its archive so far for the next entries to be read in bulk.
/// A client this fast moves a lean chunk every millisecond, so per-read costs show; one slower than this
/// gains nothing from bigger chunks but would hold them.
pub const BULK_MIN_RATE: u64 = 32 * 1024 * 1024;

/// What a client takes before its pace is measured at all: about what the kernel's socket buffers absorb
/// (`tcp_wmem`'s default maximum is 4 MiB, plus the peer's receive window), which any client "takes" at
/// memory speed, reading or not. Judged from the first byte, a client that reads nothing looked fast after
/// its first MiB and got bulk reads it would only hold (the memory-budget test's idle clients did).
const BULK_SETTLE: u64 = 8 * 1024 * 1024;

/// How much a client must take after [`BULK_SETTLE`], at [`BULK_MIN_RATE`] or faster, to count as fast.
const BULK_EVIDENCE: u64 = 1024 * 1024;

/// What the writer has taken so far, and when it passed [`BULK_SETTLE`].
#[derive(Debug, Default)]
struct Progress {
    delivered: AtomicU64,
    settled: OnceLock<Instant>,
}

impl Progress {
    fn record(&self, n: usize) {
        let before = self.delivered.fetch_add(n as u64, Ordering::Relaxed);
        if before.saturating_add(n as u64) >= BULK_SETTLE && self.settled.get().is_none() {
            self.settled.get_or_init(Instant::now);
        }
    }

    /// Whether the writer has taken [`BULK_EVIDENCE`] beyond [`BULK_SETTLE`], at [`BULK_MIN_RATE`] or
    /// faster since it passed the settle mark.
    fn fast(&self) -> bool {
        let Some(settled) = self.settled.get() else {
            return false;
        };
        let bytes = self
            .delivered
            .load(Ordering::Relaxed)
            .saturating_sub(BULK_SETTLE);
        bytes >= BULK_EVIDENCE && is_fast(bytes, settled.elapsed())
    }
}

/// `bytes` in `elapsed` is at least [`BULK_MIN_RATE`].
fn is_fast(bytes: u64, elapsed: Duration) -> bool {
    (bytes as u128) * 1_000_000 >= (BULK_MIN_RATE as u128) * elapsed.as_micros().max(1)
}

/// What the lanes of one download share.
struct Lanes {
    budget: DownloadBudget,
    /// The download's own cap on read-ahead bytes.
    ahead_cap: Arc<Semaphore>,
    /// The entry the writer is on.
    current: watch::Receiver<usize>,
    /// Whether the current entry's lane has been waiting for more body bytes longer than
    /// [`MID_BODY_GRACE`].
    origin_bound: watch::Sender<bool>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
}

impl Lanes {
    /// Room for two bulk chunks, if the client has proven fast and the budget has it free now: the one
    /// rule for reading an entry in bulk, whether it opens that way or moves mid-body.
    fn try_bulk(&self) -> Option<BulkFloor> {
        if !self.progress.fast() {
            return None;
        }
        self.budget
            .try_bulk(ReadSize::Bulk.max_chunk(), &self.ahead_cap)
    }
}

/// Opens `count` bodies in order with `open(k, reads)` (`reads`: the largest chunk the body may yield,
/// which its lane has room for) and yields them to the writer in order, fetching ahead
/// within `limits` and `budget`. Must be called inside a tokio runtime (it spawns one task per entry in
/// flight); every task stops when `parent` is cancelled or the stream is dropped.
pub fn prefetch_until<F>(
    count: usize,
    limits: PrefetchLimits,
    budget: DownloadBudget,
    parent: &CancellationToken,
    mut open: F,
) -> impl Stream<Item = Result<EntryBody, BoxError>> + Send + Unpin + 'static
where
    F: FnMut(usize, Reads) -> EntryBody + Send + 'static,
{
    let cancel = parent.child_token();
    let files = Arc::new(Semaphore::new(
        limits.files.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let (current_tx, current_rx) = watch::channel(0usize);
    let current_tx = Arc::new(current_tx);
    let lanes = Arc::new(Lanes {
        budget,
        ahead_cap: Arc::new(Semaphore::new(
            limits.bytes.clamp(FLOOR, Semaphore::MAX_PERMITS),
        )),
        current: current_rx,
        origin_bound: watch::channel(false).0,
        progress: Arc::default(),
        cancel: cancel.clone(),
    });
    let (bodies_tx, bodies_rx) = mpsc::unbounded_channel::<EntryBody>();
    tokio::spawn(async move {
        for k in 0..count {
            let permit = tokio::select! {
                _ = lanes.cancel.cancelled() => return,
                p = Arc::clone(&files).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            };
            let (tx, rx) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
            let reader = EntryReader {
                index: k,
                rx,
                progress: Arc::clone(&lanes.progress),
                current: Arc::clone(&current_tx),
                announced: false,
                _slot: permit,
            };
            if bodies_tx.send(Box::pin(reader)).is_err() {
                return;
            }
            // Entries after the first are opened once the writer is past the first one (they would not
            // read before), when the client's pace so far is known. Their readers are out already, so the
            // writer can move on to them meanwhile.
            if k >= 1 {
                let mut current = lanes.current.clone();
                tokio::select! {
                    _ = lanes.cancel.cancelled() => return,
                    r = current.wait_for(|c| *c >= 1) => if r.is_err() { return },
                }
            }
            let bulk = if k >= 1 { lanes.try_bulk() } else { None };
            let reads = if bulk.is_some() {
                Reads::fixed(ReadSize::Bulk)
            } else {
                Reads {
                    size: ReadSize::Lean,
                    switch: Some(BulkSwitch::default()),
                }
            };
            let switch = reads.switch.clone();
            let body = open(k, reads);
            tokio::spawn(lane(k, body, bulk, switch, tx, Arc::clone(&lanes)));
        }
    });
    Bodies {
        rx: bodies_rx,
        _cancel: cancel.drop_guard(),
    }
}

/// Pulls entry `k`'s body from its origin into its channel, one charged chunk at a time: to `bulk` when
/// the entry has one, else to the floor (current entry) or the read-ahead (entries ahead). A lean entry
/// that the writer is on moves to bulk reads mid-body through `switch` when its fetch offers, its client
/// has proven fast and the budget has room for bulk chunks now (the same rule as for opening bulk).
async fn lane(
    k: usize,
    mut body: EntryBody,
    mut bulk: Option<BulkFloor>,
    switch: Option<BulkSwitch>,
    tx: mpsc::Sender<Chunk>,
    lanes: Arc<Lanes>,
) {
    let mut current = lanes.current.clone();
    let mut origin_bound = lanes.origin_bound.subscribe();
    let cancel = &lanes.cancel;
    let mut pulled_any = false;
    loop {
        let is_current = *current.borrow_and_update() >= k;
        if is_current && bulk.is_none() {
            if let Some(switch) = switch.as_ref().filter(|s| s.offered()) {
                bulk = lanes.try_bulk();
                if bulk.is_some() {
                    switch.request();
                }
            }
        }
        let charge = if is_current {
            match &bulk {
                Some(bulk) => tokio::select! {
                    _ = cancel.cancelled() => return,
                    c = bulk.take() => c,
                },
                None => tokio::select! {
                    _ = cancel.cancelled() => return,
                    c = lanes.budget.floor(CHUNK) => c,
                },
            }
        } else {
            // Ahead of the writer. The first chunk (the request and its latency) once the writer is past the
            // first entry: a client that is still on entry 0 may be slow, and then read-ahead only holds
            // memory. Further chunks only while the writer waits mid-body for its origin.
            if pulled_any {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = current.wait_for(|c| *c >= k) => continue,
                    _ = origin_bound.wait_for(|b| *b) => {}
                }
            } else {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = current.wait_for(|c| *c >= 1) => {}
                }
            }
            let borrowed = tokio::select! {
                _ = cancel.cancelled() => return,
                _ = current.wait_for(|c| *c >= k) => continue,
                c = async {
                    match &bulk {
                        Some(bulk) => Some(bulk.take().await),
                        None => borrow_ahead(&lanes).await,
                    }
                } => c,
            };
            match borrowed {
                Some(c) => c,
                None => return,
            }
        };
        let item = match body.next().now_or_never() {
            Some(item) => item,
            None if is_current && pulled_any => {
                // Mid-body and nothing ready: after the grace, tell the entries ahead to read on.
                let waited = tokio::select! {
                    _ = cancel.cancelled() => return,
                    item = body.next() => Some(item),
                    _ = tokio::time::sleep(MID_BODY_GRACE) => None,
                };
                match waited {
                    Some(item) => item,
                    None => {
                        lanes.origin_bound.send_replace(true);
                        let item = tokio::select! {
                            _ = cancel.cancelled() => return,
                            item = body.next() => item,
                        };
                        lanes.origin_bound.send_replace(false);
                        item
                    }
                }
            }
            None => tokio::select! {
                _ = cancel.cancelled() => return,
                item = body.next() => item,
            },
        };
        pulled_any = true;
        let chunk = match item {
            None => return,
            Some(Err(e)) => {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = tx.send(Err(e)) => {}
                }
                return;
            }
            Some(Ok(chunk)) => chunk,
        };
        let mut charge = charge;
        charge.shrink_to(chunk.len());
        let sent = tokio::select! {
            _ = cancel.cancelled() => return,
            sent = tx.send(Ok(charge.attach(chunk))) => sent,
        };
        // A body that knows it has ended (`origin::files::fetch_file`) is done: closing the channel now
        // lets the writer move on without waiting for this lane to poll the end.
        if sent.is_err() || body.size_hint().1 == Some(0) {
            return;
        }
    }
}

/// Borrows one chunk's worth of read-ahead: the download's own cap first, then the shared pool.
async fn borrow_ahead(lanes: &Lanes) -> Option<Charge> {
    let cap: OwnedSemaphorePermit = Arc::clone(&lanes.ahead_cap)
        .acquire_many_owned(u32::try_from(CHUNK).unwrap_or(u32::MAX))
        .await
        .ok()?;
    Some(lanes.budget.borrow(CHUNK).await.with_cap(cap))
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

/// The writer's view of one entry: announces itself as current on first poll, and frees its in-flight slot
/// when dropped. Chunks carry their budget charge onwards.
struct EntryReader {
    index: usize,
    rx: mpsc::Receiver<Chunk>,
    progress: Arc<Progress>,
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
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.progress.record(chunk.len());
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn counting_body(chunks: usize, size: usize, pulled: Arc<AtomicUsize>) -> EntryBody {
        Box::pin(futures_util::stream::iter(0..chunks).map(move |_| {
            pulled.fetch_add(size, Ordering::SeqCst);
            Ok::<Bytes, BoxError>(Bytes::from(vec![7u8; size]))
        }))
    }

    fn budget() -> (Budget, DownloadBudget) {
        let b = Budget::new(16 << 20);
        let d = b.admit().expect("admitted");
        (b, d)
    }

    #[tokio::test]
    async fn yields_every_body_in_order() {
        let limits = PrefetchLimits {
            files: 3,
            bytes: 1000,
        };
        let (_b, d) = budget();
        let mut bodies = prefetch_until(10, limits, d, &CancellationToken::new(), |k, _| {
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
    async fn a_writer_slower_than_its_origin_gets_no_read_ahead() {
        let pulled: Vec<Arc<AtomicUsize>> = (0..4).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let p2 = pulled.clone();
        let limits = PrefetchLimits {
            files: 4,
            bytes: 1 << 20,
        };
        let (b, d) = budget();
        let mut bodies = prefetch_until(4, limits, d, &CancellationToken::new(), move |k, _| {
            counting_body(1000, 1000, Arc::clone(&p2[k]))
        });
        // Take the first body and hold its first chunk (as hyper holds bytes the client has not taken).
        let mut first = bodies.next().await.expect("body").expect("ok");
        let held = first.next().await.expect("chunk").expect("ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ahead: usize = pulled[1..].iter().map(|p| p.load(Ordering::SeqCst)).sum();
        assert_eq!(
            ahead, 0,
            "the origin is faster than the writer: nothing is read ahead"
        );
        // The current entry holds at most its floor.
        assert!(b.in_use() <= 2 * FLOOR, "in use: {}", b.in_use());
        let cur = pulled[0].load(Ordering::SeqCst);
        assert!(cur <= FLOOR + 1000, "read {cur} bytes of the current entry");
        // Draining everything still works.
        drop(held);
        let mut total = 1000;
        while let Some(Ok(c)) = first.next().await {
            total += c.len();
        }
        drop(first);
        for _ in 1..4 {
            let mut body = bodies.next().await.expect("body").expect("ok");
            while let Some(Ok(c)) = body.next().await {
                total += c.len();
            }
        }
        assert_eq!(total, 4 * 1000 * 1000);
        drop(bodies);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(b.in_use(), 0, "every charge returned");
    }

    /// Reads `count` entries of 4 × 256 KiB each, pausing `pause` after each chunk; returns the read size
    /// each entry was opened with.
    async fn reads_chosen(count: usize, pause: Duration) -> Vec<ReadSize> {
        let chosen = Arc::new(std::sync::Mutex::new(vec![None; count]));
        let c2 = Arc::clone(&chosen);
        let limits = PrefetchLimits {
            files: 2,
            bytes: 8 << 20,
        };
        let (b, d) = budget();
        let mut bodies =
            prefetch_until(count, limits, d, &CancellationToken::new(), move |k, r| {
                if let Ok(mut c) = c2.lock() {
                    c[k] = Some(r);
                }
                Box::pin(futures_util::stream::iter(0..4).map(|_| {
                    Ok::<Bytes, BoxError>(Bytes::from(vec![1u8; ReadSize::Bulk.max_chunk()]))
                }))
            });
        while let Some(Ok(mut body)) = bodies.next().await {
            while let Some(Ok(chunk)) = body.next().await {
                assert!(b.in_use() <= b.limit());
                drop(chunk);
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        }
        drop(bodies);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(b.in_use(), 0, "every charge and reservation returned");
        let chosen = chosen.lock().map(|c| c.clone()).unwrap_or_default();
        chosen
            .into_iter()
            .map(|r| r.expect("opened").size)
            .collect()
    }

    #[tokio::test]
    async fn a_fast_writer_gets_bulk_reads_once_past_the_settle_mark() {
        // 1 MiB entries: the settle mark is passed with entry 8, the evidence with entry 9.
        let reads = reads_chosen(12, Duration::ZERO).await;
        assert_eq!(
            reads[..8],
            [ReadSize::Lean; 8],
            "what the kernel's buffers could have absorbed says nothing of the client"
        );
        assert_eq!(reads[11], ReadSize::Bulk, "{reads:?}");
    }

    #[tokio::test]
    async fn a_slow_writer_keeps_lean_reads() {
        // 256 KiB per 10 ms is 25 MiB/s, under BULK_MIN_RATE.
        let reads = reads_chosen(12, Duration::from_millis(10)).await;
        assert_eq!(reads, vec![ReadSize::Lean; 12]);
    }

    /// Reads one lean entry of `chunks` × 256 KiB as fast as it comes, its fetch offering the move to bulk
    /// reads; whether the lane requested the move.
    async fn switch_requested(chunks: usize) -> bool {
        let switch = Arc::new(std::sync::Mutex::new(None));
        let s2 = Arc::clone(&switch);
        let limits = PrefetchLimits {
            files: 1,
            bytes: 8 << 20,
        };
        let (b, d) = budget();
        let mut bodies =
            prefetch_until(1, limits, d, &CancellationToken::new(), move |_, r| {
                let offered = r.switch.clone().expect("a lean entry has a switch");
                offered.offer();
                if let Ok(mut s) = s2.lock() {
                    *s = Some(offered);
                }
                Box::pin(futures_util::stream::iter(0..chunks).map(|_| {
                    Ok::<Bytes, BoxError>(Bytes::from(vec![1u8; ReadSize::Bulk.max_chunk()]))
                }))
            });
        let mut body = bodies.next().await.expect("body").expect("ok");
        while let Some(Ok(chunk)) = body.next().await {
            assert!(b.in_use() <= b.limit());
            drop(chunk);
        }
        drop(body);
        drop(bodies);
        let got = switch.lock().ok().and_then(|s| s.clone()).expect("opened");
        got.take_request()
    }

    #[tokio::test]
    async fn a_fast_writer_moves_its_lean_entry_to_bulk_reads_once_past_the_settle_mark() {
        assert!(switch_requested(48).await, "12 MiB taken at memory speed");
        assert!(
            !switch_requested(24).await,
            "6 MiB is within what kernel buffers absorb"
        );
    }

    #[test]
    fn the_rate_rule() {
        assert!(is_fast(BULK_MIN_RATE, Duration::from_secs(1)));
        assert!(!is_fast(BULK_MIN_RATE - 1, Duration::from_secs(1)));
        assert!(
            is_fast(1 << 20, Duration::ZERO),
            "no time at all counts as a microsecond"
        );
        assert!(!is_fast(1 << 20, Duration::from_millis(100)));
    }

    /// A current entry whose origin sends one chunk at once, then waits `pause` (before its first chunk
    /// too when `slow_start`).
    fn slow_current(slow_start: bool, pause: Duration) -> EntryBody {
        let first = async move {
            if slow_start {
                tokio::time::sleep(pause).await;
            }
            Ok::<Bytes, BoxError>(Bytes::from_static(b"first"))
        };
        let second = async move {
            tokio::time::sleep(pause).await;
            Ok::<Bytes, BoxError>(Bytes::from_static(b"second"))
        };
        Box::pin(futures_util::stream::once(first).chain(futures_util::stream::once(second)))
    }

    /// Reads the slow entry of a download whose last entry counts what its origin sent; returns the bytes
    /// pulled ahead while the slow entry waited. With `past_first`, a one-chunk entry comes first (so the
    /// writer is past the first entry when it reaches the slow one).
    async fn ahead_while_current_waits(slow_start: bool, past_first: bool) -> usize {
        let pulled = Arc::new(AtomicUsize::new(0));
        let p2 = Arc::clone(&pulled);
        let limits = PrefetchLimits {
            files: 3,
            bytes: 4 * FLOOR,
        };
        let (b, d) = budget();
        let slow = usize::from(past_first);
        let mut bodies = prefetch_until(
            slow + 2,
            limits,
            d,
            &CancellationToken::new(),
            move |k, _| {
                if k < slow {
                    Box::pin(futures_util::stream::iter([Ok::<Bytes, BoxError>(
                        Bytes::from_static(b"tiny"),
                    )])) as EntryBody
                } else if k == slow {
                    slow_current(slow_start, Duration::from_millis(300))
                } else {
                    counting_body(1000, 1000, Arc::clone(&p2))
                }
            },
        );
        if past_first {
            let mut tiny = bodies.next().await.expect("body").expect("ok");
            while tiny.next().await.is_some() {}
        }
        let mut first = bodies.next().await.expect("body").expect("ok");
        let reading = tokio::spawn(async move {
            let mut n = 0;
            while let Some(Ok(c)) = first.next().await {
                n += c.len();
            }
            n
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        let ahead = pulled.load(Ordering::SeqCst);
        assert!(b.in_use() <= FLOOR + 4 * FLOOR, "in use: {}", b.in_use());
        assert_eq!(reading.await.expect("join"), 11);
        ahead
    }

    #[tokio::test]
    async fn nothing_is_read_ahead_while_the_first_entry_waits_for_its_first_bytes() {
        let ahead = ahead_while_current_waits(true, false).await;
        assert_eq!(
            ahead, 0,
            "the first entry's latency says nothing about the client"
        );
    }

    #[tokio::test]
    async fn past_the_first_entry_the_next_ones_open_ahead() {
        let ahead = ahead_while_current_waits(true, true).await;
        assert_eq!(ahead, 1000, "one first chunk ahead hides the latency");
    }

    #[tokio::test]
    async fn entries_ahead_read_on_while_the_current_one_waits_mid_body() {
        let ahead = ahead_while_current_waits(false, true).await;
        assert!(
            ahead > 1000,
            "the origin is the bottleneck: read ahead ({ahead} bytes)"
        );
        // Within the download's read-ahead cap (one chunk pulled past it at most, then held back).
        assert!(ahead <= 4 * FLOOR + 1000, "read {ahead} bytes ahead");
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_fetches() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let p2 = Arc::clone(&pulled);
        let limits = PrefetchLimits {
            files: 2,
            bytes: 1 << 20,
        };
        let (b, d) = budget();
        let bodies = prefetch_until(2, limits, d, &CancellationToken::new(), move |_, _| {
            let p = Arc::clone(&p2);
            Box::pin(futures_util::stream::repeat_with(move || {
                p.fetch_add(1, Ordering::SeqCst);
                Ok::<Bytes, BoxError>(Bytes::from_static(b"x"))
            })) as EntryBody
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(bodies);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let a = pulled.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            pulled.load(Ordering::SeqCst),
            a,
            "fetching stopped after drop"
        );
        assert_eq!(b.in_use(), 0, "every charge and the floor returned");
    }
}
