//! The metrics registry, rendered as Prometheus text for `GET /metrics` on the admin listener; the names
//! and help texts (documented in README.md, Metrics) are written down here and nowhere else.
//!
//! Built on `prometheus-client`, the Prometheus project's own Rust client, rather than the `metrics` facade
//! with its exporter: its [`Registry`] is a plain value that the server creates and passes down (the facade
//! installs one global recorder per process, so two servers in one test process would share counters); its
//! label sets are typed structs, so a label can only take the bounded values this module lets through
//! (never a host, a path or a key id); and it encodes the text format itself, with no HTTP listener or
//! background thread of its own.
//!
//! What is not counted on the way (the memory budget in use, the CRC cache's hits) is read when scraped,
//! through the [`Sampled`] closures the server hands in, so this module imports nothing of the crate. It
//! only counts; it must not decide anything.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What an origin request was for (the `kind` label of `zipper_origin_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OriginKind {
    /// The manifest GET to the callback URL.
    Manifest,
    /// A whole file (or its resume after a break) for a full archive.
    #[default]
    File,
    /// A window of a file, for a `206` range of the archive.
    Range,
    /// A whole-file read for a CRC the manifest and the cache lack (a resume).
    Crc,
}

impl OriginKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            OriginKind::Manifest => "manifest",
            OriginKind::File => "file",
            OriginKind::Range => "range",
            OriginKind::Crc => "crc",
        }
    }
}

/// How one origin request ended (the `outcome` label of `zipper_origin_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OriginOutcome {
    /// A 2xx answer.
    Ok,
    /// A 3xx answer (a redirect hop).
    Redirect,
    /// A 4xx answer.
    ClientError,
    /// A 5xx answer (or another status).
    ServerError,
    /// No answer: connect, TLS, reset or timeout.
    Error,
}

impl OriginOutcome {
    /// The outcome of an answer with `status`.
    pub fn of_status(status: u16) -> OriginOutcome {
        match status {
            200..=299 => OriginOutcome::Ok,
            300..=399 => OriginOutcome::Redirect,
            400..=499 => OriginOutcome::ClientError,
            _ => OriginOutcome::ServerError,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            OriginOutcome::Ok => "ok",
            OriginOutcome::Redirect => "redirect",
            OriginOutcome::ClientError => "client_error",
            OriginOutcome::ServerError => "server_error",
            OriginOutcome::Error => "error",
        }
    }
}

/// Where a download failed (the `stage` label of `zipper_downloads_failed_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Before the first archive byte: the client got a JSON error.
    Head,
    /// After it: the response was aborted.
    Body,
}

impl Stage {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Head => "head",
            Stage::Body => "body",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FailureLabels {
    cause: &'static str,
    stage: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OriginLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// The CRC cache's figures, read at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheFigures {
    /// CRCs held.
    pub entries: u64,
    /// Look-ups that found a CRC.
    pub hits: u64,
    /// Look-ups that found none.
    pub misses: u64,
    /// CRCs dropped to make room.
    pub evictions: u64,
}

/// What is read when scraped rather than counted on the way; the server passes closures over its budget
/// and cache (this module does not know them).
pub struct Sampled {
    /// Memory budget bytes reserved or borrowed now.
    pub budget_in_use: Box<dyn Fn() -> u64 + Send + Sync>,
    /// The memory budget's size in bytes.
    pub budget_limit: Box<dyn Fn() -> u64 + Send + Sync>,
    /// The CRC cache's figures.
    pub crc_cache: Box<dyn Fn() -> CacheFigures + Send + Sync>,
}

impl Default for Sampled {
    /// Zeros (an origin client or a test without a server).
    fn default() -> Self {
        Sampled {
            budget_in_use: Box::new(|| 0),
            budget_limit: Box::new(|| 0),
            crc_cache: Box::new(CacheFigures::default),
        }
    }
}

impl std::fmt::Debug for Sampled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampled").finish_non_exhaustive()
    }
}

