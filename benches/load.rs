//! End-to-end load benchmark: the real `zipper serve` binary as a child process, the demo origin and the
//! clients in this process, everything on 127.0.0.1. Reports, per scenario, archive MB/s and files/s seen
//! by the clients, and zipper's own CPU time and peak RSS (from /proc/<pid>, so the origin and clients are
//! not counted).
//!
//! `cargo bench --bench load` (release build). On a 2-core machine the origin and the clients compete
//! with zipper for the same cores, so figures are a floor, not a ceiling. Work is fixed per scenario
//! (bounded), so the run stops by itself.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zipper::core::keys::{KeyId, Secret};
use zipper::core::link::build_link_path;
use zipper::demo::DemoOrigin;

const SECRET: &str = "load-bench-secret";

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// (utime + stime) in seconds and VmHWM in bytes of a process.
fn cpu_and_peak(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (clock ticks,
    // 100 per second on Linux).
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024;
    (cpu, hwm)
}

struct Zipper {
    child: Child,
    public: SocketAddr,
}

impl Drop for Zipper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The child is reaped by `Zipper::drop`, which clippy cannot see.
#[allow(clippy::zombie_processes)]
async fn start_zipper() -> Zipper {
    let public = free_port();
    let admin = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_zipper"))
        .arg("serve")
        .env("ZIPPER_KEYS", format!("bench:{SECRET}"))
        .env("ZIPPER_LISTEN", public.to_string())
        .env("ZIPPER_ADMIN_LISTEN", admin.to_string())
        .env("ZIPPER_ALLOW_PRIVATE_NETWORKS", "true")
        .env("ZIPPER_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("zipper serve starts");
    // Owned by the guard from here on: killed and reaped by its Drop on every path, panics included.
    let z = Zipper { child, public };
    let ready = format!("http://{admin}/readyz");
    for _ in 0..200 {
        if reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return z;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(z);
    panic!("zipper did not become ready");
}

fn link(z: &Zipper, origin: &DemoOrigin, manifest: Value) -> String {
    let ts = zipper::server::system_clock();
    let callback = origin.url(&format!("{}?timestamp={ts}", origin.add_manifest(manifest)));
    let key = KeyId::parse("bench").expect("key id");
    let secret = Secret::new(SECRET).expect("secret");
    format!(
        "http://{}{}",
        z.public,
        build_link_path(&key, &secret, &callback, "bench.zip")
    )
}

/// Runs `clients` concurrent downloads of `rounds` archives each; returns (bytes, files, seconds).
async fn run(links: Vec<String>, rounds: usize, files_per_archive: usize) -> (u64, u64, f64) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for l in links {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut bytes = 0u64;
            for _ in 0..rounds {
                let mut res = client.get(&l).send().await.expect("response");
                assert!(res.status().is_success(), "status {}", res.status());
                while let Some(c) = res.chunk().await.expect("chunk") {
                    bytes += c.len() as u64;
                }
            }
            bytes
        }));
    }
    let mut bytes = 0;
    let n = tasks.len();
    for t in tasks {
        bytes += t.await.expect("client task");
    }
    (
        bytes,
        (n * rounds * files_per_archive) as u64,
        start.elapsed().as_secs_f64(),
    )
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this too, so stay quick there.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let origin = DemoOrigin::start().await.expect("origin");
        let z = start_zipper().await;
        let scale = if quick { 1 } else { 8 };
        let scenarios: Vec<(&str, usize, usize, usize, u64)> = vec![
            // name, clients, rounds, files per archive, file size
            ("large files (4 x 64 MiB)", 4, scale / 4 + 1, 4, 64 << 20),
            ("small files (2,000 x 10 KiB)", 8, scale / 2 + 1, 2000, 10 << 10),
        ];
        println!("{:<30} {:>8} {:>10} {:>10} {:>12} {:>12}", "scenario", "clients", "MB/s", "files/s", "zipper CPU", "zipper peak");
        for (name, clients, rounds, files, size) in scenarios {
            let links: Vec<String> = (0..clients)
                .map(|c| {
                    let entries: Vec<Value> = (0..files)
                        .map(|i| json!({ "url": origin.file_url(size, (c * files + i) as u64, "f"), "path": format!("{i}.bin"), "size": size }))
                        .collect();
                    link(&z, &origin, json!({ "files": entries }))
                })
                .collect();
            let (cpu0, _) = cpu_and_peak(z.child.id());
            let (bytes, nfiles, secs) = run(links, rounds, files).await;
            let (cpu1, peak) = cpu_and_peak(z.child.id());
            println!(
                "{:<30} {:>8} {:>10.0} {:>10.0} {:>11.0}% {:>9} MiB",
                name,
                clients,
                bytes as f64 / secs / 1e6,
                nfiles as f64 / secs,
                (cpu1 - cpu0) / secs * 100.0,
                peak >> 20
            );
        }
    });
}
