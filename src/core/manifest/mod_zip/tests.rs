use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::core::fuzzing::{fuzz_mod_zip, invariant_violation};
use crate::core::manifest::{Compression, EntryKind, FileSource};
use crate::error::{Code, HasCode};

/// The link's timestamp of the test vector of docs/contract.md, Signature.
const LINK_TIME: i64 = 1_554_674_400;
const CALLBACK: &str = "https://files.example:8443/api/zip?timestamp=1554674400";

fn zip_headers() -> BodyHeaders {
    BodyHeaders {
        x_archive_files: Some(b"zip".to_vec()),
        ..BodyHeaders::default()
    }
}

fn parse_with(body: &str, headers: &BodyHeaders) -> Result<Manifest, ManifestError> {
    parse_mod_zip(
        body.as_bytes(),
        headers,
        CALLBACK,
        LINK_TIME,
        &ManifestLimits::default(),
    )
}

fn parse(body: &str) -> Result<Manifest, ManifestError> {
    parse_with(body, &zip_headers())
}

fn error(body: &str) -> String {
    match parse(body) {
        Ok(manifest) => panic!("accepted: {manifest:?}"),
        Err(error) => {
            assert_eq!(error.code(), Code::InvalidManifest);
            error.to_string()
        }
    }
}

fn source(manifest: &Manifest, i: usize) -> &FileSource {
    match &manifest.entries[i].kind {
        EntryKind::File(source) => source,
        EntryKind::Directory => panic!("entry {i} is a directory"),
    }
}

/// (name, url, size, crc) of one entry; a directory has no url.
type Summary = (String, Option<String>, Option<u64>, Option<u32>);

/// The [`Summary`] of each entry.
fn summary(manifest: &Manifest) -> Vec<Summary> {
    manifest
        .entries
        .iter()
        .map(|e| match &e.kind {
            EntryKind::File(s) => (e.path.clone(), Some(s.url.clone()), s.size, s.crc32),
            EntryKind::Directory => (e.path.clone(), None, None, None),
        })
        .collect()
}

fn entry(name: &str, url: Option<&str>, size: u64, crc: Option<u32>) -> Summary {
    (name.into(), url.map(Into::into), url.map(|_| size), crc)
}

const BASE: &str = "https://files.example:8443";

// === the formats of mod_zip's README and test suite ===

#[test]
fn the_readme_example_parses() {
    // Several spaces between fields, spaces inside names.
    let body = "1034ab38 428    /foo.txt   My Document1.txt\n\
                83e8110b 100339 /bar.txt   My Other Document1.txt\n";
    let manifest = parse(body).expect("valid");
    assert_eq!(
        summary(&manifest),
        vec![
            entry(
                "My Document1.txt",
                Some(&format!("{BASE}/foo.txt")),
                428,
                Some(0x1034_ab38)
            ),
            entry(
                "My Other Document1.txt",
                Some(&format!("{BASE}/bar.txt")),
                100_339,
                Some(0x83e8_110b)
            ),
        ]
    );
    assert_eq!(manifest.filename, None);
    for i in 0..2 {
        let s = source(&manifest, i);
        assert_eq!(s.compression, Compression::Store);
        assert!(s.headers.is_empty());
        assert_eq!(manifest.entries[i].modified_unix, LINK_TIME);
    }
}

