//! The DuckDB database: the `workforce` table, the `runs` table (one row per scenario run)
//! and the `results` table (the spec's output rows of every successful run).
//!
//! A run's row is written as `running` before it starts; its results and final status are
//! written in one transaction, so a failed or interrupted run leaves no partial results, and
//! a run still `running` when the database is next opened is marked failed.

use std::path::Path;
use std::time::Duration;

use duckdb::types::ToSql;
use duckdb::{appender_params_from_iter, params, Connection, OptionalExt};

use super::import::read_query;
use super::DataError;
use crate::model::results::METRICS;
use crate::model::{InputColumn, RunResults, Workforce};

/// An open wfplan database.
pub struct Store {
    connection: Connection,
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
        Self::with_connection(connection)
    }

    pub fn open_in_memory() -> Result<Store, DataError> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(connection: Connection) -> Result<Store, DataError> {
        connection.execute_batch(SCHEMA)?;
        connection.execute(
            "UPDATE runs SET status = ?, error = ? WHERE status = ?",
            params![
                FAILED,
                "interrupted: the process stopped before the run finished",
                RUNNING
            ],
        )?;
        Ok(Store { connection })
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
        let id: i64 = self
            .connection
            .query_row("SELECT nextval('run_ids')", [], |r| r.get(0))?;
        self.connection.execute(
            "INSERT INTO runs (run_id, batch_id, scenario, scenario_hash, rules_hash, data_hash, detail, start_month, months, status, dataset)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                id,
                record.batch_id,
                record.scenario,
                record.scenario_hash,
                record.rules_hash,
                record.data_hash,
                record.detail,
                record.start_month,
                record.months as i64,
                RUNNING,
                record.dataset
            ],
        )?;
        Ok(id)
    }

    /// Stores a run's results and marks it succeeded, in one transaction.
    pub fn finish_run(
        &mut self,
        run_id: i64,
        results: &RunResults,
        elapsed: Duration,
    ) -> Result<(), DataError> {
        self.ensure_results_table(&results.key_names)?;
        let transaction = self.connection.transaction()?;
        {
            let mut columns: Vec<String> = vec![
                "run_id".into(),
                "scenario".into(),
                "month".into(),
                "row".into(),
            ];
            columns.extend(results.key_names.iter().cloned());
            columns.extend(METRICS.iter().map(|m| m.to_string()));
            let names: Vec<&str> = columns.iter().map(String::as_str).collect();
            let mut appender = transaction.appender_with_columns("results", &names)?;
            for month in 0..results.months {
                let label = results.start.plus(month as i64).to_string();
                for (row, keys) in results.rows.iter().enumerate() {
                    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(names.len());
                    let row_number = row as i64;
                    values.push(&run_id);
                    values.push(&results.scenario);
                    values.push(&label);
                    values.push(&row_number);
                    values.extend(keys.iter().map(|k| k as &dyn ToSql));
                    values.extend(
                        results
                            .row_figures(month, row)
                            .iter()
                            .map(|x| x as &dyn ToSql),
                    );
                    appender.append_row(appender_params_from_iter(values))?;
                }
            }
            appender.flush()?;
        }
        transaction.execute(
            "UPDATE runs SET status = ?, duration_ms = ? WHERE run_id = ?",
            params![SUCCEEDED, elapsed.as_secs_f64() * 1000.0, run_id],
        )?;
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

    /// Creates the `results` table, or adds key columns a new dataset brings.
    fn ensure_results_table(&self, key_names: &[String]) -> Result<(), DataError> {
        if !self.has_table("results")? {
            let mut columns = vec![
                "run_id BIGINT".to_string(),
                "scenario VARCHAR".into(),
                "month VARCHAR".into(),
                "row INTEGER".into(),
            ];
            columns.extend(key_names.iter().map(|k| format!("{} VARCHAR", quote(k))));
            columns.extend(METRICS.iter().map(|m| format!("{m} DOUBLE")));
            self.connection
                .execute_batch(&format!("CREATE TABLE results ({});", columns.join(", ")))?;
            return Ok(());
        }
        for key in key_names {
            self.connection.execute_batch(&format!(
                "ALTER TABLE results ADD COLUMN IF NOT EXISTS {} VARCHAR;",
                quote(key)
            ))?;
        }
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
    let mut appender = connection.appender(table)?;
    for segment in 0..workforce.len() {
        let keys = workforce.keys.iter().map(|k| k.value(segment));
        let values = workforce.inputs.iter().map(|c| c.values()[segment]);
        let row: Vec<Box<dyn ToSql + '_>> = keys
            .map(|k| Box::new(k) as Box<dyn ToSql>)
            .chain(values.map(|v| Box::new(v) as Box<dyn ToSql>))
            .collect();
        appender.append_row(appender_params_from_iter(row.iter().map(|b| b.as_ref())))?;
    }
    appender.flush()?;
    Ok(())
}
