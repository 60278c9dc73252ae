//! Descriptor-free small entries without CRCs (issue 14): a stored file of known size up to
//! `inline_crc_max_bytes` (default 1 MiB) whose manifest entry has no `crc32` is read whole before its local
//! header, so its header carries the CRC and no data descriptor follows. Strictly sequential readers read
//! such archives; a range that starts inside such an entry reads the file whole and returns the same bytes
//! as the full archive.

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use zipper::crc_cache::CrcKey;

use crate::curl_resume::{expected_listing, run_bounded, Served};
use crate::server::{f, get, manifest, now, start_with, F};
use crate::util::{parse_listing, sorted, tools_dir};

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The local headers of an archive whose headers all carry sizes: (offset, name, flags).
fn local_headers(bytes: &[u8]) -> Vec<(usize, String, u16)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 30 <= bytes.len() && u32_at(bytes, at) == 0x0403_4b50 {
        let flags = u16_at(bytes, at + 6);
        let size = u32_at(bytes, at + 18) as usize;
        let (name_len, extra_len) = (
            usize::from(u16_at(bytes, at + 26)),
            usize::from(u16_at(bytes, at + 28)),
        );
        let name = String::from_utf8_lossy(&bytes[at + 30..at + 30 + name_len]).into_owned();
        out.push((at, name, flags));
        at += 30 + name_len + extra_len + size + if flags & 0x08 != 0 { 16 } else { 0 };
    }
    out
}

#[test]
fn zip_input_stream_reads_a_no_crc_small_files_archive_from_a_pipe() {
    let served = Served::start();
    let demo = &served.demo;
    let mut files: Vec<F> = [1u64, 100, 16_384, 70_000, 300_000, 1 << 20]
        .iter()
        .enumerate()
        .map(|(i, s)| f(&format!("small/f{i}.bin"), *s, i as u64 + 1, false))
        .collect();
    files.push(f("été/日本語 ☕.txt", 5_000, 99, false));
    files.push(f("empty.txt", 0, 3, false));
    let (mut m, _) = manifest(demo, &files);
    if let Some(list) = m["files"].as_array_mut() {
        list.push(json!({ "path": "folder/" }));
    }
    let link = demo.link(&m, "small.zip", now());
    // Every local header carries its CRC: no bit 3, hence no data descriptor anywhere.
    let whole = served.rt.block_on(get(&link, &[]));
    assert_eq!(whole.status, 200);
    let bytes = whole.body.expect("body");
    let headers = local_headers(&bytes);
    assert_eq!(headers.len(), files.len() + 1, "every entry walked");
    for (_, name, flags) in &headers {
        assert_eq!(flags & 0x08, 0, "{name}: no data descriptor");
    }
    // A pipe: ZipInputStream never sees the central directory first.
    let ran = run_bounded(
        Command::new("sh")
            .arg("-c")
            .arg("curl -sSf \"$1\" | java \"$2\"")
            .arg("sh")
            .arg(&link)
            .arg(tools_dir().join("readers/JavaZipInputStream.java")),
        Duration::from_secs(60),
    );
    assert!(
        ran.status.success(),
        "ZipInputStream failed: {}",
        ran.stderr
    );
    assert_eq!(
        parse_listing(&ran.stdout),
        sorted(&expected_listing(&m)),
        "every entry byte-exact"
    );
}

/// The bytes `start..=end` as a range response, which must be a 206.
async fn range(link: &str, etag: &str, start: u64, end: u64) -> Vec<u8> {
    let got = get(
        link,
        &[
            ("range", &format!("bytes={start}-{end}")),
            ("if-range", etag),
        ],
    )
    .await;
    assert_eq!(got.status, 206, "bytes={start}-{end}");
    got.body.expect("range body")
}

