//! A bounded in-memory cache of file CRC-32s, keyed by (URL, size), so that a resumed download whose
//! manifest has no `crc32` can render its data descriptors and central directory without re-reading files
//! the server has already streamed. Filled by every full read of a file; first in, first out past the bound.
//!
//! Limitation (documented in the README): an origin that changes a file's bytes while keeping its URL and
//! size would make a resume inconsistent; such origins should put `crc32` in the manifest.
//!
//! [`CrcReads`] coordinates the reads that fill the cache when a resume needs a CRC it does not have: one
//! read per file at a time however many requests want it, a bounded number at once, each in a task of its
//! own so that a client giving up does not waste the read. The reads themselves are the caller's futures:
//! this module never fetches.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::Semaphore;

use crate::zipstream::BoxError;

/// The cache.
#[derive(Debug)]
pub struct CrcCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<(String, u64), u32>,
    order: VecDeque<(String, u64)>,
}

impl CrcCache {
    /// A cache holding at most `capacity` CRCs (0 disables it).
    pub fn new(capacity: usize) -> Self {
        CrcCache {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// The CRC of the file at `url` with this size, if known.
    pub fn get(&self, url: &str, size: u64) -> Option<u32> {
        let inner = self.inner.lock().ok()?;
        inner.map.get(&(url.to_string(), size)).copied()
    }

    /// Records a CRC.
    pub fn put(&self, url: &str, size: u64, crc: u32) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let key = (url.to_string(), size);
        if inner.map.insert(key.clone(), crc).is_none() {
            inner.order.push_back(key);
            while inner.order.len() > self.capacity {
                if let Some(old) = inner.order.pop_front() {
                    inner.map.remove(&old);
                }
            }
        }
    }

    /// Number of CRCs held.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.map.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The outcome of a CRC read, shareable between the requests waiting for it.
pub type CrcResult = Result<u32, Arc<str>>;

type SharedRead = Shared<BoxFuture<'static, CrcResult>>;

/// In-flight CRC reads, deduplicated by (URL, size) and bounded in number.
pub struct CrcReads {
    inflight: Mutex<HashMap<(String, u64), SharedRead>>,
    limit: Arc<Semaphore>,
}

impl CrcReads {
    /// At most `parallel` reads run at once (others wait their turn).
    pub fn new(parallel: usize) -> Arc<Self> {
        Arc::new(CrcReads {
            inflight: Mutex::new(HashMap::new()),
            limit: Arc::new(Semaphore::new(parallel.clamp(1, Semaphore::MAX_PERMITS))),
        })
    }

    /// Joins the read of (`url`, `size`) already running, or starts `read` in a task of its own. Must be
    /// called inside a tokio runtime.
    pub fn join_or_start<F>(self: &Arc<Self>, url: &str, size: u64, read: F) -> SharedRead
    where
        F: Future<Output = Result<u32, BoxError>> + Send + 'static,
    {
        let key = (url.to_string(), size);
        // Held while spawning, so the task cannot remove its entry before it is inserted.
        let Ok(mut map) = self.inflight.lock() else {
            return async { Err(Arc::from("CRC read registry poisoned")) }
                .boxed()
                .shared();
        };
        if let Some(running) = map.get(&key) {
            return running.clone();
        }
        let me = Arc::clone(self);
        let task_key = key.clone();
        let handle = tokio::spawn(async move {
            let permit = Arc::clone(&me.limit).acquire_owned().await;
            let result = read.await.map_err(|e| Arc::from(e.to_string()));
            drop(permit);
            if let Ok(mut map) = me.inflight.lock() {
                map.remove(&task_key);
            }
            result
        });
        let shared = async move {
            handle
                .await
                .unwrap_or_else(|e| Err(Arc::from(format!("CRC read failed: {e}"))))
        }
        .boxed()
        .shared();
        map.insert(key, shared.clone());
        shared
    }

    /// Reads in progress.
    pub fn in_flight(&self) -> usize {
        self.inflight.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_requests_share_one_read() {
        let reads = CrcReads::new(4);
        let started = Arc::new(AtomicUsize::new(0));
        let mut waiting = Vec::new();
        for _ in 0..5 {
            let s = Arc::clone(&started);
            waiting.push(reads.join_or_start("u", 1, async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Ok(42)
            }));
        }
        for w in waiting {
            assert_eq!(w.await, Ok(42));
        }
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert_eq!(reads.in_flight(), 0);
    }

    #[test]
    fn bounded_fifo() {
        let c = CrcCache::new(2);
        c.put("a", 1, 10);
        c.put("b", 1, 20);
        c.put("c", 1, 30);
        assert_eq!(c.get("a", 1), None);
        assert_eq!(c.get("b", 1), Some(20));
        assert_eq!(c.get("c", 1), Some(30));
        assert_eq!(c.get("c", 2), None);
        assert_eq!(c.len(), 2);
    }
}
