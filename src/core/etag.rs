//! The archive's strong ETag: a SHA-256 over everything the archive's bytes are a function of (entry names,
//! kinds, sizes, CRCs, times, methods, and each file's URL standing in for its content when no CRC is given),
//! with a format version so a change of zipper's layout rules changes every ETag. Stable across processes,
//! machines and restarts (no `DefaultHasher`). Pure: it must not look at file bytes.

use base64::Engine as _;
use ring::digest;

use super::layout::{EntryKind, Method, Plan};

/// Bumped whenever the bytes zipper writes for the same manifest change.
const LAYOUT_VERSION: &str = "zipper-layout-1";

/// The quoted strong ETag for a plan whose file entries come from `urls` (in file-entry order).
pub fn archive_etag<'a>(plan: &Plan, urls: impl IntoIterator<Item = &'a str>) -> String {
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
            }
        }
    }
    for url in urls {
        field(url.as_bytes());
    }
    let hash = ctx.finish();
    format!(
        "\"z1-{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&hash.as_ref()[..18])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::layout::EntrySpec;

    fn plan(size: u64) -> Plan {
        Plan::new(vec![EntrySpec {
            name: "a".into(),
            modified_unix: 1,
            kind: EntryKind::File {
                size: Some(size),
                crc32: None,
                method: Method::Store,
            },
        }])
        .expect("plan")
    }

    #[test]
    fn stable_and_sensitive() {
        let a = archive_etag(&plan(1), ["http://x/a"]);
        assert_eq!(a, archive_etag(&plan(1), ["http://x/a"]));
        // A fixed value: changing it means every live download's resume breaks; bump LAYOUT_VERSION then.
        assert_eq!(a.len(), 2 + 3 + 24);
        assert!(a.starts_with("\"z1-"));
        assert_ne!(a, archive_etag(&plan(2), ["http://x/a"]));
        assert_ne!(a, archive_etag(&plan(1), ["http://x/b"]));
    }
}
