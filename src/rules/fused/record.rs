//! Recording a month of rules: the values scripts see while they are traced, and the
//! functions registered on them, which append to a [`Recording`] instead of computing.
//!
//! Two value types stand in for the interpreter's:
//! - [`Lazy`], a column not yet computed: a node of the month's column program.
//! - [`Sym`], a number that depends on the month (`t`, `calendar_month`, `ramp`, the
//!   seasonal factors and anything computed from them). It carries this month's value,
//!   so the script's control flow runs as the interpreter would run it, and the
//!   expression that gives it, so the recorded program can be replayed in another month.
//!
//! Whenever a script turns a `Sym` into something it branches on (a comparison, a range,
//! `timing.starts(...)`), the recording keeps a [`Guard`]: the trace is valid for another
//! month only if every guard gives the same answer there. Every operation registered here
//! mirrors the interpreter's to the bit; anything not registered fails the recording, and
//! the engine then runs the scenario on the interpreter.

use std::cell::RefCell;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FLOAT, INT};
use rustc_hash::FxHashMap;

use crate::model::{Column, InputColumn, KeyColumn};
use crate::rules::columns::{self, Groups};
use crate::rules::values::Timing;

/// A column of the month's program, by node index.
#[derive(Debug, Clone, Copy)]
pub struct Lazy(pub(crate) u32);

/// A number that depends on the month: this month's value and the scalar node giving it.
#[derive(Debug, Clone, Copy)]
pub struct Sym {
    pub(crate) id: u32,
    pub(crate) value: Num,
}

/// A script number: rhai's integer or float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(INT),
    Float(FLOAT),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(x) => x,
        }
    }
}

/// What a month's recording may depend on besides the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    T,
    CalendarMonth,
    AnnualLeaveSeason,
    SicknessSeason,
    /// The ramp of the intervention at this place in the month's order.
    Ramp(u32),
}

impl Param {
    /// The bit of the param in a dependency mask; ramps past the 60th share the last bit
    /// (a coarser mask only groups more columns together).
    pub fn bit(self) -> u64 {
        1 << match self {
            Param::T => 0,
            Param::CalendarMonth => 1,
            Param::AnnualLeaveSeason => 2,
            Param::SicknessSeason => 3,
            Param::Ramp(i) => 4 + i.min(59),
        }
    }
}

/// An operand of a scalar node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SArg {
    Node(u32),
    Const(Num),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarBin {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarUn {
    Neg,
    Exp,
    Ln,
    Sqrt,
    Abs,
}

/// A number computed from the month's params.
#[derive(Debug, Clone, Copy)]
pub enum Scalar {
    /// A number the script computed without the month's params (or from them through
    /// control flow, which the guards pin): fixed for the trace, but a value of its own,
    /// so that traces differing only in such numbers share one compiled program.
    Const(Num),
    Param(Param),
    Binary(ScalarBin, SArg, SArg),
    Unary(ScalarUn, SArg),
    TimingRamp(Timing, SArg),
    TimingCalendarMonth(Timing, SArg),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

/// A yes-or-no question about the month that the script's control flow depended on.
#[derive(Debug, Clone, Copy)]
pub enum Test {
    Compare(Cmp, SArg, SArg),
    Starts(Timing, SArg),
    Active(Timing, SArg),
}

/// A test and the answer it gave when the month was recorded. `scalars` is how many
/// scalar nodes existed then: the nodes a test may read.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    pub test: Test,
    pub answer: bool,
    pub scalars: u32,
}

/// Operations of a column node on two operands, segment by segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Pow,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
    And,
    Or,
}

/// Operations of a column node on one operand, segment by segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unary {
    Neg,
    Not,
    Exp,
    Ln,
    Sqrt,
    Abs,
}

/// The operation of a column node: segment by segment, or across segments.
#[derive(Debug, Clone)]
pub enum Op {
    Binary(Binary),
    Unary(Unary),
    /// `where(mask, a, b)`.
    Where,
    /// A scalar in every segment (`column(like, x)`, or a number left in a state variable).
    Fill,
    GroupHas(KeyColumn),
    Spread(KeyColumn),
    GroupHasOther(Groups),
    SpreadToOthers(Groups),
}

