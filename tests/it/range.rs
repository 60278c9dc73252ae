//! Range requests and resume (docs/contract.md, Responses): a 206 body is exactly the same slice of the 200
//! body, only the files a range overlaps are fetched, and CRCs missing from the manifest are found in the
//! cache or by reading the files.

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use serde_json::json;

use crate::server::{error_code, f, get, head_len, manifest, now, start, start_with, F};

fn range_header(start: u64, end: u64) -> String {
    format!("bytes={start}-{end}")
}

#[test]
fn any_range_of_any_archive_equals_the_same_slice_of_the_whole() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let demo = rt.block_on(start());
    let files = prop::collection::vec((0u64..40_000, any::<bool>(), any::<bool>()), 1..12);
    let ranges = prop::collection::vec((any::<u64>(), any::<u64>(), 0u8..3), 1..6);
    let mut runner = TestRunner::new(PropConfig {
        cases: 24,
        ..PropConfig::default()
    });
    runner
        .run(&(files, ranges), |(files, ranges)| {
            rt.block_on(async {
                let list: Vec<F> = files
                    .iter()
                    .enumerate()
                    .map(|(i, (size, crc, deep))| {
                        f(
                            &format!("{}f{i}.bin", if *deep { "d/é/" } else { "" }),
                            *size,
                            i as u64 + 100,
                            *crc,
                        )
                    })
                    .collect();
                let (mut m, _) = manifest(&demo, &list);
                if let Some(arr) = m["files"].as_array_mut() {
                    arr.push(json!({ "path": "empty-dir/" }));
                }
                let ts = now();
                let link = demo.link(&m, "r.zip", ts);
                let whole = get(&link, &[]).await;
                prop_assert_eq!(whole.status, 200);
                let whole_body = whole.body.expect("whole body");
                let len = whole_body.len() as u64;
                let etag = whole
                    .headers
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .expect("etag")
                    .to_string();
                for (a, b, form) in ranges {
                    let start = a % len;
                    let end = start + b % (len - start);
                    let (header, want) = match form {
                        0 => (range_header(start, end), start..=end),
                        1 => (format!("bytes={start}-"), start..=len - 1),
                        _ => {
                            let n = (b % len) + 1;
                            (format!("bytes=-{n}"), len - n..=len - 1)
                        }
                    };
                    let got = get(&link, &[("range", &header), ("if-range", &etag)]).await;
                    prop_assert_eq!(got.status, 206, "{}", header);
                    let cr = got
                        .headers
                        .get("content-range")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    prop_assert_eq!(cr, format!("bytes {}-{}/{len}", want.start(), want.end()));
                    let body = got.body.expect("range body");
                    let slice = &whole_body[*want.start() as usize..=*want.end() as usize];
                    prop_assert!(body == slice, "{} differs from the slice", header);
                }
                Ok(())
            })
        })
        .expect("206 bodies equal the slices of the 200 body");
}

