//! Completion reports (issue 16, docs/reports.md) through the real server and a real origin on 127.0.0.1:
//! completed, failed mid-stream, cancelled, a 206 resume, a flaky and an unreachable `notify_url`, refused
//! addresses, and SIGTERM with reports queued; every report's signature is checked with the documented
//! recipe, and the origin-side snippets are run against the test vector and a live report. Also the request
//! id: kept when valid, replaced when not, in every response and in the manifest request.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{json, Value};
use zipper::core::keys::{KeyId, Secret};
use zipper::core::link::build_link_path;
use zipper::demo::{Demo, DemoOrigin};
use zipper::metrics::Metrics;
use zipper::origin::{OriginClient, OriginSettings};
use zipper::report::{Job, ReportSettings, Reports};

use crate::server::{error_code, f, get, manifest, now, start_with, F};

/// The documented test vector (docs/reports.md).
const VECTOR_SECRET: &str = "zipper-test-secret";
const VECTOR_TIME: &str = "1554674402";
const VECTOR_SIGNATURE: &str = "canCDXkc9h7BhE8utwiKfuXhiDW6I2ar_g613KWrvT4";

fn snippet(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/snippets")
        .join(name)
}

async fn start() -> Demo {
    start_with(|c| c.report_retries = 3).await
}

/// `m` with `notify_url`.
fn notify(mut m: Value, url: &str) -> Value {
    m["notify_url"] = json!(url);
    m
}

/// Waits (at most 10 s) until `path` on `origin` has `n` reports; returns them.
async fn reports(origin: &DemoOrigin, path: &str, n: usize) -> Vec<(HeaderMap, Bytes)> {
    for _ in 0..500 {
        let got = origin.reports(path);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path}: fewer than {n} reports after 10 s");
}

/// Waits (at most 10 s) until `counter` reaches `n`.
async fn counted(metrics: &Metrics, counter: fn(&Metrics) -> u64, n: u64) {
    for _ in 0..500 {
        if counter(metrics) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("counter below {n} after 10 s: {}", metrics.render());
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Checks the report's headers and signature with the documented recipe (independently of zipper's code),
/// and returns the parsed body.
fn verified(secret: &Secret, headers: &HeaderMap, body: &[u8]) -> Value {
    assert_eq!(header(headers, "content-type"), "application/json");
    let time = header(headers, "x-zipper-time");
    let t: i64 = time.parse().expect("X-Zipper-Time is unix seconds");
    assert!((now() - t).abs() < 60, "X-Zipper-Time {time} is not now");
    let mut signed = format!("{time}\n").into_bytes();
    signed.extend_from_slice(body);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose());
    let expected =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, &signed));
    assert_eq!(header(headers, "x-zipper-signature"), expected, "signature");
    let report: Value = serde_json::from_slice(body).expect("JSON report");
    assert_eq!(header(headers, "x-request-id"), report["request_id"]);
    report
}

/// The one report at `path`, verified.
async fn the_report(demo: &Demo, path: &str) -> Value {
    let got = reports(&demo.origin, path, 1).await;
    assert_eq!(got.len(), 1, "{path}: one report");
    verified(demo.secret(), &got[0].0, &got[0].1)
}

fn assert_no_secret(report: &Value, demo: &Demo) {
    let text = report.to_string();
    let secret = String::from_utf8_lossy(demo.secret().expose()).into_owned();
    assert!(!text.contains(&secret), "the secret is in the report");
}

