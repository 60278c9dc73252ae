//! The async edge of the zip engine: drives [`Encoder`] over a stream of entry bodies and yields the archive
//! as a stream of [`Bytes`].
//!
//! Stored data passes through as the very `Bytes` the source produced (no copy); deflate entries go through
//! async-compression. Output is pulled: nothing is read from a body until the consumer asks for the next
//! chunk, so a slow client slows the sources down and memory stays at one chunk per entry in flight plus the
//! central directory. An entry in inline CRC mode (a small stored file without a CRC) is the exception: it is
//! read whole into one buffer charged to the download's whole-file buffer pool (waiting while that is
//! spent) before its local header, which then carries the CRC; the chunks are copied in and dropped, so
//! their floor charges return and the read goes on. On any error the stream yields that error and ends; the caller must then abort the
//! response (never finish an archive that misstates a file). This module owns no sockets, no retries and
//! no prefetching: those belong to the caller that builds the body stream.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::DeflateEncoder;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::io::StreamReader;

use crate::budget::DownloadBudget;
use crate::core::encoder::{EncodeError, Encoder, SourceCrc};
use crate::core::layout::{Method, Plan};

/// Any error from a body source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The bytes of one file entry, in order.
pub type EntryBody = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// Output chunk size for compressed entries.
const DEFLATE_CHUNK: usize = 64 * 1024;

/// Why the archive stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum ZipStreamError {
    /// A file's source failed.
    #[error("{entry}: {source}")]
    Source {
        /// Entry name.
        entry: String,
        /// The source's error.
        source: BoxError,
    },
    /// The bytes could not form a correct archive (size or CRC mismatch, or a bug).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The body stream ended before every file entry had a body.
    #[error("no body for entry {0}")]
    MissingBody(String),
}

/// Counts and CRCs the plain bytes on their way into the compressor.
struct Tally<S> {
    inner: S,
    hasher: crc32fast::Hasher,
    len: u64,
}

