//! A checked scenario: what a planner asked for, with every default filled in and every
//! reference resolved. Built by `scenario/` from the TOML files; read by `engine/`.

use serde::Serialize;

use super::month::YearMonth;
use super::uncertainty::{MonteCarlo, UncertainEntry};
use super::workforce::{InputColumn, Workforce};

/// A `where` filter: every condition must hold; a condition holds when the segment's value of
/// the key column is one of the listed values.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Filter {
    pub conditions: Vec<(String, Vec<String>)>,
}

impl Filter {
    /// Which segments the filter matches. Columns were checked against the workforce when
    /// the scenario was validated; an unknown column here matches nothing.
    pub fn matches(&self, workforce: &Workforce) -> Vec<bool> {
        let mut matched = vec![true; workforce.len()];
        for (column, accepted) in &self.conditions {
            match workforce.key(column) {
                Some(key) => {
                    let codes: Vec<u32> = accepted.iter().filter_map(|v| key.code_of(v)).collect();
                    for (m, code) in matched.iter_mut().zip(key.codes.iter()) {
                        *m = *m && codes.contains(code);
                    }
                }
                None => matched.iter_mut().for_each(|m| *m = false),
            }
        }
        matched
    }
}

/// `[[overrides]]`: set input columns of the matched segments before the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Override {
    pub filter: Filter,
    pub set: Vec<(InputColumnName, f64)>,
}

/// An input column, serialised by its spec name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputColumnName(pub InputColumn);

impl Serialize for InputColumnName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

/// The value of a kind-specific intervention field, typed by the kind's declaration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    Number(f64),
    Integer(i64),
    Filter(Filter),
    /// Key column names (the dataset's spelling), for example a transfer's `same`.
    KeyColumns(Vec<String>),
}

/// One intervention, with its common fields resolved and its kind's fields defaulted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intervention {
    pub kind: String,
    pub name: String,
    pub filter: Filter,
    pub start: YearMonth,
    pub end: Option<YearMonth>,
    /// Months to reach full effect; any positive number.
    pub ramp_months: f64,
    pub cost_per_month: f64,
    /// The kind's own fields, in the order the kind declares them.
    pub fields: Vec<(String, FieldValue)>,
}

impl Intervention {
    /// One of the kind's own fields.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A scenario ready to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub start: YearMonth,
    pub months: usize,
    pub overrides: Vec<Override>,
    pub interventions: Vec<Intervention>,
    pub seasonality: Seasonality,
    /// `[monte_carlo]`: draws and seed; none for a deterministic run.
    pub monte_carlo: Option<MonteCarlo>,
    /// `[[uncertain]]` entries, the parent's first. They act only in a run with draws.
    pub uncertain: Vec<UncertainEntry>,
}

/// `[seasonality]`: a factor for each calendar month (January first) on the annual leave
/// rate and on the sickness rate; all 1 when a scenario gives none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seasonality {
    pub annual_leave: [f64; 12],
    pub sickness: [f64; 12],
}

impl Default for Seasonality {
    fn default() -> Self {
        Seasonality {
            annual_leave: [1.0; 12],
            sickness: [1.0; 12],
        }
    }
}

impl Seasonality {
    /// The largest factor of each list: the month a segment's headroom is highest.
    pub fn peaks(&self) -> (f64, f64) {
        let peak = |factors: &[f64; 12]| factors.iter().copied().fold(0.0, f64::max);
        (peak(&self.annual_leave), peak(&self.sickness))
    }
}

impl Scenario {
    /// The workforce this scenario runs on: the dataset with its overrides applied in order.
    pub fn apply_overrides(&self, workforce: &Workforce) -> Workforce {
        let mut adjusted = workforce.clone();
        for o in &self.overrides {
            let matched = o.filter.matches(workforce);
            for (column, value) in &o.set {
                let values = adjusted.inputs[column.0.index()].values_mut();
                for (v, m) in values.iter_mut().zip(&matched) {
                    if *m {
                        *v = *value;
                    }
                }
            }
        }
        adjusted
    }

    /// One input column after the overrides, without copying the rest of the workforce.
    pub fn input_after_overrides<'w>(
        &self,
        workforce: &'w Workforce,
        column: InputColumn,
    ) -> std::borrow::Cow<'w, [f64]> {
        let mut values = std::borrow::Cow::Borrowed(workforce.input(column).values());
        for o in &self.overrides {
            for (set, value) in &o.set {
                if set.0 == column {
                    let matched = o.filter.matches(workforce);
                    for (v, m) in values.to_mut().iter_mut().zip(&matched) {
                        if *m {
                            *v = *value;
                        }
                    }
                }
            }
        }
        values
    }
}

/// How finely results are kept: every segment, or summed over segments sharing some keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Detail {
    /// One row per segment, as the spec's output.
    Segment,
    /// One row per distinct combination of these key columns; none means one total row.
    GroupBy(Vec<String>),
}

impl Detail {
    /// Reads `segment`, `total`, or key columns separated by commas (`org,staff_group`),
    /// each of which must be one of `key_names` (compared as DuckDB compares names,
    /// ignoring case; the dataset's spelling is kept). The error names the valid levels.
    pub fn parse(text: &str, key_names: &[String]) -> Result<Detail, String> {
        match text.trim() {
            "segment" => Ok(Detail::Segment),
            "total" => Ok(Detail::GroupBy(Vec::new())),
            keys => {
                let mut chosen: Vec<String> = Vec::new();
                for key in keys.split(',').map(str::trim) {
                    let found = key_names.iter().find(|k| super::same_name(k, key));
                    match found {
                        Some(k) if !chosen.contains(k) => chosen.push(k.clone()),
                        Some(k) => return Err(format!("key column '{k}' is given twice")),
                        None => {
                            return Err(format!(
                                "'{text}' is not a level of detail: give segment, total, or key \
                                 columns separated by commas, from {}",
                                key_names.join(", ")
                            ))
                        }
                    }
                }
                Ok(Detail::GroupBy(chosen))
            }
        }
    }

    pub fn label(&self) -> String {
        match self {
            Detail::Segment => "segment".into(),
            Detail::GroupBy(keys) if keys.is_empty() => "total".into(),
            Detail::GroupBy(keys) => keys.join(","),
        }
    }
}
