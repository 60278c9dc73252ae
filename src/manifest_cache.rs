//! A bounded in-process cache of validated manifests, so that the resumes of a download (a browser resumes
//! a cut download by itself with `Range` + `If-Range`, Chromium up to 5 times) do not fetch the manifest
//! again: [`ManifestCache`], keyed by [`ManifestKey`] (the signed link), each entry expiring with its link.
//!
//! Filled by every manifest fetch; read only by Range requests (the server decides that: a fresh download
//! always asks the origin, so an origin that revokes a link is heard at once). Bounded in entries and in
//! (estimated) bytes, first in, first out; a manifest larger than [`MAX_ONE_BYTES`] is not kept. It only
//! stores: it must not fetch, validate or decide statuses. The fleet-wide layer behind it is
//! [`crate::shared_cache`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::core::manifest::{EntryKind, Manifest};

/// Most manifests held.
pub const MAX_ENTRIES: usize = 1024;
/// Most estimated bytes held, over all manifests.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;
/// The largest manifest (estimated bytes) that is kept.
pub const MAX_ONE_BYTES: usize = 8 * 1024 * 1024;

/// What identifies a manifest: a digest of the signed link's key id and callback (the signature is a
/// function of both, and was checked before any lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ManifestKey([u8; 32]);

impl ManifestKey {
    /// The key of the manifest at `callback` signed under `key_id`.
    pub fn new(key_id: &str, callback: &str) -> ManifestKey {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for field in [
            b"zipper-manifest-key-v1".as_slice(),
            key_id.as_bytes(),
            callback.as_bytes(),
        ] {
            ctx.update(&(field.len() as u64).to_be_bytes());
            ctx.update(field);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        ManifestKey(out)
    }

    /// The digest (names the manifest in the fleet's shared cache).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The cache.
#[derive(Debug, Default)]
pub struct ManifestCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<ManifestKey, Slot>,
    order: VecDeque<ManifestKey>,
    bytes: usize,
}

#[derive(Debug)]
struct Slot {
    manifest: Arc<Manifest>,
    /// Unix seconds after which the entry is not served (the link's end of validity).
    expires_unix: i64,
    bytes: usize,
}

impl ManifestCache {
    /// An empty cache.
    pub fn new() -> ManifestCache {
        ManifestCache::default()
    }

    /// The manifest under `key`, unless it has expired at `now_unix`.
    pub fn get(&self, key: &ManifestKey, now_unix: i64) -> Option<Arc<Manifest>> {
        let inner = self.inner.lock().ok()?;
        let slot = inner.map.get(key)?;
        (now_unix <= slot.expires_unix).then(|| Arc::clone(&slot.manifest))
    }

    /// Keeps `manifest` under `key` until `expires_unix` (replacing an older one), unless it is too large.
    pub fn put(&self, key: ManifestKey, manifest: Arc<Manifest>, expires_unix: i64) {
        let bytes = estimated_bytes(&manifest);
        if bytes > MAX_ONE_BYTES {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let slot = Slot {
            manifest,
            expires_unix,
            bytes,
        };
        match inner.map.insert(key, slot) {
            Some(old) => inner.bytes -= old.bytes,
            None => inner.order.push_back(key),
        }
        inner.bytes += bytes;
        while inner.order.len() > MAX_ENTRIES || inner.bytes > MAX_BYTES {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(old) = inner.map.remove(&oldest) {
                inner.bytes -= old.bytes;
            }
        }
    }

    /// Manifests held (expired ones included until they are pushed out).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.map.len()).unwrap_or(0)
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// About what `manifest` costs in memory: its strings plus a fixed overhead per entry.
pub fn estimated_bytes(manifest: &Manifest) -> usize {
    let per_entry = 128;
    manifest.entries.iter().fold(64, |sum, entry| {
        let file = match &entry.kind {
            EntryKind::File(source) => {
                source.url.len()
                    + source
                        .headers
                        .iter()
                        .map(|(n, v)| n.len() + v.len() + 48)
                        .sum::<usize>()
            }
            EntryKind::Directory => 0,
        };
        sum.saturating_add(per_entry + entry.path.len() + file)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::manifest::{Compression, Entry, FileSource};

    fn manifest(files: usize, url_len: usize) -> Arc<Manifest> {
        Arc::new(Manifest {
            filename: None,
            notify_url: None,
            renamed: Vec::new(),
            entries: (0..files)
                .map(|i| Entry {
                    path: i.to_string(),
                    modified_unix: 0,
                    kind: EntryKind::File(FileSource {
                        url: "u".repeat(url_len),
                        size: Some(1),
                        crc32: None,
                        compression: Compression::Store,
                        headers: Vec::new(),
                    }),
                })
                .collect(),
        })
    }

    #[test]
    fn keys_separate_signing_keys_and_callbacks() {
        let a = ManifestKey::new("a", "https://h/m?timestamp=1");
        assert_eq!(a, ManifestKey::new("a", "https://h/m?timestamp=1"));
        assert_ne!(a, ManifestKey::new("b", "https://h/m?timestamp=1"));
        assert_ne!(a, ManifestKey::new("a", "https://h/m?timestamp=2"));
        assert_ne!(ManifestKey::new("ab", "c"), ManifestKey::new("a", "bc"));
    }

    #[test]
    fn entries_expire_with_their_link() {
        let cache = ManifestCache::new();
        let key = ManifestKey::new("k", "cb");
        let m = manifest(2, 10);
        cache.put(key, Arc::clone(&m), 100);
        assert_eq!(cache.get(&key, 100), Some(m));
        assert_eq!(cache.get(&key, 101), None);
        assert_eq!(cache.get(&ManifestKey::new("k", "other"), 0), None);
    }

    #[test]
    fn bounded_in_entries_first_in_first_out() {
        let cache = ManifestCache::new();
        let m = manifest(1, 1);
        for i in 0..=MAX_ENTRIES {
            cache.put(
                ManifestKey::new("k", &i.to_string()),
                Arc::clone(&m),
                i64::MAX,
            );
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        assert_eq!(cache.get(&ManifestKey::new("k", "0"), 0), None);
        assert!(cache.get(&ManifestKey::new("k", "1"), 0).is_some());
        // Replacing an entry does not count it twice.
        cache.put(ManifestKey::new("k", "1"), Arc::clone(&m), i64::MAX);
        assert_eq!(cache.len(), MAX_ENTRIES);
    }

    #[test]
    fn bounded_in_bytes() {
        let cache = ManifestCache::new();
        // Each about 6 MiB: five of them exceed 32 MiB, so the oldest go.
        let big = manifest(1000, 6 * 1024);
        assert!(estimated_bytes(&big) < MAX_ONE_BYTES);
        for i in 0..8 {
            cache.put(
                ManifestKey::new("k", &i.to_string()),
                Arc::clone(&big),
                i64::MAX,
            );
        }
        assert!(cache.len() <= MAX_BYTES / estimated_bytes(&big));
        assert!(cache.get(&ManifestKey::new("k", "7"), 0).is_some());
        assert_eq!(cache.get(&ManifestKey::new("k", "0"), 0), None);
        // One over the single-manifest bound is not kept at all.
        let huge = manifest(1000, 9 * 1024);
        cache.put(ManifestKey::new("k", "huge"), huge, i64::MAX);
        assert_eq!(cache.get(&ManifestKey::new("k", "huge"), 0), None);
    }
}
