//! Fetching a manifest's bytes from its callback URL (docs/contract.md, Manifest request): [`fetch_manifest`]
//! and [`ManifestFetchError`].
//!
//! It sends the GET, maps the origin's status to contract codes, retries connect errors, resets and
//! 502/503/504 with backoff, enforces the overall timeout (retries included) and reads the body
//! incrementally under the size cap. It must not parse or validate the manifest (that is
//! [`crate::core`]'s job), sign anything (the caller passes the `X-Zipper-*` headers), or log header values.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::ACCEPT;
use http::{HeaderMap, HeaderValue, StatusCode};
use url::Url;

use super::client::{CrossOrigin, TransportError};
use super::guard::{GuardError, HostKind};
use super::{redact_url, redact_url_str, OriginClient};
use crate::error::{Code, HasCode};
use crate::metrics::OriginKind;

/// Why a manifest could not be fetched. Every message names the callback without its query string.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestFetchError {
    /// The callback is not an absolute `http(s)` URL.
    #[error("callback {url} is not an absolute http(s) URL")]
    BadUrl {
        /// The callback, redacted.
        url: String,
    },
    /// The guard refused the callback or one of its redirects.
    #[error("callback {url}: {source}")]
    NotAllowed {
        /// The callback, redacted.
        url: String,
        /// The refusal.
        #[source]
        source: GuardError,
    },
    /// The origin answered 403.
    #[error("the origin refused the manifest at {url} (403 Forbidden)")]
    Forbidden {
        /// The callback, redacted.
        url: String,
    },
    /// The origin answered 404.
    #[error("the origin has no manifest at {url} (404 Not Found)")]
    NotFound {
        /// The callback, redacted.
        url: String,
    },
    /// The origin answered 410.
    #[error("the manifest at {url} is gone (410 Gone)")]
    Gone {
        /// The callback, redacted.
        url: String,
    },
    /// Another status, or 502/503/504 after the retries.
    #[error(
        "the origin answered {status} for the manifest at {url} (after {attempts} attempt(s))"
    )]
    Status {
        /// The callback, redacted.
        url: String,
        /// The last status.
        status: StatusCode,
        /// Requests sent.
        attempts: u32,
    },
    /// The request or the body failed after the retries.
    #[error("fetching the manifest at {url} failed after {attempts} attempt(s): {reason}")]
    Transport {
        /// The callback, redacted.
        url: String,
        /// Requests sent.
        attempts: u32,
        /// What failed, from the error chain (no URL, no header values).
        reason: String,
    },
    /// The overall timeout expired.
    #[error("the manifest at {url} did not arrive within {after:?}")]
    Timeout {
        /// The callback, redacted.
        url: String,
        /// The configured timeout.
        after: Duration,
    },
    /// The body is larger than the cap.
    #[error("the manifest at {url} is larger than {limit} bytes")]
    TooLarge {
        /// The callback, redacted.
        url: String,
        /// The cap.
        limit: u64,
    },
}

impl HasCode for ManifestFetchError {
    fn code(&self) -> Code {
        match self {
            ManifestFetchError::BadUrl { .. } => Code::BadLink,
            ManifestFetchError::NotAllowed { source, .. } => source.code(),
            ManifestFetchError::Forbidden { .. } => Code::Forbidden,
            ManifestFetchError::NotFound { .. } => Code::DownloadNotFound,
            ManifestFetchError::Gone { .. } => Code::DownloadGone,
            ManifestFetchError::Status { .. }
            | ManifestFetchError::Transport { .. }
            | ManifestFetchError::Timeout { .. } => Code::ManifestUnavailable,
            ManifestFetchError::TooLarge { .. } => Code::InvalidManifest,
        }
    }
}

/// One attempt's failure: retried or final.
enum Attempt {
    Retry(ManifestFetchError),
    Fail(ManifestFetchError),
}

/// A 2xx manifest answer: its body and its headers (they tell a mod_zip file list from a JSON manifest).
#[derive(Debug)]
pub struct ManifestResponse {
    /// The body, at most `manifest_max_bytes` long.
    pub body: Bytes,
    /// The response headers of the last hop.
    pub headers: HeaderMap,
}

/// GETs `callback` with `Accept: application/json` and `extra_headers` (the caller's `X-Zipper-Time` and
/// `X-Zipper-Signature`), and returns the body of a 2xx answer, at most `manifest_max_bytes` long.
///
/// The whole fetch, retries and backoff included, is bounded by `manifest_timeout`. Redirects are followed
/// (each hop checked by the guard, at most `max_redirects`), re-sending `extra_headers`.
pub async fn fetch_manifest(
    client: &OriginClient,
    callback: &str,
    extra_headers: HeaderMap,
) -> Result<Bytes, ManifestFetchError> {
    fetch_manifest_response(client, callback, extra_headers)
        .await
        .map(|response| response.body)
}

