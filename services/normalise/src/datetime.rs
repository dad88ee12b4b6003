//! Dates and local times as the source systems write them.
//!
//! This module owns:
//! - [`parse_dmy`]: the loan fund's `DD/MM/YYYY` dates, strictly (the date must exist).
//! - [`local_vn`]: `YYYY-MM-DD HH:MM:SS` written in Vietnam's local time without a zone,
//!   made explicit as `+07:00`.
//! - [`to_local_vn_string`]: the reverse, for query parameters such as the loan fund's
//!   `modified_from`.
//!
//! Vietnam keeps UTC+7 all year (no daylight saving), so a fixed offset is exact.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use thiserror::Error;

/// Vietnam's offset from UTC, in seconds.
pub const VN_OFFSET_SECONDS: i32 = 7 * 3600;

const VN_OFFSET: FixedOffset = match FixedOffset::east_opt(VN_OFFSET_SECONDS) {
    Some(o) => o,
    None => panic!("UTC+7 is a valid offset"),
};

/// Vietnam's fixed offset, `+07:00`.
pub fn vn_offset() -> FixedOffset {
    VN_OFFSET
}

/// Why a date or time was rejected. Each variant names the value as received.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DateError {
    /// Not of the shape `DD/MM/YYYY`.
    #[error("date {value:?} is not DD/MM/YYYY")]
    DmyFormat { value: String },
    /// The shape is right but there is no such day (`31/02/2024`).
    #[error("date {value:?} does not exist")]
    NoSuchDate { value: String },
    /// Not a valid `YYYY-MM-DD HH:MM:SS` local time.
    #[error("local time {value:?} is not a valid YYYY-MM-DD HH:MM:SS")]
    LocalFormat { value: String },
}

/// Parses `DD/MM/YYYY` (surrounding white space allowed; day and month may have one or two
/// digits, the year exactly four). A day that does not exist is an error.
///
/// ```
/// use chrono::NaiveDate;
/// use hub_normalise::datetime::parse_dmy;
/// assert_eq!(parse_dmy("02/07/2024"), Ok(NaiveDate::from_ymd_opt(2024, 7, 2).unwrap()));
/// assert!(parse_dmy("31/02/2024").is_err());
/// ```
pub fn parse_dmy(raw: &str) -> Result<NaiveDate, DateError> {
    let format_err = || DateError::DmyFormat {
        value: raw.to_owned(),
    };
    let s = raw.trim();
    let mut parts = s.split('/');
    let (Some(d), Some(m), Some(y), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format_err());
    };
    let all_digits = |p: &str, min: usize, max: usize| {
        (min..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !all_digits(d, 1, 2) || !all_digits(m, 1, 2) || !all_digits(y, 4, 4) {
        return Err(format_err());
    }
    let (Ok(d), Ok(m), Ok(y)) = (d.parse::<u32>(), m.parse::<u32>(), y.parse::<i32>()) else {
        return Err(format_err());
    };
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| DateError::NoSuchDate {
        value: raw.to_owned(),
    })
}

/// Parses `YYYY-MM-DD HH:MM:SS`, a local time of Vietnam without a zone, into a time with an
/// explicit `+07:00` offset. Surrounding white space is allowed; nothing else.
///
/// ```
/// use hub_normalise::datetime::local_vn;
/// let t = local_vn("2024-07-02 10:11:12").unwrap();
/// assert_eq!(t.to_rfc3339(), "2024-07-02T10:11:12+07:00");
/// ```
pub fn local_vn(raw: &str) -> Result<DateTime<FixedOffset>, DateError> {
    let err = || DateError::LocalFormat {
        value: raw.to_owned(),
    };
    let s = raw.trim();
    // chrono's %m/%d/%H… accept one digit; the wire format has exactly two. Check the shape.
    let shape_ok = s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(err());
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").map_err(|_| err())?;
    VN_OFFSET
        .from_local_datetime(&naive)
        .single()
        .ok_or_else(err)
}

