//! What can be wrong with a link: [`LinkError`], with the contract's code for each (docs/contract.md,
//! Failures), and the [`Segment`] it names. Messages help the developer who built the link; they never
//! contain a secret or the expected signature.

use std::fmt;

use crate::error::{Code, HasCode};

/// The four segments of a link, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// `{key_id}`
    KeyId,
    /// `{callback}`
    Callback,
    /// `{signature}`
    Signature,
    /// `{filename}`
    Filename,
}

/// Why a link is refused. [`HasCode`] gives the contract code; `Display` is the message for the origin
/// developer and never contains a secret or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The path does not have the link's four segments (`404 not_found`).
    #[error(
        "no such route: a download link has 4 path segments, \
         /{{key_id}}/{{callback}}/{{signature}}/{{filename}}, and this path has {segments}"
    )]
    NotFound {
        /// How many segments the path has (0 if it does not start with `/`).
        segments: usize,
    },
    /// A `%` not followed by two hex digits.
    #[error(
        "bad percent-encoding in the {segment} segment at byte {offset}: '%' must be followed by two hex digits"
    )]
    BadEscape {
        /// The segment.
        segment: Segment,
        /// Byte offset of the `%` in the raw segment.
        offset: usize,
    },
    /// The decoded segment is not UTF-8.
    #[error("the {segment} segment does not decode to UTF-8 text (percent-encode the UTF-8 bytes of the text)")]
    NotUtf8 {
        /// The segment.
        segment: Segment,
    },
    /// The key id is not 1–32 characters of `[A-Za-z0-9_-]`.
    #[error(
        "invalid key id {key_id:?}: a key id is 1 to 32 characters of A-Z, a-z, 0-9, '_' and '-'"
    )]
    BadKeyId {
        /// The decoded key id (truncated).
        key_id: String,
    },
    /// The callback contains a space or a control character.
    #[error(
        "the callback URL contains a space or a control character; percent-encode it inside the URL before signing"
    )]
    CallbackHasControl,
    /// The callback is not an absolute URL.
    #[error("the callback is not an absolute URL: {reason}")]
    CallbackNotUrl {
        /// What the URL parser said.
        reason: String,
    },
    /// The callback's scheme is not http or https.
    #[error("the callback URL's scheme is {scheme:?}; only http and https are allowed")]
    CallbackScheme {
        /// The scheme found.
        scheme: String,
    },
    /// The callback's query has no `timestamp`.
    #[error("the callback URL's query has no timestamp=<unix seconds> parameter")]
    MissingTimestamp,
    /// The callback's query has several `timestamp` parameters.
    #[error("the callback URL's query has {count} timestamp parameters; exactly one is allowed")]
    DuplicateTimestamp {
        /// How many there are.
        count: usize,
    },
    /// The `timestamp` is not a decimal integer.
    #[error("the callback URL's timestamp {value:?} is not a decimal integer of unix seconds")]
    TimestampNotInteger {
        /// The value found (truncated).
        value: String,
    },
    /// The signature segment is not 43 characters of canonical base64url.
    #[error(
        "the signature segment {detail}; a signature is 43 characters of base64url without padding \
         (the HMAC-SHA256 of the callback URL)"
    )]
    BadSignatureEncoding {
        /// What is wrong with it.
        detail: String,
    },
    /// The file name does not end in `.zip`.
    #[error("the file name {filename:?} does not end in .zip")]
    NotZip {
        /// The decoded file name (truncated).
        filename: String,
    },
    /// No configured key has this id (`403 unknown_key`).
    #[error(
        "unknown key id {key_id:?}: this zipper has no secret with that id (not configured, or retired)"
    )]
    UnknownKey {
        /// The key id of the link.
        key_id: String,
    },
    /// The signature does not match (`403 bad_signature`).
    #[error(
        "the signature does not match the callback URL under key id {key_id:?}: sign the exact decoded \
         callback URL, timestamp included, with HMAC-SHA256 and that key's secret, and encode it as \
         base64url without padding"
    )]
    BadSignature {
        /// The key id of the link.
        key_id: String,
    },
    /// The link is older than the allowed age (`410 link_expired`).
    #[error(
        "link expired: its timestamp {timestamp} is {age_secs} s old and links are valid for \
         {max_age_secs} s; ask the origin for a new link"
    )]
    LinkExpired {
        /// The link's timestamp.
        timestamp: i64,
        /// `now - timestamp`.
        age_secs: i64,
        /// The allowed age.
        max_age_secs: u64,
    },
    /// The link's timestamp is too far in the future (`403 bad_timestamp`).
    #[error(
        "the link's timestamp {timestamp} is {ahead_secs} s in the future and at most {skew_secs} s \
         of clock skew is allowed; check the origin's clock"
    )]
    TimestampInFuture {
        /// The link's timestamp.
        timestamp: i64,
        /// `timestamp - now`.
        ahead_secs: i64,
        /// The allowed skew.
        skew_secs: u64,
    },
}

// === impl Segment ===

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::KeyId => "key_id",
            Segment::Callback => "callback",
            Segment::Signature => "signature",
            Segment::Filename => "filename",
        })
    }
}

// === impl LinkError ===

impl HasCode for LinkError {
    fn code(&self) -> Code {
        match self {
            LinkError::NotFound { .. } => Code::NotFound,
            LinkError::UnknownKey { .. } => Code::UnknownKey,
            LinkError::BadSignature { .. } => Code::BadSignature,
            LinkError::LinkExpired { .. } => Code::LinkExpired,
            LinkError::TimestampInFuture { .. } => Code::BadTimestamp,
            LinkError::BadEscape { .. }
            | LinkError::NotUtf8 { .. }
            | LinkError::BadKeyId { .. }
            | LinkError::CallbackHasControl
            | LinkError::CallbackNotUrl { .. }
            | LinkError::CallbackScheme { .. }
            | LinkError::MissingTimestamp
            | LinkError::DuplicateTimestamp { .. }
            | LinkError::TimestampNotInteger { .. }
            | LinkError::BadSignatureEncoding { .. }
            | LinkError::NotZip { .. } => Code::BadLink,
        }
    }
}
