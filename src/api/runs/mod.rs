//! Runs: running scenarios (small runs answered at once, large runs and sweeps in the
//! background), their progress, cancelling them, their results, and comparisons.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use poem::web::Data;
use poem::Body;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, ResponseContent};

mod execute;
mod stream;

pub(crate) use execute::sync_slot;
use execute::{run_now, start_background, Planned};

use super::error::ApiError;
use super::scenarios::{resolve_saved, ScenarioDocument};
use super::state::{lock, AppState};
use super::text::Text;
use super::{blocking, ApiTags};
use crate::app::compare::Side;
use crate::app::execute::BatchControl;
use crate::data::datasets::DEFAULT_DATASET;
use crate::data::export::ResultsEncoding;
use crate::data::query::{
    choose_stats, Period as QueryPeriod, ResultsQuery, RunRow, Stat, DERIVED,
};
use crate::model::results::METRICS;
use crate::model::{BatchStatus, RunStatus};
use crate::report::{self, Period, VacancyValue};

/// What to run.
#[derive(Debug, Clone, Object)]
#[oai(example, skip_serializing_if_is_none, deny_unknown_fields)]
pub struct RunRequest {
    /// The name of a saved scenario (see `GET /scenarios`). Give this or `scenario_document`.
    pub scenario: Option<Text>,
    /// A scenario given in full, not saved. Give this or `scenario`.
    pub scenario_document: Option<ScenarioDocument>,
    /// The dataset to run on (see `GET /datasets`); `default` when absent.
    pub dataset: Option<Text>,
    /// How much detail to store: `segment` (every segment, as the model spec's output),
    /// key columns to sum over such as `staff_group` or `org,staff_group`, or `total`.
    /// The default is `segment`, or `staff_group` for a Monte Carlo run, whose draws
    /// multiply the rows.
    pub detail: Option<String>,
    /// Run in the background even if small: the answer is 202 with the run's address.
    /// Monte Carlo runs always run in the background.
    pub background: Option<bool>,
    /// Monte Carlo draws, replacing the scenario's `monte_carlo.draws` (1 to 100,000); a
    /// scenario without `monte_carlo` runs that many draws.
    pub draws: Option<i64>,
    /// The seed of the draws, replacing the scenario's `monte_carlo.seed`.
    pub seed: Option<i64>,
}

impl Example for RunRequest {
    fn example() -> Self {
        RunRequest {
            scenario: Some("faculty-plan".into()),
            scenario_document: None,
            dataset: Some(DEFAULT_DATASET.into()),
            detail: Some("segment".into()),
            background: Some(false),
            draws: None,
            seed: None,
        }
    }
}

/// The state of one scenario run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum RunState {
    /// Under way (or waiting its turn in a background run).
    Running,
    /// Its results are stored.
    Succeeded,
    /// It failed; `error` says why.
    Failed,
    /// Its run was cancelled before it started.
    Cancelled,
}

impl From<RunStatus> for RunState {
    fn from(s: RunStatus) -> Self {
        match s {
            RunStatus::Running => RunState::Running,
            RunStatus::Succeeded => RunState::Succeeded,
            RunStatus::Failed => RunState::Failed,
            RunStatus::Cancelled => RunState::Cancelled,
        }
    }
}

impl From<RunState> for RunStatus {
    fn from(s: RunState) -> Self {
        match s {
            RunState::Running => RunStatus::Running,
            RunState::Succeeded => RunStatus::Succeeded,
            RunState::Failed => RunStatus::Failed,
            RunState::Cancelled => RunStatus::Cancelled,
        }
    }
}

/// The state of a run request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum BatchState {
    /// Scenario runs are under way.
    Running,
    /// Every scenario run succeeded.
    Succeeded,
    /// Every scenario run failed.
    Failed,
    /// Some succeeded and some failed.
    PartlyFailed,
    /// Someone cancelled it: the scenario runs it had not started are `cancelled`.
    Cancelled,
}

