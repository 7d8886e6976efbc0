//! The rule compiler against the interpreter: every scenario's figures, compiled and
//! interpreted, are equal to the bit (each compiled operation computes what the
//! interpreter's computes, on the same operands in the same order).

use std::sync::OnceLock;

use wfplan::engine::{run_scenario, RunOptions};
use wfplan::model::{RunResults, Scenario, Workforce, METRICS};
use wfplan::rules::{Execution, RuleSet};

use super::common::*;

/// The shipped rules on the rule compiler alone: a scenario it cannot record fails.
pub fn compiled() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = RuleSet::load(&repo().join("rules")).expect("the shipped rules compile");
        rules.execution = Execution::Compiled;
        rules
    })
}

/// The shipped rules on the interpreter alone.
pub fn interpreted() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = RuleSet::load(&repo().join("rules")).expect("the shipped rules compile");
        rules.execution = Execution::Interpreted;
        rules
    })
}

/// Panics naming the first figure that differs in any bit (`what` says which runs these
/// are, the first one's figure first).
#[track_caller]
pub fn same_bits(compiled: &RunResults, interpreted: &RunResults, what: &str) {
    assert_eq!(compiled.rows, interpreted.rows, "{what}");
    assert_eq!(compiled.figures.len(), interpreted.figures.len(), "{what}");
    let width = METRICS.len() * compiled.rows.len();
    if let Some((at, (x, y))) = compiled
        .figures
        .iter()
        .zip(&interpreted.figures)
        .enumerate()
        .find(|(_, (x, y))| x.to_bits() != y.to_bits())
    {
        panic!(
            "{what}: {} of row {} in month {}: {x} against {y}",
            METRICS[at % METRICS.len()],
            at % width / METRICS.len(),
            at / width
        );
    }
}

/// Runs a scenario both ways and checks they agree.
#[track_caller]
pub fn both_ways(workforce: &Workforce, scenario: &Scenario, options: &RunOptions) -> RunResults {
    let compiled = run_scenario(compiled(), workforce, scenario, options).expect("compiled run");
    let interpreted =
        run_scenario(interpreted(), workforce, scenario, options).expect("interpreted run");
    same_bits(
        &compiled,
        &interpreted,
        &format!("{}, compiled against interpreted", scenario.name),
    );
    compiled
}

fn scenarios_of(folder: &str, files: &[&str]) -> (Workforce, Vec<Scenario>) {
    let dir = repo().join(folder);
    let workforce = wfplan::data::read_workforce(&dir.join("workforce.csv")).unwrap();
    let paths: Vec<_> = files.iter().map(|f| dir.join(f)).collect();
    let (sources, problems) = wfplan::scenario::load_paths(&paths);
    assert!(problems.is_empty(), "{problems:#?}");
    let (scenarios, problems) = wfplan::scenario::check_all(&sources, rules(), &workforce);
    assert!(problems.is_empty(), "{problems:#?}");
    (workforce, scenarios)
}

#[test]
fn every_shipped_scenario_compiled_equals_interpreted() {
    let workforce =
        wfplan::data::read_workforce(&repo().join("data/sample/workforce.csv")).unwrap();
    let mut paths: Vec<_> = std::fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let (sources, problems) = wfplan::scenario::load_paths(&paths);
    assert!(problems.is_empty(), "{problems:#?}");
    let (scenarios, problems) = wfplan::scenario::check_all(&sources, rules(), &workforce);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(scenarios.len() >= 12);
    for scenario in &scenarios {
        both_ways(&workforce, scenario, &RunOptions::default());
    }
}

#[test]
fn the_peers_fixtures_compiled_equal_interpreted() {
    for (folder, files) in [
        (
            "benches/peers/fixtures",
            &["all-kinds.toml", "baseline.toml", "edges.toml"][..],
        ),
        (
            "benches/peers/fixtures/v2",
            &[
                "all-v2.toml",
                "pipelines_before.toml",
                "seasonality.toml",
                "transfers.toml",
            ][..],
        ),
    ] {
        let (workforce, scenarios) = scenarios_of(folder, files);
        for scenario in &scenarios {
            both_ways(&workforce, scenario, &RunOptions::default());
        }
    }
}

#[test]
fn monte_carlo_draws_compiled_equal_interpreted() {
    let options = RunOptions {
        detail: wfplan::model::Detail::GroupBy(vec!["staff_group".into()]),
        ..RunOptions::default()
    };
    for (folder, files) in [
        ("benches/peers/fixtures", &["monte_carlo/mc_small.toml"][..]),
        (
            "data/sample",
            &["../../benches/peers/fixtures/monte_carlo/baseline_mc.toml"][..],
        ),
    ] {
        let (workforce, scenarios) = scenarios_of(folder, files);
        for scenario in &scenarios {
            assert!(scenario.monte_carlo.is_some());
            both_ways(&workforce, scenario, &options);
        }
    }
}

