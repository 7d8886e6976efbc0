//! Writing results in the spec's column order: `scenario, month, <keys>, <figures>`.

use std::path::Path;

use super::query::ResultsRow;
use super::results_tables::results_relation;
use super::sql::{quote, sql_text};
use super::store::Store;
use super::DataError;
use crate::model::results::METRICS;
use crate::model::RunResults;

/// Writes the rows of several runs to a CSV file, figures at full precision.
pub fn write_csv(path: &Path, runs: &[&RunResults]) -> Result<(), DataError> {
    let file = std::fs::File::create(path).map_err(|e| DataError::file(path.display(), e))?;
    write_csv_to(std::io::BufWriter::new(file), runs)
        .map_err(|e| DataError::file(path.display(), e))
}

/// Writes the rows of several runs as CSV to any writer.
pub fn write_csv_to(output: impl std::io::Write, runs: &[&RunResults]) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(output);
    let Some(first) = runs.first() else {
        return Ok(());
    };
    let mut header = vec!["scenario", "month"];
    header.extend(first.key_names.iter().map(String::as_str));
    header.extend(METRICS);
    writer.write_record(&header)?;
    let mut record: Vec<String> = Vec::with_capacity(header.len());
    for run in runs {
        for month in 0..run.months {
            let label = run.start.plus(month as i64).to_string();
            for (row, keys) in run.rows.iter().enumerate() {
                record.clear();
                record.push(run.scenario.clone());
                record.push(label.clone());
                record.extend(keys.iter().cloned());
                // Rust prints the shortest text that reads back as the same number.
                record.extend(run.row_figures(month, row).iter().map(|x| x.to_string()));
                writer.write_record(&record)?;
            }
        }
    }
    writer.flush()?;
    Ok(())
}

/// Writes stored runs to a Parquet file (or a CSV file, by its extension) through DuckDB,
/// in the spec's column order; `with_draw` adds each row's draw after the scenario (a
/// Monte Carlo run's rows).
pub fn write_stored(
    store: &Store,
    path: &Path,
    run_ids: &[i64],
    key_names: &[String],
    with_draw: bool,
) -> Result<(), DataError> {
    let placeholders = if run_ids.is_empty() {
        "NULL".to_string()
    } else {
        vec!["?"; run_ids.len()].join(", ")
    };
    let mut columns = vec!["scenario".to_string()];
    if with_draw {
        columns.push("draw".into());
    }
    columns.push("month".into());
    columns.extend(key_names.iter().map(|k| quote(k)));
    columns.extend(METRICS.iter().map(|m| m.to_string()));
    // `COPY` takes its file name only as a literal; the run ids are bound.
    let sql = format!(
        "COPY (SELECT {} FROM {} AS results WHERE run_id IN ({placeholders}) ORDER BY run_id, draw, month, row) TO {} ({})",
        columns.join(", "),
        results_relation(key_names),
        sql_text(&path.display().to_string()),
        if path.extension().is_some_and(|e| e == "csv") {
            "FORMAT CSV, HEADER"
        } else {
            "FORMAT PARQUET"
        }
    );
    store
        .connection()
        .execute(&sql, duckdb::params_from_iter(run_ids))?;
    Ok(())
}

/// Writes stored runs' drawn values to a CSV file: `draw,entry,what,per_value,value`
/// (docs/model.md, section 7), draw by draw.
pub fn write_draws_csv(store: &Store, path: &Path, run_ids: &[i64]) -> Result<(), DataError> {
    let placeholders = if run_ids.is_empty() {
        "NULL".to_string()
    } else {
        vec!["?"; run_ids.len()].join(", ")
    };
    let sql = format!(
        "COPY (SELECT draw, entry, what, per_value, value FROM draws
               WHERE run_id IN ({placeholders}) ORDER BY run_id, draw, entry, rowid)
         TO {} (FORMAT CSV, HEADER)",
        sql_text(&path.display().to_string())
    );
    store
        .connection()
        .execute(&sql, duckdb::params_from_iter(run_ids))?;
    Ok(())
}

/// How a results query's rows are written as they are read, by the API's answers and by
/// `wfplan results` alike: a head, each batch of rows, a tail.
pub enum ResultsEncoding {
    /// `{"run": .., "complete": .., "rows": [..]}`, each row `{"scenario", "period",
    /// "keys": {..}, "figures": {..}}` (the API's `ResultsView`).
    Json { run: i64, complete: bool },
    /// A header of the query's columns, then a record per row.
    Csv,
}

/// A row as the JSON form gives it: keys and figures named by their columns.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    scenario: &'a str,
    period: &'a str,
    keys: std::collections::BTreeMap<&'a str, &'a str>,
    figures: std::collections::BTreeMap<&'a str, f64>,
}

impl ResultsEncoding {
    /// What comes before the rows; `columns` are the query's (`scenario`, `period`, the
    /// keys, the metrics).
    pub fn head(&self, columns: &[String]) -> Result<Vec<u8>, String> {
        match self {
            ResultsEncoding::Json { run, complete } => {
                Ok(format!("{{\"run\":{run},\"complete\":{complete},\"rows\":[").into_bytes())
            }
            ResultsEncoding::Csv => csv_line(columns.iter().map(String::as_str)),
        }
    }

    /// A batch of rows; `first` is whether no row came before (JSON needs commas).
    pub fn rows(
        &self,
        columns: &[String],
        rows: Vec<ResultsRow>,
        first: bool,
    ) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            match self {
                ResultsEncoding::Json { .. } => {
                    if !(first && i == 0) {
                        out.push(b',');
                    }
                    let keys = &columns[2..2 + row.keys.len()];
                    let metrics = &columns[2 + row.keys.len()..];
                    let json = JsonRow {
                        scenario: &row.scenario,
                        period: &row.period,
                        keys: keys
                            .iter()
                            .map(String::as_str)
                            .zip(row.keys.iter().map(String::as_str))
                            .collect(),
                        figures: metrics
                            .iter()
                            .map(String::as_str)
                            .zip(row.values.iter().copied())
                            .collect(),
                    };
                    serde_json::to_writer(&mut out, &json).map_err(|e| e.to_string())?;
                }
                ResultsEncoding::Csv => {
                    let values: Vec<String> = row.values.iter().map(|v| v.to_string()).collect();
                    let fields = [row.scenario.as_str(), row.period.as_str()]
                        .into_iter()
                        .chain(row.keys.iter().map(String::as_str))
                        .chain(values.iter().map(String::as_str));
                    out.extend(csv_line(fields)?);
                }
            }
        }
        Ok(out)
    }

    /// What comes after the rows.
    pub fn tail(&self) -> Vec<u8> {
        match self {
            ResultsEncoding::Json { .. } => b"]}".to_vec(),
            ResultsEncoding::Csv => Vec::new(),
        }
    }
}

/// One CSV record, quoted as the `csv` crate quotes.
fn csv_line<'a>(fields: impl Iterator<Item = &'a str>) -> Result<Vec<u8>, String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(fields)
        .map_err(|e| format!("cannot write CSV: {e}"))?;
    writer.into_inner().map_err(|e| e.to_string())
}
