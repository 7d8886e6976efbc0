//! The `workforce` table: one row per segment (a group of staff of one organisation,
//! staff group and band), with the inputs of `docs/model.md`.
//!
//! Inputs arrive from CSV, Excel, Parquet or DuckDB as rows of [`Cell`]s and are checked
//! here by [`WorkforceBuilder`], which reports every bad value at once with its source, row
//! and column. Past that point the engine only ever sees a valid [`Workforce`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::column::Column;

/// The numeric input columns, in the order of the spec's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputColumn {
    Fte,
    Establishment,
    LeaverRate,
    SicknessRate,
    AnnualLeaveRate,
    StudyLeaveRate,
    OtherLeaveRate,
    HoursPerWeek,
    DccShare,
    AnnualPay,
    TimeToFill,
    BankShare,
    AgencyShare,
    BankPremium,
    AgencyPremium,
    DemandGrowth,
    /// Optional: empty (NaN here) means the segment's own headroom at the start.
    HeadroomAllowance,
}

/// The allowed values of an input column.
#[derive(Debug, Clone, Copy)]
enum Bounds {
    /// `>= 0`
    NonNegative,
    /// `> 0`
    Positive,
    /// `[0, 1)`
    ShareBelowOne,
    /// `[0, 1]`
    Share,
    /// `> -1`
    AboveMinusOne,
}

impl Bounds {
    fn admits(self, x: f64) -> bool {
        match self {
            Bounds::NonNegative => x >= 0.0,
            Bounds::Positive => x > 0.0,
            Bounds::ShareBelowOne => (0.0..1.0).contains(&x),
            Bounds::Share => (0.0..=1.0).contains(&x),
            Bounds::AboveMinusOne => x > -1.0,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Bounds::NonNegative => "must be 0 or more",
            Bounds::Positive => "must be more than 0",
            Bounds::ShareBelowOne => "must be at least 0 and below 1",
            Bounds::Share => "must be between 0 and 1",
            Bounds::AboveMinusOne => "must be more than -1",
        }
    }
}

impl InputColumn {
    pub const ALL: [InputColumn; 17] = [
        InputColumn::Fte,
        InputColumn::Establishment,
        InputColumn::LeaverRate,
        InputColumn::SicknessRate,
        InputColumn::AnnualLeaveRate,
        InputColumn::StudyLeaveRate,
        InputColumn::OtherLeaveRate,
        InputColumn::HoursPerWeek,
        InputColumn::DccShare,
        InputColumn::AnnualPay,
        InputColumn::TimeToFill,
        InputColumn::BankShare,
        InputColumn::AgencyShare,
        InputColumn::BankPremium,
        InputColumn::AgencyPremium,
        InputColumn::DemandGrowth,
        InputColumn::HeadroomAllowance,
    ];

