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
use super::state::{lock, AppState, Origin, StoredScenario};
use super::{blocking, ApiTags};
use crate::model::Scenario;
use crate::scenario::{check_all, ScenarioProblem, ScenarioSource};

/// A scenario, in the same shape as the TOML files of `scenarios/` (model spec section 6).
#[derive(Debug, Clone, Object)]
#[oai(example, skip_serializing_if_is_none, deny_unknown_fields)]
pub struct ScenarioDocument {
    /// The scenario's name, as results report it. Defaults to the name in the path.
    pub name: Option<String>,
    /// What the scenario tries, for planners.
    pub description: Option<String>,
    /// A scenario to start from: its fields are copied, its overrides and interventions
    /// come first.
    pub extends: Option<String>,
    /// First month, `YYYY-MM`.
    pub start: Option<String>,
    /// Number of months to run (1 to 600).
    pub months: Option<i64>,
    /// Input columns set for the segments matched by `where`.
    pub overrides: Option<Vec<OverrideDocument>>,
    /// Interventions: `kind` (see `GET /rules`), `name`, `where`, `start`, `end`,
    /// `ramp_months`, `cost_per_month`, and the fields the kind reads.
    pub interventions: Option<Vec<BTreeMap<String, Value>>>,
    /// Field paths (for example `interventions.0.starts_per_year`) mapped to lists of
    /// values: the scenario runs once for every combination.
    pub sweep: Option<BTreeMap<String, Vec<Value>>>,
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
            sweep: None,
        }
    }
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
                    description: text(&s.document, "description"),
                    origin: match s.origin {
                        Origin::File => "file".into(),
                        Origin::Api => "api".into(),
                    },
                    extends: s
                        .document
                        .get("extends")
                        .and_then(|v| v.as_str())
                        .map(String::from),
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
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| ApiError::field("name", "a new scenario needs a name"))?;
        if lock(&state.scenarios).contains_key(&name) {
            return Err(ApiError::conflict(format!(
                "a scenario named '{name}' exists: PUT /scenarios/{name} replaces it"
            )));
        }
        let saved = save(state.0.clone(), name.clone(), body.0).await?;
        Ok(Created::Created(Json(saved), format!("/scenarios/{name}")))
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
        let stored = scenarios.get(&name.0).ok_or_else(|| no_scenario(&name.0))?;
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
        if let Some(given) = &body.0.name {
            if given != &name.0 {
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
        if !lock(&state.scenarios).contains_key(&name) {
            return Err(no_scenario(&name));
        }
        let dependants: Vec<String> = lock(&state.scenarios)
            .iter()
            .filter(|(_, s)| {
                s.document.get("extends").and_then(|v| v.as_str()) == Some(name.as_str())
            })
            .map(|(n, _)| n.clone())
            .collect();
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

fn text(document: &Map<String, Value>, key: &str) -> String {
    document
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .trim()
        .to_string()
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
        let keys = state_for_check.default_keys()?;
        resolve_and_check(&state_for_check, &scenario_name, checked, &keys, usize::MAX)?;
        let json = Value::Object(document.clone()).to_string();
        state_for_check
            .store()
            .save_scenario(&scenario_name, Some(&json))?;
        lock(&state_for_check.scenarios).insert(
            scenario_name,
            StoredScenario {
                document: document.clone(),
                origin: Origin::Api,
                file_stem: None,
            },
        );
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

/// Resolves `extends` against the stored scenarios, expands the sweep and checks every
/// resulting run against the rules and `keys`.
pub fn resolve_and_check(
    state: &AppState,
    name: &str,
    document: Map<String, Value>,
    keys: &[String],
    max_runs: usize,
) -> Result<Vec<Scenario>, ApiError> {
    let file = format!("scenario {name}");
    let resolved = resolve_extends(state, &file, document, &mut vec![name.to_string()])
        .map_err(|p| invalid_scenario(&[p]))?;
    let (scenarios, problems) = check_all(
        &[ScenarioSource {
            file: file.clone(),
            document: resolved,
        }],
        &state.rules,
        keys,
    );
    if !problems.is_empty() {
        return Err(invalid_scenario(&problems));
    }
    if scenarios.len() > max_runs {
        return Err(ApiError::invalid(
            "too_many_runs",
            format!(
                "the sweep expands to {} runs; one request may run at most {max_runs}",
                scenarios.len()
            ),
            Vec::new(),
        ));
    }
    Ok(scenarios)
}

fn resolve_extends(
    state: &AppState,
    file: &str,
    mut document: Map<String, Value>,
    chain: &mut Vec<String>,
) -> Result<Map<String, Value>, ScenarioProblem> {
    let problem = |message: String| ScenarioProblem {
        file: file.to_string(),
        field: "extends".into(),
        message,
    };
    let Some(parent) = document.remove("extends") else {
        return Ok(document);
    };
    let parent = parent
        .as_str()
        .ok_or_else(|| problem("extends must be the name of a scenario".into()))?
        .to_string();
    if chain.contains(&parent) {
        chain.push(parent);
        return Err(problem(format!(
            "extends forms a cycle: {}",
            chain.join(" -> ")
        )));
    }
    if chain.len() > 32 {
        return Err(problem("extends is nested too deeply".into()));
    }
    let parent_document = {
        let scenarios = lock(&state.scenarios);
        let found = scenarios.get(&parent).or_else(|| {
            scenarios
                .values()
                .find(|s| s.file_stem.as_deref() == Some(parent.trim_end_matches(".toml")))
        });
        found
            .map(|s| s.document.clone())
            .ok_or_else(|| problem(format!("no scenario '{parent}': GET /scenarios lists them")))?
    };
    chain.push(parent);
    let resolved_parent = resolve_extends(state, file, parent_document, chain)?;
    chain.pop();
    // The child's name is its own: merge never inherits it (a child is not its parent).
    let name = document.get("name").cloned();
    let mut merged = crate::scenario::load::merge(resolved_parent, document);
    match name {
        Some(n) => merged.insert("name".into(), n),
        None => merged.remove("name"),
    };
    Ok(merged)
}

/// The scenarios the server starts with: the folder's files, then those saved through the
/// API (which replace or hide files of the same name).
pub fn initial_scenarios(
    folder: &std::path::Path,
    saved: Vec<(String, Option<String>)>,
) -> (BTreeMap<String, StoredScenario>, Vec<String>) {
    let mut scenarios = BTreeMap::new();
    let mut problems = Vec::new();
    if let Ok(entries) = std::fs::read_dir(folder) {
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for file in files {
            match crate::scenario::load::read_document(&file) {
                Ok(document) => {
                    let name = text(&document, "name");
                    scenarios.insert(
                        name,
                        StoredScenario {
                            document,
                            origin: Origin::File,
                            file_stem: file.file_stem().map(|s| s.to_string_lossy().to_string()),
                        },
                    );
                }
                Err(p) => problems.push(p.to_string()),
            }
        }
    }
    for (name, document) in saved {
        match document.map(|d| serde_json::from_str::<Value>(&d)) {
            None => {
                scenarios.remove(&name);
            }
            Some(Ok(Value::Object(document))) => {
                scenarios.insert(
                    name,
                    StoredScenario {
                        document,
                        origin: Origin::Api,
                        file_stem: None,
                    },
                );
            }
            Some(_) => problems.push(format!("saved scenario {name}: not a JSON object; skipped")),
        }
    }
    (scenarios, problems)
}
