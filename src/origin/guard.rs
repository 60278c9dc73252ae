//! Which origins zipper may talk to: host allowlists, the private-network rule (the address table is
//! [`super::addresses`]), the metadata endpoints refused always, and the redirect hop limit (docs/contract.md, Safety).
//! Owns [`Guard`] and [`GuardError`].
//!
//! The address check runs where the connection is made: [`GuardedResolver`] filters every resolved address
//! (so DNS rebinding cannot slip a private address past an earlier check), [`Guard::check_url`] covers hosts
//! written as IP literals (which never reach a resolver) and the allowlists, and
//! [`Guard::check_redirect`] repeats the URL check on every redirect hop. This module must not perform
//! requests itself, nor log header values or query strings.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use url::{Host, Url};

pub use super::addresses::{classify, AddressClass};
use crate::error::{Code, HasCode};

/// A refusal by the guard. Messages name the host but never a path or query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The host is, or resolves only to, a refused address. The message names the setting that allows it
    /// (or says that nothing does, for a metadata endpoint).
    #[error("host {host} has address {addr} ({class}), which is not allowed: {}", how_to_allow(.class))]
    PrivateAddress {
        /// The host as written in the URL.
        host: String,
        /// The first refused address.
        addr: IpAddr,
        /// Why it is refused.
        class: AddressClass,
    },
    /// The host is not in the allowlist that applies.
    #[error("host {host} is not in the {list} host allowlist")]
    HostNotAllowed {
        /// The host as written in the URL.
        host: String,
        /// Which allowlist refused it.
        list: HostKind,
    },
    /// Only `http` and `https` are fetched.
    #[error("scheme {scheme:?} is not allowed, only http and https")]
    Scheme {
        /// The URL's scheme.
        scheme: String,
    },
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
    /// A redirect chain longer than the limit.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The configured limit.
        max: usize,
    },
}

/// What allows an origin at an address of `class`: the setting, or nothing.
fn how_to_allow(class: &AddressClass) -> &'static str {
    match class {
        AddressClass::Metadata => {
            "cloud metadata endpoints are refused always, even with allow_private_networks = true"
        }
        _ => {
            "to fetch from private, loopback or link-local addresses (a local origin, a demo), set \
             allow_private_networks = true in the config file or ZIPPER_ALLOW_PRIVATE_NETWORKS=true"
        }
    }
}

impl HasCode for GuardError {
    fn code(&self) -> Code {
        match self {
            GuardError::TooManyRedirects { .. } => Code::ManifestUnavailable,
            _ => Code::OriginNotAllowed,
        }
    }
}

/// Which kind of URL is checked: they have separate allowlists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostKind {
    /// A manifest callback URL.
    Callback,
    /// A file URL from a manifest.
    File,
}

impl fmt::Display for HostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostKind::Callback => "callback",
            HostKind::File => "file",
        })
    }
}

/// An allowlist entry that is not a host name, IP address or `*.domain` pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host allowlist entry {entry:?}: {reason}")]
pub struct InvalidHostPattern {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// The host itself, lowercase, no trailing dot (`cdn.example.com`, `10.0.0.1`, `[::1]`).
    Exact(String),
    /// Any subdomain of the suffix, given as `*.example.com` and stored as `.example.com`.
    Subdomains(String),
}

/// A host allowlist: exact hosts (`cdn.example.com`, `192.0.2.7`, `[2001:db8::1]`) and `*.example.com`
/// (any subdomain, not `example.com` itself). Case-insensitive, ports ignored. Empty allows every host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAllowlist {
    patterns: Vec<HostPattern>,
}

impl HostAllowlist {
    /// The empty allowlist, which allows every host.
    pub fn any() -> Self {
        HostAllowlist::default()
    }

