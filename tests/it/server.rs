//! The real server end to end: a signed link in, a zip out, with the in-process demo origin on 127.0.0.1.
//! Archives are checked by the real unzip tools; failures must be visible to the client.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use zipper::config::Config;
use zipper::demo::Demo;
use zipper::demo::{generated_bytes, generated_crc32};

use crate::util::{check_all_tools, check_unzip, Expected};

/// The link timestamp used by these tests (checked against the real clock, so: now).
pub fn now() -> i64 {
    zipper::server::system_clock()
}

pub async fn start() -> Demo {
    start_with(|_| {}).await
}

pub async fn start_with(tune: impl FnOnce(&mut Config)) -> Demo {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    Demo::start(any, |c| {
        c.origin_retry_backoff = Duration::from_millis(10);
        tune(c)
    })
    .await
    .expect("demo starts")
}

/// A generated origin file: archive path, size, seed, whether the manifest carries its CRC, and extra
/// fault knobs for its URL.
#[derive(Clone)]
pub struct F {
    pub path: String,
    pub size: u64,
    pub seed: u64,
    pub crc: bool,
    pub knobs: &'static str,
}

pub fn f(path: &str, size: u64, seed: u64, crc: bool) -> F {
    F {
        path: path.into(),
        size,
        seed,
        crc,
        knobs: "",
    }
}

/// A manifest for these files and the listing every reader must see.
pub fn manifest(demo: &Demo, files: &[F]) -> (Value, Vec<Expected>) {
    let entries: Vec<Value> = files
        .iter()
        .map(|x| {
            let mut url = demo.origin.file_url(x.size, x.seed, "file.bin");
            if !x.knobs.is_empty() {
                url = format!("{url}?{}", x.knobs);
            }
            let mut e = json!({ "url": url, "path": x.path, "size": x.size });
            if x.crc {
                e["crc32"] = json!(format!("{:08x}", generated_crc32(x.seed, x.size)));
            }
            e
        })
        .collect();
    let expected = files
        .iter()
        .map(|x| Expected {
            name: x.path.clone(),
            size: x.size,
            crc32: generated_crc32(x.seed, x.size),
        })
        .collect();
    (json!({ "files": entries }), expected)
}

pub struct Got {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Result<Vec<u8>, String>,
}

pub async fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    let client = reqwest::Client::new();
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("response head");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| format!("{e:?}"));
    Got {
        status,
        headers,
        body,
    }
}

fn header<'a>(g: &'a Got, name: &str) -> &'a str {
    g.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub fn error_code(g: &Got) -> String {
    let body = g.body.as_ref().expect("error body");
    let v: Value = serde_json::from_slice(body).expect("JSON error body");
    v["error"]["code"].as_str().expect("code").to_string()
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".zip")
        .tempfile()
        .expect("temp");
    std::fs::write(file.path(), bytes).expect("write");
    file
}

#[tokio::test]
async fn one_file_archive_with_exact_length_opens_everywhere() {
    let demo = start().await;
    let (m, expected) = manifest(&demo, &[f("photo.jpg", 123_457, 1, false)]);
    let got = get(&demo.link(&m, "photos.zip", now()), &[]).await;
    assert_eq!(got.status, 200);
    let body = got.body.as_ref().expect("body");
    assert_eq!(header(&got, "content-length"), body.len().to_string());
    assert_eq!(header(&got, "content-type"), "application/zip");
    assert_eq!(header(&got, "accept-ranges"), "bytes");
    assert!(header(&got, "etag").starts_with("\"z3-"));
    assert_eq!(
        header(&got, "content-disposition"),
        "attachment; filename=\"photos.zip\"; filename*=UTF-8''photos.zip"
    );
    check_all_tools(write_temp(body).path(), &expected);
}

#[tokio::test]
async fn thousand_files_with_and_without_crcs_open_everywhere() {
    let demo = start().await;
    let files: Vec<F> = (0..1000u64)
        .map(|i| {
            f(
                &format!("dir{}/fïle {i}.bin", i % 7),
                (i * 7919) % 5000,
                i,
                i % 2 == 0,
            )
        })
        .collect();
    let (m, expected) = manifest(&demo, &files);
    let got = get(&demo.link(&m, "many.zip", now()), &[]).await;
    assert_eq!(got.status, 200);
    let body = got.body.as_ref().expect("body");
    assert_eq!(header(&got, "content-length"), body.len().to_string());
    check_all_tools(write_temp(body).path(), &expected);
    // Every file fetched once, the manifest once.
    assert_eq!(demo.origin.requests("/files/"), 1000);
}

