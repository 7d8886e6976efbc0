//! Back-testing: calibrate at a date from the history before it, run the baseline (no
//! interventions) forward, and set the forecast against what the same extracts show
//! happened, by staff group and month (docs/model.md, "Calibration").

use serde::Serialize;

use super::calibrate::{calibrate_loaded, open_extracts, write_workforce_csv, CalibrationRequest};
use crate::data::calibration::actuals;
use crate::data::DataError;
use crate::engine::{run_scenario, RunOptions};
use crate::model::results::Metric;
use crate::model::Detail;
use crate::rules::RuleSet;

/// The figures compared.
pub const FIGURES: [(&str, Metric); 3] = [
    ("fte", Metric::Fte),
    ("leavers", Metric::Leavers),
    ("joiners", Metric::Joiners),
];

/// One staff group's figure in one month.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub staff_group: String,
    pub month: String,
    pub figure: String,
    pub predicted: f64,
    pub actual: f64,
}

/// How far the forecast of one figure was from what happened, for one staff group.
#[derive(Debug, Clone, Serialize)]
pub struct Error {
    pub staff_group: String,
    pub figure: String,
    /// Mean over the months of |predicted - actual| / actual (months with actual 0 left
    /// out).
    pub mape: f64,
    /// Mean over the same months of (predicted - actual) / actual: above 0, the model
    /// forecast too many.
    pub bias: f64,
    /// Predicted over actual, summed over the months, less 1.
    pub total_bias: f64,
    pub months: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    pub from: String,
    pub to: String,
    pub months: u32,
    pub errors: Vec<Error>,
    pub points: Vec<Point>,
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{0}")]
    Model(String),
}

/// Runs the back-test from `request.window.as_of` (the first day of a month) for
/// `months` months.
pub fn backtest(
    rules: &RuleSet,
    request: &CalibrationRequest,
    months: u32,
) -> Result<Backtest, BacktestError> {
    let from = request.window.as_of.clone();
    let connection = open_extracts(request)?;
    let calibration = calibrate_loaded(&connection, request)?;
    let happened = actuals(&connection, &from, months)?;
    drop(connection);

    let mut text = Vec::new();
    write_workforce_csv(&calibration, &mut text).expect("writes to memory");
    let text = String::from_utf8(text).expect("CSV of UTF-8 text");
    let workforce = crate::data::import::read_csv_text("the calibrated workforce", &text)?;
    let scenario_text = format!(
        "name = \"backtest\"\ndescription = \"The baseline from the calibration at {from}\"\nstart = \"{}\"\nmonths = {months}\n",
        &from[..7]
    );
    let scenario = crate::scenario::from_toml_str("backtest", &scenario_text, rules, &workforce)
        .map_err(|p| {
            BacktestError::Model(
                p.iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?
        .remove(0);
    let options = RunOptions {
        detail: Detail::GroupBy(vec!["staff_group".into()]),
        ..RunOptions::default()
    };
    let results = run_scenario(rules, &workforce, &scenario, &options)
        .map_err(|e| BacktestError::Model(e.to_string()))?;

    let mut points = Vec::new();
    for (row, keys) in results.rows.iter().enumerate() {
        let group = &keys[0];
        for month in 0..results.months {
            let label = results.start.plus(month as i64).to_string();
            let actual = happened
                .get(&(group.clone(), label.clone()))
                .copied()
                .unwrap_or_default();
            for (i, (name, metric)) in FIGURES.iter().enumerate() {
                points.push(Point {
                    staff_group: group.clone(),
                    month: label.clone(),
                    figure: name.to_string(),
                    predicted: results.figure(month, row, *metric),
                    actual: actual[i],
                });
            }
        }
    }
    let mut errors = Vec::new();
    for keys in &results.rows {
        for (name, _) in FIGURES {
            let of: Vec<&Point> = points
                .iter()
                .filter(|p| p.staff_group == keys[0] && p.figure == name)
                .collect();
            let counted: Vec<&&Point> = of.iter().filter(|p| p.actual > 0.0).collect();
            let n = counted.len().max(1) as f64;
            let predicted: f64 = of.iter().map(|p| p.predicted).sum();
            let actual: f64 = of.iter().map(|p| p.actual).sum();
            errors.push(Error {
                staff_group: keys[0].clone(),
                figure: name.to_string(),
                mape: counted
                    .iter()
                    .map(|p| (p.predicted - p.actual).abs() / p.actual)
                    .sum::<f64>()
                    / n,
                bias: counted
                    .iter()
                    .map(|p| (p.predicted - p.actual) / p.actual)
                    .sum::<f64>()
                    / n,
                total_bias: if actual > 0.0 {
                    predicted / actual - 1.0
                } else {
                    0.0
                },
                months: counted.len(),
            });
        }
    }
    Ok(Backtest {
        from,
        to: format!("{}-01", results.start.plus(results.months as i64)),
        months,
        errors,
        points,
    })
}
