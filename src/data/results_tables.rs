//! How runs' results are laid out in the database.
//!
//! Readers see one `results` view with the spec's output rows: `run_id`, `scenario`,
//! `month` (`YYYY-MM`), `row`, the key columns, then the metrics. Underneath it are three
//! tables, so that a run's key values are written once per row rather than once per row
//! and month (a segment-level run of the sample ICS is 183 rows by 60 months), and so that
//! no dataset's keys widen what every later run writes:
//!
//! - `result_rows`: `run_id`, `row`, `scenario` and `keys`, the row's key values as a
//!   `MAP(VARCHAR, VARCHAR)` from key name (lower case, as DuckDB compares names) to value;
//! - `result_figures`: `run_id`, `row`, `month` (a `DATE`, the month's first day) and the
//!   metrics, one row per run row and month;
//! - `result_key_names`: every key name a stored run has had, once, from which the
//!   `results` view takes its key columns.
//!
//! Keys were once columns of `result_rows`: one run on a dataset with 10,000 extra keys
//! left the table 10,008 columns wide, and every later run on any dataset paid for it
//! (1.2-2.7 s a run instead of 30-60 ms). A map has one column whatever the keys; only the
//! view, which nothing in wfplan reads while storing, grows with the names ever seen, and
//! wfplan's own queries read just the keys they ask for ([`results_relation`]).
//!
//! Strings were most of the cost of storing a run: recording segment-level runs went from
//! 35 to about 60 a second with rows and figures apart (`cargo bench --bench store`,
//! BENCHMARKS.md). Databases written by an earlier wfplan (a `results` table, or
//! `result_rows` with a column a key) are converted when opened. Only this module writes
//! these tables.

use std::sync::Arc;

use duckdb::arrow::array::{
    new_null_array, ArrayRef, Date32Array, Float64Array, Int32Array, Int64Array, MapBuilder,
    StringArray, StringBuilder,
};
use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{Connection, OptionalExt};

use super::sql::{quote, record_batch, sql_text, table_columns};
use super::DataError;
use crate::model::results::METRICS;
use crate::model::RunResults;

/// Columns of `result_rows`, in table order.
const ROW_COLUMNS: [&str; 5] = ["run_id", "row", "scenario", "keys", "draw"];
/// The tables as wfplan writes them today.
fn create_tables_sql() -> String {
    let metrics: String = METRICS.iter().map(|m| format!(", {m} DOUBLE")).collect();
    format!(
        "CREATE TABLE IF NOT EXISTS result_rows
             (run_id BIGINT, row INTEGER, scenario VARCHAR, keys MAP(VARCHAR, VARCHAR), draw INTEGER);
         CREATE TABLE IF NOT EXISTS result_figures (run_id BIGINT, row INTEGER, month DATE{metrics});
         CREATE TABLE IF NOT EXISTS result_key_names (name VARCHAR PRIMARY KEY);"
    )
}

/// A key name as the `keys` maps and `result_key_names` hold it: DuckDB compares names
/// ignoring case, so `Setting` and `setting` are one key.
fn key_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The SQL of a key's value in `result_rows` (`NULL` where the row has no such key).
fn key_value(name: &str) -> String {
    format!("map_extract(keys, {})[1]", sql_text(&key_name(name)))
}

/// The results' rows with the key columns `keys` (named as given) and every metric: the
/// `results` view's shape, with only the keys a query needs, so that a query reads no more
/// than it uses however many key names the database has seen. Keys are taken out of the
/// maps before the join, once per run row rather than once per row and month.
pub(super) fn results_relation(keys: &[String]) -> String {
    let key_columns: String = keys
        .iter()
        .map(|k| format!(", {} AS {}", key_value(k), quote(k)))
        .collect();
    let key_list: String = keys.iter().map(|k| format!(", r.{}", quote(k))).collect();
    let metrics: String = METRICS.iter().map(|m| format!(", f.{m}")).collect();
    format!(
        "(SELECT f.run_id, r.scenario, r.draw, strftime(f.month, '%Y-%m') AS month, f.row{key_list}{metrics}
          FROM result_figures f
          JOIN (SELECT run_id, row, scenario, draw{key_columns} FROM result_rows) r
            ON r.run_id = f.run_id AND r.row = f.row)"
    )
}

