//! How runs' results are laid out in the database.
//!
//! Readers see one `results` view with the spec's output rows: `run_id`, `scenario`,
//! `month` (`YYYY-MM`), `row`, the key columns, then the metrics. Underneath it are two
//! tables, so that a run's key values are written once per row rather than once per row
//! and month (a segment-level run of the sample ICS is 183 rows by 60 months):
//!
//! - `result_rows`: `run_id`, `row`, `scenario` and the key columns, one row per run row;
//! - `result_figures`: `run_id`, `row`, `month` (a `DATE`, the month's first day) and the
//!   metrics, one row per run row and month.
//!
//! Strings were most of the cost of storing a run: recording segment-level runs went from
//! 35 to about 60 a second with this layout (`cargo bench --bench store`, BENCHMARKS.md).
//! A database written by an earlier wfplan, with `results` as a table, is converted when
//! it is opened. Only this module writes these tables.

use std::sync::Arc;

use duckdb::arrow::array::{
    new_null_array, ArrayRef, Date32Array, Float64Array, Int32Array, Int64Array, StringArray,
};
use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{Connection, OptionalExt};

use super::sql::{quote, record_batch, table_columns};
use super::DataError;
use crate::model::results::METRICS;
use crate::model::{same_name, RunResults};

/// Columns of `result_rows` before the key columns.
const ROW_LEAD: [&str; 3] = ["run_id", "row", "scenario"];
/// Columns of `result_figures` before the metrics.
const FIGURE_LEAD: [&str; 3] = ["run_id", "row", "month"];

/// The results tables' columns in table order, once known (empty until the first run is
/// stored), so that storing a run neither asks DuckDB for them nor alters a table each
/// time. Batches are appended with every column in table order because DuckDB plans an
/// `INSERT` statement for every flush of an appender given a subset of columns.
#[derive(Debug, Default)]
pub(super) struct ResultTables {
    row_columns: Vec<String>,
    figure_columns: Vec<String>,
}

impl ResultTables {
    /// Creates the tables and the view if absent, or adds key columns a new dataset
    /// brings (and redefines the view to show them).
    pub(super) fn ensure(
        &mut self,
        connection: &Connection,
        key_names: &[String],
    ) -> Result<(), DataError> {
        // The tables' columns as stored, the first time (none if there are no tables yet).
        if self.row_columns.is_empty() {
            *self = Self::read(connection)?;
        }
        // DuckDB compares names ignoring case: `Setting` is the column `setting`.
        let missing: Vec<&String> = key_names
            .iter()
            .filter(|k| !self.row_columns.iter().any(|c| same_name(c, k)))
            .collect();
        // A run at `total` detail has no keys; one whose keys are known needs nothing.
        if !self.row_columns.is_empty() && missing.is_empty() {
            return Ok(());
        }
        let sql = if self.row_columns.is_empty() {
            let keys: String = key_names
                .iter()
                .map(|k| format!(", {} VARCHAR", quote(k)))
                .collect();
            let metrics: String = METRICS.iter().map(|m| format!(", {m} DOUBLE")).collect();
            format!(
                "CREATE TABLE result_rows (run_id BIGINT, row INTEGER, scenario VARCHAR{keys});
                 CREATE TABLE result_figures (run_id BIGINT, row INTEGER, month DATE{metrics});"
            )
        } else {
            missing
                .iter()
                .map(|k| format!("ALTER TABLE result_rows ADD COLUMN {} VARCHAR;", quote(k)))
                .collect()
        };
        connection.execute_batch(&sql)?;
        *self = Self::read(connection)?;
        connection.execute_batch(&self.view_sql())?;
        Ok(())
    }

    /// The tables' columns as the database has them (empty when there are no tables).
    fn read(connection: &Connection) -> Result<ResultTables, DataError> {
        Ok(ResultTables {
            row_columns: table_columns(connection, "result_rows")?,
            figure_columns: table_columns(connection, "result_figures")?,
        })
    }

    /// `CREATE OR REPLACE VIEW results`, in the column order the spec's output has.
    fn view_sql(&self) -> String {
        let keys = self.row_columns.iter().skip(ROW_LEAD.len());
        let metrics = self.figure_columns.iter().skip(FIGURE_LEAD.len());
        let columns: Vec<String> = [
            "f.run_id".to_string(),
            "r.scenario".into(),
            "strftime(f.month, '%Y-%m') AS month".into(),
            "f.row".into(),
        ]
        .into_iter()
        .chain(keys.map(|k| format!("r.{}", quote(k))))
        .chain(metrics.map(|m| format!("f.{}", quote(m))))
        .collect();
        format!(
            "CREATE OR REPLACE VIEW results AS SELECT {} FROM result_figures f \
             JOIN result_rows r ON r.run_id = f.run_id AND r.row = f.row;",
            columns.join(", ")
        )
    }