impl Op {
    /// Does the operation look across segments? Such an operation needs its operands
    /// whole, so it ends a fused stage.
    pub fn is_barrier(&self) -> bool {
        matches!(
            self,
            Op::GroupHas(_) | Op::Spread(_) | Op::GroupHasOther(_) | Op::SpreadToOthers(_)
        )
    }

    /// A number for the operation and, for cross-segment ones, the identity of their
    /// groups: two nodes with equal keys and operands compute the same column.
    fn key(&self) -> (u8, usize) {
        match self {
            Op::Binary(b) => (*b as u8, 0),
            Op::Unary(u) => (20 + *u as u8, 0),
            Op::Where => (30, 0),
            Op::Fill => (31, 0),
            Op::GroupHas(k) => (40, columns::key_identity(k)),
            Op::Spread(k) => (41, columns::key_identity(k)),
            Op::GroupHasOther(g) => (42, g.identity()),
            Op::SpreadToOthers(g) => (43, g.identity()),
        }
    }
}

/// An operand of a column node: another node, or a number in every segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg {
    Col(u32),
    Scalar(SArg),
}

/// A node of the month's column program.
#[derive(Debug, Clone)]
pub enum Node {
    /// An input column of the segments.
    Input(InputColumn),
    /// A column the engine or a filter made (`matched`, `weight`, a field's mask).
    External(u32),
    /// An engine variable's value at the start of the month (in `super::variables()`
    /// order): last month's value, or for `fte` last month's `fte_next`.
    State(u32),
    /// An engine variable's value when the recorded script starts: whatever the scripts
    /// before it in the month left there. Replaced when a month is put together.
    Var(u32),
    Op(Op, Vec<Arg>),
}

/// Columns fixed for a part's whole run that scripts name: interventions' masks and
/// weights, and the masks of key comparisons, kept across recordings so that every
/// trace names a column by the same number.
#[derive(Debug, Default)]
pub struct Externals {
    pub columns: Vec<Column>,
    by_key: FxHashMap<String, u32>,
}

impl Externals {
    /// Adds a column the engine gives a script.
    pub fn push(&mut self, column: Column) -> u32 {
        self.columns.push(column);
        (self.columns.len() - 1) as u32
    }

    /// The column known by `key`, made by `make` the first time.
    fn interned(&mut self, key: String, make: impl FnOnce() -> Column) -> u32 {
        if let Some(&id) = self.by_key.get(&key) {
            return id;
        }
        let id = self.push(make());
        self.by_key.insert(key, id);
        id
    }
}

pub type NodeKey = (u8, usize, [(u8, u64); 4]);

/// Everything one month's rules did, as programs.
#[derive(Debug)]
pub struct Recording {
    /// Segments in the part.
    pub len: usize,
    pub scalars: Vec<Scalar>,
    /// Each scalar node's value this month and its param mask.
    pub scalar_values: Vec<Num>,
    pub scalar_masks: Vec<u64>,
    pub guards: Vec<Guard>,
    pub nodes: Vec<Node>,
    pub externals: Externals,
    seen: FxHashMap<NodeKey, u32>,
}

thread_local! {
    static RECORDING: RefCell<Option<Recording>> = const { RefCell::new(None) };
}

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// Runs `f` on this thread's recording.
fn with<T>(f: impl FnOnce(&mut Recording) -> Fallible<T>) -> Fallible<T> {
    RECORDING.with(|r| match r.borrow_mut().as_mut() {
        Some(recording) => f(recording),
        None => Err("a traced value was used outside a recording".into()),
    })
}

/// Records on this thread until dropped; [`RecordingGuard::finish`] takes the recording.
pub struct RecordingGuard(());

