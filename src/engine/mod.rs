//! Runs scenarios: the month-by-month stock and flow of each segment's FTE, with the rule
//! scripts computing each month's rates and flows over whole columns of segments.
//!
//! The engine does no IO: it takes a checked [`Workforce`] and [`Scenario`] and returns
//! [`RunResults`]. Loading data before and storing results after is the caller's job, so
//! rayon workers never hold a database connection.

pub mod batch;
mod fused;
pub mod monte_carlo;
pub mod trace;
pub mod variants;

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rhai::{Dynamic, Scope, INT};

use crate::model::results::METRICS;
use crate::model::scenario::{FieldValue, Seasonality};
use crate::model::workforce::{InputProblem, InputProblems};
use crate::model::{
    Column, Detail, InputColumn, Intervention, KeyColumn, RunResults, Scenario, Workforce,
};
use crate::rules::columns::Groups;
use crate::rules::values::{Segments, Timing};
use crate::rules::{contract, KindRule, RuleProblem, RuleScript, RuleSet};

/// Why a scenario could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error("a rule failed: {0}")]
    Rule(#[from] RuleProblem),
    #[error("the scenario's overrides give invalid inputs:\n{}", crate::model::workforce::list_problems(&.0 .0))]
    Overrides(InputProblems),
    #[error("{0}")]
    Scenario(String),
    /// The run was asked to stop (a cancelled Monte Carlo run, between blocks of draws).
    #[error("stopped before it finished")]
    Stopped,
}

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub detail: Detail,
    /// Wall-clock budget for all rule calls of one scenario (of each block of draws of a
    /// Monte Carlo run).
    pub time_budget: Duration,
    /// The draws of a Monte Carlo run to make, when not all of them: one shard's.
    pub draws: Option<Range<u64>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            detail: Detail::Segment,
            time_budget: crate::rules::sandbox::DEFAULT_TIME_BUDGET,
            draws: None,
        }
    }
}

/// An intervention made ready for the month loop: its segments, its attribution weights and
/// its fields as script values.
#[derive(Clone)]
struct Prepared<'r> {
    kind: &'r KindRule,
    /// The intervention's name, for traces.
    name: String,
    /// Its place in the scenario's list (from 0), by which uncertain entries name it.
    index: usize,
    timing: Timing,
    cost_per_month: f64,
    /// A Monte Carlo draw's `cost_per_month`, segment by segment, when it is drawn.
    cost_column: Option<Column>,
    matched: Column,
    weight: Column,
    fields: Vec<(String, Dynamic)>,
}

impl Prepared<'_> {
    /// The intervention as one part of the segments sees it.
    fn slice(&self, range: Range<usize>) -> Self {
        let slice = |c: &Column| Column::new(c.values()[range.clone()].to_vec());
        Prepared {
            kind: self.kind,
            name: self.name.clone(),
            index: self.index,
            timing: self.timing,
            cost_per_month: self.cost_per_month,
            cost_column: self.cost_column.as_ref().map(slice),
            matched: slice(&self.matched),
            weight: slice(&self.weight),
            fields: self
                .fields
                .iter()
                .map(|(name, value)| {
                    let value = if let Some(mask) = value.read_lock::<Column>() {
                        Dynamic::from(slice(&mask))
                    } else if let Some(groups) = value.read_lock::<Groups>() {
                        Dynamic::from(groups.slice(range.clone()))
                    } else {
                        value.clone()
                    };
                    (name.clone(), value)
                })
                .collect(),
        }
    }
}

/// The workforce a scenario runs on: its overrides applied and checked.
pub fn scenario_workforce(
    workforce: &Workforce,
    scenario: &Scenario,
) -> Result<Workforce, RunError> {
    let adjusted = scenario.apply_overrides(workforce);
    if scenario.overrides.is_empty() {
        return Ok(adjusted);
    }
    let mut problems = Vec::new();
    for segment in 0..adjusted.len() {
        for (column, reason) in adjusted.check_segment(segment) {
            problems.push(InputProblem {
                source: format!("scenario {}", scenario.name),
                row: None,
                column: Some(column.to_string()),
                message: format!("segment {}: {reason}", adjusted.segment_label(segment)),
            });
        }
    }
    if problems.is_empty() {
        Ok(adjusted)
    } else {
        Err(RunError::Overrides(InputProblems(problems)))
    }
}

/// Segments in one part when a large workforce is run in parts. Parts let every core work
/// on one scenario; each part pays the interpreter's fixed cost of a month (about 100 us
/// here), so parts must be large: on this machine 8,192 segments ran faster than 2,048 or
/// 4,096, whose columns fit the 1 MiB L2 cache better but whose fixed costs outweigh that
/// (BENCHMARKS.md). `WFPLAN_PART_SEGMENTS` overrides it for benchmarking.
pub const PART_SEGMENTS: usize = 8192;

