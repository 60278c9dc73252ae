//! Archives written by the zip engine (`zipstream` over a `Plan`) and checked by the real unarchivers.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use zipper::core::layout::{EntryKind, EntrySpec, Method, Plan, PlanOptions};
use zipper::zipstream::{write_to, zip_stream, BoxError, EntryBody};

use crate::util::{check_all_tools, check_unzip_names, Expected};

pub const MTIME: i64 = 1_554_674_400;

/// A file entry to write: its spec and a body made on demand.
pub struct Item {
    pub spec: EntrySpec,
    pub body: Option<Box<dyn FnOnce() -> EntryBody + Send>>,
    pub expected: Expected,
}

pub fn mem_file(
    name: &str,
    data: &[u8],
    size_known: bool,
    crc_known: bool,
    method: Method,
) -> Item {
    let crc = crc32fast::hash(data);
    let bytes = Bytes::copy_from_slice(data);
    Item {
        spec: EntrySpec {
            name: name.to_string(),
            modified_unix: MTIME,
            kind: EntryKind::File {
                size: size_known.then_some(data.len() as u64),
                crc32: crc_known.then_some(crc),
                method,
            },
        },
        // Split in two chunks so chunk boundaries are exercised.
        body: Some(Box::new(move || {
            let mid = bytes.len() / 2;
            let parts = vec![Ok(bytes.slice(..mid)), Ok(bytes.slice(mid..))];
            Box::pin(stream::iter(parts)) as EntryBody
        })),
        expected: Expected {
            name: name.to_string(),
            size: data.len() as u64,
            crc32: crc,
        },
    }
}

pub fn directory(name: &str) -> Item {
    Item {
        spec: EntrySpec {
            name: name.to_string(),
            modified_unix: MTIME,
            kind: EntryKind::Directory,
        },
        body: None,
        expected: Expected {
            name: name.to_string(),
            size: 0,
            crc32: 0,
        },
    }
}

/// Writes the archive to a temporary file; returns it, the expected listing and the plan's length.
async fn write_archive(
    items: Vec<Item>,
) -> (tempfile::NamedTempFile, Vec<Expected>, Option<u64>, u64) {
    write_archive_with(items, PlanOptions::default()).await
}

/// [`write_archive`] with planner options (the inline CRC threshold).
pub async fn write_archive_with(
    items: Vec<Item>,
    options: PlanOptions,
) -> (tempfile::NamedTempFile, Vec<Expected>, Option<u64>, u64) {
    let specs: Vec<EntrySpec> = items.iter().map(|i| i.spec.clone()).collect();
    let expected: Vec<Expected> = items.iter().map(|i| i.expected.clone()).collect();
    let plan = Arc::new(Plan::with_options(specs, options).expect("plan"));
    let bodies: Vec<Result<EntryBody, BoxError>> = items
        .into_iter()
        .filter_map(|i| i.body.map(|b| Ok(b())))
        .collect();
    let file = tempfile::Builder::new()
        .suffix(".zip")
        .tempfile()
        .expect("temp file");
    let mut out = tokio::io::BufWriter::with_capacity(
        1 << 20,
        tokio::fs::File::create(file.path()).await.expect("create"),
    );
    let planned = plan.total_len();
    let written = write_to(zip_stream(plan, stream::iter(bodies)), &mut out)
        .await
        .expect("archive written");
    (file, expected, planned, written)
}

#[tokio::test]
async fn small_mixed_archive_opens_everywhere() {
    let items = vec![
        mem_file("hello.txt", b"hello, world\n", true, true, Method::Store),
        mem_file(
            "no-crc.bin",
            &(0..=255u8).cycle().take(70_000).collect::<Vec<_>>(),
            true,
            false,
            Method::Store,
        ),
        mem_file("empty.txt", b"", true, false, Method::Store),
        directory("photos/"),
        directory("empty-folder/"),
        mem_file(
            "photos/été 2019/café ☕.jpg",
            b"not really a jpeg",
            true,
            false,
            Method::Store,
        ),
        mem_file(
            "photos/日本語/写真.png",
            b"\x89PNG fake",
            true,
            true,
            Method::Store,
        ),
        mem_file("emoji/🎉.txt", b"party", true, true, Method::Store),
    ];
    let (file, expected, planned, written) = write_archive(items).await;
    assert_eq!(
        planned,
        Some(written),
        "planned length equals produced length"
    );
    check_all_tools(file.path(), &expected);
}

#[tokio::test]
async fn streaming_entries_unknown_size_and_deflate_open_everywhere() {
    let text: Vec<u8> = b"the quick brown fox jumps over the lazy dog\n".repeat(5_000);
    let items = vec![
        mem_file(
            "unknown-size.bin",
            &(0..50_000u32)
                .map(|i| (i * 7 % 251) as u8)
                .collect::<Vec<_>>(),
            false,
            false,
            Method::Store,
        ),
        mem_file("deflated.txt", &text, true, false, Method::Deflate),
        mem_file(
            "deflated-unknown.txt",
            &text[..1000],
            false,
            false,
            Method::Deflate,
        ),
        mem_file("deflated-empty.txt", b"", false, false, Method::Deflate),
        mem_file(
            "deflated-crc.txt",
            b"abcabcabc",
            true,
            true,
            Method::Deflate,
        ),
        directory("d/"),
        mem_file("d/stored.txt", b"stored", true, true, Method::Store),
    ];
    let (file, expected, planned, written) = write_archive(items).await;
    assert_eq!(
        planned, None,
        "no exact length with unknown sizes or deflate"
    );
    assert!(
        written < text.len() as u64,
        "deflate compressed the text ({written} bytes)"
    );
    check_all_tools(file.path(), &expected);
}