#[test]
fn the_test_suite_lists_parse() {
    let base = BASE;
    let cases: &[(&str, Vec<Summary>)] = &[
        // zip.txt
        (
            "1a6349c5 24 /file1.txt file1.txt\n5d70c4d3 25 /file2.txt file2.txt\n",
            vec![
                entry(
                    "file1.txt",
                    Some(&format!("{base}/file1.txt")),
                    24,
                    Some(0x1a63_49c5),
                ),
                entry(
                    "file2.txt",
                    Some(&format!("{base}/file2.txt")),
                    25,
                    Some(0x5d70_c4d3),
                ),
            ],
        ),
        // zip-missing-crc.txt
        (
            "- 24 /file1.txt file1.txt\n5d70c4d3 25 /file2.txt file2.txt\n",
            vec![
                entry("file1.txt", Some(&format!("{base}/file1.txt")), 24, None),
                entry(
                    "file2.txt",
                    Some(&format!("{base}/file2.txt")),
                    25,
                    Some(0x5d70_c4d3),
                ),
            ],
        ),
        // zip-uppercase-crc.txt
        (
            "1A6349C5 24 /file1.txt file1.txt\n5D70C4d3 25 /file2.txt file2.txt\n",
            vec![
                entry(
                    "file1.txt",
                    Some(&format!("{base}/file1.txt")),
                    24,
                    Some(0x1a63_49c5),
                ),
                entry(
                    "file2.txt",
                    Some(&format!("{base}/file2.txt")),
                    25,
                    Some(0x5d70_c4d3),
                ),
            ],
        ),
        // zip-spaces.txt: an escaped location.
        (
            "1a6349c5 24 /file1%20with%20spaces.txt file1.txt\n",
            vec![entry(
                "file1.txt",
                Some(&format!("{base}/file1%20with%20spaces.txt")),
                24,
                Some(0x1a63_49c5),
            )],
        ),
        // zip-spaces-plus.txt: an escaped `+` stays a plus.
        (
            "1a6349c5 24 /file1%20with%20space%20%2B%20plus.txt file1.txt\n",
            vec![entry(
                "file1.txt",
                Some(&format!("{base}/file1%20with%20space%20%2B%20plus.txt")),
                24,
                Some(0x1a63_49c5),
            )],
        ),
        // zip-local-files.txt
        (
            "1a6349c5 24 /local/file1.txt file1.txt\n",
            vec![entry(
                "file1.txt",
                Some(&format!("{base}/local/file1.txt")),
                24,
                Some(0x1a63_49c5),
            )],
        ),
        // zip-empty-dirs.txt: `0 0 @directory name/`, several spaces.
        (
            "1a6349c5 24 /file1.txt file1.txt\n0        0  @directory empty_dir1/\n\
             5d70c4d3 25 /file2.txt file2.txt\n0        0  @directory empty_dir2/\n",
            vec![
                entry(
                    "file1.txt",
                    Some(&format!("{base}/file1.txt")),
                    24,
                    Some(0x1a63_49c5),
                ),
                entry("empty_dir1/", None, 0, None),
                entry(
                    "file2.txt",
                    Some(&format!("{base}/file2.txt")),
                    25,
                    Some(0x5d70_c4d3),
                ),
                entry("empty_dir2/", None, 0, None),
            ],
        ),
        // The README's directory without a trailing slash.
        (
            "0        0      @directory My empty directory\n",
            vec![entry("My empty directory/", None, 0, None)],
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(&summary(&parse(body).expect(body)), expected, "{body}");
    }
}

#[test]
fn utf8_names_and_directory_paths_are_kept() {
    let body = "- 3 /a Фото/пляж 2019.jpg\n- 4 /b 日本語 ファイル.txt\n";
    let manifest = parse(body).expect("valid");
    assert_eq!(manifest.entries[0].path, "Фото/пляж 2019.jpg");
    assert_eq!(manifest.entries[1].path, "日本語 ファイル.txt");
}

#[test]
fn the_name_is_the_rest_of_the_line_trailing_spaces_included() {
    let manifest = parse("- 1 /a  a name  with   spaces  \n").expect("valid");
    assert_eq!(manifest.entries[0].path, "a name  with   spaces  ");
}

#[test]
fn crlf_blank_lines_and_a_missing_final_newline_are_fine() {
    let body = "\r\n- 1 /a a\r\n\r\n   \n- 2 /b b";
    let manifest = parse(body).expect("valid");
    assert_eq!(
        summary(&manifest),
        vec![
            entry("a", Some(&format!("{BASE}/a")), 1, None),
            entry("b", Some(&format!("{BASE}/b")), 2, None),
        ]
    );
    assert_eq!(parse("").expect("empty").entries, vec![]);
}

#[test]
fn crc32_may_drop_leading_zeros() {
    let manifest = parse("0 0 /a a\n1f 1 /b b\n00000001 1 /c c\n").expect("valid");
    let crcs: Vec<_> = summary(&manifest).into_iter().map(|e| e.3).collect();
    assert_eq!(crcs, vec![Some(0), Some(0x1f), Some(1)]);
}

// === locations ===

#[test]
fn a_plus_in_the_path_is_a_space_and_the_query_is_kept() {
    let manifest = parse("- 1 /dir/a+b.txt?sig=x+y&n=1 a\n").expect("valid");
    assert_eq!(
        source(&manifest, 0).url,
        format!("{BASE}/dir/a%20b.txt?sig=x+y&n=1")
    );
}

#[test]
fn a_hash_is_part_of_the_location_not_a_fragment() {
    let manifest = parse("- 1 /a#1.txt?x=#y a\n").expect("valid");
    assert_eq!(source(&manifest, 0).url, format!("{BASE}/a%231.txt?x=%23y"));
}

#[test]
fn locations_resolve_against_the_callbacks_scheme_host_and_port_only() {
    let at = |callback: &str| {
        let m = parse_mod_zip(
            b"- 1 /f.txt?a=1 f",
            &zip_headers(),
            callback,
            LINK_TIME,
            &ManifestLimits::default(),
        )
        .expect("valid");
        source(&m, 0).url.clone()
    };
    assert_eq!(
        at("http://origin.example/x/y?timestamp=1"),
        "http://origin.example/f.txt?a=1"
    );
    assert_eq!(
        at("https://origin.example:443/x"),
        "https://origin.example/f.txt?a=1"
    );
    assert_eq!(
        at("http://127.0.0.1:8080/x"),
        "http://127.0.0.1:8080/f.txt?a=1"
    );
    assert_eq!(at("http://[::1]:9000/x"), "http://[::1]:9000/f.txt?a=1");
    // The callback's credentials are never sent to the files.
    assert_eq!(
        at("https://user:secret@origin.example/x"),
        "https://origin.example/f.txt?a=1"
    );
}

#[test]
fn a_location_cannot_leave_the_callbacks_host() {
    for location in [
        "//evil.example/x",
        "/\\evil.example/x",
        "/../../x",
        "/%2e%2e/x",
    ] {
        let m = parse(&format!("- 1 {location} f")).expect(location);
        let url = url::Url::parse(&source(&m, 0).url).expect("url");
        assert_eq!(url.host_str(), Some("files.example"), "{location}");
        assert_eq!(url.port(), Some(8443), "{location}");
    }
}

#[test]
fn an_absolute_url_location_is_used_as_is() {
    let manifest = parse("- 1 https://cdn.example/a%20b.jpg?t=1 a\n- 1 HTTP://cdn.example/b b\n")
        .expect("valid");
    assert_eq!(
        source(&manifest, 0).url,
        "https://cdn.example/a%20b.jpg?t=1"
    );
    assert_eq!(source(&manifest, 1).url, "http://cdn.example/b");
}

// === headers ===

#[test]
fn only_utf8_is_accepted_as_charset() {
    let with = |charset: &str| {
        parse_with(
            "- 1 /a a",
            &BodyHeaders {
                x_archive_charset: Some(charset.as_bytes().to_vec()),
                ..zip_headers()
            },
        )
    };
    for ok in ["utf-8", "UTF-8", "utf8", " utf-8; ", ""] {
        assert!(with(ok).is_ok(), "{ok:?}");
    }
    for bad in ["cp866", "native;", "iso-8859-1", "koi8-r"] {
        let error = with(bad).expect_err(bad);
        assert_eq!(error, ManifestError::Charset);
        assert_eq!(
            error.to_string(),
            "X-Archive-Charset: only utf-8 is supported"
        );
        assert_eq!(error.code(), Code::InvalidManifest);
    }
}

#[test]
fn a_name_separator_keeps_the_utf8_name() {
    let headers = BodyHeaders {
        x_archive_name_sep: Some(b"|;".to_vec()),
        ..zip_headers()
    };
    let manifest = parse_with(
        "- 1 /a NATIVE~1.TXT|Документ.txt\n- 1 /b plain.txt\n",
        &headers,
    )
    .expect("valid");
    assert_eq!(manifest.entries[0].path, "Документ.txt");
    assert_eq!(manifest.entries[1].path, "plain.txt");
    // The native half need not be UTF-8.
    let mut body = b"- 1 /a \xa8\xa0|\xd0\xaf.txt\n".to_vec();
    let m = parse_mod_zip(
        &body,
        &headers,
        CALLBACK,
        LINK_TIME,
        &ManifestLimits::default(),
    )
    .expect("valid");
    assert_eq!(m.entries[0].path, "Я.txt");
    // Without the header, such a name is refused.
    body = b"- 1 /a \xa8\xa0.txt\n".to_vec();
    let error = parse_mod_zip(
        &body,
        &zip_headers(),
        CALLBACK,
        LINK_TIME,
        &ManifestLimits::default(),
    )
    .expect_err("not UTF-8");
    assert_eq!(error.to_string(), "line 1: name: not UTF-8");
}

#[test]
fn content_disposition_names_the_download() {
    let with = |value: &str| {
        parse_with(
            "- 1 /a a",
            &BodyHeaders {
                content_disposition: Some(value.as_bytes().to_vec()),
                ..zip_headers()
            },
        )
        .map(|m| m.filename)
    };
    assert_eq!(
        with("attachment; filename=foobar.zip"),
        Ok(Some("foobar.zip".into()))
    );
    assert_eq!(
        with(r#"attachment; filename="my \"photos\"; 2019.zip""#),
        Ok(Some("my _photos_; 2019.zip".into()))
    );
    assert_eq!(
        with(
            "attachment; filename=\"fallback.zip\"; filename*=UTF-8''%D0%A4%D0%BE%D1%82%D0%BE.zip"
        ),
        Ok(Some("Фото.zip".into()))
    );
    assert_eq!(with("attachment"), Ok(None));
    assert_eq!(with("attachment; filename="), Ok(None));
    assert_eq!(
        with("attachment; filename=report.pdf")
            .expect_err("not .zip")
            .to_string(),
        "Content-Disposition filename: must end in .zip"
    );
}

#[test]
fn the_format_is_chosen_from_the_headers() {
    let list = b"- 1 /a a\n".as_slice();
    let json = br#"{"files":[]}"#.as_slice();
    let headers = |files: Option<&str>, content_type: Option<&str>| BodyHeaders {
        x_archive_files: files.map(|v| v.as_bytes().to_vec()),
        content_type: content_type.map(|v| v.as_bytes().to_vec()),
        ..BodyHeaders::default()
    };
    assert!(headers(Some("zip"), None).is_mod_zip(list));
    assert!(headers(Some(" ZIP "), Some("application/json")).is_mod_zip(json));
    assert!(headers(None, Some("text/plain; charset=utf-8")).is_mod_zip(list));
    assert!(headers(None, Some("Text/Plain")).is_mod_zip(list));
    // A JSON manifest served as text/plain is still JSON.
    assert!(!headers(None, Some("text/plain")).is_mod_zip(b"  \n{\"files\":[]}"));
    assert!(!headers(None, Some("application/json")).is_mod_zip(list));
    assert!(!headers(Some("tar"), None).is_mod_zip(list));
    assert!(!headers(None, None).is_mod_zip(list));

    let map = {
        let mut map = http::HeaderMap::new();
        map.insert("x-archive-files", http::HeaderValue::from_static("zip"));
        map.insert("x-archive-charset", http::HeaderValue::from_static("utf-8"));
        map
    };
    let from_map = BodyHeaders::from_header_map(&map);
    assert_eq!(from_map.x_archive_files.as_deref(), Some(b"zip".as_slice()));
    assert_eq!(
        from_map.x_archive_charset.as_deref(),
        Some(b"utf-8".as_slice())
    );
    assert_eq!(from_map.content_type, None);

    let parsed = parse_response(
        list,
        &from_map,
        CALLBACK,
        LINK_TIME,
        &ManifestLimits::default(),
    );
    assert_eq!(parsed.map(|m| m.entries.len()), Ok(1));
    let parsed = parse_response(
        json,
        &BodyHeaders::default(),
        CALLBACK,
        LINK_TIME,
        &ManifestLimits::default(),
    );
    assert_eq!(parsed.map(|m| m.entries.len()), Ok(0));
}

// === the rules of the JSON manifest apply ===

#[test]
fn a_list_gives_the_same_manifest_as_its_json() {
    let list = "cbf43926 9 /a.txt dir/a.txt\n- 3 https://cdn.example/b b.txt\n\
                0 0 @directory empty\n- 1 /c c.txt\n- 1 /c ./dir//a.txt\n";
    let json = json!({ "files": [
        { "url": format!("{BASE}/a.txt"), "path": "dir/a.txt", "size": 9, "crc32": "cbf43926" },
        { "url": "https://cdn.example/b", "path": "b.txt", "size": 3 },
        { "path": "empty/" },
        { "url": format!("{BASE}/c"), "path": "c.txt", "size": 1 },
        { "url": format!("{BASE}/c"), "path": "./dir//a.txt", "size": 1 },
    ]});
    let from_json = parse_manifest(
        json.to_string().as_bytes(),
        LINK_TIME,
        &ManifestLimits::default(),
    )
    .expect("valid json");
    let from_list = parse(list).expect("valid list");
    assert_eq!(from_list, from_json);
    // Duplicates renamed as in JSON.
    assert_eq!(from_list.entries[4].path, "dir/a (1).txt");
}

#[test]
fn errors_name_the_line_and_field() {
    let cases = [
        ("xyz 1 /a a", "line 1: crc32: expected '-' or 1 to 8 hex digits"),
        ("123456789 1 /a a", "line 1: crc32: expected '-' or 1 to 8 hex digits"),
        ("-1 1 /a a", "line 1: crc32: expected '-' or 1 to 8 hex digits"),
        ("-", "line 1: size: missing"),
        ("- 12x /a a", "line 1: size: expected an integer from 0 to 18446744073709551615"),
        ("- 18446744073709551616 /a a", "line 1: size: expected an integer from 0 to 18446744073709551615"),
        ("- 1", "line 1: location: missing"),
        ("- 1 /a", "line 1: name: missing"),
        ("- 1 a.txt a", "line 1: location: expected a path starting with '/', an absolute http(s) URL or @directory"),
        ("- 1 ftp://h/a a", "line 1: location: expected a path starting with '/', an absolute http(s) URL or @directory"),
        ("- 1 https:///a a", "line 1: location: not an absolute http(s) URL"),
        ("- 1 /a ../etc/passwd", "line 1: name: contains a '..' segment"),
        ("- 1 /a /etc/passwd", "line 1: name: is an absolute path"),
        ("- 1 /a a\tb", "line 1: name: contains a control character"),
        ("- 1 /a dir/", "line 1: location: not allowed on a directory (a path ending in '/')"),
        ("- 1 /a a\n\n\r\n- x /b b", "line 4: size: expected an integer from 0 to 18446744073709551615"),
    ];
    for (body, message) in cases {
        assert_eq!(error(body), message, "{body:?}");
    }
}

#[test]
fn errors_never_repeat_a_value() {
    let secret = "tok3n-s3cr3t";
    for body in [
        format!("{secret} 1 /a a"),
        format!("- {secret} /a a"),
        format!("- 1 {secret} a"),
        format!("- 1 /a?sig={secret} ../{secret}"),
        format!("- 1 https://{secret}:x@/a a"),
    ] {
        let message = error(&body);
        assert!(!message.contains(secret), "{message}");
    }
    let headers = BodyHeaders {
        x_archive_charset: Some(secret.as_bytes().to_vec()),
        ..zip_headers()
    };
    let message = parse_with("- 1 /a a", &headers)
        .expect_err("charset")
        .to_string();
    assert!(!message.contains(secret), "{message}");
}

#[test]
fn the_limits_apply_and_name_the_line() {
    let limits = ManifestLimits {
        max_entries: 2,
        max_total_bytes: 10,
    };
    let run = |body: &str| {
        parse_mod_zip(
            body.as_bytes(),
            &zip_headers(),
            CALLBACK,
            LINK_TIME,
            &limits,
        )
    };
    assert!(run("- 5 /a a\n- 5 /b b\n").is_ok());
    assert_eq!(
        run("- 1 /a a\n- 1 /b b\n- 1 /c c\n").expect_err("3 > 2"),
        ManifestError::TooManyEntries { max: 2 }
    );
    assert_eq!(
        run("- 5 /a a\n\n- 6 /b b\n")
            .expect_err("11 > 10")
            .to_string(),
        "line 3: size: the sizes add up to more than 10 bytes"
    );
    // Directories' sizes do not count, as in JSON.
    assert!(run("- 10 /a a\n0 99 @directory d").is_ok());
}

// === cost: linear in the body ===

#[test]
fn many_duplicates_parse_in_linear_time() {
    let body = "- 1 /a a.txt\n".repeat(20_000);
    let manifest = parse(&body).expect("valid");
    assert_eq!(manifest.entries.len(), 20_000);
    assert_eq!(manifest.entries[19_999].path, "a (19999).txt");
}

#[test]
fn long_lines_and_long_separators_stay_linear() {
    let name = "n".repeat(60_000);
    let manifest = parse(&format!("- 1 /{} {name}", "p".repeat(1 << 20))).expect("valid");
    assert_eq!(manifest.entries[0].path, name);
    // A separator over the bound is ignored (no quadratic search).
    let headers = BodyHeaders {
        x_archive_name_sep: Some(vec![b'|'; MAX_NAME_SEP_BYTES + 1]),
        ..zip_headers()
    };
    let m = parse_with("- 1 /a a||||||||||||||||||b", &headers).expect("valid");
    assert_eq!(m.entries[0].path, "a||||||||||||||||||b");
    // A body of blank lines is an empty list.
    assert!(parse(&"\n".repeat(1 << 20))
        .expect("valid")
        .entries
        .is_empty());
}

// === properties ===

/// A name segment of the characters mod_zip lists carry: letters, digits, spaces, dots, UTF-8.
fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._Яé日-]{1,12}".prop_filter("a real segment", |s| {
        !matches!(s.trim_end_matches(' '), "" | "." | "..") && s.trim() != "." && s.trim() != ".."
    })
}

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..4)
        .prop_map(|segments| segments.join("/"))
        .prop_filter("no leading space", |n| !n.starts_with(' '))
}

