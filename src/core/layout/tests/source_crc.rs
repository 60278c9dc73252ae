//! Stored entries hashed by their source (`Encoder::add_stored_hashed_by_source`): the encoder takes the
//! source's CRC only when it covers exactly the bytes counted, and the archive is the one it would have
//! hashed itself.

use super::*;

fn archive(plan: &Plan, data: &[u8], by_source: bool) -> Result<Vec<u8>, EncodeError> {
    let mut enc = Encoder::new(plan);
    let mut out = enc.begin_entry()?;
    if by_source {
        for chunk in data.chunks(7) {
            enc.add_stored_hashed_by_source(chunk.len() as u64)?;
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(
            &enc.end_entry_with_source_crc(data.len() as u64, crc32fast::hash(data))?,
        );
    } else {
        enc.add_stored(data)?;
        out.extend_from_slice(data);
        out.extend_from_slice(&enc.end_entry()?);
    }
    out.extend_from_slice(&enc.finish()?);
    Ok(out)
}

#[test]
fn an_entry_hashed_by_its_source_gives_the_archive_the_encoder_would_have_hashed() {
    let data: Vec<u8> = (0..100u8).collect();
    for spec in [
        file("a", 100, None),
        file("a", 100, Some(crc32fast::hash(&data))),
    ] {
        let plan = Plan::new(vec![spec]).expect("plan");
        let own = archive(&plan, &data, false).expect("hashed here");
        let by_source = archive(&plan, &data, true).expect("hashed by the source");
        assert_eq!(own, by_source);
    }
}

#[test]
fn a_source_crc_is_refused_unless_it_covers_exactly_the_entry() {
    let data = b"abcdefghij";
    let plan = Plan::new(vec![file("a", 10, None)]).expect("plan");
    // Fewer bytes than counted.
    let mut enc = Encoder::new(&plan);
    enc.begin_entry().expect("begin");
    enc.add_stored_hashed_by_source(10).expect("count");
    assert!(matches!(
        enc.end_entry_with_source_crc(9, crc32fast::hash(&data[..9])),
        Err(EncodeError::Misuse(_))
    ));
    // Counted without a hash, ended without the source's CRC.
    let mut enc = Encoder::new(&plan);
    enc.begin_entry().expect("begin");
    enc.add_stored_hashed_by_source(10).expect("count");
    assert!(matches!(enc.end_entry(), Err(EncodeError::Misuse(_))));
    // Hashed here, then a source CRC.
    let mut enc = Encoder::new(&plan);
    enc.begin_entry().expect("begin");
    enc.add_stored(data).expect("data");
    assert!(matches!(
        enc.end_entry_with_source_crc(10, crc32fast::hash(data)),
        Err(EncodeError::Misuse(_))
    ));
    // Partly each way.
    let mut enc = Encoder::new(&plan);
    enc.begin_entry().expect("begin");
    enc.add_stored(&data[..5]).expect("data");
    assert!(matches!(
        enc.add_stored_hashed_by_source(5),
        Err(EncodeError::Misuse(_))
    ));
    let mut enc = Encoder::new(&plan);
    enc.begin_entry().expect("begin");
    enc.add_stored_hashed_by_source(5).expect("count");
    assert!(matches!(
        enc.add_stored(&data[5..]),
        Err(EncodeError::Misuse(_))
    ));
}

#[test]
fn a_source_crc_is_still_checked_against_the_manifest_and_sizes_still_count() {
    let data = b"abcdefghij";
    let plan = Plan::new(vec![file("a", 10, Some(crc32fast::hash(data)))]).expect("plan");
    let mut enc = Encoder::new(&plan);
    enc.begin_entry().expect("begin");
    enc.add_stored_hashed_by_source(10).expect("count");
    assert!(matches!(
        enc.end_entry_with_source_crc(10, crc32fast::hash(b"abcdefghiX")),
        Err(EncodeError::CrcMismatch { .. })
    ));
    // More than the declared size fails before the bytes are passed on.
    let mut enc = Encoder::new(&plan);
    enc.begin_entry().expect("begin");
    assert!(matches!(
        enc.add_stored_hashed_by_source(11),
        Err(EncodeError::TooLong { .. })
    ));
}
