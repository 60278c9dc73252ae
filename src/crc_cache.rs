//! A bounded in-memory cache of file CRC-32s, so that a resumed download whose manifest has no `crc32` can
//! render its data descriptors and central directory without re-reading files the server has already
//! streamed. Filled by every full read of a file; first in, first out past the bound.
//!
//! **The key rule** (docs/contract.md, Safety, nothing shared across credentials): a CRC is keyed by
//! everything that can change what the origin returns for a request: the signing key id of the link, the file
//! URL, its size, and the request headers the manifest gave for it (names and values). [`CrcKey`] is a
//! SHA-256 of those, so a CRC learnt with one app's credentials never serves a request made with other (or
//! no) credentials, and every entry costs the same few bytes whatever the URL's length: the cache is bounded
//! in bytes as well as entries.
//!
//! Limitation (documented in the README): an origin that changes a file's bytes while keeping its URL and
//! size would make a resume inconsistent; such origins should put `crc32` in the manifest.
//!
//! [`CrcReads`] coordinates the reads that fill the cache when a resume needs a CRC it does not have: one
//! read per key at a time however many requests want it, a bounded number at once and a bounded number
//! waiting, each in a task of its own so that a client giving up does not waste the read. The reads
//! themselves are the caller's futures: this module never fetches.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::Semaphore;

use crate::zipstream::BoxError;

/// What identifies one origin answer: a digest of (key id, URL, size, request headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CrcKey([u8; 32]);

