//! The `wfplan` command line: `run`, `import`, `check`, `compare`, `rules`, `generate` and
//! `serve`.
//!
//! Exit codes: 0 when everything succeeded; 1 when a scenario failed at run time (the others
//! still complete and are stored); 2 for bad usage or bad input (data, rules or scenarios).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::data::store::{PendingRuns, RunRecord};
use crate::data::{export, Store};
use crate::engine::batch::{run_all, run_batch};
use crate::engine::{scenario_workforce, RunOptions};
use crate::model::{Detail, RunResults, Scenario, Workforce};
use crate::report::{self, table};
use crate::rules::RuleSet;
use crate::scenario;

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
    /// Compare scenarios with a baseline by financial year, with the break-even of their interventions.
    Compare(CompareArgs),
    /// List the intervention kinds the rules define and the fields each reads.
    Rules(RulesArgs),
    /// Write a synthetic workforce table of any size, for benchmarks and demonstrations.
    Generate(GenerateArgs),
    /// Serve the REST API (OpenAPI document at /openapi.json, interactive docs at /docs).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// The database file (created with the bundled sample data if absent).
    #[arg(long, default_value = "wfplan.duckdb")]
    db: PathBuf,
    /// The folder of rule scripts.
    #[arg(long, default_value = "rules")]
    rules: PathBuf,
    /// The folder of scenario files offered at start.
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
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
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Number of segments.
    #[arg(long)]
    segments: usize,
    /// Seed of the random figures; the same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder to write workforce.csv into (created if absent).
    #[arg(long)]
    out: PathBuf,
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
    /// The folder of rule scripts.
    #[arg(long, default_value = "rules")]
    rules: PathBuf,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    sources: Sources,
    /// Also write the results to this .csv or .parquet file, in the spec's column order.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Level of detail stored: `segment` (every segment), `total`, or key columns such as
    /// `staff_group` or `org,staff_group`.
    #[arg(long, default_value = "segment")]
    detail: String,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Seconds the rules of one scenario may take before it is stopped.
    #[arg(long, default_value_t = 60.0)]
    time_budget: f64,
    /// Print no summaries, only failures.
    #[arg(long, short)]
    quiet: bool,
    /// Scenario files or folders of them.
    #[arg(default_value = "scenarios")]
    scenarios: Vec<PathBuf>,
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
    /// Scenario files or folders of them.
    #[arg(default_value = "scenarios")]
    scenarios: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct CompareArgs {
    #[command(flatten)]
    sources: Sources,
    /// Folder in which scenario names are looked up.
    #[arg(long, default_value = "scenarios")]
    scenario_dir: PathBuf,
    /// The baseline: a scenario file, or a name in the scenario folder.
    base: String,
    /// The scenarios to compare with it.
    #[arg(required = true)]
    others: Vec<String>,
}

