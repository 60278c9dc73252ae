//! The signed link of docs/contract.md, Links: `/{key_id}/{callback}/{signature}/{filename}`.
//!
//! Owns parsing a raw request path into a [`LinkRequest`] ([`parse_path`]), checking it against the key set
//! and a given time into a [`VerifiedLink`] ([`verify`]), the inverse for origin apps and the CLI
//! ([`sign_callback`], [`build_link_path`]), the manifest request signature (docs/contract.md, Manifest
//! request) ([`manifest_request_signature`]) and the completion report's, by the same recipe
//! ([`timed_signature`]), and [`LinkError`], whose codes are those of docs/contract.md,
//! Failures.
//!
//! It is pure: no I/O, no clock (callers pass `now`), no tokio. Checks run in the contract's order: route
//! shape (404), segment syntax (400), key (403), signature (403, compared in constant time by ring), time
//! (410 / 403). No error message ever contains a secret or the expected signature.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ring::hmac;

use crate::core::keys::{is_valid_key_id, truncate_for_message, KeyId, KeySet, Secret};
use crate::core::names::has_zip_extension;

mod error;
mod prefix;
pub use error::{LinkError, Segment};
pub use prefix::{PathPrefix, PrefixError};

/// Length of a signature segment: 32 bytes of HMAC-SHA256 in base64url without padding.
pub const SIGNATURE_LEN: usize = 43;

/// Default for how long a link stays valid after its timestamp (24 h).
pub const DEFAULT_MAX_AGE_SECS: u64 = 86_400;

/// Default for how far in the future a link's timestamp may be (5 min).
pub const DEFAULT_SKEW_SECS: u64 = 300;

/// Bytes left as they are when encoding a segment: `A-Za-z0-9-._~`; every other byte becomes `%XX`.
const SEGMENT_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Length in bytes of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// The time window of a valid link: `timestamp - skew_secs <= now <= timestamp + max_age_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkPolicy {
    /// How long a link stays valid after its timestamp.
    pub max_age_secs: u64,
    /// How far the timestamp may be ahead of `now` (clock skew between origin and zipper).
    pub skew_secs: u64,
}

/// A link whose syntax is valid; not yet checked against a key or the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRequest {
    key_id: String,
    callback: String,
    timestamp: i64,
    signature: [u8; TAG_LEN],
    filename: String,
}

/// A link signed by a configured key and inside its time window. Only [`verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLink {
    key_id: String,
    callback: String,
    timestamp: i64,
    filename: String,
}

/// Parses a link from the raw (still percent-encoded) request path, e.g. `uri.path()`, without its query.
///
/// Each segment is percent-decoded exactly once; a bad escape or non-UTF-8 result is `bad_link`. Only
/// syntax is checked here; [`verify`] checks the key, the signature and the time.
pub fn parse_path(raw_path: &str) -> Result<LinkRequest, LinkError> {
    let Some(rest) = raw_path.strip_prefix('/') else {
        return Err(LinkError::NotFound { segments: 0 });
    };
    let mut parts = rest.splitn(5, '/');
    let (Some(raw_key), Some(raw_callback), Some(raw_signature), Some(raw_filename), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(LinkError::NotFound {
            segments: rest.split('/').count(),
        });
    };

    let key_id = decode_segment(raw_key, Segment::KeyId)?;
    if !is_valid_key_id(&key_id) {
        return Err(LinkError::BadKeyId {
            key_id: truncate_for_message(&key_id),
        });
    }
    let callback = decode_segment(raw_callback, Segment::Callback)?;
    let timestamp = check_callback(&callback)?;
    let signature = decode_signature(&decode_segment(raw_signature, Segment::Signature)?)?;
    let filename = decode_segment(raw_filename, Segment::Filename)?;
    if !has_zip_extension(&filename) {
        return Err(LinkError::NotZip {
            filename: truncate_for_message(&filename),
        });
    }
    Ok(LinkRequest {
        key_id,
        callback,
        timestamp,
        signature,
        filename,
    })
}

/// Checks the key, then the signature (constant time), then the time window against `now_unix`.
pub fn verify(
    link: &LinkRequest,
    keys: &KeySet,
    now_unix: i64,
    policy: &LinkPolicy,
) -> Result<VerifiedLink, LinkError> {
    let secret = keys
        .get(&link.key_id)
        .ok_or_else(|| LinkError::UnknownKey {
            key_id: link.key_id.clone(),
        })?;
    hmac::verify(secret.hmac_key(), link.callback.as_bytes(), &link.signature).map_err(|_| {
        LinkError::BadSignature {
            key_id: link.key_id.clone(),
        }
    })?;
    check_time(link.timestamp, now_unix, policy)?;
    Ok(VerifiedLink {
        key_id: link.key_id.clone(),
        callback: link.callback.clone(),
        timestamp: link.timestamp,
        filename: link.filename.clone(),
    })
}

/// Checks `timestamp - skew <= now <= timestamp + max_age`.
pub fn check_time(timestamp: i64, now_unix: i64, policy: &LinkPolicy) -> Result<(), LinkError> {
    let max_age = i64::try_from(policy.max_age_secs).unwrap_or(i64::MAX);
    let skew = i64::try_from(policy.skew_secs).unwrap_or(i64::MAX);
    if now_unix > timestamp.saturating_add(max_age) {
        return Err(LinkError::LinkExpired {
            timestamp,
            age_secs: now_unix.saturating_sub(timestamp),
            max_age_secs: policy.max_age_secs,
        });
    }
    if now_unix < timestamp.saturating_sub(skew) {
        return Err(LinkError::TimestampInFuture {
            timestamp,
            ahead_secs: timestamp.saturating_sub(now_unix),
            skew_secs: policy.skew_secs,
        });
    }
    Ok(())
}

