//! The `wfplan` command line: `run`, `import`, `check`, `compare`, `rules`, `generate`,
//! `init` and `serve`.
//!
//! An adapter: it parses arguments, calls the application layer ([`crate::app`]) and
//! prints what it returns. It plans, records and judges nothing itself.
//!
//! Exit codes: 0 when everything succeeded; 1 when a scenario failed at run time (the others
//! still complete and are stored); 2 for bad usage or bad input (data, rules or scenarios).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

mod calibrate;

use crate::app::attribution::{self, AttributionError, AttributionRequest, Method};
use crate::app::compare::Side;
use crate::app::execute::{begin_batch, run_batch, BatchControl};
use crate::app::plan::request_problem;
use crate::app::project::{self, Loaded, Named};
use crate::app::seek::{self, SeekError, SeekRequest};
use crate::app::trace::{self as app_trace, TraceError};
use crate::app::{PlanError, RunPlan, RunRequest};
use crate::data::export::ResultsEncoding;
use crate::data::{export, Recorder, Store};
use crate::model::{RunResults, Workforce};
use crate::report::metric::{GroupMetric, PeriodChoice};
use crate::report::{self, table, VacancyValue};
use crate::rules::RuleSet;
use crate::scenario::{Catalogue, ScenarioProblem, ScenarioSource};

#[derive(Debug, Parser)]
#[command(
    name = "wfplan",
    version,
    about = "Workforce planning what-ifs for NHS and care systems"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios in parallel, store the results and print a summary by financial year.
    Run(RunArgs),
    /// Load the `workforce` table from CSV, Excel (.xlsx) or Parquet files into the database.
    Import(ImportArgs),
    /// Compile every rule and check every scenario, listing all problems.
    Check(CheckArgs),
    /// Compare scenarios with a baseline by financial year, with the break-even of their
    /// interventions; Monte Carlo runs also draw by draw under the same draws.
    Compare(CompareArgs),
    /// A stored run's results (and its batch's), cut by key columns and period, as the
    /// API's `GET /runs/{id}/results` gives them.
    Results(ResultsArgs),
    /// What each of a scenario's interventions contributes to the change in one figure:
    /// sequential steps and Shapley values.
    Attribute(AttributeArgs),
    /// The smallest value of one field of a scenario at which a figure reaches a target.
    Seek(SeekArgs),
    /// Every quantity behind a figure of one segment and month, with the rule and line
    /// that computed it.
    Trace(TraceArgs),
    /// List the intervention kinds the rules define and the fields each reads.
    Rules(RulesArgs),
    /// Write a synthetic workforce table of any size, for benchmarks and demonstrations.
    Generate(GenerateArgs),
    /// Calibrate the workforce table from staff, absence, establishment and e-roster
    /// extracts.
    Calibrate(calibrate::CalibrateArgs),
    /// Calibrate at a past date, forecast the baseline to a later one, and compare with
    /// what the extracts show happened.
    Backtest(calibrate::BacktestArgs),
    /// Serve the REST API (OpenAPI document at /openapi.json, interactive docs at /docs).
    Serve(ServeArgs),
    /// Write editable copies of the built-in rules and scenarios into a folder.
    Init(InitArgs),
    /// Record the shards of a Monte Carlo run (`wfplan run --shard I/N`) as one run.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The folder to write `rules/` and `scenarios/` into (created if absent).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// The database file (created with the bundled sample data if absent).
    #[arg(long, default_value = "wfplan.duckdb")]
    db: PathBuf,
    /// The folder of rule scripts (default: ./rules, else the rules built into wfplan).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The folder of scenario files offered at start (default: ./scenarios, else the
    /// scenarios built into wfplan).
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// A file of API keys, one `key:read` or `key:write` per line (or set WFPLAN_API_KEYS
    /// to `key:scope,key:scope`). Without keys the server listens on loopback only.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Most background runs at once; more are refused with 429.
    #[arg(long, default_value_t = 2)]
    background_runs: usize,
    /// Milliseconds (0 to 1000) a finished small run may wait for others still computing,
    /// to share their commit (0 commits each at once).
    #[arg(long, default_value_t = 8)]
    group_commit_ms: u64,
    /// Synchronous runs computed at once (default: four per core); more wait their turn
    /// for up to ten seconds, then get 503.
    #[arg(long)]
    sync_runs: Option<usize>,
    /// Milliseconds with nothing written after which the server folds DuckDB's log into
    /// the database, rather than inside a later request's commit (0: only DuckDB's own
    /// checkpoints, every 256 MB of log).
    #[arg(long, default_value_t = 1000)]
    idle_checkpoint_ms: u64,
    /// Most result rows (rows by month, over all its scenarios) one request may store;
    /// more is refused with 422.
    #[arg(long, default_value_t = crate::app::plan::DEFAULT_MAX_RESULT_ROWS)]
    max_result_rows: usize,
    /// Results answers sent at once; more get 503. Each holds a few batches of rows
    /// however large the answer.
    #[arg(long, default_value_t = 8)]
    result_streams: usize,
    /// Megabytes DuckDB may use; a results answer that cannot be grouped within it is
    /// refused with 413.
    #[arg(long, default_value_t = 2048)]
    duckdb_memory_mb: u64,
    /// Most segment-months one attribution or goal seek may run (runs x segments x
    /// months); more is refused with 413.
    #[arg(long, default_value_t = crate::api::state::DEFAULT_MAX_ANALYSIS_SEGMENT_MONTHS)]
    max_analysis_segment_months: usize,
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Number of segments of a workforce table.
    #[arg(
        long,
        required_unless_present = "extracts",
        conflicts_with = "extracts"
    )]
    segments: Option<usize>,
    /// Seed of the random figures; the same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder to write workforce.csv into (created if absent).
    #[arg(long, required_unless_present = "extracts")]
    out: Option<PathBuf>,
    /// Instead, write synthetic staff, absence, establishment, e-roster and organisation
    /// extracts into this folder, with their true rates in its README.md.
    #[arg(long, requires = "staff")]
    extracts: Option<PathBuf>,
    /// With --extracts: assignments in post at the start of the history.
    #[arg(long)]
    staff: Option<usize>,
    /// With --extracts: years of history before 2025-04-01.
    #[arg(long, default_value_t = 5)]
    years: u32,
}