#[tokio::test]
async fn a_completed_download_reports_every_byte_and_the_renames() {
    let demo = start().await;
    let (m, _) = manifest(
        &demo,
        &[f("a.jpg", 20_000, 1, true), f("a.jpg", 5_000, 2, false)],
    );
    let url = demo.origin.report_url("done");
    let ts = now();
    let link = demo.link(&notify(m, &url), "photos.zip", ts);
    let got = get(&link, &[("x-request-id", "client-req.42")]).await;
    assert_eq!(got.status, 200);
    let body = got.body.as_ref().expect("body");
    assert_eq!(got.headers["x-request-id"], "client-req.42");

    let r = the_report(&demo, "/reports/done").await;
    assert_no_secret(&r, &demo);
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["request_id"], "client-req.42");
    assert_eq!(r["link_timestamp"], ts);
    assert_eq!(r["filename"], "photos.zip");
    assert_eq!(r["status"], 200);
    assert_eq!(r["range"], Value::Null);
    assert_eq!(r["content_length"], body.len());
    assert_eq!(r["bytes_sent"], body.len());
    assert_eq!(r["files"], 2);
    assert_eq!(
        r["renamed"],
        json!([{ "index": 1, "path": "a.jpg", "name": "a (1).jpg" }])
    );
    assert_eq!(r["renamed_omitted"], 0);
    assert_eq!(r["error"], Value::Null);
    let started = r["started_at"].as_str().expect("started_at");
    assert!(started.ends_with('Z') && started.len() == 24, "{started}");
    assert!(r["duration_ms"].as_u64().is_some());
    let metrics = &demo.server.state.metrics;
    counted(metrics, |m| m.reports_sent.get(), 1).await;
    assert_eq!(metrics.reports_failed.get(), 0);
    // The manifest request carried the same id.
    let path = link_manifest_path(&link);
    let headers = demo
        .origin
        .last_manifest_headers(&path)
        .expect("manifest asked");
    assert_eq!(header(&headers, "x-request-id"), "client-req.42");
}

/// `/manifests/{id}` of a demo link (its callback segment, decoded).
fn link_manifest_path(link: &str) -> String {
    let callback = link.split('/').nth(4).expect("callback segment");
    let decoded = percent_encoding::percent_decode_str(callback)
        .decode_utf8()
        .expect("utf-8")
        .into_owned();
    let url = url::Url::parse(&decoded).expect("callback URL");
    url.path().to_string()
}

#[tokio::test]
async fn request_ids_are_kept_when_valid_replaced_when_not_and_on_every_answer() {
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("a.bin", 100, 1, true)]);
    let link = demo.link(&m, "x.zip", now());
    let fresh = |v: &str| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit());
    let got = get(&link, &[]).await;
    assert_eq!(got.status, 200);
    let generated = got.headers["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(fresh(&generated), "{generated}");
    let again = get(&link, &[]).await;
    assert_ne!(
        again.headers["x-request-id"],
        generated.as_str(),
        "a new id per request"
    );
    let long = "a".repeat(129);
    for bad in ["has space", "semi;colon", long.as_str()] {
        let got = get(&link, &[("x-request-id", bad)]).await;
        let id = got.headers["x-request-id"].to_str().expect("text");
        assert!(fresh(id), "{bad:?} was replaced by {id}");
    }
    // Error answers carry it too: a route that is not a link, and a forged link.
    let base = format!("http://{}", demo.server.public_addr);
    let got = get(&format!("{base}/nope"), &[("x-request-id", "e-1")]).await;
    assert_eq!(got.status, 404);
    assert_eq!(got.headers["x-request-id"], "e-1");
    let forged = {
        let mut parts: Vec<&str> = link.split('/').collect();
        let n = parts.len();
        parts[n - 2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        parts.join("/")
    };
    let got = get(&forged, &[("x-request-id", "e-2")]).await;
    assert_eq!(got.status, 403);
    assert_eq!(error_code(&got), "bad_signature");
    assert_eq!(got.headers["x-request-id"], "e-2");
}

#[tokio::test]
async fn a_download_that_fails_mid_stream_names_the_file_and_the_reason() {
    let demo = start().await;
    let broken = F {
        knobs: "status=404",
        ..f("b.bin", 3_000, 2, true)
    };
    let (m, _) = manifest(&demo, &[f("a.bin", 200_000, 1, true), broken]);
    let url = demo.origin.report_url("failed");
    let got = get(&demo.link(&notify(m, &url), "x.zip", now()), &[]).await;
    assert_eq!(got.status, 200, "the head was sent before b.bin failed");
    assert!(got.body.is_err(), "the client sees a broken download");

    let r = the_report(&demo, "/reports/failed").await;
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["status"], 200);
    let sent = r["bytes_sent"].as_u64().expect("bytes_sent");
    let length = r["content_length"].as_u64().expect("content_length");
    assert!(sent > 200_000 && sent < length, "{sent} of {length}");
    assert_eq!(r["error"]["code"], "file_unavailable");
    assert_eq!(r["error"]["path"], "b.bin");
    let message = r["error"]["message"].as_str().expect("message");
    assert!(message.contains("404"), "{message}");
}

