//! Calibration and back-testing over HTTP (`POST /calibrations`, `POST /backtests`): the
//! same work as `wfplan calibrate` and `wfplan backtest`, with the extracts sent as CSV
//! text in the request. Nothing person-level is stored: the extracts go to private
//! temporary files and an in-memory database that are gone when the answer is sent;
//! only a calibrated workforce table may be kept, as a dataset, when asked for.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{blocking, ApiTags};
use crate::app::backtest::{backtest, Backtest, BacktestError};
use crate::app::calibrate::{
    calibrate, write_workforce_csv, Calibration, CalibrationRequest, Defaults,
};
use crate::data::calibration::Window;
use crate::data::extracts::{ColumnMap, Extract, ExtractFiles};
use crate::data::DataError;
use crate::model::workforce::InputProblems;

/// The extracts, each as CSV text with a header row (column names as `wfplan calibrate`
/// reads them, or mapped by `map`).
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct ExtractTexts {
    /// One row per assignment: EMPLOYEE_NUMBER, EMPLOYING_ORG_CODE, STAFF_GROUP,
    /// AFC_BAND, DATE_OF_BIRTH, CONTRACTED_FTE, START_DATE_ORG, END_DATE_ORG, and
    /// optionally DESTINATION_ON_LEAVING, CONTRACTED_HOURS.
    pub staff: String,
    /// One row per absence: EMPLOYEE_NUMBER, ABSENCE_TYPE (sickness, annual_leave,
    /// study_leave, other), ABSENCE_START_DATE, ABSENCE_END_DATE, HOURS_LOST.
    pub absence: String,
    /// EMPLOYING_ORG_CODE, STAFF_GROUP, AFC_BAND, ESTABLISHMENT_FTE.
    pub establishment: String,
    /// One row per shift: EMPLOYING_ORG_CODE, STAFF_GROUP, AFC_BAND, SHIFT_DATE, HOURS,
    /// SHIFT_TYPE, COST (optional).
    pub roster: Option<String>,
    /// EMPLOYING_ORG_CODE, SYSTEM, SETTING (optional).
    pub orgs: Option<String>,
}

/// What to calibrate.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct CalibrationBody {
    /// The as-of date, `YYYY-MM-DD`: staff in post that day, rates from the months before.
    pub as_of: String,
    /// Months of history the rates are measured over (1 to 120, default 12).
    pub window_months: Option<u32>,
    /// Ages at which age bands start, for example `[35, 55]`; none when absent.
    pub age_bands: Option<Vec<u32>>,
    /// Segments with fewer staff in post are flagged (default 5).
    pub min_headcount: Option<i64>,
    pub extracts: ExtractTexts,
    /// Per extract, our column name to the extract's own: `{"staff": {"EMPLOYEE_NUMBER":
    /// "Assignment Number"}}`.
    pub map: Option<BTreeMap<String, BTreeMap<String, String>>>,
    /// Figures the extracts cannot give (`time_to_fill`, `dcc_share`, `demand_growth`,
    /// `on_costs`, ...), as in `wfplan calibrate --defaults`.
    pub defaults: Option<serde_json::Value>,
    /// Store the calibrated table as a dataset of this name, for runs (`dataset` in
    /// `POST /runs`).
    pub dataset: Option<String>,
}

/// What to back-test.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct BacktestBody {
    /// Calibrate at this date (the first day of a month) and forecast from it.
    pub from: String,
    /// Forecast to this date (the first day of a later month).
    pub to: String,
    /// Months of history before `from` the rates are measured over (default 12).
    pub window_months: Option<u32>,
    pub extracts: ExtractTexts,
    pub map: Option<BTreeMap<String, BTreeMap<String, String>>>,
    pub defaults: Option<serde_json::Value>,
}

/// The calibration: the workforce table's rows, what each rests on, and the seasonality.
#[derive(Debug, Clone, Object)]
pub struct CalibrationView {
    pub as_of: String,
    pub window_months: u32,
    /// Each segment's row of the workforce table (the columns of `docs/model.md`).
    pub segments: Vec<serde_json::Value>,
    /// Each segment's headcount, FTE, leavers, hours observed, the figures taken from the
    /// defaults, and warnings (small numbers, little data).
    pub report: Vec<serde_json::Value>,
    /// Seasonal factors on annual leave and sickness, January to December.
    pub seasonality: Option<serde_json::Value>,
    /// The dataset the table was stored as, when asked.
    pub dataset: Option<String>,
    /// The table as CSV, as `wfplan calibrate --out` writes it.
    pub workforce_csv: String,
}

