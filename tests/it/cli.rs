//! The `wfplan` binary as a planner uses it: the main job on the sample data, import and its
//! validation, scenario checking, comparison and exit codes. Each test runs the binary in a
//! temporary folder of its own ([`Test`]), as a user outside the repository would.

use std::path::Path;

use super::common::*;

fn db(dir: &Path) -> String {
    dir.join("test.duckdb").display().to_string()
}

/// The repository's scenarios folder, or one of its files.
fn scenarios(file: &str) -> String {
    repo().join("scenarios").join(file).display().to_string()
}

#[test]
fn the_main_job_runs_every_scenario_and_stores_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.csv");
    let ran = Test::in_dir(dir.path())
        .args(["run", "--db", &db(dir.path()), "--out"])
        .arg(&out)
        .arg(scenarios(""))
        .stderr_contains("bundled sample")
        .run();
    let stdout = ran.stdout;
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
        header.ends_with(
            "intervention_cost,trainees,apprentices,time_released_hours,transfers_in,transfers_out"
        ),
        "{header}"
    );
    assert_eq!(csv.lines().count(), 1 + scenario_files as usize * 60 * 183);
}

#[test]
fn a_coarser_detail_and_parquet_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("by_group.parquet");
    Test::in_dir(dir.path())
        .args(["run", "--db", &db(dir.path()), "--detail", "staff_group"])
        .args(["--quiet", "--out", out.to_str().unwrap()])
        .arg(scenarios("placements.toml"))
        .run();
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
    Test::in_dir(dir.path())
        .args(["import", "--db", &db(dir.path()), good.to_str().unwrap()])
        .stdout_contains("imported 2 segments")
        .run();

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
    let mut import = Test::in_dir(dir.path())
        .args(["import", "--db", &db(dir.path()), bad.to_str().unwrap()])
        .status(2);
    for expected in [
        "row 2, column fte: -4 must be 0 or more",
        "row 3, column establishment: 'ten' is not a number",
        "row 4, column leaver_rate",
        "row 5, column sickness_rate: headroom",
        "row 6, column agency_share: bank_share + agency_share",
        "row 8: duplicate segment",
    ] {
        import = import.stderr_contains(expected);
    }
    import.run();
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
        Test::in_dir(dir.path())
            .args(["import", "--db", &db(dir.path()), file.to_str().unwrap()])
            .status(2)
            .stderr_contains(expected)
            .run();
    }
}

#[test]
fn check_lists_every_scenario_problem_with_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let scenario_dir = dir.path().join("checked");
    std::fs::create_dir(&scenario_dir).unwrap();
    let write = |name: &str, text: &str| std::fs::write(scenario_dir.join(name), text).unwrap();
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
    let mut check = Test::in_dir(dir.path())
        .args([
            "check",
            "--db",
            &db(dir.path()),
            scenario_dir.to_str().unwrap(),
        ])
        .status(2);
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
        check = check.stderr_contains(expected);
    }
    check.run();

    Test::in_dir(dir.path())
        .args(["check", "--db", &db(dir.path()), &scenarios("")])
        .stdout_contains("ok: ")
        .run();
}