    /// Parses the entries; any invalid one is an error.
    pub fn new<I, S>(entries: I) -> Result<Self, InvalidHostPattern>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns = Vec::new();
        for entry in entries {
            patterns.push(parse_pattern(entry.as_ref())?);
        }
        Ok(HostAllowlist { patterns })
    }

    /// Whether no restriction applies.
    pub fn is_any(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `host` (as in [`Url::host_str`]) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        if self.patterns.is_empty() {
            return true;
        }
        let host = normalize_host(host);
        self.patterns.iter().any(|p| match p {
            HostPattern::Exact(h) => *h == host,
            HostPattern::Subdomains(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        })
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn parse_pattern(entry: &str) -> Result<HostPattern, InvalidHostPattern> {
    let bad = |reason| InvalidHostPattern {
        entry: entry.to_string(),
        reason,
    };
    let trimmed = entry.trim();
    let (subdomains, host) = match trimmed.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let host = normalize_host(host);
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@' | '*' | '\\'))
    {
        return Err(bad(
            "not a host name (no scheme, path, port or wildcard other than a leading *.)",
        ));
    }
    // The url crate's host parser: the same rules as the URLs the entries are matched against.
    let parsed = url::Host::parse(&host).map_err(|_| {
        bad("not a host name or IP address (ports are not part of an entry; IPv6 goes in brackets)")
    })?;
    match (subdomains, parsed) {
        (true, url::Host::Domain(d)) => Ok(HostPattern::Subdomains(format!(".{d}"))),
        (true, _) => Err(bad("*. needs a domain name, not an IP address")),
        (false, parsed) => Ok(HostPattern::Exact(parsed.to_string())),
    }
}

/// The guard: allowlists, the private-network rule and the redirect limit, built from
/// [`OriginSettings`](super::OriginSettings).
#[derive(Debug, Clone)]
pub struct Guard {
    allow_private_networks: bool,
    callback_hosts: HostAllowlist,
    file_hosts: HostAllowlist,
    max_redirects: usize,
}

impl Guard {
    /// A guard applying `settings`.
    pub fn new(settings: &super::OriginSettings) -> Self {
        Guard {
            allow_private_networks: settings.allow_private_networks,
            callback_hosts: settings.callback_hosts.clone(),
            file_hosts: settings.file_hosts.clone(),
            max_redirects: settings.max_redirects,
        }
    }

    /// Checks a URL before it is requested (and each redirect target): scheme, allowlist, and the address
    /// rule for IP-literal hosts. Host names are checked again after resolution by [`GuardedResolver`].
    pub fn check_url(&self, url: &Url, kind: HostKind) -> Result<(), GuardError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GuardError::Scheme {
                scheme: url.scheme().to_string(),
            });
        }
        let host_str = url.host_str().ok_or(GuardError::NoHost)?;
        let list = match kind {
            HostKind::Callback => &self.callback_hosts,
            HostKind::File => &self.file_hosts,
        };
        if !list.allows(host_str) {
            return Err(GuardError::HostNotAllowed {
                host: host_str.to_string(),
                list: kind,
            });
        }
        let literal = match url.host() {
            Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(Host::Domain(_)) | None => None,
        };
        if let Some(addr) = literal {
            self.check_addr(host_str, addr)?;
        }
        Ok(())
    }

    /// Refuses `addr` if it is a metadata endpoint (always, docs/contract.md, Safety), or if it is not public and
    /// private networks are not allowed.
    pub fn check_addr(&self, host: &str, addr: IpAddr) -> Result<(), GuardError> {
        match classify(addr) {
            None => Ok(()),
            Some(class) if self.allow_private_networks && class != AddressClass::Metadata => Ok(()),
            Some(class) => Err(GuardError::PrivateAddress {
                host: host.to_string(),
                addr,
                class,
            }),
        }
    }

    /// Checks redirect hop number `hop` (1-based) to `target`: at most `max_redirects` hops, each target
    /// passing [`Guard::check_url`].
    pub fn check_redirect(
        &self,
        hop: usize,
        target: &Url,
        kind: HostKind,
    ) -> Result<(), GuardError> {
        if hop > self.max_redirects {
            return Err(GuardError::TooManyRedirects {
                max: self.max_redirects,
            });
        }
        self.check_url(target, kind)
    }

    /// The DNS resolver that drops refused addresses.
    pub fn resolver(&self) -> GuardedResolver {
        GuardedResolver {
            guard: self.clone(),
        }
    }
}

