//! The values a rule script sees besides columns: `seg`, the segments' inputs and keys, and
//! `timing`, an intervention's place in time.

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, INT};

use crate::model::{InputColumn, Workforce};

/// `seg`: the scenario's segments. `seg.fte`, `seg.leaver_rate` ... are the input columns
/// (after overrides); `seg.org`, `seg.staff_group` ... and `seg["setting"]` are key columns.
#[derive(Debug, Clone)]
pub struct Segments(pub Arc<Workforce>);

/// `timing`: when an intervention acts, for rules that look back or forward in time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// First and last month index the intervention acts (`t0`, `t1`); `t1` is far in the
    /// future when it has no end.
    pub first: i64,
    pub last: i64,
    pub ramp_months: f64,
    /// Months in the run.
    pub months: i64,
    /// Calendar month (1..12) of month index 0.
    pub first_calendar_month: i64,
}

impl Timing {
    /// Does the intervention act in month `s`, and is `s` inside the run?
    pub fn active(&self, s: i64) -> bool {
        s >= 0 && s < self.months && s >= self.first && s <= self.last
    }

    /// Does a pipeline start a cohort in month `s`? Like [`active`](Self::active), but `s`
    /// may be before the run: a programme already running when the plan starts has
    /// cohorts in training at month 0, whose joiners land in the run.
    pub fn starts(&self, s: i64) -> bool {
        s < self.months && s >= self.first && s <= self.last
    }

    /// Spec section 4: `min(1, (s - t0 + 1) / ramp_months)` while acting, else 0.
    pub fn ramp(&self, s: i64) -> f64 {
        if s < self.first || s > self.last {
            0.0
        } else {
            (((s - self.first + 1) as f64) / self.ramp_months).min(1.0)
        }
    }

    /// Calendar month (1 = January) of month index `s`.
    pub fn calendar_month(&self, s: i64) -> i64 {
        (self.first_calendar_month - 1 + s).rem_euclid(12) + 1
    }
}

pub fn register(engine: &mut Engine) {
    register_segments(engine, |s, column| Ok(s.0.input(column).clone()));
    register_timing(engine);
}

/// `seg`: its input columns as `input` gives them (the interpreter's columns, or the rule
/// compiler's stand-ins), its key columns, `seg["name"]` for either, and `seg.count`.
pub fn register_segments<T: Clone + Send + Sync + 'static>(
    engine: &mut Engine,
    input: fn(&Segments, InputColumn) -> Result<T, Box<EvalAltResult>>,
) {
    engine.register_type_with_name::<Segments>("Segments");
    for column in InputColumn::ALL {
        engine.register_get(column.name(), move |s: &mut Segments| input(s, column));
    }
    for key in crate::model::workforce::REQUIRED_KEYS {
        engine.register_get(key, move |s: &mut Segments| {
            s.0.key(key)
                .cloned()
                .expect("required keys are checked on import")
        });
    }
    engine.register_indexer_get(
        move |s: &mut Segments, name: &str| -> Result<Dynamic, Box<EvalAltResult>> {
            if let Some(column) = InputColumn::from_name(name) {
                return Ok(Dynamic::from(input(s, column)?));
            }
            s.0.key(name)
                .map(|k| Dynamic::from(k.clone()))
                .ok_or_else(|| {
                    format!(
                        "the segments have no column '{name}'; key columns are {}",
                        s.0.key_names.join(", ")
                    )
                    .into()
                })
        },
    );
    engine.register_get(
        "count",
        |s: &mut Segments| -> Result<INT, Box<EvalAltResult>> {
            super::columns::whole_columns_only("seg.count")?;
            Ok(s.0.len() as INT)
        },
    );
}

/// `timing` and its functions of a month index.
pub fn register_timing(engine: &mut Engine) {
    engine.register_type_with_name::<Timing>("Timing");
    engine.register_fn("active", |t: &mut Timing, s: INT| t.active(s));
    engine.register_fn("starts", |t: &mut Timing, s: INT| t.starts(s));
    engine.register_fn("ramp", |t: &mut Timing, s: INT| t.ramp(s));
    engine.register_fn("calendar_month", |t: &mut Timing, s: INT| {
        t.calendar_month(s)
    });
    engine.register_get("first", |t: &mut Timing| t.first);
    engine.register_get("last", |t: &mut Timing| t.last);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_and_activity_follow_the_spec() {
        let timing = Timing {
            first: 2,
            last: 7,
            ramp_months: 3.0,
            months: 6,
            first_calendar_month: 4,
        };
        let ramps: Vec<f64> = (0..9).map(|s| timing.ramp(s)).collect();
        assert_eq!(
            ramps,
            vec![0.0, 0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0, 1.0, 1.0, 1.0, 0.0]
        );
        // Month 6 and 7 are inside [t0, t1] but past the six-month run.
        let active: Vec<bool> = (0..8).map(|s| timing.active(s)).collect();
        assert_eq!(
            active,
            vec![false, false, true, true, true, true, false, false]
        );
        // A programme that began before the run has cohorts in months before 0.
        let running = Timing {
            first: -5,
            ..timing
        };
        let starts: Vec<bool> = (-6..8).map(|s| running.starts(s)).collect();
        assert_eq!(starts.iter().filter(|s| **s).count(), 11);
        assert!(!running.starts(-6) && running.starts(-5) && !running.starts(6));
        assert_eq!(timing.calendar_month(0), 4);
        assert_eq!(timing.calendar_month(9), 1);
        assert_eq!(timing.calendar_month(-4), 12);
    }
}
