//! Unit and property tests of the planner, the offset map and the encoder over it.

use super::*;
use crate::core::encoder::{encode_stored_in_memory, EncodeError, Encoder};
use crate::core::fuzzing::fuzz_layout;
use proptest::prelude::*;

fn file(name: &str, size: u64, crc: Option<u32>) -> EntrySpec {
    EntrySpec {
        name: name.to_string(),
        modified_unix: 1_554_674_400,
        kind: EntryKind::File {
            size: Some(size),
            crc32: crc,
            method: Method::Store,
        },
    }
}

fn dir(name: &str) -> EntrySpec {
    EntrySpec {
        name: name.to_string(),
        modified_unix: 1_554_674_400,
        kind: EntryKind::Directory,
    }
}

/// Renders a segment of a known layout, taking data bytes from `contents`.
fn segment_bytes(plan: &Plan, kind: SegmentKind, contents: &[Vec<u8>]) -> Vec<u8> {
    if let SegmentKind::Data(k) = kind {
        return contents[k].clone();
    }
    let crc_of = |k: usize| Some(crc32fast::hash(&contents[k]));
    let mut out = Vec::new();
    plan.render_segment(kind, &crc_of, &mut out)
        .expect("renderable segment");
    out
}

fn read_back(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip crate opens it");
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("entry");
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).expect("entry data");
        out.push((f.name().to_string(), data));
    }
    out
}

#[test]
fn small_archive_round_trips_through_an_independent_reader() {
    let contents: Vec<Vec<u8>> = vec![b"hello".to_vec(), vec![], b"world!".to_vec(), vec![]];
    let plan = Plan::new(vec![
        file("a.txt", 5, Some(crc32fast::hash(b"hello"))),
        file("empty", 0, None),
        file("dir/ünïcödé.txt", 6, None),
        dir("dir/"),
    ])
    .expect("plan");
    let refs: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
    let bytes = encode_stored_in_memory(&plan, &refs).expect("encode");
    assert_eq!(Some(bytes.len() as u64), plan.total_len());
    let back = read_back(&bytes);
    assert_eq!(back[0], ("a.txt".to_string(), b"hello".to_vec()));
    assert_eq!(back[1], ("empty".to_string(), vec![]));
    assert_eq!(back[2], ("dir/ünïcödé.txt".to_string(), b"world!".to_vec()));
    assert_eq!(back[3].0, "dir/");
}

#[test]
fn descriptor_only_when_something_is_unknown() {
    let plan = Plan::new(vec![
        file("a", 3, Some(1)),
        file("b", 3, None),
        file("c", 0, None),
    ])
    .expect("plan");
    let e = plan.entries();
    assert_eq!(e[0].descriptor, DescriptorPlan::None);
    assert_eq!(e[0].flags & FLAG_DATA_DESCRIPTOR, 0);
    assert_eq!(e[1].descriptor, DescriptorPlan::Known { wide: false });
    assert_ne!(e[1].flags & FLAG_DATA_DESCRIPTOR, 0);
    // An empty file's CRC is known: 0.
    assert_eq!(e[2].descriptor, DescriptorPlan::None);
    assert!(e.iter().all(|e| e.flags & FLAG_UTF8 != 0));
}

#[test]
fn unknown_size_or_deflate_has_no_layout() {
    let mut unknown = file("a", 1, None);
    unknown.kind = EntryKind::File {
        size: None,
        crc32: None,
        method: Method::Store,
    };
    assert!(Plan::new(vec![unknown]).expect("plan").layout().is_none());
    let mut deflate = file("a", 1, None);
    deflate.kind = EntryKind::File {
        size: Some(1),
        crc32: None,
        method: Method::Deflate,
    };
    let plan = Plan::new(vec![deflate]).expect("plan");
    assert!(plan.total_len().is_none());
    assert_eq!(plan.entries()[0].descriptor, DescriptorPlan::Deferred);
}

#[test]
fn zip64_exactly_when_needed() {
    let big = ZIP64_BYTES_THRESHOLD;
    let plan = Plan::new(vec![
        file("small", big - 1, None),
        file("big", big, None),
        file("after", 1, Some(0)),
    ])
    .expect("plan");
    let e = plan.entries();
    assert!(!e[0].local_zip64);
    assert_eq!(e[0].descriptor, DescriptorPlan::Known { wide: false });
    assert!(e[1].local_zip64);
    assert_eq!(e[1].descriptor, DescriptorPlan::Known { wide: true });
    assert!(!e[2].local_zip64);
    let layout = plan.layout().expect("layout");
    // The third local header sits past 4 GiB: its central header carries a ZIP64 offset.
    let after = layout.local_header_offset(2).expect("offset");
    assert!(after > big);
    let mut ch = Vec::new();
    plan.central_header(2, &plan.known_outcome(2, None).expect("outcome"), &mut ch);
    assert_eq!(&ch[6..8], &VERSION_NEEDED_ZIP64.to_le_bytes());
    let mut ch0 = Vec::new();
    plan.central_header(
        0,
        &plan.known_outcome(0, Some(7)).expect("outcome"),
        &mut ch0,
    );
    assert_eq!(&ch0[6..8], &VERSION_NEEDED_DEFAULT.to_le_bytes());
}

