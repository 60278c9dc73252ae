//! Crowd benchmark (issue 10): the real `zipper serve` binary as a child process, a self-contained origin
//! and many slow clients in this process, everything on 127.0.0.1. Each scenario starts a fresh zipper and
//! reports its peak RSS (VmHWM/VmRSS sampled every 100 ms), RSS per download over idle, `/healthz`
//! latency on the admin listener (probed every 50 ms from its own thread), bytes delivered, statuses, the
//! kernel's TCP memory (`/proc/net/sockstat`) and listen-queue overflows (`/proc/net/netstat`).
//!
//! `cargo bench --bench crowd` runs every scenario; `-- --scenario h1-200,drip` picks some
//! (`h1-200`, `h1-1000`, `h2-stalled`, `h2-idle`, `drip`); `-- --clients N --rate-kib R --secs S` runs one
//! HTTP/1.1 crowd of that shape. Needs `ulimit -n` of at least ~4 descriptors per client. Writes a markdown
//! table to stdout and JSON to `target/crowd.json`; zipper's stderr goes to `target/crowd-zipper.log`.
//! Every scenario is bounded in time; the child is killed and reaped by a Drop guard on every path.

use std::convert::Infallible;
use std::io::{Read, Write as _};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, sleep_until, timeout_at, Instant as TokioInstant};
use zipper::core::keys::{KeyId, Secret};
use zipper::core::link::build_link_path;

const SECRET: &str = "crowd-bench-secret";
const MIB: u64 = 1 << 20;
/// The origin's content is this block repeated (shifted per seed), served as zero-copy slices.
const BLOCK: usize = 1 << 20;
const ORIGIN_CHUNK: usize = 64 * 1024;

// === origin: manifests at /m/{id}, files at /f/{size}/{seed}[?drip_ms=N] ===

struct Origin {
    /// Serves the manifests; `files` serves the files (own port: its connections are counted apart).
    addr: SocketAddr,
    files: SocketAddr,
    block: Bytes,
    manifests: Mutex<Vec<String>>,
}

type OriginBody = UnsyncBoxBody<Bytes, Infallible>;

impl Origin {
    async fn start() -> Arc<Origin> {
        // A crowd-sized accept queue, as zipper's own (`listen_backlog`): with the default 128, a thousand
        // simultaneous origin connects overflow it and wait out SYN retransmits (1 s, 3 s) before zipper
        // gets its manifest, which the crowd would measure as zipper's latency.
        let bind = || {
            let socket = tokio::net::TcpSocket::new_v4().expect("origin socket");
            socket
                .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .expect("bind");
            socket.listen(4096).expect("listen")
        };
        let listeners = [bind(), bind()];
        let [addr, files] = [0, 1].map(|i| listeners[i].local_addr().expect("origin addr"));
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let block: Vec<u8> = (0..BLOCK)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let origin = Arc::new(Origin {
            addr,
            files,
            block: Bytes::from(block),
            manifests: Mutex::new(Vec::new()),
        });
        for listener in listeners {
            let o = Arc::clone(&origin);
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let o = Arc::clone(&o);
                    let svc = hyper::service::service_fn(move |req| {
                        let o = Arc::clone(&o);
                        async move { Ok::<_, Infallible>(o.handle(req)) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new();
                    tokio::spawn(conn.serve_connection(hyper_util::rt::TokioIo::new(tcp), svc));
                }
            });
        }
        origin
    }

    /// The callback URL of a new manifest.
    fn add_manifest(&self, manifest: Value) -> String {
        let mut list = self.manifests.lock().expect("manifest lock");
        list.push(manifest.to_string());
        let ts = zipper::server::system_clock();
        format!("http://{}/m/{}?timestamp={ts}", self.addr, list.len() - 1)
    }

    /// One manifest entry for generated file `seed` of `size` bytes, with its CRC-32.
    fn entry(&self, name: &str, size: u64, seed: u64, drip_ms: u64) -> Value {
        let mut hasher = crc32fast::Hasher::new();
        let mut offset = 0;
        while offset < size {
            let chunk = self.chunk(seed, offset, size - offset);
            hasher.update(&chunk);
            offset += chunk.len() as u64;
        }
        let query = format!("?drip_ms={drip_ms}");
        json!({ "url": format!("http://{}/f/{size}/{seed}{query}", self.files), "path": name,
                "size": size, "crc32": format!("{:08x}", hasher.finalize()) })
    }

