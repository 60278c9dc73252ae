//! Request-scoped logs and trace context: the `zipper serve` binary, run as a process with
//! `ZIPPER_LOG_FORMAT=json`, writes one JSON line per download at its end (key id, callback host, entries,
//! bytes, duration, outcome, the request id; never the callback's path, query tokens, the signature or a secret); a
//! client's W3C `traceparent` reaches the origin with the manifest and the file requests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zipper::core::keys::{KeyId, Secret};
use zipper::core::link::build_link_path;
use zipper::demo::{generated_crc32, DemoOrigin};

use crate::server::{f, get, manifest, now, start};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The child process, killed when the test ends (it is ours: started below).
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next JSON line on `lines` that `pick` accepts, within 10 s.
fn wait_line(lines: &mpsc::Receiver<String>, pick: impl Fn(&Value) -> bool) -> (Value, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).expect("a log line in time");
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if pick(&value) {
            return (value, line);
        }
    }
}

#[tokio::test]
async fn a_download_ends_with_one_json_log_line_without_secrets() {
    let origin = DemoOrigin::start_with_faults().await.expect("origin");
    let secret_text = "log-test-secret-value";
    let mut child = Command::new(env!("CARGO_BIN_EXE_zipper"))
        .arg("serve")
        .env_clear()
        .env("ZIPPER_KEYS", format!("logkey:{secret_text}"))
        .env("ZIPPER_LISTEN", "127.0.0.1:0")
        .env("ZIPPER_ADMIN_LISTEN", "127.0.0.1:0")
        .env("ZIPPER_ALLOW_PRIVATE_NETWORKS", "true")
        .env("ZIPPER_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start zipper serve");
    let stderr = child.stderr.take().expect("stderr");
    let _serve = Serve(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (listening, _) = wait_line(&lines, |v| v["message"] == "zipper listening");
    let public = listening["public_addr"].as_str().expect("public_addr");

    let entries = json!({ "files": [
        { "url": origin.file_url(3000, 1, "a.bin"), "path": "a.bin", "size": 3000,
          "crc32": format!("{:08x}", generated_crc32(1, 3000)) },
        { "url": origin.file_url(500, 2, "b.bin"), "path": "dir/b.bin", "size": 500 },
    ]});
    let path = origin.add_manifest(entries);
    let callback = origin.url(&format!("{path}?timestamp={}&token=query-token-123", now()));
    let key = KeyId::parse("logkey").expect("key id");
    let secret = Secret::new(secret_text).expect("secret");
    let link_path = build_link_path(&key, &secret, &callback, "logs.zip");
    let signature = link_path.split('/').nth(3).expect("signature").to_string();
    let got = get(
        &format!("http://{public}{link_path}"),
        &[("x-request-id", "log-req-7")],
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["x-request-id"], "log-req-7");
    let sent = got.body.expect("body").len();

    let (line, raw) = wait_line(&lines, |v| v["message"] == "download ended");
    assert_eq!(line["level"], "INFO", "{raw}");
    assert_eq!(line["target"], "zipper::download", "{raw}");
    assert_eq!(line["key_id"], "logkey", "{raw}");
    assert_eq!(
        line["request_id"], "log-req-7",
        "the client's id joins the line: {raw}"
    );
    assert_eq!(
        line["callback_host"],
        format!("127.0.0.1:{}", origin.addr().port()),
        "{raw}"
    );
    assert_eq!(line["entries"], 2, "{raw}");
    assert_eq!(line["bytes"], sent as u64, "{raw}");
    assert_eq!(line["outcome"], "completed", "{raw}");
    assert!(line["duration_ms"].is_u64(), "{raw}");
    assert!(line["timestamp"].is_string(), "{raw}");
    for secret in [
        secret_text,
        "query-token-123",
        "timestamp=",
        path.as_str(),
        signature.as_str(),
    ] {
        assert!(!raw.contains(secret), "{secret:?} in the log line: {raw}");
    }
}

#[tokio::test]
async fn a_clients_traceparent_reaches_the_origin_and_a_malformed_one_does_not() {
    let demo = start().await;
    let files = [f("t.bin", 40_000, 31, false)];
    let (m, _) = manifest(&demo, &files);
    let file_path = zipper::demo::file_path(40_000, 31, "file.bin");
    let path = demo.origin.add_manifest(m.clone());
    let link = demo.link_to(&format!("{path}?timestamp={}", now()), "t.zip");

    let got = get(&link, &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(got.status, 200);
    let headers = demo
        .origin
        .last_manifest_headers(&path)
        .expect("manifest asked");
    assert_eq!(headers["traceparent"], TRACEPARENT);
    assert_eq!(
        demo.origin.last_file_traceparent(&file_path).as_deref(),
        Some(TRACEPARENT)
    );

    // A range of the same archive: the ranged file request (and the CRC read it needs) carry it too.
    let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let got = get(&link, &[("traceparent", other), ("range", "bytes=-100")]).await;
    assert_eq!(got.status, 206);
    assert_eq!(
        demo.origin.last_file_traceparent(&file_path).as_deref(),
        Some(other)
    );

    // A malformed value is dropped: the download works and the origin sees none.
    let path2 = demo.origin.add_manifest(m);
    let link2 = demo.link_to(&format!("{path2}?timestamp={}", now()), "t.zip");
    let got = get(&link2, &[("traceparent", "00-not-a-trace-01")]).await;
    assert_eq!(got.status, 200);
    let headers = demo
        .origin
        .last_manifest_headers(&path2)
        .expect("manifest asked");
    assert!(headers.get("traceparent").is_none());
}
