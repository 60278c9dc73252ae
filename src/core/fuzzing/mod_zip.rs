//! mod_zip file lists of arbitrary bytes (`fuzz/fuzz_targets/mod_zip.rs`).

use crate::core::manifest::{parse_mod_zip, BodyHeaders, EntryKind, ManifestLimits};
use crate::error::{Code, HasCode};

use super::invariant_violation;

/// The callback the fuzzed lists resolve their locations against.
pub const FUZZ_CALLBACK: &str = "https://origin.example:8443/list?timestamp=1554674400";

/// Fuzz logic for `fuzz/fuzz_targets/mod_zip.rs`: the first byte picks the headers (a name separator, a
/// charset, a `Content-Disposition`), the rest is the body. Any input either fails with a named
/// `invalid_manifest` error or gives a manifest that keeps every invariant of the JSON one, whose file URLs
/// are http(s) and whose relative locations stay on the callback's host; parsing is deterministic.
///
/// Panics (on purpose, for the fuzzer) if an invariant is broken.
pub fn fuzz_mod_zip(data: &[u8]) {
    let (flags, body) = data.split_first().map_or((0, data), |(f, b)| (*f, b));
    let headers = BodyHeaders {
        x_archive_files: Some(b"zip".to_vec()),
        x_archive_name_sep: (flags & 1 != 0).then(|| b"|".to_vec()),
        x_archive_charset: (flags & 2 != 0).then(|| b"UTF-8;".to_vec()),
        content_disposition: (flags & 4 != 0)
            .then(|| b"attachment; filename*=UTF-8''a%20b.zip".to_vec()),
        ..BodyHeaders::default()
    };
    let limits = ManifestLimits {
        max_entries: 64,
        max_total_bytes: 1 << 20,
    };
    let first = parse_mod_zip(body, &headers, FUZZ_CALLBACK, 1_554_674_400, &limits);
    match &first {
        Ok(manifest) => {
            if let Some(violation) = invariant_violation(manifest, &limits) {
                panic!("invariant broken: {violation}\n{manifest:#?}");
            }
            for entry in &manifest.entries {
                if let EntryKind::File(source) = &entry.kind {
                    let url = url::Url::parse(&source.url).expect("a validated URL parses");
                    assert!(matches!(url.scheme(), "http" | "https"), "{url}");
                    assert!(source.size.is_some(), "a mod_zip file always has a size");
                }
            }
        }
        Err(error) => {
            assert_eq!(error.code(), Code::InvalidManifest);
            assert!(!error.to_string().is_empty());
        }
    }
    assert_eq!(
        first,
        parse_mod_zip(body, &headers, FUZZ_CALLBACK, 1_554_674_400, &limits)
    );
}
