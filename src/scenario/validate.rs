//! Checking a scenario document into a [`Scenario`].

use serde_json::{Map, Value};

use super::ScenarioProblem;
use crate::model::scenario::{FieldValue, InputColumnName, Seasonality};
use crate::model::uncertainty::{MonteCarlo, Uncertain, UncertainEntry, MAX_DRAWS};
use crate::model::workforce::format_number;
use crate::model::{
    same_name, Filter, InputColumn, Intervention, Override, Scenario, Workforce, YearMonth,
};
use crate::rules::{FieldType, RuleSet, Stage};

/// The last year a run may reach.
const LAST_YEAR: i32 = 2999;
/// Longest run, in months (50 years).
pub const MAX_MONTHS: i64 = 600;

const TOP_LEVEL: [&str; 10] = [
    "name",
    "description",
    "start",
    "months",
    "overrides",
    "interventions",
    "seasonality",
    "monte_carlo",
    "uncertain",
    "extends",
];

/// Collects problems for one document.
struct Checker<'a> {
    file: &'a str,
    workforce: &'a Workforce,
    problems: Vec<ScenarioProblem>,
}

impl Checker<'_> {
    fn report(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(ScenarioProblem {
            file: self.file.to_string(),
            field: field.into(),
            message: message.into(),
        });
    }

    fn month(&mut self, field: &str, value: &Value) -> Option<YearMonth> {
        match value.as_str().map(str::parse::<YearMonth>) {
            Some(Ok(month)) => Some(month),
            Some(Err(e)) => {
                self.report(field, e.to_string());
                None
            }
            None => {
                self.report(field, "give the month as text, for example \"2025-04\"");
                None
            }
        }
    }

    fn number(
        &mut self,
        field: &str,
        value: &Value,
        min: Option<f64>,
        max: Option<f64>,
    ) -> Option<f64> {
        let Some(x) = value.as_f64() else {
            self.report(field, format!("{} is not a number", short(value)));
            return None;
        };
        if !x.is_finite() {
            self.report(field, format!("{x} is not a finite number"));
            return None;
        }
        if let Some(min) = min.filter(|m| x < *m) {
            self.report(
                field,
                format!("{x} is below the least allowed value, {min}"),
            );
            return None;
        }
        if let Some(max) = max.filter(|m| x > *m) {
            self.report(
                field,
                format!("{x} is above the greatest allowed value, {max}"),
            );
            return None;
        }
        Some(x)
    }

    fn integer(
        &mut self,
        field: &str,
        value: &Value,
        min: Option<f64>,
        max: Option<f64>,
    ) -> Option<i64> {
        let x = self.number(field, value, min, max)?;
        if x.fract() != 0.0 {
            self.report(field, format!("{x} is not a whole number"));
            return None;
        }
        Some(x as i64)
    }

    fn text(&mut self, field: &str, value: &Value) -> Option<String> {
        match value.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.report(field, format!("{} is not text", short(value)));
                None
            }
        }
    }

    /// A `where` filter: `{ column = value }` or `{ column = [v1, v2] }`, on key columns.
    fn filter(&mut self, field: &str, value: &Value) -> Option<Filter> {
        let Some(table) = value.as_object() else {
            self.report(
                field,
                "a filter is a table such as { staff_group = \"physiotherapy\" }",
            );
            return None;
        };
        let mut filter = Filter::default();
        let mut ok = true;
        for (column, accepted) in table {
            let at = format!("{field}.{column}");
            let Some(column) = self.key_column(&at, column) else {
                ok = false;
                continue;
            };
            let values = match accepted {
                Value::Array(items) if items.is_empty() => {
                    self.report(&at, "the list of values is empty, so nothing would match");
                    ok = false;
                    continue;
                }
                Value::Array(items) => items.iter().map(key_text).collect::<Option<Vec<_>>>(),
                single => key_text(single).map(|v| vec![v]),
            };
            match values {
                Some(values) => {
                    // A typo must not silently match nothing: every value must be one that
                    // some segment has (compared as text, as the filter compares them).
                    let key = self.workforce.key(&column).expect("found above");
                    for value in &values {
                        if key.code_of(value).is_none() {
                            self.report(
                                &at,
                                format!(
                                    "no segment has {column} = '{value}'{}",
                                    nearest(value, &key.dictionary)
                                ),
                            );
                            ok = false;
                        }
                    }
                    filter.conditions.push((column, values));
                }
                None => {
                    self.report(&at, "give a value or a list of values as text or numbers");
                    ok = false;
                }
            }
        }
        ok.then_some(filter)
    }

    /// A key column named in a scenario, in the dataset's spelling: names are compared as
    /// DuckDB compares them, ignoring case.
    fn key_column(&mut self, at: &str, name: &str) -> Option<String> {
        let key_names = &self.workforce.key_names;
        match key_names.iter().find(|k| same_name(k, name)) {
            Some(k) => Some(k.clone()),
            None => {
                let message = format!(
                    "'{name}' is not a key column of the workforce data; key columns are {}",
                    key_names.join(", ")
                );
                self.report(at, message);
                None
            }
        }
    }

    /// A list of key column names, such as a transfer's `same`.
    fn key_columns(&mut self, field: &str, value: &Value) -> Option<Vec<String>> {
        let Some(items) = value.as_array() else {
            self.report(
                field,
                "give a list of key column names, for example [\"org\", \"staff_group\"]",
            );
            return None;
        };
        let mut columns: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let Some(name) = item.as_str() else {
                self.report(&at, format!("{} is not a column name", short(item)));
                ok = false;
                continue;
            };
            match self.key_column(&at, name) {
                Some(column) if columns.contains(&column) => {
                    self.report(&at, format!("'{column}' is listed twice"));
                    ok = false;
                }
                Some(column) => columns.push(column),
                None => ok = false,
            }
        }
        ok.then_some(columns)
    }

    /// `[seasonality]`: for `annual_leave` and `sickness`, 12 factors >= 0 (January first).
    fn seasonality(&mut self, value: &Value) -> Option<Seasonality> {
        let Some(table) = value.as_object() else {
            self.report(
                "seasonality",
                "seasonality is a table with annual_leave and/or sickness, each 12 monthly factors",
            );
            return None;
        };
        let mut seasonality = Seasonality::default();
        let mut ok = true;
        for (name, factors) in table {
            let at = format!("seasonality.{name}");
            let target = match name.as_str() {
                "annual_leave" => &mut seasonality.annual_leave,
                "sickness" => &mut seasonality.sickness,
                _ => {
                    self.report(
                        &at,
                        "unknown field; seasonality has annual_leave and sickness",
                    );
                    ok = false;
                    continue;
                }
            };
            match factors.as_array() {
                Some(items) if items.len() == 12 => {
                    for (month, item) in items.iter().enumerate() {
                        let field = format!("{at}[{month}]");
                        match self.number(&field, item, Some(0.0), None) {
                            Some(x) => target[month] = x,
                            None => ok = false,
                        }
                    }
                }
                Some(items) => {
                    self.report(
                        &at,
                        format!("give 12 factors, January to December, not {}", items.len()),
                    );
                    ok = false;
                }
                None => {
                    self.report(&at, "give a list of 12 factors, January to December");
                    ok = false;
                }
            }
        }
        ok.then_some(seasonality)
    }
}

