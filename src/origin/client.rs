//! The shared HTTP client for origin requests: [`OriginClient`].
//!
//! It owns two reqwest clients built from the same [`OriginSettings`], one for manifest callbacks and one for
//! files, because a reqwest redirect policy is per client and the two kinds of URL have separate host
//! allowlists. Each has one connection pool shared by every download. Both send
//! `User-Agent: zipper/<version>`, never decompress, ignore proxy environment variables (a proxy would hide
//! the resolved address from the guard), send no `Referer` on redirects (it would leak the previous URL's
//! query), and connect only through the guard's resolver. This module must not issue requests itself.

use std::sync::Arc;

use super::guard::{Guard, HostKind};
use super::OriginSettings;

/// The `User-Agent` of every origin request (CONTRACT.md §2).
pub const USER_AGENT: &str = concat!("zipper/", env!("CARGO_PKG_VERSION"));

/// The client could not be built (for example, the TLS backend failed to initialise).
#[derive(Debug, thiserror::Error)]
#[error("building the origin HTTP client: {0}")]
pub struct ClientBuildError(#[source] reqwest::Error);

/// The origin client: cheap to clone, shared by all downloads.
#[derive(Debug, Clone)]
pub struct OriginClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    manifests: reqwest::Client,
    files: reqwest::Client,
    /// For file requests carrying manifest headers: stops at cross-origin redirects (see
    /// [`Guard::same_origin_redirect_policy`]).
    files_with_headers: reqwest::Client,
    guard: Guard,
    settings: OriginSettings,
}

impl OriginClient {
    /// Builds the client from `settings`.
    pub fn new(settings: OriginSettings) -> Result<Self, ClientBuildError> {
        let guard = Guard::new(&settings);
        let manifests = build(&settings, &guard, guard.redirect_policy(HostKind::Callback))?;
        let files = build(&settings, &guard, guard.redirect_policy(HostKind::File))?;
        let files_with_headers = build(
            &settings,
            &guard,
            guard.same_origin_redirect_policy(HostKind::File),
        )?;
        Ok(OriginClient {
            inner: Arc::new(Inner {
                manifests,
                files,
                files_with_headers,
                guard,
                settings,
            }),
        })
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &OriginSettings {
        &self.inner.settings
    }

    /// The guard applying the settings' allowlists and private-network rule.
    pub fn guard(&self) -> &Guard {
        &self.inner.guard
    }

    /// The reqwest client for `kind` URLs.
    pub(crate) fn http(&self, kind: HostKind) -> &reqwest::Client {
        match kind {
            HostKind::Callback => &self.inner.manifests,
            HostKind::File => &self.inner.files,
        }
    }

    /// The reqwest client for file requests that carry manifest headers: it hands cross-origin redirects
    /// back to the caller instead of following them.
    pub(crate) fn http_files_with_headers(&self) -> &reqwest::Client {
        &self.inner.files_with_headers
    }
}

fn build(
    settings: &OriginSettings,
    guard: &Guard,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, ClientBuildError> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout)
        .redirect(redirects)
        .dns_resolver(Arc::new(guard.resolver()))
        .no_proxy()
        .referer(false)
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .build()
        .map_err(ClientBuildError)
}