fn part_segments() -> usize {
    std::env::var("WFPLAN_PART_SEGMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(PART_SEGMENTS)
}

/// Runs one scenario over its whole horizon.
///
/// A large workforce is run in parts: contiguous ranges of whole organisations, each with
/// its own script scope, run month by month on every core of the current rayon pool. Every
/// rule statement works segment by segment, so a part gives each of its segments exactly the
/// figures a run over whole columns gives. The few operations that look across segments
/// (`sum`, `len`, `seg.count`, a segment index, and `group_has` or `spread` over a key whose
/// groups a part boundary splits) stop a run in parts, which is then run again over whole
/// columns. Results summed into groups are added in segment order either way, so every
/// figure is the same to the last bit.
pub fn run_scenario(
    rules: &RuleSet,
    workforce: &Workforce,
    scenario: &Scenario,
    options: &RunOptions,
) -> Result<RunResults, RunError> {
    if let Some(monte_carlo) = scenario.monte_carlo {
        return monte_carlo::run_all_draws(rules, workforce, scenario, monte_carlo, options);
    }
    let deadline = Instant::now() + options.time_budget;
    let _deadline = crate::rules::sandbox::DeadlineGuard::until(deadline);
    let workforce = Arc::new(scenario_workforce(workforce, scenario)?);
    let grouping = Grouping::new(&workforce, &options.detail)?;

    let prepared = prepare_all(rules, &workforce, scenario)?;

    let run = Run {
        rules,
        workforce: &workforce,
        scenario,
        grouping: &grouping,
        prepared: &prepared,
        deadline,
    };
    let ranges = plan_parts(&workforce, part_segments());
    all_finite(run.execute(&ranges)?, &rules.flows.file)
}

/// The results, or the scenario's failure if any figure is not a finite number (stored,
/// it would read as a number in SQL and vanish from JSON answers). The error names the
/// figure, the rule file that writes it, the month and the row (segment or group).
fn all_finite(results: RunResults, flows_file: &str) -> Result<RunResults, RunError> {
    let Some(at) = results.figures.iter().position(|v| !v.is_finite()) else {
        return Ok(results);
    };
    let width = results.rows.len() * METRICS.len();
    let (month, rest) = (at / width, at % width);
    let (row, metric) = (rest / METRICS.len(), rest % METRICS.len());
    let keys: Vec<String> = results
        .key_names
        .iter()
        .zip(&results.rows[row])
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut keys = if keys.is_empty() {
        "the total".to_string()
    } else {
        keys.join(", ")
    };
    if results.draws != crate::model::DrawRange::DETERMINISTIC {
        keys = format!("{keys} in draw {}", results.draw_of_row(row));
    }
    Err(RunError::Scenario(format!(
        "{}: {} is {} in {} for {keys}: an input or intervention drives the figures out of range",
        flows_file,
        METRICS[metric],
        results.figures[at],
        results.start.plus(month as i64),
    )))
}

/// Contiguous ranges of about `target` segments, cut only where no organisation has
/// segments on both sides, so that skill mix (which moves work within an organisation)
/// sees each organisation whole. One range if the workforce is small.
fn plan_parts(workforce: &Workforce, target: usize) -> Vec<Range<usize>> {
    let n = workforce.len();
    let whole = || std::iter::once(0..n).collect();
    let Some(org) = workforce.key("org") else {
        return whole();
    };
    if n < 2 * target {
        return whole();
    }
    let mut last = vec![0usize; org.dictionary.len()];
    for (i, &o) in org.codes.iter().enumerate() {
        last[o as usize] = i;
    }
    let mut cuts = vec![0];
    let mut reach = 0;
    for (i, &o) in org.codes.iter().enumerate() {
        reach = reach.max(last[o as usize]);
        let start = *cuts.last().expect("cuts start at 0");
        // Leave no small part at the end.
        if reach == i && i + 1 - start >= target && n - (i + 1) >= target / 2 {
            cuts.push(i + 1);
        }
    }
    cuts.push(n);
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// The key columns whose every group lies inside one part: `group_has` and `spread` over
/// them give in a part what they give over whole columns.
fn whole_groups(workforce: &Workforce, ranges: &[Range<usize>]) -> Arc<[usize]> {
    let mut whole = Vec::new();
    for key in &workforce.keys {
        let mut part_of = vec![usize::MAX; key.dictionary.len()];
        let mut split = false;
        'parts: for (p, range) in ranges.iter().enumerate() {
            for &code in &key.codes[range.clone()] {
                let seen = &mut part_of[code as usize];
                if *seen == usize::MAX {
                    *seen = p;
                } else if *seen != p {
                    split = true;
                    break 'parts;
                }
            }
        }
        if !split {
            whole.push(crate::rules::columns::key_identity(key));
        }
    }
    whole.into()
}

/// What every part of a run shares.
struct Run<'a, 'r> {
    rules: &'r RuleSet,
    workforce: &'a Arc<Workforce>,
    scenario: &'a Scenario,
    grouping: &'a Grouping,
    prepared: &'a [Prepared<'r>],
    deadline: Instant,
}