#[tokio::test]
async fn head_answers_the_get_headers_without_fetching_files() {
    let demo = start().await;
    let (m, _) = manifest(
        &demo,
        &[f("a.bin", 1000, 1, true), f("b.bin", 2000, 2, false)],
    );
    let link = demo.link(&m, "x.zip", now());
    let head = reqwest::Client::new()
        .head(&link)
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), 200);
    assert_eq!(demo.origin.requests("/files/"), 0, "HEAD fetches no file");
    let got = get(&link, &[]).await;
    for name in [
        "content-length",
        "content-type",
        "content-disposition",
        "etag",
        "accept-ranges",
    ] {
        assert_eq!(
            head.headers().get(name),
            got.headers.get(name),
            "{name} differs between HEAD and GET"
        );
    }
    assert_eq!(
        header(&got, "content-length"),
        got.body.as_ref().expect("body").len().to_string()
    );
}

#[tokio::test]
async fn same_link_same_bytes() {
    let demo = start().await;
    let (m, _) = manifest(
        &demo,
        &[f("a.bin", 10_000, 1, false), f("b/c.bin", 20_000, 2, true)],
    );
    let ts = now();
    let a = get(&demo.link(&m, "x.zip", ts), &[]).await;
    let b = get(&demo.link(&m, "x.zip", ts), &[]).await;
    assert_eq!(a.body.expect("a"), b.body.expect("b"));
    assert_eq!(a.headers.get("etag"), b.headers.get("etag"));
}

#[tokio::test]
async fn unknown_sizes_stream_chunked_without_ranges() {
    let demo = start().await;
    let m = json!({ "files": [
        { "url": demo.origin.file_url(50_000, 1, "a"), "path": "a.bin" },
        { "url": demo.origin.file_url(70_000, 2, "b") + "?chunked=1", "path": "b.bin", "compression": "deflate" },
        { "path": "folder/" },
    ]});
    let got = get(&demo.link(&m, "x.zip", now()), &[]).await;
    assert_eq!(got.status, 200);
    assert!(got.headers.get("content-length").is_none());
    assert!(got.headers.get("etag").is_none());
    assert_eq!(header(&got, "accept-ranges"), "none");
    let expected = vec![
        Expected {
            name: "a.bin".into(),
            size: 50_000,
            crc32: generated_crc32(1, 50_000),
        },
        Expected {
            name: "b.bin".into(),
            size: 70_000,
            crc32: generated_crc32(2, 70_000),
        },
        Expected {
            name: "folder/".into(),
            size: 0,
            crc32: 0,
        },
    ];
    check_all_tools(
        write_temp(got.body.as_ref().expect("body")).path(),
        &expected,
    );
}

#[tokio::test]
async fn http2_prior_knowledge_works() {
    let demo = start().await;
    let (m, expected) = manifest(&demo, &[f("a.bin", 300_000, 3, false)]);
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let res = client
        .get(demo.link(&m, "x.zip", now()))
        .send()
        .await
        .expect("h2 response");
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 200);
    let body = res.bytes().await.expect("body");
    check_unzip(write_temp(&body).path());
    assert_eq!(expected.len(), 1);
}

#[tokio::test]
async fn manifest_statuses_map_to_contract_errors() {
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("a.bin", 10, 1, true)]);
    let path = demo.origin.add_manifest(m);
    for (status, want_status, want_code) in [
        (404, 404, "download_not_found"),
        (403, 403, "forbidden"),
        (410, 410, "download_gone"),
        (500, 502, "manifest_unavailable"),
        (401, 502, "manifest_unavailable"),
    ] {
        let link = demo.link_to(
            &format!("{path}?status={status}&timestamp={}", now()),
            "x.zip",
        );
        let got = get(&link, &[]).await;
        assert_eq!(got.status, want_status, "origin {status}");
        assert_eq!(error_code(&got), want_code, "origin {status}");
        assert_eq!(header(&got, "content-type"), "application/json");
    }
    assert_eq!(demo.origin.requests("/files/"), 0);
}

