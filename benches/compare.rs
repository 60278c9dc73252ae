//! The comparison benchmark: what users compare zip streamers by, beside the limit the origin itself sets.
//!
//! One process starts Debian's nginx as the origin (installed with `apt-get` when missing and this runs as
//! root; the in-process demo origin is the fallback, and the output says which one ran), serves the
//! workload files from the page cache, starts the real `zipper serve` binary with its default settings,
//! and runs every workload in interleaved rounds (`--rounds`, default 5): each round measures the raw
//! fetch, then the zipper download, for every workload in turn, so drift on a shared machine hits both
//! alike. Figures are medians over the rounds.
//!
//! - *raw*: one client fetches the manifest and then every file, one after the other over one keep-alive
//!   connection (what `curl` with many URLs does): the rate one connection to the origin gives.
//! - *copy floor*: the cheapest proxy that still does zipper's per-byte work, so the figure any copying
//!   proxy on this machine is bounded by: this binary re-run as `--floor-proxy`, a blocking thread per
//!   client that GETs the same files over one keep-alive connection to the origin, reads them in 256 KiB
//!   `read`s, CRCs them with `crc32fast` and `write`s them on (no HTTP framing, no zip, no async runtime).
//!   nginx origin only (it parses nginx's `Content-Length` answers, not the demo origin's).
//! - *zipper*: one client downloads the archive of the same files through zipper.
//! - The concurrent workload runs 8 of each at once (aggregate rate).
//!
//! Reported per workload: MB/s (10^6 bytes; the archive's bytes for zipper), files/s, zipper ÷ raw (raw time
//! over zipper time for the same files), zipper ÷ copy floor (the same), zipper's CPU seconds per GB delivered (utime + stime of the zipper
//! process alone, from /proc), its peak RSS during the workload (VmHWM, reset before each download through
//! /proc/<pid>/clear_refs), and the time to first byte: zipper's first body byte, beside the raw client's
//! manifest fetch plus first byte of the first file (the least any proxy must wait for).
//!
//! `cargo bench --bench compare` (release build); `-- --rounds N`, `-- --out PATH` (JSON, default
//! `target/compare.json`), `-- --origin demo` (skip nginx), `-- --only 'big,small'` (workloads by name). Prints a markdown table. `cargo test
//! --benches` runs it at a toy size. Every step is bounded; nginx and zipper are killed and reaped by Drop
//! guards on every path. The workload files live in `target/tmp/compare/` (2.2 GB; made once, reused).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use zipper::core::keys::{KeyId, Secret};
use zipper::core::link::build_link_path;
use zipper::demo::{fill_generated, generated_crc32, DemoOrigin};

const SECRET: &str = "compare-bench-secret";
const CONCURRENT: usize = 8;
/// Bound on any one download (a stuck run fails instead of hanging).
const DOWNLOAD_LIMIT: Duration = Duration::from_secs(300);

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// A child process stopped and reaped when dropped: SIGTERM first (nginx's master then stops its workers,
/// which a SIGKILL would leave running), SIGKILL after 2 s.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..80 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// === the origin ===

enum Origin {
    Nginx {
        addr: SocketAddr,
        www: PathBuf,
        version: String,
        _proc: Reaped,
    },
    Demo(DemoOrigin),
}

/// The nginx binary, installing Debian's package when it is missing and we may.
fn nginx_binary() -> Option<PathBuf> {
    let found = || {
        ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    };
    if let Some(p) = found() {
        return Some(p);
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !root {
        eprintln!("nginx is not installed and this is not root: using the demo origin");
        return None;
    }
    eprintln!("== apt-get install nginx (the benchmark's origin)");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "nginx"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get")
            .args(["update", "-q"])
            .stdout(Stdio::null())
            .status();
        install();
    }
    let p = found();
    if p.is_none() {
        eprintln!("nginx could not be installed: using the demo origin");
    }
    p
}

