//! A trust's extracts (staff, absence, establishment, e-roster, organisations) read into a
//! private DuckDB database in memory, checked, and typed, for calibration
//! (`app::calibrate`).
//!
//! Person-level rows never leave that database: employee numbers are hashed with the
//! wfplan database's salt as they are read, dates of birth are kept only to place each
//! person in an age band, and the connection is dropped when calibration ends. Column
//! names are matched ignoring case, as DuckDB matches them, after an optional map
//! (`--map FILE`) from the names below to the extract's own.
//!
//! Every bad row of every file is reported at once, with file, row (from the first data
//! row, = 1) and column; nothing is calibrated from extracts with bad rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use duckdb::Connection;

use super::sql::{quote, sql_text};
use super::DataError;
use crate::model::workforce::{InputProblem, InputProblems};

/// One kind of extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Extract {
    Staff,
    Absence,
    Establishment,
    Roster,
    Orgs,
}

impl Extract {
    pub const ALL: [Extract; 5] = [
        Extract::Staff,
        Extract::Absence,
        Extract::Establishment,
        Extract::Roster,
        Extract::Orgs,
    ];

    /// Its name in a column map and in the private database.
    pub fn name(self) -> &'static str {
        match self {
            Extract::Staff => "staff",
            Extract::Absence => "absence",
            Extract::Establishment => "establishment",
            Extract::Roster => "roster",
            Extract::Orgs => "orgs",
        }
    }

    fn columns(self) -> &'static [Column] {
        match self {
            Extract::Staff => STAFF,
            Extract::Absence => ABSENCE,
            Extract::Establishment => ESTABLISHMENT,
            Extract::Roster => ROSTER,
            Extract::Orgs => ORGS,
        }
    }
}

/// Absence types, as `ABSENCE_TYPE` gives them.
pub const ABSENCE_TYPES: [&str; 4] = ["sickness", "annual_leave", "study_leave", "other"];
/// Shift types, as `SHIFT_TYPE` gives them.
pub const SHIFT_TYPES: [&str; 8] = [
    "worked",
    "bank",
    "agency",
    "unfilled",
    "annual_leave",
    "study_leave",
    "sickness",
    "other_leave",
];

/// What a column must hold.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Text, not empty.
    Text,
    /// Text, may be empty.
    AnyText,
    /// A date `YYYY-MM-DD`.
    Date,
    /// A date or empty.
    DateOrEmpty,
    /// A number at least 0.
    Amount,
    /// A number at least 0, or empty.
    AmountOrEmpty,
    /// One of a list, ignoring case.
    OneOf(&'static [&'static str]),
}

/// A column of an extract: its name (the NHS data set's), what it holds, and whether an
/// extract must have it.
#[derive(Debug, Clone, Copy)]
struct Column {
    name: &'static str,
    check: Check,
    required: bool,
}

const fn col(name: &'static str, check: Check) -> Column {
    Column {
        name,
        check,
        required: true,
    }
}

const fn optional(name: &'static str, check: Check) -> Column {
    Column {
        name,
        check,
        required: false,
    }
}

const STAFF: &[Column] = &[
    col("EMPLOYEE_NUMBER", Check::Text),
    col("EMPLOYING_ORG_CODE", Check::Text),
    col("STAFF_GROUP", Check::Text),
    col("AFC_BAND", Check::Text),
    col("DATE_OF_BIRTH", Check::Date),
    col("CONTRACTED_FTE", Check::Amount),
    col("START_DATE_ORG", Check::Date),
    col("END_DATE_ORG", Check::DateOrEmpty),
    optional("DESTINATION_ON_LEAVING", Check::AnyText),
    optional("CONTRACTED_HOURS", Check::AmountOrEmpty),
];

const ABSENCE: &[Column] = &[
    col("EMPLOYEE_NUMBER", Check::Text),
    col("ABSENCE_TYPE", Check::OneOf(&ABSENCE_TYPES)),
    col("ABSENCE_START_DATE", Check::Date),
    col("ABSENCE_END_DATE", Check::Date),
    col("HOURS_LOST", Check::Amount),
];

const ESTABLISHMENT: &[Column] = &[
    col("EMPLOYING_ORG_CODE", Check::Text),
    col("STAFF_GROUP", Check::Text),
    col("AFC_BAND", Check::Text),
    col("ESTABLISHMENT_FTE", Check::Amount),
];

