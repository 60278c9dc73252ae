//! MS-DOS date and time fields (APPNOTE §4.4.6) from Unix seconds.
//!
//! DOS time has 2-second resolution, no zone and years 1980–2107. zipper writes UTC (the contract's choice,
//! so the same link gives the same bytes anywhere) and clamps out-of-range times to the nearest
//! representable value; the exact time travels in the extended timestamp extra field. This module only
//! converts; it never reads the clock.

use time::OffsetDateTime;

/// A DOS (time, date) pair, already packed as the two little-endian u16 header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DosDateTime {
    /// Packed time: hour << 11 | minute << 5 | second / 2.
    pub time: u16,
    /// Packed date: (year - 1980) << 9 | month << 5 | day.
    pub date: u16,
}

/// 1980-01-01T00:00:00Z, the earliest DOS time.
const DOS_EPOCH_UNIX: i64 = 315_532_800;
/// 2107-12-31T23:59:58Z, the latest DOS time.
const DOS_MAX_UNIX: i64 = 4_354_819_198;

impl DosDateTime {
    /// Converts Unix seconds (UTC), clamped to 1980-01-01 .. 2107-12-31 23:59:58.
    pub fn from_unix(secs: i64) -> Self {
        let clamped = secs.clamp(DOS_EPOCH_UNIX, DOS_MAX_UNIX);
        // The clamp keeps the value inside time's supported range, so this cannot fail; fall back to the
        // DOS epoch rather than panic all the same.
        let Ok(dt) = OffsetDateTime::from_unix_timestamp(clamped) else {
            return Self {
                time: 0,
                date: (1 << 5) | 1,
            };
        };
        let year = u16::try_from(dt.year() - 1980).unwrap_or(0);
        let month = u16::from(u8::from(dt.month()));
        let day = u16::from(dt.day());
        let (hour, minute, second) = (
            u16::from(dt.hour()),
            u16::from(dt.minute()),
            u16::from(dt.second()),
        );
        Self {
            time: (hour << 11) | (minute << 5) | (second / 2),
            date: (year << 9) | (month << 5) | day,
        }
    }
}

/// The extended timestamp's mtime: a signed 32-bit Unix time, clamped (1901..2038).
pub fn unix_mtime_i32(secs: i64) -> i32 {
    i32::try_from(secs.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instant() {
        // 2019-04-07T22:00:00Z (the contract's example timestamp 1554674400).
        let d = DosDateTime::from_unix(1_554_674_400);
        assert_eq!(d.date, (39 << 9) | (4 << 5) | 7);
        assert_eq!(d.time, 22 << 11);
    }

    #[test]
    fn odd_seconds_round_down() {
        let d = DosDateTime::from_unix(DOS_EPOCH_UNIX + 59);
        assert_eq!(d.time, 29);
    }

    #[test]
    fn clamps_both_ends() {
        assert_eq!(
            DosDateTime::from_unix(0),
            DosDateTime::from_unix(DOS_EPOCH_UNIX)
        );
        assert_eq!(DosDateTime::from_unix(i64::MIN).date, (1 << 5) | 1);
        let max = DosDateTime::from_unix(i64::MAX);
        assert_eq!(max.date, (127 << 9) | (12 << 5) | 31);
        assert_eq!(max.time, (23 << 11) | (59 << 5) | 29);
    }

    #[test]
    fn mtime_clamps() {
        assert_eq!(unix_mtime_i32(5), 5);
        assert_eq!(unix_mtime_i32(i64::MAX), i32::MAX);
        assert_eq!(unix_mtime_i32(i64::MIN), i32::MIN);
    }
}
