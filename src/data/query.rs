//! Reading runs and results back: the runs of a batch, and results summed over any key
//! columns by month or financial year, with rates derived from the sums.
//!
//! Figures are aggregated in two steps, as the summaries do: first summed over the
//! segments (or groups) of each month, then over the months of the period, stocks as the
//! mean of the months and flows as the sum. Vacancy and leaver rates come from those
//! sums, never from averaging rates.

use std::path::Path;

use super::import::sql_text;
use super::store::{quote, Store};
use super::DataError;
use crate::model::results::{is_stock, METRICS};
use crate::model::{RunResults, YearMonth};

pub use crate::model::results::DERIVED;

/// One row of the `runs` table.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub run_id: i64,
    pub batch_id: i64,
    pub scenario: String,
    pub status: String,
    pub error: Option<String>,
    pub detail: String,
    pub data_hash: String,
    pub start_month: String,
    pub months: i64,
    pub started_at: String,
    pub duration_ms: Option<f64>,
    pub dataset: String,
}

/// How results are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Month,
    FinancialYear,
}

/// A request for results.
#[derive(Debug, Clone)]
pub struct ResultsQuery {
    pub run_ids: Vec<i64>,
    /// Key columns to keep; figures are summed over the others.
    pub group_by: Vec<String>,
    pub period: Period,
    /// Stored metrics or [`DERIVED`] rates; all stored metrics when empty.
    pub metrics: Vec<String>,
    /// `(key column, value)`: only segments (or groups) with that value.
    pub filters: Vec<(String, String)>,
}

/// Results as a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultsTable {
    /// `scenario`, `period`, the group-by keys, then the metrics.
    pub columns: Vec<String>,
    pub rows: Vec<ResultsRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResultsRow {
    pub scenario: String,
    pub period: String,
    pub keys: Vec<String>,
    pub values: Vec<f64>,
}

/// Why a results query cannot be answered: the caller's mistake, with the parameter named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct QueryProblem {
    pub parameter: String,
    pub message: String,
}

impl Store {
    /// The runs of a batch, in the order they were recorded.
    pub fn batch_runs(&self, batch_id: i64) -> Result<Vec<RunRow>, DataError> {
        self.query_runs("WHERE batch_id = ? ORDER BY run_id", batch_id)
    }

