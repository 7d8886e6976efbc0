//! One small case per intervention kind, with the expected figures worked by hand from
//! docs/model.md in the comments. The segment of `common::simple_row` is used throughout:
//! 100 FTE, 120 required, headroom 0.2, 162.5 contracted hours a month, DCC 0.6, 20 GBP an
//! hour, no open recruitment, bank 0.5 and agency 0.3.

use wfplan::model::results::Metric::*;

use super::common::*;

const START: &str = "start = \"2025-09\"\nmonths = 4\n";

fn monthly_leave(yearly: f64) -> f64 {
    1.0 - (1.0 - yearly).powf(1.0 / 12.0)
}

#[test]
fn baseline_month_zero() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let r = run(START, &w);
    // vacancies = 120 - 100; no recruitment with time_to_fill 0.
    figure(&r, 0, 0, Vacancies, 20.0);
    figure(&r, 0, 0, Recruits, 0.0);
    figure(&r, 0, 0, Leavers, 100.0 * monthly_leave(0.12));
    // sickness FTE = 100 * 0.05
    figure(&r, 0, 0, SicknessFte, 5.0);
    // available = 100 * 162.5 * 0.8 = 13,000; clinical = 13,000 * 0.6 = 7,800
    figure(&r, 0, 0, AvailableHours, 13_000.0);
    figure(&r, 0, 0, ClinicalHours, 7_800.0);
    // demand = 120 * 162.5 * 0.8 * 0.6 = 9,360; gap 1,560: bank 780, agency 468, unmet 312
    figure(&r, 0, 0, DemandHours, 9_360.0);
    figure(&r, 0, 0, BankHours, 780.0);
    figure(&r, 0, 0, AgencyHours, 468.0);
    figure(&r, 0, 0, UnmetHours, 312.0);
    // pay = 100 * 39,000 / 12; bank = 780 * 20 * 1.2; agency = 468 * 20 * 2
    figure(&r, 0, 0, PayCost, 325_000.0);
    figure(&r, 0, 0, BankCost, 18_720.0);
    figure(&r, 0, 0, AgencyCost, 18_720.0);
    // fte(1) = 100 - leavers(0)
    figure(&r, 1, 0, Fte, 100.0 - 100.0 * monthly_leave(0.12));
}

#[test]
fn demand_growth_and_recruitment() {
    // 10% demand growth a year and a time to fill of 2 months.
    let row =
        "a,ics,physiotherapy,5,100,120,0.12,0.05,0.1,0.03,0.02,37.5,0.6,39000,2,0.5,0.3,1.2,2,0.1"
            .to_string();
    let r = run(START, &workforce(&[row]));
    // month 0: required 120; recruits = 20 * (1 - e^-0.5)
    let recruits0 = 20.0 * (1.0 - (-0.5f64).exp());
    figure(&r, 0, 0, Recruits, recruits0);
    let fte1 = 100.0 - 100.0 * monthly_leave(0.12) + recruits0;
    figure(&r, 1, 0, Fte, fte1);
    // month 1: required = 120 * 1.1^(1/12)
    let required1 = 120.0 * 1.1f64.powf(1.0 / 12.0);
    figure(&r, 1, 0, RequiredFte, required1);
    figure(
        &r,
        1,
        0,
        Recruits,
        (required1 - fte1) * (1.0 - (-0.5f64).exp()),
    );
}

