//! The column type as rule scripts see it: arithmetic, comparisons, masks and the few
//! functions the model needs, each evaluated over all segments in one call so that the
//! interpreter runs a statement once per month rather than once per segment.
//!
//! Scalars broadcast: `fte * 0.5`, `1.0 - leaver` and `t / 12.0` mix freely with columns.
//! A mask is a column of 1.0 (true) and 0.0 (false); comparisons return masks, `where`
//! selects with them, and `&`, `|` and `!` combine them.

use std::cell::Cell;
use std::sync::Arc;

use rhai::{Engine, EvalAltResult, FLOAT, INT};

use crate::model::{Column, KeyColumn, Workforce};

/// Either operand of a broadcasting operation.
enum Operand<'a> {
    Values(&'a [f64]),
    Scalar(f64),
}

/// `operation` of two columns into a new one, in one plain loop that the compiler
/// vectorises. Columns of different lengths are an error rather than zipped, which would
/// silently drop the longer column's last segments.
fn combine(
    operation: &str,
    a: &[f64],
    b: &[f64],
    f: impl Fn(f64, f64) -> f64,
) -> Result<Column, Box<EvalAltResult>> {
    same_length(operation, a.len(), b.len())?;
    Ok(Column::new(
        a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect(),
    ))
}

/// The error of an operation given columns of different lengths. It names the operation;
/// the caller's error path adds the script and line, as for [`NEEDS_WHOLE_COLUMNS`].
fn same_length(operation: &str, a: usize, b: usize) -> Result<(), Box<EvalAltResult>> {
    if a == b {
        Ok(())
    } else {
        Err(
            format!("'{operation}' needs columns of the same length, not {a} and {b} segments")
                .into(),
        )
    }
}

// The operations below give the same values as `combine` (or `Column::map` for a scalar
// operand), but write them over an operand that no one else holds (a temporary such as
// `1.0 - leaver` in `fte * (1.0 - leaver)`), so that most operations of a rule allocate
// nothing and stay in cache.

fn column_column(
    operation: &str,
    mut a: Column,
    mut b: Column,
    f: impl Fn(f64, f64) -> f64,
) -> Result<Column, Box<EvalAltResult>> {
    if a.len() == b.len() {
        if let Some(values) = a.unique_mut() {
            for (x, &y) in values.iter_mut().zip(b.values()) {
                *x = f(*x, y);
            }
            return Ok(a);
        }
        if let Some(values) = b.unique_mut() {
            for (y, &x) in values.iter_mut().zip(a.values()) {
                *y = f(x, *y);
            }
            return Ok(b);
        }
    }
    combine(operation, a.values(), b.values(), f)
}

fn column_scalar(mut a: Column, b: f64, f: impl Fn(f64, f64) -> f64) -> Column {
    if let Some(values) = a.unique_mut() {
        for x in values.iter_mut() {
            *x = f(*x, b);
        }
        return a;
    }
    a.map(|x| f(x, b))
}

fn scalar_column(a: f64, mut b: Column, f: impl Fn(f64, f64) -> f64) -> Column {
    if let Some(values) = b.unique_mut() {
        for y in values.iter_mut() {
            *y = f(a, *y);
        }
        return b;
    }
    b.map(|y| f(a, y))
}

fn unary(mut a: Column, f: impl Fn(f64) -> f64) -> Column {
    if let Some(values) = a.unique_mut() {
        for x in values.iter_mut() {
            *x = f(*x);
        }
        return a;
    }
    a.map(f)
}

/// `a op= b` on a script variable: in place when the variable is the only holder.
fn assign_column(
    operation: &str,
    a: &mut Column,
    b: Column,
    f: impl Fn(f64, f64) -> f64,
) -> Result<(), Box<EvalAltResult>> {
    if a.len() == b.len() {
        if let Some(values) = a.unique_mut() {
            for (x, &y) in values.iter_mut().zip(b.values()) {
                *x = f(*x, y);
            }
            return Ok(());
        }
    }
    *a = column_column(operation, a.clone(), b, f)?;
    Ok(())
}

fn assign_scalar(a: &mut Column, b: f64, f: impl Fn(f64, f64) -> f64) {
    if let Some(values) = a.unique_mut() {
        for x in values.iter_mut() {
            *x = f(*x, b);
        }
        return;
    }
    *a = column_scalar(a.clone(), b, f);
}