#[test]
fn a_rule_the_compiler_cannot_record_runs_interpreted_and_says_which() {
    const LOOKS_AT_ALL: &str = r#"fn kind() { #{ summary: "leaver rate from the share of all FTE", stage: "rates", fields: #{} } }
leaver = leaver * (1.0 + fte / sum(fte));
"#;
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    super::sandbox::copy_rules(&rules, &[("looks_at_all", LOOKS_AT_ALL)]);
    let scenario = dir.path().join("looks.toml");
    std::fs::write(
        &scenario,
        "start = \"2025-04\"\nmonths = 12\n[[interventions]]\nkind = \"looks_at_all\"\n",
    )
    .unwrap();
    Test::in_dir(dir.path())
        .args([
            "run",
            "--db",
            &db(dir.path()),
            "--rules",
            rules.to_str().unwrap(),
        ])
        .arg(scenario.to_str().unwrap())
        .status(0)
        .stderr_contains("scenario 'looks' ran on the rule interpreter")
        .stderr_contains("looks_at_all.rhai:2:")
        .stderr_contains("sum is not supported by the rule compiler")
        .stdout_contains("looks:")
        .run();
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
    Test::in_dir(dir.path())
        .args([
            "run",
            "--db",
            &db(dir.path()),
            "--rules",
            rules.to_str().unwrap(),
        ])
        .args(["--time-budget", "1", scenarios.to_str().unwrap()])
        .status(1)
        .stderr_contains("scenario spin failed")
        .stderr_contains("endless.rhai")
        .stdout_contains("fine:")
        .run();
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
    Test::new()
        .args(["compare", "baseline", "apprenticeships"])
        .stdout_contains("apprenticeships against baseline")
        .stdout_contains("2025/26")
        .stdout_contains("whole run")
        .stdout_contains("if agency fills them")
        .stdout_contains("if vacancies go unfilled (a vacancy valued at ")
        .stdout_contains("mean annual pay")
        .run();
    // The value of a vacancy is a stated parameter a planner may change.
    Test::new()
        .args([
            "compare",
            "baseline",
            "apprenticeships",
            "--vacancy-value",
            "80000",
        ])
        .stdout_contains("a vacancy valued at 80,000 GBP/FTE-year, as stated")
        .run();
    Test::new()
        .args([
            "compare",
            "baseline",
            "apprenticeships",
            "--vacancy-value=-5",
        ])
        .status(2)
        .stderr_contains("'-5' is not an amount of 0 GBP or more")
        .run();
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
    Test::in_dir(dir.path())
        .args(["run", "--db", &db(dir.path()), "--detail", "total"])
        .arg(&sweep)
        .stdout_contains("sweep[interventions.0.starts_per_year=20]")
        .run();

    Test::new().args(["run", "--no-such-flag"]).status(2).run();
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
    Test::in_dir(dir.path())
        .args(["run", "--db", &db(dir.path()), "--quiet"])
        .arg(scenarios("baseline.toml"))
        .stderr_contains("converting the results written by an earlier wfplan")
        .run();
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

/// A typo in `--detail` is bad usage, refused before any run is recorded, naming the valid
/// levels (it used to record every run and fail them all with exit 1).
#[test]
fn a_bad_level_of_detail_is_refused_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    Test::in_dir(dir.path())
        .args([
            "run",
            "--db",
            &db(dir.path()),
            "--detail",
            "stafff_group",
            "baseline",
        ])
        .status(2)
        .stderr_contains("'stafff_group' is not a level of detail")
        .stderr_contains("segment, total")
        .stderr_contains("staff_group")
        .run();
    let connection = duckdb::Connection::open(db(dir.path())).unwrap();
    let runs: i64 = connection
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 0, "nothing was recorded");
}

/// Outside the repository, with no ./rules or ./scenarios, every command uses the copies
/// built into wfplan and says so; scenario names work as `run` prints them, and stored
/// runs can be compared by id.
#[test]
fn from_any_folder_the_built_in_rules_and_scenarios_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let ran = Test::in_dir(dir.path())
        .args([
            "run",
            "--quiet",
            "--detail",
            "total",
            "faculty-plan",
            "baseline",
        ])
        .stderr_contains("using the rules built into wfplan")
        .stderr_contains("using the scenarios built into wfplan")
        .run();
    assert_eq!(
        ran.stderr
            .matches("using the rules built into wfplan")
            .count(),
        1,
        "said once: {}",
        ran.stderr
    );
    // The names printed by `run` (faculty-plan, from faculty_plan.toml) name scenarios.
    Test::in_dir(dir.path())
        .args(["compare", "baseline", "faculty-plan"])
        .stdout_contains("faculty-plan against baseline")
        .run();
    // Stored runs by id: run 1 is faculty-plan, run 2 baseline (a batch records in order).
    Test::in_dir(dir.path())
        .args(["compare", "2", "1"])
        .stdout_contains("faculty-plan against baseline")
        .run();
    Test::in_dir(dir.path())
        .args(["compare", "baseline", "no-such-plan"])
        .status(2)
        .stderr_contains("no-such-plan: no such file or folder, and no scenario of that name")
        .run();
    Test::in_dir(dir.path())
        .args(["rules"])
        .stdout_contains("apprenticeships")
        .run();
    Test::in_dir(dir.path())
        .args(["check"])
        .stdout_contains("ok: ")
        .run();
}