/// Where the inputs come from.
#[derive(Debug, Args)]
struct Sources {
    /// The database file: holds the workforce table and stores runs and results. Created
    /// with the bundled sample data if absent.
    #[arg(long, default_value = "wfplan.duckdb")]
    db: PathBuf,
    /// Use this workforce data instead of the database's: a folder holding workforce.csv,
    /// workforce.parquet or workforce.xlsx, one such file, or a .duckdb file.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The folder of rule scripts (default: ./rules, else the rules built into wfplan).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The folder in which scenario names are looked up (default: ./scenarios, else the
    /// scenarios built into wfplan).
    #[arg(long)]
    scenario_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    sources: Sources,
    /// Also write the results to this .csv or .parquet file, in the spec's column order.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Level of detail stored: `segment` (every segment), `total`, or key columns such as
    /// `staff_group` or `org,staff_group` (default: `segment`, or `staff_group` when a
    /// scenario is a Monte Carlo run).
    #[arg(long)]
    detail: Option<String>,
    /// Monte Carlo: run this many random draws (1 to 100,000), replacing the scenarios'
    /// `[monte_carlo]` draws.
    #[arg(long)]
    draws: Option<u64>,
    /// The seed of the draws, replacing the scenarios' `[monte_carlo]` seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Write each draw's values to this CSV file: `draw,entry,what,per_value,value`.
    #[arg(long, value_name = "FILE")]
    draws_out: Option<PathBuf>,
    /// Run only shard I of N of a Monte Carlo run's draws (I from 0, as Kubernetes numbers
    /// an indexed job's pods) and write them as Parquet files with a manifest to
    /// --shard-dir, storing nothing in the database; `wfplan merge` records the shards as
    /// one run.
    #[arg(long, value_name = "I/N", value_parser = crate::data::shards::parse_shard)]
    shard: Option<(usize, usize)>,
    /// Where a shard's files are written.
    #[arg(long, value_name = "DIR", default_value = "shards")]
    shard_dir: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Seconds the rules of one scenario may take before it is stopped.
    #[arg(long, default_value_t = 60.0)]
    time_budget: f64,
    /// Print no summaries, only failures.
    #[arg(long, short)]
    quiet: bool,
    /// Most result rows (rows by month, over all scenarios) one command may store; more
    /// is refused before anything runs. A shard may store its share: this many times the
    /// number of shards over the whole run.
    #[arg(long, default_value_t = crate::app::plan::DEFAULT_MAX_RESULT_ROWS)]
    max_result_rows: usize,
    /// Scenario files, folders of them, or scenario names.
    #[arg(default_value = "scenarios")]
    scenarios: Vec<String>,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// The database file to record the merged run in.
    #[arg(long, default_value = "wfplan.duckdb")]
    db: PathBuf,
    /// Shard manifests (`*.shard-I-of-N.json`), or folders holding them.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The database file to load into.
    #[arg(long, default_value = "wfplan.duckdb")]
    db: PathBuf,
    /// One or more files with the same columns; their rows form one table.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    sources: Sources,
    /// Scenario files, folders of them, or scenario names.
    #[arg(default_value = "scenarios")]
    scenarios: Vec<String>,
}

#[derive(Debug, Args)]
struct CompareArgs {
    #[command(flatten)]
    sources: Sources,
    /// The baseline: a scenario's name (as `wfplan run` prints it), a scenario file, or
    /// the id of a stored run.
    base: String,
    /// The scenarios to compare with it.
    #[arg(required = true)]
    others: Vec<String>,
    /// GBP a vacancy left unfilled for a year is worth in the break-even (default: the
    /// segments' mean annual pay, FTE-weighted).
    #[arg(long, value_name = "GBP", value_parser = parse_vacancy_value)]
    vacancy_value: Option<f64>,
}

fn parse_vacancy_value(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("'{text}' is not an amount of 0 GBP or more")),
    }
}

#[derive(Debug, Args)]
struct ResultsArgs {
    /// The database file holding the runs.
    #[arg(long, default_value = "wfplan.duckdb")]
    db: PathBuf,
    /// The id of a stored run: its batch's succeeded runs are read (a sweep's every run).
    run_id: i64,
    /// Key columns to keep, comma-separated (`org,staff_group`); totals when absent.
    #[arg(long, value_delimiter = ',')]
    group_by: Vec<String>,
    /// `financial_year` or `month`.
    #[arg(long, default_value = "financial_year", value_parser = ["financial_year", "month"])]
    period: String,
    /// Metrics, comma-separated: output columns and `vacancy_rate`, `leaver_rate`,
    /// `turnover`, `agency_share`; every output column when absent.
    #[arg(long, value_delimiter = ',')]
    metrics: Vec<String>,
    /// Only segments with this key value (repeat for more, all must hold).
    #[arg(long = "where", value_name = "COLUMN=VALUE", value_parser = report::metric::parse_filter)]
    filters: Vec<(String, String)>,
    /// Statistics over a Monte Carlo run's draws, comma-separated: `central` (draw 0),
    /// `mean`, `p10`, `p50`, `p90`; all of them for a Monte Carlo run when absent (unless
    /// `draw` is among --group-by, which gives each draw's figures).
    #[arg(long, value_delimiter = ',', value_parser = crate::data::query::Stat::parse)]
    stats: Vec<crate::data::query::Stat>,
    /// `table`, `csv`, `json` or `parquet` (parquet needs --out).
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json", "parquet"])]
    format: String,
    /// Write to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct AttributeArgs {
    #[command(flatten)]
    sources: Sources,
    /// The scenario: its name (as `wfplan run` prints it) or its file's stem.
    scenario: String,
    /// The baseline (default: the root of the scenario's `extends` chain). A named
    /// baseline may not have interventions or overrides the scenario lacks.
    #[arg(long)]
    baseline: Option<String>,
    /// The figure or rate: an output column (`vacancies`, `agency_cost`...) or
    /// `vacancy_rate`, `leaver_rate`, `turnover`, `agency_share`.
    #[arg(long)]
    metric: String,
    /// Only the segments with this key value (repeat for more, all must hold).
    #[arg(long = "where", value_name = "COLUMN=VALUE", value_parser = report::metric::parse_filter)]
    filters: Vec<(String, String)>,
    /// A financial year such as 2027/28 (default: the whole run).
    #[arg(long, conflicts_with = "month")]
    year: Option<String>,
    /// A month such as 2027-03.
    #[arg(long)]
    month: Option<String>,
    /// `sequential` (the waterfall in file order), `shapley` or `both`.
    #[arg(long, default_value = "both", value_parser = Method::parse)]
    method: Method,
    /// `table` or `json`.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

#[derive(Debug, Args)]
struct SeekArgs {
    #[command(flatten)]
    sources: Sources,
    /// The scenario: its name (as `wfplan run` prints it) or its file's stem.
    scenario: String,
    /// The field to vary: `interventions.N.FIELD` or `overrides.N.COLUMN`, N counted from
    /// 1 in the scenario's lists after `extends`.
    #[arg(long)]
    field: String,
    /// The values to search, `LO:HI`.
    #[arg(long, value_parser = parse_range)]
    range: (f64, f64),
    /// The figure or rate: an output column or `vacancy_rate`, `leaver_rate`, `turnover`,
    /// `agency_share`.
    #[arg(long)]
    metric: String,
    /// Only the segments with this key value (repeat for more, all must hold).
    #[arg(long = "where", value_name = "COLUMN=VALUE", value_parser = report::metric::parse_filter)]
    filters: Vec<(String, String)>,
    /// A financial year such as 2029/30.
    #[arg(long, required_unless_present = "month", conflicts_with = "month")]
    year: Option<String>,
    /// A month such as 2029-03.
    #[arg(long)]
    month: Option<String>,
    /// The value the metric must reach.
    #[arg(long, allow_negative_numbers = true)]
    target: f64,
    /// How close to the smallest value the answer must be (default: a thousandth of the
    /// range; 1 with --integer).
    #[arg(long)]
    tolerance: Option<f64>,
    /// Only whole values (cohort sizes, course lengths).
    #[arg(long)]
    integer: bool,
    /// `table` or `json`.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

fn parse_range(text: &str) -> Result<(f64, f64), String> {
    let parsed = text
        .split_once(':')
        .and_then(|(lo, hi)| Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?)));
    parsed.ok_or_else(|| format!("'{text}' is not a range; write it as LO:HI, for example 0:500"))
}