    /// Appends runs' results, with one appender per table for them all.
    pub(super) fn append(
        &self,
        connection: &Connection,
        runs: &[(i64, &RunResults)],
    ) -> Result<(), DataError> {
        if runs.is_empty() {
            return Ok(());
        }
        let mut appender = connection.appender("result_rows")?;
        for (run_id, results) in runs {
            appender.append_record_batch(rows_batch(*run_id, results, &self.row_columns))?;
        }
        appender.flush()?;
        let mut appender = connection.appender("result_figures")?;
        for (run_id, results) in runs {
            appender.append_record_batch(figures_batch(*run_id, results, &self.figure_columns))?;
        }
        appender.flush()?;
        Ok(())
    }
}

/// `BASE TABLE` or `VIEW` if the database has something of that name.
fn table_kind(connection: &Connection, name: &str) -> Result<Option<String>, DataError> {
    Ok(connection
        .query_row(
            "SELECT table_type FROM information_schema.tables
             WHERE table_name = ? AND table_schema = 'main'",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

/// Converts a `results` table written by an earlier wfplan (keys and month as text on
/// every row) to the two tables and the view, in one transaction: on any error the
/// database is left as it was.
pub(super) fn convert_results_table(connection: &mut Connection) -> Result<(), DataError> {
    if table_kind(connection, "results")?.as_deref() != Some("BASE TABLE") {
        return Ok(());
    }
    let columns = table_columns(connection, "results")?;
    let keys: Vec<String> = columns
        .iter()
        .filter(|c| {
            !["run_id", "scenario", "month", "row"].contains(&c.as_str())
                && !METRICS.contains(&c.as_str())
        })
        .map(|k| quote(k))
        .collect();
    let key_list: String = keys.iter().map(|k| format!(", {k}")).collect();
    let metric_list: String = METRICS.iter().map(|m| format!(", {m}")).collect();
    let started = std::time::Instant::now();
    // A warning so that it shows by default: on a large database this takes a while
    // (12 s for 11 million rows), once.
    tracing::warn!(
        "converting the results table written by an earlier wfplan to result_rows and result_figures (once)"
    );
    // No ORDER BY: sorting millions of rows held them all in memory (5 GB for 11 million),
    // and the view's readers sort what they need.
    let transaction = connection.transaction()?;
    transaction.execute_batch(&format!(
        "CREATE TABLE result_rows AS
             SELECT DISTINCT run_id, row, scenario{key_list} FROM results;
         CREATE TABLE result_figures AS
             SELECT run_id, row, CAST(month || '-01' AS DATE) AS month{metric_list}
             FROM results;
         DROP TABLE results;"
    ))?;
    transaction.execute_batch(&ResultTables::read(&transaction)?.view_sql())?;
    transaction.commit()?;
    tracing::info!("converted the results table in {:?}", started.elapsed());
    Ok(())
}

/// A run's rows (keys once per row) as a record batch with `result_rows`' columns in
/// table order; key columns the run does not have (other datasets' keys) are null.
fn rows_batch(run_id: i64, results: &RunResults, columns: &[String]) -> RecordBatch {
    let rows = results.rows.len();
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|column| -> ArrayRef {
            match column.as_str() {
                "run_id" => Arc::new(Int64Array::from(vec![run_id; rows])),
                "row" => Arc::new(Int32Array::from_iter_values(0..rows as i32)),
                "scenario" => Arc::new(StringArray::from(vec![results.scenario.as_str(); rows])),
                name => match results.key_names.iter().position(|k| same_name(k, name)) {
                    Some(key) => Arc::new(StringArray::from_iter_values(
                        results.rows.iter().map(|r| r[key].as_str()),
                    )),
                    None => new_null_array(&DataType::Utf8, rows),
                },
            }
        })
        .collect();
    record_batch(columns, arrays)
}

/// A run's figures, month by month, as a record batch with `result_figures`' columns in
/// table order.
fn figures_batch(run_id: i64, results: &RunResults, columns: &[String]) -> RecordBatch {
    let rows = results.rows.len();
    let count = results.months * rows;
    let width = METRICS.len();
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|column| -> ArrayRef {
            match column.as_str() {
                "run_id" => Arc::new(Int64Array::from(vec![run_id; count])),
                "row" => Arc::new(Int32Array::from_iter_values(
                    (0..results.months).flat_map(|_| 0..rows as i32),
                )),
                "month" => Arc::new(Date32Array::from_iter_values((0..results.months).flat_map(
                    |m| std::iter::repeat_n(results.start.plus(m as i64).days_since_epoch(), rows),
                ))),
                name => match METRICS.iter().position(|m| *m == name) {
                    Some(metric) => Arc::new(Float64Array::from_iter_values(
                        (0..count).map(|i| results.figures[i * width + metric]),
                    )),
                    // A metric this wfplan no longer has: left empty.
                    None => new_null_array(&DataType::Float64, count),
                },
            }
        })
        .collect();
    record_batch(columns, arrays)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::data::{RunRecord, Store};
    use crate::model::YearMonth;

    /// Every row of the `results` view (or table) as text, in a fixed order.
    fn all_results(connection: &Connection) -> Vec<String> {
        let mut statement = connection
            .prepare("SELECT * EXCLUDE (month), month FROM results ORDER BY run_id, month, row")
            .unwrap();
        let width = statement.column_count();
        let rows = statement
            .query_map([], |r| {
                (0..width)
                    .map(|i| Ok(format!("{:?}", r.get::<_, duckdb::types::Value>(i)?)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap()
            .map(|r| r.unwrap().join("|"))
            .collect::<Vec<_>>();
        drop(statement);
        rows
    }

    #[test]
    fn a_results_table_from_an_earlier_wfplan_is_converted_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.duckdb");
        let before = {
            let connection = Connection::open(&path).unwrap();
            let metrics: String = METRICS.iter().map(|m| format!(", {m} DOUBLE")).collect();
            connection
                .execute_batch(&format!(
                    "CREATE TABLE results (run_id BIGINT, scenario VARCHAR, month VARCHAR,
                         row INTEGER, org VARCHAR, band VARCHAR{metrics});"
                ))
                .unwrap();
            // Two runs (ids above the new database's sequence), one with two rows, one at a coarser detail (band empty), two months.
            let values: String = METRICS
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    format!(", {i} + run_id * 100 + row * 10 + month(CAST(m || '-01' AS DATE))")
                })
                .collect();
            connection
                .execute_batch(&format!(
                    "INSERT INTO results
                     SELECT run_id, s, m, row, org, band{values}
                     FROM (VALUES (101, 'base', 0, 'a', '5'), (101, 'base', 1, 'b', '6'),
                                  (102, 'grow', 0, 'a', NULL)) AS r(run_id, s, row, org, band),
                          (VALUES ('2025-04'), ('2025-05')) AS t(m);"
                ))
                .unwrap();
            all_results(&connection)
        };
        assert_eq!(before.len(), 6);
        let mut store = Store::open(&path).unwrap();
        assert_eq!(
            table_kind(store.connection(), "results")
                .unwrap()
                .as_deref(),
            Some("VIEW")
        );
        assert_eq!(all_results(store.connection()), before);
        // The converted tables take new runs, and a new key column shows in the view.
        let run = RunResults {
            scenario: "new".into(),
            start: YearMonth::new(2026, 1).unwrap(),
            months: 1,
            key_names: vec!["org".into(), "site".into()],
            rows: vec![vec!["c".into(), "north".into()]],
            figures: (0..METRICS.len()).map(|i| i as f64).collect(),
        };
        let record = RunRecord {
            batch_id: 0,
            scenario: "new".into(),
            scenario_hash: String::new(),
            rules_hash: String::new(),
            data_hash: String::new(),
            detail: "org,site".into(),
            start_month: "2026-01".into(),
            months: 1,
            dataset: "default".into(),
        };
        let ids = store
            .record_finished_runs(&[(record, Ok(&run), Duration::from_millis(1))])
            .unwrap();
        let after = all_results(store.connection());
        assert_eq!(after.len(), 7);
        let sites: Vec<(Option<String>, String)> = store
            .connection()
            .prepare("SELECT site, month FROM results ORDER BY run_id, month, row")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // The new run's id comes first: the sequence of a fresh `runs` table starts at 1.
        assert!(ids[0].1 < 101);
        assert_eq!(sites[0], (Some("north".into()), "2026-01".into()));
        assert!(sites[1..].iter().all(|s| s.0.is_none()));
    }
}
