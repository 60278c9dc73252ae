use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::json;

use super::*;
use crate::core::fuzzing::{fuzz_manifest, invariant_violation};
use crate::error::{Code, HasCode};

/// The link's timestamp of test vector of docs/contract.md, Signature.
const LINK_TIME: i64 = 1_554_674_400;

fn parse(body: &serde_json::Value) -> Result<Manifest, ManifestError> {
    parse_manifest(
        body.to_string().as_bytes(),
        LINK_TIME,
        &ManifestLimits::default(),
    )
}

fn parse_str(body: &str) -> Result<Manifest, ManifestError> {
    parse_manifest(body.as_bytes(), LINK_TIME, &ManifestLimits::default())
}

/// The error message for a manifest whose only file is `file`.
fn file_error(file: serde_json::Value) -> String {
    match parse(&json!({ "files": [file] })) {
        Ok(manifest) => panic!("accepted: {manifest:?}"),
        Err(error) => error.to_string(),
    }
}

/// The single file of a manifest whose only file is `file`.
fn single(file: serde_json::Value) -> Entry {
    let mut manifest = parse(&json!({ "files": [file] })).expect("valid");
    assert_eq!(manifest.entries.len(), 1);
    manifest.entries.remove(0)
}

fn source(entry: &Entry) -> &FileSource {
    match &entry.kind {
        EntryKind::File(source) => source,
        EntryKind::Directory => panic!("{} is a directory", entry.path),
    }
}

fn paths(manifest: &Manifest) -> Vec<&str> {
    manifest.entries.iter().map(|e| e.path.as_str()).collect()
}

const URL: &str = "https://cdn.example.com/a.jpg";

// === the contract's example ===

#[test]
fn the_contract_example_parses() {
    let body = json!({
        "filename": "photos.zip",
        "files": [
            { "url": URL, "path": "2019/a.jpg", "size": 123456, "crc32": "cbf43926",
              "modified": "2019-04-07T22:00:00Z", "compression": "store",
              "headers": { "Authorization": "Bearer x" } },
            { "path": "empty-folder/" }
        ]
    });
    let expected = Manifest {
        filename: Some("photos.zip".into()),
        entries: vec![
            Entry {
                path: "2019/a.jpg".into(),
                modified_unix: 1_554_674_400,
                kind: EntryKind::File(FileSource {
                    url: URL.into(),
                    size: Some(123_456),
                    crc32: Some(0xcbf4_3926),
                    compression: Compression::Store,
                    headers: vec![("authorization".into(), "Bearer x".into())],
                }),
            },
            Entry {
                path: "empty-folder/".into(),
                modified_unix: LINK_TIME,
                kind: EntryKind::Directory,
            },
        ],
        notify_url: None,
        renamed: vec![],
    };
    assert_eq!(parse(&body), Ok(expected));
}

