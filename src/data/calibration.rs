//! The aggregates calibration rests on, worked out in SQL over the typed extracts that
//! [`super::extracts::load`] left in a private database: stocks, leavers, month-end
//! stocks, contracted and absence hours per segment, e-roster hours and costs, and the
//! monthly pattern of absence. The definitions are docs/model.md's, "Calibration"; the
//! application layer (`app::calibrate`) turns these into the workforce table.

use std::collections::BTreeMap;

use duckdb::Connection;

use super::sql::sql_text;
use super::DataError;
use crate::data::extracts::ABSENCE_TYPES;

/// When and how to calibrate.
#[derive(Debug, Clone)]
pub struct Window {
    /// The as-of date `YYYY-MM-DD` (checked by the caller).
    pub as_of: String,
    /// Months of history before it.
    pub months: u32,
    /// Ages at which a new age band starts (`[35, 55]`: under 35, 35 to 54, 55 and over);
    /// empty for no age bands.
    pub age_bands: Vec<u32>,
}

impl Window {
    /// Checks the window's length and age bands; the error names the field (as the API
    /// names it) and what is wrong. The as-of date is checked by its reader.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if !(1..=120).contains(&self.months) {
            return Err(("window_months", "must be 1 to 120"));
        }
        let bands = &self.age_bands;
        if bands.windows(2).any(|w| w[0] >= w[1]) || bands.contains(&0) {
            return Err((
                "age_bands",
                "give increasing ages above 0, for example 35 and 55",
            ));
        }
        Ok(())
    }
}

/// A segment: organisation, staff group, band and (when asked for) age band.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentKey {
    pub org: String,
    pub staff_group: String,
    pub band: String,
    pub age_band: Option<String>,
}

/// What the extracts show of one segment.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// FTE in post on the as-of date, and distinct employees among them.
    pub fte: f64,
    pub headcount: i64,
    /// Contracted hours a week of the rows in post on the as-of date.
    pub weekly_hours: f64,
    /// Leaver rows in the window and their FTE.
    pub leavers: i64,
    pub leaver_fte: f64,
    /// Mean FTE in post over the window's month-ends.
    pub mean_fte: f64,
    /// Contracted hours in the window.
    pub contracted_hours: f64,
    /// Hours lost in the window by absence type ([`ABSENCE_TYPES`] order).
    pub absence_hours: [f64; 4],
}

/// One organisation, staff group and band's e-roster in the window.
#[derive(Debug, Clone, Default)]
pub struct RosterFigures {
    pub bank_hours: f64,
    pub agency_hours: f64,
    pub unfilled_hours: f64,
    pub worked_hours: f64,
    pub worked_cost: f64,
    pub bank_cost: f64,
    pub agency_cost: f64,
    pub shifts: i64,
}

/// Everything calibration reads from the extracts.
#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    pub segments: BTreeMap<SegmentKey, Measured>,
    /// By (org, staff group, band).
    pub establishment: BTreeMap<(String, String, String), f64>,
    pub roster: BTreeMap<(String, String, String), RosterFigures>,
    /// Organisation to (system, setting).
    pub orgs: BTreeMap<String, (String, Option<String>)>,
    /// Month-ends in the window (the divisor of the mean stock).
    pub month_ends: i64,
    /// Hours lost to annual leave and to sickness, and contracted hours, by calendar
    /// month (1 to 12) of the window.
    pub monthly: BTreeMap<u32, (f64, f64, f64)>,
}

/// SQL: the row `row` is in post on `day` (its end date is its last day in post).
pub(super) fn in_post(row: &str, day: &str) -> String {
    format!("{row}.start_date <= {day} AND ({row}.end_date IS NULL OR {day} <= {row}.end_date)")
}

/// SQL: the employee of row `row` has a row of `table` in the same organisation in post on
/// `day`. Not so the day after a row ends: the row is a leaver; not so the day before a
/// row starts: the row is a joiner (a change of band or hours is neither).
fn in_org_on(table: &str, row: &str, day: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {table} o WHERE o.employee = {row}.employee AND o.org = {row}.org AND {})",
        in_post("o", day)
    )
}

/// SQL: the days from `start` to `end` that fall between `from` and `to`, both days
/// counted (0 when none do).
fn days_between(start: &str, end: &str, from: &str, to: &str) -> String {
    format!("greatest(0, date_diff('day', greatest({start}, {from}), least({end}, {to})) + 1)")
}

