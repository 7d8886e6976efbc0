//! Reading a `workforce` table from CSV, Excel (.xlsx), Parquet or a DuckDB database.
//!
//! Every source is read row by row into [`WorkforceBuilder`], which checks each value and
//! reports every problem with its file, row and column.

use std::path::{Path, PathBuf};

use duckdb::types::ValueRef;
use duckdb::Connection;

use super::sql::{quote, sql_text};
use super::DataError;
use rayon::prelude::*;

use crate::model::workforce::{
    Cell, CheckedRow, InputProblem, InputProblems, RowChecker, RowProblem, WorkforceBuilder,
};
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
                let bytes = std::fs::read(path).map_err(|e| DataError::file(&source, e))?;
                read_csv(&source, &bytes, &mut builder)?
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
    input: &[u8],
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
    let body_start = usize::try_from(reader.position().byte()).unwrap_or(input.len());
    let body = &input[body_start.min(input.len())..];
    if let Some(text) = plain_lines(body) {
        let first_line = memchr::memchr_iter(b'\n', &input[..body_start]).count() + 1;
        read_plain_rows(text, first_line, b);
        return Ok(());
    }
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let row = record.position().map_or(0, |p| p.line() as usize);
                if record.iter().all(|v| v.trim().is_empty()) {
                    continue;
                }
                let cells: Vec<Cell> = record.iter().map(cell).collect();
                b.push_row(row, &cells);
            }
            Err(e) => return Err(DataError::file(source, format!("cannot read the CSV: {e}"))),
        }
    }
    Ok(())
}

fn cell(text: &str) -> Cell<'_> {
    if text.trim().is_empty() {
        Cell::Empty
    } else {
        Cell::Text(text)
    }
}

/// The rows as text when every line is a row and every comma ends a value: UTF-8 with no
/// quotes, and no carriage return but before a line feed. Such a file, the usual export,
/// can be cut into parts at any line end and each part read on its own, which the CSV
/// reader's quoting rules would not allow. Other files are read by the CSV reader.
fn plain_lines(body: &[u8]) -> Option<&str> {
    if memchr::memchr(b'"', body).is_some() {
        return None;
    }
    if memchr::memchr_iter(b'\r', body).any(|i| body.get(i + 1) != Some(&b'\n')) {
        return None;
    }
    std::str::from_utf8(body).ok()
}

/// Bytes of text in each part of a large file that is checked on its own.
const PART_BYTES: usize = 1 << 20;

/// Parts checked at once: enough to keep every core busy, few enough that only a small
/// share of a large file is held as checked rows.
const PARTS_AT_ONCE: usize = 16;

/// The rows of one part of a file, checked, with their lines counted from the part's start.
struct CheckedPart<'a> {
    rows: Vec<(usize, Result<CheckedRow<'a>, Vec<RowProblem>>)>,
    lines: usize,
}

/// Reads the rows of [`plain_lines`] text, whose first line is `first_line` of the file.
/// The file is cut into parts at line ends; the parts' rows are checked on every core,
/// while this thread joins them to the table in file order (key dictionaries and the
/// duplicate check need that order), so the result and its problems are the same as the
/// CSV reader's, row for row.
fn read_plain_rows(text: &str, first_line: usize, builder: &mut WorkforceBuilder) {
    let parts = cut_at_lines(text, PART_BYTES);
    let checker = builder.checker().clone();
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<CheckedPart>>(1);
    let (parts, checker) = (&parts, &checker);
    std::thread::scope(|scope| {
        // Moves the sender in, so that the channel closes when the last part is sent.
        scope.spawn(move || {
            for group in parts.chunks(PARTS_AT_ONCE) {
                let checked = group
                    .par_iter()
                    .map(|part| check_part(checker, part))
                    .collect();
                if send.send(checked).is_err() {
                    return;
                }
            }
        });
        let mut line = first_line;
        for group in receive {
            for part in group {
                for (offset, row) in part.rows {
                    match row {
                        Ok(checked) => builder.accept_row(line + offset, &checked),
                        Err(problems) => builder.report_row(line + offset, problems),
                    }
                }
                line += part.lines;
            }
        }
    });
}

fn check_part<'a>(checker: &RowChecker, part: &'a str) -> CheckedPart<'a> {
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut lines = 0;
    for line in part.split_terminator('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let offset = lines;
        lines += 1;
        cells.clear();
        cells.extend(line.split(',').map(cell));
        // A blank line, or one of empty values, is no row (as the CSV reader skips it).
        if cells.iter().all(|c| matches!(c, Cell::Empty)) {
            continue;
        }
        rows.push((offset, checker.check_row(&cells)));
    }
    CheckedPart { rows, lines }
}

