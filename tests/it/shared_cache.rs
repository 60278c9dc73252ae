//! The fleet's shared cache on a real `redis-server` (issue 13, item 5), and the same mechanisms with the
//! in-process caches alone (no `cache_url`): a resume after a full download fetches no file and no
//! manifest, whichever instance it lands on; five resumes in a row fetch the manifest once; a Redis that is
//! down, or dies, never fails a download.
//!
//! Each test starts its own `redis-server` (Debian's package; `tests/run.sh` installs it) on a free
//! loopback port, without persistence, and kills it by PID when done.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use zipper::config::Config;
use zipper::core::keys::{KeyId, KeySet};
use zipper::demo::Demo;
use zipper::server::{self, AppState, ServerHandle};
use zipper::shared_cache::CacheUrl;

use crate::server::{f, get, manifest, now, start_with, Got};

/// A `redis-server` of this test's own; killed (by PID) on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> RedisServer {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed (tests/run.sh installs Debian's redis-server)");
        let server = RedisServer { child, port };
        // Bounded wait until it answers PING.
        for _ in 0..200 {
            if ping(port) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer on port {port}");
    }

    fn url(&self) -> CacheUrl {
        CacheUrl::parse(&format!("redis://127.0.0.1:{}", self.port)).expect("url")
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A second zipper instance trusting the same key, with the same cache setting, in front of the same origin.
async fn second_instance(demo: &Demo, cache_url: Option<CacheUrl>) -> ServerHandle {
    let mut keys = KeySet::new();
    keys.insert(KeyId::parse("demo").expect("id"), demo.secret().clone())
        .expect("key");
    let mut config = Config::with_keys(keys);
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.admin_listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.allow_private_networks = true;
    config.origin_retry_backoff = Duration::from_millis(10);
    config.cache_url = cache_url;
    let state = AppState::from_config(&config).expect("state");
    server::start(&config, state)
        .await
        .expect("second instance")
}

/// The same link on another instance.
fn on(link: &str, instance: &ServerHandle) -> String {
    let rest = link
        .strip_prefix("http://")
        .and_then(|l| l.split_once('/'))
        .map(|(_, path)| path)
        .expect("link");
    format!("http://{}/{rest}", instance.public_addr)
}

/// Three files without `crc32` (so a resume near the end needs every CRC), all sizes known.
fn files_without_crcs(demo: &Demo) -> Value {
    manifest(
        demo,
        &[
            f("a.bin", 40_000, 1, false),
            f("b.bin", 50_000, 2, false),
            f("c.bin", 30_000, 3, false),
        ],
    )
    .0
}

/// Where the central directory starts (from the end record; no ZIP64 here): a resume from there needs
/// every CRC and no file byte.
fn central_directory(archive: &[u8]) -> usize {
    let eocd = &archive[archive.len() - 22..];
    assert_eq!(&eocd[..4], b"PK\x05\x06");
    u32::from_le_bytes(eocd[16..20].try_into().expect("4 bytes")) as usize
}

async fn full(link: &str) -> (Vec<u8>, String) {
    let got = get(link, &[]).await;
    assert_eq!(got.status, 200);
    let etag = got.headers["etag"].to_str().expect("etag").to_string();
    (got.body.expect("archive"), etag)
}

async fn resume(link: &str, from: usize, etag: &str) -> Got {
    get(
        link,
        &[("range", &format!("bytes={from}-")), ("if-range", etag)],
    )
    .await
}

/// A full download on A, then a resume of the archive's tail (central directory: every CRC) on `other`
/// (A itself without Redis): no file and no manifest is fetched for it.
async fn a_resume_fetches_no_file(shared: bool) {
    let mut redis = shared.then(RedisServer::start);
    let url = redis.as_ref().map(RedisServer::url);
    let url_a = url.clone();
    let demo = start_with(move |c| c.cache_url = url_a).await;
    let b = second_instance(&demo, url).await;
    let link = demo.link(&files_without_crcs(&demo), "x.zip", now());
    let (whole, etag) = full(&link).await;
    demo.server.state.shared_cache.flush().await;

    let files = demo.origin.requests("/files/");
    let manifests = demo.origin.requests("/manifests/");
    let target = if shared { on(&link, &b) } else { link.clone() };
    let from = central_directory(&whole);
    let got = resume(&target, from, &etag).await;
    assert_eq!(got.status, 206);
    assert_eq!(got.body.expect("tail"), whole[from..]);
    assert_eq!(demo.origin.requests("/files/"), files, "no file fetched");
    assert_eq!(
        demo.origin.requests("/manifests/"),
        manifests,
        "no manifest fetched"
    );
    if shared {
        let m = &b.state.metrics;
        assert!(m.shared_cache_hits.get() >= 4, "manifest and 3 CRCs");
        assert_eq!(m.shared_cache_errors.get(), 0);
    }
    if let Some(r) = redis.as_mut() {
        r.kill();
    }
}

#[tokio::test]
async fn a_resume_on_instance_b_after_a_full_download_on_a_fetches_no_file() {
    a_resume_fetches_no_file(true).await;
}

#[tokio::test]
async fn without_cache_url_a_resume_on_the_same_instance_fetches_no_file() {
    a_resume_fetches_no_file(false).await;
}

/// A full download, then five resumes (a browser's auto-resumes), alternating between A and B with Redis,
/// all on A without: the manifest is fetched once.
async fn five_resumes_fetch_the_manifest_once(shared: bool) {
    let redis = shared.then(RedisServer::start);
    let url = redis.as_ref().map(RedisServer::url);
    let url_a = url.clone();
    let demo = start_with(move |c| c.cache_url = url_a).await;
    let b = second_instance(&demo, url).await;
    let link = demo.link(&files_without_crcs(&demo), "x.zip", now());
    let (whole, etag) = full(&link).await;
    demo.server.state.shared_cache.flush().await;
    assert_eq!(demo.origin.requests("/manifests/"), 1);
    for i in 1..=5usize {
        let target = if shared && i % 2 == 1 {
            on(&link, &b)
        } else {
            link.clone()
        };
        let from = whole.len() * i / 6;
        let got = resume(&target, from, &etag).await;
        assert_eq!(got.status, 206, "resume {i}");
        assert_eq!(got.body.expect("rest"), whole[from..], "resume {i}");
    }
    assert_eq!(
        demo.origin.requests("/manifests/"),
        1,
        "five resumes, one manifest"
    );
    let hits = demo.server.state.metrics.manifest_cache_hits.get()
        + b.state.metrics.manifest_cache_hits.get();
    assert_eq!(hits, 5);
    drop(redis);
}

#[tokio::test]
async fn five_resumes_in_a_row_fetch_the_manifest_once_across_instances() {
    five_resumes_fetch_the_manifest_once(true).await;
}

#[tokio::test]
async fn without_cache_url_five_resumes_fetch_the_manifest_once() {
    five_resumes_fetch_the_manifest_once(false).await;
}

#[tokio::test]
async fn a_fresh_download_always_asks_the_origin() {
    let redis = RedisServer::start();
    let url = redis.url();
    let demo = start_with(move |c| c.cache_url = Some(url)).await;
    let link = demo.link(&files_without_crcs(&demo), "x.zip", now());
    full(&link).await;
    full(&link).await;
    assert_eq!(demo.origin.requests("/manifests/"), 2);
}

#[tokio::test]
async fn redis_down_means_in_process_caches_only_never_a_failed_download() {
    // A port with nothing listening.
    let url = CacheUrl::parse(&format!("redis://127.0.0.1:{}", free_port())).expect("url");
    let url_a = Some(url.clone());
    let demo = start_with(move |c| c.cache_url = url_a).await;
    let b = second_instance(&demo, Some(url)).await;
    let link = demo.link(&files_without_crcs(&demo), "x.zip", now());
    let (whole, etag) = full(&link).await;
    demo.server.state.shared_cache.flush().await;
    for target in [link.clone(), on(&link, &b), link.clone()] {
        let from = central_directory(&whole);
        let got = resume(&target, from, &etag).await;
        assert_eq!(got.status, 206);
        assert_eq!(got.body.expect("tail"), whole[from..]);
    }
    // B read what it needed itself; A's resume came from its own process.
    assert_eq!(demo.origin.requests("/manifests/"), 2);
    let m = &demo.server.state.metrics;
    assert!(m.shared_cache_errors.get() >= 1);
    // The breaker kept later operations from trying again.
    assert!(m.shared_cache_skipped.get() >= 1);
    assert!(b.state.metrics.shared_cache_errors.get() <= 2);
}

#[tokio::test]
async fn a_redis_that_dies_mid_way_changes_nothing_but_the_cost() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let url_a = Some(url.clone());
    let demo = start_with(move |c| c.cache_url = url_a).await;
    let b = second_instance(&demo, Some(url)).await;
    let link = demo.link(&files_without_crcs(&demo), "x.zip", now());
    let (whole, etag) = full(&link).await;
    demo.server.state.shared_cache.flush().await;
    redis.kill();
    let from = central_directory(&whole);
    for target in [link.clone(), on(&link, &b)] {
        let got = resume(&target, from, &etag).await;
        assert_eq!(got.status, 206);
        assert_eq!(got.body.expect("tail"), whole[from..]);
    }
    assert_eq!(demo.origin.requests("/manifests/"), 2, "B fetched its own");
}
