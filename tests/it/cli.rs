//! The `wfplan` binary as a planner uses it: the main job on the sample data, import and its
//! validation, scenario checking, comparison and exit codes.

use std::path::Path;
use std::process::{Command, Output};

use super::common::*;

fn wfplan(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wfplan"))
        .current_dir(repo())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run wfplan in {}: {e}", dir.display()))
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Runs wfplan, expects it to succeed, and returns its stdout and stderr.
fn succeeds(dir: &Path, args: &[&str]) -> (String, String) {
    let output = wfplan(dir, args);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    (stdout, stderr)
}

fn db(dir: &Path) -> String {
    dir.join("test.duckdb").display().to_string()
}

#[test]
fn the_main_job_runs_every_scenario_and_stores_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.csv");
    let (stdout, stderr) = succeeds(
        dir.path(),
        &[
            "run",
            "--db",
            &db(dir.path()),
            "--out",
            out.to_str().unwrap(),
            "scenarios",
        ],
    );
    assert!(stderr.contains("bundled sample"), "{stderr}");
    assert!(
        stdout.contains("faculty-plan") && stdout.contains("2029/30"),
        "{stdout}"
    );
    assert!(
        stdout.contains("vacancy rate") && stdout.contains("intervention cost"),
        "{stdout}"
    );

    let connection = duckdb::Connection::open(db(dir.path())).unwrap();
    let (runs, succeeded): (i64, i64) = connection
        .query_row(
            "SELECT count(*), count(*) FILTER (status = 'succeeded') FROM runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let scenario_files = std::fs::read_dir(repo().join("scenarios")).unwrap().count() as i64;
    assert_eq!((runs, succeeded), (scenario_files, scenario_files));
    let rows: i64 = connection
        .query_row(
            "SELECT count(*) FROM results WHERE scenario = 'baseline'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 60 * 183);

    let csv = std::fs::read_to_string(&out).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("scenario,month,org,system,setting,staff_group,band,fte,required_fte,vacancies,leavers,recruits"), "{header}");
    assert!(
        header.ends_with("intervention_cost,trainees,apprentices,time_released_hours"),
        "{header}"
    );
    assert_eq!(csv.lines().count(), 1 + scenario_files as usize * 60 * 183);
}

#[test]
fn a_coarser_detail_and_parquet_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("by_group.parquet");
    succeeds(
        dir.path(),
        &[
            "run",
            "--db",
            &db(dir.path()),
            "--detail",
            "staff_group",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "scenarios/placements.toml",
        ],
    );
    let connection = duckdb::Connection::open_in_memory().unwrap();
    let (rows, groups): (i64, i64) = connection
        .query_row(
            &format!(
                "SELECT count(*), count(DISTINCT staff_group) FROM read_parquet('{}')",
                out.display()
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(groups, 16);
    assert_eq!(rows, 60 * 16);
}

#[test]
fn import_reports_every_bad_value_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!(
            "{HEADER}\n{}\n{}\n",
            simple_row("a", "5", 10.0),
            simple_row("a", "6", 5.0)
        ),
    )
    .unwrap();
    let (stdout, _) = succeeds(
        dir.path(),
        &["import", "--db", &db(dir.path()), good.to_str().unwrap()],
    );
    assert!(stdout.contains("imported 2 segments"));

    let bad = dir.path().join("bad.csv");
    let rows = [
        "a,ics,physiotherapy,1,-4,120,0.12,0.05,0.1,0.03,0.02,37.5,0.6,39000,0,0.5,0.3,1.2,2,0", // negative fte
        "a,ics,physiotherapy,2,4,ten,0.12,0.05,0.1,0.03,0.02,37.5,0.6,39000,0,0.5,0.3,1.2,2,0", // not a number
        "a,ics,physiotherapy,3,4,120,1.5,0.05,0.1,0.03,0.02,37.5,0.6,39000,0,0.5,0.3,1.2,2,0", // rate out of range
        "a,ics,physiotherapy,4,4,120,0.12,0.5,0.4,0.1,0.02,37.5,0.6,39000,0,0.5,0.3,1.2,2,0", // headroom 1.02
        "a,ics,physiotherapy,5,4,120,0.12,0.05,0.1,0.03,0.02,37.5,0.6,39000,0,0.7,0.4,1.2,2,0", // bank + agency 1.1
        "a,ics,physiotherapy,6,4,120,0.12,0.05,0.1,0.03,0.02,37.5,0.6,39000,0,0.5,0.3,1.2,2,0",
        "a,ics,physiotherapy,6,4,120,0.12,0.05,0.1,0.03,0.02,37.5,0.6,39000,0,0.5,0.3,1.2,2,0", // duplicate
    ];
    std::fs::write(&bad, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    let output = wfplan(
        dir.path(),
        &["import", "--db", &db(dir.path()), bad.to_str().unwrap()],
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for expected in [
        "row 2, column fte: -4 must be 0 or more",
        "row 3, column establishment: 'ten' is not a number",
        "row 4, column leaver_rate",
        "row 5, column sickness_rate: headroom",
        "row 6, column agency_share: bank_share + agency_share",
        "row 8: duplicate segment",
    ] {
        assert!(
            stderr.contains(expected),
            "missing '{expected}' in:\n{stderr}"
        );
    }
    // The earlier import is untouched.
    let connection = duckdb::Connection::open(db(dir.path())).unwrap();
    let count: i64 = connection
        .query_row("SELECT count(*) FROM workforce", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2);
}

#[test]
fn import_refuses_missing_columns_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv");
    std::fs::write(
        &missing,
        "org,system,staff_group,band,fte\na,ics,physiotherapy,5,10\n",
    )
    .unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let header_only = dir.path().join("header.csv");
    std::fs::write(&header_only, format!("{HEADER}\n")).unwrap();
    for (file, expected) in [
        (&missing, "column establishment: required column is missing"),
        (&empty, "the file is empty"),
        (&header_only, "no segment rows"),
    ] {
        let output = wfplan(
            dir.path(),
            &["import", "--db", &db(dir.path()), file.to_str().unwrap()],
        );
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(expected),
            "missing '{expected}' in:\n{stderr}"
        );
    }
}

