//! The Info-ZIP Unicode Path extra field (0x7075): present in both headers exactly for non-ASCII names, with
//! the CRC-32 of the header's name bytes, and counted in the planned lengths.

use super::*;

/// One header read back from the produced bytes: flags, name bytes and its extra fields (id, data).
struct ParsedHeader {
    flags: u16,
    name: Vec<u8>,
    extras: Vec<(u16, Vec<u8>)>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn parse_extras(mut b: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        assert!(b.len() >= 4, "extra field header cut short");
        let (id, len) = (u16_at(b, 0), usize::from(u16_at(b, 2)));
        assert!(
            b.len() >= 4 + len,
            "extra field {id:#06x} runs past the extra area"
        );
        out.push((id, b[4..4 + len].to_vec()));
        b = &b[4 + len..];
    }
    out
}

/// The central headers and the local headers they point to, parsed from an archive without ZIP64 end records
/// and without comments.
fn parse_headers(bytes: &[u8]) -> Vec<(ParsedHeader, ParsedHeader)> {
    let eocd = bytes.len() - EOCD_LEN as usize;
    assert_eq!(u32_at(bytes, eocd), EOCD_SIG);
    let count = usize::from(u16_at(bytes, eocd + 10));
    let mut at = u32_at(bytes, eocd + 16) as usize;
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(bytes, at), CENTRAL_HEADER_SIG);
        let (n, m, c) = (
            usize::from(u16_at(bytes, at + 28)),
            usize::from(u16_at(bytes, at + 30)),
            usize::from(u16_at(bytes, at + 32)),
        );
        let name_at = at + CENTRAL_HEADER_FIXED_LEN as usize;
        let central = ParsedHeader {
            flags: u16_at(bytes, at + 8),
            name: bytes[name_at..name_at + n].to_vec(),
            extras: parse_extras(&bytes[name_at + n..name_at + n + m]),
        };
        let lh = u32_at(bytes, at + 42) as usize;
        assert_eq!(u32_at(bytes, lh), LOCAL_FILE_HEADER_SIG);
        let (ln, lm) = (
            usize::from(u16_at(bytes, lh + 26)),
            usize::from(u16_at(bytes, lh + 28)),
        );
        let lname_at = lh + LOCAL_HEADER_FIXED_LEN as usize;
        let local = ParsedHeader {
            flags: u16_at(bytes, lh + 6),
            name: bytes[lname_at..lname_at + ln].to_vec(),
            extras: parse_extras(&bytes[lname_at + ln..lname_at + ln + lm]),
        };
        out.push((local, central));
        at = name_at + n + m + c;
    }
    out
}

/// A mix of names: ASCII and not, files with and without CRCs, directories, empty files.
fn mixed() -> (Vec<EntrySpec>, Vec<Vec<u8>>) {
    let specs = vec![
        file("a.txt", 5, Some(crc32fast::hash(b"hello"))),
        dir("été/"),
        file("été/日本語.txt", 6, None),
        file("plain/readme", 3, None),
        dir("plain/"),
        file("emoji/🎉.txt", 0, None),
        file("café ☕.jpg", 4, Some(crc32fast::hash(b"jpeg"))),
    ];
    let contents = vec![
        b"hello".to_vec(),
        vec![],
        b"nihon!".to_vec(),
        b"abc".to_vec(),
        vec![],
        vec![],
        b"jpeg".to_vec(),
    ];
    (specs, contents)
}

#[test]
fn unicode_path_extra_exactly_for_non_ascii_names_with_the_name_crc() {
    let (specs, contents) = mixed();
    let plan = Plan::new(specs.clone()).expect("plan");
    let refs: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
    let bytes = encode_stored_in_memory(&plan, &refs).expect("encode");
    let headers = parse_headers(&bytes);
    assert_eq!(headers.len(), specs.len());
    for (spec, (local, central)) in specs.iter().zip(&headers) {
        for h in [local, central] {
            assert_eq!(
                h.name,
                spec.name.as_bytes(),
                "header name is the UTF-8 name"
            );
            assert_ne!(h.flags & FLAG_UTF8, 0, "bit 11 stays set");
            let ids: Vec<u16> = h.extras.iter().map(|(id, _)| *id).collect();
            if spec.name.is_ascii() {
                assert_eq!(
                    ids,
                    [EXTENDED_TIMESTAMP_ID],
                    "{}: ASCII names unchanged",
                    spec.name
                );
                continue;
            }
            assert_eq!(
                ids,
                [EXTENDED_TIMESTAMP_ID, UNICODE_PATH_ID],
                "{}: one Unicode Path field after the timestamp",
                spec.name
            );
            let (_, data) = &h.extras[1];
            assert_eq!(data[0], 1, "version 1");
            assert_eq!(
                u32_at(data, 1),
                crc32fast::hash(&h.name),
                "CRC of the header's name"
            );
            assert_eq!(&data[5..], spec.name.as_bytes(), "the UTF-8 name");
        }
    }
    // An independent reader still sees the same names and bytes.
    let back = read_back(&bytes);
    for (k, (name, data)) in back.into_iter().enumerate() {
        assert_eq!(name, specs[k].name);
        assert_eq!(data, contents[k]);
    }
}

