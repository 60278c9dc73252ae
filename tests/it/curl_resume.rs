//! Resumable downloads with a real client: `curl` cut off at arbitrary offsets (`--limit-rate` +
//! `--max-time`, exit 28) and resumed with `curl -C -` several times gives a file identical to an
//! uninterrupted download, which `unzip -t` accepts. Once with CRCs in the manifest, once without (zipper
//! must then learn the CRCs itself: the interrupted download runs first, on a cold CRC cache).
//!
//! Also the harness the browser test shares: a [`Served`] demo on its own tokio runtime (so the test thread
//! can block on child processes) and [`run_bounded`] (a child process with a time limit).

use std::fs::File;
use std::io::{Read, Seek};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zipper::demo::generated_crc32;
use zipper::demo::Demo;

use crate::util::{check_unzip, Expected};

/// A demo origin + zipper served by a multi-threaded runtime of their own.
pub struct Served {
    // Dropped before the runtime (field order), which then stops every task.
    pub demo: Demo,
    pub rt: tokio::runtime::Runtime,
}

impl Served {
    pub fn start() -> Served {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let demo = rt
            .block_on(Demo::start(SocketAddr::from(([127, 0, 0, 1], 0)), |_| {}))
            .expect("demo starts");
        Served { demo, rt }
    }
}

/// What a bounded child process did.
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `cmd` (stdin closed, stdout and stderr captured through files so a chatty child never blocks) and
/// kills it if it outlives `limit`, which fails the test.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Ran {
    let mut out = tempfile::tempfile().expect("temp file");
    let mut err = tempfile::tempfile().expect("temp file");
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(err.try_clone().expect("dup"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |f: &mut File| {
        let mut s = String::new();
        f.rewind().expect("rewind");
        f.read_to_string(&mut s).expect("UTF-8 output");
        s
    };
    let (stdout, stderr) = (read(&mut out), read(&mut err));
    let Some(status) = status else {
        panic!("{cmd:?} still running after {limit:?}, killed\nstdout: {stdout}\nstderr: {stderr}");
    };
    Ran {
        status,
        stdout,
        stderr,
        elapsed: start.elapsed(),
    }
}

/// The expected listing of a manifest of demo-origin files (`/files/{size}/{seed}/…`) and folders.
pub fn expected_listing(manifest: &Value) -> Vec<Expected> {
    manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let name = f["path"].as_str().expect("path").to_string();
            let Some(url) = f["url"].as_str() else {
                return Expected {
                    name,
                    size: 0,
                    crc32: 0,
                };
            };
            let mut parts = url
                .split("/files/")
                .nth(1)
                .expect("a demo-origin file URL")
                .split('/');
            let size: u64 = parts.next().and_then(|s| s.parse().ok()).expect("size");
            let seed: u64 = parts.next().and_then(|s| s.parse().ok()).expect("seed");
            Expected {
                name,
                size,
                crc32: generated_crc32(seed, size),
            }
        })
        .collect()
}

/// About 28 MB of stored files (a UTF-8 name, an empty file, a folder), with or without `crc32`.
fn manifest(served: &Served, with_crc: bool) -> Value {
    let files: &[(&str, u64, u64)] = &[
        ("big/first.bin", 9_000_000, 11),
        ("big/second.bin", 7_000_000, 12),
        ("tiny.txt", 1_000, 13),
        ("media/été ☕.mov", 5_500_000, 14),
        ("empty.dat", 0, 15),
        ("media/last.bin", 6_500_000, 16),
    ];
    let mut entries: Vec<Value> = files
        .iter()
        .map(|(path, size, seed)| {
            let mut f = json!({
                // The origin paces each file (32 KiB every 4 ms, at most ~8 MB/s), so that a run cut
                // after 0.3 to 0.9 s never holds the whole archive: curl's own --limit-rate lets big
                // bursts through on loopback.
                "url": format!(
                    "{}?chunk=32768&chunk_delay_ms=4",
                    served.demo.origin.file_url(*size, *seed, "f")
                ),
                "path": path,
                "size": size,
                "compression": "store",
            });
            if with_crc {
                f["crc32"] = json!(format!("{:08x}", generated_crc32(*seed, *size)));
            }
            f
        })
        .collect();
    entries.push(json!({ "path": "folder/" }));
    json!({ "filename": "resume.zip", "files": entries })
}

