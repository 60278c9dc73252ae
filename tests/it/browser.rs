//! A real browser follows a zipper link: Debian's headless Chromium (`/usr/bin/chromium`), driven by
//! `tests/tools/browser/download.mjs` (playwright-core, never a downloaded browser), opens a page served
//! here, clicks an `<a href>` to zipper, and saves the download. The saved file must be a valid zip for
//! every unarchiver, and the name Chromium suggests must be the one zipper's `Content-Disposition` gives.
//!
//! Needs `/usr/bin/chromium` and `tests/tools/browser/node_modules`: `bash tests/run.sh` installs both.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::curl_resume::{expected_listing, run_bounded, Served};
use crate::util::check_all_tools;

const CHROMIUM: &str = "/usr/bin/chromium";

fn tool_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/browser")
}

/// Serves `html` at `/` (and 404 elsewhere) on 127.0.0.1 from the demo's runtime; returns the page URL.
fn serve_page(served: &Served, html: String) -> String {
    let listener = served
        .rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind the page server");
    let addr = listener.local_addr().expect("page server address");
    served.rt.spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let html = html.clone();
            tokio::spawn(async move {
                // Read the request head (bounded), answer, close.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let is_page = head.starts_with(b"GET / ") || head.starts_with(b"GET /index.html ");
                let (status, body) = if is_page {
                    ("200 OK", html)
                } else {
                    ("404 Not Found", "not found".to_string())
                };
                let res = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(res.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    format!("http://{addr}/")
}

/// The file name a `Content-Disposition` gives: `filename*` (RFC 8187, UTF-8) when present.
fn disposition_filename(header: &str) -> String {
    let star = header
        .split(';')
        .find_map(|p| p.trim().strip_prefix("filename*=UTF-8''"))
        .expect("a filename* parameter");
    percent_encoding::percent_decode_str(star)
        .decode_utf8()
        .expect("UTF-8 filename*")
        .into_owned()
}

#[test]
fn browser_chromium_downloads_a_zipper_link_from_a_page() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run `bash tests/run.sh` (it installs Debian's chromium package)"
    );
    assert!(
        tool_dir().join("node_modules/playwright-core").exists(),
        "tests/tools/browser/node_modules is missing: run `bash tests/run.sh` (npm ci)"
    );

    let served = Served::start();
    let mut manifest = zipper::demo::sample_manifest(&served.demo.origin);
    let filename = "Photos été 2019.zip";
    manifest["filename"] = Value::from(filename);
    let link = served
        .demo
        .link(&manifest, "photos.zip", zipper::server::system_clock());
    let page = serve_page(
        &served,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>zipper</title></head>\
             <body><p><a id=\"zipper-link\" href=\"{link}\">Download the photos</a></p></body></html>"
        ),
    );

    // What zipper says the file is called, asked the plain way.
    let head = run_bounded(
        Command::new("curl")
            .args(["-fsSI", "--max-time", "10"])
            .arg(&link),
        Duration::from_secs(15),
    );
    assert!(head.status.success(), "HEAD: {}", head.stderr);
    let disposition = head
        .stdout
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-disposition")
                .then(|| v.trim().to_string())
        })
        .expect("Content-Disposition");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(disposition_filename(&disposition), filename);

    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let ran = run_bounded(
        Command::new("node")
            .arg(tool_dir().join("download.mjs"))
            .arg(&page)
            .arg(dir.path())
            .env("BROWSER_TIMEOUT_MS", "45000"),
        Duration::from_secs(55),
    );
    assert!(
        ran.status.success(),
        "the browser download failed ({}):\nstdout: {}\nstderr: {}",
        ran.status,
        ran.stdout,
        ran.stderr
    );
    eprintln!("browser run: {:?}", ran.elapsed);
    let report: Value = serde_json::from_str(
        ran.stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("a JSON report line"),
    )
    .expect("JSON report");
    eprintln!("{report}");

    assert_eq!(report["suggestedFilename"], filename, "{report}");
    assert_eq!(report["url"], link.as_str(), "{report}");
    if let Some(headers) = report["response"]["headers"].as_object() {
        // Chromium saw the same headers (when Playwright reports the download's response).
        assert_eq!(headers["content-disposition"], disposition.as_str());
        assert_eq!(headers["content-type"], "application/zip");
    }
    let saved = PathBuf::from(report["savedAs"].as_str().expect("savedAs"));
    assert!(saved.starts_with(dir.path()), "{saved:?}");
    check_all_tools(&saved, &expected_listing(&manifest));
    eprintln!("browser test: {:?} in all", started.elapsed());
}
