//! The process-wide memory budget (docs/contract.md, Safety): every byte zipper buffers for a client (chunks read
//! from origins and waiting in the read-ahead, in the archive stream, or in hyper's write buffers; range and
//! CRC work) is counted against one `memory_budget_bytes`.
//!
//! The budget is a byte semaphore split in two pools:
//! - **floors**: each admitted download reserves [`FLOOR`] bytes, the most it needs to make progress (two
//!   origin reads of [`crate::origin::client::ORIGIN_READ_MAX`]: a consumer may hold one chunk while it
//!   waits for the next, so one read's worth would deadlock). A download whose floor does not fit is refused
//!   (`503 overloaded`); a running download can always move, so no crowd can deadlock the process.
//! - **read-ahead**: what downloads borrow beyond their floor to hide origin latency (the next files, a
//!   second chunk of the current one). Borrowers wait when it is spent: the process does not grow.
//! - **whole-file buffers** (only when `inline_crc_max_bytes` is on: an eighth of the budget, taken from
//!   the read-ahead): a small file without a CRC is read whole before its local header (inline CRC mode).
//!   The writer takes the file's size here before it reads, waiting while the pool is spent. A holder
//!   needs nothing more from any pool (its reads go through its own floor, and what it holds goes out to
//!   its client), so waiting here cannot deadlock, whatever the read-ahead holds; and a download holds at
//!   most one file's buffer plus its floor. The planner never plans a file larger than this pool that way.
//!
//! A chunk carries its charge: [`Charge::attach`] wraps the `Bytes` so that the permits return to the pool
//! when the last reference is dropped, i.e. when hyper has written the bytes to the socket (or the download
//! was dropped), not when zipper handed them on. Accounting is exact and needs no bookkeeping by callers.
//!
//! This module only counts: it does no I/O, knows nothing of HTTP or zip, and never allocates per byte.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What one download reserves on admission and may always hold: two origin reads (the chunk its consumer
/// holds and the next one), 16 KiB. (hyper's client connection holds one more read of at most [`CHUNK`]
/// per origin connection that no one has asked for yet; see `origin::client::ORIGIN_READ_MAX`.)
pub const FLOOR: usize = 2 * CHUNK;

/// The most one chunk is charged: one origin read.
pub const CHUNK: usize = crate::origin::client::ORIGIN_READ_MAX;

/// The share of the budget that backs download floors (the rest is read-ahead): an eighth, so that at the
/// default 256 MiB, 2,048 floors fit (twice the default `max_concurrent_downloads`) and 224 MiB is left
/// for read-ahead.
const FLOOR_SHARE_DIVISOR: usize = 8;

/// The share of the budget set aside for whole-file buffers when they are enabled: an eighth (32 MiB of the
/// default 256 MiB, 32 files of the default 1 MiB threshold at once).
const FILE_BUFFER_SHARE_DIVISOR: usize = 8;

/// The default budget (docs/contract.md, Safety): 256 MiB.
pub const DEFAULT_BUDGET: u64 = 256 * 1024 * 1024;

/// The smallest budget accepted: room for a few floors and some read-ahead.
pub const MIN_BUDGET: usize = 1024 * 1024;

/// The process-wide budget. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    floors: Arc<Semaphore>,
    ahead: Arc<Semaphore>,
    buffers: Arc<Semaphore>,
    floor_bytes: usize,
    ahead_bytes: usize,
    buffer_bytes: usize,
}

impl Budget {
    /// A budget of `limit` bytes (at least [`MIN_BUDGET`]), without whole-file buffers.
    pub fn new(limit: u64) -> Budget {
        Budget::split(limit, false)
    }

    /// A budget of `limit` bytes (at least [`MIN_BUDGET`]) that sets an eighth aside for whole-file buffers
    /// (inline CRC mode).
    pub fn with_file_buffers(limit: u64) -> Budget {
        Budget::split(limit, true)
    }

    fn split(limit: u64, buffers: bool) -> Budget {
        let limit = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .clamp(MIN_BUDGET, Semaphore::MAX_PERMITS);
        let floor_bytes = (limit / FLOOR_SHARE_DIVISOR).max(FLOOR);
        let buffer_bytes = if buffers {
            limit / FILE_BUFFER_SHARE_DIVISOR
        } else {
            0
        };
        let ahead_bytes = limit - floor_bytes - buffer_bytes;
        Budget {
            inner: Arc::new(Inner {
                floors: Arc::new(Semaphore::new(floor_bytes)),
                ahead: Arc::new(Semaphore::new(ahead_bytes)),
                buffers: Arc::new(Semaphore::new(buffer_bytes)),
                floor_bytes,
                ahead_bytes,
                buffer_bytes,
            }),
        }
    }

