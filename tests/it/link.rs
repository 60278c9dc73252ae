//! Origin-app snippets and `zipper sign` make links that zipper accepts: the test vector of docs/contract.md
//! and random callbacks, run as real subprocesses (`docs/snippets/sign.py`, `docs/snippets/sign.js`,
//! `docs/snippets/sign.rb`, the binary).

use std::path::PathBuf;
use std::process::Command;

use zipper::core::keys::KeySet;
use zipper::core::link::{parse_path, verify, LinkPolicy};

const SECRET: &str = "zipper-test-secret";
const CALLBACK: &str = "https://localhost:5001/api/v1/downloads/92870627-ed07-4a13-a020-51e9c0a9f3e1/zip?timestamp=1554674400";
const LINK: &str = "/0/https%3A%2F%2Flocalhost%3A5001%2Fapi%2Fv1%2Fdownloads%2F92870627-ed07-4a13-a020-51e9c0a9f3e1%2Fzip%3Ftimestamp%3D1554674400/yEEhWeZZ1BxbU90HbZrMuPTgn42iCrG7pZpi9MB7cEo/zip.zip";
const BASE: &str = "http://127.0.0.1:8080";

fn snippet(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/snippets")
        .join(name)
        .display()
        .to_string()
}

/// Runs a command, asserts it succeeded, and returns its stdout without the final newline.
fn output(cmd: &mut Command) -> String {
    let out = cmd
        .env("PYTHONUTF8", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .trim_end_matches('\n')
        .to_owned()
}

fn python(secret: &str, key_id: &str, callback: &str, filename: &str) -> String {
    output(Command::new("python3").args([&snippet("sign.py"), secret, key_id, callback, filename]))
}

fn node(secret: &str, key_id: &str, callback: &str, filename: &str) -> String {
    output(Command::new("node").args([&snippet("sign.js"), secret, key_id, callback, filename]))
}

fn ruby(secret: &str, key_id: &str, callback: &str, filename: &str) -> String {
    output(Command::new("ruby").args([&snippet("sign.rb"), secret, key_id, callback, filename]))
}

fn zipper_sign(secret: &str, key_id: &str, callback: &str, filename: &str) -> String {
    output(
        Command::new(env!("CARGO_BIN_EXE_zipper"))
            .env("LINK_TEST_SECRET", secret)
            .args([
                "sign",
                "--key-id",
                key_id,
                "--secret-env",
                "LINK_TEST_SECRET",
            ])
            .args(["--filename", filename, callback]),
    )
}

/// Asserts zipper accepts `path` under `keys` at the link's own timestamp, with exactly these values.
fn assert_accepted(path: &str, keys: &KeySet, key_id: &str, callback: &str, filename: &str) {
    let link = parse_path(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let verified = verify(&link, keys, link.timestamp(), &LinkPolicy::default())
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(verified.key_id(), key_id);
    assert_eq!(verified.callback(), callback);
    assert_eq!(verified.filename(), filename);
}

#[test]
fn every_signer_makes_the_test_vector() {
    assert_eq!(python(SECRET, "0", CALLBACK, "zip.zip"), LINK);
    assert_eq!(node(SECRET, "0", CALLBACK, "zip.zip"), LINK);
    assert_eq!(ruby(SECRET, "0", CALLBACK, "zip.zip"), LINK);
    assert_eq!(
        zipper_sign(SECRET, "0", CALLBACK, "zip.zip"),
        format!("{BASE}{LINK}")
    );
    let keys = KeySet::from_pairs([("0", SECRET)]).unwrap();
    assert_accepted(LINK, &keys, "0", CALLBACK, "zip.zip");
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn text(&mut self, pool: &[char], max_len: u64) -> String {
        let len = self.next() % (max_len + 1);
        (0..len)
            .map(|_| pool[(self.next() % pool.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn snippet_and_cli_links_for_random_callbacks_are_accepted() {
    // Characters a callback URL may hold unescaped, plus escapes and non-ASCII; '#', '?' and '&' are kept
    // out of the random parts so that the one timestamp stays in the query.
    let url_chars: Vec<char> = "abcXYZ019-._~!$'()*+,;=:@/%2Fé漢🎉".chars().collect();
    let name_chars: Vec<char> = "abc XYZ 019-._~!\"'()*/\\%#?&é漢🎉".chars().collect();
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    let keys = KeySet::from_pairs([("k-1", "s3cr3t with spaces ✓"), ("other", "x")]).unwrap();
    let secret = "s3cr3t with spaces ✓";
    for _ in 0..12 {
        let timestamp = 1_500_000_000 + rng.next() % 500_000_000;
        let callback = format!(
            "https://app{}.example:8443/{}?q={}&timestamp={timestamp}",
            rng.next() % 100,
            rng.text(&url_chars, 20),
            rng.text(&url_chars, 10),
        );
        let filename = format!("{}.zip", rng.text(&name_chars, 16));
        let from_python = python(secret, "k-1", &callback, &filename);
        let from_node = node(secret, "k-1", &callback, &filename);
        let from_ruby = ruby(secret, "k-1", &callback, &filename);
        assert_eq!(from_python, from_ruby, "{callback}");
        let from_cli = zipper_sign(secret, "k-1", &callback, &filename);
        assert_eq!(from_python, from_node, "{callback}");
        assert_eq!(from_cli, format!("{BASE}{from_python}"), "{callback}");
        assert_accepted(&from_python, &keys, "k-1", &callback, &filename);
    }
}

#[test]
fn sign_now_makes_a_link_valid_at_the_current_time() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let printed = output(
        Command::new(env!("CARGO_BIN_EXE_zipper"))
            .args(["sign", "--key-id", "0", "--secret-file"])
            .arg(&secret_file)
            .args([
                "--now",
                "--base",
                "https://zip.example/",
                "https://app.example/m/1",
            ]),
    );
    let path = printed
        .strip_prefix("https://zip.example")
        .unwrap_or_else(|| panic!("{printed}"));
    let link = parse_path(path).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - link.timestamp()).abs() < 60, "{printed}");
    assert_eq!(
        link.callback(),
        format!("https://app.example/m/1?timestamp={}", link.timestamp())
    );
    let keys = KeySet::from_pairs([("0", SECRET)]).unwrap();
    let verified = verify(&link, &keys, now, &LinkPolicy::default()).unwrap();
    assert_eq!(verified.filename(), "download.zip");
}
