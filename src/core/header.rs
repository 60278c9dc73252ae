//! Byte encoders for every zip record zipper writes: local file header, data descriptor, central directory
//! header, ZIP64 end record and locator, end of central directory; plus the extra fields (ZIP64, extended
//! timestamp, Info-ZIP Unicode Path).
//!
//! Each function writes exactly one record, little-endian, field by field with its APPNOTE name, and each
//! has a matching `*_len` used by the layout planner; the property tests in [`super::layout`] check that
//! planned lengths equal produced ones. This module decides nothing about *when* ZIP64 is needed; callers
//! pass that in (see [`super::layout`]).

use super::spec::*;

/// Appends a little-endian u16.
fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// Appends a little-endian u32.
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// Appends a little-endian u64.
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A value for a 32-bit size/offset slot: the value itself, or the sentinel when it needs ZIP64.
fn u32_or_sentinel(v: u64) -> u32 {
    if v >= ZIP64_BYTES_THRESHOLD {
        U32_SENTINEL
    } else {
        // Below the threshold, so it fits.
        u32::try_from(v).unwrap_or(U32_SENTINEL)
    }
}

/// Length of a 16-bit length field; callers have checked names against [`MAX_NAME_LEN`].
fn len_u16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

/// What the local header says about sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalSizes {
    /// Sizes in the 32-bit fields (both values below the ZIP64 threshold).
    Plain {
        /// Compressed size.
        compressed: u64,
        /// Uncompressed size.
        uncompressed: u64,
    },
    /// Both size fields are the sentinel and a ZIP64 extra field carries them (APPNOTE §4.5.3: in a local
    /// header the extra must hold both).
    Zip64 {
        /// Compressed size.
        compressed: u64,
        /// Uncompressed size.
        uncompressed: u64,
    },
    /// Unknown until the data descriptor: zeros (APPNOTE §4.4.4 bit 3).
    Deferred,
    /// Unknown until an 8-byte data descriptor: zeros, plus a ZIP64 extra of zeros so that readers know
    /// the descriptor is wide (APPNOTE §4.3.9.2; what Info-ZIP writes for large streamed entries).
    DeferredZip64,
}

impl LocalSizes {
    /// Whether the local header carries a ZIP64 extra field.
    pub fn has_zip64_extra(&self) -> bool {
        matches!(self, LocalSizes::Zip64 { .. } | LocalSizes::DeferredZip64)
    }
}

/// The fields of a local file header (APPNOTE §4.3.7).
#[derive(Debug, Clone, Copy)]
pub struct LocalHeader<'a> {
    /// Version needed to extract.
    pub version_needed: u16,
    /// General purpose bit flag.
    pub flags: u16,
    /// Compression method.
    pub method: u16,
    /// DOS last-modified time.
    pub dos_time: u16,
    /// DOS last-modified date.
    pub dos_date: u16,
    /// CRC-32, or 0 when it follows in a data descriptor.
    pub crc32: u32,
    /// Sizes.
    pub sizes: LocalSizes,
    /// File name bytes (UTF-8).
    pub name: &'a [u8],
    /// Unix mtime for the extended timestamp extra field.
    pub mtime: i32,
    /// `Some(crc32 of name)`: the header also carries the Unicode Path extra field repeating `name`.
    pub unicode_path: Option<u32>,
}