impl RecordingGuard {
    pub fn start(len: usize, externals: Externals) -> Self {
        RECORDING.with(|r| {
            *r.borrow_mut() = Some(Recording {
                len,
                scalars: Vec::new(),
                scalar_values: Vec::new(),
                scalar_masks: Vec::new(),
                guards: Vec::new(),
                nodes: Vec::new(),
                externals,
                seen: FxHashMap::default(),
            })
        });
        RecordingGuard(())
    }

    /// Runs `f` on the recording in progress (the engine's own nodes: leaves, costs).
    pub fn with<T>(&self, f: impl FnOnce(&mut Recording) -> T) -> T {
        RECORDING.with(|r| f(r.borrow_mut().as_mut().expect("recording in progress")))
    }

    pub fn finish(self) -> Recording {
        RECORDING.with(|r| r.borrow_mut().take().expect("recording in progress"))
    }
}

impl Drop for RecordingGuard {
    fn drop(&mut self) {
        RECORDING.with(|r| r.borrow_mut().take());
    }
}

impl Recording {
    /// A column node, shared with an equal earlier one (common subexpressions).
    pub fn node(&mut self, node: Node) -> Lazy {
        let key = node_key(&node);
        if let Some(&id) = self.seen.get(&key) {
            return Lazy(id);
        }
        self.nodes.push(node);
        let id = (self.nodes.len() - 1) as u32;
        self.seen.insert(key, id);
        Lazy(id)
    }

    /// An operation's node. A script's numbers become scalar nodes of their own (see
    /// [`Scalar::Const`]).
    pub fn op(&mut self, op: Op, args: Vec<Arg>) -> Lazy {
        let args = args
            .into_iter()
            .map(|a| match a {
                Arg::Scalar(SArg::Const(n)) => {
                    Arg::Scalar(SArg::Node(self.scalar(Scalar::Const(n), n).id))
                }
                other => other,
            })
            .collect();
        self.node(Node::Op(op, args))
    }

    /// A new scalar node with its value this month.
    fn scalar(&mut self, scalar: Scalar, value: Num) -> Sym {
        let mask = match scalar {
            Scalar::Const(_) => 0,
            Scalar::Param(p) => p.bit(),
            Scalar::Binary(_, a, b) => self.mask(a) | self.mask(b),
            Scalar::Unary(_, a) | Scalar::TimingRamp(_, a) | Scalar::TimingCalendarMonth(_, a) => {
                self.mask(a)
            }
        };
        self.scalars.push(scalar);
        self.scalar_values.push(value);
        self.scalar_masks.push(mask);
        Sym {
            id: (self.scalars.len() - 1) as u32,
            value,
        }
    }

    pub fn param(&mut self, param: Param, value: Num) -> Sym {
        self.scalar(Scalar::Param(param), value)
    }

    fn mask(&self, a: SArg) -> u64 {
        match a {
            SArg::Node(id) => self.scalar_masks[id as usize],
            SArg::Const(_) => 0,
        }
    }

    fn guard(&mut self, test: Test, answer: bool) -> bool {
        self.guards.push(Guard {
            test,
            answer,
            scalars: self.scalars.len() as u32,
        });
        answer
    }
}

/// What identifies a node's computation: two nodes with equal keys compute the same column.
pub fn node_key(node: &Node) -> NodeKey {
    let arg = |a: &Arg| match a {
        Arg::Col(id) => (1, *id as u64),
        Arg::Scalar(SArg::Node(id)) => (2, *id as u64),
        Arg::Scalar(SArg::Const(n)) => (3, n.as_f64().to_bits()),
    };
    let mut args = [(0u8, 0u64); 4];
    match node {
        Node::Input(c) => (200, c.index(), args),
        Node::External(id) => (201, *id as usize, args),
        Node::State(id) => (202, *id as usize, args),
        Node::Var(id) => (203, *id as usize, args),
        Node::Op(op, operands) => {
            for (slot, a) in args.iter_mut().zip(operands) {
                *slot = arg(a);
            }
            let (code, identity) = op.key();
            (code, identity, args)
        }
    }
}

// ---- Scalar arithmetic, as rhai's built-in operators compute it. ----

