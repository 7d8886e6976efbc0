//! Variants of one scenario run as one wide problem, as Monte Carlo draws are: the
//! combinations attribution runs and the points goal seek tries differ from one scenario
//! only by leaving out some of its interventions and by their overrides, so they run as
//! replicas of the segments, each with its own inputs and its left-out interventions
//! matching no segment, and every rule statement is interpreted once a month for a block
//! of variants rather than once per variant.
//!
//! It is a faster way to the same figures, never a different answer: variants that are
//! not of that shape, a rule that looks across all the segments, or any failure give
//! `None`, and the caller runs the scenarios one by one. Two variants of every set are
//! also run alone and must give the same figures, which holds a rule that does not
//! leave a segment alone when an intervention matches none of it to the plain runs.

use rayon::prelude::*;

use super::batch::run_all;
use super::monte_carlo::{draws_per_block, Blocks, Draw, DrawPlan};
use super::{prepare_all, run_scenario, scenario_workforce, Grouping, RunError, RunOptions};
use crate::model::uncertainty::MonteCarlo;
use crate::model::{InputColumn, RunResults, Scenario, Workforce};
use crate::rules::RuleSet;

/// Which of `full`'s interventions a variant keeps, if the variant is `full` without some
/// of them (and perhaps other overrides): its interventions are a subsequence of
/// `full`'s, in order, and everything else but its name and overrides is the same.
fn kept(full: &Scenario, variant: &Scenario) -> Option<Vec<bool>> {
    let same = full.start == variant.start
        && full.months == variant.months
        && full.seasonality == variant.seasonality
        && variant.monte_carlo.is_none();
    if !same {
        return None;
    }
    let mut kept = vec![false; full.interventions.len()];
    let mut next = 0;
    for intervention in &variant.interventions {
        let at = next
            + full.interventions[next..]
                .iter()
                .position(|i| i == intervention)?;
        kept[at] = true;
        next = at + 1;
    }
    Some(kept)
}

/// Runs `scenarios` (variants of the one with the most interventions) as blocks of
/// replicas, in parallel, and returns their results in order; `None` when they cannot
/// be run that way (see the module's comment).
pub fn run_variants(
    rules: &RuleSet,
    workforce: &Workforce,
    scenarios: &[Scenario],
    options: &RunOptions,
) -> Option<Vec<RunResults>> {
    let full = scenarios.iter().max_by_key(|s| s.interventions.len())?;
    if scenarios.len() < 2 || full.monte_carlo.is_some() {
        return None;
    }
    let kept: Vec<Vec<bool>> = scenarios
        .iter()
        .map(|s| kept(full, s))
        .collect::<Option<_>>()?;
    // The full scenario's interventions, prepared on the data without overrides: each
    // variant brings its own inputs.
    let mut plain = full.clone();
    plain.overrides.clear();
    let plan = DrawPlan::new(rules, workforce, &plain, MonteCarlo { draws: 0, seed: 0 }).ok()?;
    let prepared = prepare_all(rules, workforce, &plain).ok()?;
    let grouping = Grouping::new(workforce, &options.detail).ok()?;
    let shared = Blocks {
        rules,
        plan: &plan,
        prepared: &prepared,
        grouping: &grouping,
        options,
    };
    let replica = |index: usize| -> Option<Draw> {
        let inputs = scenario_workforce(workforce, &scenarios[index]).ok()?;
        Some(Draw {
            inputs: InputColumn::ALL
                .iter()
                .map(|&c| (c, inputs.input(c).values().to_vec()))
                .collect(),
            fields: Vec::new(),
            enabled: Some(kept[index].clone()),
        })
    };
    let step = draws_per_block(workforce.len()) as usize;
    let starts: Vec<usize> = (0..scenarios.len()).step_by(step).collect();
    let blocks: Vec<Option<Vec<RunResults>>> = starts
        .par_iter()
        .map(|&first| {
            let last = (first + step).min(scenarios.len());
            let values = (first..last).map(replica).collect::<Option<Vec<_>>>()?;
            let results = shared.replicas_of(values, 0, true).ok()?;
            Some(
                (first..last)
                    .map(|index| {
                        let mut one = results.draw(index - first);
                        one.scenario = scenarios[index].name.clone();
                        one.draws = crate::model::DrawRange::DETERMINISTIC;
                        one
                    })
                    .collect(),
            )
        })
        .collect();
    let results: Vec<RunResults> = blocks.into_iter().collect::<Option<Vec<_>>>()?.concat();
    // The full scenario and the first variant run alone must give the same figures.
    let full_index = scenarios.iter().position(|s| std::ptr::eq(s, full))?;
    for index in [full_index, 0] {
        let alone = run_scenario(rules, workforce, &scenarios[index], options).ok()?;
        let agree = alone
            .figures
            .iter()
            .zip(&results[index].figures)
            .all(|(a, b)| (a - b).abs() <= 1e-12 * a.abs().max(1.0));
        if !agree || alone.figures.len() != results[index].figures.len() {
            tracing::debug!("variants run side by side differ from a run alone: run one by one");
            return None;
        }
    }
    Some(results)
}

/// Runs variants of one scenario (attribution's combinations, goal seek's points) side by
/// side where they allow it, else one by one; their results or errors, in order.
pub fn run_variants_or_each(
    rules: &RuleSet,
    workforce: &Workforce,
    scenarios: &[Scenario],
    options: &RunOptions,
) -> Result<Vec<Result<RunResults, RunError>>, rayon::ThreadPoolBuildError> {
    if let Some(results) = run_variants(rules, workforce, scenarios, options) {
        return Ok(results.into_iter().map(Ok).collect());
    }
    Ok(run_all(rules, workforce, scenarios, options, None)?
        .into_iter()
        .map(|o| o.result)
        .collect())
}
