//! Loading the settings: where each value comes from (`ZIPPER_*` environment, then the TOML file, then the
//! default), reading and parsing them, and collecting every problem into [`ConfigErrors`], each naming its
//! place. The settings themselves (names, defaults, minimums) are the table in `config.rs`; the key set is
//! read in `keys.rs`. Nothing here may print a value that could be a secret.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::suggest::closest;
use super::{Config, LogFormat, RawFile, ENV_KEYS, ENV_PREFIX, OTHER_ENV};
use crate::core::keys::truncate_for_message;
use crate::core::link::PathPrefix;
use crate::origin::HostAllowlist;
use crate::shared_cache::CacheUrl;

/// Where environment variables come from: the process ([`ProcessEnv`]) or, in tests, a map.
pub trait Env {
    /// The value of variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;

    /// The names of every variable that is set (to warn about unknown `ZIPPER_*` ones).
    fn names(&self) -> Vec<String>;
}

/// The process environment. A value that is not UTF-8 is read lossily (and then fails validation).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

/// One problem in the configuration, naming the setting (`ZIPPER_LISTEN` or `zipper.toml: listen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    place: String,
    message: String,
}

/// Every problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
    /// Problems that would not stop zipper on their own (unknown `ZIPPER_*` variables), shown after the
    /// errors because one of them may be the cause (`ZIPPER_KEY` for `ZIPPER_KEYS`).
    warnings: Vec<String>,
}

/// Reads each setting from the environment or the file, collecting errors.
pub(super) struct Loader<'a> {
    pub(super) file_name: String,
    pub(super) base_dir: PathBuf,
    pub(super) env: &'a dyn Env,
    pub(super) errors: Vec<ConfigError>,
    /// Variables named by `{ env = "…" }` secrets: read by zipper, so not unknown.
    pub(super) referenced_env: Vec<String>,
}

/// Where a value came from, to name it in an error.
pub(super) enum Origin {
    Env(String),
    File,
    Default,
}

// === impl Env ===

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }

    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }

    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    fn names(&self) -> Vec<String> {
        std::env::vars_os()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect()
    }
}

// === loading ===

