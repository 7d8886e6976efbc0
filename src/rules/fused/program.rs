//! A recorded month compiled into fused kernels, and their execution over blocks of
//! segments.
//!
//! The column nodes a month's outputs need are split into groups by what they depend on:
//! - the data alone (computed once, the first month the trace runs),
//! - the data and some of the month's numbers (`t`, a ramp, a seasonal factor): computed
//!   again only in months where one of those numbers changed (`pow(1 - leaver, 1/12)`
//!   stops being recomputed once a retention ramp is at full effect),
//! - the month's staff in post or another engine variable: computed every month.
//!
//! Within a group, runs of elementwise nodes become one kernel: every block of
//! [`BLOCK`] segments goes through all the kernel's instructions while its intermediates
//! stay in a few block-sized registers (in L1/L2 cache) instead of whole columns in memory.
//! An operation across segments (`spread`, `group_has`, transfers) works on whole columns
//! and ends a kernel. A node is written out whole ("materialised") only when something
//! outside its kernel reads it: an output, another group, another kernel, or a
//! cross-segment operation; such a node is computed straight into its column, block by
//! block, and read from there by the rest of its kernel.
//!
//! Each node computes exactly what the interpreter's column operation computes, from the
//! same operands in the same order, so the figures are the same to the bit.

use crate::model::Column;
use crate::rules::columns;

use super::record::{Arg, Binary, Node, Num, Op, SArg, Unary};

/// Segments in a block: 512 values of a register are 4 KiB, so a kernel's registers stay
/// in the L1 and L2 caches.
pub const BLOCK: usize = 512;

/// Where a whole column comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColRef {
    Input(usize),
    External(u32),
    State(u32),
    /// A materialised node, by its slot in the program's store.
    Slot(u32),
}

/// What an engine variable holds at the end of the month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Output {
    Col(ColRef),
    /// The same number in every segment.
    Scalar(SArg),
}

/// The columns a program reads that it does not compute.
pub struct Leaves<'a> {
    pub inputs: &'a [Column],
    pub externals: &'a [Column],
    pub state: &'a [Column],
}

/// An instruction operand.
#[derive(Debug, Clone, Copy)]
enum Src {
    Reg(u16),
    /// A whole column, by its index in the kernel's column list.
    Col(u16),
    /// An output the kernel writes (in `Kernel::stores` order), at the block being run.
    Out(u16),
    Scalar(SArg),
}

/// Where an instruction writes: a block register, or the block's part of an output
/// column (a node read outside its kernel is computed straight into its column).
#[derive(Debug, Clone, Copy)]
enum Dst {
    Reg(u16),
    Out(u16),
}

/// Elementwise operations, by arity.
#[derive(Debug, Clone, Copy)]
enum Elementwise {
    Binary(Binary),
    Unary(Unary),
    Where,
    Fill,
}

#[derive(Debug, Clone)]
struct Instr {
    op: Elementwise,
    dst: Dst,
    args: [Src; 3],
}

#[derive(Debug, Clone, Default)]
struct Kernel {
    instrs: Vec<Instr>,
    registers: usize,
    /// The whole columns the kernel reads.
    columns: Vec<ColRef>,
    /// The store slots the kernel writes, in `Instr::store` order.
    stores: Vec<u32>,
}

#[derive(Debug, Clone)]
enum Step {
    Kernel(Kernel),
    Barrier {
        op: Op,
        args: Vec<ColRef>,
        slot: u32,
    },
}

#[derive(Debug, Clone)]
struct Group {
    /// Computed every month (it reads an engine variable).
    every_month: bool,
    steps: Vec<Step>,
    /// The month's numbers the group's nodes read: the group is computed again when one
    /// of them changes.
    scalars: Vec<u32>,
    /// The groups whose materialised nodes this group reads.
    reads: Vec<usize>,
    /// The values of `scalars` when the group was last computed.
    last: Option<Vec<u64>>,
}

/// A month's rules as kernels, with the materialised columns kept from month to month.
#[derive(Debug, Clone)]
pub struct Program {
    groups: Vec<Group>,
    outputs: Vec<Output>,
    store: Vec<Column>,
    /// The kernels' block registers, and one spare to write into.
    registers: Vec<Box<[f64; BLOCK]>>,
    scratch: Box<[f64; BLOCK]>,
    /// Columns no longer held by anyone, to write the next month's into: a new column
    /// each month would be new memory each month, whose pages the kernel must map again.
    spare: Vec<Vec<f64>>,
}

