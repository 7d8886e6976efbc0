//! Carrying out a run request: checking it into a plan, running a small one at once and
//! recording it with others that finish together (a group commit), or running a large one
//! on a thread of its own, chunk by chunk, where it can be cancelled.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};
use tokio::sync::OwnedSemaphorePermit;

use super::{period_row, view_of, RunRequest, RunView, ScenarioRun};
use crate::api::error::{ApiError, ErrorDetail};
use crate::api::scenarios::{object_to_document, resolve_and_check};
use crate::api::state::{lock, AppState, FinishedRun, Job};
use crate::data::datasets::DEFAULT_DATASET;
use crate::data::store::{PendingRuns, RunRecord, FAILED, SUCCEEDED};
use crate::engine::batch::run_batch;
use crate::engine::{run_scenario, scenario_workforce, RunOptions};
use crate::model::{Detail, Scenario, Workforce};
use crate::report;

/// A slot to compute a synchronous run in, waiting up to `queue_wait` for one.
pub(super) async fn sync_slot(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    tokio::time::timeout(
        state.limits.queue_wait,
        state.sync_slots.clone().acquire_owned(),
    )
    .await
    .map_err(|_| busy())?
    .map_err(|_| busy())
}

pub(super) fn busy() -> ApiError {
    ApiError::make(
        poem::http::StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "every run slot is taken; try again shortly",
        Vec::new(),
    )
}

/// A checked run request, ready to record and run.
pub(super) struct Planned {
    pub dataset: String,
    pub workforce: Arc<Workforce>,
    pub scenarios: Vec<Scenario>,
    pub options: RunOptions,
    pub in_background: bool,
}

pub(super) fn plan(state: &AppState, request: RunRequest) -> Result<Planned, ApiError> {
    let dataset = request.dataset.unwrap_or_else(|| DEFAULT_DATASET.into());
    let workforce = state.workforce(&dataset)?;
    let (name, document) = match (request.scenario, request.scenario_document) {
        (Some(name), None) => {
            let scenarios = lock(&state.scenarios);
            let stored = scenarios.get(&name).ok_or_else(|| {
                ApiError::field(
                    "scenario",
                    format!("no scenario '{name}': GET /scenarios lists them"),
                )
            })?;
            (name, stored.document.clone())
        }
        (None, Some(document)) => {
            let name = document.name.clone().unwrap_or_else(|| "inline".into());
            (name, object_to_document(&document)?)
        }
        _ => {
            return Err(ApiError::field(
                "scenario",
                "give either scenario (a name) or scenario_document",
            ))
        }
    };
    let scenarios = resolve_and_check(
        state,
        &name,
        document,
        &workforce.key_names,
        state.limits.max_runs_per_request,
    )?;
    let mut details = Vec::new();
    for s in &scenarios {
        if let Err(e) = scenario_workforce(&workforce, s) {
            details.push(ErrorDetail {
                field: Some("overrides".into()),
                message: format!("{}: {e}", s.name),
                ..ErrorDetail::default()
            });
        }
    }
    if !details.is_empty() {
        return Err(ApiError::invalid(
            "invalid_scenario",
            "the overrides give invalid inputs",
            details,
        ));
    }
    let detail = Detail::parse(request.detail.as_deref().unwrap_or("segment"));
    if let Detail::GroupBy(keys) = &detail {
        for key in keys {
            if !workforce.key_names.contains(key) {
                return Err(ApiError::field(
                    "detail",
                    format!(
                        "'{key}' is not a key column; the dataset's are {}",
                        workforce.key_names.join(", ")
                    ),
                ));
            }
        }
    }
    let segment_months: usize = scenarios.iter().map(|s| s.months * workforce.len()).sum();
    Ok(Planned {
        dataset,
        in_background: request.background.unwrap_or(false)
            || scenarios.len() > 1
            || segment_months > state.limits.max_sync_segment_months,
        workforce,
        scenarios,
        options: RunOptions {
            detail,
            time_budget: state.limits.time_budget,
        },
    })
}