#[derive(Debug, Args)]
struct TraceArgs {
    #[command(flatten)]
    sources: Sources,
    /// A scenario (its name or file stem), or the id of a stored run.
    scenario: String,
    /// The segment's key values, such as org=riverside_acute,staff_group=physiotherapy,band=5.
    #[arg(long)]
    segment: String,
    /// The month, such as 2027-03.
    #[arg(long)]
    month: String,
    /// Only this figure and what it depends on.
    #[arg(long)]
    figure: Option<String>,
    /// A draw of a Monte Carlo run (0 is the central run): the trace of that draw, its
    /// drawn values applied.
    #[arg(long)]
    draw: Option<u64>,
    /// `table` or `json`.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

#[derive(Debug, Args)]
struct RulesArgs {
    /// The folder of rule scripts (default: ./rules, else the rules built into wfplan).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The folder in which scenario names are looked up (default: ./scenarios, else the
    /// scenarios built into wfplan).
    #[arg(long)]
    scenario_dir: Option<PathBuf>,
}

/// A failure that decides the exit code.
#[derive(Debug)]
enum Failure {
    /// Bad input: exit 2.
    Input(anyhow::Error),
    /// Scenarios failed while running: exit 1.
    Runs(usize),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Input(e)
    }
}

impl From<crate::data::DataError> for Failure {
    fn from(e: crate::data::DataError) -> Self {
        Failure::Input(e.into())
    }
}

/// Prints every problem, one a line, and fails with their count.
fn problems<P: std::fmt::Display>(what: &str, problems: &[P]) -> Failure {
    for p in problems {
        eprintln!("error: {p}");
    }
    Failure::Input(anyhow::anyhow!(
        "{} problem(s) in the {what}",
        problems.len()
    ))
}

