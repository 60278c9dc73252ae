//! Where a download's validated manifest comes from ([`load`]): for a resume (a `Range` request), the
//! in-process manifest cache, then the fleet's shared cache, both keyed by the signed link; otherwise, and
//! on a miss, the signed manifest request, parsed as JSON or as a mod_zip list, whose result fills both
//! caches until the link expires.
//!
//! A download without `Range` always asks the origin, so an origin that withdraws a link is heard by every
//! new download; only the resumes of a download already started reuse what it was given (and they must: the
//! `If-Range` ETag is a function of that manifest). This module moves data between the origin client,
//! the caches and the core; it decides no status of its own (a fetch or parse error passes through).

use std::sync::Arc;

use http::HeaderMap;

use super::request_error::RequestError;
use super::AppState;
use crate::core::link::VerifiedLink;
use crate::core::manifest::{self, BodyHeaders, Manifest};
use crate::manifest_cache::ManifestKey;
use crate::metrics::Metrics;
use crate::origin::fetch_manifest_response;

/// The manifest of `verified`, from a cache when `resume` and one has it, else from the origin (sending
/// `request_headers`, the signed `X-Zipper-*` headers).
pub async fn load(
    state: &AppState,
    verified: &VerifiedLink,
    now: i64,
    resume: bool,
    request_headers: HeaderMap,
) -> Result<Arc<Manifest>, RequestError> {
    let key = ManifestKey::new(verified.key_id(), verified.callback());
    let max_age = i64::try_from(state.link_policy.max_age_secs).unwrap_or(i64::MAX);
    let expires = verified.timestamp().saturating_add(max_age);
    let secret = state.keys.get(verified.key_id());
    if resume {
        if let Some(manifest) = state.manifest_cache.get(&key, now) {
            Metrics::inc(&state.metrics.manifest_cache_hits);
            return Ok(manifest);
        }
        if let Some(secret) = secret {
            let shared = state
                .shared_cache
                .get_manifest(&key, secret, &state.manifest_limits)
                .await;
            if let Some(manifest) = shared {
                let manifest = Arc::new(manifest);
                state
                    .manifest_cache
                    .put(key, Arc::clone(&manifest), expires);
                Metrics::inc(&state.metrics.manifest_cache_hits);
                return Ok(manifest);
            }
        }
    }
    let fetched =
        fetch_manifest_response(&state.origin, verified.callback(), request_headers).await?;
    let manifest = Arc::new(manifest::parse_response(
        &fetched.body,
        &BodyHeaders::from_header_map(&fetched.headers),
        verified.callback(),
        verified.timestamp(),
        &state.manifest_limits,
    )?);
    drop(fetched);
    state
        .manifest_cache
        .put(key, Arc::clone(&manifest), expires);
    let ttl = expires.saturating_sub(now);
    if let (Some(secret), Ok(ttl @ 1..)) = (secret, u64::try_from(ttl)) {
        state
            .shared_cache
            .put_manifest(&key, secret, &manifest, ttl);
    }
    Ok(manifest)
}
