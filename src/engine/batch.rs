//! Runs many scenarios in parallel on rayon, handing each result to the caller as soon as
//! it is ready so that a large sweep is stored as it goes rather than held in memory.
//!
//! One scenario's failure is its own: the others run to the end.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::monte_carlo::{DrawPlan, DrawnValue};
use super::{run_scenario, RunError, RunOptions};
use crate::model::{DrawRange, RunResults, Scenario, Workforce};
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
/// results can no longer be stored. Scenarios under way finish, but for a Monte Carlo
/// scenario, which stops between its blocks of draws and then has no outcome either. A
/// Monte Carlo scenario's blocks of draws are joined into its outcome's results.
pub fn run_batch_until(
    rules: &RuleSet,
    workforce: &Workforce,
    scenarios: &[Scenario],
    options: &RunOptions,
    threads: Option<usize>,
    stop: &(dyn Fn() -> bool + Sync),
    mut on_outcome: impl FnMut(Outcome),
) -> Result<(), rayon::ThreadPoolBuildError> {
    let mut blocks: Vec<Vec<RunResults>> = scenarios.iter().map(|_| Vec::new()).collect();
    run_batch_streaming(
        rules,
        workforce,
        scenarios,
        options,
        threads,
        stop,
        |progress| match progress {
            Progress::Draws { .. } => {}
            Progress::Block { index, results } => blocks[index].push(results),
            Progress::Finished(mut outcome) => {
                let taken = std::mem::take(&mut blocks[outcome.index]);
                if let (Ok(_), Some(joined)) = (&outcome.result, RunResults::join_draws(taken)) {
                    outcome.result = Ok(joined);
                }
                on_outcome(outcome)
            }
        },
    )
}

/// What a streaming batch hands its caller.
#[derive(Debug)]
pub enum Progress {
    /// A Monte Carlo scenario's drawn values, before its first block, and how many draws
    /// it makes (draw 0 included).
    Draws {
        index: usize,
        draws: u64,
        values: Vec<DrawnValue>,
    },
    /// A block of a Monte Carlo scenario's draws, as it finishes (in any order).
    Block { index: usize, results: RunResults },
    /// A scenario has finished. A Monte Carlo scenario's results came in its blocks: its
    /// outcome's results hold no rows, only the count of draws.
    Finished(Outcome),
}

/// As [`run_batch_until`], but a Monte Carlo scenario's draws are handed over a block at a
/// time as they finish, so that a run of many draws is stored as it goes rather than held
/// in memory. At most a few blocks wait for the caller at any time.
pub fn run_batch_streaming(
    rules: &RuleSet,
    workforce: &Workforce,
    scenarios: &[Scenario],
    options: &RunOptions,
    threads: Option<usize>,
    stop: &(dyn Fn() -> bool + Sync),
    mut on_progress: impl FnMut(Progress),
) -> Result<(), rayon::ThreadPoolBuildError> {
    let mut pool = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("wfplan-worker-{i}"));
    if let Some(n) = threads {
        pool = pool.num_threads(n);
    }
    let pool = pool.build()?;
    // Bounded, so that blocks made faster than they are stored wait rather than pile up.
    let (sender, receiver) = mpsc::sync_channel(2 * pool.current_num_threads().max(1));
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
                        let result = match scenario.monte_carlo {
                            None => run_scenario(rules, workforce, scenario, options),
                            Some(monte_carlo) => {
                                DrawPlan::new(rules, workforce, scenario, monte_carlo).and_then(
                                    |plan| run_streamed(rules, plan, options, index, stop, sender),
                                )
                            }
                        };
                        // Stopped between its blocks: like a scenario never started, it
                        // has no outcome.
                        if matches!(result, Err(RunError::Stopped)) {
                            return;
                        }
                        // The receiver only goes away if the caller panicked; nothing to do then.
                        let _ = sender.send(Progress::Finished(Outcome {
                            index,
                            scenario: scenario.name.clone(),
                            elapsed: started.elapsed(),
                            result,
                        }));
                    },
                );
            });
        });
        for progress in receiver {
            on_progress(progress);
        }
    });
    Ok(())
}

/// A Monte Carlo scenario's draws and blocks sent as they are made; the results returned
/// hold only the number of draws.
fn run_streamed(
    rules: &RuleSet,
    plan: DrawPlan<'_>,
    options: &RunOptions,
    index: usize,
    stop: &(dyn Fn() -> bool + Sync),
    sender: &mpsc::SyncSender<Progress>,
) -> Result<RunResults, RunError> {
    let scenario = plan.scenario();
    let draws = plan.draws_to_run(options);
    let values = plan.drawn_values(draws.clone());
    let _ = sender.send(Progress::Draws {
        index,
        draws: draws.end - draws.start,
        values,
    });
    plan.run(rules, options, draws.clone(), stop, &|results| {
        let _ = sender.send(Progress::Block { index, results });
    })?;
    Ok(RunResults {
        scenario: scenario.name.clone(),
        start: scenario.start,
        months: scenario.months,
        key_names: Vec::new(),
        rows: Vec::new(),
        figures: Vec::new(),
        draws: DrawRange {
            first: 0,
            count: draws.end as usize,
        },
    })
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