impl<'r> Run<'_, 'r> {
    /// Runs the scenario in `ranges` on the rule compiler, falling back to the
    /// interpreter (the rules' [`Execution`](crate::rules::Execution) permitting), and over
    /// whole columns where a rule looks across the parts' boundaries. The figures are the
    /// same whichever way they were made; only a rule that fails everywhere fails the run,
    /// with the interpreter's own error.
    fn execute(&self, ranges: &[Range<usize>]) -> Result<RunResults, RunError> {
        let whole = 0..self.workforce.len();
        let whole = std::slice::from_ref(&whole);
        let mut attempts: Vec<(&[Range<usize>], bool)> = Vec::new();
        use crate::rules::Execution;
        let ways: &[bool] = match self.rules.execution {
            Execution::Auto => &[true, false],
            Execution::Compiled => &[true],
            Execution::Interpreted => &[false],
        };
        for &compile in ways {
            if ranges.len() > 1 {
                attempts.push((ranges, compile));
            }
            attempts.push((whole, compile));
        }
        let mut not_compiled: Option<String> = None;
        let mut last = None;
        for (ranges, compile) in attempts {
            match self.in_parts(ranges, compile) {
                Ok(results) => {
                    if let (false, Some(reason)) = (compile, &not_compiled) {
                        fused::note_interpreted(&self.scenario.name, reason);
                    }
                    return Ok(results);
                }
                Err(e) => {
                    if compile {
                        not_compiled = Some(match &e {
                            // The rule and where, without the wrapping of a failed run.
                            RunError::Rule(problem) => problem.to_string(),
                            other => other.to_string(),
                        });
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn in_parts(&self, ranges: &[Range<usize>], compile: bool) -> Result<RunResults, RunError> {
        let months = self.scenario.months;
        let width = self.grouping.rows.len() * METRICS.len();
        let mut figures = vec![0.0; months * width];
        advise_huge_pages(&mut figures);
        touch_pages(&mut figures);
        let whole_groups = whole_groups(self.workforce, ranges);
        let in_parts = ranges.len() > 1;
        let mut parts: Vec<Stepper> = ranges
            .iter()
            .map(|range| {
                Ok::<_, RunError>(if compile {
                    let (workforce, prepared) = self.part_inputs(range.clone());
                    Stepper::Compiled(Box::new(fused::FusedPart::new(
                        self,
                        range.clone(),
                        workforce,
                        prepared,
                    )))
                } else {
                    Stepper::Interpreted(Box::new(Part::new(self, range.clone())?))
                })
            })
            .collect::<Result<_, _>>()?;
        let step = |part: &mut Stepper<'r>, t: usize| {
            let calendar_month = self.scenario.start.plus(t as i64).month as INT;
            let seasonality = &self.scenario.seasonality;
            match part {
                Stepper::Compiled(part) => {
                    part.month(self.rules, t as INT, calendar_month, seasonality)
                }
                Stepper::Interpreted(part) => {
                    part.month(self.rules, t as INT, calendar_month, seasonality)?;
                    let month = part.figures(self.rules)?;
                    part.advance(self.rules)?;
                    Ok::<_, RunError>(month)
                }
            }
        };
        let guards = || {
            (
                crate::rules::sandbox::DeadlineGuard::until(self.deadline),
                in_parts.then(|| crate::rules::columns::PartGuard::enter(whole_groups.clone())),
            )
        };

        if !in_parts {
            let part = &mut parts[0];
            let rows_are_segments = self.grouping.rows_are_segments();
            for (t, month_out) in figures.chunks_exact_mut(width).enumerate() {
                let month = step(part, t)?;
                if rows_are_segments {
                    write_rows(&month, month_out);
                } else {
                    self.grouping.add(&month, part.range().start, month_out);
                }
            }
        } else if self.grouping.rows_are_segments() {
            // Every segment is its own row, so each part owns its rows of every month and
            // runs all its months on its own, with no wait for the other parts.
            let mut outs: Vec<Vec<&mut [f64]>> = parts.iter().map(|_| Vec::new()).collect();
            for month_out in figures.chunks_exact_mut(width) {
                let mut rest = month_out;
                for (part, part_outs) in parts.iter().zip(outs.iter_mut()) {
                    let (out, tail) = rest.split_at_mut(part.range().len() * METRICS.len());
                    part_outs.push(out);
                    rest = tail;
                }
            }
            let done: Vec<Result<(), RunError>> = parts
                .par_iter_mut()
                .zip(outs)
                .map(|(part, part_outs)| {
                    let _guards = guards();
                    for (t, out) in part_outs.into_iter().enumerate() {
                        write_rows(&step(part, t)?, out);
                    }
                    Ok(())
                })
                .collect();
            for result in done {
                result?;
            }
        } else {
            // Rows gather segments of several parts: the parts run a month at a time, and
            // their figures are added part by part, so each row's sums are in segment order.
            // The adding (on one thread) of a month overlaps the next month's parts.
            let starts: Vec<usize> = parts.iter().map(|p| p.range().start).collect();
            let mut pending: Option<(usize, Vec<Vec<Column>>)> = None;
            for t in 0..=months {
                let previous = pending.take();
                let figures = &mut figures;
                let (done, ()) = rayon::join(
                    || {
                        (t < months).then(|| {
                            parts
                                .par_iter_mut()
                                .map(|part| {
                                    let _guards = guards();
                                    step(part, t)
                                })
                                .collect::<Result<Vec<Vec<Column>>, RunError>>()
                        })
                    },
                    || {
                        if let Some((month, columns)) = previous {
                            let out = &mut figures[month * width..(month + 1) * width];
                            for (start, part) in starts.iter().zip(&columns) {
                                self.grouping.add(part, *start, out);
                            }
                        }
                    },
                );
                if let Some(done) = done {
                    pending = Some((t, done?));
                }
            }
        }

        Ok(RunResults {
            draws: crate::model::DrawRange::DETERMINISTIC,
            scenario: self.scenario.name.clone(),
            start: self.scenario.start,
            months,
            key_names: self.grouping.key_names.clone(),
            rows: self.grouping.rows.clone(),
            figures,
        })
    }
}

impl<'r> Run<'_, 'r> {
    /// The segments' inputs and the interventions as a part of the segments sees them.
    fn part_inputs(&self, range: Range<usize>) -> (Arc<Workforce>, Vec<Prepared<'r>>) {
        let whole = range.len() == self.workforce.len();
        let workforce = if whole {
            self.workforce.clone()
        } else {
            Arc::new(slice_workforce(self.workforce, range.clone()))
        };
        let prepared = self
            .prepared
            .iter()
            .map(|p| {
                if whole {
                    p.clone()
                } else {
                    p.slice(range.clone())
                }
            })
            .collect();
        (workforce, prepared)
    }
}

/// A part run on the rule compiler or on the interpreter.
enum Stepper<'r> {
    Compiled(Box<fused::FusedPart<'r>>),
    Interpreted(Box<Part<'r>>),
}

impl Stepper<'_> {
    fn range(&self) -> &Range<usize> {
        match self {
            Stepper::Compiled(part) => &part.range,
            Stepper::Interpreted(part) => &part.range,
        }
    }
}

/// One part of a run: a range of segments with its own scope, carried from month to month.
struct Part<'r> {
    range: Range<usize>,
    scope: Scope<'static>,
    /// Length of the scope holding only the engine's variables.
    base: usize,
    zeros: Column,
    prepared: Vec<Prepared<'r>>,
    slots: Slots,
}

impl<'r> Part<'r> {
    fn new(run: &Run<'_, 'r>, range: Range<usize>) -> Result<Self, RunError> {
        let (workforce, prepared) = run.part_inputs(range.clone());
        let segments = range.len();
        let zeros = Column::filled(segments, 0.0);
        let mut scope = Scope::new();
        scope.push_constant("seg", Segments(workforce.clone()));
        scope.push_constant("months", run.scenario.months as INT);
        scope.push_constant("zeros", zeros.clone());
        scope.push("t", 0 as INT);
        scope.push("calendar_month", run.scenario.start.month as INT);
        scope.push("annual_leave_season", 1.0);
        scope.push("sickness_season", 1.0);
        scope.push("fte", workforce.input(InputColumn::Fte).clone());
        for name in contract::MONTH_STATE
            .iter()
            .chain(&contract::ACCUMULATORS)
            .chain(&contract::FLOWS)
        {
            scope.push(*name, zeros.clone());
        }
        let base = scope.len();
        let slots = Slots::new(&scope);
        Ok(Part {
            range,
            scope,
            base,
            zeros,
            prepared,
            slots,
        })
    }

    /// Runs the month's scripts: rates, each intervention, flows.
    fn month(
        &mut self,
        rules: &RuleSet,
        t: INT,
        calendar_month: INT,
        seasonality: &Seasonality,
    ) -> Result<(), RunError> {
        self.month_observed(rules, t, calendar_month, seasonality, &mut |_, _, _| {})
    }

    /// [`month`](Self::month), calling `observe` after each script with the script, the
    /// intervention's name (none for rates and flows) and the scope before it is rewound,
    /// which still holds the script's own variables: how a trace sees every quantity.
    fn month_observed(
        &mut self,
        rules: &RuleSet,
        t: INT,
        calendar_month: INT,
        seasonality: &Seasonality,
        observe: &mut dyn FnMut(&RuleScript, Option<&str>, &Scope),
    ) -> Result<(), RunError> {
        let segments = self.range.len();
        let scope = &mut self.scope;
        scope.set_value("t", t);
        scope.set_value("calendar_month", calendar_month);
        let of_month = (calendar_month - 1) as usize;
        scope.set_value("annual_leave_season", seasonality.annual_leave[of_month]);
        scope.set_value("sickness_season", seasonality.sickness[of_month]);
        for name in contract::ACCUMULATORS {
            scope.set_value(name, self.zeros.clone());
        }
        rules.run(&rules.rates, scope)?;
        observe(&rules.rates, None, scope);
        scope.rewind(self.base);
        keep_state_columns(scope, &self.slots, segments, &rules.rates.file)?;
        for p in &self.prepared {
            run_intervention(rules, scope, p, t)?;
            observe(&p.kind.script, Some(&p.name), scope);
            scope.rewind(self.base);
            keep_state_columns(scope, &self.slots, segments, &p.kind.script.file)?;
        }
        rules.run(&rules.flows, scope)?;
        observe(&rules.flows, None, scope);
        scope.rewind(self.base);
        Ok(())
    }

    /// The month's figures, in `METRICS` order.
    fn figures(&self, rules: &RuleSet) -> Result<Vec<Column>, RuleProblem> {
        let values = values(&self.scope);
        self.slots
            .metrics
            .iter()
            .map(|&(name, at)| {
                value_as_column(Some(values[at]), name, self.range.len(), &rules.flows.file)
            })
            .collect()
    }

    /// Next month's staff in post.
    fn advance(&mut self, rules: &RuleSet) -> Result<(), RuleProblem> {
        let next = value_as_column(
            Some(values(&self.scope)[self.slots.fte_next]),
            "fte_next",
            self.range.len(),
            &rules.flows.file,
        )?;
        self.scope.set_value("fte", next);
        Ok(())
    }
}

/// A part's own copy of some segments' inputs; the keys keep the whole workforce's
/// dictionaries, so a value has the same code in every part.
fn slice_workforce(workforce: &Workforce, range: Range<usize>) -> Workforce {
    Workforce {
        key_names: workforce.key_names.clone(),
        keys: workforce
            .keys
            .iter()
            .map(|k| KeyColumn {
                codes: Arc::new(k.codes[range.clone()].to_vec()),
                dictionary: k.dictionary.clone(),
            })
            .collect(),
        inputs: workforce
            .inputs
            .iter()
            .map(|c| Column::new(c.values()[range.clone()].to_vec()))
            .collect(),
    }
}

/// Adds each column's values, in order, to its sum: up to eight independent chains of
/// additions, which the processor overlaps.
fn sum_in_order(sums: &mut [f64], columns: &[&[f64]]) {
    let mut acc = [0.0f64; 8];
    acc[..sums.len()].copy_from_slice(sums);
    let mut padded: [&[f64]; 8] = [&[]; 8];
    padded[..columns.len()].copy_from_slice(columns);
    let len = columns.first().map_or(0, |c| c.len());
    if columns.len() == 8 && columns.iter().all(|c| c.len() == len) {
        for i in 0..len {
            for (a, c) in acc.iter_mut().zip(&padded) {
                *a += c[i];
            }
        }
    } else {
        for (a, c) in acc.iter_mut().zip(columns) {
            for x in *c {
                *a += x;
            }
        }
    }
    sums.copy_from_slice(&acc[..sums.len()]);
}

/// Writes one month's figures of a part whose segments are result rows `0..` of `out`.
fn write_rows(month: &[Column], out: &mut [f64]) {
    let width = METRICS.len();
    let columns: Vec<&[f64]> = month.iter().map(|c| c.values()).collect();
    for (segment, row) in out.chunks_exact_mut(width).enumerate() {
        for (cell, column) in row.iter_mut().zip(&columns) {
            // `0.0 +` stores what adding to the zeroed buffer stores (a -0.0 becomes 0.0,
            // as in the grouped path) without reading the buffer first: a read maps the
            // shared zero page, and the write after it must copy that page again.
            *cell = 0.0 + column[segment];
        }
    }
}

/// Writes a zero into every page of a freshly allocated (and so unmapped) buffer before
/// the figures are added into it. Adding reads a figure before writing it: the read maps
/// the shared zero page and the write must then copy it, which on a threaded process
/// flushes every core's TLB (a fifth of a Monte Carlo run's time went to those flushes).
/// A first write maps a page of its own at once.
fn touch_pages(buffer: &mut [f64]) {
    const PER_PAGE: usize = 4096 / std::mem::size_of::<f64>();
    for page in buffer.chunks_mut(PER_PAGE) {
        // SAFETY: a write of a valid f64 to an element of the slice. Volatile so that the
        // compiler keeps it although the buffer already reads as zero.
        unsafe { std::ptr::write_volatile(&mut page[0], 0.0) };
    }
}

/// Asks Linux to back a large results buffer with 2 MiB pages: ten years of monthly figures
/// for 50,000 segments is over a gigabyte, and faulting it in 4 KiB pages costs more than
/// the month loop's arithmetic. Elsewhere, or if the kernel declines, nothing changes.
fn advise_huge_pages(buffer: &mut [f64]) {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        const MADV_HUGEPAGE: i32 = 14;
        const PAGE: usize = 4096;
        let start = buffer.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(buffer);
        let aligned = start.next_multiple_of(PAGE);
        if end > aligned + (64 << 20) {
            // SAFETY: the range lies inside the buffer, and this advice changes no contents.
            unsafe {
                madvise(
                    aligned as *mut _,
                    (end - aligned) / PAGE * PAGE,
                    MADV_HUGEPAGE,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buffer;
}

/// Every intervention made ready, in the order they act: stage by stage, in file order
/// within a stage (a stable sort keeps file order).
fn prepare_all<'r>(
    rules: &'r RuleSet,
    workforce: &Workforce,
    scenario: &Scenario,
) -> Result<Vec<Prepared<'r>>, RunError> {
    let mut prepared: Vec<Prepared> = scenario
        .interventions
        .iter()
        .enumerate()
        .map(|(index, i)| prepare(rules, workforce, scenario, index, i))
        .collect::<Result<_, _>>()?;
    prepared.sort_by_key(|p| p.kind.stage);
    Ok(prepared)
}

fn prepare<'r>(
    rules: &'r RuleSet,
    workforce: &Workforce,
    scenario: &Scenario,
    index: usize,
    intervention: &Intervention,
) -> Result<Prepared<'r>, RunError> {
    let kind = rules.kinds.get(&intervention.kind).ok_or_else(|| {
        RunError::Scenario(format!(
            "intervention '{}': no rule for kind '{}'",
            intervention.name, intervention.kind
        ))
    })?;
    let mask = |matched: Vec<bool>| {
        Column::new(
            matched
                .into_iter()
                .map(|m| if m { 1.0 } else { 0.0 })
                .collect(),
        )
    };
    let matched = intervention.filter.matches(workforce);
    let weight = attribution_weights(workforce.input(InputColumn::Fte).values(), &matched);
    let fields = intervention
        .fields
        .iter()
        .map(|(name, value)| {
            let value = match value {
                FieldValue::Number(x) => Dynamic::from_float(*x),
                FieldValue::Integer(i) => Dynamic::from_int(*i),
                FieldValue::Filter(filter) => Dynamic::from(mask(filter.matches(workforce))),
                FieldValue::KeyColumns(columns) => Dynamic::from(Groups::of(workforce, columns)),
            };
            (name.clone(), value)
        })
        .collect();
    Ok(Prepared {
        kind,
        name: intervention.name.clone(),
        index,
        timing: Timing {
            first: intervention.start.months_since(scenario.start),
            last: intervention
                .end
                .map_or(i64::MAX / 4, |end| end.months_since(scenario.start)),
            ramp_months: intervention.ramp_months,
            months: scenario.months as i64,
            first_calendar_month: scenario.start.month as i64,
        },
        cost_per_month: intervention.cost_per_month,
        cost_column: None,
        matched: mask(matched),
        weight: Column::new(weight),
        fields,
    })
}

