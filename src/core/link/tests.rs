//! Tests of the link module: the test vector (docs/contract.md, Signature), every error code with its status,
//! and round trips.

use proptest::prelude::*;

use super::*;
use crate::core::fuzzing::fuzz_link;
use crate::error::to_response_parts;
use crate::error::{Code, HasCode};

const SECRET: &str = "zipper-test-secret";
const CALLBACK: &str = "https://localhost:5001/api/v1/downloads/92870627-ed07-4a13-a020-51e9c0a9f3e1/zip?timestamp=1554674400";
const SIGNATURE: &str = "yEEhWeZZ1BxbU90HbZrMuPTgn42iCrG7pZpi9MB7cEo";
const LINK: &str = "/0/https%3A%2F%2Flocalhost%3A5001%2Fapi%2Fv1%2Fdownloads%2F92870627-ed07-4a13-a020-51e9c0a9f3e1%2Fzip%3Ftimestamp%3D1554674400/yEEhWeZZ1BxbU90HbZrMuPTgn42iCrG7pZpi9MB7cEo/zip.zip";
const TS: i64 = 1_554_674_400;
const POLICY: LinkPolicy = LinkPolicy {
    max_age_secs: 86_400,
    skew_secs: 300,
};

fn keys() -> KeySet {
    KeySet::from_pairs([("0", SECRET), ("k2", "second-secret")]).unwrap()
}

fn secret(id: &str) -> Secret {
    keys().get(id).unwrap().clone()
}

/// A link for `callback` signed with the secret of `signer` but naming key id `key_id`.
fn link_with(key_id: &str, signer: &str, callback: &str, filename: &str) -> String {
    format!(
        "/{}/{}/{}/{}",
        key_id,
        encode_segment(callback),
        sign_callback(&secret(signer), callback),
        encode_segment(filename)
    )
}

fn link(callback: &str) -> String {
    link_with("0", "0", callback, "zip.zip")
}

fn check(path: &str, now: i64) -> Result<VerifiedLink, LinkError> {
    verify(&parse_path(path)?, &keys(), now, &POLICY)
}

#[test]
fn test_vector_signs_builds_and_verifies() {
    assert_eq!(sign_callback(&secret("0"), CALLBACK), SIGNATURE);
    let key_id = KeyId::parse("0").unwrap();
    assert_eq!(
        build_link_path(&key_id, &secret("0"), CALLBACK, "zip.zip"),
        LINK
    );
    let verified = check(LINK, TS).unwrap();
    assert_eq!(verified.key_id(), "0");
    assert_eq!(verified.callback(), CALLBACK);
    assert_eq!(verified.timestamp(), TS);
    assert_eq!(verified.filename(), "zip.zip");
    assert_eq!(parse_path(LINK).unwrap().signature_text(), SIGNATURE);
}

#[test]
fn manifest_request_signature_matches_an_independent_hmac() {
    // Computed with Python's hmac: base64url(HMAC-SHA256(secret, "1554674460\n" + CALLBACK)) without '='.
    assert_eq!(
        manifest_request_signature(&secret("0"), 1_554_674_460, CALLBACK),
        "5rRqW32oBv0puUB_Qmssw59CthVKs21QQlvC14paMYA"
    );
}

/// A table row: name, raw path, `now`, and the expected `(code, status)` or `None` for success.
type Case = (&'static str, String, i64, Option<(&'static str, u16)>);

