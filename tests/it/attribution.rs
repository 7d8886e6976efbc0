//! Attribution, worked by hand on the segment of `common::simple_row` (100 FTE against
//! 120 required, no recruitment), and through the binary and the API.

use std::sync::Arc;

use wfplan::app::attribution::{attribute, AttributionError, AttributionRequest, Method};
use wfplan::report::metric::{GroupMetric, PeriodChoice};
use wfplan::scenario::Catalogue;

use super::common::*;

const BASE: &str = "start = \"2025-09\"\nmonths = 1\n";

/// Attributes `scenario`'s vacancies in the run's one month against `baseline`, with the
/// scenarios given as `(name, toml)` files of one folder.
fn attribute_vacancies(
    files: &[(&str, &str)],
    scenario: &str,
    baseline: (&str, bool),
) -> Result<wfplan::report::attribution::Attribution, AttributionError> {
    attribute_by(files, scenario, baseline, Method::Both)
}

fn attribute_by(
    files: &[(&str, &str)],
    scenario: &str,
    baseline: (&str, bool),
    method: Method,
) -> Result<wfplan::report::attribution::Attribution, AttributionError> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(format!("{name}.toml")), text).unwrap();
    }
    let (catalogue, problems) = Catalogue::from_folder(dir.path());
    assert!(problems.is_empty(), "{problems:?}");
    let workforce = workforce(&[simple_row("a", "5", 100.0)]);
    let metric =
        GroupMetric::checked("vacancies", &[], PeriodChoice::WholeRun, &workforce).unwrap();
    let request = AttributionRequest {
        scenario: catalogue.resolve(scenario).unwrap(),
        baseline: catalogue.resolve(baseline.0).unwrap(),
        baseline_named: baseline.1,
        metric,
        method,
        time_budget: std::time::Duration::from_secs(60),
        max_segment_months: usize::MAX,
    };
    attribute(rules(), Arc::new(workforce), &request)
}

fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("given");
    assert!((actual - expected).abs() < 1e-9, "{actual} vs {expected}");
}

const RELEASE_10: &str =
    "[[interventions]]\nkind = \"time_released\"\nname = \"ten\"\nshare = 0.1\n";
const RELEASE_5: &str =
    "[[interventions]]\nkind = \"time_released\"\nname = \"five\"\nshare = 0.05\n";

#[test]
fn two_factors_sequential_and_shapley_by_hand() {
    // Vacancies = required - 100. Without factors 120 - 100 = 20. "ten" alone: 108 - 100
    // = 8. "five" alone: 114 - 100 = 14. Both: 120 * 0.9 * 0.95 = 102.6, so 2.6.
    // Sequential (file order): ten -12, then five 2.6 - 8 = -5.4.
    // Shapley: ten = ((8 - 20) + (2.6 - 14)) / 2 = -11.7; five = ((14 - 20) + (2.6 - 8)) / 2
    // = -5.7. Both add up to 2.6 - 20 = -17.4.
    let scenario = format!("extends = \"base\"\n{RELEASE_10}{RELEASE_5}");
    let a = attribute_vacancies(
        &[("base", BASE), ("plan", &scenario)],
        "plan",
        ("base", false),
    )
    .unwrap();
    assert_eq!(a.runs, 4);
    close(Some(a.baseline_value), 20.0);
    close(Some(a.scenario_value), 2.6);
    close(Some(a.total_change), -17.4);
    assert_eq!(a.factors[0].name, "ten");
    close(a.factors[0].sequential, -12.0);
    close(a.factors[1].sequential, -5.4);
    close(a.factors[0].shapley, -11.7);
    close(a.factors[1].shapley, -5.7);

    // In the other order the steps change and the Shapley values do not.
    let reordered = format!("extends = \"base\"\n{RELEASE_5}{RELEASE_10}");
    let b = attribute_vacancies(
        &[("base", BASE), ("plan", &reordered)],
        "plan",
        ("base", false),
    )
    .unwrap();
    assert_eq!(b.factors[0].name, "five");
    close(b.factors[0].sequential, -6.0);
    close(b.factors[1].sequential, -11.4);
    close(b.factors[0].shapley, -5.7);
    close(b.factors[1].shapley, -11.7);
}

#[test]
fn the_scenario_s_own_overrides_are_one_factor_last() {
    // "ten" takes required to 108; the override (establishment 110) alone gives 10
    // vacancies; together required is 99 and vacancies max(0, 99 - 100) = 0.
    // Sequential: ten 8 - 20 = -12, then overrides 0 - 8 = -8. Shapley: ten =
    // ((8 - 20) + (0 - 10)) / 2 = -11, overrides = ((10 - 20) + (0 - 8)) / 2 = -9.
    let scenario =
        format!("extends = \"base\"\n[[overrides]]\nset = {{ establishment = 110 }}\n{RELEASE_10}");
    let a = attribute_vacancies(
        &[("base", BASE), ("plan", &scenario)],
        "plan",
        ("base", false),
    )
    .unwrap();
    let names: Vec<&str> = a.factors.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["ten", "overrides"]);
    close(a.factors[0].sequential, -12.0);
    close(a.factors[1].sequential, -8.0);
    close(a.factors[0].shapley, -11.0);
    close(a.factors[1].shapley, -9.0);
    close(Some(a.total_change), -20.0);
}