/// The SQL of a person's age band on the as-of date, fixed by their date of birth.
fn age_band_sql(window: &Window) -> String {
    if window.age_bands.is_empty() {
        return "NULL::VARCHAR".into();
    }
    let a = format!("DATE {}", sql_text(&window.as_of));
    // Completed years: one less when the birthday has not come yet in the as-of year.
    let age = format!(
        "(year({a}) - year(date_of_birth) - CASE WHEN (month({a}), day({a})) < (month(date_of_birth), day(date_of_birth)) THEN 1 ELSE 0 END)"
    );
    let mut cases = String::from("CASE");
    let mut lower: Option<u32> = None;
    for &edge in &window.age_bands {
        let label = match lower {
            None => format!("under_{edge}"),
            Some(low) => format!("{low}_to_{}", edge - 1),
        };
        cases.push_str(&format!(" WHEN {age} < {edge} THEN {}", sql_text(&label)));
        lower = Some(edge);
    }
    let last = lower.expect("at least one edge");
    cases.push_str(&format!(
        " ELSE {} END",
        sql_text(&format!("{last}_and_over"))
    ));
    cases
}

/// Logs how long a query took when dropped (`WFPLAN_LOG=wfplan=debug`).
struct Logged(String, std::time::Instant);

impl Drop for Logged {
    fn drop(&mut self) {
        tracing::debug!("calibration: {:?} for {}", self.1.elapsed(), self.0);
    }
}

