//! Carrying out a plan: a batch recorded as it goes (the command line, background API
//! runs), or a small run recorded when it finishes, with others finishing together (a
//! synchronous API run).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::plan::RunPlan;
use crate::data::{DataError, Recorder, RunRecord};
use crate::engine::batch::{run_batch_streaming, Progress};
use crate::engine::run_scenario;
use crate::model::RunResults;
use crate::rules::RuleSet;

/// A batch recorded as `running`, ready to run.
#[derive(Debug, Clone)]
pub struct Batch {
    pub batch_id: i64,
    /// The run id of each of the plan's scenarios, in order.
    pub run_ids: Vec<i64>,
}

/// Records a plan's scenario runs as `running` under a new batch.
pub fn begin_batch(recorder: &Recorder, plan: &RunPlan) -> Result<Batch, DataError> {
    let (batch_id, run_ids) = recorder.begin_batch(|id| plan.records(id))?;
    Ok(Batch { batch_id, run_ids })
}

/// What a batch and whoever watches it share: a request to stop, and how far its Monte
/// Carlo draws have got (a Monte Carlo run is one scenario run however many draws it
/// makes, so its scenario count says nothing until it ends).
#[derive(Debug, Default)]
pub struct BatchControl {
    cancel: AtomicBool,
    draws_planned: AtomicU64,
    draws_stored: AtomicU64,
}

impl BatchControl {
    /// Asks the batch to stop: scenarios not started are not run, and a Monte Carlo run
    /// stops between its blocks of draws and keeps none.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Draws handed to the recorder so far and draws planned, over the batch's Monte
    /// Carlo runs started so far (draw 0 included); `None` before any has started.
    pub fn draws(&self) -> Option<(u64, u64)> {
        let planned = self.draws_planned.load(Ordering::Relaxed);
        (planned > 0).then(|| (self.draws_stored.load(Ordering::Relaxed), planned))
    }
}

/// One scenario run of a batch, as it finishes (after its results or error are handed to
/// the recorder).
#[derive(Debug)]
pub struct Finished<'a> {
    /// Position of the scenario in the plan.
    pub index: usize,
    pub run_id: i64,
    pub scenario: &'a str,
    pub elapsed: Duration,
    pub result: Result<&'a RunResults, String>,
}

/// How a batch ended.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub succeeded: usize,
    pub failed: usize,
    /// Whether it was cancelled before every scenario ran.
    pub cancelled: bool,
}