#[tokio::test]
async fn the_manifest_request_is_signed_and_carries_nothing_from_the_browser() {
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("a.bin", 10, 1, true)]);
    let path = demo.origin.add_manifest(m);
    let callback_path = format!("{path}?timestamp={}", now());
    let link = demo.link_to(&callback_path, "x.zip");
    let got = get(
        &link,
        &[
            ("cookie", "session=secret"),
            ("authorization", "Bearer x"),
            ("range", "bytes=0-1"),
        ],
    )
    .await;
    assert!(got.status == 200 || got.status == 206);
    let h = demo
        .origin
        .last_manifest_headers(&path)
        .expect("manifest request seen");
    assert!(
        h.get("cookie").is_none() && h.get("authorization").is_none() && h.get("range").is_none()
    );
    assert_eq!(
        h.get("accept").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let t: i64 = h["x-zipper-time"]
        .to_str()
        .expect("time")
        .parse()
        .expect("number");
    let callback = demo.origin.url(&callback_path);
    let want = zipper::core::link::manifest_request_signature(demo.secret(), t, &callback);
    assert_eq!(h["x-zipper-signature"].to_str().expect("sig"), want);
    assert!(h["user-agent"].to_str().expect("ua").starts_with("zipper/"));
}

#[tokio::test]
async fn invalid_manifests_are_502_naming_entry_and_field() {
    let demo = start().await;
    let good = demo.origin.file_url(10, 1, "a");
    for (files, field) in [
        (
            json!([{ "url": good, "path": "a" }, { "url": "ftp://x/y", "path": "b" }]),
            "files[1].url",
        ),
        (json!([{ "path": "no-url" }]), "files[0].url"),
        (
            json!([{ "url": good, "path": "../etc/passwd" }]),
            "files[0].path",
        ),
        (json!([{ "url": good, "path": "/abs" }]), "files[0].path"),
        (json!([{ "url": good, "path": "a\u{1}b" }]), "files[0].path"),
        (json!([{ "url": good, "path": "d/" }]), "files[0].url"),
        (
            json!([{ "url": good, "path": "a", "crc32": "xyz" }]),
            "files[0].crc32",
        ),
        (
            json!([{ "url": good, "path": "a", "size": -1 }]),
            "files[0].size",
        ),
        (
            json!([{ "url": good, "path": "a", "compression": "zstd" }]),
            "files[0].compression",
        ),
        (
            json!([{ "url": good, "path": "a", "modified": "yesterday" }]),
            "files[0].modified",
        ),
    ] {
        let got = get(&demo.link(&json!({ "files": files }), "x.zip", now()), &[]).await;
        assert_eq!(got.status, 502, "{field}");
        assert_eq!(error_code(&got), "invalid_manifest", "{field}");
        let v: Value = serde_json::from_slice(got.body.as_ref().expect("body")).expect("json");
        let msg = v["error"]["message"].as_str().expect("message");
        assert!(msg.contains(field), "{msg:?} should name {field}");
    }
    let not_json = demo.origin.add_manifest_bytes("{not json");
    let got = get(
        &demo.link_to(&format!("{not_json}?timestamp={}", now()), "x.zip"),
        &[],
    )
    .await;
    assert_eq!(
        (got.status, error_code(&got).as_str()),
        (502, "invalid_manifest")
    );
    assert_eq!(demo.origin.requests("/files/"), 0);
}

#[tokio::test]
async fn duplicate_names_are_renamed_deterministically() {
    let demo = start().await;
    let files = vec![
        f("a.txt", 10, 1, true),
        f("a.txt", 20, 2, true),
        f("sub\\a.tar.gz", 5, 3, false),
        f("sub/./a.tar.gz", 6, 4, false),
    ];
    let (m, _) = manifest(&demo, &files);
    let got = get(&demo.link(&m, "x.zip", now()), &[]).await;
    let expected = vec![
        Expected {
            name: "a.txt".into(),
            size: 10,
            crc32: generated_crc32(1, 10),
        },
        Expected {
            name: "a (1).txt".into(),
            size: 20,
            crc32: generated_crc32(2, 20),
        },
        Expected {
            name: "sub/a.tar.gz".into(),
            size: 5,
            crc32: generated_crc32(3, 5),
        },
        Expected {
            name: "sub/a.tar (1).gz".into(),
            size: 6,
            crc32: generated_crc32(4, 6),
        },
    ];
    check_all_tools(
        write_temp(got.body.as_ref().expect("body")).path(),
        &expected,
    );
}

