//! The completion report of docs/contract.md, Completion reports: [`Report`], what zipper tells an origin app
//! about how one download ended, its JSON body ([`Report::to_json`]) and its signature ([`sign`]).
//!
//! It is pure: the caller passes in what the download knew (times included) and gets bytes out. It owns the
//! report's bounds too: at most [`RENAMED_BUDGET_BYTES`] of renamed names are listed ([`cap_renamed`]; the
//! rest are counted in `renamed_omitted`) and an error message is cut at [`MESSAGE_MAX_BYTES`], so a report
//! stays small whatever the manifest. It must not carry a secret, nor anything from the browser's request
//! but the request id.

use serde::Serialize;

use crate::core::keys::Secret;
use crate::core::link::timed_signature;
use crate::core::manifest::Renamed;

/// The most bytes of renamed paths and names one report lists.
pub const RENAMED_BUDGET_BYTES: usize = 16 * 1024;

/// The longest error message in a report, in bytes.
pub const MESSAGE_MAX_BYTES: usize = 1024;

/// How a download ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every byte of the response was sent.
    Completed,
    /// zipper could not finish the archive correctly (a file failed), before or after the first byte.
    Failed,
    /// The client went away (or stopped taking data) before the end.
    Cancelled,
}

/// The bytes a `206` served: `start` to `end` inclusive, of an archive of `total` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServedRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive, as in `Content-Range`).
    pub end: u64,
    /// The whole archive's length.
    pub total: u64,
}

/// Why a download failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportError {
    /// The contract's error code (`file_unavailable`, `origin_not_allowed`, ...).
    pub code: &'static str,
    /// What went wrong (no secret, no URL query).
    pub message: String,
    /// The archive name of the file that failed, when one did.
    pub path: Option<String>,
}

/// One renamed entry as listed in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenamedEntry {
    /// 0-based index in the manifest's `files`.
    pub index: usize,
    /// The (normalised) path the manifest asked for.
    pub path: String,
    /// The name in the archive.
    pub name: String,
}

/// A completion report. Field order is the JSON's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// How the download ended.
    pub outcome: Outcome,
    /// The request's id (`X-Request-Id`).
    pub request_id: String,
    /// The link's `timestamp`.
    pub link_timestamp: i64,
    /// The download name (`Content-Disposition`).
    pub filename: String,
    /// The response status: 200, 206, or the error status of a download that failed before its first byte.
    pub status: u16,
    /// The range a `206` served, else `None`.
    pub range: Option<ServedRange>,
    /// The response's `Content-Length`, when it had one.
    pub content_length: Option<u64>,
    /// Body bytes sent to the client.
    pub bytes_sent: u64,
    /// Entries in the archive (files and directories).
    pub files: usize,
    /// Entries renamed to make names unique (at most [`RENAMED_BUDGET_BYTES`] of them).
    pub renamed: Vec<RenamedEntry>,
    /// Renamed entries not listed (over the budget).
    pub renamed_omitted: usize,
    /// Why it failed (`failed` only).
    pub error: Option<ReportError>,
    /// When the request arrived, RFC 3339 UTC with milliseconds.
    pub started_at: String,
    /// From the request's arrival to the end of the response, in milliseconds.
    pub duration_ms: u64,
}