    /// Up to `ORIGIN_CHUNK` bytes of file `seed` at `offset`, at most `left`.
    fn chunk(&self, seed: u64, offset: u64, left: u64) -> Bytes {
        let start = ((offset + seed * 7919) % BLOCK as u64) as usize;
        let len = (BLOCK - start).min(ORIGIN_CHUNK).min(left as usize);
        self.block.slice(start..start + len)
    }

    fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<OriginBody> {
        let parts: Vec<&str> = req.uri().path().split('/').collect();
        let drip_ms: u64 = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("drip_ms="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match parts.as_slice() {
            ["", "m", id] => {
                let list = self.manifests.lock().expect("manifest lock");
                match id.parse::<usize>().ok().and_then(|i| list.get(i)) {
                    Some(m) => Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(m.clone())).boxed_unsync())
                        .expect("response"),
                    None => status(StatusCode::NOT_FOUND),
                }
            }
            ["", "f", size, seed] => match (size.parse::<u64>(), seed.parse::<u64>()) {
                // Validators as nginx or S3 send them (zipper keeps them for the whole fetch).
                (Ok(size), Ok(seed)) => Response::builder()
                    .header("content-length", size)
                    .header("etag", format!("\"{size:x}-{seed:x}\""))
                    .header("last-modified", "Mon, 01 Jun 2026 00:00:00 GMT")
                    .body(self.file_body(size, seed, drip_ms))
                    .expect("response"),
                _ => status(StatusCode::BAD_REQUEST),
            },
            _ => status(StatusCode::NOT_FOUND),
        }
    }

    /// The file's bytes, streamed as zero-copy slices; with `drip_ms`, one byte every `drip_ms`.
    fn file_body(self: Arc<Self>, size: u64, seed: u64, drip_ms: u64) -> OriginBody {
        let body = stream::unfold(0u64, move |offset| {
            let origin = Arc::clone(&self);
            async move {
                if offset >= size {
                    return None;
                }
                let mut chunk = origin.chunk(seed, offset, size - offset);
                if drip_ms > 0 {
                    if offset > 0 {
                        sleep(Duration::from_millis(drip_ms)).await;
                    }
                    chunk.truncate(1);
                }
                let next = offset + chunk.len() as u64;
                Some((Ok::<_, Infallible>(Frame::data(chunk)), next))
            }
        });
        BodyExt::boxed_unsync(StreamBody::new(body))
    }
}

fn status(code: StatusCode) -> Response<OriginBody> {
    let body = Full::new(Bytes::new()).boxed_unsync();
    Response::builder()
        .status(code)
        .body(body)
        .expect("response")
}

// === the zipper child ===

struct Zipper {
    child: Child,
    public: SocketAddr,
    admin: SocketAddr,
}

impl Drop for Zipper {
    fn drop(&mut self) {
        // Our own child, by its handle (PID): never anything else.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("free port addr")
}

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // The bench runs as target/<profile>/deps/crowd-<hash>.
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .map(PathBuf::from)
        .expect("target dir")
}

