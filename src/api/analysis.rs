//! Analyses built on runs: what each intervention contributes to a change
//! (`POST /attribution`), how much of a lever reaches a target (`POST /seek`) and how a
//! figure was computed (`GET /runs/{id}/trace`). Request and response types of their own;
//! the work is `app`'s, the same as `wfplan attribute`, `seek` and `trace`.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};

use super::error::{invalid_scenario, ApiError};
use super::runs::sync_slot;
use super::scenarios::resolve_saved;
use super::state::{lock, AppState};
use super::text::Text;
use super::{blocking, ApiTags};
use crate::app::attribution::{attribute, AttributionError, AttributionRequest, Method};
use crate::app::seek::{seek, SeekError, SeekRequest};
use crate::app::trace::{parse_segment, trace, TraceError, TraceRequest};
use crate::data::datasets::DEFAULT_DATASET;
use crate::report::attribution::Attribution;
use crate::report::metric::{GroupMetric, PeriodChoice};

/// What to attribute: a scenario's change in one figure against its baseline.
#[derive(Debug, Clone, Object)]
#[oai(example, deny_unknown_fields)]
pub struct AttributionBody {
    /// The scenario, by name (`GET /scenarios`).
    pub scenario: Text,
    /// The baseline; the root of the scenario's `extends` chain when absent. A named
    /// baseline may not have interventions or overrides the scenario lacks.
    pub baseline: Option<Text>,
    /// An output figure (`vacancies`, `agency_cost`...) or `vacancy_rate`, `leaver_rate`,
    /// `turnover`, `agency_share`.
    pub metric: String,
    /// Key column to value: only the matching segments (all must hold).
    #[oai(rename = "where")]
    pub filter: Option<BTreeMap<String, String>>,
    /// A financial year such as `2027/28`; the whole run when neither this nor `month`.
    pub year: Option<String>,
    /// A month such as `2027-03`.
    pub month: Option<String>,
    /// `sequential`, `shapley` or `both` (the default).
    pub method: Option<String>,
    /// The dataset to run on; `default` when absent.
    pub dataset: Option<Text>,
}

impl Example for AttributionBody {
    fn example() -> Self {
        AttributionBody {
            scenario: "faculty-plan".into(),
            baseline: None,
            metric: "vacancies".into(),
            filter: Some(BTreeMap::from([(
                "staff_group".into(),
                "physiotherapy".into(),
            )])),
            year: Some("2029/30".into()),
            month: None,
            method: None,
            dataset: None,
        }
    }
}

/// One factor's contribution to the change.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FactorView {
    /// The intervention's `name` (or its kind and position), or `overrides`.
    pub name: String,
    /// Its step in file order: the metric with it and the factors before it, less the
    /// metric with only those before it.
    pub sequential: Option<f64>,
    /// Its exact Shapley value: its mean step over every order of the factors.
    pub shapley: Option<f64>,
}

/// The change in the metric and what each factor contributes; sequential steps and
/// Shapley values each add up to `total_change`.
#[derive(Debug, Clone, Object)]
pub struct AttributionView {
    pub metric: String,
    /// The metric with every factor removed.
    pub baseline_value: f64,
    pub scenario_value: f64,
    pub total_change: f64,
    pub factors: Vec<FactorView>,
    /// Scenario runs made (2^factors for Shapley values).
    pub runs: u64,
}

fn view(a: Attribution) -> AttributionView {
    AttributionView {
        metric: a.metric,
        baseline_value: a.baseline_value,
        scenario_value: a.scenario_value,
        total_change: a.total_change,
        factors: a
            .factors
            .into_iter()
            .map(|f| FactorView {
                name: f.name,
                sequential: f.sequential,
                shapley: f.shapley,
            })
            .collect(),
        runs: a.runs as u64,
    }
}

/// What to seek: the smallest value of one field at which a metric reaches a target.
#[derive(Debug, Clone, Object)]
#[oai(example, deny_unknown_fields)]
pub struct SeekBody {
    /// The scenario, by name (`GET /scenarios`).
    pub scenario: Text,
    /// `interventions.N.FIELD` or `overrides.N.COLUMN`, N counted from 1 in the
    /// scenario's lists after `extends`.
    pub field: String,
    /// The least value to try.
    pub lo: f64,
    /// The greatest value to try.
    pub hi: f64,
    /// An output figure or `vacancy_rate`, `leaver_rate`, `turnover`, `agency_share`.
    pub metric: String,
    /// Key column to value: only the matching segments (all must hold).
    #[oai(rename = "where")]
    pub filter: Option<BTreeMap<String, String>>,
    /// A financial year such as `2029/30` (or give `month`).
    pub year: Option<String>,
    /// A month such as `2029-03`.
    pub month: Option<String>,
    /// The value the metric must reach.
    pub target: f64,
    /// How close to the smallest value the answer must be; `(hi - lo) / 1000` when
    /// absent, 1 with whole numbers.
    pub tolerance: Option<f64>,
    /// Only whole values.
    pub integer: Option<bool>,
    /// The dataset to run on; `default` when absent.
    pub dataset: Option<Text>,
}

