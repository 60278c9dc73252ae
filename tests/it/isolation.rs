//! Nothing leaks between origin apps (issue 11, docs/contract.md, Responses and Safety), through the real server: a CRC learnt
//! with one manifest's credentials or under one signing key never serves another's request, and the ETag
//! survives origins that pre-sign file URLs on every manifest fetch.

use serde_json::{json, Value};
use zipper::core::keys::{KeyId, Secret};
use zipper::core::link::build_link_path;
use zipper::demo::{generated_crc32, Demo};

use crate::server::{error_code, get, now, start, start_with};

/// The second origin app's key.
const KEY_B: &str = "app-b";
const SECRET_B: &str = "another-apps-secret-0123456789";

/// A signed link for `manifest` under key `KEY_B` (registered at the same demo origin).
fn link_b(demo: &Demo, manifest: &Value, ts: i64) -> String {
    let path = demo.origin.add_manifest(manifest.clone());
    let callback = demo.origin.url(&format!("{path}?timestamp={ts}"));
    let id = KeyId::parse(KEY_B).expect("key id");
    let secret = Secret::new(SECRET_B).expect("secret");
    format!(
        "http://{}{}",
        demo.server.public_addr,
        build_link_path(&id, &secret, &callback, "b.zip")
    )
}

/// Two apps; files without CRCs keep their data descriptors (inline CRC mode off), so the central directory
/// alone shows whether a CRC leaked (the mode's own range reads are tested in `inline_crc`).
async fn start_two_apps() -> Demo {
    start_with(|c| {
        c.inline_crc_max_bytes = 0;
        let id = KeyId::parse(KEY_B).expect("key id");
        let secret = Secret::new(SECRET_B).expect("secret");
        c.keys.insert(id, secret).expect("second key");
    })
    .await
}

/// A private file (the origin answers 403 without `Authorization: Bearer-A`) listed without `crc32`.
fn private_manifest(demo: &Demo, headers: Option<&str>) -> Value {
    let url = format!(
        "{}?require_auth=Bearer-A",
        demo.origin.file_url(5000, 11, "private.bin")
    );
    let mut entry = json!({ "url": url, "path": "private.bin", "size": 5000 });
    if let Some(auth) = headers {
        entry["headers"] = json!({ "Authorization": auth });
    }
    json!({ "files": [entry] })
}