// The child is reaped by `Zipper::drop`, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn start_zipper(clients: usize, extra: &[(&str, &str)]) -> Zipper {
    let (public, admin) = (free_port(), free_port());
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target_dir().join("crowd-zipper.log"))
        .expect("zipper log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zipper"));
    cmd.arg("serve")
        .env("ZIPPER_KEYS", format!("bench:{SECRET}"))
        .env("ZIPPER_LISTEN", public.to_string())
        .env("ZIPPER_ADMIN_LISTEN", admin.to_string())
        .env("ZIPPER_ALLOW_PRIVATE_NETWORKS", "true")
        .env(
            "ZIPPER_MAX_CONCURRENT_DOWNLOADS",
            (clients * 2 + 64).to_string(),
        )
        .env("ZIPPER_LOG", "error")
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let z = Zipper {
        child: cmd.spawn().expect("zipper serve starts"),
        public,
        admin,
    };
    for _ in 0..400 {
        if http_get_status(admin, "/readyz", Duration::from_secs(1)).ok() == Some(200) {
            return z;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("zipper did not become ready in 10 s (see target/crowd-zipper.log)");
}

fn link_path(callback: &str) -> String {
    let key = KeyId::parse("bench").expect("key id");
    let secret = Secret::new(SECRET).expect("secret");
    build_link_path(&key, &secret, callback, "crowd.zip")
}

/// A blocking `GET` with `Connection: close`; the status code.
fn http_get_status(addr: SocketAddr, path: &str, limit: Duration) -> std::io::Result<u16> {
    let mut s = StdStream::connect_timeout(&addr, limit)?;
    s.set_read_timeout(Some(limit))?;
    s.write_all(request(addr, path).as_bytes())?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(status_code(&text).unwrap_or(0))
}

fn request(addr: SocketAddr, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
}

/// The status code of a response head (`HTTP/1.1 200 OK…`).
fn status_code(head: &str) -> Option<u16> {
    head.split(' ').nth(1)?.parse().ok()
}

// === /proc readings ===

/// The number after `key` on the first line of `file` that starts with `line`.
fn proc_number(file: &str, line: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let Some(found) = text.lines().find_map(|l| l.strip_prefix(line)) else {
        return 0;
    };
    let mut words = found
        .split_whitespace()
        .skip_while(|w| !key.is_empty() && *w != key);
    words
        .nth(usize::from(!key.is_empty()))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    proc_number(&format!("/proc/{pid}/status"), field, "")
}

/// Kernel memory of all TCP sockets: the `mem` pages of `/proc/net/sockstat`'s TCP line.
fn tcp_mem_bytes() -> u64 {
    proc_number("/proc/net/sockstat", "TCP:", "mem") * 4096
}

/// ESTABLISHED sockets whose remote port is `port` (zipper's side of its origin connections).
fn established_to(port: u16) -> usize {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!(":{port:04X}");
    text.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[2].ends_with(&want) && f[3] == "01"
        })
        .count()
}

/// `TcpExt: ListenOverflows` of `/proc/net/netstat` (system-wide counter).
fn listen_overflows() -> u64 {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    let (Some(names), Some(values)) = (lines.first(), lines.get(1)) else {
        return 0;
    };
    let i = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows");
    i.and_then(|i| values.split_whitespace().nth(i)?.parse().ok())
        .unwrap_or(0)
}

fn loadavg() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn open_files_limit() -> u64 {
    proc_number("/proc/self/limits", "Max open files", "")
}

// === monitors: RSS/TCP sampler every 100 ms, /healthz probe every 50 ms, each on its own thread ===

#[derive(Default)]
struct Peaks {
    rss_kib: u64,
    tcp_mem: u64,
}

/// Watches one scenario's zipper from `start` to `finish`, which returns the scenario's [`Report`].
struct Monitor {
    report: Report,
    overflows: u64,
    started: Instant,
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<Peaks>,
    probe: std::thread::JoinHandle<(Vec<f64>, usize)>,
}