#[test]
fn runs_in_parts_compiled_equal_interpreted() {
    // Enough segments for several parts, so that the compiled parts run side by side and
    // their figures are added in segment order, at two levels of detail.
    let mut csv = Vec::new();
    wfplan::data::generate::write_csv(&mut csv, 2 * wfplan::engine::PART_SEGMENTS + 700, 5)
        .unwrap();
    let workforce =
        wfplan::data::import::read_csv_text("generated", std::str::from_utf8(&csv).unwrap())
            .unwrap();
    let text = std::fs::read_to_string(repo().join("benches/scenarios/national.toml")).unwrap();
    let scenario = scenario(&text.replace("months = 120", "months = 14"), &workforce);
    for detail in ["segment", "total", "org,staff_group"] {
        let options = RunOptions {
            detail: wfplan::model::Detail::parse(detail, &workforce.key_names).unwrap(),
            ..RunOptions::default()
        };
        both_ways(&workforce, &scenario, &options);
    }
}

/// The shipped rules and `extra` kinds (file stem, source), one way of running them.
fn rules_with(extra: &[(&str, &str)], execution: Execution) -> RuleSet {
    let mut sources = wfplan::bundled::rule_sources();
    for (name, text) in extra {
        sources.push((format!("rules/interventions/{name}.rhai"), text.to_string()));
    }
    let mut rules = RuleSet::from_sources(sources).expect("the rules compile");
    rules.execution = execution;
    rules
}

/// A small workforce of two organisations.
fn small() -> Workforce {
    workforce(&[
        simple_row("a", "5", 90.0),
        simple_row("a", "6", 40.0),
        simple_row("b", "5", 120.0),
    ])
}

const LOOKS_AT_ALL: &str = r#"fn kind() { #{ summary: "leaver rate from the share of all FTE", stage: "rates", fields: #{} } }
leaver = leaver * (1.0 + fte / sum(fte));
"#;

const SWITCHES: &str = r#"fn kind() { #{ summary: "a quarter's sickness", stage: "rates", fields: #{} } }
switch calendar_month % 3 {
    0 => { sickness += 0.02; }
    _ => { sickness += 0.0; }
}
"#;

#[test]
fn a_rule_the_compiler_cannot_record_runs_on_the_interpreter_with_the_same_figures() {
    let workforce = small();
    for (kind, source, reason) in [
        (
            "looks_at_all",
            LOOKS_AT_ALL,
            "sum is not supported by the rule compiler",
        ),
        (
            "switches",
            SWITCHES,
            "`switch` is not supported by the rule compiler",
        ),
    ] {
        let extra = [(kind, source)];
        let text = format!(
            "name = \"{kind}\"\nstart = \"2025-04\"\nmonths = 14\n[[interventions]]\nkind = \"{kind}\"\n"
        );
        let auto = rules_with(&extra, Execution::Auto);
        let scenario = wfplan::scenario::from_toml_str("t.toml", &text, &auto, &workforce)
            .unwrap()
            .remove(0);
        let options = RunOptions::default();
        let figures = run_scenario(&auto, &workforce, &scenario, &options).unwrap();
        let by_interpreter = run_scenario(
            &rules_with(&extra, Execution::Interpreted),
            &workforce,
            &scenario,
            &options,
        )
        .unwrap();
        same_bits(&figures, &by_interpreter, kind);
        // The rule did act: the figures differ from the baseline's.
        let baseline = wfplan::scenario::from_toml_str(
            "b.toml",
            "name = \"b\"\nstart = \"2025-04\"\nmonths = 14\n",
            &auto,
            &workforce,
        )
        .unwrap()
        .remove(0);
        let plain = run_scenario(&auto, &workforce, &baseline, &options).unwrap();
        assert_ne!(plain.figures, figures.figures, "{kind} changed nothing");
        // The compiler alone refuses it, naming the rule and why.
        let error = run_scenario(
            &rules_with(&extra, Execution::Compiled),
            &workforce,
            &scenario,
            &options,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains(&format!("{kind}.rhai")), "{error}");
        assert!(error.contains(reason), "{error}");
    }
}