impl Example for SeekBody {
    fn example() -> Self {
        SeekBody {
            scenario: "apprenticeships".into(),
            field: "interventions.3.starts_per_year".into(),
            lo: 0.0,
            hi: 500.0,
            metric: "apprentices_qualified".into(),
            filter: None,
            year: Some("2029/30".into()),
            month: None,
            target: 20.0,
            tolerance: Some(0.5),
            integer: None,
            dataset: None,
        }
    }
}

/// The answer of a goal seek.
#[derive(Debug, Clone, Object)]
pub struct SeekView {
    /// The smallest value (within the tolerance) at which the metric reaches the target;
    /// absent when it does not even at `hi`.
    pub value: Option<f64>,
    /// The metric at `value`.
    pub metric_value: Option<f64>,
    pub reached: bool,
    /// Scenario runs made.
    pub runs: u64,
    /// The metric at `lo` and at `hi`.
    pub lo_metric: f64,
    pub hi_metric: f64,
}

/// The dataset's workforce and the metric checked against it.
fn checked_metric(
    state: &AppState,
    dataset: Option<Text>,
    metric: &str,
    filter: Option<BTreeMap<String, String>>,
    period: PeriodChoice,
) -> Result<(Arc<crate::model::Workforce>, GroupMetric), ApiError> {
    let dataset = dataset.map_or(DEFAULT_DATASET.into(), Text::into_string);
    let workforce = state.workforce(&dataset)?;
    let filters: Vec<(String, String)> = filter.unwrap_or_default().into_iter().collect();
    let metric = GroupMetric::checked(metric, &filters, period, &workforce)
        .map_err(|(field, m)| ApiError::field(field, m))?;
    Ok((workforce, metric))
}

/// One quantity of a trace.
#[derive(Debug, Clone, Object)]
pub struct QuantityView {
    pub value: f64,
    /// The rule file that computed it, or `input`, `engine` or `intervention field` for
    /// what the rules are given.
    pub rule: String,
    pub line: Option<u64>,
}

/// Every quantity behind the figure, and what each was computed from.
#[derive(Debug, Clone, Object)]
pub struct TraceView {
    pub quantities: BTreeMap<String, QuantityView>,
    pub depends_on: BTreeMap<String, Vec<String>>,
}

/// 413: the analysis would take more work than one request may.
fn too_large(message: String) -> ApiError {
    ApiError::make(
        poem::http::StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        message,
        Vec::new(),
    )
}

pub struct AnalysisApi;

#[OpenApi(tag = "ApiTags::Analysis")]
impl AnalysisApi {
    /// Attribute a change to its interventions
    ///
    /// Runs the scenario with every combination of its factors (its interventions the
    /// baseline lacks, in file order, then its own overrides) as one batch and gives each
    /// factor's sequential step and exact Shapley value for the metric of the matching
    /// segments over the year, month or whole run. At most 12 factors for Shapley values.
    #[oai(path = "/attribution", method = "post", operation_id = "attribute")]
    async fn attribution(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<AttributionBody>,
    ) -> Result<Json<AttributionView>, ApiError> {
        let body = body.0;
        let state = state.0.clone();
        let method = match body.method.as_deref() {
            None => Method::Both,
            Some(text) => Method::parse(text).map_err(|m| ApiError::field("method", m))?,
        };
        let period = PeriodChoice::parse(body.year.as_deref(), body.month.as_deref())
            .map_err(|m| ApiError::field("year", m))?;
        let permit = sync_slot(&state).await?;
        blocking(move || {
            let _permit = permit;
            let (workforce, metric) =
                checked_metric(&state, body.dataset, &body.metric, body.filter, period)?;
            let baseline_name = match &body.baseline {
                Some(name) => name.to_string(),
                None => lock(&state.scenarios)
                    .root(&body.scenario)
                    .unwrap_or_else(|| body.scenario.to_string()),
            };
            let request = AttributionRequest {
                scenario: resolve_saved(&state, &body.scenario, "scenario")?,
                baseline: resolve_saved(&state, &baseline_name, "baseline")?,
                baseline_named: body.baseline.is_some(),
                metric,
                method,
                time_budget: state.limits.time_budget,
                max_segment_months: state.limits.max_analysis_segment_months,
            };
            match attribute(&state.rules, workforce, &request) {
                Ok(a) => Ok(Json(view(a))),
                Err(AttributionError::Invalid(problems)) => Err(invalid_scenario(&problems)),
                Err(e @ AttributionError::TooManyFactors { .. }) => {
                    Err(ApiError::field("scenario", e.to_string()))
                }
                Err(e @ AttributionError::RunFailed { .. }) => {
                    Err(ApiError::invalid("run_failed", e.to_string(), Vec::new()))
                }
                Err(e @ AttributionError::TooLarge { .. }) => Err(too_large(e.to_string())),
                Err(AttributionError::Threads(e)) => Err(ApiError::internal(e)),
            }
        })
        .await
    }

