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

use super::results_tables::results_relation;
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
    /// SHA-256 of the checked scenario the run ran.
    pub scenario_hash: String,
    /// Random draws of a Monte Carlo run (0 for a deterministic run) and their seed.
    pub draws: i64,
    pub seed: u64,
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
    /// Summaries over a Monte Carlo run's draws, each metric giving a column for each
    /// (`vacancies_p10`); none for the figures themselves (one draw per row: a
    /// deterministic run, or `draw` among the group-by keys).
    pub stats: Vec<Stat>,
}

/// A summary of a figure over a Monte Carlo run's draws (docs/model.md, section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// Draw 0: every uncertain input at its mean.
    Central,
    /// Over draws 1 to N.
    Mean,
    P10,
    P50,
    P90,
}

impl Stat {
    pub const ALL: [Stat; 5] = [Stat::Central, Stat::Mean, Stat::P10, Stat::P50, Stat::P90];

    pub fn name(self) -> &'static str {
        match self {
            Stat::Central => "central",
            Stat::Mean => "mean",
            Stat::P10 => "p10",
            Stat::P50 => "p50",
            Stat::P90 => "p90",
        }
    }

    /// Reads `central`, `mean`, `p10`, `p50` or `p90`.
    pub fn parse(text: &str) -> Result<Stat, String> {
        Stat::ALL
            .into_iter()
            .find(|s| s.name() == text.trim())
            .ok_or_else(|| {
                format!("unknown statistic '{text}': choose from central, mean, p10, p50, p90")
            })
    }

    /// The SQL of the statistic of a column over the rows of one draw each.
    fn sql(self, column: &str) -> String {
        match self {
            Stat::Central => format!("any_value({column}) FILTER (WHERE draw = 0)"),
            Stat::Mean => format!("AVG({column}) FILTER (WHERE draw > 0)"),
            // DuckDB's `quantile_cont` interpolates between the values at positions
            // `(n - 1) p`, as NumPy's default (Hyndman and Fan's type 7) does.
            Stat::P10 => format!("quantile_cont({column}, 0.1) FILTER (WHERE draw > 0)"),
            Stat::P50 => format!("quantile_cont({column}, 0.5) FILTER (WHERE draw > 0)"),
            Stat::P90 => format!("quantile_cont({column}, 0.9) FILTER (WHERE draw > 0)"),
        }
    }
}

/// The statistics a query of these runs gives: those asked for, or for Monte Carlo runs
/// not cut by draw, all of them (a sum over the draws would mean nothing). A run without
/// random draws has only its central figures.
pub fn choose_stats(
    runs: &[RunRow],
    asked: &[Stat],
    group_by: &[String],
) -> Result<Vec<Stat>, QueryProblem> {
    let problem = |message: String| QueryProblem {
        parameter: "stats".into(),
        message,
    };
    let by_draw = group_by.iter().any(|k| same_name(k, DRAW));
    if let Some(run) = runs.iter().find(|r| r.draws == 0) {
        if asked.iter().any(|s| *s != Stat::Central) {
            return Err(problem(format!(
                "run {} ({}) has no random draws: only central applies",
                run.run_id, run.scenario
            )));
        }
    }
    let monte_carlo = runs.iter().any(|r| r.draws > 0);
    Ok(if asked.is_empty() && monte_carlo && !by_draw {
        Stat::ALL.to_vec()
    } else {
        asked.to_vec()
    })
}

