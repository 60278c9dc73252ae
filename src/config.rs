//! Settings (docs/contract.md, Operations): [`Config`], read from a TOML file plus `ZIPPER_*` environment
//! variables, which win over the file.
//!
//! This file is the settings table: the setting names, their defaults (in [`Config::with_keys`], the one
//! place), their minimums and the order they are read in. `load.rs` reads them (environment, file,
//! default) and collects every problem into [`ConfigErrors`], each naming its setting (`ZIPPER_LISTEN:
//! invalid socket address "x"`); `keys.rs` reads the signing keys and where secrets come from (inline,
//! `{ env = "VAR" }`, `{ file = "/path" }`, `ZIPPER_KEYS`). Environment variables are read through the
//! [`Env`] trait so tests pass a map and never call `set_var`. It must never print a secret, and it does not
//! act on the settings: it binds nothing and starts nothing.

mod file;
mod keys;
mod load;
mod suggest;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::core::keys::KeySet;
use crate::core::link::{LinkPolicy, PathPrefix, DEFAULT_MAX_AGE_SECS, DEFAULT_SKEW_SECS};
use crate::origin::HostAllowlist;
use crate::shared_cache::CacheUrl;
use load::Loader;

pub use load::{env_name, ConfigError, ConfigErrors, Env, ProcessEnv};

/// Prefix of every environment variable zipper reads.
pub const ENV_PREFIX: &str = "ZIPPER_";

/// The environment variable that replaces the file's `[keys]` table: `id:secret,id2:secret2`.
pub const ENV_KEYS: &str = "ZIPPER_KEYS";

/// `ZIPPER_*` variables zipper reads that are not settings of the table below (`--config`, the log filter).
pub const OTHER_ENV: &[&str] = &["ZIPPER_CONFIG", "ZIPPER_LOG"];

/// One mebibyte.
const MIB: u64 = 1024 * 1024;