/// `wfplan init` writes editable copies of the rules and scenarios; a run from that
/// folder uses them (an edit shows), and a second init refuses to overwrite.
#[test]
fn init_writes_editable_rules_and_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    Test::in_dir(dir.path())
        .args(["init", "."])
        .stdout_contains("wrote")
        .run();
    for file in [
        "rules/rates.rhai",
        "rules/interventions/retention.rhai",
        "scenarios/baseline.toml",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} written");
    }
    std::fs::write(
        dir.path().join("scenarios/mine.toml"),
        "description = \"my own plan\"\nextends = \"baseline\"\n",
    )
    .unwrap();
    let ran = Test::in_dir(dir.path())
        .args(["run", "--detail", "total", "mine"])
        .stdout_contains("mine: my own plan")
        .run();
    assert!(!ran.stderr.contains("built into wfplan"), "{}", ran.stderr);
    Test::in_dir(dir.path())
        .args(["init", "."])
        .status(2)
        .stderr_contains("already exist")
        .run();
}

/// A command that would store more result rows than allowed is refused before anything
/// runs, with the estimate and the limit (a 1,000-run sweep of 600 months at segment
/// detail would have written about 13 GB).
#[test]
fn a_run_too_large_to_store_is_refused_with_its_estimate() {
    let dir = tempfile::tempdir().unwrap();
    // Two scenarios of 60 months on the 183-segment sample: 21,960 rows at segment detail.
    Test::in_dir(dir.path())
        .args(["run", "--db", &db(dir.path()), "--max-result-rows", "20000"])
        .args(["baseline", "retention"])
        .status(2)
        .stderr_contains("would store 21960 result rows")
        .stderr_contains("at most 20000")
        .run();
    // By staff group the same runs are small.
    Test::in_dir(dir.path())
        .args(["run", "--db", &db(dir.path()), "--max-result-rows", "20000"])
        .args([
            "--detail",
            "staff_group",
            "--quiet",
            "baseline",
            "retention",
        ])
        .run();
}