/// ", the nearest being 'x'" when a value differs from one of `known` only in case or
/// spacing: the usual typo.
fn nearest(value: &str, known: &[String]) -> String {
    let fold = |v: &str| v.trim().to_lowercase().replace([' ', '-'], "_");
    known
        .iter()
        .find(|k| fold(k) == fold(value))
        .map(|k| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default()
}

/// A filter value as text: `band = 5` matches band "5".
fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_f64().map(format_number),
        _ => None,
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 40 {
        format!("{}...", &text[..40])
    } else {
        text
    }
}

/// Checks one scenario document against the rules and the dataset: `where` filters use its
/// key columns and values, and the inputs after the scenario's overrides must stay valid
/// under its seasonality and transfers.
pub fn validate(
    file: &str,
    document: &Map<String, Value>,
    rules: &RuleSet,
    workforce: &Workforce,
) -> Result<Scenario, Vec<ScenarioProblem>> {
    let mut c = Checker {
        file,
        workforce,
        problems: Vec::new(),
    };
    for key in document.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            c.report(
                key,
                format!(
                    "unknown field; a scenario has {}, and sweep",
                    TOP_LEVEL.join(", ")
                ),
            );
        }
    }
    let name = match document.get("name") {
        Some(v) => c.text("name", v).unwrap_or_default(),
        None => "scenario".into(),
    };
    if name.trim().is_empty() {
        c.report("name", "the name is empty");
    }
    let description = document
        .get("description")
        .and_then(|v| c.text("description", v))
        .unwrap_or_default();
    let start = match document.get("start") {
        Some(v) => c.month("start", v),
        None => {
            c.report(
                "start",
                "required: the first month of the run, for example \"2025-04\"",
            );
            None
        }
    };
    let months = match document.get("months") {
        Some(v) => c.integer("months", v, Some(1.0), Some(MAX_MONTHS as f64)),
        None => {
            c.report("months", "required: the number of months to run, 1 to 600");
            None
        }
    };

    // Every month of a run must be a date results can hold and periods can be named
    // from (a four-digit year): no plan reaches past 2999.
    if let (Some(start), Some(months)) = (start, months) {
        let last = start.plus(months - 1);
        if start.year < 1900 || last.year > LAST_YEAR {
            c.report(
                "start",
                format!(
                    "a run must lie between 1900-01 and {LAST_YEAR}-12; this one runs from {start} to {last}"
                ),
            );
        }
    }

    let mut overrides = Vec::new();
    match document.get("overrides") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(o) = check_override(&mut c, &format!("overrides[{i}]"), item) {
                    overrides.push(o);
                }
            }
        }
        Some(_) => c.report(
            "overrides",
            "overrides must be a list of [[overrides]] tables",
        ),
    }

    let mut interventions = Vec::new();
    match document.get("interventions") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(iv) =
                    check_intervention(&mut c, &format!("interventions[{i}]"), item, rules, start)
                {
                    interventions.push(iv);
                }
            }
        }
        Some(_) => c.report(
            "interventions",
            "interventions must be a list of [[interventions]] tables",
        ),
    }

    let seasonality = match document.get("seasonality") {
        Some(v) => c.seasonality(v),
        None => Some(Seasonality::default()),
    };

    let monte_carlo = document
        .get("monte_carlo")
        .and_then(|v| check_monte_carlo(&mut c, v));
    let mut uncertain = Vec::new();
    match document.get("uncertain") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("uncertain[{i}]");
                if let Some(entry) = check_uncertain(&mut c, &at, item, &interventions, rules) {
                    uncertain.push(entry);
                }
            }
        }
        Some(_) => c.report(
            "uncertain",
            "uncertain must be a list of [[uncertain]] tables",
        ),
    }

    match (c.problems.is_empty(), start, months, seasonality) {
        (true, Some(start), Some(months), Some(seasonality)) => {
            let scenario = Scenario {
                name,
                description,
                start,
                months: months as usize,
                overrides,
                interventions,
                seasonality,
                monte_carlo,
                uncertain,
            };
            check_joint_limits(&mut c, &scenario, rules);
            if c.problems.is_empty() {
                Ok(scenario)
            } else {
                Err(c.problems)
            }
        }
        _ => Err(c.problems),
    }
}

