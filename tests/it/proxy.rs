//! zipper behind the reverse proxies of `config/deploy/`: nginx (`nginx.conf`) and Caddy (`Caddyfile`), each
//! started as a foreground process of its own on a free 127.0.0.1 port with a configuration generated from
//! the snippet (only its TLS site address swapped for a plain local one, and zipper's address filled in),
//! in front of a real zipper with `path_prefix = "/zip"`. Through each: the download is byte-identical to
//! zipper's own answer and opens in `unzip`, a `Range` gets its `206`, an `If-Range` with the ETag resumes
//! and one with another ETag gets the whole `200`, and the first file's bytes reach the client while a
//! later file's origin is still silent (no response buffering). Also `config/deploy/zipper.service`
//! passes `systemd-analyze verify`.
//!
//! A proxy whose binary is not installed is skipped with a message (tests/run.sh installs both).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use zipper::core::link::PathPrefix;
use zipper::demo::{generated_crc32, Demo};

use crate::curl_resume::run_bounded;
use crate::util::check_unzip;

fn deploy_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/deploy")
        .join(name)
}

fn read_deploy(name: &str) -> String {
    std::fs::read_to_string(deploy_file(name)).expect("config/deploy snippet")
}

/// The path of `program` on `PATH` (or in the usual sbin directories), if installed.
fn installed(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file());
    found
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// A demo origin and a zipper with `path_prefix = "/zip"`, on a runtime of their own.
struct Zipper {
    demo: Demo,
    _rt: tokio::runtime::Runtime,
}

impl Zipper {
    fn start() -> Zipper {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let demo = rt
            .block_on(Demo::start(SocketAddr::from(([127, 0, 0, 1], 0)), |c| {
                c.path_prefix = PathPrefix::parse("/zip").expect("prefix");
            }))
            .expect("demo starts");
        Zipper { demo, _rt: rt }
    }

    /// The path (from `/zip/` on) of a link to a two-file archive; with `slow_second`, the second file's
    /// origin waits 5 s before answering.
    fn link_path(&self, slow_second: bool) -> String {
        let o = &self.demo.origin;
        let second = o.file_url(300_000, 12, "b.bin");
        let files = json!([
            { "url": o.file_url(2_000, 11, "a.bin"), "path": "a.bin", "size": 2_000,
              "crc32": format!("{:08x}", generated_crc32(11, 2_000)) },
            { "url": if slow_second { format!("{second}?delay_ms=5000") } else { second },
              "path": "b.bin", "size": 300_000 },
        ]);
        let link = self.demo.link(
            &json!({ "files": files }),
            "proxied.zip",
            zipper::server::system_clock(),
        );
        let root = format!("http://{}", self.demo.server.public_addr);
        format!(
            "/zip{}",
            link.strip_prefix(&root).expect("a link on zipper")
        )
    }
}

/// A proxy process we started; stopped (SIGTERM, then SIGKILL) when dropped.
struct Proxy {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts `cmd` and waits (bounded) until it accepts connections on `addr`.
    fn spawn(
        name: &'static str,
        mut cmd: Command,
        addr: SocketAddr,
        dir: tempfile::TempDir,
    ) -> Proxy {
        let log = std::fs::File::create(dir.path().join("proxy.log")).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut proxy = Proxy {
            name,
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("{name} exited with {status}:\n{}", proxy.log());
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not listen on {addr}:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        proxy
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("proxy.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `config/deploy/nginx.conf` for a test: zipper's address filled in, the TLS `listen`, `ssl_*` and
/// `server_name` lines replaced by a plain `listen` on `listen`, inside a minimal main configuration whose
/// files all live in `dir`.
fn nginx_config(zipper: SocketAddr, listen: SocketAddr, dir: &Path) -> String {
    let mut site = String::new();
    for line in read_deploy("nginx.conf").lines() {
        let code = line.trim_start();
        if code.starts_with("listen ")
            || code.starts_with("ssl_")
            || code.starts_with("server_name ")
        {
            continue;
        }
        site.push_str(&line.replace("127.0.0.1:8080", &zipper.to_string()));
        site.push('\n');
        if code == "server {" {
            site.push_str(&format!("    listen {listen};\n"));
        }
    }
    assert!(
        site.contains(&format!("listen {listen};")),
        "no server block in nginx.conf"
    );
    let d = dir.display();
    format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\n{site}}}\n"
    )
}

fn start_nginx(bin: &Path, zipper: SocketAddr) -> Proxy {
    let dir = tempfile::tempdir().expect("temp dir");
    let listen = free_port();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, nginx_config(zipper, listen, dir.path())).expect("write nginx.conf");
    let mut cmd = Command::new(bin);
    cmd.arg("-e").arg(dir.path().join("error.log"));
    cmd.arg("-p").arg(dir.path()).arg("-c").arg(&conf);
    Proxy::spawn("nginx", cmd, listen, dir)
}