/// The validated settings. `Debug` shows key ids but never secrets.
#[derive(Debug, Clone)]
pub struct Config {
    /// `listen` / `ZIPPER_LISTEN`: the public address.
    pub listen: SocketAddr,
    /// `admin_listen` / `ZIPPER_ADMIN_LISTEN`: the health and metrics address.
    pub admin_listen: SocketAddr,
    /// `path_prefix` / `ZIPPER_PATH_PREFIX`: the path links live under (none: the root); other paths are
    /// `404 not_found`.
    pub path_prefix: PathPrefix,
    /// `[keys]` / `ZIPPER_KEYS`: the key set (never empty after loading).
    pub keys: KeySet,
    /// `link_max_age_secs` / `ZIPPER_LINK_MAX_AGE_SECS` and `link_skew_secs` / `ZIPPER_LINK_SKEW_SECS`.
    pub link: LinkPolicy,
    /// `allow_private_networks` / `ZIPPER_ALLOW_PRIVATE_NETWORKS`: allow origins on private, loopback,
    /// link-local and metadata addresses.
    pub allow_private_networks: bool,
    /// `callback_hosts` / `ZIPPER_CALLBACK_HOSTS`: hosts a callback may name (empty: any).
    pub callback_hosts: HostAllowlist,
    /// `file_hosts` / `ZIPPER_FILE_HOSTS`: hosts a manifest's file URLs may name (empty: any).
    pub file_hosts: HostAllowlist,
    /// `max_concurrent_downloads` / `ZIPPER_MAX_CONCURRENT_DOWNLOADS`: beyond it, `503 overloaded`.
    pub max_concurrent_downloads: usize,
    /// `shutdown_grace_secs` / `ZIPPER_SHUTDOWN_GRACE_SECS`: how long running downloads may finish.
    pub shutdown_grace: Duration,
    /// `manifest_timeout_secs` / `ZIPPER_MANIFEST_TIMEOUT_SECS`: the whole manifest fetch.
    pub manifest_timeout: Duration,
    /// `manifest_max_bytes` / `ZIPPER_MANIFEST_MAX_BYTES`: largest manifest body.
    pub manifest_max_bytes: u64,
    /// `max_entries` / `ZIPPER_MAX_ENTRIES`: most entries in one archive.
    pub max_entries: usize,
    /// `max_total_bytes` / `ZIPPER_MAX_TOTAL_BYTES`: most file bytes in one archive.
    pub max_total_bytes: u64,
    /// `origin_connect_timeout_secs` / `ZIPPER_ORIGIN_CONNECT_TIMEOUT_SECS`.
    pub origin_connect_timeout: Duration,
    /// `origin_read_timeout_secs` / `ZIPPER_ORIGIN_READ_TIMEOUT_SECS`: longest wait for the next origin bytes.
    pub origin_read_timeout: Duration,
    /// `origin_retries` / `ZIPPER_ORIGIN_RETRIES`: retries of a transient origin failure.
    pub origin_retries: u32,
    /// `origin_retry_backoff_ms` / `ZIPPER_ORIGIN_RETRY_BACKOFF_MS`: first backoff, doubled per retry.
    pub origin_retry_backoff: Duration,
    /// `max_redirects` / `ZIPPER_MAX_REDIRECTS`: redirects followed per origin request.
    pub max_redirects: usize,
    /// `prefetch_files` / `ZIPPER_PREFETCH_FILES`: files fetched ahead of the writer, per download.
    pub prefetch_files: usize,
    /// `prefetch_bytes` / `ZIPPER_PREFETCH_BYTES`: read-ahead byte budget per download.
    pub prefetch_bytes: u64,
    /// `client_write_timeout_secs` / `ZIPPER_CLIENT_WRITE_TIMEOUT_SECS`: longest stall writing to a client.
    pub client_write_timeout: Duration,
    /// `request_header_timeout_secs` / `ZIPPER_REQUEST_HEADER_TIMEOUT_SECS`.
    pub request_header_timeout: Duration,
    /// `crc_cache_entries` / `ZIPPER_CRC_CACHE_ENTRIES`: CRC-32s remembered for resumes (0: no cache).
    pub crc_cache_entries: usize,
    /// `memory_budget_bytes` / `ZIPPER_MEMORY_BUDGET_BYTES`: bytes the whole process may buffer for clients
    /// (read-ahead, queued chunks, write buffers, range and CRC work); at least 1 MiB.
    pub memory_budget_bytes: u64,
    /// `origin_min_rate_bytes_per_sec` / `ZIPPER_ORIGIN_MIN_RATE_BYTES_PER_SEC`: slowest origin body accepted,
    /// over each `origin_read_timeout_secs` window (0: no minimum).
    pub origin_min_rate_bytes_per_sec: u64,
    /// `h2_max_streams` / `ZIPPER_H2_MAX_STREAMS`: concurrent HTTP/2 streams per client connection.
    pub h2_max_streams: u32,
    /// `max_client_connections` / `ZIPPER_MAX_CLIENT_CONNECTIONS`: open client connections on the public
    /// listener.
    pub max_client_connections: usize,
    /// `listen_backlog` / `ZIPPER_LISTEN_BACKLOG`: the public listener's accept queue.
    pub listen_backlog: u32,
    /// `max_file_retries` / `ZIPPER_MAX_FILE_RETRIES`: retries of one file in all, even when each retry
    /// makes progress.
    pub max_file_retries: u32,
    /// `cache_url` / `ZIPPER_CACHE_URL`: the fleet's shared cache on Redis (`redis://…`; none: in-process
    /// caches only).
    pub cache_url: Option<CacheUrl>,
    /// Problems that do not stop zipper (an unknown `ZIPPER_*` variable), for the start-up log. Never a
    /// secret.
    pub warnings: Vec<String>,
    /// `inline_crc_max_bytes` / `ZIPPER_INLINE_CRC_MAX_BYTES`: a stored file of known size up to this many
    /// bytes without a `crc32` is read whole before its local header, which then carries its CRC (no data
    /// descriptor); 0 disables. Capped at an eighth of `memory_budget_bytes` (the whole-file buffer pool).
    pub inline_crc_max_bytes: u64,
    /// `report_queue_max` / `ZIPPER_REPORT_QUEUE_MAX`: completion reports waiting to be sent; a full queue
    /// drops the oldest.
    pub report_queue_max: usize,
    /// `report_retries` / `ZIPPER_REPORT_RETRIES`: retries of a report after a connect error, a timeout or
    /// a 5xx.
    pub report_retries: u32,
    /// `report_timeout_secs` / `ZIPPER_REPORT_TIMEOUT_SECS`: longest wait per report attempt.
    pub report_timeout: Duration,
    /// `log_format` / `ZIPPER_LOG_FORMAT`: `pretty` (human-readable lines) or `json` (one JSON object a line).
    pub log_format: LogFormat,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines: time, level, target, message, fields (colours on a terminal).
    #[default]
    Pretty,
    /// One JSON object a line, the event's fields at the top level.
    Json,
}

