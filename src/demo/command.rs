//! `zipper demo [--check]`: starts the demo origin (without fault knobs) and a zipper with a freshly
//! generated key, and prints a signed link plus the `curl` command that downloads it; `--check` downloads
//! the link itself and verifies every file byte for byte against the generator.

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
