//! The rule compiler against the interpreter: every scenario's figures, compiled and
//! interpreted, are equal to the bit (each compiled operation computes what the
//! interpreter's computes, on the same operands in the same order).

use std::sync::OnceLock;

use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::{RunResults, Scenario, Workforce, METRICS};
use wfplan::rules::{Execution, RuleSet};

use super::common::*;

/// The shipped rules on the rule compiler alone: a scenario it cannot record fails.
pub fn compiled() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = RuleSet::load(&repo().join("rules")).expect("the shipped rules compile");
        rules.execution = Execution::Compiled;
        rules
    })
}

/// The shipped rules on the interpreter alone.
pub fn interpreted() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = RuleSet::load(&repo().join("rules")).expect("the shipped rules compile");
        rules.execution = Execution::Interpreted;
        rules
    })
}

/// Panics naming the first figure that differs in any bit.
#[track_caller]
pub fn same_bits(compiled: &RunResults, interpreted: &RunResults, what: &str) {
    assert_eq!(compiled.rows, interpreted.rows, "{what}");
    assert_eq!(compiled.figures.len(), interpreted.figures.len(), "{what}");
    let width = METRICS.len() * compiled.rows.len();
    if let Some((at, (x, y))) = compiled
        .figures
        .iter()
        .zip(&interpreted.figures)
        .enumerate()
        .find(|(_, (x, y))| x.to_bits() != y.to_bits())
    {
        panic!(
            "{what}: {} of row {} in month {}: compiled {x}, interpreted {y}",
            METRICS[at % METRICS.len()],
            at % width / METRICS.len(),
            at / width
        );
    }
}

/// Runs a scenario both ways and checks they agree.
#[track_caller]
pub fn both_ways(workforce: &Workforce, scenario: &Scenario, options: &RunOptions) -> RunResults {
    let compiled = run_scenario(compiled(), workforce, scenario, options).expect("compiled run");
    let interpreted =
        run_scenario(interpreted(), workforce, scenario, options).expect("interpreted run");
    same_bits(&compiled, &interpreted, &scenario.name);
    compiled
}

fn scenarios_of(folder: &str, files: &[&str]) -> (Workforce, Vec<Scenario>) {
    let dir = repo().join(folder);
    let workforce = wfplan::data::read_workforce(&dir.join("workforce.csv")).unwrap();
    let paths: Vec<_> = files.iter().map(|f| dir.join(f)).collect();
    let (sources, problems) = wfplan::scenario::load_paths(&paths);
    assert!(problems.is_empty(), "{problems:#?}");
    let (scenarios, problems) = wfplan::scenario::check_all(&sources, rules(), &workforce);
    assert!(problems.is_empty(), "{problems:#?}");
    (workforce, scenarios)
}

#[test]
fn every_shipped_scenario_compiled_equals_interpreted() {
    let workforce =
        wfplan::data::read_workforce(&repo().join("data/sample/workforce.csv")).unwrap();
    let mut paths: Vec<_> = std::fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let (sources, problems) = wfplan::scenario::load_paths(&paths);
    assert!(problems.is_empty(), "{problems:#?}");
    let (scenarios, problems) = wfplan::scenario::check_all(&sources, rules(), &workforce);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(scenarios.len() >= 12);
    for scenario in &scenarios {
        both_ways(&workforce, scenario, &RunOptions::default());
    }
}

#[test]
fn the_peers_fixtures_compiled_equal_interpreted() {
    for (folder, files) in [
        (
            "benches/peers/fixtures",
            &["all-kinds.toml", "baseline.toml", "edges.toml"][..],
        ),
        (
            "benches/peers/fixtures/v2",
            &[
                "all-v2.toml",
                "pipelines_before.toml",
                "seasonality.toml",
                "transfers.toml",
            ][..],
        ),
    ] {
        let (workforce, scenarios) = scenarios_of(folder, files);
        for scenario in &scenarios {
            both_ways(&workforce, scenario, &RunOptions::default());
        }
    }
}