#[tokio::test]
async fn past_the_end_is_416_and_several_ranges_or_a_stale_if_range_get_the_whole() {
    let demo = start().await;
    let (m, _) = manifest(&demo, &[f("a.bin", 1000, 1, false)]);
    let link = demo.link(&m, "x.zip", now());
    let whole = get(&link, &[]).await;
    let len = whole.body.as_ref().expect("body").len();
    let got = get(&link, &[("range", &format!("bytes={len}-"))]).await;
    assert_eq!(got.status, 416);
    assert_eq!(error_code(&got), "range_not_satisfiable");
    assert_eq!(
        got.headers["content-range"],
        format!("bytes */{len}").as_str()
    );
    let several = get(&link, &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!(several.status, 200);
    assert_eq!(several.body.expect("body").len(), len);
    let stale = get(
        &link,
        &[
            ("range", "bytes=0-1"),
            ("if-range", "\"z1-something-else\""),
        ],
    )
    .await;
    assert_eq!(stale.status, 200);
    let fresh = get(
        &link,
        &[
            ("range", "bytes=0-1"),
            ("if-range", whole.headers["etag"].to_str().expect("etag")),
        ],
    )
    .await;
    assert_eq!(fresh.status, 206);
    assert_eq!(
        fresh.body.expect("body"),
        whole.body.expect("body")[..2].to_vec()
    );
}

#[tokio::test]
async fn resuming_the_last_percent_with_crcs_fetches_only_the_files_it_needs() {
    let demo = start().await;
    let files: Vec<F> = (0..100u64)
        .map(|i| f(&format!("photo{i:03}.jpg"), 100_000 + i, i, true))
        .collect();
    let (m, _) = manifest(&demo, &files);
    let link = demo.link(&m, "x.zip", now());
    let len = head_len(&link).await;
    let before = demo.origin.requests("/files/");
    let start = len - len / 100;
    let got = get(&link, &[("range", &format!("bytes={start}-"))]).await;
    assert_eq!(got.status, 206);
    assert_eq!(got.body.expect("body").len() as u64, len - start);
    let fetched = demo.origin.requests("/files/") - before;
    // The last 1% of ~10 MB covers the tail of the last file or two, then the central directory.
    assert!(
        (1..=2).contains(&fetched),
        "fetched {fetched} files for the last 1%"
    );
    assert!(
        demo.origin.partial_responses("/files/") >= 1,
        "the origin was asked for a range"
    );
}

#[tokio::test]
async fn without_crcs_a_resume_reads_missing_crcs_once_then_uses_the_cache() {
    // Files with data descriptors (inline CRC mode off; a range inside an inline CRC entry reads it whole,
    // see `inline_crc`).
    let demo = start_with(|c| c.inline_crc_max_bytes = 0).await;
    let files: Vec<F> = (0..10u64)
        .map(|i| f(&format!("f{i}.bin"), 50_000, i, false))
        .collect();
    let (m, _) = manifest(&demo, &files);
    let link = demo.link(&m, "x.zip", now());
    let len = head_len(&link).await;
    // A fresh server has no CRCs. The last 2000 bytes hold the tail of the last file (one ranged request),
    // its data descriptor and the whole central directory, which need every file's CRC: each file is read
    // once to learn it.
    let tail = get(&link, &[("range", "bytes=-2000")]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(
        demo.origin.requests("/files/"),
        11,
        "10 CRC reads + 1 ranged read"
    );
    let whole = get(&link, &[]).await.body.expect("whole");
    assert_eq!(
        tail.body.expect("tail"),
        whole[(len - 2000) as usize..].to_vec()
    );
    // Now every CRC is cached: the same resume reads only the ranged tail of the last file.
    let before = demo.origin.requests("/files/");
    let again = get(&link, &[("range", "bytes=-2000")]).await;
    assert_eq!(again.status, 206);
    assert_eq!(
        demo.origin.requests("/files/") - before,
        1,
        "CRCs came from the cache"
    );
    // A range inside the central directory alone reads nothing at all.
    let before = demo.origin.requests("/files/");
    let cd_only = get(&link, &[("range", "bytes=-300")]).await;
    assert_eq!(cd_only.status, 206);
    assert_eq!(demo.origin.requests("/files/"), before);
}

/// Regression: a resume that needs a CRC reads the file in a task of its own, so a client that gives up
/// before that read ends does not make its next attempt start over (found by the curl resume test).
#[tokio::test]
async fn an_abandoned_resume_still_fills_the_crc_cache() {
    let demo = start().await;
    let slow = F {
        knobs: "chunk=32768&chunk_delay_ms=20",
        ..f("slow.bin", 2_000_000, 7, false)
    };
    let (m, _) = manifest(&demo, &[slow]);
    let link = demo.link(&m, "x.zip", now());
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .expect("client");
    let first = client.get(&link).header("range", "bytes=-100").send().await;
    assert!(
        first.is_err() || first.expect("response").bytes().await.is_err(),
        "the client gave up early"
    );
    // The CRC read goes on without the client.
    let mut served = 0;
    for _ in 0..300 {
        served = demo.origin.bytes_served("/files/");
        if served >= 2_000_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        served >= 2_000_000,
        "the CRC read was abandoned at {served} bytes"
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let before = demo.origin.requests("/files/");
    let again = get(&link, &[("range", "bytes=-100")]).await;
    assert_eq!(again.status, 206);
    assert_eq!(
        demo.origin.requests("/files/"),
        before,
        "the CRC came from the cache"
    );
}

/// Download managers open with `Range: bytes=0-`: without CRCs, each file must still be read once (its CRC
/// is learnt while its bytes are sent), not once for the data and again for the descriptor.
#[tokio::test]
async fn a_range_from_zero_without_crcs_reads_each_file_once() {
    let demo = start().await;
    let files: Vec<F> = (0..10u64)
        .map(|i| f(&format!("f{i}.bin"), 30_000 + i, i, false))
        .collect();
    let (m, _) = manifest(&demo, &files);
    let link = demo.link(&m, "x.zip", now());
    let got = get(&link, &[("range", "bytes=0-")]).await;
    assert_eq!(got.status, 206);
    assert_eq!(demo.origin.requests("/files/"), 10);
    let whole = get(&link, &[]).await;
    assert_eq!(got.body.expect("range"), whole.body.expect("whole"));
}