/// The key names stored runs have had (lower case, in the order first seen), kept in step
/// with `result_key_names` so that storing a run asks DuckDB nothing about them.
#[derive(Debug, Default)]
pub(super) struct ResultTables {
    key_names: Vec<String>,
    /// `result_figures`' columns in table order: batches are appended with every column
    /// in table order because DuckDB plans an `INSERT` statement for every flush of an
    /// appender given a subset of columns.
    figure_columns: Vec<String>,
}

impl ResultTables {
    /// Converts an earlier wfplan's layout, creates what is absent, and reads the key
    /// names. Run when the database is opened.
    pub(super) fn open(connection: &mut Connection) -> Result<ResultTables, DataError> {
        convert_earlier_layouts(connection)?;
        connection.execute_batch(&create_tables_sql())?;
        // Results stored before Monte Carlo runs are every one draw 0.
        connection.execute_batch(
            "ALTER TABLE result_rows ADD COLUMN IF NOT EXISTS draw INTEGER DEFAULT 0;",
        )?;
        // Metrics this wfplan has that the database's results lack (a database written
        // before they were added): empty for the runs stored then.
        let figure_columns = table_columns(connection, "result_figures")?;
        for metric in METRICS
            .iter()
            .filter(|m| !figure_columns.iter().any(|c| c == *m))
        {
            connection.execute_batch(&format!(
                "ALTER TABLE result_figures ADD COLUMN {metric} DOUBLE;"
            ))?;
        }
        let tables = ResultTables {
            key_names: read_key_names(connection)?,
            figure_columns: table_columns(connection, "result_figures")?,
        };
        // Made afresh each time: it lists the metrics, which may just have been added.
        connection.execute_batch(&tables.view_sql())?;
        Ok(tables)
    }

    /// Key names the stored results have (lower case).
    pub(super) fn key_names(&self) -> &[String] {
        &self.key_names
    }