fn mask(condition: bool) -> f64 {
    if condition {
        1.0
    } else {
        0.0
    }
}

/// Registers a binary function under `name` for every mix of column and scalar operands.
macro_rules! broadcast {
    ($engine:expr, $name:expr, $f:expr) => {{
        let f = $f;
        $engine.register_fn($name, move |a: Column, b: Column| {
            column_column($name, a, b, f)
        });
        $engine.register_fn($name, move |a: Column, b: FLOAT| column_scalar(a, b, f));
        $engine.register_fn($name, move |a: FLOAT, b: Column| scalar_column(a, b, f));
        $engine.register_fn($name, move |a: Column, b: INT| {
            column_scalar(a, b as f64, f)
        });
        $engine.register_fn($name, move |a: INT, b: Column| {
            scalar_column(a as f64, b, f)
        });
    }};
}

/// Registers `name=` (`+=`, `*=` ...) on a column variable, which otherwise rhai would run as
/// `a = a + b` with `a` held twice, so never in place.
macro_rules! op_assign {
    ($engine:expr, $name:expr, $f:expr) => {{
        let f = $f;
        $engine.register_fn($name, move |a: &mut Column, b: Column| {
            assign_column($name, a, b, f)
        });
        $engine.register_fn($name, move |a: &mut Column, b: FLOAT| {
            assign_scalar(a, b, f)
        });
        $engine.register_fn($name, move |a: &mut Column, b: INT| {
            assign_scalar(a, b as f64, f)
        });
    }};
}

/// Registers `where(mask, a, b)` for every mix of column and scalar branches.
macro_rules! register_where {
    ($engine:expr, $($a:ty => $ta:expr, $b:ty => $tb:expr);* $(;)?) => {$(
        $engine.register_fn(
            "where",
            |m: Column, a: $a, b: $b| -> Result<Column, Box<EvalAltResult>> {
                select(m.values(), $ta(&a), $tb(&b))
            },
        );
    )*};
}

/// `where(mask, a, b)`: one plain loop for each mix of operands, rather than a match on the
/// operands for every value, so that the compiler vectorises them (the national case spent
/// a fifth of its time in the column loops, BENCHMARKS.md). Columns of different lengths
/// are an error, as in `combine`.
fn select(mask: &[f64], a: Operand, b: Operand) -> Result<Column, Box<EvalAltResult>> {
    for operand in [&a, &b] {
        if let Operand::Values(values) = operand {
            same_length("where", mask.len(), values.len())?;
        }
    }
    let pick = |m: f64, x: f64, y: f64| if m != 0.0 { x } else { y };
    Ok(Column::new(match (a, b) {
        (Operand::Values(v), Operand::Values(w)) => mask
            .iter()
            .zip(v.iter().zip(w))
            .map(|(&m, (&x, &y))| pick(m, x, y))
            .collect(),
        (Operand::Values(v), Operand::Scalar(y)) => {
            mask.iter().zip(v).map(|(&m, &x)| pick(m, x, y)).collect()
        }
        (Operand::Scalar(x), Operand::Values(w)) => {
            mask.iter().zip(w).map(|(&m, &y)| pick(m, x, y)).collect()
        }
        (Operand::Scalar(x), Operand::Scalar(y)) => mask.iter().map(|&m| pick(m, x, y)).collect(),
    }))
}

