//! The month loop on the rule compiler (`rules::fused`): a part of the segments whose
//! months are replayed from recorded traces, recording a month again only where no trace
//! holds. It gives the figures [`super::Part`] gives, from the same scripts.

use std::ops::Range;
use std::sync::Arc;

use rhai::{Dynamic, Scope, INT};

use crate::model::results::METRICS;
use crate::model::scenario::Seasonality;
use crate::model::{Column, InputColumn, Workforce};
use crate::rules::fused::{
    self, Arg, Externals, Lazy, MonthParams, Node, Num, Op, Param, RecordingGuard, SArg, Sym, Trace,
};
use crate::rules::values::Segments;
use crate::rules::{contract, RuleProblem, RuleSet};

use super::{Prepared, Run, RunError};

/// Traces kept per part. A shipped scenario needs a handful (an intervention starting or
/// ending, a cohort's intake month); past this the oldest is dropped, so a rule whose
/// control flow changes every month costs one recording a month, not unbounded memory.
const MAX_TRACES: usize = 64;

/// The externals of one intervention: where its engine-given columns are.
struct InterventionColumns {
    matched: u32,
    weight: u32,
    cost: Option<u32>,
    /// A filter field's mask, by the field's place in `Prepared::fields`.
    masks: Vec<Option<u32>>,
}

/// One part of a run on the rule compiler.
pub(super) struct FusedPart<'r> {
    pub(super) range: Range<usize>,
    workforce: Arc<Workforce>,
    months: INT,
    prepared: Vec<Prepared<'r>>,
    columns: Vec<InterventionColumns>,
    externals: Externals,
    traces: Vec<Trace>,
    /// Every engine variable (in `fused::variables()` order) at the start of the month.
    state: Vec<Column>,
    fte: usize,
    fte_next: usize,
    /// Where each metric's variable is in the state.
    metrics: Vec<usize>,
    /// Months recorded rather than replayed: for tests and reports.
    pub(super) recordings: usize,
}

impl<'r> FusedPart<'r> {
    pub(super) fn new(
        run: &Run<'_, 'r>,
        range: Range<usize>,
        workforce: Arc<Workforce>,
        prepared: Vec<Prepared<'r>>,
    ) -> Self {
        let segments = range.len();
        let mut externals = Externals::default();
        let columns = prepared
            .iter()
            .map(|p| InterventionColumns {
                matched: externals.push(p.matched.clone()),
                weight: externals.push(p.weight.clone()),
                cost: p.cost_column.clone().map(|c| externals.push(c)),
                masks: p
                    .fields
                    .iter()
                    .map(|(_, value)| {
                        value
                            .read_lock::<Column>()
                            .map(|mask| externals.push(mask.clone()))
                    })
                    .collect(),
            })
            .collect();
        let index = |name: &str| fused::variable_index(name).expect("an engine variable");
        let zeros = Column::filled(segments, 0.0);
        let mut state: Vec<Column> = fused::variables().map(|_| zeros.clone()).collect();
        let fte = index("fte");
        state[fte] = workforce.input(InputColumn::Fte).clone();
        FusedPart {
            range,
            workforce,
            months: run.scenario.months as INT,
            prepared,
            columns,
            externals,
            traces: Vec::new(),
            state,
            fte,
            fte_next: index("fte_next"),
            metrics: METRICS
                .iter()
                .map(|m| index(contract::variable_of(m)))
                .collect(),
            recordings: 0,
        }
    }

    /// Runs month `t` and gives its figures, in `METRICS` order.
    pub(super) fn month(
        &mut self,
        rules: &RuleSet,
        t: INT,
        calendar_month: INT,
        seasonality: &Seasonality,
    ) -> Result<Vec<Column>, RunError> {
        let of_month = (calendar_month - 1) as usize;
        let params = MonthParams {
            t,
            calendar_month,
            annual_leave_season: seasonality.annual_leave[of_month],
            sickness_season: seasonality.sickness[of_month],
            ramps: self.prepared.iter().map(|p| p.timing.ramp(t)).collect(),
        };
        let actives: Vec<bool> = self.prepared.iter().map(|p| p.timing.active(t)).collect();
        let found = self
            .traces
            .iter_mut()
            .position(|trace| trace.holds(&actives, &params));
        let at = match found {
            Some(at) => at,
            None => {
                let trace = self.record(rules, &params, actives)?;
                if self.traces.len() == MAX_TRACES {
                    self.traces.remove(0);
                }
                self.traces.push(trace);
                self.traces.len() - 1
            }
        };
        let leaves = fused::Leaves {
            inputs: &self.workforce.inputs,
            externals: &self.externals.columns,
            state: &self.state,
        };
        let mut outputs = self.traces[at].run(self.range.len(), &leaves);
        let figures = self.metrics.iter().map(|&m| outputs[m].clone()).collect();
        outputs[self.fte] = outputs[self.fte_next].clone();
        self.state = outputs;
        Ok(figures)
    }

    /// Records month `params.t`: rates, each intervention, flows, as the interpreter runs
    /// them (see `Part::month_observed`), on stand-in values.
    fn record(
        &mut self,
        rules: &RuleSet,
        params: &MonthParams,
        actives: Vec<bool>,
    ) -> Result<Trace, RunError> {
        self.recordings += 1;
        let segments = self.range.len();
        let recording = RecordingGuard::start(segments, std::mem::take(&mut self.externals));
        let result = self.record_month(rules, params, &recording);
        let finished = recording.finish();
        match result {
            Ok(outputs) => {
                let (trace, externals) = Trace::new(finished, &outputs, actives);
                self.externals = externals;
                Ok(trace)
            }
            Err(e) => {
                self.externals = finished.externals;
                Err(e)
            }
        }
    }