#[test]
fn ascii_headers_keep_their_exact_bytes() {
    // Fixed bytes of an ASCII entry's local header, as written before the Unicode Path field existed.
    let plan = Plan::new(vec![file("a.txt", 5, Some(0x3610_a686))]).expect("plan");
    let mut lh = Vec::new();
    plan.local_header(0, 0, &mut lh);
    let mut want = Vec::new();
    want.extend_from_slice(&LOCAL_FILE_HEADER_SIG.to_le_bytes());
    want.extend_from_slice(&20u16.to_le_bytes()); // version needed
    want.extend_from_slice(&FLAG_UTF8.to_le_bytes()); // flags
    want.extend_from_slice(&0u16.to_le_bytes()); // stored
    want.extend_from_slice(&lh[10..14]); // DOS time and date (checked elsewhere)
    want.extend_from_slice(&0x3610_a686u32.to_le_bytes());
    want.extend_from_slice(&5u32.to_le_bytes());
    want.extend_from_slice(&5u32.to_le_bytes());
    want.extend_from_slice(&5u16.to_le_bytes()); // name length
    want.extend_from_slice(&9u16.to_le_bytes()); // extra length: the timestamp only
    want.extend_from_slice(b"a.txt");
    want.extend_from_slice(&[0x55, 0x54, 5, 0, 1]);
    want.extend_from_slice(&1_554_674_400i32.to_le_bytes());
    assert_eq!(lh, want);
    assert!(!plan.entries()[0].has_unicode_path());
}

#[test]
fn planned_length_is_exact_for_a_mix_of_names() {
    let (specs, contents) = mixed();
    let plan = Plan::new(specs).expect("plan");
    let refs: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
    let bytes = encode_stored_in_memory(&plan, &refs).expect("encode");
    let layout = plan.layout().expect("known layout");
    assert_eq!(layout.total_len(), bytes.len() as u64);
    // Each segment renders to the very bytes the encoder wrote at its offset.
    for seg in layout.segments() {
        let at = seg.start as usize..(seg.start + seg.len) as usize;
        assert_eq!(
            segment_bytes(&plan, seg.kind, &contents),
            &bytes[at],
            "{:?}",
            seg.kind
        );
    }
    // Each non-ASCII name adds 9 + its length to both its headers, and nothing else changes.
    let ascii: Vec<EntrySpec> = mixed()
        .0
        .into_iter()
        .map(|mut s| {
            let slash = if s.name.ends_with('/') { "/" } else { "" };
            s.name = "x".repeat(s.name.len() - slash.len()) + slash;
            s
        })
        .collect();
    let extra: u64 = mixed()
        .0
        .iter()
        .filter(|s| !s.name.is_ascii())
        .map(|s| 2 * (UNICODE_PATH_FIXED_LEN + s.name.len() as u64))
        .sum();
    let ascii_plan = Plan::new(ascii).expect("plan");
    assert_eq!(ascii_plan.total_len().map(|t| t + extra), plan.total_len());
}

#[test]
fn zip64_entries_with_non_ascii_names_render_to_planned_lengths() {
    let plan = Plan::new(vec![
        file("日本語/big.bin", ZIP64_BYTES_THRESHOLD + 1, None),
        file("été.txt", 3, Some(7)),
        file("big-ascii", ZIP64_BYTES_THRESHOLD, Some(1)),
    ])
    .expect("plan");
    let layout = plan.layout().expect("layout");
    for seg in layout.segments() {
        if matches!(seg.kind, SegmentKind::Data(_)) {
            continue;
        }
        let mut out = Vec::new();
        plan.render_segment(seg.kind, &|_| Some(1), &mut out)
            .expect("render");
        assert_eq!(out.len() as u64, seg.len, "{:?}", seg.kind);
    }
    // The local header of the big entry: ZIP64 first, then the timestamp, then the Unicode Path field.
    let mut lh = Vec::new();
    plan.local_header(0, 0, &mut lh);
    let name = "日本語/big.bin".as_bytes();
    let extras_at = LOCAL_HEADER_FIXED_LEN as usize + name.len();
    let ids: Vec<u16> = parse_extras(&lh[extras_at..]).iter().map(|e| e.0).collect();
    assert_eq!(
        ids,
        [ZIP64_EXTRA_ID, EXTENDED_TIMESTAMP_ID, UNICODE_PATH_ID]
    );
}

#[test]
fn names_too_long_for_the_extra_area_keep_bit_11_only() {
    let fits = "é".repeat(MAX_UNICODE_PATH_NAME_LEN / 2);
    let over = "é".repeat(MAX_UNICODE_PATH_NAME_LEN / 2 + 1);
    assert!(fits.len() <= MAX_UNICODE_PATH_NAME_LEN && over.len() > MAX_UNICODE_PATH_NAME_LEN);
    let plan = Plan::new(vec![file(&fits, 1, None), file(&over, 1, None)]).expect("plan");
    assert!(plan.entries()[0].has_unicode_path());
    assert!(!plan.entries()[1].has_unicode_path());
    let bytes = encode_stored_in_memory(&plan, &[b"a", b"b"]).expect("encode");
    assert_eq!(plan.total_len(), Some(bytes.len() as u64));
    let headers = parse_headers(&bytes);
    assert_eq!(headers[0].1.extras.len(), 2);
    assert_eq!(headers[1].1.extras.len(), 1);
    assert_eq!(read_back(&bytes).len(), 2);
}