/// Spec section 4, attribution: each matched segment's share of the matched segments' FTE at
/// the start, or equal shares where they all have none. Unmatched segments get nothing.
pub fn attribution_weights(fte: &[f64], matched: &[bool]) -> Vec<f64> {
    let total: f64 = fte
        .iter()
        .zip(matched)
        .filter(|(_, m)| **m)
        .map(|(f, _)| f)
        .sum();
    let count = matched.iter().filter(|m| **m).count();
    fte.iter()
        .zip(matched)
        .map(|(f, m)| match (*m, total > 0.0) {
            (false, _) => 0.0,
            (true, true) => f / total,
            (true, false) => 1.0 / count as f64,
        })
        .collect()
}

fn run_intervention(
    rules: &RuleSet,
    scope: &mut Scope,
    p: &Prepared,
    t: i64,
) -> Result<(), RunError> {
    let active = p.timing.active(t);
    scope.push_constant("ramp", p.timing.ramp(t));
    scope.push_constant("active", active);
    scope.push_constant("matched", p.matched.clone());
    scope.push_constant("weight", p.weight.clone());
    scope.push_constant("timing", p.timing);
    for (name, value) in &p.fields {
        scope.push_constant_dynamic(name.as_str(), value.clone());
    }
    rules.run(&p.kind.script, scope)?;
    // `cost_per_month` is common to every kind, so the engine charges it rather than
    // every kind's script repeating it.
    if active && (p.cost_per_month != 0.0 || p.cost_column.is_some()) {
        let cost = read_column(
            scope,
            "intervention_cost",
            p.weight.len(),
            &p.kind.script.file,
        )?;
        let charged = match &p.cost_column {
            // A drawn cost: the same sum, segment by segment.
            Some(per_month) => Column::new(
                cost.values()
                    .iter()
                    .zip(per_month.values())
                    .zip(p.weight.values())
                    .map(|((c, m), w)| c + m * w)
                    .collect(),
            ),
            None => cost.zip(&p.weight, |c, w| c + p.cost_per_month * w),
        };
        scope.set_value("intervention_cost", charged);
    }
    Ok(())
}

