//! The demo: `zipper demo`, the whole product on one machine with no setup, and the harness the integration
//! tests and benches start.
//!
//! - [`DemoOrigin`] (`origin.rs`, with `files.rs`, `body.rs` and `state.rs`): a real in-process HTTP origin
//!   serving generated files (`content.rs`) and registered manifests.
//! - `faults.rs`: the fault knobs (errors, delays, resets, size lies) the tests use, behind the one switch
//!   [`Faults`]; `zipper demo` runs without them.
//! - [`sample_manifest`] (`sample.rs`): the demo's archive.
//! - `command.rs`: `zipper demo [--check]`.
//! - [`Demo`] (this file): an origin, a running zipper and the key it trusts.
//!
//! This module wires existing parts together; it must not contain zip, link or archive logic of its own,
//! and the production server must not depend on it.

mod body;
mod command;
mod content;
mod faults;
mod files;
mod origin;
mod sample;
mod state;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

use crate::config::Config;
use crate::core::keys::{KeyId, KeySet, Secret};
use crate::core::link::build_link_path;
use crate::server::{self, AppState, ServerHandle};

pub use command::run;
pub use content::{file_etag, file_path, fill_generated, generated_bytes, generated_crc32};
pub use faults::Faults;
pub use origin::DemoOrigin;
pub use sample::sample_manifest;

/// An origin, a running zipper and the key it trusts.
pub struct Demo {
    /// The demo origin.
    pub origin: DemoOrigin,
    /// The running zipper.
    pub server: ServerHandle,
    key_id: KeyId,
    secret: Secret,
}

impl Demo {
    /// The test harness: [`Demo::start_with`] an origin that honours the fault knobs.
    pub async fn start(listen: SocketAddr, tune: impl FnOnce(&mut Config)) -> anyhow::Result<Demo> {
        Demo::start_with(listen, Faults::FromQuery, tune).await
    }

    /// Starts the origin (with or without fault knobs) and a zipper whose settings are the defaults plus: a
    /// generated key `demo`, private networks allowed (everything is on 127.0.0.1), and whatever `tune`
    /// changes.
    pub async fn start_with(
        listen: SocketAddr,
        faults: Faults,
        tune: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Demo> {
        let origin = DemoOrigin::start_with(faults)
            .await
            .context("starting the demo origin")?;
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| anyhow::anyhow!("no system randomness"))?;
        let secret = Secret::new(crate::core::link::encode_segment(&hex(&raw)))
            .context("generated secret")?;
        let key_id = KeyId::parse("demo").context("key id")?;
        let mut keys = KeySet::new();
        keys.insert(key_id.clone(), secret.clone())
            .context("key set")?;
        let mut config = Config::with_keys(keys);
        config.listen = listen;
        config.admin_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.allow_private_networks = true;
        config.shutdown_grace = Duration::from_secs(2);
        tune(&mut config);
        let state = AppState::from_config(&config)?;
        let server = server::start(&config, state).await?;
        Ok(Demo {
            origin,
            server,
            key_id,
            secret,
        })
    }

    /// Registers `manifest` at the origin and returns a signed zipper link to it (timestamp `ts`).
    pub fn link(&self, manifest: &Value, filename: &str, ts: i64) -> String {
        let path = self.origin.add_manifest(manifest.clone());
        self.link_to(&format!("{path}?timestamp={ts}"), filename)
    }

    /// A signed zipper link for a callback path (and query) on the origin.
    pub fn link_to(&self, callback_path: &str, filename: &str) -> String {
        let callback = self.origin.url(callback_path);
        format!(
            "http://{}{}",
            self.server.public_addr,
            build_link_path(&self.key_id, &self.secret, &callback, filename)
        )
    }

    /// The key's secret (tests sign by other routes too).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