/// `config/deploy/Caddyfile` for a test: zipper's address filled in, the site address `zip.example.com`
/// replaced by `http://<listen>`, and global options that keep Caddy off the network and out of `$HOME`.
fn caddy_config(zipper: SocketAddr, listen: SocketAddr) -> String {
    let site = read_deploy("Caddyfile")
        .replace("127.0.0.1:8080", &zipper.to_string())
        .replace("zip.example.com {", &format!("http://{listen} {{"));
    assert!(
        site.contains(&format!("http://{listen} {{")),
        "no site block in the Caddyfile"
    );
    format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}")
}

fn start_caddy(bin: &Path, zipper: SocketAddr) -> Proxy {
    let dir = tempfile::tempdir().expect("temp dir");
    let listen = free_port();
    let conf = dir.path().join("Caddyfile");
    std::fs::write(&conf, caddy_config(zipper, listen)).expect("write Caddyfile");
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&conf)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"));
    Proxy::spawn("caddy", cmd, listen, dir)
}

/// What `curl` got: the final status, the headers (lower-case names) and the body.
struct Fetched {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn curl(url: &str, headers: &[&str]) -> Fetched {
    let out = tempfile::NamedTempFile::new().expect("temp");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "60", "-D", "-", "-o"])
        .arg(out.path())
        .arg(url);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let ran = run_bounded(&mut cmd, Duration::from_secs(90));
    assert!(ran.status.success(), "curl {url}: {}", ran.stderr);
    let mut status = 0;
    let mut found = Vec::new();
    for line in ran.stdout.lines() {
        if let Some(rest) = line.strip_prefix("HTTP/") {
            status = rest
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            found.clear();
        } else if let Some((k, v)) = line.split_once(':') {
            found.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Fetched {
        status,
        headers: found,
        body: std::fs::read(out.path()).expect("body"),
    }
}

/// Everything one proxy must do in front of zipper.
fn check_through(proxy: &Proxy, zipper: &Zipper) {
    let name = proxy.name;
    let path = zipper.link_path(false);
    let direct = curl(
        &format!("http://{}{path}", zipper.demo.server.public_addr),
        &[],
    );
    assert_eq!(direct.status, 200, "zipper itself");

    let whole = curl(&proxy.url(&path), &[]);
    assert_eq!(
        whole.status,
        200,
        "{name}: {}",
        String::from_utf8_lossy(&whole.body)
    );
    assert!(
        whole.body == direct.body,
        "{name}: the proxied archive differs from zipper's"
    );
    let file = tempfile::Builder::new()
        .suffix(".zip")
        .tempfile()
        .expect("temp");
    std::fs::write(file.path(), &whole.body).expect("write");
    check_unzip(file.path());
    let etag = whole
        .header("etag")
        .expect("ETag through the proxy")
        .to_owned();
    assert_eq!(whole.header("accept-ranges"), Some("bytes"), "{name}");

    let len = whole.body.len();
    let part = curl(&proxy.url(&path), &["Range: bytes=1000-1999"]);
    assert_eq!(part.status, 206, "{name}: Range through the proxy");
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 1000-1999/{len}").as_str()),
        "{name}"
    );
    assert!(part.body == whole.body[1000..2000], "{name}: the 206 body");

    let resumed = curl(
        &proxy.url(&path),
        &[
            &format!("Range: bytes={}-", len - 500),
            &format!("If-Range: {etag}"),
        ],
    );
    assert_eq!(
        resumed.status, 206,
        "{name}: If-Range with the ETag resumes"
    );
    assert!(
        resumed.body == whole.body[len - 500..],
        "{name}: the resumed tail"
    );
    let changed = curl(
        &proxy.url(&path),
        &["Range: bytes=1000-1999", "If-Range: \"z3-another-archive\""],
    );
    assert_eq!(
        changed.status, 200,
        "{name}: If-Range that does not match gets the whole archive"
    );
    assert_eq!(changed.body.len(), len, "{name}");

    // No response buffering: the first file (2,000 bytes) reaches the client while the second file's
    // origin is silent for 5 s. curl gives up after 3 s (exit 28) with what it has got by then.
    let slow = proxy.url(&zipper.link_path(true));
    let out = tempfile::NamedTempFile::new().expect("temp");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "3", "-o"])
        .arg(out.path())
        .arg(&slow);
    let ran = run_bounded(&mut cmd, Duration::from_secs(30));
    assert_eq!(
        ran.status.code(),
        Some(28),
        "{name}: curl should time out: {}",
        ran.stderr
    );
    let got = std::fs::metadata(out.path()).map(|m| m.len()).unwrap_or(0);
    assert!(
        got > 2_000,
        "{name} held back the stream: {got} bytes after 3 s (first file is 2,000)"
    );

    // A path under /zip/ that is not a link gets zipper's JSON 404 through the proxy.
    let not_a_link = curl(&proxy.url(&path.replacen("/zip/", "/zip/x/", 1)), &[]);
    assert_eq!(not_a_link.status, 404, "{name}");
    assert!(
        String::from_utf8_lossy(&not_a_link.body).contains("\"not_found\""),
        "{name}: {}",
        String::from_utf8_lossy(&not_a_link.body)
    );
}

