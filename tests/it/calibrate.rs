//! `wfplan calibrate` through the binary: a hand-worked dozen staff
//! (`tests/fixtures/extracts/small`), every bad-row rule, and that nothing person-level
//! reaches the database or the outputs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::common::*;

fn small(file: &str) -> PathBuf {
    repo().join("tests/fixtures/extracts/small").join(file)
}

fn calibrate_args(dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["calibrate".into(), "--as-of".into(), "2025-04-01".into()];
    for (flag, file) in [
        ("--staff", "staff.csv"),
        ("--absence", "absence.csv"),
        ("--establishment", "establishment.csv"),
        ("--roster", "roster.csv"),
        ("--orgs", "orgs.csv"),
    ] {
        args.push(flag.into());
        args.push(small(file).display().to_string());
    }
    for (flag, file) in [
        ("--db", "wfplan.duckdb"),
        ("--out", "workforce.csv"),
        ("--report", "report.json"),
        ("--seasonality", "seasonality.toml"),
    ] {
        args.push(flag.into());
        args.push(dir.join(file).display().to_string());
    }
    args
}

/// The calibrated rows by `org/staff_group/band`.
fn segments(path: &Path) -> HashMap<String, HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let row: HashMap<String, String> = header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect();
            (
                format!("{}/{}/{}", row["org"], row["staff_group"], row["band"]),
                row,
            )
        })
        .collect()
}

fn close(row: &HashMap<String, String>, column: &str, expected: f64) {
    let got: f64 = row[column].parse().unwrap();
    assert!(
        (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{column}: {got}, expected {expected}"
    );
}

/// The figures of the dozen staff, worked by hand. As of 2025-04-01 with 12 months: the
/// window is 2024-04-01 to 2025-03-31 (365 days) and its month-ends are 2024-04-30 to
/// 2025-03-31.
#[test]
fn a_dozen_staff_calibrate_as_worked_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    Test::in_dir(dir.path())
        .args(calibrate_args(dir.path()))
        .stdout_contains("wrote 4 segments")
        .run();
    let rows = segments(&dir.path().join("workforce.csv"));
    let r1_5 = &rows["R1/physiotherapy/5"];
    // In post on 2025-04-01: E01 (1.0) and E07 (0.6, whose last day is the as-of date).
    // E10 starts the day after; E05's R1 row ended on 31 January.
    close(r1_5, "fte", 1.6);
    close(r1_5, "establishment", 4.0);
    assert_eq!(r1_5["system"], "north_ics");
    assert_eq!(r1_5["setting"], "acute");
    // Leavers: E02 (0.5, 30 September), E05 (1.0, moved to R2 on 1 February: leaving R1)
    // and E08 (1.0, joined and left in April). E03's band 5 row ends on 31 December but
    // E03 is in post in R1 at band 6 the next day: not a leaver.
    // Month-end stocks: April 5.1 (E01 1, E02 .5, E03 1, E05 1, E07 .6, E08 1); May to
    // September 4.1 each (20.5); October to December 3.6 each (10.8); January 2.6;
    // February and March 1.6 each (3.2): 42.2 over 12 month-ends.
    let mean: f64 = 42.2 / 12.0;
    let r = 2.5 / mean;
    close(r1_5, "leaver_rate", 1.0 - (1.0 - r / 12.0).powi(12));
    // Contracted hours in the window: 37.5 a week per FTE for each row's days in it.
    let days_fte = 365.0 * 1.0 // E01
        + 183.0 * 0.5 // E02, 1 April to 30 September
        + 275.0 * 1.0 // E03 band 5, to 31 December
        + 306.0 * 1.0 // E05, to 31 January
        + 365.0 * 0.6 // E07
        + 30.0 * 1.0; // E08, April
    let hours = days_fte * 37.5 / 7.0;
    // E01's sickness (37.5 hours) and the 8 of 12 days of its annual leave in the window.
    close(r1_5, "sickness_rate", 37.5 / hours);
    close(r1_5, "annual_leave_rate", 60.0 * 8.0 / 12.0 / hours);
    close(r1_5, "study_leave_rate", 0.0);
    // The roster's uncovered hours: 7.5 bank, 7.5 agency, 7.5 unfilled (the shift on the
    // as-of date is outside the window). Worked hours cost 20 an hour; bank 22, agency 40.
    close(r1_5, "bank_share", 1.0 / 3.0);
    close(r1_5, "agency_share", 1.0 / 3.0);
    close(r1_5, "bank_premium", 1.1);
    close(r1_5, "agency_premium", 2.0);
    // Band 5's pay points (29,970 and 36,483) averaged, plus 25% on-costs.
    close(r1_5, "annual_pay", (29_970.0 + 36_483.0) / 2.0 * 1.25);
    assert_eq!(r1_5["headroom_allowance"], "");

    let r1_6 = &rows["R1/physiotherapy/6"];
    close(r1_6, "fte", 1.8); // E03 1.0, E04 0.8
    close(r1_6, "leaver_rate", 0.0);
    // E04's 6 hours of study leave over E03's 90 days and E04's 182 days at 0.8.
    close(
        r1_6,
        "study_leave_rate",
        6.0 / ((90.0 + 182.0 * 0.8) * 37.5 / 7.0),
    );

    let r2_5 = &rows["R2/physiotherapy/5"];
    close(r2_5, "fte", 2.0); // E05 from February, E06; E09 left before the window
    close(r2_5, "hours_per_week", (37.5 + 30.0) / 2.0); // E06 contracted for 30 hours
                                                        // E05's sickness in February belongs to its R2 row, in post on its first day.
    close(
        r2_5,
        "sickness_rate",
        15.0 / ((59.0 * 37.5 + 365.0 * 30.0) / 7.0),
    );

    // An establishment without staff is a vacant segment.
    close(&rows["R2/physiotherapy/6"], "fte", 0.0);
    close(&rows["R2/physiotherapy/6"], "establishment", 1.0);

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let first = &report["report"][0];
    assert_eq!(first["leavers"], 3);
    assert!(
        first["warnings"][0]
            .as_str()
            .unwrap()
            .contains("small numbers"),
        "{first}"
    );
    let seasonality = std::fs::read_to_string(dir.path().join("seasonality.toml")).unwrap();
    assert!(seasonality.starts_with("[seasonality]"), "{seasonality}");

    // The calibrated table runs as it is, with the seasonality it gave.
    std::fs::write(
        dir.path().join("calibrated.toml"),
        format!("name = \"calibrated\"\nstart = \"2025-04\"\nmonths = 24\n\n{seasonality}"),
    )
    .unwrap();
    Test::in_dir(dir.path())
        .args([
            "run",
            "--data",
            "workforce.csv",
            "--db",
            "run.duckdb",
            "calibrated.toml",
        ])
        .run();
}

