//! Manifest bodies of arbitrary bytes (`fuzz/fuzz_targets/manifest.rs`).

use crate::core::manifest::{parse_manifest, EntryKind, FileSource, Manifest, ManifestLimits};
use crate::core::names;
use crate::error::{Code, HasCode};

/// Fuzz logic for `fuzz/fuzz_targets/manifest.rs`: any bytes either fail with a named error or give a
/// manifest that keeps every invariant (names safe, unique and clobber-free; limits kept), and parsing is
/// deterministic.
///
/// Panics (on purpose, for the fuzzer) if an invariant is broken.
pub fn fuzz_manifest(body: &[u8]) {
    let limits = ManifestLimits {
        max_entries: 64,
        max_total_bytes: 1 << 20,
    };
    let first = parse_manifest(body, 1_554_674_400, &limits);
    match &first {
        Ok(manifest) => {
            if let Some(violation) = invariant_violation(manifest, &limits) {
                panic!("invariant broken: {violation}\n{manifest:#?}");
            }
        }
        Err(error) => {
            assert_eq!(error.code(), Code::InvalidManifest);
            assert!(!error.to_string().is_empty());
        }
    }
    assert_eq!(first, parse_manifest(body, 1_554_674_400, &limits));
}

/// What a valid manifest must satisfy, or `None`: names safe, unique and clobber-free, directories and
/// files told apart by the trailing `/`, limits kept, filename a sanitised `.zip` name.
pub fn invariant_violation(manifest: &Manifest, limits: &ManifestLimits) -> Option<String> {
    if manifest.entries.len() > limits.max_entries {
        return Some(format!("{} entries", manifest.entries.len()));
    }
    let mut stems = std::collections::HashSet::new();
    let mut directories = std::collections::HashSet::new();
    let mut total: u64 = 0;
    for entry in &manifest.entries {
        let path = &entry.path;
        let is_dir = matches!(entry.kind, EntryKind::Directory);
        let stem = path.strip_suffix('/').unwrap_or(path);
        if path.ends_with('/') != is_dir {
            return Some(format!("{path:?}: trailing '/' does not match the kind"));
        }
        if path.starts_with('/') || path.contains('\\') || path.len() > names::MAX_NAME_BYTES {
            return Some(format!("{path:?}: unsafe"));
        }
        if stem
            .split('/')
            .any(|segment| matches!(segment, "" | "." | ".."))
        {
            return Some(format!("{path:?}: bad segment"));
        }
        if path.chars().any(char::is_control) {
            return Some(format!("{path:?}: control character"));
        }
        if !stems.insert(stem) {
            return Some(format!("{path:?}: duplicate"));
        }
        if is_dir {
            directories.insert(stem);
        }
        for (i, _) in stem.match_indices('/') {
            directories.insert(&stem[..i]);
        }
        if let EntryKind::File(FileSource {
            size: Some(size), ..
        }) = entry.kind
        {
            total = total.saturating_add(size);
        }
    }
    for entry in &manifest.entries {
        if matches!(entry.kind, EntryKind::File(_)) && directories.contains(entry.path.as_str()) {
            return Some(format!("{:?}: a file that is also a directory", entry.path));
        }
    }
    if total > limits.max_total_bytes {
        return Some(format!("{total} bytes"));
    }
    if let Some(name) = &manifest.filename {
        let clean = names::sanitize_download_name(name) == *name;
        if !clean || !name.to_ascii_lowercase().ends_with(".zip") {
            return Some(format!("filename {name:?}"));
        }
    }
    None
}