/// Issue 14: non-ASCII names carry the Info-ZIP Unicode Path extra field (0x7075) in both headers, and every
/// reader lists the exact UTF-8 names, for entries of known layout and streamed ones alike.
#[tokio::test]
async fn unicode_path_names_list_exactly_everywhere() {
    let items = vec![
        directory("été/"),
        mem_file("été/日本語.txt", b"konnichiwa\n", true, true, Method::Store),
        mem_file("été/no-crc ☕.bin", b"coffee", true, false, Method::Store),
        mem_file("plain.txt", b"ascii", true, true, Method::Store),
    ];
    let names: Vec<String> = items.iter().map(|i| i.spec.name.clone()).collect();
    let (file, expected, planned, written) = write_archive(items).await;
    assert_eq!(
        planned,
        Some(written),
        "planned length equals produced length"
    );
    let bytes = std::fs::read(file.path()).expect("archive");
    for name in &names {
        // The field as it must appear: id, data size, version 1, CRC-32 of the header's name, UTF-8 name.
        let mut field = vec![0x75, 0x70];
        field.extend_from_slice(
            &u16::try_from(name.len() + 5)
                .expect("short name")
                .to_le_bytes(),
        );
        field.push(1);
        field.extend_from_slice(&crc32fast::hash(name.as_bytes()).to_le_bytes());
        field.extend_from_slice(name.as_bytes());
        let found = bytes
            .windows(field.len())
            .filter(|w| *w == &field[..])
            .count();
        let want = if name.is_ascii() { 0 } else { 2 };
        assert_eq!(found, want, "{name}: Unicode Path fields (local + central)");
    }
    check_unzip_names(file.path(), &expected);
    check_all_tools(file.path(), &expected);

    // Streamed entries (unknown size, deflate) carry the field too.
    let streamed = vec![
        mem_file(
            "日本語/streamed.bin",
            b"no size",
            false,
            false,
            Method::Store,
        ),
        mem_file(
            "été/deflated.txt",
            "été ".repeat(100).as_bytes(),
            true,
            false,
            Method::Deflate,
        ),
    ];
    let (file, expected, planned, _) = write_archive(streamed).await;
    assert_eq!(planned, None);
    check_unzip_names(file.path(), &expected);
    check_all_tools(file.path(), &expected);
}

// More than 65,535 entries: `readers::every_reader_reads_zip64_by_count_…` (every reader of the matrix).

/// A body of `len` bytes made of one repeated 1 MiB block (plus a tail), produced on the fly.
pub fn generated_body(len: u64) -> (EntryBody, u32) {
    let block: Bytes = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect::<Vec<_>>()
        .into();
    let full = len / block.len() as u64;
    let tail = (len % block.len() as u64) as usize;
    let mut hasher = crc32fast::Hasher::new();
    for _ in 0..full {
        hasher.update(&block);
    }
    hasher.update(&block[..tail]);
    let crc = hasher.finalize();
    let b2 = block.clone();
    let chunks = stream::iter((0..full).map(move |_| Ok::<_, BoxError>(block.clone())))
        .chain(stream::iter([Ok(b2.slice(..tail))]));
    (Box::pin(chunks), crc)
}

/// An entry over 4 GiB (ZIP64 sizes, CRC in a wide descriptor), followed by entries whose offsets are past
/// 4 GiB (ZIP64 offsets), streamed from a generator.
#[tokio::test]
async fn entry_over_4_gib_opens_everywhere() {
    let big: u64 = (4 << 30) + (1 << 20) + 17;
    let (body, crc) = generated_body(big);
    let mut body = Some(body);
    let items = vec![
        mem_file("before.txt", b"before", true, true, Method::Store),
        Item {
            spec: EntrySpec {
                name: "big/4gib+.bin".into(),
                modified_unix: MTIME,
                kind: EntryKind::File {
                    size: Some(big),
                    crc32: None,
                    method: Method::Store,
                },
            },
            body: Some(Box::new(move || body.take().expect("body once"))),
            expected: Expected {
                name: "big/4gib+.bin".into(),
                size: big,
                crc32: crc,
            },
        },
        mem_file(
            "after-known.txt",
            b"after, crc known",
            true,
            true,
            Method::Store,
        ),
        mem_file(
            "after-no-crc.txt",
            b"after, crc unknown",
            true,
            false,
            Method::Store,
        ),
        directory("after-dir/"),
    ];
    let (file, expected, planned, written) = write_archive(items).await;
    assert_eq!(planned, Some(written));
    assert!(written > big);
    check_all_tools(file.path(), &expected);
}

/// A deflated entry whose known size is over 4 GiB: ZIP64 extra of zeros in the local header and an
/// 8-byte data descriptor that agree, read by every tool (inflating 4 GiB each).
#[tokio::test]
async fn deflated_entry_over_4_gib_opens_everywhere() {
    let big: u64 = (4 << 30) + 4096;
    let (body, crc) = generated_body(big);
    let mut body = Some(body);
    let items = vec![
        Item {
            spec: EntrySpec {
                name: "big.deflated".into(),
                modified_unix: MTIME,
                kind: EntryKind::File {
                    size: Some(big),
                    crc32: None,
                    method: Method::Deflate,
                },
            },
            body: Some(Box::new(move || body.take().expect("body once"))),
            expected: Expected {
                name: "big.deflated".into(),
                size: big,
                crc32: crc,
            },
        },
        mem_file("after.txt", b"after", true, true, Method::Store),
    ];
    let (file, expected, planned, written) = write_archive(items).await;
    assert_eq!(planned, None);
    assert!(
        written < big / 10,
        "the repeated block compresses ({written} bytes)"
    );
    check_all_tools(file.path(), &expected);
}
