//! DuckDB and input files: importing the `workforce` table from CSV, Excel or Parquet,
//! reading it back, and storing runs and their results.
//!
//! This is the only module that touches the database or data files. It hands the engine a
//! checked [`Workforce`](crate::model::Workforce) and takes back finished results, so the
//! engine's workers never hold a connection.

pub mod calibration;
pub mod datasets;
pub mod export;
pub mod extracts;
pub mod generate;
pub mod generate_extracts;
pub mod import;
pub mod query;
pub mod recorder;
mod results_tables;
pub mod runs;
pub mod shards;
mod sql;
pub mod store;

pub use import::{read_workforce, read_workforce_files};
pub use recorder::Recorder;
pub use runs::RunRecord;
pub use store::Store;

use crate::model::workforce::InputProblems;

/// The bundled sample integrated care system, built into the binary so that a first run
/// works from any folder.
pub const SAMPLE_WORKFORCE_CSV: &str = include_str!("../../data/sample/workforce.csv");

/// Why data could not be read or stored.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Invalid(#[from] InputProblems),
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("database: {0}")]
    Database(#[from] duckdb::Error),
}

impl DataError {
    pub(crate) fn file(path: impl std::fmt::Display, message: impl std::fmt::Display) -> Self {
        DataError::File {
            path: path.to_string(),
            message: message.to_string(),
        }
    }
}
