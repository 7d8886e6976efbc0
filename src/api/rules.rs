//! Rules: the rhai scripts the model runs on, the intervention kinds they define, and a
//! check of a script before it is saved to the rules folder.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiRequest, Object, OpenApi};

use super::error::ApiError;
use super::state::AppState;
use super::ApiTags;
use crate::rules::{KindRule, RuleScript};

/// A rule script.
#[derive(Debug, Clone, Object)]
pub struct ScriptInfo {
    /// `rates`, `flows`, or an intervention kind's name: use it in `GET /rules/scripts/{name}`.
    pub name: String,
    /// The file it was read from.
    pub file: String,
    /// `rates` (the month's rates), `flows` (the month's figures) or `intervention_kind`.
    pub role: String,
}

/// A field an intervention kind reads.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FieldInfo {
    pub name: String,
    /// `number`, `integer`, `filter` (a `where`-style table) or `key_columns` (a list of
    /// key column names).
    #[oai(rename = "type")]
    pub field_type: String,
    /// True when a scenario must give it.
    pub required: bool,
    pub default: Option<f64>,
    /// The default of a `key_columns` field.
    pub default_columns: Option<Vec<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// What it means.
    pub doc: String,
}

/// An intervention kind: `kind = "<name>"` in a scenario.
#[derive(Debug, Clone, Object)]
pub struct KindInfo {
    pub name: String,
    pub summary: String,
    /// When in the month it acts: `rates`, `skill_mix`, `transfer` or `pipeline`.
    pub stage: String,
    pub fields: Vec<FieldInfo>,
}

/// The rule set the server runs.
#[derive(Debug, Clone, Object)]
pub struct RulesList {
    /// SHA-256 of every script, as recorded with each run.
    pub fingerprint: String,
    pub scripts: Vec<ScriptInfo>,
    pub kinds: Vec<KindInfo>,
}

/// One problem in a checked script.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Diagnostic {
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

/// A script to check, as JSON (what generated clients send).
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct CheckRequest {
    /// The script's source.
    pub source: String,
    /// `kind` (an intervention kind, the default), `rates` or `flows`.
    pub role: Option<String>,
}

/// The script to check: JSON, or the source as plain text.
#[derive(Debug, ApiRequest)]
pub enum CheckBody {
    /// `{"source": "...", "role": "kind"}`.
    #[oai(content_type = "application/json")]
    Json(Json<CheckRequest>),
    /// The script's source; `role` goes in the query.
    #[oai(content_type = "text/plain")]
    Text(PlainText<String>),
}

/// The outcome of checking a script.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CheckReport {
    /// True when the script compiles (and, for a kind, declares itself correctly).
    pub ok: bool,
    pub diagnostics: Vec<Diagnostic>,
    /// The kind the script declares, when checked as a kind and correct.
    pub kind: Option<KindInfo>,
}

pub struct RulesApi;

#[OpenApi(tag = "ApiTags::Rules")]
impl RulesApi {
    /// List rules and intervention kinds
    ///
    /// The scripts the model runs on and every intervention kind with the fields a
    /// scenario gives it.
    #[oai(path = "/rules", method = "get", operation_id = "list_rules")]
    async fn list(&self, state: Data<&Arc<AppState>>) -> Result<Json<RulesList>, ApiError> {
        let rules = &state.rules;
        let mut scripts = vec![
            script_info("rates", &rules.rates, "rates"),
            script_info("flows", &rules.flows, "flows"),
        ];
        scripts.extend(
            rules
                .kinds
                .values()
                .map(|k| script_info(&k.name, &k.script, "intervention_kind")),
        );
        Ok(Json(RulesList {
            fingerprint: rules.fingerprint.clone(),
            scripts,
            kinds: rules.kinds.values().map(kind_info).collect(),
        }))
    }

    /// Show a rule script
    ///
    /// The source of `rates`, `flows` or an intervention kind's script.
    #[oai(
        path = "/rules/scripts/:name",
        method = "get",
        operation_id = "get_rule_script"
    )]
    async fn script(
        &self,
        state: Data<&Arc<AppState>>,
        name: Path<String>,
    ) -> Result<PlainText<String>, ApiError> {
        let rules = &state.rules;
        let script = match name.0.as_str() {
            "rates" => Some(&rules.rates),
            "flows" => Some(&rules.flows),
            kind => rules.kinds.get(kind).map(|k| &k.script),
        };
        script.map(|s| PlainText(s.source.clone())).ok_or_else(|| {
            ApiError::not_found(format!(
                "no rule script '{}': GET /rules lists them",
                name.0
            ))
        })
    }

    /// Check a rule script
    ///
    /// Compiles a script without saving it and reports each problem with its line and
    /// column. As an intervention kind (the default) it must also declare itself with
    /// `fn kind()`; the declaration is returned. The script is sent as JSON
    /// (`{"source", "role"}`) or as plain text with `role` in the query; either way its
    /// evaluation runs under the rules' operation limits and a one-second deadline.
    #[oai(
        path = "/rules/check",
        method = "post",
        operation_id = "check_rule_script"
    )]
    async fn check(
        &self,
        /// `kind` (an intervention kind, the default), `rates` or `flows`, for a script
        /// sent as plain text.
        role: Query<Option<String>>,
        body: CheckBody,
    ) -> Result<Json<CheckReport>, ApiError> {
        let (source, role) = match body {
            CheckBody::Json(Json(request)) => (request.source, request.role.or(role.0)),
            CheckBody::Text(PlainText(source)) => (source, role.0),
        };
        let is_kind = match role.as_deref().unwrap_or("kind") {
            "kind" => true,
            "rates" | "flows" => false,
            other => {
                return Err(ApiError::field(
                    "role",
                    format!("'{other}' is not kind, rates or flows"),
                ))
            }
        };
        let outcome = tokio::task::spawn_blocking(move || {
            crate::rules::check_script("script.rhai", &source, is_kind)
        })
        .await
        .map_err(ApiError::internal)?;
        Ok(Json(match outcome {
            Ok(kind) => CheckReport {
                ok: true,
                diagnostics: Vec::new(),
                kind: kind.as_ref().map(kind_info),
            },
            Err(problem) => CheckReport {
                ok: false,
                diagnostics: vec![Diagnostic {
                    line: problem.line.map(|l| l as u64),
                    column: problem.column.map(|c| c as u64),
                    message: problem.message,
                }],
                kind: None,
            },
        }))
    }
}

fn script_info(name: &str, script: &RuleScript, role: &str) -> ScriptInfo {
    ScriptInfo {
        name: name.into(),
        file: script.file.clone(),
        role: role.into(),
    }
}

pub fn kind_info(kind: &KindRule) -> KindInfo {
    KindInfo {
        name: kind.name.clone(),
        summary: kind.summary.clone(),
        stage: kind.stage.name().into(),
        fields: kind
            .fields
            .iter()
            .map(|f| FieldInfo {
                name: f.name.clone(),
                field_type: f.field_type.name().into(),
                required: f.is_required(),
                default: f.default,
                default_columns: f.default_columns.clone(),
                min: f.min,
                max: f.max,
                doc: f.doc.clone(),
            })
            .collect(),
    }
}