#[tokio::test]
async fn link_errors_answer_before_any_fetch() {
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("a.bin", 10, 1, true)]);
    let good = demo.link(&m, "x.zip", now());
    let base = format!("http://{}", demo.server.public_addr);
    let mut parts: Vec<&str> = good.trim_start_matches(&base).split('/').collect();
    let sig = parts[3].to_string();
    let tampered_sig = format!(
        "{}{}",
        if sig.starts_with('A') { "B" } else { "A" },
        &sig[1..]
    );
    parts[3] = &tampered_sig;
    let bad_sig = format!("{base}{}", parts.join("/"));
    let unknown_key = good.replacen("/demo/", "/other/", 1);
    let old = demo.link(&m, "x.zip", now() - 86_400 - 10);
    let future = demo.link(&m, "x.zip", now() + 3_600);
    let not_zip = good.replace("/x.zip", "/x.tar");
    let requests_before = demo.origin.total_requests();
    for (url, status, code) in [
        (bad_sig, 403, "bad_signature"),
        (unknown_key, 403, "unknown_key"),
        (old, 410, "link_expired"),
        (future, 403, "bad_timestamp"),
        (not_zip, 400, "bad_link"),
        (format!("{base}/just/three/segments"), 404, "not_found"),
        (format!("{base}/"), 404, "not_found"),
    ] {
        let got = get(&url, &[]).await;
        assert_eq!(
            (got.status, error_code(&got)),
            (status, code.to_string()),
            "{url}"
        );
    }
    assert_eq!(
        demo.origin.total_requests(),
        requests_before,
        "nothing fetched for a refused link"
    );
    // A path that is not a link says what a link looks like, and does not repeat the path.
    let got = get(&format!("{base}/just/three-segments/here"), &[]).await;
    let message = error_message(&got);
    assert!(
        message.contains(" /{key_id}/{callback}/{signature}/{filename}"),
        "{message}"
    );
    assert!(!message.contains("three-segments"), "{message}");
}

/// A loopback origin without `allow_private_networks`: `502 origin_not_allowed`, and the message names the
/// setting (file and environment forms) and, as every origin error, shows the callback without its query.
#[tokio::test]
async fn a_private_origin_is_refused_naming_allow_private_networks() {
    let demo = start_with(|c| c.allow_private_networks = false).await;
    let (m, _) = manifest(&demo, &[f("a.bin", 10, 1, true)]);
    let link = demo.link(&m, "x.zip", now());
    let got = get(&link, &[]).await;
    assert_eq!(
        (got.status, error_code(&got).as_str()),
        (502, "origin_not_allowed")
    );
    let message = error_message(&got);
    for words in [
        "allow_private_networks = true",
        "ZIPPER_ALLOW_PRIVATE_NETWORKS=true",
    ] {
        assert!(message.contains(words), "{message}");
    }
    assert!(
        !message.contains("timestamp="),
        "{message} repeats the query"
    );
    assert_eq!(demo.origin.total_requests(), 0);
}

fn error_message(g: &Got) -> String {
    let v: Value = serde_json::from_slice(g.body.as_ref().expect("error body")).expect("JSON");
    v["error"]["message"].as_str().expect("message").to_string()
}

