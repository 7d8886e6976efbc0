//! Scenario files: reading TOML (or JSON of the same shape), resolving `extends`, expanding
//! `[sweep]` tables, and checking every field against the rule set's intervention kinds and
//! the dataset (its key columns and their values, and the inputs after overrides). Every
//! problem is reported at once, naming the file and field.
//!
//! Validation walks the parsed document rather than deserialising into a fixed struct,
//! because the fields an intervention may have are declared by its kind's script.

pub mod catalogue;
pub mod load;
pub mod sweep;
pub mod validate;

pub use catalogue::Catalogue;
pub use load::{load_paths, load_value, ScenarioSource};
pub use validate::validate;

use std::fmt;

/// A problem with a scenario, located by file and field path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScenarioProblem {
    pub file: String,
    /// For example `interventions[1].start`; empty for the file as a whole.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ScenarioProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.message)
        }
    }
}

/// Every problem found in a set of scenarios.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} problem(s) in the scenarios:\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ScenarioProblems(pub Vec<ScenarioProblem>);

/// Expands the sweeps of loaded documents and checks every resulting scenario.
pub fn check_all(
    sources: &[ScenarioSource],
    rules: &crate::rules::RuleSet,
    workforce: &crate::model::Workforce,
) -> (Vec<crate::model::Scenario>, Vec<ScenarioProblem>) {
    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    for source in sources {
        match sweep::expand(source.document.clone()) {
            Ok(documents) => {
                for document in documents {
                    match validate(&source.file, &document, rules, workforce) {
                        Ok(s) => scenarios.push(s),
                        Err(p) => problems.extend(p),
                    }
                }
            }
            Err((field, message)) => problems.push(ScenarioProblem {
                file: source.file.clone(),
                field,
                message,
            }),
        }
    }
    // One problem is reported once, even if a sweep repeats it in every run.
    problems.dedup();
    (scenarios, problems)
}

/// Checks one scenario given as TOML text, without `extends` (there is no folder to look
/// in) but with its sweep expanded.
pub fn from_toml_str(
    file: &str,
    text: &str,
    rules: &crate::rules::RuleSet,
    workforce: &crate::model::Workforce,
) -> Result<Vec<crate::model::Scenario>, Vec<ScenarioProblem>> {
    let problem = |message: String| {
        vec![ScenarioProblem {
            file: file.to_string(),
            field: String::new(),
            message,
        }]
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        problem(format!("not valid TOML: {}", e.to_string().trim()))
    })?;
    let value = serde_json::to_value(table).map_err(|e| problem(e.to_string()))?;
    let document = load_value(value).map_err(problem)?;
    if document.contains_key("extends") {
        return Err(vec![ScenarioProblem {
            file: file.to_string(),
            field: "extends".into(),
            message: "extends needs a scenario folder; load the file from its folder instead"
                .into(),
        }]);
    }
    let (scenarios, problems) = check_all(
        &[ScenarioSource {
            file: file.to_string(),
            document,
        }],
        rules,
        workforce,
    );
    if problems.is_empty() {
        Ok(scenarios)
    } else {
        Err(problems)
    }
}
