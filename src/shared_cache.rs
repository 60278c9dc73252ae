//! The fleet's shared cache on Redis (`cache_url = "redis://…"`): [`SharedCache`] keeps the CRCs learnt
//! from full reads and the validated manifests, so that a resume which lands on another instance (a
//! browser's auto-resume, after a restart, behind a load balancer) needs neither the files nor the
//! manifest again. It sits behind the in-process caches ([`crate::crc_cache`], [`crate::manifest_cache`]):
//! reads go to Redis only on an in-process miss and fill the in-process cache; writes go to both.
//!
//! **Never a failed download.** Redis is an optimisation: every failure (refused, timeout, bad answer) is a
//! miss. Each operation is bounded ([`CONNECT_TIMEOUT`], [`OP_TIMEOUT`]); after a failure a circuit breaker
//! ([`Breaker`]) skips Redis for a backoff that doubles up to [`BREAKER_MAX`], so a dead Redis costs one
//! attempt per window, not a timeout per request. Only one connection attempt runs at a time; requests that
//! arrive meanwhile skip the cache. Writes never wait: they go to a bounded queue (entries and bytes)
//! drained by one task that pipelines them, and are dropped when the queue is full or Redis is down.
//!
//! **Keys and integrity.** CRCs are stored under their [`CrcKey`] (key id, URL, size, request headers: the
//! isolation rule of docs/contract.md, Safety), manifests under their [`ManifestKey`] (the signed link).
//! Every value carries an HMAC-SHA256 under the link's signing secret over the Redis key and the value, and
//! a value whose tag does not verify is a miss: whoever can write to Redis without the secrets cannot make
//! zipper serve another manifest or a wrong CRC. A manifest is stored as canonical contract JSON
//! ([`to_canonical_json`]) and validated again by `parse_manifest` when read. Manifests expire with their
//! link; CRCs after `link_max_age_secs` too. Manifests over [`MAX_MANIFEST_BYTES`] are not shared.
//!
//! **Why the `redis` crate** (redis-rs, with `tokio-comp` only): it is the maintained, widely used Redis
//! client of the Rust ecosystem, its multiplexed async connection fits tokio and pipelines many commands on
//! one socket, and with default features off it adds only a handful of small dependencies (no TLS stack of
//! its own, no cluster code). `fred` is as capable but larger, with its own reconnection policy that would
//! compete with the breaker here. Connection management is done here on purpose: the crate's
//! `ConnectionManager` retries on its own, and this module must decide alone when Redis is tried.
//!
//! This module moves bytes to and from Redis and verifies tags; it must not decide statuses, and it never
//! logs a key's secret, a URL's password or a value.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, oneshot};

use crate::core::keys::Secret;
use crate::core::manifest::{parse_manifest, to_canonical_json, Manifest, ManifestLimits};
use crate::crc_cache::CrcKey;
use crate::manifest_cache::ManifestKey;
use crate::metrics::Metrics;

/// Longest wait for a connection to Redis.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Longest wait for one command (or pipeline) to answer.
pub const OP_TIMEOUT: Duration = Duration::from_millis(250);
/// First breaker window after a failure; doubled per failure in a row.
pub const BREAKER_BASE: Duration = Duration::from_secs(1);
/// Longest breaker window.
pub const BREAKER_MAX: Duration = Duration::from_secs(30);
/// Largest manifest (canonical JSON bytes) stored in Redis.
pub const MAX_MANIFEST_BYTES: usize = 8 * 1024 * 1024;
/// Writes waiting for the writer task, at most.
const QUEUE_ENTRIES: usize = 4096;
/// Bytes of values waiting for the writer task, at most.
const QUEUE_BYTES: usize = 32 * 1024 * 1024;
/// Commands per pipeline of the writer task.
const WRITE_BATCH: usize = 256;
/// Keys per `MGET`.
const READ_BATCH: usize = 512;
/// Length of a value's tag.
const TAG_LEN: usize = 32;

// === the setting ===

/// A validated `cache_url`: `redis://[user[:password]@]host[:port][/db]`. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct CacheUrl(String);