#[tokio::test]
async fn a_first_file_that_fails_is_reported_with_the_error_status() {
    let demo = start().await;
    let broken = F {
        knobs: "status=404",
        ..f("gone.bin", 3_000, 2, true)
    };
    let (m, _) = manifest(&demo, &[broken]);
    let url = demo.origin.report_url("first");
    let got = get(&demo.link(&notify(m, &url), "x.zip", now()), &[]).await;
    assert_eq!(got.status, 502);
    assert_eq!(error_code(&got), "file_unavailable");
    let r = the_report(&demo, "/reports/first").await;
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["status"], 502);
    assert_eq!(r["bytes_sent"], 0);
    assert_eq!(r["content_length"], Value::Null);
    assert_eq!(r["error"]["code"], "file_unavailable");
    assert_eq!(r["error"]["path"], "gone.bin");
}

#[tokio::test]
async fn a_client_that_leaves_is_reported_cancelled() {
    let demo = start().await;
    let slow = F {
        knobs: "chunk=4096&chunk_delay_ms=20",
        ..f("big.bin", 2_000_000, 1, true)
    };
    let (m, _) = manifest(&demo, &[slow]);
    let url = demo.origin.report_url("left");
    let link = demo.link(&notify(m, &url), "x.zip", now());
    let mut res = reqwest::get(&link).await.expect("head");
    assert_eq!(res.status(), 200);
    let mut read = 0;
    while read < 20_000 {
        read += res.chunk().await.expect("chunk").expect("data").len();
    }
    drop(res);

    let r = the_report(&demo, "/reports/left").await;
    assert_eq!(r["outcome"], "cancelled");
    assert_eq!(r["error"], Value::Null);
    let sent = r["bytes_sent"].as_u64().expect("bytes_sent");
    assert!((20_000..2_000_000).contains(&sent), "{sent}");
}

#[tokio::test]
async fn a_206_resume_reports_its_range() {
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("a.bin", 50_000, 1, true)]);
    let url = demo.origin.report_url("range");
    let link = demo.link(&notify(m, &url), "x.zip", now());
    let got = get(&link, &[("range", "bytes=100-1099")]).await;
    assert_eq!(got.status, 206);
    let total: u64 = got.headers["content-range"]
        .to_str()
        .expect("text")
        .rsplit('/')
        .next()
        .and_then(|t| t.parse().ok())
        .expect("total");
    let r = the_report(&demo, "/reports/range").await;
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["status"], 206);
    assert_eq!(
        r["range"],
        json!({ "start": 100, "end": 1099, "total": total })
    );
    assert_eq!(r["content_length"], 1000);
    assert_eq!(r["bytes_sent"], 1000);
}

#[tokio::test]
async fn a_notify_origin_that_answers_503_twice_gets_the_report_once() {
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("a.bin", 1_000, 1, true)]);
    let url = format!("{}?status=503&times=2", demo.origin.report_url("flaky"));
    let got = get(&demo.link(&notify(m, &url), "x.zip", now()), &[]).await;
    assert_eq!(got.status, 200);
    let metrics = &demo.server.state.metrics;
    counted(metrics, |m| m.reports_sent.get(), 1).await;
    let r = the_report(&demo, "/reports/flaky").await;
    assert_eq!(r["outcome"], "completed");
    assert_eq!(demo.origin.requests("/reports/flaky"), 3, "503, 503, 204");
    assert_eq!(metrics.reports_retried.get(), 2);
    assert_eq!(metrics.reports_failed.get(), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        demo.origin.reports("/reports/flaky").len(),
        1,
        "delivered once"
    );
}

#[tokio::test]
async fn an_unreachable_notify_url_never_holds_the_download_and_is_counted() {
    let demo = start_with(|c| c.report_retries = 2).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let (m, _) = manifest(&demo, &[f("a.bin", 10_000, 1, true)]);
    let url = format!("http://127.0.0.1:{port}/reports");
    let got = get(&demo.link(&notify(m, &url), "x.zip", now()), &[]).await;
    assert_eq!(got.status, 200);
    assert!(got.body.expect("complete archive").len() > 10_000);
    let metrics = &demo.server.state.metrics;
    counted(metrics, |m| m.reports_failed.get(), 1).await;
    assert_eq!(metrics.reports_retried.get(), 2);
    assert_eq!(metrics.reports_sent.get(), 0);
    assert_eq!(metrics.completed.get(), 1);
    let text = metrics.render();
    assert!(text.contains("zipper_reports_failed_total 1\n"), "{text}");
    assert!(text.contains("zipper_reports_retried_total 2\n"), "{text}");
}