    pub fn name(self) -> &'static str {
        match self {
            InputColumn::Fte => "fte",
            InputColumn::Establishment => "establishment",
            InputColumn::LeaverRate => "leaver_rate",
            InputColumn::SicknessRate => "sickness_rate",
            InputColumn::AnnualLeaveRate => "annual_leave_rate",
            InputColumn::StudyLeaveRate => "study_leave_rate",
            InputColumn::OtherLeaveRate => "other_leave_rate",
            InputColumn::HoursPerWeek => "hours_per_week",
            InputColumn::DccShare => "dcc_share",
            InputColumn::AnnualPay => "annual_pay",
            InputColumn::TimeToFill => "time_to_fill",
            InputColumn::BankShare => "bank_share",
            InputColumn::AgencyShare => "agency_share",
            InputColumn::BankPremium => "bank_premium",
            InputColumn::AgencyPremium => "agency_premium",
            InputColumn::DemandGrowth => "demand_growth",
            InputColumn::HeadroomAllowance => "headroom_allowance",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// May a source leave this column out, or a row leave its cell empty? Only the
    /// headroom allowance: empty means "the segment's own headroom at the start", which
    /// the rules work out (after a scenario's overrides). An empty cell is held as NaN.
    pub fn is_optional(self) -> bool {
        self == InputColumn::HeadroomAllowance
    }

    fn bounds(self) -> Bounds {
        use InputColumn::*;
        match self {
            Fte | Establishment | AnnualPay | TimeToFill | BankPremium | AgencyPremium => {
                Bounds::NonNegative
            }
            HoursPerWeek => Bounds::Positive,
            LeaverRate | SicknessRate | AnnualLeaveRate | StudyLeaveRate | OtherLeaveRate
            | HeadroomAllowance => Bounds::ShareBelowOne,
            DccShare | BankShare | AgencyShare => Bounds::Share,
            DemandGrowth => Bounds::AboveMinusOne,
        }
    }

    /// The greatest value a planner could mean, far beyond any real segment, so that a
    /// run's figures stay finite numbers over 600 months (an input of `1e308` was taken,
    /// and the run "succeeded" with infinities).
    fn maximum(self) -> f64 {
        use InputColumn::*;
        match self {
            // FTE of one segment: the whole NHS is about 1.3 million.
            Fte | Establishment => 10_000_000.0,
            // GBP a year for one FTE, on-costs included.
            AnnualPay => 10_000_000.0,
            // Months: a hundred years.
            TimeToFill => 1_200.0,
            // Multiples of substantive pay.
            BankPremium | AgencyPremium => 100.0,
            // Hours in a week.
            HoursPerWeek => 168.0,
            // Tenfold growth a year.
            DemandGrowth => 10.0,
            LeaverRate | SicknessRate | AnnualLeaveRate | StudyLeaveRate | OtherLeaveRate
            | DccShare | BankShare | AgencyShare | HeadroomAllowance => 1.0,
        }
    }

    /// The nearest allowed value: how a Monte Carlo draw's product of factors is brought
    /// back into the column's range (docs/model.md, section 7). An open bound `b` gives
    /// `b - 1e-9` (above) or `b + 1e-9` (below), so a clamped value is always allowed.
    pub fn clamp(self, value: f64) -> f64 {
        const OPEN: f64 = 1e-9;
        let maximum = self.maximum();
        let (low, high) = match self.bounds() {
            Bounds::NonNegative => (0.0, maximum),
            Bounds::Positive => (OPEN, maximum),
            Bounds::ShareBelowOne => (0.0, 1.0 - OPEN),
            Bounds::Share => (0.0, 1.0),
            Bounds::AboveMinusOne => (-1.0 + OPEN, maximum),
        };
        value.clamp(low, high)
    }

    /// Why `value` is not allowed in this column, if it is not.
    pub fn check(self, value: f64) -> Option<String> {
        if value.is_nan() && self.is_optional() {
            return None;
        }
        if !value.is_finite() {
            return Some(format!("{value} is not a finite number"));
        }
        let bounds = self.bounds();
        if !bounds.admits(value) {
            return Some(format!("{value} {}", bounds.describe()));
        }
        let maximum = self.maximum();
        (value > maximum).then(|| format!("{value} is above the greatest allowed value, {maximum}"))
    }
}

/// The text columns every workforce table has. Any other text column is an extra key.
pub const REQUIRED_KEYS: [&str; 4] = ["org", "system", "staff_group", "band"];

/// A text column, stored as codes into a dictionary of its distinct values.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyColumn {
    pub codes: Arc<Vec<u32>>,
    pub dictionary: Arc<Vec<String>>,
}

impl KeyColumn {
    pub fn value(&self, segment: usize) -> &str {
        &self.dictionary[self.codes[segment] as usize]
    }

    pub fn code_of(&self, value: &str) -> Option<u32> {
        self.dictionary
            .iter()
            .position(|v| v == value)
            .map(|i| i as u32)
    }

    pub fn from_values<S: AsRef<str>>(values: &[S]) -> Self {
        let mut builder = KeyBuilder::default();
        for v in values {
            builder.push(v.as_ref());
        }
        builder.finish()
    }
}

#[derive(Default)]
struct KeyBuilder {
    codes: Vec<u32>,
    dictionary: Vec<String>,
    // FxHash rather than SipHash: a million-row import looks up every key of every row
    // here, and the values are the file's own, not an attacker's choice of collisions
    // worth defending against.
    lookup: FxHashMap<String, u32>,
}

impl KeyBuilder {
    fn push(&mut self, value: &str) {
        let code = self.code(value);
        self.codes.push(code);
    }