#[test]
fn retention_ramps_and_multiplies() {
    let w = workforce(&[simple_row("a", "5", 100.0), simple_row("b", "5", 100.0)]);
    let r = run(
        &format!(
            "{START}
[[interventions]]
kind = \"retention\"
where = {{ org = \"a\" }}
reduction = 0.5
ramp_months = 2

[[interventions]]
kind = \"retention\"
reduction = 0.5
start = \"2025-10\"
"
        ),
        &w,
    );
    // month 0: ramp 1/2, so leaver = 0.12 * (1 - 0.25) = 0.09 for org a; b untouched.
    figure(&r, 0, 0, Leavers, 100.0 * monthly_leave(0.09));
    figure(&r, 0, 1, Leavers, 100.0 * monthly_leave(0.12));
    // month 1: first at full effect (x 0.5), second starts (x 0.5): 0.12 * 0.25 = 0.03 for a,
    // 0.06 for b.
    let fte1 = 100.0 - 100.0 * monthly_leave(0.09);
    figure(&r, 1, 0, Leavers, fte1 * monthly_leave(0.03));
    figure(
        &r,
        1,
        1,
        Leavers,
        (100.0 - 100.0 * monthly_leave(0.12)) * monthly_leave(0.06),
    );
}

#[test]
fn wellbeing_sums_and_clamps_at_zero() {
    let w = workforce(&[simple_row("a", "5", 100.0), simple_row("b", "5", 100.0)]);
    let r = run(
        &format!(
            "{START}
[[interventions]]
kind = \"wellbeing\"
sickness_reduction = 0.02

[[interventions]]
kind = \"wellbeing\"
where = {{ org = \"b\" }}
sickness_reduction = 0.04
"
        ),
        &w,
    );
    // a: sickness 0.03, headroom 0.18: available = 100 * 162.5 * 0.82 = 13,325
    figure(&r, 0, 0, SicknessFte, 3.0);
    figure(&r, 0, 0, AvailableHours, 13_325.0);
    // b: 0.05 - 0.06 < 0, so sickness 0 and headroom 0.15: available = 13,812.5
    figure(&r, 0, 1, SicknessFte, 0.0);
    figure(&r, 0, 1, AvailableHours, 13_812.5);
}

#[test]
fn time_released_lowers_required_fte_and_reports_hours() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let r = run(
        &format!("{START}\n[[interventions]]\nkind = \"time_released\"\nshare = 0.1\n"),
        &w,
    );
    // required 120 * 0.9 = 108; vacancies 8; demand = 108 * 130 * 0.6 = 8,424
    figure(&r, 0, 0, RequiredFte, 108.0);
    figure(&r, 0, 0, Vacancies, 8.0);
    figure(&r, 0, 0, DemandHours, 8_424.0);
    // released = 12 FTE * 130 hours on duty * 0.6 DCC = 936 hours
    figure(&r, 0, 0, TimeReleasedHours, 936.0);
}

#[test]
fn bank_shift_moves_agency_share_to_bank() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let r = run(
        &format!(
            "{START}\n[[interventions]]\nkind = \"bank_shift\"\nshare = 0.5\nramp_months = 2\n"
        ),
        &w,
    );
    // month 0, ramp 1/2: moved = 0.3 * 0.5 * 0.5 = 0.075: agency 0.225, bank 0.575 of 1,560
    figure(&r, 0, 0, AgencyHours, 1_560.0 * 0.225);
    figure(&r, 0, 0, BankHours, 1_560.0 * 0.575);
    figure(&r, 0, 0, AgencyCost, 1_560.0 * 0.225 * 20.0 * 2.0);
}

#[test]
fn skill_mix_moves_work_within_the_same_org() {
    let w = workforce(&[
        simple_row("a", "6", 100.0),
        simple_row("a", "4", 50.0),
        simple_row("a", "3", 50.0),
        simple_row("b", "6", 100.0),
    ]);
    let r = run(
        &format!(
            "{START}
[[interventions]]
kind = \"skill_mix\"
where = {{ band = \"6\" }}
to = {{ band = [\"4\", \"3\"] }}
share = 0.1
ratio = 2
"
        ),
        &w,
    );
    // a/6 gives 120 * 0.1 = 12 FTE; 24 FTE arrive in org a's band 4 and 3, split by their
    // establishment (120 each), so 12 each; org b has no band 4 or 3, so nothing moves.
    figure(&r, 0, 0, RequiredFte, 108.0);
    figure(&r, 0, 1, RequiredFte, 132.0);
    figure(&r, 0, 2, RequiredFte, 132.0);
    figure(&r, 0, 3, RequiredFte, 120.0);
}

#[test]
fn placements_train_then_qualify_split_by_fte() {
    let w = workforce(&[simple_row("a", "5", 100.0), simple_row("a", "6", 300.0)]);
    let r = run(
        &format!(
            "{START}
[[interventions]]
kind = \"placements\"
places_per_year = 10
course_months = 2
completion = 0.5
local_employment = 0.8
cost_per_place_year = 1200
"
        ),
        &w,
    );
    // September is the intake month and the first month: 10 start in month 0 and train in
    // months 0 and 1, costing 10 * 1,200 / 12 = 1,000 a month, split 1:3 by FTE.
    figure(&r, 0, 0, Trainees, 2.5);
    figure(&r, 0, 1, Trainees, 7.5);
    figure(&r, 1, 1, InterventionCost, 750.0);
    figure(&r, 2, 0, Trainees, 0.0);
    // In month 2, 10 * 0.5 * 0.8 = 4 join: 1 and 3.
    figure(&r, 2, 0, NewlyQualified, 1.0);
    figure(&r, 2, 1, NewlyQualified, 3.0);
    figure(&r, 1, 0, NewlyQualified, 0.0);
    let fte2 = r.figure(2, 1, Fte);
    figure(&r, 3, 1, Fte, fte2 - fte2 * monthly_leave(0.12) + 3.0);
}

#[test]
fn apprenticeships_pay_salary_while_training() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let r = run(
        "start = \"2025-08\"\nmonths = 4\n
[[interventions]]
kind = \"apprenticeships\"
starts_per_year = 6
course_months = 1
salary_per_year = 24000
cost_per_place_year = 6000
",
        &w,
    );
    // The run starts in August; the September intake (month 1) has 6 apprentices for one
    // month, costing 6 * 30,000 / 12 = 15,000, and 6 * 0.75 * 1 = 4.5 qualify in month 2.
    figure(&r, 0, 0, Apprentices, 0.0);
    figure(&r, 1, 0, Apprentices, 6.0);
    figure(&r, 1, 0, InterventionCost, 15_000.0);
    figure(&r, 2, 0, ApprenticesQualified, 4.5);
    figure(&r, 2, 0, Joiners, 4.5);
}

#[test]
fn return_to_practice_and_international_land_after_their_course() {
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let r = run(
        &format!(
            "{START}
[[interventions]]
kind = \"return_to_practice\"
returners_per_year = 12
course_months = 1
success = 0.5
cost_per_returner = 100
end = \"2025-09\"

[[interventions]]
kind = \"international\"
recruits_per_year = 24
course_months = 2
arrival = 0.5
cost_per_recruit = 1000
cost_per_month = 50
"
        ),
        &w,
    );
    // Return to practice acts in month 0 only: 1 starts (100 GBP) and 0.5 rejoin in month 1.
    // International: 2 recruited each month (2,000 GBP, plus 50 a month), 1 arrives from month 2.
    figure(&r, 0, 0, InterventionCost, 100.0 + 2_000.0 + 50.0);
    figure(&r, 1, 0, InterventionCost, 2_050.0);
    figure(&r, 0, 0, Returners, 0.0);
    figure(&r, 1, 0, Returners, 0.5);
    figure(&r, 2, 0, Returners, 0.0);
    figure(&r, 1, 0, International, 0.0);
    figure(&r, 2, 0, International, 1.0);
    figure(&r, 3, 0, International, 1.0);
}

#[test]
fn cost_per_month_is_split_by_fte_and_equal_when_fte_is_zero() {
    let w = workforce(&[
        simple_row("a", "5", 0.0),
        simple_row("a", "6", 0.0),
        simple_row("b", "5", 10.0),
    ]);
    let r = run(
        &format!("{START}\n[[interventions]]\nkind = \"retention\"\nwhere = {{ org = \"a\" }}\nreduction = 0\ncost_per_month = 900\n"),
        &w,
    );
    figure(&r, 0, 0, InterventionCost, 450.0);
    figure(&r, 0, 1, InterventionCost, 450.0);
    figure(&r, 0, 2, InterventionCost, 0.0);
}

#[test]
fn work_experience_raises_fill_rate_after_its_lag() {
    // A user-defined kind from rules/interventions/work_experience.rhai.
    let row =
        "a,ics,physiotherapy,5,100,120,0.12,0.05,0.1,0.03,0.02,37.5,0.6,39000,2,0.5,0.3,1.2,2,0"
            .to_string();
    let w = workforce(&[row]);
    let base = run(START, &w);
    let r = run(&format!("{START}\n[[interventions]]\nkind = \"work_experience\"\nuplift = 0.5\nlag_months = 1\n"), &w);
    let fill = 1.0 - (-0.5f64).exp();
    // Month 0 is inside the lag: no change.
    figure(&r, 0, 0, Recruits, base.figure(0, 0, Recruits));
    // Month 1: fill rate x 1.5.
    figure(
        &r,
        1,
        0,
        Recruits,
        (120.0 - r.figure(1, 0, Fte)) * fill * 1.5,
    );
}
