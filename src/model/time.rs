//! Times in the report: seconds since the Unix epoch, written as RFC 3339 UTC
//! (`2026-11-22T06:54:56Z`) only when rendered. Without a date crate: the one
//! conversion needed is a few lines (H. Hinnant's civil-from-days algorithm).

use crate::vocab::as_json_string;

/// A point in time, whole seconds since the Unix epoch (UTC). Serialised as an
/// RFC 3339 string; renderers that need a number (Prometheus) take [`Self::secs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Seconds since the Unix epoch.
    pub fn secs(self) -> u64 {
        self.0
    }

    /// A time from signed epoch seconds (a file's mtime); `None` before 1970.
    pub fn from_signed(secs: i64) -> Option<Timestamp> {
        u64::try_from(secs).ok().map(Timestamp)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rfc3339(self.0))
    }
}

as_json_string!(
    Timestamp,
    "RFC 3339 time in UTC, whole seconds (`2026-11-22T06:54:56Z`).",
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
    "date-time"
);

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A short human duration: `45s`, `12m`, `3h20m`, `5d4h`.
pub fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_leap_days_format_correctly() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_718_000_060), "2024-06-10T06:14:20Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn timestamps_serialise_as_rfc3339_strings() {
        let json = serde_json::to_string(&Timestamp(1_718_000_060)).unwrap();
        assert_eq!(json, "\"2024-06-10T06:14:20Z\"");
        assert_eq!(Timestamp::from_signed(-1), None);
    }

    #[test]
    fn durations_are_compact() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(125), "2m");
        assert_eq!(human_duration(3 * 3600 + 20 * 60), "3h20m");
        assert_eq!(human_duration(5 * 86_400 + 4 * 3600), "5d4h");
    }
}
