//! Scenarios: the files of the scenarios folder, and those created, replaced or deleted
//! through the API (kept in the database, so they survive a restart).

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, ToJSON};
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::{Map, Value};

use super::error::{invalid_scenario, ApiError};
use super::state::{lock, AppState};
use super::text::{check_name, path_segment, Text};
use super::{blocking, ApiTags};
use crate::app::{RunPlan, RunRequest};
use crate::scenario::ScenarioSource;

/// A scenario, in the same shape as the TOML files of `scenarios/` (model spec section 6).
#[derive(Debug, Clone, Object)]
#[oai(example, skip_serializing_if_is_none, deny_unknown_fields)]
pub struct ScenarioDocument {
    /// The scenario's name, as results report it. Defaults to the name in the path.
    pub name: Option<Text>,
    /// What the scenario tries, for planners.
    pub description: Option<String>,
    /// A scenario to start from: its fields are copied, its overrides and interventions
    /// come first.
    pub extends: Option<Text>,
    /// First month, `YYYY-MM`.
    pub start: Option<String>,
    /// Number of months to run (1 to 600).
    pub months: Option<i64>,
    /// Input columns set for the segments matched by `where`.
    pub overrides: Option<Vec<OverrideDocument>>,
    /// Interventions: `kind` (see `GET /rules`), `name`, `where`, `start`, `end`,
    /// `ramp_months`, `cost_per_month`, and the fields the kind reads.
    pub interventions: Option<Vec<BTreeMap<String, Value>>>,
    /// Seasonal factors on annual leave and sickness; all 1 when absent.
    pub seasonality: Option<SeasonalityDocument>,
    /// Monte Carlo: the number of random draws and the seed (model spec section 7).
    pub monte_carlo: Option<MonteCarloDocument>,
    /// Uncertain inputs, each an 80% interval: `what` (an input column, whose drawn
    /// factor multiplies it, or an intervention field such as
    /// `interventions.1.completion`, whose drawn value replaces it), `where`, `per` (a key
    /// column: one draw for each of its values), `p10` and `p90`.
    pub uncertain: Option<Vec<UncertainDocument>>,
    /// Field paths (for example `interventions.0.starts_per_year`, counted from 0 in the
    /// lists after `extends`, the parent's items first) mapped to lists of values: the
    /// scenario runs once for every combination.
    pub sweep: Option<BTreeMap<String, Vec<Value>>>,
}

/// `[seasonality]`: for each list, 12 factors (January to December, each 0 or more) that
/// multiply the rate in that calendar month. A child scenario's list replaces its
/// parent's list of the same name.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct SeasonalityDocument {
    /// Factors on `annual_leave_rate`, for example higher in August and December.
    pub annual_leave: Option<Vec<f64>>,
    /// Factors on the sickness rate (after wellbeing), for example higher in January.
    pub sickness: Option<Vec<f64>>,
}

impl Example for ScenarioDocument {
    fn example() -> Self {
        let intervention: BTreeMap<String, Value> = serde_json::from_value(serde_json::json!({
            "kind": "apprenticeships",
            "where": { "staff_group": "occupational_therapy", "band": "5" },
            "start": "2025-09",
            "starts_per_year": 20,
            "salary_per_year": 24000
        }))
        .expect("the example is a table");
        ScenarioDocument {
            name: Some("apprentices-20".into()),
            description: Some("20 OT degree apprentices a year from September 2025".into()),
            extends: Some("baseline".into()),
            start: Some("2025-04".into()),
            months: Some(60),
            overrides: None,
            interventions: Some(vec![intervention]),
            seasonality: None,
            monte_carlo: None,
            uncertain: None,
            sweep: None,
        }
    }
}

/// `[monte_carlo]`.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct MonteCarloDocument {
    /// Random draws, 1 to 100,000 (draw 0, the central run, comes on top).
    pub draws: Option<i64>,
    /// The seed: the same seed gives the same draws and figures. 1 when absent.
    pub seed: Option<i64>,
}

