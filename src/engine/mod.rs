//! Runs scenarios: the month-by-month stock and flow of each segment's FTE, with the rule
//! scripts computing each month's rates and flows over whole columns of segments.
//!
//! The engine does no IO: it takes a checked [`Workforce`] and [`Scenario`] and returns
//! [`RunResults`]. Loading data before and storing results after is the caller's job, so
//! rayon workers never hold a database connection.

pub mod batch;

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Scope, INT};

use crate::model::results::METRICS;
use crate::model::scenario::FieldValue;
use crate::model::workforce::{InputProblem, InputProblems};
use crate::model::{Column, Detail, InputColumn, Intervention, RunResults, Scenario, Workforce};
use crate::rules::values::{Segments, Timing};
use crate::rules::{contract, KindRule, RuleProblem, RuleSet};

/// Why a scenario could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error("a rule failed: {0}")]
    Rule(#[from] RuleProblem),
    #[error("the scenario's overrides give invalid inputs:\n{}", crate::model::workforce::list_problems(&.0 .0))]
    Overrides(InputProblems),
    #[error("{0}")]
    Scenario(String),
}

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub detail: Detail,
    /// Wall-clock budget for all rule calls of one scenario.
    pub time_budget: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            detail: Detail::Segment,
            time_budget: crate::rules::sandbox::DEFAULT_TIME_BUDGET,
        }
    }
}

/// An intervention made ready for the month loop: its segments, its attribution weights and
/// its fields as script values.
struct Prepared<'r> {
    kind: &'r KindRule,
    timing: Timing,
    cost_per_month: f64,
    matched: Column,
    weight: Column,
    fields: Vec<(String, Dynamic)>,
}

/// The workforce a scenario runs on: its overrides applied and checked.
pub fn scenario_workforce(
    workforce: &Workforce,
    scenario: &Scenario,
) -> Result<Workforce, RunError> {
    let adjusted = scenario.apply_overrides(workforce);
    if scenario.overrides.is_empty() {
        return Ok(adjusted);
    }
    let mut problems = Vec::new();
    for segment in 0..adjusted.len() {
        for (column, reason) in adjusted.check_segment(segment) {
            problems.push(InputProblem {
                source: format!("scenario {}", scenario.name),
                row: None,
                column: Some(column.to_string()),
                message: format!("segment {}: {reason}", adjusted.segment_label(segment)),
            });
        }
    }
    if problems.is_empty() {
        Ok(adjusted)
    } else {
        Err(RunError::Overrides(InputProblems(problems)))
    }
}

/// Runs one scenario over its whole horizon.
pub fn run_scenario(
    rules: &RuleSet,
    workforce: &Workforce,
    scenario: &Scenario,
    options: &RunOptions,
) -> Result<RunResults, RunError> {
    let _deadline = crate::rules::sandbox::DeadlineGuard::start(options.time_budget);
    let workforce = Arc::new(scenario_workforce(workforce, scenario)?);
    let segments = workforce.len();
    let months = scenario.months;
    let grouping = Grouping::new(&workforce, &options.detail)?;

    let mut prepared: Vec<Prepared> = scenario
        .interventions
        .iter()
        .map(|i| prepare(rules, &workforce, scenario, i))
        .collect::<Result<_, _>>()?;
    // Stage by stage, in file order within a stage (a stable sort keeps file order).
    prepared.sort_by_key(|p| p.kind.stage);

    let zeros = Column::filled(segments, 0.0);
    let mut scope = Scope::new();
    scope.push_constant("seg", Segments(workforce.clone()));
    scope.push_constant("months", months as INT);
    scope.push_constant("zeros", zeros.clone());
    scope.push("t", 0 as INT);
    scope.push("calendar_month", scenario.start.month as INT);
    scope.push("fte", workforce.input(InputColumn::Fte).clone());
    for name in contract::MONTH_STATE
        .iter()
        .chain(&contract::ACCUMULATORS)
        .chain(&contract::FLOWS)
    {
        scope.push(*name, zeros.clone());
    }
    let base = scope.len();

    let mut figures = vec![0.0; months * grouping.rows.len() * METRICS.len()];
    let mut month_figures: Vec<Column> = Vec::with_capacity(METRICS.len());
    for t in 0..months {
        scope.set_value("t", t as INT);
        scope.set_value("calendar_month", scenario.start.plus(t as i64).month as INT);
        for name in contract::ACCUMULATORS {
            scope.set_value(name, zeros.clone());
        }
        rules.run(&rules.rates, &mut scope)?;
        scope.rewind(base);
        keep_state_columns(&mut scope, segments, &rules.rates.file)?;
        for p in &prepared {
            run_intervention(rules, &mut scope, p, t as i64)?;
            scope.rewind(base);
            keep_state_columns(&mut scope, segments, &p.kind.script.file)?;
        }
        rules.run(&rules.flows, &mut scope)?;
        scope.rewind(base);

        month_figures.clear();
        for metric in METRICS {
            month_figures.push(read_column(
                &scope,
                contract::variable_of(metric),
                segments,
                &rules.flows.file,
            )?);
        }
        grouping.add_month(
            &month_figures,
            &mut figures[t * grouping.rows.len() * METRICS.len()..],
        );
        let next = read_column(&scope, "fte_next", segments, &rules.flows.file)?;
        scope.set_value("fte", next);
    }

    Ok(RunResults {
        scenario: scenario.name.clone(),
        start: scenario.start,
        months,
        key_names: grouping.key_names,
        rows: grouping.rows,
        figures,
    })
}