impl Report {
    /// The JSON body, as sent and signed.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain strings, numbers and options cannot fail; an empty body would fail the
        // signature check visibly rather than panic.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `X-Zipper-Signature` of a report body sent at `time` (the `X-Zipper-Time` value):
/// `base64url_nopad(HMAC-SHA256(secret, "<time>\n" + body))`, the recipe of the manifest request.
pub fn sign(secret: &Secret, time: i64, body: &[u8]) -> String {
    timed_signature(secret, time, body)
}

/// The renamed entries a report lists: in order, while their paths and names fit in
/// [`RENAMED_BUDGET_BYTES`]; and how many were left out.
pub fn cap_renamed(renamed: Vec<Renamed>) -> (Vec<RenamedEntry>, usize) {
    let total = renamed.len();
    let mut used = 0usize;
    let mut listed = Vec::new();
    for r in renamed {
        used = used.saturating_add(r.path.len() + r.name.len());
        if used > RENAMED_BUDGET_BYTES {
            break;
        }
        listed.push(RenamedEntry {
            index: r.index,
            path: r.path,
            name: r.name,
        });
    }
    let omitted = total - listed.len();
    (listed, omitted)
}

/// `message` cut to at most [`MESSAGE_MAX_BYTES`] bytes, on a character boundary, marked with `…`.
pub fn cap_message(message: &str) -> String {
    if message.len() <= MESSAGE_MAX_BYTES {
        return message.to_owned();
    }
    let mut end = MESSAGE_MAX_BYTES - '…'.len_utf8();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (`2019-04-07T22:00:00.000Z`); out of range: the epoch.
pub fn rfc3339_millis(unix_ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report of docs/reports.md's test vector.
    pub(crate) fn example() -> Report {
        Report {
            outcome: Outcome::Completed,
            request_id: "3f1c0a9e2b7d4e58a6c1f0e9d8b7a6c5".into(),
            link_timestamp: 1_554_674_400,
            filename: "photos.zip".into(),
            status: 200,
            range: None,
            content_length: Some(123_670),
            bytes_sent: 123_670,
            files: 2,
            renamed: vec![RenamedEntry {
                index: 1,
                path: "a.jpg".into(),
                name: "a (1).jpg".into(),
            }],
            renamed_omitted: 0,
            error: None,
            started_at: rfc3339_millis(1_554_674_401_250),
            duration_ms: 830,
        }
    }

    #[test]
    fn the_json_has_every_field_in_order() {
        // The test vector of docs/reports.md, byte for byte (its snippets verify this very file).
        assert_eq!(
            String::from_utf8(example().to_json()).expect("utf-8"),
            include_str!("../../docs/snippets/report-vector.json")
        );
        let failed = Report {
            outcome: Outcome::Failed,
            status: 206,
            range: Some(ServedRange {
                start: 100,
                end: 199,
                total: 1000,
            }),
            error: Some(ReportError {
                code: "file_unavailable",
                message: "origin answered 404".into(),
                path: Some("b.bin".into()),
            }),
            ..example()
        };
        let v: serde_json::Value = serde_json::from_slice(&failed.to_json()).expect("json");
        assert_eq!(v["outcome"], "failed");
        assert_eq!(v["range"]["start"], 100);
        assert_eq!(v["range"]["end"], 199);
        assert_eq!(v["range"]["total"], 1000);
        assert_eq!(v["error"]["code"], "file_unavailable");
        assert_eq!(v["error"]["path"], "b.bin");
    }

    #[test]
    fn the_signature_is_the_manifest_request_recipe_over_the_body() {
        let secret = Secret::new("zipper-test-secret").expect("secret");
        let body = example().to_json();
        let sig = sign(&secret, 1_554_674_402, &body);
        assert_eq!(sig.len(), 43);
        let mut signed = b"1554674402\n".to_vec();
        signed.extend_from_slice(&body);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"zipper-test-secret");
        let expected = ring::hmac::sign(&key, &signed);
        use base64::Engine as _;
        assert_eq!(
            sig,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(expected)
        );
        // The vector documented in docs/reports.md.
        assert_eq!(sig, "canCDXkc9h7BhE8utwiKfuXhiDW6I2ar_g613KWrvT4");
    }

    #[test]
    fn renamed_entries_are_listed_within_the_budget() {
        let r = |index: usize, len: usize| Renamed {
            index,
            path: "p".repeat(len),
            name: "n".repeat(len),
        };
        let (listed, omitted) = cap_renamed(vec![r(0, 10), r(1, 20)]);
        assert_eq!((listed.len(), omitted), (2, 0));
        let big = RENAMED_BUDGET_BYTES / 4;
        let (listed, omitted) = cap_renamed(vec![r(0, big), r(1, big), r(2, big), r(3, 1)]);
        assert_eq!(listed.iter().map(|e| e.index).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(omitted, 2);
        let (listed, omitted) = cap_renamed((0..100_000).map(|i| r(i, 8)).collect());
        assert_eq!(listed.len(), RENAMED_BUDGET_BYTES / 16);
        assert_eq!(listed.len() + omitted, 100_000);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(cap_message("short"), "short");
        let long = "é".repeat(MESSAGE_MAX_BYTES);
        let cut = cap_message(&long);
        assert!(cut.len() <= MESSAGE_MAX_BYTES);
        assert!(cut.ends_with('…'));
        assert!(cut.len() > MESSAGE_MAX_BYTES - 8);
    }

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_554_674_400_007),
            "2019-04-07T22:00:00.007Z"
        );
        assert_eq!(rfc3339_millis(i64::MAX), "1970-01-01T00:00:00.000Z");
    }
}
