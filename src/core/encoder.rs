//! The streaming encoder: a sans-I/O state machine that turns a [`Plan`] and each entry's bytes into archive
//! bytes.
//!
//! The caller walks the entries in order: [`Encoder::begin_entry`] gives the local header (an entry in
//! inline CRC mode takes [`Encoder::begin_entry_with_crc`]: the caller has read the file whole first),
//! [`Encoder::add_stored`] (or [`Encoder::add_plain`] + [`Encoder::add_compressed`] for deflate) accounts for
//! the data the caller passes through untouched, [`Encoder::end_entry`] gives the data descriptor, and
//! [`Encoder::finish`] the central directory and end records. File data never goes through a buffer here:
//! the encoder computes the CRC-32 (crc32fast, SIMD) and counts, so memory is independent of file sizes and
//! grows only with the central directory (one small outcome per entry).
//!
//! A stored entry whose source already hashes what it delivers (the origin fetch keeps a CRC of a file
//! without the manifest's `crc32`, to check a re-read after a break) can skip the second pass:
//! [`Encoder::add_stored_hashed_by_source`] counts without hashing, and the entry ends with
//! [`Encoder::end_entry_with_source_crc`], which takes that CRC only if it covers exactly the bytes counted.
//!
//! It refuses to produce a wrong archive: more bytes than a known size, fewer, a CRC that differs from the
//! manifest's (or from the one the caller put in an inline CRC header), or an offset that drifts from the planned layout are errors, and the caller must abort the
//! download. It must not do I/O or compression itself (see `crate::zipstream`).

use std::borrow::Borrow;
use std::sync::{Arc, OnceLock};

use super::layout::{EntryOutcome, Method, Plan};

