//! APPNOTE constants: record signatures, fixed record lengths, flags, version fields and the ZIP64
//! thresholds, each cited by its section of PKWARE's APPNOTE.TXT 6.3.10.
//!
//! This module only names numbers; it must not encode anything (that is [`super::header`]).

/// Local file header signature (APPNOTE §4.3.7).
pub const LOCAL_FILE_HEADER_SIG: u32 = 0x0403_4b50;
/// Data descriptor signature (APPNOTE §4.3.9.3; optional in the spec, written always: macOS Archive Utility
/// needs it).
pub const DATA_DESCRIPTOR_SIG: u32 = 0x0807_4b50;
/// Central directory file header signature (APPNOTE §4.3.12).
pub const CENTRAL_HEADER_SIG: u32 = 0x0201_4b50;
/// ZIP64 end of central directory record signature (APPNOTE §4.3.14).
pub const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
/// ZIP64 end of central directory locator signature (APPNOTE §4.3.15).
pub const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
/// End of central directory record signature (APPNOTE §4.3.16).
pub const EOCD_SIG: u32 = 0x0605_4b50;

/// Fixed part of a local file header, before name and extra field (APPNOTE §4.3.7).
pub const LOCAL_HEADER_FIXED_LEN: u64 = 30;
/// Fixed part of a central directory header, before name, extra and comment (APPNOTE §4.3.12).
pub const CENTRAL_HEADER_FIXED_LEN: u64 = 46;
/// Data descriptor with signature and 4-byte sizes (APPNOTE §4.3.9.1).
pub const DESCRIPTOR_LEN_32: u64 = 16;
/// Data descriptor with signature and 8-byte sizes, for ZIP64 entries (APPNOTE §4.3.9.2).
pub const DESCRIPTOR_LEN_64: u64 = 24;
/// ZIP64 end of central directory record, version 1, no extensible data (APPNOTE §4.3.14).
pub const ZIP64_EOCD_LEN: u64 = 56;
/// ZIP64 end of central directory locator (APPNOTE §4.3.15).
pub const ZIP64_LOCATOR_LEN: u64 = 20;
/// End of central directory record without comment (APPNOTE §4.3.16).
pub const EOCD_LEN: u64 = 22;

/// Header id of the ZIP64 extended information extra field (APPNOTE §4.5.3).
pub const ZIP64_EXTRA_ID: u16 = 0x0001;
/// Header id of the Info-ZIP extended timestamp extra field "UT" (Info-ZIP extrafld.txt).
pub const EXTENDED_TIMESTAMP_ID: u16 = 0x5455;
/// Length of the extended timestamp extra field we write (header 4 + flags 1 + mtime 4), local and central.
pub const EXTENDED_TIMESTAMP_LEN: u64 = 9;
/// Extended timestamp flag: the modification time is present.
pub const EXTENDED_TIMESTAMP_MTIME: u8 = 0x01;
/// Header id of the Info-ZIP Unicode Path extra field "up" (APPNOTE §4.6.9, Info-ZIP extrafld.txt).
pub const UNICODE_PATH_ID: u16 = 0x7075;
/// Version of the Unicode Path extra field we write (the only one defined).
pub const UNICODE_PATH_VERSION: u8 = 1;
/// Length of the Unicode Path extra field before the name: header 4 + version 1 + name CRC-32 4.
pub const UNICODE_PATH_FIXED_LEN: u64 = 9;
/// Longest name that can also carry the Unicode Path field: a 16-bit extra field length must hold the
/// central ZIP64 extra (4 + 28), the extended timestamp (9) and the Unicode Path field (9 + name).
pub const MAX_UNICODE_PATH_NAME_LEN: usize = 0xFFFF - 32 - 9 - 9;

/// General purpose bit 3: CRC-32 and sizes follow the data in a data descriptor (APPNOTE §4.4.4).
pub const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
/// General purpose bit 11: name and comment are UTF-8 (APPNOTE §4.4.4, Appendix D).
pub const FLAG_UTF8: u16 = 1 << 11;

/// Compression method 0: stored (APPNOTE §4.4.5).
pub const METHOD_STORE: u16 = 0;
/// Compression method 8: deflated (APPNOTE §4.4.5).
pub const METHOD_DEFLATE: u16 = 8;

/// Version needed to extract for plain stored/deflated entries and directories: 2.0 (APPNOTE §4.4.3.2).
pub const VERSION_NEEDED_DEFAULT: u16 = 20;
/// Version needed to extract for entries that use ZIP64 (APPNOTE §4.4.3.2: 4.5). Written only on those
/// entries: 4.5 everywhere stops MS Office reading documents (client-zip "Known Issues").
pub const VERSION_NEEDED_ZIP64: u16 = 45;
/// Version made by: upper byte 3 = Unix (so external attributes carry mode bits), lower byte 63 = APPNOTE
/// 6.3 (APPNOTE §4.4.2).
pub const VERSION_MADE_BY: u16 = (3 << 8) | 63;

/// Sentinel written in a 32-bit field whose real value lives in the ZIP64 extra field (APPNOTE §4.4.8).
pub const U32_SENTINEL: u32 = 0xFFFF_FFFF;
/// Sentinel written in a 16-bit count whose real value lives in the ZIP64 end record (APPNOTE §4.4.21).
pub const U16_SENTINEL: u16 = 0xFFFF;
/// A size or offset at or above this needs ZIP64: 0xFFFFFFFF itself is the sentinel, so it cannot be
/// stored as a value.
pub const ZIP64_BYTES_THRESHOLD: u64 = 0xFFFF_FFFF;
/// An entry count at or above this needs the ZIP64 end records (0xFFFF is the sentinel).
pub const ZIP64_ENTRIES_THRESHOLD: u64 = 0xFFFF;
/// Largest name or extra field: their lengths are 16-bit.
pub const MAX_NAME_LEN: usize = 0xFFFF;

/// Unix mode of regular files in external attributes (upper 16 bits): `-rw-r--r--`.
pub const UNIX_FILE_MODE: u32 = 0o100_644;
/// Unix mode of directories in external attributes (upper 16 bits): `drwxr-xr-x`.
pub const UNIX_DIR_MODE: u32 = 0o040_755;
/// MS-DOS directory attribute (low byte of external attributes), for Windows readers.
pub const DOS_DIRECTORY_ATTR: u32 = 0x10;
