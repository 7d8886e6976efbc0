//! Datasets: the `workforce` table (`default`) and workforce tables uploaded as CSV or
//! Parquet.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json, PlainText};
use poem_openapi::{ApiRequest, ApiResponse, Multipart, Object, OpenApi};

use super::error::ApiError;
use super::state::AppState;
use super::{blocking, ApiTags};
use crate::data::datasets::{DatasetEntry, DEFAULT_DATASET};
use crate::model::{InputColumn, Workforce};

/// A dataset's size.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DatasetSummary {
    /// Use it as `dataset` in a run.
    pub id: String,
    pub name: String,
    /// When it was uploaded (absent for `default`).
    pub created_at: Option<String>,
    /// Number of segments (rows).
    pub segments: u64,
    /// Staff in post, FTE.
    pub fte: f64,
    /// Funded establishment, FTE.
    pub establishment: f64,
    /// The columns that identify a segment.
    pub key_columns: Vec<String>,
}

/// Totals of one group of segments.
#[derive(Debug, Clone, Object)]
pub struct GroupTotal {
    pub name: String,
    pub segments: u64,
    pub fte: f64,
    pub establishment: f64,
    /// Vacancies: each segment's establishment less its staff in post, never below zero,
    /// summed over the group's segments (an over-staffed segment fills no other's posts).
    pub vacancies: f64,
}

/// A dataset with its totals by staff group and by organisation.
#[derive(Debug, Clone, Object)]
pub struct DatasetDetail {
    pub summary: DatasetSummary,
    pub by_staff_group: Vec<GroupTotal>,
    pub by_org: Vec<GroupTotal>,
}

/// A `workforce` table: one row per segment, with the model spec's input columns.
#[derive(Debug, ApiRequest)]
pub enum Upload {
    /// CSV with a header row.
    #[oai(content_type = "text/csv")]
    Csv(PlainText<String>),
    /// A Parquet file.
    #[oai(content_type = "application/vnd.apache.parquet")]
    Parquet(Binary<Vec<u8>>),
    /// A file upload as browsers and generated clients send it: the field `file` holds
    /// a CSV or Parquet file (told apart by its content, not its name), and `name` may
    /// name the dataset.
    Form(UploadForm),
}

/// The fields of a multipart upload.
#[derive(Debug, Multipart)]
pub struct UploadForm {
    /// The workforce table: CSV with a header row, or Parquet.
    file: poem_openapi::types::multipart::Upload,
    /// A name to recognise it by (the query's `name` when absent).
    name: Option<String>,
}

#[derive(ApiResponse)]
enum Created {
    /// Every value was checked and the dataset stored.
    #[oai(status = 201)]
    Created(Json<DatasetSummary>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The dataset was deleted.
    #[oai(status = 204)]
    Deleted,
}

pub struct DatasetsApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl DatasetsApi {
    /// List datasets
    ///
    /// The workforce tables scenarios can run on: `default` (the table the command line
    /// imports) and every upload.
    #[oai(path = "/datasets", method = "get", operation_id = "list_datasets")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
    ) -> Result<Json<Vec<DatasetSummary>>, ApiError> {
        let state = state.0.clone();
        blocking(move || {
            let entries = state.store().datasets()?;
            entries
                .into_iter()
                .map(|e| Ok(summary(&e, &*state.workforce(&e.id)?)))
                .collect::<Result<Vec<_>, ApiError>>()
                .map(Json)
        })
        .await
    }

    /// Upload a dataset
    ///
    /// Stores a workforce table sent as CSV or Parquet, raw or as a multipart file upload
    /// (field `file`). Every value is checked first (the
    /// required columns, numbers, ranges, duplicate segments); if any is wrong, the answer
    /// lists each with its row and column and nothing is stored.
    #[oai(path = "/datasets", method = "post", operation_id = "upload_dataset")]
    async fn upload(
        &self,
        state: Data<&Arc<AppState>>,
        /// A name to recognise it by.
        name: Query<Option<String>>,
        body: Upload,
    ) -> Result<Created, ApiError> {
        let state = state.0.clone();
        let mut name = name.0;
        // (is Parquet, bytes)
        let (parquet, bytes) = match body {
            Upload::Csv(text) => (false, text.0.into_bytes()),
            Upload::Parquet(bytes) => (true, bytes.0),
            Upload::Form(form) => {
                name = form.name.or(name);
                let bytes = form.file.into_vec().await.map_err(|e| {
                    ApiError::field("file", format!("cannot read the uploaded file: {e}"))
                })?;
                (bytes.starts_with(b"PAR1"), bytes)
            }
        };
        let name = name.unwrap_or_else(|| "uploaded workforce".into());
        crate::api::text::check_name("name", &name)?;
        blocking(move || {
            let workforce = if parquet {
                read_parquet_upload(&bytes)?
            } else {
                let text = String::from_utf8(bytes)
                    .map_err(|_| ApiError::field("body", "the CSV is not UTF-8 text"))?;
                crate::data::import::read_csv_text("upload", &text)?
            };
            let entry = state.store().add_dataset(&name, &workforce)?;
            let location = format!("/datasets/{}", entry.id);
            Ok(Created::Created(
                Json(summary(&entry, &workforce)),
                location,
            ))
        })
        .await
    }