    /// The value's code, adding it to the dictionary if it is new.
    fn code(&mut self, value: &str) -> u32 {
        match self.lookup.get(value) {
            Some(&code) => code,
            None => {
                let code = self.dictionary.len() as u32;
                self.dictionary.push(value.to_string());
                self.lookup.insert(value.to_string(), code);
                code
            }
        }
    }

    fn finish(self) -> KeyColumn {
        KeyColumn {
            codes: Arc::new(self.codes),
            dictionary: Arc::new(self.dictionary),
        }
    }
}

/// A valid workforce table: key columns in the order of the source, and every numeric input.
#[derive(Debug, Clone, PartialEq)]
pub struct Workforce {
    pub key_names: Vec<String>,
    pub keys: Vec<KeyColumn>,
    /// Indexed by [`InputColumn::index`].
    pub inputs: Vec<Column>,
}

impl Workforce {
    /// Number of segments.
    pub fn len(&self) -> usize {
        self.inputs[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn input(&self, column: InputColumn) -> &Column {
        &self.inputs[column.index()]
    }

    pub fn key(&self, name: &str) -> Option<&KeyColumn> {
        self.key_names
            .iter()
            .position(|k| k == name)
            .map(|i| &self.keys[i])
    }

    /// A readable name of one segment, for error messages: `org/staff_group/band`.
    pub fn segment_label(&self, segment: usize) -> String {
        ["org", "staff_group", "band"]
            .iter()
            .filter_map(|k| self.key(k).map(|c| c.value(segment).to_string()))
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Every rule a segment's inputs must keep: returns `(column, reason)` pairs. Used again
    /// after a scenario's overrides, which may set any input.
    pub fn check_segment(&self, segment: usize) -> Vec<(&'static str, String)> {
        let value = |c: InputColumn| self.input(c).values()[segment];
        let mut problems: Vec<(&'static str, String)> = InputColumn::ALL
            .iter()
            .filter_map(|&c| c.check(value(c)).map(|reason| (c.name(), reason)))
            .collect();
        if problems.is_empty() {
            problems.extend(
                cross_column_problems(value)
                    .into_iter()
                    .map(|(c, r)| (c.name(), r)),
            );
        }
        problems
    }

    /// SHA-256 of the table's contents, so a stored run says exactly which data it used.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for (name, key) in self.key_names.iter().zip(&self.keys) {
            hasher.update(name.as_bytes());
            for segment in 0..self.len() {
                hasher.update([0]);
                hasher.update(key.value(segment).as_bytes());
            }
        }
        for column in &self.inputs {
            for x in column.values() {
                hasher.update(x.to_le_bytes());
            }
        }
        super::hex(&hasher.finalize())
    }

    /// A copy holding only the given segments, in the given order.
    pub fn select(&self, segments: &[usize]) -> Workforce {
        let keys = self
            .keys
            .iter()
            .map(|k| {
                let values: Vec<&str> = segments.iter().map(|&s| k.value(s)).collect();
                KeyColumn::from_values(&values)
            })
            .collect();
        let inputs = self
            .inputs
            .iter()
            .map(|c| Column::new(segments.iter().map(|&s| c.values()[s]).collect()))
            .collect();
        Workforce {
            key_names: self.key_names.clone(),
            keys,
            inputs,
        }
    }
}

/// The rules that tie several inputs of a segment together.
fn cross_column_problems(value: impl Fn(InputColumn) -> f64) -> Vec<(InputColumn, String)> {
    let mut problems = Vec::new();
    let headroom = value(InputColumn::AnnualLeaveRate)
        + value(InputColumn::StudyLeaveRate)
        + value(InputColumn::OtherLeaveRate)
        + value(InputColumn::SicknessRate);
    if headroom >= 1.0 {
        problems.push((
            InputColumn::SicknessRate,
            format!("headroom (annual, study and other leave plus sickness) is {headroom}; it must be below 1"),
        ));
    }
    let temporary = value(InputColumn::BankShare) + value(InputColumn::AgencyShare);
    // A small allowance so that shares such as 0.7 + 0.3 written in decimal pass.
    if temporary > 1.0 + 1e-9 {
        problems.push((
            InputColumn::AgencyShare,
            format!("bank_share + agency_share is {temporary}; it must be 1 or less"),
        ));
    }
    problems
}

/// One value of a source row, before it is checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Text(&'a str),
    Number(f64),
}

/// A problem with an input, located as precisely as the source allows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputProblem {
    /// File name, or `table workforce` for a DuckDB source.
    pub source: String,
    /// 1-based row as a spreadsheet numbers it: the header is row 1, the first segment row 2.
    pub row: Option<usize>,
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in an input, so a planner can fix them all in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the workforce data:\n{}", .0.len(), list_problems(.0))]
pub struct InputProblems(pub Vec<InputProblem>);

pub(crate) fn list_problems(problems: &[InputProblem]) -> String {
    const SHOWN: usize = 50;
    let mut text: Vec<String> = problems
        .iter()
        .take(SHOWN)
        .map(|p| format!("  {p}"))
        .collect();
    if problems.len() > SHOWN {
        text.push(format!("  ... and {} more", problems.len() - SHOWN));
    }
    text.join("\n")
}

/// What a source column holds.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Key(usize),
    Input(InputColumn),
}

