//! Plain-text tables for the terminal: metrics down the side, financial years across.

use super::attribution::Attribution;
use super::{BreakEven, Comparison, Period, VacancyValue};
use crate::model::results::Metric;
use crate::model::results::DERIVED;

/// Formats a number with thousands separators and `decimals` places.
pub fn number(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "-".into()
        } else {
            "never".into()
        };
    }
    let text = format!("{:.*}", decimals, x.abs());
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A table with a label column and one column per period.
struct Grid {
    header: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
}

impl Grid {
    fn new(labels: impl IntoIterator<Item = String>) -> Self {
        Grid {
            header: labels.into_iter().collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, label: &str, cells: Vec<String>) {
        self.rows.push((label.to_string(), cells));
    }

    fn render(&self) -> String {
        let label_width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|(_, cells)| cells[c].len())
                    .chain([self.header[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = format!("  {:label_width$}", "");
        for (h, w) in self.header.iter().zip(&widths) {
            out.push_str(&format!("  {h:>w$}"));
        }
        out.push('\n');
        for (label, cells) in &self.rows {
            out.push_str(&format!("  {label:label_width$}"));
            for (cell, w) in cells.iter().zip(&widths) {
                out.push_str(&format!("  {cell:>w$}"));
            }
            out.push('\n');
        }
        out
    }
}

/// A run's figures by financial year: stocks are means over the year's months, flows are
/// sums, rates are derived from those sums.
pub fn summary(years: &[Period]) -> String {
    let mut grid = Grid::new(years.iter().map(|p| {
        if p.months < 12 {
            format!("{} ({}m)", p.label, p.months)
        } else {
            p.label.clone()
        }
    }));
    let metric = |m: Metric, d: usize| -> Vec<String> {
        years.iter().map(|p| number(p.get(m), d)).collect()
    };
    grid.row("staff in post (FTE)", metric(Metric::Fte, 1));
    grid.row("required FTE", metric(Metric::RequiredFte, 1));
    grid.row("vacancies (FTE)", metric(Metric::Vacancies, 1));
    grid.row(
        "vacancy rate",
        years.iter().map(|p| percent(p.vacancy_rate())).collect(),
    );
    grid.row("leavers (FTE)", metric(Metric::Leavers, 1));
    grid.row(
        "leaver rate",
        years.iter().map(|p| percent(p.leaver_rate())).collect(),
    );
    grid.row("joiners (FTE)", metric(Metric::Joiners, 1));
    grid.row("  recruited", metric(Metric::Recruits, 1));
    grid.row("  newly qualified", metric(Metric::NewlyQualified, 1));
    grid.row(
        "  apprentices qualified",
        metric(Metric::ApprenticesQualified, 1),
    );
    grid.row("  returners", metric(Metric::Returners, 1));
    grid.row("  international", metric(Metric::International, 1));
    grid.row("sickness (FTE)", metric(Metric::SicknessFte, 1));
    grid.row("bank hours", metric(Metric::BankHours, 0));
    grid.row("bank cost (GBP)", metric(Metric::BankCost, 0));
    grid.row("agency hours", metric(Metric::AgencyHours, 0));
    grid.row("agency cost (GBP)", metric(Metric::AgencyCost, 0));
    grid.row("unmet care hours", metric(Metric::UnmetHours, 0));
    grid.row(
        "intervention cost (GBP)",
        metric(Metric::InterventionCost, 0),
    );
    grid.render()
}

/// A comparison by financial year, with the break-even of the interventions.
pub fn comparison(c: &Comparison) -> String {
    let mut grid = Grid::new(
        c.years
            .iter()
            .map(|d| d.label.clone())
            .chain(["whole run".to_string()]),
    );
    let all: Vec<_> = c.years.iter().chain([&c.whole_run]).collect();
    let change = |m: Metric, d: usize| -> Vec<String> {
        all.iter()
            .map(|y| number(y.change[m as usize], d))
            .collect()
    };
    grid.row("staff in post (FTE)", change(Metric::Fte, 1));
    grid.row("vacancies (FTE)", change(Metric::Vacancies, 1));
    grid.row("joiners (FTE)", change(Metric::Joiners, 1));
    grid.row("agency cost (GBP)", change(Metric::AgencyCost, 0));
    grid.row("bank cost (GBP)", change(Metric::BankCost, 0));
    grid.row("pay cost (GBP)", change(Metric::PayCost, 0));
    grid.row(
        "intervention cost (GBP)",
        change(Metric::InterventionCost, 0),
    );
    grid.row(
        "net cost (GBP)",
        all.iter().map(|y| number(y.net_cost, 0)).collect(),
    );
    format!(
        "{} against {} (change; stocks are yearly means)\n{}{}",
        c.scenario,
        c.baseline,
        grid.render(),
        break_even(&c.break_even)
    )
}

fn break_even(b: &BreakEven) -> String {
    if !b.has_extra_cost() {
        return format!(
            "  break-even: no extra intervention cost; vacancies removed {} FTE\n",
            number(b.vacancies_removed, 1)
        );
    }
    let verdict = |pays_back: bool| {
        if pays_back {
            "pays back"
        } else {
            "does not pay back"
        }
    };
    format!(
        "  break-even: intervention cost {} GBP a year; vacancies removed {} FTE (mean over the run)\n\
         \x20   if vacancies go unfilled (a vacancy valued at {} GBP/FTE-year, {}): needs {} FTE, {}\n\
         \x20   if agency fills them (agency premium {} GBP/FTE-year): needs {} FTE, {}\n",
        number(b.intervention_cost_per_year, 0),
        number(b.vacancies_removed, 1),
        number(b.vacancy_value_per_fte_year, 0),
        match b.vacancy_value {
            VacancyValue::AnnualPay => "mean annual pay",
            VacancyValue::Stated(_) => "as stated",
        },
        number(b.fte_if_unfilled, 1),
        verdict(b.pays_back_if_unfilled()),
        number(b.agency_extra_per_fte_year, 0),
        number(b.fte_if_agency_filled, 1),
        verdict(b.pays_back_if_agency_filled()),
    )
}

/// A trace as a worked example: each quantity in the order the rules computed it, with
/// its value, where it was computed and what from.
pub fn trace(trace: &crate::engine::trace::Trace) -> String {
    let width = trace.order.iter().map(|n| n.len()).max().unwrap_or(0);
    let mut out = String::new();
    for name in &trace.order {
        let q = &trace.quantities[name];
        let place = match q.line {
            Some(line) => format!("{}:{line}", q.rule),
            None => q.rule.clone(),
        };
        let from = trace
            .depends_on
            .get(name)
            .filter(|d| !d.is_empty())
            .map(|d| format!("  from {}", d.join(", ")))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {name:width$} = {:<16} {place}{from}\n",
            format_value(q.value)
        ));
    }
    out
}

/// A traced value with enough digits to check by hand.
fn format_value(x: f64) -> String {
    if x == 0.0 || (x.abs() >= 1e-4 && x.abs() < 1e12) {
        let text = format!("{x:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:e}")
    }
}

/// An attribution as a planner reads it: the baseline's value, each factor's step (in
/// file order, a waterfall) and Shapley value, and the scenario's value.
pub fn attribution(a: &Attribution) -> String {
    let columns: Vec<(&str, bool)> = [
        (
            "sequential",
            a.factors.iter().any(|f| f.sequential.is_some()),
        ),
        ("Shapley", a.factors.iter().any(|f| f.shapley.is_some())),
    ]
    .into_iter()
    .filter(|(_, shown)| *shown)
    .collect();
    let mut grid = Grid::new(columns.iter().map(|(name, _)| name.to_string()));
    // Rates are shares; other metrics are counts, hours or pounds.
    let decimals = if DERIVED.contains(&a.metric.as_str()) {
        4
    } else {
        2
    };
    let same = |x: f64| columns.iter().map(|_| number(x, decimals)).collect();
    grid.row("baseline", same(a.baseline_value));
    for f in &a.factors {
        let cells = columns
            .iter()
            .map(|(name, _)| {
                let value = if *name == "sequential" {
                    f.sequential
                } else {
                    f.shapley
                };
                // Each step of the waterfall reads as an addition.
                match value {
                    Some(x) if x > 0.0 => format!("+{}", number(x, decimals)),
                    other => number(other.unwrap_or(f64::NAN), decimals),
                }
            })
            .collect();
        grid.row(&format!("+ {}", f.name), cells);
    }
    grid.row("scenario", same(a.scenario_value));
    format!(
        "{} ({} runs): change {}\n{}",
        a.metric,
        a.runs,
        number(a.total_change, decimals),
        grid.render()
    )
}

/// An option against the baseline under the same draws: for the figures a workforce lead
/// reads first, the change in the central run, its 80% band over the draws, and the share
/// of draws in which the option does better.
pub fn uncertain_comparison(u: &super::uncertainty::UncertainComparison) -> String {
    let periods: Vec<String> = {
        let mut seen: Vec<String> = Vec::new();
        for c in &u.changes {
            if !seen.contains(&c.period) {
                seen.push(c.period.clone());
            }
        }
        seen
    };
    let mut grid = Grid::new(periods.iter().cloned());
    let headline = [
        ("staff in post (FTE)", "fte", 1),
        ("vacancies (FTE)", "vacancies", 1),
        ("vacancy rate", "vacancy_rate", 4),
        ("agency cost (GBP)", "agency_cost", 0),
        ("unmet care hours", "unmet_hours", 0),
    ];
    for (label, metric, decimals) in headline {
        let of = |period: &String| {
            u.changes
                .iter()
                .find(|c| &c.period == period && c.metric == metric)
                .expect("every figure in every period")
        };
        let show = |x: f64| {
            if decimals == 4 {
                format!("{:.2} pts", x * 100.0)
            } else {
                number(x, decimals)
            }
        };
        grid.row(
            label,
            periods.iter().map(|p| show(of(p).change.central)).collect(),
        );
        grid.row(
            "  80% band",
            periods
                .iter()
                .map(|p| format!("{} to {}", show(of(p).change.p10), show(of(p).change.p90)))
                .collect(),
        );
        grid.row(
            "  share of draws better",
            periods
                .iter()
                .map(|p| of(p).probability_better.map_or("-".into(), percent))
                .collect(),
        );
    }
    format!(
        "{} against {} under the same {} draws (change in the central run, its 80% band, and how often the option does better)\n{}",
        u.scenario,
        u.baseline,
        u.draws,
        grid.render()
    )
}

#[cfg(test)]
mod tests {
    use super::number;
    use crate::report::BreakEven;