impl LogFormat {
    /// Reads `pretty` or `json`.
    pub fn parse(text: &str) -> Result<LogFormat, String> {
        match text {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "expected \"json\" or \"pretty\", got \"{}\"",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// The TOML type a file key must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string.
    Text,
    /// An integer, 0 or more.
    Whole,
    /// `true` or `false`.
    Bool,
    /// An array of strings.
    TextList,
    /// The `[keys]` table.
    Keys,
}

/// Every file key and its type: the file is checked against this table (all problems at once, each
/// naming its key) before [`RawFile`] reads it. A new setting adds its line here and its field there
/// (`tests.rs` checks that both list the same keys).
const FILE_SETTINGS: &[(&str, Kind)] = &[
    ("listen", Kind::Text),
    ("admin_listen", Kind::Text),
    ("path_prefix", Kind::Text),
    ("keys", Kind::Keys),
    ("link_max_age_secs", Kind::Whole),
    ("link_skew_secs", Kind::Whole),
    ("allow_private_networks", Kind::Bool),
    ("callback_hosts", Kind::TextList),
    ("file_hosts", Kind::TextList),
    ("max_concurrent_downloads", Kind::Whole),
    ("shutdown_grace_secs", Kind::Whole),
    ("manifest_timeout_secs", Kind::Whole),
    ("manifest_max_bytes", Kind::Whole),
    ("max_entries", Kind::Whole),
    ("max_total_bytes", Kind::Whole),
    ("origin_connect_timeout_secs", Kind::Whole),
    ("origin_read_timeout_secs", Kind::Whole),
    ("origin_retries", Kind::Whole),
    ("origin_retry_backoff_ms", Kind::Whole),
    ("max_redirects", Kind::Whole),
    ("prefetch_files", Kind::Whole),
    ("prefetch_bytes", Kind::Whole),
    ("client_write_timeout_secs", Kind::Whole),
    ("request_header_timeout_secs", Kind::Whole),
    ("crc_cache_entries", Kind::Whole),
    ("memory_budget_bytes", Kind::Whole),
    ("origin_min_rate_bytes_per_sec", Kind::Whole),
    ("h2_max_streams", Kind::Whole),
    ("max_client_connections", Kind::Whole),
    ("listen_backlog", Kind::Whole),
    ("max_file_retries", Kind::Whole),
    ("inline_crc_max_bytes", Kind::Whole),
    ("report_queue_max", Kind::Whole),
    ("report_retries", Kind::Whole),
    ("report_timeout_secs", Kind::Whole),
    ("log_format", Kind::Text),
    ("cache_url", Kind::Text),
];

/// The file's shape, read once every key has passed [`FILE_SETTINGS`]. Values are checked by [`Loader`] so
/// that every error is collected; `keys` is read as a raw value so that an error there cannot quote a
/// secret.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    listen: Option<String>,
    admin_listen: Option<String>,
    path_prefix: Option<String>,
    keys: Option<toml::Value>,
    link_max_age_secs: Option<u64>,
    link_skew_secs: Option<u64>,
    allow_private_networks: Option<bool>,
    callback_hosts: Option<Vec<String>>,
    file_hosts: Option<Vec<String>>,
    max_concurrent_downloads: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    manifest_timeout_secs: Option<u64>,
    manifest_max_bytes: Option<u64>,
    max_entries: Option<u64>,
    max_total_bytes: Option<u64>,
    origin_connect_timeout_secs: Option<u64>,
    origin_read_timeout_secs: Option<u64>,
    origin_retries: Option<u64>,
    origin_retry_backoff_ms: Option<u64>,
    max_redirects: Option<u64>,
    prefetch_files: Option<u64>,
    prefetch_bytes: Option<u64>,
    client_write_timeout_secs: Option<u64>,
    request_header_timeout_secs: Option<u64>,
    crc_cache_entries: Option<u64>,
    memory_budget_bytes: Option<u64>,
    origin_min_rate_bytes_per_sec: Option<u64>,
    h2_max_streams: Option<u64>,
    max_client_connections: Option<u64>,
    listen_backlog: Option<u64>,
    max_file_retries: Option<u64>,
    cache_url: Option<String>,
    report_queue_max: Option<u64>,
    report_retries: Option<u64>,
    report_timeout_secs: Option<u64>,
    log_format: Option<String>,
    inline_crc_max_bytes: Option<u64>,
}

/// The file keys of [`FILE_SETTINGS`], in its order (for suggestions and the known `ZIPPER_*` names).
fn setting_names() -> impl Iterator<Item = &'static str> {
    FILE_SETTINGS.iter().map(|(name, _)| *name)
}

