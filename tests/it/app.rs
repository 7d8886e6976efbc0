//! The application layer both front ends call: plans checked before any work, batches
//! recorded as they go, and the final status of every run however a batch ends.

use std::sync::Arc;
use std::time::Duration;

use wfplan::app::execute::{begin_batch, run_batch, BatchControl, BatchError};
use wfplan::app::{PlanError, RunPlan, RunRequest};
use wfplan::data::{Recorder, Store};
use wfplan::model::RunStatus;
use wfplan::scenario::ScenarioSource;

use super::common::*;

fn source(toml: &str) -> ScenarioSource {
    let table: toml::Table = toml.parse().unwrap();
    ScenarioSource {
        file: "test.toml".into(),
        document: serde_json::to_value(table)
            .unwrap()
            .as_object()
            .unwrap()
            .clone(),
    }
}

fn request(detail: &str, scenarios: Vec<ScenarioSource>) -> RunRequest {
    RunRequest {
        monte_carlo: Default::default(),
        dataset: "test".into(),
        scenarios,
        detail: detail.into(),
        time_budget: Duration::from_secs(60),
        max_runs: 10,
        max_result_rows: 1_000_000,
    }
}

const SWEEP: &str = "start = \"2025-04\"\nmonths = 6\n[[interventions]]\nkind = \"retention\"\nreduction = 0.1\n[sweep]\n\"interventions.0.reduction\" = [0.1, 0.2, 0.3]\n";

/// Every problem of a request comes back at once: the level of detail, the time budget
/// and each scenario's fields.
#[test]
fn a_plan_reports_every_problem_at_once() {
    let w = Arc::new(workforce(&[simple_row("a", "5", 100.0)]));
    let mut bad = request("bnad", vec![source("months = 0\n")]);
    bad.time_budget = Duration::ZERO;
    let Err(PlanError::Invalid(problems)) = RunPlan::new(rules(), w.clone(), bad) else {
        panic!("the request is invalid");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for field in ["detail", "time_budget", "start", "months"] {
        assert!(fields.contains(&field), "{field} in {problems:#?}");
    }
    let too_many = RunPlan::new(rules(), w.clone(), {
        let mut r = request("total", vec![source(SWEEP)]);
        r.max_runs = 2;
        r
    });
    assert_eq!(
        too_many.unwrap_err(),
        PlanError::TooManyRuns { runs: 3, max: 2 }
    );
    let plan = RunPlan::new(rules(), w, request("ORG", vec![source(SWEEP)])).unwrap();
    assert_eq!(plan.scenarios.len(), 3);
    assert_eq!(
        plan.result_keys(),
        vec!["org".to_string()],
        "keys match as DuckDB's do"
    );
}

/// A batch whose results cannot be stored stops, and its runs are recorded as failed with
/// the reason, never as cancelled (only a cancel makes runs `cancelled`).
#[test]
fn a_batch_that_cannot_store_fails_its_runs_with_the_reason() {
    let w = Arc::new(workforce(&[simple_row("a", "5", 100.0)]));
    let plan = RunPlan::new(rules(), w, request("total", vec![source(SWEEP)])).unwrap();
    let store = Store::open_in_memory().unwrap();
    // Results that cannot be appended to: a view where the figures table should be.
    store
        .connection()
        .execute_batch(
            "DROP VIEW results; DROP TABLE result_figures;
             CREATE VIEW result_figures AS SELECT 1::BIGINT AS run_id, 1 AS row, DATE '2025-04-01' AS month;",
        )
        .unwrap();
    let recorder = Recorder::new(store, Duration::ZERO);
    let batch = begin_batch(&recorder, &plan).unwrap();
    let outcome = run_batch(
        rules(),
        &recorder,
        &plan,
        &batch,
        Some(1),
        &BatchControl::default(),
        |_| {},
    );
    assert!(matches!(outcome, Err(BatchError::Store(_))), "{outcome:?}");
    for id in &batch.run_ids {
        let (status, error) = recorder.store().run_status(*id).unwrap().unwrap();
        assert_eq!(status, RunStatus::Failed, "run {id}: {error:?}");
        assert!(
            error
                .as_deref()
                .unwrap_or("")
                .contains("could not be stored"),
            "run {id}: {error:?}"
        );
    }
}

/// A cancelled batch records the runs it did not start as `cancelled`, without an error.
#[test]
fn a_cancelled_batch_records_its_unstarted_runs_as_cancelled() {
    let w = Arc::new(workforce(&[simple_row("a", "5", 100.0)]));
    let plan = RunPlan::new(rules(), w, request("total", vec![source(SWEEP)])).unwrap();
    let recorder = Recorder::new(Store::open_in_memory().unwrap(), Duration::ZERO);
    let batch = begin_batch(&recorder, &plan).unwrap();
    let report = {
        let control = BatchControl::default();
        control.cancel();
        run_batch(rules(), &recorder, &plan, &batch, Some(1), &control, |_| {}).unwrap()
    };
    assert!(report.cancelled);
    assert_eq!(report.succeeded + report.failed, 0);
    for id in &batch.run_ids {
        let (status, error) = recorder.store().run_status(*id).unwrap().unwrap();
        assert_eq!((status, error), (RunStatus::Cancelled, None), "run {id}");
    }
}

/// Inputs whose figures could not stay finite are refused with the column named, and a
/// run whose figures still overflow fails naming the figure and the segment, rather than
/// "succeeding" with infinities.
#[test]
fn figures_stay_finite_or_the_run_fails_saying_where() {
    let w = Arc::new(workforce(&[simple_row("a", "5", 100.0)]));
    let huge = source("start = \"2025-04\"\nmonths = 12\n[[overrides]]\nset = { fte = 1e308 }\n");
    let Err(PlanError::Invalid(problems)) =
        RunPlan::new(rules(), w.clone(), request("total", vec![huge]))
    else {
        panic!("an override of 1e308 is refused");
    };
    assert!(
        problems[0].field.ends_with("fte")
            && problems[0]
                .message
                .contains("above the greatest allowed value"),
        "{problems:#?}"
    );

    let overflowing = source(
        "start = \"2025-04\"\nmonths = 24\n[[interventions]]\nkind = \"apprenticeships\"\nstarts_per_year = 1e300\nsalary_per_year = 1e300\n",
    );
    let plan = RunPlan::new(rules(), w.clone(), request("segment", vec![overflowing])).unwrap();
    let error =
        wfplan::engine::run_scenario(rules(), &plan.workforce, &plan.scenarios[0], &plan.options)
            .expect_err("infinite figures fail the run");
    let message = error.to_string();
    assert!(message.contains("flows.rhai"), "{message}");
    assert!(message.contains("org=a"), "{message}");

    // A run that would reach past 2999 is refused before it runs.
    let far = source("start = \"9999-12\"\nmonths = 600\n");
    let Err(PlanError::Invalid(problems)) = RunPlan::new(rules(), w, request("total", vec![far]))
    else {
        panic!("a run past 2999 is refused");
    };
    assert_eq!(problems[0].field, "start", "{problems:#?}");
}
