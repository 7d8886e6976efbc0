//! The national case: one scenario on generated data (about 50,000 segments, 120 months),
//! run by the engine (rules in rhai) or by the native kernel (`peers/native.rs`), with the
//! results in memory at segment detail. Loading the data and the rules is not timed.
//!
//! ```text
//! cargo build --release --bench national   # then run target/release/deps/national-*:
//! national --data DIR --scenario FILE \
//!     [--impl engine|native|check|compile|batch] [--threads N] [--repeat R] [--detail D]
//! ```
//!
//! Prints one line per repeat and a summary line `<impl> best <s> s, <x> segment-months/s`
//! that `benches/compare.sh` reads. `check` runs both and prints their largest difference.
//! `compile` times loading the rules; `batch` runs every scenario the file expands to (its
//! `[sweep]`) in parallel with `run_all`, results in memory, nothing stored.
//! Run it under `/usr/bin/time -v` for peak memory; `compare.sh` does.

#[path = "peers/native.rs"]
mod native;

use std::path::{Path, PathBuf};
use std::time::Instant;

use wfplan::engine::batch::run_all;
use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::{Detail, RunResults, Scenario, Workforce};
use wfplan::rules::RuleSet;

struct Args {
    data: PathBuf,
    scenario: PathBuf,
    implementation: String,
    threads: Option<usize>,
    repeat: usize,
    detail: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        data: PathBuf::new(),
        scenario: PathBuf::new(),
        implementation: "engine".into(),
        threads: None,
        repeat: 3,
        detail: "segment".into(),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || {
            given
                .next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--data" => args.data = value().into(),
            "--scenario" => args.scenario = value().into(),
            "--impl" => args.implementation = value(),
            "--threads" => args.threads = Some(value().parse().expect("a number of threads")),
            "--repeat" => args.repeat = value().parse().expect("a number of repeats"),
            "--detail" => args.detail = value(),
            // cargo bench passes `--bench`.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn load(args: &Args, rules: &RuleSet) -> (Workforce, Scenario) {
    let (workforce, mut scenarios) = load_all(args, rules);
    (workforce, scenarios.remove(0))
}

fn load_all(args: &Args, rules: &RuleSet) -> (Workforce, Vec<Scenario>) {
    let workforce = wfplan::data::read_workforce(&args.data).expect("the data loads");
    let (sources, problems) = wfplan::scenario::load_paths(std::slice::from_ref(&args.scenario));
    assert!(problems.is_empty(), "{problems:#?}");
    let (scenarios, problems) = wfplan::scenario::check_all(&sources, rules, &workforce);
    assert!(problems.is_empty(), "{problems:#?}");
    (workforce, scenarios)
}

fn main() {
    let args = parse_args();
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        pool = pool.num_threads(n);
    }
    let pool = pool.build().expect("a thread pool");
    let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");

    if args.implementation == "compile" {
        let mut best = f64::INFINITY;
        for _ in 0..args.repeat.max(1) {
            let started = Instant::now();
            let rules = RuleSet::load(&rules_dir).expect("the rules compile");
            best = best.min(started.elapsed().as_secs_f64());
            drop(rules);
        }
        println!("compile best {:.6} s", best);
        return;
    }

    let rules = RuleSet::load(&rules_dir).expect("the rules compile");
    if args.implementation == "batch" {
        let (workforce, scenarios) = load_all(&args, &rules);
        let options = RunOptions {
            detail: Detail::parse(&args.detail, &workforce.key_names).expect("a level of detail"),
            ..RunOptions::default()
        };
        let mut best = f64::INFINITY;
        for repeat in 0..args.repeat.max(1) {
            let started = Instant::now();
            let outcomes =
                run_all(&rules, &workforce, &scenarios, &options, args.threads).expect("a pool");
            let elapsed = started.elapsed().as_secs_f64();
            assert!(
                outcomes.iter().all(|o| o.result.is_ok()),
                "every scenario runs"
            );
            best = best.min(elapsed);
            println!(
                "batch run {repeat}: {elapsed:.4} s for {} scenarios",
                outcomes.len()
            );
        }
        let segment_months: usize = scenarios.iter().map(|s| s.months * workforce.len()).sum();
        println!(
            "batch best {best:.4} s, {:.1} scenarios/s, {:.0} segment-months/s",
            scenarios.len() as f64 / best,
            segment_months as f64 / best
        );
        return;
    }
    let (workforce, scenario) = load(&args, &rules);
    let segment_months = (workforce.len() * scenario.months) as f64;
    let options = RunOptions {
        detail: Detail::parse(&args.detail, &workforce.key_names).expect("a level of detail"),
        ..RunOptions::default()
    };
    let engine =
        || run_scenario(&rules, &workforce, &scenario, &options).expect("the scenario runs");
    // The native kernel keeps every segment's rows, or at `--detail total` sums them as
    // it goes (like for like with the engine at that detail).
    let total = match options.detail {
        Detail::Segment => false,
        Detail::GroupBy(ref keys) if keys.is_empty() => true,
        _ if args.implementation == "native" => {
            panic!("the native kernel runs at segment or total detail")
        }
        _ => false,
    };
    let kernel = || {
        if total {
            native::run_total(&workforce, &scenario)
        } else {
            native::run(&workforce, &scenario)
        }
    };

    if args.implementation == "check" {
        let (ours, theirs) = pool.install(|| (engine(), kernel()));
        let difference = largest_difference(&ours, &theirs);
        println!(
            "check: {} figures, largest relative difference {difference:e}",
            ours.figures.len()
        );
        return;
    }

    let run: &(dyn Fn() -> RunResults + Sync) = match args.implementation.as_str() {
        "engine" => &engine,
        "native" => &kernel,
        other => panic!("unknown --impl {other}"),
    };
    let mut best = f64::INFINITY;
    for repeat in 0..args.repeat.max(1) {
        let started = Instant::now();
        let results = pool.install(run);
        let elapsed = started.elapsed().as_secs_f64();
        best = best.min(elapsed);
        println!(
            "{} run {repeat}: {elapsed:.4} s ({} rows x {} months)",
            args.implementation,
            results.rows.len(),
            results.months
        );
        // Dropped outside the timing, as a caller would store it.
        drop(results);
    }
    println!(
        "{} best {best:.4} s, {:.0} segment-months/s, {:.2} ns per segment-month",
        args.implementation,
        segment_months / best,
        best * 1e9 / segment_months
    );
}

fn largest_difference(a: &RunResults, b: &RunResults) -> f64 {
    assert_eq!(a.figures.len(), b.figures.len(), "same shape");
    a.figures
        .iter()
        .zip(&b.figures)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1.0))
        .fold(0.0, f64::max)
}