/// An `[[uncertain]]` entry.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct UncertainDocument {
    /// An input column (`leaver_rate`) or an intervention field (`interventions.1.completion`).
    pub what: Option<String>,
    /// Key column to value (or list of values), for an input column; every segment when absent.
    #[oai(rename = "where")]
    pub filter: Option<BTreeMap<String, Value>>,
    /// A key column: one independent draw for each of its values.
    pub per: Option<String>,
    /// The 10th percentile of the uncertain factor or value.
    pub p10: Option<f64>,
    /// The 90th percentile.
    pub p90: Option<f64>,
}

/// Input columns set for matched segments.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct OverrideDocument {
    /// Key column to value (or list of values); every segment when absent.
    #[oai(rename = "where")]
    pub filter: Option<BTreeMap<String, Value>>,
    /// Input column to its new value, for example `{"leaver_rate": 0.09}`.
    pub set: BTreeMap<String, f64>,
}

/// A scenario in the list.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ScenarioSummary {
    pub name: String,
    pub description: String,
    /// `file` (from the scenarios folder) or `api` (created or replaced through the API).
    pub origin: String,
    pub extends: Option<String>,
}

#[derive(ApiResponse)]
enum Created {
    /// The scenario was checked and saved.
    #[oai(status = 201)]
    Created(Json<ScenarioDocument>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The scenario was deleted.
    #[oai(status = 204)]
    Deleted,
}

pub struct ScenariosApi;

#[OpenApi(tag = "ApiTags::Scenarios")]
impl ScenariosApi {
    /// List scenarios
    ///
    /// Every scenario a run can use by name: the files of the scenarios folder and those
    /// saved through this API.
    #[oai(path = "/scenarios", method = "get", operation_id = "list_scenarios")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
    ) -> Result<Json<Vec<ScenarioSummary>>, ApiError> {
        let scenarios = lock(&state.scenarios);
        Ok(Json(
            scenarios
                .iter()
                .map(|(name, s)| ScenarioSummary {
                    name: name.clone(),
                    description: s.text("description"),
                    origin: s.origin.as_str().into(),
                    extends: s.extends().map(String::from),
                })
                .collect(),
        ))
    }

    /// Create a scenario
    ///
    /// Checks the scenario against the rules and the default dataset (every field, every
    /// intervention kind, every `where` column) and saves it under its `name`. A scenario
    /// of that name must not exist yet: use PUT to replace one.
    #[oai(path = "/scenarios", method = "post", operation_id = "create_scenario")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<ScenarioDocument>,
    ) -> Result<Created, ApiError> {
        let name = body
            .0
            .name
            .clone()
            .map(Text::into_string)
            .ok_or_else(|| ApiError::field("name", "a new scenario needs a name"))?;
        check_name("name", &name)?;
        if lock(&state.scenarios).contains(&name) {
            return Err(ApiError::conflict(format!(
                "a scenario named '{name}' exists: PUT /scenarios/{name} replaces it"
            )));
        }
        let saved = save(state.0.clone(), name.clone(), body.0).await?;
        Ok(Created::Created(
            Json(saved),
            format!("/scenarios/{}", path_segment(&name)),
        ))
    }

    /// Show a scenario
    ///
    /// The scenario as written, with `extends` not yet resolved.
    #[oai(
        path = "/scenarios/:name",
        method = "get",
        operation_id = "get_scenario"
    )]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        name: Path<String>,
    ) -> Result<Json<ScenarioDocument>, ApiError> {
        let scenarios = lock(&state.scenarios);
        let (_, stored) = scenarios
            .find(&name.0)
            .ok_or_else(|| no_scenario(&name.0))?;
        document_to_object(&stored.document).map(Json)
    }

    /// Create or replace a scenario
    ///
    /// Checks the scenario as POST does and saves it under the name in the path.
    #[oai(
        path = "/scenarios/:name",
        method = "put",
        operation_id = "replace_scenario"
    )]
    async fn replace(
        &self,
        state: Data<&Arc<AppState>>,
        name: Path<String>,
        body: Json<ScenarioDocument>,
    ) -> Result<Json<ScenarioDocument>, ApiError> {
        check_name("name", &name.0)?;
        if let Some(given) = &body.0.name {
            if given.0 != name.0 {
                return Err(ApiError::field(
                    "name",
                    format!("the body names '{given}' but the path names '{}'", name.0),
                ));
            }
        }
        save(state.0.clone(), name.0, body.0).await.map(Json)
    }

    /// Delete a scenario
    ///
    /// Removes the scenario; a file of that name in the scenarios folder stays hidden until
    /// a scenario of that name is saved again. Past runs and their results are kept.
    #[oai(
        path = "/scenarios/:name",
        method = "delete",
        operation_id = "delete_scenario"
    )]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        name: Path<String>,
    ) -> Result<Deleted, ApiError> {
        let name = name.0;
        if !lock(&state.scenarios).contains(&name) {
            return Err(no_scenario(&name));
        }
        let dependants = lock(&state.scenarios).dependants(&name);
        if !dependants.is_empty() {
            return Err(ApiError::conflict(format!(
                "scenario(s) {} extend '{name}': change or delete them first",
                dependants.join(", ")
            )));
        }
        let state = state.0.clone();
        blocking(move || {
            state.store().save_scenario(&name, None)?;
            lock(&state.scenarios).remove(&name);
            Ok(Deleted::Deleted)
        })
        .await
    }
}

