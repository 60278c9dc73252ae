//! `zipper demo [--check]`: starts the demo origin (without fault knobs) and a zipper with a freshly
//! generated key, and prints a signed link plus the `curl` command that downloads it, the manifest's URL and
//! the key (so links can be signed by hand); `--check` downloads the link itself and verifies every file
//! byte for byte against the generator.

use std::net::SocketAddr;

use anyhow::{bail, Context as _};

use super::content::generated_crc32;
use super::sample::{sample_manifest, SAMPLES};
use super::{Demo, Faults};
use crate::server;

/// `zipper demo [--check]`.
pub async fn run(listen: SocketAddr, check: bool) -> anyhow::Result<()> {
    let demo = match Demo::start_with(listen, Faults::Off, |_| {}).await {
        Ok(d) => d,
        Err(e) if listen.port() != 0 => {
            tracing::warn!(
                error = format!("{e:#}"),
                "zipper demo: trying a free port instead"
            );
            Demo::start_with(SocketAddr::new(listen.ip(), 0), Faults::Off, |_| {}).await?
        }
        Err(e) => return Err(e),
    };
    let now = server::system_clock();
    let manifest_path = demo.origin.add_manifest(sample_manifest(&demo.origin));
    let callback = demo.origin.url(&manifest_path);
    let link = demo.link_to(
        &format!("{manifest_path}?timestamp={now}"),
        "zipper-demo.zip",
    );
    let base = format!("http://{}", demo.server.public_addr);
    println!(
        "zipper is serving on {base} (admin: http://{})",
        demo.server.admin_addr
    );
    println!("demo origin: {}", demo.origin.base_url());
    println!("manifest (callback URL): {callback}");
    // The key is generated for this run and trusted by this demo only; printed so that links can be made
    // by hand (README: From the demo to your own app).
    println!(
        "signing key: id {}, secret {} (generated for this run)\n",
        demo.key_id,
        String::from_utf8_lossy(demo.secret.expose())
    );
    println!("download link (valid 24 h):\n  {link}\n");
    println!("fetch it:\n  curl -fo zipper-demo.zip '{link}' && unzip -l zipper-demo.zip\n");
    println!(
        "make a link yourself:\n  DEMO_SECRET={} zipper sign --key-id {} --secret-env DEMO_SECRET --now --base {base} '{callback}'\n",
        String::from_utf8_lossy(demo.secret.expose()),
        demo.key_id,
    );
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