fn prepare<'r>(
    rules: &'r RuleSet,
    workforce: &Workforce,
    scenario: &Scenario,
    intervention: &Intervention,
) -> Result<Prepared<'r>, RunError> {
    let kind = rules.kinds.get(&intervention.kind).ok_or_else(|| {
        RunError::Scenario(format!(
            "intervention '{}': no rule for kind '{}'",
            intervention.name, intervention.kind
        ))
    })?;
    let mask = |matched: Vec<bool>| {
        Column::new(
            matched
                .into_iter()
                .map(|m| if m { 1.0 } else { 0.0 })
                .collect(),
        )
    };
    let matched = intervention.filter.matches(workforce);
    let weight = attribution_weights(workforce.input(InputColumn::Fte).values(), &matched);
    let fields = intervention
        .fields
        .iter()
        .map(|(name, value)| {
            let value = match value {
                FieldValue::Number(x) => Dynamic::from_float(*x),
                FieldValue::Integer(i) => Dynamic::from_int(*i),
                FieldValue::Filter(filter) => Dynamic::from(mask(filter.matches(workforce))),
            };
            (name.clone(), value)
        })
        .collect();
    Ok(Prepared {
        kind,
        timing: Timing {
            first: intervention.start.months_since(scenario.start),
            last: intervention
                .end
                .map_or(i64::MAX / 4, |end| end.months_since(scenario.start)),
            ramp_months: intervention.ramp_months,
            months: scenario.months as i64,
            first_calendar_month: scenario.start.month as i64,
        },
        cost_per_month: intervention.cost_per_month,
        matched: mask(matched),
        weight: Column::new(weight),
        fields,
    })
}

/// Spec section 4, attribution: each matched segment's share of the matched segments' FTE at
/// the start, or equal shares where they all have none. Unmatched segments get nothing.
pub fn attribution_weights(fte: &[f64], matched: &[bool]) -> Vec<f64> {
    let total: f64 = fte
        .iter()
        .zip(matched)
        .filter(|(_, m)| **m)
        .map(|(f, _)| f)
        .sum();
    let count = matched.iter().filter(|m| **m).count();
    fte.iter()
        .zip(matched)
        .map(|(f, m)| match (*m, total > 0.0) {
            (false, _) => 0.0,
            (true, true) => f / total,
            (true, false) => 1.0 / count as f64,
        })
        .collect()
}