/// The number of spec inputs of a row.
const INPUTS: usize = InputColumn::ALL.len();

/// A row whose values passed their checks: its key texts (in key order) and inputs.
pub struct CheckedRow<'a> {
    keys: Vec<Cow<'a, str>>,
    numbers: [f64; INPUTS],
}

/// What is wrong with a row: the column (of the current file) if one, and why.
pub type RowProblem = (Option<usize>, String);

/// How to check a row of the current file: which column is which.
#[derive(Debug, Clone)]
pub struct RowChecker {
    /// Slot of each column of the current file.
    mapping: Vec<usize>,
    /// What each column holds, in the order of the first file.
    slots: Vec<Slot>,
    /// Whether each key column must have a value.
    required_key: Vec<bool>,
}

impl RowChecker {
    /// Checks one row's values on their own: the part of
    /// [`WorkforceBuilder::push_row`] that needs no other row. The row joins the table
    /// with [`WorkforceBuilder::accept_row`], in file order.
    pub fn check_row<'a>(&self, cells: &[Cell<'a>]) -> Result<CheckedRow<'a>, Vec<RowProblem>> {
        if cells.len() != self.slots.len() {
            return Err(vec![(
                None,
                format!(
                    "the row has {} values but the header has {} columns",
                    cells.len(),
                    self.slots.len()
                ),
            )]);
        }
        let mut keys: Vec<Cow<'a, str>> = vec![Cow::Borrowed(""); self.required_key.len()];
        let mut numbers = [f64::NAN; INPUTS];
        let mut problems = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            match self.slots[self.mapping[i]] {
                Slot::Key(k) => {
                    let text = match *cell {
                        Cell::Empty => Cow::Borrowed(""),
                        Cell::Text(t) => Cow::Borrowed(t.trim()),
                        Cell::Number(x) => Cow::Owned(format_number(x)),
                    };
                    if text.is_empty() && self.required_key[k] {
                        problems.push((Some(i), "value is missing".into()));
                    }
                    keys[k] = text;
                }
                Slot::Input(input) => {
                    let number = match cell {
                        Cell::Number(x) => Ok(*x),
                        Cell::Text(t) if !t.trim().is_empty() => t
                            .trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|x| !x.is_nan())
                            .ok_or_else(|| format!("'{}' is not a number", t.trim())),
                        _ if input.is_optional() => Ok(f64::NAN),
                        _ => Err("value is missing".to_string()),
                    };
                    match number.and_then(|x| input.check(x).map_or(Ok(x), Err)) {
                        Ok(x) => numbers[input.index()] = x,
                        Err(reason) => problems.push((Some(i), reason)),
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let cross = cross_column_problems(|c: InputColumn| numbers[c.index()]);
        if !cross.is_empty() {
            return Err(cross
                .into_iter()
                .map(|(input, reason)| (Some(self.column_of(input)), reason))
                .collect());
        }
        Ok(CheckedRow { keys, numbers })
    }

    /// The current file's column holding `input`.
    fn column_of(&self, input: InputColumn) -> usize {
        let slot = self
            .slots
            .iter()
            .position(|s| matches!(s, Slot::Input(c) if *c == input))
            .expect("required columns were checked in new()");
        self.mapping
            .iter()
            .position(|&m| m == slot)
            .expect("every slot is mapped")
    }
}