impl Collector for Sampled {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauges = [
            (
                "zipper_memory_budget_bytes_in_use",
                "Bytes of the memory budget reserved or borrowed by downloads now",
                (self.budget_in_use)(),
            ),
            (
                "zipper_memory_budget_bytes_limit",
                "The memory budget (memory_budget_bytes)",
                (self.budget_limit)(),
            ),
        ];
        let cache = (self.crc_cache)();
        for (name, help, value) in gauges.into_iter().chain([(
            "zipper_crc_cache_entries",
            "CRC-32s held by the in-process CRC cache",
            cache.entries,
        )]) {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let counters = [
            (
                "zipper_crc_cache_hits",
                "CRC cache look-ups that found the CRC a resume needed",
                cache.hits,
            ),
            (
                "zipper_crc_cache_misses",
                "CRC cache look-ups that found nothing",
                cache.misses,
            ),
            (
                "zipper_crc_cache_evictions",
                "CRCs dropped from the CRC cache to make room (crc_cache_entries)",
                cache.evictions,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// The registry and its metrics. Counters are cheap to bump from any task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Download requests received (valid or not).
    pub requests: Counter,
    /// Downloads currently streaming.
    pub active_downloads: Gauge,
    /// Downloads whose archive was sent completely.
    pub completed: Counter,
    failed: Family<FailureLabels, Counter>,
    /// Downloads the client went away from.
    pub cancelled: Counter,
    /// Requests refused with `503 overloaded`.
    pub overloaded: Counter,
    error_responses: Family<CodeLabels, Counter>,
    /// Archive bytes sent to clients.
    pub bytes_sent: Counter,
    /// Range requests answered with 206.
    pub partial_responses: Counter,
    /// Completion reports delivered (a 2xx answer).
    pub reports_sent: Counter,
    /// Completion report attempts repeated after a connect error, a timeout or a 5xx.
    pub reports_retried: Counter,
    /// Completion reports given up (retries spent, another status, or refused by the guard).
    pub reports_failed: Counter,
    /// Completion reports dropped unsent (queue full, or still queued when shutdown's deadline came).
    pub reports_dropped: Counter,
    /// Resumes whose manifest came from a cache (in-process or shared) instead of the origin.
    pub manifest_cache_hits: Counter,
    /// Values found (and verified) in the shared cache.
    pub shared_cache_hits: Counter,
    /// Values looked up in the shared cache and not found (or not verified).
    pub shared_cache_misses: Counter,
    /// Shared-cache operations that failed (connect, timeout, error); each opens the breaker.
    pub shared_cache_errors: Counter,
    /// Shared-cache operations skipped: breaker open, a connection attempt running, write queue full.
    pub shared_cache_skipped: Counter,
    origin_requests: Family<OriginLabels, Counter>,
    origin_retries: Family<KindLabels, Counter>,
    manifest_fetch: Histogram,
    first_byte: Histogram,
    duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(Sampled::default())
    }
}

/// Histogram buckets from 5 ms to ~41 s (doubling).
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.005, 2.0, 14)
}

