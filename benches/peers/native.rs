//! The native peer: the model of `docs/model.md` as one hand-written Rust
//! kernel with no scripting, the reference for the limit of this machine.
//!
//! It does what the shipped rules do, in the same order of operations, so its figures equal
//! the engine's (checked in `tests/it/native.rs`). It is written the way a performance-minded
//! engineer would write it for this model alone: the intervention set-up is done once, each
//! month's work for a segment is one pass of fused arithmetic over chunk-local arrays, and
//! chunks of whole organisations (skill mix moves work within an organisation) run on every
//! core, each running all its months while its arrays stay in cache.
//!
//! Used by `benches/national.rs` and `tests/it/native.rs` through `#[path]`.

#![allow(dead_code)]

use rayon::prelude::*;

use wfplan::engine::attribution_weights;
use wfplan::model::results::METRICS;
use wfplan::model::scenario::FieldValue;
use wfplan::model::{Column, InputColumn, Intervention, RunResults, Scenario, Workforce};
use wfplan::rules::columns::{group_has_other, spread_to_others, Groups};

const WIDTH: usize = METRICS.len();

/// Segments per chunk (rounded up to whole organisations).
pub const CHUNK: usize = 2048;

/// When an intervention acts: the spec's `t0`, `t1` and `ramp(t)`.
#[derive(Clone, Copy)]
struct Timing {
    first: i64,
    last: i64,
    ramp_months: f64,
    months: i64,
    first_calendar_month: i64,
}

impl Timing {
    fn active(&self, s: i64) -> bool {
        s >= 0 && s < self.months && s >= self.first && s <= self.last
    }
    /// A pipeline's cohort may have started before the run.
    fn starts(&self, s: i64) -> bool {
        s < self.months && s >= self.first && s <= self.last
    }
    fn ramp(&self, s: i64) -> f64 {
        if s < self.first || s > self.last {
            0.0
        } else {
            (((s - self.first + 1) as f64) / self.ramp_months).min(1.0)
        }
    }
    fn calendar_month(&self, s: i64) -> i64 {
        (self.first_calendar_month - 1 + s).rem_euclid(12) + 1
    }
}

/// What an intervention does, with its fields read once.
enum Effect {
    Retention {
        reduction: f64,
    },
    Wellbeing {
        sickness_reduction: f64,
    },
    TimeReleased {
        share: f64,
    },
    BankShift {
        share: f64,
    },
    WorkExperience {
        uplift: f64,
        lag_months: i64,
    },
    SkillMix {
        share: f64,
        ratio: f64,
        /// 1 where the segment's org has a `to` segment.
        has_target: Vec<f64>,
        /// The `to` mask.
        target: Vec<f64>,
    },
    /// placements (`apprentice = false`) and apprenticeships.
    Cohorts {
        apprentice: bool,
        places: f64,
        intake_month: i64,
        course_months: i64,
        completion: f64,
        local_employment: f64,
        cost_per_year: f64,
    },
    /// Moves of staff in post to the other segments of a group matching `to`.
    Transfer {
        rate: f64,
        groups: Groups,
        /// The `to` mask.
        target: Vec<f64>,
        /// 1 where the segment's group has a `to` segment other than itself.
        has_other: Vec<f64>,
        /// Are the groups inside organisations (`same` holds `org`)?
        within_org: bool,
    },
    /// return_to_practice and international.
    Stream {
        international: bool,
        per_year: f64,
        course_months: i64,
        success: f64,
        cost_each: f64,
    },
}

struct Prepared {
    stage: u8,
    timing: Timing,
    cost_per_month: f64,
    matched: Vec<f64>,
    weight: Vec<f64>,
    effect: Effect,
}

fn number(i: &Intervention, name: &str) -> f64 {
    match i.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
        Some(FieldValue::Number(x)) => *x,
        Some(FieldValue::Integer(x)) => *x as f64,
        other => panic!("field {name} of {}: {other:?}", i.name),
    }
}

fn integer(i: &Intervention, name: &str) -> i64 {
    match i.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
        Some(FieldValue::Integer(x)) => *x,
        Some(FieldValue::Number(x)) => *x as i64,
        other => panic!("field {name} of {}: {other:?}", i.name),
    }
}

