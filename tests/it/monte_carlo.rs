//! Monte Carlo runs (docs/model.md, section 7): the same seed gives the same figures on any
//! number of threads, a draw's figures are the deterministic run with its values applied
//! (replayed through the binary), the draws have the stated distribution, the summaries
//! are NumPy's percentiles of each draw's figures, and bad entries are refused.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use wfplan::engine::batch::run_all;
use wfplan::engine::monte_carlo::drawn_values;
use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::uncertainty::percentile;
use wfplan::model::{Detail, Workforce};

use super::common::*;

fn sample() -> Workforce {
    wfplan::data::import::read_csv_text("sample", wfplan::data::SAMPLE_WORKFORCE_CSV).unwrap()
}

/// Transfers and skill mix look across segments: they must stay inside each draw.
const CROSS_SEGMENT: &str = r#"
name = "mc"
start = "2025-04"
months = 24
[monte_carlo]
draws = 40
seed = 11
[[interventions]]
kind = "transfer"
where = { band = "5" }
to = { band = "6" }
rate = 0.1
[[interventions]]
kind = "skill_mix"
where = { staff_group = "physiotherapy", band = "6" }
to = { staff_group = "physiotherapy", band = "4" }
share = 0.1
[[uncertain]]
what = "leaver_rate"
per = "org"
p10 = 0.8
p90 = 1.25
[[uncertain]]
what = "interventions.1.rate"
p10 = 0.05
p90 = 0.15
[[uncertain]]
what = "demand_growth"
where = { staff_group = "physiotherapy" }
p10 = 0.5
p90 = 1.5
"#;

#[test]
fn the_same_seed_gives_the_same_figures_on_one_and_two_threads() {
    let workforce = sample();
    let scenario = scenario(CROSS_SEGMENT, &workforce);
    let options = RunOptions {
        detail: Detail::GroupBy(vec!["staff_group".into()]),
        ..RunOptions::default()
    };
    let one = run_all(
        rules(),
        &workforce,
        std::slice::from_ref(&scenario),
        &options,
        Some(1),
    )
    .unwrap();
    let two = run_all(rules(), &workforce, &[scenario], &options, Some(2)).unwrap();
    let one = one[0].result.as_ref().unwrap();
    let two = two[0].result.as_ref().unwrap();
    assert_eq!(one.draws.count, 41);
    assert_eq!(one.rows, two.rows);
    let bits = |r: &wfplan::model::RunResults| -> Vec<u64> {
        r.figures.iter().map(|x| x.to_bits()).collect()
    };
    assert!(
        bits(one) == bits(two),
        "figures differ between 1 and 2 threads"
    );
    // The draws differ from one another.
    let per_draw = one.rows_per_draw();
    let fte_of_draw = |d: usize| one.row_figures(23, d * per_draw)[0];
    assert_ne!(fte_of_draw(1), fte_of_draw(2));
}

#[test]
fn every_draw_of_a_block_equals_the_draw_run_alone() {
    // A block runs many draws side by side; each must be the run of its values alone.
    let workforce = sample();
    let scenario = scenario(CROSS_SEGMENT, &workforce);
    let options = RunOptions::default();
    let all = run_scenario(rules(), &workforce, &scenario, &options).unwrap();
    let per_draw = all.rows_per_draw();
    assert_eq!(per_draw, workforce.len());
    for draw in [0u64, 7, 40] {
        let alone = scenario.clone();
        // A block of one draw: the first and last draws asked for are this one.
        let blocks = std::sync::Mutex::new(Vec::new());
        wfplan::engine::monte_carlo::run_draws(
            rules(),
            &workforce,
            &alone,
            alone.monte_carlo.unwrap(),
            &options,
            draw..draw + 1,
            &|b| blocks.lock().unwrap().push(b),
        )
        .unwrap();
        let block = blocks.into_inner().unwrap().remove(0);
        for month in 0..scenario.months {
            for row in 0..per_draw {
                assert_eq!(
                    block.row_figures(month, row),
                    all.row_figures(month, draw as usize * per_draw + row),
                    "draw {draw}, month {month}, segment {row}"
                );
            }
        }
    }
}