/// `wfplan calibrate` of these staff and absence files (with the small establishment),
/// expected to refuse them.
fn refused(dir: &Path, staff: &Path, absence: &Path, out: &Path) -> Test {
    Test::in_dir(dir)
        .args(["calibrate", "--as-of", "2025-04-01", "--staff"])
        .arg(staff)
        .arg("--absence")
        .arg(absence)
        .arg("--establishment")
        .arg(small("establishment.csv"))
        .args(["--db", "wfplan.duckdb", "--out"])
        .arg(out)
        .status(2)
}

/// Every bad-row rule, all reported at once with file, row (from the first data row) and
/// column; nothing is written.
#[test]
fn bad_rows_are_all_reported_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let staff = dir.path().join("staff.csv");
    std::fs::write(
        &staff,
        "EMPLOYEE_NUMBER,EMPLOYING_ORG_CODE,STAFF_GROUP,AFC_BAND,DATE_OF_BIRTH,CONTRACTED_FTE,START_DATE_ORG,END_DATE_ORG\n\
         E01,R1,physiotherapy,5,1990-06-15,1.0,2020-01-01,\n\
         E02,R1,physiotherapy,5,15/06/1990,1.0,2020-01-01,\n\
         E03,R1,physiotherapy,5,1990-06-15,-0.5,2020-01-01,\n\
         E04,R1,physiotherapy,5,1990-06-15,1.0,2024-01-01,2023-12-31\n\
         ,R1,physiotherapy,5,1990-06-15,1.0,2020-01-01,\n",
    )
    .unwrap();
    let absence = dir.path().join("absence.csv");
    std::fs::write(
        &absence,
        "EMPLOYEE_NUMBER,ABSENCE_TYPE,ABSENCE_START_DATE,ABSENCE_END_DATE,HOURS_LOST\n\
         E01,holiday,2024-06-03,2024-06-07,37.5\n\
         E99,sickness,2024-06-03,2024-06-07,37.5\n",
    )
    .unwrap();
    let out = dir.path().join("workforce.csv");
    let ran = refused(dir.path(), &staff, &absence, &out)
        .stderr_contains("row 2, column DATE_OF_BIRTH")
        .stderr_contains("'15/06/1990' is not a date")
        .stderr_contains("row 3, column CONTRACTED_FTE")
        .stderr_contains("row 4, column END_DATE_ORG")
        .stderr_contains("ends before it starts")
        .stderr_contains("row 5, column EMPLOYEE_NUMBER")
        .stderr_contains("row 1, column ABSENCE_TYPE")
        .stderr_contains("'holiday' is not one of")
        .run();
    assert!(!out.exists(), "nothing written");
    assert!(ran.stderr.contains("staff.csv"), "{}", ran.stderr);
    assert!(ran.stderr.contains("absence.csv"), "{}", ran.stderr);

    // With the staff fixed, an absence for an employee not in the staff file is a bad row.
    let fixed = "EMPLOYEE_NUMBER,EMPLOYING_ORG_CODE,STAFF_GROUP,AFC_BAND,DATE_OF_BIRTH,CONTRACTED_FTE,START_DATE_ORG,END_DATE_ORG\n\
                 E01,R1,physiotherapy,5,1990-06-15,1.0,2020-01-01,\n";
    std::fs::write(&staff, fixed).unwrap();
    std::fs::write(
        &absence,
        "EMPLOYEE_NUMBER,ABSENCE_TYPE,ABSENCE_START_DATE,ABSENCE_END_DATE,HOURS_LOST\n\
         E01,sickness,2019-06-03,2019-06-07,37.5\n\
         E99,sickness,2024-06-03,2024-06-07,37.5\n",
    )
    .unwrap();
    refused(dir.path(), &staff, &absence, &out)
        .stderr_contains("row 1, column EMPLOYEE_NUMBER: the employee has no assignment in post")
        .stderr_contains("row 2, column EMPLOYEE_NUMBER: no such employee in the staff extract")
        .run();
    assert!(!out.exists(), "nothing written");

    // A missing column is named, with what the extract needs.
    std::fs::write(&staff, "EMPLOYEE_NUMBER,ORG\nE01,R1\n").unwrap();
    refused(dir.path(), &staff, &absence, &out)
        .stderr_contains("no column EMPLOYING_ORG_CODE")
        .run();
}