impl LocalHeader<'_> {
    /// Encoded length of this header.
    pub fn encoded_len(&self) -> u64 {
        local_header_len(
            self.name.len(),
            self.sizes.has_zip64_extra(),
            self.unicode_path.is_some(),
        )
    }

    /// Appends the encoded header.
    pub fn write(&self, out: &mut Vec<u8>) {
        let zip64 = self.sizes.has_zip64_extra();
        let (compressed, uncompressed) = match self.sizes {
            LocalSizes::Plain {
                compressed,
                uncompressed,
            } => (u32_or_sentinel(compressed), u32_or_sentinel(uncompressed)),
            LocalSizes::Zip64 { .. } | LocalSizes::DeferredZip64 => (U32_SENTINEL, U32_SENTINEL),
            LocalSizes::Deferred => (0, 0),
        };
        let extra_len = if zip64 { 20 } else { 0 }
            + EXTENDED_TIMESTAMP_LEN
            + unicode_path_len(self.name.len(), self.unicode_path.is_some());
        put_u32(out, LOCAL_FILE_HEADER_SIG); // local file header signature
        put_u16(out, self.version_needed); // version needed to extract
        put_u16(out, self.flags); // general purpose bit flag
        put_u16(out, self.method); // compression method
        put_u16(out, self.dos_time); // last mod file time
        put_u16(out, self.dos_date); // last mod file date
        put_u32(out, self.crc32); // crc-32
        put_u32(out, compressed); // compressed size
        put_u32(out, uncompressed); // uncompressed size
        put_u16(out, len_u16(self.name.len())); // file name length
        put_u16(out, len_u16(usize::try_from(extra_len).unwrap_or(0))); // extra field length
        out.extend_from_slice(self.name); // file name
                                          // The ZIP64 extra goes first: Windows 7 Explorer only finds it there (zip_kit IMPLEMENTATION_DETAILS).
        let zip64_sizes = match self.sizes {
            LocalSizes::Zip64 {
                compressed,
                uncompressed,
            } => Some((compressed, uncompressed)),
            LocalSizes::DeferredZip64 => Some((0, 0)),
            _ => None,
        };
        if let Some((compressed, uncompressed)) = zip64_sizes {
            put_u16(out, ZIP64_EXTRA_ID);
            put_u16(out, 16);
            put_u64(out, uncompressed); // original size
            put_u64(out, compressed); // compressed size
        }
        write_extended_timestamp(out, self.mtime);
        write_unicode_path(out, self.name, self.unicode_path);
    }
}

/// Length of a local header with a name of `name_len` bytes, with or without the ZIP64 extra and the
/// Unicode Path extra.
pub fn local_header_len(name_len: usize, zip64: bool, unicode_path: bool) -> u64 {
    LOCAL_HEADER_FIXED_LEN
        + name_len as u64
        + if zip64 { 20 } else { 0 }
        + EXTENDED_TIMESTAMP_LEN
        + unicode_path_len(name_len, unicode_path)
}

/// Length of the Unicode Path extra field for a name of `name_len` bytes (0 when there is none).
pub fn unicode_path_len(name_len: usize, present: bool) -> u64 {
    if present {
        UNICODE_PATH_FIXED_LEN + name_len as u64
    } else {
        0
    }
}

/// Appends the Info-ZIP Unicode Path extra field when `name_crc32` is given (APPNOTE §4.6.9): version 1, the
/// CRC-32 of the header's name bytes (a reader uses the field only while it matches the header's name), then
/// the UTF-8 name. zipper's header names are already UTF-8, so the field repeats them; it is for readers that
/// ignore bit 11 (Windows' built-in zip folders).
fn write_unicode_path(out: &mut Vec<u8>, name: &[u8], name_crc32: Option<u32>) {
    let Some(crc) = name_crc32 else {
        return;
    };
    put_u16(out, UNICODE_PATH_ID);
    put_u16(out, len_u16(name.len() + 5)); // data size: version, name CRC-32, name
    out.push(UNICODE_PATH_VERSION); // version
    put_u32(out, crc); // NameCRC32 of the header's file name field
    out.extend_from_slice(name); // UnicodeName, UTF-8
}

/// Appends the extended timestamp extra field, mtime only. The central copy has the same shape: its flags
/// describe the local field and it carries mtime only (Info-ZIP extrafld.txt).
fn write_extended_timestamp(out: &mut Vec<u8>, mtime: i32) {
    put_u16(out, EXTENDED_TIMESTAMP_ID);
    put_u16(out, 5);
    out.push(EXTENDED_TIMESTAMP_MTIME);
    out.extend_from_slice(&mtime.to_le_bytes());
}

/// A data descriptor (APPNOTE §4.3.9), always with its signature.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor {
    /// CRC-32 of the uncompressed data.
    pub crc32: u32,
    /// Compressed size.
    pub compressed: u64,
    /// Uncompressed size.
    pub uncompressed: u64,
    /// 8-byte sizes (the entry is ZIP64) or 4-byte sizes.
    pub wide: bool,
}

impl Descriptor {
    /// Encoded length.
    pub fn encoded_len(&self) -> u64 {
        descriptor_len(self.wide)
    }

    /// Appends the encoded descriptor. Callers pick `wide` when either size needs it.
    pub fn write(&self, out: &mut Vec<u8>) {
        put_u32(out, DATA_DESCRIPTOR_SIG); // optional signature, written always
        put_u32(out, self.crc32); // crc-32
        if self.wide {
            put_u64(out, self.compressed); // compressed size
            put_u64(out, self.uncompressed); // uncompressed size
        } else {
            put_u32(out, u32_or_sentinel(self.compressed)); // compressed size
            put_u32(out, u32_or_sentinel(self.uncompressed)); // uncompressed size
        }
    }
}