/// `a op b` on script numbers; `None` where rhai raises an error (integer overflow or
/// division by zero) or has no such operator.
pub fn scalar_binary(op: ScalarBin, a: Num, b: Num) -> Option<Num> {
    use Num::{Float, Int};
    Some(match (a, b) {
        (Int(x), Int(y)) => Int(match op {
            ScalarBin::Add => x.checked_add(y)?,
            ScalarBin::Sub => x.checked_sub(y)?,
            ScalarBin::Mul => x.checked_mul(y)?,
            ScalarBin::Div => x.checked_div(y)?,
            ScalarBin::Rem => x.checked_rem(y)?,
            ScalarBin::Min => x.min(y),
            ScalarBin::Max => x.max(y),
            // rhai's integer power is not recorded: leave it to the interpreter.
            ScalarBin::Pow => return None,
        }),
        // `min`, `max` and `pow` are registered for two floats only.
        (Float(x), Float(y)) => Float(match op {
            ScalarBin::Min => x.min(y),
            ScalarBin::Max => x.max(y),
            ScalarBin::Pow => x.powf(y),
            _ => float_arithmetic(op, x, y)?,
        }),
        (x, y) => match op {
            ScalarBin::Min | ScalarBin::Max | ScalarBin::Pow => return None,
            _ => Float(float_arithmetic(op, x.as_f64(), y.as_f64())?),
        },
    })
}

fn float_arithmetic(op: ScalarBin, x: f64, y: f64) -> Option<f64> {
    Some(match op {
        ScalarBin::Add => x + y,
        ScalarBin::Sub => x - y,
        ScalarBin::Mul => x * y,
        ScalarBin::Div => x / y,
        ScalarBin::Rem => x % y,
        _ => return None,
    })
}

pub fn scalar_unary(op: ScalarUn, a: Num) -> Option<Num> {
    Some(match (op, a) {
        (ScalarUn::Neg, Num::Int(x)) => Num::Int(x.checked_neg()?),
        (ScalarUn::Neg, Num::Float(x)) => Num::Float(-x),
        (ScalarUn::Abs, Num::Int(x)) => Num::Int(x.checked_abs()?),
        (ScalarUn::Abs, Num::Float(x)) => Num::Float(x.abs()),
        (ScalarUn::Exp, Num::Float(x)) => Num::Float(x.exp()),
        (ScalarUn::Ln, Num::Float(x)) => Num::Float(x.ln()),
        (ScalarUn::Sqrt, Num::Float(x)) => Num::Float(x.sqrt()),
        _ => return None,
    })
}

pub fn compare(cmp: Cmp, a: Num, b: Num) -> bool {
    let ordering = match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (x, y) => x.as_f64().partial_cmp(&y.as_f64()),
    };
    use std::cmp::Ordering::{Equal, Greater, Less};
    match cmp {
        Cmp::Gt => ordering == Some(Greater),
        Cmp::Ge => matches!(ordering, Some(Greater | Equal)),
        Cmp::Lt => ordering == Some(Less),
        Cmp::Le => matches!(ordering, Some(Less | Equal)),
        Cmp::Eq => ordering == Some(Equal),
        Cmp::Ne => ordering != Some(Equal),
    }
}

/// A month's value of an integer operand of a timing function.
fn month_of(n: Num) -> Option<i64> {
    match n {
        Num::Int(i) => Some(i),
        Num::Float(_) => None,
    }
}

/// Evaluates a test on the month whose scalar values are `values`.
pub fn test(test: &Test, value: impl Fn(SArg) -> Num) -> Option<bool> {
    Some(match *test {
        Test::Compare(cmp, a, b) => compare(cmp, value(a), value(b)),
        Test::Starts(timing, s) => timing.starts(month_of(value(s))?),
        Test::Active(timing, s) => timing.active(month_of(value(s))?),
    })
}

