//! The archive planner: from a list of entries, the exact layout of the zip zipper will write.
//!
//! [`Plan::new`] decides, per entry, the flags, the version needed, where the sizes and CRC go (local header
//! or data descriptor) and whether ZIP64 is used; when every file is stored with a known size it also
//! computes every record's offset and the archive's exact length ([`Layout`]), and maps any byte range of the
//! output to the records that produce it ([`Layout::pieces`]): that is what `Content-Length`, `Range` and
//! resume are built on. It also renders each record's bytes ([`Plan::local_header`], ...), so the streaming
//! encoder and the Range server produce identical bytes from one definition. This module is pure: no I/O,
//! no clock, and file bytes never pass through it.
//!
//! # Why zipper writes its own format code
//! async_zip writes good archives but cannot say up front how long an archive will be, cannot map an offset
//! to the record that produces it, and decides ZIP64 per its own rules; Content-Length, Range and
//! byte-deterministic output need all three. So the records are encoded here ([`super::header`]).
//!
//! # Format rules followed (APPNOTE 6.3.10 and what real unarchivers need)
//! - Known CRC and size, stored: sizes and CRC in the local header, no data descriptor (Esri/zipstream,
//!   zip_kit `add_stored_entry`); every streaming and central-directory reader handles this.
//! - Known size at most [`PlanOptions::inline_crc_max_bytes`] (setting `inline_crc_max_bytes`), unknown
//!   CRC, stored: "inline CRC" mode. The writer reads the file whole before its local header, so the header
//!   carries the real CRC and sizes, bit 3 is clear and no data descriptor follows: the same bytes as with
//!   a CRC in the manifest. Java's `ZipInputStream` (Android, most upload handlers) refuses a stored entry
//!   with bit 3 whatever the header says ("only DEFLATED entries can have EXT descriptor"), so this is what
//!   makes manifests without CRCs readable by it. The choice depends on the manifest and the setting alone,
//!   so the length, the offsets and the ETag stay deterministic.
//! - Known size over that threshold, unknown CRC, stored: bit 3, sizes in the local header and CRC in a
//!   data descriptor that repeats them (mod_zip's layout "to appease all ZIP software"): a sequential reader
//!   (commons-compress, libarchive streaming) finds the end of the data from the size; STORED + bit 3
//!   without sizes cannot be read sequentially (COMPRESS-555, libarchive#1764).
//! - Unknown size, or deflate: bit 3, zeros in the local header, sizes and CRC in the descriptor. A deflate
//!   entry whose known size may reach 4 GiB gets a ZIP64 extra of zeros and an 8-byte descriptor. An entry
//!   of unknown size carries no ZIP64 extra in its local header (none is known to be needed, and placeholder extras
//!   break Explorer: zip_kit CHANGELOG 2.8.0); if it grows past 4 GiB its descriptor gets 8-byte sizes and
//!   its central header a ZIP64 extra, as Go's archive/zip does. Central-directory readers (unzip, 7z,
//!   bsdtar, zipfile, java.util.zip, Explorer, Archive Utility) read it; a strictly sequential reader may not.
//! - The data descriptor always has its signature (macOS Archive Utility needs it; yazl README), and there
//!   is none when bit 3 is clear (SingleFileZ#131).
//! - ZIP64 exactly when needed: a local ZIP64 extra (both sizes, APPNOTE §4.5.3) only for a known size at or
//!   over 0xFFFFFFFF, written first among the extras (Windows 7 Explorer); a central ZIP64 extra when any of
//!   size, compressed size or offset overflows, then with all four fields and sentinels (The Unarchiver
//!   1.10 parses no other shape: `core/header.rs`, `CentralHeader`); ZIP64 end records when the entry count reaches 65,535 or the directory's size
//!   or offset overflows, even if every file is small (ArchiveStream-php PR #8). Version needed 4.5 only on
//!   entries that use ZIP64, 2.0 elsewhere (client-zip #59: 4.5 everywhere breaks MS Office).
//! - Names are UTF-8 with bit 11 always set (yazl, client-zip do the same). A non-ASCII name also gets the
//!   Info-ZIP Unicode Path extra field (0x7075) in its local and central headers: version 1, the CRC-32 of
//!   the header's name bytes, then the UTF-8 name (APPNOTE 6.3.10 §4.6.9; Info-ZIP's extra field notes,
//!   extrafld.txt, "Info-ZIP Unicode Path Extra Field"). Readers that ignore bit 11 (Windows' built-in
//!   "compressed folders"; client-zip#23, mod_zip's `X-Archive-Charset` path) take the name from it, and a
//!   reader only trusts it while the CRC matches the header's name. ASCII names carry no such field, byte for
//!   byte as before. The field sits after the ZIP64 and timestamp extras and counts in the planned lengths,
//!   so Content-Length and the Range offset map stay exact. A non-ASCII name over
//!   [`MAX_UNICODE_PATH_NAME_LEN`] bytes (the 16-bit extra field length could not hold it) keeps bit 11 only.
//! - DOS time in UTC plus the extended timestamp "UT" extra with the exact mtime (client-zip README,
//!   zip_kit); version made by Unix with mode bits in the external attributes (0644 files, 0755 directories
//!   plus the DOS directory bit).
//! - Same entries in, same bytes out: nothing depends on the clock or the process.