fn mask(matched: &[bool]) -> Vec<f64> {
    matched.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect()
}

fn prepare(workforce: &Workforce, scenario: &Scenario, i: &Intervention) -> Prepared {
    let matched = i.filter.matches(workforce);
    let weight = attribution_weights(workforce.input(InputColumn::Fte).values(), &matched);
    let org = workforce.key("org").expect("org key");
    let (stage, effect) = match i.kind.as_str() {
        "retention" => (
            0,
            Effect::Retention {
                reduction: number(i, "reduction"),
            },
        ),
        "wellbeing" => (
            0,
            Effect::Wellbeing {
                sickness_reduction: number(i, "sickness_reduction"),
            },
        ),
        "time_released" => (
            0,
            Effect::TimeReleased {
                share: number(i, "share"),
            },
        ),
        "bank_shift" => (
            0,
            Effect::BankShift {
                share: number(i, "share"),
            },
        ),
        "work_experience" => (
            0,
            Effect::WorkExperience {
                uplift: number(i, "uplift"),
                lag_months: integer(i, "lag_months"),
            },
        ),
        "skill_mix" => {
            let to = match i.fields.iter().find(|(n, _)| n == "to") {
                Some((_, FieldValue::Filter(f))) => f.matches(workforce),
                _ => panic!("skill_mix without `to`"),
            };
            let mut org_has = vec![false; org.dictionary.len()];
            for (&o, &t) in org.codes.iter().zip(&to) {
                org_has[o as usize] |= t;
            }
            let has_target = org
                .codes
                .iter()
                .map(|&o| if org_has[o as usize] { 1.0 } else { 0.0 })
                .collect();
            (
                1,
                Effect::SkillMix {
                    share: number(i, "share"),
                    ratio: number(i, "ratio"),
                    has_target,
                    target: mask(&to),
                },
            )
        }
        "placements" | "apprenticeships" => {
            let apprentice = i.kind == "apprenticeships";
            let places = number(
                i,
                if apprentice {
                    "starts_per_year"
                } else {
                    "places_per_year"
                },
            );
            let cost_per_year = if apprentice {
                number(i, "salary_per_year") + number(i, "cost_per_place_year")
            } else {
                number(i, "cost_per_place_year")
            };
            (
                3,
                Effect::Cohorts {
                    apprentice,
                    places,
                    intake_month: integer(i, "intake_month"),
                    course_months: integer(i, "course_months"),
                    completion: number(i, "completion"),
                    local_employment: number(i, "local_employment"),
                    cost_per_year,
                },
            )
        }
        "transfer" => {
            let (to, same) = match (i.field("to"), i.field("same")) {
                (Some(FieldValue::Filter(to)), Some(FieldValue::KeyColumns(same))) => (to, same),
                other => panic!("transfer fields: {other:?}"),
            };
            let groups = Groups::of(workforce, same);
            let target = Column::new(mask(&to.matches(workforce)));
            let has_other = group_has_other(&groups, &target).values().to_vec();
            (
                2,
                Effect::Transfer {
                    rate: number(i, "rate"),
                    groups,
                    target: target.values().to_vec(),
                    has_other,
                    within_org: same.iter().any(|k| k == "org"),
                },
            )
        }
        "return_to_practice" => (
            3,
            Effect::Stream {
                international: false,
                per_year: number(i, "returners_per_year"),
                course_months: integer(i, "course_months"),
                success: number(i, "success"),
                cost_each: number(i, "cost_per_returner"),
            },
        ),
        "international" => (
            3,
            Effect::Stream {
                international: true,
                per_year: number(i, "recruits_per_year"),
                course_months: integer(i, "course_months"),
                success: number(i, "arrival"),
                cost_each: number(i, "cost_per_recruit"),
            },
        ),
        other => panic!("the native kernel has no kind '{other}'"),
    };
    Prepared {
        stage,
        timing: Timing {
            first: i.start.months_since(scenario.start),
            last: i
                .end
                .map_or(i64::MAX / 4, |end| end.months_since(scenario.start)),
            ramp_months: i.ramp_months,
            months: scenario.months as i64,
            first_calendar_month: scenario.start.month as i64,
        },
        cost_per_month: i.cost_per_month,
        matched: mask(&matched),
        weight,
        effect,
    }
}

