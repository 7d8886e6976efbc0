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

/// Checks a date is `YYYY-MM-DD`.
pub(super) fn check_date(flag: &str, text: &str) -> Result<(), Failure> {
    let ok = text.len() == 10
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[7] == b'-'
        && text[..7].parse::<crate::model::YearMonth>().is_ok()
        && text[8..]
            .parse::<u32>()
            .is_ok_and(|d| (1..=31).contains(&d));
    if ok {
        Ok(())
    } else {
        Err(Failure::Input(anyhow::anyhow!(
            "{flag} {text}: write the date as YYYY-MM-DD"
        )))
    }
}

pub(super) fn run(args: CalibrateArgs) -> Result<(), Failure> {
    check_date("--as-of", &args.as_of)?;
    if !(1..=120).contains(&args.window_months) {
        return Err(Failure::Input(anyhow::anyhow!(
            "--window-months must be 1 to 120"
        )));
    }
    if args.age_bands.windows(2).any(|w| w[0] >= w[1]) || args.age_bands.contains(&0) {
        return Err(Failure::Input(anyhow::anyhow!(
            "--age-bands: give increasing ages above 0, for example 35,55"
        )));
    }
    let defaults = match &args.defaults {
        Some(path) => Defaults::read(path).map_err(|e| Failure::Input(e.into()))?,
        None => Defaults::default(),
    };
    let salt = Store::open(&args.db)
        .and_then(|store| store.extract_salt())
        .with_context(|| format!("cannot read the salt from {}", args.db.display()))?;
    let request = CalibrationRequest {
        files: args
            .extracts
            .files()
            .map_err(|e| Failure::Input(e.into()))?,
        window: Window {
            as_of: args.as_of.clone(),
            months: args.window_months,
            age_bands: args.age_bands.clone(),
        },
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
