//! Process-wide counters and gauges, rendered as Prometheus text for `GET /metrics` on the admin listener.
//!
//! An explicit registry (created by the server, passed down) rather than globals, so tests can run several
//! servers in one process. It only counts; it must not decide anything.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Download requests received (valid or not).
    pub requests: AtomicU64,
    /// Downloads currently streaming.
    pub active_downloads: AtomicU64,
    /// Downloads whose archive was sent completely.
    pub completed: AtomicU64,
    /// Downloads aborted because the archive could not be finished correctly.
    pub failed: AtomicU64,
    /// Downloads the client went away from.
    pub cancelled: AtomicU64,
    /// Requests refused with `503 overloaded`.
    pub overloaded: AtomicU64,
    /// Error responses sent before any archive byte.
    pub error_responses: AtomicU64,
    /// Archive bytes sent to clients.
    pub bytes_sent: AtomicU64,
    /// Range requests answered with 206.
    pub partial_responses: AtomicU64,
    /// Resumes whose manifest came from a cache (in-process or shared) instead of the origin.
    pub manifest_cache_hits: AtomicU64,
    /// Values found (and verified) in the shared cache.
    pub shared_cache_hits: AtomicU64,
    /// Values looked up in the shared cache and not found (or not verified).
    pub shared_cache_misses: AtomicU64,
    /// Shared-cache operations that failed (connect, timeout, error); each opens the breaker.
    pub shared_cache_errors: AtomicU64,
    /// Shared-cache operations skipped: breaker open, a connection attempt running, write queue full.
    pub shared_cache_skipped: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 14] = [
            (
                "zipper_requests_total",
                "counter",
                "Download requests received.",
                &self.requests,
            ),
            (
                "zipper_active_downloads",
                "gauge",
                "Downloads currently streaming.",
                &self.active_downloads,
            ),
            (
                "zipper_downloads_completed_total",
                "counter",
                "Archives sent completely.",
                &self.completed,
            ),
            (
                "zipper_downloads_failed_total",
                "counter",
                "Downloads aborted because the archive could not be finished correctly.",
                &self.failed,
            ),
            (
                "zipper_downloads_cancelled_total",
                "counter",
                "Downloads the client abandoned.",
                &self.cancelled,
            ),
            (
                "zipper_overloaded_total",
                "counter",
                "Requests refused with 503 overloaded.",
                &self.overloaded,
            ),
            (
                "zipper_error_responses_total",
                "counter",
                "Error responses sent before any archive byte.",
                &self.error_responses,
            ),
            (
                "zipper_bytes_sent_total",
                "counter",
                "Archive bytes sent to clients.",
                &self.bytes_sent,
            ),
            (
                "zipper_partial_responses_total",
                "counter",
                "Range requests answered with 206.",
                &self.partial_responses,
            ),
            (
                "zipper_manifest_cache_hits_total",
                "counter",
                "Resumes whose manifest came from a cache instead of the origin.",
                &self.manifest_cache_hits,
            ),
            (
                "zipper_shared_cache_hits_total",
                "counter",
                "Values found in the shared (Redis) cache.",
                &self.shared_cache_hits,
            ),
            (
                "zipper_shared_cache_misses_total",
                "counter",
                "Values looked up in the shared (Redis) cache and not found.",
                &self.shared_cache_misses,
            ),
            (
                "zipper_shared_cache_errors_total",
                "counter",
                "Shared-cache operations that failed (each opens the circuit breaker).",
                &self.shared_cache_errors,
            ),
            (
                "zipper_shared_cache_skipped_total",
                "counter",
                "Shared-cache operations skipped (breaker open, connecting, write queue full).",
                &self.shared_cache_skipped,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        Metrics::inc(&m.requests);
        Metrics::inc(&m.requests);
        let text = m.render();
        assert!(text.contains("# TYPE zipper_requests_total counter\nzipper_requests_total 2\n"));
        assert!(text.contains("zipper_active_downloads 0\n"));
    }
}