#[tokio::test]
async fn a_refused_notify_url_fails_the_download_before_anything_is_fetched() {
    // The metadata address is refused even with private networks allowed; an allowlist refuses the rest.
    let demo = start_with(|c| {
        c.callback_hosts = zipper::origin::HostAllowlist::new(["127.0.0.1"]).expect("list")
    })
    .await;
    let other_host = demo
        .origin
        .report_url("never")
        .replace("127.0.0.1", "localhost");
    for url in ["http://169.254.169.254/latest/reports", other_host.as_str()] {
        let (m, _) = manifest(&demo, &[f("a.bin", 1_000, 1, true)]);
        let got = get(&demo.link(&notify(m, url), "x.zip", now()), &[]).await;
        assert_eq!(got.status, 502, "{url}");
        assert_eq!(error_code(&got), "origin_not_allowed", "{url}");
        let body = String::from_utf8_lossy(got.body.as_ref().expect("body")).into_owned();
        assert!(body.contains("notify_url"), "{body}");
    }
    assert_eq!(demo.origin.requests("/files/"), 0, "nothing fetched");
    assert_eq!(demo.origin.requests("/reports/"), 0, "never contacted");
}

#[tokio::test]
async fn without_private_networks_a_private_notify_host_is_never_contacted() {
    // A listener on 127.0.0.1 that counts connections, and a sender whose guard refuses private addresses.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let accept = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let client = OriginClient::new(OriginSettings::default()).expect("client");
    assert!(!client.settings().allow_private_networks);
    let metrics = Arc::new(Metrics::default());
    let settings = ReportSettings {
        backoff: Duration::from_millis(1),
        ..ReportSettings::default()
    };
    let reports = Reports::new(client, Arc::clone(&metrics), settings, Arc::new(now));
    // An IP literal, and a name that resolves to it (refused at connect time, by the guarded resolver).
    for host in ["127.0.0.1", "localhost"] {
        reports.submit(Job {
            url: url::Url::parse(&format!("http://{host}:{port}/r")).expect("url"),
            secret: Secret::new("s").expect("secret"),
            request_id: "r".into(),
            body: Bytes::from_static(b"{}"),
        });
    }
    counted(&metrics, |m| m.reports_failed.get(), 2).await;
    assert_eq!(metrics.reports_retried.get(), 0, "a refusal is not retried");
    assert_eq!(metrics.reports_sent.get(), 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "never contacted");
    accept.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_queued_reports_and_exits_0() {
    let origin = DemoOrigin::start_with_faults().await.expect("origin");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
    };
    let (public, admin) = (free(), free());
    let secret_text = "sigterm-test-secret-0123456789";
    let mut child = Command::new(env!("CARGO_BIN_EXE_zipper"))
        .arg("serve")
        .env_clear()
        .env("ZIPPER_KEYS", format!("main:{secret_text}"))
        .env("ZIPPER_LISTEN", public.to_string())
        .env("ZIPPER_ADMIN_LISTEN", admin.to_string())
        .env("ZIPPER_ALLOW_PRIVATE_NETWORKS", "true")
        .env("ZIPPER_SHUTDOWN_GRACE_SECS", "15")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("zipper serve starts");
    let mut up = false;
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(public).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "zipper serve did not listen");

    // More reports than senders (8), each answered after 2 s: some wait in the queue at SIGTERM.
    let key = KeyId::parse("main").expect("key id");
    let secret = Secret::new(secret_text).expect("secret");
    let notify_url = format!("{}?delay_ms=2000", origin.report_url("drain"));
    let downloads = 12;
    for i in 0..downloads {
        let m = json!({
            "notify_url": notify_url,
            "files": [{ "url": origin.file_url(1_000, i, "f.bin"), "path": "f.bin", "size": 1000 }]
        });
        let path = origin.add_manifest(m);
        let callback = origin.url(&format!("{path}?timestamp={}", now()));
        let link = format!(
            "http://{public}{}",
            build_link_path(&key, &secret, &callback, "x.zip")
        );
        let got = get(&link, &[]).await;
        assert_eq!(got.status, 200);
        got.body.expect("archive");
    }
    assert!(
        origin.reports("/reports/drain").len() < downloads as usize,
        "the reports were still queued at SIGTERM"
    );
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let mut status = None;
    for _ in 0..800 {
        if let Some(s) = child.try_wait().expect("wait") {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("zipper did not exit within 20 s of SIGTERM: {stderr}");
    };
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(
        !stderr.contains(secret_text),
        "the secret leaked into the logs"
    );
    let got = origin.reports("/reports/drain");
    assert_eq!(
        got.len(),
        downloads as usize,
        "every queued report delivered: {stderr}"
    );
    for (headers, body) in &got {
        let r = verified(&secret, headers, body);
        assert_eq!(r["outcome"], "completed");
    }
}