impl CrcKey {
    /// The key of the file at `url` of `size` bytes, requested with `headers` under signing key `key_id`.
    pub fn new(key_id: &str, url: &str, size: u64, headers: &[(String, String)]) -> CrcKey {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        // Length-prefixed fields, so no two different inputs share an encoding.
        let mut field = |bytes: &[u8]| {
            ctx.update(&(bytes.len() as u64).to_be_bytes());
            ctx.update(bytes);
        };
        field(b"zipper-crc-key-v1");
        field(key_id.as_bytes());
        field(url.as_bytes());
        field(&size.to_be_bytes());
        for (name, value) in headers {
            field(name.to_ascii_lowercase().as_bytes());
            field(value.as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        CrcKey(out)
    }

    /// The digest (names the CRC in the fleet's shared cache).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The cache.
#[derive(Debug)]
pub struct CrcCache {
    inner: Mutex<Inner>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

/// What the cache has done so far (for the metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrcCacheStats {
    /// CRCs held now.
    pub entries: u64,
    /// Look-ups that found a CRC.
    pub hits: u64,
    /// Look-ups that found none.
    pub misses: u64,
    /// CRCs dropped past the bound.
    pub evictions: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<CrcKey, u32>,
    order: VecDeque<CrcKey>,
}

impl CrcCache {
    /// A cache holding at most `capacity` CRCs (0 disables it).
    pub fn new(capacity: usize) -> Self {
        CrcCache {
            inner: Mutex::new(Inner::default()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// The CRC recorded under `key`, if any.
    pub fn get(&self, key: &CrcKey) -> Option<u32> {
        let found = self.inner.lock().ok()?.map.get(key).copied();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Records a CRC.
    pub fn put(&self, key: CrcKey, crc: u32) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.map.insert(key, crc).is_none() {
            inner.order.push_back(key);
            while inner.order.len() > self.capacity {
                if let Some(old) = inner.order.pop_front() {
                    inner.map.remove(&old);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
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

    /// Entries held and look-ups, hits and evictions so far.
    pub fn stats(&self) -> CrcCacheStats {
        CrcCacheStats {
            entries: self.len() as u64,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}

/// The outcome of a CRC read, shareable between the requests waiting for it.
pub type CrcResult = Result<u32, Arc<str>>;

type SharedRead = Shared<BoxFuture<'static, CrcResult>>;

/// In-flight CRC reads, deduplicated by [`CrcKey`] and bounded in number, running and waiting.
pub struct CrcReads {
    inflight: Mutex<HashMap<CrcKey, SharedRead>>,
    limit: Arc<Semaphore>,
    max_pending: usize,
}

impl CrcReads {
    /// At most `parallel` reads run at once, and at most `max_pending` are registered (running or waiting
    /// their turn); beyond that a new read fails at once instead of queueing.
    pub fn new(parallel: usize, max_pending: usize) -> Arc<Self> {
        Arc::new(CrcReads {
            inflight: Mutex::new(HashMap::new()),
            limit: Arc::new(Semaphore::new(parallel.clamp(1, Semaphore::MAX_PERMITS))),
            max_pending: max_pending.max(1),
        })
    }

    /// Joins the read of `key` already running, or starts `read` in a task of its own. Must be called
    /// inside a tokio runtime.
    pub fn join_or_start<F>(self: &Arc<Self>, key: CrcKey, read: F) -> SharedRead
    where
        F: Future<Output = Result<u32, BoxError>> + Send + 'static,
    {
        // Held while spawning, so the task cannot remove its entry before it is inserted.
        let Ok(mut map) = self.inflight.lock() else {
            return async { Err(Arc::from("CRC read registry poisoned")) }
                .boxed()
                .shared();
        };
        if let Some(running) = map.get(&key) {
            return running.clone();
        }
        if map.len() >= self.max_pending {
            return async { Err(Arc::from("too many CRC reads waiting; retry later")) }
                .boxed()
                .shared();
        }
        let me = Arc::clone(self);
        let task_key = key;
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
    use std::sync::atomic::AtomicUsize;

    fn key(url: &str, size: u64) -> CrcKey {
        CrcKey::new("k", url, size, &[])
    }

    #[test]
    fn keys_separate_credentials_and_signing_keys() {
        let plain = CrcKey::new("a", "https://h/f", 10, &[]);
        let auth = [("Authorization".to_string(), "Bearer x".to_string())];
        assert_ne!(plain, CrcKey::new("a", "https://h/f", 10, &auth));
        assert_ne!(plain, CrcKey::new("b", "https://h/f", 10, &[]));
        assert_ne!(plain, CrcKey::new("a", "https://h/f", 11, &[]));
        assert_eq!(plain, CrcKey::new("a", "https://h/f", 10, &[]));
        // Field boundaries are unambiguous.
        assert_ne!(
            CrcKey::new("ab", "c", 1, &[]),
            CrcKey::new("a", "bc", 1, &[])
        );
    }

    #[tokio::test]
    async fn waiting_reads_are_bounded() {
        let reads = CrcReads::new(1, 2);
        let slow = || async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Ok(1)
        };
        let a = reads.join_or_start(key("a", 1), slow());
        let b = reads.join_or_start(key("b", 1), slow());
        let c = reads.join_or_start(key("c", 1), slow());
        assert!(c.await.is_err(), "a third waiting read is refused");
        assert_eq!(a.await, Ok(1));
        assert_eq!(b.await, Ok(1));
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_read() {
        let reads = CrcReads::new(4, 16);
        let started = Arc::new(AtomicUsize::new(0));
        let mut waiting = Vec::new();
        for _ in 0..5 {
            let s = Arc::clone(&started);
            waiting.push(reads.join_or_start(key("u", 1), async move {
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
        c.put(key("a", 1), 10);
        c.put(key("b", 1), 20);
        c.put(key("c", 1), 30);
        assert_eq!(c.get(&key("a", 1)), None);
        assert_eq!(c.get(&key("b", 1)), Some(20));
        assert_eq!(c.get(&key("c", 1)), Some(30));
        assert_eq!(c.get(&key("c", 2)), None);
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.stats(),
            CrcCacheStats {
                entries: 2,
                hits: 2,
                misses: 2,
                evictions: 1
            }
        );
    }
}