impl From<BatchStatus> for BatchState {
    fn from(s: BatchStatus) -> Self {
        match s {
            BatchStatus::Running => BatchState::Running,
            BatchStatus::Succeeded => BatchState::Succeeded,
            BatchStatus::Failed => BatchState::Failed,
            BatchStatus::PartlyFailed => BatchState::PartlyFailed,
            BatchStatus::Cancelled => BatchState::Cancelled,
        }
    }
}

/// One scenario run of a run request (a sweep has several).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ScenarioRun {
    pub run_id: i64,
    pub scenario: String,
    pub status: RunState,
    /// Why it failed: the rule file, line and column, or the field.
    pub error: Option<String>,
    pub duration_ms: Option<f64>,
}

/// Figures of one period (and group) of a run.
#[derive(Debug, Clone, Object)]
pub struct ResultRow {
    pub scenario: String,
    /// `YYYY-MM` or a financial year such as `2025/26`.
    pub period: String,
    /// The group's key values (empty for totals).
    pub keys: BTreeMap<String, String>,
    /// Metric to value: stocks are means over the period's months, flows are sums;
    /// `vacancy_rate`, `leaver_rate`, `turnover` and `agency_share` come from those sums.
    pub figures: BTreeMap<String, f64>,
}

/// A run request's state.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RunView {
    /// The run's id: `GET /runs/{id}`.
    pub id: i64,
    pub status: BatchState,
    /// Scenario runs finished and recorded (succeeded, failed or cancelled). A background
    /// run stores its results a group at a time, so this moves at least once a second.
    pub done: u64,
    /// Scenario runs in all.
    pub total: u64,
    /// While a background run with Monte Carlo draws is under way: the draws made and
    /// stored so far (draw 0 included), over its Monte Carlo runs started so far. A Monte
    /// Carlo run is one scenario run, so `done` moves only when it ends.
    pub draws_done: Option<u64>,
    /// The draws those runs make in all.
    pub draws_total: Option<u64>,
    pub dataset: String,
    pub detail: String,
    pub scenarios: Vec<ScenarioRun>,
    /// Where the results are.
    pub results: String,
    /// Totals by financial year, in the answer to a run made at once.
    pub summary: Option<Vec<ResultRow>>,
}

/// Results of a run.
#[derive(Debug, Clone, Object)]
pub struct ResultsView {
    pub run: i64,
    /// False while scenarios are still running: the rows hold those finished.
    pub complete: bool,
    pub rows: Vec<ResultRow>,
}

