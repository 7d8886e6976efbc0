//! The trace of a figure (docs/model.md, "Trace"): every quantity the rules computed for
//! one segment in one month, with its value and the rule file and line that computed it,
//! and what each was computed from.
//!
//! The trace runs the real rules: the scenario is run over whole columns up to the month,
//! and in that month the engine hands each script's scope to the trace before rewinding
//! it, so the script's own variables (`let` included) are read at the segment's index. A
//! script's assignments are found in its text (`name =`, `name +=`, ... and `let name =`),
//! which gives each quantity its line and the names its right-hand side uses. Editing a
//! rule changes the trace with it; nothing here restates a formula.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use rhai::{Dynamic, Scope, INT};

use super::{prepare_all, scenario_workforce, Grouping, Part, Run, RunError, RunOptions};
use crate::model::results::METRICS;
use crate::model::{Column, InputColumn, Scenario, Workforce};
use crate::rules::{contract, RuleScript, RuleSet};

/// One quantity of the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub value: f64,
    /// The rule file that computed it, or `input` / `engine` for what the rules are given.
    pub rule: String,
    pub line: Option<usize>,
}

/// Every quantity of one segment and month, and what each was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub quantities: BTreeMap<String, Quantity>,
    pub depends_on: BTreeMap<String, Vec<String>>,
    /// The quantities in the order the rules computed them, for a worked example.
    pub order: Vec<String>,
}

impl Trace {
    /// Only `figure` and the quantities it depends on, directly or not.
    pub fn for_figure(&self, figure: &str) -> Option<Trace> {
        let figure = if figure == "required_fte" {
            "required"
        } else {
            figure
        };
        self.quantities.get(figure)?;
        let mut keep = BTreeSet::new();
        let mut stack = vec![figure.to_string()];
        while let Some(name) = stack.pop() {
            if keep.insert(name.clone()) {
                stack.extend(self.depends_on.get(&name).into_iter().flatten().cloned());
            }
        }
        Some(Trace {
            quantities: self
                .quantities
                .iter()
                .filter(|(n, _)| keep.contains(*n))
                .map(|(n, q)| (n.clone(), q.clone()))
                .collect(),
            depends_on: self
                .depends_on
                .iter()
                .filter(|(n, _)| keep.contains(*n))
                .map(|(n, d)| (n.clone(), d.clone()))
                .collect(),
            order: self
                .order
                .iter()
                .filter(|n| keep.contains(*n))
                .cloned()
                .collect(),
        })
    }
}

/// One assignment in a script's text.
#[derive(Debug, Clone, PartialEq)]
struct Assignment {
    name: String,
    line: usize,
    /// Identifiers (and `seg.column`s) on its right-hand side.
    uses: Vec<String>,
}

/// The assignments of a script, in text order. Comments and strings are skipped; `==`,
/// `!=`, `<=` and `>=` are comparisons, not assignments.
fn assignments(source: &str) -> Vec<Assignment> {
    // Tokens: identifiers (with `seg.` joined to the column), assignment operators, `;`.
    #[derive(Debug)]
    enum Token {
        Name(String),
        Assign,
        End,
        Other,
    }
    let bytes = source.as_bytes();
    let mut tokens: Vec<(Token, usize)> = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    if bytes.get(i) == Some(&b'\n') {
                        line += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                tokens.push((Token::End, line));
                i += 1;
            }
            b'=' if bytes.get(i + 1) == Some(&b'=') => {
                tokens.push((Token::Other, line));
                i += 2;
            }
            b'=' => {
                tokens.push((Token::Assign, line));
                i += 1;
            }
            b'+' | b'-' | b'*' | b'/' if bytes.get(i + 1) == Some(&b'=') => {
                tokens.push((Token::Assign, line));
                i += 2;
            }
            b'!' | b'<' | b'>' if bytes.get(i + 1) == Some(&b'=') => {
                tokens.push((Token::Other, line));
                i += 2;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let mut name = source[start..i].to_string();
                // `seg.column` is one input.
                if name == "seg" && bytes.get(i) == Some(&b'.') {
                    let column_start = i + 1;
                    let mut end = column_start;
                    while end < bytes.len()
                        && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                    {
                        end += 1;
                    }
                    name = format!("seg.{}", &source[column_start..end]);
                    i = end;
                } else if bytes.get(i) == Some(&b'.') {
                    // A method's receiver (`timing.starts`): not a quantity.
                    tokens.push((Token::Other, line));
                    continue;
                }
                tokens.push((Token::Name(name), line));
            }
            _ => {
                if !c.is_ascii_whitespace() {
                    tokens.push((Token::Other, line));
                }
                i += 1;
            }
        }
    }
    let mut found = Vec::new();
    let mut k = 0;
    while k < tokens.len() {
        if let (Token::Name(name), line) = &tokens[k] {
            if matches!(tokens.get(k + 1), Some((Token::Assign, _))) {
                let mut uses = Vec::new();
                let mut j = k + 2;
                while j < tokens.len() && !matches!(tokens[j].0, Token::End) {
                    if let Token::Name(used) = &tokens[j].0 {
                        if !uses.contains(used) {
                            uses.push(used.clone());
                        }
                    }
                    j += 1;
                }
                if name != "let" {
                    found.push(Assignment {
                        name: name.clone(),
                        line: *line,
                        uses,
                    });
                }
                k = j;
                continue;
            }
        }
        k += 1;
    }
    found
}

