//! Raw request paths and (callback, file name) pairs through the link parser and verifier
//! (`fuzz/fuzz_targets/link.rs`).

use crate::core::keys::{KeyId, KeySet};
use crate::core::link::{
    build_link_path, encode_segment, parse_path, sign_callback, verify, LinkPolicy,
    DEFAULT_MAX_AGE_SECS, DEFAULT_SKEW_SECS,
};
use crate::error::{Code, HasCode};

/// Fuzz entry point (`fuzz/fuzz_targets/link.rs`). Panics if an invariant breaks; that is its purpose.
///
/// The first byte picks a mode. Even: the rest is a raw request path; parsing must not panic, errors must
/// be `not_found`/`bad_link`, an accepted path must re-encode to an equal request, and a path that verifies
/// must re-sign to the same signature. Odd: the rest is `callback NUL filename`; the link zipper builds for
/// them must verify with exactly that callback and name, or be refused as `bad_link`.
pub fn fuzz_link(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let keys = match KeySet::from_pairs([("0", "zipper-test-secret"), ("k1", "another-secret")]) {
        Ok(keys) => keys,
        Err(e) => panic!("fixed fuzz keys are valid: {e}"),
    };
    let policy = LinkPolicy {
        max_age_secs: DEFAULT_MAX_AGE_SECS,
        skew_secs: DEFAULT_SKEW_SECS,
    };
    if mode % 2 == 0 {
        if let Ok(raw) = std::str::from_utf8(rest) {
            fuzz_raw_path(raw, &keys, &policy);
        }
    } else {
        let text = String::from_utf8_lossy(rest);
        let (callback, filename) = text.split_once('\0').unwrap_or((&text, "a.zip"));
        fuzz_own_link(callback, filename, &keys, &policy);
    }
}

fn fuzz_raw_path(raw: &str, keys: &KeySet, policy: &LinkPolicy) {
    let link = match parse_path(raw) {
        Ok(link) => link,
        Err(e) => {
            assert!(
                matches!(e.code(), Code::NotFound | Code::BadLink),
                "parse_path gave {:?} for {raw:?}",
                e.code()
            );
            return;
        }
    };
    let canonical = format!(
        "/{}/{}/{}/{}",
        encode_segment(link.key_id()),
        encode_segment(link.callback()),
        link.signature_text(),
        encode_segment(link.filename())
    );
    assert_eq!(parse_path(&canonical).as_ref(), Ok(&link), "{raw:?}");
    match verify(&link, keys, link.timestamp(), policy) {
        Ok(verified) => {
            let Some(secret) = keys.get(verified.key_id()) else {
                panic!("verified under a key that is not in the set: {raw:?}");
            };
            assert_eq!(
                sign_callback(secret, verified.callback()),
                link.signature_text()
            );
        }
        Err(e) => assert!(
            matches!(e.code(), Code::UnknownKey | Code::BadSignature),
            "at its own timestamp a link fails only on key or signature, got {e:?}"
        ),
    }
}

fn fuzz_own_link(callback: &str, filename: &str, keys: &KeySet, policy: &LinkPolicy) {
    let (Ok(key_id), Some(secret)) = (KeyId::parse("0"), keys.get("0")) else {
        panic!("key 0 is in the fuzz key set");
    };
    let path = build_link_path(&key_id, secret, callback, filename);
    match parse_path(&path) {
        Ok(link) => {
            assert_eq!(link.callback(), callback);
            assert_eq!(link.filename(), filename);
            match verify(&link, keys, link.timestamp(), policy) {
                Ok(verified) => {
                    assert_eq!(verified.callback(), callback);
                    assert_eq!(verified.filename(), filename);
                }
                Err(e) => panic!("zipper refused its own link {path:?}: {e}"),
            }
        }
        Err(e) => assert_eq!(e.code(), Code::BadLink, "{path:?}: {e}"),
    }
}