#[derive(ApiResponse)]
enum RunStarted {
    /// The run was small and has finished: its state and totals.
    #[oai(status = 200)]
    Finished(Json<RunView>),
    /// The run goes on in the background; follow `Location`.
    #[oai(status = 202)]
    Accepted(Json<RunView>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum Cancelled {
    /// Cancelling: scenarios under way finish, the rest are not run.
    #[oai(status = 202)]
    Accepted(Json<RunView>),
}

/// A results answer, sent as it is read (`stream`): the JSON is a `ResultsView`.
#[derive(ResponseContent)]
enum ResultsContent {
    #[oai(actual_type = "Json<ResultsView>")]
    Json(Binary<Body>),
    /// One row per scenario, period and group: `scenario`, `period`, keys, metrics.
    #[oai(content_type = "text/csv")]
    Csv(Binary<Body>),
    /// The same table as Parquet.
    #[oai(content_type = "application/vnd.apache.parquet")]
    Parquet(Binary<Body>),
}

#[derive(ApiResponse)]
enum ResultsResponse {
    /// The results, as JSON, CSV or Parquet (`format`).
    #[oai(status = 200)]
    Ok(ResultsContent),
}

/// A scenario or a stored run, for comparisons.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct CompareItem {
    /// A saved scenario, run afresh (one run, no sweep).
    pub scenario: Option<Text>,
    /// A run already made (`ScenarioRun.run_id`), read from the database.
    pub run_id: Option<i64>,
}

/// What to compare.
#[derive(Debug, Clone, Object)]
#[oai(example, skip_serializing_if_is_none, deny_unknown_fields)]
pub struct CompareRequest {
    pub baseline: CompareItem,
    /// One or more scenarios or runs to set against the baseline.
    pub others: Vec<CompareItem>,
    /// The dataset scenarios run on, and whose pay and agency premium value a vacancy
    /// in the break-even; `default` when absent.
    pub dataset: Option<Text>,
    /// GBP a vacancy left unfilled for a year is worth in the break-even; the segments'
    /// FTE-weighted mean annual pay when absent.
    pub vacancy_value: Option<f64>,
}

impl Example for CompareRequest {
    fn example() -> Self {
        let scenario = |name: &str| CompareItem {
            scenario: Some(name.into()),
            run_id: None,
        };
        CompareRequest {
            baseline: scenario("baseline"),
            others: vec![scenario("faculty-plan"), scenario("retention")],
            dataset: None,
            vacancy_value: None,
        }
    }
}

/// A scenario's difference from the baseline in one period.
#[derive(Debug, Clone, Object)]
pub struct DifferenceView {
    /// A financial year, or `whole run`.
    pub period: String,
    /// Metric to (scenario minus baseline).
    pub change: BTreeMap<String, f64>,
    /// Change in pay, bank, agency and intervention cost together (GBP).
    pub net_cost: f64,
}

/// The break-even of the interventions: they pay back once they remove at least as many
/// vacancies as their extra cost a year would buy. (The HEE AHP faculty evaluation's own
/// figures were 5 FTE retained with vacancies unfilled, 21 FTE where agency staff fill
/// them; these figures are this model's.)
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BreakEvenView {
    /// Extra intervention cost a year against the baseline (GBP).
    pub intervention_cost_per_year: f64,
    /// FTE-weighted mean annual pay.
    pub pay_per_fte_year: f64,
    /// What a vacancy left unfilled for a year is worth (GBP): `vacancy_value` of the
    /// request, or the mean annual pay.
    pub vacancy_value_per_fte_year: f64,
    /// `mean annual pay` or `stated` (given in the request).
    pub vacancy_value_basis: String,
    /// FTE-weighted mean extra cost of an agency FTE-year.
    pub agency_extra_per_fte_year: f64,
    /// Vacancies to remove to pay back if vacancies go unfilled: the extra cost a year
    /// over the value of a vacant FTE-year (zero or less when there is no extra cost).
    /// Absent when a vacancy has no value: then no number of vacancies pays back.
    pub fte_if_unfilled: Option<f64>,
    /// Vacancies to remove to pay back if agency staff fill them: the extra cost a year
    /// over the agency premium of an FTE-year. Absent when agency staff cost no more than
    /// substantive staff: then no number of vacancies pays back.
    pub fte_if_agency_filled: Option<f64>,
    /// Vacancies removed, averaged over the run.
    pub vacancies_removed: f64,
    /// True when the vacancies removed are at least `fte_if_unfilled` (exactly at
    /// break-even, the interventions pay back).
    pub pays_back_if_unfilled: bool,
    /// True when the vacancies removed are at least `fte_if_agency_filled`.
    pub pays_back_if_agency_filled: bool,
}

/// One scenario against the baseline.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ComparisonView {
    pub baseline: String,
    pub scenario: String,
    pub years: Vec<DifferenceView>,
    pub whole_run: DifferenceView,
    pub break_even: BreakEvenView,
    /// For Monte Carlo runs (the figures above are then the central run's): the change
    /// draw by draw under the same draws, summarised over the draws.
    pub uncertainty: Option<UncertaintyView>,
}

/// An option against the baseline under the same draws.
#[derive(Debug, Clone, Object)]
pub struct UncertaintyView {
    /// Random draws compared.
    pub draws: u64,
    /// Every figure and rate, by financial year and over the whole run.
    pub changes: Vec<ChangeBandView>,
}

/// The change an option makes to one figure in one period, over the draws.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ChangeBandView {
    /// A financial year, or `whole run`.
    pub period: String,
    pub metric: String,
    /// Option minus baseline in the central run (draw 0).
    pub central: f64,
    /// Mean, 10th, 50th and 90th percentiles of the change over the random draws.
    pub mean: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    /// Share of the random draws in which the option's figure is below the baseline's.
    pub share_lower: f64,
    /// Share in which it is above.
    pub share_higher: f64,
    /// Share in which the option does better (fewer vacancies, more staff in post...);
    /// absent for figures without one better direction.
    pub probability_better: Option<f64>,
}

