//! Goal seek: the smallest value of one numeric field of a scenario (an intervention's
//! field or an override's value) in a range at which a metric reaches a target
//! (docs/model.md, "Goal seek"). The metric is taken to move one way as the field grows.
//!
//! Each round runs several points of the bracket as one parallel batch (a batch keeps
//! every core busy, where one point at a time would not), then narrows the bracket to the
//! first point that reaches the target, until it is no wider than the tolerance.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::engine::RunOptions;
use crate::model::{InputColumn, Workforce};
use crate::report::metric::GroupMetric;
use crate::rules::{FieldType, RuleSet};
use crate::scenario::{check_all, ScenarioProblem, ScenarioSource};

/// Points run in each round after the two ends: with 2 to 8 cores, 7 points narrow the
/// bracket eightfold a round.
const POINTS_PER_ROUND: usize = 7;

/// What to seek.
#[derive(Debug, Clone)]
pub struct SeekRequest {
    /// The scenario, `extends` resolved.
    pub scenario: ScenarioSource,
    /// `interventions.N.FIELD` or `overrides.N.COLUMN` (also `overrides.N.set.COLUMN`),
    /// N counted from 1 in the lists after `extends`.
    pub field: String,
    pub lo: f64,
    pub hi: f64,
    pub metric: GroupMetric,
    pub target: f64,
    /// Default `(hi - lo) / 1000`; 1 with whole numbers.
    pub tolerance: Option<f64>,
    /// Only whole values.
    pub integer: bool,
    pub time_budget: Duration,
    /// Most segment-months all the runs together may take; a seek that would need more
    /// stops and says so.
    pub max_segment_months: usize,
}

/// The answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Seek {
    /// The smallest value found at which the metric reaches the target, within the
    /// tolerance; `None` when it does not even at `hi`.
    pub value: Option<f64>,
    /// The metric at `value`.
    pub metric_value: Option<f64>,
    pub runs: usize,
    pub lo_metric: f64,
    pub hi_metric: f64,
}