#[test]
fn a_named_baseline_with_an_intervention_the_scenario_lacks_is_refused() {
    let other = format!("{BASE}{RELEASE_5}");
    let scenario = format!("{BASE}{RELEASE_10}");
    match attribute_vacancies(
        &[("other", &other), ("plan", &scenario)],
        "plan",
        ("other", true),
    ) {
        Err(AttributionError::Invalid(problems)) => {
            assert_eq!(problems[0].field, "interventions[0]", "{problems:?}");
            assert!(
                problems[0].message.contains("the scenario does not"),
                "{problems:?}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn attribute_through_the_binary_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfplan"))
        .current_dir(dir.path())
        .args(["attribute", "wellbeing", "--metric", "agency_hours"])
        .args([
            "--where",
            "staff_group=personal_care",
            "--year",
            "2027/28",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(a["metric"], "agency_hours");
    assert_eq!(a["factors"][0]["name"], "care staff wellbeing offer");
    let total = a["total_change"].as_f64().unwrap();
    // Wellbeing lowers the hours agency staff cover.
    assert!(total < 0.0, "{a}");
    for method in ["sequential", "shapley"] {
        let sum: f64 = a["factors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f[method].as_f64().unwrap())
            .sum();
        assert!((sum - total).abs() <= 1e-9 * total.abs(), "{method}: {a}");
    }

    // A metric that is not one, or a year outside the run: bad usage, exit 2.
    for (args, message) in [
        (vec!["--metric", "vacancys"], "unknown metric 'vacancys'"),
        (
            vec!["--metric", "vacancies", "--year", "2040/41"],
            "the run has no month in 2040/41",
        ),
        (
            vec!["--metric", "vacancies", "--where", "org=nowhere"],
            "no segment has org = 'nowhere'",
        ),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfplan"))
            .current_dir(dir.path())
            .args(["attribute", "retention"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn many_factors_have_sequential_steps_and_no_shapley_values() {
    // Fourteen 1% releases: 2^14 runs would be too many for Shapley values, and the 15
    // runs of the waterfall are fine. Each step is 120 * 0.99^(k-1) * 0.01 FTE.
    let mut scenario = String::from("extends = \"base\"\n");
    for k in 0..14 {
        scenario.push_str(&format!(
            "[[interventions]]\nkind = \"time_released\"\nname = \"r{k}\"\nshare = 0.01\n"
        ));
    }
    let files = [("base", BASE), ("plan", scenario.as_str())];
    let a = attribute_by(&files, "plan", ("base", false), Method::Sequential).unwrap();
    assert_eq!((a.runs, a.factors.len()), (15, 14));
    for (k, f) in a.factors.iter().enumerate() {
        close(f.sequential, -120.0 * 0.99f64.powi(k as i32) * 0.01);
        assert!(f.shapley.is_none());
    }
    match attribute_by(&files, "plan", ("base", false), Method::Shapley) {
        Err(AttributionError::TooManyFactors { factors: 14 }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Attribution's combinations run side by side as one wide problem: each must equal the
/// same scenario run alone, whatever its interventions left out and its overrides.
#[test]
fn variants_side_by_side_equal_each_variant_run_alone() {
    let workforce =
        wfplan::data::import::read_csv_text("sample", wfplan::data::SAMPLE_WORKFORCE_CSV).unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/faculty_plan.toml")).unwrap();
    let baseline = std::fs::read_to_string(repo().join("scenarios/baseline.toml")).unwrap();
    // The faculty plan with its parent's entries in place, and an override.
    let mut document: toml::Table = baseline.parse().unwrap();
    let child: toml::Table = text.parse().unwrap();
    for (key, value) in child {
        match (document.get_mut(&key), value) {
            (Some(toml::Value::Array(list)), toml::Value::Array(more)) => list.extend(more),
            (_, value) => {
                document.insert(key, value);
            }
        }
    }
    document.remove("extends");
    let full = toml::to_string(&document).unwrap()
        + "\n[[overrides]]\nwhere = { staff_group = \"physiotherapy\" }\nset = { leaver_rate = 0.2 }\n";
    let full = scenario(&full, &workforce);
    let n = full.interventions.len();
    assert!(n >= 8, "{n} interventions");
    // Every 37th combination of the interventions, half with the override.
    let mut variants = Vec::new();
    for mask in (0..1u32 << n).step_by(37) {
        let mut v = full.clone();
        v.name = format!("mask {mask}");
        v.interventions = full
            .interventions
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, i)| i.clone())
            .collect();
        if mask % 2 == 0 {
            v.overrides.clear();
        }
        variants.push(v);
    }
    variants.push(full);
    let options = wfplan::engine::RunOptions {
        detail: wfplan::model::Detail::GroupBy(vec!["staff_group".into()]),
        ..Default::default()
    };
    let side_by_side =
        wfplan::engine::variants::run_variants(rules(), &workforce, &variants, &options)
            .expect("the variants run side by side");
    for (variant, wide) in variants.iter().zip(&side_by_side) {
        let alone = wfplan::engine::run_scenario(rules(), &workforce, variant, &options).unwrap();
        assert_eq!(alone.rows, wide.rows);
        for (a, b) in alone.figures.iter().zip(&wide.figures) {
            assert!(
                (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                "{}: {a} alone, {b} side by side",
                variant.name
            );
        }
    }
}