mod offsets;

use super::dostime::{unix_mtime_i32, DosDateTime};
use super::header::{
    central_needs_zip64, CentralHeader, Descriptor, EndRecords, LocalHeader, LocalSizes,
};
use super::spec::*;
use offsets::compute_layout;

pub use offsets::{Layout, Piece, Segment, SegmentKind};

/// How a file's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Stored as is (method 0).
    Store,
    /// Deflated (method 8).
    Deflate,
}

/// What an entry is, as far as the layout is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory: no data.
    Directory,
    /// A file.
    File {
        /// Uncompressed size, when known up front.
        size: Option<u64>,
        /// CRC-32 of the content, when known up front.
        crc32: Option<u32>,
        /// Store or deflate.
        method: Method,
    },
}

/// One entry to plan: its name in the archive (already normalised), modification time and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySpec {
    /// Name inside the archive, `/`-separated; directories end in `/`.
    pub name: String,
    /// Modification time, Unix seconds (UTC).
    pub modified_unix: i64,
    /// Directory or file.
    pub kind: EntryKind,
}

/// Why a list of entries cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A name longer than the 16-bit length field allows.
    #[error("entry {index}: name is {len} bytes, over the zip limit of 65535")]
    NameTooLong {
        /// Entry index.
        index: usize,
        /// Name length in bytes.
        len: usize,
    },
    /// An empty name.
    #[error("entry {index}: empty name")]
    EmptyName {
        /// Entry index.
        index: usize,
    },
    /// Offsets would overflow 64 bits.
    #[error("archive would be larger than 2^64 bytes")]
    TooLarge,
}

/// What the planner takes from the server's settings rather than the manifest. Same entries and options
/// in, same bytes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanOptions {
    /// A stored file of known size up to this many bytes whose CRC the manifest lacks is planned in "inline
    /// CRC" mode (read whole before its local header, no data descriptor). 0: never (every such file gets
    /// a data descriptor).
    pub inline_crc_max_bytes: u64,
}

/// Where an entry's sizes and CRC go, as decided by the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptorPlan {
    /// No data descriptor: everything is in the local header.
    None,
    /// A data descriptor whose width is known up front (sizes known).
    Known {
        /// 8-byte sizes.
        wide: bool,
    },
    /// A data descriptor whose width depends on the sizes found while streaming.
    Deferred,
}

/// One planned entry: everything about its records that does not depend on its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    /// Name inside the archive.
    pub name: String,
    /// Modification time (Unix seconds) as given.
    pub modified_unix: i64,
    /// Directory or file, with what is known up front. A known size of 0 implies a CRC of 0.
    pub kind: EntryKind,
    /// General purpose flags.
    pub flags: u16,
    /// Whether the local header carries a ZIP64 extra (known size at or over the threshold).
    pub local_zip64: bool,
    /// Where the CRC and sizes go.
    pub descriptor: DescriptorPlan,
    /// "Inline CRC" mode: the CRC is not known up front, yet it goes in the local header (no descriptor).
    /// The writer must read the file whole and pass its CRC when it begins the entry.
    pub inline_crc: bool,
    dos: DosDateTime,
    mtime: i32,
    /// CRC-32 of the name's bytes when both headers carry the Unicode Path extra field (non-ASCII names).
    name_crc32: Option<u32>,
}