#[test]
fn intervals_of_no_width_give_the_deterministic_run_in_every_draw() {
    let workforce = sample();
    let flat = r#"
name = "flat"
start = "2025-04"
months = 12
[monte_carlo]
draws = 5
[[interventions]]
kind = "transfer"
where = { band = "5" }
to = { band = "6" }
rate = 0.1
[[uncertain]]
what = "leaver_rate"
per = "org"
p10 = 1.0
p90 = 1.0
[[uncertain]]
what = "interventions.1.rate"
p10 = 0.1
p90 = 0.1
"#;
    let drawn = run(flat, &workforce);
    let mut plain = scenario(flat, &workforce);
    plain.monte_carlo = None;
    let deterministic = run_scenario(rules(), &workforce, &plain, &RunOptions::default()).unwrap();
    let per_draw = drawn.rows_per_draw();
    for draw in 0..6 {
        for month in 0..12 {
            for row in 0..per_draw {
                assert_eq!(
                    drawn.row_figures(month, draw * per_draw + row),
                    deterministic.row_figures(month, row)
                );
            }
        }
    }
}

#[test]
fn draws_follow_the_stated_interval_and_per_values_draw_apart() {
    let workforce = sample();
    let text = r#"
name = "stats"
start = "2025-04"
months = 12
[monte_carlo]
draws = 2000
seed = 99
[[uncertain]]
what = "sickness_rate"
p10 = 0.8
p90 = 1.3
[[uncertain]]
what = "leaver_rate"
per = "org"
p10 = 0.9
p90 = 1.1
"#;
    let scenario = scenario(text, &workforce);
    let mc = scenario.monte_carlo.unwrap();
    let values = drawn_values(rules(), &workforce, &scenario, mc, 1..mc.draws + 1).unwrap();
    let sickness: Vec<f64> = values
        .iter()
        .filter(|v| v.entry == 0)
        .map(|v| v.value)
        .collect();
    assert_eq!(sickness.len(), 2000);
    let share =
        |test: &dyn Fn(f64) -> bool| sickness.iter().filter(|&&x| test(x)).count() as f64 / 2000.0;
    let below = share(&|x| x < 0.8);
    let above = share(&|x| x > 1.3);
    assert!((below - 0.1).abs() <= 0.03, "{below} of draws below p10");
    assert!((above - 0.1).abs() <= 0.03, "{above} of draws above p90");
    // One value per org in every draw, different from org to org.
    let orgs = workforce.key("org").unwrap().dictionary.len();
    let first: Vec<f64> = values
        .iter()
        .filter(|v| v.entry == 1 && v.draw == 1)
        .map(|v| v.value)
        .collect();
    assert_eq!(first.len(), orgs);
    assert!(first.windows(2).all(|w| w[0] != w[1]), "{first:?}");
    // Draw 0 is every entry at its mean.
    let central = drawn_values(rules(), &workforce, &scenario, mc, 0..1).unwrap();
    assert!(central
        .iter()
        .all(|v| v.value == if v.entry == 0 { 1.05 } else { 1.0 }));
}