fn values(c: &Column) -> Operand<'_> {
    Operand::Values(c.values())
}
fn float(x: &FLOAT) -> Operand<'static> {
    Operand::Scalar(*x)
}
fn int(x: &INT) -> Operand<'static> {
    Operand::Scalar(*x as f64)
}

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Column>("Column");
    engine.register_type_with_name::<KeyColumn>("KeyColumn");

    broadcast!(engine, "+", |a: f64, b: f64| a + b);
    broadcast!(engine, "-", |a: f64, b: f64| a - b);
    broadcast!(engine, "*", |a: f64, b: f64| a * b);
    broadcast!(engine, "/", |a: f64, b: f64| a / b);
    broadcast!(engine, "min", |a: f64, b: f64| a.min(b));
    broadcast!(engine, "max", |a: f64, b: f64| a.max(b));
    broadcast!(engine, "pow", |a: f64, b: f64| a.powf(b));
    broadcast!(engine, "**", |a: f64, b: f64| a.powf(b));
    broadcast!(engine, ">", |a: f64, b: f64| mask(a > b));
    broadcast!(engine, ">=", |a: f64, b: f64| mask(a >= b));
    broadcast!(engine, "<", |a: f64, b: f64| mask(a < b));
    broadcast!(engine, "<=", |a: f64, b: f64| mask(a <= b));
    broadcast!(engine, "==", |a: f64, b: f64| mask(a == b));
    broadcast!(engine, "!=", |a: f64, b: f64| mask(a != b));
    broadcast!(engine, "&", |a: f64, b: f64| mask(a != 0.0 && b != 0.0));
    broadcast!(engine, "|", |a: f64, b: f64| mask(a != 0.0 || b != 0.0));

    op_assign!(engine, "+=", |a: f64, b: f64| a + b);
    op_assign!(engine, "-=", |a: f64, b: f64| a - b);
    op_assign!(engine, "*=", |a: f64, b: f64| a * b);
    op_assign!(engine, "/=", |a: f64, b: f64| a / b);

    engine.register_fn("-", |a: Column| unary(a, |x| -x));
    engine.register_fn("!", |a: Column| unary(a, |x| mask(x == 0.0)));
    engine.register_fn("exp", |a: Column| unary(a, f64::exp));
    engine.register_fn("ln", |a: Column| unary(a, f64::ln));
    engine.register_fn("sqrt", |a: Column| unary(a, f64::sqrt));
    engine.register_fn("abs", |a: Column| unary(a, f64::abs));
    engine.register_fn("sum", |a: Column| -> Result<FLOAT, Box<EvalAltResult>> {
        whole_columns_only("sum")?;
        Ok(a.sum())
    });
    engine.register_fn("len", |a: Column| -> Result<INT, Box<EvalAltResult>> {
        whole_columns_only("len")?;
        Ok(a.len() as INT)
    });
    // Scalar forms, so that a rule reads the same whatever it is given.
    engine.register_fn("exp", |a: FLOAT| a.exp());
    engine.register_fn("pow", |a: FLOAT, b: FLOAT| a.powf(b));
    engine.register_fn("min", |a: FLOAT, b: FLOAT| a.min(b));
    engine.register_fn("max", |a: FLOAT, b: FLOAT| a.max(b));
    // `column(x)`: a column of the scenario's length holding x in every segment.
    engine.register_fn("column", |like: Column, x: FLOAT| {
        Column::filled(like.len(), x)
    });
    // `values[i]`: one segment's value, for rules that must look at a single segment.
    engine.register_indexer_get(
        |c: &mut Column, i: INT| -> Result<FLOAT, Box<EvalAltResult>> {
            whole_columns_only("a segment index")?;
            usize::try_from(i)
                .ok()
                .and_then(|i| c.values().get(i).copied())
                .ok_or_else(|| {
                    format!(
                        "segment index {i} is outside the column of {} segments",
                        c.len()
                    )
                    .into()
                })
        },
    );

    register_where!(engine,
        Column => values, Column => values;
        Column => values, FLOAT => float;
        FLOAT => float, Column => values;
        FLOAT => float, FLOAT => float;
        Column => values, INT => int;
        INT => int, Column => values;
        INT => int, INT => int;
    );

    // Key columns compare with text to give masks: `seg.staff_group == "physiotherapy"`.
    engine.register_fn("==", |k: KeyColumn, value: &str| {
        key_mask(&k, |v| v == value)
    });
    engine.register_fn("!=", |k: KeyColumn, value: &str| {
        key_mask(&k, |v| v != value)
    });
    engine.register_fn("is_in", |k: KeyColumn, values: rhai::Array| {
        let wanted: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        key_mask(&k, |v| wanted.iter().any(|w| w == v))
    });

    engine.register_type_with_name::<Groups>("Groups");
    // Cross-segment primitives of transfers: moves to other segments of one's own group.
    engine.register_fn(
        "group_has_other",
        |groups: Groups, target: Column| -> Result<Column, Box<EvalAltResult>> {
            groups.whole_only()?;
            same_length("group_has_other", groups.len(), target.len())?;
            Ok(group_has_other(&groups, &target))
        },
    );
    engine.register_fn(
        "spread_to_others",
        |groups: Groups,
         amount: Column,
         target: Column,
         weight: Column|
         -> Result<Column, Box<EvalAltResult>> {
            groups.whole_only()?;
            for length in [amount.len(), target.len(), weight.len()] {
                same_length("spread_to_others", groups.len(), length)?;
            }
            Ok(spread_to_others(&groups, &amount, &target, &weight))
        },
    );

    // Cross-segment primitives, used by skill_mix.
    engine.register_fn(
        "group_has",
        |group: KeyColumn, target: Column| -> Result<Column, Box<EvalAltResult>> {
            whole_groups_only(&group)?;
            Ok(group_has(group, target))
        },
    );
    engine.register_fn(
        "spread",
        |group: KeyColumn,
         amount: Column,
         target: Column,
         weight: Column|
         -> Result<Column, Box<EvalAltResult>> {
            whole_groups_only(&group)?;
            Ok(spread(group, amount, target, weight))
        },
    );
}

