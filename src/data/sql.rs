//! SQL text and Arrow batch helpers shared by the rest of `data/`: quoting identifiers and
//! the literals DuckDB cannot take as parameters, building record batches, and listing a
//! table's columns.
//!
//! It imports nothing else from `data/` so that `store`, `results_tables` and the readers
//! can all depend on it without depending on each other.

use std::sync::Arc;

use duckdb::arrow::array::{Array, ArrayRef};
use duckdb::arrow::datatypes::{Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;

use super::DataError;

/// Quotes an SQL identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal, for the few places DuckDB takes no parameter (a file path
/// in `COPY` or `read_parquet` within a statement built once); values go in as parameters.
pub(crate) fn sql_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A record batch of `arrays` named by `columns`, every column nullable.
pub(super) fn record_batch(columns: &[String], arrays: Vec<ArrayRef>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .zip(&arrays)
        .map(|(name, array)| Field::new(name, array.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .expect("every column has one value per row")
}

/// A table's column names in table order.
pub(super) fn table_columns(
    connection: &Connection,
    table: &str,
) -> Result<Vec<String>, DataError> {
    let mut statement = connection.prepare(
        "SELECT column_name FROM information_schema.columns
         WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
    )?;
    let columns = statement
        .query_map([table], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(columns)
}

/// The names of the connection's tables, temporary ones included.
pub(super) fn tables(connection: &Connection) -> Result<Vec<String>, DataError> {
    let mut statement = connection.prepare("SELECT table_name FROM duckdb_tables()")?;
    let tables = statement
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(tables)
}
