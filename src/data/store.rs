//! The DuckDB database: the `workforce` table, the `runs` table (one row per scenario run)
//! and the `results` view of the spec's output rows of every successful run (its tables
//! are `results_tables`').
//!
//! A run's row is written as `running` before it starts; its results and final status are
//! written in one transaction, so a failed or interrupted run leaves no partial results, and
//! a run still `running` when the database is next opened is marked failed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use duckdb::arrow::array::{
    new_null_array, ArrayRef, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{params, Connection, OptionalExt};

use super::import::read_query;
use super::results_tables::{convert_results_table, ResultTables};
use super::DataError;
use crate::model::{InputColumn, RunResults, Workforce};

/// An open wfplan database.
pub struct Store {
    connection: Connection,
    /// The tables under the `results` view.
    result_tables: ResultTables,
    /// The `runs` table's columns in table order, for appending finished runs' rows.
    run_columns: Vec<String>,
    /// DuckDB's write-ahead log beside the database file (none in memory).
    log_path: Option<PathBuf>,
}

/// What identifies a run, recorded before it starts.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Runs started together (one command, one sweep) share a batch id.
    pub batch_id: i64,
    pub scenario: String,
    pub scenario_hash: String,
    pub rules_hash: String,
    pub data_hash: String,
    pub detail: String,
    pub start_month: String,
    pub months: usize,
    /// The dataset run on: `default` (the workforce table), an uploaded dataset's id, or
    /// the path given to `--data`.
    pub dataset: String,
}

const SCHEMA: &str = "
CREATE SEQUENCE IF NOT EXISTS run_ids START 1;
CREATE SEQUENCE IF NOT EXISTS batch_ids START 1;
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY,
    batch_id BIGINT,
    scenario VARCHAR NOT NULL,
    scenario_hash VARCHAR,
    rules_hash VARCHAR,
    data_hash VARCHAR,
    detail VARCHAR,
    start_month VARCHAR,
    months INTEGER,
    started_at TIMESTAMP DEFAULT current_timestamp,
    duration_ms DOUBLE,
    status VARCHAR NOT NULL,
    error VARCHAR
);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS dataset VARCHAR;
CREATE SEQUENCE IF NOT EXISTS dataset_ids START 1;
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS scenarios (
    name VARCHAR PRIMARY KEY,
    document VARCHAR,
    updated_at TIMESTAMP DEFAULT current_timestamp
);
";

/// Status of a run in the `runs` table.
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

