//! The README's walk-through "From the demo to your own app", step by step with the real binary: `zipper
//! demo` (reading the key and callback it prints), `zipper sign` against the demo's zipper, then `zipper
//! serve` with the README's own configuration block and a link signed for it; each archive is checked with
//! `unzip -t`. The commands run are the README's (the test checks that the README shows them), with its
//! placeholders filled in and the listen addresses moved to free ports through the environment.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::curl_resume::run_bounded;
use crate::util::check_unzip;

const BIN: &str = env!("CARGO_BIN_EXE_zipper");

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The text after `<!-- walkthrough: {name} -->` up to the next blank line: an indented command block or
/// a fenced one (without its fences).
fn readme_block(readme: &str, name: &str) -> String {
    let marker = format!("<!-- walkthrough: {name} -->\n");
    let after = readme
        .split_once(&marker)
        .unwrap_or_else(|| panic!("README.md has no {marker}"))
        .1;
    if let Some(fenced) = after.strip_prefix("```") {
        let body = fenced.split_once('\n').expect("fence line").1;
        return body.split_once("```").expect("closing fence").0.to_owned();
    }
    let block = after.split("\n\n").next().unwrap_or_default();
    block
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Kills the child (one we started) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// `zipper demo` on a free port, and the lines of what it printed up to its "press Ctrl-C".
fn start_demo() -> (Running, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("zipper demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("press Ctrl-C") => return (running, lines),
            Ok(line) => lines.push(line),
            Err(_) => panic!("zipper demo printed no ready line in 30 s: {lines:?}"),
        }
    }
}

/// The text after `prefix` on the first line starting with it.
fn printed<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("zipper demo printed no {prefix:?}: {lines:?}"))
}

/// Runs a README command line `VAR=value zipper sign …` (placeholders filled in) and returns the link.
fn run_sign(command: &str, secret: &str, callback: &str) -> String {
    let line = command
        .replace("<secret>", secret)
        .replace("<callback>", callback);
    let (assignment, rest) = line.split_once(' ').expect("VAR=value zipper …");
    let (var, value) = assignment.split_once('=').expect("VAR=value");
    let args: Vec<&str> = rest
        .strip_prefix("zipper ")
        .expect("a zipper command")
        .split(' ')
        .map(|a| a.trim_matches('\''))
        .collect();
    let out = Command::new(BIN)
        .env_clear()
        .env(var, value)
        .args(&args)
        .output()
        .expect("zipper sign runs");
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// `curl -fo FILE LINK && unzip -t FILE`, as the README says.
fn download_and_test(link: &str, dir: &Path, name: &str) {
    let file = dir.join(name);
    let ran = run_bounded(
        Command::new("curl")
            .args(["-sS", "-f", "-o"])
            .arg(&file)
            .arg(link),
        Duration::from_secs(60),
    );
    assert!(ran.status.success(), "curl {link}: {}", ran.stderr);
    check_unzip(&file);
}

#[test]
fn the_readme_walkthrough_from_the_demo_to_your_own_zipper_works() {
    let readme = readme();
    let dir = tempfile::tempdir().expect("temp dir");

    // Step 2: the demo prints its callback and key.
    let (_demo, lines) = start_demo();
    let callback = printed(&lines, "manifest (callback URL): ").to_owned();
    let key = printed(&lines, "signing key: id demo, secret ");
    let secret = key
        .strip_suffix(" (generated for this run)")
        .expect("secret line")
        .to_owned();
    let demo_base = printed(&lines, "zipper is serving on ")
        .split(' ')
        .next()
        .expect("base")
        .to_owned();

    // Step 3: sign against the demo's zipper (the README's command, on the demo's actual port).
    let sign_demo = readme_block(&readme, "sign-demo");
    let sign_line = sign_demo.lines().next().expect("sign line");
    assert!(
        sign_line.contains("--base http://127.0.0.1:8080 "),
        "{sign_line}"
    );
    let link = run_sign(
        &sign_line.replace("http://127.0.0.1:8080", &demo_base),
        &secret,
        &callback,
    );
    assert!(link.starts_with(&format!("{demo_base}/demo/")), "{link}");
    assert!(sign_demo.contains("curl -fo demo.zip '<link>' && unzip -t demo.zip"));
    download_and_test(&link, dir.path(), "demo.zip");

    // Step 4: your own zipper with the README's configuration (listen addresses moved to free ports
    // through the environment, which wins over the file).
    let config = readme_block(&readme, "config");
    assert!(config.contains("allow_private_networks = true"), "{config}");
    let config_path = dir.path().join("my-zipper.toml");
    std::fs::write(&config_path, &config).expect("write my-zipper.toml");
    let serve = readme_block(&readme, "serve");
    assert_eq!(
        serve.trim(),
        "DEMO_SECRET=<secret> zipper serve --config my-zipper.toml"
    );
    let (public, admin) = (free_port(), free_port());
    let _own = Running(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config_path)
            .env_clear()
            .env("DEMO_SECRET", &secret)
            .env("ZIPPER_LISTEN", public.to_string())
            .env("ZIPPER_ADMIN_LISTEN", admin.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("zipper serve starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(public).is_err() {
        assert!(Instant::now() < deadline, "zipper serve did not listen");
        std::thread::sleep(Duration::from_millis(25));
    }
    let sign_own = readme_block(&readme, "sign-own");
    let sign_line = sign_own.lines().next().expect("sign line");
    assert!(
        sign_line.contains("--base http://127.0.0.1:8081 "),
        "{sign_line}"
    );
    let link = run_sign(
        &sign_line.replace("http://127.0.0.1:8081", &format!("http://{public}")),
        &secret,
        &callback,
    );
    assert!(sign_own.contains("curl -fo mine.zip '<link>' && unzip -t mine.zip"));
    download_and_test(&link, dir.path(), "mine.zip");
}
