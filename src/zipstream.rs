//! The async edge of the zip engine: drives [`Encoder`] over a stream of entry bodies and yields the archive
//! as a stream of [`Bytes`].
//!
//! Stored data passes through as the very `Bytes` the source produced (no copy); deflate entries go through
//! async-compression. Output is pulled: nothing is read from a body until the consumer asks for the next
//! chunk, so a slow client slows the sources down and memory stays at one chunk per entry in flight plus the
//! central directory. On any error the stream yields that error and ends; the caller must then abort the
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

use crate::core::encoder::{EncodeError, Encoder};
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
    Stored(EntryBody),
    Deflated(Box<Deflater>),
    Central,
    Done,
}

/// Called with (entry index, CRC-32) each time a file entry has been written completely.
pub type OnEntry = Box<dyn FnMut(usize, u32) + Send>;

struct State<S> {
    enc: Encoder<Arc<Plan>>,
    bodies: S,
    phase: Phase,
    on_entry: Option<OnEntry>,
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
    zip_stream_observed(plan, bodies, None)
}

/// [`zip_stream`], calling `on_entry` with each file entry's CRC once it is written (to fill a CRC cache).
pub fn zip_stream_observed<S>(
    plan: Arc<Plan>,
    bodies: S,
    on_entry: Option<OnEntry>,
) -> impl Stream<Item = Result<Bytes, ZipStreamError>> + Send
where
    S: Stream<Item = Result<EntryBody, BoxError>> + Send + Unpin + 'static,
{
    let state = State {
        enc: Encoder::new(plan),
        bodies,
        phase: Phase::NextEntry,
        on_entry,
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
                let mut header = st.enc.begin_entry()?;
                if entry.is_dir() {
                    header.extend_from_slice(&st.enc.end_entry()?);
                    st.phase = Phase::NextEntry;
                } else {
                    let body = match st.bodies.next().await {
                        Some(Ok(body)) => body,
                        Some(Err(source)) => {
                            return Err(ZipStreamError::Source {
                                entry: entry.name.clone(),
                                source,
                            })
                        }
                        None => return Err(ZipStreamError::MissingBody(entry.name.clone())),
                    };
                    st.phase = match entry.method() {
                        Method::Store => Phase::Stored(body),
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
            Phase::Stored(mut body) => match body.next().await {
                Some(Ok(chunk)) => {
                    st.enc.add_stored(&chunk)?;
                    st.phase = Phase::Stored(body);
                    if !chunk.is_empty() {
                        return Ok(Some((chunk, st)));
                    }
                }
                Some(Err(source)) => return Err(source_error(&st, source)),
                None => {
                    let desc = st.enc.end_entry()?;
                    st.report_last();
                    st.phase = Phase::NextEntry;
                    if !desc.is_empty() {
                        return Ok(Some((Bytes::from(desc), st)));
                    }
                }
            },
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

impl<S> State<S> {
    /// Reports the entry that just ended to the observer.
    fn report_last(&mut self) {
        if let (Some(cb), Some(outcome)) = (self.on_entry.as_mut(), self.enc.outcomes().last()) {
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