const NONE: u32 = u32::MAX;

fn mask(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn elementwise(op: &Op) -> Elementwise {
    match op {
        Op::Binary(b) => Elementwise::Binary(*b),
        Op::Unary(u) => Elementwise::Unary(*u),
        Op::Where => Elementwise::Where,
        Op::Fill => Elementwise::Fill,
        Op::GroupHas(_) | Op::Spread(_) | Op::GroupHasOther(_) | Op::SpreadToOthers(_) => {
            unreachable!("cross-segment operations are steps of their own")
        }
    }
}

impl Program {
    /// Compiles the nodes that `outputs` need. `scalar_masks` are the recording's.
    pub fn compile(nodes: &[Node], scalar_masks: &[u64], outputs: &[Arg]) -> Program {
        let n = nodes.len();
        let args = |i: usize| match &nodes[i] {
            Node::Op(_, args) => args.as_slice(),
            _ => &[],
        };
        let is_op = |i: usize| matches!(nodes[i], Node::Op(..));

        // What the outputs need.
        let mut live = vec![false; n];
        for out in outputs {
            if let Arg::Col(id) = out {
                live[*id as usize] = true;
            }
        }
        for i in (0..n).rev() {
            if live[i] {
                for a in args(i) {
                    if let Arg::Col(id) = a {
                        live[*id as usize] = true;
                    }
                }
            }
        }

        // What each node depends on: the engine's variables, or which month's numbers.
        let mut every_month = vec![false; n];
        let mut mask = vec![0u64; n];
        for i in 0..n {
            if let Node::State(_) = nodes[i] {
                every_month[i] = true;
            }
            for a in args(i) {
                match *a {
                    Arg::Col(id) => {
                        every_month[i] |= every_month[id as usize];
                        mask[i] |= mask[id as usize];
                    }
                    Arg::Scalar(SArg::Node(s)) => mask[i] |= scalar_masks[s as usize],
                    Arg::Scalar(SArg::Const(_)) => {}
                }
            }
        }

        // Groups: by mask for nodes of the data and the month's numbers, one group for
        // nodes of the engine's variables; subsets before supersets, so that a group
        // only reads groups before it.
        let key = |i: usize| if every_month[i] { None } else { Some(mask[i]) };
        let mut keys: Vec<Option<u64>> = Vec::new();
        for i in (0..n).filter(|&i| live[i] && is_op(i)) {
            if !keys.contains(&key(i)) {
                keys.push(key(i));
            }
        }
        keys.sort_by_key(|k| match k {
            Some(m) => (0, m.count_ones()),
            None => (1, 0),
        });
        let mut group_of = vec![usize::MAX; n];
        for i in (0..n).filter(|&i| live[i] && is_op(i)) {
            group_of[i] = keys.iter().position(|k| *k == key(i)).expect("keyed above");
        }

        // Steps: a group's elementwise nodes in kernels, ended by cross-segment nodes.
        let mut step_of = vec![(usize::MAX, usize::MAX); n];
        let mut steps_in: Vec<usize> = vec![0; keys.len()];
        for i in (0..n).filter(|&i| group_of[i] != usize::MAX) {
            let g = group_of[i];
            let Node::Op(op, _) = &nodes[i] else {
                unreachable!()
            };
            if op.is_barrier() {
                // The kernel so far, the barrier, then a new kernel.
                step_of[i] = (g, steps_in[g] + 1);
                steps_in[g] += 2;
            } else {
                step_of[i] = (g, steps_in[g]);
            }
        }

        // Materialised: read outside its own kernel.
        let mut slot_of = vec![NONE; n];
        let mut slots = 0u32;
        let mut materialise = |i: usize, slot_of: &mut Vec<u32>| {
            if slot_of[i] == NONE && is_op(i) {
                slot_of[i] = slots;
                slots += 1;
            }
        };
        for out in outputs {
            if let Arg::Col(id) = out {
                materialise(*id as usize, &mut slot_of);
            }
        }
        for i in (0..n).filter(|&i| group_of[i] != usize::MAX) {
            let Node::Op(op, _) = &nodes[i] else {
                unreachable!()
            };
            if op.is_barrier() {
                materialise(i, &mut slot_of);
            }
            for a in args(i) {
                if let Arg::Col(id) = *a {
                    if op.is_barrier() || step_of[id as usize] != step_of[i] {
                        materialise(id as usize, &mut slot_of);
                    }
                }
            }
        }
        let col_ref = |id: u32, slot_of: &[u32]| match nodes[id as usize] {
            Node::Input(c) => ColRef::Input(c.index()),
            Node::External(e) => ColRef::External(e),
            Node::State(s) => ColRef::State(s),
            Node::Op(..) => ColRef::Slot(slot_of[id as usize]),
            Node::Var(_) => unreachable!("a month's program reads no script's inputs"),
        };

        let mut groups = Vec::new();
        for (g, k) in keys.iter().enumerate() {
            let members: Vec<usize> = (0..n).filter(|&i| group_of[i] == g).collect();
            let mut scalars: Vec<u32> = Vec::new();
            let mut reads: Vec<usize> = Vec::new();
            for &i in &members {
                for a in args(i) {
                    match *a {
                        Arg::Scalar(SArg::Node(s)) if !scalars.contains(&s) => scalars.push(s),
                        Arg::Col(id) => {
                            let other = group_of[id as usize];
                            if other != usize::MAX && other != g && !reads.contains(&other) {
                                reads.push(other);
                            }
                        }
                        _ => {}
                    }
                }
            }
            let mut steps = Vec::new();
            for step in 0..=steps_in[g] {
                let in_step: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| step_of[i].1 == step)
                    .collect();
                if in_step.is_empty() {
                    continue;
                }
                let first = in_step[0];
                let Node::Op(op, op_args) = &nodes[first] else {
                    unreachable!()
                };
                if op.is_barrier() {
                    steps.push(Step::Barrier {
                        op: op.clone(),
                        args: op_args
                            .iter()
                            .map(|a| match *a {
                                Arg::Col(id) => col_ref(id, &slot_of),
                                Arg::Scalar(_) => {
                                    unreachable!("cross-segment operands are columns")
                                }
                            })
                            .collect(),
                        slot: slot_of[first],
                    });
                } else {
                    steps.push(Step::Kernel(kernel(nodes, &in_step, &slot_of, col_ref)));
                }
            }
            groups.push(Group {
                every_month: k.is_none(),
                steps,
                scalars,
                reads,
                last: None,
            });
        }

        let outputs = outputs
            .iter()
            .map(|out| match *out {
                Arg::Col(id) => Output::Col(col_ref(id, &slot_of)),
                Arg::Scalar(s) => Output::Scalar(s),
            })
            .collect();
        let registers = groups
            .iter()
            .flat_map(|g| &g.steps)
            .map(|step| match step {
                Step::Kernel(k) => k.registers,
                Step::Barrier { .. } => 0,
            })
            .max()
            .unwrap_or(0);
        Program {
            groups,
            outputs,
            store: vec![Column::new(Vec::new()); slots as usize],
            registers: (0..registers).map(|_| Box::new([0.0; BLOCK])).collect(),
            scratch: Box::new([0.0; BLOCK]),
            spare: Vec::new(),
        }
    }

    /// Lets the kept columns go, to be computed again when the program next runs.
    pub fn release(&mut self) {
        for column in &mut self.store {
            *column = Column::new(Vec::new());
        }
        for group in &mut self.groups {
            group.last = None;
        }
        self.spare.clear();
    }

    /// Takes back columns of an earlier month that no one holds any more.
    pub fn recycle(&mut self, columns: impl IntoIterator<Item = Column>) {
        for column in columns {
            if self.spare.len() < 64 {
                if let Some(values) = column.into_unique() {
                    self.spare.push(values);
                }
            }
        }
    }

    /// Runs the month whose numbers are `scalars` (by scalar node) over `len` segments, and
    /// gives each output's column.
    pub fn run(&mut self, len: usize, scalars: &[Num], leaves: &Leaves) -> Vec<Column> {
        let value = |s: SArg| match s {
            SArg::Node(id) => scalars[id as usize].as_f64(),
            SArg::Const(n) => n.as_f64(),
        };
        let mut computed = vec![false; self.groups.len()];
        for g in 0..self.groups.len() {
            let group = &mut self.groups[g];
            let now = group
                .scalars
                .iter()
                .map(|&s| value(SArg::Node(s)).to_bits());
            let same = group
                .last
                .as_ref()
                .is_some_and(|last| last.iter().copied().eq(now.clone()));
            let stale = group.every_month || !same || group.reads.iter().any(|&r| computed[r]);
            if !stale {
                continue;
            }
            computed[g] = true;
            group.last = Some(now.collect());
            for step in &group.steps {
                match step {
                    Step::Kernel(k) => run_kernel(
                        k,
                        len,
                        &mut self.store,
                        leaves,
                        &value,
                        (&mut self.registers, &mut self.scratch),
                        &mut self.spare,
                    ),
                    Step::Barrier { op, args, slot } => {
                        let columns: Vec<Column> = args
                            .iter()
                            .map(|&c| resolve(c, &self.store, leaves).clone())
                            .collect();
                        self.store[*slot as usize] = barrier(op, &columns);
                    }
                }
            }
        }
        self.outputs
            .iter()
            .map(|out| match *out {
                Output::Col(c) => resolve(c, &self.store, leaves).clone(),
                Output::Scalar(s) => Column::filled(len, value(s)),
            })
            .collect()
    }
}

