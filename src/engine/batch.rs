//! Runs many scenarios in parallel on rayon, handing each result to the caller as soon as
//! it is ready so that a large sweep is stored as it goes rather than held in memory.
//!
//! One scenario's failure is its own: the others run to the end.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::{run_scenario, RunError, RunOptions};
use crate::model::{RunResults, Scenario, Workforce};
use crate::rules::RuleSet;

/// The outcome of one scenario of a batch.
#[derive(Debug)]
pub struct Outcome {
    /// Position of the scenario in the batch.
    pub index: usize,
    pub scenario: String,
    pub elapsed: Duration,
    pub result: Result<RunResults, RunError>,
}

/// Runs `scenarios` in parallel (on `threads` threads, or rayon's default), calling
/// `on_outcome` on the calling thread for each as it finishes, in completion order.
pub fn run_batch(
    rules: &RuleSet,
    workforce: &Workforce,
    scenarios: &[Scenario],
    options: &RunOptions,
    threads: Option<usize>,
    on_outcome: impl FnMut(Outcome),
) -> Result<(), rayon::ThreadPoolBuildError> {
    run_batch_until(
        rules,
        workforce,
        scenarios,
        options,
        threads,
        &|| false,
        on_outcome,
    )
}

/// As [`run_batch`], but a scenario not yet started when `stop` turns true is not run
/// and has no outcome: for a batch that can be cancelled, or must stop because its
/// results can no longer be stored. Scenarios under way finish.
pub fn run_batch_until(
    rules: &RuleSet,
    workforce: &Workforce,
    scenarios: &[Scenario],
    options: &RunOptions,
    threads: Option<usize>,
    stop: &(dyn Fn() -> bool + Sync),
    mut on_outcome: impl FnMut(Outcome),
) -> Result<(), rayon::ThreadPoolBuildError> {
    let mut pool = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("wfplan-worker-{i}"));
    if let Some(n) = threads {
        pool = pool.num_threads(n);
    }
    let pool = pool.build()?;
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || {
            pool.install(|| {
                scenarios.par_iter().enumerate().for_each_with(
                    sender,
                    |sender, (index, scenario)| {
                        if stop() {
                            return;
                        }
                        let started = Instant::now();
                        let result = run_scenario(rules, workforce, scenario, options);
                        // The receiver only goes away if the caller panicked; nothing to do then.
                        let _ = sender.send(Outcome {
                            index,
                            scenario: scenario.name.clone(),
                            elapsed: started.elapsed(),
                            result,
                        });
                    },
                );
            });
        });
        for outcome in receiver {
            on_outcome(outcome);
        }
    });
    Ok(())
}

/// Runs `scenarios` in parallel and returns every outcome in batch order.
pub fn run_all(
    rules: &RuleSet,
    workforce: &Workforce,
    scenarios: &[Scenario],
    options: &RunOptions,
    threads: Option<usize>,
) -> Result<Vec<Outcome>, rayon::ThreadPoolBuildError> {
    let mut outcomes = Vec::with_capacity(scenarios.len());
    run_batch(rules, workforce, scenarios, options, threads, |o| {
        outcomes.push(o)
    })?;
    outcomes.sort_by_key(|o| o.index);
    Ok(outcomes)
}
