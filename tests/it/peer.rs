//! Cross-checks against the independent NumPy implementation of docs/model.md in
//! `benches/peers/numpy_model.py`, written from the spec alone: the two must agree to
//! 1e-9 relative on every figure.

use std::path::Path;
use std::process::Command;

use super::common::*;

fn numpy_results(data: &Path, scenario: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("peer.csv");
    let output = Command::new("python3")
        .arg(repo().join("benches/peers/numpy_model.py"))
        .arg("--data")
        .arg(data)
        .arg("--scenario")
        .arg(scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("python3 runs (bash .ci/run installs numpy)");
    assert!(
        output.status.success(),
        "the NumPy peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(out).unwrap()
}

fn agree(data: &Path, scenario_dir: &Path, names: &[&str]) {
    let workforce = wfplan::data::read_workforce(data).unwrap();
    for name in names {
        let file = scenario_dir.join(format!("{name}.toml"));
        let ours = run_folder_to_csv(&workforce, std::slice::from_ref(&file));
        assert_eq!(ours.len(), 1);
        let theirs = numpy_results(data, &file);
        if let Err(e) = compare_csv(&ours[0].1, &theirs) {
            panic!("{name}: the engine and the NumPy peer differ:\n{e}");
        }
    }
}

#[test]
fn the_engine_agrees_with_the_numpy_peer_on_its_fixtures() {
    let fixtures = repo().join("benches/peers/fixtures");
    agree(
        &fixtures.join("workforce.csv"),
        &fixtures,
        &["baseline", "all-kinds", "edges"],
    );
}

#[test]
fn the_engine_agrees_with_the_numpy_peer_on_allowance_seasons_pipelines_and_transfers() {
    let fixtures = repo().join("benches/peers/fixtures/v2");
    agree(
        &fixtures.join("workforce.csv"),
        &fixtures,
        &["seasonality", "transfers", "pipelines_before", "all-v2"],
    );
}

#[test]
fn the_engine_agrees_with_the_numpy_peer_on_the_sample_ics() {
    let sample = repo().join("data/sample/workforce.csv");
    agree(
        &sample,
        &repo().join("scenarios"),
        &[
            "baseline",
            "faculty_plan",
            "skill_mix",
            "placements",
            "apprenticeships",
            "return_to_practice",
            "international",
            "retention",
            "wellbeing",
            "time_released",
            "bank_shift",
        ],
    );
}

#[test]
fn the_engine_and_the_numpy_peer_refuse_the_same_bad_scenarios() {
    let fixtures = repo().join("benches/peers/fixtures/v2");
    let data = fixtures.join("workforce.csv");
    let workforce = wfplan::data::read_workforce(&data).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(fixtures.join("bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 6);
    for file in files {
        let (sources, problems) = wfplan::scenario::load_paths(std::slice::from_ref(&file));
        let refused = !problems.is_empty() || {
            let (_, problems) = wfplan::scenario::check_all(&sources, rules(), &workforce);
            !problems.is_empty()
        };
        assert!(refused, "the engine accepted {}", file.display());
        let peer = Command::new("python3")
            .arg(repo().join("benches/peers/numpy_model.py"))
            .arg("--data")
            .arg(&data)
            .arg("--scenario")
            .arg(&file)
            .arg("--no-out")
            .output()
            .unwrap();
        assert_eq!(
            peer.status.code(),
            Some(2),
            "the peer on {}",
            file.display()
        );
    }
}
