//! What the demo origin's connections share: its port and fault switch, the registered manifests, the
//! headers of the last manifest requests, the completion reports received, and the per-path counters tests
//! assert on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use http::HeaderMap;

use super::faults::Faults;

/// The most completion reports one origin keeps.
pub(super) const MAX_REPORTS: usize = 10_000;

/// What was asked and sent for one path.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PathStats {
    pub(super) requests: u64,
    pub(super) partial: u64,
    pub(super) bytes: u64,
}

/// The state one origin's connections share.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) port: u16,
    /// `None` only in `Default`; every started origin says.
    pub(super) faults: Option<Faults>,
    pub(super) next_manifest: AtomicU64,
    pub(super) manifests: Mutex<HashMap<u64, Bytes>>,
    pub(super) stats: Mutex<HashMap<String, PathStats>>,
    pub(super) manifest_headers: Mutex<HashMap<String, HeaderMap>>,
    /// Answer headers of the manifests registered with them, by path.
    pub(super) manifest_answer_headers: Mutex<HashMap<String, HeaderMap>>,
    /// The `traceparent` of the last request to each file path (no other file request header is kept).
    pub(super) file_traceparents: Mutex<HashMap<String, String>>,
    /// Completion reports received (`POST /reports/…`): path, headers, body; at most [`MAX_REPORTS`].
    pub(super) reports: Mutex<Vec<(String, HeaderMap, Bytes)>>,
    pub(super) total_requests: AtomicU64,
    pub(super) total_bytes: AtomicU64,
}

/// Locks `m`, recovering from a poisoned lock (a panicking test must not wedge the origin).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// Counts a request to `path`; returns how many came before it.
    pub(super) fn count_request(&self, path: &str) -> u64 {
        self.total_requests.fetch_add(1, Ordering::Relaxed);
        let mut stats = lock(&self.stats);
        let entry = stats.entry(path.to_string()).or_default();
        entry.requests += 1;
        entry.requests - 1
    }

    pub(super) fn count_partial(&self, path: &str) {
        if let Some(entry) = lock(&self.stats).get_mut(path) {
            entry.partial += 1;
        }
    }

    pub(super) fn count_bytes(&self, path: &str, n: u64) {
        self.total_bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(entry) = lock(&self.stats).get_mut(path) {
            entry.bytes += n;
        }
    }

    pub(super) fn sum(&self, prefix: &str, field: fn(&PathStats) -> u64) -> u64 {
        lock(&self.stats)
            .iter()
            .filter(|(path, _)| path.starts_with(prefix))
            .map(|(_, s)| field(s))
            .sum()
    }
}
