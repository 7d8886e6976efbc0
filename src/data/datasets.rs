//! Named datasets: the `workforce` table (dataset `default`, the one the command line uses)
//! and workforce tables uploaded through the API, each in its own table, listed in the
//! `datasets` table. Also the scenarios saved through the API.

use duckdb::params;

use super::sql::quote;
use super::store::{write_workforce_table, Store};
use super::DataError;
use crate::model::Workforce;

/// The id of the `workforce` table.
pub const DEFAULT_DATASET: &str = "default";

/// A dataset in the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetEntry {
    pub id: String,
    pub name: String,
    pub table: String,
    pub created_at: Option<String>,
}

impl Store {
    /// Every dataset: `default` first (when the `workforce` table exists), then uploads in
    /// the order they came.
    pub fn datasets(&self) -> Result<Vec<DatasetEntry>, DataError> {
        let mut entries = Vec::new();
        if self.has_table("workforce")? {
            entries.push(DatasetEntry {
                id: DEFAULT_DATASET.into(),
                name: "the workforce table".into(),
                table: "workforce".into(),
                created_at: None,
            });
        }
        let mut statement = self.connection().prepare(
            "SELECT dataset_id, name, table_name, CAST(created_at AS VARCHAR) FROM datasets ORDER BY created_at, dataset_id",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(DatasetEntry {
                id: r.get(0)?,
                name: r.get(1)?,
                table: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?;
        for row in rows {
            entries.push(row?);
        }
        Ok(entries)
    }

    /// One dataset's catalogue entry.
    pub fn dataset_entry(&self, id: &str) -> Result<Option<DatasetEntry>, DataError> {
        Ok(self.datasets()?.into_iter().find(|d| d.id == id))
    }

    /// One dataset's workforce, if the dataset exists.
    pub fn dataset(&self, id: &str) -> Result<Option<Workforce>, DataError> {
        match self.dataset_entry(id)? {
            Some(entry) => self.read_workforce_table(&entry.table),
            None => Ok(None),
        }
    }

    /// Stores an uploaded workforce as a new dataset, table and catalogue row in one
    /// transaction.
    pub fn add_dataset(
        &mut self,
        name: &str,
        workforce: &Workforce,
    ) -> Result<DatasetEntry, DataError> {
        let transaction = self.connection_mut().transaction()?;
        let number: i64 =
            transaction.query_row("SELECT nextval('dataset_ids')", [], |r| r.get(0))?;
        let id = format!("ds{number}");
        let table = format!("dataset_{number}");
        write_workforce_table(&transaction, &table, workforce)?;
        transaction.execute(
            "INSERT INTO datasets (dataset_id, name, table_name) VALUES (?, ?, ?)",
            params![id, name, table],
        )?;
        transaction.commit()?;
        Ok(self
            .dataset_entry(&id)?
            .expect("the dataset was just stored"))
    }

    /// Deletes an uploaded dataset; false if there is none with that id.
    pub fn delete_dataset(&mut self, id: &str) -> Result<bool, DataError> {
        let Some(entry) = self.dataset_entry(id)? else {
            return Ok(false);
        };
        let transaction = self.connection_mut().transaction()?;
        transaction.execute("DELETE FROM datasets WHERE dataset_id = ?", [id])?;
        transaction.execute_batch(&format!("DROP TABLE IF EXISTS {};", quote(&entry.table)))?;
        transaction.commit()?;
        Ok(true)
    }

    /// Scenarios saved through the API: `(name, Some(document JSON))`, or `(name, None)` for
    /// a scenario deleted through the API (so a file of that name stays hidden).
    pub fn saved_scenarios(&self) -> Result<Vec<(String, Option<String>)>, DataError> {
        let mut statement = self
            .connection()
            .prepare("SELECT name, document FROM scenarios ORDER BY name")?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Saves a scenario document (JSON), or marks it deleted with `None`.
    pub fn save_scenario(&self, name: &str, document: Option<&str>) -> Result<(), DataError> {
        self.connection().execute(
            "INSERT OR REPLACE INTO scenarios (name, document, updated_at) VALUES (?, ?, current_timestamp)",
            params![name, document],
        )?;
        Ok(())
    }
}
