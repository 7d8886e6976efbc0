//! The figures a run produces: spec section 5, one row per month and segment (or group of
//! segments at a coarser level of detail).

use super::month::YearMonth;

/// The output figures, in the spec's column order.
pub const METRICS: [&str; 26] = [
    "fte",
    "required_fte",
    "vacancies",
    "leavers",
    "recruits",
    "newly_qualified",
    "apprentices_qualified",
    "returners",
    "international",
    "joiners",
    "sickness_fte",
    "available_hours",
    "clinical_hours",
    "demand_hours",
    "bank_hours",
    "agency_hours",
    "unmet_hours",
    "pay_cost",
    "bank_cost",
    "agency_cost",
    "intervention_cost",
    "trainees",
    "apprentices",
    "time_released_hours",
    "transfers_in",
    "transfers_out",
];

/// Rates derived from summed figures, offered beside [`METRICS`] when results are read
/// (docs/model.md, "Periods"): never averages of segments' rates.
pub const DERIVED: [&str; 4] = ["vacancy_rate", "leaver_rate", "turnover", "agency_share"];

/// Columns of stored and reported results besides the keys and the figures.
pub const RESULT_FIELDS: [&str; 5] = ["run_id", "scenario", "month", "row", "period"];

/// Whether a workforce key column may not take `name`: results carry every key column
/// beside these, and two columns of one name would make the results ambiguous.
pub fn is_result_column(name: &str) -> bool {
    RESULT_FIELDS.contains(&name) || METRICS.contains(&name) || DERIVED.contains(&name)
}

/// Index of a figure in [`METRICS`], named so code reads as the planner's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Fte = 0,
    RequiredFte = 1,
    Vacancies = 2,
    Leavers = 3,
    Recruits = 4,
    NewlyQualified = 5,
    ApprenticesQualified = 6,
    Returners = 7,
    International = 8,
    Joiners = 9,
    SicknessFte = 10,
    AvailableHours = 11,
    ClinicalHours = 12,
    DemandHours = 13,
    BankHours = 14,
    AgencyHours = 15,
    UnmetHours = 16,
    PayCost = 17,
    BankCost = 18,
    AgencyCost = 19,
    InterventionCost = 20,
    Trainees = 21,
    Apprentices = 22,
    TimeReleasedHours = 23,
    TransfersIn = 24,
    TransfersOut = 25,
}

/// Is the figure a stock (a position at the start of the month) rather than a flow? Stocks
/// are averaged over the months of a period; flows are summed.
pub fn is_stock(metric: usize) -> bool {
    matches!(
        metric,
        m if m == Metric::Fte as usize
            || m == Metric::RequiredFte as usize
            || m == Metric::Vacancies as usize
            || m == Metric::SicknessFte as usize
            || m == Metric::Trainees as usize
            || m == Metric::Apprentices as usize
    )
}

/// The results of one scenario run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResults {
    pub scenario: String,
    pub start: YearMonth,
    pub months: usize,
    /// The key columns of each row: all keys at segment detail, the grouping keys otherwise.
    pub key_names: Vec<String>,
    /// Key values of each row.
    pub rows: Vec<Vec<String>>,
    /// `figures[(month * rows + row) * METRICS.len() + metric]`.
    pub figures: Vec<f64>,
    /// The Monte Carlo draws these results hold: `rows` is `draws.count` copies of the
    /// groups, draw by draw (one draw, 0, for a deterministic run).
    pub draws: DrawRange,
}

/// Consecutive draws of a Monte Carlo run held by one set of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawRange {
    pub first: u64,
    pub count: usize,
}

impl DrawRange {
    /// A deterministic run's results: draw 0 alone.
    pub const DETERMINISTIC: DrawRange = DrawRange { first: 0, count: 1 };
}

impl RunResults {
    /// Rows of one draw: the groups (or segments) at the run's level of detail.
    pub fn rows_per_draw(&self) -> usize {
        self.rows.len() / self.draws.count.max(1)
    }

    /// The draw a row belongs to.
    pub fn draw_of_row(&self, row: usize) -> u64 {
        self.draws.first + (row / self.rows_per_draw().max(1)) as u64
    }

    /// The results of one draw (counted from the first these results hold).
    pub fn draw(&self, index: usize) -> RunResults {
        let per_draw = self.rows_per_draw();
        let width = METRICS.len();
        let mut figures = Vec::with_capacity(self.months * per_draw * width);
        for month in 0..self.months {
            let at = (month * self.rows.len() + index * per_draw) * width;
            figures.extend_from_slice(&self.figures[at..at + per_draw * width]);
        }
        RunResults {
            scenario: self.scenario.clone(),
            start: self.start,
            months: self.months,
            key_names: self.key_names.clone(),
            rows: self.rows[index * per_draw..(index + 1) * per_draw].to_vec(),
            figures,
            draws: DrawRange {
                first: self.draws.first + index as u64,
                count: 1,
            },
        }
    }

    /// Results of consecutive draws made one, draw by draw: the blocks of a Monte Carlo
    /// run, in any order, as one set of results (rows of each draw in turn).
    pub fn join_draws(mut blocks: Vec<RunResults>) -> Option<RunResults> {
        blocks.sort_by_key(|b| b.draws.first);
        let first = blocks.first()?;
        let months = first.months;
        let rows: Vec<Vec<String>> = blocks.iter().flat_map(|b| b.rows.clone()).collect();
        let width = METRICS.len();
        let mut figures = Vec::with_capacity(months * rows.len() * width);
        for month in 0..months {
            for block in &blocks {
                let block_width = block.rows.len() * width;
                figures.extend_from_slice(
                    &block.figures[month * block_width..(month + 1) * block_width],
                );
            }
        }
        Some(RunResults {
            scenario: first.scenario.clone(),
            start: first.start,
            months,
            key_names: first.key_names.clone(),
            draws: DrawRange {
                first: first.draws.first,
                count: blocks.iter().map(|b| b.draws.count).sum(),
            },
            rows,
            figures,
        })
    }

    pub fn figure(&self, month: usize, row: usize, metric: Metric) -> f64 {
        self.figures[(month * self.rows.len() + row) * METRICS.len() + metric as usize]
    }

    /// All figures of one month and row, in [`METRICS`] order.
    pub fn row_figures(&self, month: usize, row: usize) -> &[f64] {
        let at = (month * self.rows.len() + row) * METRICS.len();
        &self.figures[at..at + METRICS.len()]
    }

    /// A figure summed over every row of a month.
    pub fn month_total(&self, month: usize, metric: Metric) -> f64 {
        (0..self.rows.len())
            .map(|row| self.figure(month, row, metric))
            .sum()
    }
}