impl CacheUrl {
    /// Checks `text`; the error never quotes it (it may hold a password).
    pub fn parse(text: &str) -> Result<CacheUrl, String> {
        let url = url::Url::parse(text).map_err(|_| "expected a redis:// URL".to_string())?;
        if url.scheme() != "redis" || url.host_str().is_none_or(str::is_empty) {
            return Err("expected a redis://host[:port][/db] URL".into());
        }
        redis::Client::open(text).map_err(|_| "not a Redis URL zipper can use".to_string())?;
        Ok(CacheUrl(text.to_owned()))
    }

    /// The URL as given (with its password: never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CacheUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("redacted"));
                }
                write!(f, "CacheUrl({url})")
            }
            Err(_) => f.write_str("CacheUrl(<invalid>)"),
        }
    }
}

// === the breaker ===

/// When Redis may be tried: closed after a success, open for a doubling window after each failure.
/// Plain data over an explicit clock (milliseconds), so its rule is unit-tested.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Breaker {
    failures: u32,
    open_until_ms: u64,
}

impl Breaker {
    /// Whether Redis may be tried at `now_ms`.
    pub fn allows(&self, now_ms: u64) -> bool {
        now_ms >= self.open_until_ms
    }

    /// An operation succeeded: close.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.open_until_ms = 0;
    }

    /// An operation failed at `now_ms`: open for `BREAKER_BASE * 2^(failures in a row - 1)`, at most
    /// `BREAKER_MAX`.
    pub fn failed(&mut self, now_ms: u64) {
        self.failures = self.failures.saturating_add(1);
        let base = u64::try_from(BREAKER_BASE.as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(BREAKER_MAX.as_millis()).unwrap_or(u64::MAX);
        let window = base
            .saturating_mul(1u64 << (self.failures - 1).min(20))
            .min(max);
        self.open_until_ms = now_ms.saturating_add(window);
    }
}

// === the cache ===

/// The shared cache; without `cache_url` every read misses and every write is dropped at no cost.
pub struct SharedCache {
    redis: Option<Redis>,
}

struct Redis {
    link: Arc<Link>,
    writes: mpsc::Sender<Write>,
}

/// The connection, its breaker and the counters.
struct Link {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    connecting: AtomicBool,
    breaker: Mutex<Breaker>,
    epoch: Instant,
    metrics: Arc<Metrics>,
    queued_bytes: AtomicUsize,
}

enum Write {
    Set {
        key: String,
        value: Vec<u8>,
        ttl_secs: u64,
    },
    Flush(oneshot::Sender<()>),
}

impl SharedCache {
    /// No shared cache.
    pub fn disabled() -> SharedCache {
        SharedCache { redis: None }
    }

    /// A cache on `url`. Nothing is connected yet; must be called inside a tokio runtime (it starts the
    /// writer task), else the cache is disabled.
    pub fn new(url: &CacheUrl, metrics: Arc<Metrics>) -> SharedCache {
        let Ok(client) = redis::Client::open(url.expose()) else {
            tracing::warn!("cache_url is not usable; running without the shared cache");
            return SharedCache::disabled();
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no runtime for the shared cache's writer; running without it");
            return SharedCache::disabled();
        };
        let link = Arc::new(Link {
            client,
            conn: Mutex::new(None),
            connecting: AtomicBool::new(false),
            breaker: Mutex::new(Breaker::default()),
            epoch: Instant::now(),
            metrics,
            queued_bytes: AtomicUsize::new(0),
        });
        let (writes, rx) = mpsc::channel(QUEUE_ENTRIES);
        runtime.spawn(write_loop(Arc::clone(&link), rx));
        SharedCache {
            redis: Some(Redis { link, writes }),
        }
    }

    /// Whether a `cache_url` is configured.
    pub fn is_enabled(&self) -> bool {
        self.redis.is_some()
    }