/// The name of a draw's number among results' columns, which a query may group by.
pub const DRAW: &str = "draw";

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

    /// One run, if there is one of that id.
    pub fn run(&self, run_id: i64) -> Result<Option<RunRow>, DataError> {
        Ok(self.query_runs("WHERE run_id = ?", run_id)?.pop())
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
                    CAST(started_at AS VARCHAR), duration_ms, dataset, scenario_hash, draws, seed
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
                scenario_hash: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                draws: r.get::<_, Option<i64>>(13)?.unwrap_or_default(),
                seed: r.get::<_, Option<u64>>(14)?.unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Checks a query against the stored results and builds its SQL.
    fn results_sql(
        &self,
        query: &ResultsQuery,
        details: &[String],
    ) -> Result<ResultsSql, QueryOutcome> {
        let stored_keys = self.result_tables.key_names();
        // Keys each run can be cut by: all keys at segment detail, its grouping keys otherwise.
        let allowed = |key: &str| {
            same_name(key, DRAW)
                || stored_keys.iter().any(|k| same_name(k, key))
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

        let by_draw = query.group_by.iter().any(|k| same_name(k, DRAW));
        if by_draw && !query.stats.is_empty() {
            return Err(problem(
                "stats",
                "statistics summarise over the draws: leave draw out of group_by to have them"
                    .into(),
            ));
        }
        let keys: Vec<String> = query
            .group_by
            .iter()
            .filter(|k| !same_name(k, DRAW))
            .map(|k| quote(k))
            .collect();
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
                "turnover" => ", CASE WHEN AVG(fte) = 0 THEN 0 ELSE (SUM(leavers) + SUM(transfers_out)) / AVG(fte) * 12.0 / COUNT(*) END".to_string(),
                "agency_share" => ", CASE WHEN SUM(bank_hours) + SUM(agency_hours) + SUM(unmet_hours) = 0 THEN 0 ELSE SUM(agency_hours) / (SUM(bank_hours) + SUM(agency_hours) + SUM(unmet_hours)) END".to_string(),
                m => {
                    let index = METRICS.iter().position(|x| *x == m).expect("checked above");
                    if is_stock(index) {
                        format!(", AVG({m})")
                    } else {
                        format!(", SUM({m})")
                    }
                }
            })
            .zip(&metrics)
            .map(|(sql, m)| format!("{sql} AS {}", quote(m)))
            .collect();
        // The keys the query reads, each once whatever its case.
        let mut read_keys: Vec<String> = Vec::new();
        for key in query
            .group_by
            .iter()
            .filter(|k| !same_name(k, DRAW))
            .chain(query.filters.iter().map(|(k, _)| k))
        {
            if !read_keys.iter().any(|k| same_name(k, key)) {
                read_keys.push(key.clone());
            }
        }
        // Each draw's figures are summed and its rates worked out on their own; the
        // statistics are then taken over the draws, so that a rate's percentiles are
        // percentiles of the rate in each draw.
        let metric_columns: String = metrics.iter().map(|m| format!(", {}", quote(m))).collect();
        let summary = if by_draw {
            format!(
                "SELECT scenario, period{keys}, {draw}{metric_columns} FROM per_draw
                 ORDER BY scenario, period{keys}, {draw}",
                keys = key_list(", "),
                draw = quote(DRAW),
            )
        } else if query.stats.is_empty() {
            format!(
                "SELECT scenario, period{keys}{metric_columns} FROM per_draw
                 ORDER BY scenario, period{keys}",
                keys = key_list(", "),
            )
        } else {
            let columns: String = metrics
                .iter()
                .flat_map(|m| {
                    query.stats.iter().map(move |s| {
                        format!(
                            ", {} AS {}",
                            s.sql(&quote(m)),
                            quote(&format!("{m}_{}", s.name()))
                        )
                    })
                })
                .collect();
            format!(
                "SELECT scenario, period{keys}{columns} FROM per_draw
                 GROUP BY scenario, period{keys} ORDER BY scenario, period{keys}",
                keys = key_list(", "),
            )
        };
        let sql = format!(
            "WITH monthly AS (
                SELECT scenario, draw, {period} AS period, month{keys} {sums}
                FROM {relation} AS results WHERE {conditions}
                GROUP BY scenario, draw, month{keys}),
             per_draw AS (
                SELECT scenario, draw, period{keys} {outer}
                FROM monthly GROUP BY scenario, draw, period{keys})
             {summary}",
            keys = key_list(", "),
            relation = results_relation(&read_keys),
            conditions = conditions.join(" AND "),
        );
        let mut columns = vec!["scenario".to_string(), "period".to_string()];
        columns.extend(
            query
                .group_by
                .iter()
                .filter(|k| !same_name(k, DRAW))
                .cloned(),
        );
        if by_draw {
            columns.push(DRAW.to_string());
        }
        let metrics: Vec<String> = if query.stats.is_empty() {
            metrics
        } else {
            metrics
                .iter()
                .flat_map(|m| query.stats.iter().map(move |s| format!("{m}_{}", s.name())))
                .collect()
        };
        columns.extend(metrics.iter().cloned());
        Ok(ResultsSql {
            sql,
            parameters,
            columns,
            metrics,
        })
    }

    /// Results of runs, cut as the query asks, all in memory: for answers known to be
    /// small (the command line's tables, comparisons). The API streams them instead,
    /// through [`Store::results_reader`]. `details` are the runs' detail labels.
    pub fn results(
        &self,
        query: &ResultsQuery,
        details: &[String],
    ) -> Result<ResultsTable, QueryOutcome> {
        let sql = self.results_sql(query, details)?;
        let mut rows = Vec::new();
        read_results(self.connection(), &sql, |batch| {
            rows.extend(batch);
            true
        })?;
        Ok(ResultsTable {
            columns: sql.columns,
            rows,
        })
    }

    /// A results query checked and ready to read on a connection of its own, so that
    /// reading it, however slowly, holds no lock on the store while runs are recorded.
    pub fn results_reader(
        &self,
        query: &ResultsQuery,
        details: &[String],
    ) -> Result<ResultsReader, QueryOutcome> {
        let sql = self.results_sql(query, details)?;
        Ok(ResultsReader {
            connection: self.connection().try_clone().map_err(DataError::from)?,
            sql,
        })
    }

    /// Writes a results query to a Parquet file.
    pub fn results_to_parquet(
        &self,
        query: &ResultsQuery,
        details: &[String],
        path: &Path,
    ) -> Result<(), QueryOutcome> {
        let sql = self.results_sql(query, details)?;
        Ok(write_parquet(self.connection(), &sql, path)?)
    }

    /// A run's figures summed over all its rows, month by month (and draw by draw for a
    /// Monte Carlo run), as results at `total` detail: what comparisons of stored runs
    /// need.
    pub fn run_totals(&self, run: &RunRow) -> Result<RunResults, DataError> {
        let sums: Vec<String> = METRICS.iter().map(|m| format!("SUM({m})")).collect();
        let mut statement = self.connection().prepare(&format!(
            "SELECT month, draw, {} FROM {} AS results WHERE run_id = ?
             GROUP BY month, draw ORDER BY month, draw",
            sums.join(", "),
            results_relation(&[])
        ))?;
        let mut figures = Vec::new();
        let mut months: Vec<String> = Vec::new();
        let mut draws = 0usize;
        let mut rows = statement.query([run.run_id])?;
        while let Some(row) = rows.next()? {
            let month: String = row.get(0)?;
            if months.last() != Some(&month) {
                months.push(month);
            }
            let draw: i64 = row.get(1)?;
            draws = draws.max(draw as usize + 1);
            for i in 0..METRICS.len() {
                figures.push(row.get::<_, Option<f64>>(2 + i)?.unwrap_or(0.0));
            }
        }
        let months = months.len();
        let draws = draws.max(1);
        let start: YearMonth = run
            .start_month
            .parse()
            .map_err(|e| DataError::file(format!("run {}", run.run_id), e))?;
        Ok(RunResults {
            draws: crate::model::DrawRange {
                first: 0,
                count: draws,
            },
            scenario: run.scenario.clone(),
            start,
            months,
            key_names: Vec::new(),
            rows: vec![Vec::new(); draws],
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

/// A results query ready to read, on a connection of its own (see
/// [`Store::results_reader`]).
pub struct ResultsReader {
    connection: duckdb::Connection,
    sql: ResultsSql,
}

impl ResultsReader {
    /// `scenario`, `period`, the group-by keys, then the metrics.
    pub fn columns(&self) -> &[String] {
        &self.sql.columns
    }

    /// How many of the columns are numbers (the metrics, or their statistics).
    pub fn value_columns(&self) -> usize {
        self.sql.metrics.len()
    }

    /// Reads the rows in order, a batch at a time as DuckDB produces them (2,048 rows),
    /// handing each batch to `emit`; stops early when `emit` returns false. Only one batch
    /// is held here; DuckDB's own memory is capped by its `memory_limit`.
    pub fn read(&self, emit: impl FnMut(Vec<ResultsRow>) -> bool) -> Result<(), DataError> {
        read_results(&self.connection, &self.sql, emit)
    }

    /// Writes the rows to a Parquet file (DuckDB streams them to it).
    pub fn write_parquet(&self, path: &Path) -> Result<(), DataError> {
        write_parquet(&self.connection, &self.sql, path)
    }
}

/// Writes a checked results query to a Parquet file, its columns named as the JSON and
/// CSV forms name them. DuckDB writes Parquet only to a file; callers serving it over
/// the network give a path in a private folder (`tempfile::TempDir`), since a predictable
/// name in the shared temporary folder would let another user plant a link there and
/// have the server overwrite the file it points at.
fn write_parquet(
    connection: &duckdb::Connection,
    sql: &ResultsSql,
    path: &Path,
) -> Result<(), DataError> {
    let named: Vec<String> = sql
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("#{} AS {}", i + 1, quote(c)))
        .collect();
    // `COPY` takes its file name only as a literal; the query's values are still bound.
    connection.execute(
        &format!(
            "COPY (SELECT {} FROM ({})) TO {} (FORMAT parquet)",
            named.join(", "),
            sql.sql,
            sql_text(&path.display().to_string())
        ),
        params_from_iter(sql.parameters.iter().cloned()),
    )?;
    Ok(())
}

/// Runs a checked results query on `connection`, streaming its rows to `emit` in DuckDB's
/// batches until they end or `emit` returns false.
fn read_results(
    connection: &duckdb::Connection,
    sql: &ResultsSql,
    mut emit: impl FnMut(Vec<ResultsRow>) -> bool,
) -> Result<(), DataError> {
    use duckdb::arrow::array::{Array, AsArray};
    use duckdb::arrow::compute::cast;
    use duckdb::arrow::datatypes::{DataType, Float64Type};

    let keys = sql.columns.len() - 2 - sql.metrics.len();
    let mut statement = connection.prepare(&sql.sql)?;
    let batches = statement.stream_arrow(params_from_iter(sql.parameters.iter().cloned()))?;
    let unreadable = |e| DataError::file("the results query", e);
    for batch in batches {
        let batch = batch?;
        let text: Vec<_> = (0..2 + keys)
            .map(|i| cast(batch.column(i), &DataType::Utf8))
            .collect::<Result<_, _>>()
            .map_err(unreadable)?;
        let numbers: Vec<_> = (2 + keys..batch.num_columns())
            .map(|i| cast(batch.column(i), &DataType::Float64))
            .collect::<Result<_, _>>()
            .map_err(unreadable)?;
        let text: Vec<_> = text.iter().map(|a| a.as_string::<i32>()).collect();
        let numbers: Vec<_> = numbers
            .iter()
            .map(|a| a.as_primitive::<Float64Type>())
            .collect();
        let value = |column: &duckdb::arrow::array::StringArray, row: usize| -> String {
            if column.is_null(row) {
                String::new()
            } else {
                column.value(row).to_string()
            }
        };
        let rows = (0..batch.num_rows())
            .map(|row| ResultsRow {
                scenario: value(text[0], row),
                period: value(text[1], row),
                keys: text[2..].iter().map(|c| value(c, row)).collect(),
                // A figure no run had (a metric added since) reads as zero.
                values: numbers
                    .iter()
                    .map(|c| if c.is_null(row) { 0.0 } else { c.value(row) })
                    .collect(),
            })
            .collect();
        if !emit(rows) {
            break;
        }
    }
    Ok(())
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
            draws: crate::model::DrawRange::DETERMINISTIC,
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
            draws: 0,
            seed: 0,
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
            stats: Vec::new(),
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
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("r.parquet");
        store
            .results_to_parquet(&by_org(run_id, ORGS[0]), &details, &path)
            .unwrap();
        assert_eq!(&std::fs::read(&path).unwrap()[..4], b"PAR1");
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