impl<S: Stream<Item = Result<Bytes, BoxError>> + Unpin> Stream for Tally<S> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.hasher.update(&chunk);
                self.len += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(io::Error::other(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

type Deflater = DeflateEncoder<StreamReader<Tally<EntryBody>, Bytes>>;

enum Phase {
    NextEntry,
    /// A stored entry's body, and the CRC its source computes when it hashes the bytes itself.
    Stored(EntryBody, Option<SourceCrc>),
    /// An inline CRC entry, to be read whole before its header.
    Whole(EntryBody),
    /// The data of an inline CRC entry whose header has just gone out.
    Buffered(Bytes),
    Deflated(Box<Deflater>),
    Central,
    Done,
}

/// Called with (entry index, CRC-32) each time a file entry has been written completely.
pub type OnEntry = Box<dyn FnMut(usize, u32) + Send>;

/// Where the source of file entry `k` (the entry index) puts the CRC of the bytes it delivers, if it hashes
/// them itself: such a stored entry is not hashed a second time here.
pub type SourceCrcs = Box<dyn Fn(usize) -> Option<SourceCrc> + Send>;

/// What the archive stream reports and charges on its way. The default does neither.
#[derive(Default)]
pub struct StreamHooks {
    /// Called with each file entry's CRC once it is written (to fill a CRC cache).
    pub on_entry: Option<OnEntry>,
    /// Where the whole-file buffers of inline CRC entries are charged (none: uncharged).
    pub budget: Option<DownloadBudget>,
    /// The CRCs that sources compute themselves (none: every entry is hashed here).
    pub source_crcs: Option<SourceCrcs>,
}

struct State<S> {
    enc: Encoder<Arc<Plan>>,
    bodies: S,
    phase: Phase,
    hooks: StreamHooks,
}

/// The archive for `plan` as a stream of chunks. `bodies` yields one body per FILE entry (directories take
/// none), in entry order; it may prepare them ahead (prefetch) as long as it yields them in order.
pub fn zip_stream<S>(
    plan: Arc<Plan>,
    bodies: S,
) -> impl Stream<Item = Result<Bytes, ZipStreamError>> + Send
where
    S: Stream<Item = Result<EntryBody, BoxError>> + Send + Unpin + 'static,
{
    zip_stream_observed(plan, bodies, StreamHooks::default())
}

/// [`zip_stream`] with `hooks`: an observer of each file entry's CRC, the budget of whole-file buffers.
pub fn zip_stream_observed<S>(
    plan: Arc<Plan>,
    bodies: S,
    hooks: StreamHooks,
) -> impl Stream<Item = Result<Bytes, ZipStreamError>> + Send
where
    S: Stream<Item = Result<EntryBody, BoxError>> + Send + Unpin + 'static,
{
    let state = State {
        enc: Encoder::new(plan),
        bodies,
        phase: Phase::NextEntry,
        hooks,
    };
    futures_util::stream::try_unfold(state, step)
}

/// Produces the next non-empty chunk, or `None` at the end.
async fn step<S>(mut st: State<S>) -> Result<Option<(Bytes, State<S>)>, ZipStreamError>
where
    S: Stream<Item = Result<EntryBody, BoxError>> + Send + Unpin,
{
    loop {
        match std::mem::replace(&mut st.phase, Phase::Done) {
            Phase::Done => return Ok(None),
            Phase::NextEntry => {
                let k = st.enc.next_entry();
                let plan = Arc::clone(st.enc.plan());
                let Some(entry) = plan.entries().get(k) else {
                    st.phase = Phase::Central;
                    continue;
                };
                if entry.inline_crc {
                    st.phase = Phase::Whole(next_body(&mut st, &entry.name).await?);
                    continue;
                }
                let mut header = st.enc.begin_entry()?;
                if entry.is_dir() {
                    header.extend_from_slice(&st.enc.end_entry()?);
                    st.phase = Phase::NextEntry;
                } else {
                    let body = next_body(&mut st, &entry.name).await?;
                    st.phase = match entry.method() {
                        Method::Store => {
                            let crc = st.hooks.source_crcs.as_ref().and_then(|f| f(k));
                            Phase::Stored(body, crc)
                        }
                        Method::Deflate => {
                            let tally = Tally {
                                inner: body,
                                hasher: crc32fast::Hasher::new(),
                                len: 0,
                            };
                            Phase::Deflated(Box::new(DeflateEncoder::new(StreamReader::new(tally))))
                        }
                    };
                }
                return Ok(Some((Bytes::from(header), st)));
            }
            Phase::Stored(mut body, crc) => match body.next().await {
                Some(Ok(chunk)) => {
                    match &crc {
                        Some(_) => st.enc.add_stored_hashed_by_source(chunk.len() as u64)?,
                        None => st.enc.add_stored(&chunk)?,
                    }
                    st.phase = Phase::Stored(body, crc);
                    if !chunk.is_empty() {
                        return Ok(Some((chunk, st)));
                    }
                }
                Some(Err(source)) => return Err(source_error(&st, source)),
                None => {
                    let desc = match crc.map(|c| c.get()) {
                        None => st.enc.end_entry()?,
                        Some(Some((len, crc))) => st.enc.end_entry_with_source_crc(len, crc)?,
                        // The body ended without its source's CRC: nothing can vouch for the bytes.
                        Some(None) => {
                            return Err(EncodeError::Misuse("a source ended without its CRC").into())
                        }
                    };
                    st.report_last();
                    st.phase = Phase::NextEntry;
                    if !desc.is_empty() {
                        return Ok(Some((Bytes::from(desc), st)));
                    }
                }
            },
            Phase::Whole(body) => {
                let (header, data) = read_whole(&mut st, body).await?;
                st.phase = Phase::Buffered(data);
                return Ok(Some((header, st)));
            }
            Phase::Buffered(data) => {
                st.phase = Phase::NextEntry;
                if !data.is_empty() {
                    return Ok(Some((data, st)));
                }
            }
            Phase::Deflated(mut deflater) => {
                let mut buf = BytesMut::with_capacity(DEFLATE_CHUNK);
                match deflater.read_buf(&mut buf).await {
                    Ok(0) => {
                        let tally = deflater.get_ref().get_ref();
                        st.enc.add_plain_hashed(&tally.hasher, tally.len)?;
                        let desc = st.enc.end_entry()?;
                        st.report_last();
                        st.phase = Phase::NextEntry;
                        return Ok(Some((Bytes::from(desc), st)));
                    }
                    Ok(n) => {
                        // Check the plain side as it goes, so an oversized file fails early.
                        let tally = deflater.get_ref().get_ref();
                        if let Some(expected) = st.enc.current_declared_size() {
                            if tally.len > expected {
                                return Err(EncodeError::TooLong {
                                    name: st.enc.current_name().unwrap_or_default(),
                                    expected,
                                }
                                .into());
                            }
                        }
                        st.enc.add_compressed(n as u64)?;
                        st.phase = Phase::Deflated(deflater);
                        return Ok(Some((buf.freeze(), st)));
                    }
                    Err(e) => {
                        let source: BoxError = match e.into_inner() {
                            Some(inner) => inner,
                            None => "read error".into(),
                        };
                        return Err(source_error(&st, source));
                    }
                }
            }
            Phase::Central => {
                let cd = st.enc.finish()?;
                st.phase = Phase::Done;
                return Ok(Some((Bytes::from(cd), st)));
            }
        }
    }
}

/// The body of the next file entry, named `name`.
async fn next_body<S>(st: &mut State<S>, name: &str) -> Result<EntryBody, ZipStreamError>
where
    S: Stream<Item = Result<EntryBody, BoxError>> + Send + Unpin,
{
    match st.bodies.next().await {
        Some(Ok(body)) => Ok(body),
        Some(Err(source)) => Err(ZipStreamError::Source {
            entry: name.to_string(),
            source,
        }),
        None => Err(ZipStreamError::MissingBody(name.to_string())),
    }
}

/// Reads the next entry (inline CRC mode) whole into one charged buffer, then runs it through the encoder:
/// its local header (with the CRC) and its data. Nothing of the entry is yielded unless its size is right.
async fn read_whole<S>(
    st: &mut State<S>,
    mut body: EntryBody,
) -> Result<(Bytes, Bytes), ZipStreamError> {
    let plan = Arc::clone(st.enc.plan());
    let k = st.enc.next_entry();
    let entry = plan
        .entries()
        .get(k)
        .ok_or(EncodeError::Misuse("no entry to read whole"))?;
    let size = entry.size().unwrap_or(0);
    let cap = usize::try_from(size).map_err(|_| EncodeError::Misuse("inline entry too large"))?;
    // Taken before the first byte is copied: the download holds at most this buffer plus its floor.
    let charge = match &st.hooks.budget {
        Some(budget) => budget.file_buffer(cap).await,
        None => crate::budget::Charge::none(),
    };
    let mut buf = BytesMut::with_capacity(cap);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|source| ZipStreamError::Source {
            entry: entry.name.clone(),
            source,
        })?;
        if buf.len() + chunk.len() > cap {
            return Err(EncodeError::TooLong {
                name: entry.name.clone(),
                expected: size,
            }
            .into());
        }
        // Copied, and the chunk (with its floor charge) dropped, so the floor serves the next read.
        buf.extend_from_slice(&chunk);
    }
    // The source's CRC when it hashed exactly these bytes, else one pass here.
    let crc = st
        .hooks
        .source_crcs
        .as_ref()
        .and_then(|f| f(k))
        .and_then(|c| c.get())
        .filter(|(len, _)| *len == buf.len() as u64)
        .map_or_else(|| crc32fast::hash(&buf), |(_, crc)| crc);
    let mut header = st.enc.begin_entry_with_crc(crc)?;
    st.enc.add_stored(&buf)?;
    header.extend_from_slice(&st.enc.end_entry()?);
    st.report_last();
    Ok((Bytes::from(header), charge.attach(buf.freeze())))
}