    /// The whole budget in bytes.
    pub fn limit(&self) -> usize {
        self.inner.floor_bytes + self.inner.ahead_bytes + self.inner.buffer_bytes
    }

    /// The whole-file buffer pool in bytes (0 when disabled): the largest file one buffer can hold.
    pub fn file_buffer_bytes(&self) -> usize {
        self.inner.buffer_bytes
    }

    /// Bytes reserved or borrowed right now.
    pub fn in_use(&self) -> usize {
        let free = self.inner.floors.available_permits()
            + self.inner.ahead.available_permits()
            + self.inner.buffers.available_permits();
        self.limit().saturating_sub(free)
    }

    /// Admits one download: reserves its floor, or `None` when the floors are spent (`503 overloaded`).
    pub fn admit(&self) -> Option<DownloadBudget> {
        let reserved = Arc::clone(&self.inner.floors)
            .try_acquire_many_owned(permits(FLOOR))
            .ok()?;
        Some(DownloadBudget {
            own: Arc::new(Semaphore::new(FLOOR)),
            ahead: Arc::clone(&self.inner.ahead),
            buffers: Arc::clone(&self.inner.buffers),
            buffer_bytes: self.inner.buffer_bytes,
            _reserved: Arc::new(reserved),
        })
    }

    /// Borrows up to `n` bytes of read-ahead for work outside a download (a CRC read for a resume), waiting
    /// while the read-ahead is spent.
    pub async fn borrow(&self, n: usize) -> Charge {
        borrow_from(&self.inner.ahead, n).await
    }
}

/// One download's share: its own floor (backed by the reservation made on admission) and access to the
/// shared read-ahead. Clones share the floor.
#[derive(Debug, Clone)]
pub struct DownloadBudget {
    own: Arc<Semaphore>,
    ahead: Arc<Semaphore>,
    buffers: Arc<Semaphore>,
    buffer_bytes: usize,
    _reserved: Arc<OwnedSemaphorePermit>,
}

impl DownloadBudget {
    /// Takes `n` bytes (at most [`FLOOR`]; callers take [`CHUNK`]) of the download's own floor, waiting until earlier chunks of this
    /// download have been written out. The entry the writer is on uses this, so it never waits on others.
    pub async fn floor(&self, n: usize) -> Charge {
        let n = n.clamp(1, FLOOR);
        match Arc::clone(&self.own).acquire_many_owned(permits(n)).await {
            Ok(permit) => Charge::of(permit),
            // The semaphore is never closed.
            Err(_) => Charge::none(),
        }
    }

    /// Takes `n` bytes of the download's floor if they are free now.
    pub fn try_floor(&self, n: usize) -> Option<Charge> {
        let n = n.clamp(1, FLOOR);
        Arc::clone(&self.own)
            .try_acquire_many_owned(permits(n))
            .ok()
            .map(Charge::of)
    }

    /// Borrows `n` bytes of the shared read-ahead, waiting while it is spent.
    pub async fn borrow(&self, n: usize) -> Charge {
        borrow_from(&self.ahead, n).await
    }

    /// Takes a whole-file buffer of `n` bytes (an inline CRC file), waiting while the pool is spent. The
    /// planner keeps `n` within the pool; a larger `n` takes the whole pool rather than waiting forever.
    pub async fn file_buffer(&self, n: usize) -> Charge {
        if self.buffer_bytes == 0 || n == 0 {
            return Charge::none();
        }
        borrow_from(&self.buffers, n.min(self.buffer_bytes)).await
    }
}

async fn borrow_from(pool: &Arc<Semaphore>, n: usize) -> Charge {
    match Arc::clone(pool).acquire_many_owned(permits(n.max(1))).await {
        Ok(permit) => Charge::of(permit),
        Err(_) => Charge::none(),
    }
}

/// One entry's room for two bulk chunks (`2 × chunk` bytes), reserved at once from the shared read-ahead
/// and the download's read-ahead cap, never waited for: a lane that holds one charges its chunks to it, the
/// way the entry the writer is on charges its floor. The reservation returns to both pools when the lane
/// and every chunk charged to it are gone.
#[derive(Debug)]
pub struct BulkFloor {
    own: Arc<Semaphore>,
    chunk: usize,
    reserved: Arc<Reserved>,
}

