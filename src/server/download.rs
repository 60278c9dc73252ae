//! One admitted download's context, shared by its whole-archive and range bodies: the plan, the file
//! entries and their sources (one entry-to-file map, built once), the signing key id that scopes its CRC
//! cache keys, its budget, and how a file is opened.
//!
//! It moves bytes between the origin client and the archive stream; it holds no format logic and decides
//! no status codes.

use std::sync::Arc;

use futures_util::StreamExt;
use http::HeaderMap;

use super::AppState;
use crate::budget::DownloadBudget;
use crate::core::encoder::SourceCrc;
use crate::core::keys::Secret;
use crate::core::layout::Plan;
use crate::core::manifest::FileSource;
use crate::crc_cache::CrcKey;
use crate::metrics::OriginKind;
use crate::origin::client::Reads;
use crate::origin::{fetch_file, FileRequest};
use crate::zipstream::{BoxError, EntryBody};

/// One file entry: its source and its index among the plan's entries.
#[derive(Debug)]
pub struct FileItem {
    /// Index of the entry in the plan.
    pub entry: usize,
    /// Where the bytes come from.
    pub source: FileSource,
}

/// What a download's bodies share.
pub struct Download {
    /// The shared server state.
    pub state: Arc<AppState>,
    /// The archive plan.
    pub plan: Arc<Plan>,
    /// File entries in entry order.
    pub files: Vec<FileItem>,
    /// For each plan entry, its index in `files` (None for directories).
    entry_to_file: Vec<Option<usize>>,
    /// The download's share of the memory budget.
    pub budget: DownloadBudget,
    /// Names the download in logs (key id and callback host; never a secret).
    pub label: String,
    /// The link's signing secret: seals the CRCs it shares with the fleet.
    pub secret: Option<Secret>,
    /// Headers added to each of its file requests (the client's `traceparent`).
    pub context: HeaderMap,
    /// The link's signing key id: part of every CRC cache key.
    key_id: String,
}

impl Download {
    /// The context of a download of `plan` with `files` (in entry order), under signing key `key_id`.
    pub fn new(
        state: Arc<AppState>,
        plan: Arc<Plan>,
        sources: Vec<(usize, FileSource)>,
        key_id: &str,
        budget: DownloadBudget,
        label: String,
        context: HeaderMap,
    ) -> Download {
        let mut entry_to_file = vec![None; plan.entries().len()];
        let files: Vec<FileItem> = sources
            .into_iter()
            .enumerate()
            .map(|(i, (entry, source))| {
                if let Some(slot) = entry_to_file.get_mut(entry) {
                    *slot = Some(i);
                }
                FileItem { entry, source }
            })
            .collect();
        let secret = state.keys.get(key_id).cloned();
        Download {
            state,
            plan,
            files,
            entry_to_file,
            budget,
            label,
            secret,
            context,
            key_id: key_id.to_owned(),
        }
    }

    /// The key of `file`'s CRC in the caches (None without a size: such files are never resumed).
    /// Computed when asked (a SHA-256, ~0.4 µs): most files never need it before their first byte, and
    /// building 5,000 of them up front was 8 % of the time to a 5,000-entry archive's first byte.
    pub fn crc_key(&self, file: &FileItem) -> Option<CrcKey> {
        let source = &file.source;
        source
            .size
            .map(|size| CrcKey::new(&self.key_id, &source.url, size, &source.headers))
    }

    /// The file of plan entry `k`, if it is a file.
    pub fn file_of(&self, k: usize) -> Option<&FileItem> {
        self.file_index(k).and_then(|i| self.files.get(i))
    }

    /// The name of plan entry `k` (for messages).
    pub fn name_of(&self, k: usize) -> String {
        self.plan
            .entries()
            .get(k)
            .map(|e| e.name.clone())
            .unwrap_or_default()
    }

    /// The CRC of `file` from the manifest or the cache.
    pub fn known_crc(&self, file: &FileItem) -> Option<u32> {
        file.source.crc32.or_else(|| {
            self.crc_key(file)
                .and_then(|key| self.state.crc_cache.get(&key))
        })
    }

    /// Opens one of its files (or the window `[start, end)` of it); `kind` says what for (metrics).
    pub fn open(
        &self,
        source: &FileSource,
        start: u64,
        end: Option<u64>,
        kind: OriginKind,
    ) -> EntryBody {
        self.open_reads(source, start, end, kind, Reads::default(), None)
    }

    /// [`Self::open`], read through the pool of `reads` (the read-ahead chooses, [`crate::prefetch`]); the
    /// fetch puts the CRC of a whole file into `crc_out` at its end ([`FileRequest::crc_out`]).
    pub fn open_reads(
        &self,
        source: &FileSource,
        start: u64,
        end: Option<u64>,
        kind: OriginKind,
        reads: Reads,
        crc_out: Option<SourceCrc>,
    ) -> EntryBody {
        open_file(
            &self.state,
            &self.context,
            source,
            (start, end),
            kind,
            reads,
            crc_out,
        )
    }

    /// The index in [`Self::files`] of plan entry `k`, if it is a file.
    pub fn file_index(&self, k: usize) -> Option<usize> {
        self.entry_to_file.get(k).copied().flatten()
    }

    /// Records a CRC learnt by reading `file` whole.
    pub fn learn_crc(&self, file: &FileItem, crc: u32) {
        if let Some(key) = self.crc_key(file) {
            self.state.remember_crc(key, self.secret.as_ref(), crc);
        }
    }

    /// Fills the in-process CRC cache from the fleet's shared cache with the CRCs this download's records
    /// may need and neither the manifest nor the process has (one batched read; nothing when the shared
    /// cache is off or down). Called before a range is planned.
    pub async fn warm_crcs(&self) {
        let Some(secret) = &self.secret else {
            return;
        };
        if !self.state.shared_cache.is_enabled() {
            return;
        }
        let keys: Vec<CrcKey> = self
            .files
            .iter()
            .filter(|file| file.source.crc32.is_none())
            .filter_map(|file| self.crc_key(file))
            .filter(|key| self.state.crc_cache.get(key).is_none())
            .collect();
        if keys.is_empty() {
            return;
        }
        let found = self.state.shared_cache.get_crcs(&keys, secret).await;
        for (key, crc) in keys.into_iter().zip(found) {
            if let Some(crc) = crc {
                self.state.crc_cache.put(key, crc);
            }
        }
    }
}

/// Opens one file (or the window `[start, end)` of it) as an entry body, sending `context` too, read
/// through the pool of `reads`; `kind` says what for (metrics); `crc_out`: see [`FileRequest::crc_out`].
pub fn open_file(
    state: &AppState,
    context: &HeaderMap,
    source: &FileSource,
    (start, end): (u64, Option<u64>),
    kind: OriginKind,
    reads: Reads,
    crc_out: Option<SourceCrc>,
) -> EntryBody {
    let req = FileRequest {
        url: source.url.clone(),
        headers: source.headers.clone(),
        expected_size: source.size,
        start,
        end,
        kind,
        context: context.clone(),
        // A file with the manifest's CRC, for a full archive: the encoder checks it (`core::encoder`, end
        // of entry) and aborts the archive on a mismatch. (The fetch ignores this for a window.)
        crc_checked_by_consumer: kind == OriginKind::File && source.crc32.is_some(),
        bulk_switch: reads.switch,
        crc_out,
    };
    Box::pin(
        fetch_file(&state.origin.with_reads(reads.size), req)
            .map(|r| r.map_err(|e| Box::new(e) as BoxError)),
    )
}