#[test]
fn too_long_and_too_short_and_bad_crc_are_errors() {
    let plan = Plan::new(vec![file("a", 3, Some(crc32fast::hash(b"abc")))]).expect("plan");
    assert!(matches!(
        encode_stored_in_memory(&plan, &[b"abcd"]),
        Err(EncodeError::TooLong { .. })
    ));
    assert!(matches!(
        encode_stored_in_memory(&plan, &[b"ab"]),
        Err(EncodeError::TooShort { .. })
    ));
    assert!(matches!(
        encode_stored_in_memory(&plan, &[b"abd"]),
        Err(EncodeError::CrcMismatch { .. })
    ));
    assert!(encode_stored_in_memory(&plan, &[b"abc"]).is_ok());
}

#[test]
fn encoder_rejects_misuse() {
    let plan = Plan::new(vec![dir("d/")]).expect("plan");
    let mut enc = Encoder::new(&plan);
    assert!(enc.end_entry().is_err());
    assert!(enc.finish().is_err());
    enc.begin_entry().expect("begin");
    assert!(enc.add_stored(b"x").is_err());
    assert!(enc.end_entry().is_ok());
    assert!(enc.begin_entry().is_err());
    assert!(enc.finish().is_ok());
}

#[test]
fn names_are_checked() {
    assert_eq!(
        Plan::new(vec![file("", 1, None)]),
        Err(PlanError::EmptyName { index: 0 })
    );
    let long = "x".repeat(70_000);
    assert!(matches!(
        Plan::new(vec![file(&long, 1, None)]),
        Err(PlanError::NameTooLong { index: 0, .. })
    ));
}

#[test]
fn deterministic_for_the_same_input() {
    let make = || {
        let plan = Plan::new(vec![file("a", 2, None), dir("b/")]).expect("plan");
        encode_stored_in_memory(&plan, &[b"hi", b""]).expect("encode")
    };
    assert_eq!(make(), make());
}

