//! The public-holiday calendar and working-day arithmetic.
//!
//! Many deadlines of the regulations count working days (工作日): an entry into the
//! abnormal-operations list within 10 of them, a penalty's publication within 20, a
//! withdrawal within 3. Which days are working days is not a rule of the calendar: the State
//! Council publishes each year's holidays and the weekend days that are worked to make up for
//! them (调休). So the calendar is data, one entry per published year, and a date in a year
//! that has not been published yet is an error rather than a guess: a wrong deadline is worse
//! than none.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// The embedded calendar of Chinese public holidays, `catalogue/holidays-cn.json`.
pub const HOLIDAYS_CN_JSON: &str = include_str!("../catalogue/holidays-cn.json");

/// The largest calendar file accepted, in bytes.
pub const CALENDAR_BYTES_MAX: usize = 256 * 1024;

/// The most years one calendar may hold.
pub const CALENDAR_YEARS_MAX: usize = 200;

/// The most working days [`HolidayCalendar::add_working_days`] counts in one call; the longest
/// deadline of the regulations is 20.
pub const WORKING_DAYS_ADD_MAX: u32 = 1000;

/// Why a calendar could not be read or a date not computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// The file is larger than [`CALENDAR_BYTES_MAX`].
    #[error("holiday calendar has {0} bytes; at most {CALENDAR_BYTES_MAX} are accepted")]
    TooLarge(usize),
    /// The file is not JSON of the calendar's form.
    #[error("holiday calendar is not in the accepted form: {0}")]
    Parse(String),
    /// The file lists more than [`CALENDAR_YEARS_MAX`] years.
    #[error("holiday calendar lists {0} years; at most {CALENDAR_YEARS_MAX} are accepted")]
    TooManyYears(usize),
    /// A year's entry contradicts itself.
    #[error("holiday calendar year {year}: {problem}")]
    Inconsistent {
        /// The year of the entry.
        year: i32,
        /// What is wrong with it.
        problem: String,
    },
    /// The computation needs a day of a year that the calendar does not cover.
    #[error(
        "{date} lies in a year the holiday calendar does not cover (covered: {covered}); \
         add that year's published arrangement"
    )]
    NotCovered {
        /// The first uncovered day that was needed.
        date: NaiveDate,
        /// The covered years, as `2024, 2025`.
        covered: String,
    },
    /// More working days were asked for than [`WORKING_DAYS_ADD_MAX`].
    #[error("{0} working days were asked for; at most {WORKING_DAYS_ADD_MAX} are accepted")]
    TooManyDays(u32),
}

/// A named run of public holidays, inclusive at both ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayRange {
    /// The holiday's name as the notice gives it, for example "春节".
    pub name: String,
    /// The first day off.
    pub from: NaiveDate,
    /// The last day off.
    pub until: NaiveDate,
}

/// One year's published arrangement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayYear {
    /// The calendar year.
    pub year: i32,
    /// The number of the notice, when known, for example "国办发明电〔2024〕12号".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// The date the notice was published.
    pub published: NaiveDate,
    /// The days off, which may include weekend days.
    pub holidays: Vec<HolidayRange>,
    /// Weekend days on which people work (调休上班日).
    pub make_up_working_days: Vec<NaiveDate>,
}

/// The file form of a calendar.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    calendar: String,
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    #[allow(dead_code)]
    notes: Vec<String>,
    years: Vec<HolidayYear>,
}

/// Which days are working days, for the years whose arrangement has been published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolidayCalendar {
    name: String,
    years: BTreeMap<i32, HolidayYear>,
    days_off: BTreeSet<NaiveDate>,
    make_up_days: BTreeSet<NaiveDate>,
}

impl HolidayCalendar {
    /// The embedded calendar of Chinese public holidays ([`HOLIDAYS_CN_JSON`]).
    pub fn cn() -> Self {
        // The embedded file is read by a test on every build, so this cannot fail at run time.
        Self::from_json(HOLIDAYS_CN_JSON).expect("the embedded holiday calendar is valid")
    }

    /// Reads and checks a calendar in the form of `catalogue/holidays-cn.json`.
    pub fn from_json(text: &str) -> Result<Self, CalendarError> {
        if text.len() > CALENDAR_BYTES_MAX {
            return Err(CalendarError::TooLarge(text.len()));
        }
        let file: CalendarFile =
            serde_json::from_str(text).map_err(|e| CalendarError::Parse(e.to_string()))?;
        if file.years.len() > CALENDAR_YEARS_MAX {
            return Err(CalendarError::TooManyYears(file.years.len()));
        }

        let mut calendar = Self { name: file.calendar, ..Self::default() };
        for year in file.years {
            calendar.add_year(year)?;
        }
        Ok(calendar)
    }

