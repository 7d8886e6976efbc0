//! The project files built into the binary: the shipped rules and scenarios (the sample
//! data is [`crate::data::SAMPLE_WORKFORCE_CSV`]), so that wfplan works from any folder,
//! and `wfplan init` can write editable copies of them.
//!
//! A test (`bundled_files_are_the_project_files`) checks these lists against the
//! project's folders, so a rule or scenario added there is not silently left out here.

/// The shipped rules, as `(path in the project, text)`.
pub const RULES: &[(&str, &str)] = &[
    ("rules/README.md", include_str!("../rules/README.md")),
    ("rules/rates.rhai", include_str!("../rules/rates.rhai")),
    ("rules/flows.rhai", include_str!("../rules/flows.rhai")),
    (
        "rules/interventions/apprenticeships.rhai",
        include_str!("../rules/interventions/apprenticeships.rhai"),
    ),
    (
        "rules/interventions/bank_shift.rhai",
        include_str!("../rules/interventions/bank_shift.rhai"),
    ),
    (
        "rules/interventions/international.rhai",
        include_str!("../rules/interventions/international.rhai"),
    ),
    (
        "rules/interventions/placements.rhai",
        include_str!("../rules/interventions/placements.rhai"),
    ),
    (
        "rules/interventions/retention.rhai",
        include_str!("../rules/interventions/retention.rhai"),
    ),
    (
        "rules/interventions/return_to_practice.rhai",
        include_str!("../rules/interventions/return_to_practice.rhai"),
    ),
    (
        "rules/interventions/skill_mix.rhai",
        include_str!("../rules/interventions/skill_mix.rhai"),
    ),
    (
        "rules/interventions/time_released.rhai",
        include_str!("../rules/interventions/time_released.rhai"),
    ),
    (
        "rules/interventions/transfer.rhai",
        include_str!("../rules/interventions/transfer.rhai"),
    ),
    (
        "rules/interventions/wellbeing.rhai",
        include_str!("../rules/interventions/wellbeing.rhai"),
    ),
    (
        "rules/interventions/work_experience.rhai",
        include_str!("../rules/interventions/work_experience.rhai"),
    ),
];

/// The shipped scenarios, as `(path in the project, text)`.
pub const SCENARIOS: &[(&str, &str)] = &[
    (
        "scenarios/apprenticeships.toml",
        include_str!("../scenarios/apprenticeships.toml"),
    ),
    (
        "scenarios/bank_shift.toml",
        include_str!("../scenarios/bank_shift.toml"),
    ),
    (
        "scenarios/baseline.toml",
        include_str!("../scenarios/baseline.toml"),
    ),
    (
        "scenarios/faculty_plan.toml",
        include_str!("../scenarios/faculty_plan.toml"),
    ),
    (
        "scenarios/international.toml",
        include_str!("../scenarios/international.toml"),
    ),
    (
        "scenarios/placements.toml",
        include_str!("../scenarios/placements.toml"),
    ),
    (
        "scenarios/retention.toml",
        include_str!("../scenarios/retention.toml"),
    ),
    (
        "scenarios/return_to_practice.toml",
        include_str!("../scenarios/return_to_practice.toml"),
    ),
    (
        "scenarios/skill_mix.toml",
        include_str!("../scenarios/skill_mix.toml"),
    ),
    (
        "scenarios/time_released.toml",
        include_str!("../scenarios/time_released.toml"),
    ),
    (
        "scenarios/wellbeing.toml",
        include_str!("../scenarios/wellbeing.toml"),
    ),
    (
        "scenarios/work_experience.toml",
        include_str!("../scenarios/work_experience.toml"),
    ),
];

/// The rule scripts (`.rhai`) among [`RULES`] in the order the rule set loads a folder
/// (`rates`, `flows`, then the kinds by name), named as loading `rules/` names them, so
/// the bundled rules have the same fingerprint as the project's folder.
pub fn rule_sources() -> Vec<(String, String)> {
    RULES
        .iter()
        .filter(|(path, _)| path.ends_with(".rhai"))
        .map(|(path, text)| (path.to_string(), text.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn files(folder: &str) -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        let mut folders = vec![root.join(folder)];
        while let Some(dir) = folders.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let relative = path.strip_prefix(root).unwrap();
                    found.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn bundled_files_are_the_project_files() {
        for (folder, bundled) in [("rules", super::RULES), ("scenarios", super::SCENARIOS)] {
            let mut listed: Vec<String> = bundled.iter().map(|(p, _)| p.to_string()).collect();
            listed.sort();
            assert_eq!(
                listed,
                files(folder),
                "src/bundled.rs lists the files of {folder}/"
            );
        }
    }
}
