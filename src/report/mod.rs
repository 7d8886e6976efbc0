//! What planners read: results summed into NHS financial years, the rates derived from those
//! sums, and comparisons of scenarios against a baseline with the break-even of their
//! interventions. Pure functions over results; printing lives in [`table`].

pub mod attribution;
pub mod metric;
pub mod table;
pub mod uncertainty;

use crate::model::results::{is_stock, Metric, METRICS};
use crate::model::{InputColumn, RunResults, Workforce};

/// One financial year (or the part of it inside the run) of a run, over all rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub label: String,
    pub months: usize,
    /// Stocks averaged over the period's months, flows summed, in [`METRICS`] order.
    pub values: [f64; METRICS.len()],
}

impl Period {
    pub fn get(&self, metric: Metric) -> f64 {
        self.values[metric as usize]
    }

    /// Mean vacancies over mean required FTE.
    pub fn vacancy_rate(&self) -> f64 {
        ratio(self.get(Metric::Vacancies), self.get(Metric::RequiredFte))
    }

    /// Leavers over mean staff in post, scaled to a year when the period is shorter.
    pub fn leaver_rate(&self) -> f64 {
        ratio(self.get(Metric::Leavers), self.get(Metric::Fte)) * 12.0 / self.months as f64
    }

    /// Leavers and moves to other segments over mean staff in post, scaled to a year.
    pub fn turnover(&self) -> f64 {
        let moving = self.get(Metric::Leavers) + self.get(Metric::TransfersOut);
        ratio(moving, self.get(Metric::Fte)) * 12.0 / self.months as f64
    }

    /// Share of the hours staff in post do not cover that agency staff work.
    pub fn agency_share(&self) -> f64 {
        let uncovered = self.get(Metric::BankHours)
            + self.get(Metric::AgencyHours)
            + self.get(Metric::UnmetHours);
        ratio(self.get(Metric::AgencyHours), uncovered)
    }

    /// The rates of [`DERIVED`](crate::model::results::DERIVED), in its order.
    pub fn rates(&self) -> [f64; 4] {
        [
            self.vacancy_rate(),
            self.leaver_rate(),
            self.turnover(),
            self.agency_share(),
        ]
    }

    /// Pay, bank, agency and intervention cost together.
    pub fn total_cost(&self) -> f64 {
        self.get(Metric::PayCost)
            + self.get(Metric::BankCost)
            + self.get(Metric::AgencyCost)
            + self.get(Metric::InterventionCost)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// A run's totals by NHS financial year (April to March).
pub fn by_financial_year(results: &RunResults) -> Vec<Period> {
    let all_rows: Vec<usize> = (0..results.rows.len()).collect();
    let mut years: Vec<(String, Vec<usize>)> = Vec::new();
    for month in 0..results.months {
        let label = results.start.plus(month as i64).financial_year();
        match years.last_mut() {
            Some((last, months)) if *last == label => months.push(month),
            _ => years.push((label, vec![month])),
        }
    }
    years
        .into_iter()
        .map(|(label, months)| period_of(results, label, &months, &all_rows))
        .collect()
}

/// The totals of some rows over some months: flows summed, stocks the mean of the
/// months. (With no month, every figure is 0.)
pub fn period_of(results: &RunResults, label: String, months: &[usize], rows: &[usize]) -> Period {
    let mut period = Period {
        label,
        months: months.len(),
        values: [0.0; METRICS.len()],
    };
    for &month in months {
        for &row in rows {
            for (total, value) in period
                .values
                .iter_mut()
                .zip(results.row_figures(month, row))
            {
                *total += value;
            }
        }
    }
    if !months.is_empty() {
        for (metric, value) in period.values.iter_mut().enumerate() {
            if is_stock(metric) {
                *value /= months.len() as f64;
            }
        }
    }
    period
}

/// The whole run as one period.
pub fn whole_run(years: &[Period]) -> Period {
    let months: usize = years.iter().map(|p| p.months).sum();
    let mut values = [0.0; METRICS.len()];
    for year in years {
        for (metric, value) in values.iter_mut().enumerate() {
            *value += if is_stock(metric) {
                year.values[metric] * year.months as f64 / months as f64
            } else {
                year.values[metric]
            };
        }
    }
    Period {
        label: "whole run".into(),
        months,
        values,
    }
}

/// The difference a scenario makes against the baseline in one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub label: String,
    /// Scenario minus baseline, in [`METRICS`] order.
    pub change: [f64; METRICS.len()],
    pub net_cost: f64,
}

/// What a vacancy left unfilled for a year is worth to a planner, for the break-even.
/// There is no one right figure (the care not given, the overtime, the harm to patients),
/// so it is a stated parameter: by default the pay of the FTE (what the post is funded
/// for), or a figure the planner gives.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum VacancyValue {
    /// The FTE-weighted mean annual pay of the segments.
    #[default]
    AnnualPay,
    /// GBP per vacant FTE-year, as the planner states it.
    Stated(f64),
}