/// The limits that tie a scenario to the segments it runs on, checked on the inputs after
/// its overrides: headroom stays below 1 in the month of the highest seasonal factors, and
/// the leaver rate plus the rates of the transfers out of a segment stay below 1, so staff
/// in post never go negative.
fn check_joint_limits(c: &mut Checker, scenario: &Scenario, rules: &RuleSet) {
    let workforce = c.workforce;
    let input = |column: InputColumn| scenario.input_after_overrides(workforce, column);

    if scenario.seasonality != Seasonality::default() {
        let (leave_peak, sickness_peak) = scenario.seasonality.peaks();
        let (annual, study, other, sickness) = (
            input(InputColumn::AnnualLeaveRate),
            input(InputColumn::StudyLeaveRate),
            input(InputColumn::OtherLeaveRate),
            input(InputColumn::SicknessRate),
        );
        let over: Vec<(usize, f64)> = (0..workforce.len())
            .map(|i| {
                let headroom =
                    annual[i] * leave_peak + study[i] + other[i] + sickness[i] * sickness_peak;
                (i, headroom)
            })
            .filter(|(_, headroom)| *headroom >= 1.0)
            .collect();
        if let Some(&(first, headroom)) = over.first() {
            c.report(
                "seasonality",
                format!(
                    "in the month of the largest factors ({leave_peak} on annual leave, {sickness_peak} on sickness) segment {} would have headroom {headroom}, which must stay below 1{}",
                    workforce.segment_label(first),
                    others(over.len())
                ),
            );
        }
    }

    // Transfers move staff out at their yearly `rate`; with leavers they must not take
    // all of a segment's staff in a year.
    let transfers = rules.transfers(scenario);
    if transfers.is_empty() {
        return;
    }
    let mut outflow = input(InputColumn::LeaverRate).into_owned();
    let mut over: Vec<(usize, usize, f64)> = Vec::new();
    for (at, intervention, rate) in transfers {
        for (segment, matched) in intervention.filter.matches(workforce).iter().enumerate() {
            if *matched {
                outflow[segment] += rate;
                if outflow[segment] >= 1.0 && !over.iter().any(|o| o.1 == segment) {
                    over.push((at, segment, outflow[segment]));
                }
            }
        }
    }
    if let Some(&(at, segment, total)) = over.first() {
        c.report(
            format!("interventions[{at}].rate"),
            format!(
                "segment {}: its leaver_rate plus the rates of the transfers out of it come to {total}, which must stay below 1{}",
                workforce.segment_label(segment),
                others(over.len())
            ),
        );
    }
}

