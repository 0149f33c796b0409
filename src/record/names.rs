//! Take names: the local date and time recording started, so takes sort in the order they were
//! played and a producer finds "the one from a minute ago". Collisions (two instances starting
//! in the same second) get a `-2`, `-3`, … suffix from [`crate::take::TakeWriter::create`].

use std::time::{SystemTime, UNIX_EPOCH};

/// `take-YYYY-MM-DD_HH-MM-SS` for the local time `now` (UTC where the time zone is unknown).
pub fn take_name(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (year, month, day, hour, minute, second) = local_civil(secs);
    format!("take-{year:04}-{month:02}-{day:02}_{hour:02}-{minute:02}-{second:02}")
}

/// The local calendar date and time of `secs` since the Unix epoch.
#[cfg(unix)]
fn local_civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let time = secs as libc::time_t;
    // SAFETY: `localtime_r` writes only into the `tm` we pass and reads `time`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&time, &mut tm).is_null() };
    if !ok {
        return utc_civil(secs);
    }
    (
        i64::from(tm.tm_year) + 1900,
        (tm.tm_mon + 1) as u32,
        tm.tm_mday as u32,
        tm.tm_hour as u32,
        tm.tm_min as u32,
        tm.tm_sec as u32,
    )
}

#[cfg(not(unix))]
fn local_civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    utc_civil(secs)
}

/// The UTC calendar date and time of `secs` since the Unix epoch (Howard Hinnant's
/// days-to-civil algorithm).
fn utc_civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_match_known_instants() {
        assert_eq!(utc_civil(0), (1970, 1, 1, 0, 0, 0));
        // 2026-11-30 23:59:59 UTC and the second after it.
        assert_eq!(utc_civil(1_796_083_199), (2026, 11, 30, 23, 59, 59));
        assert_eq!(utc_civil(1_796_083_200), (2026, 12, 1, 0, 0, 0));
        // A leap day.
        assert_eq!(utc_civil(951_782_400), (2000, 2, 29, 0, 0, 0));
    }

    #[test]
    fn names_sort_in_time_order_and_are_file_name_safe() {
        let a = take_name(UNIX_EPOCH + std::time::Duration::from_secs(1_796_083_199));
        let b = take_name(UNIX_EPOCH + std::time::Duration::from_secs(1_796_083_200));
        assert!(a < b, "{a} < {b}");
        assert!(a.starts_with("take-20"));
        assert!(!a.contains([':', '/', ' ']), "{a}");
    }
}
