//! Carrying out a run request through the application layer: the request made into a
//! plan, a small run answered when it is stored, or a large one on a thread of its own
//! where it can be cancelled.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use super::{period_row, view_of, RunRequest, RunView, ScenarioRun};
use crate::api::error::ApiError;
use crate::api::scenarios::{object_to_document, resolve, resolve_saved};
use crate::api::state::{lock, AppState};
use crate::api::text::Text;
use crate::app::execute::{begin_batch, run_batch, run_small, BatchControl};
use crate::app::plan::DrawOverride;
use crate::app::{RunPlan, RunRequest as PlanRequest};
use crate::data::datasets::DEFAULT_DATASET;
use crate::model::RunStatus;
use crate::report;

/// A slot to compute a synchronous run in, waiting up to `queue_wait` for one.
pub(crate) async fn sync_slot(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
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

/// A checked run request, and whether it runs in the background.
pub(super) struct Planned {
    pub plan: RunPlan,
    pub in_background: bool,
}

/// Makes a request into a plan: the scenario named or given, its `extends` resolved, and
/// every input checked by the application layer.
pub(super) fn plan(state: &AppState, request: RunRequest) -> Result<Planned, ApiError> {
    let dataset = request
        .dataset
        .map_or_else(|| DEFAULT_DATASET.to_string(), Text::into_string);
    let workforce = state.workforce(&dataset)?;
    let source = match (request.scenario, request.scenario_document) {
        (Some(name), None) => resolve_saved(state, &name, "scenario")?,
        (None, Some(document)) => {
            let name = document.name.clone().unwrap_or_else(|| "inline".into());
            resolve(state, &name, object_to_document(&document)?)?
        }
        _ => {
            return Err(ApiError::field(
                "scenario",
                "give either scenario (a name) or scenario_document",
            ))
        }
    };
    let whole = |name: &str, value: Option<i64>| match value {
        Some(v) if v < 0 => Err(ApiError::field(name, format!("{v} is below 0"))),
        v => Ok(v.map(|v| v as u64)),
    };
    let monte_carlo = DrawOverride {
        draws: whole("draws", request.draws)?,
        seed: whole("seed", request.seed)?,
    };
    let plan = RunPlan::new(
        &state.rules,
        workforce,
        PlanRequest {
            dataset,
            scenarios: vec![source],
            monte_carlo,
            detail: request.detail.unwrap_or_default(),
            time_budget: state.limits.time_budget,
            max_runs: state.limits.max_runs_per_request,
            max_result_rows: state.limits.max_result_rows,
        },
    )?;
    Ok(Planned {
        in_background: request.background.unwrap_or(false)
            // A Monte Carlo run's draws are stored block by block as they finish.
            || plan.scenarios.iter().any(|s| s.monte_carlo.is_some())
            || plan.scenarios.len() > 1
            || plan.segment_months() > state.limits.max_sync_segment_months,
        plan,
    })
}

/// Runs a small request at once; it is recorded with its results in one group commit
/// when it finishes, and answered from what was stored (no read back).
pub(super) fn run_now(state: &AppState, plan: RunPlan) -> Result<RunView, ApiError> {
    let run = run_small(&state.rules, state.recorder(), &plan, |results| {
        report::by_financial_year(results)
            .iter()
            .map(|p| period_row(&results.scenario, p))
            .collect::<Vec<_>>()
    })
    .map_err(ApiError::internal)?;
    let (status, error, summary) = match run.result {
        Ok(summary) => (RunStatus::Succeeded, None, Some(summary)),
        Err(error) => (RunStatus::Failed, Some(error), None),
    };
    let scenarios = vec![ScenarioRun {
        run_id: run.run_id,
        scenario: run.record.scenario,
        status: status.into(),
        error,
        duration_ms: Some(run.elapsed.as_secs_f64() * 1000.0),
    }];
    Ok(view_of(
        run.batch_id,
        run.record.dataset,
        run.record.detail,
        scenarios,
        None,
        summary,
    ))
}

/// Keeps a background batch's bookkeeping right however its thread ends: runs it did not
/// finish get their final status (the batch itself closes them when it ends normally;
/// this covers a panic, or a thread that never started), and the job is forgotten.
struct JobGuard {
    state: Arc<AppState>,
    batch_id: i64,
    job: Arc<BatchControl>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        let reason = if std::thread::panicking() {
            "the run stopped unexpectedly; see the server log"
        } else {
            "not run: the run's thread could not start"
        };
        let closed = self
            .state
            .recorder()
            .close_batch(self.batch_id, self.job.cancelled(), reason);
        if let Err(e) = closed {
            tracing::error!(
                "run {}: cannot record the unfinished scenarios: {e}",
                self.batch_id
            );
        }
        lock(&self.state.jobs).remove(&self.batch_id);
    }
}

/// Records a request's runs as `running` and runs them on a thread of its own; returns
/// the batch id at once.
pub(super) fn start_background(
    state: Arc<AppState>,
    plan: RunPlan,
    permit: OwnedSemaphorePermit,
) -> Result<i64, ApiError> {
    let batch = begin_batch(state.recorder(), &plan)?;
    let batch_id = batch.batch_id;
    let job = Arc::new(BatchControl::default());
    lock(&state.jobs).insert(batch_id, job.clone());
    let guard = JobGuard {
        state: state.clone(),
        batch_id,
        job: job.clone(),
        _permit: permit,
    };
    std::thread::Builder::new()
        .name(format!("wfplan-run-{batch_id}"))
        .spawn(move || {
            let _guard = guard;
            let report = run_batch(
                &state.rules,
                state.recorder(),
                &plan,
                &batch,
                None,
                &job,
                |_| {},
            );
            if let Err(e) = report {
                tracing::error!("run {batch_id}: {e}");
            }
        })
        .map_err(|e| ApiError::internal(format!("cannot start the run: {e}")))?;
    Ok(batch_id)
}