fn start_nginx(dir: &Path) -> Option<Origin> {
    let bin = nginx_binary()?;
    let version = Command::new(&bin)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
        .unwrap_or_default();
    let addr = free_port();
    let www = dir.join("www");
    for sub in ["logs", "tmp", "www/f", "www/m"] {
        std::fs::create_dir_all(dir.join(sub)).expect("nginx dirs");
    }
    let d = dir.display();
    // One worker: the origin's share of the two cores stays the same for raw and zipper runs. sendfile from
    // the page cache, keep-alive for the whole run, no logging.
    let conf = format!(
        "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  sendfile on; tcp_nopush on;\n  keepalive_requests 1000000;\n\
         client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy; fastcgi_temp_path {d}/tmp/fcgi;\n\
         uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;\n\
         types {{ application/json json; application/octet-stream bin; }}\n\
         server {{ listen {addr}; root {www}; }}\n}}\n",
        www = www.display()
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("nginx.conf");
    let child = Command::new(&bin)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let proc = Reaped(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Some(Origin::Nginx {
                addr,
                www,
                version,
                _proc: proc,
            });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    eprintln!("nginx did not start (see {d}/logs/error.log): using the demo origin");
    None
}

impl Origin {
    fn label(&self) -> String {
        match self {
            Origin::Nginx { version, .. } => {
                format!("Debian nginx ({version}), from the page cache")
            }
            Origin::Demo(_) => "zipper's in-process demo origin (nginx unavailable)".into(),
        }
    }

    /// The URL of a file of `size` generated bytes from `seed`, written to nginx's root when missing.
    fn file_url(&self, size: u64, seed: u64) -> String {
        match self {
            Origin::Nginx { addr, www, .. } => {
                let name = format!("f/{size}-{seed}.bin");
                let path = www.join(&name);
                if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(size) {
                    let mut buf = vec![0; usize::try_from(size).expect("file size")];
                    fill_generated(seed, 0, &mut buf);
                    std::fs::write(&path, buf).expect("write workload file");
                }
                format!("http://{addr}/{name}")
            }
            Origin::Demo(o) => o.file_url(size, seed, "f.bin"),
        }
    }

    /// The callback URL of `manifest` (with the link's `timestamp`).
    fn manifest_url(&self, name: &str, manifest: &Value) -> String {
        let ts = zipper::server::system_clock();
        match self {
            Origin::Nginx { addr, www, .. } => {
                std::fs::write(
                    www.join(format!("m/{name}.json")),
                    serde_json::to_vec(manifest).expect("manifest json"),
                )
                .expect("write manifest");
                format!("http://{addr}/m/{name}.json?timestamp={ts}")
            }
            Origin::Demo(o) => o.url(&format!(
                "{}?timestamp={ts}",
                o.add_manifest(manifest.clone())
            )),
        }
    }
}

// === zipper ===

struct Zipper {
    proc: Reaped,
    public: SocketAddr,
}

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
    let z = Zipper {
        proc: Reaped(child),
        public,
    };
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
    panic!("zipper did not become ready");
}

impl Zipper {
    fn pid(&self) -> u32 {
        self.proc.0.id()
    }

    fn link(&self, callback: &str) -> String {
        let key = KeyId::parse("bench").expect("key id");
        let secret = Secret::new(SECRET).expect("secret");
        format!(
            "http://{}{}",
            self.public,
            build_link_path(&key, &secret, callback, "bench.zip")
        )
    }

    fn cpu_secs(&self) -> f64 {
        cpu_secs(self.pid())
    }

    /// Resets the peak RSS (VmHWM) to the current RSS.
    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// VmHWM in bytes.
    fn peak_rss(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }
}

/// utime + stime of process `pid`, in seconds (clock ticks are 1/100 s on Linux).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

// === the copy floor ===

/// What the floor proxy reads at a time (zipper's bulk read).
const FLOOR_READ: usize = 256 * 1024;

/// The floor proxy (see the module doc), a child process: this binary with `--floor-proxy ADDR`.
struct Floor {
    proc: Reaped,
    addr: SocketAddr,
}

fn start_floor() -> Floor {
    let addr = free_port();
    let child = Command::new(std::env::current_exe().expect("this bench's path"))
        .args(["--floor-proxy", &addr.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("floor proxy starts");
    let floor = Floor {
        proc: Reaped(child),
        addr,
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return floor;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the floor proxy did not start");
}

/// Serves the floor proxy on `addr` until killed: `GET /<list file>` answers the bytes of the files whose
/// URLs the list names (one per line), back to back, until the connection closes.
fn floor_proxy(addr: &str) -> ! {
    let listener = TcpListener::bind(addr).expect("floor proxy binds");
    for client in listener.incoming().flatten() {
        std::thread::spawn(move || {
            if let Err(e) = floor_serve(client) {
                eprintln!("floor proxy: {e}");
            }
        });
    }
    std::process::exit(0)
}

fn floor_serve(mut client: std::net::TcpStream) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    let bad = |m: &str| std::io::Error::other(m.to_string());
    client.set_nodelay(true)?;
    let mut request = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    if request.read_line(&mut line)? == 0 {
        return Ok(()); // a readiness probe
    }
    let list = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| bad("no request path"))?
        .to_string();
    let urls = std::fs::read_to_string(&list)?;
    client.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
    let mut buf = vec![0u8; FLOOR_READ];
    let mut hasher = crc32fast::Hasher::new();
    let mut origin: Option<(String, BufReader<std::net::TcpStream>)> = None;
    for url in urls.lines().filter(|l| !l.is_empty()) {
        let rest = url.strip_prefix("http://").ok_or_else(|| bad("not http"))?;
        let (host, path) = rest.split_at(rest.find('/').ok_or_else(|| bad("no path"))?);
        if origin.as_ref().is_none_or(|(h, _)| h != host) {
            origin = Some((
                host.to_string(),
                BufReader::with_capacity(FLOOR_READ, {
                    let conn = std::net::TcpStream::connect(host)?;
                    conn.set_nodelay(true)?;
                    conn
                }),
            ));
        }
        let Some((_, conn)) = origin.as_mut() else {
            return Err(bad("no origin"));
        };
        // One write per request: several small ones would meet Nagle's algorithm and delayed ACKs.
        let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        conn.get_mut().write_all(head.as_bytes())?;
        let mut length = None;
        loop {
            let mut header = String::new();
            conn.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<u64>().ok();
                }
            }
        }
        let mut left = length.ok_or_else(|| bad("no Content-Length"))?;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(FLOOR_READ).min(FLOOR_READ);
            // What follows the head in the reader's buffer first; then straight into `buf`.
            let n = if conn.buffer().is_empty() {
                conn.get_mut().read(&mut buf[..want])?
            } else {
                conn.read(&mut buf[..want])?
            };
            if n == 0 {
                return Err(bad("origin closed early"));
            }
            hasher.update(&buf[..n]);
            client.write_all(&buf[..n])?;
            left -= n as u64;
        }
    }
    std::hint::black_box(hasher.finalize());
    Ok(())
}