#[derive(Debug)]
struct Reserved {
    _pool: OwnedSemaphorePermit,
    _cap: OwnedSemaphorePermit,
}

impl DownloadBudget {
    /// Reserves room for two chunks of `chunk` bytes from the shared read-ahead and from `cap` (the
    /// download's own read-ahead limit) if both have it free now; `None` otherwise.
    pub fn try_bulk(&self, chunk: usize, cap: &Arc<Semaphore>) -> Option<BulkFloor> {
        let bytes = chunk.max(1).saturating_mul(2);
        let cap = Arc::clone(cap)
            .try_acquire_many_owned(permits(bytes))
            .ok()?;
        let pool = Arc::clone(&self.ahead)
            .try_acquire_many_owned(permits(bytes))
            .ok()?;
        Some(BulkFloor {
            own: Arc::new(Semaphore::new(bytes)),
            chunk: chunk.max(1),
            reserved: Arc::new(Reserved {
                _pool: pool,
                _cap: cap,
            }),
        })
    }
}

impl BulkFloor {
    /// One chunk's charge, waiting until this entry's earlier chunks have been written out.
    pub async fn take(&self) -> Charge {
        match Arc::clone(&self.own)
            .acquire_many_owned(permits(self.chunk))
            .await
        {
            Ok(permit) => Charge {
                permit: Some(permit),
                cap: None,
                _reserved: Some(Arc::clone(&self.reserved)),
            },
            // The semaphore is never closed.
            Err(_) => Charge::none(),
        }
    }
}

/// Budget bytes held for one chunk; returned to their pool when dropped. A charge may also hold the same
/// bytes of a second, narrower limit (a download's own read-ahead cap), see [`Charge::with_cap`], or a
/// share of the [`BulkFloor`] it was taken from.
#[derive(Debug)]
pub struct Charge {
    permit: Option<OwnedSemaphorePermit>,
    cap: Option<OwnedSemaphorePermit>,
    _reserved: Option<Arc<Reserved>>,
}

impl Charge {
    /// No bytes held (for chunks that need no accounting, like an empty one).
    pub fn none() -> Charge {
        Charge {
            permit: None,
            cap: None,
            _reserved: None,
        }
    }

    fn of(permit: OwnedSemaphorePermit) -> Charge {
        Charge {
            permit: Some(permit),
            cap: None,
            _reserved: None,
        }
    }

    /// This charge, also holding `cap` (the same bytes of another limit) until dropped.
    pub fn with_cap(mut self, cap: OwnedSemaphorePermit) -> Charge {
        self.cap = Some(cap);
        self
    }

    /// Keeps `n` bytes of the charge and returns the rest to the pool (after a read smaller than reserved).
    pub fn shrink_to(&mut self, n: usize) {
        let keep = permits(n.max(1)) as usize;
        for permit in [self.permit.as_mut(), self.cap.as_mut()]
            .into_iter()
            .flatten()
        {
            if permit.num_permits() > keep {
                let extra = permit.num_permits() - keep;
                drop(permit.split(extra));
            }
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.permit
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits)
    }

    /// `chunk`, carrying this charge until its last reference (a slice, hyper's write queue) is dropped.
    pub fn attach(self, chunk: Bytes) -> Bytes {
        if chunk.is_empty() {
            return chunk;
        }
        Bytes::from_owner(Charged {
            chunk,
            _charge: self,
        })
    }
}

/// A chunk and the budget it holds.
struct Charged {
    chunk: Bytes,
    _charge: Charge,
}

impl AsRef<[u8]> for Charged {
    fn as_ref(&self) -> &[u8] {
        &self.chunk
    }
}

