//! The month loop on the rule compiler (`rules::fused`): a part of the segments whose
//! months are replayed from recorded traces, each script recorded again only in a month
//! where none of its traces holds. It gives the figures [`super::Part`] gives, from the
//! same scripts.

use std::ops::Range;
use std::sync::Arc;

use rhai::{Dynamic, Scope, INT};

use crate::model::results::METRICS;
use crate::model::scenario::Seasonality;
use crate::model::{Column, InputColumn, Workforce};
use crate::rules::fused::{
    self, Arg, Binary, Externals, Lazy, MonthParams, Node, Num, Op, Param, Program, RecordingGuard,
    SArg, ScriptTrace, Sym,
};
use crate::rules::values::Segments;
use crate::rules::{contract, RuleProblem, RuleSet};

use super::{Prepared, Run, RunError};

/// Traces kept per part. A shipped scenario needs a handful (an intervention starting or
/// ending, a cohort's intake month); past this the oldest is dropped, so a rule whose
/// control flow changes every month costs one recording a month, not unbounded memory.
const MAX_TRACES: usize = 64;
/// Month programs kept per part (each a combination of the scripts' trace shapes); past
/// this they are all dropped and compiled again as months need them.
const MAX_PROGRAMS: usize = 256;

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
    /// Each script's traces (rates, each intervention in the month's order, flows), each
    /// with the number of its shape among the script's.
    traces: Vec<Vec<(u32, ScriptTrace)>>,
    /// Each script's trace shapes seen so far, numbered in order: month programs are
    /// known by these numbers.
    shapes: Vec<Vec<Vec<fused::record::NodeKey>>>,
    /// Compiled month programs by the shapes of their scripts' traces.
    programs: rustc_hash::FxHashMap<Vec<u32>, Program>,
    /// The month's scalar values, every script's one after another.
    values: Vec<Num>,
    /// The key of last month's program.
    last_key: Vec<u32>,
    /// Every engine variable (in `fused::variables()` order) at the start of the month.
    state: Vec<Column>,
    fte: usize,
    fte_next: usize,
    /// Where each metric's variable is in the state.
    metrics: Vec<usize>,
    /// Scripts recorded, and the time recording and compiling took: reported when the
    /// part is dropped (`WFPLAN_LOG=wfplan=debug`).
    recordings: usize,
    recording_time: std::time::Duration,
    compile_time: std::time::Duration,
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
        // Rates, each intervention, flows.
        let scripts = prepared.len() + 2;
        FusedPart {
            range,
            workforce,
            months: run.scenario.months as INT,
            columns,
            externals,
            traces: (0..scripts).map(|_| Vec::new()).collect(),
            shapes: (0..scripts).map(|_| Vec::new()).collect(),
            programs: Default::default(),
            values: Vec::new(),
            last_key: Vec::new(),
            state,
            fte,
            fte_next: index("fte_next"),
            metrics: METRICS
                .iter()
                .map(|m| index(contract::variable_of(m)))
                .collect(),
            recordings: 0,
            recording_time: Default::default(),
            compile_time: Default::default(),
            prepared,
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
        // Replaying runs no rhai, whose operations count towards the deadline: check it
        // once a month, so that a long run on a large workforce stops within its budget.
        if crate::rules::sandbox::deadline_passed() {
            return Err(RunError::Rule(super::variable_problem(
                &rules.flows.file,
                "the scenario ran past its time budget and was stopped".into(),
            )));
        }
        let of_month = (calendar_month - 1) as usize;
        let params = MonthParams {
            t,
            calendar_month,
            annual_leave_season: seasonality.annual_leave[of_month],
            sickness_season: seasonality.sickness[of_month],
            ramps: self.prepared.iter().map(|p| p.timing.ramp(t)).collect(),
        };
        // Each script's trace for the month, recorded where none holds; the month's
        // program is known by the shapes of those traces.
        let mut key = Vec::with_capacity(self.traces.len());
        let mut chosen = Vec::with_capacity(self.traces.len());
        self.values.clear();
        for script in 0..self.traces.len() {
            let active = script
                .checked_sub(1)
                .and_then(|i| self.prepared.get(i))
                .is_some_and(|p| p.timing.active(t));
            let found = self.traces[script]
                .iter_mut()
                .position(|(_, trace)| trace.holds(active, &params));
            let at = match found {
                Some(at) => at,
                None => {
                    let trace = self.record(rules, script, &params, active)?;
                    let shape = self.shape_of(script, &trace);
                    let traces = &mut self.traces[script];
                    if traces.len() == MAX_TRACES {
                        traces.remove(0);
                    }
                    traces.push((shape, trace));
                    traces.len() - 1
                }
            };
            let (shape, trace) = &self.traces[script][at];
            key.push(*shape);
            chosen.push(at);
            self.values.extend_from_slice(trace.values());
        }
        if !self.programs.contains_key(&key) {
            if self.programs.len() >= MAX_PROGRAMS {
                self.programs.clear();
            }
            let chosen: Vec<&ScriptTrace> = chosen
                .iter()
                .enumerate()
                .map(|(script, &at)| &self.traces[script][at].1)
                .collect();
            let started = std::time::Instant::now();
            self.programs.insert(key.clone(), fused::compose(&chosen));
            self.compile_time += started.elapsed();
        }
        let leaves = fused::Leaves {
            inputs: &self.workforce.inputs,
            externals: &self.externals.columns,
            state: &self.state,
        };
        if key != self.last_key {
            // Another program this month: last month's lets its kept columns go (a part
            // holding every program's would hold a copy of its data per program).
            if let Some(last) = self.programs.get_mut(&self.last_key) {
                last.release();
            }
            self.last_key = key.clone();
        }
        let program = self.programs.get_mut(&key).expect("compiled above");
        let mut outputs = program.run(self.range.len(), &self.values, &leaves);
        let figures = self.metrics.iter().map(|&m| outputs[m].clone()).collect();
        outputs[self.fte] = outputs[self.fte_next].clone();
        let last_month = std::mem::replace(&mut self.state, outputs);
        program.recycle(last_month);
        Ok(figures)
    }

    /// The number of `trace`'s shape among `script`'s, numbering it if it is new. Done once,
    /// when a trace is recorded, not each month it is replayed.
    fn shape_of(&mut self, script: usize, trace: &ScriptTrace) -> u32 {
        let shapes = &mut self.shapes[script];
        let at = shapes
            .iter()
            .position(|s| s.as_slice() == trace.shape())
            .unwrap_or_else(|| {
                shapes.push(trace.shape().to_vec());
                shapes.len() - 1
            });
        at as u32
    }

    /// Records one script (0 rates, then each intervention, then flows) on stand-in values,
    /// as `Part::month_observed` runs it, its inputs being the engine's variables as the
    /// scripts before it leave them.
    fn record(
        &mut self,
        rules: &RuleSet,
        script: usize,
        params: &MonthParams,
        active: bool,
    ) -> Result<ScriptTrace, RunError> {
        self.recordings += 1;
        let started = std::time::Instant::now();
        let recording =
            RecordingGuard::start(self.range.len(), std::mem::take(&mut self.externals));
        let result = self.record_script(rules, script, params, active, &recording);
        let finished = recording.finish();
        match result {
            Ok(outputs) => {
                let (trace, externals) = ScriptTrace::new(finished, outputs, active);
                self.externals = externals;
                self.recording_time += started.elapsed();
                Ok(trace)
            }
            Err(e) => {
                self.externals = finished.externals;
                Err(e)
            }
        }
    }

    fn record_script(
        &self,
        rules: &RuleSet,
        script: usize,
        params: &MonthParams,
        active: bool,
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
            scope.push(name, node(Node::Var(i as u32)));
        }
        let base = scope.len();
        let checked: Vec<&str> = contract::MONTH_STATE
            .iter()
            .chain(&contract::ACCUMULATORS)
            .chain(&["fte"])
            .copied()
            .collect();

        let flows = self.prepared.len() + 1;
        if script == 0 {
            rules.record(&rules.rates, &mut scope)?;
            scope.rewind(base);
            keep_columns(&mut scope, &checked, recording, &rules.rates.file)?;
        } else if script == flows {
            rules.record(&rules.flows, &mut scope)?;
            scope.rewind(base);
        } else {
            let i = script - 1;
            let (p, columns) = (&self.prepared[i], &self.columns[i]);
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
                let share =
                    recording.with(|r| r.op(Op::Binary(Binary::Mul), vec![per_month, weight]));
                let charged = recording.with(|r| {
                    r.op(
                        Op::Binary(Binary::Add),
                        vec![Arg::Col(cost.0), Arg::Col(share.0)],
                    )
                });
                scope.set_value("intervention_cost", charged);
            }
            scope.rewind(base);
            keep_columns(&mut scope, &checked, recording, &p.kind.script.file)?;
        }
        let file = match script {
            0 => &rules.rates.file,
            s if s == flows => &rules.flows.file,
            s => &self.prepared[s - 1].kind.script.file,
        };
        engine_variables(&scope)
            .zip(fused::variables())
            .map(|(value, name)| Ok(Arg::Col(lazy_of(Some(value), name, recording, file)?.0)))
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
    // Mostly every variable is a column already: only the others are looked up and set.
    let others: Vec<&str> = engine_variables(scope)
        .zip(fused::variables())
        .filter(|(value, name)| names.contains(name) && !value.is::<Lazy>())
        .map(|(_, name)| name)
        .collect();
    for name in others {
        let lazy = lazy_of(scope.get(name), name, recording, file)?;
        scope.set_value(name, lazy);
    }
    Ok(())
}

