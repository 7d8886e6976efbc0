//! Helpers shared by the tests: the shipped rules, tiny workforce tables and scenarios.

use std::path::PathBuf;
use std::sync::OnceLock;

use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::results::Metric;
use wfplan::model::{RunResults, Scenario, Workforce};
use wfplan::rules::RuleSet;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped rules, compiled once for the whole test binary.
pub fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::load(&repo().join("rules")).expect("the shipped rules compile"))
}

pub const HEADER: &str = "org,system,staff_group,band,fte,establishment,leaver_rate,sickness_rate,annual_leave_rate,study_leave_rate,other_leave_rate,hours_per_week,dcc_share,annual_pay,time_to_fill,bank_share,agency_share,bank_premium,agency_premium,demand_growth";

/// A segment whose figures are easy to work by hand: 100 FTE against 120 posts; headroom
/// 0.2 (leave 0.1 + 0.03 + 0.02, sickness 0.05); 37.5 hours a week, so 162.5 hours a month
/// and 130 on duty per FTE; DCC 0.6; pay 39,000 GBP a year, so 20 GBP an hour; no open
/// recruitment; bank 0.5 and agency 0.3 of uncovered hours at 1.2 and 2.0 times pay.
pub fn simple_row(org: &str, band: &str, fte: f64) -> String {
    format!("{org},ics,physiotherapy,{band},{fte},120,0.12,0.05,0.1,0.03,0.02,37.5,0.6,39000,0,0.5,0.3,1.2,2,0")
}

pub fn workforce(rows: &[String]) -> Workforce {
    let text = format!("{HEADER}\n{}\n", rows.join("\n"));
    wfplan::data::import::read_csv_text("test.csv", &text).expect("the test data is valid")
}

/// Checks a scenario written as TOML against the workforce; panics with the problems.
pub fn scenario(toml: &str, workforce: &Workforce) -> Scenario {
    let mut scenarios = wfplan::scenario::from_toml_str("test.toml", toml, rules(), workforce)
        .unwrap_or_else(|p| panic!("invalid test scenario: {p:#?}"));
    assert_eq!(scenarios.len(), 1);
    scenarios.remove(0)
}

pub fn run(toml: &str, workforce: &Workforce) -> RunResults {
    let scenario = scenario(toml, workforce);
    run_scenario(rules(), workforce, &scenario, &RunOptions::default()).expect("the scenario runs")
}

/// Asserts two figures agree to 1e-9 relative (or 1e-9 absolute near zero).
#[track_caller]
pub fn figure(results: &RunResults, month: usize, segment: usize, metric: Metric, expected: f64) {
    let actual = results.figure(month, segment, metric);
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{metric:?} of segment {segment} in month {month}: got {actual}, expected {expected}"
    );
}

/// Compares two results CSVs: same header and keys, figures within 1e-9 relative (absolute
/// near zero). Returns the first few differences.
pub fn compare_csv(actual: &str, expected: &str) -> Result<(), String> {
    let parse = |text: &str| -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    };
    let (a, e) = (parse(actual), parse(expected));
    if a.first() != e.first() {
        return Err(format!(
            "headers differ:\n  {:?}\n  {:?}",
            a.first(),
            e.first()
        ));
    }
    if a.len() != e.len() {
        return Err(format!("{} rows, expected {}", a.len(), e.len()));
    }
    let header = &a[0];
    let mut differences = Vec::new();
    for (row, (x, y)) in a.iter().zip(&e).enumerate().skip(1) {
        for (column, (u, v)) in x.iter().zip(y).enumerate() {
            let same = match (u.parse::<f64>(), v.parse::<f64>()) {
                (Ok(p), Ok(q)) if header[column] != "band" => {
                    (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0)
                }
                _ => u == v,
            };
            if !same && differences.len() < 10 {
                differences.push(format!(
                    "row {row} {}: {u} vs expected {v} ({:?})",
                    header[column],
                    &x[..4]
                ));
            }
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(differences.join("\n"))
    }
}