#[test]
fn check_lists_every_scenario_problem_with_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    let write = |name: &str, text: &str| std::fs::write(scenarios.join(name), text).unwrap();
    write("base.toml", "start = \"2025-04\"\nmonths = 12\n");
    write(
        "kind.toml",
        "extends = \"base\"\n[[interventions]]\nkind = \"teleportation\"\n",
    );
    write("field.toml", "extends = \"base\"\n[[interventions]]\nkind = \"retention\"\nreduction = 0.1\nreduktion = 0.2\n");
    write("where.toml", "extends = \"base\"\n[[interventions]]\nkind = \"retention\"\nreduction = 0.1\nwhere = { region = \"north\" }\n");
    write("month.toml", "start = \"2025-4\"\nmonths = 12\n");
    write("order.toml", "extends = \"base\"\n[[interventions]]\nkind = \"retention\"\nreduction = 0.1\nstart = \"2025-09\"\nend = \"2025-06\"\n");
    write("parent.toml", "extends = \"nowhere\"\n");
    write("cycle_a.toml", "extends = \"cycle_b\"\n");
    write("cycle_b.toml", "extends = \"cycle_a\"\n");
    write("range.toml", "extends = \"base\"\nmonths = 601\n[[interventions]]\nkind = \"retention\"\nreduction = 1.5\n");
    let output = wfplan(
        dir.path(),
        &[
            "check",
            "--db",
            &db(dir.path()),
            scenarios.to_str().unwrap(),
        ],
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for expected in [
        "kind.toml: interventions[0].kind: unknown kind 'teleportation'",
        "field.toml: interventions[0].reduktion: unknown field for kind 'retention'",
        "where.toml: interventions[0].where.region: 'region' is not a key column",
        "month.toml: start: '2025-4' is not a month",
        "order.toml: interventions[0].end: the intervention ends (2025-06) before it starts (2025-09)",
        "parent.toml: extends: no scenario 'nowhere'",
        "extends forms a cycle",
        "range.toml: months: 601 is above the greatest allowed value",
        "range.toml: interventions[0].reduction: 1.5 is above the greatest allowed value, 1",
    ] {
        assert!(stderr.contains(expected), "missing '{expected}' in:\n{stderr}");
    }

    succeeds(dir.path(), &["check", "--db", &db(dir.path()), "scenarios"]);
}

