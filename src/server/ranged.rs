//! The body of a `206`: the bytes `start..end` of the archive, produced from the layout's offset map. Only
//! the files the range overlaps are read (each with a ranged request), records are rendered directly, and
//! a CRC the manifest and the cache lack is read once, in a task of its own shared by every request that
//! needs it ([`crate::crc_cache::CrcReads`]).
//!
//! An entry in inline CRC mode (its local header carries a CRC the manifest lacks) that the range starts
//! in, or covers, is read whole into a buffer charged to the whole-file pool, its CRC checked against the
//! cache's (or learnt), and the wanted slices of its header and data served from that one read.
//!
//! Chunks read for the range are charged to the download's floor, CRC reads borrow from the shared
//! read-ahead, so range work is inside the memory budget too. Planning the pieces costs O(pieces): nothing
//! is copied per piece. This module moves bytes; the format logic is the layout's.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::{stream, Stream, StreamExt};

use super::download::{open_file, Download, FileItem};
use super::request_error::RequestError;
use crate::budget::{DownloadBudget, CHUNK};
use crate::core::encoder::EncodeError;
use crate::core::layout::{Piece, SegmentKind};
use crate::metrics::OriginKind;
use crate::origin::client::Reads;
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
    let works = works(&dl, pieces);
    // What the range first needs from the origin is obtained now, so that its failure is still a JSON
    // error (docs/contract.md, Failures): the first data piece is opened, or, when a record comes first that needs a CRC
    // the manifest and the cache lack (a range inside the central directory), that CRC is read, or an
    // inline CRC entry the range starts in is read whole.
    let mut opened = None;
    if let Some((i, work, need)) = works
        .iter()
        .enumerate()
        .find_map(|(i, w)| first_need(&dl, w).map(|need| (i, w, need)))
    {
        match (need, work) {
            (Need::Data(k), Work::Piece(piece)) => {
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
            (Need::Crc(k, file), _) => {
                let crc = crc_for(&dl, k, file)
                    .await
                    .map_err(|e| RequestError::first_file(&dl.name_of(k), e.to_string().into()))?;
                opened = Some((i, Pre::Crc(crc)));
            }
            (Need::Whole(k), Work::Inline { header, data, .. }) => {
                let bytes = inline_pieces(&dl, k, *header, *data)
                    .await
                    .map_err(|e| RequestError::first_file(&dl.name_of(k), e.to_string().into()))?;
                opened = Some((i, Pre::Ready(bytes)));
            }
            (Need::Data(_) | Need::Whole(_), _) => {}
        }
    }
    Ok(stream::iter(works.into_iter().enumerate())
        .then(move |(i, work)| {
            let dl = Arc::clone(&dl);
            let pre = match &opened {
                Some((j, _)) if *j == i => opened.take().map(|(_, pre)| pre),
                _ => None,
            };
            async move { work_stream(&dl, work, pre).await }
        })
        .map(|r: Result<_, ZipStreamError>| match r {
            Ok(s) => s,
            Err(e) => stream::iter([Err(e)]).boxed(),
        })
        .flatten())
}

/// One unit of a range's work: a piece produced on its own, or the pieces (local header, data) of an entry
/// in inline CRC mode, produced together from one whole read of its file.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// A record or a data piece.
    Piece(Piece),
    /// The wanted parts of inline CRC entry `k`: its local header and its data, either or both.
    Inline {
        k: usize,
        header: Option<Piece>,
        data: Option<Piece>,
    },
}

/// Groups the pieces of inline CRC entries (their header carries a CRC only a whole read gives).
fn works(dl: &Download, pieces: Vec<Piece>) -> Vec<Work> {
    let mut out: Vec<Work> = Vec::with_capacity(pieces.len());
    for p in pieces {
        let k = match p.kind {
            SegmentKind::LocalHeader(k) | SegmentKind::Data(k) => k,
            _ => {
                out.push(Work::Piece(p));
                continue;
            }
        };
        if !dl.plan.entries().get(k).is_some_and(|e| e.inline_crc) {
            out.push(Work::Piece(p));
            continue;
        }
        let is_header = matches!(p.kind, SegmentKind::LocalHeader(_));
        if let Some(Work::Inline { k: last, data, .. }) = out.last_mut() {
            if *last == k && !is_header {
                *data = Some(p);
                continue;
            }
        }
        let (header, data) = if is_header {
            (Some(p), None)
        } else {
            (None, Some(p))
        };
        out.push(Work::Inline { k, header, data });
    }
    out
}

/// What a piece needs from the origin before it can be produced.
enum Need<'a> {
    /// The data of entry `k`.
    Data(usize),
    /// The CRC of entry `k` (a record needs it; neither the manifest nor the cache has it).
    Crc(usize, &'a FileItem),
    /// The whole file of inline CRC entry `k`.
    Whole(usize),
}

/// What was obtained for a piece before the response head.
enum Pre {
    /// The opened data body, its first chunk already read.
    Body(EntryBody),
    /// The CRC the record needs.
    Crc(u32),
    /// The bytes of an inline CRC entry's pieces.
    Ready(Vec<Bytes>),
}

fn first_need<'a>(dl: &'a Download, work: &Work) -> Option<Need<'a>> {
    let piece = match work {
        Work::Piece(piece) => piece,
        Work::Inline { k, data, .. } => {
            let crc_known = dl.file_of(*k).and_then(|f| dl.known_crc(f)).is_some();
            return (data.is_some() || !crc_known).then_some(Need::Whole(*k));
        }
    };
    if let SegmentKind::Data(k) = piece.kind {
        return Some(Need::Data(k));
    }
    let k = dl.plan.segment_needs_crc(piece.kind)?;
    let file = dl.file_of(k)?;
    dl.known_crc(file).is_none().then_some(Need::Crc(k, file))
}

