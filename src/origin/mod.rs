//! Origin-side I/O: everything zipper sends to origin apps and file hosts, and nothing else.
//!
//! - [`addresses`] is the table of special-purpose IP ranges (IANA registries) and [`addresses::classify`].
//! - [`guard`] decides which hosts and addresses zipper may connect to (allowlists, private networks,
//!   redirect hops); the check runs on the resolved address at connect time and on every redirect.
//! - [`client`] builds the one [`OriginClient`] (connection pool, bounded reads, timeouts, the minimum
//!   rate, redirects, `User-Agent`, the guard).
//! - [`retry`] is the one retry rule of manifest and file fetches ([`RetryPolicy`]).
//! - [`headers`] validates a manifest's request headers and reads the size headers of responses.
//! - [`target`] keeps the manifest GET's request target as signed (docs/contract.md, Manifest request).
//! - [`manifest`] fetches a manifest's bytes from the callback URL (docs/contract.md, Manifest request); it does not parse them.
//! - [`files`] fetches one origin file as a pulled stream of bytes, with retries, resume and size checks
//!   (docs/contract.md, Failures).
//!
//! This module must not know about zip, links or the hyper service, must not map errors to HTTP statuses
//! (that is [`crate::error`]'s job) and must never log header values or URL query strings.

use std::time::Duration;

pub mod addresses;
pub mod client;
pub mod files;
pub mod guard;
pub mod headers;
pub mod manifest;
pub mod retry;
pub mod target;

pub use client::OriginClient;
pub use files::{fetch_file, FetchError, FileRequest};
pub use guard::{GuardError, HostAllowlist};
pub use manifest::{fetch_manifest, fetch_manifest_response, ManifestFetchError, ManifestResponse};
pub use retry::RetryPolicy;

/// Default connect timeout per origin connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default idle (read) timeout: the longest wait for the next bytes of an origin response.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default overall timeout of a manifest fetch, retries included (docs/contract.md, Manifest request).
pub const DEFAULT_MANIFEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a manifest body (docs/contract.md, Manifest request: 32 MiB).
pub const DEFAULT_MANIFEST_MAX_BYTES: u64 = 32 * 1024 * 1024;
/// Default minimum origin body rate, averaged over each read-timeout window (docs/contract.md, Safety).
pub const DEFAULT_MIN_RATE: u64 = 1024;
/// Default maximum number of redirects followed per request (docs/contract.md, Manifest request and Safety).
pub const DEFAULT_MAX_REDIRECTS: usize = 5;

/// Settings of every origin request. Built by the configuration layer; [`Default`] gives the contract's
/// defaults (private networks refused, no allowlists).
#[derive(Debug, Clone)]
pub struct OriginSettings {
    /// Timeout for establishing one TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Idle timeout: the longest wait for the next bytes of a response (headers or body).
    pub read_timeout: Duration,
    /// Overall timeout of a manifest fetch, retries and body included.
    pub manifest_timeout: Duration,
    /// The largest manifest body accepted, in bytes.
    pub manifest_max_bytes: u64,
    /// The least an origin body must deliver per second, averaged over each `read_timeout` window; 0
    /// disables the check.
    pub min_rate_bytes_per_sec: u64,
    /// When and how often failed requests are tried again.
    pub retry: RetryPolicy,
    /// Redirects followed per request; each hop is checked by [`guard`].
    pub max_redirects: usize,
    /// Allow private, loopback, link-local, unique-local, CGNAT, multicast, unspecified and metadata
    /// addresses (the demo and the tests set this).
    pub allow_private_networks: bool,
    /// Hosts a manifest callback (and its redirects) may use; empty allows any host.
    pub callback_hosts: HostAllowlist,
    /// Hosts a file URL (and its redirects) may use; empty allows any host.
    pub file_hosts: HostAllowlist,
}

impl Default for OriginSettings {
    fn default() -> Self {
        OriginSettings {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            manifest_timeout: DEFAULT_MANIFEST_TIMEOUT,
            manifest_max_bytes: DEFAULT_MANIFEST_MAX_BYTES,
            min_rate_bytes_per_sec: DEFAULT_MIN_RATE,
            retry: RetryPolicy::default(),
            max_redirects: DEFAULT_MAX_REDIRECTS,
            allow_private_networks: false,
            callback_hosts: HostAllowlist::any(),
            file_hosts: HostAllowlist::any(),
        }
    }
}

/// `url` without userinfo, query string or fragment, for messages and logs (queries often carry tokens).
pub fn redact_url(url: &url::Url) -> String {
    use url::Position;
    // Sliced from the serialization (no clone and re-serialization per setter: this runs once per file
    // fetch). Credentials sit between the scheme and the host; a URL without a host has none.
    if url.has_host() {
        format!(
            "{}://{}",
            url.scheme(),
            &url[Position::BeforeHost..Position::AfterPath]
        )
    } else {
        url[..Position::AfterPath].to_string()
    }
}

/// Like [`redact_url`] for a string that may not parse: unparsable input is cut at the first `?` or `#`.
pub fn redact_url_str(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => redact_url(&parsed),
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_credentials_query_and_fragment() {
        assert_eq!(
            redact_url_str("https://u:p@cdn.example.com/a/b.jpg?token=secret#x"),
            "https://cdn.example.com/a/b.jpg"
        );
        assert_eq!(redact_url_str("not a url?token=1"), "not a url");
    }

    /// The earlier implementation: clear each part through the setters.
    fn redact_by_setters(url: &url::Url) -> String {
        let mut shown = url.clone();
        shown.set_query(None);
        shown.set_fragment(None);
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.to_string()
    }

    #[test]
    fn redaction_by_slicing_matches_redaction_by_setters() {
        for raw in [
            "https://u:p@cdn.example.com/a/b.jpg?token=secret#x",
            "https://user@cdn.example.com:8443/a%20b/c.jpg?x=1",
            "http://127.0.0.1:8080/f?q",
            "http://[::1]:9000/x#frag",
            "https://h",
            "https://h?only=query",
            "https://EXAMPLE.com/%7Euser/",
            "https://xn--bcher-kva.example/b",
            "file:///etc/passwd",
            "data:text/plain,hello?x",
            "mailto:someone@example.com",
        ] {
            let url = url::Url::parse(raw).expect(raw);
            assert_eq!(redact_url(&url), redact_by_setters(&url), "{raw}");
        }
    }
}
