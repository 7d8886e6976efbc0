//! The `runs` table: one row per scenario run, written as `running` before a batch starts
//! (or at once with its results, for a small run), then with its final status.
//!
//! A run's results and its `succeeded` status are committed together; every row of
//! `runs`, started or finished, is written by the one Arrow append of [`append_runs`]
//! (each statement costs about a millisecond however many rows it writes).

use std::sync::Arc;
use std::time::Duration;

use duckdb::arrow::array::{
    new_null_array, ArrayRef, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray, UInt64Array,
};
use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{params, Connection, OptionalExt};

use super::sql::record_batch;
use super::{DataError, Store};
use crate::model::{RunResults, RunStatus};

/// What identifies a run, recorded before it starts (and a shard's manifest carries).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Random draws of a Monte Carlo run (0 for a deterministic run) and their seed.
    pub draws: u64,
    pub seed: u64,
}

/// A finished run to record: its record, its results or why it failed, how long it took.
pub type FinishedRun<'a> = (RunRecord, Result<&'a RunResults, &'a str>, Duration);

impl Store {
    /// A new batch id for runs started together.
    pub fn new_batch(&self) -> Result<i64, DataError> {
        Ok(self
            .connection()
            .query_row("SELECT nextval('batch_ids')", [], |r| r.get(0))?)
    }

    /// Records the runs of a batch as started, in one transaction, and returns their ids.
    pub fn begin_runs(&mut self, records: &[RunRecord]) -> Result<Vec<i64>, DataError> {
        let transaction = self.connection.transaction()?;
        let records: Vec<&RunRecord> = records.iter().collect();
        let ids = insert_started_runs(&transaction, &self.run_columns, &records)?;
        transaction.commit()?;
        Ok(ids)
    }

    /// Records runs that have already finished, with their results or errors, in one
    /// transaction: for runs too short to be worth recording as `running` first. Each run
    /// gets a batch of its own; returns each run's `(batch id, run id)`. Storing the runs
    /// of concurrent requests together shares one commit among them.
    pub fn record_finished_runs(
        &mut self,
        runs: &[FinishedRun],
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
                    (RunStatus::Succeeded, None)
                }
                Err(error) => (RunStatus::Failed, Some(*error)),
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

    /// Stores several runs' results and marks them succeeded, all in one transaction: one
    /// commit for many runs, which is what makes large sweeps fast to store.
    pub fn finish_runs(
        &mut self,
        finished: &[(i64, &RunResults, Option<Duration>)],
    ) -> Result<(), DataError> {
        for (_, results, _) in finished {
            self.result_tables
                .ensure(&self.connection, &results.key_names)?;
        }
        let transaction = self.connection.transaction()?;
        let runs: Vec<(i64, &RunResults)> = finished.iter().map(|(id, r, _)| (*id, *r)).collect();
        self.result_tables.append(&transaction, &runs)?;
        let durations: Vec<(i64, Duration)> = finished
            .iter()
            .filter_map(|(id, _, d)| d.map(|d| (*id, d)))
            .collect();
        set_durations(&transaction, &durations, RunStatus::Succeeded)?;
        transaction.commit()?;
        Ok(())
    }

    /// Marks a run failed with its error.
    pub fn fail_run(&self, run_id: i64, error: &str, elapsed: Duration) -> Result<(), DataError> {
        self.forget_results("run_id = ?", params![run_id]);
        self.connection().execute(
            "UPDATE runs SET status = ?, error = ?, duration_ms = ? WHERE run_id = ?",
            params![
                RunStatus::Failed.as_str(),
                error,
                elapsed.as_secs_f64() * 1000.0,
                run_id
            ],
        )?;
        Ok(())
    }