/// `[monte_carlo]`: `draws` from 1 to 100,000 and an optional `seed` (a whole number from
/// 0; 1 when absent, so that a run is repeatable unless a planner asks otherwise).
fn check_monte_carlo(c: &mut Checker, value: &Value) -> Option<MonteCarlo> {
    let Some(table) = value.as_object() else {
        c.report("monte_carlo", "a table with draws and seed");
        return None;
    };
    for key in table.keys() {
        if key != "draws" && key != "seed" {
            c.report(
                format!("monte_carlo.{key}"),
                "unknown field; monte_carlo has draws and seed",
            );
        }
    }
    let draws = match table.get("draws") {
        Some(v) => c.integer("monte_carlo.draws", v, Some(1.0), Some(MAX_DRAWS as f64)),
        None => {
            c.report(
                "monte_carlo.draws",
                format!("required: the number of random draws, 1 to {MAX_DRAWS}"),
            );
            None
        }
    };
    let seed = match table.get("seed") {
        Some(v) => match v.as_u64() {
            Some(seed) => Some(seed),
            None => {
                c.report(
                    "monte_carlo.seed",
                    format!("{} is not a whole number from 0", short(v)),
                );
                None
            }
        },
        None => Some(1),
    };
    Some(MonteCarlo {
        draws: draws? as u64,
        seed: seed?,
    })
}

