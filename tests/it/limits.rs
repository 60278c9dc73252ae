//! Process-wide bounds through the real server, with small numbers (the figures at scale are the crowd
//! benchmark's): admission when the memory budget is spent, HTTP/2 streams that stall and connections that
//! send nothing, an origin that drips, a first file that fails before the head, and a range at byte 1 of a
//! large archive.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zipper::budget::FLOOR;

use crate::server::{error_code, f, get, manifest, now, start_with, F};

/// Polls `cond` every 20 ms for up to `limit`; whether it became true.
async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

#[tokio::test]
async fn downloads_beyond_the_memory_budget_get_503_and_running_ones_hold_only_their_floor() {
    // 1 MiB: an eighth backs floors, so eight downloads of 16 KiB fit.
    let demo = start_with(|c| c.memory_budget_bytes = 1 << 20).await;
    let (m, _) = manifest(&demo, &[f("big.bin", 64 << 20, 1, true)]);
    let link = demo.link(&m, "x.zip", now());
    let fits = (1 << 20) / 8 / FLOOR;
    assert_eq!(fits, 8);
    let mut held = Vec::new();
    for _ in 0..fits {
        let res = reqwest::get(&link).await.expect("head");
        assert_eq!(res.status(), 200);
        held.push(res);
    }
    let budget = &demo.server.state.budget;
    // Nobody reads: each download holds its floor and borrows nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(budget.in_use(), fits * FLOOR, "floors only, no read-ahead");
    let one_more = get(&link, &[]).await;
    assert_eq!(one_more.status, 503);
    assert_eq!(error_code(&one_more), "overloaded");
    assert!(one_more.headers.get("retry-after").is_some());
    drop(held);
    assert!(
        eventually(Duration::from_secs(5), || budget.in_use() == 0).await,
        "budget returned when the clients left: {} in use",
        budget.in_use()
    );
    let again = reqwest::get(&link).await.expect("head");
    assert_eq!(again.status(), 200, "admitted again");
}

#[tokio::test]
async fn a_stalled_http2_stream_releases_everything_and_its_connection_closes() {
    let demo = start_with(|c| c.client_write_timeout = Duration::from_millis(500)).await;
    let (m, _) = manifest(
        &demo,
        &[f("a.bin", 8 << 20, 1, true), f("b.bin", 8 << 20, 2, true)],
    );
    let link = demo.link(&m, "x.zip", now());
    let path = link
        .split_once("//")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, p)| format!("/{p}"))
        .expect("path");
    let tcp = tokio::net::TcpStream::connect(demo.server.public_addr)
        .await
        .expect("connect");
    // A client that never opens its stream window, but keeps its connection polled (answers pings).
    let (mut client, conn) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake::<_, bytes::Bytes>(tcp)
        .await
        .expect("h2 handshake");
    let conn_task = tokio::spawn(conn);
    let uri = format!("http://{}{path}", demo.server.public_addr);
    let req = http::Request::get(uri).body(()).expect("request");
    let (response, _) = client.send_request(req, true).expect("send");
    let response = response.await.expect("response head");
    assert_eq!(response.status(), 200);
    let budget = &demo.server.state.budget;
    assert!(budget.in_use() > 0);
    let released = eventually(Duration::from_secs(5), || budget.in_use() == 0).await;
    assert!(released, "{} bytes still held", budget.in_use());
    // Its only stream stalled, so the connection is closed (which resets the stream).
    let closed = tokio::time::timeout(Duration::from_secs(5), conn_task).await;
    assert!(closed.is_ok(), "the stalled connection was not closed");
    drop(response);
}

#[tokio::test]
async fn a_connection_that_sends_only_the_http2_preface_is_closed_after_the_header_timeout() {
    let demo = start_with(|c| c.request_header_timeout = Duration::from_millis(500)).await;
    let mut tcp = tokio::net::TcpStream::connect(demo.server.public_addr)
        .await
        .expect("connect");
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("preface");
    // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
    tcp.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
        .await
        .expect("settings");
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "still open after 5 s");
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "closed before the header timeout"
    );
}

#[tokio::test]
async fn an_origin_that_drips_fails_the_minimum_rate_and_the_download_aborts() {
    let demo = start_with(|c| {
        c.origin_read_timeout = Duration::from_secs(1);
        c.origin_min_rate_bytes_per_sec = 1024;
        c.origin_retries = 1;
    })
    .await;
    let drip = F {
        knobs: "chunk=1&chunk_delay_ms=100",
        ..f("drip.bin", 100_000, 1, true)
    };
    let (m, _) = manifest(&demo, &[drip]);
    let start = Instant::now();
    let res = reqwest::get(demo.link(&m, "x.zip", now()))
        .await
        .expect("head");
    // The first byte arrived in time, so the head was sent; the body must then fail, not drip forever.
    assert_eq!(res.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(20), res.bytes()).await;
    let body = body.expect("the download ended by itself");
    assert!(body.is_err(), "the archive must not complete");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_first_file_that_fails_before_the_head_is_a_json_502() {
    let demo = start_with(|_| {}).await;
    let missing = F {
        knobs: "status=404",
        ..f("gone.bin", 1000, 1, true)
    };
    let (m, _) = manifest(&demo, &[missing.clone(), f("b.bin", 10, 2, true)]);
    let got = get(&demo.link(&m, "x.zip", now()), &[]).await;
    assert_eq!(got.status, 502);
    assert_eq!(error_code(&got), "file_unavailable");
    let body = String::from_utf8(got.body.clone().expect("body")).expect("utf-8");
    assert!(body.contains("gone.bin"), "names the entry: {body}");
    // A range whose first needed file fails: the same.
    let link = demo.link(&m, "x.zip", now());
    let etag = reqwest::Client::new()
        .head(&link)
        .send()
        .await
        .expect("head")
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("etag");
    let ranged = get(&link, &[("range", "bytes=100-"), ("if-range", &etag)]).await;
    assert_eq!(ranged.status, 502);
    assert_eq!(error_code(&ranged), "file_unavailable");
}

#[tokio::test]
async fn a_range_at_byte_one_of_a_large_archive_is_served() {
    let demo = start_with(|c| c.max_entries = 200_000).await;
    let n = 10_000u64;
    let files: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            json!({
                "url": demo.origin.file_url(1, i, "x"),
                "path": format!("d/{i}.txt"),
                "size": 1,
                "crc32": format!("{:08x}", zipper::demo::generated_crc32(i, 1)),
            })
        })
        .collect();
    let m = json!({ "files": files });
    let link = demo.link(&m, "x.zip", now());
    let head = reqwest::Client::new()
        .head(&link)
        .send()
        .await
        .expect("head");
    let total: u64 = head
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("length");
    let etag = head
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("etag");
    let got = get(&link, &[("range", "bytes=1-"), ("if-range", &etag)]).await;
    assert_eq!(got.status, 206);
    assert_eq!(got.body.expect("body").len() as u64, total - 1);
}