/// The link signature: `base64url_nopad(HMAC-SHA256(secret, callback))`, over the decoded callback's bytes.
pub fn sign_callback(secret: &Secret, callback: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(secret.hmac_key(), callback.as_bytes()))
}

/// The link path `/{key_id}/{callback}/{signature}/{filename}`, with the callback and the file name
/// percent-encoded as [`encode_segment`] does. It does not check the callback: pass the result to
/// [`parse_path`] to learn whether zipper will accept it.
pub fn build_link_path(key_id: &KeyId, secret: &Secret, callback: &str, filename: &str) -> String {
    format!(
        "/{}/{}/{}/{}",
        encode_segment(key_id.as_str()),
        encode_segment(callback),
        sign_callback(secret, callback),
        encode_segment(filename)
    )
}

/// Percent-encodes every byte outside `A-Za-z0-9-._~` as `%XX` (upper-case hex), as origin apps should.
pub fn encode_segment(text: &str) -> String {
    percent_encode(text.as_bytes(), SEGMENT_ENCODE_SET).to_string()
}

/// The `X-Zipper-Signature` of the manifest request (docs/contract.md, Manifest request):
/// `base64url_nopad(HMAC-SHA256(secret, "<time>\n" + callback))`, `time` being the `X-Zipper-Time` value.
pub fn manifest_request_signature(secret: &Secret, time: i64, callback: &str) -> String {
    timed_signature(secret, time, callback.as_bytes())
}

/// The `X-Zipper-Signature` of everything zipper sends to an origin app under a link's key (the manifest
/// request, docs/contract.md, Manifest request; the completion report, Completion reports):
/// `base64url_nopad(HMAC-SHA256(secret, "<time>\n" + payload))`, `time` being the `X-Zipper-Time` value.
pub fn timed_signature(secret: &Secret, time: i64, payload: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(secret.hmac_key());
    ctx.update(time.to_string().as_bytes());
    ctx.update(b"\n");
    ctx.update(payload);
    URL_SAFE_NO_PAD.encode(ctx.sign())
}

/// Decodes `%XX` escapes exactly once; any other byte stays as it is.
fn decode_segment(raw: &str, segment: Segment) -> Result<String, LinkError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|&c| hex_value(c));
            let lo = bytes.get(i + 2).and_then(|&c| hex_value(c));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(LinkError::BadEscape { segment, offset: i });
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| LinkError::NotUtf8 { segment })
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Checks the decoded callback and returns its timestamp.
fn check_callback(callback: &str) -> Result<i64, LinkError> {
    // The URL parser silently drops tabs, newlines and surrounding spaces; the signature covers the exact
    // string, so refuse them rather than fetch a URL other than the one signed.
    if callback.chars().any(|c| c == ' ' || c.is_control()) {
        return Err(LinkError::CallbackHasControl);
    }
    let url = url::Url::parse(callback).map_err(|e| LinkError::CallbackNotUrl {
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(LinkError::CallbackScheme {
            scheme: truncate_for_message(url.scheme()),
        });
    }
    let mut timestamps = url
        .query_pairs()
        .filter(|(name, _)| name == "timestamp")
        .map(|(_, value)| value);
    let (Some(value), None) = (timestamps.next(), timestamps.next()) else {
        let count = url
            .query_pairs()
            .filter(|(name, _)| name == "timestamp")
            .count();
        return Err(if count == 0 {
            LinkError::MissingTimestamp
        } else {
            LinkError::DuplicateTimestamp { count }
        });
    };
    let parsed = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        value.parse::<i64>().ok()
    } else {
        None
    };
    parsed.ok_or_else(|| LinkError::TimestampNotInteger {
        value: truncate_for_message(&value),
    })
}

fn decode_signature(text: &str) -> Result<[u8; TAG_LEN], LinkError> {
    let bad = |detail: String| LinkError::BadSignatureEncoding { detail };
    let len = text.chars().count();
    if len != SIGNATURE_LEN {
        return Err(bad(format!("is {len} characters long")));
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad("has a character outside A-Z a-z 0-9 '-' '_'".into()));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad("is not canonical base64url".into()))?;
    <[u8; TAG_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| bad("does not decode to 32 bytes".into()))
}

// === impl LinkPolicy ===

impl Default for LinkPolicy {
    fn default() -> Self {
        LinkPolicy {
            max_age_secs: DEFAULT_MAX_AGE_SECS,
            skew_secs: DEFAULT_SKEW_SECS,
        }
    }
}

// === impl LinkRequest ===

impl LinkRequest {
    /// The key id (syntax checked, not yet looked up).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The decoded callback URL, exactly as signed.
    pub fn callback(&self) -> &str {
        &self.callback
    }

    /// The callback's `timestamp` (unix seconds).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The decoded file name (ends in `.zip`, not yet sanitised for `Content-Disposition`).
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The signature as it appears in the link (43 characters of base64url).
    pub fn signature_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signature)
    }
}

// === impl VerifiedLink ===

impl VerifiedLink {
    /// The key id whose secret signed the link; the manifest request is signed with the same key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The decoded callback URL, exactly as signed; the manifest is fetched from it.
    pub fn callback(&self) -> &str {
        &self.callback
    }

    /// The callback's `timestamp` (unix seconds); the default `modified` time of the archive's entries.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The decoded file name (ends in `.zip`, not yet sanitised for `Content-Disposition`).
    pub fn filename(&self) -> &str {
        &self.filename
    }
}

#[cfg(test)]
mod tests;