/// Intervention fields that set when or how long something happens: drawing them would
/// move cohorts between months, which the model does not average over.
const FIXED_FIELDS: [&str; 3] = ["intake_month", "course_months", "ramp_months"];

/// One `[[uncertain]]` entry: `what` (an input column, or `interventions.N.FIELD` with N
/// from 1), `where` (input columns only), `per` (a key column), `p10 <= p90`.
fn check_uncertain(
    c: &mut Checker,
    at: &str,
    item: &Value,
    interventions: &[Intervention],
    rules: &RuleSet,
) -> Option<UncertainEntry> {
    let Some(table) = item.as_object() else {
        c.report(at, "an uncertain entry is a table with what, p10 and p90");
        return None;
    };
    let before = c.problems.len();
    for key in table.keys() {
        if !["what", "where", "per", "p10", "p90"].contains(&key.as_str()) {
            c.report(
                format!("{at}.{key}"),
                "unknown field; an uncertain entry has what, where, per, p10 and p90",
            );
        }
    }
    let what = match table.get("what") {
        Some(v) => c.text(&format!("{at}.what"), v),
        None => {
            c.report(
                format!("{at}.what"),
                "required: an input column, or an intervention field as interventions.N.FIELD",
            );
            None
        }
    };
    let target = what
        .as_deref()
        .and_then(|w| uncertain_target(c, &format!("{at}.what"), w, interventions, rules));
    let filter = match (table.get("where"), &target) {
        (Some(_), Some(Uncertain::Field { .. })) => {
            c.report(
                format!("{at}.where"),
                "a drawn intervention field acts on its intervention's segments; use per to vary it by a key column",
            );
            None
        }
        (Some(v), _) => c.filter(&format!("{at}.where"), v),
        (None, _) => Some(Filter::default()),
    };
    let per = match table.get("per") {
        Some(v) => c
            .text(&format!("{at}.per"), v)
            .and_then(|name| c.key_column(&format!("{at}.per"), &name))
            .map(Some),
        None => Some(None),
    };
    let bound = |c: &mut Checker, name: &str| match table.get(name) {
        Some(v) => c.number(&format!("{at}.{name}"), v, None, None),
        None => {
            c.report(
                format!("{at}.{name}"),
                "required: p10 and p90 are the 80% interval of the uncertain value",
            );
            None
        }
    };
    let p10 = bound(c, "p10");
    let p90 = bound(c, "p90");
    if let (Some(p10), Some(p90)) = (p10, p90) {
        if p10 > p90 {
            c.report(
                format!("{at}.p10"),
                format!("p10 ({p10}) is above p90 ({p90})"),
            );
        }
    }
    if c.problems.len() > before {
        return None;
    }
    Some(UncertainEntry {
        what: what?,
        target: target?,
        filter: filter?,
        per: per?,
        p10: p10?,
        p90: p90?,
    })
}

