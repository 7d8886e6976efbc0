//! The trace of a figure: its values are the run's own, it follows edited rules, and it
//! reads as a worked example through the binary (the API's is in `api`).

use std::sync::Arc;

use wfplan::app::trace::{trace, TraceError, TraceRequest};
use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::results::METRICS;
use wfplan::model::Metric;
use wfplan::rules::RuleSet;
use wfplan::scenario::ScenarioSource;

use super::common::*;

const PLAN: &str = "start = \"2025-09\"\nmonths = 6
[seasonality]
annual_leave = [1, 1, 1, 1, 1, 1, 1, 1.3, 1, 1, 1, 1.2]
[[interventions]]
kind = \"wellbeing\"
sickness_reduction = 0.01
ramp_months = 3
[[interventions]]
kind = \"transfer\"
where = { band = \"5\" }
to = { band = \"6\" }
rate = 0.1
";

fn request(segment: &[(&str, &str)], month: &str, figure: Option<&str>) -> TraceRequest {
    let table: toml::Table = PLAN.parse().unwrap();
    TraceRequest {
        scenario: ScenarioSource {
            file: "plan.toml".into(),
            document: wfplan::scenario::load_value(serde_json::to_value(table).unwrap()).unwrap(),
        },
        segment: segment
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        month: month.into(),
        figure: figure.map(str::to_string),
        time_budget: std::time::Duration::from_secs(60),
        draw: None,
    }
}

fn two_bands() -> wfplan::model::Workforce {
    workforce(&[simple_row("a", "5", 100.0), simple_row("a", "6", 40.0)])
}

#[test]
fn the_trace_holds_the_run_s_own_figures() {
    let w = two_bands();
    let traced = trace(
        rules(),
        Arc::new(w.clone()),
        &request(&[("band", "6")], "2025-12", None),
        None,
    )
    .unwrap();
    let scenario = scenario(PLAN, &w);
    let results = run_scenario(rules(), &w, &scenario, &RunOptions::default()).unwrap();
    for (index, metric) in METRICS.iter().enumerate() {
        let expected = results.row_figures(3, 1)[index];
        let got = traced.quantities[*metric].value;
        assert!(
            (got - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "{metric}: {got} vs {expected}"
        );
    }
    // The model's names are all there, each with the rule and line that computed it.
    for name in [
        "hours_pm",
        "headroom",
        "allowance",
        "annual_leave",
        "sickness",
        "leaver",
        "m_leave",
        "required",
        "bank_share",
        "agency_share",
        "hourly_pay",
        "gap",
    ] {
        let q = &traced.quantities[name];
        assert!(
            q.rule.ends_with(".rhai") && q.line.is_some(),
            "{name}: {q:?}"
        );
    }
    // December's annual leave is 0.1 * 1.2; band 6 receives band 5's progression.
    assert!((traced.quantities["annual_leave"].value - 0.12).abs() < 1e-12);
    assert!(traced.quantities["transfers_in"].value > 0.0);
    assert!(results.figure(3, 1, Metric::TransfersIn) > 0.0);

    // One figure: only what it depends on.
    let agency = trace(
        rules(),
        Arc::new(w),
        &request(&[("band", "6")], "2025-12", Some("agency_cost")),
        None,
    )
    .unwrap();
    assert!(agency.quantities.contains_key("gap") && agency.quantities.contains_key("hourly_pay"));
    assert!(!agency.quantities.contains_key("leavers"));
    assert_eq!(
        agency.depends_on["agency_cost"],
        ["agency_hours", "hourly_pay", "seg.agency_premium"]
    );
}

#[test]
fn an_edited_rule_changes_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    super::sandbox::copy_rules(dir.path(), &[]);
    let flows = dir.path().join("flows.rhai");
    let text = std::fs::read_to_string(&flows).unwrap();
    // A planner pays bank staff at twice the rate, two lines further down the file.
    let edited = text.replace(
        "let hourly_pay = seg.annual_pay / (seg.hours_per_week * 52.0);",
        "// Doubled for this test.\n//\nlet hourly_pay = 2.0 * seg.annual_pay / (seg.hours_per_week * 52.0);",
    );
    assert_ne!(
        edited, text,
        "flows.rhai still computes hourly_pay on one line"
    );
    std::fs::write(&flows, edited).unwrap();
    let edited_rules = RuleSet::load(dir.path()).unwrap();
    let w = two_bands();
    let shipped = trace(
        rules(),
        Arc::new(w.clone()),
        &request(&[("band", "5")], "2025-10", None),
        None,
    )
    .unwrap();
    let edited = trace(
        &edited_rules,
        Arc::new(w),
        &request(&[("band", "5")], "2025-10", None),
        None,
    )
    .unwrap();
    let (before, after) = (
        &shipped.quantities["hourly_pay"],
        &edited.quantities["hourly_pay"],
    );
    assert_eq!(before.value, 20.0);
    assert_eq!(after.value, 40.0);
    assert_eq!(after.line, before.line.map(|l| l + 2));
    assert_eq!(
        edited.quantities["bank_cost"].value,
        2.0 * shipped.quantities["bank_cost"].value
    );
}

#[test]
fn a_segment_or_month_that_is_not_one_is_refused() {
    let w = Arc::new(two_bands());
    for (segment, month, field) in [
        (vec![("org", "a")], "2025-10", "segment"),
        (vec![("band", "9")], "2025-10", "segment"),
        (vec![("grade", "5")], "2025-10", "segment"),
        (vec![("band", "5")], "2026-03", "month"),
        (vec![("band", "5")], "2025-13", "month"),
    ] {
        match trace(rules(), w.clone(), &request(&segment, month, None), None) {
            Err(TraceError::Invalid(problems)) => {
                assert_eq!(problems[0].field, field, "{segment:?} {month}")
            }
            other => panic!("{segment:?} {month}: expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn trace_through_the_binary_reads_top_down() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfplan"))
        .current_dir(dir.path())
        .args([
            "trace",
            "wellbeing",
            "--segment",
            "org=riverside_council,staff_group=personal_care,band=care_worker",
        ])
        .args(["--month", "2027-01", "--figure", "agency_cost"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let at = |name: &str| {
        text.find(&format!("  {name} "))
            .unwrap_or_else(|| panic!("{name} in\n{text}"))
    };
    // Inputs first, then each quantity after what it is computed from.
    assert!(
        at("hours_pm") < at("headroom")
            && at("headroom") < at("gap")
            && at("gap") < at("agency_cost")
    );
    assert!(text.contains("rules/flows.rhai:"), "{text}");
}
