//! Reading runs and results back: the runs of a batch, and results summed over any key
//! columns by month or financial year, with rates derived from the sums.
//!
//! Figures are aggregated in two steps, as the summaries do: first summed over the
//! segments (or groups) of each month, then over the months of the period, stocks as the
//! mean of the months and flows as the sum. Vacancy and leaver rates come from those
//! sums, never from averaging rates.

use std::path::Path;

use duckdb::params_from_iter;
use duckdb::types::Value;

use super::sql::{quote, sql_text};
use super::store::Store;
use super::DataError;
use crate::model::results::{is_stock, METRICS};
use crate::model::same_name;
use crate::model::{RunResults, RunStatus, YearMonth};

pub use crate::model::results::DERIVED;

/// One row of the `runs` table.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub run_id: i64,
    pub batch_id: i64,
    pub scenario: String,
    pub status: RunStatus,
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
                // A word the runs table should never hold is an error, not a guess.
                status: r.get::<_, String>(3)?.parse().map_err(|e: String| {
                    duckdb::Error::FromSqlConversionFailure(3, duckdb::types::Type::Text, e.into())
                })?,
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
    ) -> Result<ResultsSql, QueryOutcome> {
        let stored_keys = self.result_keys()?;
        // Keys each run can be cut by: all keys at segment detail, its grouping keys otherwise.
        let allowed = |key: &str| {
            stored_keys.iter().any(|k| same_name(k, key))
                && details
                    .iter()
                    .all(|d| d == "segment" || d.split(',').any(|k| same_name(k, key)))
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
        // Run ids and filter values are bound as parameters, in the order of their
        // placeholders; only the checked key names are written into the SQL, quoted.
        let mut parameters: Vec<Value> = query.run_ids.iter().map(|&i| Value::BigInt(i)).collect();
        let placeholders = vec!["?"; query.run_ids.len()].join(", ");
        let mut conditions = vec![if query.run_ids.is_empty() {
            "run_id IN (NULL)".to_string()
        } else {
            format!("run_id IN ({placeholders})")
        }];
        for (key, value) in &query.filters {
            conditions.push(format!("{} = ?", quote(key)));
            parameters.push(Value::Text(value.clone()));
        }
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
        Ok(ResultsSql {
            sql,
            parameters,
            columns,
            metrics,
        })
    }

    /// Results of runs, cut as the query asks. `details` are the runs' detail labels.
    pub fn results(
        &self,
        query: &ResultsQuery,
        details: &[String],
    ) -> Result<ResultsTable, QueryOutcome> {
        let ResultsSql {
            sql,
            parameters,
            columns,
            metrics,
        } = self.results_sql(query, details)?;
        if !self.has_table("results")? {
            return Ok(ResultsTable {
                columns,
                rows: Vec::new(),
            });
        }
        let keys = query.group_by.len();
        let mut statement = self.connection().prepare(&sql).map_err(DataError::from)?;
        let rows = statement
            .query_map(params_from_iter(parameters), |r| {
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

    /// A results query as the bytes of a Parquet file. DuckDB writes Parquet only to a
    /// file, so it writes into a private temporary folder (created afresh with a name no one
    /// can guess, and removed with what is in it when this returns): a predictable name in
    /// the shared temporary folder would let another user plant a link there and have the
    /// server overwrite the file it points at.
    pub fn results_to_parquet_bytes(
        &self,
        query: &ResultsQuery,
        details: &[String],
    ) -> Result<Vec<u8>, QueryOutcome> {
        let folder = tempfile::Builder::new()
            .prefix("wfplan-results-")
            .tempdir()
            .map_err(|e| DataError::file(std::env::temp_dir().display(), e))?;
        let path = folder.path().join("results.parquet");
        self.results_to_parquet(query, details, &path)?;
        let bytes = std::fs::read(&path).map_err(|e| DataError::file(path.display(), e))?;
        Ok(bytes)
    }

    /// Writes a results query to a Parquet file.
    pub fn results_to_parquet(
        &self,
        query: &ResultsQuery,
        details: &[String],
        path: &Path,
    ) -> Result<(), QueryOutcome> {
        let ResultsSql {
            sql,
            parameters,
            columns,
            ..
        } = self.results_sql(query, details)?;
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
        // `COPY` takes its file name only as a literal; the query's values are still bound.
        self.connection()
            .execute(
                &format!(
                    "COPY (SELECT {} FROM ({sql})) TO {} (FORMAT parquet)",
                    named.join(", "),
                    sql_text(&path.display().to_string())
                ),
                params_from_iter(parameters),
            )
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

/// A checked results query: its SQL, the values bound to its placeholders in order, the
/// columns it gives and the metrics among them.
struct ResultsSql {
    sql: String,
    parameters: Vec<Value>,
    columns: Vec<String>,
    metrics: Vec<String>,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::data::RunRecord;

    /// Organisations whose names hold SQL's quote and statement separator.
    const ORGS: [&str; 3] = ["St Mary's", "north;south", "plain"];
    /// Text that would widen the filter to every row if it were pasted unescaped.
    const INJECTION: &str = "' OR '1'='1";

    /// A store holding one run at `org` detail over [`ORGS`], two months.
    fn store_with_a_run() -> (Store, i64) {
        let mut store = Store::open_in_memory().unwrap();
        let months = 2;
        let results = RunResults {
            scenario: "s".into(),
            start: YearMonth {
                year: 2025,
                month: 4,
            },
            months,
            key_names: vec!["org".into()],
            rows: ORGS.iter().map(|o| vec![o.to_string()]).collect(),
            figures: (0..months * ORGS.len() * METRICS.len())
                .map(|i| i as f64)
                .collect(),
        };
        let record = RunRecord {
            batch_id: 0,
            scenario: "s".into(),
            scenario_hash: String::new(),
            rules_hash: String::new(),
            data_hash: String::new(),
            detail: "org".into(),
            start_month: "2025-04".into(),
            months,
            dataset: "default".into(),
        };
        let ids = store
            .record_finished_runs(&[(record, Ok(&results), Duration::from_millis(1))])
            .unwrap();
        (store, ids[0].1)
    }

    fn by_org(run_id: i64, filter: &str) -> ResultsQuery {
        ResultsQuery {
            run_ids: vec![run_id],
            group_by: vec!["org".into()],
            period: Period::Month,
            metrics: vec!["fte".into()],
            filters: vec![("org".into(), filter.into())],
        }
    }

    #[test]
    fn filter_values_match_exactly_whatever_they_hold() {
        let (store, run_id) = store_with_a_run();
        let details = ["org".to_string()];
        for org in ORGS {
            let table = store.results(&by_org(run_id, org), &details).unwrap();
            assert_eq!(table.rows.len(), 2, "{org}: one row a month");
            assert!(table.rows.iter().all(|r| r.keys == [org]), "{org}");
        }
        let table = store.results(&by_org(run_id, INJECTION), &details).unwrap();
        assert_eq!(table.rows, Vec::new());
        // The Parquet export binds the same values.
        let bytes = store
            .results_to_parquet_bytes(&by_org(run_id, ORGS[0]), &details)
            .unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
    }

    /// Values are bound, never written into the SQL: the query's text holds neither the
    /// filter values nor the run ids.
    #[test]
    fn filter_values_and_run_ids_are_bound_as_parameters() {
        let (store, run_id) = store_with_a_run();
        let mut query = by_org(run_id, INJECTION);
        query.run_ids = vec![run_id, 987_654_321];
        let built = store.results_sql(&query, &["org".to_string()]).unwrap();
        assert!(!built.sql.contains("OR '"), "{}", built.sql);
        assert!(!built.sql.contains("987654321"), "{}", built.sql);
        assert_eq!(
            built.parameters,
            vec![
                Value::BigInt(run_id),
                Value::BigInt(987_654_321),
                Value::Text(INJECTION.into())
            ]
        );
    }
}
