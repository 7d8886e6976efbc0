//! Rule scripts are untrusted: a rule that loops forever or fails fails only its own
//! scenario, with an error naming the rule file and line, and the rest of the batch runs.

use std::path::Path;
use std::time::{Duration, Instant};

use wfplan::engine::batch::run_all;
use wfplan::engine::RunOptions;
use wfplan::rules::RuleSet;

use super::common::*;

/// A copy of the shipped rules with extra kinds added.
pub fn rules_with(dir: &Path, extra: &[(&str, &str)]) -> RuleSet {
    copy_rules(dir, extra);
    RuleSet::load(dir).expect("the rules compile")
}

pub fn copy_rules(dir: &Path, extra: &[(&str, &str)]) {
    let source = repo().join("rules");
    std::fs::create_dir_all(dir.join("interventions")).unwrap();
    for file in ["rates.rhai", "flows.rhai"] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    for entry in std::fs::read_dir(source.join("interventions")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            dir.join("interventions").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    for (name, text) in extra {
        std::fs::write(dir.join("interventions").join(format!("{name}.rhai")), text).unwrap();
    }
}

pub const ENDLESS: &str = r#"fn kind() { #{ summary: "never ends", stage: "rates", fields: #{} } }

let spins = 0;
loop {
    spins += 1;
}
"#;

const FAILING: &str = r#"fn kind() { #{ summary: "divides text", stage: "rates", fields: #{} } }

leaver *= 1.0;
leaver = leaver - "text";
"#;

const CLOBBERING: &str = r#"fn kind() { #{ summary: "replaces a rate with text", stage: "rates", fields: #{} } }

leaver = "high";
"#;

#[test]
fn an_endless_rule_fails_its_scenario_within_budget_and_the_batch_completes() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_with(
        dir.path(),
        &[
            ("endless", ENDLESS),
            ("failing", FAILING),
            ("clobbering", CLOBBERING),
        ],
    );
    let w = workforce(&[simple_row("a", "5", 100.0)]);
    let check = |toml: &str| {
        wfplan::scenario::from_toml_str("s.toml", toml, &rules, &w)
            .unwrap()
            .remove(0)
    };
    let good = "start = \"2025-04\"\nmonths = 24\n";
    let scenarios = vec![
        check(good),
        check(&format!("{good}[[interventions]]\nkind = \"endless\"\n")),
        check(&format!("{good}[[interventions]]\nkind = \"failing\"\n")),
        check(good),
        check(&format!("{good}[[interventions]]\nkind = \"clobbering\"\n")),
    ];
    let options = RunOptions {
        time_budget: Duration::from_millis(500),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let outcomes = run_all(&rules, &w, &scenarios, &options, Some(2)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );

    assert!(outcomes[0].result.is_ok());
    assert!(outcomes[3].result.is_ok());
    let endless = outcomes[1].result.as_ref().unwrap_err().to_string();
    assert!(endless.contains("endless.rhai"), "{endless}");
    assert!(
        endless.contains("time budget") || endless.contains("operations"),
        "{endless}"
    );
    let failing = outcomes[2].result.as_ref().unwrap_err().to_string();
    assert!(
        failing.contains("failing.rhai:4"),
        "the error names file and line: {failing}"
    );
    let clobbering = outcomes[4].result.as_ref().unwrap_err().to_string();
    assert!(
        clobbering.contains("clobbering.rhai") && clobbering.contains("`leaver` must be a column"),
        "the error names the script that broke the contract: {clobbering}"
    );
}

#[test]
fn oversized_and_broken_rules_are_refused_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(
        dir.path(),
        &[
            (
                "broken",
                "fn kind() { #{ stage: \"rates\" } }\n\nlet x = ;\n",
            ),
            ("huge", &"// padding\n".repeat(30_000)),
        ],
    );
    let problems = RuleSet::load(dir.path()).unwrap_err().0;
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(text.iter().any(|p| p.contains("broken.rhai:3")), "{text:?}");
    assert!(
        text.iter()
            .any(|p| p.contains("huge.rhai") && p.contains("at most")),
        "{text:?}"
    );
}

/// Scripts are compiled with constant calls evaluated once (rhai's full optimisation); a
/// constant call that would build a huge value must still meet the limits, at compile
/// time or when it runs, and never take the process's memory.
#[test]
fn constant_calls_folded_at_compile_time_keep_the_limits() {
    const HUGE: &str = r#"fn kind() { #{ summary: "builds a huge text", stage: "rates", fields: #{} } }

let text = "x".pad(200000000, "y");
let list = range(0, 100000000).collect();
leaver = leaver * 1.0;
"#;
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path(), &[("huge_text", HUGE)]);
    let started = std::time::Instant::now();
    match RuleSet::load(dir.path()) {
        Err(problems) => {
            let text = problems.to_string();
            assert!(text.contains("huge_text"), "{text}");
        }
        Ok(rules) => {
            // Compiled: running it must fail on a limit, not build the text.
            let w = workforce(&[simple_row("a", "5", 10.0)]);
            let scenario = wfplan::scenario::from_toml_str(
                "s.toml",
                "start = \"2025-04\"\nmonths = 1\n[[interventions]]\nkind = \"huge_text\"\n",
                &rules,
                &w,
            )
            .unwrap()
            .remove(0);
            let outcome = wfplan::engine::run_scenario(&rules, &w, &scenario, &Default::default());
            let error = outcome.unwrap_err().to_string();
            assert!(error.contains("huge_text"), "{error}");
        }
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
