//! The rule compiler: a month of rules recorded once as a program of column operations,
//! then replayed month after month as fused kernels, without the interpreter.
//!
//! The interpreter runs every statement of every rule each month, and each column
//! statement streams whole columns through memory. Here rhai runs the same scripts on
//! stand-in values ([`record`]): the scalar work (timing, ramps, field values) runs as
//! written, and every column operation appends a node to the month's program instead of
//! computing. The program is compiled ([`program`]) into kernels that run over blocks of
//! segments with their intermediates in cache, with common subexpressions shared and the
//! columns that do not change from month to month computed once.
//!
//! A recording holds for every month where the script's control flow goes the same way:
//! the [`Trace`] keeps the questions the scripts asked of the month (its guards) and the
//! expressions of the numbers that vary, and is replayed wherever the answers are the
//! same. A month no trace fits is recorded again. Anything the recorder does not handle
//! (a segment index, `sum`, a `switch`, an operator on numbers it does not mirror) fails
//! the recording, and the engine runs the scenario on the interpreter instead
//! (`engine::Run::execute`): same figures, slower.
//!
//! Invariants:
//! - every column node computes what the interpreter's operation computes, on the same
//!   operands in the same order: compiled and interpreted figures are equal to the bit;
//! - a trace is replayed only in a month where every guard gives its recorded answer,
//!   and every scalar it replays is recomputed from that month's params;
//! - recording runs under the sandbox's limits (operations, time budget), as the
//!   interpreter does.

pub mod program;
pub mod record;

use rhai::Engine;

use crate::model::Column;
pub use program::{Leaves, Program, Stats};
pub use record::{
    Arg, Externals, Guard, Lazy, Node, Num, Op, Param, Recording, RecordingGuard, SArg, Sym,
};

use super::contract;

/// The engine's variables of a month, in the order of a trace's outputs and state.
pub fn variables() -> impl Iterator<Item = &'static str> {
    contract::MONTH_STATE
        .iter()
        .chain(&contract::ACCUMULATORS)
        .chain(&contract::FLOWS)
        .chain(&["fte"])
        .copied()
}

/// The place of `name` in [`variables`].
pub fn variable_index(name: &str) -> Option<usize> {
    variables().position(|v| v == name)
}

/// The engine that records rules: rhai's standard library, the sandbox's limits, and
/// the recording operations in place of the column operations.
pub fn new_engine() -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(rhai::packages::Package::as_shared_module(
        &rhai::packages::StandardPackage::new(),
    ));
    super::sandbox::apply_limits(&mut engine);
    record::register(&mut engine);
    engine
}

/// Can the recorder be trusted with this script? rhai's `switch` matches a value it
/// cannot hash (a month number stand-in) against no case and silently takes the default,
/// so a script with `switch` runs on the interpreter.
pub fn compilable(source: &str) -> Result<(), String> {
    let mut words = source
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    if words.any(|w| w == "switch") {
        return Err("`switch` is not supported by the rule compiler".into());
    }
    Ok(())
}

/// The numbers a month gives the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthParams {
    pub t: i64,
    pub calendar_month: i64,
    pub annual_leave_season: f64,
    pub sickness_season: f64,
    /// Each intervention's ramp, in the month's order.
    pub ramps: Vec<f64>,
}

impl MonthParams {
    pub fn value(&self, param: Param) -> Num {
        match param {
            Param::T => Num::Int(self.t),
            Param::CalendarMonth => Num::Int(self.calendar_month),
            Param::AnnualLeaveSeason => Num::Float(self.annual_leave_season),
            Param::SicknessSeason => Num::Float(self.sickness_season),
            Param::Ramp(i) => Num::Float(self.ramps[i as usize]),
        }
    }
}

/// A recorded month, ready to replay.
#[derive(Debug)]
pub struct Trace {
    /// Which interventions acted in the recorded month (`if active` is not a guard: the
    /// engine gives `active` as a plain boolean, so it is part of every trace's key).
    pub actives: Vec<bool>,
    scalars: Vec<record::Scalar>,
    guards: Vec<Guard>,
    /// The scalar nodes' values in the month last checked.
    values: Vec<Num>,
    program: Program,
}

impl Trace {
    /// Compiles a recording whose engine variables end as `outputs`.
    pub fn new(recording: Recording, outputs: &[Arg], actives: Vec<bool>) -> (Trace, Externals) {
        let program = Program::compile(&recording.nodes, &recording.scalar_masks, outputs);
        let trace = Trace {
            actives,
            scalars: recording.scalars,
            guards: recording.guards,
            values: recording.scalar_values,
            program,
        };
        (trace, recording.externals)
    }

    /// Does the trace hold for the month of `params`: is every guard's answer the same?
    /// Works out the month's scalar values on the way.
    pub fn holds(&mut self, actives: &[bool], params: &MonthParams) -> bool {
        if self.actives != actives {
            return false;
        }
        let mut guards = self.guards.iter().peekable();
        for i in 0..=self.scalars.len() {
            while let Some(guard) = guards.next_if(|g| g.scalars as usize == i) {
                let value = |a: SArg| match a {
                    SArg::Node(id) => self.values[id as usize],
                    SArg::Const(n) => n,
                };
                if record::test(&guard.test, value) != Some(guard.answer) {
                    return false;
                }
            }
            if i < self.scalars.len() {
                let value = |a: SArg| match a {
                    SArg::Node(id) => self.values[id as usize],
                    SArg::Const(n) => n,
                };
                match record::evaluate(&self.scalars[i], |p| params.value(p), value) {
                    Some(v) => self.values[i] = v,
                    None => return false,
                }
            }
        }
        true
    }

    /// Runs the month last checked with [`holds`](Self::holds).
    pub fn run(&mut self, len: usize, leaves: &Leaves) -> Vec<Column> {
        self.program.run(len, &self.values, leaves)
    }

    pub fn stats(&self) -> Stats {
        self.program.stats
    }
}