/// Where the engine's own variables sit in a part's scope. They are pushed first and a
/// script cannot remove them, so after the scope is rewound they are read by position
/// rather than searched for by name.
struct Slots {
    /// The month's state and accumulators, and `fte`.
    state: Vec<(&'static str, usize)>,
    /// The variable of each metric, in `METRICS` order.
    metrics: Vec<(&'static str, usize)>,
    fte_next: usize,
}

impl Slots {
    fn new(scope: &Scope) -> Self {
        let position = |name: &str| {
            scope
                .iter_raw()
                .position(|(n, _, _)| n == name)
                .expect("the engine pushed its variables")
        };
        let with_position = |name: &'static str| (name, position(name));
        Slots {
            state: contract::MONTH_STATE
                .iter()
                .chain(&contract::ACCUMULATORS)
                .chain(&["fte"])
                .map(|name| with_position(name))
                .collect(),
            metrics: METRICS
                .iter()
                .map(|metric| with_position(contract::variable_of(metric)))
                .collect(),
            fte_next: position("fte_next"),
        }
    }
}

fn values<'s>(scope: &'s Scope) -> Vec<&'s Dynamic> {
    scope.iter_raw().map(|(_, _, value)| value).collect()
}

/// Checks, after a script, that the month's state is still one number per segment, and
/// turns plain numbers into columns. Without this a script that assigned, say, text to
/// `leaver` would only fail later, in another file, with a confusing message.
fn keep_state_columns(
    scope: &mut Scope,
    slots: &Slots,
    segments: usize,
    file: &str,
) -> Result<(), RuleProblem> {
    let mut numbers = Vec::new();
    let values = values(scope);
    for &(name, at) in &slots.state {
        let value = values[at];
        let column = value_as_column(Some(value), name, segments, file)?;
        if !value.is::<Column>() {
            numbers.push((name, column));
        }
    }
    for (name, column) in numbers {
        scope.set_value(name, column);
    }
    Ok(())
}