/// [`fetch_manifest`] with the answer's headers.
pub async fn fetch_manifest_response(
    client: &OriginClient,
    callback: &str,
    extra_headers: HeaderMap,
) -> Result<ManifestResponse, ManifestFetchError> {
    let url = Url::parse(callback).map_err(|_| ManifestFetchError::BadUrl {
        url: redact_url_str(callback),
    })?;
    let shown = redact_url(&url);
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(ManifestFetchError::BadUrl { url: shown });
    }
    client
        .guard()
        .check_url(&url, HostKind::Callback)
        .map_err(|source| ManifestFetchError::NotAllowed {
            url: shown.clone(),
            source,
        })?;
    let after = client.settings().manifest_timeout;
    match tokio::time::timeout(
        after,
        fetch_with_retries(
            client,
            url,
            super::target::exact_target(callback).as_deref(),
            &shown,
            extra_headers,
        ),
    )
    .await
    {
        Ok(result) => result,
        Err(_elapsed) => Err(ManifestFetchError::Timeout { url: shown, after }),
    }
}

async fn fetch_with_retries(
    client: &OriginClient,
    url: Url,
    target: Option<&str>,
    shown: &str,
    mut headers: HeaderMap,
) -> Result<ManifestResponse, ManifestFetchError> {
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let mut retries = client.settings().retry.start();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match attempt(client, &url, target, shown, &headers, attempts).await {
            Ok(body) => return Ok(body),
            Err(Attempt::Fail(e)) => return Err(e),
            Err(Attempt::Retry(e)) => {
                let Some(delay) = retries.failed(0) else {
                    return Err(e);
                };
                tracing::debug!(url = %shown, attempt = attempts, ?delay, error = %e, "retrying manifest fetch");
                client.metrics().origin_retry(OriginKind::Manifest);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn attempt(
    client: &OriginClient,
    url: &Url,
    target: Option<&str>,
    shown: &str,
    headers: &HeaderMap,
    attempts: u32,
) -> Result<ManifestResponse, Attempt> {
    let transport = |e: TransportError| -> Attempt {
        match e {
            TransportError::NotAllowed(refused) => Attempt::Fail(ManifestFetchError::NotAllowed {
                url: shown.to_string(),
                source: refused,
            }),
            other => {
                let retry = other.is_transient();
                let err = ManifestFetchError::Transport {
                    url: shown.to_string(),
                    attempts,
                    reason: other.to_string(),
                };
                if retry {
                    Attempt::Retry(err)
                } else {
                    Attempt::Fail(err)
                }
            }
        }
    };
    let mut response = client
        .get_with_target(
            HostKind::Callback,
            OriginKind::Manifest,
            url.clone(),
            target.map(str::to_string),
            headers.clone(),
            CrossOrigin::KeepHeaders,
        )
        .await
        .map_err(transport)?;
    let status = response.status;
    let url = shown.to_string();
    match status {
        s if s.is_success() => {}
        StatusCode::FORBIDDEN => return Err(Attempt::Fail(ManifestFetchError::Forbidden { url })),
        StatusCode::NOT_FOUND => return Err(Attempt::Fail(ManifestFetchError::NotFound { url })),
        StatusCode::GONE => return Err(Attempt::Fail(ManifestFetchError::Gone { url })),
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            return Err(Attempt::Retry(ManifestFetchError::Status {
                url,
                status,
                attempts,
            }))
        }
        _ => {
            return Err(Attempt::Fail(ManifestFetchError::Status {
                url,
                status,
                attempts,
            }))
        }
    }
    let limit = client.settings().manifest_max_bytes;
    let too_large = || {
        Attempt::Fail(ManifestFetchError::TooLarge {
            url: shown.to_string(),
            limit,
        })
    };
    let declared = super::headers::declared_length(&response.headers);
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    // Never reserve more than the cap, nor more than a modest guess when the length is unknown.
    let reserve = declared.unwrap_or(64 * 1024).min(limit);
    let mut body = BytesMut::with_capacity(usize::try_from(reserve).unwrap_or(0));
    while let Some(chunk) = response.body.chunk().await.map_err(transport)? {
        let total = u64::try_from(body.len() + chunk.len()).unwrap_or(u64::MAX);
        if total > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(ManifestResponse {
        body: body.freeze(),
        headers: std::mem::take(&mut response.headers),
    })
}