    /// The manifest stored under `key` by any instance, if its tag verifies under `secret` and it is still
    /// a valid manifest under `limits`.
    pub async fn get_manifest(
        &self,
        key: &ManifestKey,
        secret: &Secret,
        limits: &ManifestLimits,
    ) -> Option<Manifest> {
        let redis = self.redis.as_ref()?;
        let name = manifest_name(key);
        let mut cmd = redis::cmd("GET");
        cmd.arg(&name);
        let value: Option<Vec<u8>> = redis
            .link
            .run(|mut c| async move { cmd.query_async(&mut c).await })
            .await?;
        let manifest = value
            .and_then(|value| open(secret, &name, &value).map(<[u8]>::to_vec))
            .and_then(|json| parse_manifest(&json, 0, limits).ok());
        redis.link.count(manifest.is_some());
        manifest
    }

    /// Stores `manifest` under `key` for `ttl_secs` (in the background; dropped if Redis is down).
    pub fn put_manifest(
        &self,
        key: &ManifestKey,
        secret: &Secret,
        manifest: &Manifest,
        ttl_secs: u64,
    ) {
        let Some(redis) = &self.redis else {
            return;
        };
        let Some(json) = to_canonical_json(manifest).filter(|j| j.len() <= MAX_MANIFEST_BYTES)
        else {
            return;
        };
        let name = manifest_name(key);
        let value = seal(secret, &name, &json);
        redis.enqueue(name, value, ttl_secs);
    }

    /// The CRCs stored under `keys` (in order; `None` for a miss or a value that does not verify).
    pub async fn get_crcs(&self, keys: &[CrcKey], secret: &Secret) -> Vec<Option<u32>> {
        let mut found = vec![None; keys.len()];
        let Some(redis) = &self.redis else {
            return found;
        };
        for (chunk, out) in keys.chunks(READ_BATCH).zip(found.chunks_mut(READ_BATCH)) {
            let names: Vec<String> = chunk.iter().map(crc_name).collect();
            let mut cmd = redis::cmd("MGET");
            for name in &names {
                cmd.arg(name);
            }
            let Some(values) = redis
                .link
                .run(|mut c| async move { cmd.query_async::<Vec<Option<Vec<u8>>>>(&mut c).await })
                .await
            else {
                break;
            };
            for ((slot, name), value) in out.iter_mut().zip(&names).zip(values) {
                *slot = value
                    .as_deref()
                    .and_then(|v| open(secret, name, v))
                    .and_then(|crc| <[u8; 4]>::try_from(crc).ok())
                    .map(u32::from_be_bytes);
                redis.link.count(slot.is_some());
            }
        }
        found
    }

    /// Stores a CRC under `key` for `ttl_secs` (in the background; dropped if Redis is down).
    pub fn put_crc(&self, key: &CrcKey, secret: &Secret, crc: u32, ttl_secs: u64) {
        let Some(redis) = &self.redis else {
            return;
        };
        let name = crc_name(key);
        let value = seal(secret, &name, &crc.to_be_bytes());
        redis.enqueue(name, value, ttl_secs);
    }