/// Words of the rule language and function names: never quantities.
const NOT_QUANTITIES: [&str; 16] = [
    "let", "if", "else", "for", "in", "range", "where", "max", "min", "pow", "exp", "ln", "sqrt",
    "abs", "true", "false",
];

/// The value of a scope variable at a segment, if it is a number or a column.
fn value_at(value: &Dynamic, segment: usize) -> Option<f64> {
    if let Some(column) = value.read_lock::<Column>() {
        return column.values().get(segment).copied();
    }
    value
        .as_float()
        .ok()
        .or_else(|| value.as_int().ok().map(|i| i as f64))
        .or_else(|| value.as_bool().ok().map(|b| if b { 1.0 } else { 0.0 }))
}

/// Traces one segment (an index into the workforce) in month `t` of a scenario.
pub fn trace(
    rules: &RuleSet,
    workforce: &Workforce,
    scenario: &Scenario,
    segment: usize,
    t: usize,
    options: &RunOptions,
) -> Result<Trace, RunError> {
    let deadline = Instant::now() + options.time_budget;
    let _deadline = crate::rules::sandbox::DeadlineGuard::until(deadline);
    let workforce = Arc::new(scenario_workforce(workforce, scenario)?);
    let grouping = Grouping::new(&workforce, &crate::model::Detail::Segment)?;
    let prepared = prepare_all(rules, &workforce, scenario)?;
    let run = Run {
        rules,
        workforce: &workforce,
        scenario,
        grouping: &grouping,
        prepared: &prepared,
        deadline,
    };
    let mut part = Part::new(&run, 0..workforce.len())?;
    for month in 0..t {
        let calendar_month = scenario.start.plus(month as i64).month as INT;
        part.month(rules, month as INT, calendar_month, &scenario.seasonality)?;
        part.advance(rules)?;
    }

    let mut trace = Trace {
        quantities: BTreeMap::new(),
        depends_on: BTreeMap::new(),
        order: Vec::new(),
    };
    // What the rules are given: the month's staff in post and the seasonal factors.
    let given = |trace: &mut Trace, name: &str, value: f64, rule: &str| {
        trace.quantities.insert(
            name.to_string(),
            Quantity {
                value,
                rule: rule.into(),
                line: None,
            },
        );
        trace.order.push(name.to_string());
    };
    let fte = part.scope.get("fte").and_then(|v| value_at(v, segment));
    given(&mut trace, "fte", fte.unwrap_or(f64::NAN), "engine");
    let calendar_month = scenario.start.plus(t as i64).month as usize;
    given(
        &mut trace,
        "annual_leave_season",
        scenario.seasonality.annual_leave[calendar_month - 1],
        "engine",
    );
    given(
        &mut trace,
        "sickness_season",
        scenario.seasonality.sickness[calendar_month - 1],
        "engine",
    );

    let mut observe = |script: &RuleScript, intervention: Option<&str>, scope: &Scope| {
        // A kind's own variables are named after its intervention, so that two
        // interventions' `qualified` stay apart; the model's shared variables keep their
        // names.
        let shared = |name: &str| {
            contract::MONTH_STATE.contains(&name)
                || contract::ACCUMULATORS.contains(&name)
                || contract::FLOWS.contains(&name)
                || contract::GIVEN.contains(&name)
        };
        let key = |name: &str| match intervention {
            Some(owner) if !shared(name) && !name.starts_with("seg.") => {
                format!("{owner}: {name}")
            }
            _ => name.to_string(),
        };
        let found = assignments(&script.source);
        let mut last: BTreeMap<&str, &Assignment> = BTreeMap::new();
        let mut uses: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for a in &found {
            last.insert(&a.name, a);
            let entry = uses.entry(&a.name).or_default();
            for used in &a.uses {
                if !entry.contains(used) && used != &a.name {
                    entry.push(used.clone());
                }
            }
        }
        // Values the script used but did not compute: inputs, fields, engine values.
        for a in &found {
            for used in &a.uses {
                let name = key(used);
                if trace.quantities.contains_key(&name) || last.contains_key(used.as_str()) {
                    continue;
                }
                let value = match used.strip_prefix("seg.") {
                    Some(column) => {
                        InputColumn::from_name(column).map(|c| workforce.input(c).values()[segment])
                    }
                    None if NOT_QUANTITIES.contains(&used.as_str()) => None,
                    None => scope.get(used).and_then(|v| value_at(v, segment)),
                };
                if let Some(value) = value {
                    let rule = if used.starts_with("seg.") {
                        "input"
                    } else if intervention.is_some() {
                        "intervention field"
                    } else {
                        "engine"
                    };
                    given(&mut trace, &name, value, rule);
                }
            }
        }
        for a in &found {
            if last.get(a.name.as_str()) != Some(&a) {
                continue;
            }
            let Some(value) = scope.get(&a.name).and_then(|v| value_at(v, segment)) else {
                continue;
            };
            let name = key(&a.name);
            let depends: Vec<String> = uses[a.name.as_str()]
                .iter()
                .map(|u| key(u))
                .filter(|u| trace.quantities.contains_key(u) || *u == name)
                .filter(|u| *u != name)
                .collect();
            // A variable a script adds to (`leaver *= ...`) depends on its value before.
            let mut depends = depends;
            if trace.quantities.contains_key(&name) && !depends.contains(&name) {
                let before = format!("{name} (before {})", script.file);
                if let Some(q) = trace.quantities.get(&name).cloned() {
                    trace.quantities.insert(before.clone(), q);
                    if let Some(d) = trace.depends_on.get(&name).cloned() {
                        trace.depends_on.insert(before.clone(), d);
                    }
                    // The earlier value keeps its place in the worked example.
                    for entry in trace.order.iter_mut().filter(|n| **n == name) {
                        entry.clone_from(&before);
                    }
                    depends.push(before);
                }
            }
            trace.quantities.insert(
                name.clone(),
                Quantity {
                    value,
                    rule: script.file.clone(),
                    line: Some(a.line),
                },
            );
            trace.depends_on.insert(name.clone(), depends);
            trace.order.retain(|n| *n != name);
            trace.order.push(name);
        }
    };
    let calendar = calendar_month as INT;
    part.month_observed(
        rules,
        t as INT,
        calendar,
        &scenario.seasonality,
        &mut observe,
    )?;

    // The output figures under their own names: `required_fte` is `required`.
    if let Some(required) = trace.quantities.get("required").cloned() {
        trace.quantities.insert("required_fte".into(), required);
        trace
            .depends_on
            .insert("required_fte".into(), vec!["required".into()]);
        trace.order.push("required_fte".into());
    }
    // Figures no script of this scenario touched (a pipeline's joiners without a
    // pipeline) are the engine's zeros.
    for metric in METRICS {
        let name = contract::variable_of(metric);
        if !trace.quantities.contains_key(name) {
            let value = part.scope.get(name).and_then(|v| value_at(v, segment));
            given(&mut trace, name, value.unwrap_or(0.0), "engine");
        }
    }
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_are_read_with_their_lines_and_uses() {
        let source = "// leaver = 1;\nleaver = seg.leaver_rate;\nlet hours_pm = seg.hours_per_week * 52.0 / 12.0;\nif a == b { x += \"y = 2\".len() + c; }\nlet gap = max(demand_hours - clinical_hours,\n  0.0);\n";
        let found = assignments(source);
        let names: Vec<(&str, usize)> = found.iter().map(|a| (a.name.as_str(), a.line)).collect();
        assert_eq!(
            names,
            [("leaver", 2), ("hours_pm", 3), ("x", 4), ("gap", 5)]
        );
        assert_eq!(found[0].uses, ["seg.leaver_rate"]);
        assert_eq!(found[1].uses, ["seg.hours_per_week"]);
        assert_eq!(found[3].uses, ["max", "demand_hours", "clinical_hours"]);
    }
}
