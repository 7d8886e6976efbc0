//! How many finished runs the store can record per second, without HTTP or the engine:
//! the ceiling on synchronous API runs, whose results are written by one connection.
//! Run with `cargo bench --bench store [-- RUNS]`; written up in BENCHMARKS.md.
//!
//! One run of the baseline scenario on the sample ICS at each level of detail is recorded
//! RUNS times (default 240) into a fresh database file, in groups of 1, 8 and 24 runs per
//! transaction: 8 is the most the API's group commit gathers under 8 clients; 24 shows
//! DuckDB's bulk path, which writes a transaction of more than one row group (122,880
//! rows) straight to the database file instead of through the write-ahead log.

use std::path::Path;
use std::time::{Duration, Instant};

use wfplan::data::{RunRecord, Store};
use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::{Detail, RunResults};
use wfplan::rules::RuleSet;

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(240);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = RuleSet::load(&root.join("rules")).expect("rules compile");
    let workforce = wfplan::data::read_workforce(&root.join("data/sample/workforce.csv"))
        .expect("sample loads");
    let (sources, problems) = wfplan::scenario::load_paths(&[root.join("scenarios/baseline.toml")]);
    assert!(problems.is_empty(), "{problems:?}");
    let (scenarios, problems) = wfplan::scenario::check_all(&sources, &rules, &workforce);
    assert!(problems.is_empty(), "{problems:?}");
    let scenario = &scenarios[0];
    println!("detail        rows/run  group  runs/s  ms/run  MB raw/s");
    for detail in ["segment", "staff_group", "total"] {
        let options = RunOptions {
            detail: Detail::parse(detail, &workforce.key_names).expect("a level of detail"),
            ..RunOptions::default()
        };
        let results = run_scenario(&rules, &workforce, scenario, &options).expect("baseline runs");
        let record = RunRecord {
            batch_id: 0,
            scenario: scenario.name.clone(),
            scenario_hash: "bench".into(),
            rules_hash: rules.fingerprint.clone(),
            data_hash: workforce.fingerprint(),
            detail: options.detail.label(),
            start_month: scenario.start.to_string(),
            months: scenario.months,
            dataset: "default".into(),
            draws: 0,
            seed: 0,
        };
        for group in [1, 8, 24] {
            let dir = tempfile::tempdir().expect("temporary folder");
            let mut store = Store::open(&dir.path().join("store.duckdb")).expect("store opens");
            let elapsed = record_runs(&mut store, &record, &results, runs, group);
            let per_second = runs as f64 / elapsed.as_secs_f64();
            // Raw bytes of the figures alone: what any layout has to write at least once.
            let figure_bytes = results.figures.len() * std::mem::size_of::<f64>();
            println!(
                "{detail:<12} {:>9} {group:>6} {per_second:>7.1} {:>7.2} {:>9.1}",
                results.rows.len() * results.months,
                elapsed.as_secs_f64() * 1000.0 / runs as f64,
                per_second * figure_bytes as f64 / 1e6,
            );
        }
    }
}

/// Records `runs` copies of one run's results, `group` per transaction; returns the time.
fn record_runs(
    store: &mut Store,
    record: &RunRecord,
    results: &RunResults,
    runs: usize,
    group: usize,
) -> Duration {
    let started = Instant::now();
    let mut left = runs;
    while left > 0 {
        let n = left.min(group);
        let finished: Vec<_> = (0..n)
            .map(|_| (record.clone(), Ok(results), Duration::from_millis(2)))
            .collect();
        store
            .record_finished_runs(&finished)
            .expect("runs recorded");
        left -= n;
    }
    started.elapsed()
}