fn barrier(op: &Op, args: &[Column]) -> Column {
    match op {
        Op::GroupHas(key) => columns::group_has(key.clone(), args[0].clone()),
        Op::Spread(key) => columns::spread(
            key.clone(),
            args[0].clone(),
            args[1].clone(),
            args[2].clone(),
        ),
        Op::GroupHasOther(groups) => columns::group_has_other(groups, &args[0]),
        Op::SpreadToOthers(groups) => {
            columns::spread_to_others(groups, &args[0], &args[1], &args[2])
        }
        _ => unreachable!("elementwise operations run in kernels"),
    }
}

fn resolve<'a>(c: ColRef, store: &'a [Column], leaves: &'a Leaves) -> &'a Column {
    match c {
        ColRef::Input(i) => &leaves.inputs[i],
        ColRef::External(e) => &leaves.externals[e as usize],
        ColRef::State(s) => &leaves.state[s as usize],
        ColRef::Slot(s) => &store[s as usize],
    }
}

/// The instructions of one kernel, with registers allocated: a node's register is freed
/// after its last use in the kernel, and never reused by the instruction that frees it
/// (an instruction never writes over its own operands).
fn kernel(
    nodes: &[Node],
    members: &[usize],
    slot_of: &[u32],
    col_ref: impl Fn(u32, &[u32]) -> ColRef,
) -> Kernel {
    let mut last_use = std::collections::HashMap::new();
    for (at, &i) in members.iter().enumerate() {
        if let Node::Op(_, args) = &nodes[i] {
            for a in args {
                if let Arg::Col(id) = a {
                    last_use.insert(*id, at);
                }
            }
        }
    }
    let mut k = Kernel::default();
    // Where the kernel's nodes read so far are: a register, or their output column.
    let mut source_of: std::collections::HashMap<u32, Src> = std::collections::HashMap::new();
    let mut free: Vec<u16> = Vec::new();
    for (at, &i) in members.iter().enumerate() {
        let Node::Op(op, args) = &nodes[i] else {
            unreachable!()
        };
        let mut srcs = [Src::Scalar(SArg::Const(Num::Float(0.0))); 3];
        for (src, a) in srcs.iter_mut().zip(args) {
            *src = match *a {
                Arg::Scalar(s) => Src::Scalar(s),
                Arg::Col(id) => match source_of.get(&id) {
                    Some(&source) => source,
                    None => {
                        let c = col_ref(id, slot_of);
                        let index = match k.columns.iter().position(|x| *x == c) {
                            Some(p) => p,
                            None => {
                                k.columns.push(c);
                                k.columns.len() - 1
                            }
                        };
                        Src::Col(index as u16)
                    }
                },
            };
        }
        let dst = if slot_of[i] != NONE {
            k.stores.push(slot_of[i]);
            Dst::Out((k.stores.len() - 1) as u16)
        } else {
            Dst::Reg(free.pop().unwrap_or_else(|| {
                k.registers += 1;
                (k.registers - 1) as u16
            }))
        };
        k.instrs.push(Instr {
            op: elementwise(op),
            dst,
            args: srcs,
        });
        // Free the registers of operands whose last use this was, and the node's own if
        // nothing later in the kernel reads it.
        for a in args {
            if let Arg::Col(id) = a {
                if last_use.get(id) == Some(&at) {
                    if let Some(Src::Reg(r)) = source_of.remove(id) {
                        free.push(r);
                    }
                }
            }
        }
        match dst {
            Dst::Reg(r) if !last_use.contains_key(&(i as u32)) => free.push(r),
            Dst::Reg(r) => {
                source_of.insert(i as u32, Src::Reg(r));
            }
            Dst::Out(j) => {
                source_of.insert(i as u32, Src::Out(j));
            }
        }
    }
    k
}

