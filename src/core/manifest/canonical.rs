//! A validated [`Manifest`] written back as a contract JSON manifest ([`to_canonical_json`]), for caches
//! that keep manifests outside the process: what they give back is parsed again by
//! [`parse_manifest`](super::parse_manifest), so nothing unvalidated ever becomes a `Manifest`.
//!
//! The output parses to an equal manifest whatever the link's timestamp: every entry carries its
//! `modified`, names are already normalised and unique (renaming them again changes nothing), headers
//! are already lower case and sorted. It must not be used for anything that needs the origin's own text.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{Compression, EntryKind, Manifest};

#[derive(Serialize)]
struct Out<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_url: Option<&'a str>,
    files: Vec<OutEntry<'a>>,
}

#[derive(Serialize)]
struct OutEntry<'a> {
    path: &'a str,
    modified: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crc32: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compression: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<Headers<'a>>,
}

/// Headers as a JSON object, in their (sorted, unique) order.
struct Headers<'a>(&'a [(String, String)]);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The manifest as contract JSON that parses back to an equal [`Manifest`], or `None` when a time cannot
/// be written in RFC 3339 (outside the years 0000–9999, which a manifest cannot give but a link's
/// timestamp could).
pub fn to_canonical_json(manifest: &Manifest) -> Option<Vec<u8>> {
    let mut files = Vec::with_capacity(manifest.entries.len());
    for entry in &manifest.entries {
        let modified = OffsetDateTime::from_unix_timestamp(entry.modified_unix)
            .ok()?
            .format(&Rfc3339)
            .ok()?;
        let mut out = OutEntry {
            path: &entry.path,
            modified,
            url: None,
            size: None,
            crc32: None,
            compression: None,
            headers: None,
        };
        if let EntryKind::File(source) = &entry.kind {
            out.url = Some(&source.url);
            out.size = source.size;
            out.crc32 = source.crc32.map(|crc| format!("{crc:08x}"));
            out.compression = match source.compression {
                Compression::Store => None,
                Compression::Deflate => Some("deflate"),
            };
            out.headers = (!source.headers.is_empty()).then_some(Headers(&source.headers));
        }
        files.push(out);
    }
    serde_json::to_vec(&Out {
        filename: manifest.filename.as_deref(),
        notify_url: manifest.notify_url.as_deref(),
        files,
    })
    .ok()
}