/// Runs every scenario of a folder on a workforce and returns the results as CSV text.
pub fn run_folder_to_csv(
    workforce: &Workforce,
    scenario_files: &[PathBuf],
) -> Vec<(String, String)> {
    let (sources, problems) = wfplan::scenario::load_paths(scenario_files);
    assert!(problems.is_empty(), "{problems:#?}");
    let (scenarios, problems) = wfplan::scenario::check_all(&sources, rules(), workforce);
    assert!(problems.is_empty(), "{problems:#?}");
    scenarios
        .iter()
        .map(|s| {
            let results = run_scenario(rules(), workforce, s, &RunOptions::default())
                .expect("the scenario runs");
            let mut out = Vec::new();
            wfplan::data::export::write_csv_to(&mut out, &[&results]).unwrap();
            (s.name.clone(), String::from_utf8(out).unwrap())
        })
        .collect()
}

/// One run of the `wfplan` binary as a user types it, in a temporary folder of its own
/// (never the repository), with the exit code and output it must give (as `just`'s tests
/// read: `Test::new().args(..).status(2).stderr_contains(..).run()`).
pub struct Test {
    dir: Option<tempfile::TempDir>,
    cwd: PathBuf,
    args: Vec<String>,
    status: i32,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
}

/// What a [`Test`] saw; it keeps the test's folder until dropped.
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
    _temporary: Option<tempfile::TempDir>,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    /// A run in a new, empty temporary folder, expected to exit 0.
    pub fn new() -> Test {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let cwd = dir.path().to_path_buf();
        Test {
            dir: Some(dir),
            ..Test::in_dir(&cwd)
        }
    }

    /// A run in a folder the caller owns (to run several commands on one database).
    pub fn in_dir(dir: &std::path::Path) -> Test {
        Test {
            dir: None,
            cwd: dir.to_path_buf(),
            args: Vec::new(),
            status: 0,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Test {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Test {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// The exit code expected (0 unless said).
    pub fn status(mut self, code: i32) -> Test {
        self.status = code;
        self
    }

    pub fn stdout_contains(mut self, text: &str) -> Test {
        self.stdout_contains.push(text.to_string());
        self
    }

    pub fn stderr_contains(mut self, text: &str) -> Test {
        self.stderr_contains.push(text.to_string());
        self
    }

    /// Runs the binary and checks the exit code and output; panics with both outputs.
    #[track_caller]
    pub fn run(self) -> Ran {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_wfplan"))
            .current_dir(&self.cwd)
            .args(&self.args)
            .env("NO_COLOR", "1")
            .env_remove("WFPLAN_API_KEYS")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run wfplan in {}: {e}", self.cwd.display()));
        let output = child.wait_with_output().expect("wfplan runs");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        let shown = format!(
            "wfplan {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            self.args.join(" ")
        );
        assert_eq!(output.status.code(), Some(self.status), "{shown}");
        for text in &self.stdout_contains {
            assert!(
                stdout.contains(text.as_str()),
                "no '{text}' in stdout: {shown}"
            );
        }
        for text in &self.stderr_contains {
            assert!(
                stderr.contains(text.as_str()),
                "no '{text}' in stderr: {shown}"
            );
        }
        Ran {
            stdout,
            stderr,
            _temporary: self.dir,
        }
    }
}

/// The four-segment fixture (`benches/peers/fixtures/workforce.csv`) as Parquet, written
/// by DuckDB into `dir`.
pub fn fixture_parquet(dir: &std::path::Path) -> Vec<u8> {
    let parquet = dir.join("w.parquet");
    duckdb::Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!(
            "COPY (SELECT * FROM read_csv('{}', all_varchar = true)) TO '{}' (FORMAT parquet)",
            repo()
                .join("benches/peers/fixtures/workforce.csv")
                .display(),
            parquet.display()
        ))
        .unwrap();
    std::fs::read(&parquet).unwrap()
}