/// Checks rows from any source and builds a [`Workforce`], collecting every problem.
pub struct WorkforceBuilder {
    source: String,
    /// Column names of the current file.
    header: Vec<String>,
    /// Checks each row of the current file on its own.
    checker: RowChecker,
    slot_names: Vec<String>,
    key_names: Vec<String>,
    keys: Vec<KeyBuilder>,
    inputs: Vec<Vec<f64>>,
    rows: Vec<usize>,
    /// Each segment's key codes, and the source (an index into `sources`) and row where
    /// it first appeared, to name the first row of a duplicate.
    seen: FxHashMap<Vec<u32>, (usize, usize)>,
    sources: Vec<String>,
    problems: Vec<InputProblem>,
}

impl WorkforceBuilder {
    /// Reads the header. Columns named as spec inputs are numeric; every other column is a key.
    pub fn new(source: impl Into<String>, header: &[String]) -> Result<Self, InputProblems> {
        let source = source.into();
        let mut problems = Vec::new();
        let mut slots = Vec::new();
        let mut key_names = Vec::new();
        // Names are compared as DuckDB compares them, ignoring case: `FTE` is the input
        // `fte`, and a key `Leavers` would clash with the results' `leavers`.
        let mut seen_names: HashMap<String, usize> = HashMap::new();
        let mut names = Vec::with_capacity(header.len());
        for (i, raw) in header.iter().enumerate() {
            let name = canonical_name(raw);
            names.push(name.clone());
            if name.is_empty() {
                problems.push(problem(
                    &source,
                    Some(1),
                    None,
                    format!("column {} has no name", i + 1),
                ));
            } else if let Some(first) = seen_names.insert(name.to_lowercase(), i) {
                problems.push(problem(
                    &source,
                    Some(1),
                    Some(name.as_str()),
                    format!(
                        "the column appears twice (as '{}' and '{name}'; names are compared ignoring case)",
                        clean_name(&header[first])
                    ),
                ));
            }
            match InputColumn::from_name(&name) {
                Some(input) => slots.push(Slot::Input(input)),
                None => {
                    if super::results::is_result_column(&name.to_lowercase()) {
                        problems.push(problem(
                            &source,
                            Some(1),
                            Some(name.as_str()),
                            format!("'{name}' is not a model input, so it would be a key column, but results already have a column of that name (names are compared ignoring case); rename it"),
                        ));
                    }
                    slots.push(Slot::Key(key_names.len()));
                    key_names.push(name);
                }
            }
        }
        if key_names.len() > MAX_KEY_COLUMNS {
            problems.push(problem(
                &source,
                Some(1),
                None,
                format!(
                    "{} key columns; a workforce table may have at most {MAX_KEY_COLUMNS}",
                    key_names.len()
                ),
            ));
        }
        for required in REQUIRED_KEYS.iter().copied().chain(
            InputColumn::ALL
                .iter()
                .filter(|c| !c.is_optional())
                .map(|c| c.name()),
        ) {
            if !seen_names.contains_key(required) {
                problems.push(problem(
                    &source,
                    None,
                    Some(required),
                    "required column is missing".into(),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(InputProblems(problems));
        }
        Ok(Self {
            sources: vec![source.clone()],
            source,
            checker: RowChecker {
                mapping: (0..names.len()).collect(),
                required_key: key_names
                    .iter()
                    .map(|k| REQUIRED_KEYS.contains(&k.as_str()))
                    .collect(),
                slots,
            },
            header: names.clone(),
            slot_names: names,
            keys: key_names.iter().map(|_| KeyBuilder::default()).collect(),
            key_names,
            inputs: vec![Vec::new(); InputColumn::ALL.len()],
            rows: Vec::new(),
            seen: FxHashMap::default(),
            problems: Vec::new(),
        })
    }

    /// Starts another file whose rows join the same table. It must have the same columns as
    /// the first, in any order.
    pub fn start_file(
        &mut self,
        source: impl Into<String>,
        header: &[String],
    ) -> Result<(), InputProblems> {
        let source = source.into();
        let names: Vec<String> = header.iter().map(|h| canonical_name(h)).collect();
        let mut mapping = Vec::new();
        for name in &names {
            match self
                .slot_names
                .iter()
                .position(|n| super::same_name(n, name))
            {
                Some(slot) if !mapping.contains(&slot) => mapping.push(slot),
                _ => {
                    return Err(InputProblems(vec![problem(
                        &source,
                        Some(1),
                        Some(name.as_str()),
                        format!(
                            "the column is not in {} (all files must have the same columns)",
                            self.source
                        ),
                    )]))
                }
            }
        }
        if mapping.len() != self.slot_names.len() {
            let missing: Vec<&str> = (0..self.slot_names.len())
                .filter(|s| !mapping.contains(s))
                .map(|s| self.slot_names[s].as_str())
                .collect();
            return Err(InputProblems(vec![problem(
                &source,
                Some(1),
                None,
                format!(
                    "columns missing that {} has: {}",
                    self.source,
                    missing.join(", ")
                ),
            )]));
        }
        self.sources.push(source.clone());
        self.source = source;
        self.header = names;
        self.checker.mapping = mapping;
        Ok(())
    }

    /// Adds one row; `row` is its number in the source, for messages.
    pub fn push_row(&mut self, row: usize, cells: &[Cell]) {
        match self.checker.check_row(cells) {
            Ok(checked) => self.accept_row(row, &checked),
            Err(problems) => self.report_row(row, problems),
        }
    }

    /// The checks of one row on its own, for threads that check a large file's rows
    /// while this builder joins them to the table in file order.
    pub fn checker(&self) -> &RowChecker {
        &self.checker
    }

    /// Adds a checked row to the table, unless it repeats an earlier row's segment.
    pub fn accept_row(&mut self, row: usize, checked: &CheckedRow) {
        // Only a valid row's keys enter the dictionaries. A duplicate's values are already
        // there, as its first row's.
        let codes: Vec<u32> = checked
            .keys
            .iter()
            .zip(&mut self.keys)
            .map(|(text, key)| key.code(text))
            .collect();
        if let Some(&(source, first)) = self.seen.get(&codes) {
            let message = format!(
                "duplicate segment: the same {} as {} row {first}",
                self.key_names.join(", "),
                self.sources[source]
            );
            self.report(row, None, message);
            return;
        }
        for (key, &code) in self.keys.iter_mut().zip(&codes) {
            key.codes.push(code);
        }
        self.seen.insert(codes, (self.sources.len() - 1, row));
        for (c, x) in checked.numbers.iter().enumerate() {
            self.inputs[c].push(*x);
        }
        self.rows.push(row);
    }

    /// Records what [`check_row`](Self::check_row) found wrong with a row.
    pub fn report_row(&mut self, row: usize, problems: Vec<RowProblem>) {
        for (column, message) in problems {
            self.report(row, column, message);
        }
    }

    fn report(&mut self, row: usize, column: Option<usize>, message: String) {
        let column = column.map(|c| self.header[c].as_str());
        self.problems
            .push(problem(&self.source, Some(row), column, message));
    }

    /// The workforce, or every problem found.
    pub fn finish(self) -> Result<Workforce, InputProblems> {
        let mut problems = self.problems;
        if self.rows.is_empty() && problems.is_empty() {
            problems.push(problem(
                &self.source,
                None,
                None,
                "the file has no segment rows".into(),
            ));
        }
        if !problems.is_empty() {
            return Err(InputProblems(problems));
        }
        Ok(Workforce {
            key_names: self.key_names,
            keys: self.keys.into_iter().map(KeyBuilder::finish).collect(),
            inputs: self.inputs.into_iter().map(Column::new).collect(),
        })
    }
}

/// A header name as written, without surrounding spaces or a spreadsheet's byte-order mark.
fn clean_name(raw: &str) -> String {
    raw.trim_start_matches('\u{feff}').trim().to_string()
}

/// A column's name as wfplan keeps it: trimmed, and in lower case when it names a model
/// input or a required key in any case (`FTE` is `fte`); other keys as written.
pub fn canonical_name(raw: &str) -> String {
    let name = clean_name(raw);
    let lower = name.to_lowercase();
    if InputColumn::from_name(&lower).is_some() || REQUIRED_KEYS.contains(&lower.as_str()) {
        lower
    } else {
        name
    }
}

/// Most key columns a workforce table may have: far more than any planner's breakdown
/// (organisation, system, staff group, band, setting, age band...), and a bound on what
/// one upload can make every later query carry.
pub const MAX_KEY_COLUMNS: usize = 64;

fn problem(
    source: &str,
    row: Option<usize>,
    column: Option<&str>,
    message: String,
) -> InputProblem {
    InputProblem {
        source: source.to_string(),
        row,
        column: column.map(str::to_string),
        message,
    }
}

/// Writes a number read into a key column (Excel gives `5` as 5.0) as a planner typed it.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn header() -> Vec<String> {
        let mut names: Vec<String> = REQUIRED_KEYS.iter().map(|s| s.to_string()).collect();
        names.extend(
            InputColumn::ALL
                .iter()
                .filter(|c| !c.is_optional())
                .map(|c| c.name().to_string()),
        );
        names
    }

    fn row(org: &str, band: &str, fte: &str) -> Vec<String> {
        let mut cells = vec![
            org.into(),
            "ics".into(),
            "physiotherapy".into(),
            band.into(),
            fte.into(),
        ];
        cells.extend(
            [
                "10", "0.1", "0.04", "0.12", "0.02", "0.01", "37.5", "0.7", "40000", "3", "0.3",
                "0.2", "1.1", "1.8", "0.02",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        cells
    }

    fn build(rows: &[Vec<String>]) -> Result<Workforce, InputProblems> {
        let mut b = WorkforceBuilder::new("w.csv", &header())?;
        for (i, r) in rows.iter().enumerate() {
            let cells: Vec<Cell> = r.iter().map(|s| Cell::Text(s)).collect();
            b.push_row(i + 2, &cells);
        }
        b.finish()
    }

    #[test]
    fn builds_valid_rows() {
        let w = build(&[row("a", "5", "9.5"), row("a", "6", "3")]).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w.input(InputColumn::Fte).values(), &[9.5, 3.0]);
        assert_eq!(w.key("band").unwrap().value(1), "6");
    }

    #[test]
    fn reports_every_problem_with_row_and_column() {
        let mut bad_rate = row("a", "6", "3");
        bad_rate[6] = "1.5".into(); // leaver_rate
        let errors = build(&[
            row("a", "5", "-1"),
            bad_rate,
            row("a", "5", "x"),
            row("a", "5", "2"),
        ])
        .unwrap_err()
        .0;
        let found: Vec<(Option<usize>, Option<&str>)> = errors
            .iter()
            .map(|p| (p.row, p.column.as_deref()))
            .collect();
        assert!(found.contains(&(Some(2), Some("fte"))), "{errors:?}");
        assert!(
            found.contains(&(Some(3), Some("leaver_rate"))),
            "{errors:?}"
        );
        assert!(found.contains(&(Some(4), Some("fte"))), "{errors:?}");
        // Row 5 repeats row 2's keys, but row 2 was rejected, so it is not a duplicate.
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn rejects_duplicates_and_missing_columns() {
        let errors = build(&[row("a", "5", "1"), row("a", "5", "2")])
            .unwrap_err()
            .0;
        assert!(
            errors[0].message.contains("duplicate segment"),
            "{errors:?}"
        );
        let short: Vec<String> = header().into_iter().filter(|h| h != "dcc_share").collect();
        let errors = WorkforceBuilder::new("w.csv", &short).err().unwrap().0;
        assert_eq!(errors[0].column.as_deref(), Some("dcc_share"));
    }

    #[test]
    fn rejects_key_columns_named_as_results_columns() {
        for name in [
            "leavers",
            "month",
            "scenario",
            "vacancy_rate",
            "period",
            "run_id",
        ] {
            let mut named = header();
            named.push(name.into());
            let errors = WorkforceBuilder::new("w.csv", &named).err().unwrap().0;
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(
                (errors[0].row, errors[0].column.as_deref()),
                (Some(1), Some(name))
            );
            assert!(errors[0].message.contains("rename it"), "{errors:?}");
        }
        // Any other extra column is a key.
        let mut named = header();
        named.push("site".into());
        assert!(WorkforceBuilder::new("w.csv", &named).is_ok());
    }
}
