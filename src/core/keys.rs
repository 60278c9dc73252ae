//! The signing key set: which secret a link's `key_id` names (docs/contract.md, Links).
//!
//! Owns [`KeyId`] (the `[A-Za-z0-9_-]{1,32}` syntax), [`Secret`] (bytes whose `Debug` and `Display` never
//! show them) and [`KeySet`] (several keys at once, so an origin can rotate secrets without breaking live
//! links). It does no I/O: where a secret comes from (a config file, an environment variable, a file) is the
//! config module's business. It must never format a secret's bytes anywhere.

use std::collections::BTreeMap;
use std::fmt;

use ring::hmac;

/// Longest key id the contract allows.
pub const KEY_ID_MAX_LEN: usize = 32;

/// A key id is malformed, a secret is empty, or a key id appears twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key id is not 1–32 characters of `[A-Za-z0-9_-]`.
    #[error("invalid key id {0:?}: a key id is 1 to 32 characters of A-Z, a-z, 0-9, '_' and '-'")]
    BadKeyId(String),
    /// The secret has no bytes.
    #[error("the secret for key id {0:?} is empty")]
    EmptySecret(String),
    /// The same key id was given twice.
    #[error("key id {0:?} is configured twice")]
    DuplicateKeyId(String),
}

/// Whether `id` is 1–32 characters of `[A-Za-z0-9_-]`.
pub fn is_valid_key_id(id: &str) -> bool {
    (1..=KEY_ID_MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A validated key id (`[A-Za-z0-9_-]{1,32}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

/// An HMAC-SHA256 secret. `Debug` and `Display` print `<redacted>`, never the bytes.
#[derive(Clone)]
pub struct Secret {
    bytes: Vec<u8>,
    key: hmac::Key,
}

/// The configured keys, by id. `Debug` lists the ids only.
#[derive(Clone, Default)]
pub struct KeySet {
    /// Keyed by validated key ids (the text of a [`KeyId`]), so lookups take a `&str`.
    keys: BTreeMap<String, Secret>,
}

// === impl KeyId ===

impl KeyId {
    /// Checks the key id syntax.
    pub fn parse(id: &str) -> Result<KeyId, KeyError> {
        if is_valid_key_id(id) {
            Ok(KeyId(id.to_owned()))
        } else {
            Err(KeyError::BadKeyId(truncate_for_message(id)))
        }
    }

    /// The key id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for KeyId {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyId::parse(s)
    }
}

// === impl Secret ===

impl Secret {
    /// A secret made of these bytes, or `None` if there are none.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Secret> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return None;
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
        Some(Secret { bytes, key })
    }

    /// A secret read from a file or an environment variable: one trailing `\n` or `\r\n` (as left by
    /// `echo secret > file`) is removed, nothing else. `None` if nothing remains.
    pub fn from_file_contents(mut bytes: Vec<u8>) -> Option<Secret> {
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Secret::new(bytes)
    }

    /// The HMAC-SHA256 key made from the secret.
    pub fn hmac_key(&self) -> &hmac::Key {
        &self.key
    }

    /// The secret's bytes. Call only to hand them to a signing function, never to print them.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

// === impl KeySet ===

impl KeySet {
    /// An empty key set.
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// Adds a key; a key id may appear once.
    pub fn insert(&mut self, id: KeyId, secret: Secret) -> Result<(), KeyError> {
        if self.keys.contains_key(id.as_str()) {
            return Err(KeyError::DuplicateKeyId(id.0));
        }
        self.keys.insert(id.0, secret);
        Ok(())
    }

    /// A key set from `(id, secret)` text pairs, checking every id and refusing empty secrets and duplicates.
    pub fn from_pairs<'a, I, S>(pairs: I) -> Result<KeySet, KeyError>
    where
        I: IntoIterator<Item = (&'a str, S)>,
        S: Into<Vec<u8>>,
    {
        let mut set = KeySet::new();
        for (id, secret) in pairs {
            let key_id = KeyId::parse(id)?;
            let secret = Secret::new(secret).ok_or_else(|| KeyError::EmptySecret(id.to_owned()))?;
            set.insert(key_id, secret)?;
        }
        Ok(set)
    }

    /// The secret for a key id, if configured.
    pub fn get(&self, id: &str) -> Option<&Secret> {
        self.keys.get(id)
    }

    /// The configured key ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// How many keys are configured.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.keys.iter()).finish()
    }
}

/// At most 64 characters of user input, for error messages.
pub(crate) fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_syntax() {
        for ok in ["0", "a-b_C9", &"x".repeat(32)] {
            assert!(KeyId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", &"x".repeat(33), "a b", "a.b", "é", "a/b", "a%20"] {
            assert_eq!(
                KeyId::parse(bad),
                Err(KeyError::BadKeyId(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn secrets_are_redacted_everywhere() {
        let keys = KeySet::from_pairs([("k1", "hunter2-secret"), ("k2", "other-secret")]).unwrap();
        let secret = keys.get("k1").unwrap();
        for text in [
            format!("{secret:?}"),
            format!("{secret}"),
            format!("{keys:?}"),
            format!("{keys:#?}"),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!text.contains("other-secret"), "{text}");
            assert!(text.contains("redacted"), "{text}");
        }
        assert!(format!("{keys:?}").contains("k2"));
    }

    #[test]
    fn key_set_holds_several_keys_and_refuses_duplicates_and_empty_secrets() {
        let keys = KeySet::from_pairs([("old", "s1"), ("new", "s2")]).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.get("old").unwrap().expose(), b"s1");
        assert_eq!(keys.get("new").unwrap().expose(), b"s2");
        assert!(keys.get("other").is_none());
        assert_eq!(
            KeySet::from_pairs([("a", "s"), ("a", "t")]).unwrap_err(),
            KeyError::DuplicateKeyId("a".into())
        );
        assert_eq!(
            KeySet::from_pairs([("a", "")]).unwrap_err(),
            KeyError::EmptySecret("a".into())
        );
    }

    #[test]
    fn file_contents_lose_one_trailing_newline_only() {
        let s = |b: &[u8]| Secret::from_file_contents(b.to_vec()).map(|s| s.expose().to_vec());
        assert_eq!(s(b"abc\n"), Some(b"abc".to_vec()));
        assert_eq!(s(b"abc\r\n"), Some(b"abc".to_vec()));
        assert_eq!(s(b"abc\n\n"), Some(b"abc\n".to_vec()));
        assert_eq!(s(b" abc "), Some(b" abc ".to_vec()));
        assert_eq!(s(b"\n"), None);
    }

    #[test]
    fn long_input_is_truncated_in_messages() {
        let long = "é".repeat(100);
        let t = truncate_for_message(&long);
        assert_eq!(t.chars().count(), 65);
        assert!(t.ends_with('…'));
    }
}
