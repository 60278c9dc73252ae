//! One download's record: from the moment its link is verified to its end, what the metrics count and
//! the one log line say about it (docs/contract.md, Operations: logs and metrics).
//!
//! A [`DownloadRecord`] is created once the link checks out, moves into the response body when the
//! archive starts, and ends exactly once: [`DownloadRecord::finish`] with an [`Outcome`], or, when it is
//! dropped unfinished (the client went away while the manifest was fetched, or the server dropped the
//! response), as cancelled. Ending counts the outcome and the duration and writes the line
//! `download ended` (target `zipper::download`) with the key id, the callback's host (never its path or
//! query, which carry tokens), the entries, the bytes sent, the duration and the outcome.
//!
//! It decides nothing about the download; it only reports it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::{Metrics, Stage};

/// How a download ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The archive (or the range) was sent completely.
    Completed,
    /// It failed with contract code `cause` (or `client_stalled`), before or after the first byte.
    Failed {
        /// The error code.
        cause: &'static str,
        /// Before or after the first byte.
        stage: Stage,
    },
    /// The client went away (or the server dropped it on shutdown).
    Cancelled,
    /// Refused with `503 overloaded`.
    Overloaded,
}

impl Outcome {
    /// The `outcome` field of the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed { .. } => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Overloaded => "overloaded",
        }
    }
}

/// What is known about one download, reported once at its end.
#[derive(Debug)]
pub struct DownloadRecord {
    metrics: Arc<Metrics>,
    started: Instant,
    key_id: String,
    callback_host: String,
    /// The request id (`X-Request-Id`), once the server has one for the request; absent from the line
    /// until then.
    pub request_id: Option<String>,
    /// Entries in the archive (0 until the manifest is read).
    pub entries: usize,
    /// Whether this answers a `Range` request.
    pub ranged: bool,
    first_byte: bool,
    finished: bool,
}

impl DownloadRecord {
    /// The record of a download that arrived at `started`, signed with `key_id`, for `callback`.
    pub fn new(
        metrics: Arc<Metrics>,
        started: Instant,
        key_id: &str,
        callback: &str,
    ) -> DownloadRecord {
        DownloadRecord {
            metrics,
            started,
            key_id: key_id.to_string(),
            callback_host: callback_host(callback),
            request_id: None,
            entries: 0,
            ranged: false,
            first_byte: false,
            finished: false,
        }
    }

    /// Names the download in warnings: key id and callback host (never a path or a secret).
    pub fn label(&self) -> String {
        format!("{}@{}", self.key_id, self.callback_host)
    }

    /// How long since the request arrived.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Notes the first archive byte handed to the client (once).
    pub fn first_byte(&mut self) {
        if !self.first_byte {
            self.first_byte = true;
            self.metrics.first_byte(self.elapsed());
        }
    }

    /// Ends the download: counts `outcome` and writes its log line. Later calls do nothing.
    pub fn finish(&mut self, outcome: Outcome, bytes: u64) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let took = self.elapsed();
        let m = &self.metrics;
        match outcome {
            Outcome::Completed => Metrics::inc(&m.completed),
            Outcome::Failed { cause, stage } => m.failed(cause, stage),
            Outcome::Cancelled => Metrics::inc(&m.cancelled),
            Outcome::Overloaded => Metrics::inc(&m.overloaded),
        }
        if outcome != Outcome::Overloaded {
            m.download_ended(took);
        }
        let cause = match outcome {
            Outcome::Failed { cause, .. } => Some(cause),
            _ => None,
        };
        tracing::info!(
            target: "zipper::download",
            request_id = self.request_id.as_deref(),
            key_id = %self.key_id,
            callback_host = %self.callback_host,
            entries = self.entries,
            ranged = self.ranged,
            bytes,
            duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            outcome = outcome.as_str(),
            cause,
            "download ended"
        );
    }

    /// Ends it without counting or logging (a `HEAD` answered with the archive's head only).
    pub fn discard(&mut self) {
        self.finished = true;
    }
}

impl Drop for DownloadRecord {
    fn drop(&mut self) {
        self.finish(Outcome::Cancelled, 0);
    }
}

/// The host (and port, when the URL names one) of `callback`: nothing of its path, query or userinfo.
pub fn callback_host(callback: &str) -> String {
    match url::Url::parse(callback) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => String::new(),
        },
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_host_carries_no_path_query_or_credentials() {
        assert_eq!(
            callback_host("https://u:pw@app.example/dl/42?token=secret&timestamp=1"),
            "app.example"
        );
        assert_eq!(
            callback_host("http://127.0.0.1:8081/m/1?timestamp=1"),
            "127.0.0.1:8081"
        );
        assert_eq!(callback_host("http://[::1]:9/x"), "[::1]:9");
        assert_eq!(callback_host("not a url?token=1"), "");
    }

    #[test]
    fn a_record_ends_once_and_a_dropped_one_is_cancelled() {
        let m = Arc::new(Metrics::default());
        let mut r = DownloadRecord::new(Arc::clone(&m), Instant::now(), "k", "http://h/x");
        r.finish(Outcome::Completed, 10);
        r.finish(Outcome::Cancelled, 0);
        drop(r);
        drop(DownloadRecord::new(
            Arc::clone(&m),
            Instant::now(),
            "k",
            "http://h/x",
        ));
        let text = m.render();
        assert!(
            text.contains("zipper_downloads_completed_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("zipper_downloads_cancelled_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("zipper_download_duration_seconds_count 2\n"),
            "{text}"
        );
    }
}