/// Contiguous ranges of about `CHUNK` segments that never split an organisation.
pub fn org_chunks(workforce: &Workforce, target: usize) -> Vec<std::ops::Range<usize>> {
    let org = &workforce.key("org").expect("org key").codes;
    let n = org.len();
    let mut last = vec![0usize; org.iter().map(|&c| c as usize + 1).max().unwrap_or(0)];
    for (i, &o) in org.iter().enumerate() {
        last[o as usize] = i;
    }
    // A cut at `p` is allowed when no organisation has segments on both sides of it.
    let mut reach = 0;
    let mut cuts = vec![0];
    for (i, &o) in org.iter().enumerate() {
        reach = reach.max(last[o as usize]);
        let start = *cuts.last().unwrap();
        if reach == i && i + 1 - start >= target && i + 1 < n {
            cuts.push(i + 1);
        }
    }
    cuts.push(n);
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Asks Linux to back a large buffer with 2 MiB pages: a year of monthly figures for
/// 50,000 segments is over a gigabyte, and faulting it in 4 KiB pages costs more than the
/// arithmetic.
pub fn advise_huge_pages(buffer: &mut [f64]) {
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
        if end > aligned + (2 << 20) {
            // SAFETY: the range lies inside the buffer; the advice changes no contents.
            unsafe {
                madvise(
                    aligned as *mut _,
                    (end - aligned) / PAGE * PAGE,
                    MADV_HUGEPAGE,
                );
            }
        }
    }
}

/// The figures buffer, written from several threads at disjoint segments.
#[derive(Clone, Copy)]
struct Figures(*mut f64);
unsafe impl Send for Figures {}
unsafe impl Sync for Figures {}

impl Figures {
    /// The buffer's start (a method, so that a closure captures the whole `Figures`,
    /// which is `Sync`, rather than its pointer field alone).
    fn start(self) -> *mut f64 {
        self.0
    }
}

/// The scenario's workforce (overrides applied), its interventions in the order they act,
/// and the chunks of segments the kernel runs side by side.
fn plan(
    workforce: &Workforce,
    scenario: &Scenario,
) -> (Workforce, Vec<Prepared>, Vec<std::ops::Range<usize>>) {
    let workforce = scenario.apply_overrides(workforce);
    let mut prepared: Vec<Prepared> = scenario
        .interventions
        .iter()
        .map(|i| prepare(&workforce, scenario, i))
        .collect();
    prepared.sort_by_key(|p| p.stage);
    // A transfer between organisations needs every segment in one chunk.
    let across_orgs = prepared.iter().any(|p| {
        matches!(
            p.effect,
            Effect::Transfer {
                within_org: false,
                ..
            }
        )
    });
    let chunks = if across_orgs {
        std::iter::once(0..workforce.len()).collect()
    } else {
        org_chunks(&workforce, CHUNK)
    };
    (workforce, prepared, chunks)
}

/// Runs one scenario at segment detail, on the current rayon pool.
pub fn run(workforce: &Workforce, scenario: &Scenario) -> RunResults {
    let (workforce, prepared, chunks) = plan(workforce, scenario);
    let n = workforce.len();
    let months = scenario.months;
    let mut figures = vec![0.0; months * n * WIDTH];
    advise_huge_pages(&mut figures);
    let out = Figures(figures.as_mut_ptr());
    chunks.par_iter().for_each(|range| {
        let start = range.start;
        run_chunk(
            &workforce,
            scenario,
            &prepared,
            range.clone(),
            |t, i, row| {
                // SAFETY: row `start + i` of month `t` belongs to this chunk alone, and lies
                // inside the buffer of `months * n * WIDTH` figures.
                unsafe {
                    let at = out.start().add((t * n + start + i) * WIDTH);
                    std::ptr::copy_nonoverlapping(row.as_ptr(), at, WIDTH);
                }
            },
        );
    });
    RunResults {
        draws: wfplan::model::DrawRange::DETERMINISTIC,
        scenario: scenario.name.clone(),
        start: scenario.start,
        months,
        key_names: workforce.key_names.clone(),
        rows: (0..n)
            .map(|s| {
                workforce
                    .keys
                    .iter()
                    .map(|k| k.value(s).to_string())
                    .collect()
            })
            .collect(),
        figures,
    }
}