/// What an entry's `what` names: an input column, or a number field of an intervention.
fn uncertain_target(
    c: &mut Checker,
    at: &str,
    what: &str,
    interventions: &[Intervention],
    rules: &RuleSet,
) -> Option<Uncertain> {
    if let Some(column) = InputColumn::ALL
        .into_iter()
        .find(|col| same_name(col.name(), what))
    {
        return Some(Uncertain::Input(InputColumnName(column)));
    }
    let parts: Vec<&str> = what.split('.').collect();
    let ["interventions", number, field] = parts.as_slice() else {
        let columns: Vec<&str> = InputColumn::ALL.iter().map(|c| c.name()).collect();
        c.report(
            at,
            format!(
                "'{what}' is neither an input column ({}) nor an intervention field such as interventions.1.completion",
                columns.join(", ")
            ),
        );
        return None;
    };
    let index = match number.parse::<usize>() {
        Ok(n) if (1..=interventions.len()).contains(&n) => n - 1,
        _ => {
            c.report(
                at,
                format!(
                    "'{what}': the scenario has {} intervention(s), numbered from 1",
                    interventions.len()
                ),
            );
            return None;
        }
    };
    let intervention = &interventions[index];
    let field = field.to_string();
    if FIXED_FIELDS.contains(&field.as_str()) {
        c.report(
            at,
            format!("'{field}' cannot be drawn: it sets when cohorts start or how long they take"),
        );
        return None;
    }
    let drawable = field == "cost_per_month"
        || matches!(intervention.field(&field), Some(FieldValue::Number(_)));
    if !drawable {
        let kind = rules.kinds.get(&intervention.kind);
        let numbers: Vec<&str> = kind
            .map(|k| {
                k.fields
                    .iter()
                    .filter(|f| f.field_type == FieldType::Number)
                    .map(|f| f.name.as_str())
                    .filter(|n| !FIXED_FIELDS.contains(n))
                    .collect()
            })
            .unwrap_or_default();
        c.report(
            at,
            format!(
                "intervention {} ({}) has no number field '{field}' that can be drawn; it has {}, and cost_per_month",
                index + 1,
                intervention.kind,
                numbers.join(", ")
            ),
        );
        return None;
    }
    Some(Uncertain::Field {
        intervention: index,
        field,
    })
}

/// " (and N other segments)" after the first segment named in a message.
fn others(count: usize) -> String {
    match count {
        0 | 1 => String::new(),
        2 => " (and 1 other segment)".into(),
        n => format!(" (and {} other segments)", n - 1),
    }
}

fn check_override(c: &mut Checker, at: &str, item: &Value) -> Option<Override> {
    let Some(table) = item.as_object() else {
        c.report(at, "an override is a table with `where` and `set`");
        return None;
    };
    for key in table.keys() {
        if key != "where" && key != "set" {
            c.report(
                format!("{at}.{key}"),
                "unknown field; an override has `where` and `set`",
            );
        }
    }
    let filter = match table.get("where") {
        Some(v) => c.filter(&format!("{at}.where"), v),
        None => Some(Filter::default()),
    };
    let mut set = Vec::new();
    match table.get("set").and_then(Value::as_object) {
        Some(values) if !values.is_empty() => {
            for (column, value) in values {
                let field = format!("{at}.set.{column}");
                match InputColumn::from_name(&column.to_lowercase()) {
                    Some(input) => {
                        if let Some(x) = c.number(&field, value, None, None) {
                            match input.check(x) {
                                Some(reason) => c.report(&field, reason),
                                None => set.push((InputColumnName(input), x)),
                            }
                        }
                    }
                    None => c.report(&field, "not a numeric input column of the workforce table"),
                }
            }
        }
        _ => c.report(
            format!("{at}.set"),
            "required: a table of input columns to set, such as { leaver_rate = 0.09 }",
        ),
    }
    Some(Override {
        filter: filter?,
        set,
    })
}