const ROSTER: &[Column] = &[
    col("EMPLOYING_ORG_CODE", Check::Text),
    col("STAFF_GROUP", Check::Text),
    col("AFC_BAND", Check::Text),
    col("SHIFT_DATE", Check::Date),
    col("HOURS", Check::Amount),
    col("SHIFT_TYPE", Check::OneOf(&SHIFT_TYPES)),
    col("COST", Check::Amount),
];

const ORGS: &[Column] = &[
    col("EMPLOYING_ORG_CODE", Check::Text),
    col("SYSTEM", Check::Text),
    optional("SETTING", Check::AnyText),
];

/// The files given, by kind, and the column map.
#[derive(Debug, Clone, Default)]
pub struct ExtractFiles {
    pub files: BTreeMap<Extract, PathBuf>,
    pub map: ColumnMap,
}

impl ExtractFiles {
    /// Reads a column map: a TOML table per extract, `OUR_NAME = "their name"`.
    ///
    /// ```toml
    /// [staff]
    /// EMPLOYEE_NUMBER = "Assignment Number"
    /// ```
    pub fn read_map(path: &Path) -> Result<ColumnMap, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::file(path.display(), e))?;
        let table: BTreeMap<String, BTreeMap<String, String>> =
            toml::from_str(&text).map_err(|e| {
                DataError::file(
                    path.display(),
                    format!("{e}: give a table per extract of OUR_NAME = \"their name\""),
                )
            })?;
        Self::check_map(table).map_err(|e| DataError::file(path.display(), e))
    }

    /// Checks a column map (extract, then our column name to theirs) and writes our
    /// names in upper case; the error names the extract and column.
    pub fn check_map(map: ColumnMap) -> Result<ColumnMap, String> {
        let mut out = BTreeMap::new();
        for (extract, columns) in map {
            let Some(kind) = Extract::ALL.iter().find(|k| k.name() == extract) else {
                return Err(format!(
                    "[{extract}]: not an extract; the extracts are staff, absence, establishment, roster and orgs"
                ));
            };
            let mut names = BTreeMap::new();
            for (ours, theirs) in columns {
                let ours = ours.to_ascii_uppercase();
                if !kind.columns().iter().any(|c| c.name == ours) {
                    return Err(format!(
                        "[{extract}] {ours}: not a column of the {extract} extract ({})",
                        kind.columns()
                            .iter()
                            .map(|c| c.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                names.insert(ours, theirs);
            }
            out.insert(extract, names);
        }
        Ok(out)
    }
}

/// Per extract, our column name (upper case) to the extract's own.
pub type ColumnMap = BTreeMap<String, BTreeMap<String, String>>;

/// Bad rows reported at most, of all files together (the count says how many more).
const MAX_PROBLEMS: usize = 1_000;

/// Reads every extract in `files` into typed temporary tables of `connection` (`staff`,
/// `absence`, `establishment`, `roster`, `orgs`), hashing employee numbers with `salt`.
/// Returns every problem of every file at once.
pub fn load(connection: &Connection, files: &ExtractFiles, salt: &str) -> Result<(), DataError> {
    let mut problems = Vec::new();
    let mut more = 0usize;
    let mut loaded = Vec::new();
    for (&kind, path) in &files.files {
        let source = path.display().to_string();
        let raw = format!("raw_{}", kind.name());
        // Numbering a file's rows is a pass of its own (a window over the whole file), so
        // the extracts whose typed rows need no number (establishment, roster,
        // organisations) are numbered only when they have bad rows to report.
        let numbered = matches!(kind, Extract::Staff | Extract::Absence);
        let started = std::time::Instant::now();
        read_raw(connection, path, &raw, numbered)?;
        tracing::debug!("extracts: read {} in {:?}", kind.name(), started.elapsed());
        let empty = BTreeMap::new();
        let map = files.map.get(kind.name()).unwrap_or(&empty);
        let names = match resolve_columns(connection, &raw, kind, map, &source) {
            Ok(names) => names,
            Err(missing) => {
                problems.extend(missing);
                continue;
            }
        };
        // Typed once; only a file with bad rows is staged again, numbered and with its
        // text, to word its messages.
        let rules = stage(connection, &raw, kind, &names, numbered, false)
            .map_err(|e| DataError::file(&source, e))?;
        if count_bad(connection, kind, &rules).map_err(|e| DataError::file(&source, e))? > 0 {
            if !numbered {
                read_raw(connection, path, &raw, true)?;
            }
            let rules = stage(connection, &raw, kind, &names, true, true)
                .map_err(|e| DataError::file(&source, e))?;
            let (found, total) = bad_rows(connection, kind, &rules, &names, &source)?;
            more += total - found.len();
            problems.extend(found);
        }
        connection.execute_batch(&format!("DROP TABLE {raw}"))?;
        tracing::debug!(
            "extracts: read and checked {} in {:?}",
            kind.name(),
            started.elapsed()
        );
        loaded.push((kind, names));
    }
    if problems.is_empty() {
        for (kind, names) in &loaded {
            let started = std::time::Instant::now();
            type_table(connection, *kind, names, salt)?;
            tracing::debug!("extracts: typed {} in {:?}", kind.name(), started.elapsed());
        }
        if files.files.contains_key(&Extract::Absence) && files.files.contains_key(&Extract::Staff)
        {
            let source = files.files[&Extract::Absence].display().to_string();
            let (found, total) = check_absence_employees(connection, &source)?;
            more += total - found.len();
            problems.extend(found);
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort_by(|a, b| (&a.source, a.row).cmp(&(&b.source, b.row)));
    if more > 0 {
        problems.push(InputProblem {
            source: "extracts".into(),
            row: None,
            column: None,
            message: format!("and {more} more bad rows not listed"),
        });
    }
    Err(DataError::Invalid(InputProblems(problems)))
}

/// The file as text columns, with its row number from the first data row (= 1) in
/// `source_row` when `numbered`.
fn read_raw(
    connection: &Connection,
    path: &Path,
    table: &str,
    numbered: bool,
) -> Result<(), DataError> {
    let source = path.display().to_string();
    if !path.is_file() {
        return Err(DataError::file(&source, "no such file"));
    }
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let csv = |file: &str| {
        format!(
            "read_csv({}, all_varchar = true, header = true)",
            sql_text(file)
        )
    };
    // Kept until the table is made: DuckDB reads the workbook's text from it.
    let mut _workbook_text = None;
    let reader = match extension.as_str() {
        "parquet" => format!("read_parquet({})", sql_text(&source)),
        "csv" | "txt" => csv(&source),
        "xlsx" | "xlsm" => {
            let text = xlsx_to_csv(path)?;
            let reader = csv(&text.path().display().to_string());
            _workbook_text = Some(text);
            reader
        }
        _ => {
            return Err(DataError::file(
                &source,
                "read CSV (.csv), Parquet (.parquet) or Excel (.xlsx) extracts",
            ))
        }
    };
    // DuckDB keeps a file's order in a scan, so the window's row number is the file's.
    let number = if numbered {
        "row_number() OVER () AS source_row, "
    } else {
        ""
    };
    connection
        .execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE {table} AS SELECT {number}* FROM {reader}"
        ))
        .map_err(|e| DataError::file(&source, e))
}

/// The first sheet of a workbook as a temporary CSV file of text cells, dates written
/// `YYYY-MM-DD`.
fn xlsx_to_csv(path: &Path) -> Result<tempfile::NamedTempFile, DataError> {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let source = path.display().to_string();
    let mut workbook: Xlsx<_> =
        open_workbook(path).map_err(|e| DataError::file(&source, format!("cannot open: {e}")))?;
    let sheet = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| DataError::file(&source, "the workbook has no sheets"))?;
    let range = workbook
        .worksheet_range(&sheet)
        .map_err(|e| DataError::file(&source, format!("cannot read sheet {sheet}: {e}")))?;
    let file = tempfile::Builder::new()
        .suffix(".csv")
        .tempfile()
        .map_err(|e| DataError::file(&source, e))?;
    let mut writer =
        csv::Writer::from_path(file.path()).map_err(|e| DataError::file(&source, e))?;
    for row in range.rows() {
        let cells: Vec<String> = row
            .iter()
            .map(|cell| match cell {
                Data::Empty => String::new(),
                Data::DateTime(d) => excel_date(d.as_f64()),
                other => other.to_string(),
            })
            .collect();
        writer
            .write_record(&cells)
            .map_err(|e| DataError::file(&source, e))?;
    }
    writer.flush().map_err(|e| DataError::file(&source, e))?;
    Ok(file)
}

/// An Excel serial date (days since 1899-12-30; 1970-01-01 is 25,569) as `YYYY-MM-DD`.
fn excel_date(serial: f64) -> String {
    crate::model::month::iso_date(serial.floor() as i64 - 25_569)
}

/// Each of the extract's columns' name in the file, matched ignoring case after the map;
/// or a problem for each required column missing.
fn resolve_columns(
    connection: &Connection,
    table: &str,
    kind: Extract,
    map: &BTreeMap<String, String>,
    source: &str,
) -> Result<BTreeMap<&'static str, String>, Vec<InputProblem>> {
    let present = super::sql::table_columns(connection, table).unwrap_or_default();
    let mut names = BTreeMap::new();
    let mut missing = Vec::new();
    for column in kind.columns() {
        let wanted = map
            .get(column.name)
            .map(String::as_str)
            .unwrap_or(column.name);
        match present.iter().find(|p| p.eq_ignore_ascii_case(wanted)) {
            Some(name) => {
                names.insert(column.name, name.clone());
            }
            None if column.required => missing.push(InputProblem {
                source: source.to_string(),
                row: None,
                column: Some(wanted.to_string()),
                message: format!(
                    "no column {wanted}{}; the {} extract needs {}",
                    if wanted == column.name {
                        String::new()
                    } else {
                        format!(" (mapped from {})", column.name)
                    },
                    kind.name(),
                    kind.columns()
                        .iter()
                        .filter(|c| c.required)
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            None => {}
        }
    }
    if missing.is_empty() {
        Ok(names)
    } else {
        Err(missing)
    }
}

const DATE_FORMAT: &str = "'%Y-%m-%d'";

/// SQL for a text cell as a date, NULL when it is not one.
fn date_of(cell: &str) -> String {
    format!("try_strptime(trim({cell}), {DATE_FORMAT})::DATE")
}

/// SQL for a text cell as a number, NULL when it is not one.
fn number_of(cell: &str) -> String {
    format!("try_cast(trim({cell}) AS DOUBLE)")
}

fn empty(cell: &str) -> String {
    format!("({cell} IS NULL OR trim({cell}) = '')")
}

/// Runs a query of (source_row, column, message) and turns its first rows into problems.
fn collect_problems(
    connection: &Connection,
    query: &str,
    source: &str,
    names: &BTreeMap<&'static str, String>,
) -> Result<(Vec<InputProblem>, usize), DataError> {
    let total: i64 = connection
        .query_row(&format!("SELECT count(*) FROM ({query})"), [], |r| r.get(0))
        .map_err(|e| DataError::file(source, e))?;
    let mut statement = connection
        .prepare(&format!(
            "SELECT * FROM ({query}) ORDER BY source_row, column_name LIMIT {MAX_PROBLEMS}"
        ))
        .map_err(|e| DataError::file(source, e))?;
    let mut rows = statement.query([])?;
    let mut problems = Vec::new();
    while let Some(row) = rows.next()? {
        let source_row: i64 = row.get(0)?;
        let column: String = row.get(1)?;
        let message: String = row.get(2)?;
        problems.push(InputProblem {
            source: source.to_string(),
            row: Some(source_row as usize),
            column: Some(names.get(column.as_str()).cloned().unwrap_or(column)),
            message,
        });
    }
    Ok((problems, total as usize))
}

/// The typed column of one extract column in the stage table.
fn typed(column: &str) -> String {
    quote(&format!("t_{column}"))
}

/// One way a row can be bad: the extract column named, the condition on the stage
/// table's columns, and the message (an SQL text expression over them).
struct Rule {
    column: &'static str,
    bad: String,
    message: String,
}

/// Types every cell of a raw table once, into `stage_<kind>` (`t_<COLUMN>`, whether each
/// optional cell was given, the row number when `numbered`, and each cell's text when
/// `with_text`, for messages), and returns the rules a row must pass.
fn stage(
    connection: &Connection,
    raw: &str,
    kind: Extract,
    names: &BTreeMap<&'static str, String>,
    numbered: bool,
    with_text: bool,
) -> duckdb::Result<Vec<Rule>> {
    let mut columns = Vec::new();
    let mut rules = Vec::new();
    if numbered {
        columns.push("source_row".to_string());
    }
    for column in kind.columns() {
        let Some(name) = names.get(column.name) else {
            continue;
        };
        let cell = format!("CAST({} AS VARCHAR)", quote(name));
        let (t, g, x) = (
            typed(column.name),
            quote(&format!("g_{}", column.name)),
            quote(&format!("x_{}", column.name)),
        );
        let shown = format!("'''' || coalesce({x}, '') || ''''");
        let number_bad = format!("{t} IS NULL OR {t} < 0 OR NOT isfinite({t})");
        let (expression, rule) = match column.check {
            Check::AnyText => (format!("trim({cell})"), None),
            Check::Text => (
                format!("trim({cell})"),
                Some((format!("{t} IS NULL OR {t} = ''"), "'empty'".to_string())),
            ),
            Check::Date => (
                date_of(&cell),
                Some((
                    format!("{t} IS NULL"),
                    format!("{shown} || ' is not a date: write it as YYYY-MM-DD'"),
                )),
            ),
            Check::DateOrEmpty => (
                date_of(&cell),
                Some((
                    format!("{g} AND {t} IS NULL"),
                    format!(
                        "{shown} || ' is not a date: write it as YYYY-MM-DD, or leave it empty'"
                    ),
                )),
            ),
            Check::Amount => (
                number_of(&cell),
                Some((
                    number_bad,
                    format!("{shown} || ' is not a number of 0 or more'"),
                )),
            ),
            Check::AmountOrEmpty => (
                number_of(&cell),
                Some((
                    format!("{g} AND ({number_bad})"),
                    format!("{shown} || ' is not a number of 0 or more'"),
                )),
            ),
            Check::OneOf(values) => {
                let list = values
                    .iter()
                    .map(|v| sql_text(v))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    format!("lower(trim({cell}))"),
                    Some((
                        format!("{t} IS NULL OR {t} NOT IN ({list})"),
                        format!(
                            "{shown} || ' is not one of {}'",
                            values.join(", ").replace('\'', "''")
                        ),
                    )),
                )
            }
        };
        columns.push(format!("{expression} AS {t}"));
        if matches!(column.check, Check::DateOrEmpty | Check::AmountOrEmpty) {
            columns.push(format!("NOT {} AS {g}", empty(&cell)));
        }
        if with_text {
            columns.push(format!("{cell} AS {x}"));
        }
        if let Some((bad, message)) = rule {
            rules.push(Rule {
                column: column.name,
                bad,
                message,
            });
        }
    }
    // Rules across columns: an end before its start.
    for (end, start) in [
        ("END_DATE_ORG", "START_DATE_ORG"),
        ("ABSENCE_END_DATE", "ABSENCE_START_DATE"),
    ] {
        if names.contains_key(end) && names.contains_key(start) {
            rules.push(Rule {
                column: end,
                bad: format!("{} < {}", typed(end), typed(start)),
                message: format!("'ends before it starts (' || {} || ')'", typed(start)),
            });
        }
    }
    let name = kind.name();
    connection.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE stage_{name} AS SELECT {} FROM {raw}",
        columns.join(", ")
    ))?;
    Ok(rules)
}

/// How many staged rows break a rule: one pass.
fn count_bad(connection: &Connection, kind: Extract, rules: &[Rule]) -> duckdb::Result<i64> {
    if rules.is_empty() {
        return Ok(0);
    }
    let any = rules
        .iter()
        .map(|r| format!("coalesce({}, false)", r.bad))
        .collect::<Vec<_>>()
        .join(" OR ");
    connection.query_row(
        &format!("SELECT count(*) FROM stage_{} WHERE {any}", kind.name()),
        [],
        |r| r.get(0),
    )
}

/// Every bad row of a file staged with numbers and text (at most [`MAX_PROBLEMS`]) and
/// how many there are: a pass a rule, only for a file that has bad rows.
fn bad_rows(
    connection: &Connection,
    kind: Extract,
    rules: &[Rule],
    names: &BTreeMap<&'static str, String>,
    source: &str,
) -> Result<(Vec<InputProblem>, usize), DataError> {
    let union = rules
        .iter()
        .map(|r| {
            format!(
                "SELECT source_row, {} AS column_name, {} AS message FROM stage_{} WHERE coalesce({}, false)",
                sql_text(r.column),
                r.message,
                kind.name(),
                r.bad
            )
        })
        .collect::<Vec<_>>()
        .join("\nUNION ALL\n");
    collect_problems(connection, &union, source, names)
}

/// The staged table as the typed one calibration reads, employee numbers hashed, the
/// stage dropped.
fn type_table(
    connection: &Connection,
    kind: Extract,
    names: &BTreeMap<&'static str, String>,
    salt: &str,
) -> Result<(), DataError> {
    let cell = |column: &str| -> String {
        if names.contains_key(column) {
            typed(column)
        } else {
            "NULL".into()
        }
    };
    let employee = format!("sha256({} || {})", sql_text(salt), cell("EMPLOYEE_NUMBER"));
    let select = match kind {
        Extract::Staff => format!(
            "source_row, {employee} AS employee, {} AS org, {} AS staff_group, {} AS band,
             {} AS date_of_birth, {} AS fte, {} AS start_date, {} AS end_date,
             coalesce({}, 37.5 * {}) AS hours_per_week",
            cell("EMPLOYING_ORG_CODE"),
            cell("STAFF_GROUP"),
            cell("AFC_BAND"),
            cell("DATE_OF_BIRTH"),
            cell("CONTRACTED_FTE"),
            cell("START_DATE_ORG"),
            cell("END_DATE_ORG"),
            cell("CONTRACTED_HOURS"),
            cell("CONTRACTED_FTE"),
        ),
        Extract::Absence => format!(
            "source_row, {employee} AS employee, {} AS absence_type, {} AS start_date,
             {} AS end_date, {} AS hours_lost",
            cell("ABSENCE_TYPE"),
            cell("ABSENCE_START_DATE"),
            cell("ABSENCE_END_DATE"),
            cell("HOURS_LOST"),
        ),
        Extract::Establishment => format!(
            "{} AS org, {} AS staff_group, {} AS band, {} AS establishment",
            cell("EMPLOYING_ORG_CODE"),
            cell("STAFF_GROUP"),
            cell("AFC_BAND"),
            cell("ESTABLISHMENT_FTE"),
        ),
        Extract::Roster => format!(
            "{} AS org, {} AS staff_group, {} AS band, {} AS shift_date, {} AS hours,
             {} AS shift_type, {} AS cost",
            cell("EMPLOYING_ORG_CODE"),
            cell("STAFF_GROUP"),
            cell("AFC_BAND"),
            cell("SHIFT_DATE"),
            cell("HOURS"),
            cell("SHIFT_TYPE"),
            cell("COST"),
        ),
        Extract::Orgs => format!(
            "{} AS org, {} AS system, nullif({}, '') AS setting",
            cell("EMPLOYING_ORG_CODE"),
            cell("SYSTEM"),
            cell("SETTING"),
        ),
    };
    let name = kind.name();
    connection.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select} FROM stage_{name};
         DROP TABLE stage_{name};"
    ))?;
    Ok(())
}

/// Absences whose employee is not in the staff file, or has no assignment in post on the
/// absence's first day (it could not be placed in a segment).
fn check_absence_employees(
    connection: &Connection,
    source: &str,
) -> Result<(Vec<InputProblem>, usize), DataError> {
    let query = format!(
        "
        SELECT a.source_row, 'EMPLOYEE_NUMBER' AS column_name,
               CASE WHEN NOT EXISTS (SELECT 1 FROM staff s WHERE s.employee = a.employee)
                    THEN 'no such employee in the staff extract'
                    ELSE 'the employee has no assignment in post on the absence''s start date, ' || a.start_date
               END AS message
        FROM absence a
        WHERE NOT EXISTS (SELECT 1 FROM staff s WHERE s.employee = a.employee AND {})",
        super::calibration::in_post("s", "a.start_date")
    );
    let names = BTreeMap::from([("EMPLOYEE_NUMBER", "EMPLOYEE_NUMBER".to_string())]);
    collect_problems(connection, &query, source, &names)
}