#[test]
fn nginx_snippet_streams_and_passes_ranges_through() {
    let Some(bin) = installed("nginx") else {
        eprintln!("SKIPPED: nginx is not installed (tests/run.sh installs Debian's nginx)");
        return;
    };
    let zipper = Zipper::start();
    let proxy = start_nginx(&bin, zipper.demo.server.public_addr);
    check_through(&proxy, &zipper);
}

#[test]
fn caddy_snippet_streams_and_passes_ranges_through() {
    let Some(bin) = installed("caddy") else {
        eprintln!("SKIPPED: caddy is not installed (tests/run.sh installs Debian's caddy)");
        return;
    };
    let zipper = Zipper::start();
    let proxy = start_caddy(&bin, zipper.demo.server.public_addr);
    check_through(&proxy, &zipper);
}

#[test]
fn systemd_unit_verifies() {
    let text = read_deploy("zipper.service");
    // Offline checks that need no systemd: sections and the options that make the unit safe to run.
    for line in [
        "[Unit]",
        "[Service]",
        "[Install]",
        "ExecStart=/usr/local/bin/zipper serve --config /etc/zipper/zipper.toml",
        "RestartPreventExitStatus=64",
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "zipper.service lacks {line}"
        );
    }
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(
            (line.starts_with('[') && line.ends_with(']')) || line.contains('='),
            "not a unit-file line: {line}"
        );
    }
    let Some(analyze) = installed("systemd-analyze") else {
        eprintln!(
            "SKIPPED: systemd-analyze verify (not installed); the unit was parse-checked only"
        );
        return;
    };
    // Verify the unit as written, with ExecStart pointing at the binary under test (verify checks that
    // the program exists).
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = dir.path().join("zipper.service");
    std::fs::write(
        &unit,
        text.replace("/usr/local/bin/zipper", env!("CARGO_BIN_EXE_zipper")),
    )
    .expect("write unit");
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    for complaint in ["Unknown", "ignoring", "Failed", "Invalid"] {
        assert!(
            !stderr.contains(complaint),
            "systemd-analyze verify: {stderr}"
        );
    }
}