    /// The batch a run belongs to.
    pub fn batch_of(&self, run_id: i64) -> Result<Option<i64>, DataError> {
        use duckdb::OptionalExt;
        Ok(self
            .connection()
            .query_row(
                "SELECT batch_id FROM runs WHERE run_id = ?",
                [run_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The most recent batches' ids, newest first.
    pub fn recent_batches(&self, limit: i64) -> Result<Vec<i64>, DataError> {
        let mut statement = self.connection().prepare(
            "SELECT batch_id FROM runs GROUP BY batch_id ORDER BY batch_id DESC LIMIT ?",
        )?;
        let rows = statement.query_map([limit], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn query_runs(&self, clause: &str, value: i64) -> Result<Vec<RunRow>, DataError> {
        let mut statement = self.connection().prepare(&format!(
            "SELECT run_id, batch_id, scenario, status, error, detail, data_hash, start_month, months,
                    CAST(started_at AS VARCHAR), duration_ms, dataset
             FROM runs {clause}"
        ))?;
        let rows = statement.query_map([value], |r| {
            Ok(RunRow {
                run_id: r.get(0)?,
                batch_id: r.get(1)?,
                scenario: r.get(2)?,
                status: r.get(3)?,
                error: r.get(4)?,
                detail: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                data_hash: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                start_month: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                months: r.get::<_, Option<i64>>(8)?.unwrap_or_default(),
                started_at: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                duration_ms: r.get(10)?,
                dataset: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Key columns of the `results` view.
    fn result_keys(&self) -> Result<Vec<String>, DataError> {
        if !self.has_table("results")? {
            return Ok(Vec::new());
        }
        let mut statement = self.connection().prepare(
            "SELECT column_name FROM information_schema.columns
             WHERE table_name = 'results' AND table_schema = 'main' ORDER BY ordinal_position",
        )?;
        let names = statement.query_map([], |r| r.get::<_, String>(0))?;
        let fixed = ["run_id", "scenario", "month", "row"];
        Ok(names
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|n| !fixed.contains(&n.as_str()) && !METRICS.contains(&n.as_str()))
            .collect())
    }

    /// Checks a query against the stored results and builds its SQL.
    fn results_sql(
        &self,
        query: &ResultsQuery,
        details: &[String],
    ) -> Result<(String, Vec<String>, Vec<String>), QueryOutcome> {
        let stored_keys = self.result_keys()?;
        // Keys each run can be cut by: all keys at segment detail, its grouping keys otherwise.
        let allowed = |key: &str| {
            stored_keys.iter().any(|k| k == key)
                && details
                    .iter()
                    .all(|d| d == "segment" || d.split(',').any(|k| k == key))
        };
        let problem = |parameter: &str, message: String| {
            QueryOutcome::Problem(QueryProblem {
                parameter: parameter.into(),
                message,
            })
        };
        for key in &query.group_by {
            if !allowed(key) {
                return Err(problem(
                    "group_by",
                    format!(
                        "cannot group by '{key}': the results were stored at detail {} with key columns {}",
                        details.join(" / "),
                        stored_keys.join(", ")
                    ),
                ));
            }
        }
        for (key, _) in &query.filters {
            if !allowed(key) {
                return Err(problem(
                    "filter",
                    format!(
                        "cannot filter on '{key}': the results were stored at detail {} with key columns {}",
                        details.join(" / "),
                        stored_keys.join(", ")
                    ),
                ));
            }
        }
        let metrics: Vec<String> = if query.metrics.is_empty() {
            METRICS.iter().map(|m| m.to_string()).collect()
        } else {
            query.metrics.clone()
        };
        for m in &metrics {
            if !METRICS.contains(&m.as_str()) && !DERIVED.contains(&m.as_str()) {
                return Err(problem(
                    "metrics",
                    format!(
                        "unknown metric '{m}': choose from {}, {}",
                        METRICS.join(", "),
                        DERIVED.join(", ")
                    ),
                ));
            }
        }

        let keys: Vec<String> = query.group_by.iter().map(|k| quote(k)).collect();
        let key_list = |prefix: &str| {
            keys.iter()
                .map(|k| format!("{prefix}{k}"))
                .collect::<String>()
        };
        let ids: Vec<String> = query.run_ids.iter().map(|i| i.to_string()).collect();
        let mut conditions = vec![format!(
            "run_id IN ({})",
            if ids.is_empty() {
                "NULL".into()
            } else {
                ids.join(", ")
            }
        )];
        conditions.extend(
            query
                .filters
                .iter()
                .map(|(k, v)| format!("{} = {}", quote(k), sql_text(v))),
        );
        let sums: String = METRICS
            .iter()
            .map(|m| format!(", SUM({m}) AS {m}"))
            .collect();
        let period = match query.period {
            Period::Month => "month".to_string(),
            Period::FinancialYear => {
                let year = "CAST(substr(month, 1, 4) AS INTEGER)";
                let first = format!("(CASE WHEN CAST(substr(month, 6, 2) AS INTEGER) >= 4 THEN {year} ELSE {year} - 1 END)");
                format!("printf('%d/%02d', {first}, ({first} + 1) % 100)")
            }
        };
        let outer: String = metrics
            .iter()
            .map(|m| match m.as_str() {
                "vacancy_rate" => ", CASE WHEN AVG(required_fte) = 0 THEN 0 ELSE AVG(vacancies) / AVG(required_fte) END".to_string(),
                "leaver_rate" => ", CASE WHEN AVG(fte) = 0 THEN 0 ELSE SUM(leavers) / AVG(fte) * 12.0 / COUNT(*) END".to_string(),
                m => {
                    let index = METRICS.iter().position(|x| *x == m).expect("checked above");
                    if is_stock(index) {
                        format!(", AVG({m})")
                    } else {
                        format!(", SUM({m})")
                    }
                }
            })
            .collect();
        let sql = format!(
            "WITH monthly AS (
                SELECT scenario, {period} AS period, month{keys} {sums}
                FROM results WHERE {conditions}
                GROUP BY scenario, month{keys})
             SELECT scenario, period{keys} {outer}
             FROM monthly GROUP BY scenario, period{keys}
             ORDER BY scenario, period{keys}",
            keys = key_list(", "),
            conditions = conditions.join(" AND "),
        );
        let mut columns = vec!["scenario".to_string(), "period".to_string()];
        columns.extend(query.group_by.iter().cloned());
        columns.extend(metrics.iter().cloned());
        Ok((sql, columns, metrics))
    }

    /// Results of runs, cut as the query asks. `details` are the runs' detail labels.
    pub fn results(
        &self,
        query: &ResultsQuery,
        details: &[String],
    ) -> Result<ResultsTable, QueryOutcome> {
        let (sql, columns, metrics) = self.results_sql(query, details)?;
        if !self.has_table("results")? {
            return Ok(ResultsTable {
                columns,
                rows: Vec::new(),
            });
        }
        let keys = query.group_by.len();
        let mut statement = self.connection().prepare(&sql).map_err(DataError::from)?;
        let rows = statement
            .query_map([], |r| {
                let mut key_values = Vec::with_capacity(keys);
                for i in 0..keys {
                    key_values.push(r.get::<_, Option<String>>(2 + i)?.unwrap_or_default());
                }
                let mut values = Vec::with_capacity(metrics.len());
                for i in 0..metrics.len() {
                    values.push(r.get::<_, Option<f64>>(2 + keys + i)?.unwrap_or(0.0));
                }
                Ok(ResultsRow {
                    scenario: r.get(0)?,
                    period: r.get(1)?,
                    keys: key_values,
                    values,
                })
            })
            .map_err(DataError::from)?;
        let rows = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(DataError::from)?;
        Ok(ResultsTable { columns, rows })
    }

    /// Writes a results query to a Parquet file.
    pub fn results_to_parquet(
        &self,
        query: &ResultsQuery,
        details: &[String],
        path: &Path,
    ) -> Result<(), QueryOutcome> {
        let (sql, columns, _) = self.results_sql(query, details)?;
        if !self.has_table("results")? {
            return Err(QueryOutcome::Problem(QueryProblem {
                parameter: "run".into(),
                message: "no results have been stored yet".into(),
            }));
        }
        // Name the columns as the JSON and CSV forms do.
        let named: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("#{} AS {}", i + 1, quote(c)))
            .collect();
        self.connection()
            .execute_batch(&format!(
                "COPY (SELECT {} FROM ({sql})) TO {} (FORMAT parquet)",
                named.join(", "),
                sql_text(&path.display().to_string())
            ))
            .map_err(DataError::from)?;
        Ok(())
    }

    /// A run's figures summed over all its rows, month by month, as results at `total`
    /// detail: what comparisons of stored runs need.
    pub fn run_totals(&self, run: &RunRow) -> Result<RunResults, DataError> {
        let sums: Vec<String> = METRICS.iter().map(|m| format!("SUM({m})")).collect();
        let mut statement = self.connection().prepare(&format!(
            "SELECT month, {} FROM results WHERE run_id = ? GROUP BY month ORDER BY month",
            sums.join(", ")
        ))?;
        let mut figures = Vec::new();
        let mut months = 0;
        let mut rows = statement.query([run.run_id])?;
        while let Some(row) = rows.next()? {
            months += 1;
            for i in 0..METRICS.len() {
                figures.push(row.get::<_, Option<f64>>(1 + i)?.unwrap_or(0.0));
            }
        }
        let start: YearMonth = run
            .start_month
            .parse()
            .map_err(|e| DataError::file(format!("run {}", run.run_id), e))?;
        Ok(RunResults {
            scenario: run.scenario.clone(),
            start,
            months,
            key_names: Vec::new(),
            rows: vec![Vec::new()],
            figures,
        })
    }
}

/// A results query fails because of the request or because of the database.
#[derive(Debug, thiserror::Error)]
pub enum QueryOutcome {
    #[error(transparent)]
    Problem(#[from] QueryProblem),
    #[error(transparent)]
    Data(#[from] DataError),
}

impl From<duckdb::Error> for QueryOutcome {
    fn from(e: duckdb::Error) -> Self {
        QueryOutcome::Data(e.into())
    }
}
