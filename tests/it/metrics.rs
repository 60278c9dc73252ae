//! `GET /metrics` after downloads of every outcome: each counter and histogram count moves by exactly what
//! happened (good, retried, failed before and after the first byte, ranged, CRC-reading, cancelled,
//! overloaded).

use std::time::Duration;

use crate::server::{f, get, manifest, now, start_with, F};

/// The value of the series `series` (name and labels exactly as rendered), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

async fn scrape(demo: &zipper::demo::Demo) -> String {
    reqwest::get(format!("http://{}/metrics", demo.server.admin_addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

async fn head_len(link: &str) -> u64 {
    let res = reqwest::Client::new()
        .head(link)
        .send()
        .await
        .expect("head");
    res.headers()["content-length"]
        .to_str()
        .expect("text")
        .parse()
        .expect("length")
}

#[tokio::test]
async fn metrics_count_every_outcome_origin_request_and_histogram() {
    let demo = start_with(|c| {
        c.max_concurrent_downloads = 1;
        c.memory_budget_bytes = 8 << 20;
    })
    .await;
    let link = |files: &[F]| demo.link(&manifest(&demo, files).0, "x.zip", now());

    // Good, after one retried 503 of its file.
    let good = link(&[F {
        knobs: "status=503&times=1",
        ..f("a.bin", 10_000, 1, true)
    }]);
    let got = get(&good, &[]).await;
    assert_eq!(got.status, 200);
    let mut sent = got.body.expect("body").len() as f64;

    // Failed before the first byte: the first file is missing (a JSON 502).
    let missing = link(&[F {
        knobs: "status=404",
        ..f("b.bin", 100, 2, true)
    }]);
    assert_eq!(get(&missing, &[]).await.status, 502);

    // Failed after it: the second file is missing (the response is aborted).
    let broken = link(&[
        f("c1.bin", 1000, 3, true),
        F {
            knobs: "status=404",
            ..f("c2.bin", 100, 4, true)
        },
    ]);
    let got = get(&broken, &[]).await;
    assert_eq!(got.status, 200);
    assert!(got.body.is_err(), "the client sees the abort");

    // Ranged: a window of a file's data (a HEAD first; it counts a manifest fetch but no download).
    let ranged = link(&[f("d.bin", 20_000, 5, true)]);
    head_len(&ranged).await;
    let got = get(&ranged, &[("range", "bytes=100-199")]).await;
    assert_eq!(got.status, 206);
    sent += 100.0;

    // Ranged inside the central directory of a file without a CRC: one CRC read, then the cache.
    let crcless = link(&[f("e.bin", 10_000, 6, false)]);
    let len = head_len(&crcless).await;
    let tail = format!("bytes={}-", len - 60);
    for _ in 0..2 {
        let got = get(&crcless, &[("range", &tail)]).await;
        assert_eq!(got.status, 206);
        sent += got.body.expect("tail").len() as f64;
    }

    // Cancelled while an overloaded request is refused (one download slot).
    let slow = link(&[F {
        knobs: "chunk=1024&chunk_delay_ms=50",
        ..f("f.bin", 2_000_000, 7, true)
    }]);
    let mut running = reqwest::get(&slow).await.expect("head");
    let first = running.chunk().await.expect("chunk").expect("data");
    let refused = get(&link(&[f("g.bin", 10, 8, true)]), &[]).await;
    assert_eq!(refused.status, 503);
    drop(running);

    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(&demo).await;
        if value(&text, "zipper_downloads_cancelled_total") >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = |series: &str| value(&text, series);
    // Downloads by outcome.
    assert_eq!(v("zipper_requests_total"), 10.0, "{text}");
    assert_eq!(v("zipper_downloads_completed_total"), 4.0, "{text}");
    assert_eq!(
        v("zipper_downloads_failed_total{cause=\"file_unavailable\",stage=\"head\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        v("zipper_downloads_failed_total{cause=\"file_unavailable\",stage=\"body\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(v("zipper_downloads_cancelled_total"), 1.0, "{text}");
    assert_eq!(v("zipper_overloaded_total"), 1.0, "{text}");
    assert_eq!(v("zipper_partial_responses_total"), 3.0, "{text}");
    assert_eq!(
        v("zipper_error_responses_total{code=\"overloaded\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        v("zipper_error_responses_total{code=\"file_unavailable\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(v("zipper_active_downloads"), 0.0, "{text}");
    // Bytes: everything the complete answers carried, and some of the aborted and cancelled ones.
    let bytes = v("zipper_bytes_sent_total");
    assert!(
        bytes >= sent + 1000.0 + first.len() as f64 && bytes < sent + 2_000_000.0,
        "{bytes} vs {sent}: {text}"
    );
    // Origin requests by kind and outcome; retries.
    let origin = |kind: &str, outcome: &str| {
        v(&format!(
            "zipper_origin_requests_total{{kind=\"{kind}\",outcome=\"{outcome}\"}}"
        ))
    };
    // Every download but the overloaded one, and both HEADs: from the origin, or (a resume of a link
    // already fetched) from the manifest cache.
    assert_eq!(
        origin("manifest", "ok") + v("zipper_manifest_cache_hits_total"),
        9.0,
        "{text}"
    );
    assert!(v("zipper_manifest_cache_hits_total") >= 1.0, "{text}");
    assert_eq!(origin("file", "server_error"), 1.0, "{text}");
    assert_eq!(origin("file", "client_error"), 2.0, "{text}");
    assert!(origin("file", "ok") >= 3.0, "{text}");
    assert_eq!(origin("range", "ok"), 1.0, "{text}");
    assert_eq!(origin("crc", "ok"), 1.0, "{text}");
    assert_eq!(
        v("zipper_origin_retries_total{kind=\"file\"}"),
        1.0,
        "{text}"
    );
    // The CRC cache: missed once (then read), hit on the second resume; nothing evicted.
    assert!(v("zipper_crc_cache_misses_total") >= 1.0, "{text}");
    assert!(v("zipper_crc_cache_hits_total") >= 1.0, "{text}");
    assert_eq!(v("zipper_crc_cache_evictions_total"), 0.0, "{text}");
    assert!(v("zipper_crc_cache_entries") >= 1.0, "{text}");
    // The budget.
    assert_eq!(
        v("zipper_memory_budget_bytes_limit"),
        f64::from(8u32 << 20),
        "{text}"
    );
    assert!(
        text.contains("\nzipper_memory_budget_bytes_in_use "),
        "{text}"
    );
    // Histograms: manifest fetches (downloads and HEADs), first bytes (the bodies that sent one), durations
    // (every admitted download that ended: not the HEADs, not the overloaded one).
    assert_eq!(v("zipper_manifest_fetch_seconds_count"), 9.0, "{text}");
    assert_eq!(v("zipper_time_to_first_byte_seconds_count"), 6.0, "{text}");
    assert_eq!(v("zipper_download_duration_seconds_count"), 7.0, "{text}");
    assert_eq!(
        v("zipper_download_duration_seconds_bucket{le=\"+Inf\"}"),
        7.0,
        "{text}"
    );
    dashboard_names_exist(&text);
}

/// Every metric the Grafana dashboard queries is one zipper exports.
fn dashboard_names_exist(text: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/deploy/grafana-dashboard.json"
    );
    let dashboard = std::fs::read_to_string(path).expect("dashboard");
    let json: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard is JSON");
    assert!(json["panels"].as_array().is_some_and(|p| p.len() >= 10));
    let mut checked = 0;
    for (at, _) in dashboard.match_indices("zipper_") {
        let name: String = dashboard[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            text.contains(&format!("\n{name}{{")) || text.contains(&format!("\n{name} ")),
            "the dashboard queries {name}, which /metrics does not export"
        );
        checked += 1;
    }
    assert!(
        checked >= 15,
        "only {checked} metric names in the dashboard"
    );
}
