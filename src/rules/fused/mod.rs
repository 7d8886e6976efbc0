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
//! Each script is recorded on its own ([`ScriptTrace`]), its inputs being the engine's
//! variables as the scripts before it leave them. A trace holds for every month where the
//! script's control flow goes the same way: it keeps the questions the script asked of
//! the month (its guards) and the expressions of the numbers that vary, and is replayed
//! wherever the answers are the same. A month no trace of a script fits records that
//! script again (a pipeline whose cohorts change records its own lines, not the month's).
//! The month's program is [`compose`]d from one trace per script and kept by the traces'
//! shapes, so traces that differ only in their numbers share it. Anything the recorder
//! does not handle (a segment index, `sum`, a `switch`, an operator on numbers it does
//! not mirror) fails the recording, and the engine runs the scenario on the interpreter
//! instead (`engine::Run::execute`): same figures, slower.
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

pub use program::{Leaves, Program};
pub use record::{
    Arg, Binary, Externals, Guard, Lazy, Node, Num, Op, Param, Recording, RecordingGuard, SArg,
    Sym, Unary,
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

/// One script's recording, ready to replay: the script's guards, its numbers, and its
/// column operations on the engine variables as it found them.
#[derive(Debug)]
pub struct ScriptTrace {
    /// For an intervention, whether it acted in the recorded month: the engine gives
    /// `active` as a plain boolean, so it is part of the trace's key rather than a guard.
    pub active: bool,
    scalars: Vec<record::Scalar>,
    masks: Vec<u64>,
    guards: Vec<Guard>,
    /// The scalar nodes' values in the month last checked.
    values: Vec<Num>,
    nodes: Vec<Node>,
    /// Every engine variable after the script, in [`variables`] order.
    outputs: Vec<Arg>,
    /// The trace's shape: its nodes and outputs with numbers left out. Traces of one
    /// script with the same shape share compiled programs.
    shape: Vec<record::NodeKey>,
}

impl ScriptTrace {
    /// A recording of one script whose engine variables end as `outputs`.
    pub fn new(recording: Recording, outputs: Vec<Arg>, active: bool) -> (ScriptTrace, Externals) {
        let mut shape: Vec<record::NodeKey> =
            recording.nodes.iter().map(record::node_key).collect();
        shape.extend(outputs.iter().map(|a| match a {
            Arg::Col(id) => (255, *id as usize, [(0, 0); 4]),
            Arg::Scalar(_) => unreachable!("outputs are columns"),
        }));
        // The scalars' masks decide how the program is grouped: part of the shape.
        shape.extend(
            recording
                .scalar_masks
                .iter()
                .map(|&m| (254, 0, [(0, m); 4])),
        );
        let trace = ScriptTrace {
            active,
            scalars: recording.scalars,
            masks: recording.scalar_masks,
            guards: recording.guards,
            values: recording.scalar_values,
            nodes: recording.nodes,
            outputs,
            shape,
        };
        (trace, recording.externals)
    }

    /// Does the trace hold for the month of `params`: is every guard's answer the same?
    /// Works out the month's scalar values on the way.
    pub fn holds(&mut self, active: bool, params: &MonthParams) -> bool {
        if self.active != active {
            return false;
        }
        let mut guards = self.guards.iter().peekable();
        for i in 0..=self.scalars.len() {
            let values = &self.values;
            let value = |a: SArg| match a {
                SArg::Node(id) => values[id as usize],
                SArg::Const(n) => n,
            };
            while let Some(guard) = guards.next_if(|g| g.scalars as usize == i) {
                if record::test(&guard.test, value) != Some(guard.answer) {
                    return false;
                }
            }
            if i < self.scalars.len() {
                match record::evaluate(&self.scalars[i], |p| params.value(p), value) {
                    Some(v) => self.values[i] = v,
                    None => return false,
                }
            }
        }
        true
    }

    pub fn shape(&self) -> &[record::NodeKey] {
        &self.shape
    }

    /// The scalar values of the month last checked.
    pub fn values(&self) -> &[Num] {
        &self.values
    }
}

/// The month's program made of one trace per script, in the order they run: each
/// script's inputs are what the one before it left, and common subexpressions are shared
/// across scripts. The program reads the traces' scalar values one after another.
pub fn compose(traces: &[&ScriptTrace]) -> Program {
    let mut nodes: Vec<Node> = Vec::new();
    let mut seen: rustc_hash::FxHashMap<record::NodeKey, u32> = Default::default();
    let mut intern = |node: Node, nodes: &mut Vec<Node>| -> u32 {
        *seen.entry(record::node_key(&node)).or_insert_with(|| {
            nodes.push(node);
            (nodes.len() - 1) as u32
        })
    };
    let zero = intern(
        Node::Op(Op::Fill, vec![Arg::Scalar(SArg::Const(Num::Float(0.0)))]),
        &mut nodes,
    );
    let mut vars: Vec<u32> = variables()
        .enumerate()
        .map(|(i, name)| {
            if contract::ACCUMULATORS.contains(&name) {
                zero
            } else {
                intern(Node::State(i as u32), &mut nodes)
            }
        })
        .collect();
    let mut masks = Vec::new();
    for trace in traces {
        let offset = masks.len() as u32;
        masks.extend(&trace.masks);
        let mut map = Vec::with_capacity(trace.nodes.len());
        for node in &trace.nodes {
            let global = match node {
                Node::Var(v) => vars[*v as usize],
                Node::Op(op, args) => {
                    let args = args
                        .iter()
                        .map(|a| match *a {
                            Arg::Col(id) => Arg::Col(map[id as usize]),
                            Arg::Scalar(SArg::Node(s)) => Arg::Scalar(SArg::Node(s + offset)),
                            other => other,
                        })
                        .collect();
                    intern(Node::Op(op.clone(), args), &mut nodes)
                }
                leaf => intern(leaf.clone(), &mut nodes),
            };
            map.push(global);
        }
        vars = trace
            .outputs
            .iter()
            .map(|a| match *a {
                Arg::Col(id) => map[id as usize],
                Arg::Scalar(_) => unreachable!("outputs are columns"),
            })
            .collect();
    }
    let outputs: Vec<Arg> = vars.into_iter().map(Arg::Col).collect();
    Program::compile(&nodes, &masks, &outputs)
}