// === the origin side: the documented snippets ===

/// Runs a verifier snippet; true when it says the report is authentic.
fn snippet_accepts(
    program: &str,
    file: &str,
    secret: &str,
    time: &str,
    sig: &str,
    body: &std::path::Path,
    now: Option<&str>,
) -> bool {
    let mut cmd = Command::new(program);
    cmd.arg(snippet(file))
        .args([secret, time, sig])
        .arg(body)
        .args(now);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match (out.status.code(), said.as_str()) {
        (Some(0), "authentic") => true,
        (Some(1), "REJECTED") => false,
        other => panic!(
            "{program} {file}: {other:?} {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

const VERIFIERS: [(&str, &str); 3] = [
    ("python3", "verify_report.py"),
    ("node", "verify_report.js"),
    ("ruby", "verify_report.rb"),
];

#[test]
fn every_snippet_verifies_the_test_vector_and_refuses_forgeries() {
    let vector = snippet("report-vector.json");
    // That the file is zipper's JSON for the vector's report: `core::report::tests`.
    let bytes = std::fs::read(&vector).expect("vector file");
    let secret = Secret::new(VECTOR_SECRET).expect("secret");
    let time: i64 = VECTOR_TIME.parse().expect("time");
    assert_eq!(
        zipper::core::report::sign(&secret, time, &bytes),
        VECTOR_SIGNATURE
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let tampered = dir.path().join("tampered.json");
    std::fs::write(
        &tampered,
        String::from_utf8_lossy(&bytes).replace("830", "831"),
    )
    .expect("write");
    let soon = Some("1554674500");
    let late = Some("1554675000");
    for (program, file) in VERIFIERS {
        let ok =
            |secret: &str, time: &str, sig: &str, body: &std::path::Path, now: Option<&str>| {
                snippet_accepts(program, file, secret, time, sig, body, now)
            };
        assert!(
            ok(VECTOR_SECRET, VECTOR_TIME, VECTOR_SIGNATURE, &vector, soon),
            "{file}"
        );
        assert!(
            !ok("other-secret", VECTOR_TIME, VECTOR_SIGNATURE, &vector, soon),
            "{file}: secret"
        );
        assert!(
            !ok(VECTOR_SECRET, "1554674403", VECTOR_SIGNATURE, &vector, soon),
            "{file}: time"
        );
        assert!(
            !ok(
                VECTOR_SECRET,
                VECTOR_TIME,
                VECTOR_SIGNATURE,
                &tampered,
                soon
            ),
            "{file}: body"
        );
        assert!(
            !ok(
                VECTOR_SECRET,
                VECTOR_TIME,
                &VECTOR_SIGNATURE[1..],
                &vector,
                soon
            ),
            "{file}: short"
        );
        assert!(
            !ok(VECTOR_SECRET, VECTOR_TIME, VECTOR_SIGNATURE, &vector, late),
            "{file}: replay"
        );
        assert!(
            !ok(
                VECTOR_SECRET,
                "+1554674402",
                VECTOR_SIGNATURE,
                &vector,
                soon
            ),
            "{file}: sign"
        );
    }
}

#[tokio::test]
async fn every_snippet_verifies_a_live_report() {
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("ünïcode é.bin", 3_000, 1, true)]);
    let url = demo.origin.report_url("live");
    let got = get(&demo.link(&notify(m, &url), "x.zip", now()), &[]).await;
    assert_eq!(got.status, 200);
    let got = reports(&demo.origin, "/reports/live", 1).await;
    let (headers, body) = &got[0];
    verified(demo.secret(), headers, body);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("report.json");
    std::fs::write(&file, body).expect("write");
    let secret = String::from_utf8(demo.secret().expose().to_vec()).expect("text secret");
    for (program, snippet_file) in VERIFIERS {
        assert!(
            snippet_accepts(
                program,
                snippet_file,
                &secret,
                header(headers, "x-zipper-time"),
                header(headers, "x-zipper-signature"),
                &file,
                None,
            ),
            "{snippet_file}"
        );
    }
}