pub struct RunsApi;

#[OpenApi(tag = "ApiTags::Runs")]
impl RunsApi {
    /// Run a scenario
    ///
    /// Runs a saved or given scenario on a dataset and stores its results. A small run
    /// (one scenario, up to a million segment-months) is answered when it finishes, with
    /// its totals by financial year. Sweeps, large runs and `background: true` answer 202
    /// at once; follow `Location` for progress. A scenario that fails (for example a rule
    /// error, named by file and line) fails alone: the run records why.
    #[oai(path = "/runs", method = "post", operation_id = "start_run")]
    async fn start(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<RunRequest>,
    ) -> Result<RunStarted, ApiError> {
        let state = state.0.clone();
        let request = body.0;
        let clock = Instant::now();
        let Planned {
            plan,
            in_background,
        } = {
            let state = state.clone();
            blocking(move || execute::plan(&state, request)).await?
        };
        tracing::debug!("run request checked in {:?}", clock.elapsed());
        if in_background {
            let permit = state
                .background_slots
                .clone()
                .try_acquire_owned()
                .map_err(|_| {
                    ApiError::make(
                        poem::http::StatusCode::TOO_MANY_REQUESTS,
                        "busy",
                        format!(
                            "{} background runs are under way; try again when one finishes",
                            state.limits.background_slots
                        ),
                        Vec::new(),
                    )
                })?;
            let id = {
                let state = state.clone();
                blocking(move || start_background(state, plan, permit)).await?
            };
            let view = {
                let state = state.clone();
                blocking(move || view(&state, id, None)).await?
            };
            return Ok(RunStarted::Accepted(Json(view), format!("/runs/{id}")));
        }
        let permit = sync_slot(&state).await?;
        let view = blocking(move || {
            let _permit = permit;
            run_now(&state, plan)
        })
        .await?;
        Ok(RunStarted::Finished(Json(view)))
    }