    /// Gives the runs of a batch still `running` their final status: `cancelled` when
    /// someone cancelled the batch, `failed` (with the reason) when it stopped for any
    /// other reason. Returns how many there were.
    pub fn close_unfinished(
        &self,
        batch_id: i64,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<usize, DataError> {
        self.forget_results(
            "run_id IN (SELECT run_id FROM runs WHERE batch_id = ? AND status = ?)",
            params![batch_id, RunStatus::Running.as_str()],
        );
        Ok(self.connection().execute(
            "UPDATE runs SET status = ?, error = ? WHERE batch_id = ? AND status = ?",
            params![
                status.as_str(),
                error,
                batch_id,
                RunStatus::Running.as_str()
            ],
        )?)
    }

    /// Removes the results and draws of runs that will not succeed: a Monte Carlo run
    /// stores its blocks of draws as they finish, and one that fails or is stopped keeps
    /// none of them. Only succeeded runs' results are ever read, so a removal that fails
    /// (the store is failing already) is logged rather than returned: the run's status is
    /// what must be written.
    fn forget_results(&self, runs: &str, params: impl duckdb::Params + Copy) {
        for table in ["result_figures", "result_rows", "draws"] {
            let sql = format!("DELETE FROM {table} WHERE {runs}");
            if let Err(e) = self.connection().execute(&sql, params) {
                tracing::warn!("cannot remove the results of unfinished runs from {table}: {e}");
            }
        }
    }

    /// Stores a Monte Carlo run's drawn values (docs/model.md, section 7).
    pub fn record_draws(
        &self,
        run_id: i64,
        values: &[crate::engine::monte_carlo::DrawnValue],
    ) -> Result<(), DataError> {
        if values.is_empty() {
            return Ok(());
        }
        let columns: Vec<String> = ["run_id", "draw", "entry", "what", "per_value", "value"]
            .iter()
            .map(|c| c.to_string())
            .collect();
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![run_id; values.len()])),
            Arc::new(Int64Array::from_iter_values(
                values.iter().map(|v| v.draw as i64),
            )),
            Arc::new(Int32Array::from_iter_values(
                values.iter().map(|v| v.entry as i32),
            )),
            Arc::new(StringArray::from_iter_values(
                values.iter().map(|v| v.what.as_str()),
            )),
            // NULL where the entry has no `per` (written as an empty field in CSV).
            Arc::new(StringArray::from_iter(
                values
                    .iter()
                    .map(|v| Some(v.per_value.as_str()).filter(|p| !p.is_empty())),
            )),
            Arc::new(Float64Array::from_iter_values(
                values.iter().map(|v| v.value),
            )),
        ];
        let mut appender = self.connection().appender("draws")?;
        appender.append_record_batch(record_batch(&columns, arrays))?;
        appender.flush()?;
        Ok(())
    }

    /// Status and error of a run.
    pub fn run_status(
        &self,
        run_id: i64,
    ) -> Result<Option<(RunStatus, Option<String>)>, DataError> {
        let found: Option<(String, Option<String>)> = self
            .connection()
            .query_row(
                "SELECT status, error FROM runs WHERE run_id = ?",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        found
            .map(|(status, error)| Ok((parse_status(run_id, &status)?, error)))
            .transpose()
    }

    /// Marks runs left `running` by a process that stopped as failed: run when the
    /// database is opened.
    pub(super) fn fail_interrupted_runs(&self) -> Result<(), DataError> {
        self.connection().execute(
            "UPDATE runs SET status = ?, error = ? WHERE status = ?",
            params![
                RunStatus::Failed.as_str(),
                "interrupted: the process stopped before the run finished",
                RunStatus::Running.as_str()
            ],
        )?;
        Ok(())
    }
}

/// A status read from the `runs` table.
pub(super) fn parse_status(run_id: i64, text: &str) -> Result<RunStatus, DataError> {
    text.parse()
        .map_err(|e| DataError::file(format!("runs table, run {run_id}"), e))
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
            status: RunStatus::Running,
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

/// Sets runs' durations and status in one statement, the values bound as parameters.
fn set_durations(
    connection: &Connection,
    runs: &[(i64, Duration)],
    status: RunStatus,
) -> Result<(), DataError> {
    if runs.is_empty() {
        return Ok(());
    }
    let placeholders = vec!["(?, ?)"; runs.len()].join(", ");
    let mut values: Vec<duckdb::types::Value> = vec![status.as_str().to_string().into()];
    for (id, elapsed) in runs {
        values.push((*id).into());
        values.push((elapsed.as_secs_f64() * 1000.0).into());
    }
    connection.execute(
        &format!(
            "UPDATE runs SET status = ?, duration_ms = done.duration_ms
             FROM (VALUES {placeholders}) AS done(run_id, duration_ms) WHERE runs.run_id = done.run_id"
        ),
        duckdb::params_from_iter(values),
    )?;
    Ok(())
}

/// A run's row of the `runs` table, as written.
struct RunRow<'a> {
    run_id: i64,
    batch_id: i64,
    record: &'a RunRecord,
    status: RunStatus,
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
                "status" => text(|r| r.status.as_str()),
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
                "draws" => Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| r.record.draws as i64),
                )),
                "seed" => Arc::new(UInt64Array::from_iter_values(
                    rows.iter().map(|r| r.record.seed),
                )),
                _ => new_null_array(&DataType::Utf8, rows.len()),
            }
        })
        .collect();
    record_batch(columns, arrays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::month::YearMonth;
    use crate::model::results::METRICS;
    use crate::model::RunStatus::{Failed, Succeeded};

    fn results(keys: &[&str], rows: &[&[&str]]) -> RunResults {
        let months = 2;
        RunResults {
            draws: crate::model::DrawRange::DETERMINISTIC,
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
            draws: 0,
            seed: 0,
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
        assert_eq!((status, error.as_deref()), (Failed, Some("broken rule")));
        let (status, error) = store.run_status(ids[1]).unwrap().unwrap();
        assert_eq!((status, error), (Succeeded, None));
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
                ("org", "succeeded", None, 5.0),
                ("total", "failed", Some("broken rule"), 7.0),
                ("org", "succeeded", None, 9.0),
            ]
        );
        let stored: i64 = store
            .connection()
            .query_row("SELECT count(*) FROM results", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 2 * 4, "two runs of two rows and two months");
    }
}