impl<S> State<S> {
    /// Reports the entry that just ended to the observer.
    fn report_last(&mut self) {
        if let (Some(cb), Some(outcome)) =
            (self.hooks.on_entry.as_mut(), self.enc.outcomes().last())
        {
            cb(self.enc.outcomes().len() - 1, outcome.crc32);
        }
    }
}

fn source_error<S>(st: &State<S>, source: BoxError) -> ZipStreamError {
    ZipStreamError::Source {
        entry: st.enc.current_name().unwrap_or_default(),
        source,
    }
}

/// Drains an archive stream into a writer; returns the number of bytes written.
pub async fn write_to<W, S>(stream: S, out: &mut W) -> Result<u64, WriteError>
where
    W: AsyncWrite + Unpin,
    S: Stream<Item = Result<Bytes, ZipStreamError>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut n = 0u64;
    while let Some(chunk) = stream.try_next().await? {
        out.write_all(&chunk).await.map_err(WriteError::Io)?;
        n += chunk.len() as u64;
    }
    out.flush().await.map_err(WriteError::Io)?;
    Ok(n)
}

/// Why [`write_to`] failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The archive could not be produced.
    #[error(transparent)]
    Zip(#[from] ZipStreamError),
    /// The writer failed.
    #[error("write failed: {0}")]
    Io(io::Error),
}