/// Why a batch stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot store the results: {0}")]
    Store(#[from] DataError),
    #[error("cannot start the worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// Runs a batch begun with [`begin_batch`] in parallel and records each scenario run as it
/// finishes, its results stored a group at a time. `control` is asked whether the batch is
/// cancelled before each scenario starts (and each block of a Monte Carlo run's draws),
/// and told how many draws are stored; `on_finished` sees each run once it is handed to
/// the recorder.
///
/// A failure to store stops the batch: the scenarios not yet run are recorded as failed
/// with the reason, and the error is returned. When the batch ends, every run it did not
/// finish has its final status (`cancelled` if `cancelled` turned true, else `failed`), so
/// none is left `running`.
pub fn run_batch(
    rules: &RuleSet,
    recorder: &Recorder,
    plan: &RunPlan,
    batch: &Batch,
    threads: Option<usize>,
    control: &BatchControl,
    mut on_finished: impl FnMut(Finished<'_>),
) -> Result<BatchReport, BatchError> {
    let mut writer = recorder.batch_writer();
    let mut report = BatchReport::default();
    let mut store_error: Option<DataError> = None;
    let store_failed = AtomicBool::new(false);
    let stop = || store_failed.load(Ordering::Relaxed) || control.cancelled();
    let ran = run_batch_streaming(
        rules,
        &plan.workforce,
        &plan.scenarios,
        &plan.options,
        threads,
        &stop,
        |progress| {
            let outcome = match progress {
                Progress::Finished(outcome) => outcome,
                Progress::Draws {
                    index,
                    draws,
                    values,
                } => {
                    control.draws_planned.fetch_add(draws, Ordering::Relaxed);
                    if let Err(e) = writer.draws(batch.run_ids[index], &values) {
                        store_failed.store(true, Ordering::Relaxed);
                        store_error.get_or_insert(e);
                    }
                    return;
                }
                Progress::Block { index, results } => {
                    let draws = results.draws.count as u64;
                    match writer.block(batch.run_ids[index], results) {
                        Ok(()) => {
                            control.draws_stored.fetch_add(draws, Ordering::Relaxed);
                        }
                        Err(e) => {
                            store_failed.store(true, Ordering::Relaxed);
                            store_error.get_or_insert(e);
                        }
                    }
                    return;
                }
            };
            let run_id = batch.run_ids[outcome.index];
            let (stored, result) = match outcome.result {
                Ok(results) => {
                    report.succeeded += 1;
                    // The results are moved into the writer's group; the caller sees
                    // them before they go.
                    on_finished(Finished {
                        index: outcome.index,
                        run_id,
                        scenario: &outcome.scenario,
                        elapsed: outcome.elapsed,
                        result: Ok(&results),
                    });
                    (writer.succeeded(run_id, results, outcome.elapsed), None)
                }
                Err(e) => {
                    report.failed += 1;
                    let message = e.to_string();
                    let stored = writer.failed(run_id, &message, outcome.elapsed);
                    (stored, Some(message))
                }
            };
            if let Some(message) = result {
                on_finished(Finished {
                    index: outcome.index,
                    run_id,
                    scenario: &outcome.scenario,
                    elapsed: outcome.elapsed,
                    result: Err(message),
                });
            }
            if let Err(e) = stored {
                store_failed.store(true, Ordering::Relaxed);
                store_error.get_or_insert(e);
            }
        },
    );
    if let Err(e) = writer.flush() {
        store_error.get_or_insert(e);
    }
    report.cancelled = control.cancelled();
    let reason = match (&store_error, &ran) {
        (Some(e), _) => {
            format!("not stored: the batch stopped when its results could not be stored: {e}")
        }
        (None, Err(e)) => format!("not run: cannot start the worker threads: {e}"),
        (None, Ok(())) => "not run: the batch ended before it ran".to_string(),
    };
    let closed = recorder.close_batch(batch.batch_id, report.cancelled, &reason);
    if let Some(e) = store_error {
        return Err(BatchError::Store(e));
    }
    ran?;
    closed?;
    Ok(report)
}

/// A small run, recorded when it finished.
#[derive(Debug)]
pub struct SmallRun<T> {
    pub batch_id: i64,
    pub run_id: i64,
    pub record: RunRecord,
    pub elapsed: Duration,
    /// What `summarise` made of the results, or why the scenario failed.
    pub result: Result<T, String>,
}

/// Runs a plan of one scenario at once and records it, with its results, in a group
/// commit shared with other small runs finishing together. A crash before the commit
/// leaves no trace of it; once this returns, the run is stored. `summarise` reads the
/// results before they go to the recorder (the caller's answer needs no copy of them).
pub fn run_small<T>(
    rules: &RuleSet,
    recorder: &Recorder,
    plan: &RunPlan,
    summarise: impl FnOnce(&RunResults) -> T,
) -> Result<SmallRun<T>, String> {
    let scenario = plan
        .scenarios
        .first()
        .ok_or_else(|| "a small run has one scenario".to_string())?;
    let computing = recorder.start_computing();
    let started = Instant::now();
    let result = run_scenario(rules, &plan.workforce, scenario, &plan.options);
    let elapsed = started.elapsed();
    let result = result.map_err(|e| e.to_string());
    let summary = match &result {
        Ok(results) => Ok(summarise(results)),
        Err(e) => Err(e.clone()),
    };
    let record = plan.record(scenario, 0);
    let (batch_id, run_id) = recorder.record_small(computing, record.clone(), result, elapsed)?;
    tracing::debug!(
        "run {batch_id}: ran in {elapsed:?}, stored by {:?}",
        started.elapsed()
    );
    Ok(SmallRun {
        batch_id,
        run_id,
        record,
        elapsed,
        result: summary,
    })
}