#[test]
fn a_failing_rule_fails_only_its_scenario_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    super::sandbox::copy_rules(&rules, &[("endless", super::sandbox::ENDLESS)]);
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    std::fs::write(
        scenarios.join("fine.toml"),
        "start = \"2025-04\"\nmonths = 12\n",
    )
    .unwrap();
    std::fs::write(
        scenarios.join("spin.toml"),
        "start = \"2025-04\"\nmonths = 12\n[[interventions]]\nkind = \"endless\"\n",
    )
    .unwrap();
    let output = wfplan(
        dir.path(),
        &[
            "run",
            "--db",
            &db(dir.path()),
            "--rules",
            rules.to_str().unwrap(),
            "--time-budget",
            "1",
            scenarios.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("scenario spin failed") && stderr.contains("endless.rhai"),
        "{stderr}"
    );
    assert!(stdout.contains("fine:"), "{stdout}");
    let connection = duckdb::Connection::open(db(dir.path())).unwrap();
    let statuses: Vec<(String, String)> = connection
        .prepare("SELECT scenario, status FROM runs ORDER BY scenario")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("fine".into(), "succeeded".into()),
            ("spin".into(), "failed".into())
        ]
    );
    let spin_rows: i64 = connection
        .query_row(
            "SELECT count(*) FROM results WHERE scenario = 'spin'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(spin_rows, 0, "a failed run leaves no results");
}

#[test]
fn compare_reports_differences_and_break_even() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, _) = succeeds(
        dir.path(),
        &[
            "compare",
            "--db",
            &db(dir.path()),
            "baseline",
            "apprenticeships",
        ],
    );
    assert!(
        stdout.contains("apprenticeships against baseline"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2025/26") && stdout.contains("whole run"),
        "{stdout}"
    );
    assert!(
        stdout.contains("if agency fills them") && stdout.contains("if vacancies go unfilled"),
        "{stdout}"
    );
}

#[test]
fn sweeps_expand_and_bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = dir.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        "start = \"2025-04\"\nmonths = 24\n[[interventions]]\nkind = \"apprenticeships\"\nstarts_per_year = 5\n[sweep]\n\"interventions.0.starts_per_year\" = [5, 10, 20]\n",
    )
    .unwrap();
    let (stdout, _) = succeeds(
        dir.path(),
        &[
            "run",
            "--db",
            &db(dir.path()),
            "--detail",
            "total",
            sweep.to_str().unwrap(),
        ],
    );
    assert!(
        stdout.contains("sweep[interventions.0.starts_per_year=20]"),
        "{stdout}"
    );

    let output = wfplan(dir.path(), &["run", "--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_database_from_an_earlier_wfplan_is_converted_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The layout before result_rows and result_figures: one results table.
        let connection = duckdb::Connection::open(db(dir.path())).unwrap();
        let metrics: String = wfplan::model::METRICS
            .iter()
            .map(|m| format!(", {m} DOUBLE"))
            .collect();
        connection
            .execute_batch(&format!(
                "CREATE TABLE results (run_id BIGINT, scenario VARCHAR, month VARCHAR,
                     row INTEGER, org VARCHAR{metrics});
                 INSERT INTO results (run_id, scenario, month, row, org, fte)
                     VALUES (900, 'old', '2024-04', 0, 'a', 12.5), (900, 'old', '2024-05', 0, 'a', 13.5);"
            ))
            .unwrap();
    }
    let (_, stderr) = succeeds(
        dir.path(),
        &[
            "run",
            "--db",
            &db(dir.path()),
            "--quiet",
            "scenarios/baseline.toml",
        ],
    );
    assert!(
        stderr.contains("converting the results table written by an earlier wfplan"),
        "{stderr}"
    );
    let connection = duckdb::Connection::open(db(dir.path())).unwrap();
    let old: Vec<(String, String, f64)> = connection
        .prepare("SELECT month, org, fte FROM results WHERE run_id = 900 ORDER BY month")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        old,
        vec![
            ("2024-04".into(), "a".into(), 12.5),
            ("2024-05".into(), "a".into(), 13.5)
        ]
    );
    let new: i64 = connection
        .query_row(
            "SELECT count(*) FROM results WHERE scenario = 'baseline'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(new, 60 * 183);
}