/// A column map lets a trust's own names stand for the data set's.
#[test]
fn a_column_map_reads_other_names() {
    let dir = tempfile::tempdir().unwrap();
    let staff = std::fs::read_to_string(small("staff.csv"))
        .unwrap()
        .replacen("EMPLOYEE_NUMBER", "Assignment Number", 1)
        .replacen("AFC_BAND", "pay band", 1);
    std::fs::write(dir.path().join("staff.csv"), staff).unwrap();
    std::fs::write(
        dir.path().join("map.toml"),
        "[staff]\nEMPLOYEE_NUMBER = \"Assignment Number\"\nafc_band = \"PAY BAND\"\n",
    )
    .unwrap();
    let mut args = calibrate_args(dir.path());
    let at = args.iter().position(|a| a == "--staff").unwrap();
    args[at + 1] = dir.path().join("staff.csv").display().to_string();
    args.extend([
        "--map".into(),
        dir.path().join("map.toml").display().to_string(),
    ]);
    Test::in_dir(dir.path())
        .args(args)
        .stdout_contains("wrote 4 segments")
        .run();
    close(
        &segments(&dir.path().join("workforce.csv"))["R1/physiotherapy/5"],
        "fte",
        1.6,
    );
}

/// Employee numbers and dates of birth are nowhere in the database (every column of
/// every table, searched with SQL: DuckDB compresses text, so the file's bytes alone
/// would miss them) nor in any output.
#[test]
fn nothing_person_level_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    Test::in_dir(dir.path())
        .args(calibrate_args(dir.path()))
        .run();
    let secrets: Vec<String> = std::fs::read_to_string(small("staff.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .flat_map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            [cells[0].to_string(), cells[4].to_string()]
        })
        .collect();
    for file in ["workforce.csv", "report.json", "seasonality.toml"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{secret} in {file}");
        }
    }
    let db = duckdb::Connection::open(dir.path().join("wfplan.duckdb")).unwrap();
    let mut columns = db
        .prepare("SELECT table_name, column_name FROM information_schema.columns")
        .unwrap();
    let columns: Vec<(String, String)> = columns
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!columns.is_empty());
    for (table, column) in columns {
        for secret in &secrets {
            let found: i64 = db
                .query_row(
                    &format!(
                        "SELECT count(*) FROM \"{table}\" WHERE CAST(\"{column}\" AS VARCHAR) LIKE '%' || ? || '%'"
                    ),
                    [secret],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(found, 0, "{secret} in {table}.{column}");
        }
    }
}