    /// Waits until the writes queued so far have been sent (or dropped). For tests and shutdown.
    pub async fn flush(&self) {
        let Some(redis) = &self.redis else {
            return;
        };
        let (tx, rx) = oneshot::channel();
        if redis.writes.send(Write::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

impl Redis {
    fn enqueue(&self, key: String, value: Vec<u8>, ttl_secs: u64) {
        let len = value.len();
        let queued = self.link.queued_bytes.fetch_add(len, Ordering::Relaxed);
        let write = Write::Set {
            key,
            value,
            ttl_secs: ttl_secs.max(1),
        };
        if queued + len > QUEUE_BYTES || self.writes.try_send(write).is_err() {
            self.link.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            Metrics::inc(&self.link.metrics.shared_cache_skipped);
        }
    }
}

impl Link {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn count(&self, hit: bool) {
        Metrics::inc(if hit {
            &self.metrics.shared_cache_hits
        } else {
            &self.metrics.shared_cache_misses
        });
    }

    fn failed(&self) {
        Metrics::inc(&self.metrics.shared_cache_errors);
        if let Ok(mut breaker) = self.breaker.lock() {
            breaker.failed(self.now_ms());
        }
        if let Ok(mut conn) = self.conn.lock() {
            *conn = None;
        }
    }

    /// A connection, unless the breaker is open or another request is connecting.
    async fn connection(&self) -> Option<MultiplexedConnection> {
        let allowed = self
            .breaker
            .lock()
            .is_ok_and(|breaker| breaker.allows(self.now_ms()));
        if !allowed {
            return None;
        }
        if let Some(conn) = self.conn.lock().ok().and_then(|c| c.clone()) {
            return Some(conn);
        }
        if self.connecting.swap(true, Ordering::AcqRel) {
            return None;
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT));
        let attempt = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        self.connecting.store(false, Ordering::Release);
        match attempt {
            Ok(Ok(conn)) => {
                if let Ok(mut slot) = self.conn.lock() {
                    *slot = Some(conn.clone());
                }
                Some(conn)
            }
            Ok(Err(e)) => {
                tracing::warn!(error = ?e.kind(), "shared cache: cannot connect to Redis");
                self.failed();
                None
            }
            Err(_) => {
                tracing::warn!("shared cache: connecting to Redis timed out");
                self.failed();
                None
            }
        }
    }

    /// Runs one bounded operation; `None` when skipped or failed (the breaker learns which).
    async fn run<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let Some(conn) = self.connection().await else {
            Metrics::inc(&self.metrics.shared_cache_skipped);
            return None;
        };
        match tokio::time::timeout(OP_TIMEOUT, op(conn)).await {
            Ok(Ok(value)) => {
                if let Ok(mut breaker) = self.breaker.lock() {
                    breaker.succeeded();
                }
                Some(value)
            }
            Ok(Err(e)) => {
                tracing::debug!(error = ?e.kind(), "shared cache: Redis command failed");
                self.failed();
                None
            }
            Err(_) => {
                tracing::debug!("shared cache: Redis command timed out");
                self.failed();
                None
            }
        }
    }
}

/// Drains the write queue: batches of `SET key value EX ttl` in one pipeline each.
async fn write_loop(link: Arc<Link>, mut rx: mpsc::Receiver<Write>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        let mut sets = 0usize;
        let mut bytes = 0usize;
        let mut flushes = Vec::new();
        for write in batch {
            match write {
                Write::Set {
                    key,
                    value,
                    ttl_secs,
                } => {
                    bytes += value.len();
                    pipe.cmd("SET")
                        .arg(key)
                        .arg(value.as_slice())
                        .arg("EX")
                        .arg(ttl_secs)
                        .ignore();
                    sets += 1;
                }
                Write::Flush(done) => flushes.push(done),
            }
        }
        if sets > 0 {
            link.run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
                .await;
        }
        link.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn manifest_name(key: &ManifestKey) -> String {
    format!("zipper:v1:manifest:{}", hex(key.as_bytes()))
}

fn crc_name(key: &CrcKey) -> String {
    format!("zipper:v1:crc:{}", hex(key.as_bytes()))
}

/// What a value's tag covers: a domain, the Redis key (length-prefixed) and the payload.
fn signed_message(name: &str, payload: &[u8]) -> Vec<u8> {
    let domain = b"zipper-shared-cache-v1\n";
    let mut message = Vec::with_capacity(domain.len() + 8 + name.len() + payload.len());
    message.extend_from_slice(domain);
    message.extend_from_slice(&(name.len() as u64).to_be_bytes());
    message.extend_from_slice(name.as_bytes());
    message.extend_from_slice(payload);
    message
}

/// `tag || payload`, the tag an HMAC-SHA256 under `secret`.
fn seal(secret: &Secret, name: &str, payload: &[u8]) -> Vec<u8> {
    let tag = ring::hmac::sign(secret.hmac_key(), &signed_message(name, payload));
    let mut value = Vec::with_capacity(TAG_LEN + payload.len());
    value.extend_from_slice(tag.as_ref());
    value.extend_from_slice(payload);
    value
}

/// The payload of a sealed value, if its tag verifies (ring compares in constant time).
fn open<'a>(secret: &Secret, name: &str, value: &'a [u8]) -> Option<&'a [u8]> {
    if value.len() < TAG_LEN {
        return None;
    }
    let (given, payload) = value.split_at(TAG_LEN);
    ring::hmac::verify(secret.hmac_key(), &signed_message(name, payload), given).ok()?;
    Some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_for_a_doubling_window_and_closes_on_success() {
        let mut b = Breaker::default();
        assert!(b.allows(0));
        b.failed(1000);
        assert!(!b.allows(1999));
        assert!(b.allows(2000));
        b.failed(2000);
        assert!(!b.allows(3999));
        assert!(b.allows(4000));
        for _ in 0..40 {
            b.failed(4000);
        }
        assert!(!b.allows(4000 + 29_999));
        assert!(b.allows(4000 + 30_000), "capped at BREAKER_MAX");
        b.succeeded();
        assert!(b.allows(0));
        b.failed(0);
        assert!(b.allows(1000), "a success resets the doubling");
    }