impl Seek {
    pub fn reached(&self) -> bool {
        self.value.is_some()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeekError {
    /// Bad input: the field, the range, the scenario (exit 2, 422).
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ScenarioProblem>),
    /// A point failed to run (exit 1, 422).
    #[error("the scenario with {field} = {value} failed: {message}")]
    RunFailed {
        field: String,
        value: f64,
        message: String,
    },
    #[error("the seek has run {runs} runs of {segment_months} segment-months and needs more, beyond the {limit} segment-months one request may take (serve --max-analysis-segment-months); give a larger tolerance or a narrower range")]
    TooLarge {
        runs: usize,
        segment_months: usize,
        limit: usize,
    },
    #[error("cannot start the worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// Where a field path points in a scenario document.
#[derive(Debug, Clone)]
struct FieldPath {
    list: &'static str,
    /// Index in the list, from 0.
    index: usize,
    /// The keys inside the entry: `[field]`, or `["set", column]` for an override.
    keys: Vec<String>,
}

fn problem(request: &SeekRequest, field: &str, message: String) -> SeekError {
    SeekError::Invalid(vec![ScenarioProblem {
        file: request.scenario.file.clone(),
        field: field.into(),
        message,
    }])
}

/// Reads a field path and checks that it names a numeric field of the scenario.
fn field_path(request: &SeekRequest, rules: &RuleSet) -> Result<FieldPath, SeekError> {
    let path = request.field.as_str();
    let bad = |message: String| problem(request, "field", message);
    let parts: Vec<&str> = path.split('.').collect();
    // The list's name as a `'static` text, for the path kept in `FieldPath`.
    let (list, position, rest): (&'static str, _, _) = match parts.as_slice() {
        ["interventions", n, rest @ ..] if !rest.is_empty() => ("interventions", *n, rest),
        ["overrides", n, rest @ ..] if !rest.is_empty() => ("overrides", *n, rest),
        _ => {
            return Err(bad(format!(
                "'{path}' is not a field path: write interventions.N.FIELD or overrides.N.COLUMN, N counted from 1"
            )))
        }
    };
    let entries = match request.scenario.document.get(list) {
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    let index = match position.parse::<usize>() {
        Ok(n) if (1..=entries.len()).contains(&n) => n - 1,
        _ => {
            return Err(bad(format!(
                "'{path}': the scenario has {} {list} (counted from 1, after extends), so {position} names none",
                entries.len()
            )))
        }
    };
    let entry = &entries[index];
    let keys: Vec<String> = match (list, rest) {
        ("overrides", ["set", column]) | ("overrides", [column]) => {
            if InputColumn::from_name(&column.to_lowercase()).is_none() {
                return Err(bad(format!(
                    "'{column}' is not a numeric input column that an override can set"
                )));
            }
            vec!["set".into(), column.to_lowercase()]
        }
        ("interventions", [field]) => {
            let kind = entry
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let declared = rules
                .kinds
                .get(kind)
                .and_then(|k| k.fields.iter().find(|f| f.name == *field));
            let numeric = match declared {
                Some(f) => matches!(f.field_type, FieldType::Number | FieldType::Integer),
                None => matches!(*field, "cost_per_month" | "ramp_months"),
            };
            if !numeric {
                return Err(bad(format!(
                    "'{field}' is not a numeric field of kind '{kind}'"
                )));
            }
            if declared.is_some_and(|f| f.field_type == FieldType::Integer) && !request.integer {
                return Err(bad(format!(
                    "'{field}' takes whole numbers: seek it with --integer (\"integer\": true)"
                )));
            }
            vec![field.to_string()]
        }
        _ => {
            return Err(bad(format!(
                "'{path}' is not a field path: write interventions.N.FIELD or overrides.N.COLUMN"
            )))
        }
    };
    Ok(FieldPath { list, index, keys })
}

impl FieldPath {
    /// The scenario with the field set to `value`.
    fn document(
        &self,
        scenario: &Map<String, Value>,
        value: f64,
        integer: bool,
    ) -> Map<String, Value> {
        let mut document = scenario.clone();
        let number = if integer {
            Value::from(value as i64)
        } else {
            Value::from(value)
        };
        let Some(Value::Array(items)) = document.get_mut(self.list) else {
            return document;
        };
        let mut at = &mut items[self.index];
        for key in &self.keys[..self.keys.len() - 1] {
            if !at.get(key).is_some_and(Value::is_object) {
                at[key] = Value::Object(Map::new());
            }
            at = &mut at[key];
        }
        at[self.keys.last().expect("a path has a field")] = number;
        document
    }
}

/// Seeks the smallest value of the field reaching the target.
pub fn seek(
    rules: &RuleSet,
    workforce: Arc<Workforce>,
    request: &SeekRequest,
) -> Result<Seek, SeekError> {
    let (lo, hi) = (request.lo, request.hi);
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(problem(
            request,
            "range",
            format!("give a range LO:HI of two numbers with LO below HI, not {lo}:{hi}"),
        ));
    }
    if request.integer && (lo.fract() != 0.0 || hi.fract() != 0.0) {
        return Err(problem(
            request,
            "range",
            format!("with whole numbers the range must be whole: {lo}:{hi}"),
        ));
    }
    let tolerance = match (request.tolerance, request.integer) {
        (Some(t), _) if !(t.is_finite() && t > 0.0) => {
            return Err(problem(
                request,
                "tolerance",
                format!("{t} must be a number above 0"),
            ))
        }
        (Some(t), true) => t.max(1.0).round(),
        (Some(t), false) => t,
        (None, true) => 1.0,
        (None, false) => (hi - lo) / 1000.0,
    };
    let path = field_path(request, rules)?;
    let mut runs = 0;
    let mut evaluate = |values: &[f64]| -> Result<Vec<f64>, SeekError> {
        let sources: Vec<ScenarioSource> = values
            .iter()
            .map(|&v| ScenarioSource {
                file: request.scenario.file.clone(),
                document: path.document(&request.scenario.document, v, request.integer),
            })
            .collect();
        let (mut scenarios, problems) = check_all(&sources, rules, &workforce);
        if !problems.is_empty() {
            return Err(SeekError::Invalid(problems));
        }
        // Goal seek solves the scenario as written: its uncertain inputs are not drawn.
        for s in &mut scenarios {
            s.monte_carlo = None;
        }
        if scenarios.len() != values.len() {
            return Err(problem(
                request,
                "sweep",
                "goal seek sets one field of one scenario; remove the sweep".into(),
            ));
        }
        let per_run = workforce.len() * scenarios.first().map_or(0, |s| s.months);
        if per_run.saturating_mul(runs + values.len()) > request.max_segment_months {
            return Err(SeekError::TooLarge {
                runs,
                segment_months: per_run,
                limit: request.max_segment_months,
            });
        }
        let options = RunOptions {
            detail: request.metric.detail(),
            time_budget: request.time_budget,
            draws: None,
        };
        runs += values.len();
        let outcomes =
            crate::engine::variants::run_variants_or_each(rules, &workforce, &scenarios, &options)?;
        outcomes
            .into_iter()
            .zip(values)
            .map(|(outcome, &value)| {
                let failed = |message: String| SeekError::RunFailed {
                    field: request.field.clone(),
                    value,
                    message,
                };
                let results = outcome.map_err(|e| failed(e.to_string()))?;
                request
                    .metric
                    .value(&results)
                    .map_err(|m| problem(request, "period", m))
            })
            .collect()
    };

    let ends = evaluate(&[lo, hi])?;
    let (lo_metric, hi_metric) = (ends[0], ends[1]);
    let target = request.target;
    // The direction the metric moves from lo to hi decides what "reaching" means.
    let reaches = |m: f64| {
        if hi_metric > lo_metric {
            m >= target
        } else if hi_metric < lo_metric {
            m <= target
        } else {
            m == target
        }
    };
    let answer = |value: Option<f64>, metric_value: Option<f64>, runs: usize| Seek {
        value,
        metric_value,
        runs,
        lo_metric,
        hi_metric,
    };
    if reaches(lo_metric) {
        return Ok(answer(Some(lo), Some(lo_metric), 2));
    }
    if !reaches(hi_metric) {
        return Ok(answer(None, None, 2));
    }
    // `below` never reaches the target, `above` always does.
    let (mut below, mut above, mut above_metric) = (lo, hi, hi_metric);
    while above - below > tolerance {
        let step = (above - below) / (POINTS_PER_ROUND + 1) as f64;
        let mut points: Vec<f64> = (1..=POINTS_PER_ROUND)
            .map(|i| below + step * i as f64)
            .map(|v| if request.integer { v.round() } else { v })
            .filter(|v| *v > below && *v < above)
            .collect();
        points.dedup();
        if points.is_empty() {
            break;
        }
        let metrics = evaluate(&points)?;
        match points.iter().zip(&metrics).position(|(_, m)| reaches(*m)) {
            Some(first) => {
                above = points[first];
                above_metric = metrics[first];
                if first > 0 {
                    below = points[first - 1];
                }
            }
            None => below = *points.last().expect("not empty"),
        }
    }
    Ok(answer(Some(above), Some(above_metric), runs))
}