// === impl Config ===

impl Config {
    /// The defaults, with this key set. The single place where defaults are written down.
    pub fn with_keys(keys: KeySet) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            path_prefix: PathPrefix::none(),
            keys,
            link: LinkPolicy {
                max_age_secs: DEFAULT_MAX_AGE_SECS,
                skew_secs: DEFAULT_SKEW_SECS,
            },
            allow_private_networks: false,
            callback_hosts: HostAllowlist::any(),
            file_hosts: HostAllowlist::any(),
            max_concurrent_downloads: 1024,
            shutdown_grace: Duration::from_secs(30),
            manifest_timeout: Duration::from_secs(30),
            manifest_max_bytes: 32 * MIB,
            max_entries: 100_000,
            max_total_bytes: 1 << 40,
            origin_connect_timeout: Duration::from_secs(10),
            origin_read_timeout: Duration::from_secs(30),
            origin_retries: 3,
            origin_retry_backoff: Duration::from_millis(100),
            max_redirects: 5,
            prefetch_files: 8,
            prefetch_bytes: 8 * MIB,
            client_write_timeout: Duration::from_secs(60),
            request_header_timeout: Duration::from_secs(10),
            crc_cache_entries: 100_000,
            memory_budget_bytes: crate::budget::DEFAULT_BUDGET,
            origin_min_rate_bytes_per_sec: 1024,
            h2_max_streams: 100,
            max_client_connections: 10_000,
            listen_backlog: 4096,
            max_file_retries: 10,
            cache_url: None,
            report_queue_max: crate::report::sender::DEFAULT_QUEUE_MAX,
            report_retries: crate::report::sender::DEFAULT_RETRIES,
            report_timeout: crate::report::sender::DEFAULT_TIMEOUT,
            log_format: LogFormat::Pretty,
            inline_crc_max_bytes: MIB,
            warnings: Vec::new(),
        }
    }
}

// === the settings table ===

/// One numeric setting: `c.field` read by `Loader::reader` from the environment or the file's `key`,
/// defaulting to its current (default) value, at least `min`.
macro_rules! setting {
    ($loader:ident, $raw:ident, $c:ident, $reader:ident, $field:ident, $key:ident, $min:expr) => {
        $c.$field = $loader.$reader(stringify!($key), $raw.$key, $c.$field, $min);
    };
}

