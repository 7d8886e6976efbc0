//! `wfplan calibrate`: the workforce table from a trust's extracts, with a report of what
//! each segment's figures rest on and the seasonality the absence history shows.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::Failure;
use crate::app::calibrate::{calibrate, write_workforce_csv, CalibrationRequest, Defaults};
use crate::data::calibration::Window;
use crate::data::extracts::{Extract, ExtractFiles};
use crate::data::{DataError, Store};

#[derive(Debug, Args)]
pub(super) struct ExtractArgs {
    /// Staff extract: one row per assignment (CSV, Parquet or .xlsx).
    #[arg(long)]
    staff: PathBuf,
    /// Absence extract: one row per absence.
    #[arg(long)]
    absence: PathBuf,
    /// Establishment extract: funded FTE per organisation, staff group and band.
    #[arg(long)]
    establishment: PathBuf,
    /// E-roster extract: one row per shift (optional: bank and agency figures from the
    /// defaults without it).
    #[arg(long)]
    roster: Option<PathBuf>,
    /// Organisations: code, system and setting (optional).
    #[arg(long)]
    orgs: Option<PathBuf>,
    /// TOML mapping the extracts' own column names onto wfplan's: `[staff]
    /// EMPLOYEE_NUMBER = "Assignment Number"`.
    #[arg(long)]
    map: Option<PathBuf>,
}

impl ExtractArgs {
    pub(super) fn files(&self) -> Result<ExtractFiles, DataError> {
        let mut files = ExtractFiles::default();
        files.files.insert(Extract::Staff, self.staff.clone());
        files.files.insert(Extract::Absence, self.absence.clone());
        files
            .files
            .insert(Extract::Establishment, self.establishment.clone());
        if let Some(roster) = &self.roster {
            files.files.insert(Extract::Roster, roster.clone());
        }
        if let Some(orgs) = &self.orgs {
            files.files.insert(Extract::Orgs, orgs.clone());
        }
        if let Some(map) = &self.map {
            files.map = ExtractFiles::read_map(map)?;
        }
        Ok(files)
    }
}

#[derive(Debug, Args)]
pub(super) struct CalibrateArgs {
    #[command(flatten)]
    extracts: ExtractArgs,
    /// The as-of date, YYYY-MM-DD: staff in post that day; rates from the months before.
    #[arg(long)]
    as_of: String,
    /// Months of history before the as-of date that rates are measured over.
    #[arg(long, default_value_t = 12)]
    window_months: u32,
    /// Ages at which age bands start, for example 35,55 (under 35, 35 to 54, 55 and
    /// over); no age bands when absent.
    #[arg(long, value_delimiter = ',')]
    age_bands: Vec<u32>,
    /// Segments with fewer staff in post are flagged as small numbers.
    #[arg(long, default_value_t = 5)]
    min_headcount: i64,
    /// TOML of the figures the extracts cannot give (time_to_fill, dcc_share,
    /// demand_growth, on_costs...); built-in values when absent.
    #[arg(long)]
    defaults: Option<PathBuf>,
    /// The wfplan database, which holds the salt employee numbers are hashed with.
    #[arg(long, default_value = "wfplan.duckdb")]
    db: PathBuf,
    /// The workforce table to write (CSV).
    #[arg(long)]
    out: PathBuf,
    /// The report of every segment as JSON (segments, defaults, warnings, seasonality).
    #[arg(long)]
    report: Option<PathBuf>,
    /// The `[seasonality]` table the absence history shows, to paste into a scenario.
    #[arg(long)]
    seasonality: Option<PathBuf>,
}

/// The extracts, the defaults and the database's salt, which calibration and back-tests
/// both start from.
fn inputs(
    extracts: &ExtractArgs,
    defaults: Option<&std::path::Path>,
    db: &std::path::Path,
) -> Result<(ExtractFiles, Defaults, String), Failure> {
    let defaults = match defaults {
        Some(path) => Defaults::read(path).map_err(|e| Failure::Input(e.into()))?,
        None => Defaults::default(),
    };
    let salt = Store::open(db)
        .and_then(|store| store.extract_salt())
        .with_context(|| format!("cannot read the salt from {}", db.display()))?;
    let files = extracts.files().map_err(|e| Failure::Input(e.into()))?;
    Ok((files, defaults, salt))
}

/// The window, checked; the error names the flag.
fn checked(window: Window) -> Result<Window, Failure> {
    window.check().map_err(|(field, message)| {
        Failure::Input(anyhow::anyhow!("--{}: {message}", field.replace('_', "-")))
    })?;
    Ok(window)
}

/// Checks a date is a real day `YYYY-MM-DD`.
pub(super) fn check_date(flag: &str, text: &str) -> Result<(), Failure> {
    crate::app::calibrate::check_date(text, false)
        .map_err(|message| Failure::Input(anyhow::anyhow!("{flag}: {message}")))
}

