//! The archive's strong ETag (docs/contract.md, Responses): a SHA-256 over everything the archive's bytes are a function
//! of (entry names, kinds, sizes, CRCs, times, methods, inline CRC mode) and, only for a file whose manifest gives no CRC,
//! its URL standing in for its content. A file with a CRC is identified by that CRC and its size, so an
//! origin that pre-signs its file URLs anew on every manifest fetch (S3, GCS) keeps one ETag and `If-Range`
//! resumes keep matching. A format version is hashed and shown in the prefix, so a change of these rules
//! (or of zipper's layout) makes every old ETag simply stop matching. Stable across processes, machines and
//! restarts (no `DefaultHasher`). Pure: it must not look at file bytes.

use base64::Engine as _;
use ring::digest;

use super::layout::{EntryKind, Method, Plan};

/// Bumped whenever the bytes zipper writes for the same manifest change, or what the ETag covers changes
/// (2: URLs only for files without a CRC; 3: the Unicode Path extra for non-ASCII names and the
/// four-field central ZIP64 extra).
const LAYOUT_VERSION: &str = "zipper-layout-3";
/// The ETag's visible prefix; follows [`LAYOUT_VERSION`] so old ETags never match new ones.
const PREFIX: &str = "z3-";

/// The quoted strong ETag for a plan whose file entries come from `urls` (one per file entry, in entry
/// order). A file entry's URL is hashed only when the entry has no CRC.
pub fn archive_etag<'a>(plan: &Plan, urls: impl IntoIterator<Item = &'a str>) -> String {
    let mut urls = urls.into_iter();
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut field = |bytes: &[u8]| {
        ctx.update(&(bytes.len() as u64).to_le_bytes());
        ctx.update(bytes);
    };
    field(LAYOUT_VERSION.as_bytes());
    for e in plan.entries() {
        field(e.name.as_bytes());
        field(&e.modified_unix.to_le_bytes());
        match e.kind {
            EntryKind::Directory => field(b"d"),
            EntryKind::File {
                size,
                crc32,
                method,
            } => {
                field(match method {
                    Method::Store => b"fs",
                    Method::Deflate => b"fd",
                });
                field(&size.map_or([0xff; 9], |s| {
                    let mut b = [0u8; 9];
                    b[1..].copy_from_slice(&s.to_le_bytes());
                    b
                }));
                field(&crc32.map_or([0xff; 5], |c| {
                    let mut b = [0u8; 5];
                    b[1..].copy_from_slice(&c.to_le_bytes());
                    b
                }));
                // Every file entry takes its URL; only a file without a CRC is identified by it.
                let url = urls.next();
                if crc32.is_none() {
                    field(b"u");
                    field(url.unwrap_or("").as_bytes());
                    // Inline CRC mode (a setting) changes the entry's bytes: the ETag says so. Entries in
                    // descriptor mode hash as before, so their ETags did not change with the mode's arrival.
                    if e.inline_crc {
                        field(b"i");
                    }
                }
            }
        }
    }
    let hash = ctx.finish();
    format!(
        "\"{PREFIX}{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&hash.as_ref()[..18])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::layout::EntrySpec;

    fn file(name: &str, size: u64, crc32: Option<u32>) -> EntrySpec {
        EntrySpec {
            name: name.into(),
            modified_unix: 1,
            kind: EntryKind::File {
                size: Some(size),
                crc32,
                method: Method::Store,
            },
        }
    }

    fn plan(size: u64) -> Plan {
        Plan::new(vec![file("a", size, None)]).expect("plan")
    }

    #[test]
    fn stable_and_sensitive() {
        let a = archive_etag(&plan(1), ["http://x/a"]);
        assert_eq!(a, archive_etag(&plan(1), ["http://x/a"]));
        // A fixed value: changing it means every live download's resume breaks; bump LAYOUT_VERSION then.
        assert_eq!(a.len(), 2 + 3 + 24);
        assert!(a.starts_with("\"z3-"));
        assert_ne!(a, archive_etag(&plan(2), ["http://x/a"]));
        assert_ne!(a, archive_etag(&plan(1), ["http://x/b"]));
    }

    #[test]
    fn a_presigned_url_change_keeps_the_etag_when_the_crc_is_given() {
        let with_crc = Plan::new(vec![file("a.jpg", 10, Some(0xcbf4_3926))]).expect("plan");
        let monday = archive_etag(&with_crc, ["https://s3/a.jpg?X-Amz-Signature=1"]);
        let tuesday = archive_etag(&with_crc, ["https://s3/a.jpg?X-Amz-Signature=2"]);
        assert_eq!(monday, tuesday);
        // The CRC itself is covered.
        let other_crc = Plan::new(vec![file("a.jpg", 10, Some(1))]).expect("plan");
        assert_ne!(
            monday,
            archive_etag(&other_crc, ["https://s3/a.jpg?X-Amz-Signature=1"])
        );
    }

    #[test]
    fn a_url_change_changes_the_etag_when_no_crc_is_given() {
        let no_crc = Plan::new(vec![file("a.jpg", 10, None)]).expect("plan");
        assert_ne!(
            archive_etag(&no_crc, ["https://s3/a.jpg?X-Amz-Signature=1"]),
            archive_etag(&no_crc, ["https://s3/a.jpg?X-Amz-Signature=2"])
        );
    }

    #[test]
    fn urls_pair_with_file_entries_in_order_directories_skipped() {
        let mixed = Plan::new(vec![
            file("a", 1, Some(7)),
            EntrySpec {
                name: "d/".into(),
                modified_unix: 1,
                kind: EntryKind::Directory,
            },
            file("b", 1, None),
        ])
        .expect("plan");
        let base = archive_etag(&mixed, ["http://x/a?1", "http://x/b"]);
        // The first file has a CRC: its URL does not count; the second has none: its URL does.
        assert_eq!(base, archive_etag(&mixed, ["http://x/a?2", "http://x/b"]));
        assert_ne!(base, archive_etag(&mixed, ["http://x/a?1", "http://x/c"]));
    }

    #[test]
    fn old_version_etags_never_match() {
        let e = archive_etag(&plan(1), ["http://x/a"]);
        assert!(!e.starts_with("\"z1-"), "the version prefix was bumped");
    }

    #[test]
    fn inline_crc_mode_changes_the_etag_and_only_then() {
        use crate::core::layout::PlanOptions;
        let specs = vec![file("a", 10, None), file("b", 10, Some(7))];
        let inline = Plan::with_options(
            specs.clone(),
            PlanOptions {
                inline_crc_max_bytes: 10,
            },
        )
        .expect("plan");
        let plain = Plan::new(specs).expect("plan");
        let etag = |p: &Plan| archive_etag(p, ["u-a", "u-b"]);
        assert_ne!(
            etag(&inline),
            etag(&plain),
            "different bytes, different ETag"
        );
        // With every CRC given there is no inline entry: the setting does not change the ETag.
        let given = vec![file("a", 10, Some(1))];
        let with = Plan::with_options(
            given.clone(),
            PlanOptions {
                inline_crc_max_bytes: 10,
            },
        )
        .expect("plan");
        assert_eq!(
            archive_etag(&with, ["u"]),
            archive_etag(&Plan::new(given).expect("plan"), ["u"])
        );
    }
}