// === clients ===

/// One client's run: bytes of bodies received, wall time, time to first byte.
#[derive(Clone, Copy)]
struct Run {
    bytes: u64,
    secs: f64,
    ttfb: f64,
}

/// GETs each URL in turn over one fresh client (one keep-alive connection); `first_byte_of` is the index
/// of the request whose first body byte ends the time to first byte (earlier ones are read whole).
async fn fetch_in_turn(urls: &[String], first_byte_of: usize) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .no_proxy()
        .build()
        .expect("client");
    let start = Instant::now();
    let mut ttfb = 0.0;
    let mut bytes = 0u64;
    for (i, url) in urls.iter().enumerate() {
        let mut res = client.get(url).send().await.expect("response");
        assert!(res.status().is_success(), "{url}: status {}", res.status());
        let mut first = true;
        while let Some(c) = res.chunk().await.expect("body chunk") {
            if first && i == first_byte_of {
                ttfb = start.elapsed().as_secs_f64();
            }
            first = false;
            if i >= first_byte_of {
                bytes += c.len() as u64;
            }
        }
    }
    Run {
        bytes,
        secs: start.elapsed().as_secs_f64(),
        ttfb,
    }
}

/// `clients` copies of `fetch_in_turn` at once: aggregate bytes over the wall time, median first byte.
async fn fetch_concurrently(urls: &[String], first_byte_of: usize, clients: usize) -> Run {
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let urls = urls.to_vec();
            tokio::spawn(async move { fetch_in_turn(&urls, first_byte_of).await })
        })
        .collect();
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(t.await.expect("client task"));
    }
    let secs = start.elapsed().as_secs_f64();
    let mut ttfbs: Vec<f64> = runs.iter().map(|r| r.ttfb).collect();
    Run {
        bytes: runs.iter().map(|r| r.bytes).sum(),
        secs,
        ttfb: median(&mut ttfbs),
    }
}