/// What an instruction reads while it runs over one block of segments.
struct Block<'a> {
    registers: &'a [Box<[f64; BLOCK]>],
    columns: &'a [&'a [f64]],
    outs: &'a [Vec<f64>],
    start: usize,
    n: usize,
}

impl Block<'_> {
    fn operand(&self, ins: &Instr, constants: &[f64; 3], j: usize) -> V<'_> {
        let (start, n) = (self.start, self.n);
        match ins.args[j] {
            Src::Reg(r) => V::S(&self.registers[r as usize][..n]),
            Src::Col(c) => V::S(&self.columns[c as usize][start..start + n]),
            Src::Out(o) => V::S(&self.outs[o as usize][start..start + n]),
            Src::Scalar(_) => V::K(constants[j]),
        }
    }

    /// Runs `ins` over the block into `out`.
    fn compute(&self, ins: &Instr, constants: &[f64; 3], out: &mut [f64]) {
        let operand = |j| self.operand(ins, constants, j);
        match ins.op {
            Elementwise::Binary(f) => binary(out, operand(0), operand(1), f),
            Elementwise::Unary(f) => unary(out, operand(0), f),
            Elementwise::Where => select(out, operand(0), operand(1), operand(2)),
            Elementwise::Fill => out.fill(constants[0]),
        }
    }
}