/// Writes a one-sheet .xlsx file: `cells` are `(cell name, text)`, numbers where the text
/// reads as one; `dimension` is the extent the sheet declares.
pub fn write_xlsx(path: &Path, dimension: &str, cells: &[(String, String)]) {
    use std::io::Write;
    let mut rows: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
    for (name, text) in cells {
        let row: u32 = name
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .unwrap();
        let cell = if text.parse::<f64>().is_ok() {
            format!(r#"<c r="{name}"><v>{text}</v></c>"#)
        } else {
            format!(r#"<c r="{name}" t="inlineStr"><is><t>{text}</t></is></c>"#)
        };
        rows.entry(row).or_default().push(cell);
    }
    let sheet_data: String = rows
        .iter()
        .map(|(r, cells)| format!(r#"<row r="{r}">{}</row>"#, cells.concat()))
        .collect();
    let files = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string()),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="workforce" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()),
        ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string()),
        ("xl/worksheets/sheet1.xml", format!(r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{sheet_data}</sheetData></worksheet>"#)),
    ];
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, text) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

/// The four-segment fixture's cells, `A1` onwards.
fn fixture_cells() -> Vec<(String, String)> {
    let csv = std::fs::read_to_string(repo().join("benches/peers/fixtures/workforce.csv")).unwrap();
    let mut cells = Vec::new();
    for (r, line) in csv.lines().enumerate() {
        for (c, text) in line.split(',').enumerate() {
            cells.push((
                format!("{}{}", (b'A' + c as u8) as char, r + 1),
                text.to_string(),
            ));
        }
    }
    cells
}

/// Spreadsheets are read cell by cell, so memory follows the cells present: a sheet whose
/// declared extent or whose cells lie beyond any workforce table is refused naming the
/// cell (a 1.7 KB file with one cell at XFD1048576 once aborted the import asking for
/// 512 GiB), and a normal sheet still imports.
#[test]
fn spreadsheets_are_read_by_the_cells_present() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.xlsx");
    let cells = fixture_cells();
    write_xlsx(&good, "A1:U5", &cells);
    Test::in_dir(dir.path())
        .args(["import", "--db", &db(dir.path())])
        .arg(&good)
        .stdout_contains("imported 4 segments")
        .run();

    let declared = dir.path().join("declared.xlsx");
    let mut bomb = cells.clone();
    bomb.push(("XFD1048576".into(), "1".into()));
    write_xlsx(&declared, "A1:XFD1048576", &bomb);
    Test::in_dir(dir.path())
        .args(["import", "--db", &db(dir.path())])
        .arg(&declared)
        .status(2)
        .stderr_contains("XFD1048576 lies beyond any workforce table")
        .run();

    let far = dir.path().join("far.xlsx");
    let mut far_cells = cells;
    far_cells.push(("ZZ60000".into(), "1".into()));
    write_xlsx(&far, "A1:U5", &far_cells);
    Test::in_dir(dir.path())
        .args(["import", "--db", &db(dir.path())])
        .arg(&far)
        .status(2)
        .stderr_contains("cell ZZ60000 lies beyond any workforce table")
        .run();
}

/// The refusals of seasonality, pipelines, transfers and `where` values, through the real
/// binary: bad usage (exit 2) naming the file and the field, before anything runs.
#[test]
fn seasonality_pipeline_transfer_and_where_refusals_name_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let scenario_dir = dir.path().join("checked");
    std::fs::create_dir(&scenario_dir).unwrap();
    let write = |name: &str, text: &str| std::fs::write(scenario_dir.join(name), text).unwrap();
    let base = "start = \"2025-04\"\nmonths = 12\n";
    write("base.toml", base);
    write(
        "eleven.toml",
        &format!("{base}[seasonality]\nannual_leave = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"),
    );
    write(
        "negative.toml",
        &format!("{base}[seasonality]\nsickness = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1]\n"),
    );
    // The sample's largest headroom is about a quarter: a factor of 9 on annual leave
    // takes some segment past 1.
    write(
        "peak.toml",
        &format!("{base}[seasonality]\nannual_leave = [1, 1, 1, 1, 1, 1, 1, 9, 1, 1, 1, 1]\n"),
    );
    write(
        "ramp.toml",
        &format!("{base}[[interventions]]\nkind = \"placements\"\nplaces_per_year = 10\nramp_months = 1\n"),
    );
    write(
        "outflow.toml",
        &format!("{base}[[interventions]]\nkind = \"transfer\"\nwhere = {{ band = \"5\" }}\nto = {{ band = \"6\" }}\nrate = 0.9\n"),
    );
    write(
        "value.toml",
        &format!("{base}[[interventions]]\nkind = \"retention\"\nwhere = {{ staff_group = \"Physiotherapy\" }}\nreduction = 0.1\n"),
    );
    write(
        "same.toml",
        &format!("{base}[[interventions]]\nkind = \"transfer\"\nto = {{ band = \"6\" }}\nrate = 0.1\nsame = [\"org\", \"region\"]\n"),
    );
    let mut check = Test::in_dir(dir.path())
        .args([
            "check",
            "--db",
            &db(dir.path()),
            scenario_dir.to_str().unwrap(),
        ])
        .status(2);
    for expected in [
        "eleven.toml: seasonality.annual_leave: give 12 factors, January to December, not 11",
        "negative.toml: seasonality.sickness[11]: -1 is below the least allowed value, 0",
        "peak.toml: seasonality: in the month of the largest factors (9 on annual leave, 1 on sickness) segment ",
        "which must stay below 1",
        "ramp.toml: interventions[0].ramp_months: kind 'placements' is a pipeline",
        "outflow.toml: interventions[0].rate: segment ",
        "its leaver_rate plus the rates of the transfers out of it come to",
        "value.toml: interventions[0].where.staff_group: no segment has staff_group = 'Physiotherapy' (did you mean 'physiotherapy'?)",
        "same.toml: interventions[0].same[1]: 'region' is not a key column",
    ] {
        check = check.stderr_contains(expected);
    }
    check.run();
}