#[test]
fn a_runaway_rule_under_the_compiler_fails_its_scenario_within_its_budget() {
    let workforce = small();
    let extra = [("endless", super::sandbox::ENDLESS)];
    let rules = rules_with(&extra, Execution::Auto);
    let text =
        "name = \"e\"\nstart = \"2025-04\"\nmonths = 3\n[[interventions]]\nkind = \"endless\"\n";
    let scenario = wfplan::scenario::from_toml_str("e.toml", text, &rules, &workforce)
        .unwrap()
        .remove(0);
    let options = RunOptions {
        time_budget: std::time::Duration::from_millis(300),
        ..RunOptions::default()
    };
    let started = std::time::Instant::now();
    let error = run_scenario(&rules, &workforce, &scenario, &options)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("time budget") || error.contains("operations"),
        "{error}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

mod random_scripts {
    //! Random column scripts (arithmetic, comparisons, `where`, `min`/`max`, `pow`, masks,
    //! numbers of the month, and control flow on them) compiled and interpreted.

    use proptest::prelude::*;

    use super::*;

    /// An expression giving a number: literals, the month's numbers and arithmetic on them.
    fn scalar() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("0.5".to_string()),
            Just("1.5".to_string()),
            Just("2".to_string()),
            Just("ramp".to_string()),
            Just("(t / 12.0)".to_string()),
            Just("(t % 7)".to_string()),
            Just("(t / 5)".to_string()),
            Just("(calendar_month * 1.0)".to_string()),
            Just("timing.ramp(t - 2)".to_string()),
            Just("sickness_season".to_string()),
        ];
        leaf.prop_recursive(3, 12, 2, |inner| {
            (inner.clone(), inner, 0..5usize).prop_map(|(a, b, op)| match op {
                0 => format!("({a} + {b})"),
                1 => format!("({a} - {b})"),
                2 => format!("({a} * {b})"),
                3 => format!("min({a} * 1.0, {b} * 1.0)"),
                _ => format!("max({a} * 1.0, {b} * 1.0)"),
            })
        })
    }

    /// An expression giving a column.
    fn column() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("seg.fte".to_string()),
            Just("seg.leaver_rate".to_string()),
            Just("seg.establishment".to_string()),
            Just("fte".to_string()),
            Just("leaver".to_string()),
            Just("matched".to_string()),
            Just("weight".to_string()),
            Just("zeros".to_string()),
        ];
        leaf.prop_recursive(4, 24, 3, |inner| {
            (inner.clone(), inner.clone(), inner, scalar(), 0..14usize).prop_map(
                |(a, b, c, k, op)| match op {
                    0 => format!("({a} + {b})"),
                    1 => format!("({a} - {k})"),
                    2 => format!("({k} * {a})"),
                    3 => format!("({a} / {b})"),
                    4 => format!("min({a}, {b})"),
                    5 => format!("max({a}, {k})"),
                    6 => format!("pow({a}, {k} * 1.0)"),
                    7 => format!("where({a} > {b}, {c}, {k})"),
                    8 => format!("where(({a} <= {k}) & ({b} != {c}), {a}, {b})"),
                    9 => format!("where(!({a} >= {b}) | ({c} == {k}), {k}, {c})"),
                    10 => format!("exp({a} * 0.01)"),
                    11 => format!("abs({a} - {b})"),
                    12 => format!("column({a}, {k} * 1.0)"),
                    _ => format!("({a} * {b} - {c})"),
                },
            )
        })
    }

    /// A kind whose script changes the leaver and sickness rates by random columns, keeping
    /// them in range (a NaN or an infinity falls to a plain value), with control flow on the
    /// month.
    fn kind_script(leaver: &str, sickness: &str, bound: i64) -> String {
        format!(
            r#"fn kind() {{ #{{ summary: "random", stage: "rates", fields: #{{}} }} }}
let v = zeros + ({leaver});
leaver = where((v >= 0.0) & (v < 0.5), v, 0.1);
let w = zeros + ({sickness});
if t > {bound} {{
    sickness = where((w >= 0.0) & (w < 0.2), w, sickness);
}}
let extra = 0.0;
for k in range(calendar_month % 3, 5, 2) {{
    if timing.starts(t - k) {{ extra += 0.001; }}
}}
sickness += extra * matched;
"#
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

        #[test]
        fn random_column_scripts_compiled_equal_interpreted(
            leaver in column(),
            sickness in column(),
            bound in 0i64..20,
        ) {
            let script = kind_script(&leaver, &sickness, bound);
            let extra = [("random", script.as_str())];
            let compiled = rules_with(&extra, Execution::Compiled);
            let interpreted = rules_with(&extra, Execution::Interpreted);
            let workforce = small();
            let text = "name = \"r\"\nstart = \"2025-04\"\nmonths = 26\n[[interventions]]\nkind = \"random\"\nwhere = { org = \"a\" }\nstart = \"2025-06\"\nramp_months = 5\n";
            let scenario = wfplan::scenario::from_toml_str("r.toml", text, &compiled, &workforce)
                .unwrap()
                .remove(0);
            let options = RunOptions::default();
            let by_interpreter = run_scenario(&interpreted, &workforce, &scenario, &options);
            let by_compiler = run_scenario(&compiled, &workforce, &scenario, &options);
            prop_assert!(by_interpreter.is_ok(), "{:?}", by_interpreter.as_ref().err());
            match (by_compiler, by_interpreter) {
                (Ok(c), Ok(i)) => same_bits(&c, &i, &script),
                (Err(c), Err(i)) => prop_assert_eq!(c.to_string(), i.to_string(), "{}", script),
                (c, i) => prop_assert!(false, "{script}\ncompiled: {:?}\ninterpreted: {:?}", c.map(|_| ()), i.map(|_| ())),
            }
        }
    }
}
