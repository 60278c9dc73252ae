//! Encoder throughput in store mode, from memory to a sink: the bound should be CRC-32 and nothing else.
//!
//! `cargo bench --bench encoder` reports bytes/s for the sans-I/O encoder alone and for the async
//! `zipstream` driver (what a download runs), over 16 files of 16 MiB passed in 1 MiB chunks.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::{stream, StreamExt};
use zipper::core::encoder::Encoder;
use zipper::core::layout::{EntryKind, EntrySpec, Method, Plan};
use zipper::zipstream::{zip_stream, BoxError, EntryBody};

const FILES: usize = 16;
const CHUNK: usize = 1 << 20;
const CHUNKS_PER_FILE: usize = 16;

fn plan(crc_known: Option<u32>) -> Plan {
    let specs = (0..FILES)
        .map(|i| EntrySpec {
            name: format!("photos/{i:04}.jpg"),
            modified_unix: 1_554_674_400,
            kind: EntryKind::File {
                size: Some((CHUNK * CHUNKS_PER_FILE) as u64),
                crc32: crc_known,
                method: Method::Store,
            },
        })
        .collect();
    Plan::new(specs).expect("plan")
}

fn bench(c: &mut Criterion) {
    let chunk: Bytes = (0..CHUNK)
        .map(|i| (i * 31 % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let total = (FILES * CHUNK * CHUNKS_PER_FILE) as u64;
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Bytes(total));
    group.sample_size(10);

    let sync_plan = plan(None);
    group.bench_function("encoder", |b| {
        b.iter(|| {
            let mut enc = Encoder::new(&sync_plan);
            let mut sink = 0usize;
            for _ in 0..FILES {
                sink += enc.begin_entry().expect("begin").len();
                for _ in 0..CHUNKS_PER_FILE {
                    enc.add_stored(&chunk).expect("data");
                    sink += chunk.len();
                }
                sink += enc.end_entry().expect("end").len();
            }
            sink += enc.finish().expect("finish").len();
            std::hint::black_box(sink)
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let async_plan = Arc::new(plan(None));
    group.bench_function("zipstream", |b| {
        b.iter(|| {
            let chunk = chunk.clone();
            let bodies = (0..FILES).map(move |_| {
                let chunk = chunk.clone();
                Ok::<EntryBody, BoxError>(Box::pin(stream::iter(
                    (0..CHUNKS_PER_FILE).map(move |_| Ok::<Bytes, BoxError>(chunk.clone())),
                )))
            });
            let s = zip_stream(Arc::clone(&async_plan), stream::iter(bodies));
            let n = rt.block_on(s.fold(0usize, |n, c| async move { n + c.expect("chunk").len() }));
            std::hint::black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