/// `wfplan results` reads a stored run back as the API does: cut by key columns and
/// period, rates from sums, as a table, CSV, JSON or Parquet; a bad cut is bad usage.
#[test]
fn results_of_a_stored_run_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    Test::in_dir(dir.path())
        .args(["run", "--db", &db, "--quiet", "retention"])
        .run();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfplan"))
        .current_dir(dir.path())
        .args(["results", "--db", &db, "1", "--format", "csv"])
        .args([
            "--group-by",
            "staff_group",
            "--metrics",
            "leavers,fte,leaver_rate",
        ])
        .args(["--where", "setting=acute"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("scenario,period,staff_group,leavers,fte,leaver_rate")
    );
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let number = |i: usize| cells[i].parse::<f64>().unwrap();
        // A whole year's leaver rate is its leavers over its mean staff in post.
        assert!((number(5) - number(3) / number(4)).abs() < 1e-9, "{line}");
        rows += 1;
    }
    assert!(rows >= 5, "{text}");

    Test::in_dir(dir.path())
        .args([
            "results",
            "--db",
            &db,
            "1",
            "--metrics",
            "turnover,agency_share",
        ])
        .stdout_contains("turnover")
        .run();
    Test::in_dir(dir.path())
        .args(["results", "--db", &db, "1", "--group-by", "region"])
        .status(2)
        .stderr_contains("--group-by: cannot group by 'region'")
        .run();
    Test::in_dir(dir.path())
        .args(["results", "--db", &db, "99"])
        .status(2)
        .stderr_contains("no run 99")
        .run();
    let parquet = dir.path().join("r.parquet");
    Test::in_dir(dir.path())
        .args(["results", "--db", &db, "1", "--format", "parquet", "--out"])
        .arg(parquet.to_str().unwrap())
        .run();
    let rows: i64 = duckdb::Connection::open_in_memory()
        .unwrap()
        .query_row(
            &format!("SELECT count(*) FROM read_parquet('{}')", parquet.display()),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 5);
}

/// A stored run is traced by running its scenario again, which is refused once the
/// scenario has changed: the trace would explain figures the run never had.
#[test]
fn a_stored_run_is_traced_until_its_scenario_changes() {
    let dir = tempfile::tempdir().unwrap();
    Test::in_dir(dir.path()).args(["init", "."]).run();
    Test::in_dir(dir.path())
        .args(["run", "--quiet", "wellbeing"])
        .run();
    let trace = |status: i32| {
        Test::in_dir(dir.path())
            .args([
                "trace",
                "1",
                "--month",
                "2026-01",
                "--figure",
                "sickness_fte",
            ])
            .args([
                "--segment",
                "org=riverside_council,staff_group=personal_care,band=care_worker",
            ])
            .status(status)
    };
    trace(0)
        .stdout_contains("sickness_fte")
        .stdout_contains("rules/flows.rhai:")
        .run();
    let file = dir.path().join("scenarios/wellbeing.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("sickness_reduction = 0.002", "sickness_reduction = 0.003"),
    )
    .unwrap();
    trace(2)
        .stderr_contains("scenario 'wellbeing' has changed since run 1 ran it")
        .run();
}