pub(super) fn run(args: CalibrateArgs) -> Result<(), Failure> {
    check_date("--as-of", &args.as_of)?;
    let window = checked(Window {
        as_of: args.as_of.clone(),
        months: args.window_months,
        age_bands: args.age_bands.clone(),
    })?;
    let (files, defaults, salt) = inputs(&args.extracts, args.defaults.as_deref(), &args.db)?;
    let request = CalibrationRequest {
        files,
        window,
        min_headcount: args.min_headcount,
        defaults,
        salt,
    };
    let calibration = calibrate(&request).map_err(|e| Failure::Input(e.into()))?;
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    write_workforce_csv(&calibration, std::io::BufWriter::new(file))
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&calibration).expect("plain data");
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let (Some(path), Some(seasonality)) = (&args.seasonality, &calibration.seasonality) {
        std::fs::write(path, seasonality.to_toml())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    print_report(&calibration);
    println!(
        "wrote {} segments to {}",
        calibration.segments.len(),
        args.out.display()
    );
    Ok(())
}

fn print_report(c: &crate::app::calibrate::Calibration) {
    println!(
        "Calibrated at {} from the {} months before it.",
        c.as_of, c.window_months
    );
    println!(
        "{:<14} {:<24} {:<6} {:<10} {:>9} {:>9} {:>8} {:>11}  notes",
        "org", "staff group", "band", "age band", "headcount", "FTE", "leavers", "leaver rate"
    );
    for (s, r) in c.segments.iter().zip(&c.report) {
        println!(
            "{:<14} {:<24} {:<6} {:<10} {:>9} {:>9.1} {:>8} {:>10.1}%  {}",
            s.org,
            s.staff_group,
            s.band,
            s.age_band.as_deref().unwrap_or("-"),
            r.headcount,
            s.fte,
            r.leavers,
            100.0 * s.leaver_rate,
            r.warnings.join("; ")
        );
    }
    if let Some(first) = c.report.first() {
        println!(
            "From the defaults in every segment: {}.",
            first.defaults.join(", ")
        );
    }
    if let Some(s) = &c.seasonality {
        print!("{}", s.to_toml());
    }
}

#[derive(Debug, Args)]
pub(super) struct BacktestArgs {
    #[command(flatten)]
    extracts: ExtractArgs,
    /// Calibrate at this date (the first day of a month, YYYY-MM-01) from the history
    /// before it, and forecast from it.
    #[arg(long)]
    from: String,
    /// Forecast up to this date (the first day of a later month), and compare.
    #[arg(long)]
    to: String,
    /// Months of history before --from that rates are measured over.
    #[arg(long, default_value_t = 12)]
    window_months: u32,
    /// TOML of the figures the extracts cannot give (see `wfplan calibrate`).
    #[arg(long)]
    defaults: Option<PathBuf>,
    /// The wfplan database, which holds the salt employee numbers are hashed with.
    #[arg(long, default_value = "wfplan.duckdb")]
    db: PathBuf,
    /// The folder of rule scripts (default: ./rules, else the rules built into wfplan).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Every staff group's predicted and actual figure by month, as CSV.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The whole back-test (errors and every month) as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The months from one first-of-month date to a later one.
fn months_between(from: &str, to: &str) -> Result<u32, Failure> {
    for (flag, date) in [("--from", from), ("--to", to)] {
        crate::app::calibrate::check_date(date, true)
            .map_err(|message| Failure::Input(anyhow::anyhow!("{flag}: {message}")))?;
    }
    let month = |d: &str| d[..7].parse::<crate::model::YearMonth>().expect("checked");
    let months = month(to).months_since(month(from));
    if !(1..=600).contains(&months) {
        return Err(Failure::Input(anyhow::anyhow!(
            "--to must be 1 to 600 months after --from"
        )));
    }
    Ok(months as u32)
}

pub(super) fn backtest(args: BacktestArgs) -> Result<(), Failure> {
    let months = months_between(&args.from, &args.to)?;
    let rules = super::load_rules(args.rules.as_deref())?;
    let window = checked(Window {
        as_of: args.from.clone(),
        months: args.window_months,
        age_bands: Vec::new(),
    })?;
    let (files, defaults, salt) = inputs(&args.extracts, args.defaults.as_deref(), &args.db)?;
    let request = CalibrationRequest {
        files,
        window,
        min_headcount: 0,
        defaults,
        salt,
    };
    let result = crate::app::backtest::backtest(&rules, &request, months)
        .map_err(|e| Failure::Input(e.into()))?;
    if let Some(path) = &args.out {
        let mut writer = csv::Writer::from_path(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        for point in &result.points {
            writer
                .serialize(point)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        writer
            .flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&result).expect("plain data");
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "Back-test: calibrated at {} from the {} months before, forecast to {} ({} months).",
        result.from, args.window_months, result.to, result.months
    );
    println!(
        "{:<26} {:<8} {:>7} {:>8} {:>11}",
        "staff group", "figure", "MAPE", "bias", "total bias"
    );
    for e in &result.errors {
        println!(
            "{:<26} {:<8} {:>6.1}% {:>+7.1}% {:>+10.1}%",
            e.staff_group,
            e.figure,
            100.0 * e.mape,
            100.0 * e.bias,
            100.0 * e.total_bias
        );
    }
    Ok(())
}