impl PlannedEntry {
    /// Whether both headers carry the Info-ZIP Unicode Path extra field: non-ASCII names (up to
    /// [`MAX_UNICODE_PATH_NAME_LEN`] bytes, so that the 16-bit extra field length holds it).
    pub fn has_unicode_path(&self) -> bool {
        self.name_crc32.is_some()
    }

    /// Whether the entry is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, EntryKind::Directory)
    }

    /// Known uncompressed size (0 for directories).
    pub fn size(&self) -> Option<u64> {
        match self.kind {
            EntryKind::Directory => Some(0),
            EntryKind::File { size, .. } => size,
        }
    }

    /// CRC known up front (0 for directories).
    pub fn known_crc(&self) -> Option<u32> {
        match self.kind {
            EntryKind::Directory => Some(0),
            EntryKind::File { crc32, .. } => crc32,
        }
    }

    /// The compression method.
    pub fn method(&self) -> Method {
        match self.kind {
            EntryKind::Directory => Method::Store,
            EntryKind::File { method, .. } => method,
        }
    }

    fn method_id(&self) -> u16 {
        match self.method() {
            Method::Store => METHOD_STORE,
            Method::Deflate => METHOD_DEFLATE,
        }
    }

    fn external_attrs(&self) -> u32 {
        if self.is_dir() {
            (UNIX_DIR_MODE << 16) | DOS_DIRECTORY_ATTR
        } else {
            UNIX_FILE_MODE << 16
        }
    }

    fn version_needed(&self, zip64: bool) -> u16 {
        if zip64 {
            VERSION_NEEDED_ZIP64
        } else {
            VERSION_NEEDED_DEFAULT
        }
    }
}

/// What is known about an entry once its data has been written (or, for a known layout, up front).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryOutcome {
    /// Offset of the entry's local header.
    pub local_header_offset: u64,
    /// CRC-32 of the uncompressed bytes.
    pub crc32: u32,
    /// Bytes of entry data in the archive.
    pub compressed: u64,
    /// Uncompressed bytes.
    pub uncompressed: u64,
}

/// The archive's plan: per-entry decisions plus, when every length is known, the exact layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    entries: Vec<PlannedEntry>,
    layout: Option<Layout>,
}

impl Plan {
    /// Plans an archive of these entries, in this order, with default options (no inline CRC mode: every
    /// stored file without a CRC gets a data descriptor).
    pub fn new(specs: Vec<EntrySpec>) -> Result<Plan, PlanError> {
        Plan::with_options(specs, PlanOptions::default())
    }

