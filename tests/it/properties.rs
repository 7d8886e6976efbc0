//! Properties that hold for any valid workforce and scenario: stock conservation, no
//! negative FTE, transfers move staff without making or losing any, interventions with no
//! effect change nothing, and results do not depend on the number of threads or the order
//! of segments.

use proptest::prelude::*;
use wfplan::engine::batch::run_all;
use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::results::Metric::*;
use wfplan::model::Workforce;

use super::common::*;

/// A random valid segment row of org `org`, with a headroom allowance or none (empty).
fn segment_row(org: usize, band: usize) -> impl Strategy<Value = String> {
    (
        0.0..200.0f64,  // fte
        0.0..220.0f64,  // establishment
        0.0..0.4f64,    // leaver_rate
        0.0..0.1f64,    // sickness
        0.0..0.15f64,   // annual leave
        0.0..6.0f64,    // time_to_fill
        0.0..1.0f64,    // bank share
        0.0..1.0f64,    // agency part of the rest
        -0.05..0.1f64,  // demand growth
        proptest::option::of(0.1..0.3f64), // headroom allowance
    )
        .prop_map(move |(fte, est, leave, sick, annual, ttf, bank, agency, growth, allowance)| {
            let agency = (1.0 - bank) * agency;
            let allowance = allowance.map(|a| a.to_string()).unwrap_or_default();
            format!(
                "org{org},ics,physiotherapy,{band},{fte},{est},{leave},{sick},{annual},0.02,0.01,37.5,0.65,40000,{ttf},{bank},{agency},1.1,1.9,{growth},{allowance}"
            )
        })
}

/// Two organisations: org0 with bands 3 to 6, org1 with band 3 and perhaps more, so that
/// every value the scenarios below name exists.
fn workforce_strategy() -> impl Strategy<Value = Workforce> {
    (5usize..9)
        .prop_flat_map(|n| {
            (0..n)
                .map(|i| segment_row(i / 4, 3 + i % 4).boxed())
                .collect::<Vec<_>>()
        })
        .prop_map(|rows| {
            let text = format!("{HEADER},headroom_allowance\n{}\n", rows.join("\n"));
            wfplan::data::import::read_csv_text("test.csv", &text).expect("valid test data")
        })
}