/// Cuts text into parts of about `size` bytes, each ending at a line end (or the end).
fn cut_at_lines(text: &str, size: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > size {
        let cut = match memchr::memchr(b'\n', &rest.as_bytes()[size..]) {
            Some(i) => size + i + 1,
            None => rest.len(),
        };
        let (part, tail) = rest.split_at(cut);
        parts.push(part);
        rest = tail;
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts
}

/// Most columns a spreadsheet's table may span: every input, the most key columns and
/// room to spare. A sheet whose cells or declared extent reach further is refused.
const MAX_SHEET_COLUMNS: u32 = 128;
/// Most rows a spreadsheet's table may span (Excel's own limit is 1,048,576).
const MAX_SHEET_ROWS: u32 = 1_048_576;

/// A cell's name as a spreadsheet shows it (`A1`, `XFD1048576`), from 0-based row and
/// column.
fn cell_name(row: u32, column: u32) -> String {
    let mut letters = Vec::new();
    let mut n = column + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8(letters).expect("ASCII"), row + 1)
}

fn read_excel(
    path: &Path,
    source: &str,
    builder: &mut Option<WorkforceBuilder>,
) -> Result<(), DataError> {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let is_xlsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx") || e.eq_ignore_ascii_case("xlsm"));
    if !is_xlsx {
        return Err(DataError::file(
            source,
            "only .xlsx and .xlsm workbooks are read; save the sheet as .xlsx or CSV",
        ));
    }
    let mut workbook: Xlsx<_> = open_workbook(path)
        .map_err(|e| DataError::file(source, format!("cannot open the workbook: {e}")))?;
    let sheets = workbook.sheet_names();
    // A sheet named `workforce` if there is one, else the first.
    let sheet = sheets
        .iter()
        .find(|s| s.eq_ignore_ascii_case("workforce"))
        .or(sheets.first())
        .cloned()
        .ok_or_else(|| DataError::file(source, "the workbook has no sheets"))?;
    let source = format!("{source} (sheet {sheet})");
    let cannot = |e: calamine::XlsxError| DataError::file(&source, format!("cannot read: {e}"));
    // Cells are read one at a time, so memory follows the cells present, never the
    // extent a sheet declares (one cell at XFD1048576 once asked for 512 GiB).
    let mut cells = workbook.worksheet_cells_reader(&sheet).map_err(cannot)?;
    let too_far = |row: u32, column: u32, what: &str| {
        DataError::file(
            &source,
            format!(
                "{what} {} lies beyond any workforce table (at most {MAX_SHEET_COLUMNS} columns and {MAX_SHEET_ROWS} rows)",
                cell_name(row, column)
            ),
        )
    };
    let declared = cells.dimensions();
    if declared.end.1 >= MAX_SHEET_COLUMNS || declared.end.0 >= MAX_SHEET_ROWS {
        return Err(too_far(
            declared.end.0,
            declared.end.1,
            "the sheet's declared extent reaches",
        ));
    }
    // Rows as (sheet row, cells by column), built as cells arrive in row order.
    let mut rows: Vec<(u32, Vec<(u32, Data)>)> = Vec::new();
    let mut first_column = u32::MAX;
    while let Some(cell) = cells.next_cell().map_err(cannot)? {
        let (row, column) = cell.get_position();
        if column >= MAX_SHEET_COLUMNS || row >= MAX_SHEET_ROWS {
            return Err(too_far(row, column, "cell"));
        }
        let value = Data::from(cell.get_value().clone());
        if matches!(value, Data::Empty) {
            continue;
        }
        first_column = first_column.min(column);
        match rows.last_mut() {
            Some((r, cells)) if *r == row => cells.push((column, value)),
            _ => rows.push((row, vec![(column, value)])),
        }
    }
    drop(cells);
    rows.sort_by_key(|(r, _)| *r);
    let mut rows = rows.into_iter();
    let Some((_, header_cells)) = rows.next() else {
        return Ok(begin(builder, &source, &[])?);
    };
    let width = header_cells.iter().map(|(c, _)| c + 1).max().unwrap_or(0) - first_column;
    let dense = |cells: Vec<(u32, Data)>| -> Vec<Data> {
        let mut row = vec![Data::Empty; width as usize];
        for (column, value) in cells {
            if let Some(slot) = row.get_mut((column - first_column) as usize) {
                *slot = value;
            }
        }
        row
    };
    let header: Vec<String> = dense(header_cells).iter().map(|c| c.to_string()).collect();
    begin(builder, &source, &header)?;
    let b = builder.as_mut().expect("begin sets the builder");
    let mut texts: Vec<String> = Vec::new();
    for (sheet_row, cells) in rows {
        if let Some((column, _)) = cells.iter().find(|(c, _)| *c >= first_column + width) {
            return Err(DataError::file(
                &source,
                format!(
                    "cell {} lies outside the table's columns (the header ends before it)",
                    cell_name(sheet_row, *column)
                ),
            ));
        }
        let row = dense(cells);
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
        // Problems name the row as the spreadsheet numbers it, from 1.
        b.push_row(sheet_row as usize + 1, &cells);
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
    // A column is read as numbers or as text; any other type (a list, a struct, a date)
    // is the file's problem, named, not a failed cast. Types are matched whole: a list of
    // integers (`INTEGER[]`) is not a number.
    let numeric = |t: &str| {
        [
            "DOUBLE",
            "FLOAT",
            "REAL",
            "INTEGER",
            "BIGINT",
            "SMALLINT",
            "TINYINT",
            "HUGEINT",
            "UBIGINT",
            "UINTEGER",
            "USMALLINT",
            "UTINYINT",
            "UHUGEINT",
        ]
        .contains(&t)
            || (t.starts_with("DECIMAL(") && t.ends_with(')') && !t.contains('['))
    };
    let text = |t: &str| t == "VARCHAR";
    let unreadable: Vec<InputProblem> = columns
        .iter()
        .filter(|(_, t)| !numeric(t) && !text(t))
        .map(|(name, t)| InputProblem {
            source: source.to_string(),
            row: Some(1),
            column: Some(name.clone()),
            message: format!("the column's type is {t}; give numbers or text"),
        })
        .collect();
    if !unreadable.is_empty() {
        return Err(DataError::Invalid(InputProblems(unreadable)));
    }
    let select: Vec<String> = columns
        .iter()
        .map(|(name, t)| {
            let quoted = quote(name);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample's rows, repeated under new organisation names past one part's size, with
    /// the kinds of line a planner's file has: blank lines, CRLF ends, and when `bad`, a
    /// short row, a bad number and a duplicate segment.
    fn large_csv(bad: bool) -> String {
        let sample = include_str!("../../data/sample/workforce.csv");
        let (header, rows) = sample.split_once('\n').expect("the sample has a header");
        let mut text = format!("{header}\n");
        let mut copy = 0;
        while text.len() < 3 * PART_BYTES {
            for row in rows.lines() {
                text.push_str(&format!("{copy}_{row}\r\n"));
            }
            text.push_str("\n,,,\n");
            copy += 1;
        }
        if bad {
            let first_row = rows.lines().next().expect("the sample has rows");
            text.push_str(&format!("0_{first_row}\n"));
            text.push_str("short,row\n");
            text.push_str(&format!("x_{}\n", first_row.replace("37.5", "many")));
        }
        text
    }

    /// The same rows with the first value quoted, which only the CSV reader reads.
    fn quote_first_value(text: &str) -> String {
        let (header, rest) = text.split_once('\n').expect("a header");
        let (first, rest) = rest.split_once(',').expect("a first value");
        format!("{header}\n\"{first}\",{rest}")
    }

    #[test]
    fn plain_lines_are_read_in_parts_as_the_csv_reader_reads_them() {
        let plain = large_csv(true);
        assert!(plain_lines(plain.as_bytes()).is_some());
        assert!(cut_at_lines(&plain, PART_BYTES).len() >= 3);
        let quoted = quote_first_value(&plain);
        assert!(plain_lines(quoted.as_bytes()).is_none());
        let problems = |text: &str| match read_csv_text("w.csv", text) {
            Err(DataError::Invalid(problems)) => problems,
            other => panic!("expected problems with rows, got {other:?}"),
        };
        let by_parts = problems(&plain);
        assert_eq!(by_parts, problems(&quoted));
        let message = by_parts.to_string();
        assert_eq!(message.matches("duplicate segment").count(), 1);
        assert!(message.contains("'many' is not a number"));
        assert!(message.contains("the row has 2 values"));

        // Every line ended by CRLF, the header's too.
        let crlf = plain.replace("\r\n", "\n").replace('\n', "\r\n");
        assert!(plain_lines(crlf.as_bytes()).is_some());
        assert_eq!(problems(&crlf), by_parts);

        let plain = large_csv(false);
        let by_parts = read_csv_text("w.csv", &plain).expect("good rows");
        let by_reader = read_csv_text("w.csv", &quote_first_value(&plain)).expect("good rows");
        assert_eq!(by_parts, by_reader);
    }

    #[test]
    fn cut_at_lines_keeps_every_byte_and_ends_parts_at_line_ends() {
        let text = "a,1\nbb,2\nccc,3\nlast";
        let parts = cut_at_lines(text, 3);
        assert_eq!(parts.concat(), text);
        assert!(parts[..parts.len() - 1].iter().all(|p| p.ends_with('\n')));
        assert_eq!(cut_at_lines("", 3), Vec::<&str>::new());
    }

    #[test]
    fn quotes_and_lone_carriage_returns_go_to_the_csv_reader() {
        assert!(plain_lines(b"a,\"b\"\n").is_none());
        assert!(plain_lines(b"a,b\rc\n").is_none());
        assert!(plain_lines(b"a,b\r\nc\n").is_some());
        assert!(plain_lines(b"a,\xff\n").is_none());
    }
}