/// Works out the aggregates. The extracts' tables must be loaded; the absence, roster,
/// establishment and orgs tables may be absent.
pub fn aggregate(connection: &Connection, window: &Window) -> Result<Aggregates, DataError> {
    let tables = super::sql::tables(connection)?;
    let has = |t: &str| tables.iter().any(|x| x == t);
    let a = format!("DATE {}", sql_text(&window.as_of));
    let m = window.months;
    connection.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE cal_window AS
             SELECT {a} AS as_of, ({a} - INTERVAL {m} MONTH)::DATE AS w0, ({a} - 1)::DATE AS w1;
         CREATE OR REPLACE TEMP TABLE cal_rows AS
             SELECT s.*, {age} AS age_band FROM staff s;
         CREATE OR REPLACE TEMP TABLE cal_month_ends AS
             SELECT DISTINCT last_day(m)::DATE AS d FROM (
                 SELECT unnest(generate_series(date_trunc('month', w0), w1, INTERVAL 1 MONTH)) AS m
                 FROM cal_window) t, cal_window w
             WHERE last_day(m) BETWEEN w.w0 AND w.w1;
         CREATE OR REPLACE TEMP TABLE cal_months AS
             SELECT greatest(date_trunc('month', m)::DATE, w.w0) AS first_day,
                    least(last_day(m)::DATE, w.w1) AS last_day, month(m) AS calendar_month
             FROM (SELECT unnest(generate_series(date_trunc('month', w0), w1, INTERVAL 1 MONTH)) AS m
                   FROM cal_window) t, cal_window w;",
        age = age_band_sql(window),
    ))?;
    let mut out = Aggregates {
        month_ends: connection
            .query_row("SELECT count(*) FROM cal_month_ends", [], |r| r.get(0))?,
        ..Aggregates::default()
    };
    let month_ends = out.month_ends.max(1) as f64;
    let keys = "org, staff_group, band, age_band";
    // Each query gives the keys then figures; `add` folds its rows into the segments.
    let mut add = |sql: &str,
                   apply: &dyn Fn(&mut Measured, &duckdb::Row<'_>) -> duckdb::Result<()>|
     -> Result<(), DataError> {
        let what = sql.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
        let _logged = Logged(what, std::time::Instant::now());
        let mut statement = connection.prepare(sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let key = SegmentKey {
                org: row.get(0)?,
                staff_group: row.get(1)?,
                band: row.get(2)?,
                age_band: row.get(3)?,
            };
            apply(out.segments.entry(key).or_default(), row)?;
        }
        Ok(())
    };
    add(
        &format!(
            "SELECT {keys}, sum(fte), count(DISTINCT employee), sum(hours_per_week)
             FROM cal_rows r, cal_window w WHERE {}
             GROUP BY ALL",
            in_post("r", "w.as_of")
        ),
        &|s, r| {
            s.fte = r.get(4)?;
            s.headcount = r.get(5)?;
            s.weekly_hours = r.get(6)?;
            Ok(())
        },
    )?;
    // A leaver: a row ending in the window with no row of the same employee in the same
    // organisation in post the next day (a change of band or hours is not leaving).
    add(
        &format!(
            "SELECT {keys}, count(*), sum(fte) FROM cal_rows r, cal_window w
             WHERE r.end_date BETWEEN w.w0 AND w.w1 AND NOT {}
             GROUP BY ALL",
            in_org_on("cal_rows", "r", "r.end_date + 1")
        ),
        &|s, r| {
            s.leavers = r.get(4)?;
            s.leaver_fte = r.get(5)?;
            Ok(())
        },
    )?;
    add(
        &format!(
            "SELECT {keys}, sum(fte) FROM cal_rows r JOIN cal_month_ends e ON {}
             GROUP BY ALL",
            in_post("r", "e.d")
        ),
        &|s, r| {
            s.mean_fte = r.get::<_, f64>(4)? / month_ends;
            Ok(())
        },
    )?;
    // Contracted hours: each row's weekly hours for its days in post in the window.
    add(
        &format!(
            "SELECT {keys}, sum(hours_per_week * days / 7.0) FROM (
                 SELECT *, {} AS days FROM cal_rows, cal_window w)
             GROUP BY ALL HAVING sum(days) > 0",
            days_between("start_date", "coalesce(end_date, w.w1)", "w.w0", "w.w1")
        ),
        &|s, r| {
            s.contracted_hours = r.get(4)?;
            Ok(())
        },
    )?;
    if has("absence") {
        // Each absence belongs to its employee's row in post on its first day (the one of
        // most FTE, then the first in the file, when there are two), and counts its
        // hours for its days in the window.
        connection.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE cal_absence AS
                 SELECT a.absence_type, a.start_date, a.end_date, a.hours_lost,
                        r.org, r.staff_group, r.band, r.age_band
                 FROM absence a JOIN cal_rows r ON r.employee = a.employee AND {}
                 QUALIFY row_number() OVER (PARTITION BY a.source_row ORDER BY r.fte DESC, r.source_row) = 1;",
            in_post("r", "a.start_date")
        ))?;
        let by_type = ABSENCE_TYPES
            .iter()
            .map(|t| {
                format!(
                    "coalesce(sum(h) FILTER (WHERE absence_type = {}), 0)",
                    sql_text(t)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        add(
            &format!(
                "SELECT {keys}, {by_type} FROM (
                     SELECT *, hours_lost * {} / (date_diff('day', start_date, end_date) + 1) AS h
                     FROM cal_absence, cal_window w)
                 GROUP BY ALL",
                days_between("start_date", "end_date", "w.w0", "w.w1")
            ),
            &|s, r| {
                for (i, slot) in s.absence_hours.iter_mut().enumerate() {
                    *slot = r.get(4 + i)?;
                }
                Ok(())
            },
        )?;
        // The monthly pattern: hours lost and contracted hours in each month of the window.
        let mut statement = connection.prepare(&format!(
            "WITH lost AS (
                 SELECT calendar_month,
                        sum(h) FILTER (WHERE absence_type = 'annual_leave') AS annual_leave,
                        sum(h) FILTER (WHERE absence_type = 'sickness') AS sickness
                 FROM (SELECT m.calendar_month, a.absence_type,
                              a.hours_lost * {lost_days} / (date_diff('day', a.start_date, a.end_date) + 1) AS h
                       FROM cal_absence a JOIN cal_months m
                         ON a.start_date <= m.last_day AND m.first_day <= a.end_date)
                 GROUP BY ALL),
             hours AS (
                 SELECT m.calendar_month, sum(r.hours_per_week * {post_days} / 7.0) AS contracted
                 FROM cal_rows r JOIN cal_months m
                   ON r.start_date <= m.last_day AND (r.end_date IS NULL OR m.first_day <= r.end_date)
                 GROUP BY ALL)
             SELECT h.calendar_month, coalesce(l.annual_leave, 0), coalesce(l.sickness, 0), h.contracted
             FROM hours h LEFT JOIN lost l USING (calendar_month)",
            lost_days = days_between("a.start_date", "a.end_date", "m.first_day", "m.last_day"),
            post_days = days_between(
                "r.start_date",
                "coalesce(r.end_date, m.last_day)",
                "m.first_day",
                "m.last_day"
            ),
        ))?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let month: i64 = row.get(0)?;
            let entry = out.monthly.entry(month as u32).or_default();
            entry.0 += row.get::<_, f64>(1)?;
            entry.1 += row.get::<_, f64>(2)?;
            entry.2 += row.get::<_, f64>(3)?;
        }
    }
    if has("establishment") {
        let mut statement = connection.prepare(
            "SELECT org, staff_group, band, sum(establishment) FROM establishment GROUP BY ALL",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            out.establishment
                .insert((row.get(0)?, row.get(1)?, row.get(2)?), row.get(3)?);
        }
    }
    if has("roster") {
        let mut statement = connection.prepare(
            "SELECT org, staff_group, band,
                    coalesce(sum(hours) FILTER (WHERE shift_type = 'bank'), 0),
                    coalesce(sum(hours) FILTER (WHERE shift_type = 'agency'), 0),
                    coalesce(sum(hours) FILTER (WHERE shift_type = 'unfilled'), 0),
                    coalesce(sum(hours) FILTER (WHERE shift_type = 'worked'), 0),
                    coalesce(sum(cost) FILTER (WHERE shift_type = 'worked'), 0),
                    coalesce(sum(cost) FILTER (WHERE shift_type = 'bank'), 0),
                    coalesce(sum(cost) FILTER (WHERE shift_type = 'agency'), 0),
                    count(*)
             FROM roster, cal_window w WHERE shift_date BETWEEN w.w0 AND w.w1
             GROUP BY ALL",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            out.roster.insert(
                (row.get(0)?, row.get(1)?, row.get(2)?),
                RosterFigures {
                    bank_hours: row.get(3)?,
                    agency_hours: row.get(4)?,
                    unfilled_hours: row.get(5)?,
                    worked_hours: row.get(6)?,
                    worked_cost: row.get(7)?,
                    bank_cost: row.get(8)?,
                    agency_cost: row.get(9)?,
                    shifts: row.get(10)?,
                },
            );
        }
    }
    if has("orgs") {
        let mut statement = connection
            .prepare("SELECT org, any_value(system), any_value(setting) FROM orgs GROUP BY org")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            out.orgs.insert(row.get(0)?, (row.get(1)?, row.get(2)?));
        }
    }
    Ok(out)
}