type PieceStream = futures_util::stream::BoxStream<'static, Result<Bytes, ZipStreamError>>;

/// The bytes of one unit of work.
async fn work_stream(
    dl: &Arc<Download>,
    work: Work,
    pre: Option<Pre>,
) -> Result<PieceStream, ZipStreamError> {
    match (work, pre) {
        (Work::Piece(piece), pre) => piece_stream(dl, piece, pre).await,
        (Work::Inline { .. }, Some(Pre::Ready(bytes))) => {
            Ok(stream::iter(bytes.into_iter().map(Ok)).boxed())
        }
        (Work::Inline { k, header, data }, _) => {
            let bytes = inline_pieces(dl, k, header, data).await?;
            Ok(stream::iter(bytes.into_iter().map(Ok)).boxed())
        }
    }
}

/// The wanted bytes of inline CRC entry `k`'s local header and data. Its file is read whole (into a buffer
/// charged to the whole-file pool) when its data is wanted or its CRC is not known; the wanted slice then
/// comes from that buffer, after its CRC has been checked against a CRC already known (the cache, which an
/// earlier response may have put in the header): a file that changed fails the range instead of
/// completing a corrupt archive.
async fn inline_pieces(
    dl: &Arc<Download>,
    k: usize,
    header: Option<Piece>,
    data: Option<Piece>,
) -> Result<Vec<Bytes>, ZipStreamError> {
    let file = dl
        .file_of(k)
        .ok_or_else(|| ZipStreamError::MissingBody(dl.name_of(k)))?;
    let known = dl.known_crc(file);
    let (crc, whole) = match (known, data) {
        (Some(crc), None) => (crc, Bytes::new()),
        _ => {
            let whole = read_whole(dl, k, file).await?;
            let crc = crc32fast::hash(&whole);
            match known {
                Some(expected) if expected != crc => {
                    return Err(EncodeError::CrcMismatch {
                        name: dl.name_of(k),
                        expected,
                        actual: crc,
                    }
                    .into())
                }
                Some(_) => {}
                None => dl.learn_crc(file, crc),
            }
            (crc, whole)
        }
    };
    let mut out = Vec::with_capacity(2);
    if let Some(p) = header {
        let mut bytes = Vec::new();
        dl.plan
            .render_segment(p.kind, &|_| Some(crc), &mut bytes)
            .ok_or_else(|| ZipStreamError::MissingBody(dl.name_of(k)))?;
        out.push(slice_of(Bytes::from(bytes), &p));
    }
    if let Some(p) = data {
        out.push(slice_of(whole, &p));
    }
    Ok(out)
}

/// File `k` read whole into one buffer charged to the download's whole-file pool; its chunks go through
/// the floor and are dropped once copied.
async fn read_whole(
    dl: &Arc<Download>,
    k: usize,
    file: &FileItem,
) -> Result<Bytes, ZipStreamError> {
    let name = dl.name_of(k);
    let size = file.source.size.unwrap_or(0);
    let cap = usize::try_from(size).map_err(|_| EncodeError::Misuse("inline entry too large"))?;
    let charge = dl.budget.file_buffer(cap).await;
    let mut body = charged(
        dl.open(&file.source, 0, None, OriginKind::Range),
        dl.budget.clone(),
    );
    let mut buf = BytesMut::with_capacity(cap);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|source| ZipStreamError::Source {
            entry: name.clone(),
            source,
        })?;
        if buf.len() + chunk.len() > cap {
            return Err(EncodeError::TooLong {
                name,
                expected: size,
            }
            .into());
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.len() != cap {
        return Err(EncodeError::TooShort {
            name,
            expected: size,
            actual: buf.len() as u64,
        }
        .into());
    }
    Ok(charge.attach(buf.freeze()))
}

/// The part of `bytes` (a whole segment) that `piece` wants.
fn slice_of(bytes: Bytes, piece: &Piece) -> Bytes {
    let from = usize::try_from(piece.skip)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let to = usize::try_from(piece.skip + piece.len)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    bytes.slice(from..to)
}

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
    Ok(stream::iter([Ok(slice_of(Bytes::from(bytes), &piece))]).boxed())
}

/// The body of the data piece of entry `k`: a ranged fetch; a piece covering the whole file whose CRC is
/// unknown learns it on the way, so the descriptor that follows does not read the file a second time.
fn data_body(dl: &Arc<Download>, k: usize, piece: &Piece) -> Result<EntryBody, ZipStreamError> {
    let file = dl
        .file_of(k)
        .ok_or_else(|| ZipStreamError::MissingBody(dl.name_of(k)))?;
    let body = dl.open(
        &file.source,
        piece.skip,
        Some(piece.skip + piece.len),
        OriginKind::Range,
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
    let (Some(key), Some(size)) = (dl.crc_key(file), file.source.size) else {
        return Err(ZipStreamError::MissingBody(dl.name_of(k)));
    };
    let state = Arc::clone(&dl.state);
    let secret = dl.secret.clone();
    let source = file.source.clone();
    let context = dl.context.clone();
    // In a task of its own, shared by every request that needs it: if the client gives up first, the read
    // still completes and fills the cache for its next attempt.
    let read = dl.state.crc_reads.join_or_start(key, async move {
        let _charge = state.budget.borrow(CHUNK).await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut body = crc_tap(
            open_file(
                &state,
                &context,
                &source,
                (0, None),
                OriginKind::Crc,
                Reads::default(),
                None,
            ),
            size,
            move |crc| {
                let _ = tx.send(crc);
            },
        );
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