/// A scalar node's value from its operands' values; `None` where rhai would fail.
pub fn evaluate(
    scalar: &Scalar,
    param: impl Fn(Param) -> Num,
    value: impl Fn(SArg) -> Num,
) -> Option<Num> {
    match *scalar {
        Scalar::Const(n) => Some(n),
        Scalar::Param(p) => Some(param(p)),
        Scalar::Binary(op, a, b) => scalar_binary(op, value(a), value(b)),
        Scalar::Unary(op, a) => scalar_unary(op, value(a)),
        Scalar::TimingRamp(timing, s) => Some(Num::Float(timing.ramp(month_of(value(s))?))),
        Scalar::TimingCalendarMonth(timing, s) => {
            Some(Num::Int(timing.calendar_month(month_of(value(s))?)))
        }
    }
}

// ---- Registration. ----

fn unsupported(what: &str) -> Box<EvalAltResult> {
    format!("{what} is not supported by the rule compiler").into()
}

/// The operand form of every script value a column operation takes.
trait Operand: Clone + Send + Sync + 'static {
    fn arg(&self) -> Arg;
}
impl Operand for Lazy {
    fn arg(&self) -> Arg {
        Arg::Col(self.0)
    }
}
impl Operand for Sym {
    fn arg(&self) -> Arg {
        Arg::Scalar(SArg::Node(self.id))
    }
}
impl Operand for FLOAT {
    fn arg(&self) -> Arg {
        Arg::Scalar(SArg::Const(Num::Float(*self)))
    }
}
impl Operand for INT {
    fn arg(&self) -> Arg {
        Arg::Scalar(SArg::Const(Num::Int(*self)))
    }
}

/// A scalar operand of a scalar operation.
trait ScalarOperand: Clone + Send + Sync + 'static {
    fn sarg(&self) -> SArg;
    fn num(&self) -> Num;
}
impl ScalarOperand for Sym {
    fn sarg(&self) -> SArg {
        SArg::Node(self.id)
    }
    fn num(&self) -> Num {
        self.value
    }
}
impl ScalarOperand for FLOAT {
    fn sarg(&self) -> SArg {
        SArg::Const(Num::Float(*self))
    }
    fn num(&self) -> Num {
        Num::Float(*self)
    }
}
impl ScalarOperand for INT {
    fn sarg(&self) -> SArg {
        SArg::Const(Num::Int(*self))
    }
    fn num(&self) -> Num {
        Num::Int(*self)
    }
}

fn column_op<A: Operand, B: Operand>(op: Op, a: &A, b: &B) -> Fallible<Lazy> {
    let args = vec![a.arg(), b.arg()];
    with(|r| Ok(r.op(op, args)))
}

/// Registers `name` on every mix of a column with a column, float, integer or month number.
fn register_column_binary(engine: &mut Engine, name: &'static str, op: Op) {
    macro_rules! pair {
        ($a:ty, $b:ty) => {{
            let op = op.clone();
            engine.register_fn(name, move |a: $a, b: $b| column_op(op.clone(), &a, &b));
        }};
    }
    pair!(Lazy, Lazy);
    pair!(Lazy, FLOAT);
    pair!(FLOAT, Lazy);
    pair!(Lazy, INT);
    pair!(INT, Lazy);
    pair!(Lazy, Sym);
    pair!(Sym, Lazy);
}

fn scalar_op<A: ScalarOperand, B: ScalarOperand>(op: ScalarBin, a: &A, b: &B) -> Fallible<Sym> {
    let value = scalar_binary(op, a.num(), b.num()).ok_or_else(|| {
        format!(
            "{op:?} of {:?} and {:?} is not supported by the rule compiler",
            a.num(),
            b.num()
        )
    })?;
    with(|r| Ok(r.scalar(Scalar::Binary(op, a.sarg(), b.sarg()), value)))
}

/// Registers `name` on every mix of a month number with a number (one at least a month
/// number), as `f` of the two operands.
macro_rules! scalar_pairs {
    ($engine:expr, $name:expr, |$a:ident, $b:ident| $body:expr) => {{
        $engine.register_fn($name, move |$a: Sym, $b: Sym| $body);
        $engine.register_fn($name, move |$a: Sym, $b: FLOAT| $body);
        $engine.register_fn($name, move |$a: FLOAT, $b: Sym| $body);
        $engine.register_fn($name, move |$a: Sym, $b: INT| $body);
        $engine.register_fn($name, move |$a: INT, $b: Sym| $body);
    }};
}