    /// At exactly break-even the interventions pay back, in the printed table and in the
    /// verdict the API reports (both come from `BreakEven`); the CLI once said the
    /// opposite of the API here.
    #[test]
    fn at_break_even_the_verdict_is_pays_back_everywhere() {
        let b = BreakEven {
            intervention_cost_per_year: 100_000.0,
            pay_per_fte_year: 40_000.0,
            vacancy_value: crate::report::VacancyValue::AnnualPay,
            vacancy_value_per_fte_year: 40_000.0,
            agency_extra_per_fte_year: 20_000.0,
            fte_if_unfilled: 2.5,
            fte_if_agency_filled: 5.0,
            vacancies_removed: 2.5,
        };
        assert!(b.pays_back_if_unfilled());
        assert!(!b.pays_back_if_agency_filled());
        let text = super::break_even(&b);
        assert!(text.contains("needs 2.5 FTE, pays back"), "{text}");
        assert!(text.contains("needs 5.0 FTE, does not pay back"), "{text}");
    }

    #[test]
    fn numbers_have_thousands_separators() {
        assert_eq!(number(1234567.891, 1), "1,234,567.9");
        assert_eq!(number(-1234.0, 0), "-1,234");
        assert_eq!(number(12.0, 0), "12");
        assert_eq!(number(-0.01, 1), "0.0");
        assert_eq!(number(f64::INFINITY, 1), "never");
    }
}
