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

use crate::model::{Column, KeyColumn};

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

fn whole_groups_only(group: &KeyColumn) -> Result<(), Box<EvalAltResult>> {
    let identity = key_identity(group);
    let whole = PART.with(|p| {
        let part = p.take();
        let whole = part.as_ref().is_none_or(|keys| keys.contains(&identity));
        p.set(part);
        whole
    });
    if whole {
        Ok(())
    } else {
        Err(format!("a group split across parts {NEEDS_WHOLE_COLUMNS}").into())
    }
}

fn key_mask(key: &KeyColumn, test: impl Fn(&str) -> bool) -> Column {
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
