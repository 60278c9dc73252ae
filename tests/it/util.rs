//! The harness: runs real unarchivers on an archive file and compares what they read with what was meant.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one entry should look like to every reader.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    pub name: String,
    pub size: u64,
    pub crc32: u32,
}

pub fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
            .chars()
            .take(4000)
            .collect::<String>(),
        String::from_utf8_lossy(&out.stderr)
            .chars()
            .take(4000)
            .collect::<String>()
    );
    String::from_utf8(out.stdout).expect("tool output is UTF-8")
}

/// Parses `name\tsize\tcrc` lines.
pub fn parse_listing(text: &str) -> Vec<Expected> {
    let mut v: Vec<Expected> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut it = l.rsplitn(3, '\t');
            let crc = u32::from_str_radix(it.next().expect("crc"), 16).expect("hex crc");
            let size = it.next().expect("size").parse().expect("size");
            let name = it.next().expect("name").to_string();
            Expected {
                name,
                size,
                crc32: crc,
            }
        })
        .collect();
    v.sort();
    v
}

pub fn sorted(expected: &[Expected]) -> Vec<Expected> {
    let mut v = expected.to_vec();
    v.sort();
    v
}

/// Info-ZIP `unzip -t`: every CRC checks out.
pub fn check_unzip(path: &Path) {
    let out = run(Command::new("unzip").arg("-tq").arg(path));
    assert!(out.contains("No errors detected"), "unzip -t: {out}");
}

/// Info-ZIP's names as `zipinfo -1` (`unzip -Z1`) lists them in a UTF-8 locale.
pub fn check_unzip_names(path: &Path, expected: &[Expected]) {
    let listing = run(Command::new("unzip")
        .env("LC_ALL", "C.UTF-8")
        .arg("-Z1")
        .arg(path));
    let mut got: Vec<String> = listing.lines().map(str::to_string).collect();
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|e| e.name.clone()).collect();
    want.sort();
    assert_eq!(got, want, "zipinfo listing");
}

/// 7-Zip `7z t`, and `7z l -slt` names, sizes and CRCs.
pub fn check_7z(path: &Path, expected: &[Expected]) {
    let out = run(Command::new("7z").arg("t").arg(path));
    assert!(out.contains("Everything is Ok"), "7z t: {out}");
    let listing = run(Command::new("7z")
        .args(["l", "-slt", "-sccUTF-8"])
        .arg(path));
    assert_eq!(parse_7z_slt(&listing), sorted(expected), "7z listing");
}

/// The entries of a `7z l -slt` listing, sorted.
pub fn parse_7z_slt(listing: &str) -> Vec<Expected> {
    let mut got = Vec::new();
    let mut cur: (Option<String>, Option<u64>, Option<u32>, bool) = (None, None, None, false);
    let mut in_entries = false;
    for line in listing.lines() {
        if line.starts_with("----------") {
            in_entries = true;
            continue;
        }
        if !in_entries {
            continue;
        }
        if let Some(p) = line.strip_prefix("Path = ") {
            cur = (Some(p.to_string()), None, None, false);
        } else if let Some(s) = line.strip_prefix("Size = ") {
            cur.1 = s.parse().ok();
        } else if let Some(c) = line.strip_prefix("CRC = ") {
            cur.2 = u32::from_str_radix(c, 16).ok();
        } else if line == "Folder = +" {
            cur.3 = true;
        } else if line.is_empty() {
            got.extend(seven_zip_entry(std::mem::take(&mut cur)));
        }
    }
    got.extend(seven_zip_entry(cur));
    got.sort();
    got
}

/// One entry of a `7z l -slt` listing from its (path, size, crc, is-folder) lines, if complete.
fn seven_zip_entry(cur: (Option<String>, Option<u64>, Option<u32>, bool)) -> Option<Expected> {
    let (Some(name), Some(size)) = (cur.0, cur.1) else {
        return None;
    };
    let name = if cur.3 { format!("{name}/") } else { name };
    Some(Expected {
        name,
        size,
        crc32: cur.2.unwrap_or(0),
    })
}

/// libarchive's `bsdtar`: lists the names and extracts every entry (checking CRCs) to nowhere.
pub fn check_bsdtar(path: &Path, expected: &[Expected]) {
    let listing = run(Command::new("bsdtar")
        .env("LC_ALL", "C.UTF-8")
        .arg("-tf")
        .arg(path));
    let mut got: Vec<String> = listing.lines().map(str::to_string).collect();
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|e| e.name.clone()).collect();
    want.sort();
    assert_eq!(got, want, "bsdtar listing");
    let status = Command::new("bsdtar")
        .env("LC_ALL", "C.UTF-8")
        .arg("-xOf")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("bsdtar runs");
    assert!(status.success(), "bsdtar -x failed");
}

/// Python's zipfile: testzip plus names, sizes and CRCs read back.
pub fn check_python(path: &Path, expected: &[Expected]) {
    let out = run(Command::new("python3")
        .arg(tools_dir().join("zipcheck.py"))
        .arg(path));
    assert_eq!(parse_listing(&out), sorted(expected), "python zipfile");
}

/// Java's java.util.zip.ZipFile: names, sizes and CRCs read back.
pub fn check_java(path: &Path, expected: &[Expected]) {
    let out = run(Command::new("java")
        .arg(tools_dir().join("ZipCheck.java"))
        .arg(path));
    assert_eq!(parse_listing(&out), sorted(expected), "java.util.zip");
}

/// Every reader above.
pub fn check_all_tools(path: &Path, expected: &[Expected]) {
    check_unzip(path);
    check_7z(path, expected);
    check_bsdtar(path, expected);
    check_python(path, expected);
    check_java(path, expected);
}