    #[test]
    fn sealed_values_open_only_with_the_same_secret_and_key() {
        let a = Secret::new("secret-a-0123456789").expect("secret");
        let b = Secret::new("secret-b-0123456789").expect("secret");
        let value = seal(&a, "k1", b"payload");
        assert_eq!(open(&a, "k1", &value), Some(b"payload".as_slice()));
        assert_eq!(open(&b, "k1", &value), None, "another secret");
        assert_eq!(open(&a, "k2", &value), None, "moved to another key");
        let mut tampered = value.clone();
        *tampered.last_mut().expect("byte") ^= 1;
        assert_eq!(open(&a, "k1", &tampered), None);
        assert_eq!(open(&a, "k1", &value[..TAG_LEN - 1]), None);
    }

    #[test]
    fn cache_urls_are_checked_and_their_passwords_hidden() {
        let url = CacheUrl::parse("redis://:hunter2@cache.internal:6380/2").expect("valid");
        let shown = format!("{url:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("cache.internal:6380"), "{shown}");
        for bad in [
            "",
            "cache:6379",
            "http://cache:6379",
            "redis://",
            "redis://:pw@",
        ] {
            let error = CacheUrl::parse(bad).expect_err(bad);
            assert!(!error.contains("pw"), "{error}");
        }
        assert!(CacheUrl::parse("redis://127.0.0.1:6379").is_ok());
    }

    #[tokio::test]
    async fn a_disabled_cache_misses_and_drops() {
        let cache = SharedCache::disabled();
        let secret = Secret::new("secret-a-0123456789").expect("secret");
        let key = CrcKey::new("k", "https://h/f", 1, &[]);
        cache.put_crc(&key, &secret, 7, 10);
        assert_eq!(cache.get_crcs(&[key], &secret).await, vec![None]);
        cache.flush().await;
        assert!(!cache.is_enabled());
    }

    #[tokio::test]
    async fn a_dead_redis_is_a_miss_and_opens_the_breaker() {
        // A port with nothing listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let url = CacheUrl::parse(&format!("redis://127.0.0.1:{port}")).expect("url");
        let metrics = Arc::new(Metrics::default());
        let cache = SharedCache::new(&url, Arc::clone(&metrics));
        let secret = Secret::new("secret-a-0123456789").expect("secret");
        let key = CrcKey::new("k", "https://h/f", 1, &[]);
        assert_eq!(cache.get_crcs(&[key], &secret).await, vec![None]);
        assert_eq!(metrics.shared_cache_errors.get(), 1);
        // The breaker is open: the next reads do not try again.
        for _ in 0..10 {
            assert_eq!(cache.get_crcs(&[key], &secret).await, vec![None]);
        }
        assert_eq!(metrics.shared_cache_errors.get(), 1);
        assert!(metrics.shared_cache_skipped.get() >= 10);
        cache.put_crc(&key, &secret, 1, 10);
        cache.flush().await;
    }
}
