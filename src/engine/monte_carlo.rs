//! Monte Carlo runs (docs/model.md, section 7): many draws of a scenario's uncertain
//! inputs, run as one wide problem.
//!
//! Draws are columns. A block of consecutive draws is run as a workforce of that many
//! replicas of the scenario's segments, each replica with its own drawn inputs and
//! intervention fields, so every rule statement is interpreted once a month for the whole
//! block rather than once per draw (the interpreter's fixed cost per statement is most of
//! a small run's time). Nothing crosses from one draw to another: each replica's key
//! values are coded apart from the others' (org A in draw 3 is not org A in draw 4), so
//! skill mix and transfers stay inside their draw; a transfer's groups carry the draw as
//! one more key; and the block runs as a part of the segments, so that `sum`, `len` and
//! `seg.count`, which would add over every draw, fail and the block is run again draw by
//! draw. Blocks are about [`super::PART_SEGMENTS`] segments, run in parallel across cores,
//! and handed to the caller as each finishes, so that a large run is stored as it goes.
//!
//! A draw's figures are those of the deterministic run with its values applied: a block
//! of one draw is that run, and a wider block does the same arithmetic segment by segment.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use rhai::Dynamic;

use super::{
    all_finite, attribution_weights, prepare_all, scenario_workforce, Grouping, Prepared, Run,
    RunError, RunOptions,
};
use crate::model::scenario::FieldValue;
use crate::model::uncertainty::{MonteCarlo, Uncertain};
use crate::model::{Column, DrawRange, InputColumn, KeyColumn, RunResults, Scenario, Workforce};
use crate::rules::columns::{key_identity, Groups, PartGuard, DRAW_KEY};
use crate::rules::RuleSet;

/// One drawn value, as the `draws` table stores it: the value drawn for an entry (and a
/// per value) in a draw, before it is applied (a factor on an input column, or a field's
/// new value) and clamped.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawnValue {
    pub draw: u64,
    /// The entry's index in the scenario's `[[uncertain]]` list, from 0.
    pub entry: usize,
    pub what: String,
    /// The value of the entry's `per` key column; empty without `per`.
    pub per_value: String,
    pub value: f64,
}

/// Where an entry acts.
struct EntryLayout {
    /// Each segment's per value (an index into `per_values`), or [`NOT_MATCHED`].
    slot: Vec<u32>,
    /// The distinct values of the entry's `per` column among its segments, in segment
    /// order; one empty value without `per`.
    per_values: Vec<String>,
    /// A drawn field's allowed range (the kind's declared bounds).
    range: (f64, f64),
}

const NOT_MATCHED: u32 = u32::MAX;

/// One draw's inputs and fields, ready to apply.
pub(super) struct Draw {
    /// Input columns the draw changes, with their values for every segment.
    pub(super) inputs: Vec<(InputColumn, Vec<f64>)>,
    /// Intervention fields the draw changes: (intervention, field, value per segment).
    pub(super) fields: Vec<(usize, String, Vec<f64>)>,
    /// Which of the scenario's interventions act in this replica, by their place in its
    /// list; all when none (a draw). A variant of the scenario without some of them
    /// (`super::variants`) has theirs off: no segment matched, no weight.
    pub(super) enabled: Option<Vec<bool>>,
}

/// A scenario's draws, worked out from its `[[uncertain]]` entries and seed.
pub struct DrawPlan<'a> {
    scenario: &'a Scenario,
    monte_carlo: MonteCarlo,
    /// The dataset with the scenario's overrides applied.
    base: Arc<Workforce>,
    layouts: Vec<EntryLayout>,
    /// Every transfer's segments and yearly rate, for the joint limit on outflows.
    transfers: Vec<(usize, Vec<bool>, f64)>,
}

