//! The trace of a figure for one segment and month of a scenario or a stored run, for both
//! front ends: the segment is found by its key values, the month inside the run, and a
//! stored run is traced only if its scenario and data are still the ones it ran on.

use std::sync::Arc;
use std::time::Duration;

use super::plan::{request_problem, scenario_hash};
use crate::data::query::RunRow;
use crate::engine::trace::Trace;
use crate::engine::{RunError, RunOptions};
use crate::model::{same_name, Detail, Workforce, YearMonth};
use crate::rules::RuleSet;
use crate::scenario::{check_all, ScenarioProblem, ScenarioSource};

/// Why there is no trace.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Bad input: the segment, the month, the figure, the scenario (exit 2, 422).
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ScenarioProblem>),
    /// The stored run's scenario or data have changed since it ran (409).
    #[error("{0}")]
    Changed(String),
    /// The scenario failed to run up to the month (exit 1, 422).
    #[error(transparent)]
    Run(#[from] RunError),
}

/// What to trace.
#[derive(Debug, Clone)]
pub struct TraceRequest {
    pub scenario: ScenarioSource,
    /// Key column and value: together they must name exactly one segment.
    pub segment: Vec<(String, String)>,
    pub month: String,
    /// One figure and what it depends on; every quantity when absent.
    pub figure: Option<String>,
    pub time_budget: Duration,
    /// A draw of a Monte Carlo scenario: the trace of the run with its values applied.
    pub draw: Option<u64>,
}

fn invalid(field: &str, message: String) -> TraceError {
    TraceError::Invalid(vec![request_problem(field, message)])
}

/// `org=a,staff_group=physiotherapy,band=5` as the key values of a segment.
pub fn parse_segment(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(crate::report::metric::parse_filter)
        .collect()
}

/// Traces a scenario; with `run`, only if it is the scenario and data that run used.
pub fn trace(
    rules: &RuleSet,
    workforce: Arc<Workforce>,
    request: &TraceRequest,
    run: Option<&RunRow>,
) -> Result<Trace, TraceError> {
    let (mut scenarios, problems) =
        check_all(std::slice::from_ref(&request.scenario), rules, &workforce);
    if !problems.is_empty() {
        return Err(TraceError::Invalid(problems));
    }
    if scenarios.len() != 1 {
        return Err(invalid(
            "scenario",
            "a trace follows one scenario; this one sweeps".into(),
        ));
    }
    let mut scenario = scenarios.remove(0);
    if let Some(run) = run.filter(|r| r.draws > 0) {
        // The run's draws and seed, which `--draws` and `--seed` may have given.
        scenario.monte_carlo = Some(crate::model::uncertainty::MonteCarlo {
            draws: run.draws as u64,
            seed: run.seed,
        });
    }
    if let Some(run) = run {
        if workforce.fingerprint() != run.data_hash {
            return Err(TraceError::Changed(format!(
                "dataset '{}' has changed since run {} used it, so the run cannot be traced; run the scenario again",
                run.dataset, run.run_id
            )));
        }
        if scenario_hash(&scenario) != run.scenario_hash {
            return Err(TraceError::Changed(format!(
                "scenario '{}' has changed since run {} ran it, so the run cannot be traced; trace the scenario as it is now",
                scenario.name, run.run_id
            )));
        }
    }

    let mut matching: Vec<usize> = (0..workforce.len()).collect();
    for (column, value) in &request.segment {
        let Some(key) = workforce
            .key_names
            .iter()
            .position(|k| same_name(k, column))
            .map(|k| &workforce.keys[k])
        else {
            return Err(invalid(
                "segment",
                format!(
                    "'{column}' is not a key column; key columns are {}",
                    workforce.key_names.join(", ")
                ),
            ));
        };
        matching.retain(|&s| key.value(s) == value);
    }
    let segment = match matching.as_slice() {
        [one] => *one,
        [] => return Err(invalid("segment", "no segment has those key values".into())),
        several => {
            return Err(invalid(
                "segment",
                format!(
                    "{} segments have those key values; give more key columns ({})",
                    several.len(),
                    workforce.key_names.join(", ")
                ),
            ))
        }
    };
    let month: YearMonth = request
        .month
        .parse()
        .map_err(|e: crate::model::month::BadMonth| invalid("month", e.to_string()))?;
    let t = month.months_since(scenario.start);
    if t < 0 || t >= scenario.months as i64 {
        return Err(invalid(
            "month",
            format!(
                "{month} is outside the run ({} months from {})",
                scenario.months, scenario.start
            ),
        ));
    }
    let options = RunOptions {
        detail: Detail::Segment,
        time_budget: request.time_budget,
        draws: None,
    };
    let (workforce, scenario) = match (request.draw, scenario.monte_carlo) {
        (None, _) => (workforce, scenario),
        (Some(draw), Some(mc)) if draw <= mc.draws => {
            let plan = crate::engine::monte_carlo::DrawPlan::new(rules, &workforce, &scenario, mc)?;
            let (drawn, replayed) = plan.replay(draw, segment);
            (Arc::new(drawn), replayed)
        }
        (Some(draw), Some(mc)) => {
            return Err(invalid(
                "draw",
                format!(
                    "draw {draw} is not one of the run's: draws 0 to {}",
                    mc.draws
                ),
            ))
        }
        (Some(_), None) => {
            return Err(invalid(
                "draw",
                format!(
                    "scenario {} is not a Monte Carlo run: it has no draws",
                    scenario.name
                ),
            ))
        }
    };
    let trace =
        crate::engine::trace::trace(rules, &workforce, &scenario, segment, t as usize, &options)?;
    match &request.figure {
        None => Ok(trace),
        Some(figure) => trace.for_figure(figure).ok_or_else(|| {
            invalid(
                "figure",
                format!(
                    "'{figure}' is not a quantity the rules computed for this segment and month"
                ),
            )
        }),
    }
}