/// What happened, month by month from `from` (the first day of a month) for `months`
/// months, by staff group: FTE in post on each month's first day, leavers (as in
/// calibration: leaving the organisation) and joiners (rows starting in the month, but
/// not a change of band or hours of someone already in the organisation the day before).
/// Keys are (staff group, `YYYY-MM`); values fte, leavers, joiners.
pub fn actuals(
    connection: &Connection,
    from: &str,
    months: u32,
) -> Result<BTreeMap<(String, String), [f64; 3]>, DataError> {
    let f = format!("DATE {}", sql_text(from));
    let last = months.saturating_sub(1);
    connection.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE bt_months AS
             SELECT unnest(generate_series({f}, ({f} + INTERVAL {last} MONTH)::DATE, INTERVAL 1 MONTH))::DATE AS m;"
    ))?;
    let end = format!("({f} + INTERVAL {months} MONTH)::DATE");
    let queries = [
        format!(
            "SELECT s.staff_group, strftime(m.m, '%Y-%m'), sum(s.fte)
             FROM staff s JOIN bt_months m ON {}
             GROUP BY ALL",
            in_post("s", "m.m")
        ),
        format!(
            "SELECT r.staff_group, strftime(r.end_date, '%Y-%m'), sum(r.fte)
             FROM staff r
             WHERE r.end_date >= {f} AND r.end_date < {end} AND NOT {}
             GROUP BY ALL",
            in_org_on("staff", "r", "r.end_date + 1")
        ),
        format!(
            "SELECT r.staff_group, strftime(r.start_date, '%Y-%m'), sum(r.fte)
             FROM staff r
             WHERE r.start_date >= {f} AND r.start_date < {end} AND NOT {}
             GROUP BY ALL",
            in_org_on("staff", "r", "r.start_date - 1")
        ),
    ];
    let mut out: BTreeMap<(String, String), [f64; 3]> = BTreeMap::new();
    for (i, sql) in queries.iter().enumerate() {
        let mut statement = connection.prepare(sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            out.entry((row.get(0)?, row.get(1)?)).or_default()[i] = row.get(2)?;
        }
    }
    Ok(out)
}
