//! Comparing options under uncertainty (docs/model.md, section 7): the difference an
//! option makes against the baseline, worked out draw by draw with the same draws on
//! both sides (common random numbers: the option's draws of the baseline's uncertain
//! entries are the baseline's own), then summarised over the draws.

use super::{by_financial_year, whole_run, Period};
use crate::model::results::{DERIVED, METRICS};
use crate::model::uncertainty::percentile;
use crate::model::RunResults;

/// A figure's summary over a Monte Carlo run's draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Draw 0, every uncertain input at its mean.
    pub central: f64,
    /// Over draws 1 to N.
    pub mean: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
}

impl Band {
    /// The band of `values[0]` (the central draw) and `values[1..]` (the random draws).
    pub fn of(values: &[f64]) -> Band {
        let central = values[0];
        let mut random: Vec<f64> = values[1..].to_vec();
        if random.is_empty() {
            random.push(central);
        }
        random.sort_by(f64::total_cmp);
        Band {
            central,
            mean: random.iter().sum::<f64>() / random.len() as f64,
            p10: percentile(&random, 0.1),
            p50: percentile(&random, 0.5),
            p90: percentile(&random, 0.9),
        }
    }
}

/// The change an option makes to one figure in one period, over the draws.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeBand {
    /// A financial year (`2029/30`) or `whole run`.
    pub period: String,
    /// A figure or a derived rate.
    pub metric: String,
    /// Option minus baseline, draw by draw.
    pub change: Band,
    /// Share of the random draws in which the option's figure is below the baseline's,
    /// and above it (ties are neither).
    pub share_lower: f64,
    pub share_higher: f64,
    /// Share of the random draws in which the option does better, for figures where
    /// better has one direction (fewer vacancies, more staff in post); none for others
    /// (required FTE, demand).
    pub probability_better: Option<f64>,
}

/// An option set against the baseline under the same draws.
#[derive(Debug, Clone, PartialEq)]
pub struct UncertainComparison {
    pub baseline: String,
    pub scenario: String,
    /// Random draws compared (draw 0 is on top).
    pub draws: usize,
    pub changes: Vec<ChangeBand>,
}

/// Whether less of a figure is better for a workforce lead, more is, or neither.
pub fn lower_is_better(metric: &str) -> Option<bool> {
    match metric {
        "vacancies" | "leavers" | "sickness_fte" | "bank_hours" | "agency_hours"
        | "unmet_hours" | "bank_cost" | "agency_cost" | "intervention_cost" | "vacancy_rate"
        | "leaver_rate" | "turnover" | "agency_share" => Some(true),
        "fte"
        | "joiners"
        | "recruits"
        | "newly_qualified"
        | "apprentices_qualified"
        | "returners"
        | "international"
        | "available_hours"
        | "clinical_hours"
        | "time_released_hours" => Some(false),
        _ => None,
    }
}

/// Every figure and rate of a period, in [`METRICS`] then [`DERIVED`] order.
fn values(period: &Period) -> Vec<f64> {
    let mut values = period.values.to_vec();
    values.extend(period.rates());
    values
}

/// The periods (financial years, then the whole run) of each draw of results at any
/// detail: a draw's rows summed.
fn periods_by_draw(results: &RunResults) -> Vec<Vec<Vec<f64>>> {
    (0..results.draws.count)
        .map(|d| {
            let years = by_financial_year(&results.draw(d));
            let mut periods: Vec<Vec<f64>> = years.iter().map(values).collect();
            periods.push(values(&whole_run(&years)));
            periods
        })
        .collect()
}

/// Compares an option with the baseline draw by draw. Both must have the same draws, or
/// one side none (a deterministic run, whose figures stand for every draw).
pub fn compare_draws(
    baseline: &RunResults,
    option: &RunResults,
) -> Result<UncertainComparison, String> {
    let (b, o) = (baseline.draws.count, option.draws.count);
    if b != o && b != 1 && o != 1 {
        return Err(format!(
            "'{}' has {} random draws and the baseline '{}' {}: compare Monte Carlo runs with the same draws (and the same seed)",
            option.scenario,
            o - 1,
            baseline.scenario,
            b - 1
        ));
    }
    let draws = b.max(o);
    let base = periods_by_draw(baseline);
    let other = periods_by_draw(option);
    let labels: Vec<String> = by_financial_year(&baseline.draw(0))
        .iter()
        .map(|p| p.label.clone())
        .chain(["whole run".to_string()])
        .collect();
    let names: Vec<&str> = METRICS.iter().chain(DERIVED.iter()).copied().collect();
    let mut changes = Vec::new();
    for (p, label) in labels.iter().enumerate() {
        for (m, name) in names.iter().enumerate() {
            let at = |side: &Vec<Vec<Vec<f64>>>, d: usize| side[d.min(side.len() - 1)][p][m];
            let diffs: Vec<f64> = (0..draws).map(|d| at(&other, d) - at(&base, d)).collect();
            let random = &diffs[1.min(diffs.len() - 1)..];
            let share = |test: &dyn Fn(f64) -> bool| {
                if draws > 1 {
                    random.iter().filter(|&&x| test(x)).count() as f64 / random.len() as f64
                } else {
                    f64::from(u8::from(test(diffs[0])))
                }
            };
            let (share_lower, share_higher) = (share(&|x| x < 0.0), share(&|x| x > 0.0));
            changes.push(ChangeBand {
                period: label.clone(),
                metric: name.to_string(),
                change: Band::of(&diffs),
                share_lower,
                share_higher,
                probability_better: lower_is_better(name).map(|lower| {
                    if lower {
                        share_lower
                    } else {
                        share_higher
                    }
                }),
            });
        }
    }
    Ok(UncertainComparison {
        baseline: baseline.scenario.clone(),
        scenario: option.scenario.clone(),
        draws: draws - 1,
        changes,
    })
}
