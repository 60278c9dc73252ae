//! `origin::files`, `origin::manifest` and `origin::guard` against a real [`DemoOrigin`] on 127.0.0.1.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode};
use zipper::core::encoder::SourceCrc;
use zipper::demo::{generated_bytes, DemoOrigin};
use zipper::error::{Code, HasCode};
use zipper::origin::client::{BulkSwitch, ORIGIN_READ_MAX};
use zipper::origin::guard::{AddressClass, GuardError};
use zipper::origin::{
    fetch_file, fetch_manifest, FetchError, FileRequest, HostAllowlist, ManifestFetchError,
    OriginClient, OriginSettings, RetryPolicy,
};

/// Settings for tests: private networks allowed (the origin is on 127.0.0.1), near-zero backoff.
fn settings() -> OriginSettings {
    OriginSettings {
        allow_private_networks: true,
        retry: RetryPolicy {
            backoff_base: Duration::from_millis(1),
            ..RetryPolicy::default()
        },
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        manifest_timeout: Duration::from_secs(5),
        ..OriginSettings::default()
    }
}

fn client_with(settings: OriginSettings) -> OriginClient {
    OriginClient::new(settings).expect("client builds")
}

fn client() -> OriginClient {
    client_with(settings())
}

/// Fails the test instead of hanging.
async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("test step finished within 30 s")
}

/// Everything the stream yields: the bytes before the first error, and that error.
async fn collect(client: &OriginClient, req: FileRequest) -> (Vec<u8>, Option<FetchError>) {
    within(async {
        let mut out = Vec::new();
        let stream = fetch_file(client, req);
        futures_util::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(e) => {
                    assert!(stream.next().await.is_none(), "nothing after an error");
                    return (out, Some(e));
                }
            }
        }
        (out, None)
    })
    .await
}

fn sized(url: String, size: u64) -> FileRequest {
    FileRequest {
        url,
        expected_size: Some(size),
        ..FileRequest::default()
    }
}

async fn origin() -> DemoOrigin {
    DemoOrigin::start_with_faults()
        .await
        .expect("demo origin starts")
}

// === files ===

#[tokio::test]
async fn plain_fetch_is_byte_exact() {
    let o = origin().await;
    let size = 100_003;
    let (got, err) = collect(&client(), sized(o.file_url(size, 1, "a.bin"), size)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(1, 0, 100_003));
    assert_eq!(o.requests("/files/"), 1);
    // Size unknown: read to the end.
    let (got, err) = collect(&client(), FileRequest::new(o.file_url(777, 2, "b.bin"))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(2, 0, 777));
}