/// Why the archive cannot be finished correctly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The caller broke the protocol (entries out of order, data outside an entry). A bug in zipper.
    #[error("encoder misuse: {0}")]
    Misuse(&'static str),
    /// A file sent more bytes than its declared size.
    #[error("{name}: origin sent more than the declared {expected} bytes")]
    TooLong {
        /// Entry name.
        name: String,
        /// Declared size.
        expected: u64,
    },
    /// A file ended before its declared size.
    #[error("{name}: origin sent {actual} bytes, {expected} declared")]
    TooShort {
        /// Entry name.
        name: String,
        /// Declared size.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A file's CRC-32 differs from the manifest's.
    #[error("{name}: CRC-32 {actual:08x} differs from the declared {expected:08x}")]
    CrcMismatch {
        /// Entry name.
        name: String,
        /// Declared CRC.
        expected: u32,
        /// Computed CRC.
        actual: u32,
    },
    /// The produced offsets drifted from the planned layout. A bug in zipper.
    #[error("layout drift at entry {index}: planned offset {planned}, produced {produced}")]
    LayoutDrift {
        /// Entry index.
        index: usize,
        /// Planned offset.
        planned: u64,
        /// Produced offset.
        produced: u64,
    },
}

/// The CRC-32 of an entry's bytes as their source computed them, and how many bytes it covers: set once by
/// the source when it has delivered them all, read by the archive writer at the end of the entry. Clones
/// share one slot.
#[derive(Debug, Clone, Default)]
pub struct SourceCrc(Arc<OnceLock<(u64, u32)>>);

impl SourceCrc {
    /// Records the CRC of the `len` bytes delivered; only the first call counts.
    pub fn set(&self, len: u64, crc32: u32) {
        let _ = self.0.set((len, crc32));
    }

    /// The bytes covered and their CRC, once set.
    pub fn get(&self) -> Option<(u64, u32)> {
        self.0.get().copied()
    }
}

impl PartialEq for SourceCrc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SourceCrc {}

struct Current {
    index: usize,
    offset: u64,
    /// The CRC written in the local header of an inline CRC entry: the data must match it.
    header_crc: Option<u32>,
    hasher: crc32fast::Hasher,
    /// The entry's bytes are hashed by their source ([`Encoder::add_stored_hashed_by_source`]).
    by_source: bool,
    plain: u64,
    stored: u64,
}

/// The encoder state for one archive. `P` is how the plan is held: `&Plan` or `Arc<Plan>`.
pub struct Encoder<P: Borrow<Plan>> {
    plan: P,
    next: usize,
    written: u64,
    outcomes: Vec<EntryOutcome>,
    current: Option<Current>,
}

impl<P: Borrow<Plan>> Encoder<P> {
    /// A new encoder for this plan, positioned at offset 0.
    pub fn new(plan: P) -> Self {
        let entries = plan.borrow().entries().len();
        Encoder {
            plan,
            next: 0,
            written: 0,
            outcomes: Vec::with_capacity(entries),
            current: None,
        }
    }

    /// Bytes produced so far (headers and data the caller reported).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Index of the next entry to begin, or `entries().len()` when all have begun.
    pub fn next_entry(&self) -> usize {
        self.next
    }

    /// The plan.
    pub fn plan(&self) -> &P {
        &self.plan
    }

    /// Name of the entry in progress.
    pub fn current_name(&self) -> Option<String> {
        let cur = self.current.as_ref()?;
        Some(self.plan.borrow().entries()[cur.index].name.clone())
    }

    /// Declared size of the entry in progress, if any.
    pub fn current_declared_size(&self) -> Option<u64> {
        let cur = self.current.as_ref()?;
        self.plan.borrow().entries()[cur.index].size()
    }

    /// Starts the next entry; returns its local header bytes. An entry in inline CRC mode needs
    /// [`Self::begin_entry_with_crc`].
    pub fn begin_entry(&mut self) -> Result<Vec<u8>, EncodeError> {
        self.begin(None)
    }

    /// Starts the next entry, which is in inline CRC mode (the caller has its bytes in hand): `crc32` goes in
    /// its local header, and [`Self::end_entry`] fails unless the data passed matches it.
    pub fn begin_entry_with_crc(&mut self, crc32: u32) -> Result<Vec<u8>, EncodeError> {
        self.begin(Some(crc32))
    }

    fn begin(&mut self, header_crc: Option<u32>) -> Result<Vec<u8>, EncodeError> {
        if self.current.is_some() {
            return Err(EncodeError::Misuse("begin_entry inside an entry"));
        }
        let index = self.next;
        if index >= self.plan.borrow().entries().len() {
            return Err(EncodeError::Misuse("begin_entry past the last entry"));
        }
        if self.plan.borrow().entries()[index].inline_crc != header_crc.is_some() {
            return Err(EncodeError::Misuse(
                "a header CRC is given exactly for inline CRC entries",
            ));
        }
        if let Some(layout) = self.plan.borrow().layout() {
            let planned = layout.local_header_offset(index).unwrap_or(u64::MAX);
            if planned != self.written {
                return Err(EncodeError::LayoutDrift {
                    index,
                    planned,
                    produced: self.written,
                });
            }
        }
        let mut out = Vec::with_capacity(64 + self.plan.borrow().entries()[index].name.len());
        self.plan
            .borrow()
            .local_header_with_crc(index, self.written, header_crc, &mut out);
        self.current = Some(Current {
            index,
            offset: self.written,
            header_crc,
            hasher: crc32fast::Hasher::new(),
            by_source: false,
            plain: 0,
            stored: 0,
        });
        self.next += 1;
        self.written += out.len() as u64;
        Ok(out)
    }

    /// Accounts for uncompressed bytes of the current entry (CRC and size). Fails as soon as a declared size
    /// is exceeded, before the caller passes the excess on.
    pub fn add_plain(&mut self, chunk: &[u8]) -> Result<(), EncodeError> {
        let plan = self.plan.borrow();
        let cur = self
            .current
            .as_mut()
            .ok_or(EncodeError::Misuse("data outside an entry"))?;
        if cur.by_source {
            return Err(EncodeError::Misuse("an entry hashed partly by its source"));
        }
        check_plain_len(plan, cur, chunk.len() as u64)?;
        cur.hasher.update(chunk);
        cur.plain += chunk.len() as u64;
        Ok(())
    }

    /// Like [`Self::add_plain`] for bytes whose CRC was computed elsewhere (deflate: the plain bytes go into
    /// the compressor, not through here): `hasher` holds the CRC state of exactly those `len` bytes.
    pub fn add_plain_hashed(
        &mut self,
        hasher: &crc32fast::Hasher,
        len: u64,
    ) -> Result<(), EncodeError> {
        let plan = self.plan.borrow();
        let cur = self
            .current
            .as_mut()
            .ok_or(EncodeError::Misuse("data outside an entry"))?;
        if cur.by_source {
            return Err(EncodeError::Misuse("an entry hashed partly by its source"));
        }
        check_plain_len(plan, cur, len)?;
        cur.hasher.combine(hasher);
        cur.plain += len;
        Ok(())
    }

    /// Accounts for `len` bytes of entry data written to the archive as they are (compressed bytes for
    /// deflate, the same bytes as [`Self::add_plain`] for store).
    pub fn add_compressed(&mut self, len: u64) -> Result<(), EncodeError> {
        let cur = self
            .current
            .as_mut()
            .ok_or(EncodeError::Misuse("data outside an entry"))?;
        cur.stored += len;
        self.written += len;
        Ok(())
    }

    /// For stored entries: [`Self::add_plain`] and [`Self::add_compressed`] of the same chunk.
    pub fn add_stored(&mut self, chunk: &[u8]) -> Result<(), EncodeError> {
        self.add_plain(chunk)?;
        self.add_compressed(chunk.len() as u64)
    }

    /// [`Self::add_stored`] of `len` bytes that are not hashed here: their source hashes them, and the entry
    /// must end with [`Self::end_entry_with_source_crc`]. An entry is hashed here or by its source, never
    /// partly each.
    pub fn add_stored_hashed_by_source(&mut self, len: u64) -> Result<(), EncodeError> {
        let plan = self.plan.borrow();
        let cur = self
            .current
            .as_mut()
            .ok_or(EncodeError::Misuse("data outside an entry"))?;
        if cur.plain > 0 && !cur.by_source {
            return Err(EncodeError::Misuse("an entry hashed partly by its source"));
        }
        check_plain_len(plan, cur, len)?;
        cur.by_source = true;
        cur.plain += len;
        cur.stored += len;
        self.written += len;
        Ok(())
    }

    /// Ends the current entry: checks its size and CRC and returns its data descriptor (possibly empty).
    pub fn end_entry(&mut self) -> Result<Vec<u8>, EncodeError> {
        self.end(None)
    }

    /// [`Self::end_entry`] for an entry whose bytes its source hashed: `crc32` of the `len` bytes the source
    /// delivered. Refused unless `len` is exactly the bytes counted (and none was hashed here); checked
    /// against the manifest's CRC like any other.
    pub fn end_entry_with_source_crc(
        &mut self,
        len: u64,
        crc32: u32,
    ) -> Result<Vec<u8>, EncodeError> {
        self.end(Some((len, crc32)))
    }

    fn end(&mut self, source: Option<(u64, u32)>) -> Result<Vec<u8>, EncodeError> {
        let cur = self
            .current
            .take()
            .ok_or(EncodeError::Misuse("end_entry outside an entry"))?;
        let entry = &self.plan.borrow().entries()[cur.index];
        if entry.method() == Method::Store && cur.stored != cur.plain {
            return Err(EncodeError::Misuse("stored entry with compressed != plain"));
        }
        if let Some(expected) = entry.size() {
            if cur.plain != expected {
                return Err(EncodeError::TooShort {
                    name: entry.name.clone(),
                    expected,
                    actual: cur.plain,
                });
            }
        }
        let crc = match source {
            None if !cur.by_source => cur.hasher.finalize(),
            Some((len, crc)) if len == cur.plain && (cur.by_source || cur.plain == 0) => crc,
            _ => {
                return Err(EncodeError::Misuse(
                    "a source CRC must cover exactly the bytes its source hashed",
                ))
            }
        };
        if let Some(expected) = entry.known_crc().or(cur.header_crc) {
            if expected != crc {
                return Err(EncodeError::CrcMismatch {
                    name: entry.name.clone(),
                    expected,
                    actual: crc,
                });
            }
        }
        let outcome = EntryOutcome {
            local_header_offset: cur.offset,
            crc32: crc,
            compressed: cur.stored,
            uncompressed: cur.plain,
        };
        let mut out = Vec::new();
        self.plan.borrow().descriptor(cur.index, &outcome, &mut out);
        self.outcomes.push(outcome);
        self.written += out.len() as u64;
        Ok(out)
    }

    /// Writes the central directory and end records once every entry has ended. The returned buffer is the
    /// whole directory (its size is the one memory cost that grows with the entry count).
    pub fn finish(&mut self) -> Result<Vec<u8>, EncodeError> {
        if self.current.is_some() || self.outcomes.len() != self.plan.borrow().entries().len() {
            return Err(EncodeError::Misuse("finish before every entry ended"));
        }
        if let Some(layout) = self.plan.borrow().layout() {
            let (planned, _) = layout.central_directory();
            if planned != self.written {
                return Err(EncodeError::LayoutDrift {
                    index: self.outcomes.len(),
                    planned,
                    produced: self.written,
                });
            }
        }
        let cd_offset = self.written;
        let mut out = Vec::with_capacity(self.outcomes.len() * 96 + 128);
        for (k, outcome) in self.outcomes.iter().enumerate() {
            self.plan.borrow().central_header(k, outcome, &mut out);
        }
        let cd_size = out.len() as u64;
        self.plan.borrow().end_records(cd_offset, cd_size, &mut out);
        self.written += out.len() as u64;
        if let Some(total) = self.plan.borrow().total_len() {
            if total != self.written {
                return Err(EncodeError::LayoutDrift {
                    index: self.outcomes.len(),
                    planned: total,
                    produced: self.written,
                });
            }
        }
        Ok(out)
    }

    /// The outcomes of the entries ended so far (CRCs computed on the way), e.g. to fill a CRC cache.
    pub fn outcomes(&self) -> &[EntryOutcome] {
        &self.outcomes
    }
}

/// Fails when `more` plain bytes would exceed the current entry's declared size.
fn check_plain_len(plan: &Plan, cur: &Current, more: u64) -> Result<(), EncodeError> {
    let entry = &plan.entries()[cur.index];
    if entry.is_dir() && more > 0 {
        return Err(EncodeError::Misuse("data for a directory"));
    }
    if let Some(expected) = entry.size() {
        if cur.plain + more > expected {
            return Err(EncodeError::TooLong {
                name: entry.name.clone(),
                expected,
            });
        }
    }
    Ok(())
}

/// Encodes a whole archive from in-memory contents, one slice per entry (directories take an empty slice).
/// Deflate entries are not supported here (use `crate::zipstream`); for tests, fuzzing and benches.
pub fn encode_stored_in_memory(plan: &Plan, contents: &[&[u8]]) -> Result<Vec<u8>, EncodeError> {
    let mut enc = Encoder::new(plan);
    let mut out = Vec::new();
    for k in 0..plan.entries().len() {
        let data = contents.get(k).copied().unwrap_or_default();
        if plan.entries()[k].inline_crc {
            out.extend_from_slice(&enc.begin_entry_with_crc(crc32fast::hash(data))?);
        } else {
            out.extend_from_slice(&enc.begin_entry()?);
        }
        if plan.entries()[k].method() != Method::Store {
            return Err(EncodeError::Misuse("deflate in encode_stored_in_memory"));
        }
        enc.add_stored(data)?;
        out.extend_from_slice(data);
        out.extend_from_slice(&enc.end_entry()?);
    }
    out.extend_from_slice(&enc.finish()?);
    Ok(out)
}
