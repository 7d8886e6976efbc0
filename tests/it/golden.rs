//! Golden files: each folder of `tests/golden/` holds a `workforce.csv` and scenario files;
//! every scenario's results must match `expected/<scenario>.csv`. Run with
//! `WFPLAN_BLESS=1` to rewrite the expected files on purpose, then review the diff.

use super::common::*;

#[test]
fn results_match_the_checked_in_files() {
    let golden = repo().join("tests/golden");
    let bless = std::env::var_os("WFPLAN_BLESS").is_some();
    let mut cases = 0;
    for entry in std::fs::read_dir(&golden).unwrap() {
        let case = entry.unwrap().path();
        if !case.is_dir() {
            continue;
        }
        let workforce = wfplan::data::read_workforce(&case.join("workforce.csv")).unwrap();
        let scenario_files: Vec<_> = std::fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        for (name, actual) in run_folder_to_csv(&workforce, &scenario_files) {
            let expected_path = case.join("expected").join(format!("{name}.csv"));
            if bless {
                std::fs::create_dir_all(expected_path.parent().unwrap()).unwrap();
                std::fs::write(&expected_path, &actual).unwrap();
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
                panic!(
                    "no {}: run with WFPLAN_BLESS=1 to create it",
                    expected_path.display()
                )
            });
            if let Err(e) = compare_csv(&actual, &expected) {
                panic!("{} differs from {}:\n{e}", name, expected_path.display());
            }
            cases += 1;
        }
    }
    assert!(cases >= 3, "only {cases} golden cases ran");
}