#[tokio::test]
async fn a_range_inside_an_inline_crc_entry_returns_the_slice_of_the_whole() {
    for cache in [false, true] {
        let demo = start_with(|c| c.crc_cache_entries = if cache { 1000 } else { 0 }).await;
        let files: Vec<F> = (0..5u64)
            .map(|i| f(&format!("f{i}.bin"), 40_000 + i, i + 10, false))
            .collect();
        let (m, _) = manifest(&demo, &files);
        let link = demo.link(&m, "r.zip", now());
        let whole = get(&link, &[]).await;
        let etag = whole.headers["etag"].to_str().expect("etag").to_string();
        let bytes = whole.body.expect("body");
        let headers = local_headers(&bytes);
        assert!(headers.iter().all(|(_, _, flags)| flags & 0x08 == 0));
        let third = headers[2].0 as u64;
        let fourth = headers[3].0 as u64;
        // (start, end, files read without a cache, files read with one)
        let cases = [
            // Inside the header only: its CRC, from the cache or a whole read.
            (third + 5, third + 20, 1, 0),
            // From the header's CRC field into the next header: entry 2 read whole for its data; entry 3
            // for its CRC unless the cache has it.
            (third + 14, fourth + 40, 2, 1),
            // Inside the data only: the file read whole (its CRC checked), the slice served from it.
            (third + 200, third + 30_000, 1, 1),
            // To the end: entries 2 to 4 read whole; without a cache the central directory needs every
            // CRC once more.
            (third + 100, bytes.len() as u64 - 1, 8, 3),
        ];
        for (start, end, cold, warm) in cases {
            let before = demo.origin.requests("/files/");
            let got = range(&link, &etag, start, end).await;
            assert_eq!(
                got,
                bytes[start as usize..=end as usize].to_vec(),
                "cache {cache}: bytes={start}-{end}"
            );
            let fetched = demo.origin.requests("/files/") - before;
            let want = if cache { warm } else { cold };
            assert_eq!(fetched, want, "cache {cache}: bytes={start}-{end} fetched");
        }
    }
}

#[tokio::test]
async fn a_cached_crc_that_no_longer_matches_fails_the_range() {
    let demo = start_with(|_| {}).await;
    let files = [f("a.bin", 1000, 1, false), f("b.bin", 2000, 2, false)];
    let (m, _) = manifest(&demo, &files);
    let link = demo.link(&m, "r.zip", now());
    let whole = get(&link, &[]).await;
    let etag = whole.headers["etag"].to_str().expect("etag").to_string();
    let bytes = whole.body.expect("body");
    let second = local_headers(&bytes)[1].0 as u64;
    // As if b.bin had had other bytes when it was first read: the cache holds another CRC.
    let url = m["files"][1]["url"].as_str().expect("url");
    demo.server
        .state
        .crc_cache
        .put(CrcKey::new("demo", url, 2000, &[]), 0x1234_5678);
    let got = get(
        &link,
        &[
            ("range", &format!("bytes={}-{}", second + 100, second + 200)),
            ("if-range", &etag),
        ],
    )
    .await;
    assert_eq!(
        got.status, 502,
        "the file read whole does not match the CRC already handed out"
    );
}

#[tokio::test]
async fn above_the_threshold_or_with_it_off_files_keep_their_descriptor() {
    for (threshold, small_inline) in [(1000u64, true), (0, false)] {
        let demo = start_with(|c| c.inline_crc_max_bytes = threshold).await;
        let files = [
            f("small.bin", 1000, 1, false),
            f("large.bin", 1001, 2, false),
        ];
        let (m, expected) = manifest(&demo, &files);
        let got = get(&demo.link(&m, "t.zip", now()), &[]).await;
        let bytes = got.body.expect("body");
        let headers = local_headers(&bytes);
        assert_eq!(
            headers[0].2 & 0x08 == 0,
            small_inline,
            "threshold {threshold}"
        );
        assert_ne!(headers[1].2 & 0x08, 0, "over the threshold: a descriptor");
        let file = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(file.path(), &bytes).expect("write");
        crate::util::check_all_tools(file.path(), &expected);
    }
}