/// `path_prefix = "/zip"`: a link made by `zipper sign --base http://host/zip` downloads; the same link
/// without the prefix, or under a look-alike prefix, is `404 not_found` whose message shows the expected
/// shape (with the prefix) and never the requested path.
#[tokio::test]
async fn links_under_the_path_prefix_work_and_other_paths_are_404() {
    let demo = start_with(|c| {
        c.path_prefix = zipper::core::link::PathPrefix::parse("/zip").expect("prefix");
    })
    .await;
    let (m, _) = manifest(
        &demo,
        &[f("a.bin", 1000, 1, true), f("b.bin", 10, 2, false)],
    );
    let callback = demo.origin.url(&format!(
        "{}?timestamp={}",
        demo.origin.add_manifest(m),
        now()
    ));
    let base = format!("http://{}", demo.server.public_addr);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zipper"))
        .env(
            "PREFIX_TEST_SECRET",
            String::from_utf8(demo.secret().expose().to_vec()).expect("utf-8 secret"),
        )
        .args([
            "sign",
            "--key-id",
            "demo",
            "--secret-env",
            "PREFIX_TEST_SECRET",
        ])
        .args([
            "--filename",
            "p.zip",
            "--base",
            &format!("{base}/zip"),
            &callback,
        ])
        .output()
        .expect("zipper sign runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(link.starts_with(&format!("{base}/zip/demo/")), "{link}");

    let got = get(&link, &[]).await;
    assert_eq!(got.status, 200);
    check_unzip(write_temp(got.body.as_ref().expect("body")).path());

    let unprefixed = link.replacen("/zip/demo/", "/demo/", 1);
    let lookalike = link.replacen("/zip/demo/", "/zipx/demo/", 1);
    let requests_before = demo.origin.total_requests();
    for url in [
        unprefixed,
        lookalike,
        format!("{base}/zip"),
        format!("{base}/zip/a/b"),
    ] {
        let got = get(&url, &[]).await;
        assert_eq!(
            (got.status, error_code(&got).as_str()),
            (404, "not_found"),
            "{url}"
        );
        let message = error_message(&got);
        assert!(
            message.contains("/zip/{key_id}/{callback}/{signature}/{filename}"),
            "{message}"
        );
        assert!(
            !message.contains("demo") && !message.contains("zipx"),
            "echoes the path: {message}"
        );
    }
    assert_eq!(demo.origin.total_requests(), requests_before);
}

#[tokio::test]
async fn overloaded_answers_503_with_retry_after() {
    let demo = start_with(|c| c.max_concurrent_downloads = 1).await;
    let slow = F {
        knobs: "chunk_delay_ms=50&chunk=1024",
        ..f("slow.bin", 1 << 20, 1, false)
    };
    let (m, _) = manifest(&demo, &[slow]);
    let link = demo.link(&m, "x.zip", now());
    let first = reqwest::get(&link).await.expect("first download starts");
    assert_eq!(first.status(), 200);
    let (m2, _) = manifest(&demo, &[f("a.bin", 10, 1, true)]);
    let got = get(&demo.link(&m2, "y.zip", now()), &[]).await;
    assert_eq!((got.status, error_code(&got).as_str()), (503, "overloaded"));
    assert_eq!(header(&got, "retry-after"), "1");
    drop(first);
}

/// Runs `curl -f` on the link; returns its exit status and the bytes it wrote.
/// (Run off the runtime's thread: the server under test shares the runtime.)
async fn curl(link: &str) -> (bool, Vec<u8>) {
    let link = link.to_string();
    tokio::task::spawn_blocking(move || {
        let out = tempfile::NamedTempFile::new().expect("temp");
        let status = std::process::Command::new("curl")
            .args(["-fsS", "--max-time", "30", "-o"])
            .arg(out.path())
            .arg(link)
            .status()
            .expect("curl runs");
        (
            status.success(),
            std::fs::read(out.path()).unwrap_or_default(),
        )
    })
    .await
    .expect("curl task")
}

/// What a client sees when a download breaks after the first byte: curl fails, Python's zipfile refuses
/// the bytes it got.
async fn assert_visibly_failed(link: &str) {
    let start = std::time::Instant::now();
    let (ok, bytes) = curl(link).await;
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "the failure must show at once, not by timeout"
    );
    assert!(!ok, "curl must fail");
    let f = write_temp(&bytes);
    let py = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).testzip()",
        ])
        .arg(f.path())
        .output()
        .expect("python runs");
    assert!(
        !py.status.success(),
        "python zipfile must not accept a truncated archive"
    );
}

