//! Comparing options: each side is a scenario run afresh (totals only) or a run already
//! stored, set against the baseline by financial year with the break-even of its
//! interventions.

use std::sync::Arc;
use std::time::Duration;

use super::plan::{PlanError, RunPlan, RunRequest};
use crate::data::{DataError, Recorder, Store};
use crate::engine::batch::run_all;
use crate::model::{RunResults, RunStatus, Workforce};
use crate::report::{self, Comparison};
use crate::rules::RuleSet;
use crate::scenario::ScenarioSource;

/// One side of a comparison.
#[derive(Debug, Clone)]
pub enum Side {
    /// A scenario, run afresh at `total` detail (one run: no sweep).
    Scenario(ScenarioSource),
    /// A scenario run already stored, by run id.
    Run(i64),
}

/// Why a comparison cannot be made. `side` names the side (`baseline`, `others[1]`).
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{side}: {error}")]
    Plan { side: String, error: PlanError },
    #[error("{side}: no run with run_id {run_id}")]
    NoRun { side: String, run_id: i64 },
    #[error("{side}: run {run_id} is {status}, not succeeded")]
    NotSucceeded {
        side: String,
        run_id: i64,
        status: RunStatus,
    },
    #[error("{side}: scenario {scenario} failed: {message}")]
    RunFailed {
        side: String,
        scenario: String,
        message: String,
    },
    /// The two sides cannot be set against each other (different months).
    #[error("{0}")]
    NotComparable(String),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("cannot start the worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// Names of the sides for messages: `baseline`, then `others[0]`, `others[1]`...
fn side_name(index: usize) -> String {
    if index == 0 {
        "baseline".into()
    } else {
        format!("others[{}]", index - 1)
    }
}

/// Compares each of `others` with `baseline`. Scenarios run in parallel on the workforce
/// (whose pay and agency premium also value a vacancy in the break-even); stored runs are
/// read from the recorder's database, which is locked only to read them.
pub fn compare(
    rules: &RuleSet,
    recorder: &Recorder,
    workforce: Arc<Workforce>,
    baseline: Side,
    others: Vec<Side>,
    time_budget: Duration,
    vacancy_value: report::VacancyValue,
) -> Result<Vec<Comparison>, CompareError> {
    let sides: Vec<Side> = std::iter::once(baseline).chain(others).collect();
    let mut totals: Vec<Option<RunResults>> = vec![None; sides.len()];

    // Every scenario side checked first, then all run together.
    let mut plans = Vec::new();
    for (index, side) in sides.iter().enumerate() {
        if let Side::Scenario(source) = side {
            let request = RunRequest {
                monte_carlo: Default::default(),
                dataset: String::new(),
                scenarios: vec![source.clone()],
                detail: "total".into(),
                time_budget,
                max_runs: 1,
                max_result_rows: usize::MAX,
            };
            let plan = RunPlan::new(rules, workforce.clone(), request).map_err(|error| {
                CompareError::Plan {
                    side: side_name(index),
                    error,
                }
            })?;
            plans.push((index, plan));
        }
    }
    if !plans.is_empty() {
        let scenarios: Vec<_> = plans.iter().map(|(_, p)| p.scenarios[0].clone()).collect();
        let outcomes = run_all(rules, &workforce, &scenarios, &plans[0].1.options, None)?;
        for ((index, _), outcome) in plans.iter().zip(outcomes) {
            let results = outcome.result.map_err(|e| CompareError::RunFailed {
                side: side_name(*index),
                scenario: outcome.scenario.clone(),
                message: e.to_string(),
            })?;
            totals[*index] = Some(results);
        }
    }
    for (index, side) in sides.iter().enumerate() {
        if let Side::Run(run_id) = side {
            let store = recorder.store();
            totals[index] = Some(stored_totals(&store, *run_id, &side_name(index))?);
        }
    }
    let totals: Vec<RunResults> = totals.into_iter().flatten().collect();
    let (baseline, others) = totals.split_first().expect("the baseline is a side");
    others
        .iter()
        .map(|other| {
            report::compare(baseline, other, &workforce, vacancy_value)
                .map_err(CompareError::NotComparable)
        })
        .collect()
}

/// A stored run's totals by month.
fn stored_totals(store: &Store, run_id: i64, side: &str) -> Result<RunResults, CompareError> {
    let no_run = || CompareError::NoRun {
        side: side.into(),
        run_id,
    };
    let batch_id = store.batch_of(run_id)?.ok_or_else(no_run)?;
    let run = store
        .batch_runs(batch_id)?
        .into_iter()
        .find(|r| r.run_id == run_id)
        .ok_or_else(no_run)?;
    if run.status != RunStatus::Succeeded {
        return Err(CompareError::NotSucceeded {
            side: side.into(),
            run_id,
            status: run.status,
        });
    }
    Ok(store.run_totals(&run)?)
}
