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

/// A random scenario of every kind on generated data, from `seed`: the figures a planner
/// never wrote down, so the agreement does not rest on the fixtures alone.
fn random_scenario(seed: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut pick = |low: f64, high: f64| low + (high - low) * rng.f64();
    let month = |rng_value: f64| {
        format!(
            "20{}-{:02}",
            24 + (rng_value * 3.0) as u32,
            1 + (rng_value * 997.0) as u32 % 12
        )
    };
    let (a, b, c, d) = (
        pick(0.0, 1.0),
        pick(0.0, 1.0),
        pick(0.0, 1.0),
        pick(0.0, 1.0),
    );
    let factors = |peak: usize, size: f64| -> String {
        (0..12)
            .map(|m| {
                format!(
                    "{:.3}",
                    if m == peak {
                        1.0 + size
                    } else {
                        1.0 - size / 11.0
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"name = "random-{seed}"
start = "2025-04"
months = 30
[seasonality]
annual_leave = [{leave}]
sickness = [{sickness}]

[[overrides]]
where = {{ setting = "community", band = ["3", "4"] }}
set = {{ leaver_rate = {leaver:.3}, headroom_allowance = {allowance:.3} }}

[[interventions]]
kind = "retention"
where = {{ setting = ["acute", "mental_health"] }}
start = "{m1}"
ramp_months = {ramp:.1}
reduction = {reduction:.3}
cost_per_month = 1000

[[interventions]]
kind = "wellbeing"
sickness_reduction = {sick:.4}

[[interventions]]
kind = "time_released"
where = {{ staff_group = "physiotherapy" }}
share = {share:.3}
ramp_months = 4

[[interventions]]
kind = "bank_shift"
share = {shift:.3}

[[interventions]]
kind = "skill_mix"
where = {{ band = "6" }}
to = {{ band = "4" }}
share = {mix:.3}
ratio = 1.2

[[interventions]]
kind = "transfer"
where = {{ band = "5" }}
to = {{ band = "6" }}
rate = {progress:.3}

[[interventions]]
kind = "transfer"
where = {{ setting = "acute" }}
to = {{ setting = "community" }}
same = ["system", "staff_group", "band"]
rate = {move_rate:.3}
start = "{m2}"
end = "2026-12"
ramp_months = 3

[[interventions]]
kind = "placements"
where = {{ staff_group = ["physiotherapy", "radiography"], band = "5" }}
start = "2023-09"
places_per_year = {places:.1}
course_months = 30
cost_per_place_year = 2000

[[interventions]]
kind = "apprenticeships"
where = {{ band = "4" }}
start = "2024-01"
starts_per_year = {starts:.1}
course_months = 24
salary_per_year = 24000

[[interventions]]
kind = "return_to_practice"
start = "2024-11"
returners_per_year = {returners:.1}
cost_per_returner = 500

[[interventions]]
kind = "international"
where = {{ org = "org_00002" }}
start = "2025-02"
recruits_per_year = {recruits:.1}
cost_per_recruit = 9000
"#,
        leave = factors(7, a * 0.5),
        sickness = factors(0, b * 0.4),
        leaver = pick(0.05, 0.3),
        allowance = pick(0.1, 0.3),
        m1 = month(c),
        m2 = month(d),
        ramp = pick(1.0, 12.0),
        reduction = pick(0.0, 0.3),
        sick = pick(0.0, 0.03),
        share = pick(0.0, 0.2),
        shift = pick(0.0, 1.0),
        mix = pick(0.0, 0.3),
        progress = pick(0.0, 0.2),
        move_rate = pick(0.0, 0.2),
        places = pick(0.0, 40.0),
        starts = pick(0.0, 30.0),
        returners = pick(0.0, 20.0),
        recruits = pick(0.0, 50.0),
    )
}

#[test]
fn the_engine_agrees_with_the_numpy_peer_on_generated_data_and_random_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("workforce.csv");
    let mut csv = Vec::new();
    wfplan::data::generate::write_csv(&mut csv, 400, 11).unwrap();
    std::fs::write(&data, &csv).unwrap();
    let workforce = wfplan::data::read_workforce(&data).unwrap();
    for seed in 1..=3 {
        let file = dir.path().join(format!("random-{seed}.toml"));
        std::fs::write(&file, random_scenario(seed)).unwrap();
        let ours = run_folder_to_csv(&workforce, std::slice::from_ref(&file));
        let theirs = numpy_results(&data, &file);
        if let Err(e) = compare_csv(&ours[0].1, &theirs) {
            panic!(
                "seed {seed}: the engine and the NumPy peer differ:\n{e}\n{}",
                random_scenario(seed)
            );
        }
    }
}