/// Adapts any `AsyncRead` into an [`EntryBody`].
pub fn body_from_reader<R>(reader: R) -> EntryBody
where
    R: tokio::io::AsyncRead + Send + 'static,
{
    Box::pin(tokio_util::io::ReaderStream::new(reader).map_err(|e| Box::new(e) as BoxError))
}

/// An [`EntryBody`] over bytes already in memory.
pub fn body_from_bytes(bytes: Bytes) -> EntryBody {
    Box::pin(futures_util::stream::iter([Ok(bytes)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{Budget, CHUNK, MIN_BUDGET};
    use crate::core::encoder::encode_stored_in_memory;
    use crate::core::layout::{EntryKind, EntrySpec, PlanOptions};
    use futures_util::stream;
    use std::time::Duration;

    fn plan(sizes: &[usize], threshold: u64) -> Plan {
        let specs = sizes
            .iter()
            .enumerate()
            .map(|(i, s)| EntrySpec {
                name: format!("f{i}"),
                modified_unix: 1,
                kind: EntryKind::File {
                    size: Some(*s as u64),
                    crc32: None,
                    method: Method::Store,
                },
            })
            .collect();
        Plan::with_options(
            specs,
            PlanOptions {
                inline_crc_max_bytes: threshold,
            },
        )
        .expect("plan")
    }

    /// A body whose chunks each take a floor charge first, as the read-ahead's current lane does: a writer
    /// that kept them would wait forever for a third chunk.
    fn floor_charged(data: Vec<u8>, budget: DownloadBudget) -> EntryBody {
        let chunks: Vec<Bytes> = data.chunks(CHUNK).map(Bytes::copy_from_slice).collect();
        Box::pin(stream::iter(chunks).then(move |chunk| {
            let budget = budget.clone();
            async move {
                let mut charge = budget.floor(CHUNK).await;
                charge.shrink_to(chunk.len());
                Ok::<Bytes, BoxError>(charge.attach(chunk))
            }
        }))
    }

    #[tokio::test]
    async fn inline_entries_are_read_whole_within_the_buffer_pool_and_the_floor() {
        let budget = Budget::with_file_buffers(MIN_BUDGET as u64);
        let pool = budget.file_buffer_bytes();
        let download = budget.admit().expect("admitted");
        // Larger than the floor (two chunks), within the pool; the second file keeps its descriptor.
        let sizes = [pool - 1000, pool + 1];
        let plan = Arc::new(plan(&sizes, pool as u64));
        assert!(plan.entries()[0].inline_crc && !plan.entries()[1].inline_crc);
        let contents: Vec<Vec<u8>> = sizes
            .iter()
            .map(|s| (0..*s).map(|i| (i % 251) as u8).collect())
            .collect();
        let bodies: Vec<Result<EntryBody, BoxError>> = contents
            .iter()
            .map(|c| Ok(floor_charged(c.clone(), download.clone())))
            .collect();
        let hooks = StreamHooks {
            on_entry: None,
            budget: Some(download.clone()),
            source_crcs: None,
        };
        let mut s = Box::pin(zip_stream_observed(
            Arc::clone(&plan),
            stream::iter(bodies),
            hooks,
        ));
        let header = s.next().await.expect("header").expect("ok");
        let data = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("no deadlock on the floor")
            .expect("data")
            .expect("ok");
        assert_eq!(data.len(), sizes[0], "the file in one buffer");
        // The buffer holds its charge until the bytes are dropped (written out).
        assert!(budget.in_use() >= sizes[0] + crate::budget::FLOOR);
        let mut out = header.to_vec();
        out.extend_from_slice(&data);
        drop(data);
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk.expect("ok"));
        }
        let refs: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
        assert_eq!(out, encode_stored_in_memory(&plan, &refs).expect("encode"));
        assert_eq!(Some(out.len() as u64), plan.total_len());
        drop(s);
        drop(download);
        assert_eq!(budget.in_use(), 0, "every charge returned");
    }

    #[tokio::test]
    async fn an_inline_entry_of_the_wrong_size_yields_nothing_of_itself() {
        for data in [vec![1u8; 11], vec![1u8; 9]] {
            let plan = Arc::new(plan(&[10], 100));
            let bodies = vec![Ok(body_from_bytes(Bytes::from(data)))];
            let mut s = Box::pin(zip_stream(plan, stream::iter(bodies)));
            match s.next().await {
                Some(Err(ZipStreamError::Encode(
                    EncodeError::TooLong { .. } | EncodeError::TooShort { .. },
                ))) => {}
                other => panic!("expected a size error first, got {other:?}"),
            }
        }
    }

    /// The archive of `data` (one stored entry, no inline CRC) with its source's CRC set to `crc`, or the
    /// stream's error.
    async fn with_source_crc(data: &[u8], crc: Option<u32>) -> Result<Vec<u8>, ZipStreamError> {
        let plan = Arc::new(plan(&[data.len()], 0));
        let slot = SourceCrc::default();
        if let Some(crc) = crc {
            slot.set(data.len() as u64, crc);
        }
        let hooks = StreamHooks {
            source_crcs: Some(Box::new(move |k| (k == 0).then(|| slot.clone()))),
            ..StreamHooks::default()
        };
        let bodies = vec![Ok(body_from_bytes(Bytes::copy_from_slice(data)))];
        let mut s = Box::pin(zip_stream_observed(plan, stream::iter(bodies), hooks));
        let mut out = Vec::new();
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_stored_entry_takes_its_sources_crc_instead_of_hashing_again() {
        let data = b"hello, source crc";
        let right = with_source_crc(data, Some(crc32fast::hash(data)))
            .await
            .expect("archive");
        let hashed_here =
            encode_stored_in_memory(&plan(&[data.len()], 0), &[data]).expect("archive");
        assert_eq!(right, hashed_here);
        // The CRC in the archive is the source's, not one computed here (so the bytes were not hashed
        // twice): a wrong one shows up in the data descriptor.
        let wrong = with_source_crc(data, Some(0x1234_5678))
            .await
            .expect("archive");
        assert_ne!(wrong, hashed_here);
        let descriptor = 0x1234_5678u32.to_le_bytes();
        assert!(wrong.windows(4).any(|w| w == descriptor));
    }

    #[tokio::test]
    async fn a_source_that_ends_without_its_crc_fails_the_archive() {
        match with_source_crc(b"abc", None).await {
            Err(ZipStreamError::Encode(EncodeError::Misuse(_))) => {}
            other => panic!("expected the archive to fail, got {other:?}"),
        }
    }
}
