//! Plain domain types: months, segments and their inputs, scenarios, interventions and
//! results. Nothing here does IO or knows about DuckDB, rhai or HTTP.

pub mod column;
pub mod month;
pub mod results;
pub mod run;
pub mod scenario;
pub mod uncertainty;
pub mod workforce;

pub use column::Column;
pub use month::YearMonth;
pub use results::{DrawRange, Metric, RunResults, METRICS};
pub use run::{BatchStatus, RunStatus};
pub use scenario::{Detail, Filter, Intervention, Override, Scenario};
pub use workforce::{InputColumn, KeyColumn, Workforce};

/// Lower-case hex of a digest, for fingerprints stored beside each run.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether two column names are one to DuckDB, which compares names ignoring case.
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}