/// An operand of one block.
#[derive(Clone, Copy)]
enum V<'a> {
    S(&'a [f64]),
    K(f64),
}

fn run_kernel(
    k: &Kernel,
    len: usize,
    store: &mut [Column],
    leaves: &Leaves,
    value: &impl Fn(SArg) -> f64,
    (registers, scratch): (&mut [Box<[f64; BLOCK]>], &mut Box<[f64; BLOCK]>),
    spare: &mut Vec<Vec<f64>>,
) {
    // The kernel's outputs, taken out of the store (reused in place when no one else
    // holds last month's column), so that the store can be read while they are written.
    let mut outs: Vec<Vec<f64>> = k
        .stores
        .iter()
        .map(|&slot| {
            let mut column = std::mem::replace(&mut store[slot as usize], Column::new(Vec::new()));
            let mut values = match column.unique_mut() {
                Some(v) => std::mem::take(v),
                None => spare.pop().unwrap_or_default(),
            };
            values.resize(len, 0.0);
            values
        })
        .collect();
    {
        let store: &[Column] = store;
        let columns: Vec<&[f64]> = k
            .columns
            .iter()
            .map(|&c| resolve(c, store, leaves).values())
            .collect();
        let scalars: Vec<[f64; 3]> = k
            .instrs
            .iter()
            .map(|ins| {
                ins.args.map(|a| match a {
                    Src::Scalar(s) => value(s),
                    _ => 0.0,
                })
            })
            .collect();
        let mut start = 0;
        while start < len {
            let n = BLOCK.min(len - start);
            for (ins, constants) in k.instrs.iter().zip(&scalars) {
                // The destination is taken out of its place (a pointer swap) while the
                // operands, which never include it, are read.
                match ins.dst {
                    Dst::Reg(r) => {
                        std::mem::swap(scratch, &mut registers[r as usize]);
                        let block = Block {
                            registers,
                            columns: &columns,
                            outs: &outs,
                            start,
                            n,
                        };
                        block.compute(ins, constants, &mut scratch[..n]);
                        std::mem::swap(scratch, &mut registers[r as usize]);
                    }
                    Dst::Out(j) => {
                        let mut column = std::mem::take(&mut outs[j as usize]);
                        let block = Block {
                            registers,
                            columns: &columns,
                            outs: &outs,
                            start,
                            n,
                        };
                        block.compute(ins, constants, &mut column[start..start + n]);
                        outs[j as usize] = column;
                    }
                }
            }
            start += n;
        }
    }
    for (&slot, values) in k.stores.iter().zip(outs) {
        store[slot as usize] = Column::new(values);
    }
}