/// The error a rule meets when it looks across segments while the engine runs it over part
/// of them; the engine then runs the scenario again over whole columns.
pub const NEEDS_WHOLE_COLUMNS: &str = "needs whole columns";

thread_local! {
    /// Set while this thread runs the rules over a part of the segments: the key columns
    /// (by the address of their dictionary) whose every group lies inside one part.
    static PART: Cell<Option<Arc<[usize]>>> = const { Cell::new(None) };
}

/// Marks this thread as running the rules over a part of the segments until dropped.
pub struct PartGuard {
    previous: Option<Arc<[usize]>>,
}

impl PartGuard {
    pub fn enter(whole_groups: Arc<[usize]>) -> Self {
        Self {
            previous: PART.with(|p| p.replace(Some(whole_groups))),
        }
    }
}

impl Drop for PartGuard {
    fn drop(&mut self) {
        PART.with(|p| p.set(self.previous.take()));
    }
}

/// The identity of the draw as a key (see [`Groups::tiled`]): no key column's address.
pub const DRAW_KEY: usize = usize::MAX;

/// The address that identifies a key column across the parts of a run.
pub fn key_identity(key: &KeyColumn) -> usize {
    Arc::as_ptr(&key.dictionary) as usize
}

pub(crate) fn whole_columns_only(what: &str) -> Result<(), Box<EvalAltResult>> {
    let in_part = PART.with(|p| {
        let part = p.take();
        let in_part = part.is_some();
        p.set(part);
        in_part
    });
    if in_part {
        Err(format!("{what} {NEEDS_WHOLE_COLUMNS}").into())
    } else {
        Ok(())
    }
}

pub(crate) fn whole_groups_only(group: &KeyColumn) -> Result<(), Box<EvalAltResult>> {
    groups_whole_by_any(&[key_identity(group)])
}

/// Groups made from these key columns are whole in the current part (or there are no
/// parts) when any one of the columns has every group inside one part.
fn groups_whole_by_any(keys: &[usize]) -> Result<(), Box<EvalAltResult>> {
    let whole = PART.with(|p| {
        let part = p.take();
        let whole = part
            .as_ref()
            .is_none_or(|whole| keys.iter().any(|k| whole.contains(k)));
        p.set(part);
        whole
    });
    if whole {
        Ok(())
    } else {
        Err(format!("a group split across parts {NEEDS_WHOLE_COLUMNS}").into())
    }
}

pub(crate) fn key_mask(key: &KeyColumn, test: impl Fn(&str) -> bool) -> Column {
    let by_code: Vec<f64> = key.dictionary.iter().map(|v| mask(test(v))).collect();
    Column::new(key.codes.iter().map(|&c| by_code[c as usize]).collect())
}

/// `group_has(group, target)`: 1 for each segment whose group (for example its org) holds at
/// least one segment of the `target` mask.
pub fn group_has(group: KeyColumn, target: Column) -> Column {
    let mut has = vec![false; group.dictionary.len()];
    for (&g, &t) in group.codes.iter().zip(target.values()) {
        if t != 0.0 {
            has[g as usize] = true;
        }
    }
    Column::new(group.codes.iter().map(|&g| mask(has[g as usize])).collect())
}