/// Length of a data descriptor.
pub fn descriptor_len(wide: bool) -> u64 {
    if wide {
        DESCRIPTOR_LEN_64
    } else {
        DESCRIPTOR_LEN_32
    }
}

/// The fields of a central directory header (APPNOTE §4.3.12). Sizes and offset are the real values. When
/// any of them overflows its 32-bit slot, the writer puts the sentinel in *all four* slots (both sizes, the
/// offset and the disk number start) and carries all four values in the ZIP64 extra field
/// ([`CENTRAL_ZIP64_EXTRA_LEN`]). That is still exactly "a field for each sentinel" (APPNOTE §4.5.3), so
/// every reader that follows the rule reads the same values; and it is the only shape that The
/// Unarchiver's engine as Debian ships it (`unar`/`lsar` 1.10.1; the app before 3.11.1, per zip_kit)
/// parses: it fails with "Archive parsing failed!" at an offset-only extra and at a three-field one
/// (measured on hand-built 4.1 GiB archives; `tests/it/readers.rs` keeps the cell). zip_kit writes
/// the same shape for the same reader (lib/zip_kit/zip_writer.rb, disk number 0xFFFF). Local headers
/// are unchanged: no placeholder fields there (zip_kit CHANGELOG 2.8.0, Explorer).
#[derive(Debug, Clone, Copy)]
pub struct CentralHeader<'a> {
    /// Version needed to extract.
    pub version_needed: u16,
    /// General purpose bit flag (same as the local header).
    pub flags: u16,
    /// Compression method.
    pub method: u16,
    /// DOS time.
    pub dos_time: u16,
    /// DOS date.
    pub dos_date: u16,
    /// CRC-32.
    pub crc32: u32,
    /// Compressed size.
    pub compressed: u64,
    /// Uncompressed size.
    pub uncompressed: u64,
    /// Offset of the local header from the start of the archive.
    pub local_header_offset: u64,
    /// External file attributes.
    pub external_attrs: u32,
    /// Name bytes.
    pub name: &'a [u8],
    /// Unix mtime for the extended timestamp.
    pub mtime: i32,
    /// `Some(crc32 of name)`: the header also carries the Unicode Path extra field repeating `name`.
    pub unicode_path: Option<u32>,
}

/// Length of the central ZIP64 extra field when one is written: header 4, uncompressed 8, compressed 8,
/// offset 8, disk number start 4 (see [`CentralHeader`] for why all four).
pub const CENTRAL_ZIP64_EXTRA_LEN: u64 = 4 + 8 + 8 + 8 + 4;

/// Whether a central header with these values carries a ZIP64 extra field.
pub fn central_needs_zip64(uncompressed: u64, compressed: u64, offset: u64) -> bool {
    [uncompressed, compressed, offset]
        .iter()
        .any(|v| *v >= ZIP64_BYTES_THRESHOLD)
}

/// Length of the central ZIP64 extra for these values: [`CENTRAL_ZIP64_EXTRA_LEN`] or nothing.
fn central_zip64_len(uncompressed: u64, compressed: u64, offset: u64) -> u64 {
    if central_needs_zip64(uncompressed, compressed, offset) {
        CENTRAL_ZIP64_EXTRA_LEN
    } else {
        0
    }
}

/// Length of a central header, with or without the Unicode Path extra.
pub fn central_header_len(
    name_len: usize,
    unicode_path: bool,
    uncompressed: u64,
    compressed: u64,
    offset: u64,
) -> u64 {
    CENTRAL_HEADER_FIXED_LEN
        + name_len as u64
        + central_zip64_len(uncompressed, compressed, offset)
        + EXTENDED_TIMESTAMP_LEN
        + unicode_path_len(name_len, unicode_path)
}

