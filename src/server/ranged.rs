//! The body of a `206`: the bytes `start..end` of the archive, produced from the layout's offset map. Only
//! the files the range overlaps are read (each with a ranged request), records are rendered directly, and
//! a CRC the manifest and the cache lack is read once, in a task of its own shared by every request that
//! needs it ([`crate::crc_cache::CrcReads`]).
//!
//! Chunks read for the range are charged to the download's floor, CRC reads borrow from the shared
//! read-ahead, so range work is inside the memory budget too. Planning the pieces costs O(pieces): nothing
//! is copied per piece. This module moves bytes; the format logic is the layout's.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt};

use super::download::{open_file, Download, FileItem};
use super::request_error::RequestError;
use crate::budget::{DownloadBudget, CHUNK};
use crate::core::layout::{Piece, SegmentKind};
use crate::zipstream::{BoxError, EntryBody, ZipStreamError};

/// The range `start..end` of `dl`'s archive, once the first file it needs has answered (docs/contract.md, Failures).
pub async fn range_archive(
    dl: Arc<Download>,
    start: u64,
    end: u64,
) -> Result<impl Stream<Item = Result<Bytes, ZipStreamError>> + Send + 'static, RequestError> {
    let pieces = dl
        .plan
        .layout()
        .map(|l| l.pieces(start, end))
        .unwrap_or_default();
    // What the range first needs from the origin is obtained now, so that its failure is still a JSON
    // error (CONTRACT.md §5): the first data piece is opened, or, when a record comes first that needs a CRC
    // the manifest and the cache lack (a range inside the central directory), that CRC is read.
    let mut opened = None;
    if let Some((i, piece, need)) = pieces
        .iter()
        .enumerate()
        .find_map(|(i, p)| first_need(&dl, p).map(|need| (i, p, need)))
    {
        match need {
            Need::Data(k) => {
                let body = data_body(&dl, k, piece)
                    .map_err(|e| RequestError::first_file(&dl.name_of(k), e.to_string().into()))?;
                let mut body = charged(body, dl.budget.clone());
                let head: Vec<Result<Bytes, BoxError>> = match body.next().await {
                    Some(Err(e)) => return Err(RequestError::first_file(&dl.name_of(k), e)),
                    Some(Ok(chunk)) => vec![Ok(chunk)],
                    None => Vec::new(),
                };
                let body: EntryBody = Box::pin(stream::iter(head).chain(body));
                opened = Some((i, Pre::Body(body)));
            }
            Need::Crc(k, file) => {
                let crc = crc_for(&dl, k, file)
                    .await
                    .map_err(|e| RequestError::first_file(&dl.name_of(k), e.to_string().into()))?;
                opened = Some((i, Pre::Crc(crc)));
            }
        }
    }
    Ok(stream::iter(pieces.into_iter().enumerate())
        .then(move |(i, piece)| {
            let dl = Arc::clone(&dl);
            let pre = match &opened {
                Some((j, _)) if *j == i => opened.take().map(|(_, pre)| pre),
                _ => None,
            };
            async move { piece_stream(&dl, piece, pre).await }
        })
        .map(|r: Result<_, ZipStreamError>| match r {
            Ok(s) => s,
            Err(e) => stream::iter([Err(e)]).boxed(),
        })
        .flatten())
}

/// What a piece needs from the origin before it can be produced.
enum Need<'a> {
    /// The data of entry `k`.
    Data(usize),
    /// The CRC of entry `k` (a record needs it; neither the manifest nor the cache has it).
    Crc(usize, &'a FileItem),
}

/// What was obtained for a piece before the response head.
enum Pre {
    /// The opened data body, its first chunk already read.
    Body(EntryBody),
    /// The CRC the record needs.
    Crc(u32),
}

fn first_need<'a>(dl: &'a Download, piece: &Piece) -> Option<Need<'a>> {
    if let SegmentKind::Data(k) = piece.kind {
        return Some(Need::Data(k));
    }
    let k = dl.plan.segment_needs_crc(piece.kind)?;
    let file = dl.file_of(k)?;
    dl.known_crc(file).is_none().then_some(Need::Crc(k, file))
}

type PieceStream = futures_util::stream::BoxStream<'static, Result<Bytes, ZipStreamError>>;