/// Runs one scenario at total detail (one row, every segment summed), on the current
/// rayon pool: each chunk sums its segments' figures as it goes, and the chunks' sums are
/// added in chunk order. Writes no segment rows, as the engine at `--detail total` keeps
/// none.
pub fn run_total(workforce: &Workforce, scenario: &Scenario) -> RunResults {
    let (workforce, prepared, chunks) = plan(workforce, scenario);
    let months = scenario.months;
    let sums: Vec<Vec<f64>> = chunks
        .par_iter()
        .map(|range| {
            let mut sums = vec![0.0; months * WIDTH];
            run_chunk(
                &workforce,
                scenario,
                &prepared,
                range.clone(),
                |t, _, row| {
                    for (sum, value) in sums[t * WIDTH..(t + 1) * WIDTH].iter_mut().zip(row) {
                        *sum += value;
                    }
                },
            );
            sums
        })
        .collect();
    let mut figures = vec![0.0; months * WIDTH];
    for chunk in sums {
        for (total, value) in figures.iter_mut().zip(chunk) {
            *total += value;
        }
    }
    RunResults {
        draws: wfplan::model::DrawRange::DETERMINISTIC,
        scenario: scenario.name.clone(),
        start: scenario.start,
        months,
        key_names: Vec::new(),
        rows: vec![Vec::new()],
        figures,
    }
}

