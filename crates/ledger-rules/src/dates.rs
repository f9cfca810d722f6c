//! Calendar dates, and the half-open spans of dates that every status is made of.
//!
//! The regulations count in calendar dates of China Standard Time, so an event's valid time is
//! the date of its `effective_at` in UTC+8, whatever the time of day. Every period here is a
//! half-open span `[start, end)`: `end` is the first day on which the thing no longer holds,
//! and `None` means it has no end yet. Half-open spans make "ends on the day the next one
//! starts" exact, with no off-by-one between a removal and the day it takes effect.
//!
//! Arithmetic is checked throughout: a date beyond chrono's range becomes an open end rather
//! than a panic, because the fold must never fail on what the ledger holds.

use chrono::{DateTime, Days, Months, NaiveDate, TimeDelta, Utc};

/// The offset of China Standard Time from UTC, in seconds (UTC+8, no daylight saving).
pub const CHINA_STANDARD_TIME_OFFSET_SECONDS: i64 = 8 * 3600;

/// The calendar date in China Standard Time of an instant: the valid date of an event.
pub fn china_date(instant: DateTime<Utc>) -> NaiveDate {
    let utc = instant.naive_utc();
    utc.checked_add_signed(TimeDelta::seconds(CHINA_STANDARD_TIME_OFFSET_SECONDS))
        .unwrap_or(utc)
        .date()
}

/// `date` plus `months` calendar months, clamped to the month's last day (31 January plus one
/// month is 28 or 29 February); `None` beyond the representable range.
pub(crate) fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// `date` plus `days` calendar days; `None` beyond the representable range.
pub(crate) fn add_days(date: NaiveDate, days: u32) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(u64::from(days)))
}

/// The earlier of two ends, where `None` is "never".
pub(crate) fn earlier_end(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The later of two ends, where `None` is "never".
pub(crate) fn later_end(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

/// A non-empty half-open span of dates `[start, end)`; `end: None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: NaiveDate,
    pub(crate) end: Option<NaiveDate>,
}

impl Span {
    /// The span `[start, end)`, or `None` when it holds no day.
    pub(crate) fn new(start: NaiveDate, end: Option<NaiveDate>) -> Option<Self> {
        match end {
            Some(end) if end <= start => None,
            _ => Some(Self { start, end }),
        }
    }

    /// Whether `date` lies in the span.
    pub(crate) fn contains(&self, date: NaiveDate) -> bool {
        contains(self.start, self.end, date)
    }

    /// The days in both spans, if any.
    pub(crate) fn intersect(&self, other: &Span) -> Option<Span> {
        Span::new(self.start.max(other.start), earlier_end(self.end, other.end))
    }
}

/// Whether `date` lies in `[start, end)`.
pub(crate) fn contains(start: NaiveDate, end: Option<NaiveDate>, date: NaiveDate) -> bool {
    start <= date && end.is_none_or(|end| date < end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn valid_date_is_china_standard_time() {
        let late_utc = Utc.with_ymd_and_hms(2025, 3, 31, 16, 0, 0).unwrap();
        assert_eq!(china_date(late_utc), d(2025, 4, 1));
        let early_utc = Utc.with_ymd_and_hms(2025, 3, 31, 15, 59, 59).unwrap();
        assert_eq!(china_date(early_utc), d(2025, 3, 31));
        // The far end of chrono's range must not panic.
        let _ = china_date(DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn months_clamp_to_month_end() {
        assert_eq!(add_months(d(2024, 2, 29), 36), Some(d(2027, 2, 28)));
        assert_eq!(add_months(d(2025, 1, 31), 1), Some(d(2025, 2, 28)));
        assert_eq!(add_months(NaiveDate::MAX, 1), None);
    }

    #[test]
    fn spans_are_half_open() {
        let span = Span::new(d(2025, 1, 1), Some(d(2025, 1, 3))).unwrap();
        assert!(span.contains(d(2025, 1, 2)));
        assert!(!span.contains(d(2025, 1, 3)));
        assert_eq!(Span::new(d(2025, 1, 1), Some(d(2025, 1, 1))), None);
        let open = Span::new(d(2024, 12, 1), None).unwrap();
        assert_eq!(open.intersect(&span), Some(span));
        assert_eq!(later_end(Some(d(2025, 1, 1)), None), None);
        assert_eq!(earlier_end(None, Some(d(2025, 1, 1))), Some(d(2025, 1, 1)));
    }
}
