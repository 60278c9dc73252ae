//! The HTTP server (CONTRACT.md §4–§7): listeners, routing, streaming, admin endpoints and shutdown.
//!
//! Placeholder on the `links` branch: only [`serve`], the entry point `zipper serve` calls, exists here; the
//! server issue replaces this module. It must not parse configuration or links itself.

use crate::config::Config;

/// Runs zipper with this (validated) configuration until shutdown.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let _ = config;
    anyhow::bail!("server not built yet")
}