impl Monitor {
    fn start(z: &Zipper, scenario: &str, clients: usize) -> Monitor {
        let report = Report {
            scenario: scenario.into(),
            clients,
            idle_rss_mib: status_kib(z.child.id(), "VmRSS:") as f64 / 1024.0,
            tcp_mem_idle_mib: tcp_mem_bytes() as f64 / MIB as f64,
            load: loadavg(),
            ..Default::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (pid, admin, s1, s2) = (z.child.id(), z.admin, Arc::clone(&stop), Arc::clone(&stop));
        let sampler = std::thread::spawn(move || {
            let mut p = Peaks::default();
            while !s1.load(Ordering::Relaxed) {
                let rss = status_kib(pid, "VmRSS:").max(status_kib(pid, "VmHWM:"));
                p.rss_kib = p.rss_kib.max(rss);
                p.tcp_mem = p.tcp_mem.max(tcp_mem_bytes());
                std::thread::sleep(Duration::from_millis(100));
            }
            p
        });
        let probe = std::thread::spawn(move || {
            let (mut ms, mut failed) = (Vec::new(), 0);
            while !s2.load(Ordering::Relaxed) {
                let t = Instant::now();
                match http_get_status(admin, "/healthz", Duration::from_secs(5)) {
                    Ok(200) => ms.push(t.elapsed().as_secs_f64() * 1e3),
                    _ => failed += 1,
                }
                std::thread::sleep(Duration::from_millis(50).saturating_sub(t.elapsed()));
            }
            (ms, failed)
        });
        let (overflows, started) = (listen_overflows(), Instant::now());
        Monitor {
            report,
            overflows,
            started,
            stop,
            sampler,
            probe,
        }
    }

    fn finish(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let mut report = self.report;
        let peaks = self.sampler.join().expect("sampler thread");
        let (mut ms, failed) = self.probe.join().expect("probe thread");
        ms.sort_by(f64::total_cmp);
        report.peak_rss_mib = peaks.rss_kib as f64 / 1024.0;
        report.tcp_mem_peak_mib = peaks.tcp_mem as f64 / MIB as f64;
        report.healthz_ms = [0.5, 0.99, 1.0].map(|p| percentile(&ms, p));
        report.healthz_failed = failed;
        report.duration_s = self.started.elapsed().as_secs_f64();
        let over_idle = (report.peak_rss_mib - report.idle_rss_mib).max(0.0);
        report.rss_per_download_kib = over_idle * 1024.0 / report.clients.max(1) as f64;
        report.listen_overflows = listen_overflows().saturating_sub(self.overflows);
        report
    }
}

/// The `p` quantile of sorted `values` (NaN when empty).
fn percentile(values: &[f64], p: f64) -> f64 {
    let i = ((values.len() as f64 * p) as usize).min(values.len().saturating_sub(1));
    values.get(i).copied().unwrap_or(f64::NAN)
}

// === results ===

#[derive(Serialize, Default)]
struct Report {
    scenario: String,
    clients: usize,
    duration_s: f64,
    idle_rss_mib: f64,
    peak_rss_mib: f64,
    rss_per_download_kib: f64,
    healthz_ms: [f64; 3],
    healthz_failed: usize,
    bytes: u64,
    status_200: usize,
    status_503: usize,
    other: usize,
    /// System-wide, so also other processes' sockets (and the previous scenario's, still closing).
    tcp_mem_idle_mib: f64,
    tcp_mem_peak_mib: f64,
    /// System-wide counter (`/proc/net/netstat`), delta over the scenario.
    listen_overflows: u64,
    /// `/proc/loadavg` when the scenario started (the machine is shared).
    load: String,
    note: String,
}

impl Report {
    fn count(&mut self, status: Option<u16>) {
        match status {
            Some(200) => self.status_200 += 1,
            Some(503) => self.status_503 += 1,
            _ => self.other += 1,
        }
    }
}

// === an HTTP/1.1 client reading at a fixed rate ===

#[derive(Default)]
struct H1Result {
    status: Option<u16>,
    content_length: Option<u64>,
    body_bytes: u64,
    /// When the response headers were complete.
    headers_after: Option<Duration>,
    /// When the server closed the connection (None: still open at the deadline).
    closed_after: Option<Duration>,
}

/// GETs `path`, reads the body at `rate` bytes/s (0: as fast as it comes) until EOF or `deadline`.
async fn h1_client(addr: SocketAddr, path: String, rate: u64, deadline: TokioInstant) -> H1Result {
    let started = TokioInstant::now();
    let mut r = H1Result::default();
    let Ok(Ok(mut tcp)) = timeout_at(deadline, TcpStream::connect(addr)).await else {
        return r;
    };
    if tcp
        .write_all(request(addr, &path).as_bytes())
        .await
        .is_err()
    {
        return r;
    }
    let (mut head, mut buf) = (Vec::new(), vec![0u8; 8 * 1024]);
    let mut body_started: Option<TokioInstant> = None;
    loop {
        if let (Some(t0), true) = (body_started, rate > 0) {
            let due = t0 + Duration::from_secs_f64(r.body_bytes as f64 / rate as f64);
            sleep_until(due.min(deadline)).await;
        }
        // `timeout_at` polls the read first, so a buffered socket would go on past the deadline.
        if TokioInstant::now() >= deadline {
            return r;
        }
        let n = match timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(result) => result.unwrap_or(0),
            Err(_) => return r, // deadline: disconnect
        };
        if n == 0 {
            r.closed_after = Some(started.elapsed());
            return r;
        } else if body_started.is_some() {
            r.body_bytes += n as u64;
            continue;
        }
        head.extend_from_slice(&buf[..n]);
        let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
        r.status = status_code(&text);
        let length = text.lines().find_map(|l| l.strip_prefix("content-length:"));
        r.content_length = length.and_then(|v| v.trim().parse().ok());
        r.body_bytes = (head.len() - end - 4) as u64;
        r.headers_after = Some(started.elapsed());
        body_started = Some(TokioInstant::now());
    }
}