#[tokio::test]
async fn a_missing_file_mid_archive_fails_the_download_visibly() {
    let demo = start().await;
    let missing = F {
        knobs: "status=404",
        ..f("b.bin", 50_000, 2, false)
    };
    let (m, _) = manifest(
        &demo,
        &[
            f("a.bin", 200_000, 1, false),
            missing,
            f("c.bin", 10, 3, true),
        ],
    );
    assert_visibly_failed(&demo.link(&m, "x.zip", now())).await;
    // Without Content-Length too (unknown sizes: chunked, no final chunk).
    let m = json!({ "files": [
        { "url": demo.origin.file_url(200_000, 1, "a"), "path": "a.bin" },
        { "url": demo.origin.file_url(10, 2, "b") + "?status=404", "path": "b.bin" },
    ]});
    assert_visibly_failed(&demo.link(&m, "y.zip", now())).await;
}

#[tokio::test]
async fn a_file_that_changes_between_retries_fails_the_download_with_or_without_its_crc() {
    let demo = start().await;
    // The origin ignores Range, breaks at 60 kB and serves other bytes on the re-read.
    for crc in [true, false] {
        let changed = F {
            knobs: "reset_at=60000&no_range=1&changed_from=1",
            ..f("changed.bin", 200_000, 11 + u64::from(crc), crc)
        };
        let (m, _) = manifest(&demo, &[f("a.bin", 1000, 1, true), changed]);
        assert_visibly_failed(&demo.link(&m, "changed.zip", now())).await;
    }
}

#[tokio::test]
async fn a_reset_mid_file_is_healed_by_retry() {
    let demo = start().await;
    let healed = F {
        knobs: "reset_at=100000",
        ..f("b.bin", 300_000, 2, false)
    };
    let healed_norange = F {
        knobs: "reset_at=70000&no_range=1",
        ..f("c.bin", 200_000, 3, true)
    };
    // No ETag and no Last-Modified: a resume could splice two versions, so zipper re-reads from 0.
    let healed_unguarded = F {
        knobs: "reset_at=50000&no_validators=1",
        ..f("d.bin", 120_000, 4, false)
    };
    let files = vec![
        f("a.bin", 1000, 1, true),
        healed,
        healed_norange,
        healed_unguarded,
    ];
    let (m, expected) = manifest(&demo, &files);
    let got = get(&demo.link(&m, "x.zip", now()), &[]).await;
    assert_eq!(got.status, 200);
    let body = got.body.expect("complete body");
    check_all_tools(write_temp(&body).path(), &expected);
    assert!(
        demo.origin.requests("/files/") >= 7,
        "the broken files were fetched again"
    );
    // Ranged resumes only where the origin gave a validator (b.bin); none for d.bin.
    let d_path = zipper::demo::file_path(120_000, 4, "file.bin");
    assert_eq!(demo.origin.requests(&d_path), 2);
    assert_eq!(
        demo.origin.partial_responses(&d_path),
        0,
        "no Range without a validator"
    );
    assert!(
        demo.origin.partial_responses("/files/") >= 1,
        "b.bin resumed with Range"
    );
}

#[tokio::test]
async fn a_reset_that_keeps_happening_fails_visibly() {
    let demo = start().await;
    let broken = F {
        knobs: "reset_at=1000&reset_times=100&no_range=1",
        ..f("b.bin", 300_000, 2, false)
    };
    let (m, _) = manifest(&demo, &[f("a.bin", 1000, 1, true), broken]);
    assert_visibly_failed(&demo.link(&m, "x.zip", now())).await;
}