/// `spread(group, amount, target, weight)`: each group's total `amount` shared among the
/// group's `target` segments in proportion to `weight`, or equally where all their weights
/// are 0. A group with no target segment spreads nothing.
pub fn spread(group: KeyColumn, amount: Column, target: Column, weight: Column) -> Column {
    let groups = group.dictionary.len();
    let mut total = vec![0.0; groups];
    let mut weight_sum = vec![0.0; groups];
    let mut targets = vec![0usize; groups];
    for (i, &g) in group.codes.iter().enumerate() {
        let g = g as usize;
        total[g] += amount.values()[i];
        if target.values()[i] != 0.0 {
            weight_sum[g] += weight.values()[i];
            targets[g] += 1;
        }
    }
    Column::new(
        group
            .codes
            .iter()
            .enumerate()
            .map(|(i, &g)| {
                let g = g as usize;
                if target.values()[i] == 0.0 {
                    0.0
                } else if weight_sum[g] > 0.0 {
                    total[g] * weight.values()[i] / weight_sum[g]
                } else {
                    total[g] / targets[g] as f64
                }
            })
            .collect(),
    )
}

/// Segments grouped by their values in some key columns (a transfer's `same`): segments
/// with equal values in every one of those columns are in one group.
#[derive(Debug, Clone)]
pub struct Groups {
    /// Each segment's group, numbered from 0 in order of first appearance.
    codes: Arc<Vec<u32>>,
    count: usize,
    /// The key columns the groups were made from, by [`key_identity`], so that a part of
    /// the segments knows whether it holds every group whole.
    keys: Arc<[usize]>,
    /// Segment indices by group: `members[starts[g]..starts[g + 1]]` are group g's
    /// segments, in segment order. Worked out once: a transfer needs them every month.
    members: Arc<Vec<usize>>,
    starts: Arc<Vec<usize>>,
}

impl Groups {
    /// The groups of `workforce`'s segments by the named key columns (which must exist;
    /// none puts every segment in one group).
    pub fn of(workforce: &Workforce, columns: &[String]) -> Groups {
        let keys: Vec<&KeyColumn> = columns
            .iter()
            .map(|name| {
                workforce
                    .key(name)
                    .expect("key columns are checked with the scenario")
            })
            .collect();
        let mut numbering: rustc_hash::FxHashMap<Vec<u32>, u32> = Default::default();
        let codes = (0..workforce.len())
            .map(|segment| {
                let values: Vec<u32> = keys.iter().map(|k| k.codes[segment]).collect();
                let next = numbering.len() as u32;
                *numbering.entry(values).or_insert(next)
            })
            .collect();
        Groups::new(
            codes,
            numbering.len(),
            keys.iter().map(|k| key_identity(k)).collect(),
        )
    }

    fn new(codes: Vec<u32>, count: usize, keys: Arc<[usize]>) -> Groups {
        let mut starts = vec![0usize; count + 1];
        for &g in &codes {
            starts[g as usize + 1] += 1;
        }
        for g in 0..count {
            starts[g + 1] += starts[g];
        }
        let mut next = starts.clone();
        let mut members = vec![0usize; codes.len()];
        for (segment, &g) in codes.iter().enumerate() {
            members[next[g as usize]] = segment;
            next[g as usize] += 1;
        }
        Groups {
            codes: Arc::new(codes),
            count,
            keys,
            members: Arc::new(members),
            starts: Arc::new(starts),
        }
    }

    /// The groups of `copies` replicas of the segments one after another (a Monte Carlo
    /// block's draws), each replica's groups its own: no group spans two draws. The draw
    /// is one more key the groups are made from, [`DRAW_KEY`], whole in a block's part.
    pub fn tiled(&self, copies: usize) -> Groups {
        let codes = (0..copies)
            .flat_map(|copy| {
                self.codes
                    .iter()
                    .map(move |&g| g + (copy * self.count) as u32)
            })
            .collect();
        let keys: Vec<usize> = self.keys.iter().copied().chain([DRAW_KEY]).collect();
        Groups::new(codes, self.count * copies, keys.into())
    }

    /// The groups of the segments in `range`, numbered as in the whole workforce.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Groups {
        Groups::new(self.codes[range].to_vec(), self.count, self.keys.clone())
    }

    fn len(&self) -> usize {
        self.codes.len()
    }

    /// The address that identifies these groups while they live (as [`key_identity`]
    /// identifies a key column).
    pub fn identity(&self) -> usize {
        Arc::as_ptr(&self.codes) as usize
    }

    /// Inside a part of the segments, a group is whole when one of its key columns has
    /// every group inside one part (a part holds whole organisations, so groups by org
    /// and anything are whole there).
    pub(crate) fn whole_only(&self) -> Result<(), Box<EvalAltResult>> {
        groups_whole_by_any(&self.keys)
    }
}