fn register_scalar_binary(engine: &mut Engine, name: &'static str, op: ScalarBin) {
    scalar_pairs!(engine, name, |a, b| scalar_op(op, &a, &b));
}

fn scalar_compare<A: ScalarOperand, B: ScalarOperand>(cmp: Cmp, a: &A, b: &B) -> Fallible<bool> {
    let answer = compare(cmp, a.num(), b.num());
    with(|r| Ok(r.guard(Test::Compare(cmp, a.sarg(), b.sarg()), answer)))
}

fn register_compare(engine: &mut Engine, name: &'static str, cmp: Cmp, op: Op) {
    register_column_binary(engine, name, op);
    scalar_pairs!(engine, name, |a, b| scalar_compare(cmp, &a, &b));
}

fn column_unary(op: Op, a: Lazy) -> Fallible<Lazy> {
    with(|r| Ok(r.op(op, vec![a.arg()])))
}

fn sym_unary(op: ScalarUn, a: Sym) -> Fallible<Sym> {
    let value = scalar_unary(op, a.value)
        .ok_or_else(|| unsupported(&format!("{op:?} of {:?}", a.value)))?;
    with(|r| Ok(r.scalar(Scalar::Unary(op, a.sarg()), value)))
}

fn select<A: Operand, B: Operand>(mask: Lazy, a: &A, b: &B) -> Fallible<Lazy> {
    let args = vec![mask.arg(), a.arg(), b.arg()];
    with(|r| Ok(r.op(Op::Where, args)))
}

/// A mask of a key column's values, made once per part: it depends on the data alone.
fn key_mask(key: &KeyColumn, name: &str, test: impl Fn(&str) -> bool) -> Fallible<Lazy> {
    with(|r| {
        let id = r
            .externals
            .interned(format!("{}:{name}", columns::key_identity(key)), || {
                columns::key_mask(key, &test)
            });
        Ok(r.node(Node::External(id)))
    })
}

/// An integer argument of `range` that the month may change: its value, guarded.
fn fixed<A: ScalarOperand>(a: &A) -> Fallible<INT> {
    match a.num() {
        Num::Int(value) => with(|r| {
            r.guard(
                Test::Compare(Cmp::Eq, a.sarg(), SArg::Const(Num::Int(value))),
                true,
            );
            Ok(value)
        }),
        Num::Float(_) => Err(unsupported("a range of floats")),
    }
}