/// The bytes of one piece: file data through a ranged fetch, or a record rendered from the plan.
async fn piece_stream(
    dl: &Arc<Download>,
    piece: Piece,
    pre: Option<Pre>,
) -> Result<PieceStream, ZipStreamError> {
    if let SegmentKind::Data(k) = piece.kind {
        let body = match pre {
            Some(Pre::Body(body)) => body,
            _ => charged(data_body(dl, k, &piece)?, dl.budget.clone()),
        };
        let name = dl.name_of(k);
        return Ok(body
            .map(move |r| {
                r.map_err(|source| ZipStreamError::Source {
                    entry: name.clone(),
                    source,
                })
            })
            .boxed());
    }
    let mut crc = None;
    if let Some(k) = dl.plan.segment_needs_crc(piece.kind) {
        let file = dl
            .file_of(k)
            .ok_or_else(|| ZipStreamError::MissingBody(dl.name_of(k)))?;
        crc = Some(match pre {
            Some(Pre::Crc(crc)) => crc,
            _ => crc_for(dl, k, file).await?,
        });
    }
    let mut bytes = Vec::new();
    dl.plan
        .render_segment(piece.kind, &|_| crc, &mut bytes)
        .ok_or_else(|| ZipStreamError::MissingBody(format!("{:?}", piece.kind)))?;
    let from = usize::try_from(piece.skip)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let to = usize::try_from(piece.skip + piece.len)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let chunk = Bytes::from(bytes).slice(from..to);
    Ok(stream::iter([Ok(chunk)]).boxed())
}

/// The body of the data piece of entry `k`: a ranged fetch; a piece covering the whole file whose CRC is
/// unknown learns it on the way, so the descriptor that follows does not read the file a second time.
fn data_body(dl: &Arc<Download>, k: usize, piece: &Piece) -> Result<EntryBody, ZipStreamError> {
    let file = dl
        .file_of(k)
        .ok_or_else(|| ZipStreamError::MissingBody(dl.name_of(k)))?;
    let body = open_file(
        &dl.state,
        &file.source,
        piece.skip,
        Some(piece.skip + piece.len),
    );
    let whole = file.source.size == Some(piece.len) && piece.skip == 0;
    let needed = dl
        .plan
        .segment_needs_crc(SegmentKind::Descriptor(k))
        .is_some();
    if whole && needed && dl.known_crc(file).is_none() {
        let dl2 = Arc::clone(dl);
        return Ok(crc_tap(body, piece.len, move |crc| {
            if let Some(file) = dl2.file_of(k) {
                dl2.learn_crc(file, crc);
            }
        }));
    }
    Ok(body)
}

/// The CRC of file entry `k`: from the manifest or the cache, else one shared whole-file read.
async fn crc_for(dl: &Arc<Download>, k: usize, file: &FileItem) -> Result<u32, ZipStreamError> {
    if let Some(crc) = dl.known_crc(file) {
        return Ok(crc);
    }
    let (Some(key), Some(size)) = (file.crc_key, file.source.size) else {
        return Err(ZipStreamError::MissingBody(dl.name_of(k)));
    };
    let state = Arc::clone(&dl.state);
    let secret = dl.secret.clone();
    let source = file.source.clone();
    // In a task of its own, shared by every request that needs it: if the client gives up first, the read
    // still completes and fills the cache for its next attempt.
    let read = dl.state.crc_reads.join_or_start(key, async move {
        let _charge = state.budget.borrow(CHUNK).await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut body = crc_tap(open_file(&state, &source, 0, None), size, move |crc| {
            let _ = tx.send(crc);
        });
        while let Some(chunk) = body.next().await {
            chunk?;
        }
        let crc = rx
            .await
            .map_err(|_| BoxError::from("the file ended before its size"))?;
        state.remember_crc(key, secret.as_ref(), crc);
        Ok(crc)
    });
    read.await.map_err(|e| ZipStreamError::Source {
        entry: dl.name_of(k),
        source: e.to_string().into(),
    })
}

/// Passes a whole file through, calling `done` with its CRC-32 once it has ended after exactly `size`
/// bytes (never for a body that failed or had another length).
fn crc_tap(body: EntryBody, size: u64, done: impl FnOnce(u32) + Send + 'static) -> EntryBody {
    let init = (body, crc32fast::Hasher::new(), 0u64, Some(done));
    Box::pin(stream::unfold(Some(init), move |st| async move {
        let (mut body, mut hasher, mut n, mut done) = st?;
        match body.next().await {
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                n += chunk.len() as u64;
                Some((Ok(chunk), Some((body, hasher, n, done))))
            }
            Some(Err(e)) => Some((Err(e), None)),
            None => {
                if n == size {
                    if let Some(done) = done.take() {
                        done(hasher.finalize());
                    }
                }
                None
            }
        }
    }))
}

/// `body` with every chunk charged to the download's floor before it is read from the origin.
fn charged(body: EntryBody, budget: DownloadBudget) -> EntryBody {
    Box::pin(stream::unfold(
        (body, budget),
        |(mut body, budget)| async move {
            let mut charge = budget.floor(CHUNK).await;
            let item = body.next().await?;
            let item = item.map(|chunk| {
                charge.shrink_to(chunk.len());
                charge.attach(chunk)
            });
            Some((item, (body, budget)))
        },
    ))
}