fn no_scenario(name: &str) -> ApiError {
    ApiError::not_found(format!("no scenario '{name}': GET /scenarios lists them"))
}

/// Checks and saves a scenario under `name`.
async fn save(
    state: Arc<AppState>,
    name: String,
    body: ScenarioDocument,
) -> Result<ScenarioDocument, ApiError> {
    let mut document = object_to_document(&body)?;
    document.insert("name".into(), Value::String(name.clone()));
    let checked = document.clone();
    let state_for_check = state.clone();
    let scenario_name = name.clone();
    blocking(move || {
        // Checked as a run on the default dataset would check it: every field of every
        // run of its sweep, and the inputs its overrides give.
        let source = resolve(&state_for_check, &scenario_name, checked)?;
        let workforce = state_for_check.workforce(crate::data::datasets::DEFAULT_DATASET)?;
        let request = RunRequest {
            monte_carlo: Default::default(),
            dataset: crate::data::datasets::DEFAULT_DATASET.into(),
            scenarios: vec![source],
            detail: "segment".into(),
            time_budget: state_for_check.limits.time_budget,
            max_runs: usize::MAX,
            max_result_rows: usize::MAX,
        };
        RunPlan::new(&state_for_check.rules, workforce, request)?;
        let json = Value::Object(document.clone()).to_string();
        state_for_check
            .store()
            .save_scenario(&scenario_name, Some(&json))?;
        lock(&state_for_check.scenarios).save(scenario_name, document.clone());
        document_to_object(&document)
    })
    .await
}

pub fn object_to_document(body: &ScenarioDocument) -> Result<Map<String, Value>, ApiError> {
    match body.to_json() {
        Some(Value::Object(map)) => Ok(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        _ => Err(ApiError::field("body", "a scenario must be an object")),
    }
}

fn document_to_object(document: &Map<String, Value>) -> Result<ScenarioDocument, ApiError> {
    use poem_openapi::types::ParseFromJSON;
    // A file may hold fields the API shape does not; they are shown as the file has them
    // where they fit and otherwise reported rather than dropped silently.
    ScenarioDocument::parse_from_json(Some(Value::Object(document.clone()))).map_err(|e| {
        ApiError::internal(format!(
            "the stored scenario does not fit the API shape: {}",
            e.message()
        ))
    })
}

/// A scenario document named `name`, its `extends` resolved against the scenarios the
/// server knows (the one resolver files use too).
pub fn resolve(
    state: &AppState,
    name: &str,
    document: Map<String, Value>,
) -> Result<ScenarioSource, ApiError> {
    lock(&state.scenarios)
        .resolve_document(name, document)
        .map_err(|p| invalid_scenario(&[p]))
}

/// A saved scenario by name (or its file's stem), its `extends` resolved; `field` names
/// the request field that named it.
pub fn resolve_saved(
    state: &AppState,
    name: &str,
    field: &str,
) -> Result<ScenarioSource, ApiError> {
    let scenarios = lock(&state.scenarios);
    if scenarios.find(name).is_none() {
        return Err(ApiError::field(
            field,
            format!("no scenario '{name}': GET /scenarios lists them"),
        ));
    }
    scenarios.resolve(name).map_err(|p| invalid_scenario(&[p]))
}