/// Reads a script variable as a column; a plain number stands for the same value in every
/// segment.
fn read_column(
    scope: &Scope,
    name: &str,
    segments: usize,
    file: &str,
) -> Result<Column, RuleProblem> {
    value_as_column(scope.get(name), name, segments, file)
}

/// A variable's value as a column; see [`read_column`].
fn value_as_column(
    value: Option<&Dynamic>,
    name: &str,
    segments: usize,
    file: &str,
) -> Result<Column, RuleProblem> {
    let problem = |message: String| variable_problem(file, message);
    let value = present(value, name, file)?;
    // Borrowed, not cloned: cloning a script value copies its box.
    if let Some(column) = value.read_lock::<Column>() {
        if column.len() == segments {
            return Ok(column.clone());
        }
        return Err(problem(format!(
            "`{name}` has {} values, not one per segment ({segments})",
            column.len()
        )));
    }
    if let Ok(x) = value.as_float() {
        return Ok(Column::filled(segments, x));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Column::filled(segments, i as f64));
    }
    Err(problem(format!(
        "`{name}` must be a column or a number, not {}",
        value.type_name()
    )))
}

/// A problem with one of the engine's variables after a script, in the script's file.
fn variable_problem(file: &str, message: String) -> RuleProblem {
    RuleProblem {
        file: file.to_string(),
        line: None,
        column: None,
        message,
    }
}