// === scenarios ===

fn archive(origin: &Origin) -> String {
    let files = [
        origin.entry("a.bin", 100 * MIB, 1, 0),
        origin.entry("b.bin", 100 * MIB, 2, 0),
    ];
    link_path(&origin.add_manifest(json!({ "files": files })))
}

/// Scenarios 1 and 2: `clients` HTTP/1.1 clients at once, each reading `rate_kib` KiB/s, for `secs`.
async fn h1_crowd(name: &str, clients: usize, rate_kib: u64, secs: u64) -> Report {
    let origin = Origin::start().await;
    let z = start_zipper(clients, &[]);
    let path = archive(&origin);
    sleep(Duration::from_millis(500)).await;
    let monitor = Monitor::start(&z, name, clients);
    let deadline = TokioInstant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(h1_client(z.public, path.clone(), rate_kib * 1024, deadline)))
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("client task"));
    }
    let mut report = monitor.finish();
    let (mut closed_early, mut headers_ms) = (0, Vec::new());
    for r in results {
        report.count(r.status);
        report.bytes += r.body_bytes;
        closed_early += usize::from(r.status == Some(200) && r.closed_after.is_some());
        headers_ms.extend(r.headers_after.map(|d| d.as_secs_f64() * 1e3));
    }
    headers_ms.sort_by(f64::total_cmp);
    let [p50, max] = [percentile(&headers_ms, 0.5), percentile(&headers_ms, 1.0)];
    report.note = format!(
        "{rate_kib} KiB/s each for {secs} s; response headers after p50 {p50:.0} ms, max {max:.0} ms; \
         {closed_early} closed before the end"
    );
    report
}

