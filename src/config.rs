//! Settings (CONTRACT.md §7): [`Config`], read from a TOML file plus `ZIPPER_*` environment variables, which
//! win over the file.
//!
//! Owns the setting names, their defaults (in [`Config::with_keys`], the one place), their validation, and
//! where secrets come from (inline, `{ env = "VAR" }`, `{ file = "/path" }`, `ZIPPER_KEYS`). Environment
//! variables are read through the [`Env`] trait so tests pass a map and never call `set_var`. Every problem is
//! collected into [`ConfigErrors`], each naming its setting (`ZIPPER_LISTEN: invalid socket address "x"`).
//! It must never print a secret, and it does not act on the settings: it binds nothing and starts nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::core::keys::{truncate_for_message, KeyId, KeySet, Secret};
use crate::core::link::{LinkPolicy, DEFAULT_MAX_AGE_SECS, DEFAULT_SKEW_SECS};
use crate::origin::HostAllowlist;

/// Prefix of every environment variable zipper reads.
pub const ENV_PREFIX: &str = "ZIPPER_";

/// The environment variable that replaces the file's `[keys]` table: `id:secret,id2:secret2`.
pub const ENV_KEYS: &str = "ZIPPER_KEYS";

/// Where environment variables come from: the process ([`ProcessEnv`]) or, in tests, a map.
pub trait Env {
    /// The value of variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment. A value that is not UTF-8 is read lossily (and then fails validation).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

/// The validated settings. `Debug` shows key ids but never secrets.
#[derive(Debug, Clone)]
pub struct Config {
    /// `listen` / `ZIPPER_LISTEN`: the public address.
    pub listen: SocketAddr,
    /// `admin_listen` / `ZIPPER_ADMIN_LISTEN`: the health and metrics address.
    pub admin_listen: SocketAddr,
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
}

/// One problem in the configuration, naming the setting (`ZIPPER_LISTEN` or `zipper.toml: listen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    place: String,
    message: String,
}

/// Every problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

/// The file's shape. Values are checked by [`Loader`] so that every error is collected; `keys` is read as a
/// raw value so that a type error there cannot quote a secret.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    listen: Option<String>,
    admin_listen: Option<String>,
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
}

/// Reads each setting from the environment or the file, collecting errors.
struct Loader<'a> {
    file_name: String,
    base_dir: PathBuf,
    env: &'a dyn Env,
    errors: Vec<ConfigError>,
}

/// Where a value came from, to name it in an error.
enum Origin {
    Env(String),
    File,
    Default,
}

// === impl Env ===

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

// === impl Config ===

impl Config {
    /// The defaults, with this key set. The single place where defaults are written down.
    pub fn with_keys(keys: KeySet) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
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
            manifest_max_bytes: 32 * 1024 * 1024,
            max_entries: 100_000,
            max_total_bytes: 1 << 40,
            origin_connect_timeout: Duration::from_secs(10),
            origin_read_timeout: Duration::from_secs(30),
            origin_retries: 3,
            origin_retry_backoff: Duration::from_millis(100),
            max_redirects: 5,
            prefetch_files: 8,
            prefetch_bytes: 8 * 1024 * 1024,
            client_write_timeout: Duration::from_secs(60),
            request_header_timeout: Duration::from_secs(10),
            crc_cache_entries: 100_000,
        }
    }

    /// Reads the file at `path` (if any) and the environment, and validates everything.
    pub fn load(path: Option<&Path>, env: &dyn Env) -> Result<Config, ConfigErrors> {
        let text = match path {
            None => None,
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => Some(text),
                Err(e) => {
                    return Err(ConfigErrors(vec![ConfigError::new(
                        path.display().to_string(),
                        format!("cannot read the config file: {e}"),
                    )]))
                }
            },
        };
        Config::from_sources(path.zip(text.as_deref()), env)
    }

    /// Builds the configuration from a file's path and contents (if any) and the environment. Relative
    /// `{ file = … }` secret paths are resolved against the file's directory (else the working directory).
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: &dyn Env,
    ) -> Result<Config, ConfigErrors> {
        let (file_name, base_dir, raw) = match file {
            None => (String::new(), PathBuf::new(), RawFile::default()),
            Some((path, text)) => {
                let name = path.display().to_string();
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                match toml::from_str::<RawFile>(text) {
                    Ok(raw) => (name, dir, raw),
                    Err(e) => {
                        return Err(ConfigErrors(vec![ConfigError::new(
                            name,
                            toml_error_message(text, &e),
                        )]))
                    }
                }
            }
        };
        let mut loader = Loader {
            file_name,
            base_dir,
            env,
            errors: Vec::new(),
        };
        let config = loader.build(raw);
        if loader.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(loader.errors))
        }
    }
}