impl Config {
    /// Reads the file at `path` (if any) and the environment, and validates everything.
    pub fn load(path: Option<&Path>, env: &dyn Env) -> Result<Config, ConfigErrors> {
        let text = match path {
            None => None,
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => Some(text),
                Err(e) => {
                    return Err(ConfigErrors::new(
                        vec![ConfigError::new(
                            path.display().to_string(),
                            format!("cannot read the config file: {e}"),
                        )],
                        Vec::new(),
                    ))
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
        let (file_name, base_dir) = match file {
            None => (String::new(), PathBuf::new()),
            Some((path, _)) => (
                path.display().to_string(),
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
        };
        let mut loader = Loader {
            file_name,
            base_dir,
            env,
            errors: Vec::new(),
            referenced_env: Vec::new(),
        };
        let raw = match file {
            None => Some(RawFile::default()),
            Some((_, text)) => loader.read_file(text),
        };
        let Some(raw) = raw else {
            let warnings = loader.unknown_env_warnings();
            return Err(ConfigErrors::new(loader.errors, warnings));
        };
        let mut config = loader.build(raw);
        let warnings = loader.unknown_env_warnings();
        if loader.errors.is_empty() {
            config.warnings = warnings;
            Ok(config)
        } else {
            Err(ConfigErrors::new(loader.errors, warnings))
        }
    }
}

/// A TOML error's message and line, without the source snippet (which could show a secret).
pub(super) fn toml_error_message(text: &str, e: &toml::de::Error) -> String {
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
    /// The environment value of setting `key`, if set.
    pub(super) fn env_value(&self, key: &str) -> Option<(String, String)> {
        let name = env_name(key);
        self.env.var(&name).map(|value| (name, value))
    }

    pub(super) fn origin_of(&self, key: &str, in_file: bool) -> Origin {
        match self.env_value(key) {
            Some((name, _)) => Origin::Env(name),
            None if in_file => Origin::File,
            None => Origin::Default,
        }
    }

    pub(super) fn place(&self, key: &str, origin: &Origin) -> String {
        match origin {
            Origin::Env(name) => name.clone(),
            Origin::File => format!("{}: {key}", self.file_name),
            Origin::Default => key.to_owned(),
        }
    }

    pub(super) fn error(&mut self, place: String, message: String) {
        self.errors.push(ConfigError::new(place, message));
    }

    /// The value of a setting: the environment's (parsed with `parse`), else the file's, else `default`.
    pub(super) fn value<T>(
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

    pub(super) fn int(&mut self, key: &str, file: Option<u64>, default: u64, min: u64) -> u64 {
        let (v, origin) = self.value(key, file, default, parse_u64);
        if v < min {
            let place = self.place(key, &origin);
            self.error(place, format!("must be at least {min}, got {v}"));
            return default;
        }
        v
    }

    pub(super) fn size(&mut self, key: &str, file: Option<u64>, default: usize, min: u64) -> usize {
        let default64 = u64::try_from(default).unwrap_or(u64::MAX);
        usize::try_from(self.int(key, file, default64, min)).unwrap_or(usize::MAX)
    }

    /// A `u32` setting; a larger value is taken as `u32::MAX`.
    pub(super) fn u32(&mut self, key: &str, file: Option<u64>, default: u32, min: u32) -> u32 {
        u32::try_from(self.int(key, file, u64::from(default), u64::from(min))).unwrap_or(u32::MAX)
    }

    /// A setting in whole seconds.
    pub(super) fn secs(
        &mut self,
        key: &str,
        file: Option<u64>,
        default: Duration,
        min: u64,
    ) -> Duration {
        Duration::from_secs(self.int(key, file, default.as_secs(), min))
    }

    /// A setting in milliseconds.
    pub(super) fn millis(
        &mut self,
        key: &str,
        file: Option<u64>,
        default: Duration,
        min: u64,
    ) -> Duration {
        let default = default.as_millis().try_into().unwrap_or(u64::MAX);
        Duration::from_millis(self.int(key, file, default, min))
    }

    pub(super) fn bool(&mut self, key: &str, file: Option<bool>, default: bool) -> bool {
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

    /// `log_format`: `json` or `pretty`.
    pub(super) fn log_format(
        &mut self,
        key: &str,
        file: Option<String>,
        default: LogFormat,
    ) -> LogFormat {
        let (text, origin) = self.value(key, file.map(Some), None, |t| Ok(Some(t.to_owned())));
        let Some(text) = text else {
            return default;
        };
        LogFormat::parse(&text).unwrap_or_else(|message| {
            let place = self.place(key, &origin);
            self.error(place, message);
            default
        })
    }

    pub(super) fn addr(
        &mut self,
        key: &str,
        file: Option<String>,
        default: SocketAddr,
    ) -> SocketAddr {
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

    /// An optional Redis URL; empty means none. Errors never quote the value (it may hold a password).
    pub(super) fn cache_url(&mut self, key: &str, file: Option<String>) -> Option<CacheUrl> {
        let (text, origin) = self.value(key, file.map(Some), None, |t| Ok(Some(t.to_owned())));
        let text = text.filter(|t| !t.trim().is_empty())?;
        match CacheUrl::parse(text.trim()) {
            Ok(url) => Some(url),
            Err(message) => {
                let place = self.place(key, &origin);
                self.error(place, message);
                None
            }
        }
    }

    pub(super) fn prefix(&mut self, key: &str, file: Option<String>) -> PathPrefix {
        let (text, origin) = self.value(key, file, String::new(), |t| Ok(t.to_owned()));
        PathPrefix::parse(&text).unwrap_or_else(|e| {
            let place = self.place(key, &origin);
            self.error(place, e.to_string());
            PathPrefix::none()
        })
    }

    pub(super) fn hosts(&mut self, key: &str, file: Option<Vec<String>>) -> HostAllowlist {
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
}

impl Loader<'_> {
    /// One warning per `ZIPPER_*` variable that zipper does not read, naming the closest setting's variable
    /// when one is close (`ZIPPER_MAX_CONCURENT` → `ZIPPER_MAX_CONCURRENT_DOWNLOADS`). Values are never
    /// shown.
    pub(super) fn unknown_env_warnings(&self) -> Vec<String> {
        let known: Vec<String> = super::setting_names()
            .map(env_name)
            .chain(OTHER_ENV.iter().map(|s| (*s).to_owned()))
            .collect();
        let mut names = self.env.names();
        names.sort();
        names
            .into_iter()
            .filter(|name| name.starts_with(ENV_PREFIX))
            .filter(|name| !known.contains(name) && !self.referenced_env.contains(name))
            .map(|name| {
                let strip = |s: &'_ str| s.strip_prefix(ENV_PREFIX).unwrap_or(s).to_owned();
                let candidates: Vec<String> = known.iter().map(|k| strip(k)).collect();
                let hint = closest(&strip(&name), candidates.iter().map(String::as_str))
                    .map(|c| format!("; did you mean {ENV_PREFIX}{c}?"))
                    .unwrap_or_default();
                format!("{name} is set but is not a zipper setting, so it is ignored{hint}")
            })
            .collect()
    }
}

/// `ZIPPER_` + the file key in upper case.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

pub(super) fn parse_u64(text: &str) -> Result<u64, String> {
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
    pub(super) fn new(place: String, message: String) -> ConfigError {
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

    pub(super) fn is_about_keys(&self) -> bool {
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
    pub(super) fn new(errors: Vec<ConfigError>, warnings: Vec<String>) -> ConfigErrors {
        ConfigErrors { errors, warnings }
    }

    /// The errors, in the order found.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }

    /// The warnings (unknown `ZIPPER_*` variables), shown after the errors.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.as_slice() {
            [one] => write!(f, "invalid configuration: {one}")?,
            many => {
                write!(f, "invalid configuration ({} problems):", many.len())?;
                for e in many {
                    write!(f, "\n  {e}")?;
                }
            }
        }
        for w in &self.warnings {
            write!(f, "\nwarning: {w}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
