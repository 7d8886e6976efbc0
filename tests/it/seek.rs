//! Goal seek on the segment of `common::simple_row` (100 FTE against 120 required, no
//! recruitment), where the answers can be worked by hand, and through the binary.

use std::sync::Arc;

use wfplan::app::seek::{seek, Seek, SeekError, SeekRequest};
use wfplan::report::metric::{GroupMetric, PeriodChoice};
use wfplan::scenario::ScenarioSource;

use super::common::*;

const RECRUITS: &str = "start = \"2025-09\"\nmonths = 12
[[interventions]]
kind = \"international\"
recruits_per_year = 12
course_months = 3
";

const RELEASE: &str = "start = \"2025-09\"\nmonths = 3
[[interventions]]
kind = \"time_released\"
share = 0.1
";

fn request(
    toml: &str,
    field: &str,
    range: (f64, f64),
    metric: &str,
    month: &str,
    target: f64,
) -> SeekRequest {
    let workforce = workforce(&[simple_row("a", "5", 100.0)]);
    let table: toml::Table = toml.parse().unwrap();
    let document = wfplan::scenario::load_value(serde_json::to_value(table).unwrap()).unwrap();
    SeekRequest {
        scenario: ScenarioSource {
            file: "test.toml".into(),
            document,
        },
        field: field.into(),
        lo: range.0,
        hi: range.1,
        metric: GroupMetric::checked(
            metric,
            &[],
            PeriodChoice::parse(None, Some(month)).unwrap(),
            &workforce,
        )
        .unwrap(),
        target,
        tolerance: None,
        integer: false,
        time_budget: std::time::Duration::from_secs(60),
        max_segment_months: usize::MAX,
    }
}

fn run(request: &SeekRequest) -> Result<Seek, SeekError> {
    seek(
        rules(),
        Arc::new(workforce(&[simple_row("a", "5", 100.0)])),
        request,
    )
}

/// The metric with the field at `value`: the low end of a seek over a tiny range.
fn metric_at(request: &SeekRequest, value: f64) -> f64 {
    let mut single = request.clone();
    single.lo = value;
    single.hi = value + 1e-6;
    single.target = f64::NEG_INFINITY;
    run(&single).unwrap().lo_metric
}

#[test]
fn the_smallest_value_reaching_the_target_within_the_tolerance() {
    // Recruits arriving in December 2025 (month 3): recruits_per_year / 12 from the
    // September starters. Reaching 2 needs 24 a year; the tolerance is 120 / 1000.
    let r = request(
        RECRUITS,
        "interventions.1.recruits_per_year",
        (0.0, 120.0),
        "international",
        "2025-12",
        2.0,
    );
    let answer = run(&r).unwrap();
    let value = answer.value.expect("reachable");
    assert!((24.0..24.0 + 0.12).contains(&value), "{answer:?}");
    assert!(answer.metric_value.unwrap() >= 2.0);
    assert!(metric_at(&r, value - 0.12) < 2.0);
    assert_eq!((answer.lo_metric, answer.hi_metric), (0.0, 10.0));

    // Whole numbers: exactly 24.
    let mut whole = r.clone();
    whole.integer = true;
    assert_eq!(run(&whole).unwrap().value, Some(24.0));

    // Out of reach: said so, with the metric at both ends.
    let mut far = r.clone();
    far.target = 100.0;
    let answer = run(&far).unwrap();
    assert!(!answer.reached());
    assert_eq!((answer.lo_metric, answer.hi_metric), (0.0, 10.0));
}

#[test]
fn a_falling_metric_reaches_its_target_from_above() {
    // Vacancies = 120 * (1 - share) - 100 at full effect: at most 5 from share 0.125.
    let r = request(
        RELEASE,
        "interventions.1.share",
        (0.0, 0.5),
        "vacancies",
        "2025-09",
        5.0,
    );
    let answer = run(&r).unwrap();
    let value = answer.value.expect("reachable");
    assert!((0.125..0.125 + 0.0005).contains(&value), "{answer:?}");
    assert!(answer.metric_value.unwrap() <= 5.0);
    assert!(metric_at(&r, value - 0.0005) > 5.0);
    // Already reached at the low end: the answer is the low end.
    let mut easy = r.clone();
    easy.target = 25.0;
    assert_eq!(run(&easy).unwrap().value, Some(0.0));
}

#[test]
fn a_path_that_is_not_a_numeric_field_is_refused() {
    for (path, message) in [
        ("interventions.2.share", "names none"),
        ("interventions.0.share", "names none"),
        ("interventions.1.kind", "not a numeric field"),
        ("overrides.1.leaver_rate", "names none"),
        ("budget", "not a field path"),
    ] {
        let r = request(RELEASE, path, (0.0, 0.5), "vacancies", "2025-09", 5.0);
        match run(&r) {
            Err(SeekError::Invalid(problems)) => {
                assert_eq!(problems[0].field, "field");
                assert!(
                    problems[0].message.contains(message),
                    "{path}: {problems:?}"
                );
            }
            other => panic!("{path}: expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn seek_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let wfplan = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wfplan"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let output = wfplan(&[
        "seek",
        "apprenticeships",
        "--field",
        "interventions.3.starts_per_year",
        "--range",
        "0:500",
        "--metric",
        "apprentices_qualified",
        "--year",
        "2029/30",
        "--target",
        "20",
        "--tolerance",
        "0.5",
        "--format",
        "json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["reached"], true, "{answer}");
    assert!(answer["metric_value"].as_f64().unwrap() >= 20.0, "{answer}");
    assert!(answer["runs"].as_u64().unwrap() < 60, "{answer}");

    let output = wfplan(&[
        "seek",
        "apprenticeships",
        "--field",
        "interventions.3.where",
        "--range",
        "0:500",
        "--metric",
        "apprentices_qualified",
        "--year",
        "2029/30",
        "--target",
        "20",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a numeric field"));
}