/// What the database records of a scenario run before its results.
pub(super) fn run_record(
    state: &AppState,
    planned: &Planned,
    scenario: &Scenario,
    batch_id: i64,
) -> RunRecord {
    RunRecord {
        batch_id,
        scenario: scenario.name.clone(),
        scenario_hash: crate::model::hex(&Sha256::digest(
            serde_json::to_string(scenario)
                .unwrap_or_default()
                .as_bytes(),
        )),
        rules_hash: state.rules.fingerprint.clone(),
        data_hash: planned.workforce.fingerprint(),
        detail: planned.options.detail.label(),
        start_month: scenario.start.to_string(),
        months: scenario.months,
        dataset: planned.dataset.clone(),
    }
}

/// Records the runs of a request as `running`; returns the batch id and run ids.
pub(super) fn record(state: &AppState, planned: &Planned) -> Result<(i64, Vec<i64>), ApiError> {
    let mut store = state.store();
    let batch_id = store.new_batch()?;
    let records: Vec<RunRecord> = planned
        .scenarios
        .iter()
        .map(|s| run_record(state, planned, s, batch_id))
        .collect();
    let ids = store.begin_runs(&records)?;
    Ok((batch_id, ids))
}

/// Runs a small request at once. Its run is recorded with its results in one transaction
/// when it finishes (a single commit keeps small runs fast); a crash before then leaves
/// no trace of it.
pub(super) fn run_now(state: &AppState, planned: Planned) -> Result<RunView, ApiError> {
    let scenario = &planned.scenarios[0];
    let computing = Computing::start(state);
    let started = Instant::now();
    let result = run_scenario(&state.rules, &planned.workforce, scenario, &planned.options);
    let elapsed = started.elapsed();
    let summary = result.as_ref().ok().map(|r| {
        report::by_financial_year(r)
            .iter()
            .map(|p| period_row(&r.scenario, p))
            .collect()
    });
    let result = result.map_err(|e| e.to_string());
    let error = result.as_ref().err().cloned();
    let (reply, ids) = std::sync::mpsc::channel();
    let record = run_record(state, &planned, scenario, 0);
    lock(&state.finished).push(FinishedRun {
        record: record.clone(),
        result,
        elapsed,
        reply,
    });
    drop(computing);
    record_finished(state);
    let (batch_id, run_id) = ids
        .recv()
        .map_err(|e| ApiError::internal(format!("the run was not recorded: {e}")))?
        .map_err(|e| ApiError::internal(format!("the run could not be stored: {e}")))?;
    tracing::debug!(
        "run {batch_id}: ran in {elapsed:?}, stored by {:?}",
        started.elapsed()
    );
    // The answer is built from what was just stored, rather than read back: the same
    // view `GET /runs/{id}` gives, without another query on every small run.
    let status = if error.is_none() { SUCCEEDED } else { FAILED };
    let scenarios = vec![ScenarioRun {
        run_id,
        scenario: record.scenario,
        status: status.into(),
        error,
        duration_ms: Some(elapsed.as_secs_f64() * 1000.0),
    }];
    Ok(view_of(
        batch_id,
        record.dataset,
        record.detail,
        scenarios,
        None,
        summary,
    ))
}

/// Counts a small run as computing until it is dropped, which wakes a commit waiting
/// for it (also when the run panics).
struct Computing<'a>(&'a AppState);

impl<'a> Computing<'a> {
    fn start(state: &'a AppState) -> Self {
        state.computing.fetch_add(1, Ordering::AcqRel);
        Computing(state)
    }
}

impl Drop for Computing<'_> {
    fn drop(&mut self) {
        self.0.computing.fetch_sub(1, Ordering::AcqRel);
        // Taken so that a commit between its check and its wait cannot miss the signal.
        let _finished = lock(&self.0.finished);
        self.0.finished_changed.notify_all();
    }
}