/// Semaphore permits for `n` bytes (tokio counts permits in `u32` per acquire).
fn permits(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_stops_when_the_floors_are_spent() {
        let budget = Budget::new(MIN_BUDGET as u64);
        let fits = MIN_BUDGET / FLOOR_SHARE_DIVISOR / FLOOR;
        let admitted: Vec<_> = (0..fits).map(|_| budget.admit().expect("fits")).collect();
        assert!(budget.admit().is_none(), "one floor too many");
        assert_eq!(budget.in_use(), fits * FLOOR);
        drop(admitted);
        assert_eq!(budget.in_use(), 0);
        assert!(budget.admit().is_some());
    }

    #[tokio::test]
    async fn a_chunk_returns_its_charge_when_its_last_reference_drops() {
        let budget = Budget::new(MIN_BUDGET as u64);
        let download = budget.admit().expect("admitted");
        let mut charge = download.floor(FLOOR).await;
        charge.shrink_to(1000);
        assert_eq!(charge.bytes(), 1000);
        let chunk = charge.attach(Bytes::from(vec![1u8; 1000]));
        let slice = chunk.slice(10..20);
        drop(chunk);
        // The floor is still held by the slice: only FLOOR - 1000 is free.
        assert!(download.try_floor(FLOOR).is_none());
        assert!(download.try_floor(FLOOR - 1000).is_some());
        drop(slice);
        assert!(
            download.try_floor(FLOOR).is_some(),
            "released with the slice"
        );
    }

    #[tokio::test]
    async fn borrowing_waits_while_the_read_ahead_is_spent() {
        let budget = Budget::new(MIN_BUDGET as u64);
        let download = budget.admit().expect("admitted");
        let ahead = MIN_BUDGET - MIN_BUDGET / FLOOR_SHARE_DIVISOR;
        let all = download.borrow(ahead).await;
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), download.borrow(1)).await;
        assert!(waiting.is_err(), "no read-ahead left");
        drop(all);
        let got =
            tokio::time::timeout(std::time::Duration::from_millis(50), download.borrow(1)).await;
        assert!(got.is_ok(), "free again");
    }

    #[tokio::test]
    async fn file_buffers_have_a_pool_of_their_own_and_wait_when_it_is_spent() {
        let plain = Budget::new(MIN_BUDGET as u64);
        assert_eq!(plain.file_buffer_bytes(), 0);
        let budget = Budget::with_file_buffers(MIN_BUDGET as u64);
        let pool = budget.file_buffer_bytes();
        assert_eq!(pool, MIN_BUDGET / FILE_BUFFER_SHARE_DIVISOR);
        assert_eq!(budget.limit(), MIN_BUDGET);
        let download = budget.admit().expect("admitted");
        // The read-ahead spent entirely does not stop a file buffer.
        let ahead = MIN_BUDGET - MIN_BUDGET / FLOOR_SHARE_DIVISOR - pool;
        let all_ahead = download.borrow(ahead).await;
        let buffer = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            download.file_buffer(pool),
        )
        .await
        .expect("its own pool");
        assert_eq!(buffer.bytes(), pool);
        assert_eq!(budget.in_use(), FLOOR + ahead + pool);
        // The pool spent: the next buffer waits until the first is returned.
        let next = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            download.file_buffer(1),
        )
        .await;
        assert!(next.is_err(), "waits while the pool is spent");
        drop(buffer);
        drop(all_ahead);
        // Larger than the pool: takes the whole pool rather than waiting forever.
        let huge = download.file_buffer(pool * 4).await;
        assert_eq!(huge.bytes(), pool);
    }

    #[tokio::test]
    async fn a_bulk_floor_is_reserved_whole_or_not_at_all_and_held_by_its_chunks() {
        let budget = Budget::new(MIN_BUDGET as u64);
        let download = budget.admit().expect("admitted");
        let cap = Arc::new(Semaphore::new(300_000));
        let bulk = download
            .try_bulk(100_000, &cap)
            .expect("room for two chunks");
        assert_eq!(budget.in_use(), FLOOR + 200_000);
        assert_eq!(cap.available_permits(), 100_000);
        assert!(
            download.try_bulk(100_000, &cap).is_none(),
            "the download's cap has room for one chunk only"
        );
        assert_eq!(cap.available_permits(), 100_000, "a refusal takes nothing");
        let mut charge = bulk.take().await;
        charge.shrink_to(60_000);
        let chunk = charge.attach(Bytes::from(vec![3u8; 60_000]));
        let second = bulk.take().await;
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), bulk.take()).await;
        assert!(third.is_err(), "two chunks at most");
        drop((bulk, second));
        assert_eq!(
            budget.in_use(),
            FLOOR + 200_000,
            "the reservation outlives its lane while a chunk is unwritten"
        );
        drop(chunk);
        assert_eq!(budget.in_use(), FLOOR);
        assert_eq!(cap.available_permits(), 300_000);
    }
}