impl Store {
    /// Opens (creating if needed) a database file, and marks runs left `running` by a
    /// process that stopped as failed.
    pub fn open(path: &Path) -> Result<Store, DataError> {
        let connection = Connection::open(path).map_err(|e| DataError::file(path.display(), e))?;
        let mut store = Self::with_connection(connection)?;
        let mut log = path.as_os_str().to_owned();
        log.push(".wal");
        store.log_path = Some(PathBuf::from(log));
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Store, DataError> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(mut connection: Connection) -> Result<Store, DataError> {
        // Checkpoint after 256 MB of log rather than DuckDB's default 16 MB: a sweep writes
        // many small transactions, and checkpointing every few of them cost more than
        // writing them (BENCHMARKS.md). The log is folded in when the database closes.
        // One DuckDB thread: wfplan's own statements are small, and with a thread per
        // core DuckDB's workers spun waiting for tasks on every commit, taking CPU from
        // the engine (an API run under load: 100 runs/s with a pool, 117 with one thread;
        // the sweep: 11.1 s against 9.6 s).
        connection.execute_batch("SET checkpoint_threshold = '256MB'; SET threads = 1;")?;
        connection.execute_batch(SCHEMA)?;
        connection.execute(
            "UPDATE runs SET status = ?, error = ? WHERE status = ?",
            params![
                FAILED,
                "interrupted: the process stopped before the run finished",
                RUNNING
            ],
        )?;
        convert_results_table(&mut connection)?;
        let run_columns = table_columns(&connection, "runs")?;
        Ok(Store {
            connection,
            result_tables: ResultTables::default(),
            run_columns,
            log_path: None,
        })
    }

    /// Bytes in DuckDB's write-ahead log: what has been committed since the last
    /// checkpoint (0 in memory).
    pub fn log_bytes(&self) -> u64 {
        self.log_path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }

    /// Folds the write-ahead log into the database file. DuckDB also does this by itself
    /// inside a commit once the log passes `checkpoint_threshold`, holding up that commit.
    pub fn checkpoint(&self) -> Result<(), DataError> {
        Ok(self.connection.execute_batch("CHECKPOINT;")?)
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub(crate) fn connection_mut(&mut self) -> &mut Connection {
        &mut self.connection
    }

    pub(crate) fn has_table(&self, name: &str) -> Result<bool, DataError> {
        let found: Option<i64> = self
            .connection
            .query_row(
                "SELECT 1 FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    /// The stored `workforce` table, if there is one.
    pub fn workforce(&self) -> Result<Option<Workforce>, DataError> {
        self.read_workforce_table("workforce")
    }

    /// A stored workforce table (`workforce`, or an uploaded dataset's table), if it exists.
    pub fn read_workforce_table(&self, table: &str) -> Result<Option<Workforce>, DataError> {
        if !self.has_table(table)? {
            return Ok(None);
        }
        let mut builder = None;
        read_query(
            &self.connection,
            &format!("SELECT * FROM {}", quote(table)),
            &format!("table {table}"),
            &mut builder,
        )?;
        match builder {
            Some(b) => Ok(Some(b.finish()?)),
            None => Ok(None),
        }
    }

    /// Replaces the `workforce` table in one transaction: on any error it is unchanged.
    pub fn replace_workforce(&mut self, workforce: &Workforce) -> Result<(), DataError> {
        let transaction = self.connection.transaction()?;
        write_workforce_table(&transaction, "workforce", workforce)?;
        transaction.commit()?;
        Ok(())
    }

    /// A new batch id for runs started together.
    pub fn new_batch(&self) -> Result<i64, DataError> {
        Ok(self
            .connection
            .query_row("SELECT nextval('batch_ids')", [], |r| r.get(0))?)
    }

    /// Records a run as started and returns its id.
    pub fn begin_run(&self, record: &RunRecord) -> Result<i64, DataError> {
        let ids = insert_started_runs(&self.connection, &self.run_columns, &[record])?;
        Ok(ids[0])
    }

    /// Records runs that have already finished, with their results or errors, in one
    /// transaction: for runs too short to be worth recording as `running` first. Each run
    /// gets a batch of its own; returns each run's `(batch id, run id)`. Storing the runs
    /// of concurrent requests together shares one commit among them.
    pub fn record_finished_runs(
        &mut self,
        runs: &[(RunRecord, Result<&RunResults, &str>, Duration)],
    ) -> Result<Vec<(i64, i64)>, DataError> {
        for (_, outcome, _) in runs {
            if let Ok(results) = outcome {
                self.result_tables
                    .ensure(&self.connection, &results.key_names)?;
            }
        }
        let transaction = self.connection.transaction()?;
        // Every id in one query, and every row appended at once: under load a group
        // holds several runs, and each statement costs about a millisecond however
        // many rows it writes.
        let ids: Vec<(i64, i64)> = transaction
            .prepare_cached("SELECT nextval('batch_ids'), nextval('run_ids') FROM range(?)")?
            .query_map([runs.len() as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut rows = Vec::with_capacity(runs.len());
        let mut succeeded = Vec::new();
        for ((record, outcome, elapsed), &(batch_id, run_id)) in runs.iter().zip(&ids) {
            let (status, error) = match outcome {
                Ok(results) => {
                    succeeded.push((run_id, *results));
                    (SUCCEEDED, None)
                }
                Err(error) => (FAILED, Some(*error)),
            };
            rows.push(RunRow {
                run_id,
                batch_id,
                record,
                status,
                error,
                elapsed: Some(*elapsed),
            });
        }
        append_runs(&transaction, &self.run_columns, &rows)?;
        self.result_tables.append(&transaction, &succeeded)?;
        transaction.commit()?;
        Ok(ids)
    }

    /// Records the runs of a batch as started, in one transaction, and returns their ids.
    pub fn begin_runs(&mut self, records: &[RunRecord]) -> Result<Vec<i64>, DataError> {
        let transaction = self.connection.transaction()?;
        let records: Vec<&RunRecord> = records.iter().collect();
        let ids = insert_started_runs(&transaction, &self.run_columns, &records)?;
        transaction.commit()?;
        Ok(ids)
    }

    /// Stores a run's results and marks it succeeded, in one transaction.
    pub fn finish_run(
        &mut self,
        run_id: i64,
        results: &RunResults,
        elapsed: Duration,
    ) -> Result<(), DataError> {
        self.finish_runs(&[(run_id, results, elapsed)])
    }

    /// Stores several runs' results and marks them succeeded, all in one transaction: one
    /// commit for many runs, which is what makes large sweeps fast to store.
    pub fn finish_runs(
        &mut self,
        finished: &[(i64, &RunResults, Duration)],
    ) -> Result<(), DataError> {
        for (_, results, _) in finished {
            self.result_tables
                .ensure(&self.connection, &results.key_names)?;
        }
        let transaction = self.connection.transaction()?;
        let runs: Vec<(i64, &RunResults)> = finished.iter().map(|(id, r, _)| (*id, *r)).collect();
        self.result_tables.append(&transaction, &runs)?;
        let durations: Vec<(i64, Duration)> = finished.iter().map(|(id, _, d)| (*id, *d)).collect();
        set_durations(&transaction, &durations, Some(SUCCEEDED))?;
        transaction.commit()?;
        Ok(())
    }

    /// Marks a run failed with its error.
    pub fn fail_run(&self, run_id: i64, error: &str, elapsed: Duration) -> Result<(), DataError> {
        self.connection.execute(
            "UPDATE runs SET status = ?, error = ?, duration_ms = ? WHERE run_id = ?",
            params![FAILED, error, elapsed.as_secs_f64() * 1000.0, run_id],
        )?;
        Ok(())
    }

    /// Marks the runs of a batch still `running` as failed: for a batch stopped part-way.
    pub fn fail_unfinished(&self, batch_id: i64, error: &str) -> Result<usize, DataError> {
        Ok(self.connection.execute(
            "UPDATE runs SET status = ?, error = ? WHERE batch_id = ? AND status = ?",
            params![FAILED, error, batch_id, RUNNING],
        )?)
    }

    /// Status and error of a run.
    pub fn run_status(&self, run_id: i64) -> Result<Option<(String, Option<String>)>, DataError> {
        Ok(self
            .connection
            .query_row(
                "SELECT status, error FROM runs WHERE run_id = ?",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

/// Quotes an SQL identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates (or replaces) a workforce table inside the caller's transaction.
pub(crate) fn write_workforce_table(
    connection: &Connection,
    table: &str,
    workforce: &Workforce,
) -> Result<(), DataError> {
    let mut columns: Vec<String> = workforce
        .key_names
        .iter()
        .map(|k| format!("{} VARCHAR", quote(k)))
        .collect();
    columns.extend(
        InputColumn::ALL
            .iter()
            .map(|c| format!("{} DOUBLE", c.name())),
    );
    connection.execute_batch(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({});",
        columns.join(", "),
        table = quote(table)
    ))?;
    // Arrow batches of a fixed number of rows: a row appender with a boxed value per cell
    // took most of a million-row import's time (BENCHMARKS.md).
    const BATCH_ROWS: usize = 65_536;
    let names: Vec<&str> = workforce
        .key_names
        .iter()
        .map(String::as_str)
        .chain(InputColumn::ALL.iter().map(|c| c.name()))
        .collect();
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let data_type = if i < workforce.key_names.len() {
                    DataType::Utf8
                } else {
                    DataType::Float64
                };
                Field::new(*name, data_type, true)
            })
            .collect::<Vec<_>>(),
    ));
    // The table was created just above with exactly these columns, in this order.
    let mut appender = connection.appender(table)?;
    let mut start = 0;
    while start < workforce.len() {
        let end = (start + BATCH_ROWS).min(workforce.len());
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(names.len());
        for key in &workforce.keys {
            arrays.push(Arc::new(StringArray::from_iter_values(
                key.codes[start..end]
                    .iter()
                    .map(|&c| key.dictionary[c as usize].as_str()),
            )));
        }
        for input in &workforce.inputs {
            arrays.push(Arc::new(Float64Array::from(
                input.values()[start..end].to_vec(),
            )));
        }
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .expect("every column has one value per row");
        appender.append_record_batch(batch)?;
        start = end;
    }
    appender.flush()?;
    Ok(())
}

/// Finished runs waiting to be stored: a batch stores its runs a group at a time, in one
/// transaction per group, because each commit costs far more than appending the rows.
/// A group is stored after enough rows, enough runs or a second, whichever comes first.
pub struct PendingRuns {
    runs: Vec<(i64, RunResults, Duration)>,
    rows: usize,
    since: std::time::Instant,
}

impl Default for PendingRuns {
    fn default() -> Self {
        Self {
            runs: Vec::new(),
            rows: 0,
            since: std::time::Instant::now(),
        }
    }
}

impl PendingRuns {
    const MAX_RUNS: usize = 64;
    const MAX_ROWS: usize = 200_000;
    const MAX_WAIT: Duration = Duration::from_secs(1);

    /// Adds a finished run, storing the group if it is due.
    pub fn push(
        &mut self,
        store: &mut Store,
        run_id: i64,
        results: RunResults,
        elapsed: Duration,
    ) -> Result<(), DataError> {
        self.rows += results.months * results.rows.len();
        self.runs.push((run_id, results, elapsed));
        if self.runs.len() >= Self::MAX_RUNS
            || self.rows >= Self::MAX_ROWS
            || self.since.elapsed() >= Self::MAX_WAIT
        {
            self.flush(store)?;
        }
        Ok(())
    }

    /// Stores every run waiting. On error the group is dropped (its runs stay `running`,
    /// which the next open of the database marks failed).
    pub fn flush(&mut self, store: &mut Store) -> Result<(), DataError> {
        let runs = std::mem::take(&mut self.runs);
        self.rows = 0;
        self.since = std::time::Instant::now();
        if runs.is_empty() {
            return Ok(());
        }
        let finished: Vec<(i64, &RunResults, Duration)> =
            runs.iter().map(|(id, r, e)| (*id, r, *e)).collect();
        let clock = std::time::Instant::now();
        store.finish_runs(&finished)?;
        tracing::debug!("stored {} runs in {:?}", finished.len(), clock.elapsed());
        Ok(())
    }
}

/// Records runs as `running`, each under its own batch id, and returns their run ids.
fn insert_started_runs(
    connection: &Connection,
    columns: &[String],
    records: &[&RunRecord],
) -> Result<Vec<i64>, DataError> {
    let ids: Vec<i64> = connection
        .prepare_cached("SELECT nextval('run_ids') FROM range(?)")?
        .query_map([records.len() as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let rows: Vec<RunRow> = records
        .iter()
        .zip(&ids)
        .map(|(record, &run_id)| RunRow {
            run_id,
            batch_id: record.batch_id,
            record,
            status: RUNNING,
            error: None,
            elapsed: None,
        })
        .collect();
    append_runs(connection, columns, &rows)?;
    Ok(ids)
}

/// Appends rows to the `runs` table, whose columns (in table order) are `columns`, in one
/// append: each statement costs about a millisecond however many rows it writes.
fn append_runs(
    connection: &Connection,
    columns: &[String],
    rows: &[RunRow],
) -> Result<(), DataError> {
    let mut appender = connection.appender("runs")?;
    appender.append_record_batch(runs_batch(columns, rows))?;
    appender.flush()?;
    Ok(())
}

/// When a run started, in microseconds since 1970 (UTC): now, less the time it took.
fn started_at_micros(elapsed: Duration) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.saturating_sub(elapsed).as_micros()).unwrap_or(i64::MAX)
}

/// Sets runs' durations (and status, when given) in one statement.
fn set_durations(
    connection: &Connection,
    runs: &[(i64, Duration)],
    status: Option<&str>,
) -> Result<(), DataError> {
    if runs.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = runs
        .iter()
        .map(|(id, elapsed)| format!("({id}, {})", elapsed.as_secs_f64() * 1000.0))
        .collect();
    connection.execute(
        &format!(
            "UPDATE runs SET status = coalesce(?, status), duration_ms = done.duration_ms
             FROM (VALUES {}) AS done(run_id, duration_ms) WHERE runs.run_id = done.run_id",
            values.join(", ")
        ),
        [status],
    )?;
    Ok(())
}

/// A run's row of the `runs` table.
struct RunRow<'a> {
    run_id: i64,
    batch_id: i64,
    record: &'a RunRecord,
    status: &'a str,
    error: Option<&'a str>,
    /// How long it ran, once it has finished.
    elapsed: Option<Duration>,
}

/// Runs' rows as one Arrow record batch with the `runs` table's columns, in table order.
fn runs_batch(columns: &[String], rows: &[RunRow]) -> RecordBatch {
    let text = |value: for<'r> fn(&'r RunRow<'r>) -> &'r str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(value)))
    };
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|column| -> ArrayRef {
            match column.as_str() {
                "run_id" => Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.run_id))),
                "batch_id" => Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| r.batch_id),
                )),
                "scenario" => text(|r| &r.record.scenario),
                "scenario_hash" => text(|r| &r.record.scenario_hash),
                "rules_hash" => text(|r| &r.record.rules_hash),
                "data_hash" => text(|r| &r.record.data_hash),
                "detail" => text(|r| &r.record.detail),
                "start_month" => text(|r| &r.record.start_month),
                "dataset" => text(|r| &r.record.dataset),
                "status" => text(|r| r.status),
                "months" => Arc::new(Int32Array::from_iter_values(
                    rows.iter()
                        .map(|r| i32::try_from(r.record.months).unwrap_or(i32::MAX)),
                )),
                "started_at" => Arc::new(TimestampMicrosecondArray::from_iter_values(
                    rows.iter()
                        .map(|r| started_at_micros(r.elapsed.unwrap_or_default())),
                )),
                "duration_ms" => Arc::new(Float64Array::from_iter(
                    rows.iter()
                        .map(|r| r.elapsed.map(|e| e.as_secs_f64() * 1000.0)),
                )),
                "error" => Arc::new(StringArray::from_iter(rows.iter().map(|r| r.error))),
                _ => new_null_array(&DataType::Utf8, rows.len()),
            }
        })
        .collect();
    record_batch(columns, arrays)
}