pub fn main() -> ExitCode {
    // Warnings show by default (a skipped scenario, a database being converted); without
    // a default directive only errors did. `WFPLAN_LOG=wfplan=debug` shows more.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::builder()
                .with_default_directive(tracing::level_filters::LevelFilter::WARN.into())
                .with_env_var("WFPLAN_LOG")
                .from_env_lossy(),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let outcome = match cli.command {
        Command::Run(args) => run(args),
        Command::Import(args) => import(args),
        Command::Check(args) => check(args),
        Command::Compare(args) => compare(args),
        Command::Results(args) => results(args),
        Command::Attribute(args) => attribute(args),
        Command::Seek(args) => seek(args),
        Command::Trace(args) => trace(args),
        Command::Rules(args) => list_rules(args),
        Command::Generate(args) => generate(args),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Backtest(args) => calibrate::backtest(args),
        Command::Serve(args) => serve(args),
        Command::Init(args) => init(args),
        Command::Merge(args) => merge(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Runs(n)) => {
            eprintln!("error: {n} scenario(s) failed");
            ExitCode::from(1)
        }
        // A reader that stopped reading (`wfplan results ... | head`) is not an error.
        Err(Failure::Input(e))
            if e.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(Failure::Input(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The rules: `--rules`, else ./rules, else the built-in rules (said once on stderr).
fn load_rules(named: Option<&Path>) -> Result<RuleSet, Failure> {
    let loaded = project::load_rules(named).map_err(|p| problems("rules", &p.0))?;
    if let Some(notice) = loaded.notice("rules") {
        eprintln!("{notice}");
    }
    Ok(loaded.value)
}

/// The scenarios names refer to: `--scenario-dir`, else ./scenarios, else the built-in
/// scenarios (said once on stderr).
fn scenario_catalogue(named: Option<&Path>) -> Result<Loaded<Catalogue>, Failure> {
    let (catalogue, unreadable) = project::scenario_catalogue(named);
    if !unreadable.is_empty() {
        return Err(problems("scenarios", &unreadable));
    }
    if let Some(notice) = catalogue.notice("scenarios") {
        eprintln!("{notice}");
    }
    Ok(catalogue)
}

/// The workforce to run on: `--data`, else the database's table, else the bundled sample,
/// which is then stored in the database for next time. Also its dataset name for runs.
fn load_workforce(sources: &Sources, recorder: &Recorder) -> Result<(Workforce, String)> {
    if let Some(path) = &sources.data {
        let workforce = crate::data::read_workforce(path)
            .with_context(|| format!("cannot read the workforce data {}", path.display()))?;
        return Ok((workforce, path.display().to_string()));
    }
    let (workforce, created) = project::default_workforce(&mut recorder.store())
        .context("cannot read or create the workforce table")?;
    if created {
        eprintln!(
            "created the workforce table in {} from the bundled sample ICS ({} segments)",
            sources.db.display(),
            workforce.len()
        );
    }
    Ok((
        workforce,
        crate::data::datasets::DEFAULT_DATASET.to_string(),
    ))
}

fn open_recorder(db: &Path) -> Result<Recorder> {
    let store = Store::open(db).with_context(|| format!("cannot open {}", db.display()))?;
    // The command line records batches only; small runs' group commits never wait.
    Ok(Recorder::new(store, Duration::ZERO))
}

/// The scenario documents the user named, with every problem found.
fn named_scenarios(
    names: &[String],
    catalogue: &Loaded<Catalogue>,
) -> (Vec<ScenarioSource>, Vec<ScenarioProblem>) {
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for name in names {
        let (named, found) = project::named_scenarios(name, catalogue, false);
        problems.extend(found);
        if let Named::Scenarios(found) = named {
            sources.extend(found);
        }
    }
    (sources, problems)
}

/// Loads the rules, the scenarios named and the workforce, and checks them into a plan;
/// prints every problem (of naming or of checking) and fails with exit 2 if there is any.
/// Returns the rules, the database's recorder and the plan.
fn plan(
    sources: &Sources,
    names: &[String],
    detail: &str,
    monte_carlo: crate::app::plan::DrawOverride,
    time_budget: f64,
    max_result_rows: usize,
) -> Result<(RuleSet, Recorder, RunPlan), Failure> {
    let rules = load_rules(sources.rules.as_deref())?;
    let catalogue = scenario_catalogue(sources.scenario_dir.as_deref())?;
    let recorder = open_recorder(&sources.db)?;
    let (workforce, dataset) = load_workforce(sources, &recorder)?;
    let (scenarios, mut found) = named_scenarios(names, &catalogue);
    // A budget that is not a positive number of seconds is refused by the plan.
    let time_budget = Duration::try_from_secs_f64(time_budget).unwrap_or(Duration::ZERO);
    let request = RunRequest {
        monte_carlo,
        dataset,
        scenarios,
        detail: detail.to_string(),
        time_budget,
        max_runs: usize::MAX,
        max_result_rows,
    };
    match RunPlan::new(&rules, Arc::new(workforce), request) {
        Ok(plan) if found.is_empty() => Ok((rules, recorder, plan)),
        Ok(_) => Err(problems("scenarios", &found)),
        Err(PlanError::Invalid(more)) => {
            found.extend(more);
            Err(problems("scenarios", &found))
        }
        Err(e) => Err(Failure::Input(e.into())),
    }
}

fn run(args: RunArgs) -> Result<(), Failure> {
    // A shard stores about its share of the run's rows.
    let max_result_rows = match args.shard {
        Some((_, shards)) => args.max_result_rows.saturating_mul(shards),
        None => args.max_result_rows,
    };
    let (rules, recorder, plan) = plan(
        &args.sources,
        &args.scenarios,
        args.detail.as_deref().unwrap_or_default(),
        crate::app::plan::DrawOverride {
            draws: args.draws,
            seed: args.seed,
        },
        args.time_budget,
        max_result_rows,
    )?;
    let monte_carlo_runs = plan
        .scenarios
        .iter()
        .filter(|s| s.monte_carlo.is_some())
        .count();
    for s in &plan.scenarios {
        if s.monte_carlo.is_some() && s.uncertain.is_empty() {
            eprintln!(
                "warning: scenario {} has draws but no [[uncertain]] entries: every draw is the central run",
                s.name
            );
        }
    }
    if args.draws_out.is_some() && monte_carlo_runs > 1 {
        return Err(Failure::Input(anyhow::anyhow!(
            "--draws-out writes one Monte Carlo run's draws: name one scenario with [monte_carlo]"
        )));
    }
    let monte_carlo = plan.scenarios.iter().any(|s| s.monte_carlo.is_some());
    if let Some(shard) = args.shard {
        drop(recorder);
        return run_shard(&args, &rules, plan, shard);
    }
    let batch = begin_batch(&recorder, &plan).context("cannot record the runs")?;

    let progress = ProgressBar::new(plan.scenarios.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} scenarios {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    if plan.scenarios.len() < 2 {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    // A Monte Carlo run's rows are written from the store: they were stored a block of
    // draws at a time, never all held at once.
    let keep_rows = !monte_carlo
        && args
            .out
            .as_ref()
            .is_some_and(|p| p.extension().is_none_or(|e| e != "parquet"));
    let count = plan.scenarios.len();
    let mut summaries: Vec<Option<(Vec<report::Period>, Duration)>> = vec![None; count];
    let mut kept: Vec<Option<RunResults>> = vec![None; count];
    let started = Instant::now();
    let report = run_batch(
        &rules,
        &recorder,
        &plan,
        &batch,
        args.threads,
        &BatchControl::default(),
        |finished| {
            progress.inc(1);
            match finished.result {
                Ok(results) => {
                    summaries[finished.index] =
                        Some((report::by_financial_year(results), finished.elapsed));
                    if keep_rows {
                        kept[finished.index] = Some(results.clone());
                    }
                }
                Err(message) => progress.suspend(|| {
                    eprintln!("error: scenario {} failed: {message}", finished.scenario)
                }),
            }
        },
    )
    .map_err(|e| Failure::Input(e.into()))?;
    progress.finish_and_clear();

    let done: Vec<i64> = batch
        .run_ids
        .iter()
        .zip(&summaries)
        .filter(|(_, s)| s.is_some())
        .map(|(id, _)| *id)
        .collect();
    if !args.quiet {
        print_summaries(&plan, &summaries, started.elapsed(), &args.sources.db);
        print_bands(&plan, &batch.run_ids, &summaries, &recorder)?;
    }
    if let Some(path) = &args.draws_out {
        export::write_draws_csv(&recorder.store(), path, &done)?;
        if !args.quiet {
            println!("wrote {}", path.display());
        }
    }
    if let Some(out) = &args.out {
        if keep_rows {
            let runs: Vec<&RunResults> = kept.iter().flatten().collect();
            export::write_csv(out, &runs)?;
        } else {
            export::write_stored(
                &recorder.store(),
                out,
                &done,
                &plan.result_keys(),
                monte_carlo,
            )?;
        }
        if !args.quiet {
            println!("wrote {}", out.display());
        }
    }
    if report.failed > 0 {
        return Err(Failure::Runs(report.failed));
    }
    Ok(())
}

/// Runs one shard of a Monte Carlo run's draws on a database in memory and writes them
/// as the shard's files.
fn run_shard(
    args: &RunArgs,
    rules: &RuleSet,
    mut plan: RunPlan,
    (shard, shards): (usize, usize),
) -> Result<(), Failure> {
    use crate::data::shards::{shard_draws, write_shard, ShardManifest};
    let mc = match plan.scenarios.as_slice() {
        [s] => s.monte_carlo,
        _ => None,
    }
    .ok_or_else(|| {
        Failure::Input(anyhow::anyhow!(
            "--shard splits the draws of one Monte Carlo scenario: name one scenario with [monte_carlo] (or give --draws)"
        ))
    })?;
    let draws = shard_draws(mc.draws, shard, shards);
    plan.options.draws = Some(draws.clone());
    // A database file of the shard's own, beside its files and removed after, not one in
    // memory: a shard of many draws is stored as it runs, and DuckDB keeps in memory only
    // what its memory limit allows.
    std::fs::create_dir_all(&args.shard_dir)
        .with_context(|| format!("cannot make {}", args.shard_dir.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix(".wfplan-shard-")
        .tempdir_in(&args.shard_dir)
        .with_context(|| format!("cannot write in {}", args.shard_dir.display()))?;
    let recorder = Recorder::new(
        Store::open(&scratch.path().join("shard.duckdb"))?,
        Duration::ZERO,
    );
    let batch = begin_batch(&recorder, &plan).context("cannot record the run")?;
    let started = Instant::now();
    let mut failure = None;
    run_batch(
        rules,
        &recorder,
        &plan,
        &batch,
        args.threads,
        &BatchControl::default(),
        |finished| {
            if let Err(message) = finished.result {
                failure = Some(message);
            }
        },
    )
    .map_err(|e| Failure::Input(e.into()))?;
    if let Some(message) = failure {
        eprintln!("error: shard {shard} of {shards} failed: {message}");
        return Err(Failure::Runs(1));
    }
    let manifest = ShardManifest {
        run: plan.record(&plan.scenarios[0], batch.batch_id),
        shard,
        shards,
        first_draw: draws.start,
        end_draw: draws.end,
        key_names: plan.result_keys(),
        results_file: String::new(),
        draws_file: String::new(),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    let path = write_shard(
        &recorder.store(),
        batch.run_ids[0],
        &args.shard_dir,
        manifest,
    )?;
    if !args.quiet {
        println!(
            "shard {shard} of {shards}: draws {} to {} of {} ran in {:.2} s; wrote {}",
            draws.start,
            draws.end - 1,
            mc.draws,
            started.elapsed().as_secs_f64(),
            path.display()
        );
    }
    Ok(())
}

fn merge(args: MergeArgs) -> Result<(), Failure> {
    use crate::data::shards::{check_shards, find_manifests};
    let shards = find_manifests(&args.shards)?;
    check_shards(&shards).map_err(|message| Failure::Input(anyhow::anyhow!(message)))?;
    let recorder = open_recorder(&args.db)?;
    let run_id = recorder.store().merge_shards(&shards)?;
    let first = &shards[0].1;
    println!(
        "merged {} shard(s) of {} as run {run_id} in {}",
        shards.len(),
        first.run.scenario,
        args.db.display()
    );
    print_run_bands(
        &recorder,
        run_id,
        &first.run.scenario,
        crate::model::uncertainty::MonteCarlo {
            draws: first.run.draws,
            seed: first.run.seed,
        },
        &first.run.detail,
    )
}

/// For each Monte Carlo run: the central value and the 80% band of the figures a
/// workforce lead reads first, by financial year, from the stored draws.
fn print_bands(
    plan: &RunPlan,
    run_ids: &[i64],
    summaries: &[Option<(Vec<report::Period>, Duration)>],
    recorder: &Recorder,
) -> Result<(), Failure> {
    for ((scenario, run_id), summary) in plan.scenarios.iter().zip(run_ids).zip(summaries) {
        let (Some(mc), Some(_)) = (scenario.monte_carlo, summary) else {
            continue;
        };
        print_run_bands(
            recorder,
            *run_id,
            &scenario.name,
            mc,
            &plan.options.detail.label(),
        )?;
    }
    Ok(())
}

/// A Monte Carlo run's central value and 80% band of the figures a workforce lead reads
/// first, by financial year.
fn print_run_bands(
    recorder: &Recorder,
    run_id: i64,
    scenario: &str,
    mc: crate::model::uncertainty::MonteCarlo,
    detail: &str,
) -> Result<(), Failure> {
    use crate::data::query::{Period as QueryPeriod, ResultsQuery, Stat};
    {
        let metrics = [
            "fte",
            "vacancies",
            "vacancy_rate",
            "agency_cost",
            "intervention_cost",
        ];
        let stats = [Stat::Central, Stat::P10, Stat::P50, Stat::P90];
        let query = ResultsQuery {
            run_ids: vec![run_id],
            group_by: Vec::new(),
            period: QueryPeriod::FinancialYear,
            metrics: metrics.iter().map(|m| m.to_string()).collect(),
            filters: Vec::new(),
            stats: stats.to_vec(),
        };
        let table = recorder
            .store()
            .results(&query, &[detail.to_string()])
            .map_err(|e| Failure::Input(anyhow::anyhow!("{e}")))?;
        println!(
            "{scenario}: {} random draws (seed {}) and the central run; central value and 80% band (p10 to p90) by financial year",
            mc.draws, mc.seed
        );
        let mut lines: Vec<Vec<String>> = vec![std::iter::once(String::new())
            .chain(table.rows.iter().map(|r| r.period.clone()))
            .collect()];
        for (m, metric) in metrics.iter().enumerate() {
            let rate = metric.ends_with("_rate");
            let show = |x: f64| {
                if rate {
                    format!("{:.1}%", x * 100.0)
                } else {
                    table::number(x, 0)
                }
            };
            for (s, stat) in stats.iter().enumerate() {
                let mut line = vec![format!("  {metric} {}", stat.name())];
                line.extend(
                    table
                        .rows
                        .iter()
                        .map(|r| show(r.values[m * stats.len() + s])),
                );
                lines.push(line);
            }
        }
        let widths: Vec<usize> = (0..lines[0].len())
            .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
            .collect();
        for line in lines {
            let cells: Vec<String> = line
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, w))| {
                    if c == 0 {
                        format!("{cell:w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            println!("{}", cells.join("  "));
        }
    }
    Ok(())
}

/// Detailed tables for a handful of scenarios; one line each for a large batch.
fn print_summaries(
    plan: &RunPlan,
    summaries: &[Option<(Vec<report::Period>, Duration)>],
    elapsed: Duration,
    db: &Path,
) {
    const DETAILED: usize = 10;
    let ran = summaries.iter().flatten().count();
    for (s, summary) in plan.scenarios.iter().zip(summaries) {
        let Some((years, took)) = summary else {
            continue;
        };
        if s.monte_carlo.is_some() {
            // Its bands are printed from the stored draws.
            continue;
        }
        if ran <= DETAILED {
            println!(
                "{}: {}\n  {} months from {}, ran in {:.0} ms\n{}",
                s.name,
                s.description.trim(),
                s.months,
                s.start,
                took.as_secs_f64() * 1000.0,
                table::summary(years)
            );
        } else {
            let last = years.last().expect("a run has at least one month");
            println!(
                "{}: {} staff in post, vacancy rate {:.1}%, intervention cost {} GBP in {}",
                s.name,
                table::number(last.get(crate::model::results::Metric::Fte), 1),
                last.vacancy_rate() * 100.0,
                table::number(last.get(crate::model::results::Metric::InterventionCost), 0),
                last.label
            );
        }
    }
    println!(
        "{ran} of {} scenario(s) ran in {:.2} s; results stored in {}",
        plan.scenarios.len(),
        elapsed.as_secs_f64(),
        db.display()
    );
}

fn import(args: ImportArgs) -> Result<(), Failure> {
    let workforce = crate::data::read_workforce_files(&args.files)?;
    let mut store =
        Store::open(&args.db).with_context(|| format!("cannot open {}", args.db.display()))?;
    store.replace_workforce(&workforce)?;
    let fte = workforce.input(crate::model::InputColumn::Fte).sum();
    let establishment = workforce
        .input(crate::model::InputColumn::Establishment)
        .sum();
    println!(
        "imported {} segments into {} (staff in post {} FTE, establishment {} FTE; key columns {})",
        workforce.len(),
        args.db.display(),
        table::number(fte, 1),
        table::number(establishment, 1),
        workforce.key_names.join(", ")
    );
    Ok(())
}

fn check(args: CheckArgs) -> Result<(), Failure> {
    let (rules, _, plan) = plan(
        &args.sources,
        &args.scenarios,
        "segment",
        Default::default(),
        crate::rules::sandbox::DEFAULT_TIME_BUDGET.as_secs_f64(),
        usize::MAX, // nothing is stored
    )?;
    println!(
        "ok: {} intervention kinds compiled, {} scenario run(s) checked against {} segments",
        rules.kinds.len(),
        plan.scenarios.len(),
        plan.workforce.len(),
    );
    Ok(())
}

fn compare(args: CompareArgs) -> Result<(), Failure> {
    let rules = load_rules(args.sources.rules.as_deref())?;
    let catalogue = scenario_catalogue(args.sources.scenario_dir.as_deref())?;
    let recorder = open_recorder(&args.sources.db)?;
    let (workforce, _) = load_workforce(&args.sources, &recorder)?;
    let mut sides = Vec::new();
    let mut found = Vec::new();
    for name in std::iter::once(&args.base).chain(&args.others) {
        let (named, problems) = project::named_scenarios(name, &catalogue, true);
        if !problems.is_empty() {
            found.extend(problems);
            continue;
        }
        match named {
            Named::Run(id) => sides.push(Side::Run(id)),
            Named::Scenarios(mut sources) if sources.len() == 1 => {
                sides.push(Side::Scenario(sources.remove(0)))
            }
            Named::Scenarios(sources) => found.push(ScenarioProblem {
                file: name.clone(),
                field: String::new(),
                message: format!(
                    "names {} scenarios; compare names one scenario at a time",
                    sources.len()
                ),
            }),
        }
    }
    if !found.is_empty() {
        return Err(problems("scenarios", &found));
    }
    let baseline = sides.remove(0);
    let comparisons = crate::app::compare::compare(
        &rules,
        &recorder,
        Arc::new(workforce),
        baseline,
        sides,
        crate::rules::sandbox::DEFAULT_TIME_BUDGET,
        args.vacancy_value
            .map_or(VacancyValue::AnnualPay, VacancyValue::Stated),
    );
    match comparisons {
        Ok(comparisons) => {
            for c in &comparisons {
                println!("{}", table::comparison(c));
                if let Some(u) = &c.uncertainty {
                    println!("{}", table::uncertain_comparison(u));
                }
            }
            Ok(())
        }
        Err(e @ crate::app::compare::CompareError::RunFailed { .. }) => {
            eprintln!("error: {e}");
            Err(Failure::Runs(1))
        }
        Err(e) => Err(Failure::Input(e.into())),
    }
}

fn results(args: ResultsArgs) -> Result<(), Failure> {
    use crate::data::query::{Period as QueryPeriod, ResultsQuery};
    use crate::model::RunStatus;
    use std::io::Write;

    let recorder = open_recorder(&args.db)?;
    let (reader, columns, complete) = {
        let store = recorder.store();
        let batch = store.batch_of(args.run_id)?.ok_or_else(|| {
            Failure::Input(anyhow::anyhow!(
                "no run {} in {}",
                args.run_id,
                args.db.display()
            ))
        })?;
        let batch_runs = store.batch_runs(batch)?;
        let complete = !batch_runs.iter().any(|r| r.status == RunStatus::Running);
        let runs: Vec<_> = batch_runs
            .into_iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .collect();
        let query = ResultsQuery {
            run_ids: runs.iter().map(|r| r.run_id).collect(),
            group_by: args.group_by.clone(),
            period: if args.period == "month" {
                QueryPeriod::Month
            } else {
                QueryPeriod::FinancialYear
            },
            metrics: args.metrics.clone(),
            filters: args.filters.clone(),
            stats: crate::data::query::choose_stats(&runs, &args.stats, &args.group_by)
                .map_err(|p| Failure::Input(anyhow::anyhow!("--stats: {}", p.message)))?,
        };
        let details: Vec<String> = runs.iter().map(|r| r.detail.clone()).collect();
        let reader =
            store
                .results_reader(&query, &details)
                .map_err(|e| match e {
                    crate::data::query::QueryOutcome::Problem(p) => Failure::Input(
                        anyhow::anyhow!("--{}: {}", p.parameter.replace('_', "-"), p.message),
                    ),
                    crate::data::query::QueryOutcome::Data(e) => Failure::Input(e.into()),
                })?;
        let columns = reader.columns().to_vec();
        (reader, columns, complete)
    };
    let reader_metrics = reader.value_columns();
    if args.format == "parquet" {
        let out = args.out.as_ref().ok_or_else(|| {
            Failure::Input(anyhow::anyhow!(
                "--format parquet writes a file: give --out FILE.parquet"
            ))
        })?;
        reader.write_parquet(out)?;
        return Ok(());
    }
    let mut output: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut written: Result<(), std::io::Error> = Ok(());
    match args.format.as_str() {
        "csv" | "json" => {
            // As the API's answer: the same encoding, a batch at a time.
            let encoding = if args.format == "csv" {
                ResultsEncoding::Csv
            } else {
                ResultsEncoding::Json {
                    run: args.run_id,
                    complete,
                }
            };
            let mut write = |bytes: Result<Vec<u8>, String>| {
                let bytes = bytes.map_err(std::io::Error::other)?;
                output.write_all(&bytes)
            };
            write(encoding.head(&columns)).context("cannot write the results")?;
            let mut first = true;
            reader.read(|rows| {
                let empty = rows.is_empty();
                written = write(encoding.rows(&columns, rows, first));
                first &= empty;
                written.is_ok()
            })?;
            write(Ok(encoding.tail())).context("cannot write the results")?;
        }
        _ => {
            // A table for reading: every row read first to size the columns, which is
            // for answers a person reads, not for large ones (use csv for those).
            let keys = columns.len() - 2 - reader_metrics;
            let mut table: Vec<Vec<String>> = vec![columns.clone()];
            reader.read(|rows| {
                for row in rows {
                    table.push(
                        [row.scenario, row.period]
                            .into_iter()
                            .chain(row.keys)
                            .chain(row.values.iter().zip(&columns[2 + keys..]).map(
                                |(v, column)| {
                                    // Rates are shares; figures are FTE, hours or pounds.
                                    let rate = crate::model::results::DERIVED
                                        .iter()
                                        .any(|d| column.starts_with(d));
                                    table::number(*v, if rate { 4 } else { 2 })
                                },
                            ))
                            .collect(),
                    );
                }
                true
            })?;
            let widths: Vec<usize> = (0..columns.len())
                .map(|c| table.iter().map(|r| r[c].len()).max().unwrap_or(0))
                .collect();
            for row in &table {
                let cells: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .enumerate()
                    .map(|(c, (cell, w))| {
                        if c < 2 + keys {
                            format!("{cell:w$}")
                        } else {
                            format!("{cell:>w$}")
                        }
                    })
                    .collect();
                writeln!(output, "{}", cells.join("  ").trim_end())
                    .context("cannot write the results")?;
            }
        }
    }
    written.context("cannot write the results")?;
    output.flush().context("cannot write the results")?;
    Ok(())
}

/// What `attribute` and `seek` both start from: the rules, the scenarios, the workforce
/// and the metric checked against it.
struct Analysis {
    rules: RuleSet,
    catalogue: Loaded<Catalogue>,
    workforce: Workforce,
    metric: GroupMetric,
}

fn analysis(
    sources: &Sources,
    metric: &str,
    filters: &[(String, String)],
    year: Option<&str>,
    month: Option<&str>,
) -> Result<Analysis, Failure> {
    let rules = load_rules(sources.rules.as_deref())?;
    let catalogue = scenario_catalogue(sources.scenario_dir.as_deref())?;
    let recorder = open_recorder(&sources.db)?;
    let (workforce, _) = load_workforce(sources, &recorder)?;
    let usage =
        |field: &str, message: String| problems("request", &[request_problem(field, message)]);
    let period = PeriodChoice::parse(year, month).map_err(|m| usage("period", m))?;
    let metric = GroupMetric::checked(metric, filters, period, &workforce)
        .map_err(|(field, m)| usage(field, m))?;
    Ok(Analysis {
        rules,
        catalogue,
        workforce,
        metric,
    })
}

fn attribute(args: AttributeArgs) -> Result<(), Failure> {
    let Analysis {
        rules,
        catalogue,
        workforce,
        metric,
    } = analysis(
        &args.sources,
        &args.metric,
        &args.filters,
        args.year.as_deref(),
        args.month.as_deref(),
    )?;
    let baseline_name = match &args.baseline {
        Some(name) => name.clone(),
        None => catalogue
            .value
            .root(&args.scenario)
            .unwrap_or(args.scenario.clone()),
    };
    let resolve = |name: &str| {
        catalogue
            .value
            .resolve(name)
            .map_err(|p| problems("scenarios", &[p]))
    };
    let request = AttributionRequest {
        scenario: resolve(&args.scenario)?,
        baseline: resolve(&baseline_name)?,
        baseline_named: args.baseline.is_some(),
        metric,
        method: args.method,
        time_budget: crate::rules::sandbox::DEFAULT_TIME_BUDGET,
        max_segment_months: usize::MAX,
    };
    match attribution::attribute(&rules, Arc::new(workforce), &request) {
        Ok(a) if args.format == "json" => {
            println!(
                "{}",
                serde_json::to_string_pretty(&attribution_json(&a)).expect("numbers")
            );
            Ok(())
        }
        Ok(a) => {
            println!("{}", table::attribution(&a));
            Ok(())
        }
        Err(AttributionError::Invalid(found)) => Err(problems("scenarios", &found)),
        Err(e @ AttributionError::RunFailed { .. }) => {
            eprintln!("error: {e}");
            Err(Failure::Runs(1))
        }
        Err(e) => Err(Failure::Input(e.into())),
    }
}

fn seek(args: SeekArgs) -> Result<(), Failure> {
    let Analysis {
        rules,
        catalogue,
        workforce,
        metric,
    } = analysis(
        &args.sources,
        &args.metric,
        &args.filters,
        args.year.as_deref(),
        args.month.as_deref(),
    )?;
    let request = SeekRequest {
        scenario: catalogue
            .value
            .resolve(&args.scenario)
            .map_err(|p| problems("scenarios", &[p]))?,
        field: args.field.clone(),
        lo: args.range.0,
        hi: args.range.1,
        metric,
        target: args.target,
        tolerance: args.tolerance,
        integer: args.integer,
        time_budget: crate::rules::sandbox::DEFAULT_TIME_BUDGET,
        max_segment_months: usize::MAX,
    };
    match seek::seek(&rules, Arc::new(workforce), &request) {
        Ok(s) if args.format == "json" => {
            let json = serde_json::json!({
                "value": s.value,
                "metric_value": s.metric_value,
                "reached": s.reached(),
                "runs": s.runs,
                "lo_metric": s.lo_metric,
                "hi_metric": s.hi_metric,
            });
            println!("{}", serde_json::to_string_pretty(&json).expect("numbers"));
            Ok(())
        }
        Ok(s) => {
            match (s.value, s.metric_value) {
                (Some(value), Some(metric_value)) => println!(
                    "{} = {} gives {} = {} ({} runs)",
                    args.field,
                    table::number(value, if args.integer { 0 } else { 3 }),
                    args.metric,
                    table::number(metric_value, 3),
                    s.runs
                ),
                _ => println!(
                    "{} does not reach {} in the range {}:{}: {} at {}, {} at {} ({} runs)",
                    args.metric,
                    args.target,
                    args.range.0,
                    args.range.1,
                    table::number(s.lo_metric, 3),
                    args.range.0,
                    table::number(s.hi_metric, 3),
                    args.range.1,
                    s.runs
                ),
            }
            Ok(())
        }
        Err(SeekError::Invalid(found)) => Err(problems("request", &found)),
        Err(e @ SeekError::RunFailed { .. }) => {
            eprintln!("error: {e}");
            Err(Failure::Runs(1))
        }
        Err(e) => Err(Failure::Input(e.into())),
    }
}

fn trace(args: TraceArgs) -> Result<(), Failure> {
    let rules = load_rules(args.sources.rules.as_deref())?;
    let catalogue = scenario_catalogue(args.sources.scenario_dir.as_deref())?;
    let recorder = open_recorder(&args.sources.db)?;
    let (workforce, _) = load_workforce(&args.sources, &recorder)?;
    let (named, found) = project::named_scenarios(&args.scenario, &catalogue, true);
    if !found.is_empty() {
        return Err(problems("scenarios", &found));
    }
    let (scenario, run) = match named {
        Named::Run(run_id) => {
            let run = recorder
                .store()
                .run(run_id)?
                .ok_or_else(|| Failure::Input(anyhow::anyhow!("no run {run_id}")))?;
            let source = catalogue
                .value
                .resolve(&run.scenario)
                .map_err(|p| problems("scenarios", &[p]))?;
            (source, Some(run))
        }
        Named::Scenarios(mut sources) if sources.len() == 1 => (sources.remove(0), None),
        Named::Scenarios(sources) => {
            return Err(Failure::Input(anyhow::anyhow!(
                "'{}' names {} scenarios; trace one",
                args.scenario,
                sources.len()
            )))
        }
    };
    let request = app_trace::TraceRequest {
        scenario,
        segment: app_trace::parse_segment(&args.segment)
            .map_err(|m| problems("request", &[request_problem("segment", m)]))?,
        month: args.month,
        figure: args.figure,
        time_budget: crate::rules::sandbox::DEFAULT_TIME_BUDGET,
        draw: args.draw,
    };
    match app_trace::trace(&rules, Arc::new(workforce), &request, run.as_ref()) {
        Ok(trace) if args.format == "json" => {
            println!(
                "{}",
                serde_json::to_string_pretty(&trace_json(&trace)).expect("numbers")
            );
            Ok(())
        }
        Ok(trace) => {
            println!("{}", table::trace(&trace));
            Ok(())
        }
        Err(TraceError::Invalid(found)) => Err(problems("request", &found)),
        Err(e @ TraceError::Run(_)) => {
            eprintln!("error: {e}");
            Err(Failure::Runs(1))
        }
        Err(e) => Err(Failure::Input(e.into())),
    }
}

/// The JSON form of a trace (the same fields as the API's answer).
pub fn trace_json(trace: &crate::engine::trace::Trace) -> serde_json::Value {
    let quantities: serde_json::Map<String, serde_json::Value> = trace
        .quantities
        .iter()
        .map(|(name, q)| {
            (
                name.clone(),
                serde_json::json!({ "value": q.value, "rule": q.rule, "line": q.line }),
            )
        })
        .collect();
    serde_json::json!({ "quantities": quantities, "depends_on": trace.depends_on })
}

/// The JSON form of an attribution (the same fields as the API's answer).
fn attribution_json(a: &report::attribution::Attribution) -> serde_json::Value {
    serde_json::json!({
        "metric": a.metric,
        "baseline_value": a.baseline_value,
        "scenario_value": a.scenario_value,
        "total_change": a.total_change,
        "runs": a.runs,
        "factors": a.factors.iter().map(|f| serde_json::json!({
            "name": f.name,
            "sequential": f.sequential,
            "shapley": f.shapley,
        })).collect::<Vec<_>>(),
    })
}

fn list_rules(args: RulesArgs) -> Result<(), Failure> {
    let rules = load_rules(args.rules.as_deref())?;
    for kind in rules.kinds.values() {
        println!(
            "{} ({} stage): {}",
            kind.name,
            kind.stage.name(),
            kind.summary
        );
        for f in &kind.fields {
            let default = match (&f.default, &f.default_columns) {
                (Some(d), _) => format!("default {d}"),
                (None, Some(columns)) => format!("default [{}]", columns.join(", ")),
                (None, None) => "required".to_string(),
            };
            println!(
                "    {:<22} {:<11} {:<26} {}",
                f.name,
                f.field_type.name(),
                default,
                f.doc
            );
        }
    }
    Ok(())
}

fn generate(args: GenerateArgs) -> Result<(), Failure> {
    if let (Some(dir), Some(staff)) = (&args.extracts, args.staff) {
        if !(1..=50).contains(&args.years) {
            return Err(Failure::Input(anyhow::anyhow!("--years must be 1 to 50")));
        }
        crate::data::generate_extracts::write_extracts(dir, staff, args.years, args.seed)
            .with_context(|| format!("cannot write the extracts into {}", dir.display()))?;
        println!(
            "wrote synthetic extracts of {staff} staff over {} years to {} (true rates in its README.md)",
            args.years,
            dir.display()
        );
        return Ok(());
    }
    let (Some(out), Some(segments)) = (&args.out, args.segments) else {
        return Err(Failure::Input(anyhow::anyhow!(
            "give --segments and --out, or --extracts and --staff"
        )));
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let path = out.join("workforce.csv");
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    crate::data::generate::write_csv(std::io::BufWriter::new(file), segments, args.seed)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {segments} segments to {}", path.display());
    Ok(())
}

fn init(args: InitArgs) -> Result<(), Failure> {
    let written = project::init(&args.dir).map_err(|e| Failure::Input(anyhow::anyhow!(e)))?;
    println!(
        "wrote {} files: the rules in {} and the scenarios in {}; run wfplan from {} to use them",
        written.len(),
        args.dir.join(project::DEFAULT_RULES).display(),
        args.dir.join(project::DEFAULT_SCENARIOS).display(),
        args.dir.display()
    );
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), Failure> {
    use crate::api::auth::ApiKeys;
    let mut keys = match std::env::var("WFPLAN_API_KEYS") {
        Ok(text) => ApiKeys::parse(&text).map_err(|e| anyhow::anyhow!("WFPLAN_API_KEYS: {e}"))?,
        Err(_) => ApiKeys::default(),
    };
    if let Some(file) = &args.key_file {
        if !keys.is_empty() {
            return Err(Failure::Input(anyhow::anyhow!(
                "give API keys either in WFPLAN_API_KEYS or with --key-file, not both"
            )));
        }
        keys = ApiKeys::from_file(file).map_err(|e| anyhow::anyhow!(e))?;
    }
    let usage = |message: &str| Err(Failure::Input(anyhow::anyhow!("{message}")));
    if args.background_runs == 0 {
        return usage("--background-runs must be at least 1");
    }
    if args.sync_runs == Some(0) {
        return usage("--sync-runs must be at least 1");
    }
    if args.group_commit_ms > 1_000 {
        // A run's answer waits for its commit: longer than a second helps no one.
        return usage("--group-commit-ms must be at most 1000");
    }
    let address: std::net::SocketAddr = args.bind.parse().map_err(|e| {
        anyhow::anyhow!(
            "--bind {}: {e}; give an address such as 127.0.0.1:8080",
            args.bind
        )
    })?;
    if keys.is_empty() && !address.ip().is_loopback() {
        return Err(Failure::Input(anyhow::anyhow!(
            "refusing to listen on {address} without API keys: set WFPLAN_API_KEYS or --key-file, or bind to 127.0.0.1"
        )));
    }
    let defaults = crate::api::state::Limits::default();
    let options = crate::api::ServeOptions {
        db: args.db,
        rules: args.rules,
        scenarios: args.scenarios,
        keys,
        limits: crate::api::state::Limits {
            background_slots: args.background_runs,
            group_wait: Duration::from_millis(args.group_commit_ms),
            sync_slots: args.sync_runs.unwrap_or(defaults.sync_slots),
            checkpoint_every: Duration::from_millis(args.idle_checkpoint_ms),
            max_result_rows: args.max_result_rows,
            result_streams: args.result_streams.max(1),
            duckdb_memory_mb: args.duckdb_memory_mb,
            max_analysis_segment_months: args.max_analysis_segment_months,
            ..defaults
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let state = crate::api::open_state(&options)?;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let local = listener.local_addr()?;
        println!("wfplan listening on http://{local} (docs at http://{local}/docs)");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let shutdown = async {
            // Without a Ctrl-C handler the server runs until it is killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        crate::api::run(listener, state, options.keys, shutdown).await
    })?;
    Ok(())
}