impl<'a> DrawPlan<'a> {
    /// The plan of a scenario's draws; `monte_carlo` gives their number and seed.
    pub fn new(
        rules: &RuleSet,
        workforce: &Workforce,
        scenario: &'a Scenario,
        monte_carlo: MonteCarlo,
    ) -> Result<DrawPlan<'a>, RunError> {
        let base = Arc::new(scenario_workforce(workforce, scenario)?);
        let layouts = scenario
            .uncertain
            .iter()
            .map(|entry| {
                let (matched, range) = match &entry.target {
                    Uncertain::Input(_) => (entry.filter.matches(&base), (f64::MIN, f64::MAX)),
                    Uncertain::Field {
                        intervention,
                        field,
                    } => {
                        let i = &scenario.interventions[*intervention];
                        let spec = rules
                            .kinds
                            .get(&i.kind)
                            .and_then(|k| k.fields.iter().find(|f| &f.name == field));
                        let range = match spec {
                            Some(spec) => {
                                (spec.min.unwrap_or(f64::MIN), spec.max.unwrap_or(f64::MAX))
                            }
                            // `cost_per_month`, the one common field that may be drawn.
                            None => (0.0, f64::MAX),
                        };
                        (i.filter.matches(&base), range)
                    }
                };
                let per = entry.per.as_deref().and_then(|name| base.key(name));
                let mut per_values: Vec<String> = Vec::new();
                let slot = matched
                    .iter()
                    .enumerate()
                    .map(|(segment, &m)| {
                        if !m {
                            return NOT_MATCHED;
                        }
                        let value = per.map_or("", |key| key.value(segment));
                        match per_values.iter().position(|v| v == value) {
                            Some(at) => at as u32,
                            None => {
                                per_values.push(value.to_string());
                                (per_values.len() - 1) as u32
                            }
                        }
                    })
                    .collect();
                if per_values.is_empty() {
                    per_values.push(String::new());
                }
                EntryLayout {
                    slot,
                    per_values,
                    range,
                }
            })
            .collect();
        let transfers = rules
            .transfers(scenario)
            .into_iter()
            .map(|(at, i, rate)| (at, i.filter.matches(&base), rate))
            .collect();
        Ok(DrawPlan {
            scenario,
            monte_carlo,
            base,
            layouts,
            transfers,
        })
    }

    /// Every entry's values in a draw, by per value.
    fn values(&self, draw: u64) -> Vec<Vec<f64>> {
        self.scenario
            .uncertain
            .iter()
            .zip(&self.layouts)
            .enumerate()
            .map(|(e, (entry, layout))| {
                layout
                    .per_values
                    .iter()
                    .map(|per| entry.value(self.monte_carlo.seed, draw, e, per))
                    .collect()
            })
            .collect()
    }

    /// The values of some draws as the `draws` table stores them: draw by draw, entry by
    /// entry, per values in order of their first segment.
    pub fn drawn_values(&self, draws: Range<u64>) -> Vec<DrawnValue> {
        let mut out = Vec::new();
        for draw in draws {
            for (e, values) in self.values(draw).into_iter().enumerate() {
                let entry = &self.scenario.uncertain[e];
                for (per_value, value) in self.layouts[e].per_values.iter().zip(values) {
                    out.push(DrawnValue {
                        draw,
                        entry: e,
                        what: entry.what.clone(),
                        per_value: if entry.per.is_some() {
                            per_value.clone()
                        } else {
                            String::new()
                        },
                        value,
                    });
                }
            }
        }
        out
    }

    /// A draw's inputs and fields: each input column's factors multiplied and the product
    /// applied and clamped once; each drawn field clamped to its kind's range.
    fn draw(&self, draw: u64) -> Draw {
        let values = self.values(draw);
        let n = self.base.len();
        let mut inputs: Vec<(InputColumn, Vec<f64>)> = Vec::new();
        // The allowance last: where a segment has none, its default is its own headroom
        // from the leave and sickness rates of this draw.
        let mut columns: Vec<InputColumn> = Vec::new();
        for entry in &self.scenario.uncertain {
            if let Uncertain::Input(c) = entry.target {
                if !columns.contains(&c.0) {
                    columns.push(c.0);
                }
            }
        }
        columns.sort_by_key(|c| *c == InputColumn::HeadroomAllowance);
        for column in columns {
            let mut factor = vec![1.0; n];
            let mut touched = vec![false; n];
            for (e, entry) in self.scenario.uncertain.iter().enumerate() {
                if !matches!(entry.target, Uncertain::Input(c) if c.0 == column) {
                    continue;
                }
                for (s, &slot) in self.layouts[e].slot.iter().enumerate() {
                    if slot != NOT_MATCHED {
                        factor[s] *= values[e][slot as usize];
                        touched[s] = true;
                    }
                }
            }
            let mut drawn = self.base.input(column).values().to_vec();
            for s in 0..n {
                if !touched[s] {
                    continue;
                }
                let mut base = drawn[s];
                if column == InputColumn::HeadroomAllowance && base.is_nan() {
                    let rate = |c: InputColumn| {
                        inputs
                            .iter()
                            .find(|(d, _)| *d == c)
                            .map_or(self.base.input(c).values()[s], |(_, v)| v[s])
                    };
                    base = rate(InputColumn::AnnualLeaveRate)
                        + rate(InputColumn::StudyLeaveRate)
                        + rate(InputColumn::OtherLeaveRate)
                        + rate(InputColumn::SicknessRate);
                }
                drawn[s] = column.clamp(base * factor[s]);
            }
            inputs.push((column, drawn));
        }

        let mut fields: Vec<(usize, String, Vec<f64>)> = Vec::new();
        for (e, entry) in self.scenario.uncertain.iter().enumerate() {
            let Uncertain::Field {
                intervention,
                field,
            } = &entry.target
            else {
                continue;
            };
            let at = match fields
                .iter()
                .position(|(i, f, _)| i == intervention && f == field)
            {
                Some(at) => at,
                None => {
                    let i = &self.scenario.interventions[*intervention];
                    let central = match i.field(field) {
                        Some(FieldValue::Number(x)) => *x,
                        _ => i.cost_per_month,
                    };
                    fields.push((*intervention, field.clone(), vec![central; n]));
                    fields.len() - 1
                }
            };
            let (low, high) = self.layouts[e].range;
            for (s, &slot) in self.layouts[e].slot.iter().enumerate() {
                if slot != NOT_MATCHED {
                    fields[at].2[s] = values[e][slot as usize].clamp(low, high);
                }
            }
        }
        Draw {
            inputs,
            fields,
            enabled: None,
        }
    }

    /// The joint limits a draw's values must keep (as a scenario's must): headroom below 1
    /// in the month of the highest seasonal factors, bank and agency shares at most 1, and
    /// the leaver rate plus the transfers' rates below 1.
    fn check(&self, draw: u64, values: &Draw) -> Result<(), RunError> {
        let input = |c: InputColumn| -> &[f64] {
            values
                .inputs
                .iter()
                .find(|(d, _)| *d == c)
                .map_or(self.base.input(c).values(), |(_, v)| v)
        };
        let (leave_peak, sickness_peak) = self.scenario.seasonality.peaks();
        let (annual, study, other, sickness) = (
            input(InputColumn::AnnualLeaveRate),
            input(InputColumn::StudyLeaveRate),
            input(InputColumn::OtherLeaveRate),
            input(InputColumn::SicknessRate),
        );
        let (bank, agency, leaver) = (
            input(InputColumn::BankShare),
            input(InputColumn::AgencyShare),
            input(InputColumn::LeaverRate),
        );
        for s in 0..self.base.len() {
            let headroom = annual[s] * leave_peak.max(1.0)
                + study[s]
                + other[s]
                + sickness[s] * sickness_peak.max(1.0);
            let mut outflow = leaver[s];
            for (at, matched, rate) in &self.transfers {
                if matched[s] {
                    outflow += values
                        .fields
                        .iter()
                        .find(|(i, f, _)| i == at && f == "rate")
                        .map_or(*rate, |(_, _, v)| v[s]);
                }
            }
            let problem = if headroom >= 1.0 {
                Some(format!("headroom (leave and sickness, in the month of the largest seasonal factors) is {headroom}, which must stay below 1"))
            } else if bank[s] + agency[s] > 1.0 + 1e-9 {
                Some(format!(
                    "bank_share + agency_share is {}, which must be 1 or less",
                    bank[s] + agency[s]
                ))
            } else if outflow >= 1.0 {
                Some(format!("its leaver_rate plus the rates of the transfers out of it come to {outflow}, which must stay below 1"))
            } else {
                None
            };
            if let Some(problem) = problem {
                let entries: Vec<String> = self
                    .scenario
                    .uncertain
                    .iter()
                    .enumerate()
                    .filter(|(e, _)| self.layouts[*e].slot[s] != NOT_MATCHED)
                    .map(|(e, entry)| format!("uncertain[{e}] ({})", entry.what))
                    .collect();
                return Err(RunError::Scenario(format!(
                    "draw {draw}: segment {}: {problem}; the entries drawn for it: {}",
                    self.base.segment_label(s),
                    if entries.is_empty() {
                        "none".to_string()
                    } else {
                        entries.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }

    /// One draw as a deterministic run: the workforce with the scenario's overrides and the
    /// draw's values applied, and the scenario without its overrides (already applied)
    /// or uncertain entries, its drawn fields set to the draw's values. A field drawn per
    /// key value takes the value of `segment`'s (the segment being traced).
    pub fn replay(&self, draw: u64, segment: usize) -> (Workforce, Scenario) {
        let values = self.draw(draw);
        let workforce = self.block_workforce(std::slice::from_ref(&values));
        let mut scenario = self.scenario.clone();
        scenario.overrides.clear();
        scenario.uncertain.clear();
        scenario.monte_carlo = None;
        for (index, field, per_segment) in values.fields {
            let value = per_segment[segment];
            let intervention = &mut scenario.interventions[index];
            if field == "cost_per_month" {
                intervention.cost_per_month = value;
            } else if let Some((_, v)) = intervention.fields.iter_mut().find(|(n, _)| *n == field) {
                *v = FieldValue::Number(value);
            }
        }
        (workforce, scenario)
    }

    /// Checks every draw of a range against the joint limits, before any is run.
    pub fn check_draws(&self, draws: Range<u64>) -> Result<(), RunError> {
        draws
            .into_par_iter()
            .try_for_each(|draw| self.check(draw, &self.draw(draw)))
    }

    /// The workforce of a block: a replica of the segments for each draw, with its drawn
    /// inputs, and key values coded apart draw by draw.
    fn block_workforce(&self, draws: &[Draw]) -> Workforce {
        let copies = draws.len();
        let base = &self.base;
        let keys = base
            .keys
            .iter()
            .map(|key| {
                let size = key.dictionary.len() as u32;
                KeyColumn {
                    codes: Arc::new(
                        (0..copies as u32)
                            .flat_map(|copy| key.codes.iter().map(move |&c| c + copy * size))
                            .collect(),
                    ),
                    dictionary: Arc::new(
                        (0..copies)
                            .flat_map(|_| key.dictionary.iter().cloned())
                            .collect(),
                    ),
                }
            })
            .collect();
        let inputs = InputColumn::ALL
            .iter()
            .map(|&column| {
                let mut values = Vec::with_capacity(copies * base.len());
                for draw in draws {
                    match draw.inputs.iter().find(|(c, _)| *c == column) {
                        Some((_, drawn)) => values.extend_from_slice(drawn),
                        None => values.extend_from_slice(base.input(column).values()),
                    }
                }
                Column::new(values)
            })
            .collect();
        Workforce {
            key_names: base.key_names.clone(),
            keys,
            inputs,
        }
    }

    /// The interventions of a block: the scenario's, prepared once, repeated for each
    /// draw with its drawn fields and its own attribution weights.
    fn block_interventions<'r>(
        &self,
        prepared: &[Prepared<'r>],
        draws: &[Draw],
        wide: &Workforce,
    ) -> Vec<Prepared<'r>> {
        let copies = draws.len();
        let n = self.base.len();
        let tile = |c: &Column| {
            Column::new(
                (0..copies)
                    .flat_map(|_| c.values().iter().copied())
                    .collect(),
            )
        };
        let drawn = |index: usize, field: &str| -> Option<Column> {
            draws[0]
                .fields
                .iter()
                .any(|(i, f, _)| *i == index && f == field)
                .then(|| {
                    Column::new(
                        draws
                            .iter()
                            .flat_map(|d| {
                                d.fields
                                    .iter()
                                    .find(|(i, f, _)| *i == index && f == field)
                                    .map(|(_, _, v)| v.clone())
                                    .unwrap_or_default()
                            })
                            .collect(),
                    )
                })
        };
        let fte = wide.input(InputColumn::Fte).values();
        prepared
            .iter()
            .map(|p| {
                let matched: Vec<bool> = p.matched.values().iter().map(|&m| m != 0.0).collect();
                let on = |copy: usize| {
                    draws[copy]
                        .enabled
                        .as_ref()
                        .is_none_or(|enabled| enabled[p.index])
                };
                let weight: Vec<f64> = (0..copies)
                    .flat_map(|copy| {
                        let weights = attribution_weights(&fte[copy * n..(copy + 1) * n], &matched);
                        if on(copy) {
                            weights
                        } else {
                            vec![0.0; n]
                        }
                    })
                    .collect();
                let matched = Column::new(
                    (0..copies)
                        .flat_map(|copy| {
                            let on = on(copy);
                            p.matched
                                .values()
                                .iter()
                                .map(move |&m| if on { m } else { 0.0 })
                        })
                        .collect(),
                );
                let fields = p
                    .fields
                    .iter()
                    .map(|(name, value)| {
                        let value = if let Some(column) = drawn(p.index, name) {
                            Dynamic::from(column)
                        } else if let Some(mask) = value.read_lock::<Column>() {
                            Dynamic::from(tile(&mask))
                        } else if let Some(groups) = value.read_lock::<Groups>() {
                            Dynamic::from(groups.tiled(copies))
                        } else {
                            value.clone()
                        };
                        (name.clone(), value)
                    })
                    .collect();
                Prepared {
                    kind: p.kind,
                    name: p.name.clone(),
                    index: p.index,
                    timing: p.timing,
                    cost_per_month: p.cost_per_month,
                    cost_column: drawn(p.index, "cost_per_month"),
                    matched,
                    weight: Column::new(weight),
                    fields,
                }
            })
            .collect()
    }
}

/// Segments in one block of draws: whole draws, about [`super::PART_SEGMENTS`] segments.
pub(super) fn draws_per_block(segments: usize) -> u64 {
    (super::part_segments() / segments.max(1)).max(1) as u64
}

/// Runs the draws `draws` of a Monte Carlo scenario, handing each block's results to
/// `emit` as it finishes (see [`DrawPlan::run`]).
pub fn run_draws(
    rules: &RuleSet,
    workforce: &Workforce,
    scenario: &Scenario,
    monte_carlo: MonteCarlo,
    options: &RunOptions,
    draws: Range<u64>,
    emit: &(dyn Fn(RunResults) + Sync),
) -> Result<(), RunError> {
    DrawPlan::new(rules, workforce, scenario, monte_carlo)?.run(
        rules,
        options,
        draws,
        &|| false,
        emit,
    )
}

impl DrawPlan<'_> {
    /// The scenario whose draws these are.
    pub fn scenario(&self) -> &Scenario {
        self.scenario
    }

    /// The draws a run makes: the options' (one shard's), else draw 0 and every random draw.
    pub fn draws_to_run(&self, options: &RunOptions) -> Range<u64> {
        options
            .draws
            .clone()
            .unwrap_or(0..self.monte_carlo.draws + 1)
    }

    /// Runs the draws `draws`, handing each block's results to `emit` as it finishes (in
    /// any order: each says which draws it holds). Every draw is checked against the joint
    /// limits before any runs. A failure stops the blocks not yet started and is
    /// returned; `emit` may have seen some blocks by then. So does `stop` turning true
    /// (a cancelled run), which gives [`RunError::Stopped`].
    pub fn run(
        &self,
        rules: &RuleSet,
        options: &RunOptions,
        draws: Range<u64>,
        stop: &(dyn Fn() -> bool + Sync),
        emit: &(dyn Fn(RunResults) + Sync),
    ) -> Result<(), RunError> {
        self.check_draws(draws.clone())?;
        let prepared = prepare_all(rules, &self.base, self.scenario)?;
        let grouping = Grouping::new(&self.base, &options.detail)?;
        let step = draws_per_block(self.base.len());
        let ranges: Vec<Range<u64>> = draws
            .clone()
            .step_by(step as usize)
            .map(|first| first..(first + step).min(draws.end))
            .collect();
        let blocks = Blocks {
            rules,
            plan: self,
            prepared: &prepared,
            grouping: &grouping,
            options,
        };
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<RunError>> = Mutex::new(None);
        ranges.par_iter().for_each(|block| {
            if failed.load(Ordering::Relaxed) {
                return;
            }
            if stop() {
                failed.store(true, Ordering::Relaxed);
                let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert(RunError::Stopped);
                return;
            }
            match blocks.run(block.clone()) {
                Ok(results) => emit(results),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    first_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                }
            }
        });
        match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Every draw of a Monte Carlo scenario (draw 0 and draws 1 to `draws`, or the draws the
/// options name) as one set of results: for runs small enough to hold in memory.
pub fn run_all_draws(
    rules: &RuleSet,
    workforce: &Workforce,
    scenario: &Scenario,
    monte_carlo: MonteCarlo,
    options: &RunOptions,
) -> Result<RunResults, RunError> {
    let plan = DrawPlan::new(rules, workforce, scenario, monte_carlo)?;
    let blocks = Mutex::new(Vec::new());
    plan.run(
        rules,
        options,
        plan.draws_to_run(options),
        &|| false,
        &|block| blocks.lock().unwrap_or_else(|p| p.into_inner()).push(block),
    )?;
    let blocks = blocks.into_inner().unwrap_or_else(|p| p.into_inner());
    RunResults::join_draws(blocks)
        .ok_or_else(|| RunError::Scenario("a Monte Carlo run has at least one draw".into()))
}

/// The values of a scenario's draws, as the `draws` table stores them.
pub fn drawn_values(
    rules: &RuleSet,
    workforce: &Workforce,
    scenario: &Scenario,
    monte_carlo: MonteCarlo,
    draws: Range<u64>,
) -> Result<Vec<DrawnValue>, RunError> {
    Ok(DrawPlan::new(rules, workforce, scenario, monte_carlo)?.drawn_values(draws))
}

/// What every block of a run shares.
pub(super) struct Blocks<'p, 'a, 'r> {
    pub(super) rules: &'r RuleSet,
    pub(super) plan: &'p DrawPlan<'a>,
    pub(super) prepared: &'p [Prepared<'r>],
    pub(super) grouping: &'p Grouping,
    pub(super) options: &'p RunOptions,
}

impl Blocks<'_, '_, '_> {
    /// One block of draws as one wide run. Should a rule look across all the block's
    /// segments (`sum`, `len`, `seg.count`), or fail, the block is run again draw by
    /// draw, which gives the figures or the error a run of that draw alone gives.
    fn run(&self, draws: Range<u64>) -> Result<RunResults, RunError> {
        let wide = self.replicas(draws.clone(), true);
        if wide.is_ok() || draws.end - draws.start == 1 {
            return wide;
        }
        let one_by_one = draws
            .map(|draw| self.replicas(draw..draw + 1, false))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunResults::join_draws(one_by_one).expect("a block has a draw"))
    }

    /// The draws `draws` as replicas of the segments, run over whole columns; `apart`
    /// runs them as a part, so that no rule can add over the draws.
    fn replicas(&self, draws: Range<u64>, apart: bool) -> Result<RunResults, RunError> {
        let values: Vec<Draw> = draws.clone().map(|d| self.plan.draw(d)).collect();
        self.replicas_of(values, draws.start, apart)
    }

    /// Replicas of the segments, one for each of `values`, run over whole columns; the
    /// first is counted as draw `first`.
    pub(super) fn replicas_of(
        &self,
        values: Vec<Draw>,
        first: u64,
        apart: bool,
    ) -> Result<RunResults, RunError> {
        let Blocks {
            rules,
            plan,
            prepared,
            grouping,
            options,
        } = *self;
        let deadline = Instant::now() + options.time_budget;
        let _deadline = crate::rules::sandbox::DeadlineGuard::until(deadline);
        let copies = values.len();
        let wide = Arc::new(plan.block_workforce(&values));
        let interventions = plan.block_interventions(prepared, &values, &wide);
        let grouping = grouping.tiled(copies);
        let _apart = apart.then(|| {
            let whole: Vec<usize> = wide
                .keys
                .iter()
                .chain(&plan.base.keys)
                .map(key_identity)
                .chain([DRAW_KEY])
                .collect();
            PartGuard::enter(whole.into())
        });
        let run = Run {
            rules,
            workforce: &wide,
            scenario: plan.scenario,
            grouping: &grouping,
            prepared: &interventions,
            deadline,
        };
        let mut results = run.execute(std::slice::from_ref(&(0..wide.len())))?;
        results.draws = DrawRange {
            first,
            count: copies,
        };
        all_finite(results, &rules.flows.file)
    }
}