    fn record_month(
        &self,
        rules: &RuleSet,
        params: &MonthParams,
        recording: &RecordingGuard,
    ) -> Result<Vec<Arg>, RunError> {
        let node = |n: Node| recording.with(|r| r.node(n));
        let param = |p: Param| recording.with(|r| r.param(p, params.value(p)));
        let zeros = recording.with(|r| r.op(Op::Fill, vec![constant(0.0)]));

        let mut scope = Scope::new();
        scope.push_constant("seg", Segments(self.workforce.clone()));
        scope.push_constant("months", self.months);
        scope.push_constant("zeros", zeros);
        scope.push("t", param(Param::T));
        scope.push("calendar_month", param(Param::CalendarMonth));
        scope.push("annual_leave_season", param(Param::AnnualLeaveSeason));
        scope.push("sickness_season", param(Param::SicknessSeason));
        for (i, name) in fused::variables().enumerate() {
            let value = if contract::ACCUMULATORS.contains(&name) {
                zeros
            } else {
                node(Node::State(i as u32))
            };
            scope.push(name, value);
        }
        let base = scope.len();
        let checked: Vec<&str> = contract::MONTH_STATE
            .iter()
            .chain(&contract::ACCUMULATORS)
            .chain(&["fte"])
            .copied()
            .collect();

        rules.record(&rules.rates, &mut scope)?;
        scope.rewind(base);
        keep_columns(&mut scope, &checked, recording, &rules.rates.file)?;
        for (i, (p, columns)) in self.prepared.iter().zip(&self.columns).enumerate() {
            let active = p.timing.active(params.t);
            scope.push_constant("ramp", param(Param::Ramp(i as u32)));
            scope.push_constant("active", active);
            scope.push_constant("matched", node(Node::External(columns.matched)));
            scope.push_constant("weight", node(Node::External(columns.weight)));
            scope.push_constant("timing", p.timing);
            for ((name, value), mask) in p.fields.iter().zip(&columns.masks) {
                let value = match mask {
                    Some(id) => Dynamic::from(node(Node::External(*id))),
                    None => value.clone(),
                };
                scope.push_constant_dynamic(name.as_str(), value);
            }
            rules.record(&p.kind.script, &mut scope)?;
            // The engine's charge of `cost_per_month`, as `run_intervention` makes it.
            if active && (p.cost_per_month != 0.0 || p.cost_column.is_some()) {
                let file = &p.kind.script.file;
                let cost = lazy_of(
                    scope.get("intervention_cost"),
                    "intervention_cost",
                    recording,
                    file,
                )?;
                let per_month = match columns.cost {
                    Some(id) => Arg::Col(node(Node::External(id)).0),
                    None => constant(p.cost_per_month),
                };
                let weight = Arg::Col(node(Node::External(columns.weight)).0);
                let share = recording.with(|r| r.op(Op::Mul, vec![per_month, weight]));
                let charged =
                    recording.with(|r| r.op(Op::Add, vec![Arg::Col(cost.0), Arg::Col(share.0)]));
                scope.set_value("intervention_cost", charged);
            }
            scope.rewind(base);
            keep_columns(&mut scope, &checked, recording, &p.kind.script.file)?;
        }
        rules.record(&rules.flows, &mut scope)?;
        scope.rewind(base);

        fused::variables()
            .map(|name| {
                let value = scope.get(name);
                Ok(Arg::Col(
                    lazy_of(value, name, recording, &rules.flows.file)?.0,
                ))
            })
            .collect()
    }
}

fn constant(x: f64) -> Arg {
    Arg::Scalar(SArg::Const(Num::Float(x)))
}

/// After a script: each checked variable as a column, numbers made columns, as
/// `keep_state_columns` does for the interpreter.
fn keep_columns(
    scope: &mut Scope,
    names: &[&str],
    recording: &RecordingGuard,
    file: &str,
) -> Result<(), RuleProblem> {
    for name in names {
        let lazy = lazy_of(scope.get(name), name, recording, file)?;
        scope.set_value(*name, lazy);
    }
    Ok(())
}

/// A variable's value as a recorded column: a number stands for itself in every segment.
/// Anything else is a problem (the interpreter then reports it in its own words).
fn lazy_of(
    value: Option<&Dynamic>,
    name: &str,
    recording: &RecordingGuard,
    file: &str,
) -> Result<Lazy, RuleProblem> {
    let problem = |message: String| RuleProblem {
        file: file.to_string(),
        line: None,
        column: None,
        message,
    };
    let value = value.ok_or_else(|| problem(format!("the variable `{name}` is missing")))?;
    if let Some(lazy) = value.read_lock::<Lazy>() {
        return Ok(*lazy);
    }
    let fill = |arg: Arg| recording.with(|r| r.op(Op::Fill, vec![arg]));
    if let Ok(x) = value.as_float() {
        return Ok(fill(constant(x)));
    }
    if let Ok(i) = value.as_int() {
        return Ok(fill(constant(i as f64)));
    }
    if let Some(sym) = value.read_lock::<Sym>() {
        return Ok(fill(Arg::Scalar(SArg::Node(sym.id))));
    }
    Err(problem(format!(
        "`{name}` must be a column or a number, not {}",
        value.type_name()
    )))
}

/// Says, once per scenario and reason, that a scenario ran on the interpreter because
/// the rule compiler could not record its rules: the figures are the same, the run slower.
pub(super) fn note_interpreted(scenario: &str, reason: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let key = format!("{scenario}\u{0}{reason}");
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.len() < 1000 && !seen.contains(&key) {
        seen.push(key);
        tracing::warn!(
            "scenario '{scenario}' ran on the rule interpreter (slower, same figures): {reason}"
        );
    }
}
