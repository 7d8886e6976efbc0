//! The DuckDB database: the `workforce` table, the `runs` table (one row per scenario run)
//! and the `results` view of the spec's output rows of every successful run (its tables
//! are `results_tables`').
//!
//! A run's row is written as `running` before it starts; its results and final status are
//! written in one transaction, so a failed or interrupted run leaves no partial results, and
//! a run still `running` when the database is next opened is marked failed (`runs` owns
//! that table's rows).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use duckdb::arrow::array::{ArrayRef, Float64Array, StringArray};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{Connection, OptionalExt};

use super::import::read_query;
use super::results_tables::ResultTables;
use super::sql::{quote, table_columns};
use super::DataError;
use crate::model::{InputColumn, Workforce};

/// An open wfplan database.
pub struct Store {
    pub(super) connection: Connection,
    /// The tables under the `results` view.
    pub(super) result_tables: ResultTables,
    /// The `runs` table's columns in table order, for appending finished runs' rows.
    pub(super) run_columns: Vec<String>,
    /// DuckDB's write-ahead log beside the database file (none in memory).
    log_path: Option<PathBuf>,
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
ALTER TABLE runs ADD COLUMN IF NOT EXISTS draws BIGINT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS seed UBIGINT;
CREATE TABLE IF NOT EXISTS draws (
    run_id BIGINT, draw BIGINT, entry INTEGER, what VARCHAR, per_value VARCHAR, value DOUBLE
);
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

    /// The salt employee numbers of extracts are hashed with on read, made once per
    /// database from DuckDB's random UUIDs and kept, so the same person hashes alike in
    /// every calibration on this database and differently on any other.
    pub fn extract_salt(&self) -> Result<String, DataError> {
        self.connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS settings (name VARCHAR PRIMARY KEY, value VARCHAR);
             INSERT INTO settings
                 SELECT 'extract_salt', sha256(gen_random_uuid()::VARCHAR || gen_random_uuid()::VARCHAR)
                 WHERE NOT EXISTS (SELECT 1 FROM settings WHERE name = 'extract_salt');",
        )?;
        Ok(self.connection.query_row(
            "SELECT value FROM settings WHERE name = 'extract_salt'",
            [],
            |r| r.get(0),
        )?)
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
        let result_tables = ResultTables::open(&mut connection)?;
        let run_columns = table_columns(&connection, "runs")?;
        let store = Store {
            connection,
            result_tables,
            run_columns,
            log_path: None,
        };
        store.fail_interrupted_runs()?;
        Ok(store)
    }

    /// Caps DuckDB's memory at `megabytes`: a query needing more fails with DuckDB's
    /// out-of-memory error (some operators spill to `<file>.tmp` first; the results
    /// query's grouping did not when tried).
    pub fn limit_memory(&self, megabytes: u64) -> Result<(), DataError> {
        // A number formatted here, not text from outside: SET takes no parameters.
        self.connection
            .execute_batch(&format!("SET memory_limit = '{}MB';", megabytes.max(64)))?;
        Ok(())
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
            // An empty optional input (the headroom allowance) is held as NaN and stored
            // as NULL, so that SQL reads it as missing, as the planner left it.
            arrays.push(Arc::new(Float64Array::from_iter(
                input.values()[start..end]
                    .iter()
                    .map(|x| (!x.is_nan()).then_some(*x)),
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