/// A back-test: errors per staff group and figure, and every month's figures.
#[derive(Debug, Clone, Object)]
pub struct BacktestView {
    pub from: String,
    pub to: String,
    pub months: u32,
    /// Per staff group and figure (`fte`, `leavers`, `joiners`): `mape`, `bias`,
    /// `total_bias`, `months`.
    pub errors: Vec<serde_json::Value>,
    /// Per staff group, month and figure: `predicted` and `actual`.
    pub points: Vec<serde_json::Value>,
}

pub struct CalibrationApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl CalibrationApi {
    /// Calibrate a workforce table from extracts
    ///
    /// Reads staff, absence, establishment and (optionally) e-roster and organisation
    /// extracts, and works out each segment's staff in post, establishment, leaver rate,
    /// absence rates, hours, bank and agency shares and premiums, and pay (docs/model.md,
    /// "Calibration"). Every bad row of every extract is reported at once (`file` is
    /// `extracts.staff` and so on, `row` counts from the first data row as 1); nothing is
    /// stored then. Employee numbers are hashed as they are read and nothing
    /// person-level is kept.
    #[oai(path = "/calibrations", method = "post", operation_id = "calibrate")]
    async fn calibrate(
        &self,
        state: Data<&Arc<super::state::AppState>>,
        body: Json<CalibrationBody>,
    ) -> Result<Json<CalibrationView>, ApiError> {
        let state = state.0.clone();
        let body = body.0;
        check_date("as_of", &body.as_of, false)?;
        let window = checked(Window {
            as_of: body.as_of.clone(),
            months: body.window_months.unwrap_or(12),
            age_bands: body.age_bands.clone().unwrap_or_default(),
        })?;
        if let Some(name) = &body.dataset {
            super::text::check_name("dataset", name)?;
        }
        let defaults = defaults(body.defaults.clone())?;
        blocking(move || {
            let min_headcount = body.min_headcount.unwrap_or(5);
            let (folder, request) = prepare(
                &state,
                &body.extracts,
                body.map.clone(),
                defaults,
                window,
                min_headcount,
            )?;
            let calibration = calibrate(&request).map_err(|e| located(e, folder.path()))?;
            let mut csv = Vec::new();
            write_workforce_csv(&calibration, &mut csv).expect("writes to memory");
            let csv = String::from_utf8(csv).expect("UTF-8");
            let dataset = match &body.dataset {
                Some(name) => {
                    let workforce = crate::data::import::read_csv_text("calibrated", &csv)?;
                    Some(state.store().add_dataset(name, &workforce)?.id)
                }
                None => None,
            };
            Ok(Json(view(calibration, dataset, csv)))
        })
        .await
    }

    /// Back-test the model against history
    ///
    /// Calibrates at `from` from the history before it, runs the baseline (no
    /// interventions) to `to`, and compares staff in post, leavers and joiners by staff
    /// group and month with what the same extracts show happened: mean absolute
    /// percentage error and bias per staff group, as `wfplan backtest`.
    #[oai(path = "/backtests", method = "post", operation_id = "backtest")]
    async fn backtest(
        &self,
        state: Data<&Arc<super::state::AppState>>,
        body: Json<BacktestBody>,
    ) -> Result<Json<BacktestView>, ApiError> {
        let state = state.0.clone();
        let body = body.0;
        check_date("from", &body.from, true)?;
        check_date("to", &body.to, true)?;
        let month = |d: &str| d[..7].parse::<crate::model::YearMonth>().expect("checked");
        let horizon = month(&body.to).months_since(month(&body.from));
        if !(1..=600).contains(&horizon) {
            return Err(ApiError::field("to", "must be 1 to 600 months after from"));
        }
        let window = checked(Window {
            as_of: body.from.clone(),
            months: body.window_months.unwrap_or(12),
            age_bands: Vec::new(),
        })?;
        let defaults = defaults(body.defaults.clone())?;
        blocking(move || {
            let (folder, request) = prepare(
                &state,
                &body.extracts,
                body.map.clone(),
                defaults,
                window,
                0,
            )?;
            let result: Backtest =
                backtest(&state.rules, &request, horizon as u32).map_err(|e| match e {
                    BacktestError::Data(e) => located(e, folder.path()),
                    BacktestError::Model(message) => ApiError::field("extracts", message),
                })?;
            Ok(Json(BacktestView {
                from: result.from,
                to: result.to,
                months: result.months,
                errors: result.errors.iter().map(to_json).collect(),
                points: result.points.iter().map(to_json).collect(),
            }))
        })
        .await
    }
}