/// wfplan's break-even test of the interventions: they pay for themselves once they
/// remove at least as many vacancies as their extra cost a year would buy, valuing a
/// vacancy left unfilled at the [`VacancyValue`], or, where agency staff fill vacancies,
/// at the agency premium over substantive pay. The idea follows the HEE AHP faculty
/// evaluation (2021), whose own figures were that its faculties pay back once they retain
/// 5 FTE (vacancies unfilled) or 21 FTE (vacancies filled by agency staff), for its own
/// costs; the figures here are this model's, from the scenario's costs and vacancies.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakEven {
    /// Extra intervention cost a year, against the baseline.
    pub intervention_cost_per_year: f64,
    /// FTE-weighted mean annual pay of the segments.
    pub pay_per_fte_year: f64,
    /// The value of a vacancy left unfilled for a year, and how it was chosen.
    pub vacancy_value: VacancyValue,
    pub vacancy_value_per_fte_year: f64,
    /// FTE-weighted mean extra cost of an agency FTE-year over a substantive one.
    pub agency_extra_per_fte_year: f64,
    /// Vacancies the interventions must remove to pay back if vacancies go unfilled.
    pub fte_if_unfilled: f64,
    /// Vacancies the interventions must remove to pay back if agency staff fill them.
    pub fte_if_agency_filled: f64,
    /// Vacancies removed: baseline minus scenario, averaged over the run.
    pub vacancies_removed: f64,
}

impl BreakEven {
    /// Whether the interventions pay back if vacancies go unfilled.
    pub fn pays_back_if_unfilled(&self) -> bool {
        self.covers(self.fte_if_unfilled)
    }

    /// Whether the interventions pay back if agency staff fill vacancies.
    pub fn pays_back_if_agency_filled(&self) -> bool {
        self.covers(self.fte_if_agency_filled)
    }

    /// The one rule of the verdict: the interventions pay back when the vacancies they
    /// remove are worth at least what they cost, so exactly at break-even they pay back
    /// (their cost is recovered). With no value on a vacancy (`needed` infinite) they
    /// never do.
    fn covers(&self, needed: f64) -> bool {
        self.vacancies_removed >= needed
    }

    /// Whether the interventions cost anything more than the baseline's.
    pub fn has_extra_cost(&self) -> bool {
        self.intervention_cost_per_year > 0.0
    }
}

/// A scenario compared with the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub baseline: String,
    pub scenario: String,
    pub years: Vec<Difference>,
    pub whole_run: Difference,
    pub break_even: BreakEven,
    /// For Monte Carlo runs: the change draw by draw, summarised over the draws. The
    /// figures above are then the central run's (draw 0).
    pub uncertainty: Option<uncertainty::UncertainComparison>,
}

/// Compares a scenario with a baseline run over the same months. `workforce` gives the pay
/// and agency premium used for the break-even, and `vacancy_value` what a vacancy left
/// unfilled is worth.
pub fn compare(
    baseline: &RunResults,
    scenario: &RunResults,
    workforce: &Workforce,
    vacancy_value: VacancyValue,
) -> Result<Comparison, String> {
    if baseline.draws.count > 1 || scenario.draws.count > 1 {
        let mut central = compare(
            &baseline.draw(0),
            &scenario.draw(0),
            workforce,
            vacancy_value,
        )?;
        central.uncertainty = Some(uncertainty::compare_draws(baseline, scenario)?);
        return Ok(central);
    }
    if baseline.start != scenario.start || baseline.months != scenario.months {
        return Err(format!(
            "'{}' runs {} months from {} but the baseline '{}' runs {} months from {}: compare runs over the same months",
            scenario.scenario, scenario.months, scenario.start, baseline.scenario, baseline.months, baseline.start
        ));
    }
    let base_years = by_financial_year(baseline);
    let other_years = by_financial_year(scenario);
    let difference = |b: &Period, o: &Period| {
        let mut change = [0.0; METRICS.len()];
        for (m, c) in change.iter_mut().enumerate() {
            *c = o.values[m] - b.values[m];
        }
        Difference {
            label: b.label.clone(),
            change,
            net_cost: o.total_cost() - b.total_cost(),
        }
    };
    let years: Vec<Difference> = base_years
        .iter()
        .zip(&other_years)
        .map(|(b, o)| difference(b, o))
        .collect();
    let whole = difference(&whole_run(&base_years), &whole_run(&other_years));

    let fte = workforce.input(InputColumn::Fte).values();
    let pay = workforce.input(InputColumn::AnnualPay).values();
    let premium = workforce.input(InputColumn::AgencyPremium).values();
    let total_fte: f64 = fte.iter().sum();
    let weighted =
        |f: &dyn Fn(usize) -> f64| ratio((0..fte.len()).map(|i| fte[i] * f(i)).sum(), total_fte);
    let pay_per_fte_year = weighted(&|i| pay[i]);
    let agency_extra_per_fte_year = weighted(&|i| pay[i] * (premium[i] - 1.0));
    let years_run = scenario.months as f64 / 12.0;
    let cost_per_year = whole.change[Metric::InterventionCost as usize] / years_run;
    let per = |value: f64| {
        if value > 0.0 {
            cost_per_year / value
        } else {
            f64::INFINITY
        }
    };
    let vacancy_value_per_fte_year = match vacancy_value {
        VacancyValue::AnnualPay => pay_per_fte_year,
        VacancyValue::Stated(value) => value,
    };
    let break_even = BreakEven {
        intervention_cost_per_year: cost_per_year,
        pay_per_fte_year,
        vacancy_value,
        vacancy_value_per_fte_year,
        agency_extra_per_fte_year,
        fte_if_unfilled: per(vacancy_value_per_fte_year),
        fte_if_agency_filled: per(agency_extra_per_fte_year),
        vacancies_removed: -whole.change[Metric::Vacancies as usize],
    };
    Ok(Comparison {
        baseline: baseline.scenario.clone(),
        scenario: scenario.scenario.clone(),
        years,
        whole_run: whole,
        break_even,
        uncertainty: None,
    })
}