/// Every built-in kind and seasonality, with sizes scaled by `effect` (0 means no effect
/// at all).
fn all_kinds(effect: f64) -> String {
    // Annual leave peaks in August and sickness in January, the other months a little
    // below 1.
    let season = |peak: usize| {
        let factors: Vec<String> = (0..12)
            .map(|m| {
                let peak = if m == peak { 0.4 } else { 0.0 };
                (1.0 + effect * (peak - 0.03)).to_string()
            })
            .collect();
        factors.join(", ")
    };
    format!(
        r#"start = "2025-06"
months = 30
[seasonality]
annual_leave = [{leave}]
sickness = [{sickness}]
[[interventions]]
kind = "transfer"
where = {{ band = "5" }}
to = {{ band = "6" }}
rate = {r}
[[interventions]]
kind = "transfer"
where = {{ org = "org0" }}
to = {{ org = "org1" }}
same = ["staff_group", "band"]
rate = {s}
start = "2025-01"
end = "2026-09"
ramp_months = 4
[[interventions]]
kind = "retention"
where = {{ org = "org0" }}
reduction = {r}
ramp_months = 3
[[interventions]]
kind = "wellbeing"
sickness_reduction = {s}
[[interventions]]
kind = "time_released"
share = {s}
[[interventions]]
kind = "bank_shift"
share = {r}
[[interventions]]
kind = "skill_mix"
where = {{ band = ["3", "5"] }}
to = {{ band = ["4", "6"] }}
share = {s}
[[interventions]]
kind = "placements"
places_per_year = {n}
course_months = 12
[[interventions]]
kind = "apprenticeships"
starts_per_year = {n}
course_months = 18
[[interventions]]
kind = "return_to_practice"
returners_per_year = {n}
[[interventions]]
kind = "international"
recruits_per_year = {n}
"#,
        r = 0.3 * effect,
        s = 0.05 * effect,
        n = 10.0 * effect,
        leave = season(7),
        sickness = season(0),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn stocks_are_conserved_and_never_negative(w in workforce_strategy(), effect in 0.0..1.0f64) {
        let r = run(&all_kinds(effect), &w);
        for month in 0..r.months {
            for segment in 0..r.rows.len() {
                let fte = r.figure(month, segment, Fte);
                prop_assert!(fte >= 0.0 && fte.is_finite(), "fte {fte} in month {month}");
                for value in r.row_figures(month, segment) {
                    prop_assert!(value.is_finite());
                }
                let joiners = r.figure(month, segment, Joiners);
                let sources = r.figure(month, segment, Recruits)
                    + r.figure(month, segment, NewlyQualified)
                    + r.figure(month, segment, ApprenticesQualified)
                    + r.figure(month, segment, Returners)
                    + r.figure(month, segment, International);
                prop_assert!((joiners - sources).abs() <= 1e-9 * joiners.abs().max(1.0));
                if month + 1 < r.months {
                    let next = fte - r.figure(month, segment, Leavers) + joiners
                        - r.figure(month, segment, TransfersOut)
                        + r.figure(month, segment, TransfersIn);
                    let actual = r.figure(month + 1, segment, Fte);
                    prop_assert!((actual - next).abs() <= 1e-9 * next.abs().max(1.0));
                }
            }
        }
    }

    #[test]
    fn transfers_move_staff_without_making_or_losing_any(w in workforce_strategy(), effect in 0.0..1.0f64) {
        let r = run(&all_kinds(effect), &w);
        for month in 0..r.months {
            let (sent, received) = (r.month_total(month, TransfersOut), r.month_total(month, TransfersIn));
            prop_assert!((sent - received).abs() <= 1e-9 * sent.max(1.0), "month {month}: {sent} out, {received} in");
            for segment in 0..r.rows.len() {
                let out = r.figure(month, segment, TransfersOut);
                prop_assert!(out >= 0.0 && out <= r.figure(month, segment, Fte) + 1e-12);
            }
        }
    }

    #[test]
    fn interventions_with_no_effect_equal_the_baseline(w in workforce_strategy()) {
        let baseline = run("start = \"2025-06\"\nmonths = 30\n", &w);
        let idle = run(&all_kinds(0.0), &w);
        prop_assert_eq!(baseline.figures, idle.figures);
    }

    #[test]
    fn results_do_not_depend_on_segment_order(w in workforce_strategy(), effect in 0.0..1.0f64) {
        let forward = run(&all_kinds(effect), &w);
        let order: Vec<usize> = (0..w.len()).rev().collect();
        let reversed = run(&all_kinds(effect), &w.select(&order));
        for month in 0..forward.months {
            for (i, &segment) in order.iter().enumerate() {
                for (a, b) in forward.row_figures(month, segment).iter().zip(reversed.row_figures(month, i)) {
                    prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
                }
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let w =
        wfplan::data::import::read_csv_text("sample", wfplan::data::SAMPLE_WORKFORCE_CSV).unwrap();
    // The scenarios move staff between the sample's first two organisations.
    let orgs = &w.key("org").unwrap().dictionary;
    let scenarios: Vec<_> = (0..6)
        .map(|i| {
            let text = all_kinds(i as f64 / 5.0)
                .replace("org0", &orgs[0])
                .replace("org1", &orgs[1]);
            scenario(&text, &w)
        })
        .collect();
    let options = RunOptions::default();
    let one = run_all(rules(), &w, &scenarios, &options, Some(1)).unwrap();
    let two = run_all(rules(), &w, &scenarios, &options, Some(2)).unwrap();
    for (a, b) in one.iter().zip(&two) {
        let (a, b) = (a.result.as_ref().unwrap(), b.result.as_ref().unwrap());
        assert_eq!(a.figures, b.figures);
    }
    // And the same as running one at a time on this thread.
    let single = run_scenario(rules(), &w, &scenarios[3], &options).unwrap();
    assert_eq!(single.figures, one[3].result.as_ref().unwrap().figures);
}