impl Metrics {
    /// A registry with every metric at zero, reading `sampled` when scraped.
    pub fn new(sampled: Sampled) -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            requests: Counter::default(),
            active_downloads: Gauge::default(),
            completed: Counter::default(),
            failed: Family::default(),
            cancelled: Counter::default(),
            overloaded: Counter::default(),
            error_responses: Family::default(),
            bytes_sent: Counter::default(),
            partial_responses: Counter::default(),
            reports_sent: Counter::default(),
            reports_retried: Counter::default(),
            reports_failed: Counter::default(),
            reports_dropped: Counter::default(),
            manifest_cache_hits: Counter::default(),
            shared_cache_hits: Counter::default(),
            shared_cache_misses: Counter::default(),
            shared_cache_errors: Counter::default(),
            shared_cache_skipped: Counter::default(),
            origin_requests: Family::default(),
            origin_retries: Family::default(),
            manifest_fetch: Histogram::new(latency_buckets()),
            first_byte: Histogram::new(latency_buckets()),
            // 10 ms to ~5.8 h (quadrupling).
            duration: Histogram::new(exponential_buckets(0.01, 4.0, 12)),
            registry: Registry::default(),
        };
        // Names without `_total`: the encoder adds it to counters.
        let r = &mut registry;
        r.register(
            "zipper_requests",
            "Download requests received",
            m.requests.clone(),
        );
        r.register(
            "zipper_active_downloads",
            "Downloads currently streaming",
            m.active_downloads.clone(),
        );
        r.register(
            "zipper_downloads_completed",
            "Archives (or ranges of them) sent completely",
            m.completed.clone(),
        );
        r.register(
            "zipper_downloads_failed",
            "Admitted downloads that failed, by cause (an error code) and stage (head: a JSON error before the first byte; body: the response was aborted)",
            m.failed.clone(),
        );
        r.register(
            "zipper_downloads_cancelled",
            "Downloads the client abandoned",
            m.cancelled.clone(),
        );
        r.register(
            "zipper_overloaded",
            "Requests refused with 503 overloaded",
            m.overloaded.clone(),
        );
        r.register(
            "zipper_error_responses",
            "Error responses sent before any archive byte, by error code",
            m.error_responses.clone(),
        );
        r.register(
            "zipper_bytes_sent",
            "Archive bytes sent to clients",
            m.bytes_sent.clone(),
        );
        r.register(
            "zipper_partial_responses",
            "Range requests answered with 206",
            m.partial_responses.clone(),
        );
        r.register(
            "zipper_reports_sent",
            "Completion reports delivered",
            m.reports_sent.clone(),
        );
        r.register(
            "zipper_reports_retried",
            "Completion report attempts repeated after a connect error, timeout or 5xx",
            m.reports_retried.clone(),
        );
        r.register(
            "zipper_reports_failed",
            "Completion reports given up after the retries, another status or a refusal",
            m.reports_failed.clone(),
        );
        r.register(
            "zipper_reports_dropped",
            "Completion reports dropped unsent: queue full or shutdown deadline",
            m.reports_dropped.clone(),
        );
        r.register(
            "zipper_manifest_cache_hits",
            "Resumes whose manifest came from a cache instead of the origin",
            m.manifest_cache_hits.clone(),
        );
        r.register(
            "zipper_shared_cache_hits",
            "Values found in the shared (Redis) cache",
            m.shared_cache_hits.clone(),
        );
        r.register(
            "zipper_shared_cache_misses",
            "Values looked up in the shared (Redis) cache and not found",
            m.shared_cache_misses.clone(),
        );
        r.register(
            "zipper_shared_cache_errors",
            "Shared-cache operations that failed (each opens the circuit breaker)",
            m.shared_cache_errors.clone(),
        );
        r.register(
            "zipper_shared_cache_skipped",
            "Shared-cache operations skipped (breaker open, connecting, write queue full)",
            m.shared_cache_skipped.clone(),
        );
        r.register(
            "zipper_origin_requests",
            "HTTP requests sent to origins (each redirect hop and retry counts), by kind (manifest, file, range, crc) and outcome (ok, redirect, client_error, server_error, error)",
            m.origin_requests.clone(),
        );
        r.register(
            "zipper_origin_retries",
            "Origin fetches tried again after a transient failure, by kind",
            m.origin_retries.clone(),
        );
        r.register(
            "zipper_manifest_fetch_seconds",
            "Time to fetch a manifest, retries included (failed fetches too)",
            m.manifest_fetch.clone(),
        );
        r.register(
            "zipper_time_to_first_byte_seconds",
            "Time from a download request to its first archive byte",
            m.first_byte.clone(),
        );
        r.register(
            "zipper_download_duration_seconds",
            "Time from a download request to its end, for admitted downloads of every outcome",
            m.duration.clone(),
        );
        registry.register_collector(Box::new(sampled));
        Metrics { registry, ..m }
    }

    /// Adds one to a counter.
    pub fn inc(counter: &Counter) {
        counter.inc();
    }

    /// Counts an error response with contract code `code`.
    pub fn error_response(&self, code: &'static str) {
        self.error_responses
            .get_or_create(&CodeLabels { code })
            .inc();
    }

    /// Counts a failed download.
    pub fn failed(&self, cause: &'static str, stage: Stage) {
        self.failed
            .get_or_create(&FailureLabels {
                cause,
                stage: stage.as_str(),
            })
            .inc();
    }

    /// Counts one origin request.
    pub fn origin_request(&self, kind: OriginKind, outcome: OriginOutcome) {
        self.origin_requests
            .get_or_create(&OriginLabels {
                kind: kind.as_str(),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Counts one retry of an origin fetch.
    pub fn origin_retry(&self, kind: OriginKind) {
        self.origin_retries
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// Records how long a manifest fetch took.
    pub fn manifest_fetched(&self, took: Duration) {
        self.manifest_fetch.observe(took.as_secs_f64());
    }

    /// Records a download's time to its first byte.
    pub fn first_byte(&self, took: Duration) {
        self.first_byte.observe(took.as_secs_f64());
    }

    /// Records an admitted download's whole duration.
    pub fn download_ended(&self, took: Duration) {
        self.duration.observe(took.as_secs_f64());
    }

    /// Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// A handle that counts into a registry nobody scrapes (origin clients built outside a server).
pub fn unscraped() -> Arc<Metrics> {
    Arc::new(Metrics::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new(Sampled {
            budget_in_use: Box::new(|| 65536),
            budget_limit: Box::new(|| 1 << 20),
            crc_cache: Box::new(|| CacheFigures {
                entries: 3,
                hits: 2,
                misses: 1,
                evictions: 0,
            }),
        });
        Metrics::inc(&m.requests);
        Metrics::inc(&m.requests);
        m.failed("file_unavailable", Stage::Body);
        m.origin_request(OriginKind::Range, OriginOutcome::of_status(206));
        m.first_byte(Duration::from_millis(7));
        let text = m.render();
        assert!(
            text.contains("# TYPE zipper_requests_total counter\nzipper_requests_total 2\n"),
            "{text}"
        );
        assert!(text.contains("zipper_active_downloads 0\n"), "{text}");
        assert!(text.contains(
            "zipper_downloads_failed_total{cause=\"file_unavailable\",stage=\"body\"} 1\n"
        ));
        assert!(text.contains("zipper_origin_requests_total{kind=\"range\",outcome=\"ok\"} 1\n"));
        assert!(text.contains("zipper_time_to_first_byte_seconds_count 1\n"));
        assert!(text.contains("zipper_time_to_first_byte_seconds_bucket{le=\"0.01\"} 1\n"));
        assert!(text.contains("zipper_memory_budget_bytes_in_use 65536\n"));
        assert!(text.contains("zipper_memory_budget_bytes_limit 1048576\n"));
        assert!(text.contains("zipper_crc_cache_hits_total 2\n"));
        assert!(text.contains("# HELP zipper_crc_cache_misses_total "));
    }
}
