//! `zipper demo`: the whole product on one machine with no setup. Starts the in-process demo origin
//! ([`crate::demo_origin`]) with a sample manifest, starts zipper with a freshly generated key, and prints a
//! signed link plus the `curl` command that downloads it; `--check` downloads the link itself and verifies
//! every file byte for byte.
//!
//! [`Demo`] (origin + server + key) is also what the integration tests start. This module wires existing
//! parts together; it must not contain zip, link or HTTP logic of its own.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context as _};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};

use crate::config::Config;
use crate::core::keys::{KeyId, KeySet, Secret};
use crate::core::link::build_link_path;
use crate::demo_origin::{generated_crc32, DemoOrigin};
use crate::server::{self, AppState, ServerHandle};

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
    /// Starts the origin and a zipper whose settings are `config` plus: a generated key `demo`, private
    /// networks allowed (everything is on 127.0.0.1), and whatever `tune` changes.
    pub async fn start(listen: SocketAddr, tune: impl FnOnce(&mut Config)) -> anyhow::Result<Demo> {
        let origin = DemoOrigin::start()
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

/// The sample files: (archive path, size, seed, compression).
const SAMPLES: &[(&str, u64, u64, &str)] = &[
    ("README.txt", 1_200, 1, "store"),
    ("photos/2019/beach.jpg", 2_500_000, 2, "store"),
    ("photos/2019/sunset.jpg", 1_800_000, 3, "store"),
    ("photos/été/café ☕.jpg", 750_000, 4, "store"),
    ("videos/clip.mp4", 12_000_000, 5, "store"),
    ("docs/日本語.pdf", 320_000, 6, "store"),
    ("empty.txt", 0, 7, "store"),
];

/// The demo manifest: stored sample files with sizes (so the download has a Content-Length, a progress
/// bar and resumes), CRCs on half of them, UTF-8 names, an empty file and an empty folder.
pub fn sample_manifest(origin: &DemoOrigin) -> Value {
    let mut files: Vec<Value> = SAMPLES
        .iter()
        .enumerate()
        .map(|(i, (path, size, seed, compression))| {
            let name = path.rsplit('/').next().unwrap_or("file");
            let mut f = json!({
                "url": origin.file_url(*size, *seed, name),
                "path": path,
                "size": size,
                "compression": compression,
            });
            if i % 2 == 0 {
                f["crc32"] = json!(format!("{:08x}", generated_crc32(*seed, *size)));
            }
            f
        })
        .collect();
    files.push(json!({ "path": "empty-folder/" }));
    json!({ "filename": "zipper-demo.zip", "files": files })
}

/// `zipper demo [--check]`.
pub async fn run(listen: SocketAddr, check: bool) -> anyhow::Result<()> {
    let demo = match Demo::start(listen, |_| {}).await {
        Ok(d) => d,
        Err(e) if listen.port() != 0 => {
            eprintln!("zipper demo: {e:#}; trying a free port instead");
            Demo::start(SocketAddr::new(listen.ip(), 0), |_| {}).await?
        }
        Err(e) => return Err(e),
    };
    let now = server::system_clock();
    let link = demo.link(&sample_manifest(&demo.origin), "zipper-demo.zip", now);
    println!(
        "zipper is serving on http://{} (admin: http://{})",
        demo.server.public_addr, demo.server.admin_addr
    );
    println!("demo origin: {}\n", demo.origin.base_url());
    println!("download link (valid 24 h):\n  {link}\n");
    println!("fetch it:\n  curl -fo zipper-demo.zip '{link}' && unzip -l zipper-demo.zip\n");
    if check {
        let result = check_link(&link).await;
        demo.server.shutdown().await;
        return result;
    }
    println!("press Ctrl-C to stop");
    server::wait_for_signal().await;
    demo.server.shutdown().await;
    Ok(())
}

/// Downloads the demo link and verifies the archive against the generator.
async fn check_link(link: &str) -> anyhow::Result<()> {
    let res = reqwest::get(link).await.context("GET the link")?;
    let status = res.status();
    let declared = res.content_length();
    let body = res.bytes().await.context("reading the archive")?;
    if !status.is_success() {
        bail!(
            "zipper answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    if declared != Some(body.len() as u64) {
        bail!(
            "Content-Length {declared:?} but {} bytes received",
            body.len()
        );
    }
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(&body[..])).context("opening the archive")?;
    for (path, size, seed, _) in SAMPLES {
        let mut f = archive
            .by_name(path)
            .with_context(|| format!("{path} missing"))?;
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).with_context(|| format!("reading {path}"))?;
        if data.len() as u64 != *size || crc32fast::hash(&data) != generated_crc32(*seed, *size) {
            bail!("{path}: content differs from the origin's");
        }
        println!("ok  {path} ({size} bytes)");
    }
    if archive.by_name("empty-folder/").is_err() {
        bail!("empty-folder/ missing");
    }
    println!(
        "ok  empty-folder/\ncheck passed: {} entries, {} bytes",
        archive.len(),
        body.len()
    );
    Ok(())
}