/// `range(from, to, step)` as an array, for month-dependent bounds.
fn range_of(from: INT, to: INT, step: INT) -> Fallible<Array> {
    if step == 0 {
        return Err(unsupported("a range with step 0"));
    }
    let mut values = Array::new();
    let mut x = from;
    while (step > 0 && x < to) || (step < 0 && x > to) {
        if values.len() >= 100_000 {
            return Err(unsupported("a range of over 100,000 values"));
        }
        values.push(Dynamic::from_int(x));
        x = match x.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(values)
}

/// The engine that records: rhai's standard library, the sandbox's limits, and the
/// operations of this module in place of the interpreter's column operations.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Lazy>("Column");
    engine.register_type_with_name::<Sym>("number");
    engine.register_type_with_name::<KeyColumn>("KeyColumn");
    engine.register_type_with_name::<Groups>("Groups");

    for (name, op) in [
        ("+", Op::Binary(Binary::Add)),
        ("-", Op::Binary(Binary::Sub)),
        ("*", Op::Binary(Binary::Mul)),
        ("/", Op::Binary(Binary::Div)),
        ("min", Op::Binary(Binary::Min)),
        ("max", Op::Binary(Binary::Max)),
        ("pow", Op::Binary(Binary::Pow)),
        ("**", Op::Binary(Binary::Pow)),
        ("&", Op::Binary(Binary::And)),
        ("|", Op::Binary(Binary::Or)),
    ] {
        register_column_binary(engine, name, op);
    }
    for (name, cmp, op) in [
        (">", Cmp::Gt, Op::Binary(Binary::Gt)),
        (">=", Cmp::Ge, Op::Binary(Binary::Ge)),
        ("<", Cmp::Lt, Op::Binary(Binary::Lt)),
        ("<=", Cmp::Le, Op::Binary(Binary::Le)),
        ("==", Cmp::Eq, Op::Binary(Binary::Eq)),
        ("!=", Cmp::Ne, Op::Binary(Binary::Ne)),
    ] {
        register_compare(engine, name, cmp, op);
    }
    for (name, op) in [
        ("+", ScalarBin::Add),
        ("-", ScalarBin::Sub),
        ("*", ScalarBin::Mul),
        ("/", ScalarBin::Div),
        ("%", ScalarBin::Rem),
        ("min", ScalarBin::Min),
        ("max", ScalarBin::Max),
        ("pow", ScalarBin::Pow),
    ] {
        register_scalar_binary(engine, name, op);
    }
    engine.register_fn("!", |a: Lazy| column_unary(Op::Unary(Unary::Not), a));
    for (name, op, scalar) in [
        ("-", Op::Unary(Unary::Neg), ScalarUn::Neg),
        ("exp", Op::Unary(Unary::Exp), ScalarUn::Exp),
        ("ln", Op::Unary(Unary::Ln), ScalarUn::Ln),
        ("sqrt", Op::Unary(Unary::Sqrt), ScalarUn::Sqrt),
        ("abs", Op::Unary(Unary::Abs), ScalarUn::Abs),
    ] {
        engine.register_fn(name, move |a: Lazy| column_unary(op.clone(), a));
        engine.register_fn(name, move |a: Sym| sym_unary(scalar, a));
    }
    // As the interpreter registers them, for plain numbers.
    engine.register_fn("exp", |a: FLOAT| a.exp());
    engine.register_fn("pow", |a: FLOAT, b: FLOAT| a.powf(b));
    engine.register_fn("min", |a: FLOAT, b: FLOAT| a.min(b));
    engine.register_fn("max", |a: FLOAT, b: FLOAT| a.max(b));

    engine.register_fn("sum", |_: Lazy| -> Fallible<FLOAT> {
        Err(unsupported("sum"))
    });
    engine.register_fn("len", |_: Lazy| -> Fallible<INT> {
        Err(unsupported("len"))
    });
    engine.register_indexer_get(|_: &mut Lazy, _: INT| -> Fallible<FLOAT> {
        Err(unsupported("a segment index"))
    });
    engine.register_fn("to_string", |a: Sym| -> Fallible<String> {
        Err(unsupported(&format!(
            "text of the month's number {:?}",
            a.value
        )))
    });
    engine.register_fn("column", |_: Lazy, x: FLOAT| {
        with(|r| Ok(r.op(Op::Fill, vec![x.arg()])))
    });
    engine.register_fn("column", |_: Lazy, x: Sym| -> Fallible<Lazy> {
        match x.value {
            Num::Float(_) => with(|r| Ok(r.op(Op::Fill, vec![x.arg()]))),
            Num::Int(_) => Err(unsupported("column() of an integer")),
        }
    });

    macro_rules! wheres {
        ($($a:ty, $b:ty);* $(;)?) => {$(
            engine.register_fn("where", |m: Lazy, a: $a, b: $b| select(m, &a, &b));
        )*};
    }
    wheres!(
        Lazy, Lazy; Lazy, FLOAT; FLOAT, Lazy; FLOAT, FLOAT; Lazy, INT; INT, Lazy; INT, INT;
        Lazy, Sym; Sym, Lazy; Sym, Sym; Sym, FLOAT; FLOAT, Sym; Sym, INT; INT, Sym;
    );

    engine.register_fn("==", |k: KeyColumn, value: &str| {
        key_mask(&k, &format!("=={value}"), |v| v == value)
    });
    engine.register_fn("!=", |k: KeyColumn, value: &str| {
        key_mask(&k, &format!("!={value}"), |v| v != value)
    });
    engine.register_fn("is_in", |k: KeyColumn, values: Array| {
        let wanted: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        key_mask(&k, &format!("in{wanted:?}"), |v| {
            wanted.iter().any(|w| w == v)
        })
    });

    engine.register_fn("group_has", |group: KeyColumn, target: Lazy| {
        columns::whole_groups_only(&group)?;
        with(|r| Ok(r.op(Op::GroupHas(group), vec![target.arg()])))
    });
    engine.register_fn(
        "spread",
        |group: KeyColumn, amount: Lazy, target: Lazy, weight: Lazy| {
            columns::whole_groups_only(&group)?;
            let args = vec![amount.arg(), target.arg(), weight.arg()];
            with(|r| Ok(r.op(Op::Spread(group), args)))
        },
    );
    engine.register_fn("group_has_other", |groups: Groups, target: Lazy| {
        groups.whole_only()?;
        with(|r| Ok(r.op(Op::GroupHasOther(groups), vec![target.arg()])))
    });
    engine.register_fn(
        "spread_to_others",
        |groups: Groups, amount: Lazy, target: Lazy, weight: Lazy| {
            groups.whole_only()?;
            let args = vec![amount.arg(), target.arg(), weight.arg()];
            with(|r| Ok(r.op(Op::SpreadToOthers(groups), args)))
        },
    );

    // `range` over a month-dependent bound, as an array.
    engine.register_fn("range", |a: Sym, b: INT, step: INT| {
        range_of(fixed(&a)?, b, step)
    });
    engine.register_fn("range", |a: INT, b: Sym, step: INT| {
        range_of(a, fixed(&b)?, step)
    });
    engine.register_fn("range", |a: Sym, b: Sym, step: INT| {
        range_of(fixed(&a)?, fixed(&b)?, step)
    });
    engine.register_fn("range", |a: Sym, b: INT| range_of(fixed(&a)?, b, 1));
    engine.register_fn("range", |a: INT, b: Sym| range_of(a, fixed(&b)?, 1));
    engine.register_fn("range", |a: Sym, b: Sym| {
        range_of(fixed(&a)?, fixed(&b)?, 1)
    });

    register_segments(engine);
    register_timing(engine);
}