/// Writes synthetic extracts of 20,000 staff into `dir/ex` and returns the arguments that
/// name them.
fn generated(dir: &Path, years: &str, seed: &str) -> Vec<String> {
    Test::in_dir(dir)
        .args(["generate", "--extracts", "ex", "--staff", "20000"])
        .args(["--years", years, "--seed", seed])
        .run();
    ["staff", "absence", "establishment", "roster", "orgs"]
        .iter()
        .flat_map(|kind| {
            [
                format!("--{kind}"),
                dir.join("ex")
                    .join(format!("{kind}.csv"))
                    .display()
                    .to_string(),
            ]
        })
        .collect()
}

/// Generated extracts with known rates: calibration recovers them. FTE in post is exact;
/// the rates are estimates from about 3,300 staff a staff group over a year, so they are
/// held to about three standard errors (a leaver rate of 0.10 from ~330 leavers: 0.006).
#[test]
fn generated_extracts_give_back_their_rates() {
    use wfplan::data::generate_extracts as truth;
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path().join("ex");
    let mut args: Vec<String> = vec!["calibrate".into(), "--as-of".into(), "2025-04-01".into()];
    args.extend(generated(dir.path(), "2", "7"));
    args.extend(
        [
            "--db",
            "wfplan.duckdb",
            "--out",
            "workforce.csv",
            "--report",
            "report.json",
        ]
        .map(String::from),
    );
    Test::in_dir(dir.path()).args(args).run();
    let rows = segments(&dir.path().join("workforce.csv"));

    // FTE in post on the as-of date, summed here from the staff file.
    let mut in_post: HashMap<String, f64> = HashMap::new();
    let mut reader = csv::Reader::from_path(ex.join("staff.csv")).unwrap();
    for record in reader.records() {
        let r = record.unwrap();
        let (start, end) = (&r[6], &r[7]);
        if start <= "2025-04-01" && (end.is_empty() || end >= "2025-04-01") {
            *in_post
                .entry(format!("{}/{}/{}", &r[1], &r[2], &r[3]))
                .or_default() += r[5].parse::<f64>().unwrap();
        }
    }
    for (key, fte) in &in_post {
        close(&rows[key], "fte", *fte);
    }

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    for (group, rate) in truth::GROUPS {
        let (mut leavers, mut mean) = (0.0, 0.0);
        for s in report["report"].as_array().unwrap() {
            if s["staff_group"] == group {
                leavers += s["leaver_fte"].as_f64().unwrap();
                mean += s["mean_fte"].as_f64().unwrap();
            }
        }
        let r = leavers / mean;
        let estimate = 1.0 - (1.0 - r / 12.0_f64).powi(12);
        assert!(
            (estimate - rate).abs() < 0.02,
            "{group}: leaver rate {estimate}, true {rate}"
        );
    }
    // Absence rates, FTE-weighted over the segments.
    let total_fte: f64 = rows
        .values()
        .map(|r| r["fte"].parse::<f64>().unwrap())
        .sum();
    let weighted = |column: &str| -> f64 {
        rows.values()
            .map(|r| r[column].parse::<f64>().unwrap() * r["fte"].parse::<f64>().unwrap())
            .sum::<f64>()
            / total_fte
    };
    for (i, column) in [
        "sickness_rate",
        "annual_leave_rate",
        "study_leave_rate",
        "other_leave_rate",
    ]
    .iter()
    .enumerate()
    {
        let (got, rate) = (weighted(column), truth::ABSENCE_RATES[i]);
        let tolerance = if rate >= 0.05 { 0.05 } else { 0.15 };
        assert!(
            (got / rate - 1.0).abs() < tolerance,
            "{column}: {got}, true {rate}"
        );
    }
    // The roster's shares and premiums are exact but for the rounding of its hours and
    // costs in the file.
    for row in rows.values().filter(|r| r["fte"] != "0") {
        for (column, expected) in [
            ("bank_share", truth::BANK_SHARE),
            ("agency_share", truth::AGENCY_SHARE),
            ("bank_premium", truth::BANK_PREMIUM),
            ("agency_premium", truth::AGENCY_PREMIUM),
        ] {
            let got: f64 = row[column].parse().unwrap();
            assert!(
                (got - expected).abs() < 5e-3,
                "{column}: {got}, true {expected}"
            );
        }
    }
    // The seasonal pattern of sickness and annual leave.
    let seasonality = &report["seasonality"];
    for (name, expected) in [
        ("sickness", truth::SICKNESS_SEASON),
        ("annual_leave", truth::LEAVE_SEASON),
    ] {
        for (month, want) in expected.iter().enumerate() {
            let got = seasonality[name][month].as_f64().unwrap();
            assert!(
                (got - want).abs() < 0.1,
                "{name} month {}: {got}, true {want}",
                month + 1
            );
        }
    }
}

