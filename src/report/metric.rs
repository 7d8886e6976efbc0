//! One number a planner asks about: a figure or a rate of a group of segments over a
//! period (a financial year, a month or the whole run), computed from a run's results as
//! the results query computes it (flows summed, stocks averaged over the period's months,
//! rates from those sums). Attribution and goal seek measure scenarios by it.

use super::period_of;
use crate::model::results::{DERIVED, METRICS};
use crate::model::{same_name, Detail, RunResults, Workforce, YearMonth};

/// The months a metric covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodChoice {
    WholeRun,
    /// An NHS financial year, written `2027/28`.
    FinancialYear(String),
    Month(YearMonth),
}

impl PeriodChoice {
    /// `--year` and `--month` as a planner gives them (at most one).
    pub fn parse(year: Option<&str>, month: Option<&str>) -> Result<PeriodChoice, String> {
        match (year, month) {
            (Some(_), Some(_)) => Err("give a year or a month, not both".into()),
            (Some(year), None) => {
                let valid = year.len() == 7
                    && year.as_bytes()[4] == b'/'
                    && year[..4]
                        .parse::<i32>()
                        .is_ok_and(|first| year[5..].parse::<i32>() == Ok((first + 1) % 100));
                if valid {
                    Ok(PeriodChoice::FinancialYear(year.to_string()))
                } else {
                    Err(format!(
                        "'{year}' is not a financial year; write it as 2027/28"
                    ))
                }
            }
            (None, Some(month)) => month
                .parse::<YearMonth>()
                .map(PeriodChoice::Month)
                .map_err(|e| e.to_string()),
            (None, None) => Ok(PeriodChoice::WholeRun),
        }
    }

    fn label(&self) -> String {
        match self {
            PeriodChoice::WholeRun => "the whole run".into(),
            PeriodChoice::FinancialYear(year) => year.clone(),
            PeriodChoice::Month(month) => month.to_string(),
        }
    }

    fn holds(&self, month: YearMonth) -> bool {
        match self {
            PeriodChoice::WholeRun => true,
            PeriodChoice::FinancialYear(year) => month.financial_year() == *year,
            PeriodChoice::Month(m) => *m == month,
        }
    }
}

/// A figure (an output column) or a derived rate of the segments matching `filters`, over
/// a period.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMetric {
    pub metric: String,
    /// Key column (the dataset's spelling) and value; all must hold.
    pub filters: Vec<(String, String)>,
    pub period: PeriodChoice,
}

impl GroupMetric {
    /// Checks the metric's name and its filters against the dataset: key columns by name
    /// ignoring case, values that some segment has. Returns it with the dataset's
    /// spelling of each column, or why not (naming `metric` or `where`).
    pub fn checked(
        metric: &str,
        filters: &[(String, String)],
        period: PeriodChoice,
        workforce: &Workforce,
    ) -> Result<GroupMetric, (&'static str, String)> {
        if !METRICS.contains(&metric) && !DERIVED.contains(&metric) {
            return Err((
                "metric",
                format!(
                    "unknown metric '{metric}': choose from {}, {}",
                    METRICS.join(", "),
                    DERIVED.join(", ")
                ),
            ));
        }
        let mut checked = Vec::new();
        for (column, value) in filters {
            let Some(name) = workforce.key_names.iter().find(|k| same_name(k, column)) else {
                return Err((
                    "where",
                    format!(
                        "'{column}' is not a key column; key columns are {}",
                        workforce.key_names.join(", ")
                    ),
                ));
            };
            let key = workforce.key(name).expect("found above");
            if key.code_of(value).is_none() {
                return Err(("where", format!("no segment has {name} = '{value}'")));
            }
            checked.push((name.clone(), value.clone()));
        }
        Ok(GroupMetric {
            metric: metric.to_string(),
            filters: checked,
            period,
        })
    }

    /// The level of detail a run needs for this metric: its filter columns.
    pub fn detail(&self) -> Detail {
        let mut keys: Vec<String> = Vec::new();
        for (column, _) in &self.filters {
            if !keys.contains(column) {
                keys.push(column.clone());
            }
        }
        Detail::GroupBy(keys)
    }

    /// The metric of a run (at this metric's detail or finer), or why it has none (the
    /// period is outside the run).
    pub fn value(&self, results: &RunResults) -> Result<f64, String> {
        let columns: Vec<Option<usize>> = self
            .filters
            .iter()
            .map(|(column, _)| results.key_names.iter().position(|k| k == column))
            .collect();
        let rows: Vec<usize> = (0..results.rows.len())
            .filter(|&row| {
                self.filters
                    .iter()
                    .zip(&columns)
                    .all(|((_, value), at)| at.is_some_and(|at| results.rows[row][at] == *value))
            })
            .collect();
        let months: Vec<usize> = (0..results.months)
            .filter(|&month| self.period.holds(results.start.plus(month as i64)))
            .collect();
        if months.is_empty() {
            return Err(format!(
                "the run has no month in {} (it runs {} months from {})",
                self.period.label(),
                results.months,
                results.start
            ));
        }
        let period = period_of(results, self.period.label(), &months, &rows);
        Ok(match METRICS.iter().position(|m| *m == self.metric) {
            Some(at) => period.values[at],
            None => {
                let at = DERIVED
                    .iter()
                    .position(|m| *m == self.metric)
                    .expect("checked when made");
                period.rates()[at]
            }
        })
    }
}

/// `COL=VALUE` as a planner writes a filter on the command line.
pub fn parse_filter(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((column, value)) if !column.trim().is_empty() => {
            Ok((column.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!(
            "'{text}' is not a filter; write it as column=value"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_read_as_planners_write_them() {
        assert_eq!(
            PeriodChoice::parse(Some("2027/28"), None),
            Ok(PeriodChoice::FinancialYear("2027/28".into()))
        );
        assert!(PeriodChoice::parse(Some("2027/29"), None).is_err());
        assert!(PeriodChoice::parse(Some("2027-28"), None).is_err());
        assert!(PeriodChoice::parse(Some("2099/00"), None).is_ok());
        assert!(PeriodChoice::parse(Some("2027/28"), Some("2027-03")).is_err());
        assert_eq!(
            PeriodChoice::parse(None, Some("2027-03")),
            Ok(PeriodChoice::Month("2027-03".parse().unwrap()))
        );
        assert_eq!(PeriodChoice::parse(None, None), Ok(PeriodChoice::WholeRun));
        assert_eq!(
            parse_filter("org = a"),
            Ok(("org".to_string(), "a".to_string()))
        );
        assert!(parse_filter("org").is_err());
    }
}