fn run_intervention(
    rules: &RuleSet,
    scope: &mut Scope,
    p: &Prepared,
    t: i64,
) -> Result<(), RunError> {
    let active = p.timing.active(t);
    scope.push_constant("ramp", p.timing.ramp(t));
    scope.push_constant("active", active);
    scope.push_constant("matched", p.matched.clone());
    scope.push_constant("weight", p.weight.clone());
    scope.push_constant("timing", p.timing);
    for (name, value) in &p.fields {
        scope.push_constant_dynamic(name.clone(), value.clone());
    }
    rules.run(&p.kind.script, scope)?;
    // `cost_per_month` is common to every kind, so the engine charges it rather than
    // every kind's script repeating it.
    if active && p.cost_per_month != 0.0 {
        let cost = read_column(
            scope,
            "intervention_cost",
            p.weight.len(),
            &p.kind.script.file,
        )?;
        let charged = cost.zip(&p.weight, |c, w| c + p.cost_per_month * w);
        scope.set_value("intervention_cost", charged);
    }
    Ok(())
}

/// Checks, after a script, that the month's state is still one number per segment, and
/// turns plain numbers into columns. Without this a script that assigned, say, text to
/// `leaver` would only fail later, in another file, with a confusing message.
fn keep_state_columns(scope: &mut Scope, segments: usize, file: &str) -> Result<(), RuleProblem> {
    for name in contract::MONTH_STATE
        .iter()
        .chain(&contract::ACCUMULATORS)
        .chain(&["fte"])
    {
        let column = read_column(scope, name, segments, file)?;
        scope.set_value(*name, column);
    }
    Ok(())
}

/// Reads a script variable as a column; a plain number stands for the same value in every
/// segment.
fn read_column(
    scope: &Scope,
    name: &str,
    segments: usize,
    file: &str,
) -> Result<Column, RuleProblem> {
    let problem = |message: String| RuleProblem {
        file: file.to_string(),
        line: None,
        column: None,
        message,
    };
    let value = scope
        .get(name)
        .ok_or_else(|| problem(format!("the variable `{name}` is missing")))?;
    if let Some(column) = value.clone().try_cast::<Column>() {
        if column.len() == segments {
            return Ok(column);
        }
        return Err(problem(format!(
            "`{name}` has {} values, not one per segment ({segments})",
            column.len()
        )));
    }
    if let Ok(x) = value.as_float() {
        return Ok(Column::filled(segments, x));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Column::filled(segments, i as f64));
    }
    Err(problem(format!(
        "`{name}` must be a column or a number, not {}",
        value.type_name()
    )))
}

/// How segment figures become result rows: one row per segment, or sums over groups.
struct Grouping {
    key_names: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Result row of each segment.
    row_of: Vec<usize>,
}

impl Grouping {
    fn new(workforce: &Workforce, detail: &Detail) -> Result<Grouping, RunError> {
        let key_names: Vec<String> = match detail {
            Detail::Segment => workforce.key_names.clone(),
            Detail::GroupBy(keys) => keys.clone(),
        };
        let mut columns = Vec::new();
        for name in &key_names {
            columns.push(workforce.key(name).ok_or_else(|| {
                RunError::Scenario(format!(
                    "cannot group results by '{name}': key columns are {}",
                    workforce.key_names.join(", ")
                ))
            })?);
        }
        let mut index = std::collections::HashMap::new();
        let mut rows = Vec::new();
        let mut row_of = Vec::with_capacity(workforce.len());
        for segment in 0..workforce.len() {
            let codes: Vec<u32> = columns.iter().map(|c| c.codes[segment]).collect();
            let row = *index.entry(codes).or_insert_with(|| {
                rows.push(
                    columns
                        .iter()
                        .map(|c| c.value(segment).to_string())
                        .collect(),
                );
                rows.len() - 1
            });
            row_of.push(row);
        }
        Ok(Grouping {
            key_names,
            rows,
            row_of,
        })
    }

    /// Adds one month's segment figures into that month's rows.
    fn add_month(&self, month: &[Column], out: &mut [f64]) {
        let width = METRICS.len();
        for (metric, column) in month.iter().enumerate() {
            for (segment, value) in column.values().iter().enumerate() {
                out[self.row_of[segment] * width + metric] += value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_is_by_fte_or_equal() {
        assert_eq!(
            attribution_weights(&[1.0, 3.0, 4.0], &[true, true, false]),
            vec![0.25, 0.75, 0.0]
        );
        assert_eq!(
            attribution_weights(&[0.0, 0.0, 4.0], &[true, true, false]),
            vec![0.5, 0.5, 0.0]
        );
        assert_eq!(attribution_weights(&[1.0], &[false]), vec![0.0]);
    }
}