    fn add_year(&mut self, year: HolidayYear) -> Result<(), CalendarError> {
        let problem = |problem: String| CalendarError::Inconsistent { year: year.year, problem };
        if self.years.contains_key(&year.year) {
            return Err(problem("the year is listed twice".into()));
        }

        // Each holiday run lies in its year and runs forwards.
        let mut days_off = BTreeSet::new();
        for range in &year.holidays {
            if range.from > range.until || range.from.year() != year.year {
                return Err(problem(format!(
                    "holiday {} runs backwards or leaves the year",
                    range.name
                )));
            }
            let mut day = range.from;
            while day <= range.until {
                days_off.insert(day);
                day = day.succ_opt().ok_or_else(|| problem("date out of range".into()))?;
            }
        }

        // A make-up working day is a weekend day of the year that is not also a day off.
        for day in &year.make_up_working_days {
            if day.year() != year.year || !is_weekend(*day) || days_off.contains(day) {
                return Err(problem(format!(
                    "make-up working day {day} must be a weekend day of the year that is no holiday"
                )));
            }
        }

        self.days_off.extend(days_off);
        self.make_up_days.extend(year.make_up_working_days.iter().copied());
        self.years.insert(year.year, year);
        Ok(())
    }

    /// The calendar's name, for example `cn-public-holidays`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The published arrangements, by year.
    pub fn years(&self) -> impl Iterator<Item = &HolidayYear> {
        self.years.values()
    }

    /// Whether the calendar knows the arrangement of `date`'s year.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.years.contains_key(&date.year())
    }

    /// Whether `date` is a working day: a weekday that is no holiday, or a make-up working day.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        if !self.covers(date) {
            return Err(self.not_covered(date));
        }
        if self.make_up_days.contains(&date) {
            return Ok(true);
        }
        Ok(!is_weekend(date) && !self.days_off.contains(&date))
    }

    /// The `days`-th working day after `start` (`start` itself is not counted, so a deadline of
    /// "within 10 working days after X" ends on `add_working_days(X, 10)`); `start` for 0.
    pub fn add_working_days(
        &self,
        start: NaiveDate,
        days: u32,
    ) -> Result<NaiveDate, CalendarError> {
        if days > WORKING_DAYS_ADD_MAX {
            return Err(CalendarError::TooManyDays(days));
        }
        let mut day = start;
        let mut left = days;
        while left > 0 {
            day = day.succ_opt().ok_or_else(|| self.not_covered(day))?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    fn not_covered(&self, date: NaiveDate) -> CalendarError {
        let covered: Vec<String> = self.years.keys().map(i32::to_string).collect();
        let covered = if covered.is_empty() { "none".into() } else { covered.join(", ") };
        CalendarError::NotCovered { date, covered }
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn embedded_calendar_covers_published_years() {
        let calendar = HolidayCalendar::cn();
        let years: Vec<i32> = calendar.years().map(|y| y.year).collect();
        assert_eq!(years, [2024, 2025, 2026]);
        assert!(!calendar.covers(d(2027, 1, 4)));
    }

    /// Table: (start, working days, expected end), across holidays and make-up days.
    #[test]
    fn adds_working_days_across_holidays() {
        let calendar = HolidayCalendar::cn();
        let cases = [
            // An ordinary week: Monday plus 5 is the next Monday.
            (d(2025, 3, 3), 5, d(2025, 3, 10)),
            // Spring Festival 2025 (28 January - 4 February) with make-up days 26 January and
            // 8 February: Friday 24 January plus 1 is Sunday 26 January, worked.
            (d(2025, 1, 24), 1, d(2025, 1, 26)),
            (d(2025, 1, 27), 1, d(2025, 2, 5)),
            (d(2025, 2, 7), 1, d(2025, 2, 8)),
            // National Day 2024: 30 September plus 1 skips 1-7 October.
            (d(2024, 9, 30), 1, d(2024, 10, 8)),
            // Friday 13 February 2026, before the Spring Festival (15-23 February) with make-up
            // days 14 and 28 February: 20 working days later.
            (d(2026, 2, 13), 20, d(2026, 3, 19)),
            (d(2024, 5, 6), 0, d(2024, 5, 6)),
        ];
        for (start, days, expected) in cases {
            assert_eq!(calendar.add_working_days(start, days), Ok(expected), "{start} + {days}");
        }
    }

    #[test]
    fn refuses_to_guess_uncovered_years() {
        let calendar = HolidayCalendar::cn();
        let error = calendar.add_working_days(d(2026, 12, 28), 10).unwrap_err();
        assert!(matches!(error, CalendarError::NotCovered { date, .. } if date == d(2027, 1, 1)));
        assert!(error.to_string().contains("2024, 2025, 2026"), "{error}");
        assert!(matches!(
            calendar.add_working_days(d(2025, 1, 1), WORKING_DAYS_ADD_MAX + 1),
            Err(CalendarError::TooManyDays(_))
        ));
    }

    #[test]
    fn rejects_inconsistent_years() {
        let bad_make_up = r#"{"calendar": "x", "description": "x", "years": [
            {"year": 2025, "published": "2024-11-12", "holidays": [],
             "make_up_working_days": ["2025-03-03"]}]}"#;
        assert!(matches!(
            HolidayCalendar::from_json(bad_make_up),
            Err(CalendarError::Inconsistent { year: 2025, .. })
        ));
        let backwards = r#"{"calendar": "x", "description": "x", "years": [
            {"year": 2025, "published": "2024-11-12", "make_up_working_days": [],
             "holidays": [{"name": "x", "from": "2025-02-04", "until": "2025-01-28"}]}]}"#;
        assert!(HolidayCalendar::from_json(backwards).is_err());
        assert!(matches!(
            HolidayCalendar::from_json(&" ".repeat(CALENDAR_BYTES_MAX + 1)),
            Err(CalendarError::TooLarge(_))
        ));
    }
}
