//! A run plan: every input of a run checked before any work starts.
//!
//! Both front ends gather low-level inputs (scenario documents, a level of detail as text,
//! a time budget) and hand them to [`RunPlan::new`], which returns a plan the engine can
//! run as it is, or every problem at once (as ripgrep turns its low-level arguments into
//! checked high-level ones). A typo in a flag is then bad input before a database row is
//! written, not a failed run afterwards.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::data::RunRecord;
use crate::engine::{scenario_workforce, RunOptions};
use crate::model::{Detail, Scenario, Workforce};
use crate::rules::RuleSet;
use crate::scenario::{check_all, ScenarioProblem, ScenarioSource};

/// What a front end asks to run, before it is checked.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The dataset's name as runs record it: `default`, an uploaded dataset's id or a path.
    pub dataset: String,
    /// Scenario documents with `extends` resolved (sweeps not yet expanded).
    pub scenarios: Vec<ScenarioSource>,
    /// `segment`, `total` or key columns separated by commas; empty for the default,
    /// [`default_detail`].
    pub detail: String,
    /// `--draws` and `--seed`: replace the scenarios' `[monte_carlo]` values.
    pub monte_carlo: DrawOverride,
    /// Wall-clock budget of each scenario's rules.
    pub time_budget: Duration,
    /// Most scenario runs the request may expand to through sweeps.
    pub max_runs: usize,
    /// Most result rows (row by month) all its runs may store: a bound on the disk one
    /// request can take (a 1,000-run sweep of 600 months at segment detail would write
    /// about 13 GB).
    pub max_result_rows: usize,
}

/// Draws and seed given with a run request, replacing every scenario's `[monte_carlo]`
/// values (a scenario without that table gets one, if `draws` is given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrawOverride {
    pub draws: Option<u64>,
    pub seed: Option<u64>,
}

impl DrawOverride {
    /// Applies the override to a checked scenario.
    fn apply(&self, scenario: &mut crate::model::Scenario) -> Result<(), String> {
        use crate::model::uncertainty::{MonteCarlo, MAX_DRAWS};
        if let Some(draws) = self.draws {
            if !(1..=MAX_DRAWS).contains(&draws) {
                return Err(format!(
                    "{draws} draws: a Monte Carlo run makes 1 to {MAX_DRAWS} draws"
                ));
            }
        }
        scenario.monte_carlo = match (scenario.monte_carlo, self.draws) {
            (Some(mc), _) => Some(MonteCarlo {
                draws: self.draws.unwrap_or(mc.draws),
                seed: self.seed.unwrap_or(mc.seed),
            }),
            (None, Some(draws)) => Some(MonteCarlo {
                draws,
                seed: self.seed.unwrap_or(1),
            }),
            (None, None) if self.seed.is_some() => {
                return Err(format!(
                "scenario {} has no [monte_carlo] table: give the number of draws with the seed",
                scenario.name
            ))
            }
            (None, None) => None,
        };
        Ok(())
    }
}

/// The level of detail when a request gives none: every segment, or for a Monte Carlo
/// run, whose draws multiply the rows, each staff group (the bands a workforce lead
/// reads), `total` where the data has no staff group.
pub fn default_detail(monte_carlo: bool) -> &'static str {
    if monte_carlo {
        "staff_group"
    } else {
        "segment"
    }
}

/// The default bound on the result rows of one request: 20 million rows, about 2.5 GB
/// stored (a segment-level run of the 183-segment sample over 60 months is 10,980 rows).
pub const DEFAULT_MAX_RESULT_ROWS: usize = 20_000_000;

/// Why a request cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Every problem found in the inputs, each with its file (or `request`) and field.
    #[error("{} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ScenarioProblem>),
    /// The sweeps expand to more runs than one request may make.
    #[error("the sweep expands to {runs} runs; one request may run at most {max}")]
    TooManyRuns { runs: usize, max: usize },
    /// The runs would store more result rows than one request may.
    #[error("the runs would store {rows} result rows (rows by month); one request may store at most {max}: choose a coarser detail, fewer months or fewer runs")]
    TooManyRows { rows: usize, max: usize },
}

/// A checked run: a workforce, scenarios that run on it, and how to run and store them.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub dataset: String,
    pub workforce: Arc<Workforce>,
    pub scenarios: Vec<Scenario>,
    pub options: RunOptions,
    rules_hash: String,
    data_hash: String,
}

/// Where problems with the request as a whole (not one scenario file) are reported.
pub const REQUEST: &str = "request";

/// A problem with the request as a whole (a flag, a query field), not with one scenario
/// file: every front end and analysis reports these alike.
pub fn request_problem(field: &str, message: String) -> ScenarioProblem {
    ScenarioProblem {
        file: REQUEST.into(),
        field: field.into(),
        message,
    }
}