impl CentralHeader<'_> {
    /// Encoded length.
    pub fn encoded_len(&self) -> u64 {
        central_header_len(
            self.name.len(),
            self.unicode_path.is_some(),
            self.uncompressed,
            self.compressed,
            self.local_header_offset,
        )
    }

    /// Appends the encoded header.
    pub fn write(&self, out: &mut Vec<u8>) {
        let zip64 =
            central_needs_zip64(self.uncompressed, self.compressed, self.local_header_offset);
        let slot = |v: u64| {
            if zip64 {
                U32_SENTINEL
            } else {
                u32_or_sentinel(v)
            }
        };
        let extra_len =
            central_zip64_len(self.uncompressed, self.compressed, self.local_header_offset)
                + EXTENDED_TIMESTAMP_LEN
                + unicode_path_len(self.name.len(), self.unicode_path.is_some());
        put_u32(out, CENTRAL_HEADER_SIG); // central file header signature
        put_u16(out, VERSION_MADE_BY); // version made by
        put_u16(out, self.version_needed); // version needed to extract
        put_u16(out, self.flags); // general purpose bit flag
        put_u16(out, self.method); // compression method
        put_u16(out, self.dos_time); // last mod file time
        put_u16(out, self.dos_date); // last mod file date
        put_u32(out, self.crc32); // crc-32
        put_u32(out, slot(self.compressed)); // compressed size
        put_u32(out, slot(self.uncompressed)); // uncompressed size
        put_u16(out, len_u16(self.name.len())); // file name length
        put_u16(out, len_u16(usize::try_from(extra_len).unwrap_or(0))); // extra field length
        put_u16(out, 0); // file comment length
        put_u16(out, if zip64 { U16_SENTINEL } else { 0 }); // disk number start
        put_u16(out, 0); // internal file attributes
        put_u32(out, self.external_attrs); // external file attributes
        put_u32(out, slot(self.local_header_offset)); // relative offset of local header
        out.extend_from_slice(self.name); // file name
        if zip64 {
            put_u16(out, ZIP64_EXTRA_ID);
            put_u16(
                out,
                len_u16(usize::try_from(CENTRAL_ZIP64_EXTRA_LEN - 4).unwrap_or(0)),
            );
            // APPNOTE §4.5.3: one field per sentinel, in this order; all four slots hold it.
            put_u64(out, self.uncompressed); // original uncompressed file size
            put_u64(out, self.compressed); // size of compressed data
            put_u64(out, self.local_header_offset); // offset of local header record
            put_u32(out, 0); // number of the disk on which this file starts
        }
        write_extended_timestamp(out, self.mtime);
        write_unicode_path(out, self.name, self.unicode_path);
    }
}

/// The end records: ZIP64 end record and locator when needed, then the classic end record.
#[derive(Debug, Clone, Copy)]
pub struct EndRecords {
    /// Number of entries in the central directory.
    pub entries: u64,
    /// Size of the central directory in bytes.
    pub cd_size: u64,
    /// Offset of the central directory from the start of the archive.
    pub cd_offset: u64,
}

impl EndRecords {
    /// Whether the ZIP64 end record and locator are needed: too many entries, or a directory size or offset
    /// that overflows, even when every file is small (ArchiveStream-php PR #8).
    pub fn needs_zip64(&self) -> bool {
        self.entries >= ZIP64_ENTRIES_THRESHOLD
            || self.cd_size >= ZIP64_BYTES_THRESHOLD
            || self.cd_offset >= ZIP64_BYTES_THRESHOLD
    }

    /// Encoded length of all end records.
    pub fn encoded_len(&self) -> u64 {
        end_records_len(self.needs_zip64())
    }

    /// Appends the end records.
    pub fn write(&self, out: &mut Vec<u8>) {
        if self.needs_zip64() {
            let zip64_eocd_offset = self.cd_offset + self.cd_size;
            put_u32(out, ZIP64_EOCD_SIG); // zip64 end of central dir signature
            put_u64(out, ZIP64_EOCD_LEN - 12); // size of zip64 end of central directory record
            put_u16(out, VERSION_MADE_BY); // version made by
            put_u16(out, VERSION_NEEDED_ZIP64); // version needed to extract
            put_u32(out, 0); // number of this disk
            put_u32(out, 0); // number of the disk with the start of the central directory
            put_u64(out, self.entries); // total entries in the central directory on this disk
            put_u64(out, self.entries); // total entries in the central directory
            put_u64(out, self.cd_size); // size of the central directory
            put_u64(out, self.cd_offset); // offset of start of central directory
            put_u32(out, ZIP64_LOCATOR_SIG); // zip64 end of central dir locator signature
            put_u32(out, 0); // disk with the start of the zip64 end of central directory
            put_u64(out, zip64_eocd_offset); // relative offset of the zip64 end of central directory
            put_u32(out, 1); // total number of disks
        }
        let entries = if self.entries >= ZIP64_ENTRIES_THRESHOLD {
            U16_SENTINEL
        } else {
            u16::try_from(self.entries).unwrap_or(U16_SENTINEL)
        };
        put_u32(out, EOCD_SIG); // end of central dir signature
        put_u16(out, 0); // number of this disk
        put_u16(out, 0); // disk where central directory starts
        put_u16(out, entries); // number of central directory records on this disk
        put_u16(out, entries); // total number of central directory records
        put_u32(out, u32_or_sentinel(self.cd_size)); // size of central directory
        put_u32(out, u32_or_sentinel(self.cd_offset)); // offset of start of central directory
        put_u16(out, 0); // comment length
    }
}