/// A variable's value, or the problem that a script removed it.
fn present<'v>(
    value: Option<&'v Dynamic>,
    name: &str,
    file: &str,
) -> Result<&'v Dynamic, RuleProblem> {
    value.ok_or_else(|| variable_problem(file, format!("the variable `{name}` is missing")))
}

/// How segment figures become result rows: one row per segment, or sums over groups.
struct Grouping {
    key_names: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Result row of each segment.
    row_of: Vec<usize>,
}

impl Grouping {
    fn new(workforce: &Workforce, detail: &Detail) -> Result<Grouping, RunError> {
        let key_names: Vec<String> = match detail {
            Detail::Segment => workforce.key_names.clone(),
            Detail::GroupBy(keys) => keys.clone(),
        };
        let mut columns = Vec::new();
        for name in &key_names {
            columns.push(workforce.key(name).ok_or_else(|| {
                RunError::Scenario(format!(
                    "cannot group results by '{name}': key columns are {}",
                    workforce.key_names.join(", ")
                ))
            })?);
        }
        let mut index = std::collections::HashMap::new();
        let mut rows = Vec::new();
        let mut row_of = Vec::with_capacity(workforce.len());
        for segment in 0..workforce.len() {
            let codes: Vec<u32> = columns.iter().map(|c| c.codes[segment]).collect();
            let row = *index.entry(codes).or_insert_with(|| {
                rows.push(
                    columns
                        .iter()
                        .map(|c| c.value(segment).to_string())
                        .collect(),
                );
                rows.len() - 1
            });
            row_of.push(row);
        }
        Ok(Grouping {
            key_names,
            rows,
            row_of,
        })
    }

