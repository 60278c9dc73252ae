//! An origin written for nginx mod_zip works unchanged (issue 13, item 6): the callback answers with
//! `X-Archive-Files: zip` (or `Content-Type: text/plain`) and mod_zip's file list, in the formats of mod_zip's
//! README and test suite (with and without CRCs, escaped locations, UTF-8 names, spaces, `@directory`), and the
//! real server streams the archive those files make, fetching each location from the callback's host.

use std::io::Read;

use http::{HeaderMap, HeaderValue};
use zipper::demo::{generated_bytes, generated_crc32, Demo};

use crate::server::{error_code, get, now, start};

/// One listed file: size, seed, location path (as written in the list), name in the archive, CRC listed.
struct Listed {
    size: u64,
    seed: u64,
    location: &'static str,
    name: &'static str,
    crc: bool,
}

const FILES: &[Listed] = &[
    Listed {
        size: 24,
        seed: 1,
        location: "/files/24/1/file1.txt",
        name: "file1.txt",
        crc: true,
    },
    Listed {
        size: 25,
        seed: 2,
        location: "/files/25/2/file2.txt",
        name: "file2.txt",
        crc: false,
    },
    // zip-spaces-plus.txt's escaped location; a `+` is a space, as in mod_zip.
    Listed {
        size: 70_000,
        seed: 3,
        location: "/files/70000/3/file1%20with%20space%20%2B%20plus+x.txt?v=1",
        name: "My Document1.txt",
        crc: false,
    },
    // A UTF-8 name with spaces, inside a directory.
    Listed {
        size: 3000,
        seed: 4,
        location: "/files/3000/4/photo.jpg",
        name: "Фото 2019/пляж и море.jpg",
        crc: true,
    },
];

/// The list as mod_zip reads it: `<crc32|-> <size> <location> <name>`, several spaces between fields, a
/// `@directory` line, CRLF line ends.
fn mod_zip_list() -> String {
    let mut body = String::new();
    for f in FILES {
        let crc = if f.crc {
            format!("{:08x}", generated_crc32(f.seed, f.size))
        } else {
            "-".into()
        };
        body.push_str(&format!(
            "{crc}   {} {}  {}\r\n",
            f.size, f.location, f.name
        ));
    }
    body.push_str("0        0      @directory My empty directory\r\n");
    body
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_static(value));
    }
    map
}

fn link(demo: &Demo, body: String, answer: HeaderMap) -> String {
    let path = demo.origin.add_manifest_with_headers(body, answer);
    demo.link_to(&format!("{path}?timestamp={}", now()), "link.zip")
}

/// Every listed file, byte-exact under its name, and the empty directory.
fn check_archive(bytes: Vec<u8>) {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a valid zip");
    assert_eq!(zip.len(), FILES.len() + 1);
    for f in FILES {
        let mut entry = zip.by_name(f.name).expect(f.name);
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("read");
        assert_eq!(
            content,
            generated_bytes(f.seed, 0, f.size as usize),
            "{}",
            f.name
        );
    }
    assert!(zip.by_name("My empty directory/").expect("dir").is_dir());
}

#[tokio::test]
async fn a_mod_zip_origin_works_unchanged() {
    let demo = start().await;
    let answer = headers(&[
        ("x-archive-files", "zip"),
        ("content-type", "application/octet-stream"),
        ("content-disposition", "attachment; filename=foobar.zip"),
        ("last-modified", "Wed, 15 Nov 1995 04:58:08 GMT"),
    ]);
    let link = link(&demo, mod_zip_list(), answer);
    let got = get(&link, &[]).await;
    assert_eq!(got.status, 200, "{:?}", got.body);
    let disposition = got.headers["content-disposition"].to_str().expect("ascii");
    assert!(
        disposition.contains("filename=\"foobar.zip\""),
        "{disposition}"
    );
    // Every size is listed: an exact length and ranges, as for a JSON manifest.
    assert_eq!(got.headers["accept-ranges"], "bytes");
    assert!(got.headers.contains_key("etag"));
    check_archive(got.body.expect("archive"));
    // Each location was fetched once from the callback's host, escapes as written, `+` as `%20`.
    assert_eq!(demo.origin.requests("/files/24/1/file1.txt"), 1);
    assert_eq!(
        demo.origin
            .requests("/files/70000/3/file1%20with%20space%20%2B%20plus%20x.txt"),
        1
    );
    assert_eq!(demo.origin.requests("/files/"), FILES.len() as u64);
}

#[tokio::test]
async fn text_plain_without_the_switch_is_a_mod_zip_list_too_and_resumes() {
    let demo = start().await;
    let link = link(
        &demo,
        mod_zip_list(),
        headers(&[("content-type", "text/plain; charset=utf-8")]),
    );
    let whole = get(&link, &[]).await;
    assert_eq!(whole.status, 200, "{:?}", whole.body);
    let whole = whole.body.expect("archive");
    check_archive(whole.clone());
    // A resume from the middle gets the rest of the same bytes.
    let from = whole.len() / 2;
    let tail = get(&link, &[("range", &format!("bytes={from}-"))]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body.expect("tail"), whole[from..]);
}

#[tokio::test]
async fn a_charset_other_than_utf8_is_an_invalid_manifest() {
    let demo = start().await;
    let link = link(
        &demo,
        mod_zip_list(),
        headers(&[("x-archive-files", "zip"), ("x-archive-charset", "cp866")]),
    );
    let got = get(&link, &[]).await;
    assert_eq!(got.status, 502);
    assert_eq!(error_code(&got), "invalid_manifest");
    assert_eq!(demo.origin.requests("/files/"), 0);
}

#[tokio::test]
async fn a_bad_line_is_named_without_its_values() {
    let demo = start().await;
    let body = "- 24 /files/24/1/a.txt a.txt\n- 24 /files/24/1/b.txt?token=s3cr3t ../b.txt\n";
    let link = link(&demo, body.into(), headers(&[("x-archive-files", "zip")]));
    let got = get(&link, &[]).await;
    assert_eq!(got.status, 502);
    assert_eq!(error_code(&got), "invalid_manifest");
    let text = String::from_utf8(got.body.expect("body")).expect("utf-8");
    assert!(
        text.contains("line 2: name: contains a '..' segment"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
}
