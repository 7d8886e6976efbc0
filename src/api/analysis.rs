//! Analyses built on runs: what each intervention contributes to a change
//! (`POST /attribution`). Request and response types of their own; the work is
//! `app::attribution`'s, the same as `wfplan attribute`.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
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
            let dataset = body
                .dataset
                .map_or(DEFAULT_DATASET.into(), Text::into_string);
            let workforce = state.workforce(&dataset)?;
            let filters: Vec<(String, String)> =
                body.filter.unwrap_or_default().into_iter().collect();
            let metric = GroupMetric::checked(&body.metric, &filters, period, &workforce)
                .map_err(|(field, m)| ApiError::field(field, m))?;
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
                Err(AttributionError::Threads(e)) => Err(ApiError::internal(e)),
            }
        })
        .await
    }
}