fn register_segments(engine: &mut Engine) {
    crate::rules::values::register_segments(engine, |_, column| {
        with(|r| Ok(r.node(Node::Input(column))))
    });
}

fn register_timing(engine: &mut Engine) {
    crate::rules::values::register_timing(engine);
    engine.register_fn("active", |timing: &mut Timing, s: Sym| -> Fallible<bool> {
        let month = month_of(s.value).ok_or_else(|| unsupported("timing.active of a float"))?;
        let answer = timing.active(month);
        with(|r| Ok(r.guard(Test::Active(*timing, s.sarg()), answer)))
    });
    engine.register_fn("starts", |timing: &mut Timing, s: Sym| -> Fallible<bool> {
        let month = month_of(s.value).ok_or_else(|| unsupported("timing.starts of a float"))?;
        let answer = timing.starts(month);
        with(|r| Ok(r.guard(Test::Starts(*timing, s.sarg()), answer)))
    });
    engine.register_fn("ramp", |timing: &mut Timing, s: Sym| -> Fallible<Sym> {
        let month = month_of(s.value).ok_or_else(|| unsupported("timing.ramp of a float"))?;
        let value = Num::Float(timing.ramp(month));
        with(|r| Ok(r.scalar(Scalar::TimingRamp(*timing, s.sarg()), value)))
    });
    engine.register_fn(
        "calendar_month",
        |timing: &mut Timing, s: Sym| -> Fallible<Sym> {
            let month =
                month_of(s.value).ok_or_else(|| unsupported("timing.calendar_month of a float"))?;
            let value = Num::Int(timing.calendar_month(month));
            with(|r| Ok(r.scalar(Scalar::TimingCalendarMonth(*timing, s.sarg()), value)))
        },
    );
}
