//! A bounded in-memory cache of file CRC-32s, keyed by (URL, size), so that a resumed download whose
//! manifest has no `crc32` can render its data descriptors and central directory without re-reading files
//! the server has already streamed. Filled by every full read of a file; first in, first out past the bound.
//!
//! Limitation (documented in the README): an origin that changes a file's bytes while keeping its URL and
//! size would make a resume inconsistent; such origins should put `crc32` in the manifest. This module only
//! stores numbers; it never fetches.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

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

#[cfg(test)]
mod tests {
    use super::*;

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