impl RunPlan {
    /// Checks a request against the rules and the workforce: the level of detail, the
    /// time budget, every field of every scenario (sweeps expanded), the number of runs,
    /// and the inputs each scenario's overrides give. Returns the plan or every problem.
    pub fn new(
        rules: &RuleSet,
        workforce: Arc<Workforce>,
        request: RunRequest,
    ) -> Result<RunPlan, PlanError> {
        let mut problems = Vec::new();
        let (mut scenarios, scenario_problems) = check_all(&request.scenarios, rules, &workforce);
        for s in &mut scenarios {
            if let Err(message) = request.monte_carlo.apply(s) {
                problems.push(request_problem("draws", message));
            }
        }
        let any_monte_carlo = scenarios.iter().any(|s| s.monte_carlo.is_some());
        let detail_text = if request.detail.trim().is_empty() {
            default_detail(any_monte_carlo)
        } else {
            request.detail.as_str()
        };
        let detail = Detail::parse(detail_text, &workforce.key_names)
            .map_err(|message| problems.push(request_problem("detail", message)))
            .ok();
        if request.time_budget.is_zero() {
            problems.push(request_problem(
                "time_budget",
                "the time budget must be a positive number of seconds".into(),
            ));
        }
        problems.extend(scenario_problems);
        if scenarios.len() > request.max_runs {
            return Err(PlanError::TooManyRuns {
                runs: scenarios.len(),
                max: request.max_runs,
            });
        }
        for s in &scenarios {
            if let Err(e) = scenario_workforce(&workforce, s) {
                problems.push(ScenarioProblem {
                    file: format!("scenario {}", s.name),
                    field: "overrides".into(),
                    message: e.to_string(),
                });
            }
        }
        if scenarios.is_empty() && problems.is_empty() {
            problems.push(request_problem("scenario", "no scenario to run".into()));
        }
        if let Some(detail) = detail.as_ref().filter(|_| problems.is_empty()) {
            let rows_per_month = rows_per_month(&workforce, detail);
            let rows: usize = scenarios
                .iter()
                .map(|s| s.months * rows_per_month * draw_count(s))
                .sum();
            if rows > request.max_result_rows {
                return Err(PlanError::TooManyRows {
                    rows,
                    max: request.max_result_rows,
                });
            }
        }
        match detail {
            Some(detail) if problems.is_empty() => Ok(RunPlan {
                dataset: request.dataset,
                data_hash: workforce.fingerprint(),
                workforce,
                scenarios,
                options: RunOptions {
                    detail,
                    time_budget: request.time_budget,
                    draws: None,
                },
                rules_hash: rules.fingerprint.clone(),
            }),
            _ => Err(PlanError::Invalid(problems)),
        }
    }

    /// What the database records of a scenario run before its results.
    pub fn record(&self, scenario: &Scenario, batch_id: i64) -> RunRecord {
        RunRecord {
            batch_id,
            scenario: scenario.name.clone(),
            scenario_hash: scenario_hash(scenario),
            rules_hash: self.rules_hash.clone(),
            data_hash: self.data_hash.clone(),
            detail: self.options.detail.label(),
            start_month: scenario.start.to_string(),
            months: scenario.months,
            dataset: self.dataset.clone(),
            draws: scenario.monte_carlo.map_or(0, |m| m.draws),
            seed: scenario.monte_carlo.map_or(0, |m| m.seed),
        }
    }

    /// The records of every scenario run of the plan, under one batch id.
    pub fn records(&self, batch_id: i64) -> Vec<RunRecord> {
        self.scenarios
            .iter()
            .map(|s| self.record(s, batch_id))
            .collect()
    }

    /// Segment-months over all the plan's scenarios: the size of the work.
    pub fn segment_months(&self) -> usize {
        self.scenarios
            .iter()
            .map(|s| s.months * self.workforce.len() * draw_count(s))
            .sum()
    }

    /// Result rows (row by month) the plan's runs will store.
    pub fn result_rows(&self) -> usize {
        let per_month = rows_per_month(&self.workforce, &self.options.detail);
        self.scenarios
            .iter()
            .map(|s| s.months * per_month * draw_count(s))
            .sum()
    }

    /// The key columns of the stored results: every key at segment detail, the grouping
    /// keys otherwise.
    pub fn result_keys(&self) -> Vec<String> {
        match &self.options.detail {
            Detail::Segment => self.workforce.key_names.clone(),
            Detail::GroupBy(keys) => keys.clone(),
        }
    }
}

/// SHA-256 of a checked scenario, as its runs record it: a scenario read again later is
/// the one a run ran when the hashes are equal.
pub fn scenario_hash(scenario: &Scenario) -> String {
    let json = serde_json::to_string(scenario).unwrap_or_default();
    crate::model::hex(&Sha256::digest(json.as_bytes()))
}

/// Rows a run stores each month: a row per segment, or per distinct group of keys.
/// Draws a scenario's run makes: draw 0, and the random draws of a Monte Carlo run.
fn draw_count(scenario: &crate::model::Scenario) -> usize {
    scenario.monte_carlo.map_or(1, |m| m.draws as usize + 1)
}

fn rows_per_month(workforce: &Workforce, detail: &Detail) -> usize {
    match detail {
        Detail::Segment => workforce.len(),
        Detail::GroupBy(keys) => {
            let columns: Vec<_> = keys.iter().filter_map(|k| workforce.key(k)).collect();
            let groups: std::collections::HashSet<Vec<u32>> = (0..workforce.len())
                .map(|i| columns.iter().map(|c| c.codes[i]).collect())
                .collect();
            groups.len().max(1)
        }
    }
}
