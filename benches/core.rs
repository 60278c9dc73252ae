//! The hot pure paths, without a socket: CRC-32, the layout of 100,000 entries (and a range at byte 1 of
//! it), parsing and validating a manifest of 100,000 entries, and verifying a signed link.
//!
//! `cargo bench --bench core`. Throughput is per byte for CRC-32 and per entry for the rest; the figures
//! are in the README's Performance table.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use zipper::core::keys::{KeyId, KeySet, Secret};
use zipper::core::layout::{EntryKind, EntrySpec, Method, Plan};
use zipper::core::link::{build_link_path, parse_path, verify, LinkPolicy};
use zipper::core::manifest::{parse_manifest, ManifestLimits};

const ENTRIES: usize = 100_000;
const TIMESTAMP: i64 = 1_554_674_400;

fn specs() -> Vec<EntrySpec> {
    (0..ENTRIES)
        .map(|i| EntrySpec {
            name: format!("photos/{:03}/IMG_{i:06}.jpg", i / 1000),
            modified_unix: TIMESTAMP,
            kind: EntryKind::File {
                size: Some(2_000_000 + i as u64),
                crc32: Some(0x1234_5678 ^ i as u32),
                method: Method::Store,
            },
        })
        .collect()
}

fn manifest_body() -> Vec<u8> {
    let files: Vec<serde_json::Value> = (0..ENTRIES)
        .map(|i| {
            serde_json::json!({
                "url": format!("https://cdn.example.com/photos/{i}.jpg?sig=abcdef0123456789"),
                "path": format!("photos/{:03}/IMG_{i:06}.jpg", i / 1000),
                "size": 2_000_000 + i,
                "crc32": format!("{:08x}", 0x1234_5678 ^ i as u32),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "files": files })).expect("manifest json")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("crc32");
    let data = vec![0xA5u8; 16 << 20];
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("crc32fast 16 MiB", |b| b.iter(|| crc32fast::hash(&data)));
    group.finish();

    let mut group = c.benchmark_group("layout");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.bench_function("plan 100,000 entries", |b| {
        b.iter_batched(
            specs,
            |s| Plan::new(s).expect("plan"),
            BatchSize::LargeInput,
        )
    });
    let plan = Plan::new(specs()).expect("plan");
    let layout = plan.layout().expect("known sizes have a layout");
    group.bench_function("pieces of bytes=1- over 100,000 entries", |b| {
        b.iter(|| layout.pieces(1, u64::MAX).len())
    });
    group.finish();

    let mut group = c.benchmark_group("manifest");
    group.sample_size(10);
    let body = manifest_body();
    let limits = ManifestLimits {
        max_entries: ENTRIES,
        max_total_bytes: u64::MAX,
    };
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.bench_function("parse and validate 100,000 entries", |b| {
        b.iter(|| parse_manifest(&body, TIMESTAMP, &limits).expect("valid manifest"))
    });
    group.finish();

    let mut group = c.benchmark_group("link");
    let key = KeyId::parse("0").expect("key id");
    let secret = Secret::new("bench-secret-0123456789abcdef").expect("secret");
    let mut keys = KeySet::new();
    keys.insert(key.clone(), secret.clone()).expect("key");
    let callback =
        format!("https://app.example.com/api/v1/downloads/9287/zip?timestamp={TIMESTAMP}");
    let path = build_link_path(&key, &secret, &callback, "photos.zip");
    let policy = LinkPolicy::default();
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse and verify a link", |b| {
        b.iter(|| {
            let parsed = parse_path(&path).expect("link");
            verify(&parsed, &keys, TIMESTAMP + 60, &policy).expect("valid link")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