/// The resolver of the origin connector (a `tower` service over host names): uses the system resolver and
/// drops refused addresses; a host with no allowed address fails with [`GuardError::PrivateAddress`].
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: Guard,
}

/// The addresses a [`GuardedResolver`] allows.
pub type Addrs = std::vec::IntoIter<SocketAddr>;

type Resolving =
    Pin<Box<dyn Future<Output = Result<Addrs, Box<dyn StdError + Send + Sync>>> + Send>>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = Addrs;
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = Resolving;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let guard = self.guard.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let mut allowed = Vec::with_capacity(resolved.len());
            for addr in resolved {
                match guard.check_addr(&host, addr.ip()) {
                    Ok(()) => allowed.push(addr),
                    Err(e) => {
                        refused.get_or_insert(e);
                    }
                }
            }
            if allowed.is_empty() {
                if let Some(e) = refused {
                    return Err(Box::new(e) as Box<dyn StdError + Send + Sync>);
                }
            }
            Ok(allowed.into_iter())
        })
    }
}

/// Finds a [`GuardError`] in an error's source chain (the connector wraps resolver errors),
/// looking inside `io::Error`s too.
pub fn find_guard_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a GuardError> {
    let mut current: Option<&'a (dyn StdError + 'static)> = Some(err);
    // Chains are short; the bound only guards against a pathological cycle.
    for _ in 0..32 {
        let e = current?;
        if let Some(found) = e.downcast_ref::<GuardError>() {
            return Some(found);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(found) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<GuardError>())
            {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::DEFAULT_MAX_REDIRECTS;
    use super::*;

    fn guard(allow_private: bool, files: &[&str]) -> Guard {
        let settings = super::super::OriginSettings {
            allow_private_networks: allow_private,
            file_hosts: HostAllowlist::new(files).expect("valid allowlist"),
            ..Default::default()
        };
        Guard::new(&settings)
    }

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test url")
    }

    #[test]
    fn ip_literal_hosts_are_checked_without_dns() {
        let g = guard(false, &[]);
        for refused in [
            "http://127.0.0.1/a",
            "http://[::1]:8080/a",
            "http://[::ffff:7f00:1]/a",
            "http://169.254.169.254/latest/meta-data",
            "http://2130706433/a",
            "http://0x7f.1/a",
            "https://10.0.0.1/a",
        ] {
            let err = g.check_url(&url(refused), HostKind::File);
            assert!(
                matches!(err, Err(GuardError::PrivateAddress { .. })),
                "{refused}: {err:?}"
            );
        }
        assert_eq!(
            g.check_url(&url("http://8.8.8.8/a"), HostKind::File),
            Ok(())
        );
        assert_eq!(
            g.check_url(&url("https://example.com/a"), HostKind::File),
            Ok(())
        );
        assert_eq!(
            guard(true, &[]).check_url(&url("http://127.0.0.1/a"), HostKind::File),
            Ok(())
        );
    }

    #[test]
    fn a_refused_address_names_the_setting_that_allows_it() {
        let err = guard(false, &[])
            .check_url(&url("http://127.0.0.1:9/a?token=s3cr3t"), HostKind::File)
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_private_networks = true"), "{err}");
        assert!(err.contains("ZIPPER_ALLOW_PRIVATE_NETWORKS=true"), "{err}");
        assert!(!err.contains("s3cr3t") && !err.contains("/a"), "{err}");
        let err = guard(true, &[])
            .check_url(&url("http://169.254.169.254/latest"), HostKind::File)
            .unwrap_err()
            .to_string();
        assert!(err.contains("refused always"), "{err}");
        assert!(!err.contains("set allow_private_networks"), "{err}");
    }

    #[test]
    fn metadata_endpoints_are_refused_even_with_private_networks_allowed() {
        let open = guard(true, &[]);
        for refused in [
            "http://169.254.169.254/latest/meta-data",
            "http://100.100.100.200/latest/meta-data",
            "http://[fd00:ec2::254]/latest/meta-data",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
        ] {
            let err = open.check_url(&url(refused), HostKind::File);
            assert!(
                matches!(
                    err,
                    Err(GuardError::PrivateAddress {
                        class: AddressClass::Metadata,
                        ..
                    })
                ),
                "{refused}: {err:?}"
            );
        }
        // A resolved name is checked the same way.
        assert!(open
            .check_addr(
                "metadata.google.internal",
                "169.254.169.254".parse().expect("ip")
            )
            .is_err());
        // The rest of the link-local and shared ranges stay open when private networks are allowed.
        for ok in [
            "http://169.254.1.1/",
            "http://100.100.100.201/",
            "http://127.0.0.1/",
        ] {
            assert_eq!(open.check_url(&url(ok), HostKind::File), Ok(()), "{ok}");
        }
    }

    #[test]
    fn redirect_hops_are_limited() {
        let g = guard(true, &[]);
        let target = url("http://127.0.0.1/next");
        for hop in 1..=DEFAULT_MAX_REDIRECTS {
            assert_eq!(g.check_redirect(hop, &target, HostKind::File), Ok(()));
        }
        assert_eq!(
            g.check_redirect(DEFAULT_MAX_REDIRECTS + 1, &target, HostKind::File),
            Err(GuardError::TooManyRedirects {
                max: DEFAULT_MAX_REDIRECTS
            })
        );
    }

    #[test]
    fn scheme_and_allowlist() {
        let g = guard(true, &["cdn.example.com", "*.assets.example.org", "[::1]"]);
        assert!(matches!(
            g.check_url(&url("ftp://cdn.example.com/a"), HostKind::File),
            Err(GuardError::Scheme { .. })
        ));
        for ok in [
            "https://cdn.example.com/a",
            "https://CDN.Example.com./a",
            "https://cdn.example.com:8443/a",
            "https://eu.assets.example.org/a",
            "http://[::1]:9000/a",
        ] {
            assert_eq!(g.check_url(&url(ok), HostKind::File), Ok(()), "{ok}");
        }
        for refused in [
            "https://assets.example.org/a",
            "https://evilcdn.example.com/a",
            "https://cdn.example.com.evil.net/a",
            "https://xassets.example.org/a",
        ] {
            assert!(
                matches!(
                    g.check_url(&url(refused), HostKind::File),
                    Err(GuardError::HostNotAllowed { .. })
                ),
                "{refused}"
            );
        }
        // The callback list is separate and empty here: any host.
        assert_eq!(
            g.check_url(&url("https://app.example.net/cb"), HostKind::Callback),
            Ok(())
        );
    }

    #[test]
    fn allowlist_entries_are_validated() {
        for bad in [
            "",
            "*.",
            "https://x.com",
            "x.com:443",
            "a*.x.com",
            "x.com/path",
            "*.[::1]",
        ] {
            assert!(HostAllowlist::new([bad]).is_err(), "{bad:?}");
        }
        assert!(HostAllowlist::new(["x.com", " *.y.com ", "[::1]", "10.0.0.1"]).is_ok());
        assert!(HostAllowlist::any().is_any());
    }

    #[test]
    fn guard_errors_are_found_in_chains() {
        let inner = GuardError::NoHost;
        let io = std::io::Error::other(inner.clone());
        assert_eq!(find_guard_error(&io), Some(&inner));
        #[derive(Debug)]
        struct Wrap(GuardError);
        impl fmt::Display for Wrap {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("wrap")
            }
        }
        impl StdError for Wrap {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        assert_eq!(find_guard_error(&Wrap(inner.clone())), Some(&inner));
        assert_eq!(find_guard_error(&std::io::Error::other("x")), None);
    }
}
