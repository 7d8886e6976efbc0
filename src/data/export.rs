//! Writing results in the spec's column order: `scenario, month, <keys>, <figures>`.

use std::path::Path;

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

/// Writes stored runs to a Parquet file through DuckDB.
pub fn write_parquet(
    store: &Store,
    path: &Path,
    run_ids: &[i64],
    key_names: &[String],
) -> Result<(), DataError> {
    let placeholders = if run_ids.is_empty() {
        "NULL".to_string()
    } else {
        vec!["?"; run_ids.len()].join(", ")
    };
    let mut columns = vec!["scenario".to_string(), "month".into()];
    columns.extend(key_names.iter().map(|k| quote(k)));
    columns.extend(METRICS.iter().map(|m| m.to_string()));
    // `COPY` takes its file name only as a literal; the run ids are bound.
    let sql = format!(
        "COPY (SELECT {} FROM {} AS results WHERE run_id IN ({placeholders}) ORDER BY run_id, month, row) TO {} (FORMAT PARQUET)",
        columns.join(", "),
        results_relation(key_names),
        sql_text(&path.display().to_string())
    );
    store
        .connection()
        .execute(&sql, duckdb::params_from_iter(run_ids))?;
    Ok(())
}
