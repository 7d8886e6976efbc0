//! Attribution: what each of a scenario's interventions contributes to the change in one
//! figure against its baseline (docs/model.md, "Attribution"), as sequential steps (the
//! waterfall in file order) and as exact Shapley values (each factor's mean contribution
//! over every order), both adding up to the total change.
//!
//! The factors are the scenario's interventions that its baseline lacks, in file order,
//! then its own overrides as one factor. Every combination of factors needed is a scenario
//! document (the scenario with the other factors removed, so it keeps its start, months
//! and seasonality), checked and run as one parallel batch.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::engine::variants::run_variants_or_each;
use crate::engine::RunOptions;
use crate::model::Workforce;
use crate::report::attribution::Attribution;
use crate::report::metric::GroupMetric;
use crate::rules::RuleSet;
use crate::scenario::{check_all, ScenarioProblem, ScenarioSource};

/// Most factors exact Shapley values are computed for: 2^12 = 4,096 runs.
pub const MAX_SHAPLEY_FACTORS: usize = 12;

/// Most factors of any attribution: a plan of more interventions than this is better
/// attributed against a nearer baseline.
pub const MAX_FACTORS: usize = 60;

/// Which breakdowns to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Sequential,
    Shapley,
    Both,
}

impl Method {
    pub fn parse(text: &str) -> Result<Method, String> {
        match text {
            "sequential" => Ok(Method::Sequential),
            "shapley" => Ok(Method::Shapley),
            "both" => Ok(Method::Both),
            other => Err(format!(
                "'{other}' is not a method: choose sequential, shapley or both"
            )),
        }
    }

    fn shapley(self) -> bool {
        self != Method::Sequential
    }

    fn sequential(self) -> bool {
        self != Method::Shapley
    }
}

/// What to attribute: a scenario against a baseline, measured by one metric.
#[derive(Debug, Clone)]
pub struct AttributionRequest {
    /// The scenario, `extends` resolved.
    pub scenario: ScenarioSource,
    /// The baseline, `extends` resolved: the root of the scenario's chain, or one the
    /// planner named.
    pub baseline: ScenarioSource,
    /// A named baseline may not hold an intervention or override the scenario lacks.
    pub baseline_named: bool,
    pub metric: GroupMetric,
    pub method: Method,
    pub time_budget: Duration,
    /// Most segment-months all the runs together may take (runs x segments x months):
    /// a server answering while its client waits bounds the work.
    pub max_segment_months: usize,
}

/// Why an attribution could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    /// Bad input: the scenarios, the baseline or the metric (exit 2, 422).
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ScenarioProblem>),
    #[error("the scenario has {factors} factors against its baseline; exact Shapley values need 2^n runs and are offered for at most {MAX_SHAPLEY_FACTORS} (use --method sequential, or a baseline nearer the scenario)")]
    TooManyFactors { factors: usize },
    /// A combination of factors failed to run (exit 1, 422).
    #[error("the scenario with factors [{factors}] failed: {message}")]
    RunFailed { factors: String, message: String },
    #[error("the attribution needs {runs} runs of {segment_months} segment-months each, more than the {limit} segment-months one request may take (serve --max-analysis-segment-months); use fewer factors, --method sequential, or the command line")]
    TooLarge {
        runs: usize,
        segment_months: usize,
        limit: usize,
    },
    #[error("cannot start the worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// The factors of a scenario against its baseline.
#[derive(Debug, Clone)]
struct Factors {
    names: Vec<String>,
    /// For each of the scenario's interventions, its factor (none: the baseline has it).
    of_intervention: Vec<Option<usize>>,
    /// For each of the scenario's overrides, whether it is the scenario's own.
    own_override: Vec<bool>,
    /// The factor of the scenario's own overrides, if it has any.
    overrides: Option<usize>,
}

impl Factors {
    /// The scenario with only the factors in `mask` (bit k = factor k) kept.
    fn document(&self, scenario: &Map<String, Value>, mask: u64) -> Map<String, Value> {
        let kept = |factor: Option<usize>| factor.is_none_or(|k| mask & (1u64 << k) != 0);
        let mut document = scenario.clone();
        if let Some(Value::Array(items)) = document.get_mut("interventions") {
            let mut index = 0;
            items.retain(|_| {
                let keep = kept(self.of_intervention[index]);
                index += 1;
                keep
            });
        }
        if let Some(Value::Array(items)) = document.get_mut("overrides") {
            let mut index = 0;
            items.retain(|_| {
                let keep = !self.own_override[index] || kept(self.overrides);
                index += 1;
                keep
            });
        }
        document
    }

    /// The names of the factors in `mask`, for messages.
    fn label(&self, mask: u64) -> String {
        (0..self.names.len())
            .filter(|k| mask & (1u64 << k) != 0)
            .map(|k| self.names[k].clone())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn list<'a>(document: &'a Map<String, Value>, field: &str) -> &'a [Value] {
    match document.get(field) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// Matches the scenario's entries of `field` to the baseline's, each of the baseline's
/// matching at most one equal entry (compared as whole tables). Returns, for each of the
/// scenario's entries, whether it is its own, and the baseline's entries left unmatched.
fn own_entries(
    scenario: &Map<String, Value>,
    baseline: &Map<String, Value>,
    field: &str,
) -> (Vec<bool>, Vec<usize>) {
    let mut unused: Vec<Option<&Value>> = list(baseline, field).iter().map(Some).collect();
    let own = list(scenario, field)
        .iter()
        .map(
            |entry| match unused.iter().position(|b| *b == Some(entry)) {
                Some(at) => {
                    unused[at] = None;
                    false
                }
                None => true,
            },
        )
        .collect();
    let lacking = unused
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_some())
        .map(|(i, _)| i)
        .collect();
    (own, lacking)
}

