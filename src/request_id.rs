//! The request id of one download request (docs/contract.md, Request ids): [`RequestId`].
//!
//! A client's `X-Request-Id` is kept when it is 1 to [`MAX_LEN`] characters of `A-Z a-z 0-9 . _ -`; anything
//! else (absent, empty, too long, other characters, not text) is replaced by a fresh random id of 32
//! lower-case hex digits (128 bits from the system's secure random source). The id is echoed in every
//! response, sent to the origin with the manifest and file requests, and named in the completion report.
//!
//! This module owns the syntax and the generation only: it does not read or write headers itself, and it
//! must not log anything.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::rand::{SecureRandom, SystemRandom};

/// The header that carries the id, in requests and responses.
pub const HEADER: &str = "x-request-id";

/// The longest request id kept from a client.
pub const MAX_LEN: usize = 128;

/// A valid request id: 1 to [`MAX_LEN`] characters of `A-Z a-z 0-9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// `text` as a request id, if its syntax is valid.
    pub fn parse(text: &str) -> Option<RequestId> {
        is_valid(text.as_bytes()).then(|| RequestId(text.to_owned()))
    }

    /// The client's id (the raw bytes of its `X-Request-Id`) when valid, else a fresh one.
    pub fn from_header_or_new(value: Option<&[u8]>) -> RequestId {
        match value {
            Some(bytes) if is_valid(bytes) => {
                RequestId(String::from_utf8_lossy(bytes).into_owned())
            }
            _ => RequestId::new_random(),
        }
    }

    /// A fresh id: 32 lower-case hex digits (128 random bits).
    pub fn new_random() -> RequestId {
        let mut raw = [0u8; 16];
        if SystemRandom::new().fill(&mut raw).is_err() {
            // No system randomness (never seen in practice): still unique within the process.
            static FALLBACK: AtomicU64 = AtomicU64::new(1);
            let n = FALLBACK.fetch_add(1, Ordering::Relaxed);
            raw[..8].copy_from_slice(&n.to_be_bytes());
        }
        RequestId(raw.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The id as text (always a valid header value).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `bytes` are 1 to [`MAX_LEN`] characters of `A-Z a-z 0-9 . _ -`.
fn is_valid(bytes: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_client_ids_are_kept() {
        let long = "a".repeat(MAX_LEN);
        for id in [
            "1",
            "abc-DEF_123.x",
            "7f3c2b1a-0000-4000-8000-1234567890ab",
            &long,
        ] {
            assert_eq!(
                RequestId::from_header_or_new(Some(id.as_bytes())).as_str(),
                id
            );
            assert_eq!(RequestId::parse(id).map(|r| r.0), Some(id.to_owned()));
        }
    }

    #[test]
    fn invalid_client_ids_are_replaced() {
        let too_long = "a".repeat(MAX_LEN + 1);
        let bad: [&[u8]; 8] = [
            b"",
            too_long.as_bytes(),
            b"a b",
            b"a/b",
            b"a\r\nb",
            b"id=1;x",
            "é".as_bytes(),
            b"\xff\xfe",
        ];
        for raw in bad {
            let id = RequestId::from_header_or_new(Some(raw));
            assert_ne!(id.as_str().as_bytes(), raw);
            assert!(is_fresh(&id), "{id}");
            assert!(RequestId::parse(&String::from_utf8_lossy(raw)).is_none());
        }
        assert!(is_fresh(&RequestId::from_header_or_new(None)));
    }

    #[test]
    fn fresh_ids_are_128_bit_hex_and_differ() {
        let a = RequestId::new_random();
        let b = RequestId::new_random();
        assert!(is_fresh(&a) && is_fresh(&b));
        assert_ne!(a, b);
        assert!(
            RequestId::parse(a.as_str()).is_some(),
            "a fresh id is valid"
        );
    }

    fn is_fresh(id: &RequestId) -> bool {
        id.as_str().len() == 32
            && id
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}
