//! Hand-worked cases for the headroom allowance, seasonality, programmes already running
//! when a plan starts, and transfers between segments (docs/model.md). The segment of
//! `common::simple_row` is used throughout: 100 FTE, 120 required, headroom 0.2 (leave
//! 0.1 + 0.03 + 0.02, sickness 0.05), 162.5 contracted hours a month, DCC 0.6, 20 GBP an
//! hour, no open recruitment, bank 0.5 and agency 0.3 of uncovered hours.
//!
//! Without an allowance, seasonality or wellbeing the figures are those of the model
//! before these features: the golden baseline (`tests/golden/`) is unchanged by them.

use wfplan::model::results::Metric::*;
use wfplan::model::Workforce;

use super::common::*;

fn monthly(yearly: f64) -> f64 {
    1.0 - (1.0 - yearly).powf(1.0 / 12.0)
}

/// Segments with a `headroom_allowance` column: `Some(a)` or empty.
fn with_allowance(rows: &[(String, Option<f64>)]) -> Workforce {
    let rows: Vec<String> = rows
        .iter()
        .map(|(row, allowance)| {
            format!(
                "{row},{}",
                allowance.map(|a| a.to_string()).unwrap_or_default()
            )
        })
        .collect();
    let text = format!("{HEADER},headroom_allowance\n{}\n", rows.join("\n"));
    wfplan::data::import::read_csv_text("test.csv", &text).expect("the test data is valid")
}

#[test]
fn wellbeing_now_lowers_bank_and_agency_hours() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let base = run("start = \"2025-09\"\nmonths = 1\n", &w);
    let well = run(
        "start = \"2025-09\"\nmonths = 1\n[[interventions]]\nkind = \"wellbeing\"\nsickness_reduction = 0.02\n",
        &w,
    );
    // The allowance is the segment's own headroom at the start, 0.2, whatever wellbeing
    // does: demand = 120 * 162.5 * 0.8 * 0.6 = 9,360 in both.
    figure(&base, 0, 0, DemandHours, 9_360.0);
    figure(&well, 0, 0, DemandHours, 9_360.0);
    // Baseline: clinical = 100 * 162.5 * 0.8 * 0.6 = 7,800; gap 1,560; bank 780, agency 468.
    figure(&base, 0, 0, BankHours, 780.0);
    figure(&base, 0, 0, AgencyHours, 468.0);
    // Wellbeing: sickness 0.03, headroom 0.18; clinical = 100 * 162.5 * 0.82 * 0.6 = 7,995;
    // gap 1,365: bank 682.5, agency 409.5, unmet 273 (all lower than the baseline's).
    figure(&well, 0, 0, ClinicalHours, 7_995.0);
    figure(&well, 0, 0, BankHours, 682.5);
    figure(&well, 0, 0, AgencyHours, 409.5);
    figure(&well, 0, 0, UnmetHours, 273.0);
    // agency cost = 409.5 * 20 * 2
    figure(&well, 0, 0, AgencyCost, 16_380.0);
}

#[test]
fn a_stated_allowance_sets_demand_and_released_hours() {
    let w = with_allowance(&[
        (simple_row("a", "5", 100.0), Some(0.25)),
        (simple_row("b", "5", 100.0), None),
    ]);
    let r = run(
        "start = \"2025-09\"\nmonths = 1\n[[interventions]]\nkind = \"time_released\"\nshare = 0.1\n",
        &w,
    );
    // a: required 108 after the 10% released; demand = 108 * 162.5 * 0.75 * 0.6 = 7,897.5;
    // clinical 7,800 (headroom 0.2 as it happens); gap 97.5: bank 48.75, agency 29.25.
    figure(&r, 0, 0, DemandHours, 7_897.5);
    figure(&r, 0, 0, BankHours, 48.75);
    figure(&r, 0, 0, AgencyHours, 29.25);
    // released = 12 FTE * 162.5 * 0.75 * 0.6 = 877.5 hours
    figure(&r, 0, 0, TimeReleasedHours, 877.5);
    // b, allowance empty: its own headroom, 0.2: demand = 108 * 162.5 * 0.8 * 0.6 = 8,424.
    figure(&r, 0, 1, DemandHours, 8_424.0);
    figure(&r, 0, 1, TimeReleasedHours, 936.0);
}

#[test]
fn an_override_changes_the_default_allowance_with_the_rates() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let r = run(
        "start = \"2025-09\"\nmonths = 1\n[[overrides]]\nset = { sickness_rate = 0.1 }\n",
        &w,
    );
    // The allowance follows the overridden rates: 0.1 + 0.03 + 0.02 + 0.1 = 0.25, so
    // demand = 120 * 162.5 * 0.75 * 0.6 = 8,775.
    figure(&r, 0, 0, DemandHours, 8_775.0);
}

const SEASONS: &str = "[seasonality]
annual_leave = [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.5, 0.9, 0.9, 0.9, 1.2]
sickness = [1.4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
";

#[test]
fn august_annual_leave_and_january_sickness() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let r = run(
        &format!(
            "start = \"2025-07\"\nmonths = 7\n{SEASONS}[[interventions]]\nkind = \"wellbeing\"\nsickness_reduction = 0.02\n"
        ),
        &w,
    );
    // July: annual leave 0.1 * 0.9 = 0.09, sickness 0.03: headroom 0.17;
    // available = 100 * 162.5 * 0.83 = 13,487.5.
    figure(&r, 0, 0, AvailableHours, 13_487.5);
    // August (month 1): annual leave 0.15: headroom 0.23; fte = 100 - leavers(0).
    let fte1 = 100.0 - 100.0 * monthly(0.12);
    figure(&r, 1, 0, Fte, fte1);
    let available = fte1 * 162.5 * 0.77;
    figure(&r, 1, 0, AvailableHours, available);
    // Demand uses the allowance (0.2, the rates at the start), not August's headroom:
    // 9,360; the gap is what August's leave leaves uncovered.
    figure(&r, 1, 0, DemandHours, 9_360.0);
    figure(&r, 1, 0, BankHours, (9_360.0 - available * 0.6) * 0.5);
    // January (month 6): sickness (0.05 - 0.02) * 1.4 = 0.042 after wellbeing.
    let fte6 = r.figure(6, 0, Fte);
    figure(&r, 6, 0, SicknessFte, fte6 * 0.042);
}

