//! The whole-archive body of a download: the files fetched ahead of the writer within the budget
//! ([`crate::prefetch`]), the zip stream over them, and the CRCs recorded for later resumes.
//!
//! Before the response head is sent, the first file's origin must have answered with its first bytes
//! (docs/contract.md, Failures): a first file that fails (404, refused host, retries spent) becomes a JSON error, not a
//! `200` and a truncated body. This module moves bytes; it has no format logic of its own.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use super::download::Download;
use super::request_error::RequestError;
use crate::core::encoder::SourceCrc;
use crate::metrics::OriginKind;
use crate::prefetch::prefetch_until;
use crate::zipstream::{zip_stream_observed, BoxError, EntryBody, StreamHooks, ZipStreamError};

/// The archive stream of `dl`, once its first file has answered; `cancel` stops every fetch.
pub async fn full_archive(
    dl: Arc<Download>,
    cancel: &CancellationToken,
) -> Result<impl Stream<Item = Result<Bytes, ZipStreamError>> + Send + 'static, RequestError> {
    let opener = Arc::clone(&dl);
    // A file without the manifest's CRC is hashed by its fetch anyway (to check a re-read after a break):
    // the fetch hands that CRC to the encoder, which then does not hash the bytes a second time.
    let crcs: Arc<Vec<Option<SourceCrc>>> = Arc::new(
        dl.files
            .iter()
            .map(|f| f.source.crc32.is_none().then(SourceCrc::default))
            .collect(),
    );
    let fetch_crcs = Arc::clone(&crcs);
    let mut bodies = prefetch_until(
        dl.files.len(),
        dl.state.prefetch,
        dl.budget.clone(),
        cancel,
        move |i, reads| match opener.files.get(i) {
            Some(f) => {
                let crc = fetch_crcs.get(i).cloned().flatten();
                opener.open_reads(&f.source, 0, None, OriginKind::File, reads, crc)
            }
            None => Box::pin(stream::iter([Err::<Bytes, BoxError>(
                "no such file entry".into(),
            )])),
        },
    );
    // The first file's first answer, before the head: its failure is still a JSON error.
    let mut first: Vec<Result<EntryBody, BoxError>> = Vec::new();
    if !dl.files.is_empty() {
        let mut body = match bodies.next().await {
            Some(Ok(body)) => body,
            Some(Err(e)) => return Err(RequestError::first_file(&dl.name_of(0), e)),
            None => return Err(RequestError::first_file(&dl.name_of(0), "no body".into())),
        };
        let head: Vec<Result<Bytes, BoxError>> = match body.next().await {
            Some(Err(e)) => {
                let name = dl
                    .files
                    .first()
                    .map(|f| dl.name_of(f.entry))
                    .unwrap_or_default();
                return Err(RequestError::first_file(&name, e));
            }
            Some(Ok(chunk)) => vec![Ok(chunk)],
            None => Vec::new(),
        };
        first.push(Ok(Box::pin(stream::iter(head).chain(body))));
    }
    let bodies = stream::iter(first).chain(bodies);
    let observer = Arc::clone(&dl);
    let on_entry = Box::new(move |entry: usize, crc: u32| {
        if let Some(file) = observer.file_of(entry) {
            observer.learn_crc(file, crc);
        }
    });
    let index = Arc::clone(&dl);
    let source_crcs = Box::new(move |entry: usize| {
        index
            .file_index(entry)
            .and_then(|i| crcs.get(i).cloned().flatten())
    });
    let hooks = StreamHooks {
        on_entry: Some(on_entry),
        budget: Some(dl.budget.clone()),
        source_crcs: Some(source_crcs),
    };
    Ok(zip_stream_observed(Arc::clone(&dl.plan), bodies, hooks))
}