/// A record batch of `arrays` named by `columns`, every column nullable.
pub(super) fn record_batch(columns: &[String], arrays: Vec<ArrayRef>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .zip(&arrays)
        .map(|(name, array)| Field::new(name, array.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .expect("every column has one value per row")
}

/// A table's column names in table order.
pub(super) fn table_columns(
    connection: &Connection,
    table: &str,
) -> Result<Vec<String>, DataError> {
    let mut statement = connection.prepare(
        "SELECT column_name FROM information_schema.columns
         WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
    )?;
    let columns = statement
        .query_map([table], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::month::YearMonth;
    use crate::model::results::METRICS;

    fn results(keys: &[&str], rows: &[&[&str]]) -> RunResults {
        let months = 2;
        RunResults {
            scenario: "s".into(),
            start: YearMonth {
                year: 2025,
                month: 4,
            },
            months,
            key_names: keys.iter().map(|k| k.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|v| v.to_string()).collect())
                .collect(),
            figures: (0..months * rows.len() * METRICS.len())
                .map(|i| i as f64)
                .collect(),
        }
    }

    fn record(detail: &str) -> RunRecord {
        RunRecord {
            batch_id: 0,
            scenario: "s".into(),
            scenario_hash: String::new(),
            rules_hash: String::new(),
            data_hash: String::new(),
            detail: detail.into(),
            start_month: "2025-04".into(),
            months: 2,
            dataset: "default".into(),
        }
    }

    /// Runs with different key columns share the results tables: each is appended with
    /// every column, the keys it lacks null, and a failed run is stored with its error.
    #[test]
    fn runs_with_different_keys_share_the_results_table() {
        let mut store = Store::open_in_memory().unwrap();
        let by_org = results(&["org"], &[&["a"], &["b"]]);
        let total = results(&[], &[&[]]);
        let by_org_band = results(&["org", "band"], &[&["a", "5"]]);
        let mut ids = Vec::new();
        for (detail, outcome) in [
            ("org", Ok(&by_org)),
            ("total", Ok(&total)),
            ("segment", Ok(&by_org_band)),
            ("total", Err("broken rule")),
        ] {
            let recorded = store
                .record_finished_runs(&[(record(detail), outcome, Duration::from_millis(3))])
                .unwrap();
            ids.push(recorded[0].1);
        }
        let counts = |run_id: i64| -> (i64, i64, i64, f64) {
            store
                .connection()
                .query_row(
                    "SELECT count(*), count(org), count(band), coalesce(sum(fte), 0) FROM results WHERE run_id = ?",
                    [run_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .unwrap()
        };
        let fte_sum = |r: &RunResults| -> f64 {
            (0..r.months * r.rows.len())
                .map(|i| r.figures[i * METRICS.len()])
                .sum()
        };
        assert_eq!(counts(ids[0]), (4, 4, 0, fte_sum(&by_org)));
        assert_eq!(counts(ids[1]), (2, 0, 0, fte_sum(&total)));
        assert_eq!(counts(ids[2]), (2, 2, 2, fte_sum(&by_org_band)));
        assert_eq!(counts(ids[3]).0, 0);
        let (status, error) = store.run_status(ids[3]).unwrap().unwrap();
        assert_eq!(
            (status.as_str(), error.as_deref()),
            (FAILED, Some("broken rule"))
        );
        let (status, error) = store.run_status(ids[1]).unwrap().unwrap();
        assert_eq!((status.as_str(), error), (SUCCEEDED, None));
    }

    /// Runs finished together are recorded in one call: each with ids of its own and its
    /// whole row (duration, error, start time), the failed one with no results.
    #[test]
    fn a_group_of_finished_runs_is_recorded_at_once() {
        let mut store = Store::open_in_memory().unwrap();
        let by_org = results(&["org"], &[&["a"], &["b"]]);
        let before = std::time::SystemTime::now();
        let ids = store
            .record_finished_runs(&[
                (record("org"), Ok(&by_org), Duration::from_millis(5)),
                (
                    record("total"),
                    Err("broken rule"),
                    Duration::from_millis(7),
                ),
                (record("org"), Ok(&by_org), Duration::from_millis(9)),
            ])
            .unwrap();
        assert_eq!(ids.len(), 3);
        let mut distinct: Vec<i64> = ids.iter().map(|i| i.1).collect();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "{ids:?}");
        assert!(
            ids.windows(2).all(|w| w[0].0 != w[1].0),
            "one batch each: {ids:?}"
        );
        // run_id, batch_id, detail, status, error, duration_ms, started_at (us), months
        type Row = (i64, i64, String, String, Option<String>, f64, i64, i32);
        let rows: Vec<Row> = store
            .connection()
            .prepare(
                "SELECT run_id, batch_id, detail, status, error, duration_ms,
                        epoch_us(started_at), months FROM runs ORDER BY run_id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let since_epoch = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64
        };
        for (row, (batch_id, run_id)) in rows.iter().zip(&ids) {
            assert_eq!((row.0, row.1, row.7), (*run_id, *batch_id, 2));
            assert!(
                row.6 >= since_epoch(before) - 10_000,
                "started before the call: {row:?}"
            );
            assert!(
                row.6 <= since_epoch(std::time::SystemTime::now()),
                "{row:?}"
            );
        }
        assert_eq!(
            rows.iter()
                .map(|r| (r.2.as_str(), r.3.as_str(), r.4.as_deref(), r.5))
                .collect::<Vec<_>>(),
            vec![
                ("org", SUCCEEDED, None, 5.0),
                ("total", FAILED, Some("broken rule"), 7.0),
                ("org", SUCCEEDED, None, 9.0),
            ]
        );
        let stored: i64 = store
            .connection()
            .query_row("SELECT count(*) FROM results", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 2 * 4, "two runs of two rows and two months");
    }
}