#[test]
fn a_programme_already_running_has_trainees_at_month_zero() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let r = run(
        "start = \"2025-09\"\nmonths = 4
[[interventions]]
kind = \"placements\"
start = \"2023-09\"
places_per_year = 10
course_months = 14
completion = 0.5
local_employment = 0.8
cost_per_place_year = 1200
",
        &w,
    );
    // Cohorts start in September 2023 (t = -24), 2024 (t = -12) and 2025 (t = 0). The
    // 2023 cohort qualified at t = -10 and is already in fte. In month 0 the 2024 and
    // 2025 cohorts train: 20 trainees, costing 20 * 1,200 / 12 = 2,000.
    figure(&r, 0, 0, Trainees, 20.0);
    figure(&r, 0, 0, InterventionCost, 2_000.0);
    figure(&r, 0, 0, NewlyQualified, 0.0);
    // The 2024 cohort qualifies in month 2 (t = -12 + 14): 10 * 0.5 * 0.8 = 4 join.
    figure(&r, 2, 0, NewlyQualified, 4.0);
    figure(&r, 2, 0, Trainees, 10.0);
    figure(&r, 2, 0, InterventionCost, 1_000.0);
}

#[test]
fn recruits_started_before_the_run_land_and_their_costs_are_not_charged() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let r = run(
        "start = \"2025-09\"\nmonths = 2
[[interventions]]
kind = \"international\"
start = \"2025-06\"
recruits_per_year = 12
course_months = 3
cost_per_recruit = 1000
",
        &w,
    );
    // One recruit a month from June (t = -3): June's lands in September (month 0).
    figure(&r, 0, 0, International, 1.0);
    figure(&r, 1, 0, International, 1.0);
    // Only the starters of the run's months are charged: 1 * 1,000 a month.
    figure(&r, 0, 0, InterventionCost, 1_000.0);
}

#[test]
fn band_progression_moves_staff_within_the_organisation() {
    let w = workforce(&[
        simple_row("a", "5", 100.0),
        simple_row("a", "6", 50.0),
        simple_row("b", "6", 10.0),
    ]);
    let r = run(
        "start = \"2025-09\"\nmonths = 2
[[interventions]]
kind = \"transfer\"
where = { band = \"5\" }
to = { band = \"6\" }
rate = 0.12
",
        &w,
    );
    // a/5 sends 100 * (1 - 0.88^(1/12)) a month to a/6, the only band 6 of its
    // organisation and staff group (b/6 is another organisation).
    let moved = 100.0 * monthly(0.12);
    figure(&r, 0, 0, TransfersOut, moved);
    figure(&r, 0, 1, TransfersIn, moved);
    figure(&r, 0, 2, TransfersIn, 0.0);
    // fte(1) = fte - leavers + joiners - transfers out + transfers in
    figure(&r, 1, 0, Fte, 100.0 - moved - moved);
    figure(&r, 1, 1, Fte, 50.0 - 50.0 * monthly(0.12) + moved);
    // Leavers are still counted from the month's own staff in post.
    figure(&r, 0, 0, Leavers, moved);
}

#[test]
fn a_move_between_organisations_keeps_staff_group_and_band() {
    let ot = |org: &str, band: &str, fte: f64| {
        simple_row(org, band, fte).replace("physiotherapy", "occupational_therapy")
    };
    let w = workforce(&[
        simple_row("a", "5", 100.0),
        simple_row("b", "5", 30.0),
        simple_row("c", "5", 10.0),
        ot("b", "5", 40.0),
        simple_row("a", "6", 20.0),
        simple_row("b", "6", 0.0),
        simple_row("c", "6", 0.0),
    ]);
    let r = run(
        "start = \"2025-09\"\nmonths = 1
[[interventions]]
kind = \"transfer\"
where = { org = \"a\" }
to = { org = [\"b\", \"c\"] }
same = [\"staff_group\", \"band\"]
rate = 0.2
",
        &w,
    );
    // a/physio/5 sends 100 * (1 - 0.8^(1/12)) to b and c's physio band 5, split 30:10 by
    // FTE; b's OT band 5 gets nothing (another staff group).
    let out5 = 100.0 * monthly(0.2);
    figure(&r, 0, 0, TransfersOut, out5);
    figure(&r, 0, 1, TransfersIn, out5 * 0.75);
    figure(&r, 0, 2, TransfersIn, out5 * 0.25);
    figure(&r, 0, 3, TransfersIn, 0.0);
    // a/physio/6 sends 20 * (1 - 0.8^(1/12)) to b/6 and c/6, equally: both have no FTE.
    let out6 = 20.0 * monthly(0.2);
    figure(&r, 0, 5, TransfersIn, out6 / 2.0);
    figure(&r, 0, 6, TransfersIn, out6 / 2.0);
    assert!((r.month_total(0, TransfersIn) - r.month_total(0, TransfersOut)).abs() < 1e-12);
}