fn factors(request: &AttributionRequest) -> Result<Factors, Vec<ScenarioProblem>> {
    let (scenario, baseline) = (&request.scenario.document, &request.baseline.document);
    let problem = |field: &str, message: String| ScenarioProblem {
        file: request.scenario.file.clone(),
        field: field.into(),
        message,
    };
    let mut problems = Vec::new();
    if scenario.contains_key("sweep") || baseline.contains_key("sweep") {
        problems.push(problem(
            "sweep",
            "attribution compares one scenario with one baseline; remove the sweep".into(),
        ));
    }
    let (own_interventions, lacking_interventions) =
        own_entries(scenario, baseline, "interventions");
    let (own_overrides, lacking_overrides) = own_entries(scenario, baseline, "overrides");
    if request.baseline_named {
        for (field, lacking) in [
            ("interventions", &lacking_interventions),
            ("overrides", &lacking_overrides),
        ] {
            for &at in lacking {
                problems.push(ScenarioProblem {
                    file: request.baseline.file.clone(),
                    field: format!("{field}[{at}]"),
                    message: "the baseline has this entry and the scenario does not, so the scenario is not the baseline plus its own changes; name a baseline the scenario extends".into(),
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut names = Vec::new();
    let mut of_intervention = Vec::new();
    for (position, (entry, own)) in list(scenario, "interventions")
        .iter()
        .zip(&own_interventions)
        .enumerate()
    {
        if !own {
            of_intervention.push(None);
            continue;
        }
        let text = |field: &str| entry.get(field).and_then(Value::as_str).map(str::to_string);
        let name = text("name").unwrap_or_else(|| {
            format!(
                "{} {}",
                text("kind").unwrap_or_else(|| "intervention".into()),
                position + 1
            )
        });
        of_intervention.push(Some(names.len()));
        names.push(name);
    }
    let overrides = own_overrides.iter().any(|o| *o).then(|| {
        names.push("overrides".into());
        names.len() - 1
    });
    Ok(Factors {
        names,
        of_intervention,
        own_override: own_overrides,
        overrides,
    })
}

/// Attributes the change in `request.metric` to the scenario's factors: every combination
/// needed is checked first, then all are run as one batch.
pub fn attribute(
    rules: &RuleSet,
    workforce: Arc<Workforce>,
    request: &AttributionRequest,
) -> Result<Attribution, AttributionError> {
    let factors = factors(request).map_err(AttributionError::Invalid)?;
    let n = factors.names.len();
    if request.method.shapley() && n > MAX_SHAPLEY_FACTORS {
        return Err(AttributionError::TooManyFactors { factors: n });
    }
    if n > MAX_FACTORS {
        return Err(AttributionError::Invalid(vec![ScenarioProblem {
            file: request.scenario.file.clone(),
            field: "interventions".into(),
            message: format!("the scenario has {n} factors against its baseline; an attribution takes at most {MAX_FACTORS}: name a baseline nearer the scenario"),
        }]));
    }
    let full = (1u64 << n) - 1;
    // Shapley needs every combination; the sequential steps need the first k factors for
    // each k, which are among them.
    let masks: Vec<u64> = if request.method.shapley() {
        (0..=full).collect()
    } else {
        (0..=n).map(|k| (1u64 << k) - 1).collect()
    };
    let sources: Vec<ScenarioSource> = masks
        .iter()
        .map(|&mask| ScenarioSource {
            file: request.scenario.file.clone(),
            document: factors.document(&request.scenario.document, mask),
        })
        .collect();
    let (mut scenarios, problems) = check_all(&sources, rules, &workforce);
    if !problems.is_empty() {
        return Err(AttributionError::Invalid(problems));
    }
    // Attribution explains the scenario as written: its uncertain inputs are not drawn.
    for s in &mut scenarios {
        s.monte_carlo = None;
    }
    let per_run = workforce.len() * scenarios.first().map_or(0, |s| s.months);
    if per_run.saturating_mul(scenarios.len()) > request.max_segment_months {
        return Err(AttributionError::TooLarge {
            runs: scenarios.len(),
            segment_months: per_run,
            limit: request.max_segment_months,
        });
    }
    let options = RunOptions {
        detail: request.metric.detail(),
        time_budget: request.time_budget,
        draws: None,
    };
    let outcomes = run_variants_or_each(rules, &workforce, &scenarios, &options)?;
    let mut value = std::collections::HashMap::with_capacity(masks.len());
    for (outcome, &mask) in outcomes.into_iter().zip(&masks) {
        let failed = |message: String| AttributionError::RunFailed {
            factors: factors.label(mask),
            message,
        };
        let results = outcome.map_err(|e| failed(e.to_string()))?;
        let metric = request.metric.value(&results).map_err(|message| {
            AttributionError::Invalid(vec![super::plan::request_problem("period", message)])
        })?;
        value.insert(mask, metric);
    }

    Ok(Attribution::from_values(
        &request.metric.metric,
        &factors.names,
        |mask| value.get(&mask).copied().unwrap_or(f64::NAN),
        request.method.sequential(),
        request.method.shapley(),
        masks.len(),
    ))
}
