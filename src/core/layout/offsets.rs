//! The offset map of a known layout: every record's offset and length ([`Layout`]), and the pieces of
//! records that make up any byte range ([`Layout::pieces`]). Built by the planner when every file is stored
//! with a known size; it holds no bytes and renders nothing (the plan does).

use super::{DescriptorPlan, Method, PlanError, PlannedEntry};
use crate::core::header::{
    central_header_len, descriptor_len, end_records_len, local_header_len, EndRecords,
};

/// Which record a segment of the archive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    /// Local file header of entry k.
    LocalHeader(usize),
    /// Data of entry k.
    Data(usize),
    /// Data descriptor of entry k.
    Descriptor(usize),
    /// Central directory header of entry k.
    CentralHeader(usize),
    /// ZIP64 end record, locator (when needed) and end of central directory record.
    End,
}

/// One contiguous segment of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Offset of its first byte.
    pub start: u64,
    /// Its length (never 0).
    pub len: u64,
    /// Which record it is.
    pub kind: SegmentKind,
}

/// The part of one segment that falls into a requested byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// The segment.
    pub kind: SegmentKind,
    /// Offset of the first wanted byte inside the segment.
    pub skip: u64,
    /// Number of wanted bytes.
    pub len: u64,
}

/// Exact layout of an archive whose every length is known: each segment's offset and the total length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    segments: Vec<Segment>,
    local_offsets: Vec<u64>,
    cd_offset: u64,
    cd_size: u64,
    total: u64,
}

impl Layout {
    /// The archive's exact length.
    pub fn total_len(&self) -> u64 {
        self.total
    }

    /// All segments in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Offset of entry k's local header.
    pub fn local_header_offset(&self, k: usize) -> Option<u64> {
        self.local_offsets.get(k).copied()
    }

    /// Offset and size of the central directory.
    pub fn central_directory(&self) -> (u64, u64) {
        (self.cd_offset, self.cd_size)
    }

    /// The pieces of segments that make up bytes `start..end` (end exclusive, clamped to the length), in
    /// order. Empty when the range is empty.
    pub fn pieces(&self, start: u64, end: u64) -> Vec<Piece> {
        let end = end.min(self.total);
        let mut out = Vec::new();
        if start >= end {
            return out;
        }
        // First segment whose end is past `start`.
        let first = self.segments.partition_point(|s| s.start + s.len <= start);
        for seg in &self.segments[first..] {
            if seg.start >= end {
                break;
            }
            let from = start.max(seg.start);
            let to = end.min(seg.start + seg.len);
            out.push(Piece {
                kind: seg.kind,
                skip: from - seg.start,
                len: to - from,
            });
        }
        out
    }
}

/// An entry's data and descriptor lengths when the plan fixes both, else `None`: a deferred descriptor's
/// width and a deflated entry's data length are only known once it has been written.
fn fixed_lengths(e: &PlannedEntry) -> Option<(u64, u64)> {
    let descriptor = match e.descriptor {
        DescriptorPlan::None => 0,
        DescriptorPlan::Known { wide } => descriptor_len(wide),
        DescriptorPlan::Deferred => return None,
    };
    if e.method() != Method::Store {
        return None;
    }
    e.size().map(|size| (size, descriptor))
}

/// The layout when every file is stored with a known size; `None` otherwise.
pub(super) fn compute_layout(entries: &[PlannedEntry]) -> Result<Option<Layout>, PlanError> {
    let Some(lengths) = entries
        .iter()
        .map(fixed_lengths)
        .collect::<Option<Vec<(u64, u64)>>>()
    else {
        return Ok(None);
    };
    let mut segments = Vec::with_capacity(entries.len() * 4 + 1);
    let mut local_offsets = Vec::with_capacity(entries.len());
    let mut at: u64 = 0;
    let mut push = |kind: SegmentKind, len: u64, at: &mut u64| -> Result<(), PlanError> {
        if len > 0 {
            segments.push(Segment {
                start: *at,
                len,
                kind,
            });
            *at = at.checked_add(len).ok_or(PlanError::TooLarge)?;
        }
        Ok(())
    };
    for (k, (e, &(size, descriptor))) in entries.iter().zip(&lengths).enumerate() {
        local_offsets.push(at);
        push(
            SegmentKind::LocalHeader(k),
            local_header_len(e.name.len(), e.local_zip64, e.has_unicode_path()),
            &mut at,
        )?;
        push(SegmentKind::Data(k), size, &mut at)?;
        push(SegmentKind::Descriptor(k), descriptor, &mut at)?;
    }
    let cd_offset = at;
    for (k, (e, &(size, _))) in entries.iter().zip(&lengths).enumerate() {
        let len = central_header_len(
            e.name.len(),
            e.has_unicode_path(),
            size,
            size,
            local_offsets[k],
        );
        push(SegmentKind::CentralHeader(k), len, &mut at)?;
    }
    let cd_size = at - cd_offset;
    let end = EndRecords {
        entries: entries.len() as u64,
        cd_size,
        cd_offset,
    };
    push(
        SegmentKind::End,
        end_records_len(end.needs_zip64()),
        &mut at,
    )?;
    Ok(Some(Layout {
        segments,
        local_offsets,
        cd_offset,
        cd_size,
        total: at,
    }))
}
