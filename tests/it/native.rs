//! The engine against the native kernel (`benches/peers/native.rs`), the hand-written Rust
//! peer used as the benchmarks' reference for the limit of the machine: both follow the
//! shipped rules' order of operations, so their figures must be equal to the last bit, on
//! the peers' fixtures and on generated data large enough to be run in parts.

#[path = "../../benches/peers/native.rs"]
mod kernel;

use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::{Metric, RunResults, Workforce};

use super::common::*;
use super::sandbox::rules_with;

fn identical(ours: &RunResults, theirs: &RunResults) {
    super::compiled::same_bits(ours, theirs, "the engine against the native kernel");
}

/// Enough segments for several parts of `PART_SEGMENTS`.
fn generated(segments: usize) -> Workforce {
    let mut csv = Vec::new();
    wfplan::data::generate::write_csv(&mut csv, segments, 3).unwrap();
    wfplan::data::import::read_csv_text("generated", std::str::from_utf8(&csv).unwrap()).unwrap()
}

/// The national benchmark scenario, over 18 months.
fn national(workforce: &Workforce) -> wfplan::model::Scenario {
    let text = std::fs::read_to_string(repo().join("benches/scenarios/national.toml")).unwrap();
    scenario(&text.replace("months = 120", "months = 18"), workforce)
}

/// The engine and the kernel on a fixture folder's workforce and one of its scenarios.
fn identical_on_fixture(folder: &str, scenario_file: &str) {
    let fixtures = repo().join(folder);
    let workforce = wfplan::data::read_workforce(&fixtures.join("workforce.csv")).unwrap();
    let (sources, problems) = wfplan::scenario::load_paths(&[fixtures.join(scenario_file)]);
    assert!(problems.is_empty(), "{problems:#?}");
    let (scenarios, problems) = wfplan::scenario::check_all(&sources, rules(), &workforce);
    assert!(problems.is_empty(), "{problems:#?}");
    let ours = run_scenario(rules(), &workforce, &scenarios[0], &RunOptions::default()).unwrap();
    identical(&ours, &kernel::run(&workforce, &scenarios[0]));
}

#[test]
fn the_engine_equals_the_native_kernel_on_the_peer_fixtures() {
    identical_on_fixture("benches/peers/fixtures", "all-kinds.toml");
}

#[test]
fn the_engine_equals_the_native_kernel_with_seasons_pipelines_and_transfers() {
    identical_on_fixture("benches/peers/fixtures/v2", "all-v2.toml");
}

#[test]
fn the_engine_in_parts_equals_the_native_kernel_on_generated_data() {
    let workforce = generated(3 * wfplan::engine::PART_SEGMENTS + 500);
    let scenario = national(&workforce);
    let ours = run_scenario(rules(), &workforce, &scenario, &RunOptions::default()).unwrap();
    identical(&ours, &kernel::run(&workforce, &scenario));
}

#[test]
fn a_move_between_organisations_in_parts_equals_the_native_kernel() {
    // Moves between the organisations of a system cross the parts' boundaries, so the
    // engine must notice and run the scenario over whole columns.
    let workforce = generated(2 * wfplan::engine::PART_SEGMENTS + 300);
    let text = std::fs::read_to_string(repo().join("benches/scenarios/national.toml")).unwrap();
    let text = text.replace("months = 120", "months = 6")
        + "\n[[interventions]]\nkind = \"transfer\"\nwhere = { setting = \"acute\" }\nto = { setting = \"community\" }\nsame = [\"system\", \"staff_group\", \"band\"]\nrate = 0.05\n";
    let scenario = scenario(&text, &workforce);
    let ours = run_scenario(rules(), &workforce, &scenario, &RunOptions::default()).unwrap();
    identical(&ours, &kernel::run(&workforce, &scenario));
    let moved: f64 = (0..6)
        .map(|m| ours.month_total(m, wfplan::model::Metric::TransfersIn))
        .sum();
    assert!(moved > 0.0);
}

#[test]
fn a_rule_that_looks_across_segments_sees_them_all() {
    // `sum` over a part would give each part's total; the engine must notice and run the
    // scenario over whole columns.
    const SHARE: &str = r#"fn kind() { #{ summary: "each segment's share of all FTE", stage: "pipeline", fields: #{} } }

intervention_cost += fte / sum(fte);
"#;
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_with(dir.path(), &[("share_of_all", SHARE)]);
    let workforce = generated(2 * wfplan::engine::PART_SEGMENTS + 100);
    let scenario = wfplan::scenario::from_toml_str(
        "share.toml",
        "name = \"share\"\nstart = \"2025-04\"\nmonths = 2\n[[interventions]]\nkind = \"share_of_all\"\n",
        &rules,
        &workforce,
    )
    .unwrap()
    .remove(0);
    let results = run_scenario(&rules, &workforce, &scenario, &RunOptions::default()).unwrap();
    for month in 0..2 {
        let total = results.month_total(month, Metric::InterventionCost);
        assert!(
            (total - 1.0).abs() < 1e-9,
            "month {month}: shares add to {total}"
        );
    }
}

#[test]
fn the_native_kernel_at_total_detail_sums_what_the_engine_sums() {
    // The kernel adds each chunk's segments and then the chunks, the engine every segment
    // in order: the same figures but for the last bits of the sums.
    let workforce = generated(2 * wfplan::engine::PART_SEGMENTS + 300);
    let scenario = national(&workforce);
    let options = RunOptions {
        detail: wfplan::model::Detail::parse("total", &workforce.key_names).unwrap(),
        ..RunOptions::default()
    };
    let ours = run_scenario(rules(), &workforce, &scenario, &options).unwrap();
    let theirs = kernel::run_total(&workforce, &scenario);
    assert_eq!(ours.rows, theirs.rows);
    for (at, (x, y)) in ours.figures.iter().zip(&theirs.figures).enumerate() {
        let scale = x.abs().max(y.abs()).max(1.0);
        assert!(
            (x - y).abs() <= 1e-12 * scale,
            "{} in month {}: engine {x}, native {y}",
            wfplan::model::METRICS[at % wfplan::model::METRICS.len()],
            at / wfplan::model::METRICS.len()
        );
    }
}