/// Scenario 3: HTTP/2 streams whose client never opens its window but keeps answering pings.
async fn h2_stalled(streams: usize, conns: usize) -> Report {
    const WRITE_TIMEOUT: u64 = 5;
    let origin = Origin::start().await;
    let z = start_zipper(streams, &[("ZIPPER_CLIENT_WRITE_TIMEOUT_SECS", "5")]);
    let path = archive(&origin);
    sleep(Duration::from_millis(500)).await;
    let monitor = Monitor::start(&z, "h2-stalled", streams);
    let hard_end = TokioInstant::now() + Duration::from_secs(WRITE_TIMEOUT + 15);
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let resets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (mut tasks, mut drivers) = (Vec::new(), Vec::new());
    for c in 0..conns {
        let tcp = TcpStream::connect(z.public).await.expect("h2 connect");
        let (client, conn) = h2::client::Builder::new()
            .initial_window_size(0)
            .handshake::<_, Bytes>(tcp)
            .await
            .expect("h2 handshake");
        // Polling the connection answers zipper's pings; no WINDOW_UPDATE is ever sent for a stream.
        drivers.push(tokio::spawn(
            async move { timeout_at(hard_end, conn).await },
        ));
        for _ in 0..(streams / conns + usize::from(c < streams % conns)) {
            let mut client = client.clone().ready().await.expect("h2 ready");
            let req = Request::get(format!("http://{}{path}", z.public))
                .body(())
                .expect("req");
            let (res, _) = client.send_request(req, true).expect("h2 send_request");
            let (statuses, resets) = (Arc::clone(&statuses), Arc::clone(&resets));
            tasks.push(tokio::spawn(async move {
                let Ok(Ok(res)) = timeout_at(hard_end, res).await else {
                    return;
                };
                let code = res.status().as_u16();
                statuses.lock().expect("statuses").push(code);
                let mut body = res.into_body();
                // No capacity is ever released, so no DATA can arrive: this waits for a reset or the end.
                if let Ok(Some(Err(_)) | None) = timeout_at(hard_end, body.data()).await {
                    resets.fetch_add(1, Ordering::Relaxed);
                }
                // Hold the stream open (no cancel from our side) until the scenario ends.
                sleep_until(hard_end).await;
                drop(body);
            }));
        }
    }
    let t0 = Instant::now();
    // Measure at write timeout + 2 s after the requests went out.
    sleep_until(TokioInstant::from_std(
        t0 + Duration::from_secs(WRITE_TIMEOUT + 2),
    ))
    .await;
    let rss_then = status_kib(z.child.id(), "VmRSS:") as f64 / 1024.0;
    let origin_conns = established_to(origin.files.port());
    let resets = resets.load(Ordering::Relaxed);
    let mut report = monitor.finish();
    for code in statuses.lock().expect("statuses").iter() {
        report.count(Some(*code));
    }
    report.other += streams.saturating_sub(report.status_200 + report.status_503 + report.other);
    tasks.iter().for_each(|t| t.abort());
    drivers.iter().for_each(|d| d.abort());
    report.note = format!(
        "{conns} conns; at t={}s: RSS {rss_then:.1} MiB, {origin_conns} origin file conns open, \
         {resets}/{streams} streams reset or ended",
        WRITE_TIMEOUT + 2
    );
    report
}

/// Scenario 4: HTTP/2 connections that send the preface and SETTINGS, then nothing.
async fn h2_idle(conns: usize) -> Report {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    let z = start_zipper(conns, &[("ZIPPER_REQUEST_HEADER_TIMEOUT_SECS", "2")]);
    let monitor = Monitor::start(&z, "h2-idle", conns);
    let deadline = TokioInstant::now() + Duration::from_secs(10);
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let addr = z.public;
            tokio::spawn(async move {
                let t = Instant::now();
                let mut tcp = TcpStream::connect(addr).await.ok()?;
                tcp.write_all(PREFACE).await.ok()?;
                let mut buf = [0u8; 4096];
                loop {
                    match timeout_at(deadline, tcp.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => continue,
                        Ok(_) => return Some(Some(t.elapsed().as_secs_f64())),
                        Err(_) => return Some(None), // still open at 10 s
                    }
                }
            })
        })
        .collect();
    let (mut closed, mut open, mut failed) = (Vec::new(), 0, 0);
    for t in tasks {
        match t.await.expect("idle task") {
            Some(Some(secs)) => closed.push(secs),
            Some(None) => open += 1,
            None => failed += 1,
        }
    }
    let mut report = monitor.finish();
    report.other = failed;
    closed.sort_by(f64::total_cmp);
    let median = closed
        .get(closed.len() / 2)
        .map_or("-".into(), |s| format!("{s:.1} s"));
    report.note =
        format!("header timeout 2 s: {open}/{conns} still open at 10 s; median close {median}");
    report
}

/// Scenario 5: one download whose origin sends 1 byte every 0.5 s; time until the client sees it fail.
async fn drip() -> Report {
    let origin = Origin::start().await;
    let z = start_zipper(1, &[]);
    let file = origin.entry("drip.bin", 64 * 1024, 3, 500);
    let path = link_path(&origin.add_manifest(json!({ "files": [file] })));
    let monitor = Monitor::start(&z, "drip", 1);
    let deadline = TokioInstant::now() + Duration::from_secs(60);
    let r = h1_client(z.public, path, 0, deadline).await;
    let mut report = monitor.finish();
    report.count(r.status);
    report.bytes = r.body_bytes;
    let of = r.content_length.map_or("?".into(), |l| l.to_string());
    report.note = match r.closed_after {
        Some(t) if r.content_length != Some(r.body_bytes) => {
            format!(
                "failed after {:.1} s ({} of {of} bytes)",
                t.as_secs_f64(),
                r.body_bytes
            )
        }
        Some(t) => format!("completed after {:.1} s?", t.as_secs_f64()),
        None => format!("still dripping at 60 s ({} of {of} bytes)", r.body_bytes),
    };
    report
}