/// Records every small run waiting, in one transaction. The caller's own run was queued
/// before it asked for the database, so whoever holds the database next records it.
/// While other small runs are still computing, it first waits for them up to
/// `group_wait`, without holding the database: a commit costs much the same for one run
/// as for several, so under load sharing it frees CPU for the rules, and a commit under
/// way meanwhile is not held up; with nothing else under way it commits at once.
fn record_finished(state: &AppState) {
    if !wait_for_group(state) {
        return;
    }
    let mut store = state.store();
    let waiting = std::mem::take(&mut *lock(&state.finished));
    if waiting.is_empty() {
        // Another request's commit took this one's run while it waited for the database.
        return;
    }
    let runs: Vec<_> = waiting
        .iter()
        .map(|f| {
            (
                f.record.clone(),
                f.result.as_ref().map_err(String::as_str),
                f.elapsed,
            )
        })
        .collect();
    let clock = Instant::now();
    let recorded = store.record_finished_runs(&runs);
    drop(store);
    tracing::debug!("recorded {} runs in {:?}", runs.len(), clock.elapsed());
    match recorded {
        Ok(ids) => {
            for (f, id) in waiting.iter().zip(ids) {
                let _ = f.reply.send(Ok(id));
            }
        }
        Err(e) => {
            for f in &waiting {
                let _ = f.reply.send(Err(e.to_string()));
            }
        }
    }
}

/// Waits until no other small run is computing or `group_wait` has passed; false when
/// another request's commit has meanwhile taken every finished run, this one's included.
fn wait_for_group(state: &AppState) -> bool {
    let deadline = Instant::now() + state.limits.group_wait;
    let mut finished = lock(&state.finished);
    loop {
        if finished.is_empty() {
            return false;
        }
        let now = Instant::now();
        if state.computing.load(Ordering::Acquire) == 0 || now >= deadline {
            return true;
        }
        finished = state
            .finished_changed
            .wait_timeout(finished, deadline - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// Keeps a background batch's bookkeeping right however its thread ends.
struct JobGuard {
    state: Arc<AppState>,
    batch_id: i64,
    _permit: OwnedSemaphorePermit,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        let message = if std::thread::panicking() {
            "the run stopped unexpectedly; see the server log"
        } else {
            "cancelled before it ran"
        };
        if let Err(e) = self.state.store().fail_unfinished(self.batch_id, message) {
            tracing::error!(
                "run {}: cannot record the unfinished scenarios: {e}",
                self.batch_id
            );
        }
        lock(&self.state.jobs).remove(&self.batch_id);
    }
}

pub(super) fn start_background(
    state: Arc<AppState>,
    planned: Planned,
    permit: OwnedSemaphorePermit,
) -> Result<i64, ApiError> {
    let (batch_id, ids) = record(&state, &planned)?;
    let job = Arc::new(Job::default());
    lock(&state.jobs).insert(batch_id, job.clone());
    let guard = JobGuard {
        state: state.clone(),
        batch_id,
        _permit: permit,
    };
    std::thread::Builder::new()
        .name(format!("wfplan-run-{batch_id}"))
        .spawn(move || {
            let _guard = guard;
            // Chunks of a few scenarios per core, so a cancel takes effect soon and
            // progress moves steadily.
            let chunk = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
            for (c, scenarios) in planned.scenarios.chunks(chunk).enumerate() {
                if job.cancelled() {
                    break;
                }
                let offset = c * chunk;
                // A chunk's results are stored in one transaction when it ends.
                let mut pending = PendingRuns::default();
                let outcome = run_batch(
                    &state.rules,
                    &planned.workforce,
                    scenarios,
                    &planned.options,
                    None,
                    |o| {
                        let id = ids[offset + o.index];
                        let stored = match o.result {
                            Ok(results) => pending.push(&mut state.store(), id, results, o.elapsed),
                            Err(e) => state.store().fail_run(id, &e.to_string(), o.elapsed),
                        };
                        if let Err(e) = stored {
                            tracing::error!("run {batch_id}: cannot store {}: {e}", o.scenario);
                        }
                    },
                );
                if let Err(e) = pending.flush(&mut state.store()) {
                    tracing::error!("run {batch_id}: cannot store results: {e}");
                }
                job.done.fetch_add(scenarios.len(), Ordering::Relaxed);
                if let Err(e) = outcome {
                    tracing::error!("run {batch_id}: cannot start worker threads: {e}");
                    break;
                }
            }
        })
        .map_err(|e| ApiError::internal(format!("cannot start the run: {e}")))?;
    Ok(batch_id)
}