/// A TOML error's message and line, without the source snippet (which could show a secret).
fn toml_error_message(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(0, |before| before.matches('\n').count())
                + 1;
            format!("line {line}: {}", e.message().trim_end())
        }
        None => e.message().trim_end().to_owned(),
    }
}

// === impl Loader ===

impl Loader<'_> {
    fn build(&mut self, raw: RawFile) -> Config {
        let d = Config::with_keys(KeySet::new());
        let secs = Duration::from_secs;
        let listen = self.addr("listen", raw.listen, d.listen);
        let admin_listen = self.addr("admin_listen", raw.admin_listen, d.admin_listen);
        if listen == admin_listen && listen.port() != 0 {
            self.error(
                self.place("admin_listen", &self.origin_of("admin_listen", true)),
                format!("is the same address as listen ({listen})"),
            );
        }
        let max_age_secs = self.int(
            "link_max_age_secs",
            raw.link_max_age_secs,
            d.link.max_age_secs,
            1,
        );
        let skew_secs = self.int("link_skew_secs", raw.link_skew_secs, d.link.skew_secs, 0);
        Config {
            listen,
            admin_listen,
            keys: self.keys(raw.keys),
            link: LinkPolicy {
                max_age_secs: max_age_secs.min(i64::MAX as u64),
                skew_secs: skew_secs.min(i64::MAX as u64),
            },
            allow_private_networks: self.bool(
                "allow_private_networks",
                raw.allow_private_networks,
                d.allow_private_networks,
            ),
            callback_hosts: self.hosts("callback_hosts", raw.callback_hosts),
            file_hosts: self.hosts("file_hosts", raw.file_hosts),
            max_concurrent_downloads: self.size(
                "max_concurrent_downloads",
                raw.max_concurrent_downloads,
                d.max_concurrent_downloads,
                1,
            ),
            shutdown_grace: secs(self.int(
                "shutdown_grace_secs",
                raw.shutdown_grace_secs,
                d.shutdown_grace.as_secs(),
                0,
            )),
            manifest_timeout: secs(self.int(
                "manifest_timeout_secs",
                raw.manifest_timeout_secs,
                d.manifest_timeout.as_secs(),
                1,
            )),
            manifest_max_bytes: self.int(
                "manifest_max_bytes",
                raw.manifest_max_bytes,
                d.manifest_max_bytes,
                1,
            ),
            max_entries: self.size("max_entries", raw.max_entries, d.max_entries, 1),
            max_total_bytes: self.int("max_total_bytes", raw.max_total_bytes, d.max_total_bytes, 0),
            origin_connect_timeout: secs(self.int(
                "origin_connect_timeout_secs",
                raw.origin_connect_timeout_secs,
                d.origin_connect_timeout.as_secs(),
                1,
            )),
            origin_read_timeout: secs(self.int(
                "origin_read_timeout_secs",
                raw.origin_read_timeout_secs,
                d.origin_read_timeout.as_secs(),
                1,
            )),
            origin_retries: u32::try_from(self.int(
                "origin_retries",
                raw.origin_retries,
                u64::from(d.origin_retries),
                0,
            ))
            .unwrap_or(u32::MAX),
            origin_retry_backoff: Duration::from_millis(
                self.int(
                    "origin_retry_backoff_ms",
                    raw.origin_retry_backoff_ms,
                    d.origin_retry_backoff
                        .as_millis()
                        .try_into()
                        .unwrap_or(u64::MAX),
                    0,
                ),
            ),
            max_redirects: self.size("max_redirects", raw.max_redirects, d.max_redirects, 0),
            prefetch_files: self.size("prefetch_files", raw.prefetch_files, d.prefetch_files, 1),
            prefetch_bytes: self.int("prefetch_bytes", raw.prefetch_bytes, d.prefetch_bytes, 1),
            client_write_timeout: secs(self.int(
                "client_write_timeout_secs",
                raw.client_write_timeout_secs,
                d.client_write_timeout.as_secs(),
                1,
            )),
            request_header_timeout: secs(self.int(
                "request_header_timeout_secs",
                raw.request_header_timeout_secs,
                d.request_header_timeout.as_secs(),
                1,
            )),
            crc_cache_entries: self.size(
                "crc_cache_entries",
                raw.crc_cache_entries,
                d.crc_cache_entries,
                0,
            ),
        }
    }

    /// The environment value of setting `key`, if set.
    fn env_value(&self, key: &str) -> Option<(String, String)> {
        let name = env_name(key);
        self.env.var(&name).map(|value| (name, value))
    }

    fn origin_of(&self, key: &str, in_file: bool) -> Origin {
        match self.env_value(key) {
            Some((name, _)) => Origin::Env(name),
            None if in_file => Origin::File,
            None => Origin::Default,
        }
    }

    fn place(&self, key: &str, origin: &Origin) -> String {
        match origin {
            Origin::Env(name) => name.clone(),
            Origin::File => format!("{}: {key}", self.file_name),
            Origin::Default => key.to_owned(),
        }
    }

    fn error(&mut self, place: String, message: String) {
        self.errors.push(ConfigError::new(place, message));
    }

    /// The value of a setting: the environment's (parsed with `parse`), else the file's, else `default`.
    fn value<T>(
        &mut self,
        key: &str,
        file: Option<T>,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> (T, Origin) {
        if let Some((name, text)) = self.env_value(key) {
            return match parse(&text) {
                Ok(v) => (v, Origin::Env(name)),
                Err(message) => {
                    self.error(name, message);
                    (default, Origin::Default)
                }
            };
        }
        match file {
            Some(v) => (v, Origin::File),
            None => (default, Origin::Default),
        }
    }

    fn int(&mut self, key: &str, file: Option<u64>, default: u64, min: u64) -> u64 {
        let (v, origin) = self.value(key, file, default, parse_u64);
        if v < min {
            let place = self.place(key, &origin);
            self.error(place, format!("must be at least {min}, got {v}"));
            return default;
        }
        v
    }

    fn size(&mut self, key: &str, file: Option<u64>, default: usize, min: u64) -> usize {
        let default64 = u64::try_from(default).unwrap_or(u64::MAX);
        usize::try_from(self.int(key, file, default64, min)).unwrap_or(usize::MAX)
    }

    fn bool(&mut self, key: &str, file: Option<bool>, default: bool) -> bool {
        self.value(key, file, default, |text| match text {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(format!(
                "expected true or false, got \"{}\"",
                truncate_for_message(text)
            )),
        })
        .0
    }

    fn addr(&mut self, key: &str, file: Option<String>, default: SocketAddr) -> SocketAddr {
        let (text, origin) = self.value(key, file.map(Some), None, |t| Ok(Some(t.to_owned())));
        let Some(text) = text else {
            return default;
        };
        match text.parse() {
            Ok(addr) => addr,
            Err(_) => {
                let place = self.place(key, &origin);
                self.error(
                    place,
                    format!(
                        "invalid socket address \"{}\" (expected IP:PORT, e.g. 127.0.0.1:8080 or [::]:8080)",
                        truncate_for_message(&text)
                    ),
                );
                default
            }
        }
    }

    fn hosts(&mut self, key: &str, file: Option<Vec<String>>) -> HostAllowlist {
        let (entries, origin) = self.value(key, file, Vec::new(), |text| {
            Ok(text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect())
        });
        match HostAllowlist::new(entries.iter().map(String::as_str)) {
            Ok(list) => list,
            Err(e) => {
                let place = self.place(key, &origin);
                self.error(place, e.to_string());
                HostAllowlist::any()
            }
        }
    }

    fn keys(&mut self, file: Option<toml::Value>) -> KeySet {
        let keys = if let Some((name, text)) = self.env_value("keys") {
            self.keys_from_env(&name, &text)
        } else if let Some(value) = file {
            self.keys_from_file(value)
        } else {
            KeySet::new()
        };
        if keys.is_empty() && self.errors.iter().all(|e| !e.is_about_keys()) {
            self.error(
                "keys".into(),
                format!(
                    "no signing keys configured: add a [keys] table (id = \"secret\") to the config file \
                     or set {ENV_KEYS}=id:secret"
                ),
            );
        }
        keys
    }

    /// `id:secret,id2:secret2`. Errors name the entry by position, never by content.
    fn keys_from_env(&mut self, name: &str, text: &str) -> KeySet {
        let mut keys = KeySet::new();
        for (i, entry) in text.split(',').enumerate() {
            let n = i + 1;
            let Some((id, secret)) = entry.split_once(':') else {
                self.error(
                    name.to_owned(),
                    format!("entry {n} has no ':' (expected id:secret,id2:secret2)"),
                );
                continue;
            };
            let result = KeyId::parse(id).map_err(|e| e.to_string()).and_then(|id| {
                let secret = Secret::new(secret)
                    .ok_or_else(|| format!("the secret of key id \"{id}\" is empty"))?;
                keys.insert(id, secret).map_err(|e| e.to_string())
            });
            if let Err(message) = result {
                self.error(name.to_owned(), format!("entry {n}: {message}"));
            }
        }
        keys
    }

    fn keys_from_file(&mut self, value: toml::Value) -> KeySet {
        let mut keys = KeySet::new();
        let toml::Value::Table(table) = value else {
            self.error(
                format!("{}: keys", self.file_name),
                "must be a table of key id = secret".into(),
            );
            return keys;
        };
        for (id, value) in table {
            let place = format!("{}: keys.{}", self.file_name, truncate_for_message(&id));
            let result = KeyId::parse(&id)
                .map_err(|e| e.to_string())
                .and_then(|key_id| {
                    let secret = self.secret_from(&id, value)?;
                    keys.insert(key_id, secret).map_err(|e| e.to_string())
                });
            if let Err(message) = result {
                self.error(place, message);
            }
        }
        keys
    }

    /// A secret given inline, as `{ env = "VAR" }` or as `{ file = "/path" }`.
    fn secret_from(&self, id: &str, value: toml::Value) -> Result<Secret, String> {
        const SHAPES: &str =
            "expected \"secret\", { env = \"VARIABLE\" } or { file = \"/path/to/secret\" }";
        let empty = || format!("the secret of key id \"{id}\" is empty");
        let table = match value {
            toml::Value::String(s) => return Secret::new(s).ok_or_else(empty),
            toml::Value::Table(t) => t,
            _ => return Err(SHAPES.into()),
        };
        let mut fields = table.into_iter();
        match (fields.next(), fields.next()) {
            (Some((kind, toml::Value::String(target))), None) if kind == "env" => {
                let value = self
                    .env
                    .var(&target)
                    .ok_or_else(|| format!("environment variable {target} is not set"))?;
                Secret::from_file_contents(value.into_bytes()).ok_or_else(empty)
            }
            (Some((kind, toml::Value::String(target))), None) if kind == "file" => {
                let path = self.base_dir.join(&target);
                let bytes = std::fs::read(&path)
                    .map_err(|e| format!("cannot read secret file \"{}\": {e}", path.display()))?;
                Secret::from_file_contents(bytes).ok_or_else(empty)
            }
            _ => Err(SHAPES.into()),
        }
    }
}

/// `ZIPPER_` + the file key in upper case.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

fn parse_u64(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "expected a whole number, got \"{}\"",
            truncate_for_message(text)
        )
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

// === impl ConfigError ===

impl ConfigError {
    fn new(place: String, message: String) -> ConfigError {
        ConfigError { place, message }
    }

    /// The setting or file the error is about, e.g. `ZIPPER_LISTEN` or `zipper.toml: keys.main`.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn is_about_keys(&self) -> bool {
        self.place == ENV_KEYS || self.place.contains(": keys")
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

impl std::error::Error for ConfigError {}

// === impl ConfigErrors ===

impl ConfigErrors {
    /// The errors, in the order found.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "invalid configuration: {one}"),
            many => {
                write!(f, "invalid configuration ({} problems):", many.len())?;
                for e in many {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests;