#[derive(Debug, Args)]
struct RulesArgs {
    /// The folder of rule scripts.
    #[arg(long, default_value = "rules")]
    rules: PathBuf,
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
        Command::Rules(args) => list_rules(args),
        Command::Generate(args) => generate(args),
        Command::Serve(args) => serve(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Runs(n)) => {
            eprintln!("error: {n} scenario(s) failed");
            ExitCode::from(1)
        }
        Err(Failure::Input(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn load_rules(dir: &Path) -> Result<RuleSet> {
    RuleSet::load(dir).with_context(|| format!("cannot load the rules in {}", dir.display()))
}

/// The workforce to run on: `--data`, else the database's table, else the bundled sample,
/// which is then stored in the database for next time.
fn load_workforce(sources: &Sources, store: &mut Store) -> Result<Workforce> {
    if let Some(path) = &sources.data {
        return crate::data::read_workforce(path)
            .with_context(|| format!("cannot read the workforce data {}", path.display()));
    }
    if let Some(workforce) = store
        .workforce()
        .context("cannot read the workforce table")?
    {
        return Ok(workforce);
    }
    let sample = crate::data::import::read_csv_text(
        "bundled sample workforce.csv",
        crate::data::SAMPLE_WORKFORCE_CSV,
    )
    .context("the bundled sample data is invalid")?;
    store
        .replace_workforce(&sample)
        .context("cannot store the sample data")?;
    eprintln!(
        "created the workforce table in {} from the bundled sample ICS ({} segments)",
        sources.db.display(),
        sample.len()
    );
    Ok(sample)
}

/// Loads, expands and checks scenarios; returns the good ones and reports the rest.
fn load_scenarios(
    paths: &[PathBuf],
    rules: &RuleSet,
    workforce: &Workforce,
) -> (Vec<Scenario>, Vec<String>) {
    let (sources, mut problems) = scenario::load_paths(paths);
    let (scenarios, more) = scenario::check_all(&sources, rules, &workforce.key_names);
    problems.extend(more);
    let mut problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let mut good = Vec::new();
    for s in scenarios {
        match scenario_workforce(workforce, &s) {
            Ok(_) => good.push(s),
            Err(e) => problems.push(format!("scenario {}: {e}", s.name)),
        }
    }
    (good, problems)
}

fn sha256(text: &str) -> String {
    crate::model::hex(&Sha256::digest(text.as_bytes()))
}

fn run(args: RunArgs) -> Result<(), Failure> {
    let rules = load_rules(&args.sources.rules)?;
    let mut store = Store::open(&args.sources.db)
        .with_context(|| format!("cannot open {}", args.sources.db.display()))?;
    let workforce = load_workforce(&args.sources, &mut store)?;
    let (scenarios, problems) = load_scenarios(&args.scenarios, &rules, &workforce);
    for p in &problems {
        eprintln!("error: {p}");
    }
    if scenarios.is_empty() {
        return Err(Failure::Input(anyhow::anyhow!("no scenario to run")));
    }
    if !(args.time_budget > 0.0 && args.time_budget.is_finite()) {
        return Err(Failure::Input(anyhow::anyhow!(
            "--time-budget must be a positive number of seconds"
        )));
    }
    let options = RunOptions {
        detail: Detail::parse(&args.detail),
        time_budget: Duration::from_secs_f64(args.time_budget),
    };
    let data_hash = workforce.fingerprint();
    let dataset = args
        .sources
        .data
        .as_ref()
        .map_or(crate::data::datasets::DEFAULT_DATASET.to_string(), |p| {
            p.display().to_string()
        });
    let batch_id = store.new_batch()?;
    let records: Vec<RunRecord> = scenarios
        .iter()
        .map(|s| RunRecord {
            batch_id,
            scenario: s.name.clone(),
            scenario_hash: sha256(&serde_json::to_string(s).unwrap_or_default()),
            rules_hash: rules.fingerprint.clone(),
            data_hash: data_hash.clone(),
            detail: options.detail.label(),
            start_month: s.start.to_string(),
            months: s.months,
            dataset: dataset.clone(),
        })
        .collect();
    let run_ids = store.begin_runs(&records)?;

    let progress = ProgressBar::new(scenarios.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} scenarios {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    if scenarios.len() < 2 {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let keep_rows = args
        .out
        .as_ref()
        .is_some_and(|p| p.extension().is_none_or(|e| e != "parquet"));
    let mut summaries: Vec<Option<(Vec<report::Period>, Duration)>> = vec![None; scenarios.len()];
    let mut kept: Vec<Option<RunResults>> = vec![None; scenarios.len()];
    let mut failed = 0;
    let mut store_error = None;
    let mut pending = PendingRuns::default();
    let started = Instant::now();
    run_batch(
        &rules,
        &workforce,
        &scenarios,
        &options,
        args.threads,
        |outcome| {
            let id = run_ids[outcome.index];
            progress.inc(1);
            match outcome.result {
                Ok(results) => {
                    summaries[outcome.index] =
                        Some((report::by_financial_year(&results), outcome.elapsed));
                    if keep_rows {
                        kept[outcome.index] = Some(results.clone());
                    }
                    if let Err(e) = pending.push(&mut store, id, results, outcome.elapsed) {
                        store_error.get_or_insert(e);
                    }
                }
                Err(e) => {
                    failed += 1;
                    let message = e.to_string();
                    progress.suspend(|| {
                        eprintln!("error: scenario {} failed: {message}", outcome.scenario)
                    });
                    let _ = store.fail_run(id, &message, outcome.elapsed);
                }
            }
        },
    )
    .context("cannot start the worker threads")?;
    if let Err(e) = pending.flush(&mut store) {
        store_error.get_or_insert(e);
    }
    progress.finish_and_clear();
    if let Some(e) = store_error {
        return Err(Failure::Input(
            anyhow::Error::new(e).context("cannot store the results"),
        ));
    }

    if !args.quiet {
        print_summaries(&scenarios, &summaries, started.elapsed(), &args.sources.db);
    }
    if let Some(out) = &args.out {
        if keep_rows {
            let runs: Vec<&RunResults> = kept.iter().flatten().collect();
            export::write_csv(out, &runs)?;
        } else {
            let done: Vec<i64> = run_ids
                .iter()
                .zip(&summaries)
                .filter(|(_, s)| s.is_some())
                .map(|(id, _)| *id)
                .collect();
            let keys = match &options.detail {
                Detail::Segment => workforce.key_names.clone(),
                Detail::GroupBy(keys) => keys.clone(),
            };
            export::write_parquet(&store, out, &done, &keys)?;
        }
        if !args.quiet {
            println!("wrote {}", out.display());
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Input(anyhow::anyhow!(
            "{} problem(s) in the scenarios",
            problems.len()
        )));
    }
    if failed > 0 {
        return Err(Failure::Runs(failed));
    }
    Ok(())
}

/// Detailed tables for a handful of scenarios; one line each for a large batch.
fn print_summaries(
    scenarios: &[Scenario],
    summaries: &[Option<(Vec<report::Period>, Duration)>],
    elapsed: Duration,
    db: &Path,
) {
    const DETAILED: usize = 10;
    let ran = summaries.iter().flatten().count();
    for (s, summary) in scenarios.iter().zip(summaries) {
        let Some((years, took)) = summary else {
            continue;
        };
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
        scenarios.len(),
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
    let rules = match RuleSet::load(&args.sources.rules) {
        Ok(rules) => rules,
        Err(problems) => {
            for p in &problems.0 {
                eprintln!("error: {p}");
            }
            return Err(Failure::Input(anyhow::anyhow!(
                "{} problem(s) in the rules",
                problems.0.len()
            )));
        }
    };
    let mut store = Store::open(&args.sources.db)
        .with_context(|| format!("cannot open {}", args.sources.db.display()))?;
    let workforce = load_workforce(&args.sources, &mut store)?;
    let (scenarios, problems) = load_scenarios(&args.scenarios, &rules, &workforce);
    for p in &problems {
        eprintln!("error: {p}");
    }
    if !problems.is_empty() {
        return Err(Failure::Input(anyhow::anyhow!(
            "{} problem(s) in the scenarios",
            problems.len()
        )));
    }
    println!(
        "ok: {} intervention kinds compiled, {} scenario run(s) checked against {} segments",
        rules.kinds.len(),
        scenarios.len(),
        workforce.len()
    );
    Ok(())
}

fn compare(args: CompareArgs) -> Result<(), Failure> {
    let rules = load_rules(&args.sources.rules)?;
    let mut store = Store::open(&args.sources.db)
        .with_context(|| format!("cannot open {}", args.sources.db.display()))?;
    let workforce = load_workforce(&args.sources, &mut store)?;
    let resolve = |name: &String| {
        let path = PathBuf::from(name);
        if path.is_file() {
            path
        } else {
            args.scenario_dir.join(format!("{name}.toml"))
        }
    };
    let paths: Vec<PathBuf> = std::iter::once(&args.base)
        .chain(&args.others)
        .map(resolve)
        .collect();
    let (scenarios, problems) = load_scenarios(&paths, &rules, &workforce);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {p}");
        }
        return Err(Failure::Input(anyhow::anyhow!(
            "{} problem(s) in the scenarios",
            problems.len()
        )));
    }
    // Totals are all a comparison needs.
    let options = RunOptions {
        detail: Detail::GroupBy(Vec::new()),
        ..RunOptions::default()
    };
    let outcomes = run_all(&rules, &workforce, &scenarios, &options, None)
        .context("cannot start the worker threads")?;
    let mut results = Vec::new();
    let mut failed = 0;
    for o in outcomes {
        match o.result {
            Ok(r) => results.push(r),
            Err(e) => {
                eprintln!("error: scenario {} failed: {e}", o.scenario);
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(Failure::Runs(failed));
    }
    let (baseline, others) = results.split_first().expect("the baseline ran");
    for other in others {
        let comparison = report::compare(baseline, other, &workforce)
            .map_err(|m| Failure::Input(anyhow::anyhow!(m)))?;
        println!("{}", table::comparison(&comparison));
    }
    Ok(())
}

fn list_rules(args: RulesArgs) -> Result<(), Failure> {
    let rules = load_rules(&args.rules)?;
    for kind in rules.kinds.values() {
        println!("{} ({:?} stage): {}", kind.name, kind.stage, kind.summary);
        for f in &kind.fields {
            let default = f
                .default
                .map_or("required".to_string(), |d| format!("default {d}"));
            println!(
                "    {:<22} {:<8} {:<14} {}",
                f.name,
                format!("{:?}", f.field_type).to_lowercase(),
                default,
                f.doc
            );
        }
    }
    Ok(())
}

fn generate(args: GenerateArgs) -> Result<(), Failure> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let path = args.out.join("workforce.csv");
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    crate::data::generate::write_csv(std::io::BufWriter::new(file), args.segments, args.seed)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {} segments to {}", args.segments, path.display());
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
    if args.background_runs == 0 {
        return Err(Failure::Input(anyhow::anyhow!(
            "--background-runs must be at least 1"
        )));
    }
    if args.sync_runs == Some(0) {
        return Err(Failure::Input(anyhow::anyhow!(
            "--sync-runs must be at least 1"
        )));
    }
    if args.group_commit_ms > 1_000 {
        // A run's answer waits for its commit: longer than a second helps no one.
        return Err(Failure::Input(anyhow::anyhow!(
            "--group-commit-ms must be at most 1000"
        )));
    }
    let defaults = crate::api::state::Limits::default();
    let options = crate::api::ServeOptions {
        bind: args.bind,
        db: args.db,
        rules: args.rules,
        scenarios: args.scenarios,
        keys,
        limits: crate::api::state::Limits {
            background_slots: args.background_runs,
            group_wait: std::time::Duration::from_millis(args.group_commit_ms),
            sync_slots: args.sync_runs.unwrap_or(defaults.sync_slots),
            checkpoint_every: std::time::Duration::from_millis(args.idle_checkpoint_ms),
            ..defaults
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::api::serve(options))?;
    Ok(())
}