/// Length of the end records.
pub fn end_records_len(zip64: bool) -> u64 {
    EOCD_LEN
        + if zip64 {
            ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN
        } else {
            0
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_header_lengths_match() {
        for sizes in [
            LocalSizes::Deferred,
            LocalSizes::DeferredZip64,
            LocalSizes::Plain {
                compressed: 5,
                uncompressed: 5,
            },
            LocalSizes::Zip64 {
                compressed: 1 << 33,
                uncompressed: 1 << 33,
            },
        ] {
            let h = LocalHeader {
                version_needed: 20,
                flags: FLAG_UTF8,
                method: METHOD_STORE,
                dos_time: 0,
                dos_date: 0,
                crc32: 7,
                sizes,
                name: "héllo.txt".as_bytes(),
                mtime: 1,
                unicode_path: Some(crc32fast::hash("héllo.txt".as_bytes())),
            };
            let mut out = Vec::new();
            h.write(&mut out);
            assert_eq!(out.len() as u64, h.encoded_len());
            assert_eq!(&out[..4], &LOCAL_FILE_HEADER_SIG.to_le_bytes());
        }
    }

    #[test]
    fn central_zip64_extra_holds_all_four_fields_once_any_overflows() {
        let header = |offset: u64| CentralHeader {
            version_needed: 45,
            flags: 0,
            method: 0,
            dos_time: 0,
            dos_date: 0,
            crc32: 0,
            compressed: 10,
            uncompressed: 11,
            local_header_offset: offset,
            external_attrs: 0,
            name: b"a",
            mtime: 0,
            unicode_path: None,
        };
        let h = header(1 << 32);
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out.len() as u64, h.encoded_len());
        // Every slot holds its sentinel: sizes, disk number start, offset.
        assert_eq!(&out[20..24], &U32_SENTINEL.to_le_bytes());
        assert_eq!(&out[24..28], &U32_SENTINEL.to_le_bytes());
        assert_eq!(&out[34..36], &U16_SENTINEL.to_le_bytes());
        assert_eq!(&out[42..46], &U32_SENTINEL.to_le_bytes());
        // Fixed 46 + name 1, then the ZIP64 extra: id, length 28, then the four values in APPNOTE order.
        assert_eq!(&out[47..51], &[0x01, 0x00, 28, 0x00]);
        assert_eq!(&out[51..59], &11u64.to_le_bytes());
        assert_eq!(&out[59..67], &10u64.to_le_bytes());
        assert_eq!(&out[67..75], &(1u64 << 32).to_le_bytes());
        assert_eq!(&out[75..79], &0u32.to_le_bytes());
        assert_eq!(
            out.len() as u64,
            47 + CENTRAL_ZIP64_EXTRA_LEN + EXTENDED_TIMESTAMP_LEN
        );

        // Below every threshold: no ZIP64 extra, real values, disk 0.
        let small = header(4096);
        let mut out = Vec::new();
        small.write(&mut out);
        assert_eq!(out.len() as u64, small.encoded_len());
        assert_eq!(&out[20..24], &10u32.to_le_bytes());
        assert_eq!(&out[34..36], &[0, 0]);
        assert_eq!(&out[42..46], &4096u32.to_le_bytes());
        assert_eq!(out.len() as u64, 47 + EXTENDED_TIMESTAMP_LEN);
    }

    #[test]
    fn end_records_switch_to_zip64_on_count_alone() {
        let small = EndRecords {
            entries: 65_534,
            cd_size: 10,
            cd_offset: 10,
        };
        assert!(!small.needs_zip64());
        let many = EndRecords {
            entries: 65_535,
            ..small
        };
        assert!(many.needs_zip64());
        let mut out = Vec::new();
        many.write(&mut out);
        assert_eq!(out.len() as u64, many.encoded_len());
        assert_eq!(out.len(), 98);
    }
}