#[test]
fn a_minimal_file_gets_the_defaults() {
    let entry = single(json!({ "url": URL, "path": "a.jpg" }));
    assert_eq!(
        entry,
        Entry {
            path: "a.jpg".into(),
            modified_unix: LINK_TIME,
            kind: EntryKind::File(FileSource {
                url: URL.into(),
                size: None,
                crc32: None,
                compression: Compression::Store,
                headers: vec![],
            }),
        }
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let body = json!({
        "version": 2, "extra": { "deep": [1, 2, { "x": null }] },
        "files": [{ "url": URL, "path": "a", "mode": 420, "owner": "root" }]
    });
    assert_eq!(paths(&parse(&body).expect("valid")), ["a"]);
}

#[test]
fn null_optional_fields_are_absent() {
    let body = json!({
        "filename": null,
        "files": [{ "url": URL, "path": "a", "size": null, "crc32": null, "modified": null,
                    "compression": null, "headers": null }]
    });
    let manifest = parse(&body).expect("valid");
    assert_eq!(manifest.filename, None);
    assert_eq!(
        manifest.entries[0],
        single(json!({ "url": URL, "path": "a" }))
    );
}

#[test]
fn an_empty_file_list_is_a_valid_empty_archive() {
    assert_eq!(
        parse(&json!({ "files": [] })),
        Ok(Manifest {
            filename: None,
            entries: vec![],
            notify_url: None,
            renamed: vec![],
        })
    );
}

// === filename ===

#[test]
fn filename_is_optional() {
    let manifest = parse(&json!({ "files": [] })).expect("valid");
    assert_eq!(manifest.filename, None);
}

#[test]
fn filename_is_sanitised_with_the_download_name_rule() {
    let manifest =
        parse(&json!({ "filename": "a/b\"c\\d\u{1}é.ZIP", "files": [] })).expect("valid");
    assert_eq!(manifest.filename.as_deref(), Some("a_b_c_d_é.ZIP"));
}

#[test]
fn filename_must_end_in_zip() {
    for name in ["photos", "photos.zip.tar", "", "zip", "photos.zi p"] {
        let error = parse(&json!({ "filename": name, "files": [] })).expect_err(name);
        assert_eq!(error.to_string(), "filename: must end in .zip", "{name}");
    }
}

#[test]
fn filename_must_be_a_short_string() {
    let error = parse(&json!({ "filename": 5, "files": [] })).expect_err("number");
    assert_eq!(error.to_string(), "filename: expected a string");
    let long = "a".repeat(MAX_FILENAME_BYTES - 3) + ".zip";
    let error = parse(&json!({ "filename": long, "files": [] })).expect_err("long");
    assert_eq!(error.to_string(), "filename: longer than 255 bytes");
    let fits = "a".repeat(MAX_FILENAME_BYTES - 4) + ".zip";
    assert!(parse(&json!({ "filename": fits, "files": [] })).is_ok());
}

// === files ===

#[test]
fn files_is_required() {
    assert_eq!(
        parse(&json!({ "filename": "a.zip" })),
        Err(ManifestError::MissingFiles)
    );
    assert_eq!(ManifestError::MissingFiles.to_string(), "files: missing");
}

#[test]
fn files_must_be_an_array_of_objects() {
    let error = parse(&json!({ "files": {} })).expect_err("object");
    assert!(
        error
            .to_string()
            .starts_with("files: expected an array at line 1 column "),
        "{error}"
    );
    let error = parse(&json!({ "files": [{ "url": URL, "path": "a" }, 5] })).expect_err("number");
    assert!(
        error
            .to_string()
            .starts_with("files[1]: expected an object at line 1 column "),
        "{error}"
    );
}

// === url ===

#[test]
fn url_is_required_for_a_file() {
    assert_eq!(file_error(json!({ "path": "a" })), "files[0].url: missing");
    assert_eq!(
        file_error(json!({ "path": "a", "url": null })),
        "files[0].url: missing"
    );
    assert_eq!(
        file_error(json!({ "path": "a", "url": 5 })),
        "files[0].url: expected a string"
    );
}

#[test]
fn url_must_be_absolute_http_or_https() {
    for url in [
        "/a.jpg",
        "a.jpg",
        "//cdn.example.com/a.jpg",
        "ftp://cdn.example.com/a.jpg",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "https://",
        "http:///a",
        "https:cdn.example.com/a.jpg",
        "https:\\\\cdn.example.com\\a.jpg",
        " https://cdn.example.com/a.jpg",
        "",
    ] {
        assert_eq!(
            file_error(json!({ "path": "a", "url": url })),
            "files[0].url: not an absolute http(s) URL",
            "{url}"
        );
    }
}

#[test]
fn the_error_names_the_entry_index() {
    let mut files: Vec<serde_json::Value> = (0..12)
        .map(|i| json!({ "url": URL, "path": format!("{i}.jpg") }))
        .collect();
    files.push(json!({ "url": "not a url", "path": "12.jpg" }));
    let error = parse(&json!({ "files": files })).expect_err("bad url");
    assert_eq!(
        error.to_string(),
        "files[12].url: not an absolute http(s) URL"
    );
    assert_eq!(
        error,
        ManifestError::Field {
            index: 12,
            field: Field::Url,
            problem: Problem::NotHttpUrl
        }
    );
}

#[test]
fn url_is_kept_normalised() {
    let entry = single(json!({ "path": "a", "url": "HTTP://CDN.Example.com:80/a b.jpg?x=1" }));
    assert_eq!(source(&entry).url, "http://cdn.example.com/a%20b.jpg?x=1");
}

// === path ===

#[test]
fn path_is_required_and_a_string() {
    assert_eq!(file_error(json!({ "url": URL })), "files[0].path: missing");
    assert_eq!(
        file_error(json!({ "url": URL, "path": ["a"] })),
        "files[0].path: expected a string"
    );
}

#[test]
fn path_is_normalised() {
    let entry = single(json!({ "url": URL, "path": ".\\2019//./april\\a.jpg" }));
    assert_eq!(entry.path, "2019/april/a.jpg");
}

#[test]
fn path_with_a_parent_segment_is_invalid() {
    assert_eq!(
        file_error(json!({ "url": URL, "path": "a/../../etc/passwd" })),
        "files[0].path: contains a '..' segment"
    );
    assert_eq!(
        file_error(json!({ "url": URL, "path": "a\\..\\b" })),
        "files[0].path: contains a '..' segment"
    );
}

#[test]
fn absolute_paths_are_invalid() {
    for path in ["/etc/passwd", "\\a", "C:\\a", "c:a"] {
        let error = file_error(json!({ "url": URL, "path": path }));
        assert!(
            error == "files[0].path: is an absolute path"
                || error == "files[0].path: starts with a Windows drive letter",
            "{path}: {error}"
        );
    }
}

#[test]
fn control_characters_in_a_path_are_invalid() {
    for path in ["a\u{0}b", "a\nb", "a\u{1b}[31m"] {
        assert_eq!(
            file_error(json!({ "url": URL, "path": path })),
            "files[0].path: contains a control character",
            "{path:?}"
        );
    }
}

#[test]
fn a_path_over_65535_bytes_is_invalid() {
    let path = "a".repeat(65_536);
    assert_eq!(
        file_error(json!({ "url": URL, "path": path })),
        "files[0].path: is 65536 bytes long, over the limit of 65535"
    );
    let path = "a".repeat(65_535);
    assert_eq!(
        single(json!({ "url": URL, "path": path })).path.len(),
        65_535
    );
}

#[test]
fn an_empty_path_is_invalid() {
    assert_eq!(
        file_error(json!({ "url": URL, "path": "./" })),
        "files[0].path: is empty once '.' and empty segments are dropped"
    );
}

// === directories ===

#[test]
fn a_path_ending_in_slash_without_url_is_a_directory() {
    let entry = single(json!({ "path": "a\\b\\", "modified": "2020-01-01T00:00:00Z" }));
    assert_eq!(
        entry,
        Entry {
            path: "a/b/".into(),
            modified_unix: 1_577_836_800,
            kind: EntryKind::Directory,
        }
    );
}

#[test]
fn a_directory_with_a_url_is_invalid() {
    assert_eq!(
        file_error(json!({ "path": "a/", "url": URL })),
        "files[0].url: not allowed on a directory (a path ending in '/')"
    );
}

#[test]
fn a_directory_ignores_the_file_fields() {
    let entry = single(
        json!({ "path": "d/", "size": "x", "crc32": 1, "compression": "zstd",
                               "headers": [] }),
    );
    assert_eq!(entry.kind, EntryKind::Directory);
}

// === size ===

#[test]
fn size_is_a_u64() {
    assert_eq!(
        source(&single(json!({ "url": URL, "path": "a", "size": 0 }))).size,
        Some(0)
    );
    let max = json!({ "url": URL, "path": "a", "size": u64::MAX });
    let body = json!({ "files": [max] }).to_string();
    let limits = ManifestLimits {
        max_total_bytes: u64::MAX,
        ..ManifestLimits::default()
    };
    let manifest = parse_manifest(body.as_bytes(), LINK_TIME, &limits).expect("valid");
    assert_eq!(source(&manifest.entries[0]).size, Some(u64::MAX));
}

#[test]
fn size_must_be_a_non_negative_integer() {
    for size in [json!(-1), json!(1.5), json!(1.0), json!("12"), json!(true)] {
        assert_eq!(
            file_error(json!({ "url": URL, "path": "a", "size": size })),
            "files[0].size: expected an integer from 0 to 18446744073709551615",
            "{size}"
        );
    }
    let body = r#"{"files":[{"url":"https://x.example/","path":"a","size":18446744073709551616}]}"#;
    assert_eq!(
        parse_str(body).expect_err("too big").to_string(),
        "files[0].size: expected an integer from 0 to 18446744073709551615"
    );
}

// === crc32 ===

#[test]
fn crc32_is_eight_hex_digits_in_either_case() {
    for (text, value) in [
        ("cbf43926", 0xcbf4_3926),
        ("CBF43926", 0xcbf4_3926),
        ("00000000", 0),
    ] {
        let entry = single(json!({ "url": URL, "path": "a", "crc32": text }));
        assert_eq!(source(&entry).crc32, Some(value), "{text}");
    }
}

#[test]
fn crc32_of_another_shape_is_invalid() {
    for crc in [
        json!("cbf4392"),
        json!("cbf439260"),
        json!("+bf43926"),
        json!("0xf43926"),
        json!("cbf4392g"),
        json!(" bf43926"),
        json!(""),
        json!(3_421_780_262_u32),
    ] {
        assert_eq!(
            file_error(json!({ "url": URL, "path": "a", "crc32": crc })),
            "files[0].crc32: expected a string of 8 hex digits",
            "{crc}"
        );
    }
}

// === modified ===

#[test]
fn modified_is_rfc3339_in_unix_seconds() {
    for (text, unix) in [
        ("2019-04-07T22:00:00Z", 1_554_674_400),
        ("2019-04-08T00:00:00+02:00", 1_554_674_400),
        ("2019-04-07t22:00:00.999z", 1_554_674_400),
        // RFC 3339 §5.6 allows a space for the 'T'.
        ("2019-04-07 22:00:00Z", 1_554_674_400),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59Z", -1),
        ("9999-12-31T23:59:59Z", 253_402_300_799),
    ] {
        let entry = single(json!({ "url": URL, "path": "a", "modified": text }));
        assert_eq!(entry.modified_unix, unix, "{text}");
    }
}

#[test]
fn modified_defaults_to_the_link_timestamp() {
    let body = json!({ "files": [{ "url": URL, "path": "a" }, { "path": "d/" }] }).to_string();
    let manifest = parse_manifest(body.as_bytes(), 42, &ManifestLimits::default()).expect("valid");
    assert!(manifest.entries.iter().all(|e| e.modified_unix == 42));
}

#[test]
fn modified_of_another_shape_is_invalid() {
    for modified in [
        json!("2019-04-07"),
        json!("2019-04-07T22:00:00"),
        json!("Sun, 07 Apr 2019 22:00:00 GMT"),
        json!("2019-02-30T00:00:00Z"),
        json!(1_554_674_400),
    ] {
        assert_eq!(
            file_error(json!({ "url": URL, "path": "a", "modified": modified })),
            "files[0].modified: expected an RFC 3339 date-time such as \"2019-04-07T22:00:00Z\"",
            "{modified}"
        );
    }
}

// === compression ===

#[test]
fn compression_is_store_or_deflate() {
    let of = |c: serde_json::Value| {
        source(&single(
            json!({ "url": URL, "path": "a", "compression": c }),
        ))
        .compression
    };
    assert_eq!(of(json!("store")), Compression::Store);
    assert_eq!(of(json!("deflate")), Compression::Deflate);
    for bad in [json!("Deflate"), json!("zstd"), json!(""), json!(8)] {
        assert_eq!(
            file_error(json!({ "url": URL, "path": "a", "compression": bad })),
            "files[0].compression: expected \"store\" or \"deflate\"",
            "{bad}"
        );
    }
}

// === headers ===

#[test]
fn headers_are_lower_cased_and_sorted() {
    let entry = single(json!({ "url": URL, "path": "a",
        "headers": { "X-Token": "t", "Authorization": "Bearer x", "cookie": "a=b" } }));
    assert_eq!(
        source(&entry).headers,
        [
            ("authorization".to_owned(), "Bearer x".to_owned()),
            ("cookie".to_owned(), "a=b".to_owned()),
            ("x-token".to_owned(), "t".to_owned()),
        ]
    );
}

#[test]
fn hop_by_hop_and_framing_headers_are_refused() {
    for name in [
        "Host",
        "Range",
        "Content-Length",
        "Connection",
        "Transfer-Encoding",
        "TE",
        "Upgrade",
        "Keep-Alive",
        "Proxy-Authorization",
        "If-Range",
        "If-None-Match",
        "Accept-Encoding",
        "Expect",
    ] {
        assert_eq!(
            file_error(json!({ "url": URL, "path": "a", "headers": { name: "x" } })),
            format!(
                "files[0].headers.{}: may not be set by a manifest",
                name.to_ascii_lowercase()
            ),
        );
    }
}

#[test]
fn header_names_and_values_must_be_valid() {
    assert_eq!(
        file_error(json!({ "url": URL, "path": "a", "headers": { "bad name": "x" } })),
        "files[0].headers: contains an invalid header name"
    );
    assert_eq!(
        file_error(json!({ "url": URL, "path": "a", "headers": { "": "x" } })),
        "files[0].headers: contains an invalid header name"
    );
    let error = file_error(json!({ "url": URL, "path": "a",
        "headers": { "Authorization": "secret\r\nX-Evil: 1" } }));
    assert_eq!(
        error,
        "files[0].headers.authorization: invalid header value"
    );
    assert!(!error.contains("secret"), "values are never echoed");
    assert_eq!(
        file_error(json!({ "url": URL, "path": "a", "headers": { "a": 1 } })),
        "files[0].headers.a: expected a string"
    );
}

#[test]
fn a_header_given_twice_is_invalid() {
    assert_eq!(
        file_error(json!({ "url": URL, "path": "a", "headers": { "Cookie": "a", "cookie": "b" } })),
        "files[0].headers.cookie: given more than once"
    );
    // The same key twice in the JSON object is caught too (not silently overwritten).
    let body = r#"{"files":[{"url":"https://x.example/","path":"a","headers":{"a":"1","a":"2"}}]}"#;
    assert_eq!(
        parse_str(body).expect_err("dup").to_string(),
        "files[0].headers.a: given more than once"
    );
}

#[test]
fn headers_must_be_an_object() {
    for headers in [json!([]), json!("a: b"), json!(1), json!(true)] {
        assert_eq!(
            file_error(json!({ "url": URL, "path": "a", "headers": headers })),
            "files[0].headers: expected an object",
            "{headers}"
        );
    }
}

// === duplicates ===

#[test]
fn duplicate_names_are_renamed_deterministically() {
    let body = json!({ "files": [
        { "url": URL, "path": "a.txt" },
        { "url": URL, "path": "./a.txt" },
        { "url": URL, "path": "a.tar.gz" },
        { "url": URL, "path": "a.tar.gz" },
        { "url": URL, "path": "README" },
        { "url": URL, "path": "README" },
        { "url": URL, "path": "a (1).txt" },
    ]});
    let manifest = parse(&body).expect("valid");
    assert_eq!(
        paths(&manifest),
        [
            "a.txt",
            "a (2).txt",
            "a.tar.gz",
            "a.tar (1).gz",
            "README",
            "README (1)",
            "a (1).txt"
        ]
    );
    assert_eq!(parse(&body), Ok(manifest.clone()));
    let renamed: Vec<(usize, &str, &str)> = manifest
        .renamed
        .iter()
        .map(|r| (r.index, r.path.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        renamed,
        [
            (1, "a.txt", "a (2).txt"),
            (3, "a.tar.gz", "a.tar (1).gz"),
            (5, "README", "README (1)"),
        ],
        "the renames name the manifest index, the asked-for (normalised) path and the archive name"
    );
}

// === notify_url ===

#[test]
fn notify_url_is_optional_and_an_absolute_http_url() {
    let with = |v: serde_json::Value| parse(&json!({ "notify_url": v, "files": [] }));
    assert_eq!(
        parse(&json!({ "files": [] })).expect("valid").notify_url,
        None
    );
    assert_eq!(with(json!(null)).expect("null is absent").notify_url, None);
    assert_eq!(
        with(json!("HTTPS://App.Example/reports/1?k=v"))
            .expect("valid")
            .notify_url
            .as_deref(),
        Some("https://app.example/reports/1?k=v")
    );
    for (bad, message) in [
        (json!(7), "notify_url: expected a string"),
        (
            json!("ftp://a.example/r"),
            "notify_url: not an absolute http(s) URL",
        ),
        (
            json!("https:a.example/r"),
            "notify_url: not an absolute http(s) URL",
        ),
        (
            json!("/reports/1"),
            "notify_url: not an absolute http(s) URL",
        ),
        (
            json!(format!(
                "https://a.example/{}",
                "x".repeat(MAX_NOTIFY_URL_BYTES)
            )),
            "notify_url: longer than 8192 bytes",
        ),
    ] {
        assert_eq!(with(bad).expect_err(message).to_string(), message);
    }
    let twice =
        r#"{"notify_url":"https://a.example/","notify_url":"https://b.example/","files":[]}"#;
    assert!(parse_str(twice)
        .expect_err("duplicate")
        .to_string()
        .starts_with("manifest: duplicate field `notify_url`"));
}

#[test]
fn a_file_clobbered_by_a_directory_is_renamed() {
    let body = json!({ "files": [
        { "url": URL, "path": "photos" },
        { "url": URL, "path": "photos/a.jpg" },
    ]});
    assert_eq!(
        paths(&parse(&body).expect("valid")),
        ["photos (1)", "photos/a.jpg"]
    );
}

#[test]
fn an_unrenameable_duplicate_is_invalid() {
    let long = "a".repeat(65_533);
    let body = json!({ "files": [{ "url": URL, "path": long }, { "url": URL, "path": long }] });
    assert_eq!(
        parse(&body).expect_err("too long").to_string(),
        "files[1].path: duplicate name that cannot be renamed within 65535 bytes"
    );
}

// === limits ===

fn with_limits(
    files: usize,
    size: Option<u64>,
    limits: &ManifestLimits,
) -> Result<Manifest, ManifestError> {
    let files: Vec<_> = (0..files)
        .map(|i| match size {
            Some(size) => json!({ "url": URL, "path": i.to_string(), "size": size }),
            None => json!({ "url": URL, "path": i.to_string() }),
        })
        .collect();
    let body = json!({ "files": files }).to_string();
    parse_manifest(body.as_bytes(), LINK_TIME, limits)
}

#[test]
fn the_entry_limit_is_enforced() {
    let limits = ManifestLimits {
        max_entries: 3,
        ..ManifestLimits::default()
    };
    assert_eq!(
        with_limits(3, None, &limits).map(|m| m.entries.len()),
        Ok(3)
    );
    let error = with_limits(4, None, &limits).expect_err("4 > 3");
    assert_eq!(error, ManifestError::TooManyEntries { max: 3 });
    assert_eq!(error.to_string(), "files: more than 3 entries");
}

#[test]
fn the_default_limits_are_the_contracts() {
    assert_eq!(
        ManifestLimits::default(),
        ManifestLimits {
            max_entries: 100_000,
            max_total_bytes: 1_099_511_627_776
        }
    );
}

#[test]
fn the_total_size_limit_counts_known_sizes() {
    let limits = ManifestLimits {
        max_entries: 100,
        max_total_bytes: 300,
    };
    assert!(with_limits(3, Some(100), &limits).is_ok());
    assert_eq!(
        with_limits(4, Some(100), &limits)
            .expect_err("400 > 300")
            .to_string(),
        "files[3].size: the sizes add up to more than 300 bytes"
    );
    // Files without a size do not count.
    assert!(with_limits(50, None, &limits).is_ok());
}

#[test]
fn the_total_size_cannot_overflow() {
    let body = json!({ "files": [
        { "url": URL, "path": "a", "size": u64::MAX },
        { "url": URL, "path": "b", "size": 1 },
    ]})
    .to_string();
    let limits = ManifestLimits {
        max_total_bytes: u64::MAX,
        ..ManifestLimits::default()
    };
    assert_eq!(
        parse_manifest(body.as_bytes(), LINK_TIME, &limits)
            .expect_err("overflow")
            .to_string(),
        "files[1].size: the sizes add up to more than 18446744073709551615 bytes"
    );
}

// === cost: linear in the body ===

#[test]
fn many_duplicates_parse_and_dedupe_in_linear_time() {
    let file = format!(r#"{{"url":"{URL}","path":"a.txt","size":1}},"#);
    let mut body = format!(r#"{{"files":[{}"#, file.repeat(20_000));
    body.pop();
    body.push_str("]}");
    let manifest = parse_str(&body).expect("valid");
    assert_eq!(manifest.entries.len(), 20_000);
    assert_eq!(manifest.entries[0].path, "a.txt");
    assert_eq!(manifest.entries[19_999].path, "a (19999).txt");
}

#[test]
fn two_deep_paths_parse_in_linear_time() {
    // 30,000 segments, 59,999 bytes: within the name limit.
    let deep = vec!["d"; 30_000].join("/");
    let body = json!({ "files": [
        { "url": URL, "path": deep },
        { "path": format!("{deep}/") },
    ]});
    let manifest = parse(&body).expect("valid");
    assert_eq!(manifest.entries[0].path, format!("{deep} (1)"));
    assert_eq!(manifest.entries[1].path, format!("{deep}/"));
}

#[test]
fn a_huge_value_of_the_wrong_type_is_skipped_not_kept() {
    // `"size": [0, 0, …]` used to become a `serde_json::Value` of 24 bytes per element before validation.
    let zeros = vec!["0"; 1_000_000].join(",");
    let body = format!(
        r#"{{"files":[{{"url":"{URL}","path":"a","size":[{zeros}],"extra":{{"x":[{zeros}]}}}}]}}"#
    );
    assert_eq!(
        parse_str(&body)
            .expect_err("an array is not a size")
            .to_string(),
        "files[0].size: expected an integer from 0 to 18446744073709551615"
    );
}

// === malformed JSON ===

#[test]
fn malformed_json_names_the_line_and_column() {
    let error = parse_str("{\n  \"files\": [\n    {\"url\": }\n  ]\n}").expect_err("bad json");
    assert_eq!(
        error.to_string(),
        "files[0]: invalid JSON: expected value at line 3 column 13"
    );
    assert!(matches!(
        error,
        ManifestError::Json {
            line: 3,
            column: 13,
            ..
        }
    ));
}

#[test]
fn bodies_that_are_not_a_manifest_object_are_invalid() {
    for (body, message) in [
        (
            "",
            "invalid JSON: EOF while parsing a value at line 1 column 0",
        ),
        ("[]", "manifest: expected an object at line 1 column 0"),
        ("null", "manifest: expected an object at line 1 column 4"),
        (
            r#"{"files":[]} x"#,
            "invalid JSON: trailing characters at line 1 column 14",
        ),
        (
            r#"{"files":[],"files":[]}"#,
            "manifest: duplicate field `files` at line 1 column 19",
        ),
        (
            r#"{"files":[{"path":"a","path":"b"}]}"#,
            "files[0]: duplicate field `path` at line 1 column 28",
        ),
        (
            "\u{feff}{\"files\":[]}",
            "invalid JSON: expected value at line 1 column 1",
        ),
    ] {
        let error = parse_str(body).expect_err(body);
        assert_eq!(error.to_string(), message, "{body:?}");
    }
}

/// A value that stands for a credential: no error message may ever contain it.
const SECRET: &str = "tok3n-SECRET-9f2c";

#[test]
fn a_value_of_the_wrong_type_is_named_by_place_not_quoted() {
    let body = format!(r#"{{"files":["https://cdn/x?token={SECRET}"]}}"#);
    let error = parse_str(&body).expect_err("a string is not a file");
    assert_eq!(
        error.to_string(),
        "files[0]: expected an object at line 1 column 49"
    );
}

#[test]
fn no_error_message_contains_a_value_from_the_body() {
    let url = format!("https://cdn.example.com/x?token={SECRET}");
    let s = SECRET;
    let bodies = [
        format!(r#""{url}""#),
        format!(r#"["{url}"]"#),
        format!(r#"{{"files":"{url}"}}"#),
        format!(r#"{{"files":{{"a":"{url}"}}}}"#),
        format!(r#"{{"files":["{url}"]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a"}}, -{s}]}}"#),
        format!(r#"{{"filename":"{s}","files":[]}}"#),
        format!(r#"{{"filename":["{s}"],"files":[]}}"#),
        format!(r#"{{"filename":"{url}.zip","filename":"{s}","files":[]}}"#),
        format!(r#"{{"files":[],"files":["{url}"]}}"#),
        format!(r#"{{"files":[{{"url":"{url}"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"../{s}"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"/{s}"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"{s}\u0000"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":["{s}"]}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"{s}/"}}]}}"#),
        format!(r#"{{"files":[{{"url":"ftp://{s}/","path":"a"}}]}}"#),
        format!(r#"{{"files":[{{"url":"https:{s}","path":"a"}}]}}"#),
        format!(r#"{{"files":[{{"url":{{"u":"{url}"}},"path":"a"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","url":"{url}","path":"a"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","size":"{s}"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","size":-1}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","crc32":"{s}"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","modified":"{s}"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","compression":"{s}"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","headers":"{s}"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","headers":{{"a b":"{s}"}}}}]}}"#),
        format!(
            r#"{{"files":[{{"url":"{url}","path":"a","headers":{{"authorization":["{s}"]}}}}]}}"#
        ),
        format!(
            r#"{{"files":[{{"url":"{url}","path":"a","headers":{{"authorization":"{s}\n"}}}}]}}"#
        ),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","headers":{{"host":"{s}"}}}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","headers":{{"A":"{s}","a":"{s}"}}}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a","size":1e999}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}","path":"a\q{s}"}}]}}"#),
        format!(r#"{{"files":[{{"url":"{url}",]}}"#),
        format!(r#"{{"files":[{{"url":"{url}""#),
        format!(r#"{{"files":[{{"url":"{url}"}}]}} "{s}""#),
    ];
    let limits = ManifestLimits {
        max_entries: 1,
        max_total_bytes: 10,
    };
    let too_many =
        format!(r#"{{"files":[{{"url":"{url}","path":"a"}},{{"url":"{url}","path":"{s}"}}]}}"#);
    let too_big = format!(r#"{{"files":[{{"url":"{url}","path":"{s}","size":11}}]}}"#);
    let mut errors: Vec<ManifestError> = bodies
        .iter()
        .map(|body| parse_str(body).expect_err(body))
        .collect();
    for body in [too_many, too_big] {
        errors.push(parse_manifest(body.as_bytes(), LINK_TIME, &limits).expect_err(&body));
    }
    for error in errors {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains("cdn.example.com"), "{shown}");
    }
}

#[test]
fn every_error_is_invalid_manifest() {
    let errors = [
        parse_str("{").expect_err("json"),
        ManifestError::MissingFiles,
        ManifestError::TooManyEntries { max: 1 },
        ManifestError::Filename {
            problem: Problem::NotZip,
        },
        ManifestError::Field {
            index: 0,
            field: Field::Url,
            problem: Problem::NotHttpUrl,
        },
    ];
    for error in errors {
        assert_eq!(error.code(), Code::InvalidManifest, "{error}");
        assert_eq!(crate::error::to_response_parts(&error).0.as_u16(), 502);
    }
}

#[test]
fn the_fuzz_logic_accepts_valid_and_invalid_bodies() {
    fuzz_manifest(b"");
    fuzz_manifest(b"{\"files\":[{\"path\":\"a\",\"url\":\"http://x/\"},{\"path\":\"a\",\"url\":\"http://x/\"}]}");
}

// === properties ===

/// Manifests from a small alphabet of paths, so that duplicates, clobbering and refusals are common.
fn manifest_json() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        6 => Just("a"),
        6 => Just("a.txt"),
        3 => Just("a (1).txt"),
        6 => Just("b"),
        1 => Just("."),
        1 => Just(".."),
        1 => Just(""),
        1 => Just("C:"),
    ];
    let path = (
        prop::collection::vec(segment, 1..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(segments, backslash, dir)| {
            let joined = segments.join(if backslash { "\\" } else { "/" });
            (if dir { joined + "/" } else { joined }, dir)
        });
    // Mostly files with a url and directories without one; sometimes the wrong way round.
    let file = (
        path,
        prop::bool::weighted(0.05),
        prop::option::of(0u64..600),
    )
        .prop_map(|((path, dir), wrong, size)| {
            let mut file = json!({ "path": path });
            if dir == wrong {
                file["url"] = json!("https://cdn.example.com/f");
            }
            if let Some(size) = size {
                file["size"] = json!(size);
            }
            file
        });
    prop::collection::vec(file, 0..24).prop_map(|files| json!({ "files": files }).to_string())
}

const PROPERTY_LIMITS: ManifestLimits = ManifestLimits {
    max_entries: 20,
    max_total_bytes: 5_000,
};

#[test]
fn the_manifest_strategy_gives_valid_and_invalid_manifests() {
    // Guards the property below against a strategy that only ever produces invalid manifests.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = manifest_json();
    let mut valid = 0;
    for _ in 0..500 {
        let body = strategy.new_tree(&mut runner).expect("tree").current();
        if parse_manifest(body.as_bytes(), LINK_TIME, &PROPERTY_LIMITS).is_ok() {
            valid += 1;
        }
    }
    assert!((50..450).contains(&valid), "{valid} of 500 valid");
}

proptest! {
    #[test]
    fn valid_manifests_keep_every_invariant(body in manifest_json()) {
        let limits = PROPERTY_LIMITS;
        let first = parse_manifest(body.as_bytes(), LINK_TIME, &limits);
        if let Ok(manifest) = &first {
            prop_assert_eq!(invariant_violation(manifest, &limits), None);
            for entry in &manifest.entries {
                prop_assert!(!entry.path.split('/').any(|s| s == ".."));
                prop_assert!(!entry.path.starts_with('/'));
            }
        }
        // Deterministic: the same body gives the same answer.
        prop_assert_eq!(&first, &parse_manifest(body.as_bytes(), LINK_TIME, &limits));
    }

    #[test]
    fn the_canonical_json_parses_back_to_the_same_manifest(body in manifest_json(), other_time in any::<u32>()) {
        let limits = PROPERTY_LIMITS;
        if let Ok(manifest) = parse_manifest(body.as_bytes(), LINK_TIME, &limits) {
            let json = to_canonical_json(&manifest).expect("writable");
            // Whatever the link's timestamp: every entry carries its time.
            let again = parse_manifest(&json, i64::from(other_time), &limits);
            // The canonical form carries the de-duplicated names, so nothing is renamed on the way back.
            let mut expected = manifest.clone();
            expected.renamed.clear();
            prop_assert_eq!(again.as_ref(), Ok(&expected));
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzz_manifest(&body);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        fuzz_manifest(value.to_string().as_bytes());
        fuzz_manifest(json!({ "files": [value] }).to_string().as_bytes());
    }
}

/// Arbitrary JSON values, biased towards the manifest's keys.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-z/.\\\\:]{0,8}".prop_map(serde_json::Value::from),
        Just(json!("https://cdn.example.com/x")),
        Just(json!("cbf43926")),
        Just(json!("2019-04-07T22:00:00Z")),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        let key = prop_oneof![
            Just("files".to_owned()),
            Just("filename".to_owned()),
            Just("url".to_owned()),
            Just("path".to_owned()),
            Just("size".to_owned()),
            Just("crc32".to_owned()),
            Just("modified".to_owned()),
            Just("compression".to_owned()),
            Just("headers".to_owned()),
            "[A-Za-z-]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn the_canonical_json_of_the_contract_example_round_trips() {
    let body = json!({
        "filename": "photos.zip",
        "files": [
            { "url": URL, "path": "2019\\a.jpg", "size": 123456, "crc32": "CBF43926",
              "modified": "2019-04-07T23:00:00+01:00", "compression": "deflate",
              "headers": { "X-B": "2", "Authorization": "Bearer x" } },
            { "url": URL, "path": "2019/a.jpg" },
            { "path": "empty-folder/" },
        ]
    });
    let manifest = parse(&body).expect("valid");
    assert_eq!(manifest.renamed.len(), 1, "the second a.jpg is renamed");
    let json = to_canonical_json(&manifest).expect("writable");
    // The canonical form carries the de-duplicated names: nothing is renamed on the way back.
    let mut expected = manifest;
    expected.renamed.clear();
    assert_eq!(
        parse_manifest(&json, 0, &ManifestLimits::default()),
        Ok(expected)
    );
    // A time a manifest cannot write is not written.
    let far = Manifest {
        filename: None,
        notify_url: None,
        renamed: Vec::new(),
        entries: vec![Entry {
            path: "a".into(),
            modified_unix: 400_000_000_000,
            kind: EntryKind::Directory,
        }],
    };
    assert_eq!(to_canonical_json(&far), None);
}