async fn bounded(run: impl std::future::Future<Output = Run>) -> Run {
    tokio::time::timeout(DOWNLOAD_LIMIT, run)
        .await
        .expect("a download finished within its bound")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

// === workloads ===

/// A workload's shape: name, (files, file size), CRCs in the manifest, concurrent clients, first seed.
type Shape = (&'static str, (usize, u64), bool, usize, u64);

struct Workload {
    name: &'static str,
    files: usize,
    file_size: u64,
    crc: bool,
    clients: usize,
    /// The raw fetch: manifest, then every file.
    raw_urls: Vec<String>,
    callback: String,
    /// The floor proxy's URL list (nginx origin only).
    floor_list: Option<PathBuf>,
}

#[derive(Default)]
struct Samples {
    raw: Vec<Run>,
    floor: Vec<Run>,
    floor_cpu: Vec<f64>,
    zipper: Vec<Run>,
    cpu: Vec<f64>,
    peak: Vec<u64>,
}

#[derive(Serialize)]
struct Side {
    mb_per_s: f64,
    files_per_s: f64,
    ttfb_ms: f64,
    secs: Vec<f64>,
}

#[derive(Serialize)]
struct Figures {
    workload: &'static str,
    files: usize,
    file_size: u64,
    with_crc32: bool,
    clients: usize,
    raw: Side,
    /// The copy floor (absent with the demo origin).
    floor: Option<Side>,
    floor_cpu_s_per_gb: Option<f64>,
    zipper: Side,
    zipper_over_raw: f64,
    zipper_over_floor: Option<f64>,
    zipper_cpu_s_per_gb: f64,
    zipper_peak_rss_mib: f64,
    ttfb_over_raw_ms: f64,
}

fn side(runs: &[Run], files: usize, clients: usize) -> Side {
    let total_files = (files * clients) as f64;
    let mut rates: Vec<f64> = runs.iter().map(|r| r.bytes as f64 / r.secs / 1e6).collect();
    let mut fps: Vec<f64> = runs.iter().map(|r| total_files / r.secs).collect();
    let mut ttfb: Vec<f64> = runs.iter().map(|r| r.ttfb * 1e3).collect();
    Side {
        mb_per_s: median(&mut rates),
        files_per_s: median(&mut fps),
        ttfb_ms: median(&mut ttfb),
        secs: runs.iter().map(|r| r.secs).collect(),
    }
}

/// Median CPU seconds per GB delivered over the runs.
fn cpu_per_gb(cpu: &[f64], runs: &[Run]) -> f64 {
    let mut per_gb: Vec<f64> = cpu
        .iter()
        .zip(runs)
        .map(|(cpu, run)| cpu / (run.bytes as f64 / 1e9))
        .collect();
    median(&mut per_gb)
}

/// Median time of `a` over median time of `b`.
fn time_ratio(a: &Side, b: &Side) -> f64 {
    let (mut a, mut b) = (a.secs.clone(), b.secs.clone());
    median(&mut a) / median(&mut b).max(1e-9)
}

fn summarize(w: &Workload, s: &mut Samples) -> Figures {
    let raw = side(&s.raw, w.files, w.clients);
    let zipper = side(&s.zipper, w.files, w.clients);
    let floor = (!s.floor.is_empty()).then(|| side(&s.floor, w.files, w.clients));
    let ratio = time_ratio(&raw, &zipper);
    Figures {
        workload: w.name,
        files: w.files,
        file_size: w.file_size,
        with_crc32: w.crc,
        clients: w.clients,
        ttfb_over_raw_ms: zipper.ttfb_ms - raw.ttfb_ms,
        zipper_over_floor: floor.as_ref().map(|f| time_ratio(f, &zipper)),
        floor_cpu_s_per_gb: floor.as_ref().map(|_| cpu_per_gb(&s.floor_cpu, &s.floor)),
        floor,
        zipper_cpu_s_per_gb: cpu_per_gb(&s.cpu, &s.zipper),
        raw,
        zipper,
        zipper_over_raw: ratio,
        zipper_peak_rss_mib: s.peak.iter().copied().max().unwrap_or(0) as f64 / (1 << 20) as f64,
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(addr) = arg(&args, "--floor-proxy") {
        floor_proxy(&addr);
    }
    // `cargo bench` passes --bench; `cargo test --benches` runs this too, at a toy size.
    let full = args.iter().any(|a| a == "--bench");
    let rounds: usize = arg(&args, "--rounds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 5 } else { 1 })
        .max(1);
    let out = arg(&args, "--out").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../compare.json"),
        PathBuf::from,
    );
    let (big, small, one) = if full {
        ((100, 10u64 << 20), (5_000, 20u64 << 10), (1, 1u64 << 30))
    } else {
        ((4, 1 << 20), (50, 20 << 10), (1, 4 << 20))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compare");
        let origin = match arg(&args, "--origin").as_deref() {
            Some("demo") => None,
            _ => start_nginx(&dir),
        };
        let origin = match origin {
            Some(o) => o,
            None => Origin::Demo(DemoOrigin::start().await.expect("demo origin")),
        };
        // name, (files, size), CRCs in the manifest, concurrent clients, first file's seed (the same
        // seed and size is the same file on disk).
        let shapes: [Shape; 6] = [
            ("big", big, true, 1, 0),
            ("big without CRCs", big, false, 1, 0),
            ("small", small, true, 1, 1_000_000),
            ("small without CRCs", small, false, 1, 1_000_000),
            ("8 concurrent big", big, true, CONCURRENT, 0),
            // The first entry of an archive is always read lean (the client's pace is not known yet).
            ("one big file", one, true, 1, 2_000_000),
        ];
        let only = arg(&args, "--only");
        let mut workloads = Vec::new();
        for (i, (name, (files, size), crc, clients, seed0)) in shapes.into_iter().enumerate() {
            if only.as_deref().is_some_and(|o| !o.split(',').any(|o| o == name)) {
                continue;
            }
            let urls: Vec<String> = (0..files as u64).map(|k| origin.file_url(size, seed0 + k)).collect();
            let entries: Vec<Value> = urls
                .iter()
                .enumerate()
                .map(|(k, url)| {
                    let mut e = json!({ "url": url, "path": format!("{k:05}.bin"), "size": size });
                    if crc {
                        e["crc32"] = json!(format!("{:08x}", generated_crc32(seed0 + k as u64, size)));
                    }
                    e
                })
                .collect();
            let manifest = json!({ "files": entries });
            let callback = origin.manifest_url(&format!("w{i}"), &manifest);
            let floor_list = matches!(origin, Origin::Nginx { .. }).then(|| {
                let list = dir.join(format!("floor-w{i}.txt"));
                std::fs::write(&list, urls.join("\n")).expect("write the floor's URL list");
                list
            });
            let mut raw_urls = vec![callback.clone()];
            raw_urls.extend(urls);
            workloads.push(Workload {
                name,
                files,
                file_size: size,
                crc,
                clients,
                raw_urls,
                callback,
                floor_list,
            });
        }
        eprintln!("origin: {}; {rounds} interleaved rounds", origin.label());
        let floor = matches!(origin, Origin::Nginx { .. }).then(start_floor);
        let mut samples: Vec<Samples> = workloads.iter().map(|_| Samples::default()).collect();
        for round in 0..rounds {
            for (w, s) in workloads.iter().zip(samples.iter_mut()) {
                let raw = bounded(fetch_concurrently(&w.raw_urls, 1, w.clients)).await;
                if let (Some(floor), Some(list)) = (&floor, &w.floor_list) {
                    let url = format!("http://{}{}", floor.addr, list.display());
                    let cpu0 = cpu_secs(floor.proc.0.id());
                    let run = bounded(fetch_concurrently(std::slice::from_ref(&url), 0, w.clients)).await;
                    s.floor_cpu.push(cpu_secs(floor.proc.0.id()) - cpu0);
                    s.floor.push(run);
                }
                // A fresh zipper per download: its peak RSS is this workload's alone (an allocator keeps
                // what an earlier, larger workload freed).
                let z = start_zipper().await;
                let link = z.link(&w.callback);
                z.reset_peak();
                let cpu0 = z.cpu_secs();
                let zipped = bounded(fetch_concurrently(std::slice::from_ref(&link), 0, w.clients)).await;
                s.cpu.push(z.cpu_secs() - cpu0);
                s.peak.push(z.peak_rss());
                drop(z);
                s.raw.push(raw);
                s.zipper.push(zipped);
                let floor_rate = s.floor.last().filter(|_| w.floor_list.is_some());
                eprintln!(
                    "round {} {:<18} raw {:>7.0} MB/s  floor {:>7.0} MB/s  zipper {:>7.0} MB/s",
                    round + 1,
                    w.name,
                    raw.bytes as f64 / raw.secs / 1e6,
                    floor_rate.map_or(0.0, |f| f.bytes as f64 / f.secs / 1e6),
                    zipped.bytes as f64 / zipped.secs / 1e6
                );
            }
        }
        let results: Vec<Figures> = workloads
            .iter()
            .zip(samples.iter_mut())
            .map(|(w, s)| summarize(w, s))
            .collect();
        println!("origin: {}; median of {rounds} interleaved rounds", origin.label());
        println!();
        println!("| workload | raw | copy floor | zipper | × raw | × floor | CPU s/GB: zipper / floor | zipper peak RSS | first byte: zipper / raw |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for r in &results {
            let rate = |s: &Side| {
                if r.file_size >= 1 << 20 {
                    format!("{:.0} MB/s", s.mb_per_s)
                } else {
                    format!("{:.0} files/s ({:.0} MB/s)", s.files_per_s, s.mb_per_s)
                }
            };
            println!(
                "| {} ({} × {} KiB{}) | {} | {} | {} | {:.2}× | {} | {:.2} / {} | {:.1} MiB | {:.1} / {:.1} ms |",
                r.workload,
                r.files,
                r.file_size >> 10,
                if r.clients > 1 { format!(", {} clients", r.clients) } else { String::new() },
                rate(&r.raw),
                r.floor.as_ref().map_or("–".into(), rate),
                rate(&r.zipper),
                r.zipper_over_raw,
                r.zipper_over_floor.map_or("–".into(), |x| format!("{x:.2}×")),
                r.zipper_cpu_s_per_gb,
                r.floor_cpu_s_per_gb.map_or("–".into(), |x| format!("{x:.2}")),
                r.zipper_peak_rss_mib,
                r.zipper.ttfb_ms,
                r.raw.ttfb_ms,
            );
        }
        let report = json!({
            "origin": origin.label(),
            "rounds": rounds,
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "workloads": results,
        });
        if let Some(parent) = out.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(&out, serde_json::to_vec_pretty(&report).expect("json")).expect("write JSON");
        eprintln!("JSON: {}", out.display());
    });
}