    /// The grouping of `copies` replicas of the segments one after another (a Monte Carlo
    /// block's draws): each replica's rows its own, draw by draw.
    fn tiled(&self, copies: usize) -> Grouping {
        let rows = self.rows.len();
        Grouping {
            key_names: self.key_names.clone(),
            rows: (0..copies).flat_map(|_| self.rows.clone()).collect(),
            row_of: (0..copies)
                .flat_map(|copy| self.row_of.iter().map(move |&r| r + copy * rows))
                .collect(),
        }
    }

    /// Is every segment its own row, in order?
    fn rows_are_segments(&self) -> bool {
        self.row_of
            .iter()
            .enumerate()
            .all(|(segment, &row)| row == segment)
    }

    /// Adds one month's figures of the segments from `first` on into that month's rows.
    ///
    /// A segment at a time, every metric of it: each row's sum of a metric is still added
    /// in segment order (so the figures are the same to the bit), but the 26 metrics' sums
    /// are independent chains the processor runs side by side, where a metric at a time
    /// made every addition wait for the one before it (a total-detail run spent a third of
    /// its time there, adding on one thread after the parts had run).
    fn add(&self, month: &[Column], first: usize, out: &mut [f64]) {
        let width = METRICS.len();
        let columns: Vec<&[f64]> = month.iter().map(|c| c.values()).collect();
        let Some(segments) = columns.first().map(|c| c.len()) else {
            return;
        };
        let rows = &self.row_of[first..first + segments];
        if let Some(&row) = rows.first().filter(|&&r| rows.iter().all(|&x| x == r)) {
            // One row (a total, or a part inside one group): eight metrics at a time, each
            // summed in segment order.
            let out = &mut out[row * width..(row + 1) * width];
            for (sums, columns) in out.chunks_mut(8).zip(columns.chunks(8)) {
                sum_in_order(sums, columns);
            }
            return;
        }
        let mut sums = [0.0f64; METRICS.len()];
        let mut row = usize::MAX;
        for (segment, &segment_row) in rows.iter().enumerate() {
            if segment_row != row {
                if row != usize::MAX {
                    out[row * width..(row + 1) * width].copy_from_slice(&sums);
                }
                row = segment_row;
                sums.copy_from_slice(&out[row * width..(row + 1) * width]);
            }
            for (sum, column) in sums.iter_mut().zip(&columns) {
                *sum += column[segment];
            }
        }
        if row != usize::MAX {
            out[row * width..(row + 1) * width].copy_from_slice(&sums);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_is_by_fte_or_equal() {
        assert_eq!(
            attribution_weights(&[1.0, 3.0, 4.0], &[true, true, false]),
            vec![0.25, 0.75, 0.0]
        );
        assert_eq!(
            attribution_weights(&[0.0, 0.0, 4.0], &[true, true, false]),
            vec![0.5, 0.5, 0.0]
        );
        assert_eq!(attribution_weights(&[1.0], &[false]), vec![0.0]);
    }
}