#[tokio::test]
async fn empty_file() {
    let o = origin().await;
    let (got, err) = collect(&client(), sized(o.file_url(0, 1, "e"), 0)).await;
    assert!(err.is_none() && got.is_empty(), "{err:?}");
    assert_eq!(o.requests("/files/"), 1, "an empty file is still checked");
    let (got, err) = collect(&client(), sized(o.file_url(5, 1, "e"), 0)).await;
    assert!(got.is_empty());
    assert!(
        matches!(err, Some(FetchError::SizeDeclared { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let o = origin().await;
    let url = o.file_url(5000, 3, "c.bin") + "?status=500&times=2";
    let (got, err) = collect(&client(), sized(url, 5000)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(3, 0, 5000));
    assert_eq!(o.requests("/files/"), 3);
}

#[tokio::test]
async fn persistent_server_error_fails_after_the_retries() {
    let o = origin().await;
    let url = o.file_url(5000, 3, "c.bin") + "?status=503&token=secret";
    let (got, err) = collect(&client(), sized(url, 5000)).await;
    assert!(got.is_empty());
    let err = err.expect("fails");
    assert!(
        matches!(
            err,
            FetchError::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(o.requests("/files/"), 4, "1 attempt + 3 retries");
    assert_eq!(err.code(), Code::FileUnavailable);
    let text = err.to_string();
    assert!(
        text.contains("/files/5000/3/c.bin") && !text.contains("secret"),
        "{text}"
    );
}

#[tokio::test]
async fn client_errors_fail_at_once() {
    let o = origin().await;
    for status in [404, 403, 401] {
        let url = format!(
            "{}?status={status}",
            o.file_url(10, 4, &format!("s{status}"))
        );
        let (_, err) = collect(&client(), sized(url, 10)).await;
        assert!(
            matches!(err, Some(FetchError::Status { status: s, attempts: 1, .. }) if s.as_u16() == status),
            "{err:?}"
        );
    }
    assert_eq!(o.requests("/files/"), 3);
    // 429 is transient.
    let url = o.file_url(10, 4, "busy") + "?status=429&times=1";
    let (got, err) = collect(&client(), sized(url, 10)).await;
    assert!(err.is_none() && got.len() == 10, "{err:?}");
}

#[tokio::test]
async fn reset_mid_body_resumes_with_range() {
    let o = origin().await;
    let size = 200_000;
    let url = o.file_url(size, 5, "r.bin") + "?reset_at=50000&chunk=8192";
    let (got, err) = collect(&client(), sized(url, size)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(5, 0, 200_000));
    assert_eq!(o.requests("/files/"), 2);
    assert_eq!(
        o.partial_responses("/files/"),
        1,
        "the second request was a Range resume"
    );
    assert!(
        o.bytes_served("/files/") < size + 50_000,
        "not re-read from the start"
    );
}

#[tokio::test]
async fn a_whole_fetch_hands_over_the_crc_of_every_byte_it_delivered_resumed_or_reread() {
    let o = origin().await;
    let size = 200_000;
    for (seed, faults) in [
        (11, ""),
        (12, "?reset_at=50000&chunk=8192"),
        (13, "?reset_at=50000&chunk=8192&no_range=1"),
    ] {
        let crc = SourceCrc::default();
        let req = FileRequest {
            crc_out: Some(crc.clone()),
            ..sized(o.file_url(size, seed, "c.bin") + faults, size)
        };
        let (got, err) = collect(&client(), req).await;
        assert!(err.is_none(), "{faults}: {err:?}");
        assert_eq!(got, generated_bytes(seed, 0, size as usize), "{faults}");
        assert_eq!(
            crc.get(),
            Some((size, crc32fast::hash(&got))),
            "{faults}: the CRC of the bytes delivered"
        );
    }
    // A window hands over nothing: its consumer sees only part of the file.
    let crc = SourceCrc::default();
    let req = FileRequest {
        start: 10,
        crc_out: Some(crc.clone()),
        ..sized(o.file_url(1000, 14, "w.bin"), 1000)
    };
    let (got, err) = collect(&client(), req).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), 990);
    assert_eq!(crc.get(), None);
}

#[tokio::test]
async fn reset_mid_body_without_range_support_rereads_and_checks_the_prefix() {
    let o = origin().await;
    let size = 200_000;
    let url = o.file_url(size, 6, "r.bin") + "?reset_at=50000&chunk=8192&no_range=1";
    let (got, err) = collect(&client(), sized(url, size)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(6, 0, 200_000));
    assert_eq!(o.requests("/files/"), 2);
    assert_eq!(o.partial_responses("/files/"), 0);
    assert!(o.bytes_served("/files/") > size, "re-read from the start");
}

#[tokio::test]
async fn a_reread_that_differs_from_the_bytes_already_sent_fails_unless_the_consumer_checks_the_crc(
) {
    let o = origin().await;
    let size = 200_000;
    let url = o.file_url(size, 8, "c.bin") + "?reset_at=50000&chunk=8192&no_range=1&changed_from=1";
    // The fetch's own running CRC catches the changed prefix at the re-read.
    let (got, err) = collect(&client(), sized(url.clone(), size)).await;
    let err = err.expect("a changed file fails");
    assert!(err.to_string().contains("re-read bytes differ"), "{err}");
    assert!(got.len() < size as usize, "not the whole file");
    // With the check left to the consumer (a whole file with the manifest's CRC) the fetch delivers old
    // prefix + new rest, and that consumer's CRC check is what fails it (tests/it/server.rs).
    let req = FileRequest {
        crc_checked_by_consumer: true,
        ..sized(url, size)
    };
    let (got, err) = collect(&client(), req).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), size as usize);
    assert_ne!(
        crc32fast::hash(&got),
        zipper::demo::generated_crc32(8, size)
    );
}

#[tokio::test]
async fn reset_every_time_fails_after_the_retries() {
    let o = origin().await;
    for knobs in [
        "reset_at=0&reset_times=99",
        "reset_at=0&reset_times=99&no_range=1",
    ] {
        let url = format!(
            "{}?{knobs}",
            o.file_url(5000, 7, &format!("n{}", knobs.len()))
        );
        let before = o.requests("/files/");
        let (got, err) = collect(&client(), sized(url, 5000)).await;
        assert!(got.is_empty());
        let err = err.expect("fails");
        assert!(
            matches!(err, FetchError::Transport { attempts: 4, .. }),
            "{err:?}"
        );
        assert_eq!(err.code(), Code::FileUnavailable);
        assert_eq!(o.requests("/files/") - before, 4, "{knobs}");
    }
}

#[tokio::test]
async fn resume_with_a_start_offset() {
    let o = origin().await;
    let size = 100_000;
    for (knobs, partial) in [
        ("reset_at=20000&chunk=4096", 2),
        ("reset_at=20000&chunk=4096&no_range=1", 0),
    ] {
        let url = format!("{}?{knobs}", o.file_url(size, 8, &format!("p{partial}")));
        let before = o.partial_responses("/files/");
        let req = FileRequest {
            start: 30_000,
            ..sized(url, size)
        };
        let (got, err) = collect(&client(), req).await;
        assert!(err.is_none(), "{knobs}: {err:?}");
        assert_eq!(got, generated_bytes(8, 30_000, 70_000), "{knobs}");
        assert_eq!(o.partial_responses("/files/") - before, partial, "{knobs}");
    }
}

#[tokio::test]
async fn start_and_end_window() {
    let o = origin().await;
    let size = 10_000;
    // With Range support: only the window is served.
    let req = FileRequest {
        start: 1000,
        end: Some(3000),
        ..sized(o.file_url(size, 9, "w.bin"), size)
    };
    let (got, err) = collect(&client(), req).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(9, 1000, 2000));
    assert_eq!(o.partial_responses("/files/"), 1);
    assert_eq!(o.bytes_served("/files/"), 2000);
    // Without: the prefix is read and dropped, and never more than end - start is yielded.
    let req = FileRequest {
        start: 1000,
        end: Some(3000),
        ..sized(o.file_url(size, 9, "w.bin") + "?no_range=1", size)
    };
    let (got, err) = collect(&client(), req).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(9, 1000, 2000));
    // Size unknown, start only.
    let req = FileRequest {
        start: 9990,
        ..FileRequest::new(o.file_url(size, 9, "w.bin") + "?no_range=1")
    };
    let (got, err) = collect(&client(), req).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(9, 9990, 10));
    // An empty window asks nothing; an inverted one is a caller error.
    let before = o.requests("");
    let empty = FileRequest {
        start: 10_000,
        ..sized(o.file_url(size, 9, "w.bin"), size)
    };
    let (got, err) = collect(&client(), empty).await;
    assert!(got.is_empty() && err.is_none(), "{err:?}");
    assert_eq!(o.requests(""), before);
    let inverted = FileRequest {
        start: 10,
        end: Some(5),
        ..sized(o.file_url(size, 9, "w.bin"), size)
    };
    let (_, err) = collect(&client(), inverted).await;
    assert!(matches!(err, Some(FetchError::BadWindow { .. })), "{err:?}");
}