// === main ===

/// Waits (at most 10 s) for the kernel to free the previous scenario's socket memory.
async fn settle() {
    for _ in 0..100 {
        if tcp_mem_bytes() < 16 * MIB {
            return;
        }
        sleep(Duration::from_millis(100)).await;
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn num(args: &[String], name: &str, default: u64) -> u64 {
    arg(args, name).map_or(default, |v| {
        v.parse().unwrap_or_else(|_| panic!("{name}: not a number"))
    })
}

fn print_table(reports: &[Report]) {
    println!("\n| scenario | clients | duration | idle RSS | peak RSS | per download | /healthz p50 / p99 / max (failed) | bytes delivered | 200 / 503 / other | TCP mem idle / peak | listen overflows | load | notes |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in reports {
        let [p50, p99, max] = r.healthz_ms;
        println!(
            "| {} | {} | {:.1} s | {:.1} MiB | {:.1} MiB | {:.0} KiB | {p50:.1} / {p99:.1} / {max:.1} ms ({}) | {:.1} MiB | {} / {} / {} | {:.1} / {:.1} MiB | {} | {} | {} |",
            r.scenario, r.clients, r.duration_s, r.idle_rss_mib, r.peak_rss_mib, r.rss_per_download_kib,
            r.healthz_failed, r.bytes as f64 / MIB as f64, r.status_200, r.status_503, r.other,
            r.tcp_mem_idle_mib, r.tcp_mem_peak_mib, r.listen_overflows, r.load, r.note
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes --bench; `cargo test --benches` does not: then only a small smoke run.
    let bench = args.iter().any(|a| a == "--bench");
    let custom = arg(&args, "--clients").is_some();
    let all = "h1-200,h1-1000,h2-stalled,h2-idle,drip";
    let picked =
        arg(&args, "--scenario").unwrap_or_else(|| if custom { String::new() } else { all.into() });
    let limit = open_files_limit();
    let biggest = num(&args, "--clients", 1000);
    if limit < biggest * 4 + 64 {
        eprintln!("warning: open-files limit {limit} is low for {biggest} clients: run with `ulimit -n 8192`");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut reports = Vec::new();
    rt.block_on(async {
        if !bench {
            reports.push(h1_crowd("smoke", 4, 256, 1).await);
            return;
        }
        if custom {
            let (c, r, s) = (
                num(&args, "--clients", 200),
                num(&args, "--rate-kib", 256),
                num(&args, "--secs", 10),
            );
            reports.push(h1_crowd(&format!("h1-{c}"), c as usize, r, s).await);
        }
        for name in picked.split(',').filter(|s| !s.is_empty()) {
            settle().await;
            let report = match name {
                "h1-200" => h1_crowd(name, 200, 256, 10).await,
                "h1-1000" => h1_crowd(name, 1000, 64, 20).await,
                "h2-stalled" => h2_stalled(100, 4).await,
                "h2-idle" => h2_idle(200).await,
                "drip" => drip().await,
                other => panic!("unknown scenario {other:?}; known: {all}"),
            };
            print_table(std::slice::from_ref(&report));
            reports.push(report);
        }
    });
    let load = loadavg();
    println!("\n## crowd benchmark (load average at the end: {load})");
    print_table(&reports);
    let out = target_dir().join("crowd.json");
    let doc = json!({ "loadavg_end": load, "scenarios": reports });
    std::fs::write(&out, serde_json::to_string_pretty(&doc).expect("json"))
        .expect("write crowd.json");
    println!("\nJSON: {}", out.display());
}
