//! The planner and offset map under arbitrary entry lists and ranges (`fuzz/fuzz_targets/layout.rs`).

use crate::core::encoder::encode_stored_in_memory;
use crate::core::layout::{EntryKind, EntrySpec, Method, Plan, PlanOptions, SegmentKind};
use crate::core::spec::ZIP64_BYTES_THRESHOLD;

/// Fuzz logic for `fuzz/fuzz_targets/layout.rs`: decodes entries and ranges from raw bytes, plans, and
/// checks the invariants (no panic; segments tile the archive; pieces cover exactly the range asked; every
/// record renders to its planned length; small archives encode to exactly the planned bytes and the offset
/// map reproduces them). Panics on a broken invariant, which is what the fuzzer looks for.
pub fn fuzz_layout(data: &[u8]) {
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let mut specs = Vec::new();
    let mut contents: Vec<Vec<u8>> = Vec::new();
    while let (Some(kind), Some(a), Some(b)) = (next(), next(), next()) {
        if specs.len() >= 64 {
            break;
        }
        let name_len = usize::from(a % 8);
        // Bit 3 of `a` mixes in non-ASCII characters (their headers carry the Unicode Path extra field).
        let name: String = (0..name_len)
            .map(|i| match b.wrapping_add(i as u8) % 26 {
                0 if a & 0x08 != 0 => 'é',
                1 if a & 0x08 != 0 => '日',
                c => char::from(b'a' + c),
            })
            .collect();
        let size = match kind % 4 {
            0 => u64::from(b),
            1 => ZIP64_BYTES_THRESHOLD - 2 + u64::from(b % 4),
            2 => u64::from(a) << 24 | u64::from(b) << 8,
            _ => 0,
        };
        let entry_kind = if kind & 0x80 != 0 {
            EntryKind::Directory
        } else {
            EntryKind::File {
                size: (kind & 0x40 == 0).then_some(size),
                crc32: (kind & 0x20 != 0).then_some(u32::from(b)),
                method: if kind & 0x10 != 0 {
                    Method::Deflate
                } else {
                    Method::Store
                },
            }
        };
        let len = if matches!(entry_kind, EntryKind::Directory) {
            0
        } else {
            size.min(256)
        };
        contents.push((0..len).map(|i| (i as u8) ^ b).collect());
        specs.push(EntrySpec {
            name,
            modified_unix: i64::from(a) * 1_000_000_007 - 100_000_000_000,
            kind: entry_kind,
        });
    }
    // Inline CRC mode for small stored files without a CRC, or not, mixed with every other layout.
    let options = PlanOptions {
        inline_crc_max_bytes: if data.len() % 2 == 0 { 128 } else { 0 },
    };
    let Ok(plan) = Plan::with_options(specs, options) else {
        return;
    };
    let Some(layout) = plan.layout() else {
        return;
    };
    let mut at = 0;
    for seg in layout.segments() {
        assert_eq!(seg.start, at, "segments tile the archive");
        assert!(seg.len > 0);
        at += seg.len;
        if !matches!(seg.kind, SegmentKind::Data(_)) {
            let mut out = Vec::new();
            plan.render_segment(seg.kind, &|_| Some(0x1234_5678), &mut out)
                .expect("known layout renders");
            assert_eq!(
                out.len() as u64,
                seg.len,
                "{:?} renders to its planned length",
                seg.kind
            );
        }
    }
    assert_eq!(at, layout.total_len());
    let total = layout.total_len();
    let (x, y) = (next().unwrap_or(0), next().unwrap_or(0));
    let start = total / 256 * u64::from(x);
    let end = start + (total - start) / 256 * u64::from(y);
    let pieces = layout.pieces(start, end);
    assert_eq!(
        pieces.iter().map(|p| p.len).sum::<u64>(),
        end.saturating_sub(start)
    );
    // Small archives: encode for real and compare with the offset map.
    if plan.entries().iter().all(|e| e.size().unwrap_or(0) <= 256) {
        encoded_bytes_match_the_offset_map(&plan, options, &contents, x, y);
    }
}

/// Encodes a small archive for real, with contents matching its declared sizes and CRCs, and checks that
/// the offset map reproduces the bytes of the range `x`, `y` pick.
fn encoded_bytes_match_the_offset_map(
    plan: &Plan,
    options: PlanOptions,
    contents: &[Vec<u8>],
    x: u8,
    y: u8,
) {
    // Contents must match the declared sizes and CRCs: rebuild the plan with the real CRCs.
    let refs: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
    let specs: Vec<EntrySpec> = plan
        .entries()
        .iter()
        .zip(&refs)
        .map(|(e, c)| EntrySpec {
            name: e.name.clone(),
            modified_unix: e.modified_unix,
            kind: match e.kind {
                EntryKind::Directory => EntryKind::Directory,
                EntryKind::File { crc32, .. } => EntryKind::File {
                    size: Some(c.len() as u64),
                    crc32: crc32.map(|_| crc32fast::hash(c)),
                    method: Method::Store,
                },
            },
        })
        .collect();
    let Ok(plan) = Plan::with_options(specs, options) else {
        return;
    };
    let bytes = encode_stored_in_memory(&plan, &refs).expect("encodes");
    let Some(layout) = plan.layout() else {
        return;
    };
    assert_eq!(bytes.len() as u64, layout.total_len());
    let total = layout.total_len();
    let start = total / 256 * u64::from(x);
    let end = start + (total - start) / 256 * u64::from(y);
    let mut got = Vec::new();
    for p in layout.pieces(start, end) {
        let mut seg = Vec::new();
        if let SegmentKind::Data(k) = p.kind {
            seg.extend_from_slice(refs[k]);
        } else {
            plan.render_segment(p.kind, &|k| Some(crc32fast::hash(refs[k])), &mut seg)
                .expect("renders");
        }
        got.extend_from_slice(&seg[p.skip as usize..(p.skip + p.len) as usize]);
    }
    assert_eq!(&got[..], &bytes[start as usize..end as usize]);
}