    /// Show a dataset
    ///
    /// Its segments, staff in post and establishment, in all and by staff group and
    /// organisation.
    #[oai(path = "/datasets/:id", method = "get", operation_id = "get_dataset")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        id: Path<String>,
    ) -> Result<Json<DatasetDetail>, ApiError> {
        let state = state.0.clone();
        blocking(move || {
            let entry = state
                .store()
                .dataset_entry(&id.0)?
                .ok_or_else(|| ApiError::not_found(format!("no dataset '{}'", id.0)))?;
            let workforce = state.workforce(&id.0)?;
            Ok(Json(DatasetDetail {
                summary: summary(&entry, &workforce),
                by_staff_group: totals_by(&workforce, "staff_group"),
                by_org: totals_by(&workforce, "org"),
            }))
        })
        .await
    }

    /// Delete a dataset
    ///
    /// Deletes an uploaded dataset. Runs made on it and their results are kept. The
    /// `default` dataset is the command line's table and cannot be deleted here.
    #[oai(
        path = "/datasets/:id",
        method = "delete",
        operation_id = "delete_dataset"
    )]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        id: Path<String>,
    ) -> Result<Deleted, ApiError> {
        if id.0 == DEFAULT_DATASET {
            return Err(ApiError::conflict(
                "the default dataset is the workforce table; replace it with `wfplan import`",
            ));
        }
        let state = state.0.clone();
        blocking(move || {
            if !state.store().delete_dataset(&id.0)? {
                return Err(ApiError::not_found(format!("no dataset '{}'", id.0)));
            }
            state.forget_dataset(&id.0);
            Ok(Deleted::Deleted)
        })
        .await
    }
}

fn summary(entry: &DatasetEntry, workforce: &Workforce) -> DatasetSummary {
    DatasetSummary {
        id: entry.id.clone(),
        name: entry.name.clone(),
        created_at: entry.created_at.clone(),
        segments: workforce.len() as u64,
        fte: workforce.input(InputColumn::Fte).sum(),
        establishment: workforce.input(InputColumn::Establishment).sum(),
        key_columns: workforce.key_names.clone(),
    }
}

fn totals_by(workforce: &Workforce, key: &str) -> Vec<GroupTotal> {
    let Some(column) = workforce.key(key) else {
        return Vec::new();
    };
    let fte = workforce.input(InputColumn::Fte).values();
    let establishment = workforce.input(InputColumn::Establishment).values();
    let mut groups: BTreeMap<&str, GroupTotal> = BTreeMap::new();
    for segment in 0..workforce.len() {
        let name = column.value(segment);
        let group = groups.entry(name).or_insert_with(|| GroupTotal {
            name: name.to_string(),
            segments: 0,
            fte: 0.0,
            establishment: 0.0,
            vacancies: 0.0,
        });
        group.segments += 1;
        group.fte += fte[segment];
        group.establishment += establishment[segment];
        group.vacancies += vacancies(establishment[segment], fte[segment]);
    }
    groups.into_values().collect()
}

/// A segment's vacancies as the model defines them: posts not
/// filled, never negative. A group's vacancies are its segments' summed, so staff over
/// establishment in one segment do not fill posts vacant in another.
fn vacancies(establishment: f64, fte: f64) -> f64 {
    (establishment - fte).max(0.0)
}

/// DuckDB reads Parquet from a file, so the upload is written to a private temporary file
/// first and removed after. The file is created afresh under a name no one can guess
/// (`tempfile`): a predictable name in the shared temporary folder would let another user
/// plant a link there and have the server overwrite the file it points at.
fn read_parquet_upload(bytes: &[u8]) -> Result<Workforce, ApiError> {
    if !bytes.starts_with(b"PAR1") {
        return Err(ApiError::field(
            "body",
            "not a Parquet file (it does not start with PAR1)",
        ));
    }
    let keep = |e: std::io::Error| ApiError::internal(format!("cannot keep the upload: {e}"));
    let mut file = tempfile::Builder::new()
        .prefix("wfplan-upload-")
        .suffix(".parquet")
        .tempfile()
        .map_err(keep)?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(keep)?;
    let path = file.path().to_path_buf();
    // The file is removed when `file` is dropped, after DuckDB has read it.
    let result = crate::data::read_workforce(&path);
    drop(file);
    result.map_err(|e| {
        // Name the upload, not the temporary file.
        let mut error = ApiError::from(e);
        if let ApiError::Invalid(body) = &mut error {
            let temp = path.display().to_string();
            body.0.message = body.0.message.replace(&temp, "upload");
            for d in &mut body.0.details {
                if d.file.as_deref() == Some(temp.as_str()) {
                    d.file = Some("upload".into());
                }
                d.message = d.message.replace(&temp, "upload");
            }
        }
        error
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group's vacancies are summed segment by segment: one segment 5 FTE over its
    /// establishment does not fill another's 10 vacant posts.
    #[test]
    fn group_vacancies_are_the_sum_of_segment_vacancies() {
        let header = "org,system,staff_group,band,fte,establishment,leaver_rate,sickness_rate,annual_leave_rate,study_leave_rate,other_leave_rate,hours_per_week,dcc_share,annual_pay,time_to_fill,bank_share,agency_share,bank_premium,agency_premium,demand_growth";
        let rates = "0.12,0.05,0.1,0.03,0.02,37.5,0.6,39000,0,0.5,0.3,1.2,2,0";
        let text = format!(
            "{header}\n\
             a,ics,nursing,5,105,100,{rates}\n\
             a,ics,nursing,6,40,50,{rates}\n\
             b,ics,nursing,5,20,20,{rates}\n"
        );
        let workforce = crate::data::import::read_csv_text("test.csv", &text).unwrap();
        let totals = totals_by(&workforce, "org");
        let org_a = &totals[0];
        assert_eq!((org_a.name.as_str(), org_a.segments), ("a", 2));
        assert_eq!((org_a.fte, org_a.establishment), (145.0, 150.0));
        assert_eq!(org_a.vacancies, 10.0);
        assert_eq!(totals[1].vacancies, 0.0);
        let nursing = &totals_by(&workforce, "staff_group")[0];
        assert_eq!(nursing.vacancies, 10.0);
    }
}