    /// Records key names a run brings that no stored run had, and shows them in the view.
    /// Costs nothing when every name is known, which is every run but a new dataset's first.
    pub(super) fn ensure(
        &mut self,
        connection: &Connection,
        key_names: &[String],
    ) -> Result<(), DataError> {
        let mut missing: Vec<String> = Vec::new();
        for name in key_names.iter().map(|k| key_name(k)) {
            if !self.key_names.contains(&name) && !missing.contains(&name) {
                missing.push(name);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut statement =
            connection.prepare_cached("INSERT OR IGNORE INTO result_key_names VALUES (?)")?;
        for name in &missing {
            statement.execute([name])?;
        }
        self.key_names.extend(missing);
        connection.execute_batch(&self.view_sql())?;
        Ok(())
    }

    /// `CREATE OR REPLACE VIEW results`, in the column order the spec's output has, with a
    /// column for every key name stored runs have had.
    fn view_sql(&self) -> String {
        format!(
            "CREATE OR REPLACE VIEW results AS SELECT * FROM {};",
            results_relation(&self.key_names)
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
            appender.append_record_batch(rows_batch(*run_id, results))?;
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

/// The key names recorded in `result_key_names`, in the order first seen.
fn read_key_names(connection: &Connection) -> Result<Vec<String>, DataError> {
    let mut statement = connection.prepare("SELECT name FROM result_key_names ORDER BY rowid")?;
    let names = statement
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(names)
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

/// The SQL of a `keys` map made from key columns of a table of an earlier layout, leaving
/// out keys a row has no value for.
fn keys_map_sql(key_columns: &[String]) -> String {
    if key_columns.is_empty() {
        return "CAST(MAP() AS MAP(VARCHAR, VARCHAR))".into();
    }
    let entries: Vec<String> = key_columns
        .iter()
        .map(|k| {
            format!(
                "struct_pack(k := {}, v := CAST({} AS VARCHAR))",
                sql_text(&key_name(k)),
                quote(k)
            )
        })
        .collect();
    format!(
        "CAST(map_from_entries(list_filter([{}], lambda e: e.v IS NOT NULL)) AS MAP(VARCHAR, VARCHAR))",
        entries.join(", ")
    )
}

/// Converts results written by an earlier wfplan, in one transaction (on any error the
/// database is left as it was): a `results` table with keys and month as text on every
/// row, or `result_rows` with a column a key.
fn convert_earlier_layouts(connection: &mut Connection) -> Result<(), DataError> {
    let results_table = table_kind(connection, "results")?.as_deref() == Some("BASE TABLE");
    let row_columns = table_columns(connection, "result_rows")?;
    let keys_as_columns = !row_columns.is_empty() && !row_columns.iter().any(|c| c == "keys");
    if !results_table && !keys_as_columns {
        return Ok(());
    }
    let started = std::time::Instant::now();
    // A warning so that it shows by default: on a large database this takes a while
    // (12 s for 11 million rows), once.
    tracing::warn!(
        "converting the results written by an earlier wfplan to result_rows, result_figures and result_key_names (once)"
    );
    let transaction = connection.transaction()?;
    let keys: Vec<String> = if results_table {
        let columns = table_columns(&transaction, "results")?;
        let keys: Vec<String> = columns
            .into_iter()
            .filter(|c| {
                !["run_id", "scenario", "month", "row"].contains(&c.as_str())
                    && !METRICS.contains(&c.as_str())
            })
            .collect();
        let key_list: String = keys.iter().map(|k| format!(", {}", quote(k))).collect();
        let metric_list: String = METRICS.iter().map(|m| format!(", {m}")).collect();
        // No ORDER BY: sorting millions of rows held them all in memory (5 GB for 11
        // million), and readers sort what they need.
        transaction.execute_batch(&format!(
            "CREATE TABLE result_rows_earlier AS
                 SELECT DISTINCT run_id, row, scenario{key_list} FROM results;
             CREATE TABLE result_figures AS
                 SELECT run_id, row, CAST(month || '-01' AS DATE) AS month{metric_list}
                 FROM results;
             DROP TABLE results;"
        ))?;
        keys
    } else {
        transaction.execute_batch(
            "DROP VIEW IF EXISTS results; ALTER TABLE result_rows RENAME TO result_rows_earlier;",
        )?;
        row_columns.into_iter().skip(3).collect()
    };
    transaction.execute_batch(&format!(
        "CREATE TABLE result_rows AS
             SELECT CAST(run_id AS BIGINT) AS run_id, CAST(row AS INTEGER) AS row,
                    CAST(scenario AS VARCHAR) AS scenario, {} AS keys,
                    CAST(0 AS INTEGER) AS draw
             FROM result_rows_earlier;
         DROP TABLE result_rows_earlier;
         {}",
        keys_map_sql(&keys),
        create_tables_sql()
    ))?;
    // The view is made when the tables are opened, just after.
    ResultTables::default().ensure(&transaction, &keys)?;
    transaction.commit()?;
    tracing::info!("converted the results in {:?}", started.elapsed());
    Ok(())
}

/// The number a row is stored under: its place in the run, counting the rows of the draws
/// before it, so that the blocks of a Monte Carlo run, stored one by one, number their
/// rows apart.
fn row_number(results: &RunResults, row: usize) -> i32 {
    (results.draws.first as usize * results.rows_per_draw() + row) as i32
}

/// A run's rows (keys once per row) as a record batch with `result_rows`' columns.
fn rows_batch(run_id: i64, results: &RunResults) -> RecordBatch {
    let rows = results.rows.len();
    let first_row = row_number(results, 0);
    let names: Vec<String> = results.key_names.iter().map(|k| key_name(k)).collect();
    let mut keys = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for row in &results.rows {
        for (name, value) in names.iter().zip(row) {
            keys.keys().append_value(name);
            keys.values().append_value(value);
        }
        keys.append(true).expect("as many keys as values");
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![run_id; rows])),
        Arc::new(Int32Array::from_iter_values(
            (0..rows as i32).map(|r| r + first_row),
        )),
        Arc::new(StringArray::from(vec![results.scenario.as_str(); rows])),
        Arc::new(keys.finish()),
        Arc::new(Int32Array::from_iter_values(
            (0..rows).map(|r| results.draw_of_row(r) as i32),
        )),
    ];
    let columns: Vec<String> = ROW_COLUMNS.iter().map(|c| c.to_string()).collect();
    record_batch(&columns, arrays)
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
                "row" => {
                    let first = row_number(results, 0);
                    Arc::new(Int32Array::from_iter_values(
                        (0..results.months).flat_map(|_| first..first + rows as i32),
                    ))
                }
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

    /// The record of a one-month run from 2026-01 on the default dataset.
    fn record(scenario: &str, detail: &str) -> RunRecord {
        RunRecord {
            batch_id: 0,
            scenario: scenario.into(),
            scenario_hash: String::new(),
            rules_hash: String::new(),
            data_hash: String::new(),
            detail: detail.into(),
            start_month: "2026-01".into(),
            months: 1,
            dataset: "default".into(),
            draws: 0,
            seed: 0,
        }
    }

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
        // As they were, each row now draw 0 of its run.
        let with_draw: Vec<String> = before
            .iter()
            .map(|row| {
                let (run, rest) = row.split_once('|').unwrap();
                let (scenario, rest) = rest.split_once('|').unwrap();
                format!("{run}|{scenario}|Int(0)|{rest}")
            })
            .collect();
        assert_eq!(all_results(store.connection()), with_draw);
        // The converted tables take new runs, and a new key column shows in the view.
        let run = RunResults {
            draws: crate::model::DrawRange::DETERMINISTIC,
            scenario: "new".into(),
            start: YearMonth::new(2026, 1).unwrap(),
            months: 1,
            key_names: vec!["org".into(), "site".into()],
            rows: vec![vec!["c".into(), "north".into()]],
            figures: (0..METRICS.len()).map(|i| i as f64).collect(),
        };
        let ids = store
            .record_finished_runs(&[(
                record("new", "org,site"),
                Ok(&run),
                Duration::from_millis(1),
            )])
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

    /// A run on a dataset with many keys leaves the tables as wide as before: runs on
    /// other datasets append the same four and figure columns, and only the view shows
    /// the new keys.
    #[test]
    fn a_datasets_keys_do_not_widen_the_tables_later_runs_write() {
        let mut store = Store::open_in_memory().unwrap();
        let run = |keys: Vec<String>| RunResults {
            draws: crate::model::DrawRange::DETERMINISTIC,
            scenario: "s".into(),
            start: YearMonth::new(2026, 1).unwrap(),
            months: 1,
            rows: vec![keys.iter().map(|k| format!("{k}-value")).collect()],
            key_names: keys,
            figures: (0..METRICS.len()).map(|i| i as f64).collect(),
        };
        let wide: Vec<String> = (0..60).map(|i| format!("Extra{i}")).collect();
        let narrow = vec!["org".to_string()];
        for keys in [wide.clone(), narrow.clone(), vec!["ORG".to_string()]] {
            store
                .record_finished_runs(&[(
                    record("s", &keys.join(",")),
                    Ok(&run(keys.clone())),
                    Duration::from_millis(1),
                )])
                .unwrap();
        }
        let connection = store.connection();
        assert_eq!(
            table_columns(connection, "result_rows").unwrap(),
            ROW_COLUMNS
        );
        assert_eq!(
            table_columns(connection, "result_figures").unwrap().len(),
            3 + METRICS.len()
        );
        // The view has every key once (names compared ignoring case, as DuckDB does).
        assert_eq!(
            table_columns(connection, "results").unwrap().len(),
            5 + 61 + METRICS.len()
        );
        let orgs: Vec<Option<String>> = connection
            .prepare("SELECT org FROM results ORDER BY run_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            orgs,
            [None, Some("org-value".into()), Some("ORG-value".into())]
        );
        let extra: Option<String> = connection
            .query_row(
                "SELECT extra59 FROM results ORDER BY run_id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(extra.as_deref(), Some("Extra59-value"));
    }

    #[test]
    fn result_rows_with_a_column_a_key_are_converted_to_maps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("earlier.duckdb");
        {
            let connection = Connection::open(&path).unwrap();
            let metrics: String = METRICS.iter().map(|m| format!(", {m} DOUBLE")).collect();
            connection
                .execute_batch(&format!(
                    "CREATE TABLE result_rows (run_id BIGINT, row INTEGER, scenario VARCHAR, org VARCHAR, band VARCHAR);
                     CREATE TABLE result_figures (run_id BIGINT, row INTEGER, month DATE{metrics});
                     INSERT INTO result_rows VALUES (7, 0, 's', 'a', '5'), (7, 1, 's', 'b', NULL);
                     INSERT INTO result_figures (run_id, row, month, fte)
                         VALUES (7, 0, DATE '2025-04-01', 1.5), (7, 1, DATE '2025-04-01', 2.5);"
                ))
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            table_columns(store.connection(), "result_rows").unwrap(),
            ROW_COLUMNS
        );
        let rows: Vec<(String, Option<String>, f64)> = store
            .connection()
            .prepare("SELECT org, band, fte FROM results ORDER BY row")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [("a".into(), Some("5".into()), 1.5), ("b".into(), None, 2.5)]
        );
    }
}
