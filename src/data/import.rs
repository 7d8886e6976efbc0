//! Reading a `workforce` table from CSV, Excel (.xlsx), Parquet or a DuckDB database.
//!
//! Every source is read row by row into [`WorkforceBuilder`], which checks each value and
//! reports every problem with its file, row and column.

use std::path::{Path, PathBuf};

use duckdb::types::ValueRef;
use duckdb::Connection;

use super::DataError;
use crate::model::workforce::{Cell, InputProblems, WorkforceBuilder};
use crate::model::Workforce;

/// Reads one workforce file, or the `workforce.*` file of a folder, or the `workforce`
/// table of a `.duckdb` file.
pub fn read_workforce(path: &Path) -> Result<Workforce, DataError> {
    if path.is_dir() {
        for name in ["workforce.csv", "workforce.parquet", "workforce.xlsx"] {
            let candidate = path.join(name);
            if candidate.is_file() {
                return read_workforce_files(&[candidate]);
            }
        }
        return Err(DataError::file(
            path.display(),
            "the folder has no workforce.csv, workforce.parquet or workforce.xlsx",
        ));
    }
    if extension(path) == "duckdb" {
        return read_duckdb_workforce(path);
    }
    read_workforce_files(&[path.to_path_buf()])
}

/// Reads several files into one table: the files must have the same columns.
pub fn read_workforce_files(paths: &[PathBuf]) -> Result<Workforce, DataError> {
    let mut builder: Option<WorkforceBuilder> = None;
    for path in paths {
        let source = path.display().to_string();
        match extension(path).as_str() {
            "csv" => {
                let file = std::fs::File::open(path).map_err(|e| DataError::file(&source, e))?;
                read_csv(&source, file, &mut builder)?
            }
            "xlsx" | "xlsm" | "xls" | "ods" => read_excel(path, &source, &mut builder)?,
            "parquet" => {
                let connection = Connection::open_in_memory()?;
                let sql = format!("SELECT * FROM read_parquet({})", sql_text(&source));
                read_query(&connection, &sql, &source, &mut builder)?
            }
            other => {
                return Err(DataError::file(
                    &source,
                    format!("cannot read .{other} files: give a .csv, .xlsx or .parquet file"),
                ))
            }
        }
    }
    finish(
        builder,
        paths
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    )
}

/// Reads CSV text, for example an upload or the bundled sample.
pub fn read_csv_text(source: &str, text: &str) -> Result<Workforce, DataError> {
    let mut builder = None;
    read_csv(source, text.as_bytes(), &mut builder)?;
    finish(builder, source.to_string())
}

fn finish(builder: Option<WorkforceBuilder>, source: String) -> Result<Workforce, DataError> {
    match builder {
        Some(b) => Ok(b.finish()?),
        None => Err(DataError::file(source, "no workforce file was given")),
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

/// Quotes text as an SQL string literal.
pub(crate) fn sql_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Starts the builder on the first file, or checks a later file's header against it.
fn begin(
    builder: &mut Option<WorkforceBuilder>,
    source: &str,
    header: &[String],
) -> Result<(), InputProblems> {
    match builder {
        None => {
            *builder = Some(WorkforceBuilder::new(source, header)?);
            Ok(())
        }
        Some(b) => b.start_file(source, header),
    }
}

fn read_csv(
    source: &str,
    input: impl std::io::Read,
    builder: &mut Option<WorkforceBuilder>,
) -> Result<(), DataError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| DataError::file(source, format!("cannot read the header: {e}")))?
        .iter()
        .map(String::from)
        .collect();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(InputProblems(vec![crate::model::workforce::InputProblem {
            source: source.to_string(),
            row: None,
            column: None,
            message: "the file is empty: it needs a header row and one row per segment".into(),
        }])
        .into());
    }
    begin(builder, source, &header)?;
    let b = builder.as_mut().expect("begin sets the builder");
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let row = record.position().map_or(0, |p| p.line() as usize);
                if record.iter().all(|v| v.trim().is_empty()) {
                    continue;
                }
                let cells: Vec<Cell> = record
                    .iter()
                    .map(|v| {
                        if v.trim().is_empty() {
                            Cell::Empty
                        } else {
                            Cell::Text(v)
                        }
                    })
                    .collect();
                b.push_row(row, &cells);
            }
            Err(e) => return Err(DataError::file(source, format!("cannot read the CSV: {e}"))),
        }
    }
    Ok(())
}