fn wfplan(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wfplan"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Runs wfplan with the words of `command` and asserts it succeeded.
fn wfplan_ok(dir: &Path, command: &str) -> std::process::Output {
    let out = wfplan(dir, &command.split_whitespace().collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Four segments: two orgs, two bands.
fn small_data(dir: &Path) {
    let rows = [
        simple_row("north", "5", 100.0),
        simple_row("north", "6", 80.0),
        simple_row("south", "5", 60.0),
        simple_row("south", "6", 40.0),
    ];
    std::fs::write(
        dir.join("workforce.csv"),
        format!("{HEADER}\n{}\n", rows.join("\n")),
    )
    .unwrap();
}

/// A folder with the four segments and `mc.toml`, [`REPLAYED`] with `draws` draws.
fn small_project(draws: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    let scenario = REPLAYED.replace("draws = 4", &format!("draws = {draws}"));
    std::fs::write(dir.path().join("mc.toml"), scenario).unwrap();
    dir
}

const REPLAYED: &str = r#"
name = "replayed"
start = "2025-04"
months = 36
[monte_carlo]
draws = 4
seed = 5
[[interventions]]
kind = "apprenticeships"
where = { band = "5" }
start = "2023-09"
starts_per_year = 12
course_months = 24
[[uncertain]]
what = "leaver_rate"
per = "org"
p10 = 0.7
p90 = 1.4
[[uncertain]]
what = "sickness_rate"
where = { band = "6" }
p10 = 0.5
p90 = 1.5
[[uncertain]]
what = "interventions.1.completion"
p10 = 0.5
p90 = 0.95
"#;

#[test]
fn any_draw_replays_as_a_deterministic_run_through_the_binary() {
    let dir = small_project(4);
    wfplan_ok(dir.path(), "run mc.toml --data workforce.csv --db mc.duckdb --detail segment --out mc.csv --draws-out draws.csv -q");
    let draws = csv_rows(&dir.path().join("draws.csv"));
    assert_eq!(draws[0]["draw"], "0");
    let results = csv_rows(&dir.path().join("mc.csv"));
    assert_eq!(results.len(), 5 * 36 * 4);

    for draw in ["2", "4"] {
        // The draw's values, applied by hand: factors on the inputs (clamped to their
        // ranges), the field replaced.
        let value = |entry: &str, per: &str| -> f64 {
            draws
                .iter()
                .find(|d| d["draw"] == draw && d["entry"] == entry && d["per_value"] == per)
                .unwrap()["value"]
                .parse()
                .unwrap()
        };
        let mut toml = "name = \"replay\"\nstart = \"2025-04\"\nmonths = 36\n".to_string();
        for org in ["north", "south"] {
            for band in ["5", "6"] {
                let leaver = (0.12 * value("0", org)).clamp(0.0, 1.0 - 1e-9);
                let sickness = if band == "6" {
                    0.05 * value("1", "")
                } else {
                    0.05
                };
                toml += &format!(
                    "[[overrides]]\nwhere = {{ org = \"{org}\", band = \"{band}\" }}\nset = {{ leaver_rate = {leaver:?}, sickness_rate = {sickness:?} }}\n"
                );
            }
        }
        let completion = value("2", "").clamp(0.0, 1.0);
        toml += &format!(
            "[[interventions]]\nkind = \"apprenticeships\"\nwhere = {{ band = \"5\" }}\nstart = \"2023-09\"\nstarts_per_year = 12\ncourse_months = 24\ncompletion = {completion:?}\n"
        );
        std::fs::write(dir.path().join("replay.toml"), toml).unwrap();
        wfplan_ok(
            dir.path(),
            "run replay.toml --data workforce.csv --db replay.duckdb --out replay.csv -q",
        );
        let replay = csv_rows(&dir.path().join("replay.csv"));
        let of_draw: Vec<&HashMap<String, String>> =
            results.iter().filter(|r| r["draw"] == draw).collect();
        assert_eq!(of_draw.len(), replay.len());
        for (drawn, alone) in of_draw.iter().zip(&replay) {
            assert_eq!(
                (&drawn["month"], &drawn["org"], &drawn["band"]),
                (&alone["month"], &alone["org"], &alone["band"])
            );
            for metric in wfplan::model::METRICS {
                let (a, b): (f64, f64) = (
                    drawn[metric].parse().unwrap(),
                    alone[metric].parse().unwrap(),
                );
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "draw {draw}, {metric} in {} for {}/{}: {a} drawn, {b} replayed",
                    alone["month"],
                    alone["org"],
                    alone["band"]
                );
            }
        }
    }
}

#[test]
fn summaries_are_numpys_percentiles_of_each_draws_figures() {
    let dir = small_project(50);
    wfplan_ok(
        dir.path(),
        "run mc.toml --data workforce.csv --db mc.duckdb -q",
    );
    let results = |extra: &[&str]| {
        let mut args = vec![
            "results",
            "1",
            "--db",
            "mc.duckdb",
            "--metrics",
            "vacancies,vacancy_rate",
            "--format",
            "csv",
            "--out",
            "q.csv",
        ];
        args.extend(extra);
        let out = wfplan(dir.path(), &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        csv_rows(&dir.path().join("q.csv"))
    };
    let per_draw = results(&["--group-by", "draw"]);
    let bands = results(&[]);
    assert_eq!(bands.len(), 3, "three financial years");
    for band in &bands {
        for metric in ["vacancies", "vacancy_rate"] {
            let mut values: Vec<f64> = per_draw
                .iter()
                .filter(|r| r["period"] == band["period"] && r["draw"] != "0")
                .map(|r| r[metric].parse().unwrap())
                .collect();
            assert_eq!(values.len(), 50);
            values.sort_by(f64::total_cmp);
            let central: f64 = per_draw
                .iter()
                .find(|r| r["period"] == band["period"] && r["draw"] == "0")
                .unwrap()[metric]
                .parse()
                .unwrap();
            let mean = values.iter().sum::<f64>() / 50.0;
            for (stat, expected) in [
                ("central", central),
                ("mean", mean),
                ("p10", percentile(&values, 0.1)),
                ("p50", percentile(&values, 0.5)),
                ("p90", percentile(&values, 0.9)),
            ] {
                let got: f64 = band[&format!("{metric}_{stat}")].parse().unwrap();
                assert!(
                    (got - expected).abs() <= 1e-9 * expected.abs().max(1e-9),
                    "{metric}_{stat} in {}: {got}, expected {expected}",
                    band["period"]
                );
            }
        }
    }
}

#[test]
fn bad_entries_are_refused_with_their_field_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    let base = "name = \"bad\"\nstart = \"2025-04\"\nmonths = 12\n[[interventions]]\nkind = \"apprenticeships\"\nstarts_per_year = 5\n";
    let cases = [
        ("[monte_carlo]\ndraws = 0\n", "monte_carlo.draws"),
        ("[monte_carlo]\ndraws = 100001\n", "monte_carlo.draws"),
        (
            "[[uncertain]]\nwhat = \"leaver_rate\"\np10 = 1.2\np90 = 0.9\n",
            "uncertain[0].p10",
        ),
        (
            "[[uncertain]]\nwhat = \"no_such_column\"\np10 = 1\np90 = 1\n",
            "uncertain[0].what",
        ),
        (
            "[[uncertain]]\nwhat = \"interventions.2.completion\"\np10 = 1\np90 = 1\n",
            "uncertain[0].what",
        ),
        (
            "[[uncertain]]\nwhat = \"interventions.1.intake_month\"\np10 = 1\np90 = 1\n",
            "uncertain[0].what",
        ),
        (
            "[[uncertain]]\nwhat = \"leaver_rate\"\nper = \"region\"\np10 = 1\np90 = 1\n",
            "uncertain[0].per",
        ),
    ];
    for (extra, field) in cases {
        std::fs::write(dir.path().join("bad.toml"), format!("{base}{extra}")).unwrap();
        let out = wfplan(
            dir.path(),
            &[
                "run",
                "bad.toml",
                "--data",
                "workforce.csv",
                "--db",
                "bad.duckdb",
                "-q",
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra}: {stderr}");
        assert!(
            stderr.contains(&format!("bad.toml: {field}")),
            "{extra}: {stderr}"
        );
    }
    // --draws out of range is refused the same way.
    std::fs::write(dir.path().join("good.toml"), base).unwrap();
    let out = wfplan(
        dir.path(),
        &[
            "run",
            "good.toml",
            "--data",
            "workforce.csv",
            "--db",
            "bad.duckdb",
            "--draws",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("draws"));
    // Nothing was recorded.
    let store = wfplan::data::Store::open(&dir.path().join("bad.duckdb")).unwrap();
    let runs: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 0);
}

#[test]
fn a_draw_that_breaks_a_joint_limit_fails_the_run_naming_draw_entry_and_segment() {
    let workforce = sample();
    // Sickness up to fivefold: some draw takes a segment's headroom to 1.
    let text = r#"
name = "too_sick"
start = "2025-04"
months = 12
[monte_carlo]
draws = 200
[[uncertain]]
what = "sickness_rate"
p10 = 1.0
p90 = 9.0
"#;
    let error = wfplan::engine::run_scenario(
        rules(),
        &workforce,
        &scenario(text, &workforce),
        &RunOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("draw "), "{error}");
    assert!(error.contains("uncertain[0] (sickness_rate)"), "{error}");
    assert!(error.contains("segment "), "{error}");
}

#[test]
fn options_are_compared_under_the_same_draws() {
    let dir = small_project(30);
    // The same scenario under another name: under common random numbers every draw's
    // change is exactly zero.
    std::fs::write(
        dir.path().join("same.toml"),
        "name = \"same\"\nextends = \"mc\"\n",
    )
    .unwrap();
    // Fewer leavers in every draw: the option has more staff in post in every draw.
    std::fs::write(
        dir.path().join("retain.toml"),
        "name = \"retain\"\nextends = \"mc\"\n[[interventions]]\nkind = \"retention\"\nreduction = 0.2\n",
    )
    .unwrap();
    let scenarios = wfplan::scenario::load_paths(&[
        dir.path().join("mc.toml"),
        dir.path().join("same.toml"),
        dir.path().join("retain.toml"),
    ]);
    assert!(scenarios.1.is_empty(), "{:?}", scenarios.1);
    let workforce =
        wfplan::data::read_workforce_files(&[dir.path().join("workforce.csv")]).unwrap();
    let recorder = wfplan::data::Recorder::new(
        wfplan::data::Store::open_in_memory().unwrap(),
        std::time::Duration::ZERO,
    );
    let sides: Vec<wfplan::app::compare::Side> = scenarios
        .0
        .into_iter()
        .map(wfplan::app::compare::Side::Scenario)
        .collect();
    let mut sides = sides.into_iter();
    let baseline = sides.next().unwrap();
    let comparisons = wfplan::app::compare::compare(
        rules(),
        &recorder,
        std::sync::Arc::new(workforce),
        baseline,
        sides.collect(),
        std::time::Duration::from_secs(60),
        Default::default(),
    )
    .unwrap();
    let same = comparisons[0].uncertainty.as_ref().unwrap();
    assert_eq!(same.draws, 30);
    for change in &same.changes {
        let b = change.change;
        assert_eq!(
            [b.central, b.mean, b.p10, b.p90],
            [0.0; 4],
            "{} {}",
            change.period,
            change.metric
        );
    }
    let retain = comparisons[1].uncertainty.as_ref().unwrap();
    let fte = retain
        .changes
        .iter()
        .find(|c| c.period == "whole run" && c.metric == "fte")
        .unwrap();
    assert_eq!(fte.probability_better, Some(1.0));
    assert!(fte.change.p10 > 0.0 && fte.change.p10 <= fte.change.p50);
    assert!(fte.change.p50 <= fte.change.p90);
    // The central figures of the plain comparison are draw 0's.
    let central_fte = comparisons[1].whole_run.change[0];
    assert!((central_fte - fte.change.central).abs() < 1e-9);

    // Through the binary: the same comparison of stored runs.
    for name in ["mc.toml", "retain.toml"] {
        let out = wfplan(
            dir.path(),
            &[
                "run",
                name,
                "--data",
                "workforce.csv",
                "--db",
                "c.duckdb",
                "-q",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = wfplan(
        dir.path(),
        &[
            "compare",
            "--data",
            "workforce.csv",
            "--db",
            "c.duckdb",
            "1",
            "2",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("under the same 30 draws"), "{stdout}");
    assert!(stdout.contains("share of draws better"), "{stdout}");
}

#[test]
fn three_shards_merged_equal_one_run_figure_for_figure() {
    let dir = small_project(20);
    let run = |args: &[&str]| {
        let out = wfplan(dir.path(), args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for shard in ["0/3", "1/3", "2/3"] {
        run(&[
            "run",
            "mc.toml",
            "--data",
            "workforce.csv",
            "--db",
            "shard.duckdb",
            "--detail",
            "org,band",
            "--shard",
            shard,
            "--shard-dir",
            "shards",
            "-q",
        ]);
    }
    // A shard missing, or given twice, is refused.
    let out = wfplan(
        dir.path(),
        &[
            "merge",
            "shards/replayed.shard-0-of-3.json",
            "--db",
            "merged.duckdb",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
    let merged = run(&["merge", "shards", "--db", "merged.duckdb"]);
    assert!(
        merged.contains("merged 3 shard(s) of replayed as run 1"),
        "{merged}"
    );
    run(&[
        "run",
        "mc.toml",
        "--data",
        "workforce.csv",
        "--db",
        "one.duckdb",
        "--detail",
        "org,band",
        "-q",
    ]);
    let read = |db: &str, extra: &[&str]| {
        let mut args = vec![
            "results", "1", "--db", db, "--format", "csv", "--out", "r.csv",
        ];
        args.extend(extra);
        run(&args);
        std::fs::read_to_string(dir.path().join("r.csv")).unwrap()
    };
    // Every draw's figures, month by month: the same to the last bit.
    let by_draw = ["--group-by", "org,band,draw", "--period", "month"];
    assert_eq!(
        read("merged.duckdb", &by_draw),
        read("one.duckdb", &by_draw)
    );
    // The bands over the draws: the same figures (DuckDB may add the draws in another
    // order, so to 1e-12).
    compare_csv(&read("merged.duckdb", &[]), &read("one.duckdb", &[])).unwrap();
    // And the draws' values.
    let draws = |db: &str| {
        let store = wfplan::data::Store::open(&dir.path().join(db)).unwrap();
        let mut statement = store
            .connection()
            .prepare(
                "SELECT draw, entry, per_value, value FROM draws ORDER BY draw, entry, per_value",
            )
            .unwrap();
        let rows: Vec<String> = statement
            .query_map([], |r| {
                Ok(format!(
                    "{}|{}|{:?}|{}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, i32>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, f64>(3)?
                ))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows
    };
    assert_eq!(draws("merged.duckdb"), draws("one.duckdb"));
}

#[test]
fn a_stored_draw_is_traced_with_its_values_applied() {
    let dir = small_project(4);
    let run = "run mc.toml --data workforce.csv --db t.duckdb --detail segment --out mc.csv -q";
    let out = wfplan(dir.path(), &run.split(' ').collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = csv_rows(&dir.path().join("mc.csv"));
    let trace = |draw: &str| {
        let command = format!(
            "trace 1 --data workforce.csv --db t.duckdb --scenario-dir . \
             --segment org=south,band=5 --month 2026-09 --figure leavers --draw {draw} --format json"
        );
        wfplan(dir.path(), &command.split_whitespace().collect::<Vec<_>>())
    };
    for draw in ["0", "3"] {
        let out = trace(draw);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let trace: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let row = stored
            .iter()
            .find(|r| {
                (
                    r["draw"].as_str(),
                    r["month"].as_str(),
                    r["org"].as_str(),
                    r["band"].as_str(),
                ) == (draw, "2026-09", "south", "5")
            })
            .unwrap();
        for figure in ["leavers", "fte"] {
            let traced = trace["quantities"][figure]["value"].as_f64().unwrap();
            let expected: f64 = row[figure].parse().unwrap();
            assert!(
                (traced - expected).abs() <= 1e-9 * expected.abs(),
                "draw {draw} {figure}: {traced} traced, {expected} stored"
            );
        }
    }
    // Draws 0 to 4 only.
    let out = trace("5");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_draws_and_figures_agree_with_the_numpy_peer() {
    // The peer's outputs for its fixture, stored beside it (benches/peers/README.md).
    let fixtures = repo().join("benches/peers/fixtures/monte_carlo");
    let dir = tempfile::tempdir().unwrap();
    let scenario = fixtures.join("mc_small.toml");
    let data = repo().join("data/sample/workforce.csv");
    let out = wfplan(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--db",
            "p.duckdb",
            "--out",
            "results.csv",
            "--draws-out",
            "draws.csv",
            "-q",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same values drawn, to the last digit.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("draws.csv")).unwrap(),
        std::fs::read_to_string(fixtures.join("mc_small.draws.csv")).unwrap()
    );
    compare_csv(
        &std::fs::read_to_string(dir.path().join("results.csv")).unwrap(),
        &std::fs::read_to_string(fixtures.join("mc_small.results.csv")).unwrap(),
    )
    .unwrap();
}