#[derive(Debug, Clone)]
struct Case {
    specs: Vec<EntrySpec>,
    contents: Vec<Vec<u8>>,
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,12}(\\.[a-z]{1,4})?",
        "[a-zé漢字🎉]{1,8}/[a-z0-9 ]{1,8}",
        "\\PC{1,20}",
    ]
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let entry = (
        name_strategy(),
        prop::collection::vec(any::<u8>(), 0..300),
        any::<bool>(), // crc known
        any::<bool>(), // directory
        -10_000_000_000i64..10_000_000_000i64,
    );
    prop::collection::vec(entry, 0..24).prop_map(|raw| {
        let mut specs = Vec::new();
        let mut contents = Vec::new();
        for (i, (name, data, crc_known, is_dir, mtime)) in raw.into_iter().enumerate() {
            let name = format!("{i}-{name}");
            if is_dir {
                specs.push(EntrySpec {
                    name: format!("{name}/"),
                    modified_unix: mtime,
                    kind: EntryKind::Directory,
                });
                contents.push(Vec::new());
            } else {
                let crc = crc_known.then(|| crc32fast::hash(&data));
                specs.push(EntrySpec {
                    name,
                    modified_unix: mtime,
                    kind: EntryKind::File {
                        size: Some(data.len() as u64),
                        crc32: crc,
                        method: Method::Store,
                    },
                });
                contents.push(data);
            }
        }
        Case { specs, contents }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// With a random inline CRC threshold, entries without a CRC mix both modes (inline CRC below it, a
    /// descriptor above it) with entries that have one.
    #[test]
    fn planned_length_equals_produced_and_ranges_agree(case in case_strategy(), ranges in prop::collection::vec((any::<u64>(), any::<u64>()), 1..8), threshold in prop_oneof![Just(0u64), 0u64..300, Just(u64::MAX)]) {
        let options = PlanOptions { inline_crc_max_bytes: threshold };
        let plan = Plan::with_options(case.specs.clone(), options).expect("plan");
        for (e, spec) in plan.entries().iter().zip(&case.specs) {
            let no_crc = matches!(spec.kind, EntryKind::File { size: Some(s), crc32: None, .. } if s > 0);
            prop_assert_eq!(e.inline_crc, no_crc && e.size().is_some_and(|s| s <= threshold));
            prop_assert_eq!(e.flags & FLAG_DATA_DESCRIPTOR != 0, no_crc && !e.inline_crc);
        }
        let refs: Vec<&[u8]> = case.contents.iter().map(Vec::as_slice).collect();
        let bytes = encode_stored_in_memory(&plan, &refs).expect("encode");
        let layout = plan.layout().expect("known layout");
        prop_assert_eq!(layout.total_len(), bytes.len() as u64);
        // Segments tile the archive exactly.
        let mut at = 0;
        for seg in layout.segments() {
            prop_assert_eq!(seg.start, at);
            at += seg.len;
        }
        prop_assert_eq!(at, bytes.len() as u64);
        let total = bytes.len() as u64;
        for (a, b) in ranges {
            let (start, end) = if total == 0 { (0, 0) } else { let s = a % (total + 1); (s, s + b % (total - s + 1)) };
            let mut got = Vec::new();
            for piece in layout.pieces(start, end) {
                let seg = segment_bytes(&plan, piece.kind, &case.contents);
                got.extend_from_slice(&seg[piece.skip as usize..(piece.skip + piece.len) as usize]);
            }
            prop_assert_eq!(&got[..], &bytes[start as usize..end as usize]);
        }
        // An independent reader sees every entry byte-exact.
        let back = read_back(&bytes);
        prop_assert_eq!(back.len(), case.specs.len());
        for (k, (name, data)) in back.into_iter().enumerate() {
            prop_assert_eq!(&name, &case.specs[k].name);
            prop_assert_eq!(&data, &case.contents[k]);
        }
    }

    /// Huge sizes cannot be materialised, but every non-data segment must render to exactly its planned
    /// length, whatever ZIP64 choices the sizes force.
    #[test]
    fn huge_layouts_render_to_planned_lengths(sizes in prop::collection::vec(prop_oneof![0u64..10, (ZIP64_BYTES_THRESHOLD - 3)..(ZIP64_BYTES_THRESHOLD + 3), 0u64..(1 << 40)], 1..6), crc_known in any::<bool>()) {
        let specs: Vec<EntrySpec> = sizes.iter().enumerate().map(|(i, s)| file(&format!("{}{i}", if i % 2 == 0 { "f" } else { "é/日本" }), *s, crc_known.then_some(0xdead_beef))).collect();
        let plan = Plan::new(specs).expect("plan");
        let layout = plan.layout().expect("layout");
        for seg in layout.segments() {
            if let SegmentKind::Data(k) = seg.kind {
                prop_assert_eq!(seg.len, sizes[k]);
                continue;
            }
            let mut out = Vec::new();
            plan.render_segment(seg.kind, &|_| Some(1), &mut out).expect("render");
            prop_assert_eq!(out.len() as u64, seg.len, "{:?}", seg.kind);
        }
    }
}

#[test]
fn many_entries_switch_to_zip64_end_records() {
    let specs: Vec<EntrySpec> = (0..65_535)
        .map(|i| file(&format!("{i}"), 0, None))
        .collect();
    let plan = Plan::new(specs).expect("plan");
    let contents: Vec<&[u8]> = vec![b""; 65_535];
    let bytes = encode_stored_in_memory(&plan, &contents).expect("encode");
    assert_eq!(plan.total_len(), Some(bytes.len() as u64));
    // ZIP64 end record + locator + classic end record at the tail.
    let tail = &bytes[bytes.len() - 98..];
    assert_eq!(&tail[..4], &ZIP64_EOCD_SIG.to_le_bytes());
    assert_eq!(&tail[56..60], &ZIP64_LOCATOR_SIG.to_le_bytes());
    assert_eq!(read_back(&bytes).len(), 65_535);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The fuzz target's logic, run on random inputs in every test run.
    #[test]
    fn fuzz_logic_holds(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz_layout(&data);
    }
}

#[test]
fn large_deflate_entries_announce_zip64_locally() {
    let mut big = file("big.txt", ZIP64_BYTES_THRESHOLD + 10, None);
    big.kind = EntryKind::File {
        size: Some(ZIP64_BYTES_THRESHOLD + 10),
        crc32: None,
        method: Method::Deflate,
    };
    let mut small = file("small.txt", 10, None);
    small.kind = EntryKind::File {
        size: Some(10),
        crc32: None,
        method: Method::Deflate,
    };
    let plan = Plan::new(vec![big, small]).expect("plan");
    let e = plan.entries();
    assert!(e[0].local_zip64);
    assert_eq!(e[0].descriptor, DescriptorPlan::Known { wide: true });
    assert!(!e[1].local_zip64);
    assert_eq!(e[1].descriptor, DescriptorPlan::Deferred);
    let mut lh = Vec::new();
    plan.local_header(0, 0, &mut lh);
    // Version 4.5, sizes are sentinels, a ZIP64 extra of zeros follows the name.
    assert_eq!(&lh[4..6], &VERSION_NEEDED_ZIP64.to_le_bytes());
    assert_eq!(&lh[18..26], &[0xff; 8]);
    let name_end = 30 + "big.txt".len();
    assert_eq!(&lh[name_end..name_end + 4], &[0x01, 0x00, 0x10, 0x00]);
    assert_eq!(&lh[name_end + 4..name_end + 20], &[0u8; 16]);
    let outcome = EntryOutcome {
        local_header_offset: 0,
        crc32: 1,
        compressed: 100,
        uncompressed: 200,
    };
    assert!(plan.descriptor_is_wide(0, &outcome));
}

mod inline_crc;
mod source_crc;
mod unicode_path;