    /// Plans an archive of these entries, in this order.
    pub fn with_options(specs: Vec<EntrySpec>, options: PlanOptions) -> Result<Plan, PlanError> {
        let mut entries = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            entries.push(plan_entry(index, spec, options)?);
        }
        let layout = compute_layout(&entries)?;
        Ok(Plan { entries, layout })
    }

    /// The planned entries.
    pub fn entries(&self) -> &[PlannedEntry] {
        &self.entries
    }

    /// The exact layout, when every file is stored with a known size.
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    /// The exact archive length, when known up front.
    pub fn total_len(&self) -> Option<u64> {
        self.layout.as_ref().map(Layout::total_len)
    }

    /// Renders entry k's local header for a header starting at `offset` (an entry in inline CRC mode gets a
    /// CRC of 0: use [`Plan::local_header_with_crc`]).
    pub fn local_header(&self, k: usize, offset: u64, out: &mut Vec<u8>) {
        self.local_header_with_crc(k, offset, None, out);
    }

    /// Renders entry k's local header for a header starting at `offset`; `crc32` is the CRC of an entry in
    /// inline CRC mode (read whole by the caller), ignored for the others.
    pub fn local_header_with_crc(
        &self,
        k: usize,
        offset: u64,
        crc32: Option<u32>,
        out: &mut Vec<u8>,
    ) {
        let Some(e) = self.entries.get(k) else {
            return;
        };
        let size = e.size();
        let sizes = match (e.descriptor, size) {
            _ if e.method() == Method::Deflate && e.local_zip64 => LocalSizes::DeferredZip64,
            (DescriptorPlan::Deferred, _) | (_, None) => LocalSizes::Deferred,
            (_, Some(s)) if e.local_zip64 => LocalSizes::Zip64 {
                compressed: s,
                uncompressed: s,
            },
            (_, Some(s)) => LocalSizes::Plain {
                compressed: s,
                uncompressed: s,
            },
        };
        let crc32 = match e.descriptor {
            DescriptorPlan::None => e.known_crc().or(crc32).unwrap_or(0),
            _ => 0,
        };
        let zip64 = e.local_zip64 || offset >= ZIP64_BYTES_THRESHOLD;
        LocalHeader {
            version_needed: e.version_needed(zip64),
            flags: e.flags,
            method: e.method_id(),
            dos_time: e.dos.time,
            dos_date: e.dos.date,
            crc32,
            sizes,
            name: e.name.as_bytes(),
            mtime: e.mtime,
            unicode_path: e.name_crc32,
        }
        .write(out);
    }

    /// Whether entry k's descriptor uses 8-byte sizes, given its outcome.
    pub fn descriptor_is_wide(&self, k: usize, outcome: &EntryOutcome) -> bool {
        match self.entries.get(k).map(|e| e.descriptor) {
            Some(DescriptorPlan::Known { wide }) => wide,
            Some(DescriptorPlan::Deferred) => {
                outcome.compressed >= ZIP64_BYTES_THRESHOLD
                    || outcome.uncompressed >= ZIP64_BYTES_THRESHOLD
            }
            _ => false,
        }
    }

    /// Renders entry k's data descriptor (nothing when the entry has none).
    pub fn descriptor(&self, k: usize, outcome: &EntryOutcome, out: &mut Vec<u8>) {
        if matches!(
            self.entries.get(k).map(|e| e.descriptor),
            None | Some(DescriptorPlan::None)
        ) {
            return;
        }
        Descriptor {
            crc32: outcome.crc32,
            compressed: outcome.compressed,
            uncompressed: outcome.uncompressed,
            wide: self.descriptor_is_wide(k, outcome),
        }
        .write(out);
    }

    /// Renders entry k's central directory header.
    pub fn central_header(&self, k: usize, outcome: &EntryOutcome, out: &mut Vec<u8>) {
        let Some(e) = self.entries.get(k) else {
            return;
        };
        let zip64 = e.local_zip64
            || central_needs_zip64(
                outcome.uncompressed,
                outcome.compressed,
                outcome.local_header_offset,
            );
        CentralHeader {
            version_needed: e.version_needed(zip64),
            flags: e.flags,
            method: e.method_id(),
            dos_time: e.dos.time,
            dos_date: e.dos.date,
            crc32: outcome.crc32,
            compressed: outcome.compressed,
            uncompressed: outcome.uncompressed,
            local_header_offset: outcome.local_header_offset,
            external_attrs: e.external_attrs(),
            name: e.name.as_bytes(),
            mtime: e.mtime,
            unicode_path: e.name_crc32,
        }
        .write(out);
    }

    /// Renders the end records for a central directory of `cd_size` bytes at `cd_offset`.
    pub fn end_records(&self, cd_offset: u64, cd_size: u64, out: &mut Vec<u8>) {
        EndRecords {
            entries: self.entries.len() as u64,
            cd_size,
            cd_offset,
        }
        .write(out);
    }

    /// For a known layout: entry k's outcome given its CRC (`None` uses the CRC known up front). `None` when
    /// there is no layout, no such entry, or the CRC is known neither way.
    pub fn known_outcome(&self, k: usize, crc32: Option<u32>) -> Option<EntryOutcome> {
        let layout = self.layout.as_ref()?;
        let e = self.entries.get(k)?;
        let size = e.size()?;
        Some(EntryOutcome {
            local_header_offset: layout.local_header_offset(k)?,
            crc32: e.known_crc().or(crc32)?,
            compressed: size,
            uncompressed: size,
        })
    }

    /// Renders the bytes of one segment of a known layout. `crc_of(k)` supplies CRCs not known up front;
    /// returns `None` when a needed CRC is missing (or there is no layout).
    pub fn render_segment(
        &self,
        kind: SegmentKind,
        crc_of: &dyn Fn(usize) -> Option<u32>,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        let layout = self.layout.as_ref()?;
        match kind {
            SegmentKind::LocalHeader(k) => {
                let crc = match self.entries.get(k)? {
                    e if e.inline_crc => Some(crc_of(k)?),
                    _ => None,
                };
                self.local_header_with_crc(k, layout.local_header_offset(k)?, crc, out)
            }
            SegmentKind::Data(_) => return None,
            SegmentKind::Descriptor(k) => {
                self.descriptor(k, &self.known_outcome(k, crc_of(k))?, out)
            }
            SegmentKind::CentralHeader(k) => {
                self.central_header(k, &self.known_outcome(k, crc_of(k))?, out)
            }
            SegmentKind::End => {
                let (cd_offset, cd_size) = layout.central_directory();
                self.end_records(cd_offset, cd_size, out)
            }
        }
        Some(())
    }

    /// Whether rendering this segment needs a CRC that the manifest did not give.
    pub fn segment_needs_crc(&self, kind: SegmentKind) -> Option<usize> {
        match kind {
            SegmentKind::LocalHeader(k) => self.entries.get(k)?.inline_crc.then_some(k),
            SegmentKind::Descriptor(k) | SegmentKind::CentralHeader(k) => {
                match self.entries.get(k)?.known_crc() {
                    Some(_) => None,
                    None => Some(k),
                }
            }
            _ => None,
        }
    }
}