/// Each setting read from the environment or the file, in the order errors are reported: its key, the
/// file's value, the default and the minimum.
impl Loader<'_> {
    fn build(&mut self, mut raw: RawFile) -> Config {
        let mut c = Config::with_keys(KeySet::new());
        self.listeners(&mut raw, &mut c);
        self.links(&mut raw, &mut c);
        self.origins(&mut raw, &mut c);
        self.clients(&raw, &mut c);
        c.cache_url = self.cache_url("cache_url", raw.cache_url.take());
        self.reports(&raw, &mut c);
        c.log_format = self.log_format("log_format", raw.log_format.take(), c.log_format);
        c
    }

    fn reports(&mut self, raw: &RawFile, c: &mut Config) {
        setting!(self, raw, c, size, report_queue_max, report_queue_max, 1);
        setting!(self, raw, c, u32, report_retries, report_retries, 0);
        setting!(self, raw, c, secs, report_timeout, report_timeout_secs, 1);
    }

    fn listeners(&mut self, raw: &mut RawFile, c: &mut Config) {
        c.listen = self.addr("listen", raw.listen.take(), c.listen);
        c.admin_listen = self.addr("admin_listen", raw.admin_listen.take(), c.admin_listen);
        if c.listen == c.admin_listen && c.listen.port() != 0 {
            self.error(
                self.place("admin_listen", &self.origin_of("admin_listen", true)),
                format!("is the same address as listen ({})", c.listen),
            );
        }
        c.path_prefix = self.prefix("path_prefix", raw.path_prefix.take());
    }

    fn links(&mut self, raw: &mut RawFile, c: &mut Config) {
        let d = c.link;
        let max_age = self.int(
            "link_max_age_secs",
            raw.link_max_age_secs,
            d.max_age_secs,
            1,
        );
        let skew = self.int("link_skew_secs", raw.link_skew_secs, d.skew_secs, 0);
        c.link = LinkPolicy {
            max_age_secs: max_age.min(i64::MAX as u64),
            skew_secs: skew.min(i64::MAX as u64),
        };
        c.keys = self.keys(raw.keys.take());
    }

    fn origins(&mut self, raw: &mut RawFile, c: &mut Config) {
        let private = raw.allow_private_networks;
        c.allow_private_networks =
            self.bool("allow_private_networks", private, c.allow_private_networks);
        c.callback_hosts = self.hosts("callback_hosts", raw.callback_hosts.take());
        c.file_hosts = self.hosts("file_hosts", raw.file_hosts.take());
        // reader, Config field, file key (= setting name), minimum.
        setting!(
            self,
            raw,
            c,
            size,
            max_concurrent_downloads,
            max_concurrent_downloads,
            1
        );
        setting!(self, raw, c, secs, shutdown_grace, shutdown_grace_secs, 0);
        setting!(
            self,
            raw,
            c,
            secs,
            manifest_timeout,
            manifest_timeout_secs,
            1
        );
        setting!(self, raw, c, int, manifest_max_bytes, manifest_max_bytes, 1);
        setting!(self, raw, c, size, max_entries, max_entries, 1);
        setting!(self, raw, c, int, max_total_bytes, max_total_bytes, 0);
        setting!(
            self,
            raw,
            c,
            secs,
            origin_connect_timeout,
            origin_connect_timeout_secs,
            1
        );
        setting!(
            self,
            raw,
            c,
            secs,
            origin_read_timeout,
            origin_read_timeout_secs,
            1
        );
        setting!(self, raw, c, u32, origin_retries, origin_retries, 0);
        setting!(
            self,
            raw,
            c,
            millis,
            origin_retry_backoff,
            origin_retry_backoff_ms,
            0
        );
        setting!(self, raw, c, size, max_redirects, max_redirects, 0);
    }

    fn clients(&mut self, raw: &RawFile, c: &mut Config) {
        setting!(self, raw, c, size, prefetch_files, prefetch_files, 1);
        setting!(self, raw, c, int, prefetch_bytes, prefetch_bytes, 1);
        setting!(
            self,
            raw,
            c,
            secs,
            client_write_timeout,
            client_write_timeout_secs,
            1
        );
        setting!(
            self,
            raw,
            c,
            secs,
            request_header_timeout,
            request_header_timeout_secs,
            1
        );
        setting!(self, raw, c, size, crc_cache_entries, crc_cache_entries, 0);
        setting!(
            self,
            raw,
            c,
            int,
            memory_budget_bytes,
            memory_budget_bytes,
            MIB
        );
        setting!(
            self,
            raw,
            c,
            int,
            origin_min_rate_bytes_per_sec,
            origin_min_rate_bytes_per_sec,
            0
        );
        setting!(self, raw, c, u32, h2_max_streams, h2_max_streams, 1);
        setting!(
            self,
            raw,
            c,
            size,
            max_client_connections,
            max_client_connections,
            1
        );
        setting!(self, raw, c, u32, listen_backlog, listen_backlog, 1);
        setting!(self, raw, c, u32, max_file_retries, max_file_retries, 0);
        setting!(
            self,
            raw,
            c,
            int,
            inline_crc_max_bytes,
            inline_crc_max_bytes,
            0
        );
    }
}

#[cfg(test)]
mod tests;