/// One loop per operation and operand kinds, each compiled on its own so that it
/// vectorises (a function pointer per value would not).
fn binary(out: &mut [f64], a: V, b: V, op: Binary) {
    match op {
        Binary::Add => binary_loop(out, a, b, |x, y| x + y),
        Binary::Sub => binary_loop(out, a, b, |x, y| x - y),
        Binary::Mul => binary_loop(out, a, b, |x, y| x * y),
        Binary::Div => binary_loop(out, a, b, |x, y| x / y),
        Binary::Min => binary_loop(out, a, b, f64::min),
        Binary::Max => binary_loop(out, a, b, f64::max),
        Binary::Pow => binary_loop(out, a, b, f64::powf),
        Binary::Gt => binary_loop(out, a, b, |x, y| mask(x > y)),
        Binary::Ge => binary_loop(out, a, b, |x, y| mask(x >= y)),
        Binary::Lt => binary_loop(out, a, b, |x, y| mask(x < y)),
        Binary::Le => binary_loop(out, a, b, |x, y| mask(x <= y)),
        Binary::Eq => binary_loop(out, a, b, |x, y| mask(x == y)),
        Binary::Ne => binary_loop(out, a, b, |x, y| mask(x != y)),
        Binary::And => binary_loop(out, a, b, |x, y| mask(x != 0.0 && y != 0.0)),
        Binary::Or => binary_loop(out, a, b, |x, y| mask(x != 0.0 || y != 0.0)),
    }
}

fn unary(out: &mut [f64], a: V, op: Unary) {
    match op {
        Unary::Neg => unary_loop(out, a, |x| -x),
        Unary::Not => unary_loop(out, a, |x| mask(x == 0.0)),
        Unary::Exp => unary_loop(out, a, f64::exp),
        Unary::Ln => unary_loop(out, a, f64::ln),
        Unary::Sqrt => unary_loop(out, a, f64::sqrt),
        Unary::Abs => unary_loop(out, a, f64::abs),
    }
}

#[inline(always)]
fn binary_loop(out: &mut [f64], a: V, b: V, f: impl Fn(f64, f64) -> f64) {
    match (a, b) {
        (V::S(x), V::S(y)) => {
            for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
                *o = f(x, y);
            }
        }
        (V::S(x), V::K(y)) => {
            for (o, &x) in out.iter_mut().zip(x) {
                *o = f(x, y);
            }
        }
        (V::K(x), V::S(y)) => {
            for (o, &y) in out.iter_mut().zip(y) {
                *o = f(x, y);
            }
        }
        (V::K(x), V::K(y)) => out.fill(f(x, y)),
    }
}

#[inline(always)]
fn unary_loop(out: &mut [f64], a: V, f: impl Fn(f64) -> f64) {
    match a {
        V::S(x) => {
            for (o, &x) in out.iter_mut().zip(x) {
                *o = f(x);
            }
        }
        V::K(x) => out.fill(f(x)),
    }
}

fn select(out: &mut [f64], mask: V, a: V, b: V) {
    let pick = |m: f64, x: f64, y: f64| if m != 0.0 { x } else { y };
    let V::S(m) = mask else {
        unreachable!("a mask is a column")
    };
    match (a, b) {
        (V::S(x), V::S(y)) => {
            for (((o, &m), &x), &y) in out.iter_mut().zip(m).zip(x).zip(y) {
                *o = pick(m, x, y);
            }
        }
        (V::S(x), V::K(y)) => {
            for ((o, &m), &x) in out.iter_mut().zip(m).zip(x) {
                *o = pick(m, x, y);
            }
        }
        (V::K(x), V::S(y)) => {
            for ((o, &m), &y) in out.iter_mut().zip(m).zip(y) {
                *o = pick(m, x, y);
            }
        }
        (V::K(x), V::K(y)) => {
            for (o, &m) in out.iter_mut().zip(m) {
                *o = pick(m, x, y);
            }
        }
    }
}