/// `curl` with the options every run here shares; `-w` prints the status and the bytes of this run.
fn curl() -> Command {
    let mut c = Command::new("curl");
    c.args([
        "-fsS",
        "--http1.1",
        "--connect-timeout",
        "5",
        "-w",
        "%{http_code} %{size_download}\n",
    ]);
    c
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// A small xorshift for the cut times; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn resume_matches_uninterrupted(with_crc: bool) {
    let served = Served::start();
    let manifest = manifest(&served, with_crc);
    let link = served
        .demo
        .link(&manifest, "resume.zip", zipper::server::system_clock());
    let dir = tempfile::tempdir().expect("temp dir");
    let part = dir.path().join("part.zip");
    let full = dir.path().join("full.zip");

    let seed = std::env::var("RESUME_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("RESUME_SEED={seed}");
    let mut rng = Rng(seed);

    // What zipper promises before any byte: a length, ranges and a strong ETag.
    let head = run_bounded(curl().arg("-I").arg(&link), Duration::from_secs(10));
    assert!(head.status.success(), "HEAD: {}", head.stderr);
    let header = |name: &str| {
        head.stdout
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in {}", head.stdout))
    };
    let total: u64 = header("content-length").parse().expect("Content-Length");
    assert_eq!(header("accept-ranges"), "bytes");
    assert!(header("etag").starts_with('"'), "strong ETag");
    assert!(total > 20_000_000, "a few tens of MB: {total}");

    // Interrupted first: without CRCs in the manifest, the resumes find a cold cache.
    // At most ~8 MB/s (the origin's pace, and curl's --limit-rate) and cuts after 0.3 to 0.9 s: several
    // cuts in a ~28 MB archive.
    let overall = Instant::now();
    let mut sizes = Vec::new();
    let mut statuses = Vec::new();
    let mut cuts = 0;
    let mut max_time_ms = 300 + rng.next() % 600;
    loop {
        assert!(
            sizes.len() < 60 && overall.elapsed() < Duration::from_secs(50),
            "no complete download after {} attempts / {:?}: sizes {sizes:?}",
            sizes.len(),
            overall.elapsed()
        );
        let before = file_len(&part);
        let ran = run_bounded(
            curl()
                .args(["--limit-rate", "6M", "--max-time"])
                .arg(format!("{:.3}", max_time_ms as f64 / 1000.0))
                .arg("-C")
                .arg("-")
                .arg("-o")
                .arg(&part)
                .arg(&link),
            Duration::from_secs(10),
        );
        let after = file_len(&part);
        sizes.push(after);
        statuses.push(ran.stdout.trim().to_string());
        match ran.status.code() {
            Some(0) => break,
            // Cut by --max-time: go on from where it stopped.
            Some(28) => {
                assert!(after >= before, "the partial file shrank: {sizes:?}");
                if after == total {
                    // Cut after the last byte: nothing is left to resume (a further -C - would get 416).
                    break;
                }
                if after > before {
                    cuts += 1;
                    max_time_ms = 300 + rng.next() % 600;
                } else {
                    // No byte in time: zipper may be reading a whole file for a CRC it lacks before it
                    // can send the next byte, and starts over on every new request. Wait longer.
                    max_time_ms = (max_time_ms * 2).min(8_000);
                }
            }
            other => panic!(
                "curl exited {other:?} after {sizes:?} ({statuses:?}): {}",
                ran.stderr
            ),
        }
    }
    let interrupted_time = overall.elapsed();
    eprintln!(
        "with_crc={with_crc}: {cuts} cuts, sizes {sizes:?}, runs {statuses:?}, {interrupted_time:?}"
    );

    // Uninterrupted.
    let ran = run_bounded(
        curl().arg("-o").arg(&full).arg(&link),
        Duration::from_secs(30),
    );
    assert!(ran.status.success(), "curl: {}", ran.stderr);
    assert_eq!(ran.stdout.trim(), format!("200 {total}"));

    assert!(
        cuts >= 2,
        "at least 2 real interruptions expected: sizes {sizes:?}"
    );
    let steps: Vec<u64> = sizes[..sizes.len() - 1]
        .iter()
        .copied()
        .filter(|&s| s > 0)
        .collect();
    assert!(
        steps.windows(2).all(|w| w[0] <= w[1]) && steps.iter().all(|&s| s < total),
        "the file grew in steps below the total: {sizes:?}"
    );
    // The first run got a 200, every run that resumed from a non-empty file a 206, or no answer at all
    // before curl's time ran out (zipper holds the head until the first thing the range needs is in: a
    // missing CRC is a whole-file read, shared by the next attempt).
    assert!(statuses[0].starts_with("200 "), "{statuses:?}");
    for i in 1..statuses.len() {
        if sizes[i - 1] > 0 {
            assert!(
                statuses[i].starts_with("206 ") || statuses[i] == "000 0",
                "run {i}: {statuses:?}"
            );
        }
    }

    let a = std::fs::read(&part).expect("part.zip");
    let b = std::fs::read(&full).expect("full.zip");
    assert_eq!(a.len(), b.len(), "resumed and uninterrupted lengths");
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        panic!("resumed file differs from the uninterrupted one at byte {i} (cuts at {sizes:?})");
    }
    check_unzip(&part);
    let listing = expected_listing(&manifest);
    crate::util::check_python(&part, &listing);
    eprintln!(
        "origin file requests: {}, 206 from origin: {}",
        served.demo.origin.requests("/files/"),
        served.demo.origin.partial_responses("/files/")
    );
}

#[test]
fn curl_resume_with_crcs_matches_an_uninterrupted_download() {
    resume_matches_uninterrupted(true);
}

#[test]
fn curl_resume_without_crcs_matches_an_uninterrupted_download() {
    resume_matches_uninterrupted(false);
}