#[test]
fn every_error_code_has_its_status() {
    let cb = |query: &str| format!("https://origin.example/dl?{query}");
    let ok = link(&cb("timestamp=1554674400"));
    let sig_of_ok = sign_callback(&secret("0"), &cb("timestamp=1554674400"));
    let replace_sig = |new: &str| ok.replace(&sig_of_ok, new);
    let truncated = replace_sig(&sig_of_ok[..42]);
    // The last character of a 43-character signature carries 4 bits; 'B' sets a bit that is not part of it.
    let non_canonical = format!("{}B", &sig_of_ok[..42]);
    let tampered = ok.replace("1554674400", "1554674401");
    let max_age = POLICY.max_age_secs as i64;
    let skew = POLICY.skew_secs as i64;

    let cases: Vec<Case> = vec![
        ("the test vector", LINK.into(), TS, None),
        (
            "no leading slash",
            "0/a/b/c.zip".into(),
            TS,
            Some(("not_found", 404)),
        ),
        ("empty path", "".into(), TS, Some(("not_found", 404))),
        ("root", "/".into(), TS, Some(("not_found", 404))),
        ("3 segments", "/0/a/b".into(), TS, Some(("not_found", 404))),
        (
            "5 segments",
            format!("{ok}/x"),
            TS,
            Some(("not_found", 404)),
        ),
        (
            "trailing slash",
            format!("{ok}/"),
            TS,
            Some(("not_found", 404)),
        ),
        (
            "empty key id",
            ok.replacen("/0/", "//", 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "key id with a dot",
            ok.replacen("/0/", "/a.b/", 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "33-char key id",
            ok.replacen("/0/", &format!("/{}/", "k".repeat(33)), 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "%zz escape",
            ok.replacen("https%3A", "https%zz", 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "truncated escape",
            ok.replacen("zip.zip", "zip.zip%4", 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "%C3%28 is not UTF-8",
            ok.replacen("dl%3F", "dl%C3%28%3F", 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "non-UTF-8 file name",
            ok.replacen("zip.zip", "%FF.zip", 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "ftp callback",
            link("ftp://origin.example/dl?timestamp=1554674400"),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "javascript callback",
            link("javascript:alert(1)?timestamp=1554674400"),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "relative callback",
            link("/dl?timestamp=1554674400"),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "tab in callback",
            link("https://origin.example/d\tl?timestamp=1554674400"),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "missing timestamp",
            link(&cb("id=7")),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "timestamp in the fragment",
            link("https://o.example/dl#timestamp=1554674400"),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "duplicate timestamp",
            link(&cb("timestamp=1554674400&timestamp=1554674400")),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "non-numeric timestamp",
            link(&cb("timestamp=soon")),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "empty timestamp",
            link(&cb("timestamp=")),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "negative timestamp",
            link(&cb("timestamp=-5")),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "fractional timestamp",
            link(&cb("timestamp=1554674400.5")),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "overflowing timestamp",
            link(&cb("timestamp=99999999999999999999")),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "truncated signature",
            truncated,
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "padded signature",
            replace_sig(&format!("{sig_of_ok}=")),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "standard base64 signature",
            replace_sig(&format!("+{}", &sig_of_ok[1..])),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "non-canonical signature",
            replace_sig(&non_canonical),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "not .zip",
            ok.replacen("zip.zip", "zip.tar", 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "just zip",
            ok.replacen("zip.zip", "zip", 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            ".ZIP accepted",
            ok.replacen("zip.zip", "ARCHIVE.ZIP", 1),
            TS,
            None,
        ),
        (
            ".Zip accepted",
            ok.replacen("zip.zip", "a%20b.Zip", 1),
            TS,
            None,
        ),
        (
            "unknown key id",
            ok.replacen("/0/", "/nokey/", 1),
            TS,
            Some(("unknown_key", 403)),
        ),
        (
            "signed with another key's secret",
            link_with("k2", "0", &cb("timestamp=1554674400"), "a.zip"),
            TS,
            Some(("bad_signature", 403)),
        ),
        (
            "tampered callback",
            tampered,
            TS,
            Some(("bad_signature", 403)),
        ),
        (
            "one second inside the window",
            ok.clone(),
            TS + max_age,
            None,
        ),
        (
            "one second past the window",
            ok.clone(),
            TS + max_age + 1,
            Some(("link_expired", 410)),
        ),
        ("at the skew limit", ok.clone(), TS - skew, None),
        (
            "beyond the skew",
            ok.clone(),
            TS - skew - 1,
            Some(("bad_timestamp", 403)),
        ),
        // Order: syntax before key, key before signature, signature before time.
        (
            "bad name and unknown key",
            ok.replacen("/0/", "/nokey/", 1).replacen("zip.zip", "x", 1),
            TS,
            Some(("bad_link", 400)),
        ),
        (
            "unknown key and expired",
            ok.replacen("/0/", "/nokey/", 1),
            TS + max_age + 1,
            Some(("unknown_key", 403)),
        ),
        (
            "bad signature and expired",
            link_with("k2", "0", &cb("timestamp=1554674400"), "a.zip"),
            TS + max_age + 1,
            Some(("bad_signature", 403)),
        ),
    ];
    for (name, path, now, expected) in cases {
        let got = check(&path, now);
        match (expected, got) {
            (None, Ok(_)) => {}
            (Some((code, status)), Err(e)) => {
                assert_eq!(e.code().as_str(), code, "{name}: {e}");
                assert_eq!(e.code().status().as_u16(), status, "{name}");
            }
            (expected, got) => panic!("{name}: expected {expected:?}, got {got:?} for {path}"),
        }
    }
}

#[test]
fn unknown_key_bad_signature_and_expiry_are_told_apart_without_secrets() {
    let other = link_with("k2", "0", CALLBACK, "zip.zip");
    let cases = [
        (
            check(&LINK.replacen("/0/", "/old/", 1), TS),
            "unknown_key",
            "unknown key id \"old\"",
        ),
        (check(&other, TS), "bad_signature", "does not match"),
        (check(LINK, TS + 86_401), "link_expired", "link expired"),
        (check(LINK, TS - 301), "bad_timestamp", "in the future"),
    ];
    let k2_signature = sign_callback(&secret("k2"), CALLBACK);
    for (result, code, words) in cases {
        let err = result.unwrap_err();
        let (_, body) = to_response_parts(&err);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], code);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{code}: {message}");
        for secret_text in [SECRET, "second-secret", k2_signature.as_str()] {
            assert!(!message.contains(secret_text), "{code} leaks: {message}");
        }
    }
}

#[test]
fn any_valid_percent_encoding_is_accepted_and_decoded_once() {
    // encodeURIComponent leaves !'()* alone; lower-case hex is valid too.
    let callback = "https://o.example/a(1)!*'?timestamp=1554674400&q=%41";
    let encoded = "https%3a%2f%2fo.example%2fa(1)!*'%3ftimestamp%3d1554674400%26q%3d%2541";
    let path = format!(
        "/0/{encoded}/{}/%C3%A9t%C3%A9.zip",
        sign_callback(&secret("0"), callback)
    );
    let verified = check(&path, TS).unwrap();
    assert_eq!(verified.callback(), callback, "decoded exactly once");
    assert_eq!(verified.filename(), "été.zip");
}

#[test]
fn check_time_saturates_instead_of_overflowing() {
    let wide = LinkPolicy {
        max_age_secs: u64::MAX,
        skew_secs: u64::MAX,
    };
    assert_eq!(check_time(i64::MAX, 0, &wide), Ok(()));
    assert_eq!(check_time(0, i64::MAX, &wide), Ok(()));
    assert!(matches!(
        check_time(i64::MAX, i64::MIN, &POLICY),
        Err(LinkError::TimestampInFuture { .. })
    ));
    assert!(matches!(
        check_time(0, i64::MAX, &POLICY),
        Err(LinkError::LinkExpired { .. })
    ));
}

#[test]
fn fuzz_logic_holds_on_the_test_vector_and_on_odd_inputs() {
    let mut raw = vec![0u8];
    raw.extend_from_slice(LINK.as_bytes());
    fuzz_link(&raw);
    let mut own = vec![1u8];
    own.extend_from_slice(format!("{CALLBACK}\0naïve/\"name\".ZIP").as_bytes());
    fuzz_link(&own);
    for odd in [
        &b""[..],
        b"\0",
        b"\0/%",
        b"\x01",
        b"\x01\0",
        b"\0////",
        b"\x01%zz\0%",
    ] {
        fuzz_link(odd);
    }
}

/// Callbacks zipper must accept: absolute https URLs with arbitrary text in the path and query.
fn valid_callback() -> impl Strategy<Value = (String, i64)> {
    (
        "[a-z]{1,10}(\\.[a-z]{2,5})?(:[0-9]{1,4})?",
        "[^?#\\s\\p{Cc}]{0,24}",
        proptest::collection::vec(("[a-z]{1,5}", "[^#&\\s\\p{Cc}]{0,12}"), 0..3),
        0..=i64::from(u32::MAX) * 4,
    )
        .prop_map(|(host, path, params, ts)| {
            let mut query: String = params.iter().map(|(k, v)| format!("{k}={v}&")).collect();
            query.push_str(&format!("timestamp={ts}"));
            (format!("https://{host}/{path}?{query}"), ts)
        })
}

proptest! {
    #[test]
    fn built_links_parse_and_verify((callback, ts) in valid_callback(), name in any::<String>(), zip in "\\.(zip|ZIP|Zip)") {
        let filename = format!("{name}{zip}");
        let path = build_link_path(&KeyId::parse("k2").unwrap(), &secret("k2"), &callback, &filename);
        let verified = check(&path, ts).map_err(|e| TestCaseError::fail(format!("{path}: {e}")))?;
        prop_assert_eq!(verified.callback(), callback.as_str());
        prop_assert_eq!(verified.filename(), filename.as_str());
        prop_assert_eq!(verified.timestamp(), ts);
        prop_assert_eq!(verified.key_id(), "k2");
        prop_assert!(path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%/".contains(&b)));
    }

    #[test]
    fn arbitrary_text_is_decoded_exactly_or_refused_as_bad_link(callback in any::<String>(), name in any::<String>()) {
        let filename = format!("{name}.zip");
        let path = build_link_path(&KeyId::parse("0").unwrap(), &secret("0"), &callback, &filename);
        match check(&path, 0) {
            Err(e) => prop_assert!(
                matches!(e.code(), Code::BadLink | Code::LinkExpired | Code::BadTimestamp),
                "{}: {}", path, e
            ),
            Ok(v) => {
                prop_assert_eq!(v.callback(), callback.as_str());
                prop_assert_eq!(v.filename(), filename.as_str());
            }
        }
    }

    #[test]
    fn arbitrary_raw_paths_never_panic(raw in "/?([^/]{0,12}/?){0,6}") {
        fuzz_link(&[[0u8].as_slice(), raw.as_bytes()].concat());
        if let Err(e) = parse_path(&raw) {
            prop_assert!(matches!(e.code(), Code::NotFound | Code::BadLink));
        }
    }
}
