//! Origin-app snippets and `zipper sign` make links that zipper accepts: the test vector of docs/contract.md
//! and random callbacks, run as real subprocesses (`docs/snippets/sign.py`, `sign.js`, `sign.rb`, the
//! binary). And the manifest-request checks of docs/signing.md (Python, Node, Ruby), extracted from the
//! document itself, agree with zipper's `X-Zipper-Signature` on its test vector and refuse what they must.

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

// === checking the manifest request (docs/signing.md) ===

/// The manifest-request test vector of docs/signing.md.
const REQUEST_TIME: &str = "1554674460";
const REQUEST_SIGNATURE: &str = "5rRqW32oBv0puUB_Qmssw59CthVKs21QQlvC14paMYA";

/// The fenced code block that follows `<!-- tested: {name} -->` in docs/signing.md.
fn signing_md_block(name: &str) -> String {
    let doc =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/signing.md"))
            .expect("docs/signing.md");
    let marker = format!("<!-- tested: {name} -->");
    let after = doc
        .split_once(&marker)
        .unwrap_or_else(|| panic!("docs/signing.md has no {marker}"))
        .1;
    let body = after
        .trim_start()
        .strip_prefix("```")
        .and_then(|b| b.split_once('\n'))
        .unwrap_or_else(|| panic!("no code block after {marker}"))
        .1;
    let (code, _) = body
        .split_once("\n```")
        .unwrap_or_else(|| panic!("unterminated code block after {marker}"));
    code.to_owned()
}

/// One check: the arguments a snippet gets (`None`: the header is missing) and the answer it must give.
struct Case {
    what: &'static str,
    secret: &'static str,
    callback: &'static str,
    time: Option<&'static str>,
    signature: Option<&'static str>,
    now: i64,
    want: bool,
}

fn cases() -> Vec<Case> {
    let t: i64 = REQUEST_TIME.parse().expect("time");
    let ok = |what, now| Case {
        what,
        secret: SECRET,
        callback: CALLBACK,
        time: Some(REQUEST_TIME),
        signature: Some(REQUEST_SIGNATURE),
        now,
        want: true,
    };
    let bad = |what, f: &dyn Fn(&mut Case)| {
        let mut c = ok(what, t);
        c.want = false;
        f(&mut c);
        c
    };
    vec![
        ok("the test vector at its time", t),
        ok("300 s later", t + 300),
        ok("300 s earlier", t - 300),
        bad("301 s later", &|c| c.now = t + 301),
        bad("301 s earlier", &|c| c.now = t - 301),
        bad("another secret", &|c| c.secret = "another-secret"),
        bad("another callback", &|c| {
            c.callback = "https://localhost:5001/api/v1/downloads/other/zip?timestamp=1554674400"
        }),
        bad("http instead of https (a proxy's view)", &|c| {
            c.callback = "http://localhost:5001/api/v1/downloads/92870627-ed07-4a13-a020-51e9c0a9f3e1/zip?timestamp=1554674400"
        }),
        bad("a changed signature", &|c| {
            c.signature = Some("5rRqW32oBv0puUB_Qmssw59CthVKs21QQlvC14paMYB")
        }),
        bad("a truncated signature", &|c| {
            c.signature = Some("5rRqW32oBv0puUB_Qmssw59CthVKs21QQlvC14paMY")
        }),
        bad("a non-ASCII signature", &|c| {
            c.signature = Some("5rRqW32oBv0puUB_Qmssw59CthVKs21QQlvC14paMYé")
        }),
        bad("no signature header", &|c| c.signature = None),
        bad("no time header", &|c| c.time = None),
        bad("a time that is not a number", &|c| {
            c.time = Some("1554674460.0")
        }),
        bad("a negative time", &|c| c.time = Some("-1554674460")),
        bad("an empty time", &|c| c.time = Some("")),
    ]
}

/// Runs `code` (a snippet) plus `harness`, which reads one JSON case per line on stdin
/// (`[secret, callback, time|null, signature|null, now]`) and prints `true` or `false` for each.
fn run_snippet(program: &str, file: &str, code: &str, harness: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(file);
    std::fs::write(&path, format!("{code}\n\n{harness}\n")).expect("write snippet");
    let cases = cases();
    let input: String = cases
        .iter()
        .map(|c| {
            serde_json::json!([c.secret, c.callback, c.time, c.signature, c.now]).to_string() + "\n"
        })
        .collect();
    let mut child = Command::new(program)
        .arg(&path)
        .env("PYTHONUTF8", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes())
        .expect("write cases");
    let out = child.wait_with_output().expect("snippet runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{program} {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<&str> = stdout.lines().collect();
    assert_eq!(answers.len(), cases.len(), "{program} {file}: {stdout}");
    for (case, answer) in cases.iter().zip(answers) {
        assert_eq!(answer, case.want.to_string(), "{file}: {}", case.what);
    }
}

#[test]
fn the_manifest_request_test_vector_is_zippers_signature() {
    let secret = zipper::core::keys::Secret::new(SECRET).expect("secret");
    let time: i64 = REQUEST_TIME.parse().expect("time");
    assert_eq!(
        zipper::core::link::manifest_request_signature(&secret, time, CALLBACK),
        REQUEST_SIGNATURE
    );
    let doc = signing_md_block("verify.py");
    assert!(doc.contains("def is_from_zipper("), "{doc}");
    let md =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/signing.md"))
            .expect("docs/signing.md");
    for value in [REQUEST_TIME, REQUEST_SIGNATURE, CALLBACK] {
        assert!(
            md.contains(&format!("`{value}`")),
            "docs/signing.md lacks the vector's {value}"
        );
    }
}

#[test]
fn the_python_check_of_docs_signing_md_accepts_only_zippers_signature() {
    let harness = r#"
import json, sys
for line in sys.stdin:
    secret, callback, t, sig, now = json.loads(line)
    print("true" if is_from_zipper(secret, callback, t, sig, now=now) else "false")
"#;
    run_snippet(
        "python3",
        "verify.py",
        &signing_md_block("verify.py"),
        harness,
    );
}

#[test]
fn the_node_check_of_docs_signing_md_accepts_only_zippers_signature() {
    let harness = r#"
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0);
for (const line of lines) {
  const [secret, callback, t, sig, now] = JSON.parse(line);
  console.log(isFromZipper(secret, callback, t, sig, 300, now) ? 'true' : 'false');
}
"#;
    run_snippet("node", "verify.js", &signing_md_block("verify.js"), harness);
}

#[test]
fn the_ruby_check_of_docs_signing_md_accepts_only_zippers_signature() {
    let harness = r#"
require 'json'
$stdin.each_line do |line|
  secret, callback, t, sig, now = JSON.parse(line)
  puts(from_zipper?(secret, callback, t, sig, now: now) ? 'true' : 'false')
end
"#;
    run_snippet("ruby", "verify.rb", &signing_md_block("verify.rb"), harness);
}