    /// Seek the value of a lever that reaches a target
    ///
    /// The smallest value of one numeric field of the scenario in `lo..hi` at which the
    /// metric of the matching segments in the year or month reaches `target` (at or past
    /// it in the direction the metric moves from `lo` to `hi`), to within the tolerance;
    /// or, when it does not reach it even at `hi`, the metric at both ends. Several points
    /// are run in parallel each round.
    #[oai(path = "/seek", method = "post", operation_id = "seek")]
    async fn seek(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<SeekBody>,
    ) -> Result<Json<SeekView>, ApiError> {
        let body = body.0;
        let state = state.0.clone();
        let period = match PeriodChoice::parse(body.year.as_deref(), body.month.as_deref()) {
            Ok(PeriodChoice::WholeRun) => {
                return Err(ApiError::field("year", "give a year or a month"))
            }
            Ok(period) => period,
            Err(m) => return Err(ApiError::field("year", m)),
        };
        let permit = sync_slot(&state).await?;
        blocking(move || {
            let _permit = permit;
            let (workforce, metric) =
                checked_metric(&state, body.dataset, &body.metric, body.filter, period)?;
            let request = SeekRequest {
                scenario: resolve_saved(&state, &body.scenario, "scenario")?,
                field: body.field,
                lo: body.lo,
                hi: body.hi,
                metric,
                target: body.target,
                tolerance: body.tolerance,
                integer: body.integer.unwrap_or(false),
                time_budget: state.limits.time_budget,
                max_segment_months: state.limits.max_analysis_segment_months,
            };
            match seek(&state.rules, workforce, &request) {
                Ok(s) => Ok(Json(SeekView {
                    reached: s.reached(),
                    value: s.value,
                    metric_value: s.metric_value,
                    runs: s.runs as u64,
                    lo_metric: s.lo_metric,
                    hi_metric: s.hi_metric,
                })),
                Err(SeekError::Invalid(problems)) => Err(invalid_scenario(&problems)),
                Err(e @ SeekError::RunFailed { .. }) => {
                    Err(ApiError::invalid("run_failed", e.to_string(), Vec::new()))
                }
                Err(e @ SeekError::TooLarge { .. }) => Err(too_large(e.to_string())),
                Err(SeekError::Threads(e)) => Err(ApiError::internal(e)),
            }
        })
        .await
    }

    /// Trace a figure of a run
    ///
    /// Every quantity the rules computed for one segment in one month of the run (or only
    /// those behind `figure`), with its value and the rule file and line that computed it,
    /// by running the run's scenario again with the real rules. Refused (409) if the
    /// scenario or the dataset has changed since the run.
    #[oai(path = "/runs/:id/trace", method = "get", operation_id = "trace_run")]
    async fn trace(
        &self,
        state: Data<&Arc<AppState>>,
        id: Path<i64>,
        /// The segment's key values: `org=a,staff_group=physiotherapy,band=5`.
        segment: Query<String>,
        /// The month, `YYYY-MM`.
        month: Query<String>,
        /// Only this figure and what it depends on.
        figure: Query<Option<String>>,
        /// A draw of a Monte Carlo run (0 is the central run): the trace of that draw.
        draw: Query<Option<u64>>,
    ) -> Result<Json<TraceView>, ApiError> {
        let state = state.0.clone();
        let segment = parse_segment(&segment.0).map_err(|m| ApiError::field("segment", m))?;
        let permit = sync_slot(&state).await?;
        blocking(move || {
            let _permit = permit;
            let run = state.store().run(id.0)?.ok_or_else(|| {
                ApiError::not_found(format!("no run {}: GET /runs lists them", id.0))
            })?;
            let workforce = state.workforce(&run.dataset)?;
            let request = TraceRequest {
                scenario: resolve_saved(&state, &run.scenario, "scenario")?,
                segment,
                month: month.0,
                figure: figure.0,
                time_budget: state.limits.time_budget,
                draw: draw.0,
            };
            match trace(&state.rules, workforce, &request, Some(&run)) {
                Ok(t) => Ok(Json(TraceView {
                    quantities: t
                        .quantities
                        .into_iter()
                        .map(|(name, q)| {
                            let view = QuantityView {
                                value: q.value,
                                rule: q.rule,
                                line: q.line.map(|l| l as u64),
                            };
                            (name, view)
                        })
                        .collect(),
                    depends_on: t.depends_on,
                })),
                Err(TraceError::Invalid(problems)) => Err(invalid_scenario(&problems)),
                Err(e @ TraceError::Changed(_)) => Err(ApiError::conflict(e.to_string())),
                Err(TraceError::Run(e)) => {
                    Err(ApiError::invalid("run_failed", e.to_string(), Vec::new()))
                }
            }
        })
        .await
    }
}
