//! Calendar months and NHS financial years.

use std::fmt;
use std::str::FromStr;

/// A calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    /// 1 = January .. 12 = December.
    pub month: u32,
}

impl YearMonth {
    pub fn new(year: i32, month: u32) -> Option<Self> {
        (1..=12).contains(&month).then_some(Self { year, month })
    }

    /// Months since year 0, so differences between months are plain subtraction.
    fn serial(self) -> i64 {
        self.year as i64 * 12 + (self.month as i64 - 1)
    }

    fn from_serial(serial: i64) -> Self {
        Self {
            year: serial.div_euclid(12) as i32,
            month: serial.rem_euclid(12) as u32 + 1,
        }
    }

    /// The month `offset` months after this one (before it when negative).
    pub fn plus(self, offset: i64) -> Self {
        Self::from_serial(self.serial() + offset)
    }

    /// Days from 1970-01-01 to the month's first day, as Arrow and DuckDB count dates.
    pub fn days_since_epoch(self) -> i32 {
        days_from_civil(i64::from(self.year), self.month, 1) as i32
    }

    /// Months from `origin` to `self`: the month index `t` of `self` in a run starting at `origin`.
    pub fn months_since(self, origin: YearMonth) -> i64 {
        self.serial() - origin.serial()
    }

    /// The NHS financial year (April to March) the month falls in, written `2025/26`.
    pub fn financial_year(self) -> String {
        let first = if self.month >= 4 {
            self.year
        } else {
            self.year - 1
        };
        format!("{}/{:02}", first, (first + 1).rem_euclid(100))
    }
}

/// Days from 1970-01-01 to a date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (i64::from(month) + 9) % 12; // March is 0
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01, as (year, month, day) (Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March is 0
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// A date as `YYYY-MM-DD`.
pub fn iso_date(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Months travel as `YYYY-MM` text in JSON and TOML, as planners write them.
impl serde::Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a month could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a month: write it as YYYY-MM, for example 2025-04")]
pub struct BadMonth(pub String);

impl FromStr for YearMonth {
    type Err = BadMonth;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadMonth(text.to_string());
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let month: u32 = month.parse().map_err(|_| bad())?;
        YearMonth::new(year, month).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_days_to_a_months_first_day_as_dates_do() {
        // Checked against Python's `date(y, m, 1) - date(1970, 1, 1)`.
        for (year, month, days) in [
            (1970, 1, 0),
            (1969, 12, -31),
            (2000, 2, 10_988),
            (2000, 3, 11_017),
            (2024, 2, 19_754),
            (2025, 4, 20_179),
            (2100, 3, 47_541),
            (1600, 1, -135_140),
        ] {
            let m = YearMonth::new(year, month).unwrap();
            assert_eq!(m.days_since_epoch(), days, "{m}");
        }
    }

    #[test]
    fn parses_and_prints_months() {
        let m: YearMonth = "2025-04".parse().unwrap();
        assert_eq!(
            m,
            YearMonth {
                year: 2025,
                month: 4
            }
        );
        assert_eq!(m.to_string(), "2025-04");
        for bad in ["2025-13", "2025-00", "2025-4", "25-04", "2025/04", "april"] {
            assert!(
                bad.parse::<YearMonth>().is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn month_arithmetic_crosses_years() {
        let m: YearMonth = "2025-11".parse().unwrap();
        assert_eq!(m.plus(3).to_string(), "2026-02");
        assert_eq!(m.plus(-11).to_string(), "2024-12");
        assert_eq!("2026-02".parse::<YearMonth>().unwrap().months_since(m), 3);
    }

    #[test]
    fn financial_years_run_april_to_march() {
        let fy = |s: &str| s.parse::<YearMonth>().unwrap().financial_year();
        assert_eq!(fy("2025-04"), "2025/26");
        assert_eq!(fy("2026-03"), "2025/26");
        assert_eq!(fy("2026-04"), "2026/27");
        assert_eq!(fy("1999-06"), "1999/00");
    }
}