/// The engine's variables, in `fused::variables()` order: pushed last before the scripts
/// run, so after the scope is rewound they are its last entries (`iter_raw` gives the
/// entries last first).
fn engine_variables<'s>(scope: &'s Scope) -> std::iter::Rev<std::vec::IntoIter<&'s Dynamic>> {
    let count = fused::variables().count();
    let last_first: Vec<&Dynamic> = scope
        .iter_raw()
        .take(count)
        .map(|(_, _, value)| value)
        .collect();
    last_first.into_iter().rev()
}

/// A variable's value as a recorded column: a number stands for itself in every segment.
/// Anything else is a problem (the interpreter then reports it in its own words).
fn lazy_of(
    value: Option<&Dynamic>,
    name: &str,
    recording: &RecordingGuard,
    file: &str,
) -> Result<Lazy, RuleProblem> {
    let value = super::present(value, name, file)?;
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
    Err(super::variable_problem(
        file,
        format!(
            "`{name}` must be a column or a number, not {}",
            value.type_name()
        ),
    ))
}

/// Says, once per scenario and reason, that a scenario ran on the interpreter because
/// the rule compiler could not record its rules: the figures are the same, the run slower.
pub(super) fn note_interpreted(scenario: &str, reason: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let reason = reason.replace("Runtime error: ", "");
    let key = format!("{scenario}\u{0}{reason}");
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.len() < 1000 && !seen.contains(&key) {
        seen.push(key);
        tracing::warn!(
            "scenario '{scenario}' ran on the rule interpreter (slower, same figures): {reason}"
        );
    }
}

/// Says how much recording and compiling a part needed (`WFPLAN_LOG=wfplan=debug`).
impl Drop for FusedPart<'_> {
    fn drop(&mut self) {
        tracing::debug!(
            "rule compiler, segments {:?}: {} scripts recorded in {:?}, {} month programs compiled in {:?}, traces per script {:?}",
            self.range,
            self.recordings,
            self.recording_time,
            self.programs.len(),
            self.compile_time,
            self.traces.iter().map(|t| t.len()).collect::<Vec<_>>()
        );
    }
}