/// `group_has_other(groups, target)`: 1 for each segment whose group holds a segment of the
/// `target` mask other than itself.
pub fn group_has_other(groups: &Groups, target: &Column) -> Column {
    let mut targets = vec![0usize; groups.count];
    for (&g, &t) in groups.codes.iter().zip(target.values()) {
        if t != 0.0 {
            targets[g as usize] += 1;
        }
    }
    Column::new(
        groups
            .codes
            .iter()
            .zip(target.values())
            .map(|(&g, &t)| mask(targets[g as usize] > usize::from(t != 0.0)))
            .collect(),
    )
}

/// `spread_to_others(groups, amount, target, weight)`: what each segment receives when every
/// segment's `amount` is shared among the *other* segments of its group that are in the
/// `target` mask, in proportion to their `weight`, or equally where those weights are all
/// 0. A segment with no such other segment sends nothing: multiply its amount by
/// `group_has_other` first, so that what leaves is what arrives.
///
/// Every sum that leaves one segment out is a sum of the others (from running sums before
/// and after it), never a total minus that segment: a subtraction would lose the small
/// weights beside a large one, and could even make a split by weight look like an equal one.
pub fn spread_to_others(
    groups: &Groups,
    amount: &Column,
    target: &Column,
    weight: &Column,
) -> Column {
    let (amount, target, weight) = (amount.values(), target.values(), weight.values());
    let mut received = vec![0.0; groups.len()];
    let (members, starts) = (&groups.members, &groups.starts);
    // Per member of one group: the sum of the target weights before and after it, and the
    // source's shares per unit of weight (split by weight) or per target (equal split).
    // Buffers of one group at a time, reused from group to group (a transfer runs every
    // month, over every group).
    let mut before = Vec::new();
    let mut per_weight = Vec::new();
    let mut per_target = Vec::new();
    let mut weight_before = Vec::new();
    let mut target_before = Vec::new();
    for g in 0..groups.count {
        let group = &members[starts[g]..starts[g + 1]];
        let is_target = |i: usize| target[i] != 0.0;
        let targets = group.iter().filter(|&&i| is_target(i)).count();
        before.clear();
        let mut sum = 0.0;
        for &i in group {
            before.push(sum);
            if is_target(i) {
                sum += weight[i];
            }
        }
        per_weight.clear();
        per_target.clear();
        let mut after = 0.0;
        for (k, &i) in group.iter().enumerate().rev() {
            let others = targets - usize::from(is_target(i));
            let other_weight = before[k] + after;
            if is_target(i) {
                after += weight[i];
            }
            let (w, t) = if others == 0 || amount[i] == 0.0 {
                (0.0, 0.0)
            } else if other_weight > 0.0 {
                (amount[i] / other_weight, 0.0)
            } else {
                (0.0, amount[i] / others as f64)
            };
            per_weight.push(w);
            per_target.push(t);
        }
        per_weight.reverse();
        per_target.reverse();
        // Each target receives from every source but itself.
        let running_sums = |shares: &[f64], sums: &mut Vec<f64>| {
            sums.clear();
            let mut sum = 0.0;
            for share in shares {
                sums.push(sum);
                sum += share;
            }
        };
        running_sums(&per_weight, &mut weight_before);
        running_sums(&per_target, &mut target_before);
        let (mut weight_after, mut target_after) = (0.0, 0.0);
        for (k, &j) in group.iter().enumerate().rev() {
            if is_target(j) {
                received[j] = weight[j] * (weight_before[k] + weight_after)
                    + (target_before[k] + target_after);
            }
            weight_after += per_weight[k];
            target_after += per_target[k];
        }
    }
    Column::new(received)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `script` with columns `long` (3 segments) and `short` (2 segments) in scope.
    fn run_with_uneven_columns(script: &str) -> Result<Column, Box<EvalAltResult>> {
        let mut engine = Engine::new_raw();
        register(&mut engine);
        let mut scope = rhai::Scope::new();
        scope.push("long", Column::new(vec![1.0, 2.0, 3.0]));
        scope.push("short", Column::new(vec![10.0, 20.0]));
        engine.eval_with_scope::<Column>(&mut scope, script)
    }

    #[test]
    fn columns_of_different_lengths_are_an_error_naming_the_operation() {
        for (script, operation) in [
            ("long + short", "'+'"),
            ("short * long", "'*'"),
            ("max(long, short)", "'max'"),
            ("long > short", "'>'"),
            // `long` is held twice here, so the operation cannot work in place.
            ("let copy = long; copy -= short; copy", "'-='"),
            ("long += short; long", "'+='"),
            ("where(long > 1.0, short, 0.0)", "'where'"),
            ("where(short > 1.0, long, short)", "'where'"),
        ] {
            let error = run_with_uneven_columns(script)
                .expect_err(script)
                .to_string();
            assert!(error.contains(operation), "{script}: {error}");
            assert!(
                error.contains("3 and 2") || error.contains("2 and 3"),
                "{script}: {error}"
            );
            assert!(!error.contains(NEEDS_WHOLE_COLUMNS), "{script}: {error}");
        }
        // Columns of one length, and a column with a scalar, still combine.
        let sum = run_with_uneven_columns("long + long * 2.0").unwrap();
        assert_eq!(sum.values(), &[3.0, 6.0, 9.0]);
    }

    #[test]
    fn spread_shares_within_groups_by_weight() {
        let org = KeyColumn::from_values(&["a", "a", "a", "b", "b"]);
        let amount = Column::new(vec![6.0, 0.0, 0.0, 3.0, 0.0]);
        let target = Column::new(vec![0.0, 1.0, 1.0, 0.0, 0.0]);
        let weight = Column::new(vec![0.0, 1.0, 2.0, 5.0, 5.0]);
        let shared = spread(org.clone(), amount, target.clone(), weight);
        assert_eq!(shared.values(), &[0.0, 2.0, 4.0, 0.0, 0.0]);
        assert_eq!(group_has(org, target).values(), &[1.0, 1.0, 1.0, 0.0, 0.0]);
    }

    fn groups(values: &[&str]) -> Groups {
        let key = KeyColumn::from_values(values);
        Groups::new(
            key.codes.to_vec(),
            key.dictionary.len(),
            Arc::from(vec![key_identity(&key)]),
        )
    }

    #[test]
    fn spread_to_others_leaves_each_source_out_of_its_own_targets() {
        // Group a: segment 0 sends 6 to the targets 1 and 2 by weight (1:2); segment 1,
        // itself a target, sends 3 to segment 2 only. Group b: segment 3 sends 4 to 4 and 5
        // equally (their weights are 0); segment 5, a target, sends 1 to segment 4.
        let groups = groups(&["a", "a", "a", "b", "b", "b"]);
        let amount = Column::new(vec![6.0, 3.0, 0.0, 4.0, 0.0, 1.0]);
        let target = Column::new(vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
        let weight = Column::new(vec![9.0, 1.0, 2.0, 9.0, 0.0, 0.0]);
        let received = spread_to_others(&groups, &amount, &target, &weight);
        assert_eq!(received.values(), &[0.0, 2.0, 7.0, 0.0, 3.0, 2.0]);
        assert_eq!(received.sum(), amount.sum());
        assert_eq!(
            group_has_other(&groups, &target).values(),
            &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
        );
        // A lone target has no other target to send to.
        let alone = groups_of_one();
        assert_eq!(
            group_has_other(&alone, &Column::new(vec![1.0, 0.0])).values(),
            &[0.0, 1.0]
        );
    }

    fn groups_of_one() -> Groups {
        groups(&["a", "a"])
    }

    #[test]
    fn spread_to_others_keeps_a_tiny_weight_beside_a_large_one() {
        // Segment 1 (weight 1e20) sends to segment 2 only, whose weight is tiny but not 0:
        // the split is by weight, so segment 2 gets it all; a total-minus-self would have
        // made segment 2's weight 0 and the split equal among the wrong targets.
        let groups = groups(&["a", "a", "a"]);
        let received = spread_to_others(
            &groups,
            &Column::new(vec![0.0, 5.0, 0.0]),
            &Column::new(vec![0.0, 1.0, 1.0]),
            &Column::new(vec![0.0, 1e20, 0.25]),
        );
        assert_eq!(received.values(), &[0.0, 0.0, 5.0]);
    }

    #[test]
    fn spread_is_equal_when_weights_are_zero() {
        let org = KeyColumn::from_values(&["a", "a", "a"]);
        let shared = spread(
            org,
            Column::new(vec![3.0, 0.0, 0.0]),
            Column::new(vec![0.0, 1.0, 1.0]),
            Column::new(vec![0.0, 0.0, 0.0]),
        );
        assert_eq!(shared.values(), &[0.0, 1.5, 1.5]);
    }
}
