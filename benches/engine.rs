//! Engine benchmarks (divan): one scenario on the sample ICS, and a batch in parallel.
//! Run with `cargo bench --bench engine`; results are written up in BENCHMARKS.md.

use std::path::Path;

use wfplan::engine::batch::run_all;
use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::{Scenario, Workforce};
use wfplan::rules::RuleSet;

fn main() {
    divan::main();
}

fn setup(names: &[&str]) -> (RuleSet, Workforce, Vec<Scenario>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = RuleSet::load(&root.join("rules")).expect("rules compile");
    let workforce = wfplan::data::read_workforce(&root.join("data/sample/workforce.csv"))
        .expect("sample loads");
    let files: Vec<_> = names
        .iter()
        .map(|n| root.join("scenarios").join(format!("{n}.toml")))
        .collect();
    let (sources, problems) = wfplan::scenario::load_paths(&files);
    assert!(problems.is_empty(), "{problems:?}");
    let (scenarios, problems) = wfplan::scenario::check_all(&sources, &rules, &workforce);
    assert!(problems.is_empty(), "{problems:?}");
    (rules, workforce, scenarios)
}

/// Compiling every rule script: paid once per batch.
#[divan::bench]
fn compile_rules() -> RuleSet {
    RuleSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap()
}

/// One scenario, 183 segments x 60 months, results in memory.
#[divan::bench(args = ["baseline", "faculty_plan"])]
fn sample_scenario(bencher: divan::Bencher, name: &str) {
    let (rules, workforce, scenarios) = setup(&[name]);
    bencher
        .bench(|| run_scenario(&rules, &workforce, &scenarios[0], &RunOptions::default()).unwrap());
}

/// Every shipped scenario in parallel on the default pool.
#[divan::bench]
fn sample_batch(bencher: divan::Bencher) {
    let names = [
        "baseline",
        "retention",
        "wellbeing",
        "time_released",
        "bank_shift",
        "skill_mix",
        "placements",
        "apprenticeships",
        "return_to_practice",
        "international",
        "work_experience",
        "faculty_plan",
    ];
    let (rules, workforce, scenarios) = setup(&names);
    bencher
        .bench(|| run_all(&rules, &workforce, &scenarios, &RunOptions::default(), None).unwrap());
}