/// Formats any instant as Vietnam local time, `YYYY-MM-DD HH:MM:SS` (no zone in the text).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use hub_normalise::datetime::to_local_vn_string;
/// let t = Utc.with_ymd_and_hms(2024, 7, 2, 3, 11, 12).unwrap();
/// assert_eq!(to_local_vn_string(&t), "2024-07-02 10:11:12");
/// ```
pub fn to_local_vn_string<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    t.with_timezone(&VN_OFFSET)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike, Utc};

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn dmy_accepts_real_dates() {
        assert_eq!(parse_dmy("02/07/2024"), Ok(ymd(2024, 7, 2)));
        assert_eq!(parse_dmy("2/7/2024"), Ok(ymd(2024, 7, 2)));
        assert_eq!(parse_dmy(" 29/02/2024 "), Ok(ymd(2024, 2, 29))); // leap year
        assert_eq!(parse_dmy("31/12/2030"), Ok(ymd(2030, 12, 31)));
        assert_eq!(parse_dmy("20/02/2024"), Ok(ymd(2024, 2, 20))); // Decision 182 date
    }

    #[test]
    fn dmy_rejects_impossible_dates_naming_them() {
        let e = parse_dmy("31/02/2024").unwrap_err();
        assert_eq!(
            e,
            DateError::NoSuchDate {
                value: "31/02/2024".into()
            }
        );
        assert!(e.to_string().contains("31/02/2024"));
        assert!(parse_dmy("29/02/2023").is_err());
        assert!(parse_dmy("00/01/2024").is_err());
        assert!(parse_dmy("01/13/2024").is_err());
        assert!(parse_dmy("31/04/2024").is_err());
    }

    #[test]
    fn dmy_rejects_other_shapes() {
        for s in [
            "",
            "2024-07-02",
            "02-07-2024",
            "02.07.2024",
            "02/07/24",
            "02/07/02024",
            "002/07/2024",
            "02/07/2024 10:00",
            "02/07",
            "02/07/2024/1",
            "+2/07/2024",
            "ab/cd/efgh",
            "０２/07/2024",
        ] {
            let e = parse_dmy(s).unwrap_err();
            assert_eq!(e, DateError::DmyFormat { value: s.into() }, "{s:?}");
        }
    }

    #[test]
    fn local_vn_is_explicitly_plus_seven() {
        let t = local_vn("2024-07-02 10:11:12").unwrap();
        assert_eq!(t.offset().local_minus_utc(), 7 * 3600);
        assert_eq!((t.year(), t.month(), t.day()), (2024, 7, 2));
        assert_eq!((t.hour(), t.minute(), t.second()), (10, 11, 12));
        assert_eq!(t.to_rfc3339(), "2024-07-02T10:11:12+07:00");
        let utc = t.with_timezone(&Utc);
        assert_eq!(utc.to_rfc3339(), "2024-07-02T03:11:12+00:00");
        // midnight local is the previous day in UTC
        let m = local_vn("2025-01-01 00:00:00").unwrap().with_timezone(&Utc);
        assert_eq!(m.to_rfc3339(), "2024-12-31T17:00:00+00:00");
    }

    #[test]
    fn local_vn_rejects_bad_values_naming_them() {
        for s in [
            "",
            "2024-07-02",
            "2024-07-02T10:11:12",
            "2024-07-02 10:11:12+07:00",
            "2024-7-2 10:11:12",
            "2024-02-30 10:11:12",
            "2024-07-02 24:00:00",
            "2024-07-02 10:61:00",
            "02/07/2024 10:11:12",
        ] {
            let e = local_vn(s).unwrap_err();
            assert_eq!(e, DateError::LocalFormat { value: s.into() }, "{s:?}");
            assert!(e.to_string().contains(s));
        }
    }

    #[test]
    fn round_trip_through_the_local_string() {
        for s in [
            "2024-07-02 10:11:12",
            "2025-06-30 23:59:59",
            "2025-07-01 00:00:00",
        ] {
            let t = local_vn(s).unwrap();
            assert_eq!(to_local_vn_string(&t), s);
            assert_eq!(to_local_vn_string(&t.with_timezone(&Utc)), s);
        }
        let other = DateTime::parse_from_rfc3339("2025-03-01T08:00:00+02:00").unwrap();
        assert_eq!(to_local_vn_string(&other), "2025-03-01 13:00:00");
        assert_eq!(vn_offset().to_string(), "+07:00");
    }
}