fn check_intervention(
    c: &mut Checker,
    at: &str,
    item: &Value,
    rules: &RuleSet,
    scenario_start: Option<YearMonth>,
) -> Option<Intervention> {
    let Some(table) = item.as_object() else {
        c.report(at, "an intervention is a table with at least `kind`");
        return None;
    };
    let kind_name = match table.get("kind") {
        Some(v) => c.text(&format!("{at}.kind"), v)?,
        None => {
            c.report(format!("{at}.kind"), "required: the kind of intervention");
            return None;
        }
    };
    let Some(kind) = rules.kinds.get(&kind_name) else {
        let known: Vec<&str> = rules.kinds.keys().map(String::as_str).collect();
        c.report(
            format!("{at}.kind"),
            format!(
                "unknown kind '{kind_name}'; the rules define {}",
                known.join(", ")
            ),
        );
        return None;
    };
    let before = c.problems.len();
    let name = table
        .get("name")
        .and_then(|v| c.text(&format!("{at}.name"), v))
        .unwrap_or_else(|| kind_name.clone());
    let filter = match table.get("where") {
        Some(v) => c.filter(&format!("{at}.where"), v),
        None => Some(Filter::default()),
    };
    let start = match table.get("start") {
        Some(v) => c.month(&format!("{at}.start"), v),
        None => scenario_start,
    };
    let end = table
        .get("end")
        .and_then(|v| c.month(&format!("{at}.end"), v));
    if let (Some(start), Some(end)) = (start, end) {
        if end < start {
            c.report(
                format!("{at}.end"),
                format!("the intervention ends ({end}) before it starts ({start})"),
            );
        }
    }
    let ramp_months = match table.get("ramp_months") {
        // A pipeline's cohorts start at full size: a ramp would have no meaning, and a
        // planner who set one would be misled into thinking it acted.
        Some(_) if kind.stage == Stage::Pipeline => {
            c.report(
                format!("{at}.ramp_months"),
                format!("kind '{kind_name}' is a pipeline: its cohorts start at full size, so ramp_months does not apply; remove it"),
            );
            None
        }
        Some(v) => c
            .number(
                &format!("{at}.ramp_months"),
                v,
                None,
                Some(MAX_MONTHS as f64),
            )
            .and_then(|r| {
                if r > 0.0 {
                    Some(r)
                } else {
                    c.report(
                        format!("{at}.ramp_months"),
                        format!("{r} must be more than 0"),
                    );
                    None
                }
            }),
        None => Some(1.0),
    };
    let cost_per_month = match table.get("cost_per_month") {
        Some(v) => c.number(&format!("{at}.cost_per_month"), v, Some(0.0), None),
        None => Some(0.0),
    };

    let mut fields = Vec::new();
    for spec in &kind.fields {
        let field = format!("{at}.{}", spec.name);
        let value = match (table.get(&spec.name), spec.default) {
            (Some(v), _) => match spec.field_type {
                FieldType::Number => c
                    .number(&field, v, spec.min, spec.max)
                    .map(FieldValue::Number),
                FieldType::Integer => c
                    .integer(&field, v, spec.min, spec.max)
                    .map(FieldValue::Integer),
                FieldType::Filter => c.filter(&field, v).map(FieldValue::Filter),
                FieldType::KeyColumns => c.key_columns(&field, v).map(FieldValue::KeyColumns),
            },
            (None, Some(default)) => Some(match spec.field_type {
                FieldType::Integer => FieldValue::Integer(default as i64),
                _ => FieldValue::Number(default),
            }),
            (None, None) if spec.default_columns.is_some() => {
                let default = spec.default_columns.clone().unwrap_or_default();
                let value = serde_json::json!(default);
                c.key_columns(&field, &value).map(FieldValue::KeyColumns)
            }
            (None, None) => {
                c.report(
                    &field,
                    format!("required by kind '{kind_name}': {}", spec.doc),
                );
                None
            }
        };
        if let Some(value) = value {
            fields.push((spec.name.clone(), value));
        }
    }
    let common = crate::rules::contract::COMMON_FIELDS;
    for key in table.keys() {
        if !common.contains(&key.as_str()) && !kind.fields.iter().any(|f| &f.name == key) {
            let own: Vec<&str> = kind.fields.iter().map(|f| f.name.as_str()).collect();
            c.report(
                format!("{at}.{key}"),
                format!(
                    "unknown field for kind '{kind_name}'; it reads {} and the common fields {}",
                    own.join(", "),
                    common[1..].join(", ")
                ),
            );
        }
    }
    if c.problems.len() > before {
        return None;
    }
    Some(Intervention {
        kind: kind_name,
        name,
        filter: filter?,
        start: start?,
        end,
        ramp_months: ramp_months?,
        cost_per_month: cost_per_month?,
        fields,
    })
}