fn plan_entry(
    index: usize,
    spec: EntrySpec,
    options: PlanOptions,
) -> Result<PlannedEntry, PlanError> {
    let len = spec.name.len();
    if len == 0 {
        return Err(PlanError::EmptyName { index });
    }
    if len > MAX_NAME_LEN {
        return Err(PlanError::NameTooLong { index, len });
    }
    let kind = match spec.kind {
        EntryKind::File {
            size: Some(0),
            crc32: None,
            method,
        } => EntryKind::File {
            size: Some(0),
            crc32: Some(0),
            method,
        },
        other => other,
    };
    let mut inline_crc = false;
    let (local_zip64, descriptor) = match kind {
        EntryKind::Directory => (false, DescriptorPlan::None),
        EntryKind::File {
            size: Some(size),
            crc32,
            method: Method::Store,
        } => {
            let wide = size >= ZIP64_BYTES_THRESHOLD;
            inline_crc = crc32.is_none() && size <= options.inline_crc_max_bytes;
            let descriptor = if crc32.is_some() || inline_crc {
                DescriptorPlan::None
            } else {
                DescriptorPlan::Known { wide }
            };
            (wide, descriptor)
        }
        // Deflate with a known size that may reach 4 GiB compressed (deflate can grow incompressible data
        // slightly): a ZIP64 extra of zeros in the local header and an 8-byte descriptor, so the local
        // header and the descriptor agree (APPNOTE §4.3.9.2).
        EntryKind::File {
            size: Some(size),
            method: Method::Deflate,
            ..
        } if size.saturating_add(size / 1000 + 1024) >= ZIP64_BYTES_THRESHOLD => {
            (true, DescriptorPlan::Known { wide: true })
        }
        EntryKind::File { .. } => (false, DescriptorPlan::Deferred),
    };
    let flags = FLAG_UTF8
        | if descriptor == DescriptorPlan::None {
            0
        } else {
            FLAG_DATA_DESCRIPTOR
        };
    // Bit 11 alone leaves names garbled in readers that ignore it (Windows' built-in zip folders): non-ASCII
    // names also get the Unicode Path field. ASCII names read the same everywhere and stay without it.
    let name_crc32 = (!spec.name.is_ascii() && len <= MAX_UNICODE_PATH_NAME_LEN)
        .then(|| crc32fast::hash(spec.name.as_bytes()));
    Ok(PlannedEntry {
        name_crc32,
        dos: DosDateTime::from_unix(spec.modified_unix),
        mtime: unix_mtime_i32(spec.modified_unix),
        name: spec.name,
        modified_unix: spec.modified_unix,
        kind,
        flags,
        local_zip64,
        descriptor,
        inline_crc,
    })
}

#[cfg(test)]
mod tests;