#[tokio::test]
async fn declared_size_mismatch_fails_before_any_byte() {
    let o = origin().await;
    for (actual, expected) in [(1010, 1000), (990, 1000)] {
        let (got, err) = collect(&client(), sized(o.file_url(actual, 10, "m"), expected)).await;
        assert!(got.is_empty(), "no byte of a misdescribed file");
        let err = err.expect("fails");
        assert!(
            matches!(err, FetchError::SizeDeclared { expected: 1000, declared, .. } if declared == actual),
            "{err:?}"
        );
        assert_eq!(err.code(), Code::InvalidManifest);
    }
    assert_eq!(o.requests("/files/"), 2, "size errors are not retried");
}

#[tokio::test]
async fn undeclared_size_mismatch_is_caught_while_streaming() {
    let o = origin().await;
    // 1000 claimed by the manifest, 1010 sent chunked: fails, never delivering a byte past 1000.
    let url = o.file_url(1000, 11, "long") + "?lie=+10&chunk=100";
    let (got, err) = collect(&client(), sized(url, 1000)).await;
    assert!(got.len() <= 1000);
    assert_eq!(got, generated_bytes(11, 0, got.len()));
    assert!(
        matches!(err, Some(FetchError::TooLong { expected: 1000, .. })),
        "{err:?}"
    );
    // 990 sent chunked.
    let url = o.file_url(1000, 11, "short") + "?lie=-10&chunk=100";
    let (got, err) = collect(&client(), sized(url, 1000)).await;
    assert_eq!(got, generated_bytes(11, 0, 990));
    assert!(
        matches!(
            err,
            Some(FetchError::TooShort {
                expected: 1000,
                got: 990,
                ..
            })
        ),
        "{err:?}"
    );
    // Exactly the size, chunked: fine (the end is confirmed).
    let url = o.file_url(1000, 11, "exact") + "?chunked=1&chunk=100";
    let (got, err) = collect(&client(), sized(url, 1000)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(11, 0, 1000));
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let o = origin().await;
    let path = zipper::demo::file_path(3000, 12, "d.bin");
    let url = o.url(&format!("/redirect/4{path}"));
    let (got, err) = collect(&client(), sized(url, 3000)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(12, 0, 3000));
    let url = o.url(&format!("/redirect/5{path}"));
    let (_, err) = collect(&client(), sized(url, 3000)).await;
    let err = err.expect("six redirects are too many");
    assert!(
        matches!(
            &err,
            FetchError::NotAllowed {
                source: GuardError::TooManyRedirects { max: 5 },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn private_addresses_are_refused() {
    let o = origin().await;
    let strict = client_with(OriginSettings {
        allow_private_networks: false,
        ..settings()
    });
    // An IP literal never reaches DNS: refused before connecting.
    let (_, err) = collect(&strict, sized(o.file_url(10, 13, "x"), 10)).await;
    let err = err.expect("refused");
    assert!(
        matches!(
            &err,
            FetchError::NotAllowed {
                source: GuardError::PrivateAddress {
                    class: AddressClass::Loopback,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), Code::OriginNotAllowed);
    // A name resolving to loopback: refused by the resolver at connect time.
    let url = format!("http://localhost:{}/files/10/13/x", o.addr().port());
    let (_, err) = collect(&strict, sized(url, 10)).await;
    let err = err.expect("refused");
    assert!(
        matches!(
            &err,
            FetchError::NotAllowed {
                source: GuardError::PrivateAddress { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), Code::OriginNotAllowed);
    assert_eq!(o.total_requests(), 0, "nothing reached the origin");
}

#[tokio::test]
async fn redirects_are_checked_against_the_allowlist() {
    let o = origin().await;
    let only_ip = client_with(OriginSettings {
        file_hosts: HostAllowlist::new(["127.0.0.1"]).expect("valid"),
        ..settings()
    });
    let path = zipper::demo::file_path(10, 14, "x");
    let url = o.url(&format!("/redirect-host/localhost{path}"));
    let (_, err) = collect(&only_ip, sized(url, 10)).await;
    assert!(
        matches!(
            &err,
            Some(FetchError::NotAllowed {
                source: GuardError::HostNotAllowed { .. },
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        o.requests("/files/"),
        0,
        "the redirect target was not fetched"
    );
    let (got, err) = collect(&only_ip, sized(o.url(&path), 10)).await;
    assert!(err.is_none() && got.len() == 10, "{err:?}");
}

#[tokio::test]
async fn a_stalled_origin_times_out_and_is_retried() {
    let o = origin().await;
    // The head may take the connect timeout plus the read timeout: both short here.
    let impatient = client_with(OriginSettings {
        read_timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            retries: 1,
            ..settings().retry
        },
        ..settings()
    });
    let url = o.file_url(1000, 15, "slow") + "?delay_ms=2000";
    let (got, err) = collect(&impatient, sized(url, 1000)).await;
    assert!(got.is_empty());
    assert!(
        matches!(err, Some(FetchError::Transport { attempts: 2, .. })),
        "{err:?}"
    );
    // A body that stalls after every chunk still completes: each attempt makes progress, which starts the
    // retry count again.
    let url = o.file_url(500, 15, "trickle") + "?chunk=100&chunk_delay_ms=2000";
    let (got, err) = collect(&impatient, sized(url, 500)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated_bytes(15, 0, 500));
    assert_eq!(o.requests("/files/500/"), 5);
}

#[tokio::test]
async fn the_origin_is_read_only_as_fast_as_the_consumer_pulls() {
    let o = origin().await;
    let size = 256 * 1024 * 1024;
    let stream = fetch_file(&client(), sized(o.file_url(size, 16, "big"), size));
    futures_util::pin_mut!(stream);
    let first = within(stream.next()).await.expect("a chunk").expect("ok");
    assert!(!first.is_empty());
    // Let any buffering settle, then check the origin is not pushing the whole file.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let served = o.bytes_served("/files/");
    assert!(
        served < 32 * 1024 * 1024,
        "served {served} bytes to a stalled consumer"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        o.bytes_served("/files/"),
        served,
        "the origin stopped being read"
    );
}

// === manifests ===

fn zipper_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-zipper-time", HeaderValue::from_static("1554674400"));
    h.insert(
        "x-zipper-signature",
        HeaderValue::from_static("c2lnbmF0dXJl"),
    );
    h
}

#[tokio::test]
async fn manifest_is_fetched_with_the_contract_headers() {
    let o = origin().await;
    let json = serde_json::json!({ "files": [{ "url": "https://x/a", "path": "a" }] });
    let path = o.add_manifest(json.clone());
    let body = within(fetch_manifest(
        &client(),
        &o.url(&format!("{path}?timestamp=1")),
        zipper_headers(),
    ))
    .await
    .expect("fetched");
    assert_eq!(body, Bytes::from(json.to_string()));
    let seen = o.last_manifest_headers(&path).expect("recorded");
    assert_eq!(
        seen.get("accept").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(
        seen.get("x-zipper-time").and_then(|v| v.to_str().ok()),
        Some("1554674400")
    );
    assert!(seen.contains_key("x-zipper-signature"));
    let ua = seen
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(ua, concat!("zipper/", env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn manifest_statuses_map_to_contract_codes() {
    let o = origin().await;
    let path = o.add_manifest(serde_json::json!({ "files": [] }));
    let table = [
        (403, Code::Forbidden, 1),
        (404, Code::DownloadNotFound, 1),
        (410, Code::DownloadGone, 1),
        (500, Code::ManifestUnavailable, 1),
        (400, Code::ManifestUnavailable, 1),
        (502, Code::ManifestUnavailable, 4),
        (503, Code::ManifestUnavailable, 4),
        (504, Code::ManifestUnavailable, 4),
    ];
    for (status, code, requests) in table {
        let before = o.requests(&path);
        let url = o.url(&format!("{path}?timestamp=1&status={status}"));
        let err = within(fetch_manifest(&client(), &url, HeaderMap::new()))
            .await
            .expect_err("fails");
        assert_eq!(err.code(), code, "{status}: {err}");
        assert_eq!(o.requests(&path) - before, requests, "{status}");
    }
    // A 503 that clears up is retried to success.
    let url = o.url(&format!("{path}?timestamp=1&status=503&times=2"));
    let body = within(fetch_manifest(&client(), &url, HeaderMap::new())).await;
    assert!(body.is_ok(), "{body:?}");
    // Unknown manifest: 404 from the origin.
    let err = within(fetch_manifest(
        &client(),
        &o.url("/manifests/999?timestamp=1"),
        HeaderMap::new(),
    ))
    .await
    .expect_err("missing");
    assert!(
        matches!(err, ManifestFetchError::NotFound { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn manifest_size_cap() {
    let o = origin().await;
    let capped = client_with(OriginSettings {
        manifest_max_bytes: 1000,
        ..settings()
    });
    let at_cap = o.add_manifest_bytes(vec![b' '; 1000]);
    let body = within(fetch_manifest(&capped, &o.url(&at_cap), HeaderMap::new())).await;
    assert_eq!(body.map(|b| b.len()).ok(), Some(1000));
    let over = o.add_manifest_bytes(vec![b' '; 1001]);
    let err = within(fetch_manifest(&capped, &o.url(&over), HeaderMap::new()))
        .await
        .expect_err("too large");
    assert!(
        matches!(err, ManifestFetchError::TooLarge { limit: 1000, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), Code::InvalidManifest);
    // No Content-Length: counted while reading, and abandoned past the cap.
    let size = 256 * 1024 * 1024;
    let chunked = o.file_url(size, 1, "m.json") + "?chunked=1&chunk=100";
    let err = within(fetch_manifest(&capped, &chunked, HeaderMap::new()))
        .await
        .expect_err("too large");
    assert!(
        matches!(err, ManifestFetchError::TooLarge { .. }),
        "{err:?}"
    );
    // Socket buffers take some megabytes, but the body was abandoned long before its end.
    assert!(o.bytes_served("/files/") < 32 * 1024 * 1024);
}

#[tokio::test]
async fn manifest_timeout_and_refusal() {
    let o = origin().await;
    let path = o.add_manifest(serde_json::json!({ "files": [] }));
    let hasty = client_with(OriginSettings {
        manifest_timeout: Duration::from_millis(200),
        ..settings()
    });
    let url = o.url(&format!("{path}?timestamp=1&delay_ms=3000"));
    let err = within(fetch_manifest(&hasty, &url, HeaderMap::new()))
        .await
        .expect_err("times out");
    assert!(matches!(err, ManifestFetchError::Timeout { .. }), "{err:?}");
    assert_eq!(err.code(), Code::ManifestUnavailable);

    let strict = client_with(OriginSettings {
        allow_private_networks: false,
        ..settings()
    });
    let err = within(fetch_manifest(&strict, &o.url(&path), HeaderMap::new()))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::OriginNotAllowed);
    let other_host = client_with(OriginSettings {
        callback_hosts: HostAllowlist::new(["app.example.com"]).expect("valid"),
        ..settings()
    });
    let err = within(fetch_manifest(&other_host, &o.url(&path), HeaderMap::new()))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::OriginNotAllowed);
    assert_eq!(
        o.requests(&path),
        1,
        "only the timed-out request reached the origin"
    );
    let err = within(fetch_manifest(&client(), "ftp://x/y", HeaderMap::new()))
        .await
        .expect_err("bad url");
    assert_eq!(err.code(), Code::BadLink);
}

/// Manifest headers (credentials for one origin) are not sent on to another origin a redirect points to;
/// a same-origin redirect keeps them.
#[tokio::test]
async fn manifest_headers_do_not_follow_a_redirect_to_another_origin() {
    let o = origin().await;
    let c = client();
    let path = o.add_manifest(serde_json::json!({ "files": [] }));
    let with_key = |url: String| FileRequest {
        url,
        headers: vec![("x-api-key".into(), "k1".into())],
        ..Default::default()
    };
    // Same origin (127.0.0.1 → 127.0.0.1): the header arrives.
    let (body, err) = collect(&c, with_key(o.url(&format!("/redirect/1{path}")))).await;
    assert!(err.is_none(), "{err:?}");
    assert!(!body.is_empty());
    let seen = o.last_manifest_headers(&path).expect("request seen");
    assert_eq!(
        seen.get("x-api-key").and_then(|v| v.to_str().ok()),
        Some("k1")
    );
    // Another origin (127.0.0.1 → localhost): followed, but without the header.
    let (body, err) = collect(
        &c,
        with_key(o.url(&format!("/redirect-host/localhost{path}"))),
    )
    .await;
    assert!(err.is_none(), "{err:?}");
    assert!(!body.is_empty());
    let seen = o.last_manifest_headers(&path).expect("request seen");
    assert!(
        seen.get("x-api-key").is_none(),
        "the header crossed origins"
    );
}

#[tokio::test]
async fn origin_reads_are_at_most_one_read_buffer_even_for_a_slow_consumer() {
    let o = origin().await;
    let size = 4 << 20;
    let stream = fetch_file(&client(), sized(o.file_url(size, 17, "big"), size));
    let mut stream = std::pin::pin!(stream);
    let mut largest = 0usize;
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        largest = largest.max(chunk.len());
        total += chunk.len() as u64;
        // A consumer slower than the origin: the kernel buffers fill between reads.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(total, size);
    assert!(largest <= ORIGIN_READ_MAX, "a chunk of {largest} bytes");
}

/// A keep-alive HTTP/1.1 origin that answers every request with `body` and counts its connections.
async fn counting_origin(
    body: &'static [u8],
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    counting_origin_with_head(body, String::new()).await
}

/// [`counting_origin`] whose response heads also carry `extra` (header lines, each ending in CRLF).
async fn counting_origin_with_head(
    body: &'static [u8],
    extra: String,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let extra = extra.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
                    buf.drain(..end);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra}\r\n",
                        body.len()
                    );
                    if sock.write_all(head.as_bytes()).await.is_err()
                        || sock.write_all(body).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/f"), accepted)
}

#[tokio::test]
async fn a_sized_body_says_it_ended_with_its_last_chunk_and_its_connection_is_reused() {
    static BODY: [u8; 10_000] = [7u8; 10_000];
    let (url, accepted) = counting_origin(&BODY).await;
    let client = client();
    for _ in 0..10 {
        within(async {
            let stream = fetch_file(&client, sized(url.clone(), BODY.len() as u64));
            futures_util::pin_mut!(stream);
            let mut got = 0;
            // Read like the read-ahead does: stop once the stream says it has ended, without polling again.
            while let Some(chunk) = stream.next().await {
                got += chunk.expect("chunk").len();
                if stream.size_hint().1 == Some(0) {
                    break;
                }
            }
            assert_eq!(got, BODY.len());
            assert_eq!(
                stream.size_hint(),
                (0, Some(0)),
                "the end was known with the last chunk"
            );
            assert!(stream.next().await.is_none());
        })
        .await;
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "ten files over one kept-alive connection"
    );
}

#[tokio::test]
async fn a_response_head_larger_than_a_lean_read_is_asked_for_again_with_larger_reads() {
    static BODY: [u8; 3_000] = [9u8; 3_000];
    // 20 KiB of headers: over the lean pool's 8 KiB reads, within the bulk pool's.
    let extra = format!("X-Padding: {}\r\n", "p".repeat(20 * 1024));
    let (url, accepted) = counting_origin_with_head(&BODY, extra).await;
    let client = client();
    within(async {
        let stream = fetch_file(&client, sized(url.clone(), BODY.len() as u64));
        futures_util::pin_mut!(stream);
        let mut got = Vec::new();
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.expect("chunk"));
        }
        assert_eq!(got, BODY);
    })
    .await;
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one lean connection refused the head, one bulk connection read it"
    );
}

/// Reads `req` through `client`, asking its switch to move to bulk reads after the first chunk, then
/// taking a few chunks slowly (so the kernel buffers fill between reads). The bytes, and the largest chunk
/// after the request.
async fn read_with_switch(
    client: &OriginClient,
    req: FileRequest,
    switch: &BulkSwitch,
) -> (Vec<u8>, usize) {
    within(async {
        let stream = fetch_file(client, req);
        futures_util::pin_mut!(stream);
        let (mut got, mut largest, mut slow) = (Vec::new(), 0usize, 0);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("chunk");
            if got.is_empty() {
                if switch.offered() {
                    switch.request();
                }
            } else {
                largest = largest.max(chunk.len());
            }
            got.extend_from_slice(&chunk);
            if slow < 8 && !got.is_empty() {
                slow += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        (got, largest)
    })
    .await
}

#[tokio::test]
async fn a_lean_fetch_asked_to_move_to_bulk_reads_resumes_the_rest_exactly_with_range() {
    let o = origin().await;
    let size = 12 << 20;
    let switch = BulkSwitch::default();
    let req = FileRequest {
        bulk_switch: Some(switch.clone()),
        ..sized(o.file_url(size, 3, "big.bin"), size)
    };
    let (got, largest) = read_with_switch(&client(), req, &switch).await;
    assert!(
        got == generated_bytes(3, 0, size as usize),
        "byte-exact across the move"
    );
    assert_eq!(
        o.requests("/files/"),
        2,
        "one lean request, one for the rest"
    );
    assert_eq!(o.partial_responses("/files/"), 1, "the rest came as a 206");
    assert!(
        largest > ORIGIN_READ_MAX,
        "bulk reads after the move: largest chunk {largest} bytes"
    );
}

#[tokio::test]
async fn a_lean_fetch_does_not_offer_to_move_without_ranges_or_with_little_left() {
    let o = origin().await;
    // An origin that serves no ranges: no offer, one request.
    let size = 12 << 20;
    let switch = BulkSwitch::default();
    let req = FileRequest {
        bulk_switch: Some(switch.clone()),
        ..sized(o.file_url(size, 4, "n.bin") + "?no_range=1", size)
    };
    let (got, largest) = read_with_switch(&client(), req, &switch).await;
    assert!(got == generated_bytes(4, 0, size as usize));
    assert!(!switch.offered() && largest <= ORIGIN_READ_MAX);
    assert_eq!(o.requests("/files/"), 1);
    // Less than the move's minimum left: the request is taken but the fetch stays lean.
    let small = 1 << 20;
    let switch = BulkSwitch::default();
    let req = FileRequest {
        bulk_switch: Some(switch.clone()),
        ..sized(o.file_url(small, 5, "s.bin"), small)
    };
    let (got, largest) = read_with_switch(&client(), req, &switch).await;
    assert!(got == generated_bytes(5, 0, small as usize));
    assert!(largest <= ORIGIN_READ_MAX);
    assert_eq!(o.requests("/files/"), 2, "one more request in all");
}
