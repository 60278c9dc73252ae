//! Inline CRC mode (issue 14): a small stored file of known size without a CRC is read whole before its
//! local header, which carries the real CRC; no bit 3, no data descriptor, and the planned length counts
//! no descriptor for it.

use super::*;

fn with_threshold(specs: Vec<EntrySpec>, threshold: u64) -> Plan {
    Plan::with_options(
        specs,
        PlanOptions {
            inline_crc_max_bytes: threshold,
        },
    )
    .expect("plan")
}

fn deflated(name: &str, size: u64) -> EntrySpec {
    let mut spec = file(name, size, None);
    spec.kind = EntryKind::File {
        size: Some(size),
        crc32: None,
        method: Method::Deflate,
    };
    spec
}

#[test]
fn only_stored_files_without_a_crc_up_to_the_threshold() {
    let plan = with_threshold(
        vec![
            file("at", 10, None),
            file("over", 11, None),
            file("crc", 5, Some(1)),
            file("empty", 0, None),
            deflated("deflate", 5),
            dir("d/"),
        ],
        10,
    );
    let e = plan.entries();
    let inline: Vec<bool> = e.iter().map(|e| e.inline_crc).collect();
    assert_eq!(inline, [true, false, false, false, false, false]);
    assert_eq!(e[0].descriptor, DescriptorPlan::None);
    assert_eq!(e[0].flags & FLAG_DATA_DESCRIPTOR, 0, "no bit 3");
    assert_eq!(e[1].descriptor, DescriptorPlan::Known { wide: false });
    assert_ne!(e[1].flags & FLAG_DATA_DESCRIPTOR, 0);
    assert_eq!(e[4].descriptor, DescriptorPlan::Deferred);
    // Threshold 0: today's layout, a descriptor for every file without a CRC.
    let off = with_threshold(vec![file("at", 10, None)], 0);
    assert!(!off.entries()[0].inline_crc);
    assert_eq!(
        off.entries()[0].descriptor,
        DescriptorPlan::Known { wide: false }
    );
    assert_eq!(
        Plan::new(vec![file("at", 10, None)]).expect("plan"),
        off,
        "Plan::new has no inline CRC mode"
    );
}

#[test]
fn the_descriptor_bytes_disappear_from_the_length() {
    let specs = vec![file("a", 3, None), file("b", 300, None), dir("d/")];
    let with = with_threshold(specs.clone(), 100);
    let without = with_threshold(specs, 0);
    assert_eq!(
        without.total_len().expect("len") - with.total_len().expect("len"),
        DESCRIPTOR_LEN_32,
        "one descriptor less"
    );
    let kinds: Vec<SegmentKind> = with
        .layout()
        .expect("layout")
        .segments()
        .iter()
        .map(|s| s.kind)
        .collect();
    assert!(!kinds.contains(&SegmentKind::Descriptor(0)));
    assert!(kinds.contains(&SegmentKind::Descriptor(1)));
    // The header of an inline entry needs the CRC the manifest lacks; the others do not.
    assert_eq!(with.segment_needs_crc(SegmentKind::LocalHeader(0)), Some(0));
    assert_eq!(with.segment_needs_crc(SegmentKind::LocalHeader(1)), None);
    assert_eq!(
        with.segment_needs_crc(SegmentKind::CentralHeader(0)),
        Some(0)
    );
}

#[test]
fn the_local_header_carries_the_real_crc_and_readers_agree() {
    let data = b"small file, no crc in the manifest";
    let crc = crc32fast::hash(data);
    let plan = with_threshold(
        vec![
            file("small.txt", data.len() as u64, None),
            file("known.txt", 2, Some(crc32fast::hash(b"ok"))),
        ],
        1 << 20,
    );
    let bytes = encode_stored_in_memory(&plan, &[data, b"ok"]).expect("encode");
    assert_eq!(plan.total_len(), Some(bytes.len() as u64));
    // Local header: flags at 6, CRC at 14, sizes at 18 and 22.
    assert_eq!(&bytes[..4], &LOCAL_FILE_HEADER_SIG.to_le_bytes());
    assert_eq!(
        u16::from_le_bytes([bytes[6], bytes[7]]) & FLAG_DATA_DESCRIPTOR,
        0
    );
    assert_eq!(&bytes[14..18], &crc.to_le_bytes());
    assert_eq!(&bytes[18..22], &(data.len() as u32).to_le_bytes());
    assert_eq!(&bytes[22..26], &(data.len() as u32).to_le_bytes());
    assert!(
        !bytes
            .windows(4)
            .any(|w| w == DATA_DESCRIPTOR_SIG.to_le_bytes()),
        "no data descriptor anywhere"
    );
    // The same bytes as when the manifest gives the CRC.
    let given = Plan::new(vec![
        file("small.txt", data.len() as u64, Some(crc)),
        file("known.txt", 2, Some(crc32fast::hash(b"ok"))),
    ])
    .expect("plan");
    assert_eq!(
        encode_stored_in_memory(&given, &[data, b"ok"]).expect("encode"),
        bytes
    );
    let back = read_back(&bytes);
    assert_eq!(back[0], ("small.txt".to_string(), data.to_vec()));
    // The offset map renders the header with the CRC it is given.
    let mut lh = Vec::new();
    plan.render_segment(SegmentKind::LocalHeader(0), &|_| Some(crc), &mut lh)
        .expect("render");
    assert_eq!(&lh[..], &bytes[..lh.len()]);
    assert!(
        plan.render_segment(SegmentKind::LocalHeader(0), &|_| None, &mut Vec::new())
            .is_none(),
        "no CRC, no header"
    );
}

#[test]
fn the_encoder_checks_the_data_against_the_header_crc() {
    let plan = with_threshold(vec![file("a", 3, None)], 10);
    // Without a CRC the entry cannot begin.
    let mut enc = Encoder::new(&plan);
    assert!(matches!(enc.begin_entry(), Err(EncodeError::Misuse(_))));
    // With one that differs from the data, it cannot end.
    let mut enc = Encoder::new(&plan);
    enc.begin_entry_with_crc(crc32fast::hash(b"abc"))
        .expect("begin");
    enc.add_stored(b"abd").expect("data");
    assert!(matches!(
        enc.end_entry(),
        Err(EncodeError::CrcMismatch { .. })
    ));
    // Short data fails too.
    let mut enc = Encoder::new(&plan);
    enc.begin_entry_with_crc(crc32fast::hash(b"ab"))
        .expect("begin");
    enc.add_stored(b"ab").expect("data");
    assert!(matches!(enc.end_entry(), Err(EncodeError::TooShort { .. })));
    // A header CRC for an entry that is not inline is misuse.
    let plain = Plan::new(vec![file("a", 3, None)]).expect("plan");
    let mut enc = Encoder::new(&plain);
    assert!(matches!(
        enc.begin_entry_with_crc(1),
        Err(EncodeError::Misuse(_))
    ));
}