/// The extracts written to private files (removed when the folder is dropped) and the
/// request that calibration and back-tests start from.
fn prepare(
    state: &super::state::AppState,
    extracts: &ExtractTexts,
    map: Option<ColumnMap>,
    defaults: Defaults,
    window: Window,
    min_headcount: i64,
) -> Result<(tempfile::TempDir, CalibrationRequest), ApiError> {
    let folder = write_extracts(extracts)?;
    let request = CalibrationRequest {
        files: files(folder.path(), extracts, map)?,
        window,
        min_headcount,
        defaults,
        salt: state.store().extract_salt()?,
    };
    Ok((folder, request))
}

fn to_json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("plain data")
}

fn view(c: Calibration, dataset: Option<String>, workforce_csv: String) -> CalibrationView {
    CalibrationView {
        as_of: c.as_of,
        window_months: c.window_months,
        segments: c.segments.iter().map(to_json).collect(),
        report: c.report.iter().map(to_json).collect(),
        seasonality: c.seasonality.as_ref().map(to_json),
        dataset,
        workforce_csv,
    }
}

fn checked(window: Window) -> Result<Window, ApiError> {
    window
        .check()
        .map_err(|(field, message)| ApiError::field(field, message))?;
    Ok(window)
}

fn check_date(field: &str, text: &str, first_of_month: bool) -> Result<(), ApiError> {
    crate::app::calibrate::check_date(text, first_of_month)
        .map_err(|message| ApiError::field(field, message))
}

fn defaults(value: Option<serde_json::Value>) -> Result<Defaults, ApiError> {
    match value {
        None => Ok(Defaults::default()),
        Some(value) => {
            serde_json::from_value(value).map_err(|e| ApiError::field("defaults", e.to_string()))
        }
    }
}

/// The extracts as private files in a folder of their own (removed when dropped).
fn write_extracts(texts: &ExtractTexts) -> Result<tempfile::TempDir, ApiError> {
    let folder = tempfile::tempdir()
        .map_err(|e| ApiError::internal(format!("cannot make a temporary folder: {e}")))?;
    for (name, text) in entries(texts) {
        std::fs::write(folder.path().join(format!("{name}.csv")), text)
            .map_err(|e| ApiError::internal(format!("cannot write the {name} extract: {e}")))?;
    }
    Ok(folder)
}

fn entries(texts: &ExtractTexts) -> Vec<(&'static str, &String)> {
    let mut out = vec![
        ("staff", &texts.staff),
        ("absence", &texts.absence),
        ("establishment", &texts.establishment),
    ];
    if let Some(roster) = &texts.roster {
        out.push(("roster", roster));
    }
    if let Some(orgs) = &texts.orgs {
        out.push(("orgs", orgs));
    }
    out
}

fn files(
    folder: &Path,
    texts: &ExtractTexts,
    map: Option<ColumnMap>,
) -> Result<ExtractFiles, ApiError> {
    let mut files = ExtractFiles::default();
    for (name, _) in entries(texts) {
        let kind = Extract::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .expect("the names are the extracts'");
        files.files.insert(kind, folder.join(format!("{name}.csv")));
    }
    files.map = ExtractFiles::check_map(map.unwrap_or_default())
        .map_err(|message| ApiError::field("map", message))?;
    Ok(files)
}

/// A problem's file named as the request names it (`extracts.staff`), not by the
/// temporary file it was read from.
fn located(e: DataError, folder: &Path) -> ApiError {
    let prefix = format!("{}/", folder.display());
    let rename = |source: &str| match source.strip_prefix(&prefix) {
        Some(file) => format!("extracts.{}", file.trim_end_matches(".csv")),
        None => source.to_string(),
    };
    match e {
        DataError::Invalid(InputProblems(problems)) => DataError::Invalid(InputProblems(
            problems
                .into_iter()
                .map(|mut p| {
                    p.source = rename(&p.source);
                    p
                })
                .collect(),
        ))
        .into(),
        DataError::File { path, message } => DataError::File {
            path: rename(&path),
            message: message.replace(&prefix, "extracts."),
        }
        .into(),
        other => other.into(),
    }
}