fn run_chunk(
    workforce: &Workforce,
    scenario: &Scenario,
    prepared: &[Prepared],
    range: std::ops::Range<usize>,
    mut emit: impl FnMut(usize, usize, &[f64; WIDTH]),
) {
    let input = |c: InputColumn| &workforce.input(c).values()[range.clone()];
    let est = input(InputColumn::Establishment);
    let growth = input(InputColumn::DemandGrowth);
    let leaver_rate = input(InputColumn::LeaverRate);
    let sickness_rate = input(InputColumn::SicknessRate);
    let bank_share_in = input(InputColumn::BankShare);
    let agency_share_in = input(InputColumn::AgencyShare);
    let allowance_in = input(InputColumn::HeadroomAllowance);
    let (annual, study, other) = (
        input(InputColumn::AnnualLeaveRate),
        input(InputColumn::StudyLeaveRate),
        input(InputColumn::OtherLeaveRate),
    );
    let hpw = input(InputColumn::HoursPerWeek);
    let dcc = input(InputColumn::DccShare);
    let pay = input(InputColumn::AnnualPay);
    let bank_premium = input(InputColumn::BankPremium);
    let agency_premium = input(InputColumn::AgencyPremium);
    let org = &workforce.key("org").unwrap().codes[range.clone()];
    let len = range.len();

    // Constant over the months.
    let fill_base: Vec<f64> = input(InputColumn::TimeToFill)
        .iter()
        .map(|&ttf| {
            if ttf > 0.0 {
                1.0 - (-1.0 / ttf).exp()
            } else {
                0.0
            }
        })
        .collect();
    let hours_pm: Vec<f64> = hpw.iter().map(|h| h * 52.0 / 12.0).collect();
    // The allowance, or where none is given the segment's own headroom at the start.
    let allowance: Vec<f64> = (0..len)
        .map(|i| {
            if allowance_in[i] >= 0.0 {
                allowance_in[i]
            } else {
                annual[i] + study[i] + other[i] + sickness_rate[i]
            }
        })
        .collect();
    let hourly_pay: Vec<f64> = (0..len).map(|i| pay[i] / (hpw[i] * 52.0)).collect();
    let org_local: Vec<usize> = {
        let first = org.iter().copied().min().unwrap_or(0);
        org.iter().map(|&o| (o - first) as usize).collect()
    };
    let org_span = org_local.iter().max().map_or(0, |m| m + 1);
    // Spread weights of each skill mix: establishment of `to` segments per organisation.
    let spread_weights: Vec<(Vec<f64>, Vec<usize>)> = prepared
        .iter()
        .map(|p| match &p.effect {
            Effect::SkillMix { target, .. } => {
                let mut sum = vec![0.0; org_span];
                let mut count = vec![0usize; org_span];
                for i in 0..len {
                    if target[range.start + i] != 0.0 {
                        sum[org_local[i]] += est[i];
                        count[org_local[i]] += 1;
                    }
                }
                (sum, count)
            }
            _ => (Vec::new(), Vec::new()),
        })
        .collect();

    let mut fte: Vec<f64> = input(InputColumn::Fte).to_vec();
    let mut leaver = vec![0.0; len];
    let mut sickness = vec![0.0; len];
    let mut bank = vec![0.0; len];
    let mut agency = vec![0.0; len];
    let mut required = vec![0.0; len];
    let mut fill = vec![0.0; len];
    let mut accumulators = [(); 8].map(|_| vec![0.0; len]);
    let mut moved = vec![0.0; len];
    let mut transfers_in = vec![0.0; len];
    let mut transfers_out = vec![0.0; len];
    let mut org_total = vec![0.0; org_span];

    for t in 0..scenario.months {
        let ti = t as i64;
        let calendar_month = scenario.start.plus(ti).month as i64;
        let leave_season = scenario.seasonality.annual_leave[calendar_month as usize - 1];
        let sickness_season = scenario.seasonality.sickness[calendar_month as usize - 1];
        let years = ti as f64 / 12.0;
        for i in 0..len {
            leaver[i] = leaver_rate[i];
            sickness[i] = sickness_rate[i];
            bank[i] = bank_share_in[i];
            agency[i] = agency_share_in[i];
            required[i] = est[i] * (1.0 + growth[i]).powf(years);
            fill[i] = fill_base[i];
        }
        for a in accumulators.iter_mut() {
            a.fill(0.0);
        }
        transfers_in.fill(0.0);
        transfers_out.fill(0.0);
        let [newly_qualified, apprentices_qualified, returners, international, trainees, apprentices, cost, released] =
            &mut accumulators;

        for (p, (spread_sum, spread_count)) in prepared.iter().zip(&spread_weights) {
            let ramp = p.timing.ramp(ti);
            let matched = &p.matched[range.clone()];
            let weight = &p.weight[range.clone()];
            match &p.effect {
                Effect::Retention { reduction } => {
                    let r = reduction * ramp;
                    for i in 0..len {
                        leaver[i] *= 1.0 - r * matched[i];
                    }
                }
                Effect::Wellbeing { sickness_reduction } => {
                    let r = sickness_reduction * ramp;
                    for i in 0..len {
                        sickness[i] -= r * matched[i];
                    }
                }
                Effect::TimeReleased { share } => {
                    let r = share * ramp;
                    for i in 0..len {
                        let before = required[i];
                        required[i] *= 1.0 - r * matched[i];
                        released[i] += before - required[i];
                    }
                }
                Effect::BankShift { share } => {
                    for i in 0..len {
                        let m = agency[i] * share * ramp * matched[i];
                        agency[i] -= m;
                        bank[i] += m;
                    }
                }
                Effect::WorkExperience { uplift, lag_months } => {
                    let r = uplift * p.timing.ramp(ti - *lag_months);
                    for i in 0..len {
                        fill[i] = (fill[i] * (1.0 + r * matched[i])).min(1.0);
                    }
                }
                Effect::SkillMix {
                    share,
                    ratio,
                    has_target,
                    target,
                } => {
                    let has_target = &has_target[range.clone()];
                    let target = &target[range.clone()];
                    org_total.fill(0.0);
                    for i in 0..len {
                        moved[i] = required[i] * share * ramp * matched[i] * has_target[i];
                        required[i] -= moved[i];
                        org_total[org_local[i]] += moved[i] * ratio;
                    }
                    for i in 0..len {
                        let o = org_local[i];
                        let spread = if target[i] == 0.0 {
                            0.0
                        } else if spread_sum[o] > 0.0 {
                            org_total[o] * est[i] / spread_sum[o]
                        } else {
                            org_total[o] / spread_count[o] as f64
                        };
                        required[i] += spread;
                    }
                }
                Effect::Cohorts {
                    apprentice,
                    places,
                    intake_month,
                    course_months,
                    completion,
                    local_employment,
                    cost_per_year,
                } => {
                    let mut in_training = 0.0;
                    let mut back = (calendar_month - intake_month + 12) % 12;
                    while back < *course_months {
                        if p.timing.starts(ti - back) {
                            in_training += places;
                        }
                        back += 12;
                    }
                    let cohort = ti - course_months;
                    let qualified = if p.timing.starts(cohort)
                        && p.timing.calendar_month(cohort) == *intake_month
                    {
                        places * completion * local_employment
                    } else {
                        0.0
                    };
                    let (joined, in_course) = if *apprentice {
                        (&mut *apprentices_qualified, &mut *apprentices)
                    } else {
                        (&mut *newly_qualified, &mut *trainees)
                    };
                    let monthly_cost = in_training * cost_per_year / 12.0;
                    for i in 0..len {
                        joined[i] += weight[i] * qualified;
                        in_course[i] += weight[i] * in_training;
                        cost[i] += weight[i] * monthly_cost;
                    }
                }
                Effect::Transfer {
                    rate,
                    groups,
                    target,
                    has_other,
                    ..
                } => {
                    let monthly = 1.0 - (1.0 - rate * ramp).powf(1.0 / 12.0);
                    let moving: Vec<f64> = (0..len)
                        .map(|i| fte[i] * monthly * matched[i] * has_other[range.start + i])
                        .collect();
                    let received = spread_to_others(
                        &groups.slice(range.clone()),
                        &Column::new(moving.clone()),
                        &Column::new(target[range.clone()].to_vec()),
                        &Column::new(fte.clone()),
                    );
                    for i in 0..len {
                        transfers_out[i] += moving[i];
                        transfers_in[i] += received.values()[i];
                    }
                }
                Effect::Stream {
                    international: abroad,
                    per_year,
                    course_months,
                    success,
                    cost_each,
                } => {
                    let starting = if p.timing.active(ti) {
                        per_year / 12.0
                    } else {
                        0.0
                    };
                    let landing = if p.timing.starts(ti - course_months) {
                        per_year / 12.0 * success
                    } else {
                        0.0
                    };
                    let joined = if *abroad {
                        &mut *international
                    } else {
                        &mut *returners
                    };
                    let start_cost = starting * cost_each;
                    for i in 0..len {
                        joined[i] += weight[i] * landing;
                        cost[i] += weight[i] * start_cost;
                    }
                }
            }
            if p.timing.active(ti) && p.cost_per_month != 0.0 {
                for i in 0..len {
                    cost[i] += p.cost_per_month * weight[i];
                }
            }
        }

        // The month's figures, in flows.rhai's order of operations.
        for i in 0..len {
            let sick = sickness[i].max(0.0) * sickness_season;
            let headroom = annual[i] * leave_season + study[i] + other[i] + sick;
            let m_leave = 1.0 - (1.0 - leaver[i]).powf(1.0 / 12.0);
            let f = fte[i];
            let leavers = f * m_leave;
            let vacancies = (required[i] - f).max(0.0);
            let recruits = vacancies * fill[i];
            let joiners = recruits
                + newly_qualified[i]
                + apprentices_qualified[i]
                + returners[i]
                + international[i];
            let available = f * hours_pm[i] * (1.0 - headroom);
            let clinical = available * dcc[i];
            let demand = required[i] * hours_pm[i] * (1.0 - allowance[i]) * dcc[i];
            let gap = (demand - clinical).max(0.0);
            let bank_hours = gap * bank[i];
            let agency_hours = gap * agency[i];
            let row = [
                f,
                required[i],
                vacancies,
                leavers,
                recruits,
                newly_qualified[i],
                apprentices_qualified[i],
                returners[i],
                international[i],
                joiners,
                f * sick,
                available,
                clinical,
                demand,
                bank_hours,
                agency_hours,
                gap - bank_hours - agency_hours,
                f * pay[i] / 12.0,
                bank_hours * hourly_pay[i] * bank_premium[i],
                agency_hours * hourly_pay[i] * agency_premium[i],
                cost[i],
                trainees[i],
                apprentices[i],
                released[i] * hours_pm[i] * (1.0 - allowance[i]) * dcc[i],
                transfers_in[i],
                transfers_out[i],
            ];
            emit(t, i, &row);
            fte[i] = f - leavers + joiners - transfers_out[i] + transfers_in[i];
        }
    }
}