    /// List recent runs
    ///
    /// The latest run requests, newest first.
    #[oai(path = "/runs", method = "get", operation_id = "list_runs")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// How many (1 to 500, default 50).
        limit: Query<Option<u32>>,
    ) -> Result<Json<Vec<RunView>>, ApiError> {
        let limit = limit.0.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::field("limit", "give a number from 1 to 500"));
        }
        let state = state.0.clone();
        blocking(move || {
            let ids = state.store().recent_batches(limit as i64)?;
            ids.into_iter()
                .map(|id| view(&state, id, None))
                .collect::<Result<Vec<_>, _>>()
                .map(Json)
        })
        .await
    }

    /// Show a run
    ///
    /// Its status, progress (scenario runs done of total) and each scenario run's outcome.
    #[oai(path = "/runs/:id", method = "get", operation_id = "get_run")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        id: Path<i64>,
    ) -> Result<Json<RunView>, ApiError> {
        let state = state.0.clone();
        blocking(move || view(&state, id.0, None).map(Json)).await
    }

    /// Cancel a run
    ///
    /// Stops a background run: scenario runs under way finish and keep their results, the
    /// others are recorded as cancelled. A Monte Carlo run under way stops between its
    /// blocks of draws and is recorded as cancelled, keeping none of them.
    #[oai(path = "/runs/:id", method = "delete", operation_id = "cancel_run")]
    async fn cancel(
        &self,
        state: Data<&Arc<AppState>>,
        id: Path<i64>,
    ) -> Result<Cancelled, ApiError> {
        let state = state.0.clone();
        blocking(move || {
            let job = lock(&state.jobs).get(&id.0).cloned();
            match job {
                Some(job) => {
                    job.cancel();
                    view(&state, id.0, None).map(|v| Cancelled::Accepted(Json(v)))
                }
                None => {
                    view(&state, id.0, None)?;
                    Err(ApiError::conflict(format!(
                        "run {} has finished; there is nothing to cancel",
                        id.0
                    )))
                }
            }
        })
        .await
    }

    /// Get a run's results
    ///
    /// The figures of a run's scenarios, summed over the key columns not in `group_by`,
    /// by month or financial year. Stocks (staff in post, vacancies...) are means over the
    /// period's months and flows (leavers, costs...) sums; `vacancy_rate`,
    /// `leaver_rate`, `turnover` and `agency_share` are computed from those sums, never
    /// averaged across segments.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/runs/:id/results",
        method = "get",
        operation_id = "get_run_results"
    )]
    async fn results(
        &self,
        state: Data<&Arc<AppState>>,
        id: Path<i64>,
        /// Key columns to keep, comma-separated (for example `org,staff_group`); totals when absent.
        group_by: Query<Option<String>>,
        /// `financial_year` (the default) or `month`.
        period: Query<Option<String>>,
        /// Metrics to give, comma-separated (the model's output columns, `vacancy_rate`,
        /// `leaver_rate`, `turnover`, `agency_share`); all output columns when absent.
        metrics: Query<Option<String>>,
        /// Only segments with a key value, as `column=value`; repeat for more.
        filter: Query<Option<Vec<String>>>,
        /// `json` (the default), `csv` or `parquet`.
        format: Query<Option<String>>,
        /// Statistics over a Monte Carlo run's draws, comma-separated: `central` (draw 0),
        /// `mean`, `p10`, `p50`, `p90`, each giving a column per metric
        /// (`vacancies_p10`). All of them for a Monte Carlo run when absent, unless
        /// `group_by` has `draw`, which gives each draw's figures.
        stats: Query<Option<String>>,
    ) -> Result<ResultsResponse, ApiError> {
        let list = |text: Option<String>| -> Vec<String> {
            text.unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let period = match period.0.as_deref().unwrap_or("financial_year") {
            "financial_year" => QueryPeriod::FinancialYear,
            "month" => QueryPeriod::Month,
            other => {
                return Err(ApiError::field(
                    "period",
                    format!("'{other}' is not month or financial_year"),
                ))
            }
        };
        let mut filters = Vec::new();
        for f in filter.0.iter().flatten() {
            let (key, value) = f
                .split_once('=')
                .ok_or_else(|| ApiError::field("filter", format!("'{f}' is not column=value")))?;
            filters.push((key.trim().to_string(), value.trim().to_string()));
        }
        let format = format.0.unwrap_or_else(|| "json".into());
        if !["json", "csv", "parquet"].contains(&format.as_str()) {
            return Err(ApiError::field(
                "format",
                format!("'{format}' is not json, csv or parquet"),
            ));
        }
        let group_by = list(group_by.0);
        let metrics = list(metrics.0);
        let stats: Vec<Stat> = list(stats.0)
            .iter()
            .map(|s| Stat::parse(s))
            .collect::<Result<_, _>>()
            .map_err(|message| ApiError::field("stats", message))?;
        let state = state.0.clone();
        // Answers are sent as they are read: a bounded number at once, each holding a
        // few batches (`stream`).
        let permit = state
            .result_streams
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                ApiError::make(
                    poem::http::StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!(
                        "{} results answers are being sent, the most at once (serve --result-streams); try again shortly",
                        state.limits.result_streams
                    ),
                    Vec::new(),
                )
            })?;
        let run = id.0;
        // The query is checked and given a connection of its own under the store's lock;
        // reading it holds no lock.
        let (reader, complete) = blocking(move || {
            let runs = batch(&state, run)?;
            let done: Vec<&RunRow> = runs
                .iter()
                .filter(|r| r.status == RunStatus::Succeeded)
                .collect();
            let done_rows: Vec<RunRow> = done.iter().map(|r| (*r).clone()).collect();
            let stats = choose_stats(&done_rows, &stats, &group_by)
                .map_err(|p| ApiError::field("stats", p.message))?;
            let query = ResultsQuery {
                run_ids: done.iter().map(|r| r.run_id).collect(),
                group_by,
                period,
                metrics,
                filters,
                stats,
            };
            let details: Vec<String> = done.iter().map(|r| r.detail.clone()).collect();
            let reader = state.store().results_reader(&query, &details)?;
            let complete = !runs.iter().any(|r| r.status == RunStatus::Running);
            Ok((reader, complete))
        })
        .await?;
        let content = match format.as_str() {
            "parquet" => {
                let (path, folder) = blocking(move || {
                    let folder = tempfile::Builder::new()
                        .prefix("wfplan-results-")
                        .tempdir()
                        .map_err(|e| {
                            ApiError::internal(format!("cannot make a temporary folder: {e}"))
                        })?;
                    let path = folder.path().join("results.parquet");
                    reader.write_parquet(&path)?;
                    drop(permit);
                    Ok((path, folder))
                })
                .await?;
                ResultsContent::Parquet(Binary(stream::file_body(path, folder).await?))
            }
            "csv" => ResultsContent::Csv(Binary(
                stream::results_body(reader, ResultsEncoding::Csv, permit).await?,
            )),
            _ => ResultsContent::Json(Binary(
                stream::results_body(reader, ResultsEncoding::Json { run, complete }, permit)
                    .await?,
            )),
        };
        Ok(ResultsResponse::Ok(content))
    }

    /// Compare scenarios or runs
    ///
    /// Sets each of `others` against the baseline: the change in every figure by financial
    /// year and over the run, the net cost, and the break-even of the interventions.
    #[oai(path = "/compare", method = "post", operation_id = "compare")]
    async fn compare(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<CompareRequest>,
    ) -> Result<Json<Vec<ComparisonView>>, ApiError> {
        let request = body.0;
        if request.others.is_empty() || request.others.len() > 20 {
            return Err(ApiError::field(
                "others",
                "give 1 to 20 scenarios or runs to compare",
            ));
        }
        let vacancy_value = match request.vacancy_value {
            None => VacancyValue::AnnualPay,
            Some(x) if x.is_finite() && x >= 0.0 => VacancyValue::Stated(x),
            Some(x) => {
                return Err(ApiError::field(
                    "vacancy_value",
                    format!("{x} is not an amount of 0 GBP or more"),
                ))
            }
        };
        let state = state.0.clone();
        let permit = sync_slot(&state).await?;
        blocking(move || {
            let _permit = permit;
            let dataset = request
                .dataset
                .clone()
                .unwrap_or_else(|| DEFAULT_DATASET.into());
            let workforce = state.workforce(&dataset)?;
            let baseline = side(&state, &request.baseline, "baseline")?;
            let others = request
                .others
                .iter()
                .enumerate()
                .map(|(i, other)| side(&state, other, &format!("others[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            let comparisons = crate::app::compare::compare(
                &state.rules,
                state.recorder(),
                workforce,
                baseline,
                others,
                state.limits.time_budget,
                vacancy_value,
            )?;
            Ok(Json(comparisons.iter().map(comparison_view).collect()))
        })
        .await
    }
}

/// The runs of a batch, or 404.
fn batch(state: &AppState, id: i64) -> Result<Vec<RunRow>, ApiError> {
    let runs = state.store().batch_runs(id)?;
    if runs.is_empty() {
        return Err(ApiError::not_found(format!(
            "no run {id}: GET /runs lists them"
        )));
    }
    Ok(runs)
}

fn view(state: &AppState, id: i64, summary: Option<Vec<ResultRow>>) -> Result<RunView, ApiError> {
    let runs = batch(state, id)?;
    let job = lock(&state.jobs).get(&id).cloned();
    let scenarios = runs
        .iter()
        .map(|r| ScenarioRun {
            run_id: r.run_id,
            scenario: r.scenario.clone(),
            status: r.status.into(),
            error: r.error.clone(),
            duration_ms: r.duration_ms,
        })
        .collect();
    let first = &runs[0];
    Ok(view_of(
        id,
        first.dataset.clone(),
        first.detail.clone(),
        scenarios,
        job,
        summary,
    ))
}

/// A batch's view from its scenario runs and, while it runs in the background, its job.
fn view_of(
    id: i64,
    dataset: String,
    detail: String,
    scenarios: Vec<ScenarioRun>,
    job: Option<Arc<BatchControl>>,
    summary: Option<Vec<ResultRow>>,
) -> RunView {
    let statuses: Vec<RunStatus> = scenarios.iter().map(|r| r.status.into()).collect();
    let finished = statuses
        .iter()
        .filter(|s| **s != RunStatus::Running)
        .count();
    let status = BatchStatus::of(statuses, job.is_some());
    let draws = job.as_ref().and_then(|j| j.draws());
    RunView {
        id,
        status: status.into(),
        done: finished as u64,
        total: scenarios.len() as u64,
        draws_done: draws.map(|(done, _)| done),
        draws_total: draws.map(|(_, total)| total),
        dataset,
        detail,
        scenarios,
        results: format!("/runs/{id}/results"),
        summary,
    }
}

fn figures_map(p: &Period) -> BTreeMap<String, f64> {
    METRICS
        .iter()
        .zip(&p.values)
        .chain(DERIVED.iter().zip(&p.rates()))
        .map(|(m, v)| (m.to_string(), *v))
        .collect()
}

fn period_row(scenario: &str, p: &Period) -> ResultRow {
    ResultRow {
        scenario: scenario.into(),
        period: p.label.clone(),
        keys: BTreeMap::new(),
        figures: figures_map(p),
    }
}

/// A side of a comparison: a saved scenario (run afresh) or a stored run.
fn side(state: &AppState, item: &CompareItem, field: &str) -> Result<Side, ApiError> {
    match (&item.scenario, item.run_id) {
        (Some(name), None) => Ok(Side::Scenario(resolve_saved(state, name, field)?)),
        (None, Some(run_id)) => Ok(Side::Run(run_id)),
        _ => Err(ApiError::field(field, "give either scenario or run_id")),
    }
}

fn difference_view(d: &report::Difference) -> DifferenceView {
    DifferenceView {
        period: d.label.clone(),
        change: METRICS
            .iter()
            .zip(d.change.iter())
            .map(|(m, v)| (m.to_string(), *v))
            .collect(),
        net_cost: d.net_cost,
    }
}

fn comparison_view(c: &report::Comparison) -> ComparisonView {
    let b = &c.break_even;
    let finite = |x: f64| x.is_finite().then_some(x);
    ComparisonView {
        baseline: c.baseline.clone(),
        scenario: c.scenario.clone(),
        years: c.years.iter().map(difference_view).collect(),
        whole_run: difference_view(&c.whole_run),
        break_even: BreakEvenView {
            intervention_cost_per_year: b.intervention_cost_per_year,
            pay_per_fte_year: b.pay_per_fte_year,
            vacancy_value_per_fte_year: b.vacancy_value_per_fte_year,
            vacancy_value_basis: match b.vacancy_value {
                VacancyValue::AnnualPay => "mean annual pay",
                VacancyValue::Stated(_) => "stated",
            }
            .into(),
            agency_extra_per_fte_year: b.agency_extra_per_fte_year,
            fte_if_unfilled: finite(b.fte_if_unfilled),
            fte_if_agency_filled: finite(b.fte_if_agency_filled),
            vacancies_removed: b.vacancies_removed,
            pays_back_if_unfilled: b.pays_back_if_unfilled(),
            pays_back_if_agency_filled: b.pays_back_if_agency_filled(),
        },
        uncertainty: c.uncertainty.as_ref().map(|u| UncertaintyView {
            draws: u.draws as u64,
            changes: u
                .changes
                .iter()
                .map(|c| ChangeBandView {
                    period: c.period.clone(),
                    metric: c.metric.clone(),
                    central: c.change.central,
                    mean: c.change.mean,
                    p10: c.change.p10,
                    p50: c.change.p50,
                    p90: c.change.p90,
                    share_lower: c.share_lower,
                    share_higher: c.share_higher,
                    probability_better: c.probability_better,
                })
                .collect(),
        }),
    }
}