/// A location path: percent-encoded segments, as mod_zip origins write them.
fn location() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-zA-Z0-9._~%-]{1,10}", 1..4).prop_map(|s| format!("/{}", s.join("/")))
}

proptest! {
    #[test]
    fn rendered_lists_read_back(
        files in prop::collection::vec((prop::option::of(any::<u32>()), 0u64..1 << 30, location(), name()), 0..20),
        spaces in 1usize..4,
        crlf in any::<bool>(),
    ) {
        let gap = " ".repeat(spaces);
        let eol = if crlf { "\r\n" } else { "\n" };
        let body: String = files
            .iter()
            .map(|(crc, size, loc, name)| {
                let crc = crc.map_or("-".to_string(), |c| format!("{c:08x}"));
                format!("{crc}{gap}{size}{gap}{loc}{gap}{name}{eol}")
            })
            .collect();
        let manifest = parse(&body).expect("a rendered list is valid");
        prop_assert_eq!(manifest.entries.len(), files.len());
        prop_assert_eq!(invariant_violation(&manifest, &ManifestLimits::default()), None);
        for (i, (crc, size, _, _)) in files.iter().enumerate() {
            let s = source(&manifest, i);
            prop_assert_eq!(s.crc32, *crc);
            prop_assert_eq!(s.size, Some(*size));
            let url = url::Url::parse(&s.url).expect("url");
            prop_assert_eq!(url.host_str(), Some("files.example"));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzz_mod_zip(&body);
    }

    #[test]
    fn arbitrary_lines_never_panic(lines in prop::collection::vec("[-0-9a-fA-F@ /%+?#.a-z\\\\\r]{0,40}", 0..8), flags in any::<u8>()) {
        let mut data = vec![flags];
        data.extend_from_slice(lines.join("\n").as_bytes());
        fuzz_mod_zip(&data);
    }
}