fn read_excel(
    path: &Path,
    source: &str,
    builder: &mut Option<WorkforceBuilder>,
) -> Result<(), DataError> {
    use calamine::{open_workbook_auto, Data, Reader};
    let mut workbook = open_workbook_auto(path)
        .map_err(|e| DataError::file(source, format!("cannot open the workbook: {e}")))?;
    let sheets = workbook.sheet_names();
    // A sheet named `workforce` if there is one, else the first.
    let sheet = sheets
        .iter()
        .find(|s| s.eq_ignore_ascii_case("workforce"))
        .or(sheets.first())
        .cloned()
        .ok_or_else(|| DataError::file(source, "the workbook has no sheets"))?;
    let range = workbook
        .worksheet_range(&sheet)
        .map_err(|e| DataError::file(source, format!("cannot read sheet {sheet}: {e}")))?;
    let source = format!("{source} (sheet {sheet})");
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let mut rows = range.rows();
    let header: Vec<String> = rows
        .next()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .unwrap_or_default();
    begin(builder, &source, &header)?;
    let b = builder.as_mut().expect("begin sets the builder");
    let mut texts: Vec<String> = Vec::new();
    for (i, row) in rows.enumerate() {
        if row.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        texts.clear();
        texts.extend(row.iter().map(|c| match c {
            Data::String(s) => s.clone(),
            Data::Empty | Data::Float(_) | Data::Int(_) => String::new(),
            other => other.to_string(),
        }));
        let cells: Vec<Cell> = row
            .iter()
            .zip(&texts)
            .map(|(c, text)| match c {
                Data::Empty => Cell::Empty,
                Data::Float(x) => Cell::Number(*x),
                Data::Int(x) => Cell::Number(*x as f64),
                _ => Cell::Text(text),
            })
            .collect();
        // Spreadsheet rows are 1-based and the header is the first.
        b.push_row(first_row + i + 2, &cells);
    }
    Ok(())
}

/// Reads a query's rows: numeric columns as numbers, everything else as text.
pub(crate) fn read_query(
    connection: &Connection,
    sql: &str,
    source: &str,
    builder: &mut Option<WorkforceBuilder>,
) -> Result<(), DataError> {
    let mut columns: Vec<(String, String)> = Vec::new();
    {
        let mut describe = connection
            .prepare(&format!("DESCRIBE {sql}"))
            .map_err(|e| DataError::file(source, e))?;
        let mut rows = describe.query([]).map_err(|e| DataError::file(source, e))?;
        while let Some(row) = rows.next()? {
            columns.push((row.get(0)?, row.get(1)?));
        }
    }
    let numeric = |t: &str| {
        [
            "DOUBLE",
            "FLOAT",
            "REAL",
            "DECIMAL",
            "INTEGER",
            "BIGINT",
            "SMALLINT",
            "TINYINT",
            "HUGEINT",
            "UBIGINT",
            "UINTEGER",
            "USMALLINT",
            "UTINYINT",
        ]
        .iter()
        .any(|n| t.starts_with(n))
    };
    let select: Vec<String> = columns
        .iter()
        .map(|(name, t)| {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            if numeric(t) {
                format!("CAST({quoted} AS DOUBLE)")
            } else {
                format!("CAST({quoted} AS VARCHAR)")
            }
        })
        .collect();
    let header: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    begin(builder, source, &header)?;
    let b = builder.as_mut().expect("begin sets the builder");
    let mut statement =
        connection.prepare(&format!("SELECT {} FROM ({sql})", select.join(", ")))?;
    let mut rows = statement.query([])?;
    let mut row_number = 1;
    let mut texts: Vec<String> = Vec::new();
    while let Some(row) = rows.next()? {
        row_number += 1;
        texts.clear();
        let mut numbers = Vec::with_capacity(header.len());
        for i in 0..header.len() {
            match row.get_ref(i)? {
                ValueRef::Double(x) => numbers.push(Some(x)),
                ValueRef::Text(bytes) => {
                    numbers.push(None);
                    texts.push(String::from_utf8_lossy(bytes).to_string());
                }
                _ => numbers.push(None),
            }
        }
        let mut text_iter = texts.iter();
        let cells: Vec<Cell> = (0..header.len())
            .map(|i| match (numbers[i], row.get_ref(i)) {
                (Some(x), _) => Cell::Number(x),
                (None, Ok(ValueRef::Text(_))) => {
                    Cell::Text(text_iter.next().expect("one text per text value"))
                }
                _ => Cell::Empty,
            })
            .collect();
        b.push_row(row_number, &cells);
    }
    Ok(())
}

fn read_duckdb_workforce(path: &Path) -> Result<Workforce, DataError> {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
    let connection = Connection::open_with_flags(path, config)?;
    let source = format!("{} (table workforce)", path.display());
    let mut builder = None;
    read_query(
        &connection,
        "SELECT * FROM workforce",
        &source,
        &mut builder,
    )?;
    finish(builder, source)
}