fn crc_bytes() -> [u8; 4] {
    generated_crc32(11, 5000).to_le_bytes()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A leaves the private file's CRC in the cache; the same app asking again gets its central directory from
/// the cache (the control: the cache is really filled, so what follows would show a leak).
async fn app_a_fills_the_cache(demo: &Demo, ts: i64) {
    let a = demo.link(&private_manifest(demo, Some("Bearer-A")), "a.zip", ts);
    let whole = get(&a, &[]).await;
    assert_eq!(whole.status, 200);
    assert!(contains(&whole.body.expect("A's archive"), &crc_bytes()));
    let before = demo.origin.requests("/files/");
    let tail = get(&a, &[("range", "bytes=-90")]).await;
    assert_eq!(tail.status, 206);
    assert!(contains(&tail.body.expect("A's tail"), &crc_bytes()));
    assert_eq!(
        demo.origin.requests("/files/"),
        before,
        "A's own resume is served from the cache"
    );
}

#[tokio::test]
async fn another_app_without_credentials_never_gets_a_crc_learnt_with_a_s_headers() {
    let demo = start_two_apps().await;
    let ts = now();
    app_a_fills_the_cache(&demo, ts).await;

    // App B lists the same URL and size, no credentials, and asks for the central directory only.
    let before = demo.origin.requests("/files/");
    let b = link_b(&demo, &private_manifest(&demo, None), ts);
    let got = get(&b, &[("range", "bytes=-90")]).await;
    assert_ne!(got.status, 206, "B got a range built from A's cached CRC");
    assert_eq!(got.status, 502);
    assert_eq!(error_code(&got), "file_unavailable");
    assert!(!contains(got.body.as_ref().expect("body"), &crc_bytes()));
    assert!(
        demo.origin.requests("/files/") > before,
        "B's request read the file with its own (no) credentials"
    );
}

#[tokio::test]
async fn the_same_key_with_another_header_value_shares_no_crc() {
    let demo = start_with(|c| c.inline_crc_max_bytes = 0).await;
    let ts = now();
    app_a_fills_the_cache(&demo, ts).await;

    let before = demo.origin.requests("/files/");
    let other = demo.link(&private_manifest(&demo, Some("Bearer-C")), "c.zip", ts);
    let got = get(&other, &[("range", "bytes=-90")]).await;
    assert_eq!(got.status, 502);
    assert_eq!(error_code(&got), "file_unavailable");
    assert!(demo.origin.requests("/files/") > before);

    // And with no header at all under the same key: the same refusal.
    let none = demo.link(&private_manifest(&demo, None), "n.zip", ts);
    let got = get(&none, &[("range", "bytes=-90")]).await;
    assert_eq!(got.status, 502);
    assert_eq!(error_code(&got), "file_unavailable");
}

/// Files with `crc32` at pre-signed URLs whose query changes on every manifest fetch.
fn presigned_manifest(demo: &Demo, signature: u32) -> Value {
    let files: Vec<Value> = (0..3u64)
        .map(|i| {
            let size = 20_000 + i;
            json!({
                "url": format!(
                    "{}?X-Amz-Signature={signature:08x}&X-Amz-Date=2019{i}",
                    demo.origin.file_url(size, i, "f.bin")
                ),
                "path": format!("f{i}.bin"),
                "size": size,
                "crc32": format!("{:08x}", generated_crc32(i, size)),
            })
        })
        .collect();
    json!({ "files": files })
}

#[tokio::test]
async fn presigned_file_urls_keep_the_etag_and_if_range_resumes_work() {
    let demo = start().await;
    let ts = now();
    let first = demo.link(&presigned_manifest(&demo, 1), "s3.zip", ts);
    let whole = get(&first, &[]).await;
    assert_eq!(whole.status, 200);
    let etag = whole.headers["etag"].to_str().expect("etag").to_string();
    let whole = whole.body.expect("whole");

    // The next manifest fetch signs every URL anew.
    let second = demo.link(&presigned_manifest(&demo, 2), "s3.zip", ts);
    let head = reqwest::Client::new()
        .head(&second)
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.headers()["etag"].to_str().expect("etag"), etag);
    let start = whole.len() / 2;
    let resumed = get(
        &second,
        &[("range", &format!("bytes={start}-")), ("if-range", &etag)],
    )
    .await;
    assert_eq!(resumed.status, 206);
    assert_eq!(resumed.body.expect("resumed"), whole[start..].to_vec());
}

/// A file fetched with manifest `headers` follows at most `max_redirects` (5) hops, like any other fetch
/// (it once could follow 2 × max + 1).
#[tokio::test]
async fn a_file_with_headers_follows_at_most_the_redirect_limit() {
    let demo = start().await;
    let path = zipper::demo::file_path(3000, 12, "r.bin");
    let entry = |hops: u32| {
        json!({ "files": [{
            "url": demo.origin.url(&format!("/redirect/{hops}{path}")),
            "path": "r.bin",
            "size": 3000,
            "crc32": format!("{:08x}", generated_crc32(12, 3000)),
            "headers": { "X-App-Token": "t0k3n" },
        }]})
    };
    let ok = get(&demo.link(&entry(4), "ok.zip", now()), &[]).await;
    assert_eq!(ok.status, 200, "five redirects are within the limit");
    let (redirects, files) = (
        demo.origin.requests("/redirect/"),
        demo.origin.requests("/files/"),
    );
    let refused = get(&demo.link(&entry(5), "no.zip", now()), &[]).await;
    assert_eq!(refused.status, 502);
    assert!(!refused
        .body
        .expect("body")
        .windows(5)
        .any(|w| w == b"t0k3n"));
    assert_eq!(
        demo.origin.requests("/redirect/") - redirects,
        6,
        "six redirect answers read, the sixth not followed"
    );
    assert_eq!(demo.origin.requests("/files/"), files);
}