#[tokio::test]
async fn a_file_longer_or_shorter_than_its_size_fails_visibly() {
    let demo = start().await;
    for knobs in ["lie=1", "lie=-1", "lie=5000"] {
        let liar = F {
            knobs,
            ..f("b.bin", 100_000, 2, false)
        };
        let (m, _) = manifest(
            &demo,
            &[f("a.bin", 1000, 1, true), liar, f("c.bin", 10, 3, true)],
        );
        assert_visibly_failed(&demo.link(&m, "x.zip", now())).await;
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_stops_the_origin() {
    let demo = start_with(|c| c.prefetch_bytes = 1 << 20).await;
    let (m, _) = manifest(
        &demo,
        &[
            f("big1.bin", 1 << 30, 1, false),
            f("big2.bin", 1 << 30, 2, false),
        ],
    );
    let mut res = reqwest::get(demo.link(&m, "x.zip", now()))
        .await
        .expect("response");
    let mut read = 0usize;
    while read < 4 << 20 {
        read += res.chunk().await.expect("chunk").expect("data").len();
    }
    // Stop reading. Buffers fill (socket buffers, hyper, the read-ahead), then the origin is no longer read.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = demo.origin.total_bytes_served();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b = demo.origin.total_bytes_served();
    assert_eq!(a, b, "origin still being read while the client is stalled");
    assert!(
        a < (read as u64) + (64 << 20),
        "served {a} bytes for {read} read: more than 64 MiB ahead"
    );
    drop(res);
}

/// Current resident set size of this process in bytes (Linux).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A multi-GiB archive (an entry over 4 GiB: ZIP64) through the server to a client that reads slowly and
/// writes to disk; peak RSS growth stays small, and every reader accepts the result.
#[tokio::test]
async fn multi_gib_archive_streams_in_bounded_memory_and_opens_everywhere() {
    let demo = start().await;
    let big = (4u64 << 30) + 12_345;
    let files = vec![
        f("small.txt", 1000, 1, true),
        f("video/huge.bin", big, 2, false),
        f("after.txt", 5000, 3, true),
    ];
    let (m, expected) = manifest(&demo, &files);
    let baseline = rss_bytes();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(baseline));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (p, s) = (peak.clone(), stop.clone());
    let sampler = tokio::spawn(async move {
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            p.fetch_max(rss_bytes(), std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let out = tempfile::Builder::new()
        .suffix(".zip")
        .tempfile()
        .expect("temp");
    let mut file = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(out.path()).expect("create"),
    );
    let mut res = reqwest::get(demo.link(&m, "big.zip", now()))
        .await
        .expect("response");
    let declared = res.content_length().expect("content-length");
    let mut n = 0u64;
    let mut since_pause = 0usize;
    while let Some(chunk) = res.chunk().await.expect("chunk") {
        std::io::Write::write_all(&mut file, &chunk).expect("write");
        n += chunk.len() as u64;
        since_pause += chunk.len();
        if since_pause >= 8 << 20 {
            // A slow client: pause every 8 MiB.
            since_pause = 0;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    std::io::Write::flush(&mut file).expect("flush");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.await;
    assert_eq!(n, declared);
    let growth = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(baseline);
    eprintln!("multi-GiB: {n} bytes, peak RSS growth {} MiB", growth >> 20);
    assert!(growth < 64 << 20, "RSS grew by {growth} bytes");
    check_all_tools(out.path(), &expected);
}

#[tokio::test]
async fn seventy_thousand_files_over_65535_entries_open_everywhere() {
    let demo = start().await;
    let files: Vec<F> = (0..70_000u64)
        .map(|i| f(&format!("d{}/{i}.txt", i % 100), i % 64, i, i % 3 == 0))
        .collect();
    let (m, expected) = manifest(&demo, &files);
    let got = get(&demo.link(&m, "many.zip", now()), &[]).await;
    assert_eq!(got.status, 200);
    let body = got.body.expect("body");
    assert_eq!(header_len(&got.headers), Some(body.len() as u64));
    check_all_tools(write_temp(&body).path(), &expected);
}

fn header_len(h: &reqwest::header::HeaderMap) -> Option<u64> {
    h.get("content-length")?.to_str().ok()?.parse().ok()
}

/// The archive length a HEAD of the link announces.
pub async fn head_len(link: &str) -> u64 {
    let head = reqwest::Client::new()
        .head(link)
        .send()
        .await
        .expect("HEAD");
    header_len(head.headers()).expect("Content-Length on HEAD")
}

#[tokio::test]
async fn generated_content_matches_what_the_archive_holds() {
    // A spot check that the expectations above compare real bytes, not only CRCs.
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("a.bin", 4096, 9, false)]);
    let got = get(&demo.link(&m, "x.zip", now()), &[]).await;
    let body = got.body.expect("body");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&body[..])).expect("zip");
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_index(0).expect("entry"), &mut data).expect("read");
    assert_eq!(data, generated_bytes(9, 0, 4096));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_running_downloads_while_readyz_says_503() {
    let demo = start_with(|c| c.shutdown_grace = Duration::from_secs(20)).await;
    let admin = format!("http://{}", demo.server.admin_addr);
    assert_eq!(
        reqwest::get(format!("{admin}/readyz"))
            .await
            .expect("readyz")
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{admin}/healthz"))
            .await
            .expect("healthz")
            .status(),
        200
    );
    // A download that takes about a second (with its CRC, so it streams rather than being read whole first).
    let slow = F {
        knobs: "chunk=16384&chunk_delay_ms=20",
        ..f("slow.bin", 800_000, 1, true)
    };
    let (m, expected) = manifest(&demo, &[slow]);
    let link = demo.link(&m, "x.zip", now());
    let mut res = reqwest::get(&link).await.expect("download starts");
    let first = res.chunk().await.expect("chunk").expect("data");
    let public = demo.server.public_addr;
    let server = demo.server;
    let drained = tokio::spawn(server.shutdown());
    // Readiness turns 503 while the download drains, and new connections are refused.
    let mut saw_503 = false;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("{admin}/readyz")).await {
            if r.status() == 503 {
                saw_503 = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(saw_503, "/readyz must answer 503 while draining");
    assert!(
        tokio::net::TcpStream::connect(public).await.is_err(),
        "no new connections while draining"
    );
    let mut body = first.to_vec();
    while let Some(c) = res.chunk().await.expect("the running download completes") {
        body.extend_from_slice(&c);
    }
    tokio::time::timeout(Duration::from_secs(20), drained)
        .await
        .expect("drained in time")
        .expect("join");
    check_unzip(write_temp(&body).path());
    assert_eq!(expected.len(), 1);
}

#[tokio::test]
async fn metrics_count_downloads_and_bytes() {
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("a.bin", 10_000, 1, true)]);
    let got = get(&demo.link(&m, "x.zip", now()), &[]).await;
    let sent = got.body.expect("body").len();
    let _ = get(&format!("http://{}/nope", demo.server.public_addr), &[]).await;
    let text = reqwest::get(format!("http://{}/metrics", demo.server.admin_addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("zipper_downloads_completed_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("zipper_bytes_sent_total {sent}\n")),
        "{text}"
    );
    assert!(
        text.contains("zipper_error_responses_total{code=\"not_found\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("zipper_active_downloads 0\n"), "{text}");
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    use tokio::io::AsyncReadExt;
    let demo = start_with(|c| c.request_header_timeout = Duration::from_millis(300)).await;
    let mut conn = tokio::net::TcpStream::connect(demo.server.public_addr)
        .await
        .expect("connect");
    let started = std::time::Instant::now();
    let mut buf = [0u8; 64];
    // Nothing is sent: the server must hang up (EOF or reset), well before this test's own limit.
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "server kept a silent connection: {read:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_file_archive_for_a_fast_client_moves_to_bulk_reads_mid_body_byte_exact() {
    let demo = start().await;
    let size: u64 = 48 << 20;
    let (m, _) = manifest(&demo, &[f("big.bin", size, 11, true)]);
    let started = std::time::Instant::now();
    let got = get(&demo.link(&m, "x.zip", now()), &[]).await;
    let rate = size as f64 / started.elapsed().as_secs_f64();
    assert_eq!(got.status, 200);
    let body = got.body.expect("body");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&body[..])).expect("zip");
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_index(0).expect("entry"), &mut data).expect("read");
    assert!(data == generated_bytes(11, 0, size as usize), "byte-exact");
    // The move needs a client proven fast (32 MiB/s after its first 8 MiB); a debug build on a loaded
    // machine may stream slower than that, and then the entry rightly stays lean.
    let (requests, partial) = (
        demo.origin.requests("/files/"),
        demo.origin.partial_responses("/files/"),
    );
    if rate >= 128.0 * 1024.0 * 1024.0 {
        assert_eq!((requests, partial), (2, 1), "moved at {rate:.0} B/s");
    } else {
        assert!((requests, partial) == (1, 0) || (requests, partial) == (2, 1));
    }
    eprintln!("{rate:.0} B/s: {requests} requests, {partial} partial");
}