/// A back-test on generated extracts whose true process is the model's (no demand growth,
/// recruitment of 1 - exp(-1/3) of vacancies a month): staff in post is forecast within
/// a percent or two, and leavers and joiners without bias over all staff groups (each
/// group's own rate is an estimate from two years of its leavers).
#[test]
fn a_backtest_of_the_models_own_process_is_close_and_unbiased() {
    let dir = tempfile::tempdir().unwrap();
    let extracts = generated(dir.path(), "4", "3");
    std::fs::write(dir.path().join("defaults.toml"), "demand_growth = 0.0\n").unwrap();
    let mut args: Vec<String> = ["backtest", "--from", "2023-04-01", "--to", "2025-04-01"]
        .map(String::from)
        .to_vec();
    args.extend(extracts);
    args.extend(
        [
            "--window-months",
            "24",
            "--defaults",
            "defaults.toml",
            "--db",
            "wfplan.duckdb",
            "--out",
            "backtest.csv",
            "--json",
            "backtest.json",
        ]
        .map(String::from),
    );
    Test::in_dir(dir.path())
        .args(args)
        .stdout_contains("MAPE")
        .run();
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("backtest.json")).unwrap())
            .unwrap();
    assert_eq!(result["months"], 24);
    let errors = result["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 6 * 3, "six staff groups, three figures");
    for e in errors.iter().filter(|e| e["figure"] == "fte") {
        assert!(e["mape"].as_f64().unwrap() < 0.02, "{e}");
        assert!(e["bias"].as_f64().unwrap().abs() < 0.02, "{e}");
    }
    let points = result["points"].as_array().unwrap();
    for figure in ["leavers", "joiners"] {
        let (predicted, actual) =
            points
                .iter()
                .filter(|p| p["figure"] == figure)
                .fold((0.0, 0.0), |(p, a), x| {
                    (
                        p + x["predicted"].as_f64().unwrap(),
                        a + x["actual"].as_f64().unwrap(),
                    )
                });
        assert!(actual > 1000.0, "{figure}: {actual}");
        assert!(
            (predicted / actual - 1.0).abs() < 0.05,
            "{figure}: predicted {predicted}, actual {actual}"
        );
    }
    let csv = std::fs::read_to_string(dir.path().join("backtest.csv")).unwrap();
    assert!(
        csv.starts_with("staff_group,month,figure,predicted,actual"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + 6 * 24 * 3);
}

/// The staff extract as an Excel workbook and the absence extract as Parquet give the
/// same table as the CSV files.
#[test]
fn workbooks_and_parquet_read_as_csv_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut cells = Vec::new();
    for (r, line) in std::fs::read_to_string(small("staff.csv"))
        .unwrap()
        .lines()
        .enumerate()
    {
        for (c, text) in line.split(',').enumerate() {
            if !text.is_empty() {
                cells.push((
                    format!("{}{}", (b'A' + c as u8) as char, r + 1),
                    text.to_string(),
                ));
            }
        }
    }
    let workbook = dir.path().join("staff.xlsx");
    super::cli::write_xlsx(&workbook, "A1:J13", &cells);
    let parquet = dir.path().join("absence.parquet");
    duckdb::Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!(
            "COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT parquet)",
            small("absence.csv").display(),
            parquet.display()
        ))
        .unwrap();
    let mut args = calibrate_args(dir.path());
    for (flag, file) in [("--staff", &workbook), ("--absence", &parquet)] {
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1] = file.display().to_string();
    }
    Test::in_dir(dir.path()).args(args).run();
    let from_files = segments(&dir.path().join("workforce.csv"));

    let csv_dir = tempfile::tempdir().unwrap();
    Test::in_dir(csv_dir.path())
        .args(calibrate_args(csv_dir.path()))
        .run();
    let from_csv = segments(&csv_dir.path().join("workforce.csv"));
    assert_eq!(from_files.len(), from_csv.len());
    for (key, row) in &from_csv {
        for (column, value) in row {
            if let Ok(expected) = value.parse::<f64>() {
                close(&from_files[key], column, expected);
            }
        }
    }
}
