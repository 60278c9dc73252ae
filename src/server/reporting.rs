//! A download's completion report from what the download knows (docs/contract.md, Completion reports):
//! [`ReportSeed`] holds what is known once the response head is decided (where to send, the key, the
//! request id, the name, the status, the range, the length, the renames, when it started), and
//! [`ReportSeed::finish`] adds how the body ended ([`BodyEnd`]) and hands the report to the sender.
//!
//! It moves data into [`crate::core::report`] and out to [`crate::report`]; it decides no outcome itself
//! (the body does) and sends nothing itself.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use url::Url;

use crate::core::keys::Secret;
use crate::core::manifest::Renamed;
use crate::core::report::{
    cap_message, cap_renamed, rfc3339_millis, Outcome, RenamedEntry, Report, ReportError,
    ServedRange,
};
use crate::report::{Job, Reports};
use crate::request_id::RequestId;

/// When a request arrived.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// For the duration.
    pub at: Instant,
    /// Wall-clock Unix milliseconds, for `started_at`.
    pub unix_ms: i64,
}

impl Arrival {
    /// Now.
    pub fn now() -> Arrival {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Arrival {
            at: Instant::now(),
            unix_ms,
        }
    }
}

/// How a download's body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyEnd {
    /// Completed, failed or cancelled.
    pub outcome: Outcome,
    /// Body bytes sent.
    pub bytes_sent: u64,
    /// Why it failed (`Failed` only).
    pub error: Option<ReportError>,
}

/// Everything a report needs but the end.
pub struct ReportSeed {
    url: Url,
    secret: Secret,
    request_id: RequestId,
    link_timestamp: i64,
    filename: String,
    files: usize,
    renamed: Vec<RenamedEntry>,
    renamed_omitted: usize,
    arrival: Arrival,
    status: u16,
    range: Option<ServedRange>,
    content_length: Option<u64>,
    reports: Reports,
}

/// What the download route knows when it plans a report.
pub struct SeedParts {
    /// The manifest's `notify_url`, already checked by the guard.
    pub url: Url,
    /// The link's key.
    pub secret: Secret,
    /// The request id.
    pub request_id: RequestId,
    /// The link's timestamp.
    pub link_timestamp: i64,
    /// The download name.
    pub filename: String,
    /// Entries in the archive.
    pub files: usize,
    /// The manifest's renames (capped here).
    pub renamed: Vec<Renamed>,
    /// When the request arrived.
    pub arrival: Arrival,
    /// The sender.
    pub reports: Reports,
}

impl ReportSeed {
    /// A seed for a `200` with `content_length` (until [`ReportSeed::served`] says otherwise).
    pub fn new(parts: SeedParts, content_length: Option<u64>) -> ReportSeed {
        let (renamed, renamed_omitted) = cap_renamed(parts.renamed);
        ReportSeed {
            url: parts.url,
            secret: parts.secret,
            request_id: parts.request_id,
            link_timestamp: parts.link_timestamp,
            filename: parts.filename,
            files: parts.files,
            renamed,
            renamed_omitted,
            arrival: parts.arrival,
            status: 200,
            range: None,
            content_length,
            reports: parts.reports,
        }
    }

    /// The response is a `206` of `range` (`Content-Length` = its length).
    pub fn served(&mut self, range: ServedRange) {
        self.status = 206;
        self.range = Some(range);
        self.content_length = Some(range.end - range.start + 1);
    }

    /// The download failed before its first byte with `status` (a JSON error response, no body sent).
    pub fn refused(self, status: u16, error: ReportError) {
        let mut seed = self;
        seed.status = status;
        seed.content_length = None;
        seed.finish(BodyEnd {
            outcome: Outcome::Failed,
            bytes_sent: 0,
            error: Some(error),
        });
    }

    /// Builds the report from `end` and queues it.
    pub fn finish(self, end: BodyEnd) {
        let error = match end.outcome {
            Outcome::Failed => end.error.map(|e| ReportError {
                message: cap_message(&e.message),
                ..e
            }),
            Outcome::Completed | Outcome::Cancelled => None,
        };
        let report = Report {
            outcome: end.outcome,
            request_id: self.request_id.as_str().to_owned(),
            link_timestamp: self.link_timestamp,
            filename: self.filename,
            status: self.status,
            range: self.range,
            content_length: self.content_length,
            bytes_sent: end.bytes_sent,
            files: self.files,
            renamed: self.renamed,
            renamed_omitted: self.renamed_omitted,
            error,
            started_at: rfc3339_millis(self.arrival.unix_ms),
            duration_ms: u64::try_from(self.arrival.at.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        self.reports.submit(Job {
            url: self.url,
            secret: self.secret,
            request_id: self.request_id.as_str().to_owned(),
            body: Bytes::from(report.to_json()),
        });
    }
}
